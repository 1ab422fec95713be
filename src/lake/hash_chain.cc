#include "lake/hash_chain.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <nlohmann/json.hpp>

#include "base/json_writer.h"
#include "base/time.h"

namespace sluice::lake {
namespace {

constexpr std::string_view kGenesis =
    "0000000000000000000000000000000000000000000000000000000000000000";
constexpr std::string_view kHashMember = ",\"hash\":\"";
// A line ends with ,"hash":"<64 hex>"}
constexpr size_t kHashSuffixBytes = kHashMember.size() + 64 + 2;

std::string Hex(const unsigned char* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

std::string Sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  return Hex(md, n);
}

Status Errno(std::string_view what, const std::string& path) {
  return Status::IOError(fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

// Checks one line's own hash and its link to `prev`; returns its hash.
Result<std::string> CheckLine(std::string_view line, uint64_t number, std::string_view prev,
                              nlohmann::json& parsed) {
  auto broken = [&](std::string_view why) {
    return Status::Corruption(fmt::format("line {}: {}", number, why));
  };
  if (line.size() < kHashSuffixBytes || line.substr(line.size() - 2) != "\"}" ||
      line.substr(line.size() - kHashSuffixBytes, kHashMember.size()) != kHashMember)
    return broken("not a chain entry (no trailing hash)");
  const std::string_view hashed = line.substr(0, line.size() - kHashSuffixBytes);
  const std::string_view hash = line.substr(line.size() - 66, 64);
  if (Sha256(hashed) != hash) return broken("its contents do not match its hash");
  parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object() || !parsed.contains("prev") || !parsed["prev"].is_string() ||
      !parsed.contains("seq") || !parsed["seq"].is_number_unsigned())
    return broken("malformed entry");
  if (parsed["prev"].get<std::string>() != prev)
    return broken("does not link to the line before it (a line was removed or reordered)");
  if (parsed["seq"].get<uint64_t>() != number) return broken("out of sequence");
  return std::string(hash);
}

}  // namespace

Result<std::string> FileSha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Errno("cannot open", path);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx, buffer.data(), static_cast<size_t>(in.gcount()));
  }
  const bool failed = in.bad();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx, md, &n);
  EVP_MD_CTX_free(ctx);
  if (failed) return Errno("cannot read", path);
  return Hex(md, n);
}

HashChain::HashChain(std::string path, int fd, uint64_t seq, std::string head)
    : path_(std::move(path)), fd_(fd), seq_(seq), head_(std::move(head)) {}

HashChain::~HashChain() {
  ::close(fd_);
}

Result<std::unique_ptr<HashChain>> HashChain::Open(std::string path) {
  std::string text;
  {
    std::ifstream in(path, std::ios::binary);
    if (in) text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  // A torn last line (a crash in the middle of an append) was never acknowledged: drop it.
  const size_t complete = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot open the hash chain", path);
  if (complete < text.size() && ::ftruncate(fd, static_cast<off_t>(complete)) != 0) {
    Status st = Errno("cannot truncate the torn tail of", path);
    ::close(fd);
    return st;
  }
  std::string head(kGenesis);
  uint64_t seq = 0;
  size_t at = 0;
  while (at < complete) {
    const size_t end = text.find('\n', at);
    nlohmann::json parsed;
    Result<std::string> hash =
        CheckLine(std::string_view(text).substr(at, end - at), seq + 1, head, parsed);
    if (!hash.ok()) {
      ::close(fd);
      return Status::Corruption(
          fmt::format("the hash chain {} is broken at {}", path, hash.status().message()));
    }
    head = std::move(*hash);
    ++seq;
    at = end + 1;
  }
  return std::unique_ptr<HashChain>(new HashChain(std::move(path), fd, seq, std::move(head)));
}

Status HashChain::AppendLine(std::string line) {
  const std::string hash = Sha256(line);
  line.append(kHashMember).append(hash).append("\"}\n");
  size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("cannot append to", path_);
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd_) != 0) return Errno("cannot fsync", path_);
  ++seq_;
  head_ = hash;
  return Status::Ok();
}

Status HashChain::AppendAdded(std::string_view relative_path, uint64_t size,
                              std::string_view sha256_hex, int64_t at_micros, uint64_t commit) {
  std::string line = fmt::format("{{\"seq\":{},\"op\":\"add\",\"path\":", seq_ + 1);
  AppendJsonString(line, relative_path);
  line += fmt::format(",\"size\":{},\"sha256\":", size);
  AppendJsonString(line, sha256_hex);
  line += ",\"at\":\"";
  AppendRfc3339(line, at_micros);
  line += fmt::format("\",\"commit\":{},\"prev\":\"{}\"", commit, head_);
  return AppendLine(std::move(line));
}

Status HashChain::AppendRemoved(std::string_view relative_path, std::string_view reason,
                                int64_t at_micros, uint64_t commit) {
  std::string line = fmt::format("{{\"seq\":{},\"op\":\"remove\",\"path\":", seq_ + 1);
  AppendJsonString(line, relative_path);
  line += ",\"reason\":";
  AppendJsonString(line, reason);
  line += ",\"at\":\"";
  AppendRfc3339(line, at_micros);
  line += fmt::format("\",\"commit\":{},\"prev\":\"{}\"", commit, head_);
  return AppendLine(std::move(line));
}

std::string VerifyReport::ToJson() const {
  nlohmann::json j;
  j["ok"] = ok();
  j["entries"] = entries;
  j["files_checked"] = files_checked;
  j["broken_links"] = broken_links;
  j["changed"] = changed;
  j["missing"] = missing;
  return j.dump();
}

Result<VerifyReport> Verify(const std::string& chain_path, const std::string& table_dir,
                            bool rehash) {
  std::ifstream in(chain_path, std::ios::binary);
  if (!in) return Errno("cannot read the hash chain", chain_path);
  VerifyReport report;
  struct Live {
    uint64_t size;
    std::string sha256;
  };
  std::map<std::string, Live> live;
  std::string head(kGenesis);
  std::string line;
  while (std::getline(in, line)) {
    ++report.entries;
    nlohmann::json parsed;
    Result<std::string> hash = CheckLine(line, report.entries, head, parsed);
    if (!hash.ok()) {
      report.broken_links.push_back(hash.status().message());
      // Keep going from this line's own claims, so one altered line does not hide the rest.
      if (line.size() >= 66) head = line.substr(line.size() - 66, 64);
      if (!parsed.is_object()) continue;
    } else {
      head = *hash;
    }
    const std::string op = parsed.value("op", "");
    const std::string path = parsed.value("path", "");
    if (op == "add") {
      live[path] = Live{parsed.value("size", uint64_t{0}), parsed.value("sha256", "")};
    } else if (op == "remove") {
      live.erase(path);
    }
  }
  for (const auto& [path, expected] : live) {
    const std::string full = table_dir + "/" + path;
    struct stat st {};
    if (::stat(full.c_str(), &st) != 0) {
      report.missing.push_back(path);
      continue;
    }
    ++report.files_checked;
    if (!rehash) continue;
    Result<std::string> sha = FileSha256(full);
    if (!sha.ok() || static_cast<uint64_t>(st.st_size) != expected.size || *sha != expected.sha256)
      report.changed.push_back(path);
  }
  return report;
}

}  // namespace sluice::lake
