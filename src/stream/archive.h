// The compliance archive of one stream (issue #6): every raw event of the stream's log, as
// Parquet files in an Iceberg v2 table partitioned by hour(event time), kept for the archive's
// retention (90 days by default). It is its own pipeline, independent of the views: a slow or
// failing archive never holds back ingest or the operational pipelines.
//
// How it works: a thread reads each partition of the log from the offsets the table's last
// snapshot recorded (the partitions split between `threads` lanes that read in parallel, each
// with its own files), appends every record's raw event to the open Parquet file of its event
// hour (typed columns from the stream's schema, plus `_raw`, `_partition`, `_offset`), and
// commits every `commit_interval` (or once `commit_bytes` are buffered, and at Stop): closes
// the files (written to a temporary name, fsynced, renamed), records each in the table's hash
// chain (lake/hash_chain.h), and commits them to the table in one snapshot whose summary
// holds the next offset of every partition ("sluice.offsets").
//
// What a caller may rely on:
// - Exactly once in the table: a record is in a committed file iff its offset is below the
//   offsets of the snapshot that added the file. After a crash the archive resumes from the
//   current snapshot's offsets and deletes the data files no snapshot references (written
//   after the last commit), so a replay never commits a row twice and readers never see a
//   half commit.
// - Retention: once per `housekeeping_interval` (by the injected clock) the partitions whose
//   hour ended more than `retention` ago are removed through a snapshot, and snapshots are
//   expired as `snapshot_retention` and `hourly_snapshot_retention` say (the files only they
//   referenced deleted).
// - The log's own retention must outlast the archive's lag: records deleted from the log
//   before the archive read them are counted in skipped_records() and logged.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/status.h"
#include "lake/event_columns.h"
#include "lake/iceberg_table.h"
#include "lake/parquet_writer.h"
#include "log/log.h"

namespace sluice::stream {

struct ArchiveOptions {
  std::string root;  // the lake directory; the table is <root>/<table>
  std::string table;
  // The typed columns (besides _raw, _partition and _offset), from the stream's schema. The
  // one named `event_time_column` must be a timestamp: the table is partitioned by its hour.
  std::vector<lake::EventColumn> columns;
  std::string event_time_column = "occurred_at";
  int64_t commit_interval_micros = 10'000'000;
  int64_t commit_bytes = int64_t{256} << 20;  // buffered (uncompressed) bytes that force a commit
  int64_t retention_micros = int64_t{90} * 24 * 3600 * 1'000'000;
  // Snapshot expiry at housekeeping (a commit every 10 s would otherwise keep 777,600
  // snapshots over 90 days, every one listed in every metadata file): every snapshot is kept
  // for `snapshot_retention`, then only the last snapshot of each hour (UTC, by commit time)
  // for `hourly_snapshot_retention`. Time travel is exact within the first and at hour
  // granularity within the second. Neither exceeds `retention_micros`.
  int64_t snapshot_retention_micros = int64_t{3600} * 1'000'000;
  int64_t hourly_snapshot_retention_micros = int64_t{7} * 24 * 3600 * 1'000'000;
  int64_t housekeeping_interval_micros = int64_t{3600} * 1'000'000;
  lake::WriterOptions writer;
  // Compaction at housekeeping: an hour whose end is `compaction_grace` past and that has at
  // least `compaction_min_files` files under `compaction_target_bytes` gets them rewritten into
  // files of about that size (one snapshot: the small files deleted, the large ones added,
  // offsets unchanged). compaction_min_files <= 1 turns it off.
  int64_t compaction_target_bytes = int64_t{128} << 20;
  int64_t compaction_min_files = 8;
  int64_t compaction_grace_micros = int64_t{3600} * 1'000'000;
  // At most (about) this many bytes of small files are rewritten per housekeeping round.
  int64_t compaction_max_bytes_per_round = int64_t{2} << 30;
  // Threads parsing and compressing in parallel (each with its own files; at most one per log
  // partition). Two use the second core when ingest leaves it idle.
  uint32_t threads = 2;
  // The nice value of the archive's threads (0: the default priority, up to 19). Above 0, when
  // the cores are all busy the archive yields them to ingest and the views, falls behind, and
  // catches up when they are idle again (its lag: sluice_archive_lag_records); when they are
  // not all busy it changes nothing. The log's retention must cover that lag.
  int nice = 0;
};

class Archive {
 public:
  // Opens the table (creating it) and cleans up after a crash (see above). The log, clock and
  // metrics must outlive the archive.
  static Result<std::unique_ptr<Archive>> Open(ArchiveOptions options, const log::Log& input,
                                               Clock& clock, MetricsRegistry& metrics);
  ~Archive();  // Stop()s

  void Start();
  // Stops the thread and commits what is buffered.
  Status Stop();

  // One round on the caller's thread: reads what is available, and commits when `force` or
  // when a commit is due. For tests and tools; do not mix with Start().
  Status RunOnce(bool force);
  // Runs retention, compaction and snapshot expiry now (for tests: the thread does it once per
  // housekeeping interval).
  Status Housekeep();
  // For fault-injection tests: the hook of the table's commits (lake/iceberg_table.h).
  void SetCommitFaultHookForTest(lake::CommitFaultHook hook, void* arg);

  // Next offset of every partition that the table holds (its last commit).
  std::vector<uint64_t> committed_offsets() const;
  uint64_t skipped_records() const;
  const std::string& table_dir() const;

  struct Impl;

 private:
  explicit Archive(std::unique_ptr<Impl> impl);
  void Run();
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
};

}  // namespace sluice::stream
