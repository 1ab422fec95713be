#include "store/delta_log.h"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "base/json_writer.h"

namespace sluice::store {

DeltaLog::DeltaLog(size_t max_deltas, size_t max_bytes)
    : max_deltas_(max_deltas == 0 ? 1 : max_deltas), max_bytes_(max_bytes) {}

void DeltaLog::Reset(uint64_t version) {
  deltas_.clear();
  text_bytes_before_.clear();
  text_bytes_appended_ = 0;
  bytes_ = 0;
  base_version_ = version;
  last_version_ = version;
}

void DeltaLog::Append(std::shared_ptr<const ViewDelta> delta) {
  if (delta->version != last_version_ + 1)
    throw std::logic_error("DeltaLog: delta " + std::to_string(delta->version) +
                           " does not follow " + std::to_string(last_version_));
  last_version_ = delta->version;
  bytes_ += delta->bytes();
  text_bytes_before_.push_back(text_bytes_appended_);
  text_bytes_appended_ += delta->text->size();
  deltas_.push_back(std::move(delta));
  while (deltas_.size() > 1 && (deltas_.size() > max_deltas_ || bytes_ > max_bytes_)) {
    bytes_ -= deltas_.front()->bytes();
    base_version_ = deltas_.front()->version;
    deltas_.pop_front();
    text_bytes_before_.pop_front();
  }
}

uint64_t DeltaLog::TextBytesAfter(uint64_t have) const {
  if (!Covers(have)) throw std::logic_error("DeltaLog: the deltas after the cursor were evicted");
  if (have == last_version_) return 0;
  return text_bytes_appended_ - text_bytes_before_[static_cast<size_t>(have - base_version_)];
}

void DeltaLog::CollectAfter(uint64_t have, std::vector<std::shared_ptr<const ViewDelta>>& out,
                            size_t limit) const {
  if (!Covers(have)) throw std::logic_error("DeltaLog: the deltas after the cursor were evicted");
  const size_t first = static_cast<size_t>(have - base_version_);
  const size_t end = first + std::min(limit, deltas_.size() - first);
  for (size_t i = first; i < end; ++i) out.push_back(deltas_[i]);
}

CoalescedChanges CoalesceDeltas(const std::vector<std::shared_ptr<const ViewDelta>>& deltas,
                                const RowPredicate& filter) {
  std::map<std::string_view, const ViewDelta::Change*> last;
  for (const auto& delta : deltas)
    for (const ViewDelta::Change& change : delta->changes) last[change.key] = &change;
  CoalescedChanges out;
  for (const auto& [key, change] : last) {
    if (filter && !filter(change->row_json)) continue;
    (change->deleted ? out.deleted : out.rows).push_back(&change->row_json);
  }
  return out;
}

std::string DeltaJson(std::string_view view, uint64_t version, uint64_t since, uint64_t position,
                      bool coalesced, const CoalescedChanges& changes) {
  size_t reserve = 160;
  for (const std::string* row : changes.rows) reserve += row->size() + 1;
  for (const std::string* row : changes.deleted) reserve += row->size() + 1;
  std::string out;
  out.reserve(reserve);
  out += "{\"type\":\"delta\",\"view\":";
  AppendJsonString(out, view);
  out += ",\"version\":";
  out += std::to_string(version);
  out += ",\"since\":";
  out += std::to_string(since);
  if (coalesced) out += ",\"coalesced\":true";
  out += ",\"position\":";
  out += std::to_string(position);
  out += ",\"rows\":[";
  for (size_t i = 0; i < changes.rows.size(); ++i) {
    if (i) out += ',';
    out += *changes.rows[i];
  }
  out += ']';
  if (!changes.deleted.empty()) {
    out += ",\"deleted\":[";
    for (size_t i = 0; i < changes.deleted.size(); ++i) {
      if (i) out += ',';
      out += *changes.deleted[i];
    }
    out += ']';
  }
  out += '}';
  return out;
}

}  // namespace sluice::store
