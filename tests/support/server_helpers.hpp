// tests/support/server_helpers.hpp - what the loopback server tests share: a backend
// with a server over it, random content, login, and checks of listing lines.
#pragma once

#include <doctest/doctest.h>

#include "ftp_client.hpp"
#include "test_server.hpp"

#include <algorithm>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace coftp_test {

using std::string;
using std::string_view;

// A backend and a server over it.
template <class B>
struct env {
  B backend;
  test_server<typename B::storage_type> srv;
  explicit env(coftp::server_options o = test_options()) : srv(backend.make(), std::move(o)) {}
};

inline string random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  string out(n, '\0');
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    auto v = rng();
    std::memcpy(out.data() + i, &v, 8);
  }
  for (auto v = rng(); i < n; ++i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
  return out;
}

inline void login(ftp_client& c, std::string_view user = "test", std::string_view pass = "secret") {
  auto r = c.login(user, pass);
  REQUIRE(r == "230 Login successful");
}

// Lines of a listing; every line must end in CRLF.
inline std::vector<string> lines_of(const string& listing) {
  std::vector<string> out;
  std::size_t pos = 0;
  while (pos < listing.size()) {
    auto nl = listing.find("\r\n", pos);
    REQUIRE_MESSAGE(nl != string::npos, "listing line without CRLF: " << listing.substr(pos));
    out.push_back(listing.substr(pos, nl - pos));
    CHECK_MESSAGE(out.back().find_first_of("\r\n") == string::npos, "stray CR or LF in: " << out.back());
    pos = nl + 2;
  }
  return out;
}

// The name at the end of an `ls -l` line, checking the line's format on the way:
// "drwxr-xr-x   2 ftp      ftp              4096 Mar  5 14:02 name" (or " 2023" for old
// files). (No std::regex: g++ 12 warns inside <regex> under the sanitizers.)
inline string list_name(const string& line) {
  std::size_t pos = 0;
  auto bad = [&](const char* why) {
    FAIL_CHECK("not an ls -l line (" << why << "): '" << line << "'");
    return string();
  };
  auto spaces = [&] {
    std::size_t n = 0;
    for (; pos < line.size() && line[pos] == ' '; ++pos) ++n;
    return n;
  };
  auto word = [&] {
    auto from = pos;
    while (pos < line.size() && line[pos] != ' ') ++pos;
    return line.substr(from, pos - from);
  };
  auto number = [](const string& w) {
    return !w.empty() && std::all_of(w.begin(), w.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  };
  if (line.size() < 10 || string_view("-dl").find(line[0]) == string_view::npos) return bad("type");
  for (pos = 1; pos < 10; ++pos)
    if (string_view("-rwxsStT").find(line[pos]) == string_view::npos) return bad("permissions");
  if (spaces() == 0 || !number(word())) return bad("links");
  if (spaces() == 0 || word() != "ftp") return bad("owner");
  if (spaces() == 0 || word() != "ftp") return bad("group");
  if (spaces() == 0 || !number(word())) return bad("size");
  static const std::set<string> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (spaces() != 1 || !months.count(word())) return bad("month");
  auto pad = spaces();
  auto day = word();
  if (!number(day) || day.size() + pad != 3 || std::stoi(day) < 1 || std::stoi(day) > 31) return bad("day");
  pad = spaces();
  auto when = word();
  bool clock = pad == 1 && when.size() == 5 && when[2] == ':' && number(when.substr(0, 2)) && number(when.substr(3));
  bool year = pad == 2 && when.size() == 4 && number(when);
  if (!clock && !year) return bad("time or year");
  if (pos + 1 >= line.size() || line[pos] != ' ') return bad("name");
  return line.substr(pos + 1);
}

}  // namespace coftp_test
