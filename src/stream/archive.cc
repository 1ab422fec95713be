#include "stream/archive.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/thread_name.h"
#include "base/thread_priority.h"
#include "lake/file_metrics.h"
#include "lake/hash_chain.h"
#include "lake/iceberg_table.h"
#include "lake/parquet_reader.h"
#include "lake/table_scan.h"

static_assert(sluice::log::kReadPadding >= sluice::lake::kEventPadding);

namespace sluice::stream {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kOffsetsKey = "sluice.offsets";
constexpr std::string_view kPartitionColumn = "_partition";
constexpr std::string_view kOffsetColumn = "_offset";
constexpr std::string_view kChainFile = "sluice-hash-chain.jsonl";
constexpr size_t kReadBytes = 4u << 20;

std::string JoinOffsets(const std::vector<uint64_t>& offsets) {
  std::string out;
  for (size_t i = 0; i < offsets.size(); ++i) out += (i ? "," : "") + std::to_string(offsets[i]);
  return out;
}

// "12,0,7" -> offsets; nullopt when malformed.
std::optional<std::vector<uint64_t>> SplitOffsets(std::string_view text) {
  std::vector<uint64_t> offsets;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (ec != std::errc() || end != item.data() + item.size()) return std::nullopt;
    offsets.push_back(v);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return offsets;
}

}  // namespace

struct Archive::Impl {
  ArchiveOptions options;
  const log::Log& input;
  Clock& clock;
  std::unique_ptr<lake::IcebergTable> table;
  std::unique_ptr<lake::HashChain> chain;
  std::vector<lake::ColumnSpec> specs;  // EventColumns::specs(), then _partition and _offset
  std::vector<std::unique_ptr<log::PartitionReader>> readers;
  std::vector<uint64_t> committed;  // next offset per partition in the table
  std::vector<uint64_t> read_to;    // next offset per partition read into open files

  struct OpenFile {
    std::string relative_path;
    std::unique_ptr<lake::ParquetWriter> writer;
  };
  // The partitions are split between lanes (partition p goes to lane p % lanes), each with its
  // own parser and files, that read in parallel (one on the archive thread, the others on
  // threads of their own for the duration of a read) and are committed together.
  struct Lane {
    int index = 0;
    std::vector<uint32_t> partitions;
    std::unique_ptr<lake::EventColumns> columns;
    std::map<int32_t, OpenFile> open_files;  // by event hour
    // Writers of committed files, reopened for the next files: their grown buffers are reused.
    std::vector<std::unique_ptr<lake::ParquetWriter>> spare_writers;
    int64_t buffered_bytes = 0;
    uint64_t files_written = 0;
  };
  std::vector<Lane> lanes;
  int64_t next_sequence = 0;  // of the next commit, while lanes read
  int64_t last_commit_micros = 0;
  int64_t last_housekeeping_micros = 0;
  std::atomic<uint64_t> skipped{0};

  Counter* events_archived = nullptr;
  Counter* commits = nullptr;
  Counter* bytes_written = nullptr;
  Gauge* lag = nullptr;

  std::mutex mu;  // one round at a time (the thread, or RunOnce/Stop/Housekeep)
  std::condition_variable wake;

  Impl(ArchiveOptions o, const log::Log& in, Clock& c)
      : options(std::move(o)), input(in), clock(c) {}

  int64_t NextSequence() const {
    std::optional<lake::Snapshot> current = table->CurrentSnapshot();
    return (current ? current->sequence_number : 0) + 1;
  }

  int64_t BufferedBytes() const {
    int64_t total = 0;
    for (const Lane& lane : lanes) total += lane.buffered_bytes;
    return total;
  }
  bool HasOpenFiles() const {
    for (const Lane& lane : lanes)
      if (!lane.open_files.empty()) return true;
    return false;
  }
  void DropOpenFiles() {
    for (Lane& lane : lanes) {
      lane.open_files.clear();
      lane.buffered_bytes = 0;
    }
  }

  // Called from the lane's thread: touches only the lane, the table's paths and the specs.
  Result<OpenFile*> FileFor(Lane& lane, int32_t hour) {
    auto it = lane.open_files.find(hour);
    if (it != lane.open_files.end()) return &it->second;
    OpenFile file;
    file.relative_path = table->DataPath(hour, fmt::format("{}-{}-{}-{}.parquet", next_sequence,
                                                           hour, lane.index, ++lane.files_written));
    const fs::path full = fs::path(table->dir()) / file.relative_path;
    std::error_code ec;
    fs::create_directories(full.parent_path(), ec);
    if (ec)
      return Status::IOError(
          fmt::format("archive: cannot create {}: {}", full.parent_path().string(), ec.message()));
    if (!lane.spare_writers.empty()) {
      file.writer = std::move(lane.spare_writers.back());
      lane.spare_writers.pop_back();
      SLUICE_RETURN_IF_ERROR(file.writer->Reopen(full.string()));
    } else {
      lake::WriterOptions writer_options = options.writer;
      writer_options.sha256 = true;  // for the hash chain, without reading the file again
      SLUICE_ASSIGN_OR_RETURN(file.writer,
                              lake::ParquetWriter::OpenFile(full.string(), specs, writer_options));
    }
    return &lane.open_files.emplace(hour, std::move(file)).first->second;
  }

  // Reads what each partition has and appends it to the open files, the lanes in parallel,
  // until everything available is read or commit_bytes are buffered.
  Status ReadAvailable() {
    next_sequence = NextSequence();
    if (lanes.size() == 1) return ReadLane(lanes[0]);
    std::vector<Status> results(lanes.size());
    std::vector<std::thread> threads;
    for (size_t i = 1; i < lanes.size(); ++i)
      threads.emplace_back([this, i, &results] { results[i] = ReadLane(lanes[i]); });
    results[0] = ReadLane(lanes[0]);
    for (std::thread& t : threads) t.join();
    UpdateLag();
    for (const Status& st : results) SLUICE_RETURN_IF_ERROR(st);
    return Status::Ok();
  }

  // One lane's partitions (on its own thread when there are several lanes).
  Status ReadLane(Lane& lane) {
    const size_t partition_column = specs.size() - 2;
    const int64_t lane_commit_bytes = options.commit_bytes / static_cast<int64_t>(lanes.size());
    for (uint32_t p : lane.partitions) {
      for (;;) {
        SLUICE_ASSIGN_OR_RETURN(auto batch, readers[p]->Read(kReadBytes));
        if (batch.empty()) break;
        if (batch.front().offset != read_to[p]) {
          skipped += batch.front().offset - read_to[p];
          spdlog::error(
              "archive {}: partition {}: records {}..{} left the log before being "
              "archived (the log's retention is shorter than the archive's lag)",
              options.table, p, read_to[p], batch.front().offset - 1);
        }
        for (const log::RecordView& r : batch) {
          SLUICE_ASSIGN_OR_RETURN(OpenFile * file,
                                  FileFor(lane, lake::HourOfMicros(r.event_time_micros)));
          lane.columns->AppendPadded(r.payload, *file->writer);  // log.h: kReadPadding
          file->writer->column(partition_column).AppendInt64(p);
          file->writer->column(partition_column + 1).AppendInt64(static_cast<int64_t>(r.offset));
          lane.buffered_bytes += static_cast<int64_t>(r.payload.size());
        }
        for (auto& [hour, file] : lane.open_files)
          SLUICE_RETURN_IF_ERROR(file.writer->CommitRows());
        read_to[p] = readers[p]->next_offset();  // only this lane writes this element
        events_archived->Add(batch.size());
        if (lanes.size() == 1) UpdateLag();
        if (lane.buffered_bytes >= lane_commit_bytes) return Status::Ok();
      }
    }
    return Status::Ok();
  }

  // Closes the open files, records them in the hash chain and commits them with the offsets
  // read so far.
  Status Commit() {
    if (read_to == committed) return Status::Ok();
    lake::AppendFiles change;
    const int64_t now = clock.NowMicros();
    for (Lane& lane : lanes)
      for (auto& [hour, file] : lane.open_files) {
        if (file.writer->rows_written() == 0 && file.writer->bytes_written() == 0) continue;
        SLUICE_RETURN_IF_ERROR(file.writer->Close());
        lake::DataFile data;
        data.path = file.relative_path;
        data.record_count = file.writer->rows_written();
        data.file_size_in_bytes = file.writer->bytes_written();
        data.partition_hour = hour;
        data.stats =
            lake::IcebergMetrics(specs, file.writer->column_summaries(), {lake::kRawColumn});
        SLUICE_RETURN_IF_ERROR(chain->AppendAdded(
            data.path, static_cast<uint64_t>(data.file_size_in_bytes), file.writer->sha256_hex(),
            now, static_cast<uint64_t>(NextSequence())));
        lane.spare_writers.push_back(std::move(file.writer));
        bytes_written->Add(static_cast<uint64_t>(data.file_size_in_bytes));
        change.added.push_back(std::move(data));
      }
    for (Lane& lane : lanes) lane.open_files.clear();
    change.summary[std::string(kOffsetsKey)] = JoinOffsets(read_to);
    uint64_t total = 0;
    for (uint64_t o : read_to) total += o;
    change.summary["sluice.last-offset"] = std::to_string(total);
    if (change.added.empty()) {
      // Only records of no event (skipped ones) were read: nothing to commit, nothing lost.
      committed = read_to;
      return Status::Ok();
    }
    SLUICE_RETURN_IF_ERROR(table->Commit(change).status());
    committed = read_to;
    DropOpenFiles();
    commits->Add();
    return Status::Ok();
  }

  Status CommitIfDue(bool force) {
    const int64_t now = clock.MonotonicMicros();
    if (!force && BufferedBytes() < options.commit_bytes &&
        now - last_commit_micros < options.commit_interval_micros)
      return Status::Ok();
    Status st = Commit();
    if (st.ok()) {
      last_commit_micros = now;
    } else {
      // The open files are lost with their rows (their writers may be half closed): read the
      // records again from the last commit, into new files.
      DropOpenFiles();
      for (uint32_t p = 0; p < readers.size(); ++p) readers[p]->Seek(committed[p]);
      read_to = committed;
    }
    return st;
  }

  // Records durable in the log and not yet in the open files.
  void UpdateLag() {
    uint64_t end = 0, position = 0;
    for (uint32_t p = 0; p < readers.size(); ++p) {
      end += input.DurableEndOffset(p);
      position += read_to[p];
    }
    lag->Set(static_cast<int64_t>(end > position ? end - position : 0));
  }

  Status Round(bool force) {
    SLUICE_RETURN_IF_ERROR(ReadAvailable());
    UpdateLag();
    SLUICE_RETURN_IF_ERROR(CommitIfDue(force));
    if (!HasOpenFiles() &&
        clock.NowMicros() - last_housekeeping_micros >= options.housekeeping_interval_micros)
      SLUICE_RETURN_IF_ERROR(Housekeep());
    return Status::Ok();
  }

  // Removes the partitions past retention through a snapshot, then expires old snapshots.
  // First commits the open files: their names carry the next commit's sequence number, which
  // a retention commit in between would take (see lake::DataFileSequence).
  Status Housekeep() {
    SLUICE_RETURN_IF_ERROR(CommitIfDue(true));
    last_housekeeping_micros = clock.NowMicros();
    std::optional<lake::Snapshot> current = table->CurrentSnapshot();
    if (!current) return Status::Ok();
    const int64_t cutoff = clock.NowMicros() - options.retention_micros;
    SLUICE_ASSIGN_OR_RETURN(std::vector<lake::DataFileEntry> live, table->LiveFiles(*current));
    lake::AppendFiles change;
    for (const lake::DataFileEntry& e : live) {
      // An hour's partition goes once the whole hour is past retention.
      if (e.file.partition_hour &&
          (int64_t{*e.file.partition_hour} + 1) * 3600 * 1'000'000 <= cutoff)
        change.deleted.push_back(e.file.path);
    }
    if (!change.deleted.empty()) {
      change.summary[std::string(kOffsetsKey)] = JoinOffsets(committed);
      SLUICE_RETURN_IF_ERROR(table->Commit(change).status());
      spdlog::info("archive {}: {} file(s) past the retention removed from the table",
                   options.table, change.deleted.size());
    }
    SLUICE_RETURN_IF_ERROR(Compact());
    SLUICE_ASSIGN_OR_RETURN(int deleted, table->ExpireSnapshots(SnapshotsToKeep()));
    if (deleted > 0) {
      // Files the expiry deleted leave the hash chain as expired, not as missing.
      for (const std::string& path : PathsGoneFromDisk())
        SLUICE_RETURN_IF_ERROR(
            chain->AppendRemoved(path, "retention", clock.NowMicros(), NextSequence() - 1));
    }
    return Status::Ok();
  }

  // Rewrites the small files of each closed hour (its end plus compaction_grace is past) with
  // at least compaction_min_files of them into files of about compaction_target_bytes, in one
  // snapshot that deletes the small files and adds the large ones, offsets unchanged. The new
  // files are named with that snapshot's sequence number, so a crash before the commit leaves
  // only files that the next start removes (RemoveUncommittedFiles); earlier snapshots keep
  // reading the small files until they expire.
  Status Compact() {
    std::optional<lake::Snapshot> current = table->CurrentSnapshot();
    if (!current || options.compaction_min_files <= 1) return Status::Ok();
    SLUICE_ASSIGN_OR_RETURN(std::vector<lake::DataFileEntry> live, table->LiveFiles(*current));
    const int64_t now = clock.NowMicros();
    std::map<int32_t, std::vector<const lake::DataFileEntry*>> small_by_hour;
    for (const lake::DataFileEntry& e : live) {
      if (!e.file.partition_hour ||
          (int64_t{*e.file.partition_hour} + 1) * 3600 * 1'000'000 +
                  options.compaction_grace_micros >
              now ||
          e.file.file_size_in_bytes >= options.compaction_target_bytes)
        continue;
      small_by_hour[*e.file.partition_hour].push_back(&e);
    }
    const int64_t sequence = NextSequence();
    lake::AppendFiles change;
    std::vector<std::string> written;  // full paths, removed again if the commit fails
    Status st;
    // The thread does not read the log meanwhile: bound the work of one housekeeping round
    // (the rest waits for the next one).
    int64_t budget = options.compaction_max_bytes_per_round;
    for (auto& [hour, files] : small_by_hour) {
      if (static_cast<int64_t>(files.size()) < options.compaction_min_files) continue;
      if (budget <= 0) break;
      for (const lake::DataFileEntry* e : files) budget -= e->file.file_size_in_bytes;
      st = CompactHour(hour, files, sequence, change, written);
      if (!st.ok()) break;
    }
    if (st.ok() && !change.added.empty()) {
      change.summary[std::string(kOffsetsKey)] = JoinOffsets(committed);
      change.summary["sluice.compaction"] = "true";
      st = table->Commit(change).status();
    }
    if (!st.ok()) {
      std::error_code ec;
      for (const std::string& path : written) fs::remove(path, ec);
      return st;
    }
    if (change.added.empty()) return Status::Ok();
    for (const std::string& path : change.deleted)
      SLUICE_RETURN_IF_ERROR(chain->AppendRemoved(path, "compacted", clock.NowMicros(),
                                                  static_cast<uint64_t>(sequence)));
    spdlog::info("archive {}: compacted {} small file(s) into {}", options.table,
                 change.deleted.size(), change.added.size());
    return Status::Ok();
  }

  // Copies the rows of `files` (one hour) into new files of about compaction_target_bytes.
  Status CompactHour(int32_t hour, const std::vector<const lake::DataFileEntry*>& files,
                     int64_t sequence, lake::AppendFiles& change,
                     std::vector<std::string>& written) {
    std::unique_ptr<lake::ParquetWriter> writer;
    std::string relative;
    int64_t input_bytes = 0;
    int part = 0;
    std::vector<std::string> inputs;
    auto finish = [&]() -> Status {
      if (!writer) return Status::Ok();
      SLUICE_RETURN_IF_ERROR(writer->Close());
      lake::DataFile data;
      data.path = relative;
      data.record_count = writer->rows_written();
      data.file_size_in_bytes = writer->bytes_written();
      data.partition_hour = hour;
      data.stats = lake::IcebergMetrics(specs, writer->column_summaries(), {lake::kRawColumn});
      SLUICE_RETURN_IF_ERROR(chain->AppendAdded(
          data.path, static_cast<uint64_t>(data.file_size_in_bytes), writer->sha256_hex(),
          clock.NowMicros(), static_cast<uint64_t>(sequence)));
      change.added.push_back(std::move(data));
      for (std::string& in : inputs) change.deleted.push_back(std::move(in));
      inputs.clear();
      writer.reset();
      input_bytes = 0;
      return Status::Ok();
    };
    std::vector<lake::ColumnBuffer> buffers;
    for (const lake::ColumnSpec& c : specs) buffers.emplace_back(c.type);
    for (const lake::DataFileEntry* e : files) {
      SLUICE_ASSIGN_OR_RETURN(
          std::string bytes, lake::ReadWholeFile((fs::path(table->dir()) / e->file.path).string()));
      SLUICE_ASSIGN_OR_RETURN(lake::ParquetReader reader, lake::ParquetReader::Open(bytes));
      // Columns by name: a file written with another column set (an older schema) stays.
      std::vector<int> source(specs.size(), -1);
      const auto& columns = reader.info().columns;
      for (size_t i = 0; i < specs.size(); ++i)
        for (size_t j = 0; j < columns.size(); ++j)
          if (columns[j].name == specs[i].name && columns[j].type == specs[i].type)
            source[i] = static_cast<int>(j);
      // A file written before a column was added has none: nulls (the column is optional).
      bool usable = true;
      for (size_t i = 0; i < specs.size(); ++i) usable &= source[i] >= 0 || specs[i].optional;
      if (!usable) continue;
      if (!writer) {
        relative = table->DataPath(hour, fmt::format("{}-{}-c-{}.parquet", sequence, hour, part++));
        const std::string full = (fs::path(table->dir()) / relative).string();
        lake::WriterOptions writer_options = options.writer;
        writer_options.sha256 = true;
        SLUICE_ASSIGN_OR_RETURN(writer, lake::ParquetWriter::OpenFile(full, specs, writer_options));
        written.push_back(full);
      }
      for (size_t g = 0; g < reader.info().row_groups.size(); ++g) {
        for (size_t i = 0; i < specs.size(); ++i) {
          if (source[i] < 0) {
            for (int64_t r = 0; r < reader.info().row_groups[g].num_rows; ++r)
              writer->column(i).AppendNull();
            continue;
          }
          buffers[i].Clear();
          SLUICE_RETURN_IF_ERROR(reader.ReadColumn(g, static_cast<size_t>(source[i]), buffers[i]));
          CopyColumn(buffers[i], writer->column(i));
        }
        SLUICE_RETURN_IF_ERROR(writer->CommitRows());
      }
      inputs.push_back(e->file.path);
      input_bytes += e->file.file_size_in_bytes;
      if (input_bytes >= options.compaction_target_bytes) SLUICE_RETURN_IF_ERROR(finish());
    }
    return finish();
  }

  static void CopyColumn(const lake::ColumnBuffer& from, lake::ColumnBuffer& to) {
    for (size_t r = 0; r < from.size(); ++r) {
      if (from.IsNull(r)) {
        to.AppendNull();
        continue;
      }
      switch (from.type()) {
        case lake::ColumnType::kString:
          to.AppendString(from.StringAt(r));
          break;
        case lake::ColumnType::kDouble:
          to.AppendDouble(from.DoubleAt(r));
          break;
        case lake::ColumnType::kBool:
          to.AppendBool(from.BoolAt(r));
          break;
        default:
          to.AppendInt64(from.Int64At(r));
      }
    }
  }

  // The expiry policy (ArchiveOptions::snapshot_retention_micros): every snapshot younger than
  // the first cutoff, the last one of each hour younger than the second.
  std::function<bool(const lake::Snapshot&)> SnapshotsToKeep() const {
    const int64_t now_ms = clock.NowMicros() / 1000;
    const int64_t all_ms =
        now_ms - std::min(options.snapshot_retention_micros, options.retention_micros) / 1000;
    const int64_t hourly_ms =
        now_ms -
        std::min(options.hourly_snapshot_retention_micros, options.retention_micros) / 1000;
    constexpr int64_t kHourMs = 3600 * 1000;
    std::set<int64_t> last_of_hour;                               // snapshot ids
    const std::vector<lake::Snapshot>& all = table->snapshots();  // oldest first
    for (size_t i = 0; i < all.size(); ++i) {
      const bool last =
          i + 1 == all.size() || all[i + 1].timestamp_ms / kHourMs != all[i].timestamp_ms / kHourMs;
      if (last) last_of_hour.insert(all[i].snapshot_id);
    }
    return [=](const lake::Snapshot& s) {
      return s.timestamp_ms >= all_ms ||
             (s.timestamp_ms >= hourly_ms && last_of_hour.count(s.snapshot_id) > 0);
    };
  }

  // Data files the chain lists as added and not removed that are no longer on disk.
  std::vector<std::string> PathsGoneFromDisk() {
    std::vector<std::string> gone;
    Result<lake::VerifyReport> report = lake::Verify((fs::path(table->dir()) / kChainFile).string(),
                                                     table->dir(), /*rehash=*/false);
    if (report.ok()) gone = report->missing;
    return gone;
  }

  // After a crash: deletes data files written for a commit that did not happen, and records
  // their removal in the chain when it had recorded them.
  Status RemoveUncommittedFiles() {
    const int64_t last = NextSequence() - 1;
    SLUICE_ASSIGN_OR_RETURN(size_t removed, lake::RemoveUncommittedDataFiles(*table));
    if (removed > 0) {
      spdlog::info("archive {}: removed {} data file(s) written after the last commit",
                   options.table, removed);
      for (const std::string& path : PathsGoneFromDisk())
        SLUICE_RETURN_IF_ERROR(
            chain->AppendRemoved(path, "not committed (stopped before its commit)",
                                 clock.NowMicros(), static_cast<uint64_t>(last)));
    }
    return Status::Ok();
  }
};

Archive::Archive(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Archive::~Archive() {
  Status st = Stop();
  if (!st.ok())
    spdlog::error("archive {}: final commit failed (re-read at the next start): {}",
                  impl_->options.table, st.ToString());
}

Result<std::unique_ptr<Archive>> Archive::Open(ArchiveOptions options, const log::Log& input,
                                               Clock& clock, MetricsRegistry& metrics) {
  auto impl = std::make_unique<Impl>(std::move(options), input, clock);
  Impl& s = *impl;
  const uint32_t lane_count =
      std::max<uint32_t>(1, std::min<uint32_t>(s.options.threads, input.partitions()));
  for (uint32_t i = 0; i < lane_count; ++i) {
    Impl::Lane lane;
    lane.index = static_cast<int>(i);
    for (uint32_t p = i; p < input.partitions(); p += lane_count) lane.partitions.push_back(p);
    SLUICE_ASSIGN_OR_RETURN(lane.columns, lake::EventColumns::Make(s.options.columns));
    s.lanes.push_back(std::move(lane));
  }
  s.specs = s.lanes[0].columns->specs();
  s.specs.push_back({std::string(kPartitionColumn), lake::ColumnType::kInt64, false, 18, 2, true});
  s.specs.push_back({std::string(kOffsetColumn), lake::ColumnType::kInt64, false, 18, 2, false});
  const bool has_event_time =
      std::any_of(s.options.columns.begin(), s.options.columns.end(), [&](const auto& c) {
        return c.name == s.options.event_time_column &&
               c.type == lake::ColumnType::kTimestampMicros;
      });
  if (!has_event_time)
    return Status::InvalidArgument(
        fmt::format("archive {}: the event-time column '{}' must be one of the columns, as a "
                    "timestamp",
                    s.options.table, s.options.event_time_column));

  std::error_code ec;
  fs::create_directories(s.options.root, ec);
  if (fs::exists(fs::path(s.options.root) / s.options.table / "metadata" / "version-hint.text")) {
    SLUICE_ASSIGN_OR_RETURN(s.table,
                            lake::IcebergTable::Open(s.options.root, s.options.table, clock));
  } else {
    lake::IcebergTableSpec spec;
    for (const lake::ColumnSpec& c : s.specs)
      spec.fields.push_back({0, c.name, lake::IcebergTypeFor(c), !c.optional});
    spec.hour_partition_source = s.options.event_time_column;
    spec.properties["sluice.source"] = "the raw events of stream " + s.options.table;
    // A metadata file per commit (every 10 s): keep only the last few.
    spec.properties["write.metadata.delete-after-commit.enabled"] = "true";
    spec.properties["write.metadata.previous-versions-max"] = "20";
    SLUICE_ASSIGN_OR_RETURN(
        s.table, lake::IcebergTable::Create(s.options.root, s.options.table, spec, clock));
  }
  // Schema evolution: a column the table does not have yet (the stream's schema gained an
  // optional field) becomes a new optional Iceberg field with a new id; earlier files simply
  // lack it (null for readers). A column whose type changed keeps the table's field and type
  // in the metadata; its new files say what they hold.
  for (const lake::ColumnSpec& c : s.specs) {
    if (s.table->schema().Find(c.name) != nullptr) continue;
    if (!c.optional)
      return Status::FailedPrecondition(
          fmt::format("archive {}: the table has no column '{}' and a required one cannot be added",
                      s.options.table, c.name));
    SLUICE_RETURN_IF_ERROR(s.table->AddOptionalField(c.name, lake::IcebergTypeFor(c)));
    spdlog::info("archive {}: column '{}' added to the table (field id {})", s.options.table,
                 c.name, s.table->schema().Find(c.name)->id);
  }
  // Parquet columns carry their Iceberg field ids (readers match columns by id).
  for (lake::ColumnSpec& c : s.specs)
    if (const lake::IcebergField* f = s.table->schema().Find(c.name)) c.field_id = f->id;
  SLUICE_ASSIGN_OR_RETURN(s.chain,
                          lake::HashChain::Open((fs::path(s.table->dir()) / kChainFile).string()));
  SLUICE_RETURN_IF_ERROR(s.RemoveUncommittedFiles());

  const uint32_t partitions = input.partitions();
  s.committed.assign(partitions, 0);
  for (uint32_t p = 0; p < partitions; ++p) s.committed[p] = input.StartOffset(p);
  if (std::optional<lake::Snapshot> current = s.table->CurrentSnapshot()) {
    auto it = current->summary.find(std::string(kOffsetsKey));
    std::optional<std::vector<uint64_t>> offsets;
    if (it != current->summary.end()) offsets = SplitOffsets(it->second);
    if (!offsets || offsets->size() != partitions)
      return Status::Corruption(
          fmt::format("archive {}: the table's last snapshot has no valid {} for {} partition(s)",
                      s.options.table, kOffsetsKey, partitions));
    s.committed = *offsets;
  }
  s.read_to = s.committed;
  for (uint32_t p = 0; p < partitions; ++p) s.readers.push_back(input.NewReader(p, s.committed[p]));
  const std::string labels = fmt::format("table=\"{}\"", s.options.table);
  s.events_archived = metrics.GetCounter("sluice_archive_events_total",
                                         "Events appended to the archive's files", labels);
  s.commits =
      metrics.GetCounter("sluice_archive_commits_total", "Snapshots the archive committed", labels);
  s.bytes_written = metrics.GetCounter("sluice_archive_bytes_total",
                                       "Bytes of Parquet files the archive committed", labels);
  s.lag = metrics.GetGauge("sluice_archive_lag_records",
                           "Records of the log not yet in the archive's files", labels);
  s.last_commit_micros = clock.MonotonicMicros();
  s.last_housekeeping_micros = clock.NowMicros();
  return std::unique_ptr<Archive>(new Archive(std::move(impl)));
}

void Archive::Start() {
  stop_ = false;
  thread_ = std::thread([this] {
    SetCurrentThreadName("archive");
    // The lanes' threads, started from this one, inherit its priority.
    if (impl_->options.nice != 0)
      if (Status st = SetCurrentThreadNice(impl_->options.nice); !st.ok())
        spdlog::warn("archive {}: {}", impl_->options.table, st.ToString());
    Run();
  });
}

void Archive::Run() {
  Impl& s = *impl_;
  while (!stop_.load(std::memory_order_acquire)) {
    const uint64_t generation = s.input.durable_generation();
    {
      std::lock_guard lock(s.mu);
      if (Status st = s.Round(false); !st.ok())
        spdlog::error("archive {}: {} (retried)", s.options.table, st.ToString());
    }
    s.input.WaitForDurable(generation, std::chrono::milliseconds(200));
  }
}

Status Archive::Stop() {
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(impl_->mu);
  SLUICE_RETURN_IF_ERROR(impl_->ReadAvailable());
  return impl_->CommitIfDue(true);
}

Status Archive::RunOnce(bool force) {
  std::lock_guard lock(impl_->mu);
  return impl_->Round(force);
}

Status Archive::Housekeep() {
  std::lock_guard lock(impl_->mu);
  return impl_->Housekeep();
}

void Archive::SetCommitFaultHookForTest(lake::CommitFaultHook hook, void* arg) {
  std::lock_guard lock(impl_->mu);
  impl_->table->SetCommitFaultHook(hook, arg);
}

std::vector<uint64_t> Archive::committed_offsets() const {
  std::lock_guard lock(impl_->mu);
  return impl_->committed;
}

uint64_t Archive::skipped_records() const {
  return impl_->skipped.load();
}

const std::string& Archive::table_dir() const {
  return impl_->table->dir();
}

}  // namespace sluice::stream
