// ringlab repro: a bundle that reproduces a sim run, and the check that it still does.
//   ringlab repro record [--out DIR] [--every N] [--force] [--allow-failure] -- COMMAND [ARGS...]
//   ringlab repro check [--cwd DIR] BUNDLE
// record runs `ringlab COMMAND ARGS...` (replay, demo, mcast-recv, trace replay, tcp-echo client
// --backend sim: anything on sim_nic's virtual clock) with every trace event logged
// (trace/repro_log.hpp), and writes DIR/bundle.txt: the command line, the working directory, the
// SHA-256 of every file the arguments name (the trace, a copy of it in DIR/inputs/), the seed, this
// build's git revision, build type, sanitizer, planted bugs and compiler, the exit status, and the
// hash of the event stream at a checkpoint every N events; DIR/events.bin holds the events themselves.
// check re-runs the bundle's command with this binary and reports the first checkpoint whose hash
// differs, naming the event, its packet and its hop on both sides. docs/repro.md says how to use it.
#include <fcntl.h>
#include <linux/fs.h>
#include <openssl/evp.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "ringlab_revision.hpp"   // generated at build time: RINGLAB_GIT_REVISION (cmake/git_revision.cmake)
#include "tools/ringlab/cli.hpp"
#include "trace/packet_id.hpp"
#include "trace/repro_log.hpp"

#ifndef RINGLAB_BUILD_KIND
#define RINGLAB_BUILD_KIND "unknown"
#endif
#ifndef RINGLAB_BUILD_SANITIZER
#define RINGLAB_BUILD_SANITIZER "none"
#endif
#ifndef RINGLAB_BUILD_PLANTED
#define RINGLAB_BUILD_PLANTED "none"
#endif

namespace {

namespace cli = ringlab::cli;
namespace fs = std::filesystem;
namespace tr = ringlab::trace;

constexpr const char* format_line = "ringlab-repro 1";
constexpr const char* inputs_dir = "inputs";

// What changes behaviour is in it: the build type, the sanitizer, the planted bugs (docs/repro.md), so
// a bundle recorded or checked on a planted binary says so on its "recorded on"/"checked on" line.
std::string build_id() {
  std::string c;
#if defined(__clang__)
  c = "clang " __clang_version__;
#elif defined(__GNUC__)
  c = "gcc " __VERSION__;
#endif
  return std::string(RINGLAB_BUILD_KIND) + ", sanitizer " + RINGLAB_BUILD_SANITIZER + ", planted bugs " +
         RINGLAB_BUILD_PLANTED + ", " + c;
}

// Text from a file that may be anything (a damaged bundle): printable ASCII as is, the rest as \xNN,
// at most `max` bytes of it.
std::string escaped(std::string_view s, std::size_t max = 40) {
  std::string o;
  char b[5];
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') o += static_cast<char>(c);
    else std::snprintf(b, sizeof b, "\\x%02x", c), o += b;
  }
  if (s.size() > max) o += "... (" + std::to_string(s.size()) + " bytes)";
  return o;
}

// SHA-256 of a file (OpenSSL's EVP), as hex; empty when it cannot be read.
std::string sha256_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return {};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx, buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx, md, &n);
  EVP_MD_CTX_free(ctx);
  std::string hex;
  char b[3];
  for (unsigned int i = 0; i < n; ++i) std::snprintf(b, sizeof b, "%02x", md[i]), hex += b;
  return hex;
}

// The seed a command runs with, as bundle.txt's seed line says it: --seed's value ("default" when not
// given), or a --faults spec's seed=N, which wins for the faults (port/fault_line.hpp).
std::string seed_of(const std::vector<std::string>& cmd) {
  std::string seed = "default";
  auto value = [&](std::size_t i, const std::string& name) -> std::optional<std::string> {
    if (cmd[i] == name && i + 1 < cmd.size()) return cmd[i + 1];
    if (cmd[i].starts_with(name + "=")) return cmd[i].substr(name.size() + 1);
    return std::nullopt;
  };
  for (std::size_t i = 1; i < cmd.size(); ++i) {
    if (auto v = value(i, "--seed")) seed = *v;
    if (auto v = value(i, "--faults")) {
      const std::string spec = "," + *v + ",";
      if (const auto at = spec.find(",seed="); at != std::string::npos)
        seed = spec.substr(at + 6, spec.find(',', at + 6) - at - 6) + " (--faults)";
    }
  }
  return seed;
}

// Only runs on the simulated NIC's virtual clock replay the same; refuse the rest up front.
void refuse_unreproducible(const std::vector<std::string>& c) {
  static const std::vector<std::string> ok = {"replay", "demo", "mcast-recv", "trace", "tcp-echo"};
  if (std::find(ok.begin(), ok.end(), c[0]) == ok.end())
    throw cli::usage_error{"'" + c[0] + "' is not a sim command: replay, demo, mcast-recv, trace replay and "
                           "tcp-echo client --backend sim are"};
  if (c[0] == "trace" && (c.size() < 2 || c[1] != "replay"))
    throw cli::usage_error{"'trace " + (c.size() > 1 ? c[1] : std::string()) + "' runs the kernel or real time: only 'trace replay' reproduces"};
  // Options as `--name value` or `--name=value`.
  std::vector<std::pair<std::string, std::string>> opts;
  for (std::size_t i = 1; i < c.size(); ++i) {
    if (const auto eq = c[i].find('='); c[i].starts_with("--") && eq != std::string::npos)
      opts.emplace_back(c[i].substr(0, eq), c[i].substr(eq + 1));
    else if (i + 1 < c.size())
      opts.emplace_back(c[i], c[i + 1]);
  }
  for (const auto& [k, v] : opts)
    if ((k == "--backend" && v != "sim") || (k == "--clock" && v != "virtual"))
      throw cli::usage_error{k + " " + v + " does not run on the simulated NIC's virtual clock: it cannot reproduce"};
  // tcp-echo's default backend is the kernel's TCP: only its sim mode (both hosts in one process, on
  // sim_pair's virtual clock, one thread) replays the same.
  if (c[0] == "tcp-echo") {
    const bool sim = std::find(opts.begin(), opts.end(), std::pair<std::string, std::string>{"--backend", "sim"}) != opts.end();
    if (c.size() < 2 || c[1] != "client" || !sim)
      throw cli::usage_error{"'tcp-echo' reproduces as 'tcp-echo client --backend sim' only (Linux TCP and real "
                             "NICs do not replay the same)"};
  }
}

// Where record keeps the k-th input's copy, relative to the bundle's directory.
fs::path input_copy(std::size_t k, const std::string& arg) {
  return fs::path(inputs_dir) / (std::to_string(k + 1) + "-" + fs::path(arg).filename().string());
}

// Copies a file's bytes to a new file: a reflink where the file system shares extents (FICLONE: no
// bytes move, yet the copy is its own file: a write to either leaves the other), else
// copy_file_range (in the kernel, no round trip through user space), else read/write. Empty on success,
// else why not.
std::string copy_bytes(const fs::path& from, const fs::path& to) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return std::strerror(errno);
  const int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out < 0) {
    const int e = errno;
    ::close(in);
    return std::strerror(e);
  }
  std::string err;
  if (::ioctl(out, FICLONE, in) != 0) {
    bool fallback = false;
    for (;;) {
      const ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, std::size_t{1} << 30, 0);
      if (n == 0) break;
      if (n > 0) continue;
      if (errno == EINTR) continue;
      if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) fallback = true;
      else err = std::strerror(errno);
      break;
    }
    // copy_file_range refused before writing anything (an old kernel, another file system kind):
    // plain reads and writes from where it stopped.
    std::vector<char> buf(fallback ? std::size_t{1} << 16 : 0);
    while (fallback) {
      const ssize_t n = ::read(in, buf.data(), buf.size());
      if (n == 0) break;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) { err = std::strerror(errno); break; }
      for (ssize_t w = 0; w < n;) {
        const ssize_t m = ::write(out, buf.data() + w, static_cast<std::size_t>(n - w));
        if (m < 0 && errno == EINTR) continue;
        if (m < 0) { err = std::strerror(errno); fallback = false; break; }
        w += m;
      }
    }
  }
  ::close(in);
  if (::close(out) != 0 && err.empty()) err = std::strerror(errno);
  return err;
}

// What a bundle holds (bundle.txt), as written and read back.
struct bundle {
  struct input {
    std::size_t arg = 0;                          // its index in args
    std::string sha256;
  };
  std::vector<std::string> args;                  // the ringlab subcommand and its arguments
  std::string cwd, seed = "default", revision, build;
  std::vector<input> files;                       // arguments naming an input file
  int exit_status = 0;
  std::uint64_t every = 0, events = 0, final_hash = 0;
  std::vector<std::uint64_t> checkpoints;         // hash after events every, 2*every, ...
  // Where read_bundle found them in bundle.txt (1-based), so a check that fails names the line.
  int every_line = 0, events_line = 0, final_line = 0, exit_line = 0;
  std::vector<int> checkpoint_lines;
};

// bundle.txt's numbers exactly as record writes them: decimal digits only (no sign, no space, nothing
// after), hashes 16 lower-case hex digits. std::stoull would take " 12x" as 12: an edit it hides.
std::optional<std::uint64_t> decimal_of(std::string_view v) {
  if (v.empty() || v.size() > 20 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  std::uint64_t n = 0;
  for (char c : v) {
    if (n > (UINT64_MAX - static_cast<std::uint64_t>(c - '0')) / 10) return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}
std::optional<std::uint64_t> hash_of(std::string_view v) {
  if (v.size() != 16) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : v) {
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return std::nullopt;
    n = n << 4 | static_cast<std::uint64_t>(d);
  }
  return n;
}

void write_bundle(const fs::path& dir, const bundle& b) {
  std::ostringstream o;
  o << format_line << "\n";
  for (const auto& a : b.args) o << "arg " << a << "\n";
  o << "cwd " << b.cwd << "\n" << "seed " << b.seed << "\n";
  for (const auto& f : b.files) o << "file " << f.sha256 << " " << b.args[f.arg] << "\n";
  o << "revision " << b.revision << "\n" << "build " << b.build << "\n" << "exit " << b.exit_status << "\n";
  o << "every " << b.every << "\n" << "events " << b.events << "\n";
  char h[17];
  for (std::size_t k = 0; k < b.checkpoints.size(); ++k) {
    std::snprintf(h, sizeof h, "%016" PRIx64, b.checkpoints[k]);
    o << "checkpoint " << (k + 1) * b.every << " " << h << "\n";
  }
  std::snprintf(h, sizeof h, "%016" PRIx64, b.final_hash);
  o << "final " << h << "\n";
  cli::write_output("out", (dir / "bundle.txt").string(), o.str());
}

// bundle.txt as record writes it, every line checked: a damaged or edited bundle is bad input (exit 2)
// naming the file and the line, before anything runs.
bundle read_bundle(const fs::path& dir) {
  const fs::path file = dir / "bundle.txt";
  std::ifstream in(file, std::ios::binary);
  if (!in) throw cli::usage_error{"'" + dir.string() + "' holds no bundle.txt (ringlab repro record writes one)"};
  bundle b;
  std::string line;
  int n = 0, seed_line = 0;
  bool final_seen = false;
  std::map<std::string, int> seen;
  // The lines record writes exactly once.
  static const char* const once[] = {"cwd", "seed", "revision", "build", "exit", "every", "events", "final"};
  auto bad = [&](const std::string& why) { return cli::usage_error{file.string() + ":" + std::to_string(n) + ": " + why}; };
  while (std::getline(in, line)) {
    ++n;
    if (n == 1) {
      if (line != format_line) throw bad("not a repro bundle (first line '" + escaped(line) + "')");
      continue;
    }
    if (final_seen) throw bad("a line after 'final' (the last line record writes)");
    const auto sp = line.find(' ');
    const std::string key = line.substr(0, sp), val = sp == std::string::npos ? "" : line.substr(sp + 1);
    if (std::find(std::begin(once), std::end(once), key) != std::end(once) && seen[key]++)
      throw bad("'" + key + "' given twice");
    auto number = [&](std::string_view v) {
      const auto x = decimal_of(v);
      if (!x) throw bad("bad value '" + escaped(val) + "'");
      return *x;
    };
    auto hash = [&](std::string_view v) {
      const auto x = hash_of(v);
      if (!x) throw bad("bad value '" + escaped(val) + "' (a hash is 16 lower-case hex digits)");
      return *x;
    };
    {
      if (key == "arg") b.args.push_back(val);
      else if (key == "cwd") b.cwd = val;
      else if (key == "seed") b.seed = val, seed_line = n;
      else if (key == "revision") b.revision = val;
      else if (key == "build") b.build = val;
      else if (key == "exit") {
        if (number(val) > 255) throw bad("bad value '" + escaped(val) + "' (an exit status is 0..255)");
        b.exit_status = static_cast<int>(number(val)), b.exit_line = n;
      } else if (key == "every") {
        b.every = number(val), b.every_line = n;
        if (b.every == 0) throw bad("every must be at least 1");
      } else if (key == "events") b.events = number(val), b.events_line = n;
      else if (key == "final") b.final_hash = hash(val), final_seen = true, b.final_line = n;
      else if (key == "file") {
        const auto s2 = val.find(' ');
        if (s2 == std::string::npos) throw bad("file needs a digest and a path");
        // The file is one of the arguments: check runs the command on the bundle's copy of it.
        std::size_t k = 1;
        while (k < b.args.size() && b.args[k] != val.substr(s2 + 1)) ++k;
        if (k >= b.args.size()) throw bad("file '" + escaped(val.substr(s2 + 1)) + "' is not one of the arguments");
        b.files.push_back({k, val.substr(0, s2)});
      } else if (key == "checkpoint") {
        const auto s2 = val.find(' ');
        if (s2 == std::string::npos) throw bad("checkpoint needs an event count and a hash");
        const std::uint64_t at = number(val.substr(0, s2)), want = (b.checkpoints.size() + 1) * b.every;
        if (b.every == 0) throw bad("a checkpoint before the 'every' line");
        if (at != want)
          throw bad("checkpoint " + std::to_string(at) + " where 'every " + std::to_string(b.every) + "' (line " +
                    std::to_string(b.every_line) + ") puts one at " + std::to_string(want) +
                    ": the checkpoints or the every line were edited");
        b.checkpoints.push_back(hash(val.substr(s2 + 1)));
        b.checkpoint_lines.push_back(n);
      } else {
        throw bad("unknown line '" + escaped(key) + "'");
      }
    }
  }
  if (n == 0) throw cli::usage_error{file.string() + " is empty"};
  if (!final_seen) throw bad("cut short: no 'final' line (record ends bundle.txt with it)");
  for (const char* k : once)
    if (!seen[k]) throw bad("no '" + std::string(k) + "' line");
  if (b.args.empty()) throw bad("no 'arg' line: the bundle names no command");
  // An edited command that would not reproduce is refused as record refuses it.
  try {
    refuse_unreproducible(b.args);
  } catch (const cli::usage_error& e) {
    throw cli::usage_error{file.string() + ": " + e.what};
  }
  if (b.checkpoints.size() != b.events / b.every)
    throw cli::usage_error{file.string() + ":" + std::to_string(b.events_line) + ": " + std::to_string(b.events) +
                           " events every " + std::to_string(b.every) + " make " + std::to_string(b.events / b.every) +
                           " checkpoints, the file has " + std::to_string(b.checkpoints.size())};
  // The seed line is derived from the command: a line that says otherwise was edited.
  if (const std::string s = seed_of(b.args); s != b.seed)
    throw cli::usage_error{file.string() + ":" + std::to_string(seed_line) + ": seed " + escaped(b.seed) +
                           " is not the command's (" + s + "): the bundle was edited or damaged"};
  return b;
}

// An events file read as a stream, 64 KiB at a time: a bundle of a several-GB trace is checked in the
// memory of a small one's. A bundle's events.bin (`bundle_input`: unreadable is bad input, exit 2) or a
// run's (a failed run, exit 1).
class events_reader {
 public:
  events_reader(const fs::path& p, bool bundle_input) : path_(p), bundle_input_(bundle_input) {
    std::error_code ec;
    const auto size = fs::file_size(p, ec);
    in_.open(p, std::ios::binary);
    if (!in_ || ec) fail("cannot be read" + (ec ? " (" + ec.message() + ")" : std::string()));
    if (size % sizeof(tr::repro_record) != 0)
      fail("cut short (" + std::to_string(size) + " bytes: not a whole number of 16-byte events)");
    count_ = size / sizeof(tr::repro_record);
  }
  std::uint64_t count() const { return count_; }
  // The next event, or nullptr after the last.
  const tr::repro_record* next() {
    if (at_ == got_) {
      if (read_ == count_) return nullptr;
      const std::uint64_t n = std::min<std::uint64_t>(buf_.size(), count_ - read_);
      in_.read(reinterpret_cast<char*>(buf_.data()), static_cast<std::streamsize>(n * sizeof(tr::repro_record)));
      if (!in_) fail("cannot be read");
      read_ += n, got_ = static_cast<std::size_t>(n), at_ = 0;
    }
    return &buf_[at_++];
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    if (bundle_input_) throw cli::usage_error{path_.string() + ": " + why};
    throw std::runtime_error(path_.string() + ": " + why);
  }
  fs::path path_;
  bool bundle_input_;
  std::ifstream in_;
  std::vector<tr::repro_record> buf_ = std::vector<tr::repro_record>(4096);
  std::uint64_t count_ = 0, read_ = 0;
  std::size_t at_ = 0, got_ = 0;
};

// The checkpoints of a run as it goes: the hash after every `every` events, and the final one.
struct checkpointer {
  bundle& b;
  std::uint64_t h = tr::repro_hash_seed;
  explicit checkpointer(bundle& to) : b(to) { b.checkpoints.clear(), b.events = 0, b.final_hash = h; }
  void add(const tr::repro_record& r) {
    h = tr::repro_hash(h, r);
    if (++b.events % b.every == 0) b.checkpoints.push_back(h);
    b.final_hash = h;
  }
};

void checkpoints_of(const fs::path& events, bool bundle_input, bundle& b) {
  events_reader in(events, bundle_input);
  checkpointer cp(b);
  while (const tr::repro_record* r = in.next()) cp.add(*r);
}

// Runs this binary with args, the events logged to events.bin in dir, output to dir/stdout.txt and
// dir/stderr.txt. Returns the exit status (128 + signal when killed).
int run_logged(const std::vector<std::string>& args, const fs::path& dir, const std::string& cwd) {
  const std::string out = fs::absolute(dir / "stdout.txt").string(), err = fs::absolute(dir / "stderr.txt").string();
  const std::string events = fs::absolute(dir / "events.bin").string();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || e < 0 || ::dup2(o, 1) < 0 || ::dup2(e, 2) < 0 || (!cwd.empty() && ::chdir(cwd.c_str()) != 0)) ::_exit(127);
    ::setenv(tr::repro_events_env, events.c_str(), 1);
    std::vector<char*> argv;
    std::string self = "ringlab";
    argv.push_back(self.data());
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv("/proc/self/exe", argv.data());
    ::_exit(127);
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0) {}
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::string hop_name(std::uint8_t h) { return std::string(tr::to_string(static_cast<tr::hop>(h))); }

// Event i of a run, named for a person: its packet (trace/packet_id.hpp: a replayed trace's packet
// number, a frame a stack sent by its stack and number there, a frame that came over a sim wire without
// an id by its number there), its hop, verdict, reason and queue.
std::string describe(const tr::repro_record& r) {
  std::string s = tr::describe_packet(r.packet_id);
  s += " hop " + hop_name(r.stage) + " (" + std::string(tr::to_string(static_cast<tr::verdict>(r.v)));
  if (r.reason) s += " " + std::string(tr::to_string(static_cast<tr::drop_reason>(r.reason)));
  return s + ", queue " + std::to_string(r.queue) + ")";
}

// The last lines of a file, each indented, for a failed command's standard error.
std::string tail_of(const fs::path& p, std::size_t lines) {
  std::ifstream in(p, std::ios::binary);
  std::vector<std::string> v;
  for (std::string l; std::getline(in, l);) v.push_back(l);
  std::string o;
  for (std::size_t i = v.size() > lines ? v.size() - lines : 0; i < v.size(); ++i) o += "  | " + escaped(v[i], 200) + "\n";
  return o;
}

int record(const cli::args& a, const std::vector<std::string>& cmd) {
  refuse_unreproducible(cmd);
  const fs::path dir = a.has("out") ? fs::path(a.str("out")) : fs::path("repro-" + cmd[0]);
  std::error_code ec;
  if (fs::exists(dir / "bundle.txt", ec)) {
    if (!a.has("force")) throw cli::usage_error{dir.string() + " holds a bundle; --force to replace it"};
    for (const char* f : {"bundle.txt", "events.bin", "stdout.txt", "stderr.txt"}) fs::remove(dir / f, ec);
    fs::remove_all(dir / inputs_dir, ec);
    fs::remove_all(dir / "check", ec);
  }
  const bool created = !fs::exists(dir, ec);
  // Its files would overwrite a directory's own (and go when the command fails): only a new or empty one.
  if (!created && fs::is_directory(dir, ec) && !fs::is_empty(dir, ec))
    throw cli::usage_error{dir.string() + " is not empty and holds no bundle: --out needs a new or empty directory"};
  // The bundle's own directory is made, not its parents (as every other --out: a typo in the path is
  // refused, not built into a tree).
  if (created) cli::check_parent_dir("out", dir.string());
  fs::create_directory(dir, ec);
  if (ec) throw cli::usage_error{"--out: cannot create '" + dir.string() + "': " + ec.message()};
  bundle b;
  b.args = cmd;
  b.cwd = fs::current_path().string();
  b.every = a.u64("every", 1, std::uint64_t{1} << 32);
  b.revision = RINGLAB_GIT_REVISION;
  b.build = build_id();
  b.seed = seed_of(cmd);
  for (std::size_t i = 1; i < cmd.size(); ++i) {
    if (!fs::is_regular_file(cmd[i], ec)) continue;
    if (std::any_of(b.files.begin(), b.files.end(), [&](const bundle::input& f) { return cmd[f.arg] == cmd[i]; })) continue;
    b.files.push_back({i, sha256_of(cmd[i])});
  }
  const int status = run_logged(cmd, dir, "");
  // Nothing of a run that failed or logged nothing is kept: a bundle is always one that checks.
  auto discard = [&](const std::string& why) {
    const std::string err = tail_of(dir / "stderr.txt", 10);
    for (const char* f : {"events.bin", "stdout.txt", "stderr.txt"}) fs::remove(dir / f, ec);
    if (created) fs::remove(dir, ec);
    std::fprintf(stderr, "ringlab repro: %s: no bundle written\n%s", why.c_str(),
                 err.empty() ? "" : ("its standard error ended with:\n" + err).c_str());
    return status == cli::exit_usage ? cli::exit_usage : cli::exit_failure;
  };
  if (status != 0 && !a.has("allow-failure"))
    return discard("the command failed (exit " + std::to_string(status) + "; --allow-failure records a failing run)");
  b.exit_status = status;
  checkpoints_of(dir / "events.bin", false, b);
  if (b.events == 0) return discard("the command recorded no trace events");
  // An input the command changed was its output (an existing --tap file, say): not an input.
  std::erase_if(b.files, [&](const bundle::input& f) { return sha256_of(cmd[f.arg]) != f.sha256; });
  // Each input travels with the bundle as a copy of its bytes, never a link: the original may be
  // regenerated or edited (traces/README), and the bundle must still hold what ran.
  for (std::size_t k = 0; k < b.files.size(); ++k) {
    const fs::path to = dir / input_copy(k, cmd[b.files[k].arg]);
    fs::create_directories(to.parent_path(), ec);
    if (const std::string err = copy_bytes(cmd[b.files[k].arg], to); !err.empty())
      throw std::runtime_error("cannot copy " + cmd[b.files[k].arg] + " to " + to.string() + ": " + err);
  }
  write_bundle(dir, b);
  const std::string inputs = b.files.empty() ? "" : ", " + std::to_string(b.files.size()) + " input file" +
                                                         (b.files.size() == 1 ? "" : "s") + " in " + (dir / inputs_dir).string();
  std::printf("recorded %s: %" PRIu64 " events, %zu checkpoints (every %" PRIu64 "), final hash %016" PRIx64
              ", exit %d%s\ncheck it with: ringlab repro check %s\n",
              dir.string().c_str(), b.events, b.checkpoints.size(), b.every, b.final_hash, b.exit_status, inputs.c_str(),
              dir.string().c_str());
  return cli::exit_ok;
}

int check(fs::path dir, const std::optional<std::string>& cwd_opt) {
  std::error_code ec;
  if (fs::is_regular_file(dir, ec)) {
    if (dir.filename() != "bundle.txt")
      throw cli::usage_error{"'" + dir.string() + "' is a file: check takes the bundle's directory (or its bundle.txt)"};
    dir = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
  }
  const bundle want = read_bundle(dir);
  std::string cmd;
  for (const auto& s : want.args) cmd += (cmd.empty() ? "" : " ") + s;
  std::printf("bundle:   ringlab %s (seed %s)\n  recorded on %s, %s\n  checked on  %s, %s\n", cmd.c_str(), want.seed.c_str(),
              want.revision.c_str(), want.build.c_str(), RINGLAB_GIT_REVISION, build_id().c_str());
  // Where to run: --cwd, else the recorded directory, else (another machine) the bundle's own, where
  // its copies of the inputs are.
  std::string cwd = want.cwd;
  if (cwd_opt) {
    if (!fs::is_directory(*cwd_opt, ec)) throw cli::usage_error{"--cwd: '" + *cwd_opt + "' is not a directory"};
    cwd = *cwd_opt;
  } else if (!fs::is_directory(cwd, ec)) {
    for (std::size_t k = 0; k < want.files.size(); ++k)
      if (!fs::exists(dir / input_copy(k, want.args[want.files[k].arg]), ec))
        throw cli::usage_error{"working directory " + want.cwd + " (recorded) does not exist here and the bundle has no copy of " +
                               want.args[want.files[k].arg] + "; run with --cwd DIR"};
    std::printf("  working directory %s (recorded) does not exist here: running in %s\n", want.cwd.c_str(),
                fs::absolute(dir).string().c_str());
    cwd = fs::absolute(dir).string();
  }
  // The inputs first: a different trace cannot give the same run, and saying so beats a hash diff. The
  // command runs on the bundle's copy when it has one, else on the file where it was recorded.
  std::vector<std::string> args = want.args;
  for (std::size_t k = 0; k < want.files.size(); ++k) {
    const std::string& f = want.args[want.files[k].arg];
    const fs::path copy = dir / input_copy(k, f);
    const bool have_copy = fs::exists(copy, ec);
    const fs::path p = have_copy ? fs::absolute(copy) : fs::path(f).is_absolute() ? fs::path(f) : fs::path(cwd) / f;
    const std::string now = sha256_of(p);
    if (now.empty())
      throw cli::usage_error{"input " + f + " cannot be read (" + p.string() + (have_copy ? "" : ": the bundle has no copy") + ")"};
    if (now != want.files[k].sha256) {
      std::printf("DIFFERS: input %s changed (sha256 %s, bundle %s%s): the run cannot be the same\n", f.c_str(), now.c_str(),
                  want.files[k].sha256.c_str(), have_copy ? ("; in " + copy.string()).c_str() : "");
      return cli::exit_failure;
    }
    args[want.files[k].arg] = p.string();
  }
  bundle rec = want;
  checkpoints_of(dir / "events.bin", true, rec);
  const std::string bundle_txt = (dir / "bundle.txt").string();
  if (rec.events != want.events)
    throw cli::usage_error{(dir / "events.bin").string() + " holds " + std::to_string(rec.events) + " events, " + bundle_txt +
                           ":" + std::to_string(want.events_line) + " says " + std::to_string(want.events) +
                           ": the bundle is damaged"};
  // The first line whose hash the events do not give: an edited line, or events.bin changed from there.
  auto hex = [](std::uint64_t h) {
    char b[17];
    std::snprintf(b, sizeof b, "%016" PRIx64, h);
    return std::string(b);
  };
  for (std::size_t k = 0; k < want.checkpoints.size(); ++k)
    if (rec.checkpoints[k] != want.checkpoints[k])
      throw cli::usage_error{bundle_txt + ":" + std::to_string(want.checkpoint_lines[k]) + ": checkpoint " +
                             std::to_string((k + 1) * want.every) + " " + hex(want.checkpoints[k]) + ", " +
                             (dir / "events.bin").string() + " gives " + hex(rec.checkpoints[k]) + ": the bundle is damaged"};
  if (rec.final_hash != want.final_hash)
    throw cli::usage_error{bundle_txt + ":" + std::to_string(want.final_line) + ": final " + hex(want.final_hash) + ", " +
                           (dir / "events.bin").string() + " gives " + hex(rec.final_hash) + ": the bundle is damaged"};
  const fs::path rerun = dir / "check";
  fs::create_directories(rerun, ec);
  if (ec) throw std::runtime_error("cannot create " + rerun.string() + ": " + ec.message());
  const int status = run_logged(args, rerun, cwd);
  // A command that refuses its arguments (edited into one: record never writes a bundle of a refusal
  // unless --allow-failure kept it) is bad input, as record's refusal is: exit 2, with what it said.
  if (status == cli::exit_usage && want.exit_status != cli::exit_usage)
    throw cli::usage_error{bundle_txt + ": the command refused its arguments (exit 2); its standard error ended with:\n" +
                           tail_of(rerun / "stderr.txt", 10) + "(output in " + rerun.string() + ")"};
  // Both event files side by side, as streams: the first event that differs, and the one before it.
  events_reader recorded(dir / "events.bin", true), now(rerun / "events.bin", false);
  bundle got = want;
  checkpointer cp(got);
  std::uint64_t i = 0;
  tr::repro_record last{};
  const tr::repro_record *r = nullptr, *n = nullptr;
  for (;; ++i) {
    r = recorded.next(), n = now.next();
    if (!r || !n || !(*r == *n)) break;
    cp.add(*n);
    last = *n;
  }
  if (!r && !n) {
    // One verdict: the same events with another exit status is a difference.
    if (status != want.exit_status) {
      std::printf("DIFFERS: exit status %d, bundle %d (%s:%d); the events are the same: %" PRIu64
                  " events, final hash %016" PRIx64 " (output in %s)\n",
                  status, want.exit_status, bundle_txt.c_str(), want.exit_line, got.events, got.final_hash,
                  rerun.string().c_str());
      return cli::exit_failure;
    }
    std::printf("SAME: %" PRIu64 " events, %zu checkpoints, final hash %016" PRIx64 ", exit %d\n", got.events,
                got.checkpoints.size(), got.final_hash, status);
    return cli::exit_ok;
  }
  // Event i is the first that differs: it lies under checkpoint i / every + 1.
  const std::uint64_t cp_no = i / want.every + 1;
  std::printf("DIFFERS at checkpoint %" PRIu64 " (events %" PRIu64 "..%" PRIu64 "): first at event %" PRIu64 "\n", cp_no,
              (cp_no - 1) * want.every, cp_no * want.every - 1, i);
  std::printf("  bundle:   %s\n", r ? describe(*r).c_str() : "(no more events: the run ended)");
  std::printf("  this run: %s\n", n ? describe(*n).c_str() : "(no more events: the run ended)");
  if (i > 0) std::printf("  last event in common: %s\n", describe(last).c_str());
  std::printf("  events: bundle %" PRIu64 ", this run %" PRIu64 "; exit: bundle %d, this run %d (output in %s)\n",
              recorded.count(), now.count(), want.exit_status, status, rerun.string().c_str());
  return cli::exit_failure;
}

int run(int argc, char** argv) {
  const std::vector<cli::option> opts = {
      {"out", "DIR", "record: the bundle's directory (default repro-COMMAND)"},
      {"every", "N", "record: a checkpoint hash every N trace events", "1000"},
      {"force", "", "record: replace the bundle DIR holds"},
      {"allow-failure", "", "record: write the bundle of a command that exits non-zero (a failing run to reproduce)"},
      {"cwd", "DIR", "check: run the command in DIR (default: the recorded directory, else the bundle's)"},
  };
  cli::args a("repro", opts, argc, argv);
  if (a.help()) {
    std::fputs(cli::usage_text("repro",
                               "record [--out DIR] [--every N] [--force] [--allow-failure] -- COMMAND [ARGS...]\n"
                               "       ringlab repro check [--cwd DIR] BUNDLE",
                               "record runs `ringlab COMMAND ARGS...` (replay, demo, mcast-recv, trace replay, tcp-echo\n"
                               "client --backend sim: sim runs on the virtual clock) with every trace event logged and\n"
                               "writes a bundle: the command, the SHA-256 of the files it reads (and a copy of each, so\n"
                               "the bundle checks on another machine), the seed, this build's git revision and build\n"
                               "(type, sanitizer, planted bugs), and the event hash at a checkpoint every N events. A\n"
                               "command that fails writes no bundle. check re-runs a bundle (its directory or its\n"
                               "bundle.txt) and prints SAME, or the first checkpoint whose hash differs with the event,\n"
                               "its packet and its hop (exit 1); a damaged or edited bundle is bad input (exit 2).\n"
                               "docs/repro.md.",
                               opts)
                   .c_str(),
               stdout);
    return cli::exit_ok;
  }
  const auto& pos = a.positional();
  if (pos.empty()) throw cli::usage_error{"record or check is missing (see --help)"};
  if (pos[0] == "record") {
    a.refuse({"cwd"}, "record");
    bool dashes = false;
    for (int i = 0; i < argc; ++i) dashes |= std::string(argv[i]) == "--";
    if (!dashes || pos.size() < 2) throw cli::usage_error{"record needs the command after '--': ringlab repro record -- replay FILE ..."};
    return record(a, std::vector<std::string>(pos.begin() + 1, pos.end()));
  }
  if (pos[0] == "check") {
    a.refuse({"out", "every", "force", "allow-failure"}, "check");
    a.expect_positional(2, "check BUNDLE");
    if (pos.size() < 2) throw cli::usage_error{"check needs the bundle's directory"};
    return check(pos[1], a.get("cwd"));
  }
  throw cli::usage_error{"'" + pos[0] + "' is not record or check"};
}

const cli::registration reg{{"repro", "record a sim run as a bundle, and check that it reproduces", run}};

}  // namespace
