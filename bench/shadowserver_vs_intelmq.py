#!/usr/bin/env python3
"""Muster's Shadowserver parser side by side with IntelMQ's Shadowserver parser bot.

Benchmark 3 of issue 3. On the same rows (every report in
shared/data/samples/shadowserver, read from there and replicated in memory):

* speed: rows/s of Muster (CSV -> normalised alerts, the Rust example
  `crates/muster-intake/examples/shadowserver_bench.rs`, one thread) and of
  IntelMQ's ShadowserverParserBot (run through IntelMQ's own bot test
  machinery: the bot's real `process()` loop on an in-memory pipeline, no Redis),
  and their ratio. Each side is timed on two clocks: CPU time of its own
  process (`time.process_time()` / `CLOCK_PROCESS_CPUTIME_ID`, user + system)
  and wall clock. The primary ratio is on CPU time, which a busy machine
  moves far less than wall clock; the wall-clock ratio is shown beside it.
  The rounds of the two sides alternate (IntelMQ, Muster, Muster, IntelMQ, …)
  and last about as long (a Muster round is --muster-passes passes over its
  rows, back to back, timed as one) so that load changes hit both alike; each
  side's rate is the median of its rounds (the best round of each is shown too).

  What is timed. IntelMQ: per report, `bot.start()` -- the bot's `process()`
  of the report message: base64-decoding the report, reading its CSV, mapping
  and sanitising every row into an Event and sending each to the in-memory
  pipeline (bot set-up before, reading the output queue after, are not timed).
  Muster: per report, `parse_report` -- reading its CSV, mapping and
  sanitising every row into an IntelMQ-shaped event and importing that as the
  normalised `Alert` Muster stores (observables, fingerprint), then dropping
  the report's alerts (set-up -- reading the files, replicating rows, one
  warm-up round -- is not timed);
* a differential check: for every sample row, the event Muster maps it to and
  the event IntelMQ emits must have the same fields and values (IntelMQ
  harmonisation names). Every difference is listed; IntelMQ-internal fields
  are excluded (IGNORED_FIELDS below), and the few IntelMQ behaviours Muster
  deliberately does not copy are counted as "excepted" (EXCEPTIONS below,
  each with its reason).

Which IntelMQ: 3.3 and later do not ship the Shadowserver report mappings;
they download them from Shadowserver at run time (`--update-schema`), which
needs the internet. The newest release that carries them in the package is
3.2.1, so that is the default oracle (`pip install intelmq==3.2.1`). With a
newer IntelMQ, pass the downloaded schema with `--schema shadowserver-schema.json`.

Run from the repository root (see bench/README.md):

    /tmp/intelmq321/bin/python bench/shadowserver_vs_intelmq.py [--muster-bin PATH] [--json out.json]

Exit status: 0 when every row matches and Muster reaches --min-ratio, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import math
import os
import statistics
import subprocess
import sys
import time
import unittest
from collections import defaultdict, deque
from datetime import datetime, timezone
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SAMPLES = REPO.parent / "shared" / "data" / "samples" / "shadowserver"

# IntelMQ-internal noise, not part of the mapping:
IGNORED_FIELDS = {
    "__type",  # message class marker
    "raw",  # base64 of the original line; Muster keeps the original bytes itself
    "time.observation",  # when the IntelMQ collector saw the report (copied from the report)
    "feed.documentation",  # link to Shadowserver's page for the report type
    "extra.file_name",  # the report's file name, copied from the collector's report
}



def _midnight_today(value) -> bool:
    today = datetime.now(timezone.utc).date()
    return value in {f"{d.isoformat()}T00:00:00+00:00" for d in (today, today.fromordinal(today.toordinal() - 1))}


# IntelMQ behaviours Muster does not copy, as few as possible, each with its
# reason: field -> (reason, predicate on (Muster's value, IntelMQ's value)).
# A difference the predicate accepts is counted as "excepted", not as a difference.
EXCEPTIONS = {
    "extra.end_time": (
        "IntelMQ's convert_date_utc appends '+00:00' to an empty end_time and dateutil's fuzzy parser reads"
        " the bare '+00:00' as midnight of the day IntelMQ runs; Muster leaves the empty column out",
        lambda ours, theirs: ours is None and _midnight_today(theirs),
    ),
}

# Fields whose values are instants, compared as instants: Muster writes
# "2016-07-24T00:42:33Z" where IntelMQ writes "+00:00", the same time.
TIME_FIELDS = {"time.source"}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES, help="folder of Shadowserver CSV reports")
    p.add_argument("--intelmq-rows", type=int, default=20_000, help="about this many rows for IntelMQ's timing")
    # Each report becomes one Vec of alerts, so far more rows measures memory traffic, not parsing.
    p.add_argument("--muster-factor", type=int, default=5, help="Muster times this many more rows than IntelMQ")
    p.add_argument("--rounds", type=int, default=5, help="timing rounds of each side, interleaved (median reported)")
    # A Muster pass takes ~0.6 s, an IntelMQ round ~8 s: windows of the same length see the same load.
    p.add_argument("--muster-passes", type=int, default=12, help="Muster passes timed together as one round")
    p.add_argument("--muster-bin", type=Path, help="prebuilt shadowserver_bench example (default: cargo build)")
    p.add_argument("--schema", type=Path, help="Shadowserver schema JSON, needed with IntelMQ >= 3.3")
    p.add_argument("--min-ratio", type=float, default=50.0, help="fail below this speed ratio")
    p.add_argument("--json", type=Path, help="also write the summary here as JSON")
    p.add_argument("--max-listed", type=int, default=10_000, help="list at most this many differences")
    return p.parse_args()


# ---------------------------------------------------------------- Muster side


def muster_binary(args: argparse.Namespace) -> Path:
    if args.muster_bin:
        return args.muster_bin
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    cmd = ["cargo", "build", "--release", "-q", "-p", "muster-intake", "--example", "shadowserver_bench"]
    subprocess.run(cmd, cwd=REPO, check=True)
    return target / "release" / "examples" / "shadowserver_bench"


def muster_events(binary: Path, files: list[Path]) -> list[dict]:
    out = subprocess.run([binary, "events", *map(str, files)], check=True, capture_output=True, text=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line]


def muster_round(binary: Path, files: list[Path], replicate: int, passes: int) -> dict:
    """One Muster round: `passes` timed passes back to back (after an untimed warm-up pass in the same
    process), summed: rows, CPU and wall seconds."""
    cmd = [binary, "time", str(replicate), str(passes), *map(str, files)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "rows": r["rows"] * passes,
        "rejected": r["rejected"],
        "cpu": sum(r["cpu_seconds"]),
        "wall": sum(r["wall_seconds"]),
    }


# --------------------------------------------------------------- IntelMQ side


def load_intelmq(schema: Path | None):
    """Imports IntelMQ's bot test machinery with root's privilege check relaxed."""
    try:
        import intelmq
        import intelmq.lib.test as test
        import intelmq.lib.utils as utils
        from intelmq.bots.parsers.shadowserver import _config
        from intelmq.bots.parsers.shadowserver.parser import ShadowserverParserBot
    except ImportError as e:
        sys.exit(f"IntelMQ is not installed ({e}); run `pip install intelmq==3.2.1` (see bench/README.md)")

    # IntelMQ refuses to run bots as root unless it can switch to an `intelmq`
    # user; this benchmark runs no pipeline and writes nothing, so let it.
    mock.patch("intelmq.lib.utils.drop_privileges", return_value=True).start()

    parameters = {"logging_level": "WARNING"}
    if not hasattr(_config, "mapping"):  # 3.3+: mappings come from a schema file
        if schema is None:
            sys.exit(f"IntelMQ {intelmq.__version__} needs --schema (shadowserver-schema.json); or use intelmq==3.2.1")
        vars(_config)["__config"].schema_base = str(schema)
        parameters["test_mode"] = True  # load `schema_base`, never download

    class Harness(test.BotTestCase, unittest.TestCase):
        @classmethod
        def set_bot(cls):
            cls.bot_reference = ShadowserverParserBot

        def runTest(self):  # noqa: N802 (unittest's name)
            pass

    Harness.setUpClass()
    return intelmq.__version__, Harness, utils, parameters


def intelmq_run(harness_cls, utils, parameters: dict, file_name: str, text: str) -> tuple[list[dict], float, float, str]:
    """Runs the bot on one report; returns its events, the wall and CPU seconds spent in the bot, and its log."""
    h = harness_cls()
    h.input_message = {
        "__type": "Report",
        "raw": utils.base64_encode(text),
        "time.observation": "2024-01-01T00:00:00+00:00",
        "extra.file_name": file_name,
    }
    h.prepare_bot(parameters=parameters)
    with mock.patch("intelmq.lib.utils.load_configuration", new=h.mocked_config):
        with mock.patch("intelmq.lib.utils.log", h.get_mocked_logger(h.logger)):
            started, cpu_started = time.perf_counter(), time.process_time()
            h.bot.start(error_on_pipeline=False, source_pipeline=h.pipe, destination_pipeline=h.pipe)
            cpu = time.process_time() - cpu_started
            wall = time.perf_counter() - started
            h.bot.stop(exitcode=0)
    events = [json.loads(e) for e in h.get_output_queue()]
    return events, wall, cpu, h.log_stream.getvalue()


def intelmq_round(harness_cls, utils, parameters: dict, texts: dict[str, str], n: int) -> dict:
    """One IntelMQ round: every report with its rows repeated n times; rows, CPU and wall seconds in the bot."""
    rows, wall, cpu = 0, 0.0, 0.0
    for name, text in texts.items():
        events, w, c, _ = intelmq_run(harness_cls, utils, parameters, name, replicate(text, n))
        rows, wall, cpu = rows + len(events), wall + w, cpu + c
    return {"rows": rows, "cpu": cpu, "wall": wall}


def rates(rounds: list[dict]) -> dict:
    """Median and best rows/s of a side's rounds, on CPU time and on wall clock."""
    out = {"rows": rounds[0]["rows"], "rounds": len(rounds)}
    for clock in ("cpu", "wall"):
        per_round = sorted(r["rows"] / r[clock] for r in rounds)
        out[f"{clock}_rows_per_s"] = round(statistics.median(per_round))
        out[f"{clock}_rows_per_s_best"] = round(per_round[-1])
        out[f"{clock}_seconds"] = [round(r[clock], 4) for r in rounds]
    return out


def raw_row(event: dict) -> tuple[str, ...]:
    """The CSV fields of the row an IntelMQ event came from (its `raw` is header + row)."""
    text = base64.b64decode(event["raw"]).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text), dialect="unix"))
    return tuple(rows[1]) if len(rows) > 1 else ()


def replicate(text: str, n: int) -> str:
    header, _, body = text.partition("\n")
    body = body if body.endswith("\n") or not body else body + "\n"
    return header + "\n" + body * n


# ------------------------------------------------------------------ compare


def same(field: str, a, b) -> bool:
    if field in TIME_FIELDS and isinstance(a, str) and isinstance(b, str):
        try:
            ta = datetime.fromisoformat(a.replace("Z", "+00:00"))
            tb = datetime.fromisoformat(b.replace("Z", "+00:00"))
            return ta.astimezone(timezone.utc) == tb.astimezone(timezone.utc)
        except ValueError:
            return False
    # 1 == 1.0 in Python, but True == 1 must not pass: compare types of bools.
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return a == b


def diff_rows(muster: list[dict], intelmq_by_file: dict[str, list[dict]]) -> tuple[int, list[dict], list[dict]]:
    diffs: list[dict] = []
    excepted: list[dict] = []
    compared = 0
    pending: dict[str, dict[tuple, deque]] = {}
    for name, events in intelmq_by_file.items():
        by_row: dict[tuple, deque] = defaultdict(deque)
        for e in events:
            by_row[raw_row(e)].append(e)
        pending[name] = by_row
    for m in muster:
        where = f"{m['file']}:{m['line']}"
        theirs_q = pending.get(m["file"], {}).get(tuple(m["row"]))
        theirs = theirs_q.popleft() if theirs_q else None
        ours = m.get("event")
        if theirs is None and ours is None:
            compared += 1  # both rejected the row
            continue
        if theirs is None:
            diffs.append({"row": where, "field": "*", "muster": "event", "intelmq": "no event (row failed)"})
            continue
        if ours is None:
            diffs.append({"row": where, "field": "*", "muster": m.get("error"), "intelmq": "event"})
            continue
        compared += 1
        for field in sorted((set(ours) | set(theirs)) - IGNORED_FIELDS):
            a, b = ours.get(field), theirs.get(field)
            if not same(field, a, b):
                d = {"row": where, "field": field, "muster": a, "intelmq": b}
                exception = EXCEPTIONS.get(field)
                (excepted if exception and exception[1](a, b) else diffs).append(d)
    for name, by_row in pending.items():
        for q in by_row.values():
            for e in q:
                diffs.append({"row": f"{name}:?", "field": "*", "muster": "no row", "intelmq": "event"})
    return compared, diffs, excepted


# --------------------------------------------------------------------- main


def main() -> int:
    args = parse_args()
    files = sorted(args.samples.glob("*.csv"))
    if not files:
        sys.exit(f"no CSV reports under {args.samples}")
    version, harness, utils, parameters = load_intelmq(args.schema)
    texts = {f.name: f.read_text(encoding="utf-8") for f in files}
    sample_rows = sum(max(t.strip().count("\n"), 0) for t in texts.values())

    # Differential check on the rows as they are.
    binary = muster_binary(args)
    ours = muster_events(binary, files)
    theirs: dict[str, list[dict]] = {}
    intelmq_errors = 0
    for name, text in texts.items():
        events, _, _, log = intelmq_run(harness, utils, parameters, name, text)
        theirs[name] = events
        intelmq_errors += log.count(" - ERROR - ")
    compared, diffs, excepted = diff_rows(ours, theirs)

    # Speed, on the same mix of reports replicated in memory; the two sides'
    # rounds alternate (I M, M I, I M, ...) so that load changes hit both alike.
    replicate_n = max(1, math.ceil(args.intelmq_rows / max(len(ours), 1)))
    load_before = os.getloadavg()
    intelmq_rounds: list[dict] = []
    muster_rounds: list[dict] = []
    for r in range(args.rounds):
        sides = [
            lambda: intelmq_rounds.append(intelmq_round(harness, utils, parameters, texts, replicate_n)),
            lambda: muster_rounds.append(muster_round(binary, files, replicate_n * args.muster_factor, args.muster_passes)),
        ]
        for side in sides if r % 2 == 0 else reversed(sides):
            side()
    load_after = os.getloadavg()
    intelmq_speed, muster_speed = rates(intelmq_rounds), rates(muster_rounds)
    ratio = muster_speed["cpu_rows_per_s"] / intelmq_speed["cpu_rows_per_s"]
    wall_ratio = muster_speed["wall_rows_per_s"] / intelmq_speed["wall_rows_per_s"]

    by_field: dict[str, int] = defaultdict(int)
    for d in diffs:
        by_field[d["field"]] += 1
    for d in diffs[: args.max_listed]:
        print(f"DIFF {d['row']} {d['field']}: muster={d['muster']!r} intelmq={d['intelmq']!r}")
    summary = {
        "intelmq_version": version,
        "report_files": len(files),
        "sample_rows": len(ours),
        "rows_compared": compared,
        "rows_with_differences": len({d["row"] for d in diffs}),
        "differences": len(diffs),
        "differences_by_field": dict(sorted(by_field.items(), key=lambda kv: -kv[1])),
        "ignored_fields": sorted(IGNORED_FIELDS),
        "excepted": {f: sum(1 for d in excepted if d["field"] == f) for f in EXCEPTIONS},
        "intelmq_log_errors": intelmq_errors,
        "replicate": {"intelmq": replicate_n, "muster": replicate_n * args.muster_factor},
        "intelmq": intelmq_speed,
        "muster": {**muster_speed, "rejected": muster_rounds[0]["rejected"]},
        # Primary: medians of CPU-time rows/s; beside it the same on wall clock and best rounds.
        "speed_ratio": round(ratio, 1),
        "speed_ratio_wall": round(wall_ratio, 1),
        "speed_ratio_best_cpu": round(muster_speed["cpu_rows_per_s_best"] / intelmq_speed["cpu_rows_per_s_best"], 1),
        "speed_ratio_best_wall": round(muster_speed["wall_rows_per_s_best"] / intelmq_speed["wall_rows_per_s_best"], 1),
        "loadavg_1m_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "sample_rows_in_files": sample_rows,
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        report = {"summary": summary, "differences": diffs, "excepted": excepted}
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if not diffs and ratio >= args.min_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
