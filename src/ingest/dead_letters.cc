#include "ingest/dead_letters.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "base/json_writer.h"
#include "base/time.h"

namespace sluice::ingest {

std::string DeadLetterPayload(std::string_view stream, size_t index, std::string_view error,
                              uint32_t schema_id, std::string_view raw) {
  std::string out = "{\"stream\":";
  AppendJsonString(out, stream);
  out += fmt::format(",\"index\":{},\"error\":", index);
  AppendJsonString(out, error);
  out += fmt::format(",\"schema_id\":{}}}\n", schema_id);
  out.append(raw);
  return out;
}

Result<DeadLetter> DecodeDeadLetter(const log::RecordView& record) {
  auto corrupt = [&](std::string_view why) {
    return Status::Corruption(
        fmt::format("dead letter at offset {} is malformed: {}", record.offset, why));
  };
  const size_t newline = record.payload.find('\n');
  if (newline == std::string_view::npos) return corrupt("no header line");
  // Dead letters are read rarely (an operator looking at them): a copy with padding is fine.
  simdjson::padded_string header(record.payload.substr(0, newline));
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  if (parser.iterate(header).get(doc)) return corrupt("header is not JSON");
  DeadLetter letter;
  letter.offset = record.offset;
  letter.received_at_micros = record.log_time_micros;
  letter.schema_id = record.schema_id;
  uint64_t index = 0;
  std::string_view error;
  if (doc["index"].get_uint64().get(index)) return corrupt("no index");
  if (doc["error"].get_string().get(error)) return corrupt("no error");
  letter.index = index;
  letter.error = std::string(error);
  letter.raw = std::string(record.payload.substr(newline + 1));
  return letter;
}

std::string DeadLetterPage::ToJson(std::string_view stream) const {
  std::string out = "{\"stream\":";
  AppendJsonString(out, stream);
  out += fmt::format(
      ",\"start_offset\":{},\"end_offset\":{},\"next_offset\":{},\"replayed_until\":{},"
      "\"dead_letters\":[",
      start_offset, end_offset, next_offset, replayed_until);
  for (size_t i = 0; i < items.size(); ++i) {
    const DeadLetter& d = items[i];
    if (i) out += ',';
    out += fmt::format("{{\"offset\":{},\"received_at\":\"", d.offset);
    AppendRfc3339(out, d.received_at_micros);
    out += fmt::format("\",\"index\":{},\"error\":", d.index);
    AppendJsonString(out, d.error);
    out += fmt::format(",\"schema_id\":{},\"replayed\":{},\"raw\":", d.schema_id,
                       d.offset < replayed_until ? "true" : "false");
    AppendJsonString(out, d.raw);
    out += '}';
  }
  out += "]}";
  return out;
}

std::string ReplayAnswer::ToJson() const {
  std::string out =
      fmt::format("{{\"replayed\":{},\"accepted\":{},\"duplicates\":{},\"rejected\":[", replayed,
                  accepted, duplicates);
  for (size_t i = 0; i < rejected.size(); ++i) {
    if (i) out += ',';
    out += fmt::format("{{\"offset\":{},\"error\":", rejected[i].offset);
    AppendJsonString(out, rejected[i].error);
    out += '}';
  }
  out += fmt::format("],\"next_offset\":{}}}", next_offset);
  return out;
}

}  // namespace sluice::ingest
