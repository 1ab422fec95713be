// Schema evolution checks: can a reader holding one schema read data written with another?
//
// Internal to the schema module (the registry and its tests); everything else goes through
// Registry. The rules follow Confluent Schema Registry so that a change it accepts or refuses is
// accepted or refused here too; docs/schema-registry.md lists them and where Sluice differs.
//
// What callers may rely on:
// - Both checkers return the reasons the reader cannot read every value the writer accepts, one
//   SchemaDifference each, in a deterministic order (schema order, properties sorted by name).
//   An empty vector means compatible.
// - `writer_name` / `reader_name` ("old", "new") are only used to word the descriptions.
// - They never throw on any input the registry accepted; recursion through $ref (JSON Schema)
//   or named types (Avro) terminates.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace sluice::schema {

class AvroSchema;

// Confluent's compatibilityPolicy: LENIENT also accepts the JSON Schema changes that are safe
// only if producers never send properties the old schema did not declare (an optional property
// added to an open content model, a property removed from a closed one, ...).
enum class CompatibilityPolicy : uint8_t { kStrict, kLenient };

// One reason a reader schema cannot read data written with a writer schema.
struct SchemaDifference {
  std::string type;         // Confluent's name for the change, e.g. "REQUIRED_ATTRIBUTE_ADDED"
  std::string path;         // JSON pointer of the place in the schema, "/" for the root
  std::string description;  // "<path>: <what changed and whom it breaks>"

  // Confluent's rendering: {errorType:"<type>", description:"<description>"}
  std::string ToString() const;
};

// JSON Schema (documents already accepted by CompileJsonSchema). `writer` and `reader` are whole
// documents; local $refs resolve within each.
std::vector<SchemaDifference> JsonSchemaReadProblems(const nlohmann::json& writer,
                                                     const nlohmann::json& reader,
                                                     CompatibilityPolicy policy,
                                                     std::string_view writer_name,
                                                     std::string_view reader_name);

// Avro schema resolution (the Avro specification's rules, as Avro's SchemaCompatibility applies
// them).
std::vector<SchemaDifference> AvroReadProblems(const AvroSchema& writer, const AvroSchema& reader,
                                               std::string_view writer_name,
                                               std::string_view reader_name);

}  // namespace sluice::schema
