// coftp/proxy_protocol.hpp - the PROXY protocol header (HAProxy's proxy-protocol.txt,
// versions 1 and 2): the line or block a load balancer sends before the first byte of
// a relayed connection, naming the client it relays.
//
// Sans-I/O: `parse_proxy_header` looks at the bytes received so far and says whether
// they hold a complete header (and how long it is), need more bytes, or are no header.
// It never needs more than `proxy_v1_max_length` (v1) or `proxy_v2_max_length` (v2)
// bytes, and a complete header's `length` ends exactly where the header does, so a
// reader that consumes only that many bytes leaves what follows (FTP commands, a TLS
// ClientHello) untouched. The server reads it in detail/proxy_io.hpp.
//
// What is taken from a header: the source address and port of a TCP (STREAM) connection
// over IPv4 or IPv6. v2 LOCAL (a proxy's own health check), v1 UNKNOWN, and v2 families
// coftp does not serve (UNSPEC, UNIX, datagrams) are valid headers that name nobody:
// `relayed` is false and the connection's own address stays (the spec's "fall back to
// UNSPEC" rule). v2 TLVs are skipped unread.
#pragma once

#include <asio/ip/address.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace coftp {

/// Longest v1 header, "\r\n" included (proxy-protocol.txt 2.1).
inline constexpr std::size_t proxy_v1_max_length = 107;
/// Longest v2 header accepted: the 16-byte fixed part, the largest address block (216
/// bytes, UNIX) and room for TLVs. The spec allows 16 + 65535; coftp refuses more than
/// this so that a header is read within a bound (HAProxy's own sends far less).
inline constexpr std::size_t proxy_v2_max_length = 16 + 536;

/// What a complete PROXY header says.
struct proxy_header {
  int version = 0;        ///< 1 or 2
  bool relayed = false;   ///< true: `source` is the client; false: LOCAL/UNKNOWN, keep the connection's address
  asio::ip::address source{};       ///< the client's address (when relayed)
  std::uint16_t source_port = 0;
  asio::ip::address destination{};  ///< the address the client connected to (when relayed)
  std::uint16_t destination_port = 0;
};

/// What the bytes received so far are.
enum class proxy_parse_status {
  complete,    ///< a whole header: `length` bytes, described by `header`
  incomplete,  ///< a header's beginning: read more (never more than the maximum lengths)
  invalid,     ///< no PROXY header (or a malformed or over-long one): drop the connection
};

/// The result of `parse_proxy_header`.
struct proxy_parse_result {
  proxy_parse_status status = proxy_parse_status::incomplete;
  std::size_t length = 0;  ///< bytes of the header when complete
  proxy_header header{};
};

namespace detail {

inline constexpr std::string_view proxy_v2_signature{"\r\n\r\n\0\r\nQUIT\n", 12};

inline proxy_parse_result proxy_invalid() { return {proxy_parse_status::invalid, 0, {}}; }

// A decimal port of v1: 1 to 5 digits, at most 65535.
inline bool proxy_v1_port(std::string_view s, std::uint16_t& port) {
  if (s.empty() || s.size() > 5) return false;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + unsigned(c - '0');
  }
  if (v > 65535) return false;
  port = static_cast<std::uint16_t>(v);
  return true;
}

// An address of v1 in the family its protocol names. inet_pton's forms only: no scope
// ids ("%eth0"), no names.
inline bool proxy_v1_address(std::string_view s, bool v6, asio::ip::address& out) {
  if (s.empty() || s.size() > 45) return false;
  if (s.find_first_not_of(v6 ? "0123456789abcdefABCDEF:." : "0123456789.") != std::string_view::npos) return false;
  std::error_code ec;
  if (v6) out = asio::ip::make_address_v6(std::string(s), ec);
  else out = asio::ip::make_address_v4(std::string(s), ec);
  return !ec;
}

// "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", "PROXY UNKNOWN ...\r\n".
inline proxy_parse_result parse_proxy_v1(std::string_view in) {
  constexpr std::string_view prefix = "PROXY ";
  if (in.substr(0, prefix.size()) != prefix.substr(0, in.size() < prefix.size() ? in.size() : prefix.size()))
    return proxy_invalid();
  auto window = in.substr(0, proxy_v1_max_length);
  auto lf = window.find('\n');
  if (lf == std::string_view::npos) {
    // Only a line's characters may come before its end: a CR is allowed as the last byte.
    auto cr = window.find('\r');
    if (cr != std::string_view::npos && cr + 1 != window.size()) return proxy_invalid();
    if (window.size() >= proxy_v1_max_length) return proxy_invalid();
    return {proxy_parse_status::incomplete, 0, {}};
  }
  if (lf < prefix.size() + 1 || window[lf - 1] != '\r') return proxy_invalid();
  std::string_view line = window.substr(prefix.size(), lf - 1 - prefix.size());
  if (line.find('\r') != std::string_view::npos) return proxy_invalid();
  proxy_parse_result r{proxy_parse_status::complete, lf + 1, {}};
  r.header.version = 1;
  // "UNKNOWN": the receiver must ignore anything up to the CRLF.
  if (line == "UNKNOWN" || line.substr(0, 8) == "UNKNOWN ") return r;
  std::array<std::string_view, 5> field;
  std::size_t n = 0;
  while (n < field.size()) {
    auto sp = line.find(' ');
    field[n++] = line.substr(0, sp);
    if (sp == std::string_view::npos) {
      line = {};
      break;
    }
    line.remove_prefix(sp + 1);
    if (n == field.size()) return proxy_invalid();  // a sixth field
  }
  if (n != field.size() || !line.empty()) return proxy_invalid();
  bool v6 = field[0] == "TCP6";
  if (!v6 && field[0] != "TCP4") return proxy_invalid();
  auto& h = r.header;
  if (!proxy_v1_address(field[1], v6, h.source) || !proxy_v1_address(field[2], v6, h.destination) ||
      !proxy_v1_port(field[3], h.source_port) || !proxy_v1_port(field[4], h.destination_port))
    return proxy_invalid();
  h.relayed = true;
  return r;
}

inline proxy_parse_result parse_proxy_v2(std::string_view in) {
  const auto& sig = proxy_v2_signature;
  if (in.substr(0, sig.size()) != sig.substr(0, in.size() < sig.size() ? in.size() : sig.size()))
    return proxy_invalid();
  if (in.size() < 16) return {proxy_parse_status::incomplete, 0, {}};
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(in[i]); };
  unsigned version = byte(12) >> 4, command = byte(12) & 0xf;
  unsigned family = byte(13) >> 4, transport = byte(13) & 0xf;
  // Unassigned commands, families and protocols must be refused (2.2).
  if (version != 2 || command > 1 || family > 3 || transport > 2) return proxy_invalid();
  std::size_t length = 16 + ((std::size_t(byte(14)) << 8) | byte(15));
  if (length > proxy_v2_max_length) return proxy_invalid();
  if (in.size() < length) return {proxy_parse_status::incomplete, 0, {}};
  proxy_parse_result r{proxy_parse_status::complete, length, {}};
  r.header.version = 2;
  if (command == 0) return r;  // LOCAL: the address block, whatever it holds, is ignored
  // The address block must be there whole for the family announced.
  std::size_t block = family == 1 ? 12 : family == 2 ? 36 : family == 3 ? 216 : 0;
  if (transport != 0 && length - 16 < block) return proxy_invalid();
  if (transport != 1 || (family != 1 && family != 2)) return r;  // not TCP: treated as UNSPEC
  auto& h = r.header;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data()) + 16;
  std::size_t a = family == 1 ? 4 : 16;
  if (family == 1) {
    asio::ip::address_v4::bytes_type s, d;
    for (std::size_t i = 0; i < 4; ++i) s[i] = p[i], d[i] = p[4 + i];
    h.source = asio::ip::address_v4(s);
    h.destination = asio::ip::address_v4(d);
  } else {
    asio::ip::address_v6::bytes_type s, d;
    for (std::size_t i = 0; i < 16; ++i) s[i] = p[i], d[i] = p[16 + i];
    h.source = asio::ip::address_v6(s);
    h.destination = asio::ip::address_v6(d);
  }
  h.source_port = static_cast<std::uint16_t>((p[2 * a] << 8) | p[2 * a + 1]);
  h.destination_port = static_cast<std::uint16_t>((p[2 * a + 2] << 8) | p[2 * a + 3]);
  h.relayed = true;
  return r;
}

}  // namespace detail

/// Parses the beginning of a relayed connection, `in` being every byte received so far
/// (more than the header is fine: only the header is looked at).
///
/// Version 2 starts with its 12-byte signature, version 1 with "PROXY "; anything else
/// is `invalid` as soon as a byte differs. `incomplete` asks for more bytes, and is
/// never returned past `proxy_v1_max_length` or `proxy_v2_max_length` bytes.
///
/// @par Example
/// @code
/// auto r = coftp::parse_proxy_header("PROXY TCP4 10.1.2.3 10.0.0.1 40000 21\r\nUSER x\r\n");
/// // r.status == complete, r.length == 41, r.header.source == 10.1.2.3
/// @endcode
inline proxy_parse_result parse_proxy_header(std::string_view in) {
  if (in.empty()) return {proxy_parse_status::incomplete, 0, {}};
  if (in[0] == '\r') return detail::parse_proxy_v2(in);
  return detail::parse_proxy_v1(in);
}

/// A v1 header line for `h` ("PROXY UNKNOWN\r\n" when not relayed): what a proxy sends.
/// For tests and for programs that relay connections to coftp.
inline std::string format_proxy_v1(const proxy_header& h) {
  if (!h.relayed) return "PROXY UNKNOWN\r\n";
  return std::string("PROXY ") + (h.source.is_v6() ? "TCP6 " : "TCP4 ") + h.source.to_string() + " " +
         h.destination.to_string() + " " + std::to_string(h.source_port) + " " + std::to_string(h.destination_port) +
         "\r\n";
}

/// A v2 header for `h` (LOCAL when not relayed, else PROXY over TCP), followed by
/// `tlvs` (already encoded type-length-value records, skipped by the parser).
inline std::string format_proxy_v2(const proxy_header& h, std::string_view tlvs = {}) {
  std::string out(detail::proxy_v2_signature);
  bool v6 = h.relayed && h.source.is_v6();
  std::size_t block = !h.relayed ? 0 : v6 ? 36 : 12;
  std::size_t len = block + tlvs.size();
  out += static_cast<char>(h.relayed ? 0x21 : 0x20);
  out += static_cast<char>(!h.relayed ? 0x00 : v6 ? 0x21 : 0x11);
  out += static_cast<char>((len >> 8) & 0xff);
  out += static_cast<char>(len & 0xff);
  if (h.relayed) {
    auto put = [&](const auto& bytes) { out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size()); };
    if (v6) {
      put(h.source.to_v6().to_bytes());
      put(h.destination.is_v6() ? h.destination.to_v6().to_bytes() : asio::ip::address_v6().to_bytes());
    } else {
      put(h.source.to_v4().to_bytes());
      put(h.destination.is_v4() ? h.destination.to_v4().to_bytes() : asio::ip::address_v4().to_bytes());
    }
    for (auto port : {h.source_port, h.destination_port}) {
      out += static_cast<char>(port >> 8);
      out += static_cast<char>(port & 0xff);
    }
  }
  out.append(tlvs);
  return out;
}

}  // namespace coftp
