#include "app/view_query.h"

#include <string>

namespace sluice::app {

using Json = nlohmann::ordered_json;

ViewQueryTable::ViewQueryTable(const sql::ViewPlan& plan, std::shared_ptr<const store::View> view)
    : view_(std::move(view)) {
  for (const sql::OutputColumn& c : plan.columns) columns_.push_back({c.name, c.type});
}

uint64_t ViewQueryTable::Scan(const std::function<void(std::string_view row_json)>& row) const {
  // Copy the rows under the view's lock (into one buffer) and evaluate after it: the pipeline's
  // next delta waits for a copy, not for the query.
  std::string text;
  std::vector<size_t> ends;
  ends.reserve(view_->row_count());
  const uint64_t version = view_->ForEachRow([&](const std::string& json) {
    text += json;
    ends.push_back(text.size());
  });
  size_t begin = 0;
  for (size_t end : ends) {
    row(std::string_view(text).substr(begin, end - begin));
    begin = end;
  }
  return version;
}

namespace {

Json ValueJson(const sql::Value& v, std::string& scratch) {
  switch (v.type) {
    case sql::Type::kNull:
    case sql::Type::kAny:
      return nullptr;
    case sql::Type::kBoolean:
      return v.boolean;
    case sql::Type::kBigint:
      return v.integer;
    case sql::Type::kDouble:
      return v.real;  // non-finite values become null
    case sql::Type::kVarchar:
      return std::string(v.str());
    case sql::Type::kJson: {
      Json parsed = Json::parse(v.str(), nullptr, /*allow_exceptions=*/false);
      return parsed.is_discarded() ? Json(std::string(v.str())) : parsed;
    }
    case sql::Type::kTimestamp:
    case sql::Type::kDate:
    case sql::Type::kInterval:
      // The text forms of value.h's AppendJson: a quoted string without escapes.
      scratch.clear();
      sql::AppendJson(scratch, v);
      return scratch.size() >= 2 ? scratch.substr(1, scratch.size() - 2) : scratch;
  }
  return nullptr;
}

}  // namespace

void WriteQueryResult(const sql::QueryResult& result, Json& out) {
  if (!result.view.empty()) {
    out["view"] = result.view;
    out["version"] = result.view_version;
  }
  if (!result.scan_details.empty()) {
    Json scan = Json::object();
    for (const auto& [name, value] : result.scan_details) scan[name] = value;
    out["scan"] = std::move(scan);
  }
  Json columns = Json::array();
  Json types = Json::array();
  for (const sql::QueryColumn& c : result.columns) {
    columns.push_back(c.name);
    types.push_back(sql::TypeName(c.type));
  }
  out["columns"] = std::move(columns);
  out["types"] = std::move(types);
  Json rows = Json::array();
  std::string scratch;
  for (size_t r = 0; r < result.row_count(); ++r) {
    Json row = Json::array();
    for (const sql::Value& v : result.row(r)) row.push_back(ValueJson(v, scratch));
    rows.push_back(std::move(row));
  }
  out["rows"] = std::move(rows);
}

}  // namespace sluice::app
