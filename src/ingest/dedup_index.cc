#include "ingest/dedup_index.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <limits>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include "base/fixed_bytes.h"
#include "ingest/recent_id_filter.h"

namespace sluice::ingest {
namespace {

// 'h' + the id's hash (u64 BE) + id -> log time of its last append (u64 LE). The hash leads so
// that sorting and comparing keys is decided by one integer, not by ids' long common prefixes.
constexpr char kIdPrefix = 'h';
constexpr size_t kIdKeyPrefixBytes = 9;
// The first layout ('k' + id): an index holding it is rebuilt from the log.
constexpr char kLegacyIdPrefix = 'k';
constexpr char kMetaPrefix = 'm';  // 'm' + partition (u32 BE) -> offset indexed below (u64 LE)
constexpr uint64_t kNotAppended = std::numeric_limits<uint64_t>::max();
constexpr size_t kBlockCacheBytes = 32u << 20;   // index and filter partitions, data blocks
constexpr size_t kWriteBufferBytes = 16u << 20;  // two memtables (only the catch-up uses them)
// Staged ids are written to RocksDB at least this often, and sooner once this many are staged.
constexpr auto kIngestInterval = std::chrono::seconds(1);
constexpr size_t kIngestIds = 256u << 10;

void AppendIdKey(std::string& out, uint64_t hash, std::string_view id) {
  out += kIdPrefix;
  for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((hash >> shift) & 0xff);
  out += id;
}

uint64_t HashOfIdKey(const rocksdb::Slice& key) {
  uint64_t hash = 0;
  for (size_t i = 1; i < kIdKeyPrefixBytes; ++i)
    hash = (hash << 8) | static_cast<unsigned char>(key[i]);
  return hash;
}

std::string MetaKey(uint32_t partition) {
  std::string key(1, kMetaPrefix);
  for (int shift = 24; shift >= 0; shift -= 8)
    key += static_cast<char>((partition >> shift) & 0xff);
  return key;
}

Status ToStatus(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  return Status::IOError(fmt::format("dedup index: {}: {}", what, s.ToString()));
}

// Drops ids appended longer ago than the horizon (by the injected clock, read once per
// compaction) when compacting.
class HorizonFilter final : public rocksdb::CompactionFilter {
 public:
  explicit HorizonFilter(int64_t cutoff) : cutoff_(cutoff) {}
  bool Filter(int /*level*/, const rocksdb::Slice& key, const rocksdb::Slice& value,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    if (key.empty() || key[0] != kIdPrefix || value.size() != 8) return false;
    return static_cast<int64_t>(LoadU64(value.data())) <= cutoff_;
  }
  const char* Name() const override { return "sluice.DedupHorizonFilter"; }

 private:
  int64_t cutoff_;  // ids appended at or before this log time have expired
};

class HorizonFilterFactory final : public rocksdb::CompactionFilterFactory {
 public:
  HorizonFilterFactory(Clock& clock, int64_t horizon) : clock_(clock), horizon_(horizon) {}
  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& /*context*/) override {
    return std::make_unique<HorizonFilter>(clock_.NowMicros() - horizon_);
  }
  const char* Name() const override { return "sluice.DedupHorizonFilterFactory"; }

 private:
  Clock& clock_;
  int64_t horizon_;
};

// Ids committed since the last write to RocksDB, in arrival order, with an open-addressing
// table over their (already computed) hashes for the rare lookup: adding an id appends to two
// arrays and writes one slot, with no allocation once the arrays have grown.
class StagedIds {
 public:
  struct Entry {
    uint64_t hash;
    uint32_t at;  // of the id in bytes_
    uint32_t size;
    int64_t time;  // log time of its last append
  };

  StagedIds() : slots_(kInitialSlots, 0) {}

  void Add(uint64_t hash, std::string_view id, int64_t time) {
    if (Entry* e = Find(hash, id)) {
      e->time = time;
      return;
    }
    if ((entries_.size() + 1) * 2 > slots_.size()) Grow();
    entries_.push_back(
        Entry{hash, static_cast<uint32_t>(bytes_.size()), static_cast<uint32_t>(id.size()), time});
    bytes_.append(id);
    Place(static_cast<uint32_t>(entries_.size()));
  }

  Entry* Find(uint64_t hash, std::string_view id) {
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      if (slots_[i] == 0) return nullptr;
      Entry& e = entries_[slots_[i] - 1];
      if (e.hash == hash && this->id(e) == id) return &e;
    }
  }
  const Entry* Find(uint64_t hash, std::string_view id) const {
    return const_cast<StagedIds*>(this)->Find(hash, id);
  }

  std::string_view id(const Entry& e) const { return {bytes_.data() + e.at, e.size}; }
  const std::vector<Entry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  static constexpr size_t kInitialSlots = size_t{1} << 16;

  void Place(uint32_t index_plus_one) {
    const size_t mask = slots_.size() - 1;
    size_t i = entries_[index_plus_one - 1].hash & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = index_plus_one;
  }
  void Grow() {
    slots_.assign(slots_.size() * 2, 0);
    for (uint32_t i = 1; i <= entries_.size(); ++i) Place(i);
  }

  std::string bytes_;
  std::vector<Entry> entries_;
  std::vector<uint32_t> slots_;  // entry index + 1; 0 = empty
};

// An index of the first key layout is emptied and its indexed offsets reset: CatchUp then
// rebuilds it from the whole log (the log is the source of truth).
Status DropLegacyLayout(rocksdb::DB& db, const std::string& dir, uint32_t partitions) {
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions()));
  it->Seek(std::string(1, kLegacyIdPrefix));
  const bool legacy = it->Valid() && it->key()[0] == kLegacyIdPrefix;
  SLUICE_RETURN_IF_ERROR(ToStatus(it->status(), "reading " + dir));
  it.reset();
  if (!legacy) return Status::Ok();
  spdlog::info("dedup index {}: rebuilding it from the log in the current key layout", dir);
  rocksdb::WriteBatch wb;
  rocksdb::Status s =
      wb.DeleteRange(std::string(1, kLegacyIdPrefix), std::string(1, kLegacyIdPrefix + 1));
  for (uint32_t p = 0; s.ok() && p < partitions; ++p) s = wb.Delete(MetaKey(p));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (s.ok()) s = db.Write(wo, &wb);
  return ToStatus(s, "dropping the previous layout of " + dir);
}

// Per-thread buffers for MultiGet, so lookups do not allocate once warm.
struct LookupScratch {
  std::vector<rocksdb::Slice> keys;
  std::vector<rocksdb::PinnableSlice> values;
  std::vector<rocksdb::Status> statuses;
};
thread_local LookupScratch lookup_scratch;

}  // namespace

struct DedupIndex::Impl {
  Impl(Clock& c, int64_t h, uint32_t p, size_t filter_bytes)
      : clock(c), horizon(h), partitions(p), filter(h, filter_bytes), parts(p) {}
  ~Impl() {
    StopLoading();
    StopIngesting();
  }

  std::string dir;
  Clock& clock;
  int64_t horizon;
  uint32_t partitions;
  std::unique_ptr<rocksdb::DB> db;

  // Reservations: id -> the request (Batch owner number) holding it.
  std::mutex mu;
  std::condition_variable released;
  std::pmr::unsynchronized_pool_resource pool;  // recycles the map's nodes: no malloc per id
  std::pmr::unordered_map<std::string_view, uint64_t> in_flight{&pool};
  uint64_t next_owner = 1;

  // The hashes of the stored ids (recent_id_filter.h). Invariant, once loaded: an id stored in
  // RocksDB within the horizon is in the filter, or still reserved by the request storing it
  // (Commit inserts into the filter before releasing the reservations).
  mutable std::mutex filter_mu;
  mutable std::condition_variable filter_loaded;
  RecentIdFilter filter;
  std::thread loader;
  std::atomic<bool> stop_loading{false};
  std::atomic<uint64_t> lookups{0};

  // Committed ids are staged in memory and written to RocksDB by `ingester` as one sorted SST
  // file per round (IngestStaged), with the offsets below which the log is indexed. Invariant:
  // an id committed is in `active`, in `sealed` (being written) or in RocksDB.
  rocksdb::Options options;  // the database's, for the SST files
  mutable std::mutex staged_mu;
  std::unique_ptr<StagedIds> active = std::make_unique<StagedIds>();
  std::unique_ptr<StagedIds> sealed;
  std::mutex ingest_mu;                  // one IngestStaged at a time; guards the two members below
  std::vector<uint64_t> sealed_offsets;  // per partition: indexed below, as `sealed` is
  std::vector<uint64_t> recorded_offsets;  // per partition: what RocksDB records
  std::condition_variable ingest_wanted;   // with staged_mu
  bool stop_ingesting = false;             // with staged_mu
  bool crashed_for_testing = false;
  std::thread ingester;

  // Fills the filter from the stored ids; ids stored meanwhile are inserted by Commit.
  void LoadFilter() {
    const auto started = std::chrono::steady_clock::now();
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;
    ro.readahead_size = 2u << 20;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
    std::vector<std::pair<uint64_t, int64_t>> chunk;
    chunk.reserve(4096);
    uint64_t loaded = 0;
    auto insert = [&] {
      const int64_t now = clock.NowMicros();
      std::lock_guard lock(filter_mu);
      for (const auto& [hash, time] : chunk) filter.Insert(hash, time, now);
      loaded += chunk.size();
      chunk.clear();
    };
    for (it->Seek(std::string(1, kIdPrefix)); it->Valid() && it->key()[0] == kIdPrefix;
         it->Next()) {
      if (it->value().size() != 8 || it->key().size() < kIdKeyPrefixBytes) continue;
      chunk.emplace_back(HashOfIdKey(it->key()), static_cast<int64_t>(LoadU64(it->value().data())));
      if (chunk.size() == chunk.capacity()) {
        insert();
        if (stop_loading.load(std::memory_order_relaxed)) return;
      }
    }
    if (!it->status().ok()) {
      // The lookups keep going to RocksDB: slower, still exact.
      spdlog::warn("dedup index: filling the filter of recent ids failed: {}",
                   it->status().ToString());
      return;
    }
    insert();
    {
      std::lock_guard lock(filter_mu);
      filter.MarkLoaded();
    }
    filter_loaded.notify_all();
    spdlog::info("dedup index {}: filter of recent ids filled from {} stored ids in {} ms", dir,
                 loaded,
                 std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - started)
                     .count());
  }

  void StopLoading() {
    stop_loading = true;
    if (loader.joinable()) loader.join();
  }

  struct PartitionState {
    std::mutex mu;  // held across appends of exactly-once events and to update the fields below
    std::vector<uint64_t> pending;  // first offsets of appends not yet indexed, ascending
    uint64_t indexed_end = 0;       // every record below was indexed (when pending is empty)
  };
  std::vector<PartitionState> parts;
  std::atomic<uint64_t> last_ticket{0};
  const log::Log* log = nullptr;  // set by CatchUp: the log the index follows

  // With `part` locked: the offset below which every exactly-once record of partition `p` is
  // (or, for `mine`, the append being indexed in the same write, will be) indexed.
  uint64_t SafeOffset(uint32_t p, const PartitionState& part, uint64_t mine) const {
    uint64_t lowest = kNotAppended;
    for (uint64_t start : part.pending)
      if (start != mine) lowest = std::min(lowest, start);
    if (lowest != kNotAppended) return lowest;
    // No other append of exactly-once events is in flight, and none can start while `part` is
    // locked: whatever the log holds is indexed, or is at-least-once.
    return log != nullptr ? log->EndOffset(p) : part.indexed_end;
  }

  bool Live(const rocksdb::Slice& value, int64_t now) const {
    return value.size() == 8 && static_cast<int64_t>(LoadU64(value.data())) > now - horizon;
  }

  // Looks the entries `which` of `batch` up; marks those stored and live kDuplicate, the rest
  // `absent`. Returns whether any was a duplicate.
  Result<bool> Lookup(DedupIndex::Batch& batch, const std::vector<size_t>& which, Outcome absent) {
    if (which.empty()) return false;
    lookups.fetch_add(which.size(), std::memory_order_relaxed);
    const int64_t now = clock.NowMicros();
    bool any = false;
    // Staged ids first (the recent ones: what a retry usually repeats); the rest in RocksDB.
    std::vector<size_t>& rest = batch.unstaged_;
    rest.clear();
    {
      std::lock_guard lock(staged_mu);
      for (size_t i : which) {
        DedupIndex::Batch::Entry& e = batch.entries_[i];
        const StagedIds::Entry* staged = active->Find(e.hash, batch.id(e));
        if (staged == nullptr && sealed != nullptr) staged = sealed->Find(e.hash, batch.id(e));
        if (staged == nullptr) {
          rest.push_back(i);
        } else if (staged->time > now - horizon) {
          e.outcome = Outcome::kDuplicate;
          any = true;
        } else {
          e.outcome = absent;  // expired; RocksDB holds nothing newer
        }
      }
    }
    if (rest.empty()) return any;
    LookupScratch& s = lookup_scratch;
    s.keys.clear();
    for (size_t i : rest) {
      const std::string_view k = batch.key(batch.entries_[i]);
      s.keys.emplace_back(k.data(), k.size());
    }
    if (s.values.size() < rest.size()) s.values.resize(rest.size());
    s.statuses.assign(rest.size(), rocksdb::Status());
    db->MultiGet(rocksdb::ReadOptions(), db->DefaultColumnFamily(), rest.size(), s.keys.data(),
                 s.values.data(), s.statuses.data());
    for (size_t j = 0; j < rest.size(); ++j) {
      DedupIndex::Batch::Entry& e = batch.entries_[rest[j]];
      if (s.statuses[j].ok() && Live(s.values[j], now)) {
        e.outcome = Outcome::kDuplicate;
        any = true;
      } else if (s.statuses[j].ok() || s.statuses[j].IsNotFound()) {
        e.outcome = absent;
      } else {
        for (auto& v : s.values) v.Reset();
        return ToStatus(s.statuses[j], "looking up ids");
      }
      s.values[j].Reset();
    }
    return any;
  }

  // Writes the staged ids and the indexed offsets to RocksDB: seals `active` (after reading the
  // offsets: every exactly-once record below them was committed, so its id is in `active` by
  // then, see Commit), sorts it into an SST file and ingests that atomically. A failed round
  // keeps `sealed` and its offsets for the next. Rounds without new ids or offsets write nothing.
  Status IngestStaged() {
    std::lock_guard ingest_lock(ingest_mu);
    if (crashed_for_testing) return Status::Ok();
    if (sealed == nullptr) {
      std::vector<uint64_t> offsets(partitions);
      for (uint32_t p = 0; p < partitions; ++p) {
        std::lock_guard lock(parts[p].mu);
        offsets[p] = SafeOffset(p, parts[p], kNotAppended);
      }
      std::lock_guard lock(staged_mu);
      if (active->empty() && offsets == recorded_offsets) return Status::Ok();
      sealed = std::exchange(active, std::make_unique<StagedIds>());
      sealed_offsets = std::move(offsets);
    }
    const std::vector<StagedIds::Entry>& entries = sealed->entries();
    std::vector<uint32_t> sorted(entries.size());
    for (uint32_t i = 0; i < sorted.size(); ++i) sorted[i] = i;
    std::sort(sorted.begin(), sorted.end(), [&](uint32_t a, uint32_t b) {
      const StagedIds::Entry& x = entries[a];
      const StagedIds::Entry& y = entries[b];
      return x.hash != y.hash ? x.hash < y.hash : sealed->id(x) < sealed->id(y);
    });
    const std::string path = dir + "/staged-ids.sst.tmp";
    rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), options);
    rocksdb::Status st = writer.Open(path);
    std::string key;
    char value[8];
    for (size_t i = 0; st.ok() && i < sorted.size(); ++i) {
      const StagedIds::Entry& e = entries[sorted[i]];
      key.clear();
      AppendIdKey(key, e.hash, sealed->id(e));
      StoreU64(value, static_cast<uint64_t>(e.time));
      st = writer.Put(key, rocksdb::Slice(value, 8));
    }
    for (uint32_t p = 0; st.ok() && p < partitions; ++p) {
      StoreU64(value, sealed_offsets[p]);
      st = writer.Put(MetaKey(p), rocksdb::Slice(value, 8));
    }
    if (st.ok()) st = writer.Finish();
    if (st.ok()) {
      rocksdb::IngestExternalFileOptions ingest;
      ingest.move_files = true;
      st = db->IngestExternalFile({path}, ingest);
    }
    if (!st.ok()) {
      std::error_code ec;
      std::filesystem::remove(path, ec);
      return ToStatus(st, "writing staged ids");
    }
    recorded_offsets = sealed_offsets;
    std::lock_guard lock(staged_mu);
    sealed.reset();
    return Status::Ok();
  }

  void StartIngesting() {
    recorded_offsets.assign(partitions, 0);
    for (uint32_t p = 0; p < partitions; ++p) recorded_offsets[p] = parts[p].indexed_end;
    ingester = std::thread([this] {
      std::unique_lock lock(staged_mu);
      while (!stop_ingesting) {
        ingest_wanted.wait_for(lock, kIngestInterval,
                               [&] { return stop_ingesting || active->size() >= kIngestIds; });
        if (stop_ingesting) break;
        lock.unlock();
        if (Status st = IngestStaged(); !st.ok())
          spdlog::warn("dedup index {}: {} (retried; the ids stay staged)", dir, st.ToString());
        lock.lock();
      }
    });
  }

  void StopIngesting() {
    {
      std::lock_guard lock(staged_mu);
      stop_ingesting = true;
    }
    ingest_wanted.notify_all();
    if (ingester.joinable()) ingester.join();
  }
};

DedupIndex::DedupIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DedupIndex::~DedupIndex() {
  impl_->StopLoading();
  impl_->StopIngesting();
  // Nothing is in flight (the ingestor is done with the stream): store the staged ids and how
  // far the index is complete, so the next start does not read those records again.
  for (int round = 0; round < 2; ++round) {  // a round that failed before left `sealed`
    if (Status st = impl_->IngestStaged(); !st.ok())
      spdlog::warn("dedup index {}: at close: {} (re-read from the log at the next start)",
                   impl_->dir, st.ToString());
  }
}

Status DedupIndex::Flush() {
  for (int round = 0; round < 2; ++round) SLUICE_RETURN_IF_ERROR(impl_->IngestStaged());
  return Status::Ok();
}

void DedupIndex::SimulateCrashForTesting() {
  impl_->StopIngesting();
  std::lock_guard lock(impl_->ingest_mu);
  impl_->crashed_for_testing = true;
}

Result<std::unique_ptr<DedupIndex>> DedupIndex::Open(const std::string& dir, uint32_t partitions,
                                                     int64_t horizon_micros, Clock& clock,
                                                     size_t filter_bytes) {
  auto impl = std::make_unique<Impl>(clock, horizon_micros, partitions, filter_bytes);
  rocksdb::Options options;
  options.create_if_missing = true;
  options.compaction_filter_factory = std::make_shared<HorizonFilterFactory>(clock, horizon_micros);
  // Ids barely compress; compressing would only cost CPU in every compaction.
  options.compression = rocksdb::kNoCompression;
  options.write_buffer_size = kWriteBufferBytes;
  options.max_write_buffer_number = 2;
  // Ids are random keys: leveled compaction would rewrite the whole of level 1 for every
  // flush (its cost growing with the index, measured: a third of the CPU at 3 million ids).
  // Universal compaction merges sorted runs of similar size, writing each id O(log n) times.
  options.compaction_style = rocksdb::kCompactionStyleUniversal;
  options.compaction_options_universal.size_ratio = 10;
  options.compaction_options_universal.max_size_amplification_percent = 200;
  options.level0_file_num_compaction_trigger = 4;
  options.max_open_files = 64;
  options.keep_log_file_num = 2;
  // Visit every file at least once per horizon (at most daily, at least monthly), so the
  // compaction filter drops expired ids even from files nothing else would compact.
  const int64_t horizon_seconds = horizon_micros / kMicrosPerSecond;
  options.periodic_compaction_seconds =
      static_cast<uint64_t>(std::clamp<int64_t>(horizon_seconds, 24 * 3600, 30 * 24 * 3600));
  // Filters partitioned into small blocks that live in a bounded cache: a lookup of a new id
  // reads one filter partition per level, mostly from the cache; a whole-file filter of a large
  // SST would not fit a cache shard and would be re-read from the file on every lookup.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;
  table.partition_filters = true;
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.metadata_block_size = 4096;
  table.block_cache = rocksdb::NewLRUCache(kBlockCacheBytes, /*num_shard_bits=*/2);
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_top_level_index_and_filter = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) return ToStatus(s, "opening " + dir);
  impl->db.reset(raw);
  impl->dir = dir;
  impl->options = options;
  SLUICE_RETURN_IF_ERROR(DropLegacyLayout(*impl->db, dir, partitions));
  for (uint32_t p = 0; p < partitions; ++p) {
    std::string value;
    s = impl->db->Get(rocksdb::ReadOptions(), MetaKey(p), &value);
    if (s.ok() && value.size() == 8) {
      impl->parts[p].indexed_end = LoadU64(value.data());
    } else if (!s.ok() && !s.IsNotFound()) {
      return ToStatus(s, "reading the indexed offsets");
    }
  }
  return std::unique_ptr<DedupIndex>(new DedupIndex(std::move(impl)));
}

Result<uint64_t> DedupIndex::CatchUp(const log::Log& log, const EventFieldNames& names,
                                     const DeliveryRule& rule) {
  impl_->log = &log;
  if (rule.none()) return uint64_t{0};
  struct StartLoading {  // after the catch-up (whose ids it then reads), even if that fails
    Impl& impl;
    ~StartLoading() {
      if (!impl.loader.joinable()) impl.loader = std::thread([&impl = impl] { impl.LoadFilter(); });
      if (!impl.ingester.joinable()) impl.StartIngesting();
    }
  } start_loading{*impl_};
  EventParser parser(names);
  EventFields fields;
  uint64_t indexed = 0;
  const int64_t now = impl_->clock.NowMicros();
  for (uint32_t p = 0; p < std::min(impl_->partitions, log.partitions()); ++p) {
    Impl::PartitionState& part = impl_->parts[p];
    const uint64_t end = log.EndOffset(p);
    // After a power failure the log may have lost a tail the index had recorded.
    const uint64_t from = std::clamp(part.indexed_end, log.StartOffset(p), end);
    auto reader = log.NewReader(p, from);
    while (reader->next_offset() < end) {
      SLUICE_ASSIGN_OR_RETURN(auto records, reader->Read(1 << 20));
      if (records.empty()) break;
      for (const log::RecordView& record : records) {
        if (!parser.Parse(record.payload, fields).ok()) continue;
        if (!rule.Matches(record.payload, fields.event_time_micros)) continue;
        // Staged (and in the filter) like committed ids; the ingester stores them.
        std::lock_guard staged_lock(impl_->staged_mu);
        const uint64_t hash = RecentIdFilter::Hash(fields.id);
        impl_->active->Add(hash, fields.id, record.log_time_micros);
        std::lock_guard filter_lock(impl_->filter_mu);
        impl_->filter.Insert(hash, record.log_time_micros, now);
        ++indexed;
      }
    }
    part.indexed_end = reader->next_offset();
  }
  return indexed;
}

// ---- Batches ------------------------------------------------------------------------------------

DedupIndex::Batch::~Batch() {
  Release();
}

void DedupIndex::Batch::Reset(DedupIndex& index) {
  Release();
  index_ = &index;
  keys_.clear();
  entries_.clear();
  appended_from_.assign(index.impl_->partitions, kNotAppended);
  appended_end_.assign(index.impl_->partitions, 0);
  duplicate_ticket_ = 0;
  std::lock_guard lock(index.impl_->mu);
  owner_ = index.impl_->next_owner++;
}

size_t DedupIndex::Batch::Add(uint32_t partition, std::string_view id) {
  Entry e;
  e.partition = partition;
  e.key_begin = static_cast<uint32_t>(keys_.size());
  e.key_size = static_cast<uint32_t>(id.size() + kIdKeyPrefixBytes);
  e.hash = RecentIdFilter::Hash(id);
  AppendIdKey(keys_, e.hash, id);
  entries_.push_back(e);
  return entries_.size() - 1;
}

void DedupIndex::Batch::Release() {
  DedupIndex* index = std::exchange(index_, nullptr);
  if (index == nullptr) return;
  if (std::none_of(entries_.begin(), entries_.end(), [](const Entry& e) { return e.reserved; }))
    return;
  Impl& impl = *index->impl_;
  {
    std::lock_guard lock(impl.mu);
    for (Entry& e : entries_) {
      if (!e.reserved) continue;
      impl.in_flight.erase(id(e));
      e.reserved = false;
    }
  }
  impl.released.notify_all();
}

// ---- The ingest protocol ------------------------------------------------------------------------

Status DedupIndex::Resolve(Batch& batch) {
  Impl& impl = *impl_;
  std::vector<size_t>& lookups = batch.lookups_;
  lookups.clear();
  bool waits = false;
  bool duplicates = false;
  {
    std::lock_guard lock(impl.mu);
    for (size_t i = 0; i < batch.entries_.size(); ++i) {
      Batch::Entry& e = batch.entries_[i];
      auto [it, inserted] = impl.in_flight.try_emplace(batch.id(e), batch.owner_);
      if (inserted) {
        e.reserved = true;
        lookups.push_back(i);
      } else if (it->second == batch.owner_) {
        e.outcome = Outcome::kDuplicate;  // earlier in this request
        duplicates = true;
      } else {
        e.waits_for = it->second;
        waits = true;
      }
    }
  }
  // Ids reserved by requests that were in flight: wait until those requests are done (they
  // reserved before this one, so waiting never forms a cycle), then see what they stored.
  if (waits) {
    std::unique_lock lock(impl.mu);
    impl.released.wait(lock, [&] {
      for (const Batch::Entry& e : batch.entries_) {
        if (e.waits_for == 0) continue;
        auto it = impl.in_flight.find(batch.id(e));
        if (it != impl.in_flight.end() && it->second == e.waits_for) return false;
      }
      return true;
    });
  }
  // Ids the filter has never seen are new; the others (duplicates, rare hash collisions) and,
  // while the filter is incomplete, all of them are looked up in RocksDB.
  std::vector<size_t>& confirm = batch.confirm_;
  confirm.clear();
  {
    std::lock_guard lock(impl.filter_mu);
    if (impl.filter.Complete(impl.clock.NowMicros())) {
      constexpr size_t kAhead = 8;
      for (size_t j = 0; j < std::min(kAhead, lookups.size()); ++j)
        impl.filter.Prefetch(batch.entries_[lookups[j]].hash);
      for (size_t j = 0; j < lookups.size(); ++j) {
        if (j + kAhead < lookups.size())
          impl.filter.Prefetch(batch.entries_[lookups[j + kAhead]].hash);
        Batch::Entry& e = batch.entries_[lookups[j]];
        if (impl.filter.MayContain(e.hash))
          confirm.push_back(lookups[j]);
        else
          e.outcome = Outcome::kNew;
      }
    } else {
      confirm = lookups;
    }
  }
  SLUICE_ASSIGN_OR_RETURN(bool found, impl.Lookup(batch, confirm, Outcome::kNew));
  duplicates = duplicates || found;
  if (waits) {
    std::vector<size_t> waited;
    for (size_t i = 0; i < batch.entries_.size(); ++i)
      if (batch.entries_[i].waits_for != 0) waited.push_back(i);
    SLUICE_ASSIGN_OR_RETURN(bool found_waited, impl.Lookup(batch, waited, Outcome::kConflict));
    duplicates = duplicates || found_waited;
  }
  // Reservations of ids found stored are not needed.
  if (found) {
    std::lock_guard lock(impl.mu);
    for (size_t i : lookups) {
      Batch::Entry& e = batch.entries_[i];
      if (e.outcome != Outcome::kDuplicate) continue;
      impl.in_flight.erase(batch.id(e));
      e.reserved = false;
    }
  }
  if (found) impl.released.notify_all();
  // Answer duplicates only once their originals are durable: every append indexed so far has
  // a ticket at most this one.
  if (duplicates) batch.duplicate_ticket_ = impl.last_ticket.load(std::memory_order_acquire);
  return Status::Ok();
}

std::unique_lock<std::mutex> DedupIndex::LockPartition(uint32_t p) {
  return std::unique_lock(impl_->parts[p].mu);
}

void DedupIndex::Appended(Batch& batch, uint32_t p, uint64_t first_offset, uint64_t end_offset,
                          uint64_t sync_ticket) {
  Impl::PartitionState& part = impl_->parts[p];
  part.pending.push_back(first_offset);
  batch.appended_from_[p] = first_offset;
  batch.appended_end_[p] = end_offset;
  uint64_t seen = impl_->last_ticket.load(std::memory_order_relaxed);
  while (seen < sync_ticket &&
         !impl_->last_ticket.compare_exchange_weak(seen, sync_ticket, std::memory_order_release)) {
  }
}

void DedupIndex::Commit(Batch& batch) {
  Impl& impl = *impl_;
  const int64_t time = impl.clock.NowMicros();
  std::vector<size_t>& stored = batch.confirm_;
  stored.clear();
  bool ingest_now = false;
  {
    // Staged before the appends leave `pending` below: IngestStaged relies on that order.
    std::lock_guard lock(impl.staged_mu);
    for (size_t i = 0; i < batch.entries_.size(); ++i) {
      const Batch::Entry& e = batch.entries_[i];
      if (e.outcome != Outcome::kNew || batch.appended_from_[e.partition] == kNotAppended) continue;
      impl.active->Add(e.hash, batch.id(e), time);
      stored.push_back(i);
    }
    ingest_now = impl.active->size() >= kIngestIds;
  }
  if (ingest_now) impl.ingest_wanted.notify_one();
  {  // before the reservations are released (Impl::filter)
    std::lock_guard lock(impl.filter_mu);
    // The slots were read by Resolve, but the append since has evicted them: load ahead.
    constexpr size_t kAhead = 8;
    for (size_t j = 0; j < std::min(kAhead, stored.size()); ++j)
      impl.filter.Prefetch(batch.entries_[stored[j]].hash);
    for (size_t j = 0; j < stored.size(); ++j) {
      if (j + kAhead < stored.size()) impl.filter.Prefetch(batch.entries_[stored[j + kAhead]].hash);
      impl.filter.Insert(batch.entries_[stored[j]].hash, time, time);
    }
  }
  // Only now may later appends record offsets past this one's.
  for (uint32_t p = 0; p < impl.partitions; ++p) {
    const uint64_t from = batch.appended_from_[p];
    if (from == kNotAppended) continue;
    Impl::PartitionState& part = impl.parts[p];
    std::lock_guard lock(part.mu);
    auto it = std::find(part.pending.begin(), part.pending.end(), from);
    if (it != part.pending.end()) part.pending.erase(it);
    part.indexed_end = std::max(part.indexed_end, batch.appended_end_[p]);
  }
  batch.Release();
}

void DedupIndex::WaitForFilterForTesting() const {
  std::unique_lock lock(impl_->filter_mu);
  impl_->filter_loaded.wait(lock, [&] { return impl_->filter.Complete(impl_->clock.NowMicros()); });
}

uint64_t DedupIndex::LookupsForTesting() const {
  return impl_->lookups.load();
}

uint64_t DedupIndex::StoredIdsForTesting() const {
  if (Status st = const_cast<DedupIndex*>(this)->Flush(); !st.ok()) return 0;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions()));
  uint64_t n = 0;
  for (it->Seek(std::string(1, kIdPrefix)); it->Valid() && it->key()[0] == kIdPrefix; it->Next())
    ++n;
  return n;
}

Status DedupIndex::CompactForTesting() {
  rocksdb::CompactRangeOptions options;
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  return ToStatus(impl_->db->CompactRange(options, nullptr, nullptr), "compacting");
}

uint64_t DedupIndex::IndexedOffsetForTesting(uint32_t p) const {
  std::string value;
  if (!impl_->db->Get(rocksdb::ReadOptions(), MetaKey(p), &value).ok() || value.size() != 8)
    return 0;
  return LoadU64(value.data());
}

}  // namespace sluice::ingest
