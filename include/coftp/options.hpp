// coftp/options.hpp - run-time settings of a server, an aggregate with documented defaults.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace coftp {

/// Settings of a server. Use designated initializers:
/// `server_options{.port = 2121, .idle_timeout = std::chrono::minutes(5)}`.
struct server_options {
  std::string host = "127.0.0.1";  ///< address to listen on
  std::uint16_t port = 2121;       ///< 0 picks a free port (read it back with `endpoint()`)

  std::string greeting = "coftp FTP server ready";  ///< text of the 220 banner

  std::chrono::milliseconds idle_timeout{std::chrono::seconds(300)};  ///< idle control connection is closed with 421
  std::chrono::milliseconds data_timeout{std::chrono::seconds(30)};  ///< wait for a data connection, or a stalled one
  std::chrono::milliseconds login_failure_delay{1000};  ///< pause before "530 Login incorrect"
  std::chrono::milliseconds shutdown_grace{std::chrono::seconds(10)};  ///< how long `stop()` lets transfers finish

  std::uint16_t passive_port_min = 0;  ///< passive range; 0/0 lets the kernel choose
  std::uint16_t passive_port_max = 0;
  std::string passive_address{};  ///< address announced in 227 (NAT); empty: the control address
  bool active_mode = true;        ///< PORT/EPRT allowed (to the client's own address, ports >= 1024)

  std::size_t max_sessions = 1000;            ///< beyond it: "421 Too many connections"
  std::size_t max_sessions_per_address = 50;  ///< per client IP address

  // Login abuse (coftp/address_guard.hpp). A client address is the IP address, an
  // IPv4-mapped IPv6 address counting as its IPv4 form.
  std::chrono::milliseconds login_timeout{std::chrono::seconds(60)};  ///< connect to successful PASS, else 421
  std::size_t max_login_failures = 3;  ///< failed PASS per connection, then closed after the 530; 0: no limit
  std::size_t ban_after = 10;          ///< failed logins from one address within ban_window ban it; 0: never
  std::chrono::milliseconds ban_window{std::chrono::minutes(5)};
  std::chrono::milliseconds ban_time{std::chrono::minutes(15)};  ///< banned: 421 at connect, USER and PASS
  std::size_t max_tracked_addresses = 10000;  ///< bound of the failure table; the oldest entries go first
  std::vector<std::string> allow{};  ///< CIDR blocks ("10.0.0.0/8", "::1"); empty: every address
  std::vector<std::string> deny{};   ///< CIDR blocks refused with 421 at connect; deny wins over allow
};

}  // namespace coftp
