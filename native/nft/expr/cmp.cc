// cmp: compares a register with a constant (`cmp eq reg 1 0x0000000a`); on a mismatch the
// rule stops here.
//   { type: 'cmp', sreg: 1, op: 'eq', data: Buffer }
// Wire (as nft writes it): NFTA_CMP_SREG be32, NFTA_CMP_OP be32, NFTA_CMP_DATA nest
// { NFTA_DATA_VALUE } (the bytes in packet order: network order for addresses and ports).
#include "expr.h"

namespace nk::nft::expr {

namespace {

const Names& Ops() {
  static const Names n = {{"eq", NFT_CMP_EQ},   {"neq", NFT_CMP_NEQ}, {"lt", NFT_CMP_LT},
                          {"lte", NFT_CMP_LTE}, {"gt", NFT_CMP_GT},   {"gte", NFT_CMP_GTE}};
  return n;
}

void Encode(const Reader& in, nl::MsgBuilder& b) {
  uint32_t sreg = ReadReg(in, "sreg");
  uint32_t op = in.ReqEnum("op", Ops(), "comparison");
  std::vector<uint8_t> data = in.ReqBytes("data", NFT_DATA_VALUE_MAXLEN);
  b.PutBe32(NFTA_CMP_SREG, sreg);
  b.PutBe32(NFTA_CMP_OP, op);
  PutValue(b, NFTA_CMP_DATA, data);
}

bool Decode(const uint8_t* data, size_t len, Value& out) {
  std::vector<std::optional<nl::Attr>> tb;
  if (!Table(data, len, NFTA_CMP_MAX, tb) || !OnlyKnown(tb, {NFTA_CMP_SREG, NFTA_CMP_OP, NFTA_CMP_DATA})) return false;
  uint32_t sreg, op;
  std::vector<uint8_t> value;
  if (!GetBe32(tb[NFTA_CMP_SREG], sreg) || !GetBe32(tb[NFTA_CMP_OP], op) || !GetValue(tb[NFTA_CMP_DATA], value))
    return false;
  const char* name = NameOf(Ops(), op);
  if (!name) return false;
  out.Set("sreg", Num(sreg));
  out.Set("op", Value::String(name));
  out.Set("data", Value::Bytes(std::move(value)));
  return true;
}

}  // namespace

const Def kCmp = {"cmp", Encode, Decode};

}  // namespace nk::nft::expr
