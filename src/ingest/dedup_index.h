// Idempotent ingest for exactly-once events: the per-stream index of the ids (`dedup_key`
// values) appended within the dedup horizon, so that an event carrying an id already appended
// is not appended again (DESIGN.md, "Delivery semantics"; docs/ingest.md, "Exactly-once").
//
// The log is the source of truth; this index is derived from it and can always be rebuilt:
//
// - An ingest request reserves its exactly-once ids (Resolve), appends the new events to the
//   log, then stages their ids in memory (Commit) and only then releases the reservations. Any
//   id is therefore, at every moment, reserved, staged, in RocksDB, or not appended: two
//   concurrent requests carrying the same id never both append it. The lock guarding the
//   reservations is held only for the check and reserve step, not across the lookup, the
//   append or the fsync.
// - A background thread writes the staged ids to RocksDB every second (or once 256 Ki are
//   staged) as one sorted SST file, ingested atomically, together with, per partition, an
//   offset below which every record is indexed (the lowest offset of an append whose ids are
//   not yet staged, or else the log's end: appends of exactly-once events are ordered by a
//   per-partition lock, see LockPartition). Open() catches up by reading the log from that
//   offset to its end and staging the exactly-once ids found there, so a kill -9 before the
//   ids reach RocksDB loses nothing and never admits a duplicate: the log's fsync is the
//   commit. Writing sorted files instead of a WriteBatch per request spares every id a
//   skip-list insert into a memtable (a chain of cache misses: most of exactly-once ingest's
//   cost) and leaves no write-ahead log to replay at a restart.
// - A request that finds duplicates is answered only once the originals are durable (it waits
//   for the newest sync ticket of the stream's appends), so "duplicate" never reports an event
//   that could still be lost. When the request that reserved an id fails to append it, a
//   concurrent request holding the same id gets the event rejected ("retry"), not counted.
//
// Key space and memory. Key = 'h' + the id's 64-bit XXH3 hash (big-endian) + id, value = the
// log time (8 bytes, little-endian) of the last append of the id; the hash leads so that
// sorting and compaction compare one integer rather than ids' long common prefixes (an index
// of the first layout, 'k' + id, is rebuilt from the log at Open). One point lookup per id
// (batched: one MultiGet per request), which a time-bucketed key space (bucket + id, expired
// buckets dropped with DeleteRange) cannot offer: there a lookup probes every live bucket. Expiry
// is exact at lookup (an entry older than the horizon, by the injected clock, does not count) and
// physical in compaction (a compaction filter drops such entries, with the cutoff read from the
// clock once per compaction; periodic compaction makes sure every file is visited), so the disk
// holds one horizon of ids. Ids arrive in no useful order, so leveled compaction would rewrite all
// of level 1 at every flush (measured: a third of the CPU once 3 million ids were stored);
// universal compaction writes each id O(log n) times. Memory is bounded: at most two rounds of
// staged ids (~60 bytes each), RocksDB's two 16 MiB memtables (unused but for older indexes) and a
// 32 MiB block cache holding its bloom filters (per SST file, partitioned into 4 KiB blocks).
//
// New ids (the common case) skip RocksDB's lookup altogether: an in-memory filter of the 64-bit
// hashes of the ids stored within the horizon (recent_id_filter.h, 11–23 bytes per id, capped
// by Open's `filter_bytes`) answers "new" for an id it does not hold; an id it holds (a
// duplicate, or a hash collision) is confirmed among the staged ids and in RocksDB, so the
// filter never makes a new id a
// duplicate. The filter is not persisted: after CatchUp a background thread fills it by reading
// the stored ids (start-up does not wait for that scan), and until it is complete every id is
// looked up in RocksDB as before. Commit inserts the stored ids into it before releasing their
// reservations, so a complete filter holds every staged or stored live id or the id is still
// reserved.
// Over the cap, the oldest time bucket is dropped and misses go to RocksDB again until
// everything it held has expired.
//
// Thread-safety: every method may be called concurrently; a Batch belongs to one request.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "ingest/delivery.h"
#include "ingest/event_parser.h"
#include "log/log.h"

namespace rocksdb {
class DB;
class CompactionFilter;
}  // namespace rocksdb

namespace sluice::ingest {

class DedupIndex {
 public:
  // Opens (creating) the index in `dir` for a log of `partitions` partitions, with ids kept
  // for `horizon_micros` of log time (judged by `clock`, which must outlive the index).
  // `filter_bytes` caps the in-memory filter of recent ids (recent_id_filter.h).
  static constexpr size_t kDefaultFilterBytes = size_t{256} << 20;
  static Result<std::unique_ptr<DedupIndex>> Open(const std::string& dir, uint32_t partitions,
                                                  int64_t horizon_micros, Clock& clock,
                                                  size_t filter_bytes = kDefaultFilterBytes);
  ~DedupIndex();  // records the indexed offsets when nothing is in flight
  DedupIndex(const DedupIndex&) = delete;
  DedupIndex& operator=(const DedupIndex&) = delete;

  // Indexes the exactly-once events (by `rule`, ids from the field `names.id`) appended to
  // `log` after the recorded offsets: call before serving. The index then follows `log`, which
  // must outlive it. Returns how many were indexed. Then starts filling the filter of recent
  // ids from the index in the background.
  Result<uint64_t> CatchUp(const log::Log& log, const EventFieldNames& names,
                           const DeliveryRule& rule);

  enum class Outcome : uint8_t {
    kNew,        // reserved for this request: append it
    kDuplicate,  // appended before (within the horizon), earlier in the request or concurrently
    kConflict,   // a concurrent request reserved it and then failed to append it: retry
  };

  // One request's ids and reservations. Reuse one per thread: it keeps its buffers.
  class Batch {
   public:
    Batch() = default;
    ~Batch();
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

    // Starts a request against `index` (releasing anything a previous request left reserved).
    void Reset(DedupIndex& index);
    // Adds an exactly-once event's id in `partition`; returns its position for outcome().
    size_t Add(uint32_t partition, std::string_view id);
    size_t size() const { return entries_.size(); }
    Outcome outcome(size_t i) const { return entries_[i].outcome; }
    // The sync ticket to wait for before answering (0 = none): duplicates were found, and
    // their originals become durable by then.
    uint64_t duplicate_ticket() const { return duplicate_ticket_; }
    // Releases the reservations this request still holds (when it fails before Commit, which
    // releases them itself) and detaches from the index. Idempotent; the destructor calls it.
    void Release();

   private:
    friend class DedupIndex;
    struct Entry {
      uint32_t partition = 0;
      uint32_t key_begin = 0;  // of the id's key ('h' + hash + id) in keys_
      uint32_t key_size = 0;
      Outcome outcome = Outcome::kNew;
      bool reserved = false;   // this request holds the reservation
      uint64_t waits_for = 0;  // the request in flight at Resolve that held the id (0: none)
      uint64_t hash = 0;       // RecentIdFilter::Hash(id)
    };
    std::string_view key(const Entry& e) const { return {keys_.data() + e.key_begin, e.key_size}; }
    std::string_view id(const Entry& e) const { return key(e).substr(9); }

    DedupIndex* index_ = nullptr;
    uint64_t owner_ = 0;
    std::string keys_;
    std::vector<Entry> entries_;
    std::vector<size_t> lookups_;          // entries reserved by this request
    std::vector<size_t> confirm_;          // of those, the ones to look up; then to store
    std::vector<size_t> unstaged_;         // of those looked up, the ones not staged (for RocksDB)
    std::vector<uint64_t> appended_from_;  // per partition: first offset appended, or ~0
    std::vector<uint64_t> appended_end_;   // per partition: one past the last offset appended
    uint64_t duplicate_ticket_ = 0;
  };

  // Decides every added id: reserves the new ones (check and reserve under the lock), waits
  // for concurrent requests holding one of them, looks the rest up in RocksDB (one MultiGet).
  Status Resolve(Batch& batch);

  // Appending the batch's new events to partition `p`: hold this lock across Log::Append, then
  // report the append with Appended() before releasing it (the index must know the order of
  // appends to record a safe catch-up offset).
  std::unique_lock<std::mutex> LockPartition(uint32_t p);
  void Appended(Batch& batch, uint32_t p, uint64_t first_offset, uint64_t end_offset,
                uint64_t sync_ticket);

  // Stages the batch's new ids (in memory, written to RocksDB within a second) and releases
  // its reservations. Call after every append of the request succeeded; on failure just
  // Reset() or destroy the batch.
  void Commit(Batch& batch);

  // Writes the staged ids and the indexed offsets to RocksDB now (the background thread does
  // so every second, and the destructor at a clean stop).
  Status Flush();

  // For tests: the number of ids stored (after a Flush; expired ones included until
  // compacted), and a full compaction (which drops the expired ones).
  uint64_t StoredIdsForTesting() const;
  Status CompactForTesting();
  // For tests: the offset Open() would catch up from in partition `p`.
  uint64_t IndexedOffsetForTesting(uint32_t p) const;
  // For tests: waits until the filter of recent ids is filled (after CatchUp); how many
  // ids were looked up (among the staged ids, then in RocksDB) since Open.
  void WaitForFilterForTesting() const;
  uint64_t LookupsForTesting() const;
  // For tests: from now on nothing more reaches RocksDB, as after a kill -9.
  void SimulateCrashForTesting();

 private:
  struct Impl;
  explicit DedupIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::ingest
