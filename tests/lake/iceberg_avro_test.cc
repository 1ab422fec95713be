#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "lake/avro.h"

namespace sluice::lake::avro {
namespace {

constexpr const char* kEverySchema = R"({"type":"record","name":"every","fields":[
  {"name":"n","type":"null"},
  {"name":"b","type":"boolean"},
  {"name":"i","type":"int","field-id":7},
  {"name":"l","type":"long"},
  {"name":"f","type":"float"},
  {"name":"d","type":"double"},
  {"name":"by","type":"bytes"},
  {"name":"s","type":"string"},
  {"name":"opt","type":["null","long"],"default":null},
  {"name":"arr","type":{"type":"array","items":"int"}},
  {"name":"m","type":{"type":"map","values":"string"}},
  {"name":"kv","type":["null",{"type":"array","logicalType":"map","items":
      {"type":"record","name":"k1_v2","fields":[{"name":"key","type":"int"},
                                               {"name":"value","type":"bytes"}]}}]},
  {"name":"again","type":"k1_v2"}
]})";

Value EveryRecord(int64_t l, bool with_optional) {
  return Value::Record({
      Value::Null(),
      Value::Boolean(true),
      Value::Int(-123456),
      Value::Long(l),
      Value::Float(1.5f),
      Value::Double(-2.25),
      Value::Bytes(std::string("\x00\xff\x01", 3)),
      Value::String("héllo"),
      with_optional ? Value::Long(42) : Value::Null(),
      Value::Array({Value::Int(1), Value::Int(-1), Value::Int(INT32_MAX)}),
      Value::Map({"a", "b"}, {Value::String("x"), Value::String("")}),
      with_optional ? Value::Array({Value::Record({Value::Int(3), Value::Bytes("abc")})})
                    : Value::Null(),
      Value::Record({Value::Int(9), Value::Bytes("")}),
  });
}

std::string WriteEvery(size_t n, size_t per_block) {
  auto w = AvroWriter::Create(kEverySchema, {{"k", "v"}, {"schema", "{}"}}, per_block);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  for (size_t i = 0; i < n; ++i) {
    EXPECT_TRUE((*w)->Append(EveryRecord(INT64_MIN + static_cast<int64_t>(i), i % 2)).ok());
  }
  return (*w)->Finish();
}

TEST(AvroTest, VarLongZigZag) {
  std::string out;
  AppendVarLong(out, 0);
  AppendVarLong(out, -1);
  AppendVarLong(out, 1);
  AppendVarLong(out, -64);
  AppendVarLong(out, 64);
  EXPECT_EQ(out, std::string("\x00\x01\x02\x7f\x80\x01", 6));
}

TEST(AvroTest, RoundTripsEveryType) {
  std::string bytes = WriteEvery(5, 2);
  ASSERT_EQ(bytes.substr(0, 4), std::string("Obj\x01", 4));
  auto file = ReadAvroContainer(bytes);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->metadata.at("k"), "v");
  EXPECT_EQ(file->metadata.at("schema"), "{}");
  EXPECT_EQ(file->metadata.count("avro.schema"), 0u);
  EXPECT_NE(file->schema_json.find("\"field-id\":7"), std::string::npos);
  ASSERT_EQ(file->records.size(), 5u);
  for (size_t r = 0; r < 5; ++r) {
    const Value& v = file->records[r];
    ASSERT_EQ(v.items.size(), 13u);
    EXPECT_EQ(v.items[0].type, Type::kNull);
    EXPECT_TRUE(v.items[1].b);
    EXPECT_EQ(v.items[2].i, -123456);
    EXPECT_EQ(v.items[3].i, INT64_MIN + static_cast<int64_t>(r));
    EXPECT_EQ(v.items[4].d, 1.5);
    EXPECT_EQ(v.items[5].d, -2.25);
    EXPECT_EQ(v.items[6].s, std::string("\x00\xff\x01", 3));
    EXPECT_EQ(v.items[7].s, "héllo");
    if (r % 2) {
      EXPECT_EQ(v.items[8].type, Type::kLong);
      EXPECT_EQ(v.items[8].branch, 1u);
      EXPECT_EQ(v.items[8].i, 42);
      ASSERT_EQ(v.items[11].items.size(), 1u);
      EXPECT_EQ(v.items[11].items[0].items[0].i, 3);
      EXPECT_EQ(v.items[11].items[0].items[1].s, "abc");
    } else {
      EXPECT_EQ(v.items[8].type, Type::kNull);
      EXPECT_EQ(v.items[8].branch, 0u);
      EXPECT_EQ(v.items[11].type, Type::kNull);
    }
    ASSERT_EQ(v.items[9].items.size(), 3u);
    EXPECT_EQ(v.items[9].items[2].i, INT32_MAX);
    ASSERT_EQ(v.items[10].items.size(), 2u);
    ASSERT_EQ(v.items[10].keys.size(), 2u);
    EXPECT_EQ(v.items[10].keys[0], "a");
    EXPECT_EQ(v.items[10].items[0].s, "x");
    EXPECT_EQ(v.items[12].items[0].i, 9);
  }
}

TEST(AvroTest, EmptyFileHasNoBlocks) {
  auto file = ReadAvroContainer(WriteEvery(0, 10));
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_TRUE(file->records.empty());
}

TEST(AvroTest, WriterRejectsMismatchedRecordsAndKeepsGoing) {
  auto w = AvroWriter::Create(kEverySchema, {});
  ASSERT_TRUE(w.ok());
  Value bad = EveryRecord(1, true);
  bad.items[7] = Value::Long(5);
  Status st = (*w)->Append(bad);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("every.s"), std::string::npos) << st.message();
  bad = EveryRecord(1, true);
  bad.items[2] = Value::Long(int64_t{1} << 40);
  EXPECT_FALSE((*w)->Append(bad).ok());
  bad = EveryRecord(1, true);
  bad.items.pop_back();
  EXPECT_FALSE((*w)->Append(bad).ok());
  ASSERT_TRUE((*w)->Append(EveryRecord(7, false)).ok());
  auto file = ReadAvroContainer((*w)->Finish());
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  ASSERT_EQ(file->records.size(), 1u);
  EXPECT_EQ(file->records[0].items[3].i, 7);
}

TEST(AvroTest, SchemaErrors) {
  EXPECT_FALSE(AvroWriter::Create("not json", {}).ok());
  EXPECT_FALSE(AvroWriter::Create(R"("long")", {}).ok());
  EXPECT_FALSE(AvroWriter::Create(R"({"type":"record","name":"r","fields":[
      {"name":"e","type":{"type":"enum","name":"E","symbols":["A"]}}]})",
                                  {})
                   .ok());
  EXPECT_FALSE(AvroWriter::Create(R"({"type":"record","name":"r","fields":[
      {"name":"x","type":"r"}]})",
                                  {})
                   .ok());  // no recursive types
  std::string deep = R"({"type":"record","name":"r","fields":[{"name":"a","type":)";
  for (int i = 0; i < 100; ++i) deep += R"({"type":"array","items":)";
  deep += "\"int\"";
  for (int i = 0; i < 100; ++i) deep += "}";
  deep += "}]}";
  EXPECT_FALSE(AvroWriter::Create(deep, {}).ok());
}

TEST(AvroTest, EveryTruncationFailsCleanly) {
  std::string bytes = WriteEvery(3, 2);
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto file = ReadAvroContainer(std::string_view(bytes).substr(0, n));
    // A cut exactly between blocks is a valid shorter file; anything else must fail.
    if (file.ok()) {
      EXPECT_LT(file->records.size(), 3u) << n;
    }
  }
}

TEST(AvroTest, EveryByteFlipIsSafe) {
  std::string bytes = WriteEvery(3, 2);
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t flip : {0x01, 0x80, 0xff}) {
      std::string copy = bytes;
      copy[i] = static_cast<char>(copy[i] ^ flip);
      (void)ReadAvroContainer(copy);  // must not crash or hang (ASan/UBSan in the fuzz build)
    }
  }
}

TEST(AvroTest, MalformedInputs) {
  EXPECT_EQ(ReadAvroContainer("").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(ReadAvroContainer("Obj\x02").status().code(), StatusCode::kCorruption);
  // Header with an unterminated varint.
  EXPECT_FALSE(ReadAvroContainer(std::string("Obj\x01\xff\xff", 6)).ok());
  // Header without avro.schema.
  EXPECT_FALSE(ReadAvroContainer(std::string("Obj\x01\x00", 5) + std::string(16, 'x')).ok());

  std::string good = WriteEvery(1, 1);
  // Wrong sync marker after the block.
  std::string bad = good;
  bad[bad.size() - 1] ^= 1;
  EXPECT_EQ(ReadAvroContainer(bad).status().code(), StatusCode::kCorruption);
  // Trailing garbage after the last block.
  EXPECT_FALSE(ReadAvroContainer(good + "\x02").ok());
}

TEST(AvroTest, HugeCountsAreBounded) {
  // A block claiming 2^62 null records in 0 bytes must not loop for ever.
  std::string schema = R"({"type":"record","name":"r","fields":[{"name":"n","type":"null"}]})";
  auto w = AvroWriter::Create(schema, {});
  ASSERT_TRUE(w.ok());
  std::string bytes = (*w)->Finish();
  std::string sync = bytes.substr(bytes.size() - 16);
  std::string block;
  AppendVarLong(block, int64_t{1} << 62);
  AppendVarLong(block, 0);
  auto file = ReadAvroContainer(bytes + block + sync);
  EXPECT_EQ(file.status().code(), StatusCode::kResourceExhausted);
  // An array of nulls with a huge count inside a record.
  std::string arr_schema =
      R"({"type":"record","name":"r","fields":[{"name":"a","type":{"type":"array","items":"null"}}]})";
  auto w2 = AvroWriter::Create(arr_schema, {});
  ASSERT_TRUE(w2.ok());
  bytes = (*w2)->Finish();
  sync = bytes.substr(bytes.size() - 16);
  std::string body;
  AppendVarLong(body, int64_t{1} << 40);
  AppendVarLong(body, 0);
  block.clear();
  AppendVarLong(block, 1);
  AppendVarLong(block, static_cast<int64_t>(body.size()));
  EXPECT_FALSE(ReadAvroContainer(bytes + block + body + sync).ok());
}

}  // namespace
}  // namespace sluice::lake::avro
