#include "expr.h"

namespace nk::nft::expr {

namespace {
const Def* const kAll[] = {&kBitwise, &kCmp,  &kCounter, &kCt,      &kFib,   &kImmediate, &kLookup,
                           &kMasq,    &kMeta, &kNat,     &kPayload, &kRange, &kRedir};
constexpr size_t kMaxExprs = 128;  // NFT_RULE_MAXEXPRS
}  // namespace

const Def* Find(const std::string& name) {
  for (const Def* d : kAll)
    if (name == d->name) return d;
  return nullptr;
}

void EncodeList(const std::vector<Value>& exprs, const std::string& path, nl::MsgBuilder& b, uint16_t attr) {
  if (exprs.size() > kMaxExprs)
    throw InputError(path + " holds " + std::to_string(exprs.size()) + " expressions, more than the kernel's " +
                         std::to_string(kMaxExprs),
                     true);
  size_t list = b.NestStart(attr, true);
  for (size_t i = 0; i < exprs.size(); i++) {
    Reader e(exprs[i], path + "[" + std::to_string(i) + "]");
    std::string type = e.ReqStr("type", 15);
    size_t elem = b.NestStart(NFTA_LIST_ELEM, true);
    b.PutStr(NFTA_EXPR_NAME, type);
    if (auto raw = e.Bytes("raw", 0xffff - 64)) {
      // An expression read back raw (or one this code does not know): its data as it was.
      if (raw->size() % 4) throw InputError(e.At("raw") + " must be whole netlink attributes (a multiple of 4 bytes)");
      nl::AttrIter check(raw->data(), raw->size());
      nl::Attr a;
      while (check.Next(a)) {
      }
      if (!check.ok()) throw InputError(e.At("raw") + " must be whole netlink attributes");
      size_t data = b.NestStart(NFTA_EXPR_DATA, true);
      b.Append(raw->data(), raw->size());
      b.NestEnd(data);
      e.Strict();
    } else {
      const Def* def = Find(type);
      if (!def)
        throw InputError(e.At("type") + " is not an expression this library knows ('" + type +
                         "'); pass { type, raw } to send one as it is");
      size_t data = b.NestStart(NFTA_EXPR_DATA, true);
      def->encode(e, b);
      b.NestEnd(data);
      e.Strict();
    }
    b.NestEnd(elem);
  }
  b.NestEnd(list);
}

bool DecodeList(const nl::Attr& list, Value& out) {
  out = Value::Array();
  nl::AttrIter it(list);
  nl::Attr elem;
  while (it.Next(elem)) {
    if (elem.type != NFTA_LIST_ELEM) return false;
    std::vector<std::optional<nl::Attr>> tb;
    if (!nl::ParseTable(elem.data, elem.len, tb, NFTA_EXPR_MAX) || !tb[NFTA_EXPR_NAME]) return false;
    std::string name = tb[NFTA_EXPR_NAME]->Str();
    const uint8_t* data = tb[NFTA_EXPR_DATA] ? tb[NFTA_EXPR_DATA]->data : nullptr;
    size_t len = tb[NFTA_EXPR_DATA] ? tb[NFTA_EXPR_DATA]->len : 0;
    Value e = Value::Object();
    e.Set("type", Value::String(name));
    const Def* def = Find(name);
    if (!def || !def->decode(data, len, e)) {
      e = Value::Object();
      e.Set("type", Value::String(name));
      e.Set("raw", Value::Bytes(data, len));
    }
    out.Push(std::move(e));
  }
  return it.ok();
}

bool Table(const uint8_t* data, size_t len, size_t max, std::vector<std::optional<nl::Attr>>& tb) {
  tb.assign(max + 1, std::nullopt);
  nl::AttrIter it(data, len);
  nl::Attr a;
  while (it.Next(a)) {
    if (a.type > max) return false;  // newer than this code: keep the expression raw
    tb[a.type] = a;
  }
  return it.ok();
}

bool OnlyKnown(const std::vector<std::optional<nl::Attr>>& tb, std::initializer_list<uint16_t> known) {
  for (size_t t = 0; t < tb.size(); t++) {
    if (!tb[t]) continue;
    bool ok = false;
    for (uint16_t k : known) ok = ok || k == t;
    if (!ok) return false;
  }
  return true;
}

bool GetBe32(const std::optional<nl::Attr>& a, uint32_t& out) {
  if (!a || a->len != 4) return false;
  out = *a->Be32();
  return true;
}

bool GetValue(const std::optional<nl::Attr>& a, std::vector<uint8_t>& out) {
  if (!a) return false;
  std::optional<std::vector<uint8_t>> v;
  if (!ReadData(*a, &v, nullptr) || !v) return false;
  out = std::move(*v);
  return true;
}

Value Num(uint32_t v) { return Value::Number(static_cast<double>(v)); }

}  // namespace nk::nft::expr
