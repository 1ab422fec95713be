#include "app/view_query.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <string>

#include <spdlog/spdlog.h>

#include "sql/functions.h"
#include "stream/aggregation.h"

namespace sluice::app {

using Json = nlohmann::ordered_json;

ViewQueryTable::ViewQueryTable(const sql::ViewPlan& plan, std::shared_ptr<const store::View> view)
    : view_(std::move(view)) {
  key_count_ = plan.keys.size();
  windowed_ = plan.window.kind != sql::WindowKind::kNone;
  for (size_t i = 0; i < plan.columns.size(); ++i) {
    const sql::OutputColumn& c = plan.columns[i];
    columns_.push_back({c.name, c.type});
    const bool plain = c.expr.kind == sql::BoundExpr::Kind::kColumn;
    key_of_column_.push_back(
        plain && c.expr.column >= 0 && c.expr.column < static_cast<int>(key_count_) ? c.expr.column
                                                                                    : -1);
    if (plain && windowed_ && c.expr.column == plan.window_start_column() &&
        window_start_column_ < 0)
      window_start_column_ = static_cast<int>(i);
  }
}

uint64_t ViewQueryTable::Scan(const std::function<void(std::string_view row_json)>& row) const {
  Result<sql::ValueScanInfo> info = ScanWithin({}, row);
  if (info.ok()) return info->version;
  // The engine reads through ScanWithin, which fails the query; this interface cannot.
  spdlog::error("view {}: reading its rows: {}", view_->name(), info.status().ToString());
  return view_->version();
}

namespace {

// The smallest key greater than every key starting with `prefix`; empty when there is none.
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xFF) prefix.pop_back();
  if (!prefix.empty()) prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

}  // namespace

std::pair<std::string, std::string> ViewQueryTable::KeyRange(
    const std::vector<sql::ColumnConstraint>& constraints) const {
  // An equality fixes a key when its value encodes as the stored keys do: the same type.
  auto fixed_value = [&](size_t key) -> const sql::Value* {
    for (const sql::ColumnConstraint& c : constraints) {
      if (c.column >= key_of_column_.size() || key_of_column_[c.column] != static_cast<int>(key))
        continue;
      if (!c.lower || !c.upper || !c.lower_inclusive || !c.upper_inclusive) continue;
      if (sql::CompareValues(*c.lower, *c.upper) != 0) continue;
      const sql::Type column_type = columns_[c.column].type;
      const sql::Type value_type = c.lower->type;
      const bool same = value_type == column_type ||
                        (column_type == sql::Type::kAny && value_type == sql::Type::kVarchar);
      if (same && value_type != sql::Type::kDouble) return &*c.lower;
    }
    return nullptr;
  };
  std::string prefix;
  size_t fixed = 0;
  for (; fixed < key_count_; ++fixed) {
    const sql::Value* v = fixed_value(fixed);
    if (v == nullptr) break;
    stream::AppendKeyValue(prefix, *v);
  }
  if (fixed < key_count_ || !windowed_ || window_start_column_ < 0)
    return {prefix, PrefixEnd(prefix)};
  std::optional<int64_t> from, to;  // window starts, [from, to)
  for (const sql::ColumnConstraint& c : constraints) {
    if (static_cast<int>(c.column) != window_start_column_) continue;
    if (c.lower && c.lower->type == sql::Type::kTimestamp) {
      const int64_t start = c.lower->integer + (c.lower_inclusive ? 0 : 1);
      from = from ? std::max(*from, start) : start;
    }
    if (c.upper && c.upper->type == sql::Type::kTimestamp &&
        c.upper->integer < std::numeric_limits<int64_t>::max()) {
      const int64_t end = c.upper->integer + (c.upper_inclusive ? 1 : 0);
      to = to ? std::min(*to, end) : end;
    }
  }
  std::string begin = prefix;
  if (from) stream::AppendKeyWindowStart(begin, *from);
  std::string end = prefix;
  if (to) {
    stream::AppendKeyWindowStart(end, *to);
  } else {
    end = PrefixEnd(prefix);
  }
  if (!end.empty() && end < begin) end = begin;  // an empty range
  return {begin, end};
}

Result<sql::ValueScanInfo> ViewQueryTable::ScanWithin(
    const std::vector<sql::ColumnConstraint>& constraints,
    const std::function<void(std::string_view row_json)>& row) const {
  const auto [from, to] = KeyRange(constraints);
  sql::ValueScanInfo info;
  int64_t rows_read = 0;
  if (view_->store_backed()) {
    // Read from a snapshot outside the view's lock: evaluated as they are read.
    SLUICE_ASSIGN_OR_RETURN(info.version,
                            view_->ScanRows(from, to, [&](std::string_view, std::string_view json) {
                              ++rows_read;
                              row(json);
                              return true;
                            }));
  } else {
    // Read under the view's lock: copy the rows (into one buffer) and evaluate after, so the
    // pipeline's next delta waits for a copy, not for the query.
    std::string text;
    std::vector<size_t> ends;
    SLUICE_ASSIGN_OR_RETURN(info.version,
                            view_->ScanRows(from, to, [&](std::string_view, std::string_view json) {
                              text += json;
                              ends.push_back(text.size());
                              return true;
                            }));
    size_t begin = 0;
    for (size_t end : ends) {
      ++rows_read;
      row(std::string_view(text).substr(begin, end - begin));
      begin = end;
    }
  }
  if (!from.empty() || !to.empty()) {
    info.details.emplace_back("rows_read", rows_read);
    info.details.emplace_back("key_range", 1);
  }
  return info;
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
