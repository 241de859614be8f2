// ftps-server: embedding coftp with FTPS (RFC 4217). Explicit FTPS (AUTH TLS) on port
// 2121, required for logins and data, and implicit FTPS on port 9990.
//
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes
//           -subj /CN=localhost -keyout key.pem -out cert.pem        (one line)
//   ftps-server cert.pem key.pem /srv/ftp
//   curl --ssl-reqd -k -u alice:secret ftp://127.0.0.1:2121/
//   curl -k -u alice:secret ftps://127.0.0.1:9990/
#include <coftp/coftp.hpp>

#include <asio/signal_set.hpp>

#include <iostream>

int main(int argc, char** argv) {
#if COFTP_HAS_TLS
  if (argc != 4) {
    std::cerr << "usage: ftps-server CERT.pem KEY.pem ROOT\n";
    return 2;
  }
  asio::io_context io;

  coftp::user_table users;
  users.add("alice", "secret");

  coftp::server_options options{.host = "127.0.0.1", .port = 2121};
  options.tls.certificate_file = argv[1];
  options.tls.private_key_file = argv[2];
  options.tls.required = true;      // no password and no file in clear text
  options.tls.implicit_port = 9990;  // implicit FTPS beside explicit (990 needs root)

  coftp::server server(io, options, coftp::local_fs(argv[3]), users);
  server.start();
  std::cout << "explicit FTPS on 127.0.0.1:2121, implicit FTPS on 127.0.0.1:9990" << std::endl;

  asio::signal_set stop(io, SIGINT, SIGTERM);
  stop.async_wait([&](auto, int) { server.stop(); });
  io.run();
  return 0;
#else
  (void)argc;
  (void)argv;
  std::cerr << "ftps-server: coftp was built without TLS (install libssl-dev and reconfigure)\n";
  return 1;
#endif
}
