//! Semantic checks on loaded items: what the YAML schema cannot express.
//!
//! These run on the model (so they also apply to items built in code) and report YAML paths;
//! the parse functions run them too and add line/column, and [`resolve_positions`] does the
//! same for callers that check later, e.g. once a [`Library`] is complete and sub-playbook
//! references can be resolved.
//!
//! Severity follows impact: what makes the engine's behaviour ambiguous (two commands with one
//! name, two default arguments, a start task that does not exist) is an error; what XSOAR
//! itself loads and runs (dangling edges, unreachable tasks, loops, a default that can never
//! apply) is a warning.
//!
//! [`resolve_positions`]: crate::resolve_positions

use std::collections::{HashMap, HashSet, VecDeque};

use crate::diag::{Diagnostic, PathSeg, Pending};
use crate::library::Library;
use crate::model::{Command, Integration, Playbook, Script, Task, TaskTarget, TaskType};

/// Parameter type codes XSOAR knows (§1.2).
const KNOWN_PARAM_TYPES: [i64; 18] = [
    0, 1, 4, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
];

fn key(k: &str) -> PathSeg {
    PathSeg::Key(k.to_owned())
}

fn with(base: &[PathSeg], more: impl IntoIterator<Item = PathSeg>) -> Vec<PathSeg> {
    let mut p = base.to_vec();
    p.extend(more);
    p
}

/// Check an integration: duplicate command names, more than one default argument, arguments
/// both required and defaulted, a predefined argument whose default is not among its values,
/// and unknown parameter type codes.
pub fn check_integration(i: &Integration) -> Vec<Diagnostic> {
    check_integration_pending(i)
        .into_iter()
        .map(|p| p.into_diagnostic(&i.file, None))
        .collect()
}

pub(crate) fn check_integration_pending(i: &Integration) -> Vec<Pending> {
    let mut out = Vec::new();
    let mut seen_params: HashMap<&str, usize> = HashMap::new();
    for (n, p) in i.params.iter().enumerate() {
        let at = [key("configuration"), PathSeg::Index(n)];
        if let Some(&first) = seen_params.get(p.name.as_str()) {
            out.push(Pending::warning(
                with(&at, [key("name")]),
                format!(
                    "parameter {:?} is defined twice (first at configuration[{first}])",
                    p.name
                ),
            ));
        } else {
            seen_params.insert(&p.name, n);
        }
        if !KNOWN_PARAM_TYPES.contains(&p.param_type) {
            out.push(Pending::warning(
                with(&at, [key("type")]),
                format!("parameter {:?}: unknown type code {}", p.name, p.param_type),
            ));
        }
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (n, c) in i.commands.iter().enumerate() {
        let at = [key("script"), key("commands"), PathSeg::Index(n)];
        if let Some(&first) = seen.get(c.name.as_str()) {
            out.push(Pending::error(
                with(&at, [key("name")]),
                format!(
                    "command {:?} is defined more than once (first at script.commands[{first}])",
                    c.name
                ),
            ));
        } else {
            seen.insert(&c.name, n);
        }
        check_command(c, &at, "arguments", &mut out);
    }
    out
}

/// The argument checks of a script's signature (as for integration commands).
pub(crate) fn check_script_pending(s: &Script) -> Vec<Pending> {
    let mut out = Vec::new();
    check_command(&s.signature, &[], "args", &mut out);
    out
}

fn check_command(c: &Command, at: &[PathSeg], args_key: &str, out: &mut Vec<Pending>) {
    let arg_at = |n: usize, field: &str| with(at, [key(args_key), PathSeg::Index(n), key(field)]);
    let defaults: Vec<(usize, &str)> = c
        .arguments
        .iter()
        .enumerate()
        .filter(|(_, a)| a.default)
        .map(|(n, a)| (n, a.name.as_str()))
        .collect();
    if defaults.len() > 1 {
        let names: Vec<String> = defaults.iter().map(|(_, n)| format!("{n:?}")).collect();
        out.push(Pending::error(
            arg_at(defaults[1].0, "default"),
            format!(
                "command {:?}: more than one default argument ({})",
                c.name,
                names.join(", ")
            ),
        ));
    }
    let mut seen: HashSet<&str> = HashSet::new();
    for (n, a) in c.arguments.iter().enumerate() {
        if !seen.insert(&a.name) {
            out.push(Pending::warning(
                arg_at(n, "name"),
                format!(
                    "command {:?}: argument {:?} is defined twice",
                    c.name, a.name
                ),
            ));
        }
        let Some(dv) = &a.default_value else { continue };
        if a.required {
            out.push(Pending::warning(
                arg_at(n, "defaultValue"),
                format!(
                    "command {:?}, argument {:?}: is required and has a defaultValue ({dv:?}); the default never applies",
                    c.name, a.name
                ),
            ));
        }
        let predefined = a
            .auto
            .as_deref()
            .is_some_and(|x| x.eq_ignore_ascii_case("PREDEFINED"));
        if predefined && !a.predefined.is_empty() && !a.predefined.iter().any(|p| p == dv) {
            out.push(Pending::warning(
                arg_at(n, "defaultValue"),
                format!(
                    "command {:?}, argument {:?}: defaultValue {dv:?} is not one of the predefined values ({})",
                    c.name,
                    a.name,
                    a.predefined.iter().map(|p| format!("{p:?}")).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
}

/// Check a playbook: `starttaskid` missing or naming no task (errors); `nexttasks` pointing
/// to missing tasks, tasks unreachable from the start, cycles, condition labels without a
/// `nexttasks` entry, sub-playbook tasks naming no playbook (warnings). With a library,
/// sub-playbooks that are not in it are reported too (warnings). A `taskid` differing from
/// `task.id` is not reported (exports are inconsistent about it and nothing depends on it).
pub fn check_playbook(p: &Playbook, lib: Option<&Library>) -> Vec<Diagnostic> {
    let mut pending = check_playbook_pending(p);
    if let Some(lib) = lib {
        pending.extend(check_references_pending(p, lib));
    }
    pending
        .into_iter()
        .map(|d| d.into_diagnostic(&p.file, None))
        .collect()
}

/// Only the library-dependent part of [`check_playbook`]: sub-playbooks that are not loaded.
/// For callers that already have the structural diagnostics from parsing.
pub fn check_playbook_references(p: &Playbook, lib: &Library) -> Vec<Diagnostic> {
    check_references_pending(p, lib)
        .into_iter()
        .map(|d| d.into_diagnostic(&p.file, None))
        .collect()
}

fn task_path(id: &str) -> Vec<PathSeg> {
    vec![key("tasks"), key(id)]
}

/// `task "3" ("Name")`, or `task "3"` for unnamed tasks.
pub(crate) fn subject(t: &Task) -> String {
    if t.name.trim().is_empty() {
        format!("task {:?}", t.id)
    } else {
        format!("task {:?} ({:?})", t.id, t.name)
    }
}

/// The path of the field a sub-playbook task names its playbook with.
fn sub_playbook_path(t: &Task, name: &str) -> Vec<PathSeg> {
    let field = if t.playbook_id.as_deref().is_some_and(|s| s.trim() == name) {
        "playbookId"
    } else {
        "playbookName"
    };
    with(&task_path(&t.id), [key("task"), key(field)])
}

/// `"id"`, or `"id" (playbookName "name")` when the task names its playbook both ways.
pub(crate) fn sub_playbook_refs_text(t: &Task) -> String {
    let refs: Vec<&str> = t.sub_playbook_refs().collect();
    match refs.as_slice() {
        [id, name] if id != name => format!("{id:?} (playbookName {name:?})"),
        [first, ..] => format!("{first:?}"),
        [] => "\"\"".to_owned(),
    }
}

fn check_references_pending(p: &Playbook, lib: &Library) -> Vec<Pending> {
    let mut out = Vec::new();
    for t in p.tasks.values() {
        if let TaskTarget::SubPlaybook(name) = t.target() {
            if lib.sub_playbook(t).is_none() {
                let message = format!(
                    "{}: sub-playbook {} is not loaded",
                    subject(t),
                    sub_playbook_refs_text(t)
                );
                let path = sub_playbook_path(t, name);
                out.push(if t.skip_unavailable {
                    Pending::note(
                        path,
                        format!("{message}; the task is skipped when it runs (skipunavailable)"),
                    )
                } else {
                    Pending::warning(path, message)
                });
            }
        }
    }
    out
}

pub(crate) fn check_playbook_pending(p: &Playbook) -> Vec<Pending> {
    let mut out = Vec::new();
    let start = p.start_task_id.trim();
    let start_index = if start.is_empty() {
        out.push(Pending::error(
            vec![key("starttaskid")],
            "missing required field 'starttaskid'".to_owned(),
        ));
        None
    } else {
        let i = p.tasks.get_index_of(start);
        if i.is_none() {
            out.push(Pending::error(
                vec![key("starttaskid")],
                format!("starttaskid {start:?} does not name a task of the playbook"),
            ));
        }
        i
    };

    // Edges, with dangling references reported.
    let mut edges: Vec<Vec<usize>> = Vec::with_capacity(p.tasks.len());
    for t in p.tasks.values() {
        let mut targets = Vec::new();
        for (label, ids) in &t.next_tasks {
            for (n, id) in ids.iter().enumerate() {
                match p.tasks.get_index_of(id.as_str()) {
                    Some(j) => {
                        if !targets.contains(&j) {
                            targets.push(j);
                        }
                    }
                    None => out.push(Pending::warning(
                        with(
                            &task_path(&t.id),
                            [key("nexttasks"), key(label), PathSeg::Index(n)],
                        ),
                        format!(
                            "{}: nexttasks {label:?} refers to missing task {id:?}",
                            subject(t)
                        ),
                    )),
                }
            }
        }
        edges.push(targets);

        for (n, b) in t.conditions.iter().enumerate() {
            if t.next_for(&b.label).is_none() {
                out.push(Pending::warning(
                    with(
                        &task_path(&t.id),
                        [key("conditions"), PathSeg::Index(n), key("label")],
                    ),
                    format!(
                        "{}: condition label {:?} has no nexttasks entry",
                        subject(t),
                        b.label
                    ),
                ));
            }
        }
        if let TaskTarget::SubPlaybook(name) = t.target() {
            if name == p.id.trim() || name == p.name.trim() {
                out.push(Pending::warning(
                    sub_playbook_path(t, name),
                    format!(
                        "{}: the playbook runs itself as a sub-playbook (self-recursion)",
                        subject(t)
                    ),
                ));
            }
        }
        if t.task_type == TaskType::Playbook && t.target() == TaskTarget::Manual {
            out.push(Pending::warning(
                with(&task_path(&t.id), [key("task")]),
                format!("{}: sub-playbook task names no playbook (playbookId and playbookName are empty)", subject(t)),
            ));
        }
    }

    if let Some(s) = start_index {
        let mut reached = vec![false; edges.len()];
        let mut queue = VecDeque::from([s]);
        reached[s] = true;
        while let Some(i) = queue.pop_front() {
            for &j in &edges[i] {
                if !reached[j] {
                    reached[j] = true;
                    queue.push_back(j);
                }
            }
        }
        for (i, t) in p.tasks.values().enumerate() {
            if !reached[i] {
                out.push(Pending::warning(
                    task_path(&t.id),
                    format!(
                        "{} is not reachable from the start task {start:?}",
                        subject(t)
                    ),
                ));
            }
        }
    }

    for cycle in cycles(&edges) {
        let ids: Vec<&str> = cycle
            .iter()
            .filter_map(|&i| p.tasks.get_index(i).map(|(k, _)| k.as_str()))
            .collect();
        let Some(first) = ids.first() else { continue };
        let mut shown: Vec<String> = ids.iter().map(|id| format!("{id:?}")).collect();
        shown.push(format!("{first:?}"));
        out.push(Pending::warning(
            task_path(first),
            format!("tasks form a cycle: {}", shown.join(" -> ")),
        ));
    }
    out
}

/// One cycle per non-trivial strongly connected component, as task indices starting at the
/// component's first task (in file order). Iterative, so deep graphs cannot overflow.
fn cycles(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let sccs = tarjan(edges);
    let mut out = Vec::new();
    for comp in sccs {
        let in_comp: HashSet<usize> = comp.iter().copied().collect();
        let Some(&s) = comp.iter().min() else {
            continue;
        };
        if comp.len() == 1 && !edges[s].contains(&s) {
            continue;
        }
        // Shortest path s -> ... -> s inside the component.
        let mut prev: HashMap<usize, usize> = HashMap::new();
        let mut queue = VecDeque::from([s]);
        let mut closing = None;
        'bfs: while let Some(i) = queue.pop_front() {
            for &j in &edges[i] {
                if j == s {
                    closing = Some(i);
                    break 'bfs;
                }
                if in_comp.contains(&j) && !prev.contains_key(&j) {
                    prev.insert(j, i);
                    queue.push_back(j);
                }
            }
        }
        let Some(mut at) = closing else { continue };
        let mut path = vec![at];
        while at != s {
            match prev.get(&at) {
                Some(&p) => {
                    at = p;
                    path.push(at);
                }
                None => break,
            }
        }
        path.reverse();
        out.push(path);
    }
    out.sort_by_key(|c| c.first().copied());
    out
}

/// Strongly connected components (Tarjan), without recursion.
fn tarjan(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    const UNSEEN: usize = usize::MAX;
    let n = edges.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next = 0;
    let mut out = Vec::new();
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        let mut call: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut k)) = call.last_mut() {
            if let Some(&w) = edges[v].get(*k) {
                *k += 1;
                if index[w] == UNSEEN {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            call.pop();
            if let Some(&(parent, _)) = call.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                out.push(comp);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{cycles, tarjan};

    #[test]
    fn components_and_cycles() {
        // 0 -> 1 -> 2 -> 1, 2 -> 3, 3 -> 3, 4 -> 0
        let edges = vec![vec![1], vec![2], vec![1, 3], vec![3], vec![0]];
        let mut sccs: Vec<Vec<usize>> = tarjan(&edges)
            .into_iter()
            .map(|mut c| {
                c.sort();
                c
            })
            .collect();
        sccs.sort();
        assert_eq!(sccs, vec![vec![0], vec![1, 2], vec![3], vec![4]]);
        assert_eq!(cycles(&edges), vec![vec![1, 2], vec![3]]);
    }

    #[test]
    fn long_chains_do_not_recurse() {
        let n = 200_000;
        let mut edges: Vec<Vec<usize>> = (0..n).map(|i| vec![i + 1]).collect();
        edges[n - 1] = vec![0];
        let c = cycles(&edges);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].len(), n);
    }
}
