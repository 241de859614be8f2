// coftp/auth.hpp - authentication policies: who may log in, where, with which rights.
//
// An authenticator maps the USER/PASS pair (RFC 959 4.1.1) to a `user`: a name, a
// home directory (a virtual path in the storage that becomes the user's "/") and
// permissions (permissions.hpp). Three policies ship here: `user_table` (named users,
// optionally plus anonymous read-only access), `anonymous_only`, and `accept_any` for
// demos; `passwd_file` (coftp/auth/passwd_file.hpp, links with -lcrypt) reads users
// with crypt(3) password hashes from a file.
#pragma once

#include <coftp/permissions.hpp>
#include <coftp/throttle.hpp>

#include <asio/awaitable.hpp>

#include <concepts>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace coftp {

/// A logged-in identity.
struct user {
  std::string name{};
  std::string home = "/";  ///< normalized virtual path in the storage; the user's "/"
  permissions perms = permissions::read;
  /// This user's bandwidth, all sessions together; 0 in a direction: the server's
  /// `server_options::user_rate`.
  rate_limits rate{};
};

/// What the client sent to log in.
struct credentials {
  std::string_view username{};
  std::string_view password{};
  std::string_view client_address{};  ///< textual IP of the client
};

/// The requirements on an authentication policy: nullopt refuses the login.
template <class A>
concept authenticator = requires(A& a, const credentials& c) {
  { a.authenticate(c) } -> std::same_as<asio::awaitable<std::optional<user>>>;
};

/// True when `a` and `b` are equal, compared in time that depends only on their lengths,
/// never on where they differ: for passwords and tokens an authenticator checks.
inline bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  std::size_t n = a.size() > b.size() ? a.size() : b.size();
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

namespace detail {
inline bool is_anonymous_name(std::string_view name) noexcept {
  return name == "anonymous" || name == "ftp";
}
}  // namespace detail

/// Named users with passwords (compared in constant time) and, if enabled, anonymous
/// read-only access for the names "anonymous" and "ftp" with any password.
///
/// Copies share one table (a server keeps a copy, the program may go on adding users),
/// and it is thread-safe: sessions on several threads read it.
class user_table {
 public:
  /// Adds (or replaces) a user; `rate` limits its bandwidth, all its sessions together.
  void add(std::string name, std::string password, permissions perms = permissions::all,
           std::string home = "/", rate_limits rate = {}) {
    std::lock_guard lock(state_->mutex);
    state_->users[name] = entry{std::move(password), user{name, std::move(home), perms, rate}};
  }
  /// Lets "anonymous" and "ftp" in with any password, read-only, rooted at `home`.
  void allow_anonymous(std::string home = "/") {
    std::lock_guard lock(state_->mutex);
    state_->anonymous_home = std::move(home);
  }
  bool anonymous_allowed() const {
    std::lock_guard lock(state_->mutex);
    return state_->anonymous_home.has_value();
  }

  asio::awaitable<std::optional<user>> authenticate(const credentials& c) { co_return check(c); }

  /// The synchronous check behind `authenticate`.
  std::optional<user> check(const credentials& c) const {
    std::lock_guard lock(state_->mutex);
    if (auto it = state_->users.find(std::string(c.username)); it != state_->users.end()) {
      if (constant_time_equal(it->second.password, c.password)) return it->second.who;
      return std::nullopt;
    }
    if (state_->anonymous_home && detail::is_anonymous_name(c.username))
      return user{std::string(c.username), *state_->anonymous_home, permissions::read};
    return std::nullopt;
  }

 private:
  struct entry {
    std::string password;
    user who;
  };
  struct state {
    std::mutex mutex;
    std::unordered_map<std::string, entry> users;
    std::optional<std::string> anonymous_home;
  };
  std::shared_ptr<state> state_ = std::make_shared<state>();
};

/// Anonymous read-only access only ("anonymous" or "ftp", any password).
struct anonymous_only {
  std::string home = "/";
  asio::awaitable<std::optional<user>> authenticate(const credentials& c) {
    if (!detail::is_anonymous_name(c.username)) co_return std::nullopt;
    co_return user{std::string(c.username), home, permissions::read};
  }
};

/// Accepts every login with full rights: the FTP specification's original demo
/// behaviour. For demos and tests only; never a default.
struct accept_any {
  asio::awaitable<std::optional<user>> authenticate(const credentials& c) {
    co_return user{std::string(c.username), "/", permissions::all};
  }
};

static_assert(authenticator<user_table>);
static_assert(authenticator<anonymous_only>);
static_assert(authenticator<accept_any>);

}  // namespace coftp
