#include "stack/wire/error.hpp"

namespace ringlab::wire {

std::string_view to_string(error e) noexcept {
  switch (e) {
    case error::none: return "none";
    case error::truncated: return "truncated";
    case error::bad_header_length: return "bad_header_length";
    case error::bad_total_length: return "bad_total_length";
    case error::bad_length: return "bad_length";
    case error::bad_version: return "bad_version";
    case error::bad_checksum: return "bad_checksum";
    case error::unsupported: return "unsupported";
    case error::fragment: return "fragment";
    case error::malformed: return "malformed";
  }
  return "unknown";
}

}  // namespace ringlab::wire
