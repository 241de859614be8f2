// coftp/options.hpp - run-time settings of a server, an aggregate with documented defaults.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

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
};

}  // namespace coftp
