//! Filter / condition operators (§7.4).
//!
//! Every operator works on the two evaluated sides of an atom. The rules that keep this
//! predictable:
//!
//! * **Lists on a one-value side:** the left side is flattened into its elements and the atom
//!   holds when *any* element satisfies the operator (with any element of a list on the right
//!   side, where the right side is a single value too).
//! * **Negated comparisons hold element by element, like the others.** XSOAR's rule — a list
//!   on a one-value side passes when at least one item meets the operator — applies to
//!   `isNotEqualString`, `notContainsString`, `notStartWith`, `notEndWith`, `notMatch` and
//!   `isNotEqualNumber` too: `["a", "b"]` doesn't equal `"a"` holds, because `"b"` doesn't.
//!   When a side has no value at all (missing, `null`, `[]`) they are the negation of their
//!   positive form, so nothing does not contain `x`. The set operators (`isNotExists`,
//!   `isNotEmpty`, `notInList`, `notIn`, `notContainsGeneral`, `notInCidrRanges`) are always
//!   that negation: they are about the whole value.
//! * **Casting:** strings are compared by their text (numbers and booleans by their JSON form);
//!   numeric and date operators parse strings. A value that cannot be cast (an object compared
//!   as a string, `"abc"` compared as a number, an unparsable date, an invalid IP or regex) is
//!   an error naming the operator and the value, not `false`. Missing values, `null` and
//!   empty strings are skipped (they cannot satisfy a comparison) rather than failing the cast.
//! * `ignorecase` lowers both sides of string comparisons and makes regexes case-insensitive.

use std::net::IpAddr;

use serde_json::Value;
use time::OffsetDateTime;

use super::{dates, show, EvalError};

/// Canonical operator ids.
pub(crate) const OPERATORS: &[&str] = &[
    "isExists",
    "isNotExists",
    "isEmpty",
    "isNotEmpty",
    "isEqualString",
    "isNotEqualString",
    "containsString",
    "notContainsString",
    "startWith",
    "endWith",
    "notStartWith",
    "notEndWith",
    "match",
    "notMatch",
    "stringHasLength",
    "inList",
    "notInList",
    "in",
    "notIn",
    "containsGeneral",
    "notContainsGeneral",
    "isEqualNumber",
    "isNotEqualNumber",
    "greaterThan",
    "lessThan",
    "greaterThanOrEqual",
    "lessThanOrEqual",
    "InRange",
    "isTrue",
    "isFalse",
    "isAfter",
    "isBefore",
    "isSameAs",
    "isInCidrRanges",
    "notInCidrRanges",
    "hasLength",
    "isIdenticalIncludingType",
];

/// Applies a resolved operator (an entry of [`OPERATORS`]).
pub(crate) fn apply(
    op: &'static str,
    left: Option<Value>,
    right: Option<Value>,
    ignore_case: bool,
) -> Result<bool, EvalError> {
    let positive = match op {
        "isNotExists" => "isExists",
        "isNotEmpty" => "isEmpty",
        "isNotEqualString" => "isEqualString",
        "notContainsString" => "containsString",
        "notStartWith" => "startWith",
        "notEndWith" => "endWith",
        "notMatch" => "match",
        "notInList" => "inList",
        "notIn" => "in",
        "notContainsGeneral" => "containsGeneral",
        "isNotEqualNumber" => "isEqualNumber",
        "notInCidrRanges" => "isInCidrRanges",
        other => other,
    };
    let cx = Cx { op, ignore_case };
    if ELEMENTWISE_NEGATIONS.contains(&op) {
        let (ls, rs) = (flatten(left.as_ref()), flatten(right.as_ref()));
        if !ls.is_empty() && !rs.is_empty() {
            for l in &ls {
                for r in &rs {
                    if !cx.positive(positive, Some(l), Some(r))? {
                        return Ok(true);
                    }
                }
            }
            return Ok(false);
        }
    }
    let holds = cx.positive(positive, left.as_ref(), right.as_ref())?;
    Ok(if positive == op { holds } else { !holds })
}

/// Negated comparisons that hold when any element of a list side meets them (module docs).
const ELEMENTWISE_NEGATIONS: &[&str] = &[
    "isNotEqualString",
    "notContainsString",
    "notStartWith",
    "notEndWith",
    "notMatch",
    "isNotEqualNumber",
];

/// The operator being applied (as written in error messages) and its flags.
struct Cx {
    op: &'static str,
    ignore_case: bool,
}

impl Cx {
    fn err(&self, what: String) -> EvalError {
        EvalError::new(format!("operator '{}': {what}", self.op))
    }

    fn positive(&self, op: &str, l: Option<&Value>, r: Option<&Value>) -> Result<bool, EvalError> {
        match op {
            "isExists" => Ok(matches!(l, Some(v) if !v.is_null())),
            "isEmpty" => Ok(l.is_none_or(is_empty)),
            "isEqualString" => self.any_text(l, r, |a, b| a == b),
            "containsString" => self.any_text(l, r, |a, b| a.contains(b)),
            "startWith" => self.any_text(l, r, |a, b| a.starts_with(b)),
            "endWith" => self.any_text(l, r, |a, b| a.ends_with(b)),
            "match" => self.matches(l, r),
            "stringHasLength" => {
                let Some(n) = self.integer(r)? else {
                    return Ok(false);
                };
                Ok(self.texts(l)?.iter().any(|s| s.chars().count() as i64 == n))
            }
            "hasLength" => {
                let Some(n) = self.integer(r)? else {
                    return Ok(false);
                };
                let len = match l {
                    None | Some(Value::Null) => 0,
                    Some(Value::Array(a)) => a.len(),
                    Some(_) => 1,
                };
                Ok(len as i64 == n)
            }
            "inList" => {
                let list = self.csv_list(r)?;
                Ok(self
                    .texts(l)?
                    .iter()
                    .any(|s| list.iter().any(|item| item == s)))
            }
            "in" => self.contained(l, r),
            "containsGeneral" => self.contained(r, l),
            "isEqualNumber" => self.any_number(l, r, |a, b| a == b),
            "greaterThan" => self.any_number(l, r, |a, b| a > b),
            "lessThan" => self.any_number(l, r, |a, b| a < b),
            "greaterThanOrEqual" => self.any_number(l, r, |a, b| a >= b),
            "lessThanOrEqual" => self.any_number(l, r, |a, b| a <= b),
            "InRange" => self.in_range(l, r),
            "isTrue" => Ok(flatten(l).into_iter().any(|v| truth(v) == Some(true))),
            "isFalse" => Ok(flatten(l).into_iter().any(|v| truth(v) == Some(false))),
            "isAfter" => self.any_date(l, r, |a, b| a > b),
            "isBefore" => self.any_date(l, r, |a, b| a < b),
            "isSameAs" => self.any_date(l, r, |a, b| a == b),
            "isInCidrRanges" => self.in_cidr(l, r),
            "isIdenticalIncludingType" => Ok(l == r),
            other => Err(self.err(format!("no implementation for '{other}'"))),
        }
    }

    /// The text form of every element of a side (lowered under `ignorecase`).
    fn texts(&self, side: Option<&Value>) -> Result<Vec<String>, EvalError> {
        flatten(side)
            .into_iter()
            .map(|v| {
                let s = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Object(_) => {
                        return Err(
                            self.err(format!("cannot convert an object to a string: {}", show(v)))
                        )
                    }
                    Value::Null | Value::Array(_) => String::new(),
                };
                Ok(if self.ignore_case {
                    s.to_lowercase()
                } else {
                    s
                })
            })
            .collect()
    }

    fn any_text(
        &self,
        l: Option<&Value>,
        r: Option<&Value>,
        f: impl Fn(&str, &str) -> bool,
    ) -> Result<bool, EvalError> {
        let ls = self.texts(l)?;
        let rs = self.texts(r)?;
        Ok(ls.iter().any(|a| rs.iter().any(|b| f(a, b))))
    }

    fn matches(&self, l: Option<&Value>, r: Option<&Value>) -> Result<bool, EvalError> {
        // Both sides keep their case: `(?i)` does the case folding.
        let plain = Cx {
            op: self.op,
            ignore_case: false,
        };
        let mut regexes = Vec::new();
        for p in plain.texts(r)? {
            let source = if self.ignore_case {
                format!("(?i){p}")
            } else {
                p.clone()
            };
            let re = regex::Regex::new(&source)
                .map_err(|e| self.err(format!("invalid regular expression '{p}': {e}")))?;
            regexes.push(re);
        }
        let texts = plain.texts(l)?;
        Ok(texts
            .iter()
            .any(|s| regexes.iter().any(|re| re.is_match(s))))
    }

    /// `in`: some element of `needle` is contained in `hay` (a member of a list, or a
    /// substring of a string).
    fn contained(&self, needle: Option<&Value>, hay: Option<&Value>) -> Result<bool, EvalError> {
        let needles = self.texts(needle)?;
        match hay {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Array(_)) => {
                let members = self.texts(hay)?;
                Ok(needles.iter().any(|n| members.contains(n)))
            }
            Some(v) => {
                let text = self.texts(Some(v))?.concat();
                Ok(needles.iter().any(|n| text.contains(n.as_str())))
            }
        }
    }

    /// A list side: an array's elements, or a comma-separated string, each trimmed.
    /// `inList`'s right side: a list's elements as they are (trimmed), or a CSV string's items.
    fn csv_list(&self, side: Option<&Value>) -> Result<Vec<String>, EvalError> {
        let texts = self.texts(side)?;
        let items: Vec<String> = match side {
            Some(Value::Array(_)) => texts.iter().map(|s| s.trim().to_owned()).collect(),
            _ => texts
                .iter()
                .flat_map(|s| s.split(','))
                .map(|s| s.trim().to_owned())
                .collect(),
        };
        Ok(items.into_iter().filter(|s| !s.is_empty()).collect())
    }

    fn number(&self, v: &Value) -> Result<Option<f64>, EvalError> {
        match v {
            Value::Null => Ok(None),
            Value::Number(n) => Ok(n.as_f64()),
            Value::String(s) if s.trim().is_empty() => Ok(None),
            Value::String(s) => match s.trim().parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Some(f)),
                _ if looks_like_a_path(s) => Err(self.err(format!(
                    "'{s}' is not a number (if that is a context path, mark the operand iscontext: true or write ${{{}}})",
                    s.trim()
                ))),
                _ => Err(self.err(format!("'{s}' is not a number"))),
            },
            other => Err(self.err(format!("{} is not a number", show(other)))),
        }
    }

    fn numbers(&self, side: Option<&Value>) -> Result<Vec<f64>, EvalError> {
        let mut out = Vec::new();
        for v in flatten(side) {
            if let Some(n) = self.number(v)? {
                out.push(n);
            }
        }
        Ok(out)
    }

    fn integer(&self, side: Option<&Value>) -> Result<Option<i64>, EvalError> {
        let Some(n) = self.numbers(side)?.first().copied() else {
            return Ok(None);
        };
        if n.fract() != 0.0 {
            return Err(self.err(format!("{n} is not a whole number")));
        }
        Ok(Some(n as i64))
    }

    fn any_number(
        &self,
        l: Option<&Value>,
        r: Option<&Value>,
        f: impl Fn(f64, f64) -> bool,
    ) -> Result<bool, EvalError> {
        let ls = self.numbers(l)?;
        let rs = self.numbers(r)?;
        Ok(ls.iter().any(|a| rs.iter().any(|b| f(*a, *b))))
    }

    fn in_range(&self, l: Option<&Value>, r: Option<&Value>) -> Result<bool, EvalError> {
        let bounds: Vec<String> = match r {
            None | Some(Value::Null) => return Ok(false),
            Some(Value::Array(_)) => self.texts(r)?,
            Some(v) => self
                .texts(Some(v))?
                .concat()
                .split(',')
                .map(str::to_owned)
                .collect(),
        };
        let [min, max] = bounds.as_slice() else {
            return Err(self.err(format!(
                "range must be 'min,max', got '{}'",
                bounds.join(",")
            )));
        };
        let parse = |s: &str| self.number(&Value::String(s.trim().to_owned()));
        let (Some(min), Some(max)) = (parse(min)?, parse(max)?) else {
            return Err(self.err(format!("range must be 'min,max', got '{min},{max}'")));
        };
        Ok(self.numbers(l)?.iter().any(|n| *n >= min && *n <= max))
    }

    fn dates(&self, side: Option<&Value>) -> Result<Vec<OffsetDateTime>, EvalError> {
        let mut out = Vec::new();
        for v in flatten(side) {
            match v {
                Value::Null => {}
                Value::String(s) if s.trim().is_empty() => {}
                other => match dates::parse_value(other) {
                    Some(d) => out.push(d),
                    None => return Err(self.err(format!("{} is not a date", show(other)))),
                },
            }
        }
        Ok(out)
    }

    fn any_date(
        &self,
        l: Option<&Value>,
        r: Option<&Value>,
        f: impl Fn(OffsetDateTime, OffsetDateTime) -> bool,
    ) -> Result<bool, EvalError> {
        let ls = self.dates(l)?;
        let rs = self.dates(r)?;
        Ok(ls.iter().any(|a| rs.iter().any(|b| f(*a, *b))))
    }

    fn in_cidr(&self, l: Option<&Value>, r: Option<&Value>) -> Result<bool, EvalError> {
        let plain = Cx {
            op: self.op,
            ignore_case: false,
        };
        let mut ranges = Vec::new();
        for text in plain.csv_list(r)? {
            ranges.push(parse_cidr(&text).ok_or_else(|| {
                self.err(format!(
                    "'{text}' is not a CIDR range (a.b.c.d/n or IPv6/n)"
                ))
            })?);
        }
        let mut found = false;
        for text in plain.texts(l)? {
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let ip: IpAddr = text
                .parse()
                .map_err(|_| self.err(format!("'{text}' is not an IP address")))?;
            found |= ranges.iter().any(|range| cidr_contains(range, &ip));
        }
        Ok(found)
    }
}

/// Every non-array leaf of a side (nested arrays flattened), `null` dropped.
fn flatten(side: Option<&Value>) -> Vec<&Value> {
    fn walk<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
        match v {
            Value::Array(a) => a.iter().for_each(|e| walk(e, out)),
            Value::Null => {}
            other => out.push(other),
        }
    }
    let mut out = Vec::new();
    if let Some(v) = side {
        walk(v, &mut out);
    }
    out
}

/// `null`, `""`, `[]`, `{}`, or a list of only such values.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.iter().all(is_empty),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// A boolean reading: `true`/`false` or the strings `"true"`/`"false"` (any case).
fn truth(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A parsed CIDR range: network address and prefix length.
struct Cidr {
    net: IpAddr,
    prefix: u32,
}

fn parse_cidr(text: &str) -> Option<Cidr> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a.trim(), Some(p.trim().parse::<u32>().ok()?)),
        None => (text.trim(), None),
    };
    let net: IpAddr = addr.parse().ok()?;
    let max = if net.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(max);
    (prefix <= max).then_some(Cidr { net, prefix })
}

fn cidr_contains(range: &Cidr, ip: &IpAddr) -> bool {
    match (range.net, ip) {
        (IpAddr::V4(net), IpAddr::V4(ip)) => {
            let mask = u32::MAX.checked_shl(32 - range.prefix).unwrap_or(0);
            u32::from(net) & mask == u32::from(*ip) & mask
        }
        (IpAddr::V6(net), IpAddr::V6(ip)) => {
            let mask = u128::MAX.checked_shl(128 - range.prefix).unwrap_or(0);
            u128::from(net) & mask == u128::from(*ip) & mask
        }
        _ => false,
    }
}

/// Text shaped like a dotted context path (`incident.severity`, `File.[0].SHA256`): as the
/// literal value of a condition operand it is most likely a path written without
/// `iscontext: true`, which a number comparison would otherwise only call "not a number".
fn looks_like_a_path(s: &str) -> bool {
    let s = s.trim();
    s.contains('.')
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'))
}
