#include "sql/query.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "sql/event_fields.h"
#include "sql/expr.h"
#include "sql/functions.h"

namespace sluice::sql {

QueryResult::QueryResult() : arena_(std::make_unique<Arena>()) {}
QueryResult::QueryResult(QueryResult&&) noexcept = default;
QueryResult& QueryResult::operator=(QueryResult&&) noexcept = default;
QueryResult::~QueryResult() = default;

namespace {

bool IsBooleanish(Type t) {
  return t == Type::kBoolean || t == Type::kAny || t == Type::kNull;
}

// A copy of `v` whose text (if any) lives in `arena`.
Value Own(const Value& v, Arena& arena) {
  if (v.type == Type::kVarchar) return Value::Varchar(arena.Copy(v.str()));
  if (v.type == Type::kJson) return Value::Json(arena.Copy(v.str()));
  return v;
}

// Collects ColumnConstraints (query.h) from a bound condition.
class ConstraintCollector {
 public:
  ConstraintCollector(const std::vector<Type>& types, Arena& arena) : types(types), arena(arena) {}

  // The conjuncts of WHERE of the forms `column op constant` (either side), `column BETWEEN
  // constant AND constant` and `column IN (constants)`; anything else constrains nothing.
  void CollectConstraints(const BoundExpr& e) {
    using Kind = BoundExpr::Kind;
    if (e.kind == Kind::kAnd) {
      for (const BoundExpr& arg : e.args) CollectConstraints(arg);
      return;
    }
    if (e.kind == Kind::kBetween && !e.negated && e.args.size() == 3) {
      const int column = ConstrainedColumn(e.args[0]);
      if (column < 0) return;
      std::optional<Value> low = ConstraintValue(e.args[1], column);
      std::optional<Value> high = ConstraintValue(e.args[2], column);
      if (low || high) out.push_back({static_cast<size_t>(column), low, high});
      return;
    }
    if (e.kind == Kind::kIn && !e.negated && e.args.size() >= 2) {
      const int column = ConstrainedColumn(e.args[0]);
      if (column < 0) return;
      std::optional<Value> low, high;
      for (size_t i = 1; i < e.args.size(); ++i) {
        std::optional<Value> v = ConstraintValue(e.args[i], column);
        if (!v) return;  // NULL or not constant: no range
        if (!low || CompareValues(*v, *low) < 0) low = v;
        if (!high || CompareValues(*v, *high) > 0) high = v;
      }
      out.push_back({static_cast<size_t>(column), low, high});
      return;
    }
    if (e.kind != Kind::kCall || e.args.size() != 2 || e.function == nullptr) return;
    static const BinaryOperator kComparisons[] = {BinaryOperator::kEq, BinaryOperator::kLt,
                                                  BinaryOperator::kLtEq, BinaryOperator::kGt,
                                                  BinaryOperator::kGtEq};
    std::optional<BinaryOperator> op;
    for (BinaryOperator candidate : kComparisons)
      if (e.function == &OperatorFunction(candidate)) op = candidate;
    if (!op) return;
    int column = ConstrainedColumn(e.args[0]);
    const BoundExpr* other = &e.args[1];
    if (column < 0) {  // constant op column: mirror the operator
      column = ConstrainedColumn(e.args[1]);
      other = &e.args[0];
      if (*op == BinaryOperator::kLt) {
        op = BinaryOperator::kGt;
      } else if (*op == BinaryOperator::kLtEq) {
        op = BinaryOperator::kGtEq;
      } else if (*op == BinaryOperator::kGt) {
        op = BinaryOperator::kLt;
      } else if (*op == BinaryOperator::kGtEq) {
        op = BinaryOperator::kLtEq;
      }
    }
    if (column < 0) return;
    std::optional<Value> v = ConstraintValue(*other, column);
    if (!v) return;
    ColumnConstraint c{static_cast<size_t>(column), std::nullopt, std::nullopt};
    switch (*op) {
      case BinaryOperator::kEq:
        c.lower = c.upper = v;
        break;
      case BinaryOperator::kLt:
      case BinaryOperator::kLtEq:
        c.upper = v;
        c.upper_inclusive = *op == BinaryOperator::kLtEq;
        break;
      default:
        c.lower = v;
        c.lower_inclusive = *op == BinaryOperator::kGtEq;
        break;
    }
    out.push_back(std::move(c));
  }

  // The column `e` reads as is, or through a widening cast that keeps order (BIGINT -> DOUBLE,
  // DATE -> TIMESTAMP); -1 otherwise.
  static int ConstrainedColumn(const BoundExpr& e) {
    if (e.kind == BoundExpr::Kind::kColumn) return e.column;
    if (e.kind == BoundExpr::Kind::kCast && e.scale < 0 && e.args.size() == 1 &&
        e.args[0].kind == BoundExpr::Kind::kColumn &&
        ((e.args[0].type == Type::kBigint && e.type == Type::kDouble) ||
         (e.args[0].type == Type::kDate && e.type == Type::kTimestamp)))
      return e.args[0].column;
    return -1;
  }

  static bool ReadsInput(const BoundExpr& e) {
    if (e.kind == BoundExpr::Kind::kColumn || e.kind == BoundExpr::Kind::kField) return true;
    for (const BoundExpr& arg : e.args)
      if (ReadsInput(arg)) return true;
    return false;
  }

  // The value of a constant expression compared with `column`, in a form ColumnConstraint
  // allows for the column's type; nullopt when it is not constant, NULL, fails, or does not
  // fit the column's type.
  std::optional<Value> ConstraintValue(const BoundExpr& e, int column) {
    if (ReadsInput(e)) return std::nullopt;
    FieldSet fields;
    Result<CompiledExpr> compiled = Compile(e, fields);
    if (!compiled.ok()) return std::nullopt;
    EvalContext ctx;
    Value v = compiled->Evaluate(Row{}, ctx);
    if (!ctx.ok() || v.is_null()) return std::nullopt;
    const Type type = types[static_cast<size_t>(column)];
    if (type == Type::kTimestamp && v.type == Type::kDate)
      v = Value::Timestamp(v.integer * 86'400'000'000);
    // An ANY column (a schemaless stream's) holds text as VARCHAR: text bounds it, since other
    // run-time types never compare equal to text.
    const bool fits = (IsNumeric(type) && IsNumeric(v.type)) ||
                      (type == v.type && (type == Type::kTimestamp || type == Type::kVarchar ||
                                          type == Type::kBoolean)) ||
                      (type == Type::kAny && v.type == Type::kVarchar);
    if (!fits) return std::nullopt;
    return Own(v, arena);
  }

  const std::vector<Type>& types;  // of the columns the condition was bound over
  Arena& arena;                    // the text of bound values
  std::vector<ColumnConstraint> out;
};

}  // namespace

std::vector<ColumnConstraint> ConstraintsOf(const BoundExpr& condition,
                                            const std::vector<Type>& column_types, Arena& arena) {
  ConstraintCollector collector(column_types, arena);
  collector.CollectConstraints(condition);
  return std::move(collector.out);
}

namespace {

// An encoding of a value for grouping and DISTINCT: equal values (1 and 1.0 included) encode
// equally. Self-delimiting, so a sequence of values encodes unambiguously.
void EncodeValue(std::string& out, const Value& v) {
  auto put64 = [&](uint64_t x) {
    char bytes[8];
    std::memcpy(bytes, &x, 8);
    out.append(bytes, 8);
  };
  switch (v.type) {
    case Type::kNull:
      out += 'n';
      return;
    case Type::kBoolean:
      out += v.boolean ? 'T' : 'F';
      return;
    case Type::kDouble: {
      const double d = v.real;
      if (d >= -9.2e18 && d <= 9.2e18 && d == std::trunc(d)) {
        out += 'i';
        put64(static_cast<uint64_t>(static_cast<int64_t>(d)));
        return;
      }
      out += 'd';
      uint64_t bits;
      const double canonical = std::isnan(d) ? std::numeric_limits<double>::quiet_NaN() : d;
      std::memcpy(&bits, &canonical, 8);
      put64(bits);
      return;
    }
    case Type::kBigint:
      out += 'i';
      put64(static_cast<uint64_t>(v.integer));
      return;
    case Type::kTimestamp:
    case Type::kDate:
    case Type::kInterval:
      out += v.type == Type::kTimestamp ? 't' : (v.type == Type::kDate ? 'D' : 'v');
      put64(static_cast<uint64_t>(v.integer));
      return;
    case Type::kVarchar:
    case Type::kJson:
      out += v.type == Type::kVarchar ? 's' : 'j';
      put64(v.size);
      out.append(v.str());
      return;
    case Type::kAny:
      return;
  }
}

// Orders values of run-time types that CompareValues cannot compare (a text and a number in a
// column whose type varies per row): by type, so that sorting stays a strict weak order.
int TypeRank(Type t) {
  switch (t) {
    case Type::kBoolean:
      return 0;
    case Type::kBigint:
    case Type::kDouble:
      return 1;
    case Type::kVarchar:
      return 2;
    case Type::kDate:
    case Type::kTimestamp:
      return 3;
    case Type::kInterval:
      return 4;
    default:
      return 5;
  }
}

// A total order of non-NULL values for ORDER BY.
int SortCompare(const Value& a, const Value& b) {
  const int ra = TypeRank(a.type), rb = TypeRank(b.type);
  if (ra != rb) return ra < rb ? -1 : 1;
  if (a.type == Type::kJson && b.type == Type::kJson) {
    const int c = a.str().compare(b.str());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  const int c = CompareValues(a, b);
  return c == kIncomparable ? 0 : c;
}

Expr NameExpr(const std::string& name, SourceLocation location) {
  Expr e;
  e.location = location;
  ColumnRef ref;
  ref.path.push_back(Identifier{name, location});
  e.node = std::move(ref);
  return e;
}

// The name a select item gets without AS (as in views: docs/sql.md).
std::string DefaultColumnName(const Expr& expr) {
  if (const auto* c = std::get_if<ColumnRef>(&expr.node)) return c->path.back().name;
  if (const auto* f = std::get_if<FieldAccess>(&expr.node)) return f->field.name;
  if (const auto* call = std::get_if<FunctionCall>(&expr.node)) return call->name;
  if (const auto* cast = std::get_if<Cast>(&expr.node)) return DefaultColumnName(*cast->operand);
  return ToSql(expr);
}

enum class AggKind { kCountStar, kCount, kCountDistinct, kSum, kMin, kMax, kAvg };

struct Aggregate {
  AggKind kind = AggKind::kCountStar;
  std::optional<CompiledExpr> argument;
  std::optional<CompiledExpr> filter;
  Type type = Type::kBigint;
};

struct Accumulator {
  int64_t count = 0;
  __int128 int_sum = 0;
  double double_sum = 0;
  bool has_double = false;
  Value extreme;
  std::unique_ptr<std::unordered_set<std::string>> distinct;
};

struct Group {
  std::vector<Value> keys;
  std::vector<Accumulator> accumulators;
};

}  // namespace

// Plans and runs one query (query.h). One object per ExecuteQuery call.
class QueryExecutor {
 public:
  QueryExecutor(const Query& query, const QueryCatalog& catalog, const QueryLimits& limits)
      : query_(query), catalog_(catalog), limits_(limits) {}

  Result<QueryResult> Run() {
    SLUICE_RETURN_IF_ERROR(PlanFrom());
    SLUICE_RETURN_IF_ERROR(ExpandSelectList());
    SLUICE_RETURN_IF_ERROR(PlanWhere());
    aggregated_ = !query_.group_by.empty() || query_.having.has_value();
    for (const Item& item : items_) aggregated_ |= !FindAggregates(item.expr).empty();
    SLUICE_RETURN_IF_ERROR(ResolveOrderBy());
    for (const OrderKey& key : order_keys_)
      if (key.expr) aggregated_ |= !FindAggregates(*key.expr).empty();
    if (aggregated_) {
      SLUICE_RETURN_IF_ERROR(PlanGroupBy());
      SLUICE_RETURN_IF_ERROR(PlanAggregates());
    }
    SLUICE_RETURN_IF_ERROR(PlanOutputs());
    SLUICE_RETURN_IF_ERROR(Scan());
    if (aggregated_) SLUICE_RETURN_IF_ERROR(EmitGroups());
    return Finish();
  }

 private:
  struct Item {
    Expr expr;
    std::string name;
    SourceLocation location;
  };
  struct OrderKey {
    int output = -1;           // >= 0: ORDER BY an output column (name or position)
    std::optional<Expr> expr;  // otherwise an expression
    std::optional<CompiledExpr> compiled;
    bool descending = false;
    bool nulls_first = false;
  };

  // ---- Planning

  Status PlanFrom() {
    if (!query_.from) return Status::Ok();  // SELECT 1: one row without columns
    const TableRef& from = query_.from->first;
    if (!query_.from->joins.empty())
      return ErrorAt(query_.from->joins.front().table.location,
                     "joins are not supported in queries yet; query one view");
    if (std::holds_alternative<Subquery>(from.node))
      return ErrorAt(from.location, "subqueries are not supported in queries yet");
    if (std::holds_alternative<WindowTable>(from.node))
      return ErrorAt(from.location,
                     "window functions read streams; a query reads a materialized view: create "
                     "the windowed view (CREATE MATERIALIZED VIEW ... FROM TUMBLE(...)) and query "
                     "it");
    const auto& named = std::get<NamedTable>(from.node);
    if (named.name.size() == 2 && named.name[0].name == "lake") return PlanLakeTable(from, named);
    if (named.time_travel) {
      std::string message = fmt::format(
          "FOR SYSTEM_TIME / VERSION AS OF reads the lake (FROM lake.<name>: a stream's archive "
          "or a view kept WITH (lake = 'on')); '{}' is not a lake table",
          ToSqlPath(named.name));
      const std::vector<std::string> lake = catalog_.LakeTableNames();
      if (named.name.size() == 1 &&
          std::find(lake.begin(), lake.end(), named.name[0].name) != lake.end())
        message += fmt::format(" (did you mean 'lake.{}'?)", named.name[0].name);
      return ErrorAt(named.time_travel->at.location, message);
    }
    const std::string& name = named.name.back().name;
    if (named.name.size() != 1)
      return ErrorAt(from.location, fmt::format("unknown view '{}'", ToSqlPath(named.name)));
    table_ = catalog_.FindView(name);
    if (table_ != nullptr) SLUICE_RETURN_IF_ERROR(table_->Available());
    if (table_ == nullptr) {
      if (catalog_.IsStream(name))
        return ErrorAt(from.location,
                       fmt::format("'{}' is a stream; queries read materialized views: create "
                                   "one over it (CREATE MATERIALIZED VIEW ... AS SELECT ... FROM "
                                   "{}) and query that",
                                   name, name));
      std::string message = fmt::format("unknown view '{}'", name);
      std::string best;
      size_t best_distance = std::max<size_t>(1, name.size() / 3) + 1;
      for (const std::string& v : catalog_.ViewNames()) {
        const size_t d = EditDistance(name, v);
        if (d < best_distance) {
          best_distance = d;
          best = v;
        }
      }
      if (!best.empty()) message += fmt::format(" (did you mean '{}'?)", best);
      return ErrorAt(from.location, message);
    }
    view_name_ = name;
    AddInputColumns(name, named, fmt::format("view '{}'", name));
    return Status::Ok();
  }

  void AddInputColumns(const std::string& name, const NamedTable& named, const std::string& what) {
    qualifiers_.push_back(name);
    if (named.alias) qualifiers_.push_back(named.alias->name);
    const std::vector<QueryColumn>& columns = table_->columns();
    std::string list;
    for (size_t i = 0; i < columns.size(); ++i) {
      for (const std::string& q : qualifiers_)
        input_.AddColumn(columns[i].name, columns[i].type, static_cast<int>(i), q);
      list += (i == 0 ? "" : ", ") + columns[i].name;
    }
    input_.SetUnknownNameHint(fmt::format("{} has the columns {}", what, list));
  }

  // FROM lake.<table> [FOR SYSTEM_TIME AS OF ... | FOR VERSION AS OF ...]
  Status PlanLakeTable(const TableRef& from, const NamedTable& named) {
    const std::string& name = named.name[1].name;
    std::optional<AsOf> as_of;
    if (named.time_travel) {
      SLUICE_ASSIGN_OR_RETURN(AsOf at, EvaluateAsOf(*named.time_travel));
      as_of = at;
    }
    Result<std::shared_ptr<const QueryTable>> table = catalog_.FindLakeTable(name, as_of);
    if (!table.ok()) {
      const SourceLocation at = named.time_travel ? named.time_travel->at.location : from.location;
      return Status(table.status().code(), ErrorAt(at, table.status().message()).message());
    }
    table_ = std::move(table).value();
    if (table_ == nullptr) {
      std::string message = fmt::format("unknown lake table '{}'", name);
      std::string best;
      size_t best_distance = std::max<size_t>(1, name.size() / 3) + 1;
      const std::vector<std::string> names = catalog_.LakeTableNames();
      for (const std::string& t : names) {
        const size_t d = EditDistance(name, t);
        if (d < best_distance) {
          best_distance = d;
          best = t;
        }
      }
      if (catalog_.IsStream(name)) {
        message += fmt::format(
            ": stream '{}' is not archived; create it WITH (archive = 'on') to keep its events "
            "in the lake",
            name);
      } else if (catalog_.FindView(name) != nullptr) {
        message += fmt::format(
            ": view '{}' is not kept in the lake; create it WITH (lake = 'on') to keep its "
            "history there",
            name);
      } else if (!best.empty()) {
        message += fmt::format(" (did you mean 'lake.{}'?)", best);
      } else if (names.empty()) {
        message +=
            ": the lake has no tables (streams WITH (archive = 'on') and views WITH (lake = "
            "'on') have one)";
      } else {
        std::string list;
        for (const std::string& t : names) list += (list.empty() ? "" : ", ") + t;
        message += fmt::format(" (the lake has {})", list);
      }
      return ErrorAt(from.location, message);
    }
    SLUICE_RETURN_IF_ERROR(table_->Available());
    view_name_ = "lake." + name;
    AddInputColumns(name, named, fmt::format("lake table '{}'", name));
    return Status::Ok();
  }

  // The constant of FOR SYSTEM_TIME AS OF (a TIMESTAMP; a '...' literal is read as one) or FOR
  // VERSION AS OF (a BIGINT).
  Result<AsOf> EvaluateAsOf(const TimeTravel& travel) {
    const bool system_time = travel.kind == TimeTravel::Kind::kSystemTime;
    const std::string_view clause = system_time ? "FOR SYSTEM_TIME AS OF" : "FOR VERSION AS OF";
    Scope scope;
    scope.SetUnknownNameHint(fmt::format("{} takes a constant", clause));
    scope.SetAggregateHint(fmt::format("in {}", clause));
    SLUICE_ASSIGN_OR_RETURN(BoundExpr bound, Bind(travel.at, scope));
    SLUICE_RETURN_IF_ERROR(
        CoerceArgument(bound, system_time ? Type::kTimestamp : Type::kBigint, clause));
    FieldSet fields;
    SLUICE_ASSIGN_OR_RETURN(CompiledExpr compiled, Compile(bound, fields));
    EvalContext ctx;
    const Value v = compiled.Evaluate(Row{}, ctx);
    if (!ctx.ok()) return ctx.error();
    if (v.is_null()) return ErrorAt(travel.at.location, fmt::format("{} cannot be NULL", clause));
    AsOf as_of;
    as_of.kind = system_time ? AsOf::Kind::kSystemTime : AsOf::Kind::kVersion;
    as_of.value = v.integer;  // TIMESTAMP micros or BIGINT
    return as_of;
  }

  static std::string ToSqlPath(const std::vector<Identifier>& path) {
    std::string s;
    for (const Identifier& id : path) s += (s.empty() ? "" : ".") + QuoteIdentifier(id.name);
    return s;
  }

  Status ExpandSelectList() {
    for (const SelectItem& item : query_.select_list) {
      if (const auto* star = std::get_if<Star>(&item.value)) {
        if (!table_) return ErrorAt(item.location, "SELECT * needs FROM: name the view to read");
        if (!star->qualifier.empty() && (star->qualifier.size() != 1 ||
                                         std::find(qualifiers_.begin(), qualifiers_.end(),
                                                   star->qualifier[0].name) == qualifiers_.end()))
          return ErrorAt(item.location, fmt::format("'{}' is not the view or its alias in FROM",
                                                    ToSqlPath(star->qualifier)));
        for (const QueryColumn& c : table_->columns())
          items_.push_back({NameExpr(c.name, item.location), c.name, item.location});
        continue;
      }
      const Expr& expr = std::get<Expr>(item.value);
      items_.push_back(
          {expr, item.alias ? item.alias->name : DefaultColumnName(expr), item.location});
    }
    return Status::Ok();
  }

  Status PlanWhere() {
    if (!query_.where) return Status::Ok();
    Scope scope = input_;
    scope.SetAggregateHint("in WHERE; use HAVING to filter on aggregates");
    SLUICE_ASSIGN_OR_RETURN(BoundExpr where, Bind(*query_.where, scope));
    if (!IsBooleanish(where.type))
      return ErrorAt(query_.where->location,
                     fmt::format("WHERE must be BOOLEAN, found {}", TypeName(where.type)));
    SLUICE_ASSIGN_OR_RETURN(where_, CompileInput(where));
    if (table_) {
      std::vector<Type> column_types;
      for (const QueryColumn& c : table_->columns()) column_types.push_back(c.type);
      constraints_ = ConstraintsOf(where, column_types, arena());
    }
    return Status::Ok();
  }

  // Compiles an expression over the input row, noting the view columns it reads (only those are
  // extracted from the rows).
  Result<CompiledExpr> CompileInput(const BoundExpr& bound) {
    NoteColumns(bound);
    return Compile(bound, fields_);
  }
  void NoteColumns(const BoundExpr& bound) {
    if (bound.kind == BoundExpr::Kind::kColumn && bound.column >= 0) {
      if (used_columns_.size() <= static_cast<size_t>(bound.column))
        used_columns_.resize(static_cast<size_t>(bound.column) + 1, false);
      used_columns_[static_cast<size_t>(bound.column)] = true;
    }
    for (const BoundExpr& arg : bound.args) NoteColumns(arg);
  }

  bool IsInputColumn(const std::string& name) const {
    if (!table_) return false;
    for (const QueryColumn& c : table_->columns())
      if (c.name == name) return true;
    return false;
  }

  // The output column a single name refers to, or -1.
  int OutputByName(const Expr& e) const {
    const auto* ref = std::get_if<ColumnRef>(&e.node);
    if (ref == nullptr || ref->path.size() != 1) return -1;
    for (size_t i = 0; i < items_.size(); ++i)
      if (items_[i].name == ref->path[0].name) return static_cast<int>(i);
    return -1;
  }

  // ORDER BY 2 (a position), ORDER BY name (an output column, before an input column of that
  // name, as in PostgreSQL and DuckDB), or an expression.
  Status ResolveOrderBy() {
    for (const OrderItem& item : query_.order_by) {
      OrderKey key;
      key.descending = item.descending;
      key.nulls_first = item.nulls == NullsOrder::kFirst;
      if (const auto* ordinal = std::get_if<IntegerLiteral>(&item.expr.node)) {
        const int64_t n = ordinal->value;
        if (n < 1 || n > static_cast<int64_t>(items_.size()))
          return ErrorAt(item.expr.location,
                         fmt::format("ORDER BY position {} is not in the select list (1 to {})", n,
                                     items_.size()));
        key.output = static_cast<int>(n - 1);
      } else if (int output = OutputByName(item.expr); output >= 0) {
        key.output = output;
      } else {
        key.expr = item.expr;
      }
      order_keys_.push_back(std::move(key));
    }
    if (query_.distinct) {
      for (const OrderKey& key : order_keys_) {
        if (key.output >= 0) continue;
        // SELECT DISTINCT: ORDER BY may only use what is selected (PostgreSQL, DuckDB).
        bool selected = false;
        for (const Item& item : items_) selected |= item.expr == *key.expr;
        if (!selected)
          return ErrorAt(key.expr->location,
                         "with SELECT DISTINCT, ORDER BY expressions must appear in the select "
                         "list");
      }
      for (OrderKey& key : order_keys_) {
        if (key.output >= 0) continue;
        for (size_t i = 0; i < items_.size(); ++i) {
          if (items_[i].expr == *key.expr) {
            key.output = static_cast<int>(i);
            key.expr.reset();
            break;
          }
        }
      }
    }
    return Status::Ok();
  }

  Status PlanGroupBy() {
    Scope scope = input_;
    scope.SetAggregateHint("in GROUP BY");
    for (const Expr& item : query_.group_by) {
      const Expr* key = &item;
      if (const auto* ordinal = std::get_if<IntegerLiteral>(&item.node)) {
        const int64_t n = ordinal->value;
        if (n < 1 || n > static_cast<int64_t>(items_.size()))
          return ErrorAt(item.location,
                         fmt::format("GROUP BY position {} is not in the select list (1 to {})", n,
                                     items_.size()));
        key = &items_[static_cast<size_t>(n - 1)].expr;
        if (!FindAggregates(*key).empty())
          return ErrorAt(item.location,
                         fmt::format("GROUP BY position {} refers to an aggregate", n));
      } else if (const auto* ref = std::get_if<ColumnRef>(&item.node);
                 ref != nullptr && ref->path.size() == 1 && !IsInputColumn(ref->path[0].name)) {
        // GROUP BY an output name (DuckDB, PostgreSQL), when no column of the view has it.
        if (int output = OutputByName(item); output >= 0) {
          key = &items_[static_cast<size_t>(output)].expr;
          if (!FindAggregates(*key).empty())
            return ErrorAt(item.location,
                           fmt::format("GROUP BY {} refers to an aggregate", ref->path[0].name));
        }
      }
      SLUICE_ASSIGN_OR_RETURN(BoundExpr bound, Bind(*key, scope));
      if (bound.type == Type::kJson)
        return ErrorAt(key->location, "cannot GROUP BY a JSON value; extract a field or cast it");
      if (std::find(key_asts_.begin(), key_asts_.end(), *key) != key_asts_.end()) continue;
      key_asts_.push_back(*key);
      key_types_.push_back(bound.type);
      SLUICE_ASSIGN_OR_RETURN(CompiledExpr compiled, CompileInput(bound));
      keys_.push_back(std::move(compiled));
    }
    return Status::Ok();
  }

  Status PlanAggregate(const Expr& call_expr) {
    const auto& call = std::get<FunctionCall>(call_expr.node);
    const SourceLocation loc = call_expr.location;
    Aggregate agg;
    Scope scope = input_;
    scope.SetAggregateHint("aggregate calls cannot be nested");
    for (const Expr& arg : call.args) {
      if (std::vector<const Expr*> nested = FindAggregates(arg); !nested.empty())
        return ErrorAt(nested.front()->location, "aggregate calls cannot be nested");
    }
    const std::string& name = call.name;
    if (name != "count" && name != "sum" && name != "avg" && name != "min" && name != "max")
      return ErrorAt(loc, fmt::format("'{}' is not an aggregate queries support (supported: "
                                      "count, count(DISTINCT x), sum, min, max, avg)",
                                      name));
    std::optional<BoundExpr> argument;
    if (call.star) {
      if (name != "count") return ErrorAt(loc, fmt::format("{}(*) is only valid for count", name));
      agg.kind = AggKind::kCountStar;
    } else {
      if (call.args.size() != 1)
        return ErrorAt(loc, fmt::format("{} takes one argument, found {}", name, call.args.size()));
      SLUICE_ASSIGN_OR_RETURN(argument, Bind(call.args[0], scope));
    }
    const Type t = argument ? argument->type : Type::kNull;
    if (name == "count") {
      if (!call.star) agg.kind = call.distinct ? AggKind::kCountDistinct : AggKind::kCount;
      if (agg.kind == AggKind::kCountDistinct && t == Type::kJson)
        return ErrorAt(call.args[0].location,
                       "count(DISTINCT ...) of JSON values is not supported; extract a field");
      agg.type = Type::kBigint;
    } else {
      const bool numeric = name == "sum" || name == "avg";
      if (call.distinct && numeric)
        return ErrorAt(loc, fmt::format("{}(DISTINCT ...) is not supported yet; DISTINCT works "
                                        "in count(DISTINCT x)",
                                        name));
      if (numeric && !IsNumeric(t) && t != Type::kAny && t != Type::kNull)
        return ErrorAt(call.args[0].location,
                       fmt::format("{} needs a number, found {}", name, TypeName(t)));
      if (!numeric && t == Type::kJson)
        return ErrorAt(call.args[0].location,
                       fmt::format("{} of JSON values is not supported; extract a field", name));
      if (name == "sum") {
        agg.kind = AggKind::kSum;
        agg.type = t == Type::kNull ? Type::kBigint : t;
      } else if (name == "avg") {
        agg.kind = AggKind::kAvg;
        agg.type = Type::kDouble;
      } else {
        agg.kind = name == "min" ? AggKind::kMin : AggKind::kMax;
        agg.type = t;
      }
    }
    if (argument) {
      SLUICE_ASSIGN_OR_RETURN(CompiledExpr compiled, CompileInput(*argument));
      agg.argument = std::move(compiled);
    }
    if (call.filter) {
      Scope filter_scope = input_;
      filter_scope.SetAggregateHint("in FILTER");
      SLUICE_ASSIGN_OR_RETURN(BoundExpr filter, Bind(**call.filter, filter_scope));
      if (!IsBooleanish(filter.type))
        return ErrorAt(
            (*call.filter)->location,
            fmt::format("FILTER (WHERE ...) must be BOOLEAN, found {}", TypeName(filter.type)));
      SLUICE_ASSIGN_OR_RETURN(CompiledExpr compiled, CompileInput(filter));
      agg.filter = std::move(compiled);
    }
    aggregates_.push_back(std::move(agg));
    return Status::Ok();
  }

  Status PlanAggregates() {
    auto collect = [&](const Expr& e) -> Status {
      for (const Expr* call : FindAggregates(e)) {
        if (std::find(aggregate_asts_.begin(), aggregate_asts_.end(), *call) !=
            aggregate_asts_.end())
          continue;
        SLUICE_RETURN_IF_ERROR(PlanAggregate(*call));
        aggregate_asts_.push_back(*call);
      }
      return Status::Ok();
    };
    for (const Item& item : items_) SLUICE_RETURN_IF_ERROR(collect(item.expr));
    if (query_.having) SLUICE_RETURN_IF_ERROR(collect(*query_.having));
    for (const OrderKey& key : order_keys_)
      if (key.expr) SLUICE_RETURN_IF_ERROR(collect(*key.expr));
    return Status::Ok();
  }

  // "unknown column 'x'" after GROUP BY, for a column of the view: say what is wrong.
  Status NotGroupedError(const Status& status) const {
    const std::string& message = status.message();
    const size_t at = message.find("unknown column '");
    if (at == std::string::npos) return status;
    const size_t start = at + 16;
    const std::string name = message.substr(start, message.find('\'', start) - start);
    if (!IsInputColumn(name)) return status;
    return Status::InvalidArgument(
        fmt::format("{}: column '{}' must appear in GROUP BY or be used in an aggregate",
                    message.substr(0, message.find(": ")), name));
  }

  // Binds and compiles `expr` in the output scope: the input row, or after GROUP BY the
  // aggregated row (keys, then aggregates).
  Result<CompiledExpr> BindOutput(const Expr& expr, Type* type) {
    Result<BoundExpr> bound = Bind(expr, aggregated_ ? grouped_ : input_);
    if (!bound.ok()) return aggregated_ ? NotGroupedError(bound.status()) : bound.status();
    if (type != nullptr) *type = bound->type;
    if (aggregated_) return Compile(*bound, fields_);  // over the aggregated row
    return CompileInput(*bound);
  }

  Status PlanOutputs() {
    if (aggregated_) {
      for (size_t i = 0; i < key_asts_.size(); ++i)
        grouped_.AddExpression(key_asts_[i], key_types_[i], static_cast<int>(i));
      for (size_t i = 0; i < aggregate_asts_.size(); ++i)
        grouped_.AddExpression(aggregate_asts_[i], aggregates_[i].type,
                               static_cast<int>(key_asts_.size() + i));
      grouped_.SetUnknownNameHint(
          "after GROUP BY, use a grouping key or an aggregate such as count(*)");
    }
    for (const Item& item : items_) {
      Type type = Type::kNull;
      SLUICE_ASSIGN_OR_RETURN(CompiledExpr compiled, BindOutput(item.expr, &type));
      result_.columns.push_back({item.name, type});
      outputs_.push_back(std::move(compiled));
    }
    if (query_.having) {
      Type type = Type::kNull;
      SLUICE_ASSIGN_OR_RETURN(CompiledExpr compiled, BindOutput(*query_.having, &type));
      if (!IsBooleanish(type))
        return ErrorAt(query_.having->location,
                       fmt::format("HAVING must be BOOLEAN, found {}", TypeName(type)));
      having_ = std::move(compiled);
    }
    for (OrderKey& key : order_keys_) {
      if (!key.expr) continue;
      Type type = Type::kNull;
      SLUICE_ASSIGN_OR_RETURN(CompiledExpr compiled, BindOutput(*key.expr, &type));
      if (type == Type::kJson)
        return ErrorAt(key.expr->location, "cannot ORDER BY a JSON value; extract a field");
      key.compiled = std::move(compiled);
    }
    return Status::Ok();
  }

  // ---- Execution

  // A data error while evaluating: the query fails with the first one.
  bool Check(EvalContext& ctx) {
    if (ctx.ok()) return true;
    if (error_.ok()) error_ = ctx.error();
    return false;
  }

  static bool IsTrue(const Value& v) { return v.type == Type::kBoolean && v.boolean; }

  Status Scan() {
    EvalContext ctx;
    std::vector<Value> columns;
    if (aggregated_ && keys_.empty()) {
      // Aggregates without GROUP BY: one row, even over no rows (count 0, sum NULL).
      groups_.push_back(Group{{}, std::vector<Accumulator>(aggregates_.size())});
      group_index_.emplace(std::string(), 0);
    }
    auto process = [&](std::span<const Value> input) {
      const Row row{{}, input};
      if (where_ && !IsTrue(where_->Evaluate(row, ctx))) return Check(ctx);
      if (!Check(ctx)) return false;
      if (aggregated_) return Accumulate(row, ctx);
      return KeepRow(row, ctx);
    };
    if (!table_) {
      process({});
      return error_;
    }
    result_.view = view_name_;
    if (table_->ScansValues()) return ScanValues(process, ctx);
    const std::vector<QueryColumn>& schema = table_->columns();
    // Only the columns the query reads are extracted (and converted to their types).
    FieldSet row_fields;
    std::vector<std::pair<size_t, int>> read;  // (column, slot)
    for (size_t i = 0; i < schema.size() && i < used_columns_.size(); ++i)
      if (used_columns_[i])
        read.emplace_back(i, row_fields.Add(FieldPath{PathStep{schema[i].name, -1}}));
    EventFieldExtractor extractor(row_fields);
    columns.assign(schema.size(), Value());
    std::string buffer;
    bool stop = false;
    Result<ValueScanInfo> info = table_->ScanWithin(constraints_, [&](std::string_view row_json) {
      if (stop) return;
      if (read.empty()) {  // count(*) and constants: nothing to extract
        stop = !process(columns);
        ctx.Reset();
        return;
      }
      buffer.assign(row_json);
      buffer.append(kJsonPadding, ' ');
      if (Status st = extractor.Extract(std::string_view(buffer.data(), row_json.size()));
          !st.ok()) {
        error_ = Status::Internal(
            fmt::format("view {}: a row is not valid JSON: {}", view_name_, st.message()));
        stop = true;
        return;
      }
      const std::span<const Value> values = extractor.values();
      for (const auto& [column, slot] : read)
        columns[column] = CoerceValue(values[static_cast<size_t>(slot)], schema[column].type, ctx);
      stop = !process(columns);
      ctx.Reset();
    });
    if (!error_.ok()) return error_;
    if (!info.ok()) return info.status();
    result_.view_version = info->version;
    result_.scan_details = std::move(info->details);
    return error_;
  }

  // A table that gives typed values (the lake): only the columns the query reads, with the
  // constraints WHERE implies. Without aggregates, ORDER BY and DISTINCT, the scan stops once
  // LIMIT (and OFFSET) rows are kept.
  template <typename Process>
  Status ScanValues(Process& process, EvalContext& ctx) {
    ValueScanRequest request;
    for (size_t i = 0; i < used_columns_.size(); ++i)
      if (used_columns_[i]) request.columns.push_back(i);
    request.constraints = constraints_;
    const bool stop_at_limit =
        !aggregated_ && order_keys_.empty() && !query_.distinct && query_.limit.has_value();
    const size_t wanted =
        stop_at_limit ? static_cast<size_t>(std::max<int64_t>(0, query_.offset.value_or(0)) +
                                            std::max<int64_t>(0, *query_.limit))
                      : 0;
    if (stop_at_limit && wanted == 0) return Status::Ok();
    Result<ValueScanInfo> info = table_->ScanValues(request, [&](std::span<const Value> row) {
      const bool ok = process(row);
      ctx.Reset();
      return ok && !(stop_at_limit && work_rows_ >= wanted);
    });
    if (!error_.ok()) return error_;
    if (!info.ok()) return info.status();
    result_.view_version = info->version;
    result_.scan_details = std::move(info->details);
    return Status::Ok();
  }

  bool WorkingRowsExceeded() {
    if (work_rows_ <= limits_.max_working_rows) return false;
    error_ = ErrorAt(query_.select_list.front().location,
                     fmt::format("the query holds more than {} rows before ORDER BY and LIMIT; "
                                 "filter with WHERE or aggregate",
                                 limits_.max_working_rows));
    return true;
  }

  // Evaluates the outputs and sort keys of a result row over `row` and keeps copies.
  bool KeepRow(const Row& row, EvalContext& ctx) {
    const size_t start = work_.size();
    for (const CompiledExpr& out : outputs_) work_.push_back(Own(out.Evaluate(row, ctx), arena()));
    for (const OrderKey& key : order_keys_) {
      const Value v = key.compiled ? Own(key.compiled->Evaluate(row, ctx), arena())
                                   : work_[start + static_cast<size_t>(key.output)];
      work_.push_back(v);
    }
    ++work_rows_;
    return Check(ctx) && !WorkingRowsExceeded();
  }

  bool Accumulate(const Row& row, EvalContext& ctx) {
    key_scratch_.clear();
    key_values_.clear();
    for (const CompiledExpr& key : keys_) {
      const Value v = key.Evaluate(row, ctx);
      key_values_.push_back(v);
      EncodeValue(key_scratch_, v);
    }
    if (!Check(ctx)) return false;
    auto [it, inserted] = group_index_.try_emplace(key_scratch_, groups_.size());
    if (inserted) {
      Group g;
      for (const Value& v : key_values_) g.keys.push_back(Own(v, arena()));
      g.accumulators.resize(aggregates_.size());
      groups_.push_back(std::move(g));
      ++work_rows_;
      if (WorkingRowsExceeded()) return false;
    }
    Group& group = groups_[it->second];
    for (size_t i = 0; i < aggregates_.size(); ++i) {
      const Aggregate& agg = aggregates_[i];
      if (agg.filter && !IsTrue(agg.filter->Evaluate(row, ctx))) continue;
      const Value v = agg.argument ? agg.argument->Evaluate(row, ctx) : Value();
      Add(group.accumulators[i], agg.kind, v);
    }
    return Check(ctx);
  }

  void Add(Accumulator& a, AggKind kind, const Value& v) {
    switch (kind) {
      case AggKind::kCountStar:
        ++a.count;
        return;
      case AggKind::kCount:
        if (!v.is_null()) ++a.count;
        return;
      case AggKind::kCountDistinct:
        if (v.is_null()) return;
        distinct_scratch_.clear();
        EncodeValue(distinct_scratch_, v);
        if (!a.distinct) a.distinct = std::make_unique<std::unordered_set<std::string>>();
        a.distinct->insert(distinct_scratch_);
        return;
      case AggKind::kSum:
      case AggKind::kAvg:
        // Values a sum cannot take (text in a column of varying type) are ignored like NULL.
        if (v.type == Type::kBigint) {
          a.int_sum += v.integer;
          ++a.count;
        } else if (v.type == Type::kDouble) {
          a.double_sum += v.real;
          a.has_double = true;
          ++a.count;
        }
        return;
      case AggKind::kMin:
      case AggKind::kMax: {
        if (v.is_null() || v.type == Type::kJson) return;
        if (!a.extreme.is_null()) {
          const int c = CompareValues(v, a.extreme);
          if (c == kIncomparable) return;
          if (kind == AggKind::kMin ? c >= 0 : c <= 0) return;
        }
        a.extreme = Own(v, arena());
        return;
      }
    }
  }

  static Value Final(const Accumulator& a, AggKind kind) {
    switch (kind) {
      case AggKind::kCountStar:
      case AggKind::kCount:
        return Value::Bigint(a.count);
      case AggKind::kCountDistinct:
        return Value::Bigint(a.distinct ? static_cast<int64_t>(a.distinct->size()) : 0);
      case AggKind::kSum:
        // Exact over BIGINTs (128 bits) and a BIGINT while it fits, as in views.
        if (a.count == 0) return Value();
        if (a.has_double) return Value::Double(static_cast<double>(a.int_sum) + a.double_sum);
        if (a.int_sum >= std::numeric_limits<int64_t>::min() &&
            a.int_sum <= std::numeric_limits<int64_t>::max())
          return Value::Bigint(static_cast<int64_t>(a.int_sum));
        return Value::Double(static_cast<double>(a.int_sum));
      case AggKind::kAvg:
        if (a.count == 0) return Value();
        return Value::Double((static_cast<double>(a.int_sum) + a.double_sum) /
                             static_cast<double>(a.count));
      case AggKind::kMin:
      case AggKind::kMax:
        return a.extreme;
    }
    return Value();
  }

  Status EmitGroups() {
    EvalContext ctx;
    std::vector<Value> aggregated;
    for (const Group& g : groups_) {
      aggregated.assign(g.keys.begin(), g.keys.end());
      for (size_t i = 0; i < aggregates_.size(); ++i)
        aggregated.push_back(Final(g.accumulators[i], aggregates_[i].kind));
      const Row row{{}, aggregated};
      if (having_ && !IsTrue(having_->Evaluate(row, ctx))) {
        if (!Check(ctx)) return error_;
        ctx.Reset();
        continue;
      }
      if (!KeepRow(row, ctx)) return error_;
      ctx.Reset();
    }
    return Status::Ok();
  }

  Result<QueryResult> Finish() {
    const size_t width = outputs_.size() + order_keys_.size();
    std::vector<size_t> order(work_.size() / width);
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    if (query_.distinct) {
      std::unordered_set<std::string> seen;
      std::string encoded;
      std::vector<size_t> kept;
      for (size_t r : order) {
        encoded.clear();
        for (size_t c = 0; c < outputs_.size(); ++c) EncodeValue(encoded, work_[r * width + c]);
        if (seen.insert(encoded).second) kept.push_back(r);
      }
      order = std::move(kept);
    }
    const size_t offset = static_cast<size_t>(std::max<int64_t>(0, query_.offset.value_or(0)));
    if (!order_keys_.empty()) {
      const size_t base = outputs_.size();
      // Rows that compare equal keep their order (the view's): the row index decides last, so
      // the order is total and a partial sort gives the same first rows as a full one.
      auto before = [&](size_t x, size_t y) {
        for (size_t k = 0; k < order_keys_.size(); ++k) {
          const Value& a = work_[x * width + base + k];
          const Value& b = work_[y * width + base + k];
          const OrderKey& key = order_keys_[k];
          if (a.is_null() || b.is_null()) {
            if (a.is_null() && b.is_null()) continue;
            return a.is_null() == key.nulls_first;
          }
          const int c = SortCompare(a, b);
          if (c != 0) return key.descending ? c > 0 : c < 0;
        }
        return x < y;
      };
      const size_t needed =
          query_.limit ? offset + static_cast<size_t>(*query_.limit) : order.size();
      if (needed < order.size() / 2) {
        std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(needed),
                          order.end(), before);
        order.resize(needed);
      } else {
        std::sort(order.begin(), order.end(), before);
      }
    }
    const size_t begin = std::min(offset, order.size());
    size_t end = order.size();
    if (query_.limit) end = std::min(end, begin + static_cast<size_t>(*query_.limit));
    if (end - begin > limits_.max_result_rows)
      return ErrorAt(query_.select_list.front().location,
                     fmt::format("the result has {} rows, more than the {} a query may return; "
                                 "add LIMIT (and OFFSET to page)",
                                 end - begin, limits_.max_result_rows));
    result_.values_.reserve((end - begin) * outputs_.size());
    for (size_t i = begin; i < end; ++i)
      for (size_t c = 0; c < outputs_.size(); ++c)
        result_.values_.push_back(work_[order[i] * width + c]);
    result_.arena_ = std::move(arena_);
    return std::move(result_);
  }

  Arena& arena() { return *arena_; }

  const Query& query_;
  const QueryCatalog& catalog_;
  const QueryLimits& limits_;
  std::shared_ptr<const QueryTable> table_;
  std::string view_name_;
  std::vector<std::string> qualifiers_;
  Scope input_;
  Scope grouped_;
  FieldSet fields_;  // stays empty: queries read columns, not event fields
  std::vector<Item> items_;
  bool aggregated_ = false;
  std::optional<CompiledExpr> where_;
  std::vector<Expr> key_asts_;
  std::vector<Type> key_types_;
  std::vector<CompiledExpr> keys_;
  std::vector<Expr> aggregate_asts_;
  std::vector<Aggregate> aggregates_;
  std::vector<CompiledExpr> outputs_;
  std::optional<CompiledExpr> having_;
  std::vector<OrderKey> order_keys_;
  std::vector<bool> used_columns_;  // by view column: read by some expression over the input
  std::vector<ColumnConstraint> constraints_;  // from WHERE, for tables that scan values

  std::unique_ptr<Arena> arena_ = std::make_unique<Arena>();  // text of groups_ and work_
  std::unordered_map<std::string, size_t> group_index_;
  std::vector<Group> groups_;
  std::string key_scratch_;
  std::string distinct_scratch_;
  std::vector<Value> key_values_;
  std::vector<Value> work_;  // per result row: the outputs, then the sort keys
  size_t work_rows_ = 0;
  Status error_;
  QueryResult result_;
};

Result<ValueScanInfo> QueryTable::ScanWithin(
    const std::vector<ColumnConstraint>&, const std::function<void(std::string_view)>& row) const {
  ValueScanInfo info;
  info.version = Scan(row);
  return info;
}

Result<ValueScanInfo> QueryTable::ScanValues(
    const ValueScanRequest&, const std::function<bool(std::span<const Value>)>&) const {
  return Status::Internal("this table is read through Scan(), not by values");
}

Result<std::shared_ptr<const QueryTable>> QueryCatalog::FindLakeTable(
    std::string_view, const std::optional<AsOf>&) const {
  return std::shared_ptr<const QueryTable>();
}

Result<QueryResult> ExecuteQuery(const Query& query, const QueryCatalog& catalog,
                                 const QueryLimits& limits) {
  return QueryExecutor(query, catalog, limits).Run();
}

}  // namespace sluice::sql
