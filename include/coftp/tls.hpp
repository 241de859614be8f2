// coftp/tls.hpp - FTPS (RFC 4217) building blocks: the server's TLS context and the
// binding that ties a data connection's TLS session to its control connection's.
//
// Only with COFTP_HAS_TLS (OpenSSL through asio::ssl); without it this header declares
// nothing, and the rest of coftp builds and runs without TLS.
//
// Why the binding: a PROT P data connection is accepted from the control connection's
// peer address only, but anyone on that address (another user of a NAT, a shared host)
// could connect first and do a handshake of their own. As vsftpd's require_ssl_reuse,
// coftp demands that the data connection *resume* a TLS session that proves it comes
// from the control connection's client. Each control connection gets a random TLS
// session id context; OpenSSL resumes a session (TLS 1.2 id or ticket, TLS 1.3 PSK
// ticket) only on a connection with the same context, and a full handshake is refused.
//
// One exception (issue #19): clients that share one TLS session cache among several
// control connections (rclone: Go's tls.ClientSessionCache, keyed by server name) offer
// a data connection the ticket of *another* control connection of theirs. A ticket this
// server issued to a control connection logged in as the same user, from the same client
// address (and virtual host), comes from that same client, so it is resumed too: the
// ticket callback (`SSL_CTX_set_session_ticket_cb`) looks the ticket's session id context
// up in a registry of the context's control connections (`tls_owners`, thread-safe; a
// connection stays there a while after it closed, as its tickets do) and, if the owner's
// identity is this connection's, lets the data connection take that context before
// OpenSSL compares them. Before login a connection's sessions are its own only. A
// session made by a full handshake on a data connection (refused) is made worthless:
// its cached copy is removed and its TLS 1.2 ticket gets a context nobody has.
#pragma once

#include <coftp/config.hpp>
#include <coftp/options.hpp>

#if COFTP_HAS_TLS

#include <asio/awaitable.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/error.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>

#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <coftp/detail/io.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>

namespace coftp {

namespace detail {

/// Who holds the TLS sessions of the control connections of one TLS context: each
/// connection's session id context and the identity it is logged in with (user, virtual
/// host and client address; empty before login). Kept for a connection that closed
/// until its tickets expire (the context's session timeout), the most recent
/// `closed_kept` of them. Thread-safe.
class tls_owners {
 public:
  static constexpr std::size_t closed_kept = 4096;

  explicit tls_owners(std::chrono::seconds retention) : retention_(retention) {}

  void set(const std::string& context, std::string identity) {
    std::lock_guard lock(mutex_);
    entries_[context].identity = std::move(identity);
  }

  /// The connection of `context` closed: its identity stays until its tickets expire.
  void release(const std::string& context) {
    std::lock_guard lock(mutex_);
    auto now = std::chrono::steady_clock::now();
    auto it = entries_.find(context);
    if (it == entries_.end()) return;
    if (it->second.identity.empty()) {
      entries_.erase(it);
    } else {
      it->second.closed = true;
      closed_.emplace_back(now + retention_, context);
    }
    while (!closed_.empty() && (closed_.front().first <= now || closed_.size() > closed_kept)) {
      entries_.erase(closed_.front().second);
      closed_.pop_front();
    }
  }

  /// Whether the sessions of control connection `owner` may be resumed by the data
  /// connections of control connection `requester`: `same` when both are logged in with
  /// one identity, `pending` while the owner, still open, has not logged in yet (its
  /// TLS 1.3 tickets come before its USER and PASS), `other` otherwise.
  enum class match { same, pending, other };
  match compare(const std::string& owner, const std::string& requester) const {
    std::lock_guard lock(mutex_);
    auto o = entries_.find(owner);
    auto r = entries_.find(requester);
    if (o == entries_.end() || r == entries_.end() || r->second.closed || r->second.identity.empty())
      return match::other;
    if (o->second.identity.empty()) return o->second.closed ? match::other : match::pending;
    return o->second.identity == r->second.identity ? match::same : match::other;
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
  }

 private:
  struct entry {
    std::string identity;
    bool closed = false;
  };
  std::chrono::seconds retention_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, entry> entries_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::string>> closed_;
};

class tls_binding;

// The registry of a context, in its ex_data (freed with the context), and the binding of
// a data connection, in its SSL's ex_data.
inline int tls_owners_index() {
  static const int index = SSL_CTX_get_ex_new_index(
      0, nullptr, nullptr, nullptr, [](void*, void* p, CRYPTO_EX_DATA*, int, long, void*) {
        delete static_cast<std::shared_ptr<tls_owners>*>(p);
      });
  return index;
}
inline int tls_data_binding_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}
inline std::shared_ptr<tls_owners> owners_of(SSL_CTX* ctx) {
  auto* p = static_cast<std::shared_ptr<tls_owners>*>(SSL_CTX_get_ex_data(ctx, tls_owners_index()));
  return p ? *p : nullptr;
}

inline SSL_TICKET_RETURN tls_decrypt_ticket(SSL* ssl, SSL_SESSION* session, const unsigned char*, std::size_t,
                                            SSL_TICKET_STATUS status, void*);
inline int tls_generate_ticket(SSL* ssl, void*);

}  // namespace detail

/// Builds the server's TLS context from `o`: the certificate chain and key, TLS 1.2 at
/// least, a server-side session cache and tickets (so data connections can resume), and
/// buffers released while a connection is idle.
///
/// Throws std::system_error (or std::runtime_error) when a file cannot be read or the
/// key does not match the certificate: a setup error, reported before serving.
inline asio::ssl::context make_tls_context(const tls_options& o) {
  asio::ssl::context ctx(asio::ssl::context::tls_server);
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                  asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  SSL_CTX* native = ctx.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_SERVER);
  ctx.use_certificate_chain_file(o.certificate_file);
  ctx.use_private_key_file(o.private_key_file.empty() ? o.certificate_file : o.private_key_file,
                           asio::ssl::context::pem);
  if (SSL_CTX_check_private_key(native) != 1)
    throw std::runtime_error("TLS: the private key does not match the certificate " + o.certificate_file);
  // Data connections resume sessions of other control connections of the same client
  // (see the top of this file): the registry of control connections and the callbacks.
  auto owners = std::make_shared<detail::tls_owners>(std::chrono::seconds(SSL_CTX_get_timeout(native)));
  auto* holder = new std::shared_ptr<detail::tls_owners>(std::move(owners));
  if (SSL_CTX_set_ex_data(native, detail::tls_owners_index(), holder) != 1) {
    delete holder;
    throw std::runtime_error("TLS: cannot attach the session registry");
  }
  SSL_CTX_set_session_ticket_cb(native, detail::tls_generate_ticket, detail::tls_decrypt_ticket, nullptr);
  return ctx;
}

namespace detail {

/// The random TLS session id context of one control connection; its data connections
/// carry the same one. Registered, at the control connection's handshake, in the TLS
/// context's `tls_owners` with the identity the session gives it (`set_identity`).
/// Used on the session's executor only; the registry does the locking.
class tls_binding {
 public:
  tls_binding() {
    std::array<unsigned char, SSL_MAX_SID_CTX_LENGTH> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
      throw std::runtime_error("TLS: no randomness for the session id context");
    id_.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  tls_binding(const tls_binding&) = delete;
  tls_binding& operator=(const tls_binding&) = delete;
  ~tls_binding() {
    if (owners_) owners_->release(id_);
  }

  /// Sets the context on a control connection before its handshake.
  void apply(SSL* ssl) const {
    set_context(ssl, id_);
    if (!owners_) {
      owners_ = owners_of(SSL_get_SSL_CTX(ssl));
      if (owners_) owners_->set(id_, identity_);
    }
  }

  /// Sets the context on a data connection before its handshake; its TLS session
  /// callbacks find this binding.
  void apply_data(SSL* ssl) const {
    set_context(ssl, id_);
    SSL_set_ex_data(ssl, tls_data_binding_index(), const_cast<tls_binding*>(this));
  }

  /// Who is logged in on the control connection: user, virtual host and client
  /// address, "" when nobody is. Data connections of control connections with the same
  /// non-empty identity may resume this connection's sessions.
  void set_identity(std::string identity) {
    identity_ = std::move(identity);
    if (owners_) owners_->set(id_, identity_);
  }

  const std::string& id() const noexcept { return id_; }

  /// Whether a data connection of this binding may use a session made for the session
  /// id context `owner` (its own, or another control connection's: tls_owners::compare).
  tls_owners::match owner_match(std::string_view owner) const {
    if (owner == id_) return tls_owners::match::same;
    if (!owners_) return tls_owners::match::other;
    return owners_->compare(std::string(owner), id_);
  }

  static void set_context(SSL* ssl, std::string_view context) {
    SSL_set_session_id_context(ssl, reinterpret_cast<const unsigned char*>(context.data()),
                               static_cast<unsigned>(context.size()));
  }

 private:
  std::string id_;
  std::string identity_;
  mutable std::shared_ptr<tls_owners> owners_;
};

/// A session's TLS binding, made on first use (a session that never speaks TLS pays
/// nothing), and who it belongs to: data connections of another control connection with
/// the same user, virtual host and client address may resume this one's sessions.
/// Anonymous logins are many people under one name (behind one NAT too): each one's
/// identity is its own connection's, shared with nobody.
class session_binding {
 public:
  const tls_binding& get() {
    if (!binding_) {
      binding_ = std::make_unique<tls_binding>();
      apply();
    }
    return *binding_;
  }

  /// Who is logged in now (`logged_in` false: nobody; a user's name may be empty).
  void identify(bool logged_in, std::string_view user, bool anonymous, std::string_view host,
                const asio::ip::address& peer) {
    logged_in_ = logged_in;
    user_ = user;
    anonymous_ = anonymous;
    host_ = host;
    peer_ = peer;
    apply();
  }

 private:
  void apply() {
    if (!binding_) return;
    if (!logged_in_) binding_->set_identity(std::string());
    else if (anonymous_) binding_->set_identity("\x01anonymous\n" + binding_->id());
    else binding_->set_identity(user_ + '\n' + host_ + '\n' + peer_.to_string());
  }

  std::unique_ptr<tls_binding> binding_;
  std::string user_, host_;
  bool logged_in_ = false, anonymous_ = false;
  asio::ip::address peer_;
};

// A ticket presented on a data connection: if it was issued to another control
// connection of the same client, or of one still logging in (tls_owners::compare; then
// tls_owner_confirmed decides after the handshake), the data connection takes that
// connection's session id context, which OpenSSL compares right after this callback;
// otherwise the comparison fails and the handshake is a full one (refused).
inline SSL_TICKET_RETURN tls_decrypt_ticket(SSL* ssl, SSL_SESSION* session, const unsigned char*, std::size_t,
                                            SSL_TICKET_STATUS status, void*) {
  if (session && (status == SSL_TICKET_SUCCESS || status == SSL_TICKET_SUCCESS_RENEW)) {
    if (auto* b = static_cast<const tls_binding*>(SSL_get_ex_data(ssl, tls_data_binding_index()))) {
      unsigned len = 0;
      const unsigned char* owner = SSL_SESSION_get0_id_context(session, &len);
      std::string_view o(reinterpret_cast<const char*>(owner), len);
      if (o != b->id() && b->owner_match(o) != tls_owners::match::other) tls_binding::set_context(ssl, o);
    }
  }
  // What OpenSSL does without a callback.
  switch (status) {
    case SSL_TICKET_SUCCESS: return SSL_TICKET_RETURN_USE;
    case SSL_TICKET_SUCCESS_RENEW: return SSL_TICKET_RETURN_USE_RENEW;
    case SSL_TICKET_EMPTY:
    case SSL_TICKET_NO_DECRYPT: return SSL_TICKET_RETURN_IGNORE_RENEW;
    default: return SSL_TICKET_RETURN_ABORT;
  }
}

// A TLS 1.2 ticket for a data connection's own new session (a full handshake, refused
// when reuse is required): it gets a session id context of no connection, so it can
// never be resumed in place of a control connection's session.
inline int tls_generate_ticket(SSL* ssl, void*) {
  if (SSL_get_ex_data(ssl, tls_data_binding_index()) && SSL_session_reused(ssl) != 1) {
    static constexpr unsigned char nobody[] = "coftp: data connection";
    SSL_SESSION_set1_id_context(SSL_get_session(ssl), nobody, sizeof nobody - 1);
  }
  return 1;
}

/// True if `ssl`'s handshake resumed a session (one of the same binding, or of another
/// control connection of the same client, see tls_owner_confirmed).
inline bool tls_resumed(SSL* ssl) noexcept { return SSL_session_reused(ssl) == 1; }

/// After a data connection resumed a session: true if the session is its control
/// connection's, or another's of the same identity. When that other connection is
/// still logging in (a client sharing its session cache opened several control
/// connections at once, rclone), waits for its login at most `budget`, polling; nothing
/// is sent on the data connection meanwhile.
template <class Executor>
asio::awaitable<bool> tls_owner_confirmed(Executor ex, SSL* ssl, const tls_binding& binding,
                                          std::chrono::steady_clock::duration budget) {
  SSL_SESSION* session = SSL_get_session(ssl);
  if (!session) co_return false;
  unsigned len = 0;
  const unsigned char* owner = SSL_SESSION_get0_id_context(session, &len);
  std::string o(reinterpret_cast<const char*>(owner), len);
  auto until = std::chrono::steady_clock::now() + budget;
  for (;;) {
    auto m = binding.owner_match(o);
    if (m == tls_owners::match::same) co_return true;
    if (m == tls_owners::match::other || std::chrono::steady_clock::now() >= until) co_return false;
    asio::steady_timer pause(ex, std::chrono::milliseconds(5));
    co_await pause.async_wait(nothrow);
  }
}

/// Drops the session a full handshake on a data connection made from the server's
/// session cache: with TLS 1.2 session ids it would carry the control connection's
/// context, and whoever did that handshake could resume it on the next data connection.
inline void tls_forget_session(SSL* ssl) noexcept {
  if (SSL_SESSION* s = SSL_get_session(ssl)) SSL_CTX_remove_session(SSL_get_SSL_CTX(ssl), s);
}

/// True for the end of a TLS stream without close_notify (a peer that just closed TCP).
inline bool tls_truncated(const std::error_code& ec) noexcept { return ec == asio::ssl::error::stream_truncated; }

/// The server side of a TLS handshake on `stream`, bounded by `timeout`.
template <class Stream>
asio::awaitable<std::error_code> tls_handshake(Stream& stream, std::chrono::steady_clock::duration timeout) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(stream.get_executor(), timeout);
  auto r = co_await (stream.async_handshake(asio::ssl::stream_base::server, nothrow) || timer.async_wait(nothrow));
  if (r.index() == 1) co_return std::error_code(asio::error::timed_out);
  co_return std::get<0>(std::get<0>(r));
}

/// Sends close_notify and waits for the peer's at most `timeout`: many clients (curl)
/// close without one, and a shutdown must never hang on them.
template <class Stream>
asio::awaitable<void> tls_shutdown(Stream& stream, std::chrono::steady_clock::duration timeout) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(stream.get_executor(), timeout);
  co_await (stream.async_shutdown(nothrow) || timer.async_wait(nothrow));
}

}  // namespace detail
}  // namespace coftp

#endif  // COFTP_HAS_TLS
