// fib: a routing lookup for the packet into a register (`fib daddr type => reg 1`,
// `fib daddr oif present => reg 1`).
//   { type: 'fib', result: 'addrtype', flags: 2 /* NFTA_FIB_F_DADDR */, dreg: 1 }
// Wire (as nft writes it): NFTA_FIB_FLAGS, NFTA_FIB_RESULT, NFTA_FIB_DREG, all be32.
// Flags: NFTA_FIB_F_SADDR 1, DADDR 2, MARK 4, IIF 8, OIF 16, PRESENT 32.
#include "expr.h"

namespace nk::nft::expr {

namespace {

const Names& Results() {
  static const Names n = {
      {"oif", NFT_FIB_RESULT_OIF}, {"oifname", NFT_FIB_RESULT_OIFNAME}, {"addrtype", NFT_FIB_RESULT_ADDRTYPE}};
  return n;
}

void Encode(const Reader& in, nl::MsgBuilder& b) {
  uint32_t result = in.ReqEnum("result", Results(), "fib result");
  uint32_t flags = in.ReqU32("flags", 0, 0xff);
  uint32_t dreg = ReadReg(in, "dreg");
  b.PutBe32(NFTA_FIB_FLAGS, flags);
  b.PutBe32(NFTA_FIB_RESULT, result);
  b.PutBe32(NFTA_FIB_DREG, dreg);
}

bool Decode(const uint8_t* data, size_t len, Value& out) {
  std::vector<std::optional<nl::Attr>> tb;
  if (!Table(data, len, NFTA_FIB_MAX, tb) || !OnlyKnown(tb, {NFTA_FIB_DREG, NFTA_FIB_RESULT, NFTA_FIB_FLAGS}))
    return false;
  uint32_t dreg, result, flags;
  if (!GetBe32(tb[NFTA_FIB_DREG], dreg) || !GetBe32(tb[NFTA_FIB_RESULT], result) || !GetBe32(tb[NFTA_FIB_FLAGS], flags))
    return false;
  const char* name = NameOf(Results(), result);
  if (!name) return false;
  out.Set("result", Value::String(name));
  out.Set("flags", Num(flags));
  out.Set("dreg", Num(dreg));
  return true;
}

}  // namespace

const Def kFib = {"fib", Encode, Decode};

}  // namespace nk::nft::expr
