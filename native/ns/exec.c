/* nk-exec: runs a command inside a network namespace, for Namespace.spawn().
 *
 *   nk-exec NSPATH [--status-fd FD] [--name NAME] -- COMMAND [ARGS...]
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
 * ENOENT, EACCES, ...). The command never sees the fd. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int status_fd = -1;

static int fail(int code, const char *what, const char *arg) {
  int err = errno;
  if (status_fd >= 0) {
    /* The parent reports it (an 'error' event): no message of our own on its stderr. */
    dprintf(status_fd, "%s %d\n", what, err);
    return code;
  }
  fprintf(stderr, "nk-exec: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(err));
  return code;
}

static void bind_etc(const char *name) {
  char dir[4096];
  snprintf(dir, sizeof(dir), "/etc/netns/%s", name);
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
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

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: nk-exec NSPATH [--name NAME] -- COMMAND [ARGS...]\n");
    return 126;
  }
  const char *nspath = argv[1];
  const char *name = NULL;
  int i = 2;
  if (strcmp(argv[i], "--status-fd") == 0 && i + 1 < argc) {
    char *end = NULL;
    long fd = strtol(argv[i + 1], &end, 10);
    if (end && *end == '\0' && fd > 2 && fd < 1024 && fcntl((int)fd, F_SETFD, FD_CLOEXEC) == 0) status_fd = (int)fd;
    i += 2;
  }
  if (i < argc && strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
    name = argv[i + 1];
    i += 2;
  }
  if (i >= argc || strcmp(argv[i], "--") != 0 || i + 1 >= argc) {
    fprintf(stderr, "usage: nk-exec NSPATH [--name NAME] -- COMMAND [ARGS...]\n");
    return 126;
  }
  char **cmd = &argv[i + 1];

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
  execvp(cmd[0], cmd);
  return fail(127, "exec", cmd[0]);
}
