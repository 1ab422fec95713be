#include "lake/columns.h"

namespace sluice::lake {

void ColumnBuffer::PopBack() {
  if (defined_.empty()) return;
  if (defined_.back() == 0) --nulls_;
  defined_.pop_back();
  switch (type_) {
    case ColumnType::kString:
      ends_.pop_back();
      arena_.resize(ends_.empty() ? 0 : ends_.back());
      break;
    case ColumnType::kDouble:
      doubles_.pop_back();
      break;
    case ColumnType::kBool:
      bools_.pop_back();
      break;
    default:
      ints_.pop_back();
  }
}

void ColumnBuffer::Clear() {
  nulls_ = 0;
  defined_.clear();
  ints_.clear();
  doubles_.clear();
  bools_.clear();
  arena_.clear();
  ends_.clear();
}

void ColumnBuffer::Reserve(size_t rows) {
  defined_.reserve(rows);
  switch (type_) {
    case ColumnType::kString:
      ends_.reserve(rows);
      break;
    case ColumnType::kDouble:
      doubles_.reserve(rows);
      break;
    case ColumnType::kBool:
      bools_.reserve(rows);
      break;
    default:
      ints_.reserve(rows);
  }
}

}  // namespace sluice::lake
