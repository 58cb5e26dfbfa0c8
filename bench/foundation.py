#!/usr/bin/env python3
"""Foundation benchmarks: start-up time to /readyz (empty and demo store), idle RSS,
and requests/s of an authenticated GET list route under wrk.

Usage: cargo build --release -p muster && python3 bench/foundation.py [--runs 10] [--wrk-seconds 10]
Needs wrk (apt-get install wrk). Prints a Markdown table for docs/benchmarks.md.
"""
import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "muster")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ready(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=0.2)
        c.request("GET", "/readyz")
        return c.getresponse().status == 200
    except OSError:
        return False


def start(data, extra=()):
    port = free_port()
    t0 = time.perf_counter()
    p = subprocess.Popen([BIN, "serve", "--data", data, "--listen", f"127.0.0.1:{port}", *extra],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not ready(port):
        if p.poll() is not None:
            sys.exit(f"server exited with {p.returncode}")
        time.sleep(0.002)
    return p, port, time.perf_counter() - t0


def stop(p):
    p.terminate()
    p.wait()


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--wrk-seconds", type=int, default=10)
    args = ap.parse_args()
    if not os.path.exists(BIN):
        sys.exit("build first: cargo build --release -p muster")
    work = tempfile.mkdtemp(prefix="muster-bench-")
    try:
        empty, demo_restart = [], []
        for i in range(args.runs):
            d = os.path.join(work, f"empty{i}")
            p, _, t = start(d)  # fresh directory: creates the store, migrates, creates the admin
            empty.append(t)
            stop(p)
        demo = os.path.join(work, "demo")
        p, _, _ = start(demo, ["--demo"])
        stop(p)
        for _ in range(args.runs):
            p, port, t = start(demo)
            demo_restart.append(t)
            stop(p)
        p, port, _ = start(demo)
        time.sleep(2)
        idle = rss_mb(p.pid)
        token = subprocess.run([BIN, "token", "create", "--data", demo, "--user", "alice", "--name", "bench"],
                               capture_output=True, text=True, check=True).stdout.strip()
        wrk = shutil.which("wrk")
        rps_line = "wrk not installed"
        if wrk:
            out = subprocess.run([wrk, "-t2", "-c32", f"-d{args.wrk_seconds}s", "--latency",
                                  "-H", f"Authorization: Bearer {token}",
                                  f"http://127.0.0.1:{port}/api/v1/organisations"],
                                 capture_output=True, text=True, check=True).stdout
            rps = [l for l in out.splitlines() if l.startswith("Requests/sec")][0].split()[1]
            p99 = [l for l in out.splitlines() if l.strip().startswith("99%")]
            rps_line = f"{rps} req/s (p99 {p99[0].split()[1] if p99 else '?'})"
        loaded = rss_mb(p.pid)
        stop(p)
        ms = lambda xs: f"median {statistics.median(xs)*1000:.0f} ms, max {max(xs)*1000:.0f} ms"
        print("| measure | result |")
        print("|---|---|")
        print(f"| start-up to /readyz, empty store (creates store + admin), {args.runs} runs | {ms(empty)} |")
        print(f"| start-up to /readyz, demo store (restart), {args.runs} runs | {ms(demo_restart)} |")
        print(f"| idle RSS after start (demo store) | {idle:.1f} MB |")
        print(f"| GET /api/v1/organisations, bearer token, wrk -t2 -c32 -d{args.wrk_seconds}s | {rps_line} |")
        print(f"| RSS after the load | {loaded:.1f} MB |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
