#include "sql/ast.h"

#include <fmt/format.h>

namespace sluice::sql {

std::string ToString(SourceLocation location) {
  return fmt::format("line {}, column {}", location.line, location.column);
}

Status ErrorAt(SourceLocation location, std::string_view message) {
  return Status::InvalidArgument(fmt::format("{}: {}", ToString(location), message));
}

std::string_view TypeKindName(TypeKind kind) {
  switch (kind) {
    case TypeKind::kBoolean:
      return "BOOLEAN";
    case TypeKind::kInt:
      return "INT";
    case TypeKind::kBigint:
      return "BIGINT";
    case TypeKind::kReal:
      return "REAL";
    case TypeKind::kDouble:
      return "DOUBLE";
    case TypeKind::kDecimal:
      return "DECIMAL";
    case TypeKind::kVarchar:
      return "VARCHAR";
    case TypeKind::kTimestamp:
      return "TIMESTAMP";
    case TypeKind::kTimestamptz:
      return "TIMESTAMPTZ";
    case TypeKind::kDate:
      return "DATE";
    case TypeKind::kInterval:
      return "INTERVAL";
    case TypeKind::kJson:
      return "JSON";
    case TypeKind::kJsonb:
      return "JSONB";
  }
  return "?";
}

std::string_view IntervalUnitName(IntervalUnit unit) {
  switch (unit) {
    case IntervalUnit::kYear:
      return "YEAR";
    case IntervalUnit::kMonth:
      return "MONTH";
    case IntervalUnit::kDay:
      return "DAY";
    case IntervalUnit::kHour:
      return "HOUR";
    case IntervalUnit::kMinute:
      return "MINUTE";
    case IntervalUnit::kSecond:
      return "SECOND";
  }
  return "?";
}

std::string_view BinaryOperatorName(BinaryOperator op) {
  switch (op) {
    case BinaryOperator::kOr:
      return "OR";
    case BinaryOperator::kAnd:
      return "AND";
    case BinaryOperator::kEq:
      return "=";
    case BinaryOperator::kNotEq:
      return "<>";
    case BinaryOperator::kLt:
      return "<";
    case BinaryOperator::kLtEq:
      return "<=";
    case BinaryOperator::kGt:
      return ">";
    case BinaryOperator::kGtEq:
      return ">=";
    case BinaryOperator::kIsDistinctFrom:
      return "IS DISTINCT FROM";
    case BinaryOperator::kIsNotDistinctFrom:
      return "IS NOT DISTINCT FROM";
    case BinaryOperator::kConcat:
      return "||";
    case BinaryOperator::kAdd:
      return "+";
    case BinaryOperator::kSub:
      return "-";
    case BinaryOperator::kMul:
      return "*";
    case BinaryOperator::kDiv:
      return "/";
    case BinaryOperator::kMod:
      return "%";
  }
  return "?";
}

}  // namespace sluice::sql
