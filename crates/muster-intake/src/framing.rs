//! Stream framing for syslog over TCP (RFC 6587): newline-delimited and
//! octet-counted (`LEN SP MSG`) frames, auto-detected per frame. The decoder
//! never buffers more than `max_frame` bytes of one frame: an oversized
//! newline frame is reported once and then skipped up to its newline.

/// Why a frame was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame longer than {limit} bytes was dropped")]
    TooLarge { limit: usize },
    #[error("bad octet count {0:?}")]
    BadCount(String),
}

/// Splits a byte stream into frames.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max_frame: usize,
    /// Bytes still to skip of an oversized octet-counted frame, or `usize::MAX`
    /// while skipping an oversized newline frame up to its newline.
    skipping: usize,
}

/// One decoding step.
#[derive(Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// A frame (without its newline or count), and bytes consumed from the input.
    Frame(&'a [u8], usize),
    /// A dropped frame, and bytes consumed.
    Dropped(FrameError, usize),
    /// Bytes consumed with nothing to report (skipping); call again with more data.
    Skipped(usize),
    /// Need more data; nothing consumed.
    NeedMore,
}

impl FrameDecoder {
    #[must_use]
    pub const fn new(max_frame: usize) -> Self {
        Self { max_frame, skipping: 0 }
    }

    /// Decodes the next frame from the start of `buf`. Call repeatedly,
    /// dropping the consumed bytes each time. At end of stream, a trailing
    /// unterminated newline frame can be taken with [`FrameDecoder::finish`].
    pub fn decode<'a>(&mut self, buf: &'a [u8]) -> Step<'a> {
        if buf.is_empty() {
            return Step::NeedMore;
        }
        if self.skipping == usize::MAX {
            return match memchr::memchr(b'\n', buf) {
                Some(i) => {
                    self.skipping = 0;
                    Step::Skipped(i + 1)
                }
                None => Step::Skipped(buf.len()),
            };
        }
        if self.skipping > 0 {
            let n = self.skipping.min(buf.len());
            self.skipping -= n;
            return Step::Skipped(n);
        }
        if buf[0].is_ascii_digit() {
            // Octet counting: digits, one space, then exactly that many bytes.
            let digits = buf.iter().take_while(|b| b.is_ascii_digit()).count();
            if digits == buf.len() {
                return if digits > 10 { self.bad_count(buf, digits) } else { Step::NeedMore };
            }
            if buf[digits] == b' ' && digits <= 10 {
                let count: usize =
                    std::str::from_utf8(&buf[..digits]).ok().and_then(|s| s.parse().ok()).unwrap_or(usize::MAX);
                let start = digits + 1;
                if count > self.max_frame {
                    self.skipping = count;
                    return Step::Dropped(FrameError::TooLarge { limit: self.max_frame }, start);
                }
                return match buf.get(start..start + count) {
                    Some(frame) => Step::Frame(frame, start + count),
                    None => Step::NeedMore,
                };
            }
            // Digits not followed by a space: an ordinary line that starts with digits.
        }
        match memchr::memchr(b'\n', &buf[..buf.len().min(self.max_frame + 1)]) {
            Some(i) => {
                let frame = &buf[..i];
                Step::Frame(frame.strip_suffix(b"\r").unwrap_or(frame), i + 1)
            }
            None if buf.len() > self.max_frame => {
                self.skipping = usize::MAX;
                Step::Dropped(FrameError::TooLarge { limit: self.max_frame }, 0)
            }
            None => Step::NeedMore,
        }
    }

    fn bad_count<'a>(&mut self, buf: &'a [u8], digits: usize) -> Step<'a> {
        self.skipping = usize::MAX;
        let shown = String::from_utf8_lossy(&buf[..digits.min(20)]).into_owned();
        Step::Dropped(FrameError::BadCount(shown), 0)
    }

    /// The unterminated last frame at end of stream, if any.
    #[must_use]
    pub fn finish<'a>(&mut self, buf: &'a [u8]) -> Option<&'a [u8]> {
        let skipping = std::mem::take(&mut self.skipping);
        (skipping == 0 && !buf.is_empty() && buf.len() <= self.max_frame).then_some(buf)
    }
}

/// Splits a complete buffer into frames (convenience for tests and files).
#[must_use]
pub fn split_all(data: &[u8], max_frame: usize) -> Vec<Result<Vec<u8>, FrameError>> {
    let mut dec = FrameDecoder::new(max_frame);
    let mut out = Vec::new();
    let mut rest = data;
    loop {
        match dec.decode(rest) {
            Step::Frame(f, n) => {
                out.push(Ok(f.to_vec()));
                rest = &rest[n..];
            }
            Step::Dropped(e, n) => {
                out.push(Err(e));
                rest = &rest[n..];
            }
            Step::Skipped(n) => rest = &rest[n..],
            Step::NeedMore => {
                if let Some(f) = dec.finish(rest) {
                    out.push(Ok(f.to_vec()));
                }
                return out;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(data: &[u8], max: usize) -> Vec<Result<String, FrameError>> {
        split_all(data, max).into_iter().map(|r| r.map(|f| String::from_utf8_lossy(&f).into_owned())).collect()
    }

    #[test]
    fn newline_and_octet_counted_frames_mix() {
        let data = b"<13>one\r\n10 <13>two\nxx<13>three";
        assert_eq!(frames(data, 100), [Ok("<13>one".into()), Ok("<13>two\nxx".into()), Ok("<13>three".into())]);
    }

    #[test]
    fn oversized_frames_are_dropped_and_the_stream_resyncs() {
        let mut data = vec![b'a'; 50];
        data.extend_from_slice(b"\nok\n999 ");
        data.extend(vec![b'b'; 999]);
        data.extend_from_slice(b"after\n");
        assert_eq!(
            frames(&data, 10),
            [
                Err(FrameError::TooLarge { limit: 10 }),
                Ok("ok".into()),
                Err(FrameError::TooLarge { limit: 10 }),
                Ok("after".into()),
            ]
        );
    }

    #[test]
    fn incomplete_frame_waits_for_more() {
        let mut dec = FrameDecoder::new(100);
        assert_eq!(dec.decode(b"12 abc"), Step::NeedMore);
        assert_eq!(dec.decode(b"no newline yet"), Step::NeedMore);
        assert_eq!(dec.decode(b"12"), Step::NeedMore);
    }
}
