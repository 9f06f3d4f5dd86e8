// A tiny test harness for the native tests (no Node, no root, no test framework to install):
// TEST(name) { CHECK(...); CHECK_EQ(a, b); }. CHECK_EQ copies its operands, so `*opt()` of a
// temporary is safe. Every file in test/native/ is linked into one executable, nk_native_tests;
// `nk_native_tests FILTER` runs the tests whose name contains FILTER.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace nk::test {

struct Case {
  const char* name;
  void (*fn)();
};
std::vector<Case>& Registry();
struct Register {
  Register(const char* name, void (*fn)()) { Registry().push_back({name, fn}); }
};
void Fail(const char* file, int line, const std::string& what);

template <class T>
std::string Show(const T& v) {
  std::ostringstream s;
  if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, int8_t>)
    s << static_cast<int>(v);
  else if constexpr (std::is_same_v<T, bool>)
    s << (v ? "true" : "false");
  else if constexpr (std::is_same_v<T, std::vector<uint8_t>>) {
    for (size_t i = 0; i < v.size(); i++)
      s << (i ? " " : "") << std::hex << (v[i] < 16 ? "0" : "") << static_cast<int>(v[i]);
  } else if constexpr (std::is_same_v<T, std::string> || std::is_arithmetic_v<T> || std::is_same_v<T, const char*>)
    s << v;
  else
    s << "(value)";
  return s.str();
}

// Bytes from "28 00 00 00 10 00 ..." (white space between octets ignored).
std::vector<uint8_t> Hex(const std::string& s);

}  // namespace nk::test

#define TEST(name)                                                  \
  static void name();                                               \
  static const ::nk::test::Register name##_registered(#name, name); \
  static void name()

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) ::nk::test::Fail(__FILE__, __LINE__, "CHECK(" #cond ")"); \
  } while (0)

#define CHECK_EQ(a, b)                                                                                             \
  do {                                                                                                             \
    const auto nk_a_ = (a);                                                                                        \
    const auto nk_b_ = (b);                                                                                        \
    if (!(nk_a_ == nk_b_))                                                                                         \
      ::nk::test::Fail(__FILE__, __LINE__,                                                                         \
                       "CHECK_EQ(" #a ", " #b "): " + ::nk::test::Show(nk_a_) + " != " + ::nk::test::Show(nk_b_)); \
  } while (0)

#define CHECK_THROWS(expr)                                                           \
  do {                                                                               \
    bool nk_threw_ = false;                                                          \
    try {                                                                            \
      (void)(expr);                                                                  \
    } catch (...) {                                                                  \
      nk_threw_ = true;                                                              \
    }                                                                                \
    if (!nk_threw_) ::nk::test::Fail(__FILE__, __LINE__, "CHECK_THROWS(" #expr ")"); \
  } while (0)
