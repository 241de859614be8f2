// coftp-server's command line: the CLI11 set-up of every flag (settings.hpp), the parse
// and the checks of what CLI11 does not check.
#include "command_line.hpp"

#include "startup_error.hpp"

#include <coftp/access_control.hpp>
#include <coftp/config.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

namespace coftp_server {

std::optional<int> parse_command_line(int argc, char** argv, settings& s) {
  CLI::App app{"coftp-server " COFTP_VERSION ": an FTP server serving one directory.\n"
               "Without --user or --passwd it serves anonymous read-only access."};
  auto& opts = s.server;

  app.add_option("--host", opts.host, "Address to listen on")->capture_default_str();
  app.add_option("--port", opts.port, "Port to listen on (0 picks a free one)")->capture_default_str();
  app.add_option("--root", s.root, "Directory to serve (created if missing)")->capture_default_str();
#if COFTP_EXAMPLE_S3
  auto& s3 = s.s3;
  auto* s3_flag = app.add_option("--s3-endpoint", s.s3_endpoint,
                                 "Serve an S3 bucket instead of --root: the store's URL (http://127.0.0.1:7480, "
                                 "https://s3.eu-west-1.amazonaws.com); keys from AWS_ACCESS_KEY_ID and "
                                 "AWS_SECRET_ACCESS_KEY, or --s3-credentials");
  app.add_option("--s3-bucket", s3.bucket, "The bucket (path-style addressing)")->needs(s3_flag);
  app.add_option("--s3-prefix", s3.prefix, "Key prefix under which the served tree lies (e.g. site1/)")->needs(s3_flag);
  app.add_option("--s3-region", s3.region, "Region of the request signatures")->needs(s3_flag)->capture_default_str();
  app.add_option("--s3-credentials", s.s3_credentials_file,
                 "Keys from FILE in the AWS shared-credentials format ([default] aws_access_key_id = ..., "
                 "aws_secret_access_key = ...) instead of the environment")
      ->check(CLI::ExistingFile)
      ->needs(s3_flag);
  app.add_option("--s3-part-size", s.s3_part_size, "Part size of multipart uploads (K, M suffixes; S3 wants >= 5M)")
      ->transform(CLI::AsSizeValue(false))
      ->needs(s3_flag)
      ->capture_default_str();
  app.add_option("--s3-parts-in-flight", s3.parts_in_flight, "Parts of one upload sent at once")
      ->check(CLI::Range(1, 64))
      ->needs(s3_flag)
      ->capture_default_str();
#endif
  app.add_option("--user", s.users, "A read-write user NAME:PASSWORD rooted at --root (repeatable)");
  app.add_option("--passwd", s.passwd,
                 "Users from FILE, one a line: name:hash:home:permissions (hash from --hash-password; "
                 "permissions: read,list,write,delete,rename,mkdir,rmdir,site or all, ro, none)")
      ->check(CLI::ExistingFile);
  app.add_flag("--anonymous", s.anonymous, "Also allow anonymous read-only logins (default when no --user or --passwd)");
  app.add_flag("--hash-password", s.hash_only,
               "Read a password (one line) on stdin, print its crypt(3) hash for a --passwd file, and exit");
  app.add_option("--hash-method", s.hash_method, "Method of --hash-password")
      ->check(CLI::IsMember({"yescrypt", "sha512"}))
      ->capture_default_str();
  app.add_option("--pasv-ports", s.pasv_ports, "Passive port range MIN-MAX (default: any free port)");
  app.add_option("--pasv-address", opts.passive_address, "IPv4 address announced in PASV replies (NAT)");
  app.add_flag("--no-active", s.no_active, "Refuse active mode (PORT and EPRT); passive only");
  auto& tls = opts.tls;
  auto* cert = app.add_option("--tls-cert", tls.certificate_file, "PEM certificate chain: offers FTPS (AUTH TLS)")
                   ->check(CLI::ExistingFile);
  app.add_option("--tls-key", tls.private_key_file, "PEM private key (default: in --tls-cert)")
      ->check(CLI::ExistingFile)
      ->needs(cert);
  app.add_flag("--tls-required", tls.required, "Refuse USER/PASS before AUTH TLS and data without PROT P")
      ->needs(cert);
  app.add_option("--implicit-tls-port", s.implicit_port, "Also serve implicit FTPS on this port (e.g. 990)")
      ->needs(cert);
  app.add_flag("--tls-detect", tls.detect_on_control_port,
               "Serve implicit FTPS, explicit FTPS and plain FTP on --port (TLS ClientHello detection)")
      ->needs(cert);
  app.add_flag("--tls-no-session-reuse", s.no_reuse,
               "Accept PROT P data connections that do not resume the control TLS session (unsafe; for "
               "clients such as Python's ftplib)")
      ->needs(cert);
  app.add_flag("--tls-strict-close", tls.require_close_notify,
               "Refuse uploads whose TLS stream ends without close_notify")
      ->needs(cert);
  app.add_option("--threads", s.threads, "Threads running the sessions (one io_context each)")->check(CLI::Range(1u, 256u))->capture_default_str();
  app.add_option("--idle-timeout", s.idle, "Seconds before an idle session is closed")->check(CLI::Range(1L, 86400L))->capture_default_str();
  app.add_option("--max-sessions", opts.max_sessions, "Maximum concurrent sessions")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--max-sessions-per-address", opts.max_sessions_per_address,
                 "Maximum concurrent sessions from one client address")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--max-rate", s.max_rate,
                 "Bandwidth of each session's file transfers, bytes/s each way (suffixes K, M, G: 1024-based; 0: unlimited)")
      ->transform(CLI::AsSizeValue(false));
  app.add_option("--max-user-rate", s.max_user_rate,
                 "Bandwidth of all the sessions of one user together, bytes/s each way (K, M, G; 0: unlimited)")
      ->transform(CLI::AsSizeValue(false));
  app.add_flag("--quiet", s.quiet, "No session log");
  app.add_option("--log", s.log_path, "Append the session log to FILE instead of standard error");
  app.add_option("--xferlog", s.xferlog_path, "Append one line per upload and download to FILE (xferlog(5) format)");
  app.add_option("--run-as", s.run_as, "Started as root: bind the ports, then drop to USER's uid, gid and groups");
  app.add_flag("--allow-root", s.allow_root, "Serve as root (without --run-as); refused otherwise");
  // Tests only (hidden from --help): uploads into named temporary files, as on a file
  // system without O_TMPFILE, so that their handling (hidden, removed at start) is tested.
  app.add_flag("--test-named-temp-files", s.named_temp_files, "Upload into named temporary files (tests only)")
      ->group("");
  app.add_option("--login-timeout", s.login_timeout, "Seconds from connect to a successful login, else 421")
      ->check(CLI::Range(1L, 86400L))->capture_default_str();
  app.add_option("--login-failure-delay", s.failure_delay, "Milliseconds before each 530 for a failed login")
      ->check(CLI::Range(0L, 60000L))->capture_default_str();
  app.add_option("--upload-end-wait", s.upload_end_wait,
                 "Microseconds an ended upload waits for a sign that its client died before it is kept "
                 "(over a network, its jitter; 0: only what has arrived)")
      ->check(CLI::Range(0L, 10000000L))->capture_default_str();
  app.add_option("--max-login-failures", opts.max_login_failures,
                 "Failed logins per connection, then it is closed (0: no limit)")->capture_default_str();
  app.add_option("--ban-after", opts.ban_after,
                 "Failed logins from one address within --ban-window that ban it (0: never ban)")->capture_default_str();
  app.add_option("--ban-window", s.ban_window, "Seconds in which --ban-after failures ban an address")
      ->check(CLI::Range(1L, 86400L * 30))->capture_default_str();
  app.add_option("--ban-time", s.ban_time, "Seconds a banned address is refused with 421")
      ->check(CLI::Range(1L, 86400L * 30))->capture_default_str();
  app.add_option("--allow", opts.allow, "Only these client addresses (CIDR: 10.0.0.0/8, ::1; repeatable)");
  app.add_option("--deny", opts.deny, "Refuse these client addresses with 421 (CIDR; repeatable; wins over --allow)");
  app.add_option("--proxy-protocol-from", opts.proxy_protocol_from,
                 "Trusted proxies (CIDR; repeatable or comma-separated): their connections must begin with a PROXY "
                 "protocol v1/v2 header (HAProxy send-proxy[-v2]) naming the real client, used for limits, bans, "
                 "the data-connection check and logs; a connection without a valid header is closed. Other "
                 "addresses are served as direct clients")
      ->delimiter(',');
  app.add_option("--shutdown-grace", s.grace,
                 "Seconds SIGTERM/SIGINT lets running transfers finish before they are cut (a second signal cuts "
                 "them at once)")
      ->check(CLI::Range(0L, 86400L))->capture_default_str();
  app.add_option("--proxy-protocol-timeout", s.proxy_timeout, "Milliseconds to wait for a trusted proxy's PROXY header")
      ->check(CLI::Range(1L, 60000L))->capture_default_str();
  app.add_option("--virtual-host", s.virtual_hosts,
                 "NAME=ROOT[,USERS_FILE]: RFC 7151 HOST NAME serves ROOT (a directory, created if missing; with --s3-endpoint a key prefix in the bucket) to the users of "
                 "USERS_FILE (a --passwd file; default: the same users as --root). Repeatable. Once any is given, "
                 "HOST of another name gets 504; clients sending no HOST get --root");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  opts.idle_timeout = std::chrono::seconds(s.idle);
  opts.session_rate = {s.max_rate, s.max_rate};
  opts.user_rate = {s.max_user_rate, s.max_user_rate};
  if (app.count("--implicit-tls-port") > 0) tls.implicit_port = s.implicit_port;
  tls.require_session_reuse = !s.no_reuse;
  opts.login_timeout = std::chrono::seconds(s.login_timeout);
  opts.login_failure_delay = std::chrono::milliseconds(s.failure_delay);
  opts.upload_end_wait = std::chrono::microseconds(s.upload_end_wait);
  opts.ban_window = std::chrono::seconds(s.ban_window);
  opts.ban_time = std::chrono::seconds(s.ban_time);
  opts.proxy_protocol_timeout = std::chrono::milliseconds(s.proxy_timeout);
  opts.shutdown_grace = std::chrono::seconds(s.grace);
  opts.active_mode = !s.no_active;
  return std::nullopt;
}

void check_flags(settings& s) {
  auto& opts = s.server;
  for (const auto* list : {&opts.allow, &opts.deny, &opts.proxy_protocol_from}) {
    for (const auto& rule : *list) {
      if (auto ec = coftp::cidr::parse(rule).first) {
        throw startup_error(
            std::string(list == &opts.allow ? "--allow" : list == &opts.deny ? "--deny" : "--proxy-protocol-from") +
            ": '" + rule + "': " + ec.message() + " (expected ADDRESS or ADDRESS/PREFIX, e.g. 10.0.0.0/8 or ::1)");
      }
    }
  }
  if (!s.pasv_ports.empty()) {
    unsigned lo = 0, hi = 0;
    char dash = 0;
    if (std::sscanf(s.pasv_ports.c_str(), "%u%c%u", &lo, &dash, &hi) != 3 || dash != '-' || lo == 0 || hi < lo ||
        hi > 65535)
      throw startup_error("--pasv-ports: expected MIN-MAX, e.g. 50000-50100");
    opts.passive_port_min = static_cast<std::uint16_t>(lo);
    opts.passive_port_max = static_cast<std::uint16_t>(hi);
  }

#if COFTP_EXAMPLE_S3
  if (!s.s3_endpoint.empty()) {
    s.s3.endpoint = s.s3_endpoint;
    s.s3.part_size = s.s3_part_size;
    auto cred = s.s3_credentials_file.empty() ? coftp::s3_credentials_from_env()
                                              : coftp::s3_credentials_from_file(s.s3_credentials_file);
    if (!cred)
      throw startup_error(
          "--s3-endpoint: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass "
          "--s3-credentials FILE (never on the command line)");
    if (s.s3.bucket.empty()) throw startup_error("--s3-endpoint: --s3-bucket is required");
    s.s3.credentials = *cred;
  }
#endif
}

}  // namespace coftp_server
