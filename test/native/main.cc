// Runs every TEST in test/native/; prints one line per test and "N passed, N failed" at the end.
#include <cctype>
#include <cstdio>
#include <cstring>
#include <exception>

#include "check.h"

namespace nk::test {

std::vector<Case>& Registry() {
  static std::vector<Case> r;
  return r;
}

namespace {
int gFailures = 0;
}

void Fail(const char* file, int line, const std::string& what) {
  gFailures++;
  std::fprintf(stderr, "    %s:%d: %s\n", file, line, what.c_str());
}

std::vector<uint8_t> Hex(const std::string& s) {
  std::vector<uint8_t> out;
  int hi = -1;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    int v =
        std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi * 16 + v));
      hi = -1;
    }
  }
  return out;
}

}  // namespace nk::test

int main(int argc, char** argv) {
  using nk::test::Registry;
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int passed = 0, failed = 0;
  for (const auto& c : Registry()) {
    if (filter && !std::strstr(c.name, filter)) continue;
    int before = nk::test::gFailures;
    try {
      c.fn();
    } catch (const std::exception& e) {
      nk::test::Fail(__FILE__, __LINE__, std::string("unexpected exception: ") + e.what());
    } catch (...) {
      nk::test::Fail(__FILE__, __LINE__, "unexpected exception");
    }
    bool ok = nk::test::gFailures == before;
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", c.name);
    std::fflush(stdout);
    (ok ? passed : failed)++;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}
