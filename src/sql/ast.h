// The abstract syntax tree of Sluice SQL, as produced by sql::Parse() (parser.h) and printed
// back by ToSql().
//
// Shape: plain structs. Every node owns its children: a required child is a Box<T> (never
// null) or a direct member, an optional child is a std::optional, a list is a std::vector.
// Alternatives are std::variant, so a walk is a std::visit and the compiler lists every case.
// Nodes are copyable (deep copy) and comparable with == (deep comparison).
//
// What the parser guarantees about a tree it returns:
//
// * Names: unquoted identifiers are lower-cased ("Warehouse_ID" -> "warehouse_id"); quoted ones
//   ("Warehouse ID") are kept exactly, without the quotes. Keywords never appear as names unless
//   they were quoted or are non-reserved (see docs/sql.md). Function names follow the same rule.
//   Every name is non-empty valid UTF-8.
// * Locations: every Expr, TableRef, SelectItem, Identifier and Statement carries the
//   SourceLocation of its first token (for a binary operator: of its left operand; for a
//   function call: of its name). Use ErrorAt() to report a problem found later, so that every
//   SQL error in the product reads "line L, column C: ...".
// * Equality ignores locations (as PostgreSQL's equal() does): two trees are == when they mean
//   the same SQL, wherever their tokens were. This is what makes "ToSql() re-parses to an equal
//   tree" a testable property.
// * Structure: the variant alternatives' invariants stated below hold (e.g. a ColumnRef path is
//   never empty, a Hop always has both a slide and a size). Tree height is bounded by
//   kMaxNestingDepth (parser.h) per expression and per query nesting, so recursive walks
//   cannot overflow the stack.
// * The parser checks form, not meaning: it does not resolve names, check types, or validate
//   the contents of TIMESTAMP/INTERVAL strings or option values. The planner does, and reports
//   errors at the node's location.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/status.h"

namespace sluice::sql {

// Where a token starts in the SQL text.
struct SourceLocation {
  uint32_t offset = 0;  // bytes from the start of the text
  uint32_t line = 1;    // 1-based
  uint32_t column = 1;  // 1-based, counted in Unicode code points, not bytes

  bool operator==(const SourceLocation&) const = default;
};

// "line 3, column 17"
std::string ToString(SourceLocation location);

// Status::InvalidArgument("line L, column C: <message>"): the one format of SQL errors.
Status ErrorAt(SourceLocation location, std::string_view message);

// An owning pointer that is never null and behaves like a value: copying copies the pointee and
// == compares pointees. It lets recursive nodes keep defaulted copy and comparison. A moved-from
// Box may only be assigned to or destroyed.
template <typename T>
class Box {
 public:
  Box(T value) : ptr_(std::make_unique<T>(std::move(value))) {}  // NOLINT: implicit by design
  Box(const Box& other) : ptr_(std::make_unique<T>(*other.ptr_)) {}
  Box& operator=(const Box& other) {
    if (this != &other) ptr_ = std::make_unique<T>(*other.ptr_);
    return *this;
  }
  Box(Box&&) noexcept = default;
  Box& operator=(Box&&) noexcept = default;

  T& operator*() { return *ptr_; }
  const T& operator*() const { return *ptr_; }
  T* operator->() { return ptr_.get(); }
  const T* operator->() const { return ptr_.get(); }

  bool operator==(const Box& other) const { return *ptr_ == *other.ptr_; }

 private:
  std::unique_ptr<T> ptr_;
};

// A name: normalised as described at the top of this file.
struct Identifier {
  std::string name;
  SourceLocation location;

  bool operator==(const Identifier& other) const { return name == other.name; }
};

// ---------------------------------------------------------------------------------------------
// Types

enum class TypeKind {
  kBoolean,      // BOOLEAN, BOOL
  kInt,          // INT, INTEGER, INT4
  kBigint,       // BIGINT, INT8
  kReal,         // REAL, FLOAT4
  kDouble,       // DOUBLE, DOUBLE PRECISION, FLOAT, FLOAT8
  kDecimal,      // DECIMAL[(p[, s])], NUMERIC[(p[, s])]
  kVarchar,      // VARCHAR[(n)], TEXT, STRING
  kTimestamp,    // TIMESTAMP, TIMESTAMP WITHOUT TIME ZONE
  kTimestamptz,  // TIMESTAMPTZ, TIMESTAMP WITH TIME ZONE
  kDate,         // DATE
  kInterval,     // INTERVAL
  kJson,         // JSON
  kJsonb,        // JSONB
};

// The canonical spelling: "BOOLEAN", "INT", ..., "JSONB".
std::string_view TypeKindName(TypeKind kind);

struct DataType {
  TypeKind kind = TypeKind::kVarchar;
  // DECIMAL only: 1 <= precision <= 38, 0 <= scale <= precision; scale only with precision.
  std::optional<int32_t> precision;
  std::optional<int32_t> scale;
  // VARCHAR only: >= 1.
  std::optional<int32_t> length;

  bool operator==(const DataType&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Expressions

struct Expr;

struct NullLiteral {
  bool operator==(const NullLiteral&) const = default;
};

struct BooleanLiteral {
  bool value = false;
  bool operator==(const BooleanLiteral&) const = default;
};

// An integer without fraction or exponent; "-5" is folded into one literal (which is how
// -9223372036854775808 can be written), "-(5)" is a Negate of 5.
struct IntegerLiteral {
  int64_t value = 0;
  bool operator==(const IntegerLiteral&) const = default;
};

// A number with a fraction or an exponent ("1.50", ".5", "1e3", "-2.5"), kept as written (with
// 'E' lower-cased) so that the planner can make it an exact DECIMAL or a DOUBLE without
// rounding here.
struct DecimalLiteral {
  std::string text;
  bool operator==(const DecimalLiteral&) const = default;
};

struct StringLiteral {
  std::string value;  // without quotes, '' unescaped
  bool operator==(const StringLiteral&) const = default;
};

// TIMESTAMP '2026-11-25 08:30:00Z' or DATE '2026-11-25'; `value` is not validated here.
struct TypedLiteral {
  TypeKind type = TypeKind::kTimestamp;  // kTimestamp or kDate
  std::string value;
  bool operator==(const TypedLiteral&) const = default;
};

enum class IntervalUnit { kYear, kMonth, kDay, kHour, kMinute, kSecond };
std::string_view IntervalUnitName(IntervalUnit unit);  // "YEAR", ..., "SECOND"

// INTERVAL '5' MINUTE (unit set), INTERVAL '5 minutes' (no unit), INTERVAL '1:30' HOUR TO
// MINUTE (to_unit set, smaller than unit). `value` is not validated here.
struct IntervalLiteral {
  std::string value;
  std::optional<IntervalUnit> unit;
  std::optional<IntervalUnit> to_unit;
  bool operator==(const IntervalLiteral&) const = default;
};

// A name or a dotted path of names: `warehouse_id`, `e.warehouse_id`, `e.customer.tier`. The
// parser does not decide which prefix names a relation and which names JSON fields: that needs
// the catalog, so it is the planner's job. Never empty.
struct ColumnRef {
  std::vector<Identifier> path;
  bool operator==(const ColumnRef&) const = default;
};

// `base.field` where base is not itself a plain name: `lines[1].sku`, `(payload).sku`.
struct FieldAccess {
  Box<Expr> base;
  Identifier field;
  bool operator==(const FieldAccess&) const = default;
};

// `base[index]`: `lines[1]`, `payload['key']`.
struct Subscript {
  Box<Expr> base;
  Box<Expr> index;
  bool operator==(const Subscript&) const = default;
};

enum class UnaryOperator { kNot, kNegate };  // unary + is accepted and dropped

struct UnaryOp {
  UnaryOperator op = UnaryOperator::kNot;
  Box<Expr> operand;
  bool operator==(const UnaryOp&) const = default;
};

enum class BinaryOperator {
  kOr,
  kAnd,
  kEq,     // =
  kNotEq,  // <> or !=
  kLt,
  kLtEq,
  kGt,
  kGtEq,
  kIsDistinctFrom,
  kIsNotDistinctFrom,
  kConcat,  // ||
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
};
std::string_view BinaryOperatorName(BinaryOperator op);  // "OR", "=", "IS DISTINCT FROM", "+"

struct BinaryOp {
  BinaryOperator op = BinaryOperator::kAnd;
  Box<Expr> left;
  Box<Expr> right;
  bool operator==(const BinaryOp&) const = default;
};

enum class IsPredicate { kNull, kTrue, kFalse, kUnknown };

// `operand IS [NOT] NULL|TRUE|FALSE|UNKNOWN`
struct IsTest {
  Box<Expr> operand;
  IsPredicate predicate = IsPredicate::kNull;
  bool negated = false;
  bool operator==(const IsTest&) const = default;
};

// `operand [NOT] IN (list...)`; the list is never empty.
struct InList {
  Box<Expr> operand;
  std::vector<Expr> list;
  bool negated = false;
  bool operator==(const InList&) const = default;
};

// `operand [NOT] BETWEEN low AND high`
struct Between {
  Box<Expr> operand;
  Box<Expr> low;
  Box<Expr> high;
  bool negated = false;
  bool operator==(const Between&) const = default;
};

// `operand [NOT] LIKE|ILIKE pattern [ESCAPE escape]`
struct Like {
  Box<Expr> operand;
  Box<Expr> pattern;
  std::optional<Box<Expr>> escape;
  bool negated = false;
  bool case_insensitive = false;  // ILIKE
  bool operator==(const Like&) const = default;
};

struct WhenClause {
  Box<Expr> condition;  // compared with Case::operand when present, else a predicate
  Box<Expr> result;
  bool operator==(const WhenClause&) const = default;
};

// `CASE [operand] WHEN .. THEN .. [...] [ELSE else_result] END`; at least one WHEN.
struct Case {
  std::optional<Box<Expr>> operand;
  std::vector<WhenClause> whens;
  std::optional<Box<Expr>> else_result;
  bool operator==(const Case&) const = default;
};

// `CAST(operand AS type)` and `operand::type`.
struct Cast {
  Box<Expr> operand;
  DataType type;
  bool operator==(const Cast&) const = default;
};

// `EXTRACT(field FROM operand)`; field is a lower-cased word ("year", "epoch"), not validated.
struct Extract {
  std::string field;
  Box<Expr> operand;
  bool operator==(const Extract&) const = default;
};

// `name(args)`, `count(*)`, `count(DISTINCT x)`, `sum(x) FILTER (WHERE cond)`. Any name: which
// are aggregates is the planner's business. Room for later modifiers (e.g. OVER) is here.
struct FunctionCall {
  std::string name;
  std::vector<Expr> args;
  bool distinct = false;
  bool star = false;  // count(*): args is empty
  std::optional<Box<Expr>> filter;
  bool operator==(const FunctionCall&) const = default;
};

using ExprNode =
    std::variant<NullLiteral, BooleanLiteral, IntegerLiteral, DecimalLiteral, StringLiteral,
                 TypedLiteral, IntervalLiteral, ColumnRef, FieldAccess, Subscript, UnaryOp,
                 BinaryOp, IsTest, InList, Between, Like, Case, Cast, Extract, FunctionCall>;

struct Expr {
  SourceLocation location;
  ExprNode node;

  bool operator==(const Expr& other) const { return node == other.node; }
};

// ---------------------------------------------------------------------------------------------
// Queries

struct Query;

// FOR SYSTEM_TIME AS OF <at> / FOR VERSION AS OF <at> (time travel over lake tables, and
// Flink-style temporal joins when <at> is a column).
struct TimeTravel {
  enum class Kind { kSystemTime, kVersion };
  Kind kind = Kind::kSystemTime;
  Expr at;
  bool operator==(const TimeTravel&) const = default;
};

// A stream, table or view by name: `fulfilment`, `lake.orders`. Never empty.
struct NamedTable {
  std::vector<Identifier> name;
  std::optional<TimeTravel> time_travel;
  std::optional<Identifier> alias;
  bool operator==(const NamedTable&) const = default;
};

// `(query) [AS] alias`
struct Subquery {
  Box<Query> query;
  std::optional<Identifier> alias;
  bool operator==(const Subquery&) const = default;
};

// The windowing table functions. Each adds window_start and window_end to its input's columns.
struct Tumble {
  Expr size;
  std::optional<Expr> offset;
  bool operator==(const Tumble&) const = default;
};
struct Hop {
  Expr slide;
  Expr size;
  std::optional<Expr> offset;
  bool operator==(const Hop&) const = default;
};
struct Session {
  Expr gap;
  std::vector<Expr> partition_by;  // the session key; empty: one session sequence per stream
  bool operator==(const Session&) const = default;
};

// TUMBLE(input, time_column, size [, offset])
// HOP(input, time_column, slide, size [, offset])
// SESSION(input [PARTITION BY keys], time_column, gap [, key...])
// and the Flink spellings TABLE <name> and DESCRIPTOR(<column>).
struct WindowTable {
  std::variant<NamedTable, Subquery> input;  // without alias or time travel
  std::vector<Identifier> time_column;       // a column path, never empty
  std::variant<Tumble, Hop, Session> window;
  std::optional<Identifier> alias;
  bool operator==(const WindowTable&) const = default;
};

struct TableRef {
  SourceLocation location;
  std::variant<NamedTable, WindowTable, Subquery> node;

  bool operator==(const TableRef& other) const { return node == other.node; }
};

enum class JoinKind { kInner, kLeft, kRight, kFull };

struct Join {
  JoinKind kind = JoinKind::kInner;
  TableRef table;
  Expr condition;  // ON; interval joins are ordinary conditions (BETWEEN on event times)
  bool operator==(const Join&) const = default;
};

// FROM first JOIN ... JOIN ...: joins apply left to right, (((first ⋈ j0) ⋈ j1) ...). A flat
// list rather than a tree keeps the height of the AST independent of the number of joins.
struct FromClause {
  TableRef first;
  std::vector<Join> joins;
  bool operator==(const FromClause&) const = default;
};

// `*` or `qualifier.*`
struct Star {
  std::vector<Identifier> qualifier;  // empty for a bare *
  bool operator==(const Star&) const = default;
};

struct SelectItem {
  SourceLocation location;
  std::variant<Expr, Star> value;
  std::optional<Identifier> alias;  // only with an Expr

  bool operator==(const SelectItem& other) const {
    return value == other.value && alias == other.alias;
  }
};

enum class NullsOrder { kDefault, kFirst, kLast };

struct OrderItem {
  Expr expr;
  bool descending = false;
  NullsOrder nulls = NullsOrder::kDefault;
  bool operator==(const OrderItem&) const = default;
};

struct Query {
  bool distinct = false;
  std::vector<SelectItem> select_list;  // never empty
  std::optional<FromClause> from;
  std::optional<Expr> where;
  std::vector<Expr> group_by;
  std::optional<Expr> having;
  std::vector<OrderItem> order_by;
  std::optional<int64_t> limit;   // >= 0
  std::optional<int64_t> offset;  // >= 0
  bool operator==(const Query&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Statements

// `key = value` in WITH (...). Values are expressions: strings, numbers and booleans are
// literals, a bare word such as exactly_once is a one-element ColumnRef, and a predicate (for
// exactly_once_when) is any expression. Keys are unique within one WITH list.
struct Option {
  Identifier key;
  Expr value;
  bool operator==(const Option&) const = default;
};

struct ColumnDef {
  Identifier name;
  DataType type;
  bool operator==(const ColumnDef&) const = default;
};

// CREATE STREAM [IF NOT EXISTS] name [(columns)] [WITH (options)]
struct CreateStream {
  Identifier name;
  bool if_not_exists = false;
  std::vector<ColumnDef> columns;  // column names unique
  std::vector<Option> options;
  bool operator==(const CreateStream&) const = default;
};

// CREATE TABLE [IF NOT EXISTS] name (columns [, PRIMARY KEY (names)]) [WITH (options)]
// A column-level `PRIMARY KEY` is stored in primary_key too, so there is one place to look.
struct CreateTable {
  Identifier name;
  bool if_not_exists = false;
  std::vector<ColumnDef> columns;       // never empty, names unique
  std::vector<Identifier> primary_key;  // each names a column, no repeats; may be empty
  std::vector<Option> options;
  bool operator==(const CreateTable&) const = default;
};

// CREATE MATERIALIZED VIEW [IF NOT EXISTS] name [WITH (options)] AS query
struct CreateMaterializedView {
  Identifier name;
  bool if_not_exists = false;
  std::vector<Option> options;
  Query query;
  bool operator==(const CreateMaterializedView&) const = default;
};

// CREATE ALERT [IF NOT EXISTS] name ON view [WITH (options)]: an anomaly alert over the closed
// windows of a view (docs/sql.md, "Anomaly alerts").
struct CreateAlert {
  Identifier name;
  bool if_not_exists = false;
  Identifier view;
  std::vector<Option> options;
  bool operator==(const CreateAlert&) const = default;
};

enum class ObjectKind { kStream, kTable, kView, kMaterializedView, kAlert };

// DROP {STREAM | TABLE | VIEW | MATERIALIZED VIEW | ALERT} [IF EXISTS] name
struct Drop {
  ObjectKind kind = ObjectKind::kStream;
  bool if_exists = false;
  Identifier name;
  bool operator==(const Drop&) const = default;
};

// SHOW {STREAMS | TABLES | VIEWS | MATERIALIZED VIEWS | ALERTS}
struct Show {
  ObjectKind kind = ObjectKind::kStream;  // the kind listed
  bool operator==(const Show&) const = default;
};

// DESCRIBE name
struct Describe {
  Identifier name;
  bool operator==(const Describe&) const = default;
};

using StatementNode = std::variant<Query, CreateStream, CreateTable, CreateMaterializedView,
                                   CreateAlert, Drop, Show, Describe>;

struct Statement {
  SourceLocation location;
  StatementNode node;

  bool operator==(const Statement& other) const { return node == other.node; }
};

// ---------------------------------------------------------------------------------------------
// Printing

enum class Parentheses {
  kMinimal,  // only where precedence needs them: the canonical form
  kAll,      // around every operator expression: shows how the parser grouped the operands
};

// Canonical SQL: one line, keywords upper case, names quoted only when they must be, aliases
// always with AS, operators with one space either side, CAST(x AS t) for x::t. For every tree
// the parser returns, Parse(ToSql(tree)) returns an equal tree, in both Parentheses modes; the
// engine persists definitions in this form.
std::string ToSql(const Statement& statement, Parentheses parentheses = Parentheses::kMinimal);
std::string ToSql(const Query& query, Parentheses parentheses = Parentheses::kMinimal);
std::string ToSql(const Expr& expr, Parentheses parentheses = Parentheses::kMinimal);
std::string ToSql(const DataType& type);

// `name` as it must be written in SQL: bare when it is a lower-case word that is not reserved,
// otherwise double-quoted with embedded quotes doubled.
std::string QuoteIdentifier(std::string_view name);

}  // namespace sluice::sql
