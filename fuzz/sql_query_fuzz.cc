// libFuzzer target: arbitrary SQL text as queries over views (sql/query.h). Planning and running
// a query must never crash, hang or overflow the stack, whatever the query and whatever odd
// values the view's rows hold; a failure must carry a "line L, column C: ..." message; a result
// must have one value per column in every row and respect LIMIT.
//
// `lake.l` is a table scanned by values (as the lake is): the columns and constraints the
// engine hands it must be well formed, and pruning must be sound: the query runs twice, over a
// table that skips every row outside the constraints and over one that skips nothing; when the
// second succeeds, the first must give the same result (skipping may only hide data errors of
// rows that could not match).
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sql/functions.h"
#include "sql/parser.h"
#include "sql/query.h"

namespace {

using namespace sluice::sql;

class Table : public QueryTable {
 public:
  Table(std::vector<QueryColumn> columns, std::vector<std::string> rows)
      : columns_(std::move(columns)), rows_(std::move(rows)) {}
  const std::vector<QueryColumn>& columns() const override { return columns_; }
  uint64_t Scan(const std::function<void(std::string_view)>& row) const override {
    for (const std::string& r : rows_) row(r);
    return 1;
  }

 private:
  std::vector<QueryColumn> columns_;
  std::vector<std::string> rows_;
};

// Typed rows with extremes and NULLs; `prune` skips rows outside the constraints.
class ValueTable : public QueryTable {
 public:
  explicit ValueTable(bool prune) : prune_(prune) {
    columns_ = {{"t", Type::kTimestamp},
                {"n", Type::kBigint},
                {"x", Type::kDouble},
                {"s", Type::kVarchar},
                {"b", Type::kBoolean}};
    const int64_t t0 = 1795766400ll * 1'000'000;
    rows_ = {
        {Value::Timestamp(t0), Value::Bigint(1), Value::Double(0.5), Value::Varchar("a"),
         Value::Boolean(true)},
        {Value::Timestamp(t0 + 3'600'000'000), Value::Bigint(9223372036854775807),
         Value::Double(-0.0), Value::Varchar(""), Value::Boolean(false)},
        {Value(), Value::Bigint(-9223372036854775807 - 1), Value::Double(1e308),
         Value::Varchar("WH-Z\xc3\xbcrich"), Value()},
        {Value::Timestamp(-1), Value(), Value(), Value(), Value::Boolean(true)},
        {Value::Timestamp(t0 + 1), Value::Bigint(0), Value::Double(-2.5), Value::Varchar("12"),
         Value::Boolean(false)},
    };
  }
  const std::vector<QueryColumn>& columns() const override { return columns_; }
  uint64_t Scan(const std::function<void(std::string_view)>&) const override {
    __builtin_trap();  // a value table is never scanned as JSON
  }
  bool ScansValues() const override { return true; }
  sluice::Result<ValueScanInfo> ScanValues(
      const ValueScanRequest& request,
      const std::function<bool(std::span<const Value>)>& row) const override {
    for (size_t i = 0; i < request.columns.size(); ++i)
      if (request.columns[i] >= columns_.size() ||
          (i > 0 && request.columns[i] <= request.columns[i - 1]))
        __builtin_trap();
    for (const ColumnConstraint& c : request.constraints) {
      if (c.column >= columns_.size() || (!c.lower && !c.upper)) __builtin_trap();
      const Type type = columns_[c.column].type;
      for (const std::optional<Value>& bound : {c.lower, c.upper}) {
        if (!bound) continue;
        const bool fits = IsNumeric(type) ? IsNumeric(bound->type) : bound->type == type;
        if (!fits) __builtin_trap();
      }
    }
    std::vector<Value> values(columns_.size());
    for (const std::vector<Value>& r : rows_) {
      if (prune_ && !Satisfies(r, request.constraints)) continue;
      for (size_t c : request.columns) values[c] = r[c];
      if (!row(values)) break;
    }
    return ValueScanInfo{};
  }

 private:
  static bool Satisfies(const std::vector<Value>& r, const std::vector<ColumnConstraint>& cs) {
    for (const ColumnConstraint& c : cs) {
      const Value& v = r[c.column];
      if (v.is_null()) return false;
      if (c.lower) {
        const int cmp = CompareValues(v, *c.lower);
        if (cmp == kIncomparable || cmp < 0 || (cmp == 0 && !c.lower_inclusive)) return false;
      }
      if (c.upper) {
        const int cmp = CompareValues(v, *c.upper);
        if (cmp == kIncomparable || cmp > 0 || (cmp == 0 && !c.upper_inclusive)) return false;
      }
    }
    return true;
  }

  bool prune_;
  std::vector<QueryColumn> columns_;
  std::vector<std::vector<Value>> rows_;
};

class Catalog : public QueryCatalog {
 public:
  explicit Catalog(bool prune = false) : lake_(std::make_shared<ValueTable>(prune)) {
    // Typed columns holding values of other types, text that is not a time, huge numbers,
    // nested JSON, missing members and a row that is not JSON at all.
    views_["v"] = std::make_shared<Table>(
        std::vector<QueryColumn>{{"k", Type::kAny},
                                 {"t", Type::kTimestamp},
                                 {"n", Type::kBigint},
                                 {"x", Type::kDouble},
                                 {"s", Type::kVarchar},
                                 {"j", Type::kJson}},
        std::vector<std::string>{
            R"({"k":"a","t":"2026-11-25T08:00:00Z","n":1,"x":0.5,"s":"x","j":{"a":[1,2]}})",
            R"({"k":1,"t":"nope","n":9223372036854775807,"x":1e308,"s":null,"j":[]})",
            R"({"k":null,"t":null,"n":-9223372036854775808,"x":-0.0,"s":"","j":null})",
            R"({"k":true,"n":"text","x":"nan","s":5,"j":"s"})",
            R"({})",
            R"([1,2,3])",
        });
  }
  std::shared_ptr<const QueryTable> FindView(std::string_view name) const override {
    auto it = views_.find(std::string(name));
    return it == views_.end() ? nullptr : it->second;
  }
  std::vector<std::string> ViewNames() const override { return {"v"}; }
  bool IsStream(std::string_view name) const override { return name == "s"; }
  sluice::Result<std::shared_ptr<const QueryTable>> FindLakeTable(
      std::string_view name, const std::optional<AsOf>& as_of) const override {
    if (name != "l") return std::shared_ptr<const QueryTable>();
    if (as_of && as_of->kind == AsOf::Kind::kVersion && as_of->value < 0)
      return sluice::Status::InvalidArgument("no such snapshot");
    return std::shared_ptr<const QueryTable>(lake_);
  }
  std::vector<std::string> LakeTableNames() const override { return {"l"}; }

 private:
  std::map<std::string, std::shared_ptr<const QueryTable>> views_;
  std::shared_ptr<const QueryTable> lake_;
};

std::string ResultText(const QueryResult& result) {
  std::string text;
  for (size_t r = 0; r < result.row_count(); ++r) {
    for (const Value& v : result.row(r)) {
      AppendJson(text, v);
      text += ',';
    }
    text += '\n';
  }
  return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Catalog catalog;
  static const Catalog pruning(/*prune=*/true);
  std::string_view sql(reinterpret_cast<const char*>(data), size);
  sluice::Result<std::vector<Statement>> parsed = Parse(sql);
  if (!parsed.ok()) return 0;
  QueryLimits limits;
  limits.max_result_rows = 1000;
  limits.max_working_rows = 10000;
  for (const Statement& statement : *parsed) {
    const auto* query = std::get_if<Query>(&statement.node);
    if (query == nullptr) continue;
    sluice::Result<QueryResult> result = ExecuteQuery(*query, catalog, limits);
    if (!result.ok()) {
      // A row that is not JSON is an internal error of the view, reported without a position.
      const std::string& m = result.status().message();
      if (m.rfind("line ", 0) != 0 && m.find("is not valid JSON") == std::string::npos)
        __builtin_trap();
      continue;
    }
    bool star = false;
    for (const SelectItem& item : query->select_list)
      star |= std::holds_alternative<Star>(item.value);
    if (!star && result->columns.size() != query->select_list.size()) __builtin_trap();
    if (query->limit && result->row_count() > static_cast<size_t>(*query->limit)) __builtin_trap();
    for (size_t r = 0; r < result->row_count(); ++r)
      if (result->row(r).size() != result->columns.size()) __builtin_trap();
    if (result->view == "lake.l") {
      sluice::Result<QueryResult> pruned = ExecuteQuery(*query, pruning, limits);
      if (!pruned.ok() || ResultText(*pruned) != ResultText(*result)) __builtin_trap();
    }
  }
  return 0;
}
