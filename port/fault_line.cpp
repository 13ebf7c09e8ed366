#include "port/fault_line.hpp"

#include <charconv>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace ringlab::port {

namespace {
std::uint64_t splitmix64(std::uint64_t& x) noexcept {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

bool parse_prob(std::string_view v, double& out) {
  if (v.empty()) return false;
  std::string s(v);
  char* end = nullptr;
  const double x = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !(x >= 0.0 && x <= 1.0)) return false;
  out = x;
  return true;
}
}  // namespace

rng::rng(std::uint64_t seed) noexcept {
  for (auto& w : s_) w = splitmix64(seed);
}

std::uint64_t rng::next() noexcept {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0]; s_[3] ^= s_[1]; s_[1] ^= s_[2]; s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

std::optional<std::uint64_t> parse_duration_ns(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
  if (i == 0) return std::nullopt;
  std::string num(text.substr(0, i));
  char* end = nullptr;
  const double x = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size() || x < 0) return std::nullopt;
  const std::string_view unit = text.substr(i);
  double mul = 0;
  if (unit.empty() || unit == "ns") mul = 1;
  else if (unit == "us") mul = 1e3;
  else if (unit == "ms") mul = 1e6;
  else if (unit == "s") mul = 1e9;
  else return std::nullopt;
  const double ns = x * mul;
  if (ns > 1e15) return std::nullopt;   // > 11 days is a typo, not a delay
  return static_cast<std::uint64_t>(ns + 0.5);
}

namespace {
// One FIELD=VALUE item of a spec (has_value false: no '=').
struct spec_field {
  std::string_view key, value;
  bool has_value;
};

std::string field_error(std::string_view field, std::string_view value, std::string_view why) {
  std::string e = "fault spec field '";
  e.append(field).append("': '").append(value).append("' ").append(why);
  return e;
}

// Splits a spec at its commas. The empty spec is "no faults"; an empty item inside one (",",
// "drop=0.1,,dup=0.1", a trailing comma) is an error naming its place, as is a field given twice:
// drop=0.1,drop=0.2 is a typo, and which of the two would win is a guess the user cannot see. Both
// are often a field lost in editing, so neither is skipped silently.
std::optional<std::vector<spec_field>> split_fields(std::string_view text, std::string* error) {
  std::vector<spec_field> out;
  const std::string_view whole = text;
  std::size_t n = 0;
  for (bool more = !text.empty(); more;) {
    const std::size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    more = comma != std::string_view::npos;
    text = more ? text.substr(comma + 1) : std::string_view{};
    ++n;
    if (item.empty()) {
      if (error) {
        std::string e = "fault spec item ";
        e.append(std::to_string(n)).append(" of '").append(whole)
            .append("' is empty (a comma too many): give FIELD=VALUE items separated by single commas");
        *error = std::move(e);
      }
      return std::nullopt;
    }
    const std::size_t eq = item.find('=');
    spec_field f{item.substr(0, eq), eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1),
                 eq != std::string_view::npos};
    for (const auto& g : out)
      if (g.key == f.key) {
        if (error) {
          std::string e = "fault spec field '";
          e.append(f.key).append("' given twice ('").append(g.value).append("', then '").append(f.value)
              .append("'): give each field once");
          *error = std::move(e);
        }
        return std::nullopt;
      }
    out.push_back(f);
  }
  return out;
}
}  // namespace

std::optional<fault_spec> parse_fault_spec(std::string_view text, std::string* error) {
  fault_spec s;
  auto fail = [&](std::string_view field, std::string_view value, std::string_view why) {
    if (error) *error = field_error(field, value, why);
    return std::nullopt;
  };
  const auto fields = split_fields(text, error);
  if (!fields) return std::nullopt;
  for (const auto& [key, val, has_value] : *fields) {
    if (!has_value)
      return fail(key, "", "has no value (expected FIELD=VALUE; fields drop, dup, reorder, corrupt, delay, jitter)");
    if (key == "drop" || key == "dup" || key == "corrupt") {
      double& d = key == "drop" ? s.drop : key == "dup" ? s.dup : s.corrupt;
      if (!parse_prob(val, d)) return fail(key, val, "is not a probability in 0..1");
    } else if (key == "reorder") {
      const std::size_t colon = val.find(':');
      if (!parse_prob(val.substr(0, colon), s.reorder))
        return fail(key, val, "is not P or P:W with a probability P in 0..1");
      if (colon != std::string_view::npos) {
        const std::string_view w = val.substr(colon + 1);
        std::uint32_t x = 0;
        auto [p, ec] = std::from_chars(w.data(), w.data() + w.size(), x);
        if (ec != std::errc{} || p != w.data() + w.size() || x < 1 || x > 1024)
          return fail(key, val, "has a window that is not a whole number in 1..1024");
        s.reorder_window = x;
      }
    } else if (key == "delay" || key == "jitter") {
      auto d = parse_duration_ns(val);
      if (!d) return fail(key, val, "is not a duration (e.g. 50us, 2ms, 100ns)");
      (key == "delay" ? s.delay_ns : s.jitter_ns) = *d;
    } else {
      return fail(key, val, "is not a field (drop, dup, reorder, corrupt, delay, jitter)");
    }
  }
  return s;
}

std::optional<port_fault_options> parse_port_faults(std::string_view text, std::string* error) {
  port_fault_options o;
  std::string rest;
  auto fail = [&](std::string_view field, std::string_view value, std::string_view why) {
    if (error) *error = field_error(field, value, why);
    return std::nullopt;
  };
  const auto fields = split_fields(text, error);
  if (!fields) return std::nullopt;
  std::string_view delay_field, delay_value;   // the first of delay/jitter given: dir=tx refuses it
  for (const auto& [key, val, has_value] : *fields) {
    if (!has_value)   // the fields of a port's spec: the line's and its own (seed, dir)
      return fail(key, "", "has no value (expected FIELD=VALUE; fields drop, dup, reorder, corrupt, delay, jitter, seed, dir)");
    if (key == "seed") {
      std::uint64_t x = 0;
      auto [p, ec] = std::from_chars(val.data(), val.data() + val.size(), x);
      if (val.empty() || ec != std::errc{} || p != val.data() + val.size())
        return fail(key, val, "is not a whole number (0..2^64-1)");
      o.seed = x;
      continue;
    }
    if (key == "dir") {
      if (val == "rx") o.tx = false;
      else if (val == "tx") o.rx = false;
      else if (val != "both") return fail(key, val, "is not rx, tx or both");
      continue;
    }
    if (key != "drop" && key != "dup" && key != "reorder" && key != "corrupt" && key != "delay" && key != "jitter")
      return fail(key, val, "is not a field (drop, dup, reorder, corrupt, delay, jitter, seed, dir)");
    if ((key == "delay" || key == "jitter") && delay_field.empty()) delay_field = key, delay_value = val;
    if (!rest.empty()) rest += ',';
    rest.append(key);
    if (has_value) rest.append("=").append(val);
  }
  auto spec = parse_fault_spec(rest, error);
  if (!spec) return std::nullopt;
  // faulty_port transmits a committed batch at once: a delay has no later to hold a frame to (a
  // wire's delay is sim_nic's). Asked for on transmit alone it would do nothing: an error, not a
  // silent no-op. With dir=both it acts on receive only (faulty_port drops it from the tx side).
  if (!o.rx && (spec->delay_ns || spec->jitter_ns))
    return fail(delay_field, delay_value, "does not apply to dir=tx (delay and jitter act on received frames "
                                          "only: use dir=rx or both)");
  o.spec = *spec;
  return o;
}

std::string fault_spec::to_string() const {
  std::ostringstream os;
  os << "drop=" << drop << ",dup=" << dup << ",reorder=" << reorder << ':' << reorder_window
     << ",corrupt=" << corrupt << ",delay=" << delay_ns << "ns,jitter=" << jitter_ns << "ns";
  return os.str();
}

}  // namespace ringlab::port
