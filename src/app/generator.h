// The fulfilment event generator behind `sluice gen`, `sluice demo` and `sluice bench`.
//
// FulfilmentGenerator produces realistic business events of a fulfilment operation: orders
// that move through their lifecycle (received → payment.captured → allocated → pick.started →
// pick.completed → pack.completed → shipment.dispatched → carrier.charge →
// shipment.delivered), with occasional fulfilment.exception and refund.issued events, across
// 12 warehouses "WH-01".."WH-12", each with its own currency. Every event is a single-line
// JSON object of 0.8–3.2 KB (the size varies with the number of order lines, addresses, notes
// and metadata). Output is deterministic for a given seed and sequence of event times.
//
// The generator does no I/O and, once warm, no heap allocation per event beyond the growth of
// the caller's output string: orders live in a fixed-capacity pool of plain structs.
//
// The rate schedule (ScheduledRate) models a day of traffic: ~14 events/s on average with
// spikes to ~120 events/s around the shift changes at 06:00, 14:00 and 22:00 UTC.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sluice::app {

enum class EventType : uint8_t {
  kOrderReceived,
  kPaymentCaptured,
  kOrderAllocated,
  kPickStarted,
  kPickCompleted,
  kPackCompleted,
  kShipmentDispatched,
  kCarrierCharge,
  kShipmentDelivered,
  kFulfilmentException,
  kRefundIssued,
};
inline constexpr int kEventTypeCount = 11;

// "order.received", "payment.captured", ...
std::string_view EventTypeName(EventType type);
// payment.captured, refund.issued and carrier.charge: they carry amount_minor and currency.
bool IsFinancial(EventType type);

// The event_id is "evt-<id_tag>-<counter>" with the counter written as exactly this many
// digits, so that a caller can overwrite it in place (bench does, to reuse generated JSON).
inline constexpr size_t kEventIdDigits = 12;
// occurred_at is always "YYYY-MM-DDTHH:MM:SS.mmmZ": exactly this many characters.
inline constexpr size_t kOccurredAtWidth = 24;

struct GeneratorOptions {
  uint64_t seed = 1;
  // Distinguishes runs so that two runs with the same seed do not produce the same event ids
  // (the server deduplicates financial events by event_id). Empty: the seed in decimal.
  // Must be plain ASCII without quotes or backslashes.
  std::string id_tag;
  // When non-empty every event carries this warehouse_id instead of WH-01..WH-12 (bench uses a
  // dedicated warehouse per run). JSON-escaped on output.
  std::string warehouse_id;
  // Number of orders in flight the generator aims for.
  size_t active_orders = 256;
};

// What Append() wrote. Offsets are into the output string.
struct GeneratedEvent {
  EventType type;
  size_t begin;               // offset of the opening '{'
  size_t size;                // bytes of the event (no newline)
  size_t id_counter_offset;   // first of the kEventIdDigits counter digits inside event_id
  size_t occurred_at_offset;  // first of the kOccurredAtWidth characters of occurred_at
  size_t order_tag_offset;    // first of the 4 hex digits of order_id's tag ("ORD-<tag>-<n>")
  uint64_t counter;           // the value written in the event_id counter
  int warehouse_index;        // 0..11 (the base warehouse, also when warehouse_id is overridden)
};

class FulfilmentGenerator {
 public:
  explicit FulfilmentGenerator(uint64_t seed);
  explicit FulfilmentGenerator(GeneratorOptions options);

  // Appends one event as a single-line JSON object (no trailing newline) whose occurred_at is
  // `event_time_micros` (UTC, truncated to milliseconds).
  GeneratedEvent Append(std::string& out, int64_t event_time_micros);

  uint64_t events_generated() const { return counter_; }
  size_t active_orders() const { return orders_.size(); }
  const std::string& id_tag() const { return options_.id_tag; }

  // The 12 warehouse ids and their currencies ("WH-01" → "EUR", ...).
  static std::string_view WarehouseId(int index);
  static std::string_view WarehouseCurrency(int index);
  static constexpr int kWarehouses = 12;
  static constexpr int kMaxLines = 12;

 private:
  struct Line {
    uint16_t product;
    uint8_t quantity;
  };
  struct Order {
    uint64_t number;
    uint64_t customer;
    int64_t total_minor;
    int64_t shipping_minor;
    int64_t created_micros;
    uint32_t wave;
    uint32_t tote;
    uint16_t street;
    uint16_t house;
    uint8_t warehouse;
    uint8_t stage;  // the next lifecycle step (0 = order.received was not emitted yet)
    uint8_t line_count;
    uint8_t carrier;
    uint8_t service;
    uint8_t channel;
    uint8_t first_name;
    uint8_t last_name;
    uint8_t city;
    uint8_t parcels;
    uint8_t exceptions;
    uint8_t refund;  // 0 none, 1 stockout refund pending, 2 return refund pending (then done)
    uint8_t refund_line;
    Line lines[kMaxLines];
  };

  uint64_t Next();
  uint32_t Uniform(uint32_t n) { return static_cast<uint32_t>((Next() >> 32) * n >> 32); }
  double UniformDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return UniformDouble() < p; }

  void NewOrder(Order& order, int64_t now);
  size_t PickOrder(bool& created);

  // Event writers: all append to `out`.
  void WriteEnvelope(std::string& out, EventType type, const Order& order, int64_t now,
                     GeneratedEvent& info);
  void WriteBody(std::string& out, size_t begin, EventType type, Order& order, int64_t now,
                 int exception);
  void WriteLines(std::string& out, const Order& order, bool with_bins);
  void WriteAddress(std::string& out, std::string_view key, const Order& order);
  void WritePadding(std::string& out, size_t begin, size_t target, int64_t now);
  int64_t LineAmount(const Order& order, int line) const;
  int64_t ScaleMinor(const Order& order, int64_t eur_minor) const;

  GeneratorOptions options_;
  uint64_t state_[4];
  uint64_t counter_ = 0;
  uint64_t order_counter_ = 0;
  uint32_t order_tag_ = 0;
  int fixed_warehouse_ = -1;
  std::string escaped_warehouse_;  // the JSON string for options_.warehouse_id, with quotes
  std::vector<Order> orders_;      // capacity reserved up front, never grows
  size_t max_orders_;
};

// Writes `micros` as "YYYY-MM-DDTHH:MM:SS.mmmZ" (kOccurredAtWidth characters) into `dst`.
void FormatMillisTimestamp(int64_t micros, char* dst);
// Appends "YYYY-MM-DDTHH:MM:SSZ" for the minute containing `micros`, the way the server
// formats window_start.
void AppendMinuteStart(std::string& out, int64_t micros);
// Writes `value` as exactly `digits` decimal digits (zero-padded, high digits dropped).
void WriteFixedDigits(uint64_t value, char* dst, size_t digits);

// ---- Rate schedule ----

enum class Schedule {
  kShift,  // the realistic day: ~14 events/s average, ~120 events/s around shift changes
  kFlat,   // constant kAverageRate
  kPeak,   // constant kPeakRate
};
inline constexpr double kAverageRate = 14.0;
inline constexpr double kPeakRate = 120.0;

// "shift", "flat", "peak".
Result<Schedule> ParseSchedule(std::string_view name);

// Events per second the schedule asks for at `schedule_micros` (UTC). For kShift: the shift
// changes are at 06:00, 14:00 and 22:00 UTC; each spike runs from 5 minutes before to 15
// minutes after, ramping over 2 minutes at each edge, at kPeakRate. Outside the spikes the
// rate follows a gentle day/night curve so that the 24-hour average is kAverageRate.
double ScheduledRate(Schedule schedule, int64_t schedule_micros);

// Maps wall-clock time to schedule time: schedule = schedule_start + (wall - wall_start) *
// speedup. With speedup 60 an 8-hour shift passes in 8 minutes.
class ScheduleClock {
 public:
  ScheduleClock(int64_t wall_start_micros, int64_t schedule_start_micros, double speedup)
      : wall_start_(wall_start_micros), schedule_start_(schedule_start_micros), speedup_(speedup) {}
  int64_t ScheduleTime(int64_t wall_micros) const {
    return schedule_start_ +
           static_cast<int64_t>(static_cast<double>(wall_micros - wall_start_) * speedup_);
  }

 private:
  int64_t wall_start_;
  int64_t schedule_start_;
  double speedup_;
};

// Parses a time of day "HH:MM" (UTC) and returns the latest instant at or before
// `now_micros` with that time of day; used for --schedule-start.
Result<int64_t> ParseTimeOfDayBefore(std::string_view text, int64_t now_micros);

}  // namespace sluice::app
