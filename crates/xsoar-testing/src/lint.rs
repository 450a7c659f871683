//! Warnings about mocks that load but can never apply.
//!
//! A mock file is checked for its shape when it is read. A misspelt command
//! (`SIGNL4|||signl4_alrt`), an argument the command does not declare, or a `playbook:` that
//! names no test playbook still load, and the run then fails with "no mock" far from the typo.
//! These checks compare the mocks with the loaded content and the test playbooks; the runner
//! prints what they find as warnings. Mocking a command of an integration that is not loaded
//! is what mocks are for, so a name nothing declares is only reported when it is a near miss
//! of one that is declared (or when its brand is loaded and lacks it).

use crate::mocks::{names_playbook, Mock, MockSet};
use crate::select::TestCase;
use xsoar_content::{Command, Library};
use xsoar_engine::args::SPECIAL_ARGUMENTS;
use xsoar_engine::builtins::OPEN_ARGUMENT_COMMANDS;
use xsoar_engine::closest_name;

/// What a mock set gets wrong against `library` (with the connectors' command `aliases`) and
/// the test playbooks `cases`, one warning per problem, each naming the mock's file and line.
pub fn lint(
    mocks: &MockSet,
    library: &Library,
    aliases: &[&str],
    cases: &[TestCase],
) -> Vec<String> {
    let mut out = Vec::new();
    for m in mocks.mocks() {
        let label = label(m);
        check_command(m, &label, library, aliases, &mut out);
        if let Some(p) = &m.playbook {
            if let Some(near) = missing_playbook(p, cases) {
                out.push(format!(
                    "{label} is limited to playbook '{p}', which is no test playbook (did you mean '{near}'?)"
                ));
            }
        }
    }
    for (p, at) in mocks.fixture_playbook_sites() {
        if let Some(near) = missing_playbook(p, cases) {
            out.push(format!(
                "{at}: the fixture for playbook '{p}' names no test playbook (did you mean '{near}'?)"
            ));
        }
    }
    out
}

/// `file:line`, with the mock's name when it has one.
fn label(m: &Mock) -> String {
    let at = format!("{}:{}", m.file, m.line);
    if m.name == at {
        format!("{at}: the mock")
    } else {
        format!("{at}: mock '{}'", m.name)
    }
}

fn check_command(
    m: &Mock,
    label: &str,
    library: &Library,
    aliases: &[&str],
    out: &mut Vec<String>,
) {
    let key = m.key();
    let defs: Vec<&Command> = match &m.brand {
        Some(b) => library
            .command(b, &m.command)
            .map(|(_, c)| c)
            .into_iter()
            .collect(),
        None => library
            .commands_named_iter(&m.command)
            .map(|(_, c)| c)
            .chain(library.script(&m.command).map(|s| &s.signature))
            .collect(),
    };
    if defs.is_empty() {
        if aliases.contains(&m.command.as_str()) {
            return;
        }
        match m.brand.as_deref().and_then(|b| library.integration(b)) {
            Some(integration) => {
                let near = closest_name(
                    &m.command,
                    integration.commands.iter().map(|c| c.name.as_str()),
                );
                out.push(format!(
                    "{label} is for '{key}', which integration '{}' does not declare{}",
                    integration.name,
                    did_you_mean(near)
                ));
            }
            None => {
                let names = library
                    .integrations()
                    .flat_map(|i| i.commands.iter().map(|c| c.name.as_str()))
                    .chain(library.scripts().map(|s| s.name.as_str()))
                    .chain(aliases.iter().copied());
                if let Some(near) = closest_name(&m.command, names) {
                    out.push(format!(
                        "{label} is for '{key}', which no loaded integration or script declares (did you mean '{near}'?)"
                    ));
                }
            }
        }
        return;
    }
    if OPEN_ARGUMENT_COMMANDS.contains(&m.command.as_str()) {
        return;
    }
    for (arg, _) in &m.args {
        let declared = defs
            .iter()
            .any(|d| d.arguments.iter().any(|a| a.name == *arg));
        if declared || SPECIAL_ARGUMENTS.contains(&arg.as_str()) {
            continue;
        }
        let near = closest_name(
            arg,
            defs.iter()
                .flat_map(|d| d.arguments.iter().map(|a| a.name.as_str())),
        );
        out.push(format!(
            "{label} matches argument '{arg}', which '{}' does not declare{}",
            m.command,
            did_you_mean(near)
        ));
    }
}

/// A test playbook name close to `reference` when `reference` names none of them.
fn missing_playbook<'a>(reference: &str, cases: &'a [TestCase]) -> Option<&'a str> {
    if cases
        .iter()
        .any(|c| names_playbook(reference, &c.id, &c.name))
    {
        return None;
    }
    closest_name(reference, cases.iter().map(|c| c.name.as_str()))
}

fn did_you_mean(near: Option<&str>) -> String {
    near.map(|n| format!(" (did you mean '{n}'?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"
commonfields: {id: Pager, version: -1}
name: Pager
display: Pager
category: Messaging
description: d
configuration: []
script:
  type: python
  script: ''
  commands:
  - name: page_team
    description: d
    arguments:
    - {name: team, description: t}
    - {name: message, description: m}
"#;

    const MOCKS: &str = r#"
mocks:
  - name: fine
    command: Pager|||page_team
    args: {team: ops, execution-timeout: "5"}
    context: {}
  - command: Pager|||page_tema
    context: {}
  - command: page_tem
    context: {}
  - command: OtherBrand|||anything
    context: {}
  - command: not_loaded_anywhere
    context: {}
  - command: page_alias
    context: {}
  - name: typo arg
    command: page_team
    args: {mesage: hi}
    playbook: Pager - Tset
    context: {}
playbooks:
  "Pager - Test": {inputs: {A: 1}}
  "Pagr - Test": {inputs: {A: 2}}
"#;

    #[test]
    fn near_misses_are_warned_about_and_unloaded_integrations_are_not() {
        let mut library = Library::new();
        library.add(
            xsoar_content::parse_any(YAML, "pager.yml")
                .0
                .expect("integration"),
        );
        // The fixture warning names the file that holds the key, not every mock file.
        let mocks = MockSet::parse(&[
            ("m.yml".into(), MOCKS.into()),
            ("other.yml".into(), "mocks: []\n".into()),
        ])
        .expect("mocks");
        let cases = vec![TestCase {
            name: "Pager - Test".into(),
            id: "pager-test".into(),
            file: "t.yml".into(),
        }];
        assert_eq!(
            lint(&mocks, &library, &["page_alias"], &cases),
            [
                "m.yml:7: the mock is for 'Pager|||page_tema', which integration 'Pager' does not declare (did you mean 'page_team'?)",
                "m.yml:9: the mock is for 'page_tem', which no loaded integration or script declares (did you mean 'page_team'?)",
                "m.yml:17: mock 'typo arg' matches argument 'mesage', which 'page_team' does not declare (did you mean 'message'?)",
                "m.yml:17: mock 'typo arg' is limited to playbook 'Pager - Tset', which is no test playbook (did you mean 'Pager - Test'?)",
                "m.yml:24: the fixture for playbook 'Pagr - Test' names no test playbook (did you mean 'Pager - Test'?)",
            ]
        );
    }
}
