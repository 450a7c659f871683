//! Reading a webhook body the way SIGNL4 does: by content type, into alert fields.
//!
//! SIGNL4 takes JSON, form-urlencoded, multipart, XML and plain text, and integrations disagree on
//! key case (`Title`, `title`, `Subject`, `body`...). The simulator accepts all of them so a
//! request that works against SIGNL4 works here, and rejects what SIGNL4 rejects (a body that
//! does not parse as its declared type) so error handling can be tested.

use super::state::{Attachment, Incoming, StatusCommand};
use serde_json::{Map, Value};

/// Largest attachment SIGNL4 accepts (4 MB, per its documentation).
pub(crate) const MAX_ATTACHMENT_BYTES: usize = 4 * 1024 * 1024;

/// File extensions SIGNL4 accepts as attachments.
const ATTACHMENT_TYPES: [&str; 15] = [
    "png", "tiff", "tif", "jpeg", "jpg", "gif", "bmp", "mp3", "wav", "aiff", "m4a", "txt", "pdf",
    "mov", "mp4",
];

/// A body that does not parse as its content type (answered with 400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum BodyError {
    #[error("The request body is not valid application/json: {0}")]
    Json(String),
    #[error("The request body is a JSON {0}; SIGNL4 expects a JSON object")]
    JsonNotObject(&'static str),
    #[error("The request body is not valid application/x-www-form-urlencoded: {0}")]
    Form(String),
    #[error("The request body is not valid multipart/form-data: {0}")]
    Multipart(String),
    #[error("Attachment '{0}' is larger than 4 MB")]
    AttachmentTooLarge(String),
    #[error("Attachment '{0}' has a file type SIGNL4 does not accept")]
    AttachmentType(String),
    #[error("The request body is not valid UTF-8 text")]
    NotUtf8,
    #[error("The request body is not valid application/xml: {0}")]
    Xml(String),
}

/// How a body is read, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    Json,
    Form,
    Multipart,
    Xml,
    Text,
}

impl BodyKind {
    pub(crate) fn of(content_type: Option<&str>) -> Self {
        let essence = content_type
            .and_then(|ct| ct.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase())
            .unwrap_or_default();
        match essence.as_str() {
            "application/json" => BodyKind::Json,
            e if e.starts_with("application/") && e.ends_with("+json") => BodyKind::Json,
            "application/x-www-form-urlencoded" => BodyKind::Form,
            "multipart/form-data" => BodyKind::Multipart,
            "application/xml" | "text/xml" => BodyKind::Xml,
            e if e.starts_with("application/") && e.ends_with("+xml") => BodyKind::Xml,
            // text/*, no content type, anything else: the whole body is the message.
            _ => BodyKind::Text,
        }
    }
}

/// Fields of a JSON, form or text body. `lenient_json` reads invalid JSON as text, as SIGNL4
/// apparently does for Zabbix's `payload=<json>` sent as `application/json`.
pub(crate) fn parse_fields(
    kind: BodyKind,
    body: &[u8],
    lenient_json: bool,
) -> Result<Vec<(String, Value)>, BodyError> {
    match kind {
        BodyKind::Json => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(map.into_iter().collect()),
            Ok(_) | Err(_) if lenient_json => text_fields(body),
            Ok(other) => Err(BodyError::JsonNotObject(json_kind(&other))),
            Err(e) => Err(BodyError::Json(e.to_string())),
        },
        BodyKind::Form if !form_is_utf8(body) => Err(BodyError::NotUtf8),
        BodyKind::Form => serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .map(|pairs| {
                pairs
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect()
            })
            .map_err(|e| BodyError::Form(e.to_string())),
        BodyKind::Xml => xml_fields(body),
        BodyKind::Text | BodyKind::Multipart => text_fields(body),
    }
}

/// Whether a form body, percent escapes decoded, is UTF-8 text: the form decoder would put
/// replacement characters where it is not, and a plain-text body that is not UTF-8 is refused.
/// (`&`, `=` and `+` are ASCII, so decoding the body as a whole decides it for every field.)
fn form_is_utf8(body: &[u8]) -> bool {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut decoded = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let escape = (body[i] == b'%')
            .then(|| Some((hex(*body.get(i + 1)?)?, hex(*body.get(i + 2)?)?)))
            .flatten();
        match escape {
            Some((hi, lo)) => {
                decoded.push((hi * 16 + lo) as u8);
                i += 3;
            }
            None => {
                decoded.push(body[i]);
                i += 1;
            }
        }
    }
    std::str::from_utf8(&decoded).is_ok()
}

/// `<alert><title>T</title><message>M</message></alert>`: each child of the root element is a
/// field, named by its local name, holding its text (entities and CDATA decoded, markup of
/// deeper elements dropped). A root with text only is the message.
fn xml_fields(body: &[u8]) -> Result<Vec<(String, Value)>, BodyError> {
    use quick_xml::events::Event;
    let text = std::str::from_utf8(body).map_err(|_| BodyError::NotUtf8)?;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let bad = |e: &dyn std::fmt::Display| BodyError::Xml(e.to_string());
    let mut fields: Vec<(String, Value)> = Vec::new();
    let (mut depth, mut roots) = (0usize, 0usize);
    let mut current: Option<(String, String)> = None;
    let mut root_text = String::new();
    loop {
        match reader.read_event().map_err(|e| bad(&e))? {
            Event::Start(start) => {
                depth += 1;
                if depth == 1 {
                    roots += 1;
                } else if depth == 2 {
                    let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                    current = Some((name, String::new()));
                }
            }
            Event::Empty(start) if depth == 1 => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                fields.push((name, Value::String(String::new())));
            }
            Event::Empty(_) => roots += usize::from(depth == 0),
            Event::Text(t) => {
                let t = t.unescape().map_err(|e| bad(&e))?;
                match (&mut current, depth) {
                    (Some((_, value)), _) => value.push_str(&t),
                    (None, 1) => root_text.push_str(&t),
                    (None, _) => {
                        return Err(BodyError::Xml("text outside the root element".into()))
                    }
                }
            }
            Event::CData(c) => {
                let c = c.decode().map_err(|e| bad(&e))?;
                match &mut current {
                    Some((_, value)) => value.push_str(&c),
                    None => root_text.push_str(&c),
                }
            }
            Event::End(_) => {
                if depth == 2 {
                    if let Some((name, value)) = current.take() {
                        fields.push((name, Value::String(value)));
                    }
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if roots != 1 || depth != 0 {
        return Err(BodyError::Xml("expected one root element".into()));
    }
    if fields.is_empty() && !root_text.is_empty() {
        fields.push(("message".to_owned(), Value::String(root_text)));
    }
    Ok(fields)
}

fn text_fields(body: &[u8]) -> Result<Vec<(String, Value)>, BodyError> {
    let text = std::str::from_utf8(body).map_err(|_| BodyError::NotUtf8)?;
    Ok(vec![("message".to_owned(), Value::String(text.to_owned()))])
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Check an attachment part against SIGNL4's limits.
pub(crate) fn check_attachment(attachment: &Attachment) -> Result<(), BodyError> {
    let name = attachment
        .file_name
        .clone()
        .unwrap_or_else(|| attachment.name.clone());
    if attachment.size > MAX_ATTACHMENT_BYTES {
        return Err(BodyError::AttachmentTooLarge(name));
    }
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if !ATTACHMENT_TYPES.contains(&ext.as_str()) {
        return Err(BodyError::AttachmentType(name));
    }
    Ok(())
}

/// A field value as text: strings as is, other scalars as JSON, `null` as absent.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The first non-null field whose key equals one of `names` (ASCII case-insensitive), in the
/// order of `names`.
fn take(fields: &[(String, Value)], names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| {
        fields
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .find_map(|(_, v)| text(v))
    })
}

/// The status mapping of a webhook URL's query (`?ExtIDParam=groupKey&ExtStatusParam=status&
/// ResolvedStatus=resolved[&AckStatus=..][&NewStatus=..]`), for sources whose payload cannot
/// carry `X-S4-*` fields. Parameter names match case-insensitively (SIGNL4's docs spell both
/// `ExtIDParam` and `ExtIdParam`), and so do status values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StatusMapping {
    ext_id_param: Option<String>,
    ext_status_param: Option<String>,
    resolved: Option<String>,
    ack: Option<String>,
    new: Option<String>,
}

impl StatusMapping {
    /// The mapping a query string asks for, if it names `ExtIDParam` or `ExtStatusParam`.
    pub(crate) fn from_query(query: &str) -> Option<Self> {
        let mut m = Self::default();
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        for (k, v) in pairs {
            let v = Some(v).filter(|v| !v.is_empty());
            match k.to_ascii_lowercase().as_str() {
                "extidparam" => m.ext_id_param = v,
                "extstatusparam" => m.ext_status_param = v,
                "resolvedstatus" => m.resolved = v,
                "ackstatus" => m.ack = v,
                "newstatus" => m.new = v,
                _ => {}
            }
        }
        (m.ext_id_param.is_some() || m.ext_status_param.is_some()).then_some(m)
    }

    /// What the mapping reads from `fields`: the external id and the status command.
    pub(crate) fn read(
        &self,
        fields: &[(String, Value)],
    ) -> (Option<String>, Option<StatusCommand>) {
        let external_id = self
            .ext_id_param
            .as_deref()
            .and_then(|p| take(fields, &[p]))
            .filter(|s| !s.is_empty());
        let status = self.ext_status_param.as_deref().map(|p| {
            let value = take(fields, &[p]).unwrap_or_default();
            let is = |want: &Option<String>| {
                want.as_deref()
                    .is_some_and(|w| w.eq_ignore_ascii_case(value.trim()))
            };
            if is(&self.resolved) {
                StatusCommand::Resolve
            } else if is(&self.ack) {
                StatusCommand::Acknowledge
            } else if self.new.is_none() || is(&self.new) {
                StatusCommand::New
            } else {
                StatusCommand::Other(format!("{p}={value} (not NewStatus)"))
            }
        });
        (external_id, status)
    }
}

/// Keys that are not free-form alert parameters.
const RESERVED: [&str; 4] = ["title", "subject", "message", "body"];

/// Interpret fields: title, message, `X-S4-*` control parameters and free parameters.
pub(crate) fn interpret(fields: Vec<(String, Value)>, attachments: Vec<Attachment>) -> Incoming {
    let status = match take(&fields, &["X-S4-Status"]) {
        None => StatusCommand::New,
        Some(s) => match s.trim().to_ascii_lowercase().as_str() {
            "" | "new" => StatusCommand::New,
            "acknowledged" => StatusCommand::Acknowledge,
            "resolved" => StatusCommand::Resolve,
            _ => StatusCommand::Other(s),
        },
    };
    let filtering = fields
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("X-S4-Filtering") && !v.is_null())
        .and_then(|(_, v)| match v {
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            _ => None,
        });
    let mut parameters = Map::new();
    for (k, v) in &fields {
        let lower = k.to_ascii_lowercase();
        if lower.starts_with("x-s4-") || RESERVED.contains(&lower.as_str()) || v.is_null() {
            continue;
        }
        parameters.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Incoming {
        title: take(&fields, &["title", "subject"]),
        message: take(&fields, &["message", "body"]),
        external_id: take(&fields, &["X-S4-ExternalID"]).filter(|s| !s.is_empty()),
        status,
        service: take(&fields, &["X-S4-Service"]),
        location: take(&fields, &["X-S4-Location"]),
        scenario: take(&fields, &["X-S4-AlertingScenario"]),
        filtering,
        source_system: take(&fields, &["X-S4-SourceSystem"]),
        parameters,
        attachments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> Vec<(String, Value)> {
        match v {
            Value::Object(m) => m.into_iter().collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(
            BodyKind::of(Some("application/json; charset=utf-8")),
            BodyKind::Json
        );
        assert_eq!(BodyKind::of(Some("application/vnd.x+json")), BodyKind::Json);
        assert_eq!(
            BodyKind::of(Some("Application/X-WWW-Form-Urlencoded")),
            BodyKind::Form
        );
        assert_eq!(
            BodyKind::of(Some("multipart/form-data; boundary=x")),
            BodyKind::Multipart
        );
        assert_eq!(BodyKind::of(Some("text/plain")), BodyKind::Text);
        assert_eq!(BodyKind::of(None), BodyKind::Text);
    }

    #[test]
    fn xml_children_of_the_root_are_fields() {
        assert_eq!(
            BodyKind::of(Some("application/xml; charset=utf-8")),
            BodyKind::Xml
        );
        assert_eq!(BodyKind::of(Some("text/xml")), BodyKind::Xml);
        let body = b"<?xml version=\"1.0\"?><alert><Title>Disk &amp; CPU</Title><message><![CDATA[db1 <95%>]]></message><X-S4-ExternalID>e1</X-S4-ExternalID><empty/></alert>";
        let inc = interpret(
            parse_fields(BodyKind::Xml, body, false).expect("xml"),
            Vec::new(),
        );
        assert_eq!(inc.title.as_deref(), Some("Disk & CPU"));
        assert_eq!(inc.message.as_deref(), Some("db1 <95%>"));
        assert_eq!(inc.external_id.as_deref(), Some("e1"));
        assert_eq!(
            parse_fields(BodyKind::Xml, b"<alert>just text</alert>", false),
            Ok(vec![("message".to_owned(), json!("just text"))])
        );
        for broken in [&b"<alert><title>x</alert>"[..], b"<a/><b/>", b"plain", b""] {
            assert!(
                matches!(
                    parse_fields(BodyKind::Xml, broken, false),
                    Err(BodyError::Xml(_))
                ),
                "{}",
                String::from_utf8_lossy(broken)
            );
        }
    }

    #[test]
    fn form_bodies_must_decode_to_utf8_like_text_bodies() {
        assert_eq!(
            parse_fields(BodyKind::Form, b"Title=caf%C3%A9&Message=a+b%25", false),
            Ok(vec![
                ("Title".to_owned(), json!("café")),
                ("Message".to_owned(), json!("a b%"))
            ])
        );
        // A stray '%' is text, as the form decoder reads it.
        assert!(parse_fields(BodyKind::Form, b"Title=100%&Message=%zz", false).is_ok());
        for bad in [&b"Title=%FF"[..], b"Title=caf%C3", b"Title=\xff"] {
            assert_eq!(
                parse_fields(BodyKind::Form, bad, false),
                Err(BodyError::NotUtf8),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn json_errors_and_lenient_mode() {
        assert!(matches!(
            parse_fields(BodyKind::Json, b"{nope", false),
            Err(BodyError::Json(_))
        ));
        assert_eq!(
            parse_fields(BodyKind::Json, b"[1]", false),
            Err(BodyError::JsonNotObject("array"))
        );
        assert_eq!(
            parse_fields(BodyKind::Json, b"payload={\"a\":1}", true),
            Ok(vec![("message".to_owned(), json!("payload={\"a\":1}"))])
        );
        assert_eq!(
            parse_fields(BodyKind::Text, &[0xff, 0xfe], false),
            Err(BodyError::NotUtf8)
        );
    }

    #[test]
    fn keys_are_case_insensitive_and_null_is_absent() {
        let inc = interpret(
            fields(json!({
                "Subject": "S", "BODY": "B", "x-s4-externalid": "e1", "X-S4-Status": "",
                "X-S4-Service": null, "X-S4-Filtering": "TRUE", "Host": "db1", "X-S4-Other": 1
            })),
            Vec::new(),
        );
        assert_eq!(inc.title.as_deref(), Some("S"));
        assert_eq!(inc.message.as_deref(), Some("B"));
        assert_eq!(inc.external_id.as_deref(), Some("e1"));
        assert_eq!(inc.status, StatusCommand::New);
        assert_eq!(inc.service, None);
        assert_eq!(inc.filtering, Some(true));
        assert_eq!(Value::Object(inc.parameters), json!({"Host": "db1"}));
    }

    #[test]
    fn title_wins_over_subject_and_statuses_parse() {
        let inc = interpret(
            fields(json!({"subject": "S", "Title": "T", "X-S4-Status": "Resolved"})),
            Vec::new(),
        );
        assert_eq!(inc.title.as_deref(), Some("T"));
        assert_eq!(inc.status, StatusCommand::Resolve);
        let inc = interpret(
            fields(json!({"X-S4-Status": "updated", "X-S4-Filtering": false})),
            Vec::new(),
        );
        assert_eq!(inc.status, StatusCommand::Other("updated".into()));
        assert_eq!(inc.filtering, Some(false));
    }

    #[test]
    fn attachments_are_checked() {
        let ok = Attachment {
            name: "file".into(),
            file_name: Some("a.PNG".into()),
            content_type: None,
            size: 10,
        };
        assert_eq!(check_attachment(&ok), Ok(()));
        let big = Attachment {
            size: MAX_ATTACHMENT_BYTES + 1,
            ..ok.clone()
        };
        assert_eq!(
            check_attachment(&big),
            Err(BodyError::AttachmentTooLarge("a.PNG".into()))
        );
        let exe = Attachment {
            file_name: Some("x.exe".into()),
            ..ok
        };
        assert_eq!(
            check_attachment(&exe),
            Err(BodyError::AttachmentType("x.exe".into()))
        );
    }
}
