// For tests of the failure paths of store-backed views: committed rows that cannot be read (every
// read fails with IOError "the disk is gone").
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "store/view.h"

namespace sluice::test_support {

class UnreadableRows : public store::CommittedRows {
 public:
  class FailedCursor : public Cursor {
   public:
    void Seek(std::string_view) override {}
    bool Valid() const override { return false; }
    void Next() override {}
    std::string_view key() const override { return {}; }
    std::string_view row() const override { return {}; }
    Status status() const override { return Status::IOError("the disk is gone"); }
  };
  Result<std::optional<std::string>> Get(std::string_view) const override {
    return Status::IOError("the disk is gone");
  }
  std::unique_ptr<Cursor> Open() const override { return std::make_unique<FailedCursor>(); }
};

}  // namespace sluice::test_support
