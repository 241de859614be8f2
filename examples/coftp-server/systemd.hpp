// coftp-server under systemd: the service manager's notifications (sd_notify(3): READY=1
// once listening, RELOADING=1 and READY=1 around a SIGHUP reload, STOPPING=1, STATUS=,
// WATCHDOG=1) and socket activation (sd_listen_fds_with_names(3): the listening sockets
// of coftp-server.socket served instead of binding). Built without libsystemd
// (COFTP_EXAMPLE_SYSTEMD unset), or run outside a unit (no NOTIFY_SOCKET), the
// notifications do nothing; sockets passed all the same are refused, not ignored.
//
// A unit: Type=notify (systemd 252 has no Type=notify-reload) with
// ExecReload=/bin/kill -HUP $MAINPID, WatchdogSec=; see coftp-server.service and
// coftp-server.socket beside this file.
#pragma once

#include "settings.hpp"
#include "startup_error.hpp"

#include <coftp/observer.hpp>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#if COFTP_EXAMPLE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace coftp_server {

// Sends `state` (lines "NAME=value") to the service manager; nothing outside a unit.
inline void notify(const std::string& state) {
#if COFTP_EXAMPLE_SYSTEMD
  ::sd_notify(0, state.c_str());
#else
  (void)state;
#endif
}

inline bool under_service_manager() noexcept { return std::getenv("NOTIFY_SOCKET") != nullptr; }

// Serving: after start-up, and after a reload (with the status line, if any).
inline void notify_ready(std::string_view status = {}) {
  notify(status.empty() ? std::string("READY=1") : "READY=1\nSTATUS=" + std::string(status));
}

// A reload (SIGHUP) begins; notify_ready() ends it. MONOTONIC_USEC is what systemd 253's
// Type=notify-reload wants beside RELOADING=1 (older ones ignore it).
inline void notify_reloading() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  auto usec = static_cast<std::uint64_t>(now.tv_sec) * 1000000u + static_cast<std::uint64_t>(now.tv_nsec) / 1000u;
  notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

inline void notify_stopping() { notify("STOPPING=1"); }

// Counts the finished transfers (listings too) for STATUS=; copies share the count.
struct transfer_counter : coftp::null_observer {
  std::shared_ptr<std::atomic<std::uint64_t>> done = std::make_shared<std::atomic<std::uint64_t>>(0);
  void on_transfer(const coftp::session_info&, const coftp::transfer_event&) {
    done->fetch_add(1, std::memory_order_relaxed);
  }
  std::uint64_t count() const noexcept { return done->load(std::memory_order_relaxed); }
};

// READY=1 with a STATUS= line, then every second the status again when it changed, and
// WATCHDOG=1 at half the interval systemd asks for (WatchdogSec=, sd_watchdog_enabled(3)),
// on timers of the listener's io_context: a stuck listener stops pinging. stop() ends the
// timers (they keep the io_context running), once the last session has gone: the watchdog
// keeps being fed while transfers drain. Nothing runs outside a unit.
class service_notifier {
 public:
  // `status`: the state of things ("2 sessions, 15 transfers done"), called on io's thread.
  service_notifier(asio::io_context& io, std::function<std::string()> status)
      : status_(std::move(status)), status_timer_(io), watchdog_timer_(io) {}

  void ready() {
    if (!under_service_manager()) return;
    shown_ = status_text();
    notify_ready(shown_);
    tick_status();
#if COFTP_EXAMPLE_SYSTEMD
    std::uint64_t usec = 0;
    // WATCHDOG_PID, when set, must name this process.
    if (::sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
      watchdog_interval_ = std::chrono::microseconds(usec / 2);
      notify("WATCHDOG=1");
      tick_watchdog();
    }
#endif
  }

  // STOPPING=1; the status says "stopping" from now on.
  void stopping() {
    stopping_ = true;
    notify_stopping();
    if (under_service_manager()) notify("STATUS=" + (shown_ = status_text()));
  }

  // Thread-safe.
  void stop() {
    asio::post(status_timer_.get_executor(), [this] {
      stopped_ = true;
      status_timer_.cancel();
      watchdog_timer_.cancel();
    });
  }

 private:
  std::string status_text() const { return (stopping_ ? "stopping: " : "serving: ") + status_(); }

  void tick_status() {
    status_timer_.expires_after(std::chrono::seconds(1));
    status_timer_.async_wait([this](std::error_code ec) {
      if (ec || stopped_) return;
      if (auto now = status_text(); now != shown_) notify("STATUS=" + (shown_ = std::move(now)));
      tick_status();
    });
  }

  void tick_watchdog() {
    watchdog_timer_.expires_after(watchdog_interval_);
    watchdog_timer_.async_wait([this](std::error_code ec) {
      if (ec || stopped_) return;
      notify("WATCHDOG=1");
      tick_watchdog();
    });
  }

  std::function<std::string()> status_;
  asio::steady_timer status_timer_, watchdog_timer_;
  std::chrono::microseconds watchdog_interval_{};
  std::string shown_;  // the STATUS= last sent
  bool stopping_ = false, stopped_ = false;
};

// The listening sockets systemd passed (socket activation, coftp-server.socket): the one
// named "ftp" becomes the control port (server_options::listen_fd), "ftps" the implicit
// FTPS port (tls_options::implicit_listen_fd, needs --tls-cert); a single socket without
// a name of its own (systemd names it after its unit, systemd-socket-activate "unknown")
// is the control port. --host and --port then bind nothing; a port that is not passed is
// bound as usual. Returns the names adopted. Throws startup_error for a socket of another
// name, two of one name, or one that is no listening TCP socket (Accept=yes passes
// connections).
inline std::vector<std::string> adopt_passed_sockets(settings& s) {
  std::vector<std::string> adopted;
#if COFTP_EXAMPLE_SYSTEMD
  char** names = nullptr;
  int n = ::sd_listen_fds_with_names(1, &names);  // unsets LISTEN_*: nothing else inherits them
  if (n < 0)
    throw startup_error("coftp-server: socket activation: " + std::error_code(-n, std::system_category()).message());
  std::vector<std::string> given;
  for (int i = 0; i < n; ++i) given.emplace_back(names && names[i] ? names[i] : "");
  if (names) {
    for (int i = 0; i < n; ++i) std::free(names[i]);
    std::free(names);
  }
  auto default_name = [](const std::string& name) {
    return name.empty() || name == "unknown" || (name.size() > 7 && name.ends_with(".socket"));
  };
  for (int i = 0; i < n; ++i) {
    int fd = SD_LISTEN_FDS_START + i;
    auto name = given[static_cast<std::size_t>(i)];
    if (n == 1 && default_name(name)) name = "ftp";
    int* slot = name == "ftp" ? &s.server.listen_fd : name == "ftps" ? &s.server.tls.implicit_listen_fd : nullptr;
    const std::string shown = "socket '" + given[static_cast<std::size_t>(i)] + "' (fd " + std::to_string(fd) + ")";
    if (!slot)
      throw startup_error("coftp-server: socket activation: " + shown +
                          ": unknown name; FileDescriptorName= must be ftp (the control port) or ftps (implicit FTPS)");
    if (*slot >= 0) throw startup_error("coftp-server: socket activation: two sockets named " + name);
    if (::sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0) <= 0)
      throw startup_error("coftp-server: socket activation: " + shown +
                          " is no listening TCP socket (Accept=yes is not supported: use Accept=no)");
    if (name == "ftps" && !s.server.tls.enabled())
      throw startup_error("coftp-server: socket activation: " + shown + " is for implicit FTPS: it needs --tls-cert");
    *slot = fd;
    adopted.push_back(name);
  }
#else
  // Sockets meant for this process that it cannot take: binding the same port would fail
  // anyway, less clearly.
  if (const char* pid = std::getenv("LISTEN_PID"); pid && std::getenv("LISTEN_FDS") &&
                                                  std::to_string(::getpid()) == pid)
    throw startup_error("coftp-server: sockets passed by systemd (LISTEN_FDS), but built without libsystemd");
  (void)s;
#endif
  return adopted;
}

}  // namespace coftp_server
