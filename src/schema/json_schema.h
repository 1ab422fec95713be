// JSON Schema (draft 2020-12 subset): a compiler, and a validator that checks an event in the
// same single simdjson on-demand pass that ingest uses to read it, without a DOM and without
// allocating per event once warm.
//
// What callers may rely on:
//
// * CompileJsonSchema() accepts exactly the keywords listed below and rejects everything else
//   with InvalidArgument naming the keyword and the JSON pointer of the subschema, e.g.
//   "unsupported JSON Schema keyword 'contains' at /properties/lines". A schema that compiles
//   is enforced completely: no keyword is ever silently ignored, except the annotations
//   (title, description, $comment, examples, default, deprecated, readOnly, writeOnly,
//   contentEncoding, contentMediaType, contentSchema, $anchor, $schema and $id at the root, and
//   any keyword starting with "x-").
//   Validation keywords: type, enum, const, minimum, maximum, exclusiveMinimum,
//   exclusiveMaximum, multipleOf, minLength, maxLength, pattern, format, properties, required,
//   additionalProperties, patternProperties, propertyNames, minProperties, maxProperties,
//   prefixItems, items, minItems, maxItems, uniqueItems, allOf, anyOf, oneOf, not, if, then,
//   else, $ref (local: "#", "#/$defs/...", "#/definitions/...", any JSON pointer into the
//   document; recursion allowed), $defs, definitions. Boolean schemas work everywhere.
//   Formats: date-time, date, time, iso-time, iso-date-time, email, uuid, ipv4, hostname,
//   duration, int32, int64, float, double, password, binary; any other format is a compile
//   error.
//
// * Accept/reject decisions are those of ajv 8 (`new Ajv2020({strict: false})` + ajv-formats,
//   the reference implementation of tests/e2e/schema_differential.test.js) on every JSON text
//   both accept as JSON and that has no duplicate keys, nesting of at most kMaxDepth, and no
//   property named like a member of Object.prototype ("toString", "__proto__": ajv's
//   `required` finds inherited members, its uniqueItems ignores "__proto__" strings). Numbers
//   are IEEE doubles compared by value (1 == 1.0, -0 == 0; an integer is any number without a
//   fractional part, so 1.0 is one), multipleOf is JavaScript's `x / m` rounded in double,
//   string lengths count code points, `pattern` is ECMAScript syntax searched anywhere in the
//   string (JavaScript `RegExp.test` with the "u" flag) and run by RE2: lookaround and
//   backreferences are compile errors.
//
// * Where we are stricter than JSON.parse: a key that appears twice in any object is an error
//   ("duplicate key"), because parsers disagree about which value wins and a validator must not
//   check a value other than the one consumers read. Numbers outside the double range (1e400)
//   and strings with unpaired surrogate escapes ("\ud800") are invalid JSON.
//
// * Errors name the first failure found as "<JSON pointer>: <rule>", e.g.
//   "/lines/3/qty: 0 is less than minimum 1" or "/: missing required property 'order_id'".
//   The document root is written "/" (RFC 6901 writes it as the empty string, which reads badly
//   at the start of a message). Invalid JSON is reported as "invalid JSON at byte N: ...".
//
// * uniqueItems, and enum/const members that are objects or arrays, compare values through a
//   128-bit hash of their canonical form (keys in any order, numbers by value), keyed with
//   random seeds per compiled schema so that collisions cannot be searched for offline. For
//   uniqueItems a collision could only reject; for enum/const it could accept a wrong value,
//   with probability ~2^-128 per comparison.
//
// Design, and why: every value of the event is read exactly once. At each value the validator
// holds the *set* of schema nodes that apply to it: the nodes handed down by the parent
// (properties, items, ...) plus everything reachable from them through in-place applicators
// (allOf, anyOf, oneOf, not, if/then/else, $ref). That closure is precomputed per node at
// compile time, ordered so that every node comes after the nodes its applicators depend on.
// Scalars are checked against all nodes of the set at once; for an object, each field value is
// read once and evaluated against the union of the child subschemas that the set's nodes assign
// to that key. When the value is done, each node's result is its own keywords' result folded
// with its applicators' results (in the precomputed order). So composition never re-reads the
// document, and the cost is proportional to bytes + (values x applicable nodes). Per-event state
// lives in scratch vectors owned by the validator and reused, so a warm validator performs no
// heap allocation on valid events (error messages are built only on failure).
//
// Fast paths, each giving exactly the general path's results (json_schema_validator.cc states
// their invariants; tests/schema compares them with the general path or RE2):
// * Values no node constrains (a stream without a schema, fields a schema does not name) are
//   only read, with duplicate-key detection: keys without escapes are used in place in the
//   record, hashed by a cheap fingerprint into a per-object Bloom filter and key list.
// * A value whose set is one node without applicators (nearly every value below the root) is
//   checked without frames, and so is a node whose applicators are only if/then rules that
//   require fields (the fulfilment schema's root); declared keys are found by one probe of a
//   property table (a perfect hash when a shift of the key hashes gives every key its own
//   slot, so a miss reads one slot too) and tracked by slot bits. The same slot says whether
//   a root field is a captured one and whether an if/then rule tests it.
// * Leaf values are checked inline against a 40-byte summary of their node (NodeBrief): a type
//   with nothing to check, string byte lengths that decide minLength/maxLength without counting
//   code points, minimum/maximum, the usual date-time shape, simple patterns. Anything else,
//   and every failure, goes to the full check, which names the error. The `if` subschemas of
//   if/then rules are checked without recording errors (failing them is their common outcome).
// * Anchored patterns made of ASCII classes and quantifiers (^[A-Z]{3}$, ^[0-9a-f]{32}$) run
//   without RE2, and the usual date-time shape (YYYY-MM-DDTHH:MM:SS[.fff]Z) has a word check.
//
// Cost, measured by bench/json_schema_bench.cc on 1.7 KB events of the fulfilment generator
// (2 shared cores, min of repetitions; instructions by callgrind): the on-demand walk alone
// ~1.0 us (15.6K instructions); ingest's EventParser without a schema ~1.1-1.2 us (18.8K), with
// the production fulfilment schema (app/fulfilment_schema.cc) ~1.65-1.7 us (25.5K): validation
// costs ~0.5-0.6 us and 6.8K instructions per event (docs/PERFORMANCE.md).
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "base/status.h"

namespace sluice::schema {

// An immutable compiled schema; share it freely across threads.
class CompiledSchema;

// Compiles a JSON Schema document. Errors are InvalidArgument and name the JSON pointer inside
// the schema, e.g. "invalid pattern '(' at /properties/code: missing ): (".
Result<std::shared_ptr<const CompiledSchema>> CompileJsonSchema(std::string_view schema_json);

enum class JsonType : uint8_t { kNull, kBoolean, kNumber, kString, kObject, kArray };
std::string_view JsonTypeName(JsonType type);

// A top-level field of the event that the caller asked the validator to pick out while it
// reads the event (ingest takes the event id, time and partition key from here, so the event is
// read once). Views are valid until the next Validate() call on the same validator.
struct CapturedField {
  bool present = false;
  bool duplicated = false;  // the key appeared more than once (Validate() then fails)
  JsonType type = JsonType::kNull;
  // Strings: the unescaped value. Numbers, true, false, null: the token as written.
  // Objects and arrays: empty.
  std::string_view text;
};

// Validates events against one compiled schema. Not thread-safe: keep one per thread. Reuses
// its buffers across events.
class JsonSchemaValidator {
 public:
  static constexpr size_t kMaxCapturedFields = 4;
  // Nesting deeper than this (in the event) is rejected.
  static constexpr int kMaxDepth = 64;

  // `captured_fields`: up to kMaxCapturedFields top-level field names to report through
  // captured(); more are ignored.
  explicit JsonSchemaValidator(std::shared_ptr<const CompiledSchema> schema,
                               std::span<const std::string> captured_fields = {});
  ~JsonSchemaValidator();
  JsonSchemaValidator(const JsonSchemaValidator&) = delete;
  JsonSchemaValidator& operator=(const JsonSchemaValidator&) = delete;

  // Validates one JSON value. `record` must be followed by at least
  // simdjson::SIMDJSON_PADDING readable bytes (they need not be zero). Returns OK, or
  // InvalidArgument with "invalid JSON at byte N: ..." or "<pointer>: <rule>". Content after
  // the root value (other than whitespace) is invalid JSON.
  Status Validate(std::string_view record);

  // The captured fields of the last Validate(), in the order of `captured_fields`. Filled also
  // when the event fails validation; partial (the fields before the error) for invalid JSON.
  const CapturedField& captured(size_t i) const { return captured_[i]; }
  size_t captured_count() const { return captured_names_.size(); }

 private:
  class Walker;
  std::shared_ptr<const CompiledSchema> schema_;
  std::vector<std::string> captured_names_;
  std::array<CapturedField, kMaxCapturedFields> captured_{};
  simdjson::ondemand::parser parser_;
  std::unique_ptr<Walker> walker_;  // the scratch state of one validation, reused
};

}  // namespace sluice::schema
