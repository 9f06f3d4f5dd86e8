// nf_tables over netlink: batches of table, chain, rule, set and element messages, their
// replies, and dumps decoded back into the shapes they were written in.
// Plain C++: no N-API. Messages are JS-shaped Values (see value.h and lib/native/binding.ts:
// NftMsg, NftExpr); everything is checked here before anything is sent.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "../nl/socket.h"
#include "common.h"
#include "value.h"

namespace nk::nft {

// One batch, encoded: ready for nl::Socket::Batch.
struct Batch {
  std::vector<std::vector<uint8_t>> msgs;  // BATCH_BEGIN, the requests, BATCH_END
  std::vector<int> origin;                 // per message: index of the input message (-1: begin/end)
  std::vector<size_t> firstElement;        // per message: index of its first set element in the input
  size_t inputs = 0;                       // number of input messages
};

// Encodes input messages (an array of NftMsg) as one atomic batch. Every request carries
// NLM_F_ACK (so each refusal is attributed to its message); NEWRULE also NLM_F_ECHO, so the
// kernel tells the handle it gave the rule. A newsetelem message whose elements do not fit
// one netlink message (64 KiB attributes) becomes several. With `genid`, refused as a whole
// (ERESTART) unless the ruleset is still at that generation (BatchBegin). Throws InputError.
Batch EncodeBatch(const Value& msgs, std::optional<uint32_t> genid = std::nullopt);

// The fence that follows a batch (see nl::Socket::Batch): NFT_MSG_GETGEN.
std::vector<uint8_t> Fence();

// NFT_MSG_GETGEN, asking for the ruleset's generation (a reply, then the ACK), and reading it
// from the NFT_MSG_NEWGEN reply (NFTA_GEN_ID); nullopt if the reply is malformed.
std::vector<uint8_t> GenRequest();
std::optional<uint32_t> DecodeGen(const uint8_t* msg, size_t len);

// The batch's outcome as JS sees it: { ok: true, handles: (bigint|null)[] } (rule handles
// for newrule messages) or { ok: false, errno (negative), syscall ('NFT_MSG_NEWRULE'),
// strerror, index (of the input message; -1 for the batch as a whole), extack?, attribute? }.
// nf_tables mostly answers with the offending attribute's offset (NLMSGERR_ATTR_OFFS) and no
// text: `attribute` names it ("NFTA_RULE_CHAIN"), and `extack` is the kernel's text or else
// "attribute NFTA_RULE_CHAIN".
Value Outcome(const Batch& b, const std::vector<nl::Reply>& replies);

// A listing request: nftList(ns, { what, family?, table?, chain?, set?, keys? }).
struct ListQuery {
  enum class What { Tables, Chains, Rules, Sets, Elements } what = What::Tables;
  uint8_t family = 0;  // NFPROTO_UNSPEC: every family
  std::string table, chain, set;
  uint16_t msg = 0;              // NFT_MSG_GET*
  std::vector<uint8_t> request;  // the dump request (filtered by the kernel where it can)
  // Elements by key (`keys` in the query): one GETSETELEM request per key instead of a dump,
  // each answered by the element or ENOENT, so a lookup costs the same however big the set is.
  std::vector<std::vector<uint8_t>> gets;
  // Rules without their expressions (`brief` in the query): family, table, chain, handle and
  // userdata only, for callers that look at comments and handles (decoding is the cost).
  bool brief = false;
};
ListQuery EncodeList(const Value& q);  // throws InputError
// The dump's messages decoded (and filtered by the query): an array of objects.
Value DecodeList(const ListQuery& q, const std::vector<std::vector<uint8_t>>& messages);

// One message decoded as `what` ('table', 'chain', 'rule', 'set', 'elements'); for parser
// tests. Returns false when malformed (or of another kind).
bool DecodeMessage(const std::string& what, const uint8_t* msg, size_t len, Value& out);

// --- per object (table.cc, chain.cc, rule.cc, set.cc) ---------------------------------

// Collects the messages one input message becomes.
struct Sink {
  Batch& batch;
  int index;
  std::set<uint32_t>& setIds;  // NFTA_SET_IDs taken in this batch
  void Add(std::vector<uint8_t> msg, size_t firstElement = 0) {
    batch.msgs.push_back(std::move(msg));
    batch.origin.push_back(index);
    batch.firstElement.push_back(firstElement);
  }
  // The kernel wants an NFTA_SET_ID on every new set; one not given is the smallest free id.
  uint32_t NewSetId() {
    uint32_t id = 1;
    while (setIds.count(id)) id++;
    setIds.insert(id);
    return id;
  }
};

// Each returns false when `op` is not its own.
bool EncodeTableOp(const std::string& op, const Reader& r, Sink& out);
bool EncodeChainOp(const std::string& op, const Reader& r, Sink& out);
bool EncodeRuleOp(const std::string& op, const Reader& r, Sink& out);
bool EncodeSetOp(const std::string& op, const Reader& r, Sink& out);

bool DecodeTable(const uint8_t* msg, size_t len, Value& out);
bool DecodeChain(const uint8_t* msg, size_t len, Value& out);
bool DecodeRule(const uint8_t* msg, size_t len, Value& out, bool withExprs = true);
bool DecodeSet(const uint8_t* msg, size_t len, Value& out);
// Appends each element of a NEWSETELEM message to `out` (an array).
bool DecodeElements(const uint8_t* msg, size_t len, Value& out);

// The rule handle in an echoed NEWRULE message.
std::optional<uint64_t> RuleHandle(const uint8_t* msg, size_t len);

// Names the attribute at byte `offset` of the request `msg` (the kernel's
// NLMSGERR_ATTR_OFFS), such as "NFTA_RULE_EXPRESSIONS > #2 nat > nat attribute 3" or
// "NFTA_SET_ELEM_LIST_ELEMENTS > element #1500" (counted from `firstElement`).
std::string DescribeAttr(const std::vector<uint8_t>& msg, int64_t offset, size_t firstElement = 0);

}  // namespace nk::nft
