#include "stream/reference_table.h"

#include <algorithm>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/json_writer.h"

namespace sluice::stream {
namespace {

using Json = nlohmann::json;
using sql::TableColumn;
using sql::Type;
using sql::Value;

// One row of a body, parsed and typed.
struct ParsedRow {
  bool deleted = false;
  std::string key;
  std::vector<Value> values;
  // Owns the text the values view: each text in its own allocation, so that moving the row
  // (a vector of rows growing) never moves the bytes the values point to.
  std::vector<std::unique_ptr<std::string>> text;
};

using TextStore = std::vector<std::unique_ptr<std::string>>;

const std::string& Keep(TextStore& text, std::string s) {
  text.push_back(std::make_unique<std::string>(std::move(s)));
  return *text.back();
}

std::string_view JsonKindName(const Json& v) {
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  return "null";
}

Result<Value> FromText(std::string_view s, const TableColumn& c, TextStore& text) {
  auto wrong = [&](const Status& st) {
    return Status::InvalidArgument(
        fmt::format("column '{}' is {}: {}", c.name, c.type_sql, st.message()));
  };
  switch (c.type) {
    case Type::kVarchar:
      return Value::Varchar(Keep(text, std::string(s)));
    case Type::kBigint: {
      Result<int64_t> v = sql::ParseBigint(s);
      if (!v.ok()) return wrong(v.status());
      return Value::Bigint(*v);
    }
    case Type::kDouble: {
      Result<double> v = sql::ParseDouble(s);
      if (!v.ok()) return wrong(v.status());
      return Value::Double(*v);
    }
    case Type::kBoolean: {
      Result<bool> v = sql::ParseBoolean(s);
      if (!v.ok()) return wrong(v.status());
      return Value::Boolean(*v);
    }
    case Type::kTimestamp: {
      Result<int64_t> v = sql::ParseTimestamp(s);
      if (!v.ok()) return wrong(v.status());
      return Value::Timestamp(*v);
    }
    case Type::kDate: {
      Result<int64_t> v = sql::ParseDate(s);
      if (!v.ok()) return wrong(v.status());
      return Value::Date(*v);
    }
    case Type::kJson: {
      const Json parsed = Json::parse(s, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded())
        return Status::InvalidArgument(fmt::format("column '{}' is JSON: not valid JSON", c.name));
      return Value::Json(Keep(text, parsed.dump()));
    }
    default:
      return Status::InvalidArgument(fmt::format("column '{}' has an unsupported type", c.name));
  }
}

Result<Value> FromJson(const Json& v, const TableColumn& c, TextStore& text) {
  if (v.is_null()) return Value();
  auto wrong = [&]() {
    return Status::InvalidArgument(
        fmt::format("column '{}' is {}, found {}", c.name, c.type_sql, JsonKindName(v)));
  };
  switch (c.type) {
    case Type::kVarchar:
      if (!v.is_string()) return wrong();
      return Value::Varchar(Keep(text, v.get_ref<const std::string&>()));
    case Type::kBigint:
      if (v.is_number_integer()) return Value::Bigint(v.get<int64_t>());
      if (v.is_number_unsigned()) {
        const uint64_t u = v.get<uint64_t>();
        if (u > static_cast<uint64_t>(INT64_MAX))
          return Status::InvalidArgument(
              fmt::format("column '{}' is {}: {} is out of range", c.name, c.type_sql, u));
        return Value::Bigint(static_cast<int64_t>(u));
      }
      return wrong();
    case Type::kDouble:
      if (!v.is_number()) return wrong();
      return Value::Double(v.get<double>());
    case Type::kBoolean:
      if (!v.is_boolean()) return wrong();
      return Value::Boolean(v.get<bool>());
    case Type::kTimestamp:
    case Type::kDate:
      if (!v.is_string()) return wrong();
      return FromText(v.get_ref<const std::string&>(), c, text);
    case Type::kJson:
      return Value::Json(Keep(text, v.dump()));
    default:
      return wrong();
  }
}

int ColumnIndex(const sql::TableSpec& spec, std::string_view name) {
  for (size_t i = 0; i < spec.columns.size(); ++i)
    if (spec.columns[i].name == name) return static_cast<int>(i);
  return -1;
}

std::string ColumnList(const sql::TableSpec& spec) {
  std::string list;
  for (const TableColumn& c : spec.columns) list += (list.empty() ? "" : ", ") + c.name;
  return list;
}

// Checks the key columns and encodes the key.
Status FinishRow(const sql::TableSpec& spec, ParsedRow& row) {
  for (int k : spec.primary_key) {
    const Value& v = row.values[static_cast<size_t>(k)];
    if (v.is_null())
      return Status::InvalidArgument(fmt::format("primary key column '{}' is missing or null",
                                                 spec.columns[static_cast<size_t>(k)].name));
    AppendJoinKey(row.key, v);
  }
  return Status::Ok();
}

Status ParseJsonRow(const sql::TableSpec& spec, const Json& object, ParsedRow& row) {
  if (!object.is_object())
    return Status::InvalidArgument(
        fmt::format("a row must be a JSON object, found {}", JsonKindName(object)));
  row.values.assign(spec.columns.size(), Value());
  for (const auto& [name, value] : object.items()) {
    if (name == "_deleted") {
      if (!value.is_boolean()) return Status::InvalidArgument("\"_deleted\" must be true or false");
      row.deleted = value.get<bool>();
      continue;
    }
    const int i = ColumnIndex(spec, name);
    if (i < 0)
      return Status::InvalidArgument(fmt::format("unknown column '{}' (the columns of {} are: {})",
                                                 name, spec.name, ColumnList(spec)));
    SLUICE_ASSIGN_OR_RETURN(row.values[static_cast<size_t>(i)],
                            FromJson(value, spec.columns[static_cast<size_t>(i)], row.text));
  }
  return FinishRow(spec, row);
}

// RFC 4180 fields of one record starting at `pos`; advances past its line end. `quoted` tells,
// per field, whether it was quoted (an empty unquoted field is NULL).
Status ParseCsvRecord(std::string_view body, size_t& pos, std::vector<std::string>& fields,
                      std::vector<bool>& quoted) {
  fields.clear();
  quoted.clear();
  std::string field;
  bool in_quotes = false, was_quoted = false;
  while (pos < body.size()) {
    const char c = body[pos++];
    if (in_quotes) {
      if (c != '"') {
        field += c;
      } else if (pos < body.size() && body[pos] == '"') {
        field += '"';
        ++pos;
      } else {
        in_quotes = false;
      }
      continue;
    }
    if (c == '"' && field.empty() && !was_quoted) {
      in_quotes = was_quoted = true;
    } else if (c == ',') {
      fields.push_back(std::move(field));
      quoted.push_back(was_quoted);
      field.clear();
      was_quoted = false;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && pos < body.size() && body[pos] == '\n') ++pos;
      break;
    } else {
      field += c;
    }
  }
  if (in_quotes) return Status::InvalidArgument("a quoted field is not closed");
  fields.push_back(std::move(field));
  quoted.push_back(was_quoted);
  return Status::Ok();
}

}  // namespace

std::string TableWriteAnswer::ToJson() const {
  std::string out =
      fmt::format("{{\"upserted\":{},\"deleted\":{},\"rejected\":[", upserted, deleted);
  for (size_t i = 0; i < rejected.size(); ++i) {
    if (i) out += ',';
    out += fmt::format("{{\"index\":{},\"error\":", rejected[i].index);
    AppendJsonString(out, rejected[i].error);
    out += '}';
  }
  out += "]}";
  return out;
}

Result<std::shared_ptr<ReferenceTable>> ReferenceTable::Open(sql::TableSpec spec,
                                                             std::string storage_id,
                                                             CheckpointStore& store) {
  SLUICE_ASSIGN_OR_RETURN(CheckpointData data, store.Load(storage_id));
  std::shared_ptr<ReferenceTable> table(
      new ReferenceTable(std::move(spec), std::move(storage_id), store));
  table->version_ = data.version;
  for (const auto& [key, encoded] : data.state) {
    OwnedValues row;
    if (!DecodeValues(encoded, row) || row.size() != table->spec_.columns.size())
      return Status::Corruption(
          fmt::format("table {}: a stored row does not decode", table->spec_.name));
    table->rows_.emplace(key, std::move(row));
  }
  return table;
}

Result<TableWriteAnswer> ReferenceTable::Write(TableBodyFormat format, std::string_view body) {
  TableWriteAnswer answer;
  std::vector<ParsedRow> rows;
  auto add = [&](size_t index, ParsedRow row, const Status& st) {
    if (!st.ok()) {
      answer.rejected.push_back({index, st.message()});
      return;
    }
    rows.push_back(std::move(row));
  };
  if (format == TableBodyFormat::kJsonArray) {
    const Json doc = Json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_array())
      return Status::InvalidArgument(
          "the body must be a JSON array of row objects (or NDJSON with Content-Type "
          "application/x-ndjson, or CSV with text/csv)");
    for (size_t i = 0; i < doc.size(); ++i) {
      ParsedRow row;
      const Status st = ParseJsonRow(spec_, doc[i], row);
      add(i, std::move(row), st);
    }
  } else if (format == TableBodyFormat::kNdjson) {
    size_t index = 0, pos = 0;
    while (pos < body.size()) {
      size_t end = body.find('\n', pos);
      if (end == std::string_view::npos) end = body.size();
      std::string_view line = body.substr(pos, end - pos);
      pos = end + 1;
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      ParsedRow row;
      const Json doc = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      const Status st = doc.is_discarded() ? Status::InvalidArgument("invalid JSON")
                                           : ParseJsonRow(spec_, doc, row);
      add(index++, std::move(row), st);
    }
  } else {
    size_t pos = 0;
    std::vector<std::string> fields;
    std::vector<bool> quoted;
    SLUICE_RETURN_IF_ERROR(ParseCsvRecord(body, pos, fields, quoted));
    std::vector<int> columns;
    for (const std::string& name : fields) {
      const int i = ColumnIndex(spec_, name);
      if (i < 0)
        return Status::InvalidArgument(
            fmt::format("CSV header: unknown column '{}' (the columns of {} are: {})", name,
                        spec_.name, ColumnList(spec_)));
      if (std::find(columns.begin(), columns.end(), i) != columns.end())
        return Status::InvalidArgument(fmt::format("CSV header: column '{}' appears twice", name));
      columns.push_back(i);
    }
    size_t index = 0;
    while (pos < body.size()) {
      const size_t start = pos;
      Status st = ParseCsvRecord(body, pos, fields, quoted);
      if (st.ok() && fields.size() == 1 && fields[0].empty() && !quoted[0] && pos - start <= 2)
        continue;  // an empty line
      ParsedRow row;
      if (st.ok() && fields.size() != columns.size())
        st = Status::InvalidArgument(
            fmt::format("{} fields, the header has {}", fields.size(), columns.size()));
      if (st.ok()) {
        row.values.assign(spec_.columns.size(), Value());
        for (size_t f = 0; f < fields.size() && st.ok(); ++f) {
          if (fields[f].empty() && !quoted[f]) continue;  // NULL
          const TableColumn& c = spec_.columns[static_cast<size_t>(columns[f])];
          Result<Value> v = FromText(fields[f], c, row.text);
          if (v.ok())
            row.values[static_cast<size_t>(columns[f])] = *v;
          else
            st = v.status();
        }
      }
      if (st.ok()) st = FinishRow(spec_, row);
      add(index++, std::move(row), st);
    }
  }

  std::lock_guard write_lock(write_mu_);
  // The last row of a key wins: one change per key, in the order of their last rows.
  std::unordered_map<std::string_view, size_t> last;
  for (size_t i = 0; i < rows.size(); ++i) last[rows[i].key] = i;
  std::vector<std::pair<std::string, std::string>> changes;
  std::vector<size_t> applied;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (last[rows[i].key] != i) {
      (rows[i].deleted ? answer.deleted : answer.upserted) += 1;
      continue;
    }
    std::string encoded;
    if (!rows[i].deleted) EncodeValues(encoded, rows[i].values);
    changes.emplace_back(rows[i].key, std::move(encoded));
    applied.push_back(i);
  }
  if (!changes.empty()) {
    SLUICE_RETURN_IF_ERROR(store_.Commit(storage_id_, changes, {}, version_ + 1));
    ++version_;
  }
  std::unique_lock lock(mu_);
  for (size_t i : applied) {
    ParsedRow& row = rows[i];
    if (row.deleted) {
      rows_.erase(row.key);
      ++answer.deleted;
    } else {
      rows_[row.key].Assign(row.values);
      ++answer.upserted;
    }
  }
  return answer;
}

std::string ReferenceTable::RowsJson() const {
  std::string out = "{\"table\":";
  AppendJsonString(out, spec_.name);
  out += ",\"columns\":[";
  for (size_t i = 0; i < spec_.columns.size(); ++i) {
    if (i) out += ',';
    AppendJsonString(out, spec_.columns[i].name);
  }
  out += "],\"primary_key\":[";
  for (size_t i = 0; i < spec_.primary_key.size(); ++i) {
    if (i) out += ',';
    AppendJsonString(out, spec_.columns[static_cast<size_t>(spec_.primary_key[i])].name);
  }
  out += "],\"rows\":[";
  std::shared_lock lock(mu_);
  std::vector<const std::pair<const std::string, OwnedValues>*> sorted;
  sorted.reserve(rows_.size());
  for (const auto& entry : rows_) sorted.push_back(&entry);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  bool first = true;
  for (const auto* entry : sorted) {
    out += first ? "{" : ",{";
    first = false;
    for (size_t i = 0; i < spec_.columns.size(); ++i) {
      if (i) out += ',';
      AppendJsonString(out, spec_.columns[i].name);
      out += ':';
      sql::AppendJson(out, entry->second[i]);
    }
    out += '}';
  }
  out += "]}";
  return out;
}

size_t ReferenceTable::row_count() const {
  std::shared_lock lock(mu_);
  return rows_.size();
}

}  // namespace sluice::stream
