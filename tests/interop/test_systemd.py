"""Interop: coftp-server under systemd's protocols, without a systemd PID 1. Socket
activation: systemd-socket-activate (it comes with systemd) opens the listening sockets
and execs the server on the first connection, as a socket unit does; the server serves
them instead of binding (the control port "ftp", implicit FTPS "ftps"), and refuses
sockets of other names. Notifications: a NOTIFY_SOCKET of the test's own (an AF_UNIX
datagram socket) receives READY=1, RELOADING=1 and READY=1 around a SIGHUP, STOPPING=1
at SIGTERM, STATUS= lines, and WATCHDOG=1 when WATCHDOG_USEC asks for it. A binary built
without libsystemd (COFTP_EXAMPLE_SYSTEMD) skips these tests, loudly."""

import ftplib
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import (HOST, PASSWORD, RUN, START_TIMEOUT, TIMEOUT, TLS_CERT, TLS_KEY, USER, Control, Server,
                     tls_context, wait_for)

SOCKET_ACTIVATE = shutil.which("systemd-socket-activate")


def built_with_systemd():
    """Whether the binary under test links libsystemd (else its notifications are no-ops)."""
    r = subprocess.run(["ldd", RUN.binary], capture_output=True, timeout=30)
    return b"libsystemd.so" in r.stdout


def free_port():
    """A port free on HOST now (the kernel's pick), for systemd-socket-activate -l."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def skip_unless_systemd(case):
    if not built_with_systemd():
        print(f"\n!!! {RUN.binary} is built without libsystemd: {case.__name__} SKIPPED\n", flush=True)
        raise unittest.SkipTest("coftp-server built without libsystemd (COFTP_EXAMPLE_SYSTEMD)")


class Activation:
    """systemd-socket-activate listening on one port per name (`names`: "ftp", "ftps", ...)
    and execing coftp-server on the first connection. `poke()` makes that connection and
    keeps what the server says on it first: the connection that starts the server is
    served, not lost."""

    def __init__(self, names):
        self.ports = {name: free_port() for name in names}
        self.wrapper = [SOCKET_ACTIVATE]
        for port in self.ports.values():
            self.wrapper += ["-l", f"{HOST}:{port}"]
        self.wrapper.append("--fdname=" + ":".join(names))
        self.first_line = queue.Queue()
        self.first_port = self.ports[names[0]]

    def poke(self, tls=False):
        """In the background: connects to the first port until it listens, then reads the
        first reply line (TLS from the first byte when `tls`), bounded."""
        def run():
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                try:
                    sock = socket.create_connection((HOST, self.first_port), timeout=TIMEOUT)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        self.first_line.put("(never listened)")
                        return
                    time.sleep(0.05)
            try:
                if tls:
                    sock = tls_context().wrap_socket(sock, server_hostname=HOST)
                got = b""
                while b"\r\n" not in got:
                    chunk = sock.recv(1024)
                    if not chunk:
                        break
                    got += chunk
                self.first_line.put(got.split(b"\r\n")[0].decode(errors="replace"))
            except OSError as e:
                self.first_line.put(f"({e})")
            finally:
                sock.close()
        threading.Thread(target=run, daemon=True).start()

    def first_reply(self):
        return self.first_line.get(timeout=START_TIMEOUT + TIMEOUT)


def stop_checked(test, server):
    rc, _, killed = server.stop()
    test.assertEqual((rc, killed), (0, False), server.stderr())


class SystemdSocketActivationTests(unittest.TestCase):
    """Sockets passed by systemd-socket-activate (LISTEN_FDS, LISTEN_FDNAMES)."""

    @classmethod
    def setUpClass(cls):
        if SOCKET_ACTIVATE is None:
            raise unittest.SkipTest("systemd-socket-activate not found (apt-get install systemd)")
        skip_unless_systemd(cls)

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="sd-activate-", dir=RUN.client_home)
        self.addCleanup(shutil.rmtree, self.root, True)

    def start(self, names, extra_args=(), tls_poke=False):
        activation = Activation(names)
        activation.poke(tls_poke)
        server = Server(RUN.binary, self.root, list(extra_args), wrapper=activation.wrapper)
        self.addCleanup(server.stop)
        return activation, server

    def test_ftplib_login_list_retr_on_the_passed_socket(self):
        with open(os.path.join(self.root, "hello.txt"), "wb") as f:
            f.write(b"hello from a passed socket\n")
        activation, server = self.start(["ftp"])
        self.assertEqual(activation.first_reply()[:4], "220 ", "the connection that started the server")
        # --port 0 was given too: the passed socket is served instead of binding one.
        self.assertEqual(server.port, activation.ports["ftp"])
        self.assertIn("  sockets: ftp passed by systemd (socket activation)", server.stdout_lines)
        ftp = ftplib.FTP(timeout=TIMEOUT)
        ftp.connect(HOST, activation.ports["ftp"], timeout=TIMEOUT)
        try:
            ftp.login(USER, PASSWORD)
            listing = []
            ftp.retrlines("LIST", listing.append)
            self.assertTrue(any(line.endswith(" hello.txt") for line in listing), listing)
            got = []
            ftp.retrbinary("RETR hello.txt", got.append)
            self.assertEqual(b"".join(got), b"hello from a passed socket\n")
            ftp.quit()
        finally:
            ftp.close()
        stop_checked(self, server)

    def test_an_unnamed_single_socket_is_the_control_port(self):
        activation = Activation(["ftp"])
        activation.wrapper = [a for a in activation.wrapper if not a.startswith("--fdname")]  # "unknown"
        activation.poke()
        server = Server(RUN.binary, self.root, wrapper=activation.wrapper)
        self.addCleanup(server.stop)
        self.assertEqual(activation.first_reply()[:4], "220 ")
        self.assertEqual(server.port, activation.ports["ftp"])
        stop_checked(self, server)

    @unittest.skipIf(TLS_CERT is None, "no test certificate (COFTP_TEST_CERT/COFTP_TEST_KEY)")
    def test_ftp_and_implicit_ftps_sockets(self):
        with open(os.path.join(self.root, "secret.bin"), "wb") as f:
            f.write(b"over implicit TLS")
        activation, server = self.start(["ftp", "ftps"], ["--tls-cert", TLS_CERT, "--tls-key", TLS_KEY])
        self.assertEqual(activation.first_reply()[:4], "220 ")
        ftps_port = activation.ports["ftps"]
        wait_for(lambda: f"implicit FTPS on {HOST}:{ftps_port}" in server.stdout_lines, "the implicit FTPS line")
        self.assertEqual(server.port, activation.ports["ftp"])
        # Plain FTP on the control socket.
        ftp = ftplib.FTP(timeout=TIMEOUT)
        ftp.connect(HOST, server.port, timeout=TIMEOUT)
        ftp.login(USER, PASSWORD)
        self.assertIn("secret.bin", ftp.nlst())
        ftp.quit()
        # TLS from the first byte on the ftps socket, a PROT P download.
        ctx = tls_context()
        c = Control(ftps_port)
        try:
            c.sock = ctx.wrap_socket(c.sock, server_hostname=HOST)
            code, lines = c.reply()
            self.assertEqual(code, 220, lines)
            c.expect(f"USER {USER}", 331)
            c.expect(f"PASS {PASSWORD}", 230)
            c.expect("PBSZ 0", 200)
            c.expect("PROT P", 200)
            c.expect("TYPE I", 200)
            data, resumed, final = c.retr_private(ctx, "secret.bin")
            self.assertEqual((data, final[0]), (b"over implicit TLS", 226), final)
        finally:
            c.close()
        stop_checked(self, server)

    def refused(self, names, extra_args=()):
        """Starts the activated server on a socket named `names`, which must refuse to start:
        (exit status, standard error)."""
        activation = Activation(names)
        args = [*activation.wrapper, RUN.binary, "--root", self.root, "--port", "0", *extra_args]
        if os.geteuid() == 0:
            args.append("--allow-root")
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            activation.poke()
            _, err = proc.communicate(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=10)
            self.fail("a server with a bad socket did not exit")
        return proc.returncode, err.decode(errors="replace")

    def test_a_socket_of_an_unknown_name_is_refused_at_start(self):
        rc, err = self.refused(["ftpd"])
        self.assertEqual(rc, 2, err)
        self.assertIn("socket activation: socket 'ftpd' (fd 3): unknown name; FileDescriptorName= must be ftp", err)
        rc, err = self.refused(["ftp", "sftp"])
        self.assertEqual(rc, 2, err)
        self.assertIn("socket 'sftp' (fd 4): unknown name", err)

    def test_an_ftps_socket_without_a_certificate_is_refused(self):
        rc, err = self.refused(["ftp", "ftps"])
        self.assertEqual(rc, 2, err)
        self.assertIn("is for implicit FTPS: it needs --tls-cert", err)


class NotifyListener:
    """NOTIFY_SOCKET: an AF_UNIX datagram socket in a temporary directory; each datagram's
    lines ("READY=1", "STATUS=...") in arrival order."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sd-notify-")  # short: sun_path holds 108 bytes
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.lines = []
        self.lock = threading.Lock()
        self.done = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while not self.done:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.lines += data.decode(errors="replace").split("\n")

    def snapshot(self):
        with self.lock:
            return list(self.lines)

    def wait_count(self, line, n, timeout=10):
        """Waits until `line` has arrived `n` times; returns all lines so far."""
        return wait_for(lambda: self.snapshot() if self.snapshot().count(line) >= n else None,
                        f"{n} x {line!r} on NOTIFY_SOCKET (got {self.snapshot()[-10:]})", timeout)

    def states(self):
        """The state changes in order, without STATUS=, WATCHDOG=1 and MONOTONIC_USEC= lines."""
        return [l for l in self.snapshot() if l and not l.startswith(("STATUS=", "WATCHDOG=", "MONOTONIC_USEC="))]

    def close(self):
        self.done = True
        self.thread.join(timeout=5)
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class SystemdNotifyTests(unittest.TestCase):
    """sd_notify(3) messages to a NOTIFY_SOCKET of the test's own."""

    @classmethod
    def setUpClass(cls):
        skip_unless_systemd(cls)

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="sd-notify-root-", dir=RUN.client_home)
        self.addCleanup(shutil.rmtree, self.root, True)
        self.notify = NotifyListener()
        self.addCleanup(self.notify.close)

    def start(self, env=(), wrapper=()):
        environment = dict(os.environ, NOTIFY_SOCKET=self.notify.path, **dict(env))
        for name in ("WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
            if name not in dict(env):
                environment.pop(name, None)
        server = Server(RUN.binary, self.root, env=environment, wrapper=wrapper)
        self.addCleanup(server.stop)
        return server

    def test_ready_reloading_ready_stopping_in_order(self):
        server = self.start()
        lines = self.notify.wait_count("READY=1", 1)
        status = [l for l in lines if l.startswith("STATUS=")]
        self.assertTrue(status, lines)
        self.assertRegex(status[0], r"^STATUS=serving: 0 sessions, 0 transfers done$")
        server.proc.send_signal(signal.SIGHUP)
        lines = self.notify.wait_count("READY=1", 2)
        self.assertTrue(any(re.fullmatch(r"MONOTONIC_USEC=\d+", l) for l in lines), lines)
        self.assertTrue(server.alive(), server.stderr())
        stop_checked(self, server)
        self.notify.wait_count("STOPPING=1", 1)
        self.assertEqual(self.notify.states(), ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"])
        self.assertTrue(any(l.startswith("STATUS=stopping: ") for l in self.notify.snapshot()), self.notify.snapshot())

    def test_status_follows_the_sessions(self):
        server = self.start()
        self.notify.wait_count("READY=1", 1)
        ftp = ftplib.FTP(timeout=TIMEOUT)
        ftp.connect(HOST, server.port, timeout=TIMEOUT)
        try:
            ftp.login(USER, PASSWORD)
            ftp.nlst()
            self.notify.wait_count("STATUS=serving: 1 sessions, 1 transfers done", 1)
            ftp.quit()
        finally:
            ftp.close()
        self.notify.wait_count("STATUS=serving: 0 sessions, 1 transfers done", 1)
        stop_checked(self, server)

    def test_watchdog_at_half_the_interval(self):
        server = self.start(env={"WATCHDOG_USEC": "400000"})
        self.notify.wait_count("WATCHDOG=1", 1)
        before = self.notify.snapshot().count("WATCHDOG=1")
        time.sleep(2)
        pings = self.notify.snapshot().count("WATCHDOG=1") - before
        # Every 200 ms: about 10 in 2 s (at the whole interval, 5; a loaded machine only delays).
        self.assertTrue(7 <= pings <= 12, f"{pings} WATCHDOG=1 in 2 s at WATCHDOG_USEC=400000")
        stop_checked(self, server)

    def test_watchdog_for_this_pid_only(self):
        # WATCHDOG_PID names the server: a shell sets it to its own pid, then execs the server.
        mine = self.start(env={"WATCHDOG_USEC": "200000"}, wrapper=["sh", "-c", 'WATCHDOG_PID=$$ exec "$@"', "sh"])
        self.notify.wait_count("WATCHDOG=1", 3, timeout=5)
        stop_checked(self, mine)

    def test_no_watchdog_for_another_pid(self):
        server = self.start(env={"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
        self.notify.wait_count("READY=1", 1)
        time.sleep(0.5)
        self.assertNotIn("WATCHDOG=1", self.notify.snapshot())
        stop_checked(self, server)
