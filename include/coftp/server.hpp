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
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace coftp {

/// An FTP server over the policies `P`.
///
/// The constructor binds the listening socket, or adopts `options.listen_fd` (and
/// `tls.implicit_listen_fd`) already listening (and throws std::system_error if it
/// cannot, std::invalid_argument for an allow, deny or proxy_protocol_from entry that
/// is no CIDR block), so
/// `endpoint()` tells the real port at once; `start()` begins accepting.
/// Run the io_context on as many threads as you like: each session has its own strand.
///
/// @par Lifetimes
/// The server, and the io_context, must outlive every session: destroy the server only
/// after the io_context has stopped running (`stop()` then `io.run()` returning).
///
/// @par Reloading
/// `reconfigure()` and `replace_authenticator()` change a running server (a daemon's
/// SIGHUP): a session keeps the options and the TLS context it began with, and asks the
/// users in force at each login. Both are thread-safe.
template <class P>
class basic_server {
 public:
  using policies = P;
  using storage_type = typename P::storage;
  using authenticator_type = typename P::authenticator;
  using observer_type = typename P::observer;
  using session_type = basic_session<P>;
  /// A virtual host: add_virtual_host.
  using virtual_host = typename session_type::virtual_host;
  using tcp = asio::ip::tcp;

  static_assert(storage_backend<storage_type>, "P::storage must model coftp::storage_backend");
  static_assert(authenticator<authenticator_type>, "P::authenticator must model coftp::authenticator");

  basic_server(asio::io_context& io, server_options options, storage_type storage,
               authenticator_type auth = {}, observer_type observer = {})
      : io_(io),
        options_(std::make_shared<const server_options>(std::move(options))),
        storage_(std::move(storage)),
        auth_(std::make_shared<authenticator_type>(std::move(auth))),
        observer_(std::move(observer)),
        guard_(*options_),
        accept_strand_(asio::make_strand(io)),
        acceptor_(accept_strand_) {
    const auto& tls = options_->tls;
#if COFTP_HAS_TLS
    tls_ = tls_context_for(*options_);
#else
    tls_context_for(*options_);
#endif
    for (const auto& text : options_->proxy_protocol_from) {
      auto [ec, block] = cidr::parse(text);
      if (ec) throw std::invalid_argument("coftp: bad proxy_protocol_from entry '" + text + "': " + ec.message());
      proxies_.push_back(block);
    }
    endpoint_ = options_->listen_fd >= 0 ? adopt_listener(acceptor_, options_->listen_fd)
                                         : open_listener(acceptor_, options_->port);
    if (tls.implicit_listen_fd >= 0 || tls.implicit_port) {
      implicit_acceptor_.emplace(accept_strand_);
      implicit_endpoint_ = tls.implicit_listen_fd >= 0 ? adopt_listener(*implicit_acceptor_, tls.implicit_listen_fd)
                                                       : open_listener(*implicit_acceptor_, *tls.implicit_port);
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
  /// Adjust it (ciphers, client certificates) before `start()`; a reconfigure() builds
  /// a new one from the options alone.
  asio::ssl::context* tls_context() noexcept { return current_tls_context().get(); }
  /// The TLS context new sessions get (shared: a session keeps its own).
  std::shared_ptr<asio::ssl::context> current_tls_context() const {
    std::lock_guard lock(config_mutex_);
    return tls_;
  }
#endif

  /// Takes `next` in place of the options while the server runs, for the sessions that
  /// start from now on; those running keep theirs (and their TLS context, so that their
  /// data connections resume their control connection's TLS session). The allow/deny
  /// lists and the ban settings apply at once, to the next connection and login. A
  /// certificate or key is loaded anew (a renewed file). What only a restart can change
  /// (the addresses and ports listened on, TLS detection on the control port, the
  /// trusted proxies) keeps its value; the names of such settings that differ are
  /// returned ("host", "port", "tls.implicit_port", "tls.detect_on_control_port",
  /// "proxy_protocol_from"). Throws, changing nothing, where `next` is invalid: a rule
  /// that is no CIDR block (std::invalid_argument), a certificate or key that does not
  /// load (std::system_error). Thread-safe.
  std::vector<std::string> reconfigure(server_options next) {
    auto current = current_options();
    std::vector<std::string> need_restart;
    auto keep = [&](auto& field, const auto& now, const char* name) {
      if (field != now) need_restart.emplace_back(name);
      field = now;
    };
    keep(next.host, current->host, "host");
    keep(next.port, current->port, "port");
    keep(next.tls.implicit_port, current->tls.implicit_port, "tls.implicit_port");
    keep(next.tls.detect_on_control_port, current->tls.detect_on_control_port, "tls.detect_on_control_port");
    keep(next.proxy_protocol_from, current->proxy_protocol_from, "proxy_protocol_from");
    next.listen_fd = current->listen_fd;  // taken over at construction, whatever `next` says
    next.tls.implicit_listen_fd = current->tls.implicit_listen_fd;
    // Adopted listeners (listen_fd) stay, silently: a reload has no descriptor to give.
    next.listen_fd = current->listen_fd;
    next.tls.implicit_listen_fd = current->tls.implicit_listen_fd;
    // A listener for implicit FTPS or detection stays, and needs a context.
    if (!next.tls.enabled() &&
        (next.tls.implicit_port || next.tls.implicit_listen_fd >= 0 || next.tls.detect_on_control_port))
      throw std::invalid_argument("coftp: the implicit FTPS listener needs tls.certificate_file until a restart");
    auto tls = tls_context_for(next);  // throws for a certificate that does not load
    guard_.reconfigure(next);          // throws, changing nothing, for a bad allow or deny rule
    auto snapshot = std::make_shared<const server_options>(std::move(next));
    std::lock_guard lock(config_mutex_);
    options_ = std::move(snapshot);
#if COFTP_HAS_TLS
    tls_ = std::move(tls);
#endif
    return need_restart;
  }

  /// Takes `auth` in place of the server's users (a reload of the users file): logins
  /// from now on ask it, users logged in stay logged in. Thread-safe.
  void replace_authenticator(authenticator_type auth) {
    auto next = std::make_shared<authenticator_type>(std::move(auth));
    std::lock_guard lock(config_mutex_);
    auth_ = std::move(next);
  }
  /// Takes `auth` in place of the users of the virtual host `name` (as given to
  /// add_virtual_host). False when there is no such host. Thread-safe.
  bool replace_authenticator(std::string_view name, authenticator_type auth) {
    auto key = canonical_host_name(name);
    auto* h = key ? find_virtual_host(*key) : nullptr;
    if (!h) return false;
    auto next = std::make_shared<authenticator_type>(std::move(auth));
    std::lock_guard lock(config_mutex_);
    h->authenticator = std::move(next);
    return true;
  }

  /// The options new sessions get (shared: a session keeps its own).
  std::shared_ptr<const server_options> current_options() const {
    std::lock_guard lock(config_mutex_);
    return options_;
  }
  /// The users that `host`'s logins ask now (nullptr: the server's own).
  std::shared_ptr<authenticator_type> current_authenticator(const virtual_host* host = nullptr) const {
    std::lock_guard lock(config_mutex_);
    return host ? host->authenticator : auth_;
  }

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
    auto mode = options_->tls.detect_on_control_port ? session_start::detect : session_start::plain;
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
      grace_ = std::make_unique<asio::steady_timer>(accept_strand_, current_options()->shutdown_grace);
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
    hosts_.push_back(std::make_unique<virtual_host>(
        virtual_host{*key, std::move(storage), std::make_shared<authenticator_type>(std::move(auth))}));
    return *hosts_.back();
  }

  /// The virtual host of that name (canonical_host_name form), or nullptr.
  virtual_host* find_virtual_host(std::string_view canonical_name) noexcept {
    for (auto& h : hosts_)
      if (h->name == canonical_name) return h.get();
    return nullptr;
  }
  bool has_virtual_hosts() const noexcept { return !hosts_.empty(); }

  /// The options in force (as of the last reconfigure(); the reference lasts until the
  /// next: from another thread than the one reconfiguring, use current_options()).
  const server_options& options() const noexcept { return *options_; }
  storage_type& storage() noexcept { return storage_; }
  /// The server's users (as of the last replace_authenticator(); from another thread
  /// than the one replacing them, use current_authenticator()).
  authenticator_type& authenticator() noexcept { return *auth_; }
  observer_type& observer() noexcept { return observer_; }
  /// Allow/deny lists and failed-login bans (thread-safe).
  address_guard& guard() noexcept { return guard_; }
  /// The bandwidth buckets of the users logged in (thread-safe).
  user_rate_registry& user_rates() noexcept { return user_rates_; }

 private:
  // Binds and listens on host:port; returns the bound endpoint. Throws on failure.
  tcp::endpoint open_listener(tcp::acceptor& acceptor, std::uint16_t port) {
    tcp::endpoint ep(asio::ip::make_address(options_->host), port);
    acceptor.open(ep.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen(asio::socket_base::max_listen_connections);
    return acceptor.local_endpoint();
  }

  // Takes over `fd`, a socket someone else bound and made listen (listen_fd): the
  // acceptor's protocol must be the socket's family, which only getsockname(2) tells.
  static tcp::endpoint adopt_listener(tcp::acceptor& acceptor, int fd) {
    ::sockaddr_storage addr{};
    ::socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<::sockaddr*>(&addr), &len) != 0)
      throw std::system_error(errno, std::system_category(), "coftp: listening descriptor " + std::to_string(fd));
    if (addr.ss_family != AF_INET && addr.ss_family != AF_INET6)
      throw std::invalid_argument("coftp: listening descriptor " + std::to_string(fd) + " is no TCP/IP socket");
    acceptor.assign(addr.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd);
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
    auto limits = current_options();
    if (ec || stopping_ || relaying_.size() >= limits->max_sessions) co_return;  // the socket closes
    relaying_.insert(&socket);
    auto deadline = std::chrono::steady_clock::now() + limits->proxy_protocol_timeout;
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
    auto limits = current_options();
    {
      std::lock_guard lock(mutex_);
      auto& per_address = per_address_[address];
      if (sessions_.size() >= limits->max_sessions || per_address >= limits->max_sessions_per_address) {
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

  // The context new sessions get from `o` (nullptr without a certificate). Throws where
  // it cannot be built.
  static auto tls_context_for(const server_options& o) {
    const auto& tls = o.tls;
#if COFTP_HAS_TLS
    std::shared_ptr<asio::ssl::context> ctx;
    if (tls.enabled()) ctx = std::make_shared<asio::ssl::context>(make_tls_context(tls));
#else
    if (tls.enabled()) throw std::invalid_argument("coftp: TLS configured, but built without COFTP_HAS_TLS");
    std::shared_ptr<void> ctx;
#endif
    if (!tls.enabled() &&
        (tls.required || tls.implicit_port || tls.implicit_listen_fd >= 0 || tls.detect_on_control_port))
      throw std::invalid_argument("coftp: TLS options need tls.certificate_file");
    return ctx;
  }

  asio::io_context& io_;
  mutable std::mutex config_mutex_;  // guards options_, auth_, tls_ and the virtual hosts' authenticators
  std::shared_ptr<const server_options> options_;  // for new sessions
  storage_type storage_;
  std::shared_ptr<authenticator_type> auth_;
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
  std::shared_ptr<asio::ssl::context> tls_;  // for new sessions
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
