// coftp/storage/decorator.hpp - storage_decorator<S>: the base of a backend that serves
// another one and changes a few of its operations (a quota, a read-only view, an audit).
//
// It forwards every operation of `storage_backend` to the backend it holds, unchanged;
// a decorator derives from it and declares only the operations it changes, which hide
// the forwarding ones (the session calls them on the derived type, not through a
// virtual table). The optional operations (`set_modified`, `set_mode`,
// `enter_directory`) exist only when `S` has them, so that a decorated backend answers
// 502 to MFMT or SITE CHMOD exactly where `S` would.
//
// The zero-copy contract, for decorators that wrap readers or writers: the transfer
// engine (transfer.hpp) sends a reader whose `native_handle()` is a descriptor with
// sendfile (from its `position()`), and receives into a writer that has a
// `native_handle()` descriptor with splice, around their `read_some`/`write`: those are
// then never called for the bytes of a plain binary transfer. A decorator that must see
// every byte (counting, hashing, limiting) returns a reader of its own whose
// `native_handle()` is -1, or a writer of its own without `native_handle()`
// (examples/extending.hpp).
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <coftp/storage.hpp>
#include <concepts>
#include <cstdint>
#include <string>
#include <system_error>
#include <utility>

namespace coftp {

/// Forwards every storage operation to an `S` it holds; derive and hide what changes.
///
/// @par Example
/// @code
/// template <coftp::storage_backend S>
/// struct no_deletes : coftp::storage_decorator<S> {
///   using coftp::storage_decorator<S>::storage_decorator;
///   asio::awaitable<std::error_code> remove_file(std::string) {
///     co_return make_error_code(coftp::storage_errc::permission_denied);
///   }
/// };
/// @endcode
///
/// @par Cancellation
/// That of `S`'s operations.
///
/// @par Lifetimes
/// The awaitables refer to `*this`: keep the object alive until they complete.
template <storage_backend S>
class storage_decorator {
 public:
  using reader = typename S::reader;        ///< `S`'s reader
  using writer = typename S::writer;        ///< `S`'s writer
  using directory = typename S::directory;  ///< `S`'s directory stream
  using inner_type = S;                     ///< the backend served

  /// A default-constructed `S`, when it has a default constructor.
  storage_decorator() requires std::default_initializable<S>
  = default;
  /// Serves `inner`.
  explicit storage_decorator(S inner) : inner_(std::move(inner)) {}

  /// The backend served, for the owner to change it directly.
  S& inner() noexcept { return inner_; }
  /// The backend served.
  const S& inner() const noexcept { return inner_; }

  asio::awaitable<result<file_info>> stat(std::string path) {
    auto r = co_await inner_.stat(std::move(path));
    co_return r;
  }
  asio::awaitable<result<directory>> open_directory(std::string path) {
    auto r = co_await inner_.open_directory(std::move(path));
    co_return r;
  }
  asio::awaitable<result<reader>> open_read(std::string path, std::uint64_t offset) {
    auto r = co_await inner_.open_read(std::move(path), offset);
    co_return r;
  }
  asio::awaitable<result<writer>> open_write(std::string path, write_mode mode, std::uint64_t offset = 0) {
    auto r = co_await inner_.open_write(std::move(path), mode, offset);
    co_return r;
  }
  asio::awaitable<std::error_code> make_directory(std::string path) {
    auto ec = co_await inner_.make_directory(std::move(path));
    co_return ec;
  }
  asio::awaitable<std::error_code> remove_directory(std::string path) {
    auto ec = co_await inner_.remove_directory(std::move(path));
    co_return ec;
  }
  asio::awaitable<std::error_code> remove_file(std::string path) {
    auto ec = co_await inner_.remove_file(std::move(path));
    co_return ec;
  }
  asio::awaitable<std::error_code> rename(std::string from, std::string to) {
    auto ec = co_await inner_.rename(std::move(from), std::move(to));
    co_return ec;
  }

  /// `S::enter_directory`, present only when `S` has it.
  template <class T = S>
  requires can_enter_directory<T> asio::awaitable<std::error_code> enter_directory(std::string path) {
    auto ec = co_await inner_.enter_directory(std::move(path));
    co_return ec;
  }
  /// `S::set_modified`, present only when `S` has it.
  template <class T = S>
  requires can_set_modified<T> asio::awaitable<std::error_code> set_modified(std::string path,
                                                                             std::chrono::system_clock::time_point t) {
    auto ec = co_await inner_.set_modified(std::move(path), t);
    co_return ec;
  }
  /// `S::set_mode`, present only when `S` has it.
  template <class T = S>
  requires can_set_mode<T> asio::awaitable<std::error_code> set_mode(std::string path, unsigned mode) {
    auto ec = co_await inner_.set_mode(std::move(path), mode);
    co_return ec;
  }

 private:
  S inner_;
};

}  // namespace coftp
