// coftp/commands/params.hpp - transfer parameters (RFC 959 4.1.2, RFC 2428):
// TYPE, MODE, STRU, ALLO, PASV, EPSV.
#pragma once

#include <coftp/command_table.hpp>
#include <coftp/commands/common.hpp>

namespace coftp::commands {

/// RFC 959: "The argument specifies the representation type." A (ASCII, with an
/// optional N format) converts line endings; I and L 8 move bytes as they are.
struct type {
  static constexpr std::string_view verb = "TYPE";
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
  static constexpr needs requires_ = needs::login;
  static constexpr std::string_view feature = "PASV";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view) {
    co_return s.open_passive(false);
  }
};

/// RFC 2428 3: "The EPSV command requests that a server listen on a data port and
/// wait for a connection." The reply names only the port: the client reuses the
/// control connection's address, which is what makes EPSV work through NAT and IPv6.
struct epsv {
  static constexpr std::string_view verb = "EPSV";
  static constexpr needs requires_ = needs::login;
  static constexpr std::string_view feature = "EPSV";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    auto a = coftp::detail::upper(arg);
    if (a == "ALL") co_return reply{200, "EPSV ALL accepted"};
    if (!a.empty() && a != "1" && a != "2") co_return reply{522, "Network protocol not supported, use (1,2)"};
    co_return s.open_passive(true);
  }
};

}  // namespace coftp::commands
