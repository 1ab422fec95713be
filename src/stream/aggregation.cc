#include "stream/aggregation.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "base/json_writer.h"
#include "base/time.h"
#include "sql/functions.h"
#include "stream/sketches.h"
#include "stream/watermarks.h"

namespace sluice::stream {
namespace {

using sql::AggregateKind;
using sql::CompiledExpr;
using sql::Type;
using sql::Value;
using sql::ViewPlan;

// ---- Encodings --------------------------------------------------------------------------------
//
// Group keys: per GROUP BY key a type tag and the value, then (windowed plans) the window start;
// the same string is the group's hash-map key, its view row key and its checkpoint key. The
// encoding preserves order within a type (so a view's rows are listed by key, then window) and
// is self-delimiting: integers and doubles as 8 big-endian bytes with the sign flipped, text
// with 0x00 escaped as 0x00 0xFF and terminated by 0x00 0x00.

void PutOrdered(std::string& out, uint64_t u) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(u & 0xFF);
    u >>= 8;
  }
  out.append(buf, 8);
}

uint64_t GetOrdered(const char* p) {
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<unsigned char>(p[i]);
  return u;
}

void PutOrderedInt(std::string& out, int64_t v) {
  PutOrdered(out, static_cast<uint64_t>(v) ^ (uint64_t{1} << 63));
}

int64_t GetOrderedInt(const char* p) {
  return static_cast<int64_t>(GetOrdered(p) ^ (uint64_t{1} << 63));
}

void EncodeValue(std::string& out, const Value& v) {
  out += static_cast<char>(v.type);
  switch (v.type) {
    case Type::kBoolean:
      out += v.boolean ? '\1' : '\0';
      return;
    case Type::kBigint:
    case Type::kTimestamp:
    case Type::kDate:
    case Type::kInterval:
      PutOrderedInt(out, v.integer);
      return;
    case Type::kDouble: {
      double d = v.real == 0 ? 0.0 : v.real;  // -0.0 groups with 0.0
      if (d != d) d = std::numeric_limits<double>::quiet_NaN();
      uint64_t bits;
      std::memcpy(&bits, &d, 8);
      bits = (bits >> 63) ? ~bits : bits ^ (uint64_t{1} << 63);
      PutOrdered(out, bits);
      return;
    }
    case Type::kVarchar:
    case Type::kJson: {
      const std::string_view s = v.str();
      size_t start = 0;
      for (size_t zero = s.find('\0'); zero != std::string_view::npos; zero = s.find('\0', start)) {
        out.append(s.data() + start, zero - start);
        out += '\0';
        out += '\xFF';
        start = zero + 1;
      }
      out.append(s.data() + start, s.size() - start);
      out += '\0';
      out += '\0';
      return;
    }
    case Type::kNull:
    case Type::kAny:
      return;
  }
}

// Decodes one value written by EncodeValue from `in`, advancing it; text goes to `text` (which
// must have room: decoded text is never longer than its encoding).
bool DecodeValue(std::string_view& in, Value& v, char*& text) {
  if (in.empty()) return false;
  const auto type = static_cast<Type>(static_cast<uint8_t>(in[0]));
  in.remove_prefix(1);
  switch (type) {
    case Type::kNull:
      v = Value();
      return true;
    case Type::kBoolean:
      if (in.empty()) return false;
      v = Value::Boolean(in[0] != 0);
      in.remove_prefix(1);
      return true;
    case Type::kBigint:
    case Type::kTimestamp:
    case Type::kDate:
    case Type::kInterval:
      if (in.size() < 8) return false;
      v = Value::Bigint(GetOrderedInt(in.data()));
      v.type = type;
      in.remove_prefix(8);
      return true;
    case Type::kDouble: {
      if (in.size() < 8) return false;
      uint64_t bits = GetOrdered(in.data());
      bits = (bits >> 63) ? bits ^ (uint64_t{1} << 63) : ~bits;
      double d;
      std::memcpy(&d, &bits, 8);
      v = Value::Double(d);
      in.remove_prefix(8);
      return true;
    }
    case Type::kVarchar:
    case Type::kJson: {
      char* start = text;
      size_t i = 0;
      for (;;) {
        if (i >= in.size()) return false;
        if (in[i] != '\0') {
          *text++ = in[i++];
          continue;
        }
        if (i + 1 >= in.size()) return false;
        if (in[i + 1] == '\0') break;
        if (in[i + 1] != '\xFF') return false;
        *text++ = '\0';
        i += 2;
      }
      const std::string_view s(start, static_cast<size_t>(text - start));
      v = type == Type::kJson ? Value::Json(s) : Value::Varchar(s);
      in.remove_prefix(i + 2);
      return true;
    }
    case Type::kAny:
      return false;
  }
  return false;
}

// Little-endian fixed-width fields of serialized accumulators.
template <typename T>
void PutRaw(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <typename T>
bool GetRaw(std::string_view& in, T& v) {
  if (in.size() < sizeof v) return false;
  std::memcpy(&v, in.data(), sizeof v);
  in.remove_prefix(sizeof v);
  return true;
}

// Format 1 had no event time, HyperLogLog or quantile sketch (it is still read).
constexpr char kStateFormat = 2;
// Meta format 1 held the largest event time over all partitions (it is still read); 2 holds
// the per-partition watermarks (watermarks.h).
constexpr char kLegacyMetaFormat = 1;
constexpr char kMetaFormat = 2;
// approx_count_distinct is exact up to this many distinct values: the set is smaller than a
// HyperLogLog's 4 KiB registers until then, and small counts are exactly right.
constexpr size_t kExactDistinctLimit = 64;

// ---- Groups -----------------------------------------------------------------------------------

// One aggregate's running state. Fields unused by a kind stay zero.
struct Accumulator {
  int64_t count = 0;  // rows (count(*)), non-NULL values (count, sum, avg)
  __int128 int_sum = 0;
  double double_sum = 0;
  bool has_double = false;
  Value extreme;     // min / max / first_value / last_value; its text lives in `text`
  std::string text;  // (a Value holding text never owns it)
  int64_t time = 0;  // first_value / last_value: the event time of `extreme`
  std::unique_ptr<std::unordered_set<std::string>> distinct;  // encoded values
  std::unique_ptr<HyperLogLog> hll;        // approx_count_distinct past the exact limit
  std::unique_ptr<QuantileSketch> sketch;  // approx_percentile
};

struct Group;
// SESSION: sessions by (a lower bound of) their end; see "Sessions" in Aggregator::Impl.
using SessionIndex = std::multimap<int64_t, Group*>;

struct Group {
  const std::string* key = nullptr;  // the hash map's key (node-based map: stable)
  std::unique_ptr<char[]> text;      // the text of `keys`, decoded from the key
  std::vector<Value> keys;
  int64_t window_start = 0;
  std::unique_ptr<Accumulator[]> acc;
  bool touched = false;       // changed since the last TakeChanges()
  bool dirty = false;         // changed since the last TakeCheckpointChanges()
  bool in_view = false;       // the view holds this group's row
  bool closed = false;        // on_close: the window closed (its row was emitted)
  bool indexed = false;       // SESSION: `index_entry` is in a SessionIndex
  bool retired = false;       // SESSION: left the state (merged away, purged or expired)
  bool expired = false;       // SESSION: left memory only; its checkpoint entry stays
  bool listed_final = false;  // TUMBLE / HOP with retention: its key is in final_windows
  int64_t session_end = 0;    // SESSION: the window end (last event + gap)
  SessionIndex::iterator index_entry;
};

// a + b, saturating: a session's end plus lateness or retention must not wrap around.
int64_t SatAdd(int64_t a, int64_t b) {
  int64_t sum;
  if (__builtin_add_overflow(a, b, &sum))
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  return sum;
}

struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

bool IsTrue(const Value& v) {
  return v.type == Type::kBoolean && v.boolean;
}

// sum(): NULL without values; a BIGINT while the exact sum fits, else a DOUBLE.
Value SumValue(const Accumulator& a) {
  if (a.count == 0) return Value();
  if (a.has_double) return Value::Double(static_cast<double>(a.int_sum) + a.double_sum);
  if (a.int_sum >= std::numeric_limits<int64_t>::min() &&
      a.int_sum <= std::numeric_limits<int64_t>::max())
    return Value::Bigint(static_cast<int64_t>(a.int_sum));
  return Value::Double(static_cast<double>(a.int_sum));
}

}  // namespace

struct Aggregator::Impl {
  ViewPlan plan;
  // Over the input row.
  std::optional<CompiledExpr> where;
  std::optional<CompiledExpr> time;
  std::vector<CompiledExpr> keys;
  std::vector<std::optional<CompiledExpr>> args;
  std::vector<std::optional<CompiledExpr>> filters;
  bool where_per_window = false;    // WHERE reads window_start / window_end
  bool filters_per_window = false;  // some FILTER does
  // Over the aggregated row.
  sql::FieldSet no_fields;
  std::vector<CompiledExpr> columns;
  std::optional<CompiledExpr> having;
  std::vector<std::string> column_prefixes;  // `{"name":`, `,"name":`

  sql::EvalContext ctx;
  sql::EvalContext out_ctx;
  std::unordered_map<std::string, Group, KeyHash, std::equal_to<>> groups;
  std::vector<Group*> touched;
  std::vector<Group*> dirty;
  std::vector<std::string> purged;  // keys to delete at the next checkpoint
  // TUMBLE / HOP: window start -> its groups, until the window is final (the watermark
  // reached its end + allowed_lateness). Then on_close emits them, and with a state reader
  // (SetStateReader) they leave memory once checkpointed; until then they wait in `cooling`.
  std::map<int64_t, std::vector<const std::string*>> open_windows;
  std::vector<const std::string*> cooling;  // in memory, window final (also: reloaded ones)
  // Groups leave `cooling` when checkpointed: scanned once per checkpoint, not per round.
  uint64_t checkpoints_taken = 0;
  uint64_t cooling_scanned_at = 0;
  // With retention and a state reader: window start -> the keys of its groups once the window
  // is final (in `cooling` or left memory), for the retention purge.
  std::map<int64_t, std::vector<std::string>> final_windows;
  // SetQuietTime: the wall time since the watermark last moved, and the furthest horizon the
  // retention purge has reached.
  int64_t quiet_micros = 0;
  int64_t retention_horizon = PartitionWatermarks::kNone;
  // Without a state reader, with retention: final windows' groups, kept in memory until purged.
  std::map<int64_t, std::vector<const std::string*>> kept_windows;
  StateReader state_reader;           // empty: every group stays in memory until the retention
  PartitionWatermarks watermarks{0};  // with the plan's delay once created

  // ---- Sessions (SESSION windows; see AddToSession)
  // Encoded GROUP BY keys -> that key's sessions, disjoint and sorted by start (and so by end).
  // The map's key views the key of the first session's group (no copy of it: a million keys
  // cost a million fewer allocations), so it is re-pointed when the first session changes.
  std::unordered_map<std::string_view, std::vector<Group*>, KeyHash, std::equal_to<>> sessions;
  // on_close: the sessions not closed yet. Entries are lazy: an entry's end may be below the
  // session's (ends only grow), so a due entry is checked and re-filed under the current end.
  SessionIndex close_index;
  // The sessions due to leave the state: purged past the retention, or (on_close without
  // retention) expired from memory once no event can reach them any more.
  SessionIndex expire_index;
  // Groups that left the state while touched / dirty still point at them; freed once neither
  // does (so leaving costs O(1) instead of a search of those lists).
  std::vector<std::unordered_map<std::string, Group, KeyHash, std::equal_to<>>::node_type>
      graveyard;
  std::vector<std::string> retired_rows;  // view rows to delete at the next TakeChanges()
  // Rows of groups restored without entering memory (see Restore()).
  std::map<std::string, std::string> restored_rows;
  DropReason drop = DropReason::kNone;  // of the event being added

  // Per-event scratch space: the input row's columns (kInputColumns, then the joined ones).
  std::vector<Value> input;
  std::vector<Value> arg_values;
  std::vector<char> filter_passed;
  std::string key;
  std::string scratch;
  std::string scratch_row;
  std::string decode_buffer;  // Deserialize(): decoded text, copied out before the next use
  std::vector<Value> aggregated;

  uint64_t late = 0;
  uint64_t dropped = 0;
  uint64_t reloaded = 0;
  uint64_t errors = 0;
  uint64_t filtered = 0;

  int64_t Watermark() const { return watermarks.watermark(); }

  sql::Row InputRow(std::span<const Value> fields) const { return sql::Row{fields, input}; }

  // nullptr: the group had left memory and could not be read back (the event is dropped).
  Group* FindOrCreate(int64_t window_start) {
    auto it = groups.find(std::string_view(key));
    if (it != groups.end()) [[likely]]
      return &it->second;
    return CreateOrReload(window_start);
  }

  // Off the per-event path (FindOrCreate stays small enough to inline).
  [[gnu::noinline]] Group* CreateOrReload(int64_t window_start) {
    if (HasReader() && IsTumbleOrHop() && WindowFinal(window_start)) return Reload(window_start);
    return CreateGroup(key, window_start, /*closed=*/false);
  }

  // An event for a final window whose group is not in memory: the group left memory (read
  // it back) or never existed (a new group). Either way it waits in `cooling` to leave again.
  Group* Reload(int64_t window_start) {
    sluice::Result<std::optional<std::string>> stored = state_reader.read(key);
    Group* g = stored.ok() ? NewGroup(key, window_start, /*closed=*/false) : nullptr;
    if (g != nullptr && stored->has_value() && !Deserialize(**stored, *g)) {
      groups.erase(key);
      g = nullptr;
    }
    if (g == nullptr) {
      Drop(DropReason::kStateUnavailable);
      return nullptr;
    }
    if (stored->has_value()) {
      ++reloaded;
      g->in_view = RowJson(*g, scratch_row);
      g->listed_final = plan.retention_micros.has_value();  // listed when it first cooled
    }
    Cool(*g);
    return g;
  }

  // `g`'s window is final: it waits in `cooling` to leave memory, and is listed for the
  // retention purge.
  void Cool(Group& g) {
    cooling.push_back(g.key);
    if (plan.retention_micros && !g.listed_final) {
      final_windows[g.window_start].push_back(*g.key);
      g.listed_final = true;
    }
  }

  // Adds a group for `group_key` (an encoded key), decoding its key values; nullptr when the key
  // does not decode (only a corrupt checkpoint has such keys).
  Group* CreateGroup(const std::string& group_key, int64_t window_start, bool closed) {
    Group* g = NewGroup(group_key, window_start, closed);
    if (g != nullptr && IsTumbleOrHop()) open_windows[window_start].push_back(g->key);
    return g;
  }

  // CreateGroup() without entering the group in open_windows.
  Group* NewGroup(const std::string& group_key, int64_t window_start, bool closed) {
    auto [it, inserted] = groups.try_emplace(group_key);
    Group& g = it->second;
    g.text = std::make_unique<char[]>(group_key.size() + 1);
    g.keys.resize(plan.keys.size());
    std::string_view in = group_key;
    char* text = g.text.get();
    for (Value& v : g.keys) {
      if (!DecodeValue(in, v, text)) {
        groups.erase(it);
        return nullptr;
      }
    }
    g.key = &it->first;
    g.window_start = window_start;
    g.closed = closed;
    g.acc = std::make_unique<Accumulator[]>(plan.aggregates.size());
    return &g;
  }

  bool HasReader() const { return static_cast<bool>(state_reader.read); }

  bool IsTumbleOrHop() const {
    return plan.window.kind == sql::WindowKind::kTumble ||
           plan.window.kind == sql::WindowKind::kHop;
  }

  // Whether the TUMBLE / HOP window starting at `start` is final: on_close has emitted it and
  // takes no more events; on_update still takes them (from memory, or reloaded).
  bool WindowFinal(int64_t start) const {
    return SatAdd(SatAdd(start, plan.window.size_micros), plan.allowed_lateness_micros) <=
           Watermark();
  }

  void Touch(Group& g) {
    if (!g.touched) {
      g.touched = true;
      touched.push_back(&g);
    }
    if (!g.dirty) {
      g.dirty = true;
      dirty.push_back(&g);
    }
  }

  void Accumulate(Accumulator& a, AggregateKind kind, const Value& v, int64_t t) {
    switch (kind) {
      case AggregateKind::kCountStar:
        ++a.count;
        return;
      case AggregateKind::kCount:
        if (!v.is_null()) ++a.count;
        return;
      case AggregateKind::kCountDistinct:
        if (v.is_null()) return;
        scratch.clear();
        EncodeValue(scratch, v);
        if (!a.distinct) a.distinct = std::make_unique<std::unordered_set<std::string>>();
        a.distinct->insert(scratch);
        return;
      case AggregateKind::kSum:
      case AggregateKind::kAvg:
        if (v.type == Type::kBigint) {
          a.int_sum += v.integer;
          ++a.count;
        } else if (v.type == Type::kDouble) {
          a.double_sum += v.real;
          a.has_double = true;
          ++a.count;
        }
        return;
      case AggregateKind::kMin:
      case AggregateKind::kMax: {
        if (v.is_null() || v.type == Type::kJson) return;
        if (!a.extreme.is_null()) {
          const int c = sql::CompareValues(v, a.extreme);
          if (c == sql::kIncomparable) return;
          if (kind == AggregateKind::kMin ? c >= 0 : c <= 0) return;
        }
        SetExtreme(a, v);
        return;
      }
      case AggregateKind::kApproxCountDistinct:
        if (v.is_null()) return;
        scratch.clear();
        EncodeValue(scratch, v);
        if (a.hll) {
          a.hll->AddHash(StableHash64(scratch));
          return;
        }
        if (!a.distinct) a.distinct = std::make_unique<std::unordered_set<std::string>>();
        a.distinct->insert(scratch);
        if (a.distinct->size() > kExactDistinctLimit) {
          a.hll = std::make_unique<HyperLogLog>();
          for (const std::string& encoded : *a.distinct) a.hll->AddHash(StableHash64(encoded));
          a.distinct.reset();
        }
        return;
      case AggregateKind::kApproxPercentile:
        if (v.type != Type::kBigint && v.type != Type::kDouble) return;
        if (!a.sketch) a.sketch = std::make_unique<QuantileSketch>();
        a.sketch->Add(v.type == Type::kBigint ? static_cast<double>(v.integer) : v.real);
        return;
      case AggregateKind::kFirstValue:
      case AggregateKind::kLastValue: {
        if (v.is_null() || v.type == Type::kJson) return;
        const bool first = kind == AggregateKind::kFirstValue;
        if (!a.extreme.is_null()) {
          // Earlier (first) or later (last) wins; at the same time the smaller (first) or
          // larger (last) value, so the result does not depend on arrival order.
          if (first ? t > a.time : t < a.time) return;
          if (t == a.time) {
            const int c = sql::CompareValues(v, a.extreme);
            if (c == sql::kIncomparable || (first ? c >= 0 : c <= 0)) return;
          }
        }
        SetExtreme(a, v);
        a.time = t;
        return;
      }
    }
  }

  static void SetExtreme(Accumulator& a, const Value& v) {
    if (v.type == Type::kVarchar) {
      a.text.assign(v.str());
      a.extreme = Value::Varchar(a.text);
    } else {
      a.extreme = v;
    }
  }

  Value Result(const Accumulator& a, const sql::AggregateSpec& spec) const {
    switch (spec.kind) {
      case AggregateKind::kCountStar:
      case AggregateKind::kCount:
        return Value::Bigint(a.count);
      case AggregateKind::kCountDistinct:
        return Value::Bigint(a.distinct ? static_cast<int64_t>(a.distinct->size()) : 0);
      case AggregateKind::kSum:
        return SumValue(a);
      case AggregateKind::kAvg:
        if (a.count == 0) return Value();
        return Value::Double((static_cast<double>(a.int_sum) + a.double_sum) /
                             static_cast<double>(a.count));
      case AggregateKind::kMin:
      case AggregateKind::kMax:
      case AggregateKind::kFirstValue:
      case AggregateKind::kLastValue:
        return a.extreme;
      case AggregateKind::kApproxCountDistinct:
        if (a.hll) return Value::Bigint(a.hll->Estimate());
        return Value::Bigint(a.distinct ? static_cast<int64_t>(a.distinct->size()) : 0);
      case AggregateKind::kApproxPercentile:
        if (!a.sketch) return Value();
        return Value::Double(a.sketch->Quantile(spec.fraction));
    }
    return Value();
  }

  // Adds the current event (input columns set, keys encoded into `key` up to `prefix`) to the
  // window starting at `start`.
  void AddToWindow(std::span<const Value> fields, size_t prefix, int64_t start) {
    const int64_t end = start + plan.window.size_micros;
    if (plan.emit == sql::EmitMode::kOnClose && WindowFinal(start)) {
      Drop(DropReason::kWindowClosed);
      return;
    }
    if (plan.retention_micros && end + *plan.retention_micros < RetentionHorizon()) {
      Drop(DropReason::kWindowPurged);
      return;
    }
    input[ViewPlan::kWindowStartColumn] = Value::Timestamp(start);
    input[ViewPlan::kWindowEndColumn] = Value::Timestamp(end);
    if (where_per_window && !PassesWhere(fields)) return;
    if (filters_per_window) EvaluateFilters(fields);
    key.resize(prefix);
    PutOrderedInt(key, start);
    if (Group* g = FindOrCreate(start)) AddToGroup(*g);
  }

  void Drop(DropReason reason) {
    ++dropped;
    drop = reason;
  }

  // ---- Sessions
  //
  // Every event t of a key opens the window [t, t + gap); windows of the key that overlap
  // merge. So the event joins the sessions it overlaps (start < t + gap and end > t): none, a
  // new session; one, that session grows; several (an out-of-order event bridging them), they
  // merge into one. A session's group key holds its start, so a session that starts earlier
  // (or absorbs an earlier one) moves to a new key: the old row is deleted from the view.

  bool IsSession() const { return plan.window.kind == sql::WindowKind::kSession; }

  // Whether a session that ended at `end` may leave the state: purged once its end is more than
  // the retention behind the watermark; without retention (on_close only), expired once no
  // event can reach it: an event that could (t < end) has t + gap + lateness <= watermark, so it
  // is dropped without looking for its session.
  bool SessionDue(int64_t end) const {
    if (plan.retention_micros) return SatAdd(end, *plan.retention_micros) < Watermark();
    return SatAdd(SatAdd(end, plan.window.size_micros), plan.allowed_lateness_micros) <=
           Watermark();
  }

  SessionIndex* IndexFor(const Group& g) {
    if (plan.emit == sql::EmitMode::kOnClose && !g.closed) return &close_index;
    if (plan.retention_micros || plan.emit == sql::EmitMode::kOnClose || HasReader())
      return &expire_index;
    return nullptr;  // on_update without retention nor reader: sessions are kept
  }

  void IndexSession(Group& g) {
    if (SessionIndex* index = IndexFor(g)) {
      g.index_entry = index->emplace(g.session_end, &g);
      g.indexed = true;
    }
  }

  void AddToSession(size_t prefix, int64_t t) {
    const int64_t gap = plan.window.size_micros;
    const int64_t watermark = Watermark();
    const int64_t end = SatAdd(t, gap);
    // The same rules as a window [t, t + gap) would get: too late to be added to any session.
    if (plan.emit == sql::EmitMode::kOnClose &&
        SatAdd(end, plan.allowed_lateness_micros) <= watermark) {
      Drop(DropReason::kWindowClosed);
      return;
    }
    // A session is purged once its end is more than the retention behind; an event older than
    // that could belong to such a session, so it is dropped (not opened as a new session).
    if (plan.retention_micros && SatAdd(t, *plan.retention_micros) < watermark) {
      Drop(DropReason::kWindowPurged);
      return;
    }
    key.resize(prefix);
    // on_update without retention: sessions this event may reach can have left memory.
    if (HasReader() && plan.emit == sql::EmitMode::kOnUpdate && !plan.retention_micros &&
        SatAdd(end, plan.allowed_lateness_micros) <= watermark && !ReloadSessions()) {
      Drop(DropReason::kStateUnavailable);
      return;
    }
    auto it = sessions.find(std::string_view(key));
    if (it == sessions.end()) {  // the key's first session
      PutOrderedInt(key, t);
      Group* g = CreateGroup(key, t, /*closed=*/false);
      g->session_end = end;
      sessions.try_emplace(SessionPrefix(*g), 1, g);
      IndexSession(*g);
      AddToGroup(*g);
      return;
    }
    std::vector<Group*>& list = it->second;
    const auto first = static_cast<size_t>(
        std::partition_point(list.begin(), list.end(),
                             [&](const Group* g) { return g->session_end <= t; }) -
        list.begin());
    size_t last = first;
    while (last < list.size() && list[last]->window_start < end) ++last;
    for (size_t i = first; i < last; ++i) {
      if (list[i]->closed) {  // the event would reopen a session already emitted
        Drop(DropReason::kWindowClosed);
        return;
      }
    }
    Group* target = nullptr;
    if (first == last) {
      PutOrderedInt(key, t);
      target = CreateGroup(key, t, /*closed=*/false);
      target->session_end = end;
      list.insert(list.begin() + static_cast<std::ptrdiff_t>(first), target);
      IndexSession(*target);
    } else {
      Group* head = list[first];
      const int64_t merged_end = std::max(end, list[last - 1]->session_end);
      if (t < head->window_start) {
        PutOrderedInt(key, t);
        target = CreateGroup(key, t, /*closed=*/false);
        std::swap(target->acc, head->acc);
        target->session_end = merged_end;
        RetireSession(*head, /*expire=*/false);
        list[first] = target;
        IndexSession(*target);
      } else {
        target = head;
        target->session_end = merged_end;
      }
      for (size_t i = first + 1; i < last; ++i) {
        MergeGroup(*target, *list[i]);
        RetireSession(*list[i], /*expire=*/false);
      }
      list.erase(list.begin() + static_cast<std::ptrdiff_t>(first + 1),
                 list.begin() + static_cast<std::ptrdiff_t>(last));
    }
    if (first == 0) RepointSessions(it);
    AddToGroup(*target);
  }

  // Brings back the sessions of the GROUP BY key in `key` that left memory: from the graveyard
  // when they left since the last checkpoint (newer than the store), else from the store
  // (minus the sessions in memory and those merged away since, whose delete is pending).
  // False when the store could not be read.
  bool ReloadSessions() {
    const std::string prefix = key;
    std::vector<Group*> loaded;
    for (size_t i = 0; i < graveyard.size();) {
      Group& g = graveyard[i].mapped();
      if (!g.expired || !graveyard[i].key().starts_with(prefix)) {
        ++i;
        continue;
      }
      g.retired = false;
      g.expired = false;
      auto inserted = groups.insert(std::move(graveyard[i]));
      graveyard.erase(graveyard.begin() + static_cast<std::ptrdiff_t>(i));
      loaded.push_back(&inserted.position->second);
    }
    std::vector<std::pair<std::string, std::string>> stored;
    if (!state_reader.scan(prefix, stored).ok()) return false;
    for (auto& [k, v] : stored) {
      if (k.size() < prefix.size() + 8 || groups.contains(k) ||
          std::find(purged.begin(), purged.end(), k) != purged.end())
        continue;
      Group* g = CreateGroup(k, GetOrderedInt(k.data() + k.size() - 8), /*closed=*/false);
      if (g == nullptr || !Deserialize(v, *g)) {
        if (g != nullptr) groups.erase(k);
        return false;
      }
      g->in_view = RowJson(*g, scratch_row);
      ++reloaded;
      loaded.push_back(g);
    }
    if (loaded.empty()) return true;
    auto it = sessions.find(std::string_view(prefix));
    if (it == sessions.end()) it = sessions.try_emplace(SessionPrefix(*loaded.front())).first;
    std::vector<Group*>& list = it->second;
    list.insert(list.end(), loaded.begin(), loaded.end());
    std::sort(list.begin(), list.end(),
              [](const Group* a, const Group* b) { return a->window_start < b->window_start; });
    RepointSessions(it);
    for (Group* g : loaded) IndexSession(*g);
    return true;
  }

  static std::string_view SessionPrefix(const Group& g) {
    return std::string_view(*g.key).substr(0, g.key->size() - 8);
  }

  // Makes the map's key view the key of the (possibly new) first session of its list.
  void RepointSessions(decltype(sessions)::iterator it) {
    if (it->first.data() == it->second.front()->key->data()) return;
    auto node = sessions.extract(it);
    node.key() = SessionPrefix(*node.mapped().front());
    sessions.insert(std::move(node));
  }

  // Takes `g` out of the state (the caller updates its key's session list). Merged away or
  // purged: its row leaves the view and its checkpoint entry is deleted. Expired: it only
  // leaves memory (its row and checkpoint entry stay; a dirty one is still written).
  void RetireSession(Group& g, bool expire) {
    if (g.indexed) {
      (plan.emit == sql::EmitMode::kOnClose && !g.closed ? close_index : expire_index)
          .erase(g.index_entry);
      g.indexed = false;
    }
    if (expire) {
      g.expired = true;
    } else {
      if (g.in_view) retired_rows.push_back(*g.key);
      g.in_view = false;
      purged.push_back(*g.key);
    }
    g.retired = true;
    graveyard.push_back(groups.extract(*g.key));
  }

  // Purges or expires `g`, removing it from its key's session list.
  void RemoveSession(Group& g, bool expire) {
    auto it = sessions.find(SessionPrefix(g));
    if (it != sessions.end()) {
      std::erase(it->second, &g);
      if (it->second.empty()) {
        sessions.erase(it);
      } else {
        RepointSessions(it);
      }
    }
    RetireSession(g, expire);
  }

  // Folds the accumulators of `from` into `into` (`from` is retired next).
  void MergeGroup(Group& into, Group& from) {
    for (size_t i = 0; i < plan.aggregates.size(); ++i)
      MergeAccumulator(into.acc[i], from.acc[i], plan.aggregates[i].kind);
  }

  void MergeAccumulator(Accumulator& a, Accumulator& b, AggregateKind kind) {
    switch (kind) {
      case AggregateKind::kCountStar:
      case AggregateKind::kCount:
        a.count += b.count;
        return;
      case AggregateKind::kSum:
      case AggregateKind::kAvg:
        a.count += b.count;
        a.int_sum += b.int_sum;
        a.double_sum += b.double_sum;
        a.has_double = a.has_double || b.has_double;
        return;
      case AggregateKind::kMin:
      case AggregateKind::kMax:
      case AggregateKind::kFirstValue:
      case AggregateKind::kLastValue:
        if (!b.extreme.is_null()) Accumulate(a, kind, b.extreme, b.time);
        return;
      case AggregateKind::kCountDistinct:
        MergeSets(a, b);
        return;
      case AggregateKind::kApproxCountDistinct:
        if (b.hll && !a.hll) {  // fold the exact set into the sketch
          std::swap(a.hll, b.hll);
          std::swap(a.distinct, b.distinct);
        }
        if (a.hll) {
          if (b.hll) a.hll->Merge(*b.hll);
          if (b.distinct)
            for (const std::string& v : *b.distinct) a.hll->AddHash(StableHash64(v));
          return;
        }
        MergeSets(a, b);
        if (a.distinct && a.distinct->size() > kExactDistinctLimit) {
          a.hll = std::make_unique<HyperLogLog>();
          for (const std::string& encoded : *a.distinct) a.hll->AddHash(StableHash64(encoded));
          a.distinct.reset();
        }
        return;
      case AggregateKind::kApproxPercentile:
        if (!b.sketch) return;
        if (!a.sketch) {
          a.sketch = std::move(b.sketch);
        } else {
          a.sketch->Merge(*b.sketch);
        }
        return;
    }
  }

  static void MergeSets(Accumulator& a, Accumulator& b) {
    if (!b.distinct) return;
    if (!a.distinct) {
      a.distinct = std::move(b.distinct);
      return;
    }
    if (a.distinct->size() < b.distinct->size()) std::swap(a.distinct, b.distinct);
    a.distinct->merge(*b.distinct);
  }

  // on_close: `g`'s window or session closed: its row is emitted once, and the closed flag
  // goes into the next checkpoint.
  void Close(Group& g, std::vector<store::RowChange>& out) {
    g.closed = true;
    g.touched = false;
    if (!g.dirty) {
      g.dirty = true;
      dirty.push_back(&g);
    }
    EmitRow(g, out);
  }

  // on_close: emits the sessions whose end + allowed lateness the watermark has reached.
  void CloseSessions(std::vector<store::RowChange>& out) {
    const int64_t watermark = Watermark();
    while (!close_index.empty()) {
      auto it = close_index.begin();
      if (SatAdd(it->first, plan.allowed_lateness_micros) > watermark) break;
      Group& g = *it->second;
      close_index.erase(it);
      g.indexed = false;
      if (SatAdd(g.session_end, plan.allowed_lateness_micros) > watermark) {
        IndexSession(g);  // it grew since it was filed
        continue;
      }
      Close(g, out);
      IndexSession(g);
    }
  }

  void ExpireSessions() {
    while (!expire_index.empty()) {
      auto it = expire_index.begin();
      if (!SessionDue(it->first)) break;
      Group& g = *it->second;
      expire_index.erase(it);
      g.indexed = false;
      if (!SessionDue(g.session_end)) {
        IndexSession(g);
        continue;
      }
      RemoveSession(g, /*expire=*/!plan.retention_micros);
    }
  }

  void FreeGraveyard() {
    std::erase_if(graveyard, [](const auto& node) {
      const Group& g = node.mapped();
      return !g.touched && !g.dirty;
    });
  }

  void AddToGroup(Group& g) {
    const int64_t t = input[ViewPlan::kEventTimeColumn].integer;
    for (size_t i = 0; i < plan.aggregates.size(); ++i) {
      if (filter_passed[i]) Accumulate(g.acc[i], plan.aggregates[i].kind, arg_values[i], t);
    }
    Touch(g);
  }

  bool PassesWhere(std::span<const Value> fields) {
    const Value v = where->Evaluate(InputRow(fields), ctx);
    if (!ctx.ok()) {
      ++errors;
      return false;
    }
    if (!IsTrue(v)) {
      ++filtered;
      return false;
    }
    return true;
  }

  void EvaluateFilters(std::span<const Value> fields) {
    for (size_t i = 0; i < filters.size(); ++i) {
      filter_passed[i] = !filters[i] || IsTrue(filters[i]->Evaluate(InputRow(fields), ctx));
    }
  }

  void Add(std::span<const Value> fields, int64_t record_time, std::span<const Value> joined,
           uint32_t partition) {
    std::copy(joined.begin(), joined.end(), input.begin() + ViewPlan::kInputColumns);
    int64_t t = record_time;
    if (time) {
      const Value v = time->Evaluate(InputRow(fields), ctx);
      if (!ctx.ok()) {
        ++errors;
        ctx.Reset();
        return;
      }
      if (v.type != Type::kTimestamp) {
        ++filtered;
        ctx.Reset();
        return;
      }
      t = v.integer;
    }
    if (t < Watermark()) ++late;
    watermarks.Observe(partition, t);
    input[ViewPlan::kEventTimeColumn] = Value::Timestamp(t);
    Process(fields, t);
    ctx.Reset();
  }

  void Process(std::span<const Value> fields, int64_t t) {
    if (where && !where_per_window && !PassesWhere(fields)) return;
    key.clear();
    for (const CompiledExpr& k : keys) {
      const Value v = k.Evaluate(InputRow(fields), ctx);
      if (!ctx.ok()) {
        ++errors;
        return;
      }
      EncodeValue(key, v);
    }
    for (size_t i = 0; i < args.size(); ++i)
      arg_values[i] = args[i] ? args[i]->Evaluate(InputRow(fields), ctx) : Value();
    if (!ctx.ok()) ++errors;  // the argument is NULL; the event still counts
    if (!filters_per_window) EvaluateFilters(fields);
    const size_t prefix = key.size();
    const sql::WindowSpec& w = plan.window;
    switch (w.kind) {
      case sql::WindowKind::kNone:
        AddToGroup(*FindOrCreate(0));
        return;
      case sql::WindowKind::kTumble:
        AddToWindow(fields, prefix,
                    FloorDiv(t - w.offset_micros, w.size_micros) * w.size_micros + w.offset_micros);
        return;
      case sql::WindowKind::kHop: {
        const int64_t last =
            FloorDiv(t - w.offset_micros, w.slide_micros) * w.slide_micros + w.offset_micros;
        for (int64_t start = last; start > t - w.size_micros; start -= w.slide_micros)
          AddToWindow(fields, prefix, start);
        return;
      }
      case sql::WindowKind::kSession:
        AddToSession(prefix, t);
        return;
    }
  }

  // The view row of `g` in `out`; false when HAVING rejects it.
  bool RowJson(const Group& g, std::string& out) {
    aggregated.resize(static_cast<size_t>(plan.aggregated_columns()));
    std::copy(g.keys.begin(), g.keys.end(), aggregated.begin());
    for (size_t i = 0; i < plan.aggregates.size(); ++i)
      aggregated[static_cast<size_t>(plan.aggregate_column(i))] =
          Result(g.acc[i], plan.aggregates[i]);
    if (plan.window.kind != sql::WindowKind::kNone) {
      aggregated[static_cast<size_t>(plan.window_start_column())] =
          Value::Timestamp(g.window_start);
      aggregated[static_cast<size_t>(plan.window_end_column())] =
          Value::Timestamp(IsSession() ? g.session_end : g.window_start + plan.window.size_micros);
    }
    const sql::Row row{{}, aggregated};
    if (having && !IsTrue(having->Evaluate(row, out_ctx))) {
      out_ctx.Reset();
      return false;
    }
    out.clear();
    for (size_t i = 0; i < columns.size(); ++i) {
      out += column_prefixes[i];
      sql::AppendJson(out, columns[i].Evaluate(row, out_ctx));
    }
    out += '}';
    out_ctx.Reset();
    return true;
  }

  void EmitRow(Group& g, std::vector<store::RowChange>& out) {
    std::string row;
    if (RowJson(g, row)) {
      out.push_back(
          {*g.key, std::move(row),
           g.in_view ? store::RowChange::Prior::kPresent : store::RowChange::Prior::kAbsent});
      g.in_view = true;
    } else if (g.in_view) {
      out.push_back({*g.key, std::string()});
      g.in_view = false;
    }
  }

  // TUMBLE / HOP, after the round's rows were emitted: on_close emits the windows the
  // watermark made final; with a state reader, final windows' groups leave memory once their
  // state is checkpointed (not dirty), as the pipeline can then read it back.
  void FinalizeWindows(std::vector<store::RowChange>& out) {
    const bool on_close = plan.emit == sql::EmitMode::kOnClose;
    while (!open_windows.empty() && WindowFinal(open_windows.begin()->first)) {
      auto node = open_windows.extract(open_windows.begin());
      for (const std::string* k : node.mapped()) {
        Group& g = groups.find(*k)->second;
        if (on_close && !g.closed) Close(g, out);
        if (HasReader()) Cool(g);
      }
      // Without a state reader the groups stay (for the retention purge, or for good).
      if (!HasReader() && plan.retention_micros) kept_windows.insert(std::move(node));
    }
    if (cooling_scanned_at == checkpoints_taken) return;
    cooling_scanned_at = checkpoints_taken;
    std::erase_if(cooling, [&](const std::string* k) {
      auto it = groups.find(*k);
      if (it->second.dirty || it->second.touched) return false;
      groups.erase(it);
      return true;
    });
  }

  // Whether the window starting at `start` is past the retention.
  bool PastRetention(int64_t start) const {
    return SatAdd(SatAdd(start, plan.window.size_micros), *plan.retention_micros) <
           RetentionHorizon();
  }

  // The event time the retention of windows is measured against (SetQuietTime).
  int64_t RetentionHorizon() const { return std::max(Watermark(), retention_horizon); }
  void AdvanceRetentionHorizon() {
    if (Watermark() == PartitionWatermarks::kNone) return;
    retention_horizon = std::max(retention_horizon, SatAdd(Watermark(), quiet_micros));
  }

  // Takes the in-memory group `k` out of the state: its row leaves the view, its checkpoint
  // entry is deleted.
  void PurgeGroup(const std::string& k, std::vector<store::RowChange>& out) {
    auto g = groups.find(k);
    if (g == groups.end()) {
      out.push_back({k, std::string()});  // the view ignores the delete of a row it lacks
      purged.push_back(k);
      return;
    }
    if (g->second.in_view) out.push_back({k, std::string()});
    if (g->second.touched) std::erase(touched, &g->second);
    if (g->second.dirty) std::erase(dirty, &g->second);
    std::erase(cooling, &g->first);
    purged.push_back(k);
    groups.erase(g);
  }

  void Purge(std::vector<store::RowChange>& out) {
    for (auto* windows : {&open_windows, &kept_windows}) {
      while (!windows->empty() && PastRetention(windows->begin()->first)) {
        for (const std::string* k : windows->begin()->second) PurgeGroup(std::string(*k), out);
        windows->erase(windows->begin());
      }
    }
    while (!final_windows.empty() && PastRetention(final_windows.begin()->first)) {
      for (const std::string& k : final_windows.begin()->second) PurgeGroup(k, out);
      final_windows.erase(final_windows.begin());
    }
  }

  std::string Serialize(const Group& g) const {
    std::string out;
    out += kStateFormat;
    out += static_cast<char>(g.closed ? 1 : 0);
    for (size_t i = 0; i < plan.aggregates.size(); ++i) {
      const Accumulator& a = g.acc[i];
      PutRaw(out, a.count);
      PutRaw(out, a.int_sum);
      PutRaw(out, a.double_sum);
      out += static_cast<char>(a.has_double ? 1 : 0);
      EncodeValue(out, a.extreme);
      const uint64_t n = a.distinct ? a.distinct->size() : 0;
      PutRaw(out, n);
      if (a.distinct) {
        for (const std::string& v : *a.distinct) {
          PutRaw(out, static_cast<uint32_t>(v.size()));
          out += v;
        }
      }
      PutRaw(out, a.time);
      out += static_cast<char>((a.hll ? 1 : 0) | (a.sketch ? 2 : 0));
      if (a.hll) a.hll->AppendTo(out);
      if (a.sketch) a.sketch->AppendTo(out);
    }
    if (IsSession()) PutRaw(out, g.session_end);
    return out;
  }

  bool Deserialize(std::string_view in, Group& g) {
    if (in.size() < 2 || (in[0] != kStateFormat && in[0] != 1)) return false;
    const char format = in[0];
    g.closed = in[1] != 0;
    in.remove_prefix(2);
    for (size_t i = 0; i < plan.aggregates.size(); ++i) {
      Accumulator& a = g.acc[i];
      char has_double = 0;
      if (!GetRaw(in, a.count) || !GetRaw(in, a.int_sum) || !GetRaw(in, a.double_sum) ||
          !GetRaw(in, has_double))
        return false;
      a.has_double = has_double != 0;
      if (decode_buffer.size() < in.size()) decode_buffer.resize(in.size());
      char* p = decode_buffer.data();
      Value extreme;
      if (!DecodeValue(in, extreme, p)) return false;
      SetExtreme(a, extreme);  // copies text out of `decode_buffer`
      uint64_t n = 0;
      if (!GetRaw(in, n)) return false;
      if (n > 0) a.distinct = std::make_unique<std::unordered_set<std::string>>();
      for (uint64_t j = 0; j < n; ++j) {
        uint32_t size = 0;
        if (!GetRaw(in, size) || in.size() < size) return false;
        a.distinct->emplace(in.substr(0, size));
        in.remove_prefix(size);
      }
      if (format == 1) continue;
      char sketches = 0;
      if (!GetRaw(in, a.time) || !GetRaw(in, sketches)) return false;
      if (sketches & 1) {
        a.hll = std::make_unique<HyperLogLog>();
        if (!a.hll->ReadFrom(in)) return false;
      }
      if (sketches & 2) {
        a.sketch = std::make_unique<QuantileSketch>();
        if (!a.sketch->ReadFrom(in)) return false;
      }
    }
    if (IsSession() && !GetRaw(in, g.session_end)) return false;
    return in.empty();
  }

  // The window start encoded at the end of a windowed group key.
  bool KeyWindowStart(const std::string& group_key, int64_t& start) const {
    if (plan.window.kind == sql::WindowKind::kNone) {
      start = 0;
      return true;
    }
    if (group_key.size() < 8) return false;
    start = GetOrderedInt(group_key.data() + group_key.size() - 8);
    return true;
  }
};

Aggregator::Aggregator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Aggregator::~Aggregator() = default;

Result<std::unique_ptr<Aggregator>> Aggregator::Create(const sql::ViewPlan& plan,
                                                       sql::FieldSet& fields) {
  auto impl = std::make_unique<Impl>();
  impl->plan = plan;
  impl->watermarks = PartitionWatermarks(plan.watermark_delay_micros);
  const ViewPlan& p = impl->plan;
  auto reads_window = [](const sql::BoundExpr& e) {
    std::vector<const sql::BoundExpr*> stack{&e};
    while (!stack.empty()) {
      const sql::BoundExpr* x = stack.back();
      stack.pop_back();
      if (x->kind == sql::BoundExpr::Kind::kColumn &&
          (x->column == ViewPlan::kWindowStartColumn || x->column == ViewPlan::kWindowEndColumn))
        return true;
      for (const sql::BoundExpr& arg : x->args) stack.push_back(&arg);
    }
    return false;
  };
  if (p.where) {
    SLUICE_ASSIGN_OR_RETURN(CompiledExpr where, sql::Compile(*p.where, fields));
    impl->where = std::move(where);
    impl->where_per_window = reads_window(*p.where);
  }
  if (p.time) {
    SLUICE_ASSIGN_OR_RETURN(CompiledExpr time, sql::Compile(*p.time, fields));
    impl->time = std::move(time);
  }
  for (const sql::BoundExpr& k : p.keys) {
    SLUICE_ASSIGN_OR_RETURN(CompiledExpr key, sql::Compile(k, fields));
    impl->keys.push_back(std::move(key));
  }
  for (const sql::AggregateSpec& a : p.aggregates) {
    std::optional<CompiledExpr> arg, filter;
    if (a.argument) {
      SLUICE_ASSIGN_OR_RETURN(CompiledExpr compiled, sql::Compile(*a.argument, fields));
      arg = std::move(compiled);
    }
    if (a.filter) {
      SLUICE_ASSIGN_OR_RETURN(CompiledExpr compiled, sql::Compile(*a.filter, fields));
      filter = std::move(compiled);
      impl->filters_per_window |= reads_window(*a.filter);
    }
    impl->args.push_back(std::move(arg));
    impl->filters.push_back(std::move(filter));
  }
  for (size_t i = 0; i < p.columns.size(); ++i) {
    SLUICE_ASSIGN_OR_RETURN(CompiledExpr column, sql::Compile(p.columns[i].expr, impl->no_fields));
    impl->columns.push_back(std::move(column));
    std::string prefix = i == 0 ? "{" : ",";
    AppendJsonString(prefix, p.columns[i].name);
    prefix += ':';
    impl->column_prefixes.push_back(std::move(prefix));
  }
  if (p.having) {
    SLUICE_ASSIGN_OR_RETURN(CompiledExpr having, sql::Compile(*p.having, impl->no_fields));
    impl->having = std::move(having);
  }
  if (impl->no_fields.size() != 0)
    return Status::Internal("a view's output columns read event fields: a planner bug");
  impl->input.resize(static_cast<size_t>(ViewPlan::kInputColumns + p.extra_columns));
  impl->arg_values.resize(p.aggregates.size());
  impl->filter_passed.assign(p.aggregates.size(), 1);
  return std::unique_ptr<Aggregator>(new Aggregator(std::move(impl)));
}

const sql::ViewPlan& Aggregator::plan() const {
  return impl_->plan;
}

DropReason Aggregator::Add(std::span<const sql::Value> fields, int64_t event_time_micros,
                           std::span<const sql::Value> joined_columns, uint32_t partition) {
  impl_->drop = DropReason::kNone;
  impl_->Add(fields, event_time_micros, joined_columns, partition);
  return impl_->drop;
}

void Aggregator::ObserveEventTime(int64_t event_time_micros, uint32_t partition) {
  Impl& s = *impl_;
  if (event_time_micros < s.Watermark()) ++s.late;
  s.watermarks.Observe(partition, event_time_micros);
}

void Aggregator::SetPartitionActive(uint32_t partition, bool active) {
  impl_->watermarks.SetActive(partition, active);
}

void Aggregator::SetQuietTime(int64_t micros) {
  impl_->quiet_micros = std::max<int64_t>(micros, 0);
}

void AppendKeyValue(std::string& key, const sql::Value& value) {
  EncodeValue(key, value);
}
void AppendKeyWindowStart(std::string& key, int64_t window_start_micros) {
  PutOrderedInt(key, window_start_micros);
}

std::string_view DropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kNone:
      return "none";
    case DropReason::kWindowClosed:
      return "window_closed";
    case DropReason::kWindowPurged:
      return "past_retention";
    case DropReason::kStateUnavailable:
      return "state_unavailable";
  }
  return "none";
}

void Aggregator::TakeChanges(std::vector<store::RowChange>& out) {
  Impl& s = *impl_;
  const bool on_close = s.plan.emit == sql::EmitMode::kOnClose;
  for (Group* g : s.touched) {
    g->touched = false;
    if (!on_close && !g->retired) s.EmitRow(*g, out);
  }
  s.touched.clear();
  if (s.IsSession()) {
    if (on_close) s.CloseSessions(out);
    s.ExpireSessions();
    for (std::string& k : s.retired_rows) out.push_back({std::move(k), std::string()});
    s.retired_rows.clear();
    s.FreeGraveyard();
    return;
  }
  if (s.IsTumbleOrHop()) s.FinalizeWindows(out);
  if (s.plan.retention_micros) {
    s.AdvanceRetentionHorizon();
    s.Purge(out);
  }
}

void Aggregator::TakeCheckpointChanges(std::vector<std::pair<std::string, std::string>>& out) {
  Impl& s = *impl_;
  for (std::string& k : s.purged) out.emplace_back(std::move(k), std::string());
  s.purged.clear();
  for (Group* g : s.dirty) {
    g->dirty = false;
    if (!g->retired || g->expired) out.emplace_back(*g->key, s.Serialize(*g));
  }
  s.dirty.clear();
  ++s.checkpoints_taken;
  s.FreeGraveyard();
}

std::string Aggregator::Meta() const {
  std::string out;
  out += kMetaFormat;
  impl_->watermarks.Encode(out);
  return out;
}

Status Aggregator::Restore(const std::map<std::string, std::string>& state, std::string_view meta) {
  Impl& s = *impl_;
  if (!meta.empty()) {
    const char format = meta[0];
    meta.remove_prefix(1);
    if (format == kLegacyMetaFormat) {
      int64_t max_event_time = 0;
      if (!GetRaw(meta, max_event_time))
        return Status::Corruption(fmt::format("view {}: truncated checkpoint", s.plan.name));
      s.watermarks.RestoreLegacy(max_event_time);
    } else if (format == kMetaFormat) {
      if (!s.watermarks.Decode(meta))
        return Status::Corruption(fmt::format("view {}: truncated checkpoint", s.plan.name));
    } else {
      return Status::Corruption(fmt::format("view {}: unknown checkpoint format", s.plan.name));
    }
  }
  s.groups.reserve(state.size());
  for (const auto& [k, v] : state) {
    int64_t start = 0;
    if (!s.KeyWindowStart(k, start))
      return Status::Corruption(fmt::format("view {}: malformed group key", s.plan.name));
    // The group's closed flag decides whether it waits for its window to close: read it first.
    const bool closed = v.size() >= 2 && v[1] != 0;
    const bool emitted = closed || s.plan.emit == sql::EmitMode::kOnUpdate;
    if (s.HasReader() && s.IsTumbleOrHop() && emitted && s.WindowFinal(start)) {
      // A final window's group: its row is the view's, its state stays on disk until an
      // event needs it.
      Group* g = s.NewGroup(k, start, closed);
      if (g == nullptr || !s.Deserialize(v, *g))
        return Status::Corruption(fmt::format("view {}: malformed state of a group", s.plan.name));
      std::string row;
      if (s.RowJson(*g, row)) s.restored_rows.emplace(k, std::move(row));
      if (s.plan.retention_micros) s.final_windows[start].push_back(k);
      s.groups.erase(k);
      continue;
    }
    Group* g = s.CreateGroup(k, start, closed);
    if (g == nullptr || !s.Deserialize(v, *g))
      return Status::Corruption(fmt::format("view {}: malformed state of a group", s.plan.name));
    if (!s.IsSession()) continue;
    const bool may_expire = closed || (s.plan.emit == sql::EmitMode::kOnUpdate && s.HasReader());
    if (may_expire && !s.plan.retention_micros && s.SessionDue(g->session_end)) {
      // Expired before the checkpoint: its row is the view's, its group stays on disk only.
      std::string row;
      if (s.RowJson(*g, row)) s.restored_rows.emplace(k, std::move(row));
      s.groups.erase(k);
      continue;
    }
    // The state is in key order: a key's sessions arrive by start.
    s.sessions.try_emplace(Impl::SessionPrefix(*g)).first->second.push_back(g);
    s.IndexSession(*g);
  }
  return Status::Ok();
}

std::map<std::string, std::string> Aggregator::Rows() {
  Impl& s = *impl_;
  std::map<std::string, std::string> rows;
  const bool on_close = s.plan.emit == sql::EmitMode::kOnClose;
  // In key order, so that each row goes at the end of the map (a million rows after a restart:
  // no search through the map per row).
  std::vector<std::pair<const std::string*, Group*>> ordered;
  ordered.reserve(s.groups.size());
  for (auto& [k, g] : s.groups) ordered.emplace_back(&k, &g);
  std::sort(ordered.begin(), ordered.end(),
            [](const auto& a, const auto& b) { return *a.first < *b.first; });
  std::string row;
  for (auto& [k, g] : ordered) {
    g->in_view = (!on_close || g->closed) && s.RowJson(*g, row);
    if (g->in_view) rows.emplace_hint(rows.end(), *k, row);
  }
  rows.merge(s.restored_rows);
  s.restored_rows.clear();
  return rows;
}

int64_t Aggregator::last_event_time() const {
  return impl_->input[ViewPlan::kEventTimeColumn].integer;
}
int64_t Aggregator::watermark() const {
  return impl_->Watermark();
}
size_t Aggregator::group_count() const {
  return impl_->groups.size();
}
uint64_t Aggregator::reloaded_groups() const {
  return impl_->reloaded;
}
void Aggregator::SetStateReader(StateReader reader) {
  impl_->state_reader = std::move(reader);
}
uint64_t Aggregator::late_events() const {
  return impl_->late;
}
uint64_t Aggregator::dropped_events() const {
  return impl_->dropped;
}
uint64_t Aggregator::errors() const {
  return impl_->errors;
}
uint64_t Aggregator::filtered_events() const {
  return impl_->filtered;
}

}  // namespace sluice::stream
