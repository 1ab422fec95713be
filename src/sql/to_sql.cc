// ToSql(): the canonical printer. The one property that matters is that its output re-parses to
// an equal tree; every parenthesis rule below exists for that (fuzz/sql_parse_fuzz.cc checks it
// on arbitrary input).
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "sql/ast.h"
#include "sql/lexer.h"
#include "sql/precedence.h"

namespace sluice::sql {
namespace {

template <typename... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <typename... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

bool IsNumberLiteral(const Expr& expr) {
  return std::holds_alternative<IntegerLiteral>(expr.node) ||
         std::holds_alternative<DecimalLiteral>(expr.node);
}

int BinaryPrecedence(BinaryOperator op) {
  switch (op) {
    case BinaryOperator::kOr:
      return precedence::kOr;
    case BinaryOperator::kAnd:
      return precedence::kAnd;
    case BinaryOperator::kConcat:
      return precedence::kConcat;
    case BinaryOperator::kAdd:
    case BinaryOperator::kSub:
      return precedence::kAdditive;
    case BinaryOperator::kMul:
    case BinaryOperator::kDiv:
    case BinaryOperator::kMod:
      return precedence::kMultiplicative;
    default:
      return precedence::kComparison;  // = <> < <= > >= IS [NOT] DISTINCT FROM
  }
}

// How tightly the printed form of `expr` binds, to decide whether a parent needs parentheses.
int PrecedenceOf(const Expr& expr) {
  return std::visit(
      Overloaded{
          [](const IntegerLiteral& literal) {
            return literal.value < 0 ? precedence::kUnary : precedence::kPrimary;
          },
          [](const DecimalLiteral& literal) {
            return literal.text.starts_with('-') ? precedence::kUnary : precedence::kPrimary;
          },
          [](const UnaryOp& unary) {
            return unary.op == UnaryOperator::kNot ? precedence::kNot : precedence::kUnary;
          },
          [](const BinaryOp& binary) { return BinaryPrecedence(binary.op); },
          [](const IsTest&) { return precedence::kComparison; },
          [](const InList&) { return precedence::kComparison; },
          [](const Between&) { return precedence::kComparison; },
          [](const Like&) { return precedence::kComparison; },
          [](const FieldAccess&) { return precedence::kPostfix; },
          [](const Subscript&) { return precedence::kPostfix; },
          // Everything else prints as a self-delimiting primary; casts print as CAST(x AS t).
          [](const auto&) { return precedence::kPrimary; },
      },
      expr.node);
}

void AppendQuoted(std::string& out, std::string_view text, char quote) {
  out += quote;
  for (char c : text) {
    out += c;
    if (c == quote) out += quote;
  }
  out += quote;
}

class Printer {
 public:
  explicit Printer(Parentheses parentheses) : all_(parentheses == Parentheses::kAll) {}

  std::string Take() { return std::move(out_); }

  void Print(const Statement& statement) {
    std::visit([&](const auto& node) { PrintStatement(node); }, statement.node);
  }

  void Print(const Query& query) {
    out_ += "SELECT ";
    if (query.distinct) out_ += "DISTINCT ";
    List(query.select_list, [&](const SelectItem& item) { Print(item); });
    if (query.from) {
      out_ += " FROM ";
      Print(query.from->first);
      for (const Join& join : query.from->joins) {
        switch (join.kind) {
          case JoinKind::kInner:
            out_ += " JOIN ";
            break;
          case JoinKind::kLeft:
            out_ += " LEFT JOIN ";
            break;
          case JoinKind::kRight:
            out_ += " RIGHT JOIN ";
            break;
          case JoinKind::kFull:
            out_ += " FULL JOIN ";
            break;
        }
        Print(join.table);
        out_ += " ON ";
        Print(join.condition);
      }
    }
    if (query.where) {
      out_ += " WHERE ";
      Print(*query.where);
    }
    if (!query.group_by.empty()) {
      out_ += " GROUP BY ";
      List(query.group_by, [&](const Expr& expr) { Print(expr); });
    }
    if (query.having) {
      out_ += " HAVING ";
      Print(*query.having);
    }
    if (!query.order_by.empty()) {
      out_ += " ORDER BY ";
      List(query.order_by, [&](const OrderItem& item) {
        Print(item.expr);
        if (item.descending) out_ += " DESC";
        if (item.nulls == NullsOrder::kFirst) out_ += " NULLS FIRST";
        if (item.nulls == NullsOrder::kLast) out_ += " NULLS LAST";
      });
    }
    if (query.limit) out_ += fmt::format(" LIMIT {}", *query.limit);
    if (query.offset) out_ += fmt::format(" OFFSET {}", *query.offset);
  }

  // Prints `expr` as an operand that must bind at least as tightly as `min_precedence`.
  void Print(const Expr& expr, int min_precedence = precedence::kLowest) {
    const int own = PrecedenceOf(expr);
    const bool parenthesize = all_ ? own < precedence::kPrimary : own < min_precedence;
    if (parenthesize) out_ += '(';
    std::visit([&](const auto& node) { PrintNode(node); }, expr.node);
    if (parenthesize) out_ += ')';
  }

  void Print(const DataType& type) {
    out_ += TypeKindName(type.kind);
    if (type.precision) {
      out_ += fmt::format("({}", *type.precision);
      if (type.scale) out_ += fmt::format(", {}", *type.scale);
      out_ += ')';
    }
    if (type.length) out_ += fmt::format("({})", *type.length);
  }

 private:
  template <typename T, typename F>
  void List(const std::vector<T>& items, F&& print_one) {
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out_ += ", ";
      print_one(items[i]);
    }
  }

  void Name(std::string_view name) { out_ += QuoteIdentifier(name); }
  void DottedPath(const std::vector<Identifier>& path) {
    for (size_t i = 0; i < path.size(); ++i) {
      if (i > 0) out_ += '.';
      Name(path[i].name);
    }
  }
  void Alias(const std::optional<Identifier>& alias) {
    if (!alias) return;
    out_ += " AS ";
    Name(alias->name);
  }

  // ---- Statements

  void PrintStatement(const Query& query) { Print(query); }

  void PrintStatement(const CreateStream& create) {
    out_ += "CREATE STREAM ";
    if (create.if_not_exists) out_ += "IF NOT EXISTS ";
    Name(create.name.name);
    if (!create.columns.empty()) {
      out_ += " (";
      Columns(create.columns);
      out_ += ')';
    }
    Options(create.options);
  }

  void PrintStatement(const CreateTable& create) {
    out_ += "CREATE TABLE ";
    if (create.if_not_exists) out_ += "IF NOT EXISTS ";
    Name(create.name.name);
    out_ += " (";
    Columns(create.columns);
    if (!create.primary_key.empty()) {
      out_ += ", PRIMARY KEY (";
      List(create.primary_key, [&](const Identifier& key) { Name(key.name); });
      out_ += ')';
    }
    out_ += ')';
    Options(create.options);
  }

  void PrintStatement(const CreateMaterializedView& create) {
    out_ += "CREATE MATERIALIZED VIEW ";
    if (create.if_not_exists) out_ += "IF NOT EXISTS ";
    Name(create.name.name);
    Options(create.options);
    out_ += " AS ";
    Print(create.query);
  }

  void PrintStatement(const CreateAlert& create) {
    out_ += "CREATE ALERT ";
    if (create.if_not_exists) out_ += "IF NOT EXISTS ";
    Name(create.name.name);
    out_ += " ON ";
    Name(create.view.name);
    Options(create.options);
  }

  void PrintStatement(const Drop& drop) {
    out_ += "DROP ";
    switch (drop.kind) {
      case ObjectKind::kStream:
        out_ += "STREAM ";
        break;
      case ObjectKind::kTable:
        out_ += "TABLE ";
        break;
      case ObjectKind::kView:
        out_ += "VIEW ";
        break;
      case ObjectKind::kMaterializedView:
        out_ += "MATERIALIZED VIEW ";
        break;
      case ObjectKind::kAlert:
        out_ += "ALERT ";
        break;
    }
    if (drop.if_exists) out_ += "IF EXISTS ";
    Name(drop.name.name);
  }

  void PrintStatement(const Show& show) {
    switch (show.kind) {
      case ObjectKind::kStream:
        out_ += "SHOW STREAMS";
        break;
      case ObjectKind::kTable:
        out_ += "SHOW TABLES";
        break;
      case ObjectKind::kView:
        out_ += "SHOW VIEWS";
        break;
      case ObjectKind::kMaterializedView:
        out_ += "SHOW MATERIALIZED VIEWS";
        break;
      case ObjectKind::kAlert:
        out_ += "SHOW ALERTS";
        break;
    }
  }

  void PrintStatement(const Describe& describe) {
    out_ += "DESCRIBE ";
    Name(describe.name.name);
  }

  void Columns(const std::vector<ColumnDef>& columns) {
    List(columns, [&](const ColumnDef& column) {
      Name(column.name.name);
      out_ += ' ';
      Print(column.type);
    });
  }

  void Options(const std::vector<Option>& options) {
    if (options.empty()) return;
    out_ += " WITH (";
    List(options, [&](const Option& option) {
      Name(option.key.name);
      out_ += " = ";
      Print(option.value);
    });
    out_ += ')';
  }

  // ---- FROM

  void Print(const SelectItem& item) {
    if (const Star* star = std::get_if<Star>(&item.value)) {
      for (const Identifier& part : star->qualifier) {
        Name(part.name);
        out_ += '.';
      }
      out_ += '*';
      return;
    }
    Print(std::get<Expr>(item.value));
    Alias(item.alias);
  }

  void Print(const TableRef& ref) {
    std::visit([&](const auto& node) { PrintTable(node); }, ref.node);
  }

  void PrintTable(const NamedTable& table) {
    DottedPath(table.name);
    if (table.time_travel) {
      out_ += table.time_travel->kind == TimeTravel::Kind::kSystemTime ? " FOR SYSTEM_TIME AS OF "
                                                                       : " FOR VERSION AS OF ";
      Print(table.time_travel->at);
    }
    Alias(table.alias);
  }

  void PrintTable(const Subquery& subquery) {
    out_ += '(';
    Print(*subquery.query);
    out_ += ')';
    Alias(subquery.alias);
  }

  void PrintTable(const WindowTable& window) {
    std::visit(
        Overloaded{[&](const Tumble&) { out_ += "TUMBLE("; }, [&](const Hop&) { out_ += "HOP("; },
                   [&](const Session&) { out_ += "SESSION("; }},
        window.window);
    std::visit(Overloaded{[&](const NamedTable& table) { DottedPath(table.name); },
                          [&](const Subquery& subquery) {
                            out_ += '(';
                            Print(*subquery.query);
                            out_ += ')';
                          }},
               window.input);
    out_ += ", ";
    DottedPath(window.time_column);
    auto argument = [&](const Expr& expr) {
      out_ += ", ";
      Print(expr);
    };
    std::visit(Overloaded{[&](const Tumble& tumble) {
                            argument(tumble.size);
                            if (tumble.offset) argument(*tumble.offset);
                          },
                          [&](const Hop& hop) {
                            argument(hop.slide);
                            argument(hop.size);
                            if (hop.offset) argument(*hop.offset);
                          },
                          [&](const Session& session) {
                            argument(session.gap);
                            for (const Expr& key : session.partition_by) argument(key);
                          }},
               window.window);
    out_ += ')';
    Alias(window.alias);
  }

  // ---- Expressions

  void PrintNode(const NullLiteral&) { out_ += "NULL"; }
  void PrintNode(const BooleanLiteral& literal) { out_ += literal.value ? "TRUE" : "FALSE"; }
  void PrintNode(const IntegerLiteral& literal) { out_ += std::to_string(literal.value); }
  void PrintNode(const DecimalLiteral& literal) { out_ += literal.text; }
  void PrintNode(const StringLiteral& literal) { AppendQuoted(out_, literal.value, '\''); }

  void PrintNode(const TypedLiteral& literal) {
    out_ += TypeKindName(literal.type);
    out_ += ' ';
    AppendQuoted(out_, literal.value, '\'');
  }

  void PrintNode(const IntervalLiteral& literal) {
    out_ += "INTERVAL ";
    AppendQuoted(out_, literal.value, '\'');
    if (literal.unit) {
      out_ += ' ';
      out_ += IntervalUnitName(*literal.unit);
    }
    if (literal.to_unit) {
      out_ += " TO ";
      out_ += IntervalUnitName(*literal.to_unit);
    }
  }

  void PrintNode(const ColumnRef& ref) { DottedPath(ref.path); }

  // A number base gets parentheses because `5.x` would lex as the number "5." followed by x, and
  // a plain name before a field because `(a).b` would otherwise re-parse as the path `a.b`.
  void PostfixBase(const Expr& base, bool before_field) {
    if (IsNumberLiteral(base) || (before_field && std::holds_alternative<ColumnRef>(base.node))) {
      out_ += '(';
      Print(base);
      out_ += ')';
    } else {
      Print(base, precedence::kPostfix);
    }
  }

  void PrintNode(const FieldAccess& access) {
    PostfixBase(*access.base, /*before_field=*/true);
    out_ += '.';
    Name(access.field.name);
  }

  void PrintNode(const Subscript& subscript) {
    PostfixBase(*subscript.base, /*before_field=*/false);
    out_ += '[';
    Print(*subscript.index);
    out_ += ']';
  }

  void PrintNode(const UnaryOp& unary) {
    if (unary.op == UnaryOperator::kNot) {
      out_ += "NOT ";
      Print(*unary.operand, precedence::kNot + 1);
      return;
    }
    // "-5" would re-parse as one literal, and "--x" as a comment.
    out_ += '-';
    const Expr& operand = *unary.operand;
    if (IsNumberLiteral(operand) || std::holds_alternative<UnaryOp>(operand.node)) {
      out_ += '(';
      Print(operand);
      out_ += ')';
    } else {
      Print(operand, precedence::kUnary);
    }
  }

  void PrintNode(const BinaryOp& binary) {
    const int own = BinaryPrecedence(binary.op);
    Print(*binary.left, own);
    out_ += ' ';
    out_ += BinaryOperatorName(binary.op);
    out_ += ' ';
    Print(*binary.right, own + 1);
  }

  void PrintNode(const IsTest& test) {
    Print(*test.operand, precedence::kComparison);
    out_ += test.negated ? " IS NOT " : " IS ";
    switch (test.predicate) {
      case IsPredicate::kNull:
        out_ += "NULL";
        break;
      case IsPredicate::kTrue:
        out_ += "TRUE";
        break;
      case IsPredicate::kFalse:
        out_ += "FALSE";
        break;
      case IsPredicate::kUnknown:
        out_ += "UNKNOWN";
        break;
    }
  }

  void PrintNode(const InList& in) {
    Print(*in.operand, precedence::kComparison);
    out_ += in.negated ? " NOT IN (" : " IN (";
    List(in.list, [&](const Expr& value) { Print(value); });
    out_ += ')';
  }

  void PrintNode(const Between& between) {
    Print(*between.operand, precedence::kComparison);
    out_ += between.negated ? " NOT BETWEEN " : " BETWEEN ";
    Print(*between.low, precedence::kComparison + 1);
    out_ += " AND ";
    Print(*between.high, precedence::kComparison + 1);
  }

  void PrintNode(const Like& like) {
    Print(*like.operand, precedence::kComparison);
    out_ += like.negated ? " NOT " : " ";
    out_ += like.case_insensitive ? "ILIKE " : "LIKE ";
    Print(*like.pattern, precedence::kComparison + 1);
    if (like.escape) {
      out_ += " ESCAPE ";
      Print(**like.escape, precedence::kComparison + 1);
    }
  }

  void PrintNode(const Case& node) {
    out_ += "CASE";
    if (node.operand) {
      out_ += ' ';
      Print(**node.operand);
    }
    for (const WhenClause& when : node.whens) {
      out_ += " WHEN ";
      Print(*when.condition);
      out_ += " THEN ";
      Print(*when.result);
    }
    if (node.else_result) {
      out_ += " ELSE ";
      Print(**node.else_result);
    }
    out_ += " END";
  }

  void PrintNode(const Cast& cast) {
    out_ += "CAST(";
    Print(*cast.operand);
    out_ += " AS ";
    Print(cast.type);
    out_ += ')';
  }

  void PrintNode(const Extract& extract) {
    out_ += "EXTRACT(";
    for (char c : extract.field) out_ += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
    out_ += " FROM ";
    Print(*extract.operand);
    out_ += ')';
  }

  void PrintNode(const FunctionCall& call) {
    Name(call.name);
    out_ += '(';
    if (call.star) out_ += '*';
    if (call.distinct) out_ += "DISTINCT ";
    List(call.args, [&](const Expr& arg) { Print(arg); });
    out_ += ')';
    if (call.filter) {
      out_ += " FILTER (WHERE ";
      Print(**call.filter);
      out_ += ')';
    }
  }

  bool all_;
  std::string out_;
};

}  // namespace

std::string QuoteIdentifier(std::string_view name) {
  bool bare = !name.empty() && !(name[0] >= '0' && name[0] <= '9');
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) bare = false;
  }
  if (bare && !IsReservedWord(name)) return std::string(name);
  std::string quoted;
  AppendQuoted(quoted, name, '"');
  return quoted;
}

std::string ToSql(const Statement& statement, Parentheses parentheses) {
  Printer printer(parentheses);
  printer.Print(statement);
  return printer.Take();
}

std::string ToSql(const Query& query, Parentheses parentheses) {
  Printer printer(parentheses);
  printer.Print(query);
  return printer.Take();
}

std::string ToSql(const Expr& expr, Parentheses parentheses) {
  Printer printer(parentheses);
  printer.Print(expr);
  return printer.Take();
}

std::string ToSql(const DataType& type) {
  Printer printer(Parentheses::kMinimal);
  printer.Print(type);
  return printer.Take();
}

}  // namespace sluice::sql
