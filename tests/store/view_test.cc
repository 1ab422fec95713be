#include "store/view.h"

#include <gtest/gtest.h>

namespace sluice::store {
namespace {

ViewDefinition Def() {
  return {"v", {"k", "n"}, {"k"}, "SELECT …"};
}

TEST(View, ApplyAdvancesVersionAndNotifiesWithDelta) {
  View view(Def());
  std::vector<std::pair<uint64_t, std::string>> seen;
  std::string snapshot;
  view.Subscribe(
      [&](uint64_t v, const std::shared_ptr<const std::string>& d) { seen.emplace_back(v, *d); },
      [&](uint64_t v, std::string s) {
        EXPECT_EQ(v, 0u);
        snapshot = std::move(s);
      });
  EXPECT_EQ(
      snapshot,
      R"({"type":"snapshot","view":"v","version":0,"columns":["k","n"],"key":["k"],"rows":[]})");
  EXPECT_EQ(view.Apply({{"a", R"({"k":"a","n":1})"}}, 10), 1u);
  EXPECT_EQ(view.Apply({{"a", R"({"k":"a","n":2})"}, {"b", R"({"k":"b","n":1})"}}, 12), 2u);
  EXPECT_EQ(view.Apply({{"b", ""}}, 13), 3u);
  EXPECT_EQ(view.Apply({}, 14), 3u);  // empty change: no new version
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].second,
            R"({"type":"delta","view":"v","version":1,"position":10,"rows":[{"k":"a","n":1}]})");
  EXPECT_EQ(seen[1].first, 2u);
  EXPECT_EQ(
      seen[2].second,
      R"({"type":"delta","view":"v","version":3,"position":13,"rows":[],"deleted":[{"k":"b","n":1}]})");
  EXPECT_EQ(view.row_count(), 1u);
  EXPECT_NE(view.SnapshotJson().find(R"("version":3)"), std::string::npos);
}

TEST(View, ForEachRowVisitsTheRowsOfOneVersionInKeyOrder) {
  View view(Def());
  view.Apply({{"b", R"({"k":"b","n":1})"}, {"a", R"({"k":"a","n":2})"}}, 5);
  std::vector<std::string> rows;
  EXPECT_EQ(view.ForEachRow([&](const std::string& row) { rows.push_back(row); }), 1u);
  EXPECT_EQ(rows, (std::vector<std::string>{R"({"k":"a","n":2})", R"({"k":"b","n":1})"}));
}

TEST(View, ResetAndUnsubscribe) {
  View view(Def());
  view.Reset({{"a", R"({"k":"a","n":5})"}}, 41);
  int calls = 0;
  uint64_t id = view.Subscribe([&](uint64_t, const auto&) { ++calls; }, {});
  view.Apply({{"a", R"({"k":"a","n":6})"}}, 1);
  view.Unsubscribe(id);
  view.Apply({{"a", R"({"k":"a","n":7})"}}, 2);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(view.version(), 43u);
  EXPECT_EQ(view.subscriber_count(), 0u);
}

TEST(ViewRegistry, FindsByName) {
  ViewRegistry registry;
  registry.Add(Def());
  EXPECT_NE(registry.Find("v"), nullptr);
  EXPECT_EQ(registry.Find("w"), nullptr);
  EXPECT_THROW(registry.Add(Def()), std::logic_error);
}

TEST(ViewRegistry, RemovingAViewTellsItsSubscribersAndKeepsItAliveForThem) {
  ViewRegistry registry;
  std::shared_ptr<View> view = registry.Add(Def());
  std::vector<std::string> messages;
  view->Subscribe([&](uint64_t, const auto& m) { messages.push_back(*m); }, {});
  EXPECT_TRUE(registry.Remove("v"));
  EXPECT_FALSE(registry.Remove("v"));
  EXPECT_EQ(registry.Find("v"), nullptr);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0], R"({"type":"dropped","view":"v"})");
  view->Apply({{"a", R"({"k":"a","n":1})"}}, 1);  // a late pipeline round reaches no one
  EXPECT_EQ(messages.size(), 1u);
  EXPECT_EQ(view->subscriber_count(), 0u);
}

}  // namespace
}  // namespace sluice::store
