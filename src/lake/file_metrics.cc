#include "lake/file_metrics.h"

#include <algorithm>
#include <cstdint>

namespace sluice::lake {
namespace {

// Byte length of the first `n` code points of valid UTF-8 `s` (all of it when shorter).
size_t PrefixBytes(std::string_view s, size_t n) {
  size_t i = 0;
  for (size_t cp = 0; cp < n && i < s.size(); ++cp) {
    ++i;
    while (i < s.size() && (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80) ++i;
  }
  return i;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes valid UTF-8 into code points.
std::vector<uint32_t> CodePoints(std::string_view s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : 4;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len && i + k < s.size(); ++k)
      cp = (cp << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += len;
  }
  return out;
}

}  // namespace

std::string TruncateLowerBound(std::string_view s, size_t code_points) {
  return std::string(s.substr(0, PrefixBytes(s, code_points)));
}

std::optional<std::string> TruncateUpperBound(std::string_view s, size_t code_points) {
  const size_t prefix = PrefixBytes(s, code_points);
  if (prefix == s.size()) return std::string(s);
  std::vector<uint32_t> cps = CodePoints(s.substr(0, prefix));
  // Increment the last code point that can be, dropping those after it: the result is above
  // every string starting with the prefix.
  while (!cps.empty()) {
    uint32_t next = cps.back() + 1;
    if (next == 0xD800) next = 0xE000;  // surrogates are not characters
    if (next <= 0x10FFFF) {
      cps.back() = next;
      std::string out;
      for (uint32_t cp : cps) AppendUtf8(out, cp);
      return out;
    }
    cps.pop_back();
  }
  return std::nullopt;
}

DataFileStats IcebergMetrics(const std::vector<ColumnSpec>& columns,
                             const std::vector<ParquetWriter::ColumnSummary>& summaries,
                             const std::vector<std::string_view>& no_bounds) {
  DataFileStats stats;
  for (size_t i = 0; i < columns.size() && i < summaries.size(); ++i) {
    const ColumnSpec& c = columns[i];
    const ParquetWriter::ColumnSummary& s = summaries[i];
    const int32_t id = c.field_id;
    if (id == 0) continue;
    stats.column_sizes[id] = s.compressed_bytes;
    stats.value_counts[id] = s.values;
    stats.null_value_counts[id] = s.nulls;
    if (!s.has_bounds ||
        std::find(no_bounds.begin(), no_bounds.end(), std::string_view(c.name)) != no_bounds.end())
      continue;
    switch (c.type) {
      case ColumnType::kString: {
        stats.lower_bounds[id] = TruncateLowerBound(s.min_string);
        if (std::optional<std::string> upper = TruncateUpperBound(s.max_string))
          stats.upper_bounds[id] = std::move(*upper);
        break;
      }
      case ColumnType::kDouble:
        stats.lower_bounds[id] = SingleDouble(s.min_double);
        stats.upper_bounds[id] = SingleDouble(s.max_double);
        break;
      case ColumnType::kBool:
        stats.lower_bounds[id] = SingleBoolean(s.min_int != 0);
        stats.upper_bounds[id] = SingleBoolean(s.max_int != 0);
        break;
      case ColumnType::kDecimal:
        stats.lower_bounds[id] = SingleDecimal(s.min_int);
        stats.upper_bounds[id] = SingleDecimal(s.max_int);
        break;
      case ColumnType::kInt64:
      case ColumnType::kTimestampMicros:
        stats.lower_bounds[id] = SingleLong(s.min_int);
        stats.upper_bounds[id] = SingleLong(s.max_int);
        break;
    }
  }
  return stats;
}

}  // namespace sluice::lake
