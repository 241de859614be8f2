// coftp/storage/read_only.hpp - read_only<S>: a storage backend decorator that serves
// another backend and refuses every change to it (a public mirror, a download area).
//
// Reads (stat, list, open_read) pass through; every mutation fails with
// permission_denied (550) without reaching the backend beneath.
#pragma once

#include <coftp/error.hpp>
#include <coftp/storage.hpp>
#include <coftp/storage/decorator.hpp>

#include <asio/awaitable.hpp>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace coftp {

/// A backend serving `S` read-only.
///
/// `stat`, `open_directory`, `open_read` and `enter_directory` (when `S` has it) are
/// `S`'s own, forwarded by `storage_decorator`, with `S`'s reader type. `open_write` (in
/// every mode), `make_directory`, `remove_directory`, `remove_file` and `rename` fail with
/// `storage_errc::permission_denied` and leave `S` untouched; so do `set_modified` and
/// `set_mode`, which exist only when `S` has them (so that a server still answers 502, not
/// 550, to a command the backend could never support).
///
/// @par Example
/// @code
/// coftp::read_only<coftp::local_fs> mirror{coftp::local_fs("/srv/mirror")};
/// @endcode
///
/// @par Cancellation
/// That of `S`'s operations; refusals complete at once.
///
/// @par Lifetimes
/// The awaitables refer to `*this`: keep the object alive until they complete.
template <storage_backend S>
class read_only : public storage_decorator<S> {
 public:
  using typename storage_decorator<S>::writer;
  using storage_decorator<S>::storage_decorator;

  /// Always `permission_denied`.
  asio::awaitable<result<writer>> open_write(std::string, write_mode, std::uint64_t = 0) {
    co_return result<writer>(denied(), writer{});
  }

  /// Always `permission_denied`.
  asio::awaitable<std::error_code> make_directory(std::string) { co_return denied(); }

  /// Always `permission_denied`.
  asio::awaitable<std::error_code> remove_directory(std::string) { co_return denied(); }

  /// Always `permission_denied`.
  asio::awaitable<std::error_code> remove_file(std::string) { co_return denied(); }

  /// Always `permission_denied`.
  asio::awaitable<std::error_code> rename(std::string, std::string) { co_return denied(); }

  /// Always `permission_denied`; present only when `S` has `set_modified`.
  template <class T = S>
    requires can_set_modified<T>
  asio::awaitable<std::error_code> set_modified(std::string, std::chrono::system_clock::time_point) {
    co_return denied();
  }

  /// Always `permission_denied`; present only when `S` has `set_mode`.
  template <class T = S>
    requires can_set_mode<T>
  asio::awaitable<std::error_code> set_mode(std::string, unsigned) {
    co_return denied();
  }

 private:
  static std::error_code denied() noexcept { return make_error_code(storage_errc::permission_denied); }
};

}  // namespace coftp
