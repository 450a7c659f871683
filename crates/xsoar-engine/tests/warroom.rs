//! War-room behaviour, end to end through `Engine::execute_line`: one `check` per feature,
//! rendering the entries written and the final context into a snapshot.

use futures::future::BoxFuture;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use xsoar_connector::{
    CommandCall, CommandOutput, CommandResult, Connector, ConnectorError, ConnectorFactory,
    InstanceConfig, Outputs,
};
use xsoar_content::parse_any;
use xsoar_engine::{Engine, EngineOptions, InstanceSpec, Investigation, VirtualClock};

const ECHO_YAML: &str = r#"
commonfields: {id: Echo, version: -1}
name: Echo
display: Echo
category: Utilities
description: Test integration.
configuration:
- {name: apikey, type: 4, required: true, display: API key}
- {name: url, type: 0, defaultvalue: "https://echo.invalid"}
script:
  type: python
  script: ''
  commands:
  - name: echo
    description: Echo the arguments as outputs.
    arguments:
    - {name: value, description: v, default: true, required: true}
    - {name: mode, description: m, auto: PREDEFINED, predefined: [fast, slow], defaultValue: fast}
    - {name: tags, description: t, isArray: true}
    - {name: token, description: t, secret: true}
    outputs:
    - {contextPath: Echo.Result.value, description: v, type: String}
  - name: fail
    description: Always fails.
  - name: flaky
    description: Fails twice, then works.
  - name: leak
    description: Returns the instance API key in its output.
"#;

struct EchoFactory {
    flaky: Arc<AtomicUsize>,
}

struct Echo {
    name: String,
    apikey: String,
    flaky: Arc<AtomicUsize>,
}

impl ConnectorFactory for EchoFactory {
    fn brand(&self) -> &str {
        "Echo"
    }
    fn build(&self, instance: &InstanceConfig) -> Result<Arc<dyn Connector>, ConnectorError> {
        let apikey = instance
            .param_secret("apikey")
            .ok_or_else(|| ConnectorError::Config("apikey is required".into()))?;
        Ok(Arc::new(Echo {
            name: instance.name.clone(),
            apikey: apikey.expose().to_owned(),
            flaky: self.flaky.clone(),
        }))
    }
}

impl Connector for Echo {
    fn execute<'a>(
        &'a self,
        call: CommandCall<'a>,
    ) -> BoxFuture<'a, Result<CommandOutput, ConnectorError>> {
        Box::pin(async move {
            match call.command {
                "echo" => {
                    let mut out = serde_json::Map::new();
                    out.insert("instance".into(), json!(self.name));
                    out.extend(call.args.clone());
                    let out = Value::Object(out);
                    Ok(CommandResult::from_outputs(Outputs {
                        prefix: Some("Echo.Result".into()),
                        key_fields: vec!["value".into()],
                        outputs: Some(out.clone()),
                        raw_response: Some(json!({"echoed": out})),
                        ..Default::default()
                    })
                    .into())
                }
                "fail" => Err(ConnectorError::Http {
                    status: 503,
                    message: "service unavailable".into(),
                }),
                "flaky" => {
                    if self.flaky.fetch_add(1, Ordering::SeqCst) < 2 {
                        Err(ConnectorError::Timeout("timed out".into()))
                    } else {
                        Ok(CommandResult::text("worked").into())
                    }
                }
                "leak" => Ok(CommandResult::text(format!("key is {}", self.apikey)).into()),
                other => Err(ConnectorError::UnknownCommand {
                    brand: "Echo".into(),
                    command: other.into(),
                }),
            }
        })
    }
    fn test_module(&self) -> BoxFuture<'_, Result<(), ConnectorError>> {
        Box::pin(async { Ok(()) })
    }
}

fn instance(name: &str, enabled: bool) -> InstanceSpec {
    let mut params = serde_json::Map::new();
    params.insert("apikey".into(), json!("k3y-s3cr3t"));
    InstanceSpec {
        name: name.into(),
        brand: "Echo".into(),
        enabled,
        params,
        simulated: false,
    }
}

fn engine(instances: Vec<InstanceSpec>) -> Engine {
    let engine = Engine::new(VirtualClock::fixed(), EngineOptions::default());
    let (item, diags) = parse_any(ECHO_YAML, "echo.yml");
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    engine.add_content(vec![item.expect("echo integration")]);
    engine.register_factory(Arc::new(EchoFactory {
        flaky: Arc::new(AtomicUsize::new(0)),
    }));
    engine.set_instances(instances);
    engine
}

fn render(inv: &Investigation) -> String {
    let mut out = String::new();
    for e in &inv.entries {
        let origin = if e.brand.is_empty() {
            e.user.to_string()
        } else {
            format!("{}/{}", e.brand, e.instance)
        };
        out.push_str(&format!(
            "[{}] type={} {} ({})\n",
            e.id,
            e.entry_type,
            origin,
            e.display_format()
        ));
        for line in e.display_text().lines() {
            out.push_str(&format!("    {line}\n"));
        }
    }
    out.push_str("context: ");
    out.push_str(&serde_json::to_string_pretty(&inv.context).unwrap_or_default());
    out.push('\n');
    out
}

fn run(engine: &Engine, lines: &[&str]) -> Investigation {
    let mut inv = Investigation::new("7", json!({"name": "Test incident", "severity": 2}));
    futures::executor::block_on(async {
        for l in lines {
            engine.execute_line(&mut inv, l).await;
        }
    });
    inv
}

fn check(name: &str, instances: Vec<InstanceSpec>, lines: &[&str]) -> Investigation {
    let engine = engine(instances);
    let inv = run(&engine, lines);
    insta::assert_snapshot!(name, render(&inv));
    inv
}

#[test]
fn set_then_print_with_dt() {
    let inv = check(
        "set_then_print_with_dt",
        vec![],
        &[
            r#"!Set key=Host value=`{"name": "ws-01", "ip": "10.0.0.5"}`"#,
            r#"!Print value="host is ${Host.name}""#,
        ],
    );
    assert_eq!(
        inv.context,
        json!({"Host": {"name": "ws-01", "ip": "10.0.0.5"}})
    );
    assert_eq!(inv.entries[3].display_text(), "host is ws-01");
}

#[test]
fn set_append_and_selectors() {
    let inv = check(
        "set_append_and_selectors",
        vec![],
        &[
            r#"!Set key="Data(val.ID == obj.ID)" value=`{"ID": "a", "Value": "v1"}` append=true"#,
            r#"!Set key="Data(val.ID == obj.ID)" value=`{"ID": "b", "Value": "v1"}` append=true"#,
            r#"!Set key="Data(val.ID == obj.ID)" value=`{"ID": "a", "Value": "v2"}` append=true"#,
            "!Set key=List value=one append=true",
            "!Set key=List value=two append=true",
            "!Set key=Raw value=`{\"a\": 1}` stringify=true",
        ],
    );
    assert_eq!(
        inv.context["Data"],
        json!([{"ID": "a", "Value": "v2"}, {"ID": "b", "Value": "v1"}])
    );
    assert_eq!(inv.context["List"], json!(["one", "two"]));
    assert_eq!(inv.context["Raw"], json!("{\"a\": 1}"));
}

/// `Set`, `SetAndHandleEmpty` and `Exists` declare their value `isArray: true`, as in XSOAR's
/// content: a list from a selector reaches them whole instead of running them once per element.
#[test]
fn list_values_reach_set_and_exists_whole() {
    let engine = engine(vec![]);
    let mut inv = Investigation::new("7", json!({}));
    inv.context = json!({"Src": ["a", "b", "c"], "Scores": [{"Score": 3}, {"Score": 1}]});
    futures::executor::block_on(async {
        for l in [
            "!Set key=Copy value=${Src}",
            "!SetAndHandleEmpty key=Kept value=${Scores}",
            "!Set Positional value=${Src}",
            "!Exists value=${Src}",
            "!Set key=Empty value=${Nothing}",
        ] {
            engine.execute_line(&mut inv, l).await;
        }
    });
    assert_eq!(inv.context["Copy"], json!(["a", "b", "c"]));
    assert_eq!(inv.context["Kept"], json!([{"Score": 3}, {"Score": 1}]));
    assert_eq!(inv.context["Positional"], json!(["a", "b", "c"]));
    // One echo and one result per line: Exists ran once, not once per element.
    assert_eq!(inv.entries.len(), 10);
    assert_eq!(inv.entries[7].display_text(), "yes");
    // `value` is required, as in XSOAR's Set: nothing to set is an error, not a silent no-op.
    assert_eq!(inv.entries[9].entry_type, 4);
    assert!(
        inv.entries[9].display_text().contains("value"),
        "{}",
        inv.entries[9].display_text()
    );
    assert!(inv.context.get("Empty").is_none());
}

/// An empty object is a value for `Set` and for `SetAndHandleEmpty` (JavaScript reads it as
/// true); `SetAndHandleEmpty` skips `0`, `false` and `""` ("value is None"), appends by
/// default, overwrites with `append=false`, sets every key of a list, and with `stringify`
/// stores JavaScript's `String()` of the value.
#[test]
fn set_stores_empty_objects_and_set_and_handle_empty_follows_its_script() {
    let engine = engine(vec![]);
    let mut inv = Investigation::new("7", json!({}));
    inv.context = json!({"EO": {}, "L": ["x", "y"]});
    futures::executor::block_on(async {
        for l in [
            "!Set key=Obj value=${EO}",
            "!SetAndHandleEmpty key=Kept value=${EO}",
            "!SetAndHandleEmpty key=Zero value=0",
            "!SetAndHandleEmpty key=No value=false",
            "!SetAndHandleEmpty key=Forced value=false force=true",
            "!SetAndHandleEmpty key=A value=a",
            "!SetAndHandleEmpty key=A value=b",
            "!SetAndHandleEmpty key=O value=a append=false",
            "!SetAndHandleEmpty key=O value=b append=false",
            "!SetAndHandleEmpty key=K1,K2 value=7",
            "!SetAndHandleEmpty key=Text value=${L} stringify=true",
        ] {
            engine.execute_line(&mut inv, l).await;
        }
    });
    let c = &inv.context;
    assert_eq!(c["Obj"], json!({}));
    assert_eq!(c["Kept"], json!({}));
    assert!(c.get("Zero").is_none() && c.get("No").is_none(), "{c}");
    assert_eq!(c["Forced"], json!(false));
    assert_eq!(c["A"], json!(["a", "b"]), "appended");
    assert_eq!(c["O"], json!("b"), "overwritten");
    assert_eq!((&c["K1"], &c["K2"]), (&json!(7), &json!(7)));
    assert_eq!(c["Text"], json!("x,y"));
    assert_eq!(inv.entries[1].display_text(), "Key Obj set");
    assert_eq!(inv.entries[5].display_text(), "value is None");
    // One entry per key.
    let k_entries: Vec<String> = inv
        .entries
        .iter()
        .map(|e| e.display_text())
        .filter(|t| t.starts_with("Key K") && t.len() == 10)
        .collect();
    assert_eq!(k_entries, ["Key K1 set", "Key K2 set"]);
}

/// `AreValuesEqual` compares JavaScript's text of each side and also sets `AreValuesEqual`;
/// `Exists` reads values as JavaScript does; `ParseJSON` takes `value` and gives a parse error
/// as its result instead of failing.
#[test]
fn condition_scripts_and_parse_json_follow_their_scripts() {
    let engine = engine(vec![]);
    let mut inv = Investigation::new("7", json!({}));
    inv.context = json!({"N": 1.0, "T": "1", "Z": 0, "E": {}});
    let last = |inv: &Investigation| {
        inv.entries
            .last()
            .map(|e| e.display_text())
            .unwrap_or_default()
    };
    let mut say = |line: &str| {
        futures::executor::block_on(engine.execute_line(&mut inv, line));
        (last(&inv), inv.context.get("AreValuesEqual").cloned())
    };
    assert_eq!(
        say("!AreValuesEqual left=${N} right=${T}"),
        ("yes".into(), Some(json!("yes")))
    );
    assert_eq!(
        say("!AreValuesEqual left=a right=b"),
        ("no".into(), Some(json!("no")))
    );
    assert_eq!(say("!Exists value=${Z}").0, "no");
    assert_eq!(say("!Exists value=${E}").0, "yes");
    assert_eq!(say("!Exists value=${Missing}").0, "no");
    let (text, _) = say(r#"!ParseJSON value=`{"a": 1}`"#);
    assert!(text.contains("\"a\""), "{text}");
    let (text, _) = say("!ParseJSON value=nope");
    assert!(text.starts_with("SyntaxError: "), "{text}");
    assert_eq!(
        inv.entries.last().map(|e| e.entry_type),
        Some(1),
        "not an error entry"
    );
}

#[test]
fn errors_are_entries_with_clear_messages() {
    let inv = check(
        "errors_are_entries",
        vec![instance("echo-1", true)],
        &[
            "!nosuch a=b",
            "!ehco x",
            "!echo",
            "!echo v mode=medium",
            "!echo v colour=red",
            "!echo a b",
            "!Print value=\"unterminated",
            "!Print value=${a.b",
            "!Print value=${Host(val.x ==)}",
            "!fail",
        ],
    );
    let errors = error_texts(&inv);
    assert_eq!(errors.len(), 10, "{errors:#?}");
    assert_eq!(errors[0], "Unsupported command or script: nosuch");
    assert!(errors[1].contains("did you mean 'echo'"), "{}", errors[1]);
    assert_eq!(
        errors[2],
        "Missing required argument 'value' for command 'echo'"
    );
    assert_eq!(
        errors[3],
        "Invalid value 'medium' for argument 'mode'. Allowed: fast, slow"
    );
    assert!(errors[4].starts_with("Unknown argument 'colour' for command 'echo'"));
    assert!(errors[5].contains("takes one positional value"));
    assert!(errors[6].starts_with("Invalid command line: column 14: unterminated double quote"));
    assert!(errors[7].contains("unbalanced '${'"));
    assert!(errors[8].contains("Host(val.x ==)"), "{}", errors[8]);
    assert_eq!(errors[9], "service unavailable");
}

#[test]
fn positional_defaults_and_outputs() {
    let inv = check(
        "positional_defaults_and_outputs",
        vec![instance("echo-1", true)],
        &["!echo hello", "!echo hello mode=slow", "!echo world"],
    );
    assert_eq!(
        inv.context["Echo"]["Result"],
        json!([
            {"instance": "echo-1", "value": "hello", "mode": "slow"},
            {"instance": "echo-1", "value": "world", "mode": "fast"}
        ])
    );
}

#[test]
fn special_arguments() {
    let inv = check(
        "special_arguments",
        vec![
            instance("echo-1", true),
            instance("echo-2", true),
            instance("off", false),
        ],
        &[
            "!echo a using=echo-2",
            "!echo b using=off",
            "!echo c using=nope",
            "!echo d raw-response=true using=echo-1",
            "!echo e ignore-outputs=true extend-context=Copied=echoed.value using=echo-1",
            "!echo f using-brand=Echo",
        ],
    );
    assert_eq!(inv.context["Copied"], json!("e"));
    let values: Vec<&str> = inv.context["Echo"]["Result"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["value"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        values,
        ["a", "d", "f"],
        "f ran on both instances and merged by key field"
    );
}

#[test]
fn retries_and_debug_log() {
    let engine = engine(vec![instance("echo-1", true)]);
    let inv = run(
        &engine,
        &[
            "!flaky retry-count=1",
            "!flaky retry-count=2 retry-interval=5",
            "!echo x debug-mode=true",
        ],
    );
    let errors: Vec<_> = inv.entries.iter().filter(|e| e.is_error()).collect();
    assert_eq!(errors.len(), 1, "the first call gives up after one retry");
    assert_eq!(inv.entries[3].display_text(), "worked");
    let debug = inv
        .entries
        .iter()
        .find(|e| e.entry_type == 16)
        .expect("debug log entry");
    assert_eq!(debug.file, "echo-debug.log");
    // The line as typed, the flag once (demisto-sdk's `-D` sends `debug-mode="true"` itself).
    assert_eq!(debug.parent_content, "!echo x debug-mode=true");
    let log = String::from_utf8(inv.files[debug.file_id.as_str()].clone()).unwrap_or_default();
    assert!(
        log.starts_with("Executed: echo\nInstance echo-1\n"),
        "{log}"
    );
    // A secret argument is masked in the log's arguments, as in the echoed line.
    let inv = run(&engine, &["!echo x token=hunter2 debug-mode=true"]);
    let debug = inv
        .entries
        .iter()
        .find(|e| e.entry_type == 16)
        .expect("debug log entry");
    let secret_log =
        String::from_utf8(inv.files[debug.file_id.as_str()].clone()).unwrap_or_default();
    let arguments = secret_log
        .lines()
        .find(|l| l.starts_with("Arguments "))
        .unwrap_or_default();
    assert!(arguments.contains(r#""token":"******""#), "{secret_log}");
    assert!(log.contains("Context Outputs:\n{\n  \"Echo.Result(val.value \\u0026\\u0026 val.value == obj.value)\""), "{log}");
    assert!(
        log.contains("\nRaw Response section:\n{\"echoed\":"),
        "{log}"
    );
}

#[test]
fn secrets_never_reach_entries() {
    let inv = check(
        "secrets_never_reach_entries",
        vec![instance("echo-1", true)],
        &["!leak", "!echo v token=hunter2"],
    );
    let all = serde_json::to_string(&inv.entries).unwrap_or_default();
    assert!(!all.contains("k3y-s3cr3t"), "instance secret leaked: {all}");
    assert!(inv.entries[2]
        .contents
        .as_str()
        .unwrap_or_default()
        .contains("token=******"));
}

/// A line that does not parse is echoed with its secret arguments masked all the same: up to
/// the closing quote, to the end of the line when the quote is not closed, a bare value to the
/// next space.
#[test]
fn secrets_are_masked_in_lines_that_do_not_parse() {
    let engine = engine(vec![instance("echo-1", true)]);
    let lines = [
        (r#"!echo v token="hunter2"#, r#"!echo v token=******"#),
        (
            r#"!echo v token="hun\"ter2" mode=${x"#,
            r#"!echo v token=****** mode=${x"#,
        ),
        (
            r#"!echo v mytoken=a token=hunter2 "x"#,
            r#"!echo v mytoken=a token=****** "x"#,
        ),
        ("!echo v token=`hunter2", "!echo v token=******"),
    ];
    for (line, shown) in lines {
        let inv = run(&engine, &[line]);
        let all = serde_json::to_string(&inv.entries).unwrap_or_default();
        assert!(!all.contains("hunter2") && !all.contains("ter2"), "{all}");
        assert_eq!(inv.entries[0].display_text(), shown);
        assert_eq!(inv.entries[1].entry_type, 4, "{all}");
        assert!(all.contains("Invalid command line"), "{all}");
    }
}

/// Words after a value with spaces that was not quoted are an error, not silently dropped.
#[test]
fn unquoted_spaces_after_the_default_argument_are_an_error() {
    let engine = engine(vec![]);
    let inv = run(
        &engine,
        &[
            "!Set key=a value=hello world",
            "!Print value=x trailing",
            "!Print value=\"a\"b",
        ],
    );
    assert!(inv.context.get("a").is_none(), "{}", inv.context);
    let errors: Vec<String> = inv
        .entries
        .iter()
        .filter(|e| e.entry_type == 4)
        .map(|e| e.display_text())
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[0].contains("Command 'Set': the value 'world' has no argument name, and the default argument 'key' is already given by name"),
        "{errors:?}"
    );
    assert!(
        errors[1].contains("'trailing'") && errors[2].contains("'b'"),
        "{errors:?}"
    );
}

/// Keys `Set` cannot write are refused before anything is written: the existing data stays and
/// there is one error entry, no success note.
#[test]
fn set_refuses_keys_it_cannot_write() {
    let engine = engine(vec![]);
    let inv = run(
        &engine,
        &[
            "!Set key=L value=`[1,2,3]`",
            "!Set key=\"L.[1]\" value=9",
            "!Set key=\"Data(val.ID == obj.ID)\" value=`{\"ID\": \"a\"}`",
            "!Set key=\"X(val.a==\" value=1 append=true",
        ],
    );
    assert_eq!(inv.context, json!({"L": [1, 2, 3]}));
    let results: Vec<(u8, String)> = inv
        .entries
        .iter()
        .filter(|e| e.category.as_str() != "chat")
        .map(|e| (e.entry_type as u8, e.display_text()))
        .collect();
    assert_eq!(results.len(), 4, "{results:?}");
    assert!(results[1..].iter().all(|(t, _)| *t == 4), "{results:?}");
    assert!(
        results[1].1.contains("list index [1] cannot be set"),
        "{results:?}"
    );
    assert!(results[2].1.contains("needs append=true"), "{results:?}");
    assert!(results[3].1.contains("without matching ')'"), "{results:?}");
}

/// `Sleep` waits `parseInt(seconds)` as Sleep.js does: `1.5` is one second, `2s` two; text
/// without leading digits is refused by name. On the virtual clock: no real wait.
#[test]
fn sleep_reads_whole_seconds_as_its_script() {
    let engine = engine(vec![]);
    let inv = run(
        &engine,
        &[
            "!Sleep seconds=1.5",
            "!Sleep seconds=2s",
            "!Sleep seconds=soon",
        ],
    );
    let texts: Vec<String> = inv
        .entries
        .iter()
        .filter(|e| e.category.as_str() != "chat")
        .map(|e| e.display_text())
        .collect();
    assert_eq!(texts[0], "Slept for 1 seconds");
    assert_eq!(texts[1], "Slept for 2 seconds");
    assert!(
        texts[2].contains("seconds") && texts[2].contains("'soon' is not a number of seconds"),
        "{texts:?}"
    );
}

/// `execution-timeout=` stops the Sleep builtin at the limit (on the virtual clock: no real
/// wait), and a timeout of zero or an absurd one is refused by name.
#[test]
fn execution_timeout_stops_sleep_and_bad_timeouts_are_refused() {
    let engine = engine(vec![]);
    let inv = run(
        &engine,
        &[
            "!Sleep seconds=3 execution-timeout=1",
            "!Sleep seconds=1 execution-timeout=2",
            "!Print value=x execution-timeout=0",
            "!Print value=x execution-timeout=99999999999",
        ],
    );
    let results: Vec<(String, String)> = inv
        .entries
        .iter()
        .filter(|e| e.category.as_str() != "chat")
        .map(|e| (e.entry_type.to_string(), e.display_text()))
        .collect();
    assert_eq!(results.len(), 4, "{results:?}");
    assert_eq!(results[0].0, "4", "{results:?}");
    assert!(
        results[0]
            .1
            .contains("stopped at the execution timeout of 1 seconds"),
        "{results:?}"
    );
    assert_eq!(
        results[1],
        ("1".to_owned(), "Slept for 1 seconds".to_owned())
    );
    assert!(
        results[2].1.contains("must be above 0 seconds"),
        "{results:?}"
    );
    assert!(
        results[3].1.contains("at most 999999999 seconds"),
        "{results:?}"
    );
}

/// `DeleteContext` answers as DeleteContext.js: an index past the end of the list or not a
/// number is an error entry and deletes nothing, a missing key a note; several keys at once;
/// no key at all is an error entry.
#[test]
fn delete_context_answers_as_its_script() {
    let engine = engine(vec![]);
    let inv = run(
        &engine,
        &[
            "!Set key=L value=`[1,2,3]`",
            "!DeleteContext key=L index=5",
            "!DeleteContext key=L index=x",
            "!DeleteContext key=Nope index=0",
            "!DeleteContext key=L index=1",
            "!Set key=A value=1",
            "!Set key=B value=2",
            r#"!DeleteContext key="A,Missing, B""#,
            "!DeleteContext",
        ],
    );
    assert_eq!(inv.context, json!({"L": [1, 3]}));
    let said = |n: usize| (inv.entries[n].entry_type, inv.entries[n].display_text());
    assert_eq!(said(3), (4, "Index out of range 5".to_owned()));
    assert_eq!(said(5), (4, "Invalid index x".to_owned()));
    assert_eq!(said(7), (1, "Key [Nope] was not found.".to_owned()));
    assert_eq!(
        said(9),
        (1, "Successfully deleted index 1 from key L".to_owned())
    );
    assert_eq!(
        said(15),
        (
            1,
            "Successfully deleted keys 'A', 'B' from context.".to_owned()
        )
    );
    assert_eq!(said(17), (4, "You must specify key or all=yes".to_owned()));
}

/// A command's outputs never replace a stored value that stands where an object must be: the
/// entry is written, the context kept, and an error entry says why.
#[test]
fn outputs_never_replace_what_is_stored_on_their_path() {
    let engine = engine(vec![instance("echo-1", true)]);
    let mut inv = Investigation::new("7", json!({}));
    inv.context = json!({"Echo": [{"Result": {"value": "old"}}, 5]});
    futures::executor::block_on(engine.execute_line(&mut inv, "!echo new"));
    assert_eq!(
        inv.context,
        json!({"Echo": [{"Result": {"value": "old"}}, 5]})
    );
    let error = inv
        .entries
        .iter()
        .find(|e| e.entry_type == 4)
        .map(|e| e.display_text());
    assert_eq!(
        error.as_deref(),
        Some("Could not write context key 'Echo.Result(val.value && val.value == obj.value)': 'Echo' holds a list whose last item is not an object; writing under it would replace what is stored")
    );
}

#[test]
fn auto_iteration_over_list_values() {
    let inv = check(
        "auto_iteration",
        vec![instance("echo-1", true)],
        &[
            r#"!Set key=Hosts value=`["h1", "h2", "h3"]`"#,
            "!echo ${Hosts} tags=${Hosts}",
        ],
    );
    assert_eq!(
        inv.context["Echo"]["Result"].as_array().map(Vec::len),
        Some(3)
    );
    assert_eq!(
        inv.context["Echo"]["Result"][2]["tags"],
        json!(["h1", "h2", "h3"])
    );
}

#[test]
fn context_and_incident_builtins() {
    let inv = check(
        "context_and_incident_builtins",
        vec![],
        &[
            "!Set key=A.B value=1",
            "!Set key=C value=`[1, 2, 3]`",
            "!DeleteContext key=C index=1",
            "!SetAndHandleEmpty key=Empty value=${nothing}",
            "!SetAndHandleEmpty key=Forced value=${nothing} force=true",
            "!setIncident severity=high owner=bob hostname=db1",
            "!Print value=\"${incident.severity} ${incident.owner} ${incident.hostname}\"",
            "!DeleteContext key=A.B",
            "!PrintErrorEntry message=boom",
            "!closeInvestigation closeReason=Resolved closeNotes=done",
            "just a note",
        ],
    );
    assert_eq!(inv.context, json!({"A": {}, "C": [1, 3], "Forced": ""}));
    assert_eq!(inv.incident["severity"], json!(3));
    assert_eq!(inv.incident["CustomFields"]["hostname"], json!("db1"));
    assert_eq!(inv.incident["status"], json!(2));
    assert_eq!(inv.incident["closeReason"], json!("Resolved"));
}

#[test]
fn delete_all_keeps_listed_keys() {
    let engine = engine(vec![]);
    let inv = run(
        &engine,
        &[
            "!Set key=URL value=`{\"Data\": \"x\", \"Other\": 1}`",
            "!Set key=B value=2",
            "!DeleteContext all=yes keysToKeep=URL.Data",
        ],
    );
    assert_eq!(inv.context, json!({"URL": {"Data": "x"}}));
}

/// A hook that fails its first call and answers afterwards, and records real executions.
#[derive(Debug, Default)]
struct FlakyHook {
    calls: AtomicUsize,
    recorded: std::sync::Mutex<Vec<String>>,
}

impl xsoar_engine::CommandHook for FlakyHook {
    fn intercept<'a>(
        &'a self,
        call: &'a xsoar_engine::HookCall<'a>,
    ) -> BoxFuture<'a, Option<Result<CommandOutput, ConnectorError>>> {
        Box::pin(async move {
            if call.command != "echo" {
                return None;
            }
            if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
                return Some(Err(ConnectorError::Http {
                    status: 429,
                    message: "mocked 429".into(),
                }));
            }
            Some(Ok(CommandResult::text(format!(
                "mocked {}",
                call.args["value"]
            ))
            .into()))
        })
    }
    fn record(&self, call: &xsoar_engine::HookCall<'_>, _output: &[CommandResult]) {
        if let Ok(mut r) = self.recorded.lock() {
            r.push(format!("{}:{}", call.instance.unwrap_or("-"), call.command));
        }
    }
}

#[test]
fn hooks_mock_commands_with_retries_and_see_real_runs() {
    let engine = engine(vec![instance("echo-1", true)]);
    let hook = Arc::new(FlakyHook::default());
    engine.set_hook(Some(hook.clone()));
    let inv = run(
        &engine,
        &["!echo a retry-count=2", "!leak", "!Set key=K value=v"],
    );
    assert_eq!(
        inv.entries[1].display_text(),
        "mocked \"a\"",
        "the 429 was retried"
    );
    assert_eq!(inv.entries[1].instance, "mock");
    assert_eq!(hook.calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        hook.recorded.lock().map(|r| r.clone()).unwrap_or_default(),
        ["echo-1:leak"],
        "builtins are never offered to the hook"
    );
    assert_eq!(inv.context["K"], json!("v"));
}

/// Instance listings never show a secret: declared secret parameters, a secret pasted inside
/// another parameter, parameters the integration does not declare, and every parameter of an
/// instance whose integration is not loaded (a brand typo) are masked.
#[test]
fn instance_listings_mask_every_possible_secret() {
    let mut pasted = instance("echo-1", true);
    pasted
        .params
        .insert("url".into(), json!("https://echo.invalid/hook/k3y-s3cr3t"));
    pasted.params.insert("password".into(), json!("hunter2"));
    pasted.params.insert("verbose".into(), json!(true));
    let mut typo = instance("typo", true);
    typo.brand = "Ehco".into();
    typo.params
        .insert("token".into(), json!({"password": "t0k3n"}));
    typo.params.insert("retries".into(), json!(3));
    let engine = engine(vec![pasted, typo]);
    let infos = engine.instances();
    let shown = serde_json::to_string(&infos).expect("json");
    for secret in ["k3y-s3cr3t", "hunter2", "t0k3n"] {
        assert!(!shown.contains(secret), "{secret} shown in {shown}");
    }
    assert_eq!(infos[0].params["apikey"], json!("******"));
    assert_eq!(
        infos[0].params["url"],
        json!("https://echo.invalid/hook/******")
    );
    assert_eq!(infos[0].params["password"], json!("******"));
    assert_eq!(infos[0].params["verbose"], json!(true));
    assert_eq!(infos[1].params["token"], json!("******"));
    assert_eq!(infos[1].params["retries"], json!(3));
    assert!(
        infos[1]
            .problem
            .as_deref()
            .is_some_and(|p| p.contains("no integration named 'Ehco'")),
        "{:?}",
        infos[1].problem
    );
}

#[test]
fn print_context_in_its_three_formats() {
    let inv = check(
        "print_context_in_its_three_formats",
        vec![],
        &[
            "!PrintContext",
            r#"!Set key=Host value=`{"name": "ws-01", "tags": ["a", "b"]}`"#,
            "!Set key=Note value=café",
            "!PrintContext",
            "!PrintContext outputformat=table",
            "!PrintContext json",
        ],
    );
    let entries = &inv.entries;
    assert_eq!(entries[1].contents, json!("Context empty."));
    // Python's json.dumps(context, indent=4): ASCII only, four spaces.
    assert_eq!(
        entries[7].contents,
        json!("**Context data**:\n```\n{\n    \"Host\": {\n        \"name\": \"ws-01\",\n        \"tags\": [\n            \"a\",\n            \"b\"\n        ]\n    },\n    \"Note\": \"caf\\u00e9\"\n}\n```")
    );
    assert_eq!(entries[9].format, "table");
    assert_eq!(
        entries[9].contents,
        json!([{"Context key": "Host", "Value": "name: ws-01\ntags: a,\nb"},
               {"Context key": "Note", "Value": "café"}])
    );
    assert_eq!(entries[9].display_format(), "markdown");
    assert_eq!(entries[11].format, "json");
    assert_eq!(entries[11].contents, inv.context);
}

#[test]
fn set_incident_reads_dates_as_the_rest_api_does_and_refuses_what_is_not_a_time() {
    let engine = engine(vec![]);
    let inv = run(
        &engine,
        &[
            "!setIncident occurred=1764399600 dueDate=2025-12-01T09:00:00Z",
            "!setIncident occurred=yesterday owner=bob",
        ],
    );
    assert_eq!(inv.incident["occurred"], json!("2025-11-29T07:00:00Z"));
    assert_eq!(inv.incident["dueDate"], json!("2025-12-01T09:00:00Z"));
    // The refused call changed nothing, not even its valid arguments.
    assert_ne!(inv.incident.get("owner"), Some(&json!("bob")));
    let error = inv.entries.last().expect("an error entry");
    assert!(error.is_error());
    let text = error.display_text();
    assert!(
        text.contains("occurred") && text.contains("'yesterday' is not a time"),
        "{text}"
    );
}

#[test]
fn using_brand_and_category_that_match_no_instance_say_so() {
    let engine = engine(vec![instance("echo-1", true)]);
    let inv = run(
        &engine,
        &[
            "!echo a using-brand=Foo",
            "!echo b using-category=Messaging",
            "!echo c using-brand=Echo using-category=Utilities",
        ],
    );
    let errors = error_texts(&inv);
    assert_eq!(
        errors,
        [
            "No enabled integration instance of brand 'Foo' implements 'echo'; it runs on 'echo-1' (Echo, category 'Utilities') (drop using-brand/using-category or change it)",
            "No enabled integration instance in category 'Messaging' implements 'echo'; it runs on 'echo-1' (Echo, category 'Utilities') (drop using-brand/using-category or change it)",
        ]
    );
    assert_eq!(inv.context["Echo"]["Result"]["value"], json!("c"));
}

/// The text of every error entry of `inv`, in order.
fn error_texts(inv: &Investigation) -> Vec<String> {
    inv.entries
        .iter()
        .filter(|e| e.is_error())
        .map(|e| e.display_text())
        .collect()
}

/// `CheckContextValue` / `CheckFieldValue`, GenericPolling's usual polling commands: whether a
/// context key or incident field holds data (optionally text matching a regex), written under
/// `CheckContextKey` / `CheckFieldValue` keyed on the name, so repeated polls update one item.
#[test]
fn check_context_and_field_value_answer_like_the_polling_scripts() {
    let engine = engine(vec![]);
    let mut inv = Investigation::new(
        "7",
        json!({"name": "Test incident", "severity": 2, "CustomFields": {"ticketid": "T-42"}}),
    );
    let outcome = |inv: &mut Investigation, line: &str| {
        futures::executor::block_on(engine.execute_line(inv, line))
    };
    let last_text = |inv: &Investigation| {
        inv.entries
            .last()
            .map(|e| e.display_text())
            .unwrap_or_default()
    };

    outcome(&mut inv, "!CheckContextValue key=Job.Status");
    assert_eq!(last_text(&inv), "The key does not exist.");
    assert_eq!(
        inv.context["CheckContextKey"],
        json!({"key": "Job.Status", "exists": false})
    );
    outcome(&mut inv, "!Set key=Job.Status value=Done");
    outcome(&mut inv, "!CheckContextValue key=Job.Status regex=^done$");
    assert_eq!(last_text(&inv), "The key does not exist.", "case matters");
    outcome(
        &mut inv,
        "!CheckContextValue key=Job.Status regex=^done$ ignore_case=True",
    );
    assert_eq!(last_text(&inv), "The key exists.");
    // Keyed on `key`: the poll updated the one item instead of adding another.
    assert_eq!(
        inv.context["CheckContextKey"],
        json!({"key": "Job.Status", "exists": true})
    );
    outcome(&mut inv, "!CheckContextValue key=Other");
    assert_eq!(
        inv.context["CheckContextKey"],
        json!([{"key": "Job.Status", "exists": true}, {"key": "Other", "exists": false}])
    );

    // Empty values are not data (a text "0" is: only a number 0 would not be).
    outcome(&mut inv, "!Set key=Empty value=[]");
    outcome(&mut inv, "!CheckContextValue key=Empty");
    assert_eq!(last_text(&inv), "The key does not exist.");

    // Errors name what is wrong.
    let r = outcome(&mut inv, "!CheckContextValue key=Job regex=done");
    assert_eq!(r.status, xsoar_engine::InvokeStatus::Error);
    assert!(
        last_text(&inv).contains("the value is an object, not text"),
        "{}",
        last_text(&inv)
    );
    let r = outcome(&mut inv, "!CheckContextValue key=Job.Status regex=(");
    assert_eq!(r.status, xsoar_engine::InvokeStatus::Error);
    assert!(
        last_text(&inv).contains("regex") && last_text(&inv).contains("'('"),
        "{}",
        last_text(&inv)
    );
    let r = outcome(&mut inv, "!CheckContextValue");
    assert_eq!(r.status, xsoar_engine::InvokeStatus::Error);
    assert!(last_text(&inv).contains("key"), "{}", last_text(&inv));

    // Incident fields, custom fields included.
    outcome(&mut inv, "!CheckFieldValue field=ticketid regex=^T-\\d+$");
    assert_eq!(last_text(&inv), "The field exists.");
    outcome(&mut inv, "!CheckFieldValue field=closenotes");
    assert_eq!(last_text(&inv), "The field does not exist.");
    assert_eq!(
        inv.context["CheckFieldValue"],
        json!([{"field": "ticketid", "exists": true}, {"field": "closenotes", "exists": false}])
    );
}

/// `Set` stores what `Set.js` stores: numeric text as a number (`BigInt` for whole numbers,
/// so `1e3` stays text), other JSON text parsed; `SetAndHandleEmpty` what `json.loads` reads.
#[test]
fn set_parses_values_as_the_scripts_do() {
    let engine = engine(vec![]);
    let inv = run(
        &engine,
        &[
            "!Set key=int value=007",
            "!Set key=neg value=-5",
            "!Set key=dec value=1.5",
            "!Set key=exp value=1e3",
            "!Set key=hex value=0x10",
            "!Set key=huge value=123456789012345678901234567890",
            "!Set key=yes value=true",
            r#"!Set key=quoted value='"x"'"#,
            "!Set key=word value=abc",
            "!Set key=kept value=1 stringify=true",
            "!SetAndHandleEmpty key=h_exp value=1e3",
            "!SetAndHandleEmpty key=h_hex value=0x10",
            "!SetAndHandleEmpty key=h_int value=42",
        ],
    );
    let c = &inv.context;
    assert_eq!(c["int"], json!(7));
    assert_eq!(c["neg"], json!(-5));
    assert_eq!(c["dec"], json!(1.5));
    assert_eq!(c["exp"], json!("1e3"), "BigInt refuses an exponent");
    assert_eq!(c["hex"], json!(16));
    assert_eq!(c["huge"], json!("123456789012345678901234567890"));
    assert_eq!(c["yes"], json!(true));
    assert_eq!(c["quoted"], json!("x"));
    assert_eq!(c["word"], json!("abc"));
    assert_eq!(c["kept"], json!("1"));
    assert_eq!(c["h_exp"], json!(1000.0));
    assert_eq!(c["h_hex"], json!("0x10"));
    assert_eq!(c["h_int"], json!(42));
}

/// `setIncident sla= slaField=` sets a timer field's SLA (minutes from its start, pauses
/// added, or a due date) and its status; without `slaField` the incident's due date; a value
/// that is neither minutes nor a date is refused, naming `sla`.
#[test]
fn set_incident_sets_the_sla_of_a_timer_field() {
    let engine = engine(vec![]);
    // The engine's clock reads 2025-01-01T00:00:00Z.
    let mut inv = Investigation::new(
        "7",
        json!({"remediationsla": {"runStatus": "running", "startDate": "2024-12-31T23:00:00Z",
            "accumulatedPause": 60, "sla": 0, "slaStatus": -1}}),
    );
    let mut run = |line: &str| futures::executor::block_on(engine.execute_line(&mut inv, line));
    assert_eq!(
        run("!setIncident sla=30 slaField=remediationsla").status,
        xsoar_engine::InvokeStatus::Ok
    );
    run("!setIncident sla=2025-01-01T02:00:00Z slaField=timetoassignment");
    run("!setIncident sla=45");
    let bad = run("!setIncident sla=soon slaField=remediationsla");
    assert_eq!(bad.status, xsoar_engine::InvokeStatus::Error);
    let missing = run("!setIncident slaField=remediationsla");
    assert_eq!(missing.status, xsoar_engine::InvokeStatus::Error);
    let t = &inv.incident["remediationsla"];
    assert_eq!(t["sla"], json!(30));
    assert_eq!(
        t["dueDate"],
        json!("2024-12-31T23:31:00Z"),
        "start + 30 min + the pause"
    );
    assert_eq!(
        t["slaStatus"],
        json!(1),
        "late: the clock is past the due date"
    );
    assert_eq!(t["runStatus"], json!("running"), "the timer keeps running");
    let idle = &inv.incident["timetoassignment"];
    assert_eq!(idle["dueDate"], json!("2025-01-01T02:00:00Z"));
    assert_eq!(
        idle["sla"],
        json!(120),
        "minutes from now for a timer not started"
    );
    assert_eq!(idle["slaStatus"], json!(-1));
    assert_eq!(inv.incident["dueDate"], json!("2025-01-01T00:45:00Z"));
    let texts: Vec<String> = inv.entries.iter().map(|e| e.display_text()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("sla")
                && t.contains("'soon' is neither a number of minutes nor a date")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t == "Incident updated: remediationsla SLA"),
        "{texts:?}"
    );
}
