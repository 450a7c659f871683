//! A hand-written evaluator for the JavaScript subset that real selectors use.
//!
//! Almost every selector in content is a comparison over member accesses: the merge keys that
//! `CommandResults` emits for every command output (`val.K && val.K == obj.K`), and filters such
//! as `val.Score >= 2` or `val.status !== 'COMPLETE'`. Running those through QuickJS means
//! serialising every candidate element to JSON and parsing it again inside the engine, which
//! costs microseconds per element. This module evaluates that subset directly on the
//! `serde_json::Value`s, in nanoseconds.
//!
//! The rule that keeps it honest: it either produces exactly what JavaScript would, or it
//! *bails* ([`Abort::Bail`]) and the caller runs the expression in QuickJS instead. It bails at
//! parse time on anything outside the subset (calls, `+`, `?:`, regexes, comments, unknown
//! identifiers, unusual escapes, legacy octal numbers), and at run time on the few corners it
//! does not model (converting objects to primitives, properties that live on prototypes, hex
//! strings compared with numbers, ...). A parse it accepts is always valid JavaScript, so a
//! selector it accepts can never hide a syntax error.
//!
//! Supported: literals (numbers, single/double-quoted strings, `true`, `false`, `null`,
//! `undefined`, `NaN`, `Infinity`), parameters (`val`, `obj`, ...), member access (`a.b`,
//! `a['b']`, `a[0]`, `.length`), `!`, unary `-`/`+`, `==`, `!=`, `===`, `!==`, `<`, `>`, `<=`,
//! `>=`, `&&`, `||` and parentheses, with JavaScript's loose equality, relational comparison and
//! truthiness rules.

use serde_json::{Map, Number, Value};
use std::cmp::Ordering;

/// Deepest nesting the parser accepts; deeper expressions go to QuickJS, which has its own
/// stack limit. Keeps both the recursive parser and the recursive evaluator bounded.
const MAX_DEPTH: usize = 48;

/// Longest expression (in tokens) the parser accepts: real selectors have a few dozen, and the
/// cap bounds the depth of left-nested `&&`/`||`/member chains for the recursive evaluator.
const MAX_TOKENS: usize = 256;

/// A parsed expression of the subset.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Lit(Lit),
    /// A parameter, by position.
    Param(usize),
    /// `param.key`: the most common member access, one node instead of two.
    ParamField(usize, Box<str>),
    Member(Box<Expr>, Box<str>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Plus(Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    /// `x && x op y` (the merge-key guard `val.K && val.K == obj.K`), evaluating `x` once.
    /// Equivalent because evaluation has no side effects.
    Guard(CmpOp, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Undefined,
    Null,
    Bool(bool),
    Num(f64),
    Str(Box<str>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    LooseEq,
    LooseNe,
    StrictEq,
    StrictNe,
    Lt,
    Gt,
    Le,
    Ge,
}

/// A JavaScript value borrowed from the expression or from the bound JSON values.
#[derive(Debug, Clone, Copy)]
pub(crate) enum JsVal<'a> {
    Undef,
    Null,
    Bool(bool),
    Num(f64),
    Str(&'a str),
    Obj(&'a Map<String, Value>),
    /// The `Vec` itself, not a slice: its address is the array's identity (`==` on two
    /// arrays), and every empty slice shares one dangling address.
    Arr(&'a Vec<Value>),
}

/// Why evaluation stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Abort {
    /// JavaScript would throw (a `TypeError` reading a property of `undefined`/`null`).
    Throw(String),
    /// Outside the modelled subset: ask QuickJS.
    Bail,
}

type Eval<'a> = Result<JsVal<'a>, Abort>;

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok<'s> {
    Ident(&'s str),
    Num(f64),
    Str(String),
    Punct(&'static str),
}

/// Longest-first, so `===` wins over `==` and `<=` over `<`.
const PUNCTS: &[&str] = &[
    "===", "!==", "==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "(", ")", "[", "]", ".", "-",
    "+",
];

fn lex(src: &str) -> Option<Vec<Tok<'_>>> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if out.len() > MAX_TOKENS {
            return None;
        }
        if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$') {
                i += 1;
            }
            out.push(Tok::Ident(src.get(start..i)?));
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let (n, len) = lex_number(src.get(i..)?)?;
            i += len;
            out.push(Tok::Num(n));
        } else if c == b'\'' || c == b'"' {
            let (s, len) = lex_string(src.get(i..)?)?;
            i += len;
            out.push(Tok::Str(s));
        } else {
            let rest = src.get(i..)?;
            // `--` and `++` are JavaScript's decrement and increment (a syntax error on a
            // literal), never two signs.
            if rest.starts_with("--") || rest.starts_with("++") {
                return None;
            }
            let p = PUNCTS.iter().find(|p| rest.starts_with(**p))?;
            // `//` and `/*` (comments), `=` (assignment), `?`, `,`, `;`, `{`: not in the subset.
            out.push(Tok::Punct(p));
            i += p.len();
        }
    }
    Some(out)
}

/// A decimal literal (no hex/octal/binary, no legacy `012`); must not run into an identifier.
fn lex_number(s: &str) -> Option<(f64, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i > 1 && b[0] == b'0' {
        return None;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let digits = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == digits {
            return None;
        }
    }
    if i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$' || b[i] == b'.')
    {
        return None;
    }
    let text = s.get(..i)?;
    Some((text.parse().ok()?, i))
}

/// A quoted string with the common escapes; anything unusual bails.
fn lex_string(s: &str) -> Option<(String, usize)> {
    let mut chars = s.char_indices();
    let (_, quote) = chars.next()?;
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => return Some((out, i + c.len_utf8())),
            '\n' | '\r' | '\u{2028}' | '\u{2029}' => return None,
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    '\\' | '\'' | '"' => out.push(e),
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'v' => out.push('\u{b}'),
                    'x' => {
                        let h: String = [chars.next()?.1, chars.next()?.1].iter().collect();
                        out.push(char::from_u32(u32::from_str_radix(&h, 16).ok()?)?);
                    }
                    'u' => {
                        let h: String = (0..4)
                            .map(|_| chars.next().map(|c| c.1))
                            .collect::<Option<_>>()?;
                        // Surrogates (and so pairs) are left to QuickJS.
                        out.push(char::from_u32(u32::from_str_radix(&h, 16).ok()?)?);
                    }
                    _ => return None,
                }
            }
            c => out.push(c),
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Parser

/// Parses `src` as an expression of the subset over `params`. `None` = not in the subset
/// (which includes invalid JavaScript: QuickJS reports that one).
pub(crate) fn parse(src: &str, params: &[&str]) -> Option<Expr> {
    let toks = lex(src)?;
    if toks.len() > MAX_TOKENS {
        return None;
    }
    let mut p = Parser {
        toks: &toks,
        pos: 0,
        params,
        depth: 0,
    };
    let e = p.or()?;
    (p.pos == toks.len()).then_some(e)
}

struct Parser<'t, 's, 'p> {
    toks: &'t [Tok<'s>],
    pos: usize,
    params: &'p [&'p str],
    depth: usize,
}

impl Parser<'_, '_, '_> {
    fn peek_punct(&self) -> Option<&'static str> {
        match self.toks.get(self.pos) {
            Some(Tok::Punct(p)) => Some(p),
            _ => None,
        }
    }

    fn eat(&mut self, p: &str) -> bool {
        if self.peek_punct() == Some(p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn or(&mut self) -> Option<Expr> {
        self.enter()?;
        let mut l = self.and()?;
        while self.eat("||") {
            l = Expr::Or(Box::new(l), Box::new(self.and()?));
        }
        self.depth -= 1;
        Some(l)
    }

    fn and(&mut self) -> Option<Expr> {
        let mut l = self.equality()?;
        while self.eat("&&") {
            let r = self.equality()?;
            l = match r {
                Expr::Cmp(op, x, y) if *x == l => Expr::Guard(op, Box::new(l), y),
                r => Expr::And(Box::new(l), Box::new(r)),
            };
        }
        Some(l)
    }

    fn equality(&mut self) -> Option<Expr> {
        let mut l = self.relational()?;
        loop {
            let op = match self.peek_punct() {
                Some("==") => CmpOp::LooseEq,
                Some("!=") => CmpOp::LooseNe,
                Some("===") => CmpOp::StrictEq,
                Some("!==") => CmpOp::StrictNe,
                _ => return Some(l),
            };
            self.pos += 1;
            l = Expr::Cmp(op, Box::new(l), Box::new(self.relational()?));
        }
    }

    fn relational(&mut self) -> Option<Expr> {
        let mut l = self.unary()?;
        loop {
            let op = match self.peek_punct() {
                Some("<") => CmpOp::Lt,
                Some(">") => CmpOp::Gt,
                Some("<=") => CmpOp::Le,
                Some(">=") => CmpOp::Ge,
                _ => return Some(l),
            };
            self.pos += 1;
            l = Expr::Cmp(op, Box::new(l), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Option<Expr> {
        self.enter()?;
        let e = if self.eat("!") {
            Expr::Not(Box::new(self.unary()?))
        } else if self.eat("-") {
            Expr::Neg(Box::new(self.unary()?))
        } else if self.eat("+") {
            Expr::Plus(Box::new(self.unary()?))
        } else {
            self.postfix()?
        };
        self.depth -= 1;
        Some(e)
    }

    fn postfix(&mut self) -> Option<Expr> {
        let mut e = self.primary()?;
        loop {
            if self.eat(".") {
                match self.toks.get(self.pos) {
                    Some(Tok::Ident(name)) => {
                        self.pos += 1;
                        e = member_of(e, (*name).into());
                    }
                    _ => return None,
                }
            } else if self.eat("[") {
                let key: Box<str> = match self.toks.get(self.pos) {
                    Some(Tok::Str(s)) => s.as_str().into(),
                    Some(Tok::Num(n)) if n.fract() == 0.0 && *n >= 0.0 && *n < 1e15 => {
                        format!("{}", *n as u64).into()
                    }
                    _ => return None,
                };
                self.pos += 1;
                if !self.eat("]") {
                    return None;
                }
                e = member_of(e, key);
            } else if self.peek_punct() == Some("(") {
                return None; // a call
            } else {
                return Some(e);
            }
        }
    }

    fn primary(&mut self) -> Option<Expr> {
        let tok = self.toks.get(self.pos)?;
        self.pos += 1;
        Some(match tok {
            Tok::Num(n) => Expr::Lit(Lit::Num(*n)),
            Tok::Str(s) => Expr::Lit(Lit::Str(s.as_str().into())),
            Tok::Ident(name) => {
                if let Some(i) = self.params.iter().position(|p| p == name) {
                    Expr::Param(i)
                } else {
                    match *name {
                        "true" => Expr::Lit(Lit::Bool(true)),
                        "false" => Expr::Lit(Lit::Bool(false)),
                        "null" => Expr::Lit(Lit::Null),
                        "undefined" => Expr::Lit(Lit::Undefined),
                        "NaN" => Expr::Lit(Lit::Num(f64::NAN)),
                        "Infinity" => Expr::Lit(Lit::Num(f64::INFINITY)),
                        _ => return None,
                    }
                }
            }
            Tok::Punct("(") => {
                let e = self.or()?;
                if !self.eat(")") {
                    return None;
                }
                e
            }
            Tok::Punct(_) => return None,
        })
    }
}

fn member_of(e: Expr, key: Box<str>) -> Expr {
    match e {
        Expr::Param(i) => Expr::ParamField(i, key),
        e => Expr::Member(Box::new(e), key),
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

#[inline]
fn lit(l: &Lit) -> JsVal<'_> {
    match l {
        Lit::Undefined => JsVal::Undef,
        Lit::Null => JsVal::Null,
        Lit::Bool(b) => JsVal::Bool(*b),
        Lit::Num(n) => JsVal::Num(*n),
        Lit::Str(s) => JsVal::Str(s),
    }
}

#[inline]
fn param<'a>(args: &[&'a Value], i: usize) -> JsVal<'a> {
    args.get(i).map_or(JsVal::Undef, |v| from_json(v))
}

/// Leaves and `param.key` without a recursive call (the operands of nearly every comparison).
#[inline]
fn operand<'a>(e: &'a Expr, args: &[&'a Value]) -> Eval<'a> {
    match e {
        Expr::Lit(l) => Ok(lit(l)),
        Expr::ParamField(i, key) => member(param(args, *i), key),
        e => eval(e, args),
    }
}

/// Evaluates `e` with the parameters bound to `args` (missing arguments are `undefined`).
pub(crate) fn eval<'a>(e: &'a Expr, args: &[&'a Value]) -> Eval<'a> {
    match e {
        Expr::Lit(l) => Ok(lit(l)),
        Expr::Param(i) => Ok(param(args, *i)),
        Expr::ParamField(i, key) => member(param(args, *i), key),
        Expr::Member(obj, key) => member(eval(obj, args)?, key),
        Expr::Not(x) => Ok(JsVal::Bool(!truthy(eval(x, args)?))),
        Expr::Neg(x) => Ok(JsVal::Num(-to_number(eval(x, args)?)?)),
        Expr::Plus(x) => Ok(JsVal::Num(to_number(eval(x, args)?)?)),
        Expr::And(l, r) => {
            let l = eval(l, args)?;
            if truthy(l) {
                eval(r, args)
            } else {
                Ok(l)
            }
        }
        Expr::Or(l, r) => {
            let l = eval(l, args)?;
            if truthy(l) {
                Ok(l)
            } else {
                eval(r, args)
            }
        }
        Expr::Cmp(op, l, r) => {
            let l = operand(l, args)?;
            let r = operand(r, args)?;
            Ok(JsVal::Bool(compare(*op, l, r)?))
        }
        Expr::Guard(op, x, y) => {
            let x = operand(x, args)?;
            if !truthy(x) {
                return Ok(x);
            }
            let y = operand(y, args)?;
            Ok(JsVal::Bool(compare(*op, x, y)?))
        }
    }
}

#[inline]
pub(crate) fn from_json(v: &Value) -> JsVal<'_> {
    match v {
        Value::Null => JsVal::Null,
        Value::Bool(b) => JsVal::Bool(*b),
        Value::Number(n) => JsVal::Num(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => JsVal::Str(s),
        Value::Array(a) => JsVal::Arr(a),
        Value::Object(m) => JsVal::Obj(m),
    }
}

/// Names every object inherits from `Object.prototype`: reading one that the JSON object does
/// not define yields a function in JavaScript, which this evaluator does not model.
const OBJECT_PROTO: &[&str] = &[
    "constructor",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
    "toString",
    "valueOf",
    "__proto__",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
];

/// Property read. Small maps are scanned linearly: cheaper than hashing the key, and the
/// objects selectors look at (context items) rarely have more than a dozen fields.
#[inline]
fn member<'a>(base: JsVal<'a>, key: &str) -> Eval<'a> {
    match base {
        JsVal::Undef | JsVal::Null => Err(Abort::Throw(format!(
            "TypeError: cannot read property '{key}' of {}",
            if matches!(base, JsVal::Undef) {
                "undefined"
            } else {
                "null"
            }
        ))),
        JsVal::Obj(m) => {
            let found = if m.len() <= 16 {
                m.iter().find(|(k, _)| str_eq(k, key)).map(|(_, v)| v)
            } else {
                m.get(key)
            };
            match found {
                Some(v) => Ok(from_json(v)),
                None if OBJECT_PROTO.contains(&key) => Err(Abort::Bail),
                None => Ok(JsVal::Undef),
            }
        }
        JsVal::Arr(a) => {
            if key == "length" {
                Ok(JsVal::Num(a.len() as f64))
            } else if let Some(i) = array_index(key) {
                Ok(a.get(i).map_or(JsVal::Undef, from_json))
            } else {
                Err(Abort::Bail)
            }
        }
        JsVal::Str(s) if key == "length" => Ok(JsVal::Num(s.encode_utf16().count() as f64)),
        JsVal::Str(_) | JsVal::Num(_) | JsVal::Bool(_) => Err(Abort::Bail),
    }
}

/// String equality without a library call for the short strings keys and ids usually are.
#[inline]
pub(crate) fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    if a.len() > 16 {
        return a == b;
    }
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        if x != y {
            return false;
        }
    }
    ca.remainder()
        .iter()
        .zip(cb.remainder())
        .all(|(x, y)| x == y)
}

/// A canonical array index (`"0"`, `"17"`, not `"01"` or `"1.0"`).
fn array_index(key: &str) -> Option<usize> {
    let b = key.as_bytes();
    if b.is_empty()
        || b.len() > 15
        || !b.iter().all(u8::is_ascii_digit)
        || (b.len() > 1 && b[0] == b'0')
    {
        return None;
    }
    key.parse().ok()
}

/// JavaScript `ToBoolean`.
#[inline]
pub(crate) fn truthy(v: JsVal<'_>) -> bool {
    match v {
        JsVal::Undef | JsVal::Null => false,
        JsVal::Bool(b) => b,
        JsVal::Num(n) => n != 0.0 && !n.is_nan(),
        JsVal::Str(s) => !s.is_empty(),
        JsVal::Obj(_) | JsVal::Arr(_) => true,
    }
}

/// JavaScript `ToNumber` for primitives; objects bail (their conversion calls `valueOf`/`toString`).
fn to_number(v: JsVal<'_>) -> Result<f64, Abort> {
    match v {
        JsVal::Undef => Ok(f64::NAN),
        JsVal::Null => Ok(0.0),
        JsVal::Bool(b) => Ok(if b { 1.0 } else { 0.0 }),
        JsVal::Num(n) => Ok(n),
        JsVal::Str(s) => string_to_number(s),
        JsVal::Obj(_) | JsVal::Arr(_) => Err(Abort::Bail),
    }
}

/// JavaScript white space and line terminators (what `StringToNumber` trims).
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// JavaScript `StringToNumber` for decimal text; `0x`/`0o`/`0b` forms bail.
fn string_to_number(s: &str) -> Result<f64, Abort> {
    let t = s.trim_matches(is_js_space);
    if t.is_empty() {
        return Ok(0.0);
    }
    match t {
        "Infinity" | "+Infinity" => return Ok(f64::INFINITY),
        "-Infinity" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    let b = t.as_bytes();
    if b.len() > 1 && b[0] == b'0' && matches!(b[1], b'x' | b'X' | b'o' | b'O' | b'b' | b'B') {
        return Err(Abort::Bail);
    }
    if !is_decimal_literal(b) {
        return Ok(f64::NAN);
    }
    Ok(t.parse().unwrap_or(f64::NAN))
}

/// `[+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?`
fn is_decimal_literal(b: &[u8]) -> bool {
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - frac;
    }
    if digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp {
            return false;
        }
    }
    i == b.len()
}

#[inline]
fn compare(op: CmpOp, l: JsVal<'_>, r: JsVal<'_>) -> Result<bool, Abort> {
    Ok(match op {
        CmpOp::LooseEq => loose_eq(l, r)?,
        CmpOp::LooseNe => !loose_eq(l, r)?,
        CmpOp::StrictEq => strict_eq(l, r),
        CmpOp::StrictNe => !strict_eq(l, r),
        CmpOp::Lt => relational(l, r)? == Some(Ordering::Less),
        CmpOp::Gt => relational(l, r)? == Some(Ordering::Greater),
        CmpOp::Le => matches!(relational(l, r)?, Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Ge => matches!(relational(l, r)?, Some(Ordering::Greater | Ordering::Equal)),
    })
}

/// `===`. Objects compare by identity: the same JSON node is the same JavaScript object.
pub(crate) fn strict_eq(l: JsVal<'_>, r: JsVal<'_>) -> bool {
    match (l, r) {
        (JsVal::Undef, JsVal::Undef) | (JsVal::Null, JsVal::Null) => true,
        (JsVal::Bool(a), JsVal::Bool(b)) => a == b,
        (JsVal::Num(a), JsVal::Num(b)) => a == b,
        (JsVal::Str(a), JsVal::Str(b)) => a == b,
        (JsVal::Obj(a), JsVal::Obj(b)) => std::ptr::eq(a, b),
        (JsVal::Arr(a), JsVal::Arr(b)) => std::ptr::eq(a, b),
        _ => false,
    }
}

/// `==` (the abstract equality algorithm); object-to-primitive conversion bails.
#[inline]
pub(crate) fn loose_eq(l: JsVal<'_>, r: JsVal<'_>) -> Result<bool, Abort> {
    use JsVal::*;
    Ok(match (l, r) {
        (Undef | Null, Undef | Null) => true,
        (Undef | Null, _) | (_, Undef | Null) => false,
        (Bool(_), _) => loose_eq(Num(to_number(l)?), r)?,
        (_, Bool(_)) => loose_eq(l, Num(to_number(r)?))?,
        (Num(a), Num(b)) => a == b,
        (Str(a), Str(b)) => str_eq(a, b),
        (Num(a), Str(s)) | (Str(s), Num(a)) => a == string_to_number(s)?,
        (Obj(_) | Arr(_), Obj(_) | Arr(_)) => strict_eq(l, r),
        (Obj(_) | Arr(_), _) | (_, Obj(_) | Arr(_)) => return Err(Abort::Bail),
    })
}

/// The abstract relational comparison; `None` = undefined (a NaN was involved), which makes
/// every one of `<`, `>`, `<=`, `>=` false.
fn relational(l: JsVal<'_>, r: JsVal<'_>) -> Result<Option<Ordering>, Abort> {
    if let (JsVal::Str(a), JsVal::Str(b)) = (l, r) {
        // JavaScript orders strings by UTF-16 code units.
        return Ok(Some(a.encode_utf16().cmp(b.encode_utf16())));
    }
    let (a, b) = (to_number(l)?, to_number(r)?);
    Ok(a.partial_cmp(&b))
}

/// What `JSON.stringify` then `JSON.parse` would make of a result; `None` = `undefined`.
/// Numbers that JavaScript would print in a form serde reads back differently bail.
pub(crate) fn to_json(v: JsVal<'_>) -> Result<Option<Value>, Abort> {
    Ok(Some(match v {
        JsVal::Undef => return Ok(None),
        JsVal::Null => Value::Null,
        JsVal::Bool(b) => Value::Bool(b),
        JsVal::Num(n) if !n.is_finite() => Value::Null,
        JsVal::Num(n) if n.fract() == 0.0 => {
            if n.abs() > 9_007_199_254_740_992.0 {
                return Err(Abort::Bail);
            }
            Value::Number(Number::from(n as i64))
        }
        JsVal::Num(n) => Number::from_f64(n).map_or(Value::Null, Value::Number),
        JsVal::Str(s) => Value::String(s.to_owned()),
        JsVal::Obj(m) if m.values().all(same_in_js) => Value::Object(m.clone()),
        JsVal::Arr(a) if a.iter().all(same_in_js) => Value::Array(a.to_vec()),
        // A number inside that JavaScript would write differently (`3.0` as `3`, integers
        // past 2^53 rounded): QuickJS gives the exact answer.
        JsVal::Obj(_) | JsVal::Arr(_) => return Err(Abort::Bail),
    }))
}

/// Whether `v` comes back unchanged from a trip through JavaScript numbers (every number an
/// `f64`, integral ones written without a fraction).
fn same_in_js(v: &Value) -> bool {
    const SAFE: u64 = 1 << 53;
    match v {
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => u <= SAFE,
            (_, Some(i), _) => i.unsigned_abs() <= SAFE,
            (_, _, Some(f)) => f.fract() != 0.0,
            _ => false,
        },
        Value::Array(a) => a.iter().all(same_in_js),
        Value::Object(m) => m.values().all(same_in_js),
        Value::Null | Value::Bool(_) | Value::String(_) => true,
    }
}

// ---------------------------------------------------------------------------------------------
// Partial evaluation

static UNBOUND: Value = Value::Null;

fn only_param(e: &Expr, param: usize) -> bool {
    match e {
        Expr::Lit(_) => true,
        Expr::Param(i) | Expr::ParamField(i, _) => *i == param,
        Expr::Member(x, _) | Expr::Not(x) | Expr::Neg(x) | Expr::Plus(x) => only_param(x, param),
        Expr::Cmp(_, l, r) | Expr::And(l, r) | Expr::Or(l, r) | Expr::Guard(_, l, r) => {
            only_param(l, param) && only_param(r, param)
        }
    }
}

/// `e` with every sub-expression that reads nothing but parameter `param` replaced by its
/// value, when that value is a primitive. Sub-expressions that would throw, bail or yield an
/// object are left alone, so the result evaluates exactly like `e` with `param` bound to
/// `value`.
pub(crate) fn specialise(e: &Expr, param: usize, value: &Value) -> Expr {
    if !matches!(e, Expr::Lit(_)) && only_param(e, param) {
        let mut args = vec![&UNBOUND; param + 1];
        if let Some(slot) = args.get_mut(param) {
            *slot = value;
        }
        let lit = match eval(e, &args) {
            Ok(JsVal::Undef) => Some(Lit::Undefined),
            Ok(JsVal::Null) => Some(Lit::Null),
            Ok(JsVal::Bool(b)) => Some(Lit::Bool(b)),
            Ok(JsVal::Num(n)) => Some(Lit::Num(n)),
            Ok(JsVal::Str(s)) => Some(Lit::Str(s.into())),
            _ => None,
        };
        return match lit {
            Some(l) => Expr::Lit(l),
            None => e.clone(),
        };
    }
    let sp = |x: &Expr| Box::new(specialise(x, param, value));
    match e {
        Expr::Lit(_) | Expr::Param(_) | Expr::ParamField(..) => e.clone(),
        Expr::Member(x, k) => Expr::Member(sp(x), k.clone()),
        Expr::Not(x) => Expr::Not(sp(x)),
        Expr::Neg(x) => Expr::Neg(sp(x)),
        Expr::Plus(x) => Expr::Plus(sp(x)),
        Expr::Cmp(op, l, r) => Expr::Cmp(*op, sp(l), sp(r)),
        Expr::And(l, r) => Expr::And(sp(l), sp(r)),
        Expr::Or(l, r) => Expr::Or(sp(l), sp(r)),
        Expr::Guard(op, l, r) => Expr::Guard(*op, sp(l), sp(r)),
    }
}
