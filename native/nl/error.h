// Plain C++ error type shared by every native layer (no N-API here).
#pragma once

#include <cerrno>
#include <stdexcept>
#include <string>

namespace nk {

// A failure of a system call or a kernel refusal. `err` is a positive errno value,
// `syscall` names the operation (a syscall such as "setns" or a netlink message
// type such as "RTM_NEWLINK"), `extack` carries the kernel's extended-ACK text.
class SysError : public std::runtime_error {
 public:
  SysError(int err, std::string syscall, std::string detail = "", std::string extack = "")
      : std::runtime_error(Describe(err, syscall, detail, extack)),
        err(err),
        syscall(std::move(syscall)),
        detail(std::move(detail)),
        extack(std::move(extack)) {}

  int err;
  std::string syscall;
  std::string detail;
  std::string extack;
  int opIndex = -1;  // index of the request in a pipelined transaction, -1 if none

  static std::string Describe(int err, const std::string& syscall, const std::string& detail,
                              const std::string& extack);
};

// Throws SysError(errno, syscall, detail) for the current errno.
[[noreturn]] void ThrowErrno(const std::string& syscall, const std::string& detail = "");

}  // namespace nk
