// libFuzzer target: arbitrary bytes as an Avro object container file (Sluice reads its own
// Iceberg manifests and manifest lists back, and a table directory may hold damaged or planted
// files). Reading must never crash or hang, and every failure must come with a message. What
// reads cleanly must re-encode under its own schema and read back with the same record count.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lake/avro.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::lake::avro;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto file = ReadAvroContainer(bytes, 1 << 16);
  if (!file.ok()) {
    if (file.status().message().empty()) std::abort();
    return 0;
  }
  auto writer = AvroWriter::Create(file->schema_json, {}, 7);
  if (!writer.ok()) return 0;  // a schema that is not a record
  for (const Value& record : file->records) {
    if (!(*writer)->Append(record).ok()) std::abort();
  }
  auto again = ReadAvroContainer((*writer)->Finish(), 1 << 20);
  if (!again.ok() || again->records.size() != file->records.size()) std::abort();
  return 0;
}
