// Protocol completeness over loopback: REST, APPE, STOU, MLST/MLSD, STAT, HELP, SITE,
// PORT/EPRT, EPSV ALL, MFMT, REIN, ACCT, SMNT, globs, and FEAT/HELP following the
// command table. Each runs over both backends; the assertions are the replies and
// bytes a client sees.
#include <coftp/coftp.hpp>
#include <coftp/testing/backend_suite.hpp>

#include <doctest/doctest.h>

#include "server_helpers.hpp"
#include "../examples/extending.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <sys/stat.h>

using namespace coftp_test;
using namespace std::chrono_literals;
using std::string;
using std::string_view;

namespace {

// Splits a multi-line reply (joined with '\n' by ftp_client) into its lines.
std::vector<string> reply_lines(const string& r) {
  std::vector<string> out;
  std::size_t pos = 0;
  for (;;) {
    auto nl = r.find('\n', pos);
    out.push_back(r.substr(pos, nl == string::npos ? string::npos : nl - pos));
    if (nl == string::npos) return out;
    pos = nl + 1;
  }
}

// "type=file;size=5;perm=r; name" -> facts (lower-case keys) and the name.
std::pair<std::map<string, string>, string> parse_facts(const string& line) {
  std::map<string, string> facts;
  auto sp = line.find(' ');
  REQUIRE_MESSAGE(sp != string::npos, "no space before the name: " << line);
  string f = line.substr(0, sp);
  std::size_t pos = 0;
  while (pos < f.size()) {
    auto semi = f.find(';', pos);
    REQUIRE_MESSAGE(semi != string::npos, "fact not ended by ';': " << line);
    auto eq = f.find('=', pos);
    REQUIRE_MESSAGE((eq != string::npos && eq < semi), "fact without '=': " << line);
    facts[f.substr(pos, eq - pos)] = f.substr(eq + 1, semi - eq - 1);
    pos = semi + 1;
  }
  return {facts, line.substr(sp + 1)};
}

std::set<string> feat_lines(ftp_client& c) {
  auto feat = c.command("FEAT");
  REQUIRE(feat.starts_with("211-"));
  REQUIRE(feat.ends_with("\n211 End"));
  auto lines = reply_lines(feat);
  std::set<string> out;
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
    CHECK(lines[i].starts_with(" "));
    out.insert(lines[i].substr(1));
  }
  return out;
}

// The verbs of a 214 HELP reply.
std::vector<string> help_verbs(const string& help) {
  std::vector<string> out;
  auto lines = reply_lines(help);
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
    std::size_t pos = 0;
    const string& l = lines[i];
    while (pos < l.size()) {
      while (pos < l.size() && l[pos] == ' ') ++pos;
      auto end = l.find(' ', pos);
      if (end == string::npos) end = l.size();
      if (end > pos) out.push_back(l.substr(pos, end - pos));
      pos = end;
    }
  }
  return out;
}

// A SITE sub-command and a command of its own, with a FEAT line, for the table tests.
struct site_echo {
  static constexpr std::string_view verb = "ECHO";
  static constexpr coftp::needs requires_ = coftp::needs::argument;
  static constexpr std::string_view syntax = "SITE ECHO <sp> text";
  static constexpr std::string_view feature = "SITE ECHO";  // a SITE sub-command's FEAT line
  template <class Session>
  static asio::awaitable<coftp::reply> run(Session&, std::string_view arg) {
    co_return coftp::reply{200, std::string(arg)};
  }
};
struct xtra {
  static constexpr std::string_view verb = "XTRA";
  static constexpr coftp::needs requires_ = coftp::needs::none;
  static constexpr std::string_view feature = "XTRA fast";
  static constexpr std::string_view syntax = "XTRA";
  template <class Session>
  static asio::awaitable<coftp::reply> run(Session&, std::string_view) {
    co_return coftp::reply{200, "extra"};
  }
};
using custom_table =
    coftp::default_commands::with<xtra, coftp::commands::basic_site<coftp::commands::default_site_commands::with<site_echo>>>::
        without<coftp::commands::mlst, coftp::commands::dele>;

// A checksum command whose verb has a digit, as XMD5, XSHA1 and XSHA256 have: the README's
// XCRC (examples/extending.hpp, the CRC-32 of a file read through the storage backend)
// under another verb.
struct xcrc32 : example::xcrc {
  static constexpr std::string_view verb = "XCRC32";
  static constexpr std::string_view usage = "XCRC32 requires a path";
  static constexpr std::string_view feature = "XCRC32";
  static constexpr std::string_view syntax = "XCRC32 <sp> pathname";
};
using checksum_table = coftp::default_commands::with<xcrc32>;

}  // namespace

TEST_SUITE("commands") {

// ---- REST, APPE, STOU ------------------------------------------------------------------

TEST_CASE_TEMPLATE("commands: REST then RETR resumes a download", B, memory_backend, local_backend) {
  env<B> e;
  const auto data = random_bytes(300000, 7);
  e.srv.put("/f.bin", data);
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("TYPE I") == "200 Type set to I");
  CHECK(c.command("REST 123457") == "350 Restarting at 123457. Send STOR or RETR to start the transfer");
  CHECK(c.retr("f.bin", passive_mode::epsv) == data.substr(123457));
  CHECK(c.last_preliminary() == "150 Restarting at 123457. Opening data connection (176543 bytes)");
  CHECK(c.last_reply() == "226 Transfer complete");
  // The offset applies to the next transfer only.
  CHECK(c.retr("f.bin") == data);
  // At the end exactly: nothing to send, and that is a success.
  CHECK(c.command("REST 300000").starts_with("350 "));
  CHECK(c.retr("f.bin") == "");
  CHECK(c.last_reply() == "226 Transfer complete");
  // Beyond the end: RFC 3659 5.5's 554, and the offset is gone.
  CHECK(c.command("REST 300001").starts_with("350 "));
  CHECK(c.retr("f.bin") == "");
  CHECK(c.last_reply() == "554 Invalid REST parameter");
  CHECK(c.retr("f.bin") == data);
  // A listing consumes the offset without using it.
  CHECK(c.command("REST 5").starts_with("350 "));
  CHECK(c.nlst() == "f.bin\r\n");
  CHECK(c.retr("f.bin") == data);
}

TEST_CASE_TEMPLATE("commands: REST errors", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.put("/a.txt", "hello world");
  ftp_client c{e.srv.endpoint()};
  CHECK(c.command("REST 5") == "530 Not logged in");
  login(c);
  CHECK(c.command("TYPE I") == "200 Type set to I");
  CHECK(c.command("REST") == "501 Missing restart offset");
  CHECK(c.command("REST abc") == "501 REST requires a byte offset (a non-negative number)");
  CHECK(c.command("REST -1") == "501 REST requires a byte offset (a non-negative number)");
  CHECK(c.command("REST 12x") == "501 REST requires a byte offset (a non-negative number)");
  CHECK(c.command("REST 99999999999999999999999") == "501 REST requires a byte offset (a non-negative number)");
  // TYPE A: a byte offset is no offset of the converted stream; refused, not corrupted.
  CHECK(c.command("TYPE A") == "200 Type set to A");
  CHECK(c.command("REST 5") == "504 REST is only supported in TYPE I (binary)");
  CHECK(c.command("REST 0").starts_with("350 "));
  CHECK(c.retr("a.txt") == "hello world");
  // REST in TYPE I, then TYPE A before the transfer: refused at the transfer.
  CHECK(c.command("TYPE I") == "200 Type set to I");
  CHECK(c.command("REST 6").starts_with("350 "));
  CHECK(c.command("TYPE A") == "200 Type set to A");
  CHECK(c.retr("a.txt") == "");
  CHECK(c.last_reply() == "504 REST is only supported in TYPE I (binary)");
  CHECK(c.retr("a.txt") == "hello world");
}

TEST_CASE_TEMPLATE("commands: REST then STOR keeps the bytes before the offset", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.put("/a.txt", "hello world");
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("TYPE I") == "200 Type set to I");
  CHECK(c.command("REST 6").starts_with("350 "));
  CHECK(c.stor("a.txt", "WORLD, and more") == "226 Transfer complete (15 bytes received)");
  CHECK(e.srv.get("/a.txt") == "hello WORLD, and more");
  // A resumed upload of a big file: the first part, then the rest from its size.
  const auto data = random_bytes(1 << 20, 9);
  CHECK(c.stor("big.bin", data.substr(0, 400000)).starts_with("226 "));
  CHECK(c.command("SIZE big.bin") == "213 400000");
  CHECK(c.command("REST 400000").starts_with("350 "));
  CHECK(c.stor("big.bin", data.substr(400000)).starts_with("226 "));
  CHECK(e.srv.get("/big.bin") == data);
  // Past the end: 554, the file untouched.
  CHECK(c.command("REST 22").starts_with("350 "));
  CHECK(c.stor("a.txt", "x") == "554 Invalid REST parameter");
  CHECK(e.srv.get("/a.txt") == "hello WORLD, and more");
  CHECK(c.command("REST 3").starts_with("350 "));
  CHECK(c.stor("missing.txt", "x") == "554 Invalid REST parameter");
  CHECK_FALSE(e.srv.get("/missing.txt"));
  // The next STOR starts over.
  CHECK(c.stor("a.txt", "new") == "226 Transfer complete (3 bytes received)");
  CHECK(e.srv.get("/a.txt") == "new");
}

TEST_CASE_TEMPLATE("commands: APPE appends and creates", B, memory_backend, local_backend) {
  env<B> e;
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("TYPE I") == "200 Type set to I");
  CHECK(c.upload("APPE log.txt", "one\n") == "226 Transfer complete (4 bytes received)");
  CHECK(c.last_preliminary() == "150 Ready to append");
  CHECK(c.upload("APPE log.txt", "two\n").starts_with("226 "));
  CHECK(e.srv.get("/log.txt") == "one\ntwo\n");
  CHECK(c.command("APPE") == "501 Missing filename");
  CHECK(c.upload("APPE nodir/log.txt", "x") == "550 Directory not found");
  // REST does not move an append: it always writes at the end.
  CHECK(c.command("REST 1").starts_with("350 "));
  CHECK(c.upload("APPE log.txt", "three\n").starts_with("226 "));
  CHECK(e.srv.get("/log.txt") == "one\ntwo\nthree\n");
  ftp_client anon{e.srv.endpoint()};
  login(anon, "anonymous", "guest@");
  CHECK(anon.command("APPE log.txt") == "550 Permission denied");
}

TEST_CASE_TEMPLATE("commands: STOU stores under a new name and never overwrites", B, memory_backend,
                   local_backend) {
  env<B> e;
  e.srv.put("/report.txt", "original");
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("TYPE I") == "200 Type set to I");
  std::set<string> names;
  for (int i = 0; i < 3; ++i) {
    CHECK(c.upload("STOU report.txt", "copy " + std::to_string(i)).starts_with("226 "));
    REQUIRE(c.last_preliminary().starts_with("150 FILE: "));
    auto name = c.last_preliminary().substr(10);
    CHECK(name != "report.txt");
    CHECK(name.starts_with("report.txt."));
    CHECK(e.srv.get("/" + name) == "copy " + std::to_string(i));
    names.insert(name);
  }
  CHECK(names.size() == 3);
  CHECK(e.srv.get("/report.txt") == "original");
  // Without an argument the server picks the whole name; a free wished-for name is kept.
  CHECK(c.upload("STOU", "anon").starts_with("226 "));
  CHECK(c.last_preliminary().starts_with("150 FILE: file."));
  CHECK(c.upload("STOU fresh.txt", "fresh").starts_with("226 "));
  CHECK(c.last_preliminary() == "150 FILE: fresh.txt");
  CHECK(e.srv.get("/fresh.txt") == "fresh");
  CHECK(c.command("STOU x") == "425 Use PASV or EPSV first");
}

// ---- MLST, MLSD, OPTS MLST -------------------------------------------------------------

TEST_CASE_TEMPLATE("commands: MLST describes one entry on the control connection", B, memory_backend,
                   local_backend) {
  env<B> e;
  e.srv.put("/a.txt", "hello");
  e.srv.mkdir("/dir");
  ftp_client c{e.srv.endpoint()};
  CHECK(c.command("MLST a.txt") == "530 Not logged in");
  login(c);
  auto r = c.command("MLST a.txt");
  auto lines = reply_lines(r);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "250-Listing /a.txt");
  CHECK(lines[2] == "250 End");
  REQUIRE(lines[1].starts_with(" "));
  auto [facts, name] = parse_facts(lines[1].substr(1));
  CHECK(name == "/a.txt");
  CHECK(facts["type"] == "file");
  CHECK(facts["size"] == "5");
  CHECK(facts["modify"].size() == 14);
  CHECK(facts["perm"] == "adfwr");
  CHECK(facts.count("unique") == 0);  // not selected by default

  auto [dfacts, dname] = parse_facts(reply_lines(c.command("MLST /dir"))[1].substr(1));
  CHECK(dname == "/dir");
  CHECK(dfacts["type"] == "dir");
  CHECK(dfacts.count("size") == 0);
  CHECK(dfacts["perm"] == "cdfmpel");
  // No argument: the working directory.
  CHECK(c.command("CWD dir").starts_with("250 "));
  CHECK(reply_lines(c.command("MLST"))[0] == "250-Listing /dir");
  CHECK(c.command("MLST /missing") == "550 File not found");

  // Anonymous users may only read: the perm fact says so.
  ftp_client anon{e.srv.endpoint()};
  login(anon, "anonymous", "guest@");
  CHECK(parse_facts(reply_lines(anon.command("MLST a.txt"))[1].substr(1)).first["perm"] == "r");
  CHECK(parse_facts(reply_lines(anon.command("MLST dir"))[1].substr(1)).first["perm"] == "el");
}

TEST_CASE_TEMPLATE("commands: MLSD lists facts, OPTS MLST selects them", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.mkdir("/d");
  e.srv.put("/d/plain.txt", "12345");
  e.srv.put("/d/with space.txt", "ab");
  e.srv.put("/d/semi;colon=x.txt", "abc");
  e.srv.mkdir("/d/sub");
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("OPTS MLST type;size;modify;perm;unique;") == "200 MLST OPTS type;size;modify;perm;unique;");
  auto listing = c.download("MLSD d");
  CHECK(c.last_preliminary() == "150 Opening data connection for MLSD");
  CHECK(c.last_reply() == "226 MLSD complete");
  std::map<string, std::map<string, string>> by_name;
  for (const auto& l : lines_of(listing)) {
    auto [facts, name] = parse_facts(l);
    by_name[name] = facts;
  }
  REQUIRE(by_name.size() == 5);
  CHECK(by_name["."]["type"] == "cdir");
  CHECK(by_name["plain.txt"]["type"] == "file");
  CHECK(by_name["plain.txt"]["size"] == "5");
  CHECK(by_name["with space.txt"]["size"] == "2");
  CHECK(by_name["semi;colon=x.txt"]["size"] == "3");
  CHECK(by_name["sub"]["type"] == "dir");
  std::set<string> uniques;
  for (auto& [name, facts] : by_name) {
    CAPTURE(name);
    CHECK_FALSE(facts["unique"].empty());
    CHECK(facts["modify"].size() == 14);
    if (name != ".") uniques.insert(facts["unique"]);
  }
  CHECK(uniques.size() == 4);  // distinct entries, distinct identities

  // A subset of facts; unknown names are ignored; names are case-insensitive.
  CHECK(c.command("OPTS MLST Type;bogus;SIZE;") == "200 MLST OPTS type;size;");
  for (const auto& l : lines_of(c.download("MLSD /d"))) {
    auto facts = parse_facts(l).first;
    CHECK(facts.count("modify") == 0);
    CHECK(facts.count("perm") == 0);
    CHECK(facts.count("type") == 1);
  }
  CHECK(c.command("OPTS MLST") == "200 MLST OPTS ");

  // Errors: a file (501), a missing directory, no data connection.
  CHECK(c.download("MLSD d/plain.txt") == "");
  CHECK(c.last_reply() == "501 Not a directory, use MLST for a file");
  CHECK(c.download("MLSD nope") == "");
  CHECK(c.last_reply() == "550 Directory not found");
  ftp_client fresh{e.srv.endpoint()};
  login(fresh);
  CHECK(fresh.command("MLSD d") == "425 Use PASV or EPSV first");
}

// ---- STAT ------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("commands: STAT without and with a path", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.put("/a.txt", "hello");
  e.srv.mkdir("/d");
  e.srv.put("/d/x", "x");
  e.srv.put("/d/y", "yy");
  ftp_client c{e.srv.endpoint()};
  auto before = c.command("STAT");
  CHECK(before.starts_with("211-coftp FTP server status:"));
  CHECK(before.find("\n Not logged in\n") != string::npos);
  CHECK(before.ends_with("\n211 End of status"));
  CHECK(c.command("STAT /") == "530 Not logged in");
  login(c);
  CHECK(c.command("TYPE I") == "200 Type set to I");
  CHECK(c.retr("a.txt") == "hello");
  CHECK(c.stor("b.txt", "abc").starts_with("226 "));
  auto st = c.command("STAT");
  CHECK(st.find("\n Logged in as test\n") != string::npos);
  CHECK(st.find("\n TYPE: BINARY") != string::npos);
  CHECK(st.find("\n Data connection: none\n") != string::npos);
  CHECK(st.find("\n Files sent: 1 (5 bytes)\n") != string::npos);
  CHECK(st.find("\n Files received: 1 (3 bytes)\n") != string::npos);
  REQUIRE(c.open_passive().starts_with("227 "));
  CHECK(c.command("STAT").find("\n Data connection: passive\n") != string::npos);

  // A directory: 212 with ls -l lines on the control connection.
  auto dir = reply_lines(c.command("STAT d"));
  REQUIRE(dir.size() == 4);
  CHECK(dir[0] == "212-Status of /d:");
  CHECK(list_name(dir[1]) == "x");
  CHECK(list_name(dir[2]) == "y");
  CHECK(dir[3] == "212 End of status");
  // A file: 213.
  auto file = reply_lines(c.command("STAT a.txt"));
  REQUIRE(file.size() == 3);
  CHECK(file[0] == "213-Status of /a.txt:");
  CHECK(list_name(file[1]) == "a.txt");
  CHECK(c.command("STAT -la d").starts_with("212-"));  // ls options are skipped, as in LIST
  CHECK(c.command("STAT nope") == "550 Directory not found");
}

TEST_CASE_TEMPLATE("commands: STAT during a transfer reports its progress", B, memory_backend, local_backend) {
  env<B> e;
  const auto big = random_bytes(std::size_t(16) << 20, 21);
  e.srv.put("/big.bin", big);
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("TYPE I") == "200 Type set to I");
  REQUIRE(c.open_passive().starts_with("227 "));
  CHECK(c.command("RETR big.bin") == "150 Opening data connection (16777216 bytes)");
  auto head = c.data().read_exactly(1 << 20);
  CHECK(head == big.substr(0, 1 << 20));
  c.send_raw("STAT\r\n");
  auto st = reply_lines(c.read_reply());
  REQUIRE(st.size() == 3);
  CHECK(st[0] == "213-Status: Sending /big.bin");
  CHECK(st[1].ends_with(" of 16777216 bytes transferred"));
  auto moved = std::stoull(st[1].substr(1));
  CHECK(moved >= std::uint64_t(1) << 20);
  CHECK(moved <= big.size());
  CHECK(st[2] == "213 End of status");
  CHECK(c.data().read_all() == big.substr(1 << 20));
  CHECK(c.read_reply() == "226 Transfer complete");
  CHECK(c.command("NOOP") == "200 OK");
}

// ---- HELP, SITE, FEAT from the table ------------------------------------------------------

TEST_CASE_TEMPLATE("commands: HELP lists exactly the table, HELP VERB gives its syntax", B, memory_backend,
                   local_backend) {
  env<B> e;
  ftp_client c{e.srv.endpoint()};
  auto help = c.command("HELP");
  CHECK(help.starts_with("214-The following commands are recognized:"));
  CHECK(help.ends_with("\n214 Help OK"));
  auto verbs = help_verbs(help);
  std::vector<string> table;
  // The compiled table, less what this server does not offer at run time: AUTH, PBSZ
  // and PROT need a certificate.
  for (auto v : coftp::default_commands::verbs<typename test_server<typename B::storage_type>::server_type::session_type>())
    if (v != "AUTH" && v != "PBSZ" && v != "PROT") table.emplace_back(v);
  CHECK(verbs == table);
  CHECK(std::find(verbs.begin(), verbs.end(), "AUTH") == verbs.end());
  for (string v : {"RETR", "STOR", "APPE", "STOU", "REST", "MLSD", "MLST", "STAT", "PORT", "EPRT", "MFMT", "REIN",
                   "ACCT", "SITE", "XCWD", "XCUP", "XPWD", "XMKD", "XRMD"})
    CHECK_MESSAGE(std::find(verbs.begin(), verbs.end(), v) != verbs.end(), v << " missing from HELP");
  CHECK(std::find(verbs.begin(), verbs.end(), "SMNT") == verbs.end());
  CHECK(c.command("HELP RETR") == "214 Syntax: RETR <sp> pathname");
  CHECK(c.command("HELP retr") == "214 Syntax: RETR <sp> pathname");
  CHECK(c.command("HELP REST") == "214 Syntax: REST <sp> byte-offset");
  CHECK(c.command("HELP SMNT") == "502 Unknown command SMNT");
  CHECK(c.command("HELP FOO") == "502 Unknown command FOO");
}

TEST_CASE_TEMPLATE("commands: SITE HELP and SITE CHMOD", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.put("/a.txt", "a");
  ftp_client c{e.srv.endpoint()};
  CHECK(c.command("SITE CHMOD 600 a.txt") == "530 Not logged in");
  login(c);
  auto help = c.command("SITE HELP");
  CHECK(help.starts_with("214-The following SITE commands are recognized:"));
  CHECK(help_verbs(help) == std::vector<string>{"CHMOD", "HELP"});
  CHECK(c.command("SITE HELP CHMOD") == "214 Syntax: SITE CHMOD <sp> octal-mode <sp> pathname");
  CHECK(c.command("SITE chmod 600 a.txt") == "200 SITE CHMOD command successful");
  auto l = lines_of(c.list("a.txt"));
  REQUIRE(l.size() == 1);
  CHECK(l[0].starts_with("-rw------- "));
  CHECK(c.command("SITE CHMOD 0751 a.txt") == "200 SITE CHMOD command successful");
  CHECK(lines_of(c.list("a.txt"))[0].starts_with("-rwxr-x--x "));
  CHECK(c.command("SITE CHMOD 4755 a.txt") == "550 SITE CHMOD: set-user-ID and set-group-ID bits are not allowed");
  CHECK(c.command("SITE CHMOD 2755 a.txt") == "550 SITE CHMOD: set-user-ID and set-group-ID bits are not allowed");
  CHECK(lines_of(c.list("a.txt"))[0].starts_with("-rwxr-x--x "));
  CHECK(c.command("SITE CHMOD 644 missing") == "550 File not found");
  CHECK(c.command("SITE CHMOD 999 a.txt") == "501 SITE CHMOD: the mode must be octal (e.g. 644)");
  CHECK(c.command("SITE CHMOD 644") == "501 SITE CHMOD requires an octal mode and a path");
  CHECK(c.command("SITE CHMOD") == "501 SITE CHMOD requires an octal mode and a path");
  CHECK(c.command("SITE FROB x") == "502 Unknown SITE command FROB");
  CHECK(c.command("SITE") == "501 Missing SITE command, try SITE HELP");
  ftp_client anon{e.srv.endpoint()};
  login(anon, "anonymous", "guest@");
  CHECK(anon.command("SITE CHMOD 777 a.txt") == "550 Permission denied");
}

TEST_CASE("commands: FEAT and HELP follow a custom command table") {
  test_server<coftp::memory_fs, coftp::null_observer, custom_table> srv{coftp::memory_fs{}};
  srv.put("/a.txt", "a");
  ftp_client c{srv.endpoint()};
  auto features = feat_lines(c);
  CHECK(features.count("XTRA fast") == 1);                                     // added: advertised
  CHECK(features.count("MLST type*;size*;modify*;perm*;unique;") == 0);       // removed: gone
  CHECK(features.count("REST STREAM") == 1);
  CHECK(features.count("SITE ECHO") == 1);                                     // a SITE sub-command's
  auto verbs = help_verbs(c.command("HELP"));
  CHECK(std::find(verbs.begin(), verbs.end(), "XTRA") != verbs.end());
  CHECK(std::find(verbs.begin(), verbs.end(), "MLST") == verbs.end());
  CHECK(std::find(verbs.begin(), verbs.end(), "DELE") == verbs.end());
  CHECK(c.command("XTRA") == "200 extra");
  CHECK(c.command("HELP XTRA") == "214 Syntax: XTRA");
  login(c);
  CHECK(c.command("MLST a.txt") == "502 Command not implemented");
  CHECK(c.command("DELE a.txt") == "502 Command not implemented");
  CHECK(c.command("OPTS MLST type;") == "501 MLST is not offered");
  // The SITE sub-command table was extended the same way.
  CHECK(c.command("SITE ECHO hi there") == "200 hi there");
  CHECK(help_verbs(c.command("SITE HELP")) == std::vector<string>{"CHMOD", "ECHO", "HELP"});
}

TEST_CASE("issue #19 - a custom command whose verb has a digit is answered by its handler") {
  test_server<coftp::memory_fs, coftp::null_observer, checksum_table> srv{coftp::memory_fs{}};
  srv.put("/a.txt", "hello");
  srv.put("/big.bin", random_bytes(100000, 19));
  ftp_client c{srv.endpoint()};
  CHECK(feat_lines(c).count("XCRC32") == 1);
  auto verbs = help_verbs(c.command("HELP"));
  CHECK(std::find(verbs.begin(), verbs.end(), "XCRC32") != verbs.end());
  CHECK(c.command("HELP XCRC32") == "214 Syntax: XCRC32 <sp> pathname");
  CHECK(c.command("HELP xcrc32") == "214 Syntax: XCRC32 <sp> pathname");
  CHECK(c.command("XCRC32 a.txt") == "530 Not logged in");  // its guards run: it was dispatched
  login(c);
  CHECK(c.command("XCRC32 a.txt") == "250 3610A686");      // crc32("hello")
  CHECK(c.command("xcrc32 /a.txt") == "250 3610A686");     // folded to upper case
  CHECK(c.command("XCRC32") == "501 XCRC32 requires a path");
  CHECK(c.command("XCRC32 missing") == "550 File not found");
  auto big = c.command("XCRC32 big.bin");
  CHECK(big.starts_with("250 "));
  CHECK(big.size() == 12);
  // Verbs with digits that the table lacks are unknown, as before; a digit first is no verb.
  CHECK(c.command("XMD5 a.txt") == "500 Unknown command");
  CHECK(c.command("5XMD a.txt") == "500 Unknown command");
  CHECK(c.command("NOOP") == "200 OK");
}

TEST_CASE("extending: the README's storage decorator, authenticator and command serve together") {
  constexpr std::uint64_t limit = 64 * 1024;
  coftp::memory_fs files{{"/home/ann/hello.txt", "hello"}, {"/home/bob/welcome.txt", "hello bob\n"}};
  asio::io_context io(1);
  example::team_auth team({"ann", "bob"}, "team-secret");
  coftp::basic_server<example::policies> srv(io, test_options(),
                                             example::size_limited<coftp::memory_fs>(files, limit), team);
  srv.start();
  std::thread runner([&io] { io.run(); });
  {
    ftp_client c{srv.endpoint()};
    CHECK(c.login("ann", "wrong") == "530 Login incorrect");
    CHECK(c.login("eve", "team-secret") == "530 Login incorrect");  // not of the team
    CHECK(c.login("ann", "team-secret") == "230 Login successful");
    CHECK(c.command("TYPE I") == "200 Type set to I");
    // The authenticator's home is the user's "/".
    CHECK(c.command("PWD") == "257 \"/\" is the current directory");
    CHECK(c.retr("hello.txt") == "hello");
    // The decorator: an upload within the limit is kept, one beyond it is refused whole.
    auto small = random_bytes(limit, 14);
    CHECK(c.stor("small.bin", small) == "226 Transfer complete (65536 bytes received)");
    CHECK(coftp::testing::read_all(files, "/home/ann/small.bin").second == small);
    CHECK(c.stor("big.bin", random_bytes(limit + 1, 15)).starts_with("452 "));
    CHECK(coftp::testing::read_all(files, "/home/ann/big.bin").first == coftp::storage_errc::not_found);
    CHECK(c.command("SIZE big.bin") == "550 File not found");
    // The command: in FEAT and HELP, behind its guards, reading through the storage.
    CHECK(feat_lines(c).count("XCRC") == 1);
    CHECK(c.command("HELP XCRC") == "214 Syntax: XCRC <sp> pathname");
    CHECK(c.command("XCRC hello.txt") == "250 3610A686");  // CRC-32 of "hello"
    CHECK(c.command("XCRC") == "501 XCRC requires a path");
    CHECK(c.command("XCRC missing.txt") == "550 File not found");
    CHECK(c.command("XCRC small.bin").starts_with("250 "));
  }
  {
    ftp_client c{srv.endpoint()};
    CHECK(c.login("bob", "team-secret") == "230 Login successful");
    CHECK(c.command("TYPE I") == "200 Type set to I");
    CHECK(c.retr("welcome.txt") == "hello bob\n");
    CHECK(c.command("SIZE hello.txt") == "550 File not found");  // ann's, not under bob's "/"
    CHECK(c.command("XCRC /hello.txt") == "550 File not found");
  }
  srv.stop();
  runner.join();
}

TEST_CASE_TEMPLATE("commands: FEAT advertises exactly what the default table offers", B, memory_backend,
                   local_backend) {
  env<B> e;
  ftp_client c{e.srv.endpoint()};
  CHECK(feat_lines(c) == std::set<string>{"EPSV", "HOST", "MDTM", "MFMT", "MLST type*;size*;modify*;perm*;unique;", "PASV",
                                          "REST STREAM", "SIZE", "TVFS", "UTF8"});
}

// ---- active mode, EPSV ALL -----------------------------------------------------------------

TEST_CASE_TEMPLATE("commands: PORT and EPRT transfers", B, memory_backend, local_backend) {
  env<B> e;
  const auto data = random_bytes(3 << 20, 31);
  e.srv.put("/f.bin", data);
  e.srv.put("/a.txt", "line1\nline2\n");
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("TYPE I") == "200 Type set to I");
  for (auto m : {passive_mode::port, passive_mode::eprt}) {
    CAPTURE(int(m));
    CHECK(c.retr("f.bin", m) == data);
    CHECK(c.last_reply() == "226 Transfer complete");
    CHECK(c.stor("up.bin", data, m).starts_with("226 "));
    CHECK(e.srv.get("/up.bin") == data);
    CHECK(c.nlst("", m) == "a.txt\r\nf.bin\r\nup.bin\r\n");
    CHECK(c.command("REST 100").starts_with("350 "));
    CHECK(c.retr("f.bin", m) == data.substr(100));
  }
  CHECK(c.open_active(passive_mode::port).starts_with("200 Active mode: will connect to 127.0.0.1 port "));
  CHECK(c.command("TYPE A") == "200 Type set to A");
  CHECK(c.retr("a.txt", passive_mode::eprt) == "line1\r\nline2\r\n");
}

TEST_CASE_TEMPLATE("commands: PORT and EPRT refuse third parties, low ports and garbage", B, memory_backend,
                   local_backend) {
  env<B> e;
  ftp_client c{e.srv.endpoint()};
  CHECK(c.command("PORT 127,0,0,1,200,10") == "530 Not logged in");
  login(c);
  // RFC 2577: only the client's own address, nothing below port 1024.
  CHECK(c.command("PORT 127,0,0,2,200,10") ==
        "500 Illegal address: data connections go to the client's own address only");
  CHECK(c.command("PORT 10,1,2,3,200,10") ==
        "500 Illegal address: data connections go to the client's own address only");
  CHECK(c.command("EPRT |1|127.0.0.2|51210|") ==
        "500 Illegal address: data connections go to the client's own address only");
  CHECK(c.command("EPRT |2|::1|51210|") == "500 Illegal address: data connections go to the client's own address only");
  CHECK(c.command("PORT 127,0,0,1,0,21") == "504 Illegal port: ports below 1024 are refused");
  CHECK(c.command("EPRT |1|127.0.0.1|25|") == "504 Illegal port: ports below 1024 are refused");
  // Nothing was set up by the refusals.
  CHECK(c.command("RETR x") == "425 Use PASV or EPSV first");
  // Malformed.
  for (string bad : {"PORT 127,0,0,1,200", "PORT 127,0,0,1,200,10,1", "PORT 127,0,0,1,256,1", "PORT a,b,c,d,e,f",
                     "PORT 127,0,0,1,,1", "PORT 127.0.0.1.200.10", "PORT -1,0,0,1,200,10"}) {
    CAPTURE(bad);
    CHECK(c.command(bad) == "501 PORT requires h1,h2,h3,h4,p1,p2 (numbers 0-255)");
  }
  CHECK(c.command("PORT") == "501 PORT requires h1,h2,h3,h4,p1,p2");
  for (string bad : {"EPRT |1|127.0.0.1|", "EPRT |1|127.0.0.1|70000|", "EPRT |1|::1|5000|", "EPRT |2|127.0.0.1|5000|",
                     "EPRT 1|127.0.0.1|5000|", "EPRT |1|127.0.0.1|0|", "EPRT |1|300.0.0.1|5000|", "EPRT ||||"}) {
    CAPTURE(bad);
    CHECK(c.command(bad) == "501 EPRT requires <d><proto><d><address><d><port><d>");
  }
  CHECK(c.command("EPRT |3|127.0.0.1|5000|") == "522 Network protocol not supported, use (1,2)");
}

TEST_CASE_TEMPLATE("commands: an active connection that fails is 425, bounded in time", B, memory_backend,
                   local_backend) {
  env<B> e;
  e.srv.put("/a.txt", "a");
  ftp_client c{e.srv.endpoint()};
  login(c);
  // A port on our address where nothing listens: the connect is refused.
  std::uint16_t closed_port;
  {
    asio::io_context io;
    asio::ip::tcp::acceptor probe(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    closed_port = probe.local_endpoint().port();
  }
  CHECK(c.command("EPRT |1|127.0.0.1|" + std::to_string(closed_port) + "|").starts_with("200 "));
  auto t0 = std::chrono::steady_clock::now();
  CHECK(c.command("RETR a.txt") == "425 Cannot open data connection");
  CHECK(std::chrono::steady_clock::now() - t0 < 3500ms);  // data_timeout is 3 s
  CHECK(c.command("NOOP") == "200 OK");
}

TEST_CASE_TEMPLATE("commands: active mode can be switched off", B, memory_backend, local_backend) {
  auto o = test_options();
  o.active_mode = false;
  env<B> e{o};
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.open_active(passive_mode::port) == "502 Active mode is disabled on this server, use EPSV or PASV");
  CHECK(c.open_active(passive_mode::eprt) == "502 Active mode is disabled on this server, use EPSV or PASV");
  CHECK(c.nlst("", passive_mode::epsv) == "");
  CHECK(c.last_reply() == "226 Directory listing sent");
}

TEST_CASE("commands: IPv6: EPSV and EPRT work, PASV and PORT are refused") {
  {
    asio::io_context io;
    std::error_code ec;
    asio::ip::tcp::acceptor probe(io);
    probe.open(asio::ip::tcp::v6(), ec);
    if (!ec) probe.bind(asio::ip::tcp::endpoint(asio::ip::make_address("::1"), 0), ec);
    if (ec) {
      MESSAGE("no IPv6 loopback on this machine (" << ec.message() << "): test not run");
      return;
    }
  }
  auto o = test_options();
  o.host = "::1";
  test_server<coftp::memory_fs> srv{coftp::memory_fs{}, o};
  srv.put("/a.txt", "hello");
  ftp_client c{srv.endpoint()};
  login(c);
  CHECK(c.command("TYPE I") == "200 Type set to I");
  CHECK(c.command("PASV") == "425 PASV is not available on an IPv6 connection, use EPSV");
  CHECK(c.command("EPSV 1") == "522 Network protocol not supported, use (2)");
  CHECK(c.command("EPSV 2").starts_with("229 "));
  CHECK(c.retr("a.txt", passive_mode::epsv) == "hello");
  CHECK(c.retr("a.txt", passive_mode::eprt) == "hello");
  CHECK(c.last_reply() == "226 Transfer complete");
  CHECK(c.command("PORT 127,0,0,1,200,10") ==
        "500 Illegal address: data connections go to the client's own address only");
}

TEST_CASE_TEMPLATE("commands: EPSV ALL, EPSV 1 and EPSV 2", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.put("/a.txt", "a");
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("EPSV 2") == "522 Network protocol not supported, use (1)");
  CHECK(c.command("EPSV 3") == "522 Network protocol not supported, use (1,2)");
  CHECK(c.command("EPSV x") == "501 EPSV takes 1, 2 or ALL");
  CHECK(c.command("EPSV 1").starts_with("229 Entering Extended Passive Mode (|||"));
  CHECK(c.command("PASV").starts_with("227 "));  // allowed before EPSV ALL
  CHECK(c.command("EPSV ALL") == "200 EPSV ALL accepted: PASV, PORT and EPRT are refused from now on");
  const string refused = "503 EPSV ALL in effect: only EPSV may open data connections";
  CHECK(c.command("PASV") == refused);
  CHECK(c.command("PORT 127,0,0,1,200,10") == refused);
  CHECK(c.command("EPRT |1|127.0.0.1|51210|") == refused);
  CHECK(c.retr("a.txt", passive_mode::epsv) == "a");
  // REIN ends it, with the login.
  CHECK(c.command("REIN") == "220 Service ready for new user");
  login(c);
  CHECK(c.command("PASV").starts_with("227 "));
}

// ---- MFMT, REIN, ACCT, SMNT --------------------------------------------------------------

TEST_CASE_TEMPLATE("commands: MFMT sets the modification time", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.put("/a b.txt", "a");
  e.srv.mkdir("/d");
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("MFMT 20200102030405 a b.txt") == "213 Modify=20200102030405; /a b.txt");
  CHECK(c.command("MDTM a b.txt") == "213 20200102030405");
  CHECK(c.command("MFMT 19991231235959.123 /a b.txt") == "213 Modify=19991231235959.123; /a b.txt");
  CHECK(c.command("MDTM /a b.txt") == "213 19991231235959");
  auto l = lines_of(c.list("a b.txt"));
  REQUIRE(l.size() == 1);
  CHECK(l[0].find(" Dec 31  1999 a b.txt") != string::npos);
  CHECK(c.command("MFMT 20201301000000 a b.txt") == "501 Invalid time, expected YYYYMMDDHHMMSS (UTC)");
  CHECK(c.command("MFMT 2020 a b.txt") == "501 Invalid time, expected YYYYMMDDHHMMSS (UTC)");
  CHECK(c.command("MFMT 20200102030405") == "501 MFMT requires YYYYMMDDHHMMSS and a path");
  CHECK(c.command("MFMT") == "501 MFMT requires YYYYMMDDHHMMSS and a path");
  CHECK(c.command("MFMT 20200102030405 missing") == "550 File not found");
  CHECK(c.command("MFMT 20200102030405 d") == "550 Not a plain file");
  ftp_client anon{e.srv.endpoint()};
  login(anon, "anonymous", "guest@");
  CHECK(anon.command("MFMT 20200102030405 a b.txt") == "550 Permission denied");
}

TEST_CASE_TEMPLATE("issue #19 - MFMT keeps fractional seconds", B, memory_backend, local_backend) {
  using namespace std::chrono;
  env<B> e;
  e.srv.put("/a.txt", "a");
  ftp_client c{e.srv.endpoint()};
  login(c);
  // The stored time as the backend holds it (local_fs: the file's st_mtim on disk).
  auto stored = [&] {
    auto [ec, info] = run_sync(e.srv.storage().stat("/a.txt"));
    REQUIRE_FALSE(ec);
    return info.mtime.time_since_epoch();
  };
  CHECK(c.command("MFMT 20200101123456.789 a.txt") == "213 Modify=20200101123456.789; /a.txt");
  CHECK(stored() == seconds(1577882096) + milliseconds(789));
  if constexpr (B::on_disk) {
    struct ::stat st {};
    REQUIRE(::stat((e.backend.root() / "a.txt").c_str(), &st) == 0);
    CHECK(st.st_mtim.tv_sec == 1577882096);
    CHECK(st.st_mtim.tv_nsec == 789000000);
  }
  // MDTM and the modify fact show whole seconds (what clients parse), cut, not rounded.
  CHECK(c.command("MDTM a.txt") == "213 20200101123456");
  auto mlst = reply_lines(c.command("MLST a.txt"));
  REQUIRE(mlst.size() == 3);
  CHECK(parse_facts(mlst[1].substr(1)).first["modify"] == "20200101123456");
  // Nine digits: nanoseconds; one digit: tenths; the reply has the digits that were sent.
  CHECK(c.command("MFMT 20200101123456.123456789 a.txt") == "213 Modify=20200101123456.123456789; /a.txt");
  CHECK(stored() == seconds(1577882096) + nanoseconds(123456789));
  CHECK(c.command("MFMT 20200101123456.5 a.txt") == "213 Modify=20200101123456.5; /a.txt");
  CHECK(stored() == seconds(1577882096) + milliseconds(500));
  // Before 1970 the fraction counts up from the second before: 23:59:59.25 of 1969.
  CHECK(c.command("MFMT 19691231235959.25 a.txt") == "213 Modify=19691231235959.25; /a.txt");
  CHECK(stored() == milliseconds(-750));
  CHECK(c.command("MDTM a.txt") == "213 19691231235959");
  if constexpr (B::on_disk) {
    struct ::stat st {};
    REQUIRE(::stat((e.backend.root() / "a.txt").c_str(), &st) == 0);
    CHECK(st.st_mtim.tv_sec == -1);
    CHECK(st.st_mtim.tv_nsec == 250000000);
  }
  CHECK(c.command("MFMT 20200101123456. a.txt") == "501 Invalid time, expected YYYYMMDDHHMMSS (UTC)");
  CHECK(c.command("MFMT 20200101123456.1234567890 a.txt") == "501 Invalid time, expected YYYYMMDDHHMMSS (UTC)");
}

TEST_CASE_TEMPLATE("commands: REIN, ACCT and SMNT", B, memory_backend, local_backend) {
  env<B> e;
  e.srv.mkdir("/d");
  ftp_client c{e.srv.endpoint()};
  CHECK(c.command("ACCT x") == "202 No account needed, ACCT is superfluous here");
  login(c);
  CHECK(c.command("ACCT x") == "202 No account needed, ACCT is superfluous here");
  CHECK(c.command("SMNT /mnt") == "502 Command not implemented");
  CHECK(c.command("CWD d").starts_with("250 "));
  CHECK(c.command("TYPE I") == "200 Type set to I");
  CHECK(c.command("REST 10").starts_with("350 "));
  CHECK(c.command("OPTS MLST type;") == "200 MLST OPTS type;");
  CHECK(c.command("PASV").starts_with("227 "));
  CHECK(c.command("REIN") == "220 Service ready for new user");
  // Logged out, and every parameter back to its default.
  CHECK(c.command("PWD") == "530 Not logged in");
  login(c);
  CHECK(c.command("PWD") == "257 \"/\" is the current directory");
  auto st = c.command("STAT");
  CHECK(st.find(" TYPE: ASCII") != string::npos);
  CHECK(st.find(" Data connection: none") != string::npos);
  auto facts = parse_facts(reply_lines(c.command("MLST d"))[1].substr(1)).first;
  CHECK(facts.count("perm") == 1);  // OPTS MLST reset to the default facts
  CHECK(c.command("RETR x") == "425 Use PASV or EPSV first");
}

// ---- LIST -R, NLST -R ----------------------------------------------------------------------

namespace {
// A recursive LIST with each `ls -l` line cut to its type letter and name ("d sub",
// "- a.txt"); headers ("sub:") and blank lines as they are.
std::vector<string> short_lines(const string& listing) {
  std::vector<string> out;
  for (auto& l : lines_of(listing)) {
    if (l.empty() || l.ends_with(":")) {
      out.push_back(l);
      continue;
    }
    std::size_t pos = 0;
    for (int field = 0; field < 8; ++field) {  // mode nlink owner group size month day time
      pos = l.find_first_not_of(' ', pos);
      pos = l.find(' ', pos);
      REQUIRE_MESSAGE(pos != string::npos, "not an ls -l line: " << l);
    }
    out.push_back(l.substr(0, 1) + " " + l.substr(pos + 1));
  }
  return out;
}
}  // namespace

TEST_CASE_TEMPLATE("issue #19 - LIST -R lists the subdirectories as ls -lR does, NLST -R their paths", B,
                   memory_backend, local_backend) {
  env<B> e;
  e.srv.put("/a.txt", "a");
  e.srv.mkdir("/sub");
  e.srv.put("/sub/b.txt", "b");
  e.srv.mkdir("/sub/deeper");
  e.srv.put("/sub/deeper/c d.txt", "c");
  e.srv.mkdir("/sub/empty");
  e.srv.mkdir("/z");
  ftp_client c{e.srv.endpoint()};
  login(c);
  const std::vector<string> whole = {".:",           "- a.txt",      "d sub",       "d z",   "",
                                     "./sub:",       "- b.txt",      "d deeper",    "d empty", "",
                                     "./sub/deeper:", "- c d.txt",   "",            "./sub/empty:", "",
                                     "./z:"};
  for (auto arg : {"-R", "-lR", "-alR", "-l -R", "--recursive"}) {
    CAPTURE(arg);
    CHECK(short_lines(c.list(arg)) == whole);
    CHECK(c.last_reply() == "226 Directory listing sent");
  }
  // A path: headers start from it as written; "/" gives absolute headers.
  CHECK(short_lines(c.list("-lR sub/")) == std::vector<string>{"sub:", "- b.txt", "d deeper", "d empty", "",
                                                               "sub/deeper:", "- c d.txt", "", "sub/empty:"});
  CHECK(short_lines(c.list("-R /sub/deeper")) == std::vector<string>{"/sub/deeper:", "- c d.txt"});
  CHECK(short_lines(c.list("-R /")) ==
        std::vector<string>{"/:", "- a.txt", "d sub", "d z", "", "/sub:", "- b.txt", "d deeper", "d empty", "",
                            "/sub/deeper:", "- c d.txt", "", "/sub/empty:", "", "/z:"});
  REQUIRE(c.command("CWD sub").starts_with("250 "));
  CHECK(short_lines(c.list("-R deeper")) == std::vector<string>{"deeper:", "- c d.txt"});
  REQUIRE(c.command("CWD /").starts_with("250 "));
  // A file, or a glob, is listed as without -R.
  CHECK(short_lines(c.list("-R a.txt")) == std::vector<string>{"- a.txt"});
  CHECK(short_lines(c.list("-R s*")) == std::vector<string>{"d sub"});
  // Without -R nothing changes; "-a" or "-l" alone are not -R.
  CHECK(short_lines(c.list("-la")) == std::vector<string>{"- a.txt", "d sub", "d z"});
  // NLST -R: every entry, each with a path RETR takes as it is; no headers.
  CHECK(lines_of(c.nlst("-R")) ==
        std::vector<string>{"a.txt", "sub", "z", "sub/b.txt", "sub/deeper", "sub/empty", "sub/deeper/c d.txt"});
  CHECK(c.last_reply() == "226 Directory listing sent");
  CHECK(lines_of(c.nlst("-R sub")) ==
        std::vector<string>{"sub/b.txt", "sub/deeper", "sub/empty", "sub/deeper/c d.txt"});
  for (auto& name : lines_of(c.nlst("-R sub")))
    if (name.ends_with(".txt")) {
      CHECK_FALSE(c.retr(name).empty());
      CHECK(c.last_reply() == "226 Transfer complete");
    }
  CHECK(c.command("NOOP") == "200 OK");
}

TEST_CASE("issue #19 - LIST -R is bounded in depth and in entries, and says so") {
  test_server<coftp::memory_fs> srv{coftp::memory_fs{}};
  // /d1/d2/.../d10: levels 1 to 8 are listed, d9 appears in d8's listing, d10 nowhere.
  string path;
  for (int i = 1; i <= 10; ++i) {
    path += "/d" + std::to_string(i);
    srv.mkdir(path);
  }
  srv.put(path + "/deepest.txt", "x");
  ftp_client c{srv.endpoint()};
  login(c);
  auto lines = short_lines(c.list("-R d1"));
  CHECK(c.last_reply() ==
        "226 Directory listing truncated: directories more than " + std::to_string(COFTP_MAX_LISTING_DEPTH) +
            " levels down not listed");
  std::vector<string> headers;
  for (auto& l : lines)
    if (l.ends_with(":")) headers.push_back(l);
  REQUIRE(headers.size() == COFTP_MAX_LISTING_DEPTH + 1);
  CHECK(headers.front() == "d1:");
  CHECK(headers.back() == "d1/d2/d3/d4/d5/d6/d7/d8/d9:");
  CHECK(lines.back() == "d d10");  // shown, not listed
  CHECK(std::find(lines.begin(), lines.end(), "- deepest.txt") == lines.end());
  CHECK(lines_of(c.nlst("-R d1/d2/d3")).back() == "d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/deepest.txt");
  CHECK(c.last_reply() == "226 Directory listing sent");

  // More entries than the bound: exactly COFTP_MAX_RECURSIVE_ENTRIES are sent, then 226 says so.
  srv.mkdir("/many");
  srv.mkdir("/many/sub");
  for (int i = 0; i < COFTP_MAX_RECURSIVE_ENTRIES; ++i) srv.put("/many/sub/f" + std::to_string(i), "");
  auto many = short_lines(c.list("-R many"));
  CHECK(c.last_reply() == "226 Directory listing truncated: more than " +
                              std::to_string(COFTP_MAX_RECURSIVE_ENTRIES) + " entries");
  std::size_t entries = 0;
  for (auto& l : many)
    if (!l.empty() && !l.ends_with(":")) ++entries;
  CHECK(entries == COFTP_MAX_RECURSIVE_ENTRIES);
  CHECK(many[0] == "many:");
  CHECK(many[1] == "d sub");
  CHECK(many[3] == "many/sub:");
  CHECK(lines_of(c.nlst("-R many")).size() == COFTP_MAX_RECURSIVE_ENTRIES);
  // Exactly at the bound is not truncated.
  srv.mkdir("/exact");
  for (int i = 0; i < COFTP_MAX_RECURSIVE_ENTRIES; ++i) srv.put("/exact/f" + std::to_string(i), "");
  CHECK(lines_of(c.nlst("-R exact")).size() == COFTP_MAX_RECURSIVE_ENTRIES);
  CHECK(c.last_reply() == "226 Directory listing sent");
  CHECK(c.command("NOOP") == "200 OK");
}

TEST_CASE("issue #19 - LIST -R does not loop through a symlink to an ancestor") {
  local_backend b;
  fs::create_directories(b.root() / "top" / "sub");
  std::ofstream(b.root() / "top" / "sub" / "f.txt") << "f";
  fs::create_directory_symlink("..", b.root() / "top" / "sub" / "up");      // -> top
  fs::create_directory_symlink("../..", b.root() / "top" / "sub" / "root");  // -> the root, above top
  test_server<coftp::local_fs> srv{b.make()};
  ftp_client c{srv.endpoint()};
  login(c);
  auto lines = short_lines(c.list("-R top"));
  CHECK(c.last_reply() == "226 Directory listing sent");
  std::vector<string> headers;
  for (auto& l : lines)
    if (l.ends_with(":")) headers.push_back(l);
  // "up" is top itself: shown, not listed again. "root" is the root, listed once, and
  // its "top" is top again: not listed.
  CHECK(headers == std::vector<string>{"top:", "top/sub:", "top/sub/root:"});
  CHECK(std::find(lines.begin(), lines.end(), "d up") != lines.end());
  CHECK(lines.size() < 20);
}

// ---- globs -----------------------------------------------------------------------------

TEST_CASE_TEMPLATE("commands: NLST and LIST accept globs in the last component", B, memory_backend,
                   local_backend) {
  env<B> e;
  e.srv.put("/a.txt", "a");
  e.srv.put("/b.txt", "b");
  e.srv.put("/c.log", "c");
  e.srv.put("/.hidden.txt", "h");
  e.srv.put("/lit*eral", "l");
  e.srv.mkdir("/sub");
  e.srv.put("/sub/x.txt", "x");
  e.srv.put("/sub/y.dat", "y");
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.nlst("*.txt") == "a.txt\r\nb.txt\r\n");  // '*' does not match a leading dot
  CHECK(c.nlst(".*.txt") == ".hidden.txt\r\n");
  CHECK(c.nlst("?.*") == "a.txt\r\nb.txt\r\nc.log\r\n");
  CHECK(c.nlst("[ac]*") == "a.txt\r\nc.log\r\n");
  CHECK(c.nlst("[!ac]*") == "b.txt\r\nlit*eral\r\nsub\r\n");
  // A directory part is kept, so that each name can be passed to RETR as it is.
  CHECK(c.nlst("sub/*.txt") == "sub/x.txt\r\n");
  CHECK(c.nlst("/sub/*") == "/sub/x.txt\r\n/sub/y.dat\r\n");
  auto l = lines_of(c.list("sub/*.dat"));
  REQUIRE(l.size() == 1);
  CHECK(list_name(l[0]) == "y.dat");
  // Trailing slashes do not become part of the names.
  CHECK(c.nlst("su*/") == "sub\r\n");
  CHECK(c.nlst("/") == "/.hidden.txt\r\n/a.txt\r\n/b.txt\r\n/c.log\r\n/lit*eral\r\n/sub\r\n");
  // A name that exists literally is that file, not a pattern.
  CHECK(c.nlst("lit*eral") == "lit*eral\r\n");
  // No match: 550. Patterns never leave the user's root nor cross '/'.
  CHECK(c.nlst("*.none") == "");
  CHECK(c.last_reply() == "550 No files found");
  CHECK(c.nlst("../../*.txt") == "../../a.txt\r\n../../b.txt\r\n");
  CHECK(c.nlst("*/x.txt") == "");
  CHECK(c.last_reply() == "550 Directory not found");
  CHECK(c.retr("sub/x.txt") == "x");
}

TEST_CASE("commands: a glob matching too many entries is refused") {
  test_server<coftp::memory_fs> srv{coftp::memory_fs{}};
  for (int i = 0; i <= COFTP_MAX_GLOB_MATCHES; ++i) srv.put("/f" + std::to_string(i), "");
  ftp_client c{srv.endpoint()};
  login(c);
  CHECK(c.nlst("f*") == "");
  CHECK(c.last_reply() == "550 Too many matches (more than " + std::to_string(COFTP_MAX_GLOB_MATCHES) +
                              "), narrow the pattern");
  CHECK(lines_of(c.nlst("f1*")).size() == 1 + 10 + 100 + 1000 + 1);  // f1, f10-19, ..., f10000
}

// A directory past COFTP_LISTING_SORT_LIMIT streams in the backend's order, batch after
// batch: every entry exactly once in LIST, NLST, MLSD and STAT, none of a subdirectory's.
TEST_CASE_TEMPLATE("commands: a directory larger than the sort limit is listed whole, each entry once", B,
                   memory_backend, local_backend) {
  env<B> e;
  const int count = COFTP_LISTING_SORT_LIMIT + 3 * static_cast<int>(coftp::listing_batch) + 5;
  e.srv.mkdir("/big");
  e.srv.mkdir("/big/zz_sub");
  e.srv.put("/big/zz_sub/inner.txt", "not listed");
  std::set<string> expected{"zz_sub"};
  for (int i = 0; i < count; ++i) {
    string name = "file" + std::to_string(100000 + i);
    e.srv.put("/big/" + name, "x");
    expected.insert(name);
  }
  ftp_client c{e.srv.endpoint()};
  login(c);

  std::multiset<string> names;
  for (auto& line : lines_of(c.list("big"))) names.insert(list_name(line));
  CHECK(c.last_reply() == "226 Directory listing sent");
  CHECK(names.size() == expected.size());
  CHECK(std::set<string>(names.begin(), names.end()) == expected);

  names.clear();
  for (auto& line : lines_of(c.nlst("big"))) names.insert(line);
  CHECK(names.size() == expected.size());
  CHECK(names.count("big/file100000") == 1);
  CHECK(names.count("big/zz_sub") == 1);

  auto mlsd = lines_of(c.download("MLSD big"));
  REQUIRE(mlsd.size() == expected.size() + 1);
  CHECK(mlsd[0].find("type=cdir;") != string::npos);
  names.clear();
  for (std::size_t i = 1; i < mlsd.size(); ++i) names.insert(mlsd[i].substr(mlsd[i].find("; ") + 2));
  CHECK(std::set<string>(names.begin(), names.end()) == expected);
  CHECK(names.size() == expected.size());

  // STAT sends it on the control connection: one reply, all the lines.
  auto stat = c.command("STAT big");
  CHECK(stat.starts_with("212-Status of /big:"));
  CHECK(std::count(stat.begin(), stat.end(), '\n') == static_cast<long>(expected.size()) + 1);

  // A small directory is still sorted by name.
  e.srv.mkdir("/small");
  for (auto n : {"c", "a", "b"}) e.srv.put(string("/small/") + n, "");
  CHECK(c.nlst("small") == "small/a\r\nsmall/b\r\nsmall/c\r\n");
}

// ---- the observer's outcome ----------------------------------------------------------------

TEST_CASE("commands: an aborted transfer reports the bytes it moved") {
  test_server<coftp::memory_fs, recording_observer> srv{coftp::memory_fs{}};
  const auto big = random_bytes(std::size_t(16) << 20, 47);
  srv.put("/big.bin", big);
  auto& obs = srv.observer();
  ftp_client c{srv.endpoint()};
  login(c);
  CHECK(c.command("TYPE I") == "200 Type set to I");
  REQUIRE(c.open_passive().starts_with("227 "));
  CHECK(c.command("RETR big.bin") == "150 Opening data connection (16777216 bytes)");
  CHECK(c.data().read_exactly(1 << 20).size() == std::size_t(1) << 20);
  c.send_raw("ABOR\r\n");
  CHECK(c.read_reply() == "426 Connection closed; transfer aborted");
  CHECK(c.read_reply() == "226 Abort successful");
  std::uint64_t reported = 0;
  CHECK(wait_until([&] {
    for (const auto& ev : obs.events())
      if (ev.starts_with("transfer download /big.bin ") && ev.find(" aborted user=test") != string::npos) {
        reported = std::stoull(ev.substr(string("transfer download /big.bin ").size()));
        return true;
      }
    return false;
  }));
  CHECK(reported >= std::uint64_t(1) << 20);
  CHECK(reported < big.size());
}

// sendfile has no MSG_NOSIGNAL, and it can raise SIGPIPE while still returning a
// partial count; an unconsumed SIGPIPE kills the whole process (here, the test binary).
TEST_CASE("commands: clients resetting during zero-copy RETRs never raise SIGPIPE") {
  env<local_backend> e;
  const auto big = random_bytes(std::size_t(8) << 20, 48);
  e.srv.put("/big.bin", big);
  for (int i = 0; i < 40; ++i) {
    CAPTURE(i);
    ftp_client c{e.srv.endpoint()};
    login(c);
    CHECK(c.command("TYPE I") == "200 Type set to I");
    REQUIRE(c.open_passive(i % 2 ? passive_mode::pasv : passive_mode::epsv).starts_with("2"));
    CHECK(c.command("RETR big.bin") == "150 Opening data connection (8388608 bytes)");
    c.data().read_exactly(std::size_t(64) << 10 << (i % 5));
    c.data().reset();  // RST while the server is inside sendfile
    CHECK(c.read_reply() == "426 Connection closed; transfer aborted");
  }
  ftp_client c{e.srv.endpoint()};
  login(c);
  CHECK(c.command("NOOP") == "200 OK");
}

// ---- RFC 7151 HOST: virtual hosts --------------------------------------------------------

namespace {

using host_server = test_server<coftp::memory_fs>;

// The server's own host (users "test"/"secret" and anonymous), plus ftp.example.com
// (alice) and ftp.example.net (bob, and a "test" of its own), each with its own files.
std::unique_ptr<host_server> virtual_hosts_server() {
  return std::make_unique<host_server>(coftp::memory_fs{}, test_options(), coftp::null_observer{}, 2,
                                       [](host_server::server_type& s) {
                                         coftp::user_table com;
                                         com.add("alice", "wonder", coftp::permissions::all);
                                         s.add_virtual_host("ftp.example.com", coftp::memory_fs{}, com);
                                         s.add_virtual_host("[::1]", coftp::memory_fs{}, com);
                                         coftp::user_table net;
                                         net.add("bob", "builder", coftp::permissions::all);
                                         net.add("test", "other", coftp::permissions::all);
                                         s.add_virtual_host("FTP.Example.NET.", coftp::memory_fs{}, net);
                                       });
}

}  // namespace

TEST_CASE("host: host names compare without case and trailing dot; IPv6 in brackets") {
  using coftp::canonical_host_name;
  CHECK(canonical_host_name("FTP.Example.COM.") == "ftp.example.com");
  CHECK(canonical_host_name("localhost") == "localhost");
  CHECK(canonical_host_name("127.0.0.1") == "127.0.0.1");
  CHECK(canonical_host_name("[0:0::1]") == "[::1]");
  CHECK(canonical_host_name("[2001:DB8::A]") == "[2001:db8::a]");
  CHECK(canonical_host_name("a-b.c1.example") == "a-b.c1.example");
  for (const char* bad : {"", ".", "a..b", "-a.com", "a-.com", "a_b.com", "a b", "[::1", "[zz]", "[127.0.0.1]",
                          "[fe80::1%eth0]", "ftp.example.com/x"})
    CHECK_MESSAGE(!canonical_host_name(bad), bad);
  CHECK(canonical_host_name(string(63, 'a') + ".com"));
  CHECK_FALSE(canonical_host_name(string(64, 'a') + ".com"));
}

TEST_CASE("host: each virtual host has its own users and its own files") {
  auto srv = virtual_hosts_server();
  ftp_client com{srv->endpoint()};
  CHECK(com.command("HOST ftp.example.com") == "220 Host ftp.example.com ready");
  CHECK(com.login("alice", "wonder") == "230 Login successful");
  CHECK(com.stor("only-com.txt", "from com").starts_with("226 "));
  CHECK(com.nlst() == "only-com.txt\r\n");

  ftp_client net{srv->endpoint()};
  CHECK(net.command("HOST Ftp.Example.Net.") == "220 Host ftp.example.net ready");
  CHECK(net.login("alice", "wonder") == "530 Login incorrect");
  CHECK(net.login("test", "secret") == "530 Login incorrect");  // the server's own "test" is not this host's
  CHECK(net.login("bob", "builder") == "230 Login successful");
  CHECK(net.command("SIZE only-com.txt").starts_with("550 "));
  CHECK(net.nlst().empty());
  CHECK(net.stor("only-net.txt", "from net").starts_with("226 "));

  ftp_client own{srv->endpoint()};  // no HOST: the server's own host
  CHECK(own.login("alice", "wonder") == "530 Login incorrect");
  CHECK(own.login("test", "secret") == "230 Login successful");
  CHECK(own.command("SIZE only-com.txt").starts_with("550 "));
  CHECK(own.command("SIZE only-net.txt").starts_with("550 "));

  ftp_client v6{srv->endpoint()};  // an IPv6 literal names the same users (its own files)
  CHECK(v6.command("HOST [0::1]") == "220 Host [::1] ready");
  CHECK(v6.login("alice", "wonder") == "230 Login successful");
  CHECK(v6.command("SIZE only-com.txt").starts_with("550 "));
  CHECK(com.retr("only-com.txt") == "from com");
}

TEST_CASE("host: HOST before USER only, REIN starts over, unknown hosts 504, bad names 501") {
  auto srv = virtual_hosts_server();
  ftp_client c{srv->endpoint()};
  CHECK(c.command("HOST") == "501 Missing host name");
  CHECK(c.command("HOST bad_name") == "501 Invalid host name");
  CHECK(c.command("HOST [nope]") == "501 Invalid host name");
  CHECK(c.command("HOST unknown.example") == "504 Unknown virtual host");
  CHECK(c.command("HOST ftp.example.com") == "220 Host ftp.example.com ready");
  CHECK(c.command("USER alice") == "331 Username OK, need password");
  CHECK(c.command("HOST ftp.example.net") == "503 HOST must come before USER (send REIN first)");
  CHECK(c.command("PASS wonder") == "230 Login successful");  // still ftp.example.com
  CHECK(c.command("HOST ftp.example.net") == "503 HOST must come before USER (send REIN first)");
  CHECK(c.stor("a.txt", "com").starts_with("226 "));
  CHECK(c.command("REIN") == "220 Service ready for new user");
  CHECK(c.command("HOST ftp.example.net") == "220 Host ftp.example.net ready");
  CHECK(c.login("alice", "wonder") == "530 Login incorrect");
  CHECK(c.login("bob", "builder") == "230 Login successful");
  CHECK(c.command("SIZE a.txt").starts_with("550 "));
  CHECK(c.command("REIN") == "220 Service ready for new user");  // back to the server's own host
  CHECK(c.login("bob", "builder") == "530 Login incorrect");
  CHECK(c.login("test", "secret") == "230 Login successful");
  // An unknown name changes nothing: the host chosen before stays.
  CHECK(c.command("REIN") == "220 Service ready for new user");
  CHECK(c.command("HOST ftp.example.com") == "220 Host ftp.example.com ready");
  CHECK(c.command("HOST nowhere.example") == "504 Unknown virtual host");
  CHECK(c.login("alice", "wonder") == "230 Login successful");
  CHECK(c.retr("a.txt") == "com");
}

TEST_CASE("host: without virtual hosts any well-formed name is the one host; FEAT lists HOST") {
  host_server srv{coftp::memory_fs{}};
  srv.put("/a.txt", "hello");
  ftp_client c{srv.endpoint()};
  CHECK(feat_lines(c).count("HOST") == 1);
  CHECK(c.command("HELP HOST") == "214 Syntax: HOST <sp> hostname");
  CHECK(c.command("HOST ftp.anything.example") == "220 Host ftp.anything.example ready");
  CHECK(c.command("HOST bad..name") == "501 Invalid host name");
  CHECK(c.login("test", "secret") == "230 Login successful");
  CHECK(c.retr("a.txt") == "hello");
  CHECK(c.command("HOST ftp.anything.example") == "503 HOST must come before USER (send REIN first)");
}

TEST_CASE("host: add_virtual_host refuses bad and duplicate names") {
  asio::io_context io;
  auto o = test_options();
  host_server::server_type s(io, o, coftp::memory_fs{});
  s.add_virtual_host("ftp.example.com", coftp::memory_fs{});
  CHECK_THROWS_WITH_AS(s.add_virtual_host("FTP.EXAMPLE.COM.", coftp::memory_fs{}),
                       "coftp: virtual host 'ftp.example.com' added twice", std::invalid_argument);
  CHECK_THROWS_WITH_AS(s.add_virtual_host("not a host", coftp::memory_fs{}),
                       "coftp: 'not a host' is no host name (RFC 7151 HOST)", std::invalid_argument);
  CHECK(s.has_virtual_hosts());
  CHECK(s.find_virtual_host("ftp.example.com") != nullptr);
  CHECK(s.find_virtual_host("ftp.example.net") == nullptr);
}

}  // TEST_SUITE("commands")

// =======================================================================================
// Handlers without sockets: a fake session that models coftp::handler_session.

namespace {

struct handler_fake : coftp::session_state {
  using storage_type = coftp::memory_fs;
  using commands = coftp::default_commands;
  enum class active_target { set, disabled, foreign_address, privileged_port, no_connection };

  coftp::server_options opts = test_options();
  coftp::session_info session{};
  coftp::memory_fs fs;
  std::optional<asio::ip::address> local = asio::ip::make_address("192.0.2.7");
  std::uint16_t free_port = 50000;  // what the next passive listener gets; 0: none
  bool passive = false;             // a passive listener is open
  int transfers = 0;                // send, receive and send_generated calls
  std::optional<coftp::host_port> active;
  std::string selected_host;
  bool host_known = true;
  std::vector<coftp::reply> written;
  coftp::transfer_progress idle{};

  const coftp::server_options& options() const { return opts; }
  const coftp::session_info& info() const { return session; }
  coftp::memory_fs& storage() { return fs; }
  void begin_login(std::string name) {
    log_out();
    set_pending_user(std::move(name));
  }
  asio::awaitable<bool> finish_login(std::string_view password) {
    auto name = take_pending_user();
    if (password != "right") co_return false;
    log_in(coftp::user{name, "/", coftp::permissions::all});
    co_return true;
  }
  bool select_host(std::string_view name) {
    selected_host = name;
    return host_known;
  }
  void reinitialize() {
    log_out();
    reset_protection();
  }
  bool banned() const { return false; }
  coftp::reply refuse_banned() { return {421, "banned"}; }
  asio::awaitable<void> write_reply(coftp::reply r) {
    written.push_back(std::move(r));
    co_return;
  }
  std::optional<asio::ip::address> local_address() const { return local; }
  std::uint16_t listen_passive(const asio::ip::address&) {
    passive = free_port != 0;
    return free_port;
  }
  active_target connect_active(const coftp::host_port& t) {
    if (t.port < 1024) return active_target::privileged_port;
    active = t;
    return active_target::set;
  }
  bool data_ready() const { return active.has_value() || passive; }
  std::string_view data_mode() const { return active ? "active" : "none"; }
  bool tls_offered() const { return false; }
  bool tls_required() const { return false; }
  bool control_secure() const { return false; }
  asio::awaitable<void> secure_control(bool) { co_return; }
  const coftp::transfer_progress& progress() const { return idle; }
  bool transfer_reporting() const { return false; }
  bool take_transfer_cut() { return false; }

  // No sockets: every transfer ends as one whose client never came, after its 150.
  asio::awaitable<coftp::transfer_result> transfer(coftp::reply opening) {
    ++transfers;
    written.push_back(std::move(opening));
    co_return coftp::transfer_result{coftp::transfer_outcome::timed_out, 0,
                                     make_error_code(coftp::error::no_data_connection)};
  }
  template <class Reader>
  asio::awaitable<coftp::transfer_result> send(Reader&, coftp::reply opening, std::string_view) {
    return transfer(std::move(opening));
  }
  template <class Writer>
  asio::awaitable<coftp::transfer_result> receive(Writer&, coftp::reply opening, std::string_view) {
    return transfer(std::move(opening));
  }
  template <class Source>
  asio::awaitable<coftp::transfer_result> send_generated(Source&, coftp::reply opening, std::string_view) {
    return transfer(std::move(opening));
  }
};

static_assert(coftp::handler_session<handler_fake>);
static_assert(coftp::handler_session<coftp::basic_session<coftp::default_policies>>);

// Runs one handler behind its declared guards, as dispatch does.
template <class H>
coftp::reply run_handler(handler_fake& s, std::string arg) {
  const coftp::command cmd{std::string(H::verb), std::move(arg)};
  return run_sync(coftp::detail::guarded_run<H>(s, cmd));
}

std::string text(const coftp::reply& r) { return std::to_string(r.code) + " " + r.text; }

void log_in(handler_fake& s) {
  s.begin_login("alice");
  REQUIRE(run_sync(s.finish_login("right")));
}

}  // namespace

TEST_SUITE("handlers") {

TEST_CASE("handlers: TYPE, MODE and STRU set or refuse the transfer parameters") {
  namespace c = coftp::commands;
  handler_fake s;
  CHECK(text(run_handler<c::type>(s, "I")) == "530 Not logged in");
  log_in(s);
  CHECK(s.ascii());
  CHECK(text(run_handler<c::type>(s, "i")) == "200 Type set to I");
  CHECK_FALSE(s.ascii());
  CHECK(text(run_handler<c::type>(s, "A N")) == "200 Type set to A");
  CHECK(s.ascii());
  CHECK(text(run_handler<c::type>(s, "E")) == "504 Unsupported TYPE");
  CHECK(s.ascii());
  CHECK(text(run_handler<c::mode>(s, "S")) == "200 Mode set to S");
  CHECK(text(run_handler<c::mode>(s, "Z")) == "504 Unsupported MODE");
  CHECK(text(run_handler<c::stru>(s, "f")) == "200 Structure set to F");
  CHECK(text(run_handler<c::stru>(s, "R")) == "504 Unsupported STRU");
}

TEST_CASE("handlers: PASV and EPSV build their replies from the listener's address and port") {
  namespace c = coftp::commands;
  handler_fake s;
  log_in(s);
  CHECK(text(run_handler<c::pasv>(s, "")) == "227 Entering Passive Mode (192,0,2,7,195,80)");
  CHECK(text(run_handler<c::epsv>(s, "")) == "229 Entering Extended Passive Mode (|||50000|)");
  CHECK(text(run_handler<c::epsv>(s, "2")) == "522 Network protocol not supported, use (1)");
  CHECK(text(run_handler<c::epsv>(s, "3")) == "522 Network protocol not supported, use (1,2)");
  CHECK(text(run_handler<c::epsv>(s, "x")) == "501 EPSV takes 1, 2 or ALL");
  s.opts.passive_address = "203.0.113.9";  // behind NAT: the announced address
  CHECK(text(run_handler<c::pasv>(s, "")) == "227 Entering Passive Mode (203,0,113,9,195,80)");
  s.free_port = 0;
  CHECK(text(run_handler<c::pasv>(s, "")) == "425 Cannot open passive connection");
  s.free_port = 50000;
  s.local = asio::ip::make_address("2001:db8::7");
  CHECK(text(run_handler<c::pasv>(s, "")) == "425 PASV is not available on an IPv6 connection, use EPSV");
  CHECK(text(run_handler<c::epsv>(s, "1")) == "522 Network protocol not supported, use (2)");
  CHECK(text(run_handler<c::epsv>(s, "ALL")) == "200 EPSV ALL accepted: PASV, PORT and EPRT are refused from now on");
  CHECK(text(run_handler<c::pasv>(s, "")) == "503 EPSV ALL in effect: only EPSV may open data connections");
  CHECK(text(run_handler<c::port>(s, "192,0,2,1,4,1")) == "503 EPSV ALL in effect: only EPSV may open data connections");
}

TEST_CASE("handlers: PORT and EPRT parse the target and the session checks it") {
  namespace c = coftp::commands;
  handler_fake s;
  log_in(s);
  CHECK(text(run_handler<c::port>(s, "192,0,2,1,4,1")) == "200 Active mode: will connect to 192.0.2.1 port 1025");
  REQUIRE(s.active);
  CHECK(s.active->port == 1025);
  CHECK(text(run_handler<c::port>(s, "192,0,2,1,0,21")) == "504 Illegal port: ports below 1024 are refused");
  CHECK(text(run_handler<c::port>(s, "1,2,3")) == "501 PORT requires h1,h2,h3,h4,p1,p2 (numbers 0-255)");
  CHECK(text(run_handler<c::port>(s, "")) == "501 PORT requires h1,h2,h3,h4,p1,p2");
  CHECK(text(run_handler<c::eprt>(s, "|2|2001:db8::1|6275|")) == "200 Active mode: will connect to 2001:db8::1 port 6275");
  CHECK(text(run_handler<c::eprt>(s, "|3|1.2.3.4|5000|")) == "522 Network protocol not supported, use (1,2)");
  CHECK(text(run_handler<c::eprt>(s, "|1|1.2.3.4|")).starts_with("501 "));
}

TEST_CASE("handlers: REST keeps an offset for the next transfer, in TYPE I only") {
  namespace c = coftp::commands;
  handler_fake s;
  log_in(s);
  CHECK(text(run_handler<c::rest>(s, "100")) == "504 REST is only supported in TYPE I (binary)");
  s.set_ascii(false);
  CHECK(text(run_handler<c::rest>(s, "100")) == "350 Restarting at 100. Send STOR or RETR to start the transfer");
  CHECK(s.restart() == 100);
  CHECK(text(run_handler<c::rest>(s, "-1")) == "501 REST requires a byte offset (a non-negative number)");
  CHECK(text(run_handler<c::rest>(s, "12x")) == "501 REST requires a byte offset (a non-negative number)");
  CHECK(s.restart() == 100);
  CHECK(s.take_restart() == 100);
  CHECK(s.restart() == 0);
}

TEST_CASE("handlers: RNFR then RNTO renames in the storage; RNTO alone is refused") {
  namespace c = coftp::commands;
  handler_fake s;
  log_in(s);
  REQUIRE_FALSE(coftp::testing::write_file(s.fs, "/old.txt", "data"));
  CHECK(text(run_handler<c::rnto>(s, "new.txt")) == "503 RNFR required first");
  CHECK(text(run_handler<c::rnfr>(s, "missing.txt")).starts_with("550 "));
  CHECK(text(run_handler<c::rnfr>(s, "old.txt")).starts_with("350 "));
  REQUIRE(s.rename_from());
  CHECK(s.rename_from()->virtual_path == "/old.txt");
  CHECK(text(run_handler<c::rnto>(s, "new.txt")) == "250 Rename successful");
  CHECK_FALSE(s.rename_from());
  CHECK(coftp::testing::read_all(s.fs, "/new.txt").second == "data");
  CHECK(text(run_handler<c::rnto>(s, "again.txt")) == "503 RNFR required first");
}

TEST_CASE("handlers: PWD and MKD quote the path as RFC 959 appendix II says") {
  namespace c = coftp::commands;
  handler_fake s;
  log_in(s);
  CHECK(text(run_handler<c::mkd>(s, "say \"hi\"")) == "257 \"/say \"\"hi\"\"\" directory created");
  CHECK(text(run_handler<c::cwd>(s, "say \"hi\"")).starts_with("250 "));
  CHECK(text(run_handler<c::pwd>(s, "")) == "257 \"/say \"\"hi\"\"\" is the current directory");
}

TEST_CASE("handlers: HOST picks a virtual host before USER only") {
  namespace c = coftp::commands;
  handler_fake s;
  CHECK(text(run_handler<c::host>(s, "FTP.Example.org.")) == "220 Host ftp.example.org ready");
  CHECK(s.selected_host == "ftp.example.org");
  CHECK(text(run_handler<c::host>(s, "bad host!")) == "501 Invalid host name");
  s.host_known = false;
  CHECK(text(run_handler<c::host>(s, "other.example.org")) == "504 Unknown virtual host");
  CHECK(text(run_handler<c::user>(s, "alice")) == "331 Username OK, need password");
  CHECK(text(run_handler<c::host>(s, "ftp.example.org")) == "503 HOST must come before USER (send REIN first)");
}

TEST_CASE("handlers: a path argument and a data connection are checked before the handler runs") {
  namespace c = coftp::commands;
  handler_fake s;
  log_in(s);
  s.set_ascii(false);
  REQUIRE_FALSE(coftp::testing::write_file(s.fs, "/a.txt", "data"));
  const std::string bad("a\0b", 3);  // a NUL inside: no path
  CHECK(text(run_handler<c::dele>(s, bad)) == "501 Invalid path");
  CHECK(text(run_handler<c::mlst>(s, bad)) == "501 Invalid path");
  CHECK(coftp::testing::read_all(s.fs, "/a.txt").second == "data");
  // Without PASV or PORT no transfer starts, and the REST marker goes with the refusal.
  CHECK(text(run_handler<c::rest>(s, "2")).starts_with("350 "));
  CHECK(text(run_handler<c::retr>(s, "a.txt")) == "425 Use PASV or EPSV first");
  CHECK(s.restart() == 0);
  CHECK(text(run_handler<c::retr>(s, bad)) == "501 Invalid path");
  CHECK(text(run_handler<c::stor>(s, "b.txt")) == "425 Use PASV or EPSV first");
  CHECK(text(run_handler<c::stou>(s, "")) == "425 Use PASV or EPSV first");
  CHECK(text(run_handler<c::list>(s, "")) == "425 Use PASV or EPSV first");
  CHECK(text(run_handler<c::mlsd>(s, "")) == "425 Use PASV or EPSV first");
  CHECK(s.transfers == 0);
  CHECK(s.written.empty());
  // Once PASV opened a listener the handler runs: its 150, then the transfer's failure.
  CHECK(text(run_handler<c::pasv>(s, "")).starts_with("227 "));
  CHECK(text(run_handler<c::retr>(s, "a.txt")).starts_with("425 "));
  CHECK(s.transfers == 1);
  REQUIRE(s.written.size() == 1);
  CHECK(text(s.written[0]) == "150 Opening data connection (4 bytes)");
  CHECK(text(run_handler<c::retr>(s, "missing.txt")).starts_with("550 "));
  CHECK(s.transfers == 1);
}

}  // TEST_SUITE("handlers")
