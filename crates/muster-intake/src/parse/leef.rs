//! IBM QRadar LEEF 1.0 and 2.0, bare or behind a syslog header. LEEF 1.0
//! separates attributes with tabs; LEEF 2.0 may name its own delimiter in a
//! sixth header field (a character, or hex as `x09` / `0x09`).

use super::cef::split_header;
use super::{ParseOptions, classify, clip, kv, text};
use crate::alert::{Alert, Format, Rule, Severity};
use crate::reject::Reject;
use crate::syslog;

/// Parses one LEEF line.
///
/// # Errors
/// No `LEEF:` marker, a short header, an unknown version.
pub fn parse(record: &[u8], options: &ParseOptions) -> Result<Alert, Reject> {
    let line = text(record, options)?.trim_end_matches(['\r', '\n']);
    let at = line.find("LEEF:").ok_or_else(|| Reject::syntax("no `LEEF:` header"))?;
    let sys = syslog::parse(&line[..at], options.year());
    let body = &line[at + 5..];
    let (header, rest) = split_header(body, 5)
        .ok_or_else(|| Reject::syntax("LEEF header needs 5 `|`-separated fields").at_field("header"))?;
    let [version, vendor, product, dev_version, event_id] = &header[..] else {
        return Err(Reject::syntax("LEEF header needs 5 fields").at_field("header"));
    };
    let (delimiter, attributes) = match version.trim() {
        "1.0" | "1" => ('\t', rest),
        "2.0" | "2" => leef2_delimiter(rest),
        v => {
            return Err(Reject::invalid("header.version", format!("unsupported LEEF version {v:?}")));
        }
    };
    let pairs = split_attributes(attributes, delimiter, options.max_field_len);
    let category = pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case("cat")).map(|(_, v)| v.clone());
    let event = event_id.trim();
    let title = match &category {
        Some(c) if !c.is_empty() => format!("{c}: {event}"),
        _ => event.to_owned(),
    };
    let mut alert = Alert::new(
        Format::Leef,
        format!("{} {}", vendor.trim(), product.trim()).trim(),
        clip(&title, options.max_field_len),
        options.received_at,
        classify::or_undetermined(&[event, category.as_deref().unwrap_or("")]),
    );
    alert.rule = Some(Rule {
        id: Some(event.to_owned()).filter(|s| !s.is_empty()),
        name: None,
        category: category.filter(|c| !c.is_empty()),
    });
    alert.severity = Severity::Medium;
    let mut rest_pairs = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        if k == "sev" {
            // LEEF sev is 1-10.
            match v.trim().parse::<u64>() {
                Ok(n) if n <= 10 => alert.severity = Severity::from_0_to_10(n),
                _ => alert.warnings.push(format!("sev: {v:?} is not 1-10")),
            }
        } else if !k.eq_ignore_ascii_case("cat") {
            rest_pairs.push((k, v));
        }
    }
    let time = kv::apply(&mut alert, &rest_pairs, options.year());
    Ok(kv::finish(alert, dev_version, &sys, time, options, record))
}

/// Reads the optional LEEF 2.0 delimiter field; tab when absent.
fn leef2_delimiter(rest: &str) -> (char, &str) {
    if let Some((field, after)) = rest.split_once('|') {
        let f = field.trim();
        let hex = f
            .strip_prefix("0x")
            .or_else(|| f.strip_prefix("0X"))
            .or_else(|| f.strip_prefix('x'))
            .or_else(|| f.strip_prefix('X'));
        if let Some(h) = hex.filter(|h| (2..=4).contains(&h.len()))
            && let Some(c) = u32::from_str_radix(h, 16).ok().and_then(char::from_u32)
        {
            return (c, after);
        }
        let mut chars = field.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            return (c, after);
        }
        if field.is_empty() {
            return ('\t', after);
        }
    }
    ('\t', rest)
}

/// Splits `k=v<delim>k=v`. A tab-delimited line with no tab but literal `\t`
/// sequences (PAN-OS templates) is read as if they were tabs.
fn split_attributes(s: &str, delimiter: char, max_field: usize) -> Vec<(String, String)> {
    let owned;
    let s = if delimiter == '\t' && !s.contains('\t') && s.contains("\\t") {
        owned = s.replace("\\t", "\t");
        owned.as_str()
    } else {
        s
    };
    // CyberArk PTA writes its first attributes `|`-separated before the tabs.
    let first_end = s.find(delimiter).unwrap_or(s.len());
    let (head, tail) = s.split_at(first_end);
    let head_parts: Vec<&str> =
        if delimiter == '\t' && head.contains('|') { head.split('|').collect() } else { vec![head] };
    head_parts
        .into_iter()
        .chain(tail.split(delimiter))
        .filter_map(|attr| {
            let (k, v) = attr.split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_owned(), clip(v, max_field).to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leef2_delimiter_forms() {
        assert_eq!(leef2_delimiter("^|a=1^b=2"), ('^', "a=1^b=2"));
        assert_eq!(leef2_delimiter("x09|a=1"), ('\t', "a=1"));
        assert_eq!(leef2_delimiter("0x7C|a=1"), ('|', "a=1"));
        assert_eq!(leef2_delimiter("a=1\tb=2"), ('\t', "a=1\tb=2"));
    }

    #[test]
    fn cyberark_pipe_separated_head_is_split() {
        let got = split_attributes("Cat=theft|sev=8|src=h1\tuserName=mike", '\t', 100);
        let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["Cat", "sev", "src", "userName"]);
    }

    #[test]
    fn attributes_split_on_the_delimiter_only() {
        let got = split_attributes("a=1^b=x=y^junk^c=", '^', 100);
        assert_eq!(got, [("a".into(), "1".into()), ("b".into(), "x=y".into()), ("c".into(), String::new())]);
    }
}
