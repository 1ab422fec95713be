// The archive's typed columns from a JSON Schema (app/archive_columns.h): types, enums and
// consts, local references, and what stays in _raw only.
#include "app/archive_columns.h"

#include <gtest/gtest.h>

#include "app/fulfilment_schema.h"

namespace sluice::app {
namespace {

std::string Describe(const std::vector<lake::EventColumn>& columns) {
  std::string out;
  for (const lake::EventColumn& c : columns)
    out += c.name + ":" + std::string(lake::ColumnTypeName(c.type)) + " ";
  return out;
}

TEST(ArchiveColumns, TypesEnumsConstsAndReferences) {
  const std::string schema = R"({
    "$defs": {"currency": {"type": "string", "pattern": "^[A-Z]{3}$"}, "loop": {"$ref": "#/$defs/loop"}},
    "type": "object",
    "properties": {
      "id": {"type": "string"},
      "at": {"type": ["string", "null"], "format": "date-time"},
      "n": {"type": "integer"},
      "x": {"type": "number"},
      "ok": {"type": "boolean"},
      "kind": {"enum": ["a", "b", null]},
      "level": {"enum": [1, 2, 3]},
      "ratio": {"enum": [1, 2.5]},
      "mixed": {"enum": ["a", 1]},
      "fixed": {"const": "v1"},
      "currency": {"$ref": "#/$defs/currency"},
      "dangling": {"$ref": "#/$defs/nothing"},
      "remote": {"$ref": "https://example.com/schema.json"},
      "loop": {"$ref": "#/$defs/loop"},
      "nested": {"type": "object", "properties": {"a": {"type": "string"}}},
      "list": {"type": "array"},
      "either": {"type": ["string", "integer"]}
    }
  })";
  // In name order (how the schema's properties are read).
  EXPECT_EQ(Describe(ColumnsOfJsonSchema(schema)),
            "at:timestamp currency:string fixed:string id:string kind:string level:int64 "
            "n:int64 ok:boolean ratio:double x:double ");
  EXPECT_TRUE(ColumnsOfJsonSchema("not json").empty());
  EXPECT_TRUE(ColumnsOfJsonSchema(R"({"type":"string"})").empty());
}

TEST(ArchiveColumns, TheFulfilmentSchemaKeepsItsEventTypeCurrencyAndSeverity) {
  const std::string columns = Describe(ColumnsOfJsonSchema(FulfilmentSchemaJson()));
  for (const char* expected : {"event_id:string", "event_type:string", "occurred_at:timestamp",
                               "warehouse_id:string", "order_id:string", "amount_minor:int64",
                               "currency:string", "severity:string", "requires_action:boolean"})
    EXPECT_NE(columns.find(expected), std::string::npos) << expected << " in " << columns;
}

}  // namespace
}  // namespace sluice::app
