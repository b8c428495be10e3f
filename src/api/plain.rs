//! Decoding JSON text straight into a typed part of an object, for the admission path
//! where almost every object is well formed.
//!
//! The careful decoder ([`typed_part`](super::decode::typed_part)) goes through a
//! `serde_json::Value`, records the path of every field the type ignores, and compares
//! the decoded object with its input to catch a list given where the type has a mapping
//! (serde fills a struct from a list by position, which Kubernetes never does). That is
//! several times the cost of decoding. [`decode_plain`] decodes the text directly and
//! watches for the two things the careful decoder reports: it gives up (returns `None`)
//! when the type ignores any value, or when a list reaches a type that did not ask for a
//! sequence. When it returns a value, the careful decoder would have returned the same
//! value, no unknown fields and no error; otherwise the caller runs the careful decoder,
//! which reports exactly as before.

use std::cell::Cell;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

/// `text` decoded as `T`, or `None` when it does not decode or when anything in it needs
/// the careful decoder (an ignored field, a list where no sequence was asked for).
pub fn decode_plain<T: DeserializeOwned>(text: &str) -> Option<T> {
    let doubtful = Cell::new(false);
    let mut json = serde_json::Deserializer::from_str(text);
    let value = T::deserialize(Guard {
        inner: &mut json,
        doubtful: &doubtful,
    })
    .ok()?;
    json.end().ok()?;
    (!doubtful.get()).then_some(value)
}

/// A deserializer that marks `doubtful` when the type ignores a value or when a sequence
/// reaches a visitor that asked for something else (a struct, a map, any value).
struct Guard<'g, D> {
    inner: D,
    doubtful: &'g Cell<bool>,
}

impl<'g, D> Guard<'g, D> {
    fn visitor<V>(&self, inner: V, sequence_asked: bool) -> Watch<'g, V> {
        Watch {
            inner,
            doubtful: self.doubtful,
            sequence_asked,
        }
    }
}

/// Forwards `deserialize_*` methods, watching the visitor; `$seq` says whether the method
/// asks for a sequence.
macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*) seq=$seq:expr;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
                let visitor = self.visitor(visitor, $seq);
                self.inner.$method($($arg,)* visitor)
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Guard<'_, D> {
    type Error = D::Error;

    forward! {
        deserialize_any() seq=false;
        deserialize_bool() seq=false;
        deserialize_i8() seq=false;
        deserialize_i16() seq=false;
        deserialize_i32() seq=false;
        deserialize_i64() seq=false;
        deserialize_i128() seq=false;
        deserialize_u8() seq=false;
        deserialize_u16() seq=false;
        deserialize_u32() seq=false;
        deserialize_u64() seq=false;
        deserialize_u128() seq=false;
        deserialize_f32() seq=false;
        deserialize_f64() seq=false;
        deserialize_char() seq=false;
        deserialize_str() seq=false;
        deserialize_string() seq=false;
        deserialize_bytes() seq=false;
        deserialize_byte_buf() seq=false;
        deserialize_option() seq=false;
        deserialize_unit() seq=false;
        deserialize_unit_struct(name: &'static str) seq=false;
        deserialize_newtype_struct(name: &'static str) seq=false;
        deserialize_seq() seq=true;
        deserialize_tuple(len: usize) seq=true;
        deserialize_tuple_struct(name: &'static str, len: usize) seq=true;
        deserialize_map() seq=false;
        deserialize_struct(name: &'static str, fields: &'static [&'static str]) seq=false;
        deserialize_enum(name: &'static str, variants: &'static [&'static str]) seq=false;
        deserialize_identifier() seq=false;
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        // A field the type does not know: the careful decoder reports its path.
        self.doubtful.set(true);
        self.inner.deserialize_ignored_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// A visitor whose nested values are decoded through [`Guard`] too.
struct Watch<'g, V> {
    inner: V,
    doubtful: &'g Cell<bool>,
    sequence_asked: bool,
}

impl<'g, V> Watch<'g, V> {
    fn guard<D>(&self, inner: D) -> Guard<'g, D> {
        Guard {
            inner,
            doubtful: self.doubtful,
        }
    }
}

macro_rules! pass {
    ($($method:ident($ty:ty);)*) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                self.inner.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Watch<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    pass! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
        visit_char(char);
        visit_str(&str);
        visit_borrowed_str(&'de str);
        visit_string(String);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let d = self.guard(d);
        self.inner.visit_some(d)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let d = self.guard(d);
        self.inner.visit_newtype_struct(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        if !self.sequence_asked {
            // A struct filled by position, or a value buffered by `deserialize_any`
            // (untagged enums, flattened fields) that may become one.
            self.doubtful.set(true);
        }
        let seq = self.guard(seq);
        self.inner.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let map = self.guard(map);
        self.inner.visit_map(map)
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        let data = self.guard(data);
        self.inner.visit_enum(data)
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Guard<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let seed = Guard {
            inner: seed,
            doubtful: self.doubtful,
        };
        self.inner.next_element_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Guard<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        // Keys are JSON strings: nothing to watch.
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        let seed = Guard {
            inner: seed,
            doubtful: self.doubtful,
        };
        self.inner.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, T: DeserializeSeed<'de>> DeserializeSeed<'de> for Guard<'_, T> {
    type Value = T::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T::Value, D::Error> {
        let d = Guard {
            inner: d,
            doubtful: self.doubtful,
        };
        self.inner.deserialize(d)
    }
}

impl<'g, 'de, A: EnumAccess<'de>> EnumAccess<'de> for Guard<'g, A> {
    type Error = A::Error;
    type Variant = Guard<'g, A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let (value, variant) = self.inner.variant_seed(seed)?;
        Ok((
            value,
            Guard {
                inner: variant,
                doubtful: self.doubtful,
            },
        ))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Guard<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        let seed = Guard {
            inner: seed,
            doubtful: self.doubtful,
        };
        self.inner.newtype_variant_seed(seed)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let visitor = self.visitor(visitor, true);
        self.inner.tuple_variant(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let visitor = self.visitor(visitor, false);
        self.inner.struct_variant(fields, visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::BackupSpec;
    use crate::api::decode::typed_part;

    /// Whatever `decode_plain` returns, the careful decoder returns too, with no unknown
    /// field; where it gives up, the careful decoder has something to report (or the
    /// case is one it gives up on conservatively, listed here).
    #[test]
    fn agrees_with_the_careful_decoder_or_gives_up() {
        let cases = [
            (
                r#"{"br": {"cluster": "demo1"}, "s3": {"provider": "aws"}}"#,
                true,
            ),
            (
                r#"{"tableFilter": ["*.*", "!mysql.*"], "br": {"options": ["--x"]}}"#,
                true,
            ),
            (r#"{}"#, true),
            (r#"{"s3": null, "from": {"port": 4000}}"#, true),
            // An unknown field: the careful decoder reports `spec.storageType`.
            (r#"{"storageType": "s3"}"#, false),
            // A list for a mapping: the careful decoder reports `spec.s3`.
            (r#"{"s3": ["aws", "x"]}"#, false),
            (r#"{"br": [["demo1"]]}"#, false),
            // Type errors and malformed text.
            (r#"{"from": {"port": "4000"}}"#, false),
            (r#"{"from": {"port": 4000}"#, false),
            (r#"{"br": {}} trailing"#, false),
            (r#"{"br": {}, "br": {}}"#, false),
        ];
        for (text, plain) in cases {
            let decoded = decode_plain::<BackupSpec>(text);
            assert_eq!(decoded.is_some(), plain, "{text}");
            let careful = serde_json::from_str(text)
                .ok()
                .and_then(|value| typed_part::<BackupSpec>(&value, "spec").ok());
            if let Some(decoded) = decoded {
                let (careful, unknown) = careful.expect("the careful decoder agrees");
                assert_eq!(decoded, careful, "{text}");
                assert!(unknown.is_empty(), "{text}");
            }
        }
    }
}
