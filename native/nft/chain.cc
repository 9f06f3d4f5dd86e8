// Chains: NFT_MSG_NEWCHAIN / DELCHAIN / DESTROYCHAIN, flushing a chain's rules, and the
// chain decoder.
//   { op: 'newchain', family, table, name, hook?, priority?, type?, policy?, device?, userdata?, exclusive? }
//   { op: 'delchain' | 'destroychain' | 'flushchain', family, table, name, nonrec? }
// A base chain has a hook (nft add chain ... { type nat hook prerouting priority -100; policy accept; });
// a chain without one is a regular chain, reached by jump/goto.
// Wire (as nft writes it): NFTA_CHAIN_TABLE, NFTA_CHAIN_NAME, NFTA_CHAIN_TYPE, NFTA_CHAIN_POLICY
// be32, NFTA_CHAIN_HOOK nest { NFTA_HOOK_HOOKNUM be32, NFTA_HOOK_PRIORITY be32 (signed),
// NFTA_HOOK_DEV }, NFTA_CHAIN_USERDATA. Flushing is NFT_MSG_DELRULE without a handle.
#include "nft.h"

namespace nk::nft {

namespace {

// Hook numbers depend on the family: netdev has its own (ingress 0, egress 1).
const Names& InetHooks() {
  static const Names n = {{"prerouting", NF_INET_PRE_ROUTING},   {"input", NF_INET_LOCAL_IN},
                          {"forward", NF_INET_FORWARD},          {"output", NF_INET_LOCAL_OUT},
                          {"postrouting", NF_INET_POST_ROUTING}, {"ingress", 5 /* NF_INET_INGRESS */}};
  return n;
}
const Names& NetdevHooks() {
  static const Names n = {{"ingress", 0 /* NF_NETDEV_INGRESS */}, {"egress", 1 /* NF_NETDEV_EGRESS */}};
  return n;
}
const Names& Hooks(uint8_t family) { return family == NFPROTO_NETDEV ? NetdevHooks() : InetHooks(); }

const Names& Types() {
  static const Names n = {{"filter", 0}, {"nat", 1}, {"route", 2}};
  return n;
}

const Names& Policies() {
  static const Names n = {{"accept", NF_ACCEPT}, {"drop", NF_DROP}};
  return n;
}

}  // namespace

bool EncodeChainOp(const std::string& op, const Reader& r, Sink& out) {
  if (op == "newchain") {
    uint8_t family = ReadFamily(r);
    std::string table = r.ReqStr("table", NFT_TABLE_MAXNAMELEN - 1);
    std::string name = r.ReqStr("name", NFT_CHAIN_MAXNAMELEN - 1);
    auto hook = r.Enum("hook", Hooks(family), family == NFPROTO_NETDEV ? "netdev hook" : "hook");
    auto priority = r.I32("priority", INT32_MIN, INT32_MAX);
    auto type = r.Enum("type", Types(), "chain type");
    auto policy = r.Enum("policy", Policies(), "chain policy");
    auto device = r.Str("device", 15);
    auto userdata = r.Bytes("userdata", kMaxUserdata);
    bool excl = r.Bool("exclusive").value_or(false);
    if (!hook && (priority || type || policy || device))
      throw InputError(r.path() + ": priority, type, policy and device are for base chains, which need a hook");
    nl::MsgBuilder b = Request(NFT_MSG_NEWCHAIN, NLM_F_ACK | NLM_F_CREATE | (excl ? NLM_F_EXCL : 0), family);
    b.PutStr(NFTA_CHAIN_TABLE, table);
    b.PutStr(NFTA_CHAIN_NAME, name);
    if (hook) {
      b.PutStr(NFTA_CHAIN_TYPE, NameOf(Types(), type.value_or(0)));
      if (policy) b.PutBe32(NFTA_CHAIN_POLICY, *policy);
      size_t h = b.NestStart(NFTA_CHAIN_HOOK, true);
      b.PutBe32(NFTA_HOOK_HOOKNUM, *hook);
      b.PutBe32(NFTA_HOOK_PRIORITY, static_cast<uint32_t>(priority.value_or(0)));
      if (device) b.PutStr(NFTA_HOOK_DEV, *device);
      b.NestEnd(h);
    }
    if (userdata) b.Put(NFTA_CHAIN_USERDATA, userdata->data(), userdata->size());
    r.Ignore("handle");
    r.Strict();
    out.Add(std::move(b).Finish());
    return true;
  }
  if (op == "delchain" || op == "destroychain" || op == "flushchain") {
    uint8_t family = ReadFamily(r);
    std::string table = r.ReqStr("table", NFT_TABLE_MAXNAMELEN - 1);
    std::string name = r.ReqStr("name", NFT_CHAIN_MAXNAMELEN - 1);
    // nonrec (NLM_F_NONREC, delchain only): refused with EBUSY while the chain holds a rule or a
    // jump to it, instead of deleting its rules with it.
    bool nonrec = op == "delchain" && r.Bool("nonrec").value_or(false);
    r.Strict();
    if (op == "flushchain") {
      nl::MsgBuilder b = Request(NFT_MSG_DELRULE, NLM_F_ACK, family);
      b.PutStr(NFTA_RULE_TABLE, table);
      b.PutStr(NFTA_RULE_CHAIN, name);
      out.Add(std::move(b).Finish());
      return true;
    }
    nl::MsgBuilder b = Request(op == "delchain" ? uint16_t{NFT_MSG_DELCHAIN} : kMsgDestroyChain,
                               NLM_F_ACK | (nonrec ? NLM_F_NONREC : 0), family);
    b.PutStr(NFTA_CHAIN_TABLE, table);
    b.PutStr(NFTA_CHAIN_NAME, name);
    out.Add(std::move(b).Finish());
    return true;
  }
  return false;
}

bool DecodeChain(const uint8_t* msg, size_t len, Value& out) {
  Parsed p;
  if (!Parse(msg, len, NFTA_CHAIN_MAX, p) || p.msg != NFT_MSG_NEWCHAIN) return false;
  if (!p.tb[NFTA_CHAIN_TABLE] || !p.tb[NFTA_CHAIN_NAME]) return false;
  out = Value::Object();
  out.Set("family", Value::String(FamilyName(p.family)));
  out.Set("table", Value::String(p.tb[NFTA_CHAIN_TABLE]->Str()));
  out.Set("name", Value::String(p.tb[NFTA_CHAIN_NAME]->Str()));
  if (p.tb[NFTA_CHAIN_HOOK]) {
    std::vector<std::optional<nl::Attr>> h;
    if (!nl::ParseTable(p.tb[NFTA_CHAIN_HOOK]->data, p.tb[NFTA_CHAIN_HOOK]->len, h, NFTA_HOOK_MAX)) return false;
    if (h[NFTA_HOOK_HOOKNUM]) {
      auto num = h[NFTA_HOOK_HOOKNUM]->Be32();
      const char* name = num ? NameOf(Hooks(p.family), *num) : nullptr;
      out.Set("hook", name ? Value::String(name) : Value::Number(num.value_or(0)));
    }
    if (h[NFTA_HOOK_PRIORITY]) {
      auto prio = h[NFTA_HOOK_PRIORITY]->Be32();
      if (prio) out.Set("priority", Value::Number(static_cast<int32_t>(*prio)));
    }
    if (p.tb[NFTA_CHAIN_TYPE]) out.Set("type", Value::String(p.tb[NFTA_CHAIN_TYPE]->Str()));
    if (p.tb[NFTA_CHAIN_POLICY]) {
      auto pol = p.tb[NFTA_CHAIN_POLICY]->Be32();
      const char* name = pol ? NameOf(Policies(), *pol) : nullptr;
      if (name) out.Set("policy", Value::String(name));
    }
    if (h[NFTA_HOOK_DEV]) out.Set("device", Value::String(h[NFTA_HOOK_DEV]->Str()));
  }
  if (p.tb[NFTA_CHAIN_USERDATA]) out.Set("userdata", Value::Bytes(p.tb[NFTA_CHAIN_USERDATA]->Bytes()));
  if (p.tb[NFTA_CHAIN_HANDLE]) {
    if (auto h = p.tb[NFTA_CHAIN_HANDLE]->Be64()) out.Set("handle", Value::BigInt(*h));
  }
  return true;
}

}  // namespace nk::nft
