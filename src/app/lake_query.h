// Queries over the lake (SELECT ... FROM lake.<table> [FOR SYSTEM_TIME AS OF ... | FOR VERSION
// AS OF ...] through POST /v1/sql and `sluice sql`, docs/sql.md "Queries over the lake"): the
// adapter that gives an Iceberg table's snapshot to the query engine (sql/query.h) as typed
// values, through lake::TableScan (only the columns the query reads, pruned by the
// constraints the engine derived from WHERE).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "sql/query.h"

namespace sluice::app {

// The table <lake_dir>/<name> at the snapshot `as_of` picks (without it: the current one; a
// table without a snapshot yet has no rows):
// - FOR SYSTEM_TIME AS OF t: the snapshot that was current at t (the last one committed at or
//   before it, to the millisecond);
// - FOR VERSION AS OF n: the snapshot with id n, else (ids are large random numbers) the one
//   with sequence number n.
// nullptr when there is no such table (names with characters other than letters, digits, '_',
// '-' and '.' never name one). InvalidArgument, naming what exists, when no snapshot matches;
// Corruption or IOError when the table's metadata cannot be read.
Result<std::shared_ptr<const sql::QueryTable>> OpenLakeQueryTable(
    const std::string& lake_dir, std::string_view name, const std::optional<sql::AsOf>& as_of);

// The tables directly under `lake_dir` (not the moved-aside archives of dropped streams),
// sorted.
std::vector<std::string> LakeTableNames(const std::string& lake_dir);

}  // namespace sluice::app
