// Column descriptions and in-memory column buffers shared by the Parquet writer and reader.
//
// A ColumnBuffer holds one column's values for a run of rows in contiguous storage: a
// defined/null flag per row, fixed-width values in one vector, strings in one arena with end
// offsets. Appending never allocates per value beyond amortised vector growth, and Clear()
// keeps the capacity, so a writer that reuses its buffers allocates nothing in steady state.
// Null rows hold a placeholder (0, 0.0, false, "") so that values are addressable by row.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::lake {

// The logical column types of the lake and their Parquet mapping (see docs/lake.md):
//   kString          BYTE_ARRAY, STRING logical type (UTF-8)
//   kInt64           INT64
//   kDouble          DOUBLE
//   kBool            BOOLEAN
//   kTimestampMicros INT64, TIMESTAMP(isAdjustedToUTC=true, MICROS)
//   kDecimal         INT64 holding the unscaled value, DECIMAL(precision <= 18, scale)
enum class ColumnType : uint8_t { kString, kInt64, kDouble, kBool, kTimestampMicros, kDecimal };

std::string_view ColumnTypeName(ColumnType type);

// Decimals are stored as INT64, so at most 18 digits.
inline constexpr int kMaxDecimalPrecision = 18;

struct ColumnSpec {
  std::string name;
  ColumnType type = ColumnType::kString;
  // OPTIONAL (nullable, written with definition levels) or REQUIRED.
  bool optional = true;
  // kDecimal only: total digits (1..18) and digits after the point (0..precision).
  int precision = 18;
  int scale = 2;
  // Try dictionary encoding for this column (the writer still falls back to PLAIN when the
  // dictionary does not pay off or grows too big). Off for columns known to be unique, such
  // as a raw event, to save the hashing.
  bool dictionary = true;
  // Parquet SchemaElement.field_id (Iceberg's field id, so readers match columns by id after
  // a rename); 0 = none written.
  int32_t field_id = 0;
};

class ColumnBuffer {
 public:
  explicit ColumnBuffer(ColumnType type) : type_(type) {}

  ColumnType type() const { return type_; }
  size_t size() const { return defined_.size(); }
  size_t null_count() const { return nulls_; }

  void AppendNull() {
    defined_.push_back(0);
    ++nulls_;
    switch (type_) {
      case ColumnType::kString:
        ends_.push_back(arena_.size());
        break;
      case ColumnType::kDouble:
        doubles_.push_back(0);
        break;
      case ColumnType::kBool:
        bools_.push_back(0);
        break;
      default:
        ints_.push_back(0);
    }
  }
  // kInt64, kTimestampMicros (micros since the epoch) and kDecimal (the unscaled value).
  void AppendInt64(int64_t v) {
    assert(type_ == ColumnType::kInt64 || type_ == ColumnType::kTimestampMicros ||
           type_ == ColumnType::kDecimal);
    defined_.push_back(1);
    ints_.push_back(v);
  }
  void AppendDouble(double v) {
    assert(type_ == ColumnType::kDouble);
    defined_.push_back(1);
    doubles_.push_back(v);
  }
  void AppendBool(bool v) {
    assert(type_ == ColumnType::kBool);
    defined_.push_back(1);
    bools_.push_back(v ? 1 : 0);
  }
  void AppendString(std::string_view v) {
    assert(type_ == ColumnType::kString);
    defined_.push_back(1);
    arena_.append(v);
    ends_.push_back(arena_.size());
  }
  // Removes the last row (a caller undoing a half-appended row).
  void PopBack();
  // Empties the buffer, keeping its capacity.
  void Clear();
  void Reserve(size_t rows);

  bool IsNull(size_t row) const { return defined_[row] == 0; }
  int64_t Int64At(size_t row) const { return ints_[row]; }
  double DoubleAt(size_t row) const { return doubles_[row]; }
  bool BoolAt(size_t row) const { return bools_[row] != 0; }
  std::string_view StringAt(size_t row) const {
    size_t begin = row == 0 ? 0 : ends_[row - 1];
    return std::string_view(arena_).substr(begin, ends_[row] - begin);
  }

  // Bytes buffered, about what the values take PLAIN-encoded (page and row-group sizing).
  size_t byte_size() const {
    return defined_.size() + ints_.size() * 8 + doubles_.size() * 8 + bools_.size() +
           arena_.size() + ends_.size() * 4;
  }

  const uint8_t* defined_data() const { return defined_.data(); }
  const int64_t* int64_data() const { return ints_.data(); }
  const double* double_data() const { return doubles_.data(); }
  const uint8_t* bool_data() const { return bools_.data(); }
  const std::string& arena() const { return arena_; }
  const uint64_t* string_ends() const { return ends_.data(); }

 private:
  ColumnType type_;
  size_t nulls_ = 0;
  std::vector<uint8_t> defined_;  // 1 = value, 0 = null
  std::vector<int64_t> ints_;
  std::vector<double> doubles_;
  std::vector<uint8_t> bools_;
  std::string arena_;
  std::vector<uint64_t> ends_;  // end offset of each row's string in arena_
};

}  // namespace sluice::lake
