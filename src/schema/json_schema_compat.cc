// JSON Schema evolution check, modelled on Confluent's io.confluent.kafka.schemaregistry.json.diff
// (SchemaDiff and friends): walk the writer and reader schemas in parallel and report every
// change that lets the reader reject a value the writer accepts. The change names are
// Confluent's Difference.Type names so that users can look them up in Confluent's documentation.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "schema/compatibility.h"
#include "schema/json_schema_internal.h"

namespace sluice::schema {

using json = nlohmann::json;

std::string SchemaDifference::ToString() const {
  return fmt::format("{{errorType:\"{}\", description:\"{}\"}}", type, description);
}

namespace {

// Value types as bits; "number" is integer | fraction so that integer -> number is a widening.
enum TypeBits : unsigned {
  kNull = 1,
  kBoolean = 2,
  kObject = 4,
  kArray = 8,
  kString = 16,
  kInteger = 32,
  kFraction = 64,  // numbers that are not integers
  kNumber = kInteger | kFraction,
  kAllTypes = 127,
};

bool IsAnnotation(std::string_view k) {
  static const std::set<std::string_view> kAnnotations = {
      "title",         "description", "$comment",    "examples",        "default",
      "deprecated",    "readOnly",    "writeOnly",   "$schema",         "$id",
      "$anchor",       "$defs",       "definitions", "contentEncoding", "contentMediaType",
      "contentSchema",
  };
  return kAnnotations.count(k) > 0 || k.substr(0, 2) == "x-";
}

// Keywords compared structurally below; every other constraining keyword is compared verbatim.
bool IsAnalysed(std::string_view k) {
  static const std::set<std::string_view> kAnalysed = {
      "type",
      "enum",
      "const",
      "allOf",
      "anyOf",
      "oneOf",
      "not",
      "$ref",
      "minLength",
      "maxLength",
      "pattern",
      "format",
      "minimum",
      "maximum",
      "exclusiveMinimum",
      "exclusiveMaximum",
      "multipleOf",
      "properties",
      "required",
      "additionalProperties",
      "patternProperties",
      "minProperties",
      "maxProperties",
      "dependentRequired",
      "items",
      "prefixItems",
      "additionalItems",
      "minItems",
      "maxItems",
      "uniqueItems",
  };
  return kAnalysed.count(k) > 0;
}

// When a schema has no "type", the type-specific keywords it uses say which types it is about
// (as Confluent's JSON Schema library decides); without any, it is about every type.
unsigned InferredTypes(const json& s) {
  static const std::pair<std::string_view, unsigned> kKeywordTypes[] = {
      {"properties", kObject},
      {"required", kObject},
      {"additionalProperties", kObject},
      {"patternProperties", kObject},
      {"minProperties", kObject},
      {"maxProperties", kObject},
      {"dependentRequired", kObject},
      {"propertyNames", kObject},
      {"dependentSchemas", kObject},
      {"items", kArray},
      {"prefixItems", kArray},
      {"additionalItems", kArray},
      {"minItems", kArray},
      {"maxItems", kArray},
      {"uniqueItems", kArray},
      {"contains", kArray},
      {"minLength", kString},
      {"maxLength", kString},
      {"pattern", kString},
      {"minimum", kNumber},
      {"maximum", kNumber},
      {"exclusiveMinimum", kNumber},
      {"exclusiveMaximum", kNumber},
      {"multipleOf", kNumber},
  };
  unsigned bits = 0;
  for (const auto& [k, t] : kKeywordTypes)
    if (s.contains(k)) bits |= t;
  return bits == 0 ? kAllTypes : bits;
}

unsigned TypeNameBits(const json& name) {
  if (!name.is_string()) return 0;
  const auto& n = name.get_ref<const std::string&>();
  if (n == "null") return kNull;
  if (n == "boolean") return kBoolean;
  if (n == "object") return kObject;
  if (n == "array") return kArray;
  if (n == "string") return kString;
  if (n == "integer") return kInteger;
  if (n == "number") return kNumber;
  return 0;
}

unsigned ValueTypeBits(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return kNull;
    case json::value_t::boolean:
      return kBoolean;
    case json::value_t::object:
      return kObject;
    case json::value_t::array:
      return kArray;
    case json::value_t::string:
      return kString;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return kInteger;
    case json::value_t::number_float: {
      double d = v.get<double>();
      return std::floor(d) == d ? kInteger : kFraction;
    }
    default:
      return 0;
  }
}

std::string TypeNames(unsigned bits) {
  std::vector<std::string> names;
  if (bits & kNull) names.push_back("null");
  if (bits & kBoolean) names.push_back("boolean");
  if (bits & kObject) names.push_back("object");
  if (bits & kArray) names.push_back("array");
  if (bits & kString) names.push_back("string");
  if ((bits & kNumber) == kNumber) {
    names.push_back("number");
  } else if (bits & kInteger) {
    names.push_back("integer");
  } else if (bits & kFraction) {
    names.push_back("non-integer number");
  }
  return names.size() == 1 ? names[0] : fmt::format("[{}]", fmt::join(names, ", "));
}

const json* Get(const json* node, std::string_view key) {
  if (!node->is_object()) return nullptr;
  auto it = node->find(key);
  return it == node->end() ? nullptr : &*it;
}

std::optional<double> Number(const json* node, std::string_view key) {
  const json* v = Get(node, key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->get<double>();
}

std::string Num(double v) {
  return fmt::format("{}", v);
}  // 8, not 8.0

// Code points, as JSON Schema counts string length.
size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool RegexSearch(const std::string& pattern, const std::string& text) {
  // Patterns were compiled by CompileJsonSchema already; std::regex speaks the same ECMAScript
  // dialect for what matters here (deciding which pattern covers a property name).
  try {
    return std::regex_search(text, std::regex(pattern, std::regex::ECMAScript));
  } catch (const std::regex_error&) {
    return false;
  }
}

struct Bound {
  double value;
  bool exclusive;
};

// The tighter of minimum/exclusiveMinimum (lower) or maximum/exclusiveMaximum (upper).
std::optional<Bound> Limit(const json* s, bool lower) {
  auto inclusive = Number(s, lower ? "minimum" : "maximum");
  auto exclusive = Number(s, lower ? "exclusiveMinimum" : "exclusiveMaximum");
  if (!inclusive && !exclusive) return std::nullopt;
  if (!exclusive) return Bound{*inclusive, false};
  if (!inclusive) return Bound{*exclusive, true};
  bool excl_tighter = lower ? *exclusive >= *inclusive : *exclusive <= *inclusive;
  return excl_tighter ? Bound{*exclusive, true} : Bound{*inclusive, false};
}

const json kTrue = true;

class JsonCompat {
 public:
  using Out = std::vector<SchemaDifference>;

  JsonCompat(const json& writer_root, const json& reader_root, CompatibilityPolicy policy,
             std::string_view writer_name, std::string_view reader_name)
      : w_root_(writer_root),
        r_root_(reader_root),
        policy_(policy),
        w_(writer_name),
        r_(reader_name) {}

  void Compare(const json* w, const json* r, const std::string& path, Out& out) {
    w = Resolve(w, w_root_);
    r = Resolve(r, r_root_);
    if (Get(w, "$ref") != nullptr || Get(r, "$ref") != nullptr) {
      // A $ref that does not resolve inside its document (CompileJsonSchema refuses those, so
      // this is defensive): only an identical one is known to be compatible.
      if (*w != *r)
        Add(out, "TYPE_CHANGED", path, "a $ref that does not resolve within its schema changed");
      return;
    }
    if (!active_.insert({w, r}).second) return;  // recursive schemas: the cycle holds
    if (active_.size() > kMaxDepth) {
      Add(out, "TYPE_CHANGED", path, "the schemas nest too deeply to be compared");
    } else {
      CompareResolved(w, r, path, out);
    }
    active_.erase({w, r});
  }

 private:
  static constexpr size_t kMaxDepth = 256;

  // Changes Confluent accepts under compatibilityPolicy LENIENT only.
  static bool LenientlyCompatible(std::string_view type) {
    static const std::set<std::string_view> kLenient = {
        "ADDITIONAL_PROPERTIES_NARROWED",
        "ADDITIONAL_PROPERTIES_REMOVED",
        "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL",
        "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
        "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
        "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    };
    return kLenient.count(type) > 0;
  }

  void Add(Out& out, const char* type, const std::string& path, const std::string& what) {
    if (policy_ == CompatibilityPolicy::kLenient && LenientlyCompatible(type)) return;
    const std::string p = path.empty() ? "/" : path;
    out.push_back({type, p, fmt::format("{}: {}", p, what)});
  }

  // Follows $ref chains. A $ref with sibling keywords means both apply: it becomes an allOf.
  const json* Resolve(const json* node, const json& root) {
    for (int hops = 0; hops < 64; ++hops) {
      const json* ref = Get(node, "$ref");
      if (ref == nullptr || !ref->is_string()) return node;
      const json* target = Pointer(root, ref->get_ref<const std::string&>());
      if (target == nullptr) return node;
      bool siblings = std::any_of(node->items().begin(), node->items().end(), [](const auto& kv) {
        return kv.key() != "$ref" && !IsAnnotation(kv.key());
      });
      if (siblings) {
        auto [it, inserted] = synthesized_.try_emplace({node, 0}, nullptr);
        if (inserted) {
          json rest = *node;
          rest.erase("$ref");
          arena_.push_back(json{{"allOf", json::array({*target, std::move(rest)})}});
          it->second = &arena_.back();
        }
        return it->second;
      }
      node = target;
    }
    return node;
  }

  // Resolves "#" and "#/json/pointer" within a document.
  static const json* Pointer(const json& root, const std::string& ref) {
    if (ref.empty() || ref[0] != '#') return nullptr;
    const json* node = &root;
    size_t pos = 1;
    if (pos == ref.size()) return node;
    if (ref[pos] != '/') return nullptr;
    while (pos < ref.size()) {
      size_t next = ref.find('/', pos + 1);
      std::string token = ref.substr(pos + 1, next == std::string::npos ? next : next - pos - 1);
      std::string key;
      for (size_t i = 0; i < token.size(); ++i) {
        if (token[i] == '~' && i + 1 < token.size()) {
          key += token[i + 1] == '1' ? '/' : '~';
          ++i;
        } else {
          key += token[i];
        }
      }
      if (node->is_object()) {
        auto it = node->find(key);
        if (it == node->end()) return nullptr;
        node = &*it;
      } else if (node->is_array()) {
        char* end = nullptr;
        unsigned long idx = std::strtoul(key.c_str(), &end, 10);
        if (key.empty() || *end != '\0' || idx >= node->size()) return nullptr;
        node = &(*node)[idx];
      } else {
        return nullptr;
      }
      pos = next == std::string::npos ? ref.size() : next;
    }
    return node;
  }

  // `node` without some keywords; cached so that the same input gives the same pointer (the
  // recursion guard compares pointers).
  const json* Without(const json* node, std::initializer_list<const char*> keys, int tag) {
    auto [it, inserted] = synthesized_.try_emplace({node, tag}, nullptr);
    if (inserted) {
      json copy = *node;
      for (const char* k : keys) copy.erase(k);
      arena_.push_back(std::move(copy));
      it->second = &arena_.back();
    }
    return it->second;
  }

  bool RefFree(const json* node) {
    auto it = ref_free_.find(node);
    if (it != ref_free_.end()) return it->second;
    bool free = true;
    if (node->is_object()) {
      free = !node->contains("$ref");
      for (auto& [k, v] : node->items())
        if (free && (v.is_object() || v.is_array())) free = RefFree(&v);
    } else if (node->is_array()) {
      for (const auto& v : *node)
        if (free) free = RefFree(&v);
    }
    ref_free_[node] = free;
    return free;
  }

  static bool IsAny(const json* s) {
    if (s->is_boolean()) return s->get<bool>();
    if (!s->is_object()) return false;
    return std::all_of(s->items().begin(), s->items().end(),
                       [](const auto& kv) { return IsAnnotation(kv.key()); });
  }
  static bool IsNothing(const json* s) { return s->is_boolean() && !s->get<bool>(); }

  void CompareResolved(const json* w, const json* r, const std::string& path, Out& out) {
    if (RefFree(w) && RefFree(r) && *w == *r) return;
    if (IsAny(r) || IsNothing(w)) return;
    if (IsNothing(r)) {
      Add(out, "TYPE_CHANGED", path,
          fmt::format("the {} schema accepts no value here (false) but the {} schema does", r_,
                      w_));
      return;
    }
    if (IsAny(w)) {
      Add(out, "TYPE_CHANGED", path,
          fmt::format("the {} schema accepts any value here but the {} schema restricts it ({} "
                      "events may hold values it rejects)",
                      w_, r_, w_));
      return;
    }
    // Reader conjunction: every part must accept the writer's values.
    if (const json* all = Get(r, "allOf"); all != nullptr && all->is_array()) {
      for (size_t i = 0; i < all->size(); ++i)
        Compare(w, &(*all)[i], fmt::format("{}/allOf/{}", path, i), out);
      Compare(w, Without(r, {"allOf"}, 1), path, out);
      return;
    }
    // Writer disjunction: every alternative the writer allows must be readable.
    const char* w_sum = Get(w, "anyOf") ? "anyOf" : Get(w, "oneOf") ? "oneOf" : nullptr;
    if (w_sum != nullptr && Get(w, w_sum)->is_array()) {
      const json* base = Without(w, {w_sum}, w_sum[0] == 'a' ? 2 : 3);
      Out base_problems;
      if (!IsAny(base)) {
        Compare(base, r, path, base_problems);
        if (base_problems.empty()) return;
      }
      const json& branches = *Get(w, w_sum);
      Out branch_problems;
      for (size_t i = 0; i < branches.size(); ++i) Compare(&branches[i], r, path, branch_problems);
      if (branch_problems.empty()) return;
      const Out& chosen = IsAny(base) ? branch_problems : base_problems;
      out.insert(out.end(), chosen.begin(), chosen.end());
      return;
    }
    // Writer conjunction: it is enough that one part alone is readable.
    if (const json* all = Get(w, "allOf"); all != nullptr && all->is_array()) {
      std::vector<const json*> parts = {Without(w, {"allOf"}, 1)};
      for (const auto& p : *all) parts.push_back(&p);
      std::optional<Out> best;
      for (const json* part : parts) {
        Out problems;
        Compare(part, r, path, problems);
        if (problems.empty()) return;
        if (!IsAny(Resolve(part, w_root_)) && (!best || problems.size() < best->size()))
          best = std::move(problems);
      }
      if (!best) Compare(parts[0], r, path, best.emplace());
      out.insert(out.end(), best->begin(), best->end());
      return;
    }
    // Reader disjunction: one alternative must accept everything the writer allows.
    const char* r_sum = Get(r, "anyOf") ? "anyOf" : Get(r, "oneOf") ? "oneOf" : nullptr;
    if (r_sum != nullptr && Get(r, r_sum)->is_array()) {
      Compare(w, Without(r, {r_sum}, r_sum[0] == 'a' ? 2 : 3), path, out);
      const json& branches = *Get(r, r_sum);
      std::optional<Out> best;
      for (size_t i = 0; i < branches.size(); ++i) {
        Out problems;
        Compare(w, &branches[i], fmt::format("{}/{}/{}", path, r_sum, i), problems);
        if (problems.empty()) return;
        if (!best || problems.size() < best->size()) best = std::move(problems);
      }
      Add(out, "SUM_TYPE_NARROWED", path + "/" + r_sum,
          fmt::format("no alternative of the {} schema's {} accepts every value the {} schema "
                      "allows",
                      r_, r_sum, w_));
      if (best) out.insert(out.end(), best->begin(), best->end());
      return;
    }
    if (const json* r_not = Get(r, "not")) {
      if (const json* w_not = Get(w, "not")) {
        // Reversed: everything the writer excludes must cover what the reader excludes.
        JsonCompat reversed(r_root_, w_root_, policy_, r_, w_);
        Out problems;
        reversed.Compare(r_not, w_not, path + "/not", problems);
        if (!problems.empty())
          Add(out, "NOT_TYPE_EXTENDED", path + "/not",
              fmt::format("the {} schema's not excludes values the {} schema allows", r_, w_));
      } else {
        Add(out, "TYPE_CHANGED", path + "/not",
            fmt::format("the {} schema adds a not that excludes values the {} schema allows", r_,
                        w_));
      }
      Compare(Without(w, {"not"}, 4), Without(r, {"not"}, 4), path, out);
      return;
    }
    if (Get(w, "not") != nullptr) {
      Compare(Without(w, {"not"}, 4), r, path, out);  // the reader dropped a restriction
      return;
    }
    CompareBase(w, r, path, out);
  }

  static unsigned Types(const json* s) {
    const json* t = Get(s, "type");
    if (t == nullptr) return InferredTypes(*s);
    if (t->is_array()) {
      unsigned bits = 0;
      for (const auto& n : *t) bits |= TypeNameBits(n);
      return bits;
    }
    return TypeNameBits(*t);
  }

  // The values an enum or const allows, or nullopt when unrestricted.
  static std::optional<std::vector<json>> Values(const json* s) {
    if (const json* c = Get(s, "const")) return std::vector<json>{*c};
    const json* e = Get(s, "enum");
    if (e == nullptr || !e->is_array()) return std::nullopt;
    return std::vector<json>(e->begin(), e->end());
  }

  void CompareBase(const json* w, const json* r, const std::string& path, Out& out) {
    auto w_values = Values(w);
    unsigned tw = Types(w);
    if (w_values) {
      unsigned value_types = 0;
      for (const auto& v : *w_values) value_types |= ValueTypeBits(v);
      tw &= value_types;
    }
    const unsigned tr = Types(r);
    if (unsigned lost = tw & ~tr) {
      if (lost == kFraction && (tr & kInteger)) {
        Add(out, "TYPE_NARROWED", path,
            fmt::format("type narrowed from number to integer: the {} schema rejects {} events "
                        "with a fractional value here",
                        r_, w_));
      } else if ((tw & tr) == 0) {
        Add(out, "TYPE_CHANGED", path,
            fmt::format("type changed from {} to {}: the {} schema rejects every {} value here",
                        TypeNames(tw), TypeNames(tr), r_, w_));
      } else {
        Add(out, "TYPE_NARROWED", path,
            fmt::format("type narrowed from {} to {}: the {} schema rejects {} events with a {} "
                        "value here",
                        TypeNames(tw), TypeNames(tr), r_, w_, TypeNames(lost)));
      }
    }
    const unsigned common = tw & tr;
    CompareValues(w_values, r, path, out);
    if (w_values) {
      CheckValuesAgainstScalars(*w_values, r, path, out);
    } else {
      if (common & kString) CompareString(w, r, path, out);
      if (common & kNumber) CompareNumber(w, r, path, out, tw);
    }
    if (common & kObject) CompareObject(w, r, path, out);
    if (common & kArray) CompareArray(w, r, path, out);
    CompareUnanalysed(w, r, path, out);
  }

  void CompareValues(const std::optional<std::vector<json>>& w_values, const json* r,
                     const std::string& path, Out& out) {
    auto r_values = Values(r);
    if (!r_values) return;
    const std::string p = path + (Get(r, "const") ? "/const" : "/enum");
    if (!w_values) {
      Add(out, "ENUM_ARRAY_NARROWED", p,
          fmt::format("the {} schema restricts values to {} but the {} schema allowed any value "
                      "of its type",
                      r_, json(*r_values).dump(), w_));
      return;
    }
    std::vector<json> missing;
    for (const auto& v : *w_values)
      if (std::find(r_values->begin(), r_values->end(), v) == r_values->end()) missing.push_back(v);
    if (missing.empty()) return;
    bool narrowed = std::all_of(r_values->begin(), r_values->end(), [&](const json& v) {
      return std::find(w_values->begin(), w_values->end(), v) != w_values->end();
    });
    Add(out, narrowed ? "ENUM_ARRAY_NARROWED" : "ENUM_ARRAY_CHANGED", p,
        fmt::format("value(s) {} allowed by the {} schema are not allowed by the {} schema",
                    json(missing).dump(), w_, r_));
  }

  // The writer allows only listed values: check each against the reader's scalar keywords.
  void CheckValuesAgainstScalars(const std::vector<json>& values, const json* r,
                                 const std::string& path, Out& out) {
    for (const auto& v : values) {
      if (v.is_string()) {
        const std::string& s = v.get_ref<const std::string&>();
        size_t len = Utf8Length(s);
        if (auto max = Number(r, "maxLength"); max && static_cast<double>(len) > *max)
          Add(out, "MAX_LENGTH_DECREASED", path + "/maxLength",
              fmt::format("value {} allowed by the {} schema is longer than the {} schema's "
                          "maxLength {}",
                          v.dump(), w_, r_, Num(*max)));
        if (auto min = Number(r, "minLength"); min && static_cast<double>(len) < *min)
          Add(out, "MIN_LENGTH_INCREASED", path + "/minLength",
              fmt::format("value {} allowed by the {} schema is shorter than the {} schema's "
                          "minLength {}",
                          v.dump(), w_, r_, Num(*min)));
        const json* pattern = Get(r, "pattern");
        if (pattern && pattern->is_string() && !RegexSearch(pattern->get<std::string>(), s))
          Add(out, "PATTERN_CHANGED", path + "/pattern",
              fmt::format("value {} allowed by the {} schema does not match the {} schema's "
                          "pattern {}",
                          v.dump(), w_, r_, pattern->dump()));
      } else if (v.is_number()) {
        double d = v.get<double>();
        auto lo = Limit(r, true);
        auto hi = Limit(r, false);
        bool below = lo && (d < lo->value || (lo->exclusive && d == lo->value));
        bool above = hi && (d > hi->value || (hi->exclusive && d == hi->value));
        if (below || above)
          Add(out, below ? "MINIMUM_INCREASED" : "MAXIMUM_DECREASED", path,
              fmt::format("value {} allowed by the {} schema is out of the {} schema's range",
                          v.dump(), w_, r_));
        auto m = Number(r, "multipleOf");
        if (m && *m > 0 && !IsMultiple(d, *m))
          Add(out, "MULTIPLE_OF_CHANGED", path + "/multipleOf",
              fmt::format("value {} allowed by the {} schema is not a multiple of {}", v.dump(), w_,
                          Num(*m)));
      }
    }
  }

  static bool IsMultiple(double value, double m) {
    double q = value / m;
    return std::abs(q - std::round(q)) <= 1e-9 * std::max(1.0, std::abs(q));
  }

  void CompareString(const json* w, const json* r, const std::string& path, Out& out) {
    if (auto rmax = Number(r, "maxLength")) {
      auto wmax = Number(w, "maxLength");
      if (!wmax) {
        Add(out, "MAX_LENGTH_ADDED", path + "/maxLength",
            fmt::format("maxLength {} added: the {} schema rejects {} events with longer strings",
                        Num(*rmax), r_, w_));
      } else if (*wmax > *rmax) {
        Add(out, "MAX_LENGTH_DECREASED", path + "/maxLength",
            fmt::format("maxLength lowered from {} to {}: the {} schema rejects {} events with "
                        "longer strings",
                        Num(*wmax), Num(*rmax), r_, w_));
      }
    }
    if (auto rmin = Number(r, "minLength"); rmin && *rmin > 0) {
      auto wmin = Number(w, "minLength");
      if (!wmin) {
        Add(out, "MIN_LENGTH_ADDED", path + "/minLength",
            fmt::format("minLength {} added: the {} schema rejects {} events with shorter strings",
                        Num(*rmin), r_, w_));
      } else if (*wmin < *rmin) {
        Add(out, "MIN_LENGTH_INCREASED", path + "/minLength",
            fmt::format("minLength raised from {} to {}: the {} schema rejects {} events with "
                        "shorter strings",
                        Num(*wmin), Num(*rmin), r_, w_));
      }
    }
    const json* rp = Get(r, "pattern");
    const json* wp = Get(w, "pattern");
    if (rp != nullptr && wp == nullptr) {
      Add(out, "PATTERN_ADDED", path + "/pattern",
          fmt::format("pattern {} added: the {} schema rejects {} events whose string does not "
                      "match it",
                      rp->dump(), r_, w_));
    } else if (rp != nullptr && *rp != *wp) {
      Add(out, "PATTERN_CHANGED", path + "/pattern",
          fmt::format("pattern changed from {} to {}: the {} schema may reject {} events",
                      wp->dump(), rp->dump(), r_, w_));
    }
    // Confluent does not compare "format"; Sluice enforces formats on ingest, so it must.
    const json* rf = Get(r, "format");
    const json* wf = Get(w, "format");
    if (rf != nullptr && (wf == nullptr || *rf != *wf))
      Add(out, wf == nullptr ? "FORMAT_ADDED" : "FORMAT_CHANGED", path + "/format",
          fmt::format("format {} {}: the {} schema rejects {} events whose string is not a valid "
                      "{}",
                      rf->dump(), wf == nullptr ? "added" : "replaces " + wf->dump(), r_, w_,
                      rf->dump()));
  }

  void CompareNumber(const json* w, const json* r, const std::string& path, Out& out,
                     unsigned writer_types) {
    for (bool lower : {true, false}) {
      auto rb = Limit(r, lower);
      if (!rb) continue;
      auto wb = Limit(w, lower);
      const char* keyword = lower ? (rb->exclusive ? "exclusiveMinimum" : "minimum")
                                  : (rb->exclusive ? "exclusiveMaximum" : "maximum");
      const std::string p = path + "/" + keyword;
      if (!wb) {
        Add(out,
            lower ? (rb->exclusive ? "EXCLUSIVE_MINIMUM_ADDED" : "MINIMUM_ADDED")
                  : (rb->exclusive ? "EXCLUSIVE_MAXIMUM_ADDED" : "MAXIMUM_ADDED"),
            p,
            fmt::format("{} {} added: the {} schema rejects {} events with values {} it", keyword,
                        Num(rb->value), r_, w_, lower ? "below" : "above"));
        continue;
      }
      bool ok = lower ? (wb->value > rb->value ||
                         (wb->value == rb->value && (!rb->exclusive || wb->exclusive)))
                      : (wb->value < rb->value ||
                         (wb->value == rb->value && (!rb->exclusive || wb->exclusive)));
      if (!ok)
        Add(out,
            lower ? (rb->exclusive ? "EXCLUSIVE_MINIMUM_INCREASED" : "MINIMUM_INCREASED")
                  : (rb->exclusive ? "EXCLUSIVE_MAXIMUM_DECREASED" : "MAXIMUM_DECREASED"),
            p,
            fmt::format("{} tightened from {} to {}: the {} schema rejects {} events with values "
                        "{} it",
                        lower ? "lower bound" : "upper bound", Num(wb->value), Num(rb->value), r_,
                        w_, lower ? "below" : "above"));
    }
    if (auto rm = Number(r, "multipleOf"); rm && *rm > 0) {
      auto wm = Number(w, "multipleOf");
      // A writer that only allows integers already writes multiples of 1.
      if (!wm && (writer_types & kFraction) == 0) wm = 1.0;
      if (!wm) {
        Add(out, "MULTIPLE_OF_ADDED", path + "/multipleOf",
            fmt::format("multipleOf {} added: the {} schema rejects {} events with other values",
                        Num(*rm), r_, w_));
      } else if (!IsMultiple(*wm, *rm)) {
        Add(out, IsMultiple(*rm, *wm) ? "MULTIPLE_OF_EXPANDED" : "MULTIPLE_OF_CHANGED",
            path + "/multipleOf",
            fmt::format("multipleOf changed from {} to {}: the {} schema rejects some {} values",
                        Num(*wm), Num(*rm), r_, w_));
      }
    }
  }

  static std::set<std::string> Strings(const json* s, std::string_view key) {
    std::set<std::string> out;
    if (const json* a = Get(s, key); a != nullptr && a->is_array())
      for (const auto& v : *a)
        if (v.is_string()) out.insert(v.get<std::string>());
    return out;
  }

  // additionalProperties as a constraining schema, or nullptr when it allows anything / nothing.
  static const json* AdditionalSchema(const json* s) {
    const json* ap = Get(s, "additionalProperties");
    if (ap == nullptr || ap->is_boolean() || IsAny(ap)) return nullptr;
    return ap;
  }
  static bool PermitsAdditional(const json* s) {
    const json* ap = Get(s, "additionalProperties");
    return ap == nullptr || !(ap->is_boolean() && !ap->get<bool>());
  }
  static bool HasPatternProperties(const json* s) {
    const json* pp = Get(s, "patternProperties");
    return pp != nullptr && pp->is_object() && !pp->empty();
  }
  // Open: any property not declared may hold any value.
  static bool IsOpen(const json* s) {
    return !HasPatternProperties(s) && PermitsAdditional(s) && AdditionalSchema(s) == nullptr;
  }
  // What an undeclared property `key` must satisfy in a schema that is not open: the first
  // matching patternProperties schema, else additionalProperties (true when absent), else
  // nullptr when the property is not allowed at all.
  static const json* UndeclaredSchema(const json* s, const std::string& key) {
    if (const json* pp = Get(s, "patternProperties"); pp != nullptr && pp->is_object())
      for (const auto& [pattern, schema] : pp->items())
        if (RegexSearch(pattern, key)) return &schema;
    if (!PermitsAdditional(s)) return nullptr;
    const json* ap = AdditionalSchema(s);
    return ap != nullptr ? ap : &kTrue;
  }
  static bool HasDefault(const json* s) { return Get(s, "default") != nullptr; }

  void CompareObject(const json* w, const json* r, const std::string& path, Out& out) {
    static const json kEmpty = json::object();
    const json* wp = Get(w, "properties");
    const json* rp = Get(r, "properties");
    if (wp == nullptr || !wp->is_object()) wp = &kEmpty;
    if (rp == nullptr || !rp->is_object()) rp = &kEmpty;
    const std::set<std::string> w_req = Strings(w, "required");
    const std::set<std::string> r_req = Strings(r, "required");
    std::set<std::string> keys;
    for (const auto& [k, v] : wp->items()) keys.insert(k);
    for (const auto& [k, v] : rp->items()) keys.insert(k);

    for (const std::string& key : keys) {
      const std::string p = path + "/properties/" + internal::EscapePointerToken(key);
      auto wi = wp->find(key);
      auto ri = rp->find(key);
      if (wi != wp->end() && ri != rp->end()) {
        Compare(&*wi, &*ri, p, out);
        if (r_req.count(key) && !w_req.count(key) && !HasDefault(&*ri))
          Add(out, "REQUIRED_ATTRIBUTE_ADDED", p,
              fmt::format("property '{}' is required by the {} schema but not by the {} one (a "
                          "reader of the {} schema rejects {} events without it)",
                          key, r_, w_, r_, w_));
      } else if (wi != wp->end()) {
        PropertyRemoved(key, &*wi, r, p, out);
      } else {
        PropertyAdded(key, &*ri, w, r_req.count(key) > 0, p, out);
      }
    }
    // Required names without a property schema on either side.
    for (const std::string& key : r_req) {
      if (w_req.count(key) || rp->contains(key)) continue;
      Add(out, "REQUIRED_ATTRIBUTE_ADDED", path + "/required",
          fmt::format("property '{}' is required by the {} schema but not by the {} one (a reader "
                      "of the {} schema rejects {} events without it)",
                      key, r_, w_, r_, w_));
    }

    const std::string ap_path = path + "/additionalProperties";
    if (PermitsAdditional(w) && !PermitsAdditional(r)) {
      Add(out, "ADDITIONAL_PROPERTIES_REMOVED", ap_path,
          fmt::format("the {} schema no longer allows additional properties: it rejects {} "
                      "events with properties it does not declare",
                      r_, w_));
    } else if (PermitsAdditional(w) && PermitsAdditional(r)) {
      const json* was = AdditionalSchema(w);
      const json* ras = AdditionalSchema(r);
      if (ras != nullptr && was == nullptr) {
        Add(out, "ADDITIONAL_PROPERTIES_NARROWED", ap_path,
            fmt::format("the {} schema constrains additional properties that the {} schema left "
                        "unconstrained",
                        r_, w_));
      } else if (ras != nullptr) {
        Compare(was, ras, ap_path, out);
      }
    }
    ComparePatternProperties(w, r, path, out);

    if (auto rmax = Number(r, "maxProperties")) {
      auto wmax = Number(w, "maxProperties");
      if (!wmax || *wmax > *rmax)
        Add(out, wmax ? "MAX_PROPERTIES_DECREASED" : "MAX_PROPERTIES_ADDED",
            path + "/maxProperties",
            fmt::format("maxProperties {} {}: the {} schema rejects {} events with more "
                        "properties",
                        Num(*rmax), wmax ? "lowered from " + Num(*wmax) : "added", r_, w_));
    }
    if (auto rmin = Number(r, "minProperties"); rmin && *rmin > 0) {
      auto wmin = Number(w, "minProperties");
      if (!wmin || *wmin < *rmin)
        Add(out, wmin ? "MIN_PROPERTIES_INCREASED" : "MIN_PROPERTIES_ADDED",
            path + "/minProperties",
            fmt::format("minProperties {} {}: the {} schema rejects {} events with fewer "
                        "properties",
                        Num(*rmin), wmin ? "raised from " + Num(*wmin) : "added", r_, w_));
    }
    CompareDependentRequired(w, r, path, out);
  }

  void PropertyRemoved(const std::string& key, const json* w_prop, const json* r,
                       const std::string& p, Out& out) {
    if (IsOpen(r)) return;  // PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL
    if (HasPatternProperties(r) || AdditionalSchema(r) != nullptr) {
      const json* covering = UndeclaredSchema(r, key);
      Out sub;
      if (covering != nullptr) Compare(w_prop, covering, p, sub);
      if (covering != nullptr && sub.empty()) return;
      out.insert(out.end(), sub.begin(), sub.end());
      Add(out, "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", p,
          fmt::format("property '{}' is declared in the {} schema but not in the {} schema, "
                      "whose patternProperties / additionalProperties do not accept every value "
                      "the {} schema allows for it",
                      key, w_, r_, w_));
      return;
    }
    if (IsNothing(Resolve(w_prop, w_root_))) return;  // PROPERTY_WITH_FALSE_REMOVED_...
    Add(out, "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", p,
        fmt::format("property '{}' is declared in the {} schema but not in the {} schema, "
                    "which does not allow additional properties: a reader of the {} schema "
                    "rejects {} events that carry '{}'",
                    key, w_, r_, r_, w_, key));
  }

  void PropertyAdded(const std::string& key, const json* r_prop, const json* w, bool required,
                     const std::string& p, Out& out) {
    if (IsOpen(w)) {
      if (IsAny(Resolve(r_prop, r_root_))) return;  // PROPERTY_WITH_EMPTY_SCHEMA_ADDED_...
      if (required) {
        if (HasDefault(r_prop)) {
          Add(out, "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL", p,
              fmt::format("required property '{}' (with a default) is declared in the {} schema "
                          "but not in the {} schema, whose content model is open: {} events may "
                          "carry '{}' with any value",
                          key, r_, w_, w_, key));
        } else {
          Add(out, "REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", p,
              fmt::format("property '{}' is required by the {} schema but not declared in the "
                          "{} schema: a reader of the {} schema rejects {} events without it",
                          key, r_, w_, r_, w_));
        }
      } else {
        Add(out, "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", p,
            fmt::format("optional property '{}' is declared in the {} schema but not in the {} "
                        "schema, whose content model is open (no additionalProperties: false): "
                        "{} events may carry '{}' with a value the {} schema rejects "
                        "(Confluent's rule; a closed {} schema, or compatibilityPolicy LENIENT, "
                        "allows this change)",
                        key, r_, w_, w_, key, r_, w_));
      }
      return;
    }
    if (HasPatternProperties(w) || AdditionalSchema(w) != nullptr) {
      const json* covering = UndeclaredSchema(w, key);
      if (covering != nullptr) {
        Out sub;
        Compare(covering, r_prop, p, sub);
        if (!sub.empty()) {
          out.insert(out.end(), sub.begin(), sub.end());
          Add(out, "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", p,
              fmt::format("property '{}' is declared in the {} schema but not in the {} "
                          "schema, whose patternProperties / additionalProperties let {} events "
                          "carry it with values the {} schema rejects",
                          key, r_, w_, w_, r_));
        }
      }
    }
    if (required && !HasDefault(r_prop))
      Add(out, "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", p,
          fmt::format("property '{}' is required by the {} schema but not declared in the {} "
                      "schema, which does not allow it: {} events never carry it, so a reader "
                      "of the {} schema rejects them",
                      key, r_, w_, w_, r_));
  }

  void ComparePatternProperties(const json* w, const json* r, const std::string& path, Out& out) {
    const json* rpp = Get(r, "patternProperties");
    if (rpp == nullptr || !rpp->is_object()) return;
    const json* wpp = Get(w, "patternProperties");
    for (const auto& [pattern, schema] : rpp->items()) {
      const std::string p = path + "/patternProperties/" + internal::EscapePointerToken(pattern);
      if (wpp != nullptr && wpp->is_object() && wpp->contains(pattern)) {
        Compare(&(*wpp)[pattern], &schema, p, out);
      } else if (PermitsAdditional(w) && !IsAny(Resolve(&schema, r_root_))) {
        const json* was = AdditionalSchema(w);
        Out sub;
        if (was != nullptr) Compare(was, &schema, p, sub);
        if (was == nullptr || !sub.empty())
          Add(out, "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", p,
              fmt::format("patternProperties {} constrain properties that the {} schema left "
                          "open: {} events may carry matching properties the {} schema rejects",
                          json(pattern).dump(), w_, w_, r_));
      }
    }
  }

  void CompareDependentRequired(const json* w, const json* r, const std::string& path, Out& out) {
    const json* rd = Get(r, "dependentRequired");
    if (rd == nullptr || !rd->is_object()) return;
    const json* wd = Get(w, "dependentRequired");
    for (const auto& [key, names] : rd->items()) {
      std::set<std::string> need = Strings(rd, key);
      std::set<std::string> had =
          wd != nullptr && wd->is_object() ? Strings(wd, key) : std::set<std::string>{};
      std::vector<std::string> extra;
      for (const auto& n : need)
        if (!had.count(n)) extra.push_back(n);
      if (!extra.empty())
        Add(out, had.empty() ? "DEPENDENCY_ARRAY_ADDED" : "DEPENDENCY_ARRAY_EXTENDED",
            path + "/dependentRequired/" + internal::EscapePointerToken(key),
            fmt::format("the {} schema requires [{}] whenever '{}' is present; {} events may "
                        "lack them",
                        r_, fmt::join(extra, ", "), key, w_));
    }
  }

  struct Tuple {
    std::vector<const json*> prefix;
    const json* rest = &kTrue;  // what items after the prefix must satisfy
  };
  // Both the 2020-12 form (prefixItems + items) and the draft-07 form (items array +
  // additionalItems).
  static Tuple TupleOf(const json* s) {
    Tuple t;
    const json* prefix = Get(s, "prefixItems");
    const json* items = Get(s, "items");
    if (prefix != nullptr && prefix->is_array()) {
      for (const auto& p : *prefix) t.prefix.push_back(&p);
      if (items != nullptr) t.rest = items;
    } else if (items != nullptr && items->is_array()) {
      for (const auto& p : *items) t.prefix.push_back(&p);
      if (const json* additional = Get(s, "additionalItems")) t.rest = additional;
    } else if (items != nullptr) {
      t.rest = items;
    }
    return t;
  }

  void CompareArray(const json* w, const json* r, const std::string& path, Out& out) {
    Tuple wt = TupleOf(w);
    Tuple rt = TupleOf(r);
    const size_t n = std::max(wt.prefix.size(), rt.prefix.size());
    for (size_t i = 0; i < n; ++i) {
      const std::string p = fmt::format("{}/items/{}", path, i);
      const json* wi = i < wt.prefix.size() ? wt.prefix[i] : wt.rest;
      const json* ri = i < rt.prefix.size() ? rt.prefix[i] : rt.rest;
      Out sub;
      Compare(wi, ri, p, sub);
      if (sub.empty()) continue;
      if (i >= rt.prefix.size()) {
        out.insert(out.end(), sub.begin(), sub.end());
        Add(out,
            IsNothing(Resolve(ri, r_root_))
                ? "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL"
                : "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
            p,
            fmt::format("tuple item {} was removed and the {} schema does not accept every value "
                        "the {} schema allowed there",
                        i, r_, w_));
      } else if (i >= wt.prefix.size()) {
        Add(out,
            IsAny(Resolve(wi, w_root_)) ? "ITEM_ADDED_TO_OPEN_CONTENT_MODEL"
                                        : "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
            p,
            fmt::format("tuple item {} was added with a schema that rejects values the {} schema "
                        "allowed at that position",
                        i, w_));
        out.insert(out.end(), sub.begin(), sub.end());
      } else {
        out.insert(out.end(), sub.begin(), sub.end());
      }
    }
    // Items after both prefixes.
    const std::string rest_path =
        path + (Get(r, "prefixItems") == nullptr && Get(r, "items") != nullptr &&
                        Get(r, "items")->is_array()
                    ? "/additionalItems"
                    : "/items");
    const json* wr = Resolve(wt.rest, w_root_);
    const json* rr = Resolve(rt.rest, r_root_);
    if (IsNothing(wr) || IsAny(rr)) {
      // Nothing more to check.
    } else if (IsAny(wr)) {
      Add(out, IsNothing(rr) ? "ADDITIONAL_ITEMS_REMOVED" : "ADDITIONAL_ITEMS_NARROWED", rest_path,
          fmt::format("the {} schema constrains array items that the {} schema left open", r_, w_));
    } else {
      Compare(wt.rest, rt.rest, rest_path, out);
    }

    if (auto rmax = Number(r, "maxItems")) {
      auto wmax = Number(w, "maxItems");
      if (!wmax || *wmax > *rmax)
        Add(out, wmax ? "MAX_ITEMS_DECREASED" : "MAX_ITEMS_ADDED", path + "/maxItems",
            fmt::format("maxItems {} {}: the {} schema rejects {} events with longer arrays",
                        Num(*rmax), wmax ? "lowered from " + Num(*wmax) : "added", r_, w_));
    }
    if (auto rmin = Number(r, "minItems"); rmin && *rmin > 0) {
      auto wmin = Number(w, "minItems");
      if (!wmin || *wmin < *rmin)
        Add(out, wmin ? "MIN_ITEMS_INCREASED" : "MIN_ITEMS_ADDED", path + "/minItems",
            fmt::format("minItems {} {}: the {} schema rejects {} events with shorter arrays",
                        Num(*rmin), wmin ? "raised from " + Num(*wmin) : "added", r_, w_));
    }
    const json* ru = Get(r, "uniqueItems");
    const json* wu = Get(w, "uniqueItems");
    if (ru != nullptr && *ru == true && !(wu != nullptr && *wu == true))
      Add(out, "UNIQUE_ITEMS_ADDED", path + "/uniqueItems",
          fmt::format("uniqueItems added: the {} schema rejects {} events with repeated items", r_,
                      w_));
  }

  // Keywords this checker does not model (if/then/else, propertyNames, dependentSchemas, ...):
  // removing one only relaxes the reader; adding or changing one is treated as incompatible
  // because nothing proves it safe.
  void CompareUnanalysed(const json* w, const json* r, const std::string& path, Out& out) {
    if (!r->is_object()) return;
    for (const auto& [key, value] : r->items()) {
      if (IsAnalysed(key) || IsAnnotation(key)) continue;
      const json* wv = Get(w, key);
      if (wv != nullptr && *wv == value) continue;
      Add(out, "KEYWORD_CHANGED", path + "/" + internal::EscapePointerToken(key),
          fmt::format("keyword '{}' was {} in the {} schema; Sluice does not analyse '{}', so "
                      "the change is treated as incompatible",
                      key, wv == nullptr ? "added" : "changed", r_, key));
    }
  }

  const json& w_root_;
  const json& r_root_;
  CompatibilityPolicy policy_;
  std::string w_, r_;
  std::set<std::pair<const json*, const json*>> active_;
  std::map<const json*, bool> ref_free_;
  std::map<std::pair<const json*, int>, const json*> synthesized_;
  std::deque<json> arena_;  // synthesized nodes; a deque keeps their addresses stable
};

}  // namespace

std::vector<SchemaDifference> JsonSchemaReadProblems(const json& writer, const json& reader,
                                                     CompatibilityPolicy policy,
                                                     std::string_view writer_name,
                                                     std::string_view reader_name) {
  std::vector<SchemaDifference> out;
  JsonCompat(writer, reader, policy, writer_name, reader_name).Compare(&writer, &reader, "", out);
  return out;
}

}  // namespace sluice::schema
