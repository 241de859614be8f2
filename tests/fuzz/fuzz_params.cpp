// fuzz_params: the arguments of PORT, EPRT and EPSV (include/coftp/commands/params.hpp),
// the commands that make the server open connections.
//
// The first byte picks the parser, the rest is the argument. Properties:
// - PORT: accepted exactly when a reference parser written here accepts (six comma
//   separated decimal numbers 0-255, spaces around each allowed), with the same values;
//   printing the endpoint back as "h1,h2,h3,h4,p1,p2" parses to the same endpoint.
// - EPRT: accepted only in the form <d>proto<d>address<d>port<d>, with a port 1-65535,
//   protocol 1 giving an IPv4 and 2 an IPv6 address; the address text is exactly what
//   the endpoint holds (no byte of it ignored: a NUL must not cut it short); printing the
//   endpoint back parses to the same endpoint; unknown protocol numbers are told apart
//   from garbage.
// - EPSV: agrees with a reference reading ("", "1", "2", "ALL" in any case, other numbers
//   0-255 unsupported, spaces around the argument ignored).
#include <coftp/commands/params.hpp>

#include "check.hpp"

#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char d) {
  std::vector<std::string_view> out;
  for (;;) {
    auto pos = s.find(d);
    out.push_back(s.substr(0, pos));
    if (pos == std::string_view::npos) return out;
    s.remove_prefix(pos + 1);
  }
}

// A decimal number of digits only, or nullopt; values beyond `max` too.
std::optional<unsigned long> number(std::string_view s, unsigned long max) {
  s = trim(s);
  if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  while (s.size() > 1 && s.front() == '0') s.remove_prefix(1);
  if (s.size() > 9) return std::nullopt;
  unsigned long v = std::stoul(std::string(s));
  if (v > max) return std::nullopt;
  return v;
}

void check_port(std::string_view arg) {
  auto ep = coftp::parse_port_argument(arg);
  auto fields = split(arg, ',');
  std::optional<unsigned long> f[6];
  bool ok = fields.size() == 6;
  for (std::size_t i = 0; ok && i < 6; ++i) ok = (f[i] = number(fields[i], 255)).has_value();
  FUZZ_CHECK(ep.has_value() == ok);
  if (!ep) return;
  FUZZ_CHECK(ep->address.is_v4());
  auto b = ep->address.to_v4().to_bytes();
  for (int i = 0; i < 4; ++i) FUZZ_CHECK(b[i] == *f[i]);
  FUZZ_CHECK(ep->port == *f[4] * 256 + *f[5]);
  std::string printed = std::to_string(b[0]) + ',' + std::to_string(b[1]) + ',' + std::to_string(b[2]) + ',' +
                        std::to_string(b[3]) + ',' + std::to_string(ep->port / 256) + ',' +
                        std::to_string(ep->port % 256);
  auto again = coftp::parse_port_argument(printed);
  FUZZ_CHECK(again && *again == *ep);
}

void check_eprt(std::string_view arg) {
  auto r = coftp::parse_eprt_argument(arg);
  // The reference reading of the frame: <d>f0<d>f1<d>f2<d>, d printable ASCII.
  bool framed = arg.size() >= 2 && arg.front() >= 33 && arg.front() <= 126 && arg.back() == arg.front();
  std::vector<std::string_view> f;
  if (framed) {
    f = split(arg.substr(1, arg.size() - 2), arg.front());
    framed = f.size() == 3;
  }
  if (!framed) {
    FUZZ_CHECK(r.status == coftp::eprt_argument::malformed);
    return;
  }
  auto port = number(f[2], 65535);
  bool port_ok = port && *port != 0;
  if (r.status == coftp::eprt_argument::unsupported_protocol) {
    FUZZ_CHECK(port_ok);
    FUZZ_CHECK(number(f[0], 255) && f[0] != "1" && f[0] != "2");
    return;
  }
  if (r.status == coftp::eprt_argument::malformed) {
    // Malformed although framed: a bad port, a bad protocol or an address that does
    // not parse. Where a reference exists (inet_pton, no IPv6 scope), it agrees.
    if (port_ok && f[1].find_first_of(std::string_view("\0%", 2)) == std::string_view::npos &&
        (f[0] == "1" || f[0] == "2")) {
      unsigned char buf[16];
      std::string text(f[1]);
      FUZZ_CHECK(inet_pton(f[0] == "1" ? AF_INET : AF_INET6, text.c_str(), buf) != 1);
    }
    return;
  }
  FUZZ_CHECK(r.status == coftp::eprt_argument::ok);
  FUZZ_CHECK(port_ok && r.target.port == *port);
  FUZZ_CHECK(f[0] == "1" || f[0] == "2");
  FUZZ_CHECK(r.target.address.is_v4() == (f[0] == "1"));
  FUZZ_CHECK(f[1].find('\0') == std::string_view::npos);
  if (f[0] == "1") FUZZ_CHECK(r.target.address.to_string() == f[1]);
  std::string printed = std::string(1, arg.front()) + std::string(f[0]) + arg.front() +
                        r.target.address.to_string() + arg.front() + std::to_string(r.target.port) +
                        arg.front();
  auto again = coftp::parse_eprt_argument(printed);
  FUZZ_CHECK(again.status == coftp::eprt_argument::ok && again.target == r.target);
}

void check_epsv(std::string_view arg) {
  auto r = coftp::parse_epsv_argument(arg);
  auto a = trim(arg);
  bool all = a.size() == 3 && (a[0] | 0x20) == 'a' && (a[1] | 0x20) == 'l' && (a[2] | 0x20) == 'l';
  auto n = number(a, 255);
  if (a.empty()) FUZZ_CHECK(r.kind == coftp::epsv_argument::any);
  else if (all) FUZZ_CHECK(r.kind == coftp::epsv_argument::all);
  else if (n && (*n == 1 || *n == 2)) FUZZ_CHECK(r.kind == coftp::epsv_argument::protocol && r.number == *n);
  else if (n) FUZZ_CHECK(r.kind == coftp::epsv_argument::unsupported_protocol);
  else FUZZ_CHECK(r.kind == coftp::epsv_argument::malformed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view arg(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: check_port(arg); break;
    case 1: check_eprt(arg); break;
    case 2: check_epsv(arg); break;
  }
  return 0;
}
