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

std::optional<lake::ColumnType> ForJsonSchema(const nlohmann::json& property) {
  if (!property.is_object() || !property.contains("type")) return std::nullopt;
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
      const nlohmann::json schema =
          nlohmann::json::parse(latest->schema->schema, nullptr, /*allow_exceptions=*/false);
      if (schema.is_object() && schema.contains("properties") && schema["properties"].is_object()) {
        for (const auto& [name, property] : schema["properties"].items())
          if (std::optional<lake::ColumnType> type = ForJsonSchema(property)) add(name, *type);
      }
    }
  }
  if (std::none_of(columns.begin(), columns.end(),
                   [&](const lake::EventColumn& c) { return c.name == spec.event_time; }))
    columns.push_back({spec.event_time, "", lake::ColumnType::kTimestampMicros});
  return columns;
}

}  // namespace sluice::app
