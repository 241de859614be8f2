// coftp/address.hpp - addresses as FTP writes them: the data-connection targets of
// PORT (RFC 959), EPRT and EPSV (RFC 2428), the host names of HOST (RFC 7151), and IPv4
// addresses seen through IPv6 sockets. Pure parsers: no socket, no I/O.
#pragma once

#include <asio/ip/address.hpp>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace coftp {

/// `a`, or the IPv4 address an IPv4-mapped IPv6 address (::ffff:a.b.c.d) stands for: a
/// dual-stack socket sees IPv4 clients so, and they must compare equal to their IPv4 form.
inline asio::ip::address normalized_address(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return asio::ip::address(asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()));
  return a;
}

/// Compares addresses, taking an IPv4-mapped IPv6 address as its IPv4 form.
inline bool same_address(const asio::ip::address& a, const asio::ip::address& b) {
  return normalized_address(a) == normalized_address(b);
}

/// An address and a port: where PORT and EPRT ask the server to connect.
struct host_port {
  asio::ip::address address{};
  std::uint16_t port = 0;
  friend bool operator==(const host_port&, const host_port&) = default;
};

namespace detail {
// A decimal number in [0, max], digits only.
inline std::optional<unsigned> small_number(std::string_view s, unsigned max) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  unsigned v = 0;
  auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || err != std::errc{} || end != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}
}  // namespace detail

/// Parses PORT's "h1,h2,h3,h4,p1,p2" (RFC 959 4.1.2). Nullopt when malformed.
inline std::optional<host_port> parse_port_argument(std::string_view arg) {
  unsigned f[6];
  for (int i = 0; i < 6; ++i) {
    auto comma = arg.find(',');
    if ((i < 5) == (comma == std::string_view::npos)) return std::nullopt;
    auto n = detail::small_number(arg.substr(0, comma), 255);
    if (!n) return std::nullopt;
    f[i] = *n;
    arg = i < 5 ? arg.substr(comma + 1) : std::string_view();
  }
  asio::ip::address_v4::bytes_type b{static_cast<unsigned char>(f[0]), static_cast<unsigned char>(f[1]),
                                     static_cast<unsigned char>(f[2]), static_cast<unsigned char>(f[3])};
  return host_port{asio::ip::address_v4(b), static_cast<std::uint16_t>(f[4] * 256 + f[5])};
}

/// What EPRT's argument says (RFC 2428 2): "<d><net-prt><d><net-addr><d><tcp-port><d>".
struct eprt_argument {
  enum status { ok, malformed, unsupported_protocol } status = malformed;
  host_port target{};
};

/// Parses EPRT's argument; the delimiter is its first character (ASCII 33-126).
inline eprt_argument parse_eprt_argument(std::string_view arg) {
  eprt_argument out;
  if (arg.size() < 7 || arg.front() < 33 || arg.front() > 126 || arg.back() != arg.front()) return out;
  char d = arg.front();
  std::string_view rest = arg.substr(1, arg.size() - 2);
  std::string_view fields[3];
  for (int i = 0; i < 3; ++i) {
    auto pos = rest.find(d);
    if ((i < 2) == (pos == std::string_view::npos)) return out;
    fields[i] = rest.substr(0, pos);
    rest = i < 2 ? rest.substr(pos + 1) : std::string_view();
  }
  auto port = detail::small_number(fields[2], 65535);
  if (!port || *port == 0) return out;
  // make_address_* read a C string: a NUL would end the address there and what follows
  // it would be ignored ("|1|127.0.0.1\0junk|...", "|2|fe80::1%\0...|...").
  if (fields[1].find('\0') != std::string_view::npos) return out;
  std::error_code ec;
  asio::ip::address addr;
  if (fields[0] == "1") addr = asio::ip::make_address_v4(std::string(fields[1]), ec);
  else if (fields[0] == "2") addr = asio::ip::make_address_v6(std::string(fields[1]), ec);
  else {
    out.status = detail::small_number(fields[0], 255) ? eprt_argument::unsupported_protocol : eprt_argument::malformed;
    return out;
  }
  if (ec) return out;
  out.status = eprt_argument::ok;
  out.target = host_port{addr, static_cast<std::uint16_t>(*port)};
  return out;
}

/// What EPSV's optional argument asks for (RFC 2428 3 and 4).
struct epsv_argument {
  enum kind {
    any,                   ///< no argument: a port for the control connection's protocol
    protocol,              ///< "1" (IPv4) or "2" (IPv6): `number` says which
    all,                   ///< "ALL": only EPSV may open data connections from now on
    unsupported_protocol,  ///< another protocol number (522)
    malformed,             ///< anything else (501)
  } kind = malformed;
  unsigned number = 0;  ///< the protocol number, for `protocol` and `unsupported_protocol`
};

/// Parses EPSV's argument: nothing, "1", "2" or "ALL" (any case), spaces around it aside.
inline epsv_argument parse_epsv_argument(std::string_view arg) {
  while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
  while (!arg.empty() && arg.back() == ' ') arg.remove_suffix(1);
  if (arg.empty()) return {epsv_argument::any};
  if (arg.size() == 3 && (arg[0] | 0x20) == 'a' && (arg[1] | 0x20) == 'l' && (arg[2] | 0x20) == 'l')
    return {epsv_argument::all};
  auto n = detail::small_number(arg, 255);
  if (!n) return {epsv_argument::malformed};
  if (*n == 1 || *n == 2) return {epsv_argument::protocol, *n};
  return {epsv_argument::unsupported_protocol, *n};
}


/// A host name of RFC 7151 HOST as virtual hosts are compared: a domain name (letters,
/// digits and hyphens in dot-separated labels of at most 63 characters, at most 253 in
/// all; an IPv4 address is one) in lower case without its trailing dot, or an IPv6
/// address in brackets ("[::1]") in canonical form. Nullopt for anything else.
inline std::optional<std::string> canonical_host_name(std::string_view name) {
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
    auto inner = name.substr(1, name.size() - 2);
    if (inner.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) return std::nullopt;
    std::error_code ec;
    auto a = asio::ip::make_address_v6(std::string(inner), ec);
    if (ec) return std::nullopt;
    return "[" + a.to_string() + "]";
  }
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return std::nullopt;
  std::string out;
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0 || out.back() == '-') return std::nullopt;
      label = 0;
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
      if (c == '-' && label == 0) return std::nullopt;
      ++label;
    } else if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
      ++label;
    } else {
      return std::nullopt;
    }
    if (label > 63) return std::nullopt;
    out += c;
  }
  if (label == 0 || out.back() == '-') return std::nullopt;
  return out;
}

}  // namespace coftp
