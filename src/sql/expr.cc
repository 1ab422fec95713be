// The binder: AST expressions -> BoundExpr (names resolved, types checked and coerced).
#include "sql/expr.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sql/functions.h"

namespace sluice::sql {

std::string FieldPathToString(const FieldPath& path) {
  std::string out;
  for (const PathStep& step : path) {
    if (step.index >= 0) {
      out += fmt::format("[{}]", step.index + 1);
    } else {
      if (!out.empty()) out += '.';
      out += QuoteIdentifier(step.name);
    }
  }
  return out;
}

void Scope::SetEventRelation(std::vector<std::string> qualifiers) {
  has_event_relation_ = true;
  qualifiers_ = std::move(qualifiers);
}

void Scope::AddColumn(std::string name, Type type, int index, std::string relation) {
  columns_.push_back({std::move(relation), std::move(name), type, index});
}

void Scope::AddExpression(const Expr& expr, Type type, int index) {
  expressions_.push_back({expr, type, index});
}

bool IsAggregateFunction(std::string_view name) {
  const FunctionDef* f = FindFunction(name);
  return f != nullptr && f->kind == FunctionKind::kAggregate;
}

Type TypeForDataType(const DataType& type) {
  switch (type.kind) {
    case TypeKind::kBoolean:
      return Type::kBoolean;
    case TypeKind::kInt:
    case TypeKind::kBigint:
      return Type::kBigint;
    case TypeKind::kReal:
    case TypeKind::kDouble:
    case TypeKind::kDecimal:
      return Type::kDouble;
    case TypeKind::kVarchar:
      return Type::kVarchar;
    case TypeKind::kTimestamp:
    case TypeKind::kTimestamptz:
      return Type::kTimestamp;
    case TypeKind::kDate:
      return Type::kDate;
    case TypeKind::kInterval:
      return Type::kInterval;
    case TypeKind::kJson:
    case TypeKind::kJsonb:
      return Type::kJson;
  }
  return Type::kAny;
}

namespace {

// Calls f(child) for every direct child expression of `e`.
template <typename F>
void ForEachChild(const Expr& e, F&& f) {
  std::visit(
      [&](const auto& n) {
        using T = std::decay_t<decltype(n)>;
        if constexpr (std::is_same_v<T, FieldAccess>) {
          f(*n.base);
        } else if constexpr (std::is_same_v<T, Subscript>) {
          f(*n.base);
          f(*n.index);
        } else if constexpr (std::is_same_v<T, UnaryOp>) {
          f(*n.operand);
        } else if constexpr (std::is_same_v<T, BinaryOp>) {
          f(*n.left);
          f(*n.right);
        } else if constexpr (std::is_same_v<T, IsTest>) {
          f(*n.operand);
        } else if constexpr (std::is_same_v<T, InList>) {
          f(*n.operand);
          for (const Expr& x : n.list) f(x);
        } else if constexpr (std::is_same_v<T, Between>) {
          f(*n.operand);
          f(*n.low);
          f(*n.high);
        } else if constexpr (std::is_same_v<T, Like>) {
          f(*n.operand);
          f(*n.pattern);
          if (n.escape) f(**n.escape);
        } else if constexpr (std::is_same_v<T, Case>) {
          if (n.operand) f(**n.operand);
          for (const WhenClause& w : n.whens) {
            f(*w.condition);
            f(*w.result);
          }
          if (n.else_result) f(**n.else_result);
        } else if constexpr (std::is_same_v<T, Cast>) {
          f(*n.operand);
        } else if constexpr (std::is_same_v<T, Extract>) {
          f(*n.operand);
        } else if constexpr (std::is_same_v<T, FunctionCall>) {
          for (const Expr& x : n.args) f(x);
          if (n.filter) f(**n.filter);
        }
      },
      e.node);
}

void CollectAggregates(const Expr& e, std::vector<const Expr*>& out) {
  if (const auto* call = std::get_if<FunctionCall>(&e.node);
      call && IsAggregateFunction(call->name)) {
    out.push_back(&e);
    return;
  }
  ForEachChild(e, [&](const Expr& child) { CollectAggregates(child, out); });
}

}  // namespace

std::vector<const Expr*> FindAggregates(const Expr& expr) {
  std::vector<const Expr*> out;
  CollectAggregates(expr, out);
  return out;
}

std::vector<const Expr*> FindColumnRefs(const Expr& expr) {
  std::vector<const Expr*> out;
  std::vector<const Expr*> stack{&expr};
  while (!stack.empty()) {
    const Expr* e = stack.back();
    stack.pop_back();
    if (std::holds_alternative<ColumnRef>(e->node)) out.push_back(e);
    std::vector<const Expr*> children;
    ForEachChild(*e, [&](const Expr& child) { children.push_back(&child); });
    stack.insert(stack.end(), children.rbegin(), children.rend());
  }
  return out;
}

// ---- Binder -----------------------------------------------------------------------------------

class Binder {
 public:
  explicit Binder(const Scope& scope) : scope_(scope) {}

  Result<BoundExpr> Bind(const Expr& e) {
    for (const Scope::Expression& registered : scope_.expressions_) {
      if (registered.expr == e) return ColumnExpr(registered.index, registered.type, e.location);
    }
    return std::visit([&](const auto& node) { return BindNode(node, e.location); }, e.node);
  }

 private:
  using Kind = BoundExpr::Kind;

  static BoundExpr ColumnExpr(int index, Type type, SourceLocation location) {
    BoundExpr b;
    b.kind = Kind::kColumn;
    b.type = type;
    b.column = index;
    b.location = location;
    return b;
  }

  static BoundExpr Node(Kind kind, Type type, SourceLocation location) {
    BoundExpr b;
    b.kind = kind;
    b.type = type;
    b.location = location;
    return b;
  }

  static Result<BoundExpr> CallOf(const FunctionDef& fn, std::vector<BoundExpr> args,
                                  int64_t option, SourceLocation location) {
    BoundExpr call = Node(Kind::kCall, Type::kNull, location);
    call.function = &fn;
    call.args = std::move(args);
    call.option = option;
    SLUICE_RETURN_IF_ERROR(fn.bind(call));
    return call;
  }

  Result<std::vector<BoundExpr>> BindAll(std::initializer_list<const Expr*> exprs) {
    std::vector<BoundExpr> out;
    for (const Expr* e : exprs) {
      SLUICE_ASSIGN_OR_RETURN(BoundExpr b, Bind(*e));
      out.push_back(std::move(b));
    }
    return out;
  }

  // ---- Literals

  Result<BoundExpr> BindNode(const NullLiteral&, SourceLocation loc) {
    return MakeConstant(Value(), loc);
  }
  Result<BoundExpr> BindNode(const BooleanLiteral& n, SourceLocation loc) {
    return MakeConstant(Value::Boolean(n.value), loc);
  }
  Result<BoundExpr> BindNode(const IntegerLiteral& n, SourceLocation loc) {
    return MakeConstant(Value::Bigint(n.value), loc);
  }
  Result<BoundExpr> BindNode(const DecimalLiteral& n, SourceLocation loc) {
    // DOUBLE (see value.h: no DECIMAL at run time).
    Result<double> d = ParseDouble(n.text);
    if (!d.ok()) return ErrorAt(loc, d.status().message());
    return MakeConstant(Value::Double(*d), loc);
  }
  Result<BoundExpr> BindNode(const StringLiteral& n, SourceLocation loc) {
    BoundExpr b = MakeConstant(Value::Varchar(n.value), loc);
    b.string_literal = true;
    return b;
  }
  Result<BoundExpr> BindNode(const TypedLiteral& n, SourceLocation loc) {
    if (n.type == TypeKind::kDate) {
      Result<int64_t> d = ParseDate(n.value);
      if (!d.ok()) return ErrorAt(loc, d.status().message());
      return MakeConstant(Value::Date(*d), loc);
    }
    Result<int64_t> ts = ParseTimestamp(n.value);
    if (!ts.ok()) return ErrorAt(loc, ts.status().message());
    return MakeConstant(Value::Timestamp(*ts), loc);
  }
  Result<BoundExpr> BindNode(const IntervalLiteral& n, SourceLocation loc) {
    using U = IntervalUnit;
    std::string text = n.value;
    if (n.unit && (*n.unit == U::kYear || *n.unit == U::kMonth))
      return ErrorAt(loc,
                     "intervals of months or years are not supported (their length "
                     "varies); use days, e.g. INTERVAL '30' DAY");
    if (n.unit && !n.to_unit) {
      // INTERVAL '5' MINUTE: a number of the unit.
      static constexpr std::string_view kWords[] = {"", "", "days", "hours", "minutes", "seconds"};
      text = fmt::format("{} {}", n.value, kWords[static_cast<int>(*n.unit)]);
    } else if (n.unit && n.to_unit) {
      // INTERVAL '1 02:30' DAY TO MINUTE, '1:30' HOUR TO MINUTE, '5:30' MINUTE TO SECOND.
      if (*n.unit == U::kMinute) text = "0:" + text;
      if (*n.unit == U::kDay) {
        const size_t space = text.find(' ');
        text = space == std::string::npos
                   ? text + " days"
                   : text.substr(0, space) + " days " + text.substr(space + 1) +
                         (*n.to_unit == U::kHour ? " hours" : "");
      }
    }
    Result<int64_t> micros = ParseInterval(text);
    if (!micros.ok()) {
      return ErrorAt(
          loc, fmt::format("invalid INTERVAL '{}'{}{}: {}", n.value, n.unit ? " " : "",
                           n.unit ? IntervalUnitName(*n.unit) : "", micros.status().message()));
    }
    return MakeConstant(Value::Interval(*micros), loc);
  }

  // ---- Names

  Result<BoundExpr> FieldExpr(FieldPath path, SourceLocation loc) {
    BoundExpr field = Node(Kind::kField, Type::kAny, loc);
    field.path = std::move(path);
    if (scope_.field_type_hook_) {
      std::optional<Type> t = scope_.field_type_hook_(field.path);
      if (t && *t != Type::kAny) {
        BoundExpr typed = Node(Kind::kCoerce, *t, loc);
        typed.args.push_back(std::move(field));
        return typed;
      }
    }
    return field;
  }

  // `base.name` for a value that is not an event field path: JSON access at run time.
  Result<BoundExpr> JsonAccess(BoundExpr base, BoundExpr key, std::string_view what,
                               SourceLocation loc) {
    if (base.type != Type::kJson && base.type != Type::kAny && base.type != Type::kNull)
      return ErrorAt(loc, fmt::format("cannot take {} of a {} value", what, TypeName(base.type)));
    if (key.type != Type::kBigint && key.type != Type::kVarchar && key.type != Type::kAny &&
        key.type != Type::kNull)
      return ErrorAt(key.location, fmt::format("a subscript must be BIGINT (a 1-based position) "
                                               "or VARCHAR (a key), found {}",
                                               TypeName(key.type)));
    BoundExpr access = Node(Kind::kJsonAccess, Type::kAny, loc);
    access.args.push_back(std::move(base));
    access.args.push_back(std::move(key));
    return access;
  }

  Result<BoundExpr> BindNode(const ColumnRef& ref, SourceLocation loc) {
    const std::vector<Identifier>& path = ref.path;
    const std::string& first = path[0].name;
    if (path.size() == 1) {
      for (std::string_view name :
           {"current_timestamp", "current_date", "current_time", "localtimestamp", "localtime"}) {
        if (first == name)
          return ErrorAt(loc, fmt::format("{} is not allowed: a view must give the same result "
                                          "when the log is replayed; use the event's own time "
                                          "(event_time, or a field such as occurred_at)",
                                          first));
      }
    }
    size_t rest = 0;
    std::optional<BoundExpr> base;
    // A qualified computed column: relation.column.
    if (path.size() >= 2) {
      for (const Scope::Column& c : scope_.columns_) {
        if (!c.relation.empty() && c.relation == first && c.name == path[1].name) {
          base = ColumnExpr(c.index, c.type, loc);
          rest = 2;
          break;
        }
      }
    }
    if (!base) {
      for (const Scope::Column& c : scope_.columns_) {
        if (c.name == first) {
          base = ColumnExpr(c.index, c.type, loc);
          rest = 1;
          break;
        }
      }
    }
    if (base) {
      BoundExpr out = std::move(*base);
      for (size_t i = rest; i < path.size(); ++i) {
        SLUICE_ASSIGN_OR_RETURN(
            out,
            JsonAccess(std::move(out), MakeConstant(Value::Varchar(path[i].name), path[i].location),
                       fmt::format("field '{}'", path[i].name), path[i].location));
      }
      return out;
    }
    if (scope_.has_event_relation_) {
      size_t skip = 0;
      if (path.size() >= 2 && std::find(scope_.qualifiers_.begin(), scope_.qualifiers_.end(),
                                        first) != scope_.qualifiers_.end())
        skip = 1;
      FieldPath field;
      for (size_t i = skip; i < path.size(); ++i) field.push_back({path[i].name, -1});
      return FieldExpr(std::move(field), loc);
    }
    return UnknownName(first, loc);
  }

  Status UnknownName(const std::string& name, SourceLocation loc) {
    std::string message = fmt::format("unknown column '{}'", name);
    std::string_view best;
    size_t best_distance = std::max<size_t>(1, name.size() / 3) + 1;
    for (const Scope::Column& c : scope_.columns_) {
      const size_t d = EditDistance(name, c.name);
      if (d < best_distance) {
        best_distance = d;
        best = c.name;
      }
    }
    if (!best.empty()) message += fmt::format(" (did you mean '{}'?)", best);
    if (!scope_.unknown_name_hint_.empty())
      message += fmt::format("; {}", scope_.unknown_name_hint_);
    return ErrorAt(loc, message);
  }

  Result<BoundExpr> BindNode(const FieldAccess& n, SourceLocation loc) {
    SLUICE_ASSIGN_OR_RETURN(BoundExpr base, Bind(*n.base));
    if (base.kind == Kind::kField) {
      base.path.push_back({n.field.name, -1});
      return base;
    }
    return JsonAccess(std::move(base), MakeConstant(Value::Varchar(n.field.name), n.field.location),
                      fmt::format("field '{}'", n.field.name), loc);
  }

  Result<BoundExpr> BindNode(const Subscript& n, SourceLocation loc) {
    SLUICE_ASSIGN_OR_RETURN(BoundExpr base, Bind(*n.base));
    SLUICE_ASSIGN_OR_RETURN(BoundExpr index, Bind(*n.index));
    if (base.kind == Kind::kField && index.kind == Kind::kConstant) {
      if (index.constant.type == Type::kBigint) {
        // SQL positions are 1-based (PostgreSQL, DuckDB); 0 and negative positions are NULL.
        if (index.constant.integer < 1) {
          BoundExpr null = MakeConstant(Value(), loc);
          null.type = Type::kAny;
          return null;
        }
        base.path.push_back({"", index.constant.integer - 1});
        return base;
      }
      if (index.constant.type == Type::kVarchar) {
        base.path.push_back({std::string(index.constant.str()), -1});
        return base;
      }
    }
    return JsonAccess(std::move(base), std::move(index), "a subscript", loc);
  }

  // ---- Operators

  Result<BoundExpr> BindNode(const UnaryOp& n, SourceLocation loc) {
    SLUICE_ASSIGN_OR_RETURN(std::vector<BoundExpr> args, BindAll({&*n.operand}));
    return CallOf(n.op == UnaryOperator::kNot ? NotFunction() : NegateFunction(), std::move(args),
                  0, loc);
  }

  // Flattens a chain of the same operator (a AND b AND c) into one n-ary node.
  Status FlattenLogical(const Expr& e, BinaryOperator op, std::vector<BoundExpr>& out) {
    if (const auto* b = std::get_if<BinaryOp>(&e.node); b && b->op == op) {
      bool registered = false;
      for (const Scope::Expression& r : scope_.expressions_) registered |= r.expr == e;
      if (!registered) {
        SLUICE_RETURN_IF_ERROR(FlattenLogical(*b->left, op, out));
        return FlattenLogical(*b->right, op, out);
      }
    }
    SLUICE_ASSIGN_OR_RETURN(BoundExpr arg, Bind(e));
    out.push_back(std::move(arg));
    return Status::Ok();
  }

  Result<BoundExpr> BindNode(const BinaryOp& n, SourceLocation loc) {
    if (n.op == BinaryOperator::kAnd || n.op == BinaryOperator::kOr) {
      BoundExpr logical =
          Node(n.op == BinaryOperator::kAnd ? Kind::kAnd : Kind::kOr, Type::kBoolean, loc);
      SLUICE_RETURN_IF_ERROR(FlattenLogical(*n.left, n.op, logical.args));
      SLUICE_RETURN_IF_ERROR(FlattenLogical(*n.right, n.op, logical.args));
      SLUICE_RETURN_IF_ERROR(CheckBoolean(logical.args, BinaryOperatorName(n.op)));
      return logical;
    }
    SLUICE_ASSIGN_OR_RETURN(std::vector<BoundExpr> args, BindAll({&*n.left, &*n.right}));
    return CallOf(OperatorFunction(n.op), std::move(args), static_cast<int64_t>(n.op), loc);
  }

  static Status CheckBoolean(std::vector<BoundExpr>& args, std::string_view what) {
    for (BoundExpr& arg : args) {
      if (arg.type == Type::kBoolean || arg.type == Type::kAny || arg.type == Type::kNull) continue;
      if (arg.kind == Kind::kConstant && arg.string_literal) {
        SLUICE_RETURN_IF_ERROR(CoerceArgument(arg, Type::kBoolean, ""));
        continue;
      }
      return ErrorAt(arg.location, fmt::format("argument of {} must be BOOLEAN, found {}", what,
                                               TypeName(arg.type)));
    }
    return Status::Ok();
  }

  Result<BoundExpr> BindNode(const IsTest& n, SourceLocation loc) {
    SLUICE_ASSIGN_OR_RETURN(std::vector<BoundExpr> args, BindAll({&*n.operand}));
    const int64_t option = static_cast<int64_t>(n.predicate) | (n.negated ? 0x100 : 0);
    return CallOf(IsFunction(n.predicate), std::move(args), option, loc);
  }

  Result<BoundExpr> BindNode(const InList& n, SourceLocation loc) {
    BoundExpr in = Node(Kind::kIn, Type::kBoolean, loc);
    in.negated = n.negated;
    SLUICE_ASSIGN_OR_RETURN(BoundExpr operand, Bind(*n.operand));
    in.args.push_back(std::move(operand));
    for (const Expr& item : n.list) {
      SLUICE_ASSIGN_OR_RETURN(BoundExpr b, Bind(item));
      in.args.push_back(std::move(b));
    }
    SLUICE_RETURN_IF_ERROR(UnifyCompared(in.args, "the operand and the values of IN", loc));
    return in;
  }

  // Operands that are compared with each other: one common type, and comparable.
  static Status UnifyCompared(std::vector<BoundExpr>& args, std::string_view what,
                              SourceLocation loc) {
    std::vector<BoundExpr*> ptrs;
    for (BoundExpr& a : args) ptrs.push_back(&a);
    SLUICE_ASSIGN_OR_RETURN(Type common, UnifyTypes(ptrs, what, loc));
    if (common == Type::kJson)
      return ErrorAt(loc, "JSON values cannot be compared; extract a field or cast to VARCHAR");
    return Status::Ok();
  }

  Result<BoundExpr> BindNode(const Between& n, SourceLocation loc) {
    BoundExpr between = Node(Kind::kBetween, Type::kBoolean, loc);
    between.negated = n.negated;
    SLUICE_ASSIGN_OR_RETURN(between.args, BindAll({&*n.operand, &*n.low, &*n.high}));
    SLUICE_RETURN_IF_ERROR(UnifyCompared(between.args, "the operands of BETWEEN", loc));
    return between;
  }

  Result<BoundExpr> BindNode(const Like& n, SourceLocation loc) {
    std::vector<BoundExpr> args;
    SLUICE_ASSIGN_OR_RETURN(args, BindAll({&*n.operand, &*n.pattern}));
    if (n.escape) {
      SLUICE_ASSIGN_OR_RETURN(BoundExpr escape, Bind(**n.escape));
      args.push_back(std::move(escape));
    }
    const int64_t option = (n.case_insensitive ? 1 : 0) | (n.negated ? 2 : 0);
    return CallOf(*FindFunction("LIKE"), std::move(args), option, loc);
  }

  Result<BoundExpr> BindNode(const Case& n, SourceLocation loc) {
    BoundExpr c = Node(Kind::kCase, Type::kNull, loc);
    c.has_operand = n.operand.has_value();
    c.has_else = n.else_result.has_value();
    if (n.operand) {
      SLUICE_ASSIGN_OR_RETURN(BoundExpr operand, Bind(**n.operand));
      c.args.push_back(std::move(operand));
    }
    for (const WhenClause& w : n.whens) {
      SLUICE_ASSIGN_OR_RETURN(BoundExpr condition, Bind(*w.condition));
      SLUICE_ASSIGN_OR_RETURN(BoundExpr result, Bind(*w.result));
      c.args.push_back(std::move(condition));
      c.args.push_back(std::move(result));
    }
    if (n.else_result) {
      SLUICE_ASSIGN_OR_RETURN(BoundExpr otherwise, Bind(**n.else_result));
      c.args.push_back(std::move(otherwise));
    }
    const size_t first_when = c.has_operand ? 1 : 0;
    const size_t whens = n.whens.size();
    if (c.has_operand) {
      std::vector<BoundExpr*> compared{&c.args[0]};
      for (size_t i = 0; i < whens; ++i) compared.push_back(&c.args[first_when + 2 * i]);
      SLUICE_ASSIGN_OR_RETURN(Type t,
                              UnifyTypes(compared, "the operand and the WHEN values of CASE", loc));
      if (t == Type::kJson) return ErrorAt(loc, "JSON values cannot be compared in CASE");
    } else {
      for (size_t i = 0; i < whens; ++i) {
        BoundExpr& condition = c.args[first_when + 2 * i];
        if (condition.type == Type::kBoolean || condition.type == Type::kAny ||
            condition.type == Type::kNull)
          continue;
        return ErrorAt(condition.location, fmt::format("a WHEN condition must be BOOLEAN, found {}",
                                                       TypeName(condition.type)));
      }
    }
    std::vector<BoundExpr*> results;
    for (size_t i = 0; i < whens; ++i) results.push_back(&c.args[first_when + 2 * i + 1]);
    if (c.has_else) results.push_back(&c.args.back());
    SLUICE_ASSIGN_OR_RETURN(c.type, UnifyTypes(results, "the results of CASE", loc));
    return c;
  }

  static Result<Type> CastTarget(const DataType& t, int32_t& scale) {
    scale = t.kind == TypeKind::kDecimal ? t.scale.value_or(t.precision ? 0 : -1) : -1;
    return TypeForDataType(t);
  }

  Result<BoundExpr> BindNode(const Cast& n, SourceLocation loc) {
    SLUICE_ASSIGN_OR_RETURN(BoundExpr operand, Bind(*n.operand));
    int32_t scale;
    SLUICE_ASSIGN_OR_RETURN(Type target, CastTarget(n.type, scale));
    if (!CastExists(operand.type, target))
      return ErrorAt(loc,
                     fmt::format("cannot cast {} to {}", TypeName(operand.type), TypeName(target)));
    if (operand.kind == Kind::kConstant) {
      // Literals are converted now, so a bad one is reported at bind time.
      EvalContext ctx;
      Value v = CastValue(operand.constant, target, scale, loc, ctx);
      if (!ctx.ok()) return ctx.error();
      BoundExpr folded = MakeConstant(v, loc);
      folded.type = target;
      return folded;
    }
    BoundExpr cast = Node(Kind::kCast, target, loc);
    cast.scale = scale;
    cast.args.push_back(std::move(operand));
    return cast;
  }

  Result<BoundExpr> BindNode(const Extract& n, SourceLocation loc) {
    std::vector<BoundExpr> args;
    args.push_back(MakeConstant(Value::Varchar(n.field), loc));
    SLUICE_ASSIGN_OR_RETURN(BoundExpr operand, Bind(*n.operand));
    args.push_back(std::move(operand));
    Result<BoundExpr> call = CallOf(*FindFunction("date_part"), std::move(args), 0, loc);
    if (!call.ok() && call.status().message().find("unknown unit") != std::string::npos)
      return ErrorAt(loc, fmt::format("unknown field '{}' for EXTRACT (use year, quarter, month, "
                                      "week, day, hour, minute, second, millisecond, "
                                      "microsecond, epoch, dow, isodow, doy or isoyear)",
                                      n.field));
    return call;
  }

  Result<BoundExpr> BindNode(const FunctionCall& n, SourceLocation loc) {
    const FunctionDef* fn = FindFunction(n.name);
    if (fn == nullptr || fn->kind == FunctionKind::kOperator) {
      std::string message = fmt::format("unknown function '{}'", n.name);
      if (n.name == "position") {
        message +=
            " (use strpos(string, substring); the form position(substring IN string) "
            "is not supported)";
      } else {
        std::vector<std::string_view> similar = SimilarFunctionNames(n.name);
        if (similar.size() == 1) message += fmt::format(" (did you mean '{}'?)", similar[0]);
        if (similar.size() > 1)
          message += fmt::format(" (did you mean one of: {}?)", fmt::join(similar, ", "));
      }
      return ErrorAt(loc, message);
    }
    if (fn->kind == FunctionKind::kAggregate) {
      std::string message = fmt::format("aggregate '{}' is not allowed here", n.name);
      if (!scope_.aggregate_hint_.empty()) message += fmt::format(" ({})", scope_.aggregate_hint_);
      return ErrorAt(loc, message);
    }
    if (n.star) return ErrorAt(loc, fmt::format("{}(*) is only valid for count", n.name));
    if (n.distinct)
      return ErrorAt(loc, fmt::format("DISTINCT is only valid in aggregates, and "
                                      "'{}' is not one",
                                      n.name));
    if (n.filter)
      return ErrorAt(loc, fmt::format("FILTER is only valid for aggregates, and '{}' "
                                      "is not one",
                                      n.name));
    const int count = static_cast<int>(n.args.size());
    if (count < fn->min_args || (fn->max_args >= 0 && count > fn->max_args)) {
      std::string takes = fn->max_args < 0 ? fmt::format("at least {}", fn->min_args)
                          : fn->min_args == fn->max_args
                              ? fmt::format("{}", fn->min_args)
                              : fmt::format("{} or {}", fn->min_args, fn->max_args);
      return ErrorAt(loc, fmt::format("function '{}' takes {} argument{}, found {}: {}", n.name,
                                      takes, fn->max_args == 1 && fn->min_args == 1 ? "" : "s",
                                      count, fn->signatures));
    }
    std::vector<BoundExpr> args;
    for (const Expr& a : n.args) {
      SLUICE_ASSIGN_OR_RETURN(BoundExpr b, Bind(a));
      args.push_back(std::move(b));
    }
    if (n.name == "coalesce") {
      BoundExpr c = Node(Kind::kCoalesce, Type::kNull, loc);
      c.args = std::move(args);
      std::vector<BoundExpr*> ptrs;
      for (BoundExpr& a : c.args) ptrs.push_back(&a);
      SLUICE_ASSIGN_OR_RETURN(c.type, UnifyTypes(ptrs, "the arguments of coalesce", loc));
      return c;
    }
    return CallOf(*fn, std::move(args), 0, loc);
  }

  const Scope& scope_;
};

Result<BoundExpr> Bind(const Expr& expr, const Scope& scope) {
  Binder binder(scope);
  return binder.Bind(expr);
}

}  // namespace sluice::sql
