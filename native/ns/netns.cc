#include "netns.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "../nl/error.h"
#include "thread.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif
#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

namespace nk::ns {

namespace {

void FillId(int fd, NsId* id) {
  struct stat st;
  if (::fstat(fd, &st) == 0 && id) {
    id->dev = st.st_dev;
    id->ino = st.st_ino;
  }
}

// Makes `dir` a shared mount point as iproute2 does, so named namespaces propagate to
// every mount namespace (and `ip netns` sees ours).
void PrepareDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) ThrowErrno("mkdir", dir);
  if (::mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) == 0) return;
  if (errno != EINVAL) ThrowErrno("mount", dir + " (make shared)");
  // Not a mount point yet: bind it onto itself, then make it shared.
  if (::mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr) != 0) ThrowErrno("mount", dir + " (bind)");
  if (::mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) != 0) ThrowErrno("mount", dir + " (make shared)");
}

}  // namespace

int CreateNamed(const std::string& dir, const std::string& name, NsId* id) {
  {
    // Two workers preparing at once would both bind-mount the directory onto itself.
    static std::mutex mu;
    std::lock_guard<std::mutex> lk(mu);
    PrepareDir(dir);
  }
  std::string path = dir + "/" + name;
  int f = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (f < 0) ThrowErrno("open", path);
  ::close(f);
  if (::unshare(CLONE_NEWNET) != 0) {
    int e = errno;
    ::unlink(path.c_str());
    throw SysError(e, "unshare", "CLONE_NEWNET");
  }
  // This worker now lives in the new namespace until ReturnHome().
  int fd = -1;
  int err = 0;
  std::string what;
  if (::mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
    err = errno;
    what = "mount";
  } else {
    fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      err = errno;
      what = "open";
      ::umount2(path.c_str(), MNT_DETACH);
    }
  }
  ReturnHome();
  if (fd < 0) {
    ::unlink(path.c_str());
    throw SysError(err, what, path);
  }
  FillId(fd, id);
  return fd;
}

int OpenNetns(const std::string& path, NsId* id) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) ThrowErrno("open", path);
  struct statfs sfs;
  if (::fstatfs(fd, &sfs) != 0 || (sfs.f_type != NSFS_MAGIC && sfs.f_type != PROC_SUPER_MAGIC)) {
    ::close(fd);
    throw SysError(EINVAL, "open", path + " is not a namespace file");
  }
  int type = ::ioctl(fd, NS_GET_NSTYPE);
  if (type != CLONE_NEWNET) {
    ::close(fd);
    throw SysError(EINVAL, "open", path + " is not a network namespace");
  }
  FillId(fd, id);
  return fd;
}

bool DeleteNamed(const std::string& dir, const std::string& name) {
  std::string path = dir + "/" + name;
  ::umount2(path.c_str(), MNT_DETACH);  // EINVAL if not mounted: fine, still unlink
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return false;
    ThrowErrno("unlink", path);
  }
  return true;
}

void SysctlDirs::Clear() {
  for (auto& [name, fd] : dirs_) ::close(fd);
  dirs_.clear();
  if (net_ >= 0) ::close(net_);
  net_ = -1;
  netTried_ = false;
}

namespace {

// sys/net of a procfs instance of our own (fsopen + fsmount: a new superblock on kernels since
// 5.8, mounted nowhere, gone with its last open file). The kernel hashes a dentry by its parent
// and name, so in one procfs every namespace's /proc/sys/net/ipv6 (one dentry per namespace, told
// apart by proc_sys_compare under sysctl_lock) shares one hash chain: a namespace's first lookup
// walks it three times, 1-2 ms with 1,000 namespaces (strace and perf, bench/README.md). Through
// an instance that only this namespace's lookups use, the chain holds its own dentry alone.
// Read-only where /proc/sys is (a container's policy is kept). The syscalls by number: glibc
// has wrappers only since 2.36, musl none. Returns the fd, or -errno where mounting is not
// allowed or not possible (no CAP_SYS_ADMIN, a seccomp filter, a kernel before 5.2, no fds):
// the caller then opens /proc/sys/net as before.
int OpenOwnProcSysNet() {
#if defined(__NR_fsopen) && defined(__NR_fsconfig) && defined(__NR_fsmount)
  constexpr unsigned kFsopenCloexec = 0x1, kFsmountCloexec = 0x1, kCmdCreate = 6;
  constexpr unsigned kAttrRdonly = 0x1, kAttrNosuid = 0x2, kAttrNodev = 0x4, kAttrNoexec = 0x8;
  struct statvfs sv;
  bool readOnly = ::statvfs("/proc/sys", &sv) == 0 && (sv.f_flag & ST_RDONLY);
  int fs = static_cast<int>(::syscall(__NR_fsopen, "proc", kFsopenCloexec));
  if (fs < 0) return -errno;
  int mnt = -1;
  if (::syscall(__NR_fsconfig, fs, kCmdCreate, nullptr, nullptr, 0) == 0)
    mnt = static_cast<int>(::syscall(__NR_fsmount, fs, kFsmountCloexec,
                                     kAttrNosuid | kAttrNodev | kAttrNoexec | (readOnly ? kAttrRdonly : 0)));
  int e = errno;
  ::close(fs);
  if (mnt < 0) return -e;
  int net = ::openat(mnt, "sys/net", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  e = errno;
  ::close(mnt);  // the open directory keeps the instance
  return net >= 0 ? net : -e;
#else
  return -ENOSYS;
#endif
}

// A failure that may pass (no fds or memory for now): tried again at the next first lookup.
bool Transient(int err) { return err == EMFILE || err == ENFILE || err == ENOMEM || err == ENOSPC; }

}  // namespace

int SysctlDirs::Open(const std::string& rel, int flags) {
  std::string path = "/proc/sys/net/" + rel;
  // Callers validate keys; an empty component would make `rest` absolute, and openat would then
  // ignore the directory it is given.
  if (rel.empty() || rel[0] == '/' || rel.find("//") != std::string::npos) throw SysError(EINVAL, "open", path);
  size_t slash = rel.find('/');
  if (slash != std::string::npos && slash > 0) {
    std::string first = rel.substr(0, slash), rest = rel.substr(slash + 1);
    for (int attempt = 0; attempt < 2; attempt++) {
      auto it = dirs_.find(first);
      if (it == dirs_.end()) {
        if (!netTried_) {
          int r = OpenOwnProcSysNet();
          if (r >= 0) net_ = r;
          netTried_ = r >= 0 || !Transient(-r);
        }
        int d = net_ >= 0 ? ::openat(net_, first.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                          : ::open(("/proc/sys/net/" + first).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d < 0) break;  // the full path says why
        it = dirs_.emplace(first, d).first;
      }
      int fd = ::openat(it->second, rest.c_str(), flags | O_CLOEXEC);
      if (fd >= 0) return fd;
      if (errno != ENOENT || attempt) ThrowErrno("open", path);
      // A directory unregistered since (a module unloaded): open it again once.
      ::close(it->second);
      dirs_.erase(it);
    }
  }
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) ThrowErrno("open", path);
  return fd;
}

std::string SysctlRead(int nsfd, SysctlDirs& dirs, const std::string& rel) {
  // Inside the namespace for the open (/proc/sys/net shows the namespace of the task that looks)
  // and the read (a few handlers of older kernels read current's namespace, not the file's).
  InNetns in(nsfd);
  int fd = dirs.Open(rel, O_RDONLY);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      throw SysError(e, "read", "/proc/sys/net/" + rel);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

void SysctlWrite(int nsfd, SysctlDirs& dirs, const std::string& rel, const std::string& value) {
  // Inside the namespace for the open and the write: before the kernel's fixes of January 2025
  // ("sysctl: avoid using current->nsproxy"), sctp, mptcp and rds handlers applied a write to
  // the writer's current namespace.
  InNetns in(nsfd);
  int fd = dirs.Open(rel, O_WRONLY);
  std::string v = value + "\n";
  ssize_t n = ::write(fd, v.data(), v.size());
  int e = errno;
  ::close(fd);
  if (n < 0) throw SysError(e, "write", "/proc/sys/net/" + rel);
}

}  // namespace nk::ns
