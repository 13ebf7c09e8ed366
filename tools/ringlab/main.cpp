// ringlab: one command line for the lab. Each subcommand lives in its own cmd_*.cpp and registers
// itself; `ringlab help` lists them.
#include <cstdio>
#include <exception>
#include <string_view>

#include "tools/ringlab/cli.hpp"

namespace {
void list_commands() {
  std::puts("usage: ringlab COMMAND [options]   (ringlab COMMAND --help for each)\n\ncommands:");
  for (const auto& [name, c] : ringlab::cli::commands())
    std::printf("  %-14s %s\n", name.c_str(), c.summary.c_str());
  std::printf("\n%s", ringlab::cli::exit_codes_help);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) == "help" || std::string_view(argv[1]) == "--help" ||
      std::string_view(argv[1]) == "-h") {
    if (argc > 2) {   // `ringlab help mcast-send`: that command's --help
      const auto& cmds = ringlab::cli::commands();
      if (auto it = cmds.find(std::string_view(argv[2])); it != cmds.end() && argc == 3) {
        char help[] = "--help";
        char* sub[] = {argv[2], help, nullptr};
        return it->second.run(2, sub);
      }
      if (argc == 3)
        std::fprintf(stderr, "ringlab help: unknown command '%s' (ringlab help lists them)\n", argv[2]);
      else
        std::fprintf(stderr, "ringlab help: unexpected argument '%s' (ringlab help [COMMAND])\n", argv[3]);
      return ringlab::cli::exit_usage;
    }
    list_commands();
    return argc < 2 ? ringlab::cli::exit_usage : ringlab::cli::exit_ok;
  }
  const auto& cmds = ringlab::cli::commands();
  auto it = cmds.find(std::string_view(argv[1]));
  if (it == cmds.end()) {
    std::fprintf(stderr, "ringlab: unknown command '%s' (ringlab help lists them)\n", argv[1]);
    return ringlab::cli::exit_usage;
  }
  try {
    return it->second.run(argc - 1, argv + 1);
  } catch (const ringlab::cli::usage_error& e) {
    std::fprintf(stderr, "ringlab %s: %s\n", argv[1], e.what.c_str());
    return ringlab::cli::exit_usage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ringlab %s: %s\n", argv[1], e.what());
    return ringlab::cli::exit_failure;
  }
}
