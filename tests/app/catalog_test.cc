#include "app/catalog.h"

#include <filesystem>
#include <future>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace sluice::app {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// A catalog over a temporary data directory, with everything it needs; Restart() closes and
// reopens it as a process restart would.
class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sluice-catalog-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    config_.data_dir = dir_.string();
    config_.log_partitions = 2;
    Open();
  }
  void TearDown() override {
    Close();
    fs::remove_all(dir_);
  }

  // `before_restore`: see Catalog::Dependencies (set = do not wait for the views' restore).
  void Open(std::function<void(const std::string&)> before_restore = {}) {
    fs::create_directories(dir_ / "streams");
    views_ = std::make_unique<store::ViewRegistry>();
    ingestor_ = std::make_unique<ingest::Ingestor>(syncer_, clock_, metrics_);
    checkpoints_ = stream::CheckpointStore::Open((dir_ / "state").string()).value();
    Catalog::Dependencies deps;
    deps.config = &config_;
    deps.clock = &clock_;
    deps.metrics = &metrics_;
    deps.syncer = &syncer_;
    deps.ingestor = ingestor_.get();
    deps.views = views_.get();
    deps.checkpoints = checkpoints_.get();
    const bool wait = !before_restore;
    deps.before_restore = std::move(before_restore);
    auto catalog = Catalog::Open(deps, DefaultCatalogSql());
    ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
    catalog_ = std::move(catalog).value();
    if (wait) catalog_->WaitUntilRestored();
  }
  void Close() {
    catalog_.reset();
    ingestor_.reset();
    checkpoints_.reset();
    views_.reset();
  }
  void Restart() {
    Close();
    Open();
  }

  // Executes `sql`, expecting `status`; returns the parsed answer.
  Json Run(std::string_view sql, int status = 200) {
    server::SqlAnswer answer = catalog_->Execute(sql);
    EXPECT_EQ(answer.status, status) << sql << "\n" << answer.body;
    return Json::parse(answer.body);
  }

  std::vector<std::string> Names(std::string_view show) {
    std::vector<std::string> names;
    const Json answer = Run(show);
    for (const Json& row : answer["results"][0]["rows"]) names.push_back(row[0]);
    return names;
  }

  fs::path dir_;
  Config config_;
  SystemClock clock_;
  MetricsRegistry metrics_;
  log::Syncer syncer_;
  std::unique_ptr<store::ViewRegistry> views_;
  std::unique_ptr<ingest::Ingestor> ingestor_;
  std::unique_ptr<stream::CheckpointStore> checkpoints_;
  std::unique_ptr<Catalog> catalog_;
};

// The embedded default's view and its rollup tiers.
const std::vector<std::string> kDefaultViews = {"events_per_minute", "events_per_minute_1d",
                                                "events_per_minute_1h"};

TEST_F(CatalogTest, ANewCatalogHoldsTheEmbeddedDefault) {
  EXPECT_EQ(Names("SHOW STREAMS"), std::vector<std::string>{"fulfilment"});
  EXPECT_EQ(Names("SHOW VIEWS"), kDefaultViews);
  EXPECT_TRUE(ingestor_->HasStream("fulfilment"));
  ASSERT_NE(views_->Find("events_per_minute"), nullptr);
  EXPECT_EQ(views_->Find("events_per_minute")->definition().columns,
            (std::vector<std::string>{"warehouse_id", "event_type", "window_start", "events",
                                      "amount_minor"}));
  const Json described = Run("DESCRIBE fulfilment")["results"][0];
  EXPECT_EQ(described["kind"], "stream");
  EXPECT_EQ(described["options"]["watermark_delay"], "5 seconds");
  EXPECT_EQ(described["options"]["partition_key"], "order_id");
  EXPECT_EQ(described["options"]["partitions"], 2);
}

TEST_F(CatalogTest, DefinitionsSurviveARestart) {
  const Json created =
      Run("CREATE STREAM orders WITH (event_time = 'placed_at', watermark_delay = '2 seconds');\n"
          "CREATE MATERIALIZED VIEW orders_per_hour AS SELECT window_start, count(*) AS n\n"
          "  FROM TUMBLE(orders, placed_at, INTERVAL '1' HOUR) GROUP BY window_start");
  ASSERT_EQ(created["results"].size(), 2u);
  EXPECT_EQ(created["results"][1]["columns"], Json({"window_start", "n"}));
  EXPECT_EQ(created["results"][1]["key"], Json({"window_start"}));
  Restart();
  EXPECT_EQ(Names("SHOW STREAMS"), (std::vector<std::string>{"fulfilment", "orders"}));
  EXPECT_EQ(Names("SHOW VIEWS"),
            (std::vector<std::string>{"events_per_minute", "events_per_minute_1d",
                                      "events_per_minute_1h", "orders_per_hour"}));
  EXPECT_TRUE(ingestor_->HasStream("orders"));
  const Json described = Run("DESCRIBE orders_per_hour")["results"][0];
  EXPECT_EQ(described["sql"],
            "CREATE MATERIALIZED VIEW orders_per_hour AS SELECT window_start, count(*) AS n FROM "
            "TUMBLE(orders, placed_at, INTERVAL '1' HOUR) GROUP BY window_start");
  EXPECT_EQ(described["options"]["watermark_delay"], "2 seconds");
}

// After a restart views restore in the background: meanwhile a query of one answers 503, SHOW
// VIEWS shows its lag as null, and it can be dropped; the others answer at once.
TEST_F(CatalogTest, ViewsRestoreInTheBackgroundAfterARestart) {
  Run("CREATE MATERIALIZED VIEW per_type AS SELECT event_type, count(*) AS n FROM fulfilment "
      "GROUP BY event_type");
  Run("CREATE MATERIALIZED VIEW per_order AS SELECT order_id, count(*) AS n FROM fulfilment "
      "GROUP BY order_id");
  Close();
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> first_started;
  bool first = true;
  Open([&](const std::string&) {
    if (std::exchange(first, false)) first_started.set_value();
    released.wait();
  });
  first_started.get_future().wait();  // events_per_minute (defined first) is restoring now
  Run("SELECT * FROM per_type", 503);
  const Json views = Run("SHOW VIEWS")["results"][0];
  for (const Json& row : views["rows"]) EXPECT_TRUE(row[6].is_null()) << row.dump();
  EXPECT_EQ(views_->Find("per_type")->Available().code(), StatusCode::kUnavailable);
  Run("DROP VIEW per_order");  // still queued: it never joins the pipeline
  release.set_value();
  catalog_->WaitUntilRestored();
  EXPECT_EQ(Run("SELECT count(*) AS c FROM per_type")["results"][0]["rows"][0][0], 0);
  EXPECT_EQ(Names("SHOW VIEWS"),
            (std::vector<std::string>{"events_per_minute", "events_per_minute_1d",
                                      "events_per_minute_1h", "per_type"}));
  for (const Json& row : Run("SHOW VIEWS")["results"][0]["rows"]) EXPECT_EQ(row[6], 0);
  Restart();
  EXPECT_EQ(Names("SHOW VIEWS"),
            (std::vector<std::string>{"events_per_minute", "events_per_minute_1d",
                                      "events_per_minute_1h", "per_type"}));
}

// Rollup tiers are views of their own (queried, listed), created, restored and dropped with
// their base view.
TEST_F(CatalogTest, RollupTiersComeAndGoWithTheirView) {
  Run("CREATE MATERIALIZED VIEW per_type WITH (retention = '30 days', rollups = '1 hour after "
      "1 day') AS SELECT event_type, window_start, count(*) AS n FROM TUMBLE(fulfilment, "
      "occurred_at, INTERVAL '1' MINUTE) GROUP BY event_type, window_start");
  ASSERT_NE(views_->Find("per_type_1h"), nullptr);
  Json shown = Run("SHOW VIEWS")["results"][0];
  for (const Json& row : shown["rows"]) {
    if (row[0] == "per_type_1h") {
      EXPECT_EQ(row[2], "TUMBLE 1 hour");
      EXPECT_EQ(row[7], "30 days");
      EXPECT_EQ(row[8], "per_type");
    }
    if (row[0] == "per_type") {
      EXPECT_EQ(row[7], "1 day");
    }
  }
  Json refused = Run("DROP MATERIALIZED VIEW per_type_1h", 409);
  EXPECT_NE(refused.dump().find("is a rollup of per_type"), std::string::npos) << refused.dump();
  Run("CREATE MATERIALIZED VIEW per_type WITH (rollups = '1 hour after 1 day') AS SELECT "
      "window_start, count(*) AS n FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) "
      "GROUP BY window_start",
      409);
  Restart();
  catalog_->WaitUntilRestored();
  ASSERT_NE(views_->Find("per_type_1h"), nullptr);
  EXPECT_TRUE(views_->Find("per_type_1h")->Available().ok());
  Run("DROP MATERIALIZED VIEW per_type");
  EXPECT_EQ(views_->Find("per_type_1h"), nullptr);
  EXPECT_EQ(Names("SHOW VIEWS"), kDefaultViews);
  Restart();
  EXPECT_EQ(Names("SHOW VIEWS"), kDefaultViews);
}

// A view whose checkpoint cannot be read stays defined but failed: its queries answer 500 with
// the reason, the other views serve, and it can be dropped.
TEST_F(CatalogTest, AViewWhoseCheckpointIsDamagedFailsAloneAndCanBeDropped) {
  Run("CREATE MATERIALIZED VIEW per_type AS SELECT event_type, count(*) AS n FROM fulfilment "
      "GROUP BY event_type");
  catalog_->Start();
  Close();  // stopping the pipelines writes every view's checkpoint
  {
    auto store = stream::CheckpointStore::Open((dir_ / "state").string()).value();
    const std::vector<std::string> pipelines = store->Pipelines().value();
    std::string id;
    for (const std::string& p : pipelines)
      if (p.starts_with("per_type@")) id = p;
    ASSERT_FALSE(id.empty());
    ASSERT_TRUE(store->Commit(id, {{"\x01not a group key", "x"}}, {0, 0}, 1, "").ok());
  }
  Open();
  const Json failed = Run("SELECT * FROM per_type", 500);
  EXPECT_NE(failed["error"].get<std::string>().find("could not be restored"), std::string::npos)
      << failed.dump();
  EXPECT_EQ(views_->Find("per_type")->Available().code(), StatusCode::kInternal);
  EXPECT_TRUE(views_->Find("events_per_minute")->Available().ok());
  Run("DROP VIEW per_type");
  EXPECT_EQ(Names("SHOW VIEWS"), kDefaultViews);
}

TEST_F(CatalogTest, ErrorsCarryLineColumnAndTheStatementIndex) {
  Json error = Run("SHOW VIEWS;\nCREATE MATERIALIZED VIEW v AS SELECT count(*)\n  FROM nope", 400);
  EXPECT_EQ(error["error"], "line 3, column 8: unknown stream 'nope'");
  EXPECT_EQ(error["line"], 3);
  EXPECT_EQ(error["column"], 8);
  EXPECT_EQ(error["statement"], 1);
  EXPECT_EQ(error["results"].size(), 1u);  // SHOW VIEWS ran

  error = Run("SELECT FROM", 400);
  EXPECT_EQ(error["line"], 1);
  EXPECT_FALSE(error.contains("statement"));  // a parse error: nothing ran

  error = Run("CREATE STREAM fulfilment", 409);
  EXPECT_EQ(error["error"], "line 1, column 15: stream 'fulfilment' already exists");
  EXPECT_EQ(Run("CREATE STREAM IF NOT EXISTS fulfilment")["results"][0]["created"], false);
  error = Run("DROP MATERIALIZED VIEW fulfilment", 404);
  EXPECT_EQ(error["error"],
            "line 1, column 24: materialized view 'fulfilment' does not exist; it is a stream: "
            "DROP STREAM fulfilment");
  EXPECT_EQ(Run("DROP VIEW IF EXISTS nope")["results"][0]["dropped"], false);
}

TEST_F(CatalogTest, AStreamWithViewsCannotBeDropped) {
  const Json error = Run("DROP STREAM fulfilment", 409);
  EXPECT_EQ(error["error"],
            "line 1, column 13: cannot drop stream 'fulfilment': materialized view "
            "events_per_minute reads it; drop it first");
  Run("DROP MATERIALIZED VIEW events_per_minute; DROP STREAM fulfilment");
  EXPECT_TRUE(Names("SHOW STREAMS").empty());
  EXPECT_FALSE(ingestor_->HasStream("fulfilment"));
  EXPECT_EQ(views_->Find("events_per_minute"), nullptr);
  Restart();
  EXPECT_TRUE(Names("SHOW STREAMS").empty());
  EXPECT_TRUE(Names("SHOW VIEWS").empty());
  EXPECT_FALSE(fs::exists(dir_ / "streams" / "fulfilment"));
}

TEST_F(CatalogTest, AStreamDroppedAndCreatedAgainStartsEmpty) {
  Run("CREATE STREAM s; CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n FROM s");
  std::string event = R"({"event_id":"a","occurred_at":"2026-11-25T08:00:00Z"})";
  event.reserve(event.size() + 64);
  std::promise<Result<ingest::IngestAnswer>> posted;
  ingestor_->Ingest("s", ingest::BodyFormat::kNdjson, event, {},
                    [&](Result<ingest::IngestAnswer> a) { posted.set_value(std::move(a)); });
  ASSERT_TRUE(posted.get_future().get().ok());
  EXPECT_EQ(Run("SHOW STREAMS")["results"][0]["rows"][1][6], 1);  // events
  Run("DROP MATERIALIZED VIEW v; DROP STREAM s; CREATE STREAM s");
  EXPECT_EQ(Run("SHOW STREAMS")["results"][0]["rows"][1][6], 0);
  Restart();
  EXPECT_EQ(Names("SHOW STREAMS"), (std::vector<std::string>{"fulfilment", "s"}));
  EXPECT_EQ(Run("SHOW STREAMS")["results"][0]["rows"][1][6], 0);
}

}  // namespace
}  // namespace sluice::app
