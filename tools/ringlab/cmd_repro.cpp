// ringlab repro: a bundle that reproduces a sim run, and the check that it still does.
//   ringlab repro record [--out DIR] [--every N] -- COMMAND [ARGS...]
//   ringlab repro check BUNDLE
// record runs `ringlab COMMAND ARGS...` (replay, demo, mcast-recv, trace replay: anything on sim_nic's
// virtual clock) with every trace event logged (trace/repro_log.hpp), and writes DIR/bundle.txt: the
// command line, the working directory, the SHA-256 of every file the arguments name (the trace), the
// seed, this build's git revision, build type, compiler and sanitizer, the exit status, and the hash of
// the event stream at a checkpoint every N events; DIR/events.bin holds the events themselves.
// check re-runs the bundle's command with this binary and reports the first checkpoint whose hash
// differs, naming the event, its packet and its hop on both sides. docs/repro.md says how to use it.
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "ringlab_revision.hpp"   // generated at build time: RINGLAB_GIT_REVISION (cmake/git_revision.cmake)
#include "tools/ringlab/cli.hpp"
#include "trace/repro_log.hpp"

#ifndef RINGLAB_BUILD_KIND
#define RINGLAB_BUILD_KIND "unknown"
#endif

namespace {

namespace cli = ringlab::cli;
namespace fs = std::filesystem;
namespace tr = ringlab::trace;

constexpr const char* format_line = "ringlab-repro 1";

std::string build_id() {
  std::string c;
#if defined(__clang__)
  c = "clang " __clang_version__;
#elif defined(__GNUC__)
  c = "gcc " __VERSION__;
#endif
  return std::string(RINGLAB_BUILD_KIND) + ", " + c;
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

// What a bundle holds (bundle.txt), as written and read back.
struct bundle {
  std::vector<std::string> args;                  // the ringlab subcommand and its arguments
  std::string cwd, seed = "default", revision, build;
  std::vector<std::pair<std::string, std::string>> files;   // argument naming a file, its SHA-256
  int exit_status = 0;
  std::uint64_t every = 0, events = 0, final_hash = 0;
  std::vector<std::uint64_t> checkpoints;         // hash after events every, 2*every, ...
};

void write_bundle(const fs::path& dir, const bundle& b) {
  std::ostringstream o;
  o << format_line << "\n";
  for (const auto& a : b.args) o << "arg " << a << "\n";
  o << "cwd " << b.cwd << "\n" << "seed " << b.seed << "\n";
  for (const auto& [f, d] : b.files) o << "file " << d << " " << f << "\n";
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

bundle read_bundle(const fs::path& dir) {
  std::ifstream in(dir / "bundle.txt");
  if (!in) throw cli::usage_error{"'" + dir.string() + "' holds no bundle.txt (ringlab repro record writes one)"};
  bundle b;
  std::string line;
  int n = 0;
  auto bad = [&](const std::string& why) {
    return cli::usage_error{(dir / "bundle.txt").string() + ":" + std::to_string(n) + ": " + why};
  };
  while (std::getline(in, line)) {
    ++n;
    if (n == 1) {
      if (line != format_line) throw bad("not a repro bundle (first line '" + line + "')");
      continue;
    }
    const auto sp = line.find(' ');
    const std::string key = line.substr(0, sp), val = sp == std::string::npos ? "" : line.substr(sp + 1);
    try {
      if (key == "arg") b.args.push_back(val);
      else if (key == "cwd") b.cwd = val;
      else if (key == "seed") b.seed = val;
      else if (key == "revision") b.revision = val;
      else if (key == "build") b.build = val;
      else if (key == "exit") b.exit_status = std::stoi(val);
      else if (key == "every") b.every = std::stoull(val);
      else if (key == "events") b.events = std::stoull(val);
      else if (key == "final") b.final_hash = std::stoull(val, nullptr, 16);
      else if (key == "file") {
        const auto s2 = val.find(' ');
        if (s2 == std::string::npos) throw bad("file needs a digest and a path");
        b.files.emplace_back(val.substr(s2 + 1), val.substr(0, s2));
      } else if (key == "checkpoint") {
        const auto s2 = val.find(' ');
        if (s2 == std::string::npos) throw bad("checkpoint needs an event count and a hash");
        if (std::stoull(val.substr(0, s2)) != (b.checkpoints.size() + 1) * b.every) throw bad("checkpoints out of order");
        b.checkpoints.push_back(std::stoull(val.substr(s2 + 1), nullptr, 16));
      } else {
        throw bad("unknown line '" + key + "'");
      }
    } catch (const std::logic_error&) {
      throw bad("bad value '" + val + "'");
    }
  }
  if (b.args.empty() || b.every == 0) throw bad("the bundle names no command or no checkpoint interval");
  return b;
}

std::vector<tr::repro_record> read_events(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::vector<tr::repro_record> v(fs::file_size(p) / sizeof(tr::repro_record));
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(tr::repro_record)));
  if (fs::file_size(p) % sizeof(tr::repro_record) != 0) throw std::runtime_error(p.string() + ": cut short");
  return v;
}

void checkpoints_of(const std::vector<tr::repro_record>& ev, bundle& b) {
  std::uint64_t h = tr::repro_hash_seed;
  b.checkpoints.clear();
  for (std::size_t i = 0; i < ev.size(); ++i) {
    h = tr::repro_hash(h, ev[i]);
    if ((i + 1) % b.every == 0) b.checkpoints.push_back(h);
  }
  b.events = ev.size();
  b.final_hash = h;
}

// Runs this binary with args, the events logged to events.bin in dir, output to dir/stdout.txt and
// dir/stderr.txt. Returns the exit status (128 + signal when killed).
int run_logged(const std::vector<std::string>& args, const fs::path& dir, const std::string& cwd) {
  const std::string out = (dir / "stdout.txt").string(), err = (dir / "stderr.txt").string();
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

// Only runs on the simulated NIC's virtual clock replay the same; refuse the rest up front.
void refuse_unreproducible(const std::vector<std::string>& c) {
  static const std::vector<std::string> ok = {"replay", "demo", "mcast-recv", "trace"};
  if (std::find(ok.begin(), ok.end(), c[0]) == ok.end())
    throw cli::usage_error{"'" + c[0] + "' is not a sim command: replay, demo, mcast-recv and trace replay are"};
  if (c[0] == "trace" && (c.size() < 2 || c[1] != "replay"))
    throw cli::usage_error{"'trace " + (c.size() > 1 ? c[1] : std::string()) + "' runs the kernel or real time: only 'trace replay' reproduces"};
  for (std::size_t i = 1; i + 1 < c.size(); ++i) {
    if ((c[i] == "--backend" && c[i + 1] != "sim") || (c[i] == "--clock" && c[i + 1] != "virtual"))
      throw cli::usage_error{c[i] + " " + c[i + 1] + " does not run on the simulated NIC's virtual clock: it cannot reproduce"};
  }
}

std::string hop_name(std::uint8_t h) { return std::string(tr::to_string(static_cast<tr::hop>(h))); }
std::string describe(const tr::repro_record& r) {
  std::string s = "packet " + std::to_string(r.packet_id) + " hop " + hop_name(r.stage) + " (" +
                  std::string(tr::to_string(static_cast<tr::verdict>(r.v)));
  if (r.reason) s += " " + std::string(tr::to_string(static_cast<tr::drop_reason>(r.reason)));
  return s + ", queue " + std::to_string(r.queue) + ")";
}

int record(const cli::args& a, const std::vector<std::string>& cmd) {
  refuse_unreproducible(cmd);
  const fs::path dir = a.has("out") ? fs::path(a.str("out")) : fs::path("repro-" + cmd[0]);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw cli::usage_error{"--out: cannot create '" + dir.string() + "': " + ec.message()};
  bundle b;
  b.args = cmd;
  b.cwd = fs::current_path().string();
  b.every = a.u64("every", 1, std::uint64_t{1} << 32);
  b.revision = RINGLAB_GIT_REVISION;
  b.build = build_id();
  for (std::size_t i = 1; i < cmd.size(); ++i) {
    if (cmd[i] == "--seed" && i + 1 < cmd.size()) b.seed = cmd[i + 1];
    // A --faults spec may carry its own seed (port/fault_line.hpp: seed=N), which wins for the faults.
    if (cmd[i] == "--faults" && i + 1 < cmd.size()) {
      const auto at = ("," + cmd[i + 1]).find(",seed=");
      if (at != std::string::npos) b.seed = (cmd[i + 1] + ",").substr(at + 5, (cmd[i + 1] + ",").find(',', at + 5) - at - 5) + " (--faults)";
    }
    if (fs::is_regular_file(cmd[i], ec)) b.files.emplace_back(cmd[i], sha256_of(cmd[i]));
  }
  b.exit_status = run_logged(cmd, dir, "");
  const auto ev = read_events(dir / "events.bin");
  checkpoints_of(ev, b);
  write_bundle(dir, b);
  std::printf("recorded %s: %" PRIu64 " events, %zu checkpoints (every %" PRIu64 "), final hash %016" PRIx64
              ", exit %d\ncheck it with: ringlab repro check %s\n",
              dir.string().c_str(), b.events, b.checkpoints.size(), b.every, b.final_hash, b.exit_status, dir.string().c_str());
  if (ev.empty()) {
    std::fprintf(stderr, "ringlab repro: the command recorded no trace events (see %s/stderr.txt)\n", dir.string().c_str());
    return cli::exit_failure;
  }
  return cli::exit_ok;
}

int check(const fs::path& dir) {
  const bundle want = read_bundle(dir);
  std::string cmd;
  for (const auto& s : want.args) cmd += (cmd.empty() ? "" : " ") + s;
  std::printf("bundle:   ringlab %s (seed %s)\n  recorded on %s, %s\n  checked on  %s, %s\n", cmd.c_str(), want.seed.c_str(),
              want.revision.c_str(), want.build.c_str(), RINGLAB_GIT_REVISION, build_id().c_str());
  // The inputs first: a different trace cannot give the same run, and saying so beats a hash diff.
  for (const auto& [f, d] : want.files) {
    const fs::path p = fs::path(f).is_absolute() ? fs::path(f) : fs::path(want.cwd) / f;
    const std::string now = sha256_of(p);
    if (now != d) {
      std::printf("DIFFERS: input %s %s (sha256 %s, bundle %s): the run cannot be the same\n", f.c_str(),
                  now.empty() ? "cannot be read" : "changed", now.empty() ? "-" : now.c_str(), d.c_str());
      return cli::exit_failure;
    }
  }
  const auto recorded = read_events(dir / "events.bin");
  bundle rec = want;
  checkpoints_of(recorded, rec);
  if (rec.checkpoints != want.checkpoints || rec.final_hash != want.final_hash)
    throw std::runtime_error((dir / "events.bin").string() + " does not give bundle.txt's checkpoints: the bundle is damaged");
  const fs::path rerun = dir / "check";
  std::error_code ec;
  fs::create_directories(rerun, ec);
  if (ec) throw std::runtime_error("cannot create " + rerun.string() + ": " + ec.message());
  const int status = run_logged(want.args, rerun, want.cwd);
  const auto now = read_events(rerun / "events.bin");
  bundle got = want;
  checkpoints_of(now, got);
  const std::size_t n = std::min(recorded.size(), now.size());
  std::size_t i = 0;
  while (i < n && recorded[i] == now[i]) ++i;
  if (i == recorded.size() && i == now.size()) {
    std::printf("SAME: %" PRIu64 " events, %zu checkpoints, final hash %016" PRIx64 ", exit %d\n", got.events,
                got.checkpoints.size(), got.final_hash, status);
    if (status != want.exit_status) {
      std::printf("DIFFERS: exit status %d, bundle %d\n", status, want.exit_status);
      return cli::exit_failure;
    }
    return cli::exit_ok;
  }
  // Event i is the first that differs: it lies under checkpoint i / every + 1.
  const std::uint64_t cp = i / want.every + 1;
  std::printf("DIFFERS at checkpoint %" PRIu64 " (events %" PRIu64 "..%" PRIu64 "): first at event %zu\n", cp,
              (cp - 1) * want.every, cp * want.every - 1, i);
  std::printf("  bundle:   %s\n", i < recorded.size() ? describe(recorded[i]).c_str() : "(no more events: the run ended)");
  std::printf("  this run: %s\n", i < now.size() ? describe(now[i]).c_str() : "(no more events: the run ended)");
  if (i > 0) std::printf("  last event in common: %s\n", describe(now[i - 1]).c_str());
  std::printf("  events: bundle %zu, this run %zu; exit: bundle %d, this run %d (output in %s)\n", recorded.size(),
              now.size(), want.exit_status, status, rerun.string().c_str());
  return cli::exit_failure;
}

int run(int argc, char** argv) {
  const std::vector<cli::option> opts = {
      {"out", "DIR", "record: the bundle's directory (default repro-COMMAND)"},
      {"every", "N", "record: a checkpoint hash every N trace events", "1000"},
  };
  cli::args a("repro", opts, argc, argv);
  if (a.help()) {
    std::fputs(cli::usage_text("repro", "record [--out DIR] [--every N] -- COMMAND [ARGS...] | check BUNDLE",
                               "record runs `ringlab COMMAND ARGS...` (replay, demo, mcast-recv, trace replay: sim runs\n"
                               "on the virtual clock) with every trace event logged and writes a bundle: the command,\n"
                               "the SHA-256 of the files it reads, the seed, this build's git revision and build, and\n"
                               "the event hash at a checkpoint every N events. check re-runs a bundle and prints SAME,\n"
                               "or the first checkpoint whose hash differs with the event, its packet and its hop\n"
                               "(exit 1). docs/repro.md.",
                               opts)
                   .c_str(),
               stdout);
    return cli::exit_ok;
  }
  const auto& pos = a.positional();
  if (pos.empty()) throw cli::usage_error{"record or check is missing (see --help)"};
  if (pos[0] == "record") {
    bool dashes = false;
    for (int i = 0; i < argc; ++i) dashes |= std::string(argv[i]) == "--";
    if (!dashes || pos.size() < 2) throw cli::usage_error{"record needs the command after '--': ringlab repro record -- replay FILE ..."};
    return record(a, std::vector<std::string>(pos.begin() + 1, pos.end()));
  }
  if (pos[0] == "check") {
    a.refuse({"out", "every"}, "check");
    a.expect_positional(2, "check BUNDLE");
    if (pos.size() < 2) throw cli::usage_error{"check needs the bundle's directory"};
    return check(pos[1]);
  }
  throw cli::usage_error{"'" + pos[0] + "' is not record or check"};
}

const cli::registration reg{{"repro", "record a sim run as a bundle, and check that it reproduces", run}};

}  // namespace
