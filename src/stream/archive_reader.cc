#include "stream/archive_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "lake/event_columns.h"
#include "lake/iceberg_table.h"
#include "lake/table_scan.h"

namespace sluice::stream {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kPartitionColumn = "_partition";
constexpr std::string_view kOffsetColumn = "_offset";
constexpr int64_t kMicrosPerHour = int64_t{3600} * 1'000'000;

}  // namespace

struct ArchiveReader::Impl {
  ArchiveReaderOptions options;
  std::unique_ptr<lake::IcebergTable> table;
  std::unique_ptr<lake::TableScan> scan;  // columns: _raw, _partition, _offset, event time
  int64_t snapshot_id = 0;
  // The raw events of the current batch with padding after the last one (payloads are parsed
  // in place).
  std::string payloads;
  std::vector<ArchivedRecord> records;

  bool HourWanted(const std::optional<int32_t>& hour) const {
    return !hour || (*hour >= options.first_hour && *hour <= options.last_hour);
  }

  Status ReadBatch() {
    const lake::DataFile& file = *scan->current_file();
    records.clear();
    // The scan prunes by hour as far as the manifests allow; a file of another hour may still
    // come: its rows are not wanted.
    if (!HourWanted(file.partition_hour)) return Status::Ok();
    const lake::ColumnBuffer& raws = scan->column(0);
    const lake::ColumnBuffer& partitions = scan->column(1);
    const lake::ColumnBuffer& offsets = scan->column(2);
    const lake::ColumnBuffer* times = scan->specs().size() > 3 ? &scan->column(3) : nullptr;
    const int64_t hour_start = file.partition_hour ? *file.partition_hour * kMicrosPerHour : 0;
    payloads.assign(raws.arena());
    payloads.append(kPayloadPadding, ' ');
    for (size_t row = 0; row < scan->rows(); ++row) {
      if (raws.IsNull(row) || partitions.IsNull(row) || offsets.IsNull(row) ||
          partitions.Int64At(row) < 0 || offsets.Int64At(row) < 0)
        return Status::Corruption(fmt::format("{}: row {} has no valid {}/{}/{}", file.path, row,
                                              lake::kRawColumn, kPartitionColumn, kOffsetColumn));
      ArchivedRecord record;
      record.partition = static_cast<uint32_t>(partitions.Int64At(row));
      record.offset = static_cast<uint64_t>(offsets.Int64At(row));
      if (!options.below.empty() && (record.partition >= options.below.size() ||
                                     record.offset >= options.below[record.partition]))
        continue;
      record.event_time_micros = times && !times->IsNull(row) ? times->Int64At(row) : hour_start;
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
  lake::TableScanOptions scan;
  scan.columns = {std::string(lake::kRawColumn), std::string(kPartitionColumn),
                  std::string(kOffsetColumn)};
  scan.partition_order = true;
  const std::string& event_time = s.table->hour_partition_source();
  if (!event_time.empty()) {
    scan.columns.push_back(event_time);
    lake::ScanRange hours{event_time, std::nullopt, std::nullopt};
    if (s.options.first_hour != std::numeric_limits<int32_t>::min())
      hours.lower = lake::ScanBound{int64_t{s.options.first_hour} * kMicrosPerHour, true};
    if (s.options.last_hour != std::numeric_limits<int32_t>::max())
      hours.upper = lake::ScanBound{(int64_t{s.options.last_hour} + 1) * kMicrosPerHour, false};
    if (hours.lower || hours.upper) scan.ranges.push_back(std::move(hours));
  }
  SLUICE_ASSIGN_OR_RETURN(s.scan, lake::TableScan::Open(*s.table, snapshot, std::move(scan)));
  return std::unique_ptr<ArchiveReader>(new ArchiveReader(std::move(impl)));
}

Result<std::span<const ArchivedRecord>> ArchiveReader::Next() {
  Impl& s = *impl_;
  for (;;) {
    SLUICE_ASSIGN_OR_RETURN(bool more, s.scan->Next());
    if (!more) {
      s.payloads.clear();
      s.payloads.shrink_to_fit();
      return std::span<const ArchivedRecord>();
    }
    SLUICE_RETURN_IF_ERROR(s.ReadBatch());
    if (!s.records.empty()) return std::span<const ArchivedRecord>(s.records);
  }
}

uint64_t ArchiveReader::remaining_records() const {
  const lake::TableScanStats& stats = impl_->scan->stats();
  return static_cast<uint64_t>(std::max<int64_t>(0, stats.file_records - stats.rows));
}
size_t ArchiveReader::files() const {
  const lake::TableScanStats& stats = impl_->scan->stats();
  return static_cast<size_t>(stats.files - stats.files_pruned_by_partition);
}
int64_t ArchiveReader::snapshot_id() const {
  return impl_->snapshot_id;
}

}  // namespace sluice::stream
