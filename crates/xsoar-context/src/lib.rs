//! The investigation context of the XSOAR emulator: the JSON tree that commands write into and
//! playbooks read from, and the DT language that addresses it (§3, §4 of the semantics).
//!
//! * [`eval_path`] / [`eval_path_on`] evaluate DT paths (`DBotScore(val.Score >= 2).Indicator`,
//!   `Certs.[0]`, `Data=val.toUpperCase()`) against a [`Scope`] (special roots such as
//!   `incident` and `inputs`, then context layers) or against any value.
//! * [`interpolate`] expands `${...}` in argument values, with the whole-value and template
//!   rules; [`to_display_string`] is the template string form. [`check_path`] and
//!   [`check_template`] check the syntax alone, for `validate`.
//! * [`merge_entry_context`] merges an `EntryContext` entry (append, update-by-selector,
//!   `(true)` overwrite); [`set_path`], [`append_path`], [`delete_path`], [`delete_index`] and
//!   [`clear_except`] are the direct edits of `Set` and `DeleteContext`.
//! * [`eval_js`] and [`js_truthy`] expose the JavaScript used by selectors to the transformers.
//!
//! Values are `serde_json::Value` throughout (with insertion order preserved), because that is
//! what connectors produce and what the store persists: no conversion at the boundaries.
//!
//! This crate does no IO. Selectors and mutators are JavaScript; why they run on a small
//! built-in evaluator with an embedded QuickJS behind it is explained in the [`js`] module.
//! Everything is synchronous and `Send`-agnostic: functions take `&Value` and return `Value`,
//! and the JavaScript runtime is a per-thread detail that never escapes.

mod cache;
mod error;
mod interpolate;
pub mod js;
mod merge;
mod path;
mod scan;
mod scope;

pub use error::DtError;
pub use interpolate::{
    check_template, interpolate, to_display_string, unclosed_interpolation, Interpolated,
};
pub use js::{eval_js, js_truthy};
pub use merge::{
    append_path, check_entry_context_key, clear_except, delete_index, delete_path, get_path,
    merge_entry_context, set_path,
};
pub use path::{check_path, eval_path, eval_path_on};
pub use scope::Scope;
