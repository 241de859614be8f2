// custom-backend: an FTP server over a storage backend of its own: object_store, in
// custom_backend.hpp, keeps files in a flat key/value map with directory marker keys, as
// object stores do. The backend is one policy; the rest of the server is coftp's. Log in
// as demo/demo to write, or anonymously to read; everything is gone at exit.
#include "custom_backend.hpp"

#include <coftp/coftp.hpp>

#include <asio/signal_set.hpp>

#include <exception>
#include <iostream>
#include <string_view>

struct object_store_policies : coftp::default_policies {
  using storage = object_store;
};

// Puts a first file in the store through the backend's own API, as a session would.
asio::awaitable<void> seed(object_store store) {
  auto ec = store.make_directory_now("/pub");
  if (ec) throw std::system_error(ec, "mkdir /pub");
  auto [oec, w] = co_await store.open_write("/pub/readme.txt", coftp::write_mode::replace, 0);
  if (oec) throw std::system_error(oec, "open_write");
  const std::string_view text = "These files live in an object_store.\n";
  auto wec = co_await w.write(asio::buffer(text.data(), text.size()));
  if (wec) throw std::system_error(wec, "write");
  auto cec = co_await w.commit();
  if (cec) throw std::system_error(cec, "commit");
}

int main() {
  asio::io_context io;
  object_store store;  // copies share the same map
  asio::co_spawn(io, seed(store), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });

  coftp::user_table users;
  users.add("demo", "demo");
  users.allow_anonymous();  // "anonymous" and "ftp": read-only
  coftp::basic_server<object_store_policies> server(io, {.port = 2121}, store, users);
  server.start();
  std::cout << "listening on " << server.endpoint() << " (user demo, password demo)" << std::endl;

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](auto, int) { server.stop(); });
  io.run();
}
