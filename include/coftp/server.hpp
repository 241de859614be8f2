// coftp/server.hpp - the listener: accepts control connections, enforces session
// limits, runs each session on its own strand, and stops gracefully.
#pragma once

#include <coftp/address_guard.hpp>
#include <coftp/auth.hpp>
#include <coftp/commands.hpp>
#include <coftp/detail/io.hpp>
#include <coftp/detail/proxy_io.hpp>
#include <coftp/observer.hpp>
#include <coftp/options.hpp>
#include <coftp/session.hpp>
#include <coftp/storage.hpp>
#include <coftp/tls.hpp>

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/write.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace coftp {

/// An FTP server over the policies `P`.
///
/// The constructor binds the listening socket (and throws std::system_error if it
/// cannot, std::invalid_argument for an allow, deny or proxy_protocol_from entry that
/// is no CIDR block), so
/// `endpoint()` tells the real port at once; `start()` begins accepting.
/// Run the io_context on as many threads as you like: each session has its own strand.
///
/// @par Lifetimes
/// The server, and the io_context, must outlive every session: destroy the server only
/// after the io_context has stopped running (`stop()` then `io.run()` returning).
template <class P>
class basic_server {
 public:
  using policies = P;
  using storage_type = typename P::storage;
  using authenticator_type = typename P::authenticator;
  using observer_type = typename P::observer;
  using session_type = basic_session<P>;
  using tcp = asio::ip::tcp;

  static_assert(storage_backend<storage_type>, "P::storage must model coftp::storage_backend");
  static_assert(authenticator<authenticator_type>, "P::authenticator must model coftp::authenticator");

  basic_server(asio::io_context& io, server_options options, storage_type storage,
               authenticator_type auth = {}, observer_type observer = {})
      : io_(io),
        options_(std::move(options)),
        storage_(std::move(storage)),
        auth_(std::move(auth)),
        observer_(std::move(observer)),
        guard_(options_),
        accept_strand_(asio::make_strand(io)),
        acceptor_(accept_strand_) {
    const auto& tls = options_.tls;
#if COFTP_HAS_TLS
    if (tls.enabled()) tls_.emplace(make_tls_context(tls));
#else
    if (tls.enabled()) throw std::invalid_argument("coftp: TLS configured, but built without COFTP_HAS_TLS");
#endif
    if (!tls.enabled() && (tls.required || tls.implicit_port || tls.detect_on_control_port))
      throw std::invalid_argument("coftp: TLS options need tls.certificate_file");
    for (const auto& text : options_.proxy_protocol_from) {
      auto [ec, block] = cidr::parse(text);
      if (ec) throw std::invalid_argument("coftp: bad proxy_protocol_from entry '" + text + "': " + ec.message());
      proxies_.push_back(block);
    }
    endpoint_ = open_listener(acceptor_, options_.port);
    if (tls.implicit_port) {
      implicit_acceptor_.emplace(accept_strand_);
      implicit_endpoint_ = open_listener(*implicit_acceptor_, *tls.implicit_port);
    }
  }

  basic_server(const basic_server&) = delete;
  basic_server& operator=(const basic_server&) = delete;
  ~basic_server() {
    if (reserve_fd_ >= 0) ::close(reserve_fd_);
  }

  /// The address and port the server listens on.
  tcp::endpoint endpoint() const { return endpoint_; }
  /// The implicit FTPS listener's address and port (`tls.implicit_port`), if any.
  std::optional<tcp::endpoint> implicit_tls_endpoint() const { return implicit_endpoint_; }

#if COFTP_HAS_TLS
  /// The TLS context built from `options().tls`, or nullptr when TLS is not configured.
  /// Adjust it (ciphers, client certificates) before `start()`.
  asio::ssl::context* tls_context() noexcept { return tls_ ? &*tls_ : nullptr; }
#endif

  /// Spreads the sessions over `contexts`, round robin, instead of strands of the
  /// server's own io_context. Run each on a thread of its own (construct them with
  /// concurrency hint 1): a session's work then never crosses threads, and sessions on
  /// different threads never meet on a lock, not even the scheduler's (Asio's
  /// io_context-per-thread model, which saves the thread hand-offs of a shared
  /// io_context: a NOOP costs about half the CPU). The listener stays on the server's
  /// io_context. The server keeps the contexts from running out of work until it has
  /// stopped and its last session has ended. Call before `start()`.
  void set_session_contexts(std::vector<asio::io_context*> contexts) {
    session_contexts_ = std::move(contexts);
    session_work_.clear();
    for (auto* c : session_contexts_) session_work_.push_back(asio::make_work_guard(*c));
  }

  /// Starts accepting connections.
  void start() {
    auto rethrow = [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    };
    auto mode = options_.tls.detect_on_control_port ? session_start::detect : session_start::plain;
    asio::co_spawn(accept_strand_, accept_loop(acceptor_, mode), rethrow);
    if (implicit_acceptor_)
      asio::co_spawn(accept_strand_, accept_loop(*implicit_acceptor_, session_start::implicit_tls), rethrow);
  }

  /// Stops gracefully: no new connections; idle sessions get "421" at once; running
  /// transfers may finish within `options().shutdown_grace`, then their sessions are
  /// cut. Thread-safe. When the last session has ended, `stopped` (if given, on the
  /// server's io_context) is called, and the io_contexts run out of work: cancel there
  /// what else keeps yours running (a signal_set waiting for a second SIGTERM).
  void stop(std::function<void()> stopped = {}) {
    asio::post(accept_strand_, [this, stopped = std::move(stopped)]() mutable {
      if (stopped) stopped_ = std::move(stopped);
      if (stopping_) {
        check_drained();  // a callback given to a second stop() after the last session ended
        return;
      }
      stopping_ = true;
      // The last session to end posts check_drained here: io_ must still run then, even
      // after the grace timer has fired, or the session contexts would never be let go.
      drain_work_.emplace(asio::make_work_guard(io_));
      std::error_code ignored;
      acceptor_.close(ignored);
      if (implicit_acceptor_) implicit_acceptor_->close(ignored);
      for (auto* s : relaying_) s->cancel(ignored);
      for_each_session([](session_type& s) { s.request_stop(); });
      grace_ = std::make_unique<asio::steady_timer>(accept_strand_, options_.shutdown_grace);
      grace_->async_wait([this](std::error_code ec) {
        if (!ec) for_each_session([](session_type& s) { s.force_stop(); });
      });
    });
  }

  /// Stops at once: as `stop()`, but without the grace: running transfers are cut
  /// (426) and every session gets 421 now. What a second SIGTERM asks for. Thread-safe.
  void stop_now() {
    stop();
    asio::post(accept_strand_, [this] { for_each_session([](session_type& s) { s.force_stop(); }); });
  }

  /// True if connections from `a` are relayed by a trusted proxy and begin with a
  /// PROXY protocol header (server_options::proxy_protocol_from).
  bool relayed_by_proxy(const asio::ip::address& a) const noexcept {
    for (const auto& b : proxies_)
      if (b.contains(a)) return true;
    return false;
  }

  /// Sessions currently running.
  std::size_t session_count() const {
    std::lock_guard lock(mutex_);
    return sessions_.size();
  }

  using virtual_host = typename session_type::virtual_host;

  /// Adds a virtual host (RFC 7151 HOST): a client sending `HOST name` before USER is
  /// served `storage` and logs in against `auth` instead of the server's own. Names are
  /// compared without case and without a trailing dot; an IPv6 address is written in
  /// brackets ("[2001:db8::1]"). Once a server has virtual hosts, HOST with an unknown
  /// name is answered "504"; clients that send no HOST get the server's own storage and
  /// users. Call before `start()`. Throws std::invalid_argument for a name that is no
  /// host name, or one added twice.
  ///
  /// @par Example
  /// @code
  /// server.add_virtual_host("ftp.example.com", coftp::local_fs("/srv/example"), example_users);
  /// @endcode
  virtual_host& add_virtual_host(std::string name, storage_type storage, authenticator_type auth = {}) {
    auto key = canonical_host_name(name);
    if (!key) throw std::invalid_argument("coftp: '" + name + "' is no host name (RFC 7151 HOST)");
    if (find_virtual_host(*key)) throw std::invalid_argument("coftp: virtual host '" + *key + "' added twice");
    hosts_.push_back(std::make_unique<virtual_host>(virtual_host{*key, std::move(storage), std::move(auth)}));
    return *hosts_.back();
  }

  /// The virtual host of that name (canonical_host_name form), or nullptr.
  virtual_host* find_virtual_host(std::string_view canonical_name) noexcept {
    for (auto& h : hosts_)
      if (h->name == canonical_name) return h.get();
    return nullptr;
  }
  bool has_virtual_hosts() const noexcept { return !hosts_.empty(); }

  const server_options& options() const noexcept { return options_; }
  storage_type& storage() noexcept { return storage_; }
  authenticator_type& authenticator() noexcept { return auth_; }
  observer_type& observer() noexcept { return observer_; }
  /// Allow/deny lists and failed-login bans (thread-safe).
  address_guard& guard() noexcept { return guard_; }
  /// The bandwidth buckets of the users logged in (thread-safe).
  user_rate_registry& user_rates() noexcept { return user_rates_; }

 private:
  // Binds and listens on host:port; returns the bound endpoint. Throws on failure.
  tcp::endpoint open_listener(tcp::acceptor& acceptor, std::uint16_t port) {
    tcp::endpoint ep(asio::ip::make_address(options_.host), port);
    acceptor.open(ep.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen(asio::socket_base::max_listen_connections);
    return acceptor.local_endpoint();
  }

  asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, session_start mode) {
    asio::steady_timer pause(accept_strand_);
    while (!stopping_) {
      auto [ec, socket] = co_await acceptor.async_accept(next_session_executor(), detail::nothrow);
      if (stopping_ || ec == asio::error::operation_aborted) break;
      if (ec == asio::error::no_descriptors || ec.value() == ENFILE) {
        if (shed(acceptor)) continue;
      }
      if (ec) {
        // Out of memory, or of descriptors with no reserve to shed with: pause and
        // retry, never give up (Asio's throttling_proxy example).
        pause.expires_after(std::chrono::milliseconds(100));
        co_await pause.async_wait(detail::nothrow);
        continue;
      }
      if (!proxies_.empty()) {
        std::error_code rec;
        auto remote = socket.remote_endpoint(rec);
        if (!rec && relayed_by_proxy(remote.address())) {
          asio::co_spawn(accept_strand_, admit_relayed(std::move(socket), mode), [](std::exception_ptr) {});
          continue;
        }
      }
      admit(std::move(socket), mode);
    }
    // Nothing else keeps the grace timer alive once every session ended early.
    if (stopping_) check_drained();
  }

  // A trusted proxy's connection: its PROXY header, read here on the accept strand
  // within proxy_protocol_timeout and before anything else, names the client that
  // admit() then judges (lists, bans, limits) and the session serves. A missing, bad or
  // late header closes the connection without a reply (the peer is a proxy, not an FTP
  // client); LOCAL and UNKNOWN keep the proxy's own address.
  asio::awaitable<void> admit_relayed(tcp::socket socket, session_start mode) {
    std::error_code ec;
    auto remote = socket.remote_endpoint(ec);
    if (ec || stopping_ || relaying_.size() >= options_.max_sessions) co_return;  // the socket closes
    relaying_.insert(&socket);
    auto deadline = std::chrono::steady_clock::now() + options_.proxy_protocol_timeout;
    std::pair<std::error_code, proxy_header> read;
    try {
      read = co_await detail::read_proxy_header(socket, deadline);
    } catch (...) {
      relaying_.erase(&socket);
      throw;
    }
    relaying_.erase(&socket);
    if (stopping_) co_return;
    if (read.first) {
      observer_.on_refused(session_info{0, remote.address().to_string(), remote.port()}, refusal::bad_proxy_header);
      co_return;
    }
    std::optional<tcp::endpoint> client;
    if (read.second.relayed) client = tcp::endpoint(read.second.source, read.second.source_port);
    admit(std::move(socket), mode, client);
  }

  // `client`: the client a PROXY header named, instead of the socket's peer.
  void admit(tcp::socket socket, session_start mode, std::optional<tcp::endpoint> client = std::nullopt) {
    std::error_code ec;
    auto remote = client ? *client : socket.remote_endpoint(ec);
    if (ec) return;
    std::string address = remote.address().to_string();
    if (auto v = guard_.admit(normalized_address(remote.address())); v != address_guard::verdict::admitted) {
      bool denied = v == address_guard::verdict::denied;
      observer_.on_refused(session_info{0, address, remote.port()}, denied ? refusal::denied : refusal::banned);
      refuse(std::move(socket), denied ? reply{reply_code::service_not_available, "Service not available"}
                                       : address_guard::banned_reply());
      return;
    }
    std::shared_ptr<session_type> session;
    {
      std::lock_guard lock(mutex_);
      auto& per_address = per_address_[address];
      if (sessions_.size() >= options_.max_sessions || per_address >= options_.max_sessions_per_address) {
        if (per_address == 0) per_address_.erase(address);
        observer_.on_refused(session_info{0, address, remote.port()}, refusal::too_many_sessions);
        refuse(std::move(socket), reply{reply_code::service_not_available, "Too many connections, try again later"});
        return;
      }
      ++per_address;
      auto id = ++next_id_;
      socket.set_option(tcp::no_delay(true), ec);
      session = std::make_shared<session_type>(*this, std::move(socket), id, mode, client);
      if (session->info().remote_address != address) {
        // The peer left between the two getpeername(2): nothing to serve.
        if (--per_address == 0) per_address_.erase(address);
        return;
      }
      sessions_.emplace(id, session);
    }
    auto ex = session->executor();
    auto run = session->run();
    // The completion handler keeps the session alive: no wrapper coroutine (and no
    // frame of its own, for each idle session) is needed for that.
    asio::co_spawn(ex, std::move(run), [this, session = std::move(session)](std::exception_ptr) {
      // An exception (bad_alloc, a bug) ends that session only; the socket closes
      // with the session.
      unregister(session->info().id, session->info().remote_address);
    });
  }

  // Out of descriptors (EMFILE, ENFILE): the connection stays in the kernel's queue,
  // so accepting again would fail at once (a busy loop) while its client waits for
  // nothing. The reserve descriptor is given back for as long as it takes to accept
  // that connection, tell it 421 (non-blocking, best effort) and close it. False when
  // there was no reserve or nothing to accept: the caller pauses instead.
  bool shed(tcp::acceptor& acceptor) {
    if (reserve_fd_ < 0) reserve_fd_ = open_reserve();  // taken again once descriptors free up
    if (reserve_fd_ < 0) return false;
    ::close(reserve_fd_);
    ::sockaddr_storage from{};
    ::socklen_t len = sizeof from;
    int fd = ::accept4(acceptor.native_handle(), reinterpret_cast<::sockaddr*>(&from), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      reserve_fd_ = open_reserve();
      return false;
    }
    static constexpr char text[] = "421 Out of resources (file descriptors), try again later\r\n";
    [[maybe_unused]] auto sent = ::send(fd, text, sizeof text - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    // The client sees the end at once, and the refused socket itself becomes the reserve:
    // closing it and opening another would leave a moment in which a session on another
    // thread takes the freed slot, and the next refusal would find no reserve.
    ::shutdown(fd, SHUT_RDWR);
    reserve_fd_ = fd;
    tcp::endpoint remote;
    if (len <= remote.capacity()) {
      std::memcpy(remote.data(), &from, len);
      remote.resize(len);
    }
    observer_.on_refused(session_info{0, remote.address().to_string(), remote.port()}, refusal::out_of_descriptors);
    return true;
  }

  static int open_reserve() noexcept { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

  // "421 Service not available" (RFC 959 4.2) for a connection over the limits, from a
  // denied or a banned address.
  void refuse(tcp::socket socket, const reply& r) {
    auto s = std::make_shared<tcp::socket>(std::move(socket));
    auto text = std::make_shared<std::string>();
    format_reply(*text, r);
    asio::async_write(*s, asio::buffer(*text), [s, text](std::error_code, std::size_t) {
      std::error_code ignored;
      s->shutdown(tcp::socket::shutdown_both, ignored);
      s->close(ignored);
    });
  }

  void unregister(std::uint64_t id, const std::string& address) {
    {
      std::lock_guard lock(mutex_);
      sessions_.erase(id);
      if (auto it = per_address_.find(address); it != per_address_.end() && --it->second == 0)
        per_address_.erase(it);
    }
    asio::post(accept_strand_, [this] { check_drained(); });
  }

  // Where the next session runs: a strand of the server's io_context, or the next of the
  // session contexts (each run by one thread: no strand needed).
  asio::any_io_executor next_session_executor() {
    if (session_contexts_.empty()) return asio::make_strand(io_);
    return session_contexts_[next_context_++ % session_contexts_.size()]->get_executor();
  }

  // Once stopping and empty, drop the grace timer and the session contexts' work guards
  // so that the io_contexts can finish.
  void check_drained() {
    if (!stopping_ || session_count() != 0) return;
    if (grace_) grace_->cancel();
    session_work_.clear();
    drain_work_.reset();
    if (auto f = std::exchange(stopped_, {})) f();
  }

  template <class F>
  void for_each_session(F f) {
    std::lock_guard lock(mutex_);
    for (auto& [id, weak] : sessions_) {
      if (auto s = weak.lock()) asio::post(s->executor(), [s, f] { f(*s); });
    }
  }

  asio::io_context& io_;
  server_options options_;
  storage_type storage_;
  authenticator_type auth_;
  observer_type observer_;
  address_guard guard_;
  std::vector<cidr> proxies_;  // proxy_protocol_from
  std::vector<std::unique_ptr<virtual_host>> hosts_;  // add_virtual_host; stable addresses
  std::unordered_set<tcp::socket*> relaying_;  // PROXY headers being read; touched on accept_strand_ only
  user_rate_registry user_rates_;
  asio::strand<asio::io_context::executor_type> accept_strand_;
  tcp::acceptor acceptor_;
  tcp::endpoint endpoint_;
  std::optional<tcp::acceptor> implicit_acceptor_;  // implicit FTPS (tls.implicit_port)
  std::optional<tcp::endpoint> implicit_endpoint_;
#if COFTP_HAS_TLS
  std::optional<asio::ssl::context> tls_;
#endif
  std::unique_ptr<asio::steady_timer> grace_;
  std::vector<asio::io_context*> session_contexts_;  // empty: strands of io_
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> session_work_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> drain_work_;  // stopping, not drained
  std::size_t next_context_ = 0;  // touched on accept_strand_ only
  int reserve_fd_ = open_reserve();  // given back to shed a connection when out of descriptors (shed)
  bool stopping_ = false;  // touched on accept_strand_ only
  std::function<void()> stopped_;  // stop()'s callback; touched on accept_strand_ only

  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::weak_ptr<session_type>> sessions_;
  std::unordered_map<std::string, std::size_t> per_address_;
  std::uint64_t next_id_ = 0;
};

}  // namespace coftp
