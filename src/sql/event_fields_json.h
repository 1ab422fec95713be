// Internal to src/sql: reading JSON tokens into Values with simdjson on-demand, shared by the
// field extractor (event_fields.cc) and the evaluator's run-time JSON access (expr_eval.cc).
#pragma once

#include <bit>
#include <cstring>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <simdjson.h>

#include "sql/value.h"

namespace sluice::sql {

// Bit i set when byte i of the 16 at `p` is a quote or a backslash. `p` + 16 must be readable.
inline uint32_t QuotesOrBackslashes(const char* p) {
#if defined(__SSE2__)
  const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return static_cast<uint32_t>(_mm_movemask_epi8(_mm_or_si128(
      _mm_cmpeq_epi8(chunk, _mm_set1_epi8('"')), _mm_cmpeq_epi8(chunk, _mm_set1_epi8('\\')))));
#else
  uint32_t bits = 0;
  for (int i = 0; i < 16; ++i)
    if (p[i] == '"' || p[i] == '\\') bits |= 1u << i;
  return bits;
#endif
}

// The length of the string body starting at `p` (just after its opening quote) when it has no
// escape before its closing quote; -1 when it has one. Safe on simdjson input: stage 1 checked
// that every string is closed, and the input is followed by SIMDJSON_PADDING bytes, so the
// 16-byte loads never leave the buffer.
inline ptrdiff_t PlainStringLength(const char* p) {
  for (size_t n = 0;; n += 16) {
    const uint32_t stops = QuotesOrBackslashes(p + n);
    if (stops != 0) {
      const size_t end = n + static_cast<size_t>(std::countr_zero(stops));
      return p[end] == '\\' ? -1 : static_cast<ptrdiff_t>(end);
    }
  }
}

// The key of `field`, in place when it has no escape (simdjson's unescaped_key() would copy it).
inline simdjson::error_code ReadKey(simdjson::ondemand::field& field, std::string_view& key) {
  const char* p = field.key().raw();
  const ptrdiff_t n = PlainStringLength(p);
  if (n >= 0) {
    key = {p, static_cast<size_t>(n)};
    return simdjson::SUCCESS;
  }
  return field.unescaped_key().get(key);
}

// A string value: a view of the input when it has no escape, else unescaped and copied into
// `arena` (simdjson's own buffer is reused by the next document).
inline simdjson::error_code ReadJsonString(simdjson::ondemand::value& v, std::string_view& out,
                                           Arena& arena) {
  std::string_view token = v.raw_json_token();
  if (!token.empty() && token.front() == '"') {
    const ptrdiff_t n = PlainStringLength(token.data() + 1);
    if (n >= 0) {
      out = {token.data() + 1, static_cast<size_t>(n)};
      return simdjson::SUCCESS;
    }
  }
  std::string_view unescaped;
  SIMDJSON_TRY(v.get_string().get(unescaped));
  out = arena.Copy(unescaped);
  return simdjson::SUCCESS;
}

// A number: BIGINT when written as an integer that fits int64, else DOUBLE.
inline simdjson::error_code ReadJsonNumber(simdjson::ondemand::value& v, Value& out) {
  simdjson::ondemand::number number;
  const simdjson::error_code error = v.get_number().get(number);
  if (error == simdjson::NUMBER_ERROR) {
    // An integer beyond 64 bits: read it as a double, as DuckDB does.
    std::string_view token = v.raw_json_token();
    while (!token.empty() && (token.back() == ' ' || token.back() == '\n' || token.back() == '\r' ||
                              token.back() == '\t'))
      token.remove_suffix(1);
    Result<double> d = ParseDouble(token);
    if (!d.ok()) return error;
    out = Value::Double(*d);
    return simdjson::SUCCESS;
  }
  if (error) return error;
  switch (number.get_number_type()) {
    case simdjson::ondemand::number_type::signed_integer:
      out = Value::Bigint(number.get_int64());
      break;
    case simdjson::ondemand::number_type::unsigned_integer:
      out = Value::Double(static_cast<double>(number.get_uint64()));
      break;
    default:
      out = Value::Double(number.get_double());
  }
  return simdjson::SUCCESS;
}

}  // namespace sluice::sql
