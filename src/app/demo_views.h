// The views `sluice demo` adds to the embedded default: the operations dashboard's metrics,
// defined in SQL like any user's views (docs/sql.md shows them).
#pragma once

#include <span>
#include <string_view>

namespace sluice::app {

// One CREATE ... IF NOT EXISTS statement per element, executed in order at every `sluice demo`
// start: objects that exist (from an earlier run over the same data directory) are kept.
std::span<const std::string_view> DemoSqlStatements();

}  // namespace sluice::app
