// coftp/auth/passwd_file.hpp - users from a text file with crypt(3) password hashes.
//
// One user a line, `name:hash:home:permissions`:
//
//     # comments and blank lines are allowed
//     alice:$y$j9T$...:/:all
//     bob:$6$rounds=100000$...:/pub:read,list,write
//
// `hash` is in crypt(3) form, as `coftp-server --hash-password` or `mkpasswd` print it:
// yescrypt (`$y$`, Debian's default), SHA-512 (`$6$`), or any other method libcrypt
// (libxcrypt) accepts as current (`$2b$`, `$7$`, `$gy$`, `$5$`); legacy methods (DES,
// MD5) are refused. `home` is the user's root, a virtual path in the storage.
// `permissions` is a comma list of rights (permissions.hpp: read, list, write, delete,
// rename, mkdir, rmdir, site, or all, ro, none). A malformed line is a load error naming
// its line number.
//
// Hashing is slow on purpose (tens of milliseconds for yescrypt's default cost): it
// runs on a small thread pool owned by the authenticator, never on the threads that
// run sessions, so one login does not hold up other sessions' commands. An unknown
// user costs one hash too, with the cost settings of the file's users, and is
// refused exactly like a wrong password.
//
// Not included by coftp.hpp: it needs libcrypt (Debian `libcrypt-dev`); link with
// `-lcrypt` (meson: `cxx.find_library('crypt')` or `dependency('libcrypt')`).
#pragma once

#include <coftp/auth.hpp>
#include <coftp/path.hpp>
#include <coftp/permissions.hpp>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>

#include <crypt.h>
#include <string.h>  // explicit_bzero

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

namespace coftp {

/// A malformed passwd file: `what()` is "SOURCE:LINE: reason".
class passwd_error : public std::runtime_error {
 public:
  passwd_error(const std::string& source, std::size_t line, const std::string& reason)
      : std::runtime_error(source + ":" + std::to_string(line) + ": " + reason), line_(line) {}
  /// The 1-based line number of the offending line.
  std::size_t line() const noexcept { return line_; }

 private:
  std::size_t line_;
};

namespace detail {

// crypt_rn with its own crypt_data (thread-safe); empty on failure. The scratch
// area and the copy of the password are wiped afterwards.
inline std::string crypt_string(std::string_view password, const char* setting) {
  std::string phrase(password);
  auto data = std::make_unique<crypt_data>();
  const char* r = crypt_rn(phrase.c_str(), setting, data.get(), static_cast<int>(sizeof(crypt_data)));
  std::string out = r && r[0] != '*' ? std::string(r) : std::string();
  explicit_bzero(data.get(), sizeof(crypt_data));
  explicit_bzero(phrase.data(), phrase.size());
  return out;
}

// The method and cost of a hash ("$y$j9T", "$6$rounds=5000", "$6"): the fields before
// the salt and the hash, which are its last two '$'-separated fields.
inline std::string_view hash_settings(std::string_view hash) {
  auto last = hash.rfind('$');
  if (last == std::string_view::npos || last == 0) return hash;
  auto salt = hash.rfind('$', last - 1);
  if (salt == std::string_view::npos || salt == 0) return hash.substr(0, last);
  return hash.substr(0, salt);
}

// Why `hash` is not a hash we accept, or empty if it is.
inline std::string check_hash(const std::string& hash) {
  if (hash.empty()) return "empty password hash";
  if (hash.front() != '$') return "not a crypt(3) hash: expected $y$..., $6$... (use coftp-server --hash-password)";
  switch (crypt_checksalt(hash.c_str())) {
    case CRYPT_SALT_OK: return {};
    case CRYPT_SALT_METHOD_LEGACY: return "legacy hash method refused: use yescrypt ($y$) or SHA-512 ($6$)";
    default: return "invalid or unsupported crypt(3) hash";
  }
}

}  // namespace detail

/// Hashes `password` with a fresh random salt, in crypt(3) form. `prefix` names the
/// method: "$y$" yescrypt (the default), "$6$" SHA-512, ...; "" lets libcrypt choose
/// its preferred one. `cost` 0 takes the method's default cost.
/// Throws std::system_error if the method is not available, std::invalid_argument for
/// a password containing NUL or longer than libcrypt accepts.
inline std::string hash_password(std::string_view password, std::string_view prefix = "$y$",
                                 unsigned long cost = 0) {
  if (password.find('\0') != std::string_view::npos) throw std::invalid_argument("password contains NUL");
  if (password.size() >= CRYPT_MAX_PASSPHRASE_SIZE) throw std::invalid_argument("password too long");
  std::string pfx(prefix);
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  errno = 0;
  if (!crypt_gensalt_rn(pfx.empty() ? nullptr : pfx.c_str(), cost, nullptr, 0, setting, sizeof setting))
    throw std::system_error(errno ? errno : EINVAL, std::generic_category(),
                            "crypt_gensalt: hash method '" + pfx + "' unavailable");
  auto out = detail::crypt_string(password, setting);
  if (out.empty()) throw std::system_error(EINVAL, std::generic_category(), "crypt: hashing failed");
  return out;
}

/// True if `password` hashes to `hash` (compared in constant time). Blocking and slow
/// by design: call it off the threads that serve sessions.
inline bool verify_password(std::string_view password, std::string_view hash) {
  std::string h(hash);
  auto out = detail::crypt_string(password, h.c_str());
  bool ok = !out.empty() && constant_time_equal(out, h);
  return ok && password.find('\0') == std::string_view::npos;
}

/// Users with hashed passwords, loaded from a passwd file (see the top of this header)
/// or added one by one, and, if enabled, anonymous read-only access for "anonymous"
/// and "ftp".
///
/// Copies share the users and the hashing pool (a server keeps a copy); thread-safe.
///
/// @par Example
/// @code
/// auto users = coftp::passwd_file::load("/etc/coftp/passwd");   // throws passwd_error
/// coftp::basic_server<my_policies> server(io, opts, coftp::local_fs("/srv/ftp"), users);
/// @endcode
class passwd_file {
 public:
  /// The default size of the hashing pool: one thread per core.
  static std::size_t default_hash_threads() noexcept {
    return std::max<std::size_t>(1, std::thread::hardware_concurrency());
  }

  /// No users; hashes run on `hash_threads` threads of its own.
  explicit passwd_file(std::size_t hash_threads = default_hash_threads())
      : state_(std::make_shared<state>(std::max<std::size_t>(1, hash_threads))) {}

  /// Reads the users of a passwd file. Throws passwd_error ("FILE:LINE: reason") on a
  /// malformed line, std::system_error if the file cannot be read.
  static passwd_file load(const std::filesystem::path& file, std::size_t hash_threads = default_hash_threads()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw std::system_error(errno ? errno : ENOENT, std::generic_category(), "cannot read " + file.string());
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw std::system_error(EIO, std::generic_category(), "cannot read " + file.string());
    return parse(text, file.string(), hash_threads);
  }

  /// The users of passwd-file `text`; `source` names it in errors.
  static passwd_file parse(std::string_view text, const std::string& source = "passwd",
                           std::size_t hash_threads = default_hash_threads()) {
    passwd_file out(hash_threads);
    std::map<std::string, std::size_t, std::less<>> seen;
    std::size_t number = 0;
    while (!text.empty()) {
      ++number;
      auto nl = text.find('\n');
      auto line = text.substr(0, nl);
      text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      auto first = line.find_first_not_of(" \t");
      if (first == std::string_view::npos || line[first] == '#') continue;
      auto fail = [&](const std::string& why) { throw passwd_error(source, number, why); };

      std::string_view field[4];
      std::size_t n = 0;
      for (std::string_view rest = line;; ++n) {
        auto colon = rest.find(':');
        if (n < 4) field[n] = rest.substr(0, colon);
        if (colon == std::string_view::npos) break;
        rest.remove_prefix(colon + 1);
      }
      if (n + 1 != 4)
        fail("expected name:hash:home:permissions, found " + std::to_string(n + 1) + " field(s)");
      auto name = field[0];
      if (name.empty()) fail("empty user name");
      for (char c : name)
        if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) fail("user name with a space or control character");
      if (auto it = seen.find(name); it != seen.end())
        fail("user '" + std::string(name) + "' already defined on line " + std::to_string(it->second));
      seen.emplace(std::string(name), number);
      std::string hash(field[1]);
      if (auto why = detail::check_hash(hash); !why.empty()) fail(why);
      auto home = field[2];
      if (home.empty() || home.front() != '/') fail("home must be an absolute path such as /, got '" + std::string(home) + "'");
      auto normal = resolve_path("/", home);
      if (!normal) fail("home with a control character");
      std::string bad;
      auto perms = parse_permissions(field[3], &bad);
      if (!perms)
        fail("unknown permission '" + bad +
             "' (known: read, list, write, delete, rename, mkdir, rmdir, site, all, ro, none)");
      out.insert(std::string(name), std::move(hash), *perms, std::move(*normal));
    }
    return out;
  }

  /// Adds (or replaces) a user whose password hash is `hash` (crypt(3) form). Throws
  /// std::invalid_argument for a hash that is not one (see `hash_password`).
  void add(std::string name, std::string hash, permissions perms = permissions::all, std::string home = "/") {
    if (auto why = detail::check_hash(hash); !why.empty()) throw std::invalid_argument(why);
    auto normal = resolve_path("/", home);
    if (!normal) throw std::invalid_argument("home with a control character");
    insert(std::move(name), std::move(hash), perms, std::move(*normal));
  }

  /// Lets "anonymous" and "ftp" in with any password (no hashing), read-only, rooted at
  /// `home`, unless the file has a user of that name.
  void allow_anonymous(std::string home = "/") {
    std::lock_guard lock(state_->mutex);
    state_->anonymous_home = std::move(home);
  }
  bool anonymous_allowed() const {
    std::lock_guard lock(state_->mutex);
    return state_->anonymous_home.has_value();
  }

  /// The number of users (anonymous not counted).
  std::size_t size() const {
    std::lock_guard lock(state_->mutex);
    return state_->users.size();
  }

  /// Checks the password on the hashing pool and resumes on the caller's executor.
  /// Unknown users cost one hash as well, and get nullopt like a wrong password.
  ///
  /// @par Lifetimes
  /// `c` must stay valid until the awaitable completes; the hashing itself works on
  /// copies.
  asio::awaitable<std::optional<user>> authenticate(const credentials& c) {
    auto keep = state_;  // the pool outlives this wait
    auto job = lookup(c);
    if (job.anonymous) co_return std::move(job.who);
    bool ok = co_await asio::co_spawn(keep->pool, hash_job(std::string(c.password), std::move(job.hash)),
                                      asio::use_awaitable);
    if (!ok || !job.known) co_return std::nullopt;
    co_return std::move(job.who);
  }

  /// The same check, synchronously on the calling thread (tools, tests).
  std::optional<user> check(const credentials& c) const {
    auto job = lookup(c);
    if (job.anonymous) return std::move(job.who);
    bool ok = verify_password(c.password, job.hash);
    if (!ok || !job.known) return std::nullopt;
    return std::move(job.who);
  }

 private:
  struct entry {
    std::string hash;
    user who;
  };
  struct state {
    explicit state(std::size_t threads) : pool(threads) {}
    std::mutex mutex;
    std::unordered_map<std::string, entry> users;
    std::optional<std::string> anonymous_home;
    std::map<std::string, std::size_t, std::less<>> settings;  // hash settings -> users having them
    std::string dummy;  // what an unknown user's password is hashed against
    asio::thread_pool pool;
  };
  struct job {
    bool anonymous = false;
    bool known = false;
    std::string hash;
    std::optional<user> who;
  };

  static asio::awaitable<bool> hash_job(std::string password, std::string hash) {
    bool ok = verify_password(password, hash);
    explicit_bzero(password.data(), password.size());
    co_return ok;
  }

  void insert(std::string name, std::string hash, permissions perms, std::string home) {
    std::lock_guard lock(state_->mutex);
    auto& s = *state_;
    if (auto it = s.users.find(name); it != s.users.end()) {
      auto old = s.settings.find(detail::hash_settings(it->second.hash));
      if (old != s.settings.end() && --old->second == 0) s.settings.erase(old);
    }
    ++s.settings[std::string(detail::hash_settings(hash))];
    s.users[name] = entry{hash, user{name, std::move(home), perms}};
    // An unknown user's password is hashed against a hash with the most common
    // settings (method and cost) of the file, so that it takes as long as a known one.
    auto common = std::max_element(s.settings.begin(), s.settings.end(),
                                   [](const auto& a, const auto& b) { return a.second < b.second; });
    if (s.dummy.empty() || detail::hash_settings(s.dummy) != common->first) {
      for (const auto& [n, e] : s.users)
        if (detail::hash_settings(e.hash) == common->first) {
          s.dummy = e.hash;
          break;
        }
    }
  }

  job lookup(const credentials& c) const {
    std::lock_guard lock(state_->mutex);
    auto& s = *state_;
    job j;
    if (auto it = s.users.find(std::string(c.username)); it != s.users.end()) {
      j.known = true;
      j.hash = it->second.hash;
      j.who = it->second.who;
      return j;
    }
    if (s.anonymous_home && detail::is_anonymous_name(c.username)) {
      j.anonymous = true;
      j.who = user{std::string(c.username), *s.anonymous_home, permissions::read};
      return j;
    }
    if (s.dummy.empty()) {
      // No users at all: a yescrypt setting of the default cost stands in.
      char setting[CRYPT_GENSALT_OUTPUT_SIZE];
      if (crypt_gensalt_rn("$y$", 0, nullptr, 0, setting, sizeof setting)) s.dummy = setting;
      else if (crypt_gensalt_rn("$6$", 0, nullptr, 0, setting, sizeof setting)) s.dummy = setting;
    }
    j.hash = s.dummy;
    return j;
  }

  std::shared_ptr<state> state_;
};

static_assert(authenticator<passwd_file>);

}  // namespace coftp
