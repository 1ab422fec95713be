#include "stream/view_operator.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>

namespace sluice::stream {
namespace {

using sql::CompiledExpr;
using sql::Value;
using sql::ViewPlan;

constexpr char kMetaFormat = 'J';

bool IsTrue(const Value& v) {
  return v.type == sql::Type::kBoolean && v.boolean;
}

void PutBig(std::string& out, uint64_t u) {
  for (int i = 7; i >= 0; --i) out += static_cast<char>((u >> (8 * i)) & 0xFF);
}

bool GetBig(std::string_view& in, uint64_t& u) {
  if (in.size() < 8) return false;
  u = 0;
  for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<unsigned char>(in[static_cast<size_t>(i)]);
  in.remove_prefix(8);
  return true;
}

// One event buffered by an interval join for one side.
struct Buffered {
  int64_t time = 0;
  std::string key;
  OwnedValues values;  // the side's columns
  bool checkpointed = false;
};

struct Side {
  std::map<uint64_t, Buffered> entries;  // by sequence number
  std::unordered_map<std::string, std::vector<uint64_t>> by_key;
  std::multimap<int64_t, uint64_t> by_time;
  std::vector<uint64_t> pending;  // buffered since the last checkpoint
};

}  // namespace

struct ViewOperator::Impl {
  ViewPlan plan;
  std::unique_ptr<Aggregator> aggregator;
  sql::EvalContext ctx;
  uint64_t errors = 0;

  // Lookup join.
  std::shared_ptr<const ReferenceTable> table;
  std::vector<CompiledExpr> lookup_keys;
  std::vector<Value> base_columns;  // event_time, window_start, window_end for the keys
  std::vector<Value> nulls;         // the joined columns of a LEFT JOIN miss
  std::string key;
  uint64_t misses = 0;

  // Interval join.
  std::vector<CompiledExpr> side_keys[2];
  std::optional<CompiledExpr> side_filter[2];
  std::vector<int> side_slots[2];  // FieldSet slot per side column; -1: the event time
  Side sides[2];
  std::vector<Value> row;     // kInputColumns + extra_columns, for a side's expressions
  std::vector<Value> joined;  // extra_columns, for the aggregator
  std::vector<Value> side_values;
  uint64_t next_seq = 0;
  // The largest event time per input partition: the join's watermark is the smallest of them
  // minus the delay, so a partition read ahead of the others (a backfill reads one partition's
  // chunk after another) never purges what the others' events still need.
  std::vector<int64_t> partition_max;
  std::vector<std::string> purged;  // checkpoint keys of buffered events to delete
  uint64_t pairs = 0;

  DropReason AddLookup(std::span<const Value> fields, int64_t t, uint32_t partition) {
    base_columns[ViewPlan::kEventTimeColumn] = Value::Timestamp(t);
    const sql::Row input{fields, base_columns};
    key.clear();
    bool null_key = false;
    for (const CompiledExpr& k : lookup_keys) {
      const Value v = k.Evaluate(input, ctx);
      if (!AppendJoinKey(key, v)) null_key = true;
    }
    if (!ctx.ok()) {
      ++errors;
      ctx.Reset();
      aggregator->ObserveEventTime(t, partition);
      return DropReason::kNone;
    }
    ctx.Reset();
    const auto lock = table->LockForReading();
    const OwnedValues* match = null_key ? nullptr : table->Find(key);
    if (match != nullptr) return aggregator->Add(fields, t, match->values(), partition);
    if (plan.lookup->left) return aggregator->Add(fields, t, nulls, partition);
    ++misses;
    aggregator->ObserveEventTime(t, partition);
    return DropReason::kNone;
  }

  static std::string EntryKey(int side, uint64_t seq) {
    std::string k = side == 0 ? "j0" : "j1";
    PutBig(k, seq);
    return k;
  }

  void Emit(int side, int64_t t, std::span<const Value> values, const Buffered& other,
            std::span<const Value> fields, uint32_t partition) {
    const int64_t t0 = side == 0 ? t : other.time;
    const int64_t t1 = side == 0 ? other.time : t;
    const sql::IntervalJoinSpec& spec = *plan.interval_join;
    if (t1 - t0 < spec.lower_micros || t1 - t0 > spec.upper_micros) return;
    const std::span<const Value> mine = values;
    const std::span<const Value> theirs = other.values.values();
    for (int s = 0; s < 2; ++s) {
      const std::span<const Value> v = s == side ? mine : theirs;
      const auto& cols = spec.side_columns[s];
      for (size_t i = 0; i < cols.size(); ++i)
        joined[static_cast<size_t>(cols[i] - ViewPlan::kInputColumns)] = v[i];
    }
    ++pairs;
    aggregator->Add(fields, t0, joined, partition);
  }

  void AddInterval(std::span<const Value> fields, int64_t t, uint32_t partition) {
    const sql::IntervalJoinSpec& spec = *plan.interval_join;
    if (partition >= partition_max.size())
      partition_max.resize(partition + 1, std::numeric_limits<int64_t>::min());
    partition_max[partition] = std::max(partition_max[partition], t);
    aggregator->ObserveEventTime(t, partition);
    for (int side = 0; side < 2; ++side) {
      std::fill(row.begin(), row.end(), Value());
      row[ViewPlan::kEventTimeColumn] = side == 0 ? Value::Timestamp(t) : Value();
      const auto& cols = spec.side_columns[side];
      side_values.resize(cols.size());
      for (size_t i = 0; i < cols.size(); ++i) {
        const int slot = side_slots[side][i];
        side_values[i] = slot < 0 ? Value::Timestamp(t) : fields[static_cast<size_t>(slot)];
        row[static_cast<size_t>(cols[i])] = side_values[i];
      }
      const sql::Row input{fields, row};
      if (side_filter[side] && !IsTrue(side_filter[side]->Evaluate(input, ctx))) {
        if (!ctx.ok()) ++errors;
        ctx.Reset();
        continue;
      }
      key.clear();
      bool null_key = false;
      for (const CompiledExpr& k : side_keys[side])
        if (!AppendJoinKey(key, k.Evaluate(input, ctx))) null_key = true;
      if (!ctx.ok()) ++errors;
      ctx.Reset();
      if (null_key) continue;
      // Probe the other side, then buffer this event (an event on both sides meets itself once:
      // as side 1, against its own side-0 copy).
      Side& other = sides[1 - side];
      if (auto it = other.by_key.find(key); it != other.by_key.end()) {
        for (uint64_t seq : it->second)
          Emit(side, t, side_values, other.entries.at(seq), fields, partition);
      }
      Side& mine = sides[side];
      const uint64_t seq = next_seq++;
      Buffered& b = mine.entries[seq];
      b.time = t;
      b.key = key;
      b.values.Assign(side_values);
      mine.by_key[key].push_back(seq);
      mine.by_time.emplace(t, seq);
      mine.pending.push_back(seq);
    }
    Purge();
  }

  int64_t JoinWatermark() const {
    int64_t low = std::numeric_limits<int64_t>::max();
    for (int64_t m : partition_max) low = std::min(low, m);
    if (partition_max.empty() || low == std::numeric_limits<int64_t>::min())
      return std::numeric_limits<int64_t>::min();
    return low - plan.watermark_delay_micros;
  }

  void Purge() {
    const int64_t w = JoinWatermark();
    if (w == std::numeric_limits<int64_t>::min()) return;
    const sql::IntervalJoinSpec& spec = *plan.interval_join;
    for (int side = 0; side < 2; ++side) {
      Side& s = sides[side];
      // Side 0 matches side-1 times in [t + lower, t + upper]; side 1 side-0 times in
      // [t - upper, t - lower]. Events at or after the watermark cannot reach below that.
      const int64_t reach = side == 0 ? spec.upper_micros : -spec.lower_micros;
      while (!s.by_time.empty()) {
        auto first = s.by_time.begin();
        if (first->first >= w - reach) break;
        const uint64_t seq = first->second;
        s.by_time.erase(first);
        auto e = s.entries.find(seq);
        if (e == s.entries.end()) continue;
        auto& keyed = s.by_key[e->second.key];
        std::erase(keyed, seq);
        if (keyed.empty()) s.by_key.erase(e->second.key);
        if (e->second.checkpointed) purged.push_back(EntryKey(side, seq));
        s.entries.erase(e);
      }
    }
  }

  std::string Serialize(const Buffered& b) const {
    std::string out;
    PutBig(out, static_cast<uint64_t>(b.time));
    PutBig(out, b.key.size());
    out += b.key;
    EncodeValues(out, b.values.values());
    return out;
  }

  bool Deserialize(std::string_view key, std::string_view value) {
    if (key.size() != 10 || (key[1] != '0' && key[1] != '1')) return false;
    const int side = key[1] - '0';
    std::string_view k = key.substr(2);
    uint64_t seq = 0, time = 0, key_size = 0;
    if (!GetBig(k, seq) || !GetBig(value, time) || !GetBig(value, key_size) ||
        key_size > value.size())
      return false;
    Buffered b;
    b.time = static_cast<int64_t>(time);
    b.key.assign(value.substr(0, key_size));
    value.remove_prefix(key_size);
    if (!DecodeValues(value, b.values) ||
        b.values.size() != plan.interval_join->side_columns[side].size())
      return false;
    b.checkpointed = true;
    Side& s = sides[side];
    s.by_key[b.key].push_back(seq);
    s.by_time.emplace(b.time, seq);
    s.entries.emplace(seq, std::move(b));
    next_seq = std::max(next_seq, seq + 1);
    return true;
  }
};

ViewOperator::ViewOperator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ViewOperator::~ViewOperator() = default;

Result<std::unique_ptr<ViewOperator>> ViewOperator::Create(
    const sql::ViewPlan& plan, sql::FieldSet& fields, std::shared_ptr<const ReferenceTable> table,
    uint32_t partitions) {
  auto impl = std::make_unique<Impl>();
  impl->plan = plan;
  SLUICE_ASSIGN_OR_RETURN(impl->aggregator, Aggregator::Create(plan, fields));
  if (plan.lookup) {
    if (table == nullptr)
      return Status::FailedPrecondition(
          fmt::format("view {}: the table {} is not available", plan.name, plan.lookup->table));
    impl->table = std::move(table);
    for (const sql::BoundExpr& k : plan.lookup->keys) {
      SLUICE_ASSIGN_OR_RETURN(CompiledExpr compiled, sql::Compile(k, fields));
      impl->lookup_keys.push_back(std::move(compiled));
    }
    impl->base_columns.resize(ViewPlan::kInputColumns);
    impl->nulls.resize(static_cast<size_t>(plan.extra_columns));
  }
  if (plan.interval_join) {
    const sql::IntervalJoinSpec& spec = *plan.interval_join;
    for (int side = 0; side < 2; ++side) {
      for (const sql::BoundExpr& k : spec.keys[side]) {
        SLUICE_ASSIGN_OR_RETURN(CompiledExpr compiled, sql::Compile(k, fields));
        impl->side_keys[side].push_back(std::move(compiled));
      }
      if (spec.side_filter[side]) {
        SLUICE_ASSIGN_OR_RETURN(CompiledExpr compiled,
                                sql::Compile(*spec.side_filter[side], fields));
        impl->side_filter[side] = std::move(compiled);
      }
      for (const sql::FieldPath& path : spec.side_paths[side])
        impl->side_slots[side].push_back(path.empty() ? -1 : fields.Add(path));
    }
    impl->row.resize(static_cast<size_t>(ViewPlan::kInputColumns + plan.extra_columns));
    impl->partition_max.assign(std::max<uint32_t>(partitions, 1),
                               std::numeric_limits<int64_t>::min());
    impl->joined.resize(static_cast<size_t>(plan.extra_columns));
  }
  return std::unique_ptr<ViewOperator>(new ViewOperator(std::move(impl)));
}

const sql::ViewPlan& ViewOperator::plan() const {
  return impl_->plan;
}

DropReason ViewOperator::Add(std::span<const sql::Value> fields, int64_t event_time_micros,
                             uint32_t partition) {
  Impl& s = *impl_;
  if (s.plan.lookup) return s.AddLookup(fields, event_time_micros, partition);
  if (s.plan.interval_join) {
    // A pair whose window was closed or purged is counted in dropped_events(); the events
    // themselves were not refused (each may still pair later), so none is a late event.
    s.AddInterval(fields, event_time_micros, partition);
    return DropReason::kNone;
  }
  return s.aggregator->Add(fields, event_time_micros, {}, partition);
}

void ViewOperator::SetPartitionActive(uint32_t partition, bool active) {
  impl_->aggregator->SetPartitionActive(partition, active);
}

void ViewOperator::SetQuietTime(int64_t micros) {
  impl_->aggregator->SetQuietTime(micros);
}

int64_t ViewOperator::last_event_time() const {
  return impl_->aggregator->last_event_time();
}

void ViewOperator::TakeChanges(std::vector<store::RowChange>& out) {
  impl_->aggregator->TakeChanges(out);
}

void ViewOperator::TakeCheckpointChanges(std::vector<std::pair<std::string, std::string>>& out) {
  Impl& s = *impl_;
  if (!s.plan.interval_join) {
    s.aggregator->TakeCheckpointChanges(out);
    return;
  }
  const size_t first = out.size();
  s.aggregator->TakeCheckpointChanges(out);
  for (size_t i = first; i < out.size(); ++i) out[i].first.insert(0, 1, 'a');
  for (std::string& k : s.purged) out.emplace_back(std::move(k), std::string());
  s.purged.clear();
  for (int side = 0; side < 2; ++side) {
    Side& sd = s.sides[side];
    for (uint64_t seq : sd.pending) {
      auto it = sd.entries.find(seq);
      if (it == sd.entries.end()) continue;  // purged before it was ever checkpointed
      it->second.checkpointed = true;
      out.emplace_back(Impl::EntryKey(side, seq), s.Serialize(it->second));
    }
    sd.pending.clear();
  }
}

std::string ViewOperator::Meta() const {
  const Impl& s = *impl_;
  if (!s.plan.interval_join) return s.aggregator->Meta();
  std::string out(1, kMetaFormat);
  const std::string inner = s.aggregator->Meta();
  PutBig(out, inner.size());
  out += inner;
  PutBig(out, s.partition_max.size());
  for (int64_t m : s.partition_max) PutBig(out, static_cast<uint64_t>(m));
  PutBig(out, s.next_seq);
  return out;
}

Status ViewOperator::Restore(const std::map<std::string, std::string>& state,
                             std::string_view meta) {
  Impl& s = *impl_;
  if (!s.plan.interval_join) return s.aggregator->Restore(state, meta);
  const auto corrupt = [&]() {
    return Status::Corruption(fmt::format("view {}: malformed join checkpoint", s.plan.name));
  };
  std::string_view inner;
  if (!meta.empty()) {
    if (meta[0] != kMetaFormat) return corrupt();
    meta.remove_prefix(1);
    uint64_t size = 0, partitions = 0, next_seq = 0;
    if (!GetBig(meta, size) || size > meta.size()) return corrupt();
    inner = meta.substr(0, size);
    meta.remove_prefix(size);
    if (!GetBig(meta, partitions) || partitions > meta.size() / 8) return corrupt();
    s.partition_max.assign(partitions, 0);
    for (int64_t& m : s.partition_max) {
      uint64_t u = 0;
      if (!GetBig(meta, u)) return corrupt();
      m = static_cast<int64_t>(u);
    }
    if (!GetBig(meta, next_seq)) return corrupt();
    s.next_seq = next_seq;
  }
  std::map<std::string, std::string> groups;
  for (const auto& [k, v] : state) {
    if (!k.empty() && k[0] == 'a') {
      groups.emplace(k.substr(1), v);
    } else if (!k.empty() && k[0] == 'j') {
      if (!s.Deserialize(k, v)) return corrupt();
    } else {
      return corrupt();
    }
  }
  return s.aggregator->Restore(groups, inner);
}

void ViewOperator::SetStateReader(Aggregator::StateReader reader) {
  Impl& s = *impl_;
  if (!s.plan.interval_join) {
    s.aggregator->SetStateReader(std::move(reader));
    return;
  }
  // An interval join's checkpoint keys its groups with a leading 'a'.
  Aggregator::StateReader prefixed;
  prefixed.read = [read = reader.read](std::string_view group_key) {
    std::string key(1, 'a');
    key.append(group_key);
    return read(key);
  };
  prefixed.scan = [scan = reader.scan](std::string_view prefix,
                                       std::vector<std::pair<std::string, std::string>>& out) {
    std::string key(1, 'a');
    key.append(prefix);
    const size_t first = out.size();
    Status st = scan(key, out);
    for (size_t i = first; i < out.size(); ++i) out[i].first.erase(0, 1);
    return st;
  };
  s.aggregator->SetStateReader(std::move(prefixed));
}

std::map<std::string, std::string> ViewOperator::Rows() {
  return impl_->aggregator->Rows();
}

uint64_t ViewOperator::reloaded_groups() const {
  return impl_->aggregator->reloaded_groups();
}

int64_t ViewOperator::watermark() const {
  return impl_->aggregator->watermark();
}
size_t ViewOperator::group_count() const {
  return impl_->aggregator->group_count();
}
uint64_t ViewOperator::late_events() const {
  return impl_->aggregator->late_events();
}
uint64_t ViewOperator::dropped_events() const {
  return impl_->aggregator->dropped_events();
}
uint64_t ViewOperator::errors() const {
  return impl_->aggregator->errors() + impl_->errors;
}
uint64_t ViewOperator::lookup_misses() const {
  return impl_->misses;
}
size_t ViewOperator::buffered_events() const {
  return impl_->sides[0].entries.size() + impl_->sides[1].entries.size();
}
uint64_t ViewOperator::joined_rows() const {
  return impl_->pairs;
}

}  // namespace sluice::stream
