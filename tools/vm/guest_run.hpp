#pragma once
// Running tools/vm/ringlab-vm.sh from C++: where it is, and running it with its standard output captured
// (the guest command's output) while its standard error (boot time, progress) passes through.
#include <string>
#include <vector>

namespace ringlab::vm {

// The script in the source tree this binary was built from (RINGLAB_VM_SCRIPT overrides it).
std::string script_path();
// The AF_XDP backend's XDP object in this build ("" when the build has no AF_XDP backend).
std::string afxdp_bpf_object();

struct captured {
  int status = -1;       // the script's exit status (the guest command's), 128+N for a signal
  std::string out;
};

// Runs argv[0] with argv (no shell), capturing standard output. Throws std::runtime_error if it
// cannot be started.
captured run_capture(const std::vector<std::string>& argv);

// Replaces this process with the script: `ringlab vm run ...` is the script's own exit status.
[[noreturn]] void exec_script(const std::vector<std::string>& args);

}  // namespace ringlab::vm
