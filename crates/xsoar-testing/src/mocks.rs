//! Mock files: what a test playbook's commands return, without a server or a network.
//!
//! XSOAR's own test tooling replays recorded HTTP traffic underneath integration code. The
//! emulator does not run integration code, so mocks sit one level higher: per command, the
//! result dict XSOAR would have written (EntryContext, readable output, raw response, or an
//! error). That is exactly what [`xsoar_engine::CommandHook::record`] observes, so a recorded
//! run can be written back as a mock file ([`crate::record`]) and replayed bit for bit.
//!
//! A file also carries *fixtures*: the incident, the playbook inputs, an initial context and
//! manual-task completions, globally or per test playbook. The format is documented with
//! examples in `docs/mocks.md`; this module parses it (with `file:line` in every error),
//! compiles the argument matchers and picks the mock for a call.

use regex::Regex;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;
use xsoar_connector::{CommandResult, EntryType, MASK};
use xsoar_content::PathSeg;
use xsoar_engine::{HookCall, TaskCompletion};

/// A problem in a mock file, located as precisely as the text allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", location(*.line, *.col))]
pub struct MockError {
    /// The file as it was named when loaded.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub col: Option<usize>,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn location(line: Option<usize>, col: Option<usize>) -> String {
    match (line, col) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

/// Every problem found in a set of mock files (loading reports them all at once).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct MockErrors(pub Vec<MockError>);

/// How one argument of a call is matched.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// `*`: the argument is present, any value.
    Any,
    /// `~` (null): the argument is absent.
    Absent,
    /// A literal: equal as JSON, or equal in its text form (`5` matches `"5"`).
    Exact(Value),
    /// `/regex/` or `/regex/i`: searched in the text form of the value.
    Regex(Regex),
}

impl Matcher {
    fn parse(v: &Value) -> Result<Self, String> {
        match v {
            Value::Null => Ok(Matcher::Absent),
            Value::String(s) if s == "*" => Ok(Matcher::Any),
            Value::String(s) => match regex_literal(s) {
                Some((pattern, ci)) => compile(pattern, ci).map(Matcher::Regex),
                None => Ok(Matcher::Exact(v.clone())),
            },
            Value::Object(o) if o.len() == 1 => {
                if let Some(inner) = o.get("equals") {
                    return Ok(Matcher::Exact(inner.clone()));
                }
                if let Some(r) = o.get("regex") {
                    let Some(pattern) = r.as_str() else {
                        return Err("`regex:` takes a string".into());
                    };
                    return compile(pattern, false).map(Matcher::Regex);
                }
                Ok(Matcher::Exact(v.clone()))
            }
            other => Ok(Matcher::Exact(other.clone())),
        }
    }

    /// `Ok` when `actual` matches, else why not.
    pub fn check(&self, actual: Option<&Value>) -> Result<(), String> {
        self.check_masked(actual, false)
    }

    /// As [`Matcher::check`]; for a `secret: true` argument (`secret`) the reason quotes
    /// neither the call's value nor the mock's (a mock file may hold a real password).
    pub fn check_masked(&self, actual: Option<&Value>, secret: bool) -> Result<(), String> {
        let actual = actual.filter(|v| !v.is_null());
        let shown = |v: &Value| {
            if secret {
                MASK.to_owned()
            } else {
                xsoar_context::to_display_string(v)
            }
        };
        let expected = || {
            if secret {
                self.describe_secret()
            } else {
                self.describe()
            }
        };
        match (self, actual) {
            (Matcher::Absent, None) => Ok(()),
            (Matcher::Absent, Some(v)) => Err(format!("is '{}', expected it absent", shown(v))),
            (_, None) => Err(format!("is absent, expected {}", expected())),
            (Matcher::Any, Some(_)) => Ok(()),
            (Matcher::Exact(want), Some(v)) => {
                let text = xsoar_context::to_display_string(v);
                let equal = match want {
                    Value::String(s) => *s == text,
                    other => other == v || xsoar_context::to_display_string(other) == text,
                };
                if equal {
                    Ok(())
                } else {
                    Err(format!("is '{}', expected {}", shown(v), expected()))
                }
            }
            (Matcher::Regex(r), Some(v)) => {
                let text = xsoar_context::to_display_string(v);
                if r.is_match(&text) {
                    Ok(())
                } else {
                    Err(format!("is '{}', expected {}", shown(v), expected()))
                }
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Matcher::Any => "any value".into(),
            Matcher::Absent => "absent".into(),
            Matcher::Exact(v) => format!("'{}'", xsoar_context::to_display_string(v)),
            Matcher::Regex(r) => format!("/{}/", r.as_str()),
        }
    }

    /// What the matcher wants, for a secret argument: never the value or the pattern.
    fn describe_secret(&self) -> String {
        match self {
            Matcher::Any | Matcher::Absent => self.describe(),
            Matcher::Exact(_) => format!("'{MASK}' (a secret argument: no value is shown)"),
            Matcher::Regex(_) => format!("/{MASK}/ (a secret argument: no value is shown)"),
        }
    }
}

/// `/pattern/` or `/pattern/i` → (pattern, case-insensitive).
fn regex_literal(s: &str) -> Option<(&str, bool)> {
    let body = s.strip_prefix('/')?;
    if let Some(p) = body.strip_suffix("/i") {
        return Some((p, true));
    }
    body.strip_suffix('/').map(|p| (p, false))
}

fn compile(pattern: &str, case_insensitive: bool) -> Result<Regex, String> {
    let full = if case_insensitive {
        format!("(?i){pattern}")
    } else {
        pattern.to_owned()
    };
    Regex::new(&full).map_err(|e| format!("invalid regular expression /{pattern}/: {e}"))
}

/// Whether a text would be read as a matcher rather than a literal (`*`, `/.../`): such
/// values are written as `{equals: ...}` when recording.
pub fn looks_like_matcher(v: &Value) -> bool {
    match v {
        Value::String(s) => s == "*" || regex_literal(s).is_some(),
        Value::Object(o) => o.len() == 1 && (o.contains_key("equals") || o.contains_key("regex")),
        Value::Null => true,
        _ => false,
    }
}

/// One mock: which calls it answers and what it returns.
#[derive(Debug, Clone)]
pub struct Mock {
    /// Its `name:`, else `file:line`.
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// Line of the mock in its file.
    pub line: usize,
    /// Brand restriction (`SIGNL4|||signl4_alert`), if any.
    pub brand: Option<String>,
    /// Command or script name.
    pub command: String,
    /// Test playbook (id, name or glob) this mock is limited to.
    pub playbook: Option<String>,
    /// Argument matchers; arguments not listed are not checked.
    pub args: Vec<(String, Matcher)>,
    /// Answer at most this many calls, then let the next matching mock answer.
    pub times: Option<u32>,
    /// Time the call takes on the run's virtual clock.
    pub latency: Duration,
    /// The entries the call produces.
    pub results: Vec<CommandResult>,
}

impl Mock {
    /// `brand|||command` or `command`.
    pub fn key(&self) -> String {
        match &self.brand {
            Some(b) => format!("{b}|||{}", self.command),
            None => self.command.clone(),
        }
    }

    fn answers_brand(&self, call: &HookCall<'_>) -> bool {
        match (&self.brand, call.brand) {
            (None, _) => true,
            (Some(want), Some(got)) => want.eq_ignore_ascii_case(got),
            (Some(_), None) => false,
        }
    }

    fn applies_to(&self, playbook_id: &str, playbook_name: &str) -> bool {
        self.playbook
            .as_deref()
            .is_none_or(|p| names_playbook(p, playbook_id, playbook_name))
    }

    /// `Ok` when every listed argument matches, else the first mismatch (the values of the
    /// `secret` arguments masked).
    fn check_args(&self, args: &Map<String, Value>, secret: &[String]) -> Result<(), String> {
        for (name, m) in &self.args {
            m.check_masked(args.get(name), secret.contains(name))
                .map_err(|why| format!("argument '{name}' {why}"))?;
        }
        Ok(())
    }
}

/// Whether a `playbook:` reference (id, name or glob) names this test playbook.
pub(crate) fn names_playbook(reference: &str, id: &str, name: &str) -> bool {
    if crate::select::is_glob(reference) {
        crate::select::glob_match(reference, id) || crate::select::glob_match(reference, name)
    } else {
        reference == id || reference == name
    }
}

/// Incident, inputs, context and completions for a test playbook run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fixture {
    /// Incident fields (system fields by name, custom fields by machine name or under
    /// `CustomFields`).
    pub incident: Map<String, Value>,
    /// Inputs of the test playbook.
    pub inputs: Map<String, Value>,
    /// Context present before the run starts.
    pub context: Map<String, Value>,
    /// Manual tasks to complete when they wait (task id, tag or name; optional branch).
    pub complete: Vec<TaskCompletion>,
}

impl Fixture {
    /// `self` with `over`'s values on top (keys replace, completions add up).
    fn overlaid(&self, over: &Fixture) -> Fixture {
        let mut out = self.clone();
        out.incident
            .extend(over.incident.iter().map(|(k, v)| (k.clone(), v.clone())));
        out.inputs
            .extend(over.inputs.iter().map(|(k, v)| (k.clone(), v.clone())));
        out.context
            .extend(over.context.iter().map(|(k, v)| (k.clone(), v.clone())));
        out.complete.extend(over.complete.iter().cloned());
        out
    }
}

/// The mocks of a call, as far as the set can tell.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// Index of the mock that answers (in [`MockSet::mocks`]).
    Found(usize),
    /// No mock answers; for each mock of that command, why not.
    Missing(Vec<String>),
}

/// Every mock and fixture of a run, in the order the files were given.
#[derive(Debug, Clone, Default)]
pub struct MockSet {
    mocks: Vec<Mock>,
    files: Vec<String>,
    global: Fixture,
    playbooks: Vec<PlaybookFixture>,
}

/// A `playbooks:` key of a mock file: its fixture and where the key is written.
#[derive(Debug, Clone)]
struct PlaybookFixture {
    reference: String,
    fixture: Fixture,
    file: String,
    line: Option<usize>,
}

impl MockSet {
    /// An empty set (every command is missing a mock).
    pub fn new() -> Self {
        Self::default()
    }

    /// Parse mock files given as (name, text), in order. Every problem of every file is
    /// reported; nothing is returned unless all files are valid.
    pub fn parse(files: &[(String, String)]) -> Result<Self, MockErrors> {
        let mut set = MockSet::new();
        let mut errors = Vec::new();
        for (name, text) in files {
            match parse_file(name, text) {
                Ok(one) => set.extend(one),
                Err(mut e) => errors.append(&mut e),
            }
        }
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(MockErrors(errors))
        }
    }

    /// Parse one mock file.
    pub fn parse_one(name: &str, text: &str) -> Result<Self, MockErrors> {
        parse_file(name, text).map_err(MockErrors)
    }

    /// Append another set (its mocks come after this set's).
    pub fn extend(&mut self, other: MockSet) {
        self.mocks.extend(other.mocks);
        self.files.extend(other.files);
        self.global = self.global.overlaid(&other.global);
        self.playbooks.extend(other.playbooks);
    }

    /// The mocks, in match order within their group.
    pub fn mocks(&self) -> &[Mock] {
        &self.mocks
    }

    /// The files the mocks came from (named in missing-mock messages).
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// The test playbooks (id, name or glob) that per-playbook fixtures are for.
    pub fn fixture_playbooks(&self) -> impl Iterator<Item = &str> {
        self.playbooks.iter().map(|p| p.reference.as_str())
    }

    /// Each `playbooks:` key with where it is written: (key, `file:line`, or the file when
    /// the line is unknown). A key written in two files appears once per file.
    pub fn fixture_playbook_sites(&self) -> impl Iterator<Item = (&str, String)> {
        self.playbooks.iter().map(|p| {
            let at = match p.line {
                Some(l) => format!("{}:{l}", p.file),
                None => p.file.clone(),
            };
            (p.reference.as_str(), at)
        })
    }

    /// Brands that some mock names (`Brand|||command`).
    pub fn brands(&self) -> Vec<String> {
        let mut out: Vec<String> = self.mocks.iter().filter_map(|m| m.brand.clone()).collect();
        out.sort();
        out.dedup();
        out
    }

    /// The fixture of a test playbook: the global one with the playbook's own on top.
    pub fn fixture_for(&self, id: &str, name: &str) -> Fixture {
        let mut out = self.global.clone();
        for p in &self.playbooks {
            if names_playbook(&p.reference, id, name) {
                out = out.overlaid(&p.fixture);
            }
        }
        out
    }

    /// The mock that answers `call` in test playbook (`id`, `name`), given how often each mock
    /// was used in this run. Mocks limited to the playbook are tried before global ones;
    /// within each group, the first that matches and is not used up wins. The reasons of
    /// [`Selection::Missing`] quote no value of the `secret` arguments (the call's `secret:
    /// true` arguments), neither the call's nor the mock's.
    pub fn select(
        &self,
        call: &HookCall<'_>,
        id: &str,
        name: &str,
        uses: &[u32],
        secret: &[String],
    ) -> Selection {
        let mut why_not = Vec::new();
        for scoped in [true, false] {
            for (i, m) in self.mocks.iter().enumerate() {
                if m.playbook.is_some() != scoped || m.command != call.command {
                    continue;
                }
                let place = m.to_string();
                if !m.answers_brand(call) {
                    why_not.push(format!(
                        "{place} is for brand '{}'",
                        m.brand.as_deref().unwrap_or_default()
                    ));
                    continue;
                }
                if !m.applies_to(id, name) {
                    why_not.push(format!(
                        "{place} is for playbook '{}'",
                        m.playbook.as_deref().unwrap_or_default()
                    ));
                    continue;
                }
                if let Err(e) = m.check_args(call.args, secret) {
                    why_not.push(format!("{place}: {e}"));
                    continue;
                }
                let used = uses.get(i).copied().unwrap_or(0);
                if m.times.is_some_and(|t| used >= t) {
                    why_not.push(format!(
                        "{place} is used up (times: {})",
                        m.times.unwrap_or(0)
                    ));
                    continue;
                }
                return Selection::Found(i);
            }
        }
        Selection::Missing(why_not)
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// A mock file's fixtures (its `mocks:` are read one by one, see `parse_file`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    incident: Option<Map<String, Value>>,
    #[serde(default)]
    inputs: Option<Map<String, Value>>,
    #[serde(default)]
    context: Option<Map<String, Value>>,
    #[serde(default)]
    complete: Vec<String>,
    #[serde(default)]
    playbooks: BTreeMap<String, FixtureDoc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureDoc {
    #[serde(default)]
    incident: Option<Map<String, Value>>,
    #[serde(default)]
    inputs: Option<Map<String, Value>>,
    #[serde(default)]
    context: Option<Map<String, Value>>,
    #[serde(default)]
    complete: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MockDoc {
    #[serde(default)]
    name: Option<String>,
    command: String,
    #[serde(default)]
    playbook: Option<String>,
    #[serde(default)]
    args: Map<String, Value>,
    #[serde(default)]
    times: Option<u32>,
    #[serde(default)]
    latency: Option<Value>,
    #[serde(default)]
    context: Option<Map<String, Value>>,
    #[serde(default)]
    readable: Option<String>,
    #[serde(default, deserialize_with = "present")]
    raw: Option<Value>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default, rename = "type")]
    entry_type: Option<i64>,
    #[serde(default)]
    results: Option<Vec<ResultDoc>>,
}

impl MockDoc {
    fn response(&self) -> ResultDoc {
        ResultDoc {
            context: self.context.clone(),
            readable: self.readable.clone(),
            raw: self.raw.clone(),
            format: self.format.clone(),
            error: self.error.clone(),
            entry_type: self.entry_type,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultDoc {
    #[serde(default)]
    context: Option<Map<String, Value>>,
    #[serde(default)]
    readable: Option<String>,
    #[serde(default, deserialize_with = "present")]
    raw: Option<Value>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default, rename = "type")]
    entry_type: Option<i64>,
}

/// `raw: null` is a value (`Some(Null)`); a missing `raw` is `None`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl ResultDoc {
    fn is_empty(&self) -> bool {
        self.context.is_none()
            && self.readable.is_none()
            && self.raw.is_none()
            && self.format.is_none()
            && self.error.is_none()
            && self.entry_type.is_none()
    }

    fn to_result(&self) -> Result<CommandResult, String> {
        if let Some(message) = &self.error {
            if self.context.is_some() || self.readable.is_some() || self.raw.is_some() {
                return Err(
                    "`error:` cannot be combined with `context:`, `readable:` or `raw:` (an error entry has only its message)"
                        .into(),
                );
            }
            let mut r = CommandResult::error(message.clone());
            if let Some(t) = self.entry_type {
                r.entry_type = EntryType(t);
            }
            return Ok(r);
        }
        let context = self.context.clone().unwrap_or_default();
        let contents = match (&self.raw, &self.readable) {
            (Some(raw), _) => raw.clone(),
            (None, Some(text)) => Value::String(text.clone()),
            (None, None) if !context.is_empty() => Value::Object(context.clone()),
            (None, None) => Value::String(String::new()),
        };
        let format = self.format.clone().unwrap_or_else(|| match &contents {
            Value::Object(_) | Value::Array(_) => "json".into(),
            _ if self.raw.is_none() && self.readable.is_some() => "markdown".into(),
            _ => "text".into(),
        });
        let mut r = CommandResult::text(String::new());
        r.contents = contents;
        r.contents_format = format.into();
        r.human_readable = self.readable.clone();
        r.entry_context = context;
        if let Some(t) = self.entry_type {
            r.entry_type = EntryType(t);
        }
        Ok(r)
    }
}

fn is_blank(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---"
    })
}

fn parse_file(name: &str, text: &str) -> Result<MockSet, Vec<MockError>> {
    let err = |line: Option<usize>, col: Option<usize>, message: String| MockError {
        file: name.to_owned(),
        line,
        col,
        message,
    };
    let syntax = |e: serde_yaml::Error| {
        let (line, col) = e
            .location()
            .map(|l| (Some(l.line()), Some(l.column())))
            .unwrap_or((None, None));
        let msg = e.to_string();
        // serde_yaml appends " at line X column Y"; the location is already in front.
        let msg = match msg.find(" at line ") {
            Some(i) if line.is_some() => msg[..i].to_owned(),
            _ => msg,
        };
        vec![err(line, col, format!("not a valid mock file: {msg}"))]
    };
    let at = |path: &[PathSeg]| {
        xsoar_content::locate(text, path)
            .or_else(|| path.get(..2).and_then(|p| xsoar_content::locate(text, p)))
            .map(|(l, c)| (Some(l), Some(c)))
            .unwrap_or((None, None))
    };
    // The file is read as YAML first, then the fixtures and each mock on its own, so one
    // misshapen mock (a misspelt key, a list where a map belongs) does not hide the problems
    // of the others.
    let mut value: serde_yaml::Value = if is_blank(text) {
        serde_yaml::Value::Null
    } else {
        serde_yaml::from_str(text).map_err(syntax)?
    };
    let raw_mocks = match value.as_mapping_mut() {
        Some(map) => map.remove("mocks"),
        None => None,
    };
    let mut errors = Vec::new();
    let mut shape = |path: Vec<PathSeg>, prefix: &str, e: serde_yaml::Error| {
        let msg = e.to_string();
        // An unknown key is shown where it is written.
        let unknown = msg
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned);
        let (line, col) = match &unknown {
            Some(key) => {
                let (l, _) = at(&[&path[..], &[PathSeg::Key(key.clone())]].concat());
                // Columns count characters, as `locate` does.
                let col = l.and_then(|l| {
                    let line = text.lines().nth(l - 1)?;
                    line.find(key.as_str())
                        .map(|byte| line[..byte].chars().count() + 1)
                });
                (l, col)
            }
            None => at(&path),
        };
        errors.push(err(
            line,
            col,
            format!("not a valid mock file: {prefix}{msg}"),
        ));
    };
    let doc: FileDoc = if value.is_null() {
        FileDoc::default()
    } else {
        serde_yaml::from_value(value).unwrap_or_else(|e| {
            shape(Vec::new(), "", e);
            FileDoc::default()
        })
    };
    let mut items: Vec<(usize, MockDoc)> = Vec::new();
    match raw_mocks {
        None | Some(serde_yaml::Value::Null) => {}
        Some(serde_yaml::Value::Sequence(seq)) => {
            for (i, item) in seq.into_iter().enumerate() {
                let path = vec![PathSeg::Key("mocks".into()), PathSeg::Index(i)];
                match serde_yaml::from_value::<MockDoc>(item) {
                    Ok(m) => items.push((i, m)),
                    Err(e) => shape(path, &format!("mocks[{i}]: "), e),
                }
            }
        }
        Some(other) => {
            if let Err(e) = serde_yaml::from_value::<Vec<MockDoc>>(other) {
                shape(vec![PathSeg::Key("mocks".into())], "mocks: ", e);
            }
        }
    }
    let mut mocks = Vec::new();
    for (i, m) in items {
        let base = [PathSeg::Key("mocks".into()), PathSeg::Index(i)];
        let (line, col) = at(&base);
        let label = match &m.name {
            Some(n) => format!("mock '{n}'"),
            None => format!("mocks[{i}]"),
        };
        let mut fail = |path: Vec<PathSeg>, message: String| {
            let (l, c) = at(&path);
            errors.push(err(l.or(line), c.or(col), format!("{label}: {message}")));
        };
        let command = m.command.trim();
        let (brand, command) = match command.split_once("|||") {
            Some((b, c)) => (Some(b.trim()).filter(|b| !b.is_empty()), c.trim()),
            None => (None, command),
        };
        if command.is_empty() {
            fail(
                [&base[..], &[PathSeg::Key("command".into())]].concat(),
                "`command:` is empty (give `Brand|||command` or `command`)".into(),
            );
            continue;
        }
        let mut args = Vec::new();
        for (k, v) in &m.args {
            match Matcher::parse(v) {
                Ok(matcher) => args.push((k.clone(), matcher)),
                Err(e) => fail(
                    [
                        &base[..],
                        &[PathSeg::Key("args".into()), PathSeg::Key(k.clone())],
                    ]
                    .concat(),
                    format!("argument '{k}': {e}"),
                ),
            }
        }
        let latency = match &m.latency {
            None => Duration::ZERO,
            Some(v) => match parse_duration(v) {
                Ok(d) => d,
                Err(e) => {
                    fail([&base[..], &[PathSeg::Key("latency".into())]].concat(), e);
                    Duration::ZERO
                }
            },
        };
        if m.times == Some(0) {
            fail(
                [&base[..], &[PathSeg::Key("times".into())]].concat(),
                "`times: 0` would never answer; remove the mock or give a positive count".into(),
            );
        }
        let single = m.response();
        let docs: Vec<&ResultDoc> = match &m.results {
            Some(list) => {
                if !single.is_empty() {
                    fail(
                        base.to_vec(),
                        "give either `results:` (several entries) or `context:`/`readable:`/`raw:`/`error:` (one entry), not both".into(),
                    );
                }
                list.iter().collect()
            }
            None => vec![&single],
        };
        let mut results = Vec::new();
        for (j, d) in docs.iter().enumerate() {
            match d.to_result() {
                Ok(r) => results.push(r),
                Err(e) => {
                    let path = if m.results.is_some() {
                        [
                            &base[..],
                            &[
                                PathSeg::Key("results".into()),
                                PathSeg::Index(j),
                                PathSeg::Key("error".into()),
                            ],
                        ]
                        .concat()
                    } else {
                        [&base[..], &[PathSeg::Key("error".into())]].concat()
                    };
                    fail(path, e);
                }
            }
        }
        let line_no = line.unwrap_or(0);
        mocks.push(Mock {
            name: m
                .name
                .clone()
                .unwrap_or_else(|| format!("{name}:{line_no}")),
            file: name.to_owned(),
            line: line_no,
            brand: brand.map(str::to_owned),
            command: command.to_owned(),
            playbook: m.playbook.clone().filter(|p| !p.trim().is_empty()),
            args,
            times: m.times,
            latency,
            results,
        });
    }
    let global_doc = FixtureDoc {
        incident: doc.incident.clone(),
        inputs: doc.inputs.clone(),
        context: doc.context.clone(),
        complete: doc.complete.clone(),
    };
    let global = match fixture(&global_doc) {
        Ok(f) => f,
        Err(e) => {
            let (l, c) = at(&[PathSeg::Key("complete".into())]);
            errors.push(err(l, c, e));
            Fixture::default()
        }
    };
    let mut playbooks = Vec::new();
    for (reference, f) in &doc.playbooks {
        let (l, c) = at(&[
            PathSeg::Key("playbooks".into()),
            PathSeg::Key(reference.clone()),
        ]);
        match fixture(f) {
            Ok(f) => playbooks.push(PlaybookFixture {
                reference: reference.clone(),
                fixture: f,
                file: name.to_owned(),
                line: l,
            }),
            Err(e) => errors.push(err(l, c, format!("playbook '{reference}': {e}"))),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(MockSet {
        mocks,
        files: vec![name.to_owned()],
        global,
        playbooks,
    })
}

fn fixture(doc: &FixtureDoc) -> Result<Fixture, String> {
    let mut complete = Vec::new();
    for c in &doc.complete {
        let (task, label) = match c.split_once('=') {
            Some((t, l)) => (
                t.trim(),
                Some(l.trim().to_owned()).filter(|l| !l.is_empty()),
            ),
            None => (c.trim(), None),
        };
        if task.is_empty() {
            return Err(format!(
                "`complete:` entry '{c}' names no task (give TASK or TASK=LABEL)"
            ));
        }
        complete.push(TaskCompletion {
            task: task.to_owned(),
            label,
        });
    }
    Ok(Fixture {
        incident: doc.incident.clone().unwrap_or_default(),
        inputs: doc.inputs.clone().unwrap_or_default(),
        context: doc.context.clone().unwrap_or_default(),
        complete,
    })
}

/// `250ms`, `2s`, `1.5m`, `1h`, or a number of seconds.
pub fn parse_duration(v: &Value) -> Result<Duration, String> {
    let bad = || {
        format!(
            "latency '{}' is not a duration (examples: 250ms, 2s, 1.5m, 1h, or a number of seconds)",
            xsoar_context::to_display_string(v)
        )
    };
    let seconds = match v {
        Value::Number(n) => n.as_f64().ok_or_else(bad)?,
        Value::String(s) => {
            let s = s.trim();
            let (number, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
                Some(i) => (&s[..i], &s[i..]),
                None => (s, "s"),
            };
            let n: f64 = number.trim().parse().map_err(|_| bad())?;
            let factor = match unit {
                "ms" => 0.001,
                "s" => 1.0,
                "m" | "min" => 60.0,
                "h" => 3600.0,
                _ => return Err(bad()),
            };
            n * factor
        }
        _ => return Err(bad()),
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `'name' (file:line)`; a mock without a `name:` is named by its place, so that alone is
/// written (`file:line`), not the same place twice.
impl fmt::Display for Mock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = format!("{}:{}", self.file, self.line);
        if self.name == place {
            f.write_str(&place)
        } else {
            write!(f, "'{}' ({place})", self.name)
        }
    }
}
