// coftp/commands/params.hpp - transfer parameters (RFC 959 4.1.2, RFC 2428):
// TYPE, MODE, STRU, ALLO, PASV, EPSV, PORT, EPRT.
#pragma once

#include <coftp/address.hpp>
#include <coftp/command_table.hpp>
#include <coftp/commands/common.hpp>

#include <string>

namespace coftp::commands {

namespace detail_params {
inline reply epsv_all_in_effect() {
  return {reply_code::bad_sequence, "EPSV ALL in effect: only EPSV may open data connections"};
}

// EPSV (extended) and PASV: a listener on the control connection's local address, in the
// reply's form of each. EPSV 1 and EPSV 2 (`family`, RFC 2428 3) ask for IPv4 or IPv6.
template <class Session>
reply open_passive(Session& s, bool extended, unsigned family = 0) {
  using enum reply_code;
  auto addr = s.local_address();
  if (!addr) return {cannot_open_data, "Cannot open passive connection"};
  if ((family == 1 && !addr->is_v4()) || (family == 2 && !addr->is_v6()))
    return {protocol_not_supported, std::string("Network protocol not supported, use (") + (addr->is_v4() ? "1" : "2") + ")"};
  if (!extended && addr->is_v6()) return {cannot_open_data, "PASV is not available on an IPv6 connection, use EPSV"};
  auto port = s.listen_passive(*addr);
  if (port == 0) return {cannot_open_data, "Cannot open passive connection"};
  if (extended) return {entering_extended_passive, "Entering Extended Passive Mode (|||" + std::to_string(port) + "|)"};
  // The address announced: the operator's (behind NAT), else the one listened on.
  auto shown = addr->to_v4();
  if (const auto& nat = s.options().passive_address; !nat.empty()) {
    std::error_code ec;
    auto announced = asio::ip::make_address_v4(nat, ec);
    if (!ec) shown = announced;
  }
  auto b = shown.to_bytes();
  return {entering_passive, "Entering Passive Mode (" + std::to_string(b[0]) + "," + std::to_string(b[1]) + "," +
                                std::to_string(b[2]) + "," + std::to_string(b[3]) + "," + std::to_string(port >> 8) +
                                "," + std::to_string(port & 0xff) + ")"};
}

// PORT and EPRT: the next transfer connects to `target`, if the session allows it.
template <class Session>
reply open_active(Session& s, const host_port& target) {
  using enum reply_code;
  using status = typename Session::active_target;
  switch (s.connect_active(target)) {
    case status::set: break;
    case status::disabled: return {not_implemented, "Active mode is disabled on this server, use EPSV or PASV"};
    case status::foreign_address:
      return {syntax_error, "Illegal address: data connections go to the client's own address only"};
    case status::privileged_port: return {not_implemented_for_parameter, "Illegal port: ports below 1024 are refused"};
    case status::no_connection: return {cannot_open_data, "Cannot open data connection"};
  }
  return {ok, "Active mode: will connect to " + normalized_address(target.address).to_string() + " port " +
                  std::to_string(target.port)};
}
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
      co_return reply{reply_code::ok, "Type set to A"};
    }
    if (t == "I" || t == "L 8") {
      s.set_ascii(false);
      co_return reply{reply_code::ok, "Type set to I"};
    }
    co_return reply{reply_code::not_implemented_for_parameter, "Unsupported TYPE"};
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
    if (coftp::detail::upper(arg) == "S") co_return reply{reply_code::ok, "Mode set to S"};
    co_return reply{reply_code::not_implemented_for_parameter, "Unsupported MODE"};
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
    if (coftp::detail::upper(arg) == "F") co_return reply{reply_code::ok, "Structure set to F"};
    co_return reply{reply_code::not_implemented_for_parameter, "Unsupported STRU"};
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
    co_return reply{reply_code::superfluous, "No storage allocation necessary"};
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
    co_return detail_params::open_passive(s, false);
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
        co_return reply{reply_code::ok, "EPSV ALL accepted: PASV, PORT and EPRT are refused from now on"};
      case epsv_argument::any: co_return detail_params::open_passive(s, true);
      case epsv_argument::protocol: co_return detail_params::open_passive(s, true, a.number);
      case epsv_argument::unsupported_protocol:
        co_return reply{reply_code::protocol_not_supported, "Network protocol not supported, use (1,2)"};
      case epsv_argument::malformed: break;
    }
    co_return reply{reply_code::bad_arguments, "EPSV takes 1, 2 or ALL"};
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
    if (!ep) co_return reply{reply_code::bad_arguments, "PORT requires h1,h2,h3,h4,p1,p2 (numbers 0-255)"};
    co_return detail_params::open_active(s, *ep);
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
      co_return reply{reply_code::protocol_not_supported, "Network protocol not supported, use (1,2)"};
    if (parsed.status != eprt_argument::ok) co_return reply{reply_code::bad_arguments, std::string(usage)};
    co_return detail_params::open_active(s, parsed.target);
  }
};

}  // namespace coftp::commands
