// Precompiled header of the test translation units: Asio and doctest are the heavy parts.
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <doctest/doctest.h>
#include <coftp/coftp.hpp>
