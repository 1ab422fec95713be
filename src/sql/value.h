// Values and types of Sluice SQL expressions (see docs/sql.md, "Expressions: types, semantics,
// functions").
//
// What callers may rely on:
//
// * A Value is a 16-byte trivially copyable POD: a type tag, and either a scalar payload or a
//   (pointer, size) view of text. Copying a Value never allocates and never copies text. It is
//   returned in registers on x86-64, which is what keeps the evaluator's nodes cheap.
// * Text (VARCHAR, JSON) is not owned by the Value. It views the event record, a simdjson buffer
//   of the extractor, the constant pool of a compiled expression, or the Arena of an
//   EvalContext. expr.h and event_fields.h say how long each kind stays valid.
// * Text of a JSON value is always followed by at least kJsonPadding readable bytes, so that it
//   can be re-read with simdjson on-demand in place (lines[n] with a run-time n, (x).field on a
//   computed JSON value).
// * Representations: BOOLEAN a bool; BIGINT an int64 (overflow is an error, never a wrap);
//   DOUBLE an IEEE double; TIMESTAMP microseconds since 1970-01-01 UTC (there is one time zone,
//   UTC: TIMESTAMP WITH TIME ZONE means the same); DATE days since 1970-01-01; INTERVAL a
//   number of microseconds (no months: a month has no fixed length, so month and year
//   intervals are rejected at bind time; date_trunc('month', ...) works without them).
//   DECIMAL is not a run-time type: amounts in our events are integer minor units, so BIGINT
//   is exact for them and DECIMAL(p, s) casts produce a DOUBLE rounded to s digits.
// * Type::kAny is a static type only (the binder's "decided per event"); no Value has it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sluice::sql {

enum class Type : uint8_t {
  kNull,  // the type of the NULL literal; every type also has NULL as a value
  kBoolean,
  kBigint,
  kDouble,
  kVarchar,
  kTimestamp,
  kDate,
  kInterval,
  kJson,  // an object or array from the event (or a JSON scalar made by CAST(... AS JSON))
  kAny,   // static only: the event decides (a field of a schemaless event)
};
inline constexpr int kTypeCount = 10;

// "NULL", "BOOLEAN", "BIGINT", "DOUBLE", "VARCHAR", "TIMESTAMP", "DATE", "INTERVAL", "JSON",
// "ANY".
std::string_view TypeName(Type type);

inline bool IsNumeric(Type t) {
  return t == Type::kBigint || t == Type::kDouble;
}
inline bool IsTemporal(Type t) {
  return t == Type::kTimestamp || t == Type::kDate || t == Type::kInterval;
}

// Bytes that follow every JSON text (simdjson::SIMDJSON_PADDING; checked in value.cc).
inline constexpr size_t kJsonPadding = 64;

struct Value {
  Type type = Type::kNull;
  uint32_t size = 0;  // bytes of text (VARCHAR, JSON)
  union {
    bool boolean;
    int64_t integer;  // BIGINT, TIMESTAMP (us), DATE (days), INTERVAL (us)
    double real;
    const char* text;
  };

  Value() : integer(0) {}

  static Value Null() { return Value(); }
  static Value Boolean(bool b) {
    Value v;
    v.type = Type::kBoolean;
    v.boolean = b;
    return v;
  }
  static Value Bigint(int64_t i) { return Integral(Type::kBigint, i); }
  static Value Timestamp(int64_t micros) { return Integral(Type::kTimestamp, micros); }
  static Value Date(int64_t days) { return Integral(Type::kDate, days); }
  static Value Interval(int64_t micros) { return Integral(Type::kInterval, micros); }
  static Value Double(double d) {
    Value v;
    v.type = Type::kDouble;
    v.real = d;
    return v;
  }
  // `s` must outlive the Value (see the header comment). Texts of 4 GiB or more do not occur:
  // event records are capped far below that.
  static Value Varchar(std::string_view s) { return Text(Type::kVarchar, s); }
  // `json` must be followed by kJsonPadding readable bytes.
  static Value Json(std::string_view json) { return Text(Type::kJson, json); }

  bool is_null() const { return type == Type::kNull; }
  std::string_view str() const { return {text, size}; }

 private:
  static Value Integral(Type t, int64_t i) {
    Value v;
    v.type = t;
    v.integer = i;
    return v;
  }
  static Value Text(Type t, std::string_view s) {
    Value v;
    v.type = t;
    v.size = static_cast<uint32_t>(s.size());
    v.text = s.data();
    return v;
  }
};
static_assert(sizeof(Value) == 16);

// A bump allocator for the text that evaluation produces (lower(), ||, casts to VARCHAR). Reset()
// frees everything at once and keeps the largest block, so a warm arena does not allocate.
class Arena {
 public:
  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // `n` bytes, plus kJsonPadding readable bytes after them (so any text can become JSON).
  char* Allocate(size_t n);
  std::string_view Copy(std::string_view s) {
    char* p = Allocate(s.size());
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    return {p, s.size()};
  }
  void Reset();
  // Bytes held, for tests of the no-allocation property.
  size_t capacity() const;

 private:
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::vector<size_t> sizes_;
  size_t current_ = 0;  // index of the block being filled
  size_t used_ = 0;     // bytes used in it
};

// ---- Text forms -------------------------------------------------------------------------------

// The text of a value as CAST(v AS VARCHAR) gives it, appended to `out`:
// BOOLEAN "true"/"false"; BIGINT decimal; DOUBLE the shortest text that reads back to the same
// double, with ".0" on integral values ("1.5", "100.0", "1e+20", "1e-07", "inf", "-inf", "nan");
// TIMESTAMP "2026-11-25 08:30:00[.ffffff]" (UTC; fraction without trailing zeros); DATE
// "2026-11-25"; INTERVAL "[-]HH:MM:SS[.ffffff]" (hours unbounded: there is no day field);
// VARCHAR as is; JSON its text. NULL appends nothing (callers decide what NULL means).
void AppendText(std::string& out, const Value& value);

// The value as a JSON token, appended to `out`: null, true/false, numbers (non-finite doubles as
// null), strings quoted and escaped, TIMESTAMP as an RFC 3339 string ("...Z"), DATE and INTERVAL
// as strings, JSON as its text.
void AppendJson(std::string& out, const Value& value);

// ---- Parsing text into values (used by CAST, literals and implicit coercions) ------------------

// BIGINT: optional surrounding whitespace, optional sign, decimal digits. Out of range, or
// anything else, is an error.
Result<int64_t> ParseBigint(std::string_view text);
// DOUBLE: a decimal or scientific number, "inf", "infinity", "nan" (any case, optional sign).
Result<double> ParseDouble(std::string_view text);
// BOOLEAN: true/false, t/f, yes/no, y/n, on/off, 1/0 (any case, surrounding whitespace).
Result<bool> ParseBoolean(std::string_view text);
// TIMESTAMP: RFC 3339 ("2026-11-25T08:30:00.5Z", "...+01:00"), or the same without an offset
// (UTC), with 'T' or a space, or a bare date (midnight UTC).
Result<int64_t> ParseTimestamp(std::string_view text);
// DATE: "YYYY-MM-DD", or any timestamp ParseTimestamp accepts (its UTC date).
Result<int64_t> ParseDate(std::string_view text);
// INTERVAL from text: "5 minutes", "1 day 2 hours", "-1.5 hours", "01:30:00", "1 day 01:30",
// "250 ms", ISO 8601 "PT5M" / "P1DT2H". Months and years are rejected (see the header comment).
Result<int64_t> ParseInterval(std::string_view text);

}  // namespace sluice::sql
