#include "sql/join_planner.h"

#include <algorithm>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "sql/functions.h"

namespace sluice::sql {
namespace {

void Conjuncts(const Expr& e, std::vector<const Expr*>& out) {
  if (const auto* b = std::get_if<BinaryOp>(&e.node); b && b->op == BinaryOperator::kAnd) {
    Conjuncts(*b->left, out);
    Conjuncts(*b->right, out);
    return;
  }
  out.push_back(&e);
}

template <typename Pred>
bool ReadsColumnWhere(const BoundExpr& b, const Pred& pred) {
  if (b.kind == BoundExpr::Kind::kColumn && pred(b.column)) return true;
  return std::any_of(b.args.begin(), b.args.end(),
                     [&](const BoundExpr& a) { return ReadsColumnWhere(a, pred); });
}

BoundExpr AndOf(std::optional<BoundExpr> left, BoundExpr right) {
  if (!left) return right;
  BoundExpr out;
  out.kind = BoundExpr::Kind::kAnd;
  out.type = Type::kBoolean;
  out.location = left->location;
  out.args.push_back(std::move(*left));
  out.args.push_back(std::move(right));
  return out;
}

bool IsBooleanish(Type t) {
  return t == Type::kBoolean || t == Type::kAny || t == Type::kNull;
}

std::string KeyList(const TableSpec& table) {
  std::string list;
  for (int k : table.primary_key)
    list += (list.empty() ? "" : ", ") + table.columns[static_cast<size_t>(k)].name;
  return list;
}

// The expressions of a query that may name columns: select list, WHERE, GROUP BY, HAVING and
// the join conditions.
std::vector<const Expr*> QueryExpressions(const Query& q) {
  std::vector<const Expr*> roots;
  for (const SelectItem& item : q.select_list)
    if (const auto* e = std::get_if<Expr>(&item.value)) roots.push_back(e);
  if (q.where) roots.push_back(&*q.where);
  for (const Expr& g : q.group_by) roots.push_back(&g);
  if (q.having) roots.push_back(&*q.having);
  for (const Join& j : q.from->joins) roots.push_back(&j.condition);
  return roots;
}

// ---- Lookup joins -----------------------------------------------------------------------------

Status PlanLookup(const JoinContext& cx, const Join& join, const NamedTable& named,
                  const TableSpec& table, ViewPlan& plan, Scope& input) {
  const SourceLocation loc = join.table.location;
  if (join.kind != JoinKind::kInner && join.kind != JoinKind::kLeft)
    return ErrorAt(loc,
                   "a lookup join keeps the stream's events: use JOIN (skip events without a "
                   "match) or LEFT JOIN (NULLs for them), not RIGHT or FULL JOIN");
  if (named.time_travel)
    return ErrorAt(named.time_travel->at.location,
                   "a lookup join always reads the table's current rows (processing time); "
                   "drop FOR SYSTEM_TIME AS OF");
  const std::string relation = named.alias ? named.alias->name : table.name;
  if (std::find(cx.qualifiers.begin(), cx.qualifiers.end(), relation) != cx.qualifiers.end())
    return ErrorAt(loc, fmt::format("'{}' names both the stream and the table; give the table an "
                                    "alias: JOIN {} AS t",
                                    relation, table.name));
  // relation.x must name a column of the table (the binder would read a missing one as an
  // event field).
  for (const Expr* root : QueryExpressions(*cx.query)) {
    for (const Expr* ref : FindColumnRefs(*root)) {
      const auto& path = std::get<ColumnRef>(ref->node).path;
      if (path.size() < 2 || path[0].name != relation) continue;
      const bool known = std::any_of(table.columns.begin(), table.columns.end(),
                                     [&](const TableColumn& c) { return c.name == path[1].name; });
      if (!known) {
        std::string columns;
        for (const TableColumn& c : table.columns)
          columns += (columns.empty() ? "" : ", ") + c.name;
        return ErrorAt(ref->location, fmt::format("{} has no column '{}' (its columns: {})",
                                                  table.name, path[1].name, columns));
      }
    }
  }
  LookupJoinSpec spec;
  spec.table = table.name;
  spec.left = join.kind == JoinKind::kLeft;
  spec.first_column = ViewPlan::kInputColumns;
  const int first = spec.first_column;
  const int end = first + static_cast<int>(table.columns.size());
  for (size_t i = 0; i < table.columns.size(); ++i) {
    input.AddColumn(table.columns[i].name, table.columns[i].type, first + static_cast<int>(i),
                    relation);
    spec.column_types.push_back(table.columns[i].type);
  }
  auto is_table_column = [&](int c) { return c >= first && c < end; };

  std::vector<const Expr*> conjuncts;
  Conjuncts(join.condition, conjuncts);
  std::vector<std::optional<BoundExpr>> keys(table.primary_key.size());
  const std::string example =
      fmt::format("e.{} = {}.{}", table.columns[static_cast<size_t>(table.primary_key[0])].name,
                  relation, table.columns[static_cast<size_t>(table.primary_key[0])].name);
  for (const Expr* c : conjuncts) {
    const auto* eq = std::get_if<BinaryOp>(&c->node);
    if (eq == nullptr || eq->op != BinaryOperator::kEq)
      return ErrorAt(c->location,
                     fmt::format("the ON condition of a lookup join is equalities between the "
                                 "event and the table's primary key ({}), AND-ed; filter in WHERE",
                                 example));
    SLUICE_ASSIGN_OR_RETURN(BoundExpr left, Bind(*eq->left, input));
    SLUICE_ASSIGN_OR_RETURN(BoundExpr right, Bind(*eq->right, input));
    const bool left_is_column =
        left.kind == BoundExpr::Kind::kColumn && is_table_column(left.column);
    BoundExpr& column = left_is_column ? left : right;
    BoundExpr& event = left_is_column ? right : left;
    const Expr& event_ast = left_is_column ? *eq->right : *eq->left;
    if (column.kind != BoundExpr::Kind::kColumn || !is_table_column(column.column))
      return ErrorAt(c->location,
                     fmt::format("a lookup join compares a primary key column of {} with an "
                                 "expression over the event, e.g. {}",
                                 table.name, example));
    if (ReadsColumnWhere(event, [](int col) {
          return col == ViewPlan::kWindowStartColumn || col == ViewPlan::kWindowEndColumn;
        }))
      return ErrorAt(event_ast.location,
                     "a lookup key cannot read window_start or window_end: the table is probed "
                     "once per event");
    if (ReadsColumnWhere(event, is_table_column))
      return ErrorAt(event_ast.location,
                     fmt::format("this side of the equality must be computed from the event "
                                 "alone, not from {}'s columns",
                                 table.name));
    const int table_column = column.column - first;
    const auto key_it = std::find(table.primary_key.begin(), table.primary_key.end(), table_column);
    const TableColumn& col = table.columns[static_cast<size_t>(table_column)];
    if (key_it == table.primary_key.end())
      return ErrorAt(c->location,
                     fmt::format("{}.{} is not in the primary key of {} ({}): a lookup join "
                                 "probes the primary key; filter on other columns in WHERE",
                                 relation, col.name, table.name, KeyList(table)));
    const size_t k = static_cast<size_t>(key_it - table.primary_key.begin());
    if (keys[k])
      return ErrorAt(c->location, fmt::format("{}.{} is compared twice in the ON condition",
                                              relation, col.name));
    SLUICE_RETURN_IF_ERROR(
        CoerceArgument(event, col.type, fmt::format("the join key for {}.{}", relation, col.name)));
    keys[k] = std::move(event);
  }
  for (size_t k = 0; k < keys.size(); ++k) {
    if (!keys[k])
      return ErrorAt(join.condition.location,
                     fmt::format("the ON condition must give the whole primary key of {} ({}); "
                                 "{}.{} is missing",
                                 table.name, KeyList(table), relation,
                                 table.columns[static_cast<size_t>(table.primary_key[k])].name));
    spec.keys.push_back(std::move(*keys[k]));
  }
  plan.extra_columns = static_cast<int>(table.columns.size());
  plan.lookup = std::move(spec);
  return Status::Ok();
}

// ---- Interval joins ---------------------------------------------------------------------------

struct TimeTerm {
  int side = 0;
  int64_t offset = 0;
};

class IntervalPlanner {
 public:
  IntervalPlanner(const JoinContext& cx, const Join& join, const NamedTable& named)
      : cx_(cx), join_(join), named_(named) {}

  Status Plan(ViewPlan& plan, Scope& input) {
    const SourceLocation loc = join_.table.location;
    if (join_.kind != JoinKind::kInner)
      return ErrorAt(loc,
                     "only inner joins of two streams are supported (an outer interval join "
                     "would emit unmatched events when their interval expires; not yet)");
    if (named_.time_travel)
      return ErrorAt(named_.time_travel->at.location,
                     "FOR SYSTEM_TIME / VERSION AS OF is not supported over a stream");
    if (plan.time)
      return ErrorAt(cx_.query->from->first.location,
                     fmt::format("a view with an interval join windows on the stream's event "
                                 "time: TUMBLE({}, {}, ...)",
                                 cx_.stream->name, cx_.stream->event_time));
    alias_[0] = cx_.alias.empty() ? cx_.stream->name : cx_.alias;
    alias_[1] = named_.alias ? named_.alias->name : cx_.stream->name;
    if (alias_[0] == alias_[1])
      return ErrorAt(loc, fmt::format("a stream joined with itself needs an alias on each side: "
                                      "FROM {0} AS a JOIN {0} AS b",
                                      cx_.stream->name));
    SLUICE_RETURN_IF_ERROR(BuildScope(plan, input));
    return PlanCondition(plan, input);
  }

 private:
  bool IsTimeName(const std::string& name) const {
    return name == cx_.stream->event_time || name == "event_time";
  }

  int SideOf(const std::string& qualifier) const {
    if (qualifier == alias_[0]) return 0;
    if (qualifier == alias_[1]) return 1;
    return -1;
  }

  // Every side column the view reads becomes a column of the input row: s.x is column
  // kInputColumns + k, filled from side s's event.
  Status BuildScope(ViewPlan& plan, Scope& input) {
    const std::vector<const Expr*> roots = QueryExpressions(*cx_.query);
    struct Named {
      int side;
      std::string name;
    };
    std::vector<Named> names;
    std::vector<const Expr*> unqualified;
    for (const Expr* root : roots) {
      for (const Expr* ref : FindColumnRefs(*root)) {
        const auto& path = std::get<ColumnRef>(ref->node).path;
        const int side = path.size() >= 2 ? SideOf(path[0].name) : -1;
        if (side < 0) {
          unqualified.push_back(ref);
          continue;
        }
        const std::string& name = path[1].name;
        if (side == 0 && cx_.windowed && (name == "window_start" || name == "window_end")) continue;
        const bool known = std::any_of(names.begin(), names.end(), [&](const Named& n) {
          return n.side == side && n.name == name;
        });
        if (!known) names.push_back({side, name});
      }
    }
    for (const Expr* ref : unqualified) {
      const std::string& first = std::get<ColumnRef>(ref->node).path[0].name;
      if (first == "event_time" || first == "window_start" || first == "window_end") continue;
      const bool side_name =
          std::any_of(names.begin(), names.end(), [&](const Named& n) { return n.name == first; });
      if (side_name)
        return ErrorAt(ref->location, fmt::format("column '{}' is ambiguous in a join of a stream "
                                                  "with itself: write {}.{} or {}.{}",
                                                  first, alias_[0], first, alias_[1], first));
    }
    Scope scope;
    scope.AddColumn("event_time", Type::kTimestamp, ViewPlan::kEventTimeColumn);
    if (cx_.windowed) {
      scope.AddColumn("window_start", Type::kTimestamp, ViewPlan::kWindowStartColumn, alias_[0]);
      scope.AddColumn("window_end", Type::kTimestamp, ViewPlan::kWindowEndColumn, alias_[0]);
    }
    IntervalJoinSpec& spec = spec_;
    int column = ViewPlan::kInputColumns;
    for (const Named& n : names) {
      const bool time = IsTimeName(n.name);
      scope.AddColumn(n.name, time ? Type::kTimestamp : Type::kAny, column,
                      alias_[static_cast<size_t>(n.side)]);
      spec.side_paths[n.side].push_back(time ? FieldPath{} : FieldPath{{n.name, -1}});
      spec.side_columns[n.side].push_back(column);
      ++column;
    }
    scope.SetUnknownNameHint(
        fmt::format("in a join of a stream with itself, qualify every field "
                    "with its side's alias: {}.x or {}.x",
                    alias_[0], alias_[1]));
    plan.extra_columns = column - ViewPlan::kInputColumns;
    input = std::move(scope);
    return Status::Ok();
  }

  // The side a bound expression reads: 0, 1, -1 for none, 2 for both (or the window).
  int SidesRead(const BoundExpr& b) const {
    auto in = [&](int side) {
      return [this, side](int c) {
        if (side == 0 && c == ViewPlan::kEventTimeColumn) return true;
        const auto& cols = spec_.side_columns[side];
        return std::find(cols.begin(), cols.end(), c) != cols.end();
      };
    };
    const bool window = ReadsColumnWhere(b, [](int c) {
      return c == ViewPlan::kWindowStartColumn || c == ViewPlan::kWindowEndColumn;
    });
    const bool s0 = ReadsColumnWhere(b, in(0));
    const bool s1 = ReadsColumnWhere(b, in(1));
    if (window || (s0 && s1)) return 2;
    return s0 ? 0 : s1 ? 1 : -1;
  }

  std::optional<TimeTerm> TimeTermOf(const Expr& e) const {
    if (const auto* ref = std::get_if<ColumnRef>(&e.node)) {
      const auto& path = ref->path;
      if (path.size() == 1 && path[0].name == "event_time") return TimeTerm{0, 0};
      if (path.size() == 2 && SideOf(path[0].name) >= 0 && IsTimeName(path[1].name))
        return TimeTerm{SideOf(path[0].name), 0};
      return std::nullopt;
    }
    const auto* op = std::get_if<BinaryOp>(&e.node);
    if (op == nullptr || (op->op != BinaryOperator::kAdd && op->op != BinaryOperator::kSub))
      return std::nullopt;
    std::optional<TimeTerm> base = TimeTermOf(*op->left);
    if (!base) return std::nullopt;
    Scope empty;
    Result<BoundExpr> interval = Bind(*op->right, empty);
    if (!interval.ok() || interval->kind != BoundExpr::Kind::kConstant ||
        interval->constant.type != Type::kInterval)
      return std::nullopt;
    const int64_t micros = interval->constant.integer;
    base->offset += op->op == BinaryOperator::kAdd ? micros : -micros;
    return base;
  }

  // lhs OP rhs over the two sides' times, as a bound on d = time(side 1) - time(side 0).
  bool AddBound(const Expr& lhs_ast, BinaryOperator op, const Expr& rhs_ast) {
    std::optional<TimeTerm> lhs = TimeTermOf(lhs_ast), rhs = TimeTermOf(rhs_ast);
    if (!lhs || !rhs || lhs->side == rhs->side) return false;
    // tA + a OP tB + b  <=>  tA - tB OP b - a.
    int64_t c = rhs->offset - lhs->offset;
    if (lhs->side == 0) {  // -d OP c  <=>  d OP' -c
      c = -c;
      switch (op) {
        case BinaryOperator::kLt:
          op = BinaryOperator::kGt;
          break;
        case BinaryOperator::kLtEq:
          op = BinaryOperator::kGtEq;
          break;
        case BinaryOperator::kGt:
          op = BinaryOperator::kLt;
          break;
        case BinaryOperator::kGtEq:
          op = BinaryOperator::kLtEq;
          break;
        default:
          return false;
      }
    }
    switch (op) {
      case BinaryOperator::kLt:
        upper_ = std::min(upper_.value_or(c - 1), c - 1);
        return true;
      case BinaryOperator::kLtEq:
        upper_ = std::min(upper_.value_or(c), c);
        return true;
      case BinaryOperator::kGt:
        lower_ = std::max(lower_.value_or(c + 1), c + 1);
        return true;
      case BinaryOperator::kGtEq:
        lower_ = std::max(lower_.value_or(c), c);
        return true;
      default:
        return false;
    }
  }

  Status PlanCondition(ViewPlan& plan, const Scope& input) {
    std::vector<const Expr*> conjuncts;
    Conjuncts(join_.condition, conjuncts);
    for (const Expr* c : conjuncts) {
      // Bind every conjunct, so that names and types are checked wherever it ends up.
      SLUICE_ASSIGN_OR_RETURN(BoundExpr bound, Bind(*c, input));
      if (!IsBooleanish(bound.type))
        return ErrorAt(c->location, fmt::format("a join condition must be BOOLEAN, found {}",
                                                TypeName(bound.type)));
      if (const auto* between = std::get_if<Between>(&c->node); between && !between->negated) {
        const bool low = TimeTermOf(*between->operand) && TimeTermOf(*between->low);
        if (low && AddBound(*between->operand, BinaryOperator::kGtEq, *between->low) &&
            AddBound(*between->operand, BinaryOperator::kLtEq, *between->high))
          continue;
      }
      if (const auto* op = std::get_if<BinaryOp>(&c->node)) {
        if (op->op == BinaryOperator::kEq) {
          SLUICE_ASSIGN_OR_RETURN(BoundExpr left, Bind(*op->left, input));
          SLUICE_ASSIGN_OR_RETURN(BoundExpr right, Bind(*op->right, input));
          const int ls = SidesRead(left), rs = SidesRead(right);
          if ((ls == 0 && rs == 1) || (ls == 1 && rs == 0)) {
            if (left.type == Type::kJson || right.type == Type::kJson)
              return ErrorAt(c->location, "cannot join on JSON values; extract a field");
            spec_.keys[ls].push_back(std::move(left));
            spec_.keys[rs].push_back(std::move(right));
            continue;
          }
        } else if (AddBound(*op->left, op->op, *op->right)) {
          continue;
        }
      }
      plan.where = AndOf(std::move(plan.where), std::move(bound));
    }
    const std::string example =
        fmt::format("{1}.{2} BETWEEN {0}.{2} AND {0}.{2} + INTERVAL '2' HOUR", alias_[0], alias_[1],
                    cx_.stream->event_time);
    if (spec_.keys[0].empty())
      return ErrorAt(join_.condition.location,
                     fmt::format("an interval join needs an equality between the two sides, e.g. "
                                 "{}.order_id = {}.order_id",
                                 alias_[0], alias_[1]));
    if (!lower_ || !upper_)
      return ErrorAt(join_.condition.location,
                     fmt::format("an interval join bounds the two sides' event times from below "
                                 "and above, so that its state is bounded: e.g. {}",
                                 example));
    if (*lower_ > *upper_)
      return ErrorAt(join_.condition.location,
                     "the join's time interval is empty: no pair of events can satisfy it");
    spec_.lower_micros = *lower_;
    spec_.upper_micros = *upper_;
    plan.interval_join = std::move(spec_);
    return Status::Ok();
  }

  const JoinContext& cx_;
  const Join& join_;
  const NamedTable& named_;
  std::string alias_[2];
  IntervalJoinSpec spec_;
  std::optional<int64_t> lower_, upper_;
};

}  // namespace

Status PlanJoin(const JoinContext& cx, ViewPlan& plan, Scope& input) {
  const std::vector<Join>& joins = cx.query->from->joins;
  if (joins.size() > 1)
    return ErrorAt(joins[1].table.location,
                   "a view may have one JOIN (more are not supported yet)");
  const Join& join = joins[0];
  const auto* named = std::get_if<NamedTable>(&join.table.node);
  if (named == nullptr) {
    if (std::holds_alternative<WindowTable>(join.table.node))
      return ErrorAt(join.table.location,
                     "window the first FROM item, not the joined one: FROM TUMBLE(s, ...) AS a "
                     "JOIN ...");
    return ErrorAt(join.table.location,
                   "subqueries in FROM are not supported in materialized views");
  }
  const std::string& name = named->name.back().name;
  if (named->name.size() == 1) {
    if (const TableSpec* table = cx.catalog->FindTable(name))
      return PlanLookup(cx, join, *named, *table, plan, input);
    if (name == cx.stream->name) {
      IntervalPlanner planner(cx, join, *named);
      return planner.Plan(plan, input);
    }
    if (cx.catalog->FindStream(name) != nullptr)
      return ErrorAt(join.table.location,
                     fmt::format("joins of two different streams are not supported yet; an "
                                 "interval join joins {} with itself",
                                 cx.stream->name));
    if (cx.catalog->IsView(name))
      return ErrorAt(join.table.location,
                     fmt::format("'{}' is a materialized view; joins read reference tables "
                                 "(CREATE TABLE) or the stream itself",
                                 name));
  }
  return ErrorAt(join.table.location,
                 fmt::format("unknown table '{}' (CREATE TABLE {} (..., PRIMARY KEY (...)) first)",
                             name, name));
}

Status PlanIntervalJoinWhere(const Query& query, const Scope& input, ViewPlan& plan) {
  if (!query.where) return Status::Ok();
  Scope scope = input;
  scope.SetAggregateHint("in WHERE; use HAVING to filter on aggregates");
  std::vector<const Expr*> conjuncts;
  Conjuncts(*query.where, conjuncts);
  IntervalJoinSpec& spec = *plan.interval_join;
  for (const Expr* c : conjuncts) {
    SLUICE_ASSIGN_OR_RETURN(BoundExpr bound, Bind(*c, scope));
    if (!IsBooleanish(bound.type))
      return ErrorAt(c->location,
                     fmt::format("WHERE must be BOOLEAN, found {}", TypeName(bound.type)));
    auto in_side = [&](int side) {
      return [&spec, side](int col) {
        if (side == 0 && col == ViewPlan::kEventTimeColumn) return true;
        const auto& cols = spec.side_columns[side];
        return std::find(cols.begin(), cols.end(), col) != cols.end();
      };
    };
    const bool window = ReadsColumnWhere(bound, [](int col) {
      return col == ViewPlan::kWindowStartColumn || col == ViewPlan::kWindowEndColumn;
    });
    const bool s0 = ReadsColumnWhere(bound, in_side(0));
    const bool s1 = ReadsColumnWhere(bound, in_side(1));
    if (!window && s0 != s1) {
      const int side = s0 ? 0 : 1;
      spec.side_filter[side] = AndOf(std::move(spec.side_filter[side]), std::move(bound));
    } else {
      plan.where = AndOf(std::move(plan.where), std::move(bound));
    }
  }
  return Status::Ok();
}

}  // namespace sluice::sql
