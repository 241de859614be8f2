// tests/support/test_server.hpp - a real coftp server on 127.0.0.1 and an ephemeral
// port, running on its own threads, for loopback tests; plus the pieces tests share
// with it: temporary directories, the storage backends as test parameters, and an
// observer that records every event.
#pragma once

#include <coftp/auth.hpp>
#include <coftp/observer.hpp>
#include <coftp/options.hpp>
#include <coftp/default_server.hpp>
#include <coftp/server.hpp>
#include <coftp/storage/local_fs.hpp>
#include <coftp/storage/memory_fs.hpp>

#include <asio/buffer.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <doctest/doctest.h>

#include "run_sync.hpp"
#include "temp_dir.hpp"

#include <atomic>
#include <chrono>
#include <exception>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

namespace coftp_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// Options for test servers: 127.0.0.1, an ephemeral port, short delays and timeouts,
/// and session limits high enough for the concurrency tests.
inline coftp::server_options test_options() {
  coftp::server_options o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.greeting = "coftp test server ready";
  o.idle_timeout = 30s;
  o.data_timeout = 3s;
  o.login_failure_delay = 50ms;
  o.shutdown_grace = 2s;
  o.max_sessions = 1000;
  o.max_sessions_per_address = 1000;
  return o;
}

/// Polls `pred` every 5 ms until it holds or `limit` passes; returns its last value.
inline bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds limit = 5000ms) {
  auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(5ms);
  }
}

/// Test parameter: memory_fs.
struct memory_backend {
  using storage_type = coftp::memory_fs;
  static constexpr bool on_disk = false;
  storage_type make() { return storage_type{}; }
};

/// Test parameter: local_fs serving `root()`, a fresh directory; `outside()` is a
/// sibling directory that the server must never reach.
struct local_backend {
  using storage_type = coftp::local_fs;
  static constexpr bool on_disk = true;
  temp_dir dir;
  local_backend() {
    fs::create_directory(root());
    fs::create_directory(outside());
  }
  fs::path root() const { return dir.path() / "root"; }
  fs::path outside() const { return dir.path() / "outside"; }
  storage_type make() { return storage_type(root()); }
};

/// Observer recording every event as a line of text ("connect 127.0.0.1",
/// "command USER test", "reply 331 Username OK, need password", "login test ok",
/// "transfer download /a.txt 5 completed", "disconnect"). Copies share the record;
/// thread-safe.
struct recording_observer : coftp::null_observer {
  struct record {
    std::mutex mutex;
    std::vector<std::string> events;
  };
  std::shared_ptr<record> rec = std::make_shared<record>();

  void on_connect(const coftp::session_info& s) { push("connect " + s.remote_address); }
  void on_command(const coftp::session_info&, const coftp::command& c) {
    push(c.argument.empty() ? "command " + c.verb : "command " + c.verb + " " + c.argument);
  }
  void on_reply(const coftp::session_info&, const coftp::reply& r) {
    push("reply " + std::to_string(r.code) + " " + r.text);
  }
  void on_login(const coftp::session_info&, std::string_view user, bool ok) {
    push("login " + std::string(user) + (ok ? " ok" : " failed"));
  }
  void on_transfer(const coftp::session_info&, const coftp::transfer_event& e) {
    static constexpr const char* dirs[] = {"download", "upload", "listing"};
    static constexpr const char* outcomes[] = {"completed", "aborted", "connection_lost", "timed_out",
                                               "storage_error"};
    push(std::string("transfer ") + dirs[int(e.direction)] + " " + e.path + " " + std::to_string(e.bytes) +
         " " + outcomes[int(e.outcome)] + " user=" + e.user);
  }
  void on_disconnect(const coftp::session_info&) { push("disconnect"); }

  std::vector<std::string> events() const {
    std::lock_guard lock(rec->mutex);
    return rec->events;
  }
  bool has(std::string_view event) const {
    std::lock_guard lock(rec->mutex);
    for (const auto& e : rec->events)
      if (e == event) return true;
    return false;
  }

 private:
  void push(std::string e) {
    std::lock_guard lock(rec->mutex);
    rec->events.push_back(std::move(e));
  }
};

/// The server's policies: the given storage, observer and commands, a user_table.
template <class Storage, class Observer = coftp::null_observer, class Commands = coftp::default_commands>
struct test_policies : coftp::default_policies {
  using storage = Storage;
  using observer = Observer;
  using commands = Commands;
};

/// A real coftp::basic_server on 127.0.0.1 and an ephemeral port, on `threads` threads
/// of its own io_context. Users: "test"/"secret" (read and write) and anonymous
/// read-only ("anonymous" or "ftp", any password); add more with `users().add(...)`.
/// Stops in its destructor: server.stop(), then the threads are joined (bounded).
template <class Storage, class Observer = coftp::null_observer, class Commands = coftp::default_commands>
class test_server {
 public:
  using server_type = coftp::basic_server<test_policies<Storage, Observer, Commands>>;
  using tcp = asio::ip::tcp;

  /// `before_start` configures the server before it accepts (virtual hosts, say).
  explicit test_server(Storage storage, coftp::server_options options = test_options(),
                       Observer observer = {}, unsigned threads = 2,
                       const std::function<void(server_type&)>& before_start = {}) {
    users_.add("test", "secret", coftp::permissions::all);
    users_.allow_anonymous();
    server_.emplace(io_, std::move(options), std::move(storage), users_, std::move(observer));
    if (before_start) before_start(*server_);
    server_->start();
    for (unsigned i = 0; i < threads; ++i) {
      auto done = std::make_shared<std::promise<void>>();
      finished_.push_back(done->get_future());
      threads_.emplace_back([this, done] {
        try {
          io_.run();
        } catch (...) {
          std::lock_guard lock(mutex_);
          if (!error_) error_ = std::current_exception();
        }
        done->set_value();
      });
    }
  }

  test_server(const test_server&) = delete;
  test_server& operator=(const test_server&) = delete;

  ~test_server() { stop(); }

  /// Stops the server gracefully (idle sessions get 421, transfers get the grace
  /// period) and waits for its threads, at most shutdown_grace + 10 s. Idempotent.
  /// Returns false (and fails the running test) if the server did not stop in time or
  /// an exception escaped io_context::run.
  bool stop() {
    if (stopped_) return clean_;
    stopped_ = true;
    server_->stop();
    auto until = std::chrono::steady_clock::now() + server_->options().shutdown_grace + 10s;
    for (auto& f : finished_) {
      if (f.wait_until(until) != std::future_status::ready) {
        clean_ = false;
        break;
      }
    }
    if (!clean_) io_.stop();
    for (auto& t : threads_) t.join();
    if (!clean_)
      FAIL_CHECK("test_server: the io_context did not run out of work after stop(): "
                 << server_->session_count() << " session(s) left" << (describe_work ? "; " + describe_work() : ""));
    if (error_) {
      clean_ = false;
      try {
        std::rethrow_exception(error_);
      } catch (const std::exception& e) {
        FAIL_CHECK("test_server: exception escaped io_context::run: " << e.what());
      } catch (...) {
        FAIL_CHECK("test_server: unknown exception escaped io_context::run");
      }
    }
    return clean_;
  }

  /// Says what else may hold the io_context's work (a backend's), should stop() fail;
  /// called after its threads have ended.
  std::function<std::string()> describe_work;

  tcp::endpoint endpoint() const { return server_->endpoint(); }
  asio::io_context& io() noexcept { return io_; }
  Storage& storage() noexcept { return server_->storage(); }
  coftp::user_table& users() noexcept { return users_; }
  server_type& server() noexcept { return *server_; }
  Observer& observer() noexcept { return server_->observer(); }

  /// Writes `content` at `path` through the storage API (TYPE I semantics).
  void put(const std::string& path, std::string_view content) {
    auto [ec, w] = run_sync(storage().open_write(path, coftp::write_mode::replace));
    if (ec) throw std::system_error(ec, "test_server::put open_write " + path);
    auto wec = run_sync(w.write(asio::buffer(content.data(), content.size())));
    if (wec) throw std::system_error(wec, "test_server::put write " + path);
    auto cec = run_sync(w.commit());
    if (cec) throw std::system_error(cec, "test_server::put commit " + path);
  }

  /// The content at `path` through the storage API, or nullopt if it cannot be read.
  std::optional<std::string> get(const std::string& path) {
    auto [ec, r] = run_sync(storage().open_read(path, 0));
    if (ec) return std::nullopt;
    std::string out;
    char buf[65536];
    for (;;) {
      auto [rec, n] = run_sync(r.read_some(asio::buffer(buf, sizeof buf)));
      if (rec) return std::nullopt;
      if (n == 0) return out;
      out.append(buf, n);
    }
  }

  /// Creates the directory `path` through the storage API.
  void mkdir(const std::string& path) {
    auto ec = run_sync(storage().make_directory(path));
    if (ec) throw std::system_error(ec, "test_server::mkdir " + path);
  }

 private:
  // Declared first, destroyed last: the server's sockets and timers must go before
  // the io_context that owns their services.
  asio::io_context io_;
  coftp::user_table users_;
  std::optional<server_type> server_;
  std::vector<std::thread> threads_;
  std::vector<std::future<void>> finished_;
  std::mutex mutex_;
  std::exception_ptr error_;
  bool stopped_ = false;
  bool clean_ = true;
};

}  // namespace coftp_test
