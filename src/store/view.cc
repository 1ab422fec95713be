#include "store/view.h"

#include <stdexcept>

#include <fmt/format.h>

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

View::View(ViewDefinition definition, bool restoring)
    : definition_(std::move(definition)), state_(restoring ? State::kRestoring : State::kReady) {}

void View::Reset(std::map<std::string, std::string> rows, uint64_t version) {
  std::lock_guard lock(mu_);
  rows_ = std::move(rows);
  version_ = version;
  state_ = State::kReady;
  if (awaiting_snapshot_.empty()) return;
  const std::string snapshot = SnapshotJsonLocked({});
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
  delta.reserve(128 + changes.size() * 96);
  delta += "{\"type\":\"delta\",\"view\":";
  AppendJsonString(delta, definition_.name);
  delta += ",\"version\":";
  delta += std::to_string(version_);
  delta += ",\"position\":";
  delta += std::to_string(position);
  delta += ",\"rows\":[";
  bool first_row = true;
  for (const RowChange& c : changes) {
    if (c.row_json.empty()) {
      auto it = rows_.find(c.key);
      if (it == rows_.end()) continue;
      deleted += deleted.empty() ? "" : ",";
      deleted += it->second;
      rows_.erase(it);
      continue;
    }
    if (!first_row) delta += ',';
    first_row = false;
    delta += c.row_json;
    rows_.insert_or_assign(c.key, c.row_json);
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
  return version_;
}

uint64_t View::version() const {
  std::lock_guard lock(mu_);
  return version_;
}

size_t View::row_count() const {
  std::lock_guard lock(mu_);
  return rows_.size();
}

uint64_t View::ForEachRow(const std::function<void(const std::string& row_json)>& row) const {
  std::lock_guard lock(mu_);
  for (const auto& [key, json] : rows_) row(json);
  return version_;
}

std::string View::SnapshotJson(const std::function<bool(const std::string&)>& filter) const {
  std::lock_guard lock(mu_);
  return SnapshotJsonLocked(filter);
}

std::string View::SnapshotJsonLocked(const std::function<bool(const std::string&)>& filter) const {
  std::string out;
  out.reserve(128 + rows_.size() * 96);
  out += "{\"type\":\"snapshot\",\"view\":";
  AppendJsonString(out, definition_.name);
  out += ",\"version\":";
  out += std::to_string(version_);
  out += ",\"columns\":";
  AppendStringArray(out, definition_.columns);
  out += ",\"key\":";
  AppendStringArray(out, definition_.key_columns);
  out += ",\"rows\":[";
  bool first = true;
  for (const auto& [key, row] : rows_) {
    if (filter && !filter(row)) continue;
    if (!first) out += ',';
    first = false;
    out += row;
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
    on_registered(version_, SnapshotJsonLocked({}));
  }
  return id;
}

void View::Unsubscribe(uint64_t id) {
  std::lock_guard lock(mu_);
  listeners_.erase(id);
  awaiting_snapshot_.erase(id);
}

size_t View::subscriber_count() const {
  std::lock_guard lock(mu_);
  return listeners_.size();
}

void View::Drop() {
  std::string message = "{\"type\":\"dropped\",\"view\":";
  AppendJsonString(message, definition_.name);
  message += '}';
  auto shared = std::make_shared<const std::string>(std::move(message));
  std::lock_guard lock(mu_);
  for (auto& [id, listener] : listeners_) listener(version_, shared);
  listeners_.clear();
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
