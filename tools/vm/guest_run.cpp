#include "tools/vm/guest_run.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace ringlab::vm {
namespace {
std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> v;
  for (const auto& a : argv) v.push_back(const_cast<char*>(a.c_str()));
  v.push_back(nullptr);
  return v;
}
}  // namespace

std::string script_path() {
  if (const char* e = std::getenv("RINGLAB_VM_SCRIPT"); e && *e) return e;
  return RINGLAB_VM_SCRIPT;
}

std::string afxdp_bpf_object() {
#ifdef RINGLAB_VM_AFXDP_BPF_OBJ
  return RINGLAB_VM_AFXDP_BPF_OBJ;
#else
  return {};
#endif
}

captured run_capture(const std::vector<std::string>& argv) {
  int fd[2];
  if (pipe(fd) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fd[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&fa, fd[0]);
  posix_spawn_file_actions_addclose(&fa, fd[1]);
  auto args = c_argv(argv);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fd[1]);
  if (rc != 0) {
    close(fd[0]);
    throw std::runtime_error("cannot run " + argv[0] + ": " + std::strerror(rc));
  }
  captured c;
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fd[0], buf, sizeof buf);
    if (n > 0) { c.out.append(buf, static_cast<std::size_t>(n)); continue; }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  close(fd[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  c.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return c;
}

void exec_script(const std::vector<std::string>& args) {
  std::vector<std::string> argv{script_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto v = c_argv(argv);
  execv(v[0], v.data());
  std::fprintf(stderr, "ringlab vm: cannot run %s: %s\n", v[0], std::strerror(errno));
  std::exit(1);
}

}  // namespace ringlab::vm
