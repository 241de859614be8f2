// coftp/commands/access.hpp - access control commands (RFC 959 4.1.1): USER, PASS, ACCT,
// REIN, QUIT.
#pragma once

#include <coftp/command_table.hpp>
#include <coftp/commands/common.hpp>

namespace coftp::commands {

/// RFC 959: "The argument field is a Telnet string identifying the user."
struct user {
  static constexpr std::string_view verb = "USER";
  static constexpr needs requires_ = needs::argument;
  static constexpr std::string_view usage = "Missing username";
  static constexpr std::string_view syntax = "USER <sp> username";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    // RFC 4217 4: a server "may refuse" logins in clear; with TLS required it does.
    if (s.tls_required() && !s.control_secure())
      co_return reply{530, "TLS required: send AUTH TLS before USER"};
    s.begin_login(std::string(arg));
    co_return reply{331, "Username OK, need password"};
  }
};

/// RFC 959: "This command must be immediately preceded by the user name command."
struct pass {
  static constexpr std::string_view verb = "PASS";
  static constexpr needs requires_ = needs::none;
  static constexpr std::string_view syntax = "PASS <sp> password";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    if (!s.pending_user()) {
      if (s.logged_in()) co_return reply{503, "Already logged in"};
      co_return reply{503, "Login with USER first"};
    }
    bool ok = co_await s.finish_login(arg);
    if (!ok) co_return reply{530, "Login incorrect"};
    co_return reply{230, "Login successful"};
  }
};

/// RFC 959: "The argument field is a Telnet string identifying the user's account."
/// No account is ever needed here: "202 Command not implemented, superfluous at this
/// site."
struct acct {
  static constexpr std::string_view verb = "ACCT";
  static constexpr needs requires_ = needs::none;
  static constexpr std::string_view syntax = "ACCT <sp> account-information";
  template <class Session>
  static asio::awaitable<reply> run(Session&, std::string_view) {
    co_return reply{202, "No account needed, ACCT is superfluous here"};
  }
};

/// RFC 959: "This command terminates a USER, flushing all I/O and account
/// information, except to allow any transfer in progress to be completed. All
/// parameters are reset to the default settings and the control connection is left
/// open." (A transfer in progress has finished before the session reads REIN.)
struct rein {
  static constexpr std::string_view verb = "REIN";
  static constexpr needs requires_ = needs::none;
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view) {
    s.reinitialize();
    co_return reply{220, "Service ready for new user"};
  }
};

/// RFC 959: "This command terminates a USER and if file transfer is not in progress,
/// the server closes the control connection."
struct quit {
  static constexpr std::string_view verb = "QUIT";
  static constexpr std::string_view syntax = "QUIT";
  static constexpr needs requires_ = needs::none;
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view) {
    s.quit();
    co_return reply{221, "Goodbye"};
  }
};

}  // namespace coftp::commands
