//! The JSON objects the API returns, shaped as XSOAR 6 sends them.
//!
//! demisto-py deserialises responses into generated models, and a few shapes make those
//! models fail (rest-api.md §2.3): datetime fields must be ISO strings or `null` (never `""`
//! or numbers; the Go zero time is what XSOAR sends for "unset"), dict fields must be objects,
//! list fields arrays or `null`, entry `contents` a string. Every view here fills the keys
//! clients read and normalises those that would break them.

use serde_json::{json, Map, Value};
use xsoar_content::{ArgValue, Integration, Playbook};
use xsoar_engine::{Entry, PlaybookRun, TaskState};
use xsoar_store::{RunRecord, RunStatus};

/// What XSOAR sends for an unset time.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Datetime keys the generated models parse.
const DATE_KEYS: &[&str] = &[
    "created",
    "modified",
    "occurred",
    "dueDate",
    "closed",
    "reminder",
    "lastOpen",
    "startDate",
    "endingDate",
    "completedDate",
];

/// A usable datetime: an RFC 3339 string, else the zero time.
pub fn date(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) if crate::fields::parse_rfc3339(s).is_some() => {
            Value::String(s.clone())
        }
        _ => Value::String(ZERO_TIME.into()),
    }
}

fn fix_dates(obj: &mut Map<String, Value>) {
    for k in DATE_KEYS {
        let bad = match obj.get(*k) {
            None | Some(Value::Null) => false,
            // Unparseable text (stored before dates were checked) would break every search.
            Some(Value::String(s)) => crate::fields::parse_rfc3339(s).is_none(),
            Some(_) => true,
        };
        if bad {
            obj.insert((*k).to_owned(), Value::String(ZERO_TIME.into()));
        }
    }
}

/// The text XSOAR shows for an entry: the human readable markdown when there is one, else
/// string contents as they are, JSON contents as a JSON string.
pub fn entry_contents(e: &Entry) -> String {
    if let Some(h) = &e.human_readable {
        return h.clone();
    }
    match &e.contents {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// A REST `Entry`.
pub fn entry(e: &Entry) -> Value {
    let contents = entry_contents(e);
    let format = if e.human_readable.is_some() {
        "markdown"
    } else if e.contents.is_string() || e.contents.is_null() {
        e.format.as_str()
    } else {
        "json"
    };
    let entry_task = e.entry_task.as_ref().map(|t| {
        json!({
            "playbookName": t.playbook_name,
            "taskId": t.task_id,
            "taskName": t.task_name,
            "taskStatus": "",
        })
    });
    json!({
        "id": e.id,
        "investigationId": e.investigation_id,
        "type": e.entry_type,
        "format": format,
        "contentsSize": contents.len(),
        "contents": contents,
        "parentContent": e.parent_content,
        "parentId": e.parent_id,
        "brand": e.brand,
        "instance": e.instance,
        "created": date(Some(&Value::String(e.created.to_string()))),
        "modified": ZERO_TIME,
        "startDate": ZERO_TIME,
        "endingDate": ZERO_TIME,
        "file": e.file,
        "fileID": e.file_id,
        "fileMetadata": Value::Null,
        "entryTask": entry_task,
        "taskId": e.task_id,
        "playbookId": e.playbook_id,
        "user": e.user,
        "note": e.note,
        "pinned": false,
        "tags": e.tags,
        "tagsRaw": Value::Null,
        "version": 1,
        "ShardID": 0,
        "times": 0,
        "timezoneOffset": 0,
        "category": e.category,
        "errorSource": "",
        "hasRole": false,
        "simulated": e.simulated,
    })
}

/// A synthetic error entry (a run that stopped without an entry of its own).
pub fn error_entry(investigation_id: &str, message: &str, playbook: &str) -> Value {
    json!({
        "id": "",
        "investigationId": investigation_id,
        "type": 4,
        "format": "text",
        "contents": message,
        "contentsSize": message.len(),
        "parentContent": "",
        "parentId": "",
        "brand": "none",
        "created": ZERO_TIME,
        "modified": ZERO_TIME,
        "taskId": "",
        "playbookId": playbook,
        "entryTask": Value::Null,
        "tags": [],
        "version": 1,
        "ShardID": 0,
        "category": "playbookErrors",
    })
}

/// A REST `Incident` (also the `IncidentWrapper` of `POST /incident`).
pub fn incident(data: &Value) -> Value {
    let mut obj = data.as_object().cloned().unwrap_or_default();
    let id = obj
        .get("id")
        .map(xsoar_context::to_display_string)
        .unwrap_or_default();
    let defaults = json!({
        "id": id, "investigationId": id, "name": "", "status": 1, "severity": 0,
        "type": "Unclassified", "owner": "admin", "phase": "", "labels": [],
        "attachment": Value::Null, "runStatus": "", "sourceBrand": "Manual", "sourceInstance": "",
        "version": 1, "CustomFields": {}, "closeReason": "", "closeNotes": "", "details": "",
        "isPlayground": false, "ShardID": 0, "sla": 0, "playbookId": "",
        "created": ZERO_TIME, "modified": ZERO_TIME, "occurred": ZERO_TIME,
        "dueDate": ZERO_TIME, "closed": ZERO_TIME,
    });
    if let Value::Object(d) = defaults {
        for (k, v) in d {
            obj.entry(k).or_insert(v);
        }
    }
    obj.insert("id".into(), Value::String(id.clone()));
    obj.insert("investigationId".into(), Value::String(id));
    let name = obj.get("name").cloned().unwrap_or(Value::Null);
    obj.entry("rawName").or_insert(name);
    let kind = obj.get("type").cloned().unwrap_or(Value::Null);
    obj.entry("rawType").or_insert(kind);
    if !obj
        .get("labels")
        .is_some_and(|l| l.is_array() || l.is_null())
    {
        obj.insert("labels".into(), json!([]));
    }
    if !obj.get("CustomFields").is_some_and(Value::is_object) {
        obj.insert("CustomFields".into(), json!({}));
    }
    fix_dates(&mut obj);
    Value::Object(obj)
}

/// Investigation metadata for the views.
#[derive(Debug, Clone)]
pub struct InvestigationInfo<'a> {
    /// Id.
    pub id: &'a str,
    /// 0 standard, 9 playground.
    pub kind: i64,
    /// Owner.
    pub user: &'a str,
    /// Creation time.
    pub created: &'a str,
    /// The incident root (name, status, closed).
    pub incident: &'a Value,
}

/// A REST `Investigation`.
pub fn investigation(info: &InvestigationInfo<'_>) -> Value {
    let closed = info.incident.get("status").and_then(Value::as_i64) == Some(2);
    let name = match info.kind {
        9 => "Playground".to_owned(),
        _ => info
            .incident
            .get("name")
            .map(xsoar_context::to_display_string)
            .unwrap_or_default(),
    };
    json!({
        "id": info.id,
        "name": name,
        "type": info.kind,
        "status": if closed { 1 } else { 0 },
        "creatingUserId": info.user,
        "users": [info.user],
        "entryUsers": [info.user],
        "created": date(Some(&Value::String(info.created.to_owned()))),
        "modified": date(Some(&Value::String(info.created.to_owned()))),
        "closed": if closed { date(info.incident.get("closed")) } else { Value::String(ZERO_TIME.into()) },
        "lastOpen": date(Some(&Value::String(info.created.to_owned()))),
        "isChildInvestigation": false,
        "childInvestigations": Value::Null,
        "version": 1,
        "ShardID": 0,
        "category": "",
        "details": "",
        "runStatus": "",
        "systems": Value::Null,
        "tags": Value::Null,
        "mirrorTypes": Value::Null,
    })
}

/// `defaultValue` as the UI shows it: always a string.
fn default_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(other) => other.to_string(),
    }
}

/// One `configuration[]` element of a module configuration.
pub fn param_config(p: &xsoar_content::Param) -> Value {
    json!({
        "display": p.display.clone().unwrap_or_else(|| p.name.clone()),
        "name": p.name,
        "type": p.param_type,
        "required": p.required,
        "defaultValue": default_text(p.default_value.as_ref()),
        "hidden": p.hidden,
        "options": if p.options.is_empty() { Value::Null } else { json!(p.options) },
        "info": p.additional_info.clone().unwrap_or_default(),
        "hiddenusername": p.hidden_username,
        "hiddenpassword": p.hidden_password,
        "displaypassword": p.display_password.clone().unwrap_or_default(),
    })
}

/// A module configuration (`configurations[]` of `/settings/integration/search`).
pub fn module_config(i: &Integration) -> Value {
    let commands: Vec<Value> = i
        .commands
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "description": c.description,
                "deprecated": c.deprecated,
                "execution": c.execution,
                "arguments": c.arguments.iter().map(|a| json!({
                    "name": a.name,
                    "description": a.description,
                    "required": a.required,
                    "default": a.default,
                    "isArray": a.is_array,
                    "secret": a.secret,
                    "auto": a.auto.clone().unwrap_or_default(),
                    "predefined": a.predefined,
                    "defaultValue": a.default_value.clone().unwrap_or_default(),
                })).collect::<Vec<_>>(),
                "outputs": c.outputs.iter().map(|o| json!({
                    "contextPath": o.context_path,
                    "description": o.description,
                    "type": o.output_type.clone().unwrap_or_default(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "id": i.id,
        "name": i.name,
        "display": i.display,
        "brand": i.name,
        "category": i.category,
        "description": i.description,
        "detailedDescription": i.detailed_description.clone().unwrap_or_default(),
        "version": 1,
        "beta": i.beta,
        "deprecated": i.deprecated,
        "hidden": i.hidden,
        "fromVersion": i.from_version.clone().unwrap_or_default(),
        "configuration": i.params.iter().map(param_config).collect::<Vec<_>>(),
        "integrationScript": {
            "type": i.script_type,
            "subtype": i.subtype.clone().unwrap_or_default(),
            "dockerImage": i.docker_image.clone().unwrap_or_default(),
            "isFetch": i.is_fetch,
            "longRunning": i.long_running,
            "feed": false,
            "runOnce": false,
            "script": "",
            "commands": commands,
        },
        "defaultMapperIn": "",
        "defaultClassifier": "",
        "defaultMapperOut": "",
        "modified": ZERO_TIME,
    })
}

fn arg_value(v: Option<&ArgValue>) -> Value {
    match v {
        None => json!({"simple": ""}),
        Some(ArgValue::Simple(s)) => json!({"simple": s}),
        Some(ArgValue::Complex(c)) => json!({"complex": c}),
    }
}

/// A REST `Playbook` (tasks as an object keyed by task id).
pub fn playbook(pb: &Playbook) -> Value {
    let tasks: Map<String, Value> = pb
        .tasks
        .iter()
        .map(|(id, t)| {
            let target = match t.target() {
                xsoar_content::TaskTarget::Command { brand, command } => {
                    format!("{}|||{command}", brand.unwrap_or(""))
                }
                xsoar_content::TaskTarget::Script(s) | xsoar_content::TaskTarget::SubPlaybook(s) => {
                    s.to_owned()
                }
                _ => String::new(),
            };
            (
                id.clone(),
                json!({
                    "id": id,
                    "taskId": t.task_id,
                    "type": task_type(&t.task_type),
                    "task": {
                        "id": t.task_id,
                        "name": t.name,
                        "description": t.description.clone().unwrap_or_default(),
                        "scriptId": target,
                        "playbookId": t.playbook_id.clone().or(t.playbook_name.clone()).unwrap_or_default(),
                        "brand": t.brand.clone().unwrap_or_default(),
                        "isCommand": t.is_command,
                    },
                    "nextTasks": t.next_tasks,
                    "separateContext": t.separate_context,
                    "continueOnError": t.continue_on_error,
                    "skipUnavailable": t.skip_unavailable,
                }),
            )
        })
        .collect();
    json!({
        "id": pb.id,
        "name": pb.name,
        "description": pb.description,
        "startTaskId": pb.start_task_id,
        "version": 1,
        "modified": ZERO_TIME,
        "tasks": tasks,
        "inputs": pb.inputs.iter().map(|i| json!({
            "key": i.key,
            "value": arg_value(i.value.as_ref()),
            "required": i.required,
            "description": i.description,
            "playbookInputQuery": Value::Null,
        })).collect::<Vec<_>>(),
        "outputs": pb.outputs.iter().map(|o| json!({
            "contextPath": o.context_path,
            "description": o.description,
            "type": o.output_type.clone().unwrap_or_default(),
        })).collect::<Vec<_>>(),
        "tests": pb.tests,
        "quiet": pb.quiet,
    })
}

/// The task type word of a content task.
pub fn task_type(t: &xsoar_content::TaskType) -> String {
    match t {
        xsoar_content::TaskType::Other(s) => s.clone(),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
    }
}

fn frame_tasks(frame: &xsoar_engine::playbook::Frame) -> Map<String, Value> {
    frame
        .tasks
        .values()
        .map(|t| {
            let mut task = json!({
                "id": t.id,
                "state": t.state.api_name(),
                "type": t.task_type,
                "task": {"name": t.name, "scriptId": t.target},
                "startDate": date(t.started.as_ref().map(|s| Value::String(s.clone())).as_ref()),
                "completedDate": date(t.completed.as_ref().map(|s| Value::String(s.clone())).as_ref()),
                "entries": t.entries,
                "executions": t.executions,
            });
            if let Value::Object(o) = &mut task {
                if let Some(e) = &t.error {
                    o.insert("reason".into(), Value::String(e.clone()));
                }
                if let Some(l) = &t.label {
                    o.insert("outcome".into(), Value::String(l.clone()));
                }
                if let Some(sub) = &t.sub {
                    o.insert(
                        "subPlaybook".into(),
                        json!({
                            "playbookId": sub.playbook_id,
                            "name": sub.playbook_name,
                            "state": sub.state.as_str(),
                            "tasks": frame_tasks(sub),
                        }),
                    );
                }
            }
            (t.id.clone(), task)
        })
        .collect()
}

/// The `state` a run reports: interrupted runs are failures.
pub fn run_state(status: RunStatus) -> &'static str {
    match status {
        RunStatus::InProgress => "inprogress",
        RunStatus::Waiting => "waiting",
        RunStatus::Completed => "completed",
        RunStatus::Failed | RunStatus::Interrupted => "failed",
    }
}

/// A REST `InvestigationPlaybook` (`GET /inv-playbook/{id}`).
pub fn investigation_playbook(
    record: &RunRecord,
    definition: Option<&Playbook>,
    failure_entries: &[Value],
    live: &std::collections::BTreeMap<String, TaskState>,
) -> Value {
    let tasks = match (&record.run, definition) {
        (Some(run), _) => frame_tasks(&run.root),
        (None, Some(pb)) => pb
            .tasks
            .iter()
            .map(|(id, t)| {
                (
                    id.clone(),
                    json!({
                        "id": id,
                        "state": live.get(id).copied().unwrap_or(TaskState::Pending).api_name(),
                        "type": task_type(&t.task_type),
                        "task": {"name": t.name},
                    }),
                )
            })
            .collect(),
        (None, None) => Map::new(),
    };
    let name = record
        .run
        .as_ref()
        .map(|r| r.root.playbook_name.clone())
        .or_else(|| definition.map(|d| d.name.clone()))
        .unwrap_or_else(|| record.playbook_id.clone());
    let mut out = json!({
        "id": record.investigation_id,
        "investigationId": record.investigation_id,
        "playbookId": record.playbook_id,
        "name": name,
        "state": run_state(record.status),
        "startDate": date(Some(&Value::String(record.started.clone()))),
        "completedDate": date(record.finished.as_ref().map(|s| Value::String(s.clone())).as_ref()),
        "startTaskId": definition.map(|d| d.start_task_id.clone()).unwrap_or_else(|| "0".into()),
        "version": 1,
        "ShardID": 0,
        "inputs": Value::Null,
        "outputs": Value::Null,
        "tasks": tasks,
    });
    if matches!(record.status, RunStatus::Failed | RunStatus::Interrupted) {
        if let Value::Object(o) = &mut out {
            o.insert("entries".into(), Value::Array(failure_entries.to_vec()));
            if let Some(reason) = &record.error {
                o.insert("reason".into(), Value::String(reason.clone()));
            }
        }
    }
    out
}

/// The entries that explain a failed run: the error entries of its failed tasks (all error
/// entries of the run when no task holds one), then the engine's reason if it stopped the run.
pub fn failure_entries(
    record: &RunRecord,
    lookup: &dyn Fn(&str) -> Option<Entry>,
    interrupted_hint: &str,
) -> Vec<Value> {
    let mut out = Vec::new();
    let playbook = record.playbook_id.as_str();
    if record.status == RunStatus::Interrupted {
        let reason = record
            .error
            .clone()
            .unwrap_or_else(|| "the server stopped while this playbook was running".into());
        out.push(error_entry(
            &record.investigation_id,
            &format!("Playbook run interrupted: {reason}. {interrupted_hint}"),
            playbook,
        ));
        return out;
    }
    let Some(run) = &record.run else {
        if let Some(e) = &record.error {
            out.push(error_entry(&record.investigation_id, e, playbook));
        }
        return out;
    };
    let walk = run.root.walk();
    let mut ids: Vec<&xsoar_engine::CompactString> = walk
        .iter()
        .filter(|(_, t)| t.state == TaskState::Error)
        .flat_map(|(_, t)| t.entries.iter())
        .collect();
    if ids.is_empty() {
        ids = walk.iter().flat_map(|(_, t)| t.entries.iter()).collect();
    }
    for id in ids {
        if let Some(e) = lookup(id).filter(Entry::is_error) {
            out.push(entry(&e));
        }
    }
    if out.is_empty() {
        for (_, t) in walk.iter().filter(|(_, t)| t.state == TaskState::Error) {
            if let Some(err) = &t.error {
                let mut e = error_entry(&record.investigation_id, err, playbook);
                if let Value::Object(o) = &mut e {
                    o.insert("taskId".into(), Value::String(t.id.clone()));
                    o.insert(
                        "entryTask".into(),
                        json!({"playbookName": run.root.playbook_name, "taskId": t.id, "taskName": t.name, "taskStatus": "Error"}),
                    );
                }
                out.push(e);
            }
        }
    }
    if let Some(e) = &run.error {
        out.push(error_entry(&record.investigation_id, e, playbook));
    }
    out
}

/// Task rows of `/investigation/{id}/workplan/tasks`.
pub fn workplan_tasks(run: &PlaybookRun, states: &[String], types: &[String]) -> Vec<Value> {
    run.root
        .walk()
        .into_iter()
        .filter(|(_, t)| {
            states.is_empty()
                || states
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(t.state.api_name()))
        })
        .filter(|(_, t)| {
            types.is_empty() || types.iter().any(|k| k.eq_ignore_ascii_case(&t.task_type))
        })
        .map(|(frame, t)| {
            json!({
                "id": t.id,
                "state": t.state.api_name(),
                "type": t.task_type,
                "playbookId": frame.playbook_id,
                "task": {"name": t.name, "scriptId": t.target},
                "startDate": date(t.started.as_ref().map(|s| Value::String(s.clone())).as_ref()),
                "completedDate": date(t.completed.as_ref().map(|s| Value::String(s.clone())).as_ref()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incident_dates_are_never_empty_strings_or_numbers() {
        let v = incident(
            &json!({"id": 5, "name": "x", "occurred": "", "closed": 12, "dueDate": null,
                "reminder": "notadate", "modified": "2025-11-29T07:00:00.123456789Z"}),
        );
        assert_eq!(v["id"], "5");
        assert_eq!(v["investigationId"], "5");
        assert_eq!(v["occurred"], ZERO_TIME);
        assert_eq!(v["closed"], ZERO_TIME);
        assert_eq!(v["dueDate"], Value::Null);
        assert_eq!(v["created"], ZERO_TIME);
        assert_eq!(v["reminder"], ZERO_TIME);
        assert_eq!(v["modified"], "2025-11-29T07:00:00.123456789Z");
        assert_eq!(v["rawName"], "x");
        assert_eq!(v["CustomFields"], json!({}));
    }

    #[test]
    fn json_contents_become_a_json_string() {
        let e = Entry {
            format: "json".into(),
            parent_content: "!x".into(),
            parent_id: "2@p".into(),
            brand: "B".into(),
            instance: "i".into(),
            user: "DBot".into(),
            category: "commandAndResults".into(),
            ..Entry::new(
                "3@p".into(),
                "p".into(),
                1,
                json!({"a": [1, true]}),
                Default::default(),
            )
        };
        let v = entry(&e);
        assert_eq!(v["contents"], r#"{"a":[1,true]}"#);
        assert_eq!(v["format"], "json");
        assert_eq!(v["created"], ZERO_TIME);
        assert_eq!(v["entryTask"], Value::Null);
        let mut e2 = e.clone();
        e2.human_readable = Some("### T".into());
        assert_eq!(entry(&e2)["contents"], "### T");
        assert_eq!(entry(&e2)["format"], "markdown");
    }
}
