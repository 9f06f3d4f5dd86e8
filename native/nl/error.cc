#include "error.h"

#include <cstring>

namespace nk {

std::string SysError::Describe(int err, const std::string& syscall, const std::string& detail,
                               const std::string& extack) {
  std::string s = syscall;
  if (!detail.empty()) s += " " + detail;
  s += ": ";
  s += std::strerror(err);
  if (!extack.empty()) s += " (" + extack + ")";
  return s;
}

void ThrowErrno(const std::string& syscall, const std::string& detail) { throw SysError(errno, syscall, detail); }

}  // namespace nk
