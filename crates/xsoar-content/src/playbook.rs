//! Playbook YAML into the model (§2 of the semantics, quirks of §10).
//!
//! The normalisations here are the ones real exports need: task keys and `nexttasks` ids
//! may be integers, labels may be YAML booleans, `simple` may be any scalar, `{}` means "not
//! supplied", the default `loop` block does not loop, and a complex root can be split across
//! `root`/`accessor` (`${Endpoint` + `Hostname}`). UI data is read only for task positions.

use indexmap::IndexMap;
use serde::Deserialize;
use serde_yaml::Value;

use crate::model::{
    ArgValue, Atom, Complex, ConditionBranch, FieldMapping, Loop, Operand, Playbook, PlaybookInput,
    PlaybookOutput, Task, TaskType, TimerAction, TimerTrigger, Transformer,
};
use crate::walk::{
    describe, flag, key_string, map, opt_f64, opt_int, opt_nonempty, opt_str, opt_u64, req_str,
    seq, str_list, str_or_empty, untag, At, Cx, Label, Obj,
};

pub(crate) fn playbook(cx: &mut Cx<'_>, root: &Value, file: &str) -> Option<Playbook> {
    let at = At::ROOT;
    let obj = crate::integration::root_obj(cx, root)?;
    let id = req_str(cx, &obj, &at, "id");
    let name = req_str(cx, &obj, &at, "name");
    let (id, name) = match (id, name) {
        (Some(id), Some(name)) => (id, name),
        (Some(id), None) => (id.clone(), id),
        (None, Some(name)) => (name.clone(), name),
        (None, None) => {
            cx.error(
                &at,
                "the playbook has neither an id nor a name; it cannot be loaded",
            );
            return None;
        }
    };
    // `starttaskid` is checked by `check_playbook`; here it is only read.
    let start_task_id = match obj.get("starttaskid") {
        Some((k, v)) => match untag(v) {
            Value::Sequence(_) | Value::Mapping(_) => {
                cx.error(
                    &at.key(k),
                    format!(
                        "field 'starttaskid' must be a task id, found {}",
                        describe(v)
                    ),
                );
                String::new()
            }
            v => key_string(v).map(|s| s.into_owned()).unwrap_or_default(),
        },
        None => String::new(),
    };

    let tasks = match map(cx, &obj, &at, "tasks") {
        Some((k, tasks)) => task_map(cx, &at.key(k), &tasks),
        None => {
            if obj.get("tasks").is_none() {
                cx.error(&at.key("tasks"), "missing required field 'tasks'");
            }
            IndexMap::new()
        }
    };

    let (ik, inputs_yaml) = seq(cx, &obj, &at, "inputs");
    let inputs_at = at.key(ik);
    let mut inputs = Vec::with_capacity(inputs_yaml.len());
    for (i, v) in inputs_yaml.iter().enumerate() {
        inputs.extend(input(cx, &inputs_at.idx(i), v));
    }
    let (ok, outputs_yaml) = seq(cx, &obj, &at, "outputs");
    let outputs_at = at.key(ok);
    let mut outputs = Vec::with_capacity(outputs_yaml.len());
    for (i, v) in outputs_yaml.iter().enumerate() {
        outputs.extend(output(cx, &outputs_at.idx(i), v));
    }

    Some(Playbook {
        id,
        name,
        description: str_or_empty(cx, &obj, &at, "description"),
        start_task_id,
        tasks,
        inputs,
        outputs,
        quiet: flag(cx, &obj, &at, "quiet"),
        tests: str_list(cx, &obj, &at, "tests"),
        from_version: opt_nonempty(cx, &obj, &at, "fromversion"),
        file: file.to_owned(),
    })
}

fn task_map(cx: &mut Cx<'_>, at: &At<'_>, tasks: &Obj<'_>) -> IndexMap<String, Task> {
    let entries = tasks.entries();
    let mut out = IndexMap::with_capacity(entries.len());
    for (id, written, v) in entries {
        let key_at = at.key(&written);
        if out.contains_key(id.as_ref()) {
            cx.error(
                &key_at,
                format!(
                    "task id {:?} is used twice; the first definition is kept",
                    id.as_ref()
                ),
            );
            continue;
        }
        let task_at = key_at.labelled(Label::Task(&id));
        if let Some(task) = task(cx, &task_at, &id, v) {
            out.insert(id.into_owned(), task);
        }
    }
    out
}

/// Task types by name (case-insensitive); `standard` is the old name of `regular`.
fn task_type(s: &str) -> Option<TaskType> {
    const TYPES: [(&str, TaskType); 8] = [
        ("regular", TaskType::Regular),
        ("start", TaskType::Start),
        ("condition", TaskType::Condition),
        ("title", TaskType::Title),
        ("playbook", TaskType::Playbook),
        ("collection", TaskType::Collection),
        ("section", TaskType::Section),
        ("standard", TaskType::Regular),
    ];
    TYPES
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
        .map(|(_, t)| t)
}

fn task(cx: &mut Cx<'_>, at: &At<'_>, id: &str, v: &Value) -> Option<Task> {
    let obj = match untag(v) {
        Value::Mapping(m) => Obj::new(m),
        other => {
            cx.error(
                at,
                format!("a task must be a mapping, found {}", describe(other)),
            );
            return None;
        }
    };

    let inner = map(cx, &obj, at, "task");
    if inner.is_none() && obj.get("task").is_none() {
        cx.error(&at.key("task"), "missing required field 'task'");
    }
    let inner_at_storage;
    let (inner_obj, inner_at) = match &inner {
        Some((k, o)) => {
            inner_at_storage = at.key(k);
            (Some(o), &inner_at_storage)
        }
        None => (None, at),
    };

    let task_type = match obj.get("type") {
        None => {
            // Old exports sometimes only carry the inner type.
            match inner_obj.and_then(|o| o.get("type")) {
                Some((_, Value::String(s))) if task_type(s).is_some() => {
                    task_type(s).unwrap_or(TaskType::Regular)
                }
                _ => {
                    cx.error(&at.key("type"), "missing required field 'type'");
                    TaskType::Other(String::new())
                }
            }
        }
        Some((k, v)) => match untag(v) {
            Value::String(s) => match task_type(s) {
                Some(t) => t,
                None => {
                    cx.warn(
                        &at.key(k),
                        format!("unknown task type {s:?}; it is kept as is"),
                    );
                    TaskType::Other(s.clone())
                }
            },
            other => {
                cx.error(
                    &at.key(k),
                    format!("field 'type' must be a string, found {}", describe(other)),
                );
                TaskType::Other(String::new())
            }
        },
    };

    let (mut name, mut description, mut script, mut script_name) =
        (String::new(), None, None, None);
    let (mut playbook_name, mut playbook_id, mut is_command, mut brand, mut tags) =
        (None, None, false, None, Vec::new());
    if let Some(o) = inner_obj {
        name = str_or_empty(cx, o, inner_at, "name");
        description = opt_nonempty(cx, o, inner_at, "description");
        script = opt_nonempty(cx, o, inner_at, "script");
        script_name = opt_nonempty(cx, o, inner_at, "scriptName");
        playbook_name = opt_nonempty(cx, o, inner_at, "playbookName");
        playbook_id = opt_nonempty(cx, o, inner_at, "playbookId");
        is_command = flag(cx, o, inner_at, "iscommand");
        brand = opt_nonempty(cx, o, inner_at, "brand");
        tags = str_list(cx, o, inner_at, "tags");
    }

    let next_tasks = match obj.get("nexttasks") {
        Some((k, v)) => next_tasks(cx, &at.key(k), v),
        None => IndexMap::new(),
    };
    let script_arguments = match obj.get("scriptarguments") {
        Some((k, v)) => arguments(cx, &at.key(k), v),
        None => IndexMap::new(),
    };
    let conditions = {
        let (k, items) = seq(cx, &obj, at, "conditions");
        let cat = at.key(k);
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            out.extend(branch(cx, &cat.idx(i), item));
        }
        out
    };
    let loop_settings = map(cx, &obj, at, "loop").map(|(k, l)| loop_block(cx, &at.key(k), &l));
    let field_mapping = {
        let (k, items) = seq(cx, &obj, at, "fieldMapping");
        let fat = at.key(k);
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            out.extend(field_mapping(cx, &fat.idx(i), item));
        }
        out
    };
    let timer_triggers = {
        let (k, items) = seq(cx, &obj, at, "timertriggers");
        let tat = at.key(k);
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            out.extend(timer_trigger(cx, &tat.idx(i), item));
        }
        out
    };
    let reply_options = match map(cx, &obj, at, "message") {
        Some((k, m)) => str_list(cx, &m, &at.key(k), "replyOptions"),
        None => Vec::new(),
    };
    let error_path = opt_str(cx, &obj, at, "continueonerrortype")
        .is_some_and(|s| s.trim().eq_ignore_ascii_case("errorPath"));

    Some(Task {
        id: id.to_owned(),
        task_id: str_or_empty(cx, &obj, at, "taskid"),
        task_type,
        name,
        description,
        script,
        script_name,
        playbook_name,
        playbook_id,
        is_command,
        brand,
        tags,
        next_tasks,
        script_arguments,
        conditions,
        loop_settings,
        separate_context: flag(cx, &obj, at, "separatecontext"),
        continue_on_error: flag(cx, &obj, at, "continueonerror"),
        error_path,
        skip_unavailable: flag(cx, &obj, at, "skipunavailable"),
        quiet_mode: opt_int(cx, &obj, at, "quietmode").unwrap_or(0),
        note: flag(cx, &obj, at, "note"),
        field_mapping,
        timer_triggers,
        reply_options,
        position: obj.get("view").and_then(|(_, v)| position(v)),
    })
}

/// `nexttasks`: label -> ids; labels as written (booleans as `true`/`false`), ids as strings.
fn next_tasks(cx: &mut Cx<'_>, at: &At<'_>, v: &Value) -> IndexMap<String, Vec<String>> {
    let m = match untag(v) {
        Value::Null => return IndexMap::new(),
        Value::Mapping(m) => m,
        other => {
            cx.error(
                at,
                format!(
                    "field 'nexttasks' must be a mapping of labels to task ids, found {}",
                    describe(other)
                ),
            );
            return IndexMap::new();
        }
    };
    let mut out: IndexMap<String, Vec<String>> = IndexMap::with_capacity(m.len());
    for (k, ids) in m {
        let Some(label) = key_string(k) else {
            cx.error(
                at,
                format!("a nexttasks label must be a string, found {}", describe(k)),
            );
            continue;
        };
        let lat = at.key(&label);
        let targets = match untag(ids) {
            Value::Null => Vec::new(),
            Value::Sequence(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match untag(item) {
                        Value::String(_) | Value::Number(_) => {
                            out.extend(key_string(item).map(|s| s.into_owned()));
                        }
                        other => cx.error(
                            &lat.idx(i),
                            format!("a task id must be a string, found {}", describe(other)),
                        ),
                    }
                }
                out
            }
            Value::String(_) | Value::Number(_) => key_string(ids)
                .map(|s| vec![s.into_owned()])
                .unwrap_or_default(),
            other => {
                cx.error(
                    &lat,
                    format!(
                        "nexttasks {:?} must be a list of task ids, found {}",
                        label.as_ref(),
                        describe(other)
                    ),
                );
                Vec::new()
            }
        };
        out.entry(label.into_owned()).or_default().extend(targets);
    }
    out
}

/// A map of argument name -> AdvanceArg, without the `{}` (not supplied) entries.
fn arguments(cx: &mut Cx<'_>, at: &At<'_>, v: &Value) -> IndexMap<String, ArgValue> {
    let m = match untag(v) {
        Value::Null => return IndexMap::new(),
        Value::Mapping(m) => Obj::new(m),
        other => {
            cx.error(
                at,
                format!("arguments must be a mapping, found {}", describe(other)),
            );
            return IndexMap::new();
        }
    };
    let entries = m.entries();
    let mut out = IndexMap::with_capacity(entries.len());
    for (name, written, v) in entries {
        let aat = at.key(&written);
        if let Some(value) = arg_value(cx, &aat, v, &name) {
            out.insert(name.into_owned(), value);
        }
    }
    out
}

/// An AdvanceArg: `{simple}`, `{complex}`; `{}` and null are "not supplied".
fn arg_value(cx: &mut Cx<'_>, at: &At<'_>, v: &Value, what: &str) -> Option<ArgValue> {
    let obj = match untag(v) {
        Value::Null => return None,
        Value::Mapping(m) if m.is_empty() => return None,
        Value::Mapping(m) => Obj::new(m),
        other => {
            cx.error(
                at,
                format!(
                    "{what:?} must be a mapping with 'simple' or 'complex', found {}",
                    describe(other)
                ),
            );
            return None;
        }
    };
    if let Some((k, c)) = obj.get("complex") {
        match untag(c) {
            Value::Null => {}
            Value::Mapping(m) => {
                return Some(ArgValue::Complex(complex(cx, &at.key(k), &Obj::new(m))))
            }
            other => {
                cx.error(
                    &at.key(k),
                    format!(
                        "field 'complex' must be a mapping, found {}",
                        describe(other)
                    ),
                );
                return None;
            }
        }
    }
    let (k, s) = obj.get("simple")?;
    let sat = at.key(k);
    match untag(s) {
        Value::Null => Some(ArgValue::Simple(String::new())),
        Value::Sequence(_) | Value::Mapping(_) => {
            cx.error(
                &sat,
                format!("field 'simple' must be a scalar, found {}", describe(s)),
            );
            None
        }
        _ => cx.scalar_string(&sat, s).map(ArgValue::Simple),
    }
}

fn complex(cx: &mut Cx<'_>, at: &At<'_>, obj: &Obj<'_>) -> Complex {
    let mut root = req_str(cx, obj, at, "root").unwrap_or_default();
    let mut accessor = opt_nonempty(cx, obj, at, "accessor");
    // `root: ${Endpoint` + `accessor: Hostname}`: one DT path split in two.
    if let Some(acc) = &accessor {
        if let (Some(r), Some(a)) = (root.strip_prefix("${"), acc.strip_suffix('}')) {
            if !r.contains('}') {
                let (r, a) = (r.trim().to_owned(), a.trim().to_owned());
                root = r;
                accessor = Some(a).filter(|a| !a.is_empty());
            }
        }
    }
    let filters = match obj.get("filters") {
        Some((k, v)) => groups(cx, &at.key(k), v),
        None => Vec::new(),
    };
    let (tk, items) = seq(cx, obj, at, "transformers");
    let tat = at.key(tk);
    let mut transformers = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        transformers.extend(transformer(cx, &tat.idx(i), item));
    }
    Complex {
        root,
        filters,
        accessor,
        transformers,
    }
}

fn transformer(cx: &mut Cx<'_>, at: &At<'_>, v: &Value) -> Option<Transformer> {
    let obj = mapping(cx, at, v, "a transformer")?;
    let operator = req_str(cx, &obj, at, "operator")?;
    let mut args = IndexMap::new();
    if let Some((k, a)) = map(cx, &obj, at, "args") {
        let aat = at.key(k);
        for (name, written, v) in a.entries() {
            let op = operand(cx, &aat.key(&written), v);
            args.insert(name.into_owned(), op);
        }
    }
    Some(Transformer { operator, args })
}

/// AND of OR-groups (`conditions[].condition`, `complex.filters`, `loop.builtincondition`).
/// A group written as a lone atom (not in a list) is taken as a one-atom group.
fn groups(cx: &mut Cx<'_>, at: &At<'_>, v: &Value) -> Vec<Vec<Atom>> {
    let items = match untag(v) {
        Value::Null => return Vec::new(),
        Value::Sequence(items) => items,
        other => {
            cx.error(
                at,
                format!(
                    "conditions must be a list of lists of conditions, found {}",
                    describe(other)
                ),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, group) in items.iter().enumerate() {
        let gat = at.idx(i);
        match untag(group) {
            Value::Null => {}
            Value::Sequence(atoms) => {
                let mut g = Vec::with_capacity(atoms.len());
                for (j, a) in atoms.iter().enumerate() {
                    g.extend(atom(cx, &gat.idx(j), a));
                }
                if !g.is_empty() {
                    out.push(g);
                }
            }
            Value::Mapping(_) => out.extend(atom(cx, &gat, group).map(|a| vec![a])),
            other => cx.error(
                &gat,
                format!(
                    "a condition group must be a list, found {}",
                    describe(other)
                ),
            ),
        }
    }
    out
}

fn atom(cx: &mut Cx<'_>, at: &At<'_>, v: &Value) -> Option<Atom> {
    let obj = mapping(cx, at, v, "a condition")?;
    let operator = req_str(cx, &obj, at, "operator")?;
    let left = match obj.get("left") {
        Some((k, v)) => operand(cx, &at.key(k), v),
        None => {
            cx.error(
                &at.key("left"),
                format!("condition {operator:?}: missing required field 'left'"),
            );
            return None;
        }
    };
    let right = match obj.get("right") {
        Some((_, Value::Null)) | None => None,
        Some((k, v)) => Some(operand(cx, &at.key(k), v)),
    };
    Some(Atom {
        operator,
        left,
        right,
        ignore_case: flag(cx, &obj, at, "ignorecase"),
    })
}

fn operand(cx: &mut Cx<'_>, at: &At<'_>, v: &Value) -> Operand {
    match untag(v) {
        Value::Mapping(m) => {
            let obj = Obj::new(m);
            let value = match obj.get("value") {
                Some((k, v)) => arg_value(cx, &at.key(k), v, "value"),
                None => None,
            };
            Operand {
                value,
                is_context: flag(cx, &obj, at, "iscontext"),
            }
        }
        Value::Null => Operand {
            value: None,
            is_context: false,
        },
        other => {
            cx.error(
                at,
                format!(
                    "an operand must be a mapping with 'value', found {}",
                    describe(other)
                ),
            );
            Operand {
                value: None,
                is_context: false,
            }
        }
    }
}

/// `v` as a mapping; `null` is nothing, anything else is an error naming `what`.
fn mapping<'v>(cx: &mut Cx<'_>, at: &At<'_>, v: &'v Value, what: &str) -> Option<Obj<'v>> {
    match untag(v) {
        Value::Mapping(m) => Some(Obj::new(m)),
        Value::Null => None,
        other => {
            cx.error(
                at,
                format!("{what} must be a mapping, found {}", describe(other)),
            );
            None
        }
    }
}

fn branch(cx: &mut Cx<'_>, at: &At<'_>, v: &Value) -> Option<ConditionBranch> {
    let obj = mapping(cx, at, v, "a condition branch")?;
    let label = match obj.get("label") {
        None => {
            cx.error(&at.key("label"), "missing required field 'label'");
            return None;
        }
        Some((k, l)) => match key_string(l) {
            Some(l) => l.into_owned(),
            None => {
                cx.error(
                    &at.key(k),
                    format!("field 'label' must be a string, found {}", describe(l)),
                );
                return None;
            }
        },
    };
    let condition = match obj.get("condition") {
        Some((k, v)) => groups(cx, &at.key(k), v),
        None => Vec::new(),
    };
    Some(ConditionBranch { label, condition })
}

fn loop_block(cx: &mut Cx<'_>, at: &At<'_>, obj: &Obj<'_>) -> Loop {
    Loop {
        for_each: flag(cx, obj, at, "forEach"),
        max: opt_u64(cx, obj, at, "max").unwrap_or(0),
        wait: opt_f64(cx, obj, at, "wait").unwrap_or(1.0),
        exit_condition: opt_nonempty(cx, obj, at, "exitCondition"),
        builtin_condition: match obj.get("builtincondition") {
            Some((k, v)) => groups(cx, &at.key(k), v),
            None => Vec::new(),
        },
        script_id: opt_nonempty(cx, obj, at, "scriptId"),
        script_arguments: match obj.get("scriptArguments") {
            Some((k, v)) => arguments(cx, &at.key(k), v),
            None => IndexMap::new(),
        },
    }
}

fn field_mapping(cx: &mut Cx<'_>, at: &At<'_>, v: &Value) -> Option<FieldMapping> {
    let obj = mapping(cx, at, v, "a field mapping")?;
    let incident_field = req_str(cx, &obj, at, "incidentfield")?;
    let (k, out) = obj.get("output")?;
    let output = arg_value(cx, &at.key(k), out, "output")?;
    Some(FieldMapping {
        incident_field,
        output,
    })
}

/// One `timertriggers` entry: `{fieldname, action}`, the action in any case.
fn timer_trigger(cx: &mut Cx<'_>, at: &At<'_>, v: &Value) -> Option<TimerTrigger> {
    let obj = mapping(cx, at, v, "a timer trigger")?;
    let field_name = req_str(cx, &obj, at, "fieldname");
    let action = req_str(cx, &obj, at, "action");
    let field_name = match field_name.map(|f| f.trim().to_owned()) {
        Some(f) if f.is_empty() => {
            let k = obj.get("fieldname").map_or("fieldname", |(k, _)| k);
            cx.error(&at.key(k), "field 'fieldname' is empty");
            None
        }
        f => f,
    };
    let action = match action {
        Some(a) => match TimerAction::parse(&a) {
            Some(a) => Some(a),
            None => {
                let k = obj.get("action").map_or("action", |(k, _)| k);
                cx.error(
                    &at.key(k),
                    format!("unknown timer action {a:?}; expected start, pause or stop"),
                );
                None
            }
        },
        None => None,
    };
    Some(TimerTrigger {
        field_name: field_name?,
        action: action?,
    })
}

fn input(cx: &mut Cx<'_>, at: &At<'_>, v: &Value) -> Option<PlaybookInput> {
    let obj = mapping(cx, at, v, "a playbook input")?;
    // Indicator-query inputs have an empty (or null) key.
    let key = match obj.get("key") {
        None => {
            cx.error(&at.key("key"), "missing required field 'key'");
            return None;
        }
        Some((_, Value::Null)) => String::new(),
        Some(_) => opt_str(cx, &obj, at, "key")?,
    };
    let at = at.labelled(Label::Input(&key));
    let value = match obj.get("value") {
        Some((k, v)) => arg_value(cx, &at.key(k), v, "value"),
        None => None,
    };
    Some(PlaybookInput {
        value,
        required: flag(cx, &obj, &at, "required"),
        description: str_or_empty(cx, &obj, &at, "description"),
        key,
    })
}

fn output(cx: &mut Cx<'_>, at: &At<'_>, v: &Value) -> Option<PlaybookOutput> {
    let obj = mapping(cx, at, v, "a playbook output")?;
    Some(PlaybookOutput {
        context_path: req_str(cx, &obj, at, "contextPath")?,
        description: str_or_empty(cx, &obj, at, "description"),
        output_type: opt_nonempty(cx, &obj, at, "type"),
    })
}

#[derive(Deserialize)]
struct View {
    position: Option<Xy>,
}

#[derive(Deserialize)]
struct Xy {
    x: serde_json::Value,
    y: serde_json::Value,
}

/// `view.position` from the JSON string (or a mapping, in hand-written files). UI-only, so
/// anything unreadable is silently ignored.
fn position(v: &Value) -> Option<(f64, f64)> {
    fn num(v: &serde_json::Value) -> Option<f64> {
        match v {
            serde_json::Value::Number(n) => n.as_f64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
    fn yaml_num(v: &Value) -> Option<f64> {
        match untag(v) {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
    match untag(v) {
        Value::String(s) => {
            let view: View = serde_json::from_str(s).ok()?;
            let p = view.position?;
            Some((num(&p.x)?, num(&p.y)?))
        }
        Value::Mapping(m) => {
            let p = m.get("position")?;
            Some((yaml_num(p.get("x")?)?, yaml_num(p.get("y")?)?))
        }
        _ => None,
    }
}
