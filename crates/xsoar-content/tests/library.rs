//! The library index: replacement on reload, removal, name and command lookups, and the
//! warnings `add` returns.

use xsoar_content::{
    check_playbook, parse_integration, parse_playbook, parse_script, ContentItem, ContentKind,
    Diagnostic, Library,
};

/// An integration with the given commands (as YAML, so the parser is exercised too).
fn integration(id: &str, brand: &str, commands: &[&str]) -> ContentItem {
    let mut text = format!("commonfields: {{id: '{id}', version: -1}}\nname: '{brand}'\nscript:\n  type: python\n  commands:\n");
    for c in commands {
        text.push_str(&format!("  - name: '{c}'\n    description: {c}\n"));
    }
    let (i, diags) = parse_integration(&text, &format!("{id}.yml"));
    // A repeated command name is the one thing the parser itself objects to here.
    assert!(
        diags
            .iter()
            .all(|d| d.message.contains("is defined more than once")),
        "{diags:?}"
    );
    ContentItem::Integration(i.unwrap_or_else(|| panic!("{text}")))
}

fn script(id: &str, name: &str) -> ContentItem {
    let text = format!("commonfields: {{id: '{id}', version: -1}}\nname: '{name}'\ncomment: c\ntype: python\nscript: '-'\n");
    let (s, diags) = parse_script(&text, &format!("{id}.yml"));
    assert_eq!(diags, vec![]);
    ContentItem::Script(s.unwrap_or_else(|| panic!("{text}")))
}

/// A playbook whose only work is a sub-playbook task calling `child` (by name or id).
fn playbook(id: &str, name: &str, child: Option<(&str, &str)>) -> ContentItem {
    let mut text = format!(
        "id: '{id}'\nname: '{name}'\nstarttaskid: '0'\ntasks:\n  '0':\n    type: start\n    task: {{name: ''}}\n"
    );
    if let Some((field, child)) = child {
        text.push_str(&format!(
            "    nexttasks: {{'#none#': ['1']}}\n  '1':\n    type: playbook\n    task: {{name: Child, {field}: '{child}'}}\n"
        ));
    }
    let (p, diags) = parse_playbook(&text, &format!("{id}.yml"));
    assert_eq!(diags, vec![]);
    ContentItem::Playbook(p.unwrap_or_else(|| panic!("{text}")))
}

fn messages(diags: &[Diagnostic]) -> Vec<String> {
    diags.iter().map(|d| d.message.clone()).collect()
}

fn brands(lib: &Library, command: &str) -> Vec<String> {
    lib.commands_named(command)
        .iter()
        .map(|(i, _)| i.id.clone())
        .collect()
}

#[test]
fn commands_are_indexed_across_integrations_in_load_order() {
    let mut lib = Library::new();
    assert!(lib
        .add(integration("B", "Bee", &["ip", "b-only"]))
        .is_empty());
    assert!(lib.add(integration("A", "Ay", &["ip", "url"])).is_empty());
    assert_eq!(brands(&lib, "ip"), ["B", "A"]);
    assert_eq!(brands(&lib, "url"), ["A"]);
    assert_eq!(brands(&lib, "IP"), Vec::<String>::new());
    assert_eq!(
        lib.command("Ay", "url")
            .map(|(i, c)| (i.id.as_str(), c.name.as_str())),
        Some(("A", "url"))
    );
    assert!(lib.command("Ay", "b-only").is_none());
}

#[test]
fn adding_the_same_id_replaces_and_reindexes() {
    let mut lib = Library::new();
    lib.add(integration("A", "Ay", &["ip", "old"]));
    lib.add(integration("B", "Bee", &["ip"]));
    assert!(lib.add(integration("A", "Ay2", &["ip", "new"])).is_empty());
    assert_eq!(lib.integrations().count(), 2);
    assert!(lib.commands_named("old").is_empty());
    assert_eq!(brands(&lib, "new"), ["A"]);
    // Replacement keeps the load position.
    assert_eq!(brands(&lib, "ip"), ["A", "B"]);
    assert!(lib.integration("Ay").is_none());
    assert_eq!(lib.integration("Ay2").map(|i| i.id.as_str()), Some("A"));
}

#[test]
fn duplicate_commands_inside_one_integration_are_warnings() {
    let mut lib = Library::new();
    let warnings = lib.add(integration("A", "Ay", &["send", "other", "send"]));
    assert_eq!(
        messages(&warnings),
        ["integration \"A\": command \"send\" is defined twice; the first definition (script.commands[0]) is used"]
    );
    assert_eq!(
        warnings[0].yaml_path.as_deref(),
        Some("script.commands[2].name")
    );
    assert_eq!(warnings[0].file, "A.yml");
    assert!(!warnings[0].is_error());
    assert_eq!(lib.commands_named("send").len(), 1);
    // Across integrations it is normal.
    assert!(lib.add(integration("B", "Bee", &["send"])).is_empty());
    assert_eq!(brands(&lib, "send"), ["A", "B"]);
}

#[test]
fn shared_brands_warn_and_lookups_find_the_first() {
    let mut lib = Library::new();
    lib.add(integration("A1", "Shared", &["x"]));
    let warnings = lib.add(integration("A2", "Shared", &["y"]));
    assert_eq!(
        messages(&warnings),
        ["integration \"A2\" has the same name (brand) \"Shared\" as integration \"A1\"; lookups by brand find \"A1\""]
    );
    assert_eq!(lib.integration("Shared").map(|i| i.id.as_str()), Some("A1"));
    // Removing the first hands the brand to the second.
    assert!(lib.remove(ContentKind::Integration, "A1"));
    assert_eq!(lib.integration("Shared").map(|i| i.id.as_str()), Some("A2"));
    assert!(lib.commands_named("x").is_empty());
    assert_eq!(brands(&lib, "y"), ["A2"]);
}

#[test]
fn removal_by_id_or_name() {
    let mut lib = Library::new();
    lib.add(integration("A", "Ay", &["ip"]));
    lib.add(integration("B", "Bee", &["ip"]));
    lib.add(script("s-1", "Set"));
    lib.add(playbook("p-1", "Parent", None));
    assert_eq!(lib.len(), 4);
    assert!(lib.remove(ContentKind::Integration, "Ay"));
    assert_eq!(brands(&lib, "ip"), ["B"]);
    assert!(!lib.remove(ContentKind::Integration, "Ay"));
    assert!(lib.remove(ContentKind::Script, "Set"));
    assert!(lib.script("s-1").is_none());
    assert!(!lib.remove(ContentKind::Playbook, "missing"));
    assert!(lib.remove(ContentKind::Playbook, "p-1"));
    assert!(lib.playbook("Parent").is_none());
    assert_eq!(lib.len(), 1);
    assert!(!lib.is_empty());
}

#[test]
fn scripts_by_name_or_id() {
    let mut lib = Library::new();
    assert!(lib.add(script("id-1", "Print")).is_empty());
    assert_eq!(lib.script("Print").map(|s| s.id.as_str()), Some("id-1"));
    assert_eq!(lib.script("id-1").map(|s| s.name.as_str()), Some("Print"));
    let warnings = lib.add(script("id-2", "Print"));
    assert_eq!(messages(&warnings), ["script \"id-2\" has the same name \"Print\" as script \"id-1\"; lookups by name find \"id-1\""]);
    // Renaming on reload moves the name.
    assert!(lib.add(script("id-1", "Echo")).is_empty());
    assert_eq!(lib.script("Echo").map(|s| s.id.as_str()), Some("id-1"));
    assert_eq!(lib.script("Print").map(|s| s.id.as_str()), Some("id-2"));
    assert_eq!(lib.scripts().count(), 2);
}

#[test]
fn sub_playbooks_resolve_by_id_or_name() {
    let mut lib = Library::new();
    lib.add(playbook("child-id", "Child Name", None));
    lib.add(playbook(
        "by-name",
        "By name",
        Some(("playbookName", "Child Name")),
    ));
    lib.add(playbook("by-id", "By id", Some(("playbookId", "child-id"))));
    lib.add(playbook(
        "dangling",
        "Dangling",
        Some(("playbookId", "nowhere")),
    ));
    let check = |id: &str| {
        let p = lib.playbook(id).unwrap_or_else(|| panic!("{id}"));
        messages(&check_playbook(p, Some(&lib)))
    };
    assert_eq!(check("by-name"), Vec::<String>::new());
    assert_eq!(check("By id"), Vec::<String>::new());
    assert_eq!(
        check("dangling"),
        ["task \"1\" (\"Child\"): sub-playbook \"nowhere\" is not loaded"]
    );
    // Without a library only structural problems are reported.
    let p = lib
        .playbook("dangling")
        .unwrap_or_else(|| panic!("dangling"));
    assert_eq!(check_playbook(p, None), vec![]);
    let d = check_playbook(p, Some(&lib));
    assert_eq!(
        d[0].yaml_path.as_deref(),
        Some("tasks.\"1\".task.playbookId")
    );
    assert_eq!(d[0].line, None);
}
