// Iceberg v2 tables on the local filesystem, in the layout of Iceberg's Hadoop tables
// (docs/iceberg.md):
//
//   <root>/<name>/metadata/v<N>.metadata.json   table metadata, one file per version
//   <root>/<name>/metadata/version-hint.text    "<N>": the current version
//   <root>/<name>/metadata/snap-<id>-<uuid>.avro   manifest lists
//   <root>/<name>/metadata/<uuid>-m<k>.avro        manifests
//   <root>/<name>/data/<partition path>/<file>     data files (written by the caller)
//
// What a caller may rely on:
// - version-hint.text is the commit point. A commit writes its manifests, its manifest list
//   and v<N+1>.metadata.json (to a temporary name, fsynced, then hard-linked to its final
//   name so an existing file is never overwritten), fsyncs the directory, and only then
//   replaces version-hint.text (temporary file, fsync, rename, fsync of the directory). A
//   crash at any point leaves the previous version current and readable, and no part of the
//   failed commit visible to readers that follow version-hint.text. Files of a failed commit
//   may remain as orphans (including an unreferenced v<N+1>.metadata.json; the next commit
//   then takes the next free version number).
// - Commits are serialized by an flock on metadata/commit.lock; a commit whose table object
//   is behind the current version (another writer committed) fails with FailedPrecondition
//   and leaves the table untouched: Open() again and retry.
// - Every snapshot has a sequence number one above the previous one and a timestamp from the
//   injected clock, never below the previous snapshot's (the snapshot log stays ordered).
// - Data file paths given to Commit are relative to the table directory ("data/..."); the
//   metadata records them as URIs under the table location (file://<absolute table dir>), and
//   DataFileEntry::file.path gives them back relative.
// - A failed commit leaves this object at the version it had: committing again with it works.
// - Table properties honoured (docs/iceberg.md): commit.manifest-merge.enabled,
//   commit.manifest.min-count-to-merge (carried-over manifests are merged into one past it),
//   write.metadata.previous-versions-max, write.metadata.delete-after-commit.enabled.
// - Bounds are Iceberg single-value binary serialization (see Single* helpers below); they are
//   stored as given.
// - Only files under the table directory are ever read (manifest lists, manifests) or deleted
//   (expiry): a metadata file naming anything else, or a path with "..", reads as Corruption
//   and is never deleted.
// - Not thread-safe: one IcebergTable object per thread. Reading methods do not change the
//   table and may run in other processes while a writer commits.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace sluice::lake {

enum class IcebergTypeId { kBoolean, kInt, kLong, kDouble, kString, kTimestamptz, kDecimal };

struct IcebergType {
  IcebergTypeId id = IcebergTypeId::kString;
  int precision = 0;  // decimal only
  int scale = 0;      // decimal only

  // "boolean", "int", "long", "double", "string", "timestamptz", "decimal(P,S)".
  std::string ToString() const;
  static Result<IcebergType> Parse(std::string_view text);
  bool operator==(const IcebergType&) const = default;
};

struct IcebergField {
  int32_t id = 0;
  std::string name;
  IcebergType type;
  bool required = false;
};

struct IcebergSchema {
  int32_t schema_id = 0;
  std::vector<IcebergField> fields;

  const IcebergField* Find(std::string_view name) const;
  const IcebergField* FindId(int32_t id) const;
};

struct DataFileStats {
  std::map<int32_t, int64_t> column_sizes;
  std::map<int32_t, int64_t> value_counts;
  std::map<int32_t, int64_t> null_value_counts;
  std::map<int32_t, std::string> lower_bounds;  // single-value serialization
  std::map<int32_t, std::string> upper_bounds;
};

struct DataFile {
  std::string path;  // relative to the table directory, e.g. "data/ts_hour=.../a.parquet"
  int64_t record_count = 0;
  int64_t file_size_in_bytes = 0;
  // Hours since 1970-01-01T00 (UTC) of the partition; nullopt for a null partition value or
  // an unpartitioned table.
  std::optional<int32_t> partition_hour;
  DataFileStats stats;
};

struct DataFileEntry {
  DataFile file;
  int64_t snapshot_id = 0;      // the snapshot that added it
  int64_t sequence_number = 0;  // data sequence number
};

struct Snapshot {
  int64_t snapshot_id = 0;
  std::optional<int64_t> parent_snapshot_id;
  int64_t sequence_number = 0;
  int64_t timestamp_ms = 0;
  std::string manifest_list;  // URI
  int32_t schema_id = 0;
  std::map<std::string, std::string> summary;  // includes "operation"
};

struct IcebergTableSpec {
  std::vector<IcebergField> fields;  // ids are assigned 1..n in order; given ids are ignored
  // The timestamptz field partitioned by hour(); empty for an unpartitioned table.
  std::string hour_partition_source;
  std::map<std::string, std::string> properties;
};

struct AppendFiles {
  std::vector<DataFile> added;
  std::vector<std::string> deleted;  // relative paths of live data files to remove
  // Added to the snapshot summary (e.g. "sluice.last-offset"); may not override the keys
  // Iceberg defines ("operation", "added-data-files", ...).
  std::map<std::string, std::string> summary;
};

// Test hook: called at the named points of a commit; a non-OK Status aborts the commit
// there, as a crash would (nothing after it happens, nothing before it is undone).
enum class CommitPoint { kAfterManifests, kAfterMetadataFile, kAfterVersionHint };
using CommitFaultHook = Status (*)(CommitPoint point, void* arg);

class IcebergTable {
 public:
  ~IcebergTable();
  IcebergTable(const IcebergTable&) = delete;
  IcebergTable& operator=(const IcebergTable&) = delete;

  // Creates <root>/<name> (which must not hold a table yet) with version 1: no snapshot.
  static Result<std::unique_ptr<IcebergTable>> Create(const std::string& root,
                                                      const std::string& name,
                                                      const IcebergTableSpec& spec,
                                                      Clock& clock = SystemClock::Default());
  // Opens the version named by version-hint.text.
  static Result<std::unique_ptr<IcebergTable>> Open(const std::string& root,
                                                    const std::string& name,
                                                    Clock& clock = SystemClock::Default());

  const std::string& dir() const { return dir_; }
  const std::string& location() const;  // "file://<absolute table dir>"
  int64_t version() const { return version_; }
  const IcebergSchema& schema() const;                // current schema
  const std::vector<IcebergSchema>& schemas() const;  // every schema, oldest first
  const std::string& hour_partition_source() const;   // "" when unpartitioned
  const std::map<std::string, std::string>& properties() const;

  // The relative path for a new data file: "data/<source>_hour=YYYY-MM-DD-HH/<file_name>"
  // ("data/<file_name>" when unpartitioned or `hour` is nullopt).
  std::string DataPath(std::optional<int32_t> hour, std::string_view file_name) const;

  // Adds and/or removes data files as one snapshot (operation "append", "delete" or
  // "overwrite"). Deleting a path that is not live is InvalidArgument; so is an empty commit
  // or a partition value on an unpartitioned table. Returns the new snapshot.
  Result<Snapshot> Commit(const AppendFiles& change);

  // Adds an optional column at the end of the current schema (a new schema id and field id;
  // earlier snapshots and files keep their schema). The name must be new.
  Status AddOptionalField(const std::string& name, const IcebergType& type);

  // Removes snapshots older than `older_than_ms` (the current snapshot always stays), then
  // deletes the manifest lists, manifests and data files no kept snapshot references. The new
  // metadata version is published before any file is deleted; a crash in between leaves
  // orphan files only. Partition directories left empty are removed, so a writer running at
  // the same time must create a data file's directory and the file without expiring in
  // between (or retry on ENOENT). Returns the number of files deleted.
  Result<int> ExpireSnapshots(int64_t older_than_ms);
  // The same with a policy: removes the snapshots for which `keep` is false (the current
  // snapshot always stays).
  Result<int> ExpireSnapshots(const std::function<bool(const Snapshot&)>& keep);

  // Snapshots, oldest first.
  const std::vector<Snapshot>& snapshots() const;
  std::optional<Snapshot> CurrentSnapshot() const;
  Result<Snapshot> SnapshotById(int64_t snapshot_id) const;
  // The snapshot that was current at `timestamp_ms` (the last snapshot-log entry at or before
  // it); NotFound when the table had no snapshot then.
  Result<Snapshot> SnapshotAsOf(int64_t timestamp_ms) const;
  // The live data files of a snapshot, in manifest order.
  Result<std::vector<DataFileEntry>> LiveFiles(const Snapshot& snapshot) const;
  // The live data files that may hold rows of the hours [first_hour, last_hour] (hour
  // ordinals): files of those partitions and files with a null partition value; manifests
  // whose partition range misses the interval are not read. All live files when the table is
  // unpartitioned.
  Result<std::vector<DataFileEntry>> LiveFilesForHours(const Snapshot& snapshot, int32_t first_hour,
                                                       int32_t last_hour) const;

  // For the fault-injection tests.
  void SetCommitFaultHook(CommitFaultHook hook, void* arg) {
    fault_hook_ = hook;
    fault_arg_ = arg;
  }

  struct Metadata;

 private:
  IcebergTable(std::string dir, Clock& clock);
  Status Publish(Metadata& next);
  Status Fault(CommitPoint point) const {
    return fault_hook_ ? fault_hook_(point, fault_arg_) : Status::Ok();
  }

  std::string dir_;
  Clock& clock_;
  int64_t version_ = 0;
  std::unique_ptr<Metadata> meta_;
  CommitFaultHook fault_hook_ = nullptr;
  void* fault_arg_ = nullptr;
};

// Iceberg single-value binary serialization, for bounds.
std::string SingleLong(int64_t v);   // long, timestamptz (micros): 8 bytes little-endian
std::string SingleInt(int32_t v);    // int: 4 bytes little-endian
std::string SingleDouble(double v);  // 8 bytes little-endian IEEE 754
std::string SingleBoolean(bool v);   // one byte, 0 or 1
// decimal: the unscaled value, two's complement big-endian, minimal bytes.
std::string SingleDecimal(__int128 unscaled);
// Decoders (Corruption on a wrong length).
Result<int64_t> ParseSingleLong(std::string_view b);
Result<int32_t> ParseSingleInt(std::string_view b);
Result<double> ParseSingleDouble(std::string_view b);

// Writers that name their data files "<sequence number of the commit that adds them>-..." (the
// archive, view tables) can clean up after a crash with these. The sequence number a file name
// starts with (nullopt when it does not start with one followed by '-').
std::optional<int64_t> DataFileSequence(std::string_view file_name);
// Deletes, anywhere under <table>/data, the files written for a commit that never happened:
// temporary files (".tmp-" in the name) and files whose sequence number is above the current
// snapshot's. Returns how many were deleted.
Result<size_t> RemoveUncommittedDataFiles(const IcebergTable& table);

// "YYYY-MM-DD-HH" of an hour ordinal (Iceberg's hour transform's human form).
std::string HourToString(int32_t hour);
// The hour ordinal of microseconds since the epoch.
int32_t HourOfMicros(int64_t micros);

}  // namespace sluice::lake
