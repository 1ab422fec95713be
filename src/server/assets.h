// The dashboard's files (web/ and the vendored uPlot build), embedded into the binary at build
// time so `sluice` is a single file to deploy.
#pragma once

#include <string_view>

namespace sluice::server {

struct Asset {
  std::string_view name;  // file name, e.g. "index.html", "app.js"
  std::string_view content_type;
  std::string_view data;
};

// The embedded file called `name`, or nullptr.
const Asset* FindAsset(std::string_view name);

}  // namespace sluice::server
