//! The embedded QuickJS engine, for every expression the fast evaluator does not cover.
//!
//! One runtime per thread, created on first use and kept in a `thread_local`: QuickJS runtimes
//! are not `Send`, and a per-thread runtime means callers never see JavaScript at all — they
//! hand in `&Value`s and get `Value`s back, so the public functions are usable from any thread
//! or async task. Each runtime has a memory limit, a native stack limit and an interrupt handler
//! that enforces a time budget per call, so `while(true){}` or a memory bomb in a selector
//! becomes an error instead of a hung or crashed engine. After such an event the runtime is
//! thrown away and rebuilt on next use.
//!
//! An expression is compiled once into a function of its parameters
//! (`function(val, obj) { return (expr); }`) and the compiled function is cached per runtime,
//! so a selector applied to a thousand elements is parsed once. Expressions that are statements
//! rather than an expression (`x = 1; x + val`) fall back to a direct `eval` inside such a
//! function, which still sees the parameters. Values cross the boundary as JSON text
//! (`JSON.parse` / `JSON.stringify`), which is exactly the data model of a context.

use rquickjs::convert::Coerced;
use rquickjs::function::Args;
use rquickjs::{Context, Ctx, Error as QjsError, FromJs, Function, Persistent, Runtime};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Wall-clock budget of one call into JavaScript.
pub(crate) const TIME_BUDGET: Duration = Duration::from_secs(1);
/// Heap limit of a thread's runtime.
const MEMORY_LIMIT: usize = 128 * 1024 * 1024;
/// Native stack QuickJS may use before throwing `RangeError`/`InternalError: stack overflow`.
const STACK_LIMIT: usize = 512 * 1024;
/// Compiled functions kept per runtime before the cache is emptied.
const FN_CACHE_CAP: usize = 512;
/// Name of the hidden parameter carrying the source text for the statement form.
const SRC_PARAM: &str = "__dt_src__";

/// What a call produced.
#[derive(Debug)]
pub(crate) enum Outcome<T> {
    Ok(T),
    /// The script threw (an ordinary JavaScript exception); the text is `Name: message`.
    Threw(String),
}

/// Reasons JavaScript evaluation cannot go on at all (as opposed to a script that throws):
/// a syntax error, an exhausted time or memory budget, an engine that cannot start.
#[derive(Debug)]
pub(crate) struct Fatal {
    pub(crate) message: String,
    /// The runtime may be in a poor state (interrupted, out of memory): rebuild it.
    reset: bool,
}

impl Fatal {
    fn soft(message: impl Into<String>) -> Self {
        Fatal {
            message: message.into(),
            reset: false,
        }
    }

    fn hard(message: impl Into<String>) -> Self {
        Fatal {
            message: message.into(),
            reset: true,
        }
    }
}

/// A compiled function and whether it takes the source text as an extra parameter.
type Compiled = (Persistent<Function<'static>>, bool);

struct Engine {
    // Field order matters: cached functions must be released before the context and the
    // runtime they live in (dropping a runtime that still has live values aborts).
    fns: HashMap<String, Compiled>,
    context: Context,
    _runtime: Runtime,
    deadline_nanos: Arc<AtomicU64>,
    fired: Arc<AtomicBool>,
    epoch: Instant,
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

impl Engine {
    fn new() -> Result<Engine, Fatal> {
        let runtime =
            Runtime::new().map_err(|e| Fatal::hard(format!("cannot start JavaScript: {e}")))?;
        runtime.set_memory_limit(MEMORY_LIMIT);
        runtime.set_max_stack_size(STACK_LIMIT);
        let deadline_nanos = Arc::new(AtomicU64::new(0));
        let fired = Arc::new(AtomicBool::new(false));
        let epoch = Instant::now();
        {
            let deadline = Arc::clone(&deadline_nanos);
            let fired = Arc::clone(&fired);
            runtime.set_interrupt_handler(Some(Box::new(move || {
                let d = deadline.load(Ordering::Relaxed);
                if d != 0 && epoch.elapsed().as_nanos() > u128::from(d) {
                    fired.store(true, Ordering::Relaxed);
                    true
                } else {
                    false
                }
            })));
        }
        let context = Context::full(&runtime)
            .map_err(|e| Fatal::hard(format!("cannot start JavaScript: {e}")))?;
        Ok(Engine {
            fns: HashMap::new(),
            context,
            _runtime: runtime,
            deadline_nanos,
            fired,
            epoch,
        })
    }

    fn arm(&self) {
        let nanos = (self.epoch.elapsed() + TIME_BUDGET).as_nanos();
        self.deadline_nanos
            .store(u64::try_from(nanos).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.fired.store(false, Ordering::Relaxed);
    }

    fn disarm(&self) {
        self.deadline_nanos.store(0, Ordering::Relaxed);
    }
}

/// Runs `f` with this thread's engine; throws the engine away when `f` reports a fatal error.
fn with_engine<T>(f: impl FnOnce(&mut Engine) -> Result<T, Fatal>) -> Result<T, Fatal> {
    ENGINE
        .try_with(|cell| {
            let mut slot = cell
                .try_borrow_mut()
                .map_err(|_| Fatal::soft("JavaScript engine is busy"))?;
            if slot.is_none() {
                *slot = Some(Engine::new()?);
            }
            let Some(engine) = slot.as_mut() else {
                return Err(Fatal::hard("JavaScript engine unavailable"));
            };
            let r = f(engine);
            if matches!(&r, Err(e) if e.reset) {
                *slot = None;
            }
            r
        })
        .map_err(|_| Fatal::soft("JavaScript engine unavailable during thread shutdown"))?
}

fn cache_key(params: &[&str], src: &str) -> String {
    let mut k = params.join(",");
    k.push('\u{0}');
    k.push_str(src);
    k
}

/// The function wrapping `src`, compiled (and cached) on first use. `Ok(Err(msg))` is a
/// JavaScript syntax error; the `bool` tells whether the statement form (extra source
/// parameter) is used.
fn function<'js>(
    ctx: &Ctx<'js>,
    fns: &mut HashMap<String, Compiled>,
    params: &[&str],
    src: &str,
) -> Result<Result<(Function<'js>, bool), String>, Fatal> {
    let key = cache_key(params, src);
    if let Some(f) = fns.get(&key) {
        let (f, statement_form) = f.clone();
        let f = f.restore(ctx).map_err(|e| Fatal::hard(e.to_string()))?;
        return Ok(Ok((f, statement_form)));
    }
    let plist = params.join(",");
    let as_expr = format!("(function({plist}) {{ return (\n{src}\n); }})");
    let (f, statement_form) = match ctx.eval::<Function, _>(as_expr) {
        Ok(f) => (f, false),
        Err(e) => {
            let expr_error = exception_text(ctx, e)?;
            // Not an expression: accept statements (`a = 1; a + val`) if they parse at all.
            let check = format!("(function({plist}) {{\n{src}\n}})");
            if let Err(e) = ctx.eval::<Function, _>(check) {
                exception_text(ctx, e)?;
                return Ok(Err(expr_error));
            }
            let sep = if plist.is_empty() { "" } else { "," };
            let wrapper =
                format!("(function({plist}{sep}{SRC_PARAM}) {{ return eval({SRC_PARAM}); }})");
            match ctx.eval::<Function, _>(wrapper) {
                Ok(f) => (f, true),
                Err(e) => return Ok(Err(exception_text(ctx, e)?)),
            }
        }
    };
    if fns.len() >= FN_CACHE_CAP {
        fns.clear();
    }
    fns.insert(key, (Persistent::save(ctx, f.clone()), statement_form));
    Ok(Ok((f, statement_form)))
}

/// Text of the pending exception, or a fatal error for interrupts and exhaustion.
fn exception_text(ctx: &Ctx<'_>, e: QjsError) -> Result<String, Fatal> {
    match e {
        QjsError::Exception => {
            let v = ctx.catch();
            // When even the "out of memory" error object cannot be allocated, QuickJS leaves
            // `null` as the exception. No content throws `null`, so read it as exhaustion.
            if v.is_null() {
                return Err(Fatal::hard(format!(
                    "JavaScript memory limit exceeded ({} MiB), or the script threw null",
                    MEMORY_LIMIT / (1024 * 1024)
                )));
            }
            let text = Coerced::<String>::from_js(ctx, v)
                .map(|c| c.0)
                .unwrap_or_else(|_| "exception".to_owned());
            if text.contains("out of memory") {
                Err(Fatal::hard(format!(
                    "JavaScript memory limit exceeded ({text})"
                )))
            } else {
                Ok(text)
            }
        }
        QjsError::Allocation => Err(Fatal::hard("JavaScript memory limit exceeded")),
        other => Ok(other.to_string()),
    }
}

/// Checks that `src` compiles as a function body over `params`; `Ok(Err(msg))` = syntax error.
pub(crate) fn check(params: &[&str], src: &str) -> Result<Result<(), String>, Fatal> {
    with_engine(|engine| {
        let Engine { fns, context, .. } = engine;
        context.with(|ctx| Ok(function(&ctx, fns, params, src)?.map(|_| ())))
    })
}

/// What the caller wants from the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    /// `ToBoolean(result)`.
    Truth,
    /// The result as JSON (`None` = `undefined`).
    Json,
}

/// The result of a call: a truth value or a JSON value.
#[derive(Debug)]
pub(crate) enum Produced {
    Truth(bool),
    Json(Option<Value>),
}

/// Calls `src` (compiled over `params`) with `args` bound to the parameters.
pub(crate) fn call(
    params: &[&str],
    src: &str,
    args: &[&Value],
    want: Want,
) -> Result<Outcome<Produced>, Fatal> {
    with_engine(|engine| {
        engine.arm();
        let r = call_in(engine, params, src, args, want);
        engine.disarm();
        if engine.fired.load(Ordering::Relaxed) {
            return Err(Fatal::hard(format!(
                "JavaScript evaluation exceeded its time budget of {} ms",
                TIME_BUDGET.as_millis()
            )));
        }
        r
    })
}

fn call_in(
    engine: &mut Engine,
    params: &[&str],
    src: &str,
    args: &[&Value],
    want: Want,
) -> Result<Outcome<Produced>, Fatal> {
    let Engine { fns, context, .. } = engine;
    context.with(|ctx| {
        let (f, statement_form) = match function(&ctx, fns, params, src)? {
            Ok(f) => f,
            Err(syntax) => return Err(Fatal::soft(syntax)),
        };
        let n = params.len() + usize::from(statement_form);
        let mut js_args = Args::new(ctx.clone(), n);
        for i in 0..params.len() {
            let v = match args.get(i) {
                Some(v) => {
                    let text = serde_json::to_string(v).unwrap_or_else(|_| "null".into());
                    match ctx.json_parse(text) {
                        Ok(v) => v,
                        Err(e) => return exception_text(&ctx, e).map(Outcome::Threw),
                    }
                }
                None => rquickjs::Value::new_undefined(ctx.clone()),
            };
            js_args
                .push_arg(v)
                .map_err(|e| Fatal::hard(e.to_string()))?;
        }
        if statement_form {
            js_args
                .push_arg(src)
                .map_err(|e| Fatal::hard(e.to_string()))?;
        }
        let result: rquickjs::Value = match f.call_arg(js_args) {
            Ok(v) => v,
            Err(e) => return exception_text(&ctx, e).map(Outcome::Threw),
        };
        match want {
            Want::Truth => match Coerced::<bool>::from_js(&ctx, result) {
                Ok(b) => Ok(Outcome::Ok(Produced::Truth(b.0))),
                Err(e) => exception_text(&ctx, e).map(Outcome::Threw),
            },
            Want::Json => match ctx.json_stringify(result) {
                Ok(None) => Ok(Outcome::Ok(Produced::Json(None))),
                Ok(Some(s)) => {
                    let s = s.to_string().map_err(|e| Fatal::hard(e.to_string()))?;
                    match serde_json::from_str::<Value>(&s) {
                        Ok(v) => Ok(Outcome::Ok(Produced::Json(Some(v)))),
                        Err(e) => Ok(Outcome::Threw(format!("result is not JSON: {e}"))),
                    }
                }
                Err(e) => exception_text(&ctx, e).map(Outcome::Threw),
            },
        }
    })
}
