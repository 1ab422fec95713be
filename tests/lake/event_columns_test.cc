#include "lake/event_columns.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <new>

#include "lake/parquet_reader.h"

// Counts heap allocations while `counting` is set (the hot path must not allocate per event).
// GCC 12 flags free() in a replaced operator delete as mismatched once it inlines the pair.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
thread_local bool counting = false;
thread_local size_t allocations = 0;
}  // namespace

void* operator new(size_t size) {
  if (counting) ++allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}

namespace sluice::lake {
namespace {

std::vector<EventColumn> FulfilmentColumns() {
  return {
      {"event_id", "", ColumnType::kString},
      {"qty", "", ColumnType::kInt64},
      {"weight", "", ColumnType::kDouble},
      {"express", "", ColumnType::kBool},
      {"occurred_at", "", ColumnType::kTimestampMicros},
      {"amount", "amount", ColumnType::kDecimal, 18, 2},
      {"city", "customer.address.city", ColumnType::kString},
  };
}

// Appends `events` through EventColumns into a writer, and reads the file back.
struct Table {
  std::vector<ColumnBuffer> columns;
  EventCounters counters;
};

Table Convert(const std::vector<std::string>& events,
              std::vector<EventColumn> columns = FulfilmentColumns()) {
  auto ec = EventColumns::Make(std::move(columns));
  EXPECT_TRUE(ec.ok()) << ec.status().ToString();
  auto writer = ParquetWriter::OpenBuffer((*ec)->specs());
  EXPECT_TRUE(writer.ok());
  std::vector<std::string_view> views(events.begin(), events.end());
  Status st = (*ec)->AppendBatch(views, **writer);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE((*writer)->Close().ok());
  auto reader = ParquetReader::Open((*writer)->buffer());
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  Table t;
  t.counters = (*ec)->counters();
  for (size_t c = 0; c < reader->info().columns.size(); ++c) {
    t.columns.emplace_back(reader->info().columns[c].type);
    if (reader->info().row_groups.empty()) continue;
    EXPECT_TRUE(reader->ReadColumn(0, c, t.columns.back()).ok());
  }
  return t;
}

TEST(EventColumns, TypedColumnsNullsAndRaw) {
  std::vector<std::string> events = {
      R"({"event_id":"evt-1","qty":3,"weight":1.25,"express":true,"occurred_at":"2026-11-25T08:30:00.123Z","amount":12.30,"customer":{"name":"Zoë","address":{"city":"Zürich"}}})",
      R"({"event_id":"evt-2","qty":null,"occurred_at":"2026-11-25T09:30:00+01:00","amount":"7"})",
      R"({"customer":{"address":{"city":"東京 🚚"}},"event_id":"evt-3","express":false,"weight":-0.5})",
  };
  Table t = Convert(events);
  ASSERT_EQ(t.columns.size(), 8u);
  ASSERT_EQ(t.columns[0].size(), 3u);
  EXPECT_EQ(t.columns[0].StringAt(0), "evt-1");
  EXPECT_EQ(t.columns[0].StringAt(2), "evt-3");
  EXPECT_EQ(t.columns[1].Int64At(0), 3);
  EXPECT_TRUE(t.columns[1].IsNull(1));
  EXPECT_TRUE(t.columns[1].IsNull(2));
  EXPECT_EQ(t.columns[2].DoubleAt(0), 1.25);
  EXPECT_EQ(t.columns[2].DoubleAt(2), -0.5);
  EXPECT_TRUE(t.columns[3].BoolAt(0));
  EXPECT_FALSE(t.columns[3].BoolAt(2));
  EXPECT_TRUE(t.columns[3].IsNull(1));
  EXPECT_EQ(t.columns[4].Int64At(0), 1'795'595'400'123'000);
  EXPECT_EQ(t.columns[4].Int64At(1), 1'795'595'400'000'000);
  EXPECT_EQ(t.columns[5].Int64At(0), 1230);
  EXPECT_EQ(t.columns[5].Int64At(1), 700);
  EXPECT_TRUE(t.columns[5].IsNull(2));
  EXPECT_EQ(t.columns[6].StringAt(0), "Zürich");
  EXPECT_TRUE(t.columns[6].IsNull(1));
  EXPECT_EQ(t.columns[6].StringAt(2), "東京 🚚");
  for (size_t k = 0; k < events.size(); ++k) EXPECT_EQ(t.columns[7].StringAt(k), events[k]);
  EXPECT_EQ(t.counters.events, 3);
  EXPECT_EQ(t.counters.invalid_events, 0);
  for (int64_t m : t.counters.type_mismatches) EXPECT_EQ(m, 0);
}

TEST(EventColumns, WrongTypesAreNullAndCounted) {
  std::vector<std::string> events = {
      R"({"event_id":7,"qty":"3","weight":"x","express":1,"occurred_at":"yesterday","amount":12.345,"customer":{"address":"flat"}})",
      R"({"event_id":"e","qty":1.5,"weight":true,"express":"true","occurred_at":1700000000,"amount":{"v":1}})",
      R"({"qty":99999999999999999999,"amount":1e30})",
  };
  Table t = Convert(events);
  for (size_t c = 0; c < 7; ++c) {
    for (size_t k = 0; k < events.size(); ++k) {
      if (c == 0 && k == 1) continue;
      EXPECT_TRUE(t.columns[c].IsNull(k)) << "column " << c << " row " << k;
    }
  }
  EXPECT_EQ(t.columns[0].StringAt(1), "e");
  EXPECT_EQ(t.counters.type_mismatches,
            (std::vector<int64_t>{1, 3, 2, 2, 2, 3, 0}));  // "flat" is not an object: missing
  EXPECT_EQ(t.columns[7].StringAt(0), events[0]);
}

TEST(EventColumns, InvalidEventsKeepTheirRaw) {
  std::vector<std::string> events = {
      R"({"event_id":"ok","qty":1})",
      R"({"event_id":"half","qty":2,"weight":)",
      R"([1,2,3])",
      "not json",
      std::string("{\"event_id\":\"bad\xff\"}"),
      R"({"event_id":"ok2"})",
  };
  Table t = Convert(events);
  ASSERT_EQ(t.columns[0].size(), events.size());
  EXPECT_EQ(t.columns[0].StringAt(0), "ok");
  EXPECT_EQ(t.columns[0].StringAt(5), "ok2");
  for (size_t k = 1; k <= 4; ++k) {
    EXPECT_TRUE(t.columns[0].IsNull(k)) << k;
    EXPECT_TRUE(t.columns[1].IsNull(k)) << k;
  }
  EXPECT_EQ(t.counters.invalid_events, 4);
  EXPECT_EQ(t.columns[7].StringAt(1), events[1]);
  EXPECT_EQ(t.columns[7].StringAt(3), "not json");
  EXPECT_EQ(t.columns[7].StringAt(4), "{\"event_id\":\"bad\xEF\xBF\xBD\"}");
}

TEST(EventColumns, DuplicateAndEscapedKeys) {
  std::vector<std::string> events = {
      R"({"event_id":"first","event_id":"second","qty":1,"qty":2})",
      R"({"event\u005fid":"escaped","customer":{"address":{"city":"A"}},"customer":{"address":{"city":"B"}}})",
  };
  Table t = Convert(events);
  EXPECT_EQ(t.columns[0].StringAt(0), "first");
  EXPECT_EQ(t.columns[1].Int64At(0), 1);
  EXPECT_EQ(t.columns[0].StringAt(1), "escaped");
  EXPECT_EQ(t.columns[6].StringAt(1), "A");
}

TEST(EventColumns, StringsWithEscapes) {
  Table t = Convert({R"({"event_id":"tab\there \"quoted\" \u00e9 \ud83d\ude9a"})"});
  EXPECT_EQ(t.columns[0].StringAt(0), "tab\there \"quoted\" é 🚚");
}

TEST(EventColumns, AppendingAllocatesNothingPerEvent) {
  auto ec = EventColumns::Make(FulfilmentColumns());
  ASSERT_TRUE(ec.ok());
  WriterOptions options;
  options.page_bytes = 1;  // every commit cuts a page: the buffers empty, keeping their capacity
  auto writer = ParquetWriter::OpenBuffer((*ec)->specs(), options);
  ASSERT_TRUE(writer.ok());
  const std::string event =
      R"({"event_id":"evt-1","qty":3,"weight":1.25,"express":true,"occurred_at":"2026-11-25T08:30:00.123Z","amount":"12.30","customer":{"name":"Zo\u00eb","address":{"city":"Z\u00fcrich"}},"note":"x"})";
  for (int i = 0; i < 1000; ++i) (*ec)->Append(event, **writer);  // buffers grow
  ASSERT_TRUE((*writer)->CommitRows().ok());
  ASSERT_EQ((*writer)->column(0).size(), 0u);
  allocations = 0;
  counting = true;
  for (int i = 0; i < 1000; ++i) (*ec)->Append(event, **writer);
  counting = false;
  EXPECT_EQ(allocations, 0u);
  ASSERT_TRUE((*writer)->CommitRows().ok());
  EXPECT_EQ((*ec)->counters().invalid_events, 0);
}

TEST(EventColumns, InvalidColumnListsAreRejected) {
  EXPECT_FALSE(EventColumns::Make({{"_raw"}}).ok());
  EXPECT_FALSE(EventColumns::Make({{"a", "x..y"}}).ok());
  EXPECT_FALSE(EventColumns::Make({{"a", "x."}}).ok());
  EXPECT_FALSE(EventColumns::Make({{"a", "x"}, {"b", "x.y"}}).ok());
  EXPECT_FALSE(EventColumns::Make({{"a", "x.y"}, {"b", "x"}}).ok());
  EXPECT_FALSE(EventColumns::Make({{"a", "x"}, {"b", "x"}}).ok());
  EXPECT_FALSE(EventColumns::Make({{"a", "x"}, {"a", "y"}}).ok());
  EXPECT_FALSE(EventColumns::Make({{"m", "", ColumnType::kDecimal, 20, 2}}).ok());
  EXPECT_TRUE(EventColumns::Make({{"a", "x.y"}, {"b", "x.z"}}).ok());
  EXPECT_TRUE(EventColumns::Make({}).ok());  // raw only
}

TEST(ParseDecimal, ExactFromDigits) {
  int64_t v = 0;
  struct Case {
    const char* text;
    int precision, scale;
    bool ok;
    int64_t value;
  };
  const Case cases[] = {
      {"12.30", 18, 2, true, 1230},
      {"12.3", 18, 2, true, 1230},
      {"12", 18, 2, true, 1200},
      {"-0.5", 18, 2, true, -50},
      {"+7.00", 18, 2, true, 700},
      {"0.1", 18, 2, true, 10},
      {"1.5e2", 18, 2, true, 15000},
      {"1E-2", 18, 2, true, 1},
      {"125e-3", 18, 2, false, 0},
      {"120e-3", 18, 2, true, 12},
      {"12.345", 18, 2, false, 0},
      {"12.3400", 18, 2, true, 1234},
      {"0.000", 18, 2, true, 0},
      {"0e999999", 18, 2, true, 0},
      {"9999999999999999.99", 18, 2, true, 999999999999999999},
      {"99999999999999999.99", 18, 2, false, 0},
      {"999.99", 5, 2, true, 99999},
      {"1000.00", 5, 2, false, 0},
      {"00012.5", 5, 2, true, 1250},
      {"-92233720368547758.07", 18, 2, false, 0},
      {"", 18, 2, false, 0},
      {"-", 18, 2, false, 0},
      {".5", 18, 2, true, 50},
      {"5.", 18, 2, false, 0},
      {"1e", 18, 2, false, 0},
      {"1x", 18, 2, false, 0},
      {"0.1e1", 18, 0, true, 1},
  };
  for (const Case& c : cases) {
    v = 0;
    EXPECT_EQ(ParseDecimal(c.text, c.precision, c.scale, v), c.ok) << c.text;
    if (c.ok) {
      EXPECT_EQ(v, c.value) << c.text;
    }
  }
}

}  // namespace
}  // namespace sluice::lake
