// fuzz_proxy: coftp::parse_proxy_header (include/coftp/proxy_protocol.hpp), the PROXY
// protocol header a trusted load balancer sends before a relayed connection.
//
// Properties checked on every input:
// - "incomplete" only below the maximum lengths (v1 107 bytes, v2 16 + 536), so a
//   reader asking for more is bounded;
// - a complete header's length is within the input and the maximum, and the header
//   alone parses the same (what follows it is never looked at); each of its strict
//   prefixes is incomplete (a reader never takes a byte past the header);
// - a header naming a client prints back (format_proxy_v1/v2) to one that parses to
//   the same client.
#include <coftp/proxy_protocol.hpp>

#include "check.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using coftp::proxy_parse_status;

bool same(const coftp::proxy_header& a, const coftp::proxy_header& b) {
  return a.relayed == b.relayed && a.source == b.source && a.source_port == b.source_port &&
         a.destination == b.destination && a.destination_port == b.destination_port;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = coftp::parse_proxy_header(in);
  if (r.status == proxy_parse_status::incomplete) {
    FUZZ_CHECK(in.size() < coftp::proxy_v2_max_length);
    if (!in.empty() && in[0] == 'P') FUZZ_CHECK(in.size() < coftp::proxy_v1_max_length);
    return 0;
  }
  if (r.status == proxy_parse_status::invalid) return 0;

  FUZZ_CHECK(r.length > 0 && r.length <= in.size());
  FUZZ_CHECK(r.header.version == 1 || r.header.version == 2);
  FUZZ_CHECK(r.length <= (r.header.version == 1 ? coftp::proxy_v1_max_length : coftp::proxy_v2_max_length));
  auto header = in.substr(0, r.length);
  auto alone = coftp::parse_proxy_header(header);
  FUZZ_CHECK(alone.status == proxy_parse_status::complete && alone.length == r.length && same(alone.header, r.header));
  for (std::size_t n = 0; n < header.size(); ++n)
    FUZZ_CHECK(coftp::parse_proxy_header(header.substr(0, n)).status == proxy_parse_status::incomplete);

  if (r.header.relayed) {
    FUZZ_CHECK(r.header.source.is_v4() == r.header.destination.is_v4());
    for (const auto& printed : {coftp::format_proxy_v1(r.header), coftp::format_proxy_v2(r.header)}) {
      auto again = coftp::parse_proxy_header(printed);
      FUZZ_CHECK(again.status == proxy_parse_status::complete && again.length == printed.size());
      FUZZ_CHECK(same(again.header, r.header));
    }
  }
  return 0;
}
