//! The view a DT path is resolved against (§3.1).
//!
//! A scope is a few borrowed references and never copies the context: the engine builds one
//! per evaluation, so building it must be cheap, and the investigation context can be large.

use serde_json::{Map, Value};

/// Where a DT path is resolved: special roots first (`incident`, `inputs`, `modules`,
/// `lastCompletedTaskEntries`, `currentPlaybookID`, `lists`, ... any name the caller adds),
/// then the context layers in order (a private sub-playbook context first, then the parent
/// context as fallback).
///
/// Roots added later shadow roots added earlier under the same name; roots shadow context keys.
/// A path whose first name exists in several context layers is evaluated layer by layer and the
/// first layer that yields something wins (so a private context that holds `A.B` does not hide
/// the parent's `A.C`).
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    roots: Vec<(&'a str, &'a Value)>,
    layers: Vec<&'a Value>,
}

impl<'a> Scope<'a> {
    /// A scope over one context object.
    pub fn new(context: &'a Value) -> Self {
        Scope {
            roots: Vec::new(),
            layers: vec![context],
        }
    }

    /// Adds (or shadows) a special root such as `incident` or `inputs`.
    #[must_use]
    pub fn with_root(mut self, name: &'a str, value: &'a Value) -> Self {
        self.roots.push((name, value));
        self
    }

    /// Adds a further context layer, consulted after the ones already present.
    #[must_use]
    pub fn with_fallback(mut self, parent: &'a Value) -> Self {
        self.layers.push(parent);
        self
    }

    /// The value of a top-level name: a special root, else the first context layer holding it.
    pub fn lookup(&self, key: &str) -> Option<&'a Value> {
        self.root(key)
            .or_else(|| self.layers.iter().find_map(|l| l.get(key)))
    }

    /// The special root of that name, if any.
    pub(crate) fn root(&self, key: &str) -> Option<&'a Value> {
        self.roots
            .iter()
            .rev()
            .find(|(n, _)| *n == key)
            .map(|(_, v)| *v)
    }

    /// The context layers, most private first.
    pub(crate) fn layers(&self) -> &[&'a Value] {
        &self.layers
    }

    /// The merged object view (what `${.}` shows): the context layers, more private layers
    /// winning at top level, then the special roots.
    pub fn to_value(&self) -> Value {
        let mut out = Map::new();
        for layer in self.layers.iter().rev() {
            if let Value::Object(m) = layer {
                for (k, v) in m {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        for (name, v) in &self.roots {
            out.insert((*name).to_owned(), (*v).clone());
        }
        Value::Object(out)
    }
}
