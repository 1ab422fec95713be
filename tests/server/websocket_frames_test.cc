#include "server/websocket_frames.h"

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace sluice::server::websocket_frames {
namespace {

// A client frame: masked with `key`, FIN as given, length in the shortest form unless `length_form`
// forces 126/127.
std::string ClientFrame(uint8_t first_byte, std::string_view payload,
                        std::array<uint8_t, 4> key = {0x12, 0x34, 0x56, 0x78},
                        int length_form = 0) {
  std::string frame;
  frame.push_back(static_cast<char>(first_byte));
  const size_t n = payload.size();
  if (length_form == 0 && n < 126) {
    frame.push_back(static_cast<char>(0x80 | n));
  } else if (length_form != 127 && n <= 0xffff) {
    frame.push_back(static_cast<char>(0x80 | 126));
    frame.push_back(static_cast<char>(n >> 8));
    frame.push_back(static_cast<char>(n & 0xff));
  } else {
    frame.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i)
      frame.push_back(static_cast<char>((uint64_t{n} >> (8 * i)) & 0xff));
  }
  frame.append(reinterpret_cast<const char*>(key.data()), 4);
  for (size_t i = 0; i < n; ++i) frame.push_back(static_cast<char>(payload[i] ^ key[i % 4]));
  return frame;
}

TEST(WebSocketFrames, HeadersUseTheShortestLengthForm) {
  FrameHeader small = EncodeFrameHeader(kText, 125);
  ASSERT_EQ(small.size, 2u);
  EXPECT_EQ(small.bytes[0], 0x81);
  EXPECT_EQ(small.bytes[1], 125);
  FrameHeader medium = EncodeFrameHeader(kText, 126);
  ASSERT_EQ(medium.size, 4u);
  EXPECT_EQ(medium.bytes[1], 126);
  EXPECT_EQ((medium.bytes[2] << 8) | medium.bytes[3], 126);
  EXPECT_EQ(EncodeFrameHeader(kText, 65535).size, 4u);
  FrameHeader large = EncodeFrameHeader(kText, 65536);
  ASSERT_EQ(large.size, 10u);
  EXPECT_EQ(large.bytes[1], 127);
  EXPECT_EQ(large.bytes[7], 0x01);  // 65536 = 0x00..0001'0000
  EXPECT_EQ(large.bytes[8], 0x00);
  EXPECT_EQ(large.bytes[9], 0x00);
}

TEST(WebSocketFrames, CloseFramesCarryTheCodeAndACutReason) {
  const std::string frame = EncodeCloseFrame(kCloseProtocolError, "bad");
  ASSERT_EQ(frame.size(), 2u + 2 + 3);
  EXPECT_EQ(static_cast<uint8_t>(frame[0]), 0x88);
  EXPECT_EQ(static_cast<uint8_t>(frame[2]), 1002 >> 8);
  EXPECT_EQ(static_cast<uint8_t>(frame[3]), 1002 & 0xff);
  EXPECT_EQ(frame.substr(4), "bad");
  // A long reason is cut to the 125 bytes a control frame carries, never inside a UTF-8
  // character ("é" is two bytes: 123 bytes of reason fit, which would split the 62nd).
  std::string reason;
  for (int i = 0; i < 100; ++i) reason += "\xc3\xa9";
  const std::string cut = EncodeCloseFrame(kCloseNormal, reason);
  EXPECT_EQ(cut.size() - 2 - 2, 2u * 61);
  EXPECT_EQ(cut.substr(4), reason.substr(0, 2 * 61));
}

TEST(WebSocketFrames, DataFramesAreSkippedAndControlFramesUnmasked) {
  const std::string bytes = ClientFrame(0x81, "hello, ignored") +
                            ClientFrame(0x89, "are you there") +
                            ClientFrame(0x82, std::string(70000, 'b')) + ClientFrame(0x8a, "") +
                            ClientFrame(0x88, std::string("\x03\xe8", 2) + "bye");
  FrameReader reader;
  std::vector<ControlFrame> out;
  ASSERT_TRUE(reader.Consume(bytes, out)) << reader.error();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].opcode, kPing);
  EXPECT_EQ(out[0].payload, "are you there");
  EXPECT_EQ(out[1].opcode, kPong);
  EXPECT_EQ(out[1].payload, "");
  EXPECT_EQ(out[2].opcode, kClose);
  EXPECT_EQ(out[2].payload, std::string("\x03\xe8", 2) + "bye");
}

TEST(WebSocketFrames, AnySplitOfTheBytesReadsTheSame) {
  const std::string bytes = ClientFrame(0x01, "frag") + ClientFrame(0x89, "ping in between") +
                            ClientFrame(0x80, "mented", {1, 2, 3, 4}, 126) +
                            ClientFrame(0x89, "p2", {9, 8, 7, 6}, 127);
  for (size_t split = 0; split <= bytes.size(); ++split) {
    FrameReader reader;
    std::vector<ControlFrame> out;
    ASSERT_TRUE(reader.Consume(std::string_view(bytes).substr(0, split), out)) << split;
    ASSERT_TRUE(reader.Consume(std::string_view(bytes).substr(split), out)) << split;
    ASSERT_EQ(out.size(), 2u) << split;
    EXPECT_EQ(out[0].payload, "ping in between");
    EXPECT_EQ(out[1].payload, "p2");
  }
  FrameReader byte_by_byte;
  std::vector<ControlFrame> out;
  for (char c : bytes) ASSERT_TRUE(byte_by_byte.Consume(std::string_view(&c, 1), out));
  EXPECT_EQ(out.size(), 2u);
}

TEST(WebSocketFrames, ProtocolViolationsAreRefusedWithTheReason) {
  struct Case {
    std::string bytes;
    std::string error_part;
  };
  std::string unmasked = "\x81\x02hi";
  std::string huge_length = ClientFrame(0x82, "x", {1, 2, 3, 4}, 127);
  huge_length[2] = static_cast<char>(0x80);  // the 64-bit length's top bit
  const std::vector<Case> cases = {
      {unmasked, "not masked"},
      {ClientFrame(0xc1, "x"), "reserved bits"},
      {ClientFrame(0x83, "x"), "unknown opcode 0x3"},
      {ClientFrame(0x8b, "x"), "unknown opcode 0xb"},
      {ClientFrame(0x89, std::string(126, 'p')), "carries 126 bytes"},
      {ClientFrame(0x09, "x"), "control frame is fragmented"},
      {ClientFrame(0x80, "x"), "continuation frame continues no message"},
      {ClientFrame(0x01, "a") + ClientFrame(0x81, "b"), "before the last one's final frame"},
      {huge_length, "top bit"},
      {ClientFrame(0x88, "x"), "1-byte payload"},
  };
  for (const Case& c : cases) {
    FrameReader reader;
    std::vector<ControlFrame> out;
    EXPECT_FALSE(reader.Consume(c.bytes, out)) << c.error_part;
    EXPECT_NE(reader.error().find(c.error_part), std::string::npos) << reader.error();
    // A failed reader stays failed.
    EXPECT_FALSE(reader.Consume(ClientFrame(0x89, ""), out));
  }
}

}  // namespace
}  // namespace sluice::server::websocket_frames
