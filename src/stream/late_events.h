// Late events: the events a view's windows refused (their window had closed, or was past the
// view's retention), kept in the view's late-events log instead of being dropped silently: a
// side output that is counted (sluice_late_events_recorded_total) and read over HTTP
// (GET /v1/views/{view}/late-events).
//
// The late-events log is an ordinary durable log (log.h), one partition, owned by the catalog.
// A record's payload is a one-line JSON header, a newline, then the event's bytes exactly as
// they were in the stream's log (the same framing as ingest's dead letters):
//
//   {"partition":1,"offset":4711,"event_time":1764057600000000,"watermark":...,
//    "reason":"window_closed"}\n<raw event>
//
// and the record's own event time is the event's. (partition, offset) is the event's position
// in the stream's log: the pipeline records each position at most once, so replaying the log
// after a crash does not duplicate entries (stream_pipeline.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "log/log.h"

namespace sluice::stream {

struct LateEvent {
  uint64_t offset = 0;             // in the late-events log
  int64_t recorded_at_micros = 0;  // log time of the entry
  uint32_t partition = 0;          // the event's position in the stream's log
  uint64_t source_offset = 0;
  int64_t event_time_micros = 0;  // the time the view windowed the event by
  int64_t watermark_micros = 0;   // the view's watermark when the event was refused
  std::string reason;             // DropReasonName(): "window_closed", "past_retention"
  std::string raw;                // the event's bytes
};

// The payload described above.
std::string LateEventPayload(uint32_t partition, uint64_t source_offset, int64_t event_time_micros,
                             int64_t watermark_micros, std::string_view reason,
                             std::string_view raw);

// Decodes a late-events record; Corruption when its header is not what LateEventPayload wrote.
Result<LateEvent> DecodeLateEvent(const log::RecordView& record);

// A page of late events, for GET /v1/views/{view}/late-events.
struct LateEventPage {
  std::vector<LateEvent> items;
  uint64_t start_offset = 0;  // first offset still retained
  uint64_t end_offset = 0;    // one past the last durable entry
  uint64_t next_offset = 0;   // where the next page starts
  // {"view":…,"start_offset":…,"end_offset":…,"next_offset":…,
  //  "late_events":[{"offset":…,"recorded_at":"…","partition":…,"source_offset":…,
  //                  "event_time":"…","watermark":"…","reason":"…","raw":"…"}]}
  std::string ToJson(std::string_view view) const;
};

// Reads up to `limit` durable entries of `log` from offset `from` on.
Result<LateEventPage> ReadLateEvents(const log::Log& log, uint64_t from, size_t limit);

}  // namespace sluice::stream
