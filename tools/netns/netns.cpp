#include "tools/netns/netns.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/mac_addr.hpp"

namespace ringlab::netlab {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

std::string temp_file(const char* what) {
  std::string tmpl = "/tmp/ringlab-test-" + std::to_string(::getpid()) + "-" + what + "-XXXXXX";
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) throw setup_error("mkstemp " + tmpl + ": " + std::strerror(errno));
  ::close(fd);
  return tmpl;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string joined(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

void must(const std::vector<std::string>& argv) {
  auto r = run(argv);
  if (r.exit_code != 0) throw setup_error("'" + joined(argv) + "' failed (" + std::to_string(r.exit_code) + "): " + r.err);
}

}  // namespace

command_result run(const std::vector<std::string>& argv, output o) {
  background_process p(argv, o);
  command_result r;
  r.exit_code = *p.wait_for(std::chrono::hours(1));
  r.out = p.out();
  r.err = p.err();
  return r;
}

std::string unique_name(std::string_view prefix) {
  static std::atomic<unsigned> n{0};
  const unsigned k = n.fetch_add(1, std::memory_order_relaxed);
  // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict, a false positive) on "x" + std::string.
  std::string s(prefix);
  s += std::to_string(::getpid());
  if (k != 0) {
    s += 'x';
    s += std::to_string(k);
  }
  if (s.size() > 15) throw setup_error("name '" + s + "' is longer than 15 characters: use a shorter prefix");
  return s;
}

std::string igmp_hex(std::string_view dotted) {
  const auto a = wire::ipv4_addr::parse(dotted);
  if (!a) throw setup_error("not an IPv4 address: " + std::string(dotted));
  // /proc/net/igmp prints the address as the kernel's 32-bit word in host (little-endian) order.
  char buf[9];
  std::snprintf(buf, sizeof buf, "%02X%02X%02X%02X", a->octet(3), a->octet(2), a->octet(1), a->octet(0));
  return buf;
}

// --- background_process ---

background_process::background_process(const std::vector<std::string>& argv, output o)
    : out_path_(temp_file("out")), err_path_(o == output::separate ? temp_file("err") : std::string()) {
  // Everything the child needs is made before fork(): after it, only async-signal-safe calls.
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  const int out_fd = ::open(out_path_.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  const int err_fd = err_path_.empty() ? ::fcntl(out_fd, F_DUPFD_CLOEXEC, 0) : ::open(err_path_.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out_fd < 0 || err_fd < 0 || null_fd < 0) throw setup_error("cannot open output files for " + joined(argv));
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);   // a crashed test takes its children along
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::dup2(null_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    ::execvp(cargv[0], cargv.data());
    const char msg[] = "background_process: exec failed\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::close(out_fd);
  ::close(err_fd);
  ::close(null_fd);
  if (pid_ < 0) throw setup_error(std::string("fork: ") + std::strerror(fork_errno));
}

background_process::background_process(background_process&& o) noexcept
    : pid_(o.pid_), exit_code_(o.exit_code_), out_path_(std::move(o.out_path_)), err_path_(std::move(o.err_path_)) {
  o.pid_ = -1;
  o.out_path_.clear();
  o.err_path_.clear();
}

background_process::~background_process() {
  if (pid_ > 0 && !exit_code_) kill_and_wait();
  if (!out_path_.empty()) ::unlink(out_path_.c_str());
  if (!err_path_.empty()) ::unlink(err_path_.c_str());
}

bool background_process::running() { return !wait_for(std::chrono::milliseconds(0)).has_value(); }

void background_process::signal(int signo) {
  if (pid_ > 0 && !exit_code_) ::kill(pid_, signo);
}

std::optional<int> background_process::wait_for(std::chrono::milliseconds timeout) {
  if (exit_code_ || pid_ <= 0) return exit_code_;
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) return exit_code_ = decode_status(status);
    if (r < 0 && errno != EINTR) return exit_code_ = -1;
    if (std::chrono::steady_clock::now() >= end) return std::nullopt;
    timespec ts{0, 5'000'000};
    ::nanosleep(&ts, nullptr);
  }
}

int background_process::kill_and_wait() {
  signal(SIGKILL);
  return wait_for(std::chrono::hours(1)).value_or(-1);
}

std::string background_process::out() const { return slurp(out_path_); }
std::string background_process::err() const { return err_path_.empty() ? std::string() : slurp(err_path_); }

// --- netns ---

netns::netns(std::string_view prefix) : name_(unique_name(prefix)) { create(); }

netns::netns(exact_name e) : name_(std::move(e.name)), hooks_(e.hooks) { create(); }

void netns::create() {
  if (hooks_.before_add) hooks_.before_add(name_.c_str());
  try {
    must({"ip", "netns", "add", name_});
  } catch (...) {
    if (hooks_.after_del) hooks_.after_del(name_.c_str());
    throw;
  }
  try {
    must({"ip", "-n", name_, "link", "set", "lo", "up"});
  } catch (...) {
    run({"ip", "netns", "del", name_});
    if (hooks_.after_del) hooks_.after_del(name_.c_str());
    throw;
  }
}

netns::~netns() {
  run({"ip", "netns", "del", name_});
  if (hooks_.after_del) hooks_.after_del(name_.c_str());
}

std::vector<std::string> netns::wrap(const std::vector<std::string>& argv) const {
  std::vector<std::string> v{"ip", "netns", "exec", name_};
  v.insert(v.end(), argv.begin(), argv.end());
  return v;
}

command_result netns::exec(const std::vector<std::string>& argv, output o) const { return run(wrap(argv), o); }

background_process netns::spawn(const std::vector<std::string>& argv) const { return background_process(wrap(argv)); }

void netns::disable_ipv6() const {
  must(wrap({"sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"}));
  must(wrap({"sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"}));
}

std::string netns::mac(const std::string& ifname) const {
  auto r = exec({"cat", "/sys/class/net/" + ifname + "/address"});
  if (r.exit_code != 0) throw setup_error("no MAC address for " + ifname + " in " + name_ + ": " + r.err);
  while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == ' ')) r.out.pop_back();
  return r.out;
}

int reap_stale(std::string_view prefix) {
  int n = 0;
  DIR* d = ::opendir("/run/netns");
  if (!d) return 0;
  std::vector<std::string> stale;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix) continue;
    const std::string_view rest = name.substr(prefix.size());
    const std::string pid(rest.substr(0, rest.find('x')));
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (::access(("/proc/" + pid).c_str(), F_OK) == 0) continue;   // its owner still runs
    stale.emplace_back(name);
  }
  ::closedir(d);
  for (const auto& s : stale)
    if (run({"ip", "netns", "del", s}).exit_code == 0) ++n;
  return n;
}

// --- enter, socket_in ---

enter::enter(const std::string& name) {
  orig_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  const int fd = ::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  ok_ = orig_ >= 0 && fd >= 0 && ::setns(fd, CLONE_NEWNET) == 0;
  if (fd >= 0) ::close(fd);
}

enter::~enter() {
  if (orig_ < 0) return;
  if (::setns(orig_, CLONE_NEWNET) != 0) std::abort();   // a thread stuck in a namespace about to vanish is worse
  ::close(orig_);
}

int socket_in(const std::string& ns, int domain, int type, int protocol) {
  int fd = -1, e = 0;
  {
    enter in(ns);
    if (!in.ok()) e = errno ? errno : ENOENT;
    else {
      fd = ::socket(domain, type | SOCK_CLOEXEC, protocol);
      e = errno;
    }
  }
  if (fd < 0) errno = e;
  return fd;
}

// --- veth_pair ---

veth_pair::veth_pair(const netns& a, std::string a_cidr, const netns& b, std::string b_cidr, veth_options o)
    : a_(a), b_(b), a_if_(o.a_name.empty() ? unique_name("va") : o.a_name),
      b_if_(o.b_name.empty() ? unique_name("vb") : o.b_name), a_cidr_(std::move(a_cidr)), b_cidr_(std::move(b_cidr)) {
  // Made directly inside the namespaces: nothing appears in this process's namespace.
  std::vector<std::string> add{"ip", "link", "add", a_if_, "netns", a.name()};
  const auto end_options = [&] {
    if (o.mtu) add.insert(add.end(), {"mtu", std::to_string(o.mtu)});
    if (o.queues > 0)
      add.insert(add.end(), {"numrxqueues", std::to_string(o.queues), "numtxqueues", std::to_string(o.queues)});
  };
  end_options();
  add.insert(add.end(), {"type", "veth", "peer", "name", b_if_, "netns", b.name()});
  end_options();
  must(add);
  try {
    if (!a_cidr_.empty()) must({"ip", "-n", a.name(), "addr", "add", a_cidr_, "dev", a_if_});
    if (!b_cidr_.empty()) must({"ip", "-n", b.name(), "addr", "add", b_cidr_, "dev", b_if_});
    must({"ip", "-n", a.name(), "link", "set", a_if_, "up"});
    must({"ip", "-n", b.name(), "link", "set", b_if_, "up"});
  } catch (...) {
    run({"ip", "-n", a.name(), "link", "del", a_if_});
    throw;
  }
}

veth_pair::~veth_pair() { run({"ip", "-n", a_.name(), "link", "del", a_if_}); }

std::string veth_pair::a_addr() const { return a_cidr_.substr(0, a_cidr_.find('/')); }
std::string veth_pair::b_addr() const { return b_cidr_.substr(0, b_cidr_.find('/')); }

void veth_pair::static_neighbours() const {
  if (a_cidr_.empty() || b_cidr_.empty()) throw setup_error("static_neighbours: both veth ends need an address");
  must({"ip", "-n", a_.name(), "neigh", "replace", b_addr(), "lladdr", b_mac(), "dev", a_if_, "nud", "permanent"});
  must({"ip", "-n", b_.name(), "neigh", "replace", a_addr(), "lladdr", a_mac(), "dev", b_if_, "nud", "permanent"});
}

std::optional<std::array<std::uint8_t, 6>> parse_mac(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  // The kernel's text only (colons); wire's parser also takes the dashed form users type.
  if (text.find('-') != std::string_view::npos) return std::nullopt;
  const auto m = wire::mac_addr::parse(text);
  if (!m) return std::nullopt;
  return m->octets;
}

}  // namespace ringlab::netlab
