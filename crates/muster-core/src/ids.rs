//! Typed identifiers. Each wraps a UUID (v7, so ids sort by creation time) and
//! prints with a short prefix so an id in a log line says what it names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// An id string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} id {value:?}: expected `{prefix}--<uuid>` or a bare UUID")]
pub struct BadId {
    pub kind: &'static str,
    pub prefix: &'static str,
    pub value: String,
}

macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Uuid);

        impl $name {
            /// The prefix used when printing, e.g. `org`.
            pub const PREFIX: &'static str = $prefix;

            /// A fresh, time-ordered id.
            #[must_use]
            pub fn new() -> Self { Self(Uuid::now_v7()) }

            /// Wraps an existing UUID.
            #[must_use]
            pub const fn from_uuid(u: Uuid) -> Self { Self(u) }

            /// The inner UUID.
            #[must_use]
            pub const fn uuid(self) -> Uuid { self.0 }
        }

        impl Default for $name {
            fn default() -> Self { Self::new() }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}--{}", $prefix, self.0)
            }
        }

        impl FromStr for $name {
            type Err = BadId;
            fn from_str(s: &str) -> Result<Self, BadId> {
                let bare = s.strip_prefix(concat!($prefix, "--")).unwrap_or(s);
                Uuid::parse_str(bare).map(Self).map_err(|_| BadId {
                    kind: $kind,
                    prefix: $prefix,
                    value: s.chars().take(80).collect(),
                })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

typed_id!(/// An organisation (a member of the community).
    OrgId, "org", "organisation");
typed_id!(/// A user account.
    UserId, "user", "user");
typed_id!(/// An API token.
    TokenId, "token", "token");
typed_id!(/// A trust circle (a named group of organisations).
    CircleId, "circle", "trust circle");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_round_trips_with_and_without_prefix() {
        let id = OrgId::new();
        assert_eq!(id.to_string().parse::<OrgId>().ok(), Some(id));
        assert_eq!(id.uuid().to_string().parse::<OrgId>().ok(), Some(id));
    }

    #[test]
    fn bad_id_names_the_kind() {
        let err = "org--nope".parse::<OrgId>().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("organisation"), "{err}");
    }
}
