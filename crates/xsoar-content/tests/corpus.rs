//! The real content corpus (`tests/data/corpus`): everything loads without errors, the
//! library indexes it as the engine looks things up, and a few quirks of real files come out
//! normalised.

use std::fmt::Write as _;

use xsoar_content::{
    check_playbook, check_playbook_references, parse_any, parse_playbook, resolve_positions,
    ArgValue, Complex, ContentItem, ContentKind, Library, Playbook, TaskTarget, TaskType,
};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/corpus");

/// (name relative to the corpus, text), sorted.
fn corpus() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for dir in ["integrations", "playbooks"] {
        let path = format!("{CORPUS}/{dir}");
        for e in std::fs::read_dir(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".yml") {
                let text =
                    std::fs::read_to_string(e.path()).unwrap_or_else(|e| panic!("{name}: {e}"));
                out.push((format!("{dir}/{name}"), text));
            }
        }
    }
    out.sort();
    out
}

fn load_all() -> (Library, Vec<ContentItem>) {
    let mut lib = Library::new();
    let mut items = Vec::new();
    for (name, text) in corpus() {
        let (item, diags) = parse_any(&text, &name);
        let errors: Vec<String> = diags
            .iter()
            .filter(|d| d.is_error())
            .map(ToString::to_string)
            .collect();
        assert!(errors.is_empty(), "{name}:\n{}", errors.join("\n"));
        let item = item.unwrap_or_else(|| panic!("{name}: nothing loaded"));
        let warnings = lib.add(item.clone());
        assert!(warnings.is_empty(), "{name}: {warnings:?}");
        items.push(item);
    }
    (lib, items)
}

fn playbook<'a>(lib: &'a Library, id: &str) -> &'a Playbook {
    lib.playbook(id)
        .unwrap_or_else(|| panic!("no playbook {id}"))
}

#[test]
fn every_corpus_file_loads_without_errors() {
    let files = corpus();
    assert_eq!(files.len(), 30, "8 integrations and 22 playbooks expected");
    let mut summary = String::new();
    for (name, text) in &files {
        let (item, diags) = parse_any(text, name);
        let errors: Vec<String> = diags
            .iter()
            .filter(|d| d.is_error())
            .map(ToString::to_string)
            .collect();
        assert!(errors.is_empty(), "{name}:\n{}", errors.join("\n"));
        let line = match &item {
            Some(ContentItem::Integration(i)) => format!(
                "integration {:?} (brand {:?}): {} commands, {} params",
                i.id,
                i.name,
                i.commands.len(),
                i.params.len()
            ),
            Some(ContentItem::Playbook(p)) => {
                format!(
                    "playbook {:?}: {} tasks, {} inputs, {} outputs",
                    p.id,
                    p.tasks.len(),
                    p.inputs.len(),
                    p.outputs.len()
                )
            }
            Some(ContentItem::Script(s)) => format!("script {:?}", s.id),
            None => panic!("{name}: nothing loaded"),
        };
        let _ = writeln!(summary, "{name}: {line}, {} warnings", diags.len());
        for d in &diags {
            let _ = writeln!(summary, "  {d}");
        }
    }
    insta::assert_snapshot!("corpus_summary", summary);
}

#[test]
fn sub_playbook_references_against_the_corpus() {
    let (lib, _) = load_all();
    let texts = corpus();
    let mut report = String::new();
    for p in lib.playbooks() {
        let mut diags = check_playbook_references(p, &lib);
        assert!(diags
            .iter()
            .all(|d| d.line.is_none() && d.yaml_path.is_some()));
        // Positions are resolved on demand from the text the playbook came from.
        let text = texts
            .iter()
            .find(|(n, _)| *n == p.file)
            .map(|(_, t)| t.as_str())
            .unwrap_or_default();
        resolve_positions(text, &mut diags);
        for d in diags {
            assert!(d.line.is_some(), "{d}");
            let _ = writeln!(report, "{d}");
        }
        // The full check is the structural one plus the references.
        let full = check_playbook(p, Some(&lib));
        let refs = check_playbook_references(p, &lib);
        assert!(refs.iter().all(|r| full.contains(r)), "{}", p.id);
    }
    insta::assert_snapshot!("corpus_subplaybook_references", report);
}

#[test]
fn the_crlf_file_loads_like_its_lf_version() {
    let (name, text) = corpus()
        .into_iter()
        .find(|(_, t)| t.contains("\r\n"))
        .unwrap_or_else(|| panic!("the corpus has no CRLF file"));
    let (crlf, d1) = parse_playbook(&text, &name);
    let (lf, d2) = parse_playbook(&text.replace("\r\n", "\n"), &name);
    assert_eq!((d1, d2), (vec![], vec![]));
    let crlf = crlf.unwrap_or_else(|| panic!("{name}"));
    assert_eq!(Some(&crlf), lf.as_ref());
    assert_eq!(crlf.id, "Dedup - Generic v2");
    // No carriage return leaks into any string.
    let json = serde_json::to_string(&crlf).unwrap_or_default();
    assert!(!json.contains("\\r"), "a \\r survived in {name}");
    assert_eq!(crlf.tasks.len(), 14);
}

#[test]
fn library_lookups() {
    let (lib, items) = load_all();
    assert_eq!(lib.len(), 30);
    assert_eq!(lib.integrations().count(), 8);
    assert_eq!(lib.playbooks().count(), 22);
    assert_eq!(lib.scripts().count(), 0);
    assert_eq!(
        items
            .iter()
            .filter(|i| i.kind() == ContentKind::Integration)
            .count(),
        8
    );

    // By id and by brand.
    assert_eq!(
        lib.integration("SIGNL4").map(|i| i.display.as_str()),
        Some("SIGNL4 (Beta)")
    );
    let pd = lib
        .integration("PagerDuty v2")
        .unwrap_or_else(|| panic!("no PagerDuty"));
    assert_eq!(lib.integration(&pd.id).map(|i| &i.name), Some(&pd.name));

    // `ip` is implemented by two integrations, in load order.
    let ip: Vec<&str> = lib
        .commands_named("ip")
        .iter()
        .map(|(i, c)| {
            assert_eq!(c.name, "ip");
            i.name.as_str()
        })
        .collect();
    assert_eq!(ip, ["AbuseIPDB", "HelloWorld"]);
    assert!(lib.commands_named("no-such-command").is_empty());
    let (i, c) = lib
        .command("SIGNL4", "signl4_alert")
        .unwrap_or_else(|| panic!("no signl4_alert"));
    assert_eq!(i.id, "SIGNL4");
    assert_eq!(c.arguments.iter().filter(|a| a.required).count(), 2);

    // Playbooks by id and by name.
    let by_id = playbook(&lib, "HelloWorld Scan");
    assert_eq!(by_id.name, "HelloWorld Scan");
    let calc = playbook(&lib, "calculate_severity_-_indicators_dbotscore");
    assert_eq!(
        lib.playbook("Calculate Severity - Indicators DBotScore")
            .map(|p| &p.id),
        Some(&calc.id)
    );
}

#[test]
fn corpus_quirks_come_out_normalised() {
    let (lib, _) = load_all();

    // `root: ${Endpoint` + `accessor: Hostname}`.
    let scan = playbook(&lib, "HelloWorld Scan");
    let host = scan
        .inputs
        .iter()
        .find(|i| i.key == "Hostname")
        .unwrap_or_else(|| panic!("no Hostname input"));
    assert_eq!(
        host.value,
        Some(ArgValue::Complex(Complex {
            root: "Endpoint".into(),
            filters: vec![],
            accessor: Some("Hostname".into()),
            transformers: vec![]
        }))
    );
    // The default loop block does not loop; the view position is read from the JSON string.
    let polling = &scan.tasks["2"];
    assert_eq!(polling.task_type, TaskType::Playbook);
    assert_eq!(polling.target(), TaskTarget::SubPlaybook("GenericPolling"));
    assert!(polling
        .loop_settings
        .as_ref()
        .is_some_and(|l| !l.loops() && l.max == 100));
    assert!(polling.separate_context);
    assert_eq!(scan.tasks["0"].position, Some((265.0, 50.0)));
    assert_eq!(
        scan.tasks["1"].target(),
        TaskTarget::Command {
            brand: None,
            command: "helloworld-scan-start"
        }
    );
    assert!(polling.script_arguments.contains_key("Ids"));
    assert!(!polling
        .script_arguments
        .contains_key("AdditionalPollingCommandArgNames"));

    // `simple: yes` (a string in YAML 1.2) as a DeleteContext argument.
    let test = lib
        .playbooks()
        .find(|p| p.file.ends_with("playbook-HelloWorld_Scan-Test.yml"))
        .unwrap_or_else(|| panic!("no test playbook"));
    let all = test
        .tasks
        .values()
        .find_map(|t| t.script_arguments.get("all"));
    assert_eq!(all, Some(&ArgValue::Simple("yes".into())));

    // Operators keep their category prefix (the evaluator strips it).
    let calc = playbook(&lib, "calculate_severity_-_indicators_dbotscore");
    let ops: Vec<&str> = calc
        .tasks
        .values()
        .flat_map(|t| &t.conditions)
        .flat_map(|b| &b.condition)
        .flatten()
        .map(|a| a.operator.as_str())
        .collect();
    assert!(ops.contains(&"general.isExists"), "{ops:?}");
}
