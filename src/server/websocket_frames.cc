#include "server/websocket_frames.h"

#include <algorithm>

#include <fmt/format.h>

namespace sluice::server::websocket_frames {
namespace {

constexpr size_t kMaxControlPayload = 125;

bool IsControl(uint8_t opcode) {
  return (opcode & 0x8) != 0;
}

// The size of the header that starts with `have` bytes of `h`; 0 while it is not known yet.
size_t HeaderSize(const std::array<uint8_t, 14>& h, size_t have) {
  if (have < 2) return 0;
  const uint8_t length7 = h[1] & 0x7f;
  const size_t extended = length7 == 126 ? 2 : length7 == 127 ? 8 : 0;
  const size_t mask = (h[1] & 0x80) != 0 ? 4 : 0;
  return 2 + extended + mask;
}

}  // namespace

FrameHeader EncodeFrameHeader(Opcode opcode, uint64_t payload_size) {
  FrameHeader header;
  header.bytes[0] = static_cast<uint8_t>(0x80 | opcode);  // FIN: servers never fragment
  if (payload_size < 126) {
    header.bytes[1] = static_cast<uint8_t>(payload_size);
    header.size = 2;
  } else if (payload_size <= 0xffff) {
    header.bytes[1] = 126;
    header.bytes[2] = static_cast<uint8_t>(payload_size >> 8);
    header.bytes[3] = static_cast<uint8_t>(payload_size);
    header.size = 4;
  } else {
    header.bytes[1] = 127;
    for (size_t i = 0; i < 8; ++i)
      header.bytes[2 + i] = static_cast<uint8_t>(payload_size >> (56 - 8 * i));
    header.size = 10;
  }
  return header;
}

std::string EncodeControlFrame(Opcode opcode, std::string_view payload) {
  payload = payload.substr(0, kMaxControlPayload);
  const FrameHeader header = EncodeFrameHeader(opcode, payload.size());
  std::string frame(reinterpret_cast<const char*>(header.bytes.data()), header.size);
  frame.append(payload);
  return frame;
}

std::string EncodeCloseFrame(uint16_t code, std::string_view reason) {
  size_t keep = std::min(reason.size(), kMaxControlPayload - 2);
  // Never cut a UTF-8 sequence in two: the reason must stay valid UTF-8.
  while (keep < reason.size() && keep > 0 && (static_cast<uint8_t>(reason[keep]) & 0xc0) == 0x80)
    --keep;
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xff));
  payload.append(reason.substr(0, keep));
  return EncodeControlFrame(kClose, payload);
}

bool FrameReader::Fail(std::string why) {
  error_ = std::move(why);
  return false;
}

// Validates the complete header in header_ and sets up reading its payload.
bool FrameReader::StartFrame(std::vector<ControlFrame>& out) {
  const uint8_t b0 = header_[0];
  const uint8_t b1 = header_[1];
  const bool fin = (b0 & 0x80) != 0;
  const uint8_t opcode = b0 & 0x0f;
  if ((b0 & 0x70) != 0) return Fail("a frame has reserved bits set (no extension was agreed)");
  if (opcode != kContinuation && opcode != kText && opcode != kBinary && opcode != kClose &&
      opcode != kPing && opcode != kPong)
    return Fail(fmt::format("a frame has the unknown opcode {:#x}", opcode));
  if ((b1 & 0x80) == 0) return Fail("a client's frame is not masked");
  uint64_t length = b1 & 0x7f;
  size_t at = 2;
  if (length == 126) {
    length = (uint64_t{header_[2]} << 8) | header_[3];
    at = 4;
  } else if (length == 127) {
    length = 0;
    for (size_t i = 0; i < 8; ++i) length = (length << 8) | header_[2 + i];
    if ((length >> 63) != 0) return Fail("a frame's 64-bit length has its top bit set");
    at = 10;
  }
  std::copy_n(header_.begin() + static_cast<std::ptrdiff_t>(at), 4, mask_.begin());
  if (IsControl(opcode)) {
    if (!fin) return Fail("a control frame is fragmented");
    if (length > kMaxControlPayload)
      return Fail(fmt::format("a control frame carries {} bytes (at most 125)", length));
    if (opcode == kClose && length == 1) return Fail("a close frame carries a 1-byte payload");
    control_.opcode = static_cast<Opcode>(opcode);
    control_.payload.clear();
  } else if (opcode == kContinuation) {
    if (!message_open_) return Fail("a continuation frame continues no message");
    message_open_ = !fin;
  } else {
    if (message_open_) return Fail("a new message starts before the last one's final frame");
    message_open_ = !fin;
  }
  opcode_ = static_cast<Opcode>(opcode);
  payload_left_ = length;
  payload_read_ = 0;
  in_payload_ = true;
  if (length == 0 && IsControl(opcode)) out.push_back(control_);
  if (length == 0) in_payload_ = false;
  return true;
}

bool FrameReader::Consume(std::string_view bytes, std::vector<ControlFrame>& out) {
  if (!error_.empty()) return false;
  size_t pos = 0;
  while (pos < bytes.size()) {
    if (!in_payload_) {
      header_[header_have_++] = static_cast<uint8_t>(bytes[pos++]);
      const size_t size = HeaderSize(header_, header_have_);
      if (size == 0 || header_have_ < size) continue;
      header_have_ = 0;
      if (!StartFrame(out)) return false;
      continue;
    }
    const size_t take = static_cast<size_t>(std::min<uint64_t>(payload_left_, bytes.size() - pos));
    if (IsControl(opcode_)) {
      for (size_t i = 0; i < take; ++i)
        control_.payload.push_back(static_cast<char>(static_cast<uint8_t>(bytes[pos + i]) ^
                                                     mask_[(payload_read_ + i) % 4]));
    }
    pos += take;
    payload_read_ += take;
    payload_left_ -= take;
    if (payload_left_ == 0) {
      in_payload_ = false;
      if (IsControl(opcode_)) out.push_back(control_);
    }
  }
  return true;
}

}  // namespace sluice::server::websocket_frames
