//! Shared helpers for the sample tests: read a file from `shared/data`, parse
//! it line by line, and turn outcomes into snapshot-friendly values.

#![allow(dead_code)]

use muster_intake::{Alert, Format, ParseOptions, Reject};
use serde::Serialize;

pub const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/samples");

pub fn read(rel: &str) -> Vec<u8> {
    let path = format!("{SAMPLES}/{rel}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn options() -> ParseOptions {
    ParseOptions::new(time::macros::datetime!(2024-01-01 00:00 UTC))
}

#[derive(Serialize)]
pub struct Outcome {
    pub line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<Alert>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject: Option<String>,
}

pub fn outcome(line: usize, r: Result<Alert, Reject>) -> Outcome {
    match r {
        Ok(a) => Outcome { line, alert: Some(a), reject: None },
        Err(e) => Outcome { line, alert: None, reject: Some(e.to_string()) },
    }
}

/// Parses every non-empty line of a sample with `format` (or auto-detection).
pub fn parse_lines(rel: &str, format: Option<Format>) -> Vec<Outcome> {
    let data = read(rel);
    let o = options();
    data.split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
        .map(|(i, l)| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            outcome(i + 1, muster_intake::parse_record(l, format, &o))
        })
        .collect()
}

pub fn alerts(outcomes: &[Outcome]) -> Vec<&Alert> {
    outcomes.iter().filter_map(|o| o.alert.as_ref()).collect()
}
