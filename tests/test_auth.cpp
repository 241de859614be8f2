// Users, passwords, permissions: the passwd file (parsing, crypt(3) hashes, load
// errors), logins through a real server over loopback with hashed passwords (both
// hash methods, wrong password and unknown user alike, hashing off the event loop),
// and the per-command rights, each denying exactly its commands (both backends).
#include <coftp/auth/passwd_file.hpp>
#include <coftp/coftp.hpp>

#include <doctest/doctest.h>

#include "ftp_client.hpp"
#include "server_helpers.hpp"
#include "test_server.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

using namespace coftp_test;
using namespace std::chrono_literals;
using namespace std::string_view_literals;
using coftp::permissions;
using std::string;
using std::string_view;

TYPE_TO_STRING(coftp_test::memory_backend);
TYPE_TO_STRING(coftp_test::local_backend);

namespace {

using steady = std::chrono::steady_clock;

// Cheap hashes for the tests that are not about cost: hashing them is fast even under
// the sanitizers. ($y$ with cost 1 still needs a few MiB and some ms.)
string cheap_y(string_view pw) { return coftp::hash_password(pw, "$y$", 1); }
string cheap_6(string_view pw) { return coftp::hash_password(pw, "$6$", 1000); }

std::optional<coftp::user> check(const coftp::passwd_file& f, string_view name, string_view pw) {
  return f.check(coftp::credentials{name, pw, "127.0.0.1"});
}

// The message of the passwd_error that parsing `text` throws ("" if none).
string load_error(const string& text, std::size_t* line = nullptr) {
  try {
    coftp::passwd_file::parse(text, "users.txt", 1);
  } catch (const coftp::passwd_error& e) {
    if (line) *line = e.line();
    return e.what();
  }
  return "";
}

template <class Storage>
struct passwd_policies : coftp::default_policies {
  using storage = Storage;
  using authenticator = coftp::passwd_file;
};

// A real server whose users come from a passwd_file, on `threads` threads of its own.
template <class B>
class passwd_server {
 public:
  using server_type = coftp::basic_server<passwd_policies<typename B::storage_type>>;

  explicit passwd_server(coftp::passwd_file users, unsigned threads = 2) : threads_n_(threads) {
    server_.emplace(io_, test_options(), backend_.make(), std::move(users));
    server_->start();
    for (unsigned i = 0; i < threads; ++i)
      threads_.emplace_back([this] {
        io_.run();
        ++finished_;
      });
  }
  passwd_server(const passwd_server&) = delete;
  passwd_server& operator=(const passwd_server&) = delete;
  ~passwd_server() {
    server_->stop();
    if (!wait_until([&] { return finished_ == threads_n_; }, server_->options().shutdown_grace + 10s)) {
      FAIL_CHECK("passwd_server: the io_context did not run out of work after stop()");
      io_.stop();
    }
    for (auto& t : threads_) t.join();
  }
  asio::ip::tcp::endpoint endpoint() const { return server_->endpoint(); }

 private:
  B backend_;
  asio::io_context io_;
  std::optional<server_type> server_;
  unsigned threads_n_;
  std::atomic<unsigned> finished_{0};
  std::vector<std::thread> threads_;
};

}  // namespace

TEST_SUITE("auth") {

// ---- permissions.hpp ------------------------------------------------------------------

TEST_CASE("permissions: names, sets and the passwd-file form") {
  CHECK(permissions::read == (permissions::retrieve | permissions::list));
  CHECK(coftp::allows(permissions::write, permissions::store | permissions::remove | permissions::rename |
                                              permissions::make_dir | permissions::remove_dir | permissions::site));
  CHECK_FALSE(coftp::allows(permissions::write, permissions::retrieve));
  CHECK(permissions::all == (permissions::read | permissions::write));
  CHECK((~permissions::remove & permissions::remove) == permissions::none);
  CHECK(coftp::allows(~permissions::remove, permissions::read | permissions::store));

  CHECK(coftp::parse_permissions("read,list") == permissions::read);
  CHECK(coftp::parse_permissions("ro") == permissions::read);
  CHECK(coftp::parse_permissions("all") == permissions::all);
  CHECK(coftp::parse_permissions("none") == permissions::none);
  CHECK(coftp::parse_permissions(" write , delete") == (permissions::store | permissions::remove));
  CHECK(coftp::parse_permissions("ro,mkdir,rmdir,rename,site") ==
        (permissions::read | permissions::make_dir | permissions::remove_dir | permissions::rename | permissions::site));
  string bad;
  CHECK_FALSE(coftp::parse_permissions("read,exec", &bad));
  CHECK(bad == "exec");
  CHECK_FALSE(coftp::parse_permissions("read,,list", &bad));
  CHECK(bad == "");
  CHECK_FALSE(coftp::parse_permissions("", &bad));
  CHECK_FALSE(coftp::parse_permissions("READ", &bad));
  CHECK(bad == "READ");

  CHECK(coftp::to_string(permissions::all) == "all");
  CHECK(coftp::to_string(permissions::none) == "none");
  CHECK(coftp::to_string(permissions::read) == "read,list");
  CHECK(coftp::to_string(permissions::write) == "write,delete,rename,mkdir,rmdir,site");
  for (auto [name, right] : coftp::permission_names) {
    CAPTURE(name);
    CHECK(coftp::to_string(right) == name);
    CHECK(coftp::parse_permissions(coftp::to_string(~right)) == ~right);
  }
}

TEST_CASE("permissions: the MLSx perm fact follows the rights") {
  namespace f = coftp::mlst_fact;
  coftp::file_info file;
  file.name = "a";
  coftp::file_info dir;
  dir.type = coftp::file_type::directory;
  auto perm = [](const coftp::file_info& e, permissions p) {
    string out;
    coftp::format_facts(out, e, f::perm, p, "x");
    return out;
  };
  CHECK(perm(file, permissions::all) == "perm=adfwr; x");
  CHECK(perm(file, permissions::read) == "perm=r; x");
  CHECK(perm(file, permissions::list) == "perm=; x");
  CHECK(perm(file, permissions::store) == "perm=aw; x");
  CHECK(perm(file, permissions::remove | permissions::rename) == "perm=df; x");
  CHECK(perm(dir, permissions::all) == "perm=cdfmpel; x");
  CHECK(perm(dir, permissions::read) == "perm=el; x");
  CHECK(perm(dir, permissions::none) == "perm=e; x");
  CHECK(perm(dir, permissions::make_dir) == "perm=me; x");
  CHECK(perm(dir, permissions::remove_dir) == "perm=de; x");
  CHECK(perm(dir, permissions::remove) == "perm=pe; x");
  CHECK(perm(dir, permissions::store) == "perm=ce; x");
}

// ---- hashes and the passwd file ------------------------------------------------------

TEST_CASE("passwd: hash_password and verify_password, yescrypt and SHA-512") {
  auto y = coftp::hash_password("pässword 1", "$y$", 1);
  auto s = coftp::hash_password("pässword 1", "$6$", 1000);
  auto d = coftp::hash_password("x", "", 1);  // libcrypt's preferred method
  CHECK(y.starts_with("$y$"));
  CHECK(s.starts_with("$6$rounds=1000$"));
  CHECK(d.starts_with("$"));
  CHECK(coftp::verify_password("pässword 1", y));
  CHECK(coftp::verify_password("pässword 1", s));
  CHECK(coftp::verify_password("x", d));
  for (string_view wrong : {"pässword"sv, "pässword 1 "sv, "Pässword 1"sv, ""sv, "pässword 1\0"sv}) {
    CAPTURE(wrong);
    CHECK_FALSE(coftp::verify_password(wrong, y));
    CHECK_FALSE(coftp::verify_password(wrong, s));
  }
  CHECK(coftp::hash_password("pässword 1", "$y$", 1) != y);  // a fresh salt each time
  CHECK_THROWS_AS(coftp::hash_password("a\0b"sv), std::invalid_argument);
  CHECK_THROWS_AS(coftp::hash_password("x", "$nope$"), std::system_error);
  CHECK_FALSE(coftp::verify_password("x", "not a hash"));
  CHECK_FALSE(coftp::verify_password("x", ""));
}

TEST_CASE("passwd: a file with a $6$ user, a $y$ user, comments and blank lines") {
  string text = "# coftp users\n"
                "\n"
                "alice:" + cheap_6("alice pw") + ":/:all\n"
                "   # indented comment\r\n"
                "bob:" + cheap_y("bob pw") + ":/pub/../bob/:read,list,write\r\n"
                "\t\n"
                "carol:" + cheap_y("carol pw") + ":/c:none";  // no final newline
  auto f = coftp::passwd_file::parse(text, "users.txt", 1);
  CHECK(f.size() == 3);
  auto a = check(f, "alice", "alice pw");
  REQUIRE(a);
  CHECK(a->name == "alice");
  CHECK(a->home == "/");
  CHECK(a->perms == permissions::all);
  auto b = check(f, "bob", "bob pw");
  REQUIRE(b);
  CHECK(b->home == "/bob");
  CHECK(b->perms == (permissions::read | permissions::store));
  auto c = check(f, "carol", "carol pw");
  REQUIRE(c);
  CHECK(c->perms == permissions::none);
  CHECK_FALSE(check(f, "alice", "bob pw"));
  CHECK_FALSE(check(f, "bob", "alice pw"));
  CHECK_FALSE(check(f, "Alice", "alice pw"));
  CHECK_FALSE(check(f, "dave", "alice pw"));
  CHECK_FALSE(check(f, "anonymous", "x"));
  f.allow_anonymous("/pub");
  auto anon = check(f, "ftp", "x");
  REQUIRE(anon);
  CHECK(anon->perms == permissions::read);
  CHECK(anon->home == "/pub");

  // A copy shares the users; add() takes a hash, never a password.
  coftp::passwd_file copy = f;
  f.add("erin", cheap_y("erin pw"), permissions::read, "/e");
  CHECK(check(copy, "erin", "erin pw"));
  CHECK_THROWS_AS(f.add("frank", "frank pw"), std::invalid_argument);
  CHECK_THROWS_AS(f.add("frank", "$1$abcdefgh$9XhLrEr0ZLn0kMJ2Ovp.4/"), std::invalid_argument);  // MD5

  // The file on disk.
  temp_dir dir;
  auto path = dir.path() / "passwd";
  std::ofstream(path) << text;
  auto g = coftp::passwd_file::load(path, 1);
  CHECK(g.size() == 3);
  CHECK(check(g, "bob", "bob pw"));
  CHECK_THROWS_AS(coftp::passwd_file::load(dir.path() / "missing"), std::system_error);
}

TEST_CASE("passwd: malformed files are rejected with the line number") {
  auto h = cheap_6("pw");
  std::size_t line = 0;
  SUBCASE("too few and too many fields") {
    CHECK(load_error("# users\n\nalice:" + h + ":/\n", &line) ==
          "users.txt:3: expected name:hash:home:permissions, found 3 field(s)");
    CHECK(line == 3);
    CHECK(load_error("a:" + h + ":/:all\nb:" + h + ":/:all:extra\n", &line) ==
          "users.txt:2: expected name:hash:home:permissions, found 5 field(s)");
    CHECK(line == 2);
    CHECK(load_error("just-a-name\n") == "users.txt:1: expected name:hash:home:permissions, found 1 field(s)");
  }
  SUBCASE("unknown permission") {
    CHECK(load_error("a:" + h + ":/:read,list\r\nb:" + h + ":/:read,exec\r\n", &line) ==
          "users.txt:2: unknown permission 'exec' (known: read, list, write, delete, rename, mkdir, rmdir, "
          "site, all, ro, none)");
    CHECK(line == 2);
    CHECK(load_error("a:" + h + ":/:\n").starts_with("users.txt:1: unknown permission ''"));
  }
  SUBCASE("bad hashes") {
    CHECK(load_error("a:secret:/:all\n") ==
          "users.txt:1: not a crypt(3) hash: expected $y$..., $6$... (use coftp-server --hash-password)");
    CHECK(load_error("a::/:all\n") == "users.txt:1: empty password hash");
    CHECK(load_error("\n\na:$1$abcdefgh$9XhLrEr0ZLn0kMJ2Ovp.4/:/:all\n") ==
          "users.txt:3: legacy hash method refused: use yescrypt ($y$) or SHA-512 ($6$)");
    CHECK(load_error("a:$x$abc$def:/:all\n") == "users.txt:1: invalid or unsupported crypt(3) hash");
  }
  SUBCASE("names and homes") {
    CHECK(load_error("a:" + h + ":/:all\na:" + h + ":/:ro\n", &line) ==
          "users.txt:2: user 'a' already defined on line 1");
    CHECK(line == 2);
    CHECK(load_error(":" + h + ":/:all\n") == "users.txt:1: empty user name");
    CHECK(load_error("a b:" + h + ":/:all\n") == "users.txt:1: user name with a space or control character");
    CHECK(load_error("a:" + h + ":home:all\n") == "users.txt:1: home must be an absolute path such as /, got 'home'");
    CHECK(load_error("a:" + h + "::all\n") == "users.txt:1: home must be an absolute path such as /, got ''");
  }
  SUBCASE("a good file loads") {
    CHECK(load_error("# only a comment\n\n") == "");
    CHECK(load_error("a:" + h + ":/:all\n") == "");
  }
}

// ---- logins through the server --------------------------------------------------------

TEST_CASE_TEMPLATE("passwd server: $6$ and $y$ users log in; wrong password and unknown user get the same 530", B,
                   memory_backend, local_backend) {
  string text = "six:" + cheap_6("six pw") + ":/:all\nwhy:" + cheap_y("why pw") + ":/:ro\n";
  passwd_server<B> srv{coftp::passwd_file::parse(text, "passwd", 2)};
  {
    ftp_client c{srv.endpoint()};
    CHECK(c.login("six", "six pw") == "230 Login successful");
    CHECK(c.command("MKD d") == "257 \"/d\" directory created");
  }
  {
    ftp_client c{srv.endpoint()};
    CHECK(c.login("why", "why pw") == "230 Login successful");
    CHECK(c.command("MKD e") == "550 Permission denied");
    CHECK(c.command("CWD d") == "250 Directory changed successfully");
  }
  std::vector<string> refused;
  std::vector<std::pair<string, string>> attempts = {{"six", "why pw"},    {"why", "six pw"}, {"nobody", "six pw"},
                                                     {"six", ""},          {"anonymous", "x"}, {"ftp", ""},
                                                     {"six", "six pw "}};
  for (const auto& [name, pw] : attempts) {
    CAPTURE(name);
    ftp_client c{srv.endpoint()};
    CHECK(c.command("USER " + name) == "331 Username OK, need password");
    refused.push_back(c.command(pw.empty() ? string("PASS") : "PASS " + pw));
    CHECK(c.command("PWD") == "530 Not logged in");
  }
  for (const auto& r : refused) CHECK(r == "530 Login incorrect");
}

TEST_CASE("passwd server: an unknown user costs as much time as a wrong password") {
  // A costly $6$ hash makes the hashing time dominate the round trip: a server that
  // skipped the hash for unknown users would answer them at once.
  string text = "slow:" + coftp::hash_password("right", "$6$", 300000) + ":/:all\n";
  passwd_server<memory_backend> srv{coftp::passwd_file::parse(text, "passwd", 1)};
  auto timed = [&](string_view user, string_view pw) {
    ftp_client c{srv.endpoint()};
    REQUIRE(c.command("USER " + string(user)) == "331 Username OK, need password");
    auto t0 = steady::now();
    auto r = c.command("PASS " + string(pw));
    auto took = steady::now() - t0;
    CHECK(r == "530 Login incorrect");
    return std::chrono::duration_cast<std::chrono::milliseconds>(took);
  };
  auto ok_time = [&] {
    ftp_client c{srv.endpoint()};
    auto t0 = steady::now();
    CHECK(c.login("slow", "right") == "230 Login successful");
    return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t0);
  }();
  auto wrong = timed("slow", "wrong");
  auto unknown = timed("nosuchuser", "wrong");
  MESSAGE("PASS round trips: right " << ok_time.count() << " ms, wrong password " << wrong.count()
                                     << " ms, unknown user " << unknown.count() << " ms");
  // Both refusals include the hash (at least half of a successful login's time) and
  // the failure delay (50 ms in the test options).
  CHECK(wrong >= ok_time / 2);
  CHECK(unknown >= ok_time / 2);
  CHECK(unknown >= wrong / 2);
  CHECK(wrong >= unknown / 2);
}

TEST_CASE("passwd server: logins with a costly hash do not delay another session's NOOP") {
  // One thread serves every session; the hashes run on the authenticator's pool (one
  // thread). Were a hash computed on the session thread, a NOOP would wait for it.
  string slow = coftp::hash_password("pw", "$6$", 150000);
  string text;
  for (int i = 0; i < 3; ++i) text += "user" + std::to_string(i) + ":" + slow + ":/:all\n";
  passwd_server<memory_backend> srv{coftp::passwd_file::parse(text, "passwd", 1), 1};

  ftp_client probe{srv.endpoint()};
  CHECK(probe.command("NOOP") == "200 OK");

  std::atomic<int> done{0};
  std::vector<std::future<std::pair<string, steady::duration>>> logins;
  for (int i = 0; i < 3; ++i)
    logins.push_back(std::async(std::launch::async, [&, i] {
      ftp_client c{srv.endpoint()};
      auto t0 = steady::now();
      auto r = c.login("user" + std::to_string(i), "pw");
      auto took = steady::now() - t0;
      ++done;
      return std::pair{r, took};
    }));

  steady::duration worst{};
  int noops = 0;
  auto until = steady::now() + 60s;
  while (done < 3 && steady::now() < until) {
    auto t0 = steady::now();
    auto r = probe.command("NOOP");
    worst = std::max(worst, steady::now() - t0);
    CHECK(r == "200 OK");
    ++noops;
    std::this_thread::sleep_for(2ms);
  }
  steady::duration fastest = steady::duration::max();
  for (auto& f : logins) {
    REQUIRE(f.wait_for(60s) == std::future_status::ready);
    auto [reply, took] = f.get();
    CHECK(reply == "230 Login successful");
    fastest = std::min(fastest, took);
  }
  using ms = std::chrono::milliseconds;
  MESSAGE(noops << " NOOPs during 3 logins; slowest NOOP " << std::chrono::duration_cast<ms>(worst).count()
                << " ms; fastest login " << std::chrono::duration_cast<ms>(fastest).count() << " ms");
  CHECK(noops >= 3);
  CHECK(worst < fastest / 3);
}

// ---- each right denies exactly its commands -----------------------------------------

namespace {

// One command of the matrix: the right it needs, what it does, the reply it gets when
// allowed (a prefix).
struct probe_step {
  permissions right;
  string what;
  std::function<string(ftp_client&)> run;
  string allowed;
  bool transfer = false;
};

template <class B>
std::vector<probe_step> probe_steps() {
  auto cmd = [](string line) { return [line](ftp_client& c) { return c.command(line); }; };
  auto down = [](string line) {
    return [line](ftp_client& c) {
      c.download(line);
      return c.last_reply();
    };
  };
  auto up = [](string line) { return [line](ftp_client& c) { return c.upload(line, "new"); }; };
  return {
      {permissions::retrieve, "RETR", down("RETR f.txt"), "226 ", true},
      {permissions::retrieve, "SIZE", cmd("SIZE f.txt"), "213 4"},
      {permissions::retrieve, "MDTM", cmd("MDTM f.txt"), "213 "},
      {permissions::list, "LIST", down("LIST"), "226 ", true},
      {permissions::list, "NLST", down("NLST"), "226 ", true},
      {permissions::list, "MLSD", down("MLSD"), "226 ", true},
      {permissions::list, "MLST", cmd("MLST f.txt"), "250-"},
      {permissions::list, "STAT path", cmd("STAT f.txt"), "213-"},
      {permissions::store, "STOR", up("STOR new.txt"), "226 ", true},
      {permissions::store, "APPE", up("APPE new.txt"), "226 ", true},
      {permissions::store, "STOU", up("STOU"), "226 ", true},
      {permissions::store, "MFMT", cmd("MFMT 20200102030405 f.txt"), "213 Modify=20200102030405; /f.txt"},
      {permissions::remove, "DELE", cmd("DELE gone.txt"), "250 "},
      {permissions::rename, "RNFR", cmd("RNFR ren.txt"), "350 "},
      {permissions::rename, "RNTO", cmd("RNTO ren2.txt"), "250 "},
      {permissions::make_dir, "MKD", cmd("MKD new1"), "257 "},
      {permissions::make_dir, "XMKD", cmd("XMKD new2"), "257 "},
      {permissions::remove_dir, "RMD", cmd("RMD rm1"), "250 "},
      {permissions::remove_dir, "XRMD", cmd("XRMD rm2"), "250 "},
      {permissions::site, "SITE CHMOD", cmd("SITE CHMOD 600 f.txt"), "200 "},
      // What every logged-in user may do.
      {permissions::none, "CWD", cmd("CWD d"), "250 "},
      {permissions::none, "CDUP", cmd("CDUP"), "200 "},
      {permissions::none, "PWD", cmd("PWD"), "257 \"/\""},
      {permissions::none, "STAT", cmd("STAT"), "211-"},
      {permissions::none, "SITE HELP", cmd("SITE HELP"), "214-"},
      {permissions::none, "NOOP", cmd("NOOP"), "200 "},
  };
}

// Runs every step as a user with `perms` on a fresh server; checks that exactly the
// steps needing a right outside `perms` get "550 Permission denied".
template <class B>
void check_rights(permissions perms) {
  auto rights = coftp::to_string(perms);
  CAPTURE(rights);
  env<B> e;
  e.srv.put("/f.txt", "data");
  e.srv.put("/gone.txt", "x");
  e.srv.put("/ren.txt", "x");
  e.srv.mkdir("/d");
  e.srv.mkdir("/rm1");
  e.srv.mkdir("/rm2");
  e.srv.users().add("u", "pw", perms);
  ftp_client c{e.srv.endpoint()};
  login(c, "u", "pw");
  REQUIRE(c.command("TYPE I") == "200 Type set to I");
  for (auto& step : probe_steps<B>()) {
    CAPTURE(step.what);
    auto r = step.run(c);
    if (coftp::allows(perms, step.right)) {
      CHECK_MESSAGE(r.starts_with(step.allowed), step.what << " allowed: " << r);
    } else {
      CHECK(r == "550 Permission denied");
      if (step.transfer) CHECK(c.last_preliminary() == "");  // no 150: nothing was opened
    }
  }
  CHECK(c.command("NOOP") == "200 OK");  // the session is still fine
}

}  // namespace

TEST_CASE_TEMPLATE("permissions: each right denies exactly its commands", B, memory_backend, local_backend) {
  for (auto [name, right] : coftp::permission_names) {
    check_rights<B>(~right);
    check_rights<B>(right);
  }
  check_rights<B>(permissions::all);
  check_rights<B>(permissions::none);
  check_rights<B>(permissions::read);
}

TEST_CASE_TEMPLATE("permissions: MLSD and MLST show the user's rights", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.put("/f.txt", "data");
  e.srv.mkdir("/d");
  e.srv.users().add("u", "pw", permissions::read | permissions::store | permissions::make_dir);
  ftp_client c{e.srv.endpoint()};
  login(c, "u", "pw");
  CHECK(c.command("OPTS MLST type;perm;") == "200 MLST OPTS type;perm;");
  CHECK(c.command("MLST f.txt") == "250-Listing /f.txt\n type=file;perm=awr; /f.txt\n250 End");
  auto lines = lines_of(c.download("MLSD"));
  std::sort(lines.begin(), lines.end());
  CHECK(lines == std::vector<string>{"type=cdir;perm=cmel; .", "type=dir;perm=cmel; d", "type=file;perm=awr; f.txt"});
}

}  // TEST_SUITE
