// The benchmark's own main for fineftp-server (https://github.com/eclipse-ecal/fineftp-server),
// compiled by benchmarks/compare.sh against a fineftp checkout outside this repository, never by
// meson. One user with every permission, 4 threads, loopback; runs until SIGTERM or SIGINT.
//   fineftp-bench PORT ROOT USER PASSWORD   (prints "listening on 127.0.0.1:PORT")
#include <fineftp/server.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  if (argc != 5) return std::fprintf(stderr, "usage: %s PORT ROOT USER PASSWORD\n", argv[0]), 2;
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);  // before the threads start: they inherit it
  fineftp::FtpServer server("127.0.0.1", static_cast<uint16_t>(std::atoi(argv[1])));
  server.addUser(argv[3], argv[4], argv[2], fineftp::Permission::All);
  if (!server.start(4)) return std::fprintf(stderr, "fineftp: start failed\n"), 1;
  std::printf("listening on 127.0.0.1:%u\n", unsigned(server.getPort()));
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  server.stop();
}
