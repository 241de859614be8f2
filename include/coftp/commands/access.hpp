// coftp/commands/access.hpp - access control commands (RFC 959 4.1.1): USER, PASS, ACCT,
// REIN, QUIT.
#pragma once

#include <coftp/address.hpp>
#include <coftp/command_table.hpp>
#include <coftp/commands/common.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace coftp::commands {

/// RFC 7151 3: "HOST <SP> <hostname>" names the virtual host the client wants, before
/// USER (and, with TLS, before AUTH, so that the right host is known first): "220" when
/// it is served, "504" for a host the server does not have, "503" once a login has
/// begun (after REIN the client may choose again), "501" for a malformed name. A server
/// without virtual hosts accepts any well-formed name as its one host.
struct host {
  static constexpr std::string_view verb = "HOST";
  static constexpr needs requires_ = needs::argument;
  static constexpr std::string_view usage = "Missing host name";
  static constexpr std::string_view syntax = "HOST <sp> hostname";
  static constexpr std::string_view feature = "HOST";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    if (s.logged_in() || s.pending_user())
      co_return reply{reply_code::bad_sequence, "HOST must come before USER (send REIN first)"};
    auto name = canonical_host_name(arg);
    if (!name) co_return reply{reply_code::bad_arguments, "Invalid host name"};
    if (!s.select_host(*name)) co_return reply{reply_code::not_implemented_for_parameter, "Unknown virtual host"};
    co_return reply{reply_code::service_ready, "Host " + *name + " ready"};
  }
};

/// RFC 959: "The argument field is a Telnet string identifying the user."
struct user {
  static constexpr std::string_view verb = "USER";
  static constexpr needs requires_ = needs::unbanned | needs::argument;
  static constexpr std::string_view usage = "Missing username";
  static constexpr std::string_view syntax = "USER <sp> username";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    // RFC 4217 4: a server "may refuse" logins in clear; with TLS required it does.
    if (s.tls_required() && !s.control_secure())
      co_return reply{reply_code::not_logged_in, "TLS required: send AUTH TLS before USER"};
    s.begin_login(std::string(arg));
    co_return reply{reply_code::need_password, "Username OK, need password"};
  }
};

/// RFC 959: "This command must be immediately preceded by the user name command."
struct pass {
  static constexpr std::string_view verb = "PASS";
  static constexpr needs requires_ = needs::unbanned;
  static constexpr bool secret_argument = true;
  static constexpr std::string_view syntax = "PASS <sp> password";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    if (!s.pending_user()) {
      if (s.logged_in()) co_return reply{reply_code::bad_sequence, "Already logged in"};
      co_return reply{reply_code::bad_sequence, "Login with USER first"};
    }
    bool ok = co_await s.finish_login(arg);
    if (!ok) co_return reply{reply_code::not_logged_in, "Login incorrect"};
    co_return reply{reply_code::logged_in, "Login successful"};
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
    co_return reply{reply_code::superfluous, "No account needed, ACCT is superfluous here"};
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
    co_return reply{reply_code::service_ready, "Service ready for new user"};
  }
};

/// RFC 959: "This command terminates a USER and if file transfer is not in progress,
/// the server closes the control connection. If file transfer is in progress, the
/// connection will remain open for result response and the server will then close it."
struct quit {
  static constexpr std::string_view verb = "QUIT";
  static constexpr std::string_view syntax = "QUIT";
  static constexpr needs requires_ = needs::none;
  static constexpr while_transferring during_transfer = while_transferring::last;
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view) {
    s.quit();
    co_return reply{reply_code::closing_control, "Goodbye"};
  }
};

}  // namespace coftp::commands
