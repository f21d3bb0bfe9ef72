//! `tojson`, `fromjson`, `toyaml` and `fromyaml` as dbt's context offers them: text as
//! Python's `json.dumps` and PyYAML's `safe_dump` write it (packages compare and hash it), and
//! a `default` returned instead of an error.

use std::io;

use minijinja::value::Kwargs;
use minijinja::{Error, ErrorKind, Value};
use serde_json::Value as Json;
use yaml_rust2::{Yaml, YamlEmitter};

use super::context::to_json;
use crate::project::yaml;

/// `tojson(value, default=None, sort_keys=False)`: `{"a": 1, "b": [1, 2]}`, non-ASCII escaped.
pub fn tojson(value: Value, default: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let json = match dumpable(&value, default, &kwargs)? {
        Ok(json) => json,
        Err(default) => return Ok(default),
    };
    let mut out = Vec::new();
    let mut writer = serde_json::Serializer::with_formatter(&mut out, PythonJson);
    serde::Serialize::serialize(&json, &mut writer)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("tojson: {e}")))?;
    Ok(Value::from(String::from_utf8(out).unwrap_or_default()))
}

/// `fromjson(text, default=None)`.
pub fn fromjson(text: Value, default: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let (default, _) = options(default, &kwargs)?;
    match serde_json::from_str::<Json>(&text.to_string()) {
        Ok(json) => Ok(super::json_value(&json)),
        Err(_) if default.is_some() => Ok(default.unwrap_or_default()),
        Err(e) => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("fromjson: {e}"),
        )),
    }
}

/// `toyaml(value, default=None, sort_keys=False)`: block style, as `yaml.safe_dump`.
pub fn toyaml(value: Value, default: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let json = match dumpable(&value, default, &kwargs)? {
        Ok(json) => json,
        Err(default) => return Ok(default),
    };
    let mut text = String::new();
    YamlEmitter::new(&mut text)
        .dump(&to_yaml(&json))
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("toyaml: {e}")))?;
    // The emitter starts a document with `---`; safe_dump does not, and ends with a newline.
    let body = text
        .strip_prefix("---")
        .unwrap_or(&text)
        .trim_start_matches([' ', '\n']);
    Ok(Value::from(format!("{body}\n")))
}

/// `fromyaml(text, default=None)`: an empty text is `none`, as `yaml.safe_load`'s.
pub fn fromyaml(text: Value, default: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let (default, _) = options(default, &kwargs)?;
    match yaml::parse(&text.to_string()) {
        Ok(node) => Ok(super::json_value(node.to_json())),
        Err(_) if default.is_some() => Ok(default.unwrap_or_default()),
        Err(e) => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("fromyaml: {}", e.message),
        )),
    }
}

/// What `tojson` and `toyaml` write: the value as JSON (keys sorted when asked), or
/// `Err(default)` when it has none and a default was given.
fn dumpable(
    value: &Value,
    default: Option<Value>,
    kwargs: &Kwargs,
) -> Result<Result<Json, Value>, Error> {
    let (default, sort_keys) = options(default, kwargs)?;
    match (to_json(value), default) {
        (Ok(json), _) => Ok(Ok(if sort_keys { sorted(json) } else { json })),
        (Err(_), Some(default)) => Ok(Err(default)),
        (Err(e), None) => Err(e),
    }
}

/// `default` given by position or by name, and `sort_keys`.
fn options(default: Option<Value>, kwargs: &Kwargs) -> Result<(Option<Value>, bool), Error> {
    let default = match default {
        Some(default) => Some(default),
        None => kwargs.get::<Option<Value>>("default")?,
    };
    let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    Ok((default, sort_keys))
}

fn sorted(json: Json) -> Json {
    match json {
        Json::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Json::Array(items) => Json::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn to_yaml(json: &Json) -> Yaml {
    match json {
        Json::Null => Yaml::Null,
        Json::Bool(b) => Yaml::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(n.to_string()),
        },
        Json::String(s) => Yaml::String(s.clone()),
        Json::Array(items) => Yaml::Array(items.iter().map(to_yaml).collect()),
        Json::Object(map) => Yaml::Hash(
            map.iter()
                .map(|(k, v)| (Yaml::String(k.clone()), to_yaml(v)))
                .collect(),
        ),
    }
}

/// Python's `json.dumps` defaults: `", "` and `": "` separators, `ensure_ascii`.
struct PythonJson;

impl serde_json::ser::Formatter for PythonJson {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        if fragment.is_ascii() {
            return w.write_all(fragment.as_bytes());
        }
        let mut units = [0u16; 2];
        for ch in fragment.chars() {
            if ch.is_ascii() {
                w.write_all(&[ch as u8])?;
            } else {
                for unit in ch.encode_utf16(&mut units) {
                    write!(w, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use minijinja::{Environment, context};

    fn render(template: &str) -> String {
        let mut env = Environment::new();
        env.add_function("tojson", super::tojson);
        env.add_function("fromjson", super::fromjson);
        env.add_function("toyaml", super::toyaml);
        env.add_function("fromyaml", super::fromyaml);
        env.render_str(template, context! {}).unwrap()
    }

    #[test]
    fn tojson_writes_as_python() {
        assert_eq!(
            render(r#"{{ tojson({"b": [1, 2.5, none], "a": "é"}) }}"#),
            r#"{"b": [1, 2.5, null], "a": "\u00e9"}"#
        );
        assert_eq!(
            render(r#"{{ tojson({"b": 1, "a": {"d": 1, "c": 2}}, sort_keys=true) }}"#),
            r#"{"a": {"c": 2, "d": 1}, "b": 1}"#
        );
    }

    #[test]
    fn parse_errors_give_the_default() {
        assert_eq!(render(r#"{{ fromjson("{nope", default="x") }}"#), "x");
        assert_eq!(render(r#"{{ fromyaml("a: [", "y") }}"#), "y");
        assert_eq!(render(r#"{{ fromyaml("") is none }}"#), "True");
    }

    #[test]
    fn yaml_round_trips() {
        assert_eq!(
            render(r#"{{ toyaml({"name": "x", "tags": ["a", "b"], "count": 3}) }}"#),
            "name: x\ntags:\n  - a\n  - b\ncount: 3\n"
        );
        assert_eq!(
            render(r#"{{ fromyaml(toyaml({"k": [1, {"v": true}]})).k[1].v }}"#),
            "True"
        );
    }
}
