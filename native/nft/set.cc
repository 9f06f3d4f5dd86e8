// Sets and maps: NFT_MSG_NEWSET / DELSET / DESTROYSET, their elements (NFT_MSG_NEWSETELEM /
// DELSETELEM / DESTROYSETELEM), and the decoders.
//   { op: 'newset', family, table, name, id?, keyType?, keyLen, dataType?, dataLen?, flags?,
//     fieldLens?, size?, policy?, userdata?, exclusive? }          nft add set / add map
//   { op: 'delset' | 'destroyset', family, table, name, nonrec? }
//   { op: 'newsetelem' | 'delsetelem' | 'destroysetelem', family, table, set, setId?, exclusive?,
//     elements: { key, keyEnd?, data?, verdict?, flags?, userdata? }[] }   nft add/delete element
// A map has NFT_SET_MAP and a data type (NFT_DATA_VERDICT, 0xffffff00, for a verdict map); a
// concatenated key (NFT_SET_CONCAT with NFT_SET_INTERVAL) lists its fields' lengths in
// fieldLens, each field taking whole 32-bit registers. `id` (NFTA_SET_ID) names a set for
// rules and elements later in the same batch (setId), as nft does; the kernel requires one
// on every new set (6.x), so a set without one gets the smallest id free in the batch.
// Wire (as nft writes it): NFTA_SET_TABLE, NFTA_SET_NAME, NFTA_SET_FLAGS, NFTA_SET_KEY_TYPE,
// NFTA_SET_KEY_LEN, NFTA_SET_DATA_TYPE, NFTA_SET_DATA_LEN, NFTA_SET_ID, NFTA_SET_POLICY,
// NFTA_SET_DESC { NFTA_SET_DESC_SIZE, NFTA_SET_DESC_CONCAT { NFTA_LIST_ELEM { NFTA_SET_FIELD_LEN } } },
// NFTA_SET_USERDATA (numbers be32); elements: NFTA_SET_ELEM_LIST_TABLE, _SET, _SET_ID, then
// NFTA_SET_ELEM_LIST_ELEMENTS { NFTA_LIST_ELEM { NFTA_SET_ELEM_FLAGS, KEY { NFTA_DATA_VALUE },
// KEY_END, DATA { VALUE | VERDICT }, USERDATA } } (nft numbers the element nests 1, 2, 3...;
// the kernel ignores their type, and we write NFTA_LIST_ELEM as its dumps do).
#include "nft.h"

namespace nk::nft {

namespace {

// An NFTA_SET_ELEM_LIST_ELEMENTS nest is limited by its 16-bit length; nft splits there too.
constexpr size_t kMaxElemsNest = 60000;
constexpr size_t kMaxElements = 1u << 20;

void EncodeNewSet(const Reader& r, Sink& out) {
  uint8_t family = ReadFamily(r);
  std::string table = r.ReqStr("table", NFT_TABLE_MAXNAMELEN - 1);
  std::string name = r.ReqStr("name", NFT_SET_MAXNAMELEN - 1);
  uint32_t flags = r.U32("flags").value_or(0);
  auto keyType = r.U32("keyType");
  uint32_t keyLen = r.ReqU32("keyLen", 1, NFT_DATA_VALUE_MAXLEN);
  auto dataType = r.U32("dataType");
  auto dataLen = r.U32("dataLen", 0, NFT_DATA_VALUE_MAXLEN);
  auto id = r.U32("id", 1);
  auto policy = r.U32("policy", 0, NFT_SET_POL_MEMORY);
  auto size = r.U32("size");
  auto userdata = r.Bytes("userdata", kMaxUserdata);
  bool excl = r.Bool("exclusive").value_or(false);
  std::vector<uint32_t> fields;
  if (const auto* f = r.Arr("fieldLens")) {
    if (f->size() < 2 || f->size() > 16) throw InputError(r.At("fieldLens") + " must list 2 to 16 field lengths", true);
    uint32_t total = 0;
    Value holder = Value::Object();
    for (size_t i = 0; i < f->size(); i++) {
      holder.Set("len", (*f)[i]);
      Reader fr(holder, r.At("fieldLens") + "[" + std::to_string(i) + "]");
      uint32_t n = fr.ReqU32("len", 1, NFT_DATA_VALUE_MAXLEN);
      fields.push_back(n);
      total += (n + 3) & ~3u;
    }
    if (total != keyLen)
      throw InputError(r.At("fieldLens") + ": the fields, each rounded up to 4 bytes, must add up to keyLen (" +
                       std::to_string(keyLen) + "), not " + std::to_string(total));
  }
  bool isMap = (flags & NFT_SET_MAP) != 0;
  if (isMap != dataType.has_value())
    throw InputError(r.path() + ": a map (flags with NFT_SET_MAP, 8) needs a dataType, and only a map has one");
  if (dataLen && !dataType) throw InputError(r.At("dataLen") + " is for maps (with a dataType)");

  nl::MsgBuilder b = Request(NFT_MSG_NEWSET, NLM_F_ACK | NLM_F_CREATE | (excl ? NLM_F_EXCL : 0), family);
  b.PutStr(NFTA_SET_TABLE, table);
  b.PutStr(NFTA_SET_NAME, name);
  b.PutBe32(NFTA_SET_FLAGS, flags);
  if (keyType) b.PutBe32(NFTA_SET_KEY_TYPE, *keyType);
  b.PutBe32(NFTA_SET_KEY_LEN, keyLen);
  if (dataType) {
    b.PutBe32(NFTA_SET_DATA_TYPE, *dataType);
    b.PutBe32(NFTA_SET_DATA_LEN, dataLen.value_or(0));  // 0 for a verdict map, as nft sends it
  }
  b.PutBe32(NFTA_SET_ID, id ? *id : out.NewSetId());
  if (policy) b.PutBe32(NFTA_SET_POLICY, *policy);
  if (size || !fields.empty()) {
    size_t desc = b.NestStart(NFTA_SET_DESC, true);
    if (size) b.PutBe32(NFTA_SET_DESC_SIZE, *size);
    if (!fields.empty()) {
      size_t concat = b.NestStart(NFTA_SET_DESC_CONCAT, true);
      for (uint32_t n : fields) {
        size_t e = b.NestStart(NFTA_LIST_ELEM, true);
        b.PutBe32(NFTA_SET_FIELD_LEN, n);
        b.NestEnd(e);
      }
      b.NestEnd(concat);
    }
    b.NestEnd(desc);
  }
  if (userdata) b.Put(NFTA_SET_USERDATA, userdata->data(), userdata->size());
  r.Ignore("handle");
  r.Strict();
  out.Add(std::move(b).Finish());
}

void PutElement(nl::MsgBuilder& b, const Reader& e, bool adding) {
  auto flags = e.U32("flags");
  auto key = e.Bytes("key", NFT_DATA_VALUE_MAXLEN);
  auto keyEnd = e.Bytes("keyEnd", NFT_DATA_VALUE_MAXLEN);
  auto data = e.Bytes("data", NFT_DATA_VALUE_MAXLEN);
  std::optional<Verdict> verdict;
  if (auto v = e.Obj("verdict")) verdict = ReadVerdict(*v);
  auto userdata = e.Bytes("userdata", kMaxUserdata);
  bool catchall = flags && (*flags & NFT_SET_ELEM_CATCHALL);
  if ((!key || key->empty()) && !catchall)
    throw InputError(e.At("key") + " is required (a non-empty Buffer, the key in packet byte order)");
  if (data && verdict) throw InputError(e.path() + " has both data and verdict; a map element has one of them");
  if (!adding && (data || verdict || userdata))
    throw InputError(e.path() + ": deleting an element takes its key (and keyEnd) only");
  if (flags) b.PutBe32(NFTA_SET_ELEM_FLAGS, *flags);
  if (key && !key->empty()) PutValue(b, NFTA_SET_ELEM_KEY, *key);
  if (keyEnd) PutValue(b, NFTA_SET_ELEM_KEY_END, *keyEnd);
  if (verdict) PutVerdict(b, NFTA_SET_ELEM_DATA, *verdict);
  if (data) PutValue(b, NFTA_SET_ELEM_DATA, *data);
  if (userdata) b.Put(NFTA_SET_ELEM_USERDATA, userdata->data(), userdata->size());
  e.Strict();
}

void EncodeElements(const std::string& op, const Reader& r, Sink& out) {
  uint8_t family = ReadFamily(r);
  std::string table = r.ReqStr("table", NFT_TABLE_MAXNAMELEN - 1);
  std::string set = r.ReqStr("set", NFT_SET_MAXNAMELEN - 1);
  auto setId = r.U32("setId");
  bool excl = r.Bool("exclusive").value_or(false);
  const std::vector<Value>* elems = r.Arr("elements");
  r.Strict();
  if (!elems || elems->empty()) throw InputError(r.At("elements") + " is required (a non-empty array)");
  if (elems->size() > kMaxElements) throw InputError(r.At("elements") + " holds too many elements", true);
  bool adding = op == "newsetelem";
  uint16_t msg = adding               ? uint16_t{NFT_MSG_NEWSETELEM}
                 : op == "delsetelem" ? uint16_t{NFT_MSG_DELSETELEM}
                                      : kMsgDestroySetElem;
  uint16_t flags = NLM_F_ACK | (adding ? NLM_F_CREATE : 0) | (adding && excl ? NLM_F_EXCL : 0);

  auto start = [&](nl::MsgBuilder& b) {
    b.PutStr(NFTA_SET_ELEM_LIST_TABLE, table);
    b.PutStr(NFTA_SET_ELEM_LIST_SET, set);
    if (setId) b.PutBe32(NFTA_SET_ELEM_LIST_SET_ID, *setId);
    return b.NestStart(NFTA_SET_ELEM_LIST_ELEMENTS, true);
  };
  std::optional<nl::MsgBuilder> b(Request(msg, flags, family));
  size_t list = start(*b);
  size_t inList = 0, first = 0;
  for (size_t i = 0; i < elems->size(); i++) {
    Reader e((*elems)[i], r.At("elements") + "[" + std::to_string(i) + "]");
    size_t at = b->NestStart(NFTA_LIST_ELEM, true);
    PutElement(*b, e, adding);
    b->NestEnd(at);
    if (b->size() - list > kMaxElemsNest && inList > 0) {
      // Full: this element opens the next message of the same operation.
      b->NestCancel(at);
      b->NestEnd(list);
      out.Add(std::move(*b).Finish(), first);
      first = i;
      b.emplace(Request(msg, flags, family));
      list = start(*b);
      inList = 0;
      at = b->NestStart(NFTA_LIST_ELEM, true);
      PutElement(*b, e, adding);
      b->NestEnd(at);
    }
    inList++;
  }
  b->NestEnd(list);
  out.Add(std::move(*b).Finish(), first);
}

}  // namespace

bool EncodeSetOp(const std::string& op, const Reader& r, Sink& out) {
  if (op == "newset") {
    EncodeNewSet(r, out);
    return true;
  }
  if (op == "delset" || op == "destroyset") {
    uint8_t family = ReadFamily(r);
    std::string table = r.ReqStr("table", NFT_TABLE_MAXNAMELEN - 1);
    std::string name = r.ReqStr("name", NFT_SET_MAXNAMELEN - 1);
    // nonrec (NLM_F_NONREC, delset only): refused with EBUSY while the set holds an element (the
    // kernel reads its element count), instead of deleting them with it. In a batch, that makes
    // "delete the table only if these maps are empty" one atomic, O(1) request.
    bool nonrec = op == "delset" && r.Bool("nonrec").value_or(false);
    nl::MsgBuilder b = Request(op == "delset" ? uint16_t{NFT_MSG_DELSET} : kMsgDestroySet,
                               NLM_F_ACK | (nonrec ? NLM_F_NONREC : 0), family);
    b.PutStr(NFTA_SET_TABLE, table);
    b.PutStr(NFTA_SET_NAME, name);
    r.Strict();
    out.Add(std::move(b).Finish());
    return true;
  }
  if (op == "newsetelem" || op == "delsetelem" || op == "destroysetelem") {
    EncodeElements(op, r, out);
    return true;
  }
  return false;
}

bool DecodeSet(const uint8_t* msg, size_t len, Value& out) {
  Parsed p;
  if (!Parse(msg, len, NFTA_SET_MAX, p) || p.msg != NFT_MSG_NEWSET) return false;
  if (!p.tb[NFTA_SET_TABLE] || !p.tb[NFTA_SET_NAME]) return false;
  auto be32 = [&](int attr) -> std::optional<uint32_t> { return p.tb[attr] ? p.tb[attr]->Be32() : std::nullopt; };
  out = Value::Object();
  out.Set("family", Value::String(FamilyName(p.family)));
  out.Set("table", Value::String(p.tb[NFTA_SET_TABLE]->Str()));
  out.Set("name", Value::String(p.tb[NFTA_SET_NAME]->Str()));
  uint32_t flags = be32(NFTA_SET_FLAGS).value_or(0);
  if (flags) out.Set("flags", Value::Number(flags));
  if (auto v = be32(NFTA_SET_KEY_TYPE); v && *v) out.Set("keyType", Value::Number(*v));
  if (auto v = be32(NFTA_SET_KEY_LEN)) out.Set("keyLen", Value::Number(*v));
  if (auto t = be32(NFTA_SET_DATA_TYPE)) {
    out.Set("dataType", Value::Number(*t));
    // The kernel reports a verdict map's data length (sizeof(struct nft_verdict)); it is
    // implied by the type, and nft sends 0, so it is left out.
    if (auto l = be32(NFTA_SET_DATA_LEN); l && *t != NFT_DATA_VERDICT) out.Set("dataLen", Value::Number(*l));
  }
  if (p.tb[NFTA_SET_DESC]) {
    std::vector<std::optional<nl::Attr>> d;
    if (!nl::ParseTable(p.tb[NFTA_SET_DESC]->data, p.tb[NFTA_SET_DESC]->len, d, NFTA_SET_DESC_MAX)) return false;
    if (d[NFTA_SET_DESC_CONCAT]) {
      Value lens = Value::Array();
      nl::AttrIter it(*d[NFTA_SET_DESC_CONCAT]);
      nl::Attr e;
      while (it.Next(e)) {
        std::vector<std::optional<nl::Attr>> f;
        if (!nl::ParseTable(e.data, e.len, f, NFTA_SET_FIELD_MAX) || !f[NFTA_SET_FIELD_LEN]) return false;
        lens.Push(Value::Number(f[NFTA_SET_FIELD_LEN]->Be32().value_or(0)));
      }
      if (!it.ok()) return false;
      out.Set("fieldLens", std::move(lens));
    }
    if (d[NFTA_SET_DESC_SIZE]) {
      if (auto s = d[NFTA_SET_DESC_SIZE]->Be32(); s && *s) out.Set("size", Value::Number(*s));
    }
  }
  if (auto v = be32(NFTA_SET_POLICY); v && *v) out.Set("policy", Value::Number(*v));
  if (p.tb[NFTA_SET_USERDATA]) out.Set("userdata", Value::Bytes(p.tb[NFTA_SET_USERDATA]->Bytes()));
  if (p.tb[NFTA_SET_HANDLE]) {
    if (auto h = p.tb[NFTA_SET_HANDLE]->Be64()) out.Set("handle", Value::BigInt(*h));
  }
  return true;
}

bool DecodeElements(const uint8_t* msg, size_t len, Value& out) {
  Parsed p;
  if (!Parse(msg, len, NFTA_SET_ELEM_LIST_MAX, p) || p.msg != NFT_MSG_NEWSETELEM) return false;
  if (!p.tb[NFTA_SET_ELEM_LIST_ELEMENTS]) return true;  // an empty set
  nl::AttrIter it(*p.tb[NFTA_SET_ELEM_LIST_ELEMENTS]);
  nl::Attr a;
  while (it.Next(a)) {
    // Any nest type: the kernel ignores it, and nft numbers elements 1, 2, 3... where the
    // kernel's dumps (and we) use NFTA_LIST_ELEM.
    std::vector<std::optional<nl::Attr>> tb;
    if (!nl::ParseTable(a.data, a.len, tb, NFTA_SET_ELEM_MAX)) return false;
    Value e = Value::Object();
    std::optional<std::vector<uint8_t>> value;
    std::optional<Verdict> verdict;
    if (tb[NFTA_SET_ELEM_KEY]) {
      if (!ReadData(*tb[NFTA_SET_ELEM_KEY], &value, nullptr)) return false;
      e.Set("key", Value::Bytes(std::move(*value)));
    }
    if (tb[NFTA_SET_ELEM_KEY_END]) {
      value.reset();
      if (!ReadData(*tb[NFTA_SET_ELEM_KEY_END], &value, nullptr)) return false;
      e.Set("keyEnd", Value::Bytes(std::move(*value)));
    }
    if (tb[NFTA_SET_ELEM_DATA]) {
      value.reset();
      if (!ReadData(*tb[NFTA_SET_ELEM_DATA], &value, &verdict)) return false;
      if (value)
        e.Set("data", Value::Bytes(std::move(*value)));
      else
        e.Set("verdict", VerdictValue(*verdict));
    }
    if (tb[NFTA_SET_ELEM_FLAGS]) {
      if (auto f = tb[NFTA_SET_ELEM_FLAGS]->Be32(); f && *f) e.Set("flags", Value::Number(*f));
    }
    if (tb[NFTA_SET_ELEM_USERDATA]) e.Set("userdata", Value::Bytes(tb[NFTA_SET_ELEM_USERDATA]->Bytes()));
    out.Push(std::move(e));
  }
  return it.ok();
}

}  // namespace nk::nft
