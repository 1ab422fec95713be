// The SQL lexer: turns text into tokens with their locations. Internal to the sql module (the
// parser and the tests use it); other modules call sql::Parse().
//
// Tokens: words (unquoted identifiers and keywords alike: the parser decides by context which
// is which), "quoted identifiers", 'strings' ('' escapes a quote), integers, decimals (with a
// fraction and/or an exponent), and the operators and punctuation of the grammar. Whitespace,
// -- line comments and /* block comments */ (which nest, as in PostgreSQL) separate tokens.
//
// The whole text must be valid UTF-8 without NUL bytes; lines end at '\n' and columns count
// code points, so that "line 3, column 17" points at the character an editor shows there.
// Errors name the problem and where it starts: an unterminated string is reported at its
// opening quote.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "sql/ast.h"

namespace sluice::sql {

// Longer texts are rejected before lexing (token vectors are ~20x the text size).
inline constexpr size_t kMaxSqlBytes = 1 << 20;

enum class TokenKind {
  kEnd,  // end of input; always the last token
  kWord,
  kQuotedIdentifier,
  kString,
  kInteger,
  kDecimal,
  kLeftParen,
  kRightParen,
  kLeftBracket,
  kRightBracket,
  kComma,
  kSemicolon,
  kDot,
  kStar,
  kPlus,
  kMinus,
  kSlash,
  kPercent,
  kConcat,       // ||
  kDoubleColon,  // ::
  kEq,
  kNotEq,  // <> or !=
  kLt,
  kLtEq,
  kGt,
  kGtEq,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  // The token exactly as written (including quotes); empty for kEnd.
  std::string_view text;
  // kWord: lower-cased. kQuotedIdentifier and kString: without quotes, doubled quotes undone.
  // kInteger and kDecimal: as written, with 'E' lower-cased. Empty otherwise.
  std::string value;
  SourceLocation location;
};

// The tokens of `sql`, ending with one kEnd token.
Result<std::vector<Token>> Tokenize(std::string_view sql);

// True for the words that can never be unquoted names (SELECT, FROM, ORDER, ...). `word` must
// be lower case. The list is in docs/sql.md.
bool IsReservedWord(std::string_view word);

// How a token is named in an error message: 'FROM', string 'abc', end of input. Long tokens are
// shortened.
std::string DescribeToken(const Token& token);

}  // namespace sluice::sql
