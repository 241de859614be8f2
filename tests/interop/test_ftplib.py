"""Interop: Python's ftplib against the shared server."""

import ftplib
import io
import os
import random
import socket
import unittest

from harness import HOST, PASSWORD, RANDOM, RUN, TIMEOUT, USER, LoopbackFTP, ftp_login, path, put, read


class FtplibTests(unittest.TestCase):
    """Python's ftplib."""

    def setUp(self):
        self.ftp = ftp_login()

    def tearDown(self):
        try:
            self.ftp.quit()
        except (ftplib.Error, OSError, EOFError):
            self.ftp.close()

    def test_login_banner_and_syst(self):
        self.assertTrue(self.ftp.getwelcome().startswith("220"))
        self.assertEqual(self.ftp.sendcmd("SYST"), "215 UNIX Type: L8")
        self.assertEqual(self.ftp.sendcmd("NOOP"), "200 OK")

    def test_retrbinary_byte_for_byte(self):
        for n, data in RANDOM.items():
            with self.subTest(size=n):
                put(f"py/retr-{n}.bin", data)
                got = bytearray()
                resp = self.ftp.retrbinary(f"RETR py/retr-{n}.bin", got.extend, blocksize=65536)
                self.assertTrue(resp.startswith("226"), resp)
                self.assertEqual(len(got), n)
                self.assertEqual(bytes(got), data)

    def test_storbinary(self):
        os.makedirs(path("py"), exist_ok=True)
        for n, data in RANDOM.items():
            with self.subTest(size=n):
                resp = self.ftp.storbinary(f"STOR py/stor-{n}.bin", io.BytesIO(data), blocksize=65536)
                self.assertTrue(resp.startswith("226"), resp)
                self.assertEqual(read(f"py/stor-{n}.bin"), data)

    def test_retrlines_ascii(self):
        text = "first line\nsecond line with trailing spaces  \n\nfourth\tafter an empty line\nlast\n"
        put("py/text.txt", text.encode())
        lines = []
        resp = self.ftp.retrlines("RETR py/text.txt", lines.append)
        self.assertTrue(resp.startswith("226"), resp)
        self.assertEqual(lines, text.split("\n")[:-1])

    def test_type_a_puts_crlf_on_the_wire(self):
        text = b"a\nbb\n\nccc\n"
        put("py/wire.txt", text)
        self.ftp.voidcmd("TYPE A")
        with self.ftp.transfercmd("RETR py/wire.txt") as conn:
            raw = b""
            while chunk := conn.recv(65536):
                raw += chunk
        self.ftp.voidresp()
        self.assertEqual(raw, text.replace(b"\n", b"\r\n"))
        self.ftp.voidcmd("TYPE I")
        with self.ftp.transfercmd("RETR py/wire.txt") as conn:
            raw = b""
            while chunk := conn.recv(65536):
                raw += chunk
        self.ftp.voidresp()
        self.assertEqual(raw, text)

    def test_storlines_ascii_stores_lf(self):
        os.makedirs(path("py"), exist_ok=True)
        src = b"one\r\ntwo\nthree\r\n"  # storlines sends CRLF for every line
        resp = self.ftp.storlines("STOR py/lines.txt", io.BytesIO(src))
        self.assertTrue(resp.startswith("226"), resp)
        self.assertEqual(read("py/lines.txt"), b"one\ntwo\nthree\n")

    def test_utf8_file_name(self):
        name = "h\u00e9llo w\u00f6rld \u2713.txt"
        os.makedirs(path("py"), exist_ok=True)
        self.ftp.storbinary(f"STOR py/{name}", io.BytesIO(b"utf8"))
        self.assertEqual(read(f"py/{name}"), b"utf8")
        self.assertIn(name, [os.path.basename(n) for n in self.ftp.nlst("py")])

    def test_nlst(self):
        put("py/nlst/a.txt", b"a")
        put("py/nlst/b c.txt", b"b")
        os.makedirs(path("py/nlst/sub"), exist_ok=True)
        names = sorted(os.path.basename(n) for n in self.ftp.nlst("py/nlst"))
        self.assertEqual(names, ["a.txt", "b c.txt", "sub"])
        os.makedirs(path("py/empty"), exist_ok=True)
        self.assertEqual(self.ftp.nlst("py/empty"), [])

    def test_dir_list(self):
        put("py/list/file.txt", b"12345")
        os.makedirs(path("py/list/folder"), exist_ok=True)
        lines = []
        self.ftp.dir("py/list", lines.append)
        self.assertEqual(len(lines), 2, lines)
        self.assertTrue(lines[0].startswith("-") and lines[0].endswith(" file.txt"), lines)
        self.assertIn(" 5 ", lines[0])
        self.assertTrue(lines[1].startswith("d") and lines[1].endswith(" folder"), lines)
        # LIST of a file lists that file; "-la" is an option, not a path.
        lines = []
        self.ftp.dir("py/list/file.txt", lines.append)
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].endswith(" file.txt"))
        self.ftp.cwd("py/list")
        lines = []
        self.ftp.retrlines("LIST -la", lines.append)
        self.assertTrue(any(l.endswith(" file.txt") for l in lines), lines)

    def test_rename(self):
        put("py/ren/old.txt", b"content")
        self.assertTrue(self.ftp.rename("py/ren/old.txt", "py/ren/new.txt").startswith("250"))
        self.assertFalse(os.path.exists(path("py/ren/old.txt")))
        self.assertEqual(read("py/ren/new.txt"), b"content")
        self.assertNotIn("old.txt", [os.path.basename(n) for n in self.ftp.nlst("py/ren")])
        with self.assertRaises(ftplib.error_perm) as cm:
            self.ftp.rename("py/ren/old.txt", "py/ren/again.txt")
        self.assertTrue(str(cm.exception).startswith("550"), cm.exception)

    def test_delete(self):
        put("py/del/gone.txt", b"x")
        self.assertTrue(self.ftp.delete("py/del/gone.txt").startswith("250"))
        self.assertFalse(os.path.exists(path("py/del/gone.txt")))
        with self.assertRaises(ftplib.error_perm) as cm:
            self.ftp.delete("py/del/gone.txt")
        self.assertTrue(str(cm.exception).startswith("550"), cm.exception)

    def test_directories_with_spaces_and_quotes(self):
        name = 'dir with "quotes" and  spaces'
        self.assertEqual(self.ftp.pwd(), "/")
        made = self.ftp.mkd(name)
        self.assertEqual(made, "/" + name)
        self.assertTrue(os.path.isdir(path(name)))
        with self.assertRaises(ftplib.error_perm) as cm:
            self.ftp.mkd(name)
        self.assertTrue(str(cm.exception).startswith("550"))
        self.ftp.cwd(name)
        self.assertEqual(self.ftp.pwd(), "/" + name)
        self.ftp.mkd("inner")
        self.ftp.cwd("inner")
        self.assertEqual(self.ftp.pwd(), f"/{name}/inner")
        self.ftp.cwd("..")  # ftplib sends CDUP
        self.assertEqual(self.ftp.pwd(), "/" + name)
        with self.assertRaises(ftplib.error_perm) as cm:
            self.ftp.rmd("/" + name)  # not empty
        self.assertTrue(str(cm.exception).startswith("550"))
        self.ftp.rmd("inner")
        self.ftp.cwd("/")
        self.assertTrue(self.ftp.rmd(name).startswith("250"))
        self.assertFalse(os.path.exists(path(name)))
        with self.assertRaises(ftplib.error_perm) as cm:
            self.ftp.cwd(name)
        self.assertTrue(str(cm.exception).startswith("550"))
        # ".." never climbs above "/"
        self.ftp.cwd("../../..")
        self.assertEqual(self.ftp.pwd(), "/")

    def test_size_and_mdtm(self):
        put("py/meta.bin", RANDOM[8193])
        when = 1577934245  # 2020-01-02 03:04:05 UTC
        os.utime(path("py/meta.bin"), (when, when))
        self.ftp.voidcmd("TYPE I")
        self.assertEqual(self.ftp.size("py/meta.bin"), 8193)
        self.assertEqual(self.ftp.sendcmd("MDTM py/meta.bin"), "213 20200102030405")
        for cmd in ("SIZE py/missing.bin", "MDTM py/missing.bin", "SIZE py"):
            with self.subTest(cmd=cmd):
                with self.assertRaises(ftplib.error_perm) as cm:
                    self.ftp.sendcmd(cmd)
                self.assertTrue(str(cm.exception).startswith("550"), cm.exception)

    def test_missing_file_is_550(self):
        with self.assertRaises(ftplib.error_perm) as cm:
            self.ftp.retrbinary("RETR py/definitely-missing.bin", lambda b: None)
        self.assertTrue(str(cm.exception).startswith("550"), cm.exception)
        os.makedirs(path("py"), exist_ok=True)
        with self.assertRaises(ftplib.error_perm) as cm:
            self.ftp.storbinary("STOR py/no-parent/x.bin", io.BytesIO(b"x"))
        self.assertTrue(str(cm.exception).startswith("550"), cm.exception)
        self.assertFalse(os.path.exists(path("py/no-parent")))
        # the session is still usable
        self.assertEqual(self.ftp.voidcmd("NOOP"), "200 OK")

    def test_bad_login_is_530(self):
        ftp = ftplib.FTP(timeout=TIMEOUT)
        ftp.connect(HOST, RUN.server.port, timeout=TIMEOUT)
        try:
            with self.assertRaises(ftplib.error_perm) as cm:
                ftp.login(USER, "not-the-password")
            self.assertTrue(str(cm.exception).startswith("530"), cm.exception)
            with self.assertRaises(ftplib.error_perm) as cm:
                ftp.nlst()
            self.assertTrue(str(cm.exception).startswith("530"), cm.exception)
        finally:
            ftp.close()

    def test_anonymous_is_read_only(self):
        put("pub/readme.txt", b"hello\n")
        ftp = ftp_login(user=None)
        try:
            got = bytearray()
            ftp.retrbinary("RETR pub/readme.txt", got.extend)
            self.assertEqual(bytes(got), b"hello\n")
            for action in (lambda: ftp.storbinary("STOR pub/evil.txt", io.BytesIO(b"evil")),
                           lambda: ftp.mkd("pub/evil"),
                           lambda: ftp.delete("pub/readme.txt"),
                           lambda: ftp.rename("pub/readme.txt", "pub/x.txt")):
                with self.assertRaises(ftplib.error_perm) as cm:
                    action()
                self.assertTrue(str(cm.exception).startswith("550"), cm.exception)
            self.assertFalse(os.path.exists(path("pub/evil.txt")))
            self.assertFalse(os.path.exists(path("pub/evil")))
            self.assertEqual(read("pub/readme.txt"), b"hello\n")
        finally:
            ftp.close()

    def test_abort_during_retr(self):
        size = 64 * 1024 * 1024  # far more than loopback socket buffers hold
        p = path("py/huge.bin")
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.truncate(size)
        self.ftp.voidcmd("TYPE I")
        conn = self.ftp.transfercmd("RETR py/huge.bin")
        try:
            got = 0
            while got < 256 * 1024:
                chunk = conn.recv(65536)
                self.assertTrue(chunk, "data connection closed early")
                got += len(chunk)
            # FTP.abort sends "ABOR\r\n" with MSG_OOB and expects 426, 225 or 226.
            first = self.ftp.abort()
        finally:
            conn.close()
        self.assertTrue(first.startswith("426"), f"the cut transfer must be answered 426 first, got {first!r}")
        second = self.ftp.getresp()
        self.assertTrue(second.startswith("226"), second)
        self.assertEqual(self.ftp.voidcmd("NOOP"), "200 OK")
        got = bytearray()
        put("py/after-abort.bin", RANDOM[8193])
        self.ftp.retrbinary("RETR py/after-abort.bin", got.extend)
        self.assertEqual(bytes(got), RANDOM[8193])

    def test_abort_without_transfer(self):
        resp = self.ftp.abort()
        self.assertIn(resp[:3], ("225", "226"))
        self.assertEqual(self.ftp.voidcmd("NOOP"), "200 OK")

    def test_passive_and_extended_passive(self):
        put("py/pasv.bin", RANDOM[8193])
        for af, verb in ((socket.AF_INET, "PASV"), (socket.AF_INET6, "EPSV")):
            with self.subTest(verb=verb):
                # ftplib picks EPSV when the address family is IPv6; the data host still
                # comes from the control connection's peer, so this works over IPv4.
                self.ftp.af = af
                self.ftp.set_pasv(True)
                got = bytearray()
                self.ftp.retrbinary("RETR py/pasv.bin", got.extend)
                self.assertEqual(bytes(got), RANDOM[8193])
                self.ftp.storbinary(f"STOR py/pasv-{verb}.bin", io.BytesIO(RANDOM[8193]))
                self.assertEqual(read(f"py/pasv-{verb}.bin"), RANDOM[8193])
        self.ftp.af = socket.AF_INET
        self.assertTrue(self.ftp.sendcmd("PASV").startswith("227 Entering Passive Mode (127,0,0,1,"))
        self.assertRegex(self.ftp.sendcmd("EPSV"), r"^229 Entering Extended Passive Mode \(\|\|\|\d+\|\)$")
        # the last listener wins; the earlier one was replaced without a leak
        self.assertEqual(self.ftp.voidcmd("NOOP"), "200 OK")

    def test_feat_and_opts(self):
        resp = self.ftp.sendcmd("FEAT")
        self.assertTrue(resp.startswith("211"), resp)
        for ext in ("SIZE", "MDTM", "EPSV", "PASV", "UTF8"):
            self.assertRegex(resp, rf"(?m)^ {ext}\b", resp)
        self.assertTrue(self.ftp.sendcmd("OPTS UTF8 ON").startswith("200"))

    def test_mlsd_selected_facts(self):
        put("py/mlsd-sel/a.txt", b"aaa")
        # ftplib sends "OPTS MLST type;size;" first; the server then sends those facts only
        listed = self.ftp.mlsd("py/mlsd-sel", facts=["type", "size"])
        entries = {n: {k: v.lower() for k, v in f.items()} for n, f in listed
                   if f.get("type", "").lower() not in ("cdir", "pdir")}
        self.assertEqual(entries, {"a.txt": {"type": "file", "size": "3"}})

    def test_mlst_is_multiline_250(self):
        put("py/mlst/one file.txt", b"1234")
        resp = self.ftp.sendcmd("MLST py/mlst/one file.txt")
        lines = resp.split("\n")
        self.assertEqual(len(lines), 3, resp)
        self.assertTrue(lines[0].startswith("250-"), resp)
        self.assertTrue(lines[2].startswith("250 "), resp)
        self.assertTrue(lines[1].startswith(" "), "the entry line starts with one space")
        facts, _, name = lines[1][1:].partition(" ")
        self.assertTrue(name.endswith("one file.txt"), name)
        self.assertIn("type=file;", facts.lower())
        self.assertIn("size=4;", facts.lower())
        with self.assertRaises(ftplib.error_perm) as cm:
            self.ftp.sendcmd("MLST py/mlst/missing.txt")
        self.assertTrue(str(cm.exception).startswith("550"), cm.exception)

    def test_mlsd_anonymous_perm_is_read_only(self):
        put("pub/mlsd/r.txt", b"r")
        ftp = ftp_login(user=None)
        try:
            facts = {n: f for n, f in ftp.mlsd("pub/mlsd") if f.get("type", "").lower() not in ("cdir", "pdir")}
        finally:
            ftp.close()
        perm = set(facts["r.txt"]["perm"])
        self.assertIn("r", perm)
        self.assertFalse(perm & set("adfw"), f"anonymous may not write: perm={''.join(sorted(perm))}")

    def test_active_mode_retr_stor_nlst(self):
        data = random.Random(13).randbytes(256 * 1024 + 1)
        put("py/active/in.bin", data)
        stored = []
        for verb in ("PORT", "EPRT"):
            with self.subTest(verb=verb):
                ftp = LoopbackFTP(eprt=verb == "EPRT")
                ftp.connect(HOST, RUN.server.port, timeout=TIMEOUT)
                try:
                    ftp.login(USER, PASSWORD)
                    ftp.set_pasv(False)
                    got = bytearray()
                    self.assertTrue(ftp.retrbinary("RETR py/active/in.bin", got.extend).startswith("226"))
                    self.assertTrue(bytes(got) == data, "active RETR differs")
                    resp = ftp.storbinary(f"STOR py/active/out-{verb}.bin", io.BytesIO(data))
                    self.assertTrue(resp.startswith("226"), resp)
                    self.assertTrue(read(f"py/active/out-{verb}.bin") == data, "active STOR differs")
                    stored.append(f"out-{verb}.bin")
                    self.assertEqual(sorted(os.path.basename(n) for n in ftp.nlst("py/active")),
                                     sorted(["in.bin", *stored]))
                    self.assertEqual(ftp.sent, [verb] * 3)
                finally:
                    ftp.close()

    def test_retrbinary_rest_resumes(self):
        data = RANDOM[8193]
        put("py/rest.bin", data)
        self.ftp.voidcmd("TYPE I")
        self.assertRegex(self.ftp.sendcmd("REST 100"), r"^350 Restarting at 100\b")
        for n in (1, 4096, 8192, 8193):
            with self.subTest(rest=n):
                got = bytearray()
                self.assertTrue(self.ftp.retrbinary("RETR py/rest.bin", got.extend, rest=n).startswith("226"))
                self.assertTrue(bytes(got) == data[n:], f"{len(got)} bytes instead of {len(data) - n}")
        # the offset is used once: the next RETR starts at 0
        got = bytearray()
        self.ftp.retrbinary("RETR py/rest.bin", got.extend)
        self.assertTrue(bytes(got) == data)
        # RFC 3659 5.5: beyond the end of the file, 554 for the RETR
        with self.assertRaises(ftplib.error_perm) as cm:
            self.ftp.retrbinary("RETR py/rest.bin", lambda b: None, rest=len(data) + 1)
        self.assertTrue(str(cm.exception).startswith("554"), cm.exception)
        with self.assertRaises(ftplib.error_perm) as cm:
            self.ftp.sendcmd("REST -5")
        self.assertTrue(str(cm.exception).startswith("501"), cm.exception)
        self.assertEqual(self.ftp.voidcmd("NOOP"), "200 OK")

    def test_storbinary_rest_resumes(self):
        data = RANDOM[3 * 1024 * 1024]
        for n in (1, 65536, 1000001):
            with self.subTest(rest=n):
                put(f"py/srest-{n}.bin", data[:n])
                resp = self.ftp.storbinary(f"STOR py/srest-{n}.bin", io.BytesIO(data[n:]), rest=n)
                self.assertTrue(resp.startswith("226"), resp)
                got = read(f"py/srest-{n}.bin")
                self.assertEqual(len(got), len(data))
                self.assertTrue(got == data, "REST + STOR result differs")

    def test_appe_appends_and_creates(self):
        put("py/appe.bin", b"head-")
        self.assertTrue(self.ftp.storbinary("APPE py/appe.bin", io.BytesIO(RANDOM[8193])).startswith("226"))
        self.assertEqual(read("py/appe.bin"), b"head-" + RANDOM[8193])
        self.assertTrue(self.ftp.storbinary("APPE py/appe-new.bin", io.BytesIO(b"new")).startswith("226"))
        self.assertEqual(read("py/appe-new.bin"), b"new")

    def test_nlst_names_can_be_retrieved(self):
        # What mget-style clients do: NLST an argument, then RETR each name it returns.
        put("py/nlstr/sub/inner.txt", b"inner")
        put("py/nlstr/sub/other.txt", b"other")
        self.ftp.cwd("/py/nlstr")
        for arg in ("sub/inner.txt", "sub/*.txt", "/py/nlstr/sub/inner.txt", "/py/nlstr/sub/*.txt"):
            with self.subTest(arg=arg):
                names = self.ftp.nlst(arg)
                self.assertTrue(names, arg)
                for n in names:
                    got = bytearray()
                    try:
                        self.ftp.retrbinary(f"RETR {n}", got.extend)
                    except ftplib.error_perm as e:
                        self.fail(f"NLST {arg} gave {names}; RETR {n}: {e}")
                    self.assertIn(bytes(got), (b"inner", b"other"))

    def test_nlst_and_list_globs(self):
        for n in ("a.txt", "b.txt", "c.bin", "d d.txt"):
            put(f"py/glob/{n}", b"g")
        os.makedirs(path("py/glob/sub.txt.d"), exist_ok=True)
        self.assertEqual(sorted(os.path.basename(n) for n in self.ftp.nlst("py/glob/*.txt")),
                         ["a.txt", "b.txt", "d d.txt"])
        self.assertEqual([os.path.basename(n) for n in self.ftp.nlst("py/glob/?.bin")], ["c.bin"])
        lines = []
        self.ftp.dir("py/glob/*.bin", lines.append)
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith("-") and lines[0].endswith(" c.bin"), lines)
        # no match: 550 or an empty list, never an error of the session
        try:
            self.assertEqual(self.ftp.nlst("py/glob/*.none"), [])
        except ftplib.error_perm as e:
            self.assertTrue(str(e).startswith("550"), e)
        self.assertEqual(self.ftp.voidcmd("NOOP"), "200 OK")
