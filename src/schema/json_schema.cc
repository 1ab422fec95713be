// The schema compiler: JSON Schema text -> CompiledSchema (nodes with resolved $refs, closures
// under in-place applicators, a key dictionary). Runs once per schema version, never per event,
// so it favours clarity over speed and uses nlohmann-json.
#include <algorithm>
#include <bit>
#include <cmath>
#include <random>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "schema/json_schema_internal.h"

namespace sluice::schema {

std::string_view JsonTypeName(JsonType type) {
  switch (type) {
    case JsonType::kNull:
      return "null";
    case JsonType::kBoolean:
      return "boolean";
    case JsonType::kNumber:
      return "number";
    case JsonType::kString:
      return "string";
    case JsonType::kObject:
      return "object";
    case JsonType::kArray:
      return "array";
  }
  return "?";
}

namespace internal {

ValueHash HashScalar(const HashSeeds& seeds, JsonType type, bool boolean, double number,
                     std::string_view string) {
  uint64_t tag = static_cast<uint64_t>(type) + 1;
  switch (type) {
    case JsonType::kBoolean:
      tag += boolean ? 16 : 0;
      break;
    case JsonType::kNumber: {
      if (number == 0) number = 0;  // -0 == 0
      uint64_t bits = std::bit_cast<uint64_t>(number);
      return {Mix64(seeds.a ^ tag ^ Mix64(bits)), Mix64(seeds.b ^ tag ^ Mix64(bits + seeds.a))};
    }
    case JsonType::kString:
      return {HashBytes(string, seeds.a ^ tag), HashBytes(string, seeds.b ^ tag)};
    default:
      break;
  }
  return {Mix64(seeds.a ^ tag), Mix64(seeds.b ^ tag)};
}

ValueHash HashField(const HashSeeds& seeds, std::string_view key, const ValueHash& value) {
  return {Mix64(HashBytes(key, seeds.a) ^ Mix64(value.a + seeds.b)),
          Mix64(HashBytes(key, seeds.b) ^ Mix64(value.b + seeds.a))};
}

ValueHash FinishObject(const HashSeeds& seeds, const ValueHash& sum, uint64_t count) {
  return {Mix64(sum.a ^ Mix64(count + seeds.a)), Mix64(sum.b ^ Mix64(count + seeds.b))};
}

ValueHash ChainElement(const ValueHash& array, const ValueHash& element) {
  return {Mix64(array.a * 0x9e3779b97f4a7c15ull + element.a),
          Mix64(array.b * 0xc2b2ae3d27d4eb4full + element.b)};
}

namespace {

using Json = nlohmann::json;

constexpr int kMaxSchemaDepth = 64;  // nesting of subschemas
constexpr size_t kMaxClosureEntries = size_t{1} << 20;
constexpr std::string_view kDraft202012 = "https://json-schema.org/draft/2020-12/schema";

// Keywords that never affect validation.
bool IsAnnotation(std::string_view k) {
  static constexpr std::string_view kAnnotations[] = {
      "title",           "description",      "$comment",      "examples",
      "default",         "deprecated",       "readOnly",      "writeOnly",
      "contentEncoding", "contentMediaType", "contentSchema", "$anchor"};
  for (std::string_view a : kAnnotations)
    if (k == a) return true;
  return k.starts_with("x-");
}

std::string DisplayLocation(const std::string& location) {
  return location.empty() ? "/" : location;
}

std::string ShortText(const Json& v) {
  std::string s = v.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

std::string NumberText(double v) {
  return fmt::format("{}", v);
}

ValueHash CanonicalHash(const HashSeeds& seeds, const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return HashScalar(seeds, JsonType::kNull, false, 0, {});
    case Json::value_t::boolean:
      return HashScalar(seeds, JsonType::kBoolean, v.get<bool>(), 0, {});
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return HashScalar(seeds, JsonType::kNumber, false, v.get<double>(), {});
    case Json::value_t::string:
      return HashScalar(seeds, JsonType::kString, false, 0, v.get_ref<const std::string&>());
    case Json::value_t::array: {
      ValueHash h = StartArray(seeds);
      for (const Json& e : v) h = ChainElement(h, CanonicalHash(seeds, e));
      return h;
    }
    case Json::value_t::object: {
      ValueHash sum;
      for (auto it = v.begin(); it != v.end(); ++it) {
        ValueHash f = HashField(seeds, it.key(), CanonicalHash(seeds, it.value()));
        sum.a += f.a;
        sum.b += f.b;
      }
      return FinishObject(seeds, sum, v.size());
    }
    default:
      break;
  }
  return {};
}

Constant MakeConstant(const HashSeeds& seeds, const Json& v) {
  Constant c;
  c.text = v.dump();
  c.hash = CanonicalHash(seeds, v);
  switch (v.type()) {
    case Json::value_t::null:
      c.type = JsonType::kNull;
      break;
    case Json::value_t::boolean:
      c.type = JsonType::kBoolean;
      c.boolean = v.get<bool>();
      break;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      c.type = JsonType::kNumber;
      c.number = v.get<double>();
      break;
    case Json::value_t::string:
      c.type = JsonType::kString;
      c.string = v.get<std::string>();
      break;
    case Json::value_t::array:
      c.type = JsonType::kArray;
      break;
    default:
      c.type = JsonType::kObject;
      break;
  }
  return c;
}

// Nesting depth of JSON text, found without parsing, so that a hostile schema cannot make the
// recursive parts of the JSON library overflow the stack.
bool NestingWithin(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > limit) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Compiler {
 public:
  explicit Compiler(const Json& document) : document_(document) {
    std::random_device random;
    schema_->seeds.a = (uint64_t{random()} << 32) | random();
    schema_->seeds.b = (uint64_t{random()} << 32) | random();
  }

  Result<std::shared_ptr<const CompiledSchema>> Run() {
    auto root = Subschema(document_, "", 0);
    if (!root.ok()) return root.status();
    SLUICE_RETURN_IF_ERROR(ResolveRefs());
    for (Node& n : nodes()) Derive(n);
    CollapseRefs();
    SLUICE_RETURN_IF_ERROR(OrderAndClose());
    for (Node& n : nodes()) BuildPropertyTable(n);
    for (Node& n : nodes()) {
      n.simple = n.closure.size() == 1 && SimpleKeywords(n);
      uint8_t pass = n.types != 0 ? n.types : 0xFF;
      if (n.always_false || n.has_enum) pass = 0;
      if (n.has_number_keywords) pass &= ~(kNumberBit | kIntegerBit);
      if (n.has_string_keywords) pass &= ~kStringBit;
      n.scalar_pass = pass & (kNullBit | kBooleanBit | kNumberBit | kIntegerBit | kStringBit);
      BuildClosureTable(n);
    }
    for (NodeId id = 0; id < nodes().size(); ++id) BuildConditions(id);
    for (const Node& n : nodes()) schema_->briefs.push_back(Brief(n));
    return std::shared_ptr<const CompiledSchema>(std::move(schema_));
  }

 private:
  std::vector<Node>& nodes() { return schema_->nodes; }

  static Status Invalid(const std::string& location, std::string_view what) {
    return Status::InvalidArgument(
        fmt::format("invalid schema at {}: {}", DisplayLocation(location), what));
  }

  Result<NodeId> Subschema(const Json& value, std::string location, int depth) {
    if (depth > kMaxSchemaDepth)
      return Status::InvalidArgument(fmt::format("schema nested deeper than {} levels at {}",
                                                 kMaxSchemaDepth, DisplayLocation(location)));
    auto existing = by_location_.find(location);
    if (existing != by_location_.end()) return existing->second;
    NodeId id = static_cast<NodeId>(nodes().size());
    nodes().emplace_back();
    nodes()[id].location = location;
    by_location_.emplace(location, id);
    if (value.is_boolean()) {
      nodes()[id].always_false = !value.get<bool>();
      return id;
    }
    if (!value.is_object()) return Invalid(location, "a schema must be an object or a boolean");
    for (auto it = value.begin(); it != value.end(); ++it)
      SLUICE_RETURN_IF_ERROR(Keyword(id, it.key(), it.value(), location, depth));
    return id;
  }

  Result<NodeId> Child(const Json& value, const std::string& location, std::string_view keyword,
                       int depth) {
    return Subschema(value, location + "/" + EscapePointerToken(keyword), depth + 1);
  }

  Status SchemaArray(NodeId id, const Json& value, const std::string& location,
                     std::string_view keyword, int depth, std::vector<NodeId> Node::*field) {
    if (!value.is_array() || value.empty())
      return Invalid(location, fmt::format("'{}' must be a non-empty array of schemas", keyword));
    std::string base = location + "/" + std::string(keyword);
    for (size_t i = 0; i < value.size(); ++i) {
      SLUICE_ASSIGN_OR_RETURN(NodeId child,
                              Subschema(value[i], base + "/" + std::to_string(i), depth + 1));
      (nodes()[id].*field).push_back(child);
    }
    return Status::Ok();
  }

  static Result<double> Number(const Json& value, const std::string& location,
                               std::string_view keyword) {
    if (!value.is_number()) return Invalid(location, fmt::format("'{}' must be a number", keyword));
    return value.get<double>();
  }

  static Result<uint64_t> Count(const Json& value, const std::string& location,
                                std::string_view keyword) {
    // 2.0 is a valid count: the meta-schema asks for an integer, which includes 2.0.
    if (!value.is_number() || value.get<double>() < 0 ||
        std::trunc(value.get<double>()) != value.get<double>())
      return Invalid(location, fmt::format("'{}' must be a non-negative integer", keyword));
    if (value.is_number_unsigned()) return value.get<uint64_t>();
    if (value.is_number_integer()) return static_cast<uint64_t>(value.get<int64_t>());
    double d = value.get<double>();
    return d >= 1.8e19 ? kUnbounded : static_cast<uint64_t>(d);
  }

  Result<std::unique_ptr<RE2>> Regex(const Json& value, const std::string& location,
                                     std::string_view keyword) {
    if (!value.is_string()) return Invalid(location, fmt::format("'{}' must be a string", keyword));
    const std::string& source = value.get_ref<const std::string&>();
    std::string translated;
    Status st = TranslateJsRegex(source, translated);
    if (!st.ok())
      return Status::InvalidArgument(fmt::format("invalid pattern '{}' at {}: {}", source,
                                                 DisplayLocation(location), st.message()));
    RE2::Options options;
    options.set_log_errors(false);
    auto re = std::make_unique<RE2>(translated, options);
    if (!re->ok())
      return Status::InvalidArgument(fmt::format("invalid pattern '{}' at {}: {}", source,
                                                 DisplayLocation(location), re->error()));
    return re;
  }

  static Status TypeKeyword(Node& n, const Json& value, const std::string& location) {
    auto bit = [](const Json& name, uint8_t& out) {
      if (!name.is_string()) return false;
      const std::string& s = name.get_ref<const std::string&>();
      if (s == "null")
        out = kNullBit;
      else if (s == "boolean")
        out = kBooleanBit;
      else if (s == "object")
        out = kObjectBit;
      else if (s == "array")
        out = kArrayBit;
      else if (s == "number")
        out = kNumberBit | kIntegerBit;
      else if (s == "integer")
        out = kIntegerBit;
      else if (s == "string")
        out = kStringBit;
      else
        return false;
      return true;
    };
    uint8_t b = 0;
    if (value.is_array()) {
      if (value.empty()) return Invalid(location, "'type' must not be an empty array");
      for (const Json& t : value) {
        if (!bit(t, b)) return Invalid(location, fmt::format("unknown type {}", ShortText(t)));
        n.types |= b;
      }
      return Status::Ok();
    }
    if (!bit(value, b)) return Invalid(location, fmt::format("unknown type {}", ShortText(value)));
    n.types = b;
    return Status::Ok();
  }

  Status Keyword(NodeId id, const std::string& k, const Json& v, const std::string& location,
                 int depth) {
    auto node = [&]() -> Node& { return nodes()[id]; };  // re-fetched: children grow nodes()
    if (k == "type") return TypeKeyword(node(), v, location);
    if (k == "enum" || k == "const") {
      if (node().has_enum)
        return Status::InvalidArgument(fmt::format(
            "'enum' and 'const' together are not supported at {}", DisplayLocation(location)));
      if (k == "enum" && !v.is_array()) return Invalid(location, "'enum' must be an array");
      node().has_enum = true;
      node().enum_is_const = k == "const";
      if (k == "const") {
        node().enum_values.push_back(MakeConstant(schema_->seeds, v));
      } else {
        for (const Json& e : v) node().enum_values.push_back(MakeConstant(schema_->seeds, e));
      }
      for (const Constant& c : node().enum_values)
        if (c.type == JsonType::kObject || c.type == JsonType::kArray)
          node().enum_has_composite = true;
      return Status::Ok();
    }
    if (k == "minimum" || k == "maximum" || k == "exclusiveMinimum" || k == "exclusiveMaximum" ||
        k == "multipleOf") {
      SLUICE_ASSIGN_OR_RETURN(double d, Number(v, location, k));
      Node& n = node();
      if (k == "minimum") n.minimum = d, n.minimum_text = NumberText(d);
      if (k == "maximum") n.maximum = d, n.maximum_text = NumberText(d);
      if (k == "exclusiveMinimum")
        n.exclusive_minimum = d, n.exclusive_minimum_text = NumberText(d);
      if (k == "exclusiveMaximum")
        n.exclusive_maximum = d, n.exclusive_maximum_text = NumberText(d);
      if (k == "multipleOf") {
        if (!(d > 0)) return Invalid(location, "'multipleOf' must be greater than 0");
        n.multiple_of = d;
        n.multiple_of_text = NumberText(d);
      }
      return Status::Ok();
    }
    if (k == "minLength") return AssignCount(node().min_length, v, location, k);
    if (k == "maxLength") return AssignCount(node().max_length, v, location, k);
    if (k == "minProperties") return AssignCount(node().min_properties, v, location, k);
    if (k == "maxProperties") return AssignCount(node().max_properties, v, location, k);
    if (k == "minItems") return AssignCount(node().min_items, v, location, k);
    if (k == "maxItems") return AssignCount(node().max_items, v, location, k);
    if (k == "pattern") {
      SLUICE_ASSIGN_OR_RETURN(auto re, Regex(v, location, k));
      node().pattern = std::move(re);
      node().pattern_source = v.get<std::string>();
      node().has_simple_pattern =
          CompileSimplePattern(node().pattern_source, node().simple_pattern);
      return Status::Ok();
    }
    if (k == "format") {
      if (!v.is_string()) return Invalid(location, "'format' must be a string");
      Format f;
      if (!LookupFormat(v.get_ref<const std::string&>(), f))
        return Status::InvalidArgument(fmt::format(
            "unsupported format '{}' at {}", v.get<std::string>(), DisplayLocation(location)));
      node().format = f;
      node().format_name = v.get<std::string>();
      return Status::Ok();
    }
    if (k == "uniqueItems") {
      if (!v.is_boolean()) return Invalid(location, "'uniqueItems' must be a boolean");
      node().unique_items = v.get<bool>();
      return Status::Ok();
    }
    if (k == "required") {
      if (!v.is_array()) return Invalid(location, "'required' must be an array of strings");
      for (const Json& name : v) {
        if (!name.is_string()) return Invalid(location, "'required' must be an array of strings");
        KeyId key = Intern(name.get_ref<const std::string&>());
        std::vector<KeyId>& req = node().required;
        if (std::find(req.begin(), req.end(), key) == req.end()) req.push_back(key);
      }
      return Status::Ok();
    }
    if (k == "properties") {
      if (!v.is_object()) return Invalid(location, "'properties' must be an object");
      for (auto it = v.begin(); it != v.end(); ++it) {
        SLUICE_ASSIGN_OR_RETURN(
            NodeId child,
            Subschema(it.value(), location + "/properties/" + EscapePointerToken(it.key()),
                      depth + 1));
        node().properties.emplace_back(Intern(it.key()), child);
      }
      std::sort(node().properties.begin(), node().properties.end());
      return Status::Ok();
    }
    if (k == "patternProperties") {
      if (!v.is_object()) return Invalid(location, "'patternProperties' must be an object");
      for (auto it = v.begin(); it != v.end(); ++it) {
        std::string child_location =
            location + "/patternProperties/" + EscapePointerToken(it.key());
        SLUICE_ASSIGN_OR_RETURN(auto re, Regex(Json(it.key()), child_location, k));
        SLUICE_ASSIGN_OR_RETURN(NodeId child, Subschema(it.value(), child_location, depth + 1));
        node().pattern_properties.push_back({std::move(re), it.key(), child});
      }
      return Status::Ok();
    }
    if (k == "additionalProperties" || k == "propertyNames" || k == "items" || k == "not" ||
        k == "if" || k == "then" || k == "else") {
      if (k == "items" && v.is_array())
        return Invalid(location, "'items' must be a schema (use 'prefixItems' for tuples)");
      SLUICE_ASSIGN_OR_RETURN(NodeId child, Child(v, location, k, depth));
      Node& n = node();
      if (k == "additionalProperties") n.additional_properties = child;
      if (k == "propertyNames") n.property_names = child;
      if (k == "items") n.items = child;
      if (k == "not") n.not_node = child;
      if (k == "if") n.if_node = child;
      if (k == "then") n.then_node = child;
      if (k == "else") n.else_node = child;
      return Status::Ok();
    }
    if (k == "prefixItems") return SchemaArray(id, v, location, k, depth, &Node::prefix_items);
    if (k == "allOf") return SchemaArray(id, v, location, k, depth, &Node::all_of);
    if (k == "anyOf") return SchemaArray(id, v, location, k, depth, &Node::any_of);
    if (k == "oneOf") return SchemaArray(id, v, location, k, depth, &Node::one_of);
    if (k == "$defs" || k == "definitions") {
      if (!v.is_object()) return Invalid(location, fmt::format("'{}' must be an object", k));
      // Compiled even when unreferenced, so that an unsupported keyword anywhere is reported.
      for (auto it = v.begin(); it != v.end(); ++it) {
        SLUICE_RETURN_IF_ERROR(Subschema(it.value(),
                                         location + "/" + k + "/" + EscapePointerToken(it.key()),
                                         depth + 1)
                                   .status());
      }
      return Status::Ok();
    }
    if (k == "$ref") {
      if (!v.is_string()) return Invalid(location, "'$ref' must be a string");
      node().ref_text = v.get<std::string>();
      pending_refs_.push_back(id);
      return Status::Ok();
    }
    if (k == "$schema" && location.empty()) {
      std::string_view uri;
      if (v.is_string()) uri = v.get_ref<const std::string&>();
      if (uri.ends_with('#')) uri.remove_suffix(1);
      if (uri != kDraft202012)
        return Status::InvalidArgument(fmt::format(
            "unsupported $schema {} (only draft 2020-12, {})", ShortText(v), kDraft202012));
      return Status::Ok();
    }
    if (k == "$id" && location.empty()) {
      if (!v.is_string()) return Invalid(location, "'$id' must be a string");
      return Status::Ok();
    }
    if (IsAnnotation(k)) return Status::Ok();
    return Status::InvalidArgument(
        fmt::format("unsupported JSON Schema keyword '{}' at {}", k, DisplayLocation(location)));
  }

  static Status AssignCount(uint64_t& out, const Json& v, const std::string& location,
                            std::string_view keyword) {
    SLUICE_ASSIGN_OR_RETURN(out, Count(v, location, keyword));
    return Status::Ok();
  }

  KeyId Intern(const std::string& name) {
    auto it = key_ids_.find(name);
    if (it != key_ids_.end()) return it->second;
    KeyId id = static_cast<KeyId>(schema_->keys.size());
    KeyInfo info{name, KeyFingerprint(name)};
    const std::string padded = name + std::string(8, '\0');  // ReadKeyWords reads 8 bytes
    info.words = ReadKeyWords(std::string_view(padded).substr(0, name.size()));
    schema_->keys.push_back(std::move(info));
    key_ids_.emplace(name, id);
    return id;
  }

  // Resolves "#" and "#<JSON pointer>" (URI-fragment encoded) against the schema document.
  Status ResolveRefs() {
    while (!pending_refs_.empty()) {
      NodeId id = pending_refs_.back();
      pending_refs_.pop_back();
      const std::string ref = nodes()[id].ref_text;
      const std::string location = nodes()[id].location;
      auto unsupported = [&](std::string_view why) {
        return Status::InvalidArgument(
            fmt::format("unsupported $ref '{}' at {}: {}", ref, DisplayLocation(location), why));
      };
      if (ref.empty() || ref[0] != '#')
        return unsupported("only local references (\"#...\") are supported");
      std::string fragment;
      for (size_t i = 1; i < ref.size(); ++i) {
        if (ref[i] == '%' && i + 2 < ref.size() && HexValue(ref[i + 1]) >= 0 &&
            HexValue(ref[i + 2]) >= 0) {
          fragment += static_cast<char>(HexValue(ref[i + 1]) * 16 + HexValue(ref[i + 2]));
          i += 2;
        } else {
          fragment += ref[i];
        }
      }
      if (!fragment.empty() && fragment[0] != '/')
        return unsupported("anchors are not supported; use a JSON pointer such as #/$defs/name");
      const Json* target = &document_;
      std::string canonical;
      int depth = 0;
      size_t pos = 0;
      while (pos < fragment.size()) {
        size_t next = fragment.find('/', pos + 1);
        if (next == std::string::npos) next = fragment.size();
        std::string token;
        for (size_t i = pos + 1; i < next; ++i) {
          if (fragment[i] == '~' && i + 1 < next && fragment[i + 1] == '0') {
            token += '~';
            ++i;
          } else if (fragment[i] == '~' && i + 1 < next && fragment[i + 1] == '1') {
            token += '/';
            ++i;
          } else {
            token += fragment[i];
          }
        }
        if (target->is_object() && target->contains(token)) {
          target = &(*target)[token];
        } else if (target->is_array() && !token.empty() &&
                   token.find_first_not_of("0123456789") == std::string::npos &&
                   token.size() < 10 && std::stoul(token) < target->size()) {
          target = &(*target)[std::stoul(token)];
        } else {
          return Status::InvalidArgument(
              fmt::format("unresolvable $ref '{}' at {}", ref, DisplayLocation(location)));
        }
        canonical += "/" + EscapePointerToken(token);
        ++depth;
        pos = next;
      }
      SLUICE_ASSIGN_OR_RETURN(NodeId resolved, Subschema(*target, canonical, depth));
      nodes()[id].ref = resolved;
    }
    return Status::Ok();
  }

  static void Derive(Node& n) {
    n.has_object_keywords = !n.properties.empty() || !n.pattern_properties.empty() ||
                            n.additional_properties != kNoNode || n.property_names != kNoNode ||
                            !n.required.empty() || n.min_properties > 0 ||
                            n.max_properties != kUnbounded;
    n.has_array_keywords = !n.prefix_items.empty() || n.items != kNoNode || n.min_items > 0 ||
                           n.max_items != kUnbounded || n.unique_items;
    if (n.if_node == kNoNode) n.then_node = n.else_node = kNoNode;  // ignored without 'if'
    n.has_applicators = !n.all_of.empty() || !n.any_of.empty() || !n.one_of.empty() ||
                        n.not_node != kNoNode || n.if_node != kNoNode || n.ref != kNoNode;
    bool passive_format = n.format == Format::kNone || n.format == Format::kAnyNumber ||
                          n.format == Format::kAnyString;
    n.has_number_keywords = !std::isnan(n.minimum) || !std::isnan(n.maximum) ||
                            !std::isnan(n.exclusive_minimum) || !std::isnan(n.exclusive_maximum) ||
                            !std::isnan(n.multiple_of) || FormatAppliesToNumbers(n.format);
    n.has_string_keywords = n.min_length > 0 || n.max_length != kUnbounded || n.pattern ||
                            (n.format != Format::kNone && !FormatAppliesToNumbers(n.format));
    n.trivial = !n.always_false && n.types == 0 && !n.has_enum && std::isnan(n.minimum) &&
                std::isnan(n.maximum) && std::isnan(n.exclusive_minimum) &&
                std::isnan(n.exclusive_maximum) && std::isnan(n.multiple_of) && n.min_length == 0 &&
                n.max_length == kUnbounded && !n.pattern && passive_format &&
                !n.has_object_keywords && !n.has_array_keywords && !n.has_applicators;
  }

  // A subschema that is only {"$ref": ...} (plus annotations) validates exactly like its target.
  // Pointing at the target directly saves the validator an instance per value, and $ref
  // wrappers are most of what real schemas reference.
  static bool IsPureRef(const Node& n) {
    if (n.ref == kNoNode) return false;
    return !n.always_false && n.types == 0 && !n.has_enum && std::isnan(n.minimum) &&
           std::isnan(n.maximum) && std::isnan(n.exclusive_minimum) &&
           std::isnan(n.exclusive_maximum) && std::isnan(n.multiple_of) && n.min_length == 0 &&
           n.max_length == kUnbounded && !n.pattern && n.format == Format::kNone &&
           !n.has_object_keywords && !n.has_array_keywords && n.all_of.empty() &&
           n.any_of.empty() && n.one_of.empty() && n.not_node == kNoNode && n.if_node == kNoNode;
  }

  void CollapseRefs() {
    auto target = [&](NodeId id) {
      // Bounded: a cycle of pure refs is left alone for OrderAndClose() to report.
      for (size_t steps = 0; id != kNoNode && IsPureRef(nodes()[id]) && steps < nodes().size();
           ++steps)
        id = nodes()[id].ref;
      return id;
    };
    for (Node& n : nodes()) {
      for (auto& property : n.properties) property.second = target(property.second);
      for (PatternProperty& p : n.pattern_properties) p.node = target(p.node);
      for (NodeId* c : {&n.additional_properties, &n.property_names, &n.items, &n.not_node,
                        &n.if_node, &n.then_node, &n.else_node})
        *c = target(*c);
      for (auto* list : {&n.prefix_items, &n.all_of, &n.any_of, &n.one_of})
        for (NodeId& c : *list) c = target(c);
    }
    schema_->root = target(schema_->root);
  }

  template <typename F>
  static void ForEachApplicator(const Node& n, F&& f) {
    for (NodeId c : n.all_of) f(c);
    for (NodeId c : n.any_of) f(c);
    for (NodeId c : n.one_of) f(c);
    for (NodeId c : {n.not_node, n.if_node, n.then_node, n.else_node, n.ref})
      if (c != kNoNode) f(c);
  }

  // Orders nodes so that each comes after the nodes its in-place applicators refer to (a
  // post-order DFS), rejecting cycles: a cycle of in-place applicators never reaches a child
  // value, so it would never terminate. Then computes every node's closure.
  Status OrderAndClose() {
    std::vector<NodeId> order;
    std::vector<uint8_t> state(nodes().size(), 0);  // 0 new, 1 on the DFS stack, 2 done
    std::vector<std::pair<NodeId, std::vector<NodeId>>> stack;
    for (NodeId start = 0; start < nodes().size(); ++start) {
      if (state[start] != 0) continue;
      auto push = [&](NodeId id) {
        std::vector<NodeId> children;
        ForEachApplicator(nodes()[id], [&](NodeId c) { children.push_back(c); });
        std::reverse(children.begin(), children.end());
        state[id] = 1;
        stack.emplace_back(id, std::move(children));
      };
      push(start);
      while (!stack.empty()) {
        auto& [id, children] = stack.back();
        if (children.empty()) {
          state[id] = 2;
          order.push_back(id);
          stack.pop_back();
          continue;
        }
        NodeId c = children.back();
        children.pop_back();
        if (state[c] == 1)
          return Status::InvalidArgument(fmt::format(
              "$ref loop at {}: the schema refers back to itself without descending into a "
              "property or an item",
              DisplayLocation(nodes()[c].location)));
        if (state[c] == 0) push(c);
      }
    }
    for (uint32_t rank = 0; rank < order.size(); ++rank) nodes()[order[rank]].fold_rank = rank;
    size_t total = 0;
    for (NodeId id : order) {  // children before parents, so their closures are ready
      Node& n = nodes()[id];
      std::vector<NodeId> closure;
      ForEachApplicator(n, [&](NodeId c) {
        const std::vector<NodeId>& cc = nodes()[c].closure;
        closure.insert(closure.end(), cc.begin(), cc.end());
      });
      closure.push_back(id);
      std::sort(closure.begin(), closure.end(),
                [&](NodeId a, NodeId b) { return nodes()[a].fold_rank < nodes()[b].fold_rank; });
      closure.erase(std::unique(closure.begin(), closure.end()), closure.end());
      total += closure.size();
      if (total > kMaxClosureEntries)
        return Status::InvalidArgument("schema too complex: too many combined subschemas");
      n.closure = std::move(closure);
    }
    return Status::Ok();
  }

  void BuildPropertyTable(Node& n) const {
    std::vector<PropertySlot> entries;
    for (const auto& [key, child] : n.properties)
      entries.push_back({schema_->keys[key].ToTableKey(key), child, false});
    for (KeyId key : n.required) {
      auto it = std::find_if(entries.begin(), entries.end(),
                             [&](const PropertySlot& e) { return e.key == key; });
      if (it != entries.end()) {
        it->required = true;
      } else {
        entries.push_back({schema_->keys[key].ToTableKey(key), kNoNode, true});
      }
    }
    // Every node gets a table, so that lookups need not check for none.
    size_t capacity = std::bit_ceil(std::max<size_t>(entries.size() * 2, 1));
    // A perfect placement when some shift of the hashes gives every key its own slot (likely
    // for the few keys of a typical object; tried at twice the size too while slot bits still
    // fit): then a lookup reads one slot, where a miss would otherwise probe to an empty one.
    auto perfect_shift = [&](size_t slots) -> int {
      std::vector<bool> used(slots);
      for (int shift = 0; shift < 64 && shift + std::countr_zero(slots) <= 64; ++shift) {
        std::fill(used.begin(), used.end(), false);
        bool distinct = true;
        for (const PropertySlot& e : entries) {
          const size_t i = (e.hash >> shift) & (slots - 1);
          distinct = distinct && !used[i];
          used[i] = true;
        }
        if (distinct) return shift;
      }
      return -1;
    };
    int shift = perfect_shift(capacity);
    if (shift < 0 && (capacity * 2 <= 64 || capacity > 64)) {
      shift = perfect_shift(capacity * 2);
      if (shift >= 0) capacity *= 2;
    }
    n.property_table.assign(capacity, PropertySlot{});
    n.property_table_mask = capacity - 1;
    n.slot_bits = capacity <= 64;
    n.property_table_perfect = shift >= 0;
    n.property_table_shift = static_cast<uint8_t>(std::max(shift, 0));
    if (n.property_table_perfect)  // no key is this long: an empty slot never matches
      for (PropertySlot& slot : n.property_table)
        slot.length = std::numeric_limits<uint32_t>::max();
    for (const PropertySlot& e : entries) {
      uint64_t i = n.property_table_perfect ? (e.hash >> shift) & n.property_table_mask
                                            : e.hash & n.property_table_mask;
      while (n.property_table[i].key != kUnknownKey) i = (i + 1) & n.property_table_mask;
      n.property_table[i] = e;
      if (n.slot_bits && e.required) n.required_slots |= uint64_t{1} << i;
    }
    for (uint32_t i = 0; i < n.property_table.size(); ++i) n.property_table[i].index = i;
  }

  static bool SimpleKeywords(const Node& n) {
    return n.pattern_properties.empty() && n.property_names == kNoNode && !n.unique_items &&
           !n.enum_has_composite;
  }

  // No assertion of its own (it may have applicators).
  static bool NoOwnKeywords(const Node& n) {
    return !n.always_false && n.types == 0 && !n.has_enum && !n.has_number_keywords &&
           !n.has_string_keywords && !n.has_object_keywords && !n.has_array_keywords;
  }

  // See NodeBrief: the quick check covers a type only when the node asks nothing more of it.
  // (`n` stays where it is: the brief points at its pattern.)
  static NodeBrief Brief(const Node& n) {
    NodeBrief b;
    b.kind = n.trivial                     ? NodeBrief::kTrivial
             : n.simple && !n.always_false ? NodeBrief::kSimple
                                           : NodeBrief::kOther;
    b.scalar_pass = n.scalar_pass;
    if (n.always_false || n.has_enum) return b;
    const uint8_t accepted = n.types != 0 ? n.types : 0xFF;
    constexpr uint64_t kMaxBytes = std::numeric_limits<uint32_t>::max();
    const bool string_quick = (n.format == Format::kNone || n.format == Format::kDateTime) &&
                              (n.pattern == nullptr || n.has_simple_pattern) &&
                              n.min_length <= kMaxBytes / 4;
    if ((accepted & kStringBit) && string_quick) {
      b.quick_types |= kStringBit;
      b.quick_min_bytes = static_cast<uint32_t>(n.min_length * 4);
      b.quick_max_bytes = static_cast<uint32_t>(std::min<uint64_t>(n.max_length, kMaxBytes));
      b.quick_date_time = n.format == Format::kDateTime;
      if (n.pattern != nullptr) b.quick_pattern = &n.simple_pattern;
    }
    const bool number_quick = std::isnan(n.exclusive_minimum) && std::isnan(n.exclusive_maximum) &&
                              std::isnan(n.multiple_of) && !FormatAppliesToNumbers(n.format);
    if (number_quick) {
      b.quick_types |= accepted & (kNumberBit | kIntegerBit);
      constexpr double kInf = std::numeric_limits<double>::infinity();
      b.quick_minimum = std::isnan(n.minimum) ? -kInf : n.minimum;
      b.quick_maximum = std::isnan(n.maximum) ? kInf : n.maximum;
    }
    return b;
  }

  // See Node::conditions. Needs `simple` and the property tables of every node.
  void BuildConditions(NodeId id) {
    Node& n = nodes()[id];
    constexpr size_t kMaxConditions = 16;
    if (n.closure.size() < 2 || !SimpleKeywords(n) || !n.any_of.empty() || !n.one_of.empty() ||
        n.not_node != kNoNode || n.ref != kNoNode)
      return;
    // The nodes whose if/then/else become conditions: n itself and its allOf members.
    std::vector<NodeId> owners;
    if (n.if_node != kNoNode) owners.push_back(id);
    for (NodeId w : n.all_of) {
      const Node& m = nodes()[w];
      if (!NoOwnKeywords(m) || m.if_node == kNoNode || !m.all_of.empty() || !m.any_of.empty() ||
          !m.one_of.empty() || m.not_node != kNoNode || m.ref != kNoNode ||
          std::find(owners.begin(), owners.end(), w) != owners.end())
        return;
      owners.push_back(w);
    }
    if (owners.size() > kMaxConditions) return;
    auto branch_ok = [&](NodeId b) {  // only `required`
      if (b == kNoNode) return true;
      const Node& m = nodes()[b];
      return m.closure.size() == 1 && !m.always_false && m.types == 0 && !m.has_enum &&
             !m.has_number_keywords && !m.has_string_keywords && !m.has_array_keywords &&
             m.properties.empty() && m.pattern_properties.empty() &&
             m.additional_properties == kNoNode && m.property_names == kNoNode &&
             m.min_properties == 0 && m.max_properties == kUnbounded;
    };
    auto if_ok = [&](NodeId f) {  // `required` and leaf `properties`
      const Node& m = nodes()[f];
      if (m.closure.size() != 1 || m.always_false || m.types != 0 || m.has_enum ||
          m.has_number_keywords || m.has_string_keywords || m.has_array_keywords ||
          !m.pattern_properties.empty() || m.additional_properties != kNoNode ||
          m.property_names != kNoNode || m.min_properties != 0 || m.max_properties != kUnbounded)
        return false;
      for (const auto& [key, child] : m.properties) {
        const Node& c = nodes()[child];
        if (c.closure.size() != 1 || !(c.simple || c.trivial) || c.has_object_keywords ||
            c.has_array_keywords)
          return false;
      }
      return true;
    };
    // The closure must be exactly n, the owners and their roles, each node in one role only (a
    // node shared with anything else keeps the general path, which evaluates it once).
    std::vector<NodeId> roles;
    for (NodeId o : owners) {
      const Node& m = nodes()[o];
      if (!if_ok(m.if_node) || !branch_ok(m.then_node) || !branch_ok(m.else_node)) return;
      for (NodeId r : {m.if_node, m.then_node, m.else_node})
        if (r != kNoNode) roles.push_back(r);
    }
    std::vector<NodeId> expected = roles;
    std::sort(expected.begin(), expected.end());
    if (std::adjacent_find(expected.begin(), expected.end()) != expected.end()) return;
    if (std::binary_search(expected.begin(), expected.end(), id)) return;
    for (NodeId o : owners)
      if (std::binary_search(expected.begin(), expected.end(), o)) return;
    expected.insert(expected.end(), owners.begin(), owners.end());
    expected.push_back(id);  // also an owner when it has if/then/else itself
    std::sort(expected.begin(), expected.end());
    expected.erase(std::unique(expected.begin(), expected.end()), expected.end());
    std::vector<NodeId> closure = n.closure;
    std::sort(closure.begin(), closure.end());
    if (closure != expected) return;

    std::vector<KeyId> keys;  // the if-properties, in order of first appearance
    std::unordered_map<KeyId, std::vector<ClosureProperty>> entries;
    for (uint32_t c = 0; c < owners.size(); ++c) {
      const Node& m = nodes()[owners[c]];
      n.conditions.push_back({m.if_node, m.then_node, m.else_node});
      for (const auto& [key, child] : nodes()[m.if_node].properties) {
        std::vector<ClosureProperty>& list = entries[key];
        if (list.empty()) keys.push_back(key);
        list.push_back({c, child, false});
      }
    }
    n.simple = true;
    BuildKeyTable(keys, entries, n.condition_table, n.condition_table_mask, n.condition_properties);
    // Usually the if-properties are declared properties too: then the property lookup that every
    // field does anyway finds the gate.
    std::vector<std::pair<PropertySlot*, uint32_t>> gates;
    for (uint32_t c = 0; c < n.condition_table.size(); ++c) {
      const KeyId key = n.condition_table[c].key;
      if (key == kUnknownKey) continue;
      auto slot = std::find_if(n.property_table.begin(), n.property_table.end(),
                               [&](const PropertySlot& p) { return p.key == key; });
      if (slot == n.property_table.end()) return;
      gates.emplace_back(&*slot, c);
    }
    for (auto [slot, c] : gates) slot->gate = c;
    n.gates_in_property_table = true;
  }

  // See Node::closure_table. Needs the property tables of the closure's nodes.
  void BuildClosureTable(Node& n) const {
    if (n.closure.size() < 2) return;
    std::vector<KeyId> keys;  // in order of first appearance
    std::unordered_map<KeyId, std::vector<ClosureProperty>> entries;
    for (uint32_t position = 0; position < n.closure.size(); ++position) {
      const Node& m = schema_->nodes[n.closure[position]];
      if (!m.pattern_properties.empty() || m.additional_properties != kNoNode ||
          m.property_names != kNoNode)
        return;
      for (const PropertySlot& slot : m.property_table) {
        if (slot.key == kUnknownKey) continue;
        std::vector<ClosureProperty>& list = entries[slot.key];
        if (list.empty()) keys.push_back(slot.key);
        list.push_back({position, slot.child, slot.required});
      }
    }
    if (keys.empty()) return;
    BuildKeyTable(keys, entries, n.closure_table, n.closure_table_mask, n.closure_properties);
    n.closure_slot_bits = n.closure_table.size() <= 64;
  }

  // An open-addressing table of ClosureSlot over `keys`, each with its entries (in order) in
  // `properties`.
  void BuildKeyTable(const std::vector<KeyId>& keys,
                     std::unordered_map<KeyId, std::vector<ClosureProperty>>& entries,
                     std::vector<ClosureSlot>& table, uint64_t& mask,
                     std::vector<ClosureProperty>& properties) const {
    const size_t capacity = std::bit_ceil(std::max<size_t>(keys.size() * 2, 1));
    table.assign(capacity, ClosureSlot{});
    mask = capacity - 1;
    for (KeyId key : keys) {
      const std::vector<ClosureProperty>& list = entries[key];
      ClosureSlot slot{schema_->keys[key].ToTableKey(key), static_cast<uint32_t>(properties.size()),
                       static_cast<uint32_t>(list.size())};
      properties.insert(properties.end(), list.begin(), list.end());
      uint64_t i = slot.hash & mask;
      while (table[i].key != kUnknownKey) i = (i + 1) & mask;
      table[i] = slot;
    }
  }

  const Json& document_;
  std::unique_ptr<CompiledSchema> schema_ = std::make_unique<CompiledSchema>();
  std::unordered_map<std::string, NodeId> by_location_;
  std::unordered_map<std::string, KeyId> key_ids_;
  std::vector<NodeId> pending_refs_;
};

}  // namespace
}  // namespace internal

Result<std::shared_ptr<const CompiledSchema>> CompileJsonSchema(std::string_view schema_json) {
  constexpr int kMaxTextNesting = 256;
  if (!internal::NestingWithin(schema_json, kMaxTextNesting))
    return Status::InvalidArgument(
        fmt::format("schema is nested deeper than {} levels", kMaxTextNesting));
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(schema_json);
  } catch (const nlohmann::json::exception& e) {  // parse errors, number overflow
    return Status::InvalidArgument(fmt::format("schema is not valid JSON: {}", e.what()));
  }
  try {
    return internal::Compiler(document).Run();
  } catch (const nlohmann::json::exception& e) {  // the compiler checks types first; a backstop
    return Status::InvalidArgument(fmt::format("invalid schema: {}", e.what()));
  }
}

}  // namespace sluice::schema
