// Scalar expressions over events: binding (names and types, with errors at the node's line and
// column) and a compiled evaluator. docs/sql.md ("Expressions: types, semantics, functions")
// states the semantics; this header states the contract.
//
//   Scope scope;
//   scope.SetEventRelation({"fulfilment", "e"});                 // fields of the stream's events
//   scope.AddColumn("event_time", Type::kTimestamp, 0);         // columns the planner computes
//   Result<BoundExpr> bound = Bind(ast, scope);                  // names, types, errors
//   FieldSet fields;                                             // event_fields.h
//   Result<CompiledExpr> compiled = Compile(*bound, fields);     // registers the fields it reads
//   EventFieldExtractor extractor(fields);                       // once per pipeline and thread
//   ...per event:
//   extractor.Extract(record, ctx);  Row row{extractor.values(), columns};
//   Value v = compiled->Evaluate(row, ctx);  if (!ctx.ok()) ... ctx.error() ...
//   ctx.Reset();                                                 // after the row's values are used
//
// What callers may rely on:
//
// * Bind() never throws and never crashes on a tree the parser returned; every failure is
//   InvalidArgument "line L, column C: ..." at the offending node (unknown names and functions
//   with "did you mean" suggestions, type errors naming the operator and both types, wrong
//   argument counts listing the signatures, aggregates where none is allowed, now() and other
//   non-deterministic functions).
// * Static types: a BoundExpr's `type` is the type every non-NULL result has, or kAny when the
//   event decides (a field of a schemaless event, and what is computed from it). kNull means the
//   result is always NULL.
// * Run time never fails because an event is odd: a value whose run-time type an operator
//   cannot take (a string where a number is needed, an object compared with a number) makes the
//   result NULL, the same as a missing field, and is counted in EvalContext::type_mismatches().
//   Errors at run time are data errors on values of acceptable types: BIGINT overflow, an
//   explicit CAST of text that does not parse, a negative substring length. They do not throw:
//   Evaluate() returns NULL and the context holds the first error ("line L, column C: ..."),
//   which the caller reports (the planner sends the event to a dead-letter output with it).
// * CompiledExpr is immutable after Compile(): share it across threads, each with its own
//   EvalContext. Evaluate() does not allocate on the heap except through the context's Arena,
//   which stops growing once warm.
// * Results live until ctx.Reset() (arena text) or the next Extract() (text viewing the event).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "sql/ast.h"
#include "sql/value.h"

namespace sluice::sql {

class FieldSet;
struct FunctionDef;

// ---- Field paths ------------------------------------------------------------------------------

// One step into an event: a field name, or an array position (0-based here; SQL writes it
// 1-based: `lines[1]` is index 0).
struct PathStep {
  std::string name;
  int64_t index = -1;  // >= 0: an array position; -1: `name` is an object key
  bool operator==(const PathStep&) const = default;
};

// A path from the event's root: `source.service` = {source, service}; `lines[1].sku` =
// {lines, [0], sku}. Never empty.
using FieldPath = std::vector<PathStep>;

// "source.service", "lines[1].sku" (SQL spelling, names quoted where they must be).
std::string FieldPathToString(const FieldPath& path);

// ---- Scope ------------------------------------------------------------------------------------

// The names an expression may use. Resolution of a ColumnRef path a.b.c, first match wins:
//   1. an expression registered with AddExpression() equal to the whole subtree (GROUP BY keys
//      and aggregates after aggregation; checked before anything else for every subtree);
//   2. `a` a relation of a column added with AddColumn(..., relation) and `b` that column: the
//      column, then `.c` as JSON field access into it;
//   3. `a` a column added with AddColumn() (unqualified): the column, then `.b.c` into it;
//   4. `a` a name of the event relation (stream name or alias): event field `b.c`;
//   5. otherwise, when the scope has an event relation: event field `a.b.c`.
// So computed columns shadow event fields of the same name (window_start, event_time), and a
// qualifier shadows a top-level field of that name (write `e.e` for a field called `e`).
class Scope {
 public:
  // Makes the scope read events: any name that is not a column is a field of the event, and
  // the given names (stream name, alias) may qualify it. Without this call, unknown names are
  // errors (a scope after GROUP BY has only its keys and aggregates).
  void SetEventRelation(std::vector<std::string> qualifiers);
  bool has_event_relation() const { return has_event_relation_; }

  // A column computed by the planner (window_start, event_time, a joined table's column),
  // read at run time from Row::columns[index]. `relation` optionally qualifies it.
  void AddColumn(std::string name, Type type, int index, std::string relation = {});

  // Any subtree equal (ast.h equality, locations ignored) to `expr` binds to Row::columns[index]
  // with static type `type`. This is how the planner makes `sum(amount_minor)` or a GROUP BY key
  // readable after aggregation. `expr` is copied.
  void AddExpression(const Expr& expr, Type type, int index);

  // Static types from a JSON Schema, later: given an event field path, its type if the schema
  // fixes it. A field with a static type T binds as a run-time check "value is T, else NULL",
  // so type errors against it are reported at bind time.
  using FieldTypeHook = std::function<std::optional<Type>(const FieldPath&)>;
  void SetFieldTypeHook(FieldTypeHook hook) { field_type_hook_ = std::move(hook); }

  // Where aggregates may appear is the planner's business: Bind() reports every aggregate call
  // not registered through AddExpression() as "aggregate 'sum' is not allowed here", with this
  // text appended when set (e.g. "in WHERE; use HAVING").
  void SetAggregateHint(std::string hint) { aggregate_hint_ = std::move(hint); }

  // Appended to "unknown column 'x'" errors, e.g. "after GROUP BY, use a grouping key or an
  // aggregate" in a scope without an event relation.
  void SetUnknownNameHint(std::string hint) { unknown_name_hint_ = std::move(hint); }

 private:
  friend class Binder;
  struct Column {
    std::string relation;
    std::string name;
    Type type;
    int index;
  };
  struct Expression {
    Expr expr;
    Type type;
    int index;
  };
  bool has_event_relation_ = false;
  std::vector<std::string> qualifiers_;
  std::vector<Column> columns_;
  std::vector<Expression> expressions_;
  FieldTypeHook field_type_hook_;
  std::string aggregate_hint_;
  std::string unknown_name_hint_;
};

// ---- Bound expressions ------------------------------------------------------------------------

// A name-resolved, type-checked expression tree. The planner may inspect it (kinds, types,
// fields); only Compile() turns it into something that runs.
struct BoundExpr {
  enum class Kind : uint8_t {
    kConstant,    // `constant`
    kField,       // event field `path`
    kColumn,      // Row::columns[column]
    kCall,        // scalar function or operator `function` over args
    kCast,        // explicit CAST(args[0] AS type); `scale` >= 0 for DECIMAL(p, s)
    kCoerce,      // implicit run-time coercion of a kAny args[0] to `type` (NULL when it can't)
    kAnd,         // args (two or more), three-valued
    kOr,          // args (two or more), three-valued
    kCase,        // args: [operand] (when, then)... [else]; has_operand / has_else
    kCoalesce,    // args, evaluated lazily left to right
    kIn,          // args[0] [NOT] IN (args[1..])
    kBetween,     // args[0] [NOT] BETWEEN args[1] AND args[2]
    kJsonAccess,  // args[0] a JSON value, args[1] a key (VARCHAR) or 1-based position (BIGINT)
  };

  Kind kind = Kind::kConstant;
  Type type = Type::kNull;
  SourceLocation location;
  std::vector<BoundExpr> args;

  Value constant;                              // kConstant
  std::shared_ptr<const std::string> storage;  // owns constant's text
  bool string_literal = false;            // kConstant from a '...' literal: may be read as any type
  FieldPath path;                         // kField
  int column = -1;                        // kColumn
  const FunctionDef* function = nullptr;  // kCall
  bool negated = false;                   // kIn, kBetween
  bool has_operand = false;               // kCase
  bool has_else = false;                  // kCase
  int32_t scale = -1;                     // kCast to DECIMAL(p, s)
  int64_t option = 0;  // kCall: set by the function's binder (date_trunc's unit, ...)
};

// The run-time type for a declared SQL type (INT -> BIGINT, DECIMAL -> DOUBLE, ...), as
// declared columns and CAST targets use it.
Type TypeForDataType(const DataType& type);

// Binds an expression of the AST against a scope.
Result<BoundExpr> Bind(const Expr& expr, const Scope& scope);

// ---- Aggregates -------------------------------------------------------------------------------

// count, sum, min, max, avg, approx_count_distinct, approx_percentile, first_value, last_value,
// ... (the registry's aggregate entries; functions.h lists them).
bool IsAggregateFunction(std::string_view name);

// The aggregate calls in `expr`, outermost first, in the order they appear; not descending into
// an aggregate's arguments (nested aggregates are the planner's error to report). Pointers are
// into `expr`.
std::vector<const Expr*> FindAggregates(const Expr& expr);

// Every column reference in `expr` (aggregate arguments and FILTERs included), in the order
// they appear. Pointers are into `expr`.
std::vector<const Expr*> FindColumnRefs(const Expr& expr);

// ---- Evaluation -------------------------------------------------------------------------------

// The inputs of one evaluation: event fields by FieldSet slot and the planner's columns.
struct Row {
  std::span<const Value> fields;
  std::span<const Value> columns;
};

// Per-thread evaluation state: the arena for computed text, the first error, counters. Reuse
// one across rows; Reset() after each row's results are consumed.
class EvalContext {
 public:
  EvalContext();
  ~EvalContext();
  EvalContext(const EvalContext&) = delete;
  EvalContext& operator=(const EvalContext&) = delete;

  bool ok() const { return error_.ok(); }
  const Status& error() const { return error_; }
  // Frees arena text and clears the error. Counters keep counting.
  void Reset() {
    arena_.Reset();
    if (!error_.ok()) error_ = Status::Ok();
  }

  Arena& arena() { return arena_; }
  // Values that were NULL because their run-time type did not fit the operator.
  uint64_t type_mismatches() const { return type_mismatches_; }

  // For evaluator internals: record the first error / a type mismatch.
  void Fail(Status status) {
    if (error_.ok()) error_ = std::move(status);
  }
  void CountMismatch() { ++type_mismatches_; }
  // A simdjson parser for JSON values read at run time (created on first use).
  void* json_parser();
  // Scratch space reused across calls, so that building text does not allocate once warm.
  std::string& scratch() { return scratch_; }
  std::vector<std::string_view>& views() { return views_; }

 private:
  Arena arena_;
  std::string scratch_;
  std::vector<std::string_view> views_;
  Status error_;
  uint64_t type_mismatches_ = 0;
  std::unique_ptr<void, void (*)(void*)> json_parser_;
};

// The evaluator's node interface (expr_eval.cc); opaque to callers.
class EvalNode;

class CompiledExpr {
 public:
  CompiledExpr(CompiledExpr&&) noexcept;
  CompiledExpr& operator=(CompiledExpr&&) noexcept;
  ~CompiledExpr();

  Type type() const { return type_; }
  // True when the expression reads no field or column (it was folded to a constant).
  bool is_constant() const { return constant_; }
  // The value for one row. On a data error: NULL, and ctx.error() says why.
  Value Evaluate(const Row& row, EvalContext& ctx) const;

 private:
  friend Result<CompiledExpr> Compile(const BoundExpr&, FieldSet&);
  CompiledExpr() = default;
  std::unique_ptr<EvalNode> root_;
  std::vector<std::unique_ptr<std::string>> constants_;  // text of folded constants (padded)
  Type type_ = Type::kNull;
  bool constant_ = false;
};

// Compiles a bound expression, registering the event fields it reads in `fields` (one FieldSet
// per pipeline: expressions that read the same field share its slot). Sub-expressions without
// fields or columns are computed once here; a data error there (CAST('x' AS BIGINT)) is
// reported now, at its location.
Result<CompiledExpr> Compile(const BoundExpr& expr, FieldSet& fields);

}  // namespace sluice::sql
