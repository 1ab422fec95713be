#include "base/thread_priority.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace sluice {

Status SetCurrentThreadNice(int nice) {
  // PRIO_PROCESS with a thread id sets that thread's nice value only (Linux).
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  if (setpriority(PRIO_PROCESS, tid, nice) != 0)
    return Status::FailedPrecondition(
        fmt::format("cannot set the thread's nice value to {}: {}", nice, std::strerror(errno)));
  return Status::Ok();
}

}  // namespace sluice
