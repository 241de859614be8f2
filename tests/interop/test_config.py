"""Interop: coftp-server's configuration (--config FILE, COFTP_<NAME> variables, their
order, errors naming the file, line and key, --check-config, --print-config, --version,
--help by topic) and its reload on SIGHUP (users, certificates, transfers running across
it, an invalid configuration that changes nothing)."""

import ftplib
import hashlib
import io
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

from harness import (HOST, IS_ROOT, NO_TLS, PASSWORD, RUN, TIMEOUT, TLS_CERT, TLS_KEY, USER, ReusingFTP_TLS,
                     Server, wait_for)

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))


def run(args, env=None, timeout=30):
    """coftp-server ARGS as a short-lived process (no serving): (status, stdout, stderr)."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("COFTP_")}
    e.update(env or {})
    p = subprocess.run([RUN.binary, *args], capture_output=True, text=True, timeout=timeout, env=e,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def effective(text, key):
    """The value line `key = ...` of a --print-config output."""
    m = re.search(rf"^{re.escape(key)} = (.*)$", text, re.M)
    return m.group(1) if m else None


def hash_password(pw):
    p = subprocess.run([RUN.binary, "--hash-password"], input=pw + "\n", capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


class ConfigFileTests(unittest.TestCase):
    """--config, the environment and the command line, and the errors of each."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="config-", dir=RUN.client_home)
        self.root = os.path.join(self.dir, "root")
        os.makedirs(self.root)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def conf(self, text, name="coftp.conf"):
        path = os.path.join(self.dir, name)
        write(path, text)
        return path

    def test_command_line_over_environment_over_file_over_defaults(self):
        conf = self.conf("max-sessions = 7\nidle-timeout = 20\nlogin-timeout = 30\nallow = [\"10.0.0.0/8\", \"::1\"]\n")
        code, out, err = run(["--config", conf, "--login-timeout", "31", "--print-config"],
                             env={"COFTP_IDLE_TIMEOUT": "21", "COFTP_LOGIN_TIMEOUT": "32"})
        self.assertEqual(code, 0, err)
        self.assertEqual(effective(out, "max-sessions"), "7")       # the file
        self.assertEqual(effective(out, "idle-timeout"), "21")      # the environment over the file
        self.assertEqual(effective(out, "login-timeout"), "31")     # the command line over both
        self.assertEqual(effective(out, "ban-after"), "10")         # the default
        self.assertEqual(effective(out, "allow"), '["10.0.0.0/8", "::1"]')  # a list as an array
        # COFTP_CONFIG names the file when --config is not given.
        code, out, err = run(["--print-config"], env={"COFTP_CONFIG": conf})
        self.assertEqual((code, effective(out, "max-sessions")), (0, "7"), err)

    def test_a_server_configured_by_its_file_serves(self):
        users = os.path.join(self.dir, "users")
        write(users, f"carol:{hash_password('carol-pw')}:/:all\n")
        conf = self.conf(f'passwd = "{users}"\nmax-sessions-per-address = 3\n')
        server = Server(RUN.binary, self.root, ["--config", conf])
        try:
            ftp = ftplib.FTP(timeout=TIMEOUT)
            ftp.connect(HOST, server.port)
            ftp.login("carol", "carol-pw")
            ftp.storbinary("STOR f.bin", io.BytesIO(b"from the file"))
            got = io.BytesIO()
            ftp.retrbinary("RETR f.bin", got.write)
            self.assertEqual(got.getvalue(), b"from the file")
            # max-sessions-per-address = 3: the fourth at once is refused.
            more = [socket.create_connection((HOST, server.port), timeout=TIMEOUT) for _ in range(3)]
            try:
                replies = [s.makefile("rb").readline() for s in more]
                self.assertTrue(replies[0].startswith(b"220"), replies)
                self.assertTrue(replies[1].startswith(b"220"), replies)
                self.assertTrue(replies[2].startswith(b"421"), replies)
            finally:
                for s in more:
                    s.close()
            ftp.quit()
        finally:
            server.stop()

    def test_unknown_key_names_file_line_and_key(self):
        conf = self.conf("# comment\nport = 2121\nmax-sesions = 5\n")
        code, _, err = run(["--config", conf])
        self.assertEqual(code, 2)
        self.assertIn(f"{conf}:3: key 'max-sesions': unknown key", err)

    def test_bad_value_names_file_line_and_key(self):
        conf = self.conf("port = 2121\n\nidle-timeout = soon\n")
        code, _, err = run(["--config", conf, "--check-config"])
        self.assertEqual(code, 2)
        self.assertIn(f"{conf}:3: key 'idle-timeout':", err)
        self.assertIn("soon", err)

    def test_bad_variable_is_named(self):
        code, _, err = run(["--check-config"], env={"COFTP_MAX_SESSIONS": "many"})
        self.assertEqual(code, 2)
        self.assertIn("environment COFTP_MAX_SESSIONS:", err)

    def test_a_missing_config_file_is_an_error(self):
        code, _, err = run(["--config", os.path.join(self.dir, "nowhere.conf")])
        self.assertEqual(code, 2)
        self.assertIn("nowhere.conf", err)

    def test_check_config_accepts_without_binding(self):
        busy = socket.create_server((HOST, 0))
        try:
            port = busy.getsockname()[1]
            conf = self.conf(f'port = {port}\nhost = "{HOST}"\nroot = "{self.root}"\nallow-root = true\n')
            code, out, err = run(["--config", conf, "--check-config"], timeout=10)
            self.assertEqual(code, 0, err)
            self.assertIn("configuration OK", out)
        finally:
            busy.close()

    def test_check_config_refuses_what_would_not_start(self):
        users = os.path.join(self.dir, "users")
        write(users, "carol-without-fields\n")
        not_pem = self.conf("this is no certificate\n", "cert.pem")
        a_file = self.conf("", "a-file")
        cases = {
            "users file": ([f'passwd = "{users}"'], "--passwd"),
            "CIDR": (['allow = ["10.0.0.0/33"]'], "--allow"),
            "certificate": ([f'tls-cert = "{not_pem}"'], "--tls-cert"),
            "root": ([f'root = "{a_file}"'], "--root"),
            "TLS flag without certificate": (["tls-required = true"], "need --tls-cert"),
        }
        for what, (lines, said) in cases.items():
            with self.subTest(what=what):
                conf = self.conf("\n".join(lines + ["allow-root = true"]) + "\n")
                code, out, err = run(["--config", conf, "--check-config"])
                self.assertEqual(code, 2, out + err)
                self.assertIn(said, err)

    def test_print_config_is_a_config_file_and_masks_passwords(self):
        code, first, err = run(["--user", "dave:top-secret", "--max-rate", "1M", "--log", 'odd "name".log',
                                "--anonymous", "--print-config"])
        self.assertEqual(code, 0, err)
        self.assertNotIn("top-secret", first)
        self.assertEqual(effective(first, "user"), '["dave:****"]')
        self.assertEqual(effective(first, "max-rate"), "1048576")
        conf = self.conf(first)
        code, again, err = run(["--config", conf, "--print-config"])
        self.assertEqual(code, 0, err)
        self.assertEqual(again, first)

    def test_shipped_config_is_every_key_at_its_default(self):
        code, help_text, _ = run(["--help"])
        if "--s3-endpoint" not in help_text:
            self.skipTest("this coftp-server is built without S3: the shipped file lists the S3 keys")
        code, out, err = run(["--print-config"])
        self.assertEqual(code, 0, err)
        with open(os.path.join(TOP, "examples", "coftp-server", "coftp-server.conf")) as f:
            self.assertEqual(f.read(), out, "examples/coftp-server/coftp-server.conf differs from --print-config: "
                                            "regenerate it with `coftp-server --print-config`")

    def test_version_is_the_projects(self):
        with open(os.path.join(TOP, "meson.build")) as f:
            version = re.search(r"version: '([^']+)'", f.read()).group(1)
        code, out, _ = run(["--version"])
        self.assertEqual((code, out.strip()), (0, f"coftp-server {version}"))

    def test_help_is_grouped_by_topic(self):
        code, out, _ = run(["--help"])
        self.assertEqual(code, 0)
        topics = re.findall(r"^([A-Z][A-Za-z]+):$", out, re.M)
        for t in ("Network", "Users", "TLS", "Limits", "Logging", "Storage", "Operations"):
            self.assertIn(t, topics)
        self.assertLess(topics.index("Network"), topics.index("Operations"))


class ReloadTests(unittest.TestCase):
    """SIGHUP: the configuration and users read again while sessions and transfers run."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="reload-", dir=RUN.client_home)
        self.root = os.path.join(self.dir, "root")
        os.makedirs(self.root)
        self.users = os.path.join(self.dir, "users")
        self.hashes = {n: hash_password(n + "-pw") for n in ("erin", "frank")}
        self.set_users("erin")
        self.conf = os.path.join(self.dir, "coftp.conf")
        write(self.conf, f'passwd = "{self.users}"\nmax-rate = "8M"\n')
        self.server = None

    def tearDown(self):
        if self.server is not None:
            rc, _, killed = self.server.stop()
            self.assertFalse(killed)
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, extra=()):
        self.server = Server(RUN.binary, self.root, ["--config", self.conf, *extra])

    def set_users(self, *names):
        write(self.users, "".join(f"{n}:{self.hashes[n]}:/:all\n" for n in names))

    def reloads(self):
        return sum(1 for line in self.server.stdout_lines if line.startswith("reloaded"))

    def refusals(self):
        return sum(1 for line in self.server.stderr_lines if "reload refused" in line)

    def reload(self, expect_refusal=False):
        """SIGHUP, and the wait for the server's word that it reloaded (or refused)."""
        before = self.refusals() if expect_refusal else self.reloads()
        self.server.proc.send_signal(signal.SIGHUP)
        count = self.refusals if expect_refusal else self.reloads
        wait_for(lambda: count() > before, "the reload's line")

    def login(self, user, password):
        ftp = ftplib.FTP(timeout=TIMEOUT)
        ftp.connect(HOST, self.server.port)
        ftp.login(user, password)
        return ftp

    def test_transfers_across_ten_reloads_complete_byte_for_byte(self):
        self.start()
        data = os.urandom(24 * 1024 * 1024)  # 3 s each way at max-rate 8M
        with open(os.path.join(self.root, "down.bin"), "wb") as f:
            f.write(data)
        results = {}

        def download():
            ftp = self.login("erin", "erin-pw")
            got = io.BytesIO()
            ftp.retrbinary("RETR down.bin", got.write, blocksize=65536)
            results["down"] = got.getvalue()
            ftp.quit()

        def upload():
            ftp = self.login("erin", "erin-pw")
            results["up"] = ftp.storbinary("STOR up.bin", io.BytesIO(data), blocksize=65536)
            ftp.quit()

        threads = [threading.Thread(target=download), threading.Thread(target=upload)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        for _ in range(10):
            self.reload()
            time.sleep(0.1)
        running = [t.is_alive() for t in threads]
        for t in threads:
            t.join(timeout=60)
        self.assertEqual(running, [True, True], "a transfer ended before the tenth reload: make it longer")
        self.assertEqual(self.reloads(), 10)
        self.assertEqual(hashlib.sha256(results["down"]).hexdigest(), hashlib.sha256(data).hexdigest())
        self.assertTrue(results["up"].startswith("226"), results["up"])
        with open(os.path.join(self.root, "up.bin"), "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), hashlib.sha256(data).hexdigest())

    def test_users_added_and_removed(self):
        self.start()
        erin = self.login("erin", "erin-pw")
        with self.assertRaises(ftplib.error_perm):
            self.login("frank", "frank-pw")
        self.set_users("frank")
        self.reload()
        frank = self.login("frank", "frank-pw")
        with self.assertRaises(ftplib.error_perm):
            self.login("erin", "erin-pw")
        # erin's session, logged in before the reload, is left alone.
        self.assertEqual(erin.pwd(), "/")
        erin.storbinary("STOR still-erin.txt", io.BytesIO(b"kept"))
        self.assertIn("still-erin.txt", erin.nlst())
        frank.quit()
        erin.quit()

    def test_an_invalid_configuration_changes_nothing(self):
        self.start()
        write(self.users, "this line has no fields\n")
        self.reload(expect_refusal=True)
        self.login("erin", "erin-pw").quit()  # the users in force stay
        self.set_users("erin")
        write(self.conf, f'passwd = "{self.users}"\nmax-rate = "8M"\nidle-timeout = never\n')
        self.reload(expect_refusal=True)
        self.assertIn(f"{self.conf}:3: key 'idle-timeout'", self.server.stderr_lines[-1])
        self.login("erin", "erin-pw").quit()

    def test_what_needs_a_restart_is_named_and_kept(self):
        self.start()
        xferlog = os.path.join(self.dir, "xfer.log")
        write(self.conf, f'passwd = "{self.users}"\nmax-rate = "8M"\nxferlog = "{xferlog}"\n')
        self.reload()
        line = [l for l in self.server.stdout_lines if l.startswith("reloaded")][-1]
        self.assertIn("needs a restart", line)
        self.assertIn("--xferlog", line)
        ftp = self.login("erin", "erin-pw")
        ftp.storbinary("STOR x.bin", io.BytesIO(b"x"))
        ftp.quit()
        self.assertFalse(os.path.exists(xferlog))

    @unittest.skipIf(TLS_CERT is None, NO_TLS)
    def test_renewed_certificate_for_new_sessions_old_sessions_keep_theirs(self):
        cert = os.path.join(self.dir, "cert.pem")
        key = os.path.join(self.dir, "key.pem")
        shutil.copy(TLS_CERT, cert)
        shutil.copy(TLS_KEY, key)
        self.start(["--tls-cert", cert, "--tls-key", key])
        with open(cert) as f:
            old_der = ssl.PEM_cert_to_DER_cert(f.read())
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.maximum_version = ssl.TLSVersion.TLSv1_2  # ftplib's session reuse is TLS 1.2's
        with open(os.path.join(self.root, "secret.bin"), "wb") as f:
            f.write(b"s" * 100000)
        old = ReusingFTP_TLS(context=context, timeout=TIMEOUT)
        old.connect(HOST, self.server.port)
        old.login("erin", "erin-pw")
        old.prot_p()
        self.assertEqual(old.sock.getpeercert(binary_form=True), old_der)
        # The renewal: a new certificate and key at the same paths.
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", "/CN=renewed", "-keyout", key, "-out", cert],
                       check=True, capture_output=True, timeout=60)
        with open(cert) as f:
            new_der = ssl.PEM_cert_to_DER_cert(f.read())
        self.assertNotEqual(new_der, old_der)
        self.reload()
        new = ReusingFTP_TLS(context=context, timeout=TIMEOUT)
        new.connect(HOST, self.server.port)
        new.login("erin", "erin-pw")
        new.prot_p()
        self.assertEqual(new.sock.getpeercert(binary_form=True), new_der)
        for who in (old, new):
            got = io.BytesIO()
            self.assertTrue(who.retrbinary("RETR secret.bin", got.write).startswith("226"))
            self.assertEqual(got.getvalue(), b"s" * 100000)
        old.quit()
        new.quit()
