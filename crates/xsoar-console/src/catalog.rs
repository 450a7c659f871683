//! The command catalog behind the war room's `!` autocomplete.
//!
//! Built from the engine's library on every request, so content reloads and instance changes
//! show at once. It offers what would actually run: integration commands only when their brand
//! has an enabled instance, every builtin, and scripts (which run when mocked). Hidden commands
//! and hidden arguments are left out, as XSOAR's war room does.

use serde::Serialize;
use xsoar_content::{Argument, Command};
use xsoar_engine::builtins::{BUILTIN_BRAND, IMPLEMENTED};
use xsoar_engine::{Engine, InstanceInfo};

/// Everything the war room completes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Catalog {
    /// Commands and scripts, sorted by name.
    pub commands: Vec<CatalogCommand>,
    /// Instance names for `using=`.
    pub instances: Vec<CatalogInstance>,
}

/// One completable command.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogCommand {
    /// Name typed after `!`.
    pub name: String,
    /// `integration`, `script` or `builtin`.
    pub kind: &'static str,
    /// Brands implementing it (integration commands).
    pub brands: Vec<String>,
    /// Description.
    pub description: String,
    /// Arguments.
    pub arguments: Vec<CatalogArgument>,
    /// Marked deprecated.
    pub deprecated: bool,
}

/// One argument of a completable command.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogArgument {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Required.
    pub required: bool,
    /// May be given positionally.
    pub default: bool,
    /// Accepts a list.
    pub is_array: bool,
    /// Allowed values.
    pub predefined: Vec<String>,
    /// Value used when not given.
    pub default_value: Option<String>,
    /// Masked in the echoed command line.
    pub secret: bool,
}

/// One instance `using=` can name.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogInstance {
    /// Instance name.
    pub name: String,
    /// Brand.
    pub brand: String,
    /// Backed by the embedded simulator.
    pub simulated: bool,
}

fn arguments(cmd: &Command) -> Vec<CatalogArgument> {
    cmd.arguments
        .iter()
        .filter(|a| !a.hidden)
        .map(|a: &Argument| CatalogArgument {
            name: a.name.clone(),
            description: a.description.clone(),
            required: a.required,
            default: a.default,
            is_array: a.is_array,
            predefined: a.predefined.clone(),
            default_value: a.default_value.clone(),
            secret: a.secret,
        })
        .collect()
}

fn usable(info: &InstanceInfo) -> bool {
    info.enabled && info.problem.is_none()
}

/// Build the catalog from the engine's library and instances.
pub fn catalog(engine: &Engine) -> Catalog {
    let lib = engine.library();
    let instances = engine.instances();
    let mut commands: Vec<CatalogCommand> = Vec::new();
    for integration in lib.integrations() {
        let builtin = integration.name == BUILTIN_BRAND;
        let enabled = builtin
            || instances
                .iter()
                .any(|i| i.brand == integration.name && usable(i));
        if !enabled {
            continue;
        }
        for cmd in integration.commands.iter().filter(|c| !c.hidden) {
            if let Some(existing) = commands.iter_mut().find(|c| c.name == cmd.name) {
                if !existing.brands.contains(&integration.name) {
                    existing.brands.push(integration.name.clone());
                }
                continue;
            }
            commands.push(CatalogCommand {
                name: cmd.name.clone(),
                kind: if builtin { "builtin" } else { "integration" },
                brands: vec![integration.name.clone()],
                description: cmd.description.clone(),
                arguments: arguments(cmd),
                deprecated: cmd.deprecated,
            });
        }
    }
    for script in lib.scripts() {
        if commands.iter().any(|c| c.name == script.name) {
            continue;
        }
        let description = if script.comment.is_empty() {
            script.signature.description.clone()
        } else {
            script.comment.clone()
        };
        commands.push(CatalogCommand {
            name: script.name.clone(),
            kind: if IMPLEMENTED.contains(&script.name.as_str()) {
                "builtin"
            } else {
                "script"
            },
            brands: Vec::new(),
            description,
            arguments: arguments(&script.signature),
            deprecated: script.signature.deprecated,
        });
    }
    commands.sort_by(|a, b| {
        a.name
            .to_ascii_lowercase()
            .cmp(&b.name.to_ascii_lowercase())
    });
    Catalog {
        commands,
        instances: instances
            .iter()
            .filter(|i| usable(i))
            .map(|i| CatalogInstance {
                name: i.name.clone(),
                brand: i.brand.clone(),
                simulated: i.simulated,
            })
            .collect(),
    }
}
