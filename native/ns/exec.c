/* nk-exec: runs a command inside a network namespace, for Namespace.spawn().
 *
 *   nk-exec NSPATH [--status-fd FD] [--name NAME] [--caps LIST] -- COMMAND [ARGS...]
 *
 * NSPATH "-" stays in the current namespace (no setns, no mount namespace): with --caps, the
 * companion process is started that way.
 *
 * Opens NSPATH (O_CLOEXEC), setns(CLONE_NEWNET), closes it, then as `ip netns exec` does:
 * a private mount namespace with /sys remounted (so /sys/class/net shows this namespace)
 * and each file of /etc/netns/NAME bind-mounted over /etc/ when NAME is given; then execvp. No
 * namespace fd survives into the command. Exit status 127 (with a message) when the
 * command cannot be started, 126 when the namespace cannot be entered.
 *
 * --status-fd: a pipe to the parent, made close-on-exec here: a successful exec closes it
 * without a word; a failure writes "STAGE ERRNO\n" to it first (STAGE: open, setns or exec),
 * so the parent can report the failure as child_process.spawn does (an 'error' event with
 * ENOENT, EACCES, ...). The command never sees the fd.
 *
 * --caps LIST (e.g. "net_admin,net_bind_service,sys_admin"): the command keeps only these
 * capabilities. Every other one leaves the bounding set (PR_CAPBSET_DROP, which needs
 * CAP_SETPCAP: root has it) and the ambient, inheritable, permitted and effective sets (capset),
 * so the kernel's execve rules for root give the command exactly LIST, and nothing can get the
 * others back. A non-root caller's kept capabilities are raised as ambient so they survive exec.
 * Done here, single-threaded, because capsets are per thread: a Node process cannot drop them
 * for its threads already running. Failure reports STAGE "caps". */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int status_fd = -1;

static int fail(int code, const char* what, const char* arg) {
  int err = errno;
  if (status_fd >= 0) {
    /* The parent reports it (an 'error' event): no message of our own on its stderr. */
    dprintf(status_fd, "%s %d\n", what, err);
    return code;
  }
  fprintf(stderr, "nk-exec: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(err));
  return code;
}

static void bind_etc(const char* name) {
  char dir[4096];
  snprintf(dir, sizeof(dir), "/etc/netns/%s", name);
  DIR* d = opendir(dir);
  if (!d) return;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char src[8192], dst[8192];
    snprintf(src, sizeof(src), "%s/%s", dir, e->d_name);
    snprintf(dst, sizeof(dst), "/etc/%s", e->d_name);
    if (mount(src, dst, "none", MS_BIND, NULL) != 0)
      fprintf(stderr, "nk-exec: bind %s -> %s: %s\n", src, dst, strerror(errno));
  }
  closedir(d);
}

static const struct {
  const char* name;
  int cap;
} CAP_NAMES[] = {
    {"net_admin", CAP_NET_ADMIN},   {"net_bind_service", CAP_NET_BIND_SERVICE},
    {"sys_admin", CAP_SYS_ADMIN},   {"net_raw", CAP_NET_RAW},
    {"sys_ptrace", CAP_SYS_PTRACE}, {"dac_override", CAP_DAC_OVERRIDE},
};

/* The mask of a comma-separated list of names; -1 with errno EINVAL for an unknown name. */
static long long caps_mask(const char* list) {
  long long mask = 0;
  const char* p = list;
  while (*p) {
    const char* end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    int found = 0;
    for (size_t i = 0; i < sizeof(CAP_NAMES) / sizeof(CAP_NAMES[0]); i++) {
      if (strlen(CAP_NAMES[i].name) == len && strncmp(CAP_NAMES[i].name, p, len) == 0) {
        mask |= 1LL << CAP_NAMES[i].cap;
        found = 1;
      }
    }
    if (!found && len) {
      errno = EINVAL;
      return -1;
    }
    p += len;
    if (*p == ',') p++;
  }
  return mask;
}

/* Keeps only the capabilities of `keep` (see --caps above); 0, or -1 with errno. */
static int keep_caps(long long keep) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof(data));
  if (syscall(SYS_capget, &hdr, data) != 0) return -1;
  long long permitted = (long long)data[0].permitted | ((long long)data[1].permitted << 32);
  keep &= permitted;
  /* The bounding set first, while CAP_SETPCAP is still effective. EINVAL past the last capability. */
  for (int cap = 0; cap < 64; cap++) {
    if (keep & (1LL << cap)) continue;
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0) break;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      if (errno == EPERM && getuid() != 0) break; /* no CAP_SETPCAP: the sets below still bind the command */
      return -1;
    }
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return -1;
  data[0].effective = data[0].permitted = (uint32_t)keep;
  data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
  /* Root gets its capabilities back from the bounding set at exec; others need them inheritable + ambient. */
  uint32_t inh0 = getuid() == 0 ? 0 : (uint32_t)keep, inh1 = getuid() == 0 ? 0 : (uint32_t)(keep >> 32);
  data[0].inheritable = inh0;
  data[1].inheritable = inh1;
  if (syscall(SYS_capset, &hdr, data) != 0) return -1;
  if (getuid() != 0) {
    for (int cap = 0; cap < 64; cap++) {
      if ((keep & (1LL << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) return -1;
    }
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: nk-exec NSPATH|- [--status-fd FD] [--name NAME] [--caps LIST] -- COMMAND [ARGS...]\n");
    return 126;
  }
  const char* nspath = argv[1];
  const char* name = NULL;
  int i = 2;
  if (strcmp(argv[i], "--status-fd") == 0 && i + 1 < argc) {
    char* end = NULL;
    long fd = strtol(argv[i + 1], &end, 10);
    if (end && *end == '\0' && fd > 2 && fd < 1024 && fcntl((int)fd, F_SETFD, FD_CLOEXEC) == 0) status_fd = (int)fd;
    i += 2;
  }
  if (i < argc && strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
    name = argv[i + 1];
    i += 2;
  }
  long long caps = -1;
  if (i < argc && strcmp(argv[i], "--caps") == 0 && i + 1 < argc) {
    caps = caps_mask(argv[i + 1]);
    if (caps < 0) return fail(126, "caps", argv[i + 1]);
    i += 2;
  }
  if (i >= argc || strcmp(argv[i], "--") != 0 || i + 1 >= argc) {
    fprintf(stderr, "usage: nk-exec NSPATH|- [--status-fd FD] [--name NAME] [--caps LIST] -- COMMAND [ARGS...]\n");
    return 126;
  }
  char** cmd = &argv[i + 1];

  if (strcmp(nspath, "-") == 0) {
    if (caps >= 0 && keep_caps(caps) != 0) return fail(126, "caps", NULL);
    execvp(cmd[0], cmd);
    return fail(127, "exec", cmd[0]);
  }

  int fd = open(nspath, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(126, "open", nspath);
  if (setns(fd, CLONE_NEWNET) != 0) return fail(126, "setns", nspath);
  close(fd);

  if (unshare(CLONE_NEWNS) == 0) {
    /* Keep mount changes private to this process, like `ip netns exec`. */
    if (mount("", "/", "none", MS_SLAVE | MS_REC, NULL) == 0) {
      if (umount2("/sys", MNT_DETACH) == 0 || errno == EINVAL) {
        if (mount(name ? name : "sysfs", "/sys", "sysfs", 0, NULL) != 0)
          fprintf(stderr, "nk-exec: mount /sys: %s\n", strerror(errno));
      }
      if (name) bind_etc(name);
    }
  }
  if (caps >= 0 && keep_caps(caps) != 0) return fail(126, "caps", NULL);
  execvp(cmd[0], cmd);
  return fail(127, "exec", cmd[0]);
}
