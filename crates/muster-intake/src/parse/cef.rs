//! ArcSight Common Event Format, bare or behind an RFC 5424 / 3164 syslog
//! header. Escaping follows the CEF spec: in the header `\|` and `\\`; in
//! the extension `\=`, `\\`, `\n`, `\r`, with values running up to the space
//! before the next `key=`.

use super::{ParseOptions, classify, clip, kv, text};
use crate::alert::{Alert, Format, Rule, Severity};
use crate::reject::Reject;
use crate::syslog;

/// Parses one CEF line.
///
/// # Errors
/// No `CEF:` marker, fewer than seven header fields, an unknown version.
pub fn parse(record: &[u8], options: &ParseOptions) -> Result<Alert, Reject> {
    let line = text(record, options)?.trim_end_matches(['\r', '\n']);
    let at = line.find("CEF:").ok_or_else(|| Reject::syntax("no `CEF:` header"))?;
    let sys = syslog::parse(&line[..at], options.year());
    let (header, extension) = split_header(&line[at + 4..], 7)
        .ok_or_else(|| Reject::syntax("CEF header needs 7 `|`-separated fields").at_field("header"))?;
    let [version, vendor, product, dev_version, signature, name, severity] = &header[..] else {
        return Err(Reject::syntax("CEF header needs 7 fields").at_field("header"));
    };
    if !matches!(version.trim(), "0" | "1") {
        return Err(Reject::invalid("header.version", format!("unsupported CEF version {version:?}")));
    }
    let source = format!("{} {}", vendor.trim(), product.trim());
    let title = if name.trim().is_empty() { signature.trim() } else { name.trim() };
    let mut alert = Alert::new(
        Format::Cef,
        source.trim(),
        clip(title, options.max_field_len),
        options.received_at,
        classify::or_undetermined(&[name, signature]),
    );
    alert.severity = cef_severity(severity).ok_or_else(|| {
        Reject::invalid("header.severity", format!("{severity:?} is not 0-10 or Low/Medium/High/Very-High"))
    })?;
    if severity.trim().parse::<u64>().is_ok_and(|n| n > 10) {
        // Some products (F5 ASM) send larger numbers; keep the alert.
        alert.warnings.push(format!("header.severity: {severity} is above 10, read as critical"));
    }
    alert.rule = Some(Rule {
        id: Some(signature.trim().to_owned()).filter(|s| !s.is_empty()),
        name: Some(name.trim().to_owned()).filter(|s| !s.is_empty()),
        category: None,
    });
    let pairs = parse_extension(extension, options.max_field_len);
    let time = kv::apply(&mut alert, &pairs, options.year());
    if let Some(cat) = alert.extra.remove("cat")
        && let Some(r) = alert.rule.as_mut()
    {
        r.category = cat.as_str().map(str::to_owned);
    }
    Ok(kv::finish(alert, dev_version, &sys, time, options, record))
}

/// Splits `n` `|`-separated header fields (unescaping `\|` and `\\`) from the rest.
pub(crate) fn split_header(s: &str, n: usize) -> Option<(Vec<String>, &str)> {
    let mut fields = Vec::with_capacity(n);
    let mut cur = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, e @ ('|' | '\\'))) => cur.push(e),
                Some((_, e)) => {
                    cur.push('\\');
                    cur.push(e);
                }
                None => cur.push('\\'),
            },
            '|' => {
                fields.push(std::mem::take(&mut cur));
                if fields.len() == n {
                    return Some((fields, &s[i + 1..]));
                }
            }
            c => cur.push(c),
        }
    }
    None
}

fn cef_severity(s: &str) -> Option<Severity> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Some(Severity::from_0_to_10(n));
    }
    Some(match s.to_ascii_lowercase().as_str() {
        "unknown" | "" => Severity::Info,
        "low" => Severity::Low,
        "medium" => Severity::Medium,
        "high" => Severity::High,
        "very-high" | "very high" => Severity::Critical,
        _ => return None,
    })
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b',' | b'[' | b']' | b'-')
}

/// Parses `k=v k2=v two` into unescaped pairs, in order.
pub(crate) fn parse_extension(ext: &str, max_field: usize) -> Vec<(String, String)> {
    let b = ext.as_bytes();
    // (key start, '=' position) of every unescaped '=' preceded by a key at a word start.
    let mut keys: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'=' => {
                let mut start = i;
                while start > 0 && is_key_byte(b[start - 1]) {
                    start -= 1;
                }
                let at_word_start = start == 0 || b[start - 1] == b' ';
                if start < i && at_word_start {
                    keys.push((start, i));
                }
            }
            _ => {}
        }
        i += 1;
    }
    let mut out = Vec::with_capacity(keys.len());
    for (n, &(ks, eq)) in keys.iter().enumerate() {
        let end = keys.get(n + 1).map_or(b.len(), |&(next, _)| next);
        let raw = ext[eq + 1..end].trim_end();
        out.push((ext[ks..eq].to_owned(), unescape_value(clip(raw, max_field))));
    }
    out
}

fn unescape_value(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(e @ ('=' | '\\' | '|')) => out.push(e),
            Some(e) => {
                out.push('\\');
                out.push(e);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(s: &str) -> Vec<(String, String)> {
        parse_extension(s, 1 << 16)
    }

    fn p(k: &str, v: &str) -> (String, String) {
        (k.into(), v.into())
    }

    #[test]
    fn extension_values_keep_spaces_and_unescape() {
        assert_eq!(
            pairs(r"msg=a b  c src=1.2.3.4 request=http://x/y?a\=b path=C:\\dir act=x\ny"),
            [
                p("msg", "a b  c"),
                p("src", "1.2.3.4"),
                p("request", "http://x/y?a=b"),
                p("path", r"C:\dir"),
                p("act", "x\ny"),
            ]
        );
    }

    #[test]
    fn header_unescapes_pipes() {
        let (h, rest) = split_header(r"0|V\|x|P|1|sig|Name \\ here|5|k=v", 7).unwrap_or_default();
        assert_eq!(h[1], "V|x");
        assert_eq!(h[5], r"Name \ here");
        assert_eq!(rest, "k=v");
        assert!(split_header("0|a|b", 7).is_none());
    }

    #[test]
    fn severity_words_and_numbers() {
        assert_eq!(cef_severity("10"), Some(Severity::Critical));
        assert_eq!(cef_severity("3"), Some(Severity::Low));
        assert_eq!(cef_severity("Very-High"), Some(Severity::Critical));
        assert_eq!(cef_severity("40"), Some(Severity::Critical));
        assert_eq!(cef_severity("bogus"), None);
    }
}
