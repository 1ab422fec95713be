// A reference table (CREATE TABLE): typed rows keyed by their primary key, upserted over HTTP
// and read by views through lookup joins (view_operator.h).
//
// What callers may rely on:
// * Durability: Write() commits the rows it accepted in one synced RocksDB write batch (the
//   checkpoint store, under the table's storage id "<table>@<catalog offset of its CREATE>")
//   before it returns and before lookups see them; Open() loads what was committed. So a row
//   whose PUT was answered survives kill -9; a failed commit changes nothing.
// * Write(): the body is a JSON array of objects, NDJSON (one object per line) or CSV with a
//   header line naming the columns. A row is an upsert by primary key; a JSON row with
//   "_deleted": true deletes the row with its key. Every row is checked on its own: unknown
//   columns, a value of the wrong type, a missing or NULL key column reject that row (listed
//   with its 0-based index and a message, as ingest does) and the others are applied. Within a
//   body the last row for a key wins. Columns missing from a row are NULL.
// * Values: JSON strings for VARCHAR, TIMESTAMP (RFC 3339) and DATE; numbers for BIGINT
//   (integral) and DOUBLE; true/false for BOOLEAN; anything for JSON. CSV text is parsed with
//   the SQL text forms (value.h); an empty unquoted CSV field is NULL, "" an empty string.
// * Lookups (the pipeline threads): hold LockForReading() while probing with Find() and while
//   the returned values are used; writers wait for it. Find() allocates nothing.
// * Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "sql/plan.h"
#include "stream/checkpoint_store.h"
#include "stream/join_values.h"

namespace sluice::stream {

enum class TableBodyFormat { kJsonArray, kNdjson, kCsv };

struct TableWriteAnswer {
  size_t upserted = 0;
  size_t deleted = 0;
  struct Rejection {
    size_t index;
    std::string error;
  };
  std::vector<Rejection> rejected;
  // {"upserted":N,"deleted":D,"rejected":[{"index":i,"error":"..."}]}
  std::string ToJson() const;
};

class ReferenceTable {
 public:
  // Loads the rows stored under `storage_id`. `store` must outlive the table.
  static Result<std::shared_ptr<ReferenceTable>> Open(sql::TableSpec spec, std::string storage_id,
                                                      CheckpointStore& store);

  const sql::TableSpec& spec() const { return spec_; }
  const std::string& storage_id() const { return storage_id_; }

  // Parses `body` and applies its valid rows (see the header comment). An error only when the
  // body as a whole cannot be read (not a JSON array, a CSV header naming an unknown column) or
  // the commit failed; then nothing was applied.
  Result<TableWriteAnswer> Write(TableBodyFormat format, std::string_view body);

  // {"table":"t","columns":[...],"primary_key":[...],"rows":[{...}, ...]}, rows by key.
  std::string RowsJson() const;
  size_t row_count() const;

  std::shared_lock<std::shared_mutex> LockForReading() const {
    return std::shared_lock<std::shared_mutex>(mu_);
  }
  // The row (one value per column) whose key encodes as `key`: AppendJoinKey of the primary key
  // values in primary-key order. nullptr when absent.
  const OwnedValues* Find(std::string_view key) const {
    auto it = rows_.find(key);
    return it == rows_.end() ? nullptr : &it->second;
  }

 private:
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  ReferenceTable(sql::TableSpec spec, std::string storage_id, CheckpointStore& store)
      : spec_(std::move(spec)), storage_id_(std::move(storage_id)), store_(store) {}

  sql::TableSpec spec_;
  std::string storage_id_;
  CheckpointStore& store_;
  std::mutex write_mu_;  // one Write at a time
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, OwnedValues, KeyHash, std::equal_to<>> rows_;
  uint64_t version_ = 0;  // number of committed writes
};

}  // namespace sluice::stream
