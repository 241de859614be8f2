// coftp/commands/tls.hpp - FTP security extensions for TLS (RFC 2228, RFC 4217): AUTH,
// PBSZ and PROT. Offered only when the server has a certificate (they answer 502 and
// stay out of FEAT otherwise). CCC is deliberately absent (502): a control connection
// never falls back to clear text.
#pragma once

#include <coftp/command_table.hpp>
#include <coftp/commands/common.hpp>

namespace coftp::commands {

/// What the TLS commands share: they are offered only when the server has a certificate.
struct tls_command {
  template <class Session>
  static bool offered(const Session& s) {
    return s.tls_offered();
  }
};

/// RFC 4217 4: "the client MUST send the AUTH command with the TLS mechanism ... If
/// the server is willing to accept the named security mechanism ... it will send a 234
/// reply", then the TLS handshake follows on the control connection. "SSL" and
/// "TLS-P" are the historical names (draft-murray-auth-ftp-ssl); as with vsftpd they
/// also turn on PROT P.
struct auth : tls_command {
  static constexpr std::string_view verb = "AUTH";
  static constexpr needs requires_ = needs::argument;
  static constexpr std::string_view usage = "Missing mechanism: AUTH TLS";
  static constexpr std::string_view syntax = "AUTH <sp> TLS";
  static constexpr std::string_view feature = "AUTH TLS";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    auto mechanism = coftp::detail::upper(arg);
    if (mechanism != "TLS" && mechanism != "TLS-C" && mechanism != "SSL" && mechanism != "TLS-P")
      co_return reply{reply_code::not_implemented_for_parameter, "Unsupported security mechanism; use AUTH TLS"};
    if (s.control_secure()) co_return reply{reply_code::bad_sequence, "TLS is already active on this connection"};
    bool private_data = mechanism == "SSL" || mechanism == "TLS-P";
    // The 234 goes out in clear, then the handshake follows on the same connection.
    co_await s.write_reply(reply{reply_code::security_accepted, "AUTH " + mechanism + " OK, starting TLS negotiation"});
    co_await s.secure_control(private_data);
    co_return reply{};
  }
};

/// RFC 4217 8: "PBSZ 0" must precede PROT; for TLS the buffer size is always 0, and a
/// client that asks for another gets "PBSZ=0" back (RFC 2228 3).
struct pbsz : tls_command {
  static constexpr std::string_view verb = "PBSZ";
  static constexpr needs requires_ = needs::argument;
  static constexpr std::string_view usage = "Missing buffer size: PBSZ 0";
  static constexpr std::string_view syntax = "PBSZ <sp> 0";
  static constexpr std::string_view feature = "PBSZ";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    if (!s.control_secure())
      co_return reply{reply_code::bad_sequence, "PBSZ needs a TLS control connection: send AUTH TLS first"};
    if (arg.empty() || arg.size() > 10 || arg.find_first_not_of("0123456789") != std::string_view::npos)
      co_return reply{reply_code::bad_arguments, "PBSZ takes a decimal number"};
    s.set_pbsz();
    if (arg.find_first_not_of('0') != std::string_view::npos) co_return reply{reply_code::ok, "PBSZ=0"};
    co_return reply{reply_code::ok, "PBSZ 0 successful"};
  }
};

/// RFC 4217 9: "PROT P" protects data connections with TLS, "PROT C" leaves them in
/// clear; "S" and "E" are not defined for TLS (536). RFC 2228: PROT before PBSZ is a
/// bad sequence (503).
struct prot : tls_command {
  static constexpr std::string_view verb = "PROT";
  static constexpr needs requires_ = needs::argument;
  static constexpr std::string_view usage = "Missing protection level: PROT P or PROT C";
  static constexpr std::string_view syntax = "PROT <sp> P | C";
  static constexpr std::string_view feature = "PROT";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    if (!s.control_secure())
      co_return reply{reply_code::bad_sequence, "PROT needs a TLS control connection: send AUTH TLS first"};
    if (!s.pbsz_set()) co_return reply{reply_code::bad_sequence, "PROT needs PBSZ first"};
    auto level = coftp::detail::upper(arg);
    if (level == "P") {
      s.set_private_data(true);
      co_return reply{reply_code::ok, "PROT now Private"};
    }
    if (level == "C") {
      s.set_private_data(false);
      co_return reply{reply_code::ok, "PROT now Clear"};
    }
    if (level == "S" || level == "E")
      co_return reply{reply_code::protection_not_supported, "PROT " + level + " is not supported with TLS; use P or C"};
    co_return reply{reply_code::not_implemented_for_parameter, "Unknown protection level; use P or C"};
  }
};

}  // namespace coftp::commands
