#include "base/time.h"

#include <cctype>
#include <cstdio>

#include <fmt/format.h>

namespace sluice {
namespace {

bool IsLeap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` digits at `pos`; false when they are not all digits.
bool Digits(std::string_view s, size_t pos, size_t n, unsigned& out) {
  if (pos + n > s.size()) return false;
  unsigned v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  out = v;
  return true;
}

Status Bad(std::string_view text, std::string_view why) {
  return Status::InvalidArgument(
      fmt::format("'{}' is not an RFC 3339 date-time: {}", text.substr(0, 64), why));
}

}  // namespace

// Howard Hinnant's algorithms (days_from_civil, civil_from_days).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

Result<int64_t> ParseRfc3339(std::string_view s) {
  unsigned year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, year) || s.size() < 5 || s[4] != '-') return Bad(s, "expected YYYY-");
  if (!Digits(s, 5, 2, month) || s.size() < 8 || s[7] != '-') return Bad(s, "expected MM-");
  if (!Digits(s, 8, 2, day)) return Bad(s, "expected DD");
  if (month < 1 || month > 12) return Bad(s, "month out of range");
  if (day < 1 || day > DaysInMonth(year, month)) return Bad(s, "day out of range");
  if (s.size() < 11 || (s[10] != 'T' && s[10] != 't' && s[10] != ' '))
    return Bad(s, "expected 'T' between date and time");
  if (!Digits(s, 11, 2, hour) || s.size() < 14 || s[13] != ':') return Bad(s, "expected hh:");
  if (!Digits(s, 14, 2, minute) || s.size() < 17 || s[16] != ':') return Bad(s, "expected mm:");
  if (!Digits(s, 17, 2, second)) return Bad(s, "expected ss");
  if (hour > 23 || minute > 59 || second > 60) return Bad(s, "time out of range");
  if (second == 60) second = 59;  // leap second: clamp, as most systems do
  size_t pos = 19;
  int64_t fraction_micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      fraction_micros += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return Bad(s, "expected digits after '.'");
  }
  if (pos >= s.size()) return Bad(s, "missing time zone offset ('Z' or +hh:mm)");
  int64_t offset_seconds = 0;
  char z = s[pos];
  if (z == 'Z' || z == 'z') {
    ++pos;
  } else if (z == '+' || z == '-') {
    unsigned oh, om;
    if (!Digits(s, pos + 1, 2, oh) || s.size() < pos + 4 || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, om))
      return Bad(s, "expected time zone offset as +hh:mm");
    if (oh > 23 || om > 59) return Bad(s, "time zone offset out of range");
    offset_seconds = (z == '+' ? 1 : -1) * static_cast<int64_t>(oh * 3600 + om * 60);
    pos += 6;
  } else {
    return Bad(s, "expected 'Z' or +hh:mm after the time");
  }
  if (pos != s.size()) return Bad(s, "unexpected characters after the time zone");
  int64_t days = DaysFromCivil(year, month, day);
  int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
  return secs * kMicrosPerSecond + fraction_micros;
}

namespace {

// `value` as exactly `digits` decimal digits (zero-padded) at `p`; returns the end.
char* PutDigits(char* p, unsigned value, int digits) {
  for (int i = digits - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return p + digits;
}

}  // namespace

void AppendRfc3339(std::string& out, int64_t micros) {
  int64_t secs = FloorDiv(micros, kMicrosPerSecond);
  int64_t frac = micros - secs * kMicrosPerSecond;
  int64_t days = FloorDiv(secs, 86400);
  int64_t sod = secs - days * 86400;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  char buf[48];
  int n;
  if (y >= 0 && y <= 9999) {
    // Every view row formats its window bounds: by hand, not through snprintf.
    char* p = PutDigits(buf, static_cast<unsigned>(y), 4);
    *p++ = '-';
    p = PutDigits(p, m, 2);
    *p++ = '-';
    p = PutDigits(p, d, 2);
    *p++ = 'T';
    p = PutDigits(p, static_cast<unsigned>(sod / 3600), 2);
    *p++ = ':';
    p = PutDigits(p, static_cast<unsigned>(sod / 60 % 60), 2);
    *p++ = ':';
    p = PutDigits(p, static_cast<unsigned>(sod % 60), 2);
    if (frac != 0) {
      *p++ = '.';
      p = frac % 1000 == 0 ? PutDigits(p, static_cast<unsigned>(frac / 1000), 3)
                           : PutDigits(p, static_cast<unsigned>(frac), 6);
    }
    *p++ = 'Z';
    out.append(buf, static_cast<size_t>(p - buf));
    return;
  }
  if (frac == 0) {
    n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02dZ",
                      static_cast<long long>(y), m, d, static_cast<int>(sod / 3600),
                      static_cast<int>(sod / 60 % 60), static_cast<int>(sod % 60));
  } else if (frac % 1000 == 0) {
    n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ",
                      static_cast<long long>(y), m, d, static_cast<int>(sod / 3600),
                      static_cast<int>(sod / 60 % 60), static_cast<int>(sod % 60),
                      static_cast<int>(frac / 1000));
  } else {
    n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d.%06dZ",
                      static_cast<long long>(y), m, d, static_cast<int>(sod / 3600),
                      static_cast<int>(sod / 60 % 60), static_cast<int>(sod % 60),
                      static_cast<int>(frac));
  }
  out.append(buf, static_cast<size_t>(n));
}

std::string FormatRfc3339(int64_t micros) {
  std::string s;
  AppendRfc3339(s, micros);
  return s;
}

Result<int64_t> ParseDuration(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
  size_t start = pos;
  int64_t amount = 0;
  while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
    amount = amount * 10 + (text[pos] - '0');
    if (amount > (int64_t{1} << 40)) return Status::InvalidArgument("duration too large");
    ++pos;
  }
  if (pos == start)
    return Status::InvalidArgument(
        fmt::format("'{}' is not a duration (expected e.g. '7 days', '5 seconds', '250ms')", text));
  while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
  std::string unit;
  for (; pos < text.size(); ++pos) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(text[pos])));
    if (std::isspace(static_cast<unsigned char>(c))) break;
    unit += c;
  }
  while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
  if (pos != text.size())
    return Status::InvalidArgument(fmt::format("'{}': unexpected text after the unit", text));
  struct Unit {
    const char* names[4];
    int64_t micros;
  };
  static const Unit kUnits[] = {
      {{"us", "microsecond", "microseconds", nullptr}, 1},
      {{"ms", "millisecond", "milliseconds", nullptr}, kMicrosPerMilli},
      {{"s", "sec", "second", "seconds"}, kMicrosPerSecond},
      {{"m", "min", "minute", "minutes"}, kMicrosPerMinute},
      {{"h", "hour", "hours", nullptr}, kMicrosPerHour},
      {{"d", "day", "days", nullptr}, kMicrosPerDay},
      {{"w", "week", "weeks", nullptr}, 7 * kMicrosPerDay},
      {{"y", "year", "years", nullptr}, 365 * kMicrosPerDay},
  };
  for (const Unit& u : kUnits) {
    for (const char* name : u.names) {
      if (name != nullptr && unit == name) return amount * u.micros;
    }
  }
  return Status::InvalidArgument(
      fmt::format("'{}': unknown duration unit '{}' (use ms, seconds, minutes, hours, days, years)",
                  text, unit));
}

}  // namespace sluice
