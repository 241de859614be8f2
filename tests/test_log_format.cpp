// tests/test_log_format.cpp - the session log's formats (coftp/session_log.hpp): the JSON
// string escape checked against nlohmann/json, the fields of every JSON event, hostile
// client text (quotes, backslashes, control characters, line breaks, invalid UTF-8, long
// arguments, a password) that must stay inside its string, and the failed-login lines
// that tests/check_fail2ban.sh reads, through the observer and through a real server.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <coftp/detail/json.hpp>
#include <coftp/log_file.hpp>
#include <coftp/observer.hpp>
#include <coftp/session_log.hpp>
#include <coftp/storage/memory_fs.hpp>

#include "ftp_client.hpp"
#include "server_helpers.hpp"
#include "temp_dir.hpp"
#include "test_server.hpp"

#include <chrono>
#include <cstddef>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

using namespace std::string_literals;
using json = nlohmann::json;

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> lines_in(const std::filesystem::path& p) {
  std::vector<std::string> out;
  std::istringstream in(slurp(p));
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string escaped(std::string_view s) {
  std::string out;
  coftp::detail::append_json_string(out, s);
  return out;
}

// What any log line must be: printable ASCII or well-formed UTF-8 above U+009F, no line
// break of any kind, no control character.
void check_printable(std::string_view line) {
  CAPTURE(line);
  for (std::size_t i = 0; i < line.size(); ++i) {
    auto c = static_cast<unsigned char>(line[i]);
    CHECK_MESSAGE((c >= 0x20 && c != 0x7f), "control byte " << int(c) << " at " << i);
  }
  CHECK(line.find("\xc2\x85") == std::string_view::npos);      // NEL
  CHECK(line.find("\xe2\x80\xa8") == std::string_view::npos);  // LINE SEPARATOR
  CHECK(line.find("\xe2\x80\xa9") == std::string_view::npos);  // PARAGRAPH SEPARATOR
}

// Parses every line of a JSON log, checking the members every line starts with.
std::vector<json> json_lines(const std::filesystem::path& p) {
  std::vector<json> out;
  static const std::regex head(R"(^\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","session":\d+,)"
                               R"("address":"[^"]*","port":\d+,"event":"[a-z]+")");
  for (const auto& line : lines_in(p)) {
    CAPTURE(line);
    check_printable(line);
    CHECK(std::regex_search(line, head));
    json j;
    REQUIRE_NOTHROW(j = json::parse(line));
    REQUIRE(j.is_object());
    out.push_back(std::move(j));
  }
  return out;
}

// The log's members in order: the key order is part of the format (fail2ban relies on it).
std::vector<std::string> keys_of(const std::string& line) {
  // nlohmann::json sorts its keys: read them from the text. In a string, a '"' is "\"",
  // so `,"key":` and `{"key":` are members only.
  std::vector<std::string> keys;
  static const std::regex key(R"re([{,]"([a-z_]+)":)re");
  for (std::sregex_iterator it(line.begin(), line.end(), key), end; it != end; ++it) keys.push_back((*it)[1].str());
  return keys;
}

// Hostile client text: what a user name, a path or a command argument may hold.
const std::vector<std::string>& hostile_strings() {
  static const std::vector<std::string> all = {
      "plain",
      "",
      "quote\" and \"\"",
      "back\\slash\\\\ and \\\" and \\u0041",
      "new\nline\r\nand\rcr",
      "tab\tnul\0esc\x1b[2J\x07 del\x7f"s,
      "x: failed",
      "(6.6.6.6, 1) x: failed",
      "\",\"event\":\"login\",\"outcome\":\"failed\",\"address\":\"6.6.6.6",
      "{\"time\":\"2026-01-01T00:00:00.000Z\",\"session\":1,\"address\":\"6.6.6.6\",\"port\":1,"
      "\"event\":\"login\",\"outcome\":\"failed\",\"user\":\"x\"}",
      "\n{\"time\":\"2026-01-01T00:00:00.000Z\",\"session\":1,\"address\":\"6.6.6.6\"}\n",
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe4\xb8\xad",  // valid UTF-8 is kept
      "bad \xc3\x28 \xa0\xa1 \xe2\x28\xa1 \xe2\x82\x28 \xf0\x28\x8c\xbc \xf0\x90\x28\xbc \xff\xfe \xc0\xaf",
      "overlong \xc0\x80 \xe0\x80\xaf \xf0\x80\x80\xaf surrogate \xed\xa0\x80 big \xf4\x90\x80\x80",
      "truncated at the end \xe2\x82",
      "C1 \xc2\x85 \xc2\x9b LS \xe2\x80\xa8 PS \xe2\x80\xa9",
      std::string(5000, '"') + std::string(3000, '\\') + std::string(2000, '\n'),
  };
  return all;
}

}  // namespace

TEST_CASE("log format: parse_log_format") {
  CHECK(coftp::parse_log_format("text") == coftp::log_format::text);
  CHECK(coftp::parse_log_format("json") == coftp::log_format::json);
  CHECK(coftp::parse_log_format("JSON") == std::nullopt);
  CHECK(coftp::parse_log_format("") == std::nullopt);
  CHECK(coftp::session_log_observer().format() == coftp::log_format::text);
}

TEST_CASE("log format: the JSON string escape") {
  SUBCASE("the usual escapes, control characters as \\u00XX") {
    CHECK(escaped("") == R"("")");
    CHECK(escaped("a\"b\\c/d") == R"("a\"b\\c/d")");
    CHECK(escaped("\n\r\t\b\f"s) == R"("\u000a\u000d\u0009\u0008\u000c")");
    CHECK(escaped("\0\x01\x1f\x20\x7f"s) == "\"\\u0000\\u0001\\u001f \\u007f\"");
    CHECK(escaped("\xc2\x80\xc2\x9f\xc2\xa0") == "\"\\u0080\\u009f\xc2\xa0\"");  // C1 escaped, NBSP kept
    CHECK(escaped("\xe2\x80\xa7\xe2\x80\xa8\xe2\x80\xa9\xe2\x80\xaa") ==
          "\"\xe2\x80\xa7\\u2028\\u2029\xe2\x80\xaa\"");
    CHECK(escaped("\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf") == "\"\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"");
  }
  SUBCASE("invalid UTF-8: one U+FFFD per maximal ill-formed subpart (Unicode 15, 3.9)") {
    const std::string r = "\xef\xbf\xbd";
    CHECK(escaped("\x80") == "\"" + r + "\"");
    CHECK(escaped("\xc3\x28") == "\"" + r + "(\"");
    CHECK(escaped("\xe2\x82") == "\"" + r + "\"");          // truncated: one
    CHECK(escaped("\xe2\x82\x28") == "\"" + r + "(\"");
    CHECK(escaped("\xc0\xaf") == "\"" + r + r + "\"");      // overlong lead: each byte
    CHECK(escaped("\xed\xa0\x80") == "\"" + r + r + r + "\"");  // surrogate: ED then two strays
    CHECK(escaped("\xf4\x90\x80\x80") == "\"" + r + r + r + r + "\"");
    CHECK(escaped("\xf0\x9f\x98") == "\"" + r + "\"");
    // Unicode 15 table 3-8's example: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64.
    CHECK(escaped("\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64") ==
          "\"a" + r + r + r + "b" + r + "c" + r + r + "d\"");
  }
  SUBCASE("nlohmann/json parses every output, and decodes what nlohmann's replacing dump decodes") {
    // Every string of up to 3 bytes drawn from the bytes where UTF-8's rules change, and
    // of 4 bytes from fewer of them (the test stays quick under the sanitizers).
    const std::vector<unsigned char> edges = {0x00, 0x0a, 0x22, 0x41, 0x5c, 0x7f, 0x80, 0x85, 0x8f, 0x90, 0x9f,
                                              0xa0, 0xa8, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xe2, 0xec,
                                              0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff};
    const std::vector<unsigned char> edges4 = {0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
                                               0xc0, 0xc2, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5};
    std::size_t checked = 0, mismatches = 0;
    auto check_one = [&](const std::string& s) {
      auto out = escaped(s);
      json mine;
      try {
        mine = json::parse(out);
      } catch (const json::exception& e) {
        FAIL_CHECK("not JSON: " << out << ": " << e.what());
        return;
      }
      auto theirs = json::parse(json(s).dump(-1, ' ', false, json::error_handler_t::replace));
      if (mine != theirs) ++mismatches;
      if (mismatches == 1 && mine != theirs) {
        CAPTURE(json(out).dump());  // printable
        CHECK(mine == theirs);
      }
      ++checked;
    };
    for (std::size_t len = 1; len <= 4; ++len) {
      const auto& bytes = len < 4 ? edges : edges4;
      const std::size_t n = bytes.size();
      std::size_t total = 1;
      for (std::size_t k = 0; k < len; ++k) total *= n;
      for (std::size_t code = 0; code < total; ++code) {
        std::string s;
        for (std::size_t k = 0, c = code; k < len; ++k, c /= n) s += static_cast<char>(bytes[c % n]);
        check_one(s);
      }
    }
    // Random bytes, and random valid UTF-8 that must come back unchanged.
    std::mt19937 rng(15);
    for (int i = 0; i < 20000; ++i) {
      std::string s(rng() % 40, '\0');
      for (auto& c : s) c = static_cast<char>(rng());
      check_one(s);
    }
    for (int i = 0; i < 20000; ++i) {
      std::u32string cps;
      for (auto k = rng() % 20; k > 0; --k) {
        char32_t cp = rng() % 0x110000;
        if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
        cps += cp;
      }
      std::string s;
      for (char32_t cp : cps) {
        if (cp < 0x80) {
          s += static_cast<char>(cp);
        } else if (cp < 0x800) {
          s += static_cast<char>(0xc0 | (cp >> 6)), s += static_cast<char>(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
          s += static_cast<char>(0xe0 | (cp >> 12)), s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
          s += static_cast<char>(0x80 | (cp & 0x3f));
        } else {
          s += static_cast<char>(0xf0 | (cp >> 18)), s += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
          s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f)), s += static_cast<char>(0x80 | (cp & 0x3f));
        }
      }
      auto out = escaped(s);
      json j;
      REQUIRE_NOTHROW(j = json::parse(out));
      REQUIRE(j.get<std::string>() == s);
    }
    CHECK(mismatches == 0);
    CHECK(checked > 100000);
  }
  SUBCASE("hostile strings: valid JSON, printable, one line, decoded as sent when valid UTF-8") {
    for (const auto& s : hostile_strings()) {
      auto out = escaped(s);
      CAPTURE(json(s).dump(-1, ' ', true, json::error_handler_t::replace));
      check_printable(out);
      json j;
      REQUIRE_NOTHROW(j = json::parse(out));
      CHECK(j == json::parse(json(s).dump(-1, ' ', false, json::error_handler_t::replace)));
    }
  }
}

TEST_CASE("log format: every event is one JSON line with its members") {
  coftp_test::temp_dir d;
  auto path = d.path() / "session.json";
  coftp::session_log_observer obs(coftp::log_file::open(path.string()), coftp::log_format::json);
  CHECK(obs.format() == coftp::log_format::json);
  auto copy = obs;  // copies share the file and the user names
  coftp::session_info s{7, "192.0.2.10", 50432};
  coftp::session_info other{8, "2001:db8::1", 40000};
  obs.on_connect(s);
  obs.on_command(s, coftp::command{"USER", "alice"});
  obs.on_reply(s, coftp::reply{331, "Username OK, need password"});
  obs.on_command(s, coftp::command{"PASS", "hunter2"});
  obs.on_login(s, "alice", false);
  obs.on_ban(s, std::chrono::seconds(600));
  obs.on_command(s, coftp::command{"USER", "alice"});
  obs.on_command(s, coftp::command{"PASS", "hunter2"});
  copy.on_login(s, "alice", true);
  obs.on_reply(s, coftp::reply{230, "Login successful\nsecond line"});
  obs.on_command(s, coftp::command{"ACCT", "hunter2"});
  obs.on_command(other, coftp::command{"NOOP", ""});
  obs.on_transfer(s, coftp::transfer_event{coftp::transfer_direction::download, coftp::transfer_outcome::completed, "/a.txt",
                              "alice", 5, std::chrono::milliseconds(12), false, false});
  obs.on_transfer(s, coftp::transfer_event{coftp::transfer_direction::upload, coftp::transfer_outcome::connection_lost, "/u",
                              "alice", 0, std::chrono::milliseconds(0), true, false});
  obs.on_refused(coftp::session_info{0, "198.51.100.1", 1234}, coftp::refusal::too_many_sessions);
  obs.on_refused(s, coftp::refusal::banned);
  copy.on_disconnect(s);
  obs.on_reply(s, coftp::reply{221, "Goodbye"});  // late: the user is forgotten

  auto text = slurp(path);
  CHECK(text.find("hunter2") == std::string::npos);
  auto raw = lines_in(path);
  auto j = json_lines(path);
  REQUIRE(j.size() == 18);
  for (const auto& e : j) {
    CHECK(e["time"].get<std::string>().size() == 24);
    if (e["session"] == 7) CHECK(e["address"] == "192.0.2.10");
    if (e["session"] == 7) CHECK(e["port"] == 50432);
  }
  using keys = std::vector<std::string>;
  const keys head = {"time", "session", "address", "port", "event"};
  auto with = [&](keys more) {
    keys k = head;
    k.insert(k.end(), more.begin(), more.end());
    return k;
  };
  CHECK(j[0]["event"] == "connect");
  CHECK(keys_of(raw[0]) == head);
  CHECK(j[1]["event"] == "command");
  CHECK(j[1]["command"] == "USER");
  CHECK(j[1]["argument"] == "alice");
  CHECK(!j[1].contains("user"));  // not logged in yet
  CHECK(j[2]["event"] == "reply");
  CHECK(j[2]["code"] == 331);
  CHECK(j[2]["text"] == "Username OK, need password");
  CHECK(j[3]["argument"] == "****");
  CHECK(keys_of(raw[4]) == with({"outcome", "user"}));
  CHECK(j[4]["event"] == "login");
  CHECK(j[4]["outcome"] == "failed");
  CHECK(j[4]["user"] == "alice");
  CHECK(j[5]["event"] == "ban");
  CHECK(j[5]["reason"] == "failed_logins");
  CHECK(j[5]["duration_ms"] == 600000);
  CHECK(!j[5].contains("user"));
  CHECK(j[8]["outcome"] == "ok");
  CHECK(j[9]["user"] == "alice");  // remembered from the login, by the copy too
  CHECK(keys_of(raw[9]) == with({"user", "code", "text"}));
  CHECK(j[9]["text"] == "Login successful");
  CHECK(j[10]["command"] == "ACCT");
  CHECK(j[10]["argument"] == "****");
  CHECK(j[11]["session"] == 8);
  CHECK(j[11]["address"] == "2001:db8::1");
  CHECK(!j[11].contains("user"));  // another session
  CHECK(!j[11].contains("argument"));
  CHECK(keys_of(raw[12]) ==
        with({"user", "direction", "path", "bytes", "duration_ms", "outcome", "type", "anonymous"}));
  CHECK(j[12]["direction"] == "download");
  CHECK(j[12]["path"] == "/a.txt");
  CHECK(j[12]["bytes"] == 5);
  CHECK(j[12]["duration_ms"] == 12);
  CHECK(j[12]["outcome"] == "completed");
  CHECK(j[12]["type"] == "binary");
  CHECK(j[12]["anonymous"] == false);
  CHECK(j[13]["direction"] == "upload");
  CHECK(j[13]["outcome"] == "connection_lost");
  CHECK(j[13]["type"] == "ascii");
  CHECK(j[14]["event"] == "refused");
  CHECK(j[14]["session"] == 0);
  CHECK(j[14]["reason"] == "too_many_sessions");
  CHECK(j[14]["message"] == "too many sessions");
  CHECK(!j[14].contains("user"));
  CHECK(j[15]["reason"] == "banned");
  CHECK(j[15]["user"] == "alice");
  CHECK(j[16]["event"] == "disconnect");
  CHECK(j[16]["user"] == "alice");
  CHECK(!j[17].contains("user"));  // forgotten at the disconnection

  SUBCASE("USER and REIN forget the user; a quiet observer writes nothing") {
    obs.on_login(other, "bob", true);
    obs.on_command(other, coftp::command{"NOOP", ""});
    obs.on_command(other, coftp::command{"REIN", ""});
    obs.on_command(other, coftp::command{"NOOP", ""});
    obs.on_login(other, "bob", true);
    obs.on_command(other, coftp::command{"USER", "carol"});
    auto k = json_lines(path);
    REQUIRE(k.size() == 24);
    CHECK(k[19]["user"] == "bob");
    CHECK(!k[20].contains("user"));  // REIN itself: logged out
    CHECK(!k[21].contains("user"));
    CHECK(!k[23].contains("user"));
    coftp::session_log_observer quiet;
    quiet.on_connect(s);
    quiet.on_login(s, "x", true);
    quiet.on_disconnect(s);
  }
}

TEST_CASE("log format: hostile client text stays inside its JSON string") {
  coftp_test::temp_dir d;
  auto path = d.path() / "session.json";
  coftp::session_log_observer obs(coftp::log_file::open(path.string()), coftp::log_format::json);
  coftp::session_info s{9, "203.0.113.5", 2121};
  const std::string secret = "S3cr3t\"\\\n-pw";
  std::size_t expected = 0;
  for (const auto& h : hostile_strings()) {
    obs.on_command(s, coftp::command{"USER", h});
    obs.on_command(s, coftp::command{"PASS", secret + h});
    obs.on_command(s, coftp::command{"ACCT", h + secret});
    obs.on_login(s, h, false);
    obs.on_login(s, h, true);
    obs.on_command(s, coftp::command{"RETR", h});
    obs.on_reply(s, coftp::reply{550, h});
    obs.on_transfer(s, coftp::transfer_event{coftp::transfer_direction::download, coftp::transfer_outcome::aborted, h, h, 1,
                                std::chrono::milliseconds(1), false, false});
    expected += 8;
  }
  auto text = slurp(path);
  CHECK(text.find("S3cr3t") == std::string::npos);
  auto raw = lines_in(path);
  auto j = json_lines(path);  // each parses, printable, with the fixed head
  REQUIRE(j.size() == expected);
  auto decoded = [](const std::string& s) {
    return json::parse(json(s).dump(-1, ' ', false, json::error_handler_t::replace)).get<std::string>();
  };
  std::size_t i = 0;
  for (const auto& h : hostile_strings()) {
    CAPTURE(i);
    auto value = decoded(h);
    for (std::size_t k = 0; k < 8; ++k) {
      CHECK(j[i + k]["address"] == "203.0.113.5");  // never the one a fake event names
      CHECK(j[i + k]["session"] == 9);
    }
    CHECK(j[i].value("argument", std::string{}) == value);  // no "argument" when empty
    CHECK(j[i + 1]["argument"] == "****");
    CHECK(j[i + 2]["argument"] == "****");
    CHECK(j[i + 3]["outcome"] == "failed");
    CHECK(j[i + 3]["user"] == value);
    CHECK(j[i + 4]["outcome"] == "ok");
    CHECK(j[i + 5]["user"] == value);  // remembered
    CHECK(j[i + 5].value("argument", std::string{}) == value);
    CHECK(j[i + 6]["text"] == value.substr(0, value.find('\n')));
    CHECK(j[i + 7]["path"] == value);
    // Only the real failed login is one to fail2ban's JSON pattern.
    static const std::regex failed(R"re(^\{"time":"[^"]+","session":\d+,"address":"([^"]+)","port":\d+,)re"
                                   R"re("event":"login","outcome":"failed")re");
    for (std::size_t k = 0; k < 8; ++k) {
      std::smatch m;
      bool hit = std::regex_search(raw[i + k], m, failed);
      CHECK(hit == (k == 3));
      if (hit) CHECK(m[1] == "203.0.113.5");
    }
    i += 8;
  }
}

TEST_CASE("log format: a failed text login names the address before the client's text") {
  coftp_test::temp_dir d;
  auto path = d.path() / "session.log";
  coftp::session_log_observer obs(coftp::log_file::open(path.string()));  // text, the default
  coftp::session_info s{4, "192.0.2.7", 40001};
  obs.on_login(s, "alice", true);
  obs.on_login(s, "alice", false);
  obs.on_login(s, "(6.6.6.6, 1) x: failed", true);   // forged: a successful login
  obs.on_login(s, "x: failed\n2026-01-01T00:00:00.000Z [1] [LOGIN] (6.6.6.6, 1) y: failed", false);
  obs.on_command(s, coftp::command{"USER", "[LOGIN] (6.6.6.6, 1) x: failed"});
  auto lines = lines_in(path);
  REQUIRE(lines.size() == 5);
  for (const auto& l : lines) check_printable(l);
  std::vector<std::string> bodies;
  for (const auto& l : lines) bodies.push_back(l.substr(29));
  CHECK(bodies == std::vector<std::string>{
                      "[LOGIN] alice: ok",
                      "[LOGIN] (192.0.2.7, 40001) alice: failed",
                      "[LOGIN] (6.6.6.6, 1) x: failed: ok",
                      "[LOGIN] (192.0.2.7, 40001) x: failed?2026-01-01T00:00:00.000Z [1] [LOGIN] (6.6.6.6, 1) y: "
                      "failed: failed",
                      "[CLIENT] USER [LOGIN] (6.6.6.6, 1) x: failed",
                  });
  // The filter's pattern (examples/coftp-server/fail2ban/filter.d/coftp.conf) finds the
  // two real failures, each with the client's address.
  static const std::regex failed(R"(^\S+ \[\d+\] \[LOGIN\] \(([^ ,()]+), \d+\) .*: failed$)");
  std::vector<std::string> hosts;
  for (const auto& l : lines) {
    std::smatch m;
    if (std::regex_search(l, m, failed)) hosts.push_back(m[1]);
  }
  CHECK(hosts == std::vector<std::string>{"192.0.2.7", "192.0.2.7"});
}

TEST_CASE("log format: a real server's JSON log, hostile commands included") {
  using namespace coftp_test;
  temp_dir d;
  auto path = d.path() / "session.json";
  test_server<coftp::memory_fs, coftp::session_log_observer> srv{
      coftp::memory_fs{}, test_options(),
      coftp::session_log_observer(coftp::log_file::open(path.string()), coftp::log_format::json)};
  const std::string pw = "Pw-9Lq4-Sigma";
  srv.users().add("carol", pw, coftp::permissions::all);
  srv.put("/a.txt", "hello");
  const std::string fake = "x\",\"event\":\"login\",\"outcome\":\"failed\",\"address\":\"6.6.6.6";
  const std::string long_arg(3000, 'A');
  {
    ftp_client c{srv.endpoint()};
    CHECK(c.login("carol", pw + "-wrong") == "530 Login incorrect");
    CHECK(c.login(fake, pw).starts_with("530 "));
    CHECK(c.login("carol", pw) == "230 Login successful");
    CHECK(c.retr("a.txt") == "hello");
    CHECK(c.stor("b \"q\" \\.txt", "12345").starts_with("226 "));
    c.command("RETR \x1b[2Jx\xc3\x28y");
    c.command("RETR " + long_arg);
    c.command("PASS " + pw);
    c.command("ACCT " + pw);
    CHECK(c.command("QUIT") == "221 Goodbye");
  }
  REQUIRE(wait_until([&] {
    auto t = slurp(path);
    return t.find("\"event\":\"disconnect\"") != std::string::npos;
  }));
  CHECK(slurp(path).find("Pw-9Lq4") == std::string::npos);
  auto j = json_lines(path);
  REQUIRE(j.size() > 20);
  std::vector<json> logins, transfers;
  std::size_t commands = 0, masked = 0;
  bool long_seen = false, bad_seen = false;
  for (const auto& e : j) {
    CHECK(e["address"] == "127.0.0.1");
    if (e["event"] == "login") logins.push_back(e);
    if (e["event"] == "transfer" && e["direction"] != "listing") transfers.push_back(e);
    if (e["event"] == "command") {
      ++commands;
      if (e["command"] == "PASS" || e["command"] == "ACCT") {
        CHECK(e["argument"] == "****");
        ++masked;
      }
      auto arg = e.value("argument", std::string{});
      if (arg == long_arg) long_seen = true;
      if (arg == "\x1b[2Jx\xef\xbf\xbd(y") bad_seen = true;  // C3 28: U+FFFD then '('
    }
  }
  CHECK(masked == 5);
  CHECK(long_seen);
  CHECK(bad_seen);
  REQUIRE(logins.size() == 3);
  CHECK(logins[0]["outcome"] == "failed");
  CHECK(logins[0]["user"] == "carol");
  CHECK(logins[1]["outcome"] == "failed");
  CHECK(logins[1]["user"] == fake);
  CHECK(logins[2]["outcome"] == "ok");
  REQUIRE(transfers.size() == 2);
  CHECK(transfers[0]["direction"] == "download");
  CHECK(transfers[0]["path"] == "/a.txt");
  CHECK(transfers[0]["bytes"] == 5);
  CHECK(transfers[0]["outcome"] == "completed");
  CHECK(transfers[0]["user"] == "carol");
  CHECK(transfers[1]["direction"] == "upload");
  CHECK(transfers[1]["path"] == "/b \"q\" \\.txt");
  CHECK(transfers[1]["bytes"] == 5);
  const auto& last = j.back();
  CHECK(last["event"] == "disconnect");
  CHECK(last["user"] == "carol");
  CHECK(j.front()["event"] == "connect");
}

TEST_CASE("log format: a real server's failed text login carries the address") {
  using namespace coftp_test;
  temp_dir d;
  auto path = d.path() / "session.log";
  test_server<coftp::memory_fs, coftp::session_log_observer> srv{
      coftp::memory_fs{}, test_options(), coftp::session_log_observer(coftp::log_file::open(path.string()))};
  {
    ftp_client c{srv.endpoint()};
    CHECK(c.login("(6.6.6.6, 1) x: failed", "nope") == "530 Login incorrect");
    CHECK(c.login("test", "secret") == "230 Login successful");
    CHECK(c.command("QUIT") == "221 Goodbye");
  }
  REQUIRE(wait_until([&] { return slurp(path).find("[-] Client disconnected") != std::string::npos; }));
  std::vector<std::string> logins;
  for (const auto& l : lines_in(path)) {
    auto at = l.find("[LOGIN] ");
    if (at != std::string::npos) logins.push_back(l.substr(at));
  }
  REQUIRE(logins.size() == 2);
  CHECK(std::regex_match(logins[0], std::regex(R"(\[LOGIN\] \(127\.0\.0\.1, \d+\) \(6\.6\.6\.6, 1\) x: failed: failed)")));
  CHECK(logins[1] == "[LOGIN] test: ok");
}
