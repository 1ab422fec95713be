// Values that joins keep (reference table rows, buffered events of an interval join) and the
// encodings of join keys and of kept values.
//
// What callers may rely on:
// * AppendJoinKey encodes a value so that two values have the same encoding exactly when SQL
//   `=` holds between them (and neither is NULL): BIGINT and a DOUBLE with an integral value
//   agree (1 = 1.0), -0.0 = 0.0, text compares bytewise. It returns false for NULL (NULL joins
//   nothing). The encoding is self-delimiting, so concatenations of several keys compare as
//   tuples. It allocates only when `out` grows.
// * OwnedValues holds a copy of values and of their text (with kJsonPadding after each text,
//   so JSON stays readable in place); its values stay valid until the next Assign or its
//   destruction, and moving it keeps them valid.
// * EncodeValues / DecodeValues round-trip any values (storage and checkpoints); decoding
//   rejects truncated or malformed input.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sql/value.h"

namespace sluice::stream {

bool AppendJoinKey(std::string& out, const sql::Value& value);

class OwnedValues {
 public:
  OwnedValues() = default;
  explicit OwnedValues(std::span<const sql::Value> values) { Assign(values); }
  void Assign(std::span<const sql::Value> values);
  std::span<const sql::Value> values() const { return values_; }
  size_t size() const { return values_.size(); }
  const sql::Value& operator[](size_t i) const { return values_[i]; }

 private:
  std::vector<sql::Value> values_;
  std::unique_ptr<char[]> text_;
};

void EncodeValues(std::string& out, std::span<const sql::Value> values);
bool DecodeValues(std::string_view in, OwnedValues& out);

}  // namespace sluice::stream
