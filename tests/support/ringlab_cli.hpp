#pragma once
// What the tests that run the `ringlab` binary share: where it is ($RINGLAB_BINARY_DIR/tools/ringlab,
// set by ctest for every test; ./tools/ringlab when run by hand from the build directory), where the
// checkout's files are ($RINGLAB_SOURCE_DIR), a per-process temporary path, and output cut into lines.
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace ringlab::test {

inline std::string ringlab_binary() {
  const char* d = std::getenv("RINGLAB_BINARY_DIR");
  return std::string(d ? d : ".") + "/tools/ringlab";
}

inline std::string source_file(const std::string& rel) {
  const char* d = std::getenv("RINGLAB_SOURCE_DIR");
  return std::string(d ? d : ".") + "/" + rel;
}

// TempDir()/ringlab-TAG-PID-NAME: unique per test process, so parallel ctest runs do not collide.
inline std::string temp_path(std::string_view tag, std::string_view name) {
  return ::testing::TempDir() + "ringlab-" + std::string(tag) + "-" + std::to_string(::getpid()) + "-" +
         std::string(name);
}

inline std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream is(s);
  for (std::string l; std::getline(is, l);) v.push_back(l);
  return v;
}

}  // namespace ringlab::test
