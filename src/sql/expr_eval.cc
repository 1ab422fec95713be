// The evaluator: a BoundExpr compiled into a tree of small nodes with one virtual Eval() each.
//
// Why a tree of virtual nodes rather than a flat bytecode: Values are 16-byte PODs returned in
// registers, so a node costs an indirect call and a type-tag check, ~1-2 ns; a typical view
// expression has 2-6 nodes. The common shapes get their own nodes (a comparison, arithmetic,
// a field, a constant, LIKE with a constant pattern, the element count of an array field)
// so that no per-row work is spent on dispatch tables or argument arrays. Sub-trees without
// fields or columns are computed once at compile time. bench/sql_expr_bench.cc measures it.
#include <algorithm>
#include <optional>

#include <fmt/format.h>
#include <simdjson.h>

#include "sql/event_fields.h"
#include "sql/event_fields_json.h"
#include "sql/expr.h"
#include "sql/functions.h"

namespace sluice::sql {

namespace ondemand = simdjson::ondemand;

// ---- EvalContext ------------------------------------------------------------------------------

EvalContext::EvalContext() : json_parser_(nullptr, [](void*) {}) {}
EvalContext::~EvalContext() = default;

void* EvalContext::json_parser() {
  if (!json_parser_) {
    json_parser_ = std::unique_ptr<void, void (*)(void*)>(
        new ondemand::parser(), [](void* p) { delete static_cast<ondemand::parser*>(p); });
  }
  return json_parser_.get();
}

// ---- Nodes ------------------------------------------------------------------------------------

class EvalNode {
 public:
  virtual ~EvalNode() = default;
  virtual Value Eval(const Row& row, EvalContext& ctx) const = 0;
  // A node whose value is the same for every row (after folding: only ConstNode).
  virtual const Value* constant() const { return nullptr; }
};

namespace {

using NodePtr = std::unique_ptr<EvalNode>;

class ConstNode final : public EvalNode {
 public:
  explicit ConstNode(Value v) : value_(v) {}
  Value Eval(const Row&, EvalContext&) const override { return value_; }
  const Value* constant() const override { return &value_; }

 private:
  Value value_;
};

class FieldNode final : public EvalNode {
 public:
  explicit FieldNode(size_t slot) : slot_(slot) {}
  Value Eval(const Row& row, EvalContext&) const override {
    return slot_ < row.fields.size() ? row.fields[slot_] : Value();
  }

 private:
  size_t slot_;
};

class ColumnNode final : public EvalNode {
 public:
  explicit ColumnNode(size_t index) : index_(index) {}
  Value Eval(const Row& row, EvalContext&) const override {
    return index_ < row.columns.size() ? row.columns[index_] : Value();
  }

 private:
  size_t index_;
};

class CoerceNode final : public EvalNode {
 public:
  CoerceNode(NodePtr arg, Type target) : arg_(std::move(arg)), target_(target) {}
  Value Eval(const Row& row, EvalContext& ctx) const override {
    const Value v = arg_->Eval(row, ctx);
    if (v.type == target_ || v.is_null()) return v;
    return CoerceValue(v, target_, ctx);
  }

 private:
  NodePtr arg_;
  Type target_;
};

class CastNode final : public EvalNode {
 public:
  CastNode(NodePtr arg, Type target, int32_t scale, SourceLocation location)
      : arg_(std::move(arg)), target_(target), scale_(scale), location_(location) {}
  Value Eval(const Row& row, EvalContext& ctx) const override {
    return CastValue(arg_->Eval(row, ctx), target_, scale_, location_, ctx);
  }

 private:
  NodePtr arg_;
  Type target_;
  int32_t scale_;
  SourceLocation location_;
};

// A comparison of two values; the common case `field = 'constant'` is two virtual calls and a
// memcmp.
class CompareNode final : public EvalNode {
 public:
  CompareNode(NodePtr left, NodePtr right, BinaryOperator op)
      : left_(std::move(left)), right_(std::move(right)), op_(op) {}
  Value Eval(const Row& row, EvalContext& ctx) const override {
    const Value a = left_->Eval(row, ctx);
    if (a.is_null()) return Value();
    const Value b = right_->Eval(row, ctx);
    if (b.is_null()) return Value();
    int c;
    if (a.type == Type::kVarchar && b.type == Type::kVarchar) {
      if (op_ == BinaryOperator::kEq)
        return Value::Boolean(a.size == b.size && std::memcmp(a.text, b.text, a.size) == 0);
      c = a.str().compare(b.str());
    } else if (a.type == Type::kBigint && b.type == Type::kBigint) {
      c = a.integer < b.integer ? -1 : (a.integer > b.integer ? 1 : 0);
    } else {
      c = CompareValues(a, b);
      if (c == kIncomparable) {
        ctx.CountMismatch();
        return Value();
      }
    }
    switch (op_) {
      case BinaryOperator::kEq:
        return Value::Boolean(c == 0);
      case BinaryOperator::kNotEq:
        return Value::Boolean(c != 0);
      case BinaryOperator::kLt:
        return Value::Boolean(c < 0);
      case BinaryOperator::kLtEq:
        return Value::Boolean(c <= 0);
      case BinaryOperator::kGt:
        return Value::Boolean(c > 0);
      default:
        return Value::Boolean(c >= 0);
    }
  }

 private:
  NodePtr left_, right_;
  BinaryOperator op_;
};

class ArithmeticNode final : public EvalNode {
 public:
  ArithmeticNode(NodePtr left, NodePtr right, BinaryOperator op, SourceLocation location)
      : left_(std::move(left)),
        right_(std::move(right)),
        info_{location, static_cast<int64_t>(op)} {}
  Value Eval(const Row& row, EvalContext& ctx) const override {
    const Value a = left_->Eval(row, ctx);
    if (a.is_null()) return Value();
    const Value b = right_->Eval(row, ctx);
    if (b.is_null()) return Value();
    if (a.type == Type::kDouble && b.type == Type::kDouble) {
      switch (static_cast<BinaryOperator>(info_.option)) {
        case BinaryOperator::kAdd:
          return Value::Double(a.real + b.real);
        case BinaryOperator::kSub:
          return Value::Double(a.real - b.real);
        case BinaryOperator::kMul:
          return Value::Double(a.real * b.real);
        case BinaryOperator::kDiv:
          return b.real == 0 ? Value() : Value::Double(a.real / b.real);
        default:
          break;
      }
    }
    return Arithmetic(static_cast<BinaryOperator>(info_.option), a, b, info_, ctx);
  }

 private:
  NodePtr left_, right_;
  CallInfo info_;
};

// Any registered function: arguments in a small array (or the arena when there are many).
class CallNode final : public EvalNode {
 public:
  CallNode(const FunctionDef* fn, std::vector<NodePtr> args, CallInfo info)
      : fn_(fn), args_(std::move(args)), info_(info) {}
  Value Eval(const Row& row, EvalContext& ctx) const override {
    constexpr size_t kInline = 8;
    Value inline_values[kInline];
    Value* values = inline_values;
    const size_t n = args_.size();
    if (n > kInline) {
      values = reinterpret_cast<Value*>(ctx.arena().Allocate(n * sizeof(Value)));
      std::uninitialized_default_construct_n(values, n);
    }
    for (size_t i = 0; i < n; ++i) {
      values[i] = args_[i]->Eval(row, ctx);
      if (fn_->strict && values[i].is_null()) return Value();
    }
    return fn_->eval(values, n, info_, ctx);
  }

 private:
  const FunctionDef* fn_;
  std::vector<NodePtr> args_;
  CallInfo info_;
};

class LikeNode final : public EvalNode {
 public:
  LikeNode(NodePtr operand, LikePattern pattern, bool negated)
      : operand_(std::move(operand)), pattern_(std::move(pattern)), negated_(negated) {}
  Value Eval(const Row& row, EvalContext& ctx) const override {
    const Value v = operand_->Eval(row, ctx);
    if (v.is_null()) return v;
    return Value::Boolean(pattern_.Matches(v.str()) != negated_);
  }

 private:
  NodePtr operand_;
  LikePattern pattern_;
  bool negated_;
};

// AND / OR over two or more operands, three-valued, stopping at the first deciding operand.
template <bool kAnd>
class LogicalNode final : public EvalNode {
 public:
  explicit LogicalNode(std::vector<NodePtr> args) : args_(std::move(args)) {}
  Value Eval(const Row& row, EvalContext& ctx) const override {
    bool unknown = false;
    for (const NodePtr& arg : args_) {
      const Value v = arg->Eval(row, ctx);
      if (v.type == Type::kBoolean) {
        if (v.boolean != kAnd) return Value::Boolean(!kAnd);
        continue;
      }
      if (!v.is_null()) ctx.CountMismatch();
      unknown = true;
    }
    return unknown ? Value() : Value::Boolean(kAnd);
  }

 private:
  std::vector<NodePtr> args_;
};

class CaseNode final : public EvalNode {
 public:
  CaseNode(NodePtr operand, std::vector<std::pair<NodePtr, NodePtr>> whens, NodePtr otherwise)
      : operand_(std::move(operand)), whens_(std::move(whens)), else_(std::move(otherwise)) {}
  Value Eval(const Row& row, EvalContext& ctx) const override {
    if (operand_) {
      const Value x = operand_->Eval(row, ctx);
      if (!x.is_null()) {
        for (const auto& [when, then] : whens_) {
          const Value w = when->Eval(row, ctx);
          if (!w.is_null() && CompareValues(x, w) == 0) return then->Eval(row, ctx);
        }
      }
    } else {
      for (const auto& [when, then] : whens_) {
        const Value c = when->Eval(row, ctx);
        if (c.type == Type::kBoolean && c.boolean) return then->Eval(row, ctx);
        if (!c.is_null() && c.type != Type::kBoolean) ctx.CountMismatch();
      }
    }
    return else_ ? else_->Eval(row, ctx) : Value();
  }

 private:
  NodePtr operand_;
  std::vector<std::pair<NodePtr, NodePtr>> whens_;
  NodePtr else_;
};

class CoalesceNode final : public EvalNode {
 public:
  explicit CoalesceNode(std::vector<NodePtr> args) : args_(std::move(args)) {}
  Value Eval(const Row& row, EvalContext& ctx) const override {
    for (const NodePtr& arg : args_) {
      const Value v = arg->Eval(row, ctx);
      if (!v.is_null()) return v;
    }
    return Value();
  }

 private:
  std::vector<NodePtr> args_;
};

class InNode final : public EvalNode {
 public:
  InNode(NodePtr operand, std::vector<NodePtr> list, bool negated)
      : operand_(std::move(operand)), list_(std::move(list)), negated_(negated) {}
  Value Eval(const Row& row, EvalContext& ctx) const override {
    const Value x = operand_->Eval(row, ctx);
    if (x.is_null()) return x;
    bool unknown = false;
    for (const NodePtr& item : list_) {
      const Value v = item->Eval(row, ctx);
      if (v.is_null()) {
        unknown = true;
        continue;
      }
      const int c = CompareValues(x, v);
      if (c == 0) return Value::Boolean(!negated_);
      if (c == kIncomparable) {
        ctx.CountMismatch();
        unknown = true;
      }
    }
    return unknown ? Value() : Value::Boolean(negated_);
  }

 private:
  NodePtr operand_;
  std::vector<NodePtr> list_;
  bool negated_;
};

class BetweenNode final : public EvalNode {
 public:
  BetweenNode(NodePtr x, NodePtr low, NodePtr high, bool negated)
      : x_(std::move(x)), low_(std::move(low)), high_(std::move(high)), negated_(negated) {}
  Value Eval(const Row& row, EvalContext& ctx) const override {
    const Value x = x_->Eval(row, ctx);
    if (x.is_null()) return x;
    // x >= low AND x <= high, three-valued: a known false side decides.
    const int lo = Side(x, low_->Eval(row, ctx), ctx);
    if (lo == 0) return Value::Boolean(negated_);
    const int hi = Side(high_->Eval(row, ctx), x, ctx);
    if (hi == 0) return Value::Boolean(negated_);
    if (lo < 0 || hi < 0) return Value();
    return Value::Boolean(!negated_);
  }

 private:
  // 1: a >= b; 0: a < b; -1: unknown.
  static int Side(const Value& a, const Value& b, EvalContext& ctx) {
    if (a.is_null() || b.is_null()) return -1;
    const int c = CompareValues(a, b);
    if (c == kIncomparable) {
      ctx.CountMismatch();
      return -1;
    }
    return c >= 0 ? 1 : 0;
  }
  NodePtr x_, low_, high_;
  bool negated_;
};

// (json).key or json[position] on a JSON value computed at run time.
class JsonAccessNode final : public EvalNode {
 public:
  JsonAccessNode(NodePtr base, NodePtr key) : base_(std::move(base)), key_(std::move(key)) {}
  Value Eval(const Row& row, EvalContext& ctx) const override {
    const Value base = base_->Eval(row, ctx);
    if (base.is_null()) return base;
    const Value key = key_->Eval(row, ctx);
    if (key.is_null()) return key;
    if (base.type != Type::kJson || (key.type != Type::kVarchar && key.type != Type::kBigint))
      return Mismatch(ctx);
    const std::string_view text = base.str();
    const char open = key.type == Type::kVarchar ? '{' : '[';
    if (text.empty() || text.front() != open) return Mismatch(ctx);
    auto* parser = static_cast<ondemand::parser*>(ctx.json_parser());
    simdjson::padded_string_view input(text.data(), text.size(),
                                       text.size() + simdjson::SIMDJSON_PADDING);
    ondemand::document doc;
    ondemand::value v;
    Value out;
    if (parser->iterate(input).get(doc) || doc.get_value().get(v)) return Value();
    const simdjson::error_code error = key.type == Type::kVarchar
                                           ? FindKey(v, key.str(), ctx, out)
                                           : FindIndex(v, key.integer, ctx, out);
    return error ? Value() : out;
  }

 private:
  static Value Mismatch(EvalContext& ctx) {
    ctx.CountMismatch();
    return Value();
  }

  static simdjson::error_code Read(ondemand::value& v, EvalContext& ctx, Value& out) {
    ondemand::json_type type;
    SIMDJSON_TRY(v.type().get(type));
    std::string_view raw;
    switch (type) {
      case ondemand::json_type::object: {
        ondemand::object o;
        SIMDJSON_TRY(v.get_object().get(o));
        SIMDJSON_TRY(o.raw_json().get(raw));
        out = Value::Json(raw);
        return simdjson::SUCCESS;
      }
      case ondemand::json_type::array: {
        ondemand::array a;
        SIMDJSON_TRY(v.get_array().get(a));
        SIMDJSON_TRY(a.raw_json().get(raw));
        out = Value::Json(raw);
        return simdjson::SUCCESS;
      }
      case ondemand::json_type::string: {
        std::string_view s;
        SIMDJSON_TRY(ReadJsonString(v, s, ctx.arena()));
        out = Value::Varchar(s);
        return simdjson::SUCCESS;
      }
      case ondemand::json_type::number:
        return ReadJsonNumber(v, out);
      case ondemand::json_type::boolean: {
        bool b;
        SIMDJSON_TRY(v.get_bool().get(b));
        out = Value::Boolean(b);
        return simdjson::SUCCESS;
      }
      default:
        out = Value();
        return simdjson::SUCCESS;
    }
  }

  static simdjson::error_code FindKey(ondemand::value& v, std::string_view key, EvalContext& ctx,
                                      Value& out) {
    ondemand::object object;
    SIMDJSON_TRY(v.get_object().get(object));
    for (auto field_result : object) {
      ondemand::field field;
      SIMDJSON_TRY(std::move(field_result).get(field));
      std::string_view k;
      SIMDJSON_TRY(ReadKey(field, k));
      if (k == key) return Read(field.value(), ctx, out);
    }
    return simdjson::SUCCESS;
  }

  static simdjson::error_code FindIndex(ondemand::value& v, int64_t position, EvalContext& ctx,
                                        Value& out) {
    if (position < 1) return simdjson::SUCCESS;  // 1-based; 0 and negative are NULL
    ondemand::array array;
    SIMDJSON_TRY(v.get_array().get(array));
    int64_t i = 1;
    for (auto element : array) {
      ondemand::value e;
      SIMDJSON_TRY(std::move(element).get(e));
      if (i++ == position) return Read(e, ctx, out);
    }
    return simdjson::SUCCESS;
  }

  NodePtr base_, key_;
};

// ---- Compiler ---------------------------------------------------------------------------------

class Compiler {
 public:
  Compiler(FieldSet& fields, std::vector<std::unique_ptr<std::string>>& constants)
      : fields_(fields), constants_(constants) {}

  Result<NodePtr> Build(const BoundExpr& e) {
    SLUICE_ASSIGN_OR_RETURN(NodePtr node, BuildNode(e));
    return Fold(std::move(node), e);
  }

 private:
  using Kind = BoundExpr::Kind;

  NodePtr Constant(const Value& v) {
    if (v.type != Type::kVarchar && v.type != Type::kJson) return std::make_unique<ConstNode>(v);
    auto text = std::make_unique<std::string>(v.str());
    text->append(kJsonPadding, '\0');
    Value copy = v;
    copy.text = text->data();
    constants_.push_back(std::move(text));
    return std::make_unique<ConstNode>(copy);
  }

  static bool AllConstant(const std::vector<NodePtr>& nodes) {
    return std::all_of(nodes.begin(), nodes.end(),
                       [](const NodePtr& n) { return n->constant() != nullptr; });
  }

  // Replaces a node that reads no field or column by its value.
  Result<NodePtr> Fold(NodePtr node, const BoundExpr& e) {
    if (node->constant() != nullptr || !ReadsNothing(e)) return node;
    EvalContext ctx;
    const Value v = node->Eval(Row{}, ctx);
    if (!ctx.ok()) return ctx.error();
    return Constant(v);
  }

  static bool ReadsNothing(const BoundExpr& e) {
    if (e.kind == Kind::kField || e.kind == Kind::kColumn) return false;
    return std::all_of(e.args.begin(), e.args.end(), ReadsNothing);
  }

  Result<std::vector<NodePtr>> BuildAll(const std::vector<BoundExpr>& args, size_t from = 0) {
    std::vector<NodePtr> out;
    for (size_t i = from; i < args.size(); ++i) {
      SLUICE_ASSIGN_OR_RETURN(NodePtr n, Build(args[i]));
      out.push_back(std::move(n));
    }
    return out;
  }

  // The event field under an implicit coercion, if `e` is one: cardinality(field) then reads
  // the element count straight from the extractor.
  static const BoundExpr* FieldUnder(const BoundExpr& e) {
    if (e.kind == Kind::kField) return &e;
    if (e.kind == Kind::kCoerce && e.args[0].kind == Kind::kField) return &e.args[0];
    return nullptr;
  }

  Result<NodePtr> BuildNode(const BoundExpr& e) {
    switch (e.kind) {
      case Kind::kConstant:
        return Constant(e.constant);
      case Kind::kField:
        return NodePtr(std::make_unique<FieldNode>(static_cast<size_t>(fields_.Add(e.path))));
      case Kind::kColumn:
        return NodePtr(std::make_unique<ColumnNode>(static_cast<size_t>(e.column)));
      case Kind::kCoerce: {
        SLUICE_ASSIGN_OR_RETURN(NodePtr arg, Build(e.args[0]));
        return NodePtr(std::make_unique<CoerceNode>(std::move(arg), e.type));
      }
      case Kind::kCast: {
        SLUICE_ASSIGN_OR_RETURN(NodePtr arg, Build(e.args[0]));
        return NodePtr(std::make_unique<CastNode>(std::move(arg), e.type, e.scale, e.location));
      }
      case Kind::kAnd:
      case Kind::kOr: {
        SLUICE_ASSIGN_OR_RETURN(std::vector<NodePtr> args, BuildAll(e.args));
        if (e.kind == Kind::kAnd)
          return NodePtr(std::make_unique<LogicalNode<true>>(std::move(args)));
        return NodePtr(std::make_unique<LogicalNode<false>>(std::move(args)));
      }
      case Kind::kCase: {
        size_t i = 0;
        NodePtr operand, otherwise;
        if (e.has_operand) {
          SLUICE_ASSIGN_OR_RETURN(operand, Build(e.args[i++]));
        }
        const size_t end = e.args.size() - (e.has_else ? 1 : 0);
        std::vector<std::pair<NodePtr, NodePtr>> whens;
        for (; i < end; i += 2) {
          SLUICE_ASSIGN_OR_RETURN(NodePtr when, Build(e.args[i]));
          SLUICE_ASSIGN_OR_RETURN(NodePtr then, Build(e.args[i + 1]));
          whens.emplace_back(std::move(when), std::move(then));
        }
        if (e.has_else) {
          SLUICE_ASSIGN_OR_RETURN(otherwise, Build(e.args.back()));
        }
        return NodePtr(
            std::make_unique<CaseNode>(std::move(operand), std::move(whens), std::move(otherwise)));
      }
      case Kind::kCoalesce: {
        SLUICE_ASSIGN_OR_RETURN(std::vector<NodePtr> args, BuildAll(e.args));
        return NodePtr(std::make_unique<CoalesceNode>(std::move(args)));
      }
      case Kind::kIn: {
        SLUICE_ASSIGN_OR_RETURN(NodePtr operand, Build(e.args[0]));
        SLUICE_ASSIGN_OR_RETURN(std::vector<NodePtr> list, BuildAll(e.args, 1));
        return NodePtr(std::make_unique<InNode>(std::move(operand), std::move(list), e.negated));
      }
      case Kind::kBetween: {
        SLUICE_ASSIGN_OR_RETURN(std::vector<NodePtr> args, BuildAll(e.args));
        return NodePtr(std::make_unique<BetweenNode>(std::move(args[0]), std::move(args[1]),
                                                     std::move(args[2]), e.negated));
      }
      case Kind::kJsonAccess: {
        SLUICE_ASSIGN_OR_RETURN(NodePtr base, Build(e.args[0]));
        SLUICE_ASSIGN_OR_RETURN(NodePtr key, Build(e.args[1]));
        return NodePtr(std::make_unique<JsonAccessNode>(std::move(base), std::move(key)));
      }
      case Kind::kCall:
        return BuildCall(e);
    }
    return Status::Internal("unknown bound expression kind");
  }

  Result<NodePtr> BuildCall(const BoundExpr& e) {
    const FunctionDef* fn = e.function;
    const std::string_view name = fn->name;
    if ((name == "cardinality" || name == "json_array_length") && FieldUnder(e.args[0])) {
      const int slot = fields_.Add(FieldUnder(e.args[0])->path, FieldMode::kCount);
      return NodePtr(std::make_unique<FieldNode>(static_cast<size_t>(slot)));
    }
    SLUICE_ASSIGN_OR_RETURN(std::vector<NodePtr> args, BuildAll(e.args));
    const CallInfo info{e.location, e.option};
    if (fn->kind == FunctionKind::kOperator && args.size() == 2 && name != "||" && name != "LIKE" &&
        name != "IS DISTINCT FROM" && name != "IS NOT DISTINCT FROM") {
      const auto op = static_cast<BinaryOperator>(e.option);
      switch (op) {
        case BinaryOperator::kEq:
        case BinaryOperator::kNotEq:
        case BinaryOperator::kLt:
        case BinaryOperator::kLtEq:
        case BinaryOperator::kGt:
        case BinaryOperator::kGtEq:
          return NodePtr(std::make_unique<CompareNode>(std::move(args[0]), std::move(args[1]), op));
        case BinaryOperator::kAdd:
        case BinaryOperator::kSub:
        case BinaryOperator::kMul:
        case BinaryOperator::kDiv:
        case BinaryOperator::kMod:
          return NodePtr(std::make_unique<ArithmeticNode>(std::move(args[0]), std::move(args[1]),
                                                          op, e.location));
        default:
          break;
      }
    }
    if (name == "LIKE" && args[1]->constant() != nullptr &&
        (args.size() < 3 || args[2]->constant() != nullptr)) {
      const Value pattern = *args[1]->constant();
      const Value escape = args.size() > 2 ? *args[2]->constant() : Value::Varchar({});
      if (pattern.is_null() || escape.is_null()) return Constant(Value());
      Result<LikePattern> compiled =
          LikePattern::Compile(pattern.str(), escape.str(), (e.option & 1) != 0);
      if (!compiled.ok()) return ErrorAt(e.location, compiled.status().message());
      return NodePtr(std::make_unique<LikeNode>(std::move(args[0]), std::move(compiled).value(),
                                                (e.option & 2) != 0));
    }
    return NodePtr(std::make_unique<CallNode>(fn, std::move(args), info));
  }

  FieldSet& fields_;
  std::vector<std::unique_ptr<std::string>>& constants_;
};

}  // namespace

// ---- CompiledExpr -----------------------------------------------------------------------------

CompiledExpr::CompiledExpr(CompiledExpr&&) noexcept = default;
CompiledExpr& CompiledExpr::operator=(CompiledExpr&&) noexcept = default;
CompiledExpr::~CompiledExpr() = default;

Value CompiledExpr::Evaluate(const Row& row, EvalContext& ctx) const {
  const Value v = root_->Eval(row, ctx);
  return ctx.ok() ? v : Value();
}

Result<CompiledExpr> Compile(const BoundExpr& expr, FieldSet& fields) {
  CompiledExpr compiled;
  Compiler compiler(fields, compiled.constants_);
  SLUICE_ASSIGN_OR_RETURN(compiled.root_, compiler.Build(expr));
  compiled.type_ = expr.type;
  compiled.constant_ = compiled.root_->constant() != nullptr;
  return compiled;
}

}  // namespace sluice::sql
