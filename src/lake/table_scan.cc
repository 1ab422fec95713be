#include "lake/table_scan.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "base/time.h"

namespace sluice::lake {

// A data file mapped read-only: the reader borrows its bytes, and only the pages it touches
// (the footer and the decoded column chunks) are read from disk.
struct TableScan::MappedFile {
  const char* data = nullptr;
  size_t size = 0;

  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (data != nullptr) ::munmap(const_cast<char*>(data), size);
  }

  static Result<std::unique_ptr<MappedFile>> Open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return Status::IOError(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      return Status::IOError(fmt::format("cannot stat {}: {}", path, std::strerror(err)));
    }
    auto file = std::make_unique<MappedFile>();
    file->size = static_cast<size_t>(st.st_size);
    if (file->size == 0) {
      ::close(fd);
      return Status::Corruption(fmt::format("{} is empty", path));
    }
    void* p = ::mmap(nullptr, file->size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    ::close(fd);
    if (p == MAP_FAILED)
      return Status::IOError(fmt::format("cannot map {}: {}", path, std::strerror(err)));
    file->data = static_cast<const char*>(p);
    return file;
  }
};

namespace {

constexpr int kIncomparable = 2;

int CompareDoubles(double a, double b) {
  // NaN equals NaN and is above every other number, as in SQL comparisons.
  const bool an = std::isnan(a), bn = std::isnan(b);
  if (an || bn) return an == bn ? 0 : (an ? 1 : -1);
  return a < b ? -1 : (a > b ? 1 : 0);
}

// Three-way comparison of a column value (statistics) with a bound, as SQL compares them.
int CompareScalars(const ScanScalar& value, const ScanScalar& bound) {
  if (const auto* s = std::get_if<std::string>(&value)) {
    const auto* b = std::get_if<std::string>(&bound);
    if (b == nullptr) return kIncomparable;
    const int c = s->compare(*b);
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (std::holds_alternative<std::string>(bound)) return kIncomparable;
  if (const auto* v = std::get_if<int64_t>(&value)) {
    if (const auto* b = std::get_if<int64_t>(&bound)) return *v < *b ? -1 : (*v > *b ? 1 : 0);
    return CompareDoubles(static_cast<double>(*v), std::get<double>(bound));
  }
  const double v = std::get<double>(value);
  if (const auto* b = std::get_if<int64_t>(&bound))
    return CompareDoubles(v, static_cast<double>(*b));
  return CompareDoubles(v, std::get<double>(bound));
}

// Whether values within [min, max] (either may be unknown) may satisfy lower <= v <= upper.
bool MayOverlap(const std::optional<ScanScalar>& min, const std::optional<ScanScalar>& max,
                const std::optional<ScanBound>& lower, const std::optional<ScanBound>& upper) {
  if (lower && max) {
    const int c = CompareScalars(*max, lower->value);
    if (c != kIncomparable && (c < 0 || (c == 0 && !lower->inclusive))) return false;
  }
  if (upper && min) {
    const int c = CompareScalars(*min, upper->value);
    if (c != kIncomparable && (c > 0 || (c == 0 && !upper->inclusive))) return false;
  }
  return true;
}

bool IsInt64Based(ColumnType t) {
  return t == ColumnType::kInt64 || t == ColumnType::kTimestampMicros || t == ColumnType::kDecimal;
}

// A statistic of `spec`'s column as a scalar comparable with bounds.
std::optional<ScanScalar> FromInt64(const ColumnSpec& spec, int64_t v) {
  if (spec.type == ColumnType::kDecimal) return ScanScalar(DecimalToDouble(v, spec.scale));
  return ScanScalar(v);
}

// Parquet column chunk statistics (PLAIN-encoded bytes) as scalars.
void ParquetBounds(const ColumnSpec& spec, const ColumnStatistics& st,
                   std::optional<ScanScalar>& min, std::optional<ScanScalar>& max) {
  min.reset();
  max.reset();
  if (IsInt64Based(spec.type)) {
    if (auto v = st.MinInt64()) min = FromInt64(spec, *v);
    if (auto v = st.MaxInt64()) max = FromInt64(spec, *v);
  } else if (spec.type == ColumnType::kDouble) {
    if (auto v = st.MinDouble()) min = ScanScalar(*v);
    if (auto v = st.MaxDouble()) max = ScanScalar(*v);
  } else if (spec.type == ColumnType::kBool) {
    if (st.min && st.min->size() == 1) min = ScanScalar(int64_t{(*st.min)[0] != 0});
    if (st.max && st.max->size() == 1) max = ScanScalar(int64_t{(*st.max)[0] != 0});
  } else if (spec.type == ColumnType::kString) {
    // Truncated string bounds are still bounds (docs/lake.md, "Statistics").
    if (st.min) min = ScanScalar(*st.min);
    if (st.max) max = ScanScalar(*st.max);
  }
}

// An Iceberg single-value bound (manifest lower/upper bounds) as a scalar; nullopt when it
// cannot be read (pruning then does not use it).
std::optional<ScanScalar> IcebergBound(const IcebergField& field, const ColumnSpec& spec,
                                       std::string_view bytes) {
  switch (field.type.id) {
    case IcebergTypeId::kLong:
    case IcebergTypeId::kTimestamptz: {
      Result<int64_t> v = ParseSingleLong(bytes);
      if (!v.ok()) return std::nullopt;
      return ScanScalar(*v);
    }
    case IcebergTypeId::kInt: {
      Result<int32_t> v = ParseSingleInt(bytes);
      if (!v.ok()) return std::nullopt;
      return ScanScalar(int64_t{*v});
    }
    case IcebergTypeId::kDouble: {
      Result<double> v = ParseSingleDouble(bytes);
      if (!v.ok() || std::isnan(*v)) return std::nullopt;
      return ScanScalar(*v);
    }
    case IcebergTypeId::kBoolean:
      if (bytes.size() != 1) return std::nullopt;
      return ScanScalar(int64_t{bytes[0] != 0});
    case IcebergTypeId::kString:
      return ScanScalar(std::string(bytes));
    case IcebergTypeId::kDecimal: {
      // Two's complement, big-endian, minimal length.
      if (bytes.empty() || bytes.size() > 8) return std::nullopt;
      int64_t v = static_cast<int8_t>(bytes[0]) < 0 ? -1 : 0;
      for (char c : bytes)
        v = static_cast<int64_t>(static_cast<uint64_t>(v) << 8) | static_cast<uint8_t>(c);
      return FromInt64(spec, v);
    }
  }
  return std::nullopt;
}

int32_t ClampedHour(int64_t micros) {
  const int64_t hour = FloorDiv(micros, kMicrosPerHour);
  return static_cast<int32_t>(std::clamp<int64_t>(hour, std::numeric_limits<int32_t>::min(),
                                                  std::numeric_limits<int32_t>::max()));
}

}  // namespace

double DecimalToDouble(int64_t unscaled, int scale) {
  static constexpr double kPowers[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8, 1e9,
                                       1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};
  const int s = std::clamp(scale, 0, 18);
  return static_cast<double>(unscaled) / kPowers[s];
}

IcebergType IcebergTypeFor(const ColumnSpec& column) {
  IcebergType t;
  switch (column.type) {
    case ColumnType::kString:
      t.id = IcebergTypeId::kString;
      break;
    case ColumnType::kInt64:
      t.id = IcebergTypeId::kLong;
      break;
    case ColumnType::kDouble:
      t.id = IcebergTypeId::kDouble;
      break;
    case ColumnType::kBool:
      t.id = IcebergTypeId::kBoolean;
      break;
    case ColumnType::kTimestampMicros:
      t.id = IcebergTypeId::kTimestamptz;
      break;
    case ColumnType::kDecimal:
      t.id = IcebergTypeId::kDecimal;
      t.precision = column.precision;
      t.scale = column.scale;
      break;
  }
  return t;
}

Result<ColumnSpec> ColumnSpecFor(const IcebergField& field) {
  ColumnSpec spec;
  spec.name = field.name;
  spec.optional = !field.required;
  switch (field.type.id) {
    case IcebergTypeId::kBoolean:
      spec.type = ColumnType::kBool;
      return spec;
    case IcebergTypeId::kLong:
      spec.type = ColumnType::kInt64;
      return spec;
    case IcebergTypeId::kDouble:
      spec.type = ColumnType::kDouble;
      return spec;
    case IcebergTypeId::kString:
      spec.type = ColumnType::kString;
      return spec;
    case IcebergTypeId::kTimestamptz:
      spec.type = ColumnType::kTimestampMicros;
      return spec;
    case IcebergTypeId::kDecimal:
      if (field.type.precision > kMaxDecimalPrecision) break;
      spec.type = ColumnType::kDecimal;
      spec.precision = field.type.precision;
      spec.scale = field.type.scale;
      return spec;
    case IcebergTypeId::kInt:
      break;
  }
  return Status::InvalidArgument(fmt::format("column '{}': the lake reader does not read {}",
                                             field.name, field.type.ToString()));
}

TableScan::~TableScan() = default;

Result<std::unique_ptr<TableScan>> TableScan::Open(const IcebergTable& table,
                                                   const Snapshot& snapshot,
                                                   TableScanOptions options) {
  std::unique_ptr<TableScan> scan(new TableScan());
  scan->table_ = &table;
  scan->reader_options_ = options.reader;
  const IcebergSchema* schema = nullptr;
  for (const IcebergSchema& s : table.schemas())
    if (s.schema_id == snapshot.schema_id) schema = &s;
  if (schema == nullptr) schema = &table.schema();

  for (const std::string& name : options.columns) {
    const IcebergField* field = schema->Find(name);
    if (field == nullptr)
      return Status::InvalidArgument(fmt::format("table {} has no column '{}'", table.dir(), name));
    SLUICE_ASSIGN_OR_RETURN(ColumnSpec spec, ColumnSpecFor(*field));
    scan->buffers_.emplace_back(spec.type);
    scan->specs_.push_back(std::move(spec));
  }

  // Hours the ranges on the partition source allow.
  const std::string& hour_source = table.hour_partition_source();
  std::optional<int32_t> first_hour, last_hour;
  bool no_hours = false;
  for (const ScanRange& r : options.ranges) {
    const IcebergField* field = schema->Find(r.column);
    if (field == nullptr)
      return Status::InvalidArgument(
          fmt::format("table {} has no column '{}'", table.dir(), r.column));
    SLUICE_ASSIGN_OR_RETURN(ColumnSpec spec, ColumnSpecFor(*field));
    if (!hour_source.empty() && r.column == hour_source) {
      if (r.lower)
        if (const auto* v = std::get_if<int64_t>(&r.lower->value))
          first_hour =
              std::max(first_hour.value_or(std::numeric_limits<int32_t>::min()), ClampedHour(*v));
      if (r.upper)
        if (const auto* v = std::get_if<int64_t>(&r.upper->value)) {
          if (!r.upper->inclusive && *v == std::numeric_limits<int64_t>::min()) {
            no_hours = true;
          } else {
            const int32_t h = ClampedHour(r.upper->inclusive ? *v : *v - 1);
            last_hour = std::min(last_hour.value_or(std::numeric_limits<int32_t>::max()), h);
          }
        }
    }
    scan->ranges_.push_back(Range{field->id, *field, std::move(spec), r.lower, r.upper});
  }
  scan->open_files_ = !scan->specs_.empty() || !scan->ranges_.empty();

  int64_t total_files = -1;
  if (auto it = snapshot.summary.find("total-data-files"); it != snapshot.summary.end()) {
    char* end = nullptr;
    const long long n = std::strtoll(it->second.c_str(), &end, 10);
    if (end != it->second.c_str() && *end == '\0' && n >= 0) total_files = n;
  }
  if (no_hours || (first_hour && last_hour && *first_hour > *last_hour)) {
    // No hour can match: nothing is read.
  } else if (first_hour || last_hour) {
    SLUICE_ASSIGN_OR_RETURN(
        scan->files_,
        table.LiveFilesForHours(snapshot, first_hour.value_or(std::numeric_limits<int32_t>::min()),
                                last_hour.value_or(std::numeric_limits<int32_t>::max())));
  } else {
    SLUICE_ASSIGN_OR_RETURN(scan->files_, table.LiveFiles(snapshot));
    total_files = static_cast<int64_t>(scan->files_.size());
  }
  if (options.partition_order)
    std::stable_sort(scan->files_.begin(), scan->files_.end(), [](const auto& a, const auto& b) {
      if (a.file.partition_hour != b.file.partition_hour)
        return a.file.partition_hour < b.file.partition_hour;
      return a.file.path < b.file.path;
    });
  for (const DataFileEntry& e : scan->files_)
    scan->stats_.file_records += std::max<int64_t>(0, e.file.record_count);
  const int64_t kept = static_cast<int64_t>(scan->files_.size());
  scan->stats_.files = std::max(total_files, kept);
  scan->stats_.files_pruned_by_partition = scan->stats_.files - kept;
  return scan;
}

bool TableScan::FileMayMatch(const DataFile& file) const {
  for (const Range& r : ranges_) {
    if (auto nulls = file.stats.null_value_counts.find(r.field_id);
        nulls != file.stats.null_value_counts.end() && file.record_count > 0 &&
        nulls->second >= file.record_count)
      return false;  // only nulls: no value satisfies a range
    std::optional<ScanScalar> min, max;
    if (auto it = file.stats.lower_bounds.find(r.field_id); it != file.stats.lower_bounds.end())
      min = IcebergBound(r.field, r.spec, it->second);
    if (auto it = file.stats.upper_bounds.find(r.field_id); it != file.stats.upper_bounds.end())
      max = IcebergBound(r.field, r.spec, it->second);
    if (!MayOverlap(min, max, r.lower, r.upper)) return false;
  }
  return true;
}

bool TableScan::RowGroupMayMatch(const RowGroupInfo& group) const {
  std::optional<ScanScalar> min, max;
  for (size_t i = 0; i < ranges_.size(); ++i) {
    const Range& r = ranges_[i];
    const int column = range_file_columns_[i];
    if (column < 0) return false;  // absent from the file: only nulls, which never match
    const ColumnChunkInfo& chunk = group.columns[static_cast<size_t>(column)];
    if (chunk.statistics.null_count && *chunk.statistics.null_count >= group.num_rows &&
        group.num_rows > 0)
      return false;
    ParquetBounds(reader_->info().columns[static_cast<size_t>(column)], chunk.statistics, min, max);
    if (!MayOverlap(min, max, r.lower, r.upper)) return false;
  }
  return true;
}

Status TableScan::OpenFile(const DataFileEntry& entry) {
  reader_.reset();
  mapped_.reset();
  const std::string path = table_->dir() + "/" + entry.file.path;
  SLUICE_ASSIGN_OR_RETURN(mapped_, MappedFile::Open(path));
  Result<ParquetReader> reader =
      ParquetReader::Open(std::string_view(mapped_->data, mapped_->size), reader_options_);
  if (!reader.ok())
    return Status(reader.status().code(), fmt::format("{}: {}", path, reader.status().message()));
  reader_.emplace(std::move(reader).value());
  const std::vector<ColumnSpec>& file_columns = reader_->info().columns;
  auto find = [&](const ColumnSpec& want) -> Result<int> {
    for (size_t c = 0; c < file_columns.size(); ++c) {
      if (file_columns[c].name != want.name) continue;
      const ColumnSpec& have = file_columns[c];
      if (have.type != want.type || (want.type == ColumnType::kDecimal && have.scale != want.scale))
        return Status::Corruption(
            fmt::format("{}: column '{}' is {} in the file but {} in the table", path, want.name,
                        ColumnTypeName(have.type), ColumnTypeName(want.type)));
      return static_cast<int>(c);
    }
    return -1;
  };
  file_columns_.clear();
  for (const ColumnSpec& spec : specs_) {
    SLUICE_ASSIGN_OR_RETURN(int c, find(spec));
    file_columns_.push_back(c);
  }
  range_file_columns_.clear();
  for (const Range& r : ranges_) {
    SLUICE_ASSIGN_OR_RETURN(int c, find(r.spec));
    range_file_columns_.push_back(c);
  }
  next_group_ = 0;
  ++stats_.files_read;
  stats_.row_groups += static_cast<int64_t>(reader_->info().row_groups.size());
  return Status::Ok();
}

Status TableScan::ReadRowGroup(size_t group) {
  const RowGroupInfo& info = reader_->info().row_groups[group];
  for (size_t i = 0; i < specs_.size(); ++i) {
    ColumnBuffer& buffer = buffers_[i];
    const int column = file_columns_[i];
    if (column < 0) {  // a column added after this file was written
      buffer.Clear();
      for (int64_t r = 0; r < info.num_rows; ++r) buffer.AppendNull();
      continue;
    }
    if (Status st = reader_->ReadColumn(group, static_cast<size_t>(column), buffer); !st.ok())
      return Status(st.code(), fmt::format("{}/{}: {}", table_->dir(),
                                           files_[next_file_ - 1].file.path, st.message()));
    stats_.bytes_decoded += info.columns[static_cast<size_t>(column)].total_compressed_size;
  }
  rows_ = static_cast<size_t>(info.num_rows);
  return Status::Ok();
}

Result<bool> TableScan::Next() {
  rows_ = 0;
  while (true) {
    if (reader_) {
      const std::vector<RowGroupInfo>& groups = reader_->info().row_groups;
      while (next_group_ < groups.size()) {
        const size_t group = next_group_++;
        if (!RowGroupMayMatch(groups[group])) {
          ++stats_.row_groups_pruned;
          continue;
        }
        SLUICE_RETURN_IF_ERROR(ReadRowGroup(group));
        stats_.rows += static_cast<int64_t>(rows_);
        return true;
      }
      reader_.reset();
      mapped_.reset();
    }
    if (next_file_ >= files_.size()) {
      for (ColumnBuffer& b : buffers_) b.Clear();
      return false;
    }
    const DataFileEntry& entry = files_[next_file_++];
    if (!FileMayMatch(entry.file)) {
      ++stats_.files_pruned_by_bounds;
      continue;
    }
    if (!open_files_) {
      rows_ = static_cast<size_t>(std::max<int64_t>(0, entry.file.record_count));
      stats_.rows += static_cast<int64_t>(rows_);
      if (rows_ > 0) return true;
      continue;
    }
    SLUICE_RETURN_IF_ERROR(OpenFile(entry));
  }
}

}  // namespace sluice::lake
