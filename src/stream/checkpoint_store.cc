#include "stream/checkpoint_store.h"

#include <cstring>

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "base/fixed_bytes.h"

namespace sluice::stream {
namespace {

std::string Prefix(const std::string& pipeline, char kind) {
  std::string p = pipeline;
  p += '\0';
  p += kind;
  p += '\0';
  return p;
}

// Metadata value: u64 version | u64 partition count | u64 offset × count | pipeline metadata.
std::string EncodeMeta(const std::vector<uint64_t>& offsets, uint64_t version,
                       std::string_view meta) {
  std::string v;
  AppendU64(v, version);
  AppendU64(v, offsets.size());
  for (uint64_t o : offsets) AppendU64(v, o);
  v.append(meta);
  return v;
}

Status ToStatus(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  return Status::IOError(fmt::format("{}: {}", what, s.ToString()));
}

// A view's committed rows: the "r" records of one pipeline.
class StoredRows : public store::CommittedRows {
 public:
  StoredRows(std::shared_ptr<rocksdb::DB> db, std::string prefix)
      : db_(std::move(db)), prefix_(std::move(prefix)) {}

  Result<std::optional<std::string>> Get(std::string_view key) const override {
    std::string k = prefix_;
    k.append(key);
    std::string row;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), k, &row);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return ToStatus(s, "reading a view row");
    return std::optional<std::string>(std::move(row));
  }

  std::unique_ptr<Cursor> Open() const override {
    return std::make_unique<StoredCursor>(db_, prefix_);
  }

 private:
  class StoredCursor : public Cursor {
   public:
    StoredCursor(std::shared_ptr<rocksdb::DB> db, const std::string& prefix)
        : db_(std::move(db)), snapshot_(db_->GetSnapshot()), prefix_(prefix) {
      upper_bound_text_ = prefix;
      upper_bound_text_.back() = '\x01';  // just past every "<pipeline>\0r\0…" key
      upper_bound_ = rocksdb::Slice(upper_bound_text_);
      rocksdb::ReadOptions options;
      options.snapshot = snapshot_;
      options.iterate_upper_bound = &upper_bound_;
      it_.reset(db_->NewIterator(options));
    }
    ~StoredCursor() override {
      it_.reset();
      db_->ReleaseSnapshot(snapshot_);
    }
    void Seek(std::string_view key) override {
      seek_key_.assign(prefix_).append(key);
      it_->Seek(seek_key_);
    }
    bool Valid() const override { return it_->Valid(); }
    void Next() override { it_->Next(); }
    std::string_view key() const override {
      const rocksdb::Slice k = it_->key();
      return std::string_view(k.data() + prefix_.size(), k.size() - prefix_.size());
    }
    std::string_view row() const override {
      const rocksdb::Slice v = it_->value();
      return std::string_view(v.data(), v.size());
    }
    Status status() const override { return ToStatus(it_->status(), "scanning view rows"); }

   private:
    std::shared_ptr<rocksdb::DB> db_;
    const rocksdb::Snapshot* snapshot_;
    std::string prefix_;
    std::string upper_bound_text_;
    rocksdb::Slice upper_bound_;
    std::string seek_key_;
    std::unique_ptr<rocksdb::Iterator> it_;
  };

  std::shared_ptr<rocksdb::DB> db_;
  std::string prefix_;
};

}  // namespace

std::shared_ptr<const store::CommittedRows> CheckpointStore::Rows(
    const std::string& pipeline) const {
  return std::make_shared<StoredRows>(db_, Prefix(pipeline, 'r'));
}

CheckpointStore::CheckpointStore(std::shared_ptr<rocksdb::DB> db) : db_(std::move(db)) {}
CheckpointStore::~CheckpointStore() = default;

Result<std::unique_ptr<CheckpointStore>> CheckpointStore::Open(const std::string& dir) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.max_open_files = 256;
  options.keep_log_file_num = 4;
  // A restart after kill -9 replays the write-ahead log into a memtable before the store opens:
  // small memtables bound that replay (~100 ms instead of ~1 s for the default 64 MiB after a
  // big view's checkpoints). Flushes are background work and checkpoints are not hot.
  options.write_buffer_size = 8u << 20;
  // Counting a view's new rows looks up keys that are mostly absent: a Bloom filter answers
  // those without reading a block.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) return ToStatus(s, "opening the checkpoint store in " + dir);
  return std::unique_ptr<CheckpointStore>(new CheckpointStore(std::shared_ptr<rocksdb::DB>(raw)));
}

Result<CheckpointData> CheckpointStore::Load(const std::string& pipeline, bool with_state) const {
  CheckpointData data;
  std::string meta;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), Prefix(pipeline, 'm'), &meta);
  if (s.IsNotFound()) return data;
  if (!s.ok()) return ToStatus(s, "reading checkpoint of " + pipeline);
  if (meta.size() < 16 || LoadU64(meta.data() + 8) > (meta.size() - 16) / 8)
    return Status::Corruption(fmt::format("checkpoint metadata of {} is malformed", pipeline));
  data.version = LoadU64(meta.data());
  size_t n = LoadU64(meta.data() + 8);
  for (size_t i = 0; i < n; ++i) data.offsets.push_back(LoadU64(meta.data() + 16 + 8 * i));
  data.meta = meta.substr(16 + 8 * n);
  std::string row_count;
  s = db_->Get(rocksdb::ReadOptions(), Prefix(pipeline, 'n'), &row_count);
  if (s.ok() && row_count.size() == 8) data.row_count = LoadU64(row_count.data());
  if (!s.ok() && !s.IsNotFound()) return ToStatus(s, "reading the row count of " + pipeline);
  if (!with_state) return data;

  const std::string prefix = Prefix(pipeline, 's');
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  // Keys arrive in order: each goes at the end of the map (no search).
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    rocksdb::Slice key = it->key();
    key.remove_prefix(prefix.size());
    data.state.emplace_hint(data.state.end(), key.ToString(), it->value().ToString());
  }
  if (!it->status().ok()) return ToStatus(it->status(), "scanning checkpoint of " + pipeline);
  return data;
}

Result<std::optional<std::string>> CheckpointStore::ReadState(const std::string& pipeline,
                                                              std::string_view group_key) const {
  std::string key = Prefix(pipeline, 's');
  key.append(group_key);
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return ToStatus(s, "reading the state of " + pipeline);
  return std::optional<std::string>(std::move(value));
}

Status CheckpointStore::ScanState(const std::string& pipeline, std::string_view prefix,
                                  std::vector<std::pair<std::string, std::string>>& out) const {
  const std::string state_prefix = Prefix(pipeline, 's');
  std::string start = state_prefix;
  start.append(prefix);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(start); it->Valid() && it->key().starts_with(start); it->Next())
    out.emplace_back(it->key().ToString().substr(state_prefix.size()), it->value().ToString());
  return ToStatus(it->status(), "scanning the state of " + pipeline);
}

Status CheckpointStore::Commit(const std::string& pipeline,
                               const std::vector<std::pair<std::string, std::string>>& changed,
                               const std::vector<uint64_t>& offsets, uint64_t version,
                               std::string_view meta) {
  return Commit({CheckpointUpdate{pipeline, changed, offsets, version, std::string(meta)}});
}

Status CheckpointStore::Commit(const std::vector<CheckpointUpdate>& updates) {
  if (failing_commits_ > 0) {
    --failing_commits_;
    return Status::IOError("committing a checkpoint: failure injected for a test");
  }
  rocksdb::WriteBatch batch;
  std::string key;
  for (const CheckpointUpdate& u : updates) {
    const std::string prefix = Prefix(u.pipeline, 's');
    for (const auto& [k, v] : u.changed_state) {
      key.assign(prefix).append(k);
      rocksdb::Status s = v.empty() ? batch.Delete(key) : batch.Put(key, v);
      if (!s.ok()) return ToStatus(s, "building checkpoint batch");
    }
    if (u.row_count) {
      const std::string row_prefix = Prefix(u.pipeline, 'r');
      for (const auto& [k, v] : u.changed_rows) {
        key.assign(row_prefix).append(k);
        rocksdb::Status s = v.empty() ? batch.Delete(key) : batch.Put(key, v);
        if (!s.ok()) return ToStatus(s, "building checkpoint batch");
      }
      std::string count;
      AppendU64(count, *u.row_count);
      rocksdb::Status s = batch.Put(Prefix(u.pipeline, 'n'), count);
      if (!s.ok()) return ToStatus(s, "building checkpoint batch");
    }
    rocksdb::Status s =
        batch.Put(Prefix(u.pipeline, 'm'), EncodeMeta(u.offsets, u.version, u.meta));
    if (!s.ok()) return ToStatus(s, "building checkpoint batch");
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return ToStatus(db_->Write(wo, &batch), "committing a checkpoint");
}

Status CheckpointStore::Drop(const std::string& pipeline) {
  std::string begin = pipeline;
  begin += '\0';
  std::string end = pipeline;
  end += '\x01';
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return ToStatus(db_->DeleteRange(wo, db_->DefaultColumnFamily(), begin, end),
                  "dropping the checkpoint of " + pipeline);
}

Result<std::vector<std::string>> CheckpointStore::Pipelines() const {
  std::vector<std::string> names;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  // One seek per pipeline: jump past all keys of a pipeline to the next name.
  for (it->SeekToFirst(); it->Valid();) {
    const rocksdb::Slice key = it->key();
    const size_t nul = std::string_view(key.data(), key.size()).find('\0');
    std::string name(key.data(), nul == std::string_view::npos ? key.size() : nul);
    names.push_back(name);
    name += '\x01';
    it->Seek(name);
  }
  if (!it->status().ok()) return ToStatus(it->status(), "listing checkpoints");
  return names;
}

}  // namespace sluice::stream
