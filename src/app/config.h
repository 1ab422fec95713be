// Engine configuration: built-in defaults that work with no file at all, optionally overridden
// by a TOML file and then by command-line flags.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace sluice::app {

struct Config {
  std::string data_dir = "./sluice-data";
  std::string http_address = "0.0.0.0";
  uint16_t http_port = 8080;
  int http_threads = 2;
  int64_t http_max_body_bytes_in_memory = 512ll << 20;  // beyond: 503 + Retry-After
  int http_websocket_ping_seconds = 30;  // an idle WebSocket subscriber is pinged this often
  uint32_t log_partitions = 4;
  uint64_t log_segment_bytes = 128ull << 20;
  // Ingest answers 507 while less than this is free, keeping room for RocksDB (disk_space.h).
  int64_t log_disk_reserve_bytes = 256ll << 20;
  int64_t log_retention_micros = 7ll * 24 * 3600 * 1000 * 1000;
  int64_t checkpoint_interval_micros = 1000 * 1000;
  int64_t housekeeping_interval_micros = 60ll * 1000 * 1000;
  // The registry subject the default `fulfilment` stream validates against; "" = none.
  std::string fulfilment_subject = "fulfilment-value";
  // Whether the default `fulfilment` stream is archived to the lake (stream/archive.h).
  bool fulfilment_archive = true;
  // The lake (stream/archive.h): "" = <data_dir>/lake.
  std::string lake_dir;
  int64_t lake_commit_interval_micros = 10ll * 1000 * 1000;
  int64_t lake_archive_retention_micros = 90ll * 24 * 3600 * 1000 * 1000;
  // Views created with lake = 'on' (stream/view_table.h): how often their rows are committed
  // (when they changed), and how long their snapshots are kept.
  int64_t lake_view_commit_interval_micros = 60ll * 1000 * 1000;
  int64_t lake_view_retention_micros = 7ll * 24 * 3600 * 1000 * 1000;
  int64_t lake_commit_bytes = 256ll << 20;     // raw event bytes buffered that force a commit
  int64_t lake_row_group_bytes = 128ll << 20;  // Parquet row group target (compressed)
  int lake_zstd_level = 1;
  // Off by default: ZSTD ~35% faster on events, files ~25% larger (still ~4.7x smaller than
  // the JSON), so that the archive keeps up at 110,000 events/s on 2 cores (PERFORMANCE.md).
  bool lake_zstd_literals = false;
  // The archive threads' nice value: they yield the CPU to ingest and the views when the cores
  // are all busy, and catch up after (stream/archive.h; docs/PERFORMANCE.md).
  int lake_archive_nice = 10;
  // Archive snapshots: all kept this long, then the last of each hour for the second (time
  // travel granularity; stream/archive.h).
  int64_t lake_snapshot_retention_micros = 3600ll * 1000 * 1000;
  int64_t lake_hourly_snapshot_retention_micros = 7ll * 24 * 3600 * 1000 * 1000;
};

// Reads a TOML file over `config`. Unknown keys are an error (a typo must not silently fall back
// to a default). Recognised keys:
//   data_dir = "./sluice-data"
//   [http]     address = "0.0.0.0", port = 8080, threads = 2, websocket_ping_seconds = 30
//   [log]      partitions = 4, segment_bytes = 134217728, retention = "7 days",
//              housekeeping_interval = "1m"
//   [pipeline] checkpoint_interval = "1s"
//   [lake]     dir = "<data_dir>/lake", commit_interval = "10s", archive_retention = "90 days",
//              view_commit_interval = "1m", view_retention = "7 days",
//              commit_bytes = "256 MiB", row_group_bytes = "128 MiB", zstd_level = 1,
//              zstd_literals = false, archive_nice = 10,
//              snapshot_retention = "1 hour", hourly_snapshot_retention = "7 days"
//   [streams.fulfilment] subject = "fulfilment-value"   ("" = no schema validation),
//                        archive = true
Status LoadConfigFile(const std::string& path, Config& config);

}  // namespace sluice::app
