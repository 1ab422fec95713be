#include "stream/watermarks.h"

#include <string>

#include <gtest/gtest.h>

#include "base/time.h"
#include "sql/parser.h"
#include "sql/planner.h"
#include "stream/aggregation.h"
#include "support/one_stream_catalog.h"

namespace sluice::stream {
namespace {

constexpr int64_t kDelay = 5 * kMicrosPerSecond;
const int64_t kT0 = ParseRfc3339("2026-11-25T08:00:00Z").value();

TEST(PartitionWatermarksTest, OnePartitionIsItsLargestEventTimeMinusTheDelay) {
  PartitionWatermarks w(kDelay);
  EXPECT_EQ(w.watermark(), PartitionWatermarks::kNone);
  w.Observe(0, kT0 + 60 * kMicrosPerSecond);
  w.Observe(0, kT0);  // out of order: the largest stays
  EXPECT_EQ(w.watermark(), kT0 + 55 * kMicrosPerSecond);
  w.SetActive(0, false);  // idle or not, the same
  EXPECT_EQ(w.watermark(), kT0 + 55 * kMicrosPerSecond);
  w.Observe(0, kT0 + 70 * kMicrosPerSecond);
  EXPECT_EQ(w.watermark(), kT0 + 65 * kMicrosPerSecond);
}

TEST(PartitionWatermarksTest, TheMinimumOverActivePartitionsNeverGoingBack) {
  PartitionWatermarks w(kDelay);
  w.SetActive(0, true);
  w.SetActive(1, true);
  w.Observe(0, kT0 + kMicrosPerMinute);
  // Partition 1 has input but no event yet: its events are unknown, nothing moves.
  EXPECT_EQ(w.watermark(), PartitionWatermarks::kNone);
  w.Observe(1, kT0 + 10 * kMicrosPerSecond);
  EXPECT_EQ(w.watermark(), kT0 + 5 * kMicrosPerSecond);
  w.Observe(1, kT0 + 20 * kMicrosPerSecond);
  EXPECT_EQ(w.watermark(), kT0 + 15 * kMicrosPerSecond);
  // Partition 1 caught up: it no longer holds partition 0 back.
  w.SetActive(1, false);
  EXPECT_EQ(w.watermark(), kT0 + 55 * kMicrosPerSecond);
  // Active again with older input: the watermark does not go back.
  w.SetActive(1, true);
  EXPECT_EQ(w.watermark(), kT0 + 55 * kMicrosPerSecond);
  w.Observe(0, kT0 + 2 * kMicrosPerMinute);  // held by partition 1 (at 08:00:20)
  EXPECT_EQ(w.watermark(), kT0 + 55 * kMicrosPerSecond);
  w.Observe(1, kT0 + 90 * kMicrosPerSecond);
  EXPECT_EQ(w.watermark(), kT0 + 85 * kMicrosPerSecond);
  // Nothing active: the largest event time seen bounds it.
  w.SetActive(0, false);
  w.SetActive(1, false);
  EXPECT_EQ(w.watermark(), kT0 + 115 * kMicrosPerSecond);
}

TEST(PartitionWatermarksTest, APartitionWithoutEventsOrInputDoesNotCount) {
  PartitionWatermarks w(kDelay);
  w.SetActive(0, true);
  w.SetActive(1, false);  // empty partitions
  w.SetActive(2, false);
  w.Observe(0, kT0);
  EXPECT_EQ(w.watermark(), kT0 - kDelay);
  // A partition with input but no event (records without an event time) holds it until it is
  // caught up.
  w.SetActive(3, true);
  w.Observe(0, kT0 + kMicrosPerMinute);
  EXPECT_EQ(w.watermark(), kT0 - kDelay);
  w.SetActive(3, false);
  EXPECT_EQ(w.watermark(), kT0 + kMicrosPerMinute - kDelay);
}

TEST(PartitionWatermarksTest, EncodesAndDecodesEveryPartition) {
  PartitionWatermarks w(kDelay);
  w.SetActive(0, true);
  w.SetActive(1, true);
  w.Observe(0, kT0 + kMicrosPerMinute);
  w.Observe(1, kT0);
  std::string bytes;
  w.Encode(bytes);
  bytes += "rest";
  PartitionWatermarks restored(kDelay);
  std::string_view in = bytes;
  ASSERT_TRUE(restored.Decode(in));
  EXPECT_EQ(in, "rest");
  EXPECT_EQ(restored.watermark(), kT0 - kDelay);
  EXPECT_EQ(restored.max_event_time(), kT0 + kMicrosPerMinute);
  // Partition 1 is still the one holding it back.
  restored.Observe(1, kT0 + 30 * kMicrosPerSecond);
  EXPECT_EQ(restored.watermark(), kT0 + 25 * kMicrosPerSecond);
  std::string_view truncated = std::string_view(bytes).substr(0, 20);
  EXPECT_FALSE(PartitionWatermarks(kDelay).Decode(truncated));
}

using test_support::OneStream;

std::unique_ptr<Aggregator> OnCloseMinutes(sql::FieldSet& fields) {
  auto statements = sql::Parse(
      "CREATE MATERIALIZED VIEW v WITH (emit = 'on_close') AS SELECT window_start, count(*) AS n "
      "FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) GROUP BY window_start");
  EXPECT_TRUE(statements.ok());
  OneStream catalog;
  auto plan = sql::PlanView(std::get<sql::CreateMaterializedView>(statements->at(0).node), catalog);
  EXPECT_TRUE(plan.ok());
  return Aggregator::Create(*plan, fields).value();
}

TEST(AggregatorWatermarkTest, SkewAcrossPartitionsIsNotLateButLatenessInOneIs) {
  sql::FieldSet fields;
  auto a = OnCloseMinutes(fields);
  std::vector<sql::Value> values(fields.size());
  a->SetPartitionActive(0, true);
  a->SetPartitionActive(1, true);
  // Partition 0 read ten minutes ahead of partition 1 (a chunk each), both in order.
  for (int s = 0; s < 600; s += 10) a->Add(values, kT0 + s * kMicrosPerSecond, {}, 0);
  for (int s = 5; s < 600; s += 10)
    EXPECT_EQ(a->Add(values, kT0 + s * kMicrosPerSecond, {}, 1), DropReason::kNone);
  EXPECT_EQ(a->late_events(), 0u);
  EXPECT_EQ(a->dropped_events(), 0u);
  EXPECT_EQ(a->watermark(), kT0 + 590 * kMicrosPerSecond - kDelay);
  std::vector<store::RowChange> changes;
  a->TakeChanges(changes);
  EXPECT_EQ(changes.size(), 9u);  // 08:00 to 08:08 closed, 12 events each
  // Behind its own partition by more than the delay: late, and its window has closed.
  EXPECT_EQ(a->Add(values, kT0 + 100 * kMicrosPerSecond, {}, 1), DropReason::kWindowClosed);
  EXPECT_EQ(a->late_events(), 1u);
}

TEST(AggregatorWatermarkTest, ARestartKeepsThePartitionWatermarks) {
  sql::FieldSet fields;
  auto a = OnCloseMinutes(fields);
  std::vector<sql::Value> values(fields.size());
  a->SetPartitionActive(0, true);
  a->SetPartitionActive(1, true);
  a->Add(values, kT0 + 10 * kMicrosPerMinute, {}, 0);
  a->Add(values, kT0 + kMicrosPerMinute, {}, 1);
  EXPECT_EQ(a->watermark(), kT0 + kMicrosPerMinute - kDelay);
  const std::string meta = a->Meta();

  sql::FieldSet fields2;
  auto b = OnCloseMinutes(fields2);
  ASSERT_TRUE(b->Restore({}, meta).ok());
  EXPECT_EQ(b->watermark(), kT0 + kMicrosPerMinute - kDelay);
  // Partition 1 still holds it back, partition 0 bounds it.
  b->Add(values, kT0 + 5 * kMicrosPerMinute, {}, 1);
  EXPECT_EQ(b->watermark(), kT0 + 5 * kMicrosPerMinute - kDelay);
  b->Add(values, kT0 + 20 * kMicrosPerMinute, {}, 1);
  EXPECT_EQ(b->watermark(), kT0 + 10 * kMicrosPerMinute - kDelay);

  // A checkpoint of the older format (the largest event time only) still loads.
  std::string legacy(1, '\x01');
  const int64_t max_event_time = kT0 + 10 * kMicrosPerMinute;
  legacy.append(reinterpret_cast<const char*>(&max_event_time), sizeof max_event_time);
  sql::FieldSet fields3;
  auto c = OnCloseMinutes(fields3);
  ASSERT_TRUE(c->Restore({}, legacy).ok());
  EXPECT_EQ(c->watermark(), max_event_time - kDelay);
  c->Add(values, kT0 + 11 * kMicrosPerMinute, {}, 0);
  EXPECT_EQ(c->watermark(), kT0 + 11 * kMicrosPerMinute - kDelay);

  sql::FieldSet fields4;
  EXPECT_FALSE(OnCloseMinutes(fields4)->Restore({}, std::string_view("\x02xx", 3)).ok());
  EXPECT_FALSE(OnCloseMinutes(fields4)->Restore({}, std::string_view("\x07", 1)).ok());
}

}  // namespace
}  // namespace sluice::stream
