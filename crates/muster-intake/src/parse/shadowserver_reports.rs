//! The typed per-report field table of the Shadowserver parser: for each
//! report type (file-name stem), its IntelMQ feed name, the columns it maps
//! (column → target field, conversion), and its constant fields. The table
//! itself (`shadowserver_table.rs`) is generated from what IntelMQ 3.2.1's
//! Shadowserver parser maps, so that Muster's events equal IntelMQ's (checked
//! row by row by `bench/shadowserver_vs_intelmq.py`).

pub use super::shadowserver_table::REPORTS;

/// The IntelMQ harmonisation fields the reports map to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    ClassificationIdentifier,
    ClassificationTaxonomy,
    ClassificationType,
    DestinationAccount,
    DestinationAsn,
    DestinationFqdn,
    DestinationGeolocationCc,
    DestinationGeolocationCity,
    DestinationGeolocationRegion,
    DestinationIp,
    DestinationPort,
    DestinationReverseDns,
    DestinationUrl,
    EventDescriptionText,
    MalwareHashMd5,
    MalwareHashSha256,
    MalwareName,
    ProtocolApplication,
    ProtocolTransport,
    SourceAccount,
    SourceAsn,
    SourceFqdn,
    SourceGeolocationCc,
    SourceGeolocationCity,
    SourceGeolocationRegion,
    SourceIp,
    SourceLocalHostname,
    SourceNetwork,
    SourcePort,
    SourceReverseDns,
    SourceUrl,
    TimeSource,
}

/// How a harmonisation field's values are sanitised and validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any non-empty string (surrounding whitespace trimmed).
    Text,
    /// Printable ASCII, at most `max` characters.
    Printable {
        max: usize,
    },
    /// Lower-cased text; printable ASCII when `printable`, at most `max` characters.
    Lowercase {
        max: usize,
        printable: bool,
    },
    /// An IANA transport protocol name (lower-cased).
    Transport,
    /// Two upper-cased letters or digits.
    CountryCode,
    /// An integer, at most `max_len` characters written out.
    Integer {
        max_len: usize,
    },
    /// 1 ..= 4294967295, `AS` prefix allowed.
    Asn,
    Ip,
    Network,
    Fqdn,
    Url,
    DateTime,
    /// Classification values, set as given.
    Classification,
}

impl Field {
    /// The harmonisation field name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::ClassificationIdentifier => "classification.identifier",
            Self::ClassificationTaxonomy => "classification.taxonomy",
            Self::ClassificationType => "classification.type",
            Self::DestinationAccount => "destination.account",
            Self::DestinationAsn => "destination.asn",
            Self::DestinationFqdn => "destination.fqdn",
            Self::DestinationGeolocationCc => "destination.geolocation.cc",
            Self::DestinationGeolocationCity => "destination.geolocation.city",
            Self::DestinationGeolocationRegion => "destination.geolocation.region",
            Self::DestinationIp => "destination.ip",
            Self::DestinationPort => "destination.port",
            Self::DestinationReverseDns => "destination.reverse_dns",
            Self::DestinationUrl => "destination.url",
            Self::EventDescriptionText => "event_description.text",
            Self::MalwareHashMd5 => "malware.hash.md5",
            Self::MalwareHashSha256 => "malware.hash.sha256",
            Self::MalwareName => "malware.name",
            Self::ProtocolApplication => "protocol.application",
            Self::ProtocolTransport => "protocol.transport",
            Self::SourceAccount => "source.account",
            Self::SourceAsn => "source.asn",
            Self::SourceFqdn => "source.fqdn",
            Self::SourceGeolocationCc => "source.geolocation.cc",
            Self::SourceGeolocationCity => "source.geolocation.city",
            Self::SourceGeolocationRegion => "source.geolocation.region",
            Self::SourceIp => "source.ip",
            Self::SourceLocalHostname => "source.local_hostname",
            Self::SourceNetwork => "source.network",
            Self::SourcePort => "source.port",
            Self::SourceReverseDns => "source.reverse_dns",
            Self::SourceUrl => "source.url",
            Self::TimeSource => "time.source",
        }
    }

    /// How the field's values are checked (IntelMQ's harmonisation type and limits).
    #[must_use]
    pub const fn kind(self) -> Kind {
        match self {
            Self::ClassificationIdentifier
            | Self::DestinationAccount
            | Self::DestinationGeolocationCity
            | Self::DestinationGeolocationRegion
            | Self::EventDescriptionText
            | Self::SourceAccount
            | Self::SourceGeolocationCity
            | Self::SourceGeolocationRegion
            | Self::SourceLocalHostname => Kind::Text,
            Self::ClassificationTaxonomy | Self::ClassificationType => Kind::Classification,
            Self::DestinationAsn | Self::SourceAsn => Kind::Asn,
            Self::DestinationFqdn | Self::DestinationReverseDns | Self::SourceFqdn | Self::SourceReverseDns => {
                Kind::Fqdn
            }
            Self::DestinationGeolocationCc | Self::SourceGeolocationCc => Kind::CountryCode,
            Self::DestinationIp | Self::SourceIp => Kind::Ip,
            Self::DestinationPort => Kind::Integer { max_len: usize::MAX },
            Self::SourcePort => Kind::Integer { max_len: 5 },
            Self::DestinationUrl | Self::SourceUrl => Kind::Url,
            Self::MalwareHashMd5 | Self::MalwareHashSha256 => Kind::Printable { max: 200 },
            Self::MalwareName => Kind::Lowercase { max: usize::MAX, printable: true },
            Self::ProtocolApplication => Kind::Lowercase { max: 100, printable: true },
            Self::ProtocolTransport => Kind::Transport,
            Self::SourceNetwork => Kind::Network,
            Self::TimeSource => Kind::DateTime,
        }
    }
}

/// A column's conversion before its value is added (IntelMQ's conversion functions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// The value as it is.
    Plain,
    /// A time without zone, read as UTC.
    TimeUtc,
    /// `y`/`yes`/`true`/`enabled`/`1` → true, `n`/`no`/`false`/`disabled`/`0` → false, else nothing.
    Bool,
    /// Nothing for empty, `0` and `unknown`.
    NoneIfUnknown,
    /// An integer; nothing when empty; a row error when not a number.
    Int,
    /// A float; nothing when empty; a row error when not a number.
    Float,
    /// `http://` + the row's `http_host`/`cc_dns` + the path of `url`/`http_url`.
    HttpHostAndUrl,
    /// An integer, nothing for empty or 0.
    NonZeroInt,
    /// true when not empty.
    TorNode,
    /// The value when it is a single address (not `0.0.0.0`, no `/`).
    ValidIp,
    /// The value when it is a network (with `/`).
    ValidNetwork,
    /// The value when it is a domain name.
    ValidFqdn,
    /// A time, normalised to ISO 8601 UTC.
    Date,
    /// A time without zone read as UTC, normalised to ISO 8601.
    DateUtc,
    /// Base64 kept, anything else base64-encoded.
    Base64,
    /// `exchange;webshell` → intrusions, else vulnerable.
    ExchangeTaxonomy,
    /// `exchange;webshell` → system-compromise, else infected-system.
    ExchangeType,
    /// `exchange;webshell` → exchange-server-webshell, else vulnerable-exchange-server.
    ExchangeIdentifier,
}

/// Where a column's value goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Field(Field),
    /// This `extra.*` field (`extra.<column>` or a renamed one).
    Extra(&'static str),
    /// A name that is no harmonisation field, so its values land in this
    /// `extra.<name>` field (and `""`, `-`, `N/A` are dropped as for fields).
    NotHarmonised(&'static str),
    /// The column is dropped.
    Ignore,
}

/// One column of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub target: Target,
    pub column: &'static str,
    pub conversion: Conversion,
}

pub(crate) const fn field(f: Field, column: &'static str, conversion: Conversion) -> Mapping {
    Mapping { target: Target::Field(f), column, conversion }
}
pub(crate) const fn extra(key: &'static str, column: &'static str, conversion: Conversion) -> Mapping {
    Mapping { target: Target::Extra(key), column, conversion }
}
pub(crate) const fn not_harmonised(key: &'static str, column: &'static str, conversion: Conversion) -> Mapping {
    Mapping { target: Target::NotHarmonised(key), column, conversion }
}
#[allow(dead_code)] // for reports that drop a column; none of the sampled ones does
pub(crate) const fn ignore(column: &'static str) -> Mapping {
    Mapping { target: Target::Ignore, column, conversion: Conversion::Plain }
}

/// One report type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportType {
    /// File-name stem, e.g. `scan_redis` (found in `2019-01-01-scan_redis-test-geo.csv`).
    pub file: &'static str,
    pub feed_name: &'static str,
    /// Columns a row must have (a missing header column fails every row).
    pub required: &'static [Mapping],
    /// Columns mapped when present.
    pub optional: &'static [Mapping],
    /// Fields set on every event, over any column's value.
    pub constants: &'static [(Field, &'static str)],
}

impl ReportType {
    /// A constant field's value.
    #[must_use]
    pub fn constant(&self, f: Field) -> Option<&'static str> {
        self.constants.iter().find(|(k, _)| *k == f).map(|(_, v)| *v)
    }
}

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
