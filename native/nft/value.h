// JS-shaped data for the nf_tables layer, and a validating reader over it.
// Plain C++: no N-API. The glue (native/napi/nft.cc) converts JS values to Value and back
// without knowing any nf_tables object; everything about tables, chains, rules, sets and
// expressions (names, checks, wire format) lives here in native/nft, testable without Node.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace nk::nft {

// Bad input, found before anything is sent: an unknown name, a missing or mistyped field
// (range = false, a TypeError in JS), or a number out of range (range = true, a RangeError).
class InputError : public std::invalid_argument {
 public:
  explicit InputError(const std::string& msg, bool range = false) : std::invalid_argument(msg), range(range) {}
  bool range;
};

// A JS value: undefined, null, boolean, number, bigint (unsigned 64 bits), string, bytes
// (Buffer), array or object (fields in insertion order). Input never holds null (the glue
// reads a JS null as undefined: absent); output uses it where JS expects null.
struct Value {
  enum class Kind { Undefined, Null, Bool, Number, BigInt, String, Bytes, Array, Object };
  Kind kind = Kind::Undefined;
  bool b = false;
  double num = 0;
  uint64_t big = 0;
  std::string str;
  std::vector<uint8_t> bytes;
  std::vector<Value> items;
  std::vector<std::pair<std::string, Value>> fields;

  static Value Null();
  static Value Bool(bool v);
  static Value Number(double v);
  static Value BigInt(uint64_t v);
  static Value String(std::string v);
  static Value Bytes(std::vector<uint8_t> v);
  static Value Bytes(const uint8_t* data, size_t len) { return Bytes(std::vector<uint8_t>(data, data + len)); }
  static Value Array();
  static Value Object();

  bool undefined() const { return kind == Kind::Undefined; }
  // The field `key` of an object, or nullptr when absent or undefined.
  const Value* Get(const std::string& key) const;
  // Sets (or replaces) an object's field; returns *this for chaining.
  Value& Set(const std::string& key, Value v);
  Value& Push(Value v);
  bool operator==(const Value& o) const;
  bool operator!=(const Value& o) const { return !(*this == o); }
  std::string Describe() const;  // short, for error messages: 'oifname', 12, a Buffer(4), ...
};

// A name and the kernel's number for it (meta keys, hooks, verdicts...).
struct Name {
  const char* name;
  uint32_t value;
};
using Names = std::vector<Name>;
std::optional<uint32_t> Lookup(const Names& names, const std::string& name);
const char* NameOf(const Names& names, uint32_t value);  // nullptr when unknown
std::string NameList(const Names& names);                // "a, b, c" for error messages

// Reads the fields of one input object, checking each one; errors name the field by its
// path (msgs[2].exprs[0].dreg). Strict() refuses fields that were never read.
class Reader {
 public:
  Reader(const Value& v, std::string path);

  const std::string& path() const { return path_; }
  std::string At(const char* key) const { return path_ + "." + key; }
  const Value& value() const { return *v_; }
  bool Has(const char* key) const;

  std::optional<uint32_t> U32(const char* key, uint32_t min = 0, uint32_t max = UINT32_MAX) const;
  uint32_t ReqU32(const char* key, uint32_t min = 0, uint32_t max = UINT32_MAX) const;
  std::optional<int32_t> I32(const char* key, int32_t min, int32_t max) const;
  // Shared by U32 and I32: an integral number within [min, max].
  std::optional<double> Int(const char* key, double min, double max) const;
  // A bigint (or a number that is a safe non-negative integer).
  std::optional<uint64_t> U64(const char* key) const;
  std::optional<std::string> Str(const char* key, size_t maxLen = 255) const;
  std::string ReqStr(const char* key, size_t maxLen = 255) const;  // non-empty
  std::optional<std::vector<uint8_t>> Bytes(const char* key, size_t maxLen) const;
  std::vector<uint8_t> ReqBytes(const char* key, size_t maxLen) const;  // non-empty
  std::optional<bool> Bool(const char* key) const;
  // A string that must be one of `names`; returns its number.
  std::optional<uint32_t> Enum(const char* key, const Names& names, const char* what) const;
  uint32_t ReqEnum(const char* key, const Names& names, const char* what) const;
  // A nested object or an array of values.
  std::optional<Reader> Obj(const char* key) const;
  const std::vector<Value>* Arr(const char* key) const;

  // Accepts a field without reading it (a handle on an object read back, sent again).
  void Ignore(const char* key) const { read_.insert(key); }
  // Throws for a field that no accessor read (a misspelt option must not pass silently).
  void Strict() const;

 private:
  const Value* Field(const char* key) const;  // marks it read
  [[noreturn]] void Fail(const char* key, const std::string& what, bool range = false) const;

  const Value* v_;
  std::string path_;
  mutable std::set<std::string> read_;
};

}  // namespace nk::nft
