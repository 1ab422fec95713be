// The views `sluice demo` adds to the embedded default: the operations dashboard's metrics,
// defined in SQL like any user's views (docs/sql.md shows them).
#pragma once

#include <span>
#include <string_view>

namespace sluice::app {

// One CREATE statement per element, each naming the object it creates; executed in order at
// every `sluice demo` start, where "already exists" (HTTP 409) means there is nothing to do.
std::span<const std::string_view> DemoSqlStatements();

}  // namespace sluice::app
