#include "store/view.h"

#include <map>

#include <gtest/gtest.h>

#include "support/unreadable_rows.h"

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
  EXPECT_EQ(
      seen[0].second,
      R"({"type":"delta","view":"v","version":1,"since":0,"position":10,"rows":[{"k":"a","n":1}]})");
  EXPECT_EQ(seen[1].first, 2u);
  EXPECT_EQ(
      seen[2].second,
      R"({"type":"delta","view":"v","version":3,"since":2,"position":13,"rows":[],"deleted":[{"k":"b","n":1}]})");
  EXPECT_EQ(view.row_count(), 1u);
  EXPECT_NE(view.SnapshotJson()->find(R"("version":3)"), std::string::npos);
}

TEST(View, ForEachRowVisitsTheRowsOfOneVersionInKeyOrder) {
  View view(Def());
  view.Apply({{"b", R"({"k":"b","n":1})"}, {"a", R"({"k":"a","n":2})"}}, 5);
  std::vector<std::string> rows;
  EXPECT_EQ(view.ForEachRow([&](const std::string& row) { rows.push_back(row); }).value(), 1u);
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

// Committed rows held in a map; commits are applied by the test, as the checkpoint store would.
class FakeCommittedRows : public CommittedRows {
 public:
  class MapCursor : public Cursor {
   public:
    explicit MapCursor(std::map<std::string, std::string> rows) : rows_(std::move(rows)) {}
    void Seek(std::string_view key) override { it_ = rows_.lower_bound(std::string(key)); }
    bool Valid() const override { return it_ != rows_.end(); }
    void Next() override { ++it_; }
    std::string_view key() const override { return it_->first; }
    std::string_view row() const override { return it_->second; }
    Status status() const override { return Status::Ok(); }

   private:
    std::map<std::string, std::string> rows_;  // a snapshot: later commits don't show
    std::map<std::string, std::string>::const_iterator it_ = rows_.end();
  };

  Result<std::optional<std::string>> Get(std::string_view key) const override {
    ++gets;
    auto it = rows.find(std::string(key));
    if (it == rows.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  std::unique_ptr<Cursor> Open() const override { return std::make_unique<MapCursor>(rows); }

  void Commit(const SealedRows& sealed) {
    for (const auto& [key, row] : sealed.rows) {
      if (row.empty()) {
        rows.erase(key);
      } else {
        rows[key] = row;
      }
    }
  }

  std::map<std::string, std::string> rows;
  mutable int gets = 0;
};

std::vector<std::string> KeysOf(const View& view, std::string_view from = {},
                                std::string_view to = {}) {
  std::vector<std::string> keys;
  Result<uint64_t> version = view.ScanRows(from, to, [&](std::string_view key, std::string_view) {
    keys.emplace_back(key);
    return true;
  });
  EXPECT_TRUE(version.ok());
  return keys;
}

TEST(View, StoreBackedViewMergesItsChangesOverTheCommittedRows) {
  auto committed = std::make_shared<FakeCommittedRows>();
  committed->rows = {{"a", R"({"k":"a","n":1})"}, {"c", R"({"k":"c","n":1})"}};
  View view(Def(), /*restoring=*/true);
  view.UseStore(committed, 2);
  view.Reset({}, 7);
  EXPECT_TRUE(view.store_backed());
  EXPECT_EQ(view.row_count(), 2u);
  EXPECT_EQ(view.version(), 7u);

  std::vector<std::string> deltas;
  view.Subscribe(
      [&](uint64_t, const std::shared_ptr<const std::string>& d) { deltas.push_back(*d); }, {});
  view.Apply({{"b", R"({"k":"b","n":1})"}, {"c", R"({"k":"c","n":2})"}}, 1);
  view.Apply({{"a", ""}}, 2);  // a committed row: its last contents come from the store
  ASSERT_EQ(deltas.size(), 2u);
  EXPECT_NE(deltas[1].find(R"("deleted":[{"k":"a","n":1}])"), std::string::npos);
  EXPECT_EQ(view.row_count(), 2u);  // b new, c updated, a deleted
  EXPECT_EQ(KeysOf(view), (std::vector<std::string>{"b", "c"}));
  EXPECT_NE(view.SnapshotJson()->find(R"({"k":"c","n":2})"), std::string::npos);

  // Sealed rows stay visible until committed; changes after the seal go on top of them.
  SealedRows sealed = view.SealForCommit();
  EXPECT_EQ(sealed.rows.size(), 3u);
  EXPECT_EQ(sealed.row_count, 2u);
  view.Apply({{"d", R"({"k":"d","n":1})"}}, 3);
  EXPECT_EQ(KeysOf(view), (std::vector<std::string>{"b", "c", "d"}));
  committed->Commit(sealed);
  view.CommitSealed();
  EXPECT_EQ(committed->rows.size(), 2u);
  EXPECT_EQ(KeysOf(view), (std::vector<std::string>{"b", "c", "d"}));
  EXPECT_EQ(view.row_count(), 3u);

  // A range reads only its keys, from both layers.
  EXPECT_EQ(KeysOf(view, "c", "d"), (std::vector<std::string>{"c"}));
  EXPECT_EQ(KeysOf(view, "b"), (std::vector<std::string>{"b", "c", "d"}));
  EXPECT_EQ(KeysOf(view, "c\xff"), (std::vector<std::string>{"d"}));
}

TEST(View, SnapshotsReadAKeyRangeAndFailRatherThanMissRows) {
  auto committed = std::make_shared<FakeCommittedRows>();
  committed->rows = {{"a", R"({"k":"a","n":1})"}, {"c", R"({"k":"c","n":1})"}};
  View view(Def(), /*restoring=*/true);
  view.UseStore(committed, 2);
  view.Reset({}, 7);
  view.Apply({{"b", R"({"k":"b","n":1})"}}, 1);
  uint64_t version = 0;
  Result<std::string> range = view.SnapshotJson({}, &version, "b", "c");
  ASSERT_TRUE(range.ok()) << range.status().ToString();
  EXPECT_EQ(version, 8u);
  EXPECT_NE(range->find(R"("version":8)"), std::string::npos);
  EXPECT_NE(range->find(R"("rows":[{"k":"b","n":1}]})"), std::string::npos) << *range;
  Result<std::string> filtered = view.SnapshotJson(
      [](std::string_view row) { return row.find(R"("k":"c")") != std::string_view::npos; });
  ASSERT_TRUE(filtered.ok());
  EXPECT_NE(filtered->find(R"("rows":[{"k":"c","n":1}]})"), std::string::npos) << *filtered;

  // Stored rows that cannot be read: an error, not a snapshot without them.
  View unreadable(Def(), /*restoring=*/true);
  unreadable.UseStore(std::make_shared<test_support::UnreadableRows>(), 3);
  unreadable.Reset({}, 1);
  Result<std::string> failed = unreadable.SnapshotJson();
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("the disk is gone"), std::string::npos);
}

TEST(View, AKnownPriorRowCountsWithoutReadingTheStore) {
  auto committed = std::make_shared<FakeCommittedRows>();
  committed->rows = {{"a", R"({"k":"a","n":1})"}};
  View view(Def(), /*restoring=*/true);
  view.UseStore(committed, 1);
  view.Reset({}, 1);
  using Prior = RowChange::Prior;
  view.Apply(
      {{"a", R"({"k":"a","n":2})", Prior::kPresent}, {"b", R"({"k":"b","n":1})", Prior::kAbsent}},
      1);
  EXPECT_EQ(committed->gets, 0);
  EXPECT_EQ(view.row_count(), 2u);
  view.Apply({{"c", R"({"k":"c","n":1})"}}, 2);  // unknown: read back to count it
  EXPECT_EQ(committed->gets, 1);
  EXPECT_EQ(view.row_count(), 3u);
  EXPECT_EQ(KeysOf(view), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(View, AFailedCommitKeepsItsRowsForTheNextSeal) {
  auto committed = std::make_shared<FakeCommittedRows>();
  View view(Def());
  view.UseStore(committed, 0);
  view.Apply({{"a", R"({"k":"a","n":1})"}, {"b", R"({"k":"b","n":1})"}}, 1);
  SealedRows first = view.SealForCommit();
  ASSERT_EQ(first.rows.size(), 2u);
  // The commit failed: no CommitSealed(). A newer change to a and a delete of b follow.
  view.Apply({{"a", R"({"k":"a","n":2})"}, {"b", ""}}, 2);
  SealedRows retry = view.SealForCommit();
  ASSERT_EQ(retry.rows.size(), 2u);
  EXPECT_EQ(retry.rows[0], (std::pair<std::string, std::string>{"a", R"({"k":"a","n":2})"}));
  EXPECT_EQ(retry.rows[1], (std::pair<std::string, std::string>{"b", ""}));
  EXPECT_EQ(retry.row_count, 1u);
  committed->Commit(retry);
  view.CommitSealed();
  EXPECT_EQ(committed->rows, (std::map<std::string, std::string>{{"a", R"({"k":"a","n":2})"}}));
  EXPECT_EQ(KeysOf(view), (std::vector<std::string>{"a"}));
}

TEST(View, AScanStopsWhenTheCallerSaysSo) {
  auto committed = std::make_shared<FakeCommittedRows>();
  committed->rows = {{"a", "{}"}, {"b", "{}"}, {"c", "{}"}};
  View view(Def());
  view.UseStore(committed, 3);
  int seen = 0;
  ASSERT_TRUE(
      view.ScanRows({}, {}, [&](std::string_view, std::string_view) { return ++seen < 2; }).ok());
  EXPECT_EQ(seen, 2);
}

}  // namespace
}  // namespace sluice::store
