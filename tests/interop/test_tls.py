"""Interop: FTPS (RFC 4217), servers of their own with the throw-away certificate made at
build time (tests/meson.build passes COFTP_TEST_CERT and COFTP_TEST_KEY; absent without
OpenSSL, and then every Tls* test is skipped), driven with curl, ftplib, lftp, wget,
rclone and bare connections."""

import ftplib
import io
import os
import random
import re
import shutil
import socket
import tempfile
import threading
import time
import unittest

from harness import (BIG, CURL, HOST, LFTP, NO_TLS, PASSWORD, RANDOM, RCLONE, RUN, STOP_TIMEOUT, TIMEOUT,
                     TLS_CERT, TLS_KEY, TLS_VERSIONS, USER, WGET, Control, Server, TlsServerCase, answered,
                     assert_same_files, feat_lines, make_tree, read_tree, run_client, tls_context, transcript)


CURL_PROT_P = r"> PROT P\r?\n(?:[{}*] [^\n]*\n)*< 200 "  # in curl -v output, between TLS record lines
CURL_TLS_VERSIONS = (("TLSv1.2", ("--tlsv1.2", "--tls-max", "1.2")), ("TLSv1.3", ("--tlsv1.3",)))


class TlsFeatWithoutCertificateTests(unittest.TestCase):
    """The file's default server has no certificate: no FTPS at all."""

    def test_feat_lists_no_auth_pbsz_prot_and_auth_tls_is_502(self):
        feats = feat_lines(RUN.server.port)
        self.assertIn("UTF8", feats)
        for f in ("AUTH TLS", "PBSZ", "PROT"):
            self.assertNotIn(f, feats)
        self.assertFalse([f for f in feats if f.startswith(("AUTH", "PBSZ", "PROT"))], feats)
        c = Control(RUN.server.port)
        try:
            c.reply()
            self.assertEqual(c.command("AUTH TLS")[0], 502)
            self.assertEqual(c.command("NOOP")[0], 200, "still in clear after the refused AUTH TLS")
        finally:
            c.close()


@unittest.skipIf(TLS_CERT is None, NO_TLS)
class TlsExplicitTests(TlsServerCase):
    """AUTH TLS on the control port, an implicit FTPS listener (--implicit-tls-port 0)."""

    server_args = ("--implicit-tls-port", "0")

    def test_feat_lists_auth_tls_pbsz_prot(self):
        for context in (None, tls_context()):
            with self.subTest(tls=context is not None):
                feats = feat_lines(self.server.port, context)
                for f in ("AUTH TLS", "PBSZ", "PROT"):
                    self.assertIn(f, feats)

    @unittest.skipIf(CURL is None, "curl not installed")
    def test_curl_ssl_reqd_list_download_upload_byte_for_byte(self):
        self.put("curl/dl.bin", RANDOM[BIG])
        with tempfile.TemporaryDirectory(dir=RUN.client_home) as tmp:
            src = os.path.join(tmp, "up.bin")
            with open(src, "wb") as f:
                f.write(RANDOM[BIG])
            for name, flags in CURL_TLS_VERSIONS:
                with self.subTest(tls=name, op="list"):
                    r, log = self.curl_tls("--ssl-reqd", *flags, self.url("curl/"))
                    self.assertEqual(r.returncode, 0, log[-3000:])
                    self.assertRegex(r.stdout.decode(), rf"(?m) {BIG} .* dl\.bin\r?$")
                    self.assertIn(f"SSL connection using {name}", log)
                    self.assertRegex(log, CURL_PROT_P, "data connections protected")
                with self.subTest(tls=name, op="download"):
                    r, log = self.curl_tls("--ssl-reqd", *flags, self.url("curl/dl.bin"))
                    self.assertEqual(r.returncode, 0, log[-3000:])
                    self.assertEqual(len(r.stdout), BIG)
                    self.assertTrue(r.stdout == RANDOM[BIG], "downloaded bytes differ")
                with self.subTest(tls=name, op="upload"):
                    target = f"curl/up-{name}.bin"
                    r, log = self.curl_tls("--ssl-reqd", *flags, "-T", src, self.url(target))
                    self.assertEqual(r.returncode, 0, log[-3000:])
                    self.assertRegex(log, r"< 226 ")
                    self.assertTrue(self.read(target) == RANDOM[BIG], "uploaded file differs on disk")

    @unittest.skipIf(CURL is None, "curl not installed")
    def test_curl_implicit_ftps_list_download_upload(self):
        self.assertIsNotNone(self.server.implicit_port)
        self.assertNotEqual(self.server.implicit_port, self.server.port)
        data = RANDOM[8193] * 97
        self.put("implicit/dl.bin", data)
        r, log = self.curl_tls(self.url("implicit/", "ftps", self.server.implicit_port))
        self.assertEqual(r.returncode, 0, log[-3000:])
        self.assertRegex(r.stdout.decode(), r"(?m) dl\.bin\r?$")
        self.assertNotIn("AUTH TLS", log, "implicit FTPS: TLS from the first byte, no AUTH")
        r, log = self.curl_tls(self.url("implicit/dl.bin", "ftps", self.server.implicit_port))
        self.assertEqual(r.returncode, 0, log[-3000:])
        self.assertTrue(r.stdout == data, f"downloaded {len(r.stdout)} bytes, not the {len(data)} on disk")
        r, log = self.curl_tls("-T", "-", self.url("implicit/up.bin", "ftps", self.server.implicit_port),
                               stdin=data)
        self.assertEqual(r.returncode, 0, log[-3000:])
        self.assertTrue(self.read("implicit/up.bin") == data, "uploaded file differs on disk")
        # plain FTP on the implicit port gets no greeting in clear
        c = Control(self.server.implicit_port)
        try:
            c.sock.settimeout(3)
            with self.assertRaises((OSError, EOFError)):
                c.reply()
        finally:
            c.close()

    def test_ftplib_resuming_session_retr_stor_nlst_mlsd(self):
        data = RANDOM[BIG]
        self.put("py/dl.bin", data)
        for name, version in TLS_VERSIONS:
            with self.subTest(tls=name):
                ftp = self.ftplib_tls(version)
                try:
                    self.assertEqual(ftp.sock.version(), name)
                    got = bytearray()
                    resp = ftp.retrbinary("RETR py/dl.bin", got.extend, blocksize=65536)
                    self.assertTrue(resp.startswith("226"), resp)
                    self.assertEqual(len(got), len(data))
                    self.assertTrue(bytes(got) == data, "downloaded bytes differ")
                    resp = ftp.storbinary(f"STOR py/up-{name}.bin", io.BytesIO(data), blocksize=65536)
                    self.assertTrue(resp.startswith("226"), resp)
                    self.assertTrue(self.read(f"py/up-{name}.bin") == data, "uploaded file differs on disk")
                    self.assertIn(f"py/up-{name}.bin", ftp.nlst("py"))
                    facts = dict(ftp.mlsd("py", ["type", "size"]))
                    self.assertEqual(facts["dl.bin"]["size"], str(len(data)))
                    self.assertEqual(facts[f"up-{name}.bin"]["type"], "file")
                    self.assertEqual(ftp.voidcmd("NOOP"), "200 OK")
                finally:
                    self.close_ftp(ftp)

    def test_ftplib_without_session_resumption_gets_425_and_no_data(self):
        """Plain ftplib.FTP_TLS starts a fresh TLS session on each data connection: the
        server refuses it (425) before a byte of the file moves; the session goes on."""
        data = b"secret content\n" * 1000
        self.put("py/refused.txt", data)
        for name, version in TLS_VERSIONS:
            with self.subTest(tls=name):
                ftp = self.ftplib_tls(version, cls=ftplib.FTP_TLS)
                try:
                    got = bytearray()
                    with self.assertRaises((ftplib.Error, OSError, EOFError)) as raised:
                        ftp.retrbinary("RETR py/refused.txt", got.extend)
                    self.assertEqual(bytes(got), b"", "bytes of the file reached the client")
                    if isinstance(raised.exception, ftplib.error_temp):
                        refusal = str(raised.exception)  # ftplib read the 425 itself
                    else:
                        # the data socket failed first (SSL error or EOF): the 425 is still owed
                        with self.assertRaises(ftplib.error_temp) as late:
                            ftp.getresp()
                        refusal = str(late.exception)
                    self.assertTrue(refusal.startswith("425 "), refusal)
                    self.assertEqual(ftp.voidcmd("NOOP"), "200 OK")
                    self.assertEqual(ftp.pwd(), "/")
                finally:
                    self.close_ftp(ftp)

    def test_starttls_command_injection_is_ignored(self):
        """CVE-2011-0411: commands sent in clear right after AUTH TLS, in the same packet,
        must not be run inside the TLS session."""
        for name, version in TLS_VERSIONS:
            with self.subTest(tls=name):
                c = Control(self.server.port)
                try:
                    self.assertEqual(c.reply()[0], 220)
                    c.sock.sendall(f"AUTH TLS\r\nUSER {USER}\r\nPASS {PASSWORD}\r\n".encode())
                    code, lines = c.reply()
                    self.assertEqual(code, 234, lines)
                    self.assertEqual(c.buf, b"", "a reply in clear after the 234")
                    c.sock = tls_context(version).wrap_socket(c.sock, server_hostname=HOST)
                    code, lines = c.command("PWD")
                    self.assertEqual(code, 530, f"the injected USER/PASS were run: {lines}")
                    # in step: the next reply answers the next command, no 331/230 queued
                    code, lines = c.command("NOOP")
                    self.assertEqual(code, 200, lines)
                    self.assertEqual(c.buf, b"")
                    c.expect(f"USER {USER}", 331)
                    c.expect(f"PASS {PASSWORD}", 230)
                finally:
                    c.close()

    def test_data_connection_thief_gets_nothing(self):
        """Another process on the client's address connects to the passive port first and
        does a TLS handshake of its own (no session, or another user's control connection's):
        it receives not a byte; the owner gets 150 then 425 and goes on."""
        secret = b"the file only its owner may read\n" * 3000
        self.put("thief/secret.txt", secret)
        for name, version in TLS_VERSIONS:
            for verb in ("PASV", "EPSV"):
                for stolen in (False, True):
                    with self.subTest(tls=name, verb=verb, thief_session="other user's" if stolen else "none"):
                        self.thief_round(version, verb, stolen, secret)

    def thief_round(self, version, verb, stolen, secret):
        ctx = tls_context(version)
        owner = Control(self.server.port)
        other = Control(self.server.port) if stolen else None
        thief = None
        try:
            owner.secure_login(ctx)
            session = None
            if other is not None:
                # A session the server issued, but for another user's control connection
                # (anonymous, same address): one of the same user would be accepted (issue #19).
                other.secure_login(ctx, "anonymous", "guest@")
                got, resumed, final = other.retr_private(ctx, "thief/secret.txt")
                self.assertEqual((got == secret, resumed, final[0]), (True, True, 226), final)
                session = other.sock.session
            port = owner.passive(verb)
            thief = socket.create_connection((HOST, port), timeout=TIMEOUT)
            stolen_bytes, thief_error = bytearray(), []

            def steal():
                try:
                    # Python resumes a session only with the context that made it
                    thief_ctx = ctx if stolen else tls_context(version, verify=False)
                    s = thief_ctx.wrap_socket(thief, server_hostname=HOST, session=session)
                    for _ in range(10000):
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        stolen_bytes.extend(chunk)
                except Exception as e:  # an OSError (ssl.SSLError, EOF) once refused
                    thief_error.append(e)

            t = threading.Thread(target=steal, daemon=True)
            t.start()
            time.sleep(0.1)  # the thief's SYN and ClientHello are queued before the RETR
            owner.sock.sendall(b"RETR thief/secret.txt\r\n")
            first = owner.reply()
            self.assertEqual(first[0], 150, first)
            final = owner.reply()
            self.assertIn(final[0], (425, 426), final)
            t.join(TIMEOUT + 5)
            self.assertFalse(t.is_alive(), "the thief is still reading")
            self.assertEqual(bytes(stolen_bytes), b"", f"the thief got {len(stolen_bytes)} bytes")
            self.assertTrue(all(isinstance(e, OSError) for e in thief_error), f"the thief failed: {thief_error}")
            # the owner goes on: a fresh data connection resuming its session gets the file
            got, resumed, final = owner.retr_private(ctx, "thief/secret.txt", verb)
            self.assertEqual(final[0], 226, final)
            self.assertTrue(resumed, "the owner's data connection did not resume its session")
            self.assertTrue(got == secret, f"owner got {len(got)} bytes, not the {len(secret)}")
        finally:
            for c in (owner, other):
                if c is not None:
                    c.close()
            if thief is not None:
                thief.close()

    @unittest.skipIf(LFTP is None, "lftp not installed")
    def test_lftp_ls_get_put_mirror_over_tls(self):
        """lftp (GnuTLS) with ftp:ssl-force and ftp:ssl-protect-data, the certificate
        verified, TLS 1.2 and TLS 1.3 (ssl:priority)."""
        data = RANDOM[BIG]
        self.put("lftp/dl.bin", data)
        for name, priority in (("TLSv1.2", "NORMAL:-VERS-ALL:+VERS-TLS1.2"),
                               ("TLSv1.3", "NORMAL:-VERS-ALL:+VERS-TLS1.3")):
            with self.subTest(tls=name):
                tmp = tempfile.mkdtemp(prefix="lftp-tls-", dir=RUN.client_home)
                log = os.path.join(tmp, "debug.log")
                try:
                    src = os.path.join(tmp, "up.bin")
                    with open(src, "wb") as f:
                        f.write(data)
                    tree = make_tree(os.path.join(tmp, "tree"), seed=7, count=24)
                    remote = f"/lftp/{name}"
                    script = (f'mkdir -p {remote}; ls /lftp; get /lftp/dl.bin -o "{tmp}/dl.bin"; '
                              f'put "{src}" -o {remote}/up.bin; mirror -R "{tmp}/tree" {remote}/tree; '
                              f'mirror {remote}/tree "{tmp}/back"')
                    pre = ("set net:max-retries 1; set net:timeout 10; set net:reconnect-interval-base 1; "
                           "set ftp:ssl-force yes; set ftp:ssl-protect-data yes; "
                           f'set ssl:verify-certificate yes; set ssl:ca-file "{TLS_CERT}"; '
                           f'set ssl:priority "{priority}"; '
                           f'set cmd:fail-exit yes; set xfer:clobber on; debug -o "{log}" 5; ')
                    r = run_client([LFTP, "-c",
                                    f"{pre}open -u {USER},{PASSWORD} ftp://{HOST}:{self.server.port}; {script}"])
                    text = transcript(log) if os.path.exists(log) else ""
                    self.assertEqual(r.returncode, 0, f"lftp: {r.stderr.decode(errors='replace')}\n{text[-3000:]}")
                    self.assertRegex(text, answered("AUTH TLS", 234))
                    self.assertRegex(text, answered("PROT P", 200))
                    # not even once, then hidden by a retry: a refused (425) or broken (426) transfer
                    self.assertNotRegex(text, r"<--- 42[56] ", "a data connection was refused or broken")
                    self.assertRegex(r.stdout.decode(), r"(?m) dl\.bin$")
                    with open(os.path.join(tmp, "dl.bin"), "rb") as f:
                        self.assertTrue(f.read() == data, "get: bytes differ")
                    self.assertTrue(self.read(f"lftp/{name}/up.bin") == data, "put: bytes differ on disk")
                    got, _ = read_tree(os.path.join(self.root, f"lftp/{name}/tree"))
                    assert_same_files(self, tree, got, "lftp mirror -R over TLS")
                    got, _ = read_tree(os.path.join(tmp, "back"))
                    assert_same_files(self, tree, got, "lftp mirror over TLS")
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)

    @unittest.skipIf(WGET is None, "wget not installed")
    def test_wget_explicit_and_implicit_ftps(self):
        """wget resumes the control session on data connections (--ftps-resume-ssl, its
        default); without it the server refuses the data connection with 425."""
        data = random.Random(21).randbytes(1024 * 1024 + 7)
        self.put("wget/f.bin", data)
        with tempfile.TemporaryDirectory(dir=RUN.client_home) as tmp:
            out = os.path.join(tmp, "f.bin")
            cases = [(f"explicit {name}", (f"--secure-protocol={name.replace('.', '_')}",), self.server.port)
                     for name, _ in TLS_VERSIONS]
            cases.append(("implicit", ("--ftps-implicit",), self.server.implicit_port))
            for what, flags, port in cases:
                with self.subTest(what=what):
                    r = run_client([WGET, "-d", "--tries=1", "--timeout=10", "--no-proxy", f"--ca-certificate={TLS_CERT}",
                                    *flags, "-O", out, self.url("wget/f.bin", "ftps", port)])
                    err = r.stderr.decode(errors="replace")
                    self.assertEqual(r.returncode, 0, err[-3000:])
                    self.assertIn("--> PROT P", err)
                    self.assertEqual("--> AUTH TLS" in err, what != "implicit", err[-3000:])
                    self.assertIn("Resuming SSL session in data connection", err)
                    with open(out, "rb") as f:
                        self.assertTrue(f.read() == data, f"{what}: downloaded bytes differ")
            with self.subTest(what="--no-ftps-resume-ssl"):
                os.remove(out)
                r = run_client([WGET, "-d", "--tries=1", "--timeout=10", "--no-proxy", f"--ca-certificate={TLS_CERT}",
                                "--no-ftps-resume-ssl", "-O", out, self.url("wget/f.bin", "ftps")])
                err = r.stderr.decode(errors="replace")
                # wget 1.21 even aborts (SIGABRT) after "FTPS server rejects new SSL sessions"
                self.assertNotEqual(r.returncode, 0, err[-3000:])
                self.assertIn("425 Data connection refused", err)
                self.assertEqual(os.path.getsize(out) if os.path.exists(out) else 0, 0, "bytes reached wget")


@unittest.skipIf(TLS_CERT is None, NO_TLS)
class TlsStrictCloseTests(TlsServerCase):
    """--tls-strict-close: an upload whose TLS stream ends without close_notify (a
    truncation anyone on the path can cause) is refused; by default it is stored, as
    curl and others end uploads so."""

    server_args = ("--tls-strict-close",)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.default_root = tempfile.mkdtemp(prefix="tls-default-", dir=RUN.client_home)
        try:
            cls.default = Server(RUN.binary, cls.default_root, ["--tls-cert", TLS_CERT, "--tls-key", TLS_KEY])
        except BaseException:
            super().tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        rc, _, killed = cls.default.stop()
        shutil.rmtree(cls.default_root, ignore_errors=True)
        super().tearDownClass()
        if killed or rc != 0:
            raise AssertionError(f"default TLS server stopped with {rc}, killed={killed}")

    def test_upload_needs_close_notify_only_with_strict_close(self):
        data = random.Random(5).randbytes(300 * 1024 + 1)
        for name, version in TLS_VERSIONS:
            for strict in (True, False):
                for close_notify in (True, False):
                    with self.subTest(tls=name, strict=strict, close_notify=close_notify):
                        port = self.server.port if strict else self.default.port
                        root = self.root if strict else self.default_root
                        rel = f"strict-{name}-{strict}-{close_notify}.bin"
                        ctx = tls_context(version)
                        c = Control(port)
                        try:
                            c.secure_login(ctx)
                            first, final = c.stor_private(ctx, rel, data, close_notify)
                            self.assertEqual(first[0], 150, first)
                            if strict and not close_notify:
                                self.assertEqual(final[0], 426, final)
                                self.assertFalse(os.path.exists(os.path.join(root, rel)), "the truncated upload was stored")
                            else:
                                self.assertEqual(final[0], 226, final)
                                with open(os.path.join(root, rel), "rb") as f:
                                    self.assertTrue(f.read() == data, "stored bytes differ")
                            self.assertEqual(c.command("NOOP")[0], 200)
                        finally:
                            c.close()


@unittest.skipIf(TLS_CERT is None, NO_TLS)
class TlsNoSessionReuseTests(TlsServerCase):
    """--tls-no-session-reuse: clients that cannot resume (Python's ftplib) work."""

    server_args = ("--tls-no-session-reuse",)

    def test_plain_ftplib_ftp_tls_retr_stor(self):
        data = RANDOM[BIG]
        self.put("py/dl.bin", data)
        for name, version in TLS_VERSIONS:
            with self.subTest(tls=name):
                ftp = self.ftplib_tls(version, cls=ftplib.FTP_TLS)
                try:
                    self.assertEqual(ftp.sock.version(), name)
                    got = bytearray()
                    resp = ftp.retrbinary("RETR py/dl.bin", got.extend, blocksize=65536)
                    self.assertTrue(resp.startswith("226"), resp)
                    self.assertTrue(bytes(got) == data, f"downloaded {len(got)} bytes differ")
                    resp = ftp.storbinary(f"STOR py/up-{name}.bin", io.BytesIO(data), blocksize=65536)
                    self.assertTrue(resp.startswith("226"), resp)
                    self.assertTrue(self.read(f"py/up-{name}.bin") == data, "uploaded file differs on disk")
                    self.assertIn("py/dl.bin", ftp.nlst("py"))
                finally:
                    self.close_ftp(ftp)


@unittest.skipIf(TLS_CERT is None, NO_TLS)
class TlsRequiredTests(TlsServerCase):
    """--tls-required: no login in clear (530), no data without PROT P (521)."""

    server_args = ("--tls-required",)

    @unittest.skipIf(CURL is None, "curl not installed")
    def test_curl_in_clear_cannot_log_in(self):
        self.put("f.txt", b"protected")
        r, log = self.curl_tls(self.url("f.txt"))
        self.assertEqual(r.returncode, 67, f"CURLE_LOGIN_DENIED expected: {log[-2000:]}")
        self.assertRegex(log, r"< 530 ")
        self.assertEqual(r.stdout, b"")
        r, log = self.curl_tls("--ssl-reqd", self.url("f.txt"))
        self.assertEqual((r.returncode, r.stdout), (0, b"protected"), log[-2000:])

    def test_ftplib_in_clear_gets_530(self):
        ftp = ftplib.FTP(timeout=TIMEOUT)
        try:
            ftp.connect(HOST, self.server.port, timeout=TIMEOUT)
            with self.assertRaises(ftplib.error_perm) as e:
                ftp.login(USER, PASSWORD)
            self.assertTrue(str(e.exception).startswith("530 "), str(e.exception))
        finally:
            self.close_ftp(ftp)

    def test_prot_c_data_gets_521(self):
        self.put("f.txt", b"protected")
        ftp = ftplib.FTP_TLS(context=tls_context(), timeout=TIMEOUT)
        try:
            ftp.connect(HOST, self.server.port, timeout=TIMEOUT)
            ftp.login(USER, PASSWORD)
            for setup in ((), ("PBSZ 0", "PROT C")):
                with self.subTest(setup=setup or "no PROT"):
                    for cmd in setup:
                        self.assertTrue(ftp.voidcmd(cmd).startswith("200"))
                    got = bytearray()
                    with self.assertRaises(ftplib.error_perm) as e:
                        ftp.retrbinary("RETR f.txt", got.extend)
                    self.assertTrue(str(e.exception).startswith("521 "), str(e.exception))
                    self.assertEqual(bytes(got), b"")
            ftp.prot_p()
            got = bytearray()
            # plain ftplib cannot resume: refused (425) under the default session reuse
            with self.assertRaises((ftplib.Error, OSError, EOFError)):
                ftp.retrbinary("RETR f.txt", got.extend)
            self.assertEqual(bytes(got), b"")
        finally:
            self.close_ftp(ftp)

    def test_resuming_ftplib_works(self):
        self.put("f.txt", b"protected")
        ftp = self.ftplib_tls()
        try:
            got = bytearray()
            ftp.retrbinary("RETR f.txt", got.extend)
            self.assertEqual(bytes(got), b"protected")
        finally:
            self.close_ftp(ftp)


@unittest.skipIf(TLS_CERT is None, NO_TLS)
@unittest.skipIf(CURL is None, "curl not installed")
class TlsDetectTests(TlsServerCase):
    """--tls-detect: plain FTP, explicit FTPS and implicit FTPS on the one control port."""

    server_args = ("--tls-detect",)

    def test_plain_explicit_and_implicit_on_one_port(self):
        data = RANDOM[8193] * 31
        self.put("d/f.bin", data)
        for what, scheme, flags in (("plain FTP", "ftp", ()), ("explicit FTPS", "ftp", ("--ssl-reqd",)),
                                    ("implicit FTPS", "ftps", ())):
            with self.subTest(what=what):
                r, log = self.curl_tls(*flags, self.url("d/", scheme))
                self.assertEqual(r.returncode, 0, log[-3000:])
                self.assertRegex(r.stdout.decode(), r"(?m) f\.bin\r?$")
                r, log = self.curl_tls(*flags, self.url("d/f.bin", scheme))
                self.assertEqual(r.returncode, 0, log[-3000:])
                self.assertTrue(r.stdout == data, f"{what}: {len(r.stdout)} bytes differ")
                self.assertEqual("SSL connection using" in log, what != "plain FTP", log[-3000:])
                self.assertEqual(bool(re.search(r"(?m)^> AUTH ", log)), what == "explicit FTPS", log[-3000:])


@unittest.skipIf(TLS_CERT is None, NO_TLS)
class TlsShutdownTests(TlsServerCase):
    """SIGTERM with idle sessions over TLS: each gets its 421 inside TLS, and the server
    exits 0 in time (the close_notify wait is bounded)."""

    def test_sigterm_sends_421_over_tls_and_exits_0(self):
        sessions = []
        try:
            for name, version in TLS_VERSIONS:
                c = Control(self.server.port)
                sessions.append(c)
                c.secure_login(tls_context(version))
            rc, seconds, killed = self.server.stop(timeout=STOP_TIMEOUT)
            self.assertFalse(killed, f"server still running {STOP_TIMEOUT} s after SIGTERM")
            self.assertEqual(rc, 0, self.server.stderr())
            for c in sessions:
                code, lines = c.reply()
                self.assertEqual(code, 421, lines)
        finally:
            for c in sessions:
                c.close()


@unittest.skipIf(TLS_CERT is None, NO_TLS)
@unittest.skipIf(RCLONE is None, "rclone not found")
class RcloneTests(TlsServerCase):
    """Issue #19: rclone over explicit FTPS with its default settings. rclone shares one
    TLS session cache among its control connections, so a data connection offers the
    ticket of another control connection of the same client: the server resumes it when
    that connection is logged in as the same user from the same address. --transfers 16
    opens many control connections at once; with --retries 1 --low-level-retries 1 a
    single refused data connection (425) fails the run."""

    def rclone(self, *args, tls13=True):
        obscured = run_client([RCLONE, "obscure", PASSWORD]).stdout.decode().strip()
        remote = (f":ftp,host={HOST},port={self.server.port},user={USER},pass={obscured},"
                  f"explicit_tls=true,disable_tls13={'false' if tls13 else 'true'}:")
        # The FTP backend verifies against the system roots (Go reads SSL_CERT_FILE), not --ca-cert.
        argv = [RCLONE, "--config", os.path.join(RUN.client_home, "rclone.conf"),
                "--retries", "1", "--low-level-retries", "1", "--contimeout", "10s", "--timeout", "30s",
                *[a.replace("REMOTE:", remote) for a in args]]
        return run_client(argv, timeout=180, env={"SSL_CERT_FILE": TLS_CERT})

    def test_copy_up_and_down_with_16_transfers(self):
        for name, tls13 in (("TLSv1.3", True), ("TLSv1.2", False)):
            with self.subTest(tls=name):
                local = tempfile.mkdtemp(prefix="rclone-up-", dir=RUN.client_home)
                back = tempfile.mkdtemp(prefix="rclone-down-", dir=RUN.client_home)
                try:
                    files = make_tree(local, seed=1919 if tls13 else 1920, count=96, empty_dir=False)
                    r = self.rclone("copy", "--transfers", "16", "--checkers", "16", local, f"REMOTE:rc-{name}",
                                    tls13=tls13)
                    err = r.stderr.decode("utf-8", "replace")
                    self.assertEqual(r.returncode, 0, err[-3000:])
                    self.assertNotIn("425", err)
                    assert_same_files(self, files, read_tree(os.path.join(self.root, f"rc-{name}"))[0], "uploaded")
                    r = self.rclone("copy", "--transfers", "16", "--checkers", "16", f"REMOTE:rc-{name}", back,
                                    tls13=tls13)
                    err = r.stderr.decode("utf-8", "replace")
                    self.assertEqual(r.returncode, 0, err[-3000:])
                    self.assertNotIn("425", err)
                    assert_same_files(self, files, read_tree(back)[0], "downloaded")
                    r = self.rclone("check", "--checkers", "16", local, f"REMOTE:rc-{name}", tls13=tls13)
                    self.assertEqual(r.returncode, 0, r.stderr.decode("utf-8", "replace")[-3000:])
                finally:
                    shutil.rmtree(local, ignore_errors=True)
                    shutil.rmtree(back, ignore_errors=True)
