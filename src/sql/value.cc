#include "sql/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <simdjson.h>

#include "base/clock.h"
#include "base/time.h"

namespace sluice::sql {

static_assert(kJsonPadding >= simdjson::SIMDJSON_PADDING);

std::string_view TypeName(Type type) {
  switch (type) {
    case Type::kNull:
      return "NULL";
    case Type::kBoolean:
      return "BOOLEAN";
    case Type::kBigint:
      return "BIGINT";
    case Type::kDouble:
      return "DOUBLE";
    case Type::kVarchar:
      return "VARCHAR";
    case Type::kTimestamp:
      return "TIMESTAMP";
    case Type::kDate:
      return "DATE";
    case Type::kInterval:
      return "INTERVAL";
    case Type::kJson:
      return "JSON";
    case Type::kAny:
      return "ANY";
  }
  return "?";
}

// ---- Arena ------------------------------------------------------------------------------------

char* Arena::Allocate(size_t n) {
  const size_t need = n + kJsonPadding;
  while (current_ < blocks_.size()) {
    if (sizes_[current_] - used_ >= need) {
      char* p = blocks_[current_].get() + used_;
      used_ += (need + 7) & ~size_t{7};
      used_ = std::min(used_, sizes_[current_]);
      return p;
    }
    ++current_;
    used_ = 0;
  }
  const size_t size = std::max<size_t>(need, blocks_.empty() ? 4096 : sizes_.back() * 2);
  blocks_.push_back(std::make_unique<char[]>(size));
  sizes_.push_back(size);
  current_ = blocks_.size() - 1;
  used_ = std::min((need + 7) & ~size_t{7}, size);
  return blocks_.back().get();
}

void Arena::Reset() {
  // Keep only the largest block: after a few rows its size covers a row's needs, and then Reset()
  // and Allocate() never touch the heap.
  if (blocks_.size() > 1) {
    auto largest = std::max_element(sizes_.begin(), sizes_.end()) - sizes_.begin();
    std::swap(blocks_[0], blocks_[static_cast<size_t>(largest)]);
    std::swap(sizes_[0], sizes_[static_cast<size_t>(largest)]);
    blocks_.resize(1);
    sizes_.resize(1);
  }
  current_ = 0;
  used_ = 0;
}

size_t Arena::capacity() const {
  size_t total = 0;
  for (size_t s : sizes_) total += s;
  return total;
}

// ---- Text forms -------------------------------------------------------------------------------

namespace {

void AppendDouble(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "nan";
    return;
  }
  if (std::isinf(d)) {
    out += d < 0 ? "-inf" : "inf";
    return;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  (void)ec;  // 64 bytes hold any shortest double
  std::string_view s(buf, static_cast<size_t>(end - buf));
  out += s;
  // "100" reads as an integer; DuckDB and PostgreSQL's float output keep it visibly a double.
  if (s.find_first_of(".en") == std::string_view::npos) out += ".0";
}

void AppendFraction(std::string& out, int64_t micros) {
  if (micros == 0) return;
  char buf[8];
  int n = 6;
  while (micros % 10 == 0) {
    micros /= 10;
    --n;
  }
  for (int i = n - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + micros % 10);
    micros /= 10;
  }
  out += '.';
  out.append(buf, static_cast<size_t>(n));
}

void AppendDateText(std::string& out, int64_t days) {
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  if (y < 0 || y > 9999) {
    out += fmt::format("{}-{:02}-{:02}", y, m, d);
  } else {
    out += fmt::format("{:04}-{:02}-{:02}", y, m, d);
  }
}

void AppendTimestampText(std::string& out, int64_t micros) {
  const int64_t days = FloorDiv(micros, kMicrosPerDay);
  const int64_t in_day = micros - days * kMicrosPerDay;
  AppendDateText(out, days);
  const int64_t secs = in_day / kMicrosPerSecond;
  out += fmt::format(" {:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
  AppendFraction(out, in_day % kMicrosPerSecond);
}

void AppendIntervalText(std::string& out, int64_t micros) {
  // |INT64_MIN| does not fit an int64; as unsigned it does.
  uint64_t magnitude =
      micros < 0 ? 0 - static_cast<uint64_t>(micros) : static_cast<uint64_t>(micros);
  if (micros < 0) out += '-';
  const uint64_t secs = magnitude / 1000000;
  out += fmt::format("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
  AppendFraction(out, static_cast<int64_t>(magnitude % 1000000));
}

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      switch (c) {
        case '\n':
          out += "\\n";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\r':
          out += "\\r";
          break;
        default:
          out += fmt::format("\\u{:04x}", u);
      }
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace

void AppendText(std::string& out, const Value& v) {
  switch (v.type) {
    case Type::kNull:
    case Type::kAny:
      return;
    case Type::kBoolean:
      out += v.boolean ? "true" : "false";
      return;
    case Type::kBigint:
      out += fmt::format("{}", v.integer);
      return;
    case Type::kDouble:
      AppendDouble(out, v.real);
      return;
    case Type::kVarchar:
    case Type::kJson:
      out += v.str();
      return;
    case Type::kTimestamp:
      AppendTimestampText(out, v.integer);
      return;
    case Type::kDate:
      AppendDateText(out, v.integer);
      return;
    case Type::kInterval:
      AppendIntervalText(out, v.integer);
      return;
  }
}

void AppendJson(std::string& out, const Value& v) {
  switch (v.type) {
    case Type::kNull:
    case Type::kAny:
      out += "null";
      return;
    case Type::kBoolean:
    case Type::kBigint:
      AppendText(out, v);
      return;
    case Type::kDouble:
      if (!std::isfinite(v.real)) {
        out += "null";
      } else {
        AppendDouble(out, v.real);
      }
      return;
    case Type::kVarchar:
      AppendJsonString(out, v.str());
      return;
    case Type::kJson:
      out += v.str();
      return;
    case Type::kTimestamp:
      out += '"';
      AppendRfc3339(out, v.integer);
      out += '"';
      return;
    case Type::kDate:
    case Type::kInterval: {
      std::string text;
      AppendText(text, v);
      AppendJsonString(out, text);
      return;
    }
  }
}

// ---- Parsing ----------------------------------------------------------------------------------

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string Shorten(std::string_view s) {
  return s.size() <= 64 ? std::string(s) : std::string(s.substr(0, 61)) + "...";
}

Status BadInput(std::string_view type, std::string_view text) {
  return Status::InvalidArgument(fmt::format("invalid input for {}: '{}'", type, Shorten(text)));
}

// "YYYY-MM-DD" exactly.
bool ParsePlainDate(std::string_view s, int64_t& days) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  unsigned parts[3] = {0, 0, 0};
  const size_t starts[3] = {0, 5, 8}, lengths[3] = {4, 2, 2};
  for (int i = 0; i < 3; ++i) {
    for (size_t k = 0; k < lengths[i]; ++k) {
      const char c = s[starts[i] + k];
      if (c < '0' || c > '9') return false;
      parts[i] = parts[i] * 10 + static_cast<unsigned>(c - '0');
    }
  }
  static constexpr unsigned kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (parts[0] % 4 == 0 && parts[0] % 100 != 0) || parts[0] % 400 == 0;
  if (parts[1] < 1 || parts[1] > 12 || parts[2] < 1 || parts[2] > kDays[parts[1] - 1] ||
      (parts[1] == 2 && parts[2] == 29 && !leap))
    return false;
  days = DaysFromCivil(parts[0], parts[1], parts[2]);
  return true;
}

}  // namespace

Result<int64_t> ParseBigint(std::string_view text) {
  std::string_view s = Trim(text);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec == std::errc::result_out_of_range)
    return Status::InvalidArgument(
        fmt::format("'{}' is out of range for BIGINT", Shorten(Trim(text))));
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return BadInput("BIGINT", text);
  return value;
}

Result<double> ParseDouble(std::string_view text) {
  std::string_view s = Trim(text);
  bool negative = false;
  std::string_view word = s;
  if (!word.empty() && (word.front() == '-' || word.front() == '+')) {
    negative = word.front() == '-';
    word.remove_prefix(1);
  }
  if (EqualsIgnoreCase(word, "inf") || EqualsIgnoreCase(word, "infinity"))
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  if (EqualsIgnoreCase(word, "nan")) return std::numeric_limits<double>::quiet_NaN();
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec == std::errc::result_out_of_range)
    return Status::InvalidArgument(
        fmt::format("'{}' is out of range for DOUBLE", Shorten(Trim(text))));
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return BadInput("DOUBLE", text);
  return value;
}

Result<bool> ParseBoolean(std::string_view text) {
  std::string_view s = Trim(text);
  for (std::string_view t : {"true", "t", "yes", "y", "on", "1"})
    if (EqualsIgnoreCase(s, t)) return true;
  for (std::string_view f : {"false", "f", "no", "n", "off", "0"})
    if (EqualsIgnoreCase(s, f)) return false;
  return BadInput("BOOLEAN", text);
}

Result<int64_t> ParseTimestamp(std::string_view text) {
  std::string_view s = Trim(text);
  if (int64_t days; ParsePlainDate(s, days)) return days * kMicrosPerDay;
  Result<int64_t> parsed = ParseRfc3339(s);
  if (parsed.ok()) return parsed;
  // Without an offset the text is UTC, the one time zone of Sluice.
  if (s.size() < 48) {
    char buf[49];
    std::memcpy(buf, s.data(), s.size());
    buf[s.size()] = 'Z';
    Result<int64_t> utc = ParseRfc3339(std::string_view(buf, s.size() + 1));
    if (utc.ok()) return utc;
  }
  return Status::InvalidArgument(fmt::format(
      "invalid input for TIMESTAMP: '{}' (expected RFC 3339, e.g. '2026-11-25T08:30:00Z')",
      Shorten(text)));
}

Result<int64_t> ParseDate(std::string_view text) {
  int64_t days;
  if (ParsePlainDate(Trim(text), days)) return days;
  Result<int64_t> ts = ParseTimestamp(text);
  if (!ts.ok()) return BadInput("DATE", text);
  return FloorDiv(*ts, kMicrosPerDay);
}

namespace {

// Microseconds per unit word, or 0 for an unknown word; -1 for months and years.
int64_t IntervalUnitMicros(std::string_view unit) {
  struct Unit {
    std::string_view names[4];
    int64_t micros;
  };
  static constexpr Unit kUnits[] = {
      {{"us", "microsecond", "microseconds", "usec"}, 1},
      {{"ms", "millisecond", "milliseconds", "msec"}, kMicrosPerMilli},
      {{"s", "second", "seconds", "sec"}, kMicrosPerSecond},
      {{"m", "minute", "minutes", "min"}, kMicrosPerMinute},
      {{"h", "hour", "hours", "hr"}, kMicrosPerHour},
      {{"d", "day", "days", ""}, kMicrosPerDay},
      {{"w", "week", "weeks", ""}, 7 * kMicrosPerDay},
      {{"mon", "month", "months", "mons"}, -1},
      {{"y", "year", "years", "yr"}, -1},
  };
  for (const Unit& u : kUnits)
    for (std::string_view name : u.names)
      if (!name.empty() && EqualsIgnoreCase(unit, name)) return u.micros;
  if (EqualsIgnoreCase(unit, "secs") || EqualsIgnoreCase(unit, "mins") ||
      EqualsIgnoreCase(unit, "hrs"))
    return unit[0] == 's' ? kMicrosPerSecond : unit[0] == 'm' ? kMicrosPerMinute : kMicrosPerHour;
  return 0;
}

Status MonthsNotSupported(std::string_view text) {
  return Status::InvalidArgument(fmt::format(
      "interval '{}': months and years are not supported (their length varies); use days",
      Shorten(text)));
}

// amount * unit, rounded to the microsecond, range-checked.
bool ScaleInterval(double amount, int64_t unit, int64_t& out) {
  const double micros = std::nearbyint(amount * static_cast<double>(unit));
  if (!(std::fabs(micros) < 9.2e18)) return false;
  out = static_cast<int64_t>(micros);
  return true;
}

// "[-]HH:MM[:SS[.f]]" -> micros.
bool ParseClock(std::string_view s, int64_t& out) {
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  int64_t parts[3] = {0, 0, 0};
  int count = 0;
  double fraction = 0;
  while (count < 3) {
    size_t i = 0;
    int64_t v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i < 12) v = v * 10 + (s[i++] - '0');
    if (i == 0) return false;
    parts[count++] = v;
    s.remove_prefix(i);
    if (s.empty()) break;
    if (s.front() == '.' && count >= 2) {
      Result<double> f = ParseDouble(std::string("0") + std::string(s));
      if (!f.ok()) return false;
      fraction = *f;
      s = {};
      break;
    }
    if (s.front() != ':') return false;
    s.remove_prefix(1);
  }
  if (!s.empty() || count < 2) return false;
  double micros = static_cast<double>(parts[0]) * kMicrosPerHour +
                  static_cast<double>(parts[1]) * kMicrosPerMinute +
                  (static_cast<double>(parts[2]) + fraction) * kMicrosPerSecond;
  if (negative) micros = -micros;
  return ScaleInterval(micros, 1, out);
}

}  // namespace

Result<int64_t> ParseInterval(std::string_view text) {
  std::string_view s = Trim(text);
  if (s.empty()) return BadInput("INTERVAL", text);
  int64_t total = 0;
  auto add = [&](int64_t v) { return !__builtin_add_overflow(total, v, &total); };
  // ISO 8601 durations: P[nD]T[nH][nM][nS], PnW.
  if (s.front() == 'P' || s.front() == 'p') {
    bool in_time = false;
    std::string_view rest = s.substr(1);
    if (rest.empty()) return BadInput("INTERVAL", text);
    while (!rest.empty()) {
      if (rest.front() == 'T' || rest.front() == 't') {
        in_time = true;
        rest.remove_prefix(1);
        continue;
      }
      size_t i = 0;
      while (i < rest.size() && ((rest[i] >= '0' && rest[i] <= '9') || rest[i] == '.')) ++i;
      if (i == 0 || i == rest.size()) return BadInput("INTERVAL", text);
      Result<double> amount = ParseDouble(rest.substr(0, i));
      if (!amount.ok()) return BadInput("INTERVAL", text);
      const char unit = static_cast<char>(rest[i] | 0x20);
      int64_t micros = 0;
      if (!in_time && (unit == 'y' || unit == 'm')) return MonthsNotSupported(text);
      if (!in_time && unit == 'w') micros = 7 * kMicrosPerDay;
      if (!in_time && unit == 'd') micros = kMicrosPerDay;
      if (in_time && unit == 'h') micros = kMicrosPerHour;
      if (in_time && unit == 'm') micros = kMicrosPerMinute;
      if (in_time && unit == 's') micros = kMicrosPerSecond;
      int64_t part;
      if (micros == 0 || !ScaleInterval(*amount, micros, part) || !add(part))
        return BadInput("INTERVAL", text);
      rest.remove_prefix(i + 1);
    }
    return total;
  }
  // A sequence of "<number> <unit>" and at most one clock "HH:MM[:SS]", e.g. "1 day 02:00:00".
  // A bare number is seconds ("90" = 90 seconds), as in PostgreSQL.
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t' &&
           !(i > 0 && std::isalpha(static_cast<unsigned char>(s[i])) &&
             !std::isalpha(static_cast<unsigned char>(s[i - 1]))))
      ++i;
    std::string_view token = s.substr(0, i);
    s = Trim(s.substr(i));
    if (token.find(':') != std::string_view::npos) {
      int64_t clock;
      if (!ParseClock(token, clock) || !add(clock)) return BadInput("INTERVAL", text);
      continue;
    }
    Result<double> amount = ParseDouble(token);
    if (!amount.ok() || !std::isfinite(*amount)) return BadInput("INTERVAL", text);
    size_t j = 0;
    while (j < s.size() && std::isalpha(static_cast<unsigned char>(s[j]))) ++j;
    int64_t unit = kMicrosPerSecond;
    if (j > 0) {
      unit = IntervalUnitMicros(s.substr(0, j));
      if (unit < 0) return MonthsNotSupported(text);
      if (unit == 0) return BadInput("INTERVAL", text);
      s = Trim(s.substr(j));
    }
    int64_t part;
    if (!ScaleInterval(*amount, unit, part) || !add(part)) return BadInput("INTERVAL", text);
  }
  return total;
}

}  // namespace sluice::sql
