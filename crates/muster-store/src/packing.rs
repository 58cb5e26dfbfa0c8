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
//! A record is small (1–3 KB), and zstd spends most of such a frame's time
//! building entropy tables and most of its bytes on what every record of a
//! source repeats (field names, rule text, sensor names). Once a store holds
//! enough alerts it trains a zstd dictionary on recent ones (see
//! `dictionaries`); new bodies are packed against it, which on Suricata alerts
//! is about twice as fast and half the size. The frame names its dictionary
//! (zstd's dictionary id); the dictionaries stay stored for as long as the
//! store, so every body stays readable.
//!
//! Rows written before migration 13 keep the document as text and the
//! original alone as zstd (or zlib, before that); [`AlertContent::unpack`]
//! reads all three.

use std::io::Read as _;
use std::sync::Arc;

use crate::{Result, StoreError};

/// The first bytes of a zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Largest original or document a stored frame may expand to. Intake refuses
/// records far smaller; a frame that claims more is corrupt.
const MAX_UNPACKED: usize = 64 << 20;

/// zstd's level for bodies: the fastest of the standard levels. Negative
/// levels were measured: faster alone, but the larger rows cost the store more.
const LEVEL: i32 = 1;

/// Largest trained dictionary, in bytes.
const DICTIONARY_BYTES: usize = 16 * 1024;

/// An alert's document and original record, packed for storage (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertBody(Vec<u8>);

impl AlertBody {
    /// Packs `doc` (the normalised alert as JSON) with `original` (the record
    /// as received), without a dictionary; see [`Packer`] for the store's.
    #[must_use]
    pub fn pack(doc: &str, original: &[u8]) -> Self {
        Packer::default().pack(doc, original)
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

/// A trained zstd dictionary for alert bodies, as stored, with its id.
pub(crate) struct Dictionary {
    id: u32,
    bytes: Vec<u8>,
    decoder: zstd::dict::DecoderDictionary<'static>,
}

impl Dictionary {
    /// Takes stored dictionary bytes; `None` when they are not a zstd dictionary.
    pub(crate) fn new(bytes: Vec<u8>) -> Option<Self> {
        let id = zstd::zstd_safe::get_dict_id_from_dict(&bytes)?.get();
        let decoder = zstd::dict::DecoderDictionary::copy(&bytes);
        Some(Self { id, bytes, decoder })
    }

    /// zstd's id of the dictionary, which frames packed with it carry.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// The dictionary as stored.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl std::fmt::Debug for Dictionary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dictionary").field("id", &self.id).field("bytes", &self.bytes.len()).finish()
    }
}

/// Packs alert bodies with the store's current dictionary, if it has one
/// ([`crate::Store::packer`]). Cheap to clone: batches are packed where they
/// are parsed, outside the store's write lock.
#[derive(Debug, Clone, Default)]
pub struct Packer(Option<Arc<Dictionary>>);

impl Packer {
    pub(crate) fn with(dictionary: Arc<Dictionary>) -> Self {
        Self(Some(dictionary))
    }

    /// Packs `doc` (the normalised alert as JSON) with `original` (the record as received).
    #[must_use]
    pub fn pack(&self, doc: &str, original: &[u8]) -> AlertBody {
        AlertBody(compress(&plain(doc, original), self.0.as_deref()))
    }

    /// The id of the dictionary bodies are packed with, if any.
    #[must_use]
    pub fn dictionary_id(&self) -> Option<u32> {
        self.0.as_ref().map(|d| d.id)
    }
}

/// The layout a body packs: a length prefix, the original, then the document,
/// which finds its matches in the original.
fn plain(doc: &str, original: &[u8]) -> Vec<u8> {
    let len = u32::try_from(original.len()).unwrap_or(u32::MAX);
    let mut plain = Vec::with_capacity(4 + original.len() + doc.len());
    plain.extend_from_slice(&len.to_le_bytes());
    plain.extend_from_slice(&original[..len as usize]);
    plain.extend_from_slice(doc.as_bytes());
    plain
}

/// The dictionary a packed body needs, if any.
pub(crate) fn dictionary_of(body: &[u8]) -> Option<u32> {
    zstd::zstd_safe::get_dict_id_from_frame(body).map(std::num::NonZeroU32::get)
}

/// Trains a dictionary on stored alerts' contents; `None` when there are too
/// few to train on, or when it would pack them less than a tenth smaller.
pub(crate) fn train(samples: &[AlertContent]) -> Option<Dictionary> {
    let samples: Vec<Vec<u8>> = samples.iter().map(|c| plain(&c.doc, &c.original)).collect();
    let dictionary = Dictionary::new(zstd::dict::from_samples(&samples, DICTIONARY_BYTES).ok()?)?;
    let with: usize = samples.iter().map(|s| compress(s, Some(&dictionary)).len()).sum();
    let without: usize = samples.iter().map(|s| compress(s, None).len()).sum();
    (with * 10 < without * 9).then_some(dictionary)
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
    /// Unpacks a row's `body` (with `dictionary`, when [`dictionary_of`] the
    /// body names one) or, for rows written before migration 13, its `doc`
    /// text and `original` (zstd or zlib).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] naming the alert when the stored bytes do not unpack.
    pub(crate) fn unpack(
        id: &str,
        body: Option<&[u8]>,
        doc: &str,
        original: Option<&[u8]>,
        dictionary: Option<&Dictionary>,
    ) -> Result<Self> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("alert {id}: {what}"));
        let Some(body) = body else {
            let original = match original {
                Some(o) if !o.is_empty() => {
                    decompress(o, None).map_err(|e| corrupt(&format!("original record: {e}")))?
                }
                _ => Vec::new(),
            };
            return Ok(Self { doc: doc.to_owned(), original });
        };
        if let Some(needed) = dictionary_of(body)
            && dictionary.map(Dictionary::id) != Some(needed)
        {
            return Err(corrupt(&format!("packed body needs dictionary {needed}, which is not stored")));
        }
        let plain = decompress(body, dictionary).map_err(|e| corrupt(&format!("packed body: {e}")))?;
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

/// zstd at [`LEVEL`] through contexts reused per thread: records are small
/// and intake is the hot path; setting a context up (or loading a dictionary
/// into it) costs more than a record. One context packs without a dictionary,
/// one with the last dictionary this thread used.
fn compress(plain: &[u8], dictionary: Option<&Dictionary>) -> Vec<u8> {
    type Cached = std::cell::RefCell<Option<(u32, zstd::bulk::Compressor<'static>)>>;
    thread_local! {
        static PLAIN: Cached = const { std::cell::RefCell::new(None) };
        static WITH_DICTIONARY: Cached = const { std::cell::RefCell::new(None) };
    }
    let (cache, id) = match dictionary {
        Some(d) => (&WITH_DICTIONARY, d.id),
        None => (&PLAIN, 0),
    };
    cache.with(|z| {
        let mut z = z.borrow_mut();
        if z.as_ref().is_none_or(|(cached, _)| *cached != id) {
            let made = match dictionary {
                Some(d) => zstd::bulk::Compressor::with_dictionary(LEVEL, &d.bytes),
                None => zstd::bulk::Compressor::new(LEVEL),
            };
            *z = made.ok().map(|c| (id, c));
        }
        // Only a context that could not be made (out of memory) leaves this empty.
        z.as_mut().and_then(|(_, c)| c.compress(plain).ok()).unwrap_or_default()
    })
}

/// Expands a zstd frame (with its dictionary), or a zlib stream as the first
/// releases wrote originals, to at most [`MAX_UNPACKED`] bytes.
fn decompress(stored: &[u8], dictionary: Option<&Dictionary>) -> std::io::Result<Vec<u8>> {
    let cap = u64::try_from(MAX_UNPACKED).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::new();
    if stored.starts_with(&ZSTD_MAGIC) {
        match dictionary {
            Some(d) => zstd::stream::read::Decoder::with_prepared_dictionary(stored, &d.decoder)?
                .take(cap)
                .read_to_end(&mut out)?,
            None => zstd::stream::read::Decoder::new(stored)?.take(cap).read_to_end(&mut out)?,
        };
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
                let back = AlertContent::unpack("alert--1", Some(body.as_bytes()), "", None, None).unwrap();
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
            let back = AlertContent::unpack("alert--old", None, "{\"a\":1}", Some(&stored), None).unwrap();
            assert_eq!(back, AlertContent { doc: "{\"a\":1}".into(), original: original.clone() });
        }
        let none = AlertContent::unpack("alert--old", None, "{}", None, None).unwrap();
        assert!(none.original.is_empty());
    }

    #[test]
    fn corrupt_bodies_are_refused_naming_the_alert() {
        let short = compress(&[1, 0], None);
        let lying = compress(&[200, 0, 0, 0, b'x'], None);
        let not_utf8 = compress(&[1, 0, 0, 0, b'x', 0xff, 0xfe], None);
        for bad in [&b"not zstd"[..], &[0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3], &short, &lying, &not_utf8] {
            let e = AlertContent::unpack("alert--7", Some(bad), "", None, None).unwrap_err();
            assert!(matches!(&e, StoreError::Corrupt(m) if m.starts_with("alert alert--7: ")), "{e}");
        }
    }

    /// Suricata-like alerts that differ where a sensor's stream differs.
    fn alerts(n: usize, seed: usize) -> Vec<AlertContent> {
        let skip = seed * 40_000;
        let r = noise(skip + n * 8);
        let r = &r[skip..];
        (0..n)
            .map(|i| {
                let b = &r[i * 8..i * 8 + 8];
                let original = format!(
                    r#"{{"timestamp":"2026-11-29T06:{:02}:{:02}.{:06}+0000","flow_id":{}{},"event_type":"alert","src_ip":"203.0.113.{}","src_port":{},"dest_ip":"10.31.{}.{}","dest_port":443,"proto":"TCP","alert":{{"action":"allowed","gid":1,"signature_id":{},"rev":7,"signature":"ET POLICY rule number {}","category":"Potentially Bad Traffic","severity":2}}}}"#,
                    b[0] % 60, b[1] % 60, u32::from(b[2]) * 3907, b[3], u64::from(b[4]) * 1_000_003, b[5], u16::from(b[6]) * 200, b[6], b[7], 2_100_000 + i % 50, i % 50
                );
                let doc = format!(r#"{{"rule":{{"name":"ET POLICY rule number {}"}},"observables":[{{"kind":"ipv4","value":"203.0.113.{}"}}]}}"#, i % 50, b[5]);
                AlertContent { doc, original: original.into_bytes() }
            })
            .collect()
    }

    #[test]
    fn a_dictionary_trained_on_stored_alerts_packs_new_ones_smaller_and_they_read_back() {
        let dictionary = Arc::new(train(&alerts(2_000, 1)).unwrap());
        let packer = Packer::with(Arc::clone(&dictionary));
        assert_eq!(packer.dictionary_id(), Some(dictionary.id()));
        let (mut with, mut without) = (0, 0);
        for a in alerts(200, 2) {
            let body = packer.pack(&a.doc, &a.original);
            assert_eq!(dictionary_of(body.as_bytes()), Some(dictionary.id()));
            with += body.len();
            without += AlertBody::pack(&a.doc, &a.original).len();
            let back = AlertContent::unpack("alert--9", Some(body.as_bytes()), "", None, Some(&dictionary)).unwrap();
            assert_eq!(back, a);
        }
        assert!(with * 10 < without * 9, "with the dictionary {with} bytes, without {without}");
        // Bodies packed without a dictionary name none, and read without one.
        let plain = AlertBody::pack("{}", b"x");
        assert_eq!(dictionary_of(plain.as_bytes()), None);
    }

    #[test]
    fn a_body_refuses_to_unpack_without_its_dictionary() {
        let one = Arc::new(train(&alerts(1_000, 3)).unwrap());
        let body = Packer::with(Arc::clone(&one)).pack("{}", b"record");
        for missing in [None, Some(&Dictionary { id: one.id() ^ 1, ..Dictionary::new(one.bytes().to_vec()).unwrap() })]
        {
            let e = AlertContent::unpack("alert--8", Some(body.as_bytes()), "", None, missing).unwrap_err();
            let m = e.to_string();
            assert!(m.contains("alert alert--8") && m.contains(&format!("dictionary {}", one.id())), "{m}");
        }
    }

    #[test]
    fn no_dictionary_is_trained_from_too_few_or_unlike_records() {
        assert!(train(&alerts(3, 4)).is_none());
        let random: Vec<AlertContent> =
            noise(500_000).chunks(1_000).map(|c| AlertContent { doc: String::new(), original: c.to_vec() }).collect();
        assert!(train(&random).is_none());
        assert!(Dictionary::new(b"not a dictionary".to_vec()).is_none());
    }
}
