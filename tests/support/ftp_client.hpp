// tests/support/ftp_client.hpp - a small synchronous FTP client for loopback tests.
//
// Every read and write is bounded: the sockets carry SO_RCVTIMEO/SO_SNDTIMEO and are
// read and written with recv(2)/send(2) on the native handle, so a server that says
// nothing makes the test fail with `ftp_timeout` instead of hanging. (Asio's own
// synchronous read_some ignores SO_RCVTIMEO: on EAGAIN it polls with no timeout.)
// Connects are bounded the same way (non-blocking connect plus poll).
//
// With COFTP_HAS_TLS it speaks FTPS too (RFC 4217): `auth_tls()` turns the control
// connection into TLS, `prot("P")` makes later data connections TLS, resuming the
// control connection's session unless told otherwise (as curl and lftp do), and
// `client_options::implicit_tls` starts with a handshake. OpenSSL works on the same
// descriptors, so its reads and writes stay bounded by the same socket timeouts.
//
// Replies are parsed per RFC 959 4.2: "xyz text" is a single-line reply; "xyz-text"
// opens a multi-line reply that ends with the first line starting with "xyz ". A reply
// is returned as its lines joined with '\n', line endings removed:
// "211-Features:\n SIZE\n211 End".
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#if COFTP_HAS_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <climits>
#include <memory>
#endif

namespace coftp_test {

/// A read, write or connect that did not complete within the client's timeout.
struct ftp_timeout : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The server closed the control connection where a reply was expected.
struct ftp_closed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A reply that breaks RFC 959's syntax (no code, no CRLF, an unterminated multi-line reply).
struct ftp_protocol_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A TLS handshake the client could not complete (the server refused or closed).
struct tls_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

#if COFTP_HAS_TLS
/// A client TLS context for tests: no certificate verification (the test certificate
/// is self-signed), TLS 1.2 up to `max_version` (TLS1_2_VERSION or TLS1_3_VERSION), and
/// a peer that closes without close_notify read as a plain EOF.
inline std::shared_ptr<SSL_CTX> tls_client_context(int max_version = TLS1_3_VERSION) {
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx) throw tls_failure("SSL_CTX_new failed");
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx.get(), max_version);
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  return ctx;
}

/// OpenSSL writes with write(2): to a closed peer that raises SIGPIPE, which would end
/// the test run. Blocked for this thread during the call, and a signal it raised is
/// consumed (the way coftp's sendfile_nosignal does it).
class sigpipe_guard {
 public:
  sigpipe_guard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~sigpipe_guard() {
    if (!was_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero{0, 0};
        while (sigtimedwait(&pipe_, nullptr, &zero) < 0 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  sigpipe_guard(const sigpipe_guard&) = delete;
  sigpipe_guard& operator=(const sigpipe_guard&) = delete;

 private:
  sigset_t pipe_, old_;
  bool was_pending_ = false;
};

inline std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}
#endif

/// A connected TCP socket with blocking, time-bounded reads and writes.
class blocking_socket {
 public:
  using tcp = asio::ip::tcp;

  /// Connects to `to`, from `from` if given (e.g. 127.0.0.2 to play another host).
  /// Throws std::system_error (e.g. connection_refused) or ftp_timeout.
  blocking_socket(asio::io_context& io, const tcp::endpoint& to, std::chrono::milliseconds timeout,
                  std::optional<asio::ip::address> from = std::nullopt)
      : sock_(io), timeout_(timeout) {
    sock_.open(to.protocol());
    if (from) sock_.bind(tcp::endpoint(*from, 0));
    set_timeouts();
    connect(to);
  }

  /// Takes a socket the test accepted (active mode: the server connected to us).
  blocking_socket(tcp::socket accepted, std::chrono::milliseconds timeout)
      : sock_(std::move(accepted)), timeout_(timeout) {
    sock_.native_non_blocking(false);
    set_timeouts();
  }

  blocking_socket(blocking_socket&&) = default;
  blocking_socket& operator=(blocking_socket&&) = default;

  ~blocking_socket() {
#if COFTP_HAS_TLS
    // A connection cut without close_notify would make OpenSSL mark its session
    // unresumable, and the control session is the one every data connection resumes.
    if (ssl_) SSL_set_shutdown(ssl_.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
#endif
  }

  /// Reads at most `n` bytes; 0 at EOF. Throws ftp_timeout, or std::system_error
  /// (e.g. connection_reset).
  std::size_t read_some(char* p, std::size_t n) {
#if COFTP_HAS_TLS
    if (ssl_) return tls_read_some(p, n);
#endif
    for (;;) {
      auto got = ::recv(sock_.native_handle(), p, n, 0);
      if (got >= 0) return static_cast<std::size_t>(got);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        throw ftp_timeout("ftp_client: no data within " + std::to_string(timeout_.count()) + " ms");
      throw std::system_error(errno, std::system_category(), "recv");
    }
  }

  /// Reads until EOF (at most `limit` bytes, else ftp_protocol_error); `expected` is
  /// a size hint.
  std::string read_all(std::size_t limit = std::size_t(1) << 31, std::size_t expected = 0) {
    std::string out;
    if (expected <= limit) out.reserve(expected);
    char buf[65536];
    for (;;) {
      auto n = read_some(buf, sizeof buf);
      if (n == 0) return out;
      out.append(buf, n);
      if (out.size() > limit) throw ftp_protocol_error("ftp_client: more data than expected");
    }
  }

  /// Reads exactly `n` bytes unless EOF comes first.
  std::string read_exactly(std::size_t n) {
    std::string out(n, '\0');
    std::size_t have = 0;
    while (have < n) {
      auto got = read_some(out.data() + have, n - have);
      if (got == 0) break;
      have += got;
    }
    out.resize(have);
    return out;
  }

  /// Writes all of `bytes`. Throws ftp_timeout or std::system_error (e.g. broken_pipe).
  void write_all(std::string_view bytes) {
#if COFTP_HAS_TLS
    if (ssl_) return tls_write_all(bytes);
#endif
    while (!bytes.empty()) {
      auto n = ::send(sock_.native_handle(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
          throw ftp_timeout("ftp_client: could not write within " + std::to_string(timeout_.count()) + " ms");
        throw std::system_error(errno, std::system_category(), "send");
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  /// Sends FIN: the peer reads EOF (ends a STOR).
  void shutdown_send() {
    std::error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_send, ignored);
  }

  /// Closes abruptly: SO_LINGER 0 makes the kernel send RST instead of FIN, as a
  /// killed client would look to a server reading from it.
  void reset() {
    if (!sock_.is_open()) return;
    ::linger l{1, 0};
    ::setsockopt(sock_.native_handle(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close();
  }

  void close() {
    std::error_code ignored;
    sock_.close(ignored);
  }

#if COFTP_HAS_TLS
  /// The client side of a TLS handshake on this connection, resuming `session` if
  /// given. Throws tls_failure when the handshake fails.
  void start_tls(SSL_CTX* ctx, SSL_SESSION* session = nullptr) {
    ssl_.reset(SSL_new(ctx));
    SSL_set_fd(ssl_.get(), sock_.native_handle());
    if (session) SSL_set_session(ssl_.get(), session);
    sigpipe_guard guard;
    if (SSL_connect(ssl_.get()) != 1) {
      auto why = openssl_errors();
      ssl_.reset();
      throw tls_failure("TLS handshake failed: " + why);
    }
  }
  bool secure() const noexcept { return ssl_ != nullptr; }
  /// True if the handshake resumed the session it was offered.
  bool resumed() const noexcept { return ssl_ && SSL_session_reused(ssl_.get()) == 1; }
  /// The TLS session, for a data connection to resume (owned by this connection).
  SSL_SESSION* tls_session() const noexcept { return ssl_ ? SSL_get_session(ssl_.get()) : nullptr; }
  /// The negotiated protocol ("TLSv1.2", "TLSv1.3").
  std::string tls_version() const { return ssl_ ? SSL_get_version(ssl_.get()) : ""; }
  /// Sends close_notify (without waiting for the peer's).
  void tls_close_notify() {
    if (!ssl_) return;
    sigpipe_guard guard;
    SSL_shutdown(ssl_.get());
  }
#endif

  bool is_open() const { return sock_.is_open(); }
  tcp::endpoint local_endpoint() const { return sock_.local_endpoint(); }
  /// TCP_NODELAY: each write leaves as a segment of its own (tests cutting a message).
  void set_no_delay() { sock_.set_option(tcp::no_delay(true)); }
  tcp::endpoint remote_endpoint() const { return sock_.remote_endpoint(); }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  void set_timeouts() {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout_.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout_.count() % 1000) * 1000);
    int fd = sock_.native_handle();
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
      throw std::system_error(errno, std::system_category(), "setsockopt(SO_RCVTIMEO/SO_SNDTIMEO)");
  }

  void connect(const tcp::endpoint& to) {
    sock_.native_non_blocking(true);
    int fd = sock_.native_handle();
    if (::connect(fd, to.data(), static_cast<socklen_t>(to.size())) != 0) {
      if (errno != EINPROGRESS) throw std::system_error(errno, std::system_category(), "connect");
      pollfd p{fd, POLLOUT, 0};
      int r;
      do r = ::poll(&p, 1, static_cast<int>(timeout_.count()));
      while (r < 0 && errno == EINTR);
      if (r == 0) throw ftp_timeout("ftp_client: connect timed out");
      if (r < 0) throw std::system_error(errno, std::system_category(), "poll");
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) throw std::system_error(err, std::system_category(), "connect");
    }
    sock_.native_non_blocking(false);
  }

#if COFTP_HAS_TLS
  std::size_t tls_read_some(char* p, std::size_t n) {
    sigpipe_guard guard;
    int r = SSL_read(ssl_.get(), p, static_cast<int>(n > INT_MAX ? INT_MAX : n));
    if (r > 0) return static_cast<std::size_t>(r);
    int e = SSL_get_error(ssl_.get(), r);
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ||
        (e == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)))
      throw ftp_timeout("ftp_client: no TLS data within " + std::to_string(timeout_.count()) + " ms");
    if (e == SSL_ERROR_SYSCALL && errno == ECONNRESET)
      throw std::system_error(errno, std::system_category(), "SSL_read");
    if (e == SSL_ERROR_SYSCALL && r == 0) return 0;
    throw tls_failure("SSL_read failed: " + openssl_errors());
  }

  void tls_write_all(std::string_view bytes) {
    sigpipe_guard guard;
    while (!bytes.empty()) {
      int r = SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size() > INT_MAX ? INT_MAX : bytes.size()));
      if (r > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(r));
        continue;
      }
      int e = SSL_get_error(ssl_.get(), r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        throw ftp_timeout("ftp_client: could not write TLS data within " + std::to_string(timeout_.count()) + " ms");
      if (e == SSL_ERROR_SYSCALL && errno != 0) throw std::system_error(errno, std::system_category(), "SSL_write");
      throw tls_failure("SSL_write failed: " + openssl_errors());
    }
  }

  struct ssl_free {
    void operator()(SSL* s) const noexcept { SSL_free(s); }
  };
  std::unique_ptr<SSL, ssl_free> ssl_;  // declared before sock_: freed after the socket closes
#endif
  tcp::socket sock_;
  std::chrono::milliseconds timeout_;
};

/// How the client asks for a data connection: passive (PASV, EPSV) or active (PORT,
/// EPRT: the client listens on its control connection's address, the server connects).
enum class passive_mode { pasv, epsv, port, eprt };

/// Settings of an ftp_client.
struct client_options {
  std::chrono::milliseconds timeout{10000};           ///< bound on every read, write, connect
  std::optional<asio::ip::address> local_address;     ///< bind the control socket here
  bool read_greeting = true;                          ///< read the 220 in the constructor
  std::string preamble{};                             ///< bytes sent first, before TLS (a PROXY header)
#if COFTP_HAS_TLS
  std::shared_ptr<SSL_CTX> tls{};                     ///< client TLS context (auth_tls, PROT P)
  bool implicit_tls = false;                          ///< TLS handshake before the greeting
  bool resume_data_sessions = true;                   ///< data connections resume the control session
  bool close_notify_uploads = true;                   ///< end uploads with close_notify
#endif
};

/// A synchronous FTP client for tests: exact reply lines, bounded waits.
///
/// @par Example
/// @code
/// ftp_client c{srv.endpoint()};
/// CHECK(c.login("test", "secret") == "230 Login successful");
/// CHECK(c.retr("a.txt") == "hello");
/// CHECK(c.last_reply() == "226 Transfer complete");
/// @endcode
class ftp_client {
 public:
  using tcp = asio::ip::tcp;

  explicit ftp_client(const tcp::endpoint& server, client_options o = {})
      : opts_(std::move(o)), control_(io_, server, opts_.timeout, opts_.local_address) {
    if (!opts_.preamble.empty()) control_.write_all(opts_.preamble);
#if COFTP_HAS_TLS
    if (opts_.implicit_tls) control_.start_tls(tls_context());
#endif
    if (opts_.read_greeting) greeting_ = read_reply();
  }

#if COFTP_HAS_TLS
  /// AUTH TLS (or another mechanism): on 234 the handshake follows at once. Returns the
  /// reply to AUTH; throws tls_failure when the handshake fails.
  std::string auth_tls(std::string_view mechanism = "TLS") {
    auto r = command("AUTH " + std::string(mechanism));
    if (r.starts_with("234 ")) control_.start_tls(tls_context());
    return r;
  }

  /// PROT P or C; on 200 later data connections are (or are no longer) TLS.
  std::string prot(std::string_view level) {
    auto r = command("PROT " + std::string(level));
    if (r.starts_with("200")) data_tls_ = level == "P";
    return r;
  }

  /// Whether the client does TLS on data connections (set by prot(), or by hand for
  /// AUTH SSL, which implies PROT P).
  void set_data_tls(bool on) noexcept { data_tls_ = on; }
  /// True if the last data connection's TLS handshake resumed the control session.
  bool last_data_resumed() const noexcept { return last_data_resumed_; }
  /// What the last data connection's TLS handshake threw, if it failed.
  const std::string& last_data_tls_error() const noexcept { return last_data_tls_error_; }

  SSL_CTX* tls_context() {
    if (!opts_.tls) opts_.tls = tls_client_context();
    return opts_.tls.get();
  }
#endif

  ftp_client(const ftp_client&) = delete;
  ftp_client& operator=(const ftp_client&) = delete;

  /// The reply read by the constructor (normally "220 ...", or "421 ..." when refused).
  const std::string& greeting() const noexcept { return greeting_; }

  /// Sends `line` + CRLF and returns the complete reply.
  std::string command(std::string_view line) {
    std::string out(line);
    out += "\r\n";
    control_.write_all(out);
    return read_reply();
  }

  /// Sends bytes as they are on the control connection (no CRLF added).
  void send_raw(std::string_view bytes) { control_.write_all(bytes); }

  /// Reads one complete reply (multi-line replies joined with '\n').
  std::string read_reply() {
    std::string first = read_line();
    if (first.size() < 3 || !is_digit(first[0]) || !is_digit(first[1]) || !is_digit(first[2]) ||
        (first.size() > 3 && first[3] != ' ' && first[3] != '-'))
      throw ftp_protocol_error("ftp_client: not a reply line: " + first);
    std::string text = first;
    if (first.size() > 3 && first[3] == '-') {
      std::string closing = first.substr(0, 3) + ' ';
      for (int lines = 0;; ++lines) {
        if (lines > 10000) throw ftp_protocol_error("ftp_client: endless multi-line reply");
        std::string line = read_line();
        text += '\n';
        text += line;
        if (line.starts_with(closing) || line == first.substr(0, 3)) break;
      }
    }
    last_reply_ = text;
    return text;
  }

  /// USER then PASS; returns the last reply (the PASS reply, or USER's if it was not 331).
  std::string login(std::string_view user, std::string_view pass) {
    auto r = command("USER " + std::string(user));
    if (!r.starts_with("331")) return r;
    return command("PASS " + std::string(pass));
  }

  /// Sends PASV or EPSV and connects the data socket to the announced port (from
  /// `from` if given). Returns the reply; the data socket is open only after 227/229.
  std::string open_passive(passive_mode m = passive_mode::pasv,
                           std::optional<asio::ip::address> from = std::nullopt) {
    if (m == passive_mode::port || m == passive_mode::eprt) return open_active(m);
    auto r = command(m == passive_mode::pasv ? "PASV" : "EPSV");
    data_.reset();
    listener_.reset();
    auto ep = m == passive_mode::pasv ? parse_227(r) : parse_229(r);
    if (ep) data_.emplace(io_, *ep, opts_.timeout, from);
    return r;
  }

  /// Listens on the control connection's local address and announces it with PORT or
  /// EPRT. The data connection is accepted once the transfer command got its 150.
  std::string open_active(passive_mode m) {
    data_.reset();
    listener_.emplace(io_, tcp::endpoint(control_.local_endpoint().address(), 0));
    auto ep = listener_->local_endpoint();
    std::string r;
    if (m == passive_mode::port) {
      auto b = ep.address().to_v4().to_bytes();
      r = command("PORT " + std::to_string(b[0]) + "," + std::to_string(b[1]) + "," + std::to_string(b[2]) + "," +
                  std::to_string(b[3]) + "," + std::to_string(ep.port() >> 8) + "," + std::to_string(ep.port() & 0xff));
    } else {
      r = command("EPRT |" + std::string(ep.address().is_v4() ? "1" : "2") + "|" + ep.address().to_string() + "|" +
                  std::to_string(ep.port()) + "|");
    }
    if (!r.starts_with("200")) listener_.reset();
    return r;
  }

  /// Active mode: accepts the server's data connection within the timeout.
  void accept_active() {
    if (!listener_) return;
    pollfd p{listener_->native_handle(), POLLIN, 0};
    int r;
    do r = ::poll(&p, 1, static_cast<int>(opts_.timeout.count()));
    while (r < 0 && errno == EINTR);
    if (r == 0) throw ftp_timeout("ftp_client: the server did not connect (active mode)");
    if (r < 0) throw std::system_error(errno, std::system_category(), "poll");
    tcp::socket sock(io_);
    listener_->accept(sock);
    listener_.reset();
    data_.emplace(std::move(sock), opts_.timeout);
  }

  /// The address in a "227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)" reply.
  static std::optional<tcp::endpoint> parse_227(std::string_view r) {
    if (!r.starts_with("227 ")) return std::nullopt;
    auto open = r.find('(');
    auto close = r.find(')', open);
    if (open == std::string_view::npos || close == std::string_view::npos) return std::nullopt;
    unsigned v[6];
    std::size_t i = open + 1;
    for (int k = 0; k < 6; ++k) {
      unsigned x = 0;
      std::size_t digits = 0;
      while (i < close && is_digit(r[i]) && digits < 3) x = x * 10 + unsigned(r[i++] - '0'), ++digits;
      if (digits == 0 || x > 255) return std::nullopt;
      v[k] = x;
      if (k < 5 && (i >= close || r[i++] != ',')) return std::nullopt;
    }
    if (i != close) return std::nullopt;
    asio::ip::address_v4::bytes_type b{static_cast<unsigned char>(v[0]), static_cast<unsigned char>(v[1]),
                                       static_cast<unsigned char>(v[2]), static_cast<unsigned char>(v[3])};
    return tcp::endpoint(asio::ip::address_v4(b), static_cast<std::uint16_t>(v[4] * 256 + v[5]));
  }

  /// The endpoint of a "229 Entering Extended Passive Mode (|||port|)" reply: the
  /// control connection's server address with the announced port.
  std::optional<tcp::endpoint> parse_229(std::string_view r) const {
    if (!r.starts_with("229 ")) return std::nullopt;
    auto open = r.find("(|||");
    if (open == std::string_view::npos) return std::nullopt;
    std::size_t i = open + 4;
    unsigned long port = 0;
    std::size_t digits = 0;
    while (i < r.size() && is_digit(r[i]) && digits < 5) port = port * 10 + unsigned(r[i++] - '0'), ++digits;
    if (digits == 0 || port == 0 || port > 65535 || r.substr(i, 2) != "|)") return std::nullopt;
    return tcp::endpoint(control_.remote_endpoint().address(), static_cast<std::uint16_t>(port));
  }

  /// PASV/EPSV, the command, the data read to EOF, the final reply (see last_reply()).
  /// Returns "" without reading data when the command is refused at once.
  std::string download(std::string_view cmd, passive_mode m = passive_mode::pasv) {
    preliminary_.clear();
    auto p = open_passive(m);
    if (!data_ && !listener_) return {};
    auto r = command(cmd);
    if (!r.starts_with("1")) {
      data_.reset();
      listener_.reset();
      return {};
    }
    preliminary_ = r;
    accept_active();
    std::string bytes;
    try {
      if (secure_data()) bytes = data_->read_all(std::size_t(1) << 31, announced_size(r));
    } catch (const std::system_error&) {
      // The server cut the data connection (reset): the final reply tells why.
    } catch (const tls_failure&) {
      // Likewise, under TLS.
    }
    data_.reset();
    read_reply();
    return bytes;
  }

  /// PASV/EPSV, the command, `bytes` written and the data connection closed; returns
  /// the final reply.
  std::string upload(std::string_view cmd, std::string_view bytes, passive_mode m = passive_mode::pasv) {
    preliminary_.clear();
    auto p = open_passive(m);
    if (!data_ && !listener_) return p;
    auto r = command(cmd);
    if (!r.starts_with("1")) {
      data_.reset();
      listener_.reset();
      return r;
    }
    preliminary_ = r;
    accept_active();
    try {
      if (!secure_data()) throw tls_failure("no TLS on the data connection");
      data_->write_all(bytes);
#if COFTP_HAS_TLS
      if (opts_.close_notify_uploads) data_->tls_close_notify();
#endif
      data_->shutdown_send();
      // Wait for the server's close so that no RST can cut the last bytes.
      char sink[256];
      while (data_->read_some(sink, sizeof sink) != 0) {
      }
    } catch (const std::system_error&) {
      // The server cut the data connection (reset, broken pipe): the final reply tells why.
    } catch (const tls_failure&) {
      // Likewise, under TLS.
    }
    data_.reset();
    return read_reply();
  }

  std::string retr(std::string_view path, passive_mode m = passive_mode::pasv) {
    return download("RETR " + std::string(path), m);
  }
  std::string stor(std::string_view path, std::string_view bytes, passive_mode m = passive_mode::pasv) {
    return upload("STOR " + std::string(path), bytes, m);
  }
  std::string list(std::string_view arg = {}, passive_mode m = passive_mode::pasv) {
    return download(arg.empty() ? std::string("LIST") : "LIST " + std::string(arg), m);
  }
  std::string nlst(std::string_view arg = {}, passive_mode m = passive_mode::pasv) {
    return download(arg.empty() ? std::string("NLST") : "NLST " + std::string(arg), m);
  }

  /// The last complete reply read.
  const std::string& last_reply() const noexcept { return last_reply_; }
  /// The 1yz reply of the last download/upload ("" if the command was refused).
  const std::string& last_preliminary() const noexcept { return preliminary_; }

  /// The data connection opened by open_passive(), if any.
  bool has_data() const noexcept { return data_.has_value(); }
  blocking_socket& data() {
    if (!data_) throw std::logic_error("ftp_client: no data connection");
    return *data_;
  }
  void close_data() { data_.reset(); }

  blocking_socket& control() noexcept { return control_; }

  /// True when the server has closed the control connection (EOF or reset) and sent
  /// nothing more; false if bytes arrived instead (they stay buffered for read_reply).
  /// Throws ftp_timeout if the connection stays open and silent.
  bool wait_closed() {
    if (!buffer_.empty()) return false;
    char buf[4096];
    std::size_t n;
    try {
      n = control_.read_some(buf, sizeof buf);
    } catch (const std::system_error& e) {
      if (e.code() == std::errc::connection_reset) return true;
      throw;
    }
    if (n == 0) return true;
    buffer_.append(buf, n);
    return false;
  }

 private:
  static bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

  // Under PROT P, the TLS handshake of the data connection opened for a transfer (after
  // its 1yz reply, as RFC 4217 clients do). False when it failed.
  bool secure_data() {
#if COFTP_HAS_TLS
    last_data_resumed_ = false;
    last_data_tls_error_.clear();
    if (!data_tls_) return true;
    try {
      data_->start_tls(tls_context(), opts_.resume_data_sessions ? control_.tls_session() : nullptr);
      last_data_resumed_ = data_->resumed();
    } catch (const tls_failure& e) {
      last_data_tls_error_ = e.what();
      return false;
    }
#endif
    return true;
  }

  // N of a "150 ... (N bytes)" reply, else 0.
  static std::size_t announced_size(std::string_view r) {
    auto end = r.rfind(" bytes)");
    auto open = r.rfind('(', end);
    if (end == std::string_view::npos || open == std::string_view::npos) return 0;
    std::size_t n = 0;
    for (auto i = open + 1; i < end; ++i) {
      if (!is_digit(r[i]) || n > (std::size_t(1) << 40)) return 0;
      n = n * 10 + std::size_t(r[i] - '0');
    }
    return n;
  }

  // One CRLF-terminated line, without its CRLF.
  std::string read_line() {
    for (;;) {
      auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        if (nl == 0 || buffer_[nl - 1] != '\r')
          throw ftp_protocol_error("ftp_client: reply line not ended by CRLF: " + buffer_.substr(0, nl));
        std::string line = buffer_.substr(0, nl - 1);
        buffer_.erase(0, nl + 1);
        return line;
      }
      if (buffer_.size() > 65536) throw ftp_protocol_error("ftp_client: reply line too long");
      char buf[4096];
      std::size_t n = 0;
      try {
        n = control_.read_some(buf, sizeof buf);
      } catch (const std::system_error& e) {
        if (e.code() == std::errc::connection_reset) throw ftp_closed("ftp_client: connection reset by server");
        throw;
      }
      if (n == 0) {
        throw ftp_closed(buffer_.empty() ? "ftp_client: connection closed by server"
                                         : "ftp_client: connection closed inside a reply: " + buffer_);
      }
      buffer_.append(buf, n);
    }
  }

  asio::io_context io_;
  client_options opts_;
  blocking_socket control_;
  std::optional<blocking_socket> data_;
  std::optional<tcp::acceptor> listener_;  // active mode, until the server connects
  std::string buffer_;
  std::string greeting_;
  std::string last_reply_;
  std::string preliminary_;
#if COFTP_HAS_TLS
  bool data_tls_ = false;
  bool last_data_resumed_ = false;
  std::string last_data_tls_error_;
#endif
};

}  // namespace coftp_test
