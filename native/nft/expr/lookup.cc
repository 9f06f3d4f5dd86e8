// lookup: is the key in sreg an element of a set (`lookup reg 1 set allow`), or, for a map,
// its data into dreg (`lookup reg 1 set ports dreg 1`; dreg 0 for a verdict map).
//   { type: 'lookup', sreg: 1, set: 'ports', setId?: 1, dreg?: 1, invert?: true }
// `setId` refers to a set created earlier in the same batch (NFTA_SET_ID), as nft does.
// Wire (as nft writes it): NFTA_LOOKUP_SREG, [NFTA_LOOKUP_DREG], NFTA_LOOKUP_SET (string),
// [NFTA_LOOKUP_SET_ID], [NFTA_LOOKUP_FLAGS = NFT_LOOKUP_F_INV], all numbers be32.
#include "expr.h"

namespace nk::nft::expr {

namespace {

void Encode(const Reader& in, nl::MsgBuilder& b) {
  uint32_t sreg = ReadReg(in, "sreg");
  std::optional<uint32_t> dreg;
  if (in.Has("dreg")) dreg = ReadReg(in, "dreg", true);
  std::string set = in.ReqStr("set", NFT_SET_MAXNAMELEN - 1);
  auto setId = in.U32("setId");
  bool invert = in.Bool("invert").value_or(false);
  if (invert && dreg) throw InputError(in.At("invert") + " is for set lookups, not map lookups (dreg)");
  b.PutBe32(NFTA_LOOKUP_SREG, sreg);
  if (dreg) b.PutBe32(NFTA_LOOKUP_DREG, *dreg);
  b.PutStr(NFTA_LOOKUP_SET, set);
  if (setId) b.PutBe32(NFTA_LOOKUP_SET_ID, *setId);
  if (invert) b.PutBe32(NFTA_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
}

bool Decode(const uint8_t* data, size_t len, Value& out) {
  std::vector<std::optional<nl::Attr>> tb;
  if (!Table(data, len, NFTA_LOOKUP_MAX, tb) ||
      !OnlyKnown(tb, {NFTA_LOOKUP_SET, NFTA_LOOKUP_SREG, NFTA_LOOKUP_DREG, NFTA_LOOKUP_SET_ID, NFTA_LOOKUP_FLAGS}))
    return false;
  uint32_t sreg, dreg, setId, flags = 0;
  if (!GetBe32(tb[NFTA_LOOKUP_SREG], sreg) || !tb[NFTA_LOOKUP_SET]) return false;
  if (tb[NFTA_LOOKUP_FLAGS] && !GetBe32(tb[NFTA_LOOKUP_FLAGS], flags)) return false;
  if (flags & ~static_cast<uint32_t>(NFT_LOOKUP_F_INV)) return false;
  out.Set("sreg", Num(sreg));
  out.Set("set", Value::String(tb[NFTA_LOOKUP_SET]->Str()));
  if (tb[NFTA_LOOKUP_SET_ID]) {
    if (!GetBe32(tb[NFTA_LOOKUP_SET_ID], setId)) return false;
    out.Set("setId", Num(setId));
  }
  if (tb[NFTA_LOOKUP_DREG]) {
    if (!GetBe32(tb[NFTA_LOOKUP_DREG], dreg)) return false;
    out.Set("dreg", Num(dreg));
  }
  if (flags & NFT_LOOKUP_F_INV) out.Set("invert", Value::Bool(true));
  return true;
}

}  // namespace

const Def kLookup = {"lookup", Encode, Decode};

}  // namespace nk::nft::expr
