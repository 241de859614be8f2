"""Interop: lftp (mirror both ways, pget, resumes, active mode) against the shared server."""

import os
import random
import re
import shutil
import tempfile
import time
import unittest

from harness import (LFTP, RUN, answered, assert_same_files, lftp, lftp_ok, make_tree, path, put, read,
                     read_tree, transcript, tree_dirs)


@unittest.skipIf(LFTP is None, "lftp not installed")
class LftpTests(unittest.TestCase):
    """lftp, non-interactive (lftp -c), every run bounded."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="lftp-", dir=RUN.client_home)
        self.log = os.path.join(self.tmp, "debug.log")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_mirror_download_nested_tree_byte_for_byte(self):
        files = make_tree(path("lftp/down"), seed=1)
        local = os.path.join(self.tmp, "mirror")
        lftp_ok(self, f'mirror "/lftp/down" "{local}"', self.log)
        got, dirs = read_tree(local)
        assert_same_files(self, files, got, "lftp mirror /lftp/down")
        self.assertEqual(dirs, tree_dirs(files), "directories, the empty one included")

    def test_mirror_reverse_upload_nested_tree_byte_for_byte(self):
        src = os.path.join(self.tmp, "src")
        files = make_tree(src, seed=2)
        lftp_ok(self, f'mirror -R "{src}" "/lftp/up"', self.log)
        got, dirs = read_tree(path("lftp/up"))
        # nothing else either: no temporary upload files left behind
        assert_same_files(self, files, got, "lftp mirror -R into /lftp/up")
        self.assertEqual(dirs, tree_dirs(files), "directories, the empty one included")

    def test_mirror_parallel_both_ways_over_list_and_mlsd(self):
        # Four sessions at once, and lftp's two listing parsers: MLSD (used as FEAT lists
        # MLST) and "ls -l" LIST lines (names with spaces, sizes, dates); then all of it in
        # active mode, the server connecting to lftp for every listing and file.
        src = os.path.join(self.tmp, "src")
        files = make_tree(src, seed=19, count=80)
        for use_mlsd, passive in (("yes", "on"), ("no", "on"), ("yes", "off")):
            with self.subTest(mlsd=use_mlsd, passive=passive):
                remote = f"/lftp/parallel-{use_mlsd}-{passive}"
                back = os.path.join(self.tmp, f"back-{use_mlsd}-{passive}")
                os.remove(self.log) if os.path.exists(self.log) else None
                lftp_ok(self, f'set ftp:use-mlsd {use_mlsd}; set ftp:passive-mode {passive}; '
                              f'mirror -R --parallel=4 "{src}" "{remote}"; mirror --parallel=4 "{remote}" "{back}"',
                        self.log)
                got, dirs = read_tree(path(remote.lstrip("/")))
                assert_same_files(self, files, got, f"mirror -R --parallel=4 (use-mlsd {use_mlsd})")
                got, dirs = read_tree(back)
                assert_same_files(self, files, got, f"mirror --parallel=4 (use-mlsd {use_mlsd})")
                self.assertEqual(dirs, tree_dirs(files))
                listing = "MLSD" if use_mlsd == "yes" else "LIST"
                log = transcript(self.log)
                self.assertRegex(log, rf"---> {listing}\b")
                if passive == "off":
                    self.assertRegex(log, answered(r"(PORT|EPRT) [^\n]*", 200))
                    self.assertNotRegex(log, r"---> (PASV|EPSV)")

    def test_anonymous_mirror_and_refused_put(self):
        files = make_tree(path("pub/lftp-anon"), seed=20, count=20, empty_dir=False)
        local = os.path.join(self.tmp, "anon")
        r = lftp(f'mirror "/pub/lftp-anon" "{local}"', self.log, user=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        assert_same_files(self, files, read_tree(local)[0], "anonymous mirror")
        evil = os.path.join(self.tmp, "evil")
        with open(evil, "wb") as f:
            f.write(b"evil")
        r = lftp(f'put "{evil}" -o "/pub/lftp-anon/evil"', self.log, user=False)
        self.assertNotEqual(r.returncode, 0, "anonymous put must fail")
        self.assertRegex(transcript(self.log), answered(r"STOR \S*evil", 550))
        self.assertFalse(os.path.exists(path("pub/lftp-anon/evil")))

    def test_mirror_reverse_keeps_modes_and_times(self):
        # lftp sets what it uploaded with "SITE CHMOD" and, as FEAT lists MFMT, "MFMT".
        src = os.path.join(self.tmp, "src")
        modes = {"run.sh": 0o755, "private.txt": 0o640, "sub dir/plain.txt": 0o644}
        when = 1577934245  # 2020-01-02 03:04:05 UTC
        for i, (rel, mode) in enumerate(modes.items()):
            p = os.path.join(src, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(rel.encode() * 100)
            os.chmod(p, mode)
            os.utime(p, (when + i * 3600, when + i * 3600))
        lftp_ok(self, f'mirror -R "{src}" "/lftp/modes"', self.log)
        log = transcript(self.log)
        self.assertRegex(log, answered(r"SITE CHMOD 755 \S*run\.sh", 200), "SITE CHMOD answered 200")
        self.assertRegex(log, answered(r"MFMT 20200102030405 \S*run\.sh", 213), "MFMT answered 213")
        for i, (rel, mode) in enumerate(modes.items()):
            with self.subTest(file=rel):
                st = os.stat(path("lftp/modes", rel))
                self.assertEqual(oct(st.st_mode & 0o777), oct(mode))
                self.assertEqual(int(st.st_mtime), when + i * 3600)

    def test_mirror_reverse_again_sends_only_what_changed(self):
        # Incremental sync: lftp compares size and MLSD "modify" with the local files, so the
        # times MFMT set after the first upload must read back exactly.
        src = os.path.join(self.tmp, "src")
        files = make_tree(src, seed=18, count=40)
        lftp_ok(self, f'mirror -R "{src}" "/lftp/sync"', self.log)
        os.remove(self.log)
        lftp_ok(self, f'mirror -R "{src}" "/lftp/sync"', self.log)
        self.assertNotRegex(transcript(self.log), r"---> (STOR|APPE) ", "an unchanged tree was uploaded again")
        changed = "with space/f013.bin"
        self.assertIn(changed, files, sorted(files)[:10])
        with open(os.path.join(src, changed), "ab") as f:
            f.write(b"more")
        later = time.time() + 3600
        os.utime(os.path.join(src, changed), (later, later))
        os.remove(self.log)
        lftp_ok(self, f'mirror -R "{src}" "/lftp/sync"', self.log)
        stored = re.findall(r"---> STOR (.+)\n", transcript(self.log))
        self.assertEqual([os.path.basename(n) for n in stored], ["f013.bin"])
        self.assertEqual(read(f"lftp/sync/{changed}"), files[changed] + b"more")
        # and back down: a second mirror of the same tree fetches nothing
        local = os.path.join(self.tmp, "down")
        lftp_ok(self, f'mirror "/lftp/sync" "{local}"', self.log)
        os.remove(self.log)
        lftp_ok(self, f'mirror "/lftp/sync" "{local}"', self.log)
        self.assertNotIn("---> RETR ", transcript(self.log), "an unchanged tree was downloaded again")

    def test_mirror_download_keeps_modification_times(self):
        files = {"old.txt": b"old", "dir/older.bin": b"older"}
        when = 1262401445  # 2010-01-02 03:04:05 UTC
        for i, (rel, data) in enumerate(files.items()):
            put(f"lftp/times/{rel}", data)
            os.utime(path("lftp/times", rel), (when + i, when + i))
        local = os.path.join(self.tmp, "times")
        lftp_ok(self, f'mirror "/lftp/times" "{local}"', self.log)
        for i, rel in enumerate(files):
            with self.subTest(file=rel):
                self.assertEqual(int(os.stat(os.path.join(local, rel)).st_mtime), when + i)

    def test_get_continue_resumes_a_partial_file(self):
        data = random.Random(5).randbytes(700 * 1024 + 7)
        put("lftp/resume/big file.bin", data)
        local = os.path.join(self.tmp, "big file.bin")
        prefix = 300001
        with open(local, "wb") as f:
            f.write(data[:prefix])
        lftp_ok(self, f'get -c "/lftp/resume/big file.bin" -o "{local}"', self.log)
        with open(local, "rb") as f:
            self.assertTrue(f.read() == data, "resumed file differs from the server's")
        log = transcript(self.log)
        self.assertRegex(log, answered(f"REST {prefix}", 350), f"lftp must resume at {prefix}:\n{log[-1500:]}")
        self.assertNotIn("NOREST", log)

    def test_pget_segments_resume_at_offsets(self):
        # pget -n 4 opens more sessions, each "REST offset" + RETR of one segment of the file,
        # closing its data connection once that segment is in; how many segments lftp starts
        # depends on timing. The rate limit keeps the first transfer running long enough.
        data = random.Random(14).randbytes(4 * 1000 * 1000)
        put("lftp/pget/segments.bin", data)
        local = os.path.join(self.tmp, "segments.bin")
        lftp_ok(self, f'set net:limit-rate 2000000; pget -n 4 "/lftp/pget/segments.bin" -o "{local}"', self.log)
        with open(local, "rb") as f:
            self.assertTrue(f.read() == data, "pget result differs")
        log = transcript(self.log)
        # the sessions' lines interleave in the transcript: match offsets, not neighbours
        rests = sorted(re.findall(r"---> REST (\d+)\n", log))
        self.assertGreaterEqual(len(rests), 1, f"pget did not use REST segments:\n{log[-2000:]}")
        self.assertEqual(sorted(re.findall(r"<--- 350 Restarting at (\d+)\b", log)), rests)

    def test_mv_and_rm(self):
        put("lftp/mvrm/a b.txt", b"moved content")
        put("lftp/mvrm/sub/x.bin", b"x")
        put("lftp/mvrm/sub/deeper/y.txt", b"y")
        put("lftp/mvrm/sub/deeper/more/z.txt", b"z")
        lftp_ok(self, 'cd "/lftp/mvrm"; mv "a b.txt" "c d.txt"; mv "c d.txt" "sub/moved e.txt"; '
                      'rm "sub/x.bin"; rm -r "sub/deeper"', self.log)
        self.assertFalse(os.path.exists(path("lftp/mvrm/a b.txt")))
        self.assertFalse(os.path.exists(path("lftp/mvrm/c d.txt")))
        self.assertEqual(read("lftp/mvrm/sub/moved e.txt"), b"moved content")
        self.assertFalse(os.path.exists(path("lftp/mvrm/sub/x.bin")))
        self.assertFalse(os.path.exists(path("lftp/mvrm/sub/deeper")))
        # Removing a missing file fails, with the server's 550 in the transcript.
        r = lftp('rm "/lftp/mvrm/sub/x.bin"', self.log)
        self.assertNotEqual(r.returncode, 0, "rm of a missing file must fail")
        self.assertRegex(transcript(self.log), answered(r"DELE /?lftp/mvrm/sub/x\.bin", 550))

    def test_active_mode_put_and_get(self):
        data = random.Random(6).randbytes(300 * 1024 + 1)
        src = os.path.join(self.tmp, "up.bin")
        back = os.path.join(self.tmp, "back.bin")
        with open(src, "wb") as f:
            f.write(data)
        os.makedirs(path("lftp/active"), exist_ok=True)
        lftp_ok(self, f'set ftp:passive-mode off; put "{src}" -o "/lftp/active/up one.bin"; '
                      f'get "/lftp/active/up one.bin" -o "{back}"; cls -1 /lftp/active', self.log)
        self.assertEqual(read("lftp/active/up one.bin"), data)
        with open(back, "rb") as f:
            self.assertTrue(f.read() == data, "downloaded file differs")
        log = transcript(self.log)
        self.assertRegex(log, answered(r"(PORT|EPRT) [^\n]*", 200), log[-1500:])
        self.assertNotRegex(log, r"---> (PASV|EPSV)")
