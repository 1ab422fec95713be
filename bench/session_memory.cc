// Resident memory of SESSION windows: puts N distinct session keys (default 1,000,000) through
// a SESSION view's Aggregator and reports the process's resident memory (VmRSS from
// /proc/self/status), against the bar of 1 GiB for a million keys.
//
//   sluice_session_memory [--keys N] [--events-per-key E] [--mode open|expiring|tumble|tumble-kept]
//
// The view is an order's lifecycle (the example): per order_id, a 30-minute SESSION
// with count(*), first_value / last_value of the event type and sum of an amount. Each key gets
// E events (default 3) a few seconds apart; a "round" (TakeChanges(), building the changed
// rows, as the pipeline does) every 1,000 events and a checkpoint (TakeCheckpointChanges())
// every 100,000.
//   open:     emit = 'on_update' without retention, every key's events within the same half
//             hour: all N sessions are open at the end (the worst case, nothing can leave).
//   expiring: emit = 'on_close', keys arriving over 8 hours (a key's events together): closed
//             sessions leave memory once the watermark passes end + gap + allowed_lateness, so
//             memory follows the open sessions, not all keys ever seen.
//   tumble:   not a session: a 1-minute TUMBLE on_update view per order_id (count, sum), keys
//             over 8 hours, with a state reader as the pipeline sets (SetStateReader): a final
//             window's groups leave memory once checkpointed (here the checkpoint is thrown
//             away; the pipeline writes it to RocksDB and reads a group back for a late event).
//   tumble-kept: the same without a state reader: every group stays (the former behaviour).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "base/time.h"
#include "sql/parser.h"
#include "sql/planner.h"
#include "stream/aggregation.h"

namespace {

using namespace sluice;

class OneStream : public sql::PlannerCatalog {
 public:
  OneStream() { spec_.name = "fulfilment"; }
  const sql::StreamSpec* FindStream(std::string_view name) const override {
    return name == "fulfilment" ? &spec_ : nullptr;
  }
  std::vector<std::string> StreamNames() const override { return {"fulfilment"}; }
  bool IsView(std::string_view) const override { return false; }

 private:
  sql::StreamSpec spec_;
};

long ResidentKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t keys = 1'000'000;
  int events_per_key = 3;
  std::string mode = "open";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--keys") == 0) keys = std::atoll(argv[i + 1]);
    if (std::strcmp(argv[i], "--events-per-key") == 0) events_per_key = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--mode") == 0) mode = argv[i + 1];
  }
  if (mode != "open" && mode != "expiring" && mode != "tumble" && mode != "tumble-kept") {
    std::fprintf(stderr, "--mode must be open, expiring, tumble or tumble-kept\n");
    return 2;
  }
  const bool tumble = mode.starts_with("tumble");
  const std::string sql =
      tumble ? std::string(
                   "CREATE MATERIALIZED VIEW per_order AS SELECT order_id, window_start, "
                   "count(*) AS events, first_value(event_type) AS first_type, "
                   "last_value(event_type) AS last_type, sum(amount_minor) AS amount "
                   "FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE) "
                   "GROUP BY order_id, window_start")
             : std::string("CREATE MATERIALIZED VIEW order_sessions") +
                   (mode == "expiring" ? " WITH (emit = 'on_close')" : "") +
                   " AS SELECT order_id, window_start, window_end, count(*) AS events, "
                   "first_value(event_type) AS first_type, last_value(event_type) AS last_type, "
                   "sum(amount_minor) AS amount FROM SESSION(fulfilment, occurred_at, INTERVAL "
                   "'30' MINUTE) "
                   "GROUP BY order_id, window_start, window_end";
  auto statements = sql::Parse(sql);
  OneStream catalog;
  auto plan = sql::PlanView(std::get<sql::CreateMaterializedView>(statements->at(0).node), catalog);
  if (!plan.ok()) {
    std::fprintf(stderr, "%s\n", plan.status().ToString().c_str());
    return 1;
  }
  sql::FieldSet fields;
  auto aggregator = stream::Aggregator::Create(*plan, fields).value();
  if (mode == "tumble") {
    stream::Aggregator::StateReader nothing_stored;
    nothing_stored.read = [](std::string_view) -> Result<std::optional<std::string>> {
      return std::optional<std::string>();
    };
    nothing_stored.scan = [](std::string_view, std::vector<std::pair<std::string, std::string>>&) {
      return Status::Ok();
    };
    aggregator->SetStateReader(std::move(nothing_stored));
  }
  std::vector<sql::Value> values(fields.size());
  int order_slot = -1, type_slot = -1, amount_slot = -1;
  for (size_t i = 0; i < fields.size(); ++i) {
    const std::string& name = fields.path(static_cast<int>(i))[0].name;
    if (name == "order_id") order_slot = static_cast<int>(i);
    if (name == "event_type") type_slot = static_cast<int>(i);
    if (name == "amount_minor") amount_slot = static_cast<int>(i);
  }
  const char* types[] = {"order.received", "pick.started", "pick.completed", "order.shipped"};
  const long rss_before = ResidentKiB();
  const int64_t t0 = ParseRfc3339("2026-11-25T00:00:00Z").value();
  const int64_t span = mode == "open" ? 20 * kMicrosPerMinute : 8 * 60 * kMicrosPerMinute;
  const int64_t event_spacing = (tumble ? 1 : 7) * kMicrosPerSecond;
  std::vector<store::RowChange> changes;
  std::vector<std::pair<std::string, std::string>> checkpoint;
  size_t peak_groups = 0;
  long peak_rss = 0;
  char order[32];
  const auto started = std::chrono::steady_clock::now();
  int64_t n = 0;
  for (int64_t k = 0; k < keys; ++k) {
    // Keys arrive in time order (spread over `span`), each key's events a few seconds apart.
    const int64_t base = t0 + span * k / keys;
    std::snprintf(order, sizeof order, "ORD-%010lld", static_cast<long long>(k));
    values[static_cast<size_t>(order_slot)] = sql::Value::Varchar(order);
    for (int e = 0; e < events_per_key; ++e) {
      values[static_cast<size_t>(type_slot)] = sql::Value::Varchar(types[e % 4]);
      values[static_cast<size_t>(amount_slot)] = sql::Value::Bigint(100 * (e + 1));
      aggregator->Add(values, base + e * event_spacing);
      if (++n % 1000 == 0) {
        changes.clear();
        aggregator->TakeChanges(changes);
      }
      if (n % 100'000 == 0) {
        checkpoint.clear();
        aggregator->TakeCheckpointChanges(checkpoint);
        peak_groups = std::max(peak_groups, aggregator->group_count());
        peak_rss = std::max(peak_rss, ResidentKiB());
      }
    }
  }
  changes.clear();
  aggregator->TakeChanges(changes);
  checkpoint.clear();
  aggregator->TakeCheckpointChanges(checkpoint);
  checkpoint.shrink_to_fit();
  changes.shrink_to_fit();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const long rss_after = ResidentKiB();
  peak_rss = std::max(peak_rss, rss_after);
  peak_groups = std::max(peak_groups, aggregator->group_count());
  std::printf(
      "mode=%s keys=%lld events=%lld groups_in_memory=%zu (peak %zu) VmRSS before=%.1f MiB "
      "after=%.1f MiB peak=%.1f MiB (bar 1024 MiB) %.0f ns/event (with rounds and checkpoints)\n",
      mode.c_str(), static_cast<long long>(keys), static_cast<long long>(n),
      aggregator->group_count(), peak_groups, rss_before / 1024.0, rss_after / 1024.0,
      peak_rss / 1024.0, seconds * 1e9 / static_cast<double>(n));
  return peak_rss < 1024 * 1024 ? 0 : 1;
}
