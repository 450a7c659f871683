//! Small per-thread caches of parsed expressions.
//!
//! The same handful of paths, keys and selectors are evaluated over and over (every command
//! output carries the same merge key; every playbook run reads the same inputs), so parsing is
//! done once per thread and distinct expression. The caches are bounded: when full they are
//! simply emptied, which is cheaper and simpler than LRU bookkeeping and good enough for a
//! working set that is normally a few hundred expressions.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

/// Expressions longer than this are parsed every time instead of being cached.
const MAX_CACHED_KEY: usize = 2048;

/// A fast non-cryptographic hasher (the "Fx" multiply-rotate scheme): the keys are short
/// expression strings from content, not attacker-chosen, and the caches are bounded anyway.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            for (d, s) in w.iter_mut().zip(rest) {
                *d = *s;
            }
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A bounded map from expression text to its parsed form.
#[derive(Debug)]
pub(crate) struct ExprCache<T> {
    map: HashMap<Box<str>, Rc<T>, BuildHasherDefault<FxHasher>>,
    cap: usize,
}

impl<T> ExprCache<T> {
    pub(crate) fn new(cap: usize) -> Self {
        ExprCache {
            map: HashMap::default(),
            cap,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<Rc<T>> {
        self.map.get(key).cloned()
    }

    pub(crate) fn insert(&mut self, key: &str, value: Rc<T>) {
        if key.len() > MAX_CACHED_KEY {
            return;
        }
        if self.map.len() >= self.cap {
            self.map.clear();
        }
        self.map.insert(key.into(), value);
    }
}

/// Looks `key` up in a thread-local cache, parsing and remembering it on a miss. Errors are not
/// cached. Falls back to parsing without the cache when the cache is unavailable (thread
/// shutdown) or already borrowed.
pub(crate) fn cached<T, E>(
    cache: &'static std::thread::LocalKey<std::cell::RefCell<ExprCache<T>>>,
    key: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<Rc<T>, E> {
    let hit = cache
        .try_with(|c| c.try_borrow().ok().and_then(|c| c.get(key)))
        .ok()
        .flatten();
    if let Some(hit) = hit {
        return Ok(hit);
    }
    let parsed = Rc::new(parse(key)?);
    let _ = cache.try_with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            c.insert(key, Rc::clone(&parsed));
        }
    });
    Ok(parsed)
}
