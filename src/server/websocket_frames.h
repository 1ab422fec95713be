// Internal to the server module: WebSocket framing (RFC 6455, section 5) for subscriptions.
//
// Subscription sessions frame their messages themselves rather than through Beast's
// websocket::stream: Beast writes one message per operation, while a subscriber that is a few
// versions behind, or paces its updates (?batch_ms=), gets all its pending deltas in ONE gather
// write of pre-encoded messages, which is most of the cost of fanning deltas out to a thousand
// clients. Beast still performs the opening handshake.
//
// Server frames are never masked and never fragmented. A client's frames are masked; the
// subscription protocol gives its data frames no meaning, so FrameReader skips them without
// buffering and returns only the control frames (ping, pong, close), whole and unmasked.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::server::websocket_frames {

enum Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// Close codes (RFC 6455, section 7.4.1).
inline constexpr uint16_t kCloseNormal = 1000;
inline constexpr uint16_t kCloseGoingAway = 1001;
inline constexpr uint16_t kCloseProtocolError = 1002;
inline constexpr uint16_t kCloseInternalError = 1011;

// The header of a final, unmasked frame: 2, 4 or 10 bytes.
struct FrameHeader {
  std::array<uint8_t, 10> bytes{};
  size_t size = 0;
};
FrameHeader EncodeFrameHeader(Opcode opcode, uint64_t payload_size);

// A whole control frame (header and payload): a pong echoing a ping's payload, or a close with
// `code` and a `reason` (cut to fit the 125 bytes a control frame may carry).
std::string EncodeControlFrame(Opcode opcode, std::string_view payload);
std::string EncodeCloseFrame(uint16_t code, std::string_view reason);

struct ControlFrame {
  Opcode opcode;
  std::string payload;  // unmasked; at most 125 bytes
};

// Reads the frames a client sends, from bytes as they arrive (any split). Not thread-safe.
class FrameReader {
 public:
  // Consumes all of `bytes`, appending each complete control frame to `out`. Returns false on
  // a protocol violation (then error() says which and the reader must not be used again); the
  // caller closes the connection with kCloseProtocolError.
  bool Consume(std::string_view bytes, std::vector<ControlFrame>& out);
  const std::string& error() const { return error_; }

 private:
  bool Fail(std::string why);
  bool StartFrame(std::vector<ControlFrame>& out);

  std::array<uint8_t, 14> header_{};  // the frame header being read (at most 14 bytes)
  size_t header_have_ = 0;
  bool in_payload_ = false;
  uint64_t payload_left_ = 0;  // bytes of the current frame's payload still to come
  uint64_t payload_read_ = 0;  // of the current frame: for the mask's position
  Opcode opcode_ = kText;
  std::array<uint8_t, 4> mask_{};
  ControlFrame control_{kPing, {}};  // the control frame being read
  bool message_open_ = false;        // a fragmented data message awaits its continuation
  std::string error_;
};

}  // namespace sluice::server::websocket_frames
