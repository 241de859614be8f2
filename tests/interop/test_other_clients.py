"""Interop: GNU wget, NetBSD's ftp (tnftp) and ncftpls against the shared server."""

import os
import random
import re
import shutil
import tempfile
import unittest

from harness import (HOST, NCFTPLS, PASSWORD, RUN, TNFTP, USER, WGET, assert_same_files, make_tree, path, put,
                     read, read_tree, run_client, tree_dirs)


@unittest.skipIf(WGET is None, "wget not installed")
class WgetTests(unittest.TestCase):
    """GNU wget, FTP URLs."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="wget-", dir=RUN.client_home)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def wget(self, *args):
        return run_client([WGET, "--tries=1", "--timeout=10", "--no-proxy", *args])

    def test_recursive_download_byte_for_byte(self):
        files = make_tree(path("wget/tree"), seed=3, empty_dir=False)
        dest = os.path.join(self.tmp, "dest")
        r = self.wget("-r", "-l", "inf", "-nH", "-P", dest, "--no-verbose",
                      f"ftp://{USER}:{PASSWORD}@{HOST}:{RUN.server.port}/wget/tree/")
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace")[-3000:])
        got, _ = read_tree(os.path.join(dest, "wget", "tree"))
        listings = [rel for rel in got if os.path.basename(rel) == ".listing"]
        self.assertEqual(listings, [], "wget removes its .listing files unless --no-remove-listing")
        assert_same_files(self, files, got, "wget -r of /wget/tree/")

    def test_active_mode_download(self):
        data = random.Random(15).randbytes(300 * 1024 + 11)
        put("wget/active.bin", data)
        out = os.path.join(self.tmp, "active.bin")
        r = self.wget("-d", "--no-passive-ftp", "-O", out,
                      f"ftp://{USER}:{PASSWORD}@{HOST}:{RUN.server.port}/wget/active.bin")
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 0, err[-3000:])
        self.assertRegex(err, r"--> (PORT|EPRT) [^\n]*\n+200 ")
        self.assertNotRegex(err, r"--> (PASV|EPSV)")
        with open(out, "rb") as f:
            self.assertTrue(f.read() == data, "active download differs")

    def test_continue_partial_download(self):
        data = random.Random(7).randbytes(400 * 1024 + 5)
        put("wget/resume.bin", data)
        out = os.path.join(self.tmp, "resume.bin")
        with open(out, "wb") as f:
            f.write(data[:123456])
        r = self.wget("-d", "-c", "-O", out, f"ftp://{USER}:{PASSWORD}@{HOST}:{RUN.server.port}/wget/resume.bin")
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 0, err[-3000:])
        self.assertIn("--> REST 123456", err)
        self.assertRegex(err, r"350 Restarting at 123456")
        with open(out, "rb") as f:
            self.assertTrue(f.read() == data, "continued file differs")


# --------------------------------------------------------------------------------------
@unittest.skipIf(TNFTP is None, "tnftp not installed")
class TnftpTests(unittest.TestCase):
    """NetBSD's ftp (tnftp), driven by a script on stdin. tnftp exits 0 whatever the replies,
    so the files themselves are the verdict."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tnftp-", dir=RUN.client_home)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def tnftp(self, script):
        text = f"user {USER} {PASSWORD}\nbinary\n{script}\nbye\n"
        r = run_client([TNFTP, "-n", "-v", HOST, str(RUN.server.port)], input=text.encode(), cwd=self.tmp)
        out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 0, out)
        return out

    def put_get(self, passive, name):
        data = random.Random(8).randbytes(1024 * 1024 + 17)
        with open(os.path.join(self.tmp, "up.bin"), "wb") as f:
            f.write(data)
        os.makedirs(path("tnftp"), exist_ok=True)
        out = self.tnftp(f'debug 1\npassive {passive}\ncd /tnftp\nput up.bin "{name}"\nget "{name}" back.bin')
        self.assertEqual(read(f"tnftp/{name}"), data, out)
        with open(os.path.join(self.tmp, "back.bin"), "rb") as f:
            self.assertTrue(f.read() == data, f"downloaded file differs:\n{out}")
        self.assertEqual(len(re.findall(r"(?m)^226 ", out)), 2, out)
        return out

    def test_scripted_put_and_get_passive(self):
        out = self.put_get("on", "passive file.bin")
        self.assertRegex(out, r"(?m)^---> EPSV\n229 ", out)  # tnftp tries EPSV first

    def test_scripted_put_and_get_active(self):
        out = self.put_get("off", "active file.bin")
        self.assertRegex(out, r"(?m)^---> (EPRT|PORT) [^\n]*\n200 ", out)
        self.assertNotRegex(out, r"(?m)^---> (EPSV|PASV)", "active mode must not use PASV/EPSV")

    def test_mget_and_mdelete_use_server_globs(self):
        # tnftp sends "NLST *.txt" and lets the server expand the pattern.
        for n in ("a.txt", "b.txt", "c c.txt", "d.bin"):
            put(f"tnftp/glob/{n}", n.encode() * 3)
        os.makedirs(path("tnftp/glob/dir.txt.d"), exist_ok=True)
        out = self.tnftp("debug 1\nprompt off\ncd /tnftp/glob\nmget *.txt\nmdelete *.txt")
        self.assertIn("---> NLST *.txt", out)
        got = sorted(n for n in os.listdir(self.tmp))
        self.assertEqual(got, ["a.txt", "b.txt", "c c.txt"], out)
        for n in got:
            with open(os.path.join(self.tmp, n), "rb") as f:
                self.assertEqual(f.read(), n.encode() * 3)
        self.assertEqual(sorted(os.listdir(path("tnftp/glob"))), ["d.bin", "dir.txt.d"], out)

    def test_mget_paths_in_a_subdirectory(self):
        # tnftp RETRs the names NLST returns, as they are: for "sub/one.txt" they must still
        # name the file from the current directory (tnftp saves to ./sub/, which must exist).
        for n in ("one.txt", "two.txt"):
            put(f"tnftp/mget/sub/{n}", n.encode())
        os.makedirs(os.path.join(self.tmp, "sub"))
        out = self.tnftp("debug 1\nprompt off\ncd /tnftp/mget\nmget sub/one.txt\nmget sub/t*.txt")
        for n in ("one.txt", "two.txt"):
            with self.subTest(name=n):
                p = os.path.join(self.tmp, "sub", n)
                self.assertTrue(os.path.exists(p), f"sub/{n} not fetched:\n{out}")
                with open(p, "rb") as f:
                    self.assertEqual(f.read(), n.encode())

    def test_reget_resumes(self):
        data = random.Random(9).randbytes(500 * 1024)
        put("tnftp/reget.bin", data)
        with open(os.path.join(self.tmp, "reget.bin"), "wb") as f:
            f.write(data[:77777])
        out = self.tnftp("reget /tnftp/reget.bin reget.bin")
        self.assertRegex(out, r"(?m)^350 Restarting at 77777", out)
        with open(os.path.join(self.tmp, "reget.bin"), "rb") as f:
            self.assertTrue(f.read() == data, f"resumed file differs:\n{out}")


@unittest.skipIf(NCFTPLS is None, "ncftpls not found")
class NcftplsTests(unittest.TestCase):
    """Issue #19: ncftpls -g sends "LIST -R" and turns the `ls -lR` form into one path per
    line, as find(1) prints: every file and directory of the tree."""

    def test_recursive_listing(self):
        files = make_tree(path("ncftp-tree"), seed=1921, count=60)
        expected = set(files) | tree_dirs(files)  # as find prints them: relative, every level
        r = run_client([NCFTPLS, "-u", USER, "-p", PASSWORD, "-P", str(RUN.server.port), "-t", "20", "-g",
                        f"ftp://{HOST}/ncftp-tree/"])
        self.assertEqual(r.returncode, 0, r.stderr.decode("utf-8", "replace"))
        got = {line for line in r.stdout.decode("utf-8", "replace").splitlines() if line}
        self.assertEqual(got, expected)
