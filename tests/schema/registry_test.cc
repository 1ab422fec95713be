#include "schema/registry.h"

#include <unistd.h>

#include <filesystem>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "schema/avro.h"
#include "schema/compatibility.h"

namespace sluice::schema {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

SchemaInput Json(std::string_view text) {
  return {SchemaType::kJson, std::string(text), {}};
}
SchemaInput Avro(std::string_view text) {
  return {SchemaType::kAvro, std::string(text), {}};
}

// An object schema with string properties `props`, `required` among them, closed unless `open`.
std::string ObjectSchema(const std::vector<std::string>& props,
                         const std::vector<std::string>& required, bool open = false) {
  json s = {{"type", "object"}, {"properties", json::object()}, {"required", required}};
  for (const auto& p : props) s["properties"][p] = {{"type", "string"}};
  if (!open) s["additionalProperties"] = false;
  return s.dump();
}

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sluice-registry-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    Open();
  }
  void TearDown() override {
    registry_.reset();
    log_.reset();
    fs::remove_all(dir_);
  }

  void Open() {
    registry_.reset();
    log_.reset();
    log::LogOptions options;
    options.partitions = 1;
    options.segment_bytes = 4096;  // several segments: replay crosses them
    auto opened = log::Log::Open(dir_.string(), options, clock_, syncer_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    log_ = std::move(opened.value());
    auto registry = Registry::Open(*log_, syncer_);
    ASSERT_TRUE(registry.ok()) << registry.status().ToString();
    registry_ = std::move(registry.value());
  }

  SubjectVersion MustRegister(std::string_view subject, const SchemaInput& input) {
    auto r = registry_->Register(subject, input);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r.value() : SubjectVersion{};
  }

  RegistryError MustFail(RegistryResult<SubjectVersion> r) {
    EXPECT_FALSE(r.ok());
    return r.ok() ? RegistryError{} : r.error();
  }

  void SetLevel(std::string_view subject, CompatibilityLevel level,
                std::optional<CompatibilityPolicy> policy = std::nullopt) {
    RegistryConfig c;
    c.compatibility = level;
    c.compatibility_policy = policy;
    ASSERT_TRUE(registry_->UpdateConfig(subject, c).ok());
  }

  fs::path dir_;
  ManualClock clock_{1'700'000'000'000'000};
  log::Syncer syncer_;
  std::unique_ptr<log::Log> log_;
  std::unique_ptr<Registry> registry_;
};

TEST_F(RegistryTest, IdsAreGlobalAndVersionsPerSubject) {
  const std::string a = ObjectSchema({"a"}, {"a"});
  const std::string b = ObjectSchema({"a", "b"}, {"a"});
  auto v1 = MustRegister("orders-value", Json(a));
  EXPECT_EQ(v1.version, 1);
  EXPECT_EQ(v1.schema->id, 1);
  EXPECT_EQ(v1.schema->type, SchemaType::kJson);

  // The same schema again, even with other whitespace and key order: same version, no write.
  const uint64_t end = log_->EndOffset(0);
  json reordered = json::parse(a);
  std::string spaced = "{ \"additionalProperties\": false, " + reordered.dump().substr(1);
  auto again = MustRegister("orders-value", Json(spaced));
  EXPECT_EQ(again.version, 1);
  EXPECT_EQ(again.schema->id, 1);
  EXPECT_EQ(log_->EndOffset(0), end);

  auto v2 = MustRegister("orders-value", Json(b));
  EXPECT_EQ(v2.version, 2);
  EXPECT_EQ(v2.schema->id, 2);

  // The same schema under another subject keeps its id and starts at version 1 there.
  auto other = MustRegister("returns-value", Json(a));
  EXPECT_EQ(other.version, 1);
  EXPECT_EQ(other.schema->id, 1);

  EXPECT_EQ(registry_->Subjects(false),
            (std::vector<std::string>{"orders-value", "returns-value"}));
  EXPECT_EQ(registry_->Subjects(false, "ret"), (std::vector<std::string>{"returns-value"}));
  EXPECT_EQ(registry_->Versions("orders-value", false).value(), (std::vector<int>{1, 2}));
  EXPECT_EQ(registry_->GetVersion("orders-value", kLatestVersion, false)->version, 2);
  EXPECT_EQ(registry_->GetSchema(2).value()->schema, json::parse(b).dump());
  auto users = registry_->VersionsUsingSchema(1, false);
  ASSERT_TRUE(users.ok());
  ASSERT_EQ(users->size(), 2u);
  EXPECT_EQ(registry_->MaxId(), 2);
}

TEST_F(RegistryTest, CanonicalTextKeepsKeyOrderUnlessNormalized) {
  auto plain = MustRegister("s", Json(R"({ "type": "object",  "title": "t" })"));
  EXPECT_EQ(plain.schema->schema, R"({"type":"object","title":"t"})");
  auto normalized = registry_->Register("n", Json(R"({"type":"string","title":"u"})"), true);
  ASSERT_TRUE(normalized.ok());
  EXPECT_EQ(normalized->schema->schema, R"({"title":"u","type":"string"})");
}

TEST_F(RegistryTest, LookupAndGetErrors) {
  MustRegister("s", Json(ObjectSchema({"a"}, {})));
  auto found = registry_->Lookup("s", Json(ObjectSchema({"a"}, {})), false, false);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->version, 1);
  auto missing = registry_->Lookup("s", Json(ObjectSchema({"b"}, {})), false, false);
  EXPECT_EQ(missing.error().error_code, errc::kSchemaNotFound);
  EXPECT_EQ(registry_->Lookup("t", Json(ObjectSchema({"a"}, {})), false, false).error().error_code,
            errc::kSubjectNotFound);
  EXPECT_EQ(registry_->Lookup("s", Json("{"), false, false).error().error_code,
            errc::kInvalidSchema);

  EXPECT_EQ(registry_->GetVersion("nope", 1, false).error().error_code, errc::kSubjectNotFound);
  EXPECT_EQ(registry_->GetVersion("s", 9, false).error().error_code, errc::kVersionNotFound);
  EXPECT_EQ(registry_->GetVersion("s", 0, false).error().error_code, errc::kInvalidVersion);
  EXPECT_EQ(registry_->Versions("nope", true).error().error_code, errc::kSubjectNotFound);
  EXPECT_EQ(registry_->GetSchema(42).error().error_code, errc::kSchemaNotFound);
  EXPECT_EQ(registry_->GetSchema(42).error().http_status(), 404);

  EXPECT_EQ(ParseVersion("latest").value(), kLatestVersion);
  EXPECT_EQ(ParseVersion("7").value(), 7);
  for (const char* bad : {"0", "-2", "x", "", "1.5", "99999999999"})
    EXPECT_EQ(ParseVersion(bad).error().error_code, errc::kInvalidVersion) << bad;
}

TEST_F(RegistryTest, InvalidInputIsRefusedWithReasons) {
  auto bad_json = MustFail(registry_->Register("s", Json(R"({"type":"strin"})")));
  EXPECT_EQ(bad_json.error_code, errc::kInvalidSchema);
  EXPECT_EQ(bad_json.http_status(), 422);
  EXPECT_NE(bad_json.message.find("Invalid schema of type JSON"), std::string::npos);

  auto not_json = MustFail(registry_->Register("s", Json("{\"type\":")));
  EXPECT_EQ(not_json.error_code, errc::kInvalidSchema);
  EXPECT_NE(not_json.message.find("not valid JSON"), std::string::npos);

  EXPECT_EQ(MustFail(registry_->Register("s", Json(""))).message, "Empty schema");
  EXPECT_EQ(MustFail(registry_->Register("", Json("{}"))).error_code, errc::kInvalidSubject);
  EXPECT_EQ(MustFail(registry_->Register("a\nb", Json("{}"))).error_code, errc::kInvalidSubject);

  SchemaInput with_ref = Json("{}");
  with_ref.references.push_back({"other.json", "other-value", 1});
  auto ref = MustFail(registry_->Register("s", with_ref));
  EXPECT_EQ(ref.error_code, errc::kInvalidSchema);
  EXPECT_NE(ref.message.find("references are not supported"), std::string::npos);
  EXPECT_TRUE(registry_->Subjects(true).empty());
}

TEST_F(RegistryTest, AvroSchemasAreCheckedForWellFormedness) {
  auto ok = MustRegister("avro-value", Avro(R"({
    "type": "record", "name": "Order", "namespace": "shop",
    "fields": [
      {"name": "id", "type": "string"},
      {"name": "qty", "type": "int", "default": 1},
      {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "DONE"]}},
      {"name": "tags", "type": {"type": "array", "items": "string"}, "default": []},
      {"name": "attrs", "type": {"type": "map", "values": ["null", "long"]}},
      {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 16}},
      {"name": "next", "type": ["null", "shop.Order"], "default": null},
      {"name": "prev_status", "type": ["null", "Status"], "default": null}
    ]})"));
  EXPECT_EQ(ok.schema->type, SchemaType::kAvro);
  EXPECT_EQ(MustRegister("prim-value", Avro(R"("string")")).version, 1);

  const std::pair<const char*, const char*> bad[] = {
      {R"({"type":"record","name":"R","fields":[{"name":"a","type":"strnig"}]})", "unknown type"},
      {R"({"type":"record","fields":[]})", "needs a \"name\""},
      {R"({"type":"record","name":"R"})", "\"fields\" array"},
      {R"({"type":"record","name":"R",
           "fields":[{"name":"a","type":"int"},{"name":"a","type":"int"}]})",
       "defined twice"},
      {R"({"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]})",
       "not a valid int"},
      {R"({"type":"enum","name":"E","symbols":["A","A"]})", "appears twice"},
      {R"({"type":"enum","name":"E","symbols":["A"],"default":"B"})", "not one of the symbols"},
      {R"(["null",["int"]])", "another union"},
      {R"(["int","int"])", "twice"},
      {R"({"type":"fixed","name":"F"})", "size"},
      {R"({"type":"array"})", "\"items\""},
      {R"({"type":"record","name":"1R","fields":[]})", "not a valid Avro name"},
      {R"(42)", "a type name, an object or an array"},
  };
  for (const auto& [schema, reason] : bad) {
    auto e = MustFail(registry_->Register("bad-value", Avro(schema)));
    EXPECT_EQ(e.error_code, errc::kInvalidSchema) << schema;
    EXPECT_NE(e.message.find(reason), std::string::npos) << schema << " -> " << e.message;
  }
}

TEST_F(RegistryTest, SoftAndPermanentVersionDelete) {
  SetLevel("s", CompatibilityLevel::kNone);
  MustRegister("s", Json(ObjectSchema({"a"}, {})));
  MustRegister("s", Json(ObjectSchema({"b"}, {})));
  const uint64_t generation = registry_->generation();

  EXPECT_EQ(registry_->DeleteVersion("s", kLatestVersion, false).value(), 2);
  EXPECT_GT(registry_->generation(), generation);
  EXPECT_EQ(registry_->Latest("s")->version, 1);
  EXPECT_EQ(registry_->Versions("s", false).value(), (std::vector<int>{1}));
  EXPECT_EQ(registry_->Versions("s", true).value(), (std::vector<int>{1, 2}));
  EXPECT_EQ(registry_->GetVersion("s", 2, false).error().error_code, errc::kVersionNotFound);
  auto deleted = registry_->GetVersion("s", 2, true);
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(deleted->deleted);
  // The id stays readable: data written with it can still be decoded.
  EXPECT_TRUE(registry_->GetSchema(2).ok());
  EXPECT_NE(registry_->GetById(2), nullptr);

  EXPECT_EQ(registry_->DeleteVersion("s", 2, false).error().error_code, errc::kVersionSoftDeleted);
  EXPECT_EQ(registry_->DeleteVersion("s", 1, true).error().error_code,
            errc::kVersionNotSoftDeleted);
  EXPECT_EQ(registry_->DeleteVersion("s", 5, false).error().error_code, errc::kVersionNotFound);
  EXPECT_EQ(registry_->DeleteVersion("t", 1, false).error().error_code, errc::kSubjectNotFound);
  EXPECT_EQ(registry_->DeleteVersion("s", 0, false).error().error_code, errc::kInvalidVersion);

  EXPECT_EQ(registry_->DeleteVersion("s", 2, true).value(), 2);
  EXPECT_EQ(registry_->Versions("s", true).value(), (std::vector<int>{1}));
  EXPECT_EQ(registry_->GetSchema(2).error().error_code, errc::kSchemaNotFound);
  EXPECT_EQ(registry_->GetById(2), nullptr);

  // Version numbers continue after the highest remaining version; ids are never reused.
  auto next = MustRegister("s", Json(ObjectSchema({"c"}, {})));
  EXPECT_EQ(next.version, 2);
  EXPECT_EQ(next.schema->id, 3);
  // A schema that was deleted gets its old id back.
  EXPECT_EQ(MustRegister("s", Json(ObjectSchema({"b"}, {}))).schema->id, 2);
}

TEST_F(RegistryTest, SoftAndPermanentSubjectDelete) {
  MustRegister("s", Json(ObjectSchema({"a"}, {})));
  MustRegister("s", Json(ObjectSchema({"a", "b"}, {})));
  SetLevel("s", CompatibilityLevel::kFull);

  EXPECT_EQ(registry_->DeleteSubject("s", true).error().error_code, errc::kSubjectNotSoftDeleted);
  EXPECT_EQ(registry_->DeleteSubject("s", false).value(), (std::vector<int>{1, 2}));
  EXPECT_EQ(registry_->Latest("s"), nullptr);
  EXPECT_TRUE(registry_->Subjects(false).empty());
  EXPECT_EQ(registry_->Subjects(true), (std::vector<std::string>{"s"}));
  EXPECT_EQ(registry_->Versions("s", false).error().error_code, errc::kSubjectNotFound);
  EXPECT_EQ(registry_->GetVersion("s", kLatestVersion, false).error().error_code,
            errc::kSubjectNotFound);
  EXPECT_EQ(registry_->DeleteSubject("s", false).error().error_code, errc::kSubjectSoftDeleted);
  EXPECT_EQ(registry_->DeleteSubject("nope", false).error().error_code, errc::kSubjectNotFound);

  EXPECT_EQ(registry_->DeleteSubject("s", true).value(), (std::vector<int>{1, 2}));
  EXPECT_TRUE(registry_->Subjects(true).empty());
  // A permanently deleted subject loses its configuration, as in Confluent.
  EXPECT_EQ(registry_->GetConfig("s", false).error().error_code,
            errc::kSubjectCompatibilityNotConfigured);
  // Re-registering starts at version 1 again with the old id.
  auto again = MustRegister("s", Json(ObjectSchema({"a"}, {})));
  EXPECT_EQ(again.version, 1);
  EXPECT_EQ(again.schema->id, 1);
}

TEST_F(RegistryTest, Config) {
  EXPECT_EQ(registry_->GetConfig("", false)->compatibility, CompatibilityLevel::kBackward);
  EXPECT_EQ(registry_->GetConfig("s", false).error().error_code,
            errc::kSubjectCompatibilityNotConfigured);
  EXPECT_EQ(registry_->GetConfig("s", false).error().http_status(), 404);
  EXPECT_EQ(registry_->GetConfig("s", true)->compatibility, CompatibilityLevel::kBackward);

  RegistryConfig full;
  full.compatibility = CompatibilityLevel::kFull;
  auto updated = registry_->UpdateConfig("s", full);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->compatibility, CompatibilityLevel::kFull);
  EXPECT_EQ(registry_->GetConfig("s", false)->compatibility, CompatibilityLevel::kFull);

  RegistryConfig normalize;
  normalize.normalize = true;
  updated = registry_->UpdateConfig("s", normalize);  // merges with what was there
  EXPECT_EQ(updated->compatibility, CompatibilityLevel::kFull);
  EXPECT_EQ(updated->normalize, true);

  RegistryConfig none;
  none.compatibility = CompatibilityLevel::kNone;
  ASSERT_TRUE(registry_->UpdateConfig("", none).ok());
  EXPECT_EQ(registry_->GetConfig("", false)->compatibility, CompatibilityLevel::kNone);
  EXPECT_EQ(registry_->GetConfig("t", true)->compatibility, CompatibilityLevel::kNone);

  EXPECT_EQ(registry_->DeleteConfig("s")->compatibility, CompatibilityLevel::kFull);
  EXPECT_EQ(registry_->DeleteConfig("s").error().error_code, errc::kSubjectNotFound);
  EXPECT_EQ(registry_->DeleteConfig("")->compatibility, CompatibilityLevel::kNone);
  EXPECT_EQ(registry_->GetConfig("", false)->compatibility, CompatibilityLevel::kBackward);

  EXPECT_EQ(ParseCompatibilityLevel("backward_transitive"),
            CompatibilityLevel::kBackwardTransitive);
  EXPECT_EQ(ParseCompatibilityLevel("sideways"), std::nullopt);
  EXPECT_EQ(CompatibilityLevelName(CompatibilityLevel::kFullTransitive), "FULL_TRANSITIVE");
}

TEST_F(RegistryTest, EverythingSurvivesAReopen) {
  MustRegister("a-value", Json(ObjectSchema({"x"}, {"x"})));
  MustRegister("a-value", Json(ObjectSchema({"x", "y"}, {"x"})));
  MustRegister("b-value", Json(ObjectSchema({"x"}, {"x"})));
  MustRegister("c-value", Avro(R"({"type":"record","name":"C","fields":[]})"));
  MustRegister("d-value", Json(ObjectSchema({"z"}, {})));
  ASSERT_TRUE(registry_->DeleteVersion("a-value", 2, false).ok());
  ASSERT_TRUE(registry_->DeleteSubject("b-value", false).ok());
  ASSERT_TRUE(registry_->DeleteSubject("d-value", false).ok());
  ASSERT_TRUE(registry_->DeleteSubject("d-value", true).ok());
  SetLevel("a-value", CompatibilityLevel::kForwardTransitive, CompatibilityPolicy::kLenient);
  SetLevel("", CompatibilityLevel::kFull);

  Open();

  EXPECT_EQ(registry_->Subjects(false), (std::vector<std::string>{"a-value", "c-value"}));
  EXPECT_EQ(registry_->Subjects(true), (std::vector<std::string>{"a-value", "b-value", "c-value"}));
  EXPECT_EQ(registry_->Versions("a-value", true).value(), (std::vector<int>{1, 2}));
  EXPECT_TRUE(registry_->GetVersion("a-value", 2, true)->deleted);
  EXPECT_EQ(registry_->Latest("a-value")->version, 1);
  EXPECT_EQ(registry_->Latest("c-value")->schema->type, SchemaType::kAvro);
  EXPECT_EQ(registry_->GetById(1)->schema, json::parse(ObjectSchema({"x"}, {"x"})).dump());
  EXPECT_EQ(registry_->GetSchema(4).error().error_code, errc::kSchemaNotFound);  // d, permanent
  auto config = registry_->GetConfig("a-value", false);
  EXPECT_EQ(config->compatibility, CompatibilityLevel::kForwardTransitive);
  EXPECT_EQ(config->compatibility_policy, CompatibilityPolicy::kLenient);
  EXPECT_EQ(registry_->GetConfig("", false)->compatibility, CompatibilityLevel::kFull);
  EXPECT_EQ(registry_->MaxId(), 4);
  // New ids continue after the highest ever assigned, including the permanently deleted one.
  SetLevel("e-value", CompatibilityLevel::kNone);
  EXPECT_EQ(MustRegister("e-value", Json(ObjectSchema({"w"}, {}))).schema->id, 5);
}

TEST_F(RegistryTest, CorruptLogIsReportedWithItsOffset) {
  MustRegister("s", Json(ObjectSchema({"a"}, {})));
  std::string junk = R"({"v":1,"op":"teleport"})";
  log::RecordToAppend r{0, junk};
  auto appended = log_->Append(0, std::span(&r, 1));
  ASSERT_TRUE(appended.ok());
  ASSERT_TRUE(syncer_.WaitDurable(appended->sync_ticket).ok());
  registry_.reset();
  auto reopened = Registry::Open(*log_, syncer_);
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), StatusCode::kCorruption);
  EXPECT_NE(reopened.status().message().find("offset 1"), std::string::npos);
  EXPECT_NE(reopened.status().message().find("teleport"), std::string::npos);
}

// The evolution scenario of the issue: v1 -> v2 adds an optional field (accepted, old events
// still valid) -> v3 makes a field required (refused under BACKWARD, saying which and why).
TEST_F(RegistryTest, EvolutionScenario) {
  const std::string v1 = ObjectSchema({"order_id", "sku"}, {"order_id"});
  const std::string v2 = ObjectSchema({"order_id", "sku", "gift_note"}, {"order_id"});
  const std::string v3 = ObjectSchema({"order_id", "sku", "gift_note"}, {"order_id", "gift_note"});
  EXPECT_EQ(MustRegister("fulfilment-value", Json(v1)).version, 1);
  EXPECT_EQ(MustRegister("fulfilment-value", Json(v2)).version, 2);
  auto refused = MustFail(registry_->Register("fulfilment-value", Json(v3)));
  EXPECT_EQ(refused.error_code, errc::kIncompatibleSchema);
  EXPECT_EQ(refused.http_status(), 409);
  EXPECT_NE(refused.message.find("incompatible with an earlier schema for subject "
                                 "\"fulfilment-value\""),
            std::string::npos);
  EXPECT_NE(refused.message.find("REQUIRED_ATTRIBUTE_ADDED"), std::string::npos);
  EXPECT_NE(refused.message.find("/properties/gift_note: property 'gift_note' is required by the "
                                 "new schema but not by the old one (a reader of the new schema "
                                 "rejects old events without it)"),
            std::string::npos)
      << refused.message;
  EXPECT_NE(refused.message.find("{oldSchemaVersion: 2}"), std::string::npos);
  EXPECT_NE(refused.message.find("compatibility: 'BACKWARD'"), std::string::npos);
  EXPECT_EQ(registry_->Versions("fulfilment-value", true).value(), (std::vector<int>{1, 2}));

  auto report =
      registry_->CheckCompatibility("fulfilment-value", kLatestVersion, Json(v3), false, true);
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->compatible);
  ASSERT_FALSE(report->messages.empty());
  EXPECT_NE(report->messages[0].find("gift_note"), std::string::npos);
}

// The registry's view of each level: what it compares and in which direction.
TEST_F(RegistryTest, CompatibilityLevels) {
  const std::string open_a = ObjectSchema({"a"}, {"a"}, /*open=*/true);
  const std::string open_ab_required = ObjectSchema({"a", "b"}, {"a", "b"}, /*open=*/true);

  // Adding a required property: BACKWARD refuses (old events lack it), FORWARD accepts (old
  // readers of an open schema ignore it), FULL refuses, NONE accepts.
  const std::pair<CompatibilityLevel, bool> cases[] = {
      {CompatibilityLevel::kBackward, false}, {CompatibilityLevel::kBackwardTransitive, false},
      {CompatibilityLevel::kForward, true},   {CompatibilityLevel::kForwardTransitive, true},
      {CompatibilityLevel::kFull, false},     {CompatibilityLevel::kFullTransitive, false},
      {CompatibilityLevel::kNone, true},
  };
  for (const auto& [level, accepted] : cases) {
    const std::string subject = std::string(CompatibilityLevelName(level));
    SetLevel(subject, level);
    MustRegister(subject, Json(open_a));
    auto r = registry_->Register(subject, Json(open_ab_required));
    EXPECT_EQ(r.ok(), accepted) << subject;
    if (!r.ok()) {
      EXPECT_EQ(r.error().error_code, errc::kIncompatibleSchema);
      EXPECT_NE(r.error().message.find("REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"),
                std::string::npos)
          << r.error().message;
    }
  }

  // Removing a required property from a closed schema: FORWARD refuses (old readers require it).
  SetLevel("fwd", CompatibilityLevel::kForward);
  MustRegister("fwd", Json(ObjectSchema({"a", "b"}, {"a", "b"})));
  auto removed = MustFail(registry_->Register("fwd", Json(ObjectSchema({"a"}, {"a"}))));
  EXPECT_NE(removed.message.find("property 'b' is required by the old schema but not declared in "
                                 "the new schema"),
            std::string::npos)
      << removed.message;
}

TEST_F(RegistryTest, TransitiveLevelsCheckEveryLiveVersion) {
  // v1 {a: string} -> v2 {} (a removed from an open model) -> v3 {a: integer}. Under LENIENT, v3
  // reads v2's data (a was undeclared), but not v1's (a was a string).
  const std::string v1 = R"({"type":"object","properties":{"a":{"type":"string"}}})";
  const std::string v2 = R"({"type":"object"})";
  const std::string v3 = R"({"type":"object","properties":{"a":{"type":"integer"}}})";
  for (auto level : {CompatibilityLevel::kBackward, CompatibilityLevel::kBackwardTransitive,
                     CompatibilityLevel::kForward, CompatibilityLevel::kForwardTransitive}) {
    const std::string subject = std::string(CompatibilityLevelName(level));
    SetLevel(subject, level, CompatibilityPolicy::kLenient);
    MustRegister(subject, Json(v1));
    MustRegister(subject, Json(v2));
    auto r = registry_->Register(subject, Json(v3));
    const bool transitive = level == CompatibilityLevel::kBackwardTransitive ||
                            level == CompatibilityLevel::kForwardTransitive;
    EXPECT_EQ(r.ok(), !transitive) << subject;
    if (!r.ok()) {
      EXPECT_NE(r.error().message.find("TYPE_CHANGED"), std::string::npos) << r.error().message;
      EXPECT_NE(r.error().message.find("{oldSchemaVersion: 1}"), std::string::npos);
    }
  }
  // Soft-deleted versions are not checked.
  SetLevel("deleted", CompatibilityLevel::kBackwardTransitive, CompatibilityPolicy::kLenient);
  MustRegister("deleted", Json(v1));
  MustRegister("deleted", Json(v2));
  ASSERT_TRUE(registry_->DeleteVersion("deleted", 1, false).ok());
  EXPECT_TRUE(registry_->Register("deleted", Json(v3)).ok());
}

TEST_F(RegistryTest, OpenContentModelFollowsConfluent) {
  // Under BACKWARD (STRICT), an optional property added to an open schema is refused: old events
  // may already carry it with any value. A closed schema may gain it; LENIENT accepts both.
  MustRegister("open", Json(ObjectSchema({"a"}, {}, /*open=*/true)));
  auto refused = MustFail(registry_->Register("open", Json(ObjectSchema({"a", "b"}, {}, true))));
  EXPECT_NE(refused.message.find("OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"),
            std::string::npos);
  EXPECT_NE(refused.message.find("additionalProperties"), std::string::npos);
  // A property whose schema accepts anything is fine even then.
  EXPECT_TRUE(registry_
                  ->Register("open", Json(R"({"type":"object","required":[],
      "properties":{"a":{"type":"string"},"b":{}}})"))
                  .ok());

  MustRegister("closed", Json(ObjectSchema({"a"}, {})));
  EXPECT_TRUE(registry_->Register("closed", Json(ObjectSchema({"a", "b"}, {}))).ok());

  SetLevel("lenient", CompatibilityLevel::kBackward, CompatibilityPolicy::kLenient);
  MustRegister("lenient", Json(ObjectSchema({"a"}, {}, true)));
  EXPECT_TRUE(registry_->Register("lenient", Json(ObjectSchema({"a", "b"}, {}, true))).ok());
}

TEST_F(RegistryTest, DifferentSchemaTypesAreIncompatible) {
  MustRegister("s", Avro(R"("string")"));
  auto r = MustFail(registry_->Register("s", Json(R"({"type":"string"})")));
  EXPECT_NE(r.message.find("Incompatible because of different schema type"), std::string::npos);
}

TEST_F(RegistryTest, AvroResolution) {
  const std::string v1 = R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"}]})";
  const std::string with_default =
      R"({"type":"record","name":"R","fields":[{"name":"a","type":"long"},
          {"name":"b","type":"string","default":"x"}]})";
  const std::string without_default =
      R"({"type":"record","name":"R","fields":[{"name":"a","type":"long"},
          {"name":"c","type":"string"}]})";
  MustRegister("avro", Avro(v1));
  EXPECT_TRUE(registry_->Register("avro", Avro(with_default)).ok());  // int -> long promotes
  auto r = MustFail(registry_->Register("avro", Avro(without_default)));
  EXPECT_NE(r.message.find("READER_FIELD_MISSING_DEFAULT_VALUE"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("field 'c'"), std::string::npos);

  SetLevel("narrow", CompatibilityLevel::kBackward);
  MustRegister("narrow",
               Avro(R"({"type":"record","name":"R","fields":[{"name":"a","type":"long"}]})"));
  auto narrowed = MustFail(registry_->Register("narrow", Avro(v1)));
  EXPECT_NE(narrowed.message.find("TYPE_MISMATCH"), std::string::npos) << narrowed.message;

  SetLevel("enum", CompatibilityLevel::kForward);
  MustRegister("enum", Avro(R"({"type":"enum","name":"E","symbols":["A","B"]})"));
  auto symbols = MustFail(
      registry_->Register("enum", Avro(R"({"type":"enum","name":"E","symbols":["A","B","C"]})")));
  EXPECT_NE(symbols.message.find("MISSING_ENUM_SYMBOLS"), std::string::npos) << symbols.message;

  SetLevel("union", CompatibilityLevel::kBackward);
  MustRegister("union", Avro(R"(["null","string"])"));
  auto branch = MustFail(registry_->Register("union", Avro(R"("string")")));
  EXPECT_NE(branch.message.find("TYPE_MISMATCH"), std::string::npos) << branch.message;
  EXPECT_TRUE(registry_->Register("union", Avro(R"(["null","string","int"])")).ok());
}

TEST_F(RegistryTest, CheckCompatibilityEndpoints) {
  // A subject without versions accepts anything.
  auto empty = registry_->CheckCompatibility("none", kLatestVersion, Json("{}"), false, false);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->compatible);
  EXPECT_EQ(registry_->CheckCompatibility("none", 3, Json("{}"), false, false).error().error_code,
            errc::kVersionNotFound);

  MustRegister("s", Json(ObjectSchema({"a"}, {})));
  MustRegister("s", Json(ObjectSchema({"a", "b"}, {})));
  // Against version 1 only vs against what registration checks (the latest).
  const std::string drops_b = ObjectSchema({"a"}, {});
  EXPECT_TRUE(registry_->CheckCompatibility("s", 1, Json(drops_b), false, false)->compatible);
  auto latest = registry_->CheckCompatibility("s", std::nullopt, Json(drops_b), false, true);
  EXPECT_FALSE(latest->compatible);
  EXPECT_NE(latest->messages[0].find("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"),
            std::string::npos);

  EXPECT_EQ(registry_->CheckCompatibility("s", 1, Json("{"), false, false).error().error_code,
            errc::kInvalidSchema);
  auto verbose = registry_->CheckCompatibility("s", 1, Json("{"), false, true);
  ASSERT_TRUE(verbose.ok());
  EXPECT_FALSE(verbose->compatible);
  EXPECT_NE(verbose->messages[0].find("Invalid schema"), std::string::npos);
}

TEST_F(RegistryTest, IngestViewAndConcurrentWriters) {
  EXPECT_EQ(registry_->Latest("x"), nullptr);
  EXPECT_EQ(registry_->GetById(1), nullptr);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop.load()) {
      auto latest = registry_->Latest("t0");
      if (latest) {
        EXPECT_NE(registry_->GetById(latest->schema->id), nullptr);
      }
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      const std::string subject = "t" + std::to_string(t);
      for (int i = 0; i < kPerThread; ++i) {
        std::vector<std::string> props;
        for (int p = 0; p <= i; ++p) props.push_back("p" + std::to_string(p));
        auto r = registry_->Register(subject, Json(ObjectSchema(props, {})));
        EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
      }
    });
  }
  for (auto& w : writers) w.join();
  stop = true;
  reader.join();
  // Four subjects registered the same ten schemas: ten ids, shared.
  EXPECT_EQ(registry_->MaxId(), kPerThread);
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(registry_->Latest("t" + std::to_string(t))->version, kPerThread);
  Open();
  EXPECT_EQ(registry_->MaxId(), kPerThread);
  EXPECT_EQ(registry_->Latest("t3")->version, kPerThread);
}

// JSON Schema rules, checked directly: does a reader (new) accept what a writer (old) allowed?
struct JsonCase {
  const char* name;
  const char* writer;
  const char* reader;
  const char* problem;  // nullptr when compatible, else a type that must be reported
};

class JsonSchemaCompatTest : public ::testing::TestWithParam<JsonCase> {};

TEST_P(JsonSchemaCompatTest, Backward) {
  const JsonCase& c = GetParam();
  auto problems = JsonSchemaReadProblems(json::parse(c.writer), json::parse(c.reader),
                                         CompatibilityPolicy::kStrict, "old", "new");
  std::string all;
  for (const auto& p : problems) all += p.ToString() + "\n";
  if (c.problem == nullptr) {
    EXPECT_TRUE(problems.empty()) << all;
  } else {
    EXPECT_NE(all.find(c.problem), std::string::npos) << all;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rules, JsonSchemaCompatTest,
    ::testing::Values(
        JsonCase{"identical", R"({"type":"string"})", R"({"type":"string","title":"x"})", nullptr},
        JsonCase{"integer_to_number", R"({"type":"integer"})", R"({"type":"number"})", nullptr},
        JsonCase{"number_to_integer", R"({"type":"number"})", R"({"type":"integer"})",
                 "TYPE_NARROWED"},
        JsonCase{"string_to_integer", R"({"type":"string"})", R"({"type":"integer"})",
                 "TYPE_CHANGED"},
        JsonCase{"nullable_added", R"({"type":"string"})", R"({"type":["string","null"]})",
                 nullptr},
        JsonCase{"null_removed", R"({"type":["string","null"]})", R"({"type":"string"})",
                 "TYPE_NARROWED"},
        JsonCase{"max_length_lowered", R"({"type":"string","maxLength":10})",
                 R"({"type":"string","maxLength":5})", "MAX_LENGTH_DECREASED"},
        JsonCase{"max_length_raised", R"({"type":"string","maxLength":5})",
                 R"({"type":"string","maxLength":10})", nullptr},
        JsonCase{"max_length_added", R"({"type":"string"})", R"({"type":"string","maxLength":5})",
                 "MAX_LENGTH_ADDED"},
        JsonCase{"min_length_raised", R"({"type":"string","minLength":1})",
                 R"({"type":"string","minLength":2})", "MIN_LENGTH_INCREASED"},
        JsonCase{"pattern_added", R"({"type":"string"})", R"({"type":"string","pattern":"^a"})",
                 "PATTERN_ADDED"},
        JsonCase{"pattern_removed", R"({"type":"string","pattern":"^a"})", R"({"type":"string"})",
                 nullptr},
        JsonCase{"format_added", R"({"type":"string"})",
                 R"({"type":"string","format":"date-time"})", "FORMAT_ADDED"},
        JsonCase{"minimum_raised", R"({"type":"number","minimum":0})",
                 R"({"type":"number","minimum":1})", "MINIMUM_INCREASED"},
        JsonCase{"minimum_lowered", R"({"type":"number","minimum":1})",
                 R"({"type":"number","minimum":0})", nullptr},
        JsonCase{"exclusive_equivalent", R"({"type":"integer","minimum":1})",
                 R"({"type":"integer","exclusiveMinimum":0})", nullptr},
        JsonCase{"exclusive_tighter", R"({"type":"number","minimum":0})",
                 R"({"type":"number","exclusiveMinimum":0})", "EXCLUSIVE_MINIMUM_INCREASED"},
        JsonCase{"maximum_added", R"({"type":"number"})", R"({"type":"number","maximum":9})",
                 "MAXIMUM_ADDED"},
        JsonCase{"multiple_of_reduced", R"({"type":"number","multipleOf":4})",
                 R"({"type":"number","multipleOf":2})", nullptr},
        JsonCase{"multiple_of_changed", R"({"type":"number","multipleOf":2})",
                 R"({"type":"number","multipleOf":3})", "MULTIPLE_OF_CHANGED"},
        JsonCase{"integer_multiple_of_one", R"({"type":"integer"})",
                 R"({"type":"integer","multipleOf":1})", nullptr},
        JsonCase{"enum_extended", R"({"enum":["a","b"]})", R"({"enum":["a","b","c"]})", nullptr},
        JsonCase{"enum_narrowed", R"({"enum":["a","b"]})", R"({"enum":["a"]})",
                 "ENUM_ARRAY_NARROWED"},
        JsonCase{"enum_added", R"({"type":"string"})", R"({"type":"string","enum":["a"]})",
                 "ENUM_ARRAY_NARROWED"},
        JsonCase{"enum_removed", R"({"type":"string","enum":["a"]})", R"({"type":"string"})",
                 nullptr},
        JsonCase{"enum_values_fit_new_max_length", R"({"type":"string","enum":["ab"]})",
                 R"({"type":"string","maxLength":2})", nullptr},
        JsonCase{"enum_value_too_long", R"({"type":"string","enum":["abc"]})",
                 R"({"type":"string","maxLength":2})", "MAX_LENGTH_DECREASED"},
        JsonCase{"const_changed", R"({"const":1})", R"({"const":2})", "ENUM_ARRAY_CHANGED"},
        JsonCase{"required_added", R"({"type":"object","properties":{"a":{"type":"string"}}})",
                 R"({"type":"object","properties":{"a":{"type":"string"}},"required":["a"]})",
                 "REQUIRED_ATTRIBUTE_ADDED"},
        JsonCase{"required_with_default_added",
                 R"({"type":"object","properties":{"a":{"type":"string"}}})",
                 R"({"type":"object","properties":{"a":{"type":"string","default":"x"}},
                     "required":["a"]})",
                 nullptr},
        JsonCase{"required_removed",
                 R"({"type":"object","properties":{"a":{"type":"string"}},"required":["a"]})",
                 R"({"type":"object","properties":{"a":{"type":"string"}}})", nullptr},
        JsonCase{"required_added_to_closed",
                 R"({"type":"object","properties":{},"additionalProperties":false})",
                 R"({"type":"object","properties":{"a":{}},"required":["a"],
                     "additionalProperties":false})",
                 "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"},
        JsonCase{"optional_added_to_closed",
                 R"({"type":"object","properties":{},"additionalProperties":false})",
                 R"({"type":"object","properties":{"a":{"type":"string"}},
                     "additionalProperties":false})",
                 nullptr},
        JsonCase{"optional_added_to_open", R"({"type":"object","properties":{}})",
                 R"({"type":"object","properties":{"a":{"type":"string"}}})",
                 "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"},
        JsonCase{"removed_from_open", R"({"type":"object","properties":{"a":{"type":"string"}}})",
                 R"({"type":"object","properties":{}})", nullptr},
        JsonCase{"removed_from_closed",
                 R"({"type":"object","properties":{"a":{"type":"string"}},
                     "additionalProperties":false})",
                 R"({"type":"object","properties":{},"additionalProperties":false})",
                 "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"},
        JsonCase{"additional_properties_closed", R"({"type":"object"})",
                 R"({"type":"object","additionalProperties":false})",
                 "ADDITIONAL_PROPERTIES_REMOVED"},
        JsonCase{"additional_properties_opened",
                 R"({"type":"object","additionalProperties":false})", R"({"type":"object"})",
                 nullptr},
        JsonCase{"added_covered_by_additional_schema",
                 R"({"type":"object","additionalProperties":{"type":"string"}})",
                 R"({"type":"object","properties":{"a":{"type":["string","null"]}},
                     "additionalProperties":{"type":"string"}})",
                 nullptr},
        JsonCase{"added_not_covered_by_additional_schema",
                 R"({"type":"object","additionalProperties":{"type":"string"}})",
                 R"({"type":"object","properties":{"a":{"type":"integer"}},
                     "additionalProperties":{"type":"string"}})",
                 "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"},
        JsonCase{"nested_property_narrowed",
                 R"({"type":"object","properties":{"line":{"type":"object",
                     "properties":{"qty":{"type":"number"}}}}})",
                 R"({"type":"object","properties":{"line":{"type":"object",
                     "properties":{"qty":{"type":"integer"}}}}})",
                 "/properties/line/properties/qty: type narrowed from number to integer"},
        JsonCase{"items_narrowed", R"({"type":"array","items":{"type":"number"}})",
                 R"({"type":"array","items":{"type":"integer"}})", "TYPE_NARROWED"},
        JsonCase{"max_items_added", R"({"type":"array"})", R"({"type":"array","maxItems":3})",
                 "MAX_ITEMS_ADDED"},
        JsonCase{"unique_items_added", R"({"type":"array"})",
                 R"({"type":"array","uniqueItems":true})", "UNIQUE_ITEMS_ADDED"},
        JsonCase{"tuple_item_added_to_closed",
                 R"({"type":"array","prefixItems":[{"type":"string"}],"items":false})",
                 R"({"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],
                     "items":false})",
                 nullptr},
        JsonCase{"tuple_item_added_to_open",
                 R"({"type":"array","prefixItems":[{"type":"string"}]})",
                 R"({"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}]})",
                 "ITEM_ADDED_TO_OPEN_CONTENT_MODEL"},
        JsonCase{"one_of_branch_added", R"({"oneOf":[{"type":"string"},{"type":"integer"}]})",
                 R"({"oneOf":[{"type":"string"},{"type":"integer"},{"type":"null"}]})", nullptr},
        JsonCase{"one_of_branch_removed", R"({"oneOf":[{"type":"string"},{"type":"integer"}]})",
                 R"({"oneOf":[{"type":"string"}]})", "TYPE_CHANGED"},
        JsonCase{"became_any_of", R"({"type":"string"})",
                 R"({"anyOf":[{"type":"null"},{"type":"string"}]})", nullptr},
        JsonCase{"all_of_part_added", R"({"allOf":[{"type":"object"}]})",
                 R"({"allOf":[{"type":"object"},{"required":["a"]}]})", "REQUIRED_ATTRIBUTE_ADDED"},
        JsonCase{"refs_followed",
                 R"({"$defs":{"q":{"type":"number"}},"type":"object",
                     "properties":{"qty":{"$ref":"#/$defs/q"}}})",
                 R"({"$defs":{"q":{"type":"integer"}},"type":"object",
                     "properties":{"qty":{"$ref":"#/$defs/q"}}})",
                 "/properties/qty: type narrowed"},
        JsonCase{"recursive_refs_terminate",
                 R"({"$defs":{"n":{"type":"object","properties":{"next":{"$ref":"#/$defs/n"}}}},
                     "$ref":"#/$defs/n"})",
                 R"({"$defs":{"m":{"type":"object","properties":{"next":{"$ref":"#/$defs/m"}}}},
                     "$ref":"#/$defs/m"})",
                 nullptr},
        JsonCase{"not_added", R"({"type":"string"})", R"({"type":"string","not":{"const":"x"}})",
                 "TYPE_CHANGED"},
        JsonCase{"unanalysed_keyword_added", R"({"type":"object"})",
                 R"({"type":"object","propertyNames":{"maxLength":3}})", "KEYWORD_CHANGED"},
        JsonCase{"became_false", R"({"type":"string"})", "false", "TYPE_CHANGED"},
        JsonCase{"became_true", R"({"type":"string"})", "true", nullptr},
        JsonCase{"type_inferred_from_keywords", R"({"properties":{"a":{"type":"string"}}})",
                 R"({"type":"object","properties":{"a":{"type":"string"}}})", nullptr}),
    [](const ::testing::TestParamInfo<JsonCase>& info) { return std::string(info.param.name); });

TEST(JsonSchemaCompat, LenientPolicyAndDescriptions) {
  const json open = json::parse(R"({"type":"object","properties":{}})");
  const json added = json::parse(R"({"type":"object","properties":{"a":{"type":"string"}}})");
  EXPECT_TRUE(
      JsonSchemaReadProblems(open, added, CompatibilityPolicy::kLenient, "old", "new").empty());
  auto strict = JsonSchemaReadProblems(open, added, CompatibilityPolicy::kStrict, "old", "new");
  ASSERT_EQ(strict.size(), 1u);
  EXPECT_EQ(strict[0].type, "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL");
  EXPECT_EQ(strict[0].path, "/properties/a");
  EXPECT_EQ(
      strict[0].ToString().rfind("{errorType:\"OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL\", "
                                 "description:\"/properties/a: optional property 'a' is "
                                 "declared in the new schema",
                                 0),
      0u)
      << strict[0].ToString();
}

}  // namespace
}  // namespace sluice::schema
