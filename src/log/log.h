// The durable log: per stream, a fixed number of partitions, each an append-only sequence of
// records in segment files, the storage every other part of Sluice reads from.
//
// On disk, a stream's log lives in `<dir>/` with one folder per partition `p<N>/`, each holding
// segments `<base offset, 20 digits>.log` and their sparse indexes `<base offset>.idx`. A
// record is framed as
//
//   u32 payload_length | u32 crc32c | u64 offset | i64 log_time_us | i64 event_time_us |
//   u32 schema_id | u32 reserved (0) | payload
//
// (little-endian), where the CRC32C covers every byte of the record except the crc field itself
// (length, offset, times, schema id, payload). Offsets are dense per partition, starting at 0.
// `schema_id` is the registry id of the schema the payload was validated against (0: none).
// `log_time_us` is the append time from the injected clock, clamped to be non-decreasing within
// a partition: the time index and retention use it. `event_time_us` is the producer's event time.
//
// What callers may rely on:
// - Append() writes to the OS and returns a sync ticket; the records are durable (fdatasync'd)
//   once the Syncer reports that ticket durable. Concurrent appends share one fdatasync (group
//   commit).
// - Readers never see a record before it is durable, so what a pipeline consumes survives
//   kill -9 with the log.
// - Open() recovers: it scans the last segment of each partition, truncates a torn or corrupt
//   tail (logging what it cut), and rebuilds missing indexes. Damage inside a file (a flipped
//   bit, with intact records after it) is not a tail: those records are kept.
// - A damaged record (its CRC32C fails, its offset is out of sequence, its length impossible)
//   is never served: readers skip to the next intact record (its offsets are missing from what
//   they return) and the log reports the damaged range once, as an error, counting the records
//   in damaged_records(). Only damage that reaches the durable end of the active segment is
//   returned as a Corruption error (until a restart truncates it as a tail).
// - EnforceRetention() deletes whole segments whose newest record is older than the retention,
//   judged by the injected clock; a partition's start offset moves past them.
// - All methods are thread-safe. Different partitions can be appended to in parallel.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace sluice::log {

inline constexpr size_t kRecordHeaderSize = 40;
// Readers guarantee this many readable bytes after every payload they return, so consumers can
// parse payloads in place with simdjson (whose padding requirement is 64 bytes).
inline constexpr size_t kReadPadding = 64;
// The largest payload a record may carry (ingest bodies are at most 16 MiB).
inline constexpr size_t kMaxPayloadBytes = 64u << 20;

struct LogOptions {
  uint32_t partitions = 4;                                // fixed when the log is first created
  uint64_t segment_bytes = 128ull << 20;                  // roll the active segment past this size
  int64_t segment_max_age_micros = 3600ll * 1000 * 1000;  // or when its first record is older
  int64_t retention_micros = 7ll * 24 * 3600 * 1000 * 1000;  // 7 days
  uint32_t index_interval_bytes = 4096;                      // one index entry per this many bytes
  // Appends fail with ResourceExhausted while less than this is free on the log's file system
  // (base/disk_space.h: the room kept for RocksDB); 0 = no reserve.
  uint64_t disk_reserve_bytes = 0;
  // Called (on the thread that found it) with the number of records in each newly reported
  // damaged range (see damaged_records()).
  std::function<void(uint64_t records)> on_damage;
};

struct RecordToAppend {
  int64_t event_time_micros = 0;
  std::string_view payload;
  uint32_t schema_id = 0;  // the registry id the payload was validated against; 0 = none
};

struct RecordView {
  uint64_t offset = 0;
  int64_t log_time_micros = 0;
  int64_t event_time_micros = 0;
  uint32_t schema_id = 0;
  std::string_view payload;  // valid until the next call on the reader that returned it
};

class Partition;
class Syncer;

// Reads one partition sequentially. Not thread-safe; one reader per consumer.
class PartitionReader {
 public:
  virtual ~PartitionReader() = default;
  // Returns the durable records from next_offset() on, at most about `max_bytes` of them (always
  // at least one record when one is available), and advances past them. An empty span means
  // the reader is at the durable end. When the next offset was deleted by retention the reader
  // skips to the partition's start offset.
  virtual Result<std::span<const RecordView>> Read(size_t max_bytes) = 0;
  virtual uint64_t next_offset() const = 0;
  virtual void Seek(uint64_t offset) = 0;
};

class Log {
 public:
  // Opens or creates the log in `dir`. `syncer` must outlive the log. If the log exists with a
  // different partition count, the existing count wins and a warning is logged.
  static Result<std::unique_ptr<Log>> Open(std::string dir, LogOptions options, Clock& clock,
                                           Syncer& syncer);
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  struct Appended {
    uint64_t first_offset = 0;
    uint64_t sync_ticket = 0;  // pass to Syncer::WhenDurable / WaitDurable
  };
  // Appends `records` (at least one) to `partition` as one write. Fails with ResourceExhausted
  // when the disk is full or less than disk_reserve_bytes would stay free, IOError on other
  // write failures; on failure nothing is appended.
  Result<Appended> Append(uint32_t partition, std::span<const RecordToAppend> records);

  std::unique_ptr<PartitionReader> NewReader(uint32_t partition, uint64_t offset) const;

  // First offset still retained, one past the last written, one past the last durable.
  uint64_t StartOffset(uint32_t partition) const;
  uint64_t EndOffset(uint32_t partition) const;
  uint64_t DurableEndOffset(uint32_t partition) const;
  // The first offset whose log time is >= `log_time_micros` (EndOffset when none is).
  Result<uint64_t> OffsetForTime(uint32_t partition, int64_t log_time_micros) const;

  // Bumped every time a durable end offset advances. Wait for a change with WaitForDurable: a
  // tailing reader calls it when it has caught up instead of sleeping.
  uint64_t durable_generation() const;
  // Returns true when the generation differs from `seen` (immediately or within `timeout`).
  bool WaitForDurable(uint64_t seen, std::chrono::milliseconds timeout) const;

  // Deletes segments older than the retention; returns how many were deleted.
  Result<size_t> EnforceRetention();

  uint32_t partitions() const;
  uint64_t SizeBytes() const;
  // Records found damaged and skipped (by readers or recovery) since Open().
  uint64_t damaged_records() const;
  const std::string& dir() const;

 private:
  friend class Partition;
  friend class Syncer;
  struct Impl;
  explicit Log(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The group-commit flusher shared by every log of the process: one background thread that
// fdatasyncs every partition written since its last round and then reports durable all tickets
// handed out before that round began. One round serves any number of concurrent appenders.
class Syncer {
 public:
  Syncer();
  ~Syncer();  // stops the thread after a final round
  Syncer(const Syncer&) = delete;
  Syncer& operator=(const Syncer&) = delete;

  // Runs `done` (on the syncer thread) once every append with a ticket <= `ticket` is durable,
  // or with the error that prevented it. Must be cheap: post elsewhere for real work.
  void WhenDurable(uint64_t ticket, std::function<void(const Status&)> done);
  // Blocks until `ticket` is durable.
  Status WaitDurable(uint64_t ticket);

  // Used by Log: records that `partition` has unsynced writes; returns the new ticket.
  uint64_t MarkDirty(Partition* partition);
  // Used by Log when a partition is destroyed: forget it.
  void Forget(Partition* partition);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::log
