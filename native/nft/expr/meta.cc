// meta: packet metadata into a register (`meta load oifname => reg 1`), or a register into
// writable metadata (`meta set mark with reg 1`).
//   { type: 'meta', key: 'oifname', dreg: 1 }  |  { type: 'meta', key: 'mark', sreg: 1 }
// Wire (as nft writes it): NFTA_META_KEY be32, then NFTA_META_DREG or NFTA_META_SREG be32.
#include "expr.h"

namespace nk::nft::expr {

namespace {

const Names& Keys() {
  static const Names n = {{"len", NFT_META_LEN},
                          {"protocol", NFT_META_PROTOCOL},
                          {"priority", NFT_META_PRIORITY},
                          {"mark", NFT_META_MARK},
                          {"iif", NFT_META_IIF},
                          {"oif", NFT_META_OIF},
                          {"iifname", NFT_META_IIFNAME},
                          {"oifname", NFT_META_OIFNAME},
                          {"iiftype", NFT_META_IIFTYPE},
                          {"oiftype", NFT_META_OIFTYPE},
                          {"skuid", NFT_META_SKUID},
                          {"skgid", NFT_META_SKGID},
                          {"nftrace", NFT_META_NFTRACE},
                          {"rtclassid", NFT_META_RTCLASSID},
                          {"secmark", NFT_META_SECMARK},
                          {"nfproto", NFT_META_NFPROTO},
                          {"l4proto", NFT_META_L4PROTO},
                          {"ibrname", NFT_META_BRI_IIFNAME},
                          {"obrname", NFT_META_BRI_OIFNAME},
                          {"pkttype", NFT_META_PKTTYPE},
                          {"cpu", NFT_META_CPU},
                          {"iifgroup", NFT_META_IIFGROUP},
                          {"oifgroup", NFT_META_OIFGROUP},
                          {"cgroup", NFT_META_CGROUP},
                          {"random", NFT_META_PRANDOM},
                          {"secpath", NFT_META_SECPATH},
                          {"iifkind", NFT_META_IIFKIND},
                          {"oifkind", NFT_META_OIFKIND},
                          {"ibrpvid", NFT_META_BRI_IIFPVID},
                          {"ibrvproto", NFT_META_BRI_IIFVPROTO},
                          {"time", NFT_META_TIME_NS},
                          {"day", NFT_META_TIME_DAY},
                          {"hour", NFT_META_TIME_HOUR},
                          {"sdif", NFT_META_SDIF},
                          {"sdifname", NFT_META_SDIFNAME}};
  return n;
}

void Encode(const Reader& in, nl::MsgBuilder& b) {
  uint32_t key = in.ReqEnum("key", Keys(), "meta key");
  bool load = in.Has("dreg"), store = in.Has("sreg");
  if (load == store) throw InputError(in.path() + " needs exactly one of dreg (load) and sreg (set)");
  b.PutBe32(NFTA_META_KEY, key);
  if (load)
    b.PutBe32(NFTA_META_DREG, ReadReg(in, "dreg"));
  else
    b.PutBe32(NFTA_META_SREG, ReadReg(in, "sreg"));
}

bool Decode(const uint8_t* data, size_t len, Value& out) {
  std::vector<std::optional<nl::Attr>> tb;
  if (!Table(data, len, NFTA_META_MAX, tb) || !OnlyKnown(tb, {NFTA_META_KEY, NFTA_META_DREG, NFTA_META_SREG}))
    return false;
  uint32_t key, reg;
  if (!GetBe32(tb[NFTA_META_KEY], key)) return false;
  const char* name = NameOf(Keys(), key);
  if (!name || !tb[NFTA_META_DREG] == !tb[NFTA_META_SREG]) return false;
  out.Set("key", Value::String(name));
  if (tb[NFTA_META_DREG]) {
    if (!GetBe32(tb[NFTA_META_DREG], reg)) return false;
    out.Set("dreg", Num(reg));
  } else {
    if (!GetBe32(tb[NFTA_META_SREG], reg)) return false;
    out.Set("sreg", Num(reg));
  }
  return true;
}

}  // namespace

const Def kMeta = {"meta", Encode, Decode};

}  // namespace nk::nft::expr
