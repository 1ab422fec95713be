// Avro schemas: parsed for well-formedness so the registry can refuse a malformed one, and kept
// as a graph for the schema-resolution check in compatibility.h. Sluice does not encode or
// decode Avro data; it stores Avro schemas for Confluent clients.
//
// What callers may rely on:
// - ParseAvroSchema() accepts what the Avro 1.11 specification allows: primitive type names,
//   records (and "error"), enums, arrays, maps, unions, fixed, references to named types defined
//   earlier (with namespaces and aliases), logicalType annotations (ignored, as Avro ignores an
//   unknown one). Field defaults are checked against the field's type (a union's default may
//   match any branch). Anything else is InvalidArgument naming the JSON path, e.g.
//   "/fields/1/type: unknown type 'strnig'".
// - An AvroSchema is immutable after parsing and safe to share across threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"

namespace sluice::schema {

struct AvroNode {
  enum class Kind {
    kNull,
    kBoolean,
    kInt,
    kLong,
    kFloat,
    kDouble,
    kBytes,
    kString,
    kRecord,
    kEnum,
    kArray,
    kMap,
    kUnion,
    kFixed,
  };
  struct Field {
    std::string name;
    std::vector<std::string> aliases;
    const AvroNode* type = nullptr;
    bool has_default = false;
  };

  Kind kind = Kind::kNull;
  std::string full_name;                  // named types (record, enum, fixed)
  std::vector<std::string> aliases;       // full names
  std::vector<Field> fields;              // record
  std::vector<std::string> symbols;       // enum
  bool has_enum_default = false;          // enum
  const AvroNode* items = nullptr;        // array items, map values
  std::vector<const AvroNode*> branches;  // union
  int64_t size = 0;                       // fixed
};

// "record", "string", ... as Avro writes the kind.
const char* AvroKindName(AvroNode::Kind kind);

class AvroSchema {
 public:
  const AvroNode& root() const { return *root_; }

 private:
  friend class AvroParser;
  std::vector<std::unique_ptr<AvroNode>> nodes_;
  const AvroNode* root_ = nullptr;
};

Result<std::shared_ptr<const AvroSchema>> ParseAvroSchema(const nlohmann::json& schema);

}  // namespace sluice::schema
