// A bounded mutation fuzzer for targets written against libFuzzer's
// LLVMFuzzerTestOneInput. Not coverage-guided: it takes the seed inputs,
// applies random byte- and token-level mutations (flip, insert, delete,
// duplicate a span, splice two inputs, swap a JSON-significant character),
// and runs each result through the target. Crashes and sanitizer reports end
// the run; the failing input is left in ./fuzz-current-input.
//
//   TARGET --runs N [--seed S] --seed-dir DIR
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::string> LoadSeeds(const std::string& dir) {
  std::vector<std::string> seeds;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream f(dir + "/" + e->d_name, std::ios::binary);
      std::stringstream ss;
      ss << f.rdbuf();
      seeds.push_back(ss.str());
    }
    closedir(d);
  }
  if (seeds.empty()) seeds.push_back("{}");
  return seeds;
}

std::string Mutate(std::string s, const std::vector<std::string>& pool, std::mt19937_64& rng) {
  static const char kInteresting[] = "{}[]\":,-0123456789e.\\/ntfu\x00\xff";
  auto pick = [&](size_t n) { return n ? static_cast<size_t>(rng() % n) : 0; };
  int rounds = 1 + static_cast<int>(rng() % 4);
  for (int r = 0; r < rounds; ++r) {
    switch (rng() % 6) {
      case 0:  // flip a bit
        if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1 << (rng() % 8));
        break;
      case 1:  // insert an interesting character
        s.insert(s.begin() + static_cast<long>(pick(s.size() + 1)), kInteresting[pick(sizeof kInteresting - 1)]);
        break;
      case 2:  // delete a span
        if (!s.empty()) {
          size_t at = pick(s.size());
          s.erase(at, 1 + pick(std::min<size_t>(16, s.size() - at)));
        }
        break;
      case 3:  // duplicate a span
        if (!s.empty()) {
          size_t at = pick(s.size()), len = 1 + pick(std::min<size_t>(64, s.size() - at));
          s.insert(pick(s.size() + 1), s.substr(at, len));
        }
        break;
      case 4: {  // splice with another input
        const std::string& o = pool[pick(pool.size())];
        if (!o.empty()) s = s.substr(0, pick(s.size() + 1)) + o.substr(pick(o.size()));
        break;
      }
      default:  // replace a character by a JSON-significant one
        if (!s.empty()) s[pick(s.size())] = kInteresting[pick(sizeof kInteresting - 1)];
    }
  }
  if (s.size() > 65536) s.resize(65536);
  return s;
}

// Structure-aware: parses the input as JSON and changes one node — a value
// replaced by an edge case or another type, a key dropped, an array element
// duplicated — so that mutants still reach the semantic checks.
std::string MutateJson(const std::string& text, std::mt19937_64& rng) {
  using nlohmann::json;
  json root = json::parse(text, nullptr, false);
  if (root.is_discarded()) return text;
  static const std::vector<json> kValues = {
      json(), json(0), json(-1), json(1), json(4294967295u), json(4294967296u), json(-9223372036854775807LL - 1),
      json(18446744073709551615ull), json(1.5), json(true), json(""), json("/"), json(".."), json("../../etc"),
      json("/proc/self/fd/3"), json("CAP_SYS_ADMIN"), json("CAP_NOPE"), json("rw"), json("rbind"), json("idmap"),
      json("RLIMIT_NOFILE"), json("user"), json("kernel.core_pattern"), json("1+x=y"), json("a\n"), json::array(),
      json::object(), json::array({"x"}), json::object({{"type", "pid"}})};
  std::vector<json*> nodes;
  std::vector<std::function<void()>> collect;
  std::function<void(json&)> walk = [&](json& j) {
    nodes.push_back(&j);
    if (j.is_object())
      for (auto& [k, v] : j.items()) walk(v);
    else if (j.is_array())
      for (auto& v : j) walk(v);
  };
  walk(root);
  json* n = nodes[static_cast<size_t>(rng() % nodes.size())];
  switch (rng() % 4) {
    case 0:
      *n = kValues[static_cast<size_t>(rng() % kValues.size())];
      break;
    case 1:
      if (n->is_object() && !n->empty()) {
        auto it = n->begin();
        std::advance(it, static_cast<long>(rng() % n->size()));
        n->erase(it.key());
      }
      break;
    case 2:
      if (n->is_array() && !n->empty()) n->push_back((*n)[static_cast<size_t>(rng() % n->size())]);
      break;
    default:
      if (n->is_number_integer()) {
        // Step by -1, 0 or +1, saturating: INT64_MIN/MAX are interesting inputs, not overflow.
        int64_t v = n->get<int64_t>();
        int64_t step = static_cast<int64_t>(rng() % 3) - 1;
        int64_t out = v;
        if (__builtin_add_overflow(v, step, &out)) out = v;
        *n = out;
      }
      else if (n->is_string()) *n = n->get<std::string>() + "/..";
  }
  return root.dump();
}

}  // namespace

int main(int argc, char** argv) {
  long runs = 10000;
  uint64_t seed = 1;
  std::string seed_dir = ".";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--runs") runs = std::atol(argv[i + 1]);
    else if (a == "--seed") seed = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--seed-dir") seed_dir = argv[i + 1];
  }
  std::vector<std::string> pool = LoadSeeds(seed_dir);
  for (const auto& s : pool) LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  std::mt19937_64 rng(seed);
  // The input under test is kept in a file so that a crash leaves it behind.
  int cur = open("fuzz-current-input", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  for (long n = 0; n < runs; ++n) {
    const std::string& base = pool[static_cast<size_t>(rng() % pool.size())];
    std::string input = (rng() % 2) ? MutateJson(base, rng) : Mutate(base, pool, rng);
    if (cur >= 0 && (ftruncate(cur, 0) != 0 || pwrite(cur, input.data(), input.size(), 0) < 0)) {
      close(cur);
      cur = -1;
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    // Keep some mutants that are still JSON, to mutate further.
    if (pool.size() < 256 && (rng() % 16) == 0 && nlohmann::json::accept(input)) pool.push_back(input);
  }
  if (cur >= 0) close(cur);
  std::remove("fuzz-current-input");
  std::printf("%ld mutated inputs from %zu seeds: no crash\n", runs, LoadSeeds(seed_dir).size());
  return 0;
}
