// libFuzzer target: arbitrary bytes as a JSON Schema and an event, split at the first NUL byte
// (without one, the input is tried both as a schema and as an event for a fixed schema that
// uses most keywords). Compiling must never crash or hang; when the schema compiles, validating
// the event must not either, and every failure must come with a message.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "schema/json_schema.h"

namespace {

constexpr std::string_view kFixedSchema = R"({
  "type": "object", "required": ["id"],
  "properties": {
    "id": {"type": "string", "pattern": "^[a-z]+-\\d+$", "maxLength": 20},
    "at": {"format": "date-time"}, "n": {"type": "integer", "multipleOf": 0.5, "minimum": -1},
    "tags": {"type": "array", "uniqueItems": true, "items": {"enum": ["a", "b", {"c": [1]}]}},
    "tree": {"$ref": "#/$defs/tree"},
    "kind": {"oneOf": [{"const": "x"}, {"type": "number"}, {"not": {"type": "null"}}]}
  },
  "patternProperties": {"^x-": {"type": "boolean"}},
  "propertyNames": {"maxLength": 16},
  "if": {"required": ["amount"]}, "then": {"properties": {"amount": {"type": "integer"}}},
  "$defs": {"tree": {"type": "object", "properties": {
    "children": {"type": "array", "items": {"$ref": "#/$defs/tree"}}}}}
})";

void Validate(const std::shared_ptr<const sluice::schema::CompiledSchema>& schema,
              std::string_view event) {
  // The validator's contract: SIMDJSON_PADDING readable bytes after the record, no more.
  std::string record(event);
  record.reserve(record.size() + simdjson::SIMDJSON_PADDING);
  static const std::string kNames[] = {"id", "at", "n"};
  sluice::schema::JsonSchemaValidator validator(schema, kNames);
  for (int pass = 0; pass < 2; ++pass) {  // twice: the second run reuses warm buffers
    sluice::Status st = validator.Validate(record);
    if (!st.ok() && st.message().empty()) __builtin_trap();
    for (size_t i = 0; i < validator.captured_count(); ++i) {
      std::string_view text = validator.captured(i).text;
      if (text.empty()) continue;
      // Captured views point into the record or the parser's string buffer: must be readable.
      volatile char first = text.front(), last = text.back();
      (void)first;
      (void)last;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  static const auto fixed = sluice::schema::CompileJsonSchema(kFixedSchema).value();
  size_t nul = input.find('\0');
  if (nul == std::string_view::npos) {
    Validate(fixed, input);
    auto compiled = sluice::schema::CompileJsonSchema(input);
    if (!compiled.ok() && compiled.status().message().empty()) __builtin_trap();
    return 0;
  }
  auto compiled = sluice::schema::CompileJsonSchema(input.substr(0, nul));
  if (!compiled.ok()) {
    if (compiled.status().message().empty()) __builtin_trap();
    return 0;
  }
  Validate(compiled.value(), input.substr(nul + 1));
  return 0;
}
