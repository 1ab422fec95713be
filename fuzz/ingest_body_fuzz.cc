// libFuzzer target: arbitrary bytes as an ingest request body, in both formats, through the
// splitter and the event parser. Must never crash, hang or read out of bounds; every record
// either parses or gets an error message.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ingest/event_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::ingest;
  static EventParser parser({"event_id", "occurred_at", "order_id"});
  // The server guarantees simdjson padding after the body; give exactly that, no more.
  std::string body(reinterpret_cast<const char*>(data), size);
  body.reserve(size + simdjson::SIMDJSON_PADDING);
  for (BodyFormat format : {BodyFormat::kNdjson, BodyFormat::kJson}) {
    std::vector<RecordSlice> records;
    if (!SplitBody(body, format, records).ok()) continue;
    for (const RecordSlice& r : records) {
      if (r.bytes.data() < body.data() || r.bytes.data() + r.bytes.size() > body.data() + size)
        __builtin_trap();
      EventFields fields;
      sluice::Status st = parser.Parse(r.bytes, fields);
      if (!st.ok() && st.message().empty()) __builtin_trap();
    }
  }
  return 0;
}
