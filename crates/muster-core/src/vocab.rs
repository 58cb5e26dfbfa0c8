//! A small macro for the closed vocabularies of the field: each value has one
//! canonical spelling (the standard's own), parses from it, prints as it and
//! (de)serialises as it.

use std::fmt;

/// A string that is not a member of a vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct UnknownValue {
    /// Name of the vocabulary, e.g. `TLP`.
    pub vocabulary: &'static str,
    /// The rejected input.
    pub value: String,
    /// The accepted spellings.
    pub expected: &'static [&'static str],
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} value {:?}; expected one of: {}", self.vocabulary, self.value, self.expected.join(", "))
    }
}

/// Declares a closed vocabulary enum with canonical spellings.
#[macro_export]
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($label:literal) {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $name { $( $(#[$vmeta])* $variant ),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant ),+ ];
            /// Every canonical spelling, in declaration order.
            pub const NAMES: &'static [&'static str] = &[ $( $text ),+ ];

            /// The canonical spelling.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $text ),+ }
            }

            /// Parses the canonical spelling (ASCII case-insensitive).
            ///
            /// # Errors
            /// [`UnknownValue`](crate::UnknownValue) naming the accepted spellings.
            pub fn parse(s: &str) -> Result<Self, $crate::UnknownValue> {
                $( if s.eq_ignore_ascii_case($text) { return Ok($name::$variant); } )+
                Err($crate::UnknownValue { vocabulary: $label, value: s.to_owned(), expected: Self::NAMES })
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> { Self::parse(s) }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result { f.write_str(self.as_str()) }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.as_str()) }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}
