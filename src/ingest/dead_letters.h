// Dead letters: the records a stream rejected, kept with their reason in the stream's
// dead-letter log `{stream}.dead_letters`, so nothing is ever dropped silently.
//
// A dead-letter record's payload is a one-line JSON header, a newline, then the raw bytes of
// the rejected record exactly as received:
//
//   {"stream":"fulfilment","index":3,"error":"/currency: ...","schema_id":2}\n<raw record>
//
// and its log header carries the schema id too (0 when the stream validates against none).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "log/log.h"

namespace sluice::ingest {

struct DeadLetter {
  uint64_t offset = 0;             // in the dead-letter log
  int64_t received_at_micros = 0;  // log time of the dead letter
  size_t index = 0;                // position of the record in the request that sent it
  std::string error;
  uint32_t schema_id = 0;  // the schema it failed against; 0 = none
  std::string raw;         // the record's bytes as received
};

// The payload described above.
std::string DeadLetterPayload(std::string_view stream, size_t index, std::string_view error,
                              uint32_t schema_id, std::string_view raw);

// Decodes a dead-letter record; Corruption when its header is not what DeadLetterPayload wrote.
Result<DeadLetter> DecodeDeadLetter(const log::RecordView& record);

// A page of dead letters, for GET /v1/streams/{s}/dead-letters.
struct DeadLetterPage {
  std::vector<DeadLetter> items;
  uint64_t start_offset = 0;    // first offset still retained
  uint64_t end_offset = 0;      // one past the last durable dead letter
  uint64_t next_offset = 0;     // where the next page starts
  uint64_t replayed_until = 0;  // dead letters below this offset were replayed already
  // {"stream":…,"start_offset":…,"end_offset":…,"next_offset":…,"replayed_until":…,
  //  "dead_letters":[{"offset":…,"received_at":"…","index":…,"error":"…","schema_id":…,
  //                   "replayed":bool,"raw":"…"}]}
  // `raw` is the record text (invalid UTF-8 bytes shown as U+FFFD; the log keeps the bytes).
  std::string ToJson(std::string_view stream) const;
};

// The answer of POST /v1/streams/{s}/dead-letters/replay.
struct ReplayAnswer {
  size_t replayed = 0;  // dead letters read and sent through ingest again
  size_t accepted = 0;
  size_t duplicates = 0;
  struct StillRejected {
    uint64_t offset = 0;  // of the dead letter, which stays where it is
    std::string error;
  };
  std::vector<StillRejected> rejected;
  uint64_t next_offset = 0;  // the replay cursor after this call
  // {"replayed":N,"accepted":A,"duplicates":D,"rejected":[{"offset":o,"error":"…"}],
  //  "next_offset":X}
  std::string ToJson() const;
};

}  // namespace sluice::ingest
