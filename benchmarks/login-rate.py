#!/usr/bin/env python3
"""Login rate and PASS round trip of an FTP server, from N concurrent clients.

    benchmarks/login-rate.py --port P --user U --pass W [--clients 16] [--seconds 10]

Each client loops until the time is up: connect, read the 220 greeting, USER, PASS
(timed: from sending PASS to its reply), QUIT, close. With a wrong --pass every PASS
is a failed login, and its round trip is the failed-login delay a client sees (the
server's hash plus its failure delay). Prints logins per second (replies 230, or 530 for
failures) and the PASS round trip (p50, p90, max, in ms), then one line
`RESULT key=value ...`. Loopback only; every socket wait is bounded (--timeout).
Standard library only.
"""

import argparse
import socket
import threading
import time


def read_reply(f):
    line = f.readline()
    if not line:
        raise EOFError("connection closed")
    text = line.decode("utf-8", "replace").rstrip("\r\n")
    if len(text) > 3 and text[3] == "-":  # multi-line: up to "ddd "
        while True:
            more = f.readline()
            if not more:
                raise EOFError("connection closed in a multi-line reply")
            if more.decode("utf-8", "replace").startswith(text[:3] + " "):
                break
    return int(text[:3]), text


def client(args, deadline, out, lock):
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((args.host, args.port), timeout=args.timeout) as s:
                f = s.makefile("rb")
                code, _ = read_reply(f)
                if code != 220:
                    raise RuntimeError(f"greeting {code}")
                s.sendall(f"USER {args.user}\r\n".encode())
                code, _ = read_reply(f)
                if code != 331:
                    raise RuntimeError(f"USER {code}")
                t0 = time.monotonic()
                s.sendall(f"PASS {args.password}\r\n".encode())
                code, text = read_reply(f)
                took = time.monotonic() - t0
                try:
                    s.sendall(b"QUIT\r\n")
                    read_reply(f)
                except (OSError, EOFError):
                    pass
                with lock:
                    out.setdefault(code, []).append(took)
                    out.setdefault("text", set()).add(text)
        except (OSError, EOFError, RuntimeError, ValueError) as e:
            with lock:
                out.setdefault("errors", []).append(repr(e))


def pct(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--pass", dest="password", required=True)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--timeout", type=float, default=30, help="bound on every socket wait (s)")
    args = ap.parse_args()
    if not args.host.startswith("127.") and args.host != "::1":
        ap.error("--host must be a loopback address")

    out, lock = {}, threading.Lock()
    start = time.monotonic()
    deadline = start + args.seconds
    threads = [threading.Thread(target=client, args=(args, deadline, out, lock), daemon=True)
               for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=args.seconds + 2 * args.timeout + 5)
    elapsed = time.monotonic() - start

    ok = sorted(out.get(230, []))
    failed = sorted(out.get(530, []))
    errors = out.get("errors", [])
    rtt = ok or failed
    print(f"{args.clients} clients, {elapsed:.1f} s: {len(ok)} logins (230), {len(failed)} refused (530), "
          f"{len(errors)} errors")
    print(f"rate: {len(ok) / elapsed:.1f} logins/s, {len(failed) / elapsed:.1f} refusals/s")
    ms = lambda v: f"{v * 1000:.0f}"
    print(f"PASS round trip ms: p50 {ms(pct(rtt, 50))}, p90 {ms(pct(rtt, 90))}, max {ms(max(rtt) if rtt else 0)}")
    print(f"reply texts: {sorted(out.get('text', set()))}")
    if errors:
        print(f"first errors: {errors[:3]}")
    print(f"RESULT clients={args.clients} seconds={elapsed:.2f} ok={len(ok)} refused={len(failed)} "
          f"errors={len(errors)} ok_per_s={len(ok) / elapsed:.2f} refused_per_s={len(failed) / elapsed:.2f} "
          f"pass_p50_ms={ms(pct(rtt, 50))} pass_p90_ms={ms(pct(rtt, 90))} pass_max_ms={ms(max(rtt) if rtt else 0)}")


if __name__ == "__main__":
    main()
