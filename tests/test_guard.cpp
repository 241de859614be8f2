// tests/test_guard.cpp - login abuse defences and address rules: the CIDR parser and
// matcher and the failed-login table (pure, with explicit times), then the real server
// over loopback: failed-login delay, the per-connection failure limit, per-address
// bans, the login timeout, half lines, allow/deny lists, and idle pre-login floods;
// then the PROXY protocol: its parser (pure) and trusted proxies over loopback.
#include <coftp/access_control.hpp>
#include <coftp/address_guard.hpp>
#include <coftp/coftp.hpp>
#include <coftp/proxy_protocol.hpp>

#include <doctest/doctest.h>

#include "ftp_client.hpp"
#include "server_helpers.hpp"
#include "test_server.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace coftp_test;
using namespace std::chrono_literals;
using std::string;

namespace {

using steady = std::chrono::steady_clock;
using coftp::cidr;
using coftp::cidr_errc;

asio::ip::address ip(const char* text) { return asio::ip::make_address(text); }

cidr block(const char* text) {
  auto [ec, c] = cidr::parse(text);
  REQUIRE_MESSAGE(!ec, text << ": " << ec.message());
  return c;
}

std::error_code parse_error(const char* text) { return cidr::parse(text).first; }

coftp::server_options guard_options(std::size_t ban_after, std::chrono::milliseconds window,
                                    std::chrono::milliseconds ban_time, std::size_t capacity = 10000) {
  coftp::server_options o;
  o.ban_after = ban_after;
  o.ban_window = window;
  o.ban_time = ban_time;
  o.max_tracked_addresses = capacity;
  return o;
}

const asio::ip::address localhost2 = asio::ip::make_address("127.0.0.2");

// Records refusals and bans (the events of this part), thread-safe.
struct refusal_observer : coftp::null_observer {
  struct record {
    std::mutex mutex;
    std::vector<string> events;
  };
  std::shared_ptr<record> rec = std::make_shared<record>();

  void on_refused(const coftp::session_info& s, coftp::refusal why) {
    static constexpr const char* names[] = {"denied", "banned", "too_many_sessions", "out_of_descriptors",
                                            "bad_proxy_header"};
    push("refused " + s.remote_address + " " + names[int(why)] + (s.id == 0 ? " at connect" : " at login"));
  }
  void on_ban(const coftp::session_info& s, std::chrono::milliseconds d) {
    push("ban " + s.remote_address + " " + std::to_string(d.count()) + " ms");
  }
  bool has(const string& e) const {
    std::lock_guard lock(rec->mutex);
    for (const auto& x : rec->events)
      if (x == e) return true;
    return false;
  }
  std::size_t count(const string& e) const {
    std::lock_guard lock(rec->mutex);
    std::size_t n = 0;
    for (const auto& x : rec->events) n += x == e;
    return n;
  }

 private:
  void push(string e) {
    std::lock_guard lock(rec->mutex);
    rec->events.push_back(std::move(e));
  }
};

using guarded_server = test_server<coftp::memory_fs, refusal_observer>;

// Sends commands until the server closes the connection; returns the replies read, at
// most `limit` of them, one command every `every`.
std::vector<string> noop_until_closed(ftp_client& c, int limit, std::chrono::milliseconds every) {
  std::vector<string> replies;
  for (int i = 0; i < limit; ++i) {
    try {
      replies.push_back(c.command("NOOP"));
    } catch (const ftp_closed&) {
      break;
    } catch (const std::system_error&) {  // EPIPE or reset: the server closed first
      break;
    }
    if (replies.back().starts_with("421")) break;
    std::this_thread::sleep_for(every);
  }
  return replies;
}

}  // namespace

TEST_SUITE("guard") {

// ---- CIDR parsing and matching (pure) -----------------------------------------------

TEST_CASE("guard: CIDR blocks parse") {
  SUBCASE("IPv4 with prefix") {
    auto c = block("10.0.0.0/8");
    CHECK(c.network() == ip("10.0.0.0"));
    CHECK(c.prefix() == 8);
    CHECK(c.to_string() == "10.0.0.0/8");
  }
  SUBCASE("bare addresses are /32 and /128") {
    CHECK(block("192.168.1.7").to_string() == "192.168.1.7/32");
    CHECK(block("::1").to_string() == "::1/128");
  }
  SUBCASE("/0, /32, /128") {
    CHECK(block("0.0.0.0/0").to_string() == "0.0.0.0/0");
    CHECK(block("::/0").to_string() == "::/0");
    CHECK(block("1.2.3.4/32").to_string() == "1.2.3.4/32");
    CHECK(block("2001:db8::1/128").to_string() == "2001:db8::1/128");
  }
  SUBCASE("IPv6 prefixes") {
    CHECK(block("2001:db8::/32").to_string() == "2001:db8::/32");
    CHECK(block("fe80::/10").to_string() == "fe80::/10");
  }
  SUBCASE("IPv4-mapped blocks are read as IPv4") {
    CHECK(block("::ffff:10.0.0.0/104").to_string() == "10.0.0.0/8");
    CHECK(block("::ffff:127.0.0.1").to_string() == "127.0.0.1/32");
    CHECK(block("::ffff:0:0/96").to_string() == "0.0.0.0/0");
  }
}

TEST_CASE("guard: CIDR parse errors") {
  CHECK(parse_error("") == cidr_errc::empty);
  CHECK(parse_error("/8") == cidr_errc::empty);
  CHECK(parse_error("10.0.0.0/") == cidr_errc::bad_prefix);
  CHECK(parse_error("10.0.0.0/33") == cidr_errc::bad_prefix);
  CHECK(parse_error("::/129") == cidr_errc::bad_prefix);
  CHECK(parse_error("10.0.0.0/-1") == cidr_errc::bad_prefix);
  CHECK(parse_error("10.0.0.0/+8") == cidr_errc::bad_prefix);
  CHECK(parse_error("10.0.0.0/8/8") == cidr_errc::bad_prefix);
  CHECK(parse_error("10.0.0.0/0008") == cidr_errc::bad_prefix);
  CHECK(parse_error("10.0.0.0/ 8") == cidr_errc::bad_prefix);
  CHECK(parse_error("10.1.2.3/8") == cidr_errc::host_bits_set);
  CHECK(parse_error("::1/64") == cidr_errc::host_bits_set);
  CHECK(parse_error("::ffff:1.2.3.4/96") == cidr_errc::host_bits_set);
  CHECK(parse_error("300.1.1.1") == cidr_errc::bad_address);
  CHECK(parse_error("10.0.0") == cidr_errc::bad_address);
  CHECK(parse_error("010.0.0.1") == cidr_errc::bad_address);
  CHECK(parse_error("fe80::1%eth0") == cidr_errc::bad_address);
  CHECK(parse_error(" 10.0.0.1") == cidr_errc::bad_address);
  CHECK(parse_error("10.0.0.1 ") == cidr_errc::bad_address);
  CHECK(parse_error("example.com") == cidr_errc::bad_address);
  CHECK(parse_error("1::2::3") == cidr_errc::bad_address);
  CHECK(parse_error("10.0.0.0/8").message() == std::error_code{}.message());
  CHECK(make_error_code(cidr_errc::host_bits_set).message() == "address has bits set beyond the prefix length");
}

TEST_CASE("guard: CIDR matching") {
  SUBCASE("/0 is the whole family, and only it") {
    CHECK(block("0.0.0.0/0").contains(ip("1.2.3.4")));
    CHECK(block("0.0.0.0/0").contains(ip("255.255.255.255")));
    CHECK(!block("0.0.0.0/0").contains(ip("::1")));
    CHECK(block("::/0").contains(ip("2001:db8::1")));
    CHECK(!block("::/0").contains(ip("127.0.0.1")));
    CHECK(!block("::/0").contains(ip("::ffff:127.0.0.1")));  // an IPv4 client, mapped
  }
  SUBCASE("/32 and /128 are one address") {
    CHECK(block("127.0.0.1").contains(ip("127.0.0.1")));
    CHECK(!block("127.0.0.1").contains(ip("127.0.0.2")));
    CHECK(block("::1").contains(ip("::1")));
    CHECK(!block("::1").contains(ip("::2")));
    CHECK(!block("::1").contains(ip("127.0.0.1")));
  }
  SUBCASE("prefix boundaries") {
    auto b = block("172.16.0.0/12");
    CHECK(b.contains(ip("172.16.0.0")));
    CHECK(b.contains(ip("172.31.255.255")));
    CHECK(!b.contains(ip("172.32.0.0")));
    CHECK(!b.contains(ip("172.15.255.255")));
    auto odd = block("10.0.0.0/31");
    CHECK(odd.contains(ip("10.0.0.1")));
    CHECK(!odd.contains(ip("10.0.0.2")));
    auto v6 = block("2001:db8::/32");
    CHECK(v6.contains(ip("2001:db8:ffff:ffff::1")));
    CHECK(!v6.contains(ip("2001:db9::")));
    auto v6odd = block("2001:db8:8000::/33");
    CHECK(v6odd.contains(ip("2001:db8:ffff::")));
    CHECK(!v6odd.contains(ip("2001:db8:7fff::")));
  }
  SUBCASE("mapped clients match IPv4 blocks") {
    CHECK(block("10.0.0.0/8").contains(ip("::ffff:10.1.2.3")));
    CHECK(!block("10.0.0.0/8").contains(ip("::ffff:11.1.2.3")));
    CHECK(block("::ffff:10.0.0.0/104").contains(ip("10.200.0.1")));
    CHECK(block("127.0.0.1").contains(ip("::ffff:127.0.0.1")));
  }
  SUBCASE("constructed blocks clear host bits and clamp the prefix") {
    cidr c(ip("10.1.2.3"), 8);
    CHECK(c.to_string() == "10.0.0.0/8");
    cidr d(ip("10.1.2.3"), 99);
    CHECK(d.to_string() == "10.1.2.3/32");
  }
}

TEST_CASE("guard: allow and deny lists") {
  coftp::ip_filter f;
  SUBCASE("empty lists let everyone in") {
    CHECK(f.permits(ip("127.0.0.1")));
    CHECK(f.permits(ip("::1")));
  }
  SUBCASE("an allow list lets only its blocks in") {
    CHECK(!f.allow("10.0.0.0/8"));
    CHECK(!f.allow("::1"));
    CHECK(f.permits(ip("10.9.8.7")));
    CHECK(f.permits(ip("::ffff:10.9.8.7")));
    CHECK(f.permits(ip("::1")));
    CHECK(!f.permits(ip("127.0.0.1")));
    CHECK(!f.permits(ip("::2")));
  }
  SUBCASE("deny wins over allow") {
    CHECK(!f.allow("127.0.0.0/8"));
    CHECK(!f.deny("127.0.0.1"));
    CHECK(!f.permits(ip("127.0.0.1")));
    CHECK(!f.permits(ip("::ffff:127.0.0.1")));
    CHECK(f.permits(ip("127.0.0.2")));
    CHECK(!f.permits(ip("192.0.2.1")));
  }
  SUBCASE("a deny list alone refuses only its blocks") {
    CHECK(!f.deny("192.0.2.0/24"));
    CHECK(!f.permits(ip("192.0.2.200")));
    CHECK(f.permits(ip("192.0.3.1")));
  }
  SUBCASE("a bad rule is refused and changes nothing") {
    CHECK(f.deny("10.0.0.1/8") == cidr_errc::host_bits_set);
    CHECK(f.allow("nonsense") == cidr_errc::bad_address);
    CHECK(f.denied().empty());
    CHECK(f.allowed().empty());
    CHECK(f.permits(ip("10.0.0.1")));
  }
}

// ---- the failure and ban table (pure: times are given) ---------------------------------

TEST_CASE("guard: failures within the window ban an address for the ban time") {
  coftp::address_guard g(guard_options(3, 10s, 60s));
  auto t = steady::now();
  auto a = ip("192.0.2.1");
  CHECK(!g.record_failure(a, t));
  CHECK(!g.record_failure(a, t + 1s));
  CHECK(!g.banned(a, t + 1s));
  CHECK(g.admit(a, t + 1s) == coftp::address_guard::verdict::admitted);
  CHECK(g.record_failure(a, t + 2s));  // the third: banned
  CHECK(g.banned(a, t + 2s));
  CHECK(g.admit(a, t + 30s) == coftp::address_guard::verdict::banned);
  CHECK(!g.record_failure(a, t + 3s));  // already banned: nothing new
  CHECK(g.banned(a, t + 61s));
  CHECK(!g.banned(a, t + 62s));  // served
  CHECK(g.tracked() == 0);
  CHECK(g.admit(a, t + 62s) == coftp::address_guard::verdict::admitted);
  // The count starts again from zero.
  CHECK(!g.record_failure(a, t + 63s));
  CHECK(!g.record_failure(a, t + 64s));
  CHECK(g.record_failure(a, t + 65s));
}

TEST_CASE("guard: the window slides") {
  coftp::address_guard g(guard_options(3, 10s, 60s));
  auto t = steady::now();
  auto a = ip("2001:db8::1");
  CHECK(!g.record_failure(a, t));
  CHECK(!g.record_failure(a, t + 6s));
  CHECK(!g.record_failure(a, t + 11s));  // the first has left the window: two within it
  CHECK(!g.banned(a, t + 11s));
  CHECK(g.record_failure(a, t + 12s));  // 6, 11, 12
  CHECK(g.banned(a, t + 12s));
}

TEST_CASE("guard: bans are per address, IPv4-mapped counting as IPv4") {
  coftp::address_guard g(guard_options(2, 10s, 60s));
  auto t = steady::now();
  CHECK(!g.record_failure(ip("10.0.0.1"), t));
  CHECK(g.record_failure(ip("::ffff:10.0.0.1"), t));
  CHECK(g.banned(ip("10.0.0.1"), t));
  CHECK(g.banned(ip("::ffff:10.0.0.1"), t));
  CHECK(!g.banned(ip("10.0.0.2"), t));
  CHECK(!g.banned(ip("::1"), t));
  CHECK(!g.record_failure(ip("::1"), t));
  CHECK(!g.banned(ip("::1"), t));
  g.forgive(ip("10.0.0.1"));
  CHECK(!g.banned(ip("10.0.0.1"), t));
}

TEST_CASE("guard: ban_after 0 never bans") {
  coftp::address_guard g(guard_options(0, 10s, 60s));
  auto t = steady::now();
  for (int i = 0; i < 100; ++i) CHECK(!g.record_failure(ip("10.0.0.1"), t));
  CHECK(!g.banned(ip("10.0.0.1"), t));
  CHECK(g.tracked() == 0);
}

TEST_CASE("guard: the table is bounded and spraying addresses does not flush bans") {
  SUBCASE("unbanned entries go first") {
    coftp::address_guard g(guard_options(2, 60s, 600s, 4));
    auto t = steady::now();
    auto victim = ip("10.0.0.1");
    CHECK(!g.record_failure(victim, t));
    CHECK(g.record_failure(victim, t));
    for (unsigned i = 0; i < 1000; ++i) {
      auto b = asio::ip::address_v4(0xc0000000u + i);  // 192.0.0.0 + i
      g.record_failure(asio::ip::address(b), t + 1s);
      CHECK(g.tracked() <= 4);
    }
    CHECK(g.banned(victim, t + 2s));
  }
  SUBCASE("when only bans are left, the oldest ban goes") {
    coftp::address_guard g(guard_options(1, 60s, 600s, 2));
    auto t = steady::now();
    CHECK(g.record_failure(ip("10.0.0.1"), t));
    CHECK(g.record_failure(ip("10.0.0.2"), t + 1s));
    CHECK(g.record_failure(ip("10.0.0.3"), t + 2s));
    CHECK(g.tracked() == 2);
    CHECK(!g.banned(ip("10.0.0.1"), t + 3s));
    CHECK(g.banned(ip("10.0.0.2"), t + 3s));
    CHECK(g.banned(ip("10.0.0.3"), t + 3s));
  }
  SUBCASE("expired bans make room first") {
    coftp::address_guard g(guard_options(1, 60s, 10s, 2));
    auto t = steady::now();
    CHECK(g.record_failure(ip("10.0.0.1"), t));
    CHECK(g.record_failure(ip("10.0.0.2"), t + 5s));
    CHECK(g.record_failure(ip("10.0.0.3"), t + 11s));  // 10.0.0.1's ban is over
    CHECK(g.banned(ip("10.0.0.2"), t + 11s));
    CHECK(g.banned(ip("10.0.0.3"), t + 11s));
  }
}

TEST_CASE("guard: concurrent failures from several threads") {
  coftp::address_guard g(guard_options(5, 60s, 600s, 256));
  std::vector<std::thread> threads;
  std::atomic<int> bans{0};
  for (unsigned k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (unsigned i = 0; i < 2000; ++i) {
        auto a = asio::ip::address(asio::ip::address_v4(0x0a000000u + (i % 64) + k * 16));  // 112 addresses
        if (g.record_failure(a)) ++bans;
        (void)g.banned(a);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(g.tracked() <= 256);
  CHECK(bans.load() > 0);
}

TEST_CASE("guard: a bad rule in the options is refused at construction") {
  coftp::server_options o;
  o.deny = {"10.0.0.1/8"};
  CHECK_THROWS_WITH_AS(coftp::address_guard{o}, "coftp: bad deny rule '10.0.0.1/8': address has bits set beyond the prefix length",
                       std::invalid_argument);
  o.deny.clear();
  o.allow = {"::1", "bogus"};
  CHECK_THROWS_AS(coftp::address_guard{o}, std::invalid_argument);
  o.allow = {"::1", "127.0.0.0/8"};
  coftp::address_guard g{o};
  CHECK(g.admit(ip("127.0.0.5")) == coftp::address_guard::verdict::admitted);
  CHECK(g.admit(ip("10.0.0.1")) == coftp::address_guard::verdict::denied);
}

// ---- the real server over loopback ---------------------------------------------------

TEST_CASE("guard: a failed login costs at least the configured delay") {
  auto o = test_options();
  o.login_failure_delay = 300ms;
  guarded_server srv{coftp::memory_fs{}, o};
  ftp_client c{srv.endpoint()};
  CHECK(c.command("USER test") == "331 Username OK, need password");
  auto t0 = steady::now();
  CHECK(c.command("PASS wrong") == "530 Login incorrect");
  auto waited = steady::now() - t0;
  CHECK(waited >= 300ms);
  CHECK(waited < 3s);
  // A correct login is not delayed.
  CHECK(c.command("USER test") == "331 Username OK, need password");
  t0 = steady::now();
  CHECK(c.command("PASS secret") == "230 Login successful");
  CHECK(steady::now() - t0 < 250ms);
}

TEST_CASE("guard: the default failed-login delay is at least 1 s") {
  auto o = test_options();
  o.login_failure_delay = coftp::server_options{}.login_failure_delay;
  CHECK(o.login_failure_delay >= 1s);
  guarded_server srv{coftp::memory_fs{}, o};
  ftp_client c{srv.endpoint()};
  CHECK(c.command("USER test") == "331 Username OK, need password");
  auto t0 = steady::now();
  CHECK(c.command("PASS wrong") == "530 Login incorrect");
  CHECK(steady::now() - t0 >= 1s);
}

TEST_CASE("guard: the connection is closed after 3 failed logins, with no 421") {
  guarded_server srv{coftp::memory_fs{}, test_options()};
  CHECK(coftp::server_options{}.max_login_failures == 3);
  ftp_client c{srv.endpoint()};
  CHECK(c.login("test", "wrong1") == "530 Login incorrect");
  CHECK(c.login("nobody", "wrong2") == "530 Login incorrect");
  CHECK(c.command("NOOP") == "200 OK");  // still open after two
  CHECK(c.login("test", "wrong3") == "530 Login incorrect");
  CHECK(c.wait_closed());  // closed, nothing after the 530
  // Another connection may try again (the address is not banned after 3).
  ftp_client d{srv.endpoint()};
  CHECK(d.login("test", "secret") == "230 Login successful");
}

TEST_CASE("guard: two failures, then a good login, keep the session") {
  guarded_server srv{coftp::memory_fs{}, test_options()};
  ftp_client c{srv.endpoint()};
  CHECK(c.login("test", "wrong") == "530 Login incorrect");
  CHECK(c.login("test", "wrong") == "530 Login incorrect");
  CHECK(c.login("test", "secret") == "230 Login successful");
  CHECK(c.command("PWD") == "257 \"/\" is the current directory");
}

TEST_CASE("guard: 10 failures from an address ban it for the ban time; other addresses still log in") {
  auto o = test_options();
  o.ban_after = 10;
  o.ban_window = 2s;
  o.ban_time = 1s;
  o.login_failure_delay = 10ms;
  guarded_server srv{coftp::memory_fs{}, o};
  srv.put("/a.txt", "hello");

  // Opened before the ban: stopped at its next login attempt.
  ftp_client early{srv.endpoint()};
  CHECK(early.greeting() == "220 coftp test server ready");

  int failures = 0;
  for (int conn = 0; conn < 4 && failures < 10; ++conn) {
    ftp_client c{srv.endpoint()};
    REQUIRE(c.greeting() == "220 coftp test server ready");
    for (int i = 0; i < 3 && failures < 10; ++i, ++failures) CHECK(c.login("test", "guess") == "530 Login incorrect");
  }
  REQUIRE(failures == 10);
  auto banned_at = steady::now();
  CHECK(srv.observer().has("ban 127.0.0.1 1000 ms"));

  ftp_client refused{srv.endpoint()};
  CHECK(refused.greeting() == "421 Too many failed logins, try again later");
  CHECK(refused.wait_closed());
  CHECK(srv.observer().has("refused 127.0.0.1 banned at connect"));

  CHECK(early.command("USER test") == "421 Too many failed logins, try again later");
  CHECK(early.wait_closed());
  CHECK(srv.observer().has("refused 127.0.0.1 banned at login"));

  ftp_client other{srv.endpoint(), {.local_address = localhost2}};
  CHECK(other.greeting() == "220 coftp test server ready");
  CHECK(other.login("test", "secret") == "230 Login successful");
  // Active mode: the client's data socket is then on 127.0.0.2 too.
  CHECK(other.retr("a.txt", passive_mode::port) == "hello");

  // The ban expires: poll with new connections (bounded) until one is greeted.
  string greeting;
  for (int i = 0; i < 60; ++i) {
    ftp_client c{srv.endpoint()};
    greeting = c.greeting();
    if (greeting.starts_with("220")) {
      CHECK(c.login("test", "secret") == "230 Login successful");
      break;
    }
    CHECK(greeting == "421 Too many failed logins, try again later");
    std::this_thread::sleep_for(50ms);
  }
  CHECK(greeting == "220 coftp test server ready");
  CHECK(steady::now() - banned_at >= 900ms);
}

TEST_CASE("guard: the login timeout closes a client that never logs in, even one sending NOOPs") {
  auto o = test_options();
  o.login_timeout = 300ms;
  o.idle_timeout = 30s;
  guarded_server srv{coftp::memory_fs{}, o};
  ftp_client talker{srv.endpoint()};
  ftp_client user{srv.endpoint()};
  login(user);
  auto t0 = steady::now();
  auto replies = noop_until_closed(talker, 100, 30ms);
  auto waited = steady::now() - t0;
  REQUIRE(!replies.empty());
  CHECK(replies.back() == "421 Login timeout: closing control connection");
  CHECK(replies.size() >= 3);  // NOOPs were answered until then
  CHECK(waited >= 250ms);
  CHECK(waited < 3s);
  // The logged-in session is not bound by the login timeout.
  CHECK(user.command("NOOP") == "200 OK");
}

TEST_CASE("guard: REIN starts a new login phase with its own timeout") {
  auto o = test_options();
  o.login_timeout = 400ms;
  guarded_server srv{coftp::memory_fs{}, o};
  ftp_client c{srv.endpoint()};
  login(c);
  std::this_thread::sleep_for(500ms);  // past the first login timeout: logged in, fine
  CHECK(c.command("NOOP") == "200 OK");
  CHECK(c.command("REIN") == "220 Service ready for new user");
  CHECK(c.command("NOOP") == "200 OK");  // a fresh 400 ms
  auto t0 = steady::now();
  CHECK(c.read_reply() == "421 Login timeout: closing control connection");
  CHECK(steady::now() - t0 >= 300ms);
  CHECK(c.wait_closed());
}

TEST_CASE("guard: half a line and silence times out") {
  SUBCASE("before login: the login timeout") {
    auto o = test_options();
    o.login_timeout = 300ms;
    guarded_server srv{coftp::memory_fs{}, o};
    ftp_client c{srv.endpoint()};
    auto t0 = steady::now();
    c.send_raw("USER te");
    CHECK(c.read_reply() == "421 Login timeout: closing control connection");
    auto waited = steady::now() - t0;
    CHECK(waited >= 250ms);
    CHECK(waited < 3s);
    CHECK(c.wait_closed());
  }
  SUBCASE("trickled bytes do not extend the login timeout") {
    auto o = test_options();
    o.login_timeout = 500ms;
    guarded_server srv{coftp::memory_fs{}, o};
    ftp_client c{srv.endpoint()};
    auto t0 = steady::now();
    // One byte every 100 ms, never a line end, until shortly before the deadline. A
    // deadline re-armed per byte received would strike 500 ms after the last one.
    for (int i = 0; i < 5 && steady::now() - t0 < 400ms; ++i) {
      c.send_raw("N");
      std::this_thread::sleep_for(100ms);
    }
    CHECK(c.read_reply() == "421 Login timeout: closing control connection");
    CHECK(steady::now() - t0 < 900ms);
  }
  SUBCASE("after login: the idle timeout") {
    auto o = test_options();
    o.idle_timeout = 400ms;
    guarded_server srv{coftp::memory_fs{}, o};
    ftp_client c{srv.endpoint()};
    login(c);
    auto t0 = steady::now();
    c.send_raw("NOO");
    CHECK(c.read_reply() == "421 Timeout: closing control connection");
    auto waited = steady::now() - t0;
    CHECK(waited >= 350ms);
    CHECK(waited < 3s);
    CHECK(c.wait_closed());
  }
}

TEST_CASE("guard: a deny list refuses 127.0.0.1 at connect and lets 127.0.0.2 in") {
  auto o = test_options();
  o.deny = {"127.0.0.1/32"};
  guarded_server srv{coftp::memory_fs{}, o};
  ftp_client denied{srv.endpoint()};
  CHECK(denied.greeting() == "421 Service not available");
  CHECK(denied.wait_closed());
  CHECK(srv.observer().has("refused 127.0.0.1 denied at connect"));
  ftp_client other{srv.endpoint(), {.local_address = localhost2}};
  CHECK(other.greeting() == "220 coftp test server ready");
  CHECK(other.login("test", "secret") == "230 Login successful");
  CHECK(srv.server().session_count() == 1);
}

TEST_CASE("guard: an allow list lets only its blocks in; deny wins") {
  SUBCASE("allow 127.0.0.2") {
    auto o = test_options();
    o.allow = {"127.0.0.2", "::1"};
    guarded_server srv{coftp::memory_fs{}, o};
    ftp_client refused{srv.endpoint()};
    CHECK(refused.greeting() == "421 Service not available");
    CHECK(refused.wait_closed());
    ftp_client allowed{srv.endpoint(), {.local_address = localhost2}};
    CHECK(allowed.greeting() == "220 coftp test server ready");
    CHECK(allowed.login("test", "secret") == "230 Login successful");
  }
  SUBCASE("allow 127.0.0.0/8, deny 127.0.0.2") {
    auto o = test_options();
    o.allow = {"127.0.0.0/8"};
    o.deny = {"127.0.0.2"};
    guarded_server srv{coftp::memory_fs{}, o};
    ftp_client allowed{srv.endpoint()};
    CHECK(allowed.greeting() == "220 coftp test server ready");
    ftp_client refused{srv.endpoint(), {.local_address = localhost2}};
    CHECK(refused.greeting() == "421 Service not available");
  }
}

TEST_CASE("guard: a bad allow or deny rule makes the server constructor throw") {
  auto o = test_options();
  o.allow = {"127.0.0.1/33"};
  asio::io_context io;
  coftp::user_table users;
  CHECK_THROWS_AS(coftp::basic_server<test_policies<coftp::memory_fs>>(io, o, coftp::memory_fs{}, users),
                  std::invalid_argument);
}

TEST_CASE("guard: a dual-stack listener matches IPv4-mapped clients against IPv4 rules") {
  auto o = test_options();
  o.host = "::ffff:127.0.0.1";  // an IPv6 socket: IPv4 clients arrive as ::ffff:127.0.0.x
  o.deny = {"127.0.0.1"};
  std::unique_ptr<guarded_server> srv;
  try {
    srv = std::make_unique<guarded_server>(coftp::memory_fs{}, o);
  } catch (const std::system_error& e) {
    MESSAGE("no IPv4-mapped listener here (" << e.what() << "): skipped");
    return;
  }
  auto ep = asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), srv->endpoint().port());
  ftp_client denied{ep};
  CHECK(denied.greeting() == "421 Service not available");
  CHECK(srv->observer().has("refused ::ffff:127.0.0.1 denied at connect"));
  ftp_client other{ep, {.local_address = localhost2}};
  CHECK(other.greeting() == "220 coftp test server ready");
  CHECK(other.login("test", "secret") == "230 Login successful");
}

TEST_CASE("guard: 150 idle pre-login connections from one address do not keep another address out") {
  auto o = test_options();
  o.max_sessions_per_address = coftp::server_options{}.max_sessions_per_address;  // 50
  o.max_sessions = coftp::server_options{}.max_sessions;                          // 1000
  REQUIRE(o.max_sessions_per_address == 50);
  guarded_server srv{coftp::memory_fs{}, o};
  std::vector<std::unique_ptr<ftp_client>> idle;
  int greeted = 0, refused = 0;
  for (int i = 0; i < 150; ++i) {
    idle.push_back(std::make_unique<ftp_client>(srv.endpoint()));
    const auto& g = idle.back()->greeting();
    if (g == "220 coftp test server ready") ++greeted;
    else if (g == "421 Too many connections, try again later") ++refused;
  }
  CHECK(greeted == 50);
  CHECK(refused == 100);
  CHECK(srv.observer().count("refused 127.0.0.1 too_many_sessions at connect") == 100);
  CHECK(srv.server().session_count() == 50);

  ftp_client other{srv.endpoint(), {.local_address = localhost2}};
  CHECK(other.greeting() == "220 coftp test server ready");
  CHECK(other.login("test", "secret") == "230 Login successful");
  CHECK(other.command("TYPE I") == "200 Type set to I");
  auto data = random_bytes(100000, 7);
  // Active mode: the client's data socket is then on 127.0.0.2 too.
  CHECK(other.stor("up.bin", data, passive_mode::port).starts_with("226 Transfer complete"));
  CHECK(other.retr("up.bin", passive_mode::eprt) == data);
  CHECK(other.last_reply() == "226 Transfer complete");
  // The idle ones are still there, still not logged in.
  CHECK(idle.front()->command("PWD") == "530 Not logged in");
}

// ---- PROXY protocol: the parser (pure) ------------------------------------------------

namespace {

using coftp::parse_proxy_header;
using coftp::proxy_parse_status;

coftp::proxy_header relayed(const char* src, std::uint16_t sport, const char* dst, std::uint16_t dport) {
  coftp::proxy_header h;
  h.relayed = true;
  h.source = ip(src);
  h.source_port = sport;
  h.destination = ip(dst);
  h.destination_port = dport;
  return h;
}

// A v2 TLV: type, 16-bit length, value.
string tlv(unsigned char type, const string& value) {
  string out(1, char(type));
  out += char(value.size() >> 8);
  out += char(value.size() & 0xff);
  return out + value;
}

// Every strict prefix of a valid header is incomplete; the whole is complete with its
// length, whatever follows it.
void check_prefixes(const string& header) {
  for (std::size_t n = 0; n < header.size(); ++n) {
    auto r = parse_proxy_header(header.substr(0, n));
    CHECK_MESSAGE(r.status == proxy_parse_status::incomplete, "prefix of " << n << " bytes");
  }
  auto r = parse_proxy_header(header + "USER x\r\n");
  CHECK(r.status == proxy_parse_status::complete);
  CHECK(r.length == header.size());
}

}  // namespace

TEST_CASE("proxy: v1 headers parse (TCP4, TCP6, UNKNOWN)") {
  SUBCASE("TCP4") {
    string h = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
    auto r = parse_proxy_header(h + "GET /");
    REQUIRE(r.status == proxy_parse_status::complete);
    CHECK(r.length == h.size());
    CHECK(r.header.version == 1);
    CHECK(r.header.relayed);
    CHECK(r.header.source == ip("192.168.0.1"));
    CHECK(r.header.source_port == 56324);
    CHECK(r.header.destination == ip("192.168.0.11"));
    CHECK(r.header.destination_port == 443);
    check_prefixes(h);
  }
  SUBCASE("TCP6") {
    string h = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    auto r = parse_proxy_header(h);
    REQUIRE(r.status == proxy_parse_status::complete);
    CHECK(r.header.source == ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
    CHECK(r.header.source_port == 65535);
    check_prefixes(h);
    auto s = parse_proxy_header("PROXY TCP6 2001:db8::7 ::1 40000 21\r\n");
    REQUIRE(s.status == proxy_parse_status::complete);
    CHECK(s.header.source == ip("2001:db8::7"));
  }
  SUBCASE("UNKNOWN, with or without addresses; the longest line is 107 bytes") {
    string longest = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    CHECK(longest.size() == coftp::proxy_v1_max_length);
    for (string h : {string("PROXY UNKNOWN\r\n"), string("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"), longest}) {
      auto r = parse_proxy_header(h);
      REQUIRE(r.status == proxy_parse_status::complete);
      CHECK(r.length == h.size());
      CHECK_FALSE(r.header.relayed);
      check_prefixes(h);
    }
  }
  SUBCASE("malformed lines are invalid") {
    for (string h : {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",           // LF without CR
                     "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",          // a field missing
                     "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",      // one too many
                     "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",       // two spaces
                     "PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",    // port out of range
                     "PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n",
                     "PROXY TCP4 ::1 ::1 1 2\r\n",                // family mismatch
                     "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
                     "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",       // scope id
                     "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
                     "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
                     "PROXY\r\n", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "USER anonymous\r\n",
                     "PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n"}) {
      CHECK_MESSAGE(parse_proxy_header(h).status == proxy_parse_status::invalid, h);
    }
    // 107 bytes without a line end: no header can be longer.
    CHECK(parse_proxy_header("PROXY UNKNOWN " + string(93, 'x')).status == proxy_parse_status::invalid);
    CHECK(parse_proxy_header("PROXY UNKNOWN " + string(92, 'x')).status == proxy_parse_status::incomplete);
  }
}

TEST_CASE("proxy: v2 headers parse (PROXY over IPv4 and IPv6, LOCAL, TLVs skipped)") {
  SUBCASE("PROXY TCP over IPv4") {
    auto h = coftp::format_proxy_v2(relayed("10.1.2.3", 40000, "10.0.0.1", 21));
    CHECK(h.size() == 28);
    auto r = parse_proxy_header(h + "\x16\x03\x01");
    REQUIRE(r.status == proxy_parse_status::complete);
    CHECK(r.length == 28);
    CHECK(r.header.version == 2);
    CHECK(r.header.relayed);
    CHECK(r.header.source == ip("10.1.2.3"));
    CHECK(r.header.source_port == 40000);
    CHECK(r.header.destination == ip("10.0.0.1"));
    CHECK(r.header.destination_port == 21);
    check_prefixes(h);
  }
  SUBCASE("PROXY TCP over IPv6 with TLVs") {
    auto tlvs = tlv(0x01, "ftp") + tlv(0x04, string(5, '\0')) + tlv(0x05, string(128, 'u'));
    auto h = coftp::format_proxy_v2(relayed("2001:db8::7", 50000, "2001:db8::1", 2121), tlvs);
    CHECK(h.size() == 16 + 36 + tlvs.size());
    auto r = parse_proxy_header(h);
    REQUIRE(r.status == proxy_parse_status::complete);
    CHECK(r.length == h.size());
    CHECK(r.header.source == ip("2001:db8::7"));
    CHECK(r.header.source_port == 50000);
    check_prefixes(h);
  }
  SUBCASE("LOCAL, with an address block that is ignored") {
    auto h = coftp::format_proxy_v2({});
    CHECK(h.size() == 16);
    auto r = parse_proxy_header(h);
    REQUIRE(r.status == proxy_parse_status::complete);
    CHECK_FALSE(r.header.relayed);
    auto with_block = coftp::format_proxy_v2(relayed("10.1.2.3", 1, "10.0.0.1", 2));
    with_block[12] = '\x20';
    auto l = parse_proxy_header(with_block);
    REQUIRE(l.status == proxy_parse_status::complete);
    CHECK(l.length == with_block.size());
    CHECK_FALSE(l.header.relayed);
  }
  SUBCASE("UNSPEC, UDP and UNIX name nobody; the address is kept") {
    auto h = coftp::format_proxy_v2(relayed("10.1.2.3", 1, "10.0.0.1", 2));
    h[13] = '\x12';  // UDP over IPv4
    auto r = parse_proxy_header(h);
    REQUIRE(r.status == proxy_parse_status::complete);
    CHECK_FALSE(r.header.relayed);
    h[13] = '\x00';
    CHECK(parse_proxy_header(h).status == proxy_parse_status::complete);
  }
  SUBCASE("bad versions, commands, families, short blocks and over-long headers are invalid") {
    auto good = coftp::format_proxy_v2(relayed("10.1.2.3", 1, "10.0.0.1", 2));
    auto with = [&](std::size_t i, char c) {
      auto h = good;
      h[i] = c;
      return parse_proxy_header(h).status;
    };
    CHECK(with(12, '\x11') == proxy_parse_status::invalid);  // version 1 in a v2 block
    CHECK(with(12, '\x22') == proxy_parse_status::invalid);  // command 2
    CHECK(with(13, '\x41') == proxy_parse_status::invalid);  // family 4
    CHECK(with(13, '\x13') == proxy_parse_status::invalid);  // protocol 3
    CHECK(with(13, '\x21') == proxy_parse_status::invalid);  // IPv6 in 12 bytes
    CHECK(with(15, '\x0b') == proxy_parse_status::invalid);  // 11 bytes for IPv4
    CHECK(with(4, '\x01') == proxy_parse_status::invalid);   // signature
    auto big = good;
    std::size_t len = coftp::proxy_v2_max_length - 16 + 1;
    big[14] = char(len >> 8);
    big[15] = char(len & 0xff);
    CHECK(parse_proxy_header(big).status == proxy_parse_status::invalid);
    big += string(len - 12, '\0');
    CHECK(parse_proxy_header(big).status == proxy_parse_status::invalid);
  }
}

// ---- PROXY protocol: trusted proxies over loopback ------------------------------------

namespace {

struct proxy_observer : recording_observer {
  refusal_observer refusals;
  void on_refused(const coftp::session_info& s, coftp::refusal why) { refusals.on_refused(s, why); }
  void on_ban(const coftp::session_info& s, std::chrono::milliseconds d) { refusals.on_ban(s, d); }
};
using proxied_server = test_server<coftp::memory_fs, proxy_observer>;

// Trusts 127.0.0.1 only: 127.0.0.2 plays a direct client.
coftp::server_options proxy_options() {
  auto o = test_options();
  o.proxy_protocol_from = {"127.0.0.1/32"};
  o.proxy_protocol_timeout = 500ms;
  return o;
}

// A control connection from 127.0.0.1 (the trusted proxy) that sends `header` first.
std::unique_ptr<ftp_client> via_proxy(proxied_server& srv, const string& header) {
  client_options o;
  o.read_greeting = false;
  auto c = std::make_unique<ftp_client>(srv.endpoint(), o);
  c->send_raw(header);
  return c;
}

string v1(const char* src) {
  auto a = ip(src);
  return coftp::format_proxy_v1(relayed(src, 40000, a.is_v4() ? "127.0.0.1" : "::1", 21));
}
string v2(const char* src, const string& tlvs = {}) {
  auto a = ip(src);
  return coftp::format_proxy_v2(relayed(src, 40000, a.is_v4() ? "127.0.0.1" : "::1", 21), tlvs);
}

}  // namespace

TEST_CASE("proxy: a trusted peer's v1 and v2 headers name the session's client") {
  proxied_server srv{coftp::memory_fs{}, proxy_options()};
  struct named {
    string header, address;
  };
  std::vector<named> cases = {
      {v1("10.1.2.3"), "10.1.2.3"},
      {v1("2001:db8::7"), "2001:db8::7"},
      {"PROXY UNKNOWN\r\n", "127.0.0.1"},
      {v2("10.1.2.4"), "10.1.2.4"},
      {v2("2001:db8::8", tlv(0x01, "ftp") + tlv(0x05, string(64, 'i'))), "2001:db8::8"},
      {coftp::format_proxy_v2({}), "127.0.0.1"},  // LOCAL: a health check
  };
  for (const auto& k : cases) {
    CAPTURE(k.address);
    auto c = via_proxy(srv, k.header);
    CHECK(c->read_reply() == "220 coftp test server ready");
    CHECK(c->login("test", "secret") == "230 Login successful");
    CHECK(c->command("QUIT") == "221 Goodbye");
    CHECK(wait_until([&] { return srv.observer().has("connect " + k.address); }));
  }
}

TEST_CASE("proxy: a header cut in several TCP segments is put together") {
  proxied_server srv{coftp::memory_fs{}, proxy_options()};
  for (const auto& h : {v1("10.1.2.3"), v2("10.1.2.5", tlv(0x04, string(20, '\0')))}) {
    client_options o;
    o.read_greeting = false;
    ftp_client c{srv.endpoint(), o};
    c.control().set_no_delay();
    for (std::size_t at = 0; at < h.size(); at += 7) {
      c.send_raw(h.substr(at, 7));
      std::this_thread::sleep_for(20ms);
    }
    c.send_raw("NOOP\r\n");  // right behind the header: not taken as part of it
    CHECK(c.read_reply() == "220 coftp test server ready");
    CHECK(c.read_reply() == "200 OK");
  }
  CHECK(srv.observer().has("connect 10.1.2.3"));
  CHECK(srv.observer().has("connect 10.1.2.5"));
}

TEST_CASE("proxy: an untrusted peer is a direct client: a header is an unknown command") {
  proxied_server srv{coftp::memory_fs{}, proxy_options()};
  ftp_client c{srv.endpoint(), {.local_address = localhost2}};
  CHECK(c.greeting() == "220 coftp test server ready");
  CHECK(c.command("PROXY TCP4 10.1.2.3 127.0.0.1 40000 21") == "500 Unknown command");
  CHECK(c.login("test", "secret") == "230 Login successful");
  CHECK(srv.observer().has("connect 127.0.0.2"));
}

TEST_CASE("proxy: a trusted peer sending garbage, an over-long line or nothing is closed without a reply") {
  proxied_server srv{coftp::memory_fs{}, proxy_options()};
  for (string bad : {string("USER anonymous\r\n"), "PROXY UNKNOWN " + string(200, 'x') + "\r\n",
                     string("PROXY TCP4 10.1.2.3 127.0.0.1 40000\r\n"), string()}) {
    CAPTURE(bad);
    auto start = steady::now();
    auto c = via_proxy(srv, bad);
    CHECK(c->wait_closed());  // EOF or reset, and never a reply line
    CHECK(steady::now() - start < 5s);
  }
  CHECK(wait_until([&] { return srv.observer().refusals.count("refused 127.0.0.1 bad_proxy_header at connect") == 4; }));
  CHECK_FALSE(srv.observer().has("connect 127.0.0.1"));
  CHECK(srv.server().session_count() == 0);
}

TEST_CASE("proxy: bans and per-address limits count the header's address, not the proxy's") {
  auto o = proxy_options();
  o.ban_after = 2;
  o.login_failure_delay = 10ms;
  o.max_sessions_per_address = 2;
  proxied_server srv{coftp::memory_fs{}, o};

  for (int i = 0; i < 2; ++i) {
    auto c = via_proxy(srv, v1("10.1.2.3"));
    REQUIRE(c->read_reply() == "220 coftp test server ready");
    CHECK(c->login("test", "guess") == "530 Login incorrect");
  }
  CHECK(wait_until([&] { return srv.observer().refusals.has("ban 10.1.2.3 900000 ms"); }));
  auto banned = via_proxy(srv, v2("10.1.2.3"));
  CHECK(banned->read_reply() == "421 Too many failed logins, try again later");
  CHECK(srv.observer().refusals.has("refused 10.1.2.3 banned at connect"));
  // The proxy itself, and the other clients behind it, are not banned.
  auto local = via_proxy(srv, "PROXY UNKNOWN\r\n");
  CHECK(local->read_reply() == "220 coftp test server ready");
  CHECK(local->login("test", "secret") == "230 Login successful");
  auto other = via_proxy(srv, v1("10.1.2.4"));
  CHECK(other->read_reply() == "220 coftp test server ready");
  CHECK(other->login("test", "secret") == "230 Login successful");

  // Per address: two sessions of 10.1.2.4 at most, while 127.0.0.1 already has one more.
  auto second = via_proxy(srv, v2("10.1.2.4"));
  CHECK(second->read_reply() == "220 coftp test server ready");
  auto third = via_proxy(srv, v1("10.1.2.4"));
  CHECK(third->read_reply() == "421 Too many connections, try again later");
  CHECK(srv.observer().refusals.has("refused 10.1.2.4 too_many_sessions at connect"));
  auto fifth = via_proxy(srv, v1("10.1.2.5"));
  CHECK(fifth->read_reply() == "220 coftp test server ready");
}

TEST_CASE("proxy: the data-connection peer check and PORT use the header's address") {
  auto o = proxy_options();
  o.data_timeout = 1s;
  proxied_server srv{coftp::memory_fs{}, o};
  srv.put("/a.txt", "hello");
  auto c = via_proxy(srv, v1("10.1.2.3"));
  REQUIRE(c->read_reply() == "220 coftp test server ready");
  REQUIRE(c->login("test", "secret") == "230 Login successful");

  // PORT/EPRT: only to the client's own address, which is not 127.0.0.1 here.
  CHECK(c->command("PORT 127,0,0,1,200,10") == "500 Illegal address: data connections go to the client's own address only");

  asio::io_context io;
  auto passive = [&] {
    auto ep = ftp_client::parse_227(c->command("PASV"));
    REQUIRE(ep);
    return *ep;
  };
  SUBCASE("from the proxy's address without a header: refused") {
    auto ep = passive();
    blocking_socket data(io, ep, 5s);
    auto start = steady::now();
    CHECK(c->command("RETR a.txt") == "425 Cannot open data connection");
    CHECK(steady::now() - start < 4s);
  }
  SUBCASE("from the proxy with a header naming someone else, then naming the client") {
    auto ep = passive();
    blocking_socket stranger(io, ep, 5s);
    stranger.write_all(v2("10.9.9.9"));
    blocking_socket data(io, ep, 5s);
    data.write_all(v2("10.1.2.3", tlv(0x01, "ftp-data")));
    CHECK(c->command("RETR a.txt").starts_with("150 "));
    CHECK(data.read_all(1 << 20) == "hello");
    CHECK(c->read_reply() == "226 Transfer complete");
    char byte;
    CHECK(stranger.read_some(&byte, 1) == 0);  // closed, never served
  }
  SUBCASE("a direct client's data connection from its own address is checked as before") {
    ftp_client direct{srv.endpoint(), {.local_address = localhost2}};
    REQUIRE(direct.login("test", "secret") == "230 Login successful");
    // Active mode: the client's data socket is on 127.0.0.2 too (a passive data
    // connection from 127.0.0.1 would come from the trusted proxy's address).
    CHECK(direct.retr("a.txt", passive_mode::port) == "hello");
    CHECK(direct.retr("a.txt", passive_mode::eprt) == "hello");
    CHECK(direct.command("PORT 127,0,0,1,200,10") == "500 Illegal address: data connections go to the client's own address only");
  }
}

TEST_CASE("proxy: a bad trusted-network entry makes the server constructor throw") {
  asio::io_context io;
  auto o = proxy_options();
  o.proxy_protocol_from = {"127.0.0.1/33"};
  coftp::user_table users;
  CHECK_THROWS_AS(coftp::basic_server<test_policies<coftp::memory_fs>>(io, o, coftp::memory_fs{}, users),
                  std::invalid_argument);
  o.proxy_protocol_from = {"haproxy.local"};
  CHECK_THROWS_WITH_AS(coftp::basic_server<test_policies<coftp::memory_fs>>(io, o, coftp::memory_fs{}, users),
                       "coftp: bad proxy_protocol_from entry 'haproxy.local': not an IPv4 or IPv6 address",
                       std::invalid_argument);
}

}  // TEST_SUITE("guard")
