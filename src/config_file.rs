//! The JSON config file: one object of settings, and for watch mode a
//! `hosts` list of objects with the same keys.
//!
//! The file is read straight into [`ConfigFile`] (serde visitors, no
//! generic JSON tree): every value becomes the text [`Settings::set`]
//! checks, so a file, the flags and the C ABI go through one validation.
//! A key may be written with dashes, as its flag is (`ip-source` is
//! `ip_source`). Strings are taken as they are, whole numbers as their digits, `true` and
//! `false` as `1` and `0`; `null` means "not set". Lists and objects (other
//! than `hosts`) and fractions are refused with the key named.
//!
//! [`Settings::set`]: crate::config::Settings::set

#![forbid(unsafe_code)]

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::InputError;

/// One value of a config file, as the settings see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileValue {
    /// A string, a whole number or a boolean, as text.
    Text(String),
    /// `null`: the key is not set.
    Null,
    /// A list, an object or a fraction: not a setting's value.
    Unusable,
}

/// The keys of one JSON object, sorted, the last of duplicate keys kept.
pub type FileObject = Vec<(String, FileValue)>;

/// The `hosts` list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hosts {
    /// A list; `None` for an item that is not an object.
    List(Vec<Option<FileObject>>),
    /// Something other than a list.
    NotAList,
}

/// A parsed config file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigFile {
    /// The top-level settings (`hosts` is not among them).
    pub settings: FileObject,
    /// The `hosts` list, unless absent or `null`.
    pub hosts: Option<Hosts>,
}

impl ConfigFile {
    /// Reads and parses the config file at `path`: at most
    /// 1 MiB, UTF-8 text, one
    /// JSON object. Errors name the setting `config` and the path.
    pub fn read(path: &str) -> Result<ConfigFile, InputError> {
        let bytes =
            crate::fsio::read_file_capped(std::path::Path::new(path), crate::fsio::MAX_FILE_BYTES)
                .map_err(|e| InputError::new("config", format!("cannot read {path}: {e}")))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| InputError::new("config", format!("{path} is not UTF-8 text")))?;
        ConfigFile::parse(path, &text)
    }

    /// Parses the text of a config file named `path` (for messages).
    pub fn parse(path: &str, text: &str) -> Result<ConfigFile, InputError> {
        // From bytes, like the state file: one JSON reader linked, not two.
        let mut de = serde_json::Deserializer::from_slice(text.as_bytes());
        let file = (&mut de)
            .deserialize_any(ObjectVisitor { top_level: true })
            .and_then(|file| de.end().map(|()| file))
            .map_err(|e| InputError::new("config", format!("{path} is not valid JSON: {e}")))?;
        file.ok_or_else(|| InputError::new("config", format!("{path} must hold one JSON object")))
    }
}

/// Sorts by key and keeps the last of duplicates, as a JSON object reads.
fn into_object(mut pairs: Vec<(String, FileValue)>) -> FileObject {
    // A stable sort keeps duplicates in file order; the last one wins.
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: FileObject = Vec::with_capacity(pairs.len());
    for (key, value) in pairs {
        match out.last_mut() {
            Some(last) if last.0 == key => last.1 = value,
            _ => out.push((key, value)),
        }
    }
    out
}

/// An object of settings: `Some` for a JSON object, `None` for any other
/// value. At the top level, `hosts` is read as the list of hosts; inside a
/// host it is an ordinary (unusable) value, so nesting can be refused.
struct ObjectVisitor {
    top_level: bool,
}

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Option<ConfigFile>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut settings = Vec::new();
        let mut hosts = None;
        while let Some(mut key) = map.next_key::<String>()? {
            // Keys may be spelt as the flags are (`ip-source`).
            if key.contains('-') {
                key = key
                    .chars()
                    .map(|c| if c == '-' { '_' } else { c })
                    .collect();
            }
            if self.top_level && key == "hosts" {
                hosts = map.next_value_seed(HostsSeed)?;
            } else {
                settings.push((key, map.next_value_seed(ValueSeed)?));
            }
        }
        Ok(Some(ConfigFile {
            settings: into_object(settings),
            hosts,
        }))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// One setting's value.
struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = FileValue;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<FileValue, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = FileValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, a whole number, true, false or null")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<FileValue, E> {
        Ok(FileValue::Text(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<FileValue, E> {
        Ok(FileValue::Text(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<FileValue, E> {
        Ok(FileValue::Text(if v { "1" } else { "0" }.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<FileValue, E> {
        Ok(FileValue::Text(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<FileValue, E> {
        Ok(FileValue::Text(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<FileValue, E> {
        Ok(FileValue::Unusable)
    }

    fn visit_unit<E: de::Error>(self) -> Result<FileValue, E> {
        Ok(FileValue::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FileValue, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(FileValue::Unusable)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FileValue, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(FileValue::Unusable)
    }
}

/// The `hosts` value: a list of hosts, `None` for `null`, and
/// [`Hosts::NotAList`] for anything else.
struct HostsSeed;

impl<'de> DeserializeSeed<'de> for HostsSeed {
    type Value = Option<Hosts>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Hosts>, D::Error> {
        d.deserialize_any(HostsVisitor)
    }
}

struct HostsVisitor;

impl<'de> Visitor<'de> for HostsVisitor {
    type Value = Option<Hosts>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(HostSeed)? {
            items.push(item);
        }
        Ok(Some(Hosts::List(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        ValueVisitor.visit_map(map).map(|_| Some(Hosts::NotAList))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Some(Hosts::NotAList))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Some(Hosts::NotAList))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Some(Hosts::NotAList))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Some(Hosts::NotAList))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Some(Hosts::NotAList))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// One item of `hosts`: `Some` object of settings, `None` if not an object.
struct HostSeed;

impl<'de> DeserializeSeed<'de> for HostSeed {
    type Value = Option<FileObject>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<FileObject>, D::Error> {
        let host = d.deserialize_any(ObjectVisitor { top_level: false })?;
        Ok(host.map(|file| file.settings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> FileValue {
        FileValue::Text(s.into())
    }

    fn parse(s: &str) -> Result<ConfigFile, String> {
        ConfigFile::parse("c.json", s).map_err(|e| e.to_string())
    }

    #[test]
    fn values_become_text() {
        let f = parse(
            r#"{"username": "me@example.com", "port": 443, "allow_http": true,
                "allow_private": false, "interface": null, "offset": -3,
                "a": [1], "b": {"c": 1}, "d": 1.5}"#,
        )
        .unwrap();
        assert_eq!(
            f.settings,
            vec![
                ("a".into(), FileValue::Unusable),
                ("allow_http".into(), text("1")),
                ("allow_private".into(), text("0")),
                ("b".into(), FileValue::Unusable),
                ("d".into(), FileValue::Unusable),
                ("interface".into(), FileValue::Null),
                ("offset".into(), text("-3")),
                ("port".into(), text("443")),
                ("username".into(), text("me@example.com")),
            ]
        );
        assert_eq!(f.hosts, None);
    }

    #[test]
    fn keys_may_be_spelt_with_dashes() {
        let f = parse(
            r#"{"ip-source": "web", "ip_url": "https://x.example/", "ip_source": "command"}"#,
        )
        .unwrap();
        assert_eq!(
            f.settings,
            vec![
                ("ip_source".into(), text("command")),
                ("ip_url".into(), text("https://x.example/")),
            ]
        );
        let f = parse(r#"{"hosts": [{"ip-command": "echo 1.2.3.4"}]}"#).unwrap();
        assert_eq!(
            f.hosts,
            Some(Hosts::List(vec![Some(vec![(
                "ip_command".into(),
                text("echo 1.2.3.4")
            )])]))
        );
    }

    #[test]
    fn last_duplicate_wins() {
        let f = parse(r#"{"port": 1, "port": 2}"#).unwrap();
        assert_eq!(f.settings, vec![("port".into(), text("2"))]);
    }

    #[test]
    fn hosts_list() {
        let f = parse(r#"{"hosts": [{"username": "a", "port": 80}, "x", {"hosts": []}]}"#).unwrap();
        assert_eq!(
            f.hosts,
            Some(Hosts::List(vec![
                Some(vec![
                    ("port".into(), text("80")),
                    ("username".into(), text("a"))
                ]),
                None,
                Some(vec![("hosts".into(), FileValue::Unusable)]),
            ]))
        );
        assert_eq!(parse(r#"{"hosts": null}"#).unwrap().hosts, None);
        assert_eq!(
            parse(r#"{"hosts": {"username": "x"}}"#).unwrap().hosts,
            Some(Hosts::NotAList)
        );
        assert_eq!(
            parse(r#"{"hosts": "x"}"#).unwrap().hosts,
            Some(Hosts::NotAList)
        );
    }

    #[test]
    fn not_an_object_or_not_json() {
        for s in ["[1]", "\"x\"", "1", "null", "true"] {
            let e = parse(s).unwrap_err();
            assert!(e.contains("must hold one JSON object"), "{s}: {e}");
        }
        for s in ["", "{", "{\"a\": 1} x", "{'a': 1}"] {
            let e = parse(s).unwrap_err();
            assert!(e.contains("is not valid JSON"), "{s}: {e}");
        }
    }
}
