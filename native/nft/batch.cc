// Batches (encode, outcome), listings (dump requests and their decoding), and naming the
// attribute a kernel refusal points at.
#include <sys/socket.h>

#include <cstring>

#include "expr/expr.h"
#include "nft.h"

namespace nk::nft {

Batch EncodeBatch(const Value& msgs, std::optional<uint32_t> genid) {
  if (msgs.kind != Value::Kind::Array) throw InputError("msgs must be an array of nftables messages");
  if (msgs.items.empty()) throw InputError("msgs must hold at least one message");
  Batch batch;
  batch.inputs = msgs.items.size();
  std::set<uint32_t> setIds;  // ids given explicitly, so generated ones never collide with them
  for (const Value& m : msgs.items) {
    const Value* op = m.Get("op");
    const Value* id = m.Get("id");
    if (op && op->kind == Value::Kind::String && op->str == "newset" && id && id->kind == Value::Kind::Number &&
        id->num >= 0 && id->num <= UINT32_MAX && id->num == static_cast<uint32_t>(id->num))
      setIds.insert(static_cast<uint32_t>(id->num));
  }
  batch.msgs.push_back(BatchBegin(genid));
  batch.origin.push_back(-1);
  batch.firstElement.push_back(0);
  for (size_t i = 0; i < msgs.items.size(); i++) {
    Reader r(msgs.items[i], "msgs[" + std::to_string(i) + "]");
    std::string op = r.ReqStr("op", 32);
    Sink out{batch, static_cast<int>(i), setIds};
    bool known =
        EncodeTableOp(op, r, out) || EncodeChainOp(op, r, out) || EncodeRuleOp(op, r, out) || EncodeSetOp(op, r, out);
    if (!known)
      throw InputError(r.At("op") +
                       " must be one of newtable, deltable, destroytable, newchain, delchain, "
                       "destroychain, flushchain, newrule, delrule, destroyrule, newset, delset, destroyset, "
                       "newsetelem, delsetelem, destroysetelem; received '" +
                       op + "'");
  }
  batch.msgs.push_back(BatchEnd());
  batch.origin.push_back(-1);
  batch.firstElement.push_back(0);
  return batch;
}

std::vector<uint8_t> Fence() { return std::move(Request(NFT_MSG_GETGEN, NLM_F_ACK, AF_UNSPEC)).Finish(); }

std::vector<uint8_t> GenRequest() { return std::move(Request(NFT_MSG_GETGEN, NLM_F_ACK, AF_UNSPEC)).Finish(); }

std::optional<uint32_t> DecodeGen(const uint8_t* msg, size_t len) {
  Parsed p;
  if (!Parse(msg, len, NFTA_GEN_MAX, p) || p.msg != NFT_MSG_NEWGEN || !p.tb[NFTA_GEN_ID]) return std::nullopt;
  return p.tb[NFTA_GEN_ID]->Be32();
}

namespace {

uint16_t MsgType(const std::vector<uint8_t>& m) {
  nlmsghdr h;
  std::memcpy(&h, m.data(), sizeof(h));
  return h.nlmsg_type;
}

std::string OpName(const std::vector<uint8_t>& m) {
  uint16_t t = MsgType(m);
  if (t == NFNL_MSG_BATCH_BEGIN) return "NFNL_MSG_BATCH_BEGIN";
  if (t == NFNL_MSG_BATCH_END) return "NFNL_MSG_BATCH_END";
  return MsgName(NFNL_MSG_TYPE(t));
}

}  // namespace

Value Outcome(const Batch& b, const std::vector<nl::Reply>& replies) {
  Value out = Value::Object();
  int bad = nl::FirstRefusal(replies);
  if (bad >= 0) {
    const nl::Reply& r = replies[bad];
    out.Set("ok", Value::Bool(false));
    out.Set("errno", Value::Number(-r.err));
    out.Set("syscall", Value::String(OpName(b.msgs[bad])));
    out.Set("strerror", Value::String(std::strerror(r.err)));
    out.Set("index", Value::Number(b.origin[bad]));
    std::string extack = r.extack;
    if (r.badAttr >= 0) {
      std::string attr = DescribeAttr(b.msgs[bad], r.badAttr, b.firstElement[bad]);
      if (!attr.empty()) {
        out.Set("attribute", Value::String(attr));
        if (extack.empty()) extack = "attribute " + attr;
      }
    }
    if (!extack.empty()) out.Set("extack", Value::String(extack));
    return out;
  }
  Value handles = Value::Array();
  std::vector<std::optional<uint64_t>> h(b.inputs);
  for (size_t i = 0; i < b.msgs.size() && i < replies.size(); i++) {
    if (b.origin[i] < 0 || NFNL_MSG_TYPE(MsgType(b.msgs[i])) != NFT_MSG_NEWRULE) continue;
    for (const auto& m : replies[i].messages)
      if (auto handle = RuleHandle(m.data(), m.size())) h[b.origin[i]] = handle;
  }
  for (const auto& x : h) handles.Push(x ? Value::BigInt(*x) : Value::Null());
  out.Set("ok", Value::Bool(true));
  out.Set("handles", std::move(handles));
  return out;
}

// --- listings ---------------------------------------------------------------------------

ListQuery EncodeList(const Value& v) {
  Reader r(v, "query");
  static const Names kWhat = {{"tables", 0}, {"chains", 1}, {"rules", 2}, {"sets", 3}, {"elements", 4}};
  ListQuery q;
  q.what = static_cast<ListQuery::What>(r.ReqEnum("what", kWhat, "listing"));
  q.family = ReadFamily(r, q.what == ListQuery::What::Elements);
  q.table = r.Str("table", NFT_TABLE_MAXNAMELEN - 1).value_or("");
  q.chain = r.Str("chain", NFT_CHAIN_MAXNAMELEN - 1).value_or("");
  q.set = r.Str("set", NFT_SET_MAXNAMELEN - 1).value_or("");
  q.brief = r.Bool("brief").value_or(false);
  if (q.brief && q.what != ListQuery::What::Rules) throw InputError("query.brief: only for listing rules");
  std::vector<std::vector<uint8_t>> keys;
  if (const std::vector<Value>* arr = r.Arr("keys")) {
    if (q.what != ListQuery::What::Elements) throw InputError("query.keys: only for listing elements");
    for (size_t i = 0; i < arr->size(); i++) {
      const Value& k = (*arr)[i];
      if (k.kind != Value::Kind::Bytes || k.bytes.empty() || k.bytes.size() > NFT_DATA_VALUE_MAXLEN)
        throw InputError("query.keys[" + std::to_string(i) + "]: must be a Buffer of 1 to 64 bytes");
      keys.push_back(k.bytes);
    }
  }
  r.Strict();
  switch (q.what) {
    case ListQuery::What::Tables: {
      q.msg = NFT_MSG_GETTABLE;
      q.request = std::move(Request(q.msg, NLM_F_DUMP, q.family)).Finish();
      break;
    }
    case ListQuery::What::Chains: {  // the kernel filters chains by family only
      q.msg = NFT_MSG_GETCHAIN;
      q.request = std::move(Request(q.msg, NLM_F_DUMP, q.family)).Finish();
      break;
    }
    case ListQuery::What::Rules: {
      q.msg = NFT_MSG_GETRULE;
      nl::MsgBuilder b = Request(q.msg, NLM_F_DUMP, q.family);
      if (!q.table.empty()) b.PutStr(NFTA_RULE_TABLE, q.table);
      if (!q.table.empty() && !q.chain.empty()) b.PutStr(NFTA_RULE_CHAIN, q.chain);
      q.request = std::move(b).Finish();
      break;
    }
    case ListQuery::What::Sets: {
      q.msg = NFT_MSG_GETSET;
      nl::MsgBuilder b = Request(q.msg, NLM_F_DUMP, q.family);
      if (!q.table.empty()) b.PutStr(NFTA_SET_TABLE, q.table);
      q.request = std::move(b).Finish();
      break;
    }
    case ListQuery::What::Elements: {
      if (q.table.empty() || q.set.empty()) throw InputError("query: listing elements needs family, table and set");
      q.msg = NFT_MSG_GETSETELEM;
      nl::MsgBuilder b = Request(q.msg, NLM_F_DUMP, q.family);
      b.PutStr(NFTA_SET_ELEM_LIST_TABLE, q.table);
      b.PutStr(NFTA_SET_ELEM_LIST_SET, q.set);
      q.request = std::move(b).Finish();
      for (const auto& key : keys) {  // `nft get element FAMILY TABLE SET { KEY }`
        nl::MsgBuilder g = Request(q.msg, 0, q.family);
        g.PutStr(NFTA_SET_ELEM_LIST_TABLE, q.table);
        g.PutStr(NFTA_SET_ELEM_LIST_SET, q.set);
        size_t list = g.NestStart(NFTA_SET_ELEM_LIST_ELEMENTS, true);
        size_t el = g.NestStart(NFTA_LIST_ELEM, true);
        PutValue(g, NFTA_SET_ELEM_KEY, key);
        g.NestEnd(el);
        g.NestEnd(list);
        q.gets.push_back(std::move(g).Finish());
      }
      break;
    }
  }
  return q;
}

namespace {
bool Matches(const Value& o, const char* key, const std::string& want) {
  if (want.empty()) return true;
  const Value* v = o.Get(key);
  return v && v->kind == Value::Kind::String && v->str == want;
}
}  // namespace

Value DecodeList(const ListQuery& q, const std::vector<std::vector<uint8_t>>& messages) {
  Value out = Value::Array();
  for (const auto& m : messages) {
    Value o;
    switch (q.what) {
      case ListQuery::What::Tables:
        if (DecodeTable(m.data(), m.size(), o) && Matches(o, "name", q.table)) out.Push(std::move(o));
        break;
      case ListQuery::What::Chains:
        if (DecodeChain(m.data(), m.size(), o) && Matches(o, "table", q.table) && Matches(o, "name", q.chain))
          out.Push(std::move(o));
        break;
      case ListQuery::What::Rules:
        if (DecodeRule(m.data(), m.size(), o, !q.brief) && Matches(o, "table", q.table) && Matches(o, "chain", q.chain))
          out.Push(std::move(o));
        break;
      case ListQuery::What::Sets:
        if (DecodeSet(m.data(), m.size(), o) && Matches(o, "table", q.table) && Matches(o, "name", q.set))
          out.Push(std::move(o));
        break;
      case ListQuery::What::Elements:
        if (!DecodeElements(m.data(), m.size(), out))
          throw InputError("malformed set element message from the kernel");  // never expected
        break;
    }
  }
  return out;
}

bool DecodeMessage(const std::string& what, const uint8_t* msg, size_t len, Value& out) {
  if (what == "table") return DecodeTable(msg, len, out);
  if (what == "chain") return DecodeChain(msg, len, out);
  if (what == "rule") return DecodeRule(msg, len, out);
  if (what == "set") return DecodeSet(msg, len, out);
  if (what == "elements") {
    out = Value::Array();
    return DecodeElements(msg, len, out);
  }
  throw InputError("what must be one of table, chain, rule, set, elements; received '" + what + "'");
}

// --- naming the attribute a refusal points at -----------------------------------------

namespace {

const char* TopName(uint16_t msg, uint16_t type) {
  static const char* const kTable[] = {
      nullptr,          "NFTA_TABLE_NAME",    "NFTA_TABLE_FLAGS", "NFTA_TABLE_USE", "NFTA_TABLE_HANDLE",
      "NFTA_TABLE_PAD", "NFTA_TABLE_USERDATA"};
  static const char* const kChain[] = {nullptr,
                                       "NFTA_CHAIN_TABLE",
                                       "NFTA_CHAIN_HANDLE",
                                       "NFTA_CHAIN_NAME",
                                       "NFTA_CHAIN_HOOK",
                                       "NFTA_CHAIN_POLICY",
                                       "NFTA_CHAIN_USE",
                                       "NFTA_CHAIN_TYPE",
                                       "NFTA_CHAIN_COUNTERS",
                                       "NFTA_CHAIN_PAD",
                                       "NFTA_CHAIN_FLAGS",
                                       "NFTA_CHAIN_ID",
                                       "NFTA_CHAIN_USERDATA"};
  static const char* const kRule[] = {nullptr,
                                      "NFTA_RULE_TABLE",
                                      "NFTA_RULE_CHAIN",
                                      "NFTA_RULE_HANDLE",
                                      "NFTA_RULE_EXPRESSIONS",
                                      "NFTA_RULE_COMPAT",
                                      "NFTA_RULE_POSITION",
                                      "NFTA_RULE_USERDATA"};
  static const char* const kSet[] = {nullptr,
                                     "NFTA_SET_TABLE",
                                     "NFTA_SET_NAME",
                                     "NFTA_SET_FLAGS",
                                     "NFTA_SET_KEY_TYPE",
                                     "NFTA_SET_KEY_LEN",
                                     "NFTA_SET_DATA_TYPE",
                                     "NFTA_SET_DATA_LEN",
                                     "NFTA_SET_POLICY",
                                     "NFTA_SET_DESC",
                                     "NFTA_SET_ID",
                                     "NFTA_SET_TIMEOUT",
                                     "NFTA_SET_GC_INTERVAL",
                                     "NFTA_SET_USERDATA"};
  static const char* const kElems[] = {nullptr, "NFTA_SET_ELEM_LIST_TABLE", "NFTA_SET_ELEM_LIST_SET",
                                       "NFTA_SET_ELEM_LIST_ELEMENTS", "NFTA_SET_ELEM_LIST_SET_ID"};
  auto pick = [&](const char* const* t, size_t n) -> const char* { return type < n ? t[type] : nullptr; };
  switch (msg) {
    case NFT_MSG_NEWTABLE:
    case NFT_MSG_DELTABLE:
    case kMsgDestroyTable:
      return pick(kTable, std::size(kTable));
    case NFT_MSG_NEWCHAIN:
    case NFT_MSG_DELCHAIN:
    case kMsgDestroyChain:
      return pick(kChain, std::size(kChain));
    case NFT_MSG_NEWRULE:
    case NFT_MSG_DELRULE:
    case kMsgDestroyRule:
      return pick(kRule, std::size(kRule));
    case NFT_MSG_NEWSET:
    case NFT_MSG_DELSET:
    case kMsgDestroySet:
      return pick(kSet, std::size(kSet));
    case NFT_MSG_NEWSETELEM:
    case NFT_MSG_DELSETELEM:
    case kMsgDestroySetElem:
      return pick(kElems, std::size(kElems));
    default:
      return nullptr;
  }
}

// Where an attribute sits, for naming it and its children.
enum class Ctx { Top, ExprList, ExprElem, ExprData, ElemList, Elem, Other };

const char* ElemName(uint16_t type) {
  static const char* const kNames[] = {nullptr,
                                       "NFTA_SET_ELEM_KEY",
                                       "NFTA_SET_ELEM_DATA",
                                       "NFTA_SET_ELEM_FLAGS",
                                       "NFTA_SET_ELEM_TIMEOUT",
                                       "NFTA_SET_ELEM_EXPIRATION",
                                       "NFTA_SET_ELEM_USERDATA",
                                       "NFTA_SET_ELEM_EXPR",
                                       "NFTA_SET_ELEM_PAD",
                                       "NFTA_SET_ELEM_OBJREF",
                                       "NFTA_SET_ELEM_KEY_END",
                                       "NFTA_SET_ELEM_EXPRESSIONS"};
  return type < std::size(kNames) ? kNames[type] : nullptr;
}

// Walks the attributes in [p, p+len) (at message offset `base`) down to the one starting at
// `target`, appending a name for each step to `path`.
void Walk(const uint8_t* p, size_t len, size_t base, size_t target, Ctx ctx, uint16_t msg, const std::string& expr,
          size_t firstElement, int depth, std::string& path) {
  nl::AttrIter it(p, len);
  nl::Attr a;
  for (size_t index = 0; it.Next(a); index++) {
    size_t dataOff = base + static_cast<size_t>(a.data - p);
    size_t start = dataOff - NLA_HDRLEN;
    if (target < start || target >= dataOff + a.len) continue;
    std::string step;
    Ctx next = Ctx::Other;
    std::string nextExpr = expr;
    switch (ctx) {
      case Ctx::Top: {
        const char* n = TopName(msg, a.type);
        step = n ? n : "attribute " + std::to_string(a.type);
        bool rules = msg == NFT_MSG_NEWRULE && a.type == NFTA_RULE_EXPRESSIONS;
        bool elems = (msg == NFT_MSG_NEWSETELEM || msg == NFT_MSG_DELSETELEM || msg == kMsgDestroySetElem) &&
                     a.type == NFTA_SET_ELEM_LIST_ELEMENTS;
        next = rules ? Ctx::ExprList : elems ? Ctx::ElemList : Ctx::Other;
        break;
      }
      case Ctx::ExprList: {
        std::vector<std::optional<nl::Attr>> tb;
        nl::ParseTable(a.data, a.len, tb, NFTA_EXPR_MAX);
        nextExpr = tb[NFTA_EXPR_NAME] ? tb[NFTA_EXPR_NAME]->Str() : "?";
        step = "#" + std::to_string(index) + " " + nextExpr;
        next = Ctx::ExprElem;
        break;
      }
      case Ctx::ExprElem:
        step = a.type == NFTA_EXPR_NAME ? "NFTA_EXPR_NAME" : "";  // the data's attributes are named below
        next = Ctx::ExprData;
        break;
      case Ctx::ExprData:
        step = expr + " attribute " + std::to_string(a.type);
        break;
      case Ctx::ElemList:
        step = "element #" + std::to_string(firstElement + index);
        next = Ctx::Elem;
        break;
      case Ctx::Elem: {
        const char* n = ElemName(a.type);
        step = n ? n : "attribute " + std::to_string(a.type);
        break;
      }
      case Ctx::Other:
        step = "attribute " + std::to_string(a.type);
        break;
    }
    if (!step.empty()) path += (path.empty() ? "" : " > ") + step;
    if (target != start && depth < 8)
      Walk(a.data, a.len, dataOff, target, next, msg, nextExpr, firstElement, depth + 1, path);
    return;
  }
}

}  // namespace

std::string DescribeAttr(const std::vector<uint8_t>& msg, int64_t offset, size_t firstElement) {
  constexpr size_t kHead = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg));
  if (offset < 0 || msg.size() < kHead || static_cast<size_t>(offset) < kHead ||
      static_cast<size_t>(offset) >= msg.size())
    return "";
  std::string path;
  Walk(msg.data() + kHead, msg.size() - kHead, kHead, static_cast<size_t>(offset), Ctx::Top,
       NFNL_MSG_TYPE(MsgType(msg)), "", firstElement, 0, path);
  return path;
}

}  // namespace nk::nft
