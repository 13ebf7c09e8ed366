#pragma once
// What the mcast netns tests share: the `ringlab` binary they run inside their namespaces
// ($RINGLAB_BINARY_DIR/tools/ringlab, set by ctest for every test; ./tools/ringlab when run by hand
// from the build directory), and its output cut into lines.
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace ringlab::test {

inline std::string ringlab_binary() {
  const char* d = std::getenv("RINGLAB_BINARY_DIR");
  return std::string(d ? d : ".") + "/tools/ringlab";
}

inline std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream is(s);
  for (std::string l; std::getline(is, l);) v.push_back(l);
  return v;
}

}  // namespace ringlab::test
