#pragma once
// The `ringlab` command line: subcommands register themselves (one cmd_*.cpp each), and share one
// small option parser so that every subcommand's --help and errors look alike:
//   ringlab SUBCOMMAND: --port: '70000' is not a port (1-65535)       -> exit 2
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ringlab::cli {

// Exit codes, one convention for every subcommand (exit_codes_help says it to the user):
// 0 done, 1 the run started and failed, 2 usage or bad input (nothing was run).
inline constexpr int exit_ok = 0, exit_failure = 1, exit_usage = 2;
extern const char* const exit_codes_help;   // the paragraph `ringlab help` and every --help print

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
  // At most `max` positional arguments: the ones past it are a usage_error naming each of them and
  // saying what the command takes (`hint`, default "options only"). A stray word is never ignored:
  // `mcast-send --group G lines.txt` must not read standard input.
  void expect_positional(std::size_t max, std::string_view hint = "") const;
  // Options that do not apply in this run: any of `names` given is a usage_error
  // "--NAME does not apply to CONTEXT" (an option is never ignored silently).
  void refuse(std::initializer_list<std::string_view> names, std::string_view context) const;

 private:
  std::string cmd_;
  const std::vector<option>* opts_;
  std::multimap<std::string, std::string, std::less<>> vals_;
  std::vector<std::string> pos_;
  bool help_ = false;
};

// An output file named by --OPTION: checks up front that it can be created (bad input, exit 2,
// before any work), and writes it checking every step (a failed write, e.g. a full disk: the run
// failed, exit 1). Both throw, naming the option, the path and the reason.
void check_output(std::string_view option, const std::string& path);
// The directory `path` would be made in exists (a trailing '/' names the directory itself), else a
// usage_error "--OPTION: cannot create 'PATH': no directory 'DIR'": an output's parents are never made.
void check_parent_dir(std::string_view option, const std::string& path);
void write_output(std::string_view option, const std::string& path, std::string_view text);
// The same written piece by piece (an output too big to hold: trace replay's --save-events). Each
// failure throws as write_output's does; close() reports a late one.
class output_file {
 public:
  output_file(std::string_view option, const std::string& path);
  ~output_file();
  output_file(const output_file&) = delete;
  output_file& operator=(const output_file&) = delete;
  void write(std::string_view text);
  void close();

 private:
  std::runtime_error fail(int err) const;
  std::string option_, path_;
  int fd_ = -1;
};

// SIGINT/SIGTERM/SIGHUP set a flag instead of ending the process (no SA_RESTART: a blocking poll or
// read returns EINTR). For loops that have no event loop of their own to watch signals.
void catch_interrupts();
int interrupted() noexcept;   // the signal that came, 0 if none

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
