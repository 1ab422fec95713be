#include "ingest/dedup_index.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <limits>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include "ingest/recent_id_filter.h"

namespace sluice::ingest {
namespace {

constexpr char kIdPrefix = 'k';    // 'k' + id -> log time of its append (u64 LE)
constexpr char kMetaPrefix = 'm';  // 'm' + partition (u32 BE) -> offset indexed below (u64 LE)
constexpr uint64_t kNotAppended = std::numeric_limits<uint64_t>::max();
constexpr size_t kBlockCacheBytes = 32u << 20;   // index and filter partitions, data blocks
constexpr size_t kWriteBufferBytes = 32u << 20;  // two memtables

void PutU64(char* out, uint64_t v) {
  std::memcpy(out, &v, 8);
}

uint64_t GetU64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
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
    return static_cast<int64_t>(GetU64(value.data())) <= cutoff_;
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
  ~Impl() { StopLoading(); }

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
      if (it->value().size() != 8) continue;
      const std::string_view id(it->key().data() + 1, it->key().size() - 1);
      chunk.emplace_back(RecentIdFilter::Hash(id),
                         static_cast<int64_t>(GetU64(it->value().data())));
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
    return value.size() == 8 && static_cast<int64_t>(GetU64(value.data())) > now - horizon;
  }

  // Looks the entries `which` of `batch` up; marks those stored and live kDuplicate, the rest
  // `absent`. Returns whether any was a duplicate.
  Result<bool> Lookup(DedupIndex::Batch& batch, const std::vector<size_t>& which, Outcome absent) {
    if (which.empty()) return false;
    LookupScratch& s = lookup_scratch;
    s.keys.clear();
    for (size_t i : which) {
      const std::string_view k = batch.key(batch.entries_[i]);
      s.keys.emplace_back(k.data(), k.size());
    }
    if (s.values.size() < which.size()) s.values.resize(which.size());
    s.statuses.assign(which.size(), rocksdb::Status());
    lookups.fetch_add(which.size(), std::memory_order_relaxed);
    db->MultiGet(rocksdb::ReadOptions(), db->DefaultColumnFamily(), which.size(), s.keys.data(),
                 s.values.data(), s.statuses.data());
    const int64_t now = clock.NowMicros();
    bool any = false;
    for (size_t j = 0; j < which.size(); ++j) {
      DedupIndex::Batch::Entry& e = batch.entries_[which[j]];
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
};

DedupIndex::DedupIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DedupIndex::~DedupIndex() {
  impl_->StopLoading();
  // Nothing is in flight (the ingestor is done with the stream): record how far the index is
  // complete, so the next start does not read those records again.
  rocksdb::WriteBatch wb;
  for (uint32_t p = 0; p < impl_->partitions; ++p) {
    Impl::PartitionState& part = impl_->parts[p];
    std::lock_guard lock(part.mu);
    if (!part.pending.empty()) continue;
    char value[8];
    PutU64(value, impl_->SafeOffset(p, part, kNotAppended));
    wb.Put(MetaKey(p), rocksdb::Slice(value, 8));
  }
  if (wb.Count() > 0) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    if (auto s = impl_->db->Write(wo, &wb); !s.ok())
      spdlog::warn("dedup index: recording the indexed offsets failed: {}", s.ToString());
  }
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
  options.memtable_whole_key_filtering = true;
  options.memtable_prefix_bloom_size_ratio = 0.05;
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
  for (uint32_t p = 0; p < partitions; ++p) {
    std::string value;
    s = impl->db->Get(rocksdb::ReadOptions(), MetaKey(p), &value);
    if (s.ok() && value.size() == 8) {
      impl->parts[p].indexed_end = GetU64(value.data());
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
    }
  } start_loading{*impl_};
  EventParser parser(names);
  EventFields fields;
  uint64_t indexed = 0;
  rocksdb::WriteBatch wb;
  char value[8];
  auto flush = [&]() -> Status {
    if (wb.Count() == 0) return Status::Ok();
    rocksdb::WriteOptions wo;
    wo.sync = true;
    SLUICE_RETURN_IF_ERROR(ToStatus(impl_->db->Write(wo, &wb), "catching up"));
    wb.Clear();
    return Status::Ok();
  };
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
        std::string key(1, kIdPrefix);
        key += fields.id;
        PutU64(value, static_cast<uint64_t>(record.log_time_micros));
        wb.Put(key, rocksdb::Slice(value, 8));
        ++indexed;
      }
      if (wb.Count() >= 10000) SLUICE_RETURN_IF_ERROR(flush());
    }
    PutU64(value, reader->next_offset());
    wb.Put(MetaKey(p), rocksdb::Slice(value, 8));
    part.indexed_end = reader->next_offset();
  }
  SLUICE_RETURN_IF_ERROR(flush());
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
  e.key_size = static_cast<uint32_t>(id.size() + 1);
  e.hash = RecentIdFilter::Hash(id);
  keys_ += kIdPrefix;
  keys_ += id;
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

Status DedupIndex::Commit(Batch& batch) {
  Impl& impl = *impl_;
  rocksdb::WriteBatch wb;
  char value[8];
  PutU64(value, static_cast<uint64_t>(impl.clock.NowMicros()));
  std::vector<size_t>& stored = batch.confirm_;
  stored.clear();
  for (size_t i = 0; i < batch.entries_.size(); ++i) {
    const Batch::Entry& e = batch.entries_[i];
    if (e.outcome != Outcome::kNew || batch.appended_from_[e.partition] == kNotAppended) continue;
    const std::string_view k = batch.key(e);
    wb.Put(rocksdb::Slice(k.data(), k.size()), rocksdb::Slice(value, 8));
    stored.push_back(i);
  }
  // Per partition (also those this request did not append to, so that a partition without
  // exactly-once traffic is not read again at the next start): how far the index is complete.
  for (uint32_t p = 0; p < impl.partitions; ++p) {
    Impl::PartitionState& part = impl.parts[p];
    uint64_t safe;
    {
      std::lock_guard lock(part.mu);
      safe = impl.SafeOffset(p, part, batch.appended_from_[p]);
    }
    char offset[8];
    PutU64(offset, safe);
    wb.Put(MetaKey(p), rocksdb::Slice(offset, 8));
  }
  Status written = ToStatus(impl.db->Write(rocksdb::WriteOptions(), &wb), "indexing ids");
  if (written.ok()) {  // before the reservations are released (Impl::filter)
    const int64_t now = impl.clock.NowMicros();
    std::lock_guard lock(impl.filter_mu);
    // The slots were read by Resolve, but the append since has evicted them: load ahead.
    constexpr size_t kAhead = 8;
    for (size_t j = 0; j < std::min(kAhead, stored.size()); ++j)
      impl.filter.Prefetch(batch.entries_[stored[j]].hash);
    for (size_t j = 0; j < stored.size(); ++j) {
      if (j + kAhead < stored.size()) impl.filter.Prefetch(batch.entries_[stored[j + kAhead]].hash);
      impl.filter.Insert(batch.entries_[stored[j]].hash, static_cast<int64_t>(GetU64(value)), now);
    }
  }
  // Only now may later appends record offsets past this one's.
  for (uint32_t p = 0; p < impl.partitions; ++p) {
    const uint64_t from = batch.appended_from_[p];
    if (from == kNotAppended || !written.ok()) continue;
    Impl::PartitionState& part = impl.parts[p];
    std::lock_guard lock(part.mu);
    auto it = std::find(part.pending.begin(), part.pending.end(), from);
    if (it != part.pending.end()) part.pending.erase(it);
    part.indexed_end = std::max(part.indexed_end, batch.appended_end_[p]);
  }
  batch.Release();
  return written;
}

void DedupIndex::WaitForFilterForTesting() const {
  std::unique_lock lock(impl_->filter_mu);
  impl_->filter_loaded.wait(lock, [&] { return impl_->filter.Complete(impl_->clock.NowMicros()); });
}

uint64_t DedupIndex::LookupsForTesting() const {
  return impl_->lookups.load();
}

uint64_t DedupIndex::StoredIdsForTesting() const {
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
  return GetU64(value.data());
}

}  // namespace sluice::ingest
