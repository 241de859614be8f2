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
#include <coftp/auth/passwd_file.hpp>
#include <coftp/coftp.hpp>

#if COFTP_EXAMPLE_S3
#include <coftp/storage/s3.hpp>
#endif

#include <CLI/CLI.hpp>
#include <asio/signal_set.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <system_error>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

#include <unistd.h>

namespace {

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

// The session log (stderr or --log FILE) and the transfer log (--xferlog FILE), both
// written by library observers; either may be off (--quiet, no --xferlog). The storage
// is a directory (local_fs) or, with --s3-*, a bucket (s3_storage).
template <class Storage>
struct policies : coftp::default_policies {
  using storage = Storage;
  using authenticator = server_auth;
  using observer = coftp::observers<coftp::session_log_observer, coftp::xferlog_observer>;
};

// yescrypt, or SHA-512 from a libcrypt without yescrypt.
std::string default_hash(const std::string& pw) {
  try {
    return coftp::hash_password(pw, "$y$");
  } catch (const std::system_error&) {
    return coftp::hash_password(pw, "$6$");
  }
}

// --hash-password: one line from stdin (the line end is not part of the password),
// its hash on stdout.
int print_hash(const std::string& method) {
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

// Every session holds a descriptor, every transfer one or two more: the usual soft limit
// (1024) would refuse clients long before the machine has to. Raised to the hard limit
// (the ceiling an unprivileged process has; fs.nr_open when that is "unlimited").
// Returns the limit in force.
rlim_t raise_descriptor_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur == rl.rlim_max) return rl.rlim_cur;
  rlimit want = rl;
  want.rlim_cur = rl.rlim_max;
  if (rl.rlim_max == RLIM_INFINITY) {
    unsigned long nr_open = 0;
    if (std::FILE* f = std::fopen("/proc/sys/fs/nr_open", "r")) {
      if (std::fscanf(f, "%lu", &nr_open) != 1) nr_open = 0;
      std::fclose(f);
    }
    if (nr_open == 0) return rl.rlim_cur;
    want.rlim_cur = nr_open;
  }
  if (::setrlimit(RLIMIT_NOFILE, &want) != 0) return rl.rlim_cur;
  return want.rlim_cur;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"coftp-server " COFTP_VERSION ": an FTP server serving one directory.\n"
               "Without --user or --passwd it serves anonymous read-only access."};
  coftp::server_options opts;
  std::string root = "./ftp-root";
  std::vector<std::string> users;
  bool anonymous = false;
  std::string pasv_ports;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  long idle = static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(opts.idle_timeout).count());
  bool quiet = false;
  auto seconds = [](std::chrono::milliseconds d) { return static_cast<long>(d.count() / 1000); };
  long login_timeout = seconds(opts.login_timeout);
  long ban_window = seconds(opts.ban_window);
  long ban_time = seconds(opts.ban_time);
  long failure_delay = static_cast<long>(opts.login_failure_delay.count());
  long upload_end_wait = static_cast<long>(opts.upload_end_wait.count());

  app.add_option("--host", opts.host, "Address to listen on")->capture_default_str();
  app.add_option("--port", opts.port, "Port to listen on (0 picks a free one)")->capture_default_str();
  app.add_option("--root", root, "Directory to serve (created if missing)")->capture_default_str();
  std::string s3_endpoint, s3_credentials_file;
#if COFTP_EXAMPLE_S3
  coftp::s3_options s3;
  std::uint64_t s3_part_size = s3.part_size;
  auto* s3_flag = app.add_option("--s3-endpoint", s3_endpoint,
                                 "Serve an S3 bucket instead of --root: the store's URL (http://127.0.0.1:7480, "
                                 "https://s3.eu-west-1.amazonaws.com); keys from AWS_ACCESS_KEY_ID and "
                                 "AWS_SECRET_ACCESS_KEY, or --s3-credentials");
  app.add_option("--s3-bucket", s3.bucket, "The bucket (path-style addressing)")->needs(s3_flag);
  app.add_option("--s3-prefix", s3.prefix, "Key prefix under which the served tree lies (e.g. site1/)")->needs(s3_flag);
  app.add_option("--s3-region", s3.region, "Region of the request signatures")->needs(s3_flag)->capture_default_str();
  app.add_option("--s3-credentials", s3_credentials_file,
                 "Keys from FILE in the AWS shared-credentials format ([default] aws_access_key_id = ..., "
                 "aws_secret_access_key = ...) instead of the environment")
      ->check(CLI::ExistingFile)
      ->needs(s3_flag);
  app.add_option("--s3-part-size", s3_part_size, "Part size of multipart uploads (K, M suffixes; S3 wants >= 5M)")
      ->transform(CLI::AsSizeValue(false))
      ->needs(s3_flag)
      ->capture_default_str();
  app.add_option("--s3-parts-in-flight", s3.parts_in_flight, "Parts of one upload sent at once")
      ->check(CLI::Range(1, 64))
      ->needs(s3_flag)
      ->capture_default_str();
#endif
  app.add_option("--user", users, "A read-write user NAME:PASSWORD rooted at --root (repeatable)");
  std::string passwd;
  app.add_option("--passwd", passwd,
                 "Users from FILE, one a line: name:hash:home:permissions (hash from --hash-password; "
                 "permissions: read,list,write,delete,rename,mkdir,rmdir,site or all, ro, none)")
      ->check(CLI::ExistingFile);
  app.add_flag("--anonymous", anonymous, "Also allow anonymous read-only logins (default when no --user or --passwd)");
  bool hash_only = false;
  std::string hash_method = "yescrypt";
  app.add_flag("--hash-password", hash_only,
               "Read a password (one line) on stdin, print its crypt(3) hash for a --passwd file, and exit");
  app.add_option("--hash-method", hash_method, "Method of --hash-password")
      ->check(CLI::IsMember({"yescrypt", "sha512"}))
      ->capture_default_str();
  app.add_option("--pasv-ports", pasv_ports, "Passive port range MIN-MAX (default: any free port)");
  app.add_option("--pasv-address", opts.passive_address, "IPv4 address announced in PASV replies (NAT)");
  bool no_active = false;
  app.add_flag("--no-active", no_active, "Refuse active mode (PORT and EPRT); passive only");
  auto& tls = opts.tls;
  auto* cert = app.add_option("--tls-cert", tls.certificate_file, "PEM certificate chain: offers FTPS (AUTH TLS)")
                   ->check(CLI::ExistingFile);
  app.add_option("--tls-key", tls.private_key_file, "PEM private key (default: in --tls-cert)")
      ->check(CLI::ExistingFile)
      ->needs(cert);
  app.add_flag("--tls-required", tls.required, "Refuse USER/PASS before AUTH TLS and data without PROT P")
      ->needs(cert);
  std::uint16_t implicit_port = 0;
  app.add_option("--implicit-tls-port", implicit_port, "Also serve implicit FTPS on this port (e.g. 990)")
      ->needs(cert);
  app.add_flag("--tls-detect", tls.detect_on_control_port,
               "Serve implicit FTPS, explicit FTPS and plain FTP on --port (TLS ClientHello detection)")
      ->needs(cert);
  bool no_reuse = false;
  app.add_flag("--tls-no-session-reuse", no_reuse,
               "Accept PROT P data connections that do not resume the control TLS session (unsafe; for "
               "clients such as Python's ftplib)")
      ->needs(cert);
  app.add_flag("--tls-strict-close", tls.require_close_notify,
               "Refuse uploads whose TLS stream ends without close_notify")
      ->needs(cert);
  app.add_option("--threads", threads, "Threads running the sessions (one io_context each)")->check(CLI::Range(1u, 256u))->capture_default_str();
  app.add_option("--idle-timeout", idle, "Seconds before an idle session is closed")->check(CLI::Range(1L, 86400L))->capture_default_str();
  app.add_option("--max-sessions", opts.max_sessions, "Maximum concurrent sessions")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--max-sessions-per-address", opts.max_sessions_per_address,
                 "Maximum concurrent sessions from one client address")->check(CLI::PositiveNumber)->capture_default_str();
  std::uint64_t max_rate = 0, max_user_rate = 0;
  app.add_option("--max-rate", max_rate,
                 "Bandwidth of each session's file transfers, bytes/s each way (suffixes K, M, G: 1024-based; 0: unlimited)")
      ->transform(CLI::AsSizeValue(false));
  app.add_option("--max-user-rate", max_user_rate,
                 "Bandwidth of all the sessions of one user together, bytes/s each way (K, M, G; 0: unlimited)")
      ->transform(CLI::AsSizeValue(false));
  app.add_flag("--quiet", quiet, "No session log");
  std::string log_path, xferlog_path, run_as;
  bool allow_root = false;
  app.add_option("--log", log_path, "Append the session log to FILE instead of standard error");
  app.add_option("--xferlog", xferlog_path, "Append one line per upload and download to FILE (xferlog(5) format)");
  app.add_option("--run-as", run_as, "Started as root: bind the ports, then drop to USER's uid, gid and groups");
  app.add_flag("--allow-root", allow_root, "Serve as root (without --run-as); refused otherwise");
  // Tests only (hidden from --help): uploads into named temporary files, as on a file
  // system without O_TMPFILE, so that their handling (hidden, removed at start) is tested.
  bool named_temp_files = false;
  app.add_flag("--test-named-temp-files", named_temp_files, "Upload into named temporary files (tests only)")
      ->group("");
  app.add_option("--login-timeout", login_timeout, "Seconds from connect to a successful login, else 421")
      ->check(CLI::Range(1L, 86400L))->capture_default_str();
  app.add_option("--login-failure-delay", failure_delay, "Milliseconds before each 530 for a failed login")
      ->check(CLI::Range(0L, 60000L))->capture_default_str();
  app.add_option("--upload-end-wait", upload_end_wait,
                 "Microseconds an ended upload waits for a sign that its client died before it is kept "
                 "(over a network, its jitter; 0: only what has arrived)")
      ->check(CLI::Range(0L, 10000000L))->capture_default_str();
  app.add_option("--max-login-failures", opts.max_login_failures,
                 "Failed logins per connection, then it is closed (0: no limit)")->capture_default_str();
  app.add_option("--ban-after", opts.ban_after,
                 "Failed logins from one address within --ban-window that ban it (0: never ban)")->capture_default_str();
  app.add_option("--ban-window", ban_window, "Seconds in which --ban-after failures ban an address")
      ->check(CLI::Range(1L, 86400L * 30))->capture_default_str();
  app.add_option("--ban-time", ban_time, "Seconds a banned address is refused with 421")
      ->check(CLI::Range(1L, 86400L * 30))->capture_default_str();
  app.add_option("--allow", opts.allow, "Only these client addresses (CIDR: 10.0.0.0/8, ::1; repeatable)");
  app.add_option("--deny", opts.deny, "Refuse these client addresses with 421 (CIDR; repeatable; wins over --allow)");
  app.add_option("--proxy-protocol-from", opts.proxy_protocol_from,
                 "Trusted proxies (CIDR; repeatable or comma-separated): their connections must begin with a PROXY "
                 "protocol v1/v2 header (HAProxy send-proxy[-v2]) naming the real client, used for limits, bans, "
                 "the data-connection check and logs; a connection without a valid header is closed. Other "
                 "addresses are served as direct clients")
      ->delimiter(',');
  long grace = seconds(opts.shutdown_grace);
  app.add_option("--shutdown-grace", grace,
                 "Seconds SIGTERM/SIGINT lets running transfers finish before they are cut (a second signal cuts "
                 "them at once)")
      ->check(CLI::Range(0L, 86400L))->capture_default_str();
  long proxy_timeout = static_cast<long>(opts.proxy_protocol_timeout.count());
  app.add_option("--proxy-protocol-timeout", proxy_timeout, "Milliseconds to wait for a trusted proxy's PROXY header")
      ->check(CLI::Range(1L, 60000L))->capture_default_str();
  std::vector<std::string> virtual_hosts;
  app.add_option("--virtual-host", virtual_hosts,
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

  if (hash_only) return print_hash(hash_method);

  opts.idle_timeout = std::chrono::seconds(idle);
  opts.session_rate = {max_rate, max_rate};
  opts.user_rate = {max_user_rate, max_user_rate};
  if (app.count("--implicit-tls-port") > 0) tls.implicit_port = implicit_port;
  tls.require_session_reuse = !no_reuse;
  opts.login_timeout = std::chrono::seconds(login_timeout);
  opts.login_failure_delay = std::chrono::milliseconds(failure_delay);
  opts.upload_end_wait = std::chrono::microseconds(upload_end_wait);
  opts.ban_window = std::chrono::seconds(ban_window);
  opts.ban_time = std::chrono::seconds(ban_time);
  opts.proxy_protocol_timeout = std::chrono::milliseconds(proxy_timeout);
  opts.shutdown_grace = std::chrono::seconds(grace);
  for (const auto* list : {&opts.allow, &opts.deny, &opts.proxy_protocol_from}) {
    for (const auto& rule : *list) {
      if (auto ec = coftp::cidr::parse(rule).first) {
        std::cerr << (list == &opts.allow ? "--allow" : list == &opts.deny ? "--deny" : "--proxy-protocol-from")
                  << ": '" << rule << "': " << ec.message()
                  << " (expected ADDRESS or ADDRESS/PREFIX, e.g. 10.0.0.0/8 or ::1)\n";
        return 2;
      }
    }
  }
  opts.active_mode = !no_active;
  if (!pasv_ports.empty()) {
    unsigned lo = 0, hi = 0;
    char dash = 0;
    if (std::sscanf(pasv_ports.c_str(), "%u%c%u", &lo, &dash, &hi) != 3 || dash != '-' || lo == 0 || hi < lo ||
        hi > 65535) {
      std::cerr << "--pasv-ports: expected MIN-MAX, e.g. 50000-50100\n";
      return 2;
    }
    opts.passive_port_min = static_cast<std::uint16_t>(lo);
    opts.passive_port_max = static_cast<std::uint16_t>(hi);
  }

#if COFTP_EXAMPLE_S3
  if (!s3_endpoint.empty()) {
    s3.endpoint = s3_endpoint;
    s3.part_size = s3_part_size;
    auto cred = s3_credentials_file.empty() ? coftp::s3_credentials_from_env()
                                            : coftp::s3_credentials_from_file(s3_credentials_file);
    if (!cred) {
      std::cerr << "--s3-endpoint: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass "
                   "--s3-credentials FILE (never on the command line)\n";
      return 2;
    }
    if (s3.bucket.empty()) {
      std::cerr << "--s3-endpoint: --s3-bucket is required\n";
      return 2;
    }
    s3.credentials = *cred;
  }
#endif

  server_auth auth;
  if (!passwd.empty()) {
    try {
      auth.passwd = coftp::passwd_file::load(passwd);
    } catch (const std::exception& e) {
      std::cerr << "--passwd: " << e.what() << "\n";
      return 2;
    }
  }
  for (const auto& u : users) {
    auto colon = u.find(':');
    if (colon == std::string::npos || colon == 0) {
      std::cerr << "--user: expected NAME:PASSWORD, got '" << u << "'\n";
      return 2;
    }
    if (auth.passwd) {
      try {
        auth.passwd->add(u.substr(0, colon), default_hash(u.substr(colon + 1)), coftp::permissions::all);
      } catch (const std::exception& e) {
        std::cerr << "--user " << u.substr(0, colon) << ": " << e.what() << "\n";
        return 2;
      }
    } else
      auth.table.add(u.substr(0, colon), u.substr(colon + 1), coftp::permissions::all);
  }
  bool no_users = users.empty() && passwd.empty();
  if (no_users || anonymous) {
    if (auth.passwd) auth.passwd->allow_anonymous();
    else auth.table.allow_anonymous();
  }

  // Root is refused unless asked for: a flaw in a session would hand over the machine.
  std::optional<coftp::system_user> drop_to;
  if (!run_as.empty()) {
    try {
      drop_to = coftp::lookup_system_user(run_as);
    } catch (const std::exception& e) {
      std::cerr << "coftp-server: --run-as: " << e.what() << "\n";
      return 2;
    }
    if (drop_to->uid == 0) {
      std::cerr << "coftp-server: --run-as " << run_as << ": uid 0 is root; use --allow-root to serve as root\n";
      return 2;
    }
    if (!coftp::running_as_root()) {
      if (drop_to->uid != ::geteuid()) {
        std::cerr << "coftp-server: --run-as " << run_as << " needs root (running as uid " << ::geteuid() << ")\n";
        return 2;
      }
      drop_to.reset();  // already that user: nothing to drop
    }
  } else if (coftp::running_as_root() && !allow_root) {
    std::cerr << "coftp-server: refusing to serve as root. Pass --run-as USER (e.g. --run-as nobody) to drop\n"
                 "to USER after binding the ports, or --allow-root to serve as root anyway.\n";
    return 2;
  }

  // --virtual-host NAME=ROOT[,USERS_FILE]: parsed (and the users files loaded) now, the
  // roots opened with the server's, before any privilege drop.
  struct virtual_host_spec {
    std::string name, root, users;
    server_auth auth;
  };
  std::vector<virtual_host_spec> hosts;
  for (const auto& v : virtual_hosts) {
    auto eq = v.find('=');
    auto comma = v.find(',', eq == std::string::npos ? 0 : eq);
    virtual_host_spec h;
    if (eq != std::string::npos) {
      h.name = v.substr(0, eq);
      h.root = v.substr(eq + 1, comma == std::string::npos ? std::string::npos : comma - eq - 1);
      if (comma != std::string::npos) h.users = v.substr(comma + 1);
    }
    if (h.name.empty() || h.root.empty() || !coftp::canonical_host_name(h.name) ||
        (comma != std::string::npos && h.users.empty())) {
      std::cerr << "--virtual-host: expected NAME=ROOT[,USERS_FILE] with NAME a host name, got '" << v << "'\n";
      return 2;
    }
    h.auth = auth;  // the users of --root, unless the host has a file of its own
    if (!h.users.empty()) {
      try {
        h.auth = server_auth{coftp::passwd_file::load(h.users), {}};
      } catch (const std::exception& e) {
        std::cerr << "--virtual-host " << h.name << ": " << e.what() << "\n";
        return 2;
      }
    }
    hosts.push_back(std::move(h));
  }

  const auto user_count = auth.passwd ? auth.passwd->size() : users.size();
  // Serves `make_storage()`: the same server over a directory or a bucket.
  auto serve = [&](auto make_storage, auto make_host_storage) -> int {
    using storage_type = decltype(make_storage());
    constexpr bool on_disk = std::is_same_v<storage_type, coftp::local_fs>;
    try {
      // Everything only root may open is opened now: logs, the listening sockets, the
      // served directory (local_fs keeps it as a descriptor).
      coftp::session_log_observer session_log;
      if (!quiet) session_log = coftp::session_log_observer(log_path.empty() ? coftp::log_file::standard_error()
                                                                              : coftp::log_file::open(log_path));
      coftp::xferlog_observer xferlog;
      if (!xferlog_path.empty()) xferlog = coftp::xferlog_observer(coftp::log_file::open(xferlog_path));

      std::string shown_root = s3_endpoint;
      if constexpr (on_disk) {
        bool created = std::filesystem::create_directories(root);
        // A directory made here for a user who will not be root is theirs, so that uploads work.
        if (created && drop_to && ::chown(root.c_str(), drop_to->uid, drop_to->gid) != 0)
          throw std::system_error(errno, std::system_category(), "chown " + root);
        shown_root = std::filesystem::canonical(root).string();  // before the drop: parents may be closed to USER
      }

      const auto descriptors = raise_descriptor_limit();
      // The listener and the signals run on `io` (this thread). With more than one thread,
      // the sessions run on one io_context per thread, so that none hands work to another.
      asio::io_context io(1);
      std::vector<std::unique_ptr<asio::io_context>> session_ios;
      for (unsigned i = 0; threads > 1 && i < threads; ++i) session_ios.push_back(std::make_unique<asio::io_context>(1));
      using server_policies = policies<storage_type>;
      coftp::basic_server<server_policies> server(io, opts, make_storage(), std::move(auth),
                                                  typename server_policies::observer(session_log, xferlog));
      std::vector<storage_type*> served{&server.storage()};
      // Each virtual host's ROOT: a directory, or with --s3-* a key prefix in the bucket.
      for (auto& h : hosts) {
        if constexpr (on_disk) {
          bool made = std::filesystem::create_directories(h.root);
          if (made && drop_to && ::chown(h.root.c_str(), drop_to->uid, drop_to->gid) != 0)
            throw std::system_error(errno, std::system_category(), "chown " + h.root);
        }
        served.push_back(&server.add_virtual_host(h.name, make_host_storage(h.root), std::move(h.auth)).storage);
      }
      std::vector<asio::io_context*> contexts;
      for (auto& c : session_ios) contexts.push_back(c.get());
      if (!contexts.empty()) server.set_session_contexts(std::move(contexts));
      if (drop_to) {
        coftp::drop_privileges(*drop_to);  // throws unless dropped for good, before any session runs
      } else if (coftp::running_as_root()) {
        std::cerr << "coftp-server: warning: serving as root (--allow-root); prefer --run-as USER\n";
      }
      // What uploads cut short by a kill of an earlier run left: removed before serving,
      // as the user who serves (and whose uploads made them).
      std::size_t leftovers = 0;
      if constexpr (on_disk) {
        for (auto* fs : served) {
          if (named_temp_files) fs->force_fallbacks({.named_temp_files = true});
          auto [ec, n] = fs->remove_leftovers();
          leftovers += n;
          if (ec) std::cerr << "coftp-server: removing leftover uploads: " << ec.message() << "\n";
        }
      }
      server.start();

      std::cout << "listening on " << opts.host << ":" << server.endpoint().port() << std::endl;
      if (auto implicit = server.implicit_tls_endpoint())
        std::cout << "implicit FTPS on " << opts.host << ":" << implicit->port() << std::endl;
      std::cout << "coftp " COFTP_VERSION " FTP server\n"
                << (on_disk ? "  root:    " : "  store:   ") << shown_root << "\n"
                << "  threads: " << threads << "\n"
                << "  files:   " << descriptors << " descriptors (RLIMIT_NOFILE); sessions at most " << opts.max_sessions
                << ", " << opts.max_sessions_per_address << " per address\n";
      if (drop_to)
        std::cout << "  user:    " << drop_to->name << " (uid " << ::getuid() << ", gid " << ::getgid() << ")\n";
      if (no_users)
        std::cout << "  access:  anonymous read-only (add a writable user with --user NAME:PASSWORD)\n";
      else
        std::cout << "  access:  " << user_count << " user(s)"
                  << (passwd.empty() ? std::string() : " from " + passwd) << (anonymous ? " and anonymous read-only" : "")
                  << "\n";
      if (tls.enabled())
        std::cout << "  TLS:     AUTH TLS" << (tls.required ? " required" : " offered")
                  << (tls.detect_on_control_port ? ", implicit TLS detected on the control port" : "")
                  << (tls.require_session_reuse ? "" : ", data session reuse NOT enforced") << "\n";
      if (!xferlog_path.empty()) std::cout << "  xferlog: " << xferlog_path << "\n";
      if (leftovers != 0) std::cout << "  cleanup: " << leftovers << " leftover upload file(s) of an earlier run removed\n";
      for (const auto& h : hosts)
        std::cout << "  host:    " << h.name << " -> " << h.root
                  << (h.users.empty() ? std::string(" (users of --root)") : " (users from " + h.users + ")") << "\n";
      if (!opts.proxy_protocol_from.empty()) {
        std::cout << "  proxy:   PROXY protocol required from";
        for (const auto& p : opts.proxy_protocol_from) std::cout << " " << p;
        std::cout << "\n";
      }
      if (max_rate != 0 || max_user_rate != 0)
        std::cout << "  limits:  " << (max_rate ? std::to_string(max_rate) + " B/s per session" : std::string())
                  << (max_rate && max_user_rate ? ", " : "")
                  << (max_user_rate ? std::to_string(max_user_rate) + " B/s per user" : std::string()) << "\n";
      std::cout << "Press Ctrl+C to stop." << std::endl;

      // One strand for both signal sets: a SIGHUP handler and the stop never run at once.
      auto signal_strand = asio::make_strand(io);
      // SIGHUP: reopen the log files (after logrotate moved them).
      asio::signal_set hangup(signal_strand, SIGHUP);
      std::function<void(std::error_code, int)> on_hangup = [&](std::error_code ec, int) {
        if (ec) return;
        for (const auto* f : {&session_log.file(), &xferlog.file()}) {
          std::error_code rec;
          if (*f && !(*f)->reopen(rec))
            std::cerr << "coftp-server: cannot reopen " << (*f)->path() << ": " << rec.message() << "\n";
        }
        hangup.async_wait(on_hangup);
      };
      hangup.async_wait(on_hangup);
      // SIGINT or SIGTERM: stop gracefully (transfers get --shutdown-grace); a second
      // one cuts them at once. Once the last session has ended nothing waits any more,
      // and io.run() returns.
      int signals_seen = 0;
      asio::signal_set signals(signal_strand, SIGINT, SIGTERM);
      std::function<void(std::error_code, int)> on_stop_signal = [&](std::error_code ec, int) {
        if (ec) return;
        if (signals_seen++ == 0) {
          if (!quiet) std::cout << "stopping: letting transfers finish..." << std::endl;
          hangup.cancel();
          server.stop([&] { signals.cancel(); });
        } else {
          if (!quiet) std::cout << "stopping now" << std::endl;
          server.stop_now();
        }
        signals.async_wait(on_stop_signal);
      };
      signals.async_wait(on_stop_signal);

      std::vector<std::thread> pool;
      for (auto& c : session_ios) pool.emplace_back([&c] { c->run(); });
      io.run();
      for (auto& t : pool) t.join();
    } catch (const std::exception& e) {
      std::cerr << "coftp-server: " << e.what() << "\n";
      return 1;
    }
    return 0;
  };
#if COFTP_EXAMPLE_S3
  if (!s3_endpoint.empty()) {
    s3_endpoint += '/' + s3.bucket + '/' + s3.prefix;
    return serve([&] { return coftp::s3_storage(s3); },
                 [&](const std::string& prefix) {
                   auto o = s3;
                   o.prefix = prefix;
                   return coftp::s3_storage(o);
                 });
  }
#endif
  return serve([&] { return coftp::local_fs(root); }, [](const std::string& dir) { return coftp::local_fs(dir); });
}
