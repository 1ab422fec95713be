// The in-memory filter of recent ids in front of the dedup index (ingest/recent_id_filter.h):
// no false negatives within the horizon, expiry by time bucket, the memory cap.
#include "ingest/recent_id_filter.h"

#include <string>

#include <gtest/gtest.h>

namespace sluice::ingest {
namespace {

constexpr int64_t kHour = 3'600'000'000;
constexpr int64_t kStart = 1'700'000'000'000'000;

uint64_t H(int i) {
  return RecentIdFilter::Hash("id-" + std::to_string(i));
}

TEST(RecentIdFilterTest, RemembersEveryInsertedHashAcrossGrowth) {
  RecentIdFilter filter(kHour, size_t{64} << 20);
  EXPECT_FALSE(filter.Complete(kStart));  // until loaded
  filter.MarkLoaded();
  EXPECT_TRUE(filter.Complete(kStart));
  for (int i = 0; i < 100'000; ++i) filter.Insert(H(i), kStart, kStart);
  EXPECT_EQ(filter.size(), 100'000u);
  int found = 0, false_positives = 0;
  for (int i = 0; i < 100'000; ++i) found += filter.MayContain(H(i));
  for (int i = 100'000; i < 200'000; ++i) false_positives += filter.MayContain(H(i));
  EXPECT_EQ(found, 100'000);
  EXPECT_EQ(false_positives, 0);  // 64-bit hashes: a collision is astronomically unlikely
  EXPECT_LE(filter.bytes(), 100'000u * 23);
  EXPECT_TRUE(filter.MayContain(0) == false);
  filter.Insert(0, kStart, kStart);  // hash 0 is stored like any other
  EXPECT_TRUE(filter.MayContain(0));
}

TEST(RecentIdFilterTest, DropsBucketsOnlyOnceEverythingInThemExpired) {
  RecentIdFilter filter(kHour, size_t{64} << 20);
  filter.MarkLoaded();
  filter.Insert(H(1), kStart, kStart);
  filter.Insert(H(2), kStart + kHour / 2, kStart + kHour / 2);
  // An hour after the first insert: H(1) has expired, but its bucket may still be kept.
  filter.Insert(H(3), kStart + kHour, kStart + kHour);
  EXPECT_TRUE(filter.MayContain(H(2)));
  EXPECT_TRUE(filter.MayContain(H(3)));
  // Well past H(1)'s and H(2)'s horizon: their buckets are gone.
  filter.Insert(H(4), kStart + 2 * kHour, kStart + 2 * kHour);
  EXPECT_FALSE(filter.MayContain(H(1)));
  EXPECT_FALSE(filter.MayContain(H(2)));
  EXPECT_TRUE(filter.MayContain(H(3)));
  EXPECT_TRUE(filter.MayContain(H(4)));
  // An insert that expired already (an old id read back at start-up) is not kept.
  filter.Insert(H(5), kStart, kStart + 2 * kHour);
  EXPECT_FALSE(filter.MayContain(H(5)));
}

TEST(RecentIdFilterTest, OverTheCapDropsTheOldestAndIsIncompleteUntilItExpired) {
  RecentIdFilter filter(kHour, size_t{1} << 20);  // 1 MiB: a 131,072-slot table
  filter.MarkLoaded();
  for (int i = 0; i < 50'000; ++i) filter.Insert(H(i), kStart, kStart);
  EXPECT_TRUE(filter.Complete(kStart));
  const int64_t later = kStart + kHour / 2;
  for (int i = 50'000; i < 90'000; ++i) filter.Insert(H(i), later, later);
  EXPECT_TRUE(filter.MayContain(H(89'999)));
  EXPECT_LE(filter.bytes(), size_t{1} << 20);
  EXPECT_FALSE(filter.MayContain(H(0)));
  // Ids of the dropped bucket are still within the horizon: a miss proves nothing.
  EXPECT_FALSE(filter.Complete(later));
  EXPECT_FALSE(filter.Complete(kStart + kHour));
  // Once all of the dropped bucket's times expired (it covered up to kStart + kHour / 4).
  EXPECT_TRUE(filter.Complete(kStart + kHour + kHour / 4));
}

}  // namespace
}  // namespace sluice::ingest
