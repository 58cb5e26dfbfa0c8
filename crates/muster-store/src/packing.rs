//! How an alert's record is kept at rest: its normalised document and the
//! original record it came from, packed together in one zstd frame.
//!
//! The document repeats much of the original (addresses, names, the rule),
//! so compressing the two together costs about what compressing the original
//! alone did, and the document adds ~200 bytes instead of ~650 of JSON. The
//! row then fits three to a 4 KiB page instead of two; every byte saved is
//! written twice by intake (the WAL, then the checkpoint). Packing runs where
//! the batch is parsed, outside the store's write lock.
//!
//! Rows written before migration 13 keep the document as text and the
//! original alone as zstd (or zlib, before that); [`AlertContent::unpack`]
//! reads all three.

use std::io::Read as _;

use crate::{Result, StoreError};

/// The first bytes of a zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Largest original or document a stored frame may expand to. Intake refuses
/// records far smaller; a frame that claims more is corrupt.
const MAX_UNPACKED: usize = 64 << 20;

/// An alert's document and original record, packed for storage (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertBody(Vec<u8>);

impl AlertBody {
    /// Packs `doc` (the normalised alert as JSON) with `original` (the record as received).
    #[must_use]
    pub fn pack(doc: &str, original: &[u8]) -> Self {
        // A length prefix, the original, then the document, which finds its matches in the original.
        let len = u32::try_from(original.len()).unwrap_or(u32::MAX);
        let mut plain = Vec::with_capacity(4 + original.len() + doc.len());
        plain.extend_from_slice(&len.to_le_bytes());
        plain.extend_from_slice(&original[..len as usize]);
        plain.extend_from_slice(doc.as_bytes());
        Self(compress(&plain))
    }

    /// The packed bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Its size packed, in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing is packed (never true of [`AlertBody::pack`]'s result).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A stored alert's document and original record, unpacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertContent {
    /// The normalised alert as JSON (without the summary the row keeps in columns).
    pub doc: String,
    /// The record as received.
    pub original: Vec<u8>,
}

impl AlertContent {
    /// Unpacks a row's `body` or, for rows written before migration 13, its
    /// `doc` text and `original` (zstd or zlib).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] naming the alert when the stored bytes do not unpack.
    pub fn unpack(id: &str, body: Option<&[u8]>, doc: &str, original: Option<&[u8]>) -> Result<Self> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("alert {id}: {what}"));
        let Some(body) = body else {
            let original = match original {
                Some(o) if !o.is_empty() => decompress(o).map_err(|e| corrupt(&format!("original record: {e}")))?,
                _ => Vec::new(),
            };
            return Ok(Self { doc: doc.to_owned(), original });
        };
        let plain = decompress(body).map_err(|e| corrupt(&format!("packed body: {e}")))?;
        let (len, rest) = plain.split_first_chunk::<4>().ok_or_else(|| corrupt("packed body too short"))?;
        let len = u32::from_le_bytes(*len) as usize;
        if len > rest.len() {
            return Err(corrupt("packed body shorter than its original"));
        }
        let (original, doc) = rest.split_at(len);
        let doc = std::str::from_utf8(doc).map_err(|e| corrupt(&format!("packed document: {e}")))?;
        Ok(Self { doc: doc.to_owned(), original: original.to_vec() })
    }
}

/// zstd at level 1 through a context reused per thread: records are small and
/// intake is the hot path; setting a context up costs more than a record.
fn compress(plain: &[u8]) -> Vec<u8> {
    thread_local! {
        static ZSTD: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
            std::cell::RefCell::new(zstd::bulk::Compressor::new(1).ok());
    }
    ZSTD.with(|z| match z.borrow_mut().as_mut() {
        Some(c) => c.compress(plain).unwrap_or_default(),
        None => Vec::new(),
    })
}

/// Expands a zstd frame, or a zlib stream as the first releases wrote
/// originals, to at most [`MAX_UNPACKED`] bytes.
fn decompress(stored: &[u8]) -> std::io::Result<Vec<u8>> {
    let cap = u64::try_from(MAX_UNPACKED).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::new();
    if stored.starts_with(&ZSTD_MAGIC) {
        zstd::stream::read::Decoder::new(stored)?.take(cap).read_to_end(&mut out)?;
    } else {
        flate2::read::ZlibDecoder::new(stored).take(cap).read_to_end(&mut out)?;
    }
    if out.len() > MAX_UNPACKED {
        return Err(std::io::Error::other(format!("expands beyond {MAX_UNPACKED} bytes")));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn noise(len: usize) -> Vec<u8> {
        let mut x: u32 = 0x9e37_79b9;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x.to_le_bytes()[0]
            })
            .collect()
    }

    #[test]
    fn bodies_of_every_size_round_trip_through_the_reused_context() {
        for len in [0usize, 1, 63, 1000, 70_000, 1 << 20] {
            let original = noise(len);
            let doc = format!("{{\"n\":{len}}}");
            for _ in 0..2 {
                let body = AlertBody::pack(&doc, &original);
                assert!(body.as_bytes().starts_with(&ZSTD_MAGIC));
                let back = AlertContent::unpack("alert--1", Some(body.as_bytes()), "", None).unwrap();
                assert_eq!(back, AlertContent { doc: doc.clone(), original: original.clone() }, "len {len}");
            }
        }
    }

    #[test]
    fn the_document_costs_little_beside_its_original() {
        let original = br#"{"timestamp":"2024-01-01T00:00:00Z","event_type":"alert","src_ip":"192.0.2.7","dest_ip":"198.51.100.1","alert":{"signature":"ET SCAN suspicious inbound","category":"Attempted Information Leak","severity":2}}"#;
        let doc = r#"{"rule":{"name":"ET SCAN suspicious inbound","category":"Attempted Information Leak"},"observables":[{"kind":"ipv4","value":"192.0.2.7","role":"source"},{"kind":"ipv4","value":"198.51.100.1","role":"destination"}]}"#;
        let both = AlertBody::pack(doc, original).len();
        let alone = AlertBody::pack("", original).len();
        assert!(both < alone + doc.len() / 2, "together {both}, original alone {alone}, document {}", doc.len());
    }

    #[test]
    fn rows_written_before_packing_still_read() {
        use std::io::Write as _;
        let original = b"CEF:0|Vendor|Product|1|100|Name|5|src=192.0.2.1".repeat(3);
        let zstd_only = zstd::bulk::compress(&original, 1).unwrap();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&original).unwrap();
        let zlib = z.finish().unwrap();
        for stored in [zstd_only, zlib] {
            let back = AlertContent::unpack("alert--old", None, "{\"a\":1}", Some(&stored)).unwrap();
            assert_eq!(back, AlertContent { doc: "{\"a\":1}".into(), original: original.clone() });
        }
        let none = AlertContent::unpack("alert--old", None, "{}", None).unwrap();
        assert!(none.original.is_empty());
    }

    #[test]
    fn corrupt_bodies_are_refused_naming_the_alert() {
        let short = compress(&[1, 0]);
        let lying = compress(&[200, 0, 0, 0, b'x']);
        let not_utf8 = compress(&[1, 0, 0, 0, b'x', 0xff, 0xfe]);
        for bad in [&b"not zstd"[..], &[0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3], &short, &lying, &not_utf8] {
            let e = AlertContent::unpack("alert--7", Some(bad), "", None).unwrap_err();
            assert!(matches!(&e, StoreError::Corrupt(m) if m.starts_with("alert alert--7: ")), "{e}");
        }
    }
}
