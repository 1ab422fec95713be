// The CPU priority of the calling thread, for background work that must yield the CPU to
// latency-sensitive threads when the cores are all busy (and use them fully when they are not).
#pragma once

#include "base/status.h"

namespace sluice {

// Sets the calling thread's nice value (Linux: per thread; 0 is the default, 19 the lowest
// priority). Threads the caller starts afterwards inherit it. Raising the priority (a value
// below the current one) needs privileges: an error then, and the thread keeps its priority.
Status SetCurrentThreadNice(int nice);

}  // namespace sluice
