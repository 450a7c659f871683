//! Integration instances and the connectors behind them.
//!
//! An *instance* is a configured copy of an integration (`name`, `brand`, `enabled`,
//! `params`), separate from the integration definition (§9.2). The registry builds one
//! connector per enabled instance through the brand's [`ConnectorFactory`] and exposes the
//! instances as XSOAR's `modules` list for DT (`modules(val.brand == 'X')`).

use crate::builtins::{Builtins, BUILTIN_BRAND};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use xsoar_connector::{Connector, ConnectorFactory, InstanceConfig, Secret};
use xsoar_content::Library;

/// An instance as configured (config file, REST API, web console).
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceSpec {
    /// Instance name (what `using=` refers to).
    pub name: String,
    /// Integration brand (integration `name`).
    pub brand: String,
    /// Disabled instances are listed but never run.
    pub enabled: bool,
    /// Parameters (`params()`).
    pub params: Map<String, Value>,
    /// The instance talks to an embedded simulator, not the real service.
    pub simulated: bool,
}

/// What listing an instance shows (secrets masked).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceInfo {
    /// Instance name.
    pub name: String,
    /// Brand.
    pub brand: String,
    /// Enabled.
    pub enabled: bool,
    /// Parameters with secret values replaced by `******`.
    pub params: Map<String, Value>,
    /// Backed by the embedded simulator.
    pub simulated: bool,
    /// Why the connector could not be built, if it could not.
    pub problem: Option<String>,
    /// Integration category.
    pub category: String,
}

pub(crate) struct Instance {
    pub spec: InstanceSpec,
    pub category: String,
    pub connector: Result<Arc<dyn Connector>, String>,
    pub secrets: Vec<Secret>,
    pub secret_params: Vec<String>,
    /// The parameters the integration declares (`None`: the integration is not loaded).
    pub declared_params: Option<Vec<String>>,
    /// Command aliases of its connector factory (alias, real name).
    pub aliases: &'static [(&'static str, &'static str)],
}

/// The instances of one engine, with their connectors.
pub struct Registry {
    pub(crate) instances: Vec<Instance>,
    pub(crate) modules: Arc<Value>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("instances", &self.instances.len())
            .finish()
    }
}

impl Registry {
    /// Build connectors for every instance.
    pub(crate) fn build(
        specs: Vec<InstanceSpec>,
        library: &Library,
        factories: &BTreeMap<String, Arc<dyn ConnectorFactory>>,
    ) -> Self {
        let mut instances = Vec::with_capacity(specs.len() + 1);
        let builtin: Arc<dyn Connector> = Arc::new(Builtins);
        instances.push(Instance {
            spec: InstanceSpec {
                name: BUILTIN_BRAND.into(),
                brand: BUILTIN_BRAND.into(),
                enabled: true,
                params: Map::new(),
                simulated: false,
            },
            category: "Utilities".into(),
            connector: Ok(builtin),
            secrets: Vec::new(),
            secret_params: Vec::new(),
            declared_params: Some(Vec::new()),
            aliases: &[],
        });
        for spec in specs {
            let integration = library.integration(&spec.brand);
            let category = integration.map(|i| i.category.clone()).unwrap_or_default();
            let secret_params: Vec<String> = integration
                .map(|i| {
                    i.params
                        .iter()
                        .filter(|p| p.is_secret())
                        .map(|p| p.name.clone())
                        .collect()
                })
                .unwrap_or_default();
            let declared_params =
                integration.map(|i| i.params.iter().map(|p| p.name.clone()).collect());
            let config = InstanceConfig {
                name: spec.name.clone(),
                brand: spec.brand.clone(),
                params: with_param_defaults(&spec, library),
                secret_params: secret_params.clone(),
            };
            let factory = factories.get(&spec.brand);
            let secrets: Vec<Secret> = secret_params
                .iter()
                .filter_map(|p| config.param_secret(p))
                .chain(
                    factory
                        .map(|f| f.extra_secrets(&config))
                        .unwrap_or_default(),
                )
                .filter(|s| !s.expose().is_empty())
                .collect();
            let connector = match (integration, factory) {
                (None, _) => Err(format!("no integration named '{}' is loaded", spec.brand)),
                (Some(_), None) => Err(format!(
                    "the emulator has no connector for the '{}' integration",
                    spec.brand
                )),
                (Some(_), Some(f)) => f
                    .build(&config)
                    .map_err(|e| mask_all(&e.to_string(), &secrets)),
            };
            instances.push(Instance {
                spec,
                category,
                connector,
                secrets,
                secret_params,
                declared_params,
                aliases: factory.map_or(&[], |f| f.aliases()),
            });
        }
        let modules = Arc::new(Value::Array(
            instances
                .iter()
                .map(|i| {
                    json!({
                        "brand": i.spec.brand,
                        "name": i.spec.name,
                        "category": i.category,
                        "state": if i.spec.enabled && i.connector.is_ok() { "active" } else { "disabled" },
                        "defaultIgnored": "false",
                    })
                })
                .collect(),
        ));
        Self { instances, modules }
    }

    /// Listing of the configured instances (the builtin one excluded), secrets masked.
    ///
    /// Declared secret parameters show `******`; so does every text or object value of a
    /// parameter the integration does not declare (or of any parameter when the integration is
    /// not loaded), since nothing says it is not a secret. Secret values that also appear inside
    /// another parameter (a webhook URL pasted with its secret) are masked there too.
    pub fn infos(&self) -> Vec<InstanceInfo> {
        self.instances
            .iter()
            .skip(1)
            .map(|i| InstanceInfo {
                name: i.spec.name.clone(),
                brand: i.spec.brand.clone(),
                enabled: i.spec.enabled,
                params: i
                    .spec
                    .params
                    .iter()
                    .map(|(k, v)| (k.clone(), i.shown_param(k, v)))
                    .collect(),
                simulated: i.spec.simulated,
                problem: i.connector.as_ref().err().cloned(),
                category: i.category.clone(),
            })
            .collect()
    }

    pub(crate) fn find(&self, name: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.spec.name == name)
    }
}

impl Instance {
    /// A parameter's value as listings show it (see [`Registry::infos`]).
    fn shown_param(&self, name: &str, value: &Value) -> Value {
        let declared = self
            .declared_params
            .as_ref()
            .is_some_and(|d| d.iter().any(|p| p == name));
        let masked = json!("******");
        match value {
            _ if self.secret_params.iter().any(|p| p == name) => masked,
            Value::Bool(_) | Value::Number(_) | Value::Null => value.clone(),
            _ if !declared => masked,
            Value::String(s) => Value::String(mask_all(s, &self.secrets)),
            other => {
                let text = other.to_string();
                if mask_all(&text, &self.secrets) == text {
                    other.clone()
                } else {
                    masked
                }
            }
        }
    }
}

/// Parameters as given, with the integration's declared defaults for those not given.
fn with_param_defaults(spec: &InstanceSpec, library: &Library) -> Map<String, Value> {
    let mut params = spec.params.clone();
    if let Some(integration) = library.integration(&spec.brand) {
        for p in &integration.params {
            if !params.contains_key(&p.name) {
                if let Some(d) = &p.default_value {
                    params.insert(p.name.clone(), d.clone());
                }
            }
        }
    }
    params
}

/// Mask every secret in a text.
pub(crate) fn mask_all(text: &str, secrets: &[Secret]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        out = s.mask_in(&out);
    }
    out
}
