#include "server/subscription_hub.h"

#include "support/unreadable_rows.h"

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

namespace sluice::server {
namespace {

struct CountingMember : FeedMember {
  int wakes = 0;
  void Wake() override { ++wakes; }
};

std::shared_ptr<store::View> MakeView() {
  return std::make_shared<store::View>(store::ViewDefinition{"v", {"k", "n"}, {"k"}, "SELECT"});
}

void Upsert(store::View& view, const std::string& key, int n) {
  view.Apply({{key, R"({"k":")" + key + R"(","n":)" + std::to_string(n) + "}"}}, 0);
}

FeedLimits Limits() {
  FeedLimits limits;
  limits.max_deltas = 8;
  limits.coalesce_after_deltas = 3;
  return limits;
}

TEST(SubscriptionHub, OneWakePerThreadPerDeltaAndMessagesByCursor) {
  boost::asio::io_context io;
  auto view = MakeView();
  Upsert(*view, "a", 1);  // v1, before anyone subscribed
  SubscriptionHub hub(Limits());
  CountingMember m1, m2;
  auto feed = hub.Join(view, io.get_executor(), &m1);
  ASSERT_EQ(hub.Join(view, io.get_executor(), &m2), feed);
  auto channel = feed->Channel("", {});
  FeedCursor cursor;
  FeedMessage first = feed->Next(*channel, cursor);
  EXPECT_EQ(first.kind, FeedMessage::Kind::kSnapshot);
  EXPECT_FALSE(first.resync);
  EXPECT_EQ(cursor.client, 1u);
  EXPECT_EQ(feed->Next(*channel, cursor).kind, FeedMessage::Kind::kNothing);

  io.run();  // the wake-up of the registration
  const int wakes_before = m1.wakes;
  Upsert(*view, "a", 2);  // v2
  Upsert(*view, "b", 1);  // v3
  io.restart();
  io.run();
  EXPECT_EQ(m1.wakes, wakes_before + 1);  // both deltas: one wake-up, not one per delta
  EXPECT_EQ(m2.wakes, m1.wakes);

  // Two behind (within coalesce_after_deltas): one by one, the same bytes as the view's text.
  FeedMessage d2 = feed->Next(*channel, cursor);
  EXPECT_EQ(d2.kind, FeedMessage::Kind::kDelta);
  EXPECT_FALSE(d2.coalesced);
  EXPECT_EQ(d2.version, 2u);
  EXPECT_NE(d2.text->find(R"("version":2,"since":1)"), std::string::npos);
  FeedMessage d3 = feed->Next(*channel, cursor);
  EXPECT_EQ(d3.version, 3u);

  // Four behind: one coalesced delta.
  for (int i = 0; i < 4; ++i) Upsert(*view, "c", i);  // v4..v7
  FeedMessage merged = feed->Next(*channel, cursor);
  EXPECT_TRUE(merged.coalesced);
  EXPECT_EQ(
      *merged.text,
      R"({"type":"delta","view":"v","version":7,"since":3,"coalesced":true,"position":0,"rows":[{"k":"c","n":3}]})");
  EXPECT_EQ(cursor.client, 7u);

  // Fallen off the log (8 deltas kept): a snapshot in place.
  for (int i = 0; i < 10; ++i) Upsert(*view, "d", i);  // v8..v17
  FeedMessage resync = feed->Next(*channel, cursor);
  EXPECT_EQ(resync.kind, FeedMessage::Kind::kSnapshot);
  EXPECT_TRUE(resync.resync);
  EXPECT_EQ(resync.version, 17u);
  EXPECT_NE(resync.text->find(R"({"k":"d","n":9})"), std::string::npos);

  view->Drop();
  EXPECT_EQ(feed->Next(*channel, cursor).kind, FeedMessage::Kind::kDropped);
  hub.Leave(feed, &m1);
  hub.Leave(feed, &m2);
  EXPECT_EQ(view->subscriber_count(), 0u);
}

TEST(SubscriptionHub, FilteredChannelSkipsEmptyDeltasAndKeepsSinceAtTheClientsVersion) {
  boost::asio::io_context io;
  auto view = MakeView();
  SubscriptionHub hub(Limits());
  CountingMember member;
  auto feed = hub.Join(view, io.get_executor(), &member);
  auto only_a = feed->Channel("k = 'a'", {[](std::string_view row) {
                                            return row.find(R"("k":"a")") != std::string_view::npos;
                                          },
                                          "a", "b"});  // keys from "a" up to "b": a's only
  FeedCursor cursor;
  EXPECT_EQ(feed->Next(*only_a, cursor).kind, FeedMessage::Kind::kSnapshot);  // v0
  Upsert(*view, "b", 1);                                                      // v1: not ours
  EXPECT_EQ(feed->Next(*only_a, cursor).kind, FeedMessage::Kind::kNothing);
  EXPECT_EQ(cursor.client, 0u);
  EXPECT_EQ(cursor.scanned, 1u);
  Upsert(*view, "a", 1);  // v2
  FeedMessage message = feed->Next(*only_a, cursor);
  ASSERT_EQ(message.kind, FeedMessage::Kind::kDelta);
  EXPECT_EQ(
      *message.text,
      R"({"type":"delta","view":"v","version":2,"since":0,"position":0,"rows":[{"k":"a","n":1}]})");
  EXPECT_EQ(cursor.client, 2u);
  // Another subscriber of the same filter shares the channel.
  EXPECT_EQ(feed->Channel("k = 'a'", {}), only_a);
  hub.Leave(feed, &member);
  EXPECT_EQ(view->subscriber_count(), 0u);
}

TEST(SubscriptionHub, RestoringViewSendsNothingUntilItsRowsAreIn) {
  boost::asio::io_context io;
  auto view = std::make_shared<store::View>(store::ViewDefinition{"v", {"k", "n"}, {"k"}, "SELECT"},
                                            /*restoring=*/true);
  SubscriptionHub hub(Limits());
  CountingMember member;
  auto feed = hub.Join(view, io.get_executor(), &member);
  auto channel = feed->Channel("", {});
  FeedCursor cursor;
  EXPECT_EQ(feed->Next(*channel, cursor).kind, FeedMessage::Kind::kNothing);
  view->Reset({{"a", R"({"k":"a","n":5})"}}, 41);
  io.run();
  EXPECT_EQ(member.wakes, 1);
  FeedMessage snapshot = feed->Next(*channel, cursor);
  EXPECT_EQ(snapshot.kind, FeedMessage::Kind::kSnapshot);
  EXPECT_EQ(snapshot.version, 41u);
  // A second Reset (a restore installing the checkpoint's rows again) moves the version without
  // a delta: the feed starts over and the subscriber gets a snapshot, the pipeline no error.
  view->Reset({{"a", R"({"k":"a","n":6})"}}, 50);
  Upsert(*view, "b", 1);  // v51
  FeedMessage after = feed->Next(*channel, cursor);
  EXPECT_EQ(after.kind, FeedMessage::Kind::kSnapshot);
  EXPECT_EQ(after.version, 51u);
  hub.Leave(feed, &member);
}

// A subscriber never gets a snapshot missing rows: a failed read ends its subscription (the
// session closes with 1011 and the reason; the client reconnects).
TEST(SubscriptionHub, ASnapshotThatCannotBeReadFailsTheSubscription) {
  boost::asio::io_context io;
  auto view = std::make_shared<store::View>(store::ViewDefinition{"v", {"k", "n"}, {"k"}, "SELECT"},
                                            /*restoring=*/true);
  view->UseStore(std::make_shared<test_support::UnreadableRows>(), 5);
  view->Reset({}, 3);
  SubscriptionHub hub(Limits());
  CountingMember member;
  auto feed = hub.Join(view, io.get_executor(), &member);
  auto channel = feed->Channel("", {});
  FeedCursor cursor;
  FeedMessage message = feed->Next(*channel, cursor);
  EXPECT_EQ(message.kind, FeedMessage::Kind::kFailed);
  ASSERT_NE(message.text, nullptr);
  EXPECT_NE(message.text->find("the disk is gone"), std::string::npos) << *message.text;
  EXPECT_FALSE(cursor.client.has_value());
  hub.Leave(feed, &member);
}

}  // namespace
}  // namespace sluice::server
