// libFuzzer target: arbitrary SQL text as queries over views (sql/query.h). Planning and running
// a query must never crash, hang or overflow the stack, whatever the query and whatever odd
// values the view's rows hold; a failure must carry a "line L, column C: ..." message; a result
// must have one value per column in every row and respect LIMIT.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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

class Catalog : public QueryCatalog {
 public:
  Catalog() {
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

 private:
  std::map<std::string, std::shared_ptr<const QueryTable>> views_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Catalog catalog;
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
  }
  return 0;
}
