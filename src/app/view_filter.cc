#include "app/view_filter.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "app/view_query.h"
#include "sql/event_fields.h"
#include "sql/expr.h"
#include "sql/functions.h"
#include "sql/parser.h"
#include "sql/query.h"

namespace sluice::app {
namespace {

bool FilterableColumn(const sql::ViewPlan& plan, std::string_view name) {
  return name == "window_start" || name == "window_end" ||
         std::find(plan.key_columns.begin(), plan.key_columns.end(), name) !=
             plan.key_columns.end();
}

std::string AllowedColumns(const sql::ViewPlan& plan) {
  std::string out;
  for (const sql::OutputColumn& c : plan.columns)
    if (FilterableColumn(plan, c.name)) out += (out.empty() ? "" : ", ") + c.name;
  return out;
}

// The compiled expression and the state one evaluation needs (guarded: one at a time).
class CompiledFilter {
 public:
  CompiledFilter(sql::CompiledExpr expr, const sql::FieldSet& fields,
                 std::vector<sql::Type> column_types)
      : expr_(std::move(expr)),
        extractor_(fields),
        column_types_(std::move(column_types)),
        columns_(column_types_.size()) {}

  bool Matches(std::string_view row_json) {
    std::lock_guard lock(mu_);
    buffer_.assign(row_json);
    buffer_.append(sql::kJsonPadding, ' ');
    if (!extractor_.Extract(std::string_view(buffer_.data(), row_json.size())).ok()) return false;
    const std::span<const sql::Value> values = extractor_.values();
    for (size_t i = 0; i < columns_.size(); ++i)
      columns_[i] = sql::CoerceValue(values[i], column_types_[i], ctx_);
    const sql::Value result = expr_.Evaluate(sql::Row{{}, columns_}, ctx_);
    const bool keep = ctx_.ok() && result.type == sql::Type::kBoolean && result.boolean;
    ctx_.Reset();
    return keep;
  }

 private:
  std::mutex mu_;
  sql::CompiledExpr expr_;
  sql::EventFieldExtractor extractor_;
  std::vector<sql::Type> column_types_;
  std::vector<sql::Value> columns_;
  sql::EvalContext ctx_;
  std::string buffer_;
};

}  // namespace

Result<store::RowFilter> CompileViewFilter(const sql::ViewPlan& plan, std::string_view where) {
  auto fail = [&](const Status& st) {
    return Status::InvalidArgument(fmt::format("where: {}", st.message()));
  };
  Result<sql::Expr> parsed = sql::ParseExpression(where);
  if (!parsed.ok()) return fail(parsed.status());
  for (const sql::Expr* ref : sql::FindColumnRefs(*parsed)) {
    const auto* column = std::get_if<sql::ColumnRef>(&ref->node);
    if (column == nullptr || column->path.empty()) continue;
    const std::string& name = column->path.front().name;
    const bool known = std::any_of(plan.columns.begin(), plan.columns.end(),
                                   [&](const sql::OutputColumn& c) { return c.name == name; });
    if (!known)
      return fail(sql::ErrorAt(ref->location,
                               fmt::format("unknown column '{}' of view '{}' (filterable columns: "
                                           "{})",
                                           name, plan.name, AllowedColumns(plan))));
    if (!FilterableColumn(plan, name))
      return fail(sql::ErrorAt(
          ref->location,
          fmt::format("column '{}' cannot be used in a filter: filters may use only the view's "
                      "key columns and window_start/window_end, whose values never change for a "
                      "row (filterable columns of '{}': {})",
                      name, plan.name, AllowedColumns(plan))));
  }
  sql::Scope scope;
  sql::FieldSet fields;
  std::vector<sql::Type> types;
  std::vector<size_t> plan_column;  // per filter column: its index among the plan's columns
  for (size_t i = 0; i < plan.columns.size(); ++i) {
    const sql::OutputColumn& c = plan.columns[i];
    if (!FilterableColumn(plan, c.name)) continue;
    scope.AddColumn(c.name, c.type, static_cast<int>(types.size()));
    fields.Add(sql::FieldPath{sql::PathStep{c.name, -1}});
    types.push_back(c.type);
    plan_column.push_back(i);
  }
  scope.SetAggregateHint("in a filter");
  Result<sql::BoundExpr> bound = sql::Bind(*parsed, scope);
  if (!bound.ok()) return fail(bound.status());
  if (bound->type != sql::Type::kBoolean && bound->type != sql::Type::kAny &&
      bound->type != sql::Type::kNull)
    return fail(sql::ErrorAt(parsed->location, "a filter must be a condition (a BOOLEAN)"));
  sql::FieldSet no_fields;  // the expression reads columns, not event fields
  Result<sql::CompiledExpr> compiled = sql::Compile(*bound, no_fields);
  if (!compiled.ok()) return fail(compiled.status());
  store::RowFilter result;
  {
    sql::Arena arena;  // the constraints' text, until they are encoded into the range
    std::vector<sql::ColumnConstraint> constraints = sql::ConstraintsOf(*bound, types, arena);
    for (sql::ColumnConstraint& c : constraints) c.column = plan_column[c.column];
    std::tie(result.from, result.to) = ViewQueryTable(plan, nullptr).KeyRange(constraints);
  }
  auto filter =
      std::make_shared<CompiledFilter>(std::move(compiled).value(), fields, std::move(types));
  result.keep = [filter](std::string_view row_json) { return filter->Matches(row_json); };
  return result;
}

}  // namespace sluice::app
