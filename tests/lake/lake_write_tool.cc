// Test-only CLI behind tests/e2e/lake_parquet.test.js: converts NDJSON events from stdin into a
// Parquet file through EventColumns and ParquetWriter, or dumps a Parquet file as NDJSON
// through ParquetReader (so the e2e test can compare our reader with DuckDB and hyparquet).
//
// Usage:
//   lake_write_tool --out FILE [--compression zstd|snappy|none] [--row-group-bytes N]
//       [--page-bytes N] [--no-dictionary] [--data-page-v2] [--batch N] [--kv KEY=VALUE]...
//       --column NAME=PATH:TYPE ...  < events.ndjson
//     TYPE: string | int64 | double | boolean | timestamp | decimal(P,S)
//     Prints {"rows":N,"row_groups":G,"bytes":B,"invalid_events":I,"type_mismatches":{...}}.
//   lake_write_tool --dump FILE
//     Prints one JSON object per row (timestamps as microseconds, decimals unscaled).
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "base/json_writer.h"
#include "lake/event_columns.h"
#include "lake/parquet_reader.h"
#include "lake/parquet_writer.h"

using namespace sluice;
using namespace sluice::lake;

namespace {

int Fail(const std::string& message, int code = 1) {
  std::cerr << message << "\n";
  return code;
}

bool ParseColumn(const std::string& arg, EventColumn& col) {
  size_t eq = arg.find('='), colon = arg.rfind(':');
  if (eq == std::string::npos || colon == std::string::npos || colon < eq) return false;
  col.name = arg.substr(0, eq);
  col.path = arg.substr(eq + 1, colon - eq - 1);
  std::string type = arg.substr(colon + 1);
  if (type == "string") {
    col.type = ColumnType::kString;
  } else if (type == "int64") {
    col.type = ColumnType::kInt64;
  } else if (type == "double") {
    col.type = ColumnType::kDouble;
  } else if (type == "boolean") {
    col.type = ColumnType::kBool;
  } else if (type == "timestamp") {
    col.type = ColumnType::kTimestampMicros;
  } else if (type.rfind("decimal(", 0) == 0 && type.back() == ')') {
    col.type = ColumnType::kDecimal;
    if (std::sscanf(type.c_str(), "decimal(%d,%d)", &col.precision, &col.scale) != 2) return false;
  } else {
    return false;
  }
  return true;
}

int Dump(const std::string& path) {
  auto bytes = ReadWholeFile(path);
  if (!bytes.ok()) return Fail(bytes.status().ToString());
  auto reader = ParquetReader::Open(*bytes);
  if (!reader.ok()) return Fail(reader.status().ToString());
  const FileInfo& info = reader->info();
  std::string out;
  for (size_t g = 0; g < info.row_groups.size(); ++g) {
    std::vector<ColumnBuffer> cols;
    for (size_t c = 0; c < info.columns.size(); ++c) {
      cols.emplace_back(info.columns[c].type);
      Status st = reader->ReadColumn(g, c, cols.back());
      if (!st.ok()) return Fail(st.ToString());
    }
    for (size_t r = 0; r < static_cast<size_t>(info.row_groups[g].num_rows); ++r) {
      out += '{';
      for (size_t c = 0; c < cols.size(); ++c) {
        if (c > 0) out += ',';
        AppendJsonString(out, info.columns[c].name);
        out += ':';
        const ColumnBuffer& b = cols[c];
        if (b.IsNull(r)) {
          out += "null";
          continue;
        }
        switch (b.type()) {
          case ColumnType::kString:
            AppendJsonString(out, b.StringAt(r));
            break;
          case ColumnType::kDouble:
            out += std::to_string(b.DoubleAt(r));
            break;
          case ColumnType::kBool:
            out += b.BoolAt(r) ? "true" : "false";
            break;
          default:
            AppendJsonInt(out, b.Int64At(r));
        }
      }
      out += "}\n";
      if (out.size() > (1 << 20)) {
        std::cout << out;
        out.clear();
      }
    }
  }
  std::cout << out;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 2 && args[0] == "--dump") return Dump(args[1]);
  std::string out_path;
  std::vector<EventColumn> columns;
  WriterOptions options;
  size_t batch = 1000;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= args.size()) {
        std::cerr << a << " needs a value\n";
        std::exit(64);
      }
      return args[++i];
    };
    if (a == "--out") {
      out_path = next();
    } else if (a == "--compression") {
      std::string c = next();
      if (c == "zstd") {
        options.compression = Compression::kZstd;
      } else if (c == "snappy") {
        options.compression = Compression::kSnappy;
      } else if (c == "none") {
        options.compression = Compression::kUncompressed;
      } else {
        return Fail("unknown compression " + c, 64);
      }
    } else if (a == "--row-group-bytes") {
      options.row_group_bytes = std::stoll(next());
    } else if (a == "--page-bytes") {
      options.page_bytes = std::stoll(next());
    } else if (a == "--data-page-v2") {
      options.data_page_version = 2;
    } else if (a == "--no-dictionary") {
      options.dictionary = false;
    } else if (a == "--batch") {
      batch = std::stoul(next());
    } else if (a == "--kv") {
      std::string kv = next();
      size_t eq = kv.find('=');
      if (eq == std::string::npos) return Fail("--kv wants KEY=VALUE", 64);
      options.key_value_metadata.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    } else if (a == "--column") {
      EventColumn col;
      if (!ParseColumn(next(), col)) return Fail("bad --column " + args[i], 64);
      columns.push_back(std::move(col));
    } else {
      return Fail("unknown argument " + a, 64);
    }
  }
  if (out_path.empty())
    return Fail("usage: lake_write_tool --out FILE --column NAME=PATH:TYPE ...", 64);
  auto ec = EventColumns::Make(columns);
  if (!ec.ok()) return Fail(ec.status().ToString(), 2);
  auto writer = ParquetWriter::OpenFile(out_path, (*ec)->specs(), options);
  if (!writer.ok()) return Fail(writer.status().ToString(), 2);
  std::ios::sync_with_stdio(false);
  std::vector<std::string> lines;
  std::vector<std::string_view> views;
  std::string line;
  auto flush = [&]() -> Status {
    views.assign(lines.begin(), lines.end());
    Status st = (*ec)->AppendBatch(views, **writer);
    lines.clear();
    return st;
  };
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    lines.push_back(line);
    if (lines.size() >= batch) {
      Status st = flush();
      if (!st.ok()) return Fail(st.ToString());
    }
  }
  Status st = flush();
  if (st.ok()) st = (*writer)->Close();
  if (!st.ok()) return Fail(st.ToString());
  const EventCounters& counters = (*ec)->counters();
  std::string summary = "{\"rows\":" + std::to_string((*writer)->rows_written()) +
                        ",\"row_groups\":" + std::to_string((*writer)->row_groups_written()) +
                        ",\"bytes\":" + std::to_string((*writer)->bytes_written()) +
                        ",\"invalid_events\":" + std::to_string(counters.invalid_events) +
                        ",\"type_mismatches\":{";
  for (size_t c = 0; c < columns.size(); ++c) {
    if (c > 0) summary += ',';
    AppendJsonString(summary, columns[c].name);
    summary += ':' + std::to_string(counters.type_mismatches[c]);
  }
  summary += "}}";
  std::cout << summary << "\n";
  return 0;
}
