// ringlab_fuzz_seeds TARGET TRACES_DIR OUT_DIR: writes TARGET's seed corpus (seeds.hpp) into OUT_DIR,
// one file per seed named after it, and prints how many. `--list` prints every target and its max_len.
// Exit 2 on bad arguments or an unknown target, 1 when a trace does not open or a file cannot be written.
#include <cstdio>
#include <fstream>
#include <string>

#include "tests/fuzz/parsers/parser_entries.hpp"
#include "tests/fuzz/parsers/seeds.hpp"

int main(int argc, char** argv) {
  using namespace ringlab::fuzz;
  if (argc == 2 && std::string(argv[1]) == "--list") {
    for (const auto& t : targets()) std::printf("%.*s %zu\n", static_cast<int>(t.name.size()), t.name.data(), t.max_len);
    return 0;
  }
  if (argc != 4) {
    std::fprintf(stderr, "usage: ringlab_fuzz_seeds TARGET TRACES_DIR OUT_DIR | --list\n");
    return 2;
  }
  if (!find_target(argv[1])) {
    std::fprintf(stderr, "ringlab_fuzz_seeds: unknown target '%s' (--list names them)\n", argv[1]);
    return 2;
  }
  std::size_t unreadable = 0;
  const auto s = seeds(argv[1], argv[2], &unreadable);
  if (unreadable) {
    std::fprintf(stderr, "ringlab_fuzz_seeds: %zu trace(s) in %s do not open\n", unreadable, argv[2]);
    return 1;
  }
  const std::filesystem::path out(argv[3]);
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  for (const auto& x : s) {
    std::ofstream f(out / ("seed-" + x.name), std::ios::binary);
    f.write(reinterpret_cast<const char*>(x.data.data()), static_cast<std::streamsize>(x.data.size()));
    if (!f) {
      std::fprintf(stderr, "ringlab_fuzz_seeds: cannot write %s\n", (out / ("seed-" + x.name)).c_str());
      return 1;
    }
  }
  std::printf("%s: %zu seeds in %s\n", argv[1], s.size(), argv[3]);
  return 0;
}
