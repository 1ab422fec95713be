// For tests that plan views: a planner catalog holding one schemaless stream (`fulfilment`
// unless named).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sql/planner.h"

namespace sluice::test_support {

class OneStream : public sql::PlannerCatalog {
 public:
  OneStream() { spec_.name = "fulfilment"; }
  // A stream named `name`, archived to the lake or not.
  OneStream(std::string name, bool archive) {
    spec_.name = std::move(name);
    spec_.archive = archive;
  }
  const sql::StreamSpec* FindStream(std::string_view name) const override {
    return name == spec_.name ? &spec_ : nullptr;
  }
  std::vector<std::string> StreamNames() const override { return {spec_.name}; }
  bool IsView(std::string_view) const override { return false; }

 private:
  sql::StreamSpec spec_;
};

}  // namespace sluice::test_support
