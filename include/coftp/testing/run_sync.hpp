// coftp/testing/run_sync.hpp - runs one awaitable to completion on a private io_context,
// bounded in time: for tests (and tools) that call coftp's coroutine APIs, a storage
// backend's for example, from plain code. Needs nothing but Asio.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace coftp::testing {

/// Runs `a` on a fresh io_context for at most 10 s and returns its result (or rethrows
/// its exception). Throws std::runtime_error if it did not complete in time.
///
/// The result lands in a slot written by the completion handler on the io_context's own
/// thread (this one): unlike `use_future`, whose promise may be fulfilled from Asio's
/// system executor after `run_for` has returned, nothing races.
///
/// @par Lifetimes
/// Whatever `a` refers to must outlive the call; temporaries of the calling full
/// expression do (`run_sync(fs.stat("/a"))`).
template <class T>
T run_sync(asio::awaitable<T> a) {
  asio::io_context io;
  bool done = false;
  std::exception_ptr error;
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
  asio::co_spawn(io, std::move(a), [&](std::exception_ptr e, auto&&... v) {
    error = e;
    if constexpr (sizeof...(v) > 0) value.emplace(std::forward<decltype(v)>(v)...);
    done = true;
  });
  io.run_for(std::chrono::seconds(10));
  if (!done) throw std::runtime_error("run_sync: the awaitable did not complete within 10 s");
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<T>) return std::move(*value);
}

}  // namespace coftp::testing
