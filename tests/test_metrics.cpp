// tests/test_metrics.cpp - Prometheus metrics (coftp/metrics.hpp) and their HTTP listener
// (coftp/metrics_http.hpp): a real server over loopback fed to a metrics_observer, the
// numbers read back from GET /metrics as a scraper reads them, and the listener against
// garbage, oversized and slow requests, other methods and paths, and too many clients.
//
// COFTP_METRICS_OUT, when set, names a file that receives the /metrics text of the first
// test case (tests/check_promtool.sh checks it with promtool).
#include <coftp/metrics.hpp>
#include <coftp/metrics_http.hpp>
#include <coftp/storage/decorator.hpp>

#include <doctest/doctest.h>

#include "server_helpers.hpp"

#include <cstdlib>
#include <fstream>
#include <future>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

using namespace coftp_test;
using namespace std::string_view_literals;

namespace {

using tcp = asio::ip::tcp;

// An HTTP exchange over a fresh loopback connection: sends `request`, reads until the
// listener closes (bounded by the socket timeouts). `hold_open` keeps sending nothing more.
std::string http_exchange(const tcp::endpoint& ep, std::string_view request,
                          std::chrono::milliseconds timeout = std::chrono::milliseconds(3000)) {
  asio::io_context io;
  blocking_socket s(io, ep, timeout);
  if (!request.empty()) s.write_all(request);
  return s.read_all(std::size_t(1) << 22);
}

std::string http_get(const tcp::endpoint& ep, std::string_view path) {
  return http_exchange(ep, "GET " + std::string(path) + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
}

// "HTTP/1.1 200 OK..." -> 200; 0 when there is no status line.
int status_of(std::string_view response) {
  if (!response.starts_with("HTTP/1.1 ") || response.size() < 12) return 0;
  return std::stoi(std::string(response.substr(9, 3)));
}

std::string body_of(const std::string& response) {
  auto p = response.find("\r\n\r\n");
  return p == std::string::npos ? std::string() : response.substr(p + 4);
}

std::string header_of(const std::string& response, std::string_view name) {
  auto head = response.substr(0, response.find("\r\n\r\n"));
  auto key = "\r\n" + std::string(name) + ": ";
  auto p = head.find(key);
  if (p == std::string::npos) return {};
  p += key.size();
  return head.substr(p, head.find("\r\n", p) - p);
}

// The value of one series ("coftp_logins_total{result=\"ok\"}") in a text exposition.
std::optional<double> value_of(const std::string& text, std::string_view series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.starts_with(series) && line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

// The /metrics body over HTTP, checked to be a 200 in the text format.
std::string scrape(const tcp::endpoint& ep) {
  auto r = http_get(ep, "/metrics");
  REQUIRE(status_of(r) == 200);
  CHECK(header_of(r, "Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  return body_of(r);
}

// An HTTP listener on an io_context and thread of its own.
struct http_fixture {
  asio::io_context io;
  std::optional<coftp::metrics_http_server> http;
  std::thread runner;

  http_fixture(std::function<std::string()> metrics, std::function<bool()> healthy,
               coftp::metrics_http_options o = {}) {
    http.emplace(io.get_executor(), "127.0.0.1", 0, std::move(metrics), std::move(healthy), o);
    http->start();
    runner = std::thread([this] { io.run(); });
  }
  ~http_fixture() {
    http->stop();
    // The listener's coroutines end once stop() has run on its strand: io.run() returns.
    auto done = std::async(std::launch::async, [this] { runner.join(); });
    if (done.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      FAIL_CHECK("metrics_http_server: work left after stop()");
      io.stop();
      done.wait();
    }
  }
  tcp::endpoint endpoint() const { return http->endpoint(); }
};

// A store whose uploads fail for want of space.
struct full_store : coftp::storage_decorator<coftp::memory_fs> {
  struct writer {
    asio::awaitable<std::error_code> write(asio::const_buffer) {
      co_return make_error_code(coftp::storage_errc::no_space);
    }
    asio::awaitable<std::error_code> commit() { co_return make_error_code(coftp::storage_errc::no_space); }
  };
  asio::awaitable<coftp::result<writer>> open_write(std::string, coftp::write_mode, std::uint64_t = 0) {
    co_return coftp::result<writer>(std::error_code(), writer{});
  }
};
static_assert(coftp::storage_backend<full_store>);

// What s3_storage::request_stats() points at, without libcurl.
struct fake_s3_stats {
  std::atomic<std::uint64_t> ok{5}, client_error{2}, server_error{1}, transport_error{0}, retries{1};
};

template <class Storage>
using metered_server = test_server<Storage, coftp::metrics_observer>;

}  // namespace

TEST_CASE("metrics: logins, transfers, commands and a ban's refusal as a scraper sees them") {
  auto registry = std::make_shared<coftp::metrics_registry>();
  auto o = test_options();
  o.ban_after = 2;
  o.max_login_failures = 0;
  metered_server<coftp::memory_fs> srv(coftp::memory_fs{}, o, coftp::metrics_observer(registry));
  coftp::metrics_http_server http(srv.io().get_executor(), "127.0.0.1", 0, [registry] { return registry->render(); },
                                  [registry] { return !registry->draining(); });
  http.start();
  srv.put("/a.txt", "hello");

  auto before = scrape(http.endpoint());
  CHECK(value_of(before, "coftp_sessions_total") == 0);
  CHECK(value_of(before, "coftp_logins_total{result=\"ok\"}") == 0);
  CHECK(value_of(before, "coftp_command_duration_seconds_count") == 0);

  {
    ftp_client c(srv.endpoint());
    login(c);
    CHECK(c.command("TYPE I") == "200 Type set to I");
    CHECK(c.retr("a.txt") == "hello");
    CHECK(c.last_reply().starts_with("226 "));
    CHECK(c.stor("b.txt", "world!").starts_with("226 "));
    CHECK(c.command("FOOBAR").starts_with("500 "));
    CHECK(wait_until([&] { return value_of(scrape(http.endpoint()), "coftp_sessions_open") == 1; }));
    CHECK(c.command("QUIT") == "221 Goodbye");
  }
  {
    ftp_client c(srv.endpoint());
    CHECK(c.command("USER test").starts_with("331 "));
    CHECK(c.command("PASS wrong").starts_with("530 "));
    CHECK(c.command("USER test").starts_with("331 "));
    CHECK(c.command("PASS wrong again").starts_with("530 "));  // the second failure bans 127.0.0.1
    CHECK(c.command("QUIT").starts_with("221 "));
  }
  {
    client_options quiet;
    quiet.read_greeting = false;
    ftp_client c(srv.endpoint(), quiet);
    CHECK(c.read_reply().starts_with("421 "));
  }

  // Disconnects are seen a moment after the client's last read.
  std::string text;
  CHECK(wait_until([&] {
    text = scrape(http.endpoint());
    return value_of(text, "coftp_sessions_open") == 0 && value_of(text, "coftp_refusals_total{reason=\"banned\"}") == 1;
  }));
  CAPTURE(text);
  CHECK(value_of(text, "coftp_sessions_total") == 2);  // the refused connection is no session
  CHECK(value_of(text, "coftp_logins_total{result=\"ok\"}") == 1);
  CHECK(value_of(text, "coftp_logins_total{result=\"failed\"}") == 2);
  CHECK(value_of(text, "coftp_bans_total") == 1);
  CHECK(value_of(text, "coftp_refusals_total{reason=\"denied\"}") == 0);
  CHECK(value_of(text, "coftp_commands_total{verb=\"USER\"}") == 3);
  CHECK(value_of(text, "coftp_commands_total{verb=\"PASS\"}") == 3);
  CHECK(value_of(text, "coftp_commands_total{verb=\"RETR\"}") == 1);
  CHECK(value_of(text, "coftp_commands_total{verb=\"STOR\"}") == 1);
  CHECK(value_of(text, "coftp_commands_total{verb=\"PASV\"}") == 2);
  CHECK(value_of(text, "coftp_commands_total{verb=\"other\"}") == 1);
  CHECK(text.find("FOOBAR") == std::string::npos);
  CHECK(value_of(text, "coftp_replies_total{code=\"530\"}") == 2);
  CHECK(value_of(text, "coftp_replies_total{code=\"226\"}") == 2);
  CHECK(value_of(text, "coftp_replies_total{code=\"150\"}") == 2);
  CHECK(value_of(text, "coftp_transfers_total{direction=\"download\",outcome=\"completed\"}") == 1);
  CHECK(value_of(text, "coftp_transfers_total{direction=\"upload\",outcome=\"completed\"}") == 1);
  CHECK(value_of(text, "coftp_transfers_total{direction=\"upload\",outcome=\"storage_error\"}") == 0);
  CHECK(value_of(text, "coftp_transfer_bytes_total{direction=\"download\"}") == 5);
  CHECK(value_of(text, "coftp_transfer_bytes_total{direction=\"upload\"}") == 6);
  CHECK(value_of(text, "coftp_data_connection_failures_total{reason=\"accept\"}") == 0);
  // Every command was answered: one latency each (QUIT's 221 included).
  double commands = 0;
  for (auto verb : {"USER", "PASS", "TYPE", "PASV", "RETR", "STOR", "QUIT", "other"})
    commands += value_of(text, "coftp_commands_total{verb=\"" + std::string(verb) + "\"}").value_or(0);
  CHECK(commands == 14);
  CHECK(value_of(text, "coftp_command_duration_seconds_count") == commands);
  CHECK(value_of(text, "coftp_command_duration_seconds_bucket{le=\"+Inf\"}") == commands);
  auto sum = value_of(text, "coftp_command_duration_seconds_sum");
  REQUIRE(sum.has_value());
  // The two failed PASS wait login_failure_delay (50 ms) each before their 530.
  CHECK(*sum >= 0.1);
  CHECK(*sum < 10);
  CHECK(value_of(text, "coftp_draining") == 0);

  if (const char* out = std::getenv("COFTP_METRICS_OUT")) {
    std::ofstream f(out, std::ios::binary);
    f << text;
    CHECK(f.good());
  }
  http.stop();
}

TEST_CASE("metrics: data connections not made, and storage errors, by reason") {
  auto registry = std::make_shared<coftp::metrics_registry>();
  auto o = test_options();
  o.data_timeout = std::chrono::milliseconds(300);
  asio::io_context io;  // before the acceptors, which must go first
  std::optional<tcp::acceptor> squatter;
  SUBCASE("no connection to PASV's port: accept") {
    metered_server<coftp::memory_fs> srv(coftp::memory_fs{}, o, coftp::metrics_observer(registry));
    ftp_client c(srv.endpoint());
    login(c);
    CHECK(c.command("PASV").starts_with("227 "));
    CHECK(c.command("LIST") == "425 Cannot open data connection");
    auto text = registry->render();
    CHECK(value_of(text, "coftp_data_connection_failures_total{reason=\"accept\"}") == 1);
    CHECK(value_of(text, "coftp_data_connection_failures_total{reason=\"connect\"}") == 0);
    CHECK(value_of(text, "coftp_transfers_total{direction=\"listing\",outcome=\"timed_out\"}") == 1);
  }
  SUBCASE("EPRT to a closed port: connect") {
    tcp::acceptor closed(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    auto port = closed.local_endpoint().port();
    closed.close();
    metered_server<coftp::memory_fs> srv(coftp::memory_fs{}, o, coftp::metrics_observer(registry));
    ftp_client c(srv.endpoint());
    login(c);
    CHECK(c.command("EPRT |1|127.0.0.1|" + std::to_string(port) + "|").starts_with("200 "));
    CHECK(c.command("LIST") == "425 Cannot open data connection");
    auto text = registry->render();
    CHECK(value_of(text, "coftp_data_connection_failures_total{reason=\"connect\"}") == 1);
    CHECK(value_of(text, "coftp_data_connection_failures_total{reason=\"accept\"}") == 0);
  }
  SUBCASE("the only passive port taken: listen") {
    squatter.emplace(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    auto port = squatter->local_endpoint().port();
    o.passive_port_min = o.passive_port_max = port;
    metered_server<coftp::memory_fs> srv(coftp::memory_fs{}, o, coftp::metrics_observer(registry));
    ftp_client c(srv.endpoint());
    login(c);
    CHECK(c.command("PASV").starts_with("425 "));
    CHECK(value_of(registry->render(), "coftp_data_connection_failures_total{reason=\"listen\"}") == 1);
  }
  SUBCASE("a full store: storage error no_space") {
    metered_server<full_store> srv(full_store{}, o, coftp::metrics_observer(registry));
    ftp_client c(srv.endpoint());
    login(c);
    CHECK(c.stor("x.bin", "some bytes").starts_with("452 "));
    auto text = registry->render();
    CHECK(value_of(text, "coftp_storage_errors_total{kind=\"no_space\"}") == 1);
    CHECK(value_of(text, "coftp_storage_errors_total{kind=\"io_error\"}") == 0);
    CHECK(value_of(text, "coftp_transfers_total{direction=\"upload\",outcome=\"storage_error\"}") == 1);
  }
}

#if COFTP_HAS_TLS
TEST_CASE("metrics: TLS handshakes on the control and the data connection") {
  const char* cert = std::getenv("COFTP_TEST_CERT");
  const char* key = std::getenv("COFTP_TEST_KEY");
  REQUIRE_MESSAGE((cert && key), "COFTP_TEST_CERT and COFTP_TEST_KEY name the test certificate (meson test sets them)");
  auto registry = std::make_shared<coftp::metrics_registry>();
  auto o = test_options();
  o.tls.certificate_file = cert;
  o.tls.private_key_file = key;
  metered_server<coftp::memory_fs> srv(coftp::memory_fs{}, o, coftp::metrics_observer(registry));
  srv.put("/a.txt", "secret bytes");
  client_options co;
  co.tls = tls_client_context();
  {
    ftp_client c(srv.endpoint(), co);
    REQUIRE(c.auth_tls().starts_with("234 "));
    login(c);
    REQUIRE(c.command("PBSZ 0").starts_with("200 "));
    REQUIRE(c.prot("P").starts_with("200 "));
    CHECK(c.retr("a.txt") == "secret bytes");
    CHECK(c.last_reply().starts_with("226 "));
  }
  {
    // A client that answers AUTH TLS's 234 with clear text: a failed handshake.
    ftp_client c(srv.endpoint());
    CHECK(c.command("AUTH TLS").starts_with("234 "));
    c.send_raw("USER test\r\n");
  }
  CHECK(wait_until([&] {
    return value_of(registry->render(), "coftp_tls_handshakes_total{channel=\"control\",result=\"failed\"}") == 1;
  }));
  auto text = registry->render();
  CHECK(value_of(text, "coftp_tls_handshakes_total{channel=\"control\",result=\"ok\"}") == 1);
  CHECK(value_of(text, "coftp_tls_handshakes_total{channel=\"data\",result=\"ok\"}") == 1);
  CHECK(value_of(text, "coftp_tls_handshakes_total{channel=\"data\",result=\"failed\"}") == 0);
}
#endif

TEST_CASE("metrics: the text format: families, escaping, bounded verbs, reloads, sources") {
  coftp::metrics_registry registry{"XHELLO"};
  coftp::metrics_observer obs(std::shared_ptr<coftp::metrics_registry>(&registry, [](auto*) {}));
  coftp::session_info s{7, "127.0.0.1", 4242};
  obs.on_connect(s);
  for (int i = 0; i < 1000; ++i) obs.on_command(s, coftp::command{"Z" + std::to_string(i), "", {}});
  obs.on_command(s, coftp::command{"XHELLO", "", {}});
  obs.on_reply(s, coftp::reply{coftp::reply_code::ok, "ok"});
  obs.on_reply(s, coftp::reply{coftp::reply_code::ok, "again, for no command"});
  obs.on_refused(s, coftp::refusal::too_many_sessions);
  obs.on_storage_error(s, std::make_error_code(std::errc::no_space_on_device));
  obs.on_storage_error(s, std::make_error_code(std::errc::timed_out));
  registry.record_reload(true);
  registry.record_reload(false);
  registry.add_source([](coftp::metrics_writer& w) {
    w.family("test_odd_total", "counter", "Help with a \\ and a\nline feed.");
    w.sample("test_odd_total", {{"path", "a\"b\\c\nd"}}, std::uint64_t(3));
  });
  registry.add_source(coftp::s3_request_metrics(std::make_shared<const fake_s3_stats>()));
  auto text = registry.render();
  CAPTURE(text);

  CHECK(value_of(text, "coftp_commands_total{verb=\"other\"}") == 1000);
  CHECK(value_of(text, "coftp_commands_total{verb=\"XHELLO\"}") == 1);
  CHECK(text.find("Z999") == std::string::npos);
  CHECK(value_of(text, "coftp_replies_total{code=\"200\"}") == 2);
  CHECK(value_of(text, "coftp_command_duration_seconds_count") == 1);  // the second reply answered nothing
  CHECK(value_of(text, "coftp_refusals_total{reason=\"too_many_sessions\"}") == 1);
  CHECK(value_of(text, "coftp_storage_errors_total{kind=\"no_space\"}") == 1);
  CHECK(value_of(text, "coftp_storage_errors_total{kind=\"io_error\"}") == 1);
  CHECK(value_of(text, "coftp_config_reloads_total{result=\"ok\"}") == 1);
  CHECK(value_of(text, "coftp_config_reloads_total{result=\"failed\"}") == 1);
  CHECK(value_of(text, "coftp_config_last_reload_successful") == 0);
  CHECK(value_of(text, "coftp_sessions_open") == 1);
  CHECK(text.find("# HELP test_odd_total Help with a \\\\ and a\\nline feed.\n") != std::string::npos);
  CHECK(value_of(text, "test_odd_total{path=\"a\\\"b\\\\c\\nd\"}") == 3);
  CHECK(value_of(text, "coftp_s3_requests_total{result=\"ok\"}") == 5);
  CHECK(value_of(text, "coftp_s3_requests_total{result=\"client_error\"}") == 2);
  CHECK(value_of(text, "coftp_s3_requests_total{result=\"server_error\"}") == 1);
  CHECK(value_of(text, "coftp_s3_retries_total") == 1);
  if (const char* out = std::getenv("COFTP_METRICS_OUT")) {
    std::ofstream f(std::string(out) + ".sources", std::ios::binary);
    f << text;
    CHECK(f.good());
  }

  // Every sample follows its family's # HELP and # TYPE; counters end in _total; each
  // family is declared once; histogram buckets never decrease.
  std::istringstream in(text);
  std::string line, family, type;
  std::set<std::string> families;
  double last_bucket = -1;
  std::size_t samples = 0;
  while (std::getline(in, line)) {
    CAPTURE(line);
    if (line.starts_with("# HELP ")) {
      family = line.substr(7, line.find(' ', 7) - 7);
      CHECK(families.insert(family).second);
      REQUIRE(std::getline(in, line));
      CHECK(line.starts_with("# TYPE " + family + " "));
      type = line.substr(8 + family.size());
      if (type == "counter") CHECK(family.ends_with("_total"));
      last_bucket = -1;
      continue;
    }
    ++samples;
    REQUIRE(!family.empty());
    CHECK(line.starts_with(family));
    if (line.starts_with(family + "_bucket")) {
      auto v = std::stod(line.substr(line.rfind(' ') + 1));
      CHECK(v >= last_bucket);
      last_bucket = v;
    }
  }
  CHECK(families.count("coftp_command_duration_seconds") == 1);
  CHECK(samples < 150);  // bounded whatever the clients send
  CHECK(text.ends_with("\n"));
}

TEST_CASE("metrics: the HTTP listener answers GET /metrics and /healthz, refuses the rest") {
  std::atomic<bool> healthy{true};
  http_fixture f([] { return std::string("coftp_up 1\n"); }, [&] { return healthy.load(); });
  auto ep = f.endpoint();
  CHECK(ep.address() == asio::ip::address_v4::loopback());
  CHECK(ep.port() != 0);

  SUBCASE("GET /metrics") {
    auto r = http_get(ep, "/metrics");
    CHECK(r.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(header_of(r, "Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
    CHECK(header_of(r, "Content-Length") == "11");
    CHECK(header_of(r, "Connection") == "close");
    CHECK(body_of(r) == "coftp_up 1\n");
    CHECK(status_of(http_get(ep, "/metrics?name[]=x")) == 200);
    CHECK(status_of(http_exchange(ep, "GET /metrics HTTP/1.0\r\n\r\n")) == 200);
  }
  SUBCASE("/healthz: 200 ok, then 503 while draining") {
    auto r = http_get(ep, "/healthz");
    CHECK(status_of(r) == 200);
    CHECK(body_of(r) == "ok\n");
    healthy = false;
    r = http_get(ep, "/healthz");
    CHECK(status_of(r) == 503);
    CHECK(body_of(r) == "draining\n");
    healthy = true;
    CHECK(status_of(http_get(ep, "/healthz")) == 200);
  }
  SUBCASE("other methods: 405") {
    auto r = http_exchange(ep, "POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
    CHECK(status_of(r) == 405);
    CHECK(header_of(r, "Allow") == "GET");
    CHECK(status_of(http_exchange(ep, "DELETE /healthz HTTP/1.1\r\n\r\n")) == 405);
    CHECK(status_of(http_exchange(ep, "HEAD /metrics HTTP/1.1\r\n\r\n")) == 405);
  }
  SUBCASE("other paths: 404") {
    CHECK(status_of(http_get(ep, "/")) == 404);
    CHECK(status_of(http_get(ep, "/metrics/x")) == 404);
    CHECK(status_of(http_get(ep, "/healthzz")) == 404);
  }
  SUBCASE("garbage: 400, or closed unanswered") {
    for (std::string_view bad : {"\r\n\r\n"sv, "GET\r\n\r\n"sv, "GET /metrics\r\n\r\n"sv, "GET /metrics HTTP/2.0\r\n\r\n"sv,
                                 "GET  /metrics HTTP/1.1\r\n\r\n"sv, "GET metrics HTTP/1.1\r\n\r\n"sv,
                                 "G(T /metrics HTTP/1.1\r\n\r\n"sv, "GET /metrics HTTP/1.1 x\r\n\r\n"sv,
                                 "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"sv}) {
      CAPTURE(bad);
      CHECK(status_of(http_exchange(ep, bad)) == 400);
    }
    {
      // Bytes without an end of head, then the client's FIN: nothing to answer.
      asio::io_context io;
      blocking_socket s(io, ep, std::chrono::milliseconds(3000));
      s.write_all(std::string(100, '\0'));
      s.shutdown_send();
      CHECK(s.read_all(1 << 16).empty());
    }
  }
  SUBCASE("a head over max_request: 431") {
    std::string big = "GET /metrics HTTP/1.1\r\nX-Filler: " + std::string(20000, 'a') + "\r\n\r\n";
    auto r = http_exchange(ep, big);
    CHECK(status_of(r) == 431);
    std::string just_under = "GET /metrics HTTP/1.1\r\nX: " + std::string(8000, 'a') + "\r\n\r\n";
    CHECK(status_of(http_exchange(ep, just_under)) == 200);
  }
  // Whatever came before, the listener still answers.
  CHECK(status_of(http_get(ep, "/metrics")) == 200);
}

TEST_CASE("metrics: the HTTP listener times out slow clients and bounds its connections") {
  coftp::metrics_http_options o;
  o.timeout = std::chrono::milliseconds(300);
  o.max_connections = 2;
  http_fixture f([] { return std::string("coftp_up 1\n"); }, {}, o);
  auto ep = f.endpoint();

  SUBCASE("a head that never ends: 408 after the timeout") {
    asio::io_context io;
    blocking_socket s(io, ep, std::chrono::milliseconds(5000));
    auto start = std::chrono::steady_clock::now();
    s.write_all("GET /metrics HTTP/1.1\r\n");
    auto r = s.read_all(1 << 16);
    auto took = std::chrono::steady_clock::now() - start;
    CHECK(status_of(r) == 408);
    CHECK(took >= std::chrono::milliseconds(250));
    CHECK(took < std::chrono::milliseconds(3000));
  }
  SUBCASE("a head sent a byte at a time still has one deadline") {
    asio::io_context io;
    blocking_socket s(io, ep, std::chrono::milliseconds(5000));
    auto start = std::chrono::steady_clock::now();
    std::string r;
    try {
      for (char c : std::string("GET /metrics HTTP/1.1\r\nHost: x\r\nX: aaaaaaaaaaaaaaaaaaaa\r\n")) {
        s.write_all(std::string_view(&c, 1));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    } catch (const std::system_error&) {
      // the listener gave up on us meanwhile: fine, its 408 is waiting
    }
    r = s.read_all(1 << 16);
    CHECK(status_of(r) == 408);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(3000));
  }
  SUBCASE("over max_connections: closed at once, served again once a slot frees") {
    asio::io_context io;
    std::optional<blocking_socket> idle1, idle2;
    idle1.emplace(io, ep, std::chrono::milliseconds(3000));
    idle2.emplace(io, ep, std::chrono::milliseconds(3000));
    // Both idle connections are accepted (the listener counts them) before the third.
    bool refused = wait_until(
        [&] {
          try {
            return http_get(ep, "/metrics").empty();
          } catch (const std::system_error&) {
            return true;  // closed with our request unread: a reset
          }
        },
        std::chrono::milliseconds(200));
    CHECK(refused);
    idle1.reset();
    idle2.reset();
    // Refused (reset) until the listener has seen the two closes.
    CHECK(wait_until(
        [&] {
          try {
            return status_of(http_get(ep, "/metrics")) == 200;
          } catch (const std::system_error&) {
            return false;
          }
        },
        std::chrono::milliseconds(2000)));
  }
  CHECK(status_of(http_get(ep, "/healthz")) == 200);  // no health callback: healthy
}

TEST_CASE("metrics: the HTTP listener refuses a bad address and can be stopped") {
  asio::io_context io;
  {
    coftp::metrics_http_server bad(io.get_executor(), "not-an-address", 0, {}, {});
    CHECK_THROWS_AS(bad.start(), std::system_error);
  }
  coftp::metrics_http_server http(io.get_executor(), "localhost", 0, [] { return std::string(); }, {});
  http.start();
  auto ep = http.endpoint();
  CHECK(ep.address() == asio::ip::address_v4::loopback());
  std::thread t([&] { io.run(); });
  CHECK(status_of(http_get(ep, "/metrics")) == 200);
  http.stop();
  auto done = std::async(std::launch::async, [&] { t.join(); });
  CHECK(done.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  if (done.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io.stop();
  done.wait();
  asio::io_context client;
  CHECK_THROWS(blocking_socket(client, ep, std::chrono::milliseconds(1000)));
}
