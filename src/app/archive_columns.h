// The typed columns of a stream's archive (stream/archive.h), from what the catalog knows of
// its events: the stream's declared columns, else the top-level properties of the latest JSON
// Schema of its subject.
#pragma once

#include <string_view>
#include <vector>

#include "lake/event_columns.h"
#include "schema/registry.h"
#include "sql/plan.h"

namespace sluice::app {

// Declared columns map by SQL type (VARCHAR/TEXT -> string, BIGINT/INTEGER -> int64, DOUBLE ->
// double, BOOLEAN -> boolean, TIMESTAMP -> timestamp; others are kept in _raw only). JSON
// Schema properties map by "type" ("string" with format "date-time" -> timestamp, "string" ->
// string, "integer" -> int64, "number" -> double, "boolean" -> boolean; without a "type", an
// "enum" or "const" whose values are all strings, integers, numbers or booleans gives that
// type; a local "$ref" is followed; objects and arrays are kept in _raw only). The stream's
// event-time field is always a timestamp column. `registry` may be null.
// The columns of a JSON Schema's top-level properties, as above ([] for anything that is not
// an object schema with properties).
std::vector<lake::EventColumn> ColumnsOfJsonSchema(std::string_view schema_text);

std::vector<lake::EventColumn> ArchiveColumns(const sql::StreamSpec& spec,
                                              const schema::Registry* registry);

}  // namespace sluice::app
