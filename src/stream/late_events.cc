#include "stream/late_events.h"

#include <algorithm>

#include <fmt/format.h>
#include <simdjson.h>

#include "base/json_writer.h"
#include "base/time.h"

namespace sluice::stream {

std::string LateEventPayload(uint32_t partition, uint64_t source_offset, int64_t event_time_micros,
                             int64_t watermark_micros, std::string_view reason,
                             std::string_view raw) {
  std::string out = fmt::format(
      "{{\"partition\":{},\"offset\":{},\"event_time\":{},\"watermark\":{},\"reason\":", partition,
      source_offset, event_time_micros, watermark_micros);
  AppendJsonString(out, reason);
  out += "}\n";
  out.append(raw);
  return out;
}

Result<LateEvent> DecodeLateEvent(const log::RecordView& record) {
  auto corrupt = [&](std::string_view why) {
    return Status::Corruption(
        fmt::format("late event at offset {} is malformed: {}", record.offset, why));
  };
  const size_t newline = record.payload.find('\n');
  if (newline == std::string_view::npos) return corrupt("no header line");
  // Read rarely (an operator looking, a restart scanning the entries since a checkpoint).
  simdjson::padded_string header(record.payload.substr(0, newline));
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  if (parser.iterate(header).get(doc)) return corrupt("header is not JSON");
  LateEvent e;
  e.offset = record.offset;
  e.recorded_at_micros = record.log_time_micros;
  uint64_t partition = 0;
  std::string_view reason;
  if (doc["partition"].get_uint64().get(partition) || partition > UINT32_MAX)
    return corrupt("no partition");
  if (doc["offset"].get_uint64().get(e.source_offset)) return corrupt("no offset");
  if (doc["event_time"].get_int64().get(e.event_time_micros)) return corrupt("no event time");
  if (doc["watermark"].get_int64().get(e.watermark_micros)) return corrupt("no watermark");
  if (doc["reason"].get_string().get(reason)) return corrupt("no reason");
  e.partition = static_cast<uint32_t>(partition);
  e.reason = std::string(reason);
  e.raw = std::string(record.payload.substr(newline + 1));
  return e;
}

std::string LateEventPage::ToJson(std::string_view view) const {
  std::string out = "{\"view\":";
  AppendJsonString(out, view);
  out += fmt::format(",\"start_offset\":{},\"end_offset\":{},\"next_offset\":{},\"late_events\":[",
                     start_offset, end_offset, next_offset);
  for (size_t i = 0; i < items.size(); ++i) {
    const LateEvent& e = items[i];
    if (i) out += ',';
    out += fmt::format("{{\"offset\":{},\"recorded_at\":\"", e.offset);
    AppendRfc3339(out, e.recorded_at_micros);
    out += fmt::format("\",\"partition\":{},\"source_offset\":{},\"event_time\":\"", e.partition,
                       e.source_offset);
    AppendRfc3339(out, e.event_time_micros);
    out += "\",\"watermark\":\"";
    AppendRfc3339(out, e.watermark_micros);
    out += "\",\"reason\":";
    AppendJsonString(out, e.reason);
    out += ",\"raw\":";
    AppendJsonString(out, e.raw);
    out += '}';
  }
  out += "]}";
  return out;
}

Result<LateEventPage> ReadLateEvents(const log::Log& log, uint64_t from, size_t limit) {
  LateEventPage page;
  page.start_offset = log.StartOffset(0);
  page.end_offset = log.DurableEndOffset(0);
  from = std::max(from, page.start_offset);
  auto reader = log.NewReader(0, from);
  while (page.items.size() < limit) {
    SLUICE_ASSIGN_OR_RETURN(auto batch, reader->Read(1 << 20));
    if (batch.empty()) break;
    for (const log::RecordView& record : batch) {
      if (page.items.size() == limit) break;
      SLUICE_ASSIGN_OR_RETURN(LateEvent e, DecodeLateEvent(record));
      page.items.push_back(std::move(e));
    }
  }
  page.next_offset = page.items.empty() ? from : page.items.back().offset + 1;
  return page;
}

}  // namespace sluice::stream
