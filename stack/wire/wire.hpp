#pragma once
// Everything in stack/wire: views (checked windows over bytes) and reprs (parsed values) for
// Ethernet II + 802.1Q, ARP, IPv4, ICMP echo, IGMP v1/v2/v3 and UDP. No state, no allocation on the
// packet path, no exceptions; see README.md for what is and is not implemented.
#include "stack/wire/arp.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/endian.hpp"
#include "stack/wire/error.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/icmp.hpp"
#include "stack/wire/igmp.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/mac_addr.hpp"
#include "stack/wire/udp.hpp"
