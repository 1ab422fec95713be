#include "ingest/event_parser.h"

#include <gtest/gtest.h>

#include "base/time.h"

namespace sluice::ingest {
namespace {

// Parses `text` from a buffer with simdjson padding after it, as the server provides.
Status ParseOne(EventParser& parser, std::string text, EventFields& out) {
  text.reserve(text.size() + simdjson::SIMDJSON_PADDING);
  return parser.Parse(text, out);
}

TEST(SplitBody, NdjsonSkipsBlankLinesAndTrims) {
  std::vector<RecordSlice> out;
  ASSERT_TRUE(SplitBody("{\"a\":1}\n\n  {\"b\":2}  \r\n{\"c\":3}", BodyFormat::kNdjson, out).ok());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].bytes, "{\"a\":1}");
  EXPECT_EQ(out[1].bytes, "{\"b\":2}");
  EXPECT_EQ(out[1].index, 1u);
  EXPECT_EQ(out[2].bytes, "{\"c\":3}");
}

TEST(SplitBody, ArrayElementsWithNestingAndStrings) {
  std::vector<RecordSlice> out;
  std::string body = R"( [ {"a":[1,2,{"x":"],}"}]}, {"b":"\"quoted\", ]"} ,{"c":{}} ] )";
  ASSERT_TRUE(SplitBody(body, BodyFormat::kJson, out).ok());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].bytes, R"({"a":[1,2,{"x":"],}"}]})");
  EXPECT_EQ(out[1].bytes, R"({"b":"\"quoted\", ]"})");
  EXPECT_EQ(out[2].bytes, R"({"c":{}})");
}

TEST(SplitBody, EmptyArrayAndErrors) {
  std::vector<RecordSlice> out;
  EXPECT_TRUE(SplitBody("[]", BodyFormat::kJson, out).ok());
  EXPECT_TRUE(out.empty());
  auto st = SplitBody(R"([{"event_id":"a")", BodyFormat::kJson, out);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("missing closing ']'"), std::string::npos);
  EXPECT_FALSE(SplitBody("[{},,{}]", BodyFormat::kJson, out).ok());
  EXPECT_FALSE(SplitBody("[{}] trailing", BodyFormat::kJson, out).ok());
  EXPECT_FALSE(SplitBody("   \n ", BodyFormat::kNdjson, out).ok());
}

TEST(SplitBody, JsonContentTypeAcceptsSingleObjectAndNdjson) {
  std::vector<RecordSlice> out;
  ASSERT_TRUE(SplitBody("{\"a\":1}\n{\"b\":2}", BodyFormat::kJson, out).ok());
  EXPECT_EQ(out.size(), 2u);
}

TEST(EventParser, ExtractsFieldsAndValidatesEverything) {
  EventParser parser({});
  EventFields f;
  ASSERT_TRUE(
      ParseOne(
          parser,
          R"({"event_id":"e-1","event_type":"pick.completed","lines":[{"sku":"A","qty":2}],"occurred_at":"2026-11-25T08:30:00Z","amount":1e3,"ok":true,"n":null})",
          f)
          .ok());
  EXPECT_EQ(f.id, "e-1");
  EXPECT_EQ(f.event_time_micros, ParseRfc3339("2026-11-25T08:30:00Z").value());
  EXPECT_EQ(f.partition_hash, StableHash("e-1"));
}

TEST(EventParser, PartitionKeyFieldWhenPresent) {
  EventParser parser({"event_id", "occurred_at", "order_id"});
  EventFields f;
  ASSERT_TRUE(
      ParseOne(parser,
               R"({"order_id":"ORD-9","event_id":"e-1","occurred_at":"2026-11-25T08:30:00Z"})", f)
          .ok());
  EXPECT_EQ(f.partition_hash, StableHash("ORD-9"));
  ASSERT_TRUE(
      ParseOne(parser, R"({"event_id":"e-2","occurred_at":"2026-11-25T08:30:00Z"})", f).ok());
  EXPECT_EQ(f.partition_hash, StableHash("e-2"));
}

struct BadCase {
  const char* json;
  const char* expected_fragment;
};

TEST(EventParser, RejectsWithPreciseErrors) {
  const BadCase cases[] = {
      {R"({"occurred_at":"2026-11-25T08:30:00Z"})", "missing required field 'event_id'"},
      {R"({"event_id":"a"})", "missing required field 'occurred_at'"},
      {R"({"event_id":7,"occurred_at":"2026-11-25T08:30:00Z"})", "'event_id' must be a string"},
      {R"({"event_id":"","occurred_at":"2026-11-25T08:30:00Z"})", "must not be empty"},
      {R"({"event_id":"a","occurred_at":"2026-13-01T00:00:00Z"})", "field 'occurred_at'"},
      {R"({"event_id":"a","occurred_at":1732521600})", "RFC 3339 date-time string"},
      {R"([1,2])", "not a JSON object"},
      {R"("just a string")", "not a JSON object"},
      {R"({"event_id":"a", tru})", "invalid JSON"},
      {R"({"event_id":"a","occurred_at":"2026-11-25T08:30:00Z","x":tru})", "invalid JSON"},
      {R"({"event_id":"a","occurred_at":"2026-11-25T08:30:00Z","x":[1,}]})", "invalid JSON"},
      {R"({"event_id":"a","occurred_at":"2026-11-25T08:30:00Z"} {"b":1})", "invalid JSON"},
      {R"({"event_id":"a","occurred_at":"2026-11-25T08:30:00Z","x":nul})", "invalid JSON"},
      {R"({"event_id":"a","event_id":"b","occurred_at":"2026-11-25T08:30:00Z"})",
       "duplicate key 'event_id'"},
      {"{\"event_id\":\"a\xff\",\"occurred_at\":\"2026-11-25T08:30:00Z\"}", "invalid JSON"},
  };
  EventParser parser({});
  for (const BadCase& c : cases) {
    EventFields f;
    Status st = ParseOne(parser, c.json, f);
    EXPECT_FALSE(st.ok()) << c.json;
    EXPECT_NE(st.message().find(c.expected_fragment), std::string::npos)
        << c.json << " -> " << st.message();
  }
  // The parser recovers after errors.
  EventFields f;
  EXPECT_TRUE(
      ParseOne(parser, R"({"event_id":"ok","occurred_at":"2026-11-25T08:30:00Z"})", f).ok());
}

// Found by the fuzzer: an error raised before the document was iterated used to ask simdjson
// for a location it did not have (null pointer read).
TEST(EventParser, ErrorBeforeIterationHasNoLocation) {
  EventParser parser({});
  EventFields f;
  Status st =
      ParseOne(parser, std::string("{\"event_id\":\"a\",\"occur\0\0red_at\":\"2026-1", 30), f);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("invalid JSON"), std::string::npos) << st.message();
}

TEST(EventParser, DeepNestingIsRejectedNotCrashing) {
  std::string deep = R"({"event_id":"a","occurred_at":"2026-11-25T08:30:00Z","x":)";
  for (int i = 0; i < 5000; ++i) deep += '[';
  for (int i = 0; i < 5000; ++i) deep += ']';
  deep += '}';
  EventParser parser({});
  EventFields f;
  EXPECT_FALSE(ParseOne(parser, deep, f).ok());
}

TEST(EventParser, ValidatesAgainstTheSchemaInTheSamePass) {
  auto schema = schema::CompileJsonSchema(R"({
    "type": "object",
    "required": ["event_id", "amount_minor"],
    "properties": {"amount_minor": {"type": "integer"}, "order_id": {"type": "string"}}
  })");
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  EventParser parser({"event_id", "occurred_at", "order_id"}, schema.value(), 42);
  EXPECT_EQ(parser.schema_id(), 42u);
  EventFields f;
  ASSERT_TRUE(ParseOne(parser,
                       R"({"event_id":"e1","occurred_at":"2026-11-25T08:30:00Z",)"
                       R"("order_id":"o-7","amount_minor":100})",
                       f)
                  .ok());
  EXPECT_EQ(f.id, "e1");
  EXPECT_EQ(f.partition_hash, StableHash("o-7"));  // partitioned by the key, not the id
  Status st = ParseOne(
      parser, R"({"event_id":"e2","occurred_at":"2026-11-25T08:30:00Z","amount_minor":1.5})", f);
  EXPECT_EQ(st.message(), "/amount_minor: 1.5 is not of type integer") << st.message();
  st = ParseOne(parser, R"({"event_id":"e3","occurred_at":"2026-11-25T08:30:00Z"})", f);
  EXPECT_NE(st.message().find("missing required property 'amount_minor'"), std::string::npos)
      << st.message();
  // The engine's own fields are still checked when the schema does not mention them.
  st = ParseOne(parser, R"({"event_id":"e4","amount_minor":1})", f);
  EXPECT_EQ(st.message(), "missing required field 'occurred_at'");
}

}  // namespace
}  // namespace sluice::ingest
