// coftp-server: the ready FTP server. Serves a directory (./ftp-root by default) on
// 127.0.0.1:2121, anonymous read-only unless users are given.
//
//   coftp-server                                  # anonymous, read-only, ./ftp-root
//   coftp-server --user alice:secret --port 21    # a writable user
//   coftp-server --help
#include <coftp/coftp.hpp>

#include <CLI/CLI.hpp>
#include <asio/signal_set.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

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
  void on_refused(const coftp::session_info& s, coftp::refusal why) {
    static constexpr const char* reasons[] = {"denied by --allow/--deny", "banned after failed logins",
                                              "too many sessions"};
    print("[!] Refused " + s.remote_address + ": " + reasons[int(why)]);
  }
  void on_ban(const coftp::session_info& s, std::chrono::milliseconds d) {
    print("[!] Banned " + s.remote_address + " for " + std::to_string(d.count() / 1000) + " s after failed logins");
  }

  void print(const std::string& line) const {
    if (quiet) return;
    static std::mutex m;
    std::lock_guard lock(m);
    std::fprintf(stdout, "%s\n", line.c_str());
    std::fflush(stdout);
  }
};

struct policies : coftp::default_policies {
  using observer = console_observer;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"coftp-server " COFTP_VERSION ": an FTP server serving one directory.\n"
               "Without --user it serves anonymous read-only access."};
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

  app.add_option("--host", opts.host, "Address to listen on")->capture_default_str();
  app.add_option("--port", opts.port, "Port to listen on (0 picks a free one)")->capture_default_str();
  app.add_option("--root", root, "Directory to serve (created if missing)")->capture_default_str();
  app.add_option("--user", users, "A read-write user NAME:PASSWORD rooted at --root (repeatable)");
  app.add_flag("--anonymous", anonymous, "Also allow anonymous read-only logins (default when no --user)");
  app.add_option("--pasv-ports", pasv_ports, "Passive port range MIN-MAX (default: any free port)");
  app.add_option("--pasv-address", opts.passive_address, "IPv4 address announced in PASV replies (NAT)");
  bool no_active = false;
  app.add_flag("--no-active", no_active, "Refuse active mode (PORT and EPRT); passive only");
  app.add_option("--threads", threads, "Threads running the sessions")->check(CLI::Range(1u, 256u))->capture_default_str();
  app.add_option("--idle-timeout", idle, "Seconds before an idle session is closed")->check(CLI::Range(1L, 86400L))->capture_default_str();
  app.add_option("--max-sessions", opts.max_sessions, "Maximum concurrent sessions")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--max-sessions-per-address", opts.max_sessions_per_address,
                 "Maximum concurrent sessions from one client address")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--login-timeout", login_timeout, "Seconds from connect to a successful login, else 421")
      ->check(CLI::Range(1L, 86400L))->capture_default_str();
  app.add_option("--login-failure-delay", failure_delay, "Milliseconds before each 530 for a failed login")
      ->check(CLI::Range(0L, 60000L))->capture_default_str();
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
  app.add_flag("--quiet", quiet, "Do not print the session log");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  opts.idle_timeout = std::chrono::seconds(idle);
  opts.login_timeout = std::chrono::seconds(login_timeout);
  opts.login_failure_delay = std::chrono::milliseconds(failure_delay);
  opts.ban_window = std::chrono::seconds(ban_window);
  opts.ban_time = std::chrono::seconds(ban_time);
  for (const auto* list : {&opts.allow, &opts.deny}) {
    for (const auto& rule : *list) {
      if (auto ec = coftp::cidr::parse(rule).first) {
        std::cerr << (list == &opts.allow ? "--allow" : "--deny") << ": '" << rule << "': " << ec.message()
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

  coftp::user_table auth;
  for (const auto& u : users) {
    auto colon = u.find(':');
    if (colon == std::string::npos || colon == 0) {
      std::cerr << "--user: expected NAME:PASSWORD, got '" << u << "'\n";
      return 2;
    }
    auth.add(u.substr(0, colon), u.substr(colon + 1), coftp::permissions::all);
  }
  if (users.empty() || anonymous) auth.allow_anonymous();

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
    if (users.empty())
      std::cout << "  access:  anonymous read-only (add a writable user with --user NAME:PASSWORD)\n";
    else
      std::cout << "  access:  " << users.size() << " user(s)" << (anonymous ? " and anonymous read-only" : "")
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
