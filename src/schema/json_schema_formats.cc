// Formats and patterns, with ajv's semantics: the `format` checks of ajv-formats 3 ("full" mode,
// node_modules/ajv-formats/dist/formats.js) and ECMAScript regular expressions translated to RE2.
#include <charconv>
#include <cmath>
#include <cstdint>

#include <fmt/format.h>

#include "schema/json_schema_internal.h"

namespace sluice::schema::internal {
namespace {

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

int TwoDigits(std::string_view s, size_t pos) {
  return (s[pos] - '0') * 10 + (s[pos + 1] - '0');
}

// Decodes one UTF-8 code point at `pos` (the input is valid UTF-8: simdjson checked it).
uint32_t DecodeUtf8(std::string_view s, size_t& pos) {
  auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(s[i])); };
  uint32_t c = byte(pos);
  if (c < 0x80) {
    pos += 1;
    return c;
  }
  if (c < 0xE0 && pos + 1 < s.size()) {
    uint32_t cp = ((c & 0x1F) << 6) | (byte(pos + 1) & 0x3F);
    pos += 2;
    return cp;
  }
  if (c < 0xF0 && pos + 2 < s.size()) {
    uint32_t cp = ((c & 0x0F) << 12) | ((byte(pos + 1) & 0x3F) << 6) | (byte(pos + 2) & 0x3F);
    pos += 3;
    return cp;
  }
  if (pos + 3 < s.size()) {
    uint32_t cp = ((c & 0x07) << 18) | ((byte(pos + 1) & 0x3F) << 12) |
                  ((byte(pos + 2) & 0x3F) << 6) | (byte(pos + 3) & 0x3F);
    pos += 4;
    return cp;
  }
  pos = s.size();
  return 0xFFFD;
}

// JavaScript's \s: WhiteSpace and LineTerminator code points.
bool IsJsWhitespace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

// Whether the digits at s[0..9] of "YYYY-MM-DD" name a real calendar day.
bool IsCalendarDay(std::string_view s) {
  int year = TwoDigits(s, 0) * 100 + TwoDigits(s, 2);
  int month = TwoDigits(s, 5);
  int day = TwoDigits(s, 8);
  static constexpr int kDays[] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
  return month >= 1 && month <= 12 && day >= 1 && day <= (month == 2 && leap ? 29 : kDays[month]);
}

// ajv-formats `date`: /^(\d\d\d\d)-(\d\d)-(\d\d)$/ and a real calendar day.
bool IsDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (!IsDigit(s[i])) return false;
  return IsCalendarDay(s);
}

// ajv-formats `time` (strict_zone) and `iso-time`:
// /^(\d\d):(\d\d):(\d\d(?:\.\d+)?)(z|([+-])(\d\d)(?::?(\d\d))?)?$/i, then range checks that
// allow a leap second only at 23:59 UTC.
bool IsTime(std::string_view s, bool strict_zone) {
  if (s.size() < 8 || s[2] != ':' || s[5] != ':') return false;
  for (size_t i : {0, 1, 3, 4, 6, 7})
    if (!IsDigit(s[i])) return false;
  size_t pos = 8;
  if (pos < s.size() && s[pos] == '.') {
    size_t digits = pos + 1;
    while (digits < s.size() && IsDigit(s[digits])) ++digits;
    if (digits == pos + 1) return false;
    pos = digits;
  }
  // JavaScript's +"59.99999999999999999" is 60: parse exactly (from_chars rounds correctly)
  // whenever the fraction could round up to the next second that matters.
  double sec = TwoDigits(s, 6);
  if (pos > 8 && sec >= 59) std::from_chars(s.data() + 6, s.data() + pos, sec);
  int hr = TwoDigits(s, 0), min = TwoDigits(s, 3);
  bool zone = false;
  int sign = 1, zone_h = 0, zone_m = 0;
  if (pos < s.size()) {
    char c = s[pos];
    if (c == 'z' || c == 'Z') {
      zone = true;
      ++pos;
    } else if (c == '+' || c == '-') {
      if (pos + 3 > s.size() || !IsDigit(s[pos + 1]) || !IsDigit(s[pos + 2])) return false;
      zone = true;
      sign = c == '-' ? -1 : 1;
      zone_h = TwoDigits(s, pos + 1);
      pos += 3;
      size_t m = pos < s.size() && s[pos] == ':' ? pos + 1 : pos;
      if (m + 2 <= s.size() && IsDigit(s[m]) && IsDigit(s[m + 1])) {
        zone_m = TwoDigits(s, m);
        pos = m + 2;
      }
    } else {
      return false;
    }
  }
  if (pos != s.size()) return false;
  if (zone_h > 23 || zone_m > 59 || (strict_zone && !zone)) return false;
  if (hr <= 23 && min <= 59 && sec < 60) return true;
  int utc_min = min - zone_m * sign;
  int utc_hr = hr - zone_h * sign - (utc_min < 0 ? 1 : 0);
  return (utc_hr == 23 || utc_hr == -1) && (utc_min == 59 || utc_min == -1) && sec < 61;
}

// Eight characters of a fixed-width format: 'd' a digit, anything else that character.
struct WordShape {
  uint64_t digits = 0;    // 0xFF in the bytes of digits
  uint64_t literals = 0;  // the other bytes' characters
};
constexpr WordShape Shape(const char (&text)[9]) {
  WordShape shape;
  for (int i = 0; i < 8; ++i) {
    if (text[i] == 'd') {
      shape.digits |= uint64_t{0xFF} << (8 * i);
    } else {
      shape.literals |= uint64_t{static_cast<unsigned char>(text[i])} << (8 * i);
    }
  }
  return shape;
}
// Whether the 8 bytes `word` (little-endian) have `shape`, in a dozen instructions: a digit
// byte d has its high bit clear, and d + 0x50 sets it (d >= '0') while d + 0x46 does not
// (d <= '9'); the additions cannot carry between bytes unless a high bit was already set.
bool HasShape(uint64_t word, WordShape shape) {
  const uint64_t ones = shape.digits & 0x0101010101010101ull;
  const uint64_t high = ones << 7;
  const uint64_t d = word & shape.digits;
  return (word & ~shape.digits) == shape.literals && ((d | (d + 0x46 * ones)) & high) == 0 &&
         ((d + 0x50 * ones) & high) == high;
}

// ajv-formats `date-time`: str.split(/t|\s/i) must give exactly [date, time]. A valid date is
// exactly 10 ASCII characters without a separator, so the one separator must start at byte 10,
// and the time part may hold no other (IsTime rejects 't' and whitespace anyway).
bool IsDateTime(std::string_view s, bool strict_zone) {
  if (s.size() < 11 || !IsDate(s.substr(0, 10))) return false;
  size_t pos = 10;
  uint32_t cp = DecodeUtf8(s, pos);
  if (cp != 't' && cp != 'T' && !IsJsWhitespace(cp)) return false;
  return IsTime(s.substr(pos), strict_zone);
}

// ajv-formats' case-insensitive (/i) regular expressions, written with explicit ASCII case
// ranges: RE2's (?i) would also fold U+212A KELVIN SIGN and U+017F LONG S into k and s, which
// JavaScript does not.
const RE2& FormatRegex(Format f) {
  static const RE2 kEmail(
      "^[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+)*@"
      "(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?\\.)+[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$");
  static const RE2 kUuid(
      "^(?:[uU][rR][nN]:[uU][uU][iI][dD]:)?[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$");
  static const RE2 kIpv4(
      "^(?:(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)$");
  // Without ajv's lookahead (?=.{1,253}\.?$), which IsHostname checks by length.
  static const RE2 kHostname(
      "^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
      "(?:\\.[a-zA-Z0-9](?:[-0-9a-zA-Z]{0,61}[0-9a-zA-Z])?)*\\.?$");
  // ajv: /^P(?!$)((\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?|(\d+W)?)$/; the
  // lookaheads become "something after P" (checked in code) and "T is followed by at least one
  // of H, M, S".
  static const RE2 kDuration(
      "^P(?:(?:\\d+Y)?(?:\\d+M)?(?:\\d+D)?"
      "(?:T(?:\\d+H(?:\\d+M)?(?:\\d+S)?|\\d+M(?:\\d+S)?|\\d+S))?|(?:\\d+W)?)$");
  switch (f) {
    case Format::kEmail:
      return kEmail;
    case Format::kUuid:
      return kUuid;
    case Format::kIpv4:
      return kIpv4;
    case Format::kHostname:
      return kHostname;
    default:
      return kDuration;
  }
}

}  // namespace

// The date-time nearly every producer sends, "YYYY-MM-DDTHH:MM:SSZ" or with a fraction
// ("...:SS.sssZ"), checked with three word compares: a third of the general check's
// instructions. True only for a valid date-time; false sends the string to the general check,
// which also decides other separators and zones, leap seconds, and a fraction after second 59
// (which JavaScript may round up to 60).
bool IsCommonDateTime(std::string_view s) {
  static constexpr WordShape kDate = Shape("dddd-dd-"), kDayHour = Shape("ddTdd:dd"),
                             kTime = Shape("dd:dd:dd");
  const size_t n = s.size();
  const char* p = s.data();
  if (n < 20 || p[n - 1] != 'Z' || !HasShape(Load64(p), kDate) ||
      !HasShape(Load64(p + 8), kDayHour) || !HasShape(Load64(p + 11), kTime))
    return false;
  static constexpr WordShape kMillis = Shape(":dd.dddZ");
  if (n == 24) {  // milliseconds, the usual fraction: one more word
    if (!HasShape(Load64(p + 16), kMillis)) return false;
  } else if (n > 20) {
    if (p[19] != '.' || n == 21) return false;
    for (size_t i = 20; i + 1 < n; ++i)
      if (!IsDigit(p[i])) return false;
  }
  // "HH:MM:SS" at p + 11, all digits where digits belong: each byte at most that of "29:59:59"
  // ((limit | 0x80) - byte keeps its high bit exactly when byte <= limit, and never borrows),
  // then hours 24 to 29, and second 59 with a fraction (left to the general check).
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  constexpr uint64_t kTimeLimit = Shape("29:59:59").literals;
  const int month = TwoDigits(s, 5), day = TwoDigits(s, 8);
  return month >= 1 && month <= 12 && day >= 1 && (day <= 28 || IsCalendarDay(s)) &&
         (((kTimeLimit | kHigh) - Load64(p + 11)) & kHigh) == kHigh &&
         (p[11] != '2' || p[12] <= '3') && (n == 20 || p[17] != '5' || p[18] != '9');
}

bool LookupFormat(std::string_view name, Format& out) {
  static constexpr std::pair<std::string_view, Format> kFormats[] = {
      {"date-time", Format::kDateTime},
      {"date", Format::kDate},
      {"time", Format::kTime},
      {"iso-time", Format::kIsoTime},
      {"iso-date-time", Format::kIsoDateTime},
      {"email", Format::kEmail},
      {"uuid", Format::kUuid},
      {"ipv4", Format::kIpv4},
      {"hostname", Format::kHostname},
      {"duration", Format::kDuration},
      {"int32", Format::kInt32},
      {"int64", Format::kInt64},
      {"float", Format::kAnyNumber},
      {"double", Format::kAnyNumber},
      {"password", Format::kAnyString},
      {"binary", Format::kAnyString},
  };
  for (const auto& [n, f] : kFormats) {
    if (n == name) {
      out = f;
      return true;
    }
  }
  return false;
}

bool FormatAppliesToNumbers(Format f) {
  return f == Format::kInt32 || f == Format::kInt64 || f == Format::kAnyNumber;
}

bool CheckStringFormat(Format f, std::string_view s) {
  switch (f) {
    case Format::kDateTime:
      return IsCommonDateTime(s) || IsDateTime(s, true);
    case Format::kIsoDateTime:
      return IsCommonDateTime(s) || IsDateTime(s, false);
    case Format::kDate:
      return IsDate(s);
    case Format::kTime:
      return IsTime(s, true);
    case Format::kIsoTime:
      return IsTime(s, false);
    case Format::kHostname:
      if (!(s.size() <= 253 || (s.size() == 254 && s.back() == '.'))) return false;
      return RE2::FullMatch(s, FormatRegex(f));
    case Format::kDuration:
      if (s == "P") return false;
      return RE2::FullMatch(s, FormatRegex(f));
    case Format::kEmail:
    case Format::kUuid:
    case Format::kIpv4:
      return RE2::FullMatch(s, FormatRegex(f));
    default:
      return true;
  }
}

bool CheckNumberFormat(Format f, double v) {
  bool integer = std::isfinite(v) && std::trunc(v) == v;  // JavaScript's Number.isInteger
  switch (f) {
    case Format::kInt32:
      return integer && v <= 2147483647.0 && v >= -2147483648.0;
    case Format::kInt64:
      return integer;
    default:
      return true;
  }
}

namespace {

// JavaScript's \s as the inside of an RE2 character class, and its complement.
constexpr std::string_view kJsSpaceRanges =
    "\\t\\n\\x0B\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}"
    "\\x{3000}\\x{FEFF}";
constexpr std::string_view kJsNonSpaceRanges =
    "\\x00-\\x08\\x0E-\\x1F\\x21-\\x{9F}\\x{A1}-\\x{167F}\\x{1681}-\\x{1FFF}\\x{200B}-\\x{2027}"
    "\\x{202A}-\\x{202E}\\x{2030}-\\x{205E}\\x{2060}-\\x{2FFF}\\x{3001}-\\x{FEFE}"
    "\\x{FF00}-\\x{10FFFF}";

bool ParseHex(std::string_view s, size_t pos, size_t count, uint32_t& out) {
  if (pos + count > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    char c = s[i];
    int v = IsDigit(c)               ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                     : -1;
    if (v < 0) return false;
    out = out * 16 + static_cast<uint32_t>(v);
  }
  return true;
}

}  // namespace

// ---- Simple patterns ----

namespace {

// A character of a simple pattern's class: printable ASCII, or an escaped syntax character.
bool SimpleChar(std::string_view js, size_t& i, bool in_class, char& out) {
  if (i >= js.size()) return false;
  char c = js[i];
  if (c == '\\') {
    if (i + 1 >= js.size()) return false;
    char e = js[i + 1];
    if (std::string_view("^$\\.*+?()[]{}|/-").find(e) == std::string_view::npos) return false;
    out = e;
    i += 2;
    return true;
  }
  if (c < 0x20 || c > 0x7e) return false;
  if (in_class ? c == ']' : std::string_view("^$.*+?()[]{}|").find(c) != std::string_view::npos)
    return false;
  out = c;
  ++i;
  return true;
}

// \d or \w at `i`, as ASCII sets (ECMAScript's meaning with the "u" flag and no "i" flag).
bool ClassEscape(std::string_view js, size_t& i, SimplePattern::Atom& atom) {
  if (i + 1 >= js.size() || js[i] != '\\') return false;
  if (js[i + 1] == 'd') {
    atom.AddRange('0', '9');
  } else if (js[i + 1] == 'w') {
    atom.AddRange('0', '9');
    atom.AddRange('A', 'Z');
    atom.AddRange('a', 'z');
    atom.AddRange('_', '_');
  } else {
    return false;
  }
  i += 2;
  return true;
}

bool ParseCount(std::string_view js, size_t& i, uint32_t& out) {
  size_t begin = i;
  uint32_t v = 0;
  while (i < js.size() && IsDigit(js[i]) && i - begin < 5) v = v * 10 + (js[i++] - '0');
  out = v;
  return i > begin && (i == js.size() || !IsDigit(js[i]));
}

}  // namespace

void SimplePattern::Atom::AddRange(char lo, char hi) {
  for (int c = lo; c <= hi; ++c) bits[c >> 6] |= uint64_t{1} << (c & 63);
}

bool CompileSimplePattern(std::string_view js, SimplePattern& out) {
  out = SimplePattern{};
  if (js.empty() || js[0] != '^') return false;
  size_t i = 1;
  while (i < js.size()) {
    if (js[i] == '$') {
      if (i + 1 != js.size()) return false;
      out.anchored_end = true;
      break;
    }
    SimplePattern::Atom atom;
    if (js[i] == '[') {
      ++i;
      if (i < js.size() && (js[i] == '^' || js[i] == ']')) return false;
      while (i < js.size() && js[i] != ']') {
        if (ClassEscape(js, i, atom)) {
          if (i < js.size() && js[i] == '-' && i + 1 < js.size() && js[i + 1] != ']') return false;
          continue;
        }
        char lo;
        if (!SimpleChar(js, i, true, lo)) return false;
        char hi = lo;
        if (i + 1 < js.size() && js[i] == '-' && js[i + 1] != ']') {
          ++i;
          if (!SimpleChar(js, i, true, hi) || hi < lo) return false;
        }
        atom.AddRange(lo, hi);
      }
      if (i >= js.size()) return false;
      ++i;  // ']'
    } else if (!ClassEscape(js, i, atom)) {
      char c;
      if (!SimpleChar(js, i, false, c)) return false;
      atom.AddRange(c, c);
    }
    if (i < js.size()) {
      switch (js[i]) {
        case '*':
          atom.min = 0;
          atom.max = SimplePattern::kUnbounded;
          ++i;
          break;
        case '+':
          atom.max = SimplePattern::kUnbounded;
          ++i;
          break;
        case '?':
          atom.min = 0;
          ++i;
          break;
        case '{': {
          ++i;
          if (!ParseCount(js, i, atom.min)) return false;
          atom.max = atom.min;
          if (i < js.size() && js[i] == ',') {
            ++i;
            atom.max = SimplePattern::kUnbounded;
            if (i < js.size() && js[i] != '}' && !ParseCount(js, i, atom.max)) return false;
          }
          if (i >= js.size() || js[i] != '}' || atom.max < atom.min) return false;
          ++i;
          break;
        }
        default:
          break;
      }
      // A lazy quantifier, or a quantifier of a quantifier.
      if (i < js.size() && std::string_view("*+?{").find(js[i]) != std::string_view::npos)
        return false;
    }
    out.atoms.push_back(atom);
  }
  // Greedy matching without backtracking is exact when each atom of variable length is the last
  // or is followed by an atom that must take at least one character none of its own: wherever
  // the greedy run stops, a shorter one would leave the next atom a character it cannot take.
  for (size_t a = 0; a + 1 < out.atoms.size(); ++a) {
    const SimplePattern::Atom& x = out.atoms[a];
    const SimplePattern::Atom& y = out.atoms[a + 1];
    if (x.min == x.max) continue;
    if (y.min == 0 || x.Overlaps(y)) return false;
  }
  for (SimplePattern::Atom& atom : out.atoms)
    for (int c = 0; c < 256; ++c) atom.member[c] = atom.Has(static_cast<char>(c)) ? 1 : 0;
  return true;
}

bool SimplePattern::Matches(std::string_view s) const {
  size_t pos = 0;
  for (const Atom& atom : atoms) {
    const size_t limit = atom.max >= s.size() - pos ? s.size() : pos + atom.max;
    const size_t start = pos;
    // Greedy: four characters at a time while all four are in the class, then one at a time.
    while (pos + 4 <= limit && (atom.Member(s[pos]) & atom.Member(s[pos + 1]) &
                                atom.Member(s[pos + 2]) & atom.Member(s[pos + 3])) != 0)
      pos += 4;
    while (pos < limit && atom.Member(s[pos]) != 0) ++pos;
    if (pos - start < atom.min) return false;
  }
  return !anchored_end || pos == s.size();
}

Status TranslateJsRegex(std::string_view js, std::string& out) {
  out.clear();
  auto code_point = [&](uint32_t cp) { out += fmt::format("\\x{{{:X}}}", cp); };
  auto unsupported = [](std::string_view what) {
    return Status::InvalidArgument(fmt::format("{} (not supported by RE2)", what));
  };
  bool in_class = false;
  size_t i = 0;
  while (i < js.size()) {
    char c = js[i];
    if (c == '\\') {
      if (i + 1 >= js.size()) return Status::InvalidArgument("\\ at end of pattern");
      char e = js[i + 1];
      i += 2;
      switch (e) {
        case 'd':
        case 'D':
        case 'w':
        case 'W':
        case 'n':
        case 'r':
        case 't':
        case 'f':
          out += '\\';
          out += e;
          break;
        case 'v':
          out += "\\x0B";
          break;
        case 'b':
          out += in_class ? "\\x08" : "\\b";
          break;
        case 'B':
          if (in_class) return Status::InvalidArgument("invalid escape \\B in a class");
          out += "\\B";
          break;
        case 's':
          if (!in_class) out += '[';
          out += kJsSpaceRanges;
          if (!in_class) out += ']';
          break;
        case 'S':
          if (!in_class) out += '[';
          out += kJsNonSpaceRanges;
          if (!in_class) out += ']';
          break;
        case '0':
          if (i < js.size() && IsDigit(js[i])) return Status::InvalidArgument("invalid escape \\0");
          out += "\\x00";
          break;
        case 'x': {
          uint32_t cp;
          if (!ParseHex(js, i, 2, cp)) return Status::InvalidArgument("invalid escape \\x");
          i += 2;
          code_point(cp);
          break;
        }
        case 'u': {
          uint32_t cp;
          if (i < js.size() && js[i] == '{') {
            size_t close = js.find('}', i);
            if (close == std::string_view::npos || close == i + 1 || close - i - 1 > 6 ||
                !ParseHex(js, i + 1, close - i - 1, cp) || cp > 0x10FFFF)
              return Status::InvalidArgument("invalid escape \\u{...}");
            i = close + 1;
          } else {
            if (!ParseHex(js, i, 4, cp)) return Status::InvalidArgument("invalid escape \\u");
            i += 4;
            uint32_t low;
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= js.size() && js[i] == '\\' &&
                js[i + 1] == 'u' && ParseHex(js, i + 2, 4, low) && low >= 0xDC00 && low <= 0xDFFF) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
              i += 6;
            }
          }
          if (cp >= 0xD800 && cp <= 0xDFFF) return unsupported("an unpaired surrogate escape");
          code_point(cp);
          break;
        }
        case 'c': {
          if (i >= js.size() || !((js[i] >= 'a' && js[i] <= 'z') || (js[i] >= 'A' && js[i] <= 'Z')))
            return Status::InvalidArgument("invalid escape \\c");
          code_point(static_cast<uint32_t>(js[i]) % 32);
          ++i;
          break;
        }
        case 'p':
        case 'P': {
          size_t close = js.find('}', i);
          if (i >= js.size() || js[i] != '{' || close == std::string_view::npos)
            return Status::InvalidArgument("invalid property escape");
          std::string_view name = js.substr(i + 1, close - i - 1);
          for (std::string_view prefix : {"Script=", "sc=", "General_Category=", "gc="}) {
            if (name.starts_with(prefix)) {
              name.remove_prefix(prefix.size());
              break;
            }
          }
          out += '\\';
          out += e;
          out += '{';
          out += name;
          out += '}';
          i = close + 1;
          break;
        }
        case 'k':
          return unsupported("a named backreference");
        default:
          if (IsDigit(e)) return unsupported("a backreference");
          // ECMAScript with the "u" flag allows only syntax characters (and '-' in classes)
          // to be escaped.
          if (std::string_view("^$\\.*+?()[]{}|/-").find(e) == std::string_view::npos)
            return Status::InvalidArgument(fmt::format("invalid escape \\{}", e));
          out += '\\';
          out += e;
          break;
      }
      continue;
    }
    if (in_class) {
      if (c == ']') {
        in_class = false;
        out += ']';
      } else if (c == '[') {
        out += "\\[";  // a literal in ECMAScript; RE2 would read [: as a POSIX class
      } else {
        out += c;
      }
      ++i;
      continue;
    }
    switch (c) {
      case '.':
        out += "[^\\n\\r\\x{2028}\\x{2029}]";
        ++i;
        break;
      case '[':
        if (js.substr(i, 2) == "[]") {  // matches nothing
          out += "[^\\x00-\\x{10FFFF}]";
          i += 2;
        } else if (js.substr(i, 3) == "[^]") {  // matches anything
          out += "[\\x00-\\x{10FFFF}]";
          i += 3;
        } else {
          in_class = true;
          out += '[';
          ++i;
          if (i < js.size() && js[i] == '^') {
            out += '^';
            ++i;
          }
        }
        break;
      case '(':
        if (js.substr(i, 2) != "(?") {
          out += '(';
          ++i;
        } else if (js.substr(i, 3) == "(?:") {
          out += "(?:";
          i += 3;
        } else if (js.substr(i, 3) == "(?=" || js.substr(i, 3) == "(?!" ||
                   js.substr(i, 4) == "(?<=" || js.substr(i, 4) == "(?<!") {
          return unsupported("lookaround");
        } else if (js.substr(i, 3) == "(?<") {
          out += "(?P<";
          i += 3;
        } else {
          return Status::InvalidArgument("invalid group (?");
        }
        break;
      default:
        out += c;
        ++i;
        break;
    }
  }
  if (in_class) return Status::InvalidArgument("missing ] of a character class");
  return Status::Ok();
}

}  // namespace sluice::schema::internal
