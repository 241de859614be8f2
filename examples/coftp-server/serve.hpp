// coftp-server's serving: the server built from the settings over a directory (local_fs)
// or, with --s3-*, a bucket (s3_storage), its logs, limits, threads and signals, run until
// SIGTERM or SIGINT.
#pragma once

#include "reload.hpp"
#include "settings.hpp"
#include "systemd.hpp"
#include "users.hpp"
#include "virtual_hosts.hpp"

#include <coftp/coftp.hpp>

#if COFTP_EXAMPLE_S3
#include <coftp/storage/s3.hpp>
#endif

#include <asio/signal_set.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

namespace coftp_server {

// The session log (stderr or --log FILE) and the transfer log (--xferlog FILE), both
// written by library observers; either may be off (--quiet, no --xferlog). The storage
// is a directory (local_fs) or, with --s3-*, a bucket (s3_storage).
template <class Storage>
struct policies : coftp::default_policies {
  using storage = Storage;
  using authenticator = server_auth;
  using observer = coftp::observers<coftp::session_log_observer, coftp::xferlog_observer, transfer_counter>;
};

// Every session holds a descriptor, every transfer one or two more: the usual soft limit
// (1024) would refuse clients long before the machine has to. Raised to the hard limit
// (the ceiling an unprivileged process has; fs.nr_open when that is "unlimited").
// Returns the limit in force.
inline rlim_t raise_descriptor_limit() {
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

// Serves `make_storage()`: the same server over a directory or a bucket; a virtual host's
// ROOT is served by `make_host_storage(ROOT)`. `auth`: the users of --root; `drop_to`: the
// user to become once all is open (run_as.hpp); `shown_root`: the banner's name of a
// bucket (a directory's is its canonical path, found here). Returns the exit status: 0
// once stopped, 1 when serving failed (the error printed).
template <class MakeStorage, class MakeHostStorage>
int serve_storage(const settings& s, server_auth auth, std::vector<virtual_host_spec> hosts,
                  const std::optional<coftp::system_user>& drop_to, std::string shown_root, MakeStorage make_storage,
                  MakeHostStorage make_host_storage) {
  using storage_type = decltype(make_storage());
  constexpr bool on_disk = std::is_same_v<storage_type, coftp::local_fs>;
  const auto& opts = s.server;
  const auto& tls = opts.tls;
  const auto user_count = auth.passwd ? auth.passwd->size() : s.users.size();
  try {
    // Everything only root may open is opened now: logs, the listening sockets, the
    // served directory (local_fs keeps it as a descriptor).
    coftp::session_log_observer session_log;
    if (!s.quiet)
      session_log = coftp::session_log_observer(
          s.log_path.empty() ? coftp::log_file::standard_error() : coftp::log_file::open(s.log_path),
          s.log_format == "json" ? coftp::log_format::json : coftp::log_format::text);
    coftp::xferlog_observer xferlog;
    if (!s.xferlog_path.empty()) xferlog = coftp::xferlog_observer(coftp::log_file::open(s.xferlog_path));

    if constexpr (on_disk) {
      bool created = std::filesystem::create_directories(s.root);
      // A directory made here for a user who will not be root is theirs, so that uploads work.
      if (created && drop_to && ::chown(s.root.c_str(), drop_to->uid, drop_to->gid) != 0)
        throw std::system_error(errno, std::system_category(), "chown " + s.root);
      shown_root = std::filesystem::canonical(s.root).string();  // before the drop: parents may be closed to USER
    }

    const auto descriptors = raise_descriptor_limit();
    // The listener and the signals run on `io` (this thread). With more than one thread,
    // the sessions run on one io_context per thread, so that none hands work to another.
    asio::io_context io(1);
    std::vector<std::unique_ptr<asio::io_context>> session_ios;
    for (unsigned i = 0; s.threads > 1 && i < s.threads; ++i) session_ios.push_back(std::make_unique<asio::io_context>(1));
    using server_policies = policies<storage_type>;
    transfer_counter transfers;  // for systemd's STATUS=
    coftp::basic_server<server_policies> server(io, opts, make_storage(), std::move(auth),
                                                typename server_policies::observer(session_log, xferlog, transfers));
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
        if (s.named_temp_files) fs->force_fallbacks({.named_temp_files = true});
        auto [ec, n] = fs->remove_leftovers();
        leftovers += n;
        if (ec) std::cerr << "coftp-server: removing leftover uploads: " << ec.message() << "\n";
      }
    }
    server.start();

    // The addresses listened on: --host, or those of the sockets systemd passed.
    std::cout << "listening on " << server.endpoint().address() << ":" << server.endpoint().port() << std::endl;
    if (auto implicit = server.implicit_tls_endpoint())
      std::cout << "implicit FTPS on " << implicit->address() << ":" << implicit->port() << std::endl;
    std::cout << "coftp " COFTP_VERSION " FTP server\n"
              << (on_disk ? "  root:    " : "  store:   ") << shown_root << "\n"
              << "  threads: " << s.threads << "\n"
              << "  files:   " << descriptors << " descriptors (RLIMIT_NOFILE); sessions at most " << opts.max_sessions
              << ", " << opts.max_sessions_per_address << " per address\n";
    if (drop_to)
      std::cout << "  user:    " << drop_to->name << " (uid " << ::getuid() << ", gid " << ::getgid() << ")\n";
    if (no_users(s))
      std::cout << "  access:  anonymous read-only (add a writable user with --user NAME:PASSWORD)\n";
    else
      std::cout << "  access:  " << user_count << " user(s)"
                << (s.passwd.empty() ? std::string() : " from " + s.passwd)
                << (s.anonymous ? " and anonymous read-only" : "") << "\n";
    if (tls.enabled())
      std::cout << "  TLS:     AUTH TLS" << (tls.required ? " required" : " offered")
                << (tls.detect_on_control_port ? ", implicit TLS detected on the control port" : "")
                << (tls.require_session_reuse ? "" : ", data session reuse NOT enforced") << "\n";
    if (opts.listen_fd >= 0 || tls.implicit_listen_fd >= 0)
      std::cout << "  sockets: " << (opts.listen_fd >= 0 ? "ftp " : "") << (tls.implicit_listen_fd >= 0 ? "ftps " : "")
                << "passed by systemd (socket activation)\n";
    if (!s.xferlog_path.empty()) std::cout << "  xferlog: " << s.xferlog_path << "\n";
    if (leftovers != 0) std::cout << "  cleanup: " << leftovers << " leftover upload file(s) of an earlier run removed\n";
    for (const auto& h : hosts)
      std::cout << "  host:    " << h.name << " -> " << h.root
                << (h.users.empty() ? std::string(" (users of --root)") : " (users from " + h.users + ")") << "\n";
    if (!opts.proxy_protocol_from.empty()) {
      std::cout << "  proxy:   PROXY protocol required from";
      for (const auto& p : opts.proxy_protocol_from) std::cout << " " << p;
      std::cout << "\n";
    }
    if (s.max_rate != 0 || s.max_user_rate != 0)
      std::cout << "  limits:  " << (s.max_rate ? std::to_string(s.max_rate) + " B/s per session" : std::string())
                << (s.max_rate && s.max_user_rate ? ", " : "")
                << (s.max_user_rate ? std::to_string(s.max_user_rate) + " B/s per user" : std::string()) << "\n";
    std::cout << "Press Ctrl+C to stop." << std::endl;

    // systemd (systemd.hpp): READY=1 once the signals are handled, then STATUS= and
    // WATCHDOG=1 until the last session has ended; nothing outside a unit.
    service_notifier notifier(io, [&] {
      return std::to_string(server.session_count()) + " sessions, " + std::to_string(transfers.count()) +
             " transfers done";
    });
    // One strand for both signal sets: a SIGHUP handler and the stop never run at once.
    auto signal_strand = asio::make_strand(io);
    // SIGHUP: the configuration read again and applied where it can change live, the
    // log files reopened (reload.hpp).
    settings current = s;
    const auto layout = host_layout(hosts);
    asio::signal_set hangup(signal_strand, SIGHUP);
    std::function<void(std::error_code, int)> on_hangup = [&](std::error_code ec, int) {
      if (ec) return;
      notify_reloading();  // systemd: RELOADING=1 ... READY=1 (ExecReload=kill -HUP)
      reload(server, current, layout, [&] {
        for (const auto* f : {&session_log.file(), &xferlog.file()}) {
          std::error_code rec;
          if (*f && !(*f)->reopen(rec))
            std::cerr << "coftp-server: cannot reopen " << (*f)->path() << ": " << rec.message() << "\n";
        }
      });
      notify_ready();
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
        if (!s.quiet) std::cout << "stopping: letting transfers finish..." << std::endl;
        hangup.cancel();
        notifier.stopping();
        server.stop([&] {
          signals.cancel();
          notifier.stop();
        });
      } else {
        if (!s.quiet) std::cout << "stopping now" << std::endl;
        server.stop_now();
      }
      signals.async_wait(on_stop_signal);
    };
    signals.async_wait(on_stop_signal);
    notifier.ready();

    std::vector<std::thread> pool;
    for (auto& c : session_ios) pool.emplace_back([&c] { c->run(); });
    io.run();
    for (auto& t : pool) t.join();
  } catch (const std::exception& e) {
    std::cerr << "coftp-server: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

// Serves --root, or with --s3-endpoint the bucket (a virtual host's ROOT a key prefix in it).
inline int serve(const settings& s, server_auth auth, std::vector<virtual_host_spec> hosts,
                 const std::optional<coftp::system_user>& drop_to) {
#if COFTP_EXAMPLE_S3
  if (!s.s3_endpoint.empty()) {
    return serve_storage(
        s, std::move(auth), std::move(hosts), drop_to, s.s3_endpoint + '/' + s.s3.bucket + '/' + s.s3.prefix,
        [&] { return coftp::s3_storage(s.s3); },
        [&](const std::string& prefix) {
          auto o = s.s3;
          o.prefix = prefix;
          return coftp::s3_storage(o);
        });
  }
#endif
  return serve_storage(s, std::move(auth), std::move(hosts), drop_to, std::string(),
                       [&] { return coftp::local_fs(s.root); },
                       [](const std::string& dir) { return coftp::local_fs(dir); });
}

}  // namespace coftp_server
