#include "stream/view_table.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "base/time.h"
#include "lake/iceberg_table.h"
#include "lake/table_scan.h"

namespace sluice::stream {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kVersionKey = "sluice.view-version";

// The lake column type of a view row's JSON value (for untyped columns).
std::optional<lake::ColumnType> TypeOfValue(const nlohmann::json& v) {
  if (v.is_number_integer()) return lake::ColumnType::kInt64;
  if (v.is_number()) return lake::ColumnType::kDouble;
  if (v.is_boolean()) return lake::ColumnType::kBool;
  if (v.is_string())
    return ParseRfc3339(v.get_ref<const std::string&>()).ok() ? lake::ColumnType::kTimestampMicros
                                                              : lake::ColumnType::kString;
  if (v.is_null()) return std::nullopt;
  return lake::ColumnType::kString;  // an object or array: in _raw
}

}  // namespace

struct ViewTable::Impl {
  ViewTableOptions options;
  Clock& clock;
  std::unique_ptr<lake::IcebergTable> table;  // null until the first commit creates it
  std::unique_ptr<lake::EventColumns> columns;
  std::vector<std::string> live;  // the current snapshot's data files
  uint64_t committed_version = 0;
  bool committed_any = false;

  Impl(ViewTableOptions o, Clock& c) : options(std::move(o)), clock(c) {}

  fs::path dir() const { return fs::path(options.root) / options.name; }

  int64_t NextSequence() const {
    std::optional<lake::Snapshot> current = table->CurrentSnapshot();
    return (current ? current->sequence_number : 0) + 1;
  }

  Status MakeColumns(const std::vector<lake::ColumnType>& types) {
    std::vector<lake::EventColumn> event_columns;
    for (size_t i = 0; i < options.columns.size(); ++i)
      event_columns.push_back({options.columns[i].name, "", types[i]});
    SLUICE_ASSIGN_OR_RETURN(columns, lake::EventColumns::Make(std::move(event_columns)));
    return Status::Ok();
  }

  // Opens the existing table: its columns must be the view's (same names; the same types
  // where the plan knows them).
  Status OpenExisting() {
    SLUICE_ASSIGN_OR_RETURN(table, lake::IcebergTable::Open(options.root, options.name, clock));
    const lake::IcebergSchema& schema = table->schema();
    bool same = schema.fields.size() == options.columns.size() + 1;
    std::vector<lake::ColumnType> types;
    for (size_t i = 0; same && i < options.columns.size(); ++i) {
      const Result<lake::ColumnSpec> spec = lake::ColumnSpecFor(schema.fields[i]);
      same = spec.ok() && schema.fields[i].name == options.columns[i].name &&
             (!options.columns[i].type || *options.columns[i].type == spec->type);
      if (same) types.push_back(spec->type);
    }
    if (!same)
      return Status::FailedPrecondition(fmt::format(
          "the lake table {} exists with other columns (a view of that name was dropped); "
          "move {} away first",
          options.name, table->dir()));
    SLUICE_RETURN_IF_ERROR(MakeColumns(types));
    SLUICE_RETURN_IF_ERROR(RemoveUncommittedFiles());
    if (std::optional<lake::Snapshot> current = table->CurrentSnapshot()) {
      SLUICE_ASSIGN_OR_RETURN(std::vector<lake::DataFileEntry> files, table->LiveFiles(*current));
      for (const lake::DataFileEntry& f : files) live.push_back(f.file.path);
      auto it = current->summary.find(std::string(kVersionKey));
      if (it != current->summary.end()) {
        std::from_chars(it->second.data(), it->second.data() + it->second.size(),
                        committed_version);
        committed_any = true;
      }
    }
    return Status::Ok();
  }

  // Creates the table, typing the untyped columns from the view's rows; false when a column
  // has no non-null value yet.
  Result<bool> Create(const store::View& view) {
    std::vector<std::optional<lake::ColumnType>> types;
    size_t unknown = 0;
    for (const ViewTableColumn& c : options.columns) {
      types.push_back(c.type);
      if (!c.type) ++unknown;
    }
    if (unknown > 0) {
      Result<uint64_t> read = view.ForEachRow([&](const std::string& row) {
        if (unknown == 0) return;
        const nlohmann::json parsed = nlohmann::json::parse(row, nullptr, false);
        if (!parsed.is_object()) return;
        for (size_t i = 0; i < types.size(); ++i) {
          if (types[i]) continue;
          auto it = parsed.find(options.columns[i].name);
          if (it == parsed.end()) continue;
          types[i] = TypeOfValue(*it);
          if (types[i]) --unknown;
        }
      });
      SLUICE_RETURN_IF_ERROR(read.status());
      if (unknown > 0) return false;
    }
    std::vector<lake::ColumnType> known;
    for (const auto& t : types) known.push_back(*t);
    SLUICE_RETURN_IF_ERROR(MakeColumns(known));
    lake::IcebergTableSpec spec;
    for (const lake::ColumnSpec& c : columns->specs())
      spec.fields.push_back({0, c.name, lake::IcebergTypeFor(c), !c.optional});
    spec.properties["sluice.source"] = "the rows of materialized view " + options.name;
    spec.properties["write.metadata.delete-after-commit.enabled"] = "true";
    spec.properties["write.metadata.previous-versions-max"] = "100";
    SLUICE_ASSIGN_OR_RETURN(table,
                            lake::IcebergTable::Create(options.root, options.name, spec, clock));
    return true;
  }

  Status RemoveUncommittedFiles() {
    SLUICE_ASSIGN_OR_RETURN(size_t removed, lake::RemoveUncommittedDataFiles(*table));
    if (removed > 0)
      spdlog::info("view table {}: removed {} data file(s) written after the last commit",
                   options.name, removed);
    return Status::Ok();
  }
};

ViewTable::ViewTable(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ViewTable::~ViewTable() = default;

Result<std::unique_ptr<ViewTable>> ViewTable::Open(ViewTableOptions options, Clock& clock) {
  auto impl = std::make_unique<Impl>(std::move(options), clock);
  if (fs::exists(impl->dir() / "metadata" / "version-hint.text"))
    SLUICE_RETURN_IF_ERROR(impl->OpenExisting());
  return std::unique_ptr<ViewTable>(new ViewTable(std::move(impl)));
}

Result<bool> ViewTable::Commit(const store::View& view) {
  Impl& s = *impl_;
  if (!s.table) {
    SLUICE_ASSIGN_OR_RETURN(bool created, s.Create(view));
    if (!created) return false;
  }
  if (s.committed_any && view.version() == s.committed_version) return false;
  const std::string relative = s.table->DataPath(
      std::nullopt, fmt::format("{}-v{}.parquet", s.NextSequence(), view.version()));
  const fs::path full = fs::path(s.table->dir()) / relative;
  std::error_code ec;
  fs::create_directories(full.parent_path(), ec);
  SLUICE_ASSIGN_OR_RETURN(
      std::unique_ptr<lake::ParquetWriter> writer,
      lake::ParquetWriter::OpenFile(full.string(), s.columns->specs(), s.options.writer));
  Status appended = Status::Ok();
  size_t batch = 0;
  Result<uint64_t> read = view.ForEachRow([&](const std::string& row) {
    if (!appended.ok()) return;
    s.columns->Append(row, *writer);
    if (++batch == 4096) {
      appended = writer->CommitRows();
      batch = 0;
    }
  });
  if (!read.ok() || !appended.ok()) {  // a snapshot of part of the view must not be committed
    writer.reset();
    fs::remove(full, ec);
    return read.ok() ? appended : read.status();
  }
  const uint64_t version = *read;
  SLUICE_RETURN_IF_ERROR(writer->CommitRows());
  SLUICE_RETURN_IF_ERROR(writer->Close());
  lake::AppendFiles change;
  lake::DataFile data;
  data.path = relative;
  data.record_count = writer->rows_written();
  data.file_size_in_bytes = writer->bytes_written();
  change.added.push_back(std::move(data));
  change.deleted = s.live;
  change.summary[std::string(kVersionKey)] = std::to_string(version);
  Result<lake::Snapshot> committed = s.table->Commit(change);
  if (!committed.ok()) {
    fs::remove(full, ec);
    return committed.status();
  }
  s.live = {relative};
  s.committed_version = version;
  s.committed_any = true;
  return true;
}

Result<int> ViewTable::Housekeep() {
  Impl& s = *impl_;
  if (!s.table) return 0;
  const int64_t older_than_ms = (s.clock.NowMicros() - s.options.retention_micros) / 1000;
  return s.table->ExpireSnapshots(older_than_ms);
}

uint64_t ViewTable::committed_version() const {
  return impl_->committed_version;
}
std::string ViewTable::dir() const {
  return impl_->dir().string();
}

}  // namespace sluice::stream
