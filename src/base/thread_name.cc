#include "base/thread_name.h"

#include <pthread.h>

namespace sluice {

void SetCurrentThreadName(const std::string& name) {
  // A failure (the name is only a diagnostic aid) is not worth reporting.
  (void)pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace sluice
