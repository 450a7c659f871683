//! The JUnit report has the shape CI tools read: the rules of the Ant JUnit schema
//! (windyroad `JUnit.xsd`) and of Jenkins' `junit-10.xsd` that concern the elements written,
//! checked element by element with an XML parser on a real suite with a failure and names
//! that need escaping (no schema download: the rules are spelled out here).

mod common;

use common::*;
use quick_xml::events::Event;
use quick_xml::Reader;
use std::collections::BTreeMap;
use xsoar_testing::{junit_xml, JunitMeta, TestCase};

/// A parsed element: name, attributes, text, children.
#[derive(Debug, Default)]
struct El {
    name: String,
    attrs: BTreeMap<String, String>,
    text: String,
    children: Vec<El>,
}

impl El {
    fn attr(&self, k: &str) -> &str {
        self.attrs
            .get(k)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("<{}> has no attribute {k}", self.name))
    }
}

fn parse(xml: &str) -> El {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<El> = vec![El::default()];
    let mut saw_decl = false;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Decl(d) => {
                saw_decl = true;
                let enc = d.encoding().and_then(Result::ok).map(|e| e.to_vec());
                assert_eq!(enc.as_deref(), Some(&b"UTF-8"[..]));
            }
            Event::Start(e) => stack.push(element(&e)),
            Event::Empty(e) => {
                let el = element(&e);
                stack.last_mut().expect("parent").children.push(el);
            }
            Event::End(_) => {
                let el = stack.pop().expect("open element");
                stack.last_mut().expect("parent").children.push(el);
            }
            Event::Text(t) => {
                let text = t.unescape().expect("valid escapes").into_owned();
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&text);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(saw_decl, "XML declaration");
    let mut doc = stack.pop().expect("document");
    assert!(stack.is_empty(), "unclosed elements");
    assert_eq!(doc.children.len(), 1, "one root element");
    doc.children.remove(0)
}

fn element(e: &quick_xml::events::BytesStart<'_>) -> El {
    let mut attrs = BTreeMap::new();
    for a in e.attributes() {
        let a = a.expect("valid attribute");
        let key = String::from_utf8(a.key.as_ref().to_vec()).expect("utf-8 key");
        let value = a.unescape_value().expect("valid escapes").into_owned();
        assert!(
            attrs.insert(key.clone(), value).is_none(),
            "duplicate {key}"
        );
    }
    El {
        name: String::from_utf8(e.name().as_ref().to_vec()).expect("utf-8 name"),
        attrs,
        text: String::new(),
        children: Vec::new(),
    }
}

fn is_decimal(s: &str) -> bool {
    s.parse::<f64>().is_ok_and(|v| v >= 0.0) && !s.contains(['e', 'E'])
}

fn is_int(s: &str) -> bool {
    s.parse::<u64>().is_ok()
}

/// `YYYY-MM-DDTHH:MM:SS`, no time zone (the Ant schema's ISO8601_DATETIME_PATTERN).
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

/// Every required attribute present, nothing beyond required and optional ones.
fn check_attrs(el: &El, required: &[&str], optional: &[&str]) {
    for r in required {
        assert!(el.attrs.contains_key(*r), "<{}> lacks {r}", el.name);
    }
    for k in el.attrs.keys() {
        assert!(
            required.contains(&k.as_str()) || optional.contains(&k.as_str()),
            "<{}> has attribute {k}, which the schemas do not allow",
            el.name
        );
    }
}

const WEIRD: &str = r#"
id: Escapes <&> "quoted" 'x' - Test
name: Escapes <&> "quoted" 'x' - Test
starttaskid: "0"
tasks:
  "0": {id: "0", type: start, task: {name: ""}, nexttasks: {'#none#': ["1"]}}
  "1":
    id: "1"
    type: regular
    task: {name: Fail <here> & now, scriptName: PrintErrorEntry}
    scriptarguments: {message: {simple: "a < b && c > \"d\"\u0007bell"}}
"#;

#[tokio::test]
async fn the_junit_report_has_the_junit_schema_shape() {
    let mut pbs = repo_test_playbooks();
    pbs.push(playbook(WEIRD, "tests/odd/weird.yml"));
    let cases: Vec<TestCase> =
        xsoar_testing::select(pbs.iter().map(TestCase::of).collect(), &[], None);
    let lib = library(
        pbs.into_iter()
            .map(xsoar_content::ContentItem::Playbook)
            .collect(),
    );
    let results = runner(lib, repo_mocks())
        .run_suite(&cases, 2, None, &mut |_, _, _| {})
        .await;
    let meta = JunitMeta {
        name: "xsoar-emu test".into(),
        timestamp: "2025-01-01T00:00:00".into(),
        hostname: "ci-runner".into(),
    };
    let xml = junit_xml(&results, &meta);
    let root = parse(&xml);

    assert_eq!(root.name, "testsuites");
    assert!(
        root.attrs.is_empty(),
        "the Ant schema allows no attribute on <testsuites>"
    );
    assert_eq!(root.children.len(), 1);

    let suite = &root.children[0];
    assert_eq!(suite.name, "testsuite");
    check_attrs(
        suite,
        &[
            "name",
            "timestamp",
            "hostname",
            "tests",
            "failures",
            "errors",
            "time",
            "package",
            "id",
        ],
        &["skipped"],
    );
    assert_eq!(suite.attr("name"), "xsoar-emu test");
    assert!(is_timestamp(suite.attr("timestamp")));
    assert_eq!(suite.attr("timestamp"), "2025-01-01T00:00:00");
    assert_eq!(suite.attr("hostname"), "ci-runner");
    assert_eq!(suite.attr("id"), "0");
    for n in ["tests", "failures", "errors", "skipped"] {
        assert!(is_int(suite.attr(n)), "{n}");
    }
    assert_eq!(suite.attr("tests"), "6");
    assert_eq!(suite.attr("failures"), "1");
    assert_eq!(suite.attr("errors"), "0");
    assert!(is_decimal(suite.attr("time")));
    // Children in the Ant schema's order: properties, testcase*, system-out, system-err.
    let names: Vec<&str> = suite.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.first(), Some(&"properties"));
    assert_eq!(&names[names.len() - 2..], ["system-out", "system-err"]);
    for c in [
        &suite.children[0],
        &suite.children[names.len() - 2],
        &suite.children[names.len() - 1],
    ] {
        assert!(c.attrs.is_empty() && c.children.is_empty(), "<{}>", c.name);
    }
    let cases: Vec<&El> = suite.children[1..suite.children.len() - 2].iter().collect();
    assert!(cases.iter().all(|c| c.name == "testcase"));
    assert_eq!(cases.len().to_string(), suite.attr("tests"));

    let mut failures = 0;
    for c in &cases {
        check_attrs(c, &["name", "classname", "time"], &[]);
        assert!(!c.attr("name").trim().is_empty());
        assert!(!c.attr("classname").trim().is_empty());
        assert!(is_decimal(c.attr("time")));
        assert!(
            c.children.len() <= 1,
            "at most one of skipped/error/failure"
        );
        for child in &c.children {
            assert_eq!(child.name, "failure", "only <failure> inside a testcase");
            check_attrs(child, &["type"], &["message"]);
            assert!(child.children.is_empty(), "a failure holds text only");
            failures += 1;
            assert!(!child.attr("message").is_empty());
            assert_eq!(child.attr("type"), "TaskError");
        }
    }
    assert_eq!(failures.to_string(), suite.attr("failures"));

    // Names and texts survive escaping; the failure text is the failing task and its error.
    let weird = cases
        .iter()
        .find(|c| c.attr("name") == "Escapes <&> \"quoted\" 'x' - Test")
        .expect("the escaped test case");
    assert_eq!(weird.attr("classname"), "tests.odd");
    let failure = &weird.children[0];
    assert_eq!(
        failure.attr("message"),
        "task 1 'Fail <here> & now' in 'Escapes <&> \"quoted\" 'x' - Test' failed: a < b && c > \"d\"\u{FFFD}bell"
    );
    assert!(failure.text.contains(
        "    failed task: 1 'Fail <here> & now' in 'Escapes <&> \"quoted\" 'x' - Test'\n"
    ));
    assert!(failure
        .text
        .contains("    error (entry 1@1): a < b && c > \"d\"\u{FFFD}bell\n"));
    let passing = cases
        .iter()
        .find(|c| c.attr("name") == "SIGNL4 Alert - Test")
        .expect("a passing test case");
    assert!(passing.children.is_empty());
    assert_eq!(passing.attr("classname"), "tests.playbooks");
}
