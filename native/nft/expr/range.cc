// range: is the register inside [from, to] (`range neq reg 1 0x0000e803 0x0000d007`); on a
// mismatch the rule stops here. Bounds compare as big-endian numbers (packet order).
//   { type: 'range', sreg: 1, op: 'eq' | 'neq', from: Buffer, to: Buffer }
// Wire (as nft writes it): NFTA_RANGE_SREG, NFTA_RANGE_OP (be32), NFTA_RANGE_FROM_DATA and
// NFTA_RANGE_TO_DATA nests { NFTA_DATA_VALUE }.
#include "expr.h"

namespace nk::nft::expr {

namespace {

const Names& Ops() {
  static const Names n = {{"eq", NFT_RANGE_EQ}, {"neq", NFT_RANGE_NEQ}};
  return n;
}

void Encode(const Reader& in, nl::MsgBuilder& b) {
  uint32_t sreg = ReadReg(in, "sreg");
  uint32_t op = in.ReqEnum("op", Ops(), "range comparison");
  std::vector<uint8_t> from = in.ReqBytes("from", NFT_DATA_VALUE_MAXLEN);
  std::vector<uint8_t> to = in.ReqBytes("to", NFT_DATA_VALUE_MAXLEN);
  if (from.size() != to.size()) throw InputError(in.path() + ": from and to must have the same length");
  b.PutBe32(NFTA_RANGE_SREG, sreg);
  b.PutBe32(NFTA_RANGE_OP, op);
  PutValue(b, NFTA_RANGE_FROM_DATA, from);
  PutValue(b, NFTA_RANGE_TO_DATA, to);
}

bool Decode(const uint8_t* data, size_t len, Value& out) {
  std::vector<std::optional<nl::Attr>> tb;
  if (!Table(data, len, NFTA_RANGE_MAX, tb)) return false;
  uint32_t sreg, op;
  std::vector<uint8_t> from, to;
  if (!GetBe32(tb[NFTA_RANGE_SREG], sreg) || !GetBe32(tb[NFTA_RANGE_OP], op) ||
      !GetValue(tb[NFTA_RANGE_FROM_DATA], from) || !GetValue(tb[NFTA_RANGE_TO_DATA], to))
    return false;
  const char* name = NameOf(Ops(), op);
  if (!name) return false;
  out.Set("sreg", Num(sreg));
  out.Set("op", Value::String(name));
  out.Set("from", Value::Bytes(std::move(from)));
  out.Set("to", Value::Bytes(std::move(to)));
  return true;
}

}  // namespace

const Def kRange = {"range", Encode, Decode};

}  // namespace nk::nft::expr
