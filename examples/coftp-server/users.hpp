// coftp-server's users: the authenticator built from --user, --passwd and --anonymous,
// and the password hashes (--hash-password, and --user's into a --passwd table).
#pragma once

#include "settings.hpp"
#include "startup_error.hpp"

#include <coftp/auth/passwd_file.hpp>
#include <coftp/coftp.hpp>

#include <unistd.h>

#include <iostream>
#include <optional>
#include <string>
#include <system_error>

namespace coftp_server {

// --user and --anonymous alone: a user_table (plain passwords from the command line).
// With --passwd: the file's users, the --user ones hashed into it at start-up, so
// that every login costs one hash and unknown names cannot be told apart.
struct server_auth {
  std::optional<coftp::passwd_file> passwd;
  coftp::user_table table;

  asio::awaitable<std::optional<coftp::user>> authenticate(const coftp::credentials& c) {
    if (passwd) {
      auto u = co_await passwd->authenticate(c);
      co_return u;
    }
    auto u = co_await table.authenticate(c);
    co_return u;
  }
};

// yescrypt, or SHA-512 from a libcrypt without yescrypt.
inline std::string default_hash(const std::string& pw) {
  try {
    return coftp::hash_password(pw, "$y$");
  } catch (const std::system_error&) {
    return coftp::hash_password(pw, "$6$");
  }
}

// --hash-password: one line from stdin (the line end is not part of the password),
// its hash on stdout.
inline int print_hash(const std::string& method) {
  if (isatty(STDIN_FILENO)) std::cerr << "Password (echoed): " << std::flush;
  std::string pw;
  if (!std::getline(std::cin, pw)) {
    std::cerr << "--hash-password: no password on stdin\n";
    return 2;
  }
  if (!pw.empty() && pw.back() == '\r') pw.pop_back();
  if (pw.empty()) {
    std::cerr << "--hash-password: refusing an empty password\n";
    return 2;
  }
  try {
    std::cout << (method == "sha512" ? coftp::hash_password(pw, "$6$") : default_hash(pw)) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "--hash-password: " << e.what() << "\n";
    return 2;
  }
  return 0;
}

// No --user and no --passwd: anonymous read-only access only.
inline bool no_users(const settings& s) { return s.users.empty() && s.passwd.empty(); }

// The users of --root. Throws startup_error.
inline server_auth make_auth(const settings& s) {
  server_auth auth;
  if (!s.passwd.empty()) {
    try {
      auth.passwd = coftp::passwd_file::load(s.passwd);
    } catch (const std::exception& e) {
      throw startup_error("--passwd: " + std::string(e.what()));
    }
  }
  for (const auto& u : s.users) {
    auto colon = u.find(':');
    if (colon == std::string::npos || colon == 0)
      throw startup_error("--user: expected NAME:PASSWORD, got '" + u + "'");
    if (auth.passwd) {
      try {
        auth.passwd->add(u.substr(0, colon), default_hash(u.substr(colon + 1)), coftp::permissions::all);
      } catch (const std::exception& e) {
        throw startup_error("--user " + u.substr(0, colon) + ": " + e.what());
      }
    } else
      auth.table.add(u.substr(0, colon), u.substr(colon + 1), coftp::permissions::all);
  }
  if (no_users(s) || s.anonymous) {
    if (auth.passwd) auth.passwd->allow_anonymous();
    else auth.table.allow_anonymous();
  }
  return auth;
}

}  // namespace coftp_server
