// The physical limit of netns-kit's Network.connect / disconnect (issue 18): the same kernel work,
// the same netlink messages and sysctl writes, sent by a small C program with no store, no DNS,
// no lookups, and pipelined across every container. Built by bench/setup.sh (cc -O2), run by
// bench/tools.ts (rows "C floor" and "C floor, group delete"); never part of npm install.
//
//   floor setup    --host /run/netns/HOST --netns-dir /run/netns --bridge br0 --gateway 10.200.0.1
//                  --prefix 16 --port 80 [--group G]          < lines "NSNAME VETH IP HOSTPORT"
//   floor teardown --host ... --netns-dir ... [--group G]     < the same lines
//
// Prints {"ms": wall time of the work, "containers": N, "phases": {name: ms}} on stdout; exits 1
// on any refusal.
//
// Per container, as Network.connect sends them (copied from `strace -e trace=sendmsg,...` of
// netns-kit; see bench/README.md "The C floor"):
//   namespace  open(/run/netns/NAME, O_CREAT|O_EXCL), unshare(CLONE_NEWNET), bind mount of the new
//              namespace onto it, an rtnetlink socket opened inside, RTM_NEWLINK lo up
//   host       RTM_NEWLINK create: the veth (IFLA_IFNAME, IFLA_MASTER, [IFLA_GROUP]) with its peer
//              born in the namespace (VETH_INFO_PEER: eth0, IFLA_ADDRESS 02:42:IP, IFLA_NET_NS_FD)
//              sysctl net.ipv6.conf.VETH.disable_ipv6 = 1
//              RTM_NEWLINK IFLA_IFALIAS; RTM_NEWLINK bridge port hairpin (IFLA_BRPORT_MODE); RTM_NEWLINK up
//   container  sysctl net.ipv6.conf.eth0.disable_ipv6 = 1 (written from inside the namespace, opened
//              through a procfs instance of its own: fsopen, fsmount, openat)
//              RTM_NEWLINK eth0 up; RTM_NEWADDR IP/PREFIX (eth0 is ifindex 2 in a fresh namespace:
//              no RTM_GETLINK); RTM_NEWROUTE default via GATEWAY
//   nftables   one batch: NFT_MSG_NEWSETELEM inet netns-kit pub4any (EXCL) {tcp . HOSTPORT : IP . PORT,
//              comment}, NFT_MSG_NEWSETELEM hairpin4 {"BRIDGE" . SUBNET}
// Teardown per container: one batch NFT_MSG_DELSETELEM pub4any; RTM_DELLINK of the veth (or, with
// --group, ONE RTM_DELLINK of the whole link group for every container); umount + unlink of the
// namespace. The namespace's own removal (cleanup_net) then runs in the kernel's background.
//
// Pipelining: every phase sends its messages for all containers before it reads the answers
// (rtnetlink: up to 256 messages per sendmsg; nf_tables: one batch per sendmsg, as the kernel
// takes one batch per message, up to 64 batches before the acks are read).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef IFLA_BRPORT_MODE
#define IFLA_BRPORT_MODE 4
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "floor: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

// --- a message buffer --------------------------------------------------------------------

typedef struct { uint8_t *p; size_t len, cap; } Buf;

static void need(Buf *b, size_t n) {
  if (b->len + n <= b->cap) return;
  size_t c = b->cap ? b->cap * 2 : 65536;
  while (c < b->len + n) c *= 2;
  b->p = realloc(b->p, c);
  if (!b->p) die("out of memory");
  b->cap = c;
}
static void put(Buf *b, const void *d, size_t n) {
  need(b, NLMSG_ALIGN(n));
  memcpy(b->p + b->len, d, n);
  memset(b->p + b->len + n, 0, NLMSG_ALIGN(n) - n);
  b->len += NLMSG_ALIGN(n);
}

static uint32_t seq = 1;

// Starts a message; returns its offset (for msg_end).
static size_t msg_begin(Buf *b, uint16_t type, uint16_t flags, const void *hdr, size_t hlen) {
  size_t at = b->len;
  struct nlmsghdr h = { .nlmsg_len = 0, .nlmsg_type = type, .nlmsg_flags = flags, .nlmsg_seq = seq++, .nlmsg_pid = 0 };
  put(b, &h, sizeof h);
  put(b, hdr, hlen);
  return at;
}
static void msg_end(Buf *b, size_t at) { ((struct nlmsghdr *)(b->p + at))->nlmsg_len = (uint32_t)(b->len - at); }

static void attr(Buf *b, uint16_t type, const void *d, size_t n) {
  struct nlattr a = { .nla_len = (uint16_t)(NLA_HDRLEN + n), .nla_type = type };
  need(b, NLA_HDRLEN + NLA_ALIGN(n));
  memcpy(b->p + b->len, &a, sizeof a);
  memcpy(b->p + b->len + NLA_HDRLEN, d, n);
  memset(b->p + b->len + NLA_HDRLEN + n, 0, NLA_ALIGN(n) - n);
  b->len += NLA_HDRLEN + NLA_ALIGN(n);
}
static void attr_str(Buf *b, uint16_t type, const char *s) { attr(b, type, s, strlen(s) + 1); }
static void attr_u32(Buf *b, uint16_t type, uint32_t v) { attr(b, type, &v, 4); }
static void attr_u8(Buf *b, uint16_t type, uint8_t v) { attr(b, type, &v, 1); }
// Nests as netns-kit sends them: rtnetlink's without NLA_F_NESTED, nf_tables' with it (nnest).
static size_t nest_begin(Buf *b, uint16_t type) {
  size_t at = b->len;
  struct nlattr a = { .nla_len = 0, .nla_type = type };
  put(b, &a, sizeof a);
  return at;
}
static void nest_end(Buf *b, size_t at) { ((struct nlattr *)(b->p + at))->nla_len = (uint16_t)(b->len - at); }
static size_t nnest(Buf *b, uint16_t type) { return nest_begin(b, type | NLA_F_NESTED); }

// --- netlink sockets ---------------------------------------------------------------------

static int nl_open(int proto) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
  if (fd < 0) die("socket(AF_NETLINK, %d): %s", proto, strerror(errno));
  int one = 1, sz = 4 << 20;
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) != 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) != 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) die("bind: %s", strerror(errno));
  return fd;
}

static void nl_send(int fd, const uint8_t *p, size_t n) {
  struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
  ssize_t r = sendto(fd, p, n, 0, (struct sockaddr *)&sa, sizeof sa);
  if (r < 0 || (size_t)r != n) die("sendto netlink (%zu bytes): %s", n, strerror(errno));
}

// Reads until `acks` acknowledgements (NLMSG_ERROR) arrived; any error code is fatal.
static void nl_acks(int fd, int acks, const char *what) {
  static uint8_t rb[1 << 16];
  while (acks > 0) {
    ssize_t n = recv(fd, rb, sizeof rb, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("recv (%s): %s", what, strerror(errno));
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)rb; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type != NLMSG_ERROR) continue;
      int err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
      if (err) die("%s: %s (message seq %u)", what, strerror(-err), ((struct nlmsgerr *)NLMSG_DATA(h))->msg.nlmsg_seq);
      acks--;
    }
  }
}

// Sends a buffer of `count` acked rtnetlink messages in pipelined chunks and collects the acks.
static void rtnl_pipeline(int fd, Buf *b, const char *what) {
  size_t off = 0;
  while (off < b->len) {
    size_t end = off;
    int k = 0;
    while (end < b->len && k < 256 && end - off < 48 * 1024) {
      end += NLMSG_ALIGN(((struct nlmsghdr *)(b->p + end))->nlmsg_len);
      k++;
    }
    nl_send(fd, b->p + off, end - off);
    nl_acks(fd, k, what);
    off = end;
  }
  b->len = 0;
}

// --- the work ----------------------------------------------------------------------------

typedef struct {
  char ns[64], veth[16], ip[16];
  unsigned hostPort;
  struct in_addr addr;
  int nsfd, rtnl;  // the namespace, and an rtnetlink socket opened inside it
} Ctr;

static const char *opt(int argc, char **argv, const char *name, const char *dflt) {
  for (int i = 2; i + 1 < argc; i++)
    if (!strcmp(argv[i], name)) return argv[i + 1];
  if (!dflt) die("missing %s", name);
  return dflt;
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

// Wall time of each phase, printed with the total (where the floor's own time goes).
static char phases[1024];
static double lap_t;
static void lap(const char *name) {
  double t = now_ms();
  size_t n = strlen(phases);
  snprintf(phases + n, sizeof phases - n, "%s\"%s\": %.3f", n ? ", " : "", name, t - lap_t);
  lap_t = t;
}

static void write_sysctl(const char *path, const char *value) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die("open %s: %s", path, strerror(errno));
  if (write(fd, value, strlen(value)) < 0) die("write %s: %s", path, strerror(errno));
  close(fd);
}

static unsigned if_index_of(int rtnl, const char *name) {
  Buf b = {0};
  struct ifinfomsg ifi = {0};
  size_t m = msg_begin(&b, RTM_GETLINK, NLM_F_REQUEST, &ifi, sizeof ifi);
  attr_str(&b, IFLA_IFNAME, name);
  msg_end(&b, m);
  nl_send(rtnl, b.p, b.len);
  static uint8_t rb[1 << 16];
  ssize_t n = recv(rtnl, rb, sizeof rb, 0);
  if (n < 0) die("recv: %s", strerror(errno));
  struct nlmsghdr *h = (struct nlmsghdr *)rb;
  if (h->nlmsg_type != RTM_NEWLINK) die("no link %s", name);
  free(b.p);
  return (unsigned)((struct ifinfomsg *)NLMSG_DATA(h))->ifi_index;
}

// nftables: the userdata comment as nft writes it (NFTNL_UDATA_SET_ELEM_COMMENT, NUL included).
static void elem_comment(Buf *b, const char *s) {
  uint8_t ud[256];
  size_t n = strlen(s) + 1;
  ud[0] = 0;
  ud[1] = (uint8_t)n;
  memcpy(ud + 2, s, n);
  attr(b, NFTA_SET_ELEM_USERDATA, ud, n + 2);
}

static void nft_value(Buf *b, uint16_t type, const void *d, size_t n) {
  size_t k = nnest(b, type);
  attr(b, NFTA_DATA_VALUE, d, n);
  nest_end(b, k);
}

static void batch_edge(Buf *b, uint16_t type) {
  struct nfgenmsg g = { .nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0, .res_id = htons(NFNL_SUBSYS_NFTABLES) };
  size_t m = msg_begin(b, type, NLM_F_REQUEST, &g, sizeof g);
  msg_end(b, m);
}

static size_t setelem_begin(Buf *b, int op, uint16_t flags, const char *set) {
  struct nfgenmsg g = { .nfgen_family = NFPROTO_INET, .version = NFNETLINK_V0, .res_id = 0 };
  size_t m = msg_begin(b, (NFNL_SUBSYS_NFTABLES << 8) | op, NLM_F_REQUEST | NLM_F_ACK | flags, &g, sizeof g);
  attr_str(b, NFTA_SET_ELEM_LIST_TABLE, "netns-kit");
  attr_str(b, NFTA_SET_ELEM_LIST_SET, set);
  return m;
}

// pub4any key: inet_proto . inet_service, each padded to 4 bytes.
static void pub_key(uint8_t key[8], unsigned port) {
  memset(key, 0, 8);
  key[0] = 6;  // tcp
  key[4] = (uint8_t)(port >> 8);
  key[5] = (uint8_t)port;
}

// Sends one nf_tables batch per sendmsg (the kernel takes one batch per message), `acks` acked
// messages in each, reading the answers after every 64 batches.
typedef struct { Buf all; size_t *ends; int count, cap; } Batches;
static void batches_mark(Batches *bs) {
  if (bs->count == bs->cap) {
    bs->cap = bs->cap ? bs->cap * 2 : 256;
    bs->ends = realloc(bs->ends, bs->cap * sizeof *bs->ends);
  }
  bs->ends[bs->count++] = bs->all.len;
}
static void batches_send(int fd, Batches *bs, int acksPer, const char *what) {
  size_t off = 0;
  int pending = 0;
  for (int i = 0; i < bs->count; i++) {
    nl_send(fd, bs->all.p + off, bs->ends[i] - off);
    off = bs->ends[i];
    if (++pending == 64) { nl_acks(fd, pending * acksPer, what); pending = 0; }
  }
  if (pending) nl_acks(fd, pending * acksPer, what);
  bs->all.len = 0;
  bs->count = 0;
}

int main(int argc, char **argv) {
  if (argc < 2) die("usage: floor setup|teardown --host PATH --netns-dir DIR --bridge BR [--gateway IP --prefix N --port P] [--group G] < lines");
  const char *mode = argv[1];
  int setup = !strcmp(mode, "setup");
  if (!setup && strcmp(mode, "teardown")) die("mode must be setup or teardown");
  const char *hostPath = opt(argc, argv, "--host", NULL);
  const char *dir = opt(argc, argv, "--netns-dir", "/run/netns");
  const char *bridge = opt(argc, argv, "--bridge", NULL);
  const char *gateway = opt(argc, argv, "--gateway", "0.0.0.0");
  unsigned prefix = (unsigned)atoi(opt(argc, argv, "--prefix", "16"));
  unsigned cport = (unsigned)atoi(opt(argc, argv, "--port", "80"));
  uint32_t group = (uint32_t)strtoul(opt(argc, argv, "--group", "0"), NULL, 0);

  // Containers from stdin.
  int n = 0, cap = 0;
  Ctr *c = NULL;
  char line[256];
  while (fgets(line, sizeof line, stdin)) {
    if (n == cap) { cap = cap ? cap * 2 : 256; c = realloc(c, cap * sizeof *c); }
    Ctr *x = &c[n];
    memset(x, 0, sizeof *x);
    if (sscanf(line, "%63s %15s %15s %u", x->ns, x->veth, x->ip, &x->hostPort) != 4) continue;
    if (inet_pton(AF_INET, x->ip, &x->addr) != 1) die("bad address %s", x->ip);
    x->nsfd = x->rtnl = -1;
    n++;
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }

  // This process lives in the host namespace; its sockets there are opened before timing, as
  // netns-kit's Namespace handle holds them open.
  int hostfd = open(hostPath, O_RDONLY | O_CLOEXEC);
  if (hostfd < 0) die("open %s: %s", hostPath, strerror(errno));
  if (setns(hostfd, CLONE_NEWNET) != 0) die("setns host: %s", strerror(errno));
  int rtnl = nl_open(NETLINK_ROUTE);
  int nft = nl_open(NETLINK_NETFILTER);
  unsigned brIndex = if_index_of(rtnl, bridge);
  struct in_addr gw;
  if (inet_pton(AF_INET, gateway, &gw) != 1) die("bad gateway %s", gateway);
  uint32_t mask = prefix ? htonl(~0u << (32 - prefix)) : 0;
  Buf b = {0};
  Batches bs = {0};
  char path[512];

  double t0 = now_ms();
  lap_t = t0;
  if (setup) {
    // 1. Namespaces, as `ip netns add` (and lo up from a socket opened inside).
    for (int i = 0; i < n; i++) {
      snprintf(path, sizeof path, "%s/%s", dir, c[i].ns);
      int f = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
      if (f < 0) die("open %s: %s", path, strerror(errno));
      close(f);
      if (unshare(CLONE_NEWNET) != 0) die("unshare: %s", strerror(errno));
      if (mount("/proc/self/ns/net", path, "none", MS_BIND, NULL) != 0) die("mount %s: %s", path, strerror(errno));
      c[i].nsfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
      if (c[i].nsfd < 0) die("open ns: %s", strerror(errno));
      c[i].rtnl = nl_open(NETLINK_ROUTE);
      if (setns(hostfd, CLONE_NEWNET) != 0) die("setns host: %s", strerror(errno));
      struct ifinfomsg up = { .ifi_flags = IFF_UP, .ifi_change = IFF_UP };
      size_t m = msg_begin(&b, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, &up, sizeof up);
      attr_str(&b, IFLA_IFNAME, "lo");
      msg_end(&b, m);
      nl_send(c[i].rtnl, b.p, b.len);  // its ack is read with the container's other acks
      b.len = 0;
    }
    lap("namespaces");
    // 2. The veths, their peers born in the namespaces, on the bridge.
    for (int i = 0; i < n; i++) {
      struct ifinfomsg ifi = {0};
      size_t m = msg_begin(&b, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi);
      attr_str(&b, IFLA_IFNAME, c[i].veth);
      attr_u32(&b, IFLA_MASTER, brIndex);
      if (group) attr_u32(&b, IFLA_GROUP, group);
      size_t li = nest_begin(&b, IFLA_LINKINFO);
      attr_str(&b, IFLA_INFO_KIND, "veth");
      size_t data = nest_begin(&b, IFLA_INFO_DATA);
      size_t peer = nest_begin(&b, VETH_INFO_PEER);
      put(&b, &ifi, sizeof ifi);
      attr_str(&b, IFLA_IFNAME, "eth0");
      uint8_t mac[6] = { 0x02, 0x42 };
      memcpy(mac + 2, &c[i].addr, 4);
      attr(&b, IFLA_ADDRESS, mac, 6);
      attr_u32(&b, IFLA_NET_NS_FD, (uint32_t)c[i].nsfd);
      nest_end(&b, peer);
      nest_end(&b, data);
      nest_end(&b, li);
      msg_end(&b, m);
    }
    rtnl_pipeline(rtnl, &b, "RTM_NEWLINK veth");
    lap("veth create");
    // 3. No IPv6 on the bridge port (before it comes up).
    for (int i = 0; i < n; i++) {
      snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/disable_ipv6", c[i].veth);
      write_sysctl(path, "1\n");
    }
    lap("host sysctl");
    // 4. Alias, hairpin, up.
    for (int i = 0; i < n; i++) {
      struct ifinfomsg ifi = {0};
      char alias[64];
      snprintf(alias, sizeof alias, "netns-kit:nkbench:%012x", i);
      size_t m = msg_begin(&b, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, &ifi, sizeof ifi);
      attr_str(&b, IFLA_IFNAME, c[i].veth);
      attr_str(&b, IFLA_IFALIAS, alias);
      msg_end(&b, m);
      m = msg_begin(&b, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, &ifi, sizeof ifi);
      attr_str(&b, IFLA_IFNAME, c[i].veth);
      size_t li = nest_begin(&b, IFLA_LINKINFO);
      attr_str(&b, IFLA_INFO_SLAVE_KIND, "bridge");
      size_t sd = nest_begin(&b, IFLA_INFO_SLAVE_DATA);
      attr_u8(&b, IFLA_BRPORT_MODE, 1);
      nest_end(&b, sd);
      nest_end(&b, li);
      msg_end(&b, m);
      struct ifinfomsg up = { .ifi_flags = IFF_UP, .ifi_change = IFF_UP };
      m = msg_begin(&b, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, &up, sizeof up);
      attr_str(&b, IFLA_IFNAME, c[i].veth);
      msg_end(&b, m);
    }
    rtnl_pipeline(rtnl, &b, "RTM_NEWLINK alias/hairpin/up");
    lap("alias, hairpin, up");
    // 5. Inside each container: no IPv6 on eth0, eth0 up, the address, the default route.
    for (int i = 0; i < n; i++) {
      if (setns(c[i].nsfd, CLONE_NEWNET) != 0) die("setns %s: %s", c[i].ns, strerror(errno));
      // Through a procfs instance of its own, as netns-kit does (native/ns/netns.cc): from the
      // shared /proc the lookup walks every namespace's /proc/sys/net/ipv6 dentry.
      // Where mounting is refused, the shared /proc, as netns-kit falls back.
      int fs = fsopen("proc", FSOPEN_CLOEXEC), mnt = -1;
      if (fs >= 0 && fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
        mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
      if (fs >= 0) close(fs);
      int f = mnt >= 0 ? openat(mnt, "sys/net/ipv6/conf/eth0/disable_ipv6", O_WRONLY | O_CLOEXEC)
                       : open("/proc/sys/net/ipv6/conf/eth0/disable_ipv6", O_WRONLY | O_CLOEXEC);
      if (f < 0) die("open disable_ipv6 in %s: %s", c[i].ns, strerror(errno));
      if (mnt >= 0) close(mnt);
      if (setns(hostfd, CLONE_NEWNET) != 0) die("setns host: %s", strerror(errno));
      if (write(f, "1\n", 2) < 0) die("write disable_ipv6: %s", strerror(errno));
      close(f);
      struct ifinfomsg up = { .ifi_flags = IFF_UP, .ifi_change = IFF_UP };
      size_t m = msg_begin(&b, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, &up, sizeof up);
      attr_str(&b, IFLA_IFNAME, "eth0");
      msg_end(&b, m);
      struct ifaddrmsg ifa = { .ifa_family = AF_INET, .ifa_prefixlen = (uint8_t)prefix, .ifa_index = 2 };
      m = msg_begin(&b, RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof ifa);
      attr(&b, IFA_LOCAL, &c[i].addr, 4);
      attr(&b, IFA_ADDRESS, &c[i].addr, 4);
      struct in_addr bc = { .s_addr = c[i].addr.s_addr | ~mask };
      attr(&b, IFA_BROADCAST, &bc, 4);
      msg_end(&b, m);
      struct rtmsg rt = { .rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN, .rtm_protocol = RTPROT_BOOT, .rtm_scope = RT_SCOPE_UNIVERSE, .rtm_type = RTN_UNICAST };
      m = msg_begin(&b, RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &rt, sizeof rt);
      attr(&b, RTA_GATEWAY, &gw, 4);
      attr_u32(&b, RTA_TABLE, RT_TABLE_MAIN);
      msg_end(&b, m);
      nl_send(c[i].rtnl, b.p, b.len);
      b.len = 0;
    }
    for (int i = 0; i < n; i++) nl_acks(c[i].rtnl, 4, c[i].ns);  // lo up, eth0 up, address, route
    lap("container side");
    // 6. The published port: one batch per container (its map element and the hairpin element).
    struct in_addr net = { .s_addr = c[0].addr.s_addr & mask }, last = { .s_addr = net.s_addr | ~mask };
    for (int i = 0; i < n; i++) {
      batch_edge(&bs.all, NFNL_MSG_BATCH_BEGIN);
      size_t m = setelem_begin(&bs.all, NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_EXCL, "pub4any");
      size_t list = nnest(&bs.all, NFTA_SET_ELEM_LIST_ELEMENTS);
      size_t el = nnest(&bs.all, 1 /* NFTA_LIST_ELEM */);
      uint8_t key[8], data[8] = {0};
      pub_key(key, c[i].hostPort);
      memcpy(data, &c[i].addr, 4);
      data[4] = (uint8_t)(cport >> 8);
      data[5] = (uint8_t)cport;
      nft_value(&bs.all, NFTA_SET_ELEM_KEY, key, 8);
      nft_value(&bs.all, NFTA_SET_ELEM_DATA, data, 8);
      char note[128];
      snprintf(note, sizeof note, "netns-kit publish %08x %s", i, bridge);
      elem_comment(&bs.all, note);
      nest_end(&bs.all, el);
      nest_end(&bs.all, list);
      msg_end(&bs.all, m);
      m = setelem_begin(&bs.all, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "hairpin4");
      list = nnest(&bs.all, NFTA_SET_ELEM_LIST_ELEMENTS);
      el = nnest(&bs.all, 1);
      uint8_t hk[20] = {0}, he[20] = {0};
      strncpy((char *)hk, bridge, 16);
      strncpy((char *)he, bridge, 16);
      memcpy(hk + 16, &net, 4);
      memcpy(he + 16, &last, 4);
      nft_value(&bs.all, NFTA_SET_ELEM_KEY, hk, 20);
      nft_value(&bs.all, NFTA_SET_ELEM_KEY_END, he, 20);
      elem_comment(&bs.all, "netns-kit hairpin");
      nest_end(&bs.all, el);
      nest_end(&bs.all, list);
      msg_end(&bs.all, m);
      batch_edge(&bs.all, NFNL_MSG_BATCH_END);
      batches_mark(&bs);
    }
    batches_send(nft, &bs, 2, "NFT_MSG_NEWSETELEM");
    lap("nft");
  } else {
    // 1. The published ports.
    for (int i = 0; i < n; i++) {
      batch_edge(&bs.all, NFNL_MSG_BATCH_BEGIN);
      size_t m = setelem_begin(&bs.all, NFT_MSG_DELSETELEM, 0, "pub4any");
      size_t list = nnest(&bs.all, NFTA_SET_ELEM_LIST_ELEMENTS);
      size_t el = nnest(&bs.all, 1);
      uint8_t key[8];
      pub_key(key, c[i].hostPort);
      nft_value(&bs.all, NFTA_SET_ELEM_KEY, key, 8);
      nest_end(&bs.all, el);
      nest_end(&bs.all, list);
      msg_end(&bs.all, m);
      batch_edge(&bs.all, NFNL_MSG_BATCH_END);
      batches_mark(&bs);
    }
    batches_send(nft, &bs, 1, "NFT_MSG_DELSETELEM");
    lap("nft");
    // 2. The veths: one RTM_DELLINK each (each pays the kernel's RCU grace periods), or the
    // whole link group in one message (one unregister_netdevice_many for all of them).
    if (group) {
      struct ifinfomsg ifi = {0};
      size_t m = msg_begin(&b, RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, &ifi, sizeof ifi);
      attr_u32(&b, IFLA_GROUP, group);
      msg_end(&b, m);
    } else {
      for (int i = 0; i < n; i++) {
        struct ifinfomsg ifi = {0};
        size_t m = msg_begin(&b, RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, &ifi, sizeof ifi);
        attr_str(&b, IFLA_IFNAME, c[i].veth);
        msg_end(&b, m);
      }
    }
    rtnl_pipeline(rtnl, &b, "RTM_DELLINK");
    lap(group ? "link group delete" : "link delete");
    // 3. The namespaces, as `ip netns del`.
    for (int i = 0; i < n; i++) {
      snprintf(path, sizeof path, "%s/%s", dir, c[i].ns);
      umount2(path, MNT_DETACH);
      if (unlink(path) != 0) die("unlink %s: %s", path, strerror(errno));
    }
    lap("namespaces");
  }
  double ms = now_ms() - t0;
  printf("{\"ms\": %.3f, \"containers\": %d, \"phases\": {%s}}\n", ms, n, phases);
  return 0;
}
