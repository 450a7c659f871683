//! Incidents: create (optionally starting a playbook), search, close, delete.
//!
//! Creating an incident with a `playbookId` starts the run in the background and answers at
//! once, as XSOAR does; an unknown playbook is a 400 before anything is created, which
//! demisto-sdk reports as "playbook-id ... does not exist".

use crate::api::war_room::{filter_of, page_of, paging};
use crate::body::{boolean, int_list, non_empty_text, text, text_list, Body};
use crate::error::ApiError;
use crate::state::{playbook_not_found, AppState};
use crate::views;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Fields the server owns; a create request cannot set them.
const MANAGED: &[&str] = &[
    "id",
    "version",
    "investigationId",
    "created",
    "modified",
    "closed",
    "status",
    "ShardID",
    "createInvestigation",
    "isPlayground",
    "runStatus",
];

/// `POST /incident`.
pub async fn create(
    State(app): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let playbook = non_empty_text(body.get("playbookId"));
    if let Some(p) = &playbook {
        if app.engine().library().playbook(p).is_none() {
            return Err(playbook_not_found(p));
        }
    }
    let mut fields: Map<String, Value> = body
        .into_iter()
        .filter(|(k, v)| !v.is_null() && !MANAGED.contains(&k.as_str()))
        .collect();
    if !fields.get("CustomFields").is_some_and(Value::is_object) {
        fields.remove("CustomFields");
    }
    if !fields.get("labels").is_some_and(Value::is_array) {
        fields.remove("labels");
    }
    if let Some(name) = fields.get("name").and_then(|n| text(Some(n))) {
        fields.insert("name".into(), Value::String(name));
    }
    let slot = app.create_incident(fields).await?;
    if let Some(p) = playbook {
        app.start_playbook(slot.clone(), &p).await?;
    }
    Ok(Json(views::incident(&slot.incident_snapshot())))
}

/// Incident status words of queries.
fn status_code(word: &str) -> Option<i64> {
    Some(match word.to_ascii_lowercase().as_str() {
        "0" | "pending" | "new" => 0,
        "1" | "active" => 1,
        "2" | "closed" | "done" => 2,
        "3" | "archive" | "archived" | "acknowledged" => 3,
        _ => return None,
    })
}

/// One `key:value` term of a search query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Term {
    pub key: String,
    pub value: String,
    pub negated: bool,
}

/// Split `id: 104 and name:"disk full" -status:closed` into terms (words without a key are
/// matched against the name).
pub(crate) fn parse_query(q: &str) -> Vec<Term> {
    let mut terms = Vec::new();
    let chars: Vec<char> = q.chars().collect();
    let mut i = 0;
    let read_value = |i: &mut usize| -> String {
        while *i < chars.len() && chars[*i] == ' ' {
            *i += 1;
        }
        let mut v = String::new();
        if *i < chars.len() && (chars[*i] == '"' || chars[*i] == '\'') {
            let quote = chars[*i];
            *i += 1;
            while *i < chars.len() && chars[*i] != quote {
                v.push(chars[*i]);
                *i += 1;
            }
            *i += 1;
        } else {
            while *i < chars.len() && !chars[*i].is_whitespace() {
                v.push(chars[*i]);
                *i += 1;
            }
        }
        v
    };
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let mut negated = false;
        if chars[i] == '-' {
            negated = true;
            i += 1;
        }
        let mut word = String::new();
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != ':' {
            word.push(chars[i]);
            i += 1;
        }
        if i < chars.len() && chars[i] == ':' {
            i += 1;
            let value = read_value(&mut i);
            terms.push(Term {
                key: word,
                value,
                negated,
            });
        } else if !word.eq_ignore_ascii_case("and") && !word.is_empty() {
            terms.push(Term {
                key: "name".into(),
                value: format!("*{}*", word.trim_matches('"')),
                negated,
            });
        }
    }
    terms
}

/// Case-insensitive match with `*` wildcards.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let p = pattern.to_lowercase();
    let t = text.to_lowercase();
    if !p.contains('*') {
        return p == t;
    }
    let parts: Vec<&str> = p.split('*').collect();
    let mut pos = 0;
    for (n, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if n == 0 {
            if !t.starts_with(part) {
                return false;
            }
            pos = part.len();
            continue;
        }
        match t.get(pos..).and_then(|rest| rest.find(part)) {
            Some(at) => pos += at + part.len(),
            None => return false,
        }
    }
    parts
        .last()
        .is_none_or(|last| last.is_empty() || t.ends_with(last))
}

pub(crate) fn field_text(incident: &Value, key: &str) -> String {
    incident
        .get(key)
        .or_else(|| incident.get("CustomFields").and_then(|c| c.get(key)))
        .map(xsoar_context::to_display_string)
        .unwrap_or_default()
}

fn term_matches(incident: &Value, term: &Term) -> bool {
    let hit = match term.key.as_str() {
        "status" => {
            let want = status_code(&term.value);
            want.is_some() && incident.get("status").and_then(Value::as_i64) == want
        }
        key => glob(&term.value, &field_text(incident, key)),
    };
    hit != term.negated
}

fn parse_time(v: Option<&Value>) -> Option<OffsetDateTime> {
    let s = non_empty_text(v)?;
    OffsetDateTime::parse(s.trim(), &Rfc3339).ok()
}

/// A `fromDate`/`toDate` bound: unset, or a time (a 400 naming the field otherwise).
fn time_bound(filter: &Map<String, Value>, key: &str) -> Result<Option<OffsetDateTime>, ApiError> {
    let Some(v) = filter.get(key) else {
        return Ok(None);
    };
    Ok(crate::fields::normalize(key, v)?.and_then(|t| crate::fields::parse_rfc3339(&t)))
}

/// `POST /incidents/search`.
pub async fn search(
    State(app): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let filter = filter_of(&body);
    let (page, size) = paging(&filter)?;
    let from = time_bound(&filter, "fromDate")?;
    let to = time_bound(&filter, "toDate")?;
    let ids = text_list(filter.get("id"));
    let names = text_list(filter.get("name"));
    let types = text_list(filter.get("type"));
    let statuses = int_list(filter.get("status"));
    let sources = text_list(filter.get("sourceInstance"));
    let terms = parse_query(&text(filter.get("query")).unwrap_or_default());
    let mut matched: Vec<Value> = app
        .incident_slots()
        .iter()
        .map(|s| s.incident_snapshot())
        .filter(|i| ids.is_empty() || ids.contains(&field_text(i, "id")))
        .filter(|i| names.is_empty() || names.iter().any(|n| glob(n, &field_text(i, "name"))))
        .filter(|i| types.is_empty() || types.contains(&field_text(i, "type")))
        .filter(|i| {
            statuses.is_empty()
                || i.get("status")
                    .and_then(Value::as_i64)
                    .is_some_and(|s| statuses.contains(&s))
        })
        .filter(|i| sources.is_empty() || sources.contains(&field_text(i, "sourceInstance")))
        .filter(|i| terms.iter().all(|t| term_matches(i, t)))
        .filter(|i| {
            let created = parse_time(i.get("created"));
            from.is_none_or(|f| created.is_some_and(|c| c >= f))
                && to.is_none_or(|t| created.is_some_and(|c| c <= t))
        })
        .map(|i| views::incident(&i))
        .collect();
    // Newest first unless asked otherwise (`sort: [{field, asc}]`).
    let (field, asc) = match filter
        .get("sort")
        .and_then(Value::as_array)
        .and_then(|s| s.first())
    {
        Some(s) => (
            text(s.get("field")).unwrap_or_else(|| "id".into()),
            boolean(s.get("asc")).unwrap_or(false),
        ),
        None => ("id".into(), false),
    };
    matched.sort_by(|a, b| {
        let ord = if field == "id" {
            let n = |v: &Value| field_text(v, "id").parse::<u64>().unwrap_or(0);
            n(a).cmp(&n(b))
        } else {
            field_text(a, &field).cmp(&field_text(b, &field))
        };
        if asc {
            ord
        } else {
            ord.reverse()
        }
    });
    Ok(Json(
        json!({"total": matched.len(), "data": page_of(&matched, page, size)}),
    ))
}

/// `POST /incident/close`.
pub async fn close(
    State(app): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let id = non_empty_text(body.get("id"))
        .ok_or_else(|| ApiError::bad_request("Missing id", "the body needs the incident id"))?;
    let slot = app
        .slot(&id)
        .filter(|s| s.incident_id.is_some())
        .ok_or_else(|| ApiError::not_found("Incident not found", format!("no incident '{id}'")))?;
    let mut fields = Map::new();
    fields.insert("status".into(), json!(2));
    for key in ["closeReason", "closeNotes"] {
        if let Some(v) = text(body.get(key)) {
            fields.insert(key.into(), Value::String(v));
        }
    }
    if let Some(Value::Object(custom)) = body.get("CustomFields") {
        for (k, v) in custom {
            fields.insert(k.clone(), v.clone());
        }
    }
    crate::fields::check_incident(&mut fields)?;
    let incident = app
        .with_investigation(slot, move |app, inv| {
            Box::pin(async move {
                fields.insert("closed".into(), Value::String(app.now()));
                xsoar_engine::investigation::update_incident(&mut inv.incident, &fields);
                inv.incident.clone()
            })
        })
        .await?;
    Ok(Json(views::incident(&incident)))
}

/// `POST /incident/investigate` (`{"id": "<incident id>"}`): open the incident's
/// investigation. Every incident here has its investigation from the start, so this answers
/// the investigation (as `POST /investigations/search` shows it) and starts the incident's
/// playbook (`playbookId`) when it has never run, as XSOAR does for a pending incident.
pub async fn investigate(
    State(app): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let id = non_empty_text(body.get("id"))
        .or_else(|| non_empty_text(body.get("incidentId")))
        .ok_or_else(|| ApiError::bad_request("Missing id", "the body needs the incident id"))?;
    let slot = app
        .slot(&id)
        .filter(|s| s.incident_id.is_some())
        .ok_or_else(|| ApiError::not_found("Incident not found", format!("no incident '{id}'")))?;
    let incident = slot.incident_snapshot();
    if let Some(p) = non_empty_text(incident.get("playbookId")) {
        if app.run_entry(&slot.id).is_none() {
            app.start_playbook(slot.clone(), &p).await?;
        }
    }
    let incident = slot.incident_snapshot();
    Ok(Json(views::investigation(&slot.info(&incident))))
}

/// The `ids` of a batch request: an array of ids (strings or numbers), or unset.
fn ids_of(v: Option<&Value>) -> Result<Vec<String>, ApiError> {
    let bad = |v: &Value| {
        ApiError::bad_request(
            "Invalid ids",
            format!("'ids' has {v}; send an array of incident ids, e.g. [\"3\"]"),
        )
    };
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|x| match x {
                Value::String(_) | Value::Number(_) => text(Some(x)).ok_or_else(|| bad(x)),
                other => Err(bad(other)),
            })
            .collect(),
        Some(other) => Err(bad(other)),
    }
}

/// `POST /incident/batchDelete`.
pub async fn batch_delete(
    State(app): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let ids = if boolean(body.get("all")).unwrap_or(false) {
        app.incident_slots()
            .iter()
            .filter_map(|s| s.incident_id.clone())
            .collect()
    } else {
        ids_of(body.get("ids"))?
    };
    let deleted = app.delete_incidents(&ids).await?;
    Ok(Json(json!({"total": deleted, "data": [], "notUpdated": 0})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_split_into_terms() {
        assert_eq!(
            parse_query("id: 104"),
            vec![Term {
                key: "id".into(),
                value: "104".into(),
                negated: false
            }]
        );
        let t = parse_query(r#"name:"disk full" and -status:closed type:Phishing"#);
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].value, "disk full");
        assert!(t[1].negated);
        assert_eq!(t[1].key, "status");
        assert_eq!(t[2].key, "type");
    }

    #[test]
    fn globs() {
        assert!(glob("disk*", "Disk full"));
        assert!(glob("*full", "disk full"));
        assert!(glob("*sk f*", "disk full"));
        assert!(!glob("disk", "disk full"));
        assert!(glob("Disk Full", "disk full"));
    }

    #[test]
    fn terms_match_incidents() {
        let i =
            json!({"id": "7", "name": "disk full", "status": 2, "CustomFields": {"team": "ops"}});
        assert!(parse_query("id:7 status:closed team:ops")
            .iter()
            .all(|t| term_matches(&i, t)));
        assert!(!parse_query("status:active")
            .iter()
            .all(|t| term_matches(&i, t)));
        assert!(parse_query("disk").iter().all(|t| term_matches(&i, t)));
    }
}
