// coftp/storage/rooted.hpp - rooted<S>: a storage backend decorator serving a subtree of
// another backend as its whole tree ("/home/alice" seen as "/").
//
// One backend can so give each user a "/" of their own, or expose one directory of a
// larger store. Paths are mapped by prefixing the root: "/a.txt" is root + "/a.txt",
// "/" is the root itself. Only normalized virtual paths get through (anything with
// "." or ".." components is refused as invalid_name, whatever the backend beneath
// would make of it), so nothing above the root can be named.
#pragma once

#include <coftp/error.hpp>
#include <coftp/path.hpp>
#include <coftp/storage.hpp>

#include <asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace coftp {

/// A backend serving the subtree `root` of `S` as "/".
///
/// Every operation maps its paths to `root + path` and forwards to `S`; results are
/// `S`'s (entry names are last components, unchanged; `stat("/")` names the root "", as
/// every backend does). The root itself cannot be removed or renamed through this view
/// (`permission_denied`), as "/" cannot on any backend. `set_modified`, `set_mode` and
/// `enter_directory` exist only when `S` has them.
///
/// The root must exist in `S` when the view is used; it is not created, and while it is
/// missing every operation fails as `S` reports it (`not_found`).
///
/// @par Example
/// @code
/// coftp::memory_fs all{{"/home/alice/notes.txt", "..."}, {"/home/bob/todo.txt", "..."}};
/// coftp::rooted<coftp::memory_fs> alice{all, "/home/alice"};   // "/notes.txt" is alice's
/// @endcode
///
/// @par Cancellation
/// That of `S`'s operations; refusals complete at once.
///
/// @par Lifetimes
/// The awaitables refer to `*this`: keep the object alive until they complete.
template <storage_backend S>
class rooted {
 public:
  /// `S`'s reader.
  using reader = typename S::reader;
  /// `S`'s writer.
  using writer = typename S::writer;
  /// `S`'s directory stream.
  using directory = typename S::directory;
  /// The backend served.
  using inner_type = S;

  /// Serves the subtree `root` of `inner`. `root` must be a normalized absolute virtual
  /// path ("/", "/home/alice"); throws std::invalid_argument otherwise.
  rooted(S inner, std::string root) : inner_(std::move(inner)), root_(std::move(root)) {
    if (!normalized(root_)) throw std::invalid_argument("coftp::rooted: the root must be a normalized absolute path");
  }

  /// The backend served.
  S& inner() noexcept { return inner_; }
  /// The backend served.
  const S& inner() const noexcept { return inner_; }
  /// The root, as given.
  const std::string& root() const noexcept { return root_; }

  /// The path in `S` for the path `path` of this view ("/" is the root), or "" when `path`
  /// is not a normalized absolute path.
  std::string map(std::string_view path) const {
    if (!normalized(path)) return {};
    return join_under(root_, path);
  }

  /// `S::stat` of the mapped path; "/" is named "".
  asio::awaitable<result<file_info>> stat(std::string path) {
    const std::string p = map(path);
    if (p.empty()) co_return result<file_info>(invalid(), file_info{});
    auto r = co_await inner_.stat(p);
    if (!r.first && path == "/") r.second.name.clear();
    co_return r;
  }

  /// `S::open_directory` of the mapped path.
  asio::awaitable<result<directory>> open_directory(std::string path) {
    const std::string p = map(path);
    if (p.empty()) co_return result<directory>(invalid(), directory{});
    auto r = co_await inner_.open_directory(p);
    co_return r;
  }

  /// `S::open_read` of the mapped path.
  asio::awaitable<result<reader>> open_read(std::string path, std::uint64_t offset) {
    const std::string p = map(path);
    if (p.empty()) co_return result<reader>(invalid(), reader{});
    auto r = co_await inner_.open_read(p, offset);
    co_return r;
  }

  /// `S::open_write` of the mapped path.
  asio::awaitable<result<writer>> open_write(std::string path, write_mode mode, std::uint64_t offset = 0) {
    const std::string p = map(path);
    if (p.empty()) co_return result<writer>(invalid(), writer{});
    auto r = co_await inner_.open_write(p, mode, offset);
    co_return r;
  }

  /// `S::make_directory` of the mapped path.
  asio::awaitable<std::error_code> make_directory(std::string path) {
    const std::string p = map(path);
    if (p.empty()) co_return invalid();
    auto ec = co_await inner_.make_directory(p);
    co_return ec;
  }

  /// `S::remove_directory` of the mapped path; the root is refused (`permission_denied`).
  asio::awaitable<std::error_code> remove_directory(std::string path) {
    const std::string p = map(path);
    if (p.empty()) co_return invalid();
    if (path == "/") co_return make_error_code(storage_errc::permission_denied);
    auto ec = co_await inner_.remove_directory(p);
    co_return ec;
  }

  /// `S::remove_file` of the mapped path.
  asio::awaitable<std::error_code> remove_file(std::string path) {
    const std::string p = map(path);
    if (p.empty()) co_return invalid();
    auto ec = co_await inner_.remove_file(p);
    co_return ec;
  }

  /// `S::rename` of the mapped paths; renaming the root is refused (`permission_denied`).
  asio::awaitable<std::error_code> rename(std::string from, std::string to) {
    const std::string f = map(from), t = map(to);
    if (f.empty() || t.empty()) co_return invalid();
    if (from == "/") co_return make_error_code(storage_errc::permission_denied);
    auto ec = co_await inner_.rename(f, t);
    co_return ec;
  }

  /// `S::enter_directory` of the mapped path; present only when `S` has it.
  template <class T = S>
    requires can_enter_directory<T>
  asio::awaitable<std::error_code> enter_directory(std::string path) {
    const std::string p = map(path);
    if (p.empty()) co_return invalid();
    auto ec = co_await inner_.enter_directory(p);
    co_return ec;
  }

  /// `S::set_modified` of the mapped path; present only when `S` has it.
  template <class T = S>
    requires can_set_modified<T>
  asio::awaitable<std::error_code> set_modified(std::string path, std::chrono::system_clock::time_point t) {
    const std::string p = map(path);
    if (p.empty()) co_return invalid();
    auto ec = co_await inner_.set_modified(p, t);
    co_return ec;
  }

  /// `S::set_mode` of the mapped path; present only when `S` has it.
  template <class T = S>
    requires can_set_mode<T>
  asio::awaitable<std::error_code> set_mode(std::string path, unsigned mode) {
    const std::string p = map(path);
    if (p.empty()) co_return invalid();
    auto ec = co_await inner_.set_mode(p, mode);
    co_return ec;
  }

 private:
  static std::error_code invalid() noexcept { return make_error_code(storage_errc::invalid_name); }

  // Absolute, and already what resolve_path makes of it: no ".", "..", empty components
  // or trailing slash, no NUL, CR or LF.
  static bool normalized(std::string_view path) {
    if (path.empty() || path.front() != '/') return false;
    auto resolved = resolve_path("/", path);
    return resolved && *resolved == path;
  }

  S inner_;
  std::string root_;
};

}  // namespace coftp
