//! A YAML tree that remembers where every node came from, and a serde
//! deserializer over it.
//!
//! `serde_yaml` stops at the first problem and forgets positions once a value
//! is parsed. The policy validator needs both: every unknown key in a file and
//! the line and column of any node it later finds fault with. So the text is
//! parsed once into [`Node`]s that carry their [`Pos`], typed structs are
//! deserialized from those nodes one item at a time, and unknown keys are
//! collected (not fatal) as they are met.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Error as _, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A 1-based line and column in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

impl Pos {
    fn from_marker(m: Marker) -> Self {
        Pos { line: m.line(), col: m.col() + 1 }
    }
}

/// One YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub pos: Pos,
    /// What the node holds.
    pub kind: NodeKind,
}

/// The shape of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar; `plain` is false for quoted and block scalars, which are
    /// always strings.
    Scalar { value: String, plain: bool },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping with its keys in source order; keys keep their own position.
    Map(Vec<(Key, Node)>),
}

/// A mapping key (only string keys are used by tierwatch's formats).
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key text.
    pub name: String,
    /// Where the key starts.
    pub pos: Pos,
}

impl Node {
    /// The entries of a mapping node, if it is one.
    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The items of a sequence node, if it is one.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The value under `key` of a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|(k, _)| k.name == key).map(|(_, v)| v)
    }

    /// A short name of the node's kind for messages.
    fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar { .. } => "a scalar",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    /// Where the parser gave up.
    pub pos: Pos,
    /// The parser's message.
    pub message: String,
}

/// Parses one YAML document into a positioned tree. An empty document is an
/// empty mapping.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    parse_checked(text).map(|(node, _)| node)
}

/// As [`parse`], also returning every key that repeats one of its mapping's
/// earlier keys (the later occurrence), which YAML readers would silently
/// let win.
pub fn parse_checked(text: &str) -> Result<(Node, Vec<Key>), SyntaxError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser
        .load(&mut builder, false)
        .map_err(|e| SyntaxError { pos: Pos::from_marker(*e.marker()), message: e.info().to_owned() })?;
    if let Some(message) = builder.error {
        return Err(SyntaxError { pos: builder.error_pos, message });
    }
    let root = builder.root.unwrap_or(Node { pos: Pos { line: 1, col: 1 }, kind: NodeKind::Map(Vec::new()) });
    Ok((root, builder.duplicates))
}

/// Assembles nodes from parser events.
#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    error: Option<String>,
    error_pos: Pos,
    duplicates: Vec<Key>,
}

enum Frame {
    Seq(Pos, Vec<Node>),
    Map(Pos, Vec<(Key, Node)>, Option<Key>),
}

impl Builder {
    fn push_node(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq(_, items)) => items.push(node),
            Some(Frame::Map(_, entries, pending)) => match pending.take() {
                Some(key) => {
                    if entries.iter().any(|(k, _)| k.name == key.name) {
                        self.duplicates.push(key.clone());
                    }
                    entries.push((key, node));
                }
                None => match node.kind {
                    NodeKind::Scalar { value, .. } => {
                        *pending = Some(Key { name: value, pos: node.pos });
                    }
                    _ if self.error.is_none() => {
                        self.error = Some("mapping keys must be plain strings".into());
                        self.error_pos = node.pos;
                    }
                    _ => {}
                },
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = Pos::from_marker(mark);
        match ev {
            Event::Scalar(value, style, _, _) => {
                let plain = style == TScalarStyle::Plain;
                self.push_node(Node { pos, kind: NodeKind::Scalar { value, plain } });
            }
            Event::SequenceStart(..) => self.stack.push(Frame::Seq(pos, Vec::new())),
            Event::MappingStart(..) => self.stack.push(Frame::Map(pos, Vec::new(), None)),
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Frame::Seq(pos, items)) => Node { pos, kind: NodeKind::Seq(items) },
                    // The parser marks a block mapping after its first key;
                    // the first key is where a reader sees it start.
                    Some(Frame::Map(pos, entries, _)) => {
                        let pos = entries.first().map_or(pos, |(k, _)| k.pos);
                        Node { pos, kind: NodeKind::Map(entries) }
                    }
                    None => return,
                };
                self.push_node(node);
            }
            Event::Alias(_) if self.error.is_none() => {
                self.error = Some("aliases are not supported; repeat the value".into());
                self.error_pos = pos;
            }
            _ => {}
        }
    }
}

/// A deserialization error with the position of the node it concerns.
#[derive(Debug, Clone, PartialEq)]
pub struct DeError {
    /// Where; `None` until the innermost node that saw the error sets it.
    pub pos: Option<Pos>,
    /// What went wrong, in serde's words.
    pub message: String,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError { pos: None, message: msg.to_string() }
    }
}

impl DeError {
    fn at(mut self, pos: Pos) -> Self {
        self.pos.get_or_insert(pos);
        self
    }
}

/// An unknown key met while deserializing: its position, its name, and the
/// keys that would have been accepted there.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownKey {
    /// The key as written.
    pub key: Key,
    /// The accepted keys of that mapping.
    pub expected: &'static [&'static str],
}

/// Deserializes `T` from `node`. Unknown keys of structs are skipped and
/// appended to `unknown` so that one pass reports all of them; any other
/// problem ends this node's deserialization with a positioned error.
pub fn from_node<'a, T: de::Deserialize<'a>>(node: &'a Node, unknown: &RefCell<Vec<UnknownKey>>) -> Result<T, DeError> {
    T::deserialize(NodeDe { node, unknown }).map_err(|e| e.at(node.pos))
}

#[derive(Clone, Copy)]
struct NodeDe<'a, 'u> {
    node: &'a Node,
    unknown: &'u RefCell<Vec<UnknownKey>>,
}

impl<'a> NodeDe<'a, '_> {
    fn scalar(&self) -> Result<(&'a str, bool), DeError> {
        match &self.node.kind {
            NodeKind::Scalar { value, plain } => Ok((value, *plain)),
            _ => {
                Err(DeError::custom(format!("expected a single value, found {}", self.node.describe()))
                    .at(self.node.pos))
            }
        }
    }

    fn parse<T: std::str::FromStr>(&self, what: &str) -> Result<T, DeError> {
        let (text, _) = self.scalar()?;
        text.trim().parse().map_err(|_| DeError::custom(format!("expected {what}, found `{text}`")).at(self.node.pos))
    }
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

macro_rules! de_number {
    ($($method:ident => $visit:ident: $ty:ty, $what:literal;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let value: $ty = self.parse($what)?;
            visitor.$visit(value).map_err(|e: DeError| e.at(self.node.pos))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for NodeDe<'de, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let pos = self.node.pos;
        let result = match &self.node.kind {
            NodeKind::Seq(items) => visitor.visit_seq(Items { items: items.iter(), unknown: self.unknown }),
            NodeKind::Map(entries) => visitor.visit_map(Entries::new(entries, None, self.unknown)),
            NodeKind::Scalar { value, plain: false } => visitor.visit_str(value),
            NodeKind::Scalar { value, plain: true } => {
                if is_null(value) {
                    visitor.visit_unit()
                } else if let Ok(b) = value.parse::<bool>() {
                    visitor.visit_bool(b)
                } else if let Ok(i) = value.parse::<i64>() {
                    visitor.visit_i64(i)
                } else if let Ok(f) = value.parse::<f64>() {
                    visitor.visit_f64(f)
                } else {
                    visitor.visit_str(value)
                }
            }
        };
        result.map_err(|e| e.at(pos))
    }

    de_number! {
        deserialize_bool => visit_bool: bool, "`true` or `false`";
        deserialize_i8 => visit_i8: i8, "an integer";
        deserialize_i16 => visit_i16: i16, "an integer";
        deserialize_i32 => visit_i32: i32, "an integer";
        deserialize_i64 => visit_i64: i64, "an integer";
        deserialize_u8 => visit_u8: u8, "a non-negative integer";
        deserialize_u16 => visit_u16: u16, "a non-negative integer";
        deserialize_u32 => visit_u32: u32, "a non-negative integer";
        deserialize_u64 => visit_u64: u64, "a non-negative integer";
        deserialize_f32 => visit_f32: f32, "a number";
        deserialize_f64 => visit_f64: f64, "a number";
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (text, _) = self.scalar()?;
        visitor.visit_borrowed_str(text).map_err(|e: DeError| e.at(self.node.pos))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Scalar { value, plain: true } if is_null(value) => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Seq(items) => {
                visitor.visit_seq(Items { items: items.iter(), unknown: self.unknown }).map_err(|e| e.at(self.node.pos))
            }
            _ => Err(DeError::custom(format!("expected a list, found {}", self.node.describe())).at(self.node.pos)),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_struct("", &[], visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Map(entries) => {
                let fields = (!fields.is_empty()).then_some(fields);
                visitor.visit_map(Entries::new(entries, fields, self.unknown)).map_err(|e| e.at(self.node.pos))
            }
            _ => Err(DeError::custom(format!("expected a mapping, found {}", self.node.describe())).at(self.node.pos)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let (text, _) = self.scalar()?;
        let de: de::value::StrDeserializer<'_, DeError> = text.into_deserializer();
        visitor.visit_enum(de).map_err(|e| e.at(self.node.pos))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bytes byte_buf unit unit_struct tuple tuple_struct
    }
}

struct Items<'a, 'u> {
    items: std::slice::Iter<'a, Node>,
    unknown: &'u RefCell<Vec<UnknownKey>>,
}

impl<'de> SeqAccess<'de> for Items<'de, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            None => Ok(None),
            Some(node) => {
                seed.deserialize(NodeDe { node, unknown: self.unknown }).map(Some).map_err(|e| e.at(node.pos))
            }
        }
    }
}

struct Entries<'a, 'u> {
    entries: std::slice::Iter<'a, (Key, Node)>,
    fields: Option<&'static [&'static str]>,
    value: Option<&'a Node>,
    unknown: &'u RefCell<Vec<UnknownKey>>,
}

impl<'a, 'u> Entries<'a, 'u> {
    fn new(
        entries: &'a [(Key, Node)],
        fields: Option<&'static [&'static str]>,
        unknown: &'u RefCell<Vec<UnknownKey>>,
    ) -> Self {
        Entries { entries: entries.iter(), fields, value: None, unknown }
    }
}

impl<'de> MapAccess<'de> for Entries<'de, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        for (key, value) in self.entries.by_ref() {
            if let Some(fields) = self.fields
                && !fields.contains(&key.name.as_str())
            {
                self.unknown.borrow_mut().push(UnknownKey { key: key.clone(), expected: fields });
                continue;
            }
            self.value = Some(value);
            let de: de::value::StrDeserializer<'_, DeError> = key.name.as_str().into_deserializer();
            return seed.deserialize(de).map(Some).map_err(|e| e.at(key.pos));
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let node = self.value.take().ok_or_else(|| DeError::custom("value without a key"))?;
        seed.deserialize(NodeDe { node, unknown: self.unknown }).map_err(|e| e.at(node.pos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "kebab-case")]
    struct Item {
        id: String,
        count: Option<u32>,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[test]
    fn positions_are_one_based_and_point_at_the_node() {
        let root = parse("a: 1\nlist:\n  - x: yes\n").expect("valid yaml");
        let list = root.get("list").expect("list");
        assert_eq!(list.as_seq().expect("seq")[0].pos, Pos { line: 3, col: 5 });
        let (key, _) = &root.as_map().expect("map")[1];
        assert_eq!(key.pos, Pos { line: 2, col: 1 });
    }

    #[test]
    fn every_unknown_key_is_collected_and_the_rest_still_parses() {
        let root = parse("id: a\nbogus: 1\ncount: 3\nalso-bogus: 2\n").expect("valid yaml");
        let unknown = RefCell::new(Vec::new());
        let item: Item = from_node(&root, &unknown).expect("item");
        assert_eq!(item, Item { id: "a".into(), count: Some(3), tags: vec![] });
        let names: Vec<_> = unknown.borrow().iter().map(|u| (u.key.name.clone(), u.key.pos.line)).collect();
        assert_eq!(names, vec![("bogus".to_owned(), 2), ("also-bogus".to_owned(), 4)]);
    }

    #[test]
    fn type_errors_carry_the_position_of_the_bad_value() {
        let root = parse("id: a\ncount:\n  - 1\n").expect("valid yaml");
        let err = from_node::<Item>(&root, &RefCell::new(Vec::new())).expect_err("bad count");
        assert_eq!(err.pos, Some(Pos { line: 3, col: 3 }));
        assert!(err.message.contains("expected a single value"), "{}", err.message);
    }

    #[test]
    fn quoted_scalars_stay_strings_and_syntax_errors_have_positions() {
        let root = parse("id: '12'\n").expect("valid yaml");
        let item: Item = from_node(&root, &RefCell::new(Vec::new())).expect("item");
        assert_eq!(item.id, "12");
        let err = parse("a: [1, 2\nb: 3\n").expect_err("unclosed flow sequence");
        assert!(err.pos.line >= 1 && !err.message.is_empty());
    }
}
