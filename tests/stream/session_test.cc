// SESSION windows in the Aggregator: merging in any arrival order (against a reference computed
// here from the sorted events), re-keying and deleting merged-away rows, on_close, retention,
// expiry of idle sessions and checkpoint / restore.
#include <algorithm>
#include <limits>
#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "base/time.h"
#include "sql/event_fields.h"
#include "sql/parser.h"
#include "sql/planner.h"
#include "stream/aggregation.h"
#include "support/one_stream_catalog.h"

namespace sluice::stream {
namespace {

using test_support::OneStream;

Result<sql::ViewPlan> TryPlan(std::string_view sql_text) {
  auto statements = sql::Parse(sql_text);
  if (!statements.ok()) return statements.status();
  const auto& create = std::get<sql::CreateMaterializedView>(statements->at(0).node);
  OneStream catalog;
  return sql::PlanView(create, catalog);
}

constexpr int64_t kSecond = kMicrosPerSecond;
const int64_t kT0 = ParseRfc3339("2026-11-25T08:00:00Z").value();

// One aggregator fed JSON events, its view kept as a map of row key -> row JSON.
class Session {
 public:
  explicit Session(std::string_view sql_text) {
    auto plan = TryPlan(sql_text);
    EXPECT_TRUE(plan.ok()) << plan.status().ToString();
    plan_ = *plan;
    Init();
  }

  void Init() {
    fields_ = sql::FieldSet();
    auto created = Aggregator::Create(plan_, fields_);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    aggregator_ = std::move(created).value();
    extractor_ = std::make_unique<sql::EventFieldExtractor>(fields_);
  }

  DropReason Add(const std::string& order, int64_t t, int64_t amount = 1) {
    // A negative amount stands for a missing one (NULL).
    const std::string json = R"({"order_id":")" + order + R"(","amount":)" +
                             (amount < 0 ? "null" : std::to_string(amount)) + R"(,"event_id":"e)" +
                             std::to_string(next_id_++) + "\"}";
    const simdjson::padded_string padded(json);
    EXPECT_TRUE(extractor_->Extract(std::string_view(padded.data(), padded.size())).ok());
    return aggregator_->Add(extractor_->values(), t);
  }

  // Applies the pending changes to view(); returns them.
  std::vector<store::RowChange> Round() {
    std::vector<store::RowChange> changes;
    aggregator_->TakeChanges(changes);
    for (const store::RowChange& c : changes) {
      if (c.row_json.empty()) {
        EXPECT_EQ(view_.erase(c.key), 1u) << "deleted a row the view did not have";
      } else {
        view_[c.key] = c.row_json;
      }
    }
    return changes;
  }

  void Checkpoint() {
    std::vector<std::pair<std::string, std::string>> changes;
    aggregator_->TakeCheckpointChanges(changes);
    for (auto& [k, v] : changes) {
      if (v.empty()) {
        state_.erase(k);
      } else {
        state_[k] = v;
      }
    }
    meta_ = aggregator_->Meta();
  }

  // A new operator from the last Checkpoint(), its view reset to the restored rows.
  void Restart() {
    Init();
    const Status restored = aggregator_->Restore(state_, meta_);
    ASSERT_TRUE(restored.ok()) << restored.ToString();
    view_ = aggregator_->Rows();
  }

  std::set<std::string> RowSet() const {
    std::set<std::string> rows;
    for (const auto& [k, v] : view_) rows.insert(v);
    return rows;
  }

  Aggregator& aggregator() { return *aggregator_; }
  const std::map<std::string, std::string>& view() const { return view_; }
  const std::map<std::string, std::string>& state() const { return state_; }

 private:
  sql::ViewPlan plan_;
  sql::FieldSet fields_;
  std::unique_ptr<Aggregator> aggregator_;
  std::unique_ptr<sql::EventFieldExtractor> extractor_;
  std::map<std::string, std::string> view_;
  std::map<std::string, std::string> state_;
  std::string meta_;
  int next_id_ = 0;
};

std::string Row(const std::string& order, int64_t start, int64_t end, int n) {
  return R"({"order_id":")" + order + R"(","window_start":")" + FormatRfc3339(start) +
         R"(","window_end":")" + FormatRfc3339(end) + R"(","n":)" + std::to_string(n) + "}";
}

constexpr std::string_view kCountSessions =
    "CREATE MATERIALIZED VIEW s AS SELECT order_id, window_start, window_end, count(*) AS n "
    "FROM SESSION(fulfilment, occurred_at, INTERVAL '60' SECOND) "
    "GROUP BY order_id, window_start, window_end";

TEST(SessionTest, EventsWithinTheGapShareASession) {
  Session s(kCountSessions);
  s.Add("A", kT0);
  s.Add("A", kT0 + 59 * kSecond);
  s.Add("A", kT0 + 119 * kSecond);  // 60 s after the previous one: exactly the gap, a new session
  s.Add("B", kT0 + 10 * kSecond);
  s.Round();
  EXPECT_EQ(s.RowSet(), (std::set<std::string>{
                            Row("A", kT0, kT0 + 119 * kSecond, 2),
                            Row("A", kT0 + 119 * kSecond, kT0 + 179 * kSecond, 1),
                            Row("B", kT0 + 10 * kSecond, kT0 + 70 * kSecond, 1),
                        }));
}

TEST(SessionTest, AnEventBetweenTwoSessionsMergesThemAndDeletesTheMergedRow) {
  Session s(kCountSessions);
  s.Add("A", kT0);
  s.Add("A", kT0 + 100 * kSecond);
  s.Round();
  ASSERT_EQ(s.view().size(), 2u);
  // [50, 110) overlaps [0, 60) and [100, 160): one session [0, 160).
  s.Add("A", kT0 + 50 * kSecond);
  const std::vector<store::RowChange> changes = s.Round();
  EXPECT_EQ(changes.size(), 2u);  // the merged session's row, and the delete of the other one
  EXPECT_EQ(s.RowSet(), std::set<std::string>{Row("A", kT0, kT0 + 160 * kSecond, 3)});
  // An earlier event moves the start: the row moves to a new key.
  s.Add("A", kT0 - 30 * kSecond);
  s.Round();
  EXPECT_EQ(s.RowSet(),
            std::set<std::string>{Row("A", kT0 - 30 * kSecond, kT0 + 160 * kSecond, 4)});
  EXPECT_EQ(s.aggregator().group_count(), 1u);
  // The checkpoint holds the one session left.
  s.Checkpoint();
  EXPECT_EQ(s.state().size(), 1u);
}

// The reference: per key, the events sorted by time, split where the next event is at least
// `gap` after the previous one.
struct RefSession {
  int64_t start, last;
  int64_t n = 0, sum = 0, min = 0, max = 0;
  std::set<int64_t> distinct;
  int64_t first_amount = 0, last_amount = 0;
};

// Many short sessions per key arriving out of order, rounds at irregular points: the view
// equals the sessions of the sorted events (the shape of a per-warehouse burst view).
TEST(SessionTest, ManySessionsPerKeyOutOfOrder) {
  std::mt19937_64 rng(11);
  for (int gap : {1, 4, 9}) {
    Session s(
        "CREATE MATERIALIZED VIEW s AS SELECT order_id, window_start, window_end, "
        "count(*) AS n, count(DISTINCT amount) AS d FROM SESSION(fulfilment, occurred_at, "
        "INTERVAL '" +
        std::to_string(gap) + "' SECOND) GROUP BY order_id, window_start, window_end");
    std::map<std::string, std::set<int64_t>> times;
    for (int i = 0; i < 20000; ++i) {
      // Some events without a value to count: sessions whose distinct set is empty merge too.
      const std::string key = "W" + std::to_string(rng() % 6);
      // Mostly forward in time, jittered by up to 3 minutes back.
      const int64_t t = kT0 + static_cast<int64_t>(i) * 200'000 -
                        static_cast<int64_t>(rng() % 180'000'000) * (rng() % 2);
      if (!times[key].insert(t).second) continue;
      s.Add(key, t, static_cast<int64_t>(rng() % 6) - 1);
      if (rng() % 50 == 0) s.Round();
      if (rng() % 3000 == 0) s.Checkpoint();
    }
    s.Round();
    size_t expected = 0;
    for (const auto& [key, ts] : times) {
      int64_t last = std::numeric_limits<int64_t>::min();
      for (int64_t t : ts) {
        if (last == std::numeric_limits<int64_t>::min() || t - last >= gap * kSecond) ++expected;
        last = t;
      }
    }
    EXPECT_EQ(s.view().size(), expected) << "gap " << gap;
    EXPECT_EQ(s.aggregator().group_count(), expected) << "gap " << gap;
  }
}

TEST(SessionTest, AnyArrivalOrderGivesTheSessionsOfTheSortedEvents) {
  constexpr std::string_view kSql =
      "CREATE MATERIALIZED VIEW s AS SELECT order_id, window_start, window_end, count(*) AS n, "
      "sum(amount) AS total, min(amount) AS lo, max(amount) AS hi, "
      "count(DISTINCT amount) AS amounts, first_value(amount) AS first_amount, "
      "last_value(amount) AS last_amount, approx_count_distinct(event_id) AS events, "
      "approx_percentile(amount, 0.5) AS median "
      "FROM SESSION(fulfilment, occurred_at, INTERVAL '30' SECOND) "
      "GROUP BY order_id, window_start, window_end";
  std::mt19937_64 rng(7);
  struct Event {
    std::string order;
    int64_t t, amount;
  };
  std::vector<Event> events;
  for (int i = 0; i < 3000; ++i) {
    // Few keys and a span where gaps of 30 s are common: many sessions, many merges.
    events.push_back({"O" + std::to_string(rng() % 7),
                      kT0 + static_cast<int64_t>(rng() % 3600) * kSecond +
                          static_cast<int64_t>(rng() % 1000) * 1000,
                      static_cast<int64_t>(rng() % 50)});
  }
  // Distinct times per key (first/last_value ties would be broken by value: fine, but the
  // reference below is simpler without them).
  std::map<std::string, std::map<int64_t, int64_t>> by_key;
  for (const Event& e : events) by_key[e.order].emplace(e.t, e.amount);
  std::map<std::string, std::vector<RefSession>> expected;
  for (const auto& [order, points] : by_key) {
    std::vector<RefSession>& list = expected[order];
    for (const auto& [t, amount] : points) {
      if (list.empty() || t - list.back().last >= 30 * kSecond) {
        list.push_back(RefSession{t, t});
        list.back().min = list.back().max = amount;
        list.back().first_amount = amount;
      }
      RefSession& r = list.back();
      r.last = t;
      ++r.n;
      r.sum += amount;
      r.min = std::min(r.min, amount);
      r.max = std::max(r.max, amount);
      r.distinct.insert(amount);
      r.last_amount = amount;
    }
  }
  size_t expected_sessions = 0;
  for (const auto& [order, list] : expected) expected_sessions += list.size();

  std::vector<std::set<std::string>> results;
  for (int order = 0; order < 3; ++order) {
    std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> feed;
    for (const auto& [o, points] : by_key)
      for (const auto& p : points) feed.push_back({o, p});
    if (order == 1) std::reverse(feed.begin(), feed.end());
    if (order == 2) std::shuffle(feed.begin(), feed.end(), rng);
    Session s(kSql);
    for (size_t i = 0; i < feed.size(); ++i) {
      s.Add(feed[i].first, feed[i].second.first, feed[i].second.second);
      if (i % 97 == 0) s.Round();
      if (i % 1000 == 0) {
        s.Checkpoint();
        s.Restart();
      }
    }
    s.Round();
    EXPECT_EQ(s.aggregator().group_count(), expected_sessions);
    EXPECT_EQ(s.view().size(), expected_sessions);
    results.push_back(s.RowSet());
    // Every row agrees with the reference.
    simdjson::dom::parser parser;
    size_t checked = 0;
    for (const auto& [order_id, list] : expected) {
      for (const RefSession& r : list) {
        bool found = false;
        for (const std::string& row : results.back()) {
          simdjson::dom::element doc = parser.parse(row);
          if (std::string_view(doc["order_id"]) != order_id ||
              std::string_view(doc["window_start"]) != FormatRfc3339(r.start))
            continue;
          found = true;
          EXPECT_EQ(std::string_view(doc["window_end"]), FormatRfc3339(r.last + 30 * kSecond));
          EXPECT_EQ(int64_t(doc["n"]), r.n);
          EXPECT_EQ(int64_t(doc["total"]), r.sum);
          EXPECT_EQ(int64_t(doc["lo"]), r.min);
          EXPECT_EQ(int64_t(doc["hi"]), r.max);
          EXPECT_EQ(int64_t(doc["amounts"]), static_cast<int64_t>(r.distinct.size()));
          EXPECT_EQ(int64_t(doc["first_amount"]), r.first_amount);
          EXPECT_EQ(int64_t(doc["last_amount"]), r.last_amount);
          EXPECT_NEAR(double(int64_t(doc["events"])), double(r.n), 0.07 * double(r.n) + 1);
          ++checked;
        }
        EXPECT_TRUE(found) << order_id << " " << FormatRfc3339(r.start);
      }
    }
    EXPECT_EQ(checked, expected_sessions);
  }
  // Sketches merged in different orders may differ in the approximate columns only; the exact
  // ones were checked above. In-order and reversed feeds agree exactly on the exact columns.
  ASSERT_EQ(results.size(), 3u);
}

TEST(SessionTest, OnCloseEmitsASessionOnceAndDropsEventsThatWouldReopenIt) {
  Session s(
      "CREATE MATERIALIZED VIEW s WITH (emit = 'on_close', allowed_lateness = '10 seconds') AS "
      "SELECT order_id, window_start, window_end, count(*) AS n "
      "FROM SESSION(fulfilment, occurred_at, INTERVAL '60' SECOND) "
      "GROUP BY order_id, window_start, window_end");
  // The watermark is the largest event time - 5 s (the stream's default delay).
  EXPECT_EQ(s.Add("A", kT0), DropReason::kNone);
  EXPECT_EQ(s.Add("A", kT0 + 30 * kSecond), DropReason::kNone);   // session [0, 90)
  EXPECT_EQ(s.Add("B", kT0 + 104 * kSecond), DropReason::kNone);  // watermark 99: still open
  s.Round();
  EXPECT_TRUE(s.view().empty());
  EXPECT_EQ(s.Add("B", kT0 + 105 * kSecond), DropReason::kNone);  // watermark 100 = 90 + 10
  s.Round();
  EXPECT_EQ(s.RowSet(), std::set<std::string>{Row("A", kT0, kT0 + 90 * kSecond, 2)});
  // [80, 140) would merge with the closed session: dropped.
  EXPECT_EQ(s.Add("A", kT0 + 80 * kSecond), DropReason::kWindowClosed);
  // [40, 100) is not closed itself (100 + 10 > 100) but overlaps the closed session: dropped.
  EXPECT_EQ(s.Add("A", kT0 + 40 * kSecond), DropReason::kWindowClosed);
  // [95, 155) does not touch [0, 90): a new session.
  EXPECT_EQ(s.Add("A", kT0 + 95 * kSecond), DropReason::kNone);
  EXPECT_EQ(s.aggregator().dropped_events(), 2u);
  s.Round();
  EXPECT_EQ(s.view().size(), 1u);
}

TEST(SessionTest, ClosedSessionsLeaveMemoryButNotTheViewOrTheCheckpoint) {
  Session s(
      "CREATE MATERIALIZED VIEW s WITH (emit = 'on_close') AS "
      "SELECT order_id, window_start, window_end, count(*) AS n "
      "FROM SESSION(fulfilment, occurred_at, INTERVAL '60' SECOND) "
      "GROUP BY order_id, window_start, window_end");
  for (int i = 0; i < 100; ++i) s.Add("K" + std::to_string(i), kT0 + i * kSecond);
  s.Round();
  EXPECT_EQ(s.aggregator().group_count(), 100u);
  // Watermark 08:10: every session ended by 08:02:39, closed and past end + gap.
  s.Add("late-riser", kT0 + 605 * kSecond);
  s.Round();
  EXPECT_EQ(s.view().size(), 100u);
  EXPECT_EQ(s.aggregator().group_count(), 1u);  // only the open one
  s.Checkpoint();
  EXPECT_EQ(s.state().size(), 101u);  // the expired sessions keep their checkpoint entries
  const std::map<std::string, std::string> before = s.view();
  s.Restart();
  EXPECT_EQ(s.view(), before);
  EXPECT_EQ(s.aggregator().group_count(), 1u);
  // An event that could have belonged to an expired session is dropped, not a new session.
  EXPECT_EQ(s.Add("K5", kT0 + 10 * kSecond), DropReason::kWindowClosed);
}

TEST(SessionTest, RetentionPurgesSessionsAndDropsEventsOlderThanIt) {
  Session s(
      "CREATE MATERIALIZED VIEW s WITH (retention = '2 minutes') AS "
      "SELECT order_id, window_start, window_end, count(*) AS n "
      "FROM SESSION(fulfilment, occurred_at, INTERVAL '60' SECOND) "
      "GROUP BY order_id, window_start, window_end");
  s.Add("A", kT0);  // [0, 60)
  s.Add("B", kT0 + 100 * kSecond);
  s.Round();
  EXPECT_EQ(s.view().size(), 2u);
  s.Add("B", kT0 + 150 * kSecond);
  s.Round();
  s.Checkpoint();
  EXPECT_EQ(s.state().size(), 2u);
  s.Add("C", kT0 + 186 * kSecond);  // watermark 181 > 60 + 120: A is purged
  s.Round();
  EXPECT_EQ(s.RowSet(), (std::set<std::string>{
                            Row("B", kT0 + 100 * kSecond, kT0 + 210 * kSecond, 2),
                            Row("C", kT0 + 186 * kSecond, kT0 + 246 * kSecond, 1),
                        }));
  EXPECT_EQ(s.aggregator().group_count(), 2u);
  // An event more than the retention behind could belong to a purged session: dropped.
  EXPECT_EQ(s.Add("A", kT0 + 30 * kSecond), DropReason::kWindowPurged);
  EXPECT_EQ(s.Add("D", kT0 + 60 * kSecond), DropReason::kWindowPurged);
  s.Checkpoint();
  EXPECT_EQ(s.state().size(), 2u);  // A's entry deleted, C's added
  EXPECT_EQ(s.state().count(s.view().begin()->first), 1u);
}

TEST(SessionTest, OnUpdateSessionsSurviveARestart) {
  Session s(kCountSessions);
  s.Add("A", kT0);
  s.Add("A", kT0 + 100 * kSecond);
  s.Round();
  s.Checkpoint();
  s.Restart();
  s.Add("A", kT0 + 50 * kSecond);  // bridges the two restored sessions
  s.Round();
  EXPECT_EQ(s.RowSet(), std::set<std::string>{Row("A", kT0, kT0 + 160 * kSecond, 3)});
  s.Checkpoint();
  EXPECT_EQ(s.state().size(), 1u);
}

TEST(SessionTest, PlannerChecksSessionViews) {
  EXPECT_TRUE(TryPlan(kCountSessions).ok());
  EXPECT_TRUE(TryPlan("CREATE MATERIALIZED VIEW s AS SELECT order_id, window_start, count(*) AS n "
                      "FROM SESSION(fulfilment PARTITION BY order_id, occurred_at, "
                      "INTERVAL '1' MINUTE) GROUP BY order_id, window_start")
                  .ok());
  auto partition = TryPlan(
      "CREATE MATERIALIZED VIEW s AS SELECT order_id, window_start, count(*) AS n "
      "FROM SESSION(fulfilment PARTITION BY warehouse_id, occurred_at, INTERVAL '1' MINUTE) "
      "GROUP BY order_id, window_start");
  ASSERT_FALSE(partition.ok());
  EXPECT_NE(partition.status().message().find("keyed by the view's GROUP BY keys"),
            std::string::npos)
      << partition.status().message();
  auto where = TryPlan(
      "CREATE MATERIALIZED VIEW s AS SELECT order_id, window_start, count(*) AS n "
      "FROM SESSION(fulfilment, occurred_at, INTERVAL '1' MINUTE) "
      "WHERE window_end > TIMESTAMP '2026-01-01 00:00:00' GROUP BY order_id, window_start");
  ASSERT_FALSE(where.ok());
  EXPECT_NE(where.status().message().find("line 1, column"), std::string::npos);
  auto gap = TryPlan(
      "CREATE MATERIALIZED VIEW s AS SELECT order_id, window_start, count(*) AS n "
      "FROM SESSION(fulfilment, occurred_at, INTERVAL '0' SECOND) GROUP BY order_id, "
      "window_start");
  EXPECT_FALSE(gap.ok());
}

}  // namespace
}  // namespace sluice::stream
