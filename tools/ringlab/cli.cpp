#include "tools/ringlab/cli.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <sstream>
#include <stdexcept>

namespace ringlab::cli {

namespace {
std::map<std::string, command, std::less<>>& table() {
  static std::map<std::string, command, std::less<>> t;
  return t;
}
}  // namespace

const char* const exit_codes_help =
    "exit status (every command):\n"
    "  0  done\n"
    "  1  the run failed: a send, receive or write failed (a full disk), frames leaked, --count not\n"
    "     reached, a signal cut the input short, a replayed pcap cut mid-record (after its counters)\n"
    "  2  usage or bad input, nothing was run: an unknown option, a bad value, a stray argument, an\n"
    "     option that does not apply, an input file that cannot be read, an output that cannot be created,\n"
    "     a server's port already in use\n";

registration::registration(command c) { table().emplace(c.name, std::move(c)); }
const std::map<std::string, command, std::less<>>& commands() { return table(); }

args::args(std::string_view command, const std::vector<option>& opts, int argc, char** argv)
    : cmd_(command), opts_(&opts) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") { help_ = true; continue; }
    if (a == "--") { for (++i; i < argc; ++i) pos_.emplace_back(argv[i]); break; }
    if (a.size() > 2 && a.substr(0, 2) == "--") {
      std::string_view name = a.substr(2), value;
      bool has_eq = false;
      if (auto eq = name.find('='); eq != std::string_view::npos) {
        value = name.substr(eq + 1); name = name.substr(0, eq); has_eq = true;
      }
      const option* o = nullptr;
      for (const auto& x : opts) if (x.name == name) o = &x;
      if (!o) throw usage_error{"unknown option '--" + std::string(name) + "' (see --help)"};
      if (o->value_name.empty()) {
        if (has_eq) throw usage_error{"--" + o->name + " takes no value"};
        vals_.emplace(o->name, "1");
        continue;
      }
      if (!has_eq) {
        if (i + 1 >= argc) throw usage_error{"--" + o->name + " needs a value (" + o->value_name + ")"};
        value = argv[++i];
      }
      if (!o->repeatable && vals_.count(o->name))
        throw usage_error{"--" + o->name + " given twice"};
      vals_.emplace(o->name, std::string(value));
      continue;
    }
    pos_.emplace_back(a);
  }
}

bool args::has(std::string_view name) const { return vals_.find(name) != vals_.end(); }

std::optional<std::string> args::get(std::string_view name) const {
  if (auto it = vals_.find(name); it != vals_.end()) return it->second;
  for (const auto& o : *opts_)
    if (o.name == name && !o.default_value.empty()) return o.default_value;
  return std::nullopt;
}

std::string args::str(std::string_view name) const { return get(name).value_or(""); }

std::vector<std::string> args::all(std::string_view name) const {
  std::vector<std::string> out;
  auto [b, e] = vals_.equal_range(name);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

std::uint64_t args::u64(std::string_view name, std::uint64_t lo, std::uint64_t hi) const {
  const std::string v = str(name);
  std::uint64_t x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (v.empty() || ec != std::errc{} || p != v.data() + v.size() || x < lo || x > hi) {
    std::ostringstream os;
    os << "--" << name << ": '" << v << "' is not a whole number in " << lo << ".." << hi;
    throw usage_error{os.str()};
  }
  return x;
}

double args::real(std::string_view name, double lo, double hi) const {
  const std::string v = str(name);
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || end != v.c_str() + v.size() || !(x >= lo && x <= hi)) {
    std::ostringstream os;
    os << std::setprecision(15) << "--" << name << ": '" << v << "' is not a number in " << lo << ".." << hi;   // 1000000, not 1e+06
    throw usage_error{os.str()};
  }
  return x;
}

void args::expect_positional(std::size_t max, std::string_view what) const {
  if (pos_.size() <= max) return;
  std::string extra;
  for (std::size_t i = max; i < pos_.size(); ++i) extra += (extra.empty() ? "'" : " '") + pos_[i] + "'";
  throw usage_error{(pos_.size() - max == 1 ? "unexpected argument " : "unexpected arguments ") + extra + " (" +
                    (what.empty() ? std::string("options only") : std::string(what)) + "; see --help)"};
}

void args::refuse(std::initializer_list<std::string_view> names, std::string_view context) const {
  for (auto n : names)
    if (has(n)) throw usage_error{"--" + std::string(n) + " does not apply to " + std::string(context)};
}

void check_parent_dir(std::string_view option, const std::string& path) {
  const std::filesystem::path p(path);
  auto dir = p.has_filename() ? p.parent_path() : p.parent_path().parent_path();   // "a/b/": a/b's parent
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw usage_error{"--" + std::string(option) + ": cannot create '" + path + "': no directory '" + dir.string() + "'"};
}

void check_output(std::string_view option, const std::string& path) {
  const std::string where = "--" + std::string(option) + ": cannot create '" + path + "': ";
  if (path.empty()) throw usage_error{"--" + std::string(option) + " needs a file name"};
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (std::filesystem::is_directory(st)) throw usage_error{where + std::strerror(EISDIR)};
  const bool existed = std::filesystem::exists(st);
  if (!existed) check_parent_dir(option, path);
  // A FIFO is opened by its reader's side of the pipe (tshark -i FIFO): opening it here would fail
  // (no reader yet) or block. Its permission bits are the check.
  if (std::filesystem::is_fifo(st)) {
    if (::access(path.c_str(), W_OK) != 0) throw usage_error{where + std::strerror(errno)};
    return;
  }
  // Not access(2): root passes it on /proc and on a read-only file, and the open later failed with a
  // message of its own. Opened as the run will open it: an existing file without truncating it, a
  // new one created and removed again.
  const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | (existed ? 0 : O_CREAT | O_EXCL), 0644);
  if (fd < 0) throw usage_error{where + std::strerror(errno)};
  ::close(fd);
  if (!existed) ::unlink(path.c_str());
}

std::runtime_error output_file::fail(int err) const {
  return std::runtime_error("--" + option_ + ": writing '" + path_ + "' failed: " + std::strerror(err));
}

output_file::output_file(std::string_view option, const std::string& path) : option_(option), path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw fail(errno);
}

output_file::~output_file() {
  if (fd_ >= 0) ::close(fd_);
}

void output_file::write(std::string_view text) {
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw fail(n < 0 ? errno : EIO);
    done += static_cast<std::size_t>(n);
  }
}

void output_file::close() {
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) throw fail(errno);   // NFS and friends report late
}

void write_output(std::string_view option, const std::string& path, std::string_view text) {
  output_file f(option, path);
  f.write(text);
  f.close();
}

namespace {
std::atomic<int> caught_signal{0};
extern "C" void on_interrupt(int signo) { caught_signal.store(signo, std::memory_order_relaxed); }
}  // namespace

void catch_interrupts() {
  struct sigaction sa{};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;   // no SA_RESTART: poll()/read() return EINTR and the loop looks at the flag
  for (int s : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(s, &sa, nullptr);
}

int interrupted() noexcept { return caught_signal.load(std::memory_order_relaxed); }

std::string usage_text(std::string_view command, std::string_view synopsis, std::string_view description,
                       const std::vector<option>& opts) {
  std::ostringstream os;
  os << "usage: ringlab " << command << ' ' << synopsis << "\n\n" << description << "\n\noptions:\n";
  for (const auto& o : opts) {
    // A value_name in brackets is an optional "=VALUE" (`--stats[=SECONDS]`): written joined.
    const char* gap = o.value_name.empty() || o.value_name[0] == '[' ? "" : " ";
    std::string left = "  --" + o.name + gap + o.value_name;
    os << left;
    if (left.size() < 26) os << std::string(26 - left.size(), ' '); else os << "\n" << std::string(26, ' ');
    os << o.help;
    if (!o.default_value.empty()) os << " (default " << o.default_value << ")";
    if (o.repeatable) os << " (repeatable)";
    os << '\n';
  }
  os << "  --help                  this text\n\n" << exit_codes_help;
  return os.str();
}

}  // namespace ringlab::cli
