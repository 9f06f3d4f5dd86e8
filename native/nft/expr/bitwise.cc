// bitwise: dreg = (sreg & mask) ^ xor over len bytes (`bitwise reg 1 = ( reg 1 & 0x00000006 ) ^ 0x00000000`).
//   { type: 'bitwise', sreg: 1, dreg: 1, len: 4, mask: Buffer, xor: Buffer }
// Wire (as nft writes it): NFTA_BITWISE_SREG, NFTA_BITWISE_DREG, NFTA_BITWISE_LEN (be32),
// NFTA_BITWISE_MASK and NFTA_BITWISE_XOR nests { NFTA_DATA_VALUE }. The kernel reads the
// operation back as NFTA_BITWISE_OP (mask-and-xor, 0); shifts are read back raw.
#include "expr.h"

namespace nk::nft::expr {

namespace {

void Encode(const Reader& in, nl::MsgBuilder& b) {
  uint32_t sreg = ReadReg(in, "sreg");
  uint32_t dreg = ReadReg(in, "dreg");
  uint32_t len = in.ReqU32("len", 1, NFT_DATA_VALUE_MAXLEN);
  std::vector<uint8_t> mask = in.ReqBytes("mask", NFT_DATA_VALUE_MAXLEN);
  auto x = in.Bytes("xor", NFT_DATA_VALUE_MAXLEN);
  if (!x) throw InputError(in.At("xor") + " is required (a Buffer of len bytes)");
  if (mask.size() != len || x->size() != len)
    throw InputError(in.path() + ": mask and xor must both be len (" + std::to_string(len) + ") bytes long");
  b.PutBe32(NFTA_BITWISE_SREG, sreg);
  b.PutBe32(NFTA_BITWISE_DREG, dreg);
  b.PutBe32(NFTA_BITWISE_LEN, len);
  PutValue(b, NFTA_BITWISE_MASK, mask);
  PutValue(b, NFTA_BITWISE_XOR, *x);
}

bool Decode(const uint8_t* data, size_t len, Value& out) {
  std::vector<std::optional<nl::Attr>> tb;
  if (!Table(data, len, NFTA_BITWISE_MAX, tb) || !OnlyKnown(tb, {NFTA_BITWISE_SREG, NFTA_BITWISE_DREG, NFTA_BITWISE_LEN,
                                                                 NFTA_BITWISE_MASK, NFTA_BITWISE_XOR, NFTA_BITWISE_OP}))
    return false;
  uint32_t sreg, dreg, n, op = NFT_BITWISE_MASK_XOR;
  std::vector<uint8_t> mask, x;
  if (tb[NFTA_BITWISE_OP] && !GetBe32(tb[NFTA_BITWISE_OP], op)) return false;
  if (op != NFT_BITWISE_MASK_XOR) return false;
  if (!GetBe32(tb[NFTA_BITWISE_SREG], sreg) || !GetBe32(tb[NFTA_BITWISE_DREG], dreg) ||
      !GetBe32(tb[NFTA_BITWISE_LEN], n) || !GetValue(tb[NFTA_BITWISE_MASK], mask) || !GetValue(tb[NFTA_BITWISE_XOR], x))
    return false;
  out.Set("sreg", Num(sreg));
  out.Set("dreg", Num(dreg));
  out.Set("len", Num(n));
  out.Set("mask", Value::Bytes(std::move(mask)));
  out.Set("xor", Value::Bytes(std::move(x)));
  return true;
}

}  // namespace

const Def kBitwise = {"bitwise", Encode, Decode};

}  // namespace nk::nft::expr
