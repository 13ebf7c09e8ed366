#pragma once
// The deterministic mutator of the fuzz targets' plain tests (the default suite is gcc, without
// libFuzzer): edits of a seed drawn from a fixed-seed rng, so every run tries the same inputs and a
// failure names its mutation number. Edit kinds, in this order: flip a bit, set a byte, truncate,
// insert a byte, set 4 bytes (a length field: large values matter most), splice another seed's tail.
// `kinds` < 6 uses the first `kinds` of them (the TCP script target keeps to 4).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "port/fault_line.hpp"

namespace ringlab::testing {

template <class B>
std::vector<B> mutate(const std::vector<std::vector<B>>& corpus, port::rng& r, int max_edits, int kinds = 6) {
  std::vector<B> m = corpus[r.below(corpus.size())];
  const int edits = 1 + static_cast<int>(r.below(static_cast<std::uint64_t>(max_edits)));
  for (int e = 0; e < edits && !m.empty(); ++e) {
    switch (r.below(static_cast<std::uint64_t>(kinds))) {
      case 0: m[r.below(m.size())] ^= static_cast<B>(1u << r.below(8)); break;
      case 1: m[r.below(m.size())] = static_cast<B>(r.next() & 0xff); break;
      case 2: m.resize(r.below(m.size())); break;
      case 3: m.insert(m.begin() + static_cast<std::ptrdiff_t>(r.below(m.size())), static_cast<B>(r.next() & 0xff)); break;
      case 4: {
        const std::size_t at = r.below(m.size());
        for (std::size_t k = at; k < at + 4 && k < m.size(); ++k) m[k] = static_cast<B>(r.below(2) ? 0xff : r.next() & 0xff);
        break;
      }
      default: {
        const auto& o = corpus[r.below(corpus.size())];
        const std::size_t from = r.below(o.size());
        m.resize(r.below(m.size() + 1));
        m.insert(m.end(), o.begin() + static_cast<std::ptrdiff_t>(from), o.end());
      }
    }
  }
  return m;
}

}  // namespace ringlab::testing
