// sluice: the command-line entry point. Subcommands: serve, demo, gen, bench, sql.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "app/bench.h"
#include "app/config.h"
#include "app/demo_views.h"
#include "app/engine.h"
#include "app/gen.h"
#include "app/lake_cli.h"
#include "app/sql_cli.h"
#include "base/clock.h"

namespace sluice::app {
namespace {

struct ServeFlags {
  std::string config_file;
  std::string data_dir;
  int http_port = -1;
  std::string log_level = "info";
};

void AddServeFlags(CLI::App* cmd, ServeFlags& flags) {
  cmd->add_option("--config", flags.config_file, "TOML configuration file (optional)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--data-dir", flags.data_dir, "Data directory (default ./sluice-data)");
  cmd->add_option("--http-port", flags.http_port, "HTTP port (default 8080; 0 picks a free one)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--log-level", flags.log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
}

Result<Config> ResolveConfig(const ServeFlags& flags) {
  Config config;
  if (!flags.config_file.empty()) SLUICE_RETURN_IF_ERROR(LoadConfigFile(flags.config_file, config));
  if (!flags.data_dir.empty()) config.data_dir = flags.data_dir;
  if (flags.http_port >= 0) config.http_port = static_cast<uint16_t>(flags.http_port);
  return config;
}

// Blocks SIGINT/SIGTERM in every thread (call before starting any), so main can sigwait.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// What `sluice demo` adds to `sluice serve`.
struct DemoOptions {
  bool views = false;      // the dashboard's views (demo_views.h)
  bool generator = false;  // the built-in event generator
  GenOptions gen;
};

// Creates the demo's views that do not exist yet; a failure is reported, not fatal (the server
// still serves the rest).
void EnsureDemoViews(Engine& engine) {
  for (std::string_view statement : DemoSqlStatements()) {
    Engine::SqlResult result = engine.ExecuteSql(statement);
    if (result.status != 200)
      spdlog::error("demo view not created ({}): {}", result.status, result.body);
  }
}

int Serve(const ServeFlags& flags, const DemoOptions& demo) {
  spdlog::set_level(spdlog::level::from_str(flags.log_level));
  auto config = ResolveConfig(flags);
  if (!config.ok()) {
    spdlog::error("{}", config.status().message());
    return 2;
  }
  sigset_t stop_signals = BlockStopSignals();
  auto engine = Engine::Open(config.value(), SystemClock::Default());
  if (!engine.ok()) {
    spdlog::error("cannot open the engine: {}", engine.status().ToString());
    return 1;
  }
  if (Status st = engine.value()->Start(); !st.ok()) {
    spdlog::error("cannot start: {}", st.ToString());
    return 1;
  }
  if (demo.views) EnsureDemoViews(*engine.value());
  const uint16_t port = engine.value()->http_port();
  spdlog::info("sluice serving on port {} with data in {}", port, config->data_dir);
  std::printf("Dashboard: http://127.0.0.1:%u/\n", port);
  std::fflush(stdout);

  std::atomic<bool> stop_generator{false};
  std::thread generator;
  if (demo.generator) {
    GenOptions options = demo.gen;
    options.url = fmt::format("http://127.0.0.1:{}", port);
    generator = std::thread([options, &stop_generator] { RunGen(options, stop_generator); });
  }

  int signal = 0;
  sigwait(&stop_signals, &signal);
  spdlog::info("received {}, shutting down", signal == SIGINT ? "SIGINT" : "SIGTERM");
  stop_generator = true;
  if (generator.joinable()) generator.join();
  engine.value()->Stop();
  return 0;
}

}  // namespace
}  // namespace sluice::app

int main(int argc, char** argv) {
  using namespace sluice::app;
  CLI::App app{"Sluice: real-time operational analytics on business events, in one process"};
  app.require_subcommand(1);

  ServeFlags serve_flags;
  CLI::App* serve = app.add_subcommand(
      "serve", "Run the engine: HTTP ingest, durable log, pipelines, views, dashboard");
  AddServeFlags(serve, serve_flags);

  ServeFlags demo_flags;
  DemoOptions demo_options{.views = true, .generator = true};
  demo_options.gen.speedup = 30;  // shift-change spikes every few minutes instead of every 8 hours
  bool no_generator = false;
  CLI::App* demo = app.add_subcommand(
      "demo",
      "serve plus the dashboard's views and the built-in fulfilment event generator; prints the "
      "dashboard URL");
  AddServeFlags(demo, demo_flags);
  demo->add_option("--speedup", demo_options.gen.speedup,
                   "How much faster than real time the shift schedule runs (default 30)");
  demo->add_option("--seed", demo_options.gen.seed, "Generator seed");
  demo->add_flag("--no-generator", no_generator,
                 "The demo's views without its generator (what `make bench` measures)");

  GenOptions gen_options;
  CLI::App* gen = app.add_subcommand(
      "gen", "Generate realistic fulfilment events: NDJSON to stdout, or POST them to a server");
  AddGenOptions(gen, gen_options);

  BenchOptions bench_options;
  CLI::App* bench = app.add_subcommand(
      "bench", "Benchmark a running server: end-to-end latency or ingest throughput");
  AddBenchOptions(bench, bench_options);

  SqlCliOptions sql_options;
  CLI::App* sql = app.add_subcommand(
      "sql", "Run SQL statements on a running server (DDL, SHOW, DESCRIBE) and print the results");
  AddSqlCliOptions(sql, sql_options);

  LakeVerifyOptions lake_verify_options;
  CLI::App* lake = app.add_subcommand("lake", "The lake: the archive's Iceberg tables");
  lake->require_subcommand(1);
  CLI::App* lake_verify = lake->add_subcommand(
      "verify",
      "Check that every data file the archive committed is unchanged and present (its SHA-256 "
      "hash chain); exit 1 when one is not");
  AddLakeVerifyOptions(lake_verify, lake_verify_options);

  ReplayOptions replay_options;
  CLI::App* replay = app.add_subcommand(
      "replay",
      "Send archived events from the lake back into a stream of a running server (e.g. to "
      "rebuild a view over history the log no longer holds)");
  AddReplayOptions(replay, replay_options);

  CLI11_PARSE(app, argc, argv);

  if (*serve) return Serve(serve_flags, DemoOptions{});
  if (*demo) {
    demo_options.generator = !no_generator;
    return Serve(demo_flags, demo_options);
  }
  if (*gen) {
    std::atomic<bool> never{false};
    return RunGen(gen_options, never);
  }
  if (*bench) return RunBench(bench_options);
  if (*sql) return RunSqlCli(sql_options);
  if (*lake_verify) return RunLakeVerify(lake_verify_options);
  if (*replay) return RunReplay(replay_options);
  return 0;
}
