//! Recording: turn the real executions of a run into a mock file that replays them.
//!
//! Each recorded call becomes a mock limited to its test playbook, with its exact arguments
//! and exactly what the instance returned. Calls of the same command with the same arguments
//! replay in order: every mock but the last of such a sequence answers `times: N` calls, the
//! last answers any further ones. Replaying the file therefore writes the same entries and
//! the same context as the recorded run, even for services that return fresh ids each time.

use crate::hook::RecordedCall;
use crate::mocks::looks_like_matcher;
use crate::report::TestResult;
use serde::Serialize;
use serde_json::{json, Map, Value};
use xsoar_connector::CommandResult;

#[derive(Debug, Serialize)]
struct FileOut {
    mocks: Vec<MockOut>,
}

#[derive(Debug, Serialize)]
struct MockOut {
    name: String,
    playbook: String,
    command: String,
    #[serde(skip_serializing_if = "Map::is_empty")]
    args: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    times: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    results: Option<Vec<ResultOut>>,
    #[serde(flatten)]
    single: Option<ResultOut>,
}

#[derive(Debug, Serialize, PartialEq)]
struct ResultOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    entry_type: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    readable: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<String>,
}

fn result_out(r: &CommandResult) -> ResultOut {
    if r.is_error() {
        return ResultOut {
            error: Some(xsoar_context::to_display_string(&r.contents)),
            entry_type: None,
            context: None,
            readable: None,
            raw: None,
            format: None,
        };
    }
    ResultOut {
        error: None,
        entry_type: (r.entry_type.0 != 1).then_some(r.entry_type.0),
        context: (!r.entry_context.is_empty()).then(|| r.entry_context.clone()),
        readable: r.human_readable.clone(),
        raw: Some(r.contents.clone()),
        format: Some(r.contents_format.to_string()),
    }
}

/// The `args:` of a recorded mock: the values seen (literal, even when they look like a
/// matcher), except `secret: true` arguments, which match any value and are never written.
fn recorded_args(args: &Map<String, Value>, secret: &[String]) -> Map<String, Value> {
    args.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let v = if secret.contains(k) {
                json!("*")
            } else if looks_like_matcher(v) {
                json!({ "equals": v })
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}

/// The mock file (YAML) that replays every real execution of `results`.
pub fn recording_yaml(results: &[TestResult]) -> Result<String, serde_yaml::Error> {
    let mut mocks: Vec<MockOut> = Vec::new();
    for r in results {
        let calls: &[RecordedCall] = &r.recorded;
        // Group runs of identical calls (same command, arguments and answer) into one mock.
        let mut i = 0;
        let mut n = 0usize;
        let start = mocks.len();
        while i < calls.len() {
            let c = &calls[i];
            let mut j = i + 1;
            while j < calls.len() && calls[j] == *c {
                j += 1;
            }
            n += 1;
            let key = match &c.brand {
                Some(b) if !b.is_empty() => format!("{b}|||{}", c.command),
                _ => c.command.clone(),
            };
            let mut outs: Vec<ResultOut> = c.results.iter().map(result_out).collect();
            let (single, results) = if outs.len() == 1 {
                (outs.pop(), None)
            } else {
                (None, Some(outs))
            };
            mocks.push(MockOut {
                name: format!("{} #{n} {}", r.name, c.command),
                playbook: r.name.clone(),
                command: key,
                args: recorded_args(&c.args, &c.secret),
                times: Some((j - i) as u32),
                results,
                single,
            });
            i = j;
        }
        // The last mock of each (command, arguments) sequence answers any further call.
        let recorded = &mut mocks[start..];
        for k in 0..recorded.len() {
            let later_same = recorded[k + 1..]
                .iter()
                .any(|m| m.command == recorded[k].command && m.args == recorded[k].args);
            if !later_same {
                recorded[k].times = None;
            }
        }
    }
    let header = "# Recorded with `xsoar-emu test --record`: replays the real executions of the\n\
                  # recorded run. Format: docs/mocks.md.\n";
    let body = serde_yaml::to_string(&FileOut { mocks })?;
    Ok(format!("{header}{body}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_arguments_are_recorded_as_any_value() {
        let (item, _) = xsoar_content::parse_any(
            "id: T\nname: T\nstarttaskid: '0'\ntasks:\n  '0': {id: '0', type: start, task: {name: ''}}\n",
            "t.yml",
        );
        let Some(xsoar_content::ContentItem::Playbook(pb)) = item else {
            panic!("not a playbook");
        };
        let mut result = TestResult::broken(&crate::TestCase::of(&pb), String::new());
        let mut args = Map::new();
        args.insert("token".into(), json!("hunter2secret"));
        args.insert("other".into(), json!("*"));
        result.recorded = vec![RecordedCall {
            brand: Some("SecretInt".into()),
            command: "sec-cmd".into(),
            args,
            secret: vec!["token".into()],
            results: vec![CommandResult::text("done")],
        }];
        let yaml = recording_yaml(&[result]).expect("yaml");
        assert!(!yaml.contains("hunter2secret"), "{yaml}");
        assert!(yaml.contains("token: '*'"), "{yaml}");
        assert!(
            yaml.contains("equals: '*'"),
            "a literal * stays literal: {yaml}"
        );
    }
}
