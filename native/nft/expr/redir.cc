// redir: destination NAT to the local machine, to the port range held in registers
// (`redir proto_min reg 1 flags 0x2`).
//   { type: 'redir', regProtoMin?: 1, regProtoMax?: 2, flags?: NF_NAT_RANGE_* }
// Wire (as nft writes it): NFTA_REDIR_REG_PROTO_MIN, NFTA_REDIR_REG_PROTO_MAX, NFTA_REDIR_FLAGS,
// all be32. Read back, the max register the kernel fills in (= min) and the flag
// NF_NAT_RANGE_PROTO_SPECIFIED it sets itself when a port register is given are left out.
#include <linux/netfilter/nf_nat.h>

#include "expr.h"

namespace nk::nft::expr {

namespace {

void Encode(const Reader& in, nl::MsgBuilder& b) {
  auto protoMin = ReadOptReg(in, "regProtoMin"), protoMax = ReadOptReg(in, "regProtoMax");
  auto flags = in.U32("flags", 0, 0xffff);
  if (protoMax && !protoMin) throw InputError(in.At("regProtoMax") + " needs regProtoMin");
  if (protoMin) b.PutBe32(NFTA_REDIR_REG_PROTO_MIN, *protoMin);
  if (protoMax) b.PutBe32(NFTA_REDIR_REG_PROTO_MAX, *protoMax);
  if (flags) b.PutBe32(NFTA_REDIR_FLAGS, *flags);
}

bool Decode(const uint8_t* data, size_t len, Value& out) {
  std::vector<std::optional<nl::Attr>> tb;
  if (!Table(data, len, NFTA_REDIR_MAX, tb)) return false;
  uint32_t flags = 0, pmin = 0, pmax = 0;
  if (tb[NFTA_REDIR_FLAGS] && !GetBe32(tb[NFTA_REDIR_FLAGS], flags)) return false;
  if (tb[NFTA_REDIR_REG_PROTO_MIN] && !GetBe32(tb[NFTA_REDIR_REG_PROTO_MIN], pmin)) return false;
  if (tb[NFTA_REDIR_REG_PROTO_MAX] && !GetBe32(tb[NFTA_REDIR_REG_PROTO_MAX], pmax)) return false;
  if (tb[NFTA_REDIR_REG_PROTO_MAX] && !tb[NFTA_REDIR_REG_PROTO_MIN]) return false;
  if (tb[NFTA_REDIR_REG_PROTO_MIN]) {
    out.Set("regProtoMin", Num(pmin));
    if (tb[NFTA_REDIR_REG_PROTO_MAX] && pmax != pmin) out.Set("regProtoMax", Num(pmax));
    flags &= ~static_cast<uint32_t>(NF_NAT_RANGE_PROTO_SPECIFIED);
  }
  if (flags) out.Set("flags", Num(flags));
  return true;
}

}  // namespace

const Def kRedir = {"redir", Encode, Decode};

}  // namespace nk::nft::expr
