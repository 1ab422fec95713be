#include "sql/lexer.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include <fmt/format.h>

namespace sluice::sql {
namespace {

// Sorted, for binary search. Words that may start or end a clause, join or expression are
// reserved so that an alias written without AS cannot swallow them; CROSS, EXCEPT, INTERSECT,
// OVER, UNION, USING and WINDOW are reserved ahead of their use so that adding them later cannot
// change the meaning of a persisted definition.
constexpr std::array<std::string_view, 52> kReservedWords = {
    "all",   "and",   "as",       "asc",   "between", "by",     "case",   "cast",    "create",
    "cross", "desc",  "distinct", "else",  "end",     "escape", "except", "extract", "false",
    "for",   "from",  "full",     "group", "having",  "ilike",  "in",     "inner",   "intersect",
    "is",    "join",  "left",     "like",  "limit",   "not",    "null",   "offset",  "on",
    "or",    "order", "outer",    "over",  "primary", "right",  "select", "table",   "then",
    "true",  "union", "using",    "when",  "where",   "window", "with",
};
static_assert(std::is_sorted(kReservedWords.begin(), kReservedWords.end()));

bool IsWordStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsWordChar(char c) {
  return IsWordStart(c) || IsDigit(c);
}
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
char ToLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Length of the UTF-8 sequence at text[pos], or 0 when it is not valid UTF-8 (overlong forms,
// surrogates and code points above U+10FFFF are invalid).
size_t Utf8SequenceLength(std::string_view text, size_t pos) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(text[pos + i]); };
  auto continuation = [&](size_t i) { return pos + i < text.size() && (byte(i) & 0xC0) == 0x80; };
  uint8_t lead = byte(0);
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return continuation(1) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (!continuation(1) || !continuation(2)) return 0;
    if (lead == 0xE0 && byte(1) < 0xA0) return 0;   // overlong
    if (lead == 0xED && byte(1) >= 0xA0) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (!continuation(1) || !continuation(2) || !continuation(3)) return 0;
    if (lead == 0xF0 && byte(1) < 0x90) return 0;   // overlong
    if (lead == 0xF4 && byte(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

class Lexer {
 public:
  explicit Lexer(std::string_view sql) : sql_(sql) {}

  Result<std::vector<Token>> Run() {
    SLUICE_RETURN_IF_ERROR(CheckEncoding());
    std::vector<Token> tokens;
    for (;;) {
      SLUICE_RETURN_IF_ERROR(SkipSpaceAndComments());
      Token token;
      token.location = Here();
      if (AtEnd()) {
        tokens.push_back(std::move(token));
        return tokens;
      }
      SLUICE_RETURN_IF_ERROR(LexToken(token));
      token.text = sql_.substr(token.location.offset, pos_ - token.location.offset);
      tokens.push_back(std::move(token));
    }
  }

 private:
  bool AtEnd() const { return pos_ >= sql_.size(); }
  // '\0' past the end; CheckEncoding() rejects NUL bytes, so '\0' means the end.
  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < sql_.size() ? sql_[pos_ + ahead] : '\0';
  }
  SourceLocation Here() const { return {static_cast<uint32_t>(pos_), line_, column_}; }

  // Moves past one code point, keeping line and column.
  void Advance() {
    if (sql_[pos_] == '\n') {
      ++line_;
      column_ = 1;
      ++pos_;
      return;
    }
    pos_ += Utf8SequenceLength(sql_, pos_);
    ++column_;
  }

  // Checks the whole text up front, so that the rest of the lexer can step by code point
  // without re-checking, and every error after this one has a trustworthy column.
  Status CheckEncoding() {
    while (!AtEnd()) {
      if (sql_[pos_] == '\0') return ErrorAt(Here(), "unexpected NUL byte");
      if (Utf8SequenceLength(sql_, pos_) == 0) {
        return ErrorAt(
            Here(), fmt::format("invalid UTF-8 byte 0x{:02X}", static_cast<uint8_t>(sql_[pos_])));
      }
      Advance();
    }
    pos_ = 0;
    line_ = 1;
    column_ = 1;
    return Status::Ok();
  }

  Status SkipSpaceAndComments() {
    for (;;) {
      if (IsSpace(Peek())) {
        Advance();
      } else if (Peek() == '-' && Peek(1) == '-') {
        while (!AtEnd() && Peek() != '\n') Advance();
      } else if (Peek() == '/' && Peek(1) == '*') {
        SLUICE_RETURN_IF_ERROR(SkipBlockComment());
      } else {
        return Status::Ok();
      }
    }
  }

  Status SkipBlockComment() {
    SourceLocation start = Here();
    int depth = 0;
    do {
      if (AtEnd()) {
        return ErrorAt(start, "unterminated /* comment: no closing */ before the end of the input");
      }
      if (Peek() == '/' && Peek(1) == '*') {
        ++depth;
        pos_ += 2;
        column_ += 2;
      } else if (Peek() == '*' && Peek(1) == '/') {
        --depth;
        pos_ += 2;
        column_ += 2;
      } else {
        Advance();
      }
    } while (depth > 0);
    return Status::Ok();
  }

  Status LexToken(Token& token) {
    char c = Peek();
    if (IsWordStart(c)) {
      token.kind = TokenKind::kWord;
      while (IsWordChar(Peek())) {
        token.value.push_back(ToLower(Peek()));
        Advance();
      }
      return Status::Ok();
    }
    if (IsDigit(c) || (c == '.' && IsDigit(Peek(1)))) return LexNumber(token);
    if (c == '\'') return LexQuoted(token, '\'');
    if (c == '"') return LexQuoted(token, '"');
    return LexOperator(token);
  }

  // digits [. digits] [e [+-] digits], or . digits [e [+-] digits]. A number running into a
  // letter, digit or dot ("12abc", "1.2.3") is one bad token rather than two good ones, which
  // would give a confusing error further on.
  Status LexNumber(Token& token) {
    size_t begin = pos_;
    bool fractional = false;
    auto digits = [&] {
      while (IsDigit(Peek())) Advance();
    };
    digits();
    if (Peek() == '.') {
      fractional = true;
      Advance();
      digits();
    }
    if (Peek() == 'e' || Peek() == 'E') {
      fractional = true;
      Advance();
      if (Peek() == '+' || Peek() == '-') Advance();
      if (!IsDigit(Peek())) {
        while (IsWordChar(Peek()) || Peek() == '.') Advance();
        return ErrorAt(token.location,
                       fmt::format("invalid number '{}': the exponent has no digits",
                                   sql_.substr(begin, pos_ - begin)));
      }
      digits();
    }
    if (IsWordChar(Peek()) || Peek() == '.') {
      while (IsWordChar(Peek()) || Peek() == '.') Advance();
      return ErrorAt(token.location,
                     fmt::format("invalid number '{}'", sql_.substr(begin, pos_ - begin)));
    }
    token.kind = fractional ? TokenKind::kDecimal : TokenKind::kInteger;
    token.value.assign(sql_.substr(begin, pos_ - begin));
    std::replace(token.value.begin(), token.value.end(), 'E', 'e');
    return Status::Ok();
  }

  // 'string' or "identifier"; a doubled quote inside stands for one.
  Status LexQuoted(Token& token, char quote) {
    Advance();  // the opening quote
    for (;;) {
      if (AtEnd()) {
        return ErrorAt(token.location,
                       quote == '\''
                           ? "unterminated string literal: no closing ' before the end of the input"
                           : "unterminated quoted identifier: no closing \" before the end of the "
                             "input");
      }
      if (Peek() == quote) {
        if (Peek(1) != quote) break;
        token.value.push_back(quote);
        Advance();
        Advance();
        continue;
      }
      size_t from = pos_;
      Advance();
      token.value.append(sql_.substr(from, pos_ - from));
    }
    Advance();  // the closing quote
    if (quote == '\'') {
      token.kind = TokenKind::kString;
      return Status::Ok();
    }
    if (token.value.empty()) return ErrorAt(token.location, "zero-length quoted identifier \"\"");
    token.kind = TokenKind::kQuotedIdentifier;
    return Status::Ok();
  }

  Status LexOperator(Token& token) {
    char c = Peek();
    char next = Peek(1);
    auto one = [&](TokenKind kind) {
      token.kind = kind;
      Advance();
      return Status::Ok();
    };
    auto two = [&](TokenKind kind) {
      token.kind = kind;
      Advance();
      Advance();
      return Status::Ok();
    };
    switch (c) {
      case '(':
        return one(TokenKind::kLeftParen);
      case ')':
        return one(TokenKind::kRightParen);
      case '[':
        return one(TokenKind::kLeftBracket);
      case ']':
        return one(TokenKind::kRightBracket);
      case ',':
        return one(TokenKind::kComma);
      case ';':
        return one(TokenKind::kSemicolon);
      case '.':
        return one(TokenKind::kDot);
      case '*':
        return one(TokenKind::kStar);
      case '+':
        return one(TokenKind::kPlus);
      case '-':
        return one(TokenKind::kMinus);
      case '/':
        return one(TokenKind::kSlash);
      case '%':
        return one(TokenKind::kPercent);
      case '<':
        if (next == '=') return two(TokenKind::kLtEq);
        if (next == '>') return two(TokenKind::kNotEq);
        return one(TokenKind::kLt);
      case '>':
        if (next == '=') return two(TokenKind::kGtEq);
        return one(TokenKind::kGt);
      case '=':
        if (next == '=') return ErrorAt(token.location, "'==' is not an operator; use '='");
        return one(TokenKind::kEq);
      case '!':
        if (next == '=') return two(TokenKind::kNotEq);
        return ErrorAt(token.location, "unexpected character '!' (did you mean '!=' or NOT?)");
      case '|':
        if (next == '|') return two(TokenKind::kConcat);
        return ErrorAt(token.location, "unexpected character '|' (did you mean '||'?)");
      case ':':
        if (next == ':') return two(TokenKind::kDoubleColon);
        return ErrorAt(token.location, "unexpected character ':' (did you mean '::'?)");
      case '`':
        return ErrorAt(token.location,
                       "unexpected character '`' (quote names with double quotes: \"name\")");
      default:
        break;
    }
    size_t length = Utf8SequenceLength(sql_, pos_);
    if (static_cast<uint8_t>(c) < 0x20 || c == 0x7F) {
      return ErrorAt(token.location,
                     fmt::format("unexpected control character U+{:04X}", static_cast<int>(c)));
    }
    return ErrorAt(token.location,
                   fmt::format("unexpected character '{}'", sql_.substr(pos_, length)));
  }

  std::string_view sql_;
  size_t pos_ = 0;
  uint32_t line_ = 1;
  uint32_t column_ = 1;
};

}  // namespace

Result<std::vector<Token>> Tokenize(std::string_view sql) {
  if (sql.size() > kMaxSqlBytes) {
    return ErrorAt(SourceLocation{}, fmt::format("SQL text too long: {} bytes, at most {}",
                                                 sql.size(), kMaxSqlBytes));
  }
  return Lexer(sql).Run();
}

bool IsReservedWord(std::string_view word) {
  return std::binary_search(kReservedWords.begin(), kReservedWords.end(), word);
}

std::string DescribeToken(const Token& token) {
  if (token.kind == TokenKind::kEnd) return "end of input";
  // At most 40 code points, and only the first line, so that a long string literal does not
  // drown the message.
  constexpr size_t kMaxCodePoints = 40;
  std::string_view text = token.text;
  size_t end = 0;
  size_t code_points = 0;
  while (end < text.size() && text[end] != '\n' && code_points < kMaxCodePoints) {
    end += std::max<size_t>(1, Utf8SequenceLength(text, end));
    ++code_points;
  }
  std::string shown(text.substr(0, end));
  if (end < text.size()) shown += "...";
  if (token.kind == TokenKind::kString) return "string " + shown;
  return "'" + shown + "'";
}

}  // namespace sluice::sql
