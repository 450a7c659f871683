//! An index of loaded content, as the engine looks things up (§9.1).
//!
//! Integrations are found by id or brand (`name`), scripts by name or id, playbooks by id or
//! name (sub-playbook tasks use either). Commands are indexed by name across integrations
//! because the war room and `|||cmd` tasks dispatch on the name alone; that lookup is on the
//! hot path of every command, so it is a hash lookup, not a scan. Items keep their load order
//! so that results are deterministic. Adding an item with an id already present replaces it
//! (reload / upload); lookups by a name shared by several items return the first one added.

use std::collections::HashMap;

/// Name lookups happen for every command run; content names are not attacker-chosen hash
/// keys, so a fast non-cryptographic hasher serves them.
type Fast = rustc_hash::FxBuildHasher;

use indexmap::IndexMap;

use crate::diag::{Diagnostic, PathSeg, Pending};
use crate::model::{Command, Integration, Playbook, Script, Task};
use crate::{ContentItem, ContentKind};

/// Loaded integrations, scripts and playbooks.
#[derive(Debug, Clone, Default)]
pub struct Library {
    integrations: IndexMap<String, Integration, Fast>,
    /// brand (`name`) -> id of the first integration with it.
    brands: HashMap<String, String, Fast>,
    scripts: IndexMap<String, Script, Fast>,
    /// name -> id.
    script_names: HashMap<String, String, Fast>,
    playbooks: IndexMap<String, Playbook, Fast>,
    /// name -> id.
    playbook_names: HashMap<String, String, Fast>,
    /// command name -> (integration slot, command index), in integration order; only the
    /// first definition of a name within one integration.
    commands: HashMap<String, Vec<(usize, usize)>, Fast>,
}

impl Library {
    /// An empty library.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add an item, replacing the one of the same kind with the same id. Returns warnings:
    /// a command defined twice in the integration (the first definition is the one used),
    /// and a name (brand, script name, playbook name) already used by another item. The same
    /// command name in different integrations is normal and not reported.
    pub fn add(&mut self, item: ContentItem) -> Vec<Diagnostic> {
        match item {
            ContentItem::Integration(i) => self.add_integration(i),
            ContentItem::Script(s) => self.add_script(s),
            ContentItem::Playbook(p) => self.add_playbook(p),
        }
    }

    fn add_integration(&mut self, i: Integration) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (n, c) in i.commands.iter().enumerate() {
            if let Some(&first) = seen.get(c.name.as_str()) {
                out.push(Pending::warning(
                    vec![
                        PathSeg::Key("script".into()),
                        PathSeg::Key("commands".into()),
                        PathSeg::Index(n),
                        PathSeg::Key("name".into()),
                    ],
                    format!(
                        "integration {:?}: command {:?} is defined twice; the first definition (script.commands[{first}]) is used",
                        i.id, c.name
                    ),
                ));
            } else {
                seen.insert(&c.name, n);
            }
        }
        if let Some(other) = self.brands.get(&i.name).filter(|other| **other != i.id) {
            out.push(Pending::warning(
                vec![PathSeg::Key("name".into())],
                format!(
                    "integration {:?} has the same name (brand) {:?} as integration {other:?}; lookups by brand find {other:?}",
                    i.id, i.name
                ),
            ));
        }
        let file = i.file.clone();
        let id = i.id.clone();
        let name = i.name.clone();
        let (slot, old) = self.integrations.insert_full(id.clone(), i);
        match old {
            Some(old) => {
                if old.name != name {
                    forget_name(
                        &mut self.brands,
                        &old.name,
                        &id,
                        self.integrations.values().map(|i| (&i.name, &i.id)),
                    );
                }
                self.brands.entry(name).or_insert(id);
                self.rebuild_commands();
            }
            None => {
                self.brands.entry(name).or_insert(id);
                self.index_commands(slot);
            }
        }
        out.into_iter()
            .map(|p| p.into_diagnostic(&file, None))
            .collect()
    }

    fn add_script(&mut self, s: Script) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        if let Some(other) = self
            .script_names
            .get(&s.name)
            .filter(|other| **other != s.id)
        {
            out.push(Pending::warning(
                vec![PathSeg::Key("name".into())],
                format!("script {:?} has the same name {:?} as script {other:?}; lookups by name find {other:?}", s.id, s.name),
            ));
        }
        let file = s.file.clone();
        let (id, name) = (s.id.clone(), s.name.clone());
        if let Some(old) = self.scripts.insert(id.clone(), s) {
            if old.name != name {
                forget_name(
                    &mut self.script_names,
                    &old.name,
                    &id,
                    self.scripts.values().map(|s| (&s.name, &s.id)),
                );
            }
        }
        self.script_names.entry(name).or_insert(id);
        out.into_iter()
            .map(|p| p.into_diagnostic(&file, None))
            .collect()
    }

    fn add_playbook(&mut self, p: Playbook) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        if let Some(other) = self
            .playbook_names
            .get(&p.name)
            .filter(|other| **other != p.id)
        {
            out.push(Pending::warning(
                vec![PathSeg::Key("name".into())],
                format!("playbook {:?} has the same name {:?} as playbook {other:?}; lookups by name find {other:?}", p.id, p.name),
            ));
        }
        let file = p.file.clone();
        let (id, name) = (p.id.clone(), p.name.clone());
        if let Some(old) = self.playbooks.insert(id.clone(), p) {
            if old.name != name {
                forget_name(
                    &mut self.playbook_names,
                    &old.name,
                    &id,
                    self.playbooks.values().map(|p| (&p.name, &p.id)),
                );
            }
        }
        self.playbook_names.entry(name).or_insert(id);
        out.into_iter()
            .map(|p| p.into_diagnostic(&file, None))
            .collect()
    }

    /// Remove an item by id (or by the name the getters accept). Returns whether one was
    /// removed.
    pub fn remove(&mut self, kind: ContentKind, id: &str) -> bool {
        match kind {
            ContentKind::Integration => {
                let Some(id) = self.integration(id).map(|i| i.id.clone()) else {
                    return false;
                };
                let Some(old) = self.integrations.shift_remove(&id) else {
                    return false;
                };
                forget_name(
                    &mut self.brands,
                    &old.name,
                    &id,
                    self.integrations.values().map(|i| (&i.name, &i.id)),
                );
                self.rebuild_commands();
                true
            }
            ContentKind::Script => {
                let Some(id) = self.script(id).map(|s| s.id.clone()) else {
                    return false;
                };
                let Some(old) = self.scripts.shift_remove(&id) else {
                    return false;
                };
                forget_name(
                    &mut self.script_names,
                    &old.name,
                    &id,
                    self.scripts.values().map(|s| (&s.name, &s.id)),
                );
                true
            }
            ContentKind::Playbook => {
                let Some(id) = self.playbook(id).map(|p| p.id.clone()) else {
                    return false;
                };
                let Some(old) = self.playbooks.shift_remove(&id) else {
                    return false;
                };
                forget_name(
                    &mut self.playbook_names,
                    &old.name,
                    &id,
                    self.playbooks.values().map(|p| (&p.name, &p.id)),
                );
                true
            }
        }
    }

    fn index_commands(&mut self, slot: usize) {
        let Some((_, integration)) = self.integrations.get_index(slot) else {
            return;
        };
        for (n, c) in integration.commands.iter().enumerate() {
            let entry = self.commands.entry(c.name.clone()).or_default();
            if !entry.iter().any(|&(s, _)| s == slot) {
                entry.push((slot, n));
            }
        }
    }

    fn rebuild_commands(&mut self) {
        self.commands.clear();
        for slot in 0..self.integrations.len() {
            self.index_commands(slot);
        }
    }

    /// Integrations, in load order.
    pub fn integrations(&self) -> impl Iterator<Item = &Integration> {
        self.integrations.values()
    }

    /// The integration with that id, or else the first with that brand (`name`).
    pub fn integration(&self, id_or_brand: &str) -> Option<&Integration> {
        self.integrations.get(id_or_brand).or_else(|| {
            self.brands
                .get(id_or_brand)
                .and_then(|id| self.integrations.get(id))
        })
    }

    /// Scripts, in load order.
    pub fn scripts(&self) -> impl Iterator<Item = &Script> {
        self.scripts.values()
    }

    /// The script with that name, or else with that id.
    pub fn script(&self, name_or_id: &str) -> Option<&Script> {
        self.script_names
            .get(name_or_id)
            .and_then(|id| self.scripts.get(id))
            .or_else(|| self.scripts.get(name_or_id))
    }

    /// Playbooks, in load order.
    pub fn playbooks(&self) -> impl Iterator<Item = &Playbook> {
        self.playbooks.values()
    }

    /// The playbook with that id, or else with that name.
    pub fn playbook(&self, id_or_name: &str) -> Option<&Playbook> {
        self.playbooks.get(id_or_name).or_else(|| {
            self.playbook_names
                .get(id_or_name)
                .and_then(|id| self.playbooks.get(id))
        })
    }

    /// The playbook a sub-playbook task runs (§8.10 step 1): the one its `playbookId` names,
    /// else the one its `playbookName` names (each matched against ids, then names).
    pub fn sub_playbook(&self, task: &Task) -> Option<&Playbook> {
        task.sub_playbook_refs().find_map(|r| self.playbook(r))
    }

    /// Every integration that has a command with this exact name, with the command, in load
    /// order.
    pub fn commands_named(&self, name: &str) -> Vec<(&Integration, &Command)> {
        self.commands_named_iter(name).collect()
    }

    /// [`Library::commands_named`] without collecting them.
    pub fn commands_named_iter(
        &self,
        name: &str,
    ) -> impl Iterator<Item = (&Integration, &Command)> + '_ {
        self.commands
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|&(slot, n)| {
                let (_, i) = self.integrations.get_index(slot)?;
                Some((i, i.commands.get(n)?))
            })
    }

    /// Whether any loaded integration declares a command `name` (no allocation).
    pub fn has_command(&self, name: &str) -> bool {
        self.commands.get(name).is_some_and(|e| !e.is_empty())
    }

    /// The command `name` of the integration with that brand (or id): `Brand|||name`.
    pub fn command(&self, brand: &str, name: &str) -> Option<(&Integration, &Command)> {
        let i = self.integration(brand)?;
        Some((i, i.command(name)?))
    }

    /// Number of items of all kinds.
    pub fn len(&self) -> usize {
        self.integrations.len() + self.scripts.len() + self.playbooks.len()
    }

    /// Whether nothing is loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Drop `name -> id` from a name index, pointing it at another item with that name if any.
fn forget_name<'a>(
    index: &mut HashMap<String, String, Fast>,
    name: &str,
    id: &str,
    items: impl Iterator<Item = (&'a String, &'a String)>,
) {
    if index.get(name).is_some_and(|current| current == id) {
        index.remove(name);
        if let Some((_, other)) = items
            .into_iter()
            .find(|(n, other)| n.as_str() == name && other.as_str() != id)
        {
            index.insert(name.to_owned(), other.clone());
        }
    }
}
