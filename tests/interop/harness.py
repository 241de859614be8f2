"""What the interop tests share: the example server as a child process, the clients they
drive (curl, lftp, wget, tnftp, rclone, ncftpls, Python's ftplib, bare sockets), trees of
files, the FTPS helpers, and RUN, what the runner (test_clients.py) sets before any test
runs: the shared server, the binary under test and the clients' empty HOME."""

import fcntl
import ftplib
import os
import queue
import random
import re
import resource
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import termios
import threading
import time
import unittest

HOST = "127.0.0.1"
USER, PASSWORD = "alice", "secret"
TIMEOUT = 10          # seconds, every socket operation of a client
CURL_TIMEOUT = 20     # seconds, curl's own --max-time
START_TIMEOUT = 20    # seconds to wait for "listening on HOST:PORT"
STOP_TIMEOUT = 5      # seconds for a graceful stop after SIGTERM
RUN_TIMEOUT = 90      # seconds, a whole lftp, wget or tnftp run (subprocess timeout)


def find_client(name):
    """The client's path, or None after a warning nobody can miss: its tests are skipped."""
    found = shutil.which(name)
    if found is None:
        print("\n" + "!" * 72 + f"\n!!! {name} NOT FOUND: every {name} interop test is SKIPPED.\n"
              f"!!! Install it (apt-get install {name}); the README's test command does.\n" + "!" * 72 + "\n",
              flush=True)
    return found


CURL = find_client("curl")
LFTP = find_client("lftp")
WGET = find_client("wget")
TNFTP = find_client("tnftp")
RCLONE = find_client("rclone")
NCFTPLS = find_client("ncftpls")


class Run:
    """What the runner (test_clients.py) sets before any test runs, in one object that every
    module reads when a test runs: `from harness import SERVER` would copy the value the
    name had at import (None) and never see the runner's server."""

    def __init__(self):
        self.server = None       # the shared Server (alice:secret read-write, anonymous read-only)
        self.binary = None       # the coftp-server under test, an absolute path
        self.client_home = None  # an empty HOME for the clients, and their scratch directory


RUN = Run()


def client_env():
    env = dict(os.environ, HOME=RUN.client_home, LC_ALL="C")
    for proxy in ("ftp_proxy", "FTP_PROXY", "all_proxy", "ALL_PROXY", "http_proxy", "https_proxy"):
        env.pop(proxy, None)
    return env


class Server:
    """The example server as a child process."""

    def __init__(self, binary, root, extra_args=(), quiet=True, files=None, env=None, wrapper=(), preexec=None):
        self.root = root
        self.port = None
        self.implicit_port = None  # with --implicit-tls-port: from "implicit FTPS on HOST:PORT"
        want_implicit = "--implicit-tls-port" in extra_args
        self.stderr_lines = []
        self.stdout_lines = []
        # wrapper: a command line the server runs under (it must exec the server, so that
        # proc.pid is the server's); preexec: run in the child before exec (limits).
        args = [*wrapper, binary, "--host", HOST, "--port", "0", "--root", root,
                "--user", f"{USER}:{PASSWORD}", "--anonymous", *extra_args]
        if "--threads" not in extra_args:
            args += ["--threads", "4"]
        if quiet:
            args.append("--quiet")
        # The server refuses root unless told; as root (CI), the test servers say so,
        # except those testing the privilege drop itself.
        if os.geteuid() == 0 and "--run-as" not in extra_args:
            args.append("--allow-root")
        # files: RLIMIT_NOFILE, soft and hard (the server raises its soft limit to the hard one).
        def limit():
            if files is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))
            if preexec is not None:
                preexec()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=limit, env=env)
        lines = queue.Queue()
        # Drain both pipes for the whole life of the server, so that it never blocks on them.
        threading.Thread(target=self._drain, args=(self.proc.stdout, self.stdout_lines, lines), daemon=True).start()
        threading.Thread(target=self._drain, args=(self.proc.stderr, self.stderr_lines, None), daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        while self.port is None or (want_implicit and self.implicit_port is None):
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise RuntimeError(f"no 'listening on' (or 'implicit FTPS on') line within {START_TIMEOUT} s; "
                                   f"stderr: {self.stderr()}")
            try:
                line = lines.get(timeout=min(left, 0.2))
            except queue.Empty:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode} before listening; "
                                       f"stderr: {self.stderr()}")
                continue
            if line is None:
                continue
            m = re.fullmatch(r"listening on (\S+):(\d+)", line.strip())
            if m:
                self.port = int(m.group(2))
            m = re.fullmatch(r"implicit FTPS on (\S+):(\d+)", line.strip())
            if m:
                self.implicit_port = int(m.group(2))
        if self.port == 0 or self.implicit_port == 0:
            self.stop()
            raise RuntimeError("server announced port 0 instead of the real port")

    @staticmethod
    def _drain(pipe, keep, notify):
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            keep.append(line)
            if notify is not None:
                notify.put(line)
        if notify is not None:
            notify.put(None)

    def stderr(self):
        """The last lines of the server's standard error; all of a sanitizer's report."""
        lines = self.stderr_lines
        first = next((i for i, l in enumerate(lines) if "Sanitizer" in l or "runtime error:" in l), None)
        shown = lines[max(0, first - 5):] if first is not None else lines[-20:]
        return "\n".join(shown) or "(empty)"

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, a bounded wait, then SIGKILL. Returns (exit status, seconds, killed)."""
        start = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                return self.proc.returncode, time.monotonic() - start, True
        return self.proc.returncode, time.monotonic() - start, False


def path(*parts):
    """The real path under --root of a virtual path."""
    return os.path.join(RUN.server.root, *parts)


def put(rel, data):
    p = path(rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)
    return p


def read(rel):
    with open(path(rel), "rb") as f:
        return f.read()


def ftp_login(user=USER, password=PASSWORD):
    ftp = ftplib.FTP(timeout=TIMEOUT)
    ftp.connect(HOST, RUN.server.port, timeout=TIMEOUT)
    if user is None:
        ftp.login()  # anonymous
    else:
        ftp.login(user, password)
    return ftp


class LoopbackFTP(ftplib.FTP):
    """ftplib in active mode listening on 127.0.0.1 only (ftplib's own makeport listens on
    every interface), announcing it with PORT or, eprt=True, EPRT. Records the verbs sent."""

    def __init__(self, eprt=False):
        super().__init__(timeout=TIMEOUT)
        self.eprt = eprt
        self.sent = []

    def makeport(self):
        sock = socket.create_server((HOST, 0), family=socket.AF_INET, backlog=1)
        port = sock.getsockname()[1]
        try:
            if self.eprt:
                self.sendeprt(HOST, port)
            else:
                self.sendport(HOST, port)
        except BaseException:
            sock.close()
            raise
        self.sent.append("EPRT" if self.eprt else "PORT")
        sock.settimeout(TIMEOUT)
        return sock


def url(rel="", user=True):
    cred = f"{USER}:{PASSWORD}@" if user else ""
    return f"ftp://{cred}{HOST}:{RUN.server.port}/{rel}"


def curl(*args, stdin=None, timeout=CURL_TIMEOUT + 10):
    """Runs curl (stdin: bytes for "-T -"); returns a CompletedProcess with bytes stdout/stderr."""
    cmd = [CURL, "--silent", "--show-error", "--max-time", str(CURL_TIMEOUT), "--connect-timeout", "10",
           "--noproxy", "*", *args]
    if stdin is None:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, env=client_env())
    return subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, env=client_env())


def curl_ok(test, *args):
    r = curl(*args)
    test.assertEqual(r.returncode, 0, f"curl {' '.join(args)} failed: {r.stderr.decode(errors='replace')}")
    return r


class Raw:
    """A bare control connection: bytes out, reply lines in, bounded reads."""

    def __init__(self, port=None):
        self.sock = socket.create_connection((HOST, port or RUN.server.port), timeout=TIMEOUT)
        self.file = self.sock.makefile("rb")

    def send(self, data, flags=0):
        self.sock.sendall(data, flags)

    def reply(self):
        """One whole reply (multi-line aware): (code, [lines])."""
        line = self.file.readline(65536)
        if not line:
            raise EOFError("server closed the control connection")
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if not re.match(r"^\d{3}[ -]", text):
            raise AssertionError(f"not a reply line: {text!r}")
        lines = [text]
        if text[3] == "-":
            code = text[:3]
            while True:
                nxt = self.file.readline(65536)
                if not nxt:
                    raise EOFError("server closed the control connection inside a multi-line reply")
                t = nxt.decode("utf-8", "replace").rstrip("\r\n")
                lines.append(t)
                if t.startswith(code + " "):
                    break
        return int(text[:3]), lines

    def command(self, text):
        self.send(text.encode() + b"\r\n")
        return self.reply()

    def login(self):
        self.assert_code(self.command(f"USER {USER}"), 331)
        self.assert_code(self.command(f"PASS {PASSWORD}"), 230)

    @staticmethod
    def assert_code(reply, code):
        if reply[0] != code:
            raise AssertionError(f"expected {code}, got {reply[1]}")

    def close(self):
        try:
            self.file.close()
            self.sock.close()
        except OSError:
            pass

    def epsv_data(self):
        """EPSV and a connected data socket."""
        code, lines = self.command("EPSV")
        self.assert_code((code, lines), 229)
        port = int(re.search(r"\(\|\|\|(\d+)\|\)", lines[0]).group(1))
        return socket.create_connection((HOST, port), timeout=TIMEOUT)


def recv_all(sock):
    got = bytearray()
    while chunk := sock.recv(65536):
        got.extend(chunk)
    return bytes(got)


# --------------------------------------------------------------------------------------
# Trees of files for mirror tests.

TREE_DIRS = ("", "alpha", "alpha/beta", "alpha/beta/gamma dir", "alpha/beta/gamma dir/delta",
             "with space", "with space/inner  two", "zeta")
TREE_BIG = (100 * 1024, 257 * 1024 + 3, 512 * 1024 + 1, 1024 * 1024)


def make_tree(base, seed, count=200, empty_dir=True):
    """Writes `count` files under `base` over several directory levels, some names with
    spaces, most files small, a few of 100 KiB to 1 MiB, one empty; deterministic random
    bytes from `seed`. Returns {relative path: bytes}."""
    rng = random.Random(seed)
    files = {}
    for i in range(count):
        d = TREE_DIRS[i % len(TREE_DIRS)]
        name = (f"file {i:03d}.txt", f"f{i:03d}.bin", f"name with  spaces {i}.dat", f"x-{i}")[i % 4]
        if i < len(TREE_BIG):
            size = TREE_BIG[i]
        elif i == len(TREE_BIG):
            size = 0
        else:
            size = rng.randint(1, 4096)
        rel = f"{d}/{name}" if d else name
        files[rel] = rng.randbytes(size)
    for rel, data in files.items():
        p = os.path.join(base, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
    if empty_dir:
        os.makedirs(os.path.join(base, "empty dir"), exist_ok=True)
    return files


def read_tree(base):
    """({relative path: bytes}, {relative directory}) of everything under base."""
    files, dirs = {}, set()
    for top, subdirs, names in os.walk(base):
        rel_top = os.path.relpath(top, base)
        for d in subdirs:
            dirs.add(os.path.normpath(os.path.join(rel_top, d)))
        for n in names:
            with open(os.path.join(top, n), "rb") as f:
                files[os.path.normpath(os.path.join(rel_top, n))] = f.read()
    return files, dirs


def tree_dirs(files, empty_dir=True):
    """The directories a make_tree() tree holds."""
    dirs = {"empty dir"} if empty_dir else set()
    for rel in files:
        d = os.path.dirname(rel)
        while d:
            dirs.add(d)
            d = os.path.dirname(d)
    return dirs


def assert_same_files(test, expected, got, what):
    """Byte for byte, with a short message (not megabytes of bytes) when they differ."""
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    differ = sorted(f"{r} ({len(expected[r])} bytes sent, {len(got[r])} received)"
                    for r in set(expected) & set(got) if expected[r] != got[r])
    if missing or extra or differ:
        test.fail(f"{what}: {len(missing)} missing {missing[:5]}, {len(extra)} unexpected {extra[:5]}, "
                  f"{len(differ)} differ {differ[:5]}")


def run_client(argv, input=None, timeout=RUN_TIMEOUT, cwd=None, env=None):
    """A client process with the clean HOME (and `env` added), bounded; bytes stdout/stderr."""
    return subprocess.run(argv, input=input, stdin=None if input is not None else subprocess.DEVNULL,
                          capture_output=True, timeout=timeout, env=dict(client_env(), **(env or {})), cwd=cwd)


def lftp(script, debug_log=None, user=True, timeout=RUN_TIMEOUT):
    """lftp -c: bounded retries and timeouts, plain FTP, stops at the first failing command.
    debug_log: a file receiving lftp's protocol transcript ("---> CMD", "<--- reply")."""
    pre = "set net:max-retries 1; set net:timeout 10; set net:reconnect-interval-base 1; " \
          "set ftp:ssl-allow no; set cmd:fail-exit yes; set xfer:clobber on; "
    if debug_log:
        pre += f'debug -o "{debug_log}" 5; '
    login = f"-u {USER},{PASSWORD} " if user else ""
    return run_client([LFTP, "-c", f"{pre}open {login}ftp://{HOST}:{RUN.server.port}; {script}"], timeout=timeout)


def lftp_ok(test, script, debug_log=None):
    r = lftp(script, debug_log)
    log = ""
    if debug_log and os.path.exists(debug_log):
        with open(debug_log, errors="replace") as f:
            log = f.read()[-3000:]
    test.assertEqual(r.returncode, 0, f"lftp failed ({script}): {r.stderr.decode(errors='replace')}\n{log}")
    return r


def answered(command_re, code):
    """A regex for lftp's debug transcript: the command, then its reply (info lines between)."""
    return rf"---> {command_re}\n(?:---- [^\n]*\n)*<--- {code}[ -]"


def transcript(log_path):
    with open(log_path, errors="replace") as f:
        return f.read()


RANDOM = {n: os.urandom(n) for n in (0, 1, 8193, 3 * 1024 * 1024)}
BIG = 3 * 1024 * 1024


# --------------------------------------------------------------------------------------
IS_ROOT = os.geteuid() == 0


def proc_status(pid):
    """/proc/PID/status as a dict of field name to its words."""
    with open(f"/proc/{pid}/status") as f:
        return {k: v.split() for k, _, v in (line.partition(":") for line in f)}


# --------------------------------------------------------------------------------------
def find_test_certificate():
    """(certificate, key) paths, or (None, None) after a warning nobody can miss."""
    cert, key = os.environ.get("COFTP_TEST_CERT"), os.environ.get("COFTP_TEST_KEY")
    if cert and key and os.path.isfile(cert) and os.path.isfile(key):
        return os.path.abspath(cert), os.path.abspath(key)
    print("\n" + "!" * 72 + "\n!!! COFTP_TEST_CERT/COFTP_TEST_KEY not set (or missing files): every FTPS (Tls*)\n"
          "!!! interop test is SKIPPED. meson sets them when coftp is built with OpenSSL.\n" + "!" * 72 + "\n",
          flush=True)
    return None, None


TLS_CERT, TLS_KEY = find_test_certificate()
NO_TLS = "no test certificate (COFTP_TEST_CERT/COFTP_TEST_KEY): built without OpenSSL?"
TLS_VERSIONS = (("TLSv1.2", ssl.TLSVersion.TLSv1_2), ("TLSv1.3", ssl.TLSVersion.TLSv1_3))


def tls_context(version=None, verify=True):
    """A client context: the test certificate as the only trust anchor (its SAN holds
    127.0.0.1), or no verification at all; `version` pins one TLS version."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        ctx.load_verify_locations(TLS_CERT)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if version is not None:
        ctx.minimum_version = version
        ctx.maximum_version = version
    return ctx


class ReusingFTP_TLS(ftplib.FTP_TLS):
    """ftplib.FTP_TLS whose PROT P data connections resume the control connection's TLS
    session, as curl, lftp and FileZilla do (ftplib itself starts a fresh session)."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size


class Control:
    """A bare control connection that AUTH TLS can turn into TLS. No read-ahead buffer
    survives the upgrade, so nothing read in clear is mistaken for TLS bytes."""

    def __init__(self, port):
        self.sock = socket.create_connection((HOST, port), timeout=TIMEOUT)
        self.buf = b""

    def line(self):
        deadline = time.monotonic() + TIMEOUT
        while b"\r\n" not in self.buf:
            if time.monotonic() > deadline or len(self.buf) > 65536:
                raise AssertionError(f"no reply line within {TIMEOUT} s: {self.buf[:200]!r}")
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("server closed the control connection")
            self.buf += chunk
        text, self.buf = self.buf.split(b"\r\n", 1)
        return text.decode("utf-8", "replace")

    def reply(self):
        """One whole reply (multi-line aware): (code, [lines])."""
        first = self.line()
        if not re.match(r"^\d{3}[ -]", first):
            raise AssertionError(f"not a reply line: {first!r}")
        lines = [first]
        if first[3] == "-":
            for _ in range(1000):
                lines.append(self.line())
                if lines[-1].startswith(first[:3] + " "):
                    break
        return int(first[:3]), lines

    def command(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.reply()

    def expect(self, text, code):
        got = self.command(text)
        if got[0] != code:
            raise AssertionError(f"{text}: expected {code}, got {got[1]}")
        return got

    def starttls(self, context):
        self.expect("AUTH TLS", 234)
        assert not self.buf, f"bytes after the 234: {self.buf!r}"
        self.sock = context.wrap_socket(self.sock, server_hostname=HOST)

    def secure_login(self, context, user=USER, password=PASSWORD):
        """220, AUTH TLS, USER, PASS, PBSZ 0, PROT P, TYPE I."""
        code, lines = self.reply()
        assert code == 220, lines
        self.starttls(context)
        self.expect(f"USER {user}", 331)
        self.expect(f"PASS {password}", 230)
        self.expect("PBSZ 0", 200)
        self.expect("PROT P", 200)
        self.expect("TYPE I", 200)

    def passive(self, verb):
        """PASV or EPSV: the data port."""
        code, lines = self.command(verb)
        if verb == "EPSV":
            assert code == 229, lines
            return int(re.search(r"\(\|\|\|(\d+)\|\)", lines[0]).group(1))
        assert code == 227, lines
        p = re.search(r"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", lines[0]).groups()
        assert ".".join(p[:4]) == HOST, lines
        return int(p[4]) * 256 + int(p[5])

    def retr_private(self, context, rel, verb="EPSV", session=None):
        """PASV/EPSV, RETR over a PROT P data connection that resumes this connection's
        session (or `session`): (bytes, data connection resumed?, final reply). A data
        connection the server refuses gives b"" and False."""
        port = self.passive(verb)
        data = socket.create_connection((HOST, port), timeout=TIMEOUT)
        got, resumed = b"", False
        try:
            self.sock.sendall(f"RETR {rel}\r\n".encode())
            data = context.wrap_socket(data, server_hostname=HOST, session=session or self.sock.session)
            code, lines = self.reply()
            assert code == 150, lines
            resumed = data.session_reused
            try:
                got = recv_all(data)
            except OSError:  # refused: the server closes right after the handshake
                pass
        finally:
            data.close()
        return got, resumed, self.reply()

    def stor_private(self, context, rel, data, close_notify):
        """EPSV, STOR over a PROT P data connection resuming this connection's session,
        ended with a TLS close_notify or by a bare TCP close: (150 reply, final reply)."""
        port = self.passive("EPSV")
        data_sock = socket.create_connection((HOST, port), timeout=TIMEOUT)
        try:
            self.sock.sendall(f"STOR {rel}\r\n".encode())
            data_sock = context.wrap_socket(data_sock, server_hostname=HOST, session=self.sock.session)
            first = self.reply()
            if first[0] != 150:
                return first, None
            data_sock.sendall(data)
            if close_notify:
                data_sock = data_sock.unwrap()  # sends close_notify, waits for the server's
            else:
                data_sock.shutdown(socket.SHUT_WR)  # a TCP FIN where close_notify belongs
        finally:
            data_sock.close()
        return first, self.reply()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class TlsServerCase(unittest.TestCase):
    """A server of the class's own with the test certificate and `server_args`."""

    server_args = ()

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="tls-", dir=RUN.client_home)
        cls.server = Server(RUN.binary, cls.root, ["--tls-cert", TLS_CERT, "--tls-key", TLS_KEY,
                                                      *cls.server_args])

    @classmethod
    def tearDownClass(cls):
        rc, _, killed = cls.server.stop()
        shutil.rmtree(cls.root, ignore_errors=True)
        if killed or rc != 0:
            raise AssertionError(f"{cls.__name__} server stopped with {rc}, killed={killed}; {cls.server.stderr()}")

    def setUp(self):
        self.assertTrue(self.server.alive(), f"server died: {self.server.stderr()}")

    @classmethod
    def put(cls, rel, data):
        p = os.path.join(cls.root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)

    @classmethod
    def read(cls, rel):
        with open(os.path.join(cls.root, rel), "rb") as f:
            return f.read()

    @classmethod
    def url(cls, rel="", scheme="ftp", port=None):
        return f"{scheme}://{USER}:{PASSWORD}@{HOST}:{port or cls.server.port}/{rel}"

    def curl_tls(self, *args, stdin=None):
        """curl -v (the transcript on stderr), the server's certificate trusted."""
        r = curl("-v", "--cacert", TLS_CERT, *args, stdin=stdin)
        return r, r.stderr.decode("utf-8", "replace")

    def ftplib_tls(self, version=None, cls=ReusingFTP_TLS, port=None):
        """Logged in over TLS with PROT P."""
        ftp = cls(context=tls_context(version), timeout=TIMEOUT)
        ftp.connect(HOST, port or self.server.port, timeout=TIMEOUT)
        ftp.login(USER, PASSWORD)
        ftp.prot_p()
        return ftp

    @staticmethod
    def close_ftp(ftp):
        try:
            ftp.quit()
        except (ftplib.Error, OSError, EOFError):
            ftp.close()


def feat_lines(port, context=None):
    """The FEAT reply's feature lines, without the leading space; over TLS with `context`."""
    c = Control(port)
    try:
        assert c.reply()[0] == 220
        if context is not None:
            c.starttls(context)
        code, lines = c.command("FEAT")
        assert code == 211, lines
        return [line[1:] for line in lines[1:-1]]
    finally:
        c.close()


# --------------------------------------------------------------------------------------
# Uploads, listings and logins on bare connections; a tmpfs to fill (the issue #19 tests).
def wait_for(predicate, what, timeout=10):
    """Polls `predicate` every 20 ms until it returns something true, and returns that."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.02)


def upload(raw, verb, name, data, ascii=False, reset=False):
    """VERB name with `data` on a passive data connection of `raw` (logged in); the final
    reply (code, lines), or the first if it is no 150. A server refusing mid-way closes the
    data connection: the send then fails, and that is no error here. reset=True ends the
    data connection with an RST (SO_LINGER 0) once the server has every byte (the send
    queue is empty: all acknowledged), instead of an orderly close (the end of the file)."""
    raw.assert_code(raw.command("TYPE A" if ascii else "TYPE I"), 200)
    data_sock = raw.epsv_data()
    try:
        code, lines = raw.command(f"{verb} {name}")
        if code != 150:
            return code, lines

        def send():
            try:
                data_sock.sendall(data)
                if reset:
                    wait_for(lambda: struct.unpack("i", fcntl.ioctl(data_sock, termios.TIOCOUTQ, b"\0" * 4))[0] == 0,
                             "the server acknowledging every byte")
                    data_sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                data_sock.close()
            except OSError:
                pass  # the server stopped reading (a refusal): its reply says why

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        try:
            return raw.reply()
        finally:
            sender.join(timeout=TIMEOUT)
    finally:
        data_sock.close()


def raw_listing(raw, command):
    """The bytes a listing command (LIST, NLST, MLSD) sends on a passive data connection."""
    data_sock = raw.epsv_data()
    try:
        raw.assert_code(raw.command(command), 150)
        got = recv_all(data_sock)
    finally:
        data_sock.close()
    raw.assert_code(raw.reply(), 226)
    return got


def logged_in(port):
    raw = Raw(port)
    try:
        raw.assert_code(raw.reply(), 220)
        raw.login()
    except BaseException:
        raw.close()
        raise
    return raw


def tmpfs_unavailable():
    """Why no size-limited tmpfs in a private mount namespace can be had here, or None."""
    if not IS_ROOT:
        return "needs root, to mount a tmpfs in a private mount namespace (unshare -m)"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) not found"
    probe = tempfile.mkdtemp(prefix="tmpfs-probe-", dir=RUN.client_home)
    try:
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            'mount -t tmpfs -o size=1m coftp-probe "$0" && touch "$0/x"', probe],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=RUN_TIMEOUT)
        if r.returncode != 0:
            return f"cannot mount a tmpfs in a mount namespace: {r.stderr.decode(errors='replace').strip()}"
        if os.listdir(probe):
            return "the tmpfs mount was not private to its namespace"
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    return None
