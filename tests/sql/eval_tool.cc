// Test-only CLI for tests/e2e/sql_expr_differential.test.js: evaluates SQL expressions over
// NDJSON events the way a pipeline does (one FieldSet for all expressions, one extraction pass
// per event) and prints the results as JSON, so that a harness can compare them with another
// engine's.
//
//   sql_eval_tool --exprs FILE [--events FILE]     (one expression per line; events from stdin
//   sql_eval_tool -e EXPR [-e EXPR ...] ...         when --events is absent)
//
// Scope: the events' fields (qualifier `e`), and the column event_time = occurred_at read as a
// TIMESTAMP. Output, first one line per expression:
//   {"expr":0,"type":"BIGINT"}   or   {"expr":0,"error":"line 1, column 8: ..."}
// then one line per event, one entry per expression:
//   [{"t":"BIGINT","v":"42"}, null, {"error":"..."}, ...]
// BIGINT, TIMESTAMP (microseconds), DATE (days) and INTERVAL (microseconds) values are decimal
// strings, so that JavaScript loses no precision; DOUBLE is a string with 17 significant digits
// ("nan", "inf", "-inf" as such); VARCHAR and JSON are strings; BOOLEAN is a boolean.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

#include "sql/event_fields.h"
#include "sql/expr.h"
#include "sql/parser.h"

namespace {

using namespace sluice;
using namespace sluice::sql;

std::string JsonString(std::string_view s) {
  std::string out;
  AppendJson(out, Value::Varchar(s));
  return out;
}

std::string Render(const Value& v) {
  switch (v.type) {
    case Type::kNull:
    case Type::kAny:
      return "null";
    case Type::kBoolean:
      return fmt::format(R"({{"t":"BOOLEAN","v":{}}})", v.boolean ? "true" : "false");
    case Type::kBigint:
    case Type::kTimestamp:
    case Type::kDate:
    case Type::kInterval:
      return fmt::format(R"({{"t":"{}","v":"{}"}})", TypeName(v.type), v.integer);
    case Type::kDouble: {
      std::string text = std::isnan(v.real)   ? "nan"
                         : std::isinf(v.real) ? (v.real < 0 ? "-inf" : "inf")
                                              : fmt::format("{:.17g}", v.real);
      return fmt::format(R"({{"t":"DOUBLE","v":"{}"}})", text);
    }
    case Type::kVarchar:
    case Type::kJson:
      return fmt::format(R"({{"t":"{}","v":{}}})", TypeName(v.type), JsonString(v.str()));
  }
  return "null";
}

int Usage() {
  std::cerr << "usage: sql_eval_tool (--exprs FILE | -e EXPR...) [--events FILE]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> exprs;
  std::optional<std::string> events_path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "-e" || arg == "--exprs" || arg == "--events") && i + 1 >= argc) return Usage();
    if (arg == "-e") {
      exprs.push_back(argv[++i]);
    } else if (arg == "--exprs") {
      std::ifstream in(argv[++i]);
      if (!in) return Usage();
      for (std::string line; std::getline(in, line);)
        if (!line.empty()) exprs.push_back(line);
    } else if (arg == "--events") {
      events_path = argv[++i];
    } else {
      return Usage();
    }
  }
  if (exprs.empty()) return Usage();

  Scope scope;
  scope.SetEventRelation({"events", "e"});
  scope.AddColumn("event_time", Type::kTimestamp, 0);
  FieldSet fields;
  const int occurred_at = fields.Add({{"occurred_at", -1}});
  std::vector<std::optional<CompiledExpr>> compiled;
  std::string out;
  for (size_t i = 0; i < exprs.size(); ++i) {
    Result<Expr> parsed = ParseExpression(exprs[i]);
    Status error;
    if (parsed.ok()) {
      Result<BoundExpr> bound = Bind(*parsed, scope);
      if (bound.ok()) {
        Result<CompiledExpr> c = Compile(*bound, fields);
        if (c.ok()) {
          out += fmt::format(R"({{"expr":{},"type":"{}"}})", i, TypeName(c->type()));
          out += '\n';
          compiled.push_back(std::move(c).value());
          continue;
        }
        error = c.status();
      } else {
        error = bound.status();
      }
    } else {
      error = parsed.status();
    }
    out += fmt::format(R"({{"expr":{},"error":{}}})", i, JsonString(error.message()));
    out += '\n';
    compiled.emplace_back();
  }
  std::fwrite(out.data(), 1, out.size(), stdout);

  EventFieldExtractor extractor(fields);
  EvalContext ctx;
  std::ifstream file;
  if (events_path) {
    file.open(*events_path);
    if (!file) return Usage();
  }
  std::istream& in = events_path ? file : std::cin;
  std::string record;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    record.assign(line);
    record.reserve(line.size() + simdjson::SIMDJSON_PADDING);
    out.clear();
    Status extracted = extractor.Extract(record);
    if (!extracted.ok()) {
      out = fmt::format(R"({{"event_error":{}}})", JsonString(extracted.message()));
    } else {
      Value event_time;
      const Value at = extractor.values()[static_cast<size_t>(occurred_at)];
      if (at.type == Type::kVarchar) {
        Result<int64_t> ts = ParseTimestamp(at.str());
        if (ts.ok()) event_time = Value::Timestamp(*ts);
      }
      const Row row{extractor.values(), std::span<const Value>(&event_time, 1)};
      out += '[';
      for (size_t i = 0; i < compiled.size(); ++i) {
        if (i > 0) out += ',';
        if (!compiled[i]) {
          out += "null";
          continue;
        }
        const Value v = compiled[i]->Evaluate(row, ctx);
        out += ctx.ok() ? Render(v)
                        : fmt::format(R"({{"error":{}}})", JsonString(ctx.error().message()));
        ctx.Reset();
      }
      out += ']';
    }
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return 0;
}
