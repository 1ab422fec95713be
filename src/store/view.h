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
//   delta:    {"type":"delta","view":"…","version":N,"position":P,"rows":[{…}],"deleted":[{…}]}
//   dropped:  {"type":"dropped","view":"…"}  (the last message: the view was dropped)
// ("deleted" is present only when rows were removed).
// `rows` are upserts (a full row, identified by its key columns); `deleted` holds removed rows
// as they last were. `position` is the input position the delta derives from (the total
// number of log records the pipeline had consumed), so a consumer can recognise a replayed
// delta.
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
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace sluice::store {

struct RowChange {
  std::string key;
  std::string row_json;  // empty = delete the row
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

  explicit View(ViewDefinition definition, bool restoring = false);

  const ViewDefinition& definition() const { return definition_; }
  const std::string& name() const { return definition_.name; }

  // Replaces all rows and sets the version (used when loading a checkpoint) and makes the view
  // available. Sends nothing to current subscribers; those that subscribed while the view was
  // restoring get their snapshot now.
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

  // The snapshot document described above; `filter` (optional) keeps only rows for which it
  // returns true.
  std::string SnapshotJson(
      const std::function<bool(const std::string& row_json)>& filter = {}) const;

  // Calls `row` with every row's JSON object text, in key order, under the view's lock: all rows
  // are of one version, which it returns. `row` must be quick and must not call into the view
  // (it holds up Apply()). Used by queries over the view.
  uint64_t ForEachRow(const std::function<void(const std::string& row_json)>& row) const;

  // Registers `listener`; `on_registered` runs under the same lock with the snapshot text and
  // its version, so the subscriber gets a snapshot and then every later delta, with no gap
  // and no overlap (while the view restores, `on_registered` runs later, when Reset() installs
  // the rows). Returns an id for Unsubscribe.
  uint64_t Subscribe(
      Listener listener,
      const std::function<void(uint64_t version, std::string snapshot_json)>& on_registered);
  void Unsubscribe(uint64_t id);
  size_t subscriber_count() const;

  // Sends the "dropped" message to every listener and forgets them; later Apply() calls reach
  // no one. Used when the view is dropped.
  void Drop();

 private:
  std::string SnapshotJsonLocked(const std::function<bool(const std::string&)>& filter) const;

  const ViewDefinition definition_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> rows_;  // key -> row JSON
  uint64_t version_ = 0;
  uint64_t next_listener_id_ = 1;
  std::map<uint64_t, Listener> listeners_;
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
