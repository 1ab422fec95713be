#include "log/log.h"

#include <gtest/gtest.h>

namespace sluice::log {
namespace {
TEST(LogPlaceholder, Builds) { SUCCEED(); }
}  // namespace
}  // namespace sluice::log
