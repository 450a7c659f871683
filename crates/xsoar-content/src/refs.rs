//! Cross-file checks: what a playbook uses that no loaded item provides, and items of
//! different files that claim the same id or name.
//!
//! Which scripts run natively and which condition operators and transformers exist is the
//! engine's knowledge, and this crate does not depend on the engine: the caller describes it
//! with a [`Vocabulary`]. Lookups follow the engine's: a command is provided by an integration
//! whose brand (`name`) or id matches the task's brand (any integration when the task names
//! none); a script by name or id, when the task names no brand or the `Builtin` brand.
//!
//! The DT a playbook reads (context operands, `complex` roots and accessors, `${...}` in
//! `simple` values) is parsed with the engine's parser, also through the [`Vocabulary`]: a
//! broken path would otherwise only surface when a run reaches its task, as an error there.
//!
//! Diagnostics come without line and column (the model does not keep positions); callers
//! resolve them from the file's text with [`resolve_positions`](crate::resolve_positions).

use std::collections::HashMap;

use crate::check::subject;
use crate::diag::{Diagnostic, PathSeg, Pending};
use crate::library::Library;
use crate::model::{ArgValue, Atom, Complex, Operand, Playbook, Task, TaskTarget};
use crate::ContentItem;

/// The brand XSOAR gives the commands its server runs itself (`Builtin|||setIncident`); tasks
/// may name it for scripts too.
const BUILTIN_BRAND: &str = "Builtin";

/// What the engine provides beyond the loaded content.
pub trait Vocabulary {
    /// Whether a script or command that no loaded item declares runs anyway (implemented
    /// natively, or an alias a connector accepts). `brand` is the brand the task names.
    fn is_native(&self, brand: Option<&str>, name: &str) -> bool;

    /// `Ok` when the engine evaluates this condition/filter operator (as written, with its
    /// category prefix if any); otherwise the closest known operator.
    fn operator(&self, written: &str) -> Result<(), String>;

    /// `Ok` when the engine evaluates this transformer; otherwise the closest known one.
    fn transformer(&self, written: &str) -> Result<(), String>;

    /// `Ok` when the engine can parse this bare DT path (one enclosing `${...}` allowed);
    /// otherwise what is wrong with it.
    fn dt_path(&self, expr: &str) -> Result<(), String>;

    /// `Ok` when the engine can parse every `${...}` of this `simple` value; otherwise what is
    /// wrong with the first it cannot.
    fn dt_template(&self, text: &str) -> Result<(), String>;

    /// What is wrong with a `${` of this `simple` value that is never closed (the engine uses
    /// the value as literal text), if one is not. Default: nothing.
    fn unclosed_template(&self, _text: &str) -> Option<String> {
        None
    }
}

fn key(k: &str) -> PathSeg {
    PathSeg::Key(k.to_owned())
}

fn with(base: &[PathSeg], more: impl IntoIterator<Item = PathSeg>) -> Vec<PathSeg> {
    let mut p = base.to_vec();
    p.extend(more);
    p
}

/// Check what a playbook uses against the library and the engine's vocabulary: scripts and
/// commands that nothing provides, condition operators and transformers the engine does not
/// know (a loaded script of that name is accepted: XSOAR runs scripts as filters and
/// transformers). Warnings, except for tasks marked `skipunavailable`, whose missing script
/// or command is a note: XSOAR skips such a task, as the author intended. DT the engine
/// cannot parse is an error: the task that reads it cannot run.
pub fn check_playbook_vocabulary(
    p: &Playbook,
    lib: &Library,
    vocab: &dyn Vocabulary,
) -> Vec<Diagnostic> {
    let mut cx = Cx {
        lib,
        vocab,
        out: Vec::new(),
    };
    for t in p.tasks.values() {
        cx.task(t);
    }
    for (n, input) in p.inputs.iter().enumerate() {
        if let Some(v) = &input.value {
            let who = format!("input {:?}", input.key);
            cx.arg(&who, &[key("inputs"), PathSeg::Index(n), key("value")], v);
        }
    }
    cx.out
        .into_iter()
        .map(|d| d.into_diagnostic(&p.file, None))
        .collect()
}

struct Cx<'a> {
    lib: &'a Library,
    vocab: &'a dyn Vocabulary,
    out: Vec<Pending>,
}

impl Cx<'_> {
    fn task(&mut self, t: &Task) {
        let who = subject(t);
        let at = vec![key("tasks"), key(&t.id)];
        self.target(t, &who, &at);
        for (name, v) in &t.script_arguments {
            self.arg(&who, &with(&at, [key("scriptarguments"), key(name)]), v);
        }
        for (n, b) in t.conditions.iter().enumerate() {
            let base = with(
                &at,
                [key("conditions"), PathSeg::Index(n), key("condition")],
            );
            self.groups(&who, &base, &b.condition);
        }
        if let Some(l) = &t.loop_settings {
            self.groups(
                &who,
                &with(&at, [key("loop"), key("builtincondition")]),
                &l.builtin_condition,
            );
            for (name, v) in &l.script_arguments {
                self.arg(
                    &who,
                    &with(&at, [key("loop"), key("scriptArguments"), key(name)]),
                    v,
                );
            }
            // The exit script of a condition loop runs after every iteration (§8.9); the
            // engine fails the task when it is missing.
            let exit_script = [
                ("scriptId", &l.script_id),
                ("exitCondition", &l.exit_condition),
            ]
            .into_iter()
            .find_map(|(field, s)| s.as_deref().map(|s| (field, s.trim())));
            if let Some((field, name)) = exit_script {
                if !name.is_empty() && !self.provided(None, name) {
                    self.out.push(Pending::warning(
                        with(&at, [key("loop"), key(field)]),
                        format!("{who}: loop exit script {name:?} is not loaded"),
                    ));
                }
            }
        }
        for (n, f) in t.field_mapping.iter().enumerate() {
            self.arg(
                &who,
                &with(&at, [key("fieldMapping"), PathSeg::Index(n), key("output")]),
                &f.output,
            );
        }
    }

    /// The script or command a task runs.
    fn target(&mut self, t: &Task, who: &str, at: &[PathSeg]) {
        let (brand, name, is_script) = match t.target() {
            TaskTarget::Command { brand, command } => (brand, command, false),
            TaskTarget::Script(name) => (None, name, true),
            _ => return,
        };
        if name.is_empty() || self.provided(brand, name) {
            return;
        }
        let field = if t.script_name.as_deref().map(str::trim) == Some(name) {
            "scriptName"
        } else {
            "script"
        };
        let mut message = match brand {
            Some(b) if b != BUILTIN_BRAND && !self.brand_loaded(b) => {
                format!("{who}: integration {b:?} (of command {name:?}) is not loaded")
            }
            Some(b) => {
                let mut m = format!("{who}: integration {b:?} has no command {name:?}");
                let names = self.brand_commands(b);
                if let Some(s) = closest_name(name, names.iter().copied()) {
                    m.push_str(&format!(" (did you mean {s:?}?)"));
                }
                m
            }
            None => {
                let what = if is_script { "script" } else { "command" };
                let mut m = format!("{who}: {what} {name:?} is not loaded");
                let names = self
                    .lib
                    .integrations()
                    .flat_map(|i| i.commands.iter().map(|c| c.name.as_str()))
                    .chain(self.lib.scripts().map(|s| s.name.as_str()));
                if let Some(s) = closest_name(name, names) {
                    m.push_str(&format!(" (did you mean {s:?}?)"));
                }
                m
            }
        };
        let path = with(at, [key("task"), key(field)]);
        if t.skip_unavailable {
            message.push_str("; the task is skipped when it runs (skipunavailable)");
            self.out.push(Pending::note(path, message));
        } else {
            self.out.push(Pending::warning(path, message));
        }
    }

    fn provided(&self, brand: Option<&str>, name: &str) -> bool {
        let brand_ok = |i: &crate::Integration| brand.is_none_or(|b| i.name == b || i.id == b);
        if self.lib.commands_named_iter(name).any(|(i, _)| brand_ok(i)) {
            return true;
        }
        if brand.is_none_or(|b| b == BUILTIN_BRAND) && self.lib.script(name).is_some() {
            return true;
        }
        self.vocab.is_native(brand, name)
    }

    fn brand_loaded(&self, brand: &str) -> bool {
        self.lib
            .integrations()
            .any(|i| i.name == brand || i.id == brand)
    }

    fn brand_commands(&self, brand: &str) -> Vec<&str> {
        self.lib
            .integrations()
            .filter(|i| i.name == brand || i.id == brand)
            .flat_map(|i| i.commands.iter().map(|c| c.name.as_str()))
            .collect()
    }

    fn arg(&mut self, who: &str, at: &[PathSeg], v: &ArgValue) {
        match v {
            ArgValue::Complex(c) => self.complex(who, &with(at, [key("complex")]), c),
            ArgValue::Simple(s) => {
                let checked = self.vocab.dt_template(s);
                self.dt(who, with(at, [key("simple")]), checked);
                if let Some(why) = self.vocab.unclosed_template(s) {
                    self.out.push(Pending::warning(
                        with(at, [key("simple")]),
                        format!("{who}: {why}"),
                    ));
                }
            }
        }
    }

    /// An error for a DT expression the engine cannot parse: the task would fail on it.
    fn dt(&mut self, who: &str, at: Vec<PathSeg>, checked: Result<(), String>) {
        if let Err(e) = checked {
            self.out.push(Pending::error(at, format!("{who}: {e}")));
        }
    }

    fn complex(&mut self, who: &str, at: &[PathSeg], c: &Complex) {
        let checked = self.vocab.dt_path(&c.root);
        self.dt(who, with(at, [key("root")]), checked);
        if let Some(accessor) = &c.accessor {
            let checked = self.vocab.dt_path(accessor);
            self.dt(who, with(at, [key("accessor")]), checked);
        }
        self.groups(who, &with(at, [key("filters")]), &c.filters);
        for (n, t) in c.transformers.iter().enumerate() {
            let here = with(at, [key("transformers"), PathSeg::Index(n)]);
            let name = t.operator.trim();
            if let Err(closest) = self.vocab.transformer(name) {
                if self.lib.script(name).is_none() {
                    self.out.push(Pending::warning(
                        with(&here, [key("operator")]),
                        format!(
                            "{who}: unknown transformer {name:?} (closest match: {closest:?}); no loaded script has that name either"
                        ),
                    ));
                }
            }
            for (arg, operand) in &t.args {
                self.operand(who, &with(&here, [key("args"), key(arg)]), operand);
            }
        }
    }

    fn groups(&mut self, who: &str, at: &[PathSeg], groups: &[Vec<Atom>]) {
        for (g, group) in groups.iter().enumerate() {
            for (n, atom) in group.iter().enumerate() {
                self.atom(who, &with(at, [PathSeg::Index(g), PathSeg::Index(n)]), atom);
            }
        }
    }

    fn atom(&mut self, who: &str, at: &[PathSeg], atom: &Atom) {
        let name = atom.operator.trim();
        if let Err(closest) = self.vocab.operator(name) {
            if self.lib.script(name).is_none() {
                self.out.push(Pending::warning(
                    with(at, [key("operator")]),
                    format!(
                        "{who}: unknown condition operator {name:?} (closest match: {closest:?}); no loaded script has that name either"
                    ),
                ));
            }
        }
        self.operand(who, &with(at, [key("left")]), &atom.left);
        if let Some(right) = &atom.right {
            self.operand(who, &with(at, [key("right")]), right);
        }
    }

    fn operand(&mut self, who: &str, at: &[PathSeg], op: &Operand) {
        match &op.value {
            // `iscontext: true` makes a `simple` value a bare context path, not a template.
            Some(ArgValue::Simple(s)) if op.is_context => {
                let checked = self.vocab.dt_path(s);
                self.dt(who, with(at, [key("value"), key("simple")]), checked);
            }
            Some(v) => self.arg(who, &with(at, [key("value")]), v),
            None => {}
        }
    }
}

/// The closest name for a typo: within an edit distance of 2, or a quarter of its length for
/// long names (as the engine's hint for unknown commands).
fn closest_name<'n>(name: &str, candidates: impl Iterator<Item = &'n str>) -> Option<&'n str> {
    let lower = name.to_ascii_lowercase();
    candidates
        .map(|c| (edit_distance(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Items of the same kind, from different files, with the same id or name, in load order.
/// Adding an item whose id is already loaded replaces the earlier one, so the later file
/// wins; a name shared by items with different ids finds the first one loaded. Each finding
/// is one warning on the later file, naming the earlier one.
pub fn check_duplicates<'a>(items: impl IntoIterator<Item = &'a ContentItem>) -> Vec<Diagnostic> {
    // (kind, id) -> file; (kind, name) -> (id, file): the first item seen.
    let mut ids: HashMap<(crate::ContentKind, &str), &str> = HashMap::new();
    let mut names: HashMap<(crate::ContentKind, &str), (&str, &str)> = HashMap::new();
    let mut out = Vec::new();
    for item in items {
        let (kind, id, name, file) = (item.kind(), item.id(), item.name(), item.file());
        let id_path = match item {
            ContentItem::Playbook(_) => vec![key("id")],
            _ => vec![key("commonfields"), key("id")],
        };
        let name_what = match item {
            ContentItem::Integration(_) => "name (brand)",
            _ => "name",
        };
        match ids.get(&(kind, id)) {
            Some(&first) if first != file => out.push(Pending::warning(
                id_path,
                format!(
                    "{kind} id {id:?} is also defined in {first}; this file is loaded later, so its {kind} replaces that one"
                ),
            ).into_diagnostic(file, None)),
            Some(_) => {}
            None => {
                ids.insert((kind, id), file);
            }
        }
        match names.get(&(kind, name)) {
            Some(&(first_id, first)) if first_id != id && first != file => out.push(
                Pending::warning(
                    vec![key("name")],
                    format!(
                        "{kind} {name_what} {name:?} is also used by {kind} {first_id:?} in {first}; lookups by name find that one (loaded first)"
                    ),
                )
                .into_diagnostic(file, None),
            ),
            Some(_) => {}
            None => {
                names.insert((kind, name), (id, file));
            }
        }
    }
    out
}
