// The single-pass validator. See json_schema.h for the design; in short, Walker reads the event
// once with simdjson on-demand and, at every value, evaluates the set of schema nodes that
// apply to it ("instances" of a frame), handing each field or item down to the union of the
// child subschemas those nodes assign to it.
//
// Three paths read values, each giving the same results as the first would:
// * the general path (Evaluate*, EvaluateChild): frames of instances, folded by Fold();
// * the frameless path (EvaluateSimple*, EvaluateMember): a value whose set is one simple node
//   (Node::simple, possibly with Node::conditions) has no instances: its result is its first
//   error, and its fields and items stay on this path unless a child needs a frame;
// * the consuming path (Consume*): values no node constrains are only read, with duplicate-key
//   detection; this is all the work for streams without a schema.
// The hot loops of the last two are where an event's time goes; their invariants are stated
// where they are defined.
//
// Per-event state lives in vectors used as stacks (a frame pushes on entry and truncates on
// exit) so that a warm validator does not allocate. Errors are recorded as small structs and
// turned into a message only when the event is rejected.
#include <algorithm>
#include <bit>
#include <cmath>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "schema/json_schema_internal.h"

namespace sluice::schema {

using namespace internal;
using simdjson::error_code;
namespace ondemand = simdjson::ondemand;

namespace {

constexpr uint32_t kNoError = std::numeric_limits<uint32_t>::max();

// kNoCopy: values of fields and items are used in place inside simdjson's result objects.
// Copying them out (`result.get(value)`) makes GCC reload with one vector load what it just
// stored field by field, a store-forwarding stall on every value that cost ~30% of the walk.

enum class ErrorKind : uint8_t {
  kType,
  kEnum,
  kMinimum,
  kMaximum,
  kExclusiveMinimum,
  kExclusiveMaximum,
  kMultipleOf,
  kMinLength,
  kMaxLength,
  kPattern,
  kFormat,
  kRequired,
  kPropertyNotAllowed,
  kFalseSchema,
  kMinProperties,
  kMaxProperties,
  kPropertyName,
  kMinItems,
  kMaxItems,
  kUniqueItems,
  kAnyOf,
  kOneOfNone,
  kOneOfMany,
  kNot,
  kDuplicateKey,
  kTooDeep,
};

// A link of the path from the root to the value being read; lives on the C++ stack, and is
// copied into the error's path only when something fails.
struct PathLink {
  const PathLink* parent;
  std::string_view key;
  int64_t index;  // array index, or -1 for an object key
};

struct PathSegment {
  std::string_view key;
  int64_t index;
};

struct Error {
  ErrorKind kind;
  NodeId node;
  uint32_t path_begin;
  uint32_t path_size;
  JsonType value_type;
  std::string_view text;  // the value (string unescaped, other scalars as written) or a key
  uint64_t count = 0;     // a length, a count or an index
  uint64_t count2 = 0;
  uint64_t count3 = 0;
  uint32_t cause = kNoError;  // a nested error: closest anyOf/oneOf branch, property name
};

struct Scalar {
  JsonType type = JsonType::kNull;
  bool boolean = false;
  double number = 0;
  std::string_view text;
};

// JavaScript's Number.isInteger for the finite doubles JSON numbers are, without a libm call
// (std::trunc is one without SSE4.1): from 2^52 up every double is an integer.
inline bool IsIntegral(double x) {
  return std::fabs(x) >= 0x1p52 || x == static_cast<double>(static_cast<int64_t>(x));
}

// The TypeBit mask of a scalar: a number with no fractional part is also an integer.
inline uint8_t TypeBits(const Scalar& s) {
  switch (s.type) {
    case JsonType::kString:
      return kStringBit;
    case JsonType::kNumber:
      return IsIntegral(s.number) ? kNumberBit | kIntegerBit : kNumberBit;
    case JsonType::kBoolean:
      return kBooleanBit;
    default:
      return kNullBit;
  }
}

struct Instance {
  NodeId node;
  uint32_t error;
  uint32_t required_hits = 0;  // keys of the node's `required` seen in the current object
};

struct Edge {
  uint32_t parent;  // instance index in the parent frame
  NodeId child;
};

// Reads a scalar only for simdjson to validate the token.
[[gnu::always_inline]] inline error_code ConsumeScalar(ondemand::value& v, ondemand::json_type t) {
  switch (t) {
    case ondemand::json_type::string: {
      std::string_view unused;
      return v.get_string().get(unused);
    }
    case ondemand::json_type::number: {
      double unused;
      return v.get_double().get(unused);
    }
    case ondemand::json_type::boolean: {
      bool unused;
      return v.get_bool().get(unused);
    }
    default: {
      bool is_null = false;
      SIMDJSON_TRY(v.is_null().get(is_null));
      return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
}

// Bit i set when byte i of the 16 at `p` is a quote or a backslash (bits above the first such
// byte may be spurious without SSE2: borrows propagate upwards). `p` + 16 must be readable.
inline uint32_t QuotesOrBackslashes(const char* p) {
#if defined(__SSE2__)
  const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return static_cast<uint32_t>(_mm_movemask_epi8(_mm_or_si128(
      _mm_cmpeq_epi8(chunk, _mm_set1_epi8('"')), _mm_cmpeq_epi8(chunk, _mm_set1_epi8('\\')))));
#else
  auto equal = [](uint64_t word, uint64_t c) {  // the high bit of each byte equal to c
    const uint64_t x = word ^ (0x0101010101010101ull * c);
    return (x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull;
  };
  uint32_t bits = 0;
  for (int half = 0; half < 2; ++half) {
    uint64_t m = equal(Load64(p + 8 * half), '"') | equal(Load64(p + 8 * half), '\\');
    for (; m != 0; m &= m - 1) bits |= 1u << (8 * half + std::countr_zero(m) / 8);
  }
  return bits;
#endif
}

// The key of `field`. simdjson's unescaped_key() copies every key into its string buffer, with
// a call through the implementation's vtable; a key without escapes reads the same in the input,
// so it is used in place, its end found a word at a time. Safe: the key is a complete string
// (stage 1 checked that every string is closed and holds no raw control character, so unescaping
// could not fail on it either), and the record is followed by SIMDJSON_PADDING bytes, so no
// word load leaves the buffer. The view lives as long as the record, like simdjson's.
static_assert(std::endian::native == std::endian::little, "Load64 reads the first byte lowest");
[[gnu::always_inline]] inline error_code ReadKey(ondemand::field& field, std::string_view& key) {
  const char* p = field.key().raw();
  for (size_t n = 0;; n += 16) {
    const uint32_t stops = QuotesOrBackslashes(p + n);
    if (stops != 0) {
      const size_t end = n + static_cast<size_t>(std::countr_zero(stops));
      if (p[end] == '\\') break;
      key = {p, end};
      return simdjson::SUCCESS;
    }
  }
  return field.unescaped_key().get(key);
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

uint64_t CountCodePoints(std::string_view s) {
  uint64_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// Object keys seen in this event, per object, for duplicate detection and `required`. Emptied
// per event in O(1) by bumping a generation.
class KeySet {
 public:
  KeySet() : entries_(256) {}
  void Reset() {
    ++generation_;
    size_ = 0;
  }
  // False when the key is already present in this object.
  bool Insert(uint64_t object, uint64_t hash, std::string_view key) {
    if ((size_ + 1) * 2 > entries_.size()) Grow();
    size_t mask = entries_.size() - 1;
    for (size_t slot = Slot(object, hash) & mask;; slot = (slot + 1) & mask) {
      Entry& e = entries_[slot];
      if (e.generation != generation_) {
        e = {generation_, object, hash, key};
        ++size_;
        return true;
      }
      if (e.object == object && e.hash == hash && e.key == key) return false;
    }
  }
  bool Contains(uint64_t object, uint64_t hash, std::string_view key) const {
    size_t mask = entries_.size() - 1;
    for (size_t slot = Slot(object, hash) & mask;; slot = (slot + 1) & mask) {
      const Entry& e = entries_[slot];
      if (e.generation != generation_) return false;
      if (e.object == object && e.hash == hash && e.key == key) return true;
    }
  }

 private:
  struct Entry {
    uint64_t generation = 0;
    uint64_t object = 0;
    uint64_t hash = 0;
    std::string_view key;
  };
  static size_t Slot(uint64_t object, uint64_t hash) {
    return static_cast<size_t>(hash ^ (object * 0x9e3779b97f4a7c15ull));
  }
  void Grow() {
    std::vector<Entry> old(entries_.size() * 2);
    old.swap(entries_);
    size_t mask = entries_.size() - 1;
    for (const Entry& e : old) {
      if (e.generation != generation_) continue;
      size_t slot = Slot(e.object, e.hash) & mask;
      while (entries_[slot].generation == generation_) slot = (slot + 1) & mask;
      entries_[slot] = e;
    }
  }
  std::vector<Entry> entries_;
  uint64_t generation_ = 1;
  size_t size_ = 0;
};

// The keys of one object being read, for duplicate detection and `required`. Small objects keep
// their keys in a list (on the walker's stack-like key list) filtered by a 64-bit Bloom mask of
// KeyFingerprint bits: a key whose bit is clear is certainly new, and is pushed in a few
// instructions. Only a key whose bit is set compares with the list, so the list is scanned at
// most once per key and holds at most kSmallObject + 1 keys; an object that grows past that
// moves its keys into the KeySet (seeded hashes), and sets every Bloom bit so that each further
// key takes the slow path to it.
inline uint64_t KeyBit(uint64_t fingerprint) {
  return uint64_t{1} << (fingerprint >> 58);
}
//
// Keys found in a property table of at most 64 slots (Node::slot_bits, closure_slot_bits) are
// not listed: their slot's bit in `slots` says whether the object has them.
struct ObjectKeys {
  static constexpr size_t kSmallObject = 32;
  uint64_t serial;
  size_t list_begin;
  uint64_t bloom = 0;
  uint64_t slots = 0;
  bool large = false;
};

}  // namespace

class JsonSchemaValidator::Walker {
 public:
  Walker(const CompiledSchema& schema, const std::vector<std::string>& captured_names,
         std::array<CapturedField, kMaxCapturedFields>& captured)
      : schema_(schema),
        nodes_(schema.nodes.data()),
        briefs_(schema.briefs.data()),
        seeds_(schema.seeds),
        key_seed_(schema.KeySeed()),
        captured_names_(captured_names),
        captured_(captured),
        slots_(schema.nodes.size(), 0) {
    for (const std::string& name : captured_names) capture_bloom_ |= KeyBit(KeyFingerprint(name));
    const Node& root = schema.nodes[schema.root];
    if (root.simple) {
      capture_node_ = schema.root;
      slot_capture_.assign(root.property_table.size(), 0);
      for (size_t c = 0; c < captured_names.size(); ++c) {
        const std::string padded = captured_names[c] + std::string(8, '\0');  // see Find()
        const std::string_view name = std::string_view(padded).substr(0, captured_names[c].size());
        const PropertySlot* slot = schema.FindProperty(root, KeyFingerprintPadded(name), name);
        if (slot == nullptr) {
          undeclared_capture_bloom_ |= KeyBit(KeyFingerprint(captured_names[c]));
          continue;
        }
        uint8_t& entry = slot_capture_[slot->index];
        if (entry == 0)
          entry = static_cast<uint8_t>(c + 1);  // the first of equal names, as CaptureField
      }
    }
  }

  Status Run(ondemand::document& doc, std::string_view record);

 private:
  // ---- Frames ----

  // Pushes the closure of the nodes in child_roots_[roots_begin, end) as a new frame, in fold
  // order. Returns the frame's first instance.
  uint32_t PushFrame(size_t roots_begin) {
    uint32_t begin = static_cast<uint32_t>(instances_.size());
    size_t root_count = child_roots_.size() - roots_begin;
    for (size_t r = roots_begin; r < child_roots_.size(); ++r) {
      for (NodeId n : nodes_[child_roots_[r]].closure) {
        if (root_count > 1 &&
            Lookup(n, begin, static_cast<uint32_t>(instances_.size())) != kNoError)
          continue;
        slots_[n] = static_cast<uint32_t>(instances_.size());
        instances_.push_back({n, kNoError});
      }
    }
    if (root_count > 1) {
      std::sort(instances_.begin() + begin, instances_.end(),
                [&](const Instance& a, const Instance& b) {
                  return nodes_[a.node].fold_rank < nodes_[b.node].fold_rank;
                });
    }
    return begin;
  }

  // The index of `node`'s instance in the frame [begin, end), or kNoError.
  uint32_t Lookup(NodeId node, uint32_t begin, uint32_t end) const {
    uint32_t i = slots_[node];
    return i >= begin && i < end && instances_[i].node == node ? i : kNoError;
  }

  bool Live(uint32_t i) const { return instances_[i].error == kNoError; }
  const Node& NodeOf(uint32_t i) const { return nodes_[instances_[i].node]; }

  // ---- Errors ----

  uint32_t NewError(ErrorKind kind, NodeId node, const PathLink* path, JsonType type = {},
                    std::string_view text = {}, uint64_t count = 0, uint64_t count2 = 0,
                    uint64_t count3 = 0, uint32_t cause = kNoError) {
    uint32_t path_begin = static_cast<uint32_t>(path_arena_.size());
    for (const PathLink* p = path; p != nullptr; p = p->parent)
      path_arena_.push_back({p->key, p->index});
    std::reverse(path_arena_.begin() + path_begin, path_arena_.end());
    errors_.push_back({kind, node, path_begin,
                       static_cast<uint32_t>(path_arena_.size() - path_begin), type, text, count,
                       count2, count3, cause});
    return static_cast<uint32_t>(errors_.size() - 1);
  }
  void Fail(uint32_t instance, uint32_t error) {
    if (instances_[instance].error == kNoError) instances_[instance].error = error;
  }
  void DocumentError(uint32_t error) {
    if (document_error_ == kNoError) document_error_ = error;
  }
  std::string Message(uint32_t error) const;
  std::string Rule(const Error& e) const;

  // ---- Checks ----

  // Type, false schema and enum checks for an object or array value. Enums with object or
  // array members are decided at the end of the value, from its hash.
  void CheckComposite(uint32_t begin, uint32_t end, JsonType type, const PathLink* path) {
    uint8_t bit = type == JsonType::kObject ? kObjectBit : kArrayBit;
    for (uint32_t i = begin; i < end; ++i) {
      const Node& n = NodeOf(i);
      if (n.trivial || !Live(i)) continue;
      if (n.always_false) {
        Fail(i, NewError(ErrorKind::kFalseSchema, instances_[i].node, path, type));
      } else if (n.types != 0 && (n.types & bit) == 0) {
        Fail(i, NewError(ErrorKind::kType, instances_[i].node, path, type));
      } else if (n.has_enum && !n.enum_has_composite) {
        Fail(i, NewError(ErrorKind::kEnum, instances_[i].node, path, type));
      }
    }
  }
  void CheckCompositeEnum(uint32_t begin, uint32_t end, JsonType type, const ValueHash& hash,
                          const PathLink* path) {
    for (uint32_t i = begin; i < end; ++i) {
      const Node& n = NodeOf(i);
      if (!n.enum_has_composite || !Live(i)) continue;
      bool found = false;
      for (const Constant& c : n.enum_values) found |= c.type == type && c.hash == hash;
      if (!found) Fail(i, NewError(ErrorKind::kEnum, instances_[i].node, path, type));
    }
  }
  bool NeedsHash(uint32_t begin, uint32_t end) const {
    for (uint32_t i = begin; i < end; ++i)
      if (NodeOf(i).enum_has_composite && Live(i)) return true;
    return false;
  }
  // The error of a scalar against one node's own keywords, or kNoError.
  // The first error of a scalar against one node's own keywords, or kNoError. Inline, the
  // common leaf: a type the node accepts with nothing more to check (Node::scalar_pass).
  [[gnu::always_inline]] uint32_t ScalarError(NodeId node, const Scalar& s, const PathLink* path) {
    if (QuickPass(briefs_[node], s)) return kNoError;
    return ScalarErrorSlow(node, s, path);
  }
  // Whether `s` passes `node`'s own keywords, like ScalarError() == kNoError but without recording
  // an error (for the `if` of conditions, where failing is the common, harmless outcome).
  [[gnu::always_inline]] bool ScalarPasses(NodeId node, const Scalar& s) {
    return QuickPass(briefs_[node], s) || ScalarPassesSlow(node, s);
  }
  [[gnu::noinline]] bool ScalarPassesSlow(NodeId node, const Scalar& s) {
    return ScalarCheck<false>(node, s, nullptr) == kNoError;
  }
  // The leaf checks that need no call to the full check: a type with nothing to check
  // (scalar_pass), or the quick check of NodeBrief. False decides nothing.
  [[gnu::always_inline]] static bool QuickPass(const NodeBrief& brief, const Scalar& s) {
    const uint8_t bits = TypeBits(s);
    if ((brief.scalar_pass & bits) != 0) return true;
    if ((brief.quick_types & bits) == 0) return false;
    if (s.type == JsonType::kString) {
      const size_t bytes = s.text.size();
      return bytes >= brief.quick_min_bytes && bytes <= brief.quick_max_bytes &&
             (!brief.quick_date_time || IsCommonDateTime(s.text)) &&
             (brief.quick_pattern == nullptr || brief.quick_pattern->Matches(s.text));
    }
    return s.number >= brief.quick_minimum && s.number <= brief.quick_maximum;
  }
  [[gnu::noinline]] uint32_t ScalarErrorSlow(NodeId node, const Scalar& s, const PathLink* path) {
    return ScalarCheck<true>(node, s, path);
  }
  // The first error of `s` against `node`'s own keywords, or kNoError. kReport: record it (else
  // any value but kNoError stands for a failure).
  template <bool kReport>
  uint32_t ScalarCheck(NodeId node, const Scalar& s, const PathLink* path);
  template <bool kReport>
  [[gnu::always_inline]] uint32_t ScalarFailure(ErrorKind kind, NodeId node, const Scalar& s,
                                                const PathLink* path, uint64_t count) {
    if constexpr (kReport) return RecordScalarFailure(kind, node, s, path, count);
    return 0;
  }
  [[gnu::noinline, gnu::cold]] uint32_t RecordScalarFailure(ErrorKind kind, NodeId node,
                                                            const Scalar& s, const PathLink* path,
                                                            uint64_t count) {
    return NewError(kind, node, path, s.type, s.text, count);
  }
  void CheckScalar(uint32_t i, const Scalar& s, const PathLink* path) {
    if (!Live(i)) return;
    uint32_t error = ScalarError(instances_[i].node, s, path);
    if (error != kNoError) Fail(i, error);
  }

  // ---- Walking ----

  // Reads a scalar of type `t` (not an object or array). Strings, most scalars, inline.
  // kMayCapture: the scalar may be a field of the root object (see MatchCapture); false only
  // where it certainly is not, which spares the frameless path a test per value.
  template <bool kMayCapture = true>
  [[gnu::always_inline]] error_code ReadScalar(ondemand::value& v, ondemand::json_type t,
                                               Scalar& s) {
    if (t != ondemand::json_type::string) return ReadOtherScalar(v, t, s);
    s.type = JsonType::kString;
    SIMDJSON_TRY(v.get_string().get(s.text));
    if constexpr (kMayCapture) OfferCapture(s);
    return simdjson::SUCCESS;
  }
  error_code ReadOtherScalar(ondemand::value& v, ondemand::json_type t, Scalar& s);
  void OfferCapture(const Scalar& s) {
    if (capture_target_ == nullptr) return;
    capture_target_->text = s.text;
    capture_target_ = nullptr;
  }
  // Called for every field of the root object: when `key` is a captured name, records the
  // field and, for a scalar, points capture_target_ at it so that ReadScalar() keeps its text.
  // The captured names' Bloom bits (see ObjectKeys) turn most keys away with one test.
  [[gnu::always_inline]] error_code MatchCapture(std::string_view key, uint64_t fingerprint,
                                                 ondemand::value& value) {
    if ((capture_bloom_ & KeyBit(fingerprint)) == 0) return simdjson::SUCCESS;
    return CaptureField(key, value);
  }
  error_code CaptureField(std::string_view key, ondemand::value& value);
  // Records the root object's field `value` as captured field `c` (see CaptureField).
  [[gnu::noinline]] error_code CaptureAt(size_t c, ondemand::value& value);

  // ---- The general path: frames ----

  // Evaluates `v` against the frame [begin, end), folds the frame, and (when `hash` is set)
  // computes the value's canonical hash. `frame_root`: the node whose closure the frame is, in
  // closure order (a frame pushed for one root), else kNoNode.
  error_code Evaluate(ondemand::value& v, uint32_t begin, uint32_t end, NodeId frame_root,
                      const PathLink* path, int depth, ValueHash* hash);
  void EvaluateScalar(const Scalar& s, uint32_t begin, uint32_t end, const PathLink* path) {
    for (uint32_t i = begin; i < end; ++i) CheckScalar(i, s, path);
    Fold(begin, end, path);
  }
  error_code EvaluateObject(ondemand::object obj, uint32_t begin, uint32_t end, NodeId frame_root,
                            const PathLink* path, int depth, ValueHash* hash);
  error_code EvaluateArray(ondemand::array arr, uint32_t begin, uint32_t end, const PathLink* path,
                           int depth, ValueHash* hash);
  // Evaluates a field or item against the child subschemas of the edges in
  // edges_[edges_begin, ...), then hands each result to the parent instance the edge came from.
  error_code EvaluateChild(ondemand::value& v, size_t edges_begin, const PathLink* path, int depth,
                           ValueHash* hash);
  // The error of scalar `s` against `node`, evaluated in a frame of its closure, or kNoError.
  uint32_t EvaluateScalarInFrame(const Scalar& s, NodeId node, const PathLink* path);
  // Evaluates `v` against non-simple `node` in a frame of its closure, into `error`.
  error_code EvaluateInFrame(ondemand::value& v, NodeId node, const PathLink* path, int depth,
                             uint32_t& error);

  // ---- The frameless path ----
  // A value whose set of applicable nodes is one simple node (Node::simple: no applicators, no
  // keyword that needs hashes or per-key frames) needs neither instances nor a fold: its result
  // is just the first error found in it. Below the root that is nearly every value of a typical
  // event, and whole subtrees stay on this path: a simple node's fields and items go to
  // EvaluateMember, which only leaves it for a child with applicators (EvaluateInFrame) or none
  // at all (Consume). Every function here sets `error` to the value's first error and leaves it
  // alone when there is none; errors are created in document order, as on the general path.

  error_code EvaluateSimple(ondemand::value& v, NodeId node, const PathLink* path, int depth,
                            uint32_t& error);
  // kRoot: the root object, whose fields feed the captures.
  template <bool kRoot>
  error_code EvaluateSimpleObject(ondemand::object obj, NodeId node, const PathLink* path,
                                  int depth, uint32_t& error);
  error_code EvaluateSimpleArray(ondemand::array arr, NodeId node, const PathLink* path, int depth,
                                 uint32_t& error);
  // A field or item that a simple node, whose result so far is `parent_error`, hands to `child`
  // (kNoNode: none; `additional`: through additionalProperties). Once the parent has failed,
  // the rest of its value is only read.
  // Scalars, most members, inline, dispatched on the child's NodeBrief (two bytes; the Node is
  // ~600). kMayCapture: `v` may be a field of the root object.
  template <bool kMayCapture>
  [[gnu::always_inline]] error_code EvaluateMember(NodeId child, bool additional,
                                                   std::string_view key, ondemand::value& v,
                                                   const PathLink* parent_path,
                                                   const PathLink* path, int depth,
                                                   uint32_t& parent_error) {
    if (child == kNoNode) return Consume(v, path, depth);
    const NodeBrief& brief = briefs_[child];  // a reference: a copy is 32 bytes of stores
    if (parent_error != kNoError || brief.kind == NodeBrief::kTrivial)
      return Consume(v, path, depth);
    if (brief.kind != NodeBrief::kSimple)
      return EvaluateOtherMember(child, additional, key, v, parent_path, path, depth, parent_error);
    ondemand::json_type t;
    SIMDJSON_TRY(v.type().get(t));
    if (t == ondemand::json_type::object || t == ondemand::json_type::array || depth > kMaxDepth)
        [[unlikely]]
      return EvaluateSimple(v, child, path, depth, parent_error);
    Scalar s;
    SIMDJSON_TRY(ReadScalar<kMayCapture>(v, t, s));
    if (!QuickPass(brief, s)) parent_error = ScalarErrorSlow(child, s, path);
    return simdjson::SUCCESS;
  }
  // A false schema, or a child with applicators.
  error_code EvaluateOtherMember(NodeId child, bool additional, std::string_view key,
                                 ondemand::value& v, const PathLink* parent_path,
                                 const PathLink* path, int depth, uint32_t& parent_error) {
    if (nodes_[child].always_false) {
      parent_error = additional ? NewError(ErrorKind::kPropertyNotAllowed, child, parent_path,
                                           JsonType::kObject, key)
                                : NewError(ErrorKind::kFalseSchema, child, path);
      return Consume(v, path, depth);
    }
    return EvaluateInFrame(v, child, path, depth, parent_error);
  }
  // A field that the `if` of some of simple node `n`'s conditions tests (`gate`): its value is
  // checked against those subschemas as well as against `child`, still read once: the
  // if-subschemas are leaves, so an object or array needs only their CompositeError, and a
  // scalar is read once for all. Failures set the conditions' bits in `if_failed`.
  error_code EvaluateGatedMember(const Node& n, const ClosureSlot& gate, NodeId child,
                                 bool additional, std::string_view key, ondemand::value& v,
                                 const PathLink* parent_path, const PathLink* path, int depth,
                                 uint32_t& parent_error, uint64_t& if_failed);
  // The first error of the conditions' branches that apply to an object with `keys`, in fold
  // order (the order a frame would create them in), or kNoError.
  uint32_t ConditionsError(const Node& n, const ObjectKeys& keys, uint64_t if_failed,
                           const PathLink* path);
  // Whether an object read against simple node `n` has key `k`: by slot bit when n's table
  // tracks it, else in the key list.
  bool HasObjectKey(const ObjectKeys& keys, const Node& n, KeyId k) const {
    const PropertySlot* slot = schema_.FindPropertyKey(n, k);
    if (slot != nullptr && n.slot_bits) return (keys.slots >> slot->index) & 1;
    return HasKey(keys, schema_.keys[k]);
  }
  // False schema, type and enum checks of an object or array against a simple node (whose enum,
  // if any, has no object or array member).
  uint32_t CompositeError(NodeId id, JsonType type, const PathLink* path) {
    const Node& n = nodes_[id];
    const uint8_t bit = type == JsonType::kObject ? kObjectBit : kArrayBit;
    if (n.always_false) return NewError(ErrorKind::kFalseSchema, id, path, type);
    if (n.types != 0 && (n.types & bit) == 0) return NewError(ErrorKind::kType, id, path, type);
    if (n.has_enum) return NewError(ErrorKind::kEnum, id, path, type);
    return kNoError;
  }
  // ---- Values no schema constrains ----
  // They are still read completely, so that simdjson validates them, with duplicate-key
  // detection and the depth limit. This is all the work for a stream without a schema, so it
  // has its own loops: scalars inline (most values are, and a call per value is measurable),
  // and the captures checked only in the root object's loop.

  // With `hash` set, also computes the value's canonical hash.
  error_code Skip(ondemand::value& v, const PathLink* path, int depth, ValueHash* hash) {
    return hash != nullptr ? HashValue(v, path, depth, hash) : Consume(v, path, depth);
  }
  error_code Consume(ondemand::value& v, const PathLink* path, int depth) {
    if (depth > kMaxDepth) return TooDeep(path);
    ondemand::json_type t;
    SIMDJSON_TRY(v.type().get(t));
    if (capture_target_ != nullptr) {  // a field of the root object that a schema path skips
      Scalar s;
      return ReadScalar(v, t, s);
    }
    return ConsumeTyped(v, t, path, depth);
  }
  // `v` is of type `t`, at `depth` <= kMaxDepth.
  [[gnu::always_inline]] error_code ConsumeTyped(ondemand::value& v, ondemand::json_type t,
                                                 const PathLink* path, int depth) {
    if (t == ondemand::json_type::object) {
      ondemand::object obj;
      SIMDJSON_TRY(v.get_object().get(obj));
      return ConsumeObject<false>(obj, path, depth);
    }
    if (t == ondemand::json_type::array) {
      ondemand::array arr;
      SIMDJSON_TRY(v.get_array().get(arr));
      return ConsumeArray(arr, path, depth);
    }
    return ConsumeScalar(v, t);
  }
  // kRoot: the root object, whose fields feed the captures.
  template <bool kRoot>
  error_code ConsumeObject(ondemand::object obj, const PathLink* path, int depth);
  error_code ConsumeArray(ondemand::array arr, const PathLink* path, int depth);
  error_code HashValue(ondemand::value& v, const PathLink* path, int depth, ValueHash* hash);
  void AddEdge(uint32_t parent, NodeId child, bool additional, std::string_view key,
               const PathLink* object_path, const PathLink* child_path);
  void CheckPropertyName(uint32_t parent, NodeId names, std::string_view key, const PathLink* path);
  // Combines the in-place applicators' results into each instance's result.
  void Fold(uint32_t begin, uint32_t end, const PathLink* path);
  error_code TooDeep(const PathLink* path) {
    DocumentError(NewError(ErrorKind::kTooDeep, 0, path));
    return simdjson::DEPTH_ERROR;
  }

  const CompiledSchema& schema_;
  // Raw pointers into the schema's vectors: one dependent load less per access than through a
  // reference to the vector.
  const Node* const nodes_;
  const NodeBrief* const briefs_;
  const HashSeeds& seeds_;
  const uint64_t key_seed_;
  const std::vector<std::string>& captured_names_;
  std::array<CapturedField, kMaxCapturedFields>& captured_;
  CapturedField* capture_target_ = nullptr;
  uint64_t capture_bloom_ = 0;  // the Bloom bits of the captured names
  // When the root node is simple, its object's fields are matched with the captured names by
  // the property lookup they get anyway: slot_capture_[slot] is 1 + the index of the captured
  // name the root's property-table slot holds, or 0; the names that the root does not declare
  // go by their Bloom bits, undeclared_capture_bloom_. capture_node_: that root, or kNoNode.
  NodeId capture_node_ = kNoNode;
  std::vector<uint8_t> slot_capture_;
  uint64_t undeclared_capture_bloom_ = 0;

  std::vector<uint32_t> slots_;  // per node: its instance index in the frame that has it
  std::vector<Instance> instances_;
  std::vector<NodeId> child_roots_;
  std::vector<Edge> edges_;
  std::vector<std::pair<ValueHash, uint64_t>> item_hashes_;  // uniqueItems: (hash, index)
  std::vector<Error> errors_;
  std::vector<PathSegment> path_arena_;
  // False when `key` (whose KeyFingerprint is `fingerprint`) is already in the object.
  [[gnu::always_inline]] bool AddKey(ObjectKeys& o, uint64_t fingerprint, std::string_view key) {
    const uint64_t bit = KeyBit(fingerprint);
    if ((o.bloom & bit) == 0) [[likely]] {
      o.bloom |= bit;  // certainly new
      PushKey(fingerprint, key);
      return true;
    }
    return AddKeySlow(o, fingerprint, key);
  }
  // False when the key at `slot` of the object's property table is already in the object.
  [[gnu::always_inline]] static bool AddSlotKey(ObjectKeys& o, size_t slot) {
    const uint64_t bit = uint64_t{1} << slot;
    const bool fresh = (o.slots & bit) == 0;
    o.slots |= bit;
    return fresh;
  }
  [[gnu::noinline]] bool AddKeySlow(ObjectKeys& o, uint64_t fingerprint, std::string_view key) {
    if (o.large) return keys_.Insert(o.serial, HashBytes(key, key_seed_), key);
    if (HasListedKey(o, fingerprint, key)) return false;
    PushKey(fingerprint, key);
    if (key_top_ - o.list_begin > ObjectKeys::kSmallObject) {
      for (size_t i = o.list_begin; i < key_top_; ++i)
        keys_.Insert(o.serial, HashBytes(key_list_[i].Key(), key_seed_), key_list_[i].Key());
      key_top_ = o.list_begin;
      o.large = true;
      o.bloom = ~uint64_t{0};
    }
    return true;
  }
  bool HasKey(const ObjectKeys& o, const KeyInfo& key) const {
    return o.large ? keys_.Contains(o.serial, HashBytes(key.name, key_seed_), key.name)
                   : HasListedKey(o, key.hash, key.name);
  }
  bool HasListedKey(const ObjectKeys& o, uint64_t fingerprint, std::string_view key) const {
    for (size_t i = o.list_begin; i < key_top_; ++i)
      if (key_list_[i].hash == fingerprint && SameBytes(key_list_[i].Key(), key)) return true;
    return false;
  }
  ObjectKeys OpenObject() { return {++object_serial_, key_top_}; }
  void CloseObject(const ObjectKeys& o) { key_top_ = o.list_begin; }
  // Field by field rather than push_back({hash, key}): GCC builds that temporary with scalar
  // stores and copies it with a vector load, a store-forwarding stall on every key.
  [[gnu::always_inline]] void PushKey(uint64_t hash, std::string_view key) {
    if (key_top_ == key_capacity_) [[unlikely]]
      GrowKeyList();
    ListedKey& e = key_list_[key_top_++];
    e.hash = hash;
    e.data = key.data();
    e.size = key.size();
  }

  [[gnu::noinline]] void GrowKeyList() {
    key_list_.resize(key_list_.size() * 2 + 64);
    key_capacity_ = key_list_.size();
  }

  KeySet keys_;
  struct ListedKey {
    uint64_t hash;  // KeyFingerprint
    const char* data;
    size_t size;
    std::string_view Key() const { return {data, size}; }
  };
  std::vector<ListedKey> key_list_;  // a stack; key_top_ is its size
  size_t key_top_ = 0;
  size_t key_capacity_ = 0;  // key_list_.size(), kept apart so that a push needs no division
  uint64_t object_serial_ = 0;
  uint32_t document_error_ = kNoError;  // duplicate key or nesting too deep
};

template <bool kReport>
uint32_t JsonSchemaValidator::Walker::ScalarCheck(NodeId id, const Scalar& s,
                                                  const PathLink* path) {
  const Node& n = nodes_[id];
  // Failures are rare: recorded out of line (RecordScalarFailure), so that this function saves
  // few registers.
  if (n.always_false) return ScalarFailure<kReport>(ErrorKind::kFalseSchema, id, s, path, 0);
  if (n.types != 0 && (n.types & TypeBits(s)) == 0)
    return ScalarFailure<kReport>(ErrorKind::kType, id, s, path, 0);
  if (n.has_enum) {
    bool found = false;
    for (const Constant& c : n.enum_values) {
      if (c.type != s.type) continue;
      switch (s.type) {
        case JsonType::kNull:
          found = true;
          break;
        case JsonType::kBoolean:
          found = c.boolean == s.boolean;
          break;
        case JsonType::kNumber:
          found = c.number == s.number;
          break;
        case JsonType::kString:
          found = SameBytes(c.string, s.text);
          break;
        default:
          break;
      }
      if (found) break;
    }
    if (!found) return ScalarFailure<kReport>(ErrorKind::kEnum, id, s, path, 0);
  }
  if (s.type == JsonType::kNumber) {
    if (!n.has_number_keywords) return kNoError;
    double x = s.number;
    if (x < n.minimum) return ScalarFailure<kReport>(ErrorKind::kMinimum, id, s, path, 0);
    if (x > n.maximum) return ScalarFailure<kReport>(ErrorKind::kMaximum, id, s, path, 0);
    if (x <= n.exclusive_minimum)
      return ScalarFailure<kReport>(ErrorKind::kExclusiveMinimum, id, s, path, 0);
    if (x >= n.exclusive_maximum)
      return ScalarFailure<kReport>(ErrorKind::kExclusiveMaximum, id, s, path, 0);
    if (!std::isnan(n.multiple_of)) {
      // ajv: `(x / m) !== parseInt(x / m)`: an integral quotient below 1e21 (above, parseInt
      // reads the exponent notation of the number's string form and disagrees).
      double q = x / n.multiple_of;
      if (!(std::isfinite(q) && std::fabs(q) < 1e21 && IsIntegral(q)))
        return ScalarFailure<kReport>(ErrorKind::kMultipleOf, id, s, path, 0);
    }
    if (FormatAppliesToNumbers(n.format) && !CheckNumberFormat(n.format, x))
      return ScalarFailure<kReport>(ErrorKind::kFormat, id, s, path, 0);
  } else if (s.type == JsonType::kString) {
    if (!n.has_string_keywords) return kNoError;
    // A code point takes 1 to 4 bytes: count only when the byte length cannot decide.
    uint64_t bytes = s.text.size();
    if (bytes > n.max_length || bytes / 4 < n.min_length) {
      uint64_t length = CountCodePoints(s.text);
      if (length < n.min_length)
        return ScalarFailure<kReport>(ErrorKind::kMinLength, id, s, path, length);
      if (length > n.max_length)
        return ScalarFailure<kReport>(ErrorKind::kMaxLength, id, s, path, length);
    }
    if (n.pattern && !(n.has_simple_pattern ? n.simple_pattern.Matches(s.text)
                                            : RE2::PartialMatch(s.text, *n.pattern)))
      return ScalarFailure<kReport>(ErrorKind::kPattern, id, s, path, 0);
    if (n.format != Format::kNone && !FormatAppliesToNumbers(n.format) &&
        !CheckStringFormat(n.format, s.text))
      return ScalarFailure<kReport>(ErrorKind::kFormat, id, s, path, 0);
  }
  return kNoError;
}

error_code JsonSchemaValidator::Walker::CaptureField(std::string_view key, ondemand::value& value) {
  for (size_t c = 0; c < captured_names_.size(); ++c)
    if (SameBytes(captured_names_[c], key)) return CaptureAt(c, value);
  return simdjson::SUCCESS;
}

error_code JsonSchemaValidator::Walker::CaptureAt(size_t c, ondemand::value& value) {
  CapturedField& f = captured_[c];
  if (f.present) {
    f.duplicated = true;
    return simdjson::SUCCESS;
  }
  ondemand::json_type t;
  SIMDJSON_TRY(value.type().get(t));
  f.present = true;
  f.type = t == ondemand::json_type::object    ? JsonType::kObject
           : t == ondemand::json_type::array   ? JsonType::kArray
           : t == ondemand::json_type::string  ? JsonType::kString
           : t == ondemand::json_type::number  ? JsonType::kNumber
           : t == ondemand::json_type::boolean ? JsonType::kBoolean
                                               : JsonType::kNull;
  if (f.type != JsonType::kObject && f.type != JsonType::kArray) capture_target_ = &f;
  return simdjson::SUCCESS;
}

error_code JsonSchemaValidator::Walker::ReadOtherScalar(ondemand::value& v, ondemand::json_type t,
                                                        Scalar& s) {
  switch (t) {
    case ondemand::json_type::number:
      s.type = JsonType::kNumber;
      s.text = TrimRight(v.raw_json_token());
      SIMDJSON_TRY(v.get_double().get(s.number));
      break;
    case ondemand::json_type::boolean:
      s.type = JsonType::kBoolean;
      SIMDJSON_TRY(v.get_bool().get(s.boolean));
      s.text = s.boolean ? "true" : "false";
      break;
    case ondemand::json_type::null: {
      bool is_null = false;
      SIMDJSON_TRY(v.is_null().get(is_null));
      if (!is_null) return simdjson::N_ATOM_ERROR;
      s.type = JsonType::kNull;
      s.text = "null";
      break;
    }
    default:
      return simdjson::INCORRECT_TYPE;
  }
  OfferCapture(s);
  return simdjson::SUCCESS;
}

error_code JsonSchemaValidator::Walker::Evaluate(ondemand::value& v, uint32_t begin, uint32_t end,
                                                 NodeId frame_root, const PathLink* path, int depth,
                                                 ValueHash* hash) {
  if (depth > kMaxDepth) return TooDeep(path);
  ondemand::json_type t;
  SIMDJSON_TRY(v.type().get(t));
  if (t == ondemand::json_type::object) {
    ondemand::object obj;
    SIMDJSON_TRY(v.get_object().get(obj));
    SIMDJSON_TRY(EvaluateObject(obj, begin, end, frame_root, path, depth, hash));
  } else if (t == ondemand::json_type::array) {
    ondemand::array arr;
    SIMDJSON_TRY(v.get_array().get(arr));
    SIMDJSON_TRY(EvaluateArray(arr, begin, end, path, depth, hash));
  } else {
    Scalar s;
    SIMDJSON_TRY(ReadScalar(v, t, s));
    for (uint32_t i = begin; i < end; ++i) CheckScalar(i, s, path);
    if (hash != nullptr) *hash = HashScalar(seeds_, s.type, s.boolean, s.number, s.text);
  }
  Fold(begin, end, path);
  return simdjson::SUCCESS;
}

void JsonSchemaValidator::Walker::AddEdge(uint32_t parent, NodeId child, bool additional,
                                          std::string_view key, const PathLink* object_path,
                                          const PathLink* child_path) {
  const Node& c = nodes_[child];
  if (c.trivial) return;
  if (c.always_false) {
    Fail(parent, additional ? NewError(ErrorKind::kPropertyNotAllowed, child, object_path,
                                       JsonType::kObject, key)
                            : NewError(ErrorKind::kFalseSchema, child, child_path));
    return;
  }
  edges_.push_back({parent, child});
}

void JsonSchemaValidator::Walker::CheckPropertyName(uint32_t parent, NodeId names,
                                                    std::string_view key, const PathLink* path) {
  if (nodes_[names].trivial) return;
  uint32_t error = EvaluateScalarInFrame(Scalar{JsonType::kString, false, 0, key}, names, path);
  if (error != kNoError)
    Fail(parent,
         NewError(ErrorKind::kPropertyName, names, path, JsonType::kString, key, 0, 0, 0, error));
}

uint32_t JsonSchemaValidator::Walker::EvaluateScalarInFrame(const Scalar& s, NodeId node,
                                                            const PathLink* path) {
  const size_t roots_begin = child_roots_.size();
  child_roots_.push_back(node);
  const uint32_t begin = PushFrame(roots_begin);
  const uint32_t end = static_cast<uint32_t>(instances_.size());
  child_roots_.resize(roots_begin);
  EvaluateScalar(s, begin, end, path);
  const uint32_t error = instances_[Lookup(node, begin, end)].error;
  instances_.resize(begin);
  return error;
}

error_code JsonSchemaValidator::Walker::EvaluateChild(ondemand::value& v, size_t edges_begin,
                                                      const PathLink* path, int depth,
                                                      ValueHash* hash) {
  const size_t edges_end = edges_.size();
  if (edges_end == edges_begin) {
    SIMDJSON_TRY(Skip(v, path, depth, hash));
    return simdjson::SUCCESS;
  }
  const NodeId first = edges_[edges_begin].child;
  bool same = true, leaves = true;
  for (size_t e = edges_begin; e < edges_end; ++e) {
    same &= edges_[e].child == first;
    leaves &= nodes_[edges_[e].child].closure.size() == 1;
  }
  auto fail_parents = [&](NodeId child, uint32_t error) {
    if (error == kNoError) return;
    for (size_t e = edges_begin; e < edges_end; ++e)
      if (edges_[e].child == child) Fail(edges_[e].parent, error);
  };
  if (same && hash == nullptr && nodes_[first].simple) {
    // One simple subschema, however many parents hand the value to it (the common case).
    uint32_t error = kNoError;
    SIMDJSON_TRY(EvaluateSimple(v, first, path, depth, error));
    fail_parents(first, error);
    edges_.resize(edges_begin);
    return simdjson::SUCCESS;
  }
  ondemand::json_type t;
  SIMDJSON_TRY(v.type().get(t));
  // A scalar against subschemas without applicators (a property constrained by several nodes of
  // an allOf or an if): read once, checked against each, without a frame. In fold order, the
  // order a frame would check them in, so that the same error comes first.
  constexpr size_t kMaxLeaves = 8;
  std::array<NodeId, kMaxLeaves> children;
  size_t child_count = 0;
  for (size_t e = edges_begin; leaves && e < edges_end; ++e) {
    const NodeId c = edges_[e].child;
    if (std::find(children.begin(), children.begin() + child_count, c) !=
        children.begin() + child_count)
      continue;
    if (child_count == kMaxLeaves) leaves = false;
    if (leaves) children[child_count++] = c;
  }
  if (leaves && t != ondemand::json_type::object && t != ondemand::json_type::array) {
    if (depth > kMaxDepth) return TooDeep(path);
    Scalar s;
    SIMDJSON_TRY(ReadScalar(v, t, s));
    for (size_t i = 1; i < child_count; ++i)  // insertion sort: a handful of nodes
      for (size_t j = i; j > 0 && nodes_[children[j]].fold_rank < nodes_[children[j - 1]].fold_rank;
           --j)
        std::swap(children[j], children[j - 1]);
    for (size_t c = 0; c < child_count; ++c)
      fail_parents(children[c], ScalarError(children[c], s, path));
    if (hash != nullptr) *hash = HashScalar(seeds_, s.type, s.boolean, s.number, s.text);
    edges_.resize(edges_begin);
    return simdjson::SUCCESS;
  }
  const size_t roots_begin = child_roots_.size();
  for (size_t e = edges_begin; e < edges_end; ++e) {
    NodeId child = edges_[e].child;
    if (std::find(child_roots_.begin() + static_cast<ptrdiff_t>(roots_begin), child_roots_.end(),
                  child) == child_roots_.end())
      child_roots_.push_back(child);
  }
  const NodeId frame_root = child_roots_.size() - roots_begin == 1 ? first : kNoNode;
  uint32_t begin = PushFrame(roots_begin);
  uint32_t end = static_cast<uint32_t>(instances_.size());
  child_roots_.resize(roots_begin);
  SIMDJSON_TRY(Evaluate(v, begin, end, frame_root, path, depth, hash));
  for (size_t e = edges_begin; e < edges_.size(); ++e) {
    uint32_t error = instances_[Lookup(edges_[e].child, begin, end)].error;
    if (error != kNoError) Fail(edges_[e].parent, error);
  }
  instances_.resize(begin);
  edges_.resize(edges_begin);
  return simdjson::SUCCESS;
}

error_code JsonSchemaValidator::Walker::EvaluateInFrame(ondemand::value& v, NodeId node,
                                                        const PathLink* path, int depth,
                                                        uint32_t& error) {
  const size_t roots_begin = child_roots_.size();
  child_roots_.push_back(node);
  const uint32_t begin = PushFrame(roots_begin);
  const uint32_t end = static_cast<uint32_t>(instances_.size());
  child_roots_.resize(roots_begin);
  SIMDJSON_TRY(Evaluate(v, begin, end, node, path, depth, nullptr));
  error = instances_[Lookup(node, begin, end)].error;
  instances_.resize(begin);
  return simdjson::SUCCESS;
}

error_code JsonSchemaValidator::Walker::EvaluateSimple(ondemand::value& v, NodeId node,
                                                       const PathLink* path, int depth,
                                                       uint32_t& error) {
  if (depth > kMaxDepth) return TooDeep(path);
  ondemand::json_type t;
  SIMDJSON_TRY(v.type().get(t));
  if (t == ondemand::json_type::object) {
    ondemand::object obj;
    SIMDJSON_TRY(v.get_object().get(obj));
    return depth == 0 ? EvaluateSimpleObject<true>(obj, node, path, depth, error)
                      : EvaluateSimpleObject<false>(obj, node, path, depth, error);
  }
  if (t == ondemand::json_type::array) {
    ondemand::array arr;
    SIMDJSON_TRY(v.get_array().get(arr));
    return EvaluateSimpleArray(arr, node, path, depth, error);
  }
  Scalar s;
  SIMDJSON_TRY(ReadScalar(v, t, s));
  error = ScalarError(node, s, path);
  return simdjson::SUCCESS;
}

template <bool kRoot>
error_code JsonSchemaValidator::Walker::EvaluateSimpleObject(ondemand::object obj, NodeId node,
                                                             const PathLink* path, int depth,
                                                             uint32_t& error) {
  const Node& n = nodes_[node];
  error = CompositeError(node, JsonType::kObject, path);
  ObjectKeys keys = OpenObject();
  uint64_t field_count = 0;
  uint64_t required_hits = 0;  // without slot bits
  uint64_t if_failed = 0;      // bit c: a property value failed the `if` of condition c
  // The node's fields the loop reads, in locals: the loop stores through pointers the compiler
  // cannot tell from the Node's, so it would reload each of them for every field.
  const PropertySlot* const table = n.property_table.data();
  const uint64_t table_mask = n.property_table_mask;
  const unsigned table_shift = n.property_table_shift;
  const bool table_perfect = n.property_table_perfect;
  const bool slot_bits = n.slot_bits;
  const NodeId additional_properties = n.additional_properties;
  const bool has_conditions = !n.conditions.empty();
  const bool gates_in_table = n.gates_in_property_table;
  for (auto field_result : obj) {
    SIMDJSON_TRY(field_result.error());
    ondemand::field&& field = std::move(field_result).value_unsafe();  // in place: kNoCopy
    std::string_view key;
    SIMDJSON_TRY(ReadKey(field, key));
    ondemand::value& value = field.value();
    const uint64_t fingerprint = KeyFingerprintPadded(key);
    const PropertySlot* slot =
        table_perfect ? CompiledSchema::MatchSlot(table[(fingerprint >> table_shift) & table_mask],
                                                  fingerprint, key, schema_.keys)
                      : schema_.Find(n.property_table, table_mask, fingerprint, key);
    const bool fresh = slot != nullptr && slot_bits ? AddSlotKey(keys, slot->index)
                                                    : AddKey(keys, fingerprint, key);
    if (!fresh) DocumentError(NewError(ErrorKind::kDuplicateKey, 0, path, JsonType::kObject, key));
    ++field_count;
    const PathLink link{path, key, -1};
    if constexpr (kRoot) {
      if (node != capture_node_) {
        SIMDJSON_TRY(MatchCapture(key, fingerprint, value));
      } else if (slot != nullptr) {  // a declared key: is it captured? (one byte per slot)
        const uint8_t c = slot_capture_[slot->index];
        if (c != 0) SIMDJSON_TRY(CaptureAt(c - 1, value));
      } else if ((undeclared_capture_bloom_ & KeyBit(fingerprint)) != 0) {
        SIMDJSON_TRY(CaptureField(key, value));
      }
    }
    NodeId child = kNoNode;
    bool additional = false;
    if (slot != nullptr) {
      required_hits += slot->required;
      child = slot->child;
    }
    if (child == kNoNode) {
      child = additional_properties;
      additional = true;
    }
    const ClosureSlot* gate = nullptr;
    if (has_conditions) {
      if (!gates_in_table) {
        gate = schema_.Find(n.condition_table, n.condition_table_mask, fingerprint, key);
      } else if (slot != nullptr && slot->gate != PropertySlot::kNoGate) {
        gate = &n.condition_table[slot->gate];
      }
    }
    const error_code err =
        gate == nullptr
            ? EvaluateMember<kRoot>(child, additional, key, value, path, &link, depth + 1, error)
            : EvaluateGatedMember(n, *gate, child, additional, key, value, path, &link, depth + 1,
                                  error, if_failed);
    if constexpr (kRoot) capture_target_ = nullptr;
    if (err) return err;
  }
  if (error == kNoError) {
    const bool missing = n.slot_bits ? (keys.slots & n.required_slots) != n.required_slots
                                     : required_hits < n.required.size();
    for (size_t r = 0; missing && r < n.required.size(); ++r) {
      if (!HasObjectKey(keys, n, n.required[r])) {
        error = NewError(ErrorKind::kRequired, node, path, JsonType::kObject,
                         schema_.keys[n.required[r]].name);
        break;
      }
    }
  }
  if (error == kNoError && field_count < n.min_properties)
    error = NewError(ErrorKind::kMinProperties, node, path, JsonType::kObject, {}, field_count);
  if (error == kNoError && field_count > n.max_properties)
    error = NewError(ErrorKind::kMaxProperties, node, path, JsonType::kObject, {}, field_count);
  // Last, as in Fold: a node's applicators count only when its own keywords hold.
  if (error == kNoError && !n.conditions.empty()) error = ConditionsError(n, keys, if_failed, path);
  CloseObject(keys);
  return simdjson::SUCCESS;
}

error_code JsonSchemaValidator::Walker::EvaluateGatedMember(
    const Node& n, const ClosureSlot& gate, NodeId child, bool additional, std::string_view key,
    ondemand::value& v, const PathLink* parent_path, const PathLink* path, int depth,
    uint32_t& parent_error, uint64_t& if_failed) {
  // Once the node has failed, its conditions cannot change its (first) error.
  if (parent_error != kNoError) return Consume(v, path, depth);
  ondemand::json_type t;
  SIMDJSON_TRY(v.type().get(t));
  if (t == ondemand::json_type::object || t == ondemand::json_type::array) {
    const JsonType type = t == ondemand::json_type::object ? JsonType::kObject : JsonType::kArray;
    for (uint32_t e = gate.begin; e < gate.begin + gate.count; ++e) {
      const ClosureProperty& p = n.condition_properties[e];
      if (CompositeError(p.child, type, path) != kNoError) if_failed |= uint64_t{1} << p.position;
    }
    return EvaluateMember<true>(child, additional, key, v, parent_path, path, depth, parent_error);
  }
  if (depth > kMaxDepth) return TooDeep(path);
  Scalar s;
  SIMDJSON_TRY(ReadScalar(v, t, s));
  for (uint32_t e = gate.begin; e < gate.begin + gate.count; ++e) {
    const ClosureProperty& p = n.condition_properties[e];
    if (!ScalarPasses(p.child, s)) if_failed |= uint64_t{1} << p.position;
  }
  // `child` against the scalar already read, as EvaluateMember would.
  if (child == kNoNode || briefs_[child].kind == NodeBrief::kTrivial) return simdjson::SUCCESS;
  if (nodes_[child].always_false) {
    parent_error = additional ? NewError(ErrorKind::kPropertyNotAllowed, child, parent_path,
                                         JsonType::kObject, key)
                              : NewError(ErrorKind::kFalseSchema, child, path);
  } else if (briefs_[child].kind == NodeBrief::kSimple) {
    parent_error = ScalarError(child, s, path);
  } else {
    parent_error = EvaluateScalarInFrame(s, child, path);
  }
  return simdjson::SUCCESS;
}

uint32_t JsonSchemaValidator::Walker::ConditionsError(const Node& n, const ObjectKeys& keys,
                                                      uint64_t if_failed, const PathLink* path) {
  constexpr size_t kMaxConditions = 64;  // the compiler allows fewer (bits of if_failed)
  std::array<NodeId, kMaxConditions> branches;
  size_t count = 0;
  for (size_t c = 0; c < n.conditions.size(); ++c) {
    const Node::Condition& condition = n.conditions[c];
    bool holds = ((if_failed >> c) & 1) == 0;
    for (KeyId k : nodes_[condition.if_node].required) holds = holds && HasObjectKey(keys, n, k);
    const NodeId branch = holds ? condition.then_node : condition.else_node;
    if (branch != kNoNode) branches[count++] = branch;
  }
  for (size_t i = 1; i < count; ++i)  // insertion sort by fold rank: a handful of nodes
    for (size_t j = i; j > 0 && nodes_[branches[j]].fold_rank < nodes_[branches[j - 1]].fold_rank;
         --j)
      std::swap(branches[j], branches[j - 1]);
  for (size_t b = 0; b < count; ++b) {
    for (KeyId k : nodes_[branches[b]].required) {
      if (!HasObjectKey(keys, n, k))
        return NewError(ErrorKind::kRequired, branches[b], path, JsonType::kObject,
                        schema_.keys[k].name);
    }
  }
  return kNoError;
}

error_code JsonSchemaValidator::Walker::EvaluateSimpleArray(ondemand::array arr, NodeId node,
                                                            const PathLink* path, int depth,
                                                            uint32_t& error) {
  const Node& n = nodes_[node];
  error = CompositeError(node, JsonType::kArray, path);
  const NodeId* const prefix_items = n.prefix_items.data();  // in locals: see EvaluateSimpleObject
  const size_t prefix_count = n.prefix_items.size();
  const NodeId items = n.items;
  uint64_t index = 0;
  for (auto element : arr) {
    SIMDJSON_TRY(element.error());
    ondemand::value&& item = std::move(element).value_unsafe();  // in place: kNoCopy
    const PathLink link{path, {}, static_cast<int64_t>(index)};
    const NodeId child = index < prefix_count ? prefix_items[index] : items;
    SIMDJSON_TRY(EvaluateMember<false>(child, false, {}, item, path, &link, depth + 1, error));
    ++index;
  }
  if (error == kNoError && index < n.min_items)
    error = NewError(ErrorKind::kMinItems, node, path, JsonType::kArray, {}, index);
  if (error == kNoError && index > n.max_items)
    error = NewError(ErrorKind::kMaxItems, node, path, JsonType::kArray, {}, index);
  return simdjson::SUCCESS;
}

error_code JsonSchemaValidator::Walker::EvaluateObject(ondemand::object obj, uint32_t begin,
                                                       uint32_t end, NodeId frame_root,
                                                       const PathLink* path, int depth,
                                                       ValueHash* hash) {
  CheckComposite(begin, end, JsonType::kObject, path);
  const bool need_hash = hash != nullptr || NeedsHash(begin, end);
  bool any_keywords = false;
  for (uint32_t i = begin; i < end; ++i) {
    any_keywords |= NodeOf(i).has_object_keywords;
    instances_[i].required_hits = 0;
  }
  // A frame that is one node's closure, with a closure table: one lookup per field finds what
  // every node of the frame says about the key, the frame's instance of closure position p
  // being begin + p.
  const Node* closure = frame_root != kNoNode && !nodes_[frame_root].closure_table.empty()
                            ? &nodes_[frame_root]
                            : nullptr;
  ObjectKeys keys = OpenObject();
  uint64_t field_count = 0;
  ValueHash sum;
  for (auto field_result : obj) {
    SIMDJSON_TRY(field_result.error());
    ondemand::field&& field = std::move(field_result).value_unsafe();  // in place: kNoCopy
    std::string_view key;
    SIMDJSON_TRY(ReadKey(field, key));
    ondemand::value& value = field.value();
    const uint64_t key_hash = KeyFingerprintPadded(key);
    const ClosureSlot* closure_slot =
        closure != nullptr
            ? schema_.Find(closure->closure_table, closure->closure_table_mask, key_hash, key)
            : nullptr;
    const bool fresh =
        closure_slot != nullptr && closure->closure_slot_bits
            ? AddSlotKey(keys, static_cast<size_t>(closure_slot - closure->closure_table.data()))
            : AddKey(keys, key_hash, key);
    if (!fresh) DocumentError(NewError(ErrorKind::kDuplicateKey, 0, path, JsonType::kObject, key));
    ++field_count;
    const PathLink link{path, key, -1};

    if (depth == 0) SIMDJSON_TRY(MatchCapture(key, key_hash, value));

    const size_t edges_begin = edges_.size();
    if (closure != nullptr && !need_hash && closure_slot != nullptr && closure_slot->count == 1) {
      // One node of the frame says something about the key (most keys of an object checked
      // against an allOf or if/then): its instance is the only parent, no edges needed.
      const ClosureProperty& p = closure->closure_properties[closure_slot->begin];
      const uint32_t parent = begin + p.position;
      uint32_t error = instances_[parent].error;  // not a reference: frames may be pushed
      if (error == kNoError) instances_[parent].required_hits += p.required;
      const error_code err =
          EvaluateMember<true>(p.child, false, key, value, path, &link, depth + 1, error);
      instances_[parent].error = error;
      capture_target_ = nullptr;
      if (err) return err;
      continue;
    }
    if (closure != nullptr) {
      const uint32_t count = closure_slot != nullptr ? closure_slot->count : 0;
      for (uint32_t k = 0; k < count; ++k) {
        const ClosureProperty& p = closure->closure_properties[closure_slot->begin + k];
        const uint32_t i = begin + p.position;
        if (!Live(i)) continue;
        instances_[i].required_hits += p.required;
        if (p.child != kNoNode) AddEdge(i, p.child, false, key, path, &link);
      }
    } else if (any_keywords) {
      for (uint32_t i = begin; i < end; ++i) {
        const Node& n = NodeOf(i);
        if (!n.has_object_keywords || !Live(i)) continue;
        bool matched = false;
        const PropertySlot* slot = schema_.FindProperty(n, key_hash, key);
        if (slot != nullptr) {
          instances_[i].required_hits += slot->required;
          if (slot->child != kNoNode) {
            AddEdge(i, slot->child, false, key, path, &link);
            matched = true;
          }
        }
        for (const PatternProperty& p : n.pattern_properties) {
          if (RE2::PartialMatch(key, *p.regex)) {
            AddEdge(i, p.node, false, key, path, &link);
            matched = true;
          }
        }
        if (!matched && n.additional_properties != kNoNode)
          AddEdge(i, n.additional_properties, true, key, path, &link);
        if (n.property_names != kNoNode) CheckPropertyName(i, n.property_names, key, path);
      }
    }
    ValueHash value_hash;
    const error_code err =
        EvaluateChild(value, edges_begin, &link, depth + 1, need_hash ? &value_hash : nullptr);
    if (need_hash && !err) {
      ValueHash f = HashField(seeds_, key, value_hash);
      sum.a += f.a;
      sum.b += f.b;
    }
    capture_target_ = nullptr;
    if (err) return err;
  }

  // Whether the object has key `k`: by its slot bit when the closure table tracks it.
  auto has_key = [&](KeyId k) -> bool {
    const KeyInfo& info = schema_.keys[k];
    if (closure != nullptr && closure->closure_slot_bits) {
      const ClosureSlot* slot =
          schema_.FindKey(closure->closure_table, closure->closure_table_mask, k);
      if (slot != nullptr)
        return (keys.slots >> static_cast<size_t>(slot - closure->closure_table.data())) & 1;
    }
    return HasKey(keys, info);
  };
  for (uint32_t i = begin; i < end; ++i) {
    const Node& n = NodeOf(i);
    if (!n.has_object_keywords || !Live(i)) continue;
    NodeId id = instances_[i].node;
    if (instances_[i].required_hits < n.required.size()) {
      for (KeyId k : n.required) {
        const KeyInfo& info = schema_.keys[k];
        if (!has_key(k)) {
          Fail(i, NewError(ErrorKind::kRequired, id, path, JsonType::kObject, info.name));
          break;
        }
      }
    }
    if (field_count < n.min_properties)
      Fail(i, NewError(ErrorKind::kMinProperties, id, path, JsonType::kObject, {}, field_count));
    if (field_count > n.max_properties)
      Fail(i, NewError(ErrorKind::kMaxProperties, id, path, JsonType::kObject, {}, field_count));
  }
  CloseObject(keys);
  if (need_hash) {
    ValueHash h = FinishObject(seeds_, sum, field_count);
    CheckCompositeEnum(begin, end, JsonType::kObject, h, path);
    if (hash != nullptr) *hash = h;
  }
  return simdjson::SUCCESS;
}

error_code JsonSchemaValidator::Walker::EvaluateArray(ondemand::array arr, uint32_t begin,
                                                      uint32_t end, const PathLink* path, int depth,
                                                      ValueHash* hash) {
  CheckComposite(begin, end, JsonType::kArray, path);
  bool any_keywords = false, unique = false;
  for (uint32_t i = begin; i < end; ++i) {
    any_keywords |= NodeOf(i).has_array_keywords;
    unique |= NodeOf(i).unique_items && Live(i);
  }
  const bool need_hash = hash != nullptr || NeedsHash(begin, end);
  const size_t item_hashes_begin = item_hashes_.size();
  ValueHash array_hash = StartArray(seeds_);
  uint64_t index = 0;
  for (auto element : arr) {
    SIMDJSON_TRY(element.error());
    ondemand::value&& v = std::move(element).value_unsafe();  // in place: kNoCopy
    const PathLink link{path, {}, static_cast<int64_t>(index)};
    const size_t edges_begin = edges_.size();
    if (any_keywords) {
      for (uint32_t i = begin; i < end; ++i) {
        const Node& n = NodeOf(i);
        if (!n.has_array_keywords || !Live(i)) continue;
        NodeId child = index < n.prefix_items.size() ? n.prefix_items[index] : n.items;
        if (child != kNoNode) AddEdge(i, child, false, {}, path, &link);
      }
    }
    ValueHash item_hash;
    SIMDJSON_TRY(EvaluateChild(v, edges_begin, &link, depth + 1,
                               need_hash || unique ? &item_hash : nullptr));
    if (need_hash) array_hash = ChainElement(array_hash, item_hash);
    if (unique) item_hashes_.emplace_back(item_hash, index);
    ++index;
  }

  uint64_t first_duplicate = 0, second_duplicate = 0;
  bool has_duplicate = false;
  if (unique && item_hashes_.size() - item_hashes_begin > 1) {
    std::sort(item_hashes_.begin() + static_cast<ptrdiff_t>(item_hashes_begin), item_hashes_.end());
    for (size_t k = item_hashes_begin; k + 1 < item_hashes_.size(); ++k) {
      const auto& [hash_k, index_k] = item_hashes_[k];
      const auto& [hash_next, index_next] = item_hashes_[k + 1];
      if (hash_k == hash_next && (!has_duplicate || index_next < second_duplicate)) {
        has_duplicate = true;
        first_duplicate = index_k;  // sorted by (hash, index): index_k is the smaller
        second_duplicate = index_next;
      }
    }
  }
  item_hashes_.resize(item_hashes_begin);
  for (uint32_t i = begin; i < end; ++i) {
    const Node& n = NodeOf(i);
    if (!n.has_array_keywords || !Live(i)) continue;
    NodeId id = instances_[i].node;
    if (index < n.min_items)
      Fail(i, NewError(ErrorKind::kMinItems, id, path, JsonType::kArray, {}, index));
    if (index > n.max_items)
      Fail(i, NewError(ErrorKind::kMaxItems, id, path, JsonType::kArray, {}, index));
    if (n.unique_items && has_duplicate)
      Fail(i, NewError(ErrorKind::kUniqueItems, id, path, JsonType::kArray, {}, first_duplicate,
                       second_duplicate));
  }
  if (need_hash) {
    CheckCompositeEnum(begin, end, JsonType::kArray, array_hash, path);
    if (hash != nullptr) *hash = array_hash;
  }
  return simdjson::SUCCESS;
}

template <bool kRoot>
error_code JsonSchemaValidator::Walker::ConsumeObject(ondemand::object obj, const PathLink* path,
                                                      int depth) {
  ObjectKeys keys = OpenObject();
  for (auto field_result : obj) {
    SIMDJSON_TRY(field_result.error());
    ondemand::field&& field = std::move(field_result).value_unsafe();  // in place: kNoCopy
    std::string_view key;
    SIMDJSON_TRY(ReadKey(field, key));
    ondemand::value& value = field.value();
    const uint64_t fingerprint = KeyFingerprintPadded(key);
    if (!AddKey(keys, fingerprint, key))
      DocumentError(NewError(ErrorKind::kDuplicateKey, 0, path, JsonType::kObject, key));
    const PathLink link{path, key, -1};
    if (depth >= kMaxDepth) [[unlikely]]
      return TooDeep(&link);
    ondemand::json_type t;
    SIMDJSON_TRY(value.type().get(t));
    if constexpr (kRoot) {
      SIMDJSON_TRY(MatchCapture(key, fingerprint, value));
      if (capture_target_ != nullptr) {
        Scalar s;
        SIMDJSON_TRY(ReadScalar(value, t, s));
        continue;
      }
    }
    SIMDJSON_TRY(ConsumeTyped(value, t, &link, depth + 1));
  }
  CloseObject(keys);
  return simdjson::SUCCESS;
}

error_code JsonSchemaValidator::Walker::ConsumeArray(ondemand::array arr, const PathLink* path,
                                                     int depth) {
  int64_t index = 0;
  for (auto element : arr) {
    SIMDJSON_TRY(element.error());
    ondemand::value&& item = std::move(element).value_unsafe();  // in place: kNoCopy
    const PathLink link{path, {}, index++};
    if (depth >= kMaxDepth) [[unlikely]]
      return TooDeep(&link);
    ondemand::json_type t;
    SIMDJSON_TRY(item.type().get(t));
    SIMDJSON_TRY(ConsumeTyped(item, t, &link, depth + 1));
  }
  return simdjson::SUCCESS;
}

error_code JsonSchemaValidator::Walker::HashValue(ondemand::value& v, const PathLink* path,
                                                  int depth, ValueHash* hash) {
  if (depth > kMaxDepth) return TooDeep(path);
  ondemand::json_type t;
  SIMDJSON_TRY(v.type().get(t));
  switch (t) {
    case ondemand::json_type::object: {
      ondemand::object obj;
      SIMDJSON_TRY(v.get_object().get(obj));
      ObjectKeys keys = OpenObject();
      uint64_t count = 0;
      ValueHash sum;
      for (auto field_result : obj) {
        SIMDJSON_TRY(field_result.error());
        ondemand::field&& field = std::move(field_result).value_unsafe();  // in place: kNoCopy
        std::string_view key;
        SIMDJSON_TRY(ReadKey(field, key));
        ondemand::value& value = field.value();
        const uint64_t fingerprint = KeyFingerprintPadded(key);
        if (!AddKey(keys, fingerprint, key))
          DocumentError(NewError(ErrorKind::kDuplicateKey, 0, path, JsonType::kObject, key));
        if (depth == 0) SIMDJSON_TRY(MatchCapture(key, fingerprint, value));
        const PathLink link{path, key, -1};
        ValueHash value_hash;
        SIMDJSON_TRY(HashValue(value, &link, depth + 1, &value_hash));
        ValueHash f = HashField(seeds_, key, value_hash);
        sum.a += f.a;
        sum.b += f.b;
        ++count;
      }
      CloseObject(keys);
      *hash = FinishObject(seeds_, sum, count);
      return simdjson::SUCCESS;
    }
    case ondemand::json_type::array: {
      ondemand::array arr;
      SIMDJSON_TRY(v.get_array().get(arr));
      ValueHash array_hash = StartArray(seeds_);
      int64_t index = 0;
      for (auto element : arr) {
        SIMDJSON_TRY(element.error());
        ondemand::value&& item = std::move(element).value_unsafe();  // in place: kNoCopy
        const PathLink link{path, {}, index++};
        ValueHash item_hash;
        SIMDJSON_TRY(HashValue(item, &link, depth + 1, &item_hash));
        array_hash = ChainElement(array_hash, item_hash);
      }
      *hash = array_hash;
      return simdjson::SUCCESS;
    }
    default: {
      Scalar s;
      SIMDJSON_TRY(ReadScalar(v, t, s));
      *hash = HashScalar(seeds_, s.type, s.boolean, s.number, s.text);
      return simdjson::SUCCESS;
    }
  }
}

void JsonSchemaValidator::Walker::Fold(uint32_t begin, uint32_t end, const PathLink* path) {
  for (uint32_t i = begin; i < end; ++i) slots_[instances_[i].node] = i;  // see Lookup()
  for (uint32_t i = begin; i < end; ++i) {
    const Node& n = NodeOf(i);
    if (!n.has_applicators || !Live(i)) continue;
    const NodeId id = instances_[i].node;
    auto result = [&](NodeId child) { return instances_[Lookup(child, begin, end)].error; };
    // The earliest error is the first failure found in the document.
    uint32_t error = kNoError;
    auto take = [&](uint32_t e) { error = std::min(error, e); };
    if (n.ref != kNoNode) take(result(n.ref));
    for (NodeId c : n.all_of) take(result(c));
    if (!n.any_of.empty()) {
      uint32_t closest = 0;
      bool any = false;
      for (NodeId c : n.any_of) {
        uint32_t e = result(c);
        if (e == kNoError) {
          any = true;
          break;
        }
        closest = std::max(closest, e);  // the branch that got furthest
      }
      if (!any) take(NewError(ErrorKind::kAnyOf, id, path, {}, {}, 0, 0, 0, closest));
    }
    if (!n.one_of.empty()) {
      uint64_t matches = 0, first = 0, second = 0;
      uint32_t closest = 0;
      for (size_t b = 0; b < n.one_of.size(); ++b) {
        uint32_t e = result(n.one_of[b]);
        if (e == kNoError) {
          if (matches == 0) first = b;
          if (matches == 1) second = b;
          ++matches;
        } else {
          closest = std::max(closest, e);
        }
      }
      if (matches == 0) take(NewError(ErrorKind::kOneOfNone, id, path, {}, {}, 0, 0, 0, closest));
      if (matches > 1)
        take(NewError(ErrorKind::kOneOfMany, id, path, {}, {}, matches, first, second));
    }
    if (n.not_node != kNoNode && result(n.not_node) == kNoError)
      take(NewError(ErrorKind::kNot, id, path));
    if (n.if_node != kNoNode) {
      NodeId branch = result(n.if_node) == kNoError ? n.then_node : n.else_node;
      if (branch != kNoNode) take(result(branch));
    }
    instances_[i].error = error;
  }
}

Status JsonSchemaValidator::Walker::Run(ondemand::document& doc, std::string_view record) {
  instances_.clear();
  child_roots_.clear();
  edges_.clear();
  item_hashes_.clear();
  key_top_ = 0;
  errors_.clear();
  path_arena_.clear();
  keys_.Reset();
  document_error_ = kNoError;
  capture_target_ = nullptr;

  const NodeId root = schema_.root;
  uint32_t root_error = kNoError;

  auto walk = [&]() -> error_code {
    ondemand::json_type t;
    SIMDJSON_TRY(doc.type().get(t));
    if (t == ondemand::json_type::object || t == ondemand::json_type::array) {
      ondemand::value v;
      SIMDJSON_TRY(doc.get_value().get(v));
      // A stream without a schema (`true`): only JSON validity, duplicate keys and captures.
      if (nodes_[root].trivial && t == ondemand::json_type::object) {
        ondemand::object obj;
        SIMDJSON_TRY(v.get_object().get(obj));
        SIMDJSON_TRY(ConsumeObject<true>(obj, nullptr, 0));
      } else if (nodes_[root].trivial) {
        SIMDJSON_TRY(Consume(v, nullptr, 0));
      } else if (nodes_[root].simple) {
        SIMDJSON_TRY(EvaluateSimple(v, root, nullptr, 0, root_error));
      } else {
        SIMDJSON_TRY(EvaluateInFrame(v, root, nullptr, 0, root_error));
      }
      // The root value is consumed: anything but whitespace after it is trailing content.
      const char* trailing = nullptr;
      if (!doc.current_location().get(trailing)) return simdjson::TRAILING_CONTENT;
      return simdjson::SUCCESS;
    }
    // A scalar document is read through the document (simdjson checks that nothing follows).
    Scalar s;
    switch (t) {
      case ondemand::json_type::string:
        s.type = JsonType::kString;
        SIMDJSON_TRY(doc.get_string().get(s.text));
        break;
      case ondemand::json_type::number:
        s.type = JsonType::kNumber;
        s.text = TrimRight(doc.raw_json_token());
        SIMDJSON_TRY(doc.get_double().get(s.number));
        break;
      case ondemand::json_type::boolean:
        s.type = JsonType::kBoolean;
        SIMDJSON_TRY(doc.get_bool().get(s.boolean));
        s.text = s.boolean ? "true" : "false";
        break;
      default: {
        bool is_null = false;
        SIMDJSON_TRY(doc.is_null().get(is_null));
        if (!is_null) return simdjson::N_ATOM_ERROR;
        s.text = "null";
        break;
      }
    }
    root_error = EvaluateScalarInFrame(s, root, nullptr);
    return simdjson::SUCCESS;
  };

  if (error_code err = walk()) {
    if (err == simdjson::DEPTH_ERROR && document_error_ != kNoError)
      return Status::InvalidArgument(Message(document_error_));
    const char* at = nullptr;
    if (!doc.current_location().get(at) && at >= record.data() &&
        at <= record.data() + record.size()) {
      return Status::InvalidArgument(fmt::format("invalid JSON at byte {}: {}",
                                                 static_cast<size_t>(at - record.data()),
                                                 simdjson::error_message(err)));
    }
    return Status::InvalidArgument(fmt::format("invalid JSON: {}", simdjson::error_message(err)));
  }
  if (document_error_ != kNoError) return Status::InvalidArgument(Message(document_error_));
  if (root_error != kNoError) return Status::InvalidArgument(Message(root_error));
  return Status::Ok();
}

// ---- Messages ----

namespace {

std::string Quote(std::string_view s) {
  constexpr size_t kMaxBytes = 48;
  std::string out = "\"";
  size_t i = 0;
  for (; i < s.size() && i < kMaxBytes; ++i) {
    char c = s[i];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<int>(c));
    } else {
      out += c;
    }
  }
  if (i < s.size()) {
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
    out += "...";
  }
  out += '"';
  return out;
}

std::string TypeList(uint8_t types) {
  std::vector<std::string_view> names;
  if (types & kNullBit) names.push_back("null");
  if (types & kBooleanBit) names.push_back("boolean");
  if (types & kObjectBit) names.push_back("object");
  if (types & kArrayBit) names.push_back("array");
  if (types & kNumberBit) {
    names.push_back("number");
  } else if (types & kIntegerBit) {
    names.push_back("integer");
  }
  if (types & kStringBit) names.push_back("string");
  if (names.size() == 1) return std::string(names[0]);
  if (names.size() == 2) return fmt::format("{} or {}", names[0], names[1]);
  return fmt::format("one of {}", fmt::join(names, ", "));
}

std::string EnumList(const Node& n) {
  std::string out;
  for (const Constant& c : n.enum_values) {
    if (out.size() > 80) {
      out += ", ...";
      break;
    }
    if (!out.empty()) out += ", ";
    out += c.text.size() > 40 ? c.text.substr(0, 37) + "..." : c.text;
  }
  return out;
}

}  // namespace

std::string JsonSchemaValidator::Walker::Rule(const Error& e) const {
  const Node& n = nodes_[e.node];
  std::string value;
  switch (e.value_type) {
    case JsonType::kObject:
      value = "an object";
      break;
    case JsonType::kArray:
      value = "an array";
      break;
    case JsonType::kString:
      value = Quote(e.text);
      break;
    default:
      value = std::string(e.text);
      break;
  }
  switch (e.kind) {
    case ErrorKind::kType:
      return fmt::format("{} is not of type {}", value, TypeList(n.types));
    case ErrorKind::kEnum:
      if (n.enum_is_const)
        return fmt::format("{} is not equal to the constant {}", value, EnumList(n));
      return fmt::format("{} is not one of the allowed values [{}]", value, EnumList(n));
    case ErrorKind::kMinimum:
      return fmt::format("{} is less than minimum {}", value, n.minimum_text);
    case ErrorKind::kMaximum:
      return fmt::format("{} is greater than maximum {}", value, n.maximum_text);
    case ErrorKind::kExclusiveMinimum:
      return fmt::format("{} is not greater than exclusiveMinimum {}", value,
                         n.exclusive_minimum_text);
    case ErrorKind::kExclusiveMaximum:
      return fmt::format("{} is not less than exclusiveMaximum {}", value,
                         n.exclusive_maximum_text);
    case ErrorKind::kMultipleOf:
      return fmt::format("{} is not a multiple of {}", value, n.multiple_of_text);
    case ErrorKind::kMinLength:
      return fmt::format("{} has {} characters, fewer than minLength {}", value, e.count,
                         n.min_length);
    case ErrorKind::kMaxLength:
      return fmt::format("{} has {} characters, more than maxLength {}", value, e.count,
                         n.max_length);
    case ErrorKind::kPattern:
      return fmt::format("{} does not match pattern {}", value, n.pattern_source);
    case ErrorKind::kFormat:
      return fmt::format("{} is not a valid {}", value, n.format_name);
    case ErrorKind::kRequired:
      return fmt::format("missing required property '{}'", e.text);
    case ErrorKind::kPropertyNotAllowed:
      return fmt::format("property '{}' is not allowed (additionalProperties)", e.text);
    case ErrorKind::kFalseSchema:
      return "no value is allowed here (the schema is false)";
    case ErrorKind::kMinProperties:
      return fmt::format("object has {} properties, fewer than minProperties {}", e.count,
                         n.min_properties);
    case ErrorKind::kMaxProperties:
      return fmt::format("object has {} properties, more than maxProperties {}", e.count,
                         n.max_properties);
    case ErrorKind::kPropertyName:
      return fmt::format("property name {} is invalid: {}", Quote(e.text), Rule(errors_[e.cause]));
    case ErrorKind::kMinItems:
      return fmt::format("array has {} items, fewer than minItems {}", e.count, n.min_items);
    case ErrorKind::kMaxItems:
      return fmt::format("array has {} items, more than maxItems {}", e.count, n.max_items);
    case ErrorKind::kUniqueItems:
      return fmt::format("items {} and {} are equal (uniqueItems)", e.count, e.count2);
    case ErrorKind::kAnyOf:
      return fmt::format("matches none of the anyOf schemas (closest: {})", Message(e.cause));
    case ErrorKind::kOneOfNone:
      return fmt::format("matches none of the oneOf schemas (closest: {})", Message(e.cause));
    case ErrorKind::kOneOfMany:
      return fmt::format(
          "matches {} of the oneOf schemas (expected exactly one; branches {} and {} match)",
          e.count, e.count2, e.count3);
    case ErrorKind::kNot:
      return "matches the schema in 'not'";
    case ErrorKind::kDuplicateKey:
      return fmt::format("duplicate key '{}'", e.text);
    case ErrorKind::kTooDeep:
      return fmt::format("value nested deeper than {} levels", kMaxDepth);
  }
  return "invalid";
}

std::string JsonSchemaValidator::Walker::Message(uint32_t error) const {
  const Error& e = errors_[error];
  std::string pointer;
  for (uint32_t i = e.path_begin; i < e.path_begin + e.path_size; ++i) {
    pointer += '/';
    const PathSegment& s = path_arena_[i];
    if (s.index >= 0) {
      pointer += std::to_string(s.index);
      continue;
    }
    AppendPointerToken(pointer, s.key);
  }
  if (pointer.empty()) pointer = "/";
  return pointer + ": " + Rule(e);
}

// ---- JsonSchemaValidator ----

JsonSchemaValidator::JsonSchemaValidator(std::shared_ptr<const CompiledSchema> schema,
                                         std::span<const std::string> captured_fields)
    : schema_(std::move(schema)) {
  for (const std::string& name : captured_fields) {
    if (captured_names_.size() == kMaxCapturedFields) break;
    captured_names_.push_back(name);
  }
  walker_ = std::make_unique<Walker>(*schema_, captured_names_, captured_);
}

JsonSchemaValidator::~JsonSchemaValidator() = default;

Status JsonSchemaValidator::Validate(std::string_view record) {
  captured_.fill(CapturedField{});
  simdjson::padded_string_view input(record.data(), record.size(),
                                     record.size() + simdjson::SIMDJSON_PADDING);
  ondemand::document doc;
  if (auto err = parser_.iterate(input).get(doc))
    return Status::InvalidArgument(fmt::format("invalid JSON: {}", simdjson::error_message(err)));
  return walker_->Run(doc, record);
}

}  // namespace sluice::schema
