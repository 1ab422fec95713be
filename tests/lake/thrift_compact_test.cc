#include "lake/thrift_compact.h"

#include <gtest/gtest.h>

#include <random>

#include "lake/encoding.h"

namespace sluice::lake {
namespace {

std::string SampleMessage() {
  std::string out;
  CompactWriter w(out);
  w.MessageBegin();
  w.FieldI32(1, -7);
  w.FieldI64(2, 1ll << 40);
  w.FieldBinary(3, "héllo");
  w.FieldBool(4, true);
  w.FieldBool(5, false);
  w.FieldI32(40, 123);  // a long delta: the field id is written in full
  w.FieldStructBegin(41);
  w.FieldI64(1, INT64_MIN);
  w.StructEnd();
  w.FieldListBegin(42, ThriftType::kI32, 20);  // longer than 14: size in a varint
  for (int i = 0; i < 20; ++i) w.ListI32(i * 1000 - 5000);
  w.FieldListBegin(43, ThriftType::kStruct, 2);
  for (int i = 0; i < 2; ++i) {
    w.ListStructBegin();
    w.FieldBinary(1, std::string(200, 'x'));
    w.StructEnd();
  }
  w.StructEnd();
  return out;
}

TEST(ThriftCompact, RoundTripsEveryKindOfField) {
  std::string bytes = SampleMessage();
  CompactReader r(bytes);
  ASSERT_TRUE(r.StructBegin().ok());
  int16_t id;
  ThriftType t;
  int32_t i32 = 0;
  int64_t i64 = 0;
  std::string_view s;
  bool b = false;
  ASSERT_TRUE(r.NextField(id, t).ok());
  EXPECT_EQ(id, 1);
  ASSERT_TRUE(r.ReadI32(t, i32).ok());
  EXPECT_EQ(i32, -7);
  ASSERT_TRUE(r.NextField(id, t).ok());
  ASSERT_TRUE(r.ReadI64(t, i64).ok());
  EXPECT_EQ(i64, 1ll << 40);
  ASSERT_TRUE(r.NextField(id, t).ok());
  ASSERT_TRUE(r.ReadBinary(t, s).ok());
  EXPECT_EQ(s, "héllo");
  ASSERT_TRUE(r.NextField(id, t).ok());
  ASSERT_TRUE(r.ReadBool(t, b).ok());
  EXPECT_TRUE(b);
  ASSERT_TRUE(r.NextField(id, t).ok());
  EXPECT_EQ(id, 5);
  ASSERT_TRUE(r.ReadBool(t, b).ok());
  EXPECT_FALSE(b);
  ASSERT_TRUE(r.NextField(id, t).ok());
  EXPECT_EQ(id, 40);
  ASSERT_TRUE(r.ReadI32(t, i32).ok());
  EXPECT_EQ(i32, 123);
  ASSERT_TRUE(r.NextField(id, t).ok());
  EXPECT_EQ(id, 41);
  ASSERT_TRUE(r.StructBegin().ok());
  ASSERT_TRUE(r.NextField(id, t).ok());
  ASSERT_TRUE(r.ReadI64(t, i64).ok());
  EXPECT_EQ(i64, INT64_MIN);
  ASSERT_TRUE(r.NextField(id, t).ok());
  EXPECT_EQ(t, ThriftType::kStop);
  ASSERT_TRUE(r.NextField(id, t).ok());
  EXPECT_EQ(id, 42);  // the delta continues from the outer struct's last id
  ThriftType et;
  uint32_t n = 0;
  ASSERT_TRUE(r.ReadListHeader(t, et, n).ok());
  ASSERT_EQ(n, 20u);
  for (uint32_t i = 0; i < n; ++i) {
    ASSERT_TRUE(r.ReadI32(et, i32).ok());
    EXPECT_EQ(i32, static_cast<int32_t>(i) * 1000 - 5000);
  }
  ASSERT_TRUE(r.NextField(id, t).ok());
  EXPECT_EQ(id, 43);
  ASSERT_TRUE(r.Skip(t).ok());
  ASSERT_TRUE(r.NextField(id, t).ok());
  EXPECT_EQ(t, ThriftType::kStop);
  EXPECT_EQ(r.position(), bytes.size());
}

TEST(ThriftCompact, SkipsAWholeMessage) {
  std::string bytes = SampleMessage();
  CompactReader r(bytes);
  ASSERT_TRUE(r.Skip(ThriftType::kStruct).ok());
  EXPECT_EQ(r.position(), bytes.size());
}

TEST(ThriftCompact, EveryTruncationIsAnError) {
  std::string bytes = SampleMessage();
  for (size_t len = 0; len < bytes.size(); ++len) {
    CompactReader r(std::string_view(bytes).substr(0, len));
    Status st = r.Skip(ThriftType::kStruct);
    EXPECT_FALSE(st.ok()) << "prefix of " << len << " bytes";
    EXPECT_EQ(st.code(), StatusCode::kCorruption);
  }
}

TEST(ThriftCompact, DeepNestingIsRejected) {
  std::string bytes;
  for (int i = 0; i < 10000; ++i) bytes.push_back(static_cast<char>(0x1C));  // field 1: struct
  CompactReader r(bytes);
  Status st = r.Skip(ThriftType::kStruct);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("nested too deeply"), std::string::npos) << st.message();
}

TEST(ThriftCompact, HugeListSizeIsRejectedBeforeAllocating) {
  // list<i32> claiming 2^31 elements in a 7-byte input.
  std::string bytes = {static_cast<char>(0x19), static_cast<char>(0xF5), static_cast<char>(0x80),
                       static_cast<char>(0x80), static_cast<char>(0x80), static_cast<char>(0x80),
                       static_cast<char>(0x08)};
  CompactReader r(bytes);
  ASSERT_TRUE(r.StructBegin().ok());
  int16_t id;
  ThriftType t, et;
  uint32_t n;
  ASSERT_TRUE(r.NextField(id, t).ok());
  Status st = r.ReadListHeader(t, et, n);
  EXPECT_FALSE(st.ok());
}

TEST(ThriftCompact, RandomBytesNeverCrash) {
  std::mt19937 rng(42);
  std::string base = SampleMessage();
  for (int iter = 0; iter < 20000; ++iter) {
    std::string bytes = base;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    CompactReader r(bytes);
    (void)r.Skip(ThriftType::kStruct);
  }
}

TEST(RleHybrid, RoundTripsRunsAndNoise) {
  std::mt19937 rng(7);
  for (int bit_width = 1; bit_width <= 20; ++bit_width) {
    std::vector<uint32_t> values;
    uint32_t max = bit_width == 32 ? UINT32_MAX : (1u << bit_width) - 1;
    while (values.size() < 5000) {
      uint32_t v = rng() & max;
      size_t run = rng() % 3 == 0 ? 1 + rng() % 40 : 1;
      for (size_t i = 0; i < run; ++i) values.push_back(v);
    }
    std::string encoded;
    AppendRleHybrid(encoded, values.data(), values.size(), bit_width);
    std::vector<uint32_t> decoded(values.size());
    ASSERT_TRUE(DecodeRleHybrid(encoded, bit_width, values.size(), decoded.data()).ok());
    EXPECT_EQ(decoded, values) << "bit width " << bit_width;
    // Every truncation either decodes nothing wrong or fails; none crashes.
    for (size_t len = 0; len < encoded.size(); len += 37) {
      (void)DecodeRleHybrid(std::string_view(encoded).substr(0, len), bit_width, values.size(),
                            decoded.data());
    }
  }
}

TEST(RleHybrid, BitsFastPathAndNulls) {
  std::vector<uint8_t> bits(1000, 1);
  std::string encoded;
  AppendRleHybridBits(encoded, bits.data(), bits.size());
  EXPECT_LE(encoded.size(), 3u);
  bits[500] = 0;
  bits[3] = 0;
  encoded.clear();
  AppendRleHybridBits(encoded, bits.data(), bits.size());
  std::vector<uint32_t> decoded(bits.size());
  ASSERT_TRUE(DecodeRleHybrid(encoded, 1, bits.size(), decoded.data()).ok());
  for (size_t i = 0; i < bits.size(); ++i) ASSERT_EQ(decoded[i], bits[i]) << i;
}

TEST(RleHybrid, MalformedInputIsAnError) {
  std::vector<uint32_t> out(100);
  EXPECT_FALSE(DecodeRleHybrid("", 3, 10, out.data()).ok());
  EXPECT_FALSE(DecodeRleHybrid(std::string("\x00", 1), 3, 10, out.data()).ok());      // empty run
  EXPECT_FALSE(DecodeRleHybrid(std::string("\x14\x09", 2), 3, 10, out.data()).ok());  // 9 > 7
  EXPECT_FALSE(DecodeRleHybrid(std::string("\x03\x01", 2), 3, 10, out.data()).ok());  // short
  EXPECT_FALSE(DecodeRleHybrid("x", 33, 1, out.data()).ok());
}

}  // namespace
}  // namespace sluice::lake
