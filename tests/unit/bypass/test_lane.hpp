#pragma once
// The lane every bypass unit test attaches: the stack plays the host me_mac / me_ip of
// tests/unit/stack/frames.hpp, driven as the test asks (manual: the test calls poll_once()).
#include "asio_bypass/bypass_service.hpp"
#include "tests/unit/stack/frames.hpp"

namespace ringlab::stack::testing {

inline bypass::lane_config test_lane(bypass::drive_mode drive) {
  bypass::lane_config c;
  c.iface.mac = me_mac;
  c.iface.addr = me_ip;
  c.drive = drive;
  return c;
}

}  // namespace ringlab::stack::testing
