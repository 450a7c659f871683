//! Which test playbooks run: discovery, `--filter`, and `--shard i/n`.
//!
//! Sharding must give every CI machine a disjoint, stable slice of the suite without the
//! machines talking to each other, so it works on the suite sorted by name: test *k* (0-based)
//! goes to shard `k mod n + 1`. Filters apply before sharding, so a filtered suite is still
//! spread evenly.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;
use xsoar_content::Playbook;

/// One test playbook to run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct TestCase {
    /// Playbook name (what reports show).
    pub name: String,
    /// Playbook id (what the engine runs).
    pub id: String,
    /// The file it was loaded from.
    pub file: String,
}

impl TestCase {
    /// The test case of a loaded playbook.
    pub fn of(pb: &Playbook) -> Self {
        Self {
            name: pb.name.clone(),
            id: pb.id.clone(),
            file: pb.file.clone(),
        }
    }
}

/// Whether a file lies in an XSOAR `TestPlaybooks` folder (`Packs/X/TestPlaybooks/...`).
pub fn in_test_playbooks_folder(path: &str) -> bool {
    path.split(['/', '\\'])
        .rev()
        .skip(1)
        .any(|c| c.eq_ignore_ascii_case("TestPlaybooks"))
}

/// The test playbooks among the playbooks loaded from one path given on the command line.
///
/// When some of them lie in a `TestPlaybooks` folder (a pack or a content repository), only
/// those are tests and the others are content that tests may call; otherwise every playbook
/// under the path is a test.
pub fn test_cases<'a>(playbooks: impl IntoIterator<Item = &'a Playbook>) -> Vec<TestCase> {
    let all: Vec<&Playbook> = playbooks.into_iter().collect();
    let layout = all.iter().any(|p| in_test_playbooks_folder(&p.file));
    let mut out: Vec<TestCase> = all
        .into_iter()
        .filter(|p| !layout || in_test_playbooks_folder(&p.file))
        .map(TestCase::of)
        .collect();
    out.sort();
    out.dedup_by(|a, b| a.id == b.id);
    out
}

/// `--shard i/n`: run the `i`-th of `n` slices (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based slice number.
    pub index: usize,
    /// Number of slices.
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("shard '{s}' must be I/N with 1 <= I <= N (e.g. 2/4)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Sort by name, keep the cases some filter matches (all when there is no filter), then keep
/// the shard's slice.
pub fn select(mut cases: Vec<TestCase>, filters: &[String], shard: Option<Shard>) -> Vec<TestCase> {
    cases.sort();
    cases.dedup_by(|a, b| a.id == b.id);
    let filtered: Vec<TestCase> = cases
        .into_iter()
        .filter(|c| {
            filters.is_empty()
                || filters
                    .iter()
                    .any(|f| name_matches(f, &c.name) || name_matches(f, &c.id))
        })
        .collect();
    match shard {
        None => filtered,
        Some(s) => filtered
            .into_iter()
            .enumerate()
            .filter(|(k, _)| k % s.count + 1 == s.index)
            .map(|(_, c)| c)
            .collect(),
    }
}

/// A `--filter`: a glob (`*`, `?`, `[...]`) matched against the whole name, else a substring;
/// both ignore case.
pub fn name_matches(filter: &str, name: &str) -> bool {
    if is_glob(filter) {
        glob_match(&filter.to_lowercase(), &name.to_lowercase())
    } else {
        name.to_lowercase().contains(&filter.to_lowercase())
    }
}

/// Whether a text uses glob syntax.
pub fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Glob match of the whole text: `*` any run, `?` one character, `[abc]`/`[a-z]`/`[!x]` a set.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matcher with backtracking to the last `*`.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => match class_match(&p, pi, t[ti]) {
                Some((true, next)) => Some(next),
                Some((false, _)) => None,
                None => (t[ti] == '[').then_some(pi + 1),
            },
            Some(c) => (*c == t[ti]).then_some(pi + 1),
            None => None,
        };
        match step {
            Some(next) => {
                pi = next;
                ti += 1;
            }
            None => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// `[...]` at `p[start]`: (matched, index after the class), or `None` when unclosed.
fn class_match(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while let Some(&ch) = p.get(i) {
        if ch == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|e| *e != ']') {
            let hi = p[i + 2];
            if ch <= c && c <= hi {
                matched = true;
            }
            i += 3;
        } else {
            if ch == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("signl4*", "signl4 alert - test"));
        assert!(glob_match("*test", "signl4 alert - test"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("[sh]*", "hello"));
        assert!(!glob_match("[!sh]*", "hello"));
        assert!(glob_match("v[0-9]", "v7"));
        assert!(!glob_match("*x*", "abc"));
        assert!(glob_match("**", ""));
    }

    #[test]
    fn shards_split_sorted_names() {
        let cases: Vec<TestCase> = ["d", "a", "c", "b", "e"]
            .iter()
            .map(|n| TestCase {
                name: (*n).into(),
                id: (*n).into(),
                file: format!("{n}.yml"),
            })
            .collect();
        let names = |s: &str| -> Vec<String> {
            select(
                cases.clone(),
                &[],
                Some(s.parse().unwrap_or(Shard { index: 1, count: 1 })),
            )
            .into_iter()
            .map(|c| c.name)
            .collect()
        };
        assert_eq!(names("1/2"), vec!["a", "c", "e"]);
        assert_eq!(names("2/2"), vec!["b", "d"]);
        assert_eq!(names("3/3"), vec!["c"]);
        assert!("0/2".parse::<Shard>().is_err());
        assert!("3/2".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }

    #[test]
    fn test_playbooks_layout() {
        assert!(in_test_playbooks_folder(
            "Packs/X/TestPlaybooks/playbook-A.yml"
        ));
        assert!(!in_test_playbooks_folder(
            "Packs/X/Playbooks/playbook-A.yml"
        ));
        assert!(!in_test_playbooks_folder("TestPlaybooks"));
    }
}
