//! Generated inputs (proptest) for the command line and the war room: no line makes the parser
//! or the engine panic, the canonical form of a parsed line reads back as the same command, and
//! a line never loses what the war room already holds.
//!
//! Failures shrink to a minimal line; proptest keeps it in `proptest-regressions/` so the case is
//! replayed on every later run.

use proptest::prelude::*;
use serde_json::json;
use xsoar_engine::cmdline::{parse_line, CommandLine, Line};
use xsoar_engine::{Engine, EngineOptions, Investigation, VirtualClock};

/// Fragments that exercise the tokenizer: quotes, escapes, DT, `=`, whitespace, non-ASCII.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("!".to_owned()),
        Just("/".to_owned()),
        Just("=".to_owned()),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("`".to_owned()),
        Just("\\".to_owned()),
        Just("${".to_owned()),
        Just("}".to_owned()),
        Just("{".to_owned()),
        Just(" ".to_owned()),
        Just("\t".to_owned()),
        Just("\n".to_owned()),
        Just("é".to_owned()),
        Just("日本".to_owned()),
        Just("(val.a == 'b c')".to_owned()),
        "[a-z_.-]{1,6}",
        "[0-9]{1,3}",
        any::<char>().prop_map(String::from),
    ]
}

/// A line of fragments, often starting like a command.
fn soup_line() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just(""), Just("!"), Just("/"), Just("  !")],
        prop::collection::vec(fragment(), 0..24),
    )
        .prop_map(|(start, parts)| format!("{start}{}", parts.concat()))
}

/// Argument values: anything, including quotes, backslashes, `=`, `${` and newlines.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 _.:/-]{0,12}",
        prop::collection::vec(fragment(), 0..8).prop_map(|p| p.concat()),
        any::<String>(),
    ]
}

fn command_line() -> impl Strategy<Value = CommandLine> {
    let arg = (prop::option::of("[a-z][a-z0-9_.-]{0,8}"), value());
    (
        "[a-zA-Z][a-zA-Z0-9_-]{0,12}",
        prop::collection::vec(arg, 0..5),
    )
        .prop_map(|(name, args)| {
            let line = args.iter().fold(format!("!{name}"), |mut l, (k, v)| {
                l.push(' ');
                if let Some(k) = k {
                    l.push_str(k);
                    l.push('=');
                }
                l.push_str(&xsoar_engine::cmdline::quote_value(v));
                l
            });
            match parse_line(&line) {
                Ok(Line::Command(cl)) => cl,
                other => panic!("generated line {line:?} did not parse: {other:?}"),
            }
        })
}

fn pairs(cl: &CommandLine) -> Vec<(Option<String>, String)> {
    cl.args
        .iter()
        .map(|a| (a.key.clone(), a.value.clone()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any text: a parse or an error with a column inside the line, never a panic.
    #[test]
    fn the_parser_never_panics(line in prop_oneof![soup_line(), any::<String>()]) {
        if let Err(e) = parse_line(&line) {
            prop_assert!(e.column >= 1, "column {} for {line:?}", e.column);
            prop_assert!(
                e.column <= line.chars().count() + 2,
                "column {} past the end of {line:?}",
                e.column
            );
            prop_assert!(!e.message.is_empty());
        }
    }

    /// The canonical form (`parentContent`, the echo of masked lines) reads back as the same
    /// command: same name, same keys, same values, in order.
    #[test]
    fn the_canonical_form_reads_back(cl in command_line()) {
        let shown = cl.to_string();
        match parse_line(&shown) {
            Ok(Line::Command(again)) => {
                prop_assert_eq!(&again.name, &cl.name, "{}", shown);
                prop_assert_eq!(pairs(&again), pairs(&cl), "{}", shown);
            }
            other => prop_assert!(false, "{shown:?} parsed as {other:?}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any sequence of lines typed in a war room: no panic; every non-empty line adds entries
    /// with the next ids; entries already written stay as they were; the context stays an
    /// object.
    #[test]
    fn the_war_room_keeps_what_it_holds(lines in prop::collection::vec(
        prop_oneof![
            soup_line(),
            (
                prop_oneof![
                    Just("!Set key="), Just("!Print value="), Just("!DeleteContext key="),
                    Just("!SetAndHandleEmpty key="), Just("!setIncident severity="),
                    Just("!Set key=A value="), Just("!Print value=${"), Just("!nosuchcommand x="),
                ],
                value(),
            )
                .prop_map(|(head, v)| format!("{head}{}", xsoar_engine::cmdline::quote_value(&v))),
        ],
        1..6,
    )) {
        let engine = Engine::new(VirtualClock::fixed(), EngineOptions::default());
        let mut inv = Investigation::new("9", json!({"name": "generated"}));
        for line in &lines {
            let before = inv.entries.clone();
            futures::executor::block_on(engine.execute_line(&mut inv, line));
            prop_assert!(inv.entries.len() >= before.len());
            prop_assert_eq!(&inv.entries[..before.len()], &before[..], "line {:?} changed earlier entries", line);
            if !line.trim().is_empty() {
                prop_assert!(inv.entries.len() > before.len(), "line {:?} wrote no entry", line);
            }
            for (i, e) in inv.entries.iter().enumerate() {
                prop_assert_eq!(e.id.as_str(), format!("{}@9", i + 1));
            }
            prop_assert!(inv.context.is_object(), "context became {}", inv.context);
        }
    }
}
