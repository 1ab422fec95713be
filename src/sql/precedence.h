// Operator binding strength, shared by the parser's Pratt loop and the printer, which puts
// parentheses exactly where a re-parse would otherwise group the operands differently. Internal
// to the sql module; the table is in docs/sql.md.
#pragma once

namespace sluice::sql::precedence {

// Lowest first. Binary operators are left-associative: the right operand of an operator at
// level p is parsed at level p + 1.
inline constexpr int kLowest = 0;
inline constexpr int kOr = 1;
inline constexpr int kAnd = 2;
inline constexpr int kNot = 3;             // prefix NOT
inline constexpr int kComparison = 4;      // = <> < <= > >=, IS, [NOT] IN / LIKE / ILIKE / BETWEEN
inline constexpr int kConcat = 5;          // ||
inline constexpr int kAdditive = 6;        // + -
inline constexpr int kMultiplicative = 7;  // * / %
inline constexpr int kUnary = 8;           // prefix - (and negative number literals)
inline constexpr int kCast = 9;            // ::
inline constexpr int kPostfix = 10;        // x.field, x[index]
inline constexpr int kPrimary = 11;        // literals, names, calls, CASE, CAST(), (...)

}  // namespace sluice::sql::precedence
