// nat: source or destination NAT to the address and port ranges held in registers
// (`nat dnat ip addr_min reg 1 proto_min reg 9`).
//   { type: 'nat', natType: 'dnat', family: 'ip', regAddrMin?: 1, regAddrMax?: 2, regProtoMin?: 9,
//     regProtoMax?: 10, flags?: NF_NAT_RANGE_* }
// Wire (as nft writes it): NFTA_NAT_TYPE, NFTA_NAT_FAMILY, NFTA_NAT_REG_ADDR_MIN/MAX,
// NFTA_NAT_REG_PROTO_MIN/MAX, NFTA_NAT_FLAGS, all be32.
// Read back: the kernel fills in the max registers (= min) and sets NF_NAT_RANGE_MAP_IPS /
// NF_NAT_RANGE_PROTO_SPECIFIED itself whenever address / port registers are given; those
// implied parts are left out, so what was written reads back the same.
#include <linux/netfilter/nf_nat.h>

#include "expr.h"

namespace nk::nft::expr {

namespace {

const Names& Types() {
  static const Names n = {{"snat", NFT_NAT_SNAT}, {"dnat", NFT_NAT_DNAT}};
  return n;
}

const Names& NatFamilies() {
  static const Names n = {{"ip", NFPROTO_IPV4}, {"ip6", NFPROTO_IPV6}};
  return n;
}

void Encode(const Reader& in, nl::MsgBuilder& b) {
  uint32_t type = in.ReqEnum("natType", Types(), "nat type");
  uint32_t family = in.ReqEnum("family", NatFamilies(), "nat family");
  auto addrMin = ReadOptReg(in, "regAddrMin"), addrMax = ReadOptReg(in, "regAddrMax");
  auto protoMin = ReadOptReg(in, "regProtoMin"), protoMax = ReadOptReg(in, "regProtoMax");
  auto flags = in.U32("flags", 0, 0xffff);
  if (addrMax && !addrMin) throw InputError(in.At("regAddrMax") + " needs regAddrMin");
  if (protoMax && !protoMin) throw InputError(in.At("regProtoMax") + " needs regProtoMin");
  b.PutBe32(NFTA_NAT_TYPE, type);
  b.PutBe32(NFTA_NAT_FAMILY, family);
  if (addrMin) b.PutBe32(NFTA_NAT_REG_ADDR_MIN, *addrMin);
  if (addrMax) b.PutBe32(NFTA_NAT_REG_ADDR_MAX, *addrMax);
  if (protoMin) b.PutBe32(NFTA_NAT_REG_PROTO_MIN, *protoMin);
  if (protoMax) b.PutBe32(NFTA_NAT_REG_PROTO_MAX, *protoMax);
  if (flags) b.PutBe32(NFTA_NAT_FLAGS, *flags);
}

bool Decode(const uint8_t* data, size_t len, Value& out) {
  std::vector<std::optional<nl::Attr>> tb;
  if (!Table(data, len, NFTA_NAT_MAX, tb)) return false;
  uint32_t type, family, flags = 0, amin = 0, amax = 0, pmin = 0, pmax = 0;
  if (!GetBe32(tb[NFTA_NAT_TYPE], type) || !GetBe32(tb[NFTA_NAT_FAMILY], family)) return false;
  if (tb[NFTA_NAT_REG_ADDR_MIN] && !GetBe32(tb[NFTA_NAT_REG_ADDR_MIN], amin)) return false;
  if (tb[NFTA_NAT_REG_ADDR_MAX] && !GetBe32(tb[NFTA_NAT_REG_ADDR_MAX], amax)) return false;
  if (tb[NFTA_NAT_REG_PROTO_MIN] && !GetBe32(tb[NFTA_NAT_REG_PROTO_MIN], pmin)) return false;
  if (tb[NFTA_NAT_REG_PROTO_MAX] && !GetBe32(tb[NFTA_NAT_REG_PROTO_MAX], pmax)) return false;
  if (tb[NFTA_NAT_FLAGS] && !GetBe32(tb[NFTA_NAT_FLAGS], flags)) return false;
  const char* t = NameOf(Types(), type);
  const char* f = NameOf(NatFamilies(), family);
  if (!t || !f) return false;
  out.Set("natType", Value::String(t));
  out.Set("family", Value::String(f));
  if (tb[NFTA_NAT_REG_ADDR_MIN]) {
    out.Set("regAddrMin", Num(amin));
    if (tb[NFTA_NAT_REG_ADDR_MAX] && amax != amin) out.Set("regAddrMax", Num(amax));
    flags &= ~static_cast<uint32_t>(NF_NAT_RANGE_MAP_IPS);
  } else if (tb[NFTA_NAT_REG_ADDR_MAX]) {
    return false;
  }
  if (tb[NFTA_NAT_REG_PROTO_MIN]) {
    out.Set("regProtoMin", Num(pmin));
    if (tb[NFTA_NAT_REG_PROTO_MAX] && pmax != pmin) out.Set("regProtoMax", Num(pmax));
    flags &= ~static_cast<uint32_t>(NF_NAT_RANGE_PROTO_SPECIFIED);
  } else if (tb[NFTA_NAT_REG_PROTO_MAX]) {
    return false;
  }
  if (flags) out.Set("flags", Num(flags));
  return true;
}

}  // namespace

const Def kNat = {"nat", Encode, Decode};

}  // namespace nk::nft::expr
