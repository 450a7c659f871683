//! Evaluation of playbook argument values, conditions and filters (§2.6, §2.7, §3.5, §3.6,
//! §7.3, §7.4, §13 of the semantics).
//!
//! Cases are written in playbook YAML (flow style), parsed by the real content loader inside a
//! one-task playbook, and evaluated against a fixed JSON context, so what is tested is exactly
//! what a playbook author writes. The corpus playbooks are evaluated too.

use serde_json::{json, Value};
use xsoar_content::{parse_playbook, ArgValue, Atom, ConditionBranch, Playbook};
use xsoar_context::Scope;
use xsoar_engine::eval::{
    choose_branch, eval_arg, eval_atom, eval_condition, eval_operand, known_operators,
    known_transformers, normalize_operator, resolve_operator, resolve_transformer, EvalError,
};

// ---------------------------------------------------------------------------------------------
// Fixtures and helpers
// ---------------------------------------------------------------------------------------------

fn context() -> Value {
    json!({
        "Tasks": [
            {"id": "1", "name": "Wait", "state": "Waiting", "parentPlaybookID": "p1"},
            {"id": "2", "name": "Other", "state": "Completed", "parentPlaybookID": "p1"},
            {"id": "3", "name": "wait", "state": "Waiting", "parentPlaybookID": "p2"}
        ],
        "DBotScore": [
            {"Indicator": "8.8.8.8", "Vendor": "A", "Score": 1, "Type": "ip"},
            {"Indicator": "1.2.3.4", "Vendor": "B", "Score": 3, "Type": "ip"}
        ],
        "Endpoint": {"Hostname": "ws-01", "IPAddress": ["10.0.0.5", "10.0.0.6"]},
        "Names": ["alpha", "Beta", "gamma"],
        "Dupes": ["a", "b", "a", "c", "b"],
        "Nums": [3, "10", 1.5],
        "Text": "Hello World",
        "Padded": "  padded  ",
        "Num": "42",
        "Flag": true,
        "FlagStr": "FALSE",
        "Obj": {"a": 1},
        "Objs": [{"k": "x", "n": 1}, {"k": "y", "n": 2}],
        "Empty": "",
        "EmptyList": [],
        "EmptyObj": {},
        "Blanks": ["", ""],
        "When": "2024-01-02T03:04:05Z",
        "Epoch": 1704164645,
        "IP": "10.1.2.3",
        "IPs": ["192.168.1.7", "8.8.8.8"],
        "IP6": "2001:db8::1",
        "Json": "{\"x\": [1, 2]}",
        "Csv": "a, b ,c",
        "Holes": "a, ,b, ",
        "Pairs": ["a,b", " c "],
        "Pair": "a,b",
        "Encoded": "a%20b%2Fc",
        "B64": "aGVsbG8gd29ybGQ="
    })
}

fn incident() -> Value {
    json!({"id": "7", "name": "Phish alert", "type": "Phishing", "severity": 3})
}

fn inputs() -> Value {
    json!({"TaskName": "Wait", "Threshold": "2", "Trusted": "Microsoft, Google", "Sep": "-"})
}

/// Runs `f` with the standard scope: the context plus the `incident` and `inputs` roots.
fn with_scope<R>(f: impl FnOnce(&Scope) -> R) -> R {
    let (ctx, inc, inp) = (context(), incident(), inputs());
    let scope = Scope::new(&ctx)
        .with_root("incident", &inc)
        .with_root("inputs", &inp);
    f(&scope)
}

fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

fn load(yaml: &str) -> Playbook {
    let (pb, diags) = parse_playbook(yaml, "test.yml");
    match pb {
        Some(pb) => pb,
        None => panic!("test playbook did not parse: {diags:?}\n{yaml}"),
    }
}

/// The `conditions:` of a one-task playbook whose condition block is `yaml`.
fn branches(yaml: &str) -> Vec<ConditionBranch> {
    let doc = format!(
        "id: t\nname: t\nstarttaskid: \"0\"\ntasks:\n  \"0\":\n    id: \"0\"\n    taskid: t0\n    \
         type: condition\n    task:\n      id: t0\n      name: c\n      type: condition\n    \
         nexttasks:\n      '#default#': []\n    conditions:\n{}",
        indent(yaml, 4)
    );
    let pb = load(&doc);
    match pb.tasks.get("0") {
        Some(task) => task.conditions.clone(),
        None => panic!("no task 0 in\n{doc}"),
    }
}

/// One atom, written as a flow mapping (`{operator: ..., left: ..., right: ...}`).
fn atom(yaml: &str) -> Atom {
    let b = branches(&format!("- label: x\n  condition:\n  - - {yaml}"));
    match b
        .first()
        .and_then(|b| b.condition.first())
        .and_then(|g| g.first())
    {
        Some(a) => a.clone(),
        None => panic!("no atom parsed from {yaml}"),
    }
}

/// A `scriptarguments` value (`{simple: ...}` or `{complex: ...}`), flow or block style.
fn arg(yaml: &str) -> ArgValue {
    let doc = format!(
        "id: t\nname: t\nstarttaskid: \"0\"\ntasks:\n  \"0\":\n    id: \"0\"\n    taskid: t0\n    \
         type: regular\n    task:\n      id: t0\n      name: r\n      scriptName: Print\n    \
         scriptarguments:\n      value:\n{}",
        indent(yaml, 8)
    );
    let pb = load(&doc);
    match pb
        .tasks
        .get("0")
        .and_then(|t| t.script_arguments.get("value"))
    {
        Some(a) => a.clone(),
        None => panic!("no argument parsed from\n{doc}"),
    }
}

/// YAML for one condition side in the compact test notation: `c:path` = context path,
/// `l:text` = literal, `-` = absent.
fn side(spec: &str) -> Option<String> {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    if let Some(path) = spec.strip_prefix("c:") {
        Some(format!(
            "{{value: {{simple: {}}}, iscontext: true}}",
            quote(path)
        ))
    } else if let Some(lit) = spec.strip_prefix("l:") {
        Some(format!("{{value: {{simple: {}}}}}", quote(lit)))
    } else if spec == "-" {
        None
    } else {
        Some(spec.to_owned())
    }
}

fn atom_yaml(op: &str, left: &str, right: &str, ignore_case: bool) -> String {
    let mut s = format!(
        "{{operator: {op}, left: {}",
        side(left).unwrap_or_else(|| "{}".into())
    );
    if let Some(r) = side(right) {
        s.push_str(&format!(", right: {r}"));
    }
    if ignore_case {
        s.push_str(", ignorecase: true");
    }
    s.push('}');
    s
}

/// Operator cases: (operator, left, right, ignorecase, expected).
type OpCase<'a> = (&'a str, &'a str, &'a str, bool, bool);

fn check_ops(cases: &[OpCase]) {
    with_scope(|scope| {
        for (op, left, right, ic, expected) in cases {
            let yaml = atom_yaml(op, left, right, *ic);
            match eval_atom(&atom(&yaml), scope) {
                Ok(got) => assert_eq!(got, *expected, "{yaml}"),
                Err(e) => panic!("{yaml}: unexpected error {e}"),
            }
        }
    });
}

/// Operator cases that must fail, with a fragment the message must contain.
fn check_op_errors(cases: &[(&str, &str, &str, &str)]) {
    with_scope(|scope| {
        for (op, left, right, fragment) in cases {
            let yaml = atom_yaml(op, left, right, false);
            match eval_atom(&atom(&yaml), scope) {
                Ok(got) => panic!("{yaml}: expected an error, got {got}"),
                Err(EvalError { message }) => {
                    assert!(
                        message.contains(fragment),
                        "{yaml}: '{message}' lacks '{fragment}'"
                    )
                }
            }
        }
    });
}

fn eval(yaml: &str) -> Result<Option<Value>, EvalError> {
    with_scope(|scope| eval_arg(&arg(yaml), scope))
}

/// Argument cases: (YAML value, expected; `null` = not supplied).
fn check_args(cases: &[(&str, Value)]) {
    for (yaml, expected) in cases {
        match eval(yaml) {
            Ok(got) => assert_eq!(got.unwrap_or(Value::Null), *expected, "{yaml}"),
            Err(e) => panic!("{yaml}: unexpected error {e}"),
        }
    }
}

/// Transformer cases: (root path, transformers as a YAML flow list, expected).
fn check_transformers(cases: &[(&str, &str, Value)]) {
    for (root, transformers, expected) in cases {
        let yaml = format!("{{complex: {{root: '{root}', transformers: {transformers}}}}}");
        match eval(&yaml) {
            Ok(got) => assert_eq!(got.unwrap_or(Value::Null), *expected, "{yaml}"),
            Err(e) => panic!("{yaml}: unexpected error {e}"),
        }
    }
}

fn check_transformer_errors(cases: &[(&str, &str, &str)]) {
    for (root, transformers, fragment) in cases {
        let yaml = format!("{{complex: {{root: '{root}', transformers: {transformers}}}}}");
        match eval(&yaml) {
            Ok(got) => panic!("{yaml}: expected an error, got {got:?}"),
            Err(EvalError { message }) => {
                assert!(
                    message.contains(fragment),
                    "{yaml}: '{message}' lacks '{fragment}'"
                )
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Operators (§7.4)
// ---------------------------------------------------------------------------------------------

#[test]
fn string_equality_and_affixes() {
    check_ops(&[
        (
            "isEqualString",
            "c:incident.type",
            "l:Phishing",
            false,
            true,
        ),
        (
            "isEqualString",
            "c:incident.type",
            "l:phishing",
            false,
            false,
        ),
        ("isEqualString", "c:incident.type", "l:phishing", true, true),
        ("isEqualString", "c:incident.severity", "l:3", false, true),
        ("isEqualString", "c:Flag", "l:true", false, true),
        ("isEqualString", "c:Missing", "l:x", false, false),
        ("isEqualString", "c:Empty", "l:", false, true),
        (
            "isNotEqualString",
            "c:incident.type",
            "l:Malware",
            false,
            true,
        ),
        (
            "isNotEqualString",
            "c:incident.type",
            "l:PHISHING",
            true,
            false,
        ),
        ("containsString", "c:Text", "l:lo Wo", false, true),
        ("containsString", "c:Text", "l:WORLD", false, false),
        ("containsString", "c:Text", "l:WORLD", true, true),
        ("notContainsString", "c:Text", "l:xyz", false, true),
        ("notContainsString", "c:Text", "l:World", false, false),
        ("startWith", "c:Text", "l:Hello", false, true),
        ("startWith", "c:Text", "l:hello", true, true),
        ("startWith", "c:Text", "l:World", false, false),
        ("endWith", "c:Text", "l:World", false, true),
        ("endWith", "c:Text", "l:Hello", false, false),
        ("notStartWith", "c:Text", "l:World", false, true),
        ("notStartWith", "c:Text", "l:Hell", false, false),
        ("notEndWith", "c:Text", "l:Hello", false, true),
        ("notEndWith", "c:Text", "l:ld", false, false),
        // A literal side is interpolated.
        (
            "isEqualString",
            "c:incident.name",
            "l:Phish ${incident.type}",
            false,
            false,
        ),
        (
            "isEqualString",
            "c:Endpoint.Hostname",
            "l:ws-0${incident.id}",
            false,
            false,
        ),
        (
            "isEqualString",
            "l:id-${incident.id}",
            "l:id-7",
            false,
            true,
        ),
    ]);
}

#[test]
fn list_sides_match_if_any_element_matches() {
    check_ops(&[
        // Left list: any element.
        ("isEqualString", "c:Names", "l:Beta", false, true),
        ("isEqualString", "c:Names", "l:beta", false, false),
        ("isEqualString", "c:Names", "l:beta", true, true),
        ("containsString", "c:Names", "l:amm", false, true),
        ("startWith", "c:DBotScore.Indicator", "l:1.2", false, true),
        // Right list: any element too.
        ("isEqualString", "c:incident.type", "c:Names", false, false),
        ("isEqualString", "l:gamma", "c:Names", false, true),
        // Negated comparisons on a list: any element that meets them (XSOAR: "the filter
        // passes if at least one item meets the requirements").
        ("notContainsString", "c:Names", "l:amm", false, true),
        ("notContainsString", "c:Names", "l:zzz", false, true),
        ("notContainsString", "c:Names", "l:a", false, false),
        ("isNotEqualString", "c:Names", "l:alpha", false, true),
        ("isNotEqualString", "c:Names", "l:delta", false, true),
        ("isNotEqualString", "l:alpha", "l:alpha", false, false),
        ("isNotEqualString", "l:alpha", "c:Names", false, true),
        ("notStartWith", "c:Names", "l:g", false, true),
        ("notEndWith", "c:Names", "l:a", false, false),
        ("notMatch", "c:Names", "l:^a", false, true),
        ("notMatch", "c:Names", "l:a$", false, false),
        // Set operators stay the negation of the whole value.
        ("notInList", "c:Names", "l:alpha,zeta", false, false),
        // Missing left: positive operators fail, negated ones hold.
        ("containsString", "c:Missing", "l:a", false, false),
        ("notContainsString", "c:Missing", "l:a", false, true),
        ("isNotEqualString", "c:Missing", "l:a", false, true),
        ("greaterThan", "c:Missing", "l:1", false, false),
    ]);
}

#[test]
fn existence_and_emptiness() {
    check_ops(&[
        ("isExists", "c:Text", "-", false, true),
        ("isExists", "c:Empty", "-", false, true),
        ("isExists", "c:Missing", "-", false, false),
        ("isExists", "c:Endpoint.OS", "-", false, false),
        ("isNotExists", "c:Missing", "-", false, true),
        ("isNotExists", "c:Obj", "-", false, false),
        ("isEmpty", "c:Missing", "-", false, true),
        ("isEmpty", "c:Empty", "-", false, true),
        ("isEmpty", "c:EmptyList", "-", false, true),
        ("isEmpty", "c:EmptyObj", "-", false, true),
        ("isEmpty", "c:Blanks", "-", false, true),
        ("isEmpty", "c:Text", "-", false, false),
        ("isEmpty", "c:Flag", "-", false, false),
        ("isNotEmpty", "c:Names", "-", false, true),
        ("isNotEmpty", "c:Empty", "-", false, false),
        ("isNotEmpty", "c:Missing", "-", false, false),
        // A present `right: {value: {}}` on a unary operator is ignored.
        ("isNotEmpty", "c:Text", "{value: {}}", false, true),
        // `${...}` around a context path is tolerated (§10 quirk 4).
        ("isNotEmpty", "c:${Endpoint.Hostname}", "-", false, true),
    ]);
}

#[test]
fn regex_match() {
    check_ops(&[
        ("match", "c:Text", "l:^Hello\\s+W", false, true),
        ("match", "c:Text", "l:^hello", false, false),
        ("match", "c:Text", "l:^hello", true, true),
        ("match", "c:Text", "l:(?i)^HELLO", false, true),
        ("match", "c:Names", "l:^g.*a$", false, true),
        ("match", "c:Num", "l:^\\d+$", false, true),
        ("notMatch", "c:Text", "l:^\\d+$", false, true),
        ("notMatch", "c:Names", "l:^B", false, true),
        ("notMatch", "c:Names", "l:^[aBg]", false, false),
    ]);
    check_op_errors(&[(
        "match",
        "c:Text",
        "l:([a-",
        "invalid regular expression '([a-'",
    )]);
}

#[test]
fn lengths() {
    check_ops(&[
        ("stringHasLength", "c:Text", "l:11", false, true),
        ("stringHasLength", "c:Text", "l:10", false, false),
        ("stringHasLength", "c:Names", "l:4", false, true),
        ("stringHasLength", "c:Missing", "l:0", false, false),
        ("hasLength", "c:Names", "l:3", false, true),
        ("hasLength", "c:Names", "l:2", false, false),
        ("hasLength", "c:Text", "l:1", false, true),
        ("hasLength", "c:Missing", "l:0", false, true),
    ]);
    check_op_errors(&[
        (
            "stringHasLength",
            "c:Text",
            "l:long",
            "operator 'stringHasLength': 'long' is not a number",
        ),
        ("hasLength", "c:Names", "l:2.5", "2.5 is not a whole number"),
    ]);
}

#[test]
fn list_membership() {
    check_ops(&[
        (
            "inList",
            "c:incident.type",
            "l:Malware, Phishing ,Spam",
            false,
            true,
        ),
        ("inList", "c:incident.type", "l:Malware,Spam", false, false),
        (
            "inList",
            "c:incident.type",
            "l:malware,phishing",
            false,
            false,
        ),
        (
            "inList",
            "c:incident.type",
            "l:malware,phishing",
            true,
            true,
        ),
        ("inList", "l:Beta", "c:Names", false, true),
        // A list's elements are items as they are: "a,b" is one item, not two.
        ("inList", "c:Pair", "c:Pairs", false, true),
        ("inList", "l:a", "c:Pairs", false, false),
        ("inList", "l:c", "c:Pairs", false, true),
        ("inList", "c:Names", "l:x,gamma", false, true),
        ("inList", "l:google", "c:inputs.Trusted", true, true),
        (
            "notInList",
            "c:incident.type",
            "l:Malware,Spam",
            false,
            true,
        ),
        ("notInList", "c:Names", "l:alpha", false, false),
        ("in", "l:Beta", "c:Names", false, true),
        ("in", "l:Bet", "c:Names", false, false),
        ("in", "l:World", "c:Text", false, true),
        ("in", "l:world", "c:Text", true, true),
        ("notIn", "l:delta", "c:Names", false, true),
        ("notIn", "l:Hello", "c:Text", false, false),
        ("containsGeneral", "c:Names", "l:gamma", false, true),
        ("containsGeneral", "c:Names", "l:gam", false, false),
        ("containsGeneral", "c:Text", "l:o W", false, true),
        ("containsGeneral", "c:Names", "l:BETA", true, true),
        ("notContainsGeneral", "c:Names", "l:delta", false, true),
        ("notContainsGeneral", "c:Names", "l:alpha", false, false),
    ]);
}

#[test]
fn numbers() {
    check_ops(&[
        ("isEqualNumber", "c:Num", "l:42", false, true),
        ("isEqualNumber", "c:Num", "l:42.0", false, true),
        ("isEqualNumber", "c:incident.severity", "l:3", false, true),
        ("isNotEqualNumber", "c:Num", "l:41", false, true),
        ("isNotEqualNumber", "c:Num", "l: 42 ", false, false),
        ("greaterThan", "c:Num", "l:9", false, true),
        ("greaterThan", "c:Num", "l:42", false, false),
        (
            "greaterThan",
            "c:DBotScore.Score",
            "c:inputs.Threshold",
            false,
            true,
        ),
        ("greaterThan", "c:DBotScore.Score", "l:3", false, false),
        ("lessThan", "c:Nums", "l:2", false, true),
        ("lessThan", "c:Nums", "l:1", false, false),
        ("greaterThanOrEqual", "c:Nums", "l:10", false, true),
        ("greaterThanOrEqual", "c:Nums", "l:10.5", false, false),
        ("lessThanOrEqual", "c:Num", "l:42", false, true),
        ("lessThanOrEqual", "c:Num", "l:-1", false, false),
        // An empty value is no number: it cannot satisfy a comparison (but is no error).
        ("greaterThan", "c:Empty", "l:1", false, false),
        ("InRange", "c:Num", "l:1,42", false, true),
        ("InRange", "c:Num", "l:43, 50", false, false),
        ("InRange", "c:Nums", "l:1.5,2", false, true),
        ("InRange", "c:DBotScore.Score", "l:2,3", false, true),
    ]);
    check_op_errors(&[
        (
            "greaterThan",
            "c:Text",
            "l:1",
            "operator 'greaterThan': 'Hello World' is not a number",
        ),
        (
            "greaterThan",
            "c:Num",
            "l:abc",
            "operator 'greaterThan': 'abc' is not a number",
        ),
        (
            "isEqualNumber",
            "c:Obj",
            "l:1",
            "operator 'isEqualNumber': {\"a\":1} is not a number",
        ),
        ("lessThan", "c:Flag", "l:1", "true is not a number"),
        ("InRange", "c:Num", "l:5", "range must be 'min,max'"),
        ("InRange", "c:Num", "l:a,b", "'a' is not a number"),
        // A context path written as a literal (no iscontext) gets a hint.
        (
            "greaterThan",
            "l:incident.severity",
            "l:2",
            "operator 'greaterThan': 'incident.severity' is not a number (if that is a context path, mark the operand iscontext: true or write ${incident.severity})",
        ),
    ]);
}

#[test]
fn booleans() {
    check_ops(&[
        ("isTrue", "c:Flag", "-", false, true),
        ("isTrue", "l:TRUE", "-", false, true),
        ("isTrue", "c:FlagStr", "-", false, false),
        ("isTrue", "c:Missing", "-", false, false),
        ("isTrue", "c:Text", "-", false, false),
        ("isFalse", "c:FlagStr", "-", false, true),
        ("isFalse", "c:Flag", "-", false, false),
        ("isFalse", "c:Missing", "-", false, false),
    ]);
}

#[test]
fn dates() {
    check_ops(&[
        ("isAfter", "c:When", "l:2024-01-01", false, true),
        ("isAfter", "c:When", "l:2024-01-03", false, false),
        (
            "isBefore",
            "c:When",
            "l:2024-01-02T04:00:00+01:00",
            false,
            false,
        ),
        ("isBefore", "c:When", "l:2024-01-02T04:00:00Z", false, true),
        (
            "isSameAs",
            "c:When",
            "l:2024-01-02T04:04:05+01:00",
            false,
            true,
        ),
        (
            "isSameAs",
            "c:When",
            "l:Tue, 02 Jan 2024 03:04:05 GMT",
            false,
            true,
        ),
        (
            "isSameAs",
            "c:When",
            "l:Tue, 02 Jan 2024 04:04:05 +0100",
            false,
            true,
        ),
        (
            "isSameAs",
            "c:When",
            "l:Tue Jan  2 03:04:05 2024",
            false,
            true,
        ),
        (
            "isSameAs",
            "c:When",
            "l:Mon Jan  1 22:04:05 EST 2024",
            false,
            true,
        ),
        ("isSameAs", "c:When", "l:2024-01-02 03:04:05", false, true),
        // RFC 850 and RFC 822 (two-digit years as Go reads them).
        (
            "isSameAs",
            "c:When",
            "l:Tuesday, 02-Jan-24 03:04:05 UTC",
            false,
            true,
        ),
        (
            "isSameAs",
            "c:When",
            "l:02 Jan 24 03:04:05 GMT",
            false,
            true,
        ),
        (
            "isSameAs",
            "c:When",
            "l:02 Jan 24 04:04:05 +0100",
            false,
            true,
        ),
        (
            "isBefore",
            "l:02-Jan-99 00:00:00 UTC",
            "c:When",
            false,
            true,
        ),
        (
            "isSameAs",
            "c:When",
            "l:2024-01-02T03:04:05.000Z",
            false,
            true,
        ),
        ("isSameAs", "c:When", "c:Epoch", false, true),
        ("isSameAs", "c:When", "l:1704164645000", false, true),
        (
            "isSameAs",
            "c:When",
            "l:Jan 2, 2024 3:04:05 AM",
            false,
            true,
        ),
        ("isAfter", "c:Epoch", "l:2023-12-31", false, true),
    ]);
    check_op_errors(&[(
        "isAfter",
        "c:Text",
        "l:2024-01-01",
        "'Hello World' is not a date",
    )]);
}

#[test]
fn cidr_ranges() {
    check_ops(&[
        ("isInCidrRanges", "c:IP", "l:10.0.0.0/8", false, true),
        ("isInCidrRanges", "c:IP", "l:10.1.3.0/24", false, false),
        (
            "isInCidrRanges",
            "c:IP",
            "l:172.16.0.0/12, 10.1.2.0/24",
            false,
            true,
        ),
        ("isInCidrRanges", "c:IP", "l:10.1.2.3", false, true),
        ("isInCidrRanges", "c:IP", "l:0.0.0.0/0", false, true),
        ("isInCidrRanges", "c:IPs", "l:192.168.0.0/16", false, true),
        ("isInCidrRanges", "c:IP6", "l:2001:db8::/32", false, true),
        ("isInCidrRanges", "c:IP6", "l:10.0.0.0/8", false, false),
        ("notInCidrRanges", "c:IP", "l:192.168.0.0/16", false, true),
        ("notInCidrRanges", "c:IPs", "l:8.8.8.0/24", false, false),
    ]);
    check_op_errors(&[
        (
            "isInCidrRanges",
            "c:Text",
            "l:10.0.0.0/8",
            "'Hello World' is not an IP address",
        ),
        (
            "isInCidrRanges",
            "c:IP",
            "l:10.0.0.0/33",
            "'10.0.0.0/33' is not a CIDR range",
        ),
    ]);
}

#[test]
fn objects_do_not_cast_to_strings() {
    check_op_errors(&[(
        "isEqualString",
        "c:Obj",
        "l:x",
        "operator 'isEqualString': cannot convert an object to a string: {\"a\":1}",
    )]);
    check_ops(&[(
        "isIdenticalIncludingType",
        "c:incident.severity",
        "l:3",
        false,
        false,
    )]);
}

#[test]
fn prefixed_operators_are_accepted() {
    check_ops(&[
        ("general.isExists", "c:Text", "-", false, true),
        ("general.isExists", "c:Missing", "-", false, false),
        ("number.greaterThan", "c:Num", "l:41", false, true),
        ("number.isEqual", "c:Num", "l:42", false, true),
        (
            "string.isEqual",
            "c:incident.type",
            "l:Phishing",
            false,
            true,
        ),
        (
            "string.isNotEqual",
            "c:incident.type",
            "l:Phishing",
            false,
            false,
        ),
    ]);
    let cases = [
        ("general.isExists", "isExists"),
        ("string.isEqual", "isEqualString"),
        ("number.isEqual", "isEqualNumber"),
        ("number.greaterThan", "greaterThan"),
        ("general.uniq", "uniq"),
        ("isNotEmpty", "isNotEmpty"),
        (" If-Then-Else ", "If-Then-Else"),
    ];
    for (written, canonical) in cases {
        assert_eq!(normalize_operator(written), canonical, "{written}");
    }
}

#[test]
fn unknown_operator_is_an_error_naming_it() {
    check_op_errors(&[
        (
            "isEqualStrin",
            "c:Text",
            "l:x",
            "unknown operator 'isEqualStrin' (closest match: 'isEqualString'",
        ),
        (
            "greaterThen",
            "c:Num",
            "l:1",
            "closest match: 'greaterThan'",
        ),
    ]);
    // Even when a side is missing or another atom of the group would hold first.
    let err = with_scope(|scope| {
        let c = branches(
            "- label: x\n  condition:\n  - - {operator: bogus, left: {value: {simple: Missing}, iscontext: true}}",
        );
        eval_condition(&c[0].condition, scope)
    });
    assert!(
        matches!(err, Err(EvalError { message }) if message.starts_with("unknown operator 'bogus'"))
    );
}

#[test]
fn known_lists_cover_the_tables() {
    for op in [
        "isExists",
        "isNotEmpty",
        "inList",
        "InRange",
        "isInCidrRanges",
        "match",
    ] {
        assert!(known_operators().contains(&op), "{op}");
    }
    for t in [
        "uniq",
        "join",
        "DT",
        "If-Then-Else",
        "splitAndTrim",
        "FirstArrayElement",
    ] {
        assert!(known_transformers().contains(&t), "{t}");
    }
    assert_eq!(known_operators().len(), 37);
    assert_eq!(known_transformers().len(), 43);
}

// ---------------------------------------------------------------------------------------------
// Conditions (§2.7, §13 fact 1)
// ---------------------------------------------------------------------------------------------

const T: &str = "{operator: isTrue, left: {value: {simple: 'true'}}}";
const F: &str = "{operator: isTrue, left: {value: {simple: 'false'}}}";

#[test]
fn and_of_or_groups() {
    // condition: [[a, b], [c]] = (a OR b) AND c
    let table = [
        ([F, F, F], false),
        ([F, F, T], false),
        ([T, F, F], false),
        ([T, F, T], true),
        ([F, T, T], true),
        ([T, T, T], true),
        ([T, T, F], false),
    ];
    with_scope(|scope| {
        for ([a, b, c], expected) in table {
            let yaml = format!("- label: x\n  condition:\n  - - {a}\n    - {b}\n  - - {c}");
            let cond = &branches(&yaml)[0].condition;
            assert_eq!(cond.len(), 2);
            assert_eq!(eval_condition(cond, scope), Ok(expected), "{yaml}");
        }
        assert_eq!(eval_condition(&[], scope), Ok(true));
    });
}

#[test]
fn first_true_branch_wins_and_none_means_default() {
    let yaml = "
- label: High
  condition:
  - - {operator: greaterThanOrEqual, left: {value: {simple: incident.severity}, iscontext: true}, right: {value: {simple: '4'}}}
- label: Medium
  condition:
  - - {operator: greaterThanOrEqual, left: {value: {simple: incident.severity}, iscontext: true}, right: {value: {simple: '3'}}}
- label: Low
  condition:
  - - {operator: greaterThanOrEqual, left: {value: {simple: incident.severity}, iscontext: true}, right: {value: {simple: '1'}}}
";
    let b = branches(yaml);
    assert_eq!(
        with_scope(|s| choose_branch(&b, s)),
        Ok(Some("Medium".to_owned()))
    );
    let none = branches(
        "- label: yes\n  condition:\n  - - {operator: isExists, left: {value: {simple: Missing}, iscontext: true}}",
    );
    assert_eq!(with_scope(|s| choose_branch(&none, s)), Ok(None));
    let errs = branches(
        "- label: a\n  condition:\n  - - {operator: greaterThan, left: {value: {simple: Text}, iscontext: true}, right: {value: {simple: '1'}}}",
    );
    assert!(with_scope(|s| choose_branch(&errs, s)).is_err());
}

#[test]
fn condition_side_may_be_complex() {
    // §2.7's composed example: DBotScore entries with Score >= 3 exist.
    let yaml = "{operator: isExists, left: {value: {complex: {root: DBotScore, filters: [[{operator: greaterThanOrEqual, left: {value: {simple: DBotScore.Score}, iscontext: true}, right: {value: {simple: '3'}}}]]}}, iscontext: true}}";
    assert_eq!(with_scope(|s| eval_atom(&atom(yaml), s)), Ok(true));
    let yaml = yaml.replace("'3'", "'4'");
    assert_eq!(with_scope(|s| eval_atom(&atom(&yaml), s)), Ok(false));
}

// ---------------------------------------------------------------------------------------------
// Argument values (§2.6, §3.5) and operands
// ---------------------------------------------------------------------------------------------

#[test]
fn simple_arguments_interpolate() {
    check_args(&[
        ("{simple: plain text}", json!("plain text")),
        (
            "{simple: 'Incident ${incident.id} needs attention'}",
            json!("Incident 7 needs attention"),
        ),
        ("{simple: '${Names}'}", json!(["alpha", "Beta", "gamma"])),
        ("{simple: '${incident.severity}'}", json!(3)),
        (
            "{simple: 'ips: ${Endpoint.IPAddress}'}",
            json!("ips: 10.0.0.5,10.0.0.6"),
        ),
        ("{simple: '${Missing}'}", Value::Null),
        ("{simple: '${Empty}'}", Value::Null),
        ("{simple: ''}", Value::Null),
        ("{simple: 30}", json!("30")),
    ]);
}

#[test]
fn operands() {
    let op = |yaml: &str| {
        let a = atom(&format!("{{operator: isExists, left: {yaml}}}"));
        with_scope(|s| eval_operand(&a.left, s))
    };
    assert_eq!(
        op("{value: {simple: Endpoint.Hostname}, iscontext: true}"),
        Ok(Some(json!("ws-01")))
    );
    assert_eq!(
        op("{value: {simple: '${Endpoint.Hostname}'}, iscontext: true}"),
        Ok(Some(json!("ws-01")))
    );
    assert_eq!(
        op("{value: {simple: Endpoint.Hostname}}"),
        Ok(Some(json!("Endpoint.Hostname")))
    );
    assert_eq!(
        op("{value: {simple: 'host ${Endpoint.Hostname}'}}"),
        Ok(Some(json!("host ws-01")))
    );
    assert_eq!(op("{value: {simple: ''}}"), Ok(Some(json!(""))));
    assert_eq!(op("{value: {}}"), Ok(None));
    assert_eq!(
        op("{value: {simple: Missing.Path}, iscontext: true}"),
        Ok(None)
    );
    assert_eq!(
        op("{value: {complex: {root: Endpoint, accessor: IPAddress}}, iscontext: true}"),
        Ok(Some(json!(["10.0.0.5", "10.0.0.6"])))
    );
}

// ---------------------------------------------------------------------------------------------
// Complex values (§3.6, §13 fact 5)
// ---------------------------------------------------------------------------------------------

#[test]
fn complex_root_and_accessor() {
    check_args(&[
        ("{complex: {root: Endpoint.Hostname}}", json!("ws-01")),
        (
            "{complex: {root: Tasks, accessor: id}}",
            json!(["1", "2", "3"]),
        ),
        (
            "{complex: {root: DBotScore, accessor: Indicator}}",
            json!(["8.8.8.8", "1.2.3.4"]),
        ),
        (
            "{complex: {root: Endpoint, accessor: IPAddress}}",
            json!(["10.0.0.5", "10.0.0.6"]),
        ),
        // The `${Endpoint` / `Hostname}` split is repaired by the loader (§10 quirk 5).
        (
            "{complex: {root: '${Endpoint', accessor: 'Hostname}'}}",
            json!("ws-01"),
        ),
        ("{complex: {root: Objs, accessor: k}}", json!(["x", "y"])),
        ("{complex: {root: Missing, accessor: k}}", Value::Null),
        ("{complex: {root: inputs.TaskName}}", json!("Wait")),
    ]);
}

#[test]
fn filters_are_relative_to_the_root_element() {
    // Wait And Complete Task By Status: ids of the tasks named like the TaskName input.
    let wait = "
complex:
  root: Tasks
  filters:
  - - operator: isEqualString
      left:
        value:
          simple: Tasks.name
        iscontext: true
      right:
        value:
          simple: inputs.TaskName
        iscontext: true
  accessor: id
";
    check_args(&[(wait, json!("1"))]);
    check_args(&[(
        &wait.replace(
            "iscontext: true\n  accessor",
            "iscontext: true\n      ignorecase: true\n  accessor",
        ),
        json!(["1", "3"]),
    )]);
    check_args(&[
        // `root: Tasks.name` with left `Tasks.name`: the element itself.
        ("{complex: {root: Tasks.name, filters: [[{operator: startWith, left: {value: {simple: Tasks.name}, iscontext: true}, right: {value: {simple: W}}}]]}}", json!("Wait")),
        // Filters and accessor: Score >= 2 keeps one entry.
        ("{complex: {root: DBotScore, filters: [[{operator: greaterThanOrEqual, left: {value: {simple: DBotScore.Score}, iscontext: true}, right: {value: {simple: '2'}}}]], accessor: Indicator}}", json!("1.2.3.4")),
        // A filter that keeps nothing gives nothing.
        ("{complex: {root: DBotScore, filters: [[{operator: greaterThan, left: {value: {simple: DBotScore.Score}, iscontext: true}, right: {value: {simple: '5'}}}]], accessor: Indicator}}", Value::Null),
        // `${...}` around a relative path.
        ("{complex: {root: Tasks, filters: [[{operator: isEqualString, left: {value: {simple: '${Tasks.state}'}, iscontext: true}, right: {value: {simple: Completed}}}]], accessor: name}}", json!("Other")),
        // A root with a selector still matches filter paths written without it.
        ("{complex: {root: \"Tasks(val.state == 'Waiting')\", filters: [[{operator: isEqualString, left: {value: {simple: 'Tasks.parentPlaybookID'}, iscontext: true}, right: {value: {simple: p2}}}]], accessor: id}}", json!("3")),
        // A relative path may carry its own selector.
        (
            "{complex: {root: Tasks, filters: [[{operator: isEqualString, left: {value: {simple: \"Tasks(val.state == 'Waiting').name\"}, iscontext: true}, right: {value: {simple: wait}}}]], accessor: id}}",
            json!("3"),
        ),
        // A context side outside the root is global: every element passes or none does.
        ("{complex: {root: Names, filters: [[{operator: isEqualString, left: {value: {simple: incident.type}, iscontext: true}, right: {value: {simple: Phishing}}}]]}}", json!(["alpha", "Beta", "gamma"])),
        ("{complex: {root: Names, filters: [[{operator: isEqualString, left: {value: {simple: Names}, iscontext: true}, right: {value: {simple: gamma}}}]]}}", json!("gamma")),
    ]);
}

#[test]
fn filters_nest_as_and_of_or() {
    // (state == Waiting OR name == Other) AND parentPlaybookID == p1 → tasks 1 and 2.
    let yaml = "
complex:
  root: Tasks
  filters:
  - - {operator: isEqualString, left: {value: {simple: Tasks.state}, iscontext: true}, right: {value: {simple: Waiting}}}
    - {operator: isEqualString, left: {value: {simple: Tasks.name}, iscontext: true}, right: {value: {simple: Other}}}
  - - {operator: isEqualString, left: {value: {simple: Tasks.parentPlaybookID}, iscontext: true}, right: {value: {simple: p1}}}
  accessor: id
";
    check_args(&[(yaml, json!(["1", "2"]))]);
    // A cast failure inside a filter is an error, not a dropped element.
    let bad = "{complex: {root: Tasks, filters: [[{operator: greaterThan, left: {value: {simple: Tasks.name}, iscontext: true}, right: {value: {simple: '1'}}}]]}}";
    assert_eq!(
        eval(bad).map_err(|e| e.message),
        Err("operator 'greaterThan': 'Wait' is not a number".to_owned())
    );
}

// ---------------------------------------------------------------------------------------------
// Transformers (§7.3)
// ---------------------------------------------------------------------------------------------

#[test]
fn string_transformers() {
    check_transformers(&[
        ("Text", "[{operator: toUpperCase}]", json!("HELLO WORLD")),
        ("Names", "[{operator: toLowerCase}]", json!(["alpha", "beta", "gamma"])),
        ("Padded", "[{operator: trim}]", json!("padded")),
        ("Num", "[{operator: toUpperCase}]", json!("42")),
        ("Text", "[{operator: replace, args: {toReplace: {value: {simple: o}}, replaceWith: {value: {simple: '0'}}}}]", json!("Hell0 W0rld")),
        ("Text", "[{operator: replace, args: {toReplace: {value: {simple: o}}, replaceWith: {value: {simple: '0'}}, limit: {value: {simple: '1'}}}}]", json!("Hell0 World")),
        ("Text", "[{operator: replace, args: {toReplace: {value: {simple: ' '}}}}]", json!("HelloWorld")),
        ("Text", "[{operator: replaceMatch, args: {regex: {value: {simple: '(\\w+) (\\w+)'}}, replaceWith: {value: {simple: '$2 $1'}}}}]", json!("World Hello")),
        ("Names", "[{operator: concat, args: {prefix: {value: {simple: '<'}}, suffix: {value: {simple: '>'}}}}]", json!(["<alpha>", "<Beta>", "<gamma>"])),
        ("Endpoint.Hostname", "[{operator: concat, args: {prefix: {value: {simple: incident.id}, iscontext: true}}}]", json!("7ws-01")),
        ("Text", "[{operator: substring, args: {from: {value: {simple: '1'}}, to: {value: {simple: '4'}}}}]", json!("ell")),
        ("Text", "[{operator: substringFrom, args: {from: {value: {simple: '6'}}}}]", json!("World")),
        ("Text", "[{operator: substringTo, args: {to: {value: {simple: '5'}}}}]", json!("Hello")),
        ("Names", "[{operator: substringTo, args: {to: {value: {simple: '-1'}}}}]", json!(["alph", "Bet", "gamm"])),
    ]);
}

#[test]
fn list_transformers() {
    check_transformers(&[
        ("Csv", "[{operator: split, args: {delimiter: {value: {simple: ','}}}}]", json!(["a", " b ", "c"])),
        ("Csv", "[{operator: splitAndTrim, args: {delimiter: {value: {simple: ','}}}}]", json!(["a", "b", "c"])),
        // Empty pieces stay, so the pieces after them keep their index.
        ("Holes", "[{operator: splitAndTrim, args: {delimiter: {value: {simple: ','}}}}]", json!(["a", "", "b", ""])),
        ("Holes", "[{operator: splitAndTrim, args: {delimiter: {value: {simple: ','}}}}, {operator: atIndex, args: {index: {value: {simple: '2'}}}}]", json!("b")),
        ("Names", "[{operator: join, args: {separator: {value: {simple: ', '}}}}]", json!("alpha, Beta, gamma")),
        ("Names", "[{operator: join, args: {separator: {value: {simple: inputs.Sep}, iscontext: true}}}]", json!("alpha-Beta-gamma")),
        ("Names", "[{operator: indexOf, args: {item: {value: {simple: gamma}}}}]", json!(2)),
        ("Names", "[{operator: indexOf, args: {item: {value: {simple: delta}}}}]", json!(-1)),
        ("Names", "[{operator: atIndex, args: {index: {value: {simple: '1'}}}}]", json!("Beta")),
        ("Names", "[{operator: atIndex, args: {index: {value: {simple: '-1'}}}}]", json!("gamma")),
        ("Names", "[{operator: atIndex, args: {index: {value: {simple: '9'}}}}]", Value::Null),
        ("Dupes", "[{operator: slice, args: {from: {value: {simple: '1'}}, to: {value: {simple: '3'}}}}]", json!(["b", "a"])),
        ("Dupes", "[{operator: slice, args: {from: {value: {simple: '-2'}}}}]", json!(["c", "b"])),
        ("Dupes", "[{operator: sliceByItem, args: {from: {value: {simple: b}}, to: {value: {simple: c}}}}]", json!(["b", "a"])),
        ("Dupes", "[{operator: sliceByItem, args: {from: {value: {simple: c}}}}]", json!(["c", "b"])),
        ("Dupes", "[{operator: uniq}]", json!(["a", "b", "c"])),
        ("Dupes", "[{operator: general.uniq}, {operator: count}]", json!(3)),
        ("Text", "[{operator: count}]", json!(1)),
        ("Missing", "[{operator: count}]", json!(0)),
        ("Names", "[{operator: sort}]", json!(["Beta", "alpha", "gamma"])),
        ("Nums", "[{operator: sort}]", json!([1.5, 3, "10"])),
        ("Nums", "[{operator: sort, args: {descending: {value: {simple: 'true'}}}}]", json!(["10", 3, 1.5])),
        ("Names", "[{operator: append, args: {item: {value: {simple: delta}}}}]", json!(["alpha", "Beta", "gamma", "delta"])),
        ("Text", "[{operator: append, args: {item: {value: {simple: Names}, iscontext: true}}}]", json!(["Hello World", "alpha", "Beta", "gamma"])),
        ("Missing", "[{operator: append, args: {item: {value: {simple: '${Endpoint.Hostname}'}, iscontext: true}}}]", json!("ws-01")),
        ("Objs", "[{operator: getField, args: {field: {value: {simple: k}}}}]", json!(["x", "y"])),
        ("Names", "[{operator: FirstArrayElement}]", json!("alpha")),
        ("Names", "[{operator: LastArrayElement}]", json!("gamma")),
        ("Text", "[{operator: FirstArrayElement}]", json!("Hello World")),
        ("Objs", "[{operator: GetFirstObject}]", json!({"k": "x", "n": 1})),
        ("Obj", "[{operator: Stringify}]", json!("{\"a\":1}")),
        ("Text", "[{operator: Stringify}]", json!("Hello World")),
        // Nothing passes through most transformers.
        ("Missing", "[{operator: toUpperCase}, {operator: join}]", Value::Null),
    ]);
}

#[test]
fn arithmetic_transformers() {
    check_transformers(&[
        ("Num", "[{operator: addition, args: {by: {value: {simple: '8'}}}}]", json!(50)),
        ("Nums", "[{operator: subtraction, args: {by: {value: {simple: '1'}}}}]", json!([2, 9, 0.5])),
        ("Num", "[{operator: multiply, args: {by: {value: {simple: '0.5'}}}}]", json!(21)),
        ("Num", "[{operator: division, args: {by: {value: {simple: '8'}}}}]", json!(5.25)),
        ("Num", "[{operator: modulus, args: {by: {value: {simple: '5'}}}}]", json!(2)),
        ("Num", "[{operator: division, args: {by: {value: {simple: '8'}}}}, {operator: round}]", json!(5)),
        ("Num", "[{operator: division, args: {by: {value: {simple: '9'}}}}, {operator: round, args: {decimals: {value: {simple: '2'}}}}]", json!(4.67)),
        ("Num", "[{operator: multiply, args: {by: {value: {simple: '-1'}}}}, {operator: abs}]", json!(42)),
        ("DBotScore.Score", "[{operator: addition, args: {by: {value: {simple: inputs.Threshold}, iscontext: true}}}]", json!([3, 5])),
    ]);
}

#[test]
fn encoding_transformers() {
    check_transformers(&[
        ("Json", "[{operator: ParseJSON}]", json!({"x": [1, 2]})),
        (
            "Json",
            "[{operator: ParseJSON}, {operator: getField, args: {field: {value: {simple: x}}}}]",
            json!([1, 2]),
        ),
        (
            "Text",
            "[{operator: Base64Encode}]",
            json!("SGVsbG8gV29ybGQ="),
        ),
        ("B64", "[{operator: Base64Decode}]", json!("hello world")),
        (
            "Text",
            "[{operator: Base64Encode}, {operator: Base64Decode}]",
            json!("Hello World"),
        ),
        ("Text", "[{operator: URLEncode}]", json!("Hello%20World")),
        ("Encoded", "[{operator: URLDecode}]", json!("a b/c")),
        (
            "Encoded",
            "[{operator: URLDecode}, {operator: URLEncode}]",
            json!("a%20b/c"),
        ),
    ]);
}

#[test]
fn date_transformers() {
    check_transformers(&[
        ("Epoch", "[{operator: TimeStampToDate}]", json!("2024-01-02T03:04:05Z")),
        ("When", "[{operator: FormattedDateToEpoch}]", json!(1704164645)),
        ("When", "[{operator: ModifyDateTime, args: {variation: {value: {simple: 1 day}}}}]", json!("2024-01-03T03:04:05Z")),
        ("When", "[{operator: ModifyDateTime, args: {variation: {value: {simple: -2 hours}}}}]", json!("2024-01-02T01:04:05Z")),
        ("When", "[{operator: ModifyDateTime, args: {variation: {value: {simple: 3 days ago}}}}]", json!("2023-12-30T03:04:05Z")),
        ("When", "[{operator: ModifyDateTime, args: {variation: {value: {simple: 'in 1 week, 30 minutes'}}}}]", json!("2024-01-09T03:34:05Z")),
    ]);
    check_args(&[(
        "{complex: {root: incident.id, transformers: [{operator: DateStringToISOFormat}]}}",
        json!("1970-01-01T00:00:07Z"),
    )]);
    let yaml = "{complex: {root: inputs.When, transformers: [{operator: DateStringToISOFormat}]}}";
    let got = {
        let (ctx, inp) = (
            context(),
            json!({"When": "Tue, 02 Jan 2024 04:04:05 +0100"}),
        );
        let scope = Scope::new(&ctx).with_root("inputs", &inp);
        eval_arg(&arg(yaml), &scope)
    };
    assert_eq!(got, Ok(Some(json!("2024-01-02T04:04:05+01:00"))));
    check_transformer_errors(&[
        (
            "Text",
            "[{operator: DateStringToISOFormat}]",
            "transformer 'DateStringToISOFormat': 'Hello World' is not a date",
        ),
        (
            "When",
            "[{operator: ModifyDateTime, args: {variation: {value: {simple: 2 fortnights}}}}]",
            "'2 fortnights' is not a time variation",
        ),
    ]);
}

#[test]
fn dt_transformer() {
    check_transformers(&[
        (
            "Text",
            "[{operator: DT, args: {dt: {value: {simple: '.=val.toLowerCase()'}}}}]",
            json!("hello world"),
        ),
        (
            "Text",
            "[{operator: DT, args: {dt: {value: {simple: '${.=val.toUpperCase()}'}}}}]",
            json!("HELLO WORLD"),
        ),
        (
            "Names",
            "[{operator: DT, args: {dt: {value: {simple: '${.=val.length}'}}}}]",
            json!(3),
        ),
        (
            "Objs",
            "[{operator: DT, args: {dt: {value: {simple: 'k'}}}}]",
            json!(["x", "y"]),
        ),
        (
            "Endpoint",
            "[{operator: DT, args: {dt: {value: {simple: '${IPAddress.[1]}'}}}}]",
            json!("10.0.0.6"),
        ),
    ]);
}

#[test]
fn if_then_else_transformer() {
    check_transformers(&[
        ("incident.type", "[{operator: If-Then-Else, args: {equals: {value: {simple: Phishing}}, then: {value: {simple: phish}}, else: {value: {simple: other}}}}]", json!("phish")),
        ("incident.name", "[{operator: If-Then-Else, args: {equals: {value: {simple: Phishing}}, then: {value: {simple: phish}}, else: {value: {simple: other}}}}]", json!("other")),
        ("Missing", "[{operator: If-Then-Else, args: {equals: {value: {simple: ''}}, then: {value: {simple: none}}}}]", json!("none")),
        ("Text", "[{operator: If-Then-Else, args: {equals: {value: {simple: x}}, then: {value: {simple: y}}}}]", json!("Hello World")),
        ("Num", "[{operator: If-Then-Else, args: {condition: {value: {simple: lhs==rhs}}, rhs: {value: {simple: '42'}}, then: {value: {simple: yes}}, else: {value: {simple: no}}}}]", json!("yes")),
    ]);
}

#[test]
fn transformer_cast_failures_and_unknown_ids_are_errors() {
    check_transformer_errors(&[
        (
            "Obj",
            "[{operator: toUpperCase}]",
            "transformer 'toUpperCase' cannot convert an object to a string: {\"a\":1}",
        ),
        (
            "Objs",
            "[{operator: toLowerCase}]",
            "transformer 'toLowerCase' cannot convert an object to a string",
        ),
        (
            "Text",
            "[{operator: addition, args: {by: {value: {simple: '1'}}}}]",
            "transformer 'addition': 'Hello World' is not a number",
        ),
        (
            "Num",
            "[{operator: addition, args: {by: {value: {simple: x}}}}]",
            "transformer 'addition': argument 'by': 'x' is not a number",
        ),
        (
            "Num",
            "[{operator: division, args: {by: {value: {simple: '0'}}}}]",
            "transformer 'division': division by zero",
        ),
        ("Num", "[{operator: addition}]", "argument 'by' is required"),
        (
            "Text",
            "[{operator: toUpperCse}]",
            "unknown transformer 'toUpperCse' (closest match: 'toUpperCase'",
        ),
        (
            "Text",
            "[{operator: replaceMatch, args: {regex: {value: {simple: '(['}}}}]",
            "transformer 'replaceMatch': invalid regular expression '(['",
        ),
        (
            "Text",
            "[{operator: ParseJSON}]",
            "transformer 'ParseJSON': 'Hello World' is not JSON",
        ),
        (
            "Text",
            "[{operator: Base64Decode}]",
            "transformer 'Base64Decode': 'Hello World' is not base64",
        ),
        (
            "Names",
            "[{operator: atIndex, args: {index: {value: {simple: one}}}}]",
            "argument 'index': 'one' is not a number",
        ),
    ]);
}

// ---------------------------------------------------------------------------------------------
// Corpus playbooks
// ---------------------------------------------------------------------------------------------

fn corpus(name: &str) -> Playbook {
    let path = format!(
        "{}/../../tests/data/corpus/playbooks/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => panic!("{path}: {e}"),
    };
    load(&text)
}

#[test]
fn corpus_wait_and_complete_task_by_status() {
    let pb = corpus("Wait_And_Complete_Task_By_Status.yml");
    let task = |id: &str| match pb.tasks.get(id) {
        Some(t) => t.clone(),
        None => panic!("no task {id}"),
    };
    let ctx = context();
    for (task_name, label, ids, names) in [
        ("Wait", Some("yes"), json!("1"), json!("Wait")),
        ("Nope", None, Value::Null, Value::Null),
    ] {
        let inp = json!({"TaskName": task_name});
        let scope = Scope::new(&ctx).with_root("inputs", &inp);
        assert_eq!(
            choose_branch(&task("7").conditions, &scope),
            Ok(label.map(str::to_owned))
        );
        let id = eval_arg(&task("8").script_arguments["id"], &scope);
        assert_eq!(id, Ok(Some(ids).filter(|v| !v.is_null())));
        let value = eval_arg(&task("9").script_arguments["value"], &scope);
        assert_eq!(value, Ok(Some(names).filter(|v| !v.is_null())));
    }
    let scope = Scope::new(&ctx);
    assert_eq!(
        choose_branch(&task("2").conditions, &scope),
        Ok(Some("yes".to_owned()))
    );
    assert_eq!(
        eval_arg(&task("3").script_arguments["parentPlaybookID"], &scope),
        Ok(Some(json!(["p1", "p1", "p2"])))
    );
}

#[test]
fn corpus_calculate_severity_prefixed_operators() {
    let pb = corpus("playbook-Calculate_Severity_-_Indicators_DBotScore.yml");
    let Some(task) = pb
        .tasks
        .values()
        .find(|t| t.conditions.iter().any(|b| b.label == "High"))
    else {
        panic!("no severity condition task");
    };
    for (scores, expected) in [
        (json!([{"Score": 1}, {"Score": 3}]), Some("High")),
        (json!([{"Score": 1}, {"Score": "2"}]), Some("Medium")),
        (json!({"Score": 1}), Some("Low")),
        (json!([{"Score": 0}]), None),
        (json!([]), None),
    ] {
        let ctx = json!({"DBotScore": scores});
        let scope = Scope::new(&ctx);
        assert_eq!(
            choose_branch(&task.conditions, &scope),
            Ok(expected.map(str::to_owned)),
            "{ctx}"
        );
    }
}

#[test]
fn operator_and_transformer_ids_resolve_as_when_they_run() {
    assert_eq!(resolve_operator("general.isExists"), Ok("isExists"));
    assert_eq!(resolve_operator("string.isEqual"), Ok("isEqualString"));
    assert_eq!(resolve_operator("isnotempty"), Ok("isNotEmpty"));
    assert_eq!(resolve_operator("greaterThen"), Err("greaterThan"));
    assert_eq!(resolve_transformer("general.uniq"), Ok("uniq"));
    assert_eq!(resolve_transformer("toUpperCse"), Err("toUpperCase"));
    // Every known id resolves to itself.
    for op in known_operators() {
        assert_eq!(resolve_operator(op), Ok(*op));
    }
    for t in known_transformers() {
        assert_eq!(resolve_transformer(t), Ok(*t));
    }
}
