// payload: bytes of a packet header into a register (`payload load 4b @ network header + 12 => reg 1`).
//   { type: 'payload', base: 'network', offset: 12, len: 4, dreg: 1 }
// Wire (as nft writes it): NFTA_PAYLOAD_DREG, NFTA_PAYLOAD_BASE, NFTA_PAYLOAD_OFFSET,
// NFTA_PAYLOAD_LEN, all be32. A payload write (`payload write`, with SREG and checksum
// attributes) is read back raw.
#include "expr.h"

namespace nk::nft::expr {

namespace {

const Names& Bases() {
  static const Names n = {{"ll", NFT_PAYLOAD_LL_HEADER},
                          {"network", NFT_PAYLOAD_NETWORK_HEADER},
                          {"transport", NFT_PAYLOAD_TRANSPORT_HEADER},
                          {"inner", NFT_PAYLOAD_INNER_HEADER}};
  return n;
}

void Encode(const Reader& in, nl::MsgBuilder& b) {
  uint32_t dreg = ReadReg(in, "dreg");
  uint32_t base = in.ReqEnum("base", Bases(), "payload base");
  uint32_t offset = in.ReqU32("offset", 0, 255);
  uint32_t len = in.ReqU32("len", 1, NFT_REG_SIZE * 4);
  b.PutBe32(NFTA_PAYLOAD_DREG, dreg);
  b.PutBe32(NFTA_PAYLOAD_BASE, base);
  b.PutBe32(NFTA_PAYLOAD_OFFSET, offset);
  b.PutBe32(NFTA_PAYLOAD_LEN, len);
}

bool Decode(const uint8_t* data, size_t len, Value& out) {
  std::vector<std::optional<nl::Attr>> tb;
  if (!Table(data, len, NFTA_PAYLOAD_MAX, tb) ||
      !OnlyKnown(tb, {NFTA_PAYLOAD_DREG, NFTA_PAYLOAD_BASE, NFTA_PAYLOAD_OFFSET, NFTA_PAYLOAD_LEN}))
    return false;
  uint32_t dreg, base, offset, n;
  if (!GetBe32(tb[NFTA_PAYLOAD_DREG], dreg) || !GetBe32(tb[NFTA_PAYLOAD_BASE], base) ||
      !GetBe32(tb[NFTA_PAYLOAD_OFFSET], offset) || !GetBe32(tb[NFTA_PAYLOAD_LEN], n))
    return false;
  const char* name = NameOf(Bases(), base);
  if (!name) return false;
  out.Set("base", Value::String(name));
  out.Set("offset", Num(offset));
  out.Set("len", Num(n));
  out.Set("dreg", Num(dreg));
  return true;
}

}  // namespace

const Def kPayload = {"payload", Encode, Decode};

}  // namespace nk::nft::expr
