#include "backends/dpdk/eal.hpp"

#include <rte_eal.h>
#include <rte_errno.h>

#include <cstdlib>
#include <mutex>
#include <sstream>

namespace ringlab::backends::dpdk {

std::vector<std::string> default_eal_args() {
  if (const char* env = std::getenv("RINGLAB_DPDK_EAL_ARGS")) {
    std::vector<std::string> v;
    std::istringstream in(env);
    for (std::string w; in >> w;) v.push_back(w);
    return v;
  }
  return {"--no-huge", "-m", "256", "--no-pci", "--no-shconf", "-l", "0", "--log-level=*:error"};
}

namespace {
std::mutex mu;
bool tried = false;
std::error_code first_result;
std::string first_why;
std::vector<std::string> first_args;
}  // namespace

std::error_code eal_init(const std::vector<std::string>& args_in, std::string& why) {
  std::lock_guard lk(mu);
  const std::vector<std::string> args = args_in.empty() ? default_eal_args() : args_in;
  if (tried) {
    why = first_why;
    if (!first_result && args != first_args) why = "EAL already initialised with other arguments (one EAL per process)";
    return first_result;
  }
  tried = true;
  first_args = args;
  std::vector<std::string> store{"ringlab"};
  store.insert(store.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : store) argv.push_back(s.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(store.size()), argv.data()) < 0) {
    const int e = rte_errno;
    std::string joined;
    for (auto& a : args) joined += " " + a;
    first_why = std::string("EAL init failed: ") + rte_strerror(e) + " (args:" + joined + ")";
    if (e == EACCES) first_why += " (need root, or hugepage/VFIO permissions)";
    first_result = std::error_code(e, std::generic_category());
  }
  why = first_why;
  return first_result;
}

}  // namespace ringlab::backends::dpdk
