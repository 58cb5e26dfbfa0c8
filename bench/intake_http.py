#!/usr/bin/env python3
"""End-to-end intake: HTTP batches of Suricata EVE alerts -> parsed, deduplicated,
correlated into incidents and committed, measured as alerts/s on a release `muster serve`.

Usage: cargo build --release -p muster && python3 bench/intake_http.py [--alerts 200000] [--batch 5000] [--clients 2]
       [--high-every 1000] [--database-url postgres://...] [--uniform]
       (BENCH_LOG=server.log keeps the server's log, BENCH_KEEP=dir a copy of its data folder,
       BENCH_BIN=path another build to measure; with RUST_LOG=muster_server::api::alerts=debug it
       times each batch's parse and commit.)

Every alert is distinct (its signature id varies), so each one is a new stored row:
the worst case for the store. Time, flow id, destination address and port and byte
counts vary as in a sensor's stream (seeded: every run sends the same alerts);
`--uniform` varies the signature id only, which flatters compression. Every alert shares the sample's attacker address,
domain and CVE; every `--high-every`-th one is of high severity, so the first
opens an incident and all others are correlated into it (a link with its reason
per alert) with the default correlation settings.
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BENCH_BIN") or os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "muster")
SAMPLE = os.path.join(ROOT, "..", "shared", "data", "samples", "suricata-eve", "elastic-beats", "eve-metadata.log")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args, env, stdin=None):
    return subprocess.run([BIN, *args], capture_output=True, text=True, check=True, env=env, input=stdin).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--alerts", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=5_000)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--high-every", type=int, default=1000)
    ap.add_argument("--database-url")
    ap.add_argument("--uniform", action="store_true",
                    help="alerts differ only in their signature id (sessions 1-4 measured this way)")
    args = ap.parse_args()
    template = open(SAMPLE).readline().strip()
    assert '"signature_id":' in template
    work = tempfile.mkdtemp(prefix="muster-intake-bench-")
    env = dict(os.environ)
    env.pop("MUSTER_DATABASE_URL", None)
    if args.database_url:
        env["MUSTER_DATABASE_URL"] = args.database_url
    data = os.path.join(work, "data")
    try:
        run(["org", "add", "bench", "--name", "Bench", "--kind", "other", "--data", data], env)
        run(["user", "add", "bench", "--org", "bench", "--role", "analyst", "--password-stdin", "--data", data], env,
            stdin="bench password 123")
        token = run(["token", "create", "--user", "bench", "--data", data], env).strip()
        port = free_port()
        server = subprocess.Popen([BIN, "serve", "--data", data, "--listen", f"127.0.0.1:{port}"], env=env,
                                  stdout=subprocess.PIPE, text=True,
                                  stderr=open(os.environ["BENCH_LOG"], "w") if os.environ.get("BENCH_LOG") else subprocess.DEVNULL)
        while not server.stdout.readline().startswith("Muster is ready"):
            pass
        batches = []
        n = 0
        rng = random.Random(7)

        def alert(k):
            line = template.replace('"signature_id":', f'"signature_id":{k + 1000000}', 1)
            if args.uniform:
                return line
            # One attacker against many internal hosts over ~20 minutes: what a
            # sensor's stream looks like, so compression sees realistic variety.
            sec, usec = divmod(k * 6000 + rng.randrange(6000), 1_000_000)
            t = 3600 + 28 * 60 + 11 + sec
            return (line.replace("01:28:11.488362", f"{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}.{usec:06d}", 1)
                    .replace("1805461738637437", str(rng.randrange(10**15, 10**16)), 1)
                    .replace("10.31.64.240", f"10.31.{rng.randrange(256)}.{rng.randrange(1, 255)}", 1)
                    .replace('"dest_port":47592', f'"dest_port":{rng.randrange(1024, 65536)}', 1)
                    .replace('"bytes_toserver":496,"bytes_toclient":876',
                             f'"bytes_toserver":{rng.randrange(60, 9000)},"bytes_toclient":{rng.randrange(60, 90000)}', 1))

        while n < args.alerts:
            size = min(args.batch, args.alerts - n)
            lines = [alert(n + i) for i in range(size)]
            if args.high_every:
                lines = [l.replace('"severity":2', '"severity":1', 1) if (n + i) % args.high_every == 0 else l
                         for i, l in enumerate(lines)]
            batches.append(("\n".join(lines)).encode())
            n += size

        def send(body):
            while True:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                c.request("POST", "/api/v1/alerts?format=eve", body=body,
                          headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"})
                r = c.getresponse()
                payload = r.read()
                if r.status == 503:
                    time.sleep(float(r.getheader("Retry-After", "1")) / 10)
                    continue
                assert r.status == 200, (r.status, payload[:300])
                return json.loads(payload)

        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
            results = list(pool.map(send, batches))
        elapsed = time.perf_counter() - t0
        created = sum(r["created"] for r in results)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        c.request("GET", "/api/v1/incidents", headers={"Authorization": f"Bearer {token}"})
        incidents = json.loads(c.getresponse().read())["items"]
        linked = 0
        for inc in incidents:
            c.request("GET", f"/api/v1/incidents/{inc['id']}", headers={"Authorization": f"Bearer {token}"})
            linked += len(json.loads(c.getresponse().read())["alert_ids"])
        rejected = sum(len(r["rejected"]) for r in results)
        # The server's CPU time (user + system, all threads) over its whole life: a figure
        # that moves less than wall-clock throughput when other work shares the machine.
        with open(f"/proc/{server.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        # Bytes the server had written to storage (WAL, checkpoints into the database).
        with open(f"/proc/{server.pid}/io") as f:
            written = int(next(l for l in f if l.startswith("write_bytes:")).split()[1])
        server.terminate()
        server.wait()
        if os.environ.get("BENCH_KEEP"):
            shutil.copytree(data, os.environ["BENCH_KEEP"], dirs_exist_ok=True)
        stored = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(data) for f in fs)
        backend = "PostgreSQL" if args.database_url else "SQLite"
        print(f"| {backend} | {args.alerts:,} alerts in {len(batches)} batches of {args.batch:,}, {args.clients} clients "
              f"| {elapsed:.2f} s | **{args.alerts / elapsed:,.0f} alerts/s** | created {created:,}, rejected {rejected}, "
              f"{len(incidents)} incident(s) with {linked:,} linked alerts, store {stored / args.alerts:,.0f} bytes/alert, "
              f"server CPU {cpu * 1e6 / args.alerts:.1f} µs/alert, written {written / args.alerts:,.0f} bytes/alert |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
