//! Keyword classification into RSIT for sources that carry no taxonomy of
//! their own (CEF, LEEF, Wazuh groups, ECS categories). First match wins, so
//! specific words come before general ones.

use muster_core::taxonomy::RsitType;

use super::suricata::rsit;

const KEYWORDS: &[(&[&str], &str)] = &[
    (&["phish"], "phishing"),
    (
        &[
            "ransom",
            "trojan",
            "malware",
            "virus",
            "eicar",
            "botnet",
            "backdoor",
            "worm",
            "c2",
            "command and control",
            "ioc hit",
        ],
        "infected-system",
    ),
    (
        &[
            "brute",
            "authentication_failed",
            "authentication_failures",
            "logon fail",
            "login fail",
            "multiple windows logon failures",
            "invalid_login",
            "password guess",
        ],
        "brute-force",
    ),
    (
        &["sql-inj", "sql inj", "sqli", "xss", "injection", "exploit", "attack", "shellcode", "overflow", "cve-"],
        "exploit",
    ),
    (&["scan", "recon", "probe"], "scanner"),
    (&["ddos"], "ddos"),
    (&["denial of service", "dos attack", "flood"], "dos"),
    (&["spam"], "spam"),
    (&["privilege", "root", "admin"], "privileged-account-compromise"),
    (&["ids", "intrusion", "signature", "appfw", "waf", "suspicious", "credential"], "ids-alert"),
];

/// The RSIT type the first matching keyword names, if any.
#[must_use]
pub fn by_keywords(texts: &[&str]) -> Option<RsitType> {
    let lower: Vec<String> = texts.iter().map(|t| t.to_ascii_lowercase()).collect();
    KEYWORDS.iter().find(|(words, _)| words.iter().any(|w| lower.iter().any(|t| t.contains(w)))).map(|(_, t)| rsit(t))
}

/// [`by_keywords`] or `other/undetermined`.
#[must_use]
pub fn or_undetermined(texts: &[&str]) -> RsitType {
    by_keywords(texts).unwrap_or_else(|| rsit("undetermined"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_types_are_real_and_matched() {
        for (_, t) in KEYWORDS {
            assert!(RsitType::parse(t).is_ok(), "{t}");
        }
        assert_eq!(or_undetermined(&["Eicar_test_file"]).as_str(), "infected-system");
        assert_eq!(or_undetermined(&["SQL-INJ exec()"]).as_str(), "exploit");
        assert_eq!(or_undetermined(&["User Signed In"]).as_str(), "undetermined");
    }
}
