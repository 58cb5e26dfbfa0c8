//! The Shadowserver report types Muster knows: file-name stem, IntelMQ feed
//! name, `classification.identifier`, RSIT type and `protocol.application`.
//! Feed names, identifiers, `classification.type` and the constant protocol
//! fields are IntelMQ 3.2.1's (checked row by row by
//! `bench/shadowserver_vs_intelmq.py`); `blocklist`'s `blacklist` type is not
//! RSIT v1003 and stays `other`.

/// One report type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportType {
    /// File-name stem, e.g. `scan_redis` (found in `2019-01-01-scan_redis-test-geo.csv`).
    pub file: &'static str,
    pub feed_name: &'static str,
    pub identifier: &'static str,
    pub rsit_type: &'static str,
    pub application: Option<&'static str>,
    /// `protocol.transport` when IntelMQ sets it for the whole report.
    pub transport: Option<&'static str>,
}

const fn r(
    file: &'static str,
    feed_name: &'static str,
    identifier: &'static str,
    rsit_type: &'static str,
    application: Option<&'static str>,
    transport: Option<&'static str>,
) -> ReportType {
    ReportType { file, feed_name, identifier, rsit_type, application, transport }
}

const VS: &str = "vulnerable-system";
const INF: &str = "infected-system";

/// Every report type with a sample in `shared/data/samples/shadowserver`.
pub const REPORTS: &[ReportType] = &[
    r("blocklist", "Blocklist", "blacklisted-ip", "other", None, None),
    r("compromised_website", "Compromised-Website", "compromised-website", "system-compromise", None, None),
    r("device_id", "Device-Identification IPv4", "device-id", "undetermined", None, None),
    r("event4_ddos_participant", "DDoS-Participant", "ddos-participant", "ddos", None, None),
    r("event4_honeypot_brute_force", "Honeypot-Brute-Force-Events", "brute-force", "brute-force", None, None),
    r("event4_honeypot_darknet", "Honeypot-Darknet", "darknet", "other", None, None),
    r("event4_honeypot_ddos", "Honeypot-DDoS", "honeypot-ddos", "ddos", None, None),
    r(
        "event4_honeypot_ddos_amp",
        "Honeypot-Amplification-DDoS-Events",
        "amplification-ddos-victim",
        "ddos",
        None,
        None,
    ),
    r("event4_honeypot_ddos_target", "Honeypot-DDoS-Target", "honeypot-ddos-target", "ddos", None, None),
    r("event4_honeypot_http_scan", "Honeypot-HTTP-Scan", "honeypot-http-scan", "scanner", Some("http"), None),
    r("event4_ip_spoofer", "IP-Spoofer-Events", "ip-spoofer", "masquerade", None, None),
    r("event4_microsoft_sinkhole", "Microsoft-Sinkhole-Events IPv4", "microsoft-sinkhole", INF, None, None),
    r(
        "event4_microsoft_sinkhole_http",
        "Microsoft-Sinkhole-Events-HTTP IPv4",
        "microsoft-sinkhole-http",
        INF,
        Some("http"),
        None,
    ),
    r("event4_sinkhole", "Sinkhole-Events", "sinkhole", INF, None, None),
    r("event4_sinkhole_dns", "Sinkhole-DNS", "sinkholedns", "other", Some("dns"), None),
    r("event4_sinkhole_http", "Sinkhole-Events-HTTP", "sinkhole-http", INF, Some("http"), None),
    r("event4_sinkhole_http_referer", "Sinkhole-Events-HTTP-Referer", "sinkhole-http-referer", "other", None, None),
    r("event6_sinkhole_http", "Sinkhole-Events-HTTP IPv6", "sinkhole-http", INF, Some("http"), None),
    r("malware_url", "Malware-URL", "malware-url", "malware-distribution", None, None),
    r("phish_url", "Phish-URL", "phish-url", "phishing", None, None),
    r("population_http_proxy", "Accessible-HTTP-Proxy", "accessible-http-proxy", "other", Some("http"), None),
    r("sandbox_conn", "Sandbox-Connections", "sandbox-conn", "malware-distribution", None, None),
    r("sandbox_dns", "Sandbox-DNS", "sandbox-dns", "other", Some("dns"), None),
    r("sandbox_url", "Sandbox-URL", "sandbox-url", "malware-distribution", None, None),
    r("scan_adb", "Accessible-ADB", "accessible-adb", VS, Some("adb"), None),
    r("scan_afp", "Accessible-AFP", "accessible-afp", VS, Some("afp"), None),
    r("scan_amqp", "Accessible-AMQP", "accessible-amqp", VS, Some("amqp"), None),
    r("scan_ard", "Accessible-ARD", "accessible-ard", VS, None, None),
    r("scan_chargen", "Open-Chargen", "open-chargen", VS, Some("chargen"), None),
    r(
        "scan_cisco_smart_install",
        "Accessible-Cisco-Smart-Install",
        "accessible-cisco-smart-install",
        VS,
        Some("cisco-smart-install"),
        None,
    ),
    r("scan_coap", "Accessible-CoAP", "accessible-coap", VS, Some("coap"), None),
    r("scan_couchdb", "Accessible-CouchDB", "open-couchdb", "other", Some("CouchDB"), None),
    r("scan_cwmp", "Accessible-CWMP", "open-cwmp", VS, Some("cwmp"), None),
    r("scan_db2", "Open-DB2-Discovery-Service", "open-db2-discovery-service", VS, Some("db2"), None),
    r("scan_ddos_middlebox", "Vulnerable-DDoS-Middlebox", "open-ddos-middlebox", VS, None, None),
    r("scan_dns", "DNS-Open-Resolvers", "dns-open-resolver", VS, Some("dns"), None),
    r("scan_docker", "Accessible-Docker", "open-docker", VS, Some("docker"), None),
    r("scan_dvr_dhcpdiscover", "Accessible-DVR-DHCPDiscover", "open-dvr-dhcpdiscover", VS, None, None),
    r("scan_elasticsearch", "Open-Elasticsearch", "open-elasticsearch", VS, Some("elasticsearch"), None),
    r("scan_exchange", "Vulnerable-Exchange-Server", "vulnerable-exchange-server", VS, None, None),
    r("scan_ftp", "Accessible-FTP", "accessible-ftp", VS, Some("ftp"), None),
    r("scan_hadoop", "Accessible-Hadoop", "accessible-hadoop", VS, Some("hadoop"), Some("tcp")),
    r("scan_http", "Accessible-HTTP", "accessible-http", "other", Some("http"), None),
    r("scan_http_proxy", "Open-HTTP-Proxy", "open-http-proxy", VS, Some("http"), None),
    r("scan_http_vulnerable", "Vulnerable-HTTP", "accessible-http", VS, Some("http"), None),
    r("scan_ics", "Accessible-ICS", "open-ics", VS, None, None),
    r("scan_ipmi", "Open-IPMI", "open-ipmi", VS, Some("ipmi"), Some("udp")),
    r("scan_ipp", "Open-IPP", "open-ipp", VS, Some("ipp"), None),
    r("scan_isakmp", "Vulnerable-ISAKMP", "open-ike", VS, Some("ipsec"), None),
    r("scan_kubernetes", "Accessible-Kubernetes-API", "open-kubernetes", VS, Some("kubernetes"), None),
    r("scan_ldap_tcp", "Open-LDAP-TCP", "open-ldap", VS, Some("ldap"), None),
    r("scan_ldap_udp", "Open-LDAP", "open-ldap", VS, Some("ldap"), None),
    r("scan_mdns", "Open-mDNS", "open-mdns", VS, Some("mdns"), None),
    r("scan_memcached", "Open-Memcached", "open-memcached", VS, Some("memcached"), None),
    r("scan_mongodb", "Open-MongoDB", "open-mongodb", VS, Some("mongodb"), None),
    r("scan_mqtt", "Open-MQTT", "open-mqtt", VS, Some("mqtt"), None),
    r("scan_mqtt_anon", "Open-Anonymous-MQTT", "open-mqtt-anon", VS, Some("mqtt"), None),
    r("scan_mssql", "Open-MSSQL", "open-mssql", VS, Some("mssql"), None),
    r("scan_mysql", "Accessible-MySQL", "open-mysql", "other", Some("mysql"), None),
    r("scan_nat_pmp", "Open-NATPMP", "open-natpmp", VS, Some("natpmp"), None),
    r("scan_netbios", "Open-NetBIOS-Nameservice", "open-netbios-nameservice", VS, Some("netbios-nameservice"), None),
    r("scan_netis_router", "Open-Netis", "open-netis", VS, None, Some("udp")),
    r("scan_ntp", "NTP-Version", "ntp-version", VS, Some("ntp"), None),
    r("scan_ntpmonitor", "NTP-Monitor", "ntp-monitor", VS, Some("ntp"), None),
    r("scan_portmapper", "Open-Portmapper", "open-portmapper", VS, Some("portmapper"), None),
    r("scan_postgres", "Accessible-PostgreSQL", "open-postgres", "other", Some("postgres"), None),
    r("scan_qotd", "Open-QOTD", "open-qotd", VS, Some("qotd"), None),
    r("scan_quic", "Accessible-QUIC", "open-quic", "other", None, None),
    r("scan_radmin", "Accessible-Radmin", "accessible-radmin", VS, None, None),
    r("scan_rdp", "Accessible-RDP", "open-rdp", VS, Some("rdp"), Some("tcp")),
    r("scan_rdpeudp", "Accessible-RDPEUDP", "accessible-msrdpeudp", VS, None, None),
    r("scan_redis", "Open-Redis", "open-redis", VS, Some("redis"), None),
    r("scan_rsync", "Accessible-Rsync", "accessible-rsync", VS, Some("rsync"), None),
    r("scan_sip", "Accessible-SIP", "open-sip", VS, Some("sip"), None),
    r("scan_slp", "Accessible-SLP", "open-slp", VS, Some("slp"), None),
    r("scan_smb", "Accessible-SMB", "open-smb", VS, Some("smb"), Some("tcp")),
    r("scan_smtp_vulnerable", "Vulnerable-SMTP", "vulnerable-smtp", VS, Some("smtp"), None),
    r("scan_snmp", "Open-SNMP", "open-snmp", VS, Some("snmp"), None),
    r("scan_socks", "Accessible-SOCKS4/5-Proxy", "open-socks", VS, None, None),
    r("scan_ssdp", "Open-SSDP", "open-ssdp", VS, Some("ssdp"), None),
    r("scan_ssh", "Accessible-SSH", "open-ssh", "other", None, None),
    r("scan_ssl", "Accessible-SSL", "open-ssl", "other", Some("https"), None),
    r("scan_ssl_freak", "SSL-FREAK-Vulnerable-Servers", "ssl-freak", VS, Some("https"), None),
    r("scan_ssl_poodle", "SSL-POODLE-Vulnerable-Servers IPv4", "ssl-poodle", VS, Some("https"), None),
    r(
        "scan_stun",
        "Accessible-Session-Traversal-Utilities-for-NAT",
        "open-stun",
        "other",
        Some("Session Traversal Utilities for NAT"),
        None,
    ),
    r("scan_synfulknock", "SYNful-Knock", "open-synfulknock", VS, None, None),
    r("scan_telnet", "Accessible-Telnet", "open-telnet", VS, Some("telnet"), None),
    r("scan_tftp", "Open-TFTP", "open-tftp", VS, Some("tftp"), None),
    r(
        "scan_ubiquiti",
        "Accessible-Ubiquiti-Discovery-Service",
        "accessible-ubiquiti-discovery-service",
        VS,
        None,
        None,
    ),
    r("scan_vnc", "Accessible-VNC", "open-vnc", VS, Some("vnc"), Some("tcp")),
    r("scan_ws_discovery", "Accessible-WS-Discovery-Service", "open-ws-discovery", VS, Some("ws-discovery"), None),
    r("scan_xdmcp", "Open-XDMCP", "open-xdmcp", VS, Some("xdmcp"), None),
    r("special", "Special", "special", VS, None, None),
];

/// The report type named in a file name (longest matching stem wins, so
/// `scan_ssl_freak` beats `scan_ssl`).
#[must_use]
pub fn find(file_name: &str) -> Option<&'static ReportType> {
    let lower = file_name.to_ascii_lowercase();
    REPORTS
        .iter()
        .filter(|r| {
            lower.match_indices(r.file).any(|(i, _)| {
                let before = lower[..i].chars().next_back();
                let after = lower[i + r.file.len()..].chars().next();
                let edge = |c: Option<char>| c.is_none_or(|c| !c.is_ascii_alphanumeric() && c != '_');
                edge(before) && edge(after)
            })
        })
        .max_by_key(|r| r.file.len())
}
