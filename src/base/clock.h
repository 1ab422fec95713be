// Clock: the one source of "now" for everything time-driven (retention, window closing,
// checkpoint intervals, metrics). Production code takes a Clock& so tests can substitute a
// ManualClock and move time forward without waiting.
#pragma once

#include <atomic>
#include <cstdint>

namespace sluice {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in microseconds since the Unix epoch (UTC).
  virtual int64_t NowMicros() const = 0;
  // Monotonic time in microseconds, for measuring durations; unrelated to the epoch.
  virtual int64_t MonotonicMicros() const = 0;
};

// The real clock. `SystemClock::Default()` is shared and thread-safe.
class SystemClock final : public Clock {
 public:
  static SystemClock& Default();
  int64_t NowMicros() const override;
  int64_t MonotonicMicros() const override;
};

// A clock that only moves when told to; thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_micros = 0) : now_(now_micros) {}
  int64_t NowMicros() const override { return now_.load(std::memory_order_relaxed); }
  int64_t MonotonicMicros() const override { return NowMicros(); }
  void Set(int64_t now_micros) { now_.store(now_micros, std::memory_order_relaxed); }
  void Advance(int64_t micros) { now_.fetch_add(micros, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
};

inline constexpr int64_t kMicrosPerMilli = 1000;
inline constexpr int64_t kMicrosPerSecond = 1000 * 1000;
inline constexpr int64_t kMicrosPerMinute = 60 * kMicrosPerSecond;
inline constexpr int64_t kMicrosPerHour = 60 * kMicrosPerMinute;
inline constexpr int64_t kMicrosPerDay = 24 * kMicrosPerHour;

}  // namespace sluice
