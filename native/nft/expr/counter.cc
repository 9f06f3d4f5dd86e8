// counter: counts the packets and bytes that reach it (`counter pkts 0 bytes 0`).
//   { type: 'counter', bytes?: 0n, packets?: 0n }
// Wire (as nft writes it): an empty NFTA_EXPR_DATA nest, or NFTA_COUNTER_BYTES and
// NFTA_COUNTER_PACKETS be64 to start from given values. Read back, both are the live counts.
#include "expr.h"

namespace nk::nft::expr {

namespace {

void Encode(const Reader& in, nl::MsgBuilder& b) {
  auto bytes = in.U64("bytes");
  auto packets = in.U64("packets");
  if (bytes) b.PutBe64(NFTA_COUNTER_BYTES, *bytes);
  if (packets) b.PutBe64(NFTA_COUNTER_PACKETS, *packets);
}

bool Decode(const uint8_t* data, size_t len, Value& out) {
  std::vector<std::optional<nl::Attr>> tb;
  if (!Table(data, len, NFTA_COUNTER_MAX, tb) ||
      !OnlyKnown(tb, {NFTA_COUNTER_BYTES, NFTA_COUNTER_PACKETS, NFTA_COUNTER_PAD}))
    return false;
  for (auto [attr, key] :
       {std::pair<int, const char*>{NFTA_COUNTER_BYTES, "bytes"}, {NFTA_COUNTER_PACKETS, "packets"}}) {
    if (!tb[attr]) continue;
    if (tb[attr]->len != 8) return false;
    out.Set(key, Value::BigInt(*tb[attr]->Be64()));
  }
  return true;
}

}  // namespace

const Def kCounter = {"counter", Encode, Decode};

}  // namespace nk::nft::expr
