#include "sql/lexer.h"

#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace sluice::sql {
namespace {

std::vector<Token> Lex(std::string_view sql) {
  Result<std::vector<Token>> tokens = Tokenize(sql);
  EXPECT_TRUE(tokens.ok()) << tokens.status().message();
  return tokens.ok() ? std::move(tokens).value() : std::vector<Token>{};
}

std::vector<TokenKind> Kinds(std::string_view sql) {
  std::vector<TokenKind> kinds;
  for (const Token& token : Lex(sql)) kinds.push_back(token.kind);
  return kinds;
}

TEST(Lexer, OperatorsAndPunctuation) {
  using K = TokenKind;
  EXPECT_EQ(
      Kinds("( ) [ ] , ; . * + - / % || :: = <> != < <= > >="),
      (std::vector<K>{K::kLeftParen, K::kRightParen, K::kLeftBracket, K::kRightBracket, K::kComma,
                      K::kSemicolon, K::kDot,        K::kStar,        K::kPlus,         K::kMinus,
                      K::kSlash,     K::kPercent,    K::kConcat,      K::kDoubleColon,  K::kEq,
                      K::kNotEq,     K::kNotEq,      K::kLt,          K::kLtEq,         K::kGt,
                      K::kGtEq,      K::kEnd}));
  // No spaces needed.
  EXPECT_EQ(Kinds("a<=b"), (std::vector<K>{K::kWord, K::kLtEq, K::kWord, K::kEnd}));
  EXPECT_EQ(Kinds("x::int"), (std::vector<K>{K::kWord, K::kDoubleColon, K::kWord, K::kEnd}));
}

TEST(Lexer, WordsAreLowerCasedQuotedNamesAreNot) {
  std::vector<Token> tokens = Lex("SeLeCt Warehouse_ID \"Mixed \"\"Case\"\"\" _x1");
  ASSERT_EQ(tokens.size(), 5u);
  EXPECT_EQ(tokens[0].kind, TokenKind::kWord);
  EXPECT_EQ(tokens[0].value, "select");
  EXPECT_EQ(tokens[0].text, "SeLeCt");
  EXPECT_EQ(tokens[1].value, "warehouse_id");
  EXPECT_EQ(tokens[2].kind, TokenKind::kQuotedIdentifier);
  EXPECT_EQ(tokens[2].value, "Mixed \"Case\"");
  EXPECT_EQ(tokens[2].text, "\"Mixed \"\"Case\"\"\"");
  EXPECT_EQ(tokens[3].value, "_x1");
}

TEST(Lexer, Strings) {
  std::vector<Token> tokens = Lex("'it''s' '' 'two\nlines' 'ü€'");
  ASSERT_EQ(tokens.size(), 5u);
  EXPECT_EQ(tokens[0].kind, TokenKind::kString);
  EXPECT_EQ(tokens[0].value, "it's");
  EXPECT_EQ(tokens[1].value, "");
  EXPECT_EQ(tokens[2].value, "two\nlines");
  EXPECT_EQ(tokens[3].value, "ü€");
  // The newline inside the string moved the next token to line 2.
  EXPECT_EQ(tokens[3].location.line, 2u);
  EXPECT_EQ(tokens[3].location.column, 8u);
}

TEST(Lexer, Numbers) {
  std::vector<Token> tokens = Lex("0 42 007 1.5 .5 1. 1e3 2.5E-3 1e+10 1.e2");
  std::vector<std::pair<TokenKind, std::string>> expected = {
      {TokenKind::kInteger, "0"},     {TokenKind::kInteger, "42"},
      {TokenKind::kInteger, "007"},   {TokenKind::kDecimal, "1.5"},
      {TokenKind::kDecimal, ".5"},    {TokenKind::kDecimal, "1."},
      {TokenKind::kDecimal, "1e3"},   {TokenKind::kDecimal, "2.5e-3"},
      {TokenKind::kDecimal, "1e+10"}, {TokenKind::kDecimal, "1.e2"},
  };
  ASSERT_EQ(tokens.size(), expected.size() + 1);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(tokens[i].kind, expected[i].first) << i;
    EXPECT_EQ(tokens[i].value, expected[i].second) << i;
  }
  // A dot followed by a letter is member access, not a number.
  EXPECT_EQ(Kinds("a.b"), (std::vector<TokenKind>{TokenKind::kWord, TokenKind::kDot,
                                                  TokenKind::kWord, TokenKind::kEnd}));
}

TEST(Lexer, CommentsSeparateTokensAndNest) {
  EXPECT_EQ(Kinds("a--comment\nb/* x /* nested */ still comment */c-- end"),
            (std::vector<TokenKind>{TokenKind::kWord, TokenKind::kWord, TokenKind::kWord,
                                    TokenKind::kEnd}));
  // A lone '-' or '/' is an operator.
  EXPECT_EQ(Kinds("a-b/c"),
            (std::vector<TokenKind>{TokenKind::kWord, TokenKind::kMinus, TokenKind::kWord,
                                    TokenKind::kSlash, TokenKind::kWord, TokenKind::kEnd}));
}

TEST(Lexer, LocationsAreLineAndCodePointColumn) {
  std::vector<Token> tokens = Lex("'é€' x\n\t'ü' y\r\n  z");
  ASSERT_EQ(tokens.size(), 6u);
  EXPECT_EQ(tokens[1].location, (SourceLocation{8, 1, 6}));   // x after 'é€' (7 bytes)
  EXPECT_EQ(tokens[2].location, (SourceLocation{11, 2, 2}));  // a tab is one column
  EXPECT_EQ(tokens[3].location, (SourceLocation{16, 2, 6}));  // y
  EXPECT_EQ(tokens[4].location, (SourceLocation{21, 3, 3}));  // \r\n ends a line once
  EXPECT_EQ(tokens[5].kind, TokenKind::kEnd);
  EXPECT_EQ(tokens[5].location, (SourceLocation{22, 3, 4}));
}

TEST(Lexer, Errors) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"'open",
       "line 1, column 1: unterminated string literal: no closing ' before the end of "
       "the input"},
      {"a\n  \"open",
       "line 2, column 3: unterminated quoted identifier: no closing \" before "
       "the end of the input"},
      {"/* /* */",
       "line 1, column 1: unterminated /* comment: no closing */ before the end of "
       "the input"},
      {"\"\"", "line 1, column 1: zero-length quoted identifier \"\""},
      {"1x", "line 1, column 1: invalid number '1x'"},
      {"1e", "line 1, column 1: invalid number '1e': the exponent has no digits"},
      {"1.2.3", "line 1, column 1: invalid number '1.2.3'"},
      {"a ! b", "line 1, column 3: unexpected character '!' (did you mean '!=' or NOT?)"},
      {"a : b", "line 1, column 3: unexpected character ':' (did you mean '::'?)"},
      {"a ^ b", "line 1, column 3: unexpected character '^'"},
      {"a €", "line 1, column 3: unexpected character '€'"},
      {"a\x7F", "line 1, column 2: unexpected control character U+007F"},
      {"'\xE2\x82'", "line 1, column 2: invalid UTF-8 byte 0xE2"},
      {"\xC0\x80", "line 1, column 1: invalid UTF-8 byte 0xC0"},            // overlong NUL
      {"'\xED\xA0\x80'", "line 1, column 2: invalid UTF-8 byte 0xED"},      // surrogate
      {"'\xF4\x90\x80\x80'", "line 1, column 2: invalid UTF-8 byte 0xF4"},  // > U+10FFFF
  };
  for (const auto& [sql, message] : cases) {
    Result<std::vector<Token>> tokens = Tokenize(sql);
    ASSERT_FALSE(tokens.ok()) << sql;
    EXPECT_EQ(tokens.status().message(), message) << sql;
  }
}

TEST(Lexer, ReservedWords) {
  EXPECT_TRUE(IsReservedWord("select"));
  EXPECT_TRUE(IsReservedWord("order"));
  EXPECT_TRUE(IsReservedWord("window"));
  EXPECT_FALSE(IsReservedWord("timestamp"));
  EXPECT_FALSE(IsReservedWord("stream"));
  EXPECT_FALSE(IsReservedWord("key"));
  EXPECT_FALSE(IsReservedWord("SELECT"));  // callers pass lower case
}

TEST(Lexer, DescribeToken) {
  std::vector<Token> tokens =
      Lex("FROM 'str' \"Name\" 'a string literal that is much longer than forty characters'");
  EXPECT_EQ(DescribeToken(tokens[0]), "'FROM'");
  EXPECT_EQ(DescribeToken(tokens[1]), "string 'str'");
  EXPECT_EQ(DescribeToken(tokens[2]), "'\"Name\"'");
  EXPECT_EQ(DescribeToken(tokens[3]), "string 'a string literal that is much longer th...");
  EXPECT_EQ(DescribeToken(tokens[4]), "end of input");
}

}  // namespace
}  // namespace sluice::sql
