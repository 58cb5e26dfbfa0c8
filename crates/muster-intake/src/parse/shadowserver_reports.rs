//! The Shadowserver report types Muster knows: file-name stem, IntelMQ feed
//! name, `classification.identifier`, RSIT type and `protocol.application`.
//! Identifiers and feed names follow IntelMQ's Shadowserver parser; the RSIT
//! type is IntelMQ's `classification.type` in RSIT v1003 spelling.

/// One report type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportType {
    /// File-name stem, e.g. `scan_redis` (found in `2019-01-01-scan_redis-test-geo.csv`).
    pub file: &'static str,
    pub feed_name: &'static str,
    pub identifier: &'static str,
    pub rsit_type: &'static str,
    pub application: Option<&'static str>,
}

const fn r(
    file: &'static str,
    feed_name: &'static str,
    identifier: &'static str,
    rsit_type: &'static str,
    application: Option<&'static str>,
) -> ReportType {
    ReportType { file, feed_name, identifier, rsit_type, application }
}

const VS: &str = "vulnerable-system";
const AMP: &str = "ddos-amplifier";
const PUA: &str = "potentially-unwanted-accessible";
const INF: &str = "infected-system";

/// Every report type with a sample in `shared/data/samples/shadowserver`.
pub const REPORTS: &[ReportType] = &[
    r("blocklist", "Blocklist", "blocklist", "other", None),
    r("compromised_website", "Compromised Website", "compromised-website", "system-compromise", Some("http")),
    r("device_id", "Device Identification IPv4", "device-id", "undetermined", None),
    r("event4_ddos_participant", "Honeypot DDoS Participant Events", "ddos-participant", "ddos", None),
    r("event4_honeypot_brute_force", "Honeypot Brute Force Events", "brute-force", "brute-force", None),
    r("event4_honeypot_darknet", "Honeypot Darknet", "darknet", "scanner", None),
    r("event4_honeypot_ddos", "Honeypot DDoS Events", "honeypot-ddos", "ddos", None),
    r("event4_honeypot_ddos_amp", "Honeypot Amplification DDoS Events", "amplification-ddos-victim", "ddos", None),
    r("event4_honeypot_ddos_target", "Honeypot DDoS Target Events", "ddos-target", "ddos", None),
    r("event4_honeypot_http_scan", "Honeypot HTTP Scan", "http-scan", "scanner", Some("http")),
    r("event4_ip_spoofer", "IP Spoofer Events", "ip-spoofer", "masquerade", None),
    r("event4_microsoft_sinkhole", "Sinkhole Events IPv4 Microsoft", "microsoft-sinkhole", INF, None),
    r(
        "event4_microsoft_sinkhole_http",
        "Sinkhole HTTP Events IPv4 Microsoft",
        "microsoft-sinkhole-http",
        INF,
        Some("http"),
    ),
    r("event4_sinkhole", "Sinkhole Events IPv4", "sinkhole", INF, None),
    r("event4_sinkhole_dns", "Sinkhole DNS Events IPv4", "sinkhole-dns", INF, Some("dns")),
    r("event4_sinkhole_http", "Sinkhole HTTP Events IPv4", "sinkhole-http", INF, Some("http")),
    r(
        "event4_sinkhole_http_referer",
        "Sinkhole HTTP Referer Events IPv4",
        "sinkhole-http-referer",
        "other",
        Some("http"),
    ),
    r("event6_sinkhole_http", "Sinkhole HTTP Events IPv6", "sinkhole-http", INF, Some("http")),
    r("malware_url", "Malware URL", "malware-url", "malware-distribution", None),
    r("phish_url", "Phish URL", "phish-url", "phishing", None),
    r(
        "population_http_proxy",
        "Accessible HTTP Proxy Population",
        "population-http-proxy",
        "other",
        Some("http-proxy"),
    ),
    r("sandbox_conn", "Sandbox Connection", "sandbox-conn", "malware-configuration", None),
    r("sandbox_dns", "Sandbox DNS", "sandbox-dns", "malware-configuration", Some("dns")),
    r("sandbox_url", "Sandbox URL", "sandbox-url", "malware-configuration", Some("http")),
    r("scan_adb", "Accessible Android Debug Bridge", "accessible-adb", PUA, Some("adb")),
    r("scan_afp", "Accessible Apple Filing Protocol", "accessible-afp", PUA, Some("afp")),
    r("scan_amqp", "Accessible AMQP", "accessible-amqp", PUA, Some("amqp")),
    r("scan_ard", "Accessible Apple Remote Desktop", "accessible-ard", AMP, Some("ard")),
    r("scan_chargen", "Open Chargen", "open-chargen", AMP, Some("chargen")),
    r(
        "scan_cisco_smart_install",
        "Accessible Cisco Smart Install",
        "accessible-cisco-smart-install",
        VS,
        Some("cisco-smart-install"),
    ),
    r("scan_coap", "Accessible CoAP", "accessible-coap", AMP, Some("coap")),
    r("scan_couchdb", "Open CouchDB", "open-couchdb", PUA, Some("couchdb")),
    r("scan_cwmp", "Accessible CWMP", "accessible-cwmp", PUA, Some("cwmp")),
    r("scan_db2", "Open DB2 Discovery Service", "open-db2-discovery-service", AMP, Some("db2")),
    r("scan_ddos_middlebox", "Vulnerable DDoS Middlebox", "ddos-middlebox", AMP, None),
    r("scan_dns", "DNS Open Resolvers", "dns-open-resolver", AMP, Some("dns")),
    r("scan_docker", "Open Docker", "open-docker", PUA, Some("docker")),
    r(
        "scan_dvr_dhcpdiscover",
        "Accessible DVR DHCPDiscover",
        "accessible-dvr-dhcpdiscover",
        AMP,
        Some("dvr-dhcpdiscover"),
    ),
    r("scan_elasticsearch", "Open Elasticsearch", "open-elasticsearch", PUA, Some("elasticsearch")),
    r("scan_exchange", "Vulnerable Exchange Server", "vulnerable-exchange-server", VS, Some("https")),
    r("scan_ftp", "Accessible FTP", "accessible-ftp", PUA, Some("ftp")),
    r("scan_hadoop", "Accessible Hadoop", "accessible-hadoop", PUA, Some("hadoop")),
    r("scan_http", "Accessible HTTP", "accessible-http", PUA, Some("http")),
    r("scan_http_proxy", "Open HTTP Proxy", "open-http-proxy", PUA, Some("http-proxy")),
    r("scan_http_vulnerable", "Vulnerable HTTP", "vulnerable-http", VS, Some("http")),
    r("scan_ics", "Accessible ICS", "accessible-ics", PUA, None),
    r("scan_ipmi", "Open IPMI", "open-ipmi", AMP, Some("ipmi")),
    r("scan_ipp", "Open IPP", "open-ipp", PUA, Some("ipp")),
    r("scan_isakmp", "Vulnerable ISAKMP", "vulnerable-isakmp", VS, Some("isakmp")),
    r("scan_kubernetes", "Open Kubernetes", "open-kubernetes", PUA, Some("kubernetes")),
    r("scan_ldap_tcp", "Open LDAP TCP", "open-ldap", PUA, Some("ldap")),
    r("scan_ldap_udp", "Open LDAP", "open-ldap", AMP, Some("ldap")),
    r("scan_mdns", "Open mDNS", "open-mdns", AMP, Some("mdns")),
    r("scan_memcached", "Open Memcached", "open-memcached", AMP, Some("memcached")),
    r("scan_mongodb", "Open MongoDB", "open-mongodb", PUA, Some("mongodb")),
    r("scan_mqtt", "Open MQTT", "open-mqtt", PUA, Some("mqtt")),
    r("scan_mqtt_anon", "Open Anonymous MQTT", "open-mqtt-anon", PUA, Some("mqtt")),
    r("scan_mssql", "Open MSSQL", "open-mssql", AMP, Some("mssql")),
    r("scan_mysql", "Accessible MySQL", "accessible-mysql", PUA, Some("mysql")),
    r("scan_nat_pmp", "Open NATPMP", "open-natpmp", AMP, Some("natpmp")),
    r("scan_netbios", "Open NetBIOS", "open-netbios-nameservice", AMP, Some("netbios")),
    r("scan_netis_router", "Open Netis", "open-netis", VS, None),
    r("scan_ntp", "NTP Version", "ntp-version", AMP, Some("ntp")),
    r("scan_ntpmonitor", "NTP Monitor", "ntp-monitor", AMP, Some("ntp")),
    r("scan_portmapper", "Open Portmapper", "open-portmapper", AMP, Some("portmapper")),
    r("scan_postgres", "Accessible PostgreSQL", "accessible-postgres", PUA, Some("postgres")),
    r("scan_qotd", "Open QOTD", "open-qotd", AMP, Some("qotd")),
    r("scan_quic", "Accessible QUIC", "accessible-quic", PUA, Some("quic")),
    r("scan_radmin", "Accessible Radmin", "accessible-radmin", PUA, Some("radmin")),
    r("scan_rdp", "Accessible RDP", "accessible-rdp", PUA, Some("rdp")),
    r("scan_rdpeudp", "Accessible MS-RDPEUDP", "accessible-msrdpeudp", AMP, Some("rdpeudp")),
    r("scan_redis", "Open Redis", "open-redis", PUA, Some("redis")),
    r("scan_rsync", "Accessible Rsync", "accessible-rsync", PUA, Some("rsync")),
    r("scan_sip", "Accessible SIP", "accessible-sip", AMP, Some("sip")),
    r("scan_slp", "Accessible SLP", "accessible-slp", AMP, Some("slp")),
    r("scan_smb", "Accessible SMB", "accessible-smb", PUA, Some("smb")),
    r("scan_smtp_vulnerable", "Vulnerable SMTP", "vulnerable-smtp", VS, Some("smtp")),
    r("scan_snmp", "Open SNMP", "open-snmp", AMP, Some("snmp")),
    r("scan_socks", "Accessible SOCKS4/5 Proxy", "accessible-socks", PUA, Some("socks")),
    r("scan_ssdp", "Open SSDP", "open-ssdp", AMP, Some("ssdp")),
    r("scan_ssh", "Accessible SSH", "accessible-ssh", PUA, Some("ssh")),
    r("scan_ssl", "Accessible SSL", "accessible-ssl", PUA, Some("https")),
    r("scan_ssl_freak", "SSL FREAK Vulnerable Servers", "ssl-freak", "weak-crypto", Some("https")),
    r("scan_ssl_poodle", "SSL POODLE Vulnerable Servers", "ssl-poodle", "weak-crypto", Some("https")),
    r("scan_stun", "Accessible STUN", "accessible-stun", AMP, Some("stun")),
    r("scan_synfulknock", "SYNful Knock", "synfulknock", "system-compromise", None),
    r("scan_telnet", "Accessible Telnet", "accessible-telnet", PUA, Some("telnet")),
    r("scan_tftp", "Open TFTP", "open-tftp", AMP, Some("tftp")),
    r(
        "scan_ubiquiti",
        "Accessible Ubiquiti Discovery Service",
        "accessible-ubiquiti-discovery-service",
        AMP,
        Some("ubiquiti"),
    ),
    r("scan_vnc", "Accessible VNC", "accessible-vnc", PUA, Some("vnc")),
    r(
        "scan_ws_discovery",
        "Accessible WS-Discovery Service",
        "accessible-ws-discovery-service",
        AMP,
        Some("ws-discovery"),
    ),
    r("scan_xdmcp", "Open XDMCP", "open-xdmcp", AMP, Some("xdmcp")),
    r("special", "Special", "special", VS, None),
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
