// Names the calling thread (as `top -H`, `ps -L`, gdb and perf show it), so that an operator
// can tell the pipeline, commit and HTTP threads apart. Linux keeps the first 15 bytes.
#pragma once

#include <string>

namespace sluice {

void SetCurrentThreadName(const std::string& name);

}  // namespace sluice
