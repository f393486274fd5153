//! Strict readers of JSON bodies and of query strings: a key given twice is
//! refused, at any depth. Parsers disagree on such input (the first value,
//! the last, or both), so a proxy, a log or a signature check reading one
//! value while the server acts on the other is how smuggled requests start;
//! RFC 8259 leaves the meaning of a repeated name open. The WebSocket's
//! frames refuse them too (serde's derived structs do, on one level).

use std::collections::HashSet;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use thiserror::Error;

/// JSON text as a [`Value`], refusing an object that names a key twice (a
/// data error, as serde's own `duplicate field`).
pub fn json(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<Strict>(bytes).map(|strict| strict.0)
}

/// A query string or form body (`application/x-www-form-urlencoded`) as its
/// pairs, percent-decoded, refusing a name given twice.
pub fn pairs(raw: &[u8]) -> Result<Vec<(String, String)>, RepeatedKey> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw).into_owned().collect();
    let mut seen = HashSet::with_capacity(pairs.len());
    match pairs.iter().find(|(k, _)| !seen.insert(k.as_str())) {
        Some((key, _)) => Err(RepeatedKey(key.clone())),
        None => Ok(pairs),
    }
}

/// A query string or form that names a parameter twice.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("the parameter {0:?} is given more than once")]
pub struct RepeatedKey(pub String);

/// A JSON value read by [`json`].
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "the key {key:?} is given more than once"
                )));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_refuses_a_key_given_twice_at_any_depth() {
        for text in [
            r#"{"text":"a","text":"b"}"#,
            r#"{"locked":true,"locked":false}"#,
            r#"{"user":{"sub":"1","sub":"2"}}"#,
            r#"[{"a":1},{"b":1,"b":1}]"#,
            r#"{"a":1,"\u0061":2}"#,
        ] {
            let err = json(text.as_bytes()).unwrap_err();
            assert!(err.is_data(), "{text}: {err}");
            assert!(err.to_string().contains("more than once"), "{err}");
        }
    }

    #[test]
    fn json_reads_what_serde_json_reads_otherwise() {
        for value in [
            json!({"a": [1, -2, 3.5, null, true, "x"], "b": {"c": {}}, "d": u64::MAX}),
            json!([]),
            json!("text"),
        ] {
            let text = value.to_string();
            assert_eq!(json(text.as_bytes()).unwrap(), value);
        }
        // Names that differ only in case, or by escapes decoding apart, are different keys.
        assert!(json(br#"{"a":1,"A":2,"\u00e9":3,"e\u0301":4}"#).is_ok());
        assert!(json(b"{\"a\":1,}").unwrap_err().is_syntax());
    }

    #[test]
    fn pairs_refuse_a_name_given_twice() {
        assert_eq!(
            pairs(b"limit=1&before=5").unwrap(),
            [
                ("limit".to_owned(), "1".to_owned()),
                ("before".to_owned(), "5".to_owned())
            ]
        );
        assert_eq!(pairs(b"").unwrap(), []);
        for raw in [
            "limit=1&limit=2",
            "a=1&b=2&a=1",
            "a&a",
            "l%69mit=1&limit=2",
            "a=&a=",
        ] {
            assert!(pairs(raw.as_bytes()).is_err(), "{raw}");
        }
        assert_eq!(
            pairs(b"x=1&x=2").unwrap_err().to_string(),
            "the parameter \"x\" is given more than once"
        );
    }
}
