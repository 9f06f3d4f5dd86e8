// A deterministic random-input driver for LLVMFuzzerTestOneInput, for machines without clang's
// libFuzzer: mutates the seed files (bit flips, byte sets, lengths set to edge values, cuts,
// inserts, splices) with a fixed-seed PRNG for a bounded time. Same target, no coverage guidance.
//
//   nk_fuzz_rtnl SECONDS SEED_DIR...      (NK_FUZZ_SEED=n picks another PRNG seed)
#include <dirent.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

uint64_t gState = 0x9e3779b97f4a7c15ull;
uint64_t Next() {  // splitmix64
  uint64_t z = (gState += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
size_t Below(size_t n) { return n ? static_cast<size_t>(Next() % n) : 0; }

void Mutate(std::vector<uint8_t>& b, const std::vector<std::vector<uint8_t>>& seeds) {
  int steps = 1 + static_cast<int>(Below(6));
  for (int s = 0; s < steps; s++) {
    switch (Below(8)) {
      case 0:
        if (!b.empty()) b[Below(b.size())] ^= static_cast<uint8_t>(1u << Below(8));
        break;
      case 1:
        if (!b.empty()) b[Below(b.size())] = static_cast<uint8_t>(Next());
        break;
      case 2: {  // a 16-bit length field (nla_len) or 32-bit one (nlmsg_len) set to an edge value
        static const uint32_t edges[] = {0,  1,      3,      4,      5,       8,          15,         16,
                                         17, 0x7fff, 0xfffc, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff};
        if (b.size() >= 4) {
          size_t off = Below(b.size() / 4) * 4;
          uint32_t v = edges[Below(sizeof(edges) / sizeof(edges[0]))];
          size_t n = Below(2) ? 2 : 4;
          for (size_t i = 0; i < n && off + i < b.size(); i++) b[off + i] = static_cast<uint8_t>(v >> (8 * i));
        }
        break;
      }
      case 3:
        if (!b.empty()) b.resize(Below(b.size()));
        break;
      case 4: {
        size_t at = Below(b.size() + 1), n = 1 + Below(16);
        std::vector<uint8_t> ins(n);
        for (auto& x : ins) x = static_cast<uint8_t>(Next());
        b.insert(b.begin() + static_cast<long>(at), ins.begin(), ins.end());
        break;
      }
      case 5:
        if (b.size() > 1) {
          size_t at = Below(b.size()), n = 1 + Below(b.size() - at);
          b.erase(b.begin() + static_cast<long>(at), b.begin() + static_cast<long>(at + n));
        }
        break;
      case 6: {  // splice with another seed
        const auto& o = seeds[Below(seeds.size())];
        if (!o.empty()) {
          size_t from = Below(o.size());
          b.resize(Below(b.size() + 1));
          b.insert(b.end(), o.begin() + static_cast<long>(from), o.end());
        }
        break;
      }
      default: {  // duplicate a chunk (repeated attributes, two messages)
        if (!b.empty() && b.size() < 8192) {
          size_t at = Below(b.size()), n = 1 + Below(b.size() - at);
          std::vector<uint8_t> chunk(b.begin() + static_cast<long>(at), b.begin() + static_cast<long>(at + n));
          b.insert(b.begin() + static_cast<long>(Below(b.size() + 1)), chunk.begin(), chunk.end());
        }
        break;
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 60;
  if (const char* s = std::getenv("NK_FUZZ_SEED")) gState = std::strtoull(s, nullptr, 0);
  std::vector<std::vector<uint8_t>> seeds;
  for (int i = 2; i < argc; i++) {
    DIR* d = opendir(argv[i]);
    if (!d) continue;
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream f(std::string(argv[i]) + "/" + e->d_name, std::ios::binary);
      seeds.emplace_back(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
    closedir(d);
  }
  if (seeds.empty()) seeds.emplace_back(16, 0);
  for (const auto& s : seeds) LLVMFuzzerTestOneInput(s.data(), s.size());

  auto start = std::chrono::steady_clock::now();
  uint64_t runs = 0;
  for (;;) {
    for (int i = 0; i < 256; i++, runs++) {
      std::vector<uint8_t> b = seeds[Below(seeds.size())];
      Mutate(b, seeds);
      LLVMFuzzerTestOneInput(b.data(), b.size());
    }
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (elapsed >= seconds) {
      std::printf("standalone driver: %llu runs in %.0f s from %zu seeds, no crash\n",
                  static_cast<unsigned long long>(runs), elapsed, seeds.size());
      return 0;
    }
  }
}
