// coftp/session.hpp - one FTP session: per-connection state and the coroutine that
// plays the protocol's script (RFC 959 section 5.4): greeting, then command, reply,
// command, reply... until QUIT or disconnect.
//
// Handlers see the session through its public members: login state, working
// directory, path resolution, TYPE, the passive listener and the transfer
// primitives (send, receive, listing). They never see a socket.
#pragma once

#include <coftp/address.hpp>
#include <coftp/address_guard.hpp>
#include <coftp/auth.hpp>
#include <coftp/command.hpp>
#include <coftp/command_table.hpp>
#include <coftp/config.hpp>
#include <coftp/control_stream.hpp>
#include <coftp/data_channel.hpp>
#include <coftp/handler_session.hpp>
#include <coftp/detail/io.hpp>
#include <coftp/listing.hpp>
#include <coftp/throttle.hpp>
#include <coftp/observer.hpp>
#include <coftp/options.hpp>
#include <coftp/path.hpp>
#include <coftp/reply.hpp>
#include <coftp/reply_table.hpp>
#include <coftp/session_state.hpp>
#include <coftp/storage.hpp>
#include <coftp/transfer.hpp>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace coftp {

template <class Policies>
class basic_server;

/// How a control connection begins: in clear with the 220 greeting, with a TLS
/// handshake first (implicit FTPS), or either, told by the client's first bytes.
enum class session_start { plain, implicit_tls, detect };

/// A virtual host (RFC 7151 HOST): a name with its own storage and its own users.
/// `basic_server::add_virtual_host` makes them; a session points at the one HOST chose.
template <class Storage, class Authenticator>
struct basic_virtual_host {
  std::string name;  ///< as compared: lower case, no trailing dot (canonical_host_name)
  Storage storage;
  /// Its users; `basic_server::replace_authenticator(name, ...)` swaps them while
  /// sessions run (the server's lock guards the pointer, the object is never changed).
  std::shared_ptr<Authenticator> authenticator;
};

/// One control connection: the dialogue's state (session_state) and the I/O around it.
template <class Policies>
class basic_session : public session_state {
 public:
  using policies = Policies;
  using server_type = basic_server<Policies>;
  using storage_type = typename Policies::storage;
  using authenticator_type = typename Policies::authenticator;
  using virtual_host = basic_virtual_host<storage_type, authenticator_type>;
  using commands = typename Policies::commands;
  using tcp = asio::ip::tcp;

  /// `client`: the client's address when a PROXY protocol header named it (the socket's
  /// peer is then the proxy); by default the socket's peer.
  basic_session(server_type& server, tcp::socket socket, std::uint64_t id,
                session_start start = session_start::plain, std::optional<tcp::endpoint> client = std::nullopt)
      : start_(start),
        server_(server),
        options_(server.current_options()),
#if COFTP_HAS_TLS
        tls_(server.current_tls_context()),
#endif
        control_(std::move(socket)),
        engine_(control_.get_executor(), *options_),
        control_deadline_(control_.get_executor()) {
    info_.id = id;
    std::error_code ec;
    auto remote = client ? *client : control_.lowest_layer().remote_endpoint(ec);
    if (!ec) {
      info_.remote_address = remote.address().to_string();
      info_.remote_port = remote.port();
    }
    login_deadline_ = std::chrono::steady_clock::now() + options_->login_timeout;
  }

  basic_session(const basic_session&) = delete;
  basic_session& operator=(const basic_session&) = delete;

  /// Plays the session until QUIT, disconnect, idle timeout or server stop.
  ///
  /// @par Lifetimes
  /// The session must outlive the returned awaitable; the server keeps it in a
  /// shared_ptr for exactly that long.
  asio::awaitable<void> run() {
    // Small on purpose: an idle session's stack of coroutine frames is this one and
    // read_command's, so the greeting and the goodbye live in frames of their own.
    bool open = co_await open_control();
    if (open) {
      while (!quit_ && !control_lost_ && (!stopping_ || last_word_)) {
        // An idle session waits here, in this frame, for the first byte of its next
        // command: no line buffer, no frame of read_command's (start_idle_wait).
        std::error_code idle;
        bool waited = start_idle_wait();
        if (waited) std::tie(idle) = co_await control_.wait_readable();
        auto line = co_await read_command(waited, idle);  // nullopt: the conversation is over
        if (!line) break;
        co_await execute(*line);
      }
    }
    co_await close_control();
  }

  // ---- what handlers use ------------------------------------------------------------

  /// The server's options as this session began: a reload (basic_server::reconfigure)
  /// reaches the sessions that start after it.
  const server_options& options() const noexcept { return *options_; }
  asio::any_io_executor executor() { return control_.get_executor(); }
  /// The storage served: the virtual host's after HOST, else the server's.
  storage_type& storage() noexcept { return host_ ? host_->storage : server_.storage(); }
  /// The users checked at PASS: the virtual host's after HOST, else the server's; the
  /// ones in force now (a reload may replace them between two logins).
  std::shared_ptr<authenticator_type> authenticator() const { return server_.current_authenticator(host_); }

  /// HOST (RFC 7151): selects the virtual host named `name` (canonical_host_name form)
  /// for the login to come. False when the server has virtual hosts and none of that
  /// name. A server without virtual hosts is one host under any name: true, and the
  /// server's own storage and users stay.
  bool select_host(std::string_view name) {
    if (!server_.has_virtual_hosts()) {
      host_ = nullptr;
      return true;
    }
    auto* h = server_.find_virtual_host(name);
    if (!h) return false;
    host_ = h;
    return true;
  }
  /// The virtual host selected by HOST, or nullptr (the server's own).
  const virtual_host* host() const noexcept { return host_; }
  const session_info& info() const noexcept { return info_; }

  /// USER: remembers the name and logs out any previous user (RFC 959 4.1.1).
  void begin_login(std::string name) {
    reset_state();
    set_pending_user(std::move(name));
  }

  /// PASS: asks the authenticator; on failure counts it against the client's address
  /// (address_guard), waits the configured delay, and ends the session after the 530
  /// once `max_login_failures` is reached (as vsftpd and pure-ftpd do: no 421).
  asio::awaitable<bool> finish_login(std::string_view password) {
    std::string name = take_pending_user();
    credentials c{name, password, info_.remote_address};
    auto users = authenticator();  // kept while it answers, whatever a reload does meanwhile
    auto who = co_await users->authenticate(c);
    server_.observer().on_login(info_, name, who.has_value());
    if (!who) {
      if (server_.guard().record_failure(peer())) server_.observer().on_ban(info_, options_->ban_time);
      auto max = options_->max_login_failures;
      if (max != 0 && ++login_failures_ >= max) quit();
      asio::steady_timer pause(control_.get_executor(), options_->login_failure_delay);
      co_await pause.async_wait(detail::nothrow);
      co_return false;
    }
    log_in(std::move(*who));
    const auto& o = *options_;
    throttle_.start(o.session_rate, user_->rate, o.user_rate, user_->name, server_.user_rates());
    note_tls_identity();
    co_return true;
  }

  /// The transfer under way, if any.
  const transfer_progress& progress() const noexcept { return engine_.progress(); }
  /// True while a transfer runs and its 150 is out: a reply about it may go out now.
  bool transfer_reporting() const noexcept { return engine_.reporting(); }
  /// True once after a command read during a transfer cut it (ABOR's 226).
  bool take_transfer_cut() noexcept { return std::exchange(transfer_cut_, false); }

  /// True when the client's address is banned (after failed logins, maybe on another
  /// connection). `refuse_banned()` ends the session with the ban's 421.
  bool banned() const { return server_.guard().banned(peer()); }
  reply refuse_banned() {
    server_.observer().on_refused(info_, refusal::banned);
    quit_ = true;
    return address_guard::banned_reply();
  }

  /// "passive", "active" or "none": what the next transfer will use.
  std::string_view data_mode() const noexcept {
    return !engine_.channel().ready() ? "none" : engine_.channel().active() ? "active" : "passive";
  }

  /// REIN (RFC 959 4.1.1): back to the state of a new connection, logged out. A TLS
  /// control connection stays TLS (there is no safe way back to clear text), but PBSZ
  /// and PROT start over.
  void reinitialize() {
    reset_state();
    host_ = nullptr;  // RFC 7151 3: after REIN the client may send HOST again
    reset_protection();
  }

  // ---- FTPS (RFC 4217) ------------------------------------------------------------------

  /// True when the server has a certificate: AUTH TLS, PBSZ and PROT are offered.
  bool tls_offered() const noexcept {
#if COFTP_HAS_TLS
    return tls_ != nullptr;
#else
    return false;
#endif
  }
  /// True when logins and data need TLS (`tls_options::required`).
  bool tls_required() const noexcept { return tls_offered() && tls_settings().required; }
  /// True once the control connection is TLS (AUTH TLS, or implicit FTPS).
  bool control_secure() const noexcept { return control_.secure(); }

  /// AUTH TLS, once its 234 is out: turns the control connection into TLS. A failed
  /// handshake ends the session (the stream is neither clear nor TLS any more).
  /// `private_data` sets PROT P at once (the historical AUTH SSL).
  asio::awaitable<void> secure_control(bool private_data) {
#if COFTP_HAS_TLS
    if (control_lost_ || !tls_offered()) co_return;
    auto ec = co_await control_.start_tls(*tls_, binding_.get(), tls_settings().handshake_timeout);
    server_.observer().on_tls_handshake(info_, tls_channel::control, ec);
    if (ec) control_lost_ = true;
    pbsz_ = false;
    private_data_ = private_data;
#else
    (void)private_data;
    co_return;
#endif
  }

  /// Sends a reply now, before the handler's final one (150, 250- lines...).
  /// A client that does not read its replies for `options().data_timeout` is dropped.
  asio::awaitable<void> write_reply(reply r) {
    if (control_lost_) co_return;
    server_.observer().on_reply(info_, r);
    control_deadline_.arm(options().data_timeout, control_.lowest_layer());
    auto ec = co_await control_.write(r);
    control_deadline_.disarm();
    if (ec) control_lost_ = true;
  }

  /// The control connection's local address (an IPv4-mapped one as IPv4): where
  /// PASV and EPSV listen. Nullopt when the connection is gone.
  std::optional<asio::ip::address> local_address() const {
    std::error_code ec;
    auto local = control_.lowest_layer().local_endpoint(ec);
    if (ec) return std::nullopt;
    return normalized_address(local.address());
  }

  /// PASV and EPSV: opens a passive listener on `local` in the configured port range;
  /// the next transfer accepts one connection on it, from the client's address only.
  /// The port, or 0 when no listener could be opened.
  std::uint16_t listen_passive(const asio::ip::address& local) {
    const auto& o = options();
    auto [ec, port] = engine_.channel().listen(local, o.passive_port_min, o.passive_port_max);
    if (ec) server_.observer().on_data_connection_failed(info_, data_failure::listen);
    return ec ? 0 : port;
  }

  /// What `connect_active` made of a PORT or EPRT target.
  enum class active_target { set, disabled, foreign_address, privileged_port, no_connection };

  /// PORT and EPRT: the next transfer connects to `target`. RFC 2577 4: only to the
  /// control connection's own peer (the client a PROXY header named, behind a proxy),
  /// and to no port below 1024 ("bounce attack"); nothing is connected before a transfer
  /// command.
  active_target connect_active(const host_port& target) {
    if (!options().active_mode) return active_target::disabled;
    auto local = local_address();
    if (!local) return active_target::no_connection;
    auto addr = normalized_address(target.address);
    if (addr != peer()) return active_target::foreign_address;
    if (target.port < 1024) return active_target::privileged_port;
    engine_.channel().connect_to(tcp::endpoint(addr, target.port), *local);
    return active_target::set;
  }

  /// True after PASV/EPSV/PORT/EPRT until a transfer uses them.
  bool data_ready() const noexcept { return engine_.channel().ready(); }

  /// Sends the content of `reader` on the data connection (RETR), converting line
  /// endings under TYPE A. `preliminary` is the 150 reply sent once the data
  /// connection is up. ABOR on the control connection cuts the transfer; QUIT waits
  /// for it. `reply_for(result)` words a failure.
  template <class Reader>
  asio::awaitable<transfer_result> send(Reader& reader, reply preliminary, std::string_view path) {
    auto req = request(transfer_direction::download, path, std::move(preliminary), reader.size());
    return observed(std::move(req), [&](const transfer_request& q) { return engine_.send(*this, q, reader); });
  }

  /// Receives the data connection's bytes into `writer` and commits it (STOR).
  template <class Writer>
  asio::awaitable<transfer_result> receive(Writer& writer, reply preliminary, std::string_view path) {
    auto req = request(transfer_direction::upload, path, std::move(preliminary));
    return observed(std::move(req), [&](const transfer_request& q) { return engine_.receive(*this, q, writer); });
  }

  /// Sends what `source` produces on the data connection (a listing, in network form),
  /// a chunk at a time: `co_await source.next(chunk)` appends the next part to `chunk`
  /// (empty before each call) and leaves it empty at the end. Each chunk is written
  /// before the next is asked for, so a listing of any length takes the memory of one
  /// chunk. An error from `next` ends the transfer with 451. `source` must outlive the
  /// awaitable.
  template <class Source>
  asio::awaitable<transfer_result> send_generated(Source& source, reply preliminary, std::string_view path) {
    auto req = request(transfer_direction::listing, path, std::move(preliminary));
    return observed(std::move(req),
                    [&](const transfer_request& q) { return engine_.send_generated(*this, q, source); });
  }

  /// Sends `text` (already in network form) on the data connection.
  asio::awaitable<transfer_result> send_text(std::string text, reply preliminary, std::string_view path) {
    struct whole_text {
      std::string text;
      asio::awaitable<std::error_code> next(std::string& out) {
        out.swap(text);
        co_return std::error_code{};
      }
    } source{std::move(text)};
    auto r = co_await send_generated(source, std::move(preliminary), path);
    co_return r;
  }

  // ---- what the transfer engine uses (transfer_control) ---------------------------------

  /// Reads the control connection while a transfer runs: ABOR cuts the transfer; QUIT
  /// lets it finish (RFC 959 4.1.1), then ends the session; STAT reports it; other
  /// commands are kept, in order, for after the transfer's own reply.
  asio::awaitable<transfer_outcome> watch_control() {
    while (!last_heard_ && pending_.size() < COFTP_MAX_PENDING_COMMANDS) {
      auto [ec, line] = co_await control_.read_line();
      if (ec == error::line_too_long) {
        pending_.push_back({std::string(), true});
        continue;
      }
      if (ec) {
        if (ec != asio::error::operation_aborted) control_lost_ = true;
        co_return transfer_outcome::connection_lost;
      }
      command cmd = parse_command(line);
      switch (commands::template during_transfer<basic_session>(cmd.verb)) {
        case while_transferring::cut:
          // Answered first once the transfer has its 426 (ABOR's 226 follows it).
          transfer_cut_ = true;
          pending_.insert(pending_.begin(), {std::move(line), false});
          co_return transfer_outcome::aborted;
        case while_transferring::last: last_heard_ = true; break;
        case while_transferring::answer:
          if (auto r = commands::answer_during_transfer(*this, cmd)) {
            server_.observer().on_command(info_, cmd);
            co_await write_reply(std::move(*r));
            continue;
          }
          break;
        case while_transferring::later: break;
      }
      pending_.push_back({std::move(line), false});
    }
    // Nothing more to read until the transfer is over (this branch is cancelled then).
    asio::steady_timer forever(control_.get_executor(), std::chrono::steady_clock::time_point::max());
    co_await forever.async_wait(detail::nothrow);
    co_return transfer_outcome::aborted;
  }

  /// True when the control connection was closed or reset by the client, read or not
  /// (POLLRDHUP: the peer's FIN has arrived). A client that sent QUIT and then shut down
  /// its side (a script piping commands) is still waiting for its replies.
  bool client_left() {
    if (control_lost_) return true;
    if (last_heard_) return false;
    ::pollfd p{control_.lowest_layer().native_handle(), POLLRDHUP, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

  bool stopping() const noexcept { return stopping_; }

  /// How this session's data connections are made: from or to the client's address (a
  /// PROXY header's, behind a proxy, whose data connections must name it in a PROXY
  /// header of their own), under PROT P with TLS bound to this control connection.
  coftp::data_terms data_terms() {
    coftp::data_terms t;
    t.peer = peer();
    if (!options_->proxy_protocol_from.empty())
      t.relayed = [this](const asio::ip::address& a) { return server_.relayed_by_proxy(a); };
    t.refuse_clear = tls_required() && !private_data_;
#if COFTP_HAS_TLS
    if (private_data_) {
      t.tls = tls_.get();
      t.binding = &binding_.get();
      t.on_handshake = [this](std::error_code ec) { server_.observer().on_tls_handshake(info_, tls_channel::data, ec); };
    }
#endif
    return t;
  }

  // ---- what the server uses -----------------------------------------------------------

  /// Asks the session to end: at once when it waits for a command, after the running
  /// transfer otherwise. Call on the session's executor.
  void request_stop() {
    stopping_ = true;
    // A session busy with a command (a transfer) may still say QUIT once it got its
    // reply: it is answered 221, not cut short with 421 (read_command).
    last_word_ = !reading_;
    if (reading_) control_.cancel();
  }

  /// Ends the session now, cutting any transfer. Call on the session's executor.
  void force_stop() {
    stopping_ = true;
    engine_.cut();
    // Cancel, not close: the 426 and 421 still go out, each bounded by the reply
    // write deadline.
    control_.cancel();
  }

 private:
  // The next command line: one kept back during a transfer, one already buffered
  // (pipelined), or one read within the idle timeout, and before login within what is
  // left of the login timeout. The deadline covers the whole line: a client sending
  // half a line and nothing more times out too. Over-long lines are answered here.
  // Nullopt when the client left, a timeout struck (after 421) or the server stops.
  asio::awaitable<std::optional<std::string>> read_command(bool waited, std::error_code idle) {
    bool login_bound = idle_login_bound_;
    for (;;) {
      std::error_code ec;
      std::string line;
      if (waited) {
        // run() waited for the line's first bytes (start_idle_wait): the deadline
        // armed then covers the whole line.
        waited = false;
        ec = idle;
        if (!ec) std::tie(ec, line) = co_await control_.read_line();
        control_deadline_.disarm();
        reading_ = false;
      } else if (!pending_.empty()) {
        ec = pending_.front().too_long ? make_error_code(error::line_too_long) : std::error_code{};
        line = std::move(pending_.front().text);
        pending_.erase(pending_.begin());
        if (pending_.empty()) decltype(pending_)().swap(pending_);
      } else {
        if (stopping_ && !last_word_) break;
        if (!control_.has_buffered_line()) control_.shrink();
        auto limit = read_limit(login_bound);
        if (stopping_) limit = std::min<std::chrono::steady_clock::duration>(limit, std::chrono::milliseconds(COFTP_SHUTDOWN_QUIT_WAIT_MS));
        if (login_bound && limit == limit.zero()) {
          co_await write_timeout(true);
          co_return std::nullopt;
        }
        reading_ = true;
        control_deadline_.arm(limit, control_.lowest_layer());
        std::tie(ec, line) = co_await control_.read_line();
        control_deadline_.disarm();
        reading_ = false;
      }
      if (!ec && stopping_) {
        // The server stops (request_stop): the commands still heard are the one that cut
        // the transfer (ABOR, for its 226) and the one that ends the session (QUIT).
        last_word_ = false;
        auto w = commands::template during_transfer<basic_session>(parse_command(line).verb);
        if (w != while_transferring::last && w != while_transferring::cut) break;
      }
      if (!ec) co_return std::optional<std::string>(std::move(line));
      if (ec != error::line_too_long) break;
      co_await write_reply({reply_code::syntax_error, "Command line too long"});
    }
    if (stopping_) co_return std::nullopt;  // close_control says 421
    if (control_deadline_.expired()) co_await write_timeout(login_bound);
    else control_lost_ = true;
    co_return std::nullopt;
  }

  // When nothing is buffered or kept back and the control connection is in clear
  // text, prepares run()'s wait for the next command (shrinks the line buffer, arms
  // the idle or login deadline) and returns true. Otherwise read_command does it all.
  bool start_idle_wait() {
    if (!pending_.empty() || stopping_ || control_.secure() || control_.has_buffered_line()) return false;
    drop_settled_pairs();
    bool login_bound = false;
    auto limit = read_limit(login_bound);
    if (login_bound && limit == limit.zero()) return false;  // read_command says 421
    control_.shrink();
    idle_login_bound_ = login_bound;
    reading_ = true;
    control_deadline_.arm(limit, control_.lowest_layer());
    return true;
  }

  // How long the next command may take to arrive: the idle timeout, and before login
  // what is left of the login timeout (then `login_bound`).
  std::chrono::steady_clock::duration read_limit(bool& login_bound) const {
    std::chrono::steady_clock::duration limit = options().idle_timeout;
    login_bound = false;
    if (!logged_in() && login_deadline_ - std::chrono::steady_clock::now() < limit) {
      limit = std::max(login_deadline_ - std::chrono::steady_clock::now(), limit.zero());
      login_bound = true;
    }
    return limit;
  }

  asio::awaitable<void> write_timeout(bool login_bound) {
    co_await write_reply({reply_code::service_not_available, login_bound ? "Login timeout: closing control connection"
                                                                         : "Timeout: closing control connection"});
  }

  // The start of run(): implicit TLS, then the greeting. False when the session is
  // over already.
  asio::awaitable<bool> open_control() {
    server_.observer().on_connect(info_);
    bool ok = co_await begin_implicit_tls();  // named: `if (!co_await ...) co_return false;` crashed under g++ 12
    if (ok) co_await write_reply({reply_code::service_ready, options().greeting});
    co_return ok;
  }

  // The end of run(): 421 when the server stops, then close everything.
  asio::awaitable<void> close_control() {
    if (stopping_ && !quit_ && !control_lost_)
      co_await write_reply({reply_code::service_not_available, "Server shutting down"});
    engine_.channel().close();
#if COFTP_HAS_TLS
    if (!control_lost_) co_await control_.shutdown_tls(tls_settings().shutdown_timeout);
#endif
    control_.close();
    server_.observer().on_disconnect(info_);
  }

  // Runs one command line.
  asio::awaitable<void> execute(const std::string& line) {
    command cmd = parse_command(line);
    if (commands::template secret_argument<basic_session>(cmd.verb)) {
      command masked{cmd.verb, "****", cmd.error};
      server_.observer().on_command(info_, masked);
    } else {
      server_.observer().on_command(info_, cmd);
    }
    // The first half of a pair (RNFR) is dropped by anything but its second (RNTO),
    // even by a line that is no command.
    if (renaming() && (!cmd.ok() || commands::template follows<basic_session>(cmd.verb) != "RNFR")) drop_rename();
    if (!cmd.ok()) {
      co_await write_reply(reply_for(cmd.error));
      co_return;
    }
    auto r = co_await commands::dispatch(*this, cmd);
    if (!r.empty()) co_await write_reply(std::move(r));
  }

  // Logging out (USER again, REIN) goes through one place.
  void reset_state() {
    // Logged out (REIN, USER again): a new login phase, with its own timeout.
    if (user_) login_deadline_ = std::chrono::steady_clock::now() + options().login_timeout;
    log_out();
    note_tls_identity();
    throttle_.reset();
    engine_.channel().reset();
  }


  transfer_request request(transfer_direction dir, std::string_view path, reply preliminary, std::uint64_t total = 0) {
    return {dir, path, std::move(preliminary), ascii_, throttle_.of(dir == transfer_direction::upload), total};
  }

  // Runs a transfer (`run(req)`), then counts it and tells the observer how it ended.
  template <class Run>
  asio::awaitable<transfer_result> observed(transfer_request req, Run run) {
    auto start = std::chrono::steady_clock::now();
    bool active = engine_.channel().active();  // the channel is spent after the transfer
    auto r = co_await run(req);
    stats_.count(req.direction, r);
    if (r.cause == error::no_data_connection)
      server_.observer().on_data_connection_failed(info_, active ? data_failure::connect : data_failure::accept);
    if (r.outcome == transfer_outcome::storage_error) server_.observer().on_storage_error(info_, r.cause);
    transfer_event ev{req.direction, r.outcome, std::string(req.path), user().name, r.bytes,
                      std::chrono::steady_clock::now() - start, req.ascii, detail::is_anonymous_name(user().name)};
    server_.observer().on_transfer(info_, ev);
    co_return r;
  }

  const coftp::tls_options& tls_settings() const noexcept { return options_->tls; }

  // Implicit FTPS: the TLS handshake before the greeting; with detection on the control
  // port, only for a client whose first byte opens a TLS handshake record (22): an FTP
  // client says nothing before the 220. False when the session is over already.
  asio::awaitable<bool> begin_implicit_tls() {
#if COFTP_HAS_TLS
    if (start_ == session_start::plain || !tls_offered()) co_return true;
    bool tls = start_ == session_start::implicit_tls;
    if (start_ == session_start::detect) {
      auto first = co_await control_.peek(1, tls_settings().detect_wait);
      tls = !first.empty() && first[0] == '\x16';
    }
    if (!tls) co_return true;
    auto ec = co_await control_.start_tls(*tls_, binding_.get(), tls_settings().handshake_timeout);
    server_.observer().on_tls_handshake(info_, tls_channel::control, ec);
    if (ec) control_lost_ = true;
    co_return !ec;
#else
    co_return true;
#endif
  }

  // Who is logged in, for the TLS session binding (detail::session_binding).
  void note_tls_identity() {
#if COFTP_HAS_TLS
    bool anonymous = user_ && detail::is_anonymous_name(user_->name);
    binding_.identify(user_.has_value(), user_ ? std::string_view(user_->name) : std::string_view(), anonymous,
                      host_ ? std::string_view(host_->name) : std::string_view(), peer());
#endif
  }

  session_start start_;
  server_type& server_;
  std::shared_ptr<const server_options> options_;  // as the session began (before engine_, which keeps a reference)
#if COFTP_HAS_TLS
  // The TLS context as the session began: its data connections resume the control
  // connection's session in it, even after a reload brought a new certificate.
  std::shared_ptr<asio::ssl::context> tls_;
#endif
  control_stream control_;
  transfer_engine engine_;
  detail::deadline control_deadline_;  // idle timeout of reads, bound on reply writes
  session_info info_;
  std::chrono::steady_clock::time_point login_deadline_;  // before login, the login timeout
  std::size_t login_failures_ = 0;                        // failed PASS on this connection

  virtual_host* host_ = nullptr;  // HOST's choice; null: the server's own storage and users
  // The client's address, IPv4-mapped as IPv4 (address_guard), from info_ (not kept twice).
  asio::ip::address peer() const {
    std::error_code ec;
    auto a = asio::ip::make_address(info_.remote_address, ec);
    return ec ? asio::ip::address() : normalized_address(a);
  }

  struct pending_line {
    std::string text;
    bool too_long = false;
  };
  std::vector<pending_line> pending_;  // commands that arrived during a transfer (few: a vector)
  session_throttle throttle_;  // the bandwidth limits of the user logged in
#if COFTP_HAS_TLS
  detail::session_binding binding_;  // this control connection's TLS session id context
#endif
  bool reading_ = false;
  bool last_heard_ = false;    // the command read during a transfer that ends the session (QUIT)
  bool transfer_cut_ = false;  // a command read during a transfer cut it (ABOR)
  bool control_lost_ = false;
  bool stopping_ = false;
  bool last_word_ = false;  // stopping, but a QUIT after the running command's reply is still heard
  bool idle_login_bound_ = false;  // start_idle_wait's deadline is the login timeout
};

}  // namespace coftp
