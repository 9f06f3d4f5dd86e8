#include "common.h"

#include <endian.h>
#include <sys/socket.h>

#include <cstring>

namespace nk::nft {

const char* MsgName(uint16_t msg) {
  switch (msg) {
    case NFT_MSG_NEWTABLE:
      return "NFT_MSG_NEWTABLE";
    case NFT_MSG_GETTABLE:
      return "NFT_MSG_GETTABLE";
    case NFT_MSG_DELTABLE:
      return "NFT_MSG_DELTABLE";
    case NFT_MSG_NEWCHAIN:
      return "NFT_MSG_NEWCHAIN";
    case NFT_MSG_GETCHAIN:
      return "NFT_MSG_GETCHAIN";
    case NFT_MSG_DELCHAIN:
      return "NFT_MSG_DELCHAIN";
    case NFT_MSG_NEWRULE:
      return "NFT_MSG_NEWRULE";
    case NFT_MSG_GETRULE:
      return "NFT_MSG_GETRULE";
    case NFT_MSG_DELRULE:
      return "NFT_MSG_DELRULE";
    case NFT_MSG_NEWSET:
      return "NFT_MSG_NEWSET";
    case NFT_MSG_GETSET:
      return "NFT_MSG_GETSET";
    case NFT_MSG_DELSET:
      return "NFT_MSG_DELSET";
    case NFT_MSG_NEWSETELEM:
      return "NFT_MSG_NEWSETELEM";
    case NFT_MSG_GETSETELEM:
      return "NFT_MSG_GETSETELEM";
    case NFT_MSG_DELSETELEM:
      return "NFT_MSG_DELSETELEM";
    case NFT_MSG_GETGEN:
      return "NFT_MSG_GETGEN";
    case kMsgDestroyTable:
      return "NFT_MSG_DESTROYTABLE";
    case kMsgDestroyChain:
      return "NFT_MSG_DESTROYCHAIN";
    case kMsgDestroyRule:
      return "NFT_MSG_DESTROYRULE";
    case kMsgDestroySet:
      return "NFT_MSG_DESTROYSET";
    case kMsgDestroySetElem:
      return "NFT_MSG_DESTROYSETELEM";
    default:
      return "NFT_MSG_UNKNOWN";
  }
}

nl::MsgBuilder Request(uint16_t msg, uint16_t flags, uint8_t family) {
  nl::MsgBuilder b(static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | msg), NLM_F_REQUEST | flags);
  nfgenmsg g{};
  g.nfgen_family = family;
  g.version = NFNETLINK_V0;
  g.res_id = 0;
  b.PutHeader(g);
  return b;
}

namespace {
std::vector<uint8_t> BatchMarker(uint16_t type, std::optional<uint32_t> genid = std::nullopt) {
  nl::MsgBuilder b(type, NLM_F_REQUEST);
  nfgenmsg g{};
  g.nfgen_family = AF_UNSPEC;
  g.version = NFNETLINK_V0;
  g.res_id = htobe16(NFNL_SUBSYS_NFTABLES);
  b.PutHeader(g);
  if (genid) b.PutBe32(NFNL_BATCH_GENID, *genid);
  return std::move(b).Finish();
}
}  // namespace

std::vector<uint8_t> BatchBegin(std::optional<uint32_t> genid) { return BatchMarker(NFNL_MSG_BATCH_BEGIN, genid); }
std::vector<uint8_t> BatchEnd() { return BatchMarker(NFNL_MSG_BATCH_END); }

const Names& Families() {
  static const Names n = {{"inet", NFPROTO_INET},     {"ip", NFPROTO_IPV4},       {"ip6", NFPROTO_IPV6},
                          {"bridge", NFPROTO_BRIDGE}, {"netdev", NFPROTO_NETDEV}, {"arp", NFPROTO_ARP}};
  return n;
}

uint8_t ReadFamily(const Reader& r, bool required) {
  auto f = required ? r.ReqEnum("family", Families(), "family") : r.Enum("family", Families(), "family");
  return static_cast<uint8_t>(f.value_or(NFPROTO_UNSPEC));
}

const char* FamilyName(uint8_t family) {
  const char* n = NameOf(Families(), family);
  return n ? n : "unspec";
}

bool Parse(const uint8_t* msg, size_t len, size_t maxAttr, Parsed& out) {
  std::vector<nl::MsgView> views;
  if (!nl::SplitMessages(msg, len, views) || views.size() != 1) return false;
  const nl::MsgView& m = views[0];
  if (NFNL_SUBSYS_ID(m.hdr->nlmsg_type) != NFNL_SUBSYS_NFTABLES) return false;
  out.msg = NFNL_MSG_TYPE(m.hdr->nlmsg_type);
  const uint8_t* attrs;
  size_t alen;
  if (!nl::MessageAttrs(m, sizeof(nfgenmsg), &attrs, &alen)) return false;
  nfgenmsg g;
  std::memcpy(&g, m.payload, sizeof(g));
  out.family = g.nfgen_family;
  return nl::ParseTable(attrs, alen, out.tb, maxAttr);
}

uint32_t ReadReg(const Reader& r, const char* key, bool verdictOk) {
  uint32_t reg = r.ReqU32(key, 0, NFT_REG32_15);
  bool data = (reg >= NFT_REG_1 && reg <= NFT_REG_4) || reg >= NFT_REG32_00;
  if (!data && !(verdictOk && reg == NFT_REG_VERDICT))
    throw InputError(r.At(key) + " must be a data register (1 to 4, or 8 to 23 for the 32-bit registers)" +
                         (verdictOk ? " or 0 (the verdict register)" : "") + ", received " + std::to_string(reg),
                     true);
  return reg;
}

std::optional<uint32_t> ReadOptReg(const Reader& r, const char* key) {
  if (!r.Has(key)) return std::nullopt;
  return ReadReg(r, key);
}

const Names& VerdictCodes() {
  static const Names n = {
      {"accept", static_cast<uint32_t>(NF_ACCEPT)},      {"drop", static_cast<uint32_t>(NF_DROP)},
      {"continue", static_cast<uint32_t>(NFT_CONTINUE)}, {"break", static_cast<uint32_t>(NFT_BREAK)},
      {"return", static_cast<uint32_t>(NFT_RETURN)},     {"jump", static_cast<uint32_t>(NFT_JUMP)},
      {"goto", static_cast<uint32_t>(NFT_GOTO)}};
  return n;
}

Verdict ReadVerdict(const Reader& r) {
  Verdict v;
  v.code = static_cast<int32_t>(r.ReqEnum("code", VerdictCodes(), "verdict"));
  auto chain = r.Str("chain", NFT_CHAIN_MAXNAMELEN - 1);
  bool needsChain = v.code == NFT_JUMP || v.code == NFT_GOTO;
  if (needsChain && (!chain || chain->empty()))
    throw InputError(r.At("chain") + " is required for a jump or goto verdict");
  if (!needsChain && chain) throw InputError(r.At("chain") + " is only for jump and goto verdicts");
  if (chain) v.chain = *chain;
  r.Strict();
  return v;
}

Value VerdictValue(const Verdict& v) {
  Value o = Value::Object();
  const char* name = NameOf(VerdictCodes(), static_cast<uint32_t>(v.code));
  o.Set("code", Value::String(name ? name : std::to_string(v.code)));
  if (!v.chain.empty()) o.Set("chain", Value::String(v.chain));
  return o;
}

void PutValue(nl::MsgBuilder& b, uint16_t attr, const std::vector<uint8_t>& value) {
  size_t n = b.NestStart(attr, true);
  b.Put(NFTA_DATA_VALUE, value.data(), value.size());
  b.NestEnd(n);
}

void PutVerdict(nl::MsgBuilder& b, uint16_t attr, const Verdict& v) {
  size_t n = b.NestStart(attr, true);
  size_t d = b.NestStart(NFTA_DATA_VERDICT, true);
  b.PutBe32(NFTA_VERDICT_CODE, static_cast<uint32_t>(v.code));
  if (!v.chain.empty()) b.PutStr(NFTA_VERDICT_CHAIN, v.chain);
  b.NestEnd(d);
  b.NestEnd(n);
}

bool ReadData(const nl::Attr& a, std::optional<std::vector<uint8_t>>* value, std::optional<Verdict>* verdict) {
  std::vector<std::optional<nl::Attr>> tb;
  if (!nl::ParseTable(a.data, a.len, tb, NFTA_DATA_MAX)) return false;
  if (tb[NFTA_DATA_VALUE]) {
    if (!value) return false;
    *value = tb[NFTA_DATA_VALUE]->Bytes();
    return true;
  }
  if (tb[NFTA_DATA_VERDICT]) {
    if (!verdict) return false;
    std::vector<std::optional<nl::Attr>> vt;
    if (!nl::ParseTable(tb[NFTA_DATA_VERDICT]->data, tb[NFTA_DATA_VERDICT]->len, vt, NFTA_VERDICT_MAX)) return false;
    if (!vt[NFTA_VERDICT_CODE]) return false;
    auto code = vt[NFTA_VERDICT_CODE]->Be32();
    if (!code) return false;
    Verdict v;
    v.code = static_cast<int32_t>(*code);
    if (vt[NFTA_VERDICT_CHAIN]) v.chain = vt[NFTA_VERDICT_CHAIN]->Str();
    *verdict = v;
    return true;
  }
  return false;
}

}  // namespace nk::nft
