// Test-only CLI behind tests/e2e/lake_iceberg.test.js: drives src/lake/iceberg_table from
// JSON so that data files written by another tool (DuckDB) can be registered, and the result
// read by another Iceberg reader (icebird). Prints one JSON document on stdout; on an error,
// the Status on stderr and exit status 1 (2 for usage errors).
//
// Usage:
//   iceberg_tool create ROOT NAME SPEC_JSON
//     SPEC_JSON: {"fields":[{"name":"ts","type":"timestamptz","required":true},...],
//                 "hour_partition":"ts","properties":{"k":"v"}}
//   iceberg_tool data-path ROOT NAME RFC3339_TIME FILE_NAME   -> {"path":"data/ts_hour=.../f"}
//   iceberg_tool commit ROOT NAME CHANGE_JSON
//     CHANGE_JSON: {"add":[{"path":"data/...","record_count":3,"partition_time":"2026-...Z",
//                           "value_counts":{"ts":3},"null_value_counts":{"ts":0},
//                           "lower_bounds":{"ts":"2026-...Z","amount":"1.50"},
//                           "upper_bounds":{...}}],
//                   "delete":["data/..."], "summary":{"sluice.last-offset":"41"}}
//     Stats are keyed by field name (current schema) and typed by the field's type:
//     timestamptz as RFC 3339 text, decimal as decimal text, numbers, booleans, strings.
//     file_size_in_bytes defaults to the file's size on disk.
//   iceberg_tool add-column ROOT NAME FIELD TYPE
//   iceberg_tool expire ROOT NAME OLDER_THAN_MS
//   iceberg_tool show ROOT NAME [--snapshot ID | --as-of MS]
//   iceberg_tool prune ROOT NAME FROM_RFC3339 TO_RFC3339   -> {"files":[...]} that may hold
//     rows of those hours (current snapshot)
// ICEBERG_TOOL_CRASH_AT (see CrashAt) makes a commit die at one of its steps.
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "base/time.h"
#include "lake/iceberg_table.h"

namespace {

using sluice::Result;
using sluice::Status;
using namespace sluice::lake;
using Json = nlohmann::ordered_json;

int Fail(const Status& st) {
  std::cerr << st.ToString() << "\n";
  return 1;
}

Json SnapshotJson(const Snapshot& s) {
  Json j = {{"snapshot_id", s.snapshot_id},
            {"sequence_number", s.sequence_number},
            {"timestamp_ms", s.timestamp_ms},
            {"schema_id", s.schema_id},
            {"manifest_list", s.manifest_list}};
  j["parent_snapshot_id"] = s.parent_snapshot_id ? Json(*s.parent_snapshot_id) : Json(nullptr);
  j["summary"] = s.summary;
  return j;
}

Result<__int128> ParseDecimalText(const std::string& text, int scale) {
  __int128 v = 0;
  bool neg = false, dot = false;
  int frac = 0;
  size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) neg = text[i++] == '-';
  if (i == text.size()) return Status::InvalidArgument("bad decimal '" + text + "'");
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.' && !dot) {
      dot = true;
    } else if (c >= '0' && c <= '9') {
      if (dot && ++frac > scale) return Status::InvalidArgument("too many decimals: " + text);
      v = v * 10 + (c - '0');
    } else {
      return Status::InvalidArgument("bad decimal '" + text + "'");
    }
  }
  for (; frac < scale; ++frac) v *= 10;
  return neg ? -v : v;
}

Result<std::string> EncodeBound(const IcebergField& f, const Json& v) {
  switch (f.type.id) {
    case IcebergTypeId::kBoolean:
      if (!v.is_boolean()) break;
      return SingleBoolean(v.get<bool>());
    case IcebergTypeId::kInt:
      if (!v.is_number_integer()) break;
      return SingleInt(v.get<int32_t>());
    case IcebergTypeId::kLong:
      if (!v.is_number_integer()) break;
      return SingleLong(v.get<int64_t>());
    case IcebergTypeId::kDouble:
      if (!v.is_number()) break;
      return SingleDouble(v.get<double>());
    case IcebergTypeId::kString:
      if (!v.is_string()) break;
      return v.get<std::string>();
    case IcebergTypeId::kTimestamptz: {
      if (v.is_number_integer()) return SingleLong(v.get<int64_t>());
      if (!v.is_string()) break;
      SLUICE_ASSIGN_OR_RETURN(int64_t micros, sluice::ParseRfc3339(v.get<std::string>()));
      return SingleLong(micros);
    }
    case IcebergTypeId::kDecimal: {
      if (!v.is_string()) break;
      SLUICE_ASSIGN_OR_RETURN(__int128 unscaled,
                              ParseDecimalText(v.get<std::string>(), f.type.scale));
      return SingleDecimal(unscaled);
    }
  }
  return Status::InvalidArgument("bound " + v.dump() + " does not fit field '" + f.name + "' (" +
                                 f.type.ToString() + ")");
}

Json DecodeBound(const IcebergField& f, const std::string& b) {
  switch (f.type.id) {
    case IcebergTypeId::kBoolean:
      return b == std::string(1, '\x01');
    case IcebergTypeId::kInt: {
      auto v = ParseSingleInt(b);
      return v.ok() ? Json(*v) : Json(nullptr);
    }
    case IcebergTypeId::kLong: {
      auto v = ParseSingleLong(b);
      return v.ok() ? Json(*v) : Json(nullptr);
    }
    case IcebergTypeId::kTimestamptz: {
      auto v = ParseSingleLong(b);
      return v.ok() ? Json(sluice::FormatRfc3339(*v)) : Json(nullptr);
    }
    case IcebergTypeId::kDouble: {
      auto v = ParseSingleDouble(b);
      return v.ok() ? Json(*v) : Json(nullptr);
    }
    case IcebergTypeId::kString:
      return b;
    case IcebergTypeId::kDecimal: {
      std::string hex;
      for (unsigned char c : b) {
        static const char* kDigits = "0123456789abcdef";
        hex += kDigits[c >> 4];
        hex += kDigits[c & 15];
      }
      return hex;
    }
  }
  return nullptr;
}

Result<DataFile> ParseDataFile(const IcebergTable& t, const Json& j) {
  DataFile f;
  f.path = j.at("path").get<std::string>();
  f.record_count = j.at("record_count").get<int64_t>();
  if (j.contains("file_size_in_bytes")) {
    f.file_size_in_bytes = j["file_size_in_bytes"].get<int64_t>();
  } else {
    std::error_code ec;
    auto size = std::filesystem::file_size(std::filesystem::path(t.dir()) / f.path, ec);
    if (ec) return Status::InvalidArgument("data file " + f.path + ": " + ec.message());
    f.file_size_in_bytes = static_cast<int64_t>(size);
  }
  if (j.contains("partition_hour")) f.partition_hour = j["partition_hour"].get<int32_t>();
  if (j.contains("partition_time")) {
    SLUICE_ASSIGN_OR_RETURN(int64_t micros,
                            sluice::ParseRfc3339(j["partition_time"].get<std::string>()));
    f.partition_hour = HourOfMicros(micros);
  }
  auto field = [&](const std::string& name) -> Result<const IcebergField*> {
    const IcebergField* fld = t.schema().Find(name);
    if (fld == nullptr) return Status::InvalidArgument("no field '" + name + "'");
    return fld;
  };
  const std::pair<const char*, std::map<int32_t, int64_t>*> counts[] = {
      {"column_sizes", &f.stats.column_sizes},
      {"value_counts", &f.stats.value_counts},
      {"null_value_counts", &f.stats.null_value_counts}};
  for (const auto& [key, target] : counts) {
    if (!j.contains(key)) continue;
    for (const auto& [name, v] : j[key].items()) {
      SLUICE_ASSIGN_OR_RETURN(const IcebergField* fld, field(name));
      (*target)[fld->id] = v.get<int64_t>();
    }
  }
  const std::pair<const char*, std::map<int32_t, std::string>*> bounds[] = {
      {"lower_bounds", &f.stats.lower_bounds}, {"upper_bounds", &f.stats.upper_bounds}};
  for (const auto& [key, target] : bounds) {
    if (!j.contains(key)) continue;
    for (const auto& [name, v] : j[key].items()) {
      SLUICE_ASSIGN_OR_RETURN(const IcebergField* fld, field(name));
      SLUICE_ASSIGN_OR_RETURN((*target)[fld->id], EncodeBound(*fld, v));
    }
  }
  return f;
}

// ICEBERG_TOOL_CRASH_AT=after-manifests|after-metadata|after-version-hint: the process dies
// there (exit status 137, no destructors, nothing flushed), as on a kill -9.
Status CrashAt(CommitPoint point, void* arg) {
  if (point == *static_cast<CommitPoint*>(arg)) std::_Exit(137);
  return Status::Ok();
}

int Show(const IcebergTable& t, int argc, char** argv) {
  std::optional<Snapshot> snap = t.CurrentSnapshot();
  if (argc == 6) {
    std::string flag = argv[4];
    int64_t arg = std::stoll(argv[5]);
    auto found = flag == "--snapshot" ? t.SnapshotById(arg) : t.SnapshotAsOf(arg);
    if (!found.ok()) return Fail(found.status());
    snap = *found;
  }
  Json out;
  out["version"] = t.version();
  out["location"] = t.location();
  out["current_snapshot_id"] =
      t.CurrentSnapshot() ? Json(t.CurrentSnapshot()->snapshot_id) : Json(nullptr);
  Json schema = Json::array();
  for (const auto& f : t.schema().fields) {
    schema.push_back(
        {{"id", f.id}, {"name", f.name}, {"type", f.type.ToString()}, {"required", f.required}});
  }
  out["schema_id"] = t.schema().schema_id;
  out["schema"] = schema;
  Json snaps = Json::array();
  for (const auto& s : t.snapshots()) snaps.push_back(SnapshotJson(s));
  out["snapshots"] = snaps;
  Json files = Json::array();
  if (snap) {
    out["snapshot"] = SnapshotJson(*snap);
    auto live = t.LiveFiles(*snap);
    if (!live.ok()) return Fail(live.status());
    for (const auto& e : *live) {
      Json jf = {{"path", e.file.path},
                 {"record_count", e.file.record_count},
                 {"file_size_in_bytes", e.file.file_size_in_bytes},
                 {"sequence_number", e.sequence_number},
                 {"snapshot_id", e.snapshot_id}};
      jf["partition_hour"] = e.file.partition_hour ? Json(*e.file.partition_hour) : Json(nullptr);
      if (e.file.partition_hour) jf["partition"] = HourToString(*e.file.partition_hour);
      for (const auto& [key, m] : {std::pair{"lower_bounds", &e.file.stats.lower_bounds},
                                   std::pair{"upper_bounds", &e.file.stats.upper_bounds}}) {
        Json b = Json::object();
        for (const auto& [id, bytes] : *m) {
          const IcebergField* fld = nullptr;
          for (const auto& s : t.schemas()) {
            if (const IcebergField* x = s.FindId(id)) fld = x;
          }
          if (fld != nullptr) b[fld->name] = DecodeBound(*fld, bytes);
        }
        jf[key] = b;
      }
      Json vc = Json::object();
      for (const auto& [id, n] : e.file.stats.value_counts) vc[std::to_string(id)] = n;
      jf["value_counts"] = vc;
      files.push_back(std::move(jf));
    }
  }
  out["files"] = files;
  std::cout << out.dump() << "\n";
  return 0;
}

int Run(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: iceberg_tool create|data-path|commit|add-column|expire|show|prune ROOT "
                 "NAME "
                 "...\n";
    return 2;
  }
  const std::string cmd = argv[1], root = argv[2], name = argv[3];
  if (cmd == "create") {
    if (argc != 5) return 2;
    Json j = Json::parse(argv[4]);
    IcebergTableSpec spec;
    for (const Json& f : j.at("fields")) {
      auto type = IcebergType::Parse(f.at("type").get<std::string>());
      if (!type.ok()) return Fail(type.status());
      spec.fields.push_back(
          {0, f.at("name").get<std::string>(), *type, f.value("required", false)});
    }
    spec.hour_partition_source = j.value("hour_partition", std::string());
    if (j.contains("properties")) {
      for (const auto& [k, v] : j["properties"].items()) spec.properties[k] = v.get<std::string>();
    }
    auto t = IcebergTable::Create(root, name, spec);
    if (!t.ok()) return Fail(t.status());
    std::cout << Json{{"version", (*t)->version()}, {"location", (*t)->location()}}.dump() << "\n";
    return 0;
  }
  auto t = IcebergTable::Open(root, name);
  if (!t.ok()) return Fail(t.status());
  IcebergTable& table = **t;
  if (const char* crash = std::getenv("ICEBERG_TOOL_CRASH_AT")) {
    static CommitPoint point;
    const std::string at = crash;
    point = at == "after-manifests"  ? CommitPoint::kAfterManifests
            : at == "after-metadata" ? CommitPoint::kAfterMetadataFile
                                     : CommitPoint::kAfterVersionHint;
    table.SetCommitFaultHook(&CrashAt, &point);
  }
  if (cmd == "data-path" && argc == 6) {
    auto micros = sluice::ParseRfc3339(argv[4]);
    if (!micros.ok()) return Fail(micros.status());
    std::cout << Json{{"path", table.DataPath(HourOfMicros(*micros), argv[5])}}.dump() << "\n";
    return 0;
  }
  if (cmd == "commit" && argc == 5) {
    Json j = Json::parse(argv[4]);
    AppendFiles change;
    if (j.contains("add")) {
      for (const Json& f : j["add"]) {
        auto file = ParseDataFile(table, f);
        if (!file.ok()) return Fail(file.status());
        change.added.push_back(std::move(file).value());
      }
    }
    if (j.contains("delete")) change.deleted = j["delete"].get<std::vector<std::string>>();
    if (j.contains("summary")) {
      for (const auto& [k, v] : j["summary"].items()) change.summary[k] = v.get<std::string>();
    }
    auto snap = table.Commit(change);
    if (!snap.ok()) return Fail(snap.status());
    Json out = SnapshotJson(*snap);
    out["version"] = table.version();
    std::cout << out.dump() << "\n";
    return 0;
  }
  if (cmd == "add-column" && argc == 6) {
    auto type = IcebergType::Parse(argv[5]);
    if (!type.ok()) return Fail(type.status());
    Status st = table.AddOptionalField(argv[4], *type);
    if (!st.ok()) return Fail(st);
    std::cout << Json{{"version", table.version()}, {"schema_id", table.schema().schema_id}}.dump()
              << "\n";
    return 0;
  }
  if (cmd == "expire" && argc == 5) {
    auto removed = table.ExpireSnapshots(std::stoll(argv[4]));
    if (!removed.ok()) return Fail(removed.status());
    std::cout << Json{{"version", table.version()}, {"removed_files", *removed}}.dump() << "\n";
    return 0;
  }
  if (cmd == "prune" && argc == 6) {
    auto from = sluice::ParseRfc3339(argv[4]);
    auto to = sluice::ParseRfc3339(argv[5]);
    if (!from.ok()) return Fail(from.status());
    if (!to.ok()) return Fail(to.status());
    auto snap = table.CurrentSnapshot();
    if (!snap) return Fail(Status::NotFound("the table has no snapshot"));
    auto files = table.LiveFilesForHours(*snap, HourOfMicros(*from), HourOfMicros(*to));
    if (!files.ok()) return Fail(files.status());
    Json paths = Json::array();
    for (const auto& f : *files) paths.push_back(f.file.path);
    std::cout << Json{{"files", paths}}.dump() << "\n";
    return 0;
  }
  if (cmd == "show" && (argc == 4 || argc == 6)) return Show(table, argc, argv);
  std::cerr << "unknown command or wrong arguments: " << cmd << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const nlohmann::json::exception& e) {
    std::cerr << "bad JSON argument: " << e.what() << "\n";
    return 2;
  } catch (const std::logic_error& e) {  // std::stoll: invalid_argument, out_of_range
    std::cerr << "bad number argument: " << e.what() << "\n";
    return 2;
  }
}
