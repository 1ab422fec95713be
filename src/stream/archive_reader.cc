#include "stream/archive_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "lake/columns.h"
#include "lake/event_columns.h"
#include "lake/iceberg_table.h"
#include "lake/parquet_reader.h"

namespace sluice::stream {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kPartitionColumn = "_partition";
constexpr std::string_view kOffsetColumn = "_offset";
constexpr int64_t kMicrosPerHour = int64_t{3600} * 1'000'000;

Result<size_t> ColumnIndex(const lake::FileInfo& info, std::string_view name, lake::ColumnType type,
                           const std::string& path) {
  for (size_t i = 0; i < info.columns.size(); ++i) {
    if (info.columns[i].name != name) continue;
    if (info.columns[i].type != type)
      return Status::Corruption(fmt::format("{}: column {} is {}, not {}", path, name,
                                            lake::ColumnTypeName(info.columns[i].type),
                                            lake::ColumnTypeName(type)));
    return i;
  }
  return Status::Corruption(fmt::format("{}: no column {}", path, name));
}

}  // namespace

struct ArchiveReader::Impl {
  ArchiveReaderOptions options;
  std::unique_ptr<lake::IcebergTable> table;
  std::string event_time_column;
  int64_t snapshot_id = 0;
  std::vector<lake::DataFileEntry> files;
  size_t next_file = 0;
  uint64_t remaining = 0;

  // The file being read.
  std::string bytes;
  std::optional<lake::ParquetReader> reader;
  size_t next_row_group = 0;
  std::optional<int32_t> hour;
  size_t raw = 0, partition = 0, offset = 0;
  std::optional<size_t> event_time;

  lake::ColumnBuffer raws{lake::ColumnType::kString};
  lake::ColumnBuffer partitions{lake::ColumnType::kInt64};
  lake::ColumnBuffer offsets{lake::ColumnType::kInt64};
  lake::ColumnBuffer times{lake::ColumnType::kTimestampMicros};
  // The raw events with padding after the last one (payloads are parsed in place).
  std::string payloads;
  std::vector<ArchivedRecord> records;

  Status OpenFile(const lake::DataFileEntry& entry) {
    const std::string path = (fs::path(table->dir()) / entry.file.path).string();
    reader.reset();
    SLUICE_ASSIGN_OR_RETURN(bytes, lake::ReadWholeFile(path));
    SLUICE_ASSIGN_OR_RETURN(lake::ParquetReader opened, lake::ParquetReader::Open(bytes));
    const lake::FileInfo& info = opened.info();
    SLUICE_ASSIGN_OR_RETURN(
        raw, ColumnIndex(info, lake::kRawColumn, lake::ColumnType::kString, entry.file.path));
    SLUICE_ASSIGN_OR_RETURN(
        partition, ColumnIndex(info, kPartitionColumn, lake::ColumnType::kInt64, entry.file.path));
    SLUICE_ASSIGN_OR_RETURN(
        offset, ColumnIndex(info, kOffsetColumn, lake::ColumnType::kInt64, entry.file.path));
    event_time.reset();
    if (!event_time_column.empty()) {
      Result<size_t> found =
          ColumnIndex(info, event_time_column, lake::ColumnType::kTimestampMicros, entry.file.path);
      if (found.ok()) event_time = found.value();
    }
    hour = entry.file.partition_hour;
    reader.emplace(std::move(opened));
    next_row_group = 0;
    return Status::Ok();
  }

  Status ReadRowGroup() {
    const lake::ParquetReader& r = *reader;
    const size_t group = next_row_group++;
    SLUICE_RETURN_IF_ERROR(r.ReadColumn(group, raw, raws));
    SLUICE_RETURN_IF_ERROR(r.ReadColumn(group, partition, partitions));
    SLUICE_RETURN_IF_ERROR(r.ReadColumn(group, offset, offsets));
    if (event_time) SLUICE_RETURN_IF_ERROR(r.ReadColumn(group, *event_time, times));
    const int64_t hour_start = hour ? *hour * kMicrosPerHour : 0;
    payloads.assign(raws.arena());
    payloads.append(kPayloadPadding, ' ');
    records.clear();
    for (size_t row = 0; row < raws.size(); ++row) {
      if (partitions.IsNull(row) || offsets.IsNull(row) || partitions.Int64At(row) < 0 ||
          offsets.Int64At(row) < 0)
        return Status::Corruption(fmt::format("{}: row {} of row group {} has no valid {}/{}",
                                              files[next_file - 1].file.path, row, group,
                                              kPartitionColumn, kOffsetColumn));
      ArchivedRecord record;
      record.partition = static_cast<uint32_t>(partitions.Int64At(row));
      record.offset = static_cast<uint64_t>(offsets.Int64At(row));
      if (!options.below.empty() && (record.partition >= options.below.size() ||
                                     record.offset >= options.below[record.partition]))
        continue;
      record.event_time_micros = event_time && !times.IsNull(row) ? times.Int64At(row) : hour_start;
      const std::string_view raw_event = raws.StringAt(row);
      record.payload = std::string_view(payloads).substr(
          static_cast<size_t>(raw_event.data() - raws.arena().data()), raw_event.size());
      records.push_back(record);
    }
    return Status::Ok();
  }
};

ArchiveReader::ArchiveReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ArchiveReader::~ArchiveReader() = default;

Result<std::unique_ptr<ArchiveReader>> ArchiveReader::Open(ArchiveReaderOptions options) {
  auto impl = std::make_unique<Impl>();
  Impl& s = *impl;
  s.options = std::move(options);
  if (!fs::exists(fs::path(s.options.root) / s.options.table / "metadata" / "version-hint.text"))
    return Status::NotFound(
        fmt::format("no lake table {} under {}", s.options.table, s.options.root));
  SLUICE_ASSIGN_OR_RETURN(s.table, lake::IcebergTable::Open(s.options.root, s.options.table));
  lake::Snapshot snapshot;
  if (s.options.snapshot_id) {
    SLUICE_ASSIGN_OR_RETURN(snapshot, s.table->SnapshotById(*s.options.snapshot_id));
  } else {
    std::optional<lake::Snapshot> current = s.table->CurrentSnapshot();
    if (!current)
      return Status::NotFound(
          fmt::format("lake table {} has no snapshot yet (nothing archived)", s.options.table));
    snapshot = *current;
  }
  s.snapshot_id = snapshot.snapshot_id;
  s.event_time_column = s.table->hour_partition_source();
  SLUICE_ASSIGN_OR_RETURN(
      s.files, s.table->LiveFilesForHours(snapshot, s.options.first_hour, s.options.last_hour));
  // Null partitions (no event time) first, then by hour, then by name (commit order).
  std::sort(s.files.begin(), s.files.end(), [](const auto& a, const auto& b) {
    if (a.file.partition_hour != b.file.partition_hour)
      return a.file.partition_hour < b.file.partition_hour;
    return a.file.path < b.file.path;
  });
  std::erase_if(s.files, [&](const lake::DataFileEntry& e) {
    return e.file.partition_hour && (*e.file.partition_hour < s.options.first_hour ||
                                     *e.file.partition_hour > s.options.last_hour);
  });
  for (const auto& e : s.files) s.remaining += static_cast<uint64_t>(e.file.record_count);
  return std::unique_ptr<ArchiveReader>(new ArchiveReader(std::move(impl)));
}

Result<std::span<const ArchivedRecord>> ArchiveReader::Next() {
  Impl& s = *impl_;
  for (;;) {
    if (s.reader && s.next_row_group < s.reader->info().row_groups.size()) {
      const uint64_t rows =
          static_cast<uint64_t>(s.reader->info().row_groups[s.next_row_group].num_rows);
      SLUICE_RETURN_IF_ERROR(s.ReadRowGroup());
      s.remaining -= std::min(s.remaining, rows);
      if (s.records.empty()) continue;
      return std::span<const ArchivedRecord>(s.records);
    }
    if (s.next_file >= s.files.size()) {
      s.reader.reset();
      s.bytes.clear();
      s.bytes.shrink_to_fit();
      return std::span<const ArchivedRecord>();
    }
    SLUICE_RETURN_IF_ERROR(s.OpenFile(s.files[s.next_file++]));
  }
}

uint64_t ArchiveReader::remaining_records() const {
  return impl_->remaining;
}
size_t ArchiveReader::files() const {
  return impl_->files.size();
}
int64_t ArchiveReader::snapshot_id() const {
  return impl_->snapshot_id;
}

}  // namespace sluice::stream
