//! `${...}` interpolation (§3.5) and the template string form.

use serde_json::{json, Value};
use xsoar_context::{interpolate, to_display_string, Interpolated, Scope};

fn context() -> Value {
    json!({
        "File": {"MD5": "abc", "Size": 10},
        "Files": [{"Name": "a.txt"}, {"Name": "b.txt"}],
        "Empty": "",
        "Num": 3,
        "Float": 2.5,
        "Flag": false,
        "List": ["x", 1, null, true, {"k": "v"}, ["n", 2]],
        "Cert": [{"Subject": "a}b", "id": 1}, {"Subject": "c", "id": 2}],
        "Brace": {"a{b": "odd"},
        "User's name": "quoted"
    })
}

/// Interpolates each template against the context and compares.
fn check(rows: &[(&str, Interpolated)]) {
    let ctx = context();
    let incident = json!({"name": "Disk full", "severity": 3});
    let scope = Scope::new(&ctx).with_root("incident", &incident);
    for (template, expected) in rows {
        let got = interpolate(template, &scope).unwrap_or_else(|e| panic!("{template}: {e}"));
        assert_eq!(&got, expected, "template {template:?}");
    }
}

fn v(x: Value) -> Interpolated {
    Interpolated::Value(x)
}

fn s(x: &str) -> Interpolated {
    Interpolated::Value(Value::String(x.to_owned()))
}

#[test]
fn whole_value_rule_returns_raw_json() {
    check(&[
        ("${File}", v(json!({"MD5": "abc", "Size": 10}))),
        ("  ${File}  ", v(json!({"MD5": "abc", "Size": 10}))),
        ("${Files.Name}", v(json!(["a.txt", "b.txt"]))),
        ("${Num}", v(json!(3))),
        ("${Flag}", v(json!(false))),
        ("${incident.severity}", v(json!(3))),
        ("${Files(val.Name == 'b.txt').Name}", v(json!("b.txt"))),
        // Nothing and the empty string are "not supplied".
        ("${Missing}", Interpolated::Missing),
        ("${Empty}", Interpolated::Missing),
        ("${File.Nope}", Interpolated::Missing),
    ]);
}

#[test]
fn template_rule_stringifies() {
    check(&[
        ("name: ${incident.name}", s("name: Disk full")),
        ("${Num} files", s("3 files")),
        ("${Float}/${Flag}", s("2.5/false")),
        ("files=${Files.Name}", s("files=a.txt,b.txt")),
        ("obj=${File}", s("obj={\"MD5\":\"abc\",\"Size\":10}")),
        ("list=${List}", s("list=x,1,,true,{\"k\":\"v\"},n,2")),
        ("[${Missing}]", s("[]")),
        ("${Missing}${Empty}", Interpolated::Missing),
        ("  ", s("  ")),
        ("", Interpolated::Missing),
        ("no dollars", s("no dollars")),
        ("${Num}${Num}", s("33")),
        // DT inside JSON text (§10.12).
        (
            "{\"username\":\"${incident.name}\"}",
            s("{\"username\":\"Disk full\"}"),
        ),
    ]);
}

#[test]
fn braces_parentheses_and_quotes_inside_selectors() {
    check(&[
        // A `}` inside a quoted string in a selector does not end the expression.
        ("${Cert(val.Subject == 'a}b').id}", v(json!(1))),
        ("id=${Cert(val.Subject == \"a}b\").id}!", s("id=1!")),
        // Nested braces (an object literal in a mutator) and parentheses.
        (
            "${Cert(val.id > 1)={\"s\": val.Subject}}",
            v(json!({"s": "c"})),
        ),
        (
            "${Cert((val.id == 1) || (val.id == 3)).Subject}",
            v(json!("a}b")),
        ),
        ("${Cert=val.Subject + '}'}", v(json!(["a}b}", "c}"]))),
        // An apostrophe in a plain name is just a character.
        ("${User's name}", v(json!("quoted"))),
        ("hi ${User's name}", s("hi quoted")),
    ]);
}

#[test]
fn unbalanced_dollar_brace_stays_literal() {
    check(&[
        ("${Num", s("${Num")),
        ("cost: ${", s("cost: ${")),
        ("a ${Num} b ${File", s("a 3 b ${File")),
        ("${Num ${Num}", s("${Num 3")),
        ("$ {Num}", s("$ {Num}")),
        ("$${Num}", s("$3")),
        (
            "${Cert(val.Subject == 'a}b'}",
            s("${Cert(val.Subject == 'a}b'}"),
        ),
    ]);
}

#[test]
fn broken_expression_inside_a_template_is_an_error() {
    let ctx = context();
    let scope = Scope::new(&ctx);
    let e = interpolate("x ${Cert(val.id ==).id} y", &scope).unwrap_err();
    assert_eq!(e.expression, "Cert(val.id ==).id");
    assert!(e.message.contains("does not compile"), "{e}");
}

#[test]
fn display_strings() {
    let rows: &[(Value, &str)] = &[
        (json!("plain"), "plain"),
        (json!(""), ""),
        (json!(null), ""),
        (json!(7), "7"),
        (json!(-1.5), "-1.5"),
        (json!(true), "true"),
        (json!(["a", 1, null, false]), "a,1,,false"),
        (json!([["a", "b"], ["c"]]), "a,b,c"),
        (json!([]), ""),
        (json!({"b": 1, "a": [1, 2]}), "{\"b\":1,\"a\":[1,2]}"),
        (json!([{"k": "v"}]), "{\"k\":\"v\"}"),
        (json!("ünïcødé ✓"), "ünïcødé ✓"),
    ];
    for (value, expected) in rows {
        assert_eq!(to_display_string(value), *expected, "{value}");
    }
}

/// The syntax check finds what evaluation would reject, and accepts everything evaluation
/// accepts: paths with selectors and mutators, one enclosing `${...}`, literal text and an
/// unclosed `${` (which interpolation keeps as text).
#[test]
fn syntax_checks_agree_with_evaluation() {
    use xsoar_context::{check_path, check_template, eval_path};
    let ctx = context();
    let scope = Scope::new(&ctx);
    for ok in [
        "",
        "File.MD5",
        "${File.MD5}",
        "Files(val.Name == 'a.txt').Name",
        "Files.[0]",
        "Cert(val.Subject == 'a}b')",
        "File.MD5=val.toUpperCase()",
    ] {
        assert_eq!(check_path(ok), Ok(()), "{ok:?}");
        assert!(eval_path(ok, &scope).is_ok(), "{ok:?}");
    }
    for bad in [
        "incident.[severity",
        "Files(val.Name == 'a.txt'",
        "Files().Name",
    ] {
        let checked = check_path(bad).expect_err(bad);
        let evaluated = eval_path(bad, &scope).expect_err(bad);
        assert_eq!(checked, evaluated, "{bad:?}");
    }
    for ok in [
        "plain text",
        "${File.MD5} and ${Num}",
        "keeps ${ open",
        "a ${} b",
    ] {
        assert_eq!(check_template(ok), Ok(()), "{ok:?}");
    }
    let err = check_template("size ${File.Size} of ${Files().Name}").expect_err("bad");
    assert_eq!(err.expression, "Files().Name");
    assert_eq!(err.message, "empty selector");
}

#[test]
fn unclosed_interpolations_are_described_with_their_columns() {
    use xsoar_context::unclosed_interpolation;
    for closed in [
        "plain",
        "${a.b}",
        "x ${a(val.b == 'c')} ${d}",
        "$ {x}",
        "${a} and $",
    ] {
        assert_eq!(unclosed_interpolation(closed), None, "{closed:?}");
    }
    assert_eq!(
        unclosed_interpolation("sev ${incident.[severity}").as_deref(),
        Some(
            "the '${' at column 5 is never closed; the '[' at column 16 inside it is never closed, \
             so the value is used as literal text"
        )
    );
    assert_eq!(
        unclosed_interpolation("${ok} ${missing").as_deref(),
        Some("the '${' at column 7 is never closed, so the value is used as literal text")
    );
    // Columns count characters, not bytes.
    assert!(unclosed_interpolation("é ${a(")
        .is_some_and(|m| m.contains("column 3") && m.contains("'(' at column 6")));
}
