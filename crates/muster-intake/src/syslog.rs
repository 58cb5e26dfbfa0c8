//! Syslog headers: RFC 5424 and RFC 3164 (BSD), as they arrive in front of
//! CEF and LEEF payloads. Parsing never fails: text without a recognisable
//! header is all message.

use time::OffsetDateTime;

use crate::timefmt;

/// The parts of a syslog header that were present.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyslogHeader<'a> {
    /// Facility (PRI / 8), when a PRI was present.
    pub facility: Option<u8>,
    /// Severity (PRI % 8), when a PRI was present.
    pub severity: Option<u8>,
    /// `1` for RFC 5424; `None` for RFC 3164.
    pub version: Option<u8>,
    pub timestamp: Option<OffsetDateTime>,
    pub hostname: Option<&'a str>,
    /// RFC 5424 APP-NAME or RFC 3164 TAG (without `[pid]`).
    pub app_name: Option<&'a str>,
    pub proc_id: Option<&'a str>,
    pub msg_id: Option<&'a str>,
    /// RFC 5424 STRUCTURED-DATA as written (`[id k="v"]…`), when not nil.
    pub structured_data: Option<&'a str>,
}

/// A split syslog line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogMessage<'a> {
    pub header: SyslogHeader<'a>,
    pub msg: &'a str,
}

/// Splits `line` into header and message. `default_year` fills the year
/// RFC 3164 timestamps lack.
#[must_use]
pub fn parse(line: &str, default_year: i32) -> SyslogMessage<'_> {
    let mut header = SyslogHeader::default();
    let mut rest = line.trim_start_matches(['\u{feff}', ' ']);
    if let Some((pri, after)) = parse_pri(rest) {
        header.facility = Some(pri / 8);
        header.severity = Some(pri % 8);
        rest = after;
    }
    if let Some(after) = rest.strip_prefix("1 ")
        && let Some(msg) = parse_5424(after, &mut header)
    {
        return SyslogMessage { header, msg };
    }
    let msg = parse_3164(rest, &mut header, default_year);
    SyslogMessage { header, msg }
}

fn parse_pri(s: &str) -> Option<(u8, &str)> {
    let body = s.strip_prefix('<')?;
    let end = body.find('>')?;
    if end == 0 || end > 3 {
        return None;
    }
    let pri: u8 = body[..end].parse().ok()?;
    (pri <= 191).then(|| (pri, &body[end + 1..]))
}

fn nil(s: &str) -> Option<&str> {
    (s != "-").then_some(s)
}

fn parse_5424<'a>(s: &'a str, h: &mut SyslogHeader<'a>) -> Option<&'a str> {
    let mut parts = s.splitn(6, ' ');
    let ts = parts.next()?;
    let host = parts.next()?;
    let app = parts.next()?;
    let proc_id = parts.next()?;
    let msg_id = parts.next()?;
    let rest = parts.next().unwrap_or("");
    let timestamp = if ts == "-" { None } else { Some(timefmt::parse_iso(ts)?) };
    let (sd, msg) = split_structured_data(rest)?;
    h.version = Some(1);
    h.timestamp = timestamp;
    h.hostname = nil(host);
    h.app_name = nil(app);
    h.proc_id = nil(proc_id);
    h.msg_id = nil(msg_id);
    h.structured_data = sd;
    Some(msg.strip_prefix('\u{feff}').unwrap_or(msg))
}

/// Splits `-` or `[…][…]` (with `\]` and quoted values) from the message.
fn split_structured_data(s: &str) -> Option<(Option<&str>, &str)> {
    if let Some(rest) = s.strip_prefix('-') {
        return Some((None, rest.strip_prefix(' ').unwrap_or(rest)));
    }
    if !s.starts_with('[') {
        return if s.is_empty() { Some((None, "")) } else { None };
    }
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i] == b'[' {
        let mut in_quotes = false;
        i += 1;
        loop {
            match b.get(i)? {
                b'\\' => i += 1,
                b'"' => in_quotes = !in_quotes,
                b']' if !in_quotes => break,
                _ => {}
            }
            i += 1;
        }
        i += 1;
    }
    let msg = &s[i..];
    Some((Some(&s[..i]), msg.strip_prefix(' ').unwrap_or(msg)))
}

fn parse_3164<'a>(s: &'a str, h: &mut SyslogHeader<'a>, year: i32) -> &'a str {
    let mut rest = s;
    // "Mmm dd hh:mm:ss" (15 chars, day space-padded) or an ISO timestamp.
    if let Some(ts) = s.get(..15).and_then(|t| timefmt::parse_bsd(t, year)) {
        h.timestamp = Some(ts);
        rest = s[15..].trim_start();
    } else if let Some((first, after)) = s.split_once(' ')
        && let Some(ts) = timefmt::parse_iso(first)
    {
        h.timestamp = Some(ts);
        rest = after.trim_start();
    }
    if h.timestamp.is_none() {
        return s;
    }
    // HOSTNAME then TAG[pid]: — either may be absent.
    let Some((word, after)) = rest.split_once(' ') else {
        return rest;
    };
    if is_tag(word) {
        set_tag(h, word);
        return after;
    }
    h.hostname = Some(word);
    if let Some((tag, msg)) = after.split_once(' ')
        && is_tag(tag)
    {
        set_tag(h, tag);
        return msg;
    }
    after
}

fn is_tag(word: &str) -> bool {
    word.len() > 1 && word.ends_with(':') && !word.starts_with("CEF:") && !word.starts_with("LEEF:")
}

fn set_tag<'a>(h: &mut SyslogHeader<'a>, word: &'a str) {
    let tag = word.trim_end_matches(':');
    if let Some((name, pid)) = tag.split_once('[') {
        h.app_name = Some(name);
        h.proc_id = Some(pid.trim_end_matches(']'));
    } else {
        h.app_name = Some(tag);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5424_with_structured_data() {
        let line = r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="App\]lication"] BOMAn application event"#;
        let m = parse(line, 2000);
        assert_eq!(m.header.facility, Some(20));
        assert_eq!(m.header.severity, Some(5));
        assert_eq!(m.header.version, Some(1));
        assert_eq!(m.header.hostname, Some("mymachine.example.com"));
        assert_eq!(m.header.app_name, Some("evntslog"));
        assert_eq!(m.header.proc_id, None);
        assert_eq!(m.header.msg_id, Some("ID47"));
        assert!(m.header.structured_data.is_some_and(|s| s.ends_with("lication\"]")));
        assert_eq!(m.msg, "BOMAn application event");
    }

    #[test]
    fn rfc5424_nil_everything() {
        let m = parse("<34>1 - - - - - - CEF:0|a|b|c|d|e|1|", 2000);
        assert_eq!(m.header.version, Some(1));
        assert_eq!(m.header.timestamp, None);
        assert_eq!(m.msg, "CEF:0|a|b|c|d|e|1|");
    }

    #[test]
    fn rfc3164_with_host_and_tag() {
        let m = parse("<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed", 2003);
        assert_eq!(m.header.hostname, Some("mymachine"));
        assert_eq!(m.header.app_name, Some("su"));
        assert_eq!(m.header.proc_id, Some("123"));
        assert_eq!(m.msg, "'su root' failed");
        let ts = m.header.timestamp.map(timefmt::format_rfc3339);
        assert_eq!(ts.as_deref(), Some("2003-10-11T22:14:15Z"));
    }

    #[test]
    fn rfc3164_tag_without_host_and_no_pri() {
        let m = parse("Jun 02 16:34:55 zscaler-nss: LEEF:1.0|x", 2020);
        assert_eq!(m.header.hostname, None);
        assert_eq!(m.header.app_name, Some("zscaler-nss"));
        assert_eq!(m.msg, "LEEF:1.0|x");
        let m = parse("May  4 18:23:02 some.host.name ASM: CEF:0|F5", 2020);
        assert_eq!(m.header.hostname, Some("some.host.name"));
        assert_eq!(m.header.app_name, Some("ASM"));
        assert_eq!(m.msg, "CEF:0|F5");
    }

    #[test]
    fn no_header_is_all_message() {
        let m = parse("CEF:0|a", 2020);
        assert_eq!(m.header, SyslogHeader::default());
        assert_eq!(m.msg, "CEF:0|a");
        let m = parse("<999>oops", 2020);
        assert_eq!(m.msg, "<999>oops");
    }
}
