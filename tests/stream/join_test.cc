// Reference tables and the join operators (view_operator.h): lookup joins, interval joins,
// state bounds and checkpoints.
#include <filesystem>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "base/time.h"
#include "sql/event_fields.h"
#include "sql/parser.h"
#include "sql/planner.h"
#include "stream/reference_table.h"
#include "stream/view_operator.h"

namespace sluice::stream {
namespace {

namespace fs = std::filesystem;

const int64_t kT0 = ParseRfc3339("2026-11-25T08:00:00Z").value();

class Catalog : public sql::PlannerCatalog {
 public:
  Catalog() {
    stream_.name = "fulfilment";
    stream_.watermark_delay_micros = 5 * kMicrosPerSecond;
  }
  const sql::StreamSpec* FindStream(std::string_view name) const override {
    return name == stream_.name ? &stream_ : nullptr;
  }
  std::vector<std::string> StreamNames() const override { return {stream_.name}; }
  bool IsView(std::string_view) const override { return false; }
  const sql::TableSpec* FindTable(std::string_view name) const override {
    auto it = tables_.find(std::string(name));
    return it == tables_.end() ? nullptr : &it->second;
  }
  void AddTable(sql::TableSpec spec) { tables_[spec.name] = std::move(spec); }

 private:
  sql::StreamSpec stream_;
  std::map<std::string, sql::TableSpec> tables_;
};

sql::TableSpec TableOf(std::string_view text) {
  auto statements = sql::Parse(text);
  EXPECT_TRUE(statements.ok()) << statements.status().message();
  auto spec = sql::PlanTable(std::get<sql::CreateTable>(statements->at(0).node));
  EXPECT_TRUE(spec.ok()) << spec.status().message();
  return std::move(spec).value();
}

sql::ViewPlan PlanOf(const Catalog& catalog, std::string_view text) {
  auto statements = sql::Parse(text);
  EXPECT_TRUE(statements.ok()) << statements.status().message();
  auto plan = sql::PlanView(std::get<sql::CreateMaterializedView>(statements->at(0).node), catalog);
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  return std::move(plan).value();
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("sluice-join-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

// An operator with its FieldSet and extractor, fed JSON events.
class Runner {
 public:
  Runner(const sql::ViewPlan& plan, std::shared_ptr<const ReferenceTable> table = nullptr,
         uint32_t partitions = 1) {
    auto op = ViewOperator::Create(plan, fields_, std::move(table), partitions);
    EXPECT_TRUE(op.ok()) << op.status().message();
    op_ = std::move(op).value();
    extractor_ = std::make_unique<sql::EventFieldExtractor>(fields_);
  }
  void Add(const std::string& json, int64_t time, uint32_t partition = 0) {
    std::string padded = json + std::string(64, ' ');
    ASSERT_TRUE(extractor_->Extract(std::string_view(padded.data(), json.size())).ok());
    op_->Add(extractor_->values(), time, partition);
  }
  // The view's rows (key -> row JSON) after applying every change so far.
  std::map<std::string, std::string> Rows() {
    std::vector<store::RowChange> changes;
    op_->TakeChanges(changes);
    return op_->Rows();
  }
  ViewOperator& op() { return *op_; }

 private:
  sql::FieldSet fields_;
  std::unique_ptr<ViewOperator> op_;
  std::unique_ptr<sql::EventFieldExtractor> extractor_;
};

std::string Event(const std::string& warehouse, const std::string& type, int64_t time,
                  const std::string& order = "o1") {
  return R"({"warehouse_id":")" + warehouse + R"(","event_type":")" + type + R"(","order_id":")" +
         order + R"(","occurred_at":")" + FormatRfc3339(time) + "\"}";
}

std::vector<std::string> Values(const std::map<std::string, std::string>& rows) {
  std::vector<std::string> out;
  for (const auto& [k, v] : rows) out.push_back(v);
  return out;
}

// ---- Reference tables -------------------------------------------------------------------------

TEST(ReferenceTableTest, WritesJsonNdjsonAndCsvDurably) {
  TempDir dir;
  auto store = CheckpointStore::Open(dir.path()).value();
  const sql::TableSpec spec = TableOf(
      "CREATE TABLE warehouses (warehouse_id VARCHAR PRIMARY KEY, region VARCHAR, "
      "capacity BIGINT, opened TIMESTAMP, active BOOLEAN)");
  {
    auto table = ReferenceTable::Open(spec, "t@1", *store).value();
    auto answer = table->Write(TableBodyFormat::kJsonArray, R"([
      {"warehouse_id": "WH-01", "region": "north", "capacity": 100},
      {"region": "south"},
      {"warehouse_id": "WH-02", "region": 7},
      {"warehouse_id": "WH-03", "regoin": "east"},
      {"warehouse_id": "WH-04", "region": "west", "opened": "2026-01-02T03:04:05Z",
       "active": true}])");
    ASSERT_TRUE(answer.ok()) << answer.status().message();
    EXPECT_EQ(answer->ToJson(),
              R"({"upserted":2,"deleted":0,"rejected":[)"
              R"({"index":1,"error":"primary key column 'warehouse_id' is missing or null"},)"
              R"({"index":2,"error":"column 'region' is VARCHAR, found an integer"},)"
              R"x({"index":3,"error":"unknown column 'regoin' (the columns of warehouses are: )x"
              R"x(warehouse_id, region, capacity, opened, active)"}]})x");
    auto ndjson = table->Write(TableBodyFormat::kNdjson,
                               "{\"warehouse_id\":\"WH-04\",\"_deleted\":true}\n\n"
                               "{\"warehouse_id\":\"WH-05\",\"capacity\":1.5}\n"
                               "{\"warehouse_id\":\"WH-01\",\"region\":\"north-2\"}\n");
    ASSERT_TRUE(ndjson.ok());
    EXPECT_EQ(ndjson->ToJson(),
              R"({"upserted":1,"deleted":1,"rejected":[)"
              R"({"index":1,"error":"column 'capacity' is BIGINT, found a number"}]})");
    auto csv = table->Write(TableBodyFormat::kCsv,
                            "warehouse_id,region,capacity,active\r\n"
                            "WH-06,\"south, \"\"coast\"\"\",250,yes\r\n"
                            "WH-07,,x,\r\n"
                            "WH-08,\"\",,false\n");
    ASSERT_TRUE(csv.ok()) << csv.status().message();
    EXPECT_EQ(csv->upserted, 2u);
    ASSERT_EQ(csv->rejected.size(), 1u);
    EXPECT_EQ(csv->rejected[0].index, 1u);
    EXPECT_EQ(table->row_count(), 3u);
    auto bad_header = table->Write(TableBodyFormat::kCsv, "warehouse,region\nx,y\n");
    EXPECT_FALSE(bad_header.ok());
  }
  // Reopened from the store: the same rows.
  auto table = ReferenceTable::Open(spec, "t@1", *store).value();
  EXPECT_EQ(table->RowsJson(),
            R"({"table":"warehouses","columns":["warehouse_id","region","capacity","opened",)"
            R"("active"],"primary_key":["warehouse_id"],"rows":[)"
            R"({"warehouse_id":"WH-01","region":"north-2","capacity":null,"opened":null,)"
            R"("active":null},)"
            R"({"warehouse_id":"WH-06","region":"south, \"coast\"","capacity":250,)"
            R"("opened":null,"active":true},)"
            R"({"warehouse_id":"WH-08","region":"","capacity":null,"opened":null,)"
            R"("active":false}]})");
}

// ---- Lookup joins -----------------------------------------------------------------------------

class LookupJoinTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = CheckpointStore::Open(dir_.path()).value();
    spec_ = TableOf("CREATE TABLE warehouses (warehouse_id VARCHAR PRIMARY KEY, region VARCHAR)");
    catalog_.AddTable(spec_);
    table_ = ReferenceTable::Open(spec_, "t@1", *store_).value();
    ASSERT_TRUE(table_
                    ->Write(TableBodyFormat::kJsonArray,
                            R"([{"warehouse_id":"WH-01","region":"north"},)"
                            R"({"warehouse_id":"WH-02","region":"north"},)"
                            R"({"warehouse_id":"WH-03","region":"south"}])")
                    .ok());
  }
  std::string View(std::string_view join) {
    return "CREATE MATERIALIZED VIEW v AS SELECT w.region, window_start, count(*) AS n "
           "FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) AS e " +
           std::string(join) +
           " warehouses AS w ON e.warehouse_id = w.warehouse_id GROUP BY w.region, window_start";
  }

  TempDir dir_;
  std::unique_ptr<CheckpointStore> store_;
  sql::TableSpec spec_;
  Catalog catalog_;
  std::shared_ptr<ReferenceTable> table_;
};

TEST_F(LookupJoinTest, InnerJoinSkipsMissesAndSeesUpdatesFromThenOn) {
  Runner run(PlanOf(catalog_, View("JOIN")), table_);
  run.Add(Event("WH-01", "a", kT0), kT0);
  run.Add(Event("WH-02", "a", kT0 + 1), kT0 + 1);
  run.Add(Event("WH-03", "a", kT0 + 2), kT0 + 2);
  run.Add(Event("WH-09", "a", kT0 + 3), kT0 + 3);  // no such warehouse: skipped
  run.Add(R"({"occurred_at":"x"})", kT0 + 4);      // no key: skipped
  EXPECT_EQ(run.op().lookup_misses(), 2u);
  // Processing time: WH-03 moves; events before the move stay where they were counted.
  ASSERT_TRUE(
      table_->Write(TableBodyFormat::kJsonArray, R"([{"warehouse_id":"WH-03","region":"north"}])")
          .ok());
  run.Add(Event("WH-03", "a", kT0 + 5), kT0 + 5);
  EXPECT_EQ(Values(run.Rows()),
            (std::vector<std::string>{
                R"({"region":"north","window_start":"2026-11-25T08:00:00Z","n":3})",
                R"({"region":"south","window_start":"2026-11-25T08:00:00Z","n":1})"}));
}

TEST_F(LookupJoinTest, LeftJoinKeepsMissesWithNulls) {
  Runner run(PlanOf(catalog_, View("LEFT JOIN")), table_);
  run.Add(Event("WH-01", "a", kT0), kT0);
  run.Add(Event("WH-09", "a", kT0 + 1), kT0 + 1);
  run.Add(R"({"warehouse_id": 3, "occurred_at":"x"})", kT0 + 2);  // a number: no match
  EXPECT_EQ(run.op().lookup_misses(), 0u);
  EXPECT_EQ(Values(run.Rows()),
            (std::vector<std::string>{
                R"({"region":null,"window_start":"2026-11-25T08:00:00Z","n":2})",
                R"({"region":"north","window_start":"2026-11-25T08:00:00Z","n":1})"}));
}

TEST(JoinKeyTest, EqualValuesEncodeEqually) {
  std::string a, b;
  ASSERT_TRUE(AppendJoinKey(a, sql::Value::Bigint(3)));
  ASSERT_TRUE(AppendJoinKey(b, sql::Value::Double(3.0)));
  EXPECT_EQ(a, b);
  a.clear();
  b.clear();
  ASSERT_TRUE(AppendJoinKey(a, sql::Value::Double(-0.0)));
  ASSERT_TRUE(AppendJoinKey(b, sql::Value::Bigint(0)));
  EXPECT_EQ(a, b);
  a.clear();
  b.clear();
  ASSERT_TRUE(AppendJoinKey(a, sql::Value::Varchar("3")));
  ASSERT_TRUE(AppendJoinKey(b, sql::Value::Bigint(3)));
  EXPECT_NE(a, b);
  EXPECT_FALSE(AppendJoinKey(a, sql::Value()));
}

// ---- Interval joins ---------------------------------------------------------------------------

constexpr std::string_view kPickDuration =
    "CREATE MATERIALIZED VIEW pick_duration AS "
    "SELECT s.warehouse_id, window_start, count(*) AS picks, "
    "sum(extract(epoch FROM c.occurred_at - s.occurred_at)) AS seconds "
    "FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' HOUR) AS s "
    "JOIN fulfilment AS c ON s.order_id = c.order_id "
    "AND c.occurred_at BETWEEN s.occurred_at AND s.occurred_at + INTERVAL '2' HOUR "
    "WHERE s.event_type = 'pick.started' AND c.event_type = 'pick.completed' "
    "GROUP BY s.warehouse_id, window_start";

TEST(IntervalJoinTest, PairsWithinTheIntervalInAnyOrder) {
  Catalog catalog;
  Runner run(PlanOf(catalog, kPickDuration));
  const int64_t m = kMicrosPerMinute;
  // o1: completed before started arrives (out of order): still one pair of 10 minutes.
  run.Add(Event("WH-01", "pick.completed", kT0 + 10 * m, "o1"), kT0 + 10 * m);
  run.Add(Event("WH-01", "pick.started", kT0, "o1"), kT0);
  // o2: 30 minutes. o3: completed 3 hours later: outside the interval. o4: completed before it
  // started: outside.
  run.Add(Event("WH-01", "pick.started", kT0 + 1 * m, "o2"), kT0 + 1 * m);
  run.Add(Event("WH-01", "pick.completed", kT0 + 31 * m, "o2"), kT0 + 31 * m);
  run.Add(Event("WH-02", "pick.started", kT0 + 2 * m, "o3"), kT0 + 2 * m);
  run.Add(Event("WH-02", "pick.started", kT0 + 3 * m, "o4"), kT0 + 3 * m);
  run.Add(Event("WH-02", "pick.completed", kT0 + 2 * m, "o4"), kT0 + 2 * m);
  run.Add(Event("WH-02", "pick.completed", kT0 + 182 * m, "o3"), kT0 + 182 * m);
  EXPECT_EQ(run.op().joined_rows(), 2u);
  EXPECT_EQ(Values(run.Rows()),
            (std::vector<std::string>{
                R"({"warehouse_id":"WH-01","window_start":"2026-11-25T08:00:00Z","picks":2,)"
                R"("seconds":2400.0})"}));
}

TEST(IntervalJoinTest, StateIsPurgedBehindTheWatermark) {
  Catalog catalog;
  Runner run(PlanOf(catalog, kPickDuration));
  const int64_t m = kMicrosPerMinute;
  for (int i = 0; i < 100; ++i) {
    const int64_t t = kT0 + i * m;
    run.Add(Event("WH-01", "pick.started", t, "o" + std::to_string(i)), t);
    run.Add(Event("WH-01", "other", t, "o" + std::to_string(i)), t);  // buffered by neither side
  }
  EXPECT_EQ(run.op().buffered_events(), 100u);
  // Five hours later: every started pick is more than 2 hours behind the watermark.
  run.Add(Event("WH-01", "pick.completed", kT0 + 300 * m, "late"), kT0 + 300 * m);
  EXPECT_EQ(run.op().buffered_events(), 1u);  // the completed pick: its partners may come
}

TEST(IntervalJoinTest, APartitionReadAheadPurgesNothingTheOthersNeed) {
  Catalog catalog;
  Runner run(PlanOf(catalog, kPickDuration), nullptr, /*partitions=*/2);
  const int64_t m = kMicrosPerMinute;
  // Partition 0 is read five hours ahead (a backfill reads partition by partition)...
  for (int i = 0; i < 300; i += 10)
    run.Add(Event("WH-01", "other", kT0 + i * m, "p0"), kT0 + i * m, 0);
  // ...then partition 1 from its start: its pair still joins.
  run.Add(Event("WH-02", "pick.started", kT0, "o1"), kT0, 1);
  run.Add(Event("WH-02", "pick.completed", kT0 + 5 * m, "o1"), kT0 + 5 * m, 1);
  EXPECT_EQ(run.op().joined_rows(), 1u);
  // Once partition 1 catches up, the watermark moves and the state is purged.
  run.Add(Event("WH-02", "other", kT0 + 300 * m, "o2"), kT0 + 300 * m, 1);
  EXPECT_EQ(run.op().buffered_events(), 0u);
}

TEST(IntervalJoinTest, CheckpointRestoreContinuesLikeAnUninterruptedRun) {
  Catalog catalog;
  const sql::ViewPlan plan = PlanOf(catalog, kPickDuration);
  std::mt19937 rng(7);
  struct E {
    std::string json;
    int64_t time;
  };
  std::vector<E> events;
  for (int i = 0; i < 400; ++i) {
    const int64_t start = kT0 + static_cast<int64_t>(rng() % 7200) * kMicrosPerSecond;
    const int64_t end = start + static_cast<int64_t>(rng() % 9000) * kMicrosPerSecond;
    const std::string order = "o" + std::to_string(rng() % 150);
    const std::string wh = "WH-0" + std::to_string(rng() % 3);
    events.push_back({Event(wh, "pick.started", start, order), start});
    events.push_back({Event(wh, "pick.completed", end, order), end});
  }
  std::sort(events.begin(), events.end(), [](const E& a, const E& b) { return a.time < b.time; });
  Runner straight(plan);
  for (const E& e : events) straight.Add(e.json, e.time);

  Runner first(plan);
  std::map<std::string, std::string> state;
  auto checkpoint = [&](Runner& r) {
    std::vector<std::pair<std::string, std::string>> changes;
    r.op().TakeCheckpointChanges(changes);
    for (auto& [k, v] : changes) {
      if (v.empty())
        state.erase(k);
      else
        state[k] = v;
    }
    return r.op().Meta();
  };
  for (size_t i = 0; i < 300; ++i) first.Add(events[i].json, events[i].time);
  checkpoint(first);
  for (size_t i = 300; i < 500; ++i) first.Add(events[i].json, events[i].time);
  const std::string meta = checkpoint(first);
  Runner second(plan);
  ASSERT_TRUE(second.op().Restore(state, meta).ok());
  EXPECT_EQ(second.op().buffered_events(), first.op().buffered_events());
  for (size_t i = 500; i < events.size(); ++i) second.Add(events[i].json, events[i].time);
  EXPECT_GT(straight.op().joined_rows(), 100u);
  EXPECT_EQ(second.Rows(), straight.Rows());
}

}  // namespace
}  // namespace sluice::stream
