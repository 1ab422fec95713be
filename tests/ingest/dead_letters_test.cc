#include "ingest/dead_letters.h"

#include <gtest/gtest.h>

namespace sluice::ingest {
namespace {

log::RecordView View(const std::string& payload, uint32_t schema_id = 0) {
  log::RecordView r;
  r.offset = 17;
  r.log_time_micros = 1'000'000;
  r.schema_id = schema_id;
  r.payload = payload;
  return r;
}

TEST(DeadLetters, PayloadRoundTripsWithRawBytesUntouched) {
  const std::string raw = "{\"event_id\":\"a\",\n \"bad\": \"\xff\xfe\"}";
  const std::string payload =
      DeadLetterPayload("fulfilment", 3, "field 'occurred_at': \"x\"\nis bad", 9, raw);
  // The header is one line whatever the error text holds.
  EXPECT_EQ(payload.find('\n'), payload.find("}\n") + 1);
  auto letter = DecodeDeadLetter(View(payload, 9));
  ASSERT_TRUE(letter.ok()) << letter.status().ToString();
  EXPECT_EQ(letter->offset, 17u);
  EXPECT_EQ(letter->index, 3u);
  EXPECT_EQ(letter->error, "field 'occurred_at': \"x\"\nis bad");
  EXPECT_EQ(letter->schema_id, 9u);
  EXPECT_EQ(letter->raw, raw);
}

TEST(DeadLetters, MalformedHeaderIsCorruption) {
  EXPECT_EQ(DecodeDeadLetter(View("no newline")).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(DecodeDeadLetter(View("{\"index\":1}\nraw")).status().code(), StatusCode::kCorruption);
}

TEST(DeadLetters, PageJsonMarksReplayedLetters) {
  DeadLetterPage page;
  page.items.push_back({4, 0, 0, "bad", 0, "{}"});
  page.items.push_back({5, 0, 1, "worse", 2, "[1]"});
  page.replayed_until = 5;
  page.next_offset = 6;
  page.end_offset = 6;
  const std::string json = page.ToJson("s");
  EXPECT_NE(json.find("\"offset\":4,\"received_at\":\"1970-01-01T00:00:00Z\""), std::string::npos)
      << json;
  EXPECT_NE(json.find("\"replayed\":true,\"raw\":\"{}\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"replayed\":false,\"raw\":\"[1]\""), std::string::npos) << json;
}

}  // namespace
}  // namespace sluice::ingest
