#!/usr/bin/env python3
"""Interop tests: real FTP clients (curl, lftp, wget, tnftp, Python's ftplib) against the example server.

    python3 tests/interop/test_clients.py build/examples/coftp-server [SCRATCH_DIR]
    COFTP_INTEROP_ONLY=Lftp,test_mlsd python3 tests/interop/test_clients.py ...   # a subset
    python3 tests/interop/test_clients.py build/examples/coftp-server -k Tls      # the same, -k repeatable

Starts the built example server on 127.0.0.1 with an ephemeral port, a fresh
temporary --root, a read-write user alice:secret and anonymous read-only access,
runs the tests, then stops the server with SIGTERM and checks that it exits
with status 0 (graceful stop). Standard library only (unittest, subprocess,
ftplib). Every wait is bounded. The clients run with HOME set to an empty
scratch directory, so no ~/.curlrc, ~/.netrc, ~/.wgetrc or lftp rc changes
what they do. A missing client skips its tests loudly; the README's test
command (.ci/deps) installs them all. The FTPS tests (Tls*) start servers of
their own with the certificate and key named by COFTP_TEST_CERT and
COFTP_TEST_KEY (meson passes the throw-away pair it makes at build time);
without them they are skipped, loudly. The last line printed is

    interop: N passed, N failed, N skipped

This file is the runner: the tests are in the test_*.py modules beside it, one per client
or concern, and what they share in harness.py (the Server class, the clients, and RUN:
the shared server, the binary and the clients' HOME, which main() sets). A -k or
COFTP_INTEROP_ONLY pattern is looked for in a test's CLASS.METHOD, not in its module's
name: -k Curl selects CurlTests and the test_curl_* methods of other classes.
"""

import importlib
import os
import shutil
import sys
import tempfile
import time
import unittest

# The modules beside this file, wherever it is run from (meson runs it from the build
# directory), also under python3 -I or -P, which leave the script's directory off the path.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from harness import HOST, NO_TLS, RUN, TLS_CERT, Server
from test_config import ConfigFileTests, ReloadTests
from test_curl import CurlTests
from test_ftplib import FtplibTests
from test_lftp import LftpTests
from test_other_clients import NcftplsTests, TnftpTests, WgetTests
from test_raw import RawClientTests, RawProtocolTests
from test_robustness import (AbuseDefenceTests, CwdPermissionTests, DescriptorLimitTests, DiskFullTests,
                             FailedAppendTests, KilledClientTests, KilledUploadTests, ServerSurvivalTests,
                             ShutdownTest, ShutdownUnderLoadTests)
from test_server_options import (LogTests, NoActiveServerTests, PasswdServerTests, PrivilegeTests,
                                 ProxyProtocolTests, VirtualHostTests)
from test_systemd import SystemdNotifyTests, SystemdSocketActivationTests
from test_tls import (RcloneTests, TlsDetectTests, TlsExplicitTests, TlsFeatWithoutCertificateTests,
                      TlsNoSessionReuseTests, TlsRequiredTests, TlsShutdownTests, TlsStrictCloseTests)

# In the order they run: ShutdownTest last, as it stops the shared server.
CASES = (CurlTests, FtplibTests, LftpTests, WgetTests, TnftpTests, RawClientTests, RawProtocolTests,
         NoActiveServerTests, TlsFeatWithoutCertificateTests, TlsExplicitTests, TlsStrictCloseTests, TlsNoSessionReuseTests,
         TlsRequiredTests, TlsDetectTests, TlsShutdownTests, RcloneTests, NcftplsTests, PrivilegeTests, LogTests,
         AbuseDefenceTests, PasswdServerTests, VirtualHostTests, ProxyProtocolTests, DescriptorLimitTests,
         FailedAppendTests, KilledUploadTests, DiskFullTests, CwdPermissionTests,
         SystemdSocketActivationTests, SystemdNotifyTests, ConfigFileTests, ReloadTests,
         ServerSurvivalTests, KilledClientTests, ShutdownUnderLoadTests, ShutdownTest)


def unlisted_cases():
    """The TestCase classes of the test_*.py modules beside this file that CASES leaves out
    (and so would never run)."""
    missing = []
    for name in sorted(os.listdir(HERE)):
        if not (name.startswith("test_") and name.endswith(".py")) or name == os.path.basename(__file__):
            continue
        module = importlib.import_module(name[:-3])
        missing += [f"{module.__name__}.{n}" for n, c in vars(module).items()
                    if isinstance(c, type) and issubclass(c, unittest.TestCase)
                    and c.__module__ == module.__name__ and c not in CASES]
    return missing


def main(argv):
    patterns = []  # -k PATTERN (repeatable): tests whose CLASS.METHOD holds one, as COFTP_INTEROP_ONLY
    while "-k" in argv[:-1]:
        i = argv.index("-k")
        patterns.append(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        print("interop: 0 passed, 1 failed", flush=True)
        return 2
    unlisted = unlisted_cases()
    if unlisted:
        print(f"test cases missing from CASES in {os.path.basename(__file__)}: {', '.join(unlisted)}", flush=True)
        print("interop: 0 passed, 1 failed", flush=True)
        return 2
    binary = os.path.abspath(argv[1])
    RUN.binary = binary
    scratch_parent = argv[2] if len(argv) > 2 else None
    if scratch_parent:
        os.makedirs(scratch_parent, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="coftp-interop-", dir=scratch_parent)
    root = os.path.join(scratch, "root")
    os.makedirs(root)
    RUN.client_home = os.path.join(scratch, "home")
    os.makedirs(RUN.client_home)
    started = time.monotonic()
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for case in CASES:
        suite.addTests(loader.loadTestsFromTestCase(case))
    only = os.environ.get("COFTP_INTEROP_ONLY")  # e.g. "Lftp,test_mlsd": tests whose CLASS.METHOD holds one
    if only:
        patterns += only.split(",")
    if patterns:
        suite = unittest.TestSuite(t for t in suite if any(k in t.id().partition(".")[2] for k in patterns))
    try:
        try:
            RUN.server = Server(binary, root)
        except (RuntimeError, OSError) as e:
            print(f"cannot start the server: {e}", flush=True)
            print(f"interop: 0 passed, {suite.countTestCases()} failed", flush=True)
            return 1
        print(f"server {binary} on {HOST}:{RUN.server.port}, root {root}", flush=True)
        result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
    finally:
        if RUN.server is not None and RUN.server.alive():
            rc, _, killed = RUN.server.stop()
            print(f"server stopped (status {rc}{', killed' if killed else ''})", flush=True)
        shutil.rmtree(scratch, ignore_errors=True)

    def method_id(test):
        return getattr(test, "test_case", test).id()  # subtests count once, for their method

    bad = {method_id(t) for t, _ in result.failures + result.errors}
    bad |= {method_id(t) for t in result.unexpectedSuccesses}
    skipped = {method_id(t) for t, _ in result.skipped} - bad
    run = result.testsRun
    failed = len(bad)
    passed = run - failed - len(skipped)
    sys.stderr.flush()
    print(f"runtime {time.monotonic() - started:.1f} s", flush=True)
    tls_skipped = sorted(t for t in skipped if ".Tls" in t and TLS_CERT is None)
    if tls_skipped:
        print(f"!!! {len(tls_skipped)} FTPS tests SKIPPED: {NO_TLS}", flush=True)
    summary = f"interop: {passed} passed, {failed} failed"
    if skipped:
        summary += f", {len(skipped)} skipped"
    print(summary, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
