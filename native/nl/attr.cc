#include "attr.h"

#include <endian.h>

#include <cerrno>
#include <string>

#include "error.h"

namespace nk::nl {

MsgBuilder::MsgBuilder(uint16_t type, uint16_t flags) {
  nlmsghdr h{};
  h.nlmsg_len = sizeof(nlmsghdr);
  h.nlmsg_type = type;
  h.nlmsg_flags = flags;
  PutRaw(&h, sizeof(h));
}

void MsgBuilder::PutRaw(const void* data, size_t len) {
  size_t off = buf_.size();
  buf_.resize(off + Align(len), 0);
  if (len && data) std::memcpy(buf_.data() + off, data, len);
}

namespace {
// nla_len is 16 bits: a longer attribute or nest would silently wrap into a corrupt message.
void CheckAttrLen(size_t len) {
  if (len > 0xffff)
    throw SysError(EMSGSIZE, "netlink", "an attribute of " + std::to_string(len) + " bytes (nla_len holds 65535)");
}
}  // namespace

void MsgBuilder::Put(uint16_t type, const void* data, size_t len) {
  CheckAttrLen(NLA_HDRLEN + len);
  nlattr a{};
  a.nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);
  a.nla_type = type;
  PutRaw(&a, sizeof(a));
  PutRaw(data, len);
}

void MsgBuilder::PutBe16(uint16_t type, uint16_t v) {
  v = htobe16(v);
  Put(type, &v, 2);
}
void MsgBuilder::PutBe32(uint16_t type, uint32_t v) {
  v = htobe32(v);
  Put(type, &v, 4);
}
void MsgBuilder::PutBe64(uint16_t type, uint64_t v) {
  v = htobe64(v);
  Put(type, &v, 8);
}

void MsgBuilder::PutStr(uint16_t type, const std::string& s) { Put(type, s.c_str(), s.size() + 1); }

size_t MsgBuilder::NestStart(uint16_t type, bool flagged) {
  size_t off = buf_.size();
  nlattr a{};
  a.nla_len = NLA_HDRLEN;
  a.nla_type = flagged ? static_cast<uint16_t>(type | NLA_F_NESTED) : type;
  PutRaw(&a, sizeof(a));
  return off;
}

void MsgBuilder::NestEnd(size_t token) {
  CheckAttrLen(buf_.size() - token);
  auto* a = reinterpret_cast<nlattr*>(buf_.data() + token);
  a->nla_len = static_cast<uint16_t>(buf_.size() - token);
}

void MsgBuilder::NestCancel(size_t token) { buf_.resize(token); }

std::vector<uint8_t> MsgBuilder::Finish() && {
  reinterpret_cast<nlmsghdr*>(buf_.data())->nlmsg_len = static_cast<uint32_t>(buf_.size());
  return std::move(buf_);
}

std::vector<uint8_t> MsgBuilder::Finish() const& {
  std::vector<uint8_t> out = buf_;
  reinterpret_cast<nlmsghdr*>(out.data())->nlmsg_len = static_cast<uint32_t>(out.size());
  return out;
}

namespace {
template <class T>
std::optional<T> Read(const Attr& a) {
  if (a.len < sizeof(T)) return std::nullopt;
  T v;
  std::memcpy(&v, a.data, sizeof(T));
  return v;
}
}  // namespace

std::optional<uint8_t> Attr::U8() const { return Read<uint8_t>(*this); }
std::optional<uint16_t> Attr::U16() const { return Read<uint16_t>(*this); }
std::optional<uint32_t> Attr::U32() const { return Read<uint32_t>(*this); }
std::optional<uint64_t> Attr::U64() const { return Read<uint64_t>(*this); }
std::optional<uint16_t> Attr::Be16() const {
  auto v = Read<uint16_t>(*this);
  if (!v) return v;
  return be16toh(*v);
}
std::optional<uint32_t> Attr::Be32() const {
  auto v = Read<uint32_t>(*this);
  if (!v) return v;
  return be32toh(*v);
}
std::optional<uint64_t> Attr::Be64() const {
  auto v = Read<uint64_t>(*this);
  if (!v) return v;
  return be64toh(*v);
}

std::string Attr::Str() const {
  const void* nul = len ? std::memchr(data, 0, len) : nullptr;
  size_t n = nul ? static_cast<size_t>(static_cast<const uint8_t*>(nul) - data) : len;
  return std::string(reinterpret_cast<const char*>(data), n);
}

bool AttrIter::Next(Attr& out) {
  if (!ok_) return false;
  size_t left = static_cast<size_t>(end_ - p_);
  if (left == 0) return false;
  if (left < NLA_HDRLEN) {
    ok_ = false;
    return false;
  }
  nlattr a;
  std::memcpy(&a, p_, sizeof(a));
  if (a.nla_len < NLA_HDRLEN || a.nla_len > left) {
    ok_ = false;
    return false;
  }
  out.type = a.nla_type & NLA_TYPE_MASK;
  out.nested = (a.nla_type & NLA_F_NESTED) != 0;
  out.data = p_ + NLA_HDRLEN;
  out.len = a.nla_len - NLA_HDRLEN;
  size_t step = Align(a.nla_len);
  p_ = step >= left ? end_ : p_ + step;
  return true;
}

bool ParseTable(const uint8_t* data, size_t len, std::vector<std::optional<Attr>>& tb, size_t max) {
  tb.assign(max + 1, std::nullopt);
  AttrIter it(data, len);
  Attr a;
  while (it.Next(a)) {
    if (a.type <= max) tb[a.type] = a;
  }
  return it.ok();
}

bool SplitMessages(const uint8_t* data, size_t len, std::vector<MsgView>& out) {
  size_t off = 0;
  while (off < len) {
    size_t left = len - off;
    if (left < sizeof(nlmsghdr)) return false;
    const auto* h = reinterpret_cast<const nlmsghdr*>(data + off);
    if (h->nlmsg_len < sizeof(nlmsghdr) || h->nlmsg_len > left) return false;
    out.push_back(MsgView{h, data + off + sizeof(nlmsghdr), h->nlmsg_len - sizeof(nlmsghdr)});
    size_t step = NLMSG_ALIGN(h->nlmsg_len);
    if (step >= left) break;
    off += step;
  }
  return true;
}

bool MessageAttrs(const MsgView& m, size_t familyHeaderLen, const uint8_t** attrs, size_t* attrsLen) {
  size_t hl = Align(familyHeaderLen);
  if (m.payloadLen < familyHeaderLen) return false;
  if (m.payloadLen < hl) {
    *attrs = m.payload + m.payloadLen;
    *attrsLen = 0;
    return true;
  }
  *attrs = m.payload + hl;
  *attrsLen = m.payloadLen - hl;
  return true;
}

}  // namespace nk::nl
