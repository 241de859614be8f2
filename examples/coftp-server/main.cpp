// coftp-server: the ready FTP server. Serves a directory (./ftp-root by default) on
// 127.0.0.1:2121, anonymous read-only unless users are given.
//
//   coftp-server                                  # anonymous, read-only, ./ftp-root
//   coftp-server --user alice:secret --port 21    # a writable user
//   coftp-server --run-as ftp --port 21 --xferlog /var/log/xferlog   # as root: binds, then drops to ftp
//   coftp-server --passwd users.txt               # users with hashed passwords
//   coftp-server --hash-password < pw.txt         # prints a hash for users.txt
//   coftp-server --s3-endpoint http://127.0.0.1:7480 --s3-bucket files --user alice:secret
//                                                 # files in an S3 bucket (keys from AWS_ACCESS_KEY_ID/...)
//   coftp-server --proxy-protocol-from 10.0.0.5   # behind HAProxy (send-proxy / send-proxy-v2)
//   coftp-server --virtual-host ftp.example.com=/srv/example,/etc/example.users   # RFC 7151 HOST
//   coftp-server --help
//
// The parts: settings.hpp (every option), command_line.cpp (the flags), users.hpp (the
// authenticator, password hashes), virtual_hosts.hpp, run_as.hpp (--run-as, root),
// serve.hpp (the server, run until a signal), systemd.hpp (sd_notify, socket
// activation). Exit status: 0, or 2 for a bad flag or a failure to start
// (startup_error), 1 when serving failed.
#include "command_line.hpp"
#include "run_as.hpp"
#include "serve.hpp"
#include "settings.hpp"
#include "startup_error.hpp"
#include "systemd.hpp"
#include "users.hpp"
#include "virtual_hosts.hpp"

#include <iostream>
#include <optional>
#include <vector>

int main(int argc, char** argv) {
  using namespace coftp_server;
  settings s;
  if (auto status = parse_command_line(argc, argv, s)) return *status;
  if (s.hash_only) return print_hash(s.hash_method);

  server_auth auth;
  std::optional<coftp::system_user> drop_to;
  std::vector<virtual_host_spec> hosts;
  try {
    check_flags(s);
    adopt_passed_sockets(s);  // socket activation (systemd.hpp): instead of binding --port
    auth = make_auth(s);
    drop_to = user_to_run_as(s);
    hosts = parse_virtual_hosts(s.virtual_hosts, auth);
    if (s.check_only) check_resources(s);
  } catch (const startup_error& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  if (s.check_only) {
    std::cout << "coftp-server: configuration OK"
              << (s.config_file.empty() ? std::string() : " (" + s.config_file + ")") << "\n";
    return 0;
  }
  return serve(s, std::move(auth), std::move(hosts), drop_to);
}
