// libFuzzer target: arbitrary bytes as what a WebSocket subscriber sends. The frame reader must
// never crash or read out of bounds; control frames it returns are at most 125 bytes; and
// reading the bytes in two pieces (split where the first byte says) gives exactly the same
// frames and the same verdict as reading them at once.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "server/websocket_frames.h"

using sluice::server::websocket_frames::ControlFrame;
using sluice::server::websocket_frames::FrameReader;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t split = data[0] % size;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  FrameReader whole;
  std::vector<ControlFrame> whole_frames;
  const bool whole_ok = whole.Consume(bytes, whole_frames);

  FrameReader pieces;
  std::vector<ControlFrame> piece_frames;
  bool pieces_ok = pieces.Consume(bytes.substr(0, split), piece_frames);
  if (pieces_ok) pieces_ok = pieces.Consume(bytes.substr(split), piece_frames);

  if (whole_ok != pieces_ok || whole.error() != pieces.error()) __builtin_trap();
  if (whole_frames.size() != piece_frames.size()) __builtin_trap();
  for (size_t i = 0; i < whole_frames.size(); ++i) {
    if (whole_frames[i].opcode != piece_frames[i].opcode) __builtin_trap();
    if (whole_frames[i].payload != piece_frames[i].payload) __builtin_trap();
    if (whole_frames[i].payload.size() > 125) __builtin_trap();
  }
  return 0;
}
