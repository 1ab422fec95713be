#include "store/delta_log.h"

#include <stdexcept>

#include <gtest/gtest.h>

namespace sluice::store {
namespace {

ViewDefinition Def() {
  return {"v", {"k", "n"}, {"k"}, "SELECT …"};
}

// A view whose structured deltas are collected, as the WebSocket hub does.
struct Recorder {
  View view{Def()};
  std::vector<std::shared_ptr<const ViewDelta>> deltas;
  uint64_t registered = 0;
  Recorder() {
    view.SubscribeChanges([this](const auto& d) { deltas.push_back(d); },
                          [this](uint64_t v) { registered = v; });
  }
};

std::string Coalesce(const std::vector<std::shared_ptr<const ViewDelta>>& deltas,
                     const RowPredicate& filter = {}) {
  const CoalescedChanges c = CoalesceDeltas(deltas, filter);
  return DeltaJson("v", deltas.back()->version, deltas.front()->version - 1,
                   deltas.back()->position, deltas.size() > 1, c);
}

TEST(ViewChanges, StructuredDeltasCarryKeysRowsAndDeletedRows) {
  Recorder r;
  r.view.Apply({{"a", R"({"k":"a","n":1})"}, {"b", R"({"k":"b","n":1})"}}, 7);
  r.view.Apply({{"a", ""}, {"zz", ""}}, 8);  // deleting an absent key is no change
  ASSERT_EQ(r.deltas.size(), 2u);
  EXPECT_EQ(r.deltas[0]->version, 1u);
  EXPECT_EQ(r.deltas[0]->position, 7u);
  ASSERT_EQ(r.deltas[1]->changes.size(), 1u);
  EXPECT_TRUE(r.deltas[1]->changes[0].deleted);
  EXPECT_EQ(r.deltas[1]->changes[0].row_json, R"({"k":"a","n":1})");
  EXPECT_EQ(
      *r.deltas[1]->text,
      R"({"type":"delta","view":"v","version":2,"since":1,"position":8,"rows":[],"deleted":[{"k":"a","n":1}]})");
  r.view.Drop();
  ASSERT_EQ(r.deltas.size(), 3u);
  EXPECT_TRUE(r.deltas[2]->dropped);
  EXPECT_EQ(*r.deltas[2]->text, R"({"type":"dropped","view":"v"})");
}

TEST(ViewChanges, RestoringViewRegistersAtReset) {
  View view(Def(), /*restoring=*/true);
  uint64_t registered = 0;
  bool called = false;
  view.SubscribeChanges([](const auto&) {},
                        [&](uint64_t v) {
                          registered = v;
                          called = true;
                        });
  EXPECT_FALSE(called);
  view.Reset({{"a", R"({"k":"a","n":5})"}}, 41);
  EXPECT_TRUE(called);
  EXPECT_EQ(registered, 41u);
}

TEST(Coalesce, LastRowPerKeyAndDeletesNotReupserted) {
  Recorder r;
  r.view.Apply({{"a", R"({"k":"a","n":1})"}, {"b", R"({"k":"b","n":1})"}}, 1);  // v1
  r.view.Apply({{"a", R"({"k":"a","n":2})"}, {"c", R"({"k":"c","n":1})"}}, 2);  // v2
  r.view.Apply({{"b", ""}, {"c", ""}}, 3);                                      // v3
  r.view.Apply({{"c", R"({"k":"c","n":9})"}}, 4);  // v4: c deleted, then upserted again
  // Everything: a upserted twice (last wins), b deleted, c re-upserted.
  EXPECT_EQ(
      Coalesce(r.deltas),
      R"({"type":"delta","view":"v","version":4,"since":0,"coalesced":true,"position":4,"rows":[{"k":"a","n":2},{"k":"c","n":9}],"deleted":[{"k":"b","n":1}]})");
  // v2..v3: c created and deleted within the span: a deletion (harmless for a client without it).
  EXPECT_EQ(
      Coalesce({r.deltas[1], r.deltas[2]}),
      R"({"type":"delta","view":"v","version":3,"since":1,"coalesced":true,"position":3,"rows":[{"k":"a","n":2}],"deleted":[{"k":"b","n":1},{"k":"c","n":1}]})");
  // Applying the coalesced delta to the snapshot at `since` gives the snapshot at `version`.
  std::map<std::string, std::string> state;  // v0: empty
  const CoalescedChanges all = CoalesceDeltas(r.deltas);
  for (const std::string* row : all.rows) state[row->substr(6, 1)] = *row;
  for (const std::string* row : all.deleted) state.erase(row->substr(6, 1));
  std::vector<std::string> expected;
  ASSERT_TRUE(r.view.ForEachRow([&](const std::string& row) { expected.push_back(row); }).ok());
  std::vector<std::string> got;
  for (const auto& [k, row] : state) got.push_back(row);
  EXPECT_EQ(got, expected);
}

TEST(Coalesce, FilterKeepsMatchingRowsOnlyAndMayLeaveNothing) {
  Recorder r;
  r.view.Apply({{"a", R"({"k":"a","n":1})"}, {"b", R"({"k":"b","n":1})"}}, 1);
  r.view.Apply({{"b", ""}}, 2);
  const RowPredicate only_a = [](std::string_view row) {
    return row.find(R"("k":"a")") != std::string_view::npos;
  };
  EXPECT_EQ(
      Coalesce(r.deltas, only_a),
      R"({"type":"delta","view":"v","version":2,"since":0,"coalesced":true,"position":2,"rows":[{"k":"a","n":1}]})");
  EXPECT_TRUE(CoalesceDeltas({r.deltas[1]}, only_a).empty());
}

TEST(DeltaLog, CursorsCoverWhatIsRetained) {
  Recorder r;
  DeltaLog log(/*max_deltas=*/3);
  log.Reset(0);
  for (int i = 1; i <= 5; ++i) {
    r.view.Apply({{"a", R"({"k":"a","n":)" + std::to_string(i) + "}"}}, i);
    log.Append(r.deltas.back());
  }
  EXPECT_EQ(log.size(), 3u);
  EXPECT_EQ(log.last_version(), 5u);
  EXPECT_FALSE(log.Covers(1));  // needs v2, evicted
  EXPECT_TRUE(log.Covers(2));
  EXPECT_TRUE(log.Covers(5));
  EXPECT_FALSE(log.Covers(6));
  std::vector<std::shared_ptr<const ViewDelta>> out;
  log.CollectAfter(3, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]->version, 4u);
  EXPECT_EQ(out[1]->version, 5u);
  EXPECT_EQ(log.TextBytesAfter(5), 0u);
  EXPECT_EQ(log.TextBytesAfter(3), out[0]->text->size() + out[1]->text->size());
  EXPECT_EQ(log.TextBytesAfter(2), r.deltas[2]->text->size() + log.TextBytesAfter(3));
  out.clear();
  log.CollectAfter(2, out, 2);  // the first two only
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]->version, 3u);
  EXPECT_EQ(out[1]->version, 4u);
  out.clear();
  log.CollectAfter(5, out);
  EXPECT_TRUE(out.empty());
  EXPECT_THROW(log.CollectAfter(1, out), std::logic_error);
  EXPECT_THROW(log.Append(r.deltas[1]), std::logic_error);  // a gap / an old version
  log.Reset(100);
  EXPECT_TRUE(log.Covers(100));
  EXPECT_FALSE(log.Covers(5));
}

TEST(DeltaLog, ByteBoundEvictsButKeepsTheNewest) {
  Recorder r;
  const std::string big(1000, 'x');
  for (int i = 1; i <= 4; ++i) r.view.Apply({{"a", R"({"k":"a","s":")" + big + R"("})"}}, i);
  DeltaLog log(/*max_deltas=*/100, /*max_bytes=*/2500);
  log.Reset(0);
  for (const auto& d : r.deltas) log.Append(d);
  EXPECT_EQ(log.size(), 1u);  // each delta is > 2000 bytes (row + text)
  EXPECT_LE(log.bytes(), 2 * r.deltas.back()->bytes());
  EXPECT_TRUE(log.Covers(3));
  EXPECT_FALSE(log.Covers(2));
}

}  // namespace
}  // namespace sluice::store
