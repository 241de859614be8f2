// ftp-load: a client load generator for FTP servers on loopback (coftp, vsftpd, pure-ftpd...).
//
//   ftp-load idle     --port P --user U --pass W --sessions N [--source-addresses A,B,...]
//                     [--hold S] [--server-pid PID]
//   ftp-load noop     --port P --user U --pass W --count N [--during-download PATH]
//   ftp-load transfer --port P --user U --pass W (--retr PATH | --stor PATH --size BYTES)
//
// Everything runs on one io_context and one thread. Every wait on a socket is bounded: each
// connection has a deadline watched by a timer that closes its sockets when it passes.
// Each run ends with one machine-readable line, "RESULT key=value ...", that scripts parse.
//
// g++ 12 note: every co_await stands alone in its statement, its result put in a named
// variable, and arguments of awaited calls are named objects (no braced temporaries).
#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <dirent.h>

namespace {

using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// Options

struct common_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 21;
  std::string user = "anonymous";
  std::string pass = "ftp-load@";
  double op_timeout = 10;  // seconds allowed for any one socket wait (connect, reply)
  double data_timeout = 30;  // seconds without progress allowed on a data connection
};

struct idle_options {
  std::size_t sessions = 100;
  std::string source_addresses;  // comma-separated; connections are spread round-robin
  double hold = 0;               // seconds to keep the sessions open after the measurement
  int server_pid = 0;
  std::size_t concurrency = 100;  // connections being opened at once
  double timeout = 60;            // seconds for all sessions to be logged in
};

struct noop_options {
  std::size_t count = 1000;
  std::size_t warmup = 20;
  std::string during_download;
};

struct transfer_options {
  std::string retr;
  std::string stor;
  std::uint64_t size = 0;
};

// ---------------------------------------------------------------------------------------------
// An FTP control connection (and its data connection) with a deadline.

enum class stage { connect, greeting, login, command, data, timeout };

const char* stage_name(stage s) {
  switch (s) {
    case stage::connect: return "connect";
    case stage::greeting: return "greeting";
    case stage::login: return "login";
    case stage::command: return "command";
    case stage::data: return "data";
    case stage::timeout: return "timeout";
  }
  return "?";
}

struct ftp_failure : std::runtime_error {
  ftp_failure(stage s, const std::string& what) : std::runtime_error(what), where(s) {}
  stage where;
};

struct reply {
  int code = 0;
  std::string text;  // every line, without CR LF, joined with '\n'
};

struct connection : std::enable_shared_from_this<connection> {
  explicit connection(asio::any_io_executor ex) : control(ex), data(ex), timer(ex) {
    timer.expires_at(steady::time_point::max());
  }

  tcp::socket control;
  tcp::socket data;
  asio::steady_timer timer;
  steady::time_point deadline = steady::time_point::max();
  std::string input;  // received control bytes not yet consumed
  bool timed_out = false;
  bool stopped = false;

  ~connection() { close_sockets(); }

  // Starts the watchdog: it closes both sockets once the deadline has passed, which makes the
  // pending operation fail. It holds only a weak reference: it ends with the connection.
  void start() { asio::co_spawn(control.get_executor(), watchdog(weak_from_this()), asio::detached); }

  void stop() {
    stopped = true;
    timer.cancel();
    close_sockets();
  }

  void close_sockets() {
    std::error_code ignored;
    control.close(ignored);
    data.close(ignored);
  }

  // The next socket wait must end within `seconds`. Moving the deadline later costs nothing
  // (the watchdog notices when it wakes); moving it earlier re-arms the timer.
  void expect_within(double seconds) {
    deadline = steady::now() + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(seconds));
    if (deadline < timer.expiry()) timer.expires_at(deadline);  // wakes the watchdog, which re-arms
  }
  void no_deadline() { deadline = steady::time_point::max(); }

  static awaitable<void> watchdog(std::weak_ptr<connection> weak) {
    for (;;) {
      auto self = weak.lock();
      if (!self || self->stopped) co_return;
      if (self->deadline <= steady::now()) {
        self->timed_out = true;
        self->deadline = steady::time_point::max();
        self->close_sockets();
        continue;
      }
      asio::steady_timer& timer = self->timer;
      timer.expires_at(self->deadline);
      self.reset();  // not kept alive by its own watchdog; destroying it cancels the wait
      std::error_code ec;
      co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    }
  }

  [[noreturn]] void fail(stage s, const std::string& what) const {
    if (timed_out) throw ftp_failure(stage::timeout, "timed out (" + std::string(stage_name(s)) + "): " + what);
    throw ftp_failure(s, what);
  }
};

using connection_ptr = std::shared_ptr<connection>;

connection_ptr make_connection(asio::any_io_executor ex) {
  auto c = std::make_shared<connection>(ex);
  c->start();
  return c;
}

// Reads one reply, single- or multi-line (RFC 959 4.2). Code 0 with the error text when the
// connection failed or closed.
awaitable<reply> read_reply(connection& c, double timeout) {
  reply r;
  bool first = true;
  std::string code_prefix;
  char chunk[4096];
  for (;;) {
    auto nl = c.input.find('\n');
    if (nl == std::string::npos) {
      c.expect_within(timeout);
      std::error_code ec;
      std::size_t n = co_await c.control.async_read_some(asio::buffer(chunk), asio::redirect_error(use_awaitable, ec));
      if (ec) {
        r.code = 0;
        r.text = c.timed_out ? std::string("timed out") : ec.message();
        co_return r;
      }
      c.input.append(chunk, n);
      continue;
    }
    std::string line = c.input.substr(0, nl);
    c.input.erase(0, nl + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!r.text.empty()) r.text += '\n';
    r.text += line;
    bool has_code = line.size() >= 3 && std::isdigit(static_cast<unsigned char>(line[0])) &&
                    std::isdigit(static_cast<unsigned char>(line[1])) &&
                    std::isdigit(static_cast<unsigned char>(line[2]));
    if (first) {
      first = false;
      if (!has_code) {
        r.code = 0;
        r.text = "malformed reply: " + line;
        co_return r;
      }
      r.code = std::stoi(line.substr(0, 3));
      if (line.size() > 3 && line[3] == '-') {
        code_prefix = line.substr(0, 3) + " ";
        continue;
      }
      co_return r;
    }
    if (line.size() >= 4 && line.compare(0, 4, code_prefix) == 0) co_return r;
  }
}

awaitable<void> send_line(connection& c, std::string_view line, double timeout) {
  std::string wire = std::string(line) + "\r\n";
  c.expect_within(timeout);
  std::error_code ec;
  co_await asio::async_write(c.control, asio::buffer(wire), asio::redirect_error(use_awaitable, ec));
  if (ec) c.fail(stage::command, "sending " + std::string(line.substr(0, line.find(' '))) + ": " + ec.message());
}

awaitable<reply> command(connection& c, std::string_view line, double timeout) {
  co_await send_line(c, line, timeout);
  reply r = co_await read_reply(c, timeout);
  co_return r;
}

// The reply's first line, code included ("no reply" when the connection failed).
std::string first_line(const reply& r) {
  if (r.code == 0) return "no reply (" + r.text + ")";
  return r.text.substr(0, r.text.find('\n'));
}

awaitable<void> connect_control(connection& c, const tcp::endpoint& server, const std::optional<asio::ip::address>& source,
                                double timeout) {
  std::error_code ec;
  c.control.open(server.protocol(), ec);
  if (!ec && source) c.control.bind(tcp::endpoint(*source, 0), ec);
  if (ec) c.fail(stage::connect, "socket: " + ec.message());
  c.expect_within(timeout);
  co_await c.control.async_connect(server, asio::redirect_error(use_awaitable, ec));
  if (ec) c.fail(stage::connect, "connect: " + ec.message());
  c.control.set_option(tcp::no_delay(true), ec);
}

// Greeting, USER, PASS: the session is logged in (230) or this throws.
awaitable<void> login(connection& c, const common_options& o) {
  reply greeting = co_await read_reply(c, o.op_timeout);
  if (greeting.code != 220) c.fail(stage::greeting, "greeting: " + first_line(greeting));
  std::string user_cmd = "USER " + o.user;
  reply r = co_await command(c, user_cmd, o.op_timeout);
  if (r.code == 331 || r.code == 332) {
    std::string pass_cmd = "PASS " + o.pass;
    r = co_await command(c, pass_cmd, o.op_timeout);
  }
  if (r.code != 230) c.fail(stage::login, "login: " + first_line(r));
}

awaitable<void> open_session(connection& c, const common_options& o, const tcp::endpoint& server,
                             const std::optional<asio::ip::address>& source) {
  co_await connect_control(c, server, source, o.op_timeout);
  co_await login(c, o);
}

// Connects c.data through EPSV, or PASV when the server refuses EPSV.
awaitable<void> open_passive(connection& c, const common_options& o) {
  reply r = co_await command(c, "EPSV", o.op_timeout);
  tcp::endpoint target;
  if (r.code == 229) {
    // 229 Entering Extended Passive Mode (|||port|)
    auto open = r.text.find('(');
    if (open == std::string::npos || open + 4 >= r.text.size()) c.fail(stage::data, "bad EPSV reply: " + first_line(r));
    char delim = r.text[open + 1];
    unsigned port = 0;
    std::size_t i = open + 4;
    if (r.text[open + 2] != delim || r.text[open + 3] != delim) c.fail(stage::data, "bad EPSV reply: " + first_line(r));
    while (i < r.text.size() && std::isdigit(static_cast<unsigned char>(r.text[i]))) port = port * 10 + unsigned(r.text[i++] - '0');
    if (port == 0 || port > 65535) c.fail(stage::data, "bad EPSV port: " + first_line(r));
    target = tcp::endpoint(c.control.remote_endpoint().address(), static_cast<std::uint16_t>(port));
  } else {
    r = co_await command(c, "PASV", o.op_timeout);
    if (r.code != 227) c.fail(stage::data, "PASV: " + first_line(r));
    // 227 Entering Passive Mode (h1,h2,h3,h4,p1,p2): the numbers may come without parentheses.
    auto start = r.text.find_first_of("0123456789", 4);
    unsigned n[6] = {};
    if (start == std::string::npos ||
        std::sscanf(r.text.c_str() + start, "%u,%u,%u,%u,%u,%u", &n[0], &n[1], &n[2], &n[3], &n[4], &n[5]) != 6)
      c.fail(stage::data, "bad PASV reply: " + first_line(r));
    asio::ip::address_v4::bytes_type b{};
    for (int k = 0; k < 4; ++k) b[k] = static_cast<unsigned char>(n[k]);
    target = tcp::endpoint(asio::ip::address_v4(b), static_cast<std::uint16_t>(n[4] * 256 + n[5]));
  }
  std::error_code ec;
  c.expect_within(o.op_timeout);
  co_await c.data.async_connect(target, asio::redirect_error(use_awaitable, ec));
  if (ec) c.fail(stage::data, "data connect to port " + std::to_string(target.port()) + ": " + ec.message());
}

awaitable<void> set_binary(connection& c, const common_options& o) {
  reply r = co_await command(c, "TYPE I", o.op_timeout);
  if (r.code != 200) c.fail(stage::command, "TYPE I: " + first_line(r));
}

// Reads the data connection until EOF, discarding the bytes. Returns the byte count.
awaitable<std::uint64_t> drain_data(connection& c, const common_options& o) {
  std::vector<char> buf(256 * 1024);
  std::uint64_t total = 0;
  for (;;) {
    c.expect_within(o.data_timeout);
    std::error_code ec;
    std::size_t n = co_await c.data.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
    total += n;
    if (ec == asio::error::eof) break;
    if (ec) c.fail(stage::data, "data read after " + std::to_string(total) + " bytes: " + ec.message());
  }
  std::error_code ignored;
  c.data.close(ignored);
  co_return total;
}

// ---------------------------------------------------------------------------------------------
// Helpers

tcp::endpoint server_endpoint(const common_options& o) {
  std::error_code ec;
  auto addr = asio::ip::make_address(o.host, ec);
  if (ec) throw std::runtime_error("--host must be a numeric address, got '" + o.host + "'");
  if (!addr.is_loopback()) throw std::runtime_error("refusing a non-loopback --host: " + o.host);
  return tcp::endpoint(addr, o.port);
}

// Waits until `pending` drops to zero; whoever decrements it cancels `wake`.
awaitable<void> wait_for_zero(const std::size_t& pending, asio::steady_timer& wake) {
  while (pending > 0) {
    wake.expires_at(steady::time_point::max());
    std::error_code ec;
    co_await wake.async_wait(asio::redirect_error(use_awaitable, ec));
  }
}

awaitable<void> sleep_for(double seconds) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(seconds)));
  std::error_code ec;
  co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
}

double seconds_since(steady::time_point t0) { return std::chrono::duration<double>(steady::now() - t0).count(); }

double mib_per_s(std::uint64_t bytes, double seconds) {
  return seconds > 0 ? double(bytes) / (1024.0 * 1024.0) / seconds : 0.0;
}

// Memory of a process and of all its descendants (vsftpd runs one or two processes per
// session), from /proc. Values in KiB; -1 when unreadable.
struct memory_sample {
  long rss = -1;  // sum of VmRSS over the processes
  long hwm = -1;  // VmHWM of the root process (its peak RSS)
  long pss = -1;  // sum of Pss (smaps_rollup), shared pages split between the sharers
  int processes = 0;
};

long status_field(int pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, key.size() + 1, key + ":") == 0) return std::strtol(line.c_str() + key.size() + 1, nullptr, 10);
  return -1;
}

long pss_of(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, 4, "Pss:") == 0) return std::strtol(line.c_str() + 4, nullptr, 10);
  return -1;
}

int parent_of(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(in, s);
  auto close = s.rfind(')');
  if (close == std::string::npos) return -1;
  char state = 0;
  int ppid = -1;
  if (std::sscanf(s.c_str() + close + 1, " %c %d", &state, &ppid) != 2) return -1;
  return ppid;
}

std::vector<int> process_tree(int root) {
  std::vector<std::pair<int, int>> all;  // pid, parent
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      char* end = nullptr;
      long pid = std::strtol(e->d_name, &end, 10);
      if (*end != '\0' || pid <= 0) continue;
      all.emplace_back(int(pid), parent_of(int(pid)));
    }
    closedir(d);
  }
  std::vector<int> tree{root};
  for (std::size_t i = 0; i < tree.size(); ++i)
    for (const auto& [pid, parent] : all)
      if (parent == tree[i]) tree.push_back(pid);
  return tree;
}

memory_sample sample_memory(int root) {
  memory_sample m;
  if (root <= 0) return m;
  m.hwm = status_field(root, "VmHWM");
  long rss = 0, pss = 0;
  bool pss_ok = true;
  for (int pid : process_tree(root)) {
    long r = status_field(pid, "VmRSS");
    if (r < 0) continue;
    long p = pss_of(pid);
    if (p < 0) pss_ok = false;
    rss += r;
    pss += p;
    ++m.processes;
  }
  if (m.processes > 0) {
    m.rss = rss;
    if (pss_ok) m.pss = pss;
  }
  return m;
}

std::vector<asio::ip::address> parse_sources(const std::string& list) {
  std::vector<asio::ip::address> out;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    std::error_code ec;
    auto a = asio::ip::make_address(item, ec);
    if (ec || !a.is_loopback()) throw std::runtime_error("--source-addresses: not a loopback address: " + item);
    out.push_back(a);
  }
  return out;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  // nearest rank
  std::size_t rank = static_cast<std::size_t>(std::ceil(p / 100.0 * double(sorted.size())));
  if (rank == 0) rank = 1;
  return sorted[std::min(rank, sorted.size()) - 1];
}

// ---------------------------------------------------------------------------------------------
// idle: N logged-in sessions doing nothing; the server's memory before and after.

struct idle_result {
  std::size_t ok = 0;
  std::size_t failures[6] = {};  // by stage
  std::string first_error;
  std::size_t alive_at_end = 0;
  double login_seconds = 0;
  bool overall_timeout = false;
  memory_sample before, after;
};

awaitable<void> idle_opener(std::vector<connection_ptr>& conns, std::size_t& next, const bool& abort,
                            const common_options& o, const tcp::endpoint& server,
                            const std::vector<asio::ip::address>& sources, idle_result& res) {
  auto ex = co_await asio::this_coro::executor;
  while (!abort && next < conns.size()) {
    std::size_t i = next++;
    auto c = make_connection(ex);
    conns[i] = c;
    std::optional<asio::ip::address> source;
    if (!sources.empty()) source = sources[i % sources.size()];
    try {
      co_await open_session(*c, o, server, source);
      c->no_deadline();
      ++res.ok;
    } catch (const ftp_failure& f) {
      ++res.failures[int(f.where)];
      if (res.first_error.empty()) res.first_error = "session " + std::to_string(i) + ": " + f.what();
      c->stop();
      conns[i].reset();
    }
  }
}

awaitable<void> idle_closer(std::vector<connection_ptr>& conns, std::size_t& next, const common_options& o,
                            idle_result& res) {
  while (next < conns.size()) {
    std::size_t i = next++;
    auto c = conns[i];
    if (!c) continue;
    try {
      reply r = co_await command(*c, "QUIT", o.op_timeout);
      if (r.code == 221) ++res.alive_at_end;
    } catch (const ftp_failure&) {
    }
    c->stop();
  }
}

awaitable<void> run_idle(const common_options& o, const idle_options& io, idle_result& res) {
  auto ex = co_await asio::this_coro::executor;
  const auto server = server_endpoint(o);
  const auto sources = parse_sources(io.source_addresses);
  std::vector<connection_ptr> conns(io.sessions);

  res.before = sample_memory(io.server_pid);

  // Open and log in, at most `concurrency` at once, within the overall timeout.
  std::size_t next = 0;
  bool abort = false;
  std::size_t workers = std::max<std::size_t>(1, std::min(io.concurrency, io.sessions));
  std::size_t pending = workers;
  asio::steady_timer wake(ex);
  auto t0 = steady::now();
  for (std::size_t k = 0; k < workers; ++k)
    asio::co_spawn(ex, idle_opener(conns, next, abort, o, server, sources, res), [&](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          if (res.first_error.empty()) res.first_error = x.what();
        }
      }
      if (--pending == 0) wake.cancel();
    });
  // The overall limit: a watchdog that aborts the openers.
  asio::steady_timer limit(ex);
  limit.expires_after(std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(io.timeout)));
  limit.async_wait([&](std::error_code ec) {
    if (ec) return;
    res.overall_timeout = true;
    abort = true;
    for (auto& c : conns)
      if (c) {
        c->timed_out = true;
        c->close_sockets();
      }
  });
  co_await wait_for_zero(pending, wake);
  limit.cancel();
  res.login_seconds = seconds_since(t0);
  if (res.overall_timeout)
    for (auto& c : conns) c.reset();  // sockets closed: nothing is alive (destroying ends watchdogs)

  // Let the server settle (its last replies were sent just now), then measure.
  co_await sleep_for(0.5);
  res.after = sample_memory(io.server_pid);

  if (io.hold > 0) co_await sleep_for(io.hold);

  // QUIT every session: those answering 221 were still alive.
  next = 0;
  pending = workers;
  for (std::size_t k = 0; k < workers; ++k)
    asio::co_spawn(ex, idle_closer(conns, next, o, res), [&](std::exception_ptr) {
      if (--pending == 0) wake.cancel();
    });
  co_await wait_for_zero(pending, wake);
  for (auto& c : conns)
    if (c) c->stop();
}

int cmd_idle(const common_options& o, const idle_options& io) {
  asio::io_context ctx(1);
  idle_result res;
  std::exception_ptr error;
  asio::co_spawn(ctx, run_idle(o, io, res), [&](std::exception_ptr e) { error = e; });
  ctx.run();
  if (error) std::rethrow_exception(error);

  std::size_t failed = 0;
  for (auto f : res.failures) failed += f;
  std::printf("idle sessions: %zu requested, %zu logged in in %.2f s, %zu failed", io.sessions, res.ok,
              res.login_seconds, failed);
  if (failed)
    std::printf(" (connect %zu, greeting %zu, login %zu, timeout %zu)", res.failures[int(stage::connect)],
                res.failures[int(stage::greeting)], res.failures[int(stage::login)], res.failures[int(stage::timeout)]);
  std::printf("%s\n", res.overall_timeout ? " [overall timeout]" : "");
  if (!res.first_error.empty()) std::printf("first error: %s\n", res.first_error.c_str());
  std::printf("still alive at the end (QUIT answered 221): %zu\n", res.alive_at_end);
  double per_rss = 0, per_pss = 0;
  if (io.server_pid > 0) {
    std::printf("server pid %d: %d -> %d process(es)\n", io.server_pid, res.before.processes, res.after.processes);
    std::printf("  RSS  %8ld -> %8ld KiB\n  HWM  %8ld -> %8ld KiB\n  PSS  %8ld -> %8ld KiB\n", res.before.rss,
                res.after.rss, res.before.hwm, res.after.hwm, res.before.pss, res.after.pss);
    if (res.ok > 0) {
      per_rss = double(res.after.rss - res.before.rss) / double(res.ok);
      per_pss = double(res.after.pss - res.before.pss) / double(res.ok);
      std::printf("  per session: RSS %.1f KiB, PSS %.1f KiB\n", per_rss, per_pss);
    }
  }
  std::printf(
      "RESULT mode=idle sessions=%zu ok=%zu failed=%zu alive_at_end=%zu login_s=%.3f rss_before_kib=%ld "
      "rss_after_kib=%ld hwm_kib=%ld pss_before_kib=%ld pss_after_kib=%ld rss_per_session_kib=%.1f "
      "pss_per_session_kib=%.1f processes=%d\n",
      io.sessions, res.ok, failed, res.alive_at_end, res.login_seconds, res.before.rss, res.after.rss, res.after.hwm,
      res.before.pss, res.after.pss, per_rss, per_pss, res.after.processes);
  return (failed == 0 && res.alive_at_end == res.ok) ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// noop: NOOP round trips, alone or while another session downloads.

struct download_state {
  bool running = false;
  bool done = false;
  std::uint64_t bytes = 0;
  double seconds = 0;
  std::string error;
  reply final_reply;
};

awaitable<void> background_download(connection_ptr c, const common_options& o, download_state& st,
                                    steady::time_point t0) {
  try {
    std::uint64_t n = co_await drain_data(*c, o);
    st.bytes = n;
    st.seconds = seconds_since(t0);
    st.final_reply = co_await read_reply(*c, o.op_timeout);
    if (st.final_reply.code != 226 && st.final_reply.code != 250) st.error = "after RETR: " + first_line(st.final_reply);
  } catch (const std::exception& e) {
    st.error = e.what();
    st.seconds = seconds_since(t0);
  }
}

struct noop_result {
  std::vector<double> rtt_us;
  std::size_t bad_replies = 0;
  std::string first_bad;
  download_state download;
  bool download_ended_first = false;
};

awaitable<void> run_noop(const common_options& o, const noop_options& no, noop_result& res) {
  auto ex = co_await asio::this_coro::executor;
  const auto server = server_endpoint(o);
  const std::optional<asio::ip::address> no_source;

  auto ctl = make_connection(ex);
  co_await open_session(*ctl, o, server, no_source);

  connection_ptr dl;
  download_state& st = res.download;
  std::size_t pending = 0;
  asio::steady_timer wake(ex);
  if (!no.during_download.empty()) {
    dl = make_connection(ex);
    co_await open_session(*dl, o, server, no_source);
    co_await set_binary(*dl, o);
    co_await open_passive(*dl, o);
    std::string retr = "RETR " + no.during_download;
    auto t0 = steady::now();
    reply r = co_await command(*dl, retr, o.op_timeout);
    if (r.code != 150 && r.code != 125) dl->fail(stage::data, "RETR: " + first_line(r));
    st.running = true;
    pending = 1;
    asio::co_spawn(ex, background_download(dl, o, st, t0), [&](std::exception_ptr) {
      st.done = true;
      pending = 0;
      wake.cancel();
    });
  }

  // Warm-up round trips, not measured.
  for (std::size_t i = 0; i < no.warmup && !st.done; ++i) {
    reply r = co_await command(*ctl, "NOOP", o.op_timeout);
    if (r.code == 0) ctl->fail(stage::command, "NOOP: " + r.text);
  }
  res.rtt_us.reserve(no.count);
  const std::string noop = "NOOP";
  for (std::size_t i = 0; i < no.count; ++i) {
    if (st.running && st.done) {
      res.download_ended_first = true;
      break;
    }
    auto t0 = steady::now();
    reply r = co_await command(*ctl, noop, o.op_timeout);
    auto t1 = steady::now();
    if (r.code == 0) ctl->fail(stage::command, "NOOP: " + r.text);
    if (r.code != 200) {
      ++res.bad_replies;
      if (res.first_bad.empty()) res.first_bad = first_line(r);
      continue;
    }
    res.rtt_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  reply bye = co_await command(*ctl, "QUIT", o.op_timeout);
  (void)bye;
  ctl->stop();
  if (dl) {
    co_await wait_for_zero(pending, wake);
    reply bye2 = co_await command(*dl, "QUIT", o.op_timeout);
    (void)bye2;
    dl->stop();
  }
}

int cmd_noop(const common_options& o, const noop_options& no) {
  asio::io_context ctx(1);
  noop_result res;
  std::exception_ptr error;
  asio::co_spawn(ctx, run_noop(o, no, res), [&](std::exception_ptr e) { error = e; });
  ctx.run();
  if (error) std::rethrow_exception(error);

  auto v = res.rtt_us;
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  double mean = v.empty() ? 0 : sum / double(v.size());
  std::printf("NOOP round trips: %zu measured (%zu requested)%s, %zu bad replies%s%s\n", v.size(), no.count,
              res.download_ended_first ? ", stopped when the download ended" : "", res.bad_replies,
              res.first_bad.empty() ? "" : ", first: ", res.first_bad.c_str());
  std::printf("  p50 %.1f us, p90 %.1f us, p99 %.1f us, max %.1f us, mean %.1f us\n", percentile(v, 50),
              percentile(v, 90), percentile(v, 99), v.empty() ? 0.0 : v.back(), mean);
  const auto& st = res.download;
  double dl_mibs = mib_per_s(st.bytes, st.seconds);
  if (st.running) {
    std::printf("download of %s: %" PRIu64 " bytes in %.3f s, %.1f MiB/s%s%s\n", no.during_download.c_str(), st.bytes,
                st.seconds, dl_mibs, st.error.empty() ? "" : ", error: ", st.error.c_str());
  }
  std::printf(
      "RESULT mode=noop measured=%zu requested=%zu bad=%zu p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f "
      "mean_us=%.1f download_bytes=%" PRIu64 " download_s=%.3f download_mibs=%.1f download_error=%d\n",
      v.size(), no.count, res.bad_replies, percentile(v, 50), percentile(v, 90), percentile(v, 99),
      v.empty() ? 0.0 : v.back(), mean, st.bytes, st.seconds, dl_mibs, st.error.empty() ? 0 : 1);
  return (res.bad_replies == 0 && st.error.empty() && !v.empty()) ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// transfer: one RETR or STOR in TYPE I through EPSV/PASV.

struct transfer_result {
  std::uint64_t bytes = 0;
  double seconds = 0;
  reply final_reply;
};

awaitable<void> run_transfer(const common_options& o, const transfer_options& to, transfer_result& res) {
  auto ex = co_await asio::this_coro::executor;
  const auto server = server_endpoint(o);
  const std::optional<asio::ip::address> no_source;
  auto c = make_connection(ex);
  co_await open_session(*c, o, server, no_source);
  co_await set_binary(*c, o);
  co_await open_passive(*c, o);

  const bool upload = !to.stor.empty();
  std::string line = upload ? "STOR " + to.stor : "RETR " + to.retr;
  auto t0 = steady::now();
  reply r = co_await command(*c, line, o.op_timeout);
  if (r.code != 150 && r.code != 125) c->fail(stage::data, line.substr(0, 4) + ": " + first_line(r));
  if (upload) {
    // Incompressible bytes, generated once and sent again and again.
    std::vector<char> buf(256 * 1024);
    std::mt19937_64 rng(42);
    for (std::size_t i = 0; i + 8 <= buf.size(); i += 8) {
      std::uint64_t x = rng();
      std::memcpy(buf.data() + i, &x, 8);
    }
    std::uint64_t left = to.size;
    while (left > 0) {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, buf.size()));
      c->expect_within(o.data_timeout);
      std::error_code ec;
      std::size_t written = co_await asio::async_write(c->data, asio::buffer(buf.data(), n), asio::redirect_error(use_awaitable, ec));
      if (ec) c->fail(stage::data, "data write after " + std::to_string(to.size - left) + " bytes: " + ec.message());
      left -= written;
    }
    std::error_code ignored;
    c->data.shutdown(tcp::socket::shutdown_send, ignored);
    c->data.close(ignored);
    res.bytes = to.size;
  } else {
    std::uint64_t n = co_await drain_data(*c, o);
    res.bytes = n;
  }
  res.final_reply = co_await read_reply(*c, o.data_timeout);
  res.seconds = seconds_since(t0);
  if (res.final_reply.code != 226 && res.final_reply.code != 250)
    c->fail(stage::data, "after the transfer: " + first_line(res.final_reply));
  reply bye = co_await command(*c, "QUIT", o.op_timeout);
  (void)bye;
  c->stop();
}

int cmd_transfer(const common_options& o, const transfer_options& to) {
  asio::io_context ctx(1);
  transfer_result res;
  std::exception_ptr error;
  asio::co_spawn(ctx, run_transfer(o, to, res), [&](std::exception_ptr e) { error = e; });
  ctx.run();
  if (error) std::rethrow_exception(error);
  const bool upload = !to.stor.empty();
  double mibs = mib_per_s(res.bytes, res.seconds);
  std::printf("%s %s: %" PRIu64 " bytes in %.3f s, %.1f MiB/s (%s)\n", upload ? "STOR" : "RETR",
              upload ? to.stor.c_str() : to.retr.c_str(), res.bytes, res.seconds, mibs, first_line(res.final_reply).c_str());
  std::printf("RESULT mode=%s bytes=%" PRIu64 " seconds=%.3f mibs=%.1f\n", upload ? "stor" : "retr", res.bytes,
              res.seconds, mibs);
  return 0;
}

void add_common(CLI::App* sub, common_options& o) {
  sub->add_option("--host", o.host, "Server address (loopback only)")->capture_default_str();
  sub->add_option("--port", o.port, "Server control port")->required();
  sub->add_option("--user", o.user, "User name")->capture_default_str();
  sub->add_option("--pass", o.pass, "Password")->capture_default_str();
  sub->add_option("--op-timeout", o.op_timeout, "Seconds allowed for any one connect or reply")->capture_default_str();
  sub->add_option("--data-timeout", o.data_timeout, "Seconds a data connection may stall")->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ftp-load: FTP client load generator for benchmarks (loopback only)"};
  app.require_subcommand(1);
  common_options common;
  idle_options idle;
  noop_options noop;
  transfer_options transfer;

  auto* idle_cmd = app.add_subcommand("idle", "Open N logged-in idle sessions and measure the server's memory");
  add_common(idle_cmd, common);
  idle_cmd->add_option("--sessions", idle.sessions, "Sessions to open")->capture_default_str();
  idle_cmd->add_option("--source-addresses", idle.source_addresses,
                       "Comma-separated loopback addresses to connect from, round-robin (e.g. 127.0.0.1,127.0.0.2)");
  idle_cmd->add_option("--hold", idle.hold, "Seconds to keep the sessions after measuring")->capture_default_str();
  idle_cmd->add_option("--server-pid", idle.server_pid, "Server process to measure (with its descendants)");
  idle_cmd->add_option("--concurrency", idle.concurrency, "Connections being opened at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  idle_cmd->add_option("--timeout", idle.timeout, "Seconds allowed for logging every session in")->capture_default_str();

  auto* noop_cmd = app.add_subcommand("noop", "Measure NOOP round-trip latency, optionally during a download");
  add_common(noop_cmd, common);
  noop_cmd->add_option("--count", noop.count, "Round trips to measure")->capture_default_str();
  noop_cmd->add_option("--warmup", noop.warmup, "Round trips before measuring")->capture_default_str();
  noop_cmd->add_option("--during-download", noop.during_download,
                       "A file another session downloads meanwhile; measuring stops when it ends");

  auto* transfer_cmd = app.add_subcommand("transfer", "One binary passive transfer; prints MiB/s");
  add_common(transfer_cmd, common);
  auto* retr_opt = transfer_cmd->add_option("--retr", transfer.retr, "File to download");
  auto* stor_opt = transfer_cmd->add_option("--stor", transfer.stor, "File to upload");
  auto* size_opt = transfer_cmd->add_option("--size", transfer.size, "Bytes to upload with --stor");
  retr_opt->excludes(stor_opt);
  stor_opt->needs(size_opt);
  size_opt->needs(stor_opt);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (*idle_cmd) return cmd_idle(common, idle);
    if (*noop_cmd) return cmd_noop(common, noop);
    if (transfer.retr.empty() && transfer.stor.empty()) {
      std::fprintf(stderr, "transfer: give --retr PATH or --stor PATH --size BYTES\n");
      return 2;
    }
    return cmd_transfer(common, transfer);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ftp-load: %s\n", e.what());
    std::printf("RESULT mode=error\n");
    return 1;
  }
}
