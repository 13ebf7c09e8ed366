// ringlab rings: the ring designs the registry knows, what real system each mirrors, and (with
// --check NAME) a short single-thread round trip through the named ring to show it works here.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "rings/registry.hpp"
#include "tools/ringlab/cli.hpp"

namespace {

namespace cli = ringlab::cli;
namespace rings = ringlab::rings;

std::string names() {
  std::string s;
  for (const auto& d : rings::designs()) s += (s.empty() ? "" : ", ") + std::string(d.name);
  return s;
}

int check(const std::string& name, std::uint64_t capacity) {
  auto r = rings::make_ring<std::uint64_t>(name, capacity);
  if (!r) throw cli::usage_error{"--check: unknown ring design '" + name + "' (known: " + names() + ")"};
  std::vector<std::uint64_t> in(r->capacity()), out(r->capacity());
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = 0x9e3779b97f4a7c15ull * (i + 1);
  std::uint64_t moved = 0;
  for (int round = 0; round < 3; ++round) {
    if (!r->enqueue_bulk(in) || r->enqueue_burst(std::span<const std::uint64_t>(in).first(1)) != 0 ||
        !r->dequeue_bulk(out) || out != in) {
      std::fprintf(stderr, "ringlab rings: %s failed the round trip in round %d\n", name.c_str(), round);
      return cli::exit_failure;
    }
    moved += in.size();
  }
  std::printf("%s: capacity %zu, moved %llu items in 3 full rounds, FIFO and full/empty edges ok\n", name.c_str(),
              r->capacity(), static_cast<unsigned long long>(moved));
  return cli::exit_ok;
}

int run(int argc, char** argv) {
  const std::vector<cli::option> opts = {
      {"check", "NAME", "build the named ring and run a short single-thread round trip through it"},
      {"capacity", "N", "capacity for --check (rounded up to a power of two)", "1024"},
  };
  cli::args a("rings", opts, argc, argv);
  if (a.help()) {
    std::fputs(cli::usage_text("rings", "[--check NAME [--capacity N]]",
                               "Lists the ring designs in rings/ by the name --ring takes, with the real system each\n"
                               "mirrors and whether it takes several producers / consumers.",
                               opts)
                   .c_str(),
               stdout);
    return cli::exit_ok;
  }
  a.expect_positional(0);
  if (a.has("check")) return check(a.str("check"), a.u64("capacity", 1, std::uint64_t{1} << 24));
  std::printf("%-11s %-5s %s\n", "name", "P/C", "mirrors");
  for (const auto& d : rings::designs())
    std::printf("%-11.*s %s/%s   %.*s\n", static_cast<int>(d.name.size()), d.name.data(), d.multi_producer ? "M" : "S",
                d.multi_consumer ? "M" : "S", static_cast<int>(d.mirrors.size()), d.mirrors.data());
#if !RINGLAB_HAVE_DPDK
  std::puts("(rte-ring left out: built without DPDK)");
#endif
  return cli::exit_ok;
}

const cli::registration reg{{"rings", "list the ring designs (spsc, mpmc, netmap, umem, batch, boost-*, rte-ring)", run}};

}  // namespace
