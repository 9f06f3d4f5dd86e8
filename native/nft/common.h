// nf_tables wire basics shared by tables, chains, rules, sets and expressions: message
// headers, families, registers, nft_data (values and verdicts).
// Plain C++: no N-API. nf_tables u32/u64 attributes are big-endian on the wire, and every
// nest carries NLA_F_NESTED (the kernel's policies require it), as nft sends them.
#pragma once

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../nl/attr.h"
#include "value.h"

namespace nk::nft {

// Message types newer than Debian 12's 6.1 uapi headers (enum values, so no #ifndef).
constexpr uint16_t kMsgDestroyTable = 26;    // NFT_MSG_DESTROYTABLE (6.3)
constexpr uint16_t kMsgDestroyChain = 27;    // NFT_MSG_DESTROYCHAIN
constexpr uint16_t kMsgDestroyRule = 28;     // NFT_MSG_DESTROYRULE
constexpr uint16_t kMsgDestroySet = 29;      // NFT_MSG_DESTROYSET
constexpr uint16_t kMsgDestroySetElem = 30;  // NFT_MSG_DESTROYSETELEM

// "NFT_MSG_NEWRULE" for NFT_MSG_NEWRULE, for errors.
const char* MsgName(uint16_t msg);

// Starts a request: nlmsghdr with type (NFNL_SUBSYS_NFTABLES << 8) | msg and `flags`
// (NLM_F_REQUEST is added), then nfgenmsg {family, NFNETLINK_V0, res_id 0}.
nl::MsgBuilder Request(uint16_t msg, uint16_t flags, uint8_t family);

// Batch framing: NFNL_MSG_BATCH_BEGIN / END with res_id NFNL_SUBSYS_NFTABLES. With `genid`, the
// begin carries NFNL_BATCH_GENID: the kernel refuses the whole batch (ERESTART) if the ruleset's
// generation is no longer that one (anything committed since it was read: `nft`'s own guard).
std::vector<uint8_t> BatchBegin(std::optional<uint32_t> genid = std::nullopt);
std::vector<uint8_t> BatchEnd();

// Families: inet, ip, ip6, bridge, netdev, arp.
const Names& Families();
uint8_t ReadFamily(const Reader& r, bool required = true);  // "family" (0 = all, when optional)
const char* FamilyName(uint8_t family);

// A parsed nf_tables message: its nfgenmsg family and attribute table.
struct Parsed {
  uint16_t msg = 0;  // NFT_MSG_*
  uint8_t family = 0;
  std::vector<std::optional<nl::Attr>> tb;
};
// Parses one message (with its nlmsghdr) of the nf_tables subsystem. False if malformed.
bool Parse(const uint8_t* msg, size_t len, size_t maxAttr, Parsed& out);

// Registers as the kernel numbers them: NFT_REG_VERDICT (0), NFT_REG_1..4 (1..4, 16 bytes),
// NFT_REG32_00..15 (8..23, 4 bytes; NFT_REG32_00 is the first word of NFT_REG_1).
uint32_t ReadReg(const Reader& r, const char* key, bool verdictOk = false);
std::optional<uint32_t> ReadOptReg(const Reader& r, const char* key);

// nft_data: a value (NFTA_DATA_VALUE) or a verdict (NFTA_DATA_VERDICT).
struct Verdict {
  int32_t code = NF_ACCEPT;  // NF_ACCEPT, NF_DROP, NFT_CONTINUE, NFT_RETURN, NFT_JUMP, NFT_GOTO...
  std::string chain;         // jump/goto target
};
const Names& VerdictCodes();           // accept, drop, continue, break, return, jump, goto
Verdict ReadVerdict(const Reader& r);  // { code, chain? }
Value VerdictValue(const Verdict& v);
// attr: nest(flagged) { NFTA_DATA_VALUE bytes }
void PutValue(nl::MsgBuilder& b, uint16_t attr, const std::vector<uint8_t>& value);
// attr: nest { NFTA_DATA_VERDICT nest { NFTA_VERDICT_CODE be32, NFTA_VERDICT_CHAIN string } }
void PutVerdict(nl::MsgBuilder& b, uint16_t attr, const Verdict& v);
// Reads an nft_data nest: exactly one of value / verdict is set on success.
bool ReadData(const nl::Attr& a, std::optional<std::vector<uint8_t>>* value, std::optional<Verdict>* verdict);

// Userdata attributes (opaque bytes: nft stores comments as TLVs here; we store owner tags).
constexpr size_t kMaxUserdata = 256;  // NFT_USERDATA_MAXLEN

}  // namespace nk::nft
