// Link groups (IFLA_GROUP): on create and set, `ip link delete group N`, and the decoder, against
// iproute2's bytes (test/fixtures/rtnl/link-*-group.txt; the TypeScript golden tests compare the
// whole captures).
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "check.h"
#include "nl/attr.h"
#include "rtnl/link.h"

using nk::test::Hex;
namespace rtnl = nk::rtnl;

// `ip -n HOST link del group 7` (link-del-group.txt), seq and pid zero.
TEST(link_group_delete_matches_iproute2) {
  CHECK_EQ(rtnl::EncodeDelLinkGroup(7), Hex("28 00 00 00 11 00 05 00 00 00 00 00 00 00 00 00"
                                            "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
                                            "08 00 1b 00 07 00 00 00"));
}

// `ip -n HOST link set dev vg1 group 7` (link-set-group.txt), seq and pid zero.
TEST(link_group_set_matches_iproute2_and_decodes) {
  rtnl::LinkSpec s;
  s.index = 14;
  s.group = 7;
  auto m = rtnl::EncodeNewLink(s, false);
  CHECK_EQ(m, Hex("28 00 00 00 10 00 05 00 00 00 00 00 00 00 00 00"
                  "00 00 00 00 0e 00 00 00 00 00 00 00 00 00 00 00"
                  "08 00 1b 00 07 00 00 00"));
  rtnl::LinkInfo l;
  CHECK(rtnl::DecodeLink(m.data(), m.size(), l));
  CHECK_EQ(l.group, 7u);
  rtnl::LinkSpec none;
  none.index = 14;
  none.up = true;
  auto n = rtnl::EncodeNewLink(none, false);
  std::vector<std::optional<nk::nl::Attr>> tb;
  CHECK(nk::nl::ParseTable(n.data() + sizeof(nlmsghdr) + sizeof(ifinfomsg),
                           n.size() - sizeof(nlmsghdr) - sizeof(ifinfomsg), tb, IFLA_MAX + 1));
  CHECK(!tb[IFLA_GROUP].has_value());  // only sent when asked for
}
