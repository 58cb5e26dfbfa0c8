//! Batch reading: a JSON array, NDJSON / text lines (CEF, LEEF), or a
//! Shadowserver CSV, optionally gzip-compressed, into per-record outcomes
//! with their index and line. Memory is bounded: no record is buffered past
//! [`Limits::max_record`] bytes (a 1 GB line costs `max_record` bytes, not
//! 1 GB), decompression stops at [`Limits::max_input`], and a truncated or
//! malformed record rejects that record only.
//!
//! [`read_batch`] turns records into alerts with the parsers;
//! [`read_records`] frames JSON records the same way for any other decoder
//! (raw log events for Sigma detection, say).

use std::io::{BufRead, BufReader, Read};

use crate::alert::{Alert, Format};
use crate::parse::{ParseOptions, parse_record, shadowserver};
use crate::reject::{Reject, RejectKind};

/// Size limits for one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest record (line or array element), in bytes.
    pub max_record: usize,
    /// Most records read; the rest are rejected as one.
    pub max_records: u64,
    /// Most bytes read after decompression.
    pub max_input: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_record: 1 << 20, max_records: 100_000, max_input: 256 << 20 }
    }
}

/// The outcome for one record of a batch: an alert for [`read_batch`],
/// whatever the decoder makes for [`read_records`].
#[derive(Debug)]
pub struct Record<T = Alert> {
    /// 0-based position in the batch.
    pub index: u64,
    /// 1-based line where the record starts.
    pub line: u64,
    pub result: Result<T, Reject>,
}

/// Decodes one record's bytes.
type Decode<'a, T> = dyn FnMut(&[u8]) -> Result<T, Reject> + 'a;
/// Decodes a whole CSV report (header included) into (line, outcome) rows.
type DecodeReport<'a, T> = dyn FnMut(&[u8]) -> Result<Vec<(u64, Result<T, Reject>)>, Reject> + 'a;

/// Reads a whole batch. `file_name` names the Shadowserver report type when
/// `format` is Shadowserver (or detected as such).
#[must_use]
pub fn read_batch<R: Read>(
    input: R,
    format: Option<Format>,
    file_name: Option<&str>,
    options: &ParseOptions,
    limits: Limits,
) -> Vec<Record> {
    let mut parse = |bytes: &[u8]| parse_record(bytes, format, options);
    let name = file_name.unwrap_or("");
    let mut report = |data: &[u8]| shadowserver::parse_report(name, data, options);
    let csv = format == Some(Format::Shadowserver);
    read_framed(input, limits, &mut parse, Some((&mut report, csv)))
}

/// Reads a JSON array or NDJSON batch (gzip accepted) and hands each record's
/// bytes to `decode`, with the same limits, positions and per-record
/// rejections as [`read_batch`]. CSV reports are not recognised here.
#[must_use]
pub fn read_records<R: Read, T>(
    input: R,
    limits: Limits,
    decode: impl FnMut(&[u8]) -> Result<T, Reject>,
) -> Vec<Record<T>> {
    let mut decode = decode;
    read_framed(input, limits, &mut decode, None)
}

fn read_framed<'f, R: Read, T>(
    input: R,
    limits: Limits,
    parse: &mut Decode<'f, T>,
    report: Option<(&mut DecodeReport<'f, T>, bool)>,
) -> Vec<Record<T>> {
    let mut out = Vec::new();
    let mut raw = BufReader::new(input);
    let gzip = matches!(raw.fill_buf(), Ok(b) if b.starts_with(&[0x1f, 0x8b]));
    let reader: Box<dyn Read + '_> =
        if gzip { Box::new(flate2::read::MultiGzDecoder::new(raw)) } else { Box::new(raw) };
    let mut reader = BufReader::with_capacity(64 << 10, reader.take(limits.max_input));
    let first = match first_non_space(&mut reader) {
        Ok(b) => b,
        Err(e) => {
            out.push(read_error(0, 1, &e));
            return out;
        }
    };
    let (report, csv) = match report {
        Some((r, csv)) => (Some(r), csv),
        None => (None, false),
    };
    let mut ctx = Ctx { limits, csv, parse, report, out: &mut out };
    match first {
        None => {}
        Some(b'[') => read_array(&mut reader, &mut ctx),
        Some(_) if ctx.csv => read_csv(&mut reader, &mut ctx),
        Some(_) => read_lines(&mut reader, &mut ctx),
    }
    out
}

struct Ctx<'a, 'f, T> {
    limits: Limits,
    /// The batch is declared a CSV report.
    csv: bool,
    parse: &'a mut Decode<'f, T>,
    /// Present when CSV reports are recognised.
    report: Option<&'a mut DecodeReport<'f, T>>,
    out: &'a mut Vec<Record<T>>,
}

impl<T> Ctx<'_, '_, T> {
    fn push(&mut self, line: u64, result: Result<T, Reject>) -> bool {
        let index = self.out.len() as u64;
        if index >= self.limits.max_records {
            if index == self.limits.max_records {
                let r = Reject::syntax(format!(
                    "batch has more than {} records; the rest were not read",
                    self.limits.max_records
                ));
                self.out.push(Record { index, line, result: Err(r.at_line(line).at_index(index)) });
            }
            return false;
        }
        let result = result.map_err(|e| e.at_line(line).at_index(index));
        self.out.push(Record { index, line, result });
        true
    }

    fn parse(&mut self, line: u64, bytes: &[u8]) -> bool {
        let r = (self.parse)(bytes);
        self.push(line, r)
    }
}

fn read_error<T>(index: u64, line: u64, e: &std::io::Error) -> Record<T> {
    let r = Reject::syntax(format!("input could not be read (bad gzip?): {e}"));
    Record { index, line, result: Err(r.at_line(line).at_index(index)) }
}

fn first_non_space(r: &mut impl BufRead) -> std::io::Result<Option<u8>> {
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(None);
        }
        let skip = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
        if skip < buf.len() {
            return Ok(Some(buf[skip]));
        }
        let n = buf.len();
        r.consume(n);
    }
}

/// Reads one line into `buf`, keeping at most `max + 1` bytes. Returns the
/// number of bytes the line really had (without its newline), or `None` at EOF.
fn bounded_line(r: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> std::io::Result<Option<usize>> {
    buf.clear();
    let mut total = 0usize;
    let mut any = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(any.then_some(total));
        }
        any = true;
        let (part, done, used) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (&chunk[..i], true, i + 1),
            None => (chunk, false, chunk.len()),
        };
        let room = (max + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&part[..part.len().min(room)]);
        total = total.saturating_add(part.len());
        r.consume(used);
        if done {
            return Ok(Some(total));
        }
    }
}

fn read_lines<T>(r: &mut impl BufRead, ctx: &mut Ctx<'_, '_, T>) {
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        line += 1;
        let len = match bounded_line(r, &mut buf, ctx.limits.max_record) {
            Ok(Some(n)) => n,
            Ok(None) => return,
            Err(e) => {
                let index = ctx.out.len() as u64;
                ctx.out.push(read_error(index, line, &e));
                return;
            }
        };
        let text = buf.strip_suffix(b"\r").unwrap_or(&buf);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if line == 1 && ctx.report.is_some() && crate::parse::detect(text) == Some(Format::Shadowserver) {
            // A CSV header: the rest is a Shadowserver report.
            let mut data = buf.clone();
            data.push(b'\n');
            if r.take(ctx.limits.max_input).read_to_end(&mut data).is_err() {
                let index = ctx.out.len() as u64;
                ctx.out.push(read_error(index, line, &std::io::Error::other("read failed")));
                return;
            }
            return csv_records(&data, ctx);
        }
        let ok = if len > ctx.limits.max_record {
            ctx.push(line, Err(Reject::too_large(ctx.limits.max_record)))
        } else {
            ctx.parse(line, text)
        };
        if !ok {
            return;
        }
    }
}

fn read_csv<T>(r: &mut impl BufRead, ctx: &mut Ctx<'_, '_, T>) {
    let mut data = Vec::new();
    if let Err(e) = r.read_to_end(&mut data) {
        let index = ctx.out.len() as u64;
        ctx.out.push(read_error(index, 1, &e));
        return;
    }
    csv_records(&data, ctx);
}

fn csv_records<T>(data: &[u8], ctx: &mut Ctx<'_, '_, T>) {
    let Some(report) = ctx.report.as_mut() else {
        ctx.push(1, Err(Reject::syntax("CSV reports are not accepted here")));
        return;
    };
    match report(data) {
        Ok(rows) => {
            for (line, result) in rows {
                if !ctx.push(line, result) {
                    return;
                }
            }
        }
        Err(e) => {
            ctx.push(e.line.unwrap_or(1), Err(e));
        }
    }
}

/// Streams the elements of a top-level JSON array, tracking strings and
/// nesting so each element is cut out without parsing the whole array.
fn read_array<T>(r: &mut impl BufRead, ctx: &mut Ctx<'_, '_, T>) {
    let max = ctx.limits.max_record;
    let mut line = 1u64;
    let mut elem: Vec<u8> = Vec::new();
    let mut elem_line = 1u64;
    let mut elem_len = 0usize;
    let (mut depth, mut in_string, mut escape) = (0usize, false, false);
    let mut started = false; // seen the opening '['
    let mut in_elem = false;
    let mut closed = false;
    loop {
        let chunk = match r.fill_buf() {
            Ok([]) => break,
            Ok(c) => c,
            Err(e) => {
                let index = ctx.out.len() as u64;
                ctx.out.push(read_error(index, line, &e));
                return;
            }
        };
        let n = chunk.len();
        let mut emit: Vec<(u64, Result<Vec<u8>, Reject>)> = Vec::new();
        for &b in chunk {
            if b == b'\n' {
                line += 1;
            }
            if closed {
                continue;
            }
            if !started {
                if b == b'[' {
                    started = true;
                }
                continue;
            }
            if !in_elem {
                match b {
                    b',' => continue,
                    b']' => {
                        closed = true;
                        continue;
                    }
                    b if b.is_ascii_whitespace() => continue,
                    _ => {
                        in_elem = true;
                        elem.clear();
                        elem_len = 0;
                        elem_line = line;
                    }
                }
            }
            // Inside an element.
            let mut end_here = false;
            let mut end_before = false;
            if in_string {
                if escape {
                    escape = false;
                } else if b == b'\\' {
                    escape = true;
                } else if b == b'"' {
                    in_string = false;
                }
            } else {
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth > 0 => {
                        depth -= 1;
                        end_here = depth == 0;
                    }
                    b']' => {
                        end_before = true;
                        closed = true;
                    }
                    b',' if depth == 0 => end_before = true,
                    _ => {}
                }
            }
            if !end_before {
                elem_len += 1;
                if elem.len() <= max {
                    elem.push(b);
                }
            }
            if end_here || end_before {
                in_elem = false;
                let item = if elem_len > max { Err(Reject::too_large(max)) } else { Ok(std::mem::take(&mut elem)) };
                emit.push((elem_line, item));
            }
        }
        r.consume(n);
        for (l, item) in emit {
            let ok = match item {
                Ok(bytes) => ctx.parse(l, &bytes),
                Err(e) => ctx.push(l, Err(e)),
            };
            if !ok {
                return;
            }
        }
    }
    if in_elem {
        let e = Reject::syntax("truncated JSON: the batch ends inside this record");
        ctx.push(elem_line, Err(e));
    } else if !closed {
        ctx.push(
            line,
            Err(Reject::new(RejectKind::Syntax { message: "truncated JSON: the array is not closed with `]`".into() })),
        );
    }
}
