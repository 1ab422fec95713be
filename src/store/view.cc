#include "store/view.h"

#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/json_writer.h"

namespace sluice::store {
namespace {

void AppendStringArray(std::string& out, const std::vector<std::string>& items) {
  out += '[';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    AppendJsonString(out, items[i]);
  }
  out += ']';
}

}  // namespace

size_t ViewDelta::bytes() const {
  size_t n = sizeof(ViewDelta) + (text ? text->size() : 0);
  for (const Change& c : changes) n += sizeof(Change) + c.key.size() + c.row_json.size();
  return n;
}

View::View(ViewDefinition definition, bool restoring)
    : definition_(std::move(definition)), state_(restoring ? State::kRestoring : State::kReady) {}

void View::Reset(std::map<std::string, std::string> rows, uint64_t version) {
  std::lock_guard lock(mu_);
  if (committed_ != nullptr) {
    for (const auto& [key, row] : rows) {
      Result<std::optional<std::string>> old = FindLocked(key);
      if (!old.ok() || !old->has_value()) ++row_count_;
    }
  }
  rows_ = std::move(rows);
  version_ = version;
  state_ = State::kReady;
  if (awaiting_snapshot_.empty()) return;
  const std::string snapshot = SnapshotJsonLocked();
  for (auto& [id, on_registered] : awaiting_snapshot_) on_registered(version_, snapshot);
  awaiting_snapshot_.clear();
}

Status View::Available() const {
  std::lock_guard lock(mu_);
  switch (state_) {
    case State::kReady:
      return Status::Ok();
    case State::kRestoring:
      return Status::Unavailable(fmt::format(
          "view '{}' is restoring its rows from its checkpoint after a restart; retry shortly",
          definition_.name));
    case State::kFailed:
      break;
  }
  return Status::Internal(
      fmt::format("view '{}' could not be restored: {}", definition_.name, failure_));
}

bool View::restoring() const {
  std::lock_guard lock(mu_);
  return state_ == State::kRestoring;
}

void View::MarkFailed(std::string reason) {
  std::lock_guard lock(mu_);
  state_ = State::kFailed;
  failure_ = std::move(reason);
}

uint64_t View::Apply(const std::vector<RowChange>& changes, uint64_t position) {
  if (changes.empty()) return version();
  std::string delta;
  std::string deleted;
  std::lock_guard lock(mu_);
  ++version_;
  std::shared_ptr<ViewDelta> structured;
  if (!change_listeners_.empty()) {
    structured = std::make_shared<ViewDelta>();
    structured->version = version_;
    structured->position = position;
    structured->changes.reserve(changes.size());
  }
  delta.reserve(128 + changes.size() * 96);
  delta += "{\"type\":\"delta\",\"view\":";
  AppendJsonString(delta, definition_.name);
  delta += ",\"version\":";
  delta += std::to_string(version_);
  delta += ",\"since\":";
  delta += std::to_string(version_ - 1);
  delta += ",\"position\":";
  delta += std::to_string(position);
  delta += ",\"rows\":[";
  bool first_row = true;
  for (const RowChange& c : changes) {
    if (c.row_json.empty()) {
      if (committed_ == nullptr) {
        auto it = rows_.find(c.key);
        if (it == rows_.end()) continue;
        deleted += deleted.empty() ? "" : ",";
        deleted += it->second;
        if (structured) structured->changes.push_back({c.key, std::move(it->second), true});
        rows_.erase(it);
        continue;
      }
      Result<std::optional<std::string>> old = FindLocked(c.key);
      if (old.ok() && !old->has_value()) continue;
      if (old.ok()) {
        deleted += deleted.empty() ? "" : ",";
        deleted += **old;
        if (structured) structured->changes.push_back({c.key, std::move(**old), true});
      } else {
        // The row goes all the same; only its last contents are missing from the delta.
        spdlog::error("view {}: reading a deleted row's last contents: {}", definition_.name,
                      old.status().ToString());
      }
      rows_.insert_or_assign(c.key, std::string());
      if (row_count_ > 0) --row_count_;
      continue;
    }
    if (!first_row) delta += ',';
    first_row = false;
    delta += c.row_json;
    if (committed_ != nullptr && c.prior == RowChange::Prior::kAbsent) {
      ++row_count_;
    } else if (committed_ != nullptr && c.prior == RowChange::Prior::kUnknown) {
      Result<std::optional<std::string>> old = FindLocked(c.key);
      if (old.ok() && !old->has_value()) ++row_count_;
      if (!old.ok())
        spdlog::error("view {}: reading a row to count it: {}", definition_.name,
                      old.status().ToString());
    }
    rows_.insert_or_assign(c.key, c.row_json);
    if (structured) structured->changes.push_back({c.key, c.row_json, false});
  }
  delta += ']';
  if (!deleted.empty()) {
    delta += ",\"deleted\":[";
    delta += deleted;
    delta += ']';
  }
  delta += '}';
  auto shared = std::make_shared<const std::string>(std::move(delta));
  for (auto& [id, listener] : listeners_) listener(version_, shared);
  if (structured) {
    structured->text = shared;
    std::shared_ptr<const ViewDelta> published = std::move(structured);
    for (auto& [id, listener] : change_listeners_) listener(published);
  }
  return version_;
}

Result<std::optional<std::string>> View::FindLocked(const std::string& key) const {
  auto it = rows_.find(key);
  if (it == rows_.end()) {
    it = sealed_.find(key);
    if (it == sealed_.end()) return committed_->Get(key);
  }
  if (it->second.empty()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

void View::UseStore(std::shared_ptr<const CommittedRows> committed, uint64_t committed_row_count) {
  std::lock_guard lock(mu_);
  if (committed_ != nullptr || !rows_.empty())
    throw std::logic_error("view " + definition_.name + ": UseStore() on a view with rows");
  committed_ = std::move(committed);
  row_count_ = committed_row_count;
}

bool View::store_backed() const {
  std::lock_guard lock(mu_);
  return committed_ != nullptr;
}

SealedRows View::SealForCommit() {
  std::lock_guard lock(mu_);
  SealedRows out;
  if (committed_ == nullptr) return out;
  if (sealed_.empty()) {
    sealed_.swap(rows_);
  } else {
    // The last commit failed: its rows are still due, with the newer changes over them.
    for (auto& [key, row] : rows_) sealed_.insert_or_assign(key, std::move(row));
    rows_.clear();
  }
  out.rows.reserve(sealed_.size());
  for (const auto& entry : sealed_) out.rows.push_back(entry);
  out.row_count = row_count_;
  return out;
}

void View::CommitSealed() {
  std::lock_guard lock(mu_);
  sealed_.clear();
}

View::ReadView View::OpenReadLocked(std::string_view from, std::string_view to) const {
  ReadView read;
  read.cursor = committed_->Open();
  auto in_range = [&](const std::map<std::string, std::string>& rows) {
    auto it = rows.lower_bound(std::string(from));
    auto end = to.empty() ? rows.end() : rows.lower_bound(std::string(to));
    for (; it != end; ++it) read.overlay.insert_or_assign(it->first, it->second);
  };
  in_range(sealed_);
  in_range(rows_);  // newer than the sealed rows
  return read;
}

Status View::MergeScan(ReadView& read, std::string_view from, std::string_view to,
                       const std::function<bool(std::string_view, std::string_view)>& row) {
  CommittedRows::Cursor& cursor = *read.cursor;
  cursor.Seek(from);
  auto overlay = read.overlay.begin();
  auto committed_valid = [&] { return cursor.Valid() && (to.empty() || cursor.key() < to); };
  while (true) {
    const bool has_committed = committed_valid();
    const bool has_overlay = overlay != read.overlay.end();
    if (!has_committed && !has_overlay) break;
    if (has_overlay && (!has_committed || overlay->first <= cursor.key())) {
      // The overlay is newer: it replaces (or deletes) the committed row of the same key.
      if (has_committed && overlay->first == cursor.key()) cursor.Next();
      const bool keep_going = overlay->second.empty() || row(overlay->first, overlay->second);
      ++overlay;
      if (!keep_going) return Status::Ok();
      continue;
    }
    if (!row(cursor.key(), cursor.row())) return Status::Ok();
    cursor.Next();
  }
  return cursor.status();
}

Result<uint64_t> View::ScanRows(
    std::string_view from, std::string_view to,
    const std::function<bool(std::string_view key, std::string_view row_json)>& row) const {
  std::unique_lock lock(mu_);
  const uint64_t version = version_;
  if (committed_ == nullptr) {
    auto it = rows_.lower_bound(std::string(from));
    auto end = to.empty() ? rows_.end() : rows_.lower_bound(std::string(to));
    for (; it != end; ++it)
      if (!row(it->first, it->second)) break;
    return version;
  }
  ReadView read = OpenReadLocked(from, to);
  lock.unlock();
  SLUICE_RETURN_IF_ERROR(MergeScan(read, from, to, row));
  return version;
}

uint64_t View::version() const {
  std::lock_guard lock(mu_);
  return version_;
}

size_t View::row_count() const {
  std::lock_guard lock(mu_);
  return committed_ == nullptr ? rows_.size() : row_count_;
}

Result<uint64_t> View::ForEachRow(
    const std::function<void(const std::string& row_json)>& row) const {
  std::string text;
  return ScanRows({}, {}, [&](std::string_view, std::string_view json) {
    text.assign(json);
    row(text);
    return true;
  });
}

Result<std::string> View::SnapshotJson(const RowPredicate& filter, uint64_t* version,
                                       std::string_view from, std::string_view to) const {
  std::string rows;
  bool first = true;
  SLUICE_ASSIGN_OR_RETURN(const uint64_t at,
                          ScanRows(from, to, [&](std::string_view, std::string_view row) {
                            if (filter && !filter(row)) return true;
                            if (!first) rows += ',';
                            first = false;
                            rows += row;
                            return true;
                          }));
  if (version != nullptr) *version = at;
  std::string out = SnapshotHead(at, rows.size());
  out += rows;
  out += "]}";
  return out;
}

std::string View::SnapshotHead(uint64_t version, size_t rows_bytes) const {
  std::string out;
  out.reserve(128 + rows_bytes);
  out += "{\"type\":\"snapshot\",\"view\":";
  AppendJsonString(out, definition_.name);
  out += ",\"version\":";
  out += std::to_string(version);
  out += ",\"columns\":";
  AppendStringArray(out, definition_.columns);
  out += ",\"key\":";
  AppendStringArray(out, definition_.key_columns);
  out += ",\"rows\":[";
  return out;
}

std::string View::SnapshotJsonLocked() const {
  std::string out = SnapshotHead(version_, rows_.size() * 96);
  bool first = true;
  auto append = [&](std::string_view, std::string_view row) {
    if (!first) out += ',';
    first = false;
    out += row;
    return true;
  };
  if (committed_ == nullptr) {
    for (const auto& [key, row] : rows_) append(key, row);
  } else {
    ReadView read = OpenReadLocked({}, {});
    if (Status st = MergeScan(read, {}, {}, append); !st.ok())
      spdlog::error("view {}: reading its rows for a snapshot: {}", definition_.name,
                    st.ToString());
  }
  out += "]}";
  return out;
}

uint64_t View::Subscribe(Listener listener,
                         const std::function<void(uint64_t, std::string)>& on_registered) {
  std::lock_guard lock(mu_);
  uint64_t id = next_listener_id_++;
  listeners_.emplace(id, std::move(listener));
  if (!on_registered) return id;
  if (state_ == State::kRestoring) {
    awaiting_snapshot_.emplace(id, on_registered);
  } else {
    on_registered(version_, SnapshotJsonLocked());
  }
  return id;
}

uint64_t View::SubscribeChanges(ChangeListener listener,
                                const std::function<void(uint64_t)>& on_registered) {
  std::lock_guard lock(mu_);
  uint64_t id = next_listener_id_++;
  change_listeners_.emplace(id, std::move(listener));
  if (!on_registered) return id;
  if (state_ == State::kRestoring) {
    awaiting_snapshot_.emplace(
        id, [on_registered](uint64_t version, const std::string&) { on_registered(version); });
  } else {
    on_registered(version_);
  }
  return id;
}

void View::Unsubscribe(uint64_t id) {
  std::lock_guard lock(mu_);
  listeners_.erase(id);
  change_listeners_.erase(id);
  awaiting_snapshot_.erase(id);
}

size_t View::subscriber_count() const {
  std::lock_guard lock(mu_);
  return listeners_.size() + change_listeners_.size();
}

void View::Drop() {
  std::string message = "{\"type\":\"dropped\",\"view\":";
  AppendJsonString(message, definition_.name);
  message += '}';
  auto shared = std::make_shared<const std::string>(std::move(message));
  auto dropped = std::make_shared<ViewDelta>();
  dropped->text = shared;
  dropped->dropped = true;
  std::lock_guard lock(mu_);
  dropped->version = version_;
  for (auto& [id, listener] : listeners_) listener(version_, shared);
  for (auto& [id, listener] : change_listeners_) listener(dropped);
  listeners_.clear();
  change_listeners_.clear();
  awaiting_snapshot_.clear();
}

std::shared_ptr<View> ViewRegistry::Add(ViewDefinition definition, bool restoring) {
  std::lock_guard lock(mu_);
  std::string name = definition.name;
  auto [it, inserted] = views_.try_emplace(name, nullptr);
  if (!inserted) throw std::logic_error("view " + name + " defined twice");
  it->second = std::make_shared<View>(std::move(definition), restoring);
  return it->second;
}

std::shared_ptr<View> ViewRegistry::Find(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = views_.find(name);
  return it == views_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<View>> ViewRegistry::All() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<View>> out;
  for (const auto& [name, v] : views_) out.push_back(v);
  return out;
}

bool ViewRegistry::Remove(const std::string& name) {
  std::shared_ptr<View> view;
  {
    std::lock_guard lock(mu_);
    auto it = views_.find(name);
    if (it == views_.end()) return false;
    view = std::move(it->second);
    views_.erase(it);
  }
  view->Drop();
  return true;
}

}  // namespace sluice::store
