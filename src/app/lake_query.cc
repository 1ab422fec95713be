#include "app/lake_query.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "base/time.h"
#include "lake/iceberg_table.h"
#include "lake/table_scan.h"
#include "sql/value.h"

namespace sluice::app {

namespace fs = std::filesystem;

namespace {

bool IsTableName(std::string_view name) {
  if (name.empty() || name.front() == '.' || name.find("..") != std::string_view::npos)
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

bool IsTableDir(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "metadata" / "version-hint.text", ec);
}

sql::Type SqlType(lake::ColumnType type) {
  switch (type) {
    case lake::ColumnType::kString:
      return sql::Type::kVarchar;
    case lake::ColumnType::kInt64:
      return sql::Type::kBigint;
    case lake::ColumnType::kDouble:
    case lake::ColumnType::kDecimal:  // DECIMAL is not a run-time type (docs/sql.md)
      return sql::Type::kDouble;
    case lake::ColumnType::kBool:
      return sql::Type::kBoolean;
    case lake::ColumnType::kTimestampMicros:
      return sql::Type::kTimestamp;
  }
  return sql::Type::kAny;
}

lake::ScanScalar ScalarOf(const sql::Value& v) {
  switch (v.type) {
    case sql::Type::kDouble:
      return v.real;
    case sql::Type::kVarchar:
      return std::string(v.str());
    case sql::Type::kBoolean:
      return int64_t{v.boolean ? 1 : 0};
    default:  // BIGINT, TIMESTAMP (micros)
      return v.integer;
  }
}

std::string Micros(int64_t micros) {
  return FormatRfc3339(micros);
}

class LakeQueryTable : public sql::QueryTable {
 public:
  LakeQueryTable(std::unique_ptr<lake::IcebergTable> table, std::optional<lake::Snapshot> snapshot,
                 std::vector<lake::ColumnSpec> specs)
      : table_(std::move(table)), snapshot_(std::move(snapshot)), specs_(std::move(specs)) {
    for (const lake::ColumnSpec& spec : specs_) columns_.push_back({spec.name, SqlType(spec.type)});
  }

  const std::vector<sql::QueryColumn>& columns() const override { return columns_; }

  bool ScansValues() const override { return true; }

  // The engine reads lake tables by values; this JSON form serves other callers.
  uint64_t Scan(const std::function<void(std::string_view row_json)>& row) const override {
    sql::ValueScanRequest request;
    for (size_t i = 0; i < columns_.size(); ++i) request.columns.push_back(i);
    std::string json;
    Result<sql::ValueScanInfo> info = ScanValues(request, [&](std::span<const sql::Value> values) {
      json = "{";
      for (size_t i = 0; i < values.size(); ++i) {
        if (i > 0) json += ',';
        sql::AppendJson(json, sql::Value::Varchar(columns_[i].name));
        json += ':';
        sql::AppendJson(json, values[i]);
      }
      json += '}';
      row(json);
      return true;
    });
    return info.ok() ? info->version : 0;
  }

  Result<sql::ValueScanInfo> ScanValues(
      const sql::ValueScanRequest& request,
      const std::function<bool(std::span<const sql::Value> row)>& row) const override {
    sql::ValueScanInfo info;
    if (!snapshot_) {
      info.details = {{"snapshot_id", 0}};
      return info;
    }
    const lake::Snapshot& snapshot = *snapshot_;
    lake::TableScanOptions options;
    for (size_t column : request.columns) options.columns.push_back(specs_[column].name);
    for (const sql::ColumnConstraint& c : request.constraints) {
      lake::ScanRange range;
      range.column = specs_[c.column].name;
      if (c.lower) range.lower = lake::ScanBound{ScalarOf(*c.lower), c.lower_inclusive};
      if (c.upper) range.upper = lake::ScanBound{ScalarOf(*c.upper), c.upper_inclusive};
      options.ranges.push_back(std::move(range));
    }
    SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<lake::TableScan> scan,
                            lake::TableScan::Open(*table_, snapshot, std::move(options)));
    std::vector<sql::Value> values(columns_.size());
    bool more = true;
    while (more) {
      SLUICE_ASSIGN_OR_RETURN(bool batch, scan->Next());
      if (!batch) break;
      const size_t rows = scan->rows();
      for (size_t r = 0; r < rows && more; ++r) {
        for (size_t j = 0; j < request.columns.size(); ++j)
          values[request.columns[j]] = ValueAt(scan->column(j), scan->specs()[j], r);
        more = row(values);
      }
    }
    const lake::TableScanStats& s = scan->stats();
    info.version = static_cast<uint64_t>(snapshot.snapshot_id);
    info.details = {{"snapshot_id", snapshot.snapshot_id},
                    {"snapshot_sequence_number", snapshot.sequence_number},
                    {"snapshot_timestamp_ms", snapshot.timestamp_ms},
                    {"files", s.files},
                    {"files_pruned_by_partition", s.files_pruned_by_partition},
                    {"files_pruned_by_bounds", s.files_pruned_by_bounds},
                    {"files_read", s.files_read},
                    {"row_groups", s.row_groups},
                    {"row_groups_pruned", s.row_groups_pruned},
                    {"rows_scanned", s.rows},
                    {"bytes_decoded", s.bytes_decoded}};
    return info;
  }

 private:
  static sql::Value ValueAt(const lake::ColumnBuffer& b, const lake::ColumnSpec& spec, size_t r) {
    if (b.IsNull(r)) return sql::Value();
    switch (spec.type) {
      case lake::ColumnType::kString:
        return sql::Value::Varchar(b.StringAt(r));
      case lake::ColumnType::kInt64:
        return sql::Value::Bigint(b.Int64At(r));
      case lake::ColumnType::kDouble:
        return sql::Value::Double(b.DoubleAt(r));
      case lake::ColumnType::kBool:
        return sql::Value::Boolean(b.BoolAt(r));
      case lake::ColumnType::kTimestampMicros:
        return sql::Value::Timestamp(b.Int64At(r));
      case lake::ColumnType::kDecimal:
        return sql::Value::Double(lake::DecimalToDouble(b.Int64At(r), spec.scale));
    }
    return sql::Value();
  }

  std::unique_ptr<lake::IcebergTable> table_;
  std::optional<lake::Snapshot> snapshot_;
  std::vector<lake::ColumnSpec> specs_;
  std::vector<sql::QueryColumn> columns_;
};

// "2 snapshots: id 123 (sequence number 1), id 456 (sequence number 2)": what a FOR VERSION AS
// OF may name (the first ten, then how many more).
std::string DescribeSnapshots(const std::vector<lake::Snapshot>& snapshots) {
  std::string text =
      fmt::format("{} snapshot{}: ", snapshots.size(), snapshots.size() == 1 ? "" : "s");
  constexpr size_t kListed = 10;
  for (size_t i = 0; i < snapshots.size() && i < kListed; ++i)
    text += fmt::format("{}id {} (sequence number {})", i == 0 ? "" : ", ",
                        snapshots[i].snapshot_id, snapshots[i].sequence_number);
  if (snapshots.size() > kListed)
    text += fmt::format(" and {} more, up to sequence number {}", snapshots.size() - kListed,
                        snapshots.back().sequence_number);
  return text;
}

Result<lake::Snapshot> PickSnapshot(const lake::IcebergTable& table, std::string_view name,
                                    const sql::AsOf& as_of) {
  const std::vector<lake::Snapshot>& snapshots = table.snapshots();
  if (as_of.kind == sql::AsOf::Kind::kVersion) {
    if (Result<lake::Snapshot> s = table.SnapshotById(as_of.value); s.ok()) return s;
    for (const lake::Snapshot& s : snapshots)
      if (s.sequence_number == as_of.value) return s;
    if (snapshots.empty())
      return Status::InvalidArgument(fmt::format(
          "lake table '{}' has no snapshot {}: it has no snapshot yet (nothing committed)", name,
          as_of.value));
    return Status::InvalidArgument(
        fmt::format("lake table '{}' has no snapshot with id or sequence number {}; it has {}",
                    name, as_of.value, DescribeSnapshots(snapshots)));
  }
  const int64_t ms = FloorDiv(as_of.value, 1000);
  if (Result<lake::Snapshot> s = table.SnapshotAsOf(ms); s.ok()) return s;
  if (snapshots.empty())
    return Status::InvalidArgument(
        fmt::format("lake table '{}' has no snapshot at {}: it has no snapshot yet (nothing "
                    "committed)",
                    name, Micros(as_of.value)));
  const lake::Snapshot* first = &snapshots.front();
  for (const lake::Snapshot& s : snapshots)
    if (s.timestamp_ms < first->timestamp_ms) first = &s;
  return Status::InvalidArgument(fmt::format(
      "lake table '{}' has no snapshot at or before {}: its first snapshot (id {}) was committed "
      "at {}",
      name, Micros(as_of.value), first->snapshot_id, Micros(first->timestamp_ms * 1000)));
}

}  // namespace

Result<std::shared_ptr<const sql::QueryTable>> OpenLakeQueryTable(
    const std::string& lake_dir, std::string_view name, const std::optional<sql::AsOf>& as_of) {
  if (!IsTableName(name) || !IsTableDir(fs::path(lake_dir) / name))
    return std::shared_ptr<const sql::QueryTable>();
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<lake::IcebergTable> table,
                          lake::IcebergTable::Open(lake_dir, std::string(name)));
  std::optional<lake::Snapshot> snapshot;
  if (as_of) {
    SLUICE_ASSIGN_OR_RETURN(snapshot, PickSnapshot(*table, name, *as_of));
  } else {
    snapshot = table->CurrentSnapshot();
  }
  // The columns of the schema the snapshot was written with (the current one before any).
  const lake::IcebergSchema* schema = &table->schema();
  if (snapshot)
    for (const lake::IcebergSchema& s : table->schemas())
      if (s.schema_id == snapshot->schema_id) schema = &s;
  std::vector<lake::ColumnSpec> specs;
  for (const lake::IcebergField& field : schema->fields)
    if (Result<lake::ColumnSpec> spec = lake::ColumnSpecFor(field); spec.ok())
      specs.push_back(std::move(spec).value());
  return std::shared_ptr<const sql::QueryTable>(
      std::make_shared<LakeQueryTable>(std::move(table), std::move(snapshot), std::move(specs)));
}

std::vector<std::string> LakeTableNames(const std::string& lake_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(lake_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (IsTableName(name) && IsTableDir(it->path())) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace sluice::app
