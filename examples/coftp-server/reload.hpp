// coftp-server's reload (SIGHUP, `systemctl reload`): the command line, the environment
// and the config file parsed again, the users files read again, and what can change
// while sessions run handed to the server (basic_server::reconfigure and
// replace_authenticator):
//   - users, passwords, homes and permissions: the next login asks the new ones; a user
//     already logged in stays logged in, even one the reload removed (as vsftpd and
//     ProFTPD do: closing sessions is a restart's or a kill's part);
//   - the allow/deny lists and the ban settings: the next connection and login;
//   - limits, timeouts, bandwidth limits, passive ports, TLS settings and a renewed
//     certificate or key: the sessions that start after the reload; a running session
//     keeps those it began with, and its TLS context, so that its data connections
//     resume its control connection's TLS session;
//   - the log files are reopened (after logrotate moved them).
// What only a restart changes (the addresses and ports, the storage, the threads, the
// virtual hosts' names and roots, the log files' names and format, the user served as)
// keeps its value and is named in the log. A reload whose configuration is invalid
// changes nothing and says why.
#pragma once

#include "command_line.hpp"
#include "settings.hpp"
#include "startup_error.hpp"
#include "users.hpp"
#include "virtual_hosts.hpp"

#include <exception>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

namespace coftp_server {

// Where `next` differs from `current` in what only a restart changes: the option names,
// after `next` was given `current`'s values there (so that it is what is in force).
inline std::vector<std::string> keep_restart_only(const settings& current, settings& next) {
  std::vector<std::string> changed;
  auto keep = [&](auto& field, const auto& now, const char* name) {
    if (field != now) changed.emplace_back(name);
    field = now;
  };
  keep(next.root, current.root, "--root");
#if COFTP_EXAMPLE_S3
  keep(next.s3_endpoint, current.s3_endpoint, "--s3-endpoint");
  keep(next.s3.bucket, current.s3.bucket, "--s3-bucket");
  keep(next.s3.prefix, current.s3.prefix, "--s3-prefix");
  keep(next.s3.region, current.s3.region, "--s3-region");
  keep(next.s3_part_size, current.s3_part_size, "--s3-part-size");
  keep(next.s3.parts_in_flight, current.s3.parts_in_flight, "--s3-parts-in-flight");
#endif
  keep(next.threads, current.threads, "--threads");
  keep(next.run_as, current.run_as, "--run-as");
  keep(next.allow_root, current.allow_root, "--allow-root");
  keep(next.quiet, current.quiet, "--quiet");
  keep(next.log_path, current.log_path, "--log");
  keep(next.log_format, current.log_format, "--log-format");
  keep(next.xferlog_path, current.xferlog_path, "--xferlog");
  keep(next.metrics_address, current.metrics_address, "--metrics-address");
  keep(next.named_temp_files, current.named_temp_files, "--test-named-temp-files");
  next.server.listen_fd = current.server.listen_fd;  // sockets passed by systemd stay
  next.server.tls.implicit_listen_fd = current.server.tls.implicit_listen_fd;
  return changed;
}

// The flag of a server_options field that basic_server::reconfigure keeps.
inline std::string flag_of(const std::string& field) {
  if (field == "tls.implicit_port") return "--implicit-tls-port";
  if (field == "tls.detect_on_control_port") return "--tls-detect";
  if (field == "proxy_protocol_from") return "--proxy-protocol-from";
  return "--" + field;  // host, port
}

// The virtual hosts' names and roots, in order: what a reload cannot change.
inline std::vector<std::string> host_layout(const std::vector<virtual_host_spec>& hosts) {
  std::vector<std::string> v;
  for (const auto& h : hosts) v.push_back(h.name + '=' + h.root);
  return v;
}

// Reloads `server` from the configuration `current` was parsed from; on success
// `current` becomes the configuration in force and `hosts_layout` stays. Logs to
// stdout what changed, to stderr why nothing did. `reopen_logs()` reopens the log
// files. True when the reload was applied.
template <class Server, class ReopenLogs>
bool reload(Server& server, settings& current, const std::vector<std::string>& hosts_layout,
            ReopenLogs reopen_logs) {
  try {
    settings next = parse_again(current);
    check_flags(next);
    server_auth auth = make_auth(next);
    auto hosts = parse_virtual_hosts(next.virtual_hosts, auth);
    auto restart = keep_restart_only(current, next);
    if (host_layout(hosts) != hosts_layout) restart.emplace_back("--virtual-host (names and roots)");
    // reconfigure() checks everything it takes (lists, certificate) before it changes
    // anything: a throw here leaves the server as it was.
    for (const auto& name : server.reconfigure(next.server)) restart.push_back(flag_of(name));
    const auto users = auth.passwd ? auth.passwd->size() : next.users.size();
    server.replace_authenticator(std::move(auth));
    for (auto& h : hosts) server.replace_authenticator(h.name, std::move(h.auth));
    reopen_logs();
    std::cout << "reloaded" << (next.config_file.empty() ? std::string() : " " + next.config_file) << ": " << users
              << " user(s)";
    if (!restart.empty()) {
      std::cout << "; needs a restart, kept as it was:";
      for (const auto& r : restart) std::cout << " " << r;
    }
    std::cout << std::endl;
    current = std::move(next);
    return true;
  } catch (const std::exception& e) {
    reopen_logs();  // a SIGHUP from logrotate still gets its new files
    std::cerr << "coftp-server: reload refused, nothing changed: " << e.what() << std::endl;
    return false;
  }
}

}  // namespace coftp_server
