// libFuzzer target: arbitrary bytes as a Parquet file through ParquetReader: the footer, then
// every column chunk of every row group. Must never crash, hang, read out of bounds or
// allocate without bound; every failure is a Status with a message.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lake/parquet_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::lake;
  ReaderOptions options;
  options.max_footer_bytes = 1 << 20;
  options.max_page_bytes = 4 << 20;
  options.max_values_per_chunk = 1 << 20;
  auto reader =
      ParquetReader::Open(std::string_view(reinterpret_cast<const char*>(data), size), options);
  if (!reader.ok()) {
    if (reader.status().message().empty()) __builtin_trap();
    return 0;
  }
  const FileInfo& info = reader->info();
  for (size_t g = 0; g < info.row_groups.size(); ++g) {
    for (size_t c = 0; c < info.columns.size(); ++c) {
      ColumnBuffer out(info.columns[c].type);
      sluice::Status st = reader->ReadColumn(g, c, out);
      if (st.ok() && out.size() != static_cast<size_t>(info.row_groups[g].num_rows))
        __builtin_trap();
      if (!st.ok() && st.message().empty()) __builtin_trap();
      (void)info.row_groups[g].columns[c].statistics.MinInt64();
    }
  }
  return 0;
}
