// Avro object container files (Avro 1.11 specification, binary encoding): the format of
// Iceberg's manifests and manifest lists.
//
// What a caller may rely on:
// - AvroWriter writes a standard container file: "Obj\x01", a metadata map holding
//   `avro.schema` (the schema JSON as given, re-serialized compactly), `avro.codec` = "null"
//   and the caller's key/values, a 16-byte random sync marker, then blocks of at most
//   `records_per_block` records, each followed by the sync marker. Records are checked
//   against the schema as they are appended; a mismatch is an InvalidArgument naming the
//   field path, and nothing of that record is kept.
// - Supported schema types: null, boolean, int, long, float, double, bytes, string, record,
//   array, map, union, and references to named records defined earlier. Extra attributes
//   (Iceberg's "field-id", "logicalType", "default", "doc") are kept in the schema text and
//   otherwise ignored. enum and fixed are not supported (InvalidArgument).
// - ReadAvroContainer accepts hostile input: any malformed byte (bad magic, truncated
//   varint, a length past the end, a sync marker mismatch, a union branch out of range, a
//   codec other than "null", a schema that does not parse) is a Corruption or
//   InvalidArgument Status, never a crash. Work is bounded: the schema nests at most
//   kMaxAvroDepth deep, and a file decodes to at most `max_values` values in total.
// - Not thread-safe; values are plain data.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace sluice::lake::avro {

inline constexpr int kMaxAvroDepth = 32;

enum class Type {
  kNull,
  kBoolean,
  kInt,
  kLong,
  kFloat,
  kDouble,
  kBytes,
  kString,
  kRecord,
  kArray,
  kMap,
  kUnion,
};

struct Schema;
using SchemaPtr = std::shared_ptr<const Schema>;

struct SchemaField {
  std::string name;
  SchemaPtr schema;
};

struct Schema {
  Type type = Type::kNull;
  std::string name;                 // records
  std::vector<SchemaField> fields;  // records
  SchemaPtr items;                  // arrays: the item type; maps: the value type
  std::vector<SchemaPtr> branches;  // unions
};

// Parses an Avro schema from its JSON text.
Result<SchemaPtr> ParseSchema(std::string_view json);

// A decoded value. `type` is the value's own type (for a union: the chosen branch's type,
// with `branch` its index). Integers of both widths live in `i`, float and double in `d`,
// strings and bytes in `s`, record fields (in schema order), array items and map values in
// `items`, map keys in `keys` (keys[i] belongs to items[i]).
struct Value {
  Type type = Type::kNull;
  uint32_t branch = 0;
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::string s;
  std::vector<Value> items;
  std::vector<std::string> keys;

  static Value Null() { return {}; }
  static Value Boolean(bool v) {
    Value x;
    x.type = Type::kBoolean;
    x.b = v;
    return x;
  }
  static Value Int(int32_t v) {
    Value x;
    x.type = Type::kInt;
    x.i = v;
    return x;
  }
  static Value Long(int64_t v) {
    Value x;
    x.type = Type::kLong;
    x.i = v;
    return x;
  }
  static Value Float(float v) {
    Value x;
    x.type = Type::kFloat;
    x.d = v;
    return x;
  }
  static Value Double(double v) {
    Value x;
    x.type = Type::kDouble;
    x.d = v;
    return x;
  }
  static Value String(std::string v) {
    Value x;
    x.type = Type::kString;
    x.s = std::move(v);
    return x;
  }
  static Value Bytes(std::string v) {
    Value x;
    x.type = Type::kBytes;
    x.s = std::move(v);
    return x;
  }
  static Value Record(std::vector<Value> fields) {
    Value x;
    x.type = Type::kRecord;
    x.items = std::move(fields);
    return x;
  }
  static Value Array(std::vector<Value> items) {
    Value x;
    x.type = Type::kArray;
    x.items = std::move(items);
    return x;
  }
  static Value Map(std::vector<std::string> keys, std::vector<Value> values) {
    Value x;
    x.type = Type::kMap;
    x.keys = std::move(keys);
    x.items = std::move(values);
    return x;
  }
  // A union slot takes the value as it is: the writer tries the branch `branch` names, then
  // the first branch of the value's type (so ["null","long"] takes Null() or Long(..)).

  // The field of a record value by schema position; nullptr when out of range.
  const Value* Field(size_t index) const { return index < items.size() ? &items[index] : nullptr; }
};

// Writes one container file into memory.
class AvroWriter {
 public:
  // `schema_json` must describe a record. `metadata` is added to the header after
  // avro.schema and avro.codec.
  static Result<std::unique_ptr<AvroWriter>> Create(
      std::string_view schema_json, std::vector<std::pair<std::string, std::string>> metadata,
      size_t records_per_block = 4096);

  Status Append(const Value& record);
  size_t records() const { return records_; }
  // The whole file. The writer is finished afterwards.
  std::string Finish();

 private:
  AvroWriter() = default;
  void FlushBlock();

  SchemaPtr schema_;
  std::string out_;
  std::string block_;
  std::string sync_;
  size_t records_per_block_ = 0;
  size_t block_records_ = 0;
  size_t records_ = 0;
};

struct AvroFile {
  std::string schema_json;
  SchemaPtr schema;
  std::map<std::string, std::string> metadata;  // without avro.schema and avro.codec
  std::vector<Value> records;
};

Result<AvroFile> ReadAvroContainer(std::string_view bytes, size_t max_values = 1 << 22);

// Index of the record field called `name`, or -1.
int FieldIndex(const Schema& record, std::string_view name);

// Binary encoding primitives, exposed for tests.
void AppendVarLong(std::string& out, int64_t v);

}  // namespace sluice::lake::avro
