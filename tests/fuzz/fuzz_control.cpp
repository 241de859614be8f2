// fuzz_control: the control connection's line splitting (control_stream::read_line in
// include/coftp/control_stream.hpp), fed the way a client would feed it: in TCP-like
// pieces, through a real socket (a local socketpair, no network).
//
// Input: byte 0 is a count n (mod 32) of cut points, the next n bytes place them; the
// rest is the byte stream, written piece by piece, the reader running after each piece.
// The line limit is lowered to 64 bytes so that the over-long path is reached often.
// Properties:
// - the lines read are exactly those of a reference splitter: one per LF, without it and
//   without one CR before it; a line of 64 bytes or more (CRLF counted) is reported as
//   line_too_long, once, and the next line is read normally;
// - a complete line is delivered as soon as its LF has arrived, never held back until
//   more bytes come (after each piece, lines read == LFs written);
// - after the last piece and the end of the stream, read_line reports EOF, and a partial
//   last line is not delivered as a command.
#define COFTP_MAX_LINE_LENGTH 64
#include <coftp/control_stream.hpp>

#include "check.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace {

using line = std::pair<std::error_code, std::string>;

std::vector<line> reference(std::string_view s) {
  std::vector<line> out;
  for (;;) {
    auto nl = s.find('\n');
    if (nl == std::string_view::npos) return out;
    std::string l(s.substr(0, nl));
    s.remove_prefix(nl + 1);
    if (l.size() + 1 > COFTP_MAX_LINE_LENGTH) {
      out.emplace_back(make_error_code(coftp::error::line_too_long), std::string());
      continue;
    }
    if (!l.empty() && l.back() == '\r') l.pop_back();
    out.emplace_back(std::error_code(), std::move(l));
  }
}

void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    auto n = ::write(fd, s.data(), s.size());
    FUZZ_CHECK(n > 0);
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 65536) return 0;
  std::string_view text;
  std::vector<std::size_t> cuts;
  if (!split_input(data, size, 32, text, cuts)) return 0;

  int fds[2];
  FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  asio::io_context io;
  asio::ip::tcp::socket sock(io);
  std::error_code ec;
  sock.assign(asio::ip::tcp::v4(), fds[0], ec);
  FUZZ_CHECK(!ec);
  coftp::control_stream stream(std::move(sock));

  std::vector<line> got;
  std::error_code end;
  bool finished = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (;;) {
          auto l = co_await stream.read_line();
          if (l.first && l.first != coftp::error::line_too_long) {
            end = l.first;
            co_return;
          }
          got.push_back(std::move(l));
        }
      },
      [&](std::exception_ptr e) {
        FUZZ_CHECK(!e);
        finished = true;
      });

  auto lfs = [](std::string_view s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); };
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
    write_all(fds[1], text.substr(cuts[i], cuts[i + 1] - cuts[i]));
    while (io.poll() > 0) {
    }
    FUZZ_CHECK(!finished);
    FUZZ_CHECK(got.size() == lfs(text.substr(0, cuts[i + 1])));
  }
  ::shutdown(fds[1], SHUT_WR);
  for (int i = 0; i < 1000 && !finished; ++i) io.run_one();
  ::close(fds[1]);
  FUZZ_CHECK(finished);
  FUZZ_CHECK(end == asio::error::eof);
  FUZZ_CHECK(got == reference(text));
  return 0;
}
