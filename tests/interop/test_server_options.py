"""Interop: servers of their own started with one option or another: --no-active, --passwd,
--virtual-host, --proxy-protocol-from, --run-as (and the refusal of root), --log and
--xferlog."""

import ftplib
import io
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import (CURL, HOST, IS_ROOT, PASSWORD, RUN, START_TIMEOUT, TIMEOUT, USER, Server, curl,
                     proc_status)


class NoActiveServerTests(unittest.TestCase):
    """A second server started with --no-active: PORT and EPRT are refused, passive works."""

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="no-active-", dir=RUN.client_home)
        cls.server = Server(RUN.binary, cls.root, ["--no-active"])

    @classmethod
    def tearDownClass(cls):
        rc, _, killed = cls.server.stop()
        shutil.rmtree(cls.root, ignore_errors=True)
        if killed or rc != 0:
            raise AssertionError(f"--no-active server stopped with {rc}, killed={killed}")

    def test_port_and_eprt_refused(self):
        raw = socket.create_connection((HOST, self.server.port), timeout=TIMEOUT)
        f = raw.makefile("rb")
        try:
            def command(text):
                raw.sendall(text.encode() + b"\r\n")
                return f.readline().decode()
            self.assertTrue(f.readline().startswith(b"220"))
            self.assertTrue(command(f"USER {USER}").startswith("331"))
            self.assertTrue(command(f"PASS {PASSWORD}").startswith("230"))
            for cmd in ("PORT 127,0,0,1,200,1", "EPRT |1|127.0.0.1|51201|"):
                with self.subTest(cmd=cmd):
                    self.assertRegex(command(cmd), r"^5\d\d ")
            self.assertRegex(command("EPSV"), r"^229 ")
        finally:
            f.close()
            raw.close()

    @unittest.skipIf(CURL is None, "curl not installed")
    def test_curl_active_fails_passive_works(self):
        with open(os.path.join(self.root, "f.txt"), "wb") as f:
            f.write(b"passive only")
        u = f"ftp://{USER}:{PASSWORD}@{HOST}:{self.server.port}/f.txt"
        r = curl("--ftp-port", HOST, u)
        self.assertEqual(r.returncode, 30, f"CURLE_FTP_PORT_FAILED (30) expected: {r.stderr!r}")
        r = curl(u)
        self.assertEqual((r.returncode, r.stdout), (0, b"passive only"), r.stderr)


# --------------------------------------------------------------------------------------

class PasswdServerTests(unittest.TestCase):
    """`coftp-server --hash-password` makes the hashes of a passwd file; a second server
    started with --passwd FILE (plus --user and --anonymous) logs its users in and
    enforces their rights."""

    @classmethod
    def hash_password(cls, password, *extra):
        r = subprocess.run([RUN.binary, "--hash-password", *extra], input=password.encode() + b"\n",
                           capture_output=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"--hash-password exited with {r.returncode}: {r.stderr!r}")
        return r.stdout.decode()

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="passwd-", dir=RUN.client_home)
        cls.root = os.path.join(cls.dir, "root")
        os.makedirs(cls.root)
        cls.y_out = cls.hash_password("carol's pw")
        cls.six_out = cls.hash_password("dan pw", "--hash-method", "sha512")
        cls.passwd = os.path.join(cls.dir, "passwd")
        with open(cls.passwd, "w") as f:
            f.write("# interop users\n\n")
            f.write(f"carol:{cls.y_out.strip()}:/:all\n")
            f.write(f"dan:{cls.six_out.strip()}:/:read,list,write\n")
        cls.server = Server(RUN.binary, cls.root, ["--passwd", cls.passwd])

    @classmethod
    def tearDownClass(cls):
        rc, _, killed = cls.server.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)
        if killed or rc != 0:
            raise AssertionError(f"--passwd server stopped with {rc}, killed={killed}")

    def login(self, user, password):
        ftp = ftplib.FTP(timeout=TIMEOUT)
        ftp.connect(HOST, self.server.port, timeout=TIMEOUT)
        ftp.login(user, password)
        return ftp

    def test_hash_password_prints_one_crypt_hash(self):
        self.assertRegex(self.y_out, r"^\$y\$[./0-9A-Za-z]+\$[./0-9A-Za-z]+\$[./0-9A-Za-z]+\n$")
        self.assertRegex(self.six_out, r"^\$6\$[./0-9A-Za-z]+\$[./0-9A-Za-z]+\n$")
        self.assertNotEqual(self.hash_password("carol's pw"), self.y_out)  # a fresh salt
        try:
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                import crypt
        except ImportError:
            return  # Python 3.13 dropped the crypt module; the logins below verify the hashes
        self.assertEqual(crypt.crypt("carol's pw", self.y_out.strip()), self.y_out.strip())
        self.assertEqual(crypt.crypt("dan pw", self.six_out.strip()), self.six_out.strip())

    def test_hash_password_refuses_empty_input(self):
        r = subprocess.run([RUN.binary, "--hash-password"], input=b"", capture_output=True, timeout=60)
        self.assertEqual((r.returncode, r.stdout), (2, b""), r.stderr)

    def test_bad_passwd_file_is_refused_with_its_line(self):
        bad = os.path.join(self.dir, "bad-passwd")
        with open(bad, "w") as f:
            f.write(f"# ok\ncarol:{self.y_out.strip()}:/:all\ndan:{self.six_out.strip()}:/:read,exec\n")
        r = subprocess.run([RUN.binary, "--passwd", bad, "--port", "0"], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(f"{bad}:3: unknown permission 'exec'", r.stderr.decode())

    @unittest.skipIf(CURL is None, "curl not installed")
    def test_curl_yescrypt_user_uploads_and_lists(self):
        base = f"ftp://{HOST}:{self.server.port}/"
        r = curl("-u", "carol:carol's pw", "-T", "-", base + "by-carol.txt", stdin=b"hello from carol")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = curl("-u", "carol:carol's pw", "-l", base)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"by-carol.txt", r.stdout.splitlines())
        r = curl("-u", "carol:wrong", "-l", base)
        self.assertEqual(r.returncode, 67, f"CURLE_LOGIN_DENIED (67) expected: {r.stderr!r}")

    def test_ftplib_sha512_user_may_upload_but_not_delete(self):
        ftp = self.login("dan", "dan pw")
        try:
            ftp.storbinary("STOR by-dan.txt", io.BytesIO(b"dan's file"))
            got = io.BytesIO()
            ftp.retrbinary("RETR by-dan.txt", got.write)
            self.assertEqual(got.getvalue(), b"dan's file")
            for call in (lambda: ftp.delete("by-dan.txt"), lambda: ftp.rename("by-dan.txt", "x.txt"),
                         lambda: ftp.mkd("sub"), lambda: ftp.sendcmd("SITE CHMOD 600 by-dan.txt")):
                with self.assertRaises(ftplib.error_perm) as cm:
                    call()
                self.assertEqual(str(cm.exception), "550 Permission denied")
            self.assertTrue(os.path.exists(os.path.join(self.root, "by-dan.txt")))
        finally:
            ftp.quit()
        ftp = self.login("carol", "carol's pw")  # carol has every right
        try:
            self.assertTrue(ftp.delete("by-dan.txt").startswith("250"))
        finally:
            ftp.quit()

    def test_wrong_password_and_unknown_user_get_the_same_530(self):
        replies = []
        for user, password in (("carol", "dan pw"), ("dan", "nope"), ("nobody", "dan pw")):
            with self.assertRaises(ftplib.error_perm) as cm:
                self.login(user, password)
            replies.append(str(cm.exception))
        self.assertEqual(replies, ["530 Login incorrect"] * 3)

    def test_user_flag_and_anonymous_next_to_the_file(self):
        ftp = self.login(USER, PASSWORD)  # --user alice:secret, hashed at start-up
        try:
            self.assertEqual(ftp.voidcmd("NOOP"), "200 OK")
        finally:
            ftp.quit()
        ftp = self.login("anonymous", "guest@")
        try:
            with self.assertRaises(ftplib.error_perm) as cm:
                ftp.storbinary("STOR anon.txt", io.BytesIO(b"x"))
            self.assertEqual(str(cm.exception), "550 Permission denied")
        finally:
            ftp.quit()


# --------------------------------------------------------------------------------------
class VirtualHostTests(unittest.TestCase):
    """RFC 7151 HOST with Python's ftplib (sendcmd): a server with --virtual-host
    ftp.example.com=ROOT (the users of --root) and ftp.example.net=ROOT,FILE (bob only)."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="vhost-", dir=RUN.client_home)
        cls.root, cls.com, cls.net = (os.path.join(cls.dir, d) for d in ("root", "com", "net"))
        os.makedirs(cls.root)
        r = subprocess.run([RUN.binary, "--hash-password", "--hash-method", "sha512"], input=b"bob pw\n",
                           capture_output=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"--hash-password exited with {r.returncode}: {r.stderr!r}")
        cls.users = os.path.join(cls.dir, "net.users")
        with open(cls.users, "w") as f:
            f.write(f"bob:{r.stdout.decode().strip()}:/:all\n")
        cls.server = Server(RUN.binary, cls.root, ["--virtual-host", f"ftp.example.com={cls.com}",
                                                      "--virtual-host", f"FTP.example.NET={cls.net},{cls.users}"])

    @classmethod
    def tearDownClass(cls):
        rc, _, killed = cls.server.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)
        if killed or rc != 0:
            raise AssertionError(f"--virtual-host server stopped with {rc}, killed={killed}")

    def connect(self):
        ftp = ftplib.FTP(timeout=TIMEOUT)
        ftp.connect(HOST, self.server.port, timeout=TIMEOUT)
        return ftp

    def test_feat_lists_host(self):
        ftp = self.connect()
        try:
            self.assertRegex(ftp.sendcmd("FEAT"), r"(?m)^ HOST$")
        finally:
            ftp.close()

    def test_each_host_has_its_root_and_users(self):
        ftp = self.connect()
        try:
            self.assertEqual(ftp.sendcmd("HOST ftp.example.com"), "220 Host ftp.example.com ready")
            ftp.login(USER, PASSWORD)
            ftp.storbinary("STOR on-com.txt", io.BytesIO(b"com bytes"))
            ftp.quit()
        finally:
            ftp.close()
        with open(os.path.join(self.com, "on-com.txt"), "rb") as f:
            self.assertEqual(f.read(), b"com bytes")
        self.assertFalse(os.path.exists(os.path.join(self.root, "on-com.txt")))

        ftp = self.connect()
        try:
            self.assertEqual(ftp.sendcmd("HOST ftp.example.net."), "220 Host ftp.example.net ready")
            with self.assertRaises(ftplib.error_perm) as e:
                ftp.login(USER, PASSWORD)
            self.assertTrue(str(e.exception).startswith("530"), e.exception)
            ftp.login("bob", "bob pw")
            self.assertEqual(ftp.nlst(), [])
            with self.assertRaises(ftplib.error_perm) as e:
                ftp.sendcmd("HOST ftp.example.com")
            self.assertTrue(str(e.exception).startswith("503"), e.exception)
            ftp.quit()
        finally:
            ftp.close()

    def test_unknown_host_is_504_and_no_host_is_the_root(self):
        with open(os.path.join(self.root, "main.txt"), "wb") as f:
            f.write(b"main")
        ftp = self.connect()
        try:
            with self.assertRaises(ftplib.error_perm) as e:
                ftp.sendcmd("HOST ftp.example.org")
            self.assertEqual(str(e.exception), "504 Unknown virtual host")
            ftp.login(USER, PASSWORD)
            buf = io.BytesIO()
            ftp.retrbinary("RETR main.txt", buf.write)
            self.assertEqual(buf.getvalue(), b"main")
            ftp.quit()
        finally:
            ftp.close()


class ProxyProtocolTests(unittest.TestCase):
    """--proxy-protocol-from 127.0.0.1: a connection from 127.0.0.1 starts with a PROXY
    header naming the client, which the session log shows; 127.0.0.2 is a direct client
    (ftplib, no header)."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="proxy-", dir=RUN.client_home)
        cls.root = os.path.join(cls.dir, "root")
        os.makedirs(cls.root)
        with open(os.path.join(cls.root, "a.txt"), "wb") as f:
            f.write(b"via proxy")
        cls.log = os.path.join(cls.dir, "session.log")
        cls.server = Server(RUN.binary, cls.root, ["--proxy-protocol-from", "127.0.0.1/32,::1",
                                                      "--proxy-protocol-timeout", "1000", "--log", cls.log],
                            quiet=False)

    @classmethod
    def tearDownClass(cls):
        rc, _, killed = cls.server.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)
        if killed or rc != 0:
            raise AssertionError(f"--proxy-protocol-from server stopped with {rc}, killed={killed}")

    def log_text(self):
        with open(self.log, encoding="utf-8", errors="replace") as f:
            return f.read()

    def test_header_names_the_client_in_the_log(self):
        raw = socket.create_connection((HOST, self.server.port), timeout=TIMEOUT)
        f = raw.makefile("rb")
        try:
            raw.sendall(b"PROXY TCP4 198.51.100.7 127.0.0.1 41000 21\r\n")
            self.assertTrue(f.readline().startswith(b"220"))
            raw.sendall(f"USER {USER}\r\n".encode())
            self.assertTrue(f.readline().startswith(b"331"))
            raw.sendall(f"PASS {PASSWORD}\r\n".encode())
            self.assertTrue(f.readline().startswith(b"230"))
            raw.sendall(b"QUIT\r\n")
            self.assertTrue(f.readline().startswith(b"221"))
        finally:
            f.close()
            raw.close()
        deadline = time.monotonic() + 5
        while "(198.51.100.7, 41000)" not in self.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn("Client connected: (198.51.100.7, 41000)", self.log_text())

    def test_trusted_peer_without_header_is_closed_silently(self):
        raw = socket.create_connection((HOST, self.server.port), timeout=TIMEOUT)
        try:
            raw.sendall(b"USER anonymous\r\n")
            try:
                got = raw.recv(100)
            except ConnectionResetError:  # closed with the line unread: a reset
                got = b""
            self.assertEqual(got, b"")  # closed, no reply
        finally:
            raw.close()

    def test_untrusted_client_is_direct(self):
        ftp = ftplib.FTP(timeout=TIMEOUT)
        ftp.connect(HOST, self.server.port, timeout=TIMEOUT, source_address=("127.0.0.2", 0))
        try:
            ftp.login(USER, PASSWORD)
            buf = io.BytesIO()
            ftp.retrbinary("RETR a.txt", buf.write)
            self.assertEqual(buf.getvalue(), b"via proxy")
            ftp.quit()
        finally:
            ftp.close()


class PrivilegeTests(unittest.TestCase):
    """--run-as and the refusal of root: as the kernel sees the process, and as a client does."""

    @unittest.skipUnless(IS_ROOT, "needs root: the privilege drop starts as root")
    def test_run_as_nobody_drops_uid_gid_and_groups(self):
        pw = pwd.getpwnam("nobody")
        root = tempfile.mkdtemp(prefix="run-as-", dir=RUN.client_home)  # its parents stay closed to nobody
        os.chown(root, pw.pw_uid, pw.pw_gid)
        os.chmod(root, 0o755)
        data = random.Random(20).randbytes(100000)
        with open(os.path.join(root, "public.bin"), "wb") as f:
            f.write(data)
        os.chmod(os.path.join(root, "public.bin"), 0o644)
        server = Server(RUN.binary, root, ["--run-as", "nobody"])
        try:
            # "listening on" is printed after the drop: the process is already nobody.
            want_groups = sorted(set(os.getgrouplist("nobody", pw.pw_gid)))
            tasks = os.listdir(f"/proc/{server.proc.pid}/task")
            self.assertGreaterEqual(len(tasks), 1)
            for tid in tasks:  # every thread: real, effective, saved and file-system ids
                st = proc_status(f"{server.proc.pid}/task/{tid}")
                self.assertEqual(st["Uid"], [str(pw.pw_uid)] * 4, f"thread {tid}")
                self.assertEqual(st["Gid"], [str(pw.pw_gid)] * 4, f"thread {tid}")
                self.assertEqual(sorted(int(g) for g in st["Groups"]), want_groups, f"thread {tid}")
            ftp = ftplib.FTP(timeout=TIMEOUT)
            ftp.connect(HOST, server.port, timeout=TIMEOUT)
            ftp.login(USER, PASSWORD)
            try:
                out = io.BytesIO()
                ftp.retrbinary("RETR public.bin", out.write)
                self.assertTrue(out.getvalue() == data, "download differs")
                ftp.storbinary("STOR mine.bin", io.BytesIO(b"uploaded as nobody"))
            finally:
                ftp.quit()
            st = os.stat(os.path.join(root, "mine.bin"))
            self.assertEqual((st.st_uid, st.st_gid), (pw.pw_uid, pw.pw_gid), "uploads belong to the run-as user")
        finally:
            rc, _, killed = server.stop()
            shutil.rmtree(root, ignore_errors=True)
        self.assertEqual((rc, killed), (0, False), server.stderr())

    @unittest.skipUnless(IS_ROOT, "needs root: tests the refusal of root")
    def test_root_without_run_as_or_allow_root_exits_2(self):
        root = tempfile.mkdtemp(prefix="as-root-", dir=RUN.client_home)
        try:
            r = subprocess.run([RUN.binary, "--host", HOST, "--port", "0", "--root", root],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=START_TIMEOUT)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        err = r.stderr.decode(errors="replace")
        self.assertIn("refusing to serve as root", err)
        self.assertIn("--run-as USER", err)
        self.assertIn("--allow-root", err)
        self.assertNotIn(b"listening on", r.stdout)

    def test_run_as_unknown_user_exits_2(self):
        r = subprocess.run([RUN.binary, "--port", "0", "--run-as", "no-such-user-coftp"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=START_TIMEOUT)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"no such user: no-such-user-coftp", r.stderr)

    @unittest.skipIf(IS_ROOT, "runs only when not root: the drop needs root")
    def test_run_as_without_root_exits_2(self):
        other = next(p.pw_name for p in pwd.getpwall() if p.pw_uid not in (0, os.geteuid()))
        r = subprocess.run([RUN.binary, "--port", "0", "--run-as", other],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=START_TIMEOUT)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"needs root", r.stderr)


class LogTests(unittest.TestCase):
    """--log and --xferlog: what an operator reads, and never a password."""

    def test_session_log_and_xferlog_without_passwords(self):
        root = tempfile.mkdtemp(prefix="logs-", dir=RUN.client_home)
        logs = tempfile.mkdtemp(prefix="logs-out-", dir=RUN.client_home)
        log, xferlog = os.path.join(logs, "session.log"), os.path.join(logs, "xferlog")
        secret = "Pw-3kd9-Omega"
        with open(os.path.join(root, "a.txt"), "wb") as f:
            f.write(b"hello\n")
        server = Server(RUN.binary, root, ["--user", f"dave:{secret}", "--log", log, "--xferlog", xferlog],
                        quiet=False)
        try:
            ftp = ftplib.FTP(timeout=TIMEOUT)
            ftp.connect(HOST, server.port, timeout=TIMEOUT)
            ftp.login("dave", secret)
            ftp.storbinary("STOR up load.bin", io.BytesIO(b"0123456789"))
            out = io.BytesIO()
            ftp.retrbinary("RETR a.txt", out.write)
            self.assertEqual(out.getvalue(), b"hello\n")
            ftp.quit()
            anon = ftplib.FTP(timeout=TIMEOUT)
            anon.connect(HOST, server.port, timeout=TIMEOUT)
            anon.login("anonymous", f"anon-{secret}@example.org")
            lines = []
            anon.retrlines("RETR a.txt", lines.append)  # TYPE A
            anon.quit()
            self.assertEqual(lines, ["hello"])
            # logrotate: move the logs away, SIGHUP, the next lines go to new files.
            os.rename(log, log + ".1")
            os.rename(xferlog, xferlog + ".1")
            server.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 5
            while not (os.path.exists(log) and os.path.exists(xferlog)) and time.monotonic() < deadline:
                time.sleep(0.02)
            ftp = ftplib.FTP(timeout=TIMEOUT)
            ftp.connect(HOST, server.port, timeout=TIMEOUT)
            ftp.login("dave", secret)
            ftp.retrbinary("RETR a.txt", lambda b: None)
            ftp.quit()
        finally:
            rc, _, killed = server.stop()
        try:
            self.assertEqual((rc, killed), (0, False), server.stderr())
            with open(log + ".1", "rb") as f:
                session = f.read().decode()
            with open(xferlog + ".1", "rb") as f:
                xfer = f.read().decode()
            with open(log, "rb") as f:
                session2 = f.read().decode()
            with open(xferlog, "rb") as f:
                xfer2 = f.read().decode()
        finally:
            shutil.rmtree(root, ignore_errors=True)
            shutil.rmtree(logs, ignore_errors=True)
        for name, text in (("session log", session + session2), ("xferlog", xfer + xfer2)):
            self.assertNotIn("Pw-3kd9", text, f"a password in the {name}")
        stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[\d+\] "
        for line in session.splitlines() + session2.splitlines():
            self.assertRegex(line, "^" + stamp)
        self.assertEqual(len(re.findall(stamp + r"\[CLIENT\] PASS \*\*\*\*$", session, re.M)), 2)
        self.assertRegex(session, stamp + r"\[LOGIN\] dave: ok")
        self.assertRegex(session2, stamp + r"\[\+\] Client connected")
        # xferlog(5): 5 words of date, then 13 fields; spaces in names become '_'.
        date = r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4} \d+ "
        want = [date + re.escape("127.0.0.1 10 /up_load.bin b _ i r dave ftp 0 * c"),
                date + re.escape("127.0.0.1 6 /a.txt b _ o r dave ftp 0 * c"),
                date + re.escape("127.0.0.1 6 /a.txt a _ o a anonymous ftp 0 * c")]
        got = xfer.splitlines()
        self.assertEqual(len(got), 3, xfer)
        for line, pattern in zip(got, want):
            self.assertRegex(line, "^" + pattern + "$")
            self.assertEqual(len(line.split()), 18, line)
        self.assertEqual(len(xfer2.splitlines()), 1, xfer2)
