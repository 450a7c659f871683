//! JavaScript for selectors, mutators, merge keys and the `DT` transformer.
//!
//! XSOAR evaluates these with a real JavaScript engine, and content relies on JavaScript
//! semantics: loose equality (`"3" == 3`, `null == undefined`), truthiness, string methods
//! (`indexOf`, `toLowerCase`), `encodeURIComponent`, object literals in mutators. A home-made
//! interpreter for "the JavaScript that content uses" was rejected: every gap would be a silent
//! behaviour difference, and the gaps are exactly where content is creative. So the reference
//! semantics are an embedded engine, QuickJS (module `engine`), bundled and sandboxed (no IO,
//! memory and time budgets). Of the embeddable engines, QuickJS (through `rquickjs`, built from
//! bundled C sources) was preferred to a pure-Rust engine such as `boa` for its small footprint,
//! fast runtime creation, and the memory limit and interrupt hook the sandbox relies on.
//!
//! QuickJS is, however, far too slow for the hot path: a merge key runs once per existing
//! context item on every command output, and each QuickJS call copies the item into the engine
//! as JSON, a few microseconds per element against tens of nanoseconds for a direct evaluation. Hence a two-tier design: a small hand-written evaluator (module `fast`) covers the
//! comparison subset that nearly all selectors use, directly on `serde_json::Value`s, and hands
//! anything it does not model to QuickJS. The two are held to the same answers by a shared
//! test table. Plain DT paths never touch either.

pub(crate) mod engine;
pub(crate) mod fast;

use crate::cache::{cached, ExprCache};
use crate::DtError;
use engine::{Outcome, Produced, Want};
use serde_json::Value;
use std::cell::RefCell;

/// A JavaScript expression compiled for a fixed parameter list: the fast form when it is in the
/// subset, else a QuickJS-checked source.
#[derive(Debug)]
pub(crate) struct JsExpr {
    src: Box<str>,
    params: Vec<String>,
    fast: Option<fast::Expr>,
}

/// Result of running an expression: a value, or an exception it threw.
pub(crate) type Run<T> = Result<Outcome<T>, String>;

impl JsExpr {
    /// Compiles `src`. `Err` carries the JavaScript syntax error (or why the engine could not
    /// check it).
    pub(crate) fn compile(src: &str, params: &[&str]) -> Result<JsExpr, String> {
        let fast = fast::parse(src, params);
        if fast.is_none() {
            match engine::check(params, src) {
                Ok(Ok(())) => {}
                Ok(Err(syntax)) => return Err(syntax),
                Err(fatal) => return Err(fatal.message),
            }
        }
        Ok(JsExpr {
            src: src.into(),
            params: params.iter().map(|p| (*p).to_owned()).collect(),
            fast,
        })
    }

    pub(crate) fn src(&self) -> &str {
        &self.src
    }

    fn engine(&self, args: &[&Value], want: Want) -> Result<Outcome<Produced>, String> {
        let params: Vec<&str> = self.params.iter().map(String::as_str).collect();
        engine::call(&params, &self.src, args, want).map_err(|f| f.message)
    }

    /// Truthiness of the result with `args` bound. A throwing expression is `Threw`.
    pub(crate) fn truth(&self, args: &[&Value]) -> Run<bool> {
        if let Some(e) = &self.fast {
            match fast::eval(e, args) {
                Ok(v) => return Ok(Outcome::Ok(fast::truthy(v))),
                Err(fast::Abort::Throw(msg)) => return Ok(Outcome::Threw(msg)),
                Err(fast::Abort::Bail) => {}
            }
        }
        Ok(match self.engine(args, Want::Truth)? {
            Outcome::Ok(Produced::Truth(b)) => Outcome::Ok(b),
            Outcome::Ok(Produced::Json(v)) => Outcome::Ok(v.as_ref().is_some_and(js_truthy)),
            Outcome::Threw(t) => Outcome::Threw(t),
        })
    }

    /// The result as JSON with `args` bound; `None` = `undefined`.
    pub(crate) fn value(&self, args: &[&Value]) -> Run<Option<Value>> {
        if let Some(e) = &self.fast {
            match fast::eval(e, args).and_then(fast::to_json) {
                Ok(v) => return Ok(Outcome::Ok(v)),
                Err(fast::Abort::Throw(msg)) => return Ok(Outcome::Threw(msg)),
                Err(fast::Abort::Bail) => {}
            }
        }
        Ok(match self.engine(args, Want::Json)? {
            Outcome::Ok(Produced::Json(v)) => Outcome::Ok(v),
            Outcome::Ok(Produced::Truth(b)) => Outcome::Ok(Some(Value::Bool(b))),
            Outcome::Threw(t) => Outcome::Threw(t),
        })
    }

    /// A copy of this expression with parameter `param` fixed to `value`, for evaluating the
    /// same selector against many elements (the merge key's `obj` is the same for every
    /// existing item): sub-expressions that only read `obj` are computed once.
    pub(crate) fn specialise(&self, param: usize, value: &Value) -> Option<fast::Expr> {
        self.fast
            .as_ref()
            .map(|e| fast::specialise(e, param, value))
    }
}

thread_local! {
    static EXPRS: RefCell<ExprCache<Result<JsExpr, String>>> = RefCell::new(ExprCache::new(512));
}

fn compiled(expr: &str, names: &[&str]) -> Result<std::rc::Rc<Result<JsExpr, String>>, DtError> {
    let mut key = names.join(",");
    key.push('\u{0}');
    key.push_str(expr);
    let r: Result<_, DtError> = cached(&EXPRS, &key, |_| Ok(JsExpr::compile(expr, names)));
    r
}

fn bindings_split<'b>(bindings: &'b [(&str, &'b Value)]) -> (Vec<&'b str>, Vec<&'b Value>) {
    bindings.iter().map(|(n, v)| (*n, *v)).unzip()
}

/// Evaluates a JavaScript expression with the given globals (`val`, `obj`, ...) and returns its
/// value as JSON (`undefined` becomes `null`). Used by selectors, mutators and the `DT`
/// transformer. An exception, a syntax error or an exhausted budget is a [`DtError`].
pub fn eval_js(expr: &str, bindings: &[(&str, &Value)]) -> Result<Value, DtError> {
    let (names, values) = bindings_split(bindings);
    let c = compiled(expr, &names)?;
    let c = match c.as_ref() {
        Ok(c) => c,
        Err(msg) => return Err(DtError::new(expr, None, msg.clone())),
    };
    match c.value(&values) {
        Ok(Outcome::Ok(v)) => Ok(v.unwrap_or(Value::Null)),
        Ok(Outcome::Threw(t)) => Err(DtError::new(expr, None, t)),
        Err(fatal) => Err(DtError::new(expr, None, fatal)),
    }
}

/// JavaScript truthiness of a JSON value: `null`, `false`, `0`, `""` are false; everything
/// else (including `[]` and `{}`) is true.
pub fn js_truthy(v: &Value) -> bool {
    fast::truthy(fast::from_json(v))
}

/// [`eval_js`] restricted to the built-in fast evaluator: `None` when the expression is outside
/// its subset or needs a conversion it does not model (the case in which [`eval_js`] uses
/// QuickJS). For diagnostics and for checking that both tiers agree.
pub fn eval_js_fast_only(
    expr: &str,
    bindings: &[(&str, &Value)],
) -> Option<Result<Value, DtError>> {
    let (names, values) = bindings_split(bindings);
    let e = fast::parse(expr, &names)?;
    match fast::eval(&e, &values).and_then(fast::to_json) {
        Ok(v) => Some(Ok(v.unwrap_or(Value::Null))),
        Err(fast::Abort::Throw(t)) => Some(Err(DtError::new(expr, None, t))),
        Err(fast::Abort::Bail) => None,
    }
}

/// [`eval_js`] always through QuickJS, never the fast evaluator.
pub fn eval_js_engine_only(expr: &str, bindings: &[(&str, &Value)]) -> Result<Value, DtError> {
    let (names, values) = bindings_split(bindings);
    match engine::call(&names, expr, &values, Want::Json) {
        Ok(Outcome::Ok(Produced::Json(v))) => Ok(v.unwrap_or(Value::Null)),
        Ok(Outcome::Ok(Produced::Truth(b))) => Ok(Value::Bool(b)),
        Ok(Outcome::Threw(t)) => Err(DtError::new(expr, None, t)),
        Err(fatal) => Err(DtError::new(expr, None, fatal.message)),
    }
}
