//! What the store's test files share.

use serde_json::json;
use xsoar_store::{IncidentRecord, InvestigationRecord, Store};

/// Create incident `id` with its investigation (same id), as the server does for a new incident.
pub async fn create_incident_investigation(store: &Store, id: &str) {
    store
        .create_investigation(
            InvestigationRecord {
                id: id.into(),
                kind: 0,
                user: "admin".into(),
                created: "2025-11-29T07:00:00Z".into(),
                incident_id: Some(id.into()),
            },
            Some(IncidentRecord {
                id: id.into(),
                seq: id.parse().unwrap_or(1),
                data: json!({"id": id}),
                created: "2025-11-29T07:00:00Z".into(),
                modified: "2025-11-29T07:00:00Z".into(),
            }),
            None,
        )
        .await
        .expect("create the incident and its investigation");
}
