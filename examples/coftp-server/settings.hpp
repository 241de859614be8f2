// coftp-server's settings: every option (command_line.cpp fills them from the command
// line, the environment and the config file), with the defaults --help shows. Durations are numbers in the units of their flags (seconds
// unless said); parse_command_line puts them into `server` (coftp::server_options).
#pragma once

#include <coftp/options.hpp>

#if COFTP_EXAMPLE_S3
#include <coftp/storage/s3.hpp>
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace coftp_server {

inline long whole_seconds(std::chrono::milliseconds d) { return static_cast<long>(d.count() / 1000); }

struct settings {
  // The library's options: --host, --port, --pasv-address, --tls-*, --max-sessions[-per-address],
  // --max-login-failures, --ban-after, --allow, --deny and --proxy-protocol-from go here
  // directly; the others below once parsed.
  coftp::server_options server;

  std::string root = "./ftp-root";
#if COFTP_EXAMPLE_S3
  std::string s3_endpoint, s3_credentials_file;
  coftp::s3_options s3;
  std::uint64_t s3_part_size = s3.part_size;
#endif

  // Users.
  std::vector<std::string> users;  // --user NAME:PASSWORD
  std::string passwd;              // --passwd FILE
  bool anonymous = false;
  bool hash_only = false;  // --hash-password
  std::string hash_method = "yescrypt";

  // Data connections.
  std::string pasv_ports;
  bool no_active = false;

  // TLS (the rest is in server.tls).
  std::uint16_t implicit_port = 0;
  bool no_reuse = false;  // --tls-no-session-reuse

  // Sessions and limits.
  unsigned threads = 0;  // 0: one per core (parse_command_line puts the number in)
  long idle = static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(server.idle_timeout).count());
  std::uint64_t max_rate = 0, max_user_rate = 0;                            // bytes/s
  long upload_end_wait = static_cast<long>(server.upload_end_wait.count());  // microseconds
  long grace = whole_seconds(server.shutdown_grace);                         // --shutdown-grace
  long proxy_timeout = static_cast<long>(server.proxy_protocol_timeout.count());  // milliseconds

  // Logins.
  long login_timeout = whole_seconds(server.login_timeout);
  long failure_delay = static_cast<long>(server.login_failure_delay.count());  // milliseconds
  long ban_window = whole_seconds(server.ban_window);
  long ban_time = whole_seconds(server.ban_time);

  // Logs and the process.
  bool quiet = false;
  std::string log_path, xferlog_path, run_as;
  std::string log_format = "text";  // or "json"
  std::string metrics_address;      // --metrics-address HOST:PORT; empty: off
  bool allow_root = false;
  bool named_temp_files = false;  // --test-named-temp-files (tests only)

  std::vector<std::string> virtual_hosts;  // --virtual-host NAME=ROOT[,USERS_FILE]

  // The configuration itself.
  std::vector<std::string> args;  // the command line without the program: a reload parses it again
  std::string config_file;        // --config (or COFTP_CONFIG); empty: none
  bool check_only = false;        // --check-config
  bool print_only = false;        // --print-config
};

}  // namespace coftp_server
