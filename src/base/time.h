// Time parsing and formatting shared by ingest, config and the SQL layer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"

namespace sluice {

// Parses an RFC 3339 date-time ("2026-11-25T08:30:00Z", "2026-11-25T09:30:00.123456+01:00")
// into microseconds since the Unix epoch, UTC. Accepts 't'/'z' and a space as the date/time
// separator as RFC 3339 allows; fractional seconds beyond microseconds are truncated. The
// error message says which part is wrong.
Result<int64_t> ParseRfc3339(std::string_view text);

// Formats microseconds since the epoch as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (fraction omitted when
// zero). Appends to `out`.
void AppendRfc3339(std::string& out, int64_t micros);
std::string FormatRfc3339(int64_t micros);

// Parses a human duration: "7 days", "5 seconds", "90d", "1h", "250ms", "2 years" (365 days a
// year), "1 minute". Returns microseconds.
Result<int64_t> ParseDuration(std::string_view text);

// Days since 1970-01-01 <-> a proleptic Gregorian date (any year, month 1-12, day 1-31).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);
void CivilFromDays(int64_t days, int64_t& year, unsigned& month, unsigned& day);

// Floor division for event times that may be before the epoch.
inline int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

}  // namespace sluice
