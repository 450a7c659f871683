//! Normalisation rules (§9.1, §10): each fixture under `tests/data/normalise/` exercises one
//! rule and is checked against the exact model values.

use xsoar_content::{
    parse_any, parse_integration, parse_playbook, parse_script, ArgValue, Complex, ContentItem,
    Diagnostic, Integration, Operand, Playbook, Script, Task, TaskTarget, TaskType, TimerAction,
    TimerTrigger,
};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/data/normalise/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn render(diags: &[Diagnostic]) -> Vec<String> {
    diags.iter().map(ToString::to_string).collect()
}

/// Load a playbook fixture that must produce no diagnostics at all.
fn clean_playbook(name: &str) -> Playbook {
    let (p, diags) = parse_playbook(&fixture(name), name);
    assert_eq!(render(&diags), Vec::<String>::new(), "{name}");
    p.unwrap_or_else(|| panic!("{name}: no playbook"))
}

fn clean_integration(name: &str) -> Integration {
    let (i, diags) = parse_integration(&fixture(name), name);
    assert_eq!(render(&diags), Vec::<String>::new(), "{name}");
    i.unwrap_or_else(|| panic!("{name}: no integration"))
}

fn task<'a>(p: &'a Playbook, id: &str) -> &'a Task {
    p.tasks
        .get(id)
        .unwrap_or_else(|| panic!("no task {id:?} in {:?}", p.tasks.keys().collect::<Vec<_>>()))
}

fn simple(s: &str) -> ArgValue {
    ArgValue::Simple(s.to_owned())
}

#[test]
fn integer_task_keys_and_ids_become_strings() {
    let p = clean_playbook("int_keys.yml");
    assert_eq!(p.start_task_id, "0");
    assert_eq!(p.tasks.keys().collect::<Vec<_>>(), ["0", "1", "2"]);
    assert_eq!(
        task(&p, "0").next_for("#none#"),
        Some(&["1".to_owned(), "2".to_owned()][..])
    );
    assert_eq!(
        task(&p, "1").next_for("#none#"),
        Some(&["2".to_owned()][..])
    );
    assert_eq!(task(&p, "1").id, "1");
}

#[test]
fn labels_are_kept_as_written_and_matched_case_insensitively() {
    let p = clean_playbook("labels.yml");
    let t = task(&p, "1");
    assert_eq!(
        t.next_tasks.keys().collect::<Vec<_>>(),
        ["yes", "true", "#default#", "false"]
    );
    assert_eq!(
        t.conditions
            .iter()
            .map(|b| b.label.as_str())
            .collect::<Vec<_>>(),
        ["Yes", "true"]
    );
    assert!(t.next_for("YES").is_some());
    assert!(t.next_for("True").is_some());
    assert!(t.next_for("no").is_none());
    // A group written as a lone atom is a one-atom group.
    assert_eq!(t.conditions[1].condition.len(), 1);
    assert_eq!(t.conditions[1].condition[0][0].operator, "isFalse");
}

#[test]
fn simple_scalars_keep_their_source_text() {
    let p = clean_playbook("simple_scalars.yml");
    let args = &task(&p, "1").script_arguments;
    let got: Vec<(&str, &ArgValue)> = args.iter().map(|(k, v)| (k.as_str(), v)).collect();
    assert_eq!(
        got,
        [
            ("int", &simple("1")),
            ("float", &simple("1.50")),
            ("bool", &simple("true")),
            ("capital_bool", &simple("True")),
            ("yes_word", &simple("yes")),
            ("hex", &simple("0x1F")),
            ("empty", &simple("")),
            ("null_simple", &simple("")),
            ("text", &simple("${incident.id}")),
        ]
    );
}

#[test]
fn booleans_and_defaults_of_integrations() {
    let i = clean_integration("flags.yml");
    assert!(i.is_fetch);
    let p = |n: &str| {
        i.params
            .iter()
            .find(|p| p.name == n)
            .unwrap_or_else(|| panic!("param {n}"))
    };
    assert!(p("url").required);
    assert_eq!(p("url").default_value, Some(serde_json::json!("10")));
    assert_eq!(p("insecure").default_value, Some(serde_json::json!(true)));
    assert_eq!(p("proxy").default_value, Some(serde_json::json!(false)));
    assert!(p("creds").hidden_username);
    assert!(p("creds").is_secret());
    assert_eq!(p("creds").display_password.as_deref(), Some("API key"));
    assert_eq!(p("mode").options, ["a", "b", "3"]);
    assert_eq!(p("mode").default_value, Some(serde_json::json!(["a", "3"])));
    assert!(p("hidden_for_xsoar").hidden);
    assert!(!p("hidden_elsewhere").hidden);
    assert_eq!(p("version").default_value, Some(serde_json::json!("6.10")));

    let c = i
        .command("flags-cmd")
        .unwrap_or_else(|| panic!("no command"));
    assert_eq!(c.timeout, Some(30));
    let a = c.argument("a").unwrap_or_else(|| panic!("no a"));
    assert!(a.required && !a.is_array && a.default && a.secret);
    assert_eq!(a.default_value, None);
    assert_eq!(c.default_argument().map(|a| a.name.as_str()), Some("a"));
    let b = c.argument("b").unwrap_or_else(|| panic!("no b"));
    assert_eq!(b.predefined, ["true", "false", "1.0"]);
    assert_eq!(b.default_value.as_deref(), Some("1.0"));
    assert_eq!(b.auto.as_deref(), Some("PREDEFINED"));
    let c = c.argument("c").unwrap_or_else(|| panic!("no c"));
    assert!(c.is_array && !c.hidden && !c.required);
    assert_eq!(c.default_value.as_deref(), Some("65"));
}

#[test]
fn outputs_accept_the_content_path_misspelling() {
    let i = clean_integration("flags.yml");
    let outs = &i.commands[0].outputs;
    assert_eq!(
        outs.iter()
            .map(|o| o.context_path.as_str())
            .collect::<Vec<_>>(),
        ["Flags.A", "Flags.B"]
    );
    assert_eq!(outs[1].output_type.as_deref(), Some("unknown"));
}

#[test]
fn empty_arguments_are_not_supplied() {
    let p = clean_playbook("empty_args.yml");
    assert!(task(&p, "1").script_arguments.is_empty());
    let set = &task(&p, "2").script_arguments;
    assert_eq!(set.keys().collect::<Vec<_>>(), ["key", "value"]);
    let Some(ArgValue::Complex(Complex {
        root,
        transformers,
        accessor,
        filters,
    })) = set.get("value")
    else {
        panic!("value is not complex: {set:?}")
    };
    assert_eq!(
        (root.as_str(), accessor, filters.len()),
        ("inputs.Hosts", &None, 0)
    );
    assert_eq!(
        transformers
            .iter()
            .map(|t| t.operator.as_str())
            .collect::<Vec<_>>(),
        ["join", "uniq"]
    );
    assert_eq!(
        transformers[0].args.get("separator"),
        Some(&Operand {
            value: Some(simple(",")),
            is_context: false
        })
    );
    assert_eq!(
        transformers[0].args.get("unused"),
        Some(&Operand {
            value: None,
            is_context: false
        })
    );
}

#[test]
fn operands_with_empty_values_and_braced_context_paths() {
    let p = clean_playbook("empty_args.yml");
    let group = &task(&p, "1").conditions[0].condition[0];
    assert_eq!(group.len(), 2);
    // `iscontext: true` with `${...}` is kept as written; the evaluator strips it.
    assert_eq!(
        group[0].left,
        Operand {
            value: Some(simple("${Endpoint.ID}")),
            is_context: true
        }
    );
    assert_eq!(
        group[0].right,
        Some(Operand {
            value: None,
            is_context: false
        })
    );
    assert_eq!(group[1].right, None);
}

#[test]
fn view_positions_from_json_strings_or_mappings() {
    let p = clean_playbook("view.yml");
    let pos: Vec<Option<(f64, f64)>> = p.tasks.values().map(|t| t.position).collect();
    assert_eq!(pos, [Some((265.0, 50.0)), Some((10.5, -3.0)), None, None]);
}

#[test]
fn loop_blocks() {
    let p = clean_playbook("loop.yml");
    let l = |id: &str| {
        task(&p, id)
            .loop_settings
            .clone()
            .unwrap_or_else(|| panic!("task {id} has no loop"))
    };
    let default = l("1");
    assert!(!default.loops());
    assert_eq!(
        (
            default.max,
            default.wait,
            &default.exit_condition,
            &default.script_id
        ),
        (100, 1.0, &None, &None)
    );
    let old = l("2");
    assert_eq!(old.max, 0);
    assert!(!old.loops());
    let each = l("3");
    assert!(each.loops() && each.for_each);
    assert_eq!((each.max, each.wait), (20, 2.5));
    let until = l("4");
    assert!(until.loops() && !until.for_each);
    assert_eq!(until.builtin_condition.len(), 1);
    assert!(until.builtin_condition[0][0].ignore_case);
    assert_eq!(until.script_arguments.keys().collect::<Vec<_>>(), ["a"]);
    assert_eq!(task(&p, "2").target(), TaskTarget::SubPlaybook("Child"));
    assert!(task(&p, "0").loop_settings.is_none());
}

#[test]
fn split_complex_root_is_repaired() {
    let p = clean_playbook("complex_quirk.yml");
    let value = |n: usize| p.inputs[n].value.clone();
    assert_eq!(
        value(0),
        Some(ArgValue::Complex(Complex {
            root: "Endpoint".into(),
            filters: vec![],
            accessor: Some("Hostname".into()),
            transformers: vec![],
        }))
    );
    assert_eq!(value(0), value(1));
    assert!(p.inputs[0].required);
    assert_eq!(p.inputs[2].key, "Report Format");
    assert_eq!(value(2), Some(simple("file")));
    assert_eq!((p.inputs[3].key.as_str(), value(3)), ("", None));
    assert_eq!((p.inputs[4].key.as_str(), value(4)), ("", None));
    assert_eq!(p.outputs[0].context_path, "HelloWorld.Scan");
}

#[test]
fn marketplace_keys_override_plain_keys() {
    let i = clean_integration("marketplace.yml");
    assert_eq!(i.name, "Market XSOAR");
    assert_eq!(i.description, "On-prem description.");
    assert_eq!(
        i.params[0].default_value,
        Some(serde_json::json!("https://xsoar.example"))
    );
    let p = clean_playbook("marketplace_playbook.yml");
    let args = &task(&p, "1").script_arguments;
    assert_eq!(args.get("a"), Some(&simple("xsoar")));
    assert_eq!(args.get("b"), Some(&simple("only-xsoar")));
    // Task keys too: `'2:xsoar'` replaces `'2'`, other marketplaces are ignored.
    assert_eq!(p.tasks.keys().collect::<Vec<_>>(), ["0", "1", "2"]);
    assert_eq!(task(&p, "2").name, "For XSOAR");
}

#[test]
fn task_types_and_error_paths() {
    let (p, diags) = parse_playbook(&fixture("task_types.yml"), "task_types.yml");
    assert_eq!(
        render(&diags),
        ["task_types.yml:22:5: warning: task \"2\": unknown task type \"aiTask\"; it is kept as is (at tasks.\"2\".type)"]
    );
    let p = p.unwrap_or_else(|| panic!("no playbook"));
    let t1 = task(&p, "1");
    assert_eq!(t1.task_type, TaskType::Regular);
    assert!(
        t1.continue_on_error
            && t1.error_path
            && t1.skip_unavailable
            && t1.is_command
            && !t1.separate_context
    );
    assert_eq!(t1.quiet_mode, 2);
    assert!(t1.note, "`note: true` marks the task's entries as notes");
    assert!(!task(&p, "2").note);
    assert_eq!(
        t1.target(),
        TaskTarget::Command {
            brand: Some("SIGNL4"),
            command: "signl4_alert"
        }
    );
    let t2 = task(&p, "2");
    assert_eq!(t2.task_type, TaskType::Other("aiTask".into()));
    assert_eq!(t2.description, None);
    assert_eq!(t2.tags, ["handle", "7"]);
    let t3 = task(&p, "3");
    assert_eq!(t3.task_type, TaskType::Collection);
    assert_eq!(t3.reply_options, ["Yes", "No"]);
    assert_eq!(t3.field_mapping.len(), 1);
    assert_eq!(t3.field_mapping[0].incident_field, "signl4eventid");
    assert!(!task(&p, "0").error_path);
}

#[test]
fn timer_triggers_are_read_in_order_with_actions_in_any_case() {
    let p = clean_playbook("timer_triggers.yml");
    let trigger = |field: &str, action| TimerTrigger {
        field_name: field.to_owned(),
        action,
    };
    assert_eq!(
        task(&p, "0").timer_triggers,
        [
            trigger("timetoassignment", TimerAction::Start),
            trigger("remediationsla", TimerAction::Pause),
        ]
    );
    assert_eq!(
        task(&p, "1").timer_triggers,
        [trigger("timetoassignment", TimerAction::Stop)]
    );
    assert!(task(&p, "2").timer_triggers.is_empty());
}

#[test]
fn malformed_timer_triggers_are_dropped_and_the_rest_kept() {
    let path = format!(
        "{}/tests/data/diagnostics/timer_triggers.yml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (p, diags) = parse_playbook(&text, "timer_triggers.yml");
    assert_eq!(diags.len(), 7, "{diags:?}");
    let p = p.expect("the playbook still loads");
    assert!(task(&p, "0").timer_triggers.is_empty());
    assert_eq!(
        task(&p, "1").timer_triggers,
        [TimerTrigger {
            field_name: "remediationsla".into(),
            action: TimerAction::Pause,
        }]
    );
}

#[test]
fn scripts() {
    let (s, diags) = parse_script(&fixture("script.yml"), "script.yml");
    assert_eq!(render(&diags), Vec::<String>::new());
    let s: Script = s.unwrap_or_else(|| panic!("no script"));
    assert_eq!(
        (s.id.as_str(), s.name.as_str(), s.script_type.as_str()),
        ("8d5a6c7e-script", "PrintText", "python")
    );
    assert_eq!(s.tags, ["Utility", "transformer"]);
    assert_eq!(s.signature.name, "PrintText");
    assert_eq!(s.signature.description, "Prints a text.");
    assert_eq!(s.signature.timeout, Some(300));
    assert_eq!(
        s.signature.default_argument().map(|a| a.name.as_str()),
        Some("value")
    );
    assert_eq!(
        s.signature
            .argument("count")
            .and_then(|a| a.default_value.as_deref()),
        Some("1")
    );
    assert_eq!(s.signature.outputs[0].context_path, "Printed");
}

#[test]
fn parse_any_detects_the_kind() {
    let cases = [
        ("script.yml", "script"),
        ("flags.yml", "integration"),
        ("marketplace.yml", "integration"),
        ("loop.yml", "playbook"),
        ("int_keys.yml", "playbook"),
    ];
    for (name, kind) in cases {
        let (item, diags) = parse_any(&fixture(name), name);
        assert_eq!(render(&diags), Vec::<String>::new(), "{name}");
        let got = item.map(|i| i.kind().to_string());
        assert_eq!(got.as_deref(), Some(kind), "{name}");
    }
    let (item, _) = parse_any(&fixture("script.yml"), "script.yml");
    assert!(matches!(item, Some(ContentItem::Script(s)) if s.name == "PrintText"));
}
