// Scalar functions and operators: run-time semantics (comparison, coercion, casts, arithmetic),
// each function's binder and evaluator, and the registry. docs/sql.md has the user's view.
#include "sql/functions.h"

#include <locale.h>
#include <wctype.h>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include <fmt/format.h>
#include <simdjson.h>

#include "base/clock.h"
#include "base/time.h"

namespace sluice::sql {

namespace {

constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();

// The range of doubles that convert to int64 without overflow: [-2^63, 2^63).
bool FitsInt64(double d) {
  return d >= -0x1p63 && d < 0x1p63;
}

Value Mismatch(EvalContext& ctx) {
  ctx.CountMismatch();
  return Value();
}

// Text in the context's arena.
Value ArenaText(EvalContext& ctx, std::string_view s) {
  return Value::Varchar(ctx.arena().Copy(s));
}

int64_t DateToMicros(int64_t days) {
  return days * kMicrosPerDay;
}

}  // namespace

Value EvalError(const CallInfo& info, EvalContext& ctx, std::string message) {
  ctx.Fail(ErrorAt(info.location, message));
  return Value();
}

// ---- Comparison -------------------------------------------------------------------------------

namespace {

int CompareDoubles(double a, double b) {
  // NaN equals NaN and sorts above every number, as in PostgreSQL and DuckDB.
  const bool na = std::isnan(a), nb = std::isnan(b);
  if (na || nb) return na == nb ? 0 : (na ? 1 : -1);
  return a < b ? -1 : (a > b ? 1 : 0);
}

template <typename T>
int Three(T a, T b) {
  return a < b ? -1 : (a > b ? 1 : 0);
}

// Reads `text` as a value of `type` for a comparison with one; false when it does not read.
bool ReadAs(std::string_view text, Type type, int64_t& out) {
  Result<int64_t> r = type == Type::kTimestamp ? ParseTimestamp(text)
                      : type == Type::kDate    ? ParseDate(text)
                                               : ParseInterval(text);
  if (!r.ok()) return false;
  out = *r;
  return true;
}

}  // namespace

int CompareValues(const Value& a, const Value& b) {
  const Type ta = a.type, tb = b.type;
  if (ta == Type::kBigint && tb == Type::kBigint) return Three(a.integer, b.integer);
  if (IsNumeric(ta) && IsNumeric(tb)) {
    const double x = ta == Type::kBigint ? static_cast<double>(a.integer) : a.real;
    const double y = tb == Type::kBigint ? static_cast<double>(b.integer) : b.real;
    return CompareDoubles(x, y);
  }
  if (ta == Type::kVarchar && tb == Type::kVarchar) {
    const int c = a.str().compare(b.str());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (ta == Type::kBoolean && tb == Type::kBoolean) return Three<int>(a.boolean, b.boolean);
  if ((ta == Type::kTimestamp || ta == Type::kDate) &&
      (tb == Type::kTimestamp || tb == Type::kDate)) {
    if (ta == tb) return Three(a.integer, b.integer);
    const int64_t x = ta == Type::kDate ? DateToMicros(a.integer) : a.integer;
    const int64_t y = tb == Type::kDate ? DateToMicros(b.integer) : b.integer;
    return Three(x, y);
  }
  if (ta == Type::kInterval && tb == Type::kInterval) return Three(a.integer, b.integer);
  if (ta == Type::kVarchar && IsTemporal(tb)) {
    int64_t x;
    if (!ReadAs(a.str(), tb, x)) return kIncomparable;
    return Three(x, b.integer);
  }
  if (IsTemporal(ta) && tb == Type::kVarchar) {
    int64_t y;
    if (!ReadAs(b.str(), ta, y)) return kIncomparable;
    return Three(a.integer, y);
  }
  return kIncomparable;
}

// ---- Coercion and casts -----------------------------------------------------------------------

Value CoerceValue(const Value& v, Type target, EvalContext& ctx) {
  if (v.type == target || v.is_null() || target == Type::kAny) return v;
  switch (target) {
    case Type::kDouble:
      if (v.type == Type::kBigint) return Value::Double(static_cast<double>(v.integer));
      break;
    case Type::kBigint:
      if (v.type == Type::kDouble && FitsInt64(v.real) &&
          v.real == static_cast<double>(static_cast<int64_t>(v.real)))
        return Value::Bigint(static_cast<int64_t>(v.real));
      break;
    case Type::kTimestamp:
      if (v.type == Type::kDate) return Value::Timestamp(DateToMicros(v.integer));
      if (v.type == Type::kVarchar) {
        Result<int64_t> ts = ParseTimestamp(v.str());
        if (ts.ok()) return Value::Timestamp(*ts);
      }
      break;
    case Type::kDate:
      if (v.type == Type::kTimestamp) return Value::Date(FloorDiv(v.integer, kMicrosPerDay));
      if (v.type == Type::kVarchar) {
        Result<int64_t> d = ParseDate(v.str());
        if (d.ok()) return Value::Date(*d);
      }
      break;
    case Type::kInterval:
      if (v.type == Type::kVarchar) {
        Result<int64_t> i = ParseInterval(v.str());
        if (i.ok()) return Value::Interval(*i);
      }
      break;
    default:
      break;
  }
  return Mismatch(ctx);
}

bool CastExists(Type from, Type to) {
  if (from == Type::kAny || from == Type::kNull || from == to) return true;
  if (to == Type::kVarchar || to == Type::kJson || from == Type::kVarchar) return true;
  switch (from) {
    case Type::kBigint:
    case Type::kDouble:
    case Type::kBoolean:
    case Type::kJson:
      return to == Type::kBigint || to == Type::kDouble || to == Type::kBoolean;
    case Type::kTimestamp:
    case Type::kDate:
      return to == Type::kTimestamp || to == Type::kDate;
    default:
      return false;
  }
}

namespace {

Value RoundToScale(double d, int32_t scale) {
  if (scale < 0 || !std::isfinite(d)) return Value::Double(d);
  const double p = std::pow(10.0, scale);
  const double r = std::round(d * p) / p;
  return Value::Double(std::isfinite(r) ? r : d);
}

Value CastFailed(const Status& status, SourceLocation location, EvalContext& ctx) {
  ctx.Fail(ErrorAt(location, status.message()));
  return Value();
}

Value ParsedJson(std::string_view text, SourceLocation location, EvalContext& ctx) {
  // Checked the way simdjson checks a document it skips over: structure, strings and UTF-8
  // (stage 1), and nothing after the value. Numbers inside are parsed when they are read.
  auto* parser = static_cast<simdjson::ondemand::parser*>(ctx.json_parser());
  std::string_view copy = ctx.arena().Copy(text);
  simdjson::padded_string_view input(copy.data(), copy.size(),
                                     copy.size() + simdjson::SIMDJSON_PADDING);
  simdjson::ondemand::document doc;
  std::string_view raw;
  simdjson::error_code error = parser->iterate(input).get(doc);
  if (!error) error = doc.raw_json().get(raw);
  if (!error && !doc.current_location().error()) error = simdjson::TRAILING_CONTENT;
  if (error) {
    return CastFailed(Status::InvalidArgument(fmt::format("invalid input for JSON: {}",
                                                          simdjson::error_message(error))),
                      location, ctx);
  }
  // Trim surrounding whitespace, so that the JSON text is exactly the value.
  size_t begin = 0, end = copy.size();
  while (begin < end &&
         (copy[begin] == ' ' || copy[begin] == '\t' || copy[begin] == '\n' || copy[begin] == '\r'))
    ++begin;
  while (end > begin && (copy[end - 1] == ' ' || copy[end - 1] == '\t' || copy[end - 1] == '\n' ||
                         copy[end - 1] == '\r'))
    --end;
  return Value::Json(copy.substr(begin, end - begin));
}

}  // namespace

Value CastValue(const Value& v, Type target, int32_t scale, SourceLocation location,
                EvalContext& ctx) {
  if (v.is_null()) return v;
  if (v.type == target) {
    return target == Type::kDouble && scale >= 0 ? RoundToScale(v.real, scale) : v;
  }
  if (!CastExists(v.type, target)) return Mismatch(ctx);
  switch (target) {
    case Type::kVarchar: {
      std::string& text = ctx.scratch();
      text.clear();
      AppendText(text, v);
      return ArenaText(ctx, text);
    }
    case Type::kJson: {
      if (v.type == Type::kVarchar) return ParsedJson(v.str(), location, ctx);
      std::string& text = ctx.scratch();
      text.clear();
      AppendJson(text, v);
      return Value::Json(ctx.arena().Copy(text));
    }
    case Type::kBigint:
      switch (v.type) {
        case Type::kDouble: {
          // Round half to even, as PostgreSQL and DuckDB cast doubles to integers.
          const double r = std::nearbyint(v.real);
          if (!FitsInt64(r))
            return CastFailed(Status::InvalidArgument(fmt::format("{} is out of range for BIGINT",
                                                                  Value::Double(v.real).real)),
                              location, ctx);
          return Value::Bigint(static_cast<int64_t>(r));
        }
        case Type::kBoolean:
          return Value::Bigint(v.boolean ? 1 : 0);
        default: {
          Result<int64_t> r = ParseBigint(v.str());
          return r.ok() ? Value::Bigint(*r) : CastFailed(r.status(), location, ctx);
        }
      }
    case Type::kDouble:
      switch (v.type) {
        case Type::kBigint:
          return RoundToScale(static_cast<double>(v.integer), scale);
        case Type::kBoolean:
          return Value::Double(v.boolean ? 1 : 0);
        default: {
          Result<double> r = ParseDouble(v.str());
          return r.ok() ? RoundToScale(*r, scale) : CastFailed(r.status(), location, ctx);
        }
      }
    case Type::kBoolean:
      switch (v.type) {
        case Type::kBigint:
          return Value::Boolean(v.integer != 0);
        case Type::kDouble:
          return Value::Boolean(v.real != 0);
        default: {
          Result<bool> r = ParseBoolean(v.str());
          return r.ok() ? Value::Boolean(*r) : CastFailed(r.status(), location, ctx);
        }
      }
    case Type::kTimestamp: {
      if (v.type == Type::kDate) return Value::Timestamp(DateToMicros(v.integer));
      Result<int64_t> r = ParseTimestamp(v.str());
      return r.ok() ? Value::Timestamp(*r) : CastFailed(r.status(), location, ctx);
    }
    case Type::kDate: {
      if (v.type == Type::kTimestamp) return Value::Date(FloorDiv(v.integer, kMicrosPerDay));
      Result<int64_t> r = ParseDate(v.str());
      return r.ok() ? Value::Date(*r) : CastFailed(r.status(), location, ctx);
    }
    case Type::kInterval: {
      Result<int64_t> r = ParseInterval(v.str());
      return r.ok() ? Value::Interval(*r) : CastFailed(r.status(), location, ctx);
    }
    default:
      return Mismatch(ctx);
  }
}

// ---- Arithmetic -------------------------------------------------------------------------------

Type ArithmeticType(BinaryOperator op, Type l, Type r) {
  using enum Type;
  if (IsNumeric(l) && IsNumeric(r)) return l == kBigint && r == kBigint ? kBigint : kDouble;
  const bool l_time = l == kTimestamp || l == kDate, r_time = r == kTimestamp || r == kDate;
  switch (op) {
    case BinaryOperator::kAdd:
      if ((l_time && r == kInterval) || (l == kInterval && r_time)) return kTimestamp;
      if ((l == kDate && r == kBigint) || (l == kBigint && r == kDate)) return kDate;
      if (l == kInterval && r == kInterval) return kInterval;
      return kNull;
    case BinaryOperator::kSub:
      if (l_time && r == kInterval) return kTimestamp;
      if (l == kDate && r == kBigint) return kDate;
      if (l == kDate && r == kDate) return kBigint;
      if (l_time && r_time) return kInterval;
      if (l == kInterval && r == kInterval) return kInterval;
      return kNull;
    case BinaryOperator::kMul:
      if ((l == kInterval && IsNumeric(r)) || (IsNumeric(l) && r == kInterval)) return kInterval;
      return kNull;
    case BinaryOperator::kDiv:
      if (l == kInterval && IsNumeric(r)) return kInterval;
      return kNull;
    default:
      return kNull;
  }
}

bool Comparable(Type l, Type r) {
  if (l == Type::kNull || r == Type::kNull) return true;
  if (IsNumeric(l) && IsNumeric(r)) return true;
  const bool l_time = l == Type::kTimestamp || l == Type::kDate;
  const bool r_time = r == Type::kTimestamp || r == Type::kDate;
  if (l_time && r_time) return true;
  return l == r && l != Type::kJson && l != Type::kAny;
}

namespace {

std::string_view OperatorVerb(BinaryOperator op) {
  switch (op) {
    case BinaryOperator::kAdd:
      return "add";
    case BinaryOperator::kSub:
      return "subtract";
    case BinaryOperator::kMul:
      return "multiply";
    case BinaryOperator::kDiv:
      return "divide";
    default:
      return "take the remainder of";
  }
}

Value Overflow(const CallInfo& info, EvalContext& ctx, BinaryOperator op, int64_t a, int64_t b) {
  return EvalError(info, ctx,
                   fmt::format("BIGINT out of range: {} {} {}", a, BinaryOperatorName(op), b));
}

Value IntegerArithmetic(BinaryOperator op, int64_t a, int64_t b, const CallInfo& info,
                        EvalContext& ctx) {
  int64_t r = 0;
  switch (op) {
    case BinaryOperator::kAdd:
      if (__builtin_add_overflow(a, b, &r)) return Overflow(info, ctx, op, a, b);
      return Value::Bigint(r);
    case BinaryOperator::kSub:
      if (__builtin_sub_overflow(a, b, &r)) return Overflow(info, ctx, op, a, b);
      return Value::Bigint(r);
    case BinaryOperator::kMul:
      if (__builtin_mul_overflow(a, b, &r)) return Overflow(info, ctx, op, a, b);
      return Value::Bigint(r);
    case BinaryOperator::kDiv:
      // Division by zero is NULL (DuckDB's choice; PostgreSQL raises an error): a ratio over an
      // empty window should not stop a pipeline.
      if (b == 0) return Value();
      if (a == kInt64Min && b == -1) return Overflow(info, ctx, op, a, b);
      return Value::Bigint(a / b);  // truncating, as in PostgreSQL and C
    case BinaryOperator::kMod:
      if (b == 0) return Value();
      if (b == -1) return Value::Bigint(0);
      return Value::Bigint(a % b);  // the sign of the dividend
    default:
      return Value();
  }
}

double AsDouble(const Value& v) {
  return v.type == Type::kBigint ? static_cast<double>(v.integer) : v.real;
}

// TIMESTAMP and DATE results stay within about +-285,000 years, so that every later conversion
// (DATE -> TIMESTAMP, truncation to a unit) fits an int64.
constexpr int64_t kMaxTimestampMicros = 9'000'000'000'000'000'000;
constexpr int64_t kMaxDateDays = kMaxTimestampMicros / kMicrosPerDay;

Value TimeResult(Type type, int64_t base, int64_t delta, bool subtract, const CallInfo& info,
                 EvalContext& ctx) {
  int64_t r;
  bool overflow =
      subtract ? __builtin_sub_overflow(base, delta, &r) : __builtin_add_overflow(base, delta, &r);
  if (type == Type::kTimestamp) overflow |= r > kMaxTimestampMicros || r < -kMaxTimestampMicros;
  if (type == Type::kDate) overflow |= r > kMaxDateDays || r < -kMaxDateDays;
  if (overflow) return EvalError(info, ctx, fmt::format("{} out of range", TypeName(type)));
  Value v;
  v.type = type;
  v.integer = r;
  return v;
}

Value ScaleInterval(int64_t micros, double factor, bool divide, const CallInfo& info,
                    EvalContext& ctx) {
  if (divide && factor == 0) return Value();
  const double r = std::nearbyint(divide ? static_cast<double>(micros) / factor
                                         : static_cast<double>(micros) * factor);
  if (!FitsInt64(r)) return EvalError(info, ctx, "INTERVAL out of range");
  return Value::Interval(static_cast<int64_t>(r));
}

}  // namespace

Value Arithmetic(BinaryOperator op, const Value& a, const Value& b, const CallInfo& info,
                 EvalContext& ctx) {
  const Type result = ArithmeticType(op, a.type, b.type);
  switch (result) {
    case Type::kNull:
      return Mismatch(ctx);
    case Type::kBigint:
      if (a.type == Type::kDate) return Value::Bigint(a.integer - b.integer);  // DATE - DATE
      return IntegerArithmetic(op, a.integer, b.integer, info, ctx);
    case Type::kDouble: {
      const double x = AsDouble(a), y = AsDouble(b);
      switch (op) {
        case BinaryOperator::kAdd:
          return Value::Double(x + y);
        case BinaryOperator::kSub:
          return Value::Double(x - y);
        case BinaryOperator::kMul:
          return Value::Double(x * y);
        case BinaryOperator::kDiv:
          return y == 0 ? Value() : Value::Double(x / y);
        default:
          return y == 0 ? Value() : Value::Double(std::fmod(x, y));
      }
    }
    case Type::kDate: {
      const bool date_left = a.type == Type::kDate;
      const int64_t days = date_left ? a.integer : b.integer;
      const int64_t delta = date_left ? b.integer : a.integer;
      return TimeResult(Type::kDate, days, delta, op == BinaryOperator::kSub, info, ctx);
    }
    case Type::kTimestamp: {
      const bool time_left = a.type != Type::kInterval;
      const Value& t = time_left ? a : b;
      const int64_t base = t.type == Type::kDate ? DateToMicros(t.integer) : t.integer;
      const int64_t delta = time_left ? b.integer : a.integer;
      return TimeResult(Type::kTimestamp, base, delta, op == BinaryOperator::kSub, info, ctx);
    }
    case Type::kInterval: {
      if (op == BinaryOperator::kMul) {
        const bool interval_left = a.type == Type::kInterval;
        return ScaleInterval(interval_left ? a.integer : b.integer, AsDouble(interval_left ? b : a),
                             false, info, ctx);
      }
      if (op == BinaryOperator::kDiv) return ScaleInterval(a.integer, AsDouble(b), true, info, ctx);
      const int64_t x = a.type == Type::kDate ? DateToMicros(a.integer) : a.integer;
      const int64_t y = b.type == Type::kDate ? DateToMicros(b.integer) : b.integer;
      return TimeResult(Type::kInterval, x, y, op == BinaryOperator::kSub, info, ctx);
    }
    default:
      return Mismatch(ctx);
  }
}

// ---- LIKE -------------------------------------------------------------------------------------

namespace {

inline char FoldAscii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}

size_t Utf8Length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;  // not a lead byte: step one byte (text is valid UTF-8; this keeps bad input safe)
}

std::string FoldString(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = FoldAscii(c);
  return out;
}

}  // namespace

Result<LikePattern> LikePattern::Compile(std::string_view pattern, std::string_view escape,
                                         bool case_insensitive) {
  if (escape.size() > 1 && Utf8Length(static_cast<unsigned char>(escape[0])) != escape.size())
    return Status::InvalidArgument("the ESCAPE of LIKE must be one character");
  LikePattern p;
  p.case_insensitive_ = case_insensitive;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (!escape.empty() && pattern.compare(i, escape.size(), escape) == 0) {
      i += escape.size();
      if (i >= pattern.size())
        return Status::InvalidArgument("LIKE pattern must not end with the escape character");
      const size_t n = Utf8Length(static_cast<unsigned char>(pattern[i]));
      for (size_t k = 0; k < n && i + k < pattern.size(); ++k) {
        p.tokens_ += pattern[i + k];
        p.wild_.push_back(false);
      }
      i += n - 1;
      continue;
    }
    p.tokens_ += pattern[i];
    p.wild_.push_back(pattern[i] == '%' || pattern[i] == '_');
  }
  if (case_insensitive) {
    for (size_t i = 0; i < p.tokens_.size(); ++i)
      if (!p.wild_[i]) p.tokens_[i] = FoldAscii(p.tokens_[i]);
  }
  // Recognise the shapes that need no general matcher.
  size_t leading = 0, trailing = 0, wild_inside = 0;
  while (leading < p.tokens_.size() && p.wild_[leading] && p.tokens_[leading] == '%') ++leading;
  while (trailing < p.tokens_.size() - leading && p.wild_[p.tokens_.size() - 1 - trailing] &&
         p.tokens_[p.tokens_.size() - 1 - trailing] == '%')
    ++trailing;
  std::string middle;
  for (size_t i = leading; i < p.tokens_.size() - trailing; ++i) {
    if (p.wild_[i]) ++wild_inside;
    middle += p.tokens_[i];
  }
  if (wild_inside == 0) {
    p.literal_ = std::move(middle);
    if (leading == 0 && trailing == 0) {
      p.shape_ = Shape::kExact;
    } else if (leading == 0) {
      p.shape_ = Shape::kPrefix;
    } else if (trailing == 0) {
      p.shape_ = Shape::kSuffix;
    } else {
      p.shape_ = p.literal_.empty() ? Shape::kAll : Shape::kContains;
    }
  }
  return p;
}

bool LikePattern::Matches(std::string_view text) const {
  std::string folded;
  if (case_insensitive_) {
    folded = FoldString(text);
    text = folded;
  }
  switch (shape_) {
    case Shape::kAll:
      return true;
    case Shape::kExact:
      return text == literal_;
    case Shape::kPrefix:
      return text.substr(0, literal_.size()) == literal_;
    case Shape::kSuffix:
      return text.size() >= literal_.size() &&
             text.substr(text.size() - literal_.size()) == literal_;
    case Shape::kContains:
      return text.find(literal_) != std::string_view::npos;
    case Shape::kGeneral:
      break;
  }
  // Greedy matching with backtracking to the last '%' only: O(text x pattern) at worst, no
  // recursion.
  size_t t = 0, p = 0;
  size_t star_p = std::string::npos, star_t = 0;
  const size_t n = tokens_.size();
  while (t < text.size()) {
    if (p < n && wild_[p] && tokens_[p] == '%') {
      star_p = ++p;
      star_t = t;
      continue;
    }
    if (p < n && wild_[p] && tokens_[p] == '_') {
      t += Utf8Length(static_cast<unsigned char>(text[t]));
      ++p;
      continue;
    }
    if (p < n && tokens_[p] == text[t]) {
      ++p;
      ++t;
      continue;
    }
    if (star_p == std::string::npos) return false;
    // Let the last '%' swallow one more code point and retry from there.
    star_t += Utf8Length(static_cast<unsigned char>(text[star_t]));
    t = star_t;
    p = star_p;
  }
  while (p < n && wild_[p] && tokens_[p] == '%') ++p;
  return p == n && t <= text.size();
}

// ---- String helpers ---------------------------------------------------------------------------

namespace {

// Decodes one code point at s[i] (advancing i); invalid bytes decode as themselves.
uint32_t DecodeUtf8(std::string_view s, size_t& i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  const size_t n = Utf8Length(lead);
  if (n == 1 || i + n > s.size()) {
    ++i;
    return lead;
  }
  uint32_t cp = lead & (0xFF >> (n + 1));
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += n;
  return cp;
}

void EncodeUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Unicode simple case mapping through the C library's C.UTF-8 locale (a locale object of our
// own: the process's global locale is not touched). ASCII takes a fast path.
locale_t Utf8Locale() {
  static const locale_t locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
  return locale;
}

Value MapCase(std::string_view s, bool upper, EvalContext& ctx) {
  std::string& out = ctx.scratch();
  out.clear();
  const locale_t locale = Utf8Locale();
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += static_cast<char>(upper ? (c >= 'a' && c <= 'z' ? c - 32 : c)
                                     : (c >= 'A' && c <= 'Z' ? c + 32 : c));
      ++i;
      continue;
    }
    uint32_t cp = DecodeUtf8(s, i);
    if (locale != static_cast<locale_t>(0)) {
      cp = static_cast<uint32_t>(upper ? towupper_l(static_cast<wint_t>(cp), locale)
                                       : towlower_l(static_cast<wint_t>(cp), locale));
    }
    EncodeUtf8(out, cp);
  }
  return ArenaText(ctx, out);
}

int64_t CodePoints(std::string_view s) {
  int64_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// Byte offset of code point `k` (0-based) in s, or s.size() when s is shorter.
size_t CodePointOffset(std::string_view s, int64_t k) {
  size_t i = 0;
  while (k > 0 && i < s.size()) {
    i += Utf8Length(static_cast<unsigned char>(s[i]));
    --k;
  }
  return std::min(i, s.size());
}

// Code points [from, to) (0-based, clamped).
std::string_view CodePointRange(std::string_view s, int64_t from, int64_t to) {
  from = std::max<int64_t>(from, 0);
  if (to <= from) return {};
  const size_t begin = CodePointOffset(s, from);
  const size_t end = begin + CodePointOffset(s.substr(begin), to - from);
  return s.substr(begin, end - begin);
}

}  // namespace

// ---- Dates and times --------------------------------------------------------------------------

namespace {

enum class TimeUnit : int64_t {
  kMicrosecond,
  kMillisecond,
  kSecond,
  kMinute,
  kHour,
  kDay,
  kWeek,
  kMonth,
  kQuarter,
  kYear,
  kDecade,
  kCentury,
  kMillennium,
  // EXTRACT / date_part only:
  kDow,
  kIsodow,
  kDoy,
  kEpoch,
  kIsoyear,
};

struct UnitName {
  std::string_view name;
  TimeUnit unit;
};

constexpr UnitName kUnitNames[] = {
    {"microsecond", TimeUnit::kMicrosecond},
    {"microseconds", TimeUnit::kMicrosecond},
    {"us", TimeUnit::kMicrosecond},
    {"millisecond", TimeUnit::kMillisecond},
    {"milliseconds", TimeUnit::kMillisecond},
    {"ms", TimeUnit::kMillisecond},
    {"second", TimeUnit::kSecond},
    {"seconds", TimeUnit::kSecond},
    {"minute", TimeUnit::kMinute},
    {"minutes", TimeUnit::kMinute},
    {"hour", TimeUnit::kHour},
    {"hours", TimeUnit::kHour},
    {"day", TimeUnit::kDay},
    {"days", TimeUnit::kDay},
    {"week", TimeUnit::kWeek},
    {"weeks", TimeUnit::kWeek},
    {"month", TimeUnit::kMonth},
    {"months", TimeUnit::kMonth},
    {"quarter", TimeUnit::kQuarter},
    {"quarters", TimeUnit::kQuarter},
    {"year", TimeUnit::kYear},
    {"years", TimeUnit::kYear},
    {"decade", TimeUnit::kDecade},
    {"century", TimeUnit::kCentury},
    {"millennium", TimeUnit::kMillennium},
    {"dow", TimeUnit::kDow},
    {"isodow", TimeUnit::kIsodow},
    {"doy", TimeUnit::kDoy},
    {"epoch", TimeUnit::kEpoch},
    {"isoyear", TimeUnit::kIsoyear},
};

std::optional<TimeUnit> FindUnit(std::string_view name) {
  std::string lower = FoldString(name);
  for (const UnitName& u : kUnitNames)
    if (u.name == lower) return u.unit;
  return std::nullopt;
}

struct Civil {
  int64_t year;
  unsigned month, day;
  int64_t days;  // since the epoch
  int64_t micros_in_day;
};

Civil ToCivil(int64_t micros) {
  Civil c;
  c.days = FloorDiv(micros, kMicrosPerDay);
  c.micros_in_day = micros - c.days * kMicrosPerDay;
  CivilFromDays(c.days, c.year, c.month, c.day);
  return c;
}

// 1 = Monday ... 7 = Sunday (1970-01-01 was a Thursday).
int64_t IsoDayOfWeek(int64_t days) {
  return (((days + 3) % 7) + 7) % 7 + 1;
}

int64_t FloorYear(int64_t y, int64_t n) {
  return FloorDiv(y - 1, n) * n + 1;
}

// ISO 8601 week number and week-numbering year.
void IsoWeek(int64_t days, int64_t& week, int64_t& iso_year) {
  // The Thursday of this week decides the year.
  const int64_t thursday = days - IsoDayOfWeek(days) + 4;
  int64_t y;
  unsigned m, d;
  CivilFromDays(thursday, y, m, d);
  iso_year = y;
  week = (thursday - DaysFromCivil(y, 1, 1)) / 7 + 1;
}

Value TruncateTime(TimeUnit unit, int64_t micros) {
  switch (unit) {
    case TimeUnit::kMicrosecond:
      return Value::Timestamp(micros);
    case TimeUnit::kMillisecond:
      return Value::Timestamp(FloorDiv(micros, kMicrosPerMilli) * kMicrosPerMilli);
    case TimeUnit::kSecond:
      return Value::Timestamp(FloorDiv(micros, kMicrosPerSecond) * kMicrosPerSecond);
    case TimeUnit::kMinute:
      return Value::Timestamp(FloorDiv(micros, kMicrosPerMinute) * kMicrosPerMinute);
    case TimeUnit::kHour:
      return Value::Timestamp(FloorDiv(micros, kMicrosPerHour) * kMicrosPerHour);
    case TimeUnit::kDay:
      return Value::Timestamp(FloorDiv(micros, kMicrosPerDay) * kMicrosPerDay);
    case TimeUnit::kWeek: {
      const int64_t days = FloorDiv(micros, kMicrosPerDay);
      return Value::Timestamp((days - IsoDayOfWeek(days) + 1) * kMicrosPerDay);
    }
    default: {
      const Civil c = ToCivil(micros);
      int64_t y = c.year;
      unsigned m = 1;
      if (unit == TimeUnit::kMonth) m = c.month;
      if (unit == TimeUnit::kQuarter) m = (c.month - 1) / 3 * 3 + 1;
      if (unit == TimeUnit::kDecade) y = FloorDiv(y, 10) * 10;
      if (unit == TimeUnit::kCentury) y = FloorYear(y, 100);
      if (unit == TimeUnit::kMillennium) y = FloorYear(y, 1000);
      return Value::Timestamp(DaysFromCivil(y, m, 1) * kMicrosPerDay);
    }
  }
}

Value ExtractPart(TimeUnit unit, int64_t micros) {
  const Civil c = ToCivil(micros);
  const int64_t us = c.micros_in_day;
  switch (unit) {
    case TimeUnit::kMicrosecond:
      return Value::Bigint(us % kMicrosPerMinute);
    case TimeUnit::kMillisecond:
      return Value::Bigint(us % kMicrosPerMinute / kMicrosPerMilli);
    case TimeUnit::kSecond:
      return Value::Bigint(us / kMicrosPerSecond % 60);
    case TimeUnit::kMinute:
      return Value::Bigint(us / kMicrosPerMinute % 60);
    case TimeUnit::kHour:
      return Value::Bigint(us / kMicrosPerHour);
    case TimeUnit::kDay:
      return Value::Bigint(c.day);
    case TimeUnit::kWeek: {
      int64_t week, year;
      IsoWeek(c.days, week, year);
      return Value::Bigint(week);
    }
    case TimeUnit::kIsoyear: {
      int64_t week, year;
      IsoWeek(c.days, week, year);
      return Value::Bigint(year);
    }
    case TimeUnit::kMonth:
      return Value::Bigint(c.month);
    case TimeUnit::kQuarter:
      return Value::Bigint((c.month - 1) / 3 + 1);
    case TimeUnit::kYear:
      return Value::Bigint(c.year);
    case TimeUnit::kDecade:
      return Value::Bigint(FloorDiv(c.year, 10));
    case TimeUnit::kCentury:
      return Value::Bigint(c.year > 0 ? (c.year + 99) / 100 : -((99 - c.year) / 100));
    case TimeUnit::kMillennium:
      return Value::Bigint(c.year > 0 ? (c.year + 999) / 1000 : -((999 - c.year) / 1000));
    case TimeUnit::kDow:
      return Value::Bigint(IsoDayOfWeek(c.days) % 7);
    case TimeUnit::kIsodow:
      return Value::Bigint(IsoDayOfWeek(c.days));
    case TimeUnit::kDoy:
      return Value::Bigint(c.days - DaysFromCivil(c.year, 1, 1) + 1);
    case TimeUnit::kEpoch:
      return Value::Double(static_cast<double>(micros) / 1e6);
  }
  return Value();
}

}  // namespace

// ---- Binding helpers --------------------------------------------------------------------------

BoundExpr MakeConstant(const Value& value, SourceLocation location) {
  BoundExpr e;
  e.kind = BoundExpr::Kind::kConstant;
  e.type = value.type;
  e.location = location;
  e.constant = value;
  if (value.type == Type::kVarchar || value.type == Type::kJson) {
    auto storage = std::make_shared<std::string>(value.str());
    storage->append(kJsonPadding, '\0');  // padding within the string's size: always readable
    e.constant.text = storage->data();
    e.storage = std::move(storage);
  }
  return e;
}

namespace {

BoundExpr Wrap(BoundExpr inner, BoundExpr::Kind kind, Type type) {
  BoundExpr e;
  e.kind = kind;
  e.type = type;
  e.location = inner.location;
  e.args.push_back(std::move(inner));
  return e;
}

// Reads a '...' literal as `target` now.
Status FoldLiteral(BoundExpr& literal, Type target) {
  EvalContext ctx;
  Value v = CastValue(literal.constant, target, -1, literal.location, ctx);
  if (!ctx.ok()) return ctx.error();
  literal = MakeConstant(v, literal.location);
  return Status::Ok();
}

bool IsStringLiteral(const BoundExpr& e) {
  return e.kind == BoundExpr::Kind::kConstant && e.string_literal;
}

}  // namespace

Status CoerceArgument(BoundExpr& arg, Type target, std::string_view what) {
  if (arg.type == target || target == Type::kAny) return Status::Ok();
  if (arg.type == Type::kNull) {
    arg.type = target;  // a typed NULL
    return Status::Ok();
  }
  if (IsStringLiteral(arg) && target != Type::kVarchar) return FoldLiteral(arg, target);
  if (arg.type == Type::kAny) {
    arg = Wrap(std::move(arg), BoundExpr::Kind::kCoerce, target);
    return Status::Ok();
  }
  if ((arg.type == Type::kBigint && target == Type::kDouble) ||
      (arg.type == Type::kDate && target == Type::kTimestamp)) {
    arg = Wrap(std::move(arg), BoundExpr::Kind::kCast, target);
    return Status::Ok();
  }
  return ErrorAt(arg.location, fmt::format("{} must be {}, found {}", what, TypeName(target),
                                           TypeName(arg.type)));
}

Result<Type> UnifyTypes(std::span<BoundExpr*> exprs, std::string_view what,
                        SourceLocation location) {
  // The type the non-literal, statically typed expressions agree on.
  Type common = Type::kNull;
  bool any = false;
  const BoundExpr* first = nullptr;
  for (BoundExpr* e : exprs) {
    if (e->type == Type::kNull || IsStringLiteral(*e)) continue;
    if (e->type == Type::kAny) {
      any = true;
      continue;
    }
    if (common == Type::kNull) {
      common = e->type;
      first = e;
      continue;
    }
    if (common == e->type) continue;
    if (IsNumeric(common) && IsNumeric(e->type)) {
      common = Type::kDouble;
    } else if ((common == Type::kDate || common == Type::kTimestamp) &&
               (e->type == Type::kDate || e->type == Type::kTimestamp)) {
      common = Type::kTimestamp;
    } else {
      return ErrorAt(e->location, fmt::format("{} have incompatible types {} and {}", what,
                                              TypeName(first->type), TypeName(e->type)));
    }
  }
  bool literals = false;
  for (BoundExpr* e : exprs) literals |= IsStringLiteral(*e);
  if (any) {
    if (!IsTemporal(common)) return Type::kAny;
  } else if (common == Type::kNull) {
    return literals ? Type::kVarchar : Type::kNull;
  }
  for (BoundExpr* e : exprs) {
    if (e->type == common) continue;
    std::string place = fmt::format("every one of {}", what);
    SLUICE_RETURN_IF_ERROR(CoerceArgument(*e, common, place));
  }
  (void)location;
  return common;
}

Status BindComparison(BoundExpr& left, BoundExpr& right, std::string_view op,
                      SourceLocation location) {
  const Type l = left.type, r = right.type;
  if (l == Type::kNull || r == Type::kNull) return Status::Ok();
  if (l == Type::kAny || r == Type::kAny) {
    BoundExpr& any = l == Type::kAny ? left : right;
    const Type other = l == Type::kAny ? r : l;
    if (IsTemporal(other)) return CoerceArgument(any, other, "");
    if (other == Type::kJson)
      return ErrorAt(location, fmt::format("operator '{}' cannot compare JSON values; extract a "
                                           "field or cast to VARCHAR",
                                           op));
    return Status::Ok();
  }
  if (IsStringLiteral(left) && r != Type::kVarchar && r != Type::kJson) return FoldLiteral(left, r);
  if (IsStringLiteral(right) && l != Type::kVarchar && l != Type::kJson)
    return FoldLiteral(right, l);
  if (!Comparable(l, r))
    return ErrorAt(location, fmt::format("operator '{}' cannot compare {} and {}", op, TypeName(l),
                                         TypeName(r)));
  return Status::Ok();
}

// ---- Operator binders and evaluators ----------------------------------------------------------

namespace {

BinaryOperator OperatorOf(const BoundExpr& call) {
  return static_cast<BinaryOperator>(call.option);
}

Status BindArithmetic(BoundExpr& call) {
  const BinaryOperator op = OperatorOf(call);
  BoundExpr& left = call.args[0];
  BoundExpr& right = call.args[1];
  auto error = [&](Type l, Type r) {
    const std::string_view sym = BinaryOperatorName(op);
    if (op == BinaryOperator::kSub)
      return ErrorAt(call.location, fmt::format("operator '-' cannot subtract {} from {}",
                                                TypeName(r), TypeName(l)));
    if (op == BinaryOperator::kDiv)
      return ErrorAt(call.location,
                     fmt::format("operator '/' cannot divide {} by {}", TypeName(l), TypeName(r)));
    return ErrorAt(call.location, fmt::format("operator '{}' cannot {} {} and {}", sym,
                                              OperatorVerb(op), TypeName(l), TypeName(r)));
  };
  // '...' literals take the type the other side needs: a number next to a number, an interval
  // next to a time.
  for (int side = 0; side < 2; ++side) {
    BoundExpr& lit = side == 0 ? left : right;
    const Type other = (side == 0 ? right : left).type;
    if (!IsStringLiteral(lit) || other == Type::kAny || other == Type::kNull ||
        other == Type::kVarchar)
      continue;
    Type target = other;
    if (other == Type::kTimestamp || other == Type::kDate) target = Type::kInterval;
    if (IsNumeric(other))
      target = ParseBigint(lit.constant.str()).ok() ? Type::kBigint : Type::kDouble;
    SLUICE_RETURN_IF_ERROR(FoldLiteral(lit, target));
  }
  const Type l = left.type, r = right.type;
  if (l == Type::kNull || r == Type::kNull) {
    call.type = Type::kNull;
    return Status::Ok();
  }
  if (l == Type::kAny || r == Type::kAny) {
    const Type other = l == Type::kAny ? r : l;
    BoundExpr& any = l == Type::kAny ? left : right;
    const bool any_left = l == Type::kAny;
    if (other == Type::kAny) {
      call.type = Type::kAny;
      return Status::Ok();
    }
    if (other == Type::kVarchar || other == Type::kBoolean || other == Type::kJson)
      return error(l, r);
    if (other == Type::kDouble) {
      // Event values are never intervals, so the other side must be a number: a DOUBLE result.
      SLUICE_RETURN_IF_ERROR(CoerceArgument(any, Type::kDouble, ""));
      call.type = ArithmeticType(op, left.type, right.type);
      if (call.type == Type::kNull) return error(l, r);
      return Status::Ok();
    }
    if (other == Type::kBigint) {
      call.type = Type::kAny;  // BIGINT or DOUBLE, as the event's number is
      return Status::Ok();
    }
    // A time on the other side: read the event's value as the time type the operator needs.
    Type target = Type::kNull;
    if (other == Type::kInterval) {
      target = (op == BinaryOperator::kAdd || (op == BinaryOperator::kSub && any_left))
                   ? Type::kTimestamp
                   : Type::kNull;
      if (op == BinaryOperator::kMul) target = Type::kDouble;
    } else if (other == Type::kTimestamp || other == Type::kDate) {
      // time - value: event values hold times far more often than durations.
      target = op == BinaryOperator::kSub ? Type::kTimestamp : Type::kInterval;
    }
    if (target == Type::kNull) return error(l, r);
    SLUICE_RETURN_IF_ERROR(CoerceArgument(any, target, ""));
    call.type = ArithmeticType(op, left.type, right.type);
    if (call.type == Type::kNull) return error(l, r);
    return Status::Ok();
  }
  call.type = ArithmeticType(op, l, r);
  if (call.type == Type::kNull) return error(l, r);
  return Status::Ok();
}

Value EvalArithmetic(const Value* a, size_t, const CallInfo& info, EvalContext& ctx) {
  return Arithmetic(static_cast<BinaryOperator>(info.option), a[0], a[1], info, ctx);
}

Status BindCompare(BoundExpr& call) {
  call.type = Type::kBoolean;
  return BindComparison(call.args[0], call.args[1], BinaryOperatorName(OperatorOf(call)),
                        call.location);
}

Value EvalCompare(const Value* a, size_t, const CallInfo& info, EvalContext& ctx) {
  const int c = CompareValues(a[0], a[1]);
  if (c == kIncomparable) return Mismatch(ctx);
  switch (static_cast<BinaryOperator>(info.option)) {
    case BinaryOperator::kEq:
      return Value::Boolean(c == 0);
    case BinaryOperator::kNotEq:
      return Value::Boolean(c != 0);
    case BinaryOperator::kLt:
      return Value::Boolean(c < 0);
    case BinaryOperator::kLtEq:
      return Value::Boolean(c <= 0);
    case BinaryOperator::kGt:
      return Value::Boolean(c > 0);
    default:
      return Value::Boolean(c >= 0);
  }
}

Value EvalDistinct(const Value* a, size_t, const CallInfo& info, EvalContext&) {
  bool distinct;
  if (a[0].is_null() || a[1].is_null()) {
    distinct = a[0].is_null() != a[1].is_null();
  } else {
    // Values that cannot be compared are not the same value.
    distinct = CompareValues(a[0], a[1]) != 0;
  }
  return Value::Boolean(static_cast<BinaryOperator>(info.option) == BinaryOperator::kIsDistinctFrom
                            ? distinct
                            : !distinct);
}

// Like DuckDB (and PostgreSQL when one side is text): both sides as text, whatever their type.
Status BindConcat(BoundExpr& call) {
  call.type = Type::kVarchar;
  return Status::Ok();
}

Value EvalConcat(const Value* a, size_t n, const CallInfo&, EvalContext& ctx) {
  std::string& out = ctx.scratch();
  out.clear();
  for (size_t i = 0; i < n; ++i) AppendText(out, a[i]);
  return ArenaText(ctx, out);
}

Status BindNegate(BoundExpr& call) {
  const Type t = call.args[0].type;
  if (IsStringLiteral(call.args[0]))
    SLUICE_RETURN_IF_ERROR(FoldLiteral(call.args[0], ParseBigint(call.args[0].constant.str()).ok()
                                                         ? Type::kBigint
                                                         : Type::kDouble));
  if (t == Type::kVarchar && !IsStringLiteral(call.args[0]))
    return ErrorAt(call.location, "operator '-' cannot negate VARCHAR");
  const Type u = call.args[0].type;
  if (IsNumeric(u) || u == Type::kInterval || u == Type::kAny || u == Type::kNull) {
    call.type = u;
    return Status::Ok();
  }
  return ErrorAt(call.location, fmt::format("operator '-' cannot negate {}", TypeName(u)));
}

Value EvalNegate(const Value* a, size_t, const CallInfo& info, EvalContext& ctx) {
  switch (a[0].type) {
    case Type::kBigint:
      if (a[0].integer == kInt64Min)
        return EvalError(info, ctx, "BIGINT out of range: -(-9223372036854775808)");
      return Value::Bigint(-a[0].integer);
    case Type::kDouble:
      return Value::Double(-a[0].real);
    case Type::kInterval:
      if (a[0].integer == kInt64Min) return EvalError(info, ctx, "INTERVAL out of range");
      return Value::Interval(-a[0].integer);
    default:
      return Mismatch(ctx);
  }
}

Status BindBooleanArgs(BoundExpr& call, std::string_view what) {
  for (BoundExpr& arg : call.args) {
    if (arg.type == Type::kBoolean || arg.type == Type::kAny || arg.type == Type::kNull) continue;
    if (IsStringLiteral(arg)) {
      SLUICE_RETURN_IF_ERROR(FoldLiteral(arg, Type::kBoolean));
      continue;
    }
    return ErrorAt(arg.location, fmt::format("argument of {} must be BOOLEAN, found {}", what,
                                             TypeName(arg.type)));
  }
  return Status::Ok();
}

Status BindNot(BoundExpr& call) {
  call.type = Type::kBoolean;
  return BindBooleanArgs(call, "NOT");
}

Value EvalNot(const Value* a, size_t, const CallInfo&, EvalContext& ctx) {
  if (a[0].type != Type::kBoolean) return Mismatch(ctx);
  return Value::Boolean(!a[0].boolean);
}

Status BindIs(BoundExpr& call) {
  call.type = Type::kBoolean;
  if (static_cast<IsPredicate>(call.option) == IsPredicate::kNull) return Status::Ok();
  return BindBooleanArgs(call, "IS TRUE / IS FALSE / IS UNKNOWN");
}

// option: IsPredicate in the low byte, bit 8 set for IS NOT.
Value EvalIs(const Value* a, size_t, const CallInfo& info, EvalContext& ctx) {
  const auto predicate = static_cast<IsPredicate>(info.option & 0xFF);
  const bool negated = (info.option & 0x100) != 0;
  bool r;
  const Value& v = a[0];
  if (predicate == IsPredicate::kNull) {
    r = v.is_null();
  } else {
    bool unknown = v.is_null();
    if (!unknown && v.type != Type::kBoolean) {
      ctx.CountMismatch();
      unknown = true;
    }
    switch (predicate) {
      case IsPredicate::kTrue:
        r = !unknown && v.boolean;
        break;
      case IsPredicate::kFalse:
        r = !unknown && !v.boolean;
        break;
      default:
        r = unknown;
    }
  }
  return Value::Boolean(r != negated);
}

Status BindLike(BoundExpr& call) {
  for (size_t i = 0; i < call.args.size(); ++i) {
    SLUICE_RETURN_IF_ERROR(CoerceArgument(call.args[i], Type::kVarchar,
                                          i == 0   ? "the operand of LIKE"
                                          : i == 1 ? "the pattern of LIKE"
                                                   : "the ESCAPE of LIKE"));
  }
  call.type = Type::kBoolean;
  return Status::Ok();
}

// option: bit 0 ILIKE, bit 1 NOT. The evaluator precompiles constant patterns (expr_eval.cc);
// this is the path for patterns computed per row.
Value EvalLike(const Value* a, size_t n, const CallInfo& info, EvalContext& ctx) {
  Result<LikePattern> pattern =
      LikePattern::Compile(a[1].str(), n > 2 ? a[2].str() : std::string_view(), info.option & 1);
  if (!pattern.ok()) return EvalError(info, ctx, pattern.status().message());
  return Value::Boolean(pattern->Matches(a[0].str()) != ((info.option & 2) != 0));
}

// ---- Scalar functions: binders ----------------------------------------------------------------

std::string ArgumentName(const BoundExpr& call, size_t i) {
  return fmt::format("argument {} of {}", i + 1, call.function->signatures);
}

// The binder of a function with fixed parameter types: argument i coerced to params[i].
Status CoerceAll(BoundExpr& call, std::initializer_list<Type> params) {
  size_t i = 0;
  for (Type t : params) {
    if (i >= call.args.size()) break;
    SLUICE_RETURN_IF_ERROR(CoerceArgument(call.args[i], t, ArgumentName(call, i)));
    ++i;
  }
  return Status::Ok();
}

#define SLUICE_FIXED_BINDER(name, result, ...)              \
  Status name(BoundExpr& call) {                            \
    SLUICE_RETURN_IF_ERROR(CoerceAll(call, {__VA_ARGS__})); \
    call.type = result;                                     \
    return Status::Ok();                                    \
  }

using enum Type;

SLUICE_FIXED_BINDER(BindVarcharToVarchar, kVarchar, kVarchar)
SLUICE_FIXED_BINDER(BindVarcharToBigint, kBigint, kVarchar)
SLUICE_FIXED_BINDER(BindSubstr, kVarchar, kVarchar, kBigint, kBigint)
SLUICE_FIXED_BINDER(BindTrim, kVarchar, kVarchar, kVarchar)
SLUICE_FIXED_BINDER(BindReplace, kVarchar, kVarchar, kVarchar, kVarchar)
SLUICE_FIXED_BINDER(BindVarchar2ToBoolean, kBoolean, kVarchar, kVarchar)
SLUICE_FIXED_BINDER(BindVarchar2ToBigint, kBigint, kVarchar, kVarchar)
SLUICE_FIXED_BINDER(BindSplitPart, kVarchar, kVarchar, kVarchar, kBigint)
SLUICE_FIXED_BINDER(BindLeftRight, kVarchar, kVarchar, kBigint)
SLUICE_FIXED_BINDER(BindDoubleToDouble, kDouble, kDouble)
SLUICE_FIXED_BINDER(BindPower, kDouble, kDouble, kDouble)
SLUICE_FIXED_BINDER(BindToTimestamp, kTimestamp, kDouble)
SLUICE_FIXED_BINDER(BindEpoch, kDouble, kTimestamp)
SLUICE_FIXED_BINDER(BindEpochMs, kBigint, kTimestamp)
SLUICE_FIXED_BINDER(BindCardinality, kBigint, kJson)

Status BindAnyToVarchar(BoundExpr& call) {
  call.type = Type::kVarchar;
  return Status::Ok();
}

Status BindConcatWs(BoundExpr& call) {
  SLUICE_RETURN_IF_ERROR(CoerceArgument(call.args[0], Type::kVarchar, ArgumentName(call, 0)));
  call.type = Type::kVarchar;
  return Status::Ok();
}

// abs, sign, floor, ceil: numeric in, same type out (kAny: decided per event).
Status BindNumericSame(BoundExpr& call) {
  BoundExpr& arg = call.args[0];
  if (IsStringLiteral(arg)) SLUICE_RETURN_IF_ERROR(FoldLiteral(arg, Type::kDouble));
  if (IsNumeric(arg.type) || arg.type == Type::kAny || arg.type == Type::kNull) {
    call.type = arg.type;
    return Status::Ok();
  }
  return ErrorAt(arg.location, fmt::format("{} must be a number (BIGINT or DOUBLE), found {}",
                                           ArgumentName(call, 0), TypeName(arg.type)));
}

Status BindRound(BoundExpr& call) {
  SLUICE_RETURN_IF_ERROR(BindNumericSame(call));
  if (call.args.size() > 1)
    SLUICE_RETURN_IF_ERROR(CoerceArgument(call.args[1], Type::kBigint, ArgumentName(call, 1)));
  return Status::Ok();
}

Status BindUnifyAll(BoundExpr& call, std::string_view what) {
  std::vector<BoundExpr*> args;
  for (BoundExpr& a : call.args) args.push_back(&a);
  SLUICE_ASSIGN_OR_RETURN(call.type, UnifyTypes(args, what, call.location));
  if (call.type == Type::kJson)
    return ErrorAt(call.location, fmt::format("{} cannot be JSON values", what));
  return Status::Ok();
}

Status BindGreatest(BoundExpr& call) {
  return BindUnifyAll(call, fmt::format("the arguments of {}", call.function->name));
}

Status BindNullif(BoundExpr& call) {
  SLUICE_RETURN_IF_ERROR(BindUnifyAll(call, "the arguments of nullif"));
  return BindComparison(call.args[0], call.args[1], "nullif", call.location);
}

Status ConstantUnit(BoundExpr& call, bool truncate) {
  const BoundExpr& unit = call.args[0];
  if (unit.kind != BoundExpr::Kind::kConstant || unit.constant.type != Type::kVarchar)
    return ErrorAt(unit.location, fmt::format("the unit of {} must be a constant string such as "
                                              "'minute'",
                                              call.function->name));
  std::optional<TimeUnit> u = FindUnit(unit.constant.str());
  const bool ok = u.has_value() && (truncate ? *u <= TimeUnit::kMillennium : true);
  if (!ok) {
    return ErrorAt(
        unit.location,
        fmt::format("unknown unit '{}' for {} (use {})", unit.constant.str(), call.function->name,
                    truncate ? "millisecond, second, minute, hour, day, week, month, "
                               "quarter, year, decade, century or millennium"
                             : "year, quarter, month, week, day, hour, minute, "
                               "second, millisecond, microsecond, epoch, dow, "
                               "isodow, doy or isoyear"));
  }
  call.option = static_cast<int64_t>(*u);
  return Status::Ok();
}

Status BindDateTrunc(BoundExpr& call) {
  SLUICE_RETURN_IF_ERROR(ConstantUnit(call, true));
  SLUICE_RETURN_IF_ERROR(CoerceArgument(call.args[1], Type::kTimestamp, ArgumentName(call, 1)));
  call.type = Type::kTimestamp;
  return Status::Ok();
}

Status BindDatePart(BoundExpr& call) {
  SLUICE_RETURN_IF_ERROR(ConstantUnit(call, false));
  const auto unit = static_cast<TimeUnit>(call.option);
  BoundExpr& arg = call.args[1];
  if (arg.type == Type::kInterval) {
    if (unit != TimeUnit::kEpoch)
      return ErrorAt(arg.location, "only epoch can be extracted from an INTERVAL (its seconds)");
  } else {
    SLUICE_RETURN_IF_ERROR(CoerceArgument(arg, Type::kTimestamp, ArgumentName(call, 1)));
  }
  call.type = unit == TimeUnit::kEpoch ? Type::kDouble : Type::kBigint;
  return Status::Ok();
}

Status BindNotDeterministic(BoundExpr& call) {
  return ErrorAt(call.location,
                 fmt::format("{}() is not allowed: a view must give the same result when the log "
                             "is replayed, and {} changes every time it is evaluated; use the "
                             "event's own time (event_time, or a field such as occurred_at)",
                             call.function->name, call.function->name));
}

Status BindAggregate(BoundExpr& call) {
  return ErrorAt(call.location,
                 fmt::format("aggregate '{}' is not allowed here", call.function->name));
}

// ---- Scalar functions: evaluators -------------------------------------------------------------

Value EvalLower(const Value* a, size_t, const CallInfo&, EvalContext& ctx) {
  return MapCase(a[0].str(), false, ctx);
}
Value EvalUpper(const Value* a, size_t, const CallInfo&, EvalContext& ctx) {
  return MapCase(a[0].str(), true, ctx);
}
Value EvalLength(const Value* a, size_t, const CallInfo&, EvalContext&) {
  return Value::Bigint(CodePoints(a[0].str()));
}
Value EvalOctetLength(const Value* a, size_t, const CallInfo&, EvalContext&) {
  return Value::Bigint(static_cast<int64_t>(a[0].size));
}

Value EvalSubstr(const Value* a, size_t n, const CallInfo& info, EvalContext& ctx) {
  // PostgreSQL: code points start .. start + count - 1 (1-based), clamped to the string.
  const int64_t start = a[1].integer;
  auto before = [](int64_t x) { return x == INT64_MIN ? x : x - 1; };  // 0-based, saturating
  if (n < 3) return Value::Varchar(CodePointRange(a[0].str(), before(start), INT64_MAX));
  const int64_t count = a[2].integer;
  if (count < 0) return EvalError(info, ctx, "negative substring length not allowed");
  int64_t end;
  if (__builtin_add_overflow(start, count, &end)) end = INT64_MAX;
  return Value::Varchar(CodePointRange(a[0].str(), before(start), before(end)));
}

// The set of code points to trim (default: space).
bool InTrimSet(uint32_t cp, std::string_view set) {
  for (size_t i = 0; i < set.size();)
    if (DecodeUtf8(set, i) == cp) return true;
  return false;
}

Value TrimImpl(const Value* a, size_t n, bool left, bool right) {
  std::string_view s = a[0].str();
  const std::string_view set = n > 1 ? a[1].str() : std::string_view(" ");
  if (left) {
    size_t i = 0;
    while (i < s.size()) {
      size_t next = i;
      if (!InTrimSet(DecodeUtf8(s, next), set)) break;
      i = next;
    }
    s.remove_prefix(i);
  }
  if (right) {
    while (!s.empty()) {
      size_t start = s.size() - 1;
      while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
      size_t i = start;
      if (!InTrimSet(DecodeUtf8(s, i), set)) break;
      s.remove_suffix(s.size() - start);
    }
  }
  return Value::Varchar(s);
}
Value EvalTrim(const Value* a, size_t n, const CallInfo&, EvalContext&) {
  return TrimImpl(a, n, true, true);
}
Value EvalLtrim(const Value* a, size_t n, const CallInfo&, EvalContext&) {
  return TrimImpl(a, n, true, false);
}
Value EvalRtrim(const Value* a, size_t n, const CallInfo&, EvalContext&) {
  return TrimImpl(a, n, false, true);
}

Value EvalReplace(const Value* a, size_t, const CallInfo&, EvalContext& ctx) {
  const std::string_view s = a[0].str(), from = a[1].str(), to = a[2].str();
  if (from.empty() || s.find(from) == std::string_view::npos) return a[0];
  std::string& out = ctx.scratch();
  out.clear();
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string_view::npos; pos = hit + from.size()) {
    out.append(s.substr(pos, hit - pos));
    out.append(to);
  }
  out.append(s.substr(pos));
  return ArenaText(ctx, out);
}

Value EvalStartsWith(const Value* a, size_t, const CallInfo&, EvalContext&) {
  return Value::Boolean(a[0].str().starts_with(a[1].str()));
}
Value EvalEndsWith(const Value* a, size_t, const CallInfo&, EvalContext&) {
  return Value::Boolean(a[0].str().ends_with(a[1].str()));
}
Value EvalContains(const Value* a, size_t, const CallInfo&, EvalContext&) {
  return Value::Boolean(a[0].str().find(a[1].str()) != std::string_view::npos);
}

Value EvalStrpos(const Value* a, size_t, const CallInfo&, EvalContext&) {
  const std::string_view s = a[0].str();
  const size_t hit = s.find(a[1].str());
  if (hit == std::string_view::npos) return Value::Bigint(0);
  return Value::Bigint(CodePoints(s.substr(0, hit)) + 1);
}

Value EvalConcatFunction(const Value* a, size_t n, const CallInfo&, EvalContext& ctx) {
  std::string& out = ctx.scratch();
  out.clear();
  for (size_t i = 0; i < n; ++i) AppendText(out, a[i]);  // NULLs append nothing
  return ArenaText(ctx, out);
}

Value EvalConcatWs(const Value* a, size_t n, const CallInfo&, EvalContext& ctx) {
  if (a[0].is_null()) return Value();
  std::string& out = ctx.scratch();
  out.clear();
  bool first = true;
  for (size_t i = 1; i < n; ++i) {
    if (a[i].is_null()) continue;
    if (!first) out.append(a[0].str());
    AppendText(out, a[i]);
    first = false;
  }
  return ArenaText(ctx, out);
}

Value EvalSplitPart(const Value* a, size_t, const CallInfo& info, EvalContext& ctx) {
  const std::string_view s = a[0].str(), delim = a[1].str();
  int64_t k = a[2].integer;
  if (k == 0) return EvalError(info, ctx, "field position must not be zero");
  if (delim.empty()) return Value::Varchar(k == 1 || k == -1 ? s : std::string_view());
  std::vector<std::string_view>& parts = ctx.views();
  parts.clear();
  size_t pos = 0;
  for (size_t hit; (hit = s.find(delim, pos)) != std::string_view::npos; pos = hit + delim.size())
    parts.push_back(s.substr(pos, hit - pos));
  parts.push_back(s.substr(pos));
  const auto count = static_cast<int64_t>(parts.size());
  if (k < 0) k = count + k + 1;
  if (k < 1 || k > count) return Value::Varchar({});
  return Value::Varchar(parts[static_cast<size_t>(k - 1)]);
}

Value EvalLeft(const Value* a, size_t, const CallInfo&, EvalContext&) {
  const std::string_view s = a[0].str();
  const int64_t n = a[1].integer;
  if (n >= 0) return Value::Varchar(CodePointRange(s, 0, n));
  return Value::Varchar(CodePointRange(s, 0, CodePoints(s) + n));
}

Value EvalRight(const Value* a, size_t, const CallInfo&, EvalContext&) {
  const std::string_view s = a[0].str();
  const int64_t n = a[1].integer, len = CodePoints(s);
  if (n >= 0) return Value::Varchar(CodePointRange(s, len - n, len));
  if (n == INT64_MIN) return Value::Varchar({});
  return Value::Varchar(CodePointRange(s, -n, len));
}

Value EvalAbs(const Value* a, size_t, const CallInfo& info, EvalContext& ctx) {
  if (a[0].type == Type::kBigint) {
    if (a[0].integer == kInt64Min)
      return EvalError(info, ctx, "BIGINT out of range: abs(-9223372036854775808)");
    return Value::Bigint(a[0].integer < 0 ? -a[0].integer : a[0].integer);
  }
  if (a[0].type == Type::kDouble) return Value::Double(std::fabs(a[0].real));
  return Mismatch(ctx);
}

Value EvalSign(const Value* a, size_t, const CallInfo&, EvalContext& ctx) {
  if (a[0].type == Type::kBigint) return Value::Bigint((a[0].integer > 0) - (a[0].integer < 0));
  if (a[0].type == Type::kDouble)
    return Value::Double(std::isnan(a[0].real) ? a[0].real : (a[0].real > 0) - (a[0].real < 0));
  return Mismatch(ctx);
}

Value EvalFloor(const Value* a, size_t, const CallInfo&, EvalContext& ctx) {
  if (a[0].type == Type::kBigint) return a[0];
  if (a[0].type == Type::kDouble) return Value::Double(std::floor(a[0].real));
  return Mismatch(ctx);
}

Value EvalCeil(const Value* a, size_t, const CallInfo&, EvalContext& ctx) {
  if (a[0].type == Type::kBigint) return a[0];
  if (a[0].type == Type::kDouble) return Value::Double(std::ceil(a[0].real));
  return Mismatch(ctx);
}

Value EvalRound(const Value* a, size_t n, const CallInfo& info, EvalContext& ctx) {
  const int64_t digits = n > 1 ? a[1].integer : 0;
  if (a[0].type == Type::kBigint) {
    if (digits >= 0) return a[0];
    if (digits < -18) return Value::Bigint(0);
    int64_t p = 1;
    for (int64_t i = 0; i < -digits; ++i) p *= 10;
    const int64_t x = a[0].integer;
    const int64_t q = x / p, r = x % p;
    int64_t rounded = q;
    if (r >= (p + 1) / 2) ++rounded;
    if (r <= -(p + 1) / 2) --rounded;
    int64_t out;
    if (__builtin_mul_overflow(rounded, p, &out))
      return EvalError(info, ctx, "BIGINT out of range in round()");
    return Value::Bigint(out);
  }
  if (a[0].type == Type::kDouble) {
    // Half away from zero (DuckDB; PostgreSQL's round(double) rounds half to even).
    const double x = a[0].real;
    if (digits == 0) return Value::Double(std::round(x));
    const double p = std::pow(10.0, static_cast<double>(std::clamp<int64_t>(digits, -400, 400)));
    const double r = std::round(x * p) / p;
    return Value::Double(std::isfinite(r) ? r : x);
  }
  return Mismatch(ctx);
}

Value EvalSqrt(const Value* a, size_t, const CallInfo& info, EvalContext& ctx) {
  if (a[0].real < 0)
    return EvalError(info, ctx, "cannot take the square root of a negative number");
  return Value::Double(std::sqrt(a[0].real));
}
Value EvalLn(const Value* a, size_t, const CallInfo& info, EvalContext& ctx) {
  if (a[0].real <= 0)
    return EvalError(info, ctx, "cannot take the logarithm of zero or a negative number");
  return Value::Double(std::log(a[0].real));
}
Value EvalLog10(const Value* a, size_t, const CallInfo& info, EvalContext& ctx) {
  if (a[0].real <= 0)
    return EvalError(info, ctx, "cannot take the logarithm of zero or a negative number");
  return Value::Double(std::log10(a[0].real));
}
Value EvalExp(const Value* a, size_t, const CallInfo&, EvalContext&) {
  return Value::Double(std::exp(a[0].real));
}
Value EvalPower(const Value* a, size_t, const CallInfo&, EvalContext&) {
  return Value::Double(std::pow(a[0].real, a[1].real));
}

Value EvalGreatestLeast(const Value* a, size_t n, bool greatest, EvalContext& ctx) {
  Value best;
  for (size_t i = 0; i < n; ++i) {
    if (a[i].is_null()) continue;  // NULLs are ignored, as in PostgreSQL and DuckDB
    if (best.is_null()) {
      best = a[i];
      continue;
    }
    const int c = CompareValues(a[i], best);
    if (c == kIncomparable) return Mismatch(ctx);
    if (greatest ? c > 0 : c < 0) best = a[i];
  }
  return best;
}
Value EvalGreatest(const Value* a, size_t n, const CallInfo&, EvalContext& ctx) {
  return EvalGreatestLeast(a, n, true, ctx);
}
Value EvalLeast(const Value* a, size_t n, const CallInfo&, EvalContext& ctx) {
  return EvalGreatestLeast(a, n, false, ctx);
}

Value EvalNullif(const Value* a, size_t, const CallInfo&, EvalContext&) {
  if (a[0].is_null() || a[1].is_null()) return a[0];
  return CompareValues(a[0], a[1]) == 0 ? Value() : a[0];
}

Value EvalDateTrunc(const Value* a, size_t, const CallInfo& info, EvalContext&) {
  return TruncateTime(static_cast<TimeUnit>(info.option), a[1].integer);
}

Value EvalDatePart(const Value* a, size_t, const CallInfo& info, EvalContext&) {
  const auto unit = static_cast<TimeUnit>(info.option);
  if (a[1].type == Type::kInterval) return Value::Double(static_cast<double>(a[1].integer) / 1e6);
  return ExtractPart(unit, a[1].integer);
}

Value EvalToTimestamp(const Value* a, size_t, const CallInfo& info, EvalContext& ctx) {
  const double micros = std::nearbyint(a[0].real * 1e6);
  if (!(std::fabs(micros) <= static_cast<double>(kMaxTimestampMicros)))
    return EvalError(info, ctx, "timestamp out of range in to_timestamp()");
  return Value::Timestamp(static_cast<int64_t>(micros));
}

Value EvalEpoch(const Value* a, size_t, const CallInfo&, EvalContext&) {
  return Value::Double(static_cast<double>(a[0].integer) / 1e6);
}
Value EvalEpochMs(const Value* a, size_t, const CallInfo&, EvalContext&) {
  return Value::Bigint(FloorDiv(a[0].integer, kMicrosPerMilli));
}

Value EvalCardinality(const Value* a, size_t, const CallInfo&, EvalContext& ctx) {
  const std::string_view text = a[0].str();
  if (text.empty() || text.front() != '[') return Value();
  auto* parser = static_cast<simdjson::ondemand::parser*>(ctx.json_parser());
  simdjson::padded_string_view input(text.data(), text.size(),
                                     text.size() + simdjson::SIMDJSON_PADDING);
  simdjson::ondemand::document doc;
  size_t count = 0;
  if (parser->iterate(input).get(doc) || doc.count_elements().get(count)) return Value();
  return Value::Bigint(static_cast<int64_t>(count));
}

Value EvalNotEvaluated(const Value*, size_t, const CallInfo& info, EvalContext& ctx) {
  return EvalError(info, ctx, "internal error: this function cannot be evaluated");
}

// ---- The registry -----------------------------------------------------------------------------

constexpr int kVariadic = -1;

#define OP(symbol, sig, n, strict, bind, eval)                                                   \
  {                                                                                              \
    symbol, FunctionKind::kOperator, sig, n, std::string_view(symbol) == "LIKE" ? 3 : n, strict, \
        bind, eval, ""                                                                           \
  }
#define FN(name, sig, lo, hi, strict, bind, eval, desc) \
  { name, FunctionKind::kScalar, sig, lo, hi, strict, bind, eval, desc }
#define AGG(name, sig, lo, hi, desc) \
  { name, FunctionKind::kAggregate, sig, lo, hi, false, BindAggregate, EvalNotEvaluated, desc }

const FunctionDef kFunctions[] = {
    // Operators (found by the binder from operator syntax, listed for completeness).
    OP("+", "+(number, number), +(TIMESTAMP, INTERVAL), ...", 2, true, BindArithmetic,
       EvalArithmetic),
    OP("-", "-(number, number), -(TIMESTAMP, TIMESTAMP), ...", 2, true, BindArithmetic,
       EvalArithmetic),
    OP("*", "*(number, number), *(INTERVAL, number)", 2, true, BindArithmetic, EvalArithmetic),
    OP("/", "/(number, number), /(INTERVAL, number)", 2, true, BindArithmetic, EvalArithmetic),
    OP("%", "%(number, number)", 2, true, BindArithmetic, EvalArithmetic),
    OP("||", "||(any, any) -> VARCHAR", 2, true, BindConcat, EvalConcat),
    OP("=", "=(any, any) -> BOOLEAN", 2, true, BindCompare, EvalCompare),
    OP("<>", "<>(any, any) -> BOOLEAN", 2, true, BindCompare, EvalCompare),
    OP("<", "<(any, any) -> BOOLEAN", 2, true, BindCompare, EvalCompare),
    OP("<=", "<=(any, any) -> BOOLEAN", 2, true, BindCompare, EvalCompare),
    OP(">", ">(any, any) -> BOOLEAN", 2, true, BindCompare, EvalCompare),
    OP(">=", ">=(any, any) -> BOOLEAN", 2, true, BindCompare, EvalCompare),
    OP("IS DISTINCT FROM", "IS DISTINCT FROM(any, any) -> BOOLEAN", 2, false, BindCompare,
       EvalDistinct),
    OP("IS NOT DISTINCT FROM", "IS NOT DISTINCT FROM(any, any) -> BOOLEAN", 2, false, BindCompare,
       EvalDistinct),
    OP("unary -", "-(number), -(INTERVAL)", 1, true, BindNegate, EvalNegate),
    OP("NOT", "NOT(BOOLEAN) -> BOOLEAN", 1, true, BindNot, EvalNot),
    OP("LIKE", "VARCHAR [NOT] LIKE|ILIKE pattern VARCHAR [ESCAPE VARCHAR] -> BOOLEAN", 2, true,
       BindLike, EvalLike),
    OP("IS", "x IS [NOT] NULL|TRUE|FALSE|UNKNOWN -> BOOLEAN", 1, false, BindIs, EvalIs),

    // Conditional.
    FN("coalesce", "coalesce(any, ...)", 1, kVariadic, false, nullptr, EvalNotEvaluated,
       "the first argument that is not NULL"),
    FN("nullif", "nullif(any, any)", 2, 2, false, BindNullif, EvalNullif,
       "NULL when the arguments are equal, else the first"),
    FN("greatest", "greatest(any, ...)", 1, kVariadic, false, BindGreatest, EvalGreatest,
       "the largest argument, ignoring NULLs"),
    FN("least", "least(any, ...)", 1, kVariadic, false, BindGreatest, EvalLeast,
       "the smallest argument, ignoring NULLs"),

    // Numbers.
    FN("abs", "abs(BIGINT) -> BIGINT, abs(DOUBLE) -> DOUBLE", 1, 1, true, BindNumericSame, EvalAbs,
       "absolute value"),
    FN("sign", "sign(BIGINT) -> BIGINT, sign(DOUBLE) -> DOUBLE", 1, 1, true, BindNumericSame,
       EvalSign, "-1, 0 or 1"),
    FN("round", "round(number) -> number, round(number, BIGINT) -> number", 1, 2, true, BindRound,
       EvalRound, "rounds half away from zero, to the given number of decimal digits"),
    FN("floor", "floor(BIGINT) -> BIGINT, floor(DOUBLE) -> DOUBLE", 1, 1, true, BindNumericSame,
       EvalFloor, "largest integer not greater"),
    FN("ceil", "ceil(BIGINT) -> BIGINT, ceil(DOUBLE) -> DOUBLE", 1, 1, true, BindNumericSame,
       EvalCeil, "smallest integer not smaller"),
    FN("ceiling", "ceiling(BIGINT) -> BIGINT, ceiling(DOUBLE) -> DOUBLE", 1, 1, true,
       BindNumericSame, EvalCeil, "same as ceil"),
    FN("sqrt", "sqrt(DOUBLE) -> DOUBLE", 1, 1, true, BindDoubleToDouble, EvalSqrt, "square root"),
    FN("ln", "ln(DOUBLE) -> DOUBLE", 1, 1, true, BindDoubleToDouble, EvalLn, "natural logarithm"),
    FN("log10", "log10(DOUBLE) -> DOUBLE", 1, 1, true, BindDoubleToDouble, EvalLog10,
       "base-10 logarithm"),
    FN("exp", "exp(DOUBLE) -> DOUBLE", 1, 1, true, BindDoubleToDouble, EvalExp, "e to the power"),
    FN("power", "power(DOUBLE, DOUBLE) -> DOUBLE", 2, 2, true, BindPower, EvalPower,
       "x to the power y"),
    FN("pow", "pow(DOUBLE, DOUBLE) -> DOUBLE", 2, 2, true, BindPower, EvalPower, "same as power"),

    // Strings (lengths and positions count code points).
    FN("lower", "lower(VARCHAR) -> VARCHAR", 1, 1, true, BindVarcharToVarchar, EvalLower,
       "lower case (Unicode simple case mapping)"),
    FN("upper", "upper(VARCHAR) -> VARCHAR", 1, 1, true, BindVarcharToVarchar, EvalUpper,
       "upper case (Unicode simple case mapping)"),
    FN("length", "length(VARCHAR) -> BIGINT", 1, 1, true, BindVarcharToBigint, EvalLength,
       "number of characters (code points)"),
    FN("char_length", "char_length(VARCHAR) -> BIGINT", 1, 1, true, BindVarcharToBigint, EvalLength,
       "same as length"),
    FN("character_length", "character_length(VARCHAR) -> BIGINT", 1, 1, true, BindVarcharToBigint,
       EvalLength, "same as length"),
    FN("octet_length", "octet_length(VARCHAR) -> BIGINT", 1, 1, true, BindVarcharToBigint,
       EvalOctetLength, "number of bytes (UTF-8)"),
    FN("substr", "substr(VARCHAR, BIGINT) -> VARCHAR, substr(VARCHAR, BIGINT, BIGINT) -> VARCHAR",
       2, 3, true, BindSubstr, EvalSubstr, "characters from a 1-based start, optionally a count"),
    FN("substring",
       "substring(VARCHAR, BIGINT) -> VARCHAR, substring(VARCHAR, BIGINT, BIGINT) -> VARCHAR", 2, 3,
       true, BindSubstr, EvalSubstr, "same as substr"),
    FN("trim", "trim(VARCHAR) -> VARCHAR, trim(VARCHAR, characters VARCHAR) -> VARCHAR", 1, 2, true,
       BindTrim, EvalTrim, "removes spaces (or the given characters) at both ends"),
    FN("btrim", "btrim(VARCHAR) -> VARCHAR, btrim(VARCHAR, characters VARCHAR) -> VARCHAR", 1, 2,
       true, BindTrim, EvalTrim, "same as trim"),
    FN("ltrim", "ltrim(VARCHAR) -> VARCHAR, ltrim(VARCHAR, characters VARCHAR) -> VARCHAR", 1, 2,
       true, BindTrim, EvalLtrim, "trim at the start"),
    FN("rtrim", "rtrim(VARCHAR) -> VARCHAR, rtrim(VARCHAR, characters VARCHAR) -> VARCHAR", 1, 2,
       true, BindTrim, EvalRtrim, "trim at the end"),
    FN("replace", "replace(VARCHAR, from VARCHAR, to VARCHAR) -> VARCHAR", 3, 3, true, BindReplace,
       EvalReplace, "replaces every occurrence"),
    FN("starts_with", "starts_with(VARCHAR, prefix VARCHAR) -> BOOLEAN", 2, 2, true,
       BindVarchar2ToBoolean, EvalStartsWith, "whether the string starts with the prefix"),
    FN("ends_with", "ends_with(VARCHAR, suffix VARCHAR) -> BOOLEAN", 2, 2, true,
       BindVarchar2ToBoolean, EvalEndsWith, "whether the string ends with the suffix"),
    FN("contains", "contains(VARCHAR, VARCHAR) -> BOOLEAN", 2, 2, true, BindVarchar2ToBoolean,
       EvalContains, "whether the second string occurs in the first"),
    FN("strpos", "strpos(VARCHAR, substring VARCHAR) -> BIGINT", 2, 2, true, BindVarchar2ToBigint,
       EvalStrpos, "1-based position of the substring, 0 when absent"),
    FN("instr", "instr(VARCHAR, substring VARCHAR) -> BIGINT", 2, 2, true, BindVarchar2ToBigint,
       EvalStrpos, "same as strpos"),
    FN("split_part", "split_part(VARCHAR, delimiter VARCHAR, BIGINT) -> VARCHAR", 3, 3, true,
       BindSplitPart, EvalSplitPart, "the n-th field (1-based; negative counts from the end)"),
    FN("left", "left(VARCHAR, BIGINT) -> VARCHAR", 2, 2, true, BindLeftRight, EvalLeft,
       "the first n characters (all but the last -n when negative)"),
    FN("right", "right(VARCHAR, BIGINT) -> VARCHAR", 2, 2, true, BindLeftRight, EvalRight,
       "the last n characters (all but the first -n when negative)"),
    FN("concat", "concat(any, ...) -> VARCHAR", 1, kVariadic, false, BindAnyToVarchar,
       EvalConcatFunction, "the arguments as text, NULLs skipped"),
    FN("concat_ws", "concat_ws(separator VARCHAR, any, ...) -> VARCHAR", 2, kVariadic, false,
       BindConcatWs, EvalConcatWs, "the arguments as text with a separator, NULLs skipped"),

    // Times (UTC).
    FN("date_trunc", "date_trunc(unit VARCHAR, TIMESTAMP) -> TIMESTAMP", 2, 2, true, BindDateTrunc,
       EvalDateTrunc, "the start of the unit (minute, hour, day, week, month...)"),
    FN("date_part", "date_part(field VARCHAR, TIMESTAMP) -> BIGINT (DOUBLE for epoch)", 2, 2, true,
       BindDatePart, EvalDatePart, "same as EXTRACT(field FROM ts)"),
    FN("to_timestamp", "to_timestamp(seconds DOUBLE) -> TIMESTAMP", 1, 1, true, BindToTimestamp,
       EvalToTimestamp, "seconds since the epoch as a TIMESTAMP"),
    FN("epoch", "epoch(TIMESTAMP) -> DOUBLE", 1, 1, true, BindEpoch, EvalEpoch,
       "seconds since the epoch"),
    FN("epoch_ms", "epoch_ms(TIMESTAMP) -> BIGINT", 1, 1, true, BindEpochMs, EvalEpochMs,
       "milliseconds since the epoch"),
    FN("now", "now() -> not allowed", 0, kVariadic, false, BindNotDeterministic, EvalNotEvaluated,
       "not allowed in views (not deterministic)"),
    FN("current_timestamp", "current_timestamp -> not allowed", 0, kVariadic, false,
       BindNotDeterministic, EvalNotEvaluated, "not allowed in views (not deterministic)"),
    FN("current_date", "current_date -> not allowed", 0, kVariadic, false, BindNotDeterministic,
       EvalNotEvaluated, "not allowed in views (not deterministic)"),
    FN("random", "random() -> not allowed", 0, kVariadic, false, BindNotDeterministic,
       EvalNotEvaluated, "not allowed in views (not deterministic)"),

    // JSON.
    FN("cardinality", "cardinality(JSON array) -> BIGINT", 1, 1, true, BindCardinality,
       EvalCardinality, "number of elements of an array (NULL for anything else)"),
    FN("json_array_length", "json_array_length(JSON array) -> BIGINT", 1, 1, true, BindCardinality,
       EvalCardinality, "same as cardinality"),

    // Aggregates: bound by the planner, listed so that errors can name them.
    AGG("count", "count(*), count(any), count(DISTINCT any)", 0, 1, "number of rows / values"),
    AGG("sum", "sum(number)", 1, 1, "sum"),
    AGG("min", "min(any)", 1, 1, "smallest value"),
    AGG("max", "max(any)", 1, 1, "largest value"),
    AGG("avg", "avg(number)", 1, 1, "mean"),
    AGG("approx_count_distinct", "approx_count_distinct(any)", 1, 1, "distinct values (HLL)"),
    AGG("approx_percentile", "approx_percentile(number, fraction DOUBLE)", 2, 2,
        "approximate percentile"),
    AGG("first_value", "first_value(any)", 1, 1, "value of the first row in event time"),
    AGG("last_value", "last_value(any)", 1, 1, "value of the last row in event time"),
};

#undef OP
#undef FN
#undef AGG

}  // namespace

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

namespace {

const FunctionDef& ByName(std::string_view name) {
  const FunctionDef* f = FindFunction(name);
  return *f;
}

}  // namespace

std::span<const FunctionDef> AllFunctions() {
  return kFunctions;
}

const FunctionDef* FindFunction(std::string_view name) {
  for (const FunctionDef& f : kFunctions)
    if (f.name == name) return &f;
  return nullptr;
}

std::vector<std::string_view> SimilarFunctionNames(std::string_view name) {
  std::vector<std::pair<size_t, std::string_view>> scored;
  for (const FunctionDef& f : kFunctions) {
    if (f.kind == FunctionKind::kOperator) continue;
    const size_t d = EditDistance(name, f.name);
    const size_t limit = std::max<size_t>(1, std::min(name.size(), f.name.size()) / 3);
    if (d <= limit) scored.emplace_back(d, f.name);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string_view> out;
  for (size_t i = 0; i < scored.size() && i < 3; ++i) out.push_back(scored[i].second);
  return out;
}

const FunctionDef& OperatorFunction(BinaryOperator op) {
  switch (op) {
    case BinaryOperator::kAdd:
      return ByName("+");
    case BinaryOperator::kSub:
      return ByName("-");
    case BinaryOperator::kMul:
      return ByName("*");
    case BinaryOperator::kDiv:
      return ByName("/");
    case BinaryOperator::kMod:
      return ByName("%");
    case BinaryOperator::kConcat:
      return ByName("||");
    case BinaryOperator::kEq:
      return ByName("=");
    case BinaryOperator::kNotEq:
      return ByName("<>");
    case BinaryOperator::kLt:
      return ByName("<");
    case BinaryOperator::kLtEq:
      return ByName("<=");
    case BinaryOperator::kGt:
      return ByName(">");
    case BinaryOperator::kGtEq:
      return ByName(">=");
    case BinaryOperator::kIsDistinctFrom:
      return ByName("IS DISTINCT FROM");
    case BinaryOperator::kIsNotDistinctFrom:
      return ByName("IS NOT DISTINCT FROM");
    default:  // AND / OR are not functions (they are lazy); the binder never asks
      return ByName("NOT");
  }
}

const FunctionDef& NegateFunction() {
  return ByName("unary -");
}
const FunctionDef& NotFunction() {
  return ByName("NOT");
}
const FunctionDef& IsFunction(IsPredicate) {
  return ByName("IS");
}

}  // namespace sluice::sql
