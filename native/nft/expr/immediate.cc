// immediate: a constant into a register (`immediate reg 1 0x0100000a`), or a verdict into
// the verdict register (`immediate reg 0 accept`, `immediate reg 0 jump -> chain`).
//   { type: 'immediate', dreg: 1, data: Buffer }  |  { type: 'immediate', dreg: 0, verdict: { code: 'jump', chain: 'x'
//   } }
// Wire (as nft writes it): NFTA_IMMEDIATE_DREG be32, NFTA_IMMEDIATE_DATA nest { NFTA_DATA_VALUE }
// or { NFTA_DATA_VERDICT nest { NFTA_VERDICT_CODE be32, NFTA_VERDICT_CHAIN } }.
#include "expr.h"

namespace nk::nft::expr {

namespace {

void Encode(const Reader& in, nl::MsgBuilder& b) {
  bool hasData = in.Has("data"), hasVerdict = in.Has("verdict");
  if (hasData == hasVerdict) throw InputError(in.path() + " needs exactly one of data and verdict");
  if (hasVerdict) {
    uint32_t dreg = in.Has("dreg") ? ReadReg(in, "dreg", true) : uint32_t{NFT_REG_VERDICT};
    if (dreg != NFT_REG_VERDICT)
      throw InputError(in.At("dreg") + " must be 0 (the verdict register) for a verdict", true);
    Verdict v = ReadVerdict(*in.Obj("verdict"));
    b.PutBe32(NFTA_IMMEDIATE_DREG, dreg);
    PutVerdict(b, NFTA_IMMEDIATE_DATA, v);
  } else {
    uint32_t dreg = ReadReg(in, "dreg");
    std::vector<uint8_t> data = in.ReqBytes("data", NFT_DATA_VALUE_MAXLEN);
    b.PutBe32(NFTA_IMMEDIATE_DREG, dreg);
    PutValue(b, NFTA_IMMEDIATE_DATA, data);
  }
}

bool Decode(const uint8_t* data, size_t len, Value& out) {
  std::vector<std::optional<nl::Attr>> tb;
  if (!Table(data, len, NFTA_IMMEDIATE_MAX, tb) || !OnlyKnown(tb, {NFTA_IMMEDIATE_DREG, NFTA_IMMEDIATE_DATA}))
    return false;
  uint32_t dreg;
  if (!GetBe32(tb[NFTA_IMMEDIATE_DREG], dreg) || !tb[NFTA_IMMEDIATE_DATA]) return false;
  std::optional<std::vector<uint8_t>> value;
  std::optional<Verdict> verdict;
  if (!ReadData(*tb[NFTA_IMMEDIATE_DATA], &value, &verdict)) return false;
  out.Set("dreg", Num(dreg));
  if (value)
    out.Set("data", Value::Bytes(std::move(*value)));
  else
    out.Set("verdict", VerdictValue(*verdict));
  return true;
}

}  // namespace

const Def kImmediate = {"immediate", Encode, Decode};

}  // namespace nk::nft::expr
