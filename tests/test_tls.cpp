// tests/test_tls.cpp - FTPS (RFC 4217) over loopback: AUTH TLS and the command sequence
// around it, PROT P data connections (resumed sessions only), the STARTTLS injection,
// the data-port thief, required TLS, implicit FTPS and detection on the control port.
// The certificate comes from the build (COFTP_TEST_CERT, COFTP_TEST_KEY: made by
// `openssl req` in tests/meson.build).
#include <coftp/proxy_protocol.hpp>

#include <doctest/doctest.h>

#include "server_helpers.hpp"

#if COFTP_HAS_TLS

#include <cstdlib>

using namespace coftp_test;

namespace {

// Test options with the build's certificate.
coftp::server_options tls_options() {
  auto o = test_options();
  const char* cert = std::getenv("COFTP_TEST_CERT");
  const char* key = std::getenv("COFTP_TEST_KEY");
  REQUIRE_MESSAGE((cert && key), "COFTP_TEST_CERT and COFTP_TEST_KEY name the test certificate (meson test sets them)");
  o.tls.certificate_file = cert;
  o.tls.private_key_file = key;
  return o;
}

client_options tls_client(int max_version = TLS1_3_VERSION) {
  client_options o;
  o.tls = tls_client_context(max_version);
  return o;
}

// AUTH TLS, login, PBSZ 0, PROT P.
void secure_login(ftp_client& c, std::string_view user = "test", std::string_view pass = "secret") {
  REQUIRE(c.auth_tls() == "234 AUTH TLS OK, starting TLS negotiation");
  login(c, user, pass);
  REQUIRE(c.command("PBSZ 0") == "200 PBSZ 0 successful");
  REQUIRE(c.prot("P") == "200 PROT now Private");
  REQUIRE(c.command("TYPE I") == "200 Type set to I");
}

}  // namespace

TEST_CASE_TEMPLATE("tls: PROT P transfers are TLS with the control session resumed, TLS 1.2 and 1.3", B,
                   memory_backend, local_backend) {
  env<B> e(tls_options());
  auto big = random_bytes(3 * 1024 * 1024 + 17, 41);
  e.srv.put("/big.bin", big);
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    CAPTURE(version);
    ftp_client c(e.srv.endpoint(), tls_client(version));
    secure_login(c);
    CHECK(c.control().tls_version() == (version == TLS1_2_VERSION ? "TLSv1.2" : "TLSv1.3"));
    // local_fs offers a descriptor for sendfile; under TLS the bytes must be encrypted.
    CHECK(c.retr("big.bin") == big);
    CHECK(c.last_reply() == "226 Transfer complete");
    CHECK(c.last_data_resumed());
    auto up = random_bytes(1024 * 1024 + 5, 42 + version);
    CHECK(c.stor("up.bin", up).starts_with("226 "));
    CHECK(c.last_data_resumed());
    CHECK(e.srv.get("/up.bin") == up);
    auto names = c.nlst();
    CHECK(c.last_reply() == "226 Directory listing sent");
    CHECK(names.find("big.bin\r\n") != string::npos);
    CHECK(names.find("up.bin\r\n") != string::npos);
    CHECK(c.command("QUIT") == "221 Goodbye");
  }
}

TEST_CASE("tls: FEAT offers AUTH TLS, PBSZ and PROT only with a certificate") {
  SUBCASE("with a certificate") {
    test_server<coftp::memory_fs> srv(coftp::memory_fs{}, tls_options());
    ftp_client c(srv.endpoint());
    auto feat = c.command("FEAT");
    CHECK(feat.find("\n AUTH TLS\n") != string::npos);
    CHECK(feat.find("\n PBSZ\n") != string::npos);
    CHECK(feat.find("\n PROT\n") != string::npos);
  }
  SUBCASE("without one") {
    test_server<coftp::memory_fs> srv(coftp::memory_fs{});
    ftp_client c(srv.endpoint());
    auto feat = c.command("FEAT");
    CHECK(feat.find("AUTH") == string::npos);
    CHECK(feat.find("PBSZ") == string::npos);
    CHECK(feat.find("PROT") == string::npos);
    CHECK(c.command("AUTH TLS") == "502 Command not implemented");
    CHECK(c.command("PBSZ 0") == "502 Command not implemented");
    CHECK(c.command("PROT P") == "502 Command not implemented");
    CHECK(c.command("HELP").find("AUTH") == string::npos);
    login(c);
  }
}

TEST_CASE("tls: the command sequence of RFC 4217 and RFC 2228") {
  test_server<coftp::memory_fs> srv(coftp::memory_fs{}, tls_options());
  ftp_client c(srv.endpoint(), tls_client());
  CHECK(c.command("PBSZ 0") == "503 PBSZ needs a TLS control connection: send AUTH TLS first");
  CHECK(c.command("PROT P") == "503 PROT needs a TLS control connection: send AUTH TLS first");
  CHECK(c.command("AUTH KERBEROS_V4") == "504 Unsupported security mechanism; use AUTH TLS");
  CHECK(c.command("AUTH") == "501 Missing mechanism: AUTH TLS");
  CHECK(c.command("CCC") == "502 Command not implemented");
  REQUIRE(c.auth_tls("tls") == "234 AUTH TLS OK, starting TLS negotiation");
  CHECK(c.command("AUTH TLS") == "503 TLS is already active on this connection");
  CHECK(c.command("PROT P") == "503 PROT needs PBSZ first");
  CHECK(c.command("PBSZ") == "501 Missing buffer size: PBSZ 0");
  CHECK(c.command("PBSZ x") == "501 PBSZ takes a decimal number");
  CHECK(c.command("PBSZ 1024") == "200 PBSZ=0");
  CHECK(c.command("PBSZ 0") == "200 PBSZ 0 successful");
  CHECK(c.command("PROT S") == "536 PROT S is not supported with TLS; use P or C");
  CHECK(c.command("PROT E") == "536 PROT E is not supported with TLS; use P or C");
  CHECK(c.command("PROT Q") == "504 Unknown protection level; use P or C");
  CHECK(c.command("CCC") == "502 Command not implemented");
  CHECK(c.prot("C") == "200 PROT now Clear");
  login(c);
  srv.put("/a.txt", "clear data");
  // PROT C: the data connection is in clear, the control connection stays TLS.
  CHECK(c.retr("a.txt") == "clear data");
  CHECK(c.prot("P") == "200 PROT now Private");
  CHECK(c.retr("a.txt") == "clear data");
  CHECK(c.last_reply() == "226 Transfer complete");
  // REIN keeps TLS on the control connection but starts PBSZ/PROT over.
  CHECK(c.command("REIN") == "220 Service ready for new user");
  CHECK(c.control().secure());
  CHECK(c.command("PROT P") == "503 PROT needs PBSZ first");
  login(c);
  CHECK(c.command("QUIT") == "221 Goodbye");
}

TEST_CASE("tls: AUTH SSL implies PROT P, as with vsftpd") {
  test_server<coftp::memory_fs> srv(coftp::memory_fs{}, tls_options());
  srv.put("/a.txt", "private");
  ftp_client c(srv.endpoint(), tls_client());
  REQUIRE(c.auth_tls("SSL") == "234 AUTH SSL OK, starting TLS negotiation");
  login(c);
  c.set_data_tls(true);
  CHECK(c.retr("a.txt") == "private");
  CHECK(c.last_reply() == "226 Transfer complete");
  CHECK(c.last_data_resumed());
}

TEST_CASE("tls: commands pipelined after AUTH TLS in clear are never executed (CVE-2011-0411)") {
  test_server<coftp::memory_fs, recording_observer> srv(coftp::memory_fs{}, tls_options());
  ftp_client c(srv.endpoint(), tls_client());
  // One write: an attacker on the path appends USER and PASS to the client's AUTH TLS.
  c.control().write_all("AUTH TLS\r\nUSER test\r\nPASS secret\r\n");
  CHECK(c.read_reply() == "234 AUTH TLS OK, starting TLS negotiation");
  c.control().start_tls(c.tls_context());
  // Inside TLS, the next reply answers the client's own command: nothing was logged in.
  CHECK(c.command("PWD") == "530 Not logged in");
  CHECK(c.command("PASS secret") == "503 Login with USER first");
  CHECK_FALSE(srv.observer().has("command USER test"));
  CHECK_FALSE(srv.observer().has("login test ok"));
  login(c);  // the real client can still log in
}

TEST_CASE("tls: a data connection that does not resume the control session gets no byte") {
  auto secret = random_bytes(200000, 7);
  SUBCASE("a thief on the same address connects first, with a handshake of its own") {
    test_server<coftp::memory_fs> srv(coftp::memory_fs{}, tls_options());
    srv.put("/secret.bin", secret);
    ftp_client c(srv.endpoint(), tls_client());
    secure_login(c);
    auto pasv = c.command("PASV");
    REQUIRE(pasv.starts_with("227 "));
    auto port_ep = ftp_client::parse_227(pasv);
    REQUIRE(port_ep);
    asio::io_context io;
    blocking_socket thief(io, *port_ep, std::chrono::milliseconds(5000));
    c.control().write_all("RETR secret.bin\r\n");
    CHECK(c.read_reply() == "150 Opening data connection (200000 bytes)");
    auto thief_ctx = tls_client_context();
    std::string stolen;
    try {
      thief.start_tls(thief_ctx.get());  // a full handshake, no session to resume
      CHECK_FALSE(thief.resumed());
      stolen = thief.read_all(1 << 20);
    } catch (const std::exception& e) {
      MESSAGE("thief: " << e.what());  // refused during or right after the handshake
    }
    CHECK(stolen.empty());
    CHECK(c.read_reply() == "425 Data connection refused: its TLS session must resume the control connection's");
    // The session goes on: the real client's next transfer works.
    auto again = c.retr("secret.bin");
    CHECK(again.size() == secret.size());
    CHECK(again == secret);
    CHECK(c.last_reply() == "226 Transfer complete");
  }
  SUBCASE("another user's session, resumed on this session's data port") {
    test_server<coftp::memory_fs> srv(coftp::memory_fs{}, tls_options());
    srv.users().add("mallory", "pw", coftp::permissions::all);
    srv.put("/secret.bin", secret);
    ftp_client victim(srv.endpoint(), tls_client());
    secure_login(victim);
    ftp_client thief_control(srv.endpoint(), tls_client());
    secure_login(thief_control, "mallory", "pw");  // same address, another user (issue #19)
    REQUIRE(thief_control.command("NOOP") == "200 OK");  // TLS 1.3 tickets have arrived
    auto pasv = victim.command("PASV");
    auto port_ep = ftp_client::parse_227(pasv);
    REQUIRE(port_ep);
    asio::io_context io;
    blocking_socket thief(io, *port_ep, std::chrono::milliseconds(5000));
    victim.control().write_all("RETR secret.bin\r\n");
    CHECK(victim.read_reply().starts_with("150 "));
    std::string stolen;
    try {
      thief.start_tls(thief_control.tls_context(), thief_control.control().tls_session());
      CHECK_FALSE(thief.resumed());  // the server would not resume a foreign session
      stolen = thief.read_all(1 << 20);
    } catch (const std::exception& e) {
      MESSAGE("thief: " << e.what());
    }
    CHECK(stolen.empty());
    CHECK(victim.read_reply().starts_with("425 "));
  }
  SUBCASE("a client that does not resume is refused, unless the check is off") {
    for (bool enforce : {true, false}) {
      CAPTURE(enforce);
      auto o = tls_options();
      o.tls.require_session_reuse = enforce;
      test_server<coftp::memory_fs> srv(coftp::memory_fs{}, o);
      srv.put("/secret.bin", secret);
      auto co = tls_client();
      co.resume_data_sessions = false;  // as Python's ftplib
      ftp_client c(srv.endpoint(), co);
      secure_login(c);
      auto got = c.retr("secret.bin");
      if (enforce) {
        CHECK(got.empty());
        CHECK(c.last_reply().starts_with("425 "));
      } else {
        CHECK(got == secret);
        CHECK(c.last_reply() == "226 Transfer complete");
      }
      CHECK(c.command("NOOP") == "200 OK");
    }
  }
}

// RETR of `path` on a data connection of `c` that offers `session` (another control
// connection's): (bytes, resumed?, final reply).
struct borrowed_retr {
  string bytes;
  bool resumed = false;
  string reply;
};
borrowed_retr retr_with_session(ftp_client& c, SSL_CTX* ctx, SSL_SESSION* session, std::string_view path) {
  borrowed_retr out;
  auto pasv = c.command("PASV");
  REQUIRE(pasv.starts_with("227 "));
  auto ep = ftp_client::parse_227(pasv);
  REQUIRE(ep);
  asio::io_context io;
  blocking_socket data(io, *ep, std::chrono::milliseconds(5000));
  c.control().write_all("RETR " + string(path) + "\r\n");
  auto first = c.read_reply();
  CHECK(first.starts_with("150 "));
  try {
    data.start_tls(ctx, session);
    out.resumed = data.resumed();
    out.bytes = data.read_all(1 << 24);
  } catch (const std::exception& e) {
    MESSAGE("data connection: " << e.what());
  }
  out.reply = c.read_reply();
  return out;
}

TEST_CASE("issue #19 - a data connection may resume another control connection's session of the same user") {
  // rclone shares one TLS session cache among its control connections: a data
  // connection offers the ticket of another connection of the same client.
  auto secret = random_bytes(300000, 19);
  auto refused = "425 Data connection refused: its TLS session must resume the control connection's";
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    CAPTURE(version);
    test_server<coftp::memory_fs> srv(coftp::memory_fs{}, tls_options());
    srv.users().add("bob", "pw", coftp::permissions::all);
    srv.put("/secret.bin", secret);
    ftp_client b(srv.endpoint(), tls_client(version));
    secure_login(b);
    {
      INFO("same user, same address: resumed and served");
      ftp_client a(srv.endpoint(), tls_client(version));
      secure_login(a);
      REQUIRE(a.command("NOOP") == "200 OK");  // TLS 1.3 tickets have arrived
      auto r = retr_with_session(b, a.tls_context(), a.control().tls_session(), "secret.bin");
      CHECK(r.resumed);
      CHECK(r.reply == "226 Transfer complete");
      CHECK(r.bytes == secret);
      // and still after the session's owner has gone, as its tickets live on
      CHECK(a.command("QUIT") == "221 Goodbye");
      auto again = retr_with_session(b, a.tls_context(), a.control().tls_session(), "secret.bin");
      CHECK(again.resumed);
      CHECK(again.reply == "226 Transfer complete");
      CHECK(again.bytes == secret);
    }
    {
      INFO("the owner logged out (REIN), then in as another user: refused");
      ftp_client a(srv.endpoint(), tls_client(version));
      secure_login(a);
      REQUIRE(a.command("REIN") == "220 Service ready for new user");
      // Logged out is "still logging in": the handshake resumes, the server waits for a's
      // next login (COFTP_TLS_OWNER_LOGIN_WAIT_MS), none comes, and it sends nothing.
      auto r = retr_with_session(b, a.tls_context(), a.control().tls_session(), "secret.bin");
      CHECK(r.bytes.empty());
      CHECK(r.reply == refused);
      login(a, "bob", "pw");
      auto bob = retr_with_session(b, a.tls_context(), a.control().tls_session(), "secret.bin");
      CHECK_FALSE(bob.resumed);
      CHECK(bob.bytes.empty());
      CHECK(bob.reply == refused);
    }
    {
      INFO("anonymous logins share nothing: many people use that one name");
      srv.users().allow_anonymous();
      ftp_client anon1(srv.endpoint(), tls_client(version));
      secure_login(anon1, "anonymous", "guest@");
      REQUIRE(anon1.command("NOOP") == "200 OK");
      ftp_client anon2(srv.endpoint(), tls_client(version));
      secure_login(anon2, "anonymous", "other@");
      auto r = retr_with_session(anon2, anon1.tls_context(), anon1.control().tls_session(), "secret.bin");
      CHECK(r.bytes.empty());
      CHECK(r.reply == refused);
      CHECK(anon2.retr("secret.bin") == secret);  // its own session still works
    }
    {
      INFO("the owner never logged in: its sessions are its own");
      ftp_client pre(srv.endpoint(), tls_client(version));
      REQUIRE(pre.auth_tls().starts_with("234 "));
      REQUIRE(pre.command("NOOP") == "200 OK");
      // As above: resumed in TLS terms while the server waits for pre's login, then refused.
      auto r = retr_with_session(b, pre.tls_context(), pre.control().tls_session(), "secret.bin");
      CHECK(r.bytes.empty());
      CHECK(r.reply == refused);
    }
    // Refused data connections cost b nothing: its own session still works.
    CHECK(b.retr("secret.bin") == secret);
    CHECK(b.last_data_resumed());
    CHECK(b.last_reply() == "226 Transfer complete");
  }
}

TEST_CASE("tls: required TLS refuses logins and data in clear") {
  auto o = tls_options();
  o.tls.required = true;
  test_server<coftp::memory_fs> srv(coftp::memory_fs{}, o);
  srv.put("/a.txt", "abc");
  {
    ftp_client c(srv.endpoint(), tls_client());
    CHECK(c.command("USER test") == "530 TLS required: send AUTH TLS before USER");
    CHECK(c.command("PASS secret") == "503 Login with USER first");
    CHECK(c.command("USER anonymous") == "530 TLS required: send AUTH TLS before USER");
  }
  ftp_client c(srv.endpoint(), tls_client());
  REQUIRE(c.auth_tls() == "234 AUTH TLS OK, starting TLS negotiation");
  login(c);
  CHECK(c.retr("a.txt").empty());
  CHECK(c.last_reply() == "521 Data connections must be encrypted: send PBSZ 0 and PROT P");
  CHECK(c.command("PBSZ 0") == "200 PBSZ 0 successful");
  CHECK(c.prot("C") == "200 PROT now Clear");
  CHECK(c.stor("b.txt", "clear").starts_with("521 "));
  CHECK_FALSE(srv.get("/b.txt"));
  CHECK(c.prot("P") == "200 PROT now Private");
  CHECK(c.retr("a.txt") == "abc");
  CHECK(c.stor("b.txt", "private").starts_with("226 "));
  CHECK(srv.get("/b.txt") == "private");
}

TEST_CASE("tls: an upload ended without close_notify is stored, unless strict") {
  for (bool strict : {false, true}) {
    CAPTURE(strict);
    auto o = tls_options();
    o.tls.require_close_notify = strict;
    test_server<coftp::memory_fs> srv(coftp::memory_fs{}, o);
    srv.put("/f.bin", "old content");
    auto co = tls_client();
    co.close_notify_uploads = false;  // as curl: TCP FIN only
    ftp_client c(srv.endpoint(), co);
    secure_login(c);
    auto r = c.stor("f.bin", "new content");
    if (strict) {
      CHECK(r == "426 Connection closed; transfer aborted");
      CHECK(srv.get("/f.bin") == "old content");
    } else {
      CHECK(r.starts_with("226 "));
      CHECK(srv.get("/f.bin") == "new content");
    }
    // With close_notify, both modes store it.
    ftp_client polite(srv.endpoint(), tls_client());
    secure_login(polite);
    CHECK(polite.stor("g.bin", "polite").starts_with("226 "));
    CHECK(srv.get("/g.bin") == "polite");
  }
}

TEST_CASE("tls: ABOR cuts a PROT P download, and the next transfer still resumes the session") {
  test_server<coftp::memory_fs> srv(coftp::memory_fs{}, tls_options());
  srv.put("/big.bin", random_bytes(64 * 1024 * 1024, 3));
  srv.put("/small.txt", "small");
  // TLS 1.2 without tickets resumes by session id, from the server's session cache.
  for (auto [version, tickets] : {std::pair{TLS1_2_VERSION, false}, {TLS1_2_VERSION, true}, {TLS1_3_VERSION, true}}) {
    CAPTURE(version);
    CAPTURE(tickets);
    auto co = tls_client(version);
    if (!tickets) SSL_CTX_set_options(co.tls.get(), SSL_OP_NO_TICKET);
    ftp_client c(srv.endpoint(), co);
    secure_login(c);
    REQUIRE(c.open_passive(passive_mode::pasv).starts_with("227 "));
    c.control().write_all("RETR big.bin\r\n");
    REQUIRE(c.read_reply().starts_with("150 "));
    c.data().start_tls(c.tls_context(), c.control().tls_session());
    char buf[4096];
    CHECK(c.data().read_some(buf, sizeof buf) > 0);
    CHECK(c.command("ABOR") == "426 Connection closed; transfer aborted");
    CHECK(c.read_reply() == "226 Abort successful");
    c.close_data();
    CHECK(c.command("NOOP") == "200 OK");
    // A cut TLS connection must not make the control session unresumable (OpenSSL drops
    // sessions of connections freed without close_notify from its cache).
    CHECK(c.retr("small.txt") == "small");
    CHECK(c.last_data_resumed());
    CHECK(c.last_reply() == "226 Transfer complete");
  }
}

TEST_CASE("tls: implicit FTPS on its own listener") {
  auto o = tls_options();
  o.tls.implicit_port = 0;
  test_server<coftp::memory_fs> srv(coftp::memory_fs{}, o);
  srv.put("/a.txt", "implicit");
  auto implicit = srv.server().implicit_tls_endpoint();
  REQUIRE(implicit);
  CHECK(implicit->port() != srv.endpoint().port());
  auto co = tls_client();
  co.implicit_tls = true;
  ftp_client c(*implicit, co);
  CHECK(c.greeting() == "220 coftp test server ready");
  CHECK(c.control().secure());
  login(c);
  CHECK(c.command("PBSZ 0") == "200 PBSZ 0 successful");
  CHECK(c.prot("P") == "200 PROT now Private");
  CHECK(c.retr("a.txt") == "implicit");
  CHECK(c.last_data_resumed());
  // A client speaking plain FTP to the implicit port gets no greeting in clear.
  client_options plain;
  plain.read_greeting = false;
  plain.timeout = std::chrono::milliseconds(3000);
  ftp_client p(*implicit, plain);
  p.control().write_all("USER test\r\n");
  char buf[256];
  std::size_t n = 0;
  try {
    n = p.control().read_some(buf, sizeof buf);
  } catch (const std::exception&) {
  }
  CHECK(std::string(buf, n).find("220") == std::string::npos);
}

TEST_CASE("tls: one port serves implicit FTPS, explicit FTPS and plain FTP when detection is on") {
  auto o = tls_options();
  o.tls.detect_on_control_port = true;
  o.tls.detect_wait = std::chrono::milliseconds(200);
  test_server<coftp::memory_fs> srv(coftp::memory_fs{}, o);
  srv.put("/a.txt", "one port");
  {
    auto co = tls_client();
    co.implicit_tls = true;
    ftp_client c(srv.endpoint(), co);
    CHECK(c.greeting() == "220 coftp test server ready");
    login(c);
    CHECK(c.command("PBSZ 0") == "200 PBSZ 0 successful");
    CHECK(c.prot("P") == "200 PROT now Private");
    CHECK(c.retr("a.txt") == "one port");
  }
  {
    ftp_client c(srv.endpoint(), tls_client());
    CHECK(c.greeting() == "220 coftp test server ready");
    secure_login(c);
    CHECK(c.retr("a.txt") == "one port");
  }
  {
    ftp_client c(srv.endpoint());
    CHECK(c.greeting() == "220 coftp test server ready");
    login(c);
    CHECK(c.retr("a.txt") == "one port");
  }
}

TEST_CASE("tls: behind a PROXY-protocol proxy, the header comes before the TLS handshake") {
  auto o = tls_options();
  o.tls.detect_on_control_port = true;
  o.tls.detect_wait = std::chrono::milliseconds(200);
  o.tls.implicit_port = 0;
  o.proxy_protocol_from = {"127.0.0.1"};
  test_server<coftp::memory_fs> srv(coftp::memory_fs{}, o);
  srv.put("/a.txt", "relayed");
  coftp::proxy_header h;
  h.relayed = true;
  h.source = asio::ip::make_address("127.0.0.1");  // the passive check compares with it
  h.source_port = 40000;
  h.destination = h.source;
  h.destination_port = 21;
  for (auto to : {srv.endpoint(), *srv.server().implicit_tls_endpoint()}) {
    INFO("a v2 header, then implicit TLS, to port " << to.port());
    auto co = tls_client();
    co.implicit_tls = true;
    co.preamble = coftp::format_proxy_v2(h);
    ftp_client c(to, co);
    CHECK(c.greeting() == "220 coftp test server ready");
    CHECK(c.control().secure());
    login(c);
  }
  // Detection on: the header, then plain FTP, then AUTH TLS.
  INFO("a v1 header, then plain FTP and AUTH TLS");
  auto co = tls_client();
  co.preamble = coftp::format_proxy_v1(h);
  ftp_client c(srv.endpoint(), co);
  CHECK(c.greeting() == "220 coftp test server ready");
  secure_login(c);
  INFO("an active-mode RETR");
  // Active mode: a passive data connection from 127.0.0.1, the trusted proxy's address,
  // would need a PROXY header of its own.
  CHECK(c.retr("a.txt", passive_mode::port) == "relayed");
}

TEST_CASE("tls: HOST comes before AUTH TLS when TLS is required (RFC 7151)") {
  auto o = tls_options();
  o.tls.required = true;
  test_server<coftp::memory_fs> srv(coftp::memory_fs{}, o, coftp::null_observer{}, 2, [](auto& s) {
    coftp::user_table users;
    users.add("alice", "wonder", coftp::permissions::all);
    s.add_virtual_host("ftp.example.com", coftp::memory_fs{}, users);
  });
  ftp_client c(srv.endpoint(), tls_client());
  CHECK(c.command("HOST ftp.example.com") == "220 Host ftp.example.com ready");
  CHECK(c.command("USER alice") == "530 TLS required: send AUTH TLS before USER");
  REQUIRE(c.auth_tls() == "234 AUTH TLS OK, starting TLS negotiation");
  CHECK(c.login("alice", "wonder") == "230 Login successful");
}

TEST_CASE("tls: configuration errors are reported when the server is built") {
  asio::io_context io;
  using server_type = coftp::basic_server<test_policies<coftp::memory_fs>>;
  auto o = tls_options();
  o.tls.certificate_file = "/nonexistent/cert.pem";
  CHECK_THROWS(server_type(io, o, coftp::memory_fs{}));
  auto key_only = tls_options();
  key_only.tls.certificate_file = key_only.tls.private_key_file;  // a key is no certificate
  CHECK_THROWS(server_type(io, key_only, coftp::memory_fs{}));
  auto no_cert = test_options();
  no_cert.tls.required = true;
  CHECK_THROWS_AS(server_type(io, no_cert, coftp::memory_fs{}), std::invalid_argument);
  no_cert.tls.required = false;
  no_cert.tls.implicit_port = 0;
  CHECK_THROWS_AS(server_type(io, no_cert, coftp::memory_fs{}), std::invalid_argument);
}

#endif  // COFTP_HAS_TLS
