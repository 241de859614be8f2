// coftp/session.hpp - one FTP session: per-connection state and the coroutine that
// plays the protocol's script (RFC 959 section 5.4): greeting, then command, reply,
// command, reply... until QUIT or disconnect.
//
// Handlers see the session through its public members: login state, working
// directory, path resolution, TYPE, the passive listener and the transfer
// primitives (send, receive, listing). They never see a socket.
#pragma once

#include <coftp/address_guard.hpp>
#include <coftp/auth.hpp>
#include <coftp/command.hpp>
#include <coftp/config.hpp>
#include <coftp/control_stream.hpp>
#include <coftp/data_channel.hpp>
#include <coftp/detail/ascii.hpp>
#include <coftp/detail/io.hpp>
#include <coftp/listing.hpp>
#include <coftp/throttle.hpp>
#include <coftp/observer.hpp>
#include <coftp/options.hpp>
#include <coftp/path.hpp>
#include <coftp/reply.hpp>
#include <coftp/storage.hpp>

#include <asio/awaitable.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/post.hpp>
#include <asio/write.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <cerrno>

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

/// What STAT reports about a session's transfers so far.
struct session_stats {
  std::uint64_t files_sent = 0, files_received = 0;
  std::uint64_t bytes_sent = 0, bytes_received = 0;
};

/// The transfer under way, for STAT during a transfer.
struct transfer_progress {
  bool active = false;
  transfer_direction direction = transfer_direction::download;
  std::string path;
  std::uint64_t bytes = 0;  ///< moved so far
  std::uint64_t total = 0;  ///< expected (a download's file size), 0 when unknown
};

/// How a control connection begins: in clear with the 220 greeting, with a TLS
/// handshake first (implicit FTPS), or either, told by the client's first bytes.
enum class session_start { plain, implicit_tls, detect };

/// How a transfer ended, and the reply owed when it did not complete.
struct transfer_result {
  transfer_outcome outcome = transfer_outcome::completed;
  std::uint64_t bytes = 0;
  reply failure;  ///< 425, 426, 451 or 452 when outcome != completed

  transfer_result() = default;
  transfer_result(transfer_outcome o, std::uint64_t n, reply f = {}) : outcome(o), bytes(n), failure(std::move(f)) {}

  bool ok() const noexcept { return outcome == transfer_outcome::completed; }
};

/// A virtual host (RFC 7151 HOST): a name with its own storage and its own users.
/// `basic_server::add_virtual_host` makes them; a session points at the one HOST chose.
template <class Storage, class Authenticator>
struct basic_virtual_host {
  std::string name;  ///< as compared: lower case, no trailing dot (canonical_host_name)
  Storage storage;
  Authenticator authenticator;
};

/// One control connection and its state.
template <class Policies>
class basic_session {
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
        control_(std::move(socket)),
        data_(control_.get_executor()),
        control_deadline_(control_.get_executor()) {
    info_.id = id;
    std::error_code ec;
    auto remote = client ? *client : control_.lowest_layer().remote_endpoint(ec);
    if (!ec) {
      info_.remote_address = remote.address().to_string();
      info_.remote_port = remote.port();
    }
    login_deadline_ = std::chrono::steady_clock::now() + server.options().login_timeout;
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

  const server_options& options() const noexcept { return server_.options(); }
  asio::any_io_executor executor() { return control_.get_executor(); }
  /// The storage served: the virtual host's after HOST, else the server's.
  storage_type& storage() noexcept { return host_ ? host_->storage : server_.storage(); }
  /// The users checked at PASS: the virtual host's after HOST, else the server's.
  authenticator_type& authenticator() noexcept { return host_ ? host_->authenticator : server_.authenticator(); }

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

  bool logged_in() const noexcept { return user_.has_value(); }
  /// The logged-in user (a read-only nobody before login).
  const coftp::user& user() const noexcept {
    static const coftp::user nobody{"", "/", permissions::none};
    return user_ ? *user_ : nobody;
  }

  /// USER: remembers the name and logs out any previous user (RFC 959 4.1.1).
  void begin_login(std::string name) {
    reset_state();
    rare().pending_user = std::move(name);
  }
  const std::optional<std::string>& pending_user() const noexcept {
    static const std::optional<std::string> none;
    return rare_ ? rare_->pending_user : none;
  }

  /// PASS: asks the authenticator; on failure counts it against the client's address
  /// (address_guard), waits the configured delay, and ends the session after the 530
  /// once `max_login_failures` is reached (as vsftpd and pure-ftpd do: no 421).
  asio::awaitable<bool> finish_login(std::string_view password) {
    std::string name = rare_ ? rare_->pending_user.value_or("") : "";
    if (rare_) rare_->pending_user.reset();
    credentials c{name, password, info_.remote_address};
    auto who = co_await authenticator().authenticate(c);
    server_.observer().on_login(info_, name, who.has_value());
    if (!who) {
      if (server_.guard().record_failure(peer())) server_.observer().on_ban(info_, server_.options().ban_time);
      auto max = server_.options().max_login_failures;
      if (max != 0 && ++login_failures_ >= max) quit();
      asio::steady_timer pause(control_.get_executor(), server_.options().login_failure_delay);
      co_await pause.async_wait(detail::nothrow);
      co_return false;
    }
    user_ = std::move(who);
    cwd_ = "/";
    start_throttle();
    note_tls_identity();
    co_return true;
  }

  const std::string& cwd() const noexcept { return cwd_; }
  void set_cwd(std::string virtual_path) { cwd_ = std::move(virtual_path); }

  /// Resolves a client's path argument against the working directory and the user's
  /// home. Nullopt for arguments that are no path at all (NUL, CR, LF).
  std::optional<resolved_path> resolve(std::string_view arg) const {
    auto v = resolve_path(cwd_, arg);
    if (!v) return std::nullopt;
    auto s = join_under(user().home, *v);
    return resolved_path{std::move(*v), std::move(s)};
  }

  bool ascii() const noexcept { return ascii_; }
  void set_ascii(bool on) noexcept { ascii_ = on; }

  /// RNFR's source, cleared by any command other than RNTO.
  std::optional<resolved_path>& rename_from() { return rare().rename_from; }

  /// REST (RFC 3659 5): the offset of the next transfer. `take_restart()` hands it to
  /// that transfer (or to a listing, which drops it) and resets it to 0.
  void set_restart(std::uint64_t offset) noexcept { restart_ = offset; }
  std::uint64_t restart() const noexcept { return restart_; }
  std::uint64_t take_restart() noexcept { return std::exchange(restart_, 0); }

  /// EPSV ALL (RFC 2428 4): from now on only EPSV may set up data connections.
  void set_epsv_all() noexcept { epsv_all_ = true; }
  bool epsv_all() const noexcept { return epsv_all_; }

  /// The MLSx facts selected by OPTS MLST (RFC 3659 7.9).
  unsigned mlst_facts() const noexcept { return mlst_facts_; }
  void set_mlst_facts(unsigned facts) noexcept { mlst_facts_ = facts; }

  /// Transfer counters of this session (STAT).
  const session_stats& stats() const noexcept { return stats_; }

  /// The transfer under way, if any.
  const transfer_progress& progress() const noexcept { return progress_; }

  /// "passive", "active" or "none": what the next transfer will use.
  std::string_view data_mode() const noexcept {
    return !data_.ready() ? "none" : data_.active() ? "active" : "passive";
  }

  /// REIN (RFC 959 4.1.1): back to the state of a new connection, logged out. A TLS
  /// control connection stays TLS (there is no safe way back to clear text), but PBSZ
  /// and PROT start over.
  void reinitialize() {
    reset_state();
    host_ = nullptr;  // RFC 7151 3: after REIN the client may send HOST again
    pbsz_ = false;
    private_data_ = false;
  }

  // ---- FTPS (RFC 4217) ------------------------------------------------------------------

  /// True when the server has a certificate: AUTH TLS, PBSZ and PROT are offered.
  bool tls_offered() const noexcept {
#if COFTP_HAS_TLS
    return server_.tls_context() != nullptr;
#else
    return false;
#endif
  }
  /// True when logins and data need TLS (`tls_options::required`).
  bool tls_required() const noexcept { return tls_offered() && tls_settings().required; }
  /// True once the control connection is TLS (AUTH TLS, or implicit FTPS).
  bool control_secure() const noexcept { return control_.secure(); }

  /// AUTH TLS: sends `ok` (234), then turns the control connection into TLS. Returns an
  /// empty reply (nothing more to send); a failed handshake ends the session.
  /// `private_data` sets PROT P at once (the historical AUTH SSL).
  asio::awaitable<reply> start_tls(reply ok, bool private_data) {
#if COFTP_HAS_TLS
    co_await write_reply(std::move(ok));
    if (control_lost_) co_return reply{};
    auto ec = co_await control_.start_tls(*server_.tls_context(), binding(), tls_settings().handshake_timeout);
    if (ec) control_lost_ = true;  // nothing left to talk to: the stream is neither clear nor TLS
    pbsz_ = false;
    private_data_ = private_data;
    co_return reply{};
#else
    (void)ok;
    (void)private_data;
    co_return reply{502, "TLS is not available"};
#endif
  }

  /// PBSZ 0 was sent (PROT may follow).
  void set_pbsz() noexcept { pbsz_ = true; }
  bool pbsz_set() const noexcept { return pbsz_; }
  /// PROT P (true) or PROT C (false): whether data connections are TLS.
  void set_private_data(bool on) noexcept { private_data_ = on; }
  bool private_data() const noexcept { return private_data_; }

  /// Ends the session after the current reply (QUIT).
  void quit() noexcept { quit_ = true; }

  /// Sends a reply now, before the handler's final one (150, 250- lines...).
  /// A client that does not read its replies for `options().data_timeout` is dropped.
  asio::awaitable<void> write_reply(reply r) {
    if (control_lost_) co_return;
    server_.observer().on_reply(info_, r);
    control_deadline_.arm(server_.options().data_timeout, control_.lowest_layer());
    auto ec = co_await control_.write(r);
    control_deadline_.disarm();
    if (ec) control_lost_ = true;
  }

  /// PASV (extended = false) and EPSV (extended = true): opens a passive listener on
  /// the control connection's local address and returns the 227 or 229 reply.
  /// `family` (EPSV 1 or EPSV 2, RFC 2428 3) asks for IPv4 or IPv6; 0 takes the control
  /// connection's.
  reply open_passive(bool extended, int family = 0) {
    std::error_code ec;
    auto local = control_.lowest_layer().local_endpoint(ec);
    if (ec) return {425, "Cannot open passive connection"};
    auto addr = data_channel::normalized(local.address());
    if ((family == 1 && !addr.is_v4()) || (family == 2 && !addr.is_v6()))
      return {522, std::string("Network protocol not supported, use (") + (addr.is_v4() ? "1" : "2") + ")"};
    if (!extended && addr.is_v6())
      return {425, "PASV is not available on an IPv6 connection, use EPSV"};
    const auto& o = server_.options();
    auto [lec, port] = data_.listen(addr, o.passive_port_min, o.passive_port_max);
    if (lec) return {425, "Cannot open passive connection"};
    if (extended) return {229, "Entering Extended Passive Mode (|||" + std::to_string(port) + "|)"};
    auto shown = addr.to_v4();
    if (!o.passive_address.empty()) {
      std::error_code pec;
      auto announced = asio::ip::make_address_v4(o.passive_address, pec);
      if (!pec) shown = announced;
    }
    auto b = shown.to_bytes();
    return {227, "Entering Passive Mode (" + std::to_string(b[0]) + "," + std::to_string(b[1]) + "," +
                     std::to_string(b[2]) + "," + std::to_string(b[3]) + "," + std::to_string(port >> 8) +
                     "," + std::to_string(port & 0xff) + ")"};
  }

  /// PORT and EPRT: the next transfer connects to `target`. RFC 2577 4: only the
  /// control connection's own peer (the client a PROXY header named, behind a proxy),
  /// and no port below 1024 ("bounce attack"); nothing is connected before a transfer
  /// command.
  reply open_active(tcp::endpoint target) {
    if (!server_.options().active_mode) return {502, "Active mode is disabled on this server, use EPSV or PASV"};
    std::error_code ec;
    auto local = control_.lowest_layer().local_endpoint(ec);
    if (ec) return {425, "Cannot open data connection"};
    auto addr = data_channel::normalized(target.address());
    if (addr != peer())
      return {500, "Illegal address: data connections go to the client's own address only"};
    if (target.port() < 1024) return {504, "Illegal port: ports below 1024 are refused"};
    data_.connect_to(tcp::endpoint(addr, target.port()), data_channel::normalized(local.address()));
    return {200, "Active mode: will connect to " + addr.to_string() + " port " + std::to_string(target.port())};
  }

  /// True after PASV/EPSV/PORT/EPRT until a transfer uses them.
  bool data_ready() const noexcept { return data_.ready(); }

  /// Sends the content of `reader` on the data connection (RETR), converting line
  /// endings under TYPE A. `preliminary` is the 150 reply sent once the data
  /// connection is up. ABOR on the control connection cuts the transfer; QUIT waits
  /// for it.
  template <class Reader>
  asio::awaitable<transfer_result> send(Reader& reader, reply preliminary, std::string_view path) {
    auto body = send_body(reader, std::move(preliminary));
    auto r = co_await transfer(transfer_direction::download, path, std::move(body), reader.size());
    co_return r;
  }

  /// Receives the data connection's bytes into `writer` and commits it (STOR).
  template <class Writer>
  asio::awaitable<transfer_result> receive(Writer& writer, reply preliminary, std::string_view path) {
    auto body = receive_body(writer, std::move(preliminary));
    auto r = co_await transfer(transfer_direction::upload, path, std::move(body));
    co_return r;
  }

  /// Sends what `source` produces on the data connection (a listing, in network form),
  /// a chunk at a time: `co_await source.next(chunk)` appends the next part to `chunk`
  /// (empty before each call) and leaves it empty at the end. Each chunk is written
  /// before the next is asked for, so a listing of any length takes the memory of one
  /// chunk. An error from `next` ends the transfer with 451. `source` must outlive the
  /// awaitable.
  template <class Source>
  asio::awaitable<transfer_result> send_generated(Source& source, reply preliminary, std::string_view path) {
    auto body = send_generated_body(source, std::move(preliminary));
    auto r = co_await transfer(transfer_direction::listing, path, std::move(body));
    co_return r;
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
    data_.close();
    if (active_data_) active_data_->close();
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
        // The server stops (request_stop): the one command still heard is QUIT.
        last_word_ = false;
        if (parse_command(line).verb != "QUIT") break;
      }
      if (!ec) co_return std::optional<std::string>(std::move(line));
      if (ec != error::line_too_long) break;
      co_await write_reply({500, "Command line too long"});
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
    if (rare_ && !rare_->pending_user && !rare_->rename_from) rare_.reset();
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
    std::chrono::steady_clock::duration limit = server_.options().idle_timeout;
    login_bound = false;
    if (!logged_in() && login_deadline_ - std::chrono::steady_clock::now() < limit) {
      limit = std::max(login_deadline_ - std::chrono::steady_clock::now(), limit.zero());
      login_bound = true;
    }
    return limit;
  }

  asio::awaitable<void> write_timeout(bool login_bound) {
    co_await write_reply({421, login_bound ? "Login timeout: closing control connection"
                                           : "Timeout: closing control connection"});
  }

  // The start of run(): implicit TLS, then the greeting. False when the session is
  // over already.
  asio::awaitable<bool> open_control() {
    server_.observer().on_connect(info_);
    bool ok = co_await begin_implicit_tls();  // named: `if (!co_await ...) co_return false;` crashed under g++ 12
    if (ok) co_await write_reply({220, server_.options().greeting});
    co_return ok;
  }

  // The end of run(): 421 when the server stops, then close everything.
  asio::awaitable<void> close_control() {
    if (stopping_ && !quit_ && !control_lost_) co_await write_reply({421, "Server shutting down"});
    data_.close();
#if COFTP_HAS_TLS
    if (!control_lost_) co_await control_.shutdown_tls(tls_settings().shutdown_timeout);
#endif
    control_.close();
    server_.observer().on_disconnect(info_);
  }

  // Runs one command line.
  asio::awaitable<void> execute(const std::string& line) {
    command cmd = parse_command(line);
    if (cmd.verb == "PASS") {
      command masked{cmd.verb, "****", cmd.error};
      server_.observer().on_command(info_, masked);
    } else {
      server_.observer().on_command(info_, cmd);
    }
    // RFC 959: RNTO must immediately follow RNFR; anything else, even a bad line,
    // cancels the rename.
    if (rare_ && rare_->rename_from && (!cmd.ok() || cmd.verb != "RNTO")) rare_->rename_from.reset();
    if (!cmd.ok()) {
      auto r = reply_for_parse_error(cmd.error);
      co_await write_reply(r);
      co_return;
    }
    // A session opened before its address was banned stops at its next login attempt.
    if ((cmd.verb == "USER" || cmd.verb == "PASS") && server_.guard().banned(peer())) {
      server_.observer().on_refused(info_, refusal::banned);
      co_await write_reply(address_guard::banned_reply());
      quit_ = true;
      co_return;
    }
    auto r = co_await commands::dispatch(*this, cmd);
    if (!r.empty()) co_await write_reply(std::move(r));
    if (abort_requested_) {
      abort_requested_ = false;
      co_await write_reply({226, "Abort successful"});
    }
    if (quit_requested_) {
      quit_requested_ = false;
      co_await write_reply({221, "Goodbye"});
      quit_ = true;
    }
  }

  static reply reply_for_parse_error(parse_error e) {
    switch (e) {
      case parse_error::nul_byte: return {501, "NUL byte in command line"};
      case parse_error::bad_encoding: return {501, "Invalid characters in argument (UTF-8 expected)"};
      case parse_error::empty: return {500, "Empty command"};
      default: return {500, "Unknown command"};
    }
  }

  // Logging out (USER again, REIN) goes through one place.
  void reset_state() {
    // Logged out (REIN, USER again): a new login phase, with its own timeout.
    if (user_) login_deadline_ = std::chrono::steady_clock::now() + server_.options().login_timeout;
    user_.reset();
    note_tls_identity();
    throttle_.reset();
    rare_.reset();
    cwd_ = "/";
    ascii_ = true;
    restart_ = 0;
    epsv_all_ = false;
    mlst_facts_ = mlst_fact::defaults;
    data_.reset();
  }


  // Bandwidth limits of a logged-in session, when any applies: its own buckets and its
  // user's (shared with the user's other sessions). Allocated only when limited.
  struct throttle_state {
    token_bucket download, upload;
    user_rate_registry::buckets user;
  };

  void start_throttle() {
    const auto& o = server_.options();
    rate_limits per_user = user_->rate;
    if (per_user.download == 0) per_user.download = o.user_rate.download;
    if (per_user.upload == 0) per_user.upload = o.user_rate.upload;
    throttle_.reset();
    if (!o.session_rate.limited() && !per_user.limited()) return;
    throttle_ = std::make_unique<throttle_state>(throttle_state{token_bucket(o.session_rate.download),
                                                                token_bucket(o.session_rate.upload),
                                                                server_.user_rates().acquire(user_->name, per_user)});
  }

  transfer_throttle throttle_for(transfer_direction dir) noexcept {
    if (!throttle_) return {};
    if (dir == transfer_direction::upload) return {&throttle_->upload, throttle_->user.upload.get()};
    return {&throttle_->download, throttle_->user.download.get()};
  }

  // Takes `bytes` from the buckets and waits while they are in debt. The wait is an
  // ordinary timer: ABOR (watched's ||) cancels it with the transfer.
  asio::awaitable<void> pace(transfer_throttle& throttle, std::uint64_t bytes) {
    auto wait = throttle.take(bytes);
    if (wait <= wait.zero()) co_return;
    asio::steady_timer timer(control_.get_executor(), wait);
    co_await timer.async_wait(detail::nothrow);
  }

  // Runs a transfer body while reading the control connection: ABOR cuts the transfer;
  // QUIT lets it finish (RFC 959 4.1.1), then ends the session; other commands are
  // kept, in order, for after the transfer's own reply.
  asio::awaitable<transfer_result> watched(asio::awaitable<transfer_result> body) {
    using namespace asio::experimental::awaitable_operators;
    transfer_result result;
    try {
      auto r = co_await (never_throws(std::move(body)) || watch_control());
      if (r.index() == 0) result = std::get<0>(std::move(r));
      else if (control_lost_) result = broken(transfer_outcome::connection_lost, progress_.bytes);  // the client left
      else result = {transfer_outcome::aborted, progress_.bytes, {426, "Connection closed; transfer aborted"}};
    } catch (const std::exception&) {
      // Asio 1.22's || can rethrow the cancelled branch's operation_aborted.
      result = {transfer_outcome::aborted, progress_.bytes, {426, "Connection closed; transfer aborted"}};
    }
    if (stopping_ && !result.ok()) result.failure = {426, "Server shutting down; transfer aborted"};
    co_return result;
  }

  // In 1.22, `a || b` cancels b only once a *succeeds*: a body that threw (bad_alloc,
  // a backend's exception) would leave the session waiting on the control connection.
  static asio::awaitable<transfer_result> never_throws(asio::awaitable<transfer_result> body) {
    try {
      auto r = co_await std::move(body);
      co_return r;
    } catch (const std::exception&) {
      co_return transfer_result{transfer_outcome::storage_error, 0, {451, "Local error in processing"}};
    }
  }

  asio::awaitable<void> watch_control() {
    while (!quit_requested_ && pending_.size() < COFTP_MAX_PENDING_COMMANDS) {
      auto [ec, line] = co_await control_.read_line();
      if (ec == error::line_too_long) {
        pending_.push_back({std::string(), true});
        continue;
      }
      if (ec) {
        if (ec != asio::error::operation_aborted) control_lost_ = true;
        co_return;
      }
      command cmd = parse_command(line);
      if (cmd.verb == "ABOR") {
        server_.observer().on_command(info_, cmd);
        abort_requested_ = true;
        co_return;
      }
      if (cmd.verb == "QUIT") {
        server_.observer().on_command(info_, cmd);
        quit_requested_ = true;
      } else if (cmd.verb == "STAT" && cmd.argument.empty() && preliminary_sent_) {
        // RFC 959: STAT "during a file transfer ... the server responds with the status
        // of the operation in progress". Only after the 150, so replies never interleave.
        server_.observer().on_command(info_, cmd);
        co_await write_reply(progress_reply());
      } else {
        pending_.push_back({std::move(line), false});
      }
    }
    // Nothing more to read until the transfer is over (this branch is cancelled then).
    asio::steady_timer forever(control_.get_executor(), std::chrono::steady_clock::time_point::max());
    co_await forever.async_wait(detail::nothrow);
  }

  // Points active_data_ (for force_stop) at a transfer's connection while it lives.
  struct active_data_guard {
    data_connection*& slot;
    active_data_guard(data_connection*& s, data_connection& conn) : slot(s) { slot = &conn; }
    ~active_data_guard() { slot = nullptr; }
  };

  reply progress_reply() const {
    std::string what = progress_.direction == transfer_direction::upload     ? "Receiving "
                       : progress_.direction == transfer_direction::listing ? "Sending listing of "
                                                                             : "Sending ";
    std::string line = " " + std::to_string(progress_.bytes);
    if (progress_.total != 0) line += " of " + std::to_string(progress_.total);
    line += " bytes transferred";
    return {213, "Status: " + what + progress_.path + "\n" + line + "\nEnd of status"};
  }

  // Opens the data connection (accepts or connects), sends the 150 reply and, under
  // PROT P, does the TLS handshake: the client starts it once it has the 150 (RFC 4217
  // 9; ftplib and curl wait for it). A handshake that does not resume the control
  // connection's session is refused before a byte of the file moves.
  asio::awaitable<std::pair<transfer_result, data_connection>> open_data(reply preliminary) {
    if (tls_required() && !private_data_) {
      co_return std::pair{transfer_result{transfer_outcome::connection_lost, 0,
                                          {521, "Data connections must be encrypted: send PBSZ 0 and PROT P"}},
                          data_connection(tcp::socket(control_.get_executor()))};
    }
    // The client's address (a PROXY header's, behind a proxy); a data connection from a
    // trusted proxy must name it in a PROXY header of its own.
    data_channel::proxy_filter relayed;
    if (!server_.options().proxy_protocol_from.empty())
      relayed = [this](const asio::ip::address& a) { return server_.relayed_by_proxy(a); };
    auto [aec, sock] = co_await data_.open(peer(), server_.options().data_timeout, std::move(relayed));
    data_connection conn(std::move(sock));
    if (aec) {
      co_return std::pair{transfer_result{transfer_outcome::timed_out, 0, {425, "Cannot open data connection"}},
                          std::move(conn)};
    }
    co_await write_reply(std::move(preliminary));
    preliminary_sent_ = true;
#if COFTP_HAS_TLS
    if (private_data_) {
      const auto& t = tls_settings();
      auto hec = co_await conn.start_tls(*server_.tls_context(), binding(), t.handshake_timeout,
                                         t.require_session_reuse);
      if (hec) {
        conn.close();
        reply refused = hec == error::tls_not_resumed
                            ? reply{425, "Data connection refused: its TLS session must resume the control connection's"}
                            : reply{425, "TLS negotiation on the data connection failed"};
        co_return std::pair{transfer_result{transfer_outcome::connection_lost, 0, std::move(refused)}, std::move(conn)};
      }
    }
#endif
    co_return std::pair{transfer_result{}, std::move(conn)};
  }

  static transfer_result broken(transfer_outcome o, std::uint64_t bytes) {
    if (o == transfer_outcome::timed_out)
      return {o, bytes, {426, "Data connection timed out; transfer aborted"}};
    return {o, bytes, {426, "Connection closed; transfer aborted"}};
  }

  static transfer_result storage_failed(std::error_code ec, std::uint64_t bytes) {
    if (classify(ec) == storage_errc::no_space)
      return {transfer_outcome::storage_error, bytes, {452, "Insufficient storage space"}};
    return {transfer_outcome::storage_error, bytes, {451, "Local error in processing"}};
  }

  // Writes all of `buf` to the data connection within the data timeout.
  // The timeout applies to each partial write, so a slow client that keeps receiving
  // is never taken for a stalled one.
  asio::awaitable<std::error_code> data_write(data_connection& conn, detail::deadline& dl, asio::const_buffer buf) {
    while (buf.size() > 0) {
      dl.arm(server_.options().data_timeout, conn.socket());
      auto [ec, n] = co_await conn.write_some(buf);
      dl.disarm();
      if (ec) co_return ec;
      buf += n;
    }
    co_return std::error_code{};
  }

  // Ends a complete transfer's connection (TLS close_notify first, bounded).
  asio::awaitable<void> finish_data(data_connection& conn) {
    co_await conn.finish(tls_settings().shutdown_timeout);
  }

  template <class Reader>
  asio::awaitable<transfer_result> send_body(Reader& reader, reply preliminary) {
    auto [opened, conn] = co_await open_data(std::move(preliminary));
    if (!opened.ok()) co_return opened;
    active_data_guard active(active_data_, conn);
    detail::deadline dl(control_.get_executor());
    if constexpr (requires { reader.position(); }) {
      // Zero copy when the backend has a descriptor and no conversion or TLS is needed.
      if (!ascii_ && !conn.secure() && reader.native_handle() >= 0) {
        auto r = co_await send_zero_copy(conn.socket(), dl, reader.native_handle(), reader.position());
        if (r.ok()) co_await finish_data(conn);
        co_return r;
      }
    }
    auto throttle = throttle_for(transfer_direction::download);
    const std::size_t chunk = throttle.chunk(COFTP_TRANSFER_CHUNK);
    std::unique_ptr<char[]> buf(new char[chunk]);
    std::string converted;
    detail::ascii_encoder encoder;
    std::uint64_t bytes = 0;
    for (;;) {
      auto [rec, n] = co_await reader.read_some(asio::buffer(buf.get(), chunk));
      if (rec) co_return storage_failed(rec, bytes);
      if (n == 0) break;
      if (throttle.limited()) co_await pace(throttle, n);
      asio::const_buffer out(buf.get(), n);
      if (ascii_) {
        encoder.convert(std::string_view(buf.get(), n), converted);
        out = asio::buffer(converted);
      }
      auto wec = co_await data_write(conn, dl, out);
      if (wec) co_return broken(dl.expired() ? transfer_outcome::timed_out : transfer_outcome::connection_lost, bytes);
      bytes += n;
      progress_.bytes = bytes;
    }
    co_await finish_data(conn);
    co_return transfer_result{transfer_outcome::completed, bytes, {}};
  }

  // sendfile(2) from `fd` at `offset` to the end of the file. The socket is made
  // non-blocking; on EAGAIN the coroutine waits for writability. After every full
  // chunk it yields, so that ABOR (read by watch_control on the same strand) and other
  // sessions on the same thread get their turn during a fast transfer.
  asio::awaitable<transfer_result> send_zero_copy(tcp::socket& sock, detail::deadline& dl, int fd,
                                                  std::uint64_t offset) {
    std::error_code ec;
    sock.native_non_blocking(true, ec);
    if (ec) co_return broken(transfer_outcome::connection_lost, 0);
    auto off = static_cast<off_t>(offset);
    auto throttle = throttle_for(transfer_direction::download);
    const std::size_t chunk = throttle.chunk(COFTP_TRANSFER_CHUNK);
    std::uint64_t bytes = 0;
    std::uint64_t since_yield = 0;
    for (;;) {
      ssize_t n = detail::sendfile_nosignal(sock.native_handle(), fd, &off, chunk);
      if (n > 0) {
        bytes += static_cast<std::uint64_t>(n);
        progress_.bytes = bytes;
        if (throttle.limited()) co_await pace(throttle, static_cast<std::uint64_t>(n));
        since_yield += static_cast<std::uint64_t>(n);
        if (since_yield >= COFTP_TRANSFER_CHUNK) {
          since_yield = 0;
          co_await asio::post(sock.get_executor(), asio::use_awaitable);
        }
        continue;
      }
      if (n == 0) break;
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        since_yield = 0;
        dl.arm(server_.options().data_timeout, sock);
        auto [wec] = co_await sock.async_wait(tcp::socket::wait_write, detail::nothrow);
        dl.disarm();
        if (wec) co_return broken(dl.expired() ? transfer_outcome::timed_out : transfer_outcome::connection_lost, bytes);
        continue;
      }
      if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) co_return broken(transfer_outcome::connection_lost, bytes);
      co_return storage_failed(std::error_code(errno, std::system_category()), bytes);
    }
    co_return transfer_result{transfer_outcome::completed, bytes};
  }

  template <class Writer>
  asio::awaitable<transfer_result> receive_body(Writer& writer, reply preliminary) {
    auto [opened, conn] = co_await open_data(std::move(preliminary));
    if (!opened.ok()) co_return opened;
    active_data_guard active(active_data_, conn);
    detail::deadline dl(control_.get_executor());
    auto throttle = throttle_for(transfer_direction::upload);
    const std::size_t chunk = throttle.chunk(COFTP_TRANSFER_CHUNK);
    if constexpr (requires { writer.native_handle(); }) {
      // Zero copy when the backend has a descriptor and no conversion or TLS is needed.
      if (!ascii_ && !conn.secure() && writer.native_handle() >= 0) {
        detail::splice_pipe pipe(COFTP_TRANSFER_CHUNK);
        if (pipe.ok()) {
          auto r = co_await receive_zero_copy(conn.socket(), dl, pipe, writer.native_handle(), throttle);
          if (!r.ok()) co_return r;
          co_await finish_data(conn);
          r = co_await commit_upload(writer, r.bytes);
          co_return r;
        }
      }
    }
    std::unique_ptr<char[]> buf(new char[chunk]);
    std::string converted;
    detail::ascii_decoder decoder;
    std::uint64_t bytes = 0;
    for (;;) {
      dl.arm(server_.options().data_timeout, conn.socket());
      auto [ec, n] = co_await conn.read_some(asio::buffer(buf.get(), chunk));
      dl.disarm();
      if (ec == asio::error::eof) break;
#if COFTP_HAS_TLS
      // TLS ended by a plain TCP close, without close_notify: curl and others end
      // uploads so. Taken as the end of the file unless the operator wants it strict.
      if (detail::tls_truncated(ec) && !tls_settings().require_close_notify) break;
#endif
      if (ec) co_return broken(dl.expired() ? transfer_outcome::timed_out : transfer_outcome::connection_lost, bytes);
      bytes += n;
      progress_.bytes = bytes;
      asio::const_buffer in(buf.get(), n);
      if (ascii_) {
        decoder.convert(std::string_view(buf.get(), n), converted);
        in = asio::buffer(converted);
      }
      auto wec = co_await writer.write(in);
      if (wec) co_return storage_failed(wec, bytes);
      // Waiting before the next read lets TCP's flow control slow the client down.
      if (throttle.limited()) co_await pace(throttle, n);
    }
    if (ascii_) {
      decoder.finish(converted);
      if (!converted.empty()) {
        auto wec = co_await writer.write(asio::buffer(converted));
        if (wec) co_return storage_failed(wec, bytes);
      }
    }
    co_await finish_data(conn);
    auto r = co_await commit_upload(writer, bytes);
    co_return r;
  }

  // The end of an upload. In stream mode the data connection's orderly close is the end
  // of the file only while the client is still there: a client killed mid-STOR has its
  // connections closed by its kernel, with FIN, which looks the same. Its control
  // connection tells: closed (or reset) without a QUIT, the client is gone, and the
  // upload is dropped (the old file stays) rather than committed truncated. A client
  // that closes the data connection early on purpose and stays cannot be told apart.
  // The control connection's end follows the data connection's by microseconds on one
  // host, by the path's jitter across a network: server_options::upload_end_wait. The
  // wait ends early when watch_control reads that end (it cancels this body).
  template <class Writer>
  asio::awaitable<transfer_result> commit_upload(Writer& writer, std::uint64_t bytes) {
    const auto wait = server_.options().upload_end_wait;
    if (!client_left() && wait.count() > 0) {
      asio::steady_timer settle(control_.get_executor(), wait);
      co_await settle.async_wait(detail::nothrow);
    }
    if (client_left()) co_return broken(transfer_outcome::connection_lost, bytes);
    auto cec = co_await writer.commit();
    if (cec) co_return storage_failed(cec, bytes);
    co_return transfer_result{transfer_outcome::completed, bytes, {}};
  }

  // True when the control connection was closed or reset by the client, read or not
  // (POLLRDHUP: the peer's FIN has arrived). A client that sent QUIT and then shut down
  // its side (a script piping commands) is still waiting for its replies.
  bool client_left() {
    if (control_lost_) return true;
    if (quit_requested_) return false;
    ::pollfd p{control_.lowest_layer().native_handle(), POLLRDHUP, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

  // splice(2) from the socket into `pipe`, and from the pipe into the file `fd` at its
  // current position, until the client closes the data connection: the data never passes
  // through user space. The socket is made non-blocking; on EAGAIN the coroutine waits
  // for readability (within the data timeout). Yields after every chunk, as
  // send_zero_copy does.
  asio::awaitable<transfer_result> receive_zero_copy(tcp::socket& sock, detail::deadline& dl,
                                                     detail::splice_pipe& pipe, int fd,
                                                     transfer_throttle& throttle) {
    std::error_code ec;
    sock.native_non_blocking(true, ec);
    if (ec) co_return broken(transfer_outcome::connection_lost, 0);
    const std::size_t chunk = throttle.chunk(COFTP_TRANSFER_CHUNK);
    std::uint64_t bytes = 0;
    std::uint64_t since_yield = 0;
    for (;;) {
      ssize_t n = ::splice(sock.native_handle(), nullptr, pipe.write_end(), nullptr, chunk,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n == 0) break;  // the client closed: the end of the file
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
          since_yield = 0;
          dl.arm(server_.options().data_timeout, sock);
          auto [wec] = co_await sock.async_wait(tcp::socket::wait_read, detail::nothrow);
          dl.disarm();
          if (wec) co_return broken(dl.expired() ? transfer_outcome::timed_out : transfer_outcome::connection_lost, bytes);
          continue;
        }
        co_return broken(transfer_outcome::connection_lost, bytes);
      }
      // Everything the pipe holds goes to the file before the socket is read again.
      for (auto left = static_cast<std::size_t>(n); left > 0;) {
        ssize_t m = ::splice(pipe.read_end(), nullptr, fd, nullptr, left, SPLICE_F_MOVE);
        if (m < 0 && errno == EINTR) continue;
        if (m <= 0) co_return storage_failed(std::error_code(m < 0 ? errno : EIO, std::system_category()), bytes);
        left -= static_cast<std::size_t>(m);
      }
      bytes += static_cast<std::uint64_t>(n);
      progress_.bytes = bytes;
      if (throttle.limited()) {
        co_await pace(throttle, static_cast<std::uint64_t>(n));
      } else if ((since_yield += static_cast<std::uint64_t>(n)) >= COFTP_TRANSFER_CHUNK) {
        since_yield = 0;
        co_await asio::post(sock.get_executor(), asio::use_awaitable);
      }
    }
    co_return transfer_result{transfer_outcome::completed, bytes};
  }

  template <class Source>
  asio::awaitable<transfer_result> send_generated_body(Source& source, reply preliminary) {
    auto [opened, conn] = co_await open_data(std::move(preliminary));
    if (!opened.ok()) co_return opened;
    active_data_guard active(active_data_, conn);
    detail::deadline dl(control_.get_executor());
    std::string chunk;
    std::uint64_t bytes = 0;
    for (;;) {
      chunk.clear();
      auto ec = co_await source.next(chunk);
      if (ec) co_return storage_failed(ec, bytes);
      if (chunk.empty()) break;
      auto wec = co_await data_write(conn, dl, asio::buffer(chunk));
      if (wec) co_return broken(dl.expired() ? transfer_outcome::timed_out : transfer_outcome::connection_lost, bytes);
      bytes += chunk.size();
      progress_.bytes = bytes;
    }
    co_await finish_data(conn);
    co_return transfer_result{transfer_outcome::completed, bytes, {}};
  }

  // Runs a transfer under watch, counts it, and tells the observer how it ended.
  asio::awaitable<transfer_result> transfer(transfer_direction dir, std::string_view path,
                                            asio::awaitable<transfer_result> body, std::uint64_t total = 0) {
    auto start = std::chrono::steady_clock::now();
    progress_ = {true, dir, std::string(path), 0, total};
    preliminary_sent_ = false;
    auto r = co_await watched(std::move(body));
    progress_.active = false;
    preliminary_sent_ = false;
    if (dir == transfer_direction::download) {
      stats_.bytes_sent += r.bytes;
      stats_.files_sent += r.ok() ? 1 : 0;
    } else if (dir == transfer_direction::upload) {
      stats_.bytes_received += r.bytes;
      stats_.files_received += r.ok() ? 1 : 0;
    }
    transfer_event ev;
    ev.direction = dir;
    ev.outcome = r.outcome;
    ev.path = std::string(path);
    ev.user = user().name;
    ev.bytes = r.bytes;
    ev.duration = std::chrono::steady_clock::now() - start;
    ev.ascii = ascii_;
    ev.anonymous = detail::is_anonymous_name(ev.user);
    server_.observer().on_transfer(info_, ev);
    co_return r;
  }

  const coftp::tls_options& tls_settings() const noexcept { return server_.options().tls; }

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
    auto ec = co_await control_.start_tls(*server_.tls_context(), binding(), tls_settings().handshake_timeout);
    if (ec) control_lost_ = true;
    co_return !ec;
#else
    co_return true;
#endif
  }

#if COFTP_HAS_TLS
  // This control connection's TLS session id context, made on first use.
  const detail::tls_binding& binding() {
    if (!binding_) {
      binding_ = std::make_unique<detail::tls_binding>();
      note_tls_identity();
    }
    return *binding_;
  }
  std::unique_ptr<detail::tls_binding> binding_;
#endif
  // Who is logged in, for the TLS session binding: data connections of another control
  // connection with the same user, virtual host and address may resume this one's
  // sessions (coftp/tls.hpp). Anonymous logins are many people under one name (behind
  // one NAT too): each one's identity is its own connection's, shared with nobody.
  void note_tls_identity() {
#if COFTP_HAS_TLS
    if (!binding_) return;
    if (!user_) binding_->set_identity(std::string());
    else if (detail::is_anonymous_name(user_->name)) binding_->set_identity("\x01anonymous\n" + binding_->id());
    else binding_->set_identity(user_->name + '\n' + (host_ ? host_->name : std::string()) + '\n' + peer().to_string());
#endif
  }

  session_start start_;
  server_type& server_;
  control_stream control_;
  data_channel data_;
  detail::deadline control_deadline_;  // idle timeout of reads, bound on reply writes
  session_info info_;
  std::chrono::steady_clock::time_point login_deadline_;  // before login, the login timeout
  std::size_t login_failures_ = 0;                        // failed PASS on this connection

  std::optional<coftp::user> user_;
  virtual_host* host_ = nullptr;  // HOST's choice; null: the server's own storage and users
  std::string cwd_ = "/";
  bool ascii_ = true;  // RFC 959 3.1.1.1: the default TYPE is ASCII
  // State of a command pair (USER then PASS, RNFR then RNTO): allocated when the first
  // command needs it, freed once both are settled (an idle session does not carry it).
  struct rare_state {
    std::optional<std::string> pending_user;
    std::optional<resolved_path> rename_from;
  };
  std::unique_ptr<rare_state> rare_;
  rare_state& rare() {
    if (!rare_) rare_ = std::make_unique<rare_state>();
    return *rare_;
  }
  // The client's address, IPv4-mapped as IPv4 (address_guard), from info_ (not kept twice).
  asio::ip::address peer() const {
    std::error_code ec;
    auto a = asio::ip::make_address(info_.remote_address, ec);
    return ec ? asio::ip::address() : data_channel::normalized(a);
  }
  std::uint64_t restart_ = 0;
  bool epsv_all_ = false;
  bool pbsz_ = false;          // PBSZ 0 sent (RFC 4217 8)
  bool private_data_ = false;  // PROT P (RFC 4217 9)
  unsigned mlst_facts_ = mlst_fact::defaults;
  session_stats stats_;
  transfer_progress progress_;
  bool preliminary_sent_ = false;  // the running transfer's 150 is out

  struct pending_line {
    std::string text;
    bool too_long = false;
  };
  std::vector<pending_line> pending_;  // commands that arrived during a transfer (few: a vector)
  data_connection* active_data_ = nullptr;
  std::unique_ptr<throttle_state> throttle_;  // null: no bandwidth limit applies
  bool reading_ = false;
  bool quit_ = false;
  bool quit_requested_ = false;   // QUIT during a transfer
  bool abort_requested_ = false;  // ABOR during a transfer
  bool control_lost_ = false;
  bool stopping_ = false;
  bool last_word_ = false;  // stopping, but a QUIT after the running command's reply is still heard
  bool idle_login_bound_ = false;  // start_idle_wait's deadline is the login timeout
};

}  // namespace coftp
