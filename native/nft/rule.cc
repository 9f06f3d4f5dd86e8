// Rules: NFT_MSG_NEWRULE / DELRULE / DESTROYRULE and the rule decoder.
//   { op: 'newrule', family, table, chain, exprs, userdata?, position?, insert? }
//       nft add rule (after the rule `position`, or at the end), nft insert rule (insert: true:
//       before `position`, or at the start)
//   { op: 'delrule' | 'destroyrule', family, table, chain, handle }   nft delete rule ... handle N
// Wire (as nft writes it): NFTA_RULE_TABLE, NFTA_RULE_CHAIN, [NFTA_RULE_POSITION be64],
// NFTA_RULE_EXPRESSIONS (see expr/), [NFTA_RULE_USERDATA]; add sets NLM_F_APPEND.
#include "nft.h"

#include "expr/expr.h"

namespace nk::nft {

bool EncodeRuleOp(const std::string& op, const Reader& r, Sink& out) {
  if (op == "newrule") {
    uint8_t family = ReadFamily(r);
    std::string table = r.ReqStr("table", NFT_TABLE_MAXNAMELEN - 1);
    std::string chain = r.ReqStr("chain", NFT_CHAIN_MAXNAMELEN - 1);
    const std::vector<Value>* exprs = r.Arr("exprs");
    if (!exprs) throw InputError(r.At("exprs") + " is required (an array of expressions)");
    auto userdata = r.Bytes("userdata", kMaxUserdata);
    auto position = r.U64("position");
    bool insert = r.Bool("insert").value_or(false);
    uint16_t flags = NLM_F_ACK | NLM_F_ECHO | NLM_F_CREATE | (insert ? 0 : NLM_F_APPEND);
    nl::MsgBuilder b = Request(NFT_MSG_NEWRULE, flags, family);
    b.PutStr(NFTA_RULE_TABLE, table);
    b.PutStr(NFTA_RULE_CHAIN, chain);
    if (position) b.PutBe64(NFTA_RULE_POSITION, *position);
    expr::EncodeList(*exprs, r.At("exprs"), b, NFTA_RULE_EXPRESSIONS);
    if (userdata) b.Put(NFTA_RULE_USERDATA, userdata->data(), userdata->size());
    r.Ignore("handle");
    r.Strict();
    out.Add(std::move(b).Finish());
    return true;
  }
  if (op == "delrule" || op == "destroyrule") {
    uint8_t family = ReadFamily(r);
    std::string table = r.ReqStr("table", NFT_TABLE_MAXNAMELEN - 1);
    std::string chain = r.ReqStr("chain", NFT_CHAIN_MAXNAMELEN - 1);
    auto handle = r.U64("handle");
    if (!handle || *handle == 0) throw InputError(r.At("handle") + " is required (the rule's handle, a bigint)");
    nl::MsgBuilder b = Request(op == "delrule" ? uint16_t{NFT_MSG_DELRULE} : kMsgDestroyRule, NLM_F_ACK, family);
    b.PutStr(NFTA_RULE_TABLE, table);
    b.PutStr(NFTA_RULE_CHAIN, chain);
    b.PutBe64(NFTA_RULE_HANDLE, *handle);
    r.Strict();
    out.Add(std::move(b).Finish());
    return true;
  }
  return false;
}

bool DecodeRule(const uint8_t* msg, size_t len, Value& out, bool withExprs) {
  Parsed p;
  if (!Parse(msg, len, NFTA_RULE_MAX, p) || p.msg != NFT_MSG_NEWRULE) return false;
  if (!p.tb[NFTA_RULE_TABLE] || !p.tb[NFTA_RULE_CHAIN]) return false;
  out = Value::Object();
  out.Set("family", Value::String(FamilyName(p.family)));
  out.Set("table", Value::String(p.tb[NFTA_RULE_TABLE]->Str()));
  out.Set("chain", Value::String(p.tb[NFTA_RULE_CHAIN]->Str()));
  if (withExprs) {
    Value exprs = Value::Array();
    if (p.tb[NFTA_RULE_EXPRESSIONS] && !expr::DecodeList(*p.tb[NFTA_RULE_EXPRESSIONS], exprs)) return false;
    out.Set("exprs", std::move(exprs));
  }
  if (p.tb[NFTA_RULE_USERDATA]) out.Set("userdata", Value::Bytes(p.tb[NFTA_RULE_USERDATA]->Bytes()));
  if (p.tb[NFTA_RULE_HANDLE]) {
    if (auto h = p.tb[NFTA_RULE_HANDLE]->Be64()) out.Set("handle", Value::BigInt(*h));
  }
  return true;
}

std::optional<uint64_t> RuleHandle(const uint8_t* msg, size_t len) {
  Parsed p;
  if (!Parse(msg, len, NFTA_RULE_MAX, p) || p.msg != NFT_MSG_NEWRULE || !p.tb[NFTA_RULE_HANDLE]) return std::nullopt;
  return p.tb[NFTA_RULE_HANDLE]->Be64();
}

}  // namespace nk::nft
