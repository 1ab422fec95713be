// The compiled form of a JSON Schema, shared by the compiler (json_schema.cc) and the validator
// (json_schema_validator.cc). Not a public header: only src/schema includes it.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <re2/re2.h>

#include "base/status.h"
#include "schema/json_schema.h"

namespace sluice::schema::internal {

using NodeId = uint32_t;
inline constexpr NodeId kNoNode = std::numeric_limits<NodeId>::max();
using KeyId = uint32_t;
inline constexpr KeyId kUnknownKey = std::numeric_limits<KeyId>::max();
inline constexpr uint64_t kUnbounded = std::numeric_limits<uint64_t>::max();

// Appends `token` to a JSON Pointer (RFC 6901) under construction: '~' as "~0", '/' as "~1".
inline void AppendPointerToken(std::string& pointer, std::string_view token) {
  for (char c : token) {
    if (c == '~') {
      pointer += "~0";
    } else if (c == '/') {
      pointer += "~1";
    } else {
      pointer += c;
    }
  }
}
inline std::string EscapePointerToken(std::string_view token) {
  std::string out;
  AppendPointerToken(out, token);
  return out;
}

// Bits of Node::types and of a value's type. A number with no fractional part has both
// kNumberBit and kIntegerBit; "type": "integer" asks for kIntegerBit only.
enum TypeBit : uint8_t {
  kNullBit = 1,
  kBooleanBit = 2,
  kObjectBit = 4,
  kArrayBit = 8,
  kNumberBit = 16,
  kIntegerBit = 32,
  kStringBit = 64,
};

enum class Format : uint8_t {
  kNone,
  kDateTime,
  kDate,
  kTime,
  kIsoTime,
  kIsoDateTime,
  kEmail,
  kUuid,
  kIpv4,
  kHostname,
  kDuration,
  kInt32,  // the number formats apply to numbers only
  kInt64,
  kAnyNumber,  // "float" and "double": ajv-formats accepts every number
  kAnyString,  // "password" and "binary": ajv-formats accepts every string
};

// Returns the Format for an ajv-formats name, or nullopt-like kNone with ok=false.
bool LookupFormat(std::string_view name, Format& out);
bool FormatAppliesToNumbers(Format f);
// "YYYY-MM-DDTHH:MM:SSZ", or with a fraction of a second, naming a valid instant: true only for a
// valid date-time (false decides nothing; CheckStringFormat does). Reads the first 19 bytes with
// word loads, so `s` needs no padding beyond its 20 or more bytes.
bool IsCommonDateTime(std::string_view s);
// Whether the string / number satisfies the format exactly as ajv-formats ("full" mode) decides.
bool CheckStringFormat(Format f, std::string_view s);
bool CheckNumberFormat(Format f, double v);

// An ECMAScript pattern of the form most schemas use for codes and identifiers, such as
// ^[A-Z]{3}$, ^[0-9a-f]{32}$ or ^[A-Z][A-Z_]*$: anchored at the start, a sequence of ASCII
// character classes (or single characters, \d, \w) each with a quantifier, optionally anchored
// at the end. Runs as one loop over the string, ~10x fewer instructions than RE2 on short
// strings, with RE2's answer (tests/schema compares them).
struct SimplePattern {
  static constexpr uint32_t kUnbounded = std::numeric_limits<uint32_t>::max();
  // A character class repeated min to max times.
  struct Atom {
    // Bit c % 64 of bits[c / 64]: character c is in the class. Four words although the class
    // is ASCII, so that Has() needs no branch: a branch on c < 64 would be a coin flip on
    // hex digits.
    uint64_t bits[4] = {};
    // member[c]: 1 when character c is in the class, else 0 (the bits as bytes, filled by
    // CompileSimplePattern): Matches() tests a character with one load and ANDs blocks of them.
    uint8_t member[256] = {};
    uint32_t min = 1;
    uint32_t max = 1;
    void AddRange(char lo, char hi);
    bool Has(char c) const {
      const auto u = static_cast<unsigned char>(c);
      return (bits[u >> 6] >> (u & 63)) & 1;
    }
    uint8_t Member(char c) const { return member[static_cast<unsigned char>(c)]; }
    bool Overlaps(const Atom& o) const {
      return ((bits[0] & o.bits[0]) | (bits[1] & o.bits[1])) != 0;
    }
  };
  std::vector<Atom> atoms;
  bool anchored_end = false;  // ends with $: the whole string must be used up
  // RegExp.test(s). Classes hold only ASCII, so a non-ASCII code point never matches an atom and
  // each matched character is one byte.
  bool Matches(std::string_view s) const;
};
// Fills `out` and returns true when `js` has the simple form and greedy matching without
// backtracking decides it exactly (see the .cc); false leaves the pattern to RE2.
bool CompileSimplePattern(std::string_view js, SimplePattern& out);

// Translates an ECMAScript regular expression (as compiled by ajv: `new RegExp(p, "u")`) into
// RE2 syntax with the same meaning: `.` excludes only line terminators, `\s` is JavaScript's
// whitespace set, `\uXXXX` escapes, `[^]`. Lookaround and backreferences, which RE2 cannot run,
// are errors.
Status TranslateJsRegex(std::string_view js, std::string& re2_syntax);

inline uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Byte equality, inline for the short strings that object keys are.
inline bool SameBytes(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  if (n >= 8 && n <= 32) {
    const char *x = a.data(), *y = b.data();
    const size_t mid = n > 16 ? 8 : 0;  // four overlapping words cover up to 32 bytes
    return Load64(x) == Load64(y) && Load64(x + mid) == Load64(y + mid) &&
           Load64(x + n - 8 - mid) == Load64(y + n - 8 - mid) &&
           Load64(x + n - 8) == Load64(y + n - 8);
  }
  return std::memcmp(a.data(), b.data(), n) == 0;
}

// 64-bit hashing for keys and for canonical value hashes (uniqueItems, composite enum values).
inline uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}
// Multiplies into 128 bits and folds: the mixing step of wyhash-style hashes.
inline uint64_t MulFold(uint64_t a, uint64_t b) {
  unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}
// Seeded, for canonical value hashes and the keys of large objects; reads short strings with a
// couple of (overlapping) loads instead of a byte loop.
inline uint64_t HashBytes(std::string_view s, uint64_t seed) {
  auto load64 = Load64;
  auto load32 = [](const char* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return static_cast<uint64_t>(v);
  };
  const char* p = s.data();
  const size_t n = s.size();
  constexpr uint64_t k1 = 0xa0761d6478bd642full, k2 = 0xe7037ed1a0b428dbull;
  uint64_t a = 0, b = 0;
  if (n >= 8) {
    for (size_t i = 0; i + 16 < n; i += 16)
      seed = MulFold(load64(p + i) ^ k1, load64(p + i + 8) ^ seed);
    a = n > 8 ? load64(p + (n > 16 ? n - 16 : 0)) : 0;
    b = load64(p + n - 8);
  } else if (n >= 4) {
    a = load32(p);
    b = load32(p + n - 4);
  } else if (n > 0) {
    a = (static_cast<uint64_t>(static_cast<unsigned char>(p[0])) << 16) |
        (static_cast<uint64_t>(static_cast<unsigned char>(p[n >> 1])) << 8) |
        static_cast<unsigned char>(p[n - 1]);
  }
  return MulFold(a ^ k2 ^ n, b ^ seed ^ k1) ^ seed;
}

// The hash of object keys for property tables and for duplicate detection in small objects:
// the length and the first and last 8 bytes of the key (all of a shorter key), mixed by one
// multiplication. About ten instructions, against ~25 for HashBytes, and every key of every
// event pays it. Its collisions are easy to make on purpose, which costs nothing here: a
// property-table probe ends at the table's first empty slot whatever the key, and a small
// object's key list is bounded (see the validator's ObjectKeys); objects with many keys use the
// seeded HashBytes.
//
// Reads 8 bytes from key.data() even when the key is shorter (they are masked out): callers
// must have them readable. Keys of events do (they are in the padded record or in simdjson's
// string buffer, which has SIMDJSON_PADDING to spare); anything else goes through
// KeyFingerprint().
inline uint64_t KeyFingerprintPadded(std::string_view key);
inline uint64_t KeyFingerprint(std::string_view key) {
  std::string padded(key);
  padded.append(8, '\0');
  return KeyFingerprintPadded(std::string_view(padded).substr(0, key.size()));
}

// The first and last 8 bytes of a key; a key shorter than 8 bytes gives its bytes, zero-extended,
// twice. Reads 8 bytes from key.data(), like KeyFingerprintPadded. (A branch-free version, with
// the length test as a select, measured slower: it puts the compare before the loads.)
struct KeyWords {
  uint64_t head = 0;
  uint64_t tail = 0;
};
inline KeyWords ReadKeyWords(std::string_view key) {
  const char* p = key.data();
  const size_t n = key.size();
  if (n >= 8) return {Load64(p), Load64(p + n - 8)};
  const uint64_t head = Load64(p) & ((uint64_t{1} << (8 * n)) - 1);
  return {head, head};
}
inline uint64_t KeyFingerprintPadded(std::string_view key) {
  const KeyWords w = ReadKeyWords(key);
  const uint64_t x = (w.head ^ std::rotl(w.tail, 29) ^ key.size()) * 0x9e3779b97f4a7c15ull;
  return x ^ (x >> 29);  // the table index takes the low bits, the Bloom filter the high ones
}

// A canonical 128-bit hash of a JSON value: equal values (objects with keys in any order,
// numbers by value) hash equally.
struct ValueHash {
  uint64_t a = 0, b = 0;
  bool operator==(const ValueHash&) const = default;
  bool operator<(const ValueHash& o) const { return a != o.a ? a < o.a : b < o.b; }
};
// Random per compiled schema, so that nobody can compute our hashes offline: they decide enum
// and const equality for objects and arrays, and an attacker who could find collisions could
// make a wrong value pass (or flood the duplicate-key set).
struct HashSeeds {
  uint64_t a = 0x243f6a8885a308d3ull;
  uint64_t b = 0x13198a2e03707344ull;
};
ValueHash HashScalar(const HashSeeds& seeds, JsonType type, bool boolean, double number,
                     std::string_view string);
// Objects: the field hashes are summed, so key order does not matter.
ValueHash HashField(const HashSeeds& seeds, std::string_view key, const ValueHash& value);
ValueHash FinishObject(const HashSeeds& seeds, const ValueHash& sum, uint64_t count);
// Arrays: elements are chained in order.
inline ValueHash StartArray(const HashSeeds& seeds) {
  return {seeds.a ^ 0xa, seeds.b ^ 0xa};
}
ValueHash ChainElement(const ValueHash& array, const ValueHash& element);

// A value of `enum` or `const`.
struct Constant {
  JsonType type = JsonType::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  ValueHash hash;    // canonical hash, used for objects and arrays
  std::string text;  // the JSON text, for messages
};

// An entry of a node's property table: a key named in `properties` and/or `required`.
// The key of a slot of a property table (PropertySlot, ClosureSlot), with copies of what
// CompiledSchema::Find compares an event's key against, so that a probe reads only the slot.
struct TableKey {
  uint64_t hash = 0;  // KeyFingerprint
  KeyWords words;     // ReadKeyWords of the name
  uint32_t length = 0;
  KeyId key = kUnknownKey;  // kUnknownKey: an empty slot
};

struct PropertySlot : TableKey {
  NodeId child = kNoNode;  // kNoNode: the key is required but not in `properties`
  bool required = false;
  // With Node::gates_in_property_table: the index of the key's slot in the node's
  // condition_table, or kNoGate when no condition's `if` tests the key.
  uint32_t gate = kNoGate;
  static constexpr uint32_t kNoGate = std::numeric_limits<uint32_t>::max();
  uint32_t index = 0;  // of this slot in its table (slot bits), without a pointer division
};

// The closure property table of a node (Node::closure_table): for one key, the entries
// closure_properties[begin, begin + count), in closure order.
struct ClosureSlot : TableKey {
  uint32_t begin = 0;
  uint32_t count = 0;
};
// The key's entry in one node of the closure: that node's property child (kNoNode when the key
// is only required) and whether it requires the key. `position` is the node's index in closure.
struct ClosureProperty {
  uint32_t position = 0;
  NodeId child = kNoNode;
  bool required = false;
};

struct PatternProperty {
  std::unique_ptr<RE2> regex;
  std::string source;
  NodeId node = kNoNode;
};

// One compiled (sub)schema.
struct Node {
  std::string location;       // JSON pointer of the subschema in the schema document
  bool always_false = false;  // the boolean schema false
  bool trivial = false;       // no assertion and no applicator: every value is valid

  uint8_t types = 0;  // TypeBit mask; 0: any type

  bool has_enum = false;
  bool enum_is_const = false;
  bool enum_has_composite = false;  // then the value's canonical hash is needed
  std::vector<Constant> enum_values;

  // Numbers. NaN = absent.
  double minimum = std::numeric_limits<double>::quiet_NaN();
  double maximum = std::numeric_limits<double>::quiet_NaN();
  double exclusive_minimum = std::numeric_limits<double>::quiet_NaN();
  double exclusive_maximum = std::numeric_limits<double>::quiet_NaN();
  double multiple_of = std::numeric_limits<double>::quiet_NaN();
  std::string minimum_text, maximum_text, exclusive_minimum_text, exclusive_maximum_text,
      multiple_of_text;  // as written in the schema, for messages

  // Strings.
  uint64_t min_length = 0;
  uint64_t max_length = kUnbounded;
  std::unique_ptr<RE2> pattern;
  std::string pattern_source;
  bool has_simple_pattern = false;  // then simple_pattern runs instead of RE2
  SimplePattern simple_pattern;
  Format format = Format::kNone;
  std::string format_name;

  // Objects.
  std::vector<std::pair<KeyId, NodeId>> properties;  // sorted by key id
  std::vector<PatternProperty> pattern_properties;
  NodeId additional_properties = kNoNode;
  NodeId property_names = kNoNode;
  std::vector<KeyId> required;
  // `properties` and `required` by key hash (open addressing), for one probe per field.
  std::vector<PropertySlot> property_table;
  uint64_t property_table_mask = 0;
  // Perfect: every key sits at slot (hash >> property_table_shift) & mask, so a lookup reads
  // that one slot, hit or miss, and the empty slots have a length no key has. Else the keys
  // are placed by linear probing from hash & mask.
  bool property_table_perfect = false;
  uint8_t property_table_shift = 0;
  uint64_t min_properties = 0;
  uint64_t max_properties = kUnbounded;

  // Arrays.
  std::vector<NodeId> prefix_items;
  NodeId items = kNoNode;
  uint64_t min_items = 0;
  uint64_t max_items = kUnbounded;
  bool unique_items = false;

  // In-place applicators: they apply to the same value as this node.
  std::vector<NodeId> all_of, any_of, one_of;
  NodeId not_node = kNoNode, if_node = kNoNode, then_node = kNoNode, else_node = kNoNode;
  NodeId ref = kNoNode;
  std::string ref_text;

  // Derived by the compiler.
  bool has_object_keywords = false;
  bool has_array_keywords = false;
  bool has_number_keywords = false;  // bounds, multipleOf, a number format
  bool has_string_keywords = false;  // lengths, pattern, a string format
  bool has_applicators = false;
  // This node and every node reachable from it through in-place applicators, each once, in
  // fold order: a node comes after all nodes its applicators refer to.
  std::vector<NodeId> closure;
  uint32_t fold_rank = 0;  // position in a global fold order

  // Checked by the validator without frames (see EvaluateSimple there): no keyword needs the
  // general path: patternProperties and propertyNames (which hand keys to several subschemas),
  // uniqueItems and object or array members of enum/const (which need value hashes); and the
  // closure is this node alone, or this node and its `conditions`.
  bool simple = false;
  // The in-place applicators of a simple node whose closure has more than itself: if/then/else,
  // on the node itself or in allOf members that hold nothing else, each `if` testing only
  // `required` and `properties` whose subschemas are leaves (they check an object or array
  // value without reading into it) and each branch only `required`. That is the usual "these
  // fields are required when the type is one of ..." rule (the fulfilment schema's financial
  // and exception events). The validator decides them from the object's keys and from the
  // if-properties' values it checks on the way, in the frameless pass.
  struct Condition {
    NodeId if_node = kNoNode;
    NodeId then_node = kNoNode;  // kNoNode: none
    NodeId else_node = kNoNode;
  };
  std::vector<Condition> conditions;
  // The if-nodes' `properties` by key: entries (position: the condition's index, child: the
  // if-node's subschema for the key) in condition_properties[begin, begin + count).
  std::vector<ClosureSlot> condition_table;
  uint64_t condition_table_mask = 0;
  // Every key of condition_table is in property_table, whose slots then give its gate
  // (PropertySlot::gate): one lookup per field instead of two.
  bool gates_in_property_table = false;
  std::vector<ClosureProperty> condition_properties;
  // TypeBit mask of the scalars this node accepts with nothing more to check (no enum, bounds,
  // lengths, pattern or format apply to them): the validator's one-test leaf check.
  uint8_t scalar_pass = 0;
  // property_table has at most 64 slots: an object's declared keys are tracked in one word of
  // slot bits, set from the lookup done anyway, rather than listed for duplicate detection.
  bool slot_bits = false;
  uint64_t required_slots = 0;  // with slot_bits: the slots of the `required` keys

  // For a closure of several nodes (allOf, if/then, ...): the `properties` and `required` of all
  // of them by key, so that a field costs one lookup rather than one per node. Built only when
  // no node of the closure has additionalProperties, patternProperties or propertyNames, whose
  // per-key work the table cannot express.
  std::vector<ClosureSlot> closure_table;
  uint64_t closure_table_mask = 0;
  bool closure_slot_bits = false;  // closure_table has at most 64 slots, like slot_bits
  std::vector<ClosureProperty> closure_properties;
};

// What the validator's frameless path needs of a node, in 40 bytes (CompiledSchema::briefs), so
// that the usual leaf checks need neither the ~600-byte Node nor a call.
struct NodeBrief {
  enum Kind : uint8_t {
    kTrivial,  // every value is valid: only read
    kSimple,   // Node::simple, not the false schema
    kOther,    // the false schema, or a node with applicators: see the validator
  };
  Kind kind = kOther;
  uint8_t scalar_pass = 0;  // Node::scalar_pass
  // The quick check: a scalar whose TypeBit is in quick_types passes the node's keywords when
  // - a string: its byte length is within [quick_min_bytes, quick_max_bytes], with
  //   quick_date_time IsCommonDateTime() holds, and with quick_pattern the pattern matches;
  // - a number: it is within [quick_minimum, quick_maximum].
  // Set only for nodes whose keywords for that type are no more than these (lengths, a
  // date-time format; minimum and maximum), so a pass is the full check's answer; a scalar that
  // fails the quick check goes to the full check, which decides (and names the error).
  uint8_t quick_types = 0;
  bool quick_date_time = false;
  uint32_t quick_min_bytes = 0;  // 4 x minLength: then no string of that many bytes is shorter
  uint32_t quick_max_bytes = 0;  // maxLength: no string of that many bytes is longer
  double quick_minimum = 0;
  double quick_maximum = 0;
  const SimplePattern* quick_pattern = nullptr;  // the node's pattern, when it is simple
};

struct KeyInfo {
  std::string name;
  uint64_t hash = 0;  // KeyFingerprint(name)
  KeyWords words;     // ReadKeyWords(name)
  // The TableKey of this key, for slot `key_id`.
  TableKey ToTableKey(KeyId key_id) const {
    return {hash, words, static_cast<uint32_t>(name.size()), key_id};
  }
};

}  // namespace sluice::schema::internal

namespace sluice::schema {

class CompiledSchema {
 public:
  std::vector<internal::Node> nodes;
  std::vector<internal::NodeBrief> briefs;  // one per node
  internal::NodeId root = 0;
  // Every property name the schema mentions (properties, required), with its key id.
  std::vector<internal::KeyInfo> keys;

  internal::HashSeeds seeds;
  // Keys of objects too large for the validator's key list are hashed as HashBytes(key,
  // KeySeed()).
  uint64_t KeySeed() const { return seeds.a; }

  // The slot of an event's key `name` (whose KeyFingerprint is `hash`; 8 bytes readable from
  // name.data(), see KeyFingerprintPadded) in an open-addressing table of PropertySlot or
  // ClosureSlot with `mask` + 1 slots (at least one, and at least one empty), or nullptr.
  // Names of up to 16 bytes are equal when their length and KeyWords are.
  template <typename Slot>
  const Slot* Find(const std::vector<Slot>& table, uint64_t mask, uint64_t hash,
                   std::string_view name) const {
    const internal::KeyWords w = internal::ReadKeyWords(name);
    for (uint64_t i = hash & mask;; i = (i + 1) & mask) {
      const Slot& slot = table[i];
      if (slot.key == internal::kUnknownKey) return nullptr;
      if (slot.hash == hash && slot.length == name.size() &&
          ((slot.words.head ^ w.head) | (slot.words.tail ^ w.tail)) == 0 &&
          (name.size() <= 16 || internal::SameBytes(keys[slot.key].name, name)))
        return &slot;
    }
  }
  const internal::PropertySlot* FindProperty(const internal::Node& node, uint64_t hash,
                                             std::string_view name) const {
    if (!node.property_table_perfect)
      return Find(node.property_table, node.property_table_mask, hash, name);
    return MatchSlot(
        node.property_table[(hash >> node.property_table_shift) & node.property_table_mask], hash,
        name, keys);
  }
  // `slot` when it holds the key `name` (as Find() compares), else nullptr.
  static const internal::PropertySlot* MatchSlot(const internal::PropertySlot& slot, uint64_t hash,
                                                 std::string_view name,
                                                 const std::vector<internal::KeyInfo>& keys) {
    const internal::KeyWords w = internal::ReadKeyWords(name);
    return slot.hash == hash && slot.length == name.size() &&
                   ((slot.words.head ^ w.head) | (slot.words.tail ^ w.tail)) == 0 &&
                   (name.size() <= 16 || internal::SameBytes(keys[slot.key].name, name))
               ? &slot
               : nullptr;
  }
  // The slot of the schema's key `key` in `node`'s property table, or nullptr.
  const internal::PropertySlot* FindPropertyKey(const internal::Node& node,
                                                internal::KeyId key) const {
    if (!node.property_table_perfect)
      return FindKey(node.property_table, node.property_table_mask, key);
    const internal::PropertySlot& slot =
        node.property_table[(keys[key].hash >> node.property_table_shift) &
                            node.property_table_mask];
    return slot.key == key ? &slot : nullptr;
  }
  // The slot of the schema's key `key` in such a table, or nullptr.
  template <typename Slot>
  const Slot* FindKey(const std::vector<Slot>& table, uint64_t mask, internal::KeyId key) const {
    if (table.empty()) return nullptr;
    for (uint64_t i = keys[key].hash & mask;; i = (i + 1) & mask) {
      if (table[i].key == key) return &table[i];
      if (table[i].key == internal::kUnknownKey) return nullptr;
    }
  }
};

}  // namespace sluice::schema
