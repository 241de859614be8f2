"""Interop: bare control connections, unusual bytes and the verbs no client sends as asked."""

import os
import re
import socket
import unittest

from harness import HOST, PASSWORD, RUN, TIMEOUT, USER, Raw, ftp_login, path, put, read, recv_all


class RawClientTests(unittest.TestCase):
    """Hostile or unusual bytes on a bare control connection."""

    def test_garbage_and_long_lines_then_next_client(self):
        raw = Raw()
        try:
            self.assertEqual(raw.reply()[0], 220)
            for junk in (b"\x01\x02\x03 \x7f\r\n", b"12345\r\n", b"\x00USER x\r\n", b"USER \xc3\x28\r\n",
                         b"NOTAVERB arg\r\n", b"   \r\n"):
                with self.subTest(junk=junk):
                    raw.send(junk)
                    code, lines = raw.reply()
                    self.assertTrue(500 <= code <= 504, lines)
            raw.send(b"A" * 10240 + b"\r\n")
            code, lines = raw.reply()
            self.assertEqual(code, 500, lines)
            # The issue allows "the session goes on or is closed"; if it goes on, it must work.
            try:
                noop = raw.command("NOOP")
            except (EOFError, ConnectionError):
                raw.close()
                raw = Raw()
                self.assertEqual(raw.reply()[0], 220)
            else:
                self.assertEqual(noop[0], 200, noop[1])
            # Random binary lines (no CR, LF or IAC): each one gets an error reply.
            for _ in range(3):
                raw.send(bytes(b for b in os.urandom(1500) if b not in (10, 13, 255)) + b"\r\n")
                code, lines = raw.reply()
                self.assertTrue(500 <= code <= 504, lines)
            self.assertEqual(raw.command("NOOP")[0], 200)
        finally:
            raw.close()
        self.assertTrue(RUN.server.alive(), "server died")
        ftp = ftp_login()
        try:
            self.assertEqual(ftp.voidcmd("NOOP"), "200 OK")
        finally:
            ftp.quit()

    def test_pipelined_commands_answered_in_order(self):
        raw = Raw()
        try:
            self.assertEqual(raw.reply()[0], 220)
            raw.send(f"USER {USER}\r\nPASS {PASSWORD}\r\nSYST\r\nPWD\r\nNOOP\r\nBOGUS\r\nQUIT\r\n".encode())
            codes = [raw.reply()[0] for _ in range(7)]
            self.assertEqual(codes, [331, 230, 215, 257, 200, 500, 221])
        finally:
            raw.close()

    def test_commands_before_login_are_530(self):
        raw = Raw()
        try:
            self.assertEqual(raw.reply()[0], 220)
            for cmd in ("PWD", "LIST", "RETR x", "STOR x", "CWD /", "PASV"):
                with self.subTest(cmd=cmd):
                    self.assertEqual(raw.command(cmd)[0], 530)
        finally:
            raw.close()

    def test_telnet_synch_abort_during_retr(self):
        # RFC 959 4.1.3 as BSD/inetutils ftp sends it: "IAC IP IAC" as urgent data
        # (MSG_OOB marks the last IAC), then "DM ABOR" inline.
        size = 64 * 1024 * 1024
        p = path("raw/huge.bin")
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.truncate(size)
        raw = Raw()
        data = None
        try:
            self.assertEqual(raw.reply()[0], 220)
            raw.login()
            raw.assert_code(raw.command("TYPE I"), 200)
            code, lines = raw.command("EPSV")
            self.assertEqual(code, 229, lines)
            port = int(re.search(r"\(\|\|\|(\d+)\|\)", lines[0]).group(1))
            data = socket.create_connection((HOST, port), timeout=TIMEOUT)
            self.assertEqual(raw.command("RETR raw/huge.bin")[0], 150)
            got = 0
            while got < 256 * 1024:
                chunk = data.recv(65536)
                self.assertTrue(chunk)
                got += len(chunk)
            raw.send(b"\xff\xf4\xff", socket.MSG_OOB)  # IAC IP IAC
            raw.send(b"\xf2ABOR\r\n")                 # DM ABOR CRLF
            code, lines = raw.reply()
            self.assertEqual(code, 426, lines)
            code, lines = raw.reply()
            self.assertEqual(code, 226, lines)
            self.assertEqual(raw.command("NOOP")[0], 200)
        finally:
            if data is not None:
                data.close()
            raw.close()


# --------------------------------------------------------------------------------------
class RawProtocolTests(unittest.TestCase):
    """Issue 4 verbs on a bare control connection, where no client above sends them as asked."""

    def setUp(self):
        self.raw = Raw()
        self.assertEqual(self.raw.reply()[0], 220)
        self.raw.login()

    def tearDown(self):
        self.raw.close()

    def listener(self):
        s = socket.create_server((HOST, 0), backlog=1)
        s.settimeout(TIMEOUT)
        self.addCleanup(s.close)
        return s, s.getsockname()[1]

    def test_port_and_eprt_refusals(self):
        raw = self.raw
        _, port = self.listener()
        hi, lo = divmod(port, 256)
        # another host than the control connection's peer: refused (no FTP bounce)
        for cmd in (f"PORT 10,1,2,3,{hi},{lo}", f"EPRT |1|10.1.2.3|{port}|", f"PORT 127,0,0,2,{hi},{lo}"):
            with self.subTest(cmd=cmd):
                code, lines = raw.command(cmd)
                self.assertIn(code, (500, 504), lines)
        # privileged ports: refused
        for cmd in ("PORT 127,0,0,1,0,21", "PORT 127,0,0,1,3,255", "EPRT |1|127.0.0.1|25|"):
            with self.subTest(cmd=cmd):
                code, lines = raw.command(cmd)
                self.assertIn(code, (500, 504), lines)
        # malformed: 501
        for cmd in ("PORT 127,0,0,1,4", "PORT 127,0,0,1,300,1", "PORT a,b,c,d,e,f", "PORT",
                    "EPRT |1|127.0.0.1|", "EPRT |1|127.0.0.1|99999|", "EPRT junk", "EPRT |1|not-an-ip|2000|"):
            with self.subTest(cmd=cmd):
                code, lines = raw.command(cmd)
                self.assertEqual(code, 501, lines)
        # RFC 2428: an unsupported network protocol is 522
        code, lines = raw.command(f"EPRT |3|127.0.0.1|{port}|")
        self.assertEqual(code, 522, lines)
        code, lines = raw.command(f"EPRT |2|::1|{port}|")  # not the peer, or not supported
        self.assertIn(code, (500, 504, 522), lines)
        self.assertEqual(raw.command("NOOP")[0], 200)

    def test_port_connect_failure_is_425(self):
        put("rawp/x.txt", b"x")
        s = socket.create_server((HOST, 0))
        port = s.getsockname()[1]
        s.close()  # nobody listens there now
        hi, lo = divmod(port, 256)
        # RFC 959 connects for the transfer command; a server connecting at PORT says 425 there
        code, lines = self.raw.command(f"PORT 127,0,0,1,{hi},{lo}")
        if code != 425:
            self.assertEqual(code, 200, lines)
            code, lines = self.raw.command("RETR rawp/x.txt")
            self.assertEqual(code, 425, lines)
        self.assertEqual(self.raw.command("NOOP")[0], 200)

    def test_stou_reports_the_unique_name(self):
        put("rawp/stou/taken", b"old")
        made = []
        for _ in range(2):
            self.raw.assert_code(self.raw.command("CWD /rawp/stou"), 250)
            self.raw.assert_code(self.raw.command("TYPE I"), 200)
            data = self.raw.epsv_data()
            code, lines = self.raw.command("STOU")
            # RFC 1123 4.1.2.9: "125 FILE: name" or "150 FILE: name"
            m = re.fullmatch(r"(?:125|150) FILE: (.+)", lines[0])
            self.assertIsNotNone(m, f"RFC 1123 4.1.2.9: '150 FILE: name', got {lines}")
            data.sendall(b"unique " + str(len(made)).encode())
            data.close()
            code, lines = self.raw.reply()
            self.assertEqual(code, 226, lines)
            made.append(os.path.basename(m.group(1)))
        self.assertNotEqual(made[0], made[1])
        self.assertNotIn("taken", made)
        self.assertEqual(read("rawp/stou/taken"), b"old")
        for i, name in enumerate(made):
            self.assertEqual(read(f"rawp/stou/{name}"), b"unique " + str(i).encode())

    def test_epsv_all(self):
        put("rawp/all.txt", b"all")
        code, lines = self.raw.command("EPSV ALL")
        self.assertTrue(200 <= code <= 299, lines)  # RFC 2428 names no code; 200 is usual
        for cmd in ("PASV", "PORT 127,0,0,1,200,1", "EPRT |1|127.0.0.1|51201|"):
            with self.subTest(cmd=cmd):
                code, lines = self.raw.command(cmd)
                self.assertTrue(500 <= code <= 599, lines)
        data = self.raw.epsv_data()
        self.assertIn(self.raw.command("RETR rawp/all.txt")[0], (125, 150))
        self.assertEqual(recv_all(data), b"all")
        data.close()
        self.assertEqual(self.raw.reply()[0], 226)

    def test_stat(self):
        put("rawp/stat/f one.txt", b"12345")
        code, lines = self.raw.command("STAT")
        self.assertEqual(code, 211, lines)
        # RFC 959: with a path, a listing over the control connection (212 directory, 213 file status)
        code, lines = self.raw.command("STAT /rawp/stat")
        self.assertIn(code, (212, 213), lines)
        self.assertTrue(any(l.endswith(" f one.txt") and " 5 " in l for l in lines[1:-1]), lines)
        code, lines = self.raw.command("STAT /rawp/stat/f one.txt")
        self.assertEqual(code, 213, lines)
        self.assertTrue(any(l.endswith(" f one.txt") for l in lines[1:-1]), lines)
        code, lines = self.raw.command("STAT /rawp/missing")
        self.assertIn(code, (450, 550), lines)
        self.assertEqual(self.raw.command("NOOP")[0], 200)

    def test_help_verb(self):
        code, lines = self.raw.command("HELP RETR")
        self.assertEqual(code, 214, lines)
        self.assertIn("RETR", " ".join(lines))
        self.raw.command("HELP NOSUCHVERB")  # any answer, then the session goes on
        self.assertEqual(self.raw.command("NOOP")[0], 200)

    def test_site_chmod(self):
        put("rawp/chmod.txt", b"c")
        os.chmod(path("rawp/chmod.txt"), 0o644)
        code, lines = self.raw.command("SITE CHMOD 600 /rawp/chmod.txt")
        self.assertEqual(code, 200, lines)
        self.assertEqual(oct(os.stat(path("rawp/chmod.txt")).st_mode & 0o777), oct(0o600))
        # an FTP user never makes a file set-user-ID or set-group-ID
        for mode in ("4755", "2755", "6777"):
            with self.subTest(mode=mode):
                self.assertEqual(self.raw.command(f"SITE CHMOD {mode} /rawp/chmod.txt")[0], 550)
                self.assertEqual(oct(os.stat(path("rawp/chmod.txt")).st_mode & 0o7777), oct(0o600))
        self.assertEqual(self.raw.command("SITE CHMOD 600 /rawp/missing.txt")[0], 550)
        self.assertEqual(self.raw.command("SITE CHMOD 9z9 /rawp/chmod.txt")[0], 501)

    def test_mfmt(self):
        put("rawp/mfmt.txt", b"m")
        code, lines = self.raw.command("MFMT 20200102030405 /rawp/mfmt.txt")
        self.assertEqual(code, 213, lines)
        self.assertRegex(lines[0], r"^213 Modify=20200102030405; /rawp/mfmt\.txt$")
        self.assertEqual(int(os.stat(path("rawp/mfmt.txt")).st_mtime), 1577934245)
        self.assertEqual(self.raw.command("MDTM /rawp/mfmt.txt")[1], ["213 20200102030405"])
        self.assertEqual(self.raw.command("MFMT 2020010203 /rawp/mfmt.txt")[0], 501)
        self.assertEqual(self.raw.command("MFMT 20200102030405 /rawp/missing.txt")[0], 550)

    def test_mfmt_far_future(self):
        # After 2038: set and read back exactly. After 2262 (where 64-bit nanoseconds end) and
        # beyond what the file system stores (ext4: 2446): either refused with the file
        # untouched, or 213 with the time really set, the one MDTM reads back; never a
        # time wrapped into the past.
        put("rawp/future.txt", b"f")
        os.utime(path("rawp/future.txt"), (1577934245, 1577934245))
        self.assertEqual(self.raw.command("MFMT 21000101000000 /rawp/future.txt")[1],
                         ["213 Modify=21000101000000; /rawp/future.txt"])
        self.assertEqual(self.raw.command("MDTM /rawp/future.txt")[1], ["213 21000101000000"])
        for stamp in ("22630101000000", "99991231235959"):
            with self.subTest(stamp=stamp):
                before = os.stat(path("rawp/future.txt")).st_mtime
                code, lines = self.raw.command(f"MFMT {stamp} /rawp/future.txt")
                if code == 213:
                    m = re.fullmatch(r"213 Modify=(\d{14}); /rawp/future\.txt", lines[0])
                    self.assertIsNotNone(m, lines)
                    self.assertGreaterEqual(m.group(1), "21000101000000", f"wrapped into the past: {lines}")
                    self.assertEqual(self.raw.command("MDTM /rawp/future.txt")[1], [f"213 {m.group(1)}"])
                else:
                    self.assertIn(code, (501, 550), lines)
                    self.assertEqual(os.stat(path("rawp/future.txt")).st_mtime, before, "refused, yet changed")

    def test_rein_logs_out(self):
        self.raw.assert_code(self.raw.command("CWD /"), 250)
        code, lines = self.raw.command("REIN")
        self.assertEqual(code, 220, lines)
        self.assertEqual(self.raw.command("PWD")[0], 530)
        self.raw.login()
        self.assertEqual(self.raw.command("PWD")[1], ['257 "/" is the current directory'])

    def test_feat_lists_issue_4_extensions(self):
        code, lines = self.raw.command("FEAT")
        self.assertEqual(code, 211, lines)
        feats = {l.strip().split(" ")[0].upper() for l in lines[1:-1]}
        for ext in ("REST", "MLST", "MFMT"):
            self.assertIn(ext, feats, lines)
        # tnftp's reget looks for "REST STREAM"; lftp reads the MLST fact list
        self.assertTrue(any(l.strip().upper() == "REST STREAM" for l in lines), lines)
        mlst = next(l.strip() for l in lines if l.strip().upper().startswith("MLST "))
        facts = {f.rstrip("*").lower() for f in mlst.split(" ", 1)[1].split(";") if f}
        self.assertTrue({"type", "size", "modify", "perm", "unique"} <= facts, mlst)
