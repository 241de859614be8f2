"""Interop: the system curl against the shared server."""

import os
import random
import tempfile
import unittest

from harness import BIG, CURL, HOST, RANDOM, RUN, USER, curl, curl_ok, path, put, read, url


@unittest.skipIf(CURL is None, "curl not installed")
class CurlTests(unittest.TestCase):
    """The system curl binary."""

    def test_download_binary_byte_for_byte(self):
        data = RANDOM[BIG]
        put("curl/dl.bin", data)
        r = curl_ok(self, url("curl/dl.bin"))
        self.assertEqual(len(r.stdout), len(data))
        self.assertEqual(r.stdout, data)

    def test_upload(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "up.bin")
            with open(src, "wb") as f:
                f.write(RANDOM[BIG])
            os.makedirs(path("curl"), exist_ok=True)
            curl_ok(self, "-T", src, url("curl/uploaded.bin"))
        self.assertEqual(read("curl/uploaded.bin"), RANDOM[BIG])

    def test_upload_replaces_existing_file(self):
        put("curl/replace.txt", b"old content that is longer than the new one\n")
        r = curl("-T", "-", url("curl/replace.txt"), stdin=b"new\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(read("curl/replace.txt"), b"new\n")

    def test_upload_into_missing_directory_fails_without_create_dirs(self):
        r = curl("-T", "-", url("curl/no-such-dir/x.txt"), stdin=b"x")
        self.assertNotEqual(r.returncode, 0, "STOR into a missing directory must fail (550)")
        self.assertFalse(os.path.exists(path("curl/no-such-dir")), "missing parent created silently")

    def test_ftp_create_dirs(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "nested.bin")
            with open(src, "wb") as f:
                f.write(RANDOM[8193])
            curl_ok(self, "--ftp-create-dirs", "-T", src, url("curl/new/nested/deep/nested.bin"))
        self.assertTrue(os.path.isdir(path("curl/new/nested/deep")))
        self.assertEqual(read("curl/new/nested/deep/nested.bin"), RANDOM[8193])

    def test_ftp_method_singlecwd_and_nocwd(self):
        # curl's other --ftp-method variants: "CWD a/b" in one command (MKD of the whole
        # path when it is missing, hence one new level only), or a full path given to STOR.
        os.makedirs(path("curl/methods/existing dir"), exist_ok=True)
        for method, target, create in (("singlecwd", "curl/methods/new%20one/f.txt", True),
                                       ("singlecwd", "curl/methods/existing%20dir/s.txt", False),
                                       ("nocwd", "curl/methods/existing%20dir/n.txt", False)):
            with self.subTest(method=method, target=target):
                body = target.encode()
                r = curl("--ftp-method", method, *(["--ftp-create-dirs"] if create else []), "-T", "-",
                         url(target), stdin=body)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(read(target.replace("%20", " ")), body)
                r = curl("--ftp-method", method, url(target))
                self.assertEqual((r.returncode, r.stdout), (0, body), r.stderr)

    def test_listing(self):
        put("curl/list/alpha.txt", b"a")
        put("curl/list/beta file.bin", b"bb")
        os.makedirs(path("curl/list/gamma"), exist_ok=True)
        r = curl_ok(self, url("curl/list/"))
        lines = r.stdout.decode().splitlines()
        self.assertEqual(len(lines), 3, lines)
        by_name = {}
        for line in lines:
            self.assertRegex(line, r"^[-d][rwx-]{9}\s+\d+\s+\S+\s+\S+\s+\d+\s+\w{3}\s+\d{1,2}\s+(\d{1,2}:\d{2}|\d{4})\s+")
            for name in ("alpha.txt", "beta file.bin", "gamma"):
                if line.endswith(" " + name):
                    by_name[name] = line
        self.assertEqual(set(by_name), {"alpha.txt", "beta file.bin", "gamma"}, lines)
        self.assertTrue(by_name["gamma"].startswith("d"))
        self.assertTrue(by_name["alpha.txt"].startswith("-"))
        # sorted by name
        self.assertEqual([l.split()[-1] for l in lines], ["alpha.txt", "file.bin", "gamma"])

    def test_names_only_listing(self):
        put("curl/nlst/one.txt", b"1")
        put("curl/nlst/two.txt", b"2")
        r = curl_ok(self, "-l", url("curl/nlst/"))
        names = sorted(os.path.basename(n) for n in r.stdout.decode().splitlines())
        self.assertEqual(names, ["one.txt", "two.txt"])

    def test_anonymous_download(self):
        put("pub/anon.bin", RANDOM[8193])
        r = curl_ok(self, url("pub/anon.bin", user=False))
        self.assertEqual(r.stdout, RANDOM[8193])

    def test_anonymous_upload_refused(self):
        r = curl("-T", "-", url("anon-upload.txt", user=False), stdin=b"nope")
        self.assertNotEqual(r.returncode, 0, "anonymous upload must be refused")
        self.assertFalse(os.path.exists(path("anon-upload.txt")))

    def test_wrong_password_is_login_denied(self):
        put("curl/secret.txt", b"s")
        r = curl("--user", f"{USER}:wrong", f"ftp://{HOST}:{RUN.server.port}/curl/secret.txt")
        self.assertEqual(r.returncode, 67, f"expected CURLE_LOGIN_DENIED (67): {r.stderr!r}")
        self.assertEqual(r.stdout, b"")

    def test_passive_variants(self):
        put("curl/pasv.bin", RANDOM[8193])
        for flags in (["--ftp-pasv"], ["--disable-epsv"], ["--ftp-pasv", "--disable-epsv", "--ftp-skip-pasv-ip"]):
            with self.subTest(flags=flags):
                r = curl_ok(self, *flags, url("curl/pasv.bin"))
                self.assertEqual(r.stdout, RANDOM[8193])

    def test_disable_epsv_really_sends_pasv(self):
        put("curl/pasv2.txt", b"x")
        r = curl_ok(self, "-v", "--disable-epsv", url("curl/pasv2.txt"))
        err = r.stderr.decode(errors="replace")
        self.assertIn("> PASV", err)
        self.assertNotIn("> EPSV", err)
        self.assertIn("< 227 ", err)

    def test_quote_commands(self):
        put("curl/q/victim.txt", b"v")
        put("curl/q/from.txt", b"f")
        # curl sends -Q commands right after login, before its CWD into the URL's
        # directory; "-CMD" ones after the transfer. Absolute paths work for both.
        curl_ok(self, "-o", os.devnull, "-Q", "DELE /curl/q/victim.txt", "-Q", "-RNFR /curl/q/from.txt",
                "-Q", "-RNTO /curl/q/to.txt", url("curl/q/"))
        self.assertFalse(os.path.exists(path("curl/q/victim.txt")))
        self.assertFalse(os.path.exists(path("curl/q/from.txt")))
        self.assertEqual(read("curl/q/to.txt"), b"f")
        # A failing quote command is CURLE_QUOTE_ERROR (21).
        r = curl("-o", os.devnull, "-Q", "DELE no-such-file", url("curl/q/"))
        self.assertEqual(r.returncode, 21, r.stderr)

    def test_range_download(self):
        # curl -r sends REST N; with an end it closes the data connection early and sends ABOR
        # while the server may still be sending (3 MiB), then expects the session to go on.
        data = RANDOM[BIG]
        put("curl/range.bin", data)
        for rng, want in (("100-", data[100:]), ("100-199", data[100:200]), ("0-0", data[:1]), ("-500", data[-500:]),
                          (f"{BIG - 10}-", data[-10:]), ("1000000-1065535", data[1000000:1065536])):
            with self.subTest(range=rng):
                r = curl("-r", rng, url("curl/range.bin"))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertTrue(r.stdout == want, f"{len(r.stdout)} bytes, {len(want)} expected")



    def test_continue_at_resumes_a_download(self):
        data = random.Random(10).randbytes(600 * 1024 + 3)
        put("curl/resume/down.bin", data)
        with tempfile.TemporaryDirectory(dir=RUN.client_home) as tmp:
            out = os.path.join(tmp, "down.bin")
            with open(out, "wb") as f:
                f.write(data[:250000])
            r = curl_ok(self, "-v", "-C", "-", "-o", out, url("curl/resume/down.bin"))
            with open(out, "rb") as f:
                self.assertTrue(f.read() == data, "resumed download differs")
        err = r.stderr.decode(errors="replace")
        self.assertIn("> REST 250000", err)
        self.assertIn("< 350 Restarting at 250000", err)

    def test_continue_at_resumes_an_upload(self):
        # curl -T -C - asks SIZE, then sends the rest of the file with APPE (curl 7.88).
        data = random.Random(11).randbytes(600 * 1024 + 3)
        put("curl/resume/up.bin", data[:200000])
        with tempfile.TemporaryDirectory(dir=RUN.client_home) as tmp:
            src = os.path.join(tmp, "up.bin")
            with open(src, "wb") as f:
                f.write(data)
            r = curl_ok(self, "-v", "-T", src, "-C", "-", url("curl/resume/up.bin"))
        err = r.stderr.decode(errors="replace")
        self.assertIn("> SIZE up.bin", err)
        self.assertIn("< 213 200000", err)
        self.assertTrue("> APPE up.bin" in err or ("> REST 200000" in err and "> STOR up.bin" in err), err)
        got = read("curl/resume/up.bin")
        self.assertEqual(len(got), len(data))
        self.assertTrue(got == data, "resumed upload differs")

    def test_active_mode_download_and_upload(self):
        # --ftp-port makes curl listen on 127.0.0.1: EPRT first, PORT with --disable-eprt.
        data = random.Random(12).randbytes(512 * 1024 + 9)
        put("curl/active/down.bin", data)
        for flags, verb in (([], "EPRT"), (["--disable-eprt"], "PORT")):
            with self.subTest(verb=verb):
                r = curl_ok(self, "-v", "--ftp-port", HOST, *flags, url("curl/active/down.bin"))
                err = r.stderr.decode(errors="replace")
                self.assertTrue(r.stdout == data, "active download differs")
                self.assertRegex(err, rf"> {verb} [^\n]*\n(\* [^\n]*\n)*< 200 ")
                self.assertNotIn("> EPSV", err)
                self.assertNotIn("> PASV", err)
                r = curl("-v", "--ftp-port", HOST, *flags, "-T", "-", url(f"curl/active/up-{verb}.bin"), stdin=data)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertRegex(r.stderr.decode(errors="replace"), rf"> {verb} [^\n]*\n(\* [^\n]*\n)*< 200 ")
                self.assertTrue(read(f"curl/active/up-{verb}.bin") == data, "active upload differs")

    def test_quote_mkd_before_and_dele_after(self):
        put("curl/quote2/file.bin", RANDOM[8193])
        r = curl_ok(self, "-Q", "MKD /curl/quote2/newdir", "-Q", "-DELE /curl/quote2/file.bin",
                    url("curl/quote2/file.bin"))
        self.assertEqual(r.stdout, RANDOM[8193], "the file is read before the post-quote deletes it")
        self.assertTrue(os.path.isdir(path("curl/quote2/newdir")))
        self.assertFalse(os.path.exists(path("curl/quote2/file.bin")))
        # "*" before a command: its failure is ignored
        r = curl_ok(self, "-l", "-Q", "*MKD /curl/quote2/newdir", url("curl/quote2/"))
        self.assertEqual(r.stdout.decode().split(), ["newdir"])

    def test_names_only_listing_is_bare_names(self):
        for rel in ("curl/names/plain.txt", "curl/names/with space.bin", "curl/names/semi;colon"):
            put(rel, b"n")
        os.makedirs(path("curl/names/sub dir"), exist_ok=True)
        r = curl_ok(self, "-l", url("curl/names/"))
        self.assertEqual(sorted(r.stdout.decode().splitlines()),
                         ["plain.txt", "semi;colon", "sub dir", "with space.bin"])
