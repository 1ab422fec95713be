// The schema registry: subjects, their versioned schemas, global schema ids, compatibility
// configuration and checks, with the semantics of Confluent Schema Registry (its REST face is
// server/registry_api.h; see docs/schema-registry.md).
//
// What callers may rely on:
// - Thread-safe: any method may be called from any thread. Mutations are serialized.
// - Every mutation (Register that creates a version, DeleteSubject, DeleteVersion, UpdateConfig,
//   DeleteConfig) is appended to the durable log given to Open() and is durable (the log's
//   Syncer reported its ticket) before the call returns success. Open() replays that log, so the
//   registry after a restart (or kill -9) is exactly the registry of the acknowledged calls.
// - Ids are global, assigned 1, 2, 3, ... and never reused, even after a permanent delete. The
//   same schema (same type, same canonical text) always gets the same id, under any subject.
// - Registering a schema equal to a live version of the subject (same type, equal JSON after
//   parsing: whitespace and key order do not matter) returns that version and writes nothing.
// - Expected failures come back as RegistryError carrying Confluent's error_code (40401, 42201,
//   409, ...) and a message that says what is wrong; nothing throws on bad input.
// - The schema text of an id never changes, so anything derived from it (a compiled validator)
//   may be cached by id for the life of the process.
// - Latest() and GetById() are for the ingest path: one atomic load of an immutable snapshot
//   and a hash lookup; they never wait for a mutation (nor its fsync) and return shared objects
//   that stay valid after later mutations. generation() changes whenever what they would return
//   may have changed, so a caller can keep "subject -> latest" per generation.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"
#include "log/log.h"
#include "schema/compatibility.h"

namespace sluice::schema {

enum class SchemaType : uint8_t { kAvro, kJson };
// "AVRO", "JSON".
std::string_view SchemaTypeName(SchemaType type);

enum class CompatibilityLevel : uint8_t {
  kNone,
  kBackward,
  kBackwardTransitive,
  kForward,
  kForwardTransitive,
  kFull,
  kFullTransitive,
};
// "BACKWARD", "FULL_TRANSITIVE", ...
std::string_view CompatibilityLevelName(CompatibilityLevel level);
// Case-insensitive, as Confluent accepts "backward".
std::optional<CompatibilityLevel> ParseCompatibilityLevel(std::string_view name);
std::string_view CompatibilityPolicyName(CompatibilityPolicy policy);
std::optional<CompatibilityPolicy> ParseCompatibilityPolicy(std::string_view name);

// Confluent's error codes. The HTTP status is the code's first three digits (409 is both).
namespace errc {
inline constexpr int kSubjectNotFound = 40401;
inline constexpr int kVersionNotFound = 40402;
inline constexpr int kSchemaNotFound = 40403;
inline constexpr int kSubjectSoftDeleted = 40404;
inline constexpr int kSubjectNotSoftDeleted = 40405;
inline constexpr int kVersionSoftDeleted = 40406;
inline constexpr int kVersionNotSoftDeleted = 40407;
inline constexpr int kSubjectCompatibilityNotConfigured = 40408;
inline constexpr int kIncompatibleSchema = 409;
inline constexpr int kInvalidSchema = 42201;
inline constexpr int kInvalidVersion = 42202;
inline constexpr int kInvalidCompatibilityLevel = 42203;
inline constexpr int kOperationNotPermitted = 42205;
inline constexpr int kInvalidSubject = 42208;
inline constexpr int kStoreError = 50001;
}  // namespace errc

struct RegistryError {
  int error_code = 0;
  std::string message;
  int http_status() const { return error_code < 1000 ? error_code : error_code / 100; }
};

// A value or a RegistryError.
template <typename T>
class [[nodiscard]] RegistryResult {
 public:
  RegistryResult(T value) : v_(std::move(value)) {}              // NOLINT: implicit by design
  RegistryResult(RegistryError error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  const RegistryError& error() const { return std::get<RegistryError>(v_); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, RegistryError> v_;
};

// "latest" as a version number, as in Confluent's API.
inline constexpr int kLatestVersion = -1;
// Parses "latest" or 1..2^31-1; anything else is 42202.
RegistryResult<int> ParseVersion(std::string_view text);

struct SchemaReference {
  std::string name;
  std::string subject;
  int version = 0;
};

// What a client submits to register, look up or check a schema (Confluent's
// RegisterSchemaRequest). An omitted schemaType means AVRO, as in Confluent.
struct SchemaInput {
  SchemaType type = SchemaType::kAvro;
  std::string schema;
  std::vector<SchemaReference> references;  // only an empty list is supported
};

// A registered schema text and its global id. Immutable; shared by every subject version that
// uses it.
struct RegisteredSchema {
  int id = 0;
  SchemaType type = SchemaType::kAvro;
  std::string schema;  // canonical text: compact JSON, keys sorted when registered normalized
};

struct SubjectVersion {
  std::string subject;
  int version = 0;
  bool deleted = false;  // soft-deleted (only returned when asked for deleted versions)
  std::shared_ptr<const RegisteredSchema> schema;
};

// A registry configuration, global or per subject. Unset fields inherit (subject -> global ->
// defaults: BACKWARD, normalize false, STRICT).
struct RegistryConfig {
  std::optional<CompatibilityLevel> compatibility;
  std::optional<bool> normalize;
  std::optional<CompatibilityPolicy> compatibility_policy;
};

struct CompatibilityReport {
  bool compatible = true;
  // Confluent's messages: each incompatibility as {errorType:"...", description:"..."}, then
  // {oldSchemaVersion: N}, {oldSchema: '...'} and {validateFields: 'false', compatibility: '...'}.
  std::vector<std::string> messages;
};

struct RegistryOptions {
  // The global compatibility level when none was configured.
  CompatibilityLevel default_compatibility = CompatibilityLevel::kBackward;
};

class Registry {
 public:
  // Opens the registry over `log` (one partition; the engine keeps it at
  // <data_dir>/streams/_schemas), replaying every record in it. `log` and `syncer` must outlive
  // the registry. A record that cannot be applied is Corruption naming its offset.
  static Result<std::unique_ptr<Registry>> Open(log::Log& log, log::Syncer& syncer,
                                                RegistryOptions options = {});
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // --- Mutations (durable before they return) ---

  // Registers `input` under `subject` (POST /subjects/{s}/versions). Returns the new or
  // existing version. Errors: 42201 invalid schema (the message says where), 42208 invalid
  // subject, 409 incompatible (the message lists every reason), 50001 the log failed.
  // `normalize` (or the subject's normalize config) stores the schema with sorted keys.
  RegistryResult<SubjectVersion> Register(std::string_view subject, const SchemaInput& input,
                                          bool normalize = false);
  // Soft (or permanent) deletion of every version; returns the versions deleted.
  // Errors: 40401, 40404 (already soft-deleted, soft), 40405 (permanent before soft).
  RegistryResult<std::vector<int>> DeleteSubject(std::string_view subject, bool permanent);
  // Deletes one version (or kLatestVersion); returns its number. Errors: 40401, 40402, 42202,
  // 40406 (already soft-deleted, soft), 40407 (permanent before soft).
  RegistryResult<int> DeleteVersion(std::string_view subject, int version, bool permanent);
  // Merges `update` into the global (subject empty) or the subject's configuration and returns
  // the result.
  RegistryResult<RegistryConfig> UpdateConfig(std::string_view subject,
                                              const RegistryConfig& update);
  // Removes the global (back to defaults) or a subject's configuration; returns what it was.
  // Error: 40401 when the subject has none.
  RegistryResult<RegistryConfig> DeleteConfig(std::string_view subject);

  // --- Queries ---

  // Subjects with a live version (or any version when `include_deleted`), sorted, filtered by
  // prefix.
  std::vector<std::string> Subjects(bool include_deleted, std::string_view prefix = {}) const;
  // Version numbers, ascending. Error: 40401.
  RegistryResult<std::vector<int>> Versions(std::string_view subject, bool include_deleted) const;
  // One version (kLatestVersion: the latest live one). Errors: 40401, 40402, 42202.
  RegistryResult<SubjectVersion> GetVersion(std::string_view subject, int version,
                                            bool include_deleted) const;
  // Error: 40403 (no version, live or soft-deleted, uses the id).
  RegistryResult<std::shared_ptr<const RegisteredSchema>> GetSchema(int id) const;
  // The subject versions that use `id`. Error: 40403.
  RegistryResult<std::vector<SubjectVersion>> VersionsUsingSchema(int id,
                                                                  bool include_deleted) const;
  int MaxId() const;
  // The version of `subject` whose schema equals `input` (POST /subjects/{s}). Errors: 42201,
  // 40401, 40403.
  RegistryResult<SubjectVersion> Lookup(std::string_view subject, const SchemaInput& input,
                                        bool normalize, bool include_deleted) const;
  // The configuration set at this level (subject empty = global; its compatibility level is
  // always filled in). A subject without one is 40408 unless `default_to_global`, which returns
  // the subject's configuration merged over the global one.
  RegistryResult<RegistryConfig> GetConfig(std::string_view subject, bool default_to_global) const;
  // Whether `input` could be registered under `subject` given the subject's compatibility
  // (POST /compatibility/subjects/{s}/versions[/{v}]): against `version` only, or, with
  // std::nullopt, against the versions the level checks on registration. Errors: 42201 (unless
  // `verbose`, which reports it as a message), 40402 for a missing numbered version.
  RegistryResult<CompatibilityReport> CheckCompatibility(std::string_view subject,
                                                         std::optional<int> version,
                                                         const SchemaInput& input, bool normalize,
                                                         bool verbose) const;

  // --- Ingest fast path (never waits for a mutation) ---

  // The latest live version of `subject`, or nullptr.
  std::shared_ptr<const SubjectVersion> Latest(std::string_view subject) const;
  // The schema with `id` if some version (live or soft-deleted) uses it, or nullptr.
  std::shared_ptr<const RegisteredSchema> GetById(int id) const;
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  struct State;
  struct Published;
  Registry(log::Log& log, log::Syncer& syncer, RegistryOptions options);

  // Appends one record, waits until it is durable, then applies it to the state.
  RegistryResult<std::monostate> Commit(std::string record);
  void Publish();

  log::Log& log_;
  log::Syncer& syncer_;
  RegistryOptions options_;
  std::mutex write_mu_;                 // serializes mutations, held across append + fsync
  mutable std::shared_mutex state_mu_;  // guards state_
  std::unique_ptr<State> state_;
  std::atomic<std::shared_ptr<const Published>> published_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace sluice::schema
