//! No input makes the loader panic: deterministic mutations of the corpus (byte edits, YAML
//! punctuation, truncation, line shuffles), random bytes, deep nesting and very large files.
//! Every run also renders its diagnostics and checks that positions stay inside the text.

use xsoar_content::{
    check_integration, check_playbook, locate, parse_any, resolve_positions, ContentItem,
    Diagnostic, Library, PathSeg,
};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/corpus");

/// A small linear congruential generator: deterministic, no dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for dir in ["integrations", "playbooks"] {
        let path = format!("{CORPUS}/{dir}");
        for e in std::fs::read_dir(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .flatten()
        {
            let bytes = std::fs::read(e.path()).unwrap_or_else(|e| panic!("{e}"));
            out.push((format!("{dir}/{}", e.file_name().to_string_lossy()), bytes));
        }
    }
    out.sort();
    out
}

const PUNCTUATION: &[u8] = b" :-[]{}'\"#\n\t&*!|>%@,?\r\\0123456789";

fn mutate(rng: &mut Lcg, input: &[u8]) -> Vec<u8> {
    let mut b = input.to_vec();
    let edits = 1 + rng.below(4);
    for _ in 0..edits {
        let len = b.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                b[i] = PUNCTUATION[rng.below(PUNCTUATION.len())];
            }
            1 if len > 0 => {
                let i = rng.below(len);
                b[i] = rng.next() as u8;
            }
            2 if len > 0 => {
                let i = rng.below(len);
                let n = rng.below(64).min(len - i);
                b.drain(i..i + n);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = rng.below(200).min(len - i);
                let chunk: Vec<u8> = b[i..i + n].to_vec();
                let at = rng.below(len);
                b.splice(at..at, chunk);
            }
            4 => {
                let at = rng.below(len + 1);
                let pad =
                    [b"  ".as_slice(), b"\n- ", b": ", b"\t", b"{", b"[[", b"'"][rng.below(7)];
                b.splice(at..at, pad.iter().copied());
            }
            5 => {
                let mut lines: Vec<Vec<u8>> =
                    b.split(|c| *c == b'\n').map(<[u8]>::to_vec).collect();
                if lines.len() > 2 {
                    let (i, j) = (rng.below(lines.len()), rng.below(lines.len()));
                    lines.swap(i, j);
                }
                b = lines.join(&b'\n');
            }
            _ => {
                let at = rng.below(len + 1);
                b.truncate(at);
            }
        }
    }
    b
}

/// Parse, check, render and locate; panics are the failure being tested for.
fn exercise(name: &str, text: &str) -> Vec<Diagnostic> {
    let (item, mut diags) = parse_any(text, name);
    // Line breaks as YAML counts them (the parser also breaks on NEL, LS and PS).
    let lines = 1 + text
        .replace("\r\n", "\n")
        .chars()
        .filter(|c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
        .count();
    if let Some(item) = &item {
        match item {
            ContentItem::Integration(i) => diags.extend(check_integration(i)),
            ContentItem::Playbook(p) => {
                let mut lib = Library::new();
                lib.add(item.clone());
                diags.extend(check_playbook(p, Some(&lib)));
            }
            ContentItem::Script(_) => {}
        }
    }
    resolve_positions(text, &mut diags);
    for d in &diags {
        let shown = d.to_string();
        assert!(shown.contains(name), "{shown}");
        if let Some(line) = d.line {
            assert!(
                line >= 1 && line <= lines + 1,
                "{name}: line {line} of {lines}: {shown}"
            );
        }
        if let Some(path) = &d.yaml_path {
            assert!(PathSeg::parse_path(path).is_ok(), "unparseable path {path}");
        }
    }
    diags
}

#[test]
fn mutated_corpus_files_never_panic() {
    let mut rng = Lcg(0x5eed);
    let mut runs = 0;
    let mut with_errors = 0;
    for (name, bytes) in corpus() {
        for _ in 0..12 {
            let mutated = mutate(&mut rng, &bytes);
            let text = String::from_utf8_lossy(&mutated);
            let diags = exercise(&name, &text);
            runs += 1;
            with_errors += usize::from(diags.iter().any(Diagnostic::is_error));
        }
    }
    assert_eq!(runs, 360);
    // The mutations must actually break things most of the time, or this tests nothing.
    assert!(
        with_errors > runs / 3,
        "only {with_errors} of {runs} mutations produced errors"
    );
}

#[test]
fn truncated_corpus_files_never_panic() {
    let mut runs = 0;
    for (name, bytes) in corpus() {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let step = (text.len() / 11).max(1);
        for cut in (0..text.len()).step_by(step) {
            let mut cut = cut;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            exercise(&name, &text[..cut]);
            runs += 1;
        }
    }
    assert!(runs >= 300, "{runs}");
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Lcg(42);
    for n in 0..200 {
        let len = rng.below(400);
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if n % 2 == 0 {
                    PUNCTUATION[rng.below(PUNCTUATION.len())]
                } else {
                    rng.next() as u8
                }
            })
            .collect();
        exercise("garbage.yml", &String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn locate_never_panics_on_random_paths() {
    let mut rng = Lcg(7);
    let keys = [
        "tasks",
        "0",
        "1",
        "#none#",
        "nexttasks",
        "task",
        "name",
        "script",
        "commands",
        "a",
        "é",
    ];
    for (name, bytes) in corpus().into_iter().take(6) {
        let text = String::from_utf8_lossy(&mutate(&mut rng, &bytes)).into_owned();
        for _ in 0..50 {
            let path: Vec<PathSeg> = (0..rng.below(6))
                .map(|_| {
                    if rng.below(3) == 0 {
                        PathSeg::Index(rng.below(4))
                    } else {
                        PathSeg::Key(keys[rng.below(keys.len())].to_owned())
                    }
                })
                .collect();
            if let Some((line, col)) = locate(&text, &path) {
                assert!(line >= 1 && col >= 1, "{name}");
            }
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for text in [
        "[".repeat(5_000),
        "{a: ".repeat(5_000),
        (0..300)
            .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
            .collect::<String>(),
        (0..300)
            .map(|i| format!("{}- ", "  ".repeat(i)))
            .collect::<String>()
            + "x",
    ] {
        let (item, diags) = parse_any(&text, "deep.yml");
        assert!(item.is_none());
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(
            diags[0].is_error() && diags[0].message.starts_with("invalid yaml:"),
            "{}",
            diags[0]
        );
        assert!(diags[0].line.is_some(), "{}", diags[0]);
    }
    let (_, diags) = parse_any(
        &(0..300)
            .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
            .collect::<String>(),
        "deep.yml",
    );
    assert!(
        diags[0].message.contains("recursion limit exceeded"),
        "{}",
        diags[0]
    );
}

/// A playbook of about 10 MB: many tasks, with one dangling reference at the very end so
/// that positions are resolved in a large text.
#[test]
fn a_ten_megabyte_playbook_loads() {
    let mut text = String::from("id: big\nname: Big\nstarttaskid: '0'\ntasks:\n");
    let mut n = 0;
    while text.len() < 10 * 1024 * 1024 {
        text.push_str(&format!(
            "  '{n}':\n    id: '{n}'\n    taskid: 00000000-0000-4000-8000-{n:012}\n    type: regular\n    task:\n      id: 00000000-0000-4000-8000-{n:012}\n      name: Task {n}\n      scriptName: Set\n      description: {}\n    scriptarguments:\n      key: {{simple: K{n}}}\n      value: {{simple: '${{incident.id}}'}}\n      append: {{}}\n    nexttasks:\n      '#none#': ['{}']\n    view: '{{\"position\":{{\"x\":{n},\"y\":50}}}}'\n",
            "x".repeat(200),
            n + 1
        ));
        n += 1;
    }
    let (p, diags) = xsoar_content::parse_playbook(&text, "big.yml");
    let p = p.unwrap_or_else(|| panic!("no playbook"));
    assert_eq!(p.tasks.len(), n);
    assert_eq!(diags.len(), 1, "{diags:?}");
    let lines = text.lines().count();
    assert_eq!(diags[0].line, Some(lines - 1), "{}", diags[0]);
    assert!(
        diags[0]
            .message
            .contains(&format!("refers to missing task \"{n}\"")),
        "{}",
        diags[0]
    );
}

#[test]
fn a_huge_scalar_loads() {
    let text = format!("id: s\nname: S\nstarttaskid: '0'\ndescription: '{}'\ntasks:\n  '0': {{type: start, task: {{name: ''}}}}\n", "y".repeat(10 * 1024 * 1024));
    let (p, diags) = xsoar_content::parse_playbook(&text, "huge.yml");
    assert_eq!(diags, vec![]);
    assert_eq!(p.map(|p| p.description.len()), Some(10 * 1024 * 1024));
}

#[test]
fn alias_bombs_are_refused() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    text.push_str("tasks: *a11\nstarttaskid: '0'\nid: bomb\nname: Bomb\n");
    let (item, diags) = parse_any(&text, "bomb.yml");
    assert!(item.is_none());
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(
        diags[0]
            .message
            .starts_with("invalid yaml: repetition limit exceeded"),
        "{}",
        diags[0]
    );
}
