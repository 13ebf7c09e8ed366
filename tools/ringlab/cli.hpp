#pragma once
// The `ringlab` command line: subcommands register themselves (one cmd_*.cpp each), and share one
// small option parser so that every subcommand's --help and errors look alike:
//   ringlab SUBCOMMAND: --port: '70000' is not a port (1-65535)       -> exit 2
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringlab::cli {

// Exit codes: 0 ok, 1 a run that failed (I/O, a peer), 2 bad input from the user.
inline constexpr int exit_ok = 0, exit_failure = 1, exit_usage = 2;

struct option {
  std::string name;        // without the leading "--"
  std::string value_name;  // empty: a flag that takes no value
  std::string help;
  std::string default_value = {};
  bool repeatable = false;
};

// Thrown by the parser and by value conversions; main() prints "ringlab CMD: what" and exits 2.
struct usage_error {
  std::string what;
};

class args {
 public:
  // Parses argv against the options; positional arguments are kept in order.
  args(std::string_view command, const std::vector<option>& opts, int argc, char** argv);

  bool help() const noexcept { return help_; }
  bool has(std::string_view name) const;
  std::string str(std::string_view name) const;                    // value or default ("" if none)
  std::vector<std::string> all(std::string_view name) const;       // every value of a repeatable option
  std::optional<std::string> get(std::string_view name) const;
  // Checked conversions: a usage_error names the option and the value.
  std::uint64_t u64(std::string_view name, std::uint64_t lo = 0, std::uint64_t hi = UINT64_MAX) const;
  double real(std::string_view name, double lo, double hi) const;
  const std::vector<std::string>& positional() const noexcept { return pos_; }

 private:
  std::string cmd_;
  const std::vector<option>* opts_;
  std::multimap<std::string, std::string, std::less<>> vals_;
  std::vector<std::string> pos_;
  bool help_ = false;
};

std::string usage_text(std::string_view command, std::string_view synopsis, std::string_view description,
                       const std::vector<option>& opts);

struct command {
  std::string name;
  std::string summary;
  std::function<int(int argc, char** argv)> run;   // argv[0] is the subcommand's name
};

// Registers a subcommand at static-initialisation time: `static const cli::registration r{{...}};`
struct registration {
  explicit registration(command c);
};
const std::map<std::string, command, std::less<>>& commands();

}  // namespace ringlab::cli
