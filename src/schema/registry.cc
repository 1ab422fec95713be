#include "schema/registry.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <map>
#include <set>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "schema/avro.h"
#include "schema/json_schema.h"

namespace sluice::schema {

using json = nlohmann::json;

namespace {

constexpr std::array<std::pair<CompatibilityLevel, std::string_view>, 7> kLevelNames = {{
    {CompatibilityLevel::kNone, "NONE"},
    {CompatibilityLevel::kBackward, "BACKWARD"},
    {CompatibilityLevel::kBackwardTransitive, "BACKWARD_TRANSITIVE"},
    {CompatibilityLevel::kForward, "FORWARD"},
    {CompatibilityLevel::kForwardTransitive, "FORWARD_TRANSITIVE"},
    {CompatibilityLevel::kFull, "FULL"},
    {CompatibilityLevel::kFullTransitive, "FULL_TRANSITIVE"},
}};

std::string Upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

RegistryError Error(int code, std::string message) {
  return {code, std::move(message)};
}

RegistryError SubjectNotFound(std::string_view subject) {
  return Error(errc::kSubjectNotFound, fmt::format("Subject '{}' not found.", subject));
}
RegistryError VersionNotFound(int version) {
  return Error(errc::kVersionNotFound, fmt::format("Version {} not found.", version));
}

bool ValidSubject(std::string_view subject) {
  return !subject.empty() && std::none_of(subject.begin(), subject.end(),
                                          [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

RegistryError InvalidSubject(std::string_view subject) {
  return Error(errc::kInvalidSubject,
               fmt::format("The specified subject '{}' is not valid: a subject is a non-empty "
                           "name without control characters",
                           subject));
}

// A schema submitted by a client, parsed and in the canonical form the registry stores.
struct ParsedInput {
  SchemaType type = SchemaType::kAvro;
  std::string canonical;
  std::shared_ptr<const json> doc;  // for equality (key order and whitespace do not matter)
  std::shared_ptr<const AvroSchema> avro;
};

std::string Key(SchemaType type, std::string_view canonical) {
  return fmt::format("{}\n{}", SchemaTypeName(type), canonical);
}

RegistryResult<ParsedInput> ParseInput(const SchemaInput& input, bool normalize) {
  if (input.schema.empty()) return Error(errc::kInvalidSchema, "Empty schema");
  if (!input.references.empty())
    return Error(errc::kInvalidSchema,
                 fmt::format("Invalid schema: schema references are not supported by Sluice (got "
                             "{} reference(s), first '{}' -> subject '{}'); inline the referenced "
                             "definitions instead",
                             input.references.size(), input.references[0].name,
                             input.references[0].subject));
  const std::string_view type_name = SchemaTypeName(input.type);
  nlohmann::ordered_json ordered;
  try {
    ordered = nlohmann::ordered_json::parse(input.schema);
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann reports malformed input by exception; it is the library's only error channel.
    return Error(errc::kInvalidSchema,
                 fmt::format("Invalid schema of type {}, details: the schema is not valid JSON: {}",
                             type_name, e.what()));
  }
  ParsedInput out;
  out.type = input.type;
  auto doc = std::make_shared<json>(json::parse(ordered.dump()));
  out.canonical = normalize ? doc->dump() : ordered.dump();
  if (input.type == SchemaType::kJson) {
    // The registry accepts exactly what ingest can enforce.
    auto compiled = CompileJsonSchema(input.schema);
    if (!compiled.ok())
      return Error(errc::kInvalidSchema, fmt::format("Invalid schema of type JSON, details: {}",
                                                     compiled.status().message()));
  } else {
    auto avro = ParseAvroSchema(*doc);
    if (!avro.ok())
      return Error(errc::kInvalidSchema, fmt::format("Invalid schema of type AVRO, details: {}",
                                                     avro.status().message()));
    out.avro = std::move(avro).value();
  }
  out.doc = std::move(doc);
  return out;
}

json ConfigJson(const RegistryConfig& c) {
  json j = json::object();
  if (c.compatibility) j["compatibilityLevel"] = CompatibilityLevelName(*c.compatibility);
  if (c.normalize) j["normalize"] = *c.normalize;
  if (c.compatibility_policy)
    j["compatibilityPolicy"] = CompatibilityPolicyName(*c.compatibility_policy);
  return j;
}

Result<RegistryConfig> ConfigFromJson(const json& j) {
  RegistryConfig c;
  if (!j.is_object()) return Status::Corruption("config is not an object");
  if (auto it = j.find("compatibilityLevel"); it != j.end()) {
    auto level = it->is_string() ? ParseCompatibilityLevel(it->get<std::string>()) : std::nullopt;
    if (!level) return Status::Corruption("bad compatibilityLevel " + it->dump());
    c.compatibility = level;
  }
  if (auto it = j.find("normalize"); it != j.end()) {
    if (!it->is_boolean()) return Status::Corruption("bad normalize " + it->dump());
    c.normalize = it->get<bool>();
  }
  if (auto it = j.find("compatibilityPolicy"); it != j.end()) {
    auto policy = it->is_string() ? ParseCompatibilityPolicy(it->get<std::string>()) : std::nullopt;
    if (!policy) return Status::Corruption("bad compatibilityPolicy " + it->dump());
    c.compatibility_policy = policy;
  }
  return c;
}

void Merge(RegistryConfig& into, const RegistryConfig& update) {
  if (update.compatibility) into.compatibility = update.compatibility;
  if (update.normalize) into.normalize = update.normalize;
  if (update.compatibility_policy) into.compatibility_policy = update.compatibility_policy;
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace

std::string_view SchemaTypeName(SchemaType type) {
  return type == SchemaType::kJson ? "JSON" : "AVRO";
}

std::string_view CompatibilityLevelName(CompatibilityLevel level) {
  for (const auto& [l, name] : kLevelNames)
    if (l == level) return name;
  return "?";
}

std::optional<CompatibilityLevel> ParseCompatibilityLevel(std::string_view name) {
  const std::string upper = Upper(name);
  for (const auto& [l, n] : kLevelNames)
    if (n == upper) return l;
  return std::nullopt;
}

std::string_view CompatibilityPolicyName(CompatibilityPolicy policy) {
  return policy == CompatibilityPolicy::kLenient ? "LENIENT" : "STRICT";
}

std::optional<CompatibilityPolicy> ParseCompatibilityPolicy(std::string_view name) {
  const std::string upper = Upper(name);
  if (upper == "STRICT") return CompatibilityPolicy::kStrict;
  if (upper == "LENIENT") return CompatibilityPolicy::kLenient;
  return std::nullopt;
}

RegistryResult<int> ParseVersion(std::string_view text) {
  std::string trimmed(text);
  trimmed.erase(0, trimmed.find_first_not_of(" \t"));
  trimmed.erase(trimmed.find_last_not_of(" \t") + 1);
  if (Upper(trimmed) == "LATEST") return kLatestVersion;
  int version = 0;
  auto [end, ec] = std::from_chars(trimmed.data(), trimmed.data() + trimmed.size(), version);
  if (ec != std::errc() || end != trimmed.data() + trimmed.size() || trimmed.empty() ||
      (version <= 0 && version != kLatestVersion))
    return Error(errc::kInvalidVersion,
                 fmt::format("The specified version '{}' is not a valid version id. Allowed "
                             "values are between [1, 2^31-1] and the string \"latest\"",
                             text));
  return version;
}

// Everything the registry knows. Changed only by Apply(), under the exclusive state lock.
struct Registry::State {
  struct Schema {
    std::shared_ptr<const RegisteredSchema> registered;
    std::shared_ptr<const json> doc;
    std::shared_ptr<const AvroSchema> avro;  // AVRO schemas only
  };
  struct Version {
    int id = 0;
    bool deleted = false;
  };

  // Subjects with at least one version (live or soft-deleted).
  std::map<std::string, std::map<int, Version>, std::less<>> subjects;
  std::map<std::string, RegistryConfig, std::less<>> subject_configs;
  RegistryConfig global_config;
  // Every id ever assigned, kept after permanent deletes so the same schema keeps its id.
  std::unordered_map<int, Schema> schemas;
  std::unordered_map<std::string, int> id_by_key;
  std::map<int, std::set<std::pair<std::string, int>>> users;  // id -> (subject, version)
  int max_id = 0;

  const std::map<int, Version>* Find(std::string_view subject) const {
    auto it = subjects.find(subject);
    return it == subjects.end() ? nullptr : &it->second;
  }

  // Confluent's hasSubjects(subject, lookupDeleted).
  bool HasSubject(std::string_view subject, bool include_deleted) const {
    const auto* versions = Find(subject);
    if (versions == nullptr) return false;
    return include_deleted || std::any_of(versions->begin(), versions->end(),
                                          [](const auto& v) { return !v.second.deleted; });
  }

  // The latest live version number, or 0.
  int LatestLive(std::string_view subject) const {
    const auto* versions = Find(subject);
    if (versions == nullptr) return 0;
    for (auto it = versions->rbegin(); it != versions->rend(); ++it)
      if (!it->second.deleted) return it->first;
    return 0;
  }

  SubjectVersion Make(std::string_view subject, int version, const Version& v) const {
    return SubjectVersion{std::string(subject), version, v.deleted, schemas.at(v.id).registered};
  }

  // The subject's configuration over the global one (what GET /config/{s}?defaultToGlobal
  // shows): only the compatibility level has a default there.
  RegistryConfig Merged(std::string_view subject, CompatibilityLevel default_level) const {
    RegistryConfig c = global_config;
    if (auto it = subject_configs.find(subject); !subject.empty() && it != subject_configs.end())
      Merge(c, it->second);
    if (!c.compatibility) c.compatibility = default_level;
    return c;
  }

  // What applies to `subject`, every field set.
  RegistryConfig Effective(std::string_view subject, CompatibilityLevel default_level) const {
    RegistryConfig c = Merged(subject, default_level);
    if (!c.normalize) c.normalize = false;
    if (!c.compatibility_policy) c.compatibility_policy = CompatibilityPolicy::kStrict;
    return c;
  }

  void RemoveVersion(const std::string& subject, int version) {
    auto& versions = subjects[subject];
    auto it = versions.find(version);
    if (it == versions.end()) return;
    users[it->second.id].erase({subject, version});
    versions.erase(it);
    if (versions.empty()) {
      // As Confluent does: a subject with no versions left loses its configuration too.
      subjects.erase(subject);
      subject_configs.erase(subject);
    }
  }

  // Applies one log record. Records are written only by this class, so a failure means the log
  // was damaged or written by an incompatible version.
  Status Apply(const json& r) {
    if (!r.is_object() || !r.contains("op") || !r["op"].is_string())
      return Status::Corruption("record without \"op\"");
    const std::string op = r["op"].get<std::string>();
    const std::string subject = r.value("subject", "");
    if (op == "register") {
      const int version = r.value("version", 0);
      const int id = r.value("id", 0);
      const std::string type_name = r.value("schemaType", "");
      const std::string text = r.value("schema", "");
      if (subject.empty() || version <= 0 || id <= 0 || text.empty() ||
          (type_name != "JSON" && type_name != "AVRO"))
        return Status::Corruption("malformed register record");
      const SchemaType type = type_name == "JSON" ? SchemaType::kJson : SchemaType::kAvro;
      auto existing = schemas.find(id);
      if (existing == schemas.end()) {
        Schema s;
        auto doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
        if (doc.is_discarded()) return Status::Corruption("register record with invalid schema");
        s.doc = std::make_shared<const json>(std::move(doc));
        if (type == SchemaType::kAvro) {
          auto avro = ParseAvroSchema(*s.doc);
          if (avro.ok()) s.avro = std::move(avro).value();
        }
        s.registered = std::make_shared<const RegisteredSchema>(RegisteredSchema{id, type, text});
        schemas.emplace(id, std::move(s));
        id_by_key.emplace(Key(type, text), id);
        max_id = std::max(max_id, id);
      } else if (existing->second.registered->schema != text ||
                 existing->second.registered->type != type) {
        return Status::Corruption(fmt::format("id {} registered with two different schemas", id));
      }
      subjects[subject][version] = Version{id, false};
      users[id].insert({subject, version});
      return Status::Ok();
    }
    if (op == "delete_version") {
      const int version = r.value("version", 0);
      auto it = subjects.find(subject);
      if (it == subjects.end() || !it->second.count(version))
        return Status::Corruption("delete of an unknown version");
      if (r.value("permanent", false)) {
        RemoveVersion(subject, version);
      } else {
        it->second[version].deleted = true;
      }
      return Status::Ok();
    }
    if (op == "delete_subject") {
      auto it = subjects.find(subject);
      if (it == subjects.end()) return Status::Corruption("delete of an unknown subject");
      if (r.value("permanent", false)) {
        std::vector<int> versions;
        for (const auto& [v, _] : it->second) versions.push_back(v);
        for (int v : versions) RemoveVersion(subject, v);
        subject_configs.erase(subject);
      } else {
        for (auto& [v, entry] : it->second) entry.deleted = true;
      }
      return Status::Ok();
    }
    if (op == "config") {
      SLUICE_ASSIGN_OR_RETURN(RegistryConfig c, ConfigFromJson(r.value("config", json::object())));
      if (subject.empty()) {
        global_config = c;
      } else {
        subject_configs[subject] = c;
      }
      return Status::Ok();
    }
    if (op == "delete_config") {
      if (subject.empty()) {
        global_config = RegistryConfig{};
      } else {
        subject_configs.erase(subject);
      }
      return Status::Ok();
    }
    return Status::Corruption(fmt::format("unknown op '{}'", op));
  }
};

// What Latest() and GetById() read: rebuilt after every mutation and swapped in atomically.
struct Registry::Published {
  std::unordered_map<std::string, std::shared_ptr<const SubjectVersion>, StringHash,
                     std::equal_to<>>
      latest;
  std::unordered_map<int, std::shared_ptr<const RegisteredSchema>> by_id;
};

Registry::Registry(log::Log& log, log::Syncer& syncer, RegistryOptions options)
    : log_(log), syncer_(syncer), options_(options), state_(std::make_unique<State>()) {}

Registry::~Registry() = default;

Result<std::unique_ptr<Registry>> Registry::Open(log::Log& log, log::Syncer& syncer,
                                                 RegistryOptions options) {
  std::unique_ptr<Registry> registry(new Registry(log, syncer, options));
  auto reader = log.NewReader(0, log.StartOffset(0));
  size_t records = 0;
  while (true) {
    SLUICE_ASSIGN_OR_RETURN(auto batch, reader->Read(1 << 20));
    if (batch.empty()) break;
    for (const auto& rec : batch) {
      auto doc = json::parse(rec.payload, nullptr, /*allow_exceptions=*/false);
      Status st =
          doc.is_discarded() ? Status::Corruption("not JSON") : registry->state_->Apply(doc);
      if (!st.ok())
        return Status::Corruption(fmt::format("schema registry log {} offset {}: {}", log.dir(),
                                              rec.offset, st.message()));
      ++records;
    }
  }
  registry->Publish();
  spdlog::info("schema registry: replayed {} record(s): {} subject(s), max id {}", records,
               registry->state_->subjects.size(), registry->state_->max_id);
  return registry;
}

RegistryResult<std::monostate> Registry::Commit(std::string record) {
  const json parsed = json::parse(record);
  log::RecordToAppend append{0, record};
  auto appended = log_.Append(0, std::span<const log::RecordToAppend>(&append, 1));
  if (!appended.ok())
    return Error(errc::kStoreError,
                 fmt::format("Error while writing to the registry's durable log: {}",
                             appended.status().ToString()));
  if (Status st = syncer_.WaitDurable(appended->sync_ticket); !st.ok())
    return Error(errc::kStoreError,
                 fmt::format("Error while syncing the registry's durable log: {}", st.ToString()));
  {
    std::unique_lock lock(state_mu_);
    if (Status st = state_->Apply(parsed); !st.ok())
      return Error(errc::kStoreError, "Error while applying a registry record: " + st.message());
  }
  Publish();
  return std::monostate{};
}

void Registry::Publish() {
  auto published = std::make_shared<Published>();
  {
    std::shared_lock lock(state_mu_);
    for (const auto& [subject, versions] : state_->subjects) {
      for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
        if (it->second.deleted) continue;
        published->latest.emplace(subject, std::make_shared<const SubjectVersion>(
                                               state_->Make(subject, it->first, it->second)));
        break;
      }
    }
    for (const auto& [id, users] : state_->users)
      if (!users.empty()) published->by_id.emplace(id, state_->schemas.at(id).registered);
  }
  published_.store(std::move(published), std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

std::shared_ptr<const SubjectVersion> Registry::Latest(std::string_view subject) const {
  auto published = published_.load(std::memory_order_acquire);
  auto it = published->latest.find(subject);
  return it == published->latest.end() ? nullptr : it->second;
}

std::shared_ptr<const RegisteredSchema> Registry::GetById(int id) const {
  auto published = published_.load(std::memory_order_acquire);
  auto it = published->by_id.find(id);
  return it == published->by_id.end() ? nullptr : it->second;
}

namespace {

// Confluent's compatibility check of one candidate against earlier versions (newest first),
// with its message format.
struct Candidate {
  SchemaType type;
  const json* doc;
  const AvroSchema* avro;
  std::string_view text;
};

std::vector<SchemaDifference> ReadProblems(const Candidate& writer, const Candidate& reader,
                                           CompatibilityPolicy policy, std::string_view writer_name,
                                           std::string_view reader_name) {
  if (writer.type == SchemaType::kJson)
    return JsonSchemaReadProblems(*writer.doc, *reader.doc, policy, writer_name, reader_name);
  if (writer.avro == nullptr || reader.avro == nullptr)
    return {{"TYPE_MISMATCH", "/", "/: a stored Avro schema could not be parsed for checking"}};
  return AvroReadProblems(*writer.avro, *reader.avro, writer_name, reader_name);
}

std::vector<std::string> CheckAgainst(const Candidate& candidate,
                                      const std::vector<std::pair<int, Candidate>>& previous,
                                      CompatibilityLevel level, CompatibilityPolicy policy) {
  using L = CompatibilityLevel;
  if (level == L::kNone) return {};
  const bool transitive = level == L::kBackwardTransitive || level == L::kForwardTransitive ||
                          level == L::kFullTransitive;
  const bool backward = level != L::kForward && level != L::kForwardTransitive;
  const bool forward = level != L::kBackward && level != L::kBackwardTransitive;
  for (const auto& [version, old] : previous) {
    std::vector<std::string> messages;
    if (old.type != candidate.type) {
      messages.push_back("Incompatible because of different schema type");
    } else {
      std::vector<SchemaDifference> diffs;
      if (forward) diffs = ReadProblems(candidate, old, policy, "new", "old");
      if (backward) {
        auto more = ReadProblems(old, candidate, policy, "old", "new");
        diffs.insert(diffs.end(), more.begin(), more.end());
      }
      for (const auto& d : diffs) messages.push_back(d.ToString());
    }
    if (!messages.empty()) {
      messages.push_back(fmt::format("{{oldSchemaVersion: {}}}", version));
      messages.push_back(fmt::format("{{oldSchema: '{}'}}", old.text));
      messages.push_back(fmt::format("{{validateFields: 'false', compatibility: '{}'}}",
                                     CompatibilityLevelName(level)));
      return messages;
    }
    if (!transitive) break;
  }
  return {};
}

Candidate AsCandidate(const ParsedInput& p) {
  return {p.type, p.doc.get(), p.avro.get(), p.canonical};
}

}  // namespace

RegistryResult<SubjectVersion> Registry::Register(std::string_view subject,
                                                  const SchemaInput& input, bool normalize) {
  if (!ValidSubject(subject)) return InvalidSubject(subject);
  std::lock_guard write(write_mu_);
  int id = 0;
  int version = 1;
  ParsedInput parsed;
  {
    std::shared_lock lock(state_mu_);
    const State& s = *state_;
    const RegistryConfig config = s.Effective(subject, options_.default_compatibility);
    auto p = ParseInput(input, normalize || *config.normalize);
    if (!p.ok()) return p.error();
    parsed = std::move(p).value();
    const auto* versions = s.Find(subject);
    std::vector<std::pair<int, Candidate>> live;  // newest first
    if (versions != nullptr) {
      for (auto it = versions->rbegin(); it != versions->rend(); ++it) {
        if (it->second.deleted) continue;
        const State::Schema& stored = s.schemas.at(it->second.id);
        if (stored.registered->type == parsed.type && *stored.doc == *parsed.doc)
          return s.Make(subject, it->first, it->second);  // already registered: write nothing
        live.push_back({it->first, Candidate{stored.registered->type, stored.doc.get(),
                                             stored.avro.get(), stored.registered->schema}});
      }
      version = versions->rbegin()->first + 1;
    }
    auto known = s.id_by_key.find(Key(parsed.type, parsed.canonical));
    id = known != s.id_by_key.end() ? known->second : s.max_id + 1;
    auto messages = CheckAgainst(AsCandidate(parsed), live, *config.compatibility,
                                 *config.compatibility_policy);
    if (!messages.empty())
      return Error(errc::kIncompatibleSchema,
                   fmt::format("Schema being registered is incompatible with an earlier schema for "
                               "subject \"{}\", details: [{}]",
                               subject, fmt::join(messages, ", ")));
  }
  json record = {{"v", 1},
                 {"op", "register"},
                 {"subject", subject},
                 {"version", version},
                 {"id", id},
                 {"schemaType", SchemaTypeName(parsed.type)},
                 {"schema", parsed.canonical}};
  auto committed = Commit(record.dump());
  if (!committed.ok()) return committed.error();
  spdlog::info("schema registry: registered {} version {} (id {}, {})", subject, version, id,
               SchemaTypeName(parsed.type));
  std::shared_lock lock(state_mu_);
  return state_->Make(subject, version, state_->subjects.at(std::string(subject)).at(version));
}

RegistryResult<std::vector<int>> Registry::DeleteSubject(std::string_view subject, bool permanent) {
  std::lock_guard write(write_mu_);
  std::vector<int> deleted;
  {
    std::shared_lock lock(state_mu_);
    const auto* versions = state_->Find(subject);
    if (versions == nullptr) return SubjectNotFound(subject);
    for (const auto& [v, entry] : *versions) {
      if (permanent && !entry.deleted)
        return Error(errc::kSubjectNotSoftDeleted,
                     fmt::format("Subject '{}' was not deleted first before being permanently "
                                 "deleted",
                                 subject));
      if (permanent || !entry.deleted) deleted.push_back(v);
    }
    if (deleted.empty())
      return Error(errc::kSubjectSoftDeleted,
                   fmt::format("Subject '{}' was soft deleted. Set permanent=true to delete "
                               "permanently",
                               subject));
  }
  json record = {
      {"v", 1}, {"op", "delete_subject"}, {"subject", subject}, {"permanent", permanent}};
  auto committed = Commit(record.dump());
  if (!committed.ok()) return committed.error();
  spdlog::info("schema registry: {} deleted subject {} (versions {})",
               permanent ? "permanently" : "soft", subject, fmt::join(deleted, ","));
  return deleted;
}

RegistryResult<int> Registry::DeleteVersion(std::string_view subject, int version, bool permanent) {
  if (version <= 0 && version != kLatestVersion) return ParseVersion(std::to_string(version));
  std::lock_guard write(write_mu_);
  {
    std::shared_lock lock(state_mu_);
    const State& s = *state_;
    if (version == kLatestVersion) version = s.LatestLive(subject);
    const auto* versions = s.Find(subject);
    const State::Version* entry = nullptr;
    if (versions != nullptr && version > 0) {
      auto it = versions->find(version);
      if (it != versions->end()) entry = &it->second;
    }
    if (entry != nullptr && !permanent && entry->deleted)
      return Error(errc::kVersionSoftDeleted,
                   fmt::format("Subject '{}' Version {} was soft deleted. Set permanent=true to "
                               "delete permanently",
                               subject, version));
    if (entry == nullptr) {
      if (versions == nullptr) return SubjectNotFound(subject);
      return VersionNotFound(version > 0 ? version : kLatestVersion);
    }
    if (permanent && !entry->deleted)
      return Error(errc::kVersionNotSoftDeleted,
                   fmt::format("Subject '{}' Version {} was not deleted first before being "
                               "permanently deleted",
                               subject, version));
  }
  json record = {{"v", 1},
                 {"op", "delete_version"},
                 {"subject", subject},
                 {"version", version},
                 {"permanent", permanent}};
  auto committed = Commit(record.dump());
  if (!committed.ok()) return committed.error();
  spdlog::info("schema registry: {} deleted {} version {}", permanent ? "permanently" : "soft",
               subject, version);
  return version;
}

RegistryResult<RegistryConfig> Registry::UpdateConfig(std::string_view subject,
                                                      const RegistryConfig& update) {
  if (!subject.empty() && !ValidSubject(subject)) return InvalidSubject(subject);
  std::lock_guard write(write_mu_);
  RegistryConfig merged;
  {
    std::shared_lock lock(state_mu_);
    if (subject.empty()) {
      merged = state_->global_config;
    } else if (auto it = state_->subject_configs.find(subject);
               it != state_->subject_configs.end()) {
      merged = it->second;
    }
  }
  Merge(merged, update);
  json record = {{"v", 1}, {"op", "config"}, {"subject", subject}, {"config", ConfigJson(merged)}};
  auto committed = Commit(record.dump());
  if (!committed.ok()) return committed.error();
  return merged;
}

RegistryResult<RegistryConfig> Registry::DeleteConfig(std::string_view subject) {
  std::lock_guard write(write_mu_);
  RegistryConfig old;
  {
    std::shared_lock lock(state_mu_);
    if (subject.empty()) {
      old = state_->global_config;
      if (!old.compatibility) old.compatibility = options_.default_compatibility;
    } else {
      auto it = state_->subject_configs.find(subject);
      if (it == state_->subject_configs.end()) return SubjectNotFound(subject);
      old = it->second;
    }
  }
  json record = {{"v", 1}, {"op", "delete_config"}, {"subject", subject}};
  auto committed = Commit(record.dump());
  if (!committed.ok()) return committed.error();
  return old;
}

std::vector<std::string> Registry::Subjects(bool include_deleted, std::string_view prefix) const {
  std::shared_lock lock(state_mu_);
  std::vector<std::string> out;
  for (const auto& [subject, versions] : state_->subjects)
    if (subject.compare(0, prefix.size(), prefix) == 0 &&
        state_->HasSubject(subject, include_deleted))
      out.push_back(subject);
  return out;
}

RegistryResult<std::vector<int>> Registry::Versions(std::string_view subject,
                                                    bool include_deleted) const {
  std::shared_lock lock(state_mu_);
  if (!state_->HasSubject(subject, include_deleted)) return SubjectNotFound(subject);
  std::vector<int> out;
  for (const auto& [v, entry] : *state_->Find(subject))
    if (include_deleted || !entry.deleted) out.push_back(v);
  return out;
}

RegistryResult<SubjectVersion> Registry::GetVersion(std::string_view subject, int version,
                                                    bool include_deleted) const {
  if (version <= 0 && version != kLatestVersion)
    return ParseVersion(std::to_string(version)).error();
  std::shared_lock lock(state_mu_);
  const State& s = *state_;
  const int wanted = version == kLatestVersion ? s.LatestLive(subject) : version;
  if (const auto* versions = s.Find(subject); versions != nullptr && wanted > 0) {
    auto it = versions->find(wanted);
    if (it != versions->end() && (include_deleted || !it->second.deleted))
      return s.Make(subject, wanted, it->second);
  }
  if (!s.HasSubject(subject, include_deleted)) return SubjectNotFound(subject);
  return VersionNotFound(version);
}

RegistryResult<std::shared_ptr<const RegisteredSchema>> Registry::GetSchema(int id) const {
  std::shared_lock lock(state_mu_);
  auto users = state_->users.find(id);
  if (users == state_->users.end() || users->second.empty())
    return Error(errc::kSchemaNotFound, fmt::format("Schema {} not found", id));
  return state_->schemas.at(id).registered;
}

RegistryResult<std::vector<SubjectVersion>> Registry::VersionsUsingSchema(
    int id, bool include_deleted) const {
  std::shared_lock lock(state_mu_);
  auto users = state_->users.find(id);
  if (users == state_->users.end() || users->second.empty())
    return Error(errc::kSchemaNotFound, fmt::format("Schema {} not found", id));
  std::vector<SubjectVersion> out;
  for (const auto& [subject, version] : users->second) {
    const auto& entry = state_->subjects.at(subject).at(version);
    if (include_deleted || !entry.deleted) out.push_back(state_->Make(subject, version, entry));
  }
  return out;
}

int Registry::MaxId() const {
  std::shared_lock lock(state_mu_);
  return state_->max_id;
}

RegistryResult<SubjectVersion> Registry::Lookup(std::string_view subject, const SchemaInput& input,
                                                bool normalize, bool include_deleted) const {
  auto parsed = ParseInput(input, normalize);
  if (!parsed.ok()) return parsed.error();
  std::shared_lock lock(state_mu_);
  const State& s = *state_;
  if (!s.HasSubject(subject, include_deleted)) return SubjectNotFound(subject);
  const auto& versions = *s.Find(subject);
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    if (it->second.deleted && !include_deleted) continue;
    const State::Schema& stored = s.schemas.at(it->second.id);
    if (stored.registered->type == parsed->type && *stored.doc == *parsed->doc)
      return s.Make(subject, it->first, it->second);
  }
  return Error(errc::kSchemaNotFound, "Schema not found");
}

RegistryResult<RegistryConfig> Registry::GetConfig(std::string_view subject,
                                                   bool default_to_global) const {
  std::shared_lock lock(state_mu_);
  const State& s = *state_;
  if (subject.empty()) return s.Merged("", options_.default_compatibility);
  if (default_to_global) return s.Merged(subject, options_.default_compatibility);
  auto it = s.subject_configs.find(subject);
  if (it == s.subject_configs.end())
    return Error(
        errc::kSubjectCompatibilityNotConfigured,
        fmt::format("Subject '{}' does not have subject-level compatibility configured", subject));
  return it->second;
}

RegistryResult<CompatibilityReport> Registry::CheckCompatibility(std::string_view subject,
                                                                 std::optional<int> version,
                                                                 const SchemaInput& input,
                                                                 bool normalize,
                                                                 bool verbose) const {
  if (version && *version <= 0 && *version != kLatestVersion)
    return ParseVersion(std::to_string(*version)).error();
  std::shared_lock lock(state_mu_);
  const State& s = *state_;
  const RegistryConfig config = s.Effective(subject, options_.default_compatibility);
  auto parsed = ParseInput(input, normalize || *config.normalize);
  if (!parsed.ok()) {
    if (!verbose) return parsed.error();
    return CompatibilityReport{false, {parsed.error().message}};
  }
  std::vector<std::pair<int, Candidate>> previous;  // newest first
  auto add = [&](int v, const State::Version& entry) {
    const State::Schema& stored = s.schemas.at(entry.id);
    previous.push_back({v, Candidate{stored.registered->type, stored.doc.get(), stored.avro.get(),
                                     stored.registered->schema}});
  };
  const auto* versions = s.Find(subject);
  if (version) {
    const int wanted = *version == kLatestVersion ? s.LatestLive(subject) : *version;
    const State::Version* entry = nullptr;
    if (versions != nullptr && wanted > 0) {
      auto it = versions->find(wanted);
      if (it != versions->end() && !it->second.deleted) entry = &it->second;
    }
    if (entry == nullptr && *version != kLatestVersion) return VersionNotFound(*version);
    if (entry != nullptr) add(wanted, *entry);
  } else if (versions != nullptr) {
    for (auto it = versions->rbegin(); it != versions->rend(); ++it)
      if (!it->second.deleted) add(it->first, it->second);
  }
  CompatibilityReport report;
  report.messages = CheckAgainst(AsCandidate(parsed.value()), previous, *config.compatibility,
                                 *config.compatibility_policy);
  report.compatible = report.messages.empty();
  return report;
}

}  // namespace sluice::schema
