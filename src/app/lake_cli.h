// The lake's command-line tools, offline (the server may be running: they only read the lake):
// - `sluice lake verify`: checks the archive's tamper evidence (lake/hash_chain.h) of every
//   table under the lake directory;
// - `sluice replay`: sends archived events (stream/archive_reader.h) back into a stream of a
//   running server, through its ingest API.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace sluice::app {

struct LakeVerifyOptions {
  std::string data_dir = "./sluice-data";
  std::string lake_dir;  // "" = <data_dir>/lake
  std::string table;     // "" = every table
};

void AddLakeVerifyOptions(CLI::App* verify, LakeVerifyOptions& options);
// Prints one JSON line per table ({"table":…,"ok":…,"entries":…,"files_checked":…,
// "broken_links":[…],"changed":[…],"missing":[…]}); exit status 0 when every table verifies,
// 1 when one does not, 2 when there is nothing to verify or a chain cannot be read.
int RunLakeVerify(const LakeVerifyOptions& options);

struct ReplayOptions {
  std::string data_dir = "./sluice-data";
  std::string lake_dir;  // "" = <data_dir>/lake
  std::string table;     // the archived stream
  std::string url = "http://127.0.0.1:8080";
  std::string stream;       // the stream to send to
  std::string from;         // RFC 3339; "" = the beginning: events with from <= event time < to
  std::string to;           // RFC 3339; "" = the end
  int64_t snapshot_id = 0;  // 0 = the current snapshot
  size_t batch = 5000;      // events per request (also at most 4 MiB)
};

void AddReplayOptions(CLI::App* replay, ReplayOptions& options);
// Reads the table's files in hour order and posts their raw events, as received, to
// /v1/streams/<stream>/events (a JSON array per request), retrying 503 and 507 answers after
// their Retry-After. Sent again, exactly-once events are duplicates, so a replay that was
// interrupted can be run again from the start. Prints progress to stderr and one JSON line at
// the end ({"table":…,"snapshot":…,"files":…,"events":…,"accepted":…,"duplicates":…,
// "rejected":…}); exit status 0 when every event was accepted or a duplicate, 1 when some were
// rejected (the server keeps them as dead letters), 2 on an error (bad options, unreadable
// lake, server unreachable or answering an error).
int RunReplay(const ReplayOptions& options);

}  // namespace sluice::app
