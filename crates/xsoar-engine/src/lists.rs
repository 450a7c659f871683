//! XSOAR lists: named texts shared by every investigation.
//!
//! A list is server-wide data (allow lists, on-call rotas, JSON settings) that playbooks read
//! as `${lists.<name>}` and change with the `createList`/`setList`/`addToList`/
//! `removeFromList` builtins. XSOAR stores the text as given; only reads interpret it: "If a
//! valid JSON is stored within a list, it will automatically be parsed as a JSON object when
//! you access it from within a playbook". [`Lists`] keeps both forms, so a DT read costs no
//! parse, and is replaced whole on every change (readers hold an `Arc` of a consistent set).

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Every list: name → text, plus the `lists` DT root built from them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lists {
    texts: BTreeMap<String, String>,
    /// `{name: value}` as `${lists.<name>}` reads it.
    root: Value,
}

impl Lists {
    /// Lists from (name, text) pairs.
    pub fn from_texts(texts: impl IntoIterator<Item = (String, String)>) -> Self {
        let texts: BTreeMap<String, String> = texts.into_iter().collect();
        let root = Value::Object(
            texts
                .iter()
                .map(|(k, v)| (k.clone(), read_value(v)))
                .collect::<Map<String, Value>>(),
        );
        Self { texts, root }
    }

    /// The text of a list.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.texts.get(name).map(String::as_str)
    }

    /// Names and texts, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.texts.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many lists there are.
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// Whether there is no list.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// The `lists` DT root: each list as a playbook reads it.
    pub fn root(&self) -> &Value {
        if self.texts.is_empty() {
            static EMPTY: Value = Value::Null;
            return &EMPTY;
        }
        &self.root
    }

    /// These lists with one list created or replaced.
    pub fn with(&self, name: &str, text: &str) -> Self {
        let mut next = self.clone();
        next.texts.insert(name.to_owned(), text.to_owned());
        if !next.root.is_object() {
            next.root = Value::Object(Map::new());
        }
        if let Value::Object(m) = &mut next.root {
            m.insert(name.to_owned(), read_value(text));
        }
        next
    }
}

/// A list's text as a playbook reads it: a JSON object or array when the text is one (the
/// documented "valid JSON is parsed" rule), else the text itself. Other JSON values (`42`,
/// `"x"`, `true`) stay text: they read the same either way, and a list of one number must
/// not turn into a number for `addToList`-style text handling downstream.
pub fn read_value(text: &str) -> Value {
    let t = text.trim();
    if (t.starts_with('{') && t.ends_with('}')) || (t.starts_with('[') && t.ends_with(']')) {
        if let Ok(v) = serde_json::from_str::<Value>(t) {
            return v;
        }
    }
    Value::String(text.to_owned())
}

/// A stored list changed (by a command): what a front end persists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListChange {
    /// The list's name.
    pub name: String,
    /// Its new text.
    pub data: String,
}

/// Called with every change a command makes to a list (the REST server stores it).
pub type ListObserver = std::sync::Arc<dyn Fn(&ListChange) + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_lists_read_as_json_and_text_as_text() {
        let l = Lists::from_texts([
            ("J".to_owned(), r#"{"a": [1, 2]}"#.to_owned()),
            ("A".to_owned(), "[\"x\"]".to_owned()),
            ("T".to_owned(), "a,b,c".to_owned()),
            ("Bad".to_owned(), "{not json}".to_owned()),
            ("N".to_owned(), "42".to_owned()),
        ]);
        assert_eq!(
            l.root(),
            &json!({"J": {"a": [1, 2]}, "A": ["x"], "T": "a,b,c", "Bad": "{not json}", "N": "42"})
        );
        assert_eq!(l.get("J"), Some(r#"{"a": [1, 2]}"#));
        let l2 = l.with("T", "[1]");
        assert_eq!(l2.root()["T"], json!([1]));
        assert_eq!(
            l.root()["T"],
            json!("a,b,c"),
            "the earlier set is unchanged"
        );
        assert_eq!(Lists::default().root(), &Value::Null);
        assert_eq!(Lists::default().with("X", "y").root(), &json!({"X": "y"}));
    }
}
