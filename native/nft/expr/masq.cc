// masq: source NAT to the address of the outgoing interface (`masq`, `masq proto_min reg 1
// proto_max reg 2 flags 0x6`).
//   { type: 'masq', flags?: NF_NAT_RANGE_*, regProtoMin?: 1, regProtoMax?: 2 }
// Wire (as nft writes it): NFTA_MASQ_FLAGS, NFTA_MASQ_REG_PROTO_MIN, NFTA_MASQ_REG_PROTO_MAX,
// all be32; a bare `masq` is an empty NFTA_EXPR_DATA nest. Read back, the max register the
// kernel fills in (= min) is left out.
#include "expr.h"

namespace nk::nft::expr {

namespace {

void Encode(const Reader& in, nl::MsgBuilder& b) {
  auto flags = in.U32("flags", 0, 0xffff);
  auto protoMin = ReadOptReg(in, "regProtoMin"), protoMax = ReadOptReg(in, "regProtoMax");
  if (protoMax && !protoMin) throw InputError(in.At("regProtoMax") + " needs regProtoMin");
  if (flags) b.PutBe32(NFTA_MASQ_FLAGS, *flags);
  if (protoMin) b.PutBe32(NFTA_MASQ_REG_PROTO_MIN, *protoMin);
  if (protoMax) b.PutBe32(NFTA_MASQ_REG_PROTO_MAX, *protoMax);
}

bool Decode(const uint8_t* data, size_t len, Value& out) {
  std::vector<std::optional<nl::Attr>> tb;
  if (!Table(data, len, NFTA_MASQ_MAX, tb)) return false;
  uint32_t flags = 0, pmin = 0, pmax = 0;
  if (tb[NFTA_MASQ_FLAGS] && !GetBe32(tb[NFTA_MASQ_FLAGS], flags)) return false;
  if (tb[NFTA_MASQ_REG_PROTO_MIN] && !GetBe32(tb[NFTA_MASQ_REG_PROTO_MIN], pmin)) return false;
  if (tb[NFTA_MASQ_REG_PROTO_MAX] && !GetBe32(tb[NFTA_MASQ_REG_PROTO_MAX], pmax)) return false;
  if (tb[NFTA_MASQ_REG_PROTO_MAX] && !tb[NFTA_MASQ_REG_PROTO_MIN]) return false;
  if (tb[NFTA_MASQ_FLAGS]) out.Set("flags", Num(flags));
  if (tb[NFTA_MASQ_REG_PROTO_MIN]) {
    out.Set("regProtoMin", Num(pmin));
    if (tb[NFTA_MASQ_REG_PROTO_MAX] && pmax != pmin) out.Set("regProtoMax", Num(pmax));
  }
  return true;
}

}  // namespace

const Def kMasq = {"masq", Encode, Decode};

}  // namespace nk::nft::expr
