// Reads the raw events of a compliance archive (archive.h) back, for a view's backfill from the
// lake (stream_pipeline.h) and `sluice replay`.
//
//   SLUICE_ASSIGN_OR_RETURN(auto reader, ArchiveReader::Open({.root = lake, .table = "orders"}));
//   for (;;) {
//     SLUICE_ASSIGN_OR_RETURN(std::span<const ArchivedRecord> batch, reader->Next());
//     if (batch.empty()) break;
//     for (const ArchivedRecord& r : batch) use(r.partition, r.offset, r.payload);
//   }
//
// What a caller may rely on:
// - One snapshot: the table's current snapshot at Open() (or the one asked for); files that
//   snapshot references are read even if a later commit or expiry removes them, as long as
//   they still exist (a file deleted under the reader is an IOError naming it).
// - Order: files in hour order (then by name, which starts with the commit's sequence number),
//   one row group per Next(); within a row group, the order the archive wrote (per partition,
//   ascending offsets). So the records come roughly in event-time order, not in log order.
// - Filters: only hours in [first_hour, last_hour] are read (files of other hours are never
//   opened), and, when `below` is given, only records whose offset is below below[partition]
//   (records the log no longer holds).
// - A record's event time is the table's partition-source column (the stream's event time);
//   when that is null, the start of the file's partition hour.
// - Payloads point into the reader's buffers: valid until the next Next(), and followed by at
//   least kPayloadPadding readable bytes (simdjson parses them in place).
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sluice::stream {

inline constexpr size_t kPayloadPadding = 64;

struct ArchivedRecord {
  uint32_t partition = 0;
  uint64_t offset = 0;
  int64_t event_time_micros = 0;
  std::string_view payload;
};

struct ArchiveReaderOptions {
  std::string root;  // the lake directory
  std::string table;
  std::optional<int64_t> snapshot_id;  // unset: the current snapshot
  int32_t first_hour = std::numeric_limits<int32_t>::min();
  int32_t last_hour = std::numeric_limits<int32_t>::max();
  // When not empty: only records with offset < below[partition] (partitions beyond its size:
  // none).
  std::vector<uint64_t> below;
};

class ArchiveReader {
 public:
  // NotFound when the table does not exist or has no snapshot (nothing archived yet).
  static Result<std::unique_ptr<ArchiveReader>> Open(ArchiveReaderOptions options);
  ~ArchiveReader();

  // The next row group's records that pass the filters; empty when every file has been read.
  Result<std::span<const ArchivedRecord>> Next();

  // Records in the files not read yet, before filtering (at most: row groups the hour range
  // skips are never read): for progress reports.
  uint64_t remaining_records() const;
  size_t files() const;
  int64_t snapshot_id() const;

  struct Impl;

 private:
  explicit ArchiveReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::stream
