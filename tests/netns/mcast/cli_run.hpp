#pragma once
// What the mcast netns tests share: the `ringlab` binary and its output cut into lines
// (tests/support/ringlab_cli.hpp, shared with the unit tests that run the binary).
#include "tests/support/ringlab_cli.hpp"
