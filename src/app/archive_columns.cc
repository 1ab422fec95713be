#include "app/archive_columns.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace sluice::app {
namespace {

std::optional<lake::ColumnType> ForSqlType(sql::Type type) {
  switch (type) {
    case sql::Type::kVarchar:
      return lake::ColumnType::kString;
    case sql::Type::kBigint:
      return lake::ColumnType::kInt64;
    case sql::Type::kDouble:
      return lake::ColumnType::kDouble;
    case sql::Type::kBoolean:
      return lake::ColumnType::kBool;
    case sql::Type::kTimestamp:
      return lake::ColumnType::kTimestampMicros;
    default:
      return std::nullopt;
  }
}

// The column type of a list of enum/const values: all strings, all integers, all numbers or
// all booleans (nulls aside); anything else has none.
std::optional<lake::ColumnType> ForValues(const std::vector<nlohmann::json>& values) {
  std::optional<lake::ColumnType> type;
  for (const nlohmann::json& v : values) {
    std::optional<lake::ColumnType> t;
    if (v.is_null()) continue;
    if (v.is_string()) t = lake::ColumnType::kString;
    if (v.is_number_integer()) t = lake::ColumnType::kInt64;
    if (v.is_number_float()) t = lake::ColumnType::kDouble;
    if (v.is_boolean()) t = lake::ColumnType::kBool;
    if (!t) return std::nullopt;
    if (type && *type != *t) {
      // Integers and other numbers together are doubles.
      const bool numbers =
          (*type == lake::ColumnType::kInt64 || *type == lake::ColumnType::kDouble) &&
          (*t == lake::ColumnType::kInt64 || *t == lake::ColumnType::kDouble);
      if (!numbers) return std::nullopt;
      t = lake::ColumnType::kDouble;
    }
    type = t;
  }
  return type;
}

// The column type of a property's schema: its "type" (with "null" allowed besides one other),
// else its enum or const values; a local "$ref" (#/$defs/..., #/definitions/...) is followed.
std::optional<lake::ColumnType> ForJsonSchema(const nlohmann::json& root,
                                              const nlohmann::json& property, int depth = 0) {
  if (!property.is_object() || depth > 8) return std::nullopt;
  if (auto ref = property.find("$ref"); ref != property.end() && ref->is_string()) {
    const std::string pointer = ref->get<std::string>();
    if (!pointer.starts_with("#/")) return std::nullopt;
    try {
      return ForJsonSchema(root, root.at(nlohmann::json::json_pointer(pointer.substr(1))),
                           depth + 1);
    } catch (const nlohmann::json::exception&) {  // a dangling or malformed reference
      return std::nullopt;
    }
  }
  if (!property.contains("type")) {
    if (auto e = property.find("enum"); e != property.end() && e->is_array() && !e->empty())
      return ForValues(e->get<std::vector<nlohmann::json>>());
    if (auto c = property.find("const"); c != property.end()) return ForValues({*c});
    return std::nullopt;
  }
  std::string type;
  const nlohmann::json& t = property["type"];
  if (t.is_string()) {
    type = t.get<std::string>();
  } else if (t.is_array()) {  // ["string", "null"]: the one that is not null
    for (const nlohmann::json& item : t)
      if (item.is_string() && item.get<std::string>() != "null") {
        if (!type.empty()) return std::nullopt;
        type = item.get<std::string>();
      }
  }
  if (type == "string")
    return property.value("format", "") == "date-time" ? lake::ColumnType::kTimestampMicros
                                                       : lake::ColumnType::kString;
  if (type == "integer") return lake::ColumnType::kInt64;
  if (type == "number") return lake::ColumnType::kDouble;
  if (type == "boolean") return lake::ColumnType::kBool;
  return std::nullopt;
}

}  // namespace

std::vector<lake::EventColumn> ColumnsOfJsonSchema(std::string_view schema_text) {
  std::vector<lake::EventColumn> columns;
  const nlohmann::json schema =
      nlohmann::json::parse(schema_text, nullptr, /*allow_exceptions=*/false);
  if (!schema.is_object() || !schema.contains("properties") || !schema["properties"].is_object())
    return columns;
  for (const auto& [name, property] : schema["properties"].items())
    if (std::optional<lake::ColumnType> type = ForJsonSchema(schema, property))
      columns.push_back({name, "", *type});
  return columns;
}

std::vector<lake::EventColumn> ArchiveColumns(const sql::StreamSpec& spec,
                                              const schema::Registry* registry) {
  std::vector<lake::EventColumn> columns;
  auto add = [&](const std::string& name, lake::ColumnType type) {
    if (name.empty() || name == lake::kRawColumn || name.starts_with('_')) return;
    const bool event_time = name == spec.event_time;
    columns.push_back({name, "", event_time ? lake::ColumnType::kTimestampMicros : type});
  };
  if (!spec.columns.empty()) {
    for (const sql::StreamColumn& c : spec.columns)
      if (std::optional<lake::ColumnType> type = ForSqlType(c.type)) add(c.name, *type);
  } else if (registry != nullptr && !spec.subject.empty()) {
    if (auto latest = registry->Latest(spec.subject);
        latest && latest->schema && latest->schema->type == schema::SchemaType::kJson) {
      for (const lake::EventColumn& c : ColumnsOfJsonSchema(latest->schema->schema))
        add(c.name, c.type);
    }
  }
  if (std::none_of(columns.begin(), columns.end(),
                   [&](const lake::EventColumn& c) { return c.name == spec.event_time; }))
    columns.push_back({spec.event_time, "", lake::ColumnType::kTimestampMicros});
  return columns;
}

}  // namespace sluice::app
