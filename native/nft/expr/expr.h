// nf_tables expressions: one file per expression (google/nftables style), each holding the
// expression's names, checks, encoder and decoder. Plain C++: no N-API.
//
// In JS an expression is { type: 'meta', key: 'oifname', dreg: 1 } and so on (see
// lib/native/binding.ts, NftExpr); `type` is the kernel's expression name. An expression
// this code does not know, or one whose attributes say more than its shape can, is kept
// as { type, raw } (NFTA_EXPR_DATA's bytes) and encoded back as it was: nothing is dropped.
#pragma once

#include <string>

#include "../../nl/attr.h"
#include "../common.h"
#include "../value.h"

namespace nk::nft::expr {

struct Def {
  const char* name;  // NFTA_EXPR_NAME
  // Writes NFTA_EXPR_DATA's attributes for `in`, in the order nft writes them (so encodings
  // compare byte for byte with nft's). Throws InputError for bad input.
  void (*encode)(const Reader& in, nl::MsgBuilder& b);
  // Reads NFTA_EXPR_DATA's attributes into `out` (type already set). Returns false when the
  // attributes hold something this expression's shape cannot say; the caller keeps it raw.
  bool (*decode)(const uint8_t* data, size_t len, Value& out);
};

// The known expressions.
extern const Def kBitwise, kCmp, kCounter, kCt, kFib, kImmediate, kLookup, kMasq, kMeta, kNat, kPayload, kRange, kRedir;
const Def* Find(const std::string& name);

// NFTA_RULE_EXPRESSIONS: nest { NFTA_LIST_ELEM nest { NFTA_EXPR_NAME, NFTA_EXPR_DATA nest } ... }
void EncodeList(const std::vector<Value>& exprs, const std::string& path, nl::MsgBuilder& b, uint16_t attr);
// The expressions of a NFTA_RULE_EXPRESSIONS attribute, as an array. False if malformed.
bool DecodeList(const nl::Attr& list, Value& out);

// Helpers for expression files: attribute table of NFTA_EXPR_DATA, and the register,
// number and data readers that check the kernel's encoding.
bool Table(const uint8_t* data, size_t len, size_t max, std::vector<std::optional<nl::Attr>>& tb);
// True when every attribute present in tb has a type listed in `known` (others: keep raw).
bool OnlyKnown(const std::vector<std::optional<nl::Attr>>& tb, std::initializer_list<uint16_t> known);
bool GetBe32(const std::optional<nl::Attr>& a, uint32_t& out);
bool GetValue(const std::optional<nl::Attr>& a, std::vector<uint8_t>& out);  // nft_data holding a value
Value Num(uint32_t v);

}  // namespace nk::nft::expr
