#include "value.h"

#include <cmath>

namespace nk::nft {

Value Value::Null() {
  Value x;
  x.kind = Kind::Null;
  return x;
}
Value Value::Bool(bool v) {
  Value x;
  x.kind = Kind::Bool;
  x.b = v;
  return x;
}
Value Value::Number(double v) {
  Value x;
  x.kind = Kind::Number;
  x.num = v;
  return x;
}
Value Value::BigInt(uint64_t v) {
  Value x;
  x.kind = Kind::BigInt;
  x.big = v;
  return x;
}
Value Value::String(std::string v) {
  Value x;
  x.kind = Kind::String;
  x.str = std::move(v);
  return x;
}
Value Value::Bytes(std::vector<uint8_t> v) {
  Value x;
  x.kind = Kind::Bytes;
  x.bytes = std::move(v);
  return x;
}
Value Value::Array() {
  Value x;
  x.kind = Kind::Array;
  return x;
}
Value Value::Object() {
  Value x;
  x.kind = Kind::Object;
  return x;
}

const Value* Value::Get(const std::string& key) const {
  if (kind != Kind::Object) return nullptr;
  for (const auto& [k, v] : fields)
    if (k == key) return v.undefined() ? nullptr : &v;
  return nullptr;
}

Value& Value::Set(const std::string& key, Value v) {
  for (auto& [k, old] : fields) {
    if (k == key) {
      old = std::move(v);
      return *this;
    }
  }
  fields.emplace_back(key, std::move(v));
  return *this;
}

Value& Value::Push(Value v) {
  items.push_back(std::move(v));
  return *this;
}

bool Value::operator==(const Value& o) const {
  if (kind != o.kind) return false;
  switch (kind) {
    case Kind::Undefined:
      return true;
    case Kind::Null:
      return true;
    case Kind::Bool:
      return b == o.b;
    case Kind::Number:
      return num == o.num;
    case Kind::BigInt:
      return big == o.big;
    case Kind::String:
      return str == o.str;
    case Kind::Bytes:
      return bytes == o.bytes;
    case Kind::Array:
      return items == o.items;
    case Kind::Object: {
      size_t n = 0;
      for (const auto& [k, v] : fields) {
        if (v.undefined()) continue;
        n++;
        const Value* w = o.Get(k);
        if (!w || !(*w == v)) return false;
      }
      size_t m = 0;
      for (const auto& f : o.fields)
        if (!f.second.undefined()) m++;
      return n == m;
    }
  }
  return false;
}

std::string Value::Describe() const {
  switch (kind) {
    case Kind::Undefined:
      return "undefined";
    case Kind::Null:
      return "null";
    case Kind::Bool:
      return b ? "true" : "false";
    case Kind::Number: {
      if (std::isfinite(num) && num == std::floor(num) && std::fabs(num) < 1e15)
        return std::to_string(static_cast<long long>(num));
      return std::to_string(num);
    }
    case Kind::BigInt:
      return std::to_string(big) + "n";
    case Kind::String:
      return "'" + str + "'";
    case Kind::Bytes:
      return "a Buffer(" + std::to_string(bytes.size()) + ")";
    case Kind::Array:
      return "an array";
    case Kind::Object:
      return "an object";
  }
  return "?";
}

std::optional<uint32_t> Lookup(const Names& names, const std::string& name) {
  for (const auto& n : names)
    if (name == n.name) return n.value;
  return std::nullopt;
}

const char* NameOf(const Names& names, uint32_t value) {
  for (const auto& n : names)
    if (n.value == value) return n.name;
  return nullptr;
}

std::string NameList(const Names& names) {
  std::string s;
  for (const auto& n : names) {
    if (!s.empty()) s += ", ";
    s += n.name;
  }
  return s;
}

Reader::Reader(const Value& v, std::string path) : v_(&v), path_(std::move(path)) {
  if (v.kind != Value::Kind::Object) throw InputError(path_ + " must be an object, received " + v.Describe());
}

const Value* Reader::Field(const char* key) const {
  read_.insert(key);
  return v_->Get(key);
}

void Reader::Fail(const char* key, const std::string& what, bool range) const {
  const Value* f = v_->Get(key);
  throw InputError(At(key) + " " + what + ", received " + (f ? f->Describe() : "nothing"), range);
}

bool Reader::Has(const char* key) const { return v_->Get(key) != nullptr; }

// The number in field `key` as an integer from min to max (nullopt when absent).
std::optional<double> Reader::Int(const char* key, double min, double max) const {
  const Value* f = Field(key);
  if (!f) return std::nullopt;
  std::string range = "an integer from " + std::to_string(static_cast<int64_t>(min)) + " to " +
                      std::to_string(static_cast<int64_t>(max));
  if (f->kind != Value::Kind::Number || !std::isfinite(f->num) || f->num != std::floor(f->num))
    Fail(key, "must be " + range);
  if (f->num < min || f->num > max) Fail(key, "must be " + range, true);
  return f->num;
}

std::optional<uint32_t> Reader::U32(const char* key, uint32_t min, uint32_t max) const {
  auto v = Int(key, min, max);
  return v ? std::optional<uint32_t>(static_cast<uint32_t>(*v)) : std::nullopt;
}

uint32_t Reader::ReqU32(const char* key, uint32_t min, uint32_t max) const {
  auto v = U32(key, min, max);
  if (!v) Fail(key, "is required (an integer from " + std::to_string(min) + " to " + std::to_string(max) + ")");
  return *v;
}

std::optional<int32_t> Reader::I32(const char* key, int32_t min, int32_t max) const {
  auto v = Int(key, min, max);
  return v ? std::optional<int32_t>(static_cast<int32_t>(*v)) : std::nullopt;
}

std::optional<uint64_t> Reader::U64(const char* key) const {
  const Value* f = Field(key);
  if (!f) return std::nullopt;
  if (f->kind == Value::Kind::BigInt) return f->big;
  if (f->kind == Value::Kind::Number && std::isfinite(f->num) && f->num == std::floor(f->num)) {
    if (f->num < 0 || f->num > 9007199254740991.0) Fail(key, "must be a non-negative safe integer or a bigint", true);
    return static_cast<uint64_t>(f->num);
  }
  Fail(key, "must be a bigint");
}

std::optional<std::string> Reader::Str(const char* key, size_t maxLen) const {
  const Value* f = Field(key);
  if (!f) return std::nullopt;
  if (f->kind != Value::Kind::String) Fail(key, "must be a string");
  if (f->str.size() > maxLen) Fail(key, "must be at most " + std::to_string(maxLen) + " bytes long", true);
  if (f->str.find('\0') != std::string::npos) Fail(key, "must not contain NUL characters");
  return f->str;
}

std::string Reader::ReqStr(const char* key, size_t maxLen) const {
  auto v = Str(key, maxLen);
  if (!v || v->empty()) Fail(key, "is required (a non-empty string)");
  return *v;
}

std::optional<std::vector<uint8_t>> Reader::Bytes(const char* key, size_t maxLen) const {
  const Value* f = Field(key);
  if (!f) return std::nullopt;
  if (f->kind != Value::Kind::Bytes) Fail(key, "must be a Buffer");
  if (f->bytes.size() > maxLen) Fail(key, "must be at most " + std::to_string(maxLen) + " bytes long", true);
  return f->bytes;
}

std::vector<uint8_t> Reader::ReqBytes(const char* key, size_t maxLen) const {
  auto v = Bytes(key, maxLen);
  if (!v || v->empty()) Fail(key, "is required (a non-empty Buffer)");
  return *v;
}

std::optional<bool> Reader::Bool(const char* key) const {
  const Value* f = Field(key);
  if (!f) return std::nullopt;
  if (f->kind != Value::Kind::Bool) Fail(key, "must be a boolean");
  return f->b;
}

std::optional<uint32_t> Reader::Enum(const char* key, const Names& names, const char* what) const {
  const Value* f = Field(key);
  if (!f) return std::nullopt;
  if (f->kind != Value::Kind::String) Fail(key, std::string("must be a ") + what + " (" + NameList(names) + ")");
  auto v = Lookup(names, f->str);
  if (!v) Fail(key, std::string("must be a ") + what + " (" + NameList(names) + ")");
  return v;
}

uint32_t Reader::ReqEnum(const char* key, const Names& names, const char* what) const {
  auto v = Enum(key, names, what);
  if (!v) Fail(key, std::string("is required (a ") + what + ": " + NameList(names) + ")");
  return *v;
}

std::optional<Reader> Reader::Obj(const char* key) const {
  const Value* f = Field(key);
  if (!f) return std::nullopt;
  return Reader(*f, At(key));
}

const std::vector<Value>* Reader::Arr(const char* key) const {
  const Value* f = Field(key);
  if (!f) return nullptr;
  if (f->kind != Value::Kind::Array) Fail(key, "must be an array");
  return &f->items;
}

void Reader::Strict() const {
  for (const auto& [k, v] : v_->fields) {
    if (v.undefined() || read_.count(k)) continue;
    throw InputError(At(k.c_str()) + " is not a known field here");
  }
}

}  // namespace nk::nft
