// The Thrift compact protocol, as Parquet uses it for page headers and the file footer.
//
// CompactWriter appends structs, fields, lists and scalars to a caller-owned string. Field ids
// must increase within a struct only for the short (delta) form; any order is encoded
// correctly. CompactReader is a pull parser over untrusted bytes: every read is bounds-checked,
// varints are length-limited, list sizes are checked against the bytes that remain (each
// element takes at least one byte, so a hostile size cannot force a huge allocation), nesting
// is limited to `max_depth`, and any malformed byte yields a Corruption Status naming the
// offset. It never reads outside the view it was given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sluice::lake {

// The compact protocol's type nibbles. In a field header a bool carries its value in the type
// (kBoolTrue/kBoolFalse); in a list header bools use kBoolTrue as the element type.
enum class ThriftType : uint8_t {
  kStop = 0,
  kBoolTrue = 1,
  kBoolFalse = 2,
  kByte = 3,
  kI16 = 4,
  kI32 = 5,
  kI64 = 6,
  kDouble = 7,
  kBinary = 8,
  kList = 9,
  kSet = 10,
  kMap = 11,
  kStruct = 12,
};

class CompactWriter {
 public:
  explicit CompactWriter(std::string& out) : out_(out) {}

  // Scalar fields of the current struct.
  void FieldBool(int16_t id, bool value);
  void FieldI16(int16_t id, int16_t value);
  void FieldI32(int16_t id, int32_t value);
  void FieldI64(int16_t id, int64_t value);
  void FieldBinary(int16_t id, std::string_view value);
  // A struct-valued field: FieldStructBegin, its fields, StructEnd.
  void FieldStructBegin(int16_t id);
  // A list-valued field; then write `size` elements with the List* calls below (struct
  // elements: ListStructBegin ... StructEnd).
  void FieldListBegin(int16_t id, ThriftType element_type, uint32_t size);

  void ListI32(int32_t value) { WriteVarint(ZigZag(value)); }
  void ListI64(int64_t value) { WriteVarint(ZigZag(value)); }
  void ListBinary(std::string_view value);
  void ListStructBegin();

  // Writes the stop byte of the innermost open struct and returns to its parent.
  void StructEnd();

  // A top-level struct (a page header, the footer): begin, fields, StructEnd.
  void MessageBegin() { ListStructBegin(); }

 private:
  static uint64_t ZigZag(int64_t v) {
    return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  }
  void WriteVarint(uint64_t v);
  void FieldHeader(int16_t id, ThriftType type);

  std::string& out_;
  int16_t last_id_ = 0;
  std::vector<int16_t> stack_;  // the enclosing structs' last field ids
};

class CompactReader {
 public:
  explicit CompactReader(std::string_view data, int max_depth = 32)
      : data_(data), max_depth_(max_depth) {}

  // Enters a struct (the top-level message or a struct-valued field/element).
  Status StructBegin();
  // Reads the next field header of the current struct. At the stop byte sets `type` to kStop
  // and leaves the struct (no separate StructEnd call).
  Status NextField(int16_t& id, ThriftType& type);

  // Readers of a value whose type came from a field or list header. Each checks that the
  // type is the one expected and returns Corruption otherwise.
  Status ReadBool(ThriftType type, bool& value);
  Status ReadI32(ThriftType type, int32_t& value);
  Status ReadI64(ThriftType type, int64_t& value);
  Status ReadBinary(ThriftType type, std::string_view& value);
  // A list or set header; `size` is at most the number of bytes left.
  Status ReadListHeader(ThriftType type, ThriftType& element_type, uint32_t& size);
  // Skips a value of any type, nested values included (bounded by max_depth).
  Status Skip(ThriftType type);

  size_t position() const { return pos_; }

 private:
  Status Error(std::string_view what) const;
  Status ReadVarint(uint64_t& v, int max_bytes);
  Status ReadZigZag(int64_t& v, int max_bytes);
  Status SkipDepth(ThriftType type, int depth);

  std::string_view data_;
  size_t pos_ = 0;
  int max_depth_;
  int16_t last_id_ = 0;
  std::vector<int16_t> stack_;
};

}  // namespace sluice::lake
