// The registry of SQL functions and operators: names, signatures, how each binds (checks and
// coerces its argument types, decides its result type) and how it evaluates. Used by Bind()
// and Compile() (expr.h); the planner may list it (SHOW FUNCTIONS, error messages).
//
// What callers may rely on:
// * Every scalar function and operator of docs/sql.md is here, and every aggregate name the
//   planner implements is here with kind kAggregate (so that Bind() can say "aggregate 'sum' is
//   not allowed here" instead of "unknown function").
// * `signatures` is the human-readable list shown in errors, e.g.
//   "round(DOUBLE) -> DOUBLE, round(DOUBLE, BIGINT) -> DOUBLE".
// * eval functions receive arguments already coerced as bind decided: for a parameter of type T
//   an argument is a T or NULL (except parameters documented as ANY, which the function checks
//   at run time). `strict` functions are not called when an argument is NULL: the result is
//   NULL.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "sql/ast.h"
#include "sql/expr.h"
#include "sql/value.h"

namespace sluice::sql {

enum class FunctionKind : uint8_t {
  kScalar,
  kOperator,   // + - * / % || comparisons, unary minus, NOT, IS ...: bound from operator syntax
  kAggregate,  // bound by the planner (Scope::AddExpression), never evaluated here
};

// What an eval function sees besides its arguments.
struct CallInfo {
  SourceLocation location;
  int64_t option = 0;  // set at bind time (date_trunc's unit, EXTRACT's field, ...)
};

using EvalFunction = Value (*)(const Value* args, size_t count, const CallInfo& info,
                               EvalContext& ctx);
// Checks and coerces call.args (already bound), sets call.type and call.option. Errors are
// reported with ErrorAt(call.location or an argument's location, ...).
using BindFunction = Status (*)(BoundExpr& call);

struct FunctionDef {
  std::string_view name;
  FunctionKind kind;
  std::string_view signatures;
  int min_args;
  int max_args;  // -1: any number
  bool strict;   // a NULL argument gives NULL without calling eval
  BindFunction bind;
  EvalFunction eval;
  std::string_view description;
};

// Every function and operator, aggregates included.
std::span<const FunctionDef> AllFunctions();
// By name (lower case); nullptr when unknown. Operators are found by their symbol ("+", "=").
const FunctionDef* FindFunction(std::string_view name);
// The known function names closest to `name` (edit distance), best first, at most 3.
std::vector<std::string_view> SimilarFunctionNames(std::string_view name);

// Levenshtein distance, for "did you mean" suggestions.
size_t EditDistance(std::string_view a, std::string_view b);

// ---- Shared by the binder and the evaluator ---------------------------------------------------

// Records a data error at `info.location` and returns NULL.
Value EvalError(const CallInfo& info, EvalContext& ctx, std::string message);

// The run-time three-way comparison of two non-NULL values: <0, 0, >0, or kIncomparable when
// their run-time types cannot be compared (a string with a number). Numbers compare by value
// across BIGINT and DOUBLE (NaN equals NaN and is above every other number); VARCHAR bytewise
// (code point order); DATE and TIMESTAMP on one time line; a VARCHAR compared with a TIMESTAMP,
// DATE or INTERVAL is read as one (unreadable: incomparable).
inline constexpr int kIncomparable = 2;
int CompareValues(const Value& a, const Value& b);

// `a op b` for + - * / % on non-NULL values of any run-time types (ArithmeticType() decides;
// where it says no, the result is NULL and a type mismatch). BIGINT overflow is an error;
// division and remainder by zero are NULL.
Value Arithmetic(BinaryOperator op, const Value& a, const Value& b, const CallInfo& info,
                 EvalContext& ctx);

// Implicit run-time coercion of a value of a kAny expression to `target` (BoundExpr::kCoerce):
// the value when it already is one, BIGINT -> DOUBLE, an integral DOUBLE -> BIGINT, DATE ->
// TIMESTAMP, TIMESTAMP -> DATE, VARCHAR read as TIMESTAMP, DATE or INTERVAL; anything else NULL
// (and counted as a type mismatch).
Value CoerceValue(const Value& v, Type target, EvalContext& ctx);

// CAST(v AS target) at run time; `scale` >= 0 rounds a DOUBLE result to that many digits
// (DECIMAL(p, s)). Data errors (unparsable text, out of range) go to ctx at `location`.
Value CastValue(const Value& v, Type target, int32_t scale, SourceLocation location,
                EvalContext& ctx);
// Whether CAST from `from` to `to` exists at all (a static check; kAny and kNull: always).
bool CastExists(Type from, Type to);

// The type of `op` applied to static types (kAny handled by the binder before), or kNull
// when the operator does not apply to them.
Type ArithmeticType(BinaryOperator op, Type left, Type right);
// Whether `=`, `<`, ... apply to the static types (kAny handled by the binder before).
bool Comparable(Type left, Type right);

// ---- Binding helpers (expr.cc and the functions' binders) --------------------------------------

// A constant expression holding a copy of `value`'s text (padded, so JSON text stays readable).
BoundExpr MakeConstant(const Value& value, SourceLocation location);

// Makes `arg` acceptable where static type `target` is expected, or explains why not: the
// same type or NULL as is; a '...' literal read as `target` now (a bad literal is an error at
// its location); BIGINT -> DOUBLE and DATE -> TIMESTAMP by an implicit cast; a kAny expression
// through a run-time coercion. `what` names the place for the message, e.g.
// "argument 1 of lower(VARCHAR) -> VARCHAR".
Status CoerceArgument(BoundExpr& arg, Type target, std::string_view what);

// The common type of expressions whose values meet in one place (CASE branches, COALESCE, IN
// lists, GREATEST), coercing them to it: NULLs are ignored; BIGINT and DOUBLE give DOUBLE;
// DATE and TIMESTAMP give TIMESTAMP; '...' literals take the others' type; with a kAny
// expression the result is kAny unless the others agree on a temporal type (then the kAny ones
// are read as it). Incompatible types are an error "<what> have incompatible types X and Y".
Result<Type> UnifyTypes(std::span<BoundExpr*> exprs, std::string_view what,
                        SourceLocation location);

// Checks (and coerces) the operands of a comparison `op` ("=", "<", "IN", "BETWEEN", ...).
Status BindComparison(BoundExpr& left, BoundExpr& right, std::string_view op,
                      SourceLocation location);

// The function definitions of the operators, for the binder.
const FunctionDef& OperatorFunction(BinaryOperator op);
const FunctionDef& NegateFunction();
const FunctionDef& NotFunction();
const FunctionDef& IsFunction(IsPredicate predicate);  // IS NULL / TRUE / FALSE / UNKNOWN

// LIKE matching (a pattern with % and _ and an optional escape character; `_` is one code
// point). A compiled pattern recognises the common shapes ('abc%', '%abc', '%abc%', exact).
class LikePattern {
 public:
  // Fails on a pattern that ends in the escape character, or an escape of more than one
  // character.
  static Result<LikePattern> Compile(std::string_view pattern, std::string_view escape,
                                     bool case_insensitive);
  bool Matches(std::string_view text) const;

 private:
  enum class Shape : uint8_t { kGeneral, kExact, kPrefix, kSuffix, kContains, kAll };
  Shape shape_ = Shape::kGeneral;
  bool case_insensitive_ = false;
  std::string literal_;  // for the simple shapes (lower-cased when case-insensitive)
  // General patterns: tokens, '%' and '_' as themselves with `wild_` marking which are wildcards.
  std::string tokens_;
  std::vector<bool> wild_;
};

}  // namespace sluice::sql
