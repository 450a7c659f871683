//! Diagnostics, data-driven: every file under `tests/data/diagnostics/` states in its leading
//! comments the exact diagnostics it must produce (`# expect: <rendered diagnostic>`) and
//! whether an item is still produced (`# item: some|none`). Each fixture is also checked with
//! CRLF line endings, which must not change anything.

use xsoar_content::{parse_any, Diagnostic};

struct Fixture {
    name: String,
    text: String,
    expect: Vec<String>,
    item: Option<bool>,
}

fn fixtures() -> Vec<Fixture> {
    let dir = format!("{}/tests/data/diagnostics", env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    entries.sort();
    for path in entries {
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = format!(
            "diagnostics/{}",
            path.file_name()
                .map(|f| f.to_string_lossy())
                .unwrap_or_default()
        );
        let expect = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .map(str::to_owned)
            .collect();
        let item = text
            .lines()
            .find_map(|l| l.strip_prefix("# item: "))
            .map(|v| v.trim() == "some");
        out.push(Fixture {
            name,
            text,
            expect,
            item,
        });
    }
    out
}

fn render(diags: &[Diagnostic]) -> Vec<String> {
    let mut out: Vec<String> = diags.iter().map(ToString::to_string).collect();
    out.sort();
    out
}

/// Parse the fixture (as given and with CRLF endings) and compare with its expectations.
fn check(f: &Fixture) -> Result<(), String> {
    let mut expect = f.expect.clone();
    expect.sort();
    let crlf = f.text.replace('\n', "\r\n");
    for (variant, text) in [("lf", &f.text), ("crlf", &crlf)] {
        let (item, diags) = parse_any(text, &f.name);
        let got = render(&diags);
        if got != expect {
            return Err(format!(
                "{} ({variant}):\n  expected:\n    {}\n  got:\n    {}",
                f.name,
                expect.join("\n    "),
                got.join("\n    ")
            ));
        }
        if let Some(want) = f.item {
            if item.is_some() != want {
                return Err(format!(
                    "{} ({variant}): item produced = {}, expected {want}",
                    f.name,
                    item.is_some()
                ));
            }
        }
        if diags.iter().any(|d| d.file != f.name) {
            return Err(format!("{}: a diagnostic names another file", f.name));
        }
    }
    Ok(())
}

#[test]
fn every_fixture_produces_exactly_its_diagnostics() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 15, "fixtures missing: {}", fixtures.len());
    let failures: Vec<String> = fixtures.iter().filter_map(|f| check(f).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_fixture_states_its_expectations() {
    for f in fixtures() {
        assert!(!f.expect.is_empty(), "{}: no '# expect:' line", f.name);
        assert!(f.item.is_some(), "{}: no '# item:' line", f.name);
    }
}

#[test]
fn errors_and_warnings_are_told_apart() {
    let fixtures = fixtures();
    let find = |n: &str| {
        fixtures
            .iter()
            .find(|f| f.name.ends_with(n))
            .unwrap_or_else(|| panic!("no fixture {n}"))
    };
    let (_, d) = parse_any(&find("cycle.yml").text, "cycle.yml");
    assert!(!d.is_empty() && d.iter().all(|d| !d.is_error()));
    let (_, d) = parse_any(&find("duplicate_command.yml").text, "duplicate_command.yml");
    assert!(d.iter().any(Diagnostic::is_error));
}
