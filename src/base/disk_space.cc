#include "base/disk_space.h"

#include <sys/statvfs.h>

#include <cerrno>

namespace sluice {

Result<uint64_t> FreeDiskBytes(const std::string& path) {
  struct statvfs st;
  if (::statvfs(path.c_str(), &st) != 0) return Status::FromErrno("statvfs " + path, errno);
  return static_cast<uint64_t>(st.f_bavail) * static_cast<uint64_t>(st.f_frsize);
}

}  // namespace sluice
