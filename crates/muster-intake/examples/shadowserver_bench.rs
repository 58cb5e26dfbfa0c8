//! Muster's side of `bench/shadowserver_vs_intelmq.py`.
//!
//! `shadowserver_bench events FILE…` prints, for every row of each report, one
//! JSON line with the row's fields and the IntelMQ event Muster maps it to
//! (harmonisation names), or the rejection.
//!
//! `shadowserver_bench time REPLICATE ROUNDS FILE…` reads each report, repeats
//! its data rows REPLICATE times in memory, and parses everything into alerts
//! (CSV reading, mapping and normalisation, as `muster ingest` does) on one
//! thread: one untimed warm-up round, then ROUNDS timed rounds. What a round
//! times: for every report, `parse_report` (CSV → one `Alert` or rejection per
//! row, fingerprints included) and dropping its alerts before the next report.
//! Reading the files and replicating the rows happen before. Each round is
//! timed twice: wall clock (`Instant`) and this process's CPU time
//! (`CLOCK_PROCESS_CPUTIME_ID`, user + system, as Python's
//! `time.process_time()`), so a busy machine shows as wall > CPU. Prints one
//! JSON line with every round's seconds and rows/s on both clocks.
//!
//! It allocates through mimalloc, as the `muster` binary does.

use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use muster_intake::ParseOptions;
use muster_intake::parse::shadowserver::{Report, parse_report};
use serde_json::json;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = ParseOptions::new(time::OffsetDateTime::now_utc());
    let result = match args.first().map(String::as_str) {
        Some("events") => events(&args[1..], &options),
        Some("time") => timing(&args[1..], &options),
        _ => Err("usage: shadowserver_bench events FILE… | time REPLICATE ROUNDS FILE…".to_owned()),
    };
    if let Err(e) = result {
        eprintln!("shadowserver_bench: {e}");
        std::process::exit(2);
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{path}: {e}"))
}

fn events(paths: &[String], options: &ParseOptions) -> Result<(), String> {
    for path in paths {
        let data = read(path)?;
        let name = file_name(path);
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(&data[..]);
        let mut records = reader.records();
        let header = records.next().transpose().map_err(|e| format!("{path}: {e}"))?.unwrap_or_default();
        let header: Vec<&str> = header.iter().collect();
        let report = Report::new(name, &header).map_err(|e| format!("{path}: {e}"))?;
        for (index, rec) in records.enumerate() {
            let rec = rec.map_err(|e| format!("{path}: {e}"))?;
            let row: Vec<&str> = rec.iter().collect();
            let line = rec.position().map_or(0, csv::Position::line);
            let out = match report.event(&row, options) {
                Ok(event) => json!({"file": name, "index": index, "line": line, "row": row, "event": event}),
                Err(e) => json!({"file": name, "index": index, "line": line, "row": row, "error": e.to_string()}),
            };
            println!("{out}");
        }
    }
    Ok(())
}

/// The report with its data rows repeated `n` times (the header once).
fn replicate(data: &[u8], n: usize) -> Vec<u8> {
    let split = data.iter().position(|b| *b == b'\n').map_or(data.len(), |i| i + 1);
    let (header, body) = data.split_at(split);
    let mut out = Vec::with_capacity(header.len() + (body.len() + 1) * n);
    out.extend_from_slice(header);
    for _ in 0..n {
        out.extend_from_slice(body);
        if !body.is_empty() && !body.ends_with(b"\n") {
            out.push(b'\n');
        }
    }
    out
}

/// This process's CPU time (user + system, all threads), in seconds.
fn cpu_seconds() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    #[allow(clippy::cast_precision_loss)]
    let s = t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9;
    s
}

fn timing(args: &[String], options: &ParseOptions) -> Result<(), String> {
    let number = |i: usize, what: &str| {
        args.get(i).and_then(|a| a.parse::<usize>().ok()).filter(|n| *n > 0).ok_or(format!("{what} must be a count"))
    };
    let replicate_n = number(0, "REPLICATE")?;
    let rounds = number(1, "ROUNDS")?;
    let reports: Vec<(String, Vec<u8>)> = args[2..]
        .iter()
        .map(|p| Ok((file_name(p).to_owned(), replicate(&read(p)?, replicate_n))))
        .collect::<Result<_, String>>()?;
    let round = || -> Result<(usize, usize), String> {
        let (mut rows, mut rejected) = (0usize, 0usize);
        for (name, data) in &reports {
            let parsed = parse_report(name, data, options).map_err(|e| format!("{name}: {e}"))?;
            rows += parsed.len();
            rejected += parsed.iter().filter(|(_, r)| r.is_err()).count();
            drop(std::hint::black_box(parsed));
        }
        Ok((rows, rejected))
    };
    let (rows, rejected) = round()?; // warm-up: page faults of the first allocations, caches
    let (mut wall, mut cpu) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for _ in 0..rounds {
        let (started, cpu_started) = (Instant::now(), cpu_seconds());
        let counted = round()?;
        cpu.push(cpu_seconds() - cpu_started);
        wall.push(started.elapsed().as_secs_f64());
        if counted != (rows, rejected) {
            return Err("rounds differ in their row counts".to_owned());
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = |s: &f64| rows as f64 / s;
    let out = json!({
        "rows": rows,
        "rejected": rejected,
        "rounds": rounds,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "wall_rows_per_s": wall.iter().map(rate).collect::<Vec<_>>(),
        "cpu_rows_per_s": cpu.iter().map(rate).collect::<Vec<_>>(),
    });
    println!("{out}");
    Ok(())
}
