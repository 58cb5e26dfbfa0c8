#!/usr/bin/env python3
"""Benchmark 3 of issue 4: a one-action playbook triggered automatically from a
new incident. Measures, per incident, the time from sending POST /api/v1/incidents
(the incident is committed before that request is answered) to the playbook's
HTTP request arriving at a local test server standing in for the security tool;
prints p50/p99 over --incidents incidents, and the same from the answer to the POST.

Usage: cargo build --release -p muster && python3 bench/playbook_trigger.py [--incidents 300] [--bin target/release/muster]

Incidents are opened one at a time (each waits for its action before the next),
so the figure is latency, not throughput. Everything runs on 127.0.0.1.
"""
import argparse
import http.client
import http.server
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ARRIVED = {}
ARRIVED_LOCK = threading.Condition()


class Tool(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        now = time.perf_counter()
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        incident = json.loads(body).get("incident")
        with ARRIVED_LOCK:
            ARRIVED[incident] = now
            ARRIVED_LOCK.notify_all()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def playbook(tool_port):
    s = lambda k, n: f"{k}--00000000-0000-4000-8000-{n:012d}"
    return {
        "type": "playbook", "spec_version": "cacao-2.0",
        "id": "playbook--00000000-0000-4000-8000-0000000be003", "name": "bench: one action",
        "created_by": "identity--00000000-0000-4000-8000-0000000000ff",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "workflow_start": s("start", 1),
        "workflow": {
            s("start", 1): {"type": "start", "on_completion": s("action", 2)},
            s("action", 2): {"type": "action", "agent": s("http-api", 100), "on_success": s("end", 9),
                             "commands": [{"type": "http-api", "command": "POST /block HTTP/1.1",
                                           "content": "{\"incident\": \"__incident__:value\"}",
                                           "headers": {"content-type": ["application/json"]}}]},
            s("end", 9): {"type": "end"},
        },
        "playbook_variables": {"__incident__": {"type": "string", "external": True, "value": ""}},
        "agent_definitions": {s("http-api", 100): {"type": "http-api", "name": "tool",
                                                   "address": {"ipv4": ["127.0.0.1"]}, "port": str(tool_port)}},
    }


def request(port, token, method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = c.getresponse()
    data = r.read()
    if r.status >= 300:
        sys.exit(f"{method} {path}: {r.status} {data[:300]!r}")
    return json.loads(data) if data else None


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--incidents", type=int, default=300)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "muster"))
    args = ap.parse_args()
    if not os.path.exists(args.bin):
        sys.exit(f"build first: cargo build --release -p muster (or pass --bin); {args.bin} missing")
    tool = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Tool)
    threading.Thread(target=tool.serve_forever, daemon=True).start()
    work = tempfile.mkdtemp(prefix="muster-bench-pb-")
    data = os.path.join(work, "d")
    run = lambda *a, **kw: subprocess.run([args.bin, *a, "--data", data], capture_output=True, text=True, check=True, **kw)
    run("org", "add", "bench", "--name", "Bench", "--kind", "other")
    run("user", "add", "ben", "--org", "bench", "--role", "coordinator", "--password-stdin", input="bench password 123")
    token = run("token", "create", "--user", "ben").stdout.strip()
    port = free_port()
    env = dict(os.environ, MUSTER_PLAYBOOK_ALLOW_HOSTS="127.0.0.1")
    env.pop("MUSTER_DATABASE_URL", None)
    p = subprocess.Popen([args.bin, "serve", "--data", data, "--listen", f"127.0.0.1:{port}"], env=env,
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "server.log"), "w"))
    try:
        deadline = time.time() + 60
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=0.2)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline or p.poll() is not None:
                sys.exit("server did not start")
            time.sleep(0.01)
        pb = playbook(tool.server_address[1])
        request(port, token, "POST", "/api/v1/playbooks", pb)
        request(port, token, "POST", "/api/v1/automation-rules", {
            "name": "bench", "trigger": "incident-created", "playbook_id": pb["id"], "mode": "automatic",
            "variables": {"__incident__": "incident.id"}})
        from_send, from_answer = [], []
        for i in range(args.incidents + 10):
            t0 = time.perf_counter()
            inc = request(port, token, "POST", "/api/v1/incidents", {"title": f"bench {i}", "severity": "high"})
            t1 = time.perf_counter()
            with ARRIVED_LOCK:
                if not ARRIVED_LOCK.wait_for(lambda: inc["id"] in ARRIVED, timeout=10):
                    sys.exit(f"no action arrived for {inc['id']}")
                t2 = ARRIVED[inc["id"]]
            if i >= 10:  # the first few warm connections and caches
                from_send.append((t2 - t0) * 1000)
                from_answer.append(max(0.0, t2 - t1) * 1000)
        ms = lambda xs: f"p50 {statistics.median(xs):.1f} ms, p99 {pct(xs, 99):.1f} ms, max {max(xs):.1f} ms"
        print(f"incidents: {len(from_send)}")
        print(f"POST /incidents sent -> action request at the tool: {ms(from_send)}")
        print(f"POST /incidents answered -> action request at the tool: {ms(from_answer)}")
    finally:
        p.terminate()
        p.wait()
        tool.shutdown()
        shutil.rmtree(work, ignore_errors=True) if not os.environ.get("KEEP") else None


if __name__ == "__main__":
    main()
