#pragma once
// The tests' name for the lab's one namespace/veth fixture, tools/netns/netns.hpp (ringlab_netns):
// tests write ringlab::test::netns, ::veth_pair, ::enter, ... See that header for the whole story.
#include "tools/netns/netns.hpp"

namespace ringlab::test {

using netlab::background_process;
using netlab::command_result;
using netlab::enter;
using netlab::eventually;
using netlab::igmp_hex;
using netlab::netns;
using netlab::netns_unavailable;
using netlab::output;
using netlab::parse_mac;
using netlab::reap_stale;
using netlab::run;
using netlab::setup_error;
using netlab::socket_in;
using netlab::unique_name;
using netlab::veth_options;
using netlab::veth_pair;

}  // namespace ringlab::test
