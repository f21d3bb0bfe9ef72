//! YAML with positions.
//!
//! Every diagnostic about a YAML file must name its line, so we load YAML into a small tree whose
//! nodes remember where they start. The parser is yaml-rust2; this module only builds the tree
//! (resolving anchors, aliases and `<<` merge keys) and converts scalars the YAML 1.2 core way.

use std::collections::HashMap;

use serde_json::Value as Json;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A YAML node and the position (1-based line and column) where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct YNode {
    pub value: YValue,
    pub line: u32,
    pub col: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum YValue {
    Null,
    /// A scalar; `plain` is false when it was quoted or a block scalar, so it never coerces.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<YNode>),
    Map(Vec<(YNode, YNode)>),
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone)]
pub struct YamlError {
    pub message: String,
    pub line: u32,
    pub col: u32,
}

/// Parses one YAML document. An empty document (or one with only comments) is `Null`.
pub fn parse(text: &str) -> Result<YNode, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| YamlError {
        message: e.info().to_string(),
        line: e.marker().line() as u32,
        col: e.marker().col() as u32 + 1,
    })?;
    if let Some(error) = builder.error {
        return Err(error);
    }
    Ok(builder.root.unwrap_or(YNode {
        value: YValue::Null,
        line: 1,
        col: 1,
    }))
}

#[derive(Default)]
struct Builder {
    /// Open sequences and mappings, with the anchor id they will be stored under.
    stack: Vec<(YNode, usize)>,
    /// For each open mapping, the key waiting for its value.
    pending_keys: Vec<Option<YNode>>,
    anchors: HashMap<usize, YNode>,
    root: Option<YNode>,
    error: Option<YamlError>,
}

impl Builder {
    fn push_value(&mut self, node: YNode) {
        let Some((parent, _)) = self.stack.last_mut() else {
            self.root.get_or_insert(node);
            return;
        };
        match &mut parent.value {
            YValue::Seq(items) => items.push(node),
            YValue::Map(entries) => {
                let pending = self
                    .pending_keys
                    .last_mut()
                    .expect("a key slot per mapping");
                match pending.take() {
                    None => *pending = Some(node),
                    Some(key) => entries.push((key, node)),
                }
            }
            _ => unreachable!("only containers are pushed on the stack"),
        }
    }

    fn close(&mut self) {
        let (mut node, anchor) = self.stack.pop().expect("balanced events");
        if let YValue::Map(entries) = &mut node.value {
            self.pending_keys.pop();
            resolve_merge_keys(entries);
        }
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.push_value(node);
    }
}

/// Applies YAML merge keys (`<<: *base` or `<<: [*a, *b]`): explicit keys win over merged ones.
fn resolve_merge_keys(entries: &mut Vec<(YNode, YNode)>) {
    if !entries.iter().any(|(k, _)| k.as_str() == Some("<<")) {
        return;
    }
    let (merges, mut own): (Vec<_>, Vec<_>) = entries
        .drain(..)
        .partition(|(k, _)| k.as_str() == Some("<<"));
    for (_, merged) in merges {
        let sources = match merged.value {
            YValue::Seq(items) => items,
            _ => vec![merged],
        };
        for source in sources {
            if let YValue::Map(source_entries) = source.value {
                for (key, value) in source_entries {
                    if !own.iter().any(|(k, _)| k.as_str() == key.as_str()) {
                        own.push((key, value));
                    }
                }
            }
        }
    }
    *entries = own;
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let at = |value| YNode {
            value,
            line: mark.line() as u32,
            col: mark.col() as u32 + 1,
        };
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let plain = style == TScalarStyle::Plain;
                let value = if plain && matches!(text.as_str(), "~" | "null" | "Null" | "NULL" | "")
                {
                    YValue::Null
                } else {
                    YValue::Scalar { text, plain }
                };
                let node = at(value);
                if anchor > 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.push_value(node);
            }
            Event::Alias(anchor) => match self.anchors.get(&anchor).cloned() {
                Some(mut node) => {
                    node.line = mark.line() as u32;
                    node.col = mark.col() as u32 + 1;
                    self.push_value(node);
                }
                None => {
                    self.error.get_or_insert(YamlError {
                        message: "alias refers to an unknown anchor".into(),
                        line: mark.line() as u32,
                        col: mark.col() as u32 + 1,
                    });
                }
            },
            Event::SequenceStart(anchor, _) => self.stack.push((at(YValue::Seq(vec![])), anchor)),
            Event::MappingStart(anchor, _) => {
                self.stack.push((at(YValue::Map(vec![])), anchor));
                self.pending_keys.push(None);
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(),
            _ => {}
        }
    }
}

impl YNode {
    /// The scalar text (quoted or not), or `None` for null and containers.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            YValue::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, YValue::Null)
    }

    pub fn as_map(&self) -> Option<&[(YNode, YNode)]> {
        match &self.value {
            YValue::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[YNode]> {
        match &self.value {
            YValue::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&YNode> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// A short name for the node's kind, for "expected a list, found a string" messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            YValue::Null => "nothing",
            YValue::Scalar { .. } => "a scalar",
            YValue::Seq(_) => "a list",
            YValue::Map(_) => "a mapping",
        }
    }

    /// Converts to JSON with YAML 1.2 core-schema typing of plain scalars.
    pub fn to_json(&self) -> Json {
        match &self.value {
            YValue::Null => Json::Null,
            YValue::Scalar { text, plain } => {
                if *plain {
                    resolve_plain_scalar(text)
                } else {
                    Json::String(text.clone())
                }
            }
            YValue::Seq(items) => Json::Array(items.iter().map(YNode::to_json).collect()),
            YValue::Map(entries) => Json::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.key_text(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// A mapping key as text (non-string keys such as `1` or `true` are rendered as written).
    pub fn key_text(&self) -> String {
        match &self.value {
            YValue::Scalar { text, .. } => text.clone(),
            YValue::Null => "null".into(),
            _ => String::new(),
        }
    }
}

fn resolve_plain_scalar(text: &str) -> Json {
    match text {
        "true" | "True" | "TRUE" => return Json::Bool(true),
        "false" | "False" | "FALSE" => return Json::Bool(false),
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return Json::from(i);
    }
    let numeric_shape = text
        .trim_start_matches(['-', '+'])
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '.');
    if numeric_shape
        && let Ok(f) = text.parse::<f64>()
        && let Some(n) = serde_json::Number::from_f64(f)
    {
        return Json::Number(n);
    }
    Json::String(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_anchors_and_merge_keys() {
        let doc =
            parse("base: &b\n  x: 1\n  y: 'two'\nother:\n  <<: *b\n  y: 3\nlist: [a, ~, 1.5]\n")
                .unwrap();
        let other = doc.get("other").unwrap();
        assert_eq!(other.line, 5);
        assert_eq!(
            other.to_json(),
            serde_json::json!({"y": 3, "x": 1}),
            "explicit keys win over merged ones"
        );
        assert_eq!(doc.get("base").unwrap().get("y").unwrap().to_json(), "two");
        assert_eq!(
            doc.get("list").unwrap().to_json(),
            serde_json::json!(["a", null, 1.5])
        );
        let list = doc.get("list").unwrap();
        assert_eq!((list.line, list.col), (7, 7));
    }

    #[test]
    fn quoted_scalars_stay_strings() {
        let doc = parse("a: 'true'\nb: \"1\"\nc: true\n").unwrap();
        assert_eq!(
            doc.to_json(),
            serde_json::json!({"a": "true", "b": "1", "c": true})
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.line >= 2, "{err:?}");
    }

    #[test]
    fn empty_document_is_null() {
        assert!(parse("# only a comment\n").unwrap().is_null());
    }
}
