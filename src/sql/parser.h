// The Sluice SQL parser: text -> AST (ast.h). A hand-written recursive-descent parser with a
// Pratt loop for expressions; docs/sql.md has the grammar, the precedence table and why it is
// not generated or taken from a library.
//
// What is parsed (RisingWave / Flink SQL style; keywords case-insensitive):
//   CREATE STREAM [IF NOT EXISTS] name [(col type, ...)] [WITH (key = value, ...)]
//   CREATE TABLE [IF NOT EXISTS] name (col type [PRIMARY KEY], ... [, PRIMARY KEY (col, ...)])
//       [WITH (...)]
//   CREATE MATERIALIZED VIEW [IF NOT EXISTS] name [WITH (...)] AS query
//   DROP {STREAM | TABLE | VIEW | MATERIALIZED VIEW} [IF EXISTS] name
//   SHOW {STREAMS | TABLES | VIEWS | MATERIALIZED VIEWS};  DESCRIBE name
//   SELECT [DISTINCT] items [FROM from_item [join ...]] [WHERE] [GROUP BY] [HAVING]
//       [ORDER BY] [LIMIT n] [OFFSET n]
// with window table functions TUMBLE / HOP / SESSION, [INNER | LEFT | RIGHT | FULL] JOIN .. ON,
// subqueries in FROM, FOR SYSTEM_TIME / VERSION AS OF, and the expression language of
// docs/sql.md. Several statements are separated by ';'; empty statements are skipped.
//
// Contract:
// * No exceptions and no crashes on any input: bad input gives Status::InvalidArgument whose
//   message starts with "line L, column C: " (1-based; columns in code points) and names what
//   was expected and what was found, e.g.
//   "line 2, column 14: expected ')' to close '(' opened at line 2, column 5, found 'FROM'".
//   The first error stops the parse.
// * Nesting is bounded: more than kMaxNestingDepth levels of parentheses, subqueries, CASE,
//   function calls or operators (a chain of 300 ANDs counts as 300) is an error, so neither the
//   parser nor any recursive walk of the tree it returns can overflow the stack.
// * The tree satisfies the guarantees listed in ast.h, and ToSql() of it re-parses to an equal
//   tree (tests/sql/round_trip_test.cc, fuzz/sql_parse_fuzz.cc).
// * Cost is linear in the text length; texts over kMaxSqlBytes (1 MiB) are rejected.
#pragma once

#include <string_view>
#include <vector>

#include "base/status.h"
#include "sql/ast.h"

namespace sluice::sql {

inline constexpr int kMaxNestingDepth = 256;

// All statements in `sql`, in order (none for an empty or comment-only text).
Result<std::vector<Statement>> Parse(std::string_view sql);

// Exactly one expression, e.g. an exactly_once_when predicate given as a string option.
Result<Expr> ParseExpression(std::string_view sql);

}  // namespace sluice::sql
