#include "schema/avro.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "schema/compatibility.h"

namespace sluice::schema {

using json = nlohmann::json;
using Kind = AvroNode::Kind;

const char* AvroKindName(Kind kind) {
  switch (kind) {
    case Kind::kNull:
      return "null";
    case Kind::kBoolean:
      return "boolean";
    case Kind::kInt:
      return "int";
    case Kind::kLong:
      return "long";
    case Kind::kFloat:
      return "float";
    case Kind::kDouble:
      return "double";
    case Kind::kBytes:
      return "bytes";
    case Kind::kString:
      return "string";
    case Kind::kRecord:
      return "record";
    case Kind::kEnum:
      return "enum";
    case Kind::kArray:
      return "array";
    case Kind::kMap:
      return "map";
    case Kind::kUnion:
      return "union";
    case Kind::kFixed:
      return "fixed";
  }
  return "?";
}

namespace {

std::optional<Kind> PrimitiveKind(std::string_view name) {
  static const std::pair<std::string_view, Kind> kPrimitives[] = {
      {"null", Kind::kNull},   {"boolean", Kind::kBoolean}, {"int", Kind::kInt},
      {"long", Kind::kLong},   {"float", Kind::kFloat},     {"double", Kind::kDouble},
      {"bytes", Kind::kBytes}, {"string", Kind::kString},
  };
  for (const auto& [n, k] : kPrimitives)
    if (n == name) return k;
  return std::nullopt;
}

bool IsValidName(std::string_view name) {
  if (name.empty()) return false;
  auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (!alpha(name[0])) return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

// A namespace is empty or dot-separated names.
bool IsValidNamespace(std::string_view ns) {
  if (ns.empty()) return true;
  size_t start = 0;
  while (true) {
    size_t dot = ns.find('.', start);
    if (!IsValidName(ns.substr(start, dot == std::string_view::npos ? dot : dot - start)))
      return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::string ShortName(const std::string& full_name) {
  size_t dot = full_name.rfind('.');
  return dot == std::string::npos ? full_name : full_name.substr(dot + 1);
}

bool IsNamed(Kind k) {
  return k == Kind::kRecord || k == Kind::kEnum || k == Kind::kFixed;
}

}  // namespace

class AvroParser {
 public:
  Result<std::shared_ptr<const AvroSchema>> Parse(const json& doc) {
    schema_ = std::make_shared<AvroSchema>();
    SLUICE_ASSIGN_OR_RETURN(schema_->root_, ParseNode(doc, "", ""));
    return std::shared_ptr<const AvroSchema>(std::move(schema_));
  }

 private:
  static Status Error(const std::string& path, std::string_view what) {
    return Status::InvalidArgument(fmt::format("{}: {}", path.empty() ? "/" : path, what));
  }

  AvroNode* NewNode(Kind kind) {
    schema_->nodes_.push_back(std::make_unique<AvroNode>());
    schema_->nodes_.back()->kind = kind;
    return schema_->nodes_.back().get();
  }

  Result<const AvroNode*> ParseNode(const json& j, const std::string& ns, const std::string& path) {
    if (j.is_string()) return ParseTypeName(j.get<std::string>(), ns, path);
    if (j.is_array()) return ParseUnion(j, ns, path);
    if (!j.is_object())
      return Error(path, fmt::format("a schema must be a type name, an object or an array (a "
                                     "union), not {}",
                                     j.dump()));
    auto type = j.find("type");
    if (type == j.end()) return Error(path, "missing \"type\"");
    if (!type->is_string()) return ParseNode(*type, ns, path + "/type");
    const std::string t = type->get<std::string>();
    if (t == "record" || t == "error") return ParseRecord(j, ns, path);
    if (t == "enum") return ParseEnum(j, ns, path);
    if (t == "fixed") return ParseFixed(j, ns, path);
    if (t == "array" || t == "map") {
      const char* key = t == "array" ? "items" : "values";
      auto it = j.find(key);
      if (it == j.end()) return Error(path, fmt::format("{} without \"{}\"", t, key));
      AvroNode* node = NewNode(t == "array" ? Kind::kArray : Kind::kMap);
      SLUICE_ASSIGN_OR_RETURN(node->items, ParseNode(*it, ns, path + "/" + key));
      return node;
    }
    return ParseTypeName(t, ns, path + "/type");
  }

  Result<const AvroNode*> ParseTypeName(const std::string& name, const std::string& ns,
                                        const std::string& path) {
    if (auto k = PrimitiveKind(name)) return static_cast<const AvroNode*>(NewNode(*k));
    if (name.find('.') == std::string::npos && !ns.empty()) {
      auto it = named_.find(ns + "." + name);
      if (it != named_.end()) return it->second;
    }
    auto it = named_.find(name);
    if (it != named_.end()) return it->second;
    return Error(path, fmt::format("unknown type '{}' (not a primitive type and no named type "
                                   "with that name is defined before this point)",
                                   name));
  }

  Result<const AvroNode*> ParseUnion(const json& j, const std::string& ns,
                                     const std::string& path) {
    AvroNode* node = NewNode(Kind::kUnion);
    std::set<std::string> seen;
    for (size_t i = 0; i < j.size(); ++i) {
      const std::string p = fmt::format("{}/{}", path, i);
      if (j[i].is_array()) return Error(p, "a union may not immediately contain another union");
      SLUICE_ASSIGN_OR_RETURN(const AvroNode* branch, ParseNode(j[i], ns, p));
      std::string key = IsNamed(branch->kind) ? branch->full_name : AvroKindName(branch->kind);
      if (!seen.insert(key).second)
        return Error(p, fmt::format("the union contains '{}' twice", key));
      node->branches.push_back(branch);
    }
    return node;
  }

  // Resolves the full name of a named type and registers the node under it.
  Status Name(const json& j, const std::string& ns, const std::string& path, AvroNode* node,
              std::string* own_ns) {
    auto name = j.find("name");
    if (name == j.end() || !name->is_string())
      return Error(path, fmt::format("a {} needs a \"name\" string", AvroKindName(node->kind)));
    std::string n = name->get<std::string>();
    std::string space = ns;
    if (auto it = j.find("namespace"); it != j.end() && !it->is_null()) {
      if (!it->is_string()) return Error(path + "/namespace", "must be a string");
      space = it->get<std::string>();
    }
    if (size_t dot = n.rfind('.'); dot != std::string::npos) {
      space = n.substr(0, dot);
      n = n.substr(dot + 1);
    }
    if (!IsValidName(n))
      return Error(path + "/name",
                   fmt::format("'{}' is not a valid Avro name ([A-Za-z_][A-Za-z0-9_]*)", n));
    if (!IsValidNamespace(space))
      return Error(path + "/namespace", fmt::format("'{}' is not a valid Avro namespace", space));
    if (PrimitiveKind(n) && space.empty())
      return Error(path + "/name", fmt::format("'{}' is a primitive type name", n));
    node->full_name = space.empty() ? n : space + "." + n;
    if (!named_.emplace(node->full_name, node).second)
      return Error(path + "/name", fmt::format("type '{}' is defined twice", node->full_name));
    *own_ns = space;
    if (auto it = j.find("aliases"); it != j.end()) {
      SLUICE_RETURN_IF_ERROR(Aliases(*it, space, path + "/aliases", &node->aliases));
    }
    return Status::Ok();
  }

  Status Aliases(const json& j, const std::string& space, const std::string& path,
                 std::vector<std::string>* out) {
    if (!j.is_array()) return Error(path, "must be an array of names");
    for (const auto& a : j) {
      if (!a.is_string()) return Error(path, "must be an array of names");
      std::string alias = a.get<std::string>();
      out->push_back(alias.find('.') != std::string::npos || space.empty() ? alias
                                                                           : space + "." + alias);
    }
    return Status::Ok();
  }

  Result<const AvroNode*> ParseRecord(const json& j, const std::string& ns,
                                      const std::string& path) {
    AvroNode* node = NewNode(Kind::kRecord);
    std::string own_ns;
    SLUICE_RETURN_IF_ERROR(Name(j, ns, path, node, &own_ns));
    auto fields = j.find("fields");
    if (fields == j.end() || !fields->is_array())
      return Error(path, "a record needs a \"fields\" array");
    std::set<std::string> names;
    for (size_t i = 0; i < fields->size(); ++i) {
      const json& f = (*fields)[i];
      const std::string p = fmt::format("{}/fields/{}", path, i);
      if (!f.is_object()) return Error(p, "a field must be an object");
      auto name = f.find("name");
      if (name == f.end() || !name->is_string()) return Error(p, "a field needs a \"name\" string");
      AvroNode::Field field;
      field.name = name->get<std::string>();
      if (!IsValidName(field.name))
        return Error(p + "/name", fmt::format("'{}' is not a valid Avro name", field.name));
      if (!names.insert(field.name).second)
        return Error(p + "/name", fmt::format("field '{}' is defined twice", field.name));
      auto type = f.find("type");
      if (type == f.end()) return Error(p, fmt::format("field '{}' has no \"type\"", field.name));
      SLUICE_ASSIGN_OR_RETURN(field.type, ParseNode(*type, own_ns, p + "/type"));
      if (auto d = f.find("default"); d != f.end()) {
        if (!ValidDefault(field.type, *d))
          return Error(p + "/default", fmt::format("default {} is not a valid {} value", d->dump(),
                                                   AvroKindName(field.type->kind)));
        field.has_default = true;
      }
      if (auto order = f.find("order"); order != f.end()) {
        if (!order->is_string() ||
            (*order != "ascending" && *order != "descending" && *order != "ignore"))
          return Error(p + "/order", "must be \"ascending\", \"descending\" or \"ignore\"");
      }
      if (auto a = f.find("aliases"); a != f.end()) {
        if (!a->is_array() ||
            !std::all_of(a->begin(), a->end(), [](const json& x) { return x.is_string(); }))
          return Error(p + "/aliases", "must be an array of names");
        for (const auto& x : *a) field.aliases.push_back(x.get<std::string>());
      }
      node->fields.push_back(std::move(field));
    }
    return node;
  }

  Result<const AvroNode*> ParseEnum(const json& j, const std::string& ns, const std::string& path) {
    AvroNode* node = NewNode(Kind::kEnum);
    std::string own_ns;
    SLUICE_RETURN_IF_ERROR(Name(j, ns, path, node, &own_ns));
    auto symbols = j.find("symbols");
    if (symbols == j.end() || !symbols->is_array())
      return Error(path, "an enum needs a \"symbols\" array");
    std::set<std::string> seen;
    for (size_t i = 0; i < symbols->size(); ++i) {
      const json& s = (*symbols)[i];
      const std::string p = fmt::format("{}/symbols/{}", path, i);
      if (!s.is_string() || !IsValidName(s.get<std::string>()))
        return Error(p, fmt::format("{} is not a valid enum symbol", s.dump()));
      if (!seen.insert(s.get<std::string>()).second)
        return Error(p, fmt::format("symbol {} appears twice", s.dump()));
      node->symbols.push_back(s.get<std::string>());
    }
    if (auto d = j.find("default"); d != j.end()) {
      if (!d->is_string() || !seen.count(d->get<std::string>()))
        return Error(path + "/default",
                     fmt::format("default {} is not one of the symbols", d->dump()));
      node->has_enum_default = true;
    }
    return node;
  }

  Result<const AvroNode*> ParseFixed(const json& j, const std::string& ns,
                                     const std::string& path) {
    AvroNode* node = NewNode(Kind::kFixed);
    std::string own_ns;
    SLUICE_RETURN_IF_ERROR(Name(j, ns, path, node, &own_ns));
    auto size = j.find("size");
    if (size == j.end() || !size->is_number_integer() || size->get<int64_t>() < 0)
      return Error(path, "a fixed needs a non-negative integer \"size\"");
    node->size = size->get<int64_t>();
    return node;
  }

  static bool ValidDefault(const AvroNode* t, const json& d) {
    switch (t->kind) {
      case Kind::kNull:
        return d.is_null();
      case Kind::kBoolean:
        return d.is_boolean();
      case Kind::kInt:
        return d.is_number_integer() && d.get<int64_t>() >= INT32_MIN &&
               d.get<int64_t>() <= INT32_MAX;
      case Kind::kLong:
        return d.is_number_integer();
      case Kind::kFloat:
      case Kind::kDouble:
        return d.is_number();
      case Kind::kBytes:
      case Kind::kString:
      case Kind::kFixed:
        return d.is_string();
      case Kind::kEnum:
        return d.is_string() && std::find(t->symbols.begin(), t->symbols.end(),
                                          d.get<std::string>()) != t->symbols.end();
      case Kind::kArray:
        return d.is_array() && std::all_of(d.begin(), d.end(), [&](const json& x) {
                 return ValidDefault(t->items, x);
               });
      case Kind::kMap:
        return d.is_object() && std::all_of(d.begin(), d.end(), [&](const json& x) {
                 return ValidDefault(t->items, x);
               });
      case Kind::kUnion:
        return std::any_of(t->branches.begin(), t->branches.end(),
                           [&](const AvroNode* b) { return ValidDefault(b, d); });
      case Kind::kRecord:
        if (!d.is_object()) return false;
        for (const auto& f : t->fields) {
          auto it = d.find(f.name);
          if (it == d.end() ? !f.has_default : !ValidDefault(f.type, *it)) return false;
        }
        return true;
    }
    return false;
  }

  std::shared_ptr<AvroSchema> schema_;
  std::map<std::string, const AvroNode*> named_;
};

Result<std::shared_ptr<const AvroSchema>> ParseAvroSchema(const json& schema) {
  return AvroParser().Parse(schema);
}

namespace {

// Avro's schema resolution, reader against writer (the specification's "Schema Resolution").
class AvroCompat {
 public:
  AvroCompat(std::string_view writer_name, std::string_view reader_name)
      : w_(writer_name), r_(reader_name) {}

  void Check(const AvroNode* w, const AvroNode* r, const std::string& path,
             std::vector<SchemaDifference>& out) {
    if (!visiting_.insert({w, r}).second) return;  // recursive types: assume the cycle holds
    CheckNode(w, r, path, out);
    visiting_.erase({w, r});
  }

 private:
  void Add(std::vector<SchemaDifference>& out, const char* type, const std::string& path,
           const std::string& what) {
    const std::string p = path.empty() ? "/" : path;
    out.push_back({type, p, fmt::format("{}: {}", p, what)});
  }

  static std::string Describe(const AvroNode* n) {
    return IsNamed(n->kind) ? fmt::format("{} '{}'", AvroKindName(n->kind), n->full_name)
                            : AvroKindName(n->kind);
  }

  static bool Promotes(Kind w, Kind r) {
    switch (w) {
      case Kind::kInt:
        return r == Kind::kLong || r == Kind::kFloat || r == Kind::kDouble;
      case Kind::kLong:
        return r == Kind::kFloat || r == Kind::kDouble;
      case Kind::kFloat:
        return r == Kind::kDouble;
      case Kind::kString:
        return r == Kind::kBytes;
      case Kind::kBytes:
        return r == Kind::kString;
      default:
        return false;
    }
  }

  static bool NamesMatch(const AvroNode* w, const AvroNode* r) {
    return ShortName(w->full_name) == ShortName(r->full_name) ||
           std::find(r->aliases.begin(), r->aliases.end(), w->full_name) != r->aliases.end();
  }

  void CheckNode(const AvroNode* w, const AvroNode* r, const std::string& path,
                 std::vector<SchemaDifference>& out) {
    if (w->kind == Kind::kUnion) {
      // Every branch the writer may have used must resolve.
      for (size_t i = 0; i < w->branches.size(); ++i) Check(w->branches[i], r, path, out);
      return;
    }
    if (r->kind == Kind::kUnion) {
      for (const AvroNode* b : r->branches) {
        std::vector<SchemaDifference> sub;
        Check(w, b, path, sub);
        if (sub.empty()) return;
      }
      Add(out, "MISSING_UNION_BRANCH", path,
          fmt::format("the {} union has no branch that can read the {} schema's {} (data "
                      "written as {} could not be read)",
                      r_, w_, Describe(w), Describe(w)));
      return;
    }
    if (w->kind != r->kind) {
      if (Promotes(w->kind, r->kind)) return;
      Add(out, "TYPE_MISMATCH", path,
          fmt::format("the {} schema reads {} where the {} schema wrote {}", r_, Describe(r), w_,
                      Describe(w)));
      return;
    }
    switch (w->kind) {
      case Kind::kRecord: {
        if (!NamesMatch(w, r)) return NameMismatch(w, r, path, out);
        for (size_t i = 0; i < r->fields.size(); ++i) {
          const auto& rf = r->fields[i];
          const AvroNode::Field* wf = FindField(*w, rf);
          const std::string fp = fmt::format("{}/fields/{}", path, i);
          if (wf != nullptr) {
            Check(wf->type, rf.type, fp + "/type", out);
          } else if (!rf.has_default) {
            Add(out, "READER_FIELD_MISSING_DEFAULT_VALUE", fp,
                fmt::format("field '{}' of the {} schema has no default and is missing in the "
                            "{} schema ({} data has no value for it)",
                            rf.name, r_, w_, w_));
          }
        }
        return;
      }
      case Kind::kEnum: {
        if (!NamesMatch(w, r)) return NameMismatch(w, r, path, out);
        if (r->has_enum_default) return;
        std::vector<std::string> missing;
        for (const auto& s : w->symbols)
          if (std::find(r->symbols.begin(), r->symbols.end(), s) == r->symbols.end())
            missing.push_back(s);
        if (!missing.empty())
          Add(out, "MISSING_ENUM_SYMBOLS", path + "/symbols",
              fmt::format("the {} schema's enum '{}' lacks symbol(s) [{}] that the {} schema "
                          "may write, and has no default",
                          r_, r->full_name, fmt::join(missing, ", "), w_));
        return;
      }
      case Kind::kFixed:
        if (!NamesMatch(w, r)) return NameMismatch(w, r, path, out);
        if (w->size != r->size)
          Add(out, "FIXED_SIZE_MISMATCH", path + "/size",
              fmt::format("fixed '{}' is {} bytes in the {} schema but {} in the {} schema",
                          r->full_name, r->size, r_, w->size, w_));
        return;
      case Kind::kArray:
        return Check(w->items, r->items, path + "/items", out);
      case Kind::kMap:
        return Check(w->items, r->items, path + "/values", out);
      default:
        return;  // the same primitive
    }
  }

  static const AvroNode::Field* FindField(const AvroNode& w, const AvroNode::Field& rf) {
    for (const auto& f : w.fields)
      if (f.name == rf.name) return &f;
    for (const auto& alias : rf.aliases)
      for (const auto& f : w.fields)
        if (f.name == alias) return &f;
    return nullptr;
  }

  void NameMismatch(const AvroNode* w, const AvroNode* r, const std::string& path,
                    std::vector<SchemaDifference>& out) {
    Add(out, "NAME_MISMATCH", path + "/name",
        fmt::format("the {} schema's {} is named '{}' but the {} schema's is '{}' (add an alias "
                    "to read it under the new name)",
                    r_, AvroKindName(r->kind), r->full_name, w_, w->full_name));
  }

  std::string w_, r_;
  std::set<std::pair<const AvroNode*, const AvroNode*>> visiting_;
};

}  // namespace

std::vector<SchemaDifference> AvroReadProblems(const AvroSchema& writer, const AvroSchema& reader,
                                               std::string_view writer_name,
                                               std::string_view reader_name) {
  std::vector<SchemaDifference> out;
  AvroCompat(writer_name, reader_name).Check(&writer.root(), &reader.root(), "", out);
  return out;
}

}  // namespace sluice::schema
