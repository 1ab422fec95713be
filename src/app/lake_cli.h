// `sluice lake verify`: checks the archive's tamper evidence (lake/hash_chain.h) of every
// table under the lake directory, offline (the server may be running: it only reads).
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

}  // namespace sluice::app
