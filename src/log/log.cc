#include "log/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/crc32c.h"
#include "base/disk_space.h"
#include "base/fixed_bytes.h"
#include "base/thread_name.h"

namespace sluice::log {
namespace fs = std::filesystem;

namespace {

constexpr uint32_t kIndexMagic = 0x534C4958;  // "SLIX"
constexpr size_t kIndexHeaderSize = 4 + 4 + 8 + 8 + 8 + 8 + 8;
constexpr size_t kIndexEntrySize = 8 + 8 + 8;

std::string SegmentName(uint64_t base, const char* ext) {
  return fmt::format("{:020}.{}", base, ext);
}

Status WriteAll(int fd, const char* data, size_t n, off_t position, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, data, n, position);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("writing " + path, errno);
    }
    data += w;
    n -= static_cast<size_t>(w);
    position += w;
  }
  return Status::Ok();
}

Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return Status::FromErrno("opening directory " + dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::FromErrno("syncing directory " + dir, err);
  return Status::Ok();
}

// Reads up to n bytes at position; returns bytes read (short only at end of file).
Result<size_t> ReadAt(int fd, char* out, size_t n, off_t position, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, out + done, n - done, position + static_cast<off_t>(done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("reading " + path, errno);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

uint32_t RecordCrc(const char* record, size_t payload_length) {
  uint32_t crc = Crc32c(record, 4);  // the length field
  return Crc32c(record + 8, kRecordHeaderSize - 8 + payload_length, crc);
}

// Recovery reads segments in chunks of this size.
constexpr size_t kRecoveryChunkBytes = 4u << 20;

struct FoundRecord {
  uint64_t position = 0;
  uint64_t offset = 0;
};

// After damage at byte `from` of a segment: the first intact record in [from, file_end) whose
// offset is in [first, before), found by trying every byte position (a record is intact when its
// CRC32C matches, which random bytes do with odds of 2^-32, and its offset field is plausible).
// nullopt when none is: the damage runs to the end of the file.
Result<std::optional<FoundRecord>> FindNextRecord(int fd, const std::string& path, uint64_t from,
                                                  uint64_t file_end, uint64_t first,
                                                  uint64_t before) {
  constexpr size_t kChunk = 1 << 20;
  std::string chunk(kChunk, '\0');
  std::string record;
  for (uint64_t base = from; base + kRecordHeaderSize <= file_end;
       base += kChunk - kRecordHeaderSize) {
    SLUICE_ASSIGN_OR_RETURN(size_t n,
                            ReadAt(fd, chunk.data(), kChunk, static_cast<off_t>(base), path));
    for (size_t i = 0; i + kRecordHeaderSize <= n; ++i) {
      const char* p = chunk.data() + i;
      const uint64_t offset = LoadU64(p + 8);
      const uint32_t length = LoadU32(p);
      if (offset < first || offset >= before || length > kMaxPayloadBytes ||
          base + i + kRecordHeaderSize + length > file_end)
        continue;
      const char* whole = p;
      if (i + kRecordHeaderSize + length > n) {
        record.resize(kRecordHeaderSize + length);
        SLUICE_ASSIGN_OR_RETURN(size_t got, ReadAt(fd, record.data(), record.size(),
                                                   static_cast<off_t>(base + i), path));
        if (got < record.size()) continue;
        whole = record.data();
      }
      if (RecordCrc(whole, length) == LoadU32(whole + 4))
        return std::optional<FoundRecord>(FoundRecord{base + i, offset});
    }
    if (n < kChunk) break;
  }
  return std::optional<FoundRecord>();
}

struct IndexEntry {
  uint64_t offset;
  uint64_t position;
  int64_t log_time;
};

}  // namespace

// One segment file and its in-memory sparse index. Mutable fields are guarded by the owning
// partition's mutex; readers copy what they need under it.
struct Segment {
  uint64_t base_offset = 0;
  std::string path;
  std::string index_path;
  int fd = -1;
  uint64_t size = 0;         // bytes of complete records
  uint64_t next_offset = 0;  // one past the last record
  int64_t first_log_time = 0;
  int64_t max_log_time = 0;
  uint64_t bytes_since_index = 0;
  std::vector<IndexEntry> index;
  std::atomic<bool> deleted{false};  // set by retention; readers move on

  ~Segment() {
    if (fd >= 0) ::close(fd);
  }
  bool empty() const { return next_offset == base_offset; }

  void NoteRecord(uint64_t offset, uint64_t position, int64_t log_time, size_t record_bytes,
                  uint32_t index_interval) {
    if (index.empty() || bytes_since_index >= index_interval) {
      index.push_back({offset, position, log_time});
      bytes_since_index = 0;
    }
    bytes_since_index += record_bytes;
    if (empty()) first_log_time = log_time;
    max_log_time = std::max(max_log_time, log_time);
    next_offset = offset + 1;
    size = position + record_bytes;
  }

  // The file position of the record at `offset` or of an earlier one (to scan from).
  std::pair<uint64_t, uint64_t> SeekPoint(uint64_t offset) const {
    auto it = std::upper_bound(index.begin(), index.end(), offset,
                               [](uint64_t o, const IndexEntry& e) { return o < e.offset; });
    if (it == index.begin()) return {base_offset, 0};
    --it;
    return {it->offset, it->position};
  }

  // Persists the index with the segment's summary; written when the segment is closed.
  Status WriteIndex() const {
    std::string buf(kIndexHeaderSize + index.size() * kIndexEntrySize, '\0');
    char* p = buf.data();
    StoreU32(p, kIndexMagic);
    StoreU32(p + 4, static_cast<uint32_t>(index.size()));
    StoreU64(p + 8, base_offset);
    StoreU64(p + 16, next_offset);
    StoreU64(p + 24, size);
    StoreU64(p + 32, static_cast<uint64_t>(first_log_time));
    StoreU64(p + 40, static_cast<uint64_t>(max_log_time));
    p += kIndexHeaderSize;
    for (const IndexEntry& e : index) {
      StoreU64(p, e.offset);
      StoreU64(p + 8, e.position);
      StoreU64(p + 16, static_cast<uint64_t>(e.log_time));
      p += kIndexEntrySize;
    }
    // The checksum goes last so a torn index file is detected and rebuilt.
    uint32_t crc = Crc32c(buf.data(), buf.size());
    buf.append(reinterpret_cast<const char*>(&crc), 4);
    std::string tmp = index_path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno("creating " + tmp, errno);
    Status st = WriteAll(fd, buf.data(), buf.size(), 0, tmp);
    if (st.ok() && ::fdatasync(fd) != 0) st = Status::FromErrno("syncing " + tmp, errno);
    ::close(fd);
    if (st.ok() && ::rename(tmp.c_str(), index_path.c_str()) != 0)
      st = Status::FromErrno("renaming " + tmp, errno);
    return st;
  }

  // Loads a persisted index; false when absent or not matching the file.
  bool LoadIndex(uint64_t file_size) {
    std::ifstream in(index_path, std::ios::binary);
    if (!in) return false;
    std::string buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (buf.size() < kIndexHeaderSize + 4) return false;
    uint32_t crc;
    std::memcpy(&crc, buf.data() + buf.size() - 4, 4);
    if (Crc32c(buf.data(), buf.size() - 4) != crc) return false;
    const char* p = buf.data();
    uint32_t count = LoadU32(p + 4);
    if (LoadU32(p) != kIndexMagic || LoadU64(p + 8) != base_offset ||
        buf.size() != kIndexHeaderSize + count * kIndexEntrySize + 4 ||
        LoadU64(p + 24) != file_size)
      return false;
    next_offset = LoadU64(p + 16);
    size = LoadU64(p + 24);
    first_log_time = static_cast<int64_t>(LoadU64(p + 32));
    max_log_time = static_cast<int64_t>(LoadU64(p + 40));
    index.clear();
    p += kIndexHeaderSize;
    for (uint32_t i = 0; i < count; ++i, p += kIndexEntrySize)
      index.push_back({LoadU64(p), LoadU64(p + 8), static_cast<int64_t>(LoadU64(p + 16))});
    return true;
  }
};

struct Log::Impl {
  std::string dir;
  LogOptions options;
  Clock& clock;
  Syncer& syncer;
  std::vector<std::unique_ptr<Partition>> partitions;

  mutable std::mutex generation_mu;
  mutable std::condition_variable generation_cv;
  std::atomic<uint64_t> generation{0};

  // Damaged records readers skipped, reported once each: (partition, first offset) -> count.
  mutable std::mutex damage_mu;
  std::map<std::pair<uint32_t, uint64_t>, uint64_t> damage;
  std::atomic<uint64_t> damaged_records{0};

  void ReportDamage(uint32_t partition, const std::string& path, uint64_t first_offset,
                    uint64_t end_offset, uint64_t first_byte, uint64_t end_byte) {
    {
      std::lock_guard lock(damage_mu);
      if (!damage.emplace(std::pair(partition, first_offset), end_offset - first_offset).second)
        return;
    }
    damaged_records.fetch_add(end_offset - first_offset, std::memory_order_relaxed);
    if (options.on_damage) options.on_damage(end_offset - first_offset);
    spdlog::error(
        "log {}: record(s) at offsets [{}, {}) of partition {} are damaged (bytes [{}, {}) of "
        "{}): skipped, never served; the file is left as it is for inspection",
        dir, first_offset, end_offset, partition, first_byte, end_byte, path);
  }

  Impl(std::string d, LogOptions o, Clock& c, Syncer& s)
      : dir(std::move(d)), options(o), clock(c), syncer(s) {}

  void BumpGeneration() {
    {
      std::lock_guard lock(generation_mu);
      generation.fetch_add(1, std::memory_order_release);
    }
    generation_cv.notify_all();
  }
};

class Partition {
 public:
  Partition(Log::Impl* log, uint32_t id)
      : log_(log), id_(id), dir_(fmt::format("{}/p{}", log->dir, id)) {}

  ~Partition() { log_->syncer.Forget(this); }

  Status Open();
  Result<Log::Appended> Append(std::span<const RecordToAppend> records);
  Status Sync();
  Result<size_t> EnforceRetention(int64_t cutoff);

  struct Location {
    std::shared_ptr<Segment> segment;
    uint64_t scan_offset = 0;  // offset of the record at scan_position
    uint64_t scan_position = 0;
  };
  // The segment holding `offset` (or the first one after it when it was deleted), and a point
  // to scan from. Null segment when the partition holds nothing at or after `offset`.
  Location Locate(uint64_t offset) const {
    std::lock_guard lock(mu_);
    for (const auto& seg : segments_) {
      if (offset < seg->base_offset) return {seg, seg->base_offset, 0};
      if (offset < seg->next_offset || seg == segments_.back()) {
        auto [o, p] = seg->SeekPoint(offset);
        return {seg, o, p};
      }
    }
    return {};
  }

  uint64_t start_offset() const {
    std::lock_guard lock(mu_);
    return segments_.front()->base_offset;
  }
  uint64_t end_offset() const {
    std::lock_guard lock(mu_);
    return end_offset_;
  }
  uint64_t durable_end() const { return durable_end_.load(std::memory_order_acquire); }
  uint64_t size_bytes() const {
    std::lock_guard lock(mu_);
    uint64_t total = 0;
    for (const auto& s : segments_) total += s->size;
    return total;
  }
  Result<uint64_t> OffsetForTime(int64_t log_time) const;
  const std::string& dir() const { return dir_; }
  uint32_t id() const { return id_; }

  // The end offset of `seg` once it is sealed (no longer the active segment); nullopt before.
  std::optional<uint64_t> SealedEnd(const Segment& seg) const {
    std::lock_guard lock(mu_);
    if (segments_.empty() || segments_.back().get() == &seg) return std::nullopt;
    return seg.next_offset;
  }
  void ReportDamage(const std::string& path, uint64_t first_offset, uint64_t end_offset,
                    uint64_t first_byte, uint64_t end_byte) const {
    log_->ReportDamage(id_, path, first_offset, end_offset, first_byte, end_byte);
  }

 private:
  Status OpenSegment(uint64_t base, bool is_last);
  Status Recover(Segment& seg);
  Status RollLocked();
  Result<std::shared_ptr<Segment>> CreateSegmentLocked(uint64_t base);

  Log::Impl* log_;
  const uint32_t id_;
  const std::string dir_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Segment>> segments_;  // ascending; the last is active
  std::vector<std::shared_ptr<Segment>> unsynced_;  // rolled segments awaiting fdatasync
  uint64_t end_offset_ = 0;
  int64_t last_log_time_ = INT64_MIN;
  std::string frame_buffer_;
  std::atomic<uint64_t> durable_end_{0};
};

Result<std::shared_ptr<Segment>> Partition::CreateSegmentLocked(uint64_t base) {
  auto seg = std::make_shared<Segment>();
  seg->base_offset = base;
  seg->next_offset = base;
  seg->path = dir_ + "/" + SegmentName(base, "log");
  seg->index_path = dir_ + "/" + SegmentName(base, "idx");
  seg->fd = ::open(seg->path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (seg->fd < 0) return Status::FromErrno("creating segment " + seg->path, errno);
  SLUICE_RETURN_IF_ERROR(SyncDirectory(dir_));
  return seg;
}

Status Partition::Open() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Status::IOError(fmt::format("creating {}: {}", dir_, ec.message()));
  std::vector<uint64_t> bases;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() == 24 && name.ends_with(".log"))
      bases.push_back(std::stoull(name.substr(0, 20)));
    else if (name.ends_with(".tmp"))
      fs::remove(entry.path(), ec);
  }
  if (ec) return Status::IOError(fmt::format("listing {}: {}", dir_, ec.message()));
  std::sort(bases.begin(), bases.end());
  for (size_t i = 0; i < bases.size(); ++i)
    SLUICE_RETURN_IF_ERROR(OpenSegment(bases[i], i + 1 == bases.size()));
  std::lock_guard lock(mu_);
  if (segments_.empty()) {
    SLUICE_ASSIGN_OR_RETURN(auto seg, CreateSegmentLocked(0));
    segments_.push_back(std::move(seg));
  }
  end_offset_ = segments_.back()->next_offset;
  for (const auto& s : segments_)
    if (!s->empty()) last_log_time_ = std::max(last_log_time_, s->max_log_time);
  durable_end_ = end_offset_;
  return Status::Ok();
}

Status Partition::OpenSegment(uint64_t base, bool is_last) {
  auto seg = std::make_shared<Segment>();
  seg->base_offset = base;
  seg->next_offset = base;
  seg->path = dir_ + "/" + SegmentName(base, "log");
  seg->index_path = dir_ + "/" + SegmentName(base, "idx");
  seg->fd = ::open(seg->path.c_str(), O_RDWR | O_CLOEXEC);
  if (seg->fd < 0) return Status::FromErrno("opening segment " + seg->path, errno);
  struct stat st;
  if (::fstat(seg->fd, &st) != 0) return Status::FromErrno("stat " + seg->path, errno);
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  // Closed segments were synced with their index when rolled; the last one (and any whose
  // index is missing or stale) is scanned, verifying every record.
  if (is_last || !seg->LoadIndex(file_size)) SLUICE_RETURN_IF_ERROR(Recover(*seg));
  if (!segments_.empty() && seg->base_offset != segments_.back()->next_offset)
    spdlog::warn("log {}: segment {} starts at offset {} but the previous one ends at {}", dir_,
                 seg->path, seg->base_offset, segments_.back()->next_offset);
  segments_.push_back(std::move(seg));
  return Status::Ok();
}

// Scans a segment from the start, rebuilding its index; truncates at the first record that is
// torn (incomplete), fails its CRC, or breaks offset continuity, unless intact records follow
// it (damage inside the file, not a torn tail): those are kept and the damage reported.
Status Partition::Recover(Segment& seg) {
  struct stat st;
  if (::fstat(seg.fd, &st) != 0) return Status::FromErrno("stat " + seg.path, errno);
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  seg.index.clear();
  seg.size = 0;
  seg.next_offset = seg.base_offset;
  seg.bytes_since_index = 0;
  uint64_t position = 0;
  std::string problem;
  // The file is read in large chunks (not two reads per record): `bytes_at` gives `n` bytes at
  // `at` from the current chunk, reading a new one when needed; nullptr when the file is
  // shorter.
  std::string chunk;
  uint64_t chunk_start = 0;
  size_t chunk_size = 0;
  auto bytes_at = [&](uint64_t at, size_t n) -> Result<const char*> {
    if (at >= chunk_start && at + n <= chunk_start + chunk_size)
      return static_cast<const char*>(chunk.data() + (at - chunk_start));
    chunk.resize(std::max<size_t>(n, kRecoveryChunkBytes));
    SLUICE_ASSIGN_OR_RETURN(
        chunk_size, ReadAt(seg.fd, chunk.data(), chunk.size(), static_cast<off_t>(at), seg.path));
    chunk_start = at;
    if (chunk_size < n) return static_cast<const char*>(nullptr);
    return static_cast<const char*>(chunk.data());
  };
  // Scans records from `position` while they are whole, intact and in sequence.
  auto scan = [&]() -> Status {
    while (position < file_size) {
      SLUICE_ASSIGN_OR_RETURN(const char* header, bytes_at(position, kRecordHeaderSize));
      if (header == nullptr) {
        problem = "torn record header";
        return Status::Ok();
      }
      const uint32_t length = LoadU32(header);
      if (length > kMaxPayloadBytes || length > file_size - position - kRecordHeaderSize) {
        problem = "torn record (length runs past the end of the file)";
        return Status::Ok();
      }
      const size_t record_bytes = kRecordHeaderSize + length;
      SLUICE_ASSIGN_OR_RETURN(const char* record, bytes_at(position, record_bytes));
      if (record == nullptr) {
        problem = "torn record";
        return Status::Ok();
      }
      if (RecordCrc(record, length) != LoadU32(record + 4)) {
        problem = "CRC32C mismatch";
        return Status::Ok();
      }
      const uint64_t offset = LoadU64(record + 8);
      if (offset != seg.next_offset) {
        problem = fmt::format("offset {} where {} was expected", offset, seg.next_offset);
        return Status::Ok();
      }
      const int64_t log_time = static_cast<int64_t>(LoadU64(record + 16));
      seg.NoteRecord(offset, position, log_time, record_bytes, log_->options.index_interval_bytes);
      position += record_bytes;
    }
    return Status::Ok();
  };
  SLUICE_RETURN_IF_ERROR(scan());
  while (position < file_size) {
    // Intact records after the problem mean damage inside the file (a flipped bit), not a torn
    // tail: keep them (readers skip the damaged records, reported here once) and scan on.
    const uint64_t most_records = (file_size - position) / kRecordHeaderSize + 1;
    SLUICE_ASSIGN_OR_RETURN(std::optional<FoundRecord> found,
                            FindNextRecord(seg.fd, seg.path, position + 1, file_size,
                                           seg.next_offset + 1, seg.next_offset + most_records));
    if (!found) break;
    log_->ReportDamage(id_, seg.path, seg.next_offset, found->offset, position, found->position);
    seg.next_offset = found->offset;
    position = found->position;
    SLUICE_RETURN_IF_ERROR(scan());
  }
  if (position < file_size) {
    spdlog::warn(
        "log recovery: {} at byte {} of {} (offset {}): truncating {} byte(s) of torn or "
        "corrupt tail",
        problem, position, seg.path, seg.next_offset, file_size - position);
    if (::ftruncate(seg.fd, static_cast<off_t>(position)) != 0)
      return Status::FromErrno("truncating " + seg.path, errno);
    if (::fdatasync(seg.fd) != 0) return Status::FromErrno("syncing " + seg.path, errno);
  }
  return Status::Ok();
}

Status Partition::RollLocked() {
  std::shared_ptr<Segment> old = segments_.back();
  SLUICE_RETURN_IF_ERROR(old->WriteIndex());
  SLUICE_ASSIGN_OR_RETURN(auto seg, CreateSegmentLocked(end_offset_));
  unsynced_.push_back(std::move(old));
  segments_.push_back(std::move(seg));
  return Status::Ok();
}

Result<Log::Appended> Partition::Append(std::span<const RecordToAppend> records) {
  const int64_t now = log_->clock.NowMicros();
  const LogOptions& options = log_->options;
  {
    std::lock_guard lock(mu_);
    Segment* active = segments_.back().get();
    if (!active->empty() && (active->size >= options.segment_bytes ||
                             now - active->first_log_time >= options.segment_max_age_micros)) {
      SLUICE_RETURN_IF_ERROR(RollLocked());
      active = segments_.back().get();
    }
    const int64_t log_time = std::max(now, last_log_time_);
    size_t total = 0;
    for (const RecordToAppend& r : records) total += kRecordHeaderSize + r.payload.size();
    frame_buffer_.resize(total);
    char* p = frame_buffer_.data();
    uint64_t offset = end_offset_;
    for (const RecordToAppend& r : records) {
      StoreU32(p, static_cast<uint32_t>(r.payload.size()));
      StoreU64(p + 8, offset++);
      StoreU64(p + 16, static_cast<uint64_t>(log_time));
      StoreU64(p + 24, static_cast<uint64_t>(r.event_time_micros));
      StoreU32(p + 32, r.schema_id);
      StoreU32(p + 36, 0);  // reserved
      std::memcpy(p + kRecordHeaderSize, r.payload.data(), r.payload.size());
      StoreU32(p + 4, RecordCrc(p, r.payload.size()));
      p += kRecordHeaderSize + r.payload.size();
    }
    const uint64_t start_position = active->size;
    Status st = WriteAll(active->fd, frame_buffer_.data(), total,
                         static_cast<off_t>(start_position), active->path);
    if (!st.ok()) {
      // Leave nothing partial behind: the next append (or recovery) starts clean.
      if (::ftruncate(active->fd, static_cast<off_t>(start_position)) != 0)
        spdlog::error("log {}: cannot truncate {} after a failed write: {}", dir_, active->path,
                      std::strerror(errno));
      return st;
    }
    uint64_t position = start_position;
    const uint64_t first = end_offset_;
    for (const RecordToAppend& r : records) {
      const size_t bytes = kRecordHeaderSize + r.payload.size();
      active->NoteRecord(end_offset_++, position, log_time, bytes, options.index_interval_bytes);
      position += bytes;
    }
    last_log_time_ = log_time;
    if (frame_buffer_.capacity() > (8u << 20)) std::string().swap(frame_buffer_);
    Log::Appended appended;
    appended.first_offset = first;
    appended.sync_ticket = log_->syncer.MarkDirty(this);
    return appended;
  }
}

Status Partition::Sync() {
  std::shared_ptr<Segment> active;
  std::vector<std::shared_ptr<Segment>> rolled;
  uint64_t end;
  {
    std::lock_guard lock(mu_);
    end = end_offset_;
    active = segments_.back();
    rolled.swap(unsynced_);
  }
  for (const auto& seg : rolled)
    if (!seg->deleted && ::fdatasync(seg->fd) != 0)
      return Status::FromErrno("syncing " + seg->path, errno);
  if (::fdatasync(active->fd) != 0) return Status::FromErrno("syncing " + active->path, errno);
  // Two syncs may race (the syncer's round and a closing log); the durable end never goes back.
  uint64_t previous = durable_end_.load(std::memory_order_relaxed);
  while (end > previous &&
         !durable_end_.compare_exchange_weak(previous, end, std::memory_order_release)) {
  }
  if (end > previous) log_->BumpGeneration();
  return Status::Ok();
}

Result<size_t> Partition::EnforceRetention(int64_t cutoff) {
  std::lock_guard lock(mu_);
  const std::shared_ptr<Segment>& active = segments_.back();
  if (!active->empty() && active->max_log_time < cutoff && durable_end_.load() == end_offset_) {
    SLUICE_RETURN_IF_ERROR(RollLocked());
  }
  size_t deleted = 0;
  while (segments_.size() > 1 && segments_.front()->max_log_time < cutoff &&
         segments_.front()->next_offset <= durable_end_.load()) {
    std::shared_ptr<Segment> seg = segments_.front();
    seg->deleted = true;
    ::unlink(seg->path.c_str());
    ::unlink(seg->index_path.c_str());
    segments_.erase(segments_.begin());
    ++deleted;
  }
  return deleted;
}

Result<uint64_t> Partition::OffsetForTime(int64_t log_time) const {
  std::shared_ptr<Segment> seg;
  uint64_t scan_offset = 0, scan_position = 0, end = 0;
  {
    std::lock_guard lock(mu_);
    for (const auto& s : segments_) {
      if (s->empty() || s->max_log_time < log_time) continue;
      seg = s;
      // The last index entry whose time is before the target is a safe place to scan from.
      scan_offset = s->base_offset;
      for (const IndexEntry& e : s->index) {
        if (e.log_time >= log_time) break;
        scan_offset = e.offset;
        scan_position = e.position;
      }
      end = s->next_offset;
      break;
    }
    if (!seg) return end_offset_;
  }
  char header[kRecordHeaderSize];
  uint64_t position = scan_position;
  for (uint64_t offset = scan_offset; offset < end; ++offset) {
    SLUICE_ASSIGN_OR_RETURN(size_t n, ReadAt(seg->fd, header, kRecordHeaderSize,
                                             static_cast<off_t>(position), seg->path));
    if (n < kRecordHeaderSize) break;
    if (static_cast<int64_t>(LoadU64(header + 16)) >= log_time) return LoadU64(header + 8);
    position += kRecordHeaderSize + LoadU32(header);
  }
  return end;
}

namespace {

class PartitionReaderImpl final : public PartitionReader {
 public:
  PartitionReaderImpl(const Partition* partition, uint64_t offset)
      : partition_(partition), next_offset_(offset) {}

  uint64_t next_offset() const override { return next_offset_; }
  void Seek(uint64_t offset) override {
    next_offset_ = offset;
    segment_.reset();
  }

  Result<std::span<const RecordView>> Read(size_t max_bytes) override {
    records_.clear();
    const uint64_t durable = partition_->durable_end();
    for (int attempts = 0; next_offset_ < durable && attempts < 3; ++attempts) {
      if (!segment_ || next_offset_ < segment_->base_offset || segment_->deleted) Position();
      if (!segment_) break;
      SLUICE_RETURN_IF_ERROR(ReadFromSegment(std::max<size_t>(max_bytes, 4096), durable));
      if (!records_.empty()) break;
      // Nothing left in this segment: move on to the next.
      Position();
    }
    return std::span<const RecordView>(records_);
  }

 private:
  // Finds the segment and file position of next_offset_, skipping forward past records
  // retention has deleted.
  void Position() {
    Partition::Location loc = partition_->Locate(next_offset_);
    segment_ = loc.segment;
    if (!segment_) return;
    if (next_offset_ < loc.scan_offset) next_offset_ = loc.scan_offset;  // deleted by retention
    position_ = loc.scan_position;
    position_offset_ = loc.scan_offset;
  }

  // Appends to records_ the records of the current segment from position_ on, reading about
  // `want` bytes; returns with records_ empty at the end of the segment's data.
  Status ReadFromSegment(size_t want, uint64_t durable) {
    while (records_.empty() && position_offset_ < durable) {
      bool damaged = false;
      buffer_.resize(want + kReadPadding);
      SLUICE_ASSIGN_OR_RETURN(size_t n, ReadAt(segment_->fd, buffer_.data(), want,
                                               static_cast<off_t>(position_), segment_->path));
      size_t pos = 0;
      while (pos + kRecordHeaderSize <= n && position_offset_ < durable) {
        const char* rec = buffer_.data() + pos;
        const uint32_t length = LoadU32(rec);
        if (pos + kRecordHeaderSize + length > n) break;  // continues past the buffer
        const uint64_t offset = LoadU64(rec + 8);
        if (offset != position_offset_ || RecordCrc(rec, length) != LoadU32(rec + 4)) {
          damaged = true;
          break;
        }
        if (offset >= next_offset_) {  // earlier ones are skipped after a seek
          RecordView view;
          view.offset = offset;
          view.log_time_micros = static_cast<int64_t>(LoadU64(rec + 16));
          view.event_time_micros = static_cast<int64_t>(LoadU64(rec + 24));
          view.schema_id = LoadU32(rec + 32);
          view.payload = std::string_view(rec + kRecordHeaderSize, length);
          records_.push_back(view);
          next_offset_ = offset + 1;
        }
        ++position_offset_;
        pos += kRecordHeaderSize + length;
      }
      if (damaged) {
        position_ += pos;
        if (!records_.empty()) return Status::Ok();  // serve these first
        SLUICE_ASSIGN_OR_RETURN(const bool segment_done, SkipDamage(durable));
        if (segment_done) return Status::Ok();
        continue;
      }
      if (pos == 0) {
        // The end of this segment's data, or one record larger than the buffer, or damage:
        // records below the durable end are always complete.
        // A short read means the file ended inside the record.
        if (n == 0) return Status::Ok();
        const uint32_t length = n >= kRecordHeaderSize ? LoadU32(buffer_.data()) : 0;
        const size_t needed = kRecordHeaderSize + length;
        if (n < want || length > kMaxPayloadBytes || needed <= n) {
          SLUICE_ASSIGN_OR_RETURN(const bool segment_done, SkipDamage(durable));
          if (segment_done) return Status::Ok();
          continue;
        }
        want = needed;
        continue;
      }
      position_ += pos;
    }
    return Status::Ok();
  }

  // The record at position_ (numbered position_offset_) is damaged: fails its CRC, breaks
  // offset continuity, or has an impossible length. It is never served: the reader moves to
  // the next intact record of the segment (or to the next segment) and the log reports the
  // records in between once. Damage that runs to the durable end of the active segment is an
  // error (recovery truncates such a tail at the next start). Returns true when the rest of the
  // segment is damaged: the caller returns, and Read() moves to the next segment.
  Result<bool> SkipDamage(uint64_t durable) {
    struct stat st;
    if (::fstat(segment_->fd, &st) != 0) return Status::FromErrno("stat " + segment_->path, errno);
    const auto file_end = static_cast<uint64_t>(st.st_size);
    SLUICE_ASSIGN_OR_RETURN(std::optional<FoundRecord> found,
                            FindNextRecord(segment_->fd, segment_->path, position_ + 1, file_end,
                                           position_offset_ + 1, durable));
    if (found) {
      partition_->ReportDamage(segment_->path, position_offset_, found->offset, position_,
                               found->position);
      position_ = found->position;
      position_offset_ = found->offset;
      next_offset_ = std::max(next_offset_, found->offset);
      return false;
    }
    const std::optional<uint64_t> sealed_end = partition_->SealedEnd(*segment_);
    if (!sealed_end)
      return Status::Corruption(fmt::format(
          "log {}: the records from offset {} (byte {} of {}) to the durable end are damaged",
          partition_->dir(), position_offset_, position_, segment_->path));
    partition_->ReportDamage(segment_->path, position_offset_, *sealed_end, position_, file_end);
    next_offset_ = std::max(next_offset_, *sealed_end);
    return true;
  }

  const Partition* partition_;
  uint64_t next_offset_;
  std::shared_ptr<Segment> segment_;
  uint64_t position_ = 0;  // file position of the record numbered position_offset_
  uint64_t position_offset_ = 0;
  std::string buffer_;
  std::vector<RecordView> records_;
};

}  // namespace

// ---- Log -------------------------------------------------------------------------------

Log::Log(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Log::~Log() {
  // Final sync so a clean shutdown leaves everything durable, then detach from the syncer.
  for (auto& p : impl_->partitions) {
    Status st = p->Sync();
    if (!st.ok()) spdlog::error("log {}: final sync failed: {}", impl_->dir, st.ToString());
  }
  impl_->partitions.clear();
}

Result<std::unique_ptr<Log>> Log::Open(std::string dir, LogOptions options, Clock& clock,
                                       Syncer& syncer) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError(fmt::format("creating {}: {}", dir, ec.message()));
  const std::string meta = dir + "/log.meta";
  if (std::ifstream in(meta); in) {
    std::string line;
    uint32_t existing = 0;
    while (std::getline(in, line))
      if (line.starts_with("partitions="))
        existing = static_cast<uint32_t>(std::stoul(line.substr(11)));
    if (existing == 0) return Status::Corruption(meta + " does not name the partition count");
    if (existing != options.partitions)
      spdlog::warn("log {} has {} partitions; keeping them (configured: {})", dir, existing,
                   options.partitions);
    options.partitions = existing;
  } else {
    if (options.partitions == 0) return Status::InvalidArgument("a log needs at least 1 partition");
    std::ofstream out(meta + ".tmp");
    out << "format=1\npartitions=" << options.partitions << "\n";
    out.close();
    if (!out) return Status::IOError("writing " + meta);
    fs::rename(meta + ".tmp", meta, ec);
    if (ec) return Status::IOError(fmt::format("renaming {}: {}", meta, ec.message()));
    SLUICE_RETURN_IF_ERROR(SyncDirectory(dir));
  }
  auto impl = std::make_unique<Impl>(dir, options, clock, syncer);
  for (uint32_t p = 0; p < options.partitions; ++p) {
    impl->partitions.push_back(std::make_unique<Partition>(impl.get(), p));
    SLUICE_RETURN_IF_ERROR(impl->partitions.back()->Open());
  }
  return std::unique_ptr<Log>(new Log(std::move(impl)));
}

Result<Log::Appended> Log::Append(uint32_t partition, std::span<const RecordToAppend> records) {
  if (partition >= impl_->partitions.size())
    return Status::InvalidArgument(fmt::format("partition {} out of range", partition));
  if (records.empty()) return Status::InvalidArgument("nothing to append");
  size_t bytes = 0;
  for (const RecordToAppend& r : records) {
    if (r.payload.size() > kMaxPayloadBytes)
      return Status::InvalidArgument(fmt::format("record of {} bytes exceeds the {} byte limit",
                                                 r.payload.size(), kMaxPayloadBytes));
    bytes += kRecordHeaderSize + r.payload.size();
  }
  if (const uint64_t reserve = impl_->options.disk_reserve_bytes; reserve > 0) {
    SLUICE_ASSIGN_OR_RETURN(const uint64_t free, FreeDiskBytes(impl_->dir));
    if (free < reserve + bytes)
      return Status::ResourceExhausted(fmt::format(
          "disk nearly full: {} MiB free on the file system of {}, and {} MiB are kept free for "
          "checkpoints and indexes",
          free >> 20, impl_->dir, reserve >> 20));
  }
  return impl_->partitions[partition]->Append(records);
}

std::unique_ptr<PartitionReader> Log::NewReader(uint32_t partition, uint64_t offset) const {
  return std::make_unique<PartitionReaderImpl>(impl_->partitions.at(partition).get(), offset);
}

uint64_t Log::StartOffset(uint32_t p) const {
  return impl_->partitions.at(p)->start_offset();
}
uint64_t Log::EndOffset(uint32_t p) const {
  return impl_->partitions.at(p)->end_offset();
}
uint64_t Log::DurableEndOffset(uint32_t p) const {
  return impl_->partitions.at(p)->durable_end();
}

Result<uint64_t> Log::OffsetForTime(uint32_t p, int64_t log_time_micros) const {
  return impl_->partitions.at(p)->OffsetForTime(log_time_micros);
}

uint64_t Log::durable_generation() const {
  return impl_->generation.load(std::memory_order_acquire);
}

bool Log::WaitForDurable(uint64_t seen, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->generation_mu);
  return impl_->generation_cv.wait_for(
      lock, timeout, [&] { return impl_->generation.load(std::memory_order_acquire) != seen; });
}

Result<size_t> Log::EnforceRetention() {
  const int64_t cutoff = impl_->clock.NowMicros() - impl_->options.retention_micros;
  size_t deleted = 0;
  for (auto& p : impl_->partitions) {
    SLUICE_ASSIGN_OR_RETURN(size_t n, p->EnforceRetention(cutoff));
    deleted += n;
  }
  return deleted;
}

uint32_t Log::partitions() const {
  return static_cast<uint32_t>(impl_->partitions.size());
}

uint64_t Log::damaged_records() const {
  return impl_->damaged_records.load(std::memory_order_relaxed);
}

uint64_t Log::SizeBytes() const {
  uint64_t total = 0;
  for (const auto& p : impl_->partitions) total += p->size_bytes();
  return total;
}

const std::string& Log::dir() const {
  return impl_->dir;
}

// ---- Syncer ----------------------------------------------------------------------------

struct Syncer::Impl {
  std::mutex mu;
  std::condition_variable work_cv;
  std::condition_variable round_cv;
  uint64_t next_ticket = 0;
  uint64_t durable_ticket = 0;
  bool syncing = false;
  bool stop = false;
  std::unordered_set<Partition*> dirty;
  std::multimap<uint64_t, std::function<void(const Status&)>> waiters;
  std::thread thread;

  void Loop() {
    std::unique_lock lock(mu);
    while (true) {
      work_cv.wait(lock, [&] { return stop || next_ticket > durable_ticket; });
      if (next_ticket == durable_ticket && stop) break;
      const uint64_t target = next_ticket;
      std::vector<Partition*> batch(dirty.begin(), dirty.end());
      dirty.clear();
      syncing = true;
      lock.unlock();
      Status status;
      for (Partition* p : batch) {
        Status st = p->Sync();
        if (!st.ok()) {
          spdlog::error("group commit: {}", st.ToString());
          status = st;
        }
      }
      lock.lock();
      syncing = false;
      durable_ticket = target;
      std::vector<std::function<void(const Status&)>> done;
      auto end = waiters.upper_bound(target);
      for (auto it = waiters.begin(); it != end; ++it) done.push_back(std::move(it->second));
      waiters.erase(waiters.begin(), end);
      round_cv.notify_all();
      lock.unlock();
      for (auto& d : done) d(status);
      lock.lock();
    }
  }
};

Syncer::Syncer() : impl_(std::make_unique<Impl>()) {
  impl_->thread = std::thread([this] {
    SetCurrentThreadName("log-sync");
    impl_->Loop();
  });
}

Syncer::~Syncer() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->work_cv.notify_all();
  impl_->thread.join();
}

uint64_t Syncer::MarkDirty(Partition* partition) {
  uint64_t ticket;
  {
    std::lock_guard lock(impl_->mu);
    impl_->dirty.insert(partition);
    ticket = ++impl_->next_ticket;
  }
  impl_->work_cv.notify_one();
  return ticket;
}

void Syncer::Forget(Partition* partition) {
  std::unique_lock lock(impl_->mu);
  impl_->round_cv.wait(lock, [&] { return !impl_->syncing; });
  impl_->dirty.erase(partition);
}

void Syncer::WhenDurable(uint64_t ticket, std::function<void(const Status&)> done) {
  {
    std::unique_lock lock(impl_->mu);
    if (ticket > impl_->durable_ticket) {
      impl_->waiters.emplace(ticket, std::move(done));
      return;
    }
  }
  done(Status::Ok());
}

Status Syncer::WaitDurable(uint64_t ticket) {
  std::promise<Status> promise;
  auto future = promise.get_future();
  WhenDurable(ticket, [&promise](const Status& st) { promise.set_value(st); });
  return future.get();
}

}  // namespace sluice::log
