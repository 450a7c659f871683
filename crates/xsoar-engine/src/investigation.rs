//! An investigation: the incident, its war-room entries and its context.

use crate::entry::{CompactString, Entry};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Investigation `type` of a playground (a war room without an incident).
pub const PLAYGROUND_TYPE: i64 = 9;

/// One investigation (war room). Owned by the caller; the engine mutates it.
#[derive(Debug, Clone, PartialEq)]
pub struct Investigation {
    /// Investigation id (equal to the incident id, or `<uuid>-playground`).
    pub id: String,
    /// The incident object (`${incident.*}`), custom fields flattened in.
    pub incident: Value,
    /// The context.
    pub context: Value,
    /// War-room entries; entry `N@id` is `entries[N-1]`. Boxed: a war room grows by two or
    /// more entries per command, and growing a vector of pointers copies 8 bytes per entry
    /// instead of the whole record.
    pub entries: Vec<Box<Entry>>,
    /// Stored files (debug logs), by file id.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The user who types in this war room.
    pub user: String,
}

impl Investigation {
    /// A new investigation for `incident` (an object; missing system fields are filled in).
    pub fn new(id: impl Into<String>, incident: Value) -> Self {
        let id = id.into();
        let incident = normalize_incident(&id, incident);
        Self {
            id,
            incident,
            context: Value::Object(Map::new()),
            // Room for a few commands before the first reallocation.
            entries: Vec::with_capacity(16),
            files: BTreeMap::new(),
            user: "admin".into(),
        }
    }

    /// The id the next entry will get.
    pub fn next_entry_id(&self) -> CompactString {
        // `<seq>@<id>` assembled in one stack buffer and checked once: every command writes at
        // least two entries.
        let mut buf = [0u8; 64];
        let mut n = self.entries.len() + 1;
        let mut digits = 0;
        let mut tmp = [0u8; 20];
        loop {
            tmp[digits] = b'0' + (n % 10) as u8;
            digits += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let id = self.id.as_bytes();
        let len = digits + 1 + id.len();
        if len <= buf.len() {
            for (slot, d) in buf.iter_mut().zip(tmp[..digits].iter().rev()) {
                *slot = *d;
            }
            buf[digits] = b'@';
            buf[digits + 1..len].copy_from_slice(id);
            if let Ok(text) = std::str::from_utf8(&buf[..len]) {
                return CompactString::from(text);
            }
        }
        // Investigation ids longer than the buffer.
        CompactString::from(format!("{}@{}", self.entries.len() + 1, self.id))
    }

    /// An entry by id (`12@7`).
    pub fn entry(&self, entry_id: &str) -> Option<&Entry> {
        let (seq, inv) = entry_id.split_once('@')?;
        if inv != self.id {
            return None;
        }
        let n: usize = seq.parse().ok()?;
        self.entries.get(n.checked_sub(1)?).map(|e| &**e)
    }

    /// Whether the incident is closed (status 2).
    pub fn is_closed(&self) -> bool {
        self.incident.get("status").and_then(Value::as_i64) == Some(2)
    }
}

/// Fill in the system fields XSOAR always has and flatten `CustomFields` into the incident,
/// so `${incident.<machinename>}` reads custom fields as XSOAR does.
pub fn normalize_incident(id: &str, incident: Value) -> Value {
    let mut obj = match incident {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    // Only the missing fields are built (an incident is created for every run and test).
    const DEFAULTS: &[&str] = &[
        "id",
        "name",
        "type",
        "severity",
        "status",
        "owner",
        "details",
        "labels",
        "phase",
        "closeReason",
        "closeNotes",
        "playbookId",
        "sourceBrand",
        "sourceInstance",
        "CustomFields",
    ];
    for &key in DEFAULTS {
        if obj.contains_key(key) {
            continue;
        }
        let value = match key {
            "id" => Value::String(id.to_owned()),
            "name" => Value::String(format!("Incident {id}")),
            "type" => Value::String("Unclassified".into()),
            "severity" => Value::from(0),
            "status" => Value::from(1),
            "owner" => Value::String("admin".into()),
            "labels" => Value::Array(Vec::new()),
            "sourceBrand" => Value::String("Manual".into()),
            "CustomFields" => Value::Object(Map::new()),
            _ => Value::String(String::new()),
        };
        obj.insert(key.to_owned(), value);
    }
    if let Some(Value::Object(custom)) = obj
        .get("CustomFields")
        .filter(|c| !c.as_object().is_some_and(Map::is_empty))
        .cloned()
    {
        for (k, v) in custom {
            obj.entry(k).or_insert(v);
        }
    }
    Value::Object(obj)
}

/// Apply `setIncident`-style updates: system fields are set by name; any other field is a
/// custom field, stored under `CustomFields` and flattened.
pub fn update_incident(incident: &mut Value, fields: &Map<String, Value>) {
    const SYSTEM: &[&str] = &[
        "name",
        "owner",
        "severity",
        "details",
        "type",
        "phase",
        "occurred",
        "sla",
        "labels",
        "closeReason",
        "closeNotes",
        "status",
        "playbookId",
        "closed",
        "roles",
    ];
    let Value::Object(obj) = incident else { return };
    for (k, v) in fields {
        if k == "addLabels" {
            let mut labels = obj
                .get("labels")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if let Value::Array(more) = v {
                labels.extend(more.iter().cloned());
            }
            obj.insert("labels".into(), Value::Array(labels));
            continue;
        }
        if !SYSTEM.contains(&k.as_str()) {
            if let Some(Value::Object(custom)) = obj.get_mut("CustomFields") {
                custom.insert(k.clone(), v.clone());
            }
        }
        obj.insert(k.clone(), v.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entry_ids_are_sequence_at_investigation() {
        let mut inv = Investigation::new("42", json!({}));
        assert_eq!(inv.next_entry_id(), "1@42");
        for _ in 0..1234 {
            let id = inv.next_entry_id();
            inv.entries.push(Box::new(Entry::new(
                id,
                "42".into(),
                1,
                Value::Null,
                "2025-01-01T00:00:00Z".into(),
            )));
        }
        assert_eq!(inv.next_entry_id(), "1235@42");
        assert_eq!(inv.entries[9].id, "10@42");
        let long = "a".repeat(80);
        let inv = Investigation::new(long.clone(), json!({}));
        assert_eq!(inv.next_entry_id(), format!("1@{long}"));
        let inv = Investigation::new("3f0c-playground-é", json!({}));
        assert_eq!(inv.next_entry_id(), "1@3f0c-playground-é");
    }
}
