// coftp-server: the ready FTP server. Serves a directory (./ftp-root by default) on
// 127.0.0.1:2121, anonymous read-only unless users are given.
//
//   coftp-server                                  # anonymous, read-only, ./ftp-root
//   coftp-server --user alice:secret --port 21    # a writable user
//   coftp-server --passwd users.txt               # users with hashed passwords
//   coftp-server --hash-password < pw.txt         # prints a hash for users.txt
//   coftp-server --help
#include <coftp/auth/passwd_file.hpp>
#include <coftp/coftp.hpp>

#include <CLI/CLI.hpp>
#include <asio/signal_set.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include <unistd.h>

namespace {

// Prints the session log the FTP specification shows: "[+] Client connected: (...)",
// "[CLIENT] USER test", "[SERVER] 331 ...". PASS arrives masked.
struct console_observer : coftp::null_observer {
  bool quiet = false;

  void on_connect(const coftp::session_info& s) {
    print("[+] Client connected: (" + s.remote_address + ", " + std::to_string(s.remote_port) + ")");
  }
  void on_command(const coftp::session_info&, const coftp::command& c) {
    print("[CLIENT] " + c.verb + (c.argument.empty() ? "" : " " + c.argument));
  }
  void on_reply(const coftp::session_info&, const coftp::reply& r) {
    auto text = r.text.substr(0, r.text.find('\n'));
    print("[SERVER] " + std::to_string(r.code) + " " + text);
  }
  void on_transfer(const coftp::session_info&, const coftp::transfer_event& t) {
    static constexpr const char* outcomes[] = {"completed", "aborted", "connection lost", "timed out",
                                               "storage error"};
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.duration).count();
    print("[XFER] " + t.path + ": " + std::to_string(t.bytes) + " bytes in " + std::to_string(ms) + " ms, " +
          outcomes[int(t.outcome)]);
  }
  void on_disconnect(const coftp::session_info& s) {
    print("[-] Client disconnected: (" + s.remote_address + ", " + std::to_string(s.remote_port) + ")");
  }

  void print(const std::string& line) const {
    if (quiet) return;
    static std::mutex m;
    std::lock_guard lock(m);
    std::fprintf(stdout, "%s\n", line.c_str());
    std::fflush(stdout);
  }
};

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

struct policies : coftp::default_policies {
  using authenticator = server_auth;
  using observer = console_observer;
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

  app.add_option("--host", opts.host, "Address to listen on")->capture_default_str();
  app.add_option("--port", opts.port, "Port to listen on (0 picks a free one)")->capture_default_str();
  app.add_option("--root", root, "Directory to serve (created if missing)")->capture_default_str();
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
  app.add_option("--threads", threads, "Threads running the sessions")->check(CLI::Range(1u, 256u))->capture_default_str();
  app.add_option("--idle-timeout", idle, "Seconds before an idle session is closed")->check(CLI::Range(1L, 86400L))->capture_default_str();
  app.add_option("--max-sessions", opts.max_sessions, "Maximum concurrent sessions")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--max-sessions-per-address", opts.max_sessions_per_address,
                 "Maximum concurrent sessions from one client address")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_flag("--quiet", quiet, "Do not print the session log");
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

  const auto user_count = auth.passwd ? auth.passwd->size() : users.size();
  try {
    std::filesystem::create_directories(root);
    asio::io_context io;
    console_observer observer;
    observer.quiet = quiet;
    coftp::basic_server<policies> server(io, opts, coftp::local_fs(root), std::move(auth), observer);
    server.start();

    std::cout << "listening on " << opts.host << ":" << server.endpoint().port() << std::endl;
    std::cout << "coftp " COFTP_VERSION " FTP server\n"
              << "  root:    " << std::filesystem::canonical(root).string() << "\n"
              << "  threads: " << threads << "\n";
    if (no_users)
      std::cout << "  access:  anonymous read-only (add a writable user with --user NAME:PASSWORD)\n";
    else
      std::cout << "  access:  " << user_count << " user(s)"
                << (passwd.empty() ? std::string() : " from " + passwd) << (anonymous ? " and anonymous read-only" : "")
                << "\n";
    std::cout << "Press Ctrl+C to stop." << std::endl;

    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code ec, int) {
      if (ec) return;
      if (!quiet) std::cout << "stopping: letting transfers finish..." << std::endl;
      server.stop();
    });

    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : pool) t.join();
  } catch (const std::exception& e) {
    std::cerr << "coftp-server: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
