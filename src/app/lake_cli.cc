#include "app/lake_cli.h"

#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "lake/hash_chain.h"

namespace sluice::app {
namespace fs = std::filesystem;

void AddLakeVerifyOptions(CLI::App* verify, LakeVerifyOptions& options) {
  verify->add_option("--data-dir", options.data_dir, "Data directory (default ./sluice-data)");
  verify->add_option("--lake-dir", options.lake_dir, "Lake directory (default <data-dir>/lake)");
  verify->add_option("--table", options.table, "Only this table (default: every table)");
}

int RunLakeVerify(const LakeVerifyOptions& options) {
  const fs::path lake =
      options.lake_dir.empty() ? fs::path(options.data_dir) / "lake" : fs::path(options.lake_dir);
  std::vector<fs::path> tables;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(lake, ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory() || name.starts_with('.')) continue;
    if (!options.table.empty() && name != options.table) continue;
    if (fs::exists(e.path() / "sluice-hash-chain.jsonl")) tables.push_back(e.path());
  }
  if (tables.empty()) {
    std::cerr << fmt::format("sluice lake verify: no archive table{} under {}\n",
                             options.table.empty() ? "" : " named " + options.table, lake.string());
    return 2;
  }
  int status = 0;
  for (const fs::path& table : tables) {
    Result<lake::VerifyReport> report =
        lake::Verify((table / "sluice-hash-chain.jsonl").string(), table.string());
    if (!report.ok()) {
      std::cerr << fmt::format("sluice lake verify: {}: {}\n", table.filename().string(),
                               report.status().ToString());
      status = 2;
      continue;
    }
    std::string line = report->ToJson();
    line.insert(1, fmt::format("\"table\":\"{}\",", table.filename().string()));
    std::cout << line << "\n";
    if (!report->ok() && status == 0) status = 1;
  }
  return status;
}

}  // namespace sluice::app
