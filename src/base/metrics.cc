#include "base/metrics.h"

#include <stdexcept>

#include <fmt/format.h>

namespace sluice {

Histogram::Histogram(std::vector<int64_t> upper_bounds_micros)
    : bounds_(std::move(upper_bounds_micros)),
      counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

std::vector<int64_t> Histogram::LatencyBuckets() {
  return {100,   250,   500,    1000,   2000,   5000,    10000,
          25000, 50000, 100000, 250000, 500000, 1000000, 10000000};
}

void Histogram::ObserveMicros(int64_t micros) {
  size_t i = 0;
  while (i < bounds_.size() && micros > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(micros, std::memory_order_relaxed);
}

MetricsRegistry::Family& MetricsRegistry::FamilyFor(const std::string& name, Kind kind,
                                                    const std::string& help) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.kind = kind;
    it->second.help = help;
  } else if (it->second.kind != kind) {
    throw std::logic_error("metric " + name + " registered with two different kinds");
  }
  return it->second;
}

Counter* MetricsRegistry::GetCounter(const std::string& name, const std::string& help,
                                     const std::string& labels) {
  std::lock_guard lock(mu_);
  auto& slot = FamilyFor(name, Kind::kCounter, help).counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return slot.get();
}

Gauge* MetricsRegistry::GetGauge(const std::string& name, const std::string& help,
                                 const std::string& labels) {
  std::lock_guard lock(mu_);
  auto& slot = FamilyFor(name, Kind::kGauge, help).gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return slot.get();
}

Histogram* MetricsRegistry::GetHistogram(const std::string& name, const std::string& help,
                                         const std::string& labels, std::vector<int64_t> bounds) {
  std::lock_guard lock(mu_);
  auto& slot = FamilyFor(name, Kind::kHistogram, help).histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(std::move(bounds));
  return slot.get();
}

namespace {
std::string Braced(const std::string& labels) {
  return labels.empty() ? "" : "{" + labels + "}";
}
std::string WithLabel(const std::string& labels, const std::string& extra) {
  return "{" + (labels.empty() ? extra : labels + "," + extra) + "}";
}
}  // namespace

std::string MetricsRegistry::RenderPrometheus() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    const char* type = f.kind == Kind::kCounter ? "counter"
                       : f.kind == Kind::kGauge ? "gauge"
                                                : "histogram";
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, type);
    for (const auto& [labels, c] : f.counters)
      out += fmt::format("{}{} {}\n", name, Braced(labels), c->value());
    for (const auto& [labels, g] : f.gauges)
      out += fmt::format("{}{} {}\n", name, Braced(labels), g->value());
    for (const auto& [labels, h] : f.histograms) {
      uint64_t cumulative = 0;
      for (size_t i = 0; i < h->bounds().size(); ++i) {
        cumulative += h->bucket_count(i);
        out += fmt::format("{}_bucket{} {}\n", name,
                           WithLabel(labels, fmt::format("le=\"{}\"", h->bounds()[i] / 1e6)),
                           cumulative);
      }
      cumulative += h->bucket_count(h->bounds().size());
      out += fmt::format("{}_bucket{} {}\n", name, WithLabel(labels, "le=\"+Inf\""), cumulative);
      out += fmt::format("{}_sum{} {}\n", name, Braced(labels), h->sum_micros() / 1e6);
      out += fmt::format("{}_count{} {}\n", name, Braced(labels), h->count());
    }
  }
  return out;
}

}  // namespace sluice
