// Tables: NFT_MSG_NEWTABLE / DELTABLE / DESTROYTABLE and the table decoder.
//   { op: 'newtable', family, name, flags?, userdata?, exclusive? }   nft add (create) table
//   { op: 'deltable' | 'destroytable', family, name, nonrec? }        nft delete (destroy) table
// Wire (as nft writes it): NFTA_TABLE_NAME, NFTA_TABLE_FLAGS be32 (always), NFTA_TABLE_USERDATA.
#include "nft.h"

namespace nk::nft {

bool EncodeTableOp(const std::string& op, const Reader& r, Sink& out) {
  if (op == "newtable") {
    uint8_t family = ReadFamily(r);
    std::string name = r.ReqStr("name", NFT_TABLE_MAXNAMELEN - 1);
    uint32_t flags = r.U32("flags").value_or(0);
    auto userdata = r.Bytes("userdata", kMaxUserdata);
    bool excl = r.Bool("exclusive").value_or(false);
    nl::MsgBuilder b = Request(NFT_MSG_NEWTABLE, NLM_F_ACK | (excl ? NLM_F_CREATE | NLM_F_EXCL : 0), family);
    b.PutStr(NFTA_TABLE_NAME, name);
    b.PutBe32(NFTA_TABLE_FLAGS, flags);
    if (userdata) b.Put(NFTA_TABLE_USERDATA, userdata->data(), userdata->size());
    r.Ignore("handle");
    r.Strict();
    out.Add(std::move(b).Finish());
    return true;
  }
  if (op == "deltable" || op == "destroytable") {
    uint8_t family = ReadFamily(r);
    std::string name = r.ReqStr("name", NFT_TABLE_MAXNAMELEN - 1);
    // nonrec (NLM_F_NONREC, deltable only): refused with EBUSY while the table still holds a chain,
    // set, flowtable or object (the kernel reads its use count), instead of deleting them with it:
    // a recursive delete walks every element of every map it takes, even in a batch that fails.
    bool nonrec = op == "deltable" && r.Bool("nonrec").value_or(false);
    nl::MsgBuilder b = Request(op == "deltable" ? uint16_t{NFT_MSG_DELTABLE} : kMsgDestroyTable,
                               NLM_F_ACK | (nonrec ? NLM_F_NONREC : 0), family);
    b.PutStr(NFTA_TABLE_NAME, name);
    r.Strict();
    out.Add(std::move(b).Finish());
    return true;
  }
  return false;
}

bool DecodeTable(const uint8_t* msg, size_t len, Value& out) {
  Parsed p;
  if (!Parse(msg, len, NFTA_TABLE_MAX, p) || p.msg != NFT_MSG_NEWTABLE || !p.tb[NFTA_TABLE_NAME]) return false;
  out = Value::Object();
  out.Set("family", Value::String(FamilyName(p.family)));
  out.Set("name", Value::String(p.tb[NFTA_TABLE_NAME]->Str()));
  if (p.tb[NFTA_TABLE_FLAGS]) {
    auto f = p.tb[NFTA_TABLE_FLAGS]->Be32();
    if (f && *f) out.Set("flags", Value::Number(*f));
  }
  if (p.tb[NFTA_TABLE_USERDATA]) out.Set("userdata", Value::Bytes(p.tb[NFTA_TABLE_USERDATA]->Bytes()));
  if (p.tb[NFTA_TABLE_HANDLE]) {
    if (auto h = p.tb[NFTA_TABLE_HANDLE]->Be64()) out.Set("handle", Value::BigInt(*h));
  }
  return true;
}

}  // namespace nk::nft
