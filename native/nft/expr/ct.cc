// ct: conntrack state of the packet's connection into a register (`ct load state => reg 1`,
// `ct load proto_dst => reg 1 , dir original`), or a register into it (`ct set mark with reg 1`).
//   { type: 'ct', key: 'state', dreg: 1, direction?: 0 | 1 }  |  { type: 'ct', key: 'mark', sreg: 1 }
// Wire (as nft writes it): NFTA_CT_KEY be32, NFTA_CT_DREG or NFTA_CT_SREG be32, then
// NFTA_CT_DIRECTION u8 (0 original, 1 reply) for the keys that need one.
#include "expr.h"

namespace nk::nft::expr {

namespace {

const Names& Keys() {
  static const Names n = {{"state", NFT_CT_STATE},
                          {"direction", NFT_CT_DIRECTION},
                          {"status", NFT_CT_STATUS},
                          {"mark", NFT_CT_MARK},
                          {"secmark", NFT_CT_SECMARK},
                          {"expiration", NFT_CT_EXPIRATION},
                          {"helper", NFT_CT_HELPER},
                          {"l3protocol", NFT_CT_L3PROTOCOL},
                          {"src", NFT_CT_SRC},
                          {"dst", NFT_CT_DST},
                          {"protocol", NFT_CT_PROTOCOL},
                          {"proto-src", NFT_CT_PROTO_SRC},
                          {"proto-dst", NFT_CT_PROTO_DST},
                          {"labels", NFT_CT_LABELS},
                          {"packets", NFT_CT_PKTS},
                          {"bytes", NFT_CT_BYTES},
                          {"avgpkt", NFT_CT_AVGPKT},
                          {"zone", NFT_CT_ZONE},
                          {"event", NFT_CT_EVENTMASK},
                          {"src-ip", NFT_CT_SRC_IP},
                          {"dst-ip", NFT_CT_DST_IP},
                          {"src-ip6", NFT_CT_SRC_IP6},
                          {"dst-ip6", NFT_CT_DST_IP6},
                          {"id", NFT_CT_ID}};
  return n;
}

void Encode(const Reader& in, nl::MsgBuilder& b) {
  uint32_t key = in.ReqEnum("key", Keys(), "ct key");
  bool load = in.Has("dreg"), store = in.Has("sreg");
  if (load == store) throw InputError(in.path() + " needs exactly one of dreg (load) and sreg (set)");
  auto dir = in.U32("direction", 0, 1);
  b.PutBe32(NFTA_CT_KEY, key);
  if (load)
    b.PutBe32(NFTA_CT_DREG, ReadReg(in, "dreg"));
  else
    b.PutBe32(NFTA_CT_SREG, ReadReg(in, "sreg"));
  if (dir) b.PutU8(NFTA_CT_DIRECTION, static_cast<uint8_t>(*dir));
}

bool Decode(const uint8_t* data, size_t len, Value& out) {
  std::vector<std::optional<nl::Attr>> tb;
  if (!Table(data, len, NFTA_CT_MAX, tb) ||
      !OnlyKnown(tb, {NFTA_CT_KEY, NFTA_CT_DREG, NFTA_CT_SREG, NFTA_CT_DIRECTION}))
    return false;
  uint32_t key, reg;
  if (!GetBe32(tb[NFTA_CT_KEY], key) || !tb[NFTA_CT_DREG] == !tb[NFTA_CT_SREG]) return false;
  const char* name = NameOf(Keys(), key);
  if (!name) return false;
  out.Set("key", Value::String(name));
  if (!GetBe32(tb[NFTA_CT_DREG] ? tb[NFTA_CT_DREG] : tb[NFTA_CT_SREG], reg)) return false;
  out.Set(tb[NFTA_CT_DREG] ? "dreg" : "sreg", Num(reg));
  if (tb[NFTA_CT_DIRECTION]) {
    auto d = tb[NFTA_CT_DIRECTION]->U8();
    if (!d || *d > 1) return false;
    out.Set("direction", Num(*d));
  }
  return true;
}

}  // namespace

const Def kCt = {"ct", Encode, Decode};

}  // namespace nk::nft::expr
