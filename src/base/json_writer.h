// Minimal helpers to build JSON text on hot paths (ingest answers, view deltas) without a DOM.
// nlohmann-json is used for configuration and metadata only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

// Appends `s` as a quoted JSON string. Control characters are escaped; bytes that are not
// valid UTF-8 are replaced by U+FFFD so the output is always valid JSON.
void AppendJsonString(std::string& out, std::string_view s);

inline void AppendJsonInt(std::string& out, int64_t v) {
  out += std::to_string(v);
}

}  // namespace sluice
