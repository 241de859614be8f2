// ftp-load: a client load generator for FTP servers on loopback (coftp, vsftpd, pure-ftpd...).
//
//   ftp-load idle     --port P --user U --pass W --sessions N [--source-addresses A,B,...]
//                     [--hold S] [--server-pid PID]
//   ftp-load noop     --port P --user U --pass W --count N [--during-download PATH]
//   ftp-load transfer --port P --user U --pass W (--retr PATH | --stor PATH --size BYTES) [--clients N]
//   ftp-load logins   --port P --user U --pass W [--clients 16] [--seconds S]
//   ftp-load small    --port P --user U --pass W [--clients 16] [--seconds S] [--size 4096]
//   ftp-load list     --port P --user U --pass W --path DIR [--count N] [--entries E]
//
// Every mode takes --server-pid PID (the server's CPU time, and for idle its memory, summed over
// the process and its descendants) and --source-addresses A,B,... (loopback addresses that the
// connections are bound to, round-robin).
//
// Everything runs on one io_context and one thread (idle --processes K forks K of them). Every wait on a socket is bounded: each
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
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <dirent.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

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
  int server_pid = 0;        // the server's process (tree) to measure, 0: none
  std::string source_addresses;  // comma-separated; connections are spread round-robin
};

struct idle_options {
  std::size_t sessions = 100;
  double hold = 0;               // seconds to keep the sessions open after the measurement
  std::size_t concurrency = 100;  // connections being opened at once
  double timeout = 60;            // seconds for all sessions to be logged in
  std::size_t processes = 1;      // ftp-load processes sharing the sessions (one holds <= ~19,000)
  // Set in a child of --processes: its first source address and the stride between its
  // sessions' addresses, and the pipes to its parent (-1: not a child).
  std::size_t source_offset = 0, source_stride = 1;
  int report_fd = -1, go_fd = -1;
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
  std::size_t clients = 1;  // parallel transfers; with --stor client i writes PATH.i
};

struct cycle_options {  // logins and small
  std::size_t clients = 16;
  double seconds = 5;
  std::size_t size = 4096;  // small: bytes per file
};

struct list_options {
  std::string path = ".";
  std::size_t count = 20;
  long entries = -1;  // expected entries per listing; -1: not checked
};

// ---------------------------------------------------------------------------------------------
// An FTP control connection (and its data connection) with a deadline.

enum class stage { connect, greeting, login, command, data, timeout, quit, verify };
constexpr int stage_count = 8;

const char* stage_name(stage s) {
  switch (s) {
    case stage::connect: return "connect";
    case stage::greeting: return "greeting";
    case stage::login: return "login";
    case stage::command: return "command";
    case stage::data: return "data";
    case stage::timeout: return "timeout";
    case stage::quit: return "quit";
    case stage::verify: return "verify";
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
  // From the control connection's address: servers refuse a data connection from another one.
  std::error_code ec;
  auto local = c.control.local_endpoint(ec);
  if (!ec) c.data.open(target.protocol(), ec);
  if (!ec) c.data.bind(tcp::endpoint(local.address(), 0), ec);
  if (ec) c.fail(stage::data, "data socket: " + ec.message());
  c.expect_within(o.op_timeout);
  co_await c.data.async_connect(target, asio::redirect_error(use_awaitable, ec));
  if (ec) c.fail(stage::data, "data connect to port " + std::to_string(target.port()) + ": " + ec.message());
}

awaitable<void> set_binary(connection& c, const common_options& o) {
  reply r = co_await command(c, "TYPE I", o.op_timeout);
  if (r.code != 200) c.fail(stage::command, "TYPE I: " + first_line(r));
}

// Reads the data connection until EOF, discarding the bytes (or appending them to *keep).
// Returns the byte count.
awaitable<std::uint64_t> drain_data(connection& c, const common_options& o, std::string* keep = nullptr) {
  std::vector<char> buf(keep ? 64 * 1024 : 256 * 1024);
  std::uint64_t total = 0;
  for (;;) {
    c.expect_within(o.data_timeout);
    std::error_code ec;
    std::size_t n = co_await c.data.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
    total += n;
    if (keep) keep->append(buf.data(), n);
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

void sleep_seconds(double s) {
  std::this_thread::sleep_for(std::chrono::duration<double>(s));
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

// CPU seconds of a process tree: utime + stime + cutime + cstime of the process and of each
// living descendant (a finished child's time is in its reaper's cutime once it is reaped, which
// is why forking servers are run under a subreaper). 0 without a pid.
double cpu_seconds(int root) {
  if (root <= 0) return 0;
  static const double tick = double(sysconf(_SC_CLK_TCK));
  unsigned long long total = 0;
  for (int pid : process_tree(root)) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string s;
    std::getline(in, s);
    auto close = s.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(s.substr(close + 2));
    std::string f;
    // fields after the name: state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
    // cmajflt utime(14) stime cutime cstime(17)
    for (int k = 3; k <= 13 && fields >> f; ++k) {
    }
    unsigned long long t[4] = {};
    if (fields >> t[0] >> t[1] >> t[2] >> t[3]) total += t[0] + t[1] + t[2] + t[3];
  }
  return double(total) / tick;
}

// Measures the server's CPU time over a window: start() then stop(); 0 without a pid.
struct cpu_window {
  int pid = 0;
  double at_start = 0, seconds = 0;
  void start() { at_start = cpu_seconds(pid); }
  void stop() { seconds = pid > 0 ? cpu_seconds(pid) - at_start : 0; }
};

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
  std::size_t failures[stage_count] = {};  // by stage
  std::string first_error;
  std::size_t alive_at_end = 0;
  double login_seconds = 0;
  bool overall_timeout = false;
  memory_sample before, after;
};

awaitable<void> idle_opener(std::vector<connection_ptr>& conns, std::size_t& next, const bool& abort,
                            const common_options& o, const idle_options& io, const tcp::endpoint& server,
                            const std::vector<asio::ip::address>& sources, idle_result& res) {
  auto ex = co_await asio::this_coro::executor;
  while (!abort && next < conns.size()) {
    std::size_t i = next++;
    auto c = make_connection(ex);
    conns[i] = c;
    std::optional<asio::ip::address> source;
    if (!sources.empty()) source = sources[(io.source_offset + i * io.source_stride) % sources.size()];
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
  const auto sources = parse_sources(o.source_addresses);
  std::vector<connection_ptr> conns(io.sessions);

  if (io.report_fd < 0) res.before = sample_memory(o.server_pid);

  // Open and log in, at most `concurrency` at once, within the overall timeout.
  std::size_t next = 0;
  bool abort = false;
  std::size_t workers = std::max<std::size_t>(1, std::min(io.concurrency, io.sessions));
  std::size_t pending = workers;
  asio::steady_timer wake(ex);
  auto t0 = steady::now();
  for (std::size_t k = 0; k < workers; ++k)
    asio::co_spawn(ex, idle_opener(conns, next, abort, o, io, server, sources, res), [&](std::exception_ptr e) {
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

  if (io.report_fd >= 0) {
    // A child of --processes: tell the parent the sessions are in, and wait (blocking: the
    // idle sessions need nothing meanwhile) until it has measured and held them.
    (void)!::write(io.report_fd, "ready\n", 6);
    char go = 0;
    (void)!::read(io.go_fd, &go, 1);
  } else {
    // Let the server settle (its last replies were sent just now), then measure.
    co_await sleep_for(0.5);
    res.after = sample_memory(o.server_pid);
    if (io.hold > 0) co_await sleep_for(io.hold);
  }

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

idle_result idle_in_this_process(const common_options& o, const idle_options& io) {
  asio::io_context ctx(1);
  idle_result res;
  std::exception_ptr error;
  asio::co_spawn(ctx, run_idle(o, io, res), [&](std::exception_ptr e) { error = e; });
  ctx.run();
  if (error) std::rethrow_exception(error);
  return res;
}

// Reads one line from a child's pipe, waiting at most `seconds`; empty on timeout or EOF.
std::string read_line(int fd, double seconds) {
  std::string line;
  auto deadline = steady::now() + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(seconds));
  for (;;) {
    int left_ms = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count());
    if (left_ms <= 0) return {};
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, left_ms) <= 0) continue;
    char ch = 0;
    if (::read(fd, &ch, 1) != 1) return {};
    if (ch == '\n') return line;
    line += ch;
  }
}

// idle --processes K: K children open the sessions (a process may hold at most as many
// sockets as its descriptor limit), the parent measures the server once all are in.
idle_result idle_in_children(const common_options& o, const idle_options& io) {
  idle_result res;
  res.before = sample_memory(o.server_pid);
  struct child {
    pid_t pid = -1;
    int report = -1, go = -1;
  };
  std::vector<child> kids;
  std::fflush(stdout);
  for (std::size_t k = 0; k < io.processes; ++k) {
    int up[2], down[2];
    if (::pipe(up) != 0 || ::pipe(down) != 0) throw std::runtime_error("pipe failed");
    idle_options share = io;
    share.sessions = io.sessions / io.processes + (k < io.sessions % io.processes ? 1 : 0);
    share.concurrency = std::max<std::size_t>(1, io.concurrency / io.processes);
    share.source_offset = k;
    share.source_stride = io.processes;
    share.report_fd = up[1];
    share.go_fd = down[0];
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      ::close(up[0]);
      ::close(down[1]);
      for (const auto& other : kids) {
        ::close(other.report);
        ::close(other.go);
      }
      int rc = 0;
      try {
        idle_result r = idle_in_this_process(o, share);
        std::string line = std::to_string(r.ok) + " " + std::to_string(r.alive_at_end) + " " +
                           std::to_string(r.login_seconds) + " " + (r.overall_timeout ? "1" : "0");
        for (auto f : r.failures) line += " " + std::to_string(f);
        for (char& ch : r.first_error)
          if (ch == '\n') ch = ' ';
        line += "\n" + r.first_error + "\n";
        (void)!::write(up[1], line.data(), line.size());
      } catch (const std::exception& e) {
        std::string line = std::string("error\n") + e.what() + "\n";
        (void)!::write(up[1], line.data(), line.size());
        rc = 1;
      }
      std::fflush(stdout);
      ::_exit(rc);
    }
    ::close(up[1]);
    ::close(down[0]);
    kids.push_back({pid, up[0], down[1]});
  }
  // Every child says "ready" once its sessions are in (or have failed).
  const double wait = io.timeout + 2 * o.op_timeout + 10;
  std::size_t ready = 0;
  for (auto& kid : kids)
    if (read_line(kid.report, wait) == "ready") ++ready;
  if (ready < kids.size()) res.overall_timeout = true;
  sleep_seconds(0.5);
  res.after = sample_memory(o.server_pid);
  if (io.hold > 0) sleep_seconds(io.hold);
  for (auto& kid : kids) (void)!::write(kid.go, "g", 1);
  for (auto& kid : kids) {
    std::string counts = read_line(kid.report, wait);
    std::string error = read_line(kid.report, 1);
    if (counts == "error" || counts.empty()) {
      if (res.first_error.empty()) res.first_error = counts.empty() ? "an ftp-load child did not report" : error;
      ++res.failures[int(stage::timeout)];
    } else {
      std::istringstream in(counts);
      std::size_t ok = 0, alive = 0;
      double login_s = 0;
      int timeout = 0;
      in >> ok >> alive >> login_s >> timeout;
      res.ok += ok;
      res.alive_at_end += alive;
      res.login_seconds = std::max(res.login_seconds, login_s);
      if (timeout) res.overall_timeout = true;
      for (auto& f : res.failures) {
        std::size_t n = 0;
        in >> n;
        f += n;
      }
      if (res.first_error.empty() && !error.empty()) res.first_error = error;
    }
    ::close(kid.report);
    ::close(kid.go);
    int status = 0;
    ::waitpid(kid.pid, &status, 0);
  }
  return res;
}

int cmd_idle(const common_options& o, const idle_options& io) {
  idle_result res = io.processes > 1 ? idle_in_children(o, io) : idle_in_this_process(o, io);

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
  if (o.server_pid > 0) {
    std::printf("server pid %d: %d -> %d process(es)\n", o.server_pid, res.before.processes, res.after.processes);
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
  cpu_window cpu;
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
  res.cpu.start();
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
  res.cpu.stop();
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
  res.cpu.pid = o.server_pid;
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
  if (o.server_pid > 0 && !v.empty())
    std::printf("  server CPU: %.3f s, %.2f us per NOOP%s\n", res.cpu.seconds, res.cpu.seconds * 1e6 / double(v.size()),
                res.download.running ? " (the download's included)" : "");
  const auto& st = res.download;
  double dl_mibs = mib_per_s(st.bytes, st.seconds);
  if (st.running) {
    std::printf("download of %s: %" PRIu64 " bytes in %.3f s, %.1f MiB/s%s%s\n", no.during_download.c_str(), st.bytes,
                st.seconds, dl_mibs, st.error.empty() ? "" : ", error: ", st.error.c_str());
  }
  std::printf(
      "RESULT mode=noop measured=%zu requested=%zu bad=%zu p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f "
      "mean_us=%.1f download_bytes=%" PRIu64 " download_s=%.3f download_mibs=%.1f download_error=%d "
      "server_cpu_s=%.3f cpu_us_each=%.2f\n",
      v.size(), no.count, res.bad_replies, percentile(v, 50), percentile(v, 90), percentile(v, 99),
      v.empty() ? 0.0 : v.back(), mean, st.bytes, st.seconds, dl_mibs, st.error.empty() ? 0 : 1, res.cpu.seconds,
      v.empty() ? 0.0 : res.cpu.seconds * 1e6 / double(v.size()));
  return (res.bad_replies == 0 && st.error.empty() && !v.empty()) ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// Helpers of the workloads with several clients.

// The source address of client k (none without --source-addresses).
std::optional<asio::ip::address> source_of(const std::vector<asio::ip::address>& sources, std::size_t k) {
  if (sources.empty()) return std::nullopt;
  return sources[k % sources.size()];
}

// A start line: every client arrives once (ready or failed); the last one opens it.
struct gate {
  explicit gate(asio::any_io_executor ex, std::size_t n) : waiting(n), timer(ex) {
    timer.expires_at(steady::time_point::max());
  }
  std::size_t waiting;
  bool open = false;
  asio::steady_timer timer;
  std::function<void()> on_open;

  void arrive() {
    if (open || waiting == 0) return;
    if (--waiting == 0) {
      open = true;
      if (on_open) on_open();
      timer.cancel();
    }
  }
  awaitable<void> wait() {
    while (!open) {
      std::error_code ec;
      co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    }
  }
};

// Failures counted by stage, with the first message.
struct failure_count {
  std::size_t by_stage[stage_count] = {};
  std::string first;
  std::size_t total() const {
    std::size_t n = 0;
    for (auto f : by_stage) n += f;
    return n;
  }
  void add(const ftp_failure& f) {
    ++by_stage[int(f.where)];
    if (first.empty()) first = f.what();
  }
  void add_other(const std::string& what) {
    ++by_stage[int(stage::command)];
    if (first.empty()) first = what;
  }
  void print() const {
    if (total() == 0) return;
    std::printf("failures:");
    for (int k = 0; k < stage_count; ++k)
      if (by_stage[k]) std::printf(" %s %zu", stage_name(stage(k)), by_stage[k]);
    std::printf("\nfirst failure: %s\n", first.c_str());
  }
  std::string result_fields() const {
    return "failed=" + std::to_string(total()) + " failed_quit=" + std::to_string(by_stage[int(stage::quit)]) +
           " failed_verify=" + std::to_string(by_stage[int(stage::verify)]) +
           " failed_timeout=" + std::to_string(by_stage[int(stage::timeout)]);
  }
};

// Runs `body(k)` for k in [0, clients) on one io_context; returns when all have ended.
template <class Body>
void run_clients(std::size_t clients, Body body, failure_count& failures) {
  asio::io_context ctx(1);
  for (std::size_t k = 0; k < clients; ++k)
    asio::co_spawn(ctx, body(k), [&failures](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const ftp_failure& f) {
        failures.add(f);
      } catch (const std::exception& x) {
        failures.add_other(x.what());
      }
    });
  ctx.run();
}

// Sends QUIT and expects 221; a connection closed before it is a failure of stage quit.
awaitable<void> quit(connection& c, const common_options& o) {
  reply r = co_await command(c, "QUIT", o.op_timeout);
  if (r.code != 221) c.fail(stage::quit, "QUIT: " + first_line(r));
  c.stop();
}

// Sends `bytes` on the open data connection, then closes it (end of file).
// The bytes sent are period[0..period_size) repeated.
awaitable<void> send_data(connection& c, const common_options& o, const std::vector<char>& period, std::uint64_t size) {
  std::uint64_t sent = 0;
  while (sent < size) {
    std::size_t offset = static_cast<std::size_t>(sent % period.size());
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(size - sent, period.size() - offset));
    c.expect_within(o.data_timeout);
    std::error_code ec;
    std::size_t written = co_await asio::async_write(c.data, asio::buffer(period.data() + offset, n),
                                                     asio::redirect_error(use_awaitable, ec));
    if (ec) c.fail(stage::data, "data write after " + std::to_string(sent) + " bytes: " + ec.message());
    sent += written;
  }
  std::error_code ignored;
  c.data.shutdown(tcp::socket::shutdown_send, ignored);
  c.data.close(ignored);
}

// The 226 (or 250) that ends a transfer.
awaitable<void> transfer_complete(connection& c, const common_options& o, std::string_view what) {
  reply r = co_await read_reply(c, o.data_timeout);
  if (r.code != 226 && r.code != 250) c.fail(stage::data, "after " + std::string(what) + ": " + first_line(r));
}

awaitable<void> start_transfer(connection& c, const common_options& o, const std::string& line) {
  reply r = co_await command(c, line, o.op_timeout);
  if (r.code != 150 && r.code != 125) c.fail(stage::data, line.substr(0, 4) + ": " + first_line(r));
}

std::vector<char> random_bytes(std::size_t n, std::uint64_t seed) {
  std::vector<char> buf(n);
  std::mt19937_64 rng(seed);
  for (std::size_t i = 0; i < n; i += 8) {
    std::uint64_t x = rng();
    std::memcpy(buf.data() + i, &x, std::min<std::size_t>(8, n - i));
  }
  return buf;
}

std::string server_cpu_fields(const cpu_window& cpu) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "server_cpu_s=%.3f", cpu.seconds);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// transfer: RETR or STOR in TYPE I through EPSV/PASV, by N clients at once.

struct transfer_result {
  std::uint64_t bytes = 0;
  double seconds = 0;
  std::size_t done = 0;
  failure_count failures;
  cpu_window cpu;
};

int cmd_transfer(const common_options& o, const transfer_options& to) {
  const auto server = server_endpoint(o);
  const auto sources = parse_sources(o.source_addresses);
  const bool upload = !to.stor.empty();
  const auto payload = random_bytes(256 * 1024, 42);  // incompressible, sent again and again
  transfer_result res;
  res.cpu.pid = o.server_pid;
  steady::time_point t0;
  std::size_t finished = 0;
  std::optional<gate> go;
  run_clients(
      to.clients,
      [&](std::size_t k) -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        if (!go) {
          go.emplace(ex, to.clients);
          go->on_open = [&] {
            res.cpu.start();
            t0 = steady::now();
          };
        }
        auto c = make_connection(ex);
        bool arrived = false, ended = false;
        // The window ends when the last client's transfer has ended (or failed), before QUITs.
        auto end = [&] {
          if (ended) return;
          ended = true;
          if (++finished == to.clients) {
            res.seconds = seconds_since(t0);
            res.cpu.stop();
          }
        };
        try {
          co_await open_session(*c, o, server, source_of(sources, k));
          co_await set_binary(*c, o);
          co_await open_passive(*c, o);
          // All clients send their RETR or STOR at the same moment.
          arrived = true;
          go->arrive();
          co_await go->wait();
          std::string path = upload ? (to.clients > 1 ? to.stor + "." + std::to_string(k) : to.stor) : to.retr;
          std::string line = (upload ? "STOR " : "RETR ") + path;
          co_await start_transfer(*c, o, line);
          std::uint64_t n = to.size;
          if (upload)
            co_await send_data(*c, o, payload, to.size);
          else
            n = co_await drain_data(*c, o);
          co_await transfer_complete(*c, o, line.substr(0, 4));
          res.bytes += n;
          ++res.done;
          end();
          co_await quit(*c, o);
        } catch (const ftp_failure& f) {
          res.failures.add(f);
          c->stop();
        }
        if (!arrived) go->arrive();
        end();
      },
      res.failures);
  double mibs = mib_per_s(res.bytes, res.seconds);
  const char* what = upload ? "STOR" : "RETR";
  std::printf("%s %s by %zu client(s): %zu done, %" PRIu64 " bytes in %.3f s, %.1f MiB/s\n", what,
              upload ? to.stor.c_str() : to.retr.c_str(), to.clients, res.done, res.bytes, res.seconds, mibs);
  if (o.server_pid > 0)
    std::printf("server CPU: %.3f s, %.3f s per GiB\n", res.cpu.seconds,
                res.bytes ? res.cpu.seconds / (double(res.bytes) / 1073741824.0) : 0.0);
  res.failures.print();
  std::printf("RESULT mode=%s clients=%zu done=%zu bytes=%" PRIu64 " seconds=%.3f mibs=%.1f %s cpu_s_per_gib=%.4f %s\n",
              upload ? "stor" : "retr", to.clients, res.done, res.bytes, res.seconds, mibs,
              server_cpu_fields(res.cpu).c_str(),
              res.bytes ? res.cpu.seconds / (double(res.bytes) / 1073741824.0) : 0.0,
              res.failures.result_fields().c_str());
  return res.failures.total() == 0 && res.done == to.clients ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// logins: N clients loop connect, greeting, USER, PASS, QUIT (221) for S seconds.
// small: N logged-in clients loop STOR of a small file then RETR of it, byte-checked.

struct cycle_result {
  std::size_t cycles = 0;
  std::vector<double> cycle_us;
  failure_count failures;
  double seconds = 0;
  cpu_window cpu;
};

void print_cycles(const char* mode, const char* unit, const cycle_options& co, cycle_result& res) {
  std::sort(res.cycle_us.begin(), res.cycle_us.end());
  double rate = res.seconds > 0 ? double(res.cycles) / res.seconds : 0;
  double cpu_per_ms = res.cycles ? res.cpu.seconds * 1000.0 / double(res.cycles) : 0;
  std::printf("%zu clients, %.2f s: %zu %s, %.1f/s; %zu failed\n", co.clients, res.seconds, res.cycles, unit, rate,
              res.failures.total());
  std::printf("  one cycle: p50 %.0f us, p99 %.0f us, max %.0f us\n", percentile(res.cycle_us, 50),
              percentile(res.cycle_us, 99), res.cycle_us.empty() ? 0.0 : res.cycle_us.back());
  if (res.cpu.pid > 0) std::printf("  server CPU: %.3f s, %.4f ms per cycle\n", res.cpu.seconds, cpu_per_ms);
  res.failures.print();
  std::printf("RESULT mode=%s clients=%zu seconds=%.3f ok=%zu per_s=%.1f p50_us=%.0f p99_us=%.0f %s cpu_ms_each=%.4f %s\n",
              mode, co.clients, res.seconds, res.cycles, rate, percentile(res.cycle_us, 50),
              percentile(res.cycle_us, 99), server_cpu_fields(res.cpu).c_str(), cpu_per_ms,
              res.failures.result_fields().c_str());
}

// Runs `co.clients` clients of `body(k, deadline, result)`, each looping its cycles until
// `co.seconds` have passed, and measures the time and the server's CPU around them.
template <class Body>
cycle_result run_cycles(const common_options& o, const cycle_options& co, Body body) {
  cycle_result res;
  res.cpu.pid = o.server_pid;
  res.cpu.start();
  const auto t0 = steady::now();
  const auto deadline = t0 + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(co.seconds));
  run_clients(co.clients, [&](std::size_t k) { return body(k, deadline, res); }, res.failures);
  res.seconds = seconds_since(t0);
  res.cpu.stop();
  return res;
}

int cmd_logins(const common_options& o, const cycle_options& co) {
  const auto server = server_endpoint(o);
  const auto sources = parse_sources(o.source_addresses);
  auto result = run_cycles(o, co, [&](std::size_t k, steady::time_point deadline, cycle_result& res) -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    while (steady::now() < deadline) {
      auto c = make_connection(ex);
      auto c0 = steady::now();
      try {
        co_await open_session(*c, o, server, source_of(sources, k));
        co_await quit(*c, o);
        ++res.cycles;
        res.cycle_us.push_back(std::chrono::duration<double, std::micro>(steady::now() - c0).count());
      } catch (const ftp_failure& f) {
        res.failures.add(f);
        c->stop();
      }
    }
  });
  print_cycles("logins", "logins", co, result);
  return result.failures.total() == 0 && result.cycles > 0 ? 0 : 1;
}

int cmd_small(const common_options& o, const cycle_options& co) {
  const auto server = server_endpoint(o);
  const auto sources = parse_sources(o.source_addresses);
  auto result = run_cycles(o, co, [&](std::size_t k, steady::time_point deadline, cycle_result& res) -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    const std::string name = "small-" + std::to_string(k) + ".bin";
    std::uint64_t cycle = 0;
    while (steady::now() < deadline) {
      // One session per client, opened again after a failure.
      auto c = make_connection(ex);
      try {
        co_await open_session(*c, o, server, source_of(sources, k));
        co_await set_binary(*c, o);
        while (steady::now() < deadline) {
          auto c0 = steady::now();
          auto bytes = random_bytes(co.size, (std::uint64_t(k) << 32) + ++cycle);
          co_await open_passive(*c, o);
          std::string stor = "STOR " + name;
          co_await start_transfer(*c, o, stor);
          co_await send_data(*c, o, bytes, bytes.size());
          co_await transfer_complete(*c, o, "STOR");
          co_await open_passive(*c, o);
          std::string retr = "RETR " + name;
          co_await start_transfer(*c, o, retr);
          std::string got;
          co_await drain_data(*c, o, &got);
          co_await transfer_complete(*c, o, "RETR");
          if (got.size() != bytes.size() || std::memcmp(got.data(), bytes.data(), bytes.size()) != 0)
            c->fail(stage::verify, "RETR " + name + ": " + std::to_string(got.size()) + " bytes, not the " +
                                       std::to_string(bytes.size()) + " stored");
          ++res.cycles;
          res.cycle_us.push_back(std::chrono::duration<double, std::micro>(steady::now() - c0).count());
        }
        reply r = co_await command(*c, "DELE " + name, o.op_timeout);
        (void)r;
        co_await quit(*c, o);
      } catch (const ftp_failure& f) {
        res.failures.add(f);
        c->stop();
      }
    }
  });
  print_cycles("small", "cycles", co, result);
  return result.failures.total() == 0 && result.cycles > 0 ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// list: LIST of one directory, again and again, by one client; entries counted.

// Entries of a LIST reply: its non-empty lines, without a "total N" line and "." and "..".
long count_entries(const std::string& listing) {
  long n = 0;
  std::size_t pos = 0;
  while (pos < listing.size()) {
    auto nl = listing.find('\n', pos);
    std::string_view line(listing.data() + pos, (nl == std::string::npos ? listing.size() : nl) - pos);
    pos = nl == std::string::npos ? listing.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.rfind("total ", 0) == 0) continue;
    auto space = line.rfind(' ');
    std::string_view name = space == std::string_view::npos ? line : line.substr(space + 1);
    if (name == "." || name == "..") continue;
    ++n;
  }
  return n;
}

int cmd_list(const common_options& o, const list_options& lo) {
  const auto server = server_endpoint(o);
  const auto sources = parse_sources(o.source_addresses);
  cycle_result res;
  res.cpu.pid = o.server_pid;
  long last_entries = -1;
  std::uint64_t bytes = 0;
  steady::time_point t0;
  run_clients(
      1,
      [&](std::size_t) -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto c = make_connection(ex);
        co_await open_session(*c, o, server, source_of(sources, 0));
        res.cpu.start();
        t0 = steady::now();
        for (std::size_t i = 0; i < lo.count; ++i) {
          auto c0 = steady::now();
          co_await open_passive(*c, o);
          std::string line = "LIST " + lo.path;
          co_await start_transfer(*c, o, line);
          std::string listing;
          bytes += co_await drain_data(*c, o, &listing);
          co_await transfer_complete(*c, o, "LIST");
          last_entries = count_entries(listing);
          if (lo.entries >= 0 && last_entries != lo.entries)
            c->fail(stage::verify, "LIST " + lo.path + ": " + std::to_string(last_entries) + " entries, expected " +
                                       std::to_string(lo.entries));
          ++res.cycles;
          res.cycle_us.push_back(std::chrono::duration<double, std::micro>(steady::now() - c0).count());
        }
        res.seconds = seconds_since(t0);
        res.cpu.stop();
        co_await quit(*c, o);
      },
      res.failures);
  std::sort(res.cycle_us.begin(), res.cycle_us.end());
  double rate = res.seconds > 0 ? double(res.cycles) / res.seconds : 0;
  double cpu_ms = res.cycles ? res.cpu.seconds * 1000.0 / double(res.cycles) : 0;
  std::printf("LIST %s: %zu listings of %ld entries (%" PRIu64 " bytes) in %.3f s, %.1f/s; p50 %.1f ms\n",
              lo.path.c_str(), res.cycles, last_entries, bytes, res.seconds, rate, percentile(res.cycle_us, 50) / 1000);
  if (o.server_pid > 0) std::printf("  server CPU: %.3f s, %.2f ms per listing\n", res.cpu.seconds, cpu_ms);
  res.failures.print();
  std::printf("RESULT mode=list count=%zu ok=%zu entries=%ld seconds=%.3f per_s=%.2f p50_ms=%.2f %s cpu_ms_each=%.3f %s\n",
              lo.count, res.cycles, last_entries, res.seconds, rate, percentile(res.cycle_us, 50) / 1000,
              server_cpu_fields(res.cpu).c_str(), cpu_ms, res.failures.result_fields().c_str());
  return res.failures.total() == 0 && res.cycles == lo.count ? 0 : 1;
}


void add_common(CLI::App* sub, common_options& o) {
  sub->add_option("--host", o.host, "Server address (loopback only)")->capture_default_str();
  sub->add_option("--port", o.port, "Server control port")->required();
  sub->add_option("--user", o.user, "User name")->capture_default_str();
  sub->add_option("--pass", o.pass, "Password")->capture_default_str();
  sub->add_option("--op-timeout", o.op_timeout, "Seconds allowed for any one connect or reply")->capture_default_str();
  sub->add_option("--data-timeout", o.data_timeout, "Seconds a data connection may stall")->capture_default_str();
  sub->add_option("--server-pid", o.server_pid, "Server process whose CPU (and memory) to measure, with its descendants");
  sub->add_option("--source-addresses", o.source_addresses,
                  "Comma-separated loopback addresses to connect from, round-robin (e.g. 127.0.0.2,127.0.0.3)");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ftp-load: FTP client load generator for benchmarks (loopback only)"};
  app.require_subcommand(1);
  common_options common;
  idle_options idle;
  noop_options noop;
  transfer_options transfer;
  cycle_options cycles;
  list_options list;

  auto* idle_cmd = app.add_subcommand("idle", "Open N logged-in idle sessions and measure the server's memory");
  add_common(idle_cmd, common);
  idle_cmd->add_option("--sessions", idle.sessions, "Sessions to open")->capture_default_str();
  idle_cmd->add_option("--hold", idle.hold, "Seconds to keep the sessions after measuring")->capture_default_str();
  idle_cmd->add_option("--concurrency", idle.concurrency, "Connections being opened at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  idle_cmd->add_option("--timeout", idle.timeout, "Seconds allowed for logging every session in")->capture_default_str();
  idle_cmd->add_option("--processes", idle.processes, "ftp-load processes sharing the sessions (fork)")
      ->check(CLI::Range(std::size_t(1), std::size_t(64)))
      ->capture_default_str();

  auto* noop_cmd = app.add_subcommand("noop", "Measure NOOP round-trip latency, optionally during a download");
  add_common(noop_cmd, common);
  noop_cmd->add_option("--count", noop.count, "Round trips to measure")->capture_default_str();
  noop_cmd->add_option("--warmup", noop.warmup, "Round trips before measuring")->capture_default_str();
  noop_cmd->add_option("--during-download", noop.during_download,
                       "A file another session downloads meanwhile; measuring stops when it ends");

  auto* transfer_cmd = app.add_subcommand("transfer", "Binary passive transfers by N clients at once; prints MiB/s");
  add_common(transfer_cmd, common);
  auto* retr_opt = transfer_cmd->add_option("--retr", transfer.retr, "File to download");
  auto* stor_opt = transfer_cmd->add_option("--stor", transfer.stor, "File to upload (PATH.i by client i when --clients > 1)");
  auto* size_opt = transfer_cmd->add_option("--size", transfer.size, "Bytes to upload with --stor");
  transfer_cmd->add_option("--clients", transfer.clients, "Clients transferring at once")
      ->check(CLI::Range(std::size_t(1), std::size_t(1000)))
      ->capture_default_str();
  retr_opt->excludes(stor_opt);
  stor_opt->needs(size_opt);
  size_opt->needs(stor_opt);

  auto* logins_cmd = app.add_subcommand("logins", "N clients loop connect, USER, PASS, QUIT; prints logins/s");
  add_common(logins_cmd, common);
  logins_cmd->add_option("--clients", cycles.clients, "Concurrent clients")->check(CLI::Range(std::size_t(1), std::size_t(10000)))->capture_default_str();
  logins_cmd->add_option("--seconds", cycles.seconds, "Duration")->check(CLI::PositiveNumber)->capture_default_str();

  cycle_options small_cycles;
  auto* small_cmd = app.add_subcommand("small", "N logged-in clients loop STOR + RETR of a small file; prints cycles/s");
  add_common(small_cmd, common);
  small_cmd->add_option("--clients", small_cycles.clients, "Concurrent clients")->check(CLI::Range(std::size_t(1), std::size_t(10000)))->capture_default_str();
  small_cmd->add_option("--seconds", small_cycles.seconds, "Duration")->check(CLI::PositiveNumber)->capture_default_str();
  small_cmd->add_option("--size", small_cycles.size, "Bytes per file")->check(CLI::Range(std::size_t(1), std::size_t(1) << 26))->capture_default_str();

  auto* list_cmd = app.add_subcommand("list", "LIST of one directory again and again; prints listings/s");
  add_common(list_cmd, common);
  list_cmd->add_option("--path", list.path, "Directory to list")->capture_default_str();
  list_cmd->add_option("--count", list.count, "Listings")->check(CLI::PositiveNumber)->capture_default_str();
  list_cmd->add_option("--entries", list.entries, "Expected entries per listing (a mismatch is a failure)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (*idle_cmd) return cmd_idle(common, idle);
    if (*noop_cmd) return cmd_noop(common, noop);
    if (*logins_cmd) return cmd_logins(common, cycles);
    if (*small_cmd) return cmd_small(common, small_cycles);
    if (*list_cmd) return cmd_list(common, list);
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
