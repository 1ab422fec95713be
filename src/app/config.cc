#include "app/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include "base/time.h"

namespace sluice::app {
namespace {

Status Unknown(const std::string& path, const std::string& key) {
  return Status::InvalidArgument(fmt::format("{}: unknown setting '{}'", path, key));
}

template <typename T>
Status ReadInt(const std::string& path, const std::string& key, const toml::node& node, T& out,
               int64_t min, int64_t max) {
  auto v = node.value<int64_t>();
  if (!v || *v < min || *v > max)
    return Status::InvalidArgument(
        fmt::format("{}: '{}' must be an integer in [{}, {}]", path, key, min, max));
  out = static_cast<T>(*v);
  return Status::Ok();
}

Status ReadDuration(const std::string& path, const std::string& key, const toml::node& node,
                    int64_t& out) {
  auto v = node.value<std::string>();
  if (!v)
    return Status::InvalidArgument(
        fmt::format("{}: '{}' must be a string like \"7 days\"", path, key));
  auto d = ParseDuration(*v);
  if (!d.ok())
    return Status::InvalidArgument(fmt::format("{}: '{}': {}", path, key, d.status().message()));
  out = d.value();
  return Status::Ok();
}

// A byte size: an integer, or a string "<number> <unit>" with B, KiB, MiB, GiB (or KB, MB, GB
// as powers of 1000).
Status ReadBytes(const std::string& path, const std::string& key, const toml::node& node,
                 int64_t& out, int64_t min, int64_t max) {
  int64_t bytes = 0;
  if (auto i = node.value<int64_t>()) {
    bytes = *i;
  } else if (auto text = node.value<std::string>()) {
    std::string_view s = *text;
    size_t i = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    std::string_view unit = s.substr(i);
    while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
    static constexpr std::pair<std::string_view, int64_t> kUnits[] = {{"", 1},
                                                                      {"B", 1},
                                                                      {"KiB", 1ll << 10},
                                                                      {"MiB", 1ll << 20},
                                                                      {"GiB", 1ll << 30},
                                                                      {"KB", 1000},
                                                                      {"MB", 1000 * 1000},
                                                                      {"GB", 1000 * 1000 * 1000}};
    int64_t multiplier = 0;
    for (const auto& [name, m] : kUnits)
      if (unit == name) multiplier = m;
    if (i == 0 || i > 12 || multiplier == 0)
      return Status::InvalidArgument(
          fmt::format("{}: '{}' must be a size like \"128 MiB\" or a number of bytes", path, key));
    bytes = std::stoll(std::string(s.substr(0, i))) * multiplier;
  } else {
    return Status::InvalidArgument(
        fmt::format("{}: '{}' must be a size like \"128 MiB\" or a number of bytes", path, key));
  }
  if (bytes < min || bytes > max)
    return Status::InvalidArgument(
        fmt::format("{}: '{}' must be between {} and {} bytes", path, key, min, max));
  out = bytes;
  return Status::Ok();
}

}  // namespace

Status LoadConfigFile(const std::string& path, Config& config) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(fmt::format("{}:{}:{}: {}", path, e.source().begin.line,
                                               e.source().begin.column, e.description()));
  }
  for (auto& [k, node] : root) {
    std::string key(k.str());
    if (key == "data_dir") {
      auto v = node.value<std::string>();
      if (!v) return Status::InvalidArgument(path + ": 'data_dir' must be a string");
      config.data_dir = *v;
    } else if (key == "http" && node.is_table()) {
      for (auto& [hk, hn] : *node.as_table()) {
        std::string name = "http." + std::string(hk.str());
        if (hk == "address") {
          auto v = hn.value<std::string>();
          if (!v) return Status::InvalidArgument(path + ": 'http.address' must be a string");
          config.http_address = *v;
        } else if (hk == "port") {
          SLUICE_RETURN_IF_ERROR(ReadInt(path, name, hn, config.http_port, 0, 65535));
        } else if (hk == "threads") {
          SLUICE_RETURN_IF_ERROR(ReadInt(path, name, hn, config.http_threads, 1, 256));
        } else if (hk == "max_body_bytes_in_memory") {
          SLUICE_RETURN_IF_ERROR(ReadInt(path, name, hn, config.http_max_body_bytes_in_memory,
                                         1 << 20, int64_t{1} << 40));
        } else if (hk == "websocket_ping_seconds") {
          SLUICE_RETURN_IF_ERROR(
              ReadInt(path, name, hn, config.http_websocket_ping_seconds, 1, 3600));
        } else {
          return Unknown(path, name);
        }
      }
    } else if (key == "log" && node.is_table()) {
      for (auto& [lk, ln] : *node.as_table()) {
        std::string name = "log." + std::string(lk.str());
        if (lk == "partitions") {
          SLUICE_RETURN_IF_ERROR(ReadInt(path, name, ln, config.log_partitions, 1, 1024));
        } else if (lk == "segment_bytes") {
          SLUICE_RETURN_IF_ERROR(
              ReadInt(path, name, ln, config.log_segment_bytes, 1 << 16, int64_t{1} << 40));
        } else if (lk == "disk_reserve_bytes") {
          SLUICE_RETURN_IF_ERROR(
              ReadInt(path, name, ln, config.log_disk_reserve_bytes, 0, int64_t{1} << 40));
        } else if (lk == "retention") {
          SLUICE_RETURN_IF_ERROR(ReadDuration(path, name, ln, config.log_retention_micros));
        } else if (lk == "housekeeping_interval") {
          SLUICE_RETURN_IF_ERROR(ReadDuration(path, name, ln, config.housekeeping_interval_micros));
        } else {
          return Unknown(path, name);
        }
      }
    } else if (key == "pipeline" && node.is_table()) {
      for (auto& [pk, pn] : *node.as_table()) {
        std::string name = "pipeline." + std::string(pk.str());
        if (pk == "checkpoint_interval") {
          SLUICE_RETURN_IF_ERROR(ReadDuration(path, name, pn, config.checkpoint_interval_micros));
        } else {
          return Unknown(path, name);
        }
      }
    } else if (key == "lake" && node.is_table()) {
      for (auto& [lk, ln] : *node.as_table()) {
        std::string name = "lake." + std::string(lk.str());
        if (lk == "dir") {
          auto v = ln.value<std::string>();
          if (!v) return Status::InvalidArgument(path + ": 'lake.dir' must be a string");
          config.lake_dir = *v;
        } else if (lk == "commit_interval") {
          SLUICE_RETURN_IF_ERROR(ReadDuration(path, name, ln, config.lake_commit_interval_micros));
        } else if (lk == "archive_retention") {
          SLUICE_RETURN_IF_ERROR(
              ReadDuration(path, name, ln, config.lake_archive_retention_micros));
        } else if (lk == "view_commit_interval") {
          SLUICE_RETURN_IF_ERROR(
              ReadDuration(path, name, ln, config.lake_view_commit_interval_micros));
        } else if (lk == "view_retention") {
          SLUICE_RETURN_IF_ERROR(ReadDuration(path, name, ln, config.lake_view_retention_micros));
        } else if (lk == "commit_bytes") {
          SLUICE_RETURN_IF_ERROR(
              ReadBytes(path, name, ln, config.lake_commit_bytes, 1 << 20, int64_t{1} << 40));
        } else if (lk == "row_group_bytes") {
          SLUICE_RETURN_IF_ERROR(
              ReadBytes(path, name, ln, config.lake_row_group_bytes, 1 << 20, int64_t{1} << 40));
        } else if (lk == "zstd_literals") {
          auto v = ln.value<bool>();
          if (!v)
            return Status::InvalidArgument(path + ": 'lake.zstd_literals' must be true or false");
          config.lake_zstd_literals = *v;
        } else if (lk == "archive_nice") {
          SLUICE_RETURN_IF_ERROR(ReadInt(path, name, ln, config.lake_archive_nice, 0, 19));
        } else if (lk == "zstd_level") {
          SLUICE_RETURN_IF_ERROR(ReadInt(path, name, ln, config.lake_zstd_level, -7, 19));
        } else if (lk == "snapshot_retention") {
          SLUICE_RETURN_IF_ERROR(
              ReadDuration(path, name, ln, config.lake_snapshot_retention_micros));
        } else if (lk == "hourly_snapshot_retention") {
          SLUICE_RETURN_IF_ERROR(
              ReadDuration(path, name, ln, config.lake_hourly_snapshot_retention_micros));
        } else {
          return Unknown(path, name);
        }
      }
    } else if (key == "streams" && node.is_table()) {
      for (auto& [sk, sn] : *node.as_table()) {
        const std::string stream = "streams." + std::string(sk.str());
        if (sk != "fulfilment" || !sn.is_table()) return Unknown(path, stream);
        for (auto& [fk, fn] : *sn.as_table()) {
          const std::string name = stream + "." + std::string(fk.str());
          if (fk == "archive") {
            auto v = fn.value<bool>();
            if (!v)
              return Status::InvalidArgument(
                  fmt::format("{}: '{}' must be true or false", path, name));
            config.fulfilment_archive = *v;
            continue;
          }
          if (fk != "subject") return Unknown(path, name);
          auto v = fn.value<std::string>();
          if (!v)
            return Status::InvalidArgument(fmt::format("{}: '{}' must be a string", path, name));
          config.fulfilment_subject = *v;
        }
      }
    } else {
      return Unknown(path, key);
    }
  }
  return Status::Ok();
}

}  // namespace sluice::app
