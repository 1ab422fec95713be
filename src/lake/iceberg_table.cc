#include "lake/iceberg_table.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "base/fixed_bytes.h"
#include "base/time.h"
#include "lake/avro.h"

namespace sluice::lake {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

constexpr int32_t kPartitionFieldId = 1000;
constexpr int kMaxVersionProbe = 1000;
constexpr int64_t kDefaultPreviousVersionsMax = 100;
constexpr int64_t kDefaultMinCountToMerge = 100;
constexpr int64_t kMaxFileBytes = 256ll << 20;

// ---------------------------------------------------------------------------------------------
// Files

Status ReadWholeFile(const std::string& path, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open " + path, errno);
  out.clear();
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Status::FromErrno("read " + path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (static_cast<int64_t>(out.size()) > kMaxFileBytes) {
      ::close(fd);
      return Status::ResourceExhausted(path + " is larger than 256 MiB");
    }
  }
  ::close(fd);
  return Status::Ok();
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("write " + path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// Creates `path` (which must not exist), writes `data` and fsyncs it.
Status WriteNewFileDurable(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("create " + path, errno);
  Status st = WriteAll(fd, data, path);
  if (st.ok() && ::fsync(fd) != 0) st = Status::FromErrno("fsync " + path, errno);
  ::close(fd);
  if (!st.ok()) ::unlink(path.c_str());
  return st;
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open directory " + dir, errno);
  Status st;
  if (::fsync(fd) != 0) st = Status::FromErrno("fsync directory " + dir, errno);
  ::close(fd);
  return st;
}

// Holds an exclusive flock for the lifetime of the object.
class CommitLock {
 public:
  ~CommitLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Acquire(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Status::FromErrno("open " + path, errno);
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) return Status::FromErrno("flock " + path, errno);
    }
    return Status::Ok();
  }

 private:
  int fd_ = -1;
};

std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^
                                   (static_cast<uint64_t>(std::random_device{}()) << 32)};
  return rng;
}

std::string NewUuid() {
  uint64_t hi = Rng()(), lo = Rng()();
  hi = (hi & ~0xf000ull) | 0x4000ull;                  // version 4
  lo = (lo & ~(0xc000ull << 48)) | (0x8000ull << 48);  // variant 10
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffull));
  return buf;
}

// Snapshot ids stay below 2^53 so JavaScript readers, which parse metadata JSON numbers as
// doubles, see them exactly.
int64_t NewSnapshotId() {
  return static_cast<int64_t>(Rng()() & ((1ull << 53) - 1)) | 1;
}

int64_t PropertyLong(const std::map<std::string, std::string>& props, const std::string& key,
                     int64_t fallback) {
  auto it = props.find(key);
  if (it == props.end()) return fallback;
  char* end = nullptr;
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  return end != it->second.c_str() && *end == '\0' ? v : fallback;
}

bool PropertyBool(const std::map<std::string, std::string>& props, const std::string& key,
                  bool fallback) {
  auto it = props.find(key);
  if (it == props.end()) return fallback;
  if (it->second == "true") return true;
  if (it->second == "false") return false;
  return fallback;
}

std::string HintPath(const std::string& dir) {
  return dir + "/metadata/version-hint.text";
}
std::string MetadataFileName(int64_t version) {
  return "v" + std::to_string(version) + ".metadata.json";
}

Result<int64_t> ReadVersionHint(const std::string& dir) {
  std::string text;
  SLUICE_RETURN_IF_ERROR(ReadWholeFile(HintPath(dir), text));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty() || text.size() > 18 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Status::Corruption(HintPath(dir) + " does not hold a version number");
  }
  return std::stoll(text);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Types, single values, hours

std::string IcebergType::ToString() const {
  switch (id) {
    case IcebergTypeId::kBoolean:
      return "boolean";
    case IcebergTypeId::kInt:
      return "int";
    case IcebergTypeId::kLong:
      return "long";
    case IcebergTypeId::kDouble:
      return "double";
    case IcebergTypeId::kString:
      return "string";
    case IcebergTypeId::kTimestamptz:
      return "timestamptz";
    case IcebergTypeId::kDecimal:
      return "decimal(" + std::to_string(precision) + ", " + std::to_string(scale) + ")";
  }
  return "string";
}

Result<IcebergType> IcebergType::Parse(std::string_view text) {
  static const std::pair<const char*, IcebergTypeId> kSimple[] = {
      {"boolean", IcebergTypeId::kBoolean}, {"int", IcebergTypeId::kInt},
      {"long", IcebergTypeId::kLong},       {"double", IcebergTypeId::kDouble},
      {"string", IcebergTypeId::kString},   {"timestamptz", IcebergTypeId::kTimestamptz},
  };
  for (const auto& [name, id] : kSimple) {
    if (text == name) return IcebergType{id};
  }
  if (text.starts_with("decimal(") && text.ends_with(")")) {
    std::string inner(text.substr(8, text.size() - 9));
    int p = 0, s = 0;
    char tail = 0;
    if (std::sscanf(inner.c_str(), " %d , %d %c", &p, &s, &tail) == 2 && p >= 1 && p <= 38 &&
        s >= 0 && s <= p) {
      return IcebergType{IcebergTypeId::kDecimal, p, s};
    }
  }
  return Status::InvalidArgument("unsupported iceberg type '" + std::string(text) +
                                 "' (boolean, int, long, double, string, timestamptz, "
                                 "decimal(P,S) with 1 <= P <= 38)");
}

const IcebergField* IcebergSchema::Find(std::string_view name) const {
  for (const auto& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const IcebergField* IcebergSchema::FindId(int32_t id) const {
  for (const auto& f : fields) {
    if (f.id == id) return &f;
  }
  return nullptr;
}

std::string SingleLong(int64_t v) {
  std::string out;
  AppendU64(out, static_cast<uint64_t>(v));
  return out;
}

std::string SingleInt(int32_t v) {
  std::string out;
  AppendU32(out, static_cast<uint32_t>(v));
  return out;
}

std::string SingleDouble(double v) {
  return SingleLong(std::bit_cast<int64_t>(v));
}

std::string SingleBoolean(bool v) {
  return std::string(1, v ? '\x01' : '\x00');
}

std::string SingleDecimal(__int128 unscaled) {
  std::string big;  // big-endian, all 16 bytes
  for (int i = 15; i >= 0; --i) {
    big.push_back(static_cast<char>((static_cast<unsigned __int128>(unscaled) >> (8 * i)) & 0xff));
  }
  // Drop leading bytes that only repeat the sign.
  size_t start = 0;
  while (start + 1 < big.size()) {
    uint8_t b = static_cast<uint8_t>(big[start]);
    uint8_t next = static_cast<uint8_t>(big[start + 1]);
    if ((b == 0x00 && (next & 0x80) == 0) || (b == 0xff && (next & 0x80) != 0)) {
      ++start;
    } else {
      break;
    }
  }
  return big.substr(start);
}

Result<int64_t> ParseSingleLong(std::string_view b) {
  if (b.size() != 8) return Status::Corruption("a long bound must be 8 bytes");
  return static_cast<int64_t>(LoadU64(b.data()));
}

Result<int32_t> ParseSingleInt(std::string_view b) {
  if (b.size() != 4) return Status::Corruption("an int bound must be 4 bytes");
  return static_cast<int32_t>(LoadU32(b.data()));
}

Result<double> ParseSingleDouble(std::string_view b) {
  SLUICE_ASSIGN_OR_RETURN(int64_t bits, ParseSingleLong(b));
  return std::bit_cast<double>(bits);
}

std::string HourToString(int32_t hour) {
  int64_t days = FloorDiv(hour, 24);
  int64_t h = hour - days * 24;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u-%02lld", static_cast<long long>(y), m, d,
                static_cast<long long>(h));
  return buf;
}

int32_t HourOfMicros(int64_t micros) {
  return static_cast<int32_t>(FloorDiv(micros, kMicrosPerHour));
}

// ---------------------------------------------------------------------------------------------
// Table metadata (the JSON file)

struct IcebergTable::Metadata {
  std::string uuid;
  std::string location;
  int64_t last_sequence_number = 0;
  int64_t last_updated_ms = 0;
  int32_t last_column_id = 0;
  int32_t current_schema_id = 0;
  std::vector<IcebergSchema> schemas;
  std::string hour_source;  // "" when unpartitioned
  std::map<std::string, std::string> properties;
  std::optional<int64_t> current_snapshot_id;
  std::vector<Snapshot> snapshots;
  std::vector<std::pair<int64_t, int64_t>> snapshot_log;      // timestamp-ms, snapshot id
  std::vector<std::pair<int64_t, std::string>> metadata_log;  // timestamp-ms, file URI

  const IcebergSchema& CurrentSchema() const {
    for (const auto& s : schemas) {
      if (s.schema_id == current_schema_id) return s;
    }
    return schemas.back();
  }
  int32_t HourSourceId() const {
    for (const auto& s : schemas) {
      if (const IcebergField* f = s.Find(hour_source)) return f->id;
    }
    return 0;
  }
  const Snapshot* Current() const {
    if (!current_snapshot_id) return nullptr;
    for (const auto& s : snapshots) {
      if (s.snapshot_id == *current_snapshot_id) return &s;
    }
    return nullptr;
  }
};

namespace {

Json SchemaToJson(const IcebergSchema& schema) {
  Json fields = Json::array();
  for (const auto& f : schema.fields) {
    fields.push_back(
        {{"id", f.id}, {"name", f.name}, {"required", f.required}, {"type", f.type.ToString()}});
  }
  return {{"type", "struct"}, {"schema-id", schema.schema_id}, {"fields", fields}};
}

Json PartitionSpecJson(const IcebergTable::Metadata& m) {
  Json fields = Json::array();
  if (!m.hour_source.empty()) {
    fields.push_back({{"name", m.hour_source + "_hour"},
                      {"transform", "hour"},
                      {"source-id", m.HourSourceId()},
                      {"field-id", kPartitionFieldId}});
  }
  return {{"spec-id", 0}, {"fields", fields}};
}

std::string MetadataToJson(const IcebergTable::Metadata& m) {
  Json j;
  j["format-version"] = 2;
  j["table-uuid"] = m.uuid;
  j["location"] = m.location;
  j["last-sequence-number"] = m.last_sequence_number;
  j["last-updated-ms"] = m.last_updated_ms;
  j["last-column-id"] = m.last_column_id;
  j["current-schema-id"] = m.current_schema_id;
  Json schemas = Json::array();
  for (const auto& s : m.schemas) schemas.push_back(SchemaToJson(s));
  j["schemas"] = schemas;
  j["default-spec-id"] = 0;
  j["partition-specs"] = Json::array({PartitionSpecJson(m)});
  j["last-partition-id"] = m.hour_source.empty() ? kPartitionFieldId - 1 : kPartitionFieldId;
  j["default-sort-order-id"] = 0;
  j["sort-orders"] = Json::array({Json{{"order-id", 0}, {"fields", Json::array()}}});
  Json props = Json::object();
  for (const auto& [k, v] : m.properties) props[k] = v;
  j["properties"] = props;
  j["current-snapshot-id"] = m.current_snapshot_id ? *m.current_snapshot_id : -1;
  Json refs = Json::object();
  if (m.current_snapshot_id) {
    refs["main"] = {{"snapshot-id", *m.current_snapshot_id}, {"type", "branch"}};
  }
  j["refs"] = refs;
  Json snaps = Json::array();
  for (const auto& s : m.snapshots) {
    Json js;
    js["snapshot-id"] = s.snapshot_id;
    if (s.parent_snapshot_id) js["parent-snapshot-id"] = *s.parent_snapshot_id;
    js["sequence-number"] = s.sequence_number;
    js["timestamp-ms"] = s.timestamp_ms;
    js["manifest-list"] = s.manifest_list;
    Json summary = Json::object();
    for (const auto& [k, v] : s.summary) summary[k] = v;
    js["summary"] = summary;
    js["schema-id"] = s.schema_id;
    snaps.push_back(std::move(js));
  }
  j["snapshots"] = snaps;
  Json slog = Json::array();
  for (const auto& [ts, id] : m.snapshot_log)
    slog.push_back({{"timestamp-ms", ts}, {"snapshot-id", id}});
  j["snapshot-log"] = slog;
  Json mlog = Json::array();
  for (const auto& [ts, file] : m.metadata_log) {
    mlog.push_back({{"timestamp-ms", ts}, {"metadata-file", file}});
  }
  j["metadata-log"] = mlog;
  return j.dump();
}

Result<IcebergTable::Metadata> MetadataFromJson(const std::string& text, const std::string& what) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption(what + " is not a JSON object");
  IcebergTable::Metadata m;
  try {
    if (j.at("format-version").get<int>() != 2) {
      return Status::InvalidArgument(what + ": only format-version 2 is supported");
    }
    m.uuid = j.at("table-uuid").get<std::string>();
    m.location = j.at("location").get<std::string>();
    m.last_sequence_number = j.at("last-sequence-number").get<int64_t>();
    m.last_updated_ms = j.at("last-updated-ms").get<int64_t>();
    m.last_column_id = j.at("last-column-id").get<int32_t>();
    m.current_schema_id = j.at("current-schema-id").get<int32_t>();
    for (const Json& s : j.at("schemas")) {
      IcebergSchema schema;
      schema.schema_id = s.at("schema-id").get<int32_t>();
      for (const Json& f : s.at("fields")) {
        IcebergField field;
        field.id = f.at("id").get<int32_t>();
        field.name = f.at("name").get<std::string>();
        field.required = f.at("required").get<bool>();
        if (!f.at("type").is_string()) {
          return Status::InvalidArgument(what + ": nested field types are not supported");
        }
        SLUICE_ASSIGN_OR_RETURN(field.type, IcebergType::Parse(f.at("type").get<std::string>()));
        schema.fields.push_back(std::move(field));
      }
      m.schemas.push_back(std::move(schema));
    }
    if (m.schemas.empty()) return Status::Corruption(what + " has no schema");
    const Json& specs = j.at("partition-specs");
    if (specs.size() != 1 || specs[0].at("spec-id").get<int>() != 0) {
      return Status::InvalidArgument(what + ": only one partition spec (id 0) is supported");
    }
    const Json& pfields = specs[0].at("fields");
    if (pfields.size() > 1) return Status::InvalidArgument(what + ": at most one partition field");
    if (pfields.size() == 1) {
      if (pfields[0].at("transform").get<std::string>() != "hour" ||
          pfields[0].at("field-id").get<int32_t>() != kPartitionFieldId) {
        return Status::InvalidArgument(what + ": only an hour() partition field is supported");
      }
      int32_t source_id = pfields[0].at("source-id").get<int32_t>();
      for (const auto& s : m.schemas) {
        if (const IcebergField* f = s.FindId(source_id)) m.hour_source = f->name;
      }
      if (m.hour_source.empty()) return Status::Corruption(what + ": partition source not found");
    }
    if (j.contains("properties")) {
      for (const auto& [k, v] : j["properties"].items()) m.properties[k] = v.get<std::string>();
    }
    // -1 or null (newer writers) or absent: no current snapshot.
    auto current = j.find("current-snapshot-id");
    if (current != j.end() && current->is_number_integer() && current->get<int64_t>() >= 0) {
      m.current_snapshot_id = current->get<int64_t>();
    }
    if (j.contains("snapshots")) {
      for (const Json& s : j["snapshots"]) {
        Snapshot snap;
        snap.snapshot_id = s.at("snapshot-id").get<int64_t>();
        if (s.contains("parent-snapshot-id") && !s["parent-snapshot-id"].is_null()) {
          snap.parent_snapshot_id = s["parent-snapshot-id"].get<int64_t>();
        }
        snap.sequence_number = s.at("sequence-number").get<int64_t>();
        snap.timestamp_ms = s.at("timestamp-ms").get<int64_t>();
        snap.manifest_list = s.at("manifest-list").get<std::string>();
        snap.schema_id = s.value("schema-id", m.current_schema_id);
        for (const auto& [k, v] : s.at("summary").items()) snap.summary[k] = v.get<std::string>();
        m.snapshots.push_back(std::move(snap));
      }
    }
    if (j.contains("snapshot-log")) {
      for (const Json& e : j["snapshot-log"]) {
        m.snapshot_log.emplace_back(e.at("timestamp-ms").get<int64_t>(),
                                    e.at("snapshot-id").get<int64_t>());
      }
    }
    if (j.contains("metadata-log")) {
      for (const Json& e : j["metadata-log"]) {
        m.metadata_log.emplace_back(e.at("timestamp-ms").get<int64_t>(),
                                    e.at("metadata-file").get<std::string>());
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(what + ": " + e.what());
  }
  if (m.current_snapshot_id && m.Current() == nullptr) {
    return Status::Corruption(what + ": current snapshot not in the snapshot list");
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// Manifests and manifest lists (Avro)

std::string KvMapSchema(const char* name, int field_id, int key_id, int value_id,
                        const char* value_type) {
  std::ostringstream s;
  s << R"({"name":")" << name << R"(","type":["null",{"type":"array","logicalType":"map",)"
    << R"("items":{"type":"record","name":"k)" << key_id << "_v" << value_id
    << R"(","fields":[{"name":"key","type":"int","field-id":)" << key_id
    << R"(},{"name":"value","type":")" << value_type << R"(","field-id":)" << value_id
    << R"(}]}}],"default":null,"field-id":)" << field_id << "}";
  return s.str();
}

std::string ManifestEntrySchema(const std::string& hour_source) {
  std::string partition_fields;
  if (!hour_source.empty()) {
    Json name = hour_source + "_hour";
    partition_fields =
        R"({"name":)" + name.dump() + R"(,"type":["null","int"],"default":null,"field-id":1000})";
  }
  return R"({"type":"record","name":"manifest_entry","fields":[)"
         R"({"name":"status","type":"int","field-id":0},)"
         R"({"name":"snapshot_id","type":["null","long"],"default":null,"field-id":1},)"
         R"({"name":"sequence_number","type":["null","long"],"default":null,"field-id":3},)"
         R"({"name":"file_sequence_number","type":["null","long"],"default":null,"field-id":4},)"
         R"({"name":"data_file","field-id":2,"type":{"type":"record","name":"r2","fields":[)"
         R"({"name":"content","type":"int","field-id":134},)"
         R"({"name":"file_path","type":"string","field-id":100},)"
         R"({"name":"file_format","type":"string","field-id":101},)"
         R"({"name":"partition","field-id":102,"type":{"type":"record","name":"r102","fields":[)" +
         partition_fields +
         R"(]}},)"
         R"({"name":"record_count","type":"long","field-id":103},)"
         R"({"name":"file_size_in_bytes","type":"long","field-id":104},)" +
         KvMapSchema("column_sizes", 108, 117, 118, "long") + "," +
         KvMapSchema("value_counts", 109, 119, 120, "long") + "," +
         KvMapSchema("null_value_counts", 110, 121, 122, "long") + "," +
         KvMapSchema("lower_bounds", 125, 126, 127, "bytes") + "," +
         KvMapSchema("upper_bounds", 128, 129, 130, "bytes") + "]}}]}";
}

constexpr const char* kManifestListSchema =
    R"({"type":"record","name":"manifest_file","fields":[)"
    R"({"name":"manifest_path","type":"string","field-id":500},)"
    R"({"name":"manifest_length","type":"long","field-id":501},)"
    R"({"name":"partition_spec_id","type":"int","field-id":502},)"
    R"({"name":"content","type":"int","field-id":517},)"
    R"({"name":"sequence_number","type":"long","field-id":515},)"
    R"({"name":"min_sequence_number","type":"long","field-id":516},)"
    R"({"name":"added_snapshot_id","type":"long","field-id":503},)"
    R"({"name":"added_files_count","type":"int","field-id":504},)"
    R"({"name":"existing_files_count","type":"int","field-id":505},)"
    R"({"name":"deleted_files_count","type":"int","field-id":506},)"
    R"({"name":"added_rows_count","type":"long","field-id":512},)"
    R"({"name":"existing_rows_count","type":"long","field-id":513},)"
    R"({"name":"deleted_rows_count","type":"long","field-id":514},)"
    R"({"name":"partitions","type":["null",{"type":"array","element-id":508,"items":)"
    R"({"type":"record","name":"r508","fields":[)"
    R"({"name":"contains_null","type":"boolean","field-id":509},)"
    R"({"name":"contains_nan","type":["null","boolean"],"default":null,"field-id":518},)"
    R"({"name":"lower_bound","type":["null","bytes"],"default":null,"field-id":510},)"
    R"({"name":"upper_bound","type":["null","bytes"],"default":null,"field-id":511}]}}],)"
    R"("default":null,"field-id":507}]})";

enum EntryStatus { kExisting = 0, kAdded = 1, kDeleted = 2 };

struct ManifestEntry {
  int status = kAdded;
  int64_t snapshot_id = 0;
  int64_t sequence_number = 0;
  int64_t file_sequence_number = 0;
  DataFile file;
};

struct ManifestRef {
  std::string path;  // URI
  int64_t length = 0;
  int64_t sequence_number = 0;
  int64_t min_sequence_number = 0;
  int64_t added_snapshot_id = 0;
  int32_t added_files = 0, existing_files = 0, deleted_files = 0;
  int64_t added_rows = 0, existing_rows = 0, deleted_rows = 0;
  bool partitioned = false;
  bool contains_null = false;
  std::optional<int32_t> lower, upper;
};

avro::Value KvLongs(const std::map<int32_t, int64_t>& m) {
  if (m.empty()) return avro::Value::Null();
  std::vector<avro::Value> items;
  for (const auto& [k, v] : m) {
    items.push_back(avro::Value::Record({avro::Value::Int(k), avro::Value::Long(v)}));
  }
  return avro::Value::Array(std::move(items));
}

avro::Value KvBytes(const std::map<int32_t, std::string>& m) {
  if (m.empty()) return avro::Value::Null();
  std::vector<avro::Value> items;
  for (const auto& [k, v] : m) {
    items.push_back(avro::Value::Record({avro::Value::Int(k), avro::Value::Bytes(v)}));
  }
  return avro::Value::Array(std::move(items));
}

// Reads field `name` of a record value; Corruption when the schema lacks it.
Result<const avro::Value*> Get(const avro::Schema& schema, const avro::Value& record,
                               std::string_view name) {
  int i = avro::FieldIndex(schema, name);
  if (i < 0 || static_cast<size_t>(i) >= record.items.size()) {
    return Status::Corruption("manifest record has no field '" + std::string(name) + "'");
  }
  return &record.items[static_cast<size_t>(i)];
}

const avro::Schema* FieldSchema(const avro::Schema& record, std::string_view name) {
  int i = avro::FieldIndex(record, name);
  if (i < 0) return nullptr;
  const avro::Schema* s = record.fields[static_cast<size_t>(i)].schema.get();
  if (s->type == avro::Type::kUnion) {
    for (const auto& b : s->branches) {
      if (b->type != avro::Type::kNull) return b.get();
    }
  }
  return s;
}

Status ReadKv(const avro::Value* v, std::map<int32_t, int64_t>& out) {
  if (v->type == avro::Type::kNull) return Status::Ok();
  if (v->type != avro::Type::kArray) return Status::Corruption("manifest map is not an array");
  for (const auto& kv : v->items) {
    if (kv.items.size() != 2) return Status::Corruption("manifest map entry is not key/value");
    out[static_cast<int32_t>(kv.items[0].i)] = kv.items[1].i;
  }
  return Status::Ok();
}

Status ReadKv(const avro::Value* v, std::map<int32_t, std::string>& out) {
  if (v->type == avro::Type::kNull) return Status::Ok();
  if (v->type != avro::Type::kArray) return Status::Corruption("manifest map is not an array");
  for (const auto& kv : v->items) {
    if (kv.items.size() != 2) return Status::Corruption("manifest map entry is not key/value");
    out[static_cast<int32_t>(kv.items[0].i)] = kv.items[1].s;
  }
  return Status::Ok();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The table

namespace {

struct TableFiles {
  std::string dir;       // table directory
  std::string location;  // URI of dir

  std::string ToUri(std::string_view relative) const {
    return location + "/" + std::string(relative);
  }
  std::string ToRelative(const std::string& uri) const {
    if (uri.size() > location.size() + 1 && uri.compare(0, location.size(), location) == 0 &&
        uri[location.size()] == '/') {
      return uri.substr(location.size() + 1);
    }
    return uri;
  }
  // The local path of a URI under the table location. Anything else (another directory, a
  // ".." segment) is Corruption: a damaged or planted metadata file must not make the table
  // read, or expiry delete, files outside its directory.
  Result<std::string> ToLocal(const std::string& uri) const {
    std::string rel = ToRelative(uri);
    if (rel == uri || !IsSafeRelative(rel)) {
      return Status::Corruption("'" + uri + "' is not a file under the table location " + location);
    }
    return dir + "/" + rel;
  }
  static bool IsSafeRelative(std::string_view rel) {
    if (rel.empty() || rel.front() == '/') return false;
    for (size_t start = 0; start <= rel.size();) {
      size_t end = rel.find('/', start);
      if (end == std::string_view::npos) end = rel.size();
      std::string_view seg = rel.substr(start, end - start);
      if (seg.empty() || seg == "." || seg == "..") return false;
      start = end + 1;
    }
    return true;
  }
};

Status WriteManifest(const TableFiles& tf, const IcebergTable::Metadata& m,
                     const std::vector<ManifestEntry>& entries, int64_t snapshot_id,
                     int64_t sequence_number, const std::string& relative_path, ManifestRef& ref) {
  std::vector<std::pair<std::string, std::string>> kv = {
      {"schema", SchemaToJson(m.CurrentSchema()).dump()},
      {"schema-id", std::to_string(m.current_schema_id)},
      {"partition-spec", PartitionSpecJson(m)["fields"].dump()},
      {"partition-spec-id", "0"},
      {"format-version", "2"},
      {"content", "data"},
  };
  SLUICE_ASSIGN_OR_RETURN(auto writer,
                          avro::AvroWriter::Create(ManifestEntrySchema(m.hour_source), kv));
  ref = ManifestRef{};
  ref.path = tf.ToUri(relative_path);
  ref.sequence_number = sequence_number;
  ref.min_sequence_number = sequence_number;
  ref.added_snapshot_id = snapshot_id;
  ref.partitioned = !m.hour_source.empty();
  for (const auto& e : entries) {
    const DataFile& f = e.file;
    std::vector<avro::Value> partition;
    if (ref.partitioned) {
      partition.push_back(f.partition_hour ? avro::Value::Int(*f.partition_hour)
                                           : avro::Value::Null());
      if (!f.partition_hour) {
        ref.contains_null = true;
      } else {
        if (!ref.lower || *f.partition_hour < *ref.lower) ref.lower = f.partition_hour;
        if (!ref.upper || *f.partition_hour > *ref.upper) ref.upper = f.partition_hour;
      }
    }
    avro::Value data_file = avro::Value::Record({
        avro::Value::Int(0),
        avro::Value::String(tf.ToUri(f.path)),
        avro::Value::String("PARQUET"),
        avro::Value::Record(std::move(partition)),
        avro::Value::Long(f.record_count),
        avro::Value::Long(f.file_size_in_bytes),
        KvLongs(f.stats.column_sizes),
        KvLongs(f.stats.value_counts),
        KvLongs(f.stats.null_value_counts),
        KvBytes(f.stats.lower_bounds),
        KvBytes(f.stats.upper_bounds),
    });
    bool added = e.status == kAdded;
    SLUICE_RETURN_IF_ERROR(writer->Append(avro::Value::Record({
        avro::Value::Int(e.status),
        avro::Value::Long(e.snapshot_id),
        added ? avro::Value::Null() : avro::Value::Long(e.sequence_number),
        added ? avro::Value::Null() : avro::Value::Long(e.file_sequence_number),
        std::move(data_file),
    })));
    if (!added) ref.min_sequence_number = std::min(ref.min_sequence_number, e.sequence_number);
    switch (e.status) {
      case kAdded:
        ++ref.added_files;
        ref.added_rows += f.record_count;
        break;
      case kExisting:
        ++ref.existing_files;
        ref.existing_rows += f.record_count;
        break;
      default:
        ++ref.deleted_files;
        ref.deleted_rows += f.record_count;
        break;
    }
  }
  std::string bytes = writer->Finish();
  ref.length = static_cast<int64_t>(bytes.size());
  return WriteNewFileDurable(tf.dir + "/" + relative_path, bytes);
}

Result<std::vector<ManifestEntry>> ReadManifest(const TableFiles& tf, const ManifestRef& ref) {
  std::string bytes;
  SLUICE_ASSIGN_OR_RETURN(std::string local, tf.ToLocal(ref.path));
  SLUICE_RETURN_IF_ERROR(ReadWholeFile(local, bytes));
  auto file = avro::ReadAvroContainer(bytes);
  if (!file.ok())
    return Status::Corruption("manifest " + ref.path + ": " + file.status().message());
  const avro::Schema& s = *file->schema;
  const avro::Schema* df = FieldSchema(s, "data_file");
  if (df == nullptr || df->type != avro::Type::kRecord) {
    return Status::Corruption("manifest " + ref.path + " has no data_file record");
  }
  const avro::Schema* ps = FieldSchema(*df, "partition");
  std::vector<ManifestEntry> out;
  for (const avro::Value& r : file->records) {
    ManifestEntry e;
    SLUICE_ASSIGN_OR_RETURN(const avro::Value* status, Get(s, r, "status"));
    SLUICE_ASSIGN_OR_RETURN(const avro::Value* snap, Get(s, r, "snapshot_id"));
    SLUICE_ASSIGN_OR_RETURN(const avro::Value* seq, Get(s, r, "sequence_number"));
    SLUICE_ASSIGN_OR_RETURN(const avro::Value* fseq, Get(s, r, "file_sequence_number"));
    SLUICE_ASSIGN_OR_RETURN(const avro::Value* d, Get(s, r, "data_file"));
    e.status = static_cast<int>(status->i);
    if (e.status < kExisting || e.status > kDeleted) {
      return Status::Corruption("manifest " + ref.path + ": bad entry status");
    }
    // Inheritance: null ids and sequence numbers come from the manifest's list entry.
    e.snapshot_id = snap->type == avro::Type::kNull ? ref.added_snapshot_id : snap->i;
    e.sequence_number = seq->type == avro::Type::kNull ? ref.sequence_number : seq->i;
    e.file_sequence_number = fseq->type == avro::Type::kNull ? ref.sequence_number : fseq->i;
    SLUICE_ASSIGN_OR_RETURN(const avro::Value* content, Get(*df, *d, "content"));
    if (content->i != 0) return Status::InvalidArgument("delete files are not supported");
    SLUICE_ASSIGN_OR_RETURN(const avro::Value* path, Get(*df, *d, "file_path"));
    SLUICE_ASSIGN_OR_RETURN(const avro::Value* rc, Get(*df, *d, "record_count"));
    SLUICE_ASSIGN_OR_RETURN(const avro::Value* size, Get(*df, *d, "file_size_in_bytes"));
    SLUICE_ASSIGN_OR_RETURN(const avro::Value* part, Get(*df, *d, "partition"));
    e.file.path = tf.ToRelative(path->s);
    e.file.record_count = rc->i;
    e.file.file_size_in_bytes = size->i;
    if (ps != nullptr && !part->items.empty() && part->items[0].type == avro::Type::kInt) {
      e.file.partition_hour = static_cast<int32_t>(part->items[0].i);
    }
    DataFileStats& st = e.file.stats;
    const std::pair<const char*, std::map<int32_t, int64_t>*> longs[] = {
        {"column_sizes", &st.column_sizes},
        {"value_counts", &st.value_counts},
        {"null_value_counts", &st.null_value_counts}};
    for (const auto& [name, target] : longs) {
      if (avro::FieldIndex(*df, name) < 0) continue;
      SLUICE_ASSIGN_OR_RETURN(const avro::Value* v, Get(*df, *d, name));
      SLUICE_RETURN_IF_ERROR(ReadKv(v, *target));
    }
    const std::pair<const char*, std::map<int32_t, std::string>*> bounds[] = {
        {"lower_bounds", &st.lower_bounds}, {"upper_bounds", &st.upper_bounds}};
    for (const auto& [name, target] : bounds) {
      if (avro::FieldIndex(*df, name) < 0) continue;
      SLUICE_ASSIGN_OR_RETURN(const avro::Value* v, Get(*df, *d, name));
      SLUICE_RETURN_IF_ERROR(ReadKv(v, *target));
    }
    out.push_back(std::move(e));
  }
  return out;
}

Status WriteManifestList(const std::vector<ManifestRef>& refs, const Snapshot& snap,
                         const std::string& local_path) {
  std::vector<std::pair<std::string, std::string>> kv = {
      {"snapshot-id", std::to_string(snap.snapshot_id)},
      {"parent-snapshot-id",
       snap.parent_snapshot_id ? std::to_string(*snap.parent_snapshot_id) : "null"},
      {"sequence-number", std::to_string(snap.sequence_number)},
      {"format-version", "2"},
  };
  SLUICE_ASSIGN_OR_RETURN(auto writer, avro::AvroWriter::Create(kManifestListSchema, kv));
  for (const auto& r : refs) {
    avro::Value partitions = avro::Value::Null();
    if (r.partitioned) {
      auto bound = [](std::optional<int32_t> b) {
        return b ? avro::Value::Bytes(SingleInt(*b)) : avro::Value::Null();
      };
      partitions = avro::Value::Array({avro::Value::Record({
          avro::Value::Boolean(r.contains_null),
          avro::Value::Null(),
          bound(r.lower),
          bound(r.upper),
      })});
    }
    SLUICE_RETURN_IF_ERROR(writer->Append(avro::Value::Record({
        avro::Value::String(r.path),
        avro::Value::Long(r.length),
        avro::Value::Int(0),
        avro::Value::Int(0),
        avro::Value::Long(r.sequence_number),
        avro::Value::Long(r.min_sequence_number),
        avro::Value::Long(r.added_snapshot_id),
        avro::Value::Int(r.added_files),
        avro::Value::Int(r.existing_files),
        avro::Value::Int(r.deleted_files),
        avro::Value::Long(r.added_rows),
        avro::Value::Long(r.existing_rows),
        avro::Value::Long(r.deleted_rows),
        std::move(partitions),
    })));
  }
  return WriteNewFileDurable(local_path, writer->Finish());
}

Result<std::vector<ManifestRef>> ReadManifestList(const TableFiles& tf, const Snapshot& snap) {
  std::string bytes;
  SLUICE_ASSIGN_OR_RETURN(std::string local, tf.ToLocal(snap.manifest_list));
  SLUICE_RETURN_IF_ERROR(ReadWholeFile(local, bytes));
  auto file = avro::ReadAvroContainer(bytes);
  if (!file.ok()) {
    return Status::Corruption("manifest list " + snap.manifest_list + ": " +
                              file.status().message());
  }
  const avro::Schema& s = *file->schema;
  std::vector<ManifestRef> out;
  for (const avro::Value& r : file->records) {
    ManifestRef ref;
    const std::pair<const char*, int64_t*> longs[] = {
        {"manifest_length", &ref.length},
        {"sequence_number", &ref.sequence_number},
        {"min_sequence_number", &ref.min_sequence_number},
        {"added_snapshot_id", &ref.added_snapshot_id},
        {"added_rows_count", &ref.added_rows},
        {"existing_rows_count", &ref.existing_rows},
        {"deleted_rows_count", &ref.deleted_rows}};
    for (const auto& [name, target] : longs) {
      SLUICE_ASSIGN_OR_RETURN(const avro::Value* v, Get(s, r, name));
      *target = v->i;
    }
    const std::pair<const char*, int32_t*> ints[] = {{"added_files_count", &ref.added_files},
                                                     {"existing_files_count", &ref.existing_files},
                                                     {"deleted_files_count", &ref.deleted_files}};
    for (const auto& [name, target] : ints) {
      SLUICE_ASSIGN_OR_RETURN(const avro::Value* v, Get(s, r, name));
      *target = static_cast<int32_t>(v->i);
    }
    SLUICE_ASSIGN_OR_RETURN(const avro::Value* path, Get(s, r, "manifest_path"));
    SLUICE_ASSIGN_OR_RETURN(const avro::Value* content, Get(s, r, "content"));
    if (content->i != 0) return Status::InvalidArgument("delete manifests are not supported");
    ref.path = path->s;
    SLUICE_ASSIGN_OR_RETURN(const avro::Value* parts, Get(s, r, "partitions"));
    if (parts->type == avro::Type::kArray && !parts->items.empty() &&
        parts->items[0].items.size() == 4) {
      const avro::Value& summary = parts->items[0];
      ref.partitioned = true;
      ref.contains_null = summary.items[0].b;
      if (summary.items[2].type == avro::Type::kBytes) {
        SLUICE_ASSIGN_OR_RETURN(int32_t lo, ParseSingleInt(summary.items[2].s));
        ref.lower = lo;
      }
      if (summary.items[3].type == avro::Type::kBytes) {
        SLUICE_ASSIGN_OR_RETURN(int32_t hi, ParseSingleInt(summary.items[3].s));
        ref.upper = hi;
      }
    }
    out.push_back(std::move(ref));
  }
  return out;
}

}  // namespace

IcebergTable::IcebergTable(std::string dir, Clock& clock) : dir_(std::move(dir)), clock_(clock) {}
IcebergTable::~IcebergTable() = default;

const std::string& IcebergTable::location() const {
  return meta_->location;
}
const IcebergSchema& IcebergTable::schema() const {
  return meta_->CurrentSchema();
}
const std::vector<IcebergSchema>& IcebergTable::schemas() const {
  return meta_->schemas;
}
const std::string& IcebergTable::hour_partition_source() const {
  return meta_->hour_source;
}
const std::map<std::string, std::string>& IcebergTable::properties() const {
  return meta_->properties;
}
const std::vector<Snapshot>& IcebergTable::snapshots() const {
  return meta_->snapshots;
}

std::optional<Snapshot> IcebergTable::CurrentSnapshot() const {
  const Snapshot* s = meta_->Current();
  if (s == nullptr) return std::nullopt;
  return *s;
}

Result<Snapshot> IcebergTable::SnapshotById(int64_t snapshot_id) const {
  for (const auto& s : meta_->snapshots) {
    if (s.snapshot_id == snapshot_id) return s;
  }
  return Status::NotFound("no snapshot " + std::to_string(snapshot_id) + " (expired or unknown)");
}

Result<Snapshot> IcebergTable::SnapshotAsOf(int64_t timestamp_ms) const {
  std::optional<int64_t> id;
  for (const auto& [ts, sid] : meta_->snapshot_log) {
    if (ts > timestamp_ms) break;
    id = sid;
  }
  if (!id) {
    return Status::NotFound("no snapshot at or before " + std::to_string(timestamp_ms) +
                            " ms since the epoch (none yet, or expired)");
  }
  return SnapshotById(*id);
}

std::string IcebergTable::DataPath(std::optional<int32_t> hour, std::string_view file_name) const {
  if (meta_->hour_source.empty() || !hour) return "data/" + std::string(file_name);
  return "data/" + meta_->hour_source + "_hour=" + HourToString(*hour) + "/" +
         std::string(file_name);
}

Result<std::unique_ptr<IcebergTable>> IcebergTable::Create(const std::string& root,
                                                           const std::string& name,
                                                           const IcebergTableSpec& spec,
                                                           Clock& clock) {
  // Names go into URIs unescaped: letters, digits, '_', '-' and '.' only.
  const bool name_ok = !name.empty() && name != "." && name != ".." &&
                       std::all_of(name.begin(), name.end(), [](char c) {
                         return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
                       });
  if (!name_ok) {
    return Status::InvalidArgument("bad table name '" + name +
                                   "' (letters, digits, '_', '-' and '.' only)");
  }
  if (spec.fields.empty()) return Status::InvalidArgument("a table needs at least one field");
  auto m = std::make_unique<Metadata>();
  IcebergSchema schema;
  std::set<std::string> names;
  for (const auto& f : spec.fields) {
    if (f.name.empty() || !names.insert(f.name).second) {
      return Status::InvalidArgument("field names must be non-empty and unique: '" + f.name + "'");
    }
    IcebergField field = f;
    field.id = static_cast<int32_t>(schema.fields.size()) + 1;
    schema.fields.push_back(std::move(field));
  }
  if (!spec.hour_partition_source.empty()) {
    const IcebergField* src = schema.Find(spec.hour_partition_source);
    if (src == nullptr || src->type.id != IcebergTypeId::kTimestamptz) {
      return Status::InvalidArgument("the hour() partition source '" + spec.hour_partition_source +
                                     "' must be a timestamptz field of the table");
    }
  }
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return Status::IOError("create " + root + ": " + ec.message());
  std::string dir = fs::absolute(fs::path(root) / name, ec).lexically_normal().string();
  if (ec) return Status::IOError("resolve " + root + ": " + ec.message());
  if (fs::exists(dir + "/metadata/version-hint.text", ec)) {
    return Status::AlreadyExists("a table already exists at " + dir);
  }
  for (const char* sub : {"/metadata", "/data"}) {
    fs::create_directories(dir + sub, ec);
    if (ec) return Status::IOError("create " + dir + sub + ": " + ec.message());
  }
  m->uuid = NewUuid();
  m->location = "file://" + dir;
  m->last_updated_ms = clock.NowMicros() / kMicrosPerMilli;
  m->last_column_id = static_cast<int32_t>(schema.fields.size());
  m->schemas.push_back(std::move(schema));
  m->hour_source = spec.hour_partition_source;
  m->properties = spec.properties;
  std::unique_ptr<IcebergTable> table(new IcebergTable(dir, clock));
  table->meta_ = std::make_unique<Metadata>();  // version 0: nothing yet
  *table->meta_ = *m;
  CommitLock lock;
  SLUICE_RETURN_IF_ERROR(lock.Acquire(dir + "/metadata/commit.lock"));
  if (fs::exists(HintPath(dir), ec))
    return Status::AlreadyExists("a table already exists at " + dir);
  SLUICE_RETURN_IF_ERROR(table->Publish(*m));
  return table;
}

Result<std::unique_ptr<IcebergTable>> IcebergTable::Open(const std::string& root,
                                                         const std::string& name, Clock& clock) {
  std::error_code ec;
  std::string dir = fs::absolute(fs::path(root) / name, ec).lexically_normal().string();
  if (ec) return Status::IOError("resolve " + root + ": " + ec.message());
  auto version = ReadVersionHint(dir);
  if (!version.ok()) {
    if (version.status().code() == StatusCode::kIOError && !fs::exists(HintPath(dir), ec)) {
      return Status::NotFound("no iceberg table at " + dir);
    }
    return version.status();
  }
  std::string path = dir + "/metadata/" + MetadataFileName(*version);
  std::string text;
  SLUICE_RETURN_IF_ERROR(ReadWholeFile(path, text));
  SLUICE_ASSIGN_OR_RETURN(Metadata m, MetadataFromJson(text, path));
  std::unique_ptr<IcebergTable> table(new IcebergTable(dir, clock));
  table->version_ = *version;
  table->meta_ = std::make_unique<Metadata>(std::move(m));
  return table;
}

// Writes `next` as the next version and makes it current (the caller holds the commit lock
// and has checked that version-hint.text still names version_).
Status IcebergTable::Publish(Metadata& next) {
  const std::string meta_dir = dir_ + "/metadata";
  int64_t now_ms = clock_.NowMicros() / kMicrosPerMilli;
  next.last_updated_ms = std::max(now_ms, meta_->last_updated_ms);
  std::vector<std::string> dropped_metadata;  // URIs pruned from the metadata log
  if (version_ > 0) {
    next.metadata_log.emplace_back(meta_->last_updated_ms,
                                   next.location + "/metadata/" + MetadataFileName(version_));
    const size_t keep = static_cast<size_t>(
        std::max<int64_t>(1, PropertyLong(next.properties, "write.metadata.previous-versions-max",
                                          kDefaultPreviousVersionsMax)));
    while (next.metadata_log.size() > keep) {
      dropped_metadata.push_back(next.metadata_log.front().second);
      next.metadata_log.erase(next.metadata_log.begin());
    }
  }
  const std::string text = MetadataToJson(next);
  // Temporary names end in ".tmp" so that readers that list *.metadata.json never see them.
  const std::string tmp = meta_dir + "/.metadata-" + NewUuid() + ".tmp";
  SLUICE_RETURN_IF_ERROR(WriteNewFileDurable(tmp, text));
  // link() never replaces an existing name: a version left by a failed commit is skipped.
  int64_t version = version_ + 1;
  for (int probe = 0;; ++probe, ++version) {
    if (probe == kMaxVersionProbe) {
      ::unlink(tmp.c_str());
      return Status::FailedPrecondition("no free metadata version after " +
                                        std::to_string(version_));
    }
    std::string final_path = meta_dir + "/" + MetadataFileName(version);
    if (::link(tmp.c_str(), final_path.c_str()) == 0) break;
    if (errno != EEXIST) {
      int err = errno;
      ::unlink(tmp.c_str());
      return Status::FromErrno("link " + final_path, err);
    }
  }
  ::unlink(tmp.c_str());
  SLUICE_RETURN_IF_ERROR(SyncDir(meta_dir));
  SLUICE_RETURN_IF_ERROR(Fault(CommitPoint::kAfterMetadataFile));

  const std::string hint_tmp = meta_dir + "/.version-hint-" + NewUuid() + ".tmp";
  SLUICE_RETURN_IF_ERROR(WriteNewFileDurable(hint_tmp, std::to_string(version) + "\n"));
  if (::rename(hint_tmp.c_str(), HintPath(dir_).c_str()) != 0) {
    int err = errno;
    ::unlink(hint_tmp.c_str());
    return Status::FromErrno("rename " + hint_tmp, err);
  }
  SLUICE_RETURN_IF_ERROR(SyncDir(meta_dir));
  version_ = version;
  *meta_ = next;
  // As Iceberg's writers do, only when asked: metadata files that left the log go.
  if (PropertyBool(next.properties, "write.metadata.delete-after-commit.enabled", false)) {
    const TableFiles tf{dir_, next.location};
    for (const auto& uri : dropped_metadata) {
      auto local = tf.ToLocal(uri);
      if (local.ok()) ::unlink(local->c_str());
    }
  }
  return Fault(CommitPoint::kAfterVersionHint);
}

namespace {

Status CheckCurrent(const std::string& dir, int64_t version) {
  SLUICE_ASSIGN_OR_RETURN(int64_t on_disk, ReadVersionHint(dir));
  if (on_disk != version) {
    return Status::FailedPrecondition("the table moved to version " + std::to_string(on_disk) +
                                      " (this object is at " + std::to_string(version) +
                                      "): open it again and retry");
  }
  return Status::Ok();
}

int64_t SummaryLong(const std::map<std::string, std::string>& s, const char* key) {
  auto it = s.find(key);
  return it == s.end() ? 0 : std::strtoll(it->second.c_str(), nullptr, 10);
}

}  // namespace

Result<Snapshot> IcebergTable::Commit(const AppendFiles& change) {
  if (change.added.empty() && change.deleted.empty()) {
    return Status::InvalidArgument("a commit must add or delete at least one data file");
  }
  static const std::set<std::string> kReserved = {"operation",
                                                  "added-data-files",
                                                  "deleted-data-files",
                                                  "added-records",
                                                  "deleted-records",
                                                  "total-data-files",
                                                  "total-records",
                                                  "added-files-size",
                                                  "removed-files-size",
                                                  "total-files-size",
                                                  "total-delete-files",
                                                  "total-position-deletes",
                                                  "total-equality-deletes"};
  for (const auto& [k, v] : change.summary) {
    if (kReserved.count(k)) return Status::InvalidArgument("summary key '" + k + "' is reserved");
  }
  std::set<std::string> added_paths;
  for (const auto& f : change.added) {
    if (!TableFiles::IsSafeRelative(f.path)) {
      return Status::InvalidArgument("data file path '" + f.path +
                                     "' must be relative to the table directory");
    }
    if (!added_paths.insert(f.path).second) {
      return Status::InvalidArgument("data file '" + f.path + "' added twice");
    }
    if (f.record_count < 0 || f.file_size_in_bytes < 0) {
      return Status::InvalidArgument("data file '" + f.path + "' has a negative count or size");
    }
    if (f.partition_hour && meta_->hour_source.empty()) {
      return Status::InvalidArgument("data file '" + f.path +
                                     "' has a partition value but the table is unpartitioned");
    }
  }
  std::set<std::string> deleted(change.deleted.begin(), change.deleted.end());
  if (deleted.size() != change.deleted.size()) {
    return Status::InvalidArgument("a data file is deleted twice");
  }

  CommitLock lock;
  SLUICE_RETURN_IF_ERROR(lock.Acquire(dir_ + "/metadata/commit.lock"));
  SLUICE_RETURN_IF_ERROR(CheckCurrent(dir_, version_));

  const TableFiles tf{dir_, meta_->location};
  const Snapshot* parent = meta_->Current();
  std::vector<ManifestRef> parent_refs;
  if (parent != nullptr) {
    SLUICE_ASSIGN_OR_RETURN(parent_refs, ReadManifestList(tf, *parent));
  }

  Snapshot snap;
  snap.snapshot_id = NewSnapshotId();
  if (parent != nullptr) snap.parent_snapshot_id = parent->snapshot_id;
  snap.sequence_number = meta_->last_sequence_number + 1;
  snap.timestamp_ms = clock_.NowMicros() / kMicrosPerMilli;
  if (!meta_->snapshots.empty()) {
    snap.timestamp_ms = std::max(snap.timestamp_ms, meta_->snapshots.back().timestamp_ms);
  }
  snap.schema_id = meta_->current_schema_id;

  // Manifests that hold a deleted file are rewritten: the file as DELETED, the rest as
  // EXISTING; the others are carried over as they are.
  const std::string uuid = NewUuid();
  int manifest_count = 0;
  auto next_manifest = [&] {
    return "metadata/" + uuid + "-m" + std::to_string(manifest_count++) + ".avro";
  };
  std::vector<ManifestRef> refs;
  std::vector<std::pair<ManifestRef, std::vector<ManifestEntry>>> rewrites;
  std::set<std::string> found;
  int64_t deleted_records = 0, deleted_bytes = 0;
  // A path already live in the table must not be added again (a replayed commit would count
  // its rows twice). Only manifests whose partition range can hold an added file are read.
  auto may_hold_added = [&](const ManifestRef& ref) {
    if (!ref.partitioned) return true;
    for (const auto& f : change.added) {
      if (!f.partition_hour ? ref.contains_null
                            : ref.lower && ref.upper && *f.partition_hour >= *ref.lower &&
                                  *f.partition_hour <= *ref.upper) {
        return true;
      }
    }
    return false;
  };
  for (const auto& ref : parent_refs) {
    if (deleted.empty() && !may_hold_added(ref)) {
      refs.push_back(ref);
      continue;
    }
    SLUICE_ASSIGN_OR_RETURN(std::vector<ManifestEntry> entries, ReadManifest(tf, ref));
    bool touched = false;
    for (const auto& e : entries) {
      if (e.status != kDeleted && deleted.count(e.file.path)) touched = true;
      if (e.status != kDeleted && added_paths.count(e.file.path)) {
        return Status::InvalidArgument("data file '" + e.file.path + "' is already in the table");
      }
    }
    if (!touched) {
      refs.push_back(ref);
      continue;
    }
    std::vector<ManifestEntry> rewritten;
    for (auto& e : entries) {
      if (e.status == kDeleted) continue;
      if (deleted.count(e.file.path)) {
        found.insert(e.file.path);
        deleted_records += e.file.record_count;
        deleted_bytes += e.file.file_size_in_bytes;
        e.status = kDeleted;
        e.snapshot_id = snap.snapshot_id;
      } else {
        e.status = kExisting;
      }
      rewritten.push_back(std::move(e));
    }
    rewrites.emplace_back(ref, std::move(rewritten));
  }
  if (found.size() != deleted.size()) {
    for (const auto& p : deleted) {
      if (!found.count(p)) {
        return Status::InvalidArgument("data file '" + p + "' is not live in the table");
      }
    }
  }

  std::vector<ManifestRef> new_refs;
  int64_t added_records = 0, added_bytes = 0;
  if (!change.added.empty()) {
    std::vector<ManifestEntry> entries;
    for (const auto& f : change.added) {
      ManifestEntry e;
      e.status = kAdded;
      e.snapshot_id = snap.snapshot_id;
      e.file = f;
      added_records += f.record_count;
      added_bytes += f.file_size_in_bytes;
      entries.push_back(std::move(e));
    }
    ManifestRef ref;
    SLUICE_RETURN_IF_ERROR(WriteManifest(tf, *meta_, entries, snap.snapshot_id,
                                         snap.sequence_number, next_manifest(), ref));
    new_refs.push_back(std::move(ref));
  }
  for (auto& [old_ref, entries] : rewrites) {
    ManifestRef ref;
    SLUICE_RETURN_IF_ERROR(WriteManifest(tf, *meta_, entries, snap.snapshot_id,
                                         snap.sequence_number, next_manifest(), ref));
    new_refs.push_back(std::move(ref));
  }
  // Past commit.manifest.min-count-to-merge manifests, the carried-over ones are merged into
  // one (their live entries as EXISTING, sequence numbers kept), so that the manifest list
  // and the reads of a snapshot stay small however many appends the table has seen.
  const int64_t merge_at = PropertyLong(meta_->properties, "commit.manifest.min-count-to-merge",
                                        kDefaultMinCountToMerge);
  if (PropertyBool(meta_->properties, "commit.manifest-merge.enabled", true) && refs.size() > 1 &&
      static_cast<int64_t>(new_refs.size() + refs.size()) > merge_at) {
    std::vector<ManifestEntry> merged;
    for (const auto& ref : refs) {
      SLUICE_ASSIGN_OR_RETURN(std::vector<ManifestEntry> entries, ReadManifest(tf, ref));
      for (auto& e : entries) {
        if (e.status == kDeleted) continue;
        e.status = kExisting;
        merged.push_back(std::move(e));
      }
    }
    refs.clear();
    if (!merged.empty()) {
      ManifestRef ref;
      SLUICE_RETURN_IF_ERROR(WriteManifest(tf, *meta_, merged, snap.snapshot_id,
                                           snap.sequence_number, next_manifest(), ref));
      refs.push_back(std::move(ref));
    }
  }
  new_refs.insert(new_refs.end(), refs.begin(), refs.end());

  const std::string list_rel =
      "metadata/snap-" + std::to_string(snap.snapshot_id) + "-1-" + uuid + ".avro";
  snap.manifest_list = tf.ToUri(list_rel);

  std::map<std::string, std::string>& sum = snap.summary;
  sum = change.summary;
  sum["operation"] = change.deleted.empty() ? "append"
                     : change.added.empty() ? "delete"
                                            : "overwrite";
  const std::map<std::string, std::string> empty;
  const auto& prev = parent != nullptr ? parent->summary : empty;
  auto put = [&](const char* key, int64_t v) { sum[key] = std::to_string(v); };
  if (!change.added.empty()) {
    put("added-data-files", static_cast<int64_t>(change.added.size()));
    put("added-records", added_records);
    put("added-files-size", added_bytes);
  }
  if (!change.deleted.empty()) {
    put("deleted-data-files", static_cast<int64_t>(change.deleted.size()));
    put("deleted-records", deleted_records);
    put("removed-files-size", deleted_bytes);
  }
  put("total-data-files", SummaryLong(prev, "total-data-files") +
                              static_cast<int64_t>(change.added.size()) -
                              static_cast<int64_t>(change.deleted.size()));
  put("total-records", SummaryLong(prev, "total-records") + added_records - deleted_records);
  put("total-files-size", SummaryLong(prev, "total-files-size") + added_bytes - deleted_bytes);
  put("total-delete-files", 0);
  put("total-position-deletes", 0);
  put("total-equality-deletes", 0);

  SLUICE_RETURN_IF_ERROR(WriteManifestList(new_refs, snap, dir_ + "/" + list_rel));
  SLUICE_RETURN_IF_ERROR(Fault(CommitPoint::kAfterManifests));

  Metadata next = *meta_;
  next.last_sequence_number = snap.sequence_number;
  next.current_snapshot_id = snap.snapshot_id;
  next.snapshots.push_back(snap);
  next.snapshot_log.emplace_back(snap.timestamp_ms, snap.snapshot_id);
  SLUICE_RETURN_IF_ERROR(Publish(next));
  return snap;
}

Status IcebergTable::AddOptionalField(const std::string& name, const IcebergType& type) {
  if (name.empty()) return Status::InvalidArgument("a field needs a name");
  if (meta_->CurrentSchema().Find(name) != nullptr) {
    return Status::AlreadyExists("the table already has a field '" + name + "'");
  }
  CommitLock lock;
  SLUICE_RETURN_IF_ERROR(lock.Acquire(dir_ + "/metadata/commit.lock"));
  SLUICE_RETURN_IF_ERROR(CheckCurrent(dir_, version_));
  Metadata next = *meta_;
  IcebergSchema schema = next.CurrentSchema();
  int32_t max_id = 0;
  for (const auto& s : next.schemas) max_id = std::max(max_id, s.schema_id);
  schema.schema_id = max_id + 1;
  schema.fields.push_back({++next.last_column_id, name, type, false});
  next.current_schema_id = schema.schema_id;
  next.schemas.push_back(std::move(schema));
  return Publish(next);
}

Result<std::vector<DataFileEntry>> IcebergTable::LiveFiles(const Snapshot& snapshot) const {
  const TableFiles tf{dir_, meta_->location};
  SLUICE_ASSIGN_OR_RETURN(std::vector<ManifestRef> refs, ReadManifestList(tf, snapshot));
  std::vector<DataFileEntry> out;
  for (const auto& ref : refs) {
    SLUICE_ASSIGN_OR_RETURN(std::vector<ManifestEntry> entries, ReadManifest(tf, ref));
    for (auto& e : entries) {
      if (e.status == kDeleted) continue;
      out.push_back({std::move(e.file), e.snapshot_id, e.sequence_number});
    }
  }
  return out;
}

Result<std::vector<DataFileEntry>> IcebergTable::LiveFilesForHours(const Snapshot& snapshot,
                                                                   int32_t first_hour,
                                                                   int32_t last_hour) const {
  const TableFiles tf{dir_, meta_->location};
  SLUICE_ASSIGN_OR_RETURN(std::vector<ManifestRef> refs, ReadManifestList(tf, snapshot));
  std::vector<DataFileEntry> out;
  for (const auto& ref : refs) {
    if (ref.partitioned && !ref.contains_null &&
        (!ref.lower || !ref.upper || *ref.upper < first_hour || *ref.lower > last_hour)) {
      continue;
    }
    SLUICE_ASSIGN_OR_RETURN(std::vector<ManifestEntry> entries, ReadManifest(tf, ref));
    for (auto& e : entries) {
      if (e.status == kDeleted) continue;
      const auto& hour = e.file.partition_hour;
      if (hour && (*hour < first_hour || *hour > last_hour)) continue;
      out.push_back({std::move(e.file), e.snapshot_id, e.sequence_number});
    }
  }
  return out;
}

Result<int> IcebergTable::ExpireSnapshots(int64_t older_than_ms) {
  return ExpireSnapshots(
      [older_than_ms](const Snapshot& s) { return s.timestamp_ms >= older_than_ms; });
}

Result<int> IcebergTable::ExpireSnapshots(const std::function<bool(const Snapshot&)>& keep) {
  CommitLock lock;
  SLUICE_RETURN_IF_ERROR(lock.Acquire(dir_ + "/metadata/commit.lock"));
  SLUICE_RETURN_IF_ERROR(CheckCurrent(dir_, version_));
  const TableFiles tf{dir_, meta_->location};
  std::vector<Snapshot> kept, expired;
  for (const auto& s : meta_->snapshots) {
    bool current = meta_->current_snapshot_id && s.snapshot_id == *meta_->current_snapshot_id;
    (current || keep(s) ? kept : expired).push_back(s);
  }
  if (expired.empty()) return 0;

  // Everything a kept snapshot still needs.
  std::set<std::string> kept_files;  // URIs of manifest lists and manifests, relative data paths
  for (const auto& s : kept) {
    kept_files.insert(s.manifest_list);
    SLUICE_ASSIGN_OR_RETURN(std::vector<ManifestRef> refs, ReadManifestList(tf, s));
    for (const auto& ref : refs) {
      if (!kept_files.insert(ref.path).second) continue;
      SLUICE_ASSIGN_OR_RETURN(std::vector<ManifestEntry> entries, ReadManifest(tf, ref));
      for (const auto& e : entries) {
        if (e.status != kDeleted) kept_files.insert(e.file.path);
      }
    }
  }
  // What only expired snapshots reference. A file already gone is skipped; so is one outside
  // the table directory (never written by this table).
  std::set<std::string> doomed;  // local paths
  auto doom = [&](const std::string& uri) {
    auto local = tf.ToLocal(uri);
    if (local.ok()) doomed.insert(std::move(local).value());
  };
  std::set<std::string> seen_manifests;
  for (const auto& s : expired) {
    if (!kept_files.count(s.manifest_list)) doom(s.manifest_list);
    auto refs = ReadManifestList(tf, s);
    if (!refs.ok()) {
      if (refs.status().code() == StatusCode::kIOError) continue;
      return refs.status();
    }
    for (const auto& ref : *refs) {
      if (!seen_manifests.insert(ref.path).second) continue;
      if (!kept_files.count(ref.path)) doom(ref.path);
      auto entries = ReadManifest(tf, ref);
      if (!entries.ok()) {
        if (entries.status().code() == StatusCode::kIOError) continue;
        return entries.status();
      }
      for (const auto& e : *entries) {
        if (!kept_files.count(e.file.path)) doom(tf.ToUri(e.file.path));
      }
    }
  }

  Metadata next = *meta_;
  next.snapshots = kept;
  std::set<int64_t> kept_ids;
  for (const auto& s : kept) kept_ids.insert(s.snapshot_id);
  std::erase_if(next.snapshot_log, [&](const auto& e) { return !kept_ids.count(e.second); });
  SLUICE_RETURN_IF_ERROR(Publish(next));

  int removed = 0;
  std::set<std::string> parents;
  for (const auto& path : doomed) {
    if (::unlink(path.c_str()) == 0) {
      ++removed;
      parents.insert(fs::path(path).parent_path().string());
    } else if (errno != ENOENT) {
      return Status::FromErrno("delete " + path, errno);
    }
  }
  // Partition directories left empty go too (rmdir fails on a non-empty one). A writer that
  // made a partition directory and has not yet created its file there can lose it: see the
  // contract in the header.
  const std::string data_prefix = dir_ + "/data/";
  for (const auto& p : parents) {
    if (p.starts_with(data_prefix)) ::rmdir(p.c_str());
  }
  return removed;
}

std::optional<int64_t> DataFileSequence(std::string_view file_name) {
  int64_t seq = 0;
  auto [end, ec] = std::from_chars(file_name.data(), file_name.data() + file_name.size(), seq);
  if (ec != std::errc() || end == file_name.data() + file_name.size() || *end != '-')
    return std::nullopt;
  return seq;
}

Result<size_t> RemoveUncommittedDataFiles(const IcebergTable& table) {
  std::optional<Snapshot> current = table.CurrentSnapshot();
  const int64_t last = current ? current->sequence_number : 0;
  std::error_code ec;
  const fs::path data = fs::path(table.dir()) / "data";
  if (!fs::exists(data, ec)) return size_t{0};
  std::vector<fs::path> orphans;
  for (const auto& entry : fs::recursive_directory_iterator(data, ec)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    std::optional<int64_t> seq = DataFileSequence(name);
    if (name.find(".tmp-") != std::string::npos || (seq && *seq > last))
      orphans.push_back(entry.path());
  }
  if (ec) return Status::IOError("cannot list " + data.string() + ": " + ec.message());
  for (const fs::path& path : orphans) {
    fs::remove(path, ec);
    if (ec) return Status::IOError("cannot remove " + path.string() + ": " + ec.message());
  }
  return orphans.size();
}

}  // namespace sluice::lake
