#include "app/lake_cli.h"

#include <chrono>
#include <filesystem>
#include <iostream>
#include <limits>
#include <thread>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "app/http_client.h"
#include "base/time.h"
#include "lake/hash_chain.h"
#include "lake/iceberg_table.h"
#include "stream/archive_reader.h"

namespace sluice::app {
namespace fs = std::filesystem;

void AddLakeVerifyOptions(CLI::App* verify, LakeVerifyOptions& options) {
  verify->add_option("--data-dir", options.data_dir, "Data directory (default ./sluice-data)");
  verify->add_option("--lake-dir", options.lake_dir, "Lake directory (default <data-dir>/lake)");
  verify->add_option("--table", options.table, "Only this table (default: every table)");
}

int RunLakeVerify(const LakeVerifyOptions& options) {
  const fs::path lake =
      options.lake_dir.empty() ? fs::path(options.data_dir) / "lake" : fs::path(options.lake_dir);
  std::vector<fs::path> tables;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(lake, ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory() || name.starts_with('.')) continue;
    if (!options.table.empty() && name != options.table) continue;
    if (fs::exists(e.path() / "sluice-hash-chain.jsonl")) tables.push_back(e.path());
  }
  if (tables.empty()) {
    std::cerr << fmt::format("sluice lake verify: no archive table{} under {}\n",
                             options.table.empty() ? "" : " named " + options.table, lake.string());
    return 2;
  }
  int status = 0;
  for (const fs::path& table : tables) {
    Result<lake::VerifyReport> report =
        lake::Verify((table / "sluice-hash-chain.jsonl").string(), table.string());
    if (!report.ok()) {
      std::cerr << fmt::format("sluice lake verify: {}: {}\n", table.filename().string(),
                               report.status().ToString());
      status = 2;
      continue;
    }
    std::string line = report->ToJson();
    line.insert(1, fmt::format("\"table\":\"{}\",", table.filename().string()));
    std::cout << line << "\n";
    if (!report->ok() && status == 0) status = 1;
  }
  return status;
}

void AddReplayOptions(CLI::App* replay, ReplayOptions& options) {
  replay->add_option("--data-dir", options.data_dir, "Data directory (default ./sluice-data)");
  replay->add_option("--lake-dir", options.lake_dir, "Lake directory (default <data-dir>/lake)");
  replay->add_option("--table", options.table, "The archived stream to read")->required();
  replay->add_option("--url", options.url, "The server to send to (default http://127.0.0.1:8080)");
  replay->add_option("--stream", options.stream, "The stream to send to")->required();
  replay->add_option("--from", options.from, "Events with this event time or later (RFC 3339)");
  replay->add_option("--to", options.to, "Events before this event time (RFC 3339)");
  replay->add_option("--snapshot", options.snapshot_id,
                     "Read the table as of this snapshot id (default: the current one)");
  replay->add_option("--batch", options.batch, "Events per request (default 5000)")
      ->check(CLI::Range(1, 100000));
}

namespace {

constexpr size_t kMaxRequestBytes = 4u << 20;

struct ReplayTotals {
  uint64_t events = 0, accepted = 0, duplicates = 0, rejected = 0;
};

// Posts one JSON array of events; retries pushback. A rejected event's first error is printed.
Status PostBatch(HttpClient& client, const std::string& target, const std::string& body,
                 ReplayTotals& totals) {
  for (int attempt = 0;; ++attempt) {
    SLUICE_ASSIGN_OR_RETURN(HttpResponse response, client.Post(target, "application/json", body));
    if ((response.status == 503 || response.status == 507) && attempt < 600) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    if (response.status != 200)
      return Status::Unavailable(
          fmt::format("the server answered {}: {}", response.status, response.body));
    const nlohmann::json answer = nlohmann::json::parse(response.body, nullptr, false);
    if (!answer.is_object() || !answer.contains("accepted"))
      return Status::Unavailable(fmt::format("unexpected answer: {}", response.body));
    totals.accepted += answer.value("accepted", uint64_t{0});
    totals.duplicates += answer.value("duplicates", uint64_t{0});
    if (answer.contains("rejected") && answer["rejected"].is_array() &&
        !answer["rejected"].empty()) {
      if (totals.rejected == 0)
        std::cerr << fmt::format("sluice replay: rejected: {}\n", answer["rejected"][0].dump());
      totals.rejected += answer["rejected"].size();
    }
    return Status::Ok();
  }
}

}  // namespace

int RunReplay(const ReplayOptions& options) {
  auto fail = [](const std::string& why) {
    std::cerr << "sluice replay: " << why << "\n";
    return 2;
  };
  stream::ArchiveReaderOptions read;
  read.root =
      (options.lake_dir.empty() ? fs::path(options.data_dir) / "lake" : fs::path(options.lake_dir))
          .string();
  read.table = options.table;
  if (options.snapshot_id != 0) read.snapshot_id = options.snapshot_id;
  int64_t from = std::numeric_limits<int64_t>::min(), to = std::numeric_limits<int64_t>::max();
  if (!options.from.empty()) {
    Result<int64_t> t = ParseRfc3339(options.from);
    if (!t.ok()) return fail(fmt::format("--from: {}", t.status().message()));
    from = *t;
    read.first_hour = lake::HourOfMicros(from);
  }
  if (!options.to.empty()) {
    Result<int64_t> t = ParseRfc3339(options.to);
    if (!t.ok()) return fail(fmt::format("--to: {}", t.status().message()));
    to = *t;
    read.last_hour = lake::HourOfMicros(to - 1);
  }
  if (from >= to) return fail("--from must be before --to");
  Result<HttpUrl> url = ParseHttpUrl(options.url);
  if (!url.ok()) return fail(url.status().message());
  Result<std::unique_ptr<stream::ArchiveReader>> reader = stream::ArchiveReader::Open(read);
  if (!reader.ok()) return fail(reader.status().ToString());

  HttpClient client(url->host, url->port);
  const std::string target = fmt::format("{}/v1/streams/{}/events", url->path, options.stream);
  ReplayTotals totals;
  std::string body;
  size_t in_body = 0;
  auto flush = [&]() -> Status {
    if (in_body == 0) return Status::Ok();
    body += ']';
    SLUICE_RETURN_IF_ERROR(PostBatch(client, target, body, totals));
    body.clear();
    in_body = 0;
    return Status::Ok();
  };
  auto last_report = std::chrono::steady_clock::now();
  for (;;) {
    Result<std::span<const stream::ArchivedRecord>> batch = (*reader)->Next();
    if (!batch.ok()) return fail(batch.status().ToString());
    if (batch->empty()) break;
    for (const stream::ArchivedRecord& r : *batch) {
      if (r.event_time_micros < from || r.event_time_micros >= to) continue;
      body += in_body == 0 ? '[' : ',';
      body += r.payload;
      ++in_body;
      ++totals.events;
      if (in_body >= options.batch || body.size() >= kMaxRequestBytes) {
        if (Status st = flush(); !st.ok()) return fail(st.ToString());
      }
    }
    if (std::chrono::steady_clock::now() - last_report > std::chrono::seconds(5)) {
      last_report = std::chrono::steady_clock::now();
      std::cerr << fmt::format("sluice replay: {} events sent, {} to read\n", totals.events,
                               (*reader)->remaining_records());
    }
  }
  if (Status st = flush(); !st.ok()) return fail(st.ToString());
  std::cout << fmt::format(
      "{{\"table\":\"{}\",\"snapshot\":{},\"files\":{},\"events\":{},\"accepted\":{},"
      "\"duplicates\":{},\"rejected\":{}}}\n",
      options.table, (*reader)->snapshot_id(), (*reader)->files(), totals.events, totals.accepted,
      totals.duplicates, totals.rejected);
  return totals.rejected == 0 ? 0 : 1;
}

}  // namespace sluice::app
