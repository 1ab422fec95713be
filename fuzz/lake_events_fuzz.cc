// libFuzzer target: arbitrary bytes as NDJSON events through EventColumns into a ParquetWriter
// (tiny pages, row groups and dictionaries, so every encoding path and the dictionary fallback
// run), then back through ParquetReader. Must never crash; the file must always read back with
// one row per event and every event's bytes in `_raw` (when they are valid UTF-8).
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "lake/event_columns.h"
#include "lake/parquet_reader.h"
#include "lake/parquet_writer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::lake;
  static auto columns = EventColumns::Make({
      {"id", "id", ColumnType::kString},
      {"n", "n", ColumnType::kInt64},
      {"x", "x", ColumnType::kDouble},
      {"b", "b", ColumnType::kBool},
      {"t", "t", ColumnType::kTimestampMicros},
      {"m", "m", ColumnType::kDecimal, 9, 2},
      {"city", "c.a.city", ColumnType::kString},
  });
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> events;
  while (!input.empty()) {
    size_t nl = input.find('\n');
    events.push_back(input.substr(0, nl));
    if (nl == std::string_view::npos) break;
    input.remove_prefix(nl + 1);
  }
  WriterOptions options;
  options.page_bytes = 256;
  options.row_group_bytes = 2048;
  options.dictionary_page_bytes = 128;
  options.compression = size % 3 == 0   ? Compression::kZstd
                        : size % 3 == 1 ? Compression::kSnappy
                                        : Compression::kUncompressed;
  options.data_page_version = size % 2 == 0 ? 1 : 2;
  auto writer = ParquetWriter::OpenBuffer((*columns)->specs(), options);
  if (!writer.ok()) __builtin_trap();
  if (!(*columns)->AppendBatch(events, **writer).ok()) __builtin_trap();
  if (!(*writer)->Close().ok()) __builtin_trap();
  auto reader = ParquetReader::Open((*writer)->buffer());
  if (!reader.ok()) __builtin_trap();
  const FileInfo& info = reader->info();
  if (info.num_rows != static_cast<int64_t>(events.size())) __builtin_trap();
  const size_t raw = info.columns.size() - 1;
  size_t row = 0;
  for (size_t g = 0; g < info.row_groups.size(); ++g) {
    for (size_t c = 0; c < info.columns.size(); ++c) {
      ColumnBuffer out(info.columns[c].type);
      if (!reader->ReadColumn(g, c, out).ok()) __builtin_trap();
      if (c != raw) continue;
      for (size_t r = 0; r < out.size(); ++r, ++row) {
        std::string_view e = events[row];
        if (simdjson::validate_utf8(e.data(), e.size()) && out.StringAt(r) != e) __builtin_trap();
      }
    }
  }
  if (row != events.size()) __builtin_trap();
  return 0;
}
