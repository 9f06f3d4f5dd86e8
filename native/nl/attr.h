// Netlink message builder and bounds-checked attribute parser (libmnl's shape).
// Plain C++: no N-API, testable byte for byte without Node and without root.
#pragma once

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace nk::nl {

constexpr size_t Align(size_t n) { return (n + 3u) & ~size_t{3}; }

// Builds one netlink message: header, family header, attributes, nests.
// Sequence number and port id are filled in by the socket at send time.
class MsgBuilder {
 public:
  MsgBuilder(uint16_t type, uint16_t flags);

  // Appends a family header (ifinfomsg, ifaddrmsg, rtmsg, nfgenmsg...) and returns its offset.
  template <class T>
  size_t PutHeader(const T& hdr) {
    size_t off = buf_.size();
    PutRaw(&hdr, sizeof(T));
    return off;
  }
  // Put and NestEnd throw SysError(EMSGSIZE) for an attribute longer than nla_len can say.
  void Put(uint16_t type, const void* data, size_t len);
  void PutU8(uint16_t type, uint8_t v) { Put(type, &v, 1); }
  void PutU16(uint16_t type, uint16_t v) { Put(type, &v, 2); }
  void PutU32(uint16_t type, uint32_t v) { Put(type, &v, 4); }
  void PutU64(uint16_t type, uint64_t v) { Put(type, &v, 8); }
  void PutS32(uint16_t type, int32_t v) { Put(type, &v, 4); }
  void PutBe16(uint16_t type, uint16_t v);
  void PutBe32(uint16_t type, uint32_t v);
  void PutBe64(uint16_t type, uint64_t v);
  void PutStr(uint16_t type, const std::string& s);  // with the terminating NUL
  void PutFlag(uint16_t type) { Put(type, nullptr, 0); }
  // Appends bytes as they are (attributes encoded elsewhere), padded to 4 bytes.
  void Append(const void* data, size_t len) { PutRaw(data, len); }

  // Nests: NestStart returns a token for NestEnd (sets the length) or NestCancel (drops it).
  // `flagged` sets NLA_F_NESTED, which nf_tables requires and rtnetlink (like iproute2) omits.
  size_t NestStart(uint16_t type, bool flagged = false);
  void NestEnd(size_t token);
  void NestCancel(size_t token);

  // Raw access for tests and for callers that patch a family header in place.
  uint8_t* At(size_t off) { return buf_.data() + off; }
  size_t size() const { return buf_.size(); }

  // The finished message (nlmsg_len set).
  std::vector<uint8_t> Finish() &&;
  std::vector<uint8_t> Finish() const&;

 private:
  void PutRaw(const void* data, size_t len);
  std::vector<uint8_t> buf_;
};

// One attribute in a received message: a view into the message's bytes.
struct Attr {
  uint16_t type = 0;    // without NLA_F_NESTED / NLA_F_NET_BYTEORDER
  bool nested = false;  // NLA_F_NESTED was set
  const uint8_t* data = nullptr;
  size_t len = 0;

  std::optional<uint8_t> U8() const;
  std::optional<uint16_t> U16() const;
  std::optional<uint32_t> U32() const;
  std::optional<uint64_t> U64() const;
  std::optional<uint16_t> Be16() const;
  std::optional<uint32_t> Be32() const;
  std::optional<uint64_t> Be64() const;
  std::string Str() const;  // up to the first NUL or the attribute's end
  std::vector<uint8_t> Bytes() const { return std::vector<uint8_t>(data, data + len); }
};

// Walks the attributes in [data, data+len). Every length is checked against the buffer;
// a malformed attribute stops the walk and makes ok() false. Unknown types are simply
// returned: callers keep or skip them, nothing is dropped silently.
class AttrIter {
 public:
  AttrIter(const uint8_t* data, size_t len) : p_(data), end_(data + len) {}
  explicit AttrIter(const Attr& nest) : AttrIter(nest.data, nest.len) {}
  // Next attribute, or false at the end or on malformed input (see ok()).
  bool Next(Attr& out);
  bool ok() const { return ok_; }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
  bool ok_ = true;
};

// Table of the last attribute seen for each type below `max` (like mnl_attr_parse + tb[]).
// Returns false when the buffer is malformed.
bool ParseTable(const uint8_t* data, size_t len, std::vector<std::optional<Attr>>& tb, size_t max);

// One netlink message inside a received datagram, bounds-checked.
struct MsgView {
  const nlmsghdr* hdr = nullptr;
  const uint8_t* payload = nullptr;  // after nlmsghdr
  size_t payloadLen = 0;
};

// Splits a datagram into messages. Returns false if a header is truncated or claims more
// bytes than remain (the messages before it are still returned).
bool SplitMessages(const uint8_t* data, size_t len, std::vector<MsgView>& out);

// Family header + attributes of a message: returns false if the payload is shorter than
// the family header.
bool MessageAttrs(const MsgView& m, size_t familyHeaderLen, const uint8_t** attrs, size_t* attrsLen);

}  // namespace nk::nl
