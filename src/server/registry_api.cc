#include "server/registry_api.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "schema/registry.h"

namespace sluice::server {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;  // responses keep Confluent's field order
using schema::Registry;
using schema::RegistryError;

RegistryHttpResponse Respond(int status, std::string body) {
  RegistryHttpResponse res;
  res.status = status;
  res.body = std::move(body);
  return res;
}
RegistryHttpResponse Json(int status, const ojson& body) {
  return Respond(status, body.dump());
}

RegistryHttpResponse ErrorResponse(int http_status, int error_code, std::string_view message) {
  return Json(http_status, ojson{{"error_code", error_code}, {"message", message}});
}
RegistryHttpResponse ErrorResponse(const RegistryError& e) {
  return ErrorResponse(e.http_status(), e.error_code, e.message);
}
RegistryHttpResponse NotFound() {
  return ErrorResponse(404, 404, "HTTP 404 Not Found");
}
RegistryHttpResponse MethodNotAllowed() {
  return ErrorResponse(405, 405, "HTTP 405 Method Not Allowed");
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && Hex(s[i + 1]) >= 0 && Hex(s[i + 2]) >= 0) {
      out += static_cast<char>(Hex(s[i + 1]) * 16 + Hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

class Query {
 public:
  explicit Query(std::string_view query) {
    while (!query.empty()) {
      size_t amp = query.find('&');
      std::string_view pair = query.substr(0, amp);
      size_t eq = pair.find('=');
      params_.emplace(Decode(pair.substr(0, eq)),
                      eq == std::string_view::npos ? "" : Decode(pair.substr(eq + 1)));
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  // Jersey's boolean parameters: "true" in any case is true, anything else false.
  bool Flag(const std::string& name) const {
    auto it = params_.find(name);
    if (it == params_.end()) return false;
    std::string v = it->second;
    std::transform(v.begin(), v.end(), v.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return v == "true";
  }
  std::string Get(const std::string& name) const {
    auto it = params_.find(name);
    return it == params_.end() ? "" : it->second;
  }

 private:
  std::multimap<std::string, std::string> params_;
};

// Parses a request body that must be a JSON object.
std::optional<RegistryHttpResponse> ParseObject(std::string_view body, json& out) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return ErrorResponse(422, 422, "Request body is required: send a JSON object");
  try {
    out = json::parse(body);
  } catch (const json::parse_error& e) {
    // nlohmann reports malformed input by exception; it is the library's only error channel.
    return ErrorResponse(400, 400, fmt::format("Request body is not valid JSON: {}", e.what()));
  }
  if (!out.is_object())
    return ErrorResponse(
        400, 400, fmt::format("Request body must be a JSON object, not {}", out.type_name()));
  return std::nullopt;
}

bool Present(const json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && !it->is_null();
}

// Confluent's RegisterSchemaRequest: {"schema": "...", "schemaType": "JSON", "references": []}.
std::optional<RegistryHttpResponse> ParseSchemaInput(std::string_view text,
                                                     schema::SchemaInput& input) {
  json body;
  if (auto error = ParseObject(text, body)) return error;
  auto invalid = [](std::string_view message) {
    return ErrorResponse(422, schema::errc::kInvalidSchema, message);
  };
  if (Present(body, "schema")) {
    if (!body["schema"].is_string())
      return invalid("\"schema\" must be a string holding the schema document");
    input.schema = body["schema"].get<std::string>();
  }
  if (Present(body, "schemaType")) {
    const json& t = body["schemaType"];
    std::string name = t.is_string() ? t.get<std::string>() : t.dump();
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (name == "JSON") {
      input.type = schema::SchemaType::kJson;
    } else if (name == "AVRO") {
      input.type = schema::SchemaType::kAvro;
    } else {
      return invalid(fmt::format("Invalid schema type {}: Sluice supports JSON and AVRO", name));
    }
  }
  if (Present(body, "references")) {
    const json& refs = body["references"];
    if (!refs.is_array()) return invalid("\"references\" must be an array");
    for (const auto& r : refs) {
      if (!r.is_object()) return invalid("each reference must be an object");
      input.references.push_back({r.value("name", ""), r.value("subject", ""),
                                  r.contains("version") && r["version"].is_number_integer()
                                      ? r["version"].get<int>()
                                      : 0});
    }
  }
  for (const char* key : {"metadata", "ruleSet"}) {
    if (Present(body, key) && !body[key].empty())
      return invalid(
          fmt::format("\"{}\" (Confluent data contracts) is not supported by Sluice", key));
  }
  for (const char* key : {"id", "version"}) {
    if (Present(body, key) && !(body[key].is_number_integer() && body[key].get<int64_t>() <= 0))
      return ErrorResponse(422, schema::errc::kOperationNotPermitted,
                           fmt::format("Registering with an explicit \"{}\" needs IMPORT mode, "
                                       "which Sluice does not support",
                                       key));
  }
  return std::nullopt;
}

ojson VersionJson(const schema::SubjectVersion& v) {
  ojson out = {{"subject", v.subject},
               {"version", v.version},
               {"id", v.schema->id},
               {"schemaType", schema::SchemaTypeName(v.schema->type)},
               {"schema", v.schema->schema}};
  if (v.deleted) out["deleted"] = true;
  return out;
}

ojson ConfigJson(const schema::RegistryConfig& c, const char* level_key) {
  ojson out = ojson::object();
  if (c.compatibility) out[level_key] = schema::CompatibilityLevelName(*c.compatibility);
  if (c.normalize) out["normalize"] = *c.normalize;
  if (c.compatibility_policy)
    out["compatibilityPolicy"] = schema::CompatibilityPolicyName(*c.compatibility_policy);
  return out;
}

std::optional<int> ParseId(const std::string& text) {
  int id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return id;
}

class Handler {
 public:
  Handler(Registry& registry, std::string_view method, std::span<const std::string> path,
          std::string_view query, std::string_view body)
      : r_(registry), method_(method), p_(path), q_(query), body_(body) {}

  RegistryHttpResponse Run() {
    if (p_.empty()) return Only("GET", [] { return Json(200, ojson::object()); });
    if (p_[0] == "subjects") return Subjects();
    if (p_[0] == "schemas") return Schemas();
    if (p_[0] == "config" && p_.size() <= 2) return Config(p_.size() == 2 ? p_[1] : "");
    if (p_[0] == "compatibility" && (p_.size() == 4 || p_.size() == 5) && p_[1] == "subjects" &&
        p_[3] == "versions")
      return Only("POST", [&] { return Compatibility(); });
    return NotFound();
  }

 private:
  template <typename F>
  RegistryHttpResponse Only(std::string_view method, F&& f) {
    return method_ == method ? f() : MethodNotAllowed();
  }

  RegistryHttpResponse Subjects() {
    if (p_.size() == 1) {
      return Only("GET", [&] {
        const std::string prefix = q_.Get("subjectPrefix");
        std::vector<std::string> subjects;
        if (q_.Flag("deletedOnly")) {
          auto live = r_.Subjects(false, prefix);
          for (auto& s : r_.Subjects(true, prefix))
            if (!std::binary_search(live.begin(), live.end(), s)) subjects.push_back(s);
        } else {
          subjects = r_.Subjects(q_.Flag("deleted"), prefix);
        }
        return Json(200, subjects);
      });
    }
    const std::string& subject = p_[1];
    if (p_.size() == 2) {
      if (method_ == "POST") {
        schema::SchemaInput input;
        if (auto error = ParseSchemaInput(body_, input)) return *error;
        auto found = r_.Lookup(subject, input, q_.Flag("normalize"), q_.Flag("deleted"));
        return found.ok() ? Json(200, VersionJson(found.value())) : ErrorResponse(found.error());
      }
      if (method_ == "DELETE") {
        auto deleted = r_.DeleteSubject(subject, q_.Flag("permanent"));
        return deleted.ok() ? Json(200, deleted.value()) : ErrorResponse(deleted.error());
      }
      return MethodNotAllowed();
    }
    if (p_[2] != "versions" || p_.size() > 5) return NotFound();
    if (p_.size() == 3) {
      if (method_ == "GET") {
        const bool deleted_only = q_.Flag("deletedOnly");
        auto versions = r_.Versions(subject, q_.Flag("deleted") || deleted_only);
        if (!versions.ok()) return ErrorResponse(versions.error());
        if (deleted_only) {
          auto live = r_.Versions(subject, false);
          std::vector<int> only;
          for (int v : versions.value())
            if (!live.ok() || !std::count(live->begin(), live->end(), v)) only.push_back(v);
          return Json(200, only);
        }
        return Json(200, versions.value());
      }
      if (method_ == "POST") {
        schema::SchemaInput input;
        if (auto error = ParseSchemaInput(body_, input)) return *error;
        auto registered = r_.Register(subject, input, q_.Flag("normalize"));
        if (!registered.ok()) return ErrorResponse(registered.error());
        const auto& v = registered.value();
        return Json(200, ojson{{"id", v.schema->id},
                               {"version", v.version},
                               {"schemaType", schema::SchemaTypeName(v.schema->type)},
                               {"schema", v.schema->schema}});
      }
      return MethodNotAllowed();
    }
    auto version = schema::ParseVersion(p_[3]);
    if (!version.ok()) return ErrorResponse(version.error());
    if (p_.size() == 5) {
      if (p_[4] == "schema")
        return Only("GET", [&] {
          auto v = r_.GetVersion(subject, version.value(), q_.Flag("deleted"));
          return v.ok() ? Respond(200, v->schema->schema) : ErrorResponse(v.error());
        });
      if (p_[4] == "referencedby")
        return Only("GET", [&] {
          auto v = r_.GetVersion(subject, version.value(), true);
          return v.ok() ? Json(200, ojson::array()) : ErrorResponse(v.error());
        });
      return NotFound();
    }
    if (method_ == "GET") {
      auto v = r_.GetVersion(subject, version.value(), q_.Flag("deleted"));
      return v.ok() ? Json(200, VersionJson(v.value())) : ErrorResponse(v.error());
    }
    if (method_ == "DELETE") {
      auto deleted = r_.DeleteVersion(subject, version.value(), q_.Flag("permanent"));
      return deleted.ok() ? Json(200, deleted.value()) : ErrorResponse(deleted.error());
    }
    return MethodNotAllowed();
  }

  RegistryHttpResponse Schemas() {
    if (p_.size() == 2 && p_[1] == "types")
      return Only("GET", [] { return Json(200, ojson::array({"JSON", "AVRO"})); });
    if (p_.size() < 3 || p_.size() > 4 || p_[1] != "ids") return NotFound();
    auto id = ParseId(p_[2]);
    if (!id) return NotFound();  // Jersey answers a non-integer path parameter with 404
    return Only("GET", [&] {
      if (p_.size() == 4 && (p_[3] == "subjects" || p_[3] == "versions")) {
        auto users = r_.VersionsUsingSchema(*id, q_.Flag("deleted"));
        if (!users.ok()) return ErrorResponse(users.error());
        ojson out = ojson::array();
        for (const auto& v : users.value()) {
          if (p_[3] == "subjects") {
            if (out.empty() || out.back() != v.subject) out.push_back(v.subject);
          } else {
            out.push_back({{"subject", v.subject}, {"version", v.version}});
          }
        }
        return Json(200, out);
      }
      if (p_.size() == 4 && p_[3] != "schema") return NotFound();
      auto s = r_.GetSchema(*id);
      if (!s.ok()) return ErrorResponse(s.error());
      if (p_.size() == 4) return Respond(200, s.value()->schema);
      ojson out = {{"schemaType", schema::SchemaTypeName(s.value()->type)},
                   {"schema", s.value()->schema}};
      if (q_.Flag("fetchMaxId")) out["maxId"] = r_.MaxId();
      return Json(200, out);
    });
  }

  RegistryHttpResponse Config(const std::string& subject) {
    if (method_ == "GET") {
      auto c = r_.GetConfig(subject, q_.Flag("defaultToGlobal"));
      return c.ok() ? Json(200, ConfigJson(c.value(), "compatibilityLevel"))
                    : ErrorResponse(c.error());
    }
    if (method_ == "DELETE") {
      auto c = r_.DeleteConfig(subject);
      return c.ok() ? Json(200, ConfigJson(c.value(), "compatibilityLevel"))
                    : ErrorResponse(c.error());
    }
    if (method_ != "PUT") return MethodNotAllowed();
    json body;
    if (auto error = ParseObject(body_, body)) return *error;
    schema::RegistryConfig update;
    // Confluent's request field is "compatibility"; GET answers "compatibilityLevel", which
    // people paste back, so both are accepted.
    for (const char* key : {"compatibility", "compatibilityLevel"}) {
      if (!Present(body, key)) continue;
      auto level = body[key].is_string()
                       ? schema::ParseCompatibilityLevel(body[key].get<std::string>())
                       : std::nullopt;
      if (!level)
        return ErrorResponse(422, schema::errc::kInvalidCompatibilityLevel,
                             "Invalid compatibility level. Valid values are none, backward, "
                             "forward, full, backward_transitive, forward_transitive, and "
                             "full_transitive");
      update.compatibility = level;
    }
    if (Present(body, "normalize")) {
      if (!body["normalize"].is_boolean())
        return ErrorResponse(400, 400, "\"normalize\" must be true or false");
      update.normalize = body["normalize"].get<bool>();
    }
    if (Present(body, "compatibilityPolicy")) {
      auto policy =
          body["compatibilityPolicy"].is_string()
              ? schema::ParseCompatibilityPolicy(body["compatibilityPolicy"].get<std::string>())
              : std::nullopt;
      if (!policy)
        return ErrorResponse(422, schema::errc::kInvalidCompatibilityLevel,
                             "Invalid compatibility policy. Valid values are strict and lenient");
      update.compatibility_policy = policy;
    }
    auto c = r_.UpdateConfig(subject, update);
    return c.ok() ? Json(200, ConfigJson(c.value(), "compatibility")) : ErrorResponse(c.error());
  }

  RegistryHttpResponse Compatibility() {
    const std::string& subject = p_[2];
    std::optional<int> version;
    if (p_.size() == 5) {
      auto v = schema::ParseVersion(p_[4]);
      if (!v.ok()) return ErrorResponse(v.error());
      version = v.value();
    }
    schema::SchemaInput input;
    if (auto error = ParseSchemaInput(body_, input)) return *error;
    const bool verbose = q_.Flag("verbose");
    auto report = r_.CheckCompatibility(subject, version, input, q_.Flag("normalize"), verbose);
    if (!report.ok()) return ErrorResponse(report.error());
    ojson out = {{"is_compatible", report->compatible}};
    if (verbose) out["messages"] = report->messages;
    return Json(200, out);
  }

  Registry& r_;
  std::string_view method_;
  std::span<const std::string> p_;
  Query q_;
  std::string_view body_;
};

}  // namespace

RegistryHttpResponse HandleRegistryRequest(schema::Registry* registry, std::string_view method,
                                           std::span<const std::string> path,
                                           std::string_view query, std::string_view body) {
  if (registry == nullptr)
    return ErrorResponse(404, 404, "the schema registry is not enabled on this server");
  return Handler(*registry, method, path, query, body).Run();
}

}  // namespace sluice::server
