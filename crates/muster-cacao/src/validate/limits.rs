//! Checks that run on the raw bytes, before any parsing.

use super::{Issue, Limits};

/// Size and nesting depth. The depth is counted on the bytes so that a
/// 10,000-deep document is refused without recursing into it.
pub(super) fn check(json: &[u8], limits: &Limits) -> Result<(), Issue> {
    if json.len() > limits.max_bytes {
        return Err(Issue {
            path: String::new(),
            message: format!("document is {} bytes; the limit is {} bytes", json.len(), limits.max_bytes),
        });
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, &b) in json.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > limits.max_depth {
                    return Err(Issue {
                        path: String::new(),
                        message: format!("JSON nesting deeper than {} levels (at byte {offset})", limits.max_depth),
                    });
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// A `serde_path_to_error` path as a JSON pointer.
pub(super) fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for s in path.iter() {
        match s {
            Segment::Seq { index } => {
                out.push('/');
                out.push_str(&index.to_string());
            }
            Segment::Map { key } => {
                out.push('/');
                out.push_str(&super::seg(key));
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    out
}
