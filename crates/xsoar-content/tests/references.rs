//! Cross-file checks: scripts, commands, operators and transformers a playbook uses that
//! nothing provides; sub-playbooks that are missing, skipped or the playbook itself; ids and
//! names claimed by two files.

use xsoar_content::{
    check_duplicates, check_playbook, check_playbook_vocabulary, parse_any, resolve_positions,
    ContentItem, Diagnostic, Library, Severity, Vocabulary,
};

/// Operators and transformers as a tiny engine would know them, and one native script.
struct Engine;

const OPERATORS: &[&str] = &["isEqualString", "isNotEmpty", "isExists"];
const TRANSFORMERS: &[&str] = &["toUpperCase", "uniq"];

fn known(table: &[&str], written: &str) -> Result<(), String> {
    let name = written.rsplit('.').next().unwrap_or(written);
    if table.contains(&name) {
        Ok(())
    } else {
        Err(table[0].to_owned())
    }
}

impl Vocabulary for Engine {
    fn is_native(&self, brand: Option<&str>, name: &str) -> bool {
        brand.is_none() && name == "RunPollingCommand"
    }
    fn operator(&self, written: &str) -> Result<(), String> {
        known(OPERATORS, written)
    }
    fn transformer(&self, written: &str) -> Result<(), String> {
        known(TRANSFORMERS, written)
    }
    fn dt_path(&self, expr: &str) -> Result<(), String> {
        balanced(expr)
    }
    fn dt_template(&self, text: &str) -> Result<(), String> {
        balanced(text)
    }
}

/// A parser as small as the engine above: brackets must be balanced.
fn balanced(text: &str) -> Result<(), String> {
    if text.matches('[').count() == text.matches(']').count() {
        Ok(())
    } else {
        Err(format!(
            "invalid DT expression '{text}': '[' without matching ']'"
        ))
    }
}

fn item(file: &str, text: &str) -> ContentItem {
    let (item, diags) = parse_any(text, file);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    item.unwrap_or_else(|| panic!("{file}"))
}

/// The SIGNL4-like integration, a `Builtin` integration and a user script.
fn library() -> Library {
    let mut lib = Library::new();
    lib.add(item(
        "s4.yml",
        "commonfields: {id: SIGNL4, version: -1}\nname: SIGNL4\nscript:\n  type: python\n  commands:\n  - {name: signl4_alert, description: a}\n  - {name: signl4_close_alert, description: c}\n",
    ));
    lib.add(item(
        "builtin.yml",
        "commonfields: {id: Builtin, version: -1}\nname: Builtin\nscript:\n  type: python\n  commands:\n  - {name: setIncident, description: s}\n",
    ));
    lib.add(item(
        "set.yml",
        "commonfields: {id: Set, version: -1}\nname: Set\ncomment: c\ntype: python\nscript: '-'\n",
    ));
    lib.add(item(
        "tx.yml",
        "commonfields: {id: MyTransformer, version: -1}\nname: MyTransformer\ncomment: c\ntags: [transformer]\ntype: python\nscript: '-'\n",
    ));
    lib
}

/// A playbook whose start task leads to every task given (as flow-style YAML task bodies).
fn playbook_text(id: &str, tasks: &[&str]) -> String {
    let ids: Vec<String> = (1..=tasks.len()).map(|n| format!("'{n}'")).collect();
    let mut text = format!(
        "id: {id}\nname: {id}\nstarttaskid: '0'\ntasks:\n  '0':\n    type: start\n    task: {{name: ''}}\n    nexttasks: {{'#none#': [{}]}}\n",
        ids.join(", ")
    );
    for (n, body) in tasks.iter().enumerate() {
        text.push_str(&format!("  '{}':\n    {body}\n", n + 1));
    }
    text
}

/// The vocabulary findings of a playbook, positioned, as `line: severity: message`.
fn findings(tasks: &[&str]) -> Vec<String> {
    let lib = library();
    let text = playbook_text("p", tasks);
    let ContentItem::Playbook(p) = item("p.yml", &text) else {
        panic!("not a playbook");
    };
    let mut diags = check_playbook_vocabulary(&p, &lib, &Engine);
    resolve_positions(&text, &mut diags);
    shown(&diags)
}

fn shown(diags: &[Diagnostic]) -> Vec<String> {
    diags
        .iter()
        .map(|d| {
            format!(
                "{}: {}: {}",
                d.line.map(|l| l.to_string()).unwrap_or_default(),
                d.severity,
                d.message
            )
        })
        .collect()
}

#[test]
fn provided_scripts_and_commands_are_not_reported() {
    let found = findings(&[
        "{type: regular, task: {name: a, scriptName: Set}}",
        "{type: regular, task: {name: b, script: Set}}",
        "{type: regular, task: {name: c, script: 'SIGNL4|||signl4_alert', iscommand: true}}",
        "{type: regular, task: {name: d, script: '|||signl4_close_alert', iscommand: true}}",
        "{type: regular, task: {name: e, script: 'Builtin|||setIncident', iscommand: true}}",
        // A script under the Builtin brand, as the engine accepts it.
        "{type: regular, task: {name: f, script: 'Builtin|||Set'}}",
        // By integration id as well as brand.
        "{type: regular, task: {name: g, script: 'SIGNL4|||signl4_alert'}}",
        "{type: regular, task: {name: h, scriptName: RunPollingCommand}}",
        "{type: title, task: {name: i}}",
        "{type: regular, task: {name: manual}}",
    ]);
    assert_eq!(found, Vec::<String>::new());
}

#[test]
fn missing_scripts_and_commands_are_warnings_at_their_line() {
    let found = findings(&[
        "{type: regular, task: {name: a, scriptName: NoSuchScript}}",
        "{type: regular, task: {name: b, script: 'NoBrand|||no-cmd', iscommand: true}}",
        "{type: regular, task: {name: c, script: 'SIGNL4|||signl4_nope', iscommand: true}}",
        "{type: regular, task: {name: c2, script: 'SIGNL4|||signl4_closealert', iscommand: true}}",
        "{type: regular, task: {name: d, script: '|||signl4_alrt', iscommand: true}}",
        "{type: condition, task: {name: e, scriptName: NoSuchCondition}, nexttasks: {'yes': ['1']}}",
        // A script is not run under an integration's brand, nor a native one under any brand.
        "{type: regular, task: {name: f, script: 'SIGNL4|||Set'}}",
        "{type: regular, task: {name: g, script: 'SIGNL4|||RunPollingCommand'}}",
    ]);
    assert_eq!(
        found,
        [
            "10: warning: task \"1\" (\"a\"): script \"NoSuchScript\" is not loaded",
            "12: warning: task \"2\" (\"b\"): integration \"NoBrand\" (of command \"no-cmd\") is not loaded",
            "14: warning: task \"3\" (\"c\"): integration \"SIGNL4\" has no command \"signl4_nope\"",
            "16: warning: task \"4\" (\"c2\"): integration \"SIGNL4\" has no command \"signl4_closealert\" (did you mean \"signl4_close_alert\"?)",
            "18: warning: task \"5\" (\"d\"): command \"signl4_alrt\" is not loaded (did you mean \"signl4_alert\"?)",
            "20: warning: task \"6\" (\"e\"): script \"NoSuchCondition\" is not loaded",
            "22: warning: task \"7\" (\"f\"): integration \"SIGNL4\" has no command \"Set\"",
            "24: warning: task \"8\" (\"g\"): integration \"SIGNL4\" has no command \"RunPollingCommand\"",
        ]
    );
}

#[test]
fn skipunavailable_tasks_get_a_note() {
    let found = findings(&[
        "{type: regular, task: {name: a, scriptName: NoSuchScript}, skipunavailable: true}",
        "{type: regular, task: {name: b, script: 'NoBrand|||no-cmd'}, skipunavailable: true}",
    ]);
    assert_eq!(
        found,
        [
            "10: note: task \"1\" (\"a\"): script \"NoSuchScript\" is not loaded; the task is skipped when it runs (skipunavailable)",
            "12: note: task \"2\" (\"b\"): integration \"NoBrand\" (of command \"no-cmd\") is not loaded; the task is skipped when it runs (skipunavailable)",
        ]
    );
}

#[test]
fn unknown_operators_and_transformers_are_warnings_with_the_closest_match() {
    let found = findings(&[
        // Conditions, and an operand's own complex value with a transformer.
        "{type: condition, task: {name: c}, conditions: [{label: 'yes', condition: [[{operator: noSuchOp, left: {value: {complex: {root: A, transformers: [{operator: toUpperCse}]}}, iscontext: true}}, {operator: general.isExists, left: {value: {simple: A}, iscontext: true}}]]}], nexttasks: {'yes': ['1']}}",
        // Filters and transformers of an argument; transformer arguments; a script as transformer.
        "{type: regular, task: {name: r, scriptName: Set}, scriptarguments: {value: {complex: {root: A, filters: [[{operator: isEqualstring, left: {value: {simple: A.x}, iscontext: true}}]], transformers: [{operator: uniq}, {operator: MyTransformer}, {operator: noSuchTransformer, args: {x: {value: {complex: {root: B, transformers: [{operator: nope}]}}}}}]}}}}",
    ]);
    assert_eq!(
        found,
        [
            "10: warning: task \"1\" (\"c\"): unknown condition operator \"noSuchOp\" (closest match: \"isEqualString\"); no loaded script has that name either",
            "10: warning: task \"1\" (\"c\"): unknown transformer \"toUpperCse\" (closest match: \"toUpperCase\"); no loaded script has that name either",
            "12: warning: task \"2\" (\"r\"): unknown condition operator \"isEqualstring\" (closest match: \"isEqualString\"); no loaded script has that name either",
            "12: warning: task \"2\" (\"r\"): unknown transformer \"noSuchTransformer\" (closest match: \"toUpperCase\"); no loaded script has that name either",
            "12: warning: task \"2\" (\"r\"): unknown transformer \"nope\" (closest match: \"toUpperCase\"); no loaded script has that name either",
        ]
    );
}

#[test]
fn playbook_inputs_loops_and_field_mappings_are_checked_too() {
    let lib = library();
    let mut text = playbook_text(
        "p",
        &["{type: playbook, task: {name: l, playbookId: p2}, loop: {builtincondition: [[{operator: badLoopOp, left: {value: {simple: x}}}]]}, fieldMapping: [{incidentfield: name, output: {complex: {root: A, transformers: [{operator: badMapping}]}}}]}"],
    );
    text.push_str(
        "inputs:\n- key: K\n  value: {complex: {root: A, transformers: [{operator: badInput}]}}\n",
    );
    let ContentItem::Playbook(p) = item("p.yml", &text) else {
        panic!("not a playbook");
    };
    let diags = check_playbook_vocabulary(&p, &lib, &Engine);
    let paths: Vec<&str> = diags
        .iter()
        .filter_map(|d| d.yaml_path.as_deref())
        .collect();
    assert_eq!(
        paths,
        [
            "tasks.\"1\".loop.builtincondition[0][0].operator",
            "tasks.\"1\".fieldMapping[0].output.complex.transformers[0].operator",
            "inputs[0].value.complex.transformers[0].operator",
        ]
    );
    assert!(diags[2]
        .message
        .starts_with("input \"K\": unknown transformer \"badInput\""));
}

#[test]
fn missing_skipped_and_recursive_sub_playbooks() {
    let text = playbook_text(
        "self",
        &[
            "{type: playbook, task: {name: again, playbookId: self}}",
            "{type: playbook, task: {name: by name, playbookName: self}}",
            "{type: playbook, task: {name: gone, playbookName: Gone}}",
            "{type: playbook, task: {name: optional, playbookName: Optional}, skipunavailable: true}",
        ],
    );
    let ContentItem::Playbook(p) = item("self.yml", &text) else {
        panic!("not a playbook");
    };
    let mut lib = library();
    lib.add(ContentItem::Playbook(p.clone()));
    let mut diags = check_playbook(&p, Some(&lib));
    resolve_positions(&text, &mut diags);
    assert_eq!(
        shown(&diags),
        [
            "10: warning: task \"1\" (\"again\"): the playbook runs itself as a sub-playbook (self-recursion)",
            "12: warning: task \"2\" (\"by name\"): the playbook runs itself as a sub-playbook (self-recursion)",
            "14: warning: task \"3\" (\"gone\"): sub-playbook \"Gone\" is not loaded",
            "16: note: task \"4\" (\"optional\"): sub-playbook \"Optional\" is not loaded; the task is skipped when it runs (skipunavailable)",
        ]
    );
    assert_eq!(diags[3].severity, Severity::Note);
    // Self-recursion needs no library: the parse reports it, positioned.
    let (_, parsed) = parse_any(&text, "self.yml");
    assert_eq!(parsed.len(), 2, "{parsed:?}");
    assert_eq!(parsed[0].line, Some(10));
}

/// A condition loop's exit script (`scriptId`, or the legacy `exitCondition`) must be loaded:
/// the engine runs it after every iteration.
#[test]
fn loop_exit_scripts_are_checked() {
    let found = findings(&[
        "{type: playbook, task: {name: a, playbookId: p2}, loop: {scriptId: Set, exitCondition: ''}}",
        "{type: playbook, task: {name: b, playbookId: p2}, loop: {scriptId: NoExit, scriptArguments: {value: {simple: x}}}}",
        "{type: playbook, task: {name: c, playbookId: p2}, loop: {exitCondition: OldExit}}",
    ]);
    assert_eq!(
        found,
        [
            "12: warning: task \"2\" (\"b\"): loop exit script \"NoExit\" is not loaded",
            "14: warning: task \"3\" (\"c\"): loop exit script \"OldExit\" is not loaded",
        ]
    );
}

/// A sub-playbook is found by `playbookId`, else by `playbookName` (§8.10): an export's id
/// that no loaded file has (a server UUID) does not hide a playbook the name finds.
#[test]
fn sub_playbooks_are_found_by_id_else_by_name() {
    let child = item("child.yml", &playbook_text("Child", &[]));
    let text = playbook_text(
        "parent",
        &[
            "{type: playbook, task: {name: by id, playbookId: Child, playbookName: Other}}",
            "{type: playbook, task: {name: name fallback, playbookId: 0b5e6c2a-1111, playbookName: Child}}",
            "{type: playbook, task: {name: neither, playbookId: 0b5e6c2a-2222, playbookName: Gone}}",
        ],
    );
    let ContentItem::Playbook(p) = item("parent.yml", &text) else {
        panic!("not a playbook");
    };
    let mut lib = library();
    lib.add(child);
    lib.add(ContentItem::Playbook(p.clone()));
    for (task, found) in [("1", Some("Child")), ("2", Some("Child")), ("3", None)] {
        assert_eq!(
            lib.sub_playbook(&p.tasks[task]).map(|c| c.id.as_str()),
            found,
            "task {task}"
        );
    }
    let mut diags = check_playbook(&p, Some(&lib));
    resolve_positions(&text, &mut diags);
    assert_eq!(
        shown(&diags),
        ["14: warning: task \"3\" (\"neither\"): sub-playbook \"0b5e6c2a-2222\" (playbookName \"Gone\") is not loaded"]
    );
}

#[test]
fn ids_and_names_claimed_by_two_files() {
    let pb = |file: &str, id: &str, name: &str| {
        item(
            file,
            &format!("id: {id}\nname: {name}\nstarttaskid: '0'\ntasks:\n  '0': {{type: start, task: {{name: ''}}}}\n"),
        )
    };
    let script = |file: &str, id: &str, name: &str| {
        item(
            file,
            &format!("commonfields: {{id: {id}, version: -1}}\nname: {name}\ncomment: c\ntype: python\nscript: '-'\n"),
        )
    };
    let items = [
        pb("a.yml", "one", "One"),
        pb("b.yml", "one", "One copy"),
        pb("c.yml", "two", "One"),
        // The same id and name in another kind is no conflict.
        script("d.yml", "one", "One"),
        script("e.yml", "s2", "One"),
    ];
    let diags = check_duplicates(&items);
    let found: Vec<String> = diags
        .iter()
        .map(|d| {
            format!(
                "{} {}: {}",
                d.file,
                d.yaml_path.as_deref().unwrap_or(""),
                d.message
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            "b.yml id: playbook id \"one\" is also defined in a.yml; this file is loaded later, so its playbook replaces that one",
            "c.yml name: playbook name \"One\" is also used by playbook \"one\" in a.yml; lookups by name find that one (loaded first)",
            "e.yml name: script name \"One\" is also used by script \"one\" in d.yml; lookups by name find that one (loaded first)",
        ]
    );
    // Integration ids sit under commonfields; the same file read twice is not a duplicate.
    let i = item(
        "i.yml",
        "commonfields: {id: I, version: -1}\nname: I\nscript: {type: python, commands: []}\n",
    );
    assert_eq!(check_duplicates([&i, &i]), vec![]);
    let j = item(
        "j.yml",
        "commonfields: {id: I, version: -1}\nname: I\nscript: {type: python, commands: []}\n",
    );
    let d = check_duplicates([&i, &j]);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].yaml_path.as_deref(), Some("commonfields.id"));
}

#[test]
fn dt_the_engine_cannot_parse_is_an_error_at_its_line() {
    let found = findings(&[
        // A context operand, a complex root and accessor, a template argument, a filter side.
        "{type: condition, task: {name: a}, conditions: [{label: 'yes', condition: [[{operator: isExists, left: {value: {simple: 'incident.[severity'}, iscontext: true}}]]}], nexttasks: {'yes': ['1']}}",
        "{type: regular, task: {name: b, script: Set}, scriptarguments: {key: {simple: k}, value: {complex: {root: 'File.[0', accessor: 'MD5['}}}}",
        "{type: regular, task: {name: c, script: Set}, scriptarguments: {key: {simple: k}, value: {simple: 'size ${File.[0}'}}}",
        "{type: regular, task: {name: d, script: Set}, scriptarguments: {key: {simple: k}, value: {complex: {root: File, filters: [[{operator: isExists, left: {value: {simple: 'File.[x'}, iscontext: true}}]]}}}}",
        // Parsable: no findings.
        "{type: regular, task: {name: e, script: Set}, scriptarguments: {key: {simple: k}, value: {simple: '${File.[0]}'}}}",
    ]);
    assert_eq!(
        found,
        [
            "10: error: task \"1\" (\"a\"): invalid DT expression 'incident.[severity': '[' without matching ']'",
            "12: error: task \"2\" (\"b\"): invalid DT expression 'File.[0': '[' without matching ']'",
            "12: error: task \"2\" (\"b\"): invalid DT expression 'MD5[': '[' without matching ']'",
            "14: error: task \"3\" (\"c\"): invalid DT expression 'size ${File.[0}': '[' without matching ']'",
            "16: error: task \"4\" (\"d\"): invalid DT expression 'File.[x': '[' without matching ']'",
        ]
    );
}
