// Durable pipeline checkpoints in RocksDB: each pipeline's keyed state, the log offsets it has
// consumed and its output version, committed together in one synced write batch, so a restart
// resumes exactly where the last checkpoint left off: never losing, never double-counting.
//
// Layout: keys are "<pipeline>\x00<kind>\x00<key>": kind "s" for state entries, "m" for the
// metadata record (version, offsets, then the pipeline's own metadata bytes), "r" for the rows
// of the pipeline's view (a store-backed store::View reads them through Rows()) and "n" for
// their count. A pipeline name must not contain a NUL byte.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/view.h"

namespace rocksdb {
class DB;
}

namespace sluice::stream {

struct CheckpointData {
  std::vector<uint64_t> offsets;             // next offset to read, per partition of the input log
  uint64_t version = 0;                      // output view version at the checkpoint
  std::map<std::string, std::string> state;  // keyed state
  std::string meta;                          // the pipeline's own metadata (e.g. its watermark)
  // The number of view rows committed with the checkpoint; nullopt when the checkpoint holds no
  // rows (none yet, or written before views were stored).
  std::optional<uint64_t> row_count;
};

// One pipeline's part of a checkpoint (see Commit).
struct CheckpointUpdate {
  std::string pipeline;
  std::vector<std::pair<std::string, std::string>> changed_state;  // empty value: delete
  std::vector<uint64_t> offsets;
  uint64_t version = 0;
  std::string meta;
  // The view's rows changed since the last checkpoint (empty value: delete) and its row count;
  // nullopt: the checkpoint does not store the view's rows.
  std::vector<std::pair<std::string, std::string>> changed_rows;
  std::optional<uint64_t> row_count;
};

class CheckpointStore {
 public:
  static Result<std::unique_ptr<CheckpointStore>> Open(const std::string& dir);
  ~CheckpointStore();

  // Loads the last checkpoint of `pipeline`; an empty CheckpointData when there is none.
  // Without `with_state`, only its metadata and row count (quick: no state is read).
  Result<CheckpointData> Load(const std::string& pipeline, bool with_state = true) const;

  // One group's committed state (Aggregator::SetStateReader); nullopt when there is none.
  Result<std::optional<std::string>> ReadState(const std::string& pipeline,
                                               std::string_view group_key) const;
  // Appends (group key, state) of every committed group whose key starts with `prefix`.
  Status ScanState(const std::string& pipeline, std::string_view prefix,
                   std::vector<std::pair<std::string, std::string>>& out) const;

  // The committed view rows of `pipeline`, read through consistent snapshots (they keep the
  // database open, so a view may outlive the store).
  std::shared_ptr<const store::CommittedRows> Rows(const std::string& pipeline) const;

  // Atomically (one synced write batch) stores `changed_state` (an empty value deletes the key),
  // the offsets, the version and `meta`.
  Status Commit(const std::string& pipeline,
                const std::vector<std::pair<std::string, std::string>>& changed_state,
                const std::vector<uint64_t>& offsets, uint64_t version, std::string_view meta = {});

  // Commits the checkpoints of several pipelines in one synced write batch: all or none.
  Status Commit(const std::vector<CheckpointUpdate>& updates);

  // For tests: the next `count` Commit() calls fail with an IOError and write nothing (as a
  // failed RocksDB write would).
  void FailNextCommitsForTesting(int count) { failing_commits_ = count; }

  // Deletes every record of `pipeline` (its state and metadata).
  Status Drop(const std::string& pipeline);
  // The names of the pipelines with anything stored.
  Result<std::vector<std::string>> Pipelines() const;

 private:
  explicit CheckpointStore(std::shared_ptr<rocksdb::DB> db);
  std::shared_ptr<rocksdb::DB> db_;  // shared with Rows() readers, which may outlive the store
  int failing_commits_ = 0;
};

}  // namespace sluice::stream
