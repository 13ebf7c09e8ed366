#include "tools/ringlab/cli.hpp"

#include <charconv>
#include <cstdlib>
#include <sstream>

namespace ringlab::cli {

namespace {
std::map<std::string, command, std::less<>>& table() {
  static std::map<std::string, command, std::less<>> t;
  return t;
}
}  // namespace

registration::registration(command c) { table().emplace(c.name, std::move(c)); }
const std::map<std::string, command, std::less<>>& commands() { return table(); }

args::args(std::string_view command, const std::vector<option>& opts, int argc, char** argv)
    : cmd_(command), opts_(&opts) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") { help_ = true; continue; }
    if (a == "--") { for (++i; i < argc; ++i) pos_.emplace_back(argv[i]); break; }
    if (a.size() > 2 && a.substr(0, 2) == "--") {
      std::string_view name = a.substr(2), value;
      bool has_eq = false;
      if (auto eq = name.find('='); eq != std::string_view::npos) {
        value = name.substr(eq + 1); name = name.substr(0, eq); has_eq = true;
      }
      const option* o = nullptr;
      for (const auto& x : opts) if (x.name == name) o = &x;
      if (!o) throw usage_error{"unknown option '--" + std::string(name) + "' (see --help)"};
      if (o->value_name.empty()) {
        if (has_eq) throw usage_error{"--" + o->name + " takes no value"};
        vals_.emplace(o->name, "1");
        continue;
      }
      if (!has_eq) {
        if (i + 1 >= argc) throw usage_error{"--" + o->name + " needs a value (" + o->value_name + ")"};
        value = argv[++i];
      }
      if (!o->repeatable && vals_.count(o->name))
        throw usage_error{"--" + o->name + " given twice"};
      vals_.emplace(o->name, std::string(value));
      continue;
    }
    pos_.emplace_back(a);
  }
}

bool args::has(std::string_view name) const { return vals_.find(name) != vals_.end(); }

std::optional<std::string> args::get(std::string_view name) const {
  if (auto it = vals_.find(name); it != vals_.end()) return it->second;
  for (const auto& o : *opts_)
    if (o.name == name && !o.default_value.empty()) return o.default_value;
  return std::nullopt;
}

std::string args::str(std::string_view name) const { return get(name).value_or(""); }

std::vector<std::string> args::all(std::string_view name) const {
  std::vector<std::string> out;
  auto [b, e] = vals_.equal_range(name);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

std::uint64_t args::u64(std::string_view name, std::uint64_t lo, std::uint64_t hi) const {
  const std::string v = str(name);
  std::uint64_t x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (v.empty() || ec != std::errc{} || p != v.data() + v.size() || x < lo || x > hi) {
    std::ostringstream os;
    os << "--" << name << ": '" << v << "' is not a whole number in " << lo << ".." << hi;
    throw usage_error{os.str()};
  }
  return x;
}

double args::real(std::string_view name, double lo, double hi) const {
  const std::string v = str(name);
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || end != v.c_str() + v.size() || !(x >= lo && x <= hi)) {
    std::ostringstream os;
    os << "--" << name << ": '" << v << "' is not a number in " << lo << ".." << hi;
    throw usage_error{os.str()};
  }
  return x;
}

std::string usage_text(std::string_view command, std::string_view synopsis, std::string_view description,
                       const std::vector<option>& opts) {
  std::ostringstream os;
  os << "usage: ringlab " << command << ' ' << synopsis << "\n\n" << description << "\n\noptions:\n";
  for (const auto& o : opts) {
    std::string left = "  --" + o.name + (o.value_name.empty() ? "" : " " + o.value_name);
    os << left;
    if (left.size() < 26) os << std::string(26 - left.size(), ' '); else os << "\n" << std::string(26, ' ');
    os << o.help;
    if (!o.default_value.empty()) os << " (default " << o.default_value << ")";
    if (o.repeatable) os << " (repeatable)";
    os << '\n';
  }
  os << "  --help                  this text\n";
  return os.str();
}

}  // namespace ringlab::cli
