// ringlab vm: a QEMU guest built from Debian packages (kernel image + busybox-static + this binary),
// booted under TCG, with a virtio-net or e1000 NIC on a tap inside a namespace the command creates.
//   ringlab vm probe | image | run [opts] -- CMD | shell     tools/vm/ringlab-vm.sh does these
//   ringlab vm trace [--nic virtio|e1000] [--json F] [--dot F] [--lab FILE.pcap]
// `trace` is what the host kernel cannot show (no function tracer here): the guest's function-level
// route of one datagram, from the driver's NAPI poll through GRO, IP, UDP and the socket to recvmsg,
// parsed by tools/vm/function_graph and rendered by trace_packet_flow's writers.
#include <arpa/inet.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tools/ringlab/cli.hpp"
#include "tools/trace_packet_flow/lab_replay.hpp"
#include "tools/trace_packet_flow/outputs.hpp"
#include "tools/trace_packet_flow/packet_filter.hpp"
#include "tools/vm/function_graph.hpp"
#include "tools/vm/guest_run.hpp"

namespace cli = ringlab::cli;
namespace tf = ringlab::trace_flow;

namespace {

const std::vector<cli::option> trace_opts = {
    {"nic", "NAME", "the guest's NIC: virtio (virtio_net, NAPI poll virtnet_poll) or e1000 (e1000_clean)", "virtio"},
    {"group", "ADDR", "multicast group the guest's ringlab mcast-recv joins", "239.77.0.1"},
    {"port", "N", "UDP port", "5077"},
    {"timeout", "SECONDS", "kill the guest after this long", "150"},
    {"json", "FILE", "write the route as Chrome trace-event JSON (ui.perfetto.dev opens it)"},
    {"dot", "FILE", "write the route as a Graphviz diagram"},
    {"raw", "FILE", "keep the guest's function_graph text"},
    {"from", "FILE", "no guest: build the route from a saved function_graph text (--raw output)"},
    {"lab", "FILE", "also follow one datagram of FILE (a pcap) through the lab path: both routes in one --json, one --dot"},
    {"lab-filter", "EXPR", "which datagram of --lab FILE: the first the pcap filter matches", "udp"},
};

constexpr const char* description =
    "  ringlab vm probe                    can a guest be built and booted here (exit 77: no, and why)\n"
    "  ringlab vm image                    fetch the Debian kernel, build the initramfs (cached in build/vm)\n"
    "  ringlab vm run [OPTS] -- CMD...     boot, run CMD in the guest, print its output, exit with its status\n"
    "  ringlab vm shell [--nic N]          boot to a busybox shell on this terminal (Ctrl-A X quits)\n"
    "  ringlab vm trace [OPTIONS]          the guest kernel's function-level route of one datagram\n"
    "  ringlab vm afxdp [--nic N]          one datagram through AF_XDP in the guest; the XDP mode it got\n\n"
    "run/shell options: --nic virtio|e1000|none, --accel tcg|kvm|auto, --timeout S, --bin FILE,\n"
    "--on-signal NAME=CMD (tools/vm/README.md). The guest is 10.77.0.2 on a tap (host side 10.77.0.1)\n"
    "inside a network namespace made for the run and removed after it; nothing leaves the machine.\n\n"
    "trace boots the guest with --nic, starts ringlab mcast-recv on kernel sockets there under ftrace\n"
    "function_graph, sends one datagram from the host namespace with ringlab mcast-send, and prints\n"
    "the calls on the datagram's route with each function's source file (a table generated from\n"
    "linux-source-6.1: tools/vm/kernel_function_sources.inc).";

std::string self_exe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw std::runtime_error("cannot find this binary (/proc/self/exe)");
  return std::string(buf, static_cast<std::size_t>(n));
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw cli::usage_error{"--from: cannot read '" + path + "'"};
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  if (!f || !(f << text)) throw std::runtime_error("cannot write " + path);
}

// The guest's output: "#ringlab-app rc=N", the receiver's lines, "#ringlab-ftrace", the trace text.
struct guest_output {
  std::string app, ftrace;
};
guest_output split_sections(const std::string& out) {
  guest_output g;
  const auto a = out.find("#ringlab-app");
  const auto f = out.find("#ringlab-ftrace\n");
  if (f == std::string::npos) {
    g.ftrace = out;   // a saved --raw file is the trace text alone
    return g;
  }
  if (a != std::string::npos && a < f) g.app = out.substr(a, f - a);
  g.ftrace = out.substr(f + 16);
  return g;
}

// What `trace` and `afxdp` share: the guest's NIC, the group and port its receiver uses, and a run in
// which the host sends one datagram (payload unique to this process) when the guest signals "send".
struct guest_datagram {
  std::string nic, group, port, timeout, payload;
};

guest_datagram datagram_options(const cli::args& a, const std::string& tag) {
  guest_datagram d;
  d.nic = a.str("nic");
  if (d.nic != "virtio" && d.nic != "e1000") throw cli::usage_error{"--nic: '" + d.nic + "' is not virtio or e1000"};
  d.port = std::to_string(a.u64("port", 1, 65535));
  d.timeout = std::to_string(a.u64("timeout", 10, 3600));
  // The group goes into shell command lines (the host's sender, the guest's command): only a dotted
  // IPv4 multicast address is let through.
  d.group = a.str("group");
  in_addr g{};
  if (inet_pton(AF_INET, d.group.c_str(), &g) != 1 || (ntohl(g.s_addr) >> 28) != 0xe)
    throw cli::usage_error{"--group: '" + d.group + "' is not an IPv4 multicast address (224.0.0.0/4)"};
  d.payload = "ringlab-vm-" + tag + "-" + std::to_string(getpid());
  return d;
}

ringlab::vm::captured run_with_datagram(const guest_datagram& d, const std::vector<std::string>& files,
                                        const std::string& guest_cmd) {
  const std::string self = self_exe();
  // Runs on the host, inside the run's namespace, when the guest's receiver is bound.
  const std::string send = "echo " + d.payload + " | '" + self + "' mcast-send --group " + d.group + " --port " +
                           d.port + " --iface rlvmtap0";
  std::vector<std::string> argv{ringlab::vm::script_path(), "run", "--nic", d.nic, "--timeout", d.timeout, "--bin", self};
  for (const auto& f : files) argv.insert(argv.end(), {"--file", f});
  argv.insert(argv.end(), {"--on-signal", "send=" + send, "--", guest_cmd + " " + d.group + " " + d.port});
  auto c = ringlab::vm::run_capture(argv);
  if (c.status == 77) throw std::runtime_error("the VM cannot run here (ringlab vm probe says why)");
  return c;
}

// --lab FILE --lab-filter EXPR: the datagram to follow, picked before any guest boots (bad input is
// refused first).
tf::selected_packet lab_pick(const std::string& pcap, const std::string& filter) {
  tf::pcap_selection sel;
  try {
    sel = tf::select_packets(pcap, filter, 1);
  } catch (const tf::input_error& e) {
    throw cli::usage_error{std::string("--lab: ") + e.what()};
  }
  if (sel.packets.empty() || !sel.packets[0].udp)
    throw cli::usage_error{"--lab " + pcap + ": no UDP datagram matches --lab-filter '" + filter + "'"};
  return std::move(sel.packets[0]);
}

// That datagram through the lab path (sim_nic -> ring -> stack -> UDP socket), hop times on
// CLOCK_MONOTONIC as `trace compare` takes them, to stand beside the guest's route: each path keeps its
// own clock and time origin in the JSON (one process each) and its own column in the dot.
tf::route lab_route(const std::string& pcap, const tf::selected_packet& p) {
  const auto replay = tf::run_lab_replay(pcap, {});   // a socket on every destination port
  const std::vector<std::uint64_t> id{p.id};
  auto routes = tf::build_lab_routes(replay.events, id, 1, tf::lab_clock::real);
  if (routes.empty()) throw std::runtime_error("the lab replay of " + pcap + " recorded no route for packet " +
                                               std::to_string(p.id));
  routes[0].summary = p.summary;
  return routes[0];
}

int run_trace(int argc, char** argv) {
  cli::args a("vm trace", trace_opts, argc, argv);
  if (a.help()) {
    std::cout << cli::usage_text("vm", "trace [options]", description, trace_opts);
    return cli::exit_ok;
  }
  const auto d = datagram_options(a, "trace");
  if (a.has("lab-filter") && !a.has("lab")) throw cli::usage_error{"--lab-filter needs --lab FILE.pcap"};
  std::optional<tf::selected_packet> lab;
  if (a.has("lab")) lab = lab_pick(a.str("lab"), a.str("lab-filter"));
  std::string text, payload;
  if (a.has("from")) {
    text = read_file(a.str("from"));
  } else {
    auto c = run_with_datagram(d, {}, "ringlab-trace-rx");
    if (c.status != 0) {
      std::cerr << c.out;
      throw std::runtime_error("the guest's trace run failed (exit " + std::to_string(c.status) + ")");
    }
    text = std::move(c.out);
    payload = d.payload;
  }
  const auto g = split_sections(text);
  if (!payload.empty() && g.app.find(payload) == std::string::npos)
    throw std::runtime_error("the guest's receiver did not print the datagram sent (" + payload + "): " + g.app);
  if (a.has("raw")) write_file(a.str("raw"), text);
  std::size_t skipped = 0;
  const auto trees = ringlab::vm::parse_function_graph(g.ftrace, &skipped);
  // A saved file with no function_graph call in it is the wrong file (bad input), not a run that failed.
  if (a.has("from") && trees.empty())
    throw cli::usage_error{"--from " + a.str("from") + ": no ftrace function_graph call in it (" +
                           std::to_string(skipped) + " lines not parsed): not a saved 'vm trace --raw' file"};
  auto res = ringlab::vm::build_function_route(trees);
  if (!res.error.empty()) throw std::runtime_error("no route in the guest's trace: " + res.error);
  res.route.summary = "host 10.77.0.1 > " + d.group + ":" + d.port + " udp, nic " +
                      (a.has("from") ? std::string("(saved trace)") : d.nic);
  std::cout << "guest kernel route (ftrace function_graph; driver poll " << res.driver_poll << "): "
            << res.route.steps.size() << " calls on the route of " << res.traced_calls << " traced";
  if (skipped) std::cout << ", " << skipped << " unparsed lines";
  std::cout << "\nsource files: tools/vm/kernel_function_sources.inc, generated from linux-source-6.1\n";
  if (!payload.empty()) std::cout << "guest app (ringlab mcast-recv) received: " << payload << "\n";
  std::vector<tf::route> routes{res.route};
  if (lab) routes.insert(routes.begin(), lab_route(a.str("lab"), *lab));
  tf::write_timeline(std::cout, routes);
  if (a.has("json")) {
    std::ofstream f(a.str("json"));
    if (!f) throw std::runtime_error("cannot write " + a.str("json"));
    tf::write_chrome_json(f, routes);
    std::cout << "wrote " << a.str("json") << " (Chrome trace-event JSON: ui.perfetto.dev opens it)\n";
  }
  if (a.has("dot")) {
    std::ofstream f(a.str("dot"));
    if (!f) throw std::runtime_error("cannot write " + a.str("dot"));
    tf::write_dot(f, routes, a.has("lab") ? "the lab path's route beside the guest kernel's, " + res.driver_poll
                                          : "guest kernel route, " + res.driver_poll);
    std::cout << "wrote " << a.str("dot") << "\n";
  }
  return cli::exit_ok;
}

// One datagram through AF_XDP in the guest (ringlab mcast-recv --backend afxdp on eth0, our XDP program),
// and the XDP attach mode: the guest's dmesg line from the driver's ndo_bpf shows a native attach.
int run_afxdp(int argc, char** argv) {
  const std::vector<cli::option> opts = {trace_opts[0], trace_opts[1], trace_opts[2], trace_opts[3]};
  cli::args a("vm afxdp", opts, argc, argv);
  if (a.help()) {
    std::cout << cli::usage_text("vm", "afxdp [options]", description, opts);
    return cli::exit_ok;
  }
  const auto d = datagram_options(a, "afxdp");
  const std::string bpf = ringlab::vm::afxdp_bpf_object(), &nic = d.nic, &payload = d.payload;
  if (bpf.empty()) throw std::runtime_error("this build has no AF_XDP backend (libxdp, clang): nothing to try");
  auto c = run_with_datagram(d, {bpf}, "ringlab-afxdp-rx");
  std::cout << c.out;
  if (c.status != 0) throw std::runtime_error("AF_XDP in the guest failed (exit " + std::to_string(c.status) + ")");
  if (c.out.find(" " + payload + "\n") == std::string::npos)
    throw std::runtime_error("the guest's AF_XDP receiver did not print the datagram sent (" + payload + ")");
  const bool native = c.out.find("XDP request") != std::string::npos || c.out.find("ip link: xdpdrv") != std::string::npos;
  // The port's own account of what the kernel granted ("afxdp:eth0/0 (native, copy)"): the bind mode
  // comes from the socket (zero-copy tried first), not from reading the driver.
  const std::string tag = "mcast-recv: device: ";
  const auto at = c.out.find(tag);
  const std::string device = at == std::string::npos ? "" : c.out.substr(at + tag.size(), c.out.find('\n', at) - at - tag.size());
  if (device.empty()) throw std::runtime_error("the guest's receiver did not say which AF_XDP mode it got");
  const std::string bind = device.find(", zero-copy)") != std::string::npos ? "zero-copy" : "copy";
  std::cout << "AF_XDP in the guest (" << nic << "): received " << payload << "; XDP attach: "
            << (native ? "native (the driver's ndo_bpf took the program)" : "generic (skb)") << "; bind: " << bind
            << " (the socket: " << device << (bind == "copy" && nic == "virtio" ? "; virtio_net in 6.1 has no AF_XDP zero-copy" : "")
            << ")\n";
  return cli::exit_ok;
}

int run(int argc, char** argv) {
  const std::string sub = argc >= 2 ? argv[1] : "";
  if (sub == "--help" || sub == "-h" || sub == "help") {
    std::cout << cli::usage_text("vm", "{probe|image|run|shell|trace|afxdp} [options]", description, trace_opts);
    return cli::exit_ok;
  }
  if (sub.empty()) throw cli::usage_error{"which one: probe, image, run, shell, trace or afxdp (see --help)"};
  if (sub == "trace") return run_trace(argc - 1, argv + 1);
  if (sub == "afxdp") return run_afxdp(argc - 1, argv + 1);
  if (sub != "probe" && sub != "image" && sub != "run" && sub != "shell")
    throw cli::usage_error{"unknown subcommand '" + sub + "' (probe, image, run, shell, trace, afxdp)"};
  std::vector<std::string> args{sub};
  if (sub != "probe") {   // the guest gets this binary (and its libraries) in /bin
    args.push_back("--bin");
    args.push_back(self_exe());
  }
  for (int i = 2; i < argc; ++i) args.emplace_back(argv[i]);
  ringlab::vm::exec_script(args);
}

const cli::registration reg{{"vm", "QEMU guest: boot it, run a command in it, trace its kernel's receive path", run}};

}  // namespace
