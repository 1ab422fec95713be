// The recent deltas of one view, kept so that subscribers can read them at their own pace, and
// the coalescing of several deltas into one message for a subscriber that fell behind.
//
// A DeltaLog is a ring of the view's last deltas (store::ViewDelta, shared and immutable), in
// version order with no gap, bounded by a count and by bytes: appending evicts the oldest. A
// reader holds a cursor `have` (the version its client holds); it can catch up from the log
// while Covers(have), otherwise it needs a fresh snapshot.
//
// Coalescing (CoalesceDeltas): the net effect of consecutive deltas, per key the last change
// (a row, or its deletion: a key deleted and then upserted again is an upsert, one upserted and
// then deleted is a deletion). Applying the result to the state at the first delta's `since`
// gives the state at the last delta's version. An optional filter keeps only rows it accepts;
// it must judge a row by values that never change for a key (otherwise a row leaving the
// filter would not be deleted on the client).
//
// Thread-safety: DeltaLog is not synchronized (its owner locks it); ViewDelta values are
// immutable and may be read from any thread. CoalesceDeltas and DeltaJson are pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/view.h"

namespace sluice::store {

class DeltaLog {
 public:
  static constexpr size_t kDefaultMaxDeltas = 4096;
  static constexpr size_t kDefaultMaxBytes = 16u << 20;

  explicit DeltaLog(size_t max_deltas = kDefaultMaxDeltas, size_t max_bytes = kDefaultMaxBytes);

  // Forgets every delta; the next one appended must have version `version` + 1.
  void Reset(uint64_t version);

  // Adds the next delta (its version must be last_version() + 1; a gap is a programmer error
  // and throws std::logic_error), evicting the oldest ones past either bound. The newest delta
  // is always kept, however large.
  void Append(std::shared_ptr<const ViewDelta> delta);

  // The version a reader holds after reading everything.
  uint64_t last_version() const { return last_version_; }
  // True when a reader at `have` can catch up from the log (nothing it needs was evicted).
  bool Covers(uint64_t have) const { return have >= base_version_ && have <= last_version_; }
  // Appends the deltas after `have` (which must be covered) to `out`, oldest first: all of
  // them, or the first `limit`.
  void CollectAfter(uint64_t have, std::vector<std::shared_ptr<const ViewDelta>>& out,
                    size_t limit = SIZE_MAX) const;
  // The bytes of message text (ViewDelta::text) of the deltas after `have` (covered), in O(1).
  uint64_t TextBytesAfter(uint64_t have) const;

  size_t size() const { return deltas_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  const size_t max_deltas_;
  const size_t max_bytes_;
  std::deque<std::shared_ptr<const ViewDelta>> deltas_;
  std::deque<uint64_t> text_bytes_before_;  // per delta: text bytes appended before it
  uint64_t text_bytes_appended_ = 0;        // since the last Reset
  uint64_t base_version_ = 0;  // the version before deltas_.front() (= last when empty)
  uint64_t last_version_ = 0;
  size_t bytes_ = 0;
};

// The net effect of `deltas` (consecutive, oldest first): rows upserted and rows deleted (as
// they last were), each in key order, pointing into the deltas (which must outlive them).
struct CoalescedChanges {
  std::vector<const std::string*> rows;
  std::vector<const std::string*> deleted;
  bool empty() const { return rows.empty() && deleted.empty(); }
};
CoalescedChanges CoalesceDeltas(const std::vector<std::shared_ptr<const ViewDelta>>& deltas,
                                const RowPredicate& filter = {});

// The delta message of docs/http-api.md: {"type":"delta","view":…,"version":…,"since":…,
// ["coalesced":true,]"position":…,"rows":[…][,"deleted":[…]]}.
std::string DeltaJson(std::string_view view, uint64_t version, uint64_t since, uint64_t position,
                      bool coalesced, const CoalescedChanges& changes);

}  // namespace sluice::store
