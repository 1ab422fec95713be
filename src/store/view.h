// Materialized view tables: the rows a pipeline maintains, their version, and the fan-out of
// changes to subscribers.
//
// A view is a set of rows, each identified by a key (the view's key columns, encoded by the
// pipeline as a string) and held as one JSON object text. Every Apply() is one atomic change
// that advances the version by exactly one and produces a delta holding the changed rows;
// listeners receive deltas in version order, so a subscriber that sees versions v, v+1, v+2 …
// has seen every change.
//
// Wire formats (also what GET /v1/views/{view} and the WebSocket send):
//   snapshot: {"type":"snapshot","view":"…","version":N,"columns":[…],"key":[…],"rows":[{…},…]}
//   delta:    {"type":"delta","view":"…","version":N,"since":N-1,"position":P,"rows":[{…}],
//              "deleted":[{…}]}
//   dropped:  {"type":"dropped","view":"…"}  (the last message: the view was dropped)
// ("deleted" is present only when rows were removed).
// `rows` are upserts (a full row, identified by its key columns); `deleted` holds removed rows
// as they last were. `position` is the input position the delta derives from (the total
// number of log records the pipeline had consumed), so a consumer can recognise a replayed
// delta. `since` is the version the delta applies on top of (always N-1 here; the WebSocket
// hub's coalesced and filtered deltas span more, see store/delta_log.h).
//
// Storage: a view keeps all its rows in memory, unless UseStore() gives it the committed rows of
// its checkpoints (store-backed). Then memory holds only the rows changed since the last
// checkpoint (an overlay, deletes as tombstones), reads merge the overlay over a consistent
// snapshot of the committed rows, and the pipeline moves the overlay to the store with each
// checkpoint: SealForCommit() hands out the changed rows, CommitSealed() forgets them once the
// checkpoint is durable. The committed rows are always exactly those of a checkpoint's version,
// so a restart reopens them instead of rebuilding them.
//
// Availability: a view created with `restoring = true` (a restart restores its rows from the
// checkpoint in the background) has no rows yet. Until Reset() it answers Available() with
// Unavailable, and a subscriber's snapshot is sent when Reset() installs the rows. A restore
// that fails leaves the view failed (MarkFailed): Available() carries the reason.
//
// Thread-safety: all methods may be called from any thread. Listeners run on the thread that
// calls Apply(), while the view's lock is held, so they must only hand the (shared, immutable)
// delta text to another thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace sluice::store {

// Keeps a row when it returns true (a snapshot's or a subscription's filter); must be callable
// from any thread.
using RowPredicate = std::function<bool(std::string_view row_json)>;

// A filter of a view's rows (?where=): the predicate, and the range of row keys [from, to)
// (`to` empty: no upper bound) outside which it keeps no row, so a snapshot reads only that
// range. Default: every row.
struct RowFilter {
  RowPredicate keep;  // empty: every row
  std::string from;
  std::string to;
};

struct RowChange {
  // Whether the view holds a row under `key` before this change, when the producer knows it
  // (the aggregator does): a store-backed view then counts its rows without reading the
  // committed row back. It must be right; kUnknown always is.
  enum class Prior : uint8_t { kUnknown, kAbsent, kPresent };
  std::string key;
  std::string row_json;  // empty = delete the row
  Prior prior = Prior::kUnknown;
};

// A view's committed rows (the checkpoint store implements it over RocksDB). Keys are the
// view's row keys, in byte order.
class CommittedRows {
 public:
  // A point-in-time reader: sees the rows committed when it was opened, however many commits
  // follow.
  class Cursor {
   public:
    virtual ~Cursor() = default;
    virtual void Seek(std::string_view key) = 0;  // to the first row at or after `key`
    virtual bool Valid() const = 0;
    virtual void Next() = 0;
    virtual std::string_view key() const = 0;
    virtual std::string_view row() const = 0;
    virtual Status status() const = 0;  // Ok unless reading failed (then !Valid())
  };

  virtual ~CommittedRows() = default;
  // The committed row of `key`; nullopt when there is none.
  virtual Result<std::optional<std::string>> Get(std::string_view key) const = 0;
  virtual std::unique_ptr<Cursor> Open() const = 0;
};

// Rows changed since the last commit, handed to the checkpoint (View::SealForCommit).
struct SealedRows {
  std::vector<std::pair<std::string, std::string>> rows;  // key -> row JSON; empty: deleted
  uint64_t row_count = 0;                                 // of the view, with these applied
};

// One Apply() as data, for subscribers that need the changed rows by key (the WebSocket hub's
// store::DeltaLog). Immutable once published.
struct ViewDelta {
  struct Change {
    std::string key;
    std::string row_json;  // the new row; for a deletion the row as it last was
    bool deleted = false;
  };
  uint64_t version = 0;  // applies on top of version - 1
  uint64_t position = 0;
  std::vector<Change> changes;              // in apply order; deletions of absent keys are left out
  std::shared_ptr<const std::string> text;  // the wire delta (what text listeners receive)
  bool dropped = false;  // the view was dropped: `text` is the "dropped" message, nothing follows
  // What the delta holds in memory, roughly (for DeltaLog's byte bound).
  size_t bytes() const;
};

struct ViewDefinition {
  std::string name;
  std::vector<std::string> columns;
  std::vector<std::string> key_columns;
  std::string sql;  // the definition, shown by the dashboard's view explorer
};

class View {
 public:
  using Listener =
      std::function<void(uint64_t version, const std::shared_ptr<const std::string>& delta_json)>;
  using ChangeListener = std::function<void(const std::shared_ptr<const ViewDelta>& delta)>;

  explicit View(ViewDefinition definition, bool restoring = false);

  const ViewDefinition& definition() const { return definition_; }
  const std::string& name() const { return definition_.name; }

  // Makes the view store-backed (see "Storage"): `committed` holds `committed_row_count` rows.
  // Called once, before Reset(), while the view is restoring or has no rows.
  void UseStore(std::shared_ptr<const CommittedRows> committed, uint64_t committed_row_count);
  bool store_backed() const;

  // Store-backed: the changed rows since the last CommitSealed() (including those of a sealed
  // set whose commit failed), now sealed; later Apply() calls start a new overlay. Reads keep
  // seeing the sealed rows until CommitSealed(). Memory-only views return nothing.
  SealedRows SealForCommit();
  // The sealed rows are committed: reads now find them in the store.
  void CommitSealed();

  // Replaces all rows and sets the version (used when loading a checkpoint) and makes the view
  // available. A store-backed view keeps its committed rows and lays `rows` over them. Sends
  // nothing to current subscribers; those that subscribed while the view was restoring get their
  // snapshot now.
  void Reset(std::map<std::string, std::string> rows, uint64_t version);

  // Ok, or why the view's rows cannot be read: Unavailable while restoring, Internal after a
  // failed restore. Queries and snapshots check it first.
  Status Available() const;
  bool restoring() const;
  void MarkFailed(std::string reason);

  // Applies the changes as one new version and notifies listeners. No-op for an empty list.
  // Returns the new version.
  uint64_t Apply(const std::vector<RowChange>& changes, uint64_t position);

  uint64_t version() const;
  size_t row_count() const;

  // The snapshot document described above, of the rows whose key is in [from, to) (`to`
  // empty: no upper bound) that `filter` (optional) keeps; `version` (optional) receives its
  // version. Read as ScanRows() reads (a store-backed view outside its lock, so a large
  // snapshot does not hold up Apply()); a failed read of the stored rows is returned, never a
  // partial snapshot.
  Result<std::string> SnapshotJson(const RowPredicate& filter = {}, uint64_t* version = nullptr,
                                   std::string_view from = {}, std::string_view to = {}) const;

  // Calls `row` with every row's JSON object text, in key order: all rows are of one version,
  // which it returns. `row` must not call into the view. Memory-only views call it under the
  // view's lock (it holds up Apply(), so it must be quick); store-backed views read a snapshot
  // outside it. A failed read of the stored rows ends the scan and is returned: the caller has
  // seen only some rows and must not use them as the view's contents.
  Result<uint64_t> ForEachRow(const std::function<void(const std::string& row_json)>& row) const;

  // The rows whose key is in [from, to) (`to` empty: no upper bound), in key order, of one
  // version; `row` returns false to stop. Reads only that range, so a key prefix or a time range
  // of a window key costs what it returns, not the whole view.
  Result<uint64_t> ScanRows(
      std::string_view from, std::string_view to,
      const std::function<bool(std::string_view key, std::string_view row_json)>& row) const;

  // Registers `listener`; `on_registered` runs under the same lock with the snapshot text and
  // its version, so the subscriber gets a snapshot and then every later delta, with no gap
  // and no overlap (while the view restores, `on_registered` runs later, when Reset() installs
  // the rows). Returns an id for Unsubscribe.
  uint64_t Subscribe(
      Listener listener,
      const std::function<void(uint64_t version, std::string snapshot_json)>& on_registered);
  // Like Subscribe, for a listener that receives each delta as data (ViewDelta; a dropped view
  // sends one with `dropped` set). `on_registered` gets the version the first delta follows
  // (later while the view restores). Unsubscribe takes its id too.
  uint64_t SubscribeChanges(ChangeListener listener,
                            const std::function<void(uint64_t version)>& on_registered);
  void Unsubscribe(uint64_t id);
  size_t subscriber_count() const;

  // Sends the "dropped" message to every listener and forgets them; later Apply() calls reach
  // no one. Used when the view is dropped.
  void Drop();

 private:
  // The snapshot document of every row (read under the lock, for a new listener).
  std::string SnapshotJsonLocked() const;
  // The snapshot document up to the opening of "rows": [ (room reserved for `rows_bytes`).
  std::string SnapshotHead(uint64_t version, size_t rows_bytes) const;
  // Store-backed: the row of `key` as the writer sees it (overlay, sealed, then committed).
  Result<std::optional<std::string>> FindLocked(const std::string& key) const;
  // Store-backed, under the lock: what a read outside the lock needs (a committed snapshot and
  // the overlay rows over it).
  struct ReadView {
    std::unique_ptr<CommittedRows::Cursor> cursor;
    std::map<std::string, std::string> overlay;  // "" = deleted
  };
  ReadView OpenReadLocked(std::string_view from, std::string_view to) const;
  static Status MergeScan(ReadView& read, std::string_view from, std::string_view to,
                          const std::function<bool(std::string_view, std::string_view)>& row);

  const ViewDefinition definition_;
  mutable std::mutex mu_;
  // Memory-only: all rows, key -> row JSON. Store-backed: the rows changed since the last seal
  // ("" = deleted).
  std::map<std::string, std::string> rows_;
  std::shared_ptr<const CommittedRows> committed_;  // null: memory-only
  std::map<std::string, std::string> sealed_;       // store-backed: rows being committed
  uint64_t row_count_ = 0;                          // store-backed: rows of the view
  uint64_t version_ = 0;
  uint64_t next_listener_id_ = 1;
  std::map<uint64_t, Listener> listeners_;
  std::map<uint64_t, ChangeListener> change_listeners_;
  enum class State { kReady, kRestoring, kFailed };
  State state_ = State::kReady;
  std::string failure_;
  // Subscribers that arrived while the view was restoring: their snapshot is due at Reset().
  std::map<uint64_t, std::function<void(uint64_t, std::string)>> awaiting_snapshot_;
};

// The views of a process, by name. Views are shared: one removed from the registry lives on
// while someone (a WebSocket subscriber) still holds it.
class ViewRegistry {
 public:
  // Throws std::logic_error on a duplicate name. `restoring`: see View.
  std::shared_ptr<View> Add(ViewDefinition definition, bool restoring = false);
  std::shared_ptr<View> Find(const std::string& name) const;  // nullptr when absent
  std::vector<std::shared_ptr<View>> All() const;
  // Removes the view and tells its subscribers (View::Drop); false when absent.
  bool Remove(const std::string& name);

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<View>> views_;
};

}  // namespace sluice::store
