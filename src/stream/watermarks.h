// A view's event-time watermark, tracked per input partition (as Flink does per source split).
//
// The pipeline reads a stream's partitions a chunk at a time, so across partitions events are
// processed out of order by up to a chunk's time span even when every producer sends in order.
// A single "largest event time seen" would make such events late. Instead each partition has
// its own watermark (its largest event time minus the delay) and the view's watermark is the
// minimum over the partitions that can still deliver older events:
//
// * A partition is *active* while it may deliver events soon: the driver says so with
//   SetActive() (the pipeline: while its reader is behind the log's durable end, and for a
//   short idle timeout after); a partition first seen by Observe() or Restore() is active. An
//   active partition that has had no event yet holds the watermark where it is: its events are
//   unknown. An *idle* partition (caught up with the log's durable end, or one that never had
//   an event and has no input) does not hold the others back, so a quiet partition never
//   stalls the watermark.
// * The watermark is min(largest event time over all partitions, minimum over the active
//   partitions of their largest event time) - delay. With no active partition it is the
//   largest event time seen minus the delay (nothing can hold it back).
// * It never goes back: a partition that becomes active again behind it does not lower it (its
//   events behind it are late).
//
// Determinism: replaying a log that is already written (a restart, a backfill) keeps every
// partition active until its reader is caught up, so the watermark is at most each partition's
// own and an event in order within its partition (up to the delay) is never late, whatever the
// interleaving of the partitions' chunks. A single partition behaves as before: its largest
// event time minus the delay.
//
// Cost: Observe() is O(1) unless the partition was the minimum (then O(partitions)).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::stream {

class PartitionWatermarks {
 public:
  static constexpr int64_t kNone = std::numeric_limits<int64_t>::min();

  explicit PartitionWatermarks(int64_t delay_micros) : delay_(delay_micros) {}

  // An event at `event_time` from `partition` (made active if never seen before).
  void Observe(uint32_t partition, int64_t event_time) {
    if (partition >= partitions_.size()) Grow(partition);
    Partition& p = partitions_[partition];
    if (event_time <= p.max_event_time) return;
    const bool was_minimum = p.active && p.max_event_time <= min_active_;
    p.max_event_time = event_time;
    if (event_time > max_event_time_) max_event_time_ = event_time;
    if (was_minimum) RecomputeMinimum();
    Advance();
  }

  // Whether `partition` has unconsumed input (see the header comment).
  void SetActive(uint32_t partition, bool active);

  // The view's watermark; kNone before it has one.
  int64_t watermark() const { return watermark_; }
  // The largest event time seen in any partition; kNone before the first event.
  int64_t max_event_time() const { return max_event_time_; }

  // Appends the state a restart needs (the watermark and every partition's largest event time).
  void Encode(std::string& out) const;
  // Reads what Encode() wrote from the front of `in`; false when malformed. Restored partitions
  // are active until the driver says otherwise.
  bool Decode(std::string_view& in);
  // From a checkpoint that held only the largest event time over all partitions: the watermark
  // follows from it, the partitions start unknown.
  void RestoreLegacy(int64_t max_event_time);

 private:
  struct Partition {
    int64_t max_event_time = kNone;
    bool active = true;
  };
  void Grow(uint32_t partition);
  void RecomputeMinimum();
  // Raises the watermark to what the partitions allow now (never lowers it).
  void Advance() {
    const int64_t bound = min_active_ < max_event_time_ ? min_active_ : max_event_time_;
    if (bound == kNone) return;
    int64_t candidate;
    if (__builtin_sub_overflow(bound, delay_, &candidate)) candidate = kNone + 1;
    if (candidate > watermark_) watermark_ = candidate;
  }

  int64_t delay_;
  std::vector<Partition> partitions_;
  int64_t max_event_time_ = kNone;
  // The smallest largest-event-time over the active partitions; INT64_MAX when none is active.
  int64_t min_active_ = std::numeric_limits<int64_t>::max();
  int64_t watermark_ = kNone;
};

}  // namespace sluice::stream
