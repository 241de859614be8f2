// coftp/commands/params.hpp - transfer parameters (RFC 959 4.1.2, RFC 2428):
// TYPE, MODE, STRU, ALLO, PASV, EPSV, PORT, EPRT.
#pragma once

#include <coftp/command_table.hpp>
#include <coftp/commands/common.hpp>

#include <asio/ip/tcp.hpp>

#include <charconv>
#include <optional>

namespace coftp {

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
inline std::optional<asio::ip::tcp::endpoint> parse_port_argument(std::string_view arg) {
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
  return asio::ip::tcp::endpoint(asio::ip::address_v4(b), static_cast<std::uint16_t>(f[4] * 256 + f[5]));
}

/// What EPRT's argument says (RFC 2428 2): "<d><net-prt><d><net-addr><d><tcp-port><d>".
struct eprt_argument {
  enum status { ok, malformed, unsupported_protocol } status = malformed;
  asio::ip::tcp::endpoint endpoint{};
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
  out.endpoint = asio::ip::tcp::endpoint(addr, static_cast<std::uint16_t>(*port));
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
  auto a = detail::upper(arg);
  if (a.empty()) return {epsv_argument::any};
  if (a == "ALL") return {epsv_argument::all};
  auto n = detail::small_number(a, 255);
  if (!n) return {epsv_argument::malformed};
  if (*n == 1 || *n == 2) return {epsv_argument::protocol, *n};
  return {epsv_argument::unsupported_protocol, *n};
}

}  // namespace coftp

namespace coftp::commands {

namespace detail_params {
inline reply epsv_all_in_effect() { return {503, "EPSV ALL in effect: only EPSV may open data connections"}; }
}  // namespace detail_params

/// RFC 959: "The argument specifies the representation type." A (ASCII, with an
/// optional N format) converts line endings; I and L 8 move bytes as they are.
struct type {
  static constexpr std::string_view verb = "TYPE";
  static constexpr std::string_view syntax = "TYPE <sp> A | I | L 8";
  static constexpr needs requires_ = needs::login | needs::argument;
  static constexpr std::string_view usage = "Missing type";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    auto t = coftp::detail::upper(arg);
    if (t == "A" || t == "A N") {
      s.set_ascii(true);
      co_return reply{200, "Type set to A"};
    }
    if (t == "I" || t == "L 8") {
      s.set_ascii(false);
      co_return reply{200, "Type set to I"};
    }
    co_return reply{504, "Unsupported TYPE"};
  }
};

/// RFC 959: "The argument is a single Telnet character code specifying the data
/// transfer modes." Only S (stream), the default, is offered.
struct mode {
  static constexpr std::string_view verb = "MODE";
  static constexpr std::string_view syntax = "MODE <sp> S";
  static constexpr needs requires_ = needs::argument;
  template <class Session>
  static asio::awaitable<reply> run(Session&, std::string_view arg) {
    if (coftp::detail::upper(arg) == "S") co_return reply{200, "Mode set to S"};
    co_return reply{504, "Unsupported MODE"};
  }
};

/// RFC 959: "The argument is a single Telnet character code specifying file
/// structure." Only F (file), the default, is offered.
struct stru {
  static constexpr std::string_view verb = "STRU";
  static constexpr std::string_view syntax = "STRU <sp> F";
  static constexpr needs requires_ = needs::argument;
  template <class Session>
  static asio::awaitable<reply> run(Session&, std::string_view arg) {
    if (coftp::detail::upper(arg) == "F") co_return reply{200, "Structure set to F"};
    co_return reply{504, "Unsupported STRU"};
  }
};

/// RFC 959: "This command may be required by some servers to reserve sufficient
/// storage ... the command should be treated as a NOOP."
struct allo {
  static constexpr std::string_view verb = "ALLO";
  static constexpr std::string_view syntax = "ALLO <sp> bytes";
  static constexpr needs requires_ = needs::none;
  template <class Session>
  static asio::awaitable<reply> run(Session&, std::string_view) {
    co_return reply{202, "No storage allocation necessary"};
  }
};

/// RFC 959: "This command requests the server-DTP to 'listen' on a data port ... and
/// to wait for a connection rather than initiate one."
struct pasv {
  static constexpr std::string_view verb = "PASV";
  static constexpr std::string_view syntax = "PASV";
  static constexpr needs requires_ = needs::login;
  static constexpr std::string_view feature = "PASV";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view) {
    if (s.epsv_all()) co_return detail_params::epsv_all_in_effect();
    co_return s.open_passive(false);
  }
};

/// RFC 2428 3: "The EPSV command requests that a server listen on a data port and
/// wait for a connection." The reply names only the port: the client reuses the
/// control connection's address, which is what makes EPSV work through NAT and IPv6.
/// "EPSV ALL" tells the server "to reject all data connection setup commands other
/// than EPSV" for the rest of the session (RFC 2428 4).
struct epsv {
  static constexpr std::string_view verb = "EPSV";
  static constexpr needs requires_ = needs::login;
  static constexpr std::string_view feature = "EPSV";
  static constexpr std::string_view syntax = "EPSV [<sp> 1 | 2 | ALL]";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    auto a = parse_epsv_argument(arg);
    switch (a.kind) {
      case epsv_argument::all:
        s.set_epsv_all();
        co_return reply{200, "EPSV ALL accepted: PASV, PORT and EPRT are refused from now on"};
      case epsv_argument::any: co_return s.open_passive(true);
      case epsv_argument::protocol: co_return s.open_passive(true, static_cast<int>(a.number));
      case epsv_argument::unsupported_protocol: co_return reply{522, "Network protocol not supported, use (1,2)"};
      case epsv_argument::malformed: break;
    }
    co_return reply{501, "EPSV takes 1, 2 or ALL"};
  }
};

/// RFC 959: "The argument is a HOST-PORT specification for the data port to be used
/// in data connection." RFC 2577 4 (bounce attack): the server connects only to the
/// control connection's own address, never to a port below 1024.
struct port {
  static constexpr std::string_view verb = "PORT";
  static constexpr needs requires_ = needs::login | needs::argument;
  static constexpr std::string_view usage = "PORT requires h1,h2,h3,h4,p1,p2";
  static constexpr std::string_view syntax = "PORT <sp> h1,h2,h3,h4,p1,p2";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    if (s.epsv_all()) co_return detail_params::epsv_all_in_effect();
    auto ep = parse_port_argument(arg);
    if (!ep) co_return reply{501, "PORT requires h1,h2,h3,h4,p1,p2 (numbers 0-255)"};
    co_return s.open_active(*ep);
  }
};

/// RFC 2428 2: "The EPRT command allows for the specification of an extended address
/// for the data connection", IPv4 (1) or IPv6 (2): "EPRT |2|::1|6275|". The same
/// RFC 2577 rules as PORT apply.
struct eprt {
  static constexpr std::string_view verb = "EPRT";
  static constexpr needs requires_ = needs::login | needs::argument;
  static constexpr std::string_view usage = "EPRT requires <d><proto><d><address><d><port><d>";
  static constexpr std::string_view syntax = "EPRT <sp> |proto|address|port|";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    if (s.epsv_all()) co_return detail_params::epsv_all_in_effect();
    auto parsed = parse_eprt_argument(arg);
    if (parsed.status == eprt_argument::unsupported_protocol)
      co_return reply{522, "Network protocol not supported, use (1,2)"};
    if (parsed.status != eprt_argument::ok) co_return reply{501, std::string(usage)};
    co_return s.open_active(parsed.endpoint);
  }
};

}  // namespace coftp::commands
