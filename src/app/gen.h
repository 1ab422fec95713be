// `sluice gen`: generates fulfilment events (see generator.h) and writes them as NDJSON to
// stdout, or POSTs them to a Sluice server, paced by a fixed rate or the realistic shift
// schedule. Also used in-process by `sluice demo`. See docs/gen-and-bench.md.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace sluice::app {

struct GenOptions {
  std::string url;  // "" = NDJSON to stdout; else "http://host:port"
  std::string stream = "fulfilment";
  double rate = 0;       // events/s; 0 = the schedule; < 0 = as fast as possible ("--rate max")
  int64_t count = 0;     // 0 = unlimited
  std::string duration;  // "" = unlimited, else e.g. "60s"
  uint64_t seed = 1;
  size_t batch = 1;                // events per POST
  double speedup = 1;              // the schedule's clock runs this much faster than the wall clock
  std::string schedule = "shift";  // shift | flat | peak
  std::string schedule_start;      // "" = now; "HH:MM" (UTC) = where the schedule clock starts
  std::string run_id;              // "" = random; part of every event_id so that runs don't collide
  std::string linger = "200ms";    // max time an event waits in a partly filled batch
};

// Registers the flags of `sluice gen` on `sub`, bound to `options`.
void AddGenOptions(CLI::App* sub, GenOptions& options);

// Runs until `stop` is set, --count events were generated or --duration elapsed. Returns the
// process exit code: 0 when every generated event was written or acknowledged by the server
// (accepted or duplicate), 1 when some were rejected or could not be sent, 2 for bad options.
// Never calls exit(); when posting, logs through spdlog and prints nothing on stdout.
int RunGen(const GenOptions& options, const std::atomic<bool>& stop);

}  // namespace sluice::app
