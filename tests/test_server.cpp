// Integration tests: the real server on 127.0.0.1 and an ephemeral port, driven over
// real sockets by a synchronous client. The protocol tests run over both backends
// (memory_fs, and local_fs in a fresh temporary directory). Assertions are on what a
// user sees: reply lines (exact where the specification fixes the text) and bytes.
#include <coftp/coftp.hpp>

#include <doctest/doctest.h>

#include "ftp_client.hpp"
#include "server_helpers.hpp"
#include "test_server.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

using namespace coftp_test;
using namespace std::chrono_literals;
using std::string;
using std::string_view;

TYPE_TO_STRING(coftp_test::memory_backend);
TYPE_TO_STRING(coftp_test::local_backend);

namespace {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

void check_not_revealed(const std::vector<string>& replies, const string& secret) {
  for (const auto& r : replies) CHECK_MESSAGE(r.find(secret) == string::npos, "reply reveals '" << secret << "': " << r);
}

}  // namespace

TEST_SUITE("server") {

// ---- access control ---------------------------------------------------------------------

TEST_CASE_TEMPLATE("server: greeting, USER, PASS and QUIT", B, memory_backend, local_backend) {
  env<B> e;
  ftp_client c{e.srv.endpoint()};
  CHECK(c.greeting() == "220 coftp test server ready");
  CHECK(c.command("USER test") == "331 Username OK, need password");
  CHECK(c.command("PASS secret") == "230 Login successful");
  CHECK(c.command("PWD") == "257 \"/\" is the current directory");
  CHECK(c.command("QUIT") == "221 Goodbye");
  CHECK(c.wait_closed());
}

TEST_CASE_TEMPLATE("server: refused logins get 530 after the delay", B, memory_backend, local_backend) {
  env<B> e;
  ftp_client c{e.srv.endpoint()};

  SUBCASE("wrong password") {
    CHECK(c.command("USER test") == "331 Username OK, need password");
    auto t0 = steady::now();
    CHECK(c.command("PASS wrong") == "530 Login incorrect");
    CHECK(steady::now() - t0 >= 45ms);  // login_failure_delay is 50 ms
    CHECK(c.command("PWD") == "530 Not logged in");
    // The session goes on: a correct login still works.
    CHECK(c.login("test", "secret") == "230 Login successful");
  }
  SUBCASE("unknown user") {
    CHECK(c.command("USER nobody") == "331 Username OK, need password");
    auto t0 = steady::now();
    CHECK(c.command("PASS secret") == "530 Login incorrect");
    CHECK(steady::now() - t0 >= 45ms);
    CHECK(c.command("PWD") == "530 Not logged in");
  }
  SUBCASE("empty password") {
    CHECK(c.command("USER test") == "331 Username OK, need password");
    CHECK(c.command("PASS") == "530 Login incorrect");
  }
  SUBCASE("PASS without USER") { CHECK(c.command("PASS secret") == "503 Login with USER first"); }
  SUBCASE("USER without a name") { CHECK(c.command("USER") == "501 Missing username"); }
}

TEST_CASE_TEMPLATE("server: anonymous logins are read-only", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.put("/readme.txt", "hi");
  for (string name : {"anonymous", "ftp", "ANONYMOUS"}) {
    CAPTURE(name);
    ftp_client c{e.srv.endpoint()};
    auto r = c.login(name, "guest@example.com");
    if (name == "ANONYMOUS") {
      CHECK(r == "530 Login incorrect");  // user names are case-sensitive
      continue;
    }
    CHECK(r == "230 Login successful");
    CHECK(c.command("TYPE I") == "200 Type set to I");
    CHECK(c.retr("readme.txt") == "hi");
    CHECK(c.last_reply() == "226 Transfer complete");
    CHECK(c.stor("new.txt", "x") == "550 Permission denied");
    CHECK(c.command("DELE readme.txt") == "550 Permission denied");
    CHECK(c.command("MKD d") == "550 Permission denied");
    CHECK(c.command("RMD d") == "550 Permission denied");
    CHECK(c.command("RNFR readme.txt") == "550 Permission denied");
    CHECK(c.command("RNTO x.txt") == "550 Permission denied");
  }
  CHECK(e.srv.get("/readme.txt") == "hi");
  CHECK(!e.srv.get("/new.txt"));
}

TEST_CASE_TEMPLATE("server: every command needing a login answers 530 Not logged in", B, memory_backend,
                   local_backend) {
  env<B> e;
  e.srv.put("/a.txt", "a");
  ftp_client c{e.srv.endpoint()};
  for (const char* line : {"CWD /", "XCWD /", "CDUP", "XCUP", "PWD", "XPWD", "TYPE I", "PASV", "EPSV", "LIST",
                           "NLST", "RETR a.txt", "STOR b.txt", "DELE a.txt", "MKD d", "XMKD d", "RMD d",
                           "XRMD d", "RNFR a.txt", "RNTO b.txt", "SIZE a.txt", "MDTM a.txt"}) {
    CAPTURE(line);
    CHECK(c.command(line) == "530 Not logged in");
  }
  // After a refused login too.
  CHECK(c.login("test", "nope") == "530 Login incorrect");
  CHECK(c.command("RETR a.txt") == "530 Not logged in");
  // Commands that need no login.
  CHECK(c.command("SYST") == "215 UNIX Type: L8");
  CHECK(c.command("NOOP") == "200 OK");
  CHECK(e.srv.get("/a.txt") == "a");
}

TEST_CASE_TEMPLATE("server: a user without read permission", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.put("/a.txt", "a");
  e.srv.users().add("dropbox", "pw", coftp::permissions::write);
  ftp_client c{e.srv.endpoint()};
  login(c, "dropbox", "pw");
  CHECK(c.list() == "");
  CHECK(c.last_reply() == "550 Permission denied");
  CHECK(c.retr("a.txt") == "");
  CHECK(c.last_reply() == "550 Permission denied");
  CHECK(c.command("SIZE a.txt") == "550 Permission denied");
  CHECK(c.command("MDTM a.txt") == "550 Permission denied");
  CHECK(c.command("TYPE I") == "200 Type set to I");
  CHECK(c.stor("b.txt", "bee") == "226 Transfer complete (3 bytes received)");
  CHECK(e.srv.get("/b.txt") == "bee");
}

TEST_CASE_TEMPLATE("server: a user's home directory is its root", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.mkdir("/home");
  e.srv.mkdir("/home/h");
  e.srv.put("/home/h/mine.txt", "mine");
  e.srv.put("/top.txt", "top");
  e.srv.users().add("h", "pw", coftp::permissions::all, "/home/h");
  ftp_client c{e.srv.endpoint()};
  login(c, "h", "pw");
  CHECK(c.command("PWD") == "257 \"/\" is the current directory");
  CHECK(c.command("CDUP") == "550 Cannot go up");
  CHECK(c.command("CWD ../..") == "250 Directory changed successfully");
  CHECK(c.command("PWD") == "257 \"/\" is the current directory");
  CHECK(c.command("TYPE I") == "200 Type set to I");
  CHECK(c.retr("mine.txt") == "mine");
  CHECK(c.retr("../../top.txt") == "");
  CHECK(c.last_reply() == "550 File not found");
  CHECK(c.retr("/top.txt") == "");
  CHECK(c.last_reply() == "550 File not found");
  CHECK(c.command("MKD sub") == "257 \"/sub\" directory created");
  CHECK(c.stor("/sub/f.txt", "f") == "226 Transfer complete (1 bytes received)");
  CHECK(e.srv.get("/home/h/sub/f.txt") == "f");
  CHECK(c.nlst() == "mine.txt\r\nsub\r\n");
}

// ---- information and parameters ---------------------------------------------------------

TEST_CASE_TEMPLATE("server: SYST, NOOP, FEAT, OPTS, MODE, STRU, ALLO, HELP", B, memory_backend, local_backend) {
  env<B> e;
  ftp_client c{e.srv.endpoint()};
  CHECK(c.command("SYST") == "215 UNIX Type: L8");
  CHECK(c.command("NOOP") == "200 OK");
  CHECK(c.command("noop") == "200 OK");  // verbs are case-insensitive

  auto feat = c.command("FEAT");
  CHECK(feat.starts_with("211-"));
  CHECK(feat.ends_with("\n211 End"));
  std::set<string> features;
  std::vector<string> lines;
  for (std::size_t pos = 0; pos <= feat.size();) {
    auto nl = feat.find('\n', pos);
    if (nl == string::npos) nl = feat.size();
    lines.push_back(feat.substr(pos, nl - pos));
    pos = nl + 1;
  }
  REQUIRE(lines.size() >= 2);
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
    CAPTURE(lines[i]);
    CHECK(lines[i].starts_with(" "));  // RFC 2389: each feature line begins with a space
    features.insert(lines[i].substr(1));
  }
  CHECK(features == std::set<string>{"EPSV", "HOST", "MDTM", "MFMT", "MLST type*;size*;modify*;perm*;unique;", "PASV",
                                     "REST STREAM", "SIZE", "TVFS", "UTF8"});

  CHECK(c.command("OPTS UTF8 ON") == "200 UTF8 mode enabled");
  CHECK(c.command("OPTS utf8 on") == "200 UTF8 mode enabled");
  CHECK(c.command("OPTS FOO") == "501 Option not understood");
  CHECK(c.command("MODE S") == "200 Mode set to S");
  CHECK(c.command("MODE B") == "504 Unsupported MODE");
  CHECK(c.command("STRU F") == "200 Structure set to F");
  CHECK(c.command("STRU R") == "504 Unsupported STRU");
  CHECK(c.command("ALLO 1024") == "202 No storage allocation necessary");
  CHECK(c.command("ALLO") == "202 No storage allocation necessary");
  auto help = c.command("HELP");
  CHECK(help.starts_with("214-"));
  CHECK(help.ends_with("\n214 Help OK"));
  CHECK(help.find(" RETR") != string::npos);
}

TEST_CASE_TEMPLATE("server: TYPE", B, memory_backend, local_backend) {
  env<B> e;
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("TYPE A") == "200 Type set to A");
  CHECK(c.command("TYPE I") == "200 Type set to I");
  CHECK(c.command("TYPE i") == "200 Type set to I");
  CHECK(c.command("TYPE L 8") == "200 Type set to I");
  CHECK(c.command("TYPE A N") == "200 Type set to A");
  CHECK(c.command("TYPE E") == "504 Unsupported TYPE");
  CHECK(c.command("TYPE X") == "504 Unsupported TYPE");
  CHECK(c.command("TYPE") == "501 Missing type");
}

TEST_CASE_TEMPLATE("server: unknown, unimplemented and argument-less commands", B, memory_backend, local_backend) {
  env<B> e;
  ftp_client c{e.srv.endpoint()};
  CHECK(c.command("FOO") == "500 Unknown command");
  CHECK(c.command("FOO bar") == "500 Unknown command");
  CHECK(c.command("ABCDEFGHIJKLMNOPQ") == "500 Unknown command");
  CHECK(c.command("N0OP") == "500 Unknown command");
  CHECK(c.command("SMNT /mnt") == "502 Command not implemented");
  CHECK(c.command("SITE CHMOD 644 a") == "530 Not logged in");
  CHECK(c.command("SITE") == "501 Missing SITE command, try SITE HELP");
  login(c);
  CHECK(c.command("FOO") == "500 Unknown command");
  CHECK(c.command("SMNT /mnt") == "502 Command not implemented");
  CHECK(c.command("LPRT 4,4,127,0,0,1,2,4,1") == "502 Command not implemented");
  for (const char* verb : {"RETR", "STOR", "DELE", "RNFR", "RNTO", "SIZE", "MDTM"}) {
    CAPTURE(verb);
    CHECK(c.command(verb) == "501 Missing filename");
  }
  for (const char* verb : {"MKD", "RMD", "CWD"}) {
    CAPTURE(verb);
    CHECK(c.command(verb) == "501 Missing directory name");
  }
  CHECK(c.command("NOOP") == "200 OK");
}

// ---- navigation ---------------------------------------------------------------------------

TEST_CASE_TEMPLATE("server: PWD, CWD and CDUP", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.mkdir("/pub");
  e.srv.mkdir("/pub/deep");
  e.srv.put("/file.txt", "f");
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("PWD") == "257 \"/\" is the current directory");
  CHECK(c.command("CDUP") == "550 Cannot go up");
  CHECK(c.command("CWD pub") == "250 Directory changed successfully");
  CHECK(c.command("PWD") == "257 \"/pub\" is the current directory");
  CHECK(c.command("CWD deep") == "250 Directory changed successfully");
  CHECK(c.command("XPWD") == "257 \"/pub/deep\" is the current directory");
  CHECK(c.command("CDUP") == "200 Directory changed to parent");
  CHECK(c.command("PWD") == "257 \"/pub\" is the current directory");
  CHECK(c.command("CWD missing") == "550 Directory not found");
  CHECK(c.command("CWD /file.txt") == "550 Directory not found");
  CHECK(c.command("PWD") == "257 \"/pub\" is the current directory");
  CHECK(c.command("CWD /pub/./deep/../deep/") == "250 Directory changed successfully");
  CHECK(c.command("PWD") == "257 \"/pub/deep\" is the current directory");
  CHECK(c.command("CWD ../../../..") == "250 Directory changed successfully");
  CHECK(c.command("PWD") == "257 \"/\" is the current directory");
  CHECK(c.command("XCWD pub") == "250 Directory changed successfully");
  CHECK(c.command("XCUP") == "200 Directory changed to parent");
  CHECK(c.command("PWD") == "257 \"/\" is the current directory");
}

TEST_CASE("issue #19 - server: CWD and CDUP into a directory the server may not enter answer 550") {
  env<local_backend> e;
  e.srv.mkdir("/closed");
  e.srv.mkdir("/open");
  e.srv.mkdir("/open/inner");
  e.srv.mkdir("/search_only");
  const auto root = e.backend.root();
  ::chmod((root / "closed").c_str(), 0);
  ::chmod((root / "search_only").c_str(), 0111);
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("CWD search_only") == "250 Directory changed successfully");  // search is all it takes
  CHECK(c.command("CWD /") == "250 Directory changed successfully");
  if (::geteuid() == 0) {
    MESSAGE("skipped: running as root, which may enter any directory (the interop test "
            "CwdPermissionTests checks this through coftp-server --run-as)");
  } else {
    CHECK(c.command("CWD closed") == "550 Access denied");
    CHECK(c.command("XCWD /closed") == "550 Access denied");
    CHECK(c.command("PWD") == "257 \"/\" is the current directory");
    CHECK(c.command("CWD open/inner") == "250 Directory changed successfully");
    ::chmod((root / "open").c_str(), 0);  // closed while a session is inside
    CHECK(c.command("CDUP") == "550 Access denied");
    CHECK(c.command("PWD") == "257 \"/open/inner\" is the current directory");
    ::chmod((root / "open").c_str(), 0755);
    CHECK(c.command("CDUP") == "200 Directory changed to parent");
    CHECK(c.command("PWD") == "257 \"/open\" is the current directory");
  }
  for (const char* d : {"closed", "search_only"}) ::chmod((root / d).c_str(), 0755);
}

TEST_CASE_TEMPLATE("server: PWD doubles quotes in directory names", B, memory_backend, local_backend) {
  env<B> e;
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("MKD say \"hi\"") == "257 \"/say \"\"hi\"\"\" directory created");
  CHECK(c.command("CWD say \"hi\"") == "250 Directory changed successfully");
  CHECK(c.command("PWD") == "257 \"/say \"\"hi\"\"\" is the current directory");
  CHECK(c.command("MKD x\"") == "257 \"/say \"\"hi\"\"/x\"\"\" directory created");
}

// ---- passive mode and listings ------------------------------------------------------------

TEST_CASE_TEMPLATE("server: PASV and EPSV replies and data connections", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.put("/a.txt", "alpha");
  ftp_client c{e.srv.endpoint()};
  login(c);

  auto pasv = c.command("PASV");
  CHECK(pasv.starts_with("227 Entering Passive Mode (127,0,0,1,"));
  CHECK(pasv.ends_with(")"));
  auto pasv_ep = ftp_client::parse_227(pasv);
  REQUIRE_MESSAGE(pasv_ep, pasv);
  CHECK(pasv_ep->address() == asio::ip::make_address("127.0.0.1"));
  CHECK(pasv_ep->port() != 0);

  auto epsv = c.command("EPSV");
  CHECK(epsv.starts_with("229 Entering Extended Passive Mode (|||"));
  CHECK(epsv.ends_with("|)"));
  auto epsv_ep = c.parse_229(epsv);
  REQUIRE_MESSAGE(epsv_ep, epsv);
  CHECK(epsv_ep->port() != 0);
  CHECK(epsv == "229 Entering Extended Passive Mode (|||" + std::to_string(epsv_ep->port()) + "|)");
  CHECK(c.command("EPSV 1").starts_with("229 Entering Extended Passive Mode (|||"));
  CHECK(c.command("EPSV 3") == "522 Network protocol not supported, use (1,2)");

  CHECK(c.command("TYPE I") == "200 Type set to I");
  CHECK(c.retr("a.txt", passive_mode::pasv) == "alpha");
  CHECK(c.last_preliminary() == "150 Opening data connection (5 bytes)");
  CHECK(c.last_reply() == "226 Transfer complete");
  CHECK(c.retr("a.txt", passive_mode::epsv) == "alpha");
  CHECK(c.last_reply() == "226 Transfer complete");
  CHECK(lines_of(c.list("", passive_mode::epsv)).size() == 1);
  CHECK(c.last_reply() == "226 Directory listing sent");

  // One data connection per transfer: the listener is gone after use.
  CHECK(c.command("RETR a.txt") == "425 Use PASV or EPSV first");
}

TEST_CASE_TEMPLATE("server: a new PASV replaces the previous listener", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.put("/a.txt", "alpha");
  ftp_client c{e.srv.endpoint()};
  login(c);
  auto first = ftp_client::parse_227(c.command("PASV"));
  REQUIRE(first);
  auto second = ftp_client::parse_227(c.command("PASV"));
  REQUIRE(second);
  asio::io_context io;
  if (first->port() != second->port())
    CHECK_THROWS_AS(blocking_socket(io, *first, 2000ms), std::system_error);  // refused: closed
  auto third = c.parse_229(c.command("EPSV"));
  REQUIRE(third);
  if (second->port() != third->port()) CHECK_THROWS_AS(blocking_socket(io, *second, 2000ms), std::system_error);
  CHECK(c.retr("a.txt") == "alpha");
  CHECK(c.last_reply() == "226 Transfer complete");
}

TEST_CASE_TEMPLATE("server: LIST", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.put("/b.txt", "bbb");
  e.srv.put("/a.txt", "a");
  e.srv.put("/Zeta", "");
  e.srv.mkdir("/sub");
  e.srv.put("/sub/inner.txt", "inner");
  ftp_client c{e.srv.endpoint()};

  CHECK(c.command("LIST") == "530 Not logged in");
  login(c);
  CHECK(c.command("LIST") == "425 Use PASV or EPSV first");

  auto check_root = [&](const string& listing) {
    auto lines = lines_of(listing);
    REQUIRE(lines.size() == 4);
    std::vector<string> names;
    for (const auto& l : lines) names.push_back(list_name(l));
    CHECK(names == std::vector<string>{"Zeta", "a.txt", "b.txt", "sub"});
    CHECK(lines[0].starts_with("-"));
    CHECK(lines[3].starts_with("d"));
    // Size column for b.txt
    CHECK(lines[2].find(" 3 ") != string::npos);
  };
  check_root(c.list());
  CHECK(c.last_preliminary() == "150 Opening data connection for directory listing");
  CHECK(c.last_reply() == "226 Directory listing sent");
  check_root(c.list("-la"));
  CHECK(c.last_reply() == "226 Directory listing sent");
  check_root(c.list("-l -a /"));
  CHECK(c.last_reply() == "226 Directory listing sent");

  auto sub = lines_of(c.list("sub"));
  REQUIRE(sub.size() == 1);
  CHECK(list_name(sub[0]) == "inner.txt");
  sub = lines_of(c.list("-la sub"));
  REQUIRE(sub.size() == 1);
  CHECK(list_name(sub[0]) == "inner.txt");

  auto file = lines_of(c.list("a.txt"));
  REQUIRE(file.size() == 1);
  CHECK(list_name(file[0]) == "a.txt");
  CHECK(file[0].starts_with("-"));
  CHECK(c.last_reply() == "226 Directory listing sent");
  file = lines_of(c.list("/sub/inner.txt"));
  REQUIRE(file.size() == 1);
  CHECK(list_name(file[0]) == "inner.txt");

  CHECK(c.command("MKD empty") == "257 \"/empty\" directory created");
  CHECK(c.list("empty") == "");
  CHECK(c.last_reply() == "226 Directory listing sent");

  CHECK(c.list("missing") == "");
  CHECK(c.last_preliminary() == "");
  CHECK(c.last_reply() == "550 Directory not found");

  CHECK(c.command("CWD sub") == "250 Directory changed successfully");
  sub = lines_of(c.list());
  REQUIRE(sub.size() == 1);
  CHECK(list_name(sub[0]) == "inner.txt");
}

TEST_CASE_TEMPLATE("server: NLST", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.put("/b.txt", "bbb");
  e.srv.put("/a.txt", "a");
  e.srv.mkdir("/sub");
  e.srv.put("/sub/inner.txt", "inner");
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("NLST") == "425 Use PASV or EPSV first");
  CHECK(c.nlst() == "a.txt\r\nb.txt\r\nsub\r\n");
  CHECK(c.last_preliminary() == "150 Opening data connection for directory listing");
  CHECK(c.last_reply() == "226 Directory listing sent");
  CHECK(c.nlst("sub") == "sub/inner.txt\r\n");  // names as RETR takes them
  CHECK(c.nlst("-a sub/") == "sub/inner.txt\r\n");
  CHECK(c.nlst("sub/inner.txt") == "sub/inner.txt\r\n");
  CHECK(c.nlst("missing") == "");
  CHECK(c.last_reply() == "550 Directory not found");
}

// ---- transfers --------------------------------------------------------------------------

TEST_CASE_TEMPLATE("server: RETR", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.put("/hello.txt", "hello");
  e.srv.mkdir("/dir");
  ftp_client c{e.srv.endpoint()};
  CHECK(c.command("RETR hello.txt") == "530 Not logged in");
  login(c);
  CHECK(c.command("RETR hello.txt") == "425 Use PASV or EPSV first");
  CHECK(c.retr("hello.txt") == "hello");
  CHECK(c.last_preliminary() == "150 Opening data connection (5 bytes)");
  CHECK(c.last_reply() == "226 Transfer complete");
  CHECK(c.retr("/hello.txt") == "hello");
  CHECK(c.retr("missing.txt") == "");
  CHECK(c.last_preliminary() == "");
  CHECK(c.last_reply() == "550 File not found");
  CHECK(c.retr("dir") == "");
  CHECK(c.last_reply() == "550 Is a directory");
  CHECK(c.retr("dir/missing") == "");
  CHECK(c.last_reply() == "550 File not found");
  // A refused RETR leaves the listener for the next command.
  CHECK(c.open_passive().starts_with("227 "));
  CHECK(c.command("RETR missing.txt") == "550 File not found");
  CHECK(c.command("RETR hello.txt") == "150 Opening data connection (5 bytes)");
  CHECK(c.data().read_all() == "hello");
  CHECK(c.read_reply() == "226 Transfer complete");
}

TEST_CASE_TEMPLATE("server: STOR", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.mkdir("/dir");
  e.srv.put("/old.txt", "old content");
  ftp_client c{e.srv.endpoint()};
  CHECK(c.command("STOR x.txt") == "530 Not logged in");
  login(c);
  CHECK(c.command("TYPE I") == "200 Type set to I");
  CHECK(c.command("STOR x.txt") == "425 Use PASV or EPSV first");
  CHECK(c.stor("x.txt", "hello world") == "226 Transfer complete (11 bytes received)");
  CHECK(c.last_preliminary() == "150 Ready to receive");
  CHECK(e.srv.get("/x.txt") == "hello world");
  CHECK(c.stor("old.txt", "new") == "226 Transfer complete (3 bytes received)");
  CHECK(e.srv.get("/old.txt") == "new");
  CHECK(c.stor("dir/in.txt", "in", passive_mode::epsv) == "226 Transfer complete (2 bytes received)");
  CHECK(e.srv.get("/dir/in.txt") == "in");
  CHECK(c.stor("nodir/in.txt", "in") == "550 Directory not found");
  CHECK(c.last_preliminary() == "");
  CHECK(!e.srv.get("/nodir/in.txt"));
  CHECK(c.stor("dir", "x") == "550 Is a directory");
  CHECK(c.stor("empty.txt", "") == "226 Transfer complete (0 bytes received)");
  CHECK(e.srv.get("/empty.txt") == "");

  ftp_client anon{e.srv.endpoint()};
  login(anon, "anonymous", "x");
  CHECK(anon.stor("anon.txt", "x") == "550 Permission denied");
  CHECK(anon.command("STOR anon.txt") == "550 Permission denied");
  CHECK(!e.srv.get("/anon.txt"));
}

TEST_CASE_TEMPLATE("server: TYPE A converts line endings on the wire", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.put("/unix.txt", "one\ntwo\n\nthree");
  ftp_client c{e.srv.endpoint()};
  login(c);
  // TYPE A is the default (RFC 959 3.1.1.1).
  CHECK(c.retr("unix.txt") == "one\r\ntwo\r\n\r\nthree");
  CHECK(c.last_reply() == "226 Transfer complete");
  CHECK(c.command("TYPE A") == "200 Type set to A");
  CHECK(c.retr("unix.txt") == "one\r\ntwo\r\n\r\nthree");

  CHECK(c.stor("wire.txt", "alpha\r\nbeta\r\n") == "226 Transfer complete (13 bytes received)");
  CHECK(e.srv.get("/wire.txt") == "alpha\nbeta\n");
  // A CR not followed by LF is kept as it is.
  CHECK(c.stor("cr.txt", "a\rb\r\n\r") == "226 Transfer complete (6 bytes received)");
  CHECK(e.srv.get("/cr.txt") == "a\rb\n\r");

  CHECK(c.command("TYPE I") == "200 Type set to I");
  CHECK(c.retr("unix.txt") == "one\ntwo\n\nthree");
  CHECK(c.retr("wire.txt") == "alpha\nbeta\n");
  CHECK(c.stor("bin.txt", "x\r\ny\n") == "226 Transfer complete (5 bytes received)");
  CHECK(e.srv.get("/bin.txt") == "x\r\ny\n");
}

TEST_CASE_TEMPLATE("server: binary transfers keep every byte", B, memory_backend, local_backend) {
  env<B> e;
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("TYPE I") == "200 Type set to I");
  std::uint64_t seed = 1;
  for (std::size_t n : {std::size_t(0), std::size_t(1), std::size_t(8191), std::size_t(8192), std::size_t(8193),
                        std::size_t(1) << 20, std::size_t(64) << 20}) {
    CAPTURE(n);
    auto data = random_bytes(n, seed++);
    string name = "f" + std::to_string(n) + ".bin";
    CHECK(c.stor(name, data) == "226 Transfer complete (" + std::to_string(n) + " bytes received)");
    CHECK(c.command("SIZE " + name) == "213 " + std::to_string(n));
    auto back = c.retr(name, n % 2 ? passive_mode::epsv : passive_mode::pasv);
    CHECK(c.last_preliminary() == "150 Opening data connection (" + std::to_string(n) + " bytes)");
    CHECK(c.last_reply() == "226 Transfer complete");
    CHECK(back.size() == n);
    CHECK(back == data);
    if (n <= 8193) CHECK(e.srv.get("/" + name) == data);
  }
}

TEST_CASE_TEMPLATE("server: ABOR during a large RETR", B, memory_backend, local_backend) {
  env<B> e;
  const auto big = random_bytes(std::size_t(32) << 20, 42);
  e.srv.put("/big.bin", big);
  e.srv.put("/small.txt", "small");
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("TYPE I") == "200 Type set to I");
  REQUIRE(c.open_passive().starts_with("227 "));
  CHECK(c.command("RETR big.bin") == "150 Opening data connection (33554432 bytes)");
  auto head = c.data().read_exactly(1 << 20);
  CHECK(head == big.substr(0, 1 << 20));

  SUBCASE("plain ABOR") { c.send_raw("ABOR\r\n"); }
  SUBCASE("ABOR after telnet IP and DM, as RFC 959 clients send it") { c.send_raw("\xff\xf4\xff\xf2" "ABOR\r\n"); }

  // The client stops reading the data connection; the server must not wait for it.
  CHECK(c.read_reply() == "426 Connection closed; transfer aborted");
  CHECK(c.read_reply() == "226 Abort successful");
  c.data().close();
  CHECK(c.command("NOOP") == "200 OK");
  CHECK(c.retr("small.txt") == "small");
  CHECK(c.last_reply() == "226 Transfer complete");
}

// ---- bandwidth limits (throttle.hpp) --------------------------------------------------------

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

// The rate holds over the transfer: never faster than the limit allows (the burst of a
// tenth of a second aside), and not much slower. Loopback moves these sizes in a few
// milliseconds unthrottled, so the lower bound tells the limit is there.
TEST_CASE_TEMPLATE("server: a session's download and upload rate limits hold", B, memory_backend, local_backend) {
  auto o = test_options();
  o.session_rate = {256 * 1024, 256 * 1024};
  env<B> e(o);
  const auto body = random_bytes(384 * 1024, 7);
  e.srv.put("/f.bin", body);
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("TYPE I") == "200 Type set to I");
  const double expected = (384.0 - 25.6) / 256.0;  // the first burst goes at once

  auto t0 = std::chrono::steady_clock::now();
  CHECK(c.retr("f.bin") == body);
  double took = seconds_since(t0);
  CHECK(c.last_reply() == "226 Transfer complete");
  CHECK(took >= expected * 0.9);
  CHECK(took <= expected * 1.8);

  t0 = std::chrono::steady_clock::now();
  CHECK(c.stor("up.bin", body) == "226 Transfer complete (393216 bytes received)");
  took = seconds_since(t0);
  CHECK(e.srv.get("/up.bin") == body);
  CHECK(took >= expected * 0.9);
  CHECK(took <= expected * 1.8);

  // Listings are not file transfers: not throttled.
  t0 = std::chrono::steady_clock::now();
  CHECK(lines_of(c.list()).size() == 2);
  CHECK(seconds_since(t0) < 0.5);
}

// A user's limit is shared by all its sessions: two downloads at once take as long as
// both files at the user's rate; another user is not slowed.
TEST_CASE_TEMPLATE("server: a user's rate limit is shared by its sessions", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.users().add("slow", "pw", coftp::permissions::all, "/", coftp::rate_limits{512 * 1024, 0});
  const auto body = random_bytes(384 * 1024, 8);
  e.srv.put("/f.bin", body);
  auto download = [&](std::string user, std::string pass, bool& same) {
    ftp_client c{e.srv.endpoint()};
    if (c.login(user, pass) != "230 Login successful") return;
    c.command("TYPE I");
    same = c.retr("f.bin") == body && c.last_reply() == "226 Transfer complete";
  };
  bool a = false, b = false, fast = false;
  auto t0 = std::chrono::steady_clock::now();
  std::thread ta([&] { download("slow", "pw", a); });
  std::thread tb([&] { download("slow", "pw", b); });
  ta.join();
  tb.join();
  double both = seconds_since(t0);
  CHECK(a);
  CHECK(b);
  const double expected = (2 * 384.0 - 51.2) / 512.0;  // 1.4 s; one alone would take 0.65 s
  CHECK(both >= expected * 0.9);
  CHECK(both <= expected * 1.8);

  t0 = std::chrono::steady_clock::now();
  download("test", "secret", fast);
  CHECK(fast);
  CHECK(seconds_since(t0) < 0.5);
}

// ABOR cuts a throttled transfer at once, during its wait.
TEST_CASE_TEMPLATE("server: ABOR cuts a throttled download promptly", B, memory_backend, local_backend) {
  auto o = test_options();
  o.session_rate = {64 * 1024, 0};
  env<B> e(o);
  e.srv.put("/f.bin", random_bytes(1 << 20, 9));  // 16 s at this rate
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("TYPE I") == "200 Type set to I");
  REQUIRE(c.open_passive().starts_with("227 "));
  CHECK(c.command("RETR f.bin") == "150 Opening data connection (1048576 bytes)");
  CHECK(c.data().read_exactly(8192).size() == 8192);
  auto t0 = std::chrono::steady_clock::now();
  c.send_raw("ABOR\r\n");
  CHECK(c.read_reply() == "426 Connection closed; transfer aborted");
  CHECK(c.read_reply() == "226 Abort successful");
  CHECK(seconds_since(t0) < 1.0);
  c.data().close();
  CHECK(c.command("NOOP") == "200 OK");
}

// RFC 959 4.1.1: "if file transfer is in progress, the connection will remain open for
// result response and the server will then close it."
TEST_CASE_TEMPLATE("server: QUIT during a RETR lets it finish, then ends the session", B, memory_backend,
                   local_backend) {
  env<B> e;
  const auto big = random_bytes(std::size_t(32) << 20, 43);
  e.srv.put("/big.bin", big);
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("TYPE I") == "200 Type set to I");
  REQUIRE(c.open_passive(passive_mode::epsv).starts_with("229 "));
  CHECK(c.command("RETR big.bin") == "150 Opening data connection (33554432 bytes)");
  CHECK(c.data().read_exactly(1 << 20) == big.substr(0, 1 << 20));
  c.send_raw("QUIT\r\n");
  CHECK(c.data().read_all() == big.substr(1 << 20));
  CHECK(c.read_reply() == "226 Transfer complete");
  CHECK(c.read_reply() == "221 Goodbye");
  CHECK(c.wait_closed());
  CHECK(wait_until([&] { return e.srv.server().session_count() == 0; }));
}

TEST_CASE_TEMPLATE("server: QUIT then a closed data connection cuts the RETR and ends the session", B,
                   memory_backend, local_backend) {
  env<B> e;
  const auto big = random_bytes(std::size_t(32) << 20, 44);
  e.srv.put("/big.bin", big);
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("TYPE I") == "200 Type set to I");
  REQUIRE(c.open_passive(passive_mode::epsv).starts_with("229 "));
  CHECK(c.command("RETR big.bin") == "150 Opening data connection (33554432 bytes)");
  CHECK(c.data().read_exactly(1 << 20) == big.substr(0, 1 << 20));
  c.send_raw("QUIT\r\n");
  c.data().close();
  CHECK(c.read_reply() == "426 Connection closed; transfer aborted");
  CHECK(c.read_reply() == "221 Goodbye");
  CHECK(c.wait_closed());
  CHECK(wait_until([&] { return e.srv.server().session_count() == 0; }));
}

TEST_CASE_TEMPLATE("server: ABOR without a transfer", B, memory_backend, local_backend) {
  env<B> e;
  ftp_client c{e.srv.endpoint()};
  CHECK(c.command("ABOR") == "225 No transfer to abort");
  login(c);
  CHECK(c.command("ABOR") == "225 No transfer to abort");
  CHECK(c.open_passive().starts_with("227 "));
  CHECK(c.command("ABOR") == "225 No transfer to abort");
  CHECK(c.command("NOOP") == "200 OK");
}

TEST_CASE_TEMPLATE("server: commands sent during a transfer are answered after it", B, memory_backend,
                   local_backend) {
  env<B> e;
  const auto data = random_bytes(std::size_t(4) << 20, 7);
  e.srv.put("/d.bin", data);
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("TYPE I") == "200 Type set to I");
  REQUIRE(c.open_passive().starts_with("227 "));
  c.send_raw("RETR d.bin\r\nNOOP\r\nSYST\r\n");
  CHECK(c.read_reply() == "150 Opening data connection (4194304 bytes)");
  CHECK(c.data().read_all() == data);
  CHECK(c.read_reply() == "226 Transfer complete");
  CHECK(c.read_reply() == "200 OK");
  CHECK(c.read_reply() == "215 UNIX Type: L8");
}

TEST_CASE_TEMPLATE("server: ABOR behind a queued command still cuts the transfer", B, memory_backend,
                   local_backend) {
  env<B> e;
  const auto big = random_bytes(std::size_t(32) << 20, 45);
  e.srv.put("/big.bin", big);
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("TYPE I") == "200 Type set to I");
  REQUIRE(c.open_passive().starts_with("227 "));
  CHECK(c.command("RETR big.bin") == "150 Opening data connection (33554432 bytes)");
  CHECK(c.data().read_exactly(1 << 20) == big.substr(0, 1 << 20));
  c.send_raw("NOOP\r\nABOR\r\n");  // the client stops reading data
  CHECK(c.read_reply() == "426 Connection closed; transfer aborted");
  CHECK(c.read_reply() == "226 Abort successful");
  CHECK(c.read_reply() == "200 OK");
  CHECK(c.command("SYST") == "215 UNIX Type: L8");
}

// ---- file management --------------------------------------------------------------------

TEST_CASE_TEMPLATE("server: DELE", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.put("/a.txt", "a");
  e.srv.mkdir("/dir");
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("DELE a.txt") == "250 File deleted");
  CHECK(!e.srv.get("/a.txt"));
  CHECK(c.command("DELE a.txt") == "550 File not found");
  CHECK(c.command("DELE dir") == "550 Is a directory, use RMD");
  CHECK(c.command("SIZE dir") == "550 Is a directory");
  CHECK(c.command("DELE /") == "550 Is a directory, use RMD");
}

TEST_CASE_TEMPLATE("server: MKD and RMD", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.put("/file.txt", "f");
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("MKD newdir") == "257 \"/newdir\" directory created");
  CHECK(c.command("MKD newdir") == "550 Directory already exists");
  CHECK(c.command("MKD /newdir/") == "550 Directory already exists");
  CHECK(c.command("CWD newdir") == "250 Directory changed successfully");
  CHECK(c.command("MKD inner") == "257 \"/newdir/inner\" directory created");
  CHECK(c.command("XMKD inner2") == "257 \"/newdir/inner2\" directory created");
  CHECK(c.command("XRMD inner2") == "250 Directory removed");
  CHECK(c.command("CDUP") == "200 Directory changed to parent");
  CHECK(c.command("MKD nope/deeper").starts_with("550 "));
  CHECK(c.command("RMD newdir") == "550 Directory not empty");
  CHECK(c.command("RMD file.txt") == "550 Not a directory");
  CHECK(c.command("RMD missing") == "550 Directory not found");
  CHECK(c.command("RMD /") == "550 Permission denied");
  CHECK(c.command("RMD newdir/inner") == "250 Directory removed");
  CHECK(c.command("RMD newdir") == "250 Directory removed");
  CHECK(c.command("CWD newdir") == "550 Directory not found");
  CHECK(c.command("MKD file.txt") == "550 Directory already exists");
}

TEST_CASE_TEMPLATE("server: RNFR and RNTO", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.put("/a.txt", "a");
  e.srv.put("/b.txt", "b");
  e.srv.mkdir("/dir");
  ftp_client c{e.srv.endpoint()};
  login(c);

  CHECK(c.command("RNFR") == "501 Missing filename");
  CHECK(c.command("RNTO x.txt") == "503 RNFR required first");
  CHECK(c.command("RNFR missing.txt") == "550 File not found");
  CHECK(c.command("RNTO x.txt") == "503 RNFR required first");

  CHECK(c.command("RNFR a.txt") == "350 Ready for RNTO");
  CHECK(c.command("RNTO c.txt") == "250 Rename successful");
  CHECK(!e.srv.get("/a.txt"));
  CHECK(e.srv.get("/c.txt") == "a");
  CHECK(c.command("RNTO d.txt") == "503 RNFR required first");  // used up

  CHECK(c.command("RNFR c.txt") == "350 Ready for RNTO");
  CHECK(c.command("RNTO b.txt") == "550 Destination already exists");
  CHECK(e.srv.get("/b.txt") == "b");
  CHECK(e.srv.get("/c.txt") == "a");

  CHECK(c.command("RNFR c.txt") == "350 Ready for RNTO");
  CHECK(c.command("RNTO") == "501 Missing filename");

  // Any other command in between cancels the rename.
  CHECK(c.command("RNFR c.txt") == "350 Ready for RNTO");
  CHECK(c.command("NOOP") == "200 OK");
  CHECK(c.command("RNTO e.txt") == "503 RNFR required first");
  CHECK(e.srv.get("/c.txt") == "a");
  CHECK(c.command("RNFR c.txt") == "350 Ready for RNTO");
  CHECK(c.command("FOO") == "500 Unknown command");
  CHECK(c.command("RNTO e.txt") == "503 RNFR required first");
  // ... and so does a line that is no command at all.
  CHECK(c.command("RNFR c.txt") == "350 Ready for RNTO");
  CHECK(c.command(string("NO\0OP", 5)) == "501 NUL byte in command line");
  CHECK(c.command("RNTO e.txt") == "503 RNFR required first");
  CHECK(e.srv.get("/c.txt") == "a");

  // Directories move with their content.
  e.srv.put("/dir/in.txt", "in");
  CHECK(c.command("RNFR dir") == "350 Ready for RNTO");
  CHECK(c.command("RNTO moved") == "250 Rename successful");
  CHECK(e.srv.get("/moved/in.txt") == "in");
  CHECK(c.command("RNFR c.txt") == "350 Ready for RNTO");
  CHECK(c.command("RNTO moved/c.txt") == "250 Rename successful");
  CHECK(e.srv.get("/moved/c.txt") == "a");
  CHECK(c.command("RNFR /") == "550 Permission denied");

  // The source vanishes between RNFR and RNTO.
  ftp_client other{e.srv.endpoint()};
  login(other);
  CHECK(c.command("RNFR b.txt") == "350 Ready for RNTO");
  CHECK(other.command("DELE b.txt") == "250 File deleted");
  CHECK(c.command("RNTO f.txt") == "550 Source file not found");
  CHECK(!e.srv.get("/f.txt"));
}

TEST_CASE_TEMPLATE("server: SIZE and MDTM", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.put("/five.txt", "12345");
  e.srv.put("/lines.txt", "a\nb\n");
  e.srv.mkdir("/dir");
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("SIZE five.txt") == "213 5");
  CHECK(c.command("SIZE lines.txt") == "213 4");
  CHECK(c.command("SIZE missing") == "550 File not found");
  CHECK(c.command("SIZE dir") == "550 Is a directory");

  auto r = c.command("MDTM five.txt");
  REQUIRE_MESSAGE(r.size() == 18, r);
  REQUIRE_MESSAGE(r.starts_with("213 "), r);
  auto digits = r.substr(4);
  REQUIRE_MESSAGE(std::all_of(digits.begin(), digits.end(), [](char ch) { return ch >= '0' && ch <= '9'; }), r);
  std::tm tm{};
  tm.tm_year = std::stoi(digits.substr(0, 4)) - 1900;
  tm.tm_mon = std::stoi(digits.substr(4, 2)) - 1;
  tm.tm_mday = std::stoi(digits.substr(6, 2));
  tm.tm_hour = std::stoi(digits.substr(8, 2));
  tm.tm_min = std::stoi(digits.substr(10, 2));
  tm.tm_sec = std::stoi(digits.substr(12, 2));
  auto t = ::timegm(&tm);  // UTC
  auto now = std::time(nullptr);
  CHECK(t <= now + 5);
  CHECK(t >= now - 600);
  CHECK(c.command("MDTM missing") == "550 File not found");
}

// ---- bad input ----------------------------------------------------------------------------

TEST_CASE_TEMPLATE("server: an oversized command line gets 500", B, memory_backend, local_backend) {
  env<B> e;
  ftp_client c{e.srv.endpoint()};
  login(c);
  c.send_raw(string(5000, 'A') + "\r\n");
  CHECK(c.read_reply() == "500 Command line too long");
  CHECK(c.command("NOOP") == "200 OK");
  // A long argument after a real verb, and a line far beyond the limit.
  c.send_raw("CWD " + string(4100, 'x') + "\r\n");
  CHECK(c.read_reply() == "500 Command line too long");
  c.send_raw("NOOP " + string(1 << 20, 'y') + "\r\nSYST\r\n");
  CHECK(c.read_reply() == "500 Command line too long");
  CHECK(c.read_reply() == "215 UNIX Type: L8");
  CHECK(c.command("PWD") == "257 \"/\" is the current directory");
  // Just below the limit is fine.
  // (a 4000-byte name is too long for a file system: local_fs says 553)
  auto r = c.command("CWD " + string(4000, 'x'));
  CHECK((r == "550 Directory not found" || r == "553 File name not allowed"));
}

TEST_CASE_TEMPLATE("server: NUL bytes, bad UTF-8, telnet bytes and stray CR get clear replies", B,
                   memory_backend, local_backend) {
  env<B> e;
  e.srv.mkdir("/dir");
  ftp_client c{e.srv.endpoint()};
  login(c);
  c.send_raw(string("NOOP\0x\r\n", 8));
  CHECK(c.read_reply() == "501 NUL byte in command line");
  c.send_raw(string("CWD di\0r\r\n", 10));
  CHECK(c.read_reply() == "501 NUL byte in command line");
  CHECK(c.command("CWD \xc3\x28") == "501 Invalid characters in argument (UTF-8 expected)");
  CHECK(c.command("MKD \xed\xa0\x80") == "501 Invalid characters in argument (UTF-8 expected)");  // surrogate
  CHECK(c.command("MKD \xc0\xaf") == "501 Invalid characters in argument (UTF-8 expected)");      // overlong
  CHECK(c.command("MKD caf\xc3\xa9") == "257 \"/caf\xc3\xa9\" directory created");              // valid UTF-8
  CHECK(c.command("CWD caf\xc3\xa9") == "250 Directory changed successfully");
  CHECK(c.command("CWD /") == "250 Directory changed successfully");
  // Telnet: IAC IP IAC DM before a verb, IAC WILL x, and IAC IAC for a 0xFF byte.
  CHECK(c.command("\xff\xf4\xff\xf2NOOP") == "200 OK");
  CHECK(c.command("\xff\xfb\x01NOOP") == "200 OK");
  CHECK(c.command("NO\xff\xf1OP") == "200 OK");  // IAC NOP inside the verb
  CHECK(c.command("CWD \xff\xff").starts_with("501 "));  // a lone 0xFF byte is not UTF-8
  CHECK(c.command("\xff") == "500 Empty command");
  // A stray CR inside the argument.
  CHECK(c.command("CWD di\rr").starts_with("501 "));
  CHECK(c.command("") == "500 Empty command");
  CHECK(c.command("   ") == "500 Empty command");
  // A bare LF ends a line too.
  c.send_raw("NOOP\n");
  CHECK(c.read_reply() == "200 OK");
  CHECK(c.command("PWD") == "257 \"/\" is the current directory");
}

TEST_CASE_TEMPLATE("server: pipelined commands are answered in order", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.mkdir("/dir");
  ftp_client c{e.srv.endpoint()};
  c.send_raw("USER test\r\nPASS secret\r\nNOOP\r\nCWD dir\r\nPWD\r\nTYPE X\r\nSYST\r\nCDUP\r\nPWD\r\n");
  CHECK(c.read_reply() == "331 Username OK, need password");
  CHECK(c.read_reply() == "230 Login successful");
  CHECK(c.read_reply() == "200 OK");
  CHECK(c.read_reply() == "250 Directory changed successfully");
  CHECK(c.read_reply() == "257 \"/dir\" is the current directory");
  CHECK(c.read_reply() == "504 Unsupported TYPE");
  CHECK(c.read_reply() == "215 UNIX Type: L8");
  CHECK(c.read_reply() == "200 Directory changed to parent");
  CHECK(c.read_reply() == "257 \"/\" is the current directory");
  // A wrong password's delay holds back the replies behind it, in order.
  c.send_raw("USER test\r\nPASS bad\r\nNOOP\r\nQUIT\r\n");
  CHECK(c.read_reply() == "331 Username OK, need password");
  CHECK(c.read_reply() == "530 Login incorrect");
  CHECK(c.read_reply() == "200 OK");
  CHECK(c.read_reply() == "221 Goodbye");
  CHECK(c.wait_closed());
}

// ---- limits and timeouts ------------------------------------------------------------------

TEST_CASE("server: an idle control connection is closed with 421") {
  auto o = test_options();
  o.idle_timeout = 1s;
  test_server<coftp::memory_fs> srv{coftp::memory_fs{}, o};
  ftp_client idle{srv.endpoint()};
  ftp_client busy{srv.endpoint()};
  login(idle);
  auto t0 = steady::now();
  for (int i = 0; i < 6; ++i) {  // busy keeps talking past the idle time of `idle`
    std::this_thread::sleep_for(250ms);
    CHECK(busy.command("NOOP") == "200 OK");
  }
  CHECK(idle.read_reply() == "421 Timeout: closing control connection");
  auto waited = steady::now() - t0;
  CHECK(waited >= 900ms);
  CHECK(waited < 5s);
  CHECK(idle.wait_closed());
  CHECK(busy.read_reply() == "421 Timeout: closing control connection");
  CHECK(busy.wait_closed());
}

TEST_CASE("server: session limits answer 421") {
  SUBCASE("total") {
    auto o = test_options();
    o.max_sessions = 2;
    test_server<coftp::memory_fs> srv{coftp::memory_fs{}, o};
    auto a = std::make_unique<ftp_client>(srv.endpoint());
    ftp_client b{srv.endpoint()};
    CHECK(a->greeting() == "220 coftp test server ready");
    CHECK(b.greeting() == "220 coftp test server ready");
    ftp_client refused{srv.endpoint()};
    CHECK(refused.greeting() == "421 Too many connections, try again later");
    CHECK(refused.wait_closed());
    ftp_client other{srv.endpoint(), {.local_address = asio::ip::make_address("127.0.0.2")}};
    CHECK(other.greeting() == "421 Too many connections, try again later");
    // A freed slot is available again.
    CHECK(a->command("QUIT") == "221 Goodbye");
    CHECK(a->wait_closed());
    a.reset();
    CHECK(wait_until([&] { return srv.server().session_count() == 1; }));
    ftp_client again{srv.endpoint()};
    CHECK(again.greeting() == "220 coftp test server ready");
    CHECK(b.command("NOOP") == "200 OK");
  }
  SUBCASE("per address") {
    auto o = test_options();
    o.max_sessions_per_address = 1;
    test_server<coftp::memory_fs> srv{coftp::memory_fs{}, o};
    ftp_client a{srv.endpoint()};
    CHECK(a.greeting() == "220 coftp test server ready");
    ftp_client refused{srv.endpoint()};
    CHECK(refused.greeting() == "421 Too many connections, try again later");
    CHECK(refused.wait_closed());
    ftp_client other{srv.endpoint(), {.local_address = asio::ip::make_address("127.0.0.2")}};
    CHECK(other.greeting() == "220 coftp test server ready");
    CHECK(other.command("NOOP") == "200 OK");
    CHECK(a.command("NOOP") == "200 OK");
  }
}

TEST_CASE_TEMPLATE("server: a data connection from another address is refused", B, memory_backend,
                   local_backend) {
  auto o = test_options();
  o.data_timeout = 400ms;
  env<B> e{o};
  e.srv.put("/secret.txt", "secret data");
  ftp_client c{e.srv.endpoint()};
  login(c);
  auto ep = ftp_client::parse_227(c.command("PASV"));
  REQUIRE(ep);
  asio::io_context io;
  blocking_socket thief(io, *ep, 10000ms, asio::ip::make_address("127.0.0.2"));
  auto t0 = steady::now();
  CHECK(c.command("RETR secret.txt") == "425 Cannot open data connection");
  CHECK(steady::now() - t0 >= 350ms);
  string stolen;
  try {
    stolen = thief.read_all();
  } catch (const std::system_error&) {
    // reset: nothing was sent either
  }
  CHECK(stolen == "");
  CHECK(c.command("NOOP") == "200 OK");
  // The listener is gone; the right client can start again.
  CHECK(c.retr("secret.txt") == "secret data");
  CHECK(c.last_reply() == "226 Transfer complete");

  // The same for an upload: nothing is stored.
  ep = ftp_client::parse_227(c.command("PASV"));
  REQUIRE(ep);
  blocking_socket thief2(io, *ep, 10000ms, asio::ip::make_address("127.0.0.2"));
  try {
    thief2.write_all("evil");
    thief2.shutdown_send();
  } catch (const std::system_error&) {
  }
  CHECK(c.command("STOR secret.txt") == "425 Cannot open data connection");
  CHECK(e.srv.get("/secret.txt") == "secret data");
}

TEST_CASE_TEMPLATE("server: no data connection at all gets 425 after the data timeout", B, memory_backend,
                   local_backend) {
  auto o = test_options();
  o.data_timeout = 400ms;
  env<B> e{o};
  e.srv.put("/a.txt", "a");
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("PASV").starts_with("227 "));
  CHECK(c.command("LIST") == "425 Cannot open data connection");
  CHECK(c.command("EPSV").starts_with("229 "));
  CHECK(c.command("RETR a.txt") == "425 Cannot open data connection");
  CHECK(c.command("NOOP") == "200 OK");
}

// ---- sandbox ------------------------------------------------------------------------------

TEST_CASE("server: symlinks leading out of a local_fs root are not followed") {
  local_backend b;
  {
    std::ofstream(b.outside() / "secret.txt") << "top secret";
  }
  fs::create_directory(b.root() / "inside");
  {
    std::ofstream(b.root() / "inside" / "ok.txt") << "ok";
  }
  fs::create_directory_symlink(b.outside(), b.root() / "escape");           // absolute
  fs::create_directory_symlink("../outside", b.root() / "escape_rel");      // relative
  fs::create_symlink(b.outside() / "secret.txt", b.root() / "secret.link");  // a file
  fs::create_directory_symlink("inside", b.root() / "fine");                 // stays inside
  // A sibling sharing the root's name as a prefix ("root2" next to "root").
  fs::create_directory(b.dir.path() / "root2");
  {
    std::ofstream(b.dir.path() / "root2" / "x.txt") << "x";
  }

  test_server<coftp::local_fs> srv{b.make()};
  ftp_client c{srv.endpoint()};
  login(c);
  CHECK(c.command("TYPE I") == "200 Type set to I");
  std::vector<string> replies;
  auto cmd = [&](const string& line) {
    auto r = c.command(line);
    replies.push_back(r);
    return r;
  };

  for (string link : {"escape", "escape_rel"}) {
    CAPTURE(link);
    CHECK(cmd("CWD " + link).starts_with("550 "));
    CHECK(cmd("PWD") == "257 \"/\" is the current directory");
    CHECK(cmd("CWD " + link + "/").starts_with("550 "));
    // LIST either refuses, or describes the link itself, never the directory outside.
    for (string arg : {link, link + "/", "-la " + link}) {
      CAPTURE(arg);
      auto listing = c.list(arg);
      replies.push_back(c.last_reply());
      CHECK(listing.find("secret") == string::npos);
      if (c.last_reply() == "226 Directory listing sent") {
        auto lines = lines_of(listing);
        REQUIRE(lines.size() == 1);
        CHECK(lines[0].starts_with("l"));
        CHECK(list_name(lines[0]) == link);
      } else {
        CHECK(c.last_reply().starts_with("550 "));
      }
      auto names = c.nlst(arg);
      CHECK((names == "" || names == link + "\r\n"));
    }
    CHECK(c.retr(link + "/secret.txt") == "");
    replies.push_back(c.last_reply());
    CHECK(c.last_reply().starts_with("550 "));
    CHECK(c.stor(link + "/planted.txt", "evil").starts_with("550 "));
    replies.push_back(c.last_reply());
    CHECK(c.stor(link + "/secret.txt", "evil").starts_with("550 "));
    CHECK(cmd("SIZE " + link + "/secret.txt").starts_with("550 "));
    CHECK(cmd("MDTM " + link + "/secret.txt").starts_with("550 "));
    CHECK(cmd("DELE " + link + "/secret.txt").starts_with("550 "));
    CHECK(cmd("MKD " + link + "/newdir").starts_with("550 "));
    CHECK(cmd("RNFR " + link + "/secret.txt").starts_with("550 "));
    CHECK(cmd("RNFR secret.link") == "350 Ready for RNTO");  // the link itself may be renamed...
    CHECK(cmd("RNTO " + link + "/moved.txt").starts_with("550 "));  // ...but not moved out
  }
  CHECK(c.retr("secret.link") == "");
  replies.push_back(c.last_reply());
  CHECK(c.last_reply().starts_with("550 "));
  CHECK(c.stor("secret.link", "overwritten").starts_with("550 "));
  replies.push_back(c.last_reply());
  CHECK(cmd("SIZE secret.link") == "550 File not found");

  // Nothing outside changed.
  CHECK(fs::exists(b.outside() / "secret.txt"));
  std::ifstream in(b.outside() / "secret.txt");
  string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(content == "top secret");
  CHECK(!fs::exists(b.outside() / "planted.txt"));
  CHECK(!fs::exists(b.outside() / "newdir"));
  CHECK(!fs::exists(b.outside() / "moved.txt"));

  // ".." never leaves the root, and "root2" is not inside "root".
  CHECK(c.retr("../outside/secret.txt") == "");
  CHECK(c.last_reply() == "550 File not found");
  CHECK(c.retr("../root2/x.txt") == "");
  CHECK(c.last_reply() == "550 File not found");
  CHECK(c.retr("/../../../../etc/passwd") == "");
  CHECK(c.last_reply() == "550 File not found");

  // A link that stays beneath the root works.
  CHECK(cmd("CWD fine") == "250 Directory changed successfully");
  CHECK(c.retr("ok.txt") == "ok");
  CHECK(cmd("CDUP") == "200 Directory changed to parent");
  CHECK(c.retr("fine/ok.txt") == "ok");

  check_not_revealed(replies, b.dir.path().string());
  check_not_revealed(replies, "outside");
}

// ---- robustness -----------------------------------------------------------------------------

TEST_CASE_TEMPLATE("server: a client killed mid-STOR leaves the previous file intact", B, memory_backend,
                   local_backend) {
  env<B> e;
  const auto old = random_bytes(100000, 3);
  const auto fresh = random_bytes(std::size_t(8) << 20, 4);
  e.srv.put("/f.bin", old);
  e.srv.put("/other.bin", "other");
  auto c = std::make_unique<ftp_client>(e.srv.endpoint());
  login(*c);
  CHECK(c->command("TYPE I") == "200 Type set to I");
  REQUIRE(c->open_passive().starts_with("227 "));
  CHECK(c->command("STOR f.bin") == "150 Ready to receive");
  c->data().write_all(std::string_view(fresh).substr(0, fresh.size() / 2));

  SUBCASE("data connection reset, control connection alive") {
    c->data().reset();
    CHECK(c->read_reply() == "426 Connection closed; transfer aborted");
    CHECK(c->command("NOOP") == "200 OK");
    CHECK(c->retr("f.bin") == old);
    CHECK(c->last_reply() == "226 Transfer complete");
  }
  SUBCASE("both connections reset") {
    c->data().reset();
    c->control().reset();
    c.reset();
    CHECK(wait_until([&] { return e.srv.server().session_count() == 0; }));
  }
  SUBCASE("control connection reset first") {
    c->control().reset();
    c->data().reset();
    c.reset();
    CHECK(wait_until([&] { return e.srv.server().session_count() == 0; }));
  }
  CHECK(e.srv.get("/f.bin") == old);
  CHECK(e.srv.get("/other.bin") == "other");
  if constexpr (B::on_disk) {
    // No temporary upload file was left behind.
    std::set<string> names;
    for (const auto& entry : fs::directory_iterator(e.backend.root())) names.insert(entry.path().filename());
    CHECK(names == std::set<string>{"f.bin", "other.bin"});
  }
  // The server goes on serving.
  ftp_client d{e.srv.endpoint()};
  login(d);
  CHECK(d.command("TYPE I") == "200 Type set to I");
  CHECK(d.retr("f.bin") == old);
  CHECK(d.stor("f.bin", fresh) == "226 Transfer complete (8388608 bytes received)");
  CHECK(e.srv.get("/f.bin") == fresh);
}

namespace {
std::size_t open_descriptors() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}
}  // namespace

TEST_CASE_TEMPLATE("server: a client vanishing mid-RETR costs only its own session, no descriptor", B,
                   memory_backend, local_backend) {
  env<B> e;
  const auto big = random_bytes(std::size_t(16) << 20, 11);
  e.srv.put("/big.bin", big);
  ftp_client watcher{e.srv.endpoint()};
  login(watcher);
  REQUIRE(wait_until([&] { return e.srv.server().session_count() == 1; }));
  const auto baseline = open_descriptors();
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    auto c = std::make_unique<ftp_client>(e.srv.endpoint());
    login(*c);
    CHECK(c->command("TYPE I") == "200 Type set to I");
    REQUIRE(c->open_passive().starts_with("227 "));
    CHECK(c->command("RETR big.bin") == "150 Opening data connection (16777216 bytes)");
    CHECK(c->data().read_exactly(1 << 16).size() == 1 << 16);
    if (round == 0) {  // both connections reset
      c->data().reset();
      c->control().reset();
    } else if (round == 1) {  // control closed normally, data left open and unread
      c->control().close();
    } else {  // data reset, then the client answers nothing more
      c->data().reset();
      CHECK(c->read_reply() == "426 Connection closed; transfer aborted");
      c->control().reset();
    }
    c.reset();
    CHECK(wait_until([&] { return e.srv.server().session_count() == 1; }));
    CHECK(wait_until([&] { return open_descriptors() == baseline; }));
    CHECK(watcher.command("NOOP") == "200 OK");
  }
  CHECK(open_descriptors() == baseline);
  CHECK(watcher.command("TYPE I") == "200 Type set to I");
  CHECK(watcher.retr("big.bin") == big);
}

TEST_CASE_TEMPLATE("server: 200 concurrent sessions upload and download", B, memory_backend, local_backend) {
  env<B> e;
  constexpr int sessions = 200;
  std::atomic<int> arrived{0};
  std::atomic<bool> go{false};
  std::mutex mutex;
  std::vector<string> failures;
  std::vector<std::thread> threads;
  auto fail = [&](string what) {
    std::lock_guard lock(mutex);
    failures.push_back(std::move(what));
  };
  auto t0 = steady::now();
  for (int i = 0; i < sessions; ++i) {
    threads.emplace_back([&, i] {
      std::unique_ptr<ftp_client> c;
      bool arrived_here = false;
      auto arrive = [&] {
        if (!arrived_here) ++arrived;
        arrived_here = true;
      };
      try {
        c = std::make_unique<ftp_client>(e.srv.endpoint());
        auto r = c->login("test", "secret");
        arrive();
        if (r != "230 Login successful") throw std::runtime_error("login: " + r);
        // Everyone is connected and logged in before any transfer starts.
        for (int k = 0; k < 3000 && !go; ++k) std::this_thread::sleep_for(10ms);
        auto data = random_bytes(20000 + std::size_t(i) * 97, 1000 + std::uint64_t(i));
        auto name = "/s" + std::to_string(i) + ".bin";
        if (auto t = c->command("TYPE I"); t != "200 Type set to I") throw std::runtime_error("TYPE: " + t);
        auto s = c->stor(name, data, i % 2 ? passive_mode::epsv : passive_mode::pasv);
        if (s != "226 Transfer complete (" + std::to_string(data.size()) + " bytes received)")
          throw std::runtime_error("STOR: " + s);
        auto back = c->retr(name, i % 2 ? passive_mode::pasv : passive_mode::epsv);
        if (c->last_reply() != "226 Transfer complete") throw std::runtime_error("RETR: " + c->last_reply());
        if (back != data) throw std::runtime_error("RETR returned other bytes for " + name);
        if (auto q = c->command("QUIT"); q != "221 Goodbye") throw std::runtime_error("QUIT: " + q);
      } catch (const std::exception& ex) {
        arrive();
        fail("session " + std::to_string(i) + ": " + ex.what());
      }
    });
  }
  CHECK(wait_until([&] { return arrived == sessions; }, 30000ms));
  CHECK(e.srv.server().session_count() == sessions);
  go = true;
  for (auto& t : threads) t.join();
  auto took = steady::now() - t0;
  MESSAGE("200 sessions took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  for (const auto& f : failures) FAIL_CHECK(f);
  CHECK(failures.empty());
  CHECK(took < 60s);
  for (int i = 0; i < sessions; i += 37) {
    CAPTURE(i);
    CHECK(e.srv.get("/s" + std::to_string(i) + ".bin") == random_bytes(20000 + std::size_t(i) * 97, 1000 + std::uint64_t(i)));
  }
  CHECK(wait_until([&] { return e.srv.server().session_count() == 0; }));
}

// ---- graceful stop --------------------------------------------------------------------------

// One io_context per thread (set_session_contexts): sessions land on every context, work,
// and a graceful stop lets every thread finish once the last session has ended.
namespace {
// Records the threads sessions start on.
struct thread_recorder : coftp::null_observer {
  struct state {
    std::mutex mutex;
    std::set<std::thread::id> ids;
  };
  std::shared_ptr<state> st = std::make_shared<state>();
  void on_connect(const coftp::session_info&) {
    std::lock_guard lock(st->mutex);
    st->ids.insert(std::this_thread::get_id());
  }
};
}  // namespace

TEST_CASE("server: sessions spread over one io_context per thread, and a stop ends every thread") {
  using server_type = coftp::basic_server<test_policies<coftp::memory_fs, thread_recorder>>;
  asio::io_context listener(1);
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::io_context*> pointers;
  for (int i = 0; i < 3; ++i) {
    contexts.push_back(std::make_unique<asio::io_context>(1));
    pointers.push_back(contexts.back().get());
  }
  coftp::user_table users;
  users.add("test", "secret", coftp::permissions::all);
  thread_recorder recorder;
  server_type srv(listener, test_options(), coftp::memory_fs{}, users, recorder);
  srv.set_session_contexts(pointers);
  srv.start();
  std::vector<std::future<void>> done;
  std::vector<std::thread> threads;
  auto run = [&](asio::io_context& io) {
    auto p = std::make_shared<std::promise<void>>();
    done.push_back(p->get_future());
    threads.emplace_back([&io, p] {
      io.run();
      p->set_value();
    });
  };
  run(listener);
  for (auto& c : contexts) run(*c);

  const int clients = 12;
  std::atomic<int> ok{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < clients; ++i) {
    workers.emplace_back([&, i] {
      ftp_client c{srv.endpoint()};
      if (c.login("test", "secret") != "230 Login successful") return;
      c.command("TYPE I");
      auto body = random_bytes(200000 + static_cast<std::size_t>(i), static_cast<std::uint64_t>(i));
      auto name = "f" + std::to_string(i);
      if (c.stor(name, body) != "226 Transfer complete (" + std::to_string(body.size()) + " bytes received)") return;
      if (c.retr(name) == body && c.command("QUIT") == "221 Goodbye") ++ok;
    });
  }
  for (auto& w : workers) w.join();
  CHECK(ok == clients);

  // Round robin: every context's thread started sessions, the listener's none.
  {
    std::lock_guard lock(recorder.st->mutex);
    CHECK(recorder.st->ids.size() == 3);
    CHECK(recorder.st->ids.count(threads.front().get_id()) == 0);
  }
  ftp_client idle{srv.endpoint()};
  login(idle);

  srv.stop();
  CHECK(idle.read_reply() == "421 Server shutting down");
  CHECK(idle.wait_closed());
  bool all_finished = true;
  for (auto& f : done) all_finished = all_finished && f.wait_for(10s) == std::future_status::ready;
  CHECK(all_finished);
  if (!all_finished) {
    listener.stop();
    for (auto& c : contexts) c->stop();
  }
  for (auto& t : threads) t.join();
}

TEST_CASE("server: a graceful stop sends 421 to idle sessions") {
  test_server<coftp::memory_fs> srv{coftp::memory_fs{}};
  ftp_client a{srv.endpoint()};
  ftp_client b{srv.endpoint()};
  login(a);
  CHECK(b.command("USER test") == "331 Username OK, need password");  // half logged in
  auto ep = srv.endpoint();
  CHECK(srv.stop());
  CHECK(a.read_reply() == "421 Server shutting down");
  CHECK(a.wait_closed());
  CHECK(b.read_reply() == "421 Server shutting down");
  CHECK(b.wait_closed());
  CHECK_THROWS(ftp_client{ep});  // no longer accepting
}

TEST_CASE("server: a graceful stop lets a running transfer finish, then cuts it after the grace period") {
  auto o = test_options();
  o.shutdown_grace = 1s;
  test_server<coftp::memory_fs> srv{coftp::memory_fs{}, o};
  const auto big = random_bytes(std::size_t(16) << 20, 9);
  srv.put("/big.bin", big);
  ftp_client c{srv.endpoint()};
  login(c);
  CHECK(c.command("TYPE I") == "200 Type set to I");
  REQUIRE(c.open_passive().starts_with("227 "));
  CHECK(c.command("RETR big.bin") == "150 Opening data connection (16777216 bytes)");
  auto head = c.data().read_exactly(1 << 20);
  auto ep = srv.endpoint();
  auto stopped = std::async(std::launch::async, [&] { return srv.stop(); });
  // Once no new connection is accepted, the stop is under way.
  asio::io_context io;
  CHECK(wait_until([&] {
    try {
      blocking_socket probe(io, ep, 1000ms);
      return false;
    } catch (const std::exception&) {
      return true;
    }
  }));

  SUBCASE("the transfer finishes within the grace period") {
    auto rest = c.data().read_all();
    CHECK(head + rest == big);
    CHECK(c.read_reply() == "226 Transfer complete");
    CHECK(c.read_reply() == "421 Server shutting down");
    CHECK(c.wait_closed());
  }
  SUBCASE("a stalled transfer is cut after the grace period") {
    CHECK(c.read_reply() == "426 Server shutting down; transfer aborted");
    CHECK(c.read_reply() == "421 Server shutting down");
    CHECK(c.wait_closed());
  }
  CHECK(stopped.get());
}

// ---- observer -------------------------------------------------------------------------------

TEST_CASE("server: an observer sees connect, command, reply, login, transfer and disconnect events") {
  test_server<coftp::memory_fs, recording_observer> srv{coftp::memory_fs{}};
  srv.put("/a.txt", "hello");
  {
    ftp_client c{srv.endpoint()};
    CHECK(c.login("test", "wrong") == "530 Login incorrect");
    login(c);
    CHECK(c.command("TYPE I") == "200 Type set to I");
    CHECK(c.retr("a.txt") == "hello");
    CHECK(c.stor("b.txt", "bye") == "226 Transfer complete (3 bytes received)");
    CHECK(c.command("QUIT") == "221 Goodbye");
    CHECK(c.wait_closed());
  }
  auto& obs = srv.observer();
  CHECK(wait_until([&] { return obs.has("disconnect"); }));
  auto events = obs.events();
  std::vector<string> expected = {
      "connect 127.0.0.1",
      "reply 220 coftp test server ready",
      "command USER test",
      "reply 331 Username OK, need password",
      "command PASS ****",
      "login test failed",
      "reply 530 Login incorrect",
      "command USER test",
      "command PASS ****",
      "login test ok",
      "reply 230 Login successful",
      "command TYPE I",
      "command PASV",
      "command RETR a.txt",
      "reply 150 Opening data connection (5 bytes)",
      "transfer download /a.txt 5 completed user=test",
      "reply 226 Transfer complete",
      "command STOR b.txt",
      "reply 150 Ready to receive",
      "transfer upload /b.txt 3 completed user=test",
      "reply 226 Transfer complete (3 bytes received)",
      "command QUIT",
      "reply 221 Goodbye",
      "disconnect",
  };
  // In this order (other events may come between).
  std::size_t at = 0;
  for (const auto& want : expected) {
    CAPTURE(want);
    auto it = std::find(events.begin() + static_cast<std::ptrdiff_t>(at), events.end(), want);
    CHECK(it != events.end());
    if (it != events.end()) at = static_cast<std::size_t>(it - events.begin()) + 1;
  }
  for (const auto& ev : events) {
    CAPTURE(ev);
    CHECK(ev.find("secret") == string::npos);
    CHECK(ev.find("wrong") == string::npos);
  }
  CHECK(events.front() == "connect 127.0.0.1");
  CHECK(events.back() == "disconnect");
}

}  // TEST_SUITE("server")

TEST_CASE("server: the observer tells a finished transfer from a cut one") {
  test_server<coftp::memory_fs, recording_observer> srv{coftp::memory_fs{}};
  const auto big = random_bytes(std::size_t(8) << 20, 46);
  srv.put("/big.bin", big);
  auto& obs = srv.observer();
  {
    // QUIT during a transfer waits for it (RFC 959): the transfer completed.
    ftp_client c{srv.endpoint()};
    login(c);
    CHECK(c.command("TYPE I") == "200 Type set to I");
    REQUIRE(c.open_passive().starts_with("227 "));
    CHECK(c.command("RETR big.bin") == "150 Opening data connection (8388608 bytes)");
    c.send_raw("QUIT\r\n");
    CHECK(c.data().read_all() == big);
    CHECK(c.read_reply() == "226 Transfer complete");
    CHECK(c.read_reply() == "221 Goodbye");
  }
  CHECK(wait_until([&] { return obs.has("transfer download /big.bin 8388608 completed user=test"); }));
  {
    // ABOR cuts it.
    ftp_client c{srv.endpoint()};
    login(c);
    CHECK(c.command("TYPE I") == "200 Type set to I");
    REQUIRE(c.open_passive().starts_with("227 "));
    CHECK(c.command("RETR big.bin") == "150 Opening data connection (8388608 bytes)");
    CHECK(c.data().read_exactly(1 << 16).size() == std::size_t(1) << 16);
    c.send_raw("ABOR\r\n");
    CHECK(c.read_reply() == "426 Connection closed; transfer aborted");
    CHECK(c.read_reply() == "226 Abort successful");
  }
  CHECK(wait_until([&] {
    for (const auto& e : obs.events())
      if (e.starts_with("transfer download /big.bin ") && e.find(" aborted user=test") != std::string::npos)
        return true;
    return false;
  }));
}

// ---- transfer log (xferlog) and session log --------------------------------------------------

namespace {

std::vector<string> file_lines(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<string> out;
  for (string line; std::getline(in, line);) out.push_back(line);
  return out;
}

string file_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return string(std::istreambuf_iterator<char>(in), {});
}

// The 13 fields after the 5-word date of an xferlog line, joined by single spaces, the
// transfer time (always >= 1) left out: "127.0.0.1 11 /up.bin b _ i r test ftp 0 * c".
string xferlog_fields(const string& line) {
  std::istringstream in(line);
  std::vector<string> w;
  for (string x; in >> x;) w.push_back(x);
  REQUIRE_MESSAGE(w.size() == 18, line);
  CHECK(std::stoul(w[5]) >= 1);
  string out;
  for (std::size_t i = 6; i < w.size(); ++i) out += (out.empty() ? "" : " ") + w[i];
  return out;
}

}  // namespace

TEST_CASE("server: xferlog has a line per upload and download with size, type, direction and user; a cut upload is i") {
  temp_dir d;
  auto xpath = d.path() / "xferlog";
  test_server<coftp::memory_fs, coftp::xferlog_observer> srv{
      coftp::memory_fs{}, test_options(), coftp::xferlog_observer(coftp::log_file::open(xpath.string()))};
  srv.put("/a.txt", "hello\n");
  {
    ftp_client c{srv.endpoint()};
    login(c);
    CHECK(c.command("TYPE I") == "200 Type set to I");
    CHECK(c.stor("up load.bin", "hello world") == "226 Transfer complete (11 bytes received)");
    CHECK(c.retr("a.txt") == "hello\n");
    CHECK(c.command("TYPE A") == "200 Type set to A");
    CHECK(c.retr("a.txt") == "hello\r\n");
    CHECK(c.list().find("a.txt") != string::npos);  // listings are not logged
    CHECK(c.command("TYPE I") == "200 Type set to I");
    REQUIRE(c.open_passive().starts_with("227 "));
    CHECK(c.command("STOR cut.bin") == "150 Ready to receive");
    c.data().write_all("partial");
    c.data().reset();
    CHECK(c.read_reply() == "426 Connection closed; transfer aborted");
  }
  {
    ftp_client anon{srv.endpoint()};
    login(anon, "anonymous", "guest@example.org");
    CHECK(anon.retr("a.txt") == "hello\r\n");  // TYPE A: the default
  }
  auto lines = file_lines(xpath);
  REQUIRE(lines.size() == 5);
  CHECK(xferlog_fields(lines[0]) == "127.0.0.1 11 /up_load.bin b _ i r test ftp 0 * c");
  CHECK(xferlog_fields(lines[1]) == "127.0.0.1 6 /a.txt b _ o r test ftp 0 * c");
  CHECK(xferlog_fields(lines[2]) == "127.0.0.1 6 /a.txt a _ o r test ftp 0 * c");
  auto cut = xferlog_fields(lines[3]);
  CHECK((cut == "127.0.0.1 0 /cut.bin b _ i r test ftp 0 * i" || cut == "127.0.0.1 7 /cut.bin b _ i r test ftp 0 * i"));
  CHECK(xferlog_fields(lines[4]) == "127.0.0.1 6 /a.txt a _ o a anonymous ftp 0 * c");
  CHECK(file_text(xpath).find("guest@example.org") == string::npos);
}

TEST_CASE("server: no password reaches the session log or the xferlog, however it is sent") {
  temp_dir d;
  auto log = d.path() / "session.log";
  auto xlog = d.path() / "xferlog";
  using observer = coftp::observers<coftp::session_log_observer, coftp::xferlog_observer>;
  test_server<coftp::memory_fs, observer> srv{
      coftp::memory_fs{}, test_options(),
      observer{coftp::session_log_observer(coftp::log_file::open(log.string())),
               coftp::xferlog_observer(coftp::log_file::open(xlog.string()))}};
  const string pw = "Pw-7fq2-Zeta";
  srv.users().add("carol", pw, coftp::permissions::all);
  const auto big = random_bytes(std::size_t(4) << 20, 9);
  srv.put("/big.bin", big);
  {
    ftp_client c{srv.endpoint()};
    CHECK(c.login("carol", pw + "-wrong") == "530 Login incorrect");
    CHECK(c.command("USER carol") == "331 Username OK, need password");
    CHECK(c.command("pass " + pw) == "230 Login successful");  // verbs are case-insensitive
    CHECK(c.command("PASS " + pw) == "503 Already logged in");
    CHECK(c.command("  PASS " + pw) == "503 Already logged in");
    CHECK(c.command("PASS " + pw + "\xc3\x28") == "501 Invalid characters in argument (UTF-8 expected)");
    CHECK(c.command("ACCT " + pw) == "202 No account needed, ACCT is superfluous here");
    // Sent during a transfer: kept, answered after it, logged then.
    CHECK(c.command("TYPE I") == "200 Type set to I");
    REQUIRE(c.open_passive().starts_with("227 "));
    CHECK(c.command("RETR big.bin") == "150 Opening data connection (4194304 bytes)");
    c.send_raw("PASS " + pw + "\r\n");
    CHECK(c.data().read_all() == big);
    CHECK(c.read_reply() == "226 Transfer complete");
    CHECK(c.read_reply() == "503 Already logged in");
    CHECK(c.stor("new.bin", "x") == "226 Transfer complete (1 bytes received)");
    CHECK(c.command("QUIT") == "221 Goodbye");
  }
  {
    ftp_client anon{srv.endpoint()};
    login(anon, "anonymous", "anon-" + pw + "@example.org");
    CHECK(anon.retr("new.bin") == "x");
    CHECK(anon.command("QUIT") == "221 Goodbye");
  }
  auto text = file_text(log);
  auto xfer = file_text(xlog);
  CHECK(text.find("Pw-7fq2") == string::npos);
  CHECK(xfer.find("Pw-7fq2") == string::npos);
  CHECK(file_lines(xlog).size() == 3);
  int masked = 0;
  for (const auto& line : file_lines(log)) {
    // "2026-11-28T21:32:30.123Z [N] ..."
    REQUIRE(line.size() > 28);
    CHECK(line[4] == '-');
    CHECK(line[10] == 'T');
    CHECK(line.substr(23, 3) == "Z [");
    if (line.find("[CLIENT] PASS ****") != string::npos) ++masked;
  }
  CHECK(masked == 7);  // wrong, lower-case, after login, leading spaces, bad UTF-8, during RETR, anonymous
  CHECK(text.find("[CLIENT] ACCT ****") != string::npos);
}
