//! The instance configuration file (`xsoar-emu.yaml`).
//!
//! ```yaml
//! instances:
//!   - name: signl4-oncall
//!     brand: SIGNL4
//!     enabled: true          # default true
//!     params:
//!       secret: {env: SIGNL4_SECRET}   # taken from the environment at start
//!       url: https://connect.signl4.com
//!       proxy: false
//! ```
//!
//! Parameter values are any YAML value; `{env: NAME}` is replaced by the environment
//! variable `NAME`, so nothing secret needs to be committed. A missing variable is an error
//! naming the instance, the parameter and the variable.

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use xsoar_engine::InstanceSpec;

/// Environment variable naming the config file.
pub const CONFIG_ENV: &str = "XSOAR_EMU_CONFIG";
/// Config file looked up in the working folder when none is given.
pub const DEFAULT_CONFIG: &str = "xsoar-emu.yaml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    instances: Vec<InstanceEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstanceEntry {
    name: String,
    brand: String,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    params: serde_yaml::Mapping,
}

fn yes() -> bool {
    true
}

/// The config file to use: `--config`, else `$XSOAR_EMU_CONFIG`, else `./xsoar-emu.yaml` if
/// it exists.
pub fn config_path(flag: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = flag {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let default = PathBuf::from(DEFAULT_CONFIG);
    default.is_file().then_some(default)
}

/// Read instances from a config file, resolving `{env: NAME}` values with `env`.
pub fn load_instances(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<InstanceSpec>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    parse_instances(&text, &path.display().to_string(), env)
}

/// Parse instances from config text.
pub fn parse_instances(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<InstanceSpec>> {
    let config: ConfigFile = serde_yaml::from_str(text).map_err(|e| match e.location() {
        Some(l) => anyhow!("{file}:{}:{}: {e}", l.line(), l.column()),
        None => anyhow!("{file}: {e}"),
    })?;
    let mut specs: Vec<InstanceSpec> = Vec::new();
    for inst in config.instances {
        if specs.iter().any(|s| s.name == inst.name) {
            bail!("{file}: two instances are named '{}'", inst.name);
        }
        let mut params = Map::new();
        for (k, v) in inst.params {
            let key = match k {
                serde_yaml::Value::String(s) => s,
                other => bail!(
                    "{file}: instance '{}': parameter names must be strings, found {other:?}",
                    inst.name
                ),
            };
            let value = resolve_value(v, env)
                .map_err(|e| anyhow!("{file}: instance '{}', parameter '{key}': {e}", inst.name))?;
            params.insert(key, value);
        }
        specs.push(InstanceSpec {
            name: inst.name,
            brand: inst.brand,
            enabled: inst.enabled,
            params,
            simulated: false,
        });
    }
    Ok(specs)
}

fn resolve_value(v: serde_yaml::Value, env: &dyn Fn(&str) -> Option<String>) -> Result<Value> {
    if let serde_yaml::Value::Mapping(m) = &v {
        if m.len() == 1 {
            if let Some(serde_yaml::Value::String(var)) = m.get("env") {
                return env(var)
                    .map(Value::String)
                    .ok_or_else(|| anyhow!("environment variable '{var}' is not set"));
            }
        }
    }
    serde_json::to_value(&v).map_err(|e| anyhow!("unsupported value: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "SIGNL4_SECRET").then(|| "s3cr3t".to_owned())
    }

    #[test]
    fn env_values_are_resolved() {
        let specs = parse_instances(
            "instances:\n- name: a\n  brand: SIGNL4\n  params:\n    secret: {env: SIGNL4_SECRET}\n    proxy: false\n",
            "x.yaml",
            &env,
        )
        .expect("parses");
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].params["secret"], "s3cr3t");
        assert_eq!(specs[0].params["proxy"], false);
        assert!(specs[0].enabled);
    }

    #[test]
    fn errors_name_the_place() {
        let err = parse_instances(
            "instances:\n- name: a\n  brand: SIGNL4\n  params:\n    secret: {env: NOPE}\n",
            "x.yaml",
            &env,
        )
        .expect_err("missing env");
        assert_eq!(
            err.to_string(),
            "x.yaml: instance 'a', parameter 'secret': environment variable 'NOPE' is not set"
        );
        let err = parse_instances("instances:\n- name: a\n  brnd: X\n", "x.yaml", &env)
            .expect_err("typo");
        assert!(err.to_string().starts_with("x.yaml:"), "{err}");
        let err = parse_instances(
            "instances:\n- {name: a, brand: X}\n- {name: a, brand: Y}\n",
            "x.yaml",
            &env,
        )
        .expect_err("dup");
        assert_eq!(err.to_string(), "x.yaml: two instances are named 'a'");
    }
}
