#include "sql/parser.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "sql/lexer.h"
#include "sql/precedence.h"

namespace sluice::sql {
namespace {

// An expression and the height of its tree (1 for a leaf). The parser tracks heights because
// left-associative chains (a + b + c ...) grow the tree without recursing, so the recursion
// guard alone would not bound the height that later recursive walks see.
struct ParsedExpr {
  Expr expr;
  int height = 1;
};

// Counts one level of parser recursion for as long as it lives.
class DepthGuard {
 public:
  explicit DepthGuard(int& depth) : depth_(++depth) {}
  ~DepthGuard() { --depth_; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;

 private:
  int& depth_;
};

std::optional<IntervalUnit> IntervalUnitFromWord(std::string_view word) {
  if (word == "year" || word == "years") return IntervalUnit::kYear;
  if (word == "month" || word == "months") return IntervalUnit::kMonth;
  if (word == "day" || word == "days") return IntervalUnit::kDay;
  if (word == "hour" || word == "hours") return IntervalUnit::kHour;
  if (word == "minute" || word == "minutes") return IntervalUnit::kMinute;
  if (word == "second" || word == "seconds") return IntervalUnit::kSecond;
  return std::nullopt;
}

std::optional<BinaryOperator> BinaryOperatorFromToken(const Token& token) {
  switch (token.kind) {
    case TokenKind::kEq:
      return BinaryOperator::kEq;
    case TokenKind::kNotEq:
      return BinaryOperator::kNotEq;
    case TokenKind::kLt:
      return BinaryOperator::kLt;
    case TokenKind::kLtEq:
      return BinaryOperator::kLtEq;
    case TokenKind::kGt:
      return BinaryOperator::kGt;
    case TokenKind::kGtEq:
      return BinaryOperator::kGtEq;
    case TokenKind::kConcat:
      return BinaryOperator::kConcat;
    case TokenKind::kPlus:
      return BinaryOperator::kAdd;
    case TokenKind::kMinus:
      return BinaryOperator::kSub;
    case TokenKind::kStar:
      return BinaryOperator::kMul;
    case TokenKind::kSlash:
      return BinaryOperator::kDiv;
    case TokenKind::kPercent:
      return BinaryOperator::kMod;
    case TokenKind::kWord:
      if (token.value == "or") return BinaryOperator::kOr;
      if (token.value == "and") return BinaryOperator::kAnd;
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

bool IsName(const Token& token) {
  return token.kind == TokenKind::kQuotedIdentifier ||
         (token.kind == TokenKind::kWord && !IsReservedWord(token.value));
}

// After a '.', any word is a name: `t.order` cannot mean anything else.
bool IsNameAfterDot(const Token& token) {
  return token.kind == TokenKind::kQuotedIdentifier || token.kind == TokenKind::kWord;
}

std::string_view ObjectNoun(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kStream:
      return "stream";
    case ObjectKind::kTable:
      return "table";
    case ObjectKind::kView:
      return "view";
    case ObjectKind::kMaterializedView:
      return "materialized view";
    case ObjectKind::kAlert:
      return "alert";
  }
  return "object";
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Result<std::vector<Statement>> ParseStatements() {
    std::vector<Statement> statements;
    for (;;) {
      while (Accept(TokenKind::kSemicolon)) {
      }
      if (At(TokenKind::kEnd)) return statements;
      SLUICE_ASSIGN_OR_RETURN(Statement statement, ParseStatement());
      statements.push_back(std::move(statement));
      if (!At(TokenKind::kSemicolon) && !At(TokenKind::kEnd)) {
        return ErrorExpected("';' or the end of the input after the statement");
      }
    }
  }

  Result<Expr> ParseOnlyExpression() {
    SLUICE_ASSIGN_OR_RETURN(Expr expr, ParseFullExpr());
    if (!At(TokenKind::kEnd)) return ErrorExpected("the end of the expression");
    return expr;
  }

 private:
  // ---- Tokens -------------------------------------------------------------------------------

  const Token& Peek(size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  // Returns the current token and moves past it (never past the final kEnd).
  const Token& Next() {
    const Token& token = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return token;
  }
  bool At(TokenKind kind, size_t ahead = 0) const { return Peek(ahead).kind == kind; }
  bool AtWord(std::string_view word, size_t ahead = 0) const {
    const Token& token = Peek(ahead);
    return token.kind == TokenKind::kWord && token.value == word;
  }
  bool Accept(TokenKind kind) {
    if (!At(kind)) return false;
    Next();
    return true;
  }
  bool AcceptWord(std::string_view word) {
    if (!AtWord(word)) return false;
    Next();
    return true;
  }

  // ---- Errors -------------------------------------------------------------------------------

  Status ErrorExpected(std::string_view what) const {
    return ErrorAt(Peek().location,
                   fmt::format("expected {}, found {}", what, DescribeToken(Peek())));
  }
  // For places where a name was expected: a reserved word there was most likely meant as one.
  Status ErrorExpectedName(std::string_view what) const {
    const Token& token = Peek();
    std::string message = fmt::format("expected {}, found {}", what, DescribeToken(token));
    if (token.kind == TokenKind::kWord && IsReservedWord(token.value)) {
      message +=
          fmt::format(" ('{}' is a reserved word; if it is meant as a name, quote it: \"{}\")",
                      token.value, token.value);
    }
    return ErrorAt(token.location, message);
  }
  Status Expect(TokenKind kind, std::string_view what) {
    return Accept(kind) ? Status::Ok() : ErrorExpected(what);
  }
  Status ExpectWord(std::string_view word, std::string_view what) {
    return AcceptWord(word) ? Status::Ok() : ErrorExpected(what);
  }
  // `close_text` closes what `open_text` opened at `opened`: the error says where, because the
  // mistake is usually there rather than where the parser noticed it.
  Status ExpectClosing(TokenKind close, std::string_view close_text, std::string_view open_text,
                       SourceLocation opened) {
    if (Accept(close)) return Status::Ok();
    return ErrorExpected(
        fmt::format("'{}' to close '{}' opened at {}", close_text, open_text, ToString(opened)));
  }
  Status ExpectCloseParen(SourceLocation opened) {
    return ExpectClosing(TokenKind::kRightParen, ")", "(", opened);
  }
  Status TooDeep() const {
    return ErrorAt(Peek().location,
                   fmt::format("nested too deeply: more than {} levels", kMaxNestingDepth));
  }

  // ---- Names --------------------------------------------------------------------------------

  Result<Identifier> ParseIdentifier(std::string_view what) {
    if (!IsName(Peek())) return ErrorExpectedName(what);
    const Token& token = Next();
    return Identifier{token.value, token.location};
  }

  // name [. name ...]
  Result<std::vector<Identifier>> ParsePath(std::string_view what) {
    std::vector<Identifier> path;
    SLUICE_ASSIGN_OR_RETURN(Identifier first, ParseIdentifier(what));
    path.push_back(std::move(first));
    while (At(TokenKind::kDot) && IsNameAfterDot(Peek(1))) {
      Next();
      const Token& token = Next();
      path.push_back(Identifier{token.value, token.location});
    }
    return path;
  }

  // [AS] alias, or nothing. Without AS only a non-reserved word or a quoted name is an alias,
  // which is why the words that can follow a select item or a table are reserved.
  Result<std::optional<Identifier>> ParseOptionalAlias() {
    if (AcceptWord("as")) {
      SLUICE_ASSIGN_OR_RETURN(Identifier alias, ParseIdentifier("an alias after AS"));
      return std::optional<Identifier>(std::move(alias));
    }
    if (!IsName(Peek())) return std::optional<Identifier>();
    const Token& token = Next();
    return std::optional<Identifier>(Identifier{token.value, token.location});
  }

  // ---- Statements ---------------------------------------------------------------------------

  Result<Statement> ParseStatement() {
    Statement statement;
    statement.location = Peek().location;
    if (AtWord("select")) {
      SLUICE_ASSIGN_OR_RETURN(statement.node, ParseQuery());
    } else if (AcceptWord("create")) {
      SLUICE_ASSIGN_OR_RETURN(statement.node, ParseCreate());
    } else if (AcceptWord("drop")) {
      SLUICE_ASSIGN_OR_RETURN(statement.node, ParseDrop());
    } else if (AcceptWord("show")) {
      SLUICE_ASSIGN_OR_RETURN(statement.node, ParseShow());
    } else if (AcceptWord("describe")) {
      Describe describe;
      SLUICE_ASSIGN_OR_RETURN(describe.name, ParseIdentifier("a stream, table or view name"));
      statement.node = std::move(describe);
    } else {
      return ErrorExpected("a statement (SELECT, CREATE, DROP, SHOW or DESCRIBE)");
    }
    return statement;
  }

  Result<StatementNode> ParseCreate() {
    if (AcceptWord("stream")) {
      CreateStream create;
      SLUICE_ASSIGN_OR_RETURN(create.if_not_exists, ParseIfNotExists());
      SLUICE_ASSIGN_OR_RETURN(create.name, ParseIdentifier("a stream name"));
      if (At(TokenKind::kLeftParen)) {
        SLUICE_RETURN_IF_ERROR(ParseColumnList(create.columns, nullptr));
      }
      if (AtWord("with")) SLUICE_RETURN_IF_ERROR(ParseOptions(create.options));
      return StatementNode(std::move(create));
    }
    if (AcceptWord("table")) {
      CreateTable create;
      SLUICE_ASSIGN_OR_RETURN(create.if_not_exists, ParseIfNotExists());
      SLUICE_ASSIGN_OR_RETURN(create.name, ParseIdentifier("a table name"));
      if (!At(TokenKind::kLeftParen)) {
        return ErrorExpected("'(' and the column definitions after the table name");
      }
      SLUICE_RETURN_IF_ERROR(ParseColumnList(create.columns, &create.primary_key));
      if (AtWord("with")) SLUICE_RETURN_IF_ERROR(ParseOptions(create.options));
      return StatementNode(std::move(create));
    }
    if (AcceptWord("materialized")) {
      SLUICE_RETURN_IF_ERROR(ExpectWord("view", "VIEW after MATERIALIZED"));
      CreateMaterializedView create;
      SLUICE_ASSIGN_OR_RETURN(create.if_not_exists, ParseIfNotExists());
      SLUICE_ASSIGN_OR_RETURN(create.name, ParseIdentifier("a view name"));
      if (AtWord("with")) {
        SLUICE_RETURN_IF_ERROR(ParseOptions(create.options));
        SLUICE_RETURN_IF_ERROR(ExpectWord("as", "AS and the view's query"));
      } else {
        SLUICE_RETURN_IF_ERROR(ExpectWord("as", "WITH (...) or AS after the view name"));
      }
      SLUICE_ASSIGN_OR_RETURN(create.query, ParseQuery());
      return StatementNode(std::move(create));
    }
    if (AcceptWord("alert")) {
      CreateAlert create;
      SLUICE_ASSIGN_OR_RETURN(create.if_not_exists, ParseIfNotExists());
      SLUICE_ASSIGN_OR_RETURN(create.name, ParseIdentifier("an alert name"));
      SLUICE_RETURN_IF_ERROR(ExpectWord("on", "ON and the view the alert watches"));
      SLUICE_ASSIGN_OR_RETURN(create.view, ParseIdentifier("a view name"));
      if (AtWord("with")) SLUICE_RETURN_IF_ERROR(ParseOptions(create.options));
      return StatementNode(std::move(create));
    }
    return ErrorExpected("STREAM, TABLE, MATERIALIZED VIEW or ALERT after CREATE");
  }

  Result<bool> ParseIfNotExists() {
    if (!AtWord("if") || !AtWord("not", 1)) return false;
    Next();
    Next();
    SLUICE_RETURN_IF_ERROR(ExpectWord("exists", "EXISTS after IF NOT"));
    return true;
  }

  // (column type [PRIMARY KEY], ... [, PRIMARY KEY (column, ...)]). `primary_key` is null where
  // keys are not allowed (streams are keyed by their events' ids, not by a declared key).
  Status ParseColumnList(std::vector<ColumnDef>& columns, std::vector<Identifier>* primary_key) {
    SourceLocation opened = Next().location;
    std::optional<SourceLocation> key_declared_at;
    auto declare_key = [&](SourceLocation at) -> Status {
      if (primary_key == nullptr) {
        return ErrorAt(at, "PRIMARY KEY is only allowed in CREATE TABLE");
      }
      if (key_declared_at) {
        return ErrorAt(at, fmt::format("a second PRIMARY KEY (the first is at {})",
                                       ToString(*key_declared_at)));
      }
      key_declared_at = at;
      return Status::Ok();
    };
    do {
      if (AtWord("primary")) {
        SourceLocation at = Next().location;
        SLUICE_RETURN_IF_ERROR(ExpectWord("key", "KEY after PRIMARY"));
        SLUICE_RETURN_IF_ERROR(declare_key(at));
        SourceLocation key_opened = Peek().location;
        SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kLeftParen, "'(' and the key's columns"));
        do {
          SLUICE_ASSIGN_OR_RETURN(Identifier column, ParseIdentifier("a column name"));
          primary_key->push_back(std::move(column));
        } while (Accept(TokenKind::kComma));
        SLUICE_RETURN_IF_ERROR(ExpectCloseParen(key_opened));
        continue;
      }
      ColumnDef column;
      SLUICE_ASSIGN_OR_RETURN(column.name, ParseIdentifier("a column name"));
      SLUICE_ASSIGN_OR_RETURN(column.type, ParseDataType());
      if (AtWord("primary")) {
        SourceLocation at = Next().location;
        SLUICE_RETURN_IF_ERROR(ExpectWord("key", "KEY after PRIMARY"));
        SLUICE_RETURN_IF_ERROR(declare_key(at));
        primary_key->push_back(column.name);
      }
      columns.push_back(std::move(column));
    } while (Accept(TokenKind::kComma));
    SLUICE_RETURN_IF_ERROR(ExpectCloseParen(opened));

    if (columns.empty()) return ErrorAt(opened, "expected at least one column definition");
    for (size_t i = 0; i < columns.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (columns[i].name == columns[j].name) {
          return ErrorAt(columns[i].name.location,
                         fmt::format("column '{}' is defined twice (first at {})",
                                     columns[i].name.name, ToString(columns[j].name.location)));
        }
      }
    }
    if (primary_key == nullptr) return Status::Ok();
    for (size_t i = 0; i < primary_key->size(); ++i) {
      const Identifier& key = (*primary_key)[i];
      if (std::none_of(columns.begin(), columns.end(),
                       [&](const ColumnDef& column) { return column.name == key; })) {
        return ErrorAt(
            key.location,
            fmt::format("PRIMARY KEY column '{}' is not a column of the table", key.name));
      }
      for (size_t j = 0; j < i; ++j) {
        if ((*primary_key)[j] == key) {
          return ErrorAt(key.location,
                         fmt::format("column '{}' appears twice in the PRIMARY KEY", key.name));
        }
      }
    }
    return Status::Ok();
  }

  // WITH (key = value, ...)
  Status ParseOptions(std::vector<Option>& options) {
    Next();  // WITH
    SourceLocation opened = Peek().location;
    SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kLeftParen, "'(' and options after WITH"));
    do {
      Option option;
      SLUICE_ASSIGN_OR_RETURN(option.key, ParseIdentifier("an option name"));
      for (const Option& earlier : options) {
        if (earlier.key == option.key) {
          return ErrorAt(option.key.location,
                         fmt::format("option '{}' is given twice (first at {})", option.key.name,
                                     ToString(earlier.key.location)));
        }
      }
      SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kEq, "'=' after the option name"));
      SLUICE_ASSIGN_OR_RETURN(option.value, ParseFullExpr());
      options.push_back(std::move(option));
    } while (Accept(TokenKind::kComma));
    return ExpectCloseParen(opened);
  }

  Result<StatementNode> ParseDrop() {
    Drop drop;
    if (AcceptWord("stream")) {
      drop.kind = ObjectKind::kStream;
    } else if (AcceptWord("table")) {
      drop.kind = ObjectKind::kTable;
    } else if (AcceptWord("view")) {
      drop.kind = ObjectKind::kView;
    } else if (AcceptWord("materialized")) {
      SLUICE_RETURN_IF_ERROR(ExpectWord("view", "VIEW after MATERIALIZED"));
      drop.kind = ObjectKind::kMaterializedView;
    } else if (AcceptWord("alert")) {
      drop.kind = ObjectKind::kAlert;
    } else {
      return ErrorExpected("STREAM, TABLE, VIEW, MATERIALIZED VIEW or ALERT after DROP");
    }
    if (AtWord("if") && AtWord("exists", 1)) {
      Next();
      Next();
      drop.if_exists = true;
    }
    SLUICE_ASSIGN_OR_RETURN(drop.name,
                            ParseIdentifier(fmt::format("a {} name", ObjectNoun(drop.kind))));
    return StatementNode(std::move(drop));
  }

  Result<StatementNode> ParseShow() {
    Show show;
    if (AcceptWord("streams")) {
      show.kind = ObjectKind::kStream;
    } else if (AcceptWord("tables")) {
      show.kind = ObjectKind::kTable;
    } else if (AcceptWord("views")) {
      show.kind = ObjectKind::kView;
    } else if (AcceptWord("materialized")) {
      SLUICE_RETURN_IF_ERROR(ExpectWord("views", "VIEWS after MATERIALIZED"));
      show.kind = ObjectKind::kMaterializedView;
    } else if (AcceptWord("alerts")) {
      show.kind = ObjectKind::kAlert;
    } else {
      return ErrorExpected("STREAMS, TABLES, VIEWS, MATERIALIZED VIEWS or ALERTS after SHOW");
    }
    return StatementNode(show);
  }

  // ---- Queries ------------------------------------------------------------------------------

  Result<Query> ParseQuery() {
    DepthGuard guard(depth_);
    if (depth_ > kMaxNestingDepth) return TooDeep();
    SLUICE_RETURN_IF_ERROR(ExpectWord("select", "SELECT"));
    Query query;
    if (AcceptWord("distinct")) {
      query.distinct = true;
    } else {
      AcceptWord("all");
    }
    do {
      SLUICE_ASSIGN_OR_RETURN(SelectItem item, ParseSelectItem());
      query.select_list.push_back(std::move(item));
    } while (Accept(TokenKind::kComma));
    if (AcceptWord("from")) {
      SLUICE_ASSIGN_OR_RETURN(query.from, ParseFromClause());
    }
    if (AcceptWord("where")) {
      SLUICE_ASSIGN_OR_RETURN(query.where, ParseFullExpr());
    }
    if (AcceptWord("group")) {
      SLUICE_RETURN_IF_ERROR(ExpectWord("by", "BY after GROUP"));
      SLUICE_RETURN_IF_ERROR(ParseExprList(query.group_by));
    }
    if (AcceptWord("having")) {
      SLUICE_ASSIGN_OR_RETURN(query.having, ParseFullExpr());
    }
    if (AcceptWord("order")) {
      SLUICE_RETURN_IF_ERROR(ExpectWord("by", "BY after ORDER"));
      do {
        SLUICE_ASSIGN_OR_RETURN(OrderItem item, ParseOrderItem());
        query.order_by.push_back(std::move(item));
      } while (Accept(TokenKind::kComma));
    }
    if (AcceptWord("limit")) {
      SLUICE_ASSIGN_OR_RETURN(query.limit, ParseCount("a non-negative integer after LIMIT"));
    }
    if (AcceptWord("offset")) {
      SLUICE_ASSIGN_OR_RETURN(query.offset, ParseCount("a non-negative integer after OFFSET"));
    }
    return query;
  }

  Result<SelectItem> ParseSelectItem() {
    SelectItem item;
    item.location = Peek().location;
    std::optional<Star> star;
    if (Accept(TokenKind::kStar)) {
      star = Star{};
    } else if (IsName(Peek())) {
      // qualifier.* : names joined by dots and ending in ".*"
      size_t ahead = 0;
      while (At(TokenKind::kDot, ahead + 1) && IsNameAfterDot(Peek(ahead + 2))) ahead += 2;
      if (At(TokenKind::kDot, ahead + 1) && At(TokenKind::kStar, ahead + 2)) {
        star = Star{};
        for (size_t i = 0; i <= ahead; i += 2) {
          const Token& token = Next();
          star->qualifier.push_back(Identifier{token.value, token.location});
          Next();  // the '.' before the next name or the '*'
        }
        Next();  // '*'
      }
    }
    if (star) {
      if (AtWord("as")) return ErrorAt(Peek().location, "'*' cannot have an alias");
      item.value = std::move(*star);
      return item;
    }
    SLUICE_ASSIGN_OR_RETURN(item.value, ParseFullExpr());
    SLUICE_ASSIGN_OR_RETURN(item.alias, ParseOptionalAlias());
    return item;
  }

  Result<OrderItem> ParseOrderItem() {
    OrderItem item;
    SLUICE_ASSIGN_OR_RETURN(item.expr, ParseFullExpr());
    if (AcceptWord("desc")) {
      item.descending = true;
    } else {
      AcceptWord("asc");
    }
    if (AcceptWord("nulls")) {
      if (AcceptWord("first")) {
        item.nulls = NullsOrder::kFirst;
      } else if (AcceptWord("last")) {
        item.nulls = NullsOrder::kLast;
      } else {
        return ErrorExpected("FIRST or LAST after NULLS");
      }
    }
    return item;
  }

  Result<int64_t> ParseCount(std::string_view what) {
    if (!At(TokenKind::kInteger)) return ErrorExpected(what);
    return IntegerValue(Next(), std::nullopt);
  }

  Result<FromClause> ParseFromClause() {
    SLUICE_ASSIGN_OR_RETURN(TableRef first, ParseTableRef());
    FromClause from{std::move(first), {}};
    for (;;) {
      JoinKind kind;
      if (AcceptWord("join")) {
        kind = JoinKind::kInner;
      } else if (AcceptWord("inner")) {
        kind = JoinKind::kInner;
        SLUICE_RETURN_IF_ERROR(ExpectWord("join", "JOIN after INNER"));
      } else if (AtWord("left") || AtWord("right") || AtWord("full")) {
        const Token& side = Next();
        kind = side.value == "left"    ? JoinKind::kLeft
               : side.value == "right" ? JoinKind::kRight
                                       : JoinKind::kFull;
        AcceptWord("outer");
        SLUICE_RETURN_IF_ERROR(ExpectWord("join", fmt::format("JOIN after {}", side.text)));
      } else if (At(TokenKind::kComma)) {
        return ErrorAt(Peek().location,
                       "a comma-separated FROM list is not supported; use JOIN ... ON");
      } else {
        return from;
      }
      SLUICE_ASSIGN_OR_RETURN(TableRef table, ParseTableRef());
      SLUICE_RETURN_IF_ERROR(ExpectWord("on", "ON and the join condition after the joined table"));
      SLUICE_ASSIGN_OR_RETURN(Expr condition, ParseFullExpr());
      from.joins.push_back(Join{kind, std::move(table), std::move(condition)});
    }
  }

  Result<TableRef> ParseTableRef() {
    TableRef ref;
    ref.location = Peek().location;
    if (At(TokenKind::kLeftParen)) {
      SLUICE_ASSIGN_OR_RETURN(Subquery subquery, ParseSubquery());
      SLUICE_ASSIGN_OR_RETURN(subquery.alias, ParseOptionalAlias());
      ref.node = std::move(subquery);
      return ref;
    }
    if ((AtWord("tumble") || AtWord("hop") || AtWord("session")) && At(TokenKind::kLeftParen, 1)) {
      SLUICE_ASSIGN_OR_RETURN(ref.node, ParseWindowTable());
      return ref;
    }
    NamedTable table;
    SLUICE_ASSIGN_OR_RETURN(table.name, ParsePath("a stream, table or view name"));
    if (AcceptWord("for")) {
      TimeTravel travel{TimeTravel::Kind::kSystemTime, Expr{}};
      if (AcceptWord("system_time")) {
        travel.kind = TimeTravel::Kind::kSystemTime;
      } else if (AcceptWord("version")) {
        travel.kind = TimeTravel::Kind::kVersion;
      } else {
        return ErrorExpected("SYSTEM_TIME or VERSION after FOR");
      }
      SLUICE_RETURN_IF_ERROR(ExpectWord("as", "AS OF"));
      SLUICE_RETURN_IF_ERROR(ExpectWord("of", "OF after AS"));
      SLUICE_ASSIGN_OR_RETURN(travel.at, ParseFullExpr());
      table.time_travel = std::move(travel);
    }
    SLUICE_ASSIGN_OR_RETURN(table.alias, ParseOptionalAlias());
    ref.node = std::move(table);
    return ref;
  }

  Result<Subquery> ParseSubquery() {
    SourceLocation opened = Next().location;
    SLUICE_ASSIGN_OR_RETURN(Query query, ParseQuery());
    SLUICE_RETURN_IF_ERROR(ExpectCloseParen(opened));
    return Subquery{std::move(query), std::nullopt};
  }

  // TUMBLE / HOP / SESSION ( input [PARTITION BY ...], time column, intervals... ) [[AS] alias]
  Result<WindowTable> ParseWindowTable() {
    const Token& function = Next();
    const bool session = function.value == "session";
    SourceLocation opened = Next().location;
    WindowTable window{NamedTable{}, {}, Tumble{Expr{}, std::nullopt}, std::nullopt};

    if (AcceptWord("table")) {
      SLUICE_ASSIGN_OR_RETURN(std::vector<Identifier> name,
                              ParsePath("a stream or view name after TABLE"));
      window.input = NamedTable{std::move(name), std::nullopt, std::nullopt};
    } else if (At(TokenKind::kLeftParen)) {
      SLUICE_ASSIGN_OR_RETURN(window.input, ParseSubquery());
    } else {
      SLUICE_ASSIGN_OR_RETURN(std::vector<Identifier> name,
                              ParsePath(fmt::format("the stream to window in {}", function.text)));
      window.input = NamedTable{std::move(name), std::nullopt, std::nullopt};
    }

    std::vector<Expr> keys;
    bool keys_partitioned = false;
    if (AtWord("partition")) {
      SourceLocation at = Next().location;
      SLUICE_RETURN_IF_ERROR(ExpectWord("by", "BY after PARTITION"));
      if (!session) return ErrorAt(at, "PARTITION BY is only allowed in SESSION windows");
      keys_partitioned = true;
      // PARTITION BY k, or PARTITION BY (k1, k2): a bare list would swallow the next argument.
      if (At(TokenKind::kLeftParen)) {
        SourceLocation keys_opened = Next().location;
        SLUICE_RETURN_IF_ERROR(ParseExprList(keys));
        SLUICE_RETURN_IF_ERROR(ExpectCloseParen(keys_opened));
      } else {
        SLUICE_ASSIGN_OR_RETURN(Expr key, ParseFullExpr());
        keys.push_back(std::move(key));
      }
    }

    SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kComma, "',' and the time column"));
    if (AtWord("descriptor") && At(TokenKind::kLeftParen, 1)) {
      Next();
      SourceLocation descriptor_opened = Next().location;
      SLUICE_ASSIGN_OR_RETURN(window.time_column, ParsePath("a time column in DESCRIPTOR"));
      SLUICE_RETURN_IF_ERROR(ExpectCloseParen(descriptor_opened));
    } else {
      SLUICE_ASSIGN_OR_RETURN(window.time_column, ParsePath("the time column"));
    }

    auto argument = [&](std::string_view what) -> Result<Expr> {
      SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kComma, fmt::format("',' and {}", what)));
      return ParseFullExpr();
    };
    if (function.value == "tumble") {
      Tumble tumble{Expr{}, std::nullopt};
      SLUICE_ASSIGN_OR_RETURN(tumble.size, argument("the window size"));
      if (Accept(TokenKind::kComma)) {
        SLUICE_ASSIGN_OR_RETURN(tumble.offset, ParseFullExpr());
      }
      window.window = std::move(tumble);
    } else if (function.value == "hop") {
      Hop hop{Expr{}, Expr{}, std::nullopt};
      SLUICE_ASSIGN_OR_RETURN(hop.slide, argument("the hop's slide"));
      SLUICE_ASSIGN_OR_RETURN(hop.size, argument("the window size"));
      if (Accept(TokenKind::kComma)) {
        SLUICE_ASSIGN_OR_RETURN(hop.offset, ParseFullExpr());
      }
      window.window = std::move(hop);
    } else {
      Session session_window{Expr{}, std::move(keys)};
      SLUICE_ASSIGN_OR_RETURN(session_window.gap, argument("the session gap"));
      while (At(TokenKind::kComma)) {
        if (keys_partitioned) {
          return ErrorAt(Peek().location,
                         "the session key is given by PARTITION BY already; no more arguments");
        }
        Next();
        SLUICE_ASSIGN_OR_RETURN(Expr key, ParseFullExpr());
        session_window.partition_by.push_back(std::move(key));
      }
      window.window = std::move(session_window);
    }
    SLUICE_RETURN_IF_ERROR(ExpectCloseParen(opened));
    SLUICE_ASSIGN_OR_RETURN(window.alias, ParseOptionalAlias());
    return window;
  }

  // ---- Expressions --------------------------------------------------------------------------

  Result<Expr> ParseFullExpr() {
    SLUICE_ASSIGN_OR_RETURN(ParsedExpr parsed, ParseExpr(precedence::kLowest));
    return std::move(parsed.expr);
  }

  Status ParseExprList(std::vector<Expr>& list) {
    do {
      SLUICE_ASSIGN_OR_RETURN(Expr expr, ParseFullExpr());
      list.push_back(std::move(expr));
    } while (Accept(TokenKind::kComma));
    return Status::Ok();
  }

  // Makes a node whose tallest child has height `child_height`.
  Result<ParsedExpr> Node(SourceLocation location, ExprNode node, int child_height) {
    if (child_height + 1 > kMaxNestingDepth) return TooDeep();
    return ParsedExpr{Expr{location, std::move(node)}, child_height + 1};
  }
  static ParsedExpr Leaf(SourceLocation location, ExprNode node) {
    return ParsedExpr{Expr{location, std::move(node)}, 1};
  }

  // The Pratt loop: a prefix expression, then operators binding at least as tightly as
  // `min_precedence`, each taking the expression so far as its left operand.
  Result<ParsedExpr> ParseExpr(int min_precedence) {
    DepthGuard guard(depth_);
    if (depth_ > kMaxNestingDepth) return TooDeep();
    SLUICE_ASSIGN_OR_RETURN(ParsedExpr left, ParsePrefix());
    for (;;) {
      std::optional<int> precedence = InfixPrecedence();
      if (!precedence || *precedence < min_precedence) return left;
      SLUICE_ASSIGN_OR_RETURN(left, ParseInfix(std::move(left), *precedence));
    }
  }

  // The precedence of the operator at the current token, if it continues an expression.
  std::optional<int> InfixPrecedence() const {
    const Token& token = Peek();
    switch (token.kind) {
      case TokenKind::kEq:
      case TokenKind::kNotEq:
      case TokenKind::kLt:
      case TokenKind::kLtEq:
      case TokenKind::kGt:
      case TokenKind::kGtEq:
        return precedence::kComparison;
      case TokenKind::kConcat:
        return precedence::kConcat;
      case TokenKind::kPlus:
      case TokenKind::kMinus:
        return precedence::kAdditive;
      case TokenKind::kStar:
      case TokenKind::kSlash:
      case TokenKind::kPercent:
        return precedence::kMultiplicative;
      case TokenKind::kDoubleColon:
        return precedence::kCast;
      case TokenKind::kLeftBracket:
      case TokenKind::kDot:
        return precedence::kPostfix;
      case TokenKind::kWord: {
        const std::string& word = token.value;
        if (word == "or") return precedence::kOr;
        if (word == "and") return precedence::kAnd;
        if (word == "is" || word == "in" || word == "like" || word == "ilike" ||
            word == "between") {
          return precedence::kComparison;
        }
        if (word == "not" &&
            (AtWord("in", 1) || AtWord("like", 1) || AtWord("ilike", 1) || AtWord("between", 1))) {
          return precedence::kComparison;
        }
        return std::nullopt;
      }
      default:
        return std::nullopt;
    }
  }

  Result<ParsedExpr> ParseInfix(ParsedExpr left, int precedence) {
    const Token& op = Next();
    const SourceLocation location = left.expr.location;
    if (std::optional<BinaryOperator> binary = BinaryOperatorFromToken(op)) {
      SLUICE_ASSIGN_OR_RETURN(ParsedExpr right, ParseExpr(precedence + 1));
      return Node(location, BinaryOp{*binary, std::move(left.expr), std::move(right.expr)},
                  std::max(left.height, right.height));
    }
    switch (op.kind) {
      case TokenKind::kDoubleColon: {
        SLUICE_ASSIGN_OR_RETURN(DataType type, ParseDataType());
        return Node(location, Cast{std::move(left.expr), type}, left.height);
      }
      case TokenKind::kLeftBracket: {
        SLUICE_ASSIGN_OR_RETURN(ParsedExpr index, ParseExpr(precedence::kLowest));
        SLUICE_RETURN_IF_ERROR(ExpectClosing(TokenKind::kRightBracket, "]", "[", op.location));
        return Node(location, Subscript{std::move(left.expr), std::move(index.expr)},
                    std::max(left.height, index.height));
      }
      case TokenKind::kDot: {
        if (!IsNameAfterDot(Peek())) return ErrorExpected("a field name after '.'");
        const Token& field = Next();
        return Node(location,
                    FieldAccess{std::move(left.expr), Identifier{field.value, field.location}},
                    left.height);
      }
      default:
        break;
    }
    // The word operators of the comparison level, possibly negated.
    bool negated = false;
    const Token* word = &op;
    if (op.value == "not") {
      negated = true;
      word = &Next();
    }
    if (word->value == "is") return ParseIsTail(std::move(left));
    if (word->value == "in") return ParseInTail(std::move(left), negated);
    if (word->value == "between") return ParseBetweenTail(std::move(left), negated);
    return ParseLikeTail(std::move(left), negated, word->value == "ilike");
  }

  Result<ParsedExpr> ParseIsTail(ParsedExpr left) {
    const SourceLocation location = left.expr.location;
    const bool negated = AcceptWord("not");
    std::optional<IsPredicate> predicate;
    if (AcceptWord("null")) {
      predicate = IsPredicate::kNull;
    } else if (AcceptWord("true")) {
      predicate = IsPredicate::kTrue;
    } else if (AcceptWord("false")) {
      predicate = IsPredicate::kFalse;
    } else if (AcceptWord("unknown")) {
      predicate = IsPredicate::kUnknown;
    }
    if (predicate) {
      return Node(location, IsTest{std::move(left.expr), *predicate, negated}, left.height);
    }
    if (!AcceptWord("distinct")) {
      return ErrorExpected(fmt::format("NULL, TRUE, FALSE, UNKNOWN or DISTINCT FROM after IS{}",
                                       negated ? " NOT" : ""));
    }
    SLUICE_RETURN_IF_ERROR(ExpectWord("from", "FROM after DISTINCT"));
    SLUICE_ASSIGN_OR_RETURN(ParsedExpr right, ParseExpr(precedence::kComparison + 1));
    BinaryOperator op =
        negated ? BinaryOperator::kIsNotDistinctFrom : BinaryOperator::kIsDistinctFrom;
    return Node(location, BinaryOp{op, std::move(left.expr), std::move(right.expr)},
                std::max(left.height, right.height));
  }

  Result<ParsedExpr> ParseInTail(ParsedExpr left, bool negated) {
    SourceLocation opened = Peek().location;
    SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kLeftParen, "'(' and a list of values after IN"));
    if (AtWord("select")) {
      return ErrorAt(Peek().location, "subqueries are not supported in IN; list the values");
    }
    InList in{std::move(left.expr), {}, negated};
    int height = left.height;
    do {
      SLUICE_ASSIGN_OR_RETURN(ParsedExpr value, ParseExpr(precedence::kLowest));
      height = std::max(height, value.height);
      in.list.push_back(std::move(value.expr));
    } while (Accept(TokenKind::kComma));
    SLUICE_RETURN_IF_ERROR(ExpectCloseParen(opened));
    SourceLocation location = in.operand->location;
    return Node(location, std::move(in), height);
  }

  Result<ParsedExpr> ParseBetweenTail(ParsedExpr left, bool negated) {
    // The bounds bind tighter than AND, so that `x BETWEEN a AND b AND c` is
    // `(x BETWEEN a AND b) AND c`.
    SLUICE_ASSIGN_OR_RETURN(ParsedExpr low, ParseExpr(precedence::kComparison + 1));
    SLUICE_RETURN_IF_ERROR(ExpectWord("and", "AND between the bounds of BETWEEN"));
    SLUICE_ASSIGN_OR_RETURN(ParsedExpr high, ParseExpr(precedence::kComparison + 1));
    const SourceLocation location = left.expr.location;
    int height = std::max({left.height, low.height, high.height});
    return Node(location,
                Between{std::move(left.expr), std::move(low.expr), std::move(high.expr), negated},
                height);
  }

  Result<ParsedExpr> ParseLikeTail(ParsedExpr left, bool negated, bool case_insensitive) {
    SLUICE_ASSIGN_OR_RETURN(ParsedExpr pattern, ParseExpr(precedence::kComparison + 1));
    const SourceLocation location = left.expr.location;
    Like like{std::move(left.expr), std::move(pattern.expr), std::nullopt, negated,
              case_insensitive};
    int height = std::max(left.height, pattern.height);
    if (AcceptWord("escape")) {
      SLUICE_ASSIGN_OR_RETURN(ParsedExpr escape, ParseExpr(precedence::kComparison + 1));
      height = std::max(height, escape.height);
      like.escape = std::move(escape.expr);
    }
    return Node(location, std::move(like), height);
  }

  Result<ParsedExpr> ParsePrefix() {
    const Token& token = Peek();
    switch (token.kind) {
      case TokenKind::kInteger: {
        SLUICE_ASSIGN_OR_RETURN(int64_t value, IntegerValue(Next(), std::nullopt));
        return Leaf(token.location, IntegerLiteral{value});
      }
      case TokenKind::kDecimal:
        Next();
        return Leaf(token.location, DecimalLiteral{token.value});
      case TokenKind::kString:
        Next();
        return Leaf(token.location, StringLiteral{token.value});
      case TokenKind::kMinus:
        return ParseNegation();
      case TokenKind::kPlus:
        Next();
        return ParseExpr(precedence::kUnary);
      case TokenKind::kLeftParen:
        return ParseParenthesized();
      case TokenKind::kQuotedIdentifier:
        return ParseNameOrCall();
      case TokenKind::kWord:
        return ParseWordPrefix();
      default:
        return ErrorExpected("an expression");
    }
  }

  // `-5` is one literal (the only way to write the smallest BIGINT), unless a tighter operator
  // follows the number: `-5::text` is -(5::text), as the precedence table says.
  Result<ParsedExpr> ParseNegation() {
    const SourceLocation location = Next().location;
    const Token& number = Peek();
    const bool literal = number.kind == TokenKind::kInteger || number.kind == TokenKind::kDecimal;
    if (literal && !At(TokenKind::kDoubleColon, 1) && !At(TokenKind::kLeftBracket, 1) &&
        !At(TokenKind::kDot, 1)) {
      Next();
      if (number.kind == TokenKind::kDecimal) {
        return Leaf(location, DecimalLiteral{"-" + number.value});
      }
      SLUICE_ASSIGN_OR_RETURN(int64_t value, IntegerValue(number, location));
      return Leaf(location, IntegerLiteral{value});
    }
    SLUICE_ASSIGN_OR_RETURN(ParsedExpr operand, ParseExpr(precedence::kUnary));
    return Node(location, UnaryOp{UnaryOperator::kNegate, std::move(operand.expr)}, operand.height);
  }

  // The value of an integer token; negated when `minus` (the location of its '-') is given.
  Result<int64_t> IntegerValue(const Token& token, std::optional<SourceLocation> minus) {
    uint64_t magnitude = 0;
    const std::string& digits = token.value;
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude);
    const uint64_t limit = uint64_t{std::numeric_limits<int64_t>::max()} + (minus ? 1 : 0);
    if (error != std::errc() || end != digits.data() + digits.size() || magnitude > limit) {
      return ErrorAt(minus.value_or(token.location),
                     fmt::format("integer {}{} is out of range for BIGINT ({} to {})",
                                 minus ? "-" : "", digits, std::numeric_limits<int64_t>::min(),
                                 std::numeric_limits<int64_t>::max()));
    }
    if (!minus) return static_cast<int64_t>(magnitude);
    return magnitude == limit ? std::numeric_limits<int64_t>::min()
                              : -static_cast<int64_t>(magnitude);
  }

  Result<ParsedExpr> ParseParenthesized() {
    const SourceLocation opened = Next().location;
    if (AtWord("select")) {
      return ErrorAt(Peek().location, "subqueries are only supported in FROM");
    }
    SLUICE_ASSIGN_OR_RETURN(ParsedExpr inner, ParseExpr(precedence::kLowest));
    SLUICE_RETURN_IF_ERROR(ExpectCloseParen(opened));
    return inner;
  }

  Result<ParsedExpr> ParseWordPrefix() {
    const Token& token = Peek();
    const std::string& word = token.value;
    if (word == "null") {
      Next();
      return Leaf(token.location, NullLiteral{});
    }
    if (word == "true" || word == "false") {
      Next();
      return Leaf(token.location, BooleanLiteral{word == "true"});
    }
    if (word == "not") {
      Next();
      SLUICE_ASSIGN_OR_RETURN(ParsedExpr operand, ParseExpr(precedence::kNot + 1));
      return Node(token.location, UnaryOp{UnaryOperator::kNot, std::move(operand.expr)},
                  operand.height);
    }
    if (word == "case") return ParseCase();
    if (word == "cast") return ParseCast();
    if (word == "extract") return ParseExtract();
    // TIMESTAMP, DATE and INTERVAL are not reserved: they start a literal only when a string
    // follows, so that columns may still be called `timestamp` or `date`.
    if ((word == "timestamp" || word == "date") && At(TokenKind::kString, 1)) {
      Next();
      const Token& value = Next();
      TypeKind type = word == "timestamp" ? TypeKind::kTimestamp : TypeKind::kDate;
      return Leaf(token.location, TypedLiteral{type, value.value});
    }
    if (word == "interval" && (At(TokenKind::kString, 1) || At(TokenKind::kInteger, 1))) {
      return ParseInterval();
    }
    if (IsReservedWord(word)) return ErrorExpectedName("an expression");
    return ParseNameOrCall();
  }

  // A column path `a.b.c`, or a function call `name(...)`.
  Result<ParsedExpr> ParseNameOrCall() {
    const Token& first = Next();
    if (At(TokenKind::kLeftParen)) return ParseCall(first);
    ColumnRef ref;
    ref.path.push_back(Identifier{first.value, first.location});
    while (At(TokenKind::kDot) && IsNameAfterDot(Peek(1))) {
      Next();
      const Token& name = Next();
      ref.path.push_back(Identifier{name.value, name.location});
    }
    if (At(TokenKind::kLeftParen)) {
      return ErrorAt(first.location, "function names cannot be qualified");
    }
    return Leaf(first.location, std::move(ref));
  }

  Result<ParsedExpr> ParseCall(const Token& name) {
    const SourceLocation opened = Next().location;
    FunctionCall call;
    call.name = name.value;
    int height = 0;
    if (Accept(TokenKind::kStar)) {
      call.star = true;
    } else if (!At(TokenKind::kRightParen)) {
      call.distinct = AcceptWord("distinct");
      do {
        SLUICE_ASSIGN_OR_RETURN(ParsedExpr arg, ParseExpr(precedence::kLowest));
        height = std::max(height, arg.height);
        call.args.push_back(std::move(arg.expr));
      } while (Accept(TokenKind::kComma));
    }
    SLUICE_RETURN_IF_ERROR(ExpectCloseParen(opened));
    // FILTER is not reserved: it is a filter clause only when '(' follows.
    if (AtWord("filter") && At(TokenKind::kLeftParen, 1)) {
      Next();
      const SourceLocation filter_opened = Next().location;
      SLUICE_RETURN_IF_ERROR(ExpectWord("where", "WHERE after FILTER ("));
      SLUICE_ASSIGN_OR_RETURN(ParsedExpr filter, ParseExpr(precedence::kLowest));
      SLUICE_RETURN_IF_ERROR(ExpectCloseParen(filter_opened));
      height = std::max(height, filter.height);
      call.filter = std::move(filter.expr);
    }
    return Node(name.location, std::move(call), height);
  }

  Result<ParsedExpr> ParseCase() {
    const SourceLocation location = Next().location;
    Case node;
    int height = 0;
    auto sub = [&]() -> Result<Expr> {
      SLUICE_ASSIGN_OR_RETURN(ParsedExpr parsed, ParseExpr(precedence::kLowest));
      height = std::max(height, parsed.height);
      return std::move(parsed.expr);
    };
    if (!AtWord("when")) {
      SLUICE_ASSIGN_OR_RETURN(Expr operand, sub());
      node.operand = std::move(operand);
    }
    if (!AtWord("when")) return ErrorExpected("WHEN");
    while (AcceptWord("when")) {
      SLUICE_ASSIGN_OR_RETURN(Expr condition, sub());
      SLUICE_RETURN_IF_ERROR(ExpectWord("then", "THEN after the WHEN condition"));
      SLUICE_ASSIGN_OR_RETURN(Expr result, sub());
      node.whens.push_back(WhenClause{std::move(condition), std::move(result)});
    }
    if (AcceptWord("else")) {
      SLUICE_ASSIGN_OR_RETURN(Expr else_result, sub());
      node.else_result = std::move(else_result);
    }
    std::string what = node.else_result ? "END" : "WHEN, ELSE or END";
    SLUICE_RETURN_IF_ERROR(ExpectWord(
        "end", fmt::format("{} to close the CASE opened at {}", what, ToString(location))));
    return Node(location, std::move(node), height);
  }

  Result<ParsedExpr> ParseCast() {
    const SourceLocation location = Next().location;
    const SourceLocation opened = Peek().location;
    SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kLeftParen, "'(' after CAST"));
    SLUICE_ASSIGN_OR_RETURN(ParsedExpr operand, ParseExpr(precedence::kLowest));
    SLUICE_RETURN_IF_ERROR(ExpectWord("as", "AS and a type in CAST"));
    SLUICE_ASSIGN_OR_RETURN(DataType type, ParseDataType());
    SLUICE_RETURN_IF_ERROR(ExpectCloseParen(opened));
    return Node(location, Cast{std::move(operand.expr), type}, operand.height);
  }

  Result<ParsedExpr> ParseExtract() {
    const SourceLocation location = Next().location;
    const SourceLocation opened = Peek().location;
    SLUICE_RETURN_IF_ERROR(Expect(TokenKind::kLeftParen, "'(' after EXTRACT"));
    if (!At(TokenKind::kWord)) {
      return ErrorExpected(
          "a field to extract (YEAR, MONTH, DAY, HOUR, MINUTE, SECOND, EPOCH, ...)");
    }
    std::string field = Next().value;
    SLUICE_RETURN_IF_ERROR(ExpectWord("from", "FROM after the field in EXTRACT"));
    SLUICE_ASSIGN_OR_RETURN(ParsedExpr operand, ParseExpr(precedence::kLowest));
    SLUICE_RETURN_IF_ERROR(ExpectCloseParen(opened));
    return Node(location, Extract{std::move(field), std::move(operand.expr)}, operand.height);
  }

  // INTERVAL '5' MINUTE, INTERVAL 5 MINUTE, INTERVAL '5 minutes', INTERVAL '1:30' HOUR TO MINUTE
  Result<ParsedExpr> ParseInterval() {
    const SourceLocation location = Next().location;
    const Token& value = Next();
    IntervalLiteral interval{value.value, std::nullopt, std::nullopt};
    if (At(TokenKind::kWord)) interval.unit = IntervalUnitFromWord(Peek().value);
    if (interval.unit) {
      Next();
      if (AtWord("to")) {
        Next();
        const Token& to = Peek();
        interval.to_unit =
            to.kind == TokenKind::kWord ? IntervalUnitFromWord(to.value) : std::nullopt;
        if (!interval.to_unit) {
          return ErrorExpected("an interval unit (MONTH, DAY, HOUR, MINUTE or SECOND) after TO");
        }
        if (*interval.to_unit <= *interval.unit) {
          return ErrorAt(
              to.location,
              fmt::format("{} TO {}: the second unit must be smaller than the first",
                          IntervalUnitName(*interval.unit), IntervalUnitName(*interval.to_unit)));
        }
        Next();
      }
    } else if (value.kind == TokenKind::kInteger) {
      return ErrorExpected(fmt::format(
          "a unit (YEAR, MONTH, DAY, HOUR, MINUTE or SECOND) after INTERVAL {}", value.text));
    }
    return Leaf(location, std::move(interval));
  }

  // ---- Types --------------------------------------------------------------------------------

  Result<DataType> ParseDataType() {
    if (!At(TokenKind::kWord)) return ErrorExpected("a data type");
    const Token& name = Next();
    const std::string& word = name.value;
    DataType type;
    if (word == "boolean" || word == "bool") {
      type.kind = TypeKind::kBoolean;
    } else if (word == "int" || word == "integer" || word == "int4") {
      type.kind = TypeKind::kInt;
    } else if (word == "bigint" || word == "int8") {
      type.kind = TypeKind::kBigint;
    } else if (word == "real" || word == "float4") {
      type.kind = TypeKind::kReal;
    } else if (word == "double" || word == "float" || word == "float8") {
      if (word == "double") AcceptWord("precision");
      type.kind = TypeKind::kDouble;
    } else if (word == "decimal" || word == "numeric") {
      type.kind = TypeKind::kDecimal;
      if (At(TokenKind::kLeftParen)) {
        const SourceLocation opened = Next().location;
        SLUICE_ASSIGN_OR_RETURN(type.precision, ParseTypeParameter("DECIMAL precision", 1, 38));
        if (Accept(TokenKind::kComma)) {
          SLUICE_ASSIGN_OR_RETURN(type.scale,
                                  ParseTypeParameter("DECIMAL scale", 0, *type.precision));
        }
        SLUICE_RETURN_IF_ERROR(ExpectCloseParen(opened));
      }
    } else if (word == "varchar" || word == "text" || word == "string") {
      type.kind = TypeKind::kVarchar;
      if (word == "varchar" && At(TokenKind::kLeftParen)) {
        const SourceLocation opened = Next().location;
        SLUICE_ASSIGN_OR_RETURN(
            type.length,
            ParseTypeParameter("VARCHAR length", 1, std::numeric_limits<int32_t>::max()));
        SLUICE_RETURN_IF_ERROR(ExpectCloseParen(opened));
      }
    } else if (word == "timestamp") {
      type.kind = TypeKind::kTimestamp;
      if ((AtWord("with") || AtWord("without")) && AtWord("time", 1) && AtWord("zone", 2)) {
        if (Next().value == "with") type.kind = TypeKind::kTimestamptz;
        Next();
        Next();
      }
    } else if (word == "timestamptz") {
      type.kind = TypeKind::kTimestamptz;
    } else if (word == "date") {
      type.kind = TypeKind::kDate;
    } else if (word == "interval") {
      type.kind = TypeKind::kInterval;
    } else if (word == "json") {
      type.kind = TypeKind::kJson;
    } else if (word == "jsonb") {
      type.kind = TypeKind::kJsonb;
    } else {
      return ErrorAt(name.location,
                     fmt::format("unknown data type '{}' (expected BOOLEAN, INT, BIGINT, REAL, "
                                 "DOUBLE, DECIMAL, VARCHAR, TIMESTAMP, TIMESTAMPTZ, DATE, "
                                 "INTERVAL, JSON or JSONB)",
                                 name.text));
    }
    return type;
  }

  Result<int32_t> ParseTypeParameter(std::string_view what, int32_t min, int32_t max) {
    if (!At(TokenKind::kInteger)) return ErrorExpected(fmt::format("the {}", what));
    const Token& token = Next();
    int64_t value = 0;
    auto [end, error] =
        std::from_chars(token.value.data(), token.value.data() + token.value.size(), value);
    if (error != std::errc() || end != token.value.data() + token.value.size() || value < min ||
        value > max) {
      return ErrorAt(token.location, fmt::format("the {} must be between {} and {}, not {}", what,
                                                 min, max, token.text));
    }
    return static_cast<int32_t>(value);
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Result<std::vector<Statement>> Parse(std::string_view sql) {
  SLUICE_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(sql));
  return Parser(std::move(tokens)).ParseStatements();
}

Result<Expr> ParseExpression(std::string_view sql) {
  SLUICE_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(sql));
  return Parser(std::move(tokens)).ParseOnlyExpression();
}

}  // namespace sluice::sql
