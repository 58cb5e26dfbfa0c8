//! Batch reading and bad input: truncated JSON, wrong types, invalid UTF-8,
//! oversized and 1 GiB lines, gzip. Each bad record is rejected with its
//! index and line; the rest of the batch is still read.

mod common;

use std::io::{Read, Write};

use common::{options, read};
use muster_intake::batch::{Limits, Record, read_batch};
use muster_intake::{Format, RejectKind};

fn summary(records: &[Record]) -> Vec<(u64, u64, Result<String, String>)> {
    records
        .iter()
        .map(|r| {
            let res = match &r.result {
                Ok(a) => Ok(a.title.clone()),
                Err(e) => Err(e.to_string()),
            };
            (r.index, r.line, res)
        })
        .collect()
}

#[test]
fn ndjson_sample_reads_every_line_with_its_number() {
    let data = read("suricata-eve/wazuh-engine-4x-tests/alert_input.txt");
    let recs = read_batch(&data[..], None, None, &options(), Limits::default());
    assert_eq!(recs.len(), 22);
    assert_eq!(recs.iter().filter(|r| r.result.is_ok()).count(), 21);
    assert!(recs.iter().enumerate().all(|(i, r)| r.line == i as u64 + 1));
}

#[test]
fn gzip_input_is_accepted() {
    let data = read("wazuh/alerts/EXTRACTED-alerts-valid.jsonl");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&data).unwrap_or_default();
    let gz = gz.finish().unwrap_or_default();
    let recs = read_batch(&gz[..], None, None, &options(), Limits::default());
    assert_eq!(recs.len(), 2);
    assert!(recs.iter().all(|r| r.result.is_ok()));
    let recs = read_batch(&gz[..gz.len() / 2], None, None, &options(), Limits::default());
    assert!(recs.iter().any(|r| r.result.as_ref().is_err_and(|e| e.to_string().contains("gzip"))));
}

#[test]
fn json_array_with_bad_elements_keeps_the_good_ones() {
    let eve = r#"{"timestamp":"2024-01-01T00:00:00Z","event_type":"alert","src_ip":"10.0.0.1","dest_ip":"10.0.0.2","alert":{"signature_id":1,"signature":"ok [x]","category":"Misc Attack","severity":2}}"#;
    let batch = format!(
        "[\n{eve},\n{{\"event_type\":\"alert\",\"alert\":{{\"signature_id\":\"one\"}}}},\n42,\n{eve}, {{\"event_type\": \"alert\", \"alert\": {{\"signature\": \"cut"
    );
    let recs = read_batch(batch.as_bytes(), Some(Format::Eve), None, &options(), Limits::default());
    insta::assert_yaml_snapshot!(summary(&recs));
    assert_eq!(recs.len(), 5);
    assert!(recs[0].result.is_ok() && recs[3].result.is_ok());
    assert_eq!(recs[1].result.as_ref().err().and_then(|e| e.field.clone()).as_deref(), Some("alert.signature_id"));
    assert!(recs[4].result.as_ref().is_err_and(|e| e.to_string().contains("truncated JSON")));
}

#[test]
fn invalid_utf8_and_wrong_types_are_per_line() {
    let mut data = Vec::new();
    data.extend_from_slice(
        b"{\"rule\":{\"id\":\"1\",\"description\":\"ok\"},\"agent\":{\"name\":\"a\"},\"manager\":{}}\n",
    );
    data.extend_from_slice(b"{\"rule\":{\"id\":\"2\",\"description\":\"bad \xff\xfe\"},\"agent\":{},\"manager\":{}}\n");
    data.extend_from_slice(b"{\"rule\":{\"id\":[1]},\"agent\":{},\"manager\":{}}\n");
    data.extend_from_slice(b"\n{\"rule\":{\"id\":\"4\"},\"agent\":{},\"manager\":{}}\n");
    let recs = read_batch(&data[..], Some(Format::Wazuh), None, &options(), Limits::default());
    let s = summary(&recs);
    assert_eq!(s.len(), 4);
    assert!(s[0].2.is_ok());
    assert_eq!(recs[1].result.as_ref().err().map(|e| e.kind.clone()), Some(RejectKind::InvalidUtf8 { offset: 37 }));
    assert!(s[2].2.as_ref().is_err_and(|e| e.contains("line 3") && e.contains("rule.id")));
    assert_eq!((s[3].1, s[3].2.is_ok()), (5, true), "blank line skipped, numbering kept");
}

/// A reader that produces a huge line of `a` without holding it in memory.
struct HugeLine {
    left: u64,
    tail: &'static [u8],
}

impl Read for HugeLine {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left > 0 {
            let n = (buf.len() as u64).min(self.left) as usize;
            buf[..n].fill(b'a');
            self.left -= n as u64;
            return Ok(n);
        }
        let n = buf.len().min(self.tail.len());
        buf[..n].copy_from_slice(&self.tail[..n]);
        self.tail = &self.tail[n..];
        Ok(n)
    }
}

#[test]
fn a_one_gib_line_is_rejected_without_buffering_it() {
    let tail: &'static [u8] = b"\nCEF:0|V|P|1|sig|after the huge line|5|src=10.0.0.1\n";
    let input = HugeLine { left: 1 << 30, tail };
    let limits = Limits { max_input: 2 << 30, ..Limits::default() };
    let recs = read_batch(input, Some(Format::Cef), None, &options(), limits);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].result.as_ref().err().map(|e| e.kind.clone()), Some(RejectKind::TooLarge { limit: 1 << 20 }));
    assert_eq!(recs[1].line, 2);
    assert_eq!(recs[1].result.as_ref().map(|a| a.title.as_str()).ok(), Some("after the huge line"));
}

#[test]
fn record_count_and_input_size_are_capped() {
    let line = b"CEF:0|V|P|1|sig|n|5|src=10.0.0.1\n".repeat(10);
    let limits = Limits { max_records: 3, ..Limits::default() };
    let recs = read_batch(&line[..], None, None, &options(), limits);
    assert_eq!(recs.len(), 4);
    assert!(recs[3].result.as_ref().is_err_and(|e| e.to_string().contains("more than 3 records")));
    let limits = Limits { max_input: 40, ..Limits::default() };
    let recs = read_batch(&line[..], None, None, &options(), limits);
    assert_eq!(recs.iter().filter(|r| r.result.is_ok()).count(), 1, "input cut after 40 bytes");
}

#[test]
fn shadowserver_csv_batch_uses_the_file_name() {
    let data = read("shadowserver/scan_redis.csv");
    let recs = read_batch(&data[..], None, Some("2024-01-01-scan_redis-at.csv"), &options(), Limits::default());
    assert_eq!(recs.len(), 93);
    assert!(recs.iter().all(|r| r.result.is_ok()));
    assert_eq!(recs[0].line, 2);
    let recs = read_batch(&data[..], None, Some("mystery.csv"), &options(), Limits::default());
    assert_eq!(recs.len(), 1);
    assert!(recs[0].result.as_ref().is_err_and(|e| e.field.as_deref() == Some("file_name")));
}

#[test]
fn unclosed_array_is_reported() {
    let recs = read_batch(&b"[ "[..], None, None, &options(), Limits::default());
    assert_eq!(recs.len(), 1);
    assert!(recs[0].result.as_ref().is_err_and(|e| e.to_string().contains("not closed")));
    assert!(read_batch(&b"  \n "[..], None, None, &options(), Limits::default()).is_empty());
}
