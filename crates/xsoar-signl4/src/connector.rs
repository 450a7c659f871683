//! The `SIGNL4` brand: the factory the binary registers and the per-instance connector.
//!
//! One HTTP client per instance, built when the instance is configured, so a bad `url` or a
//! missing secret is reported at configuration time and every command of the instance reuses
//! the same connection pool (SIGNL4 calls are short and frequent in paging playbooks).

use crate::deadline::DeadlineTimers;
use crate::http::{CallError, DebugLog, Endpoint, Masker};
use crate::retry::RetryPolicy;
use crate::{commands, payload, BRAND, DEFAULT_TIMEOUT, DEFAULT_URL};
use futures::future::BoxFuture;
use reqwest::Url;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;
use xsoar_connector::{
    table_to_markdown, CommandCall, CommandOutput, CommandResult, Connector, ConnectorError,
    ConnectorFactory, InstanceConfig, Outputs, Secret,
};

/// Builds SIGNL4 connectors. Cheap to clone; holds only the retry policy and default timeout.
#[derive(Debug, Clone)]
pub struct Signl4Factory {
    retry: RetryPolicy,
    timeout: Duration,
}

impl Default for Signl4Factory {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl Signl4Factory {
    /// Default retry policy (3 attempts, 500 ms base, 10 s cap) and a 30 s request timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Use another retry policy (tests use a few milliseconds of backoff).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Per-request timeout when a command has no `execution-timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The retry policy of the connectors this factory builds.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Build a connector with its concrete type (the trait method returns it type-erased).
    pub fn build_connector(
        &self,
        instance: &InstanceConfig,
    ) -> Result<Signl4Connector, ConnectorError> {
        Signl4Connector::new(instance, self.retry.clone(), self.timeout)
    }
}

/// The factory with default settings, ready to register in the binary.
pub fn factory() -> Arc<dyn ConnectorFactory> {
    Arc::new(Signl4Factory::default())
}

impl ConnectorFactory for Signl4Factory {
    fn brand(&self) -> &str {
        BRAND
    }

    fn build(&self, instance: &InstanceConfig) -> Result<Arc<dyn Connector>, ConnectorError> {
        Ok(Arc::new(self.build_connector(instance)?))
    }

    fn aliases(&self) -> &'static [(&'static str, &'static str)] {
        ALIASES
    }

    /// `url` points an instance at a simulator or test server, also with the official pack's
    /// YAML, which declares only `secret` and `proxy`.
    fn extra_params(&self) -> &'static [&'static str] {
        &["url"]
    }

    /// A webhook URL pasted into `url` (`…/webhook/<secret>`) carries a team secret, maybe
    /// another team's than the `secret` parameter: every path segment after `webhook` is one.
    fn extra_secrets(&self, instance: &InstanceConfig) -> Vec<Secret> {
        let Some(url) = instance.param_str("url") else {
            return Vec::new();
        };
        let path = url
            .split_once("://")
            .map_or(url.as_str(), |(_, rest)| rest)
            .split(['?', '#'])
            .next()
            .unwrap_or_default();
        path.split('/')
            .skip_while(|seg| !seg.eq_ignore_ascii_case("webhook"))
            .skip(1)
            .filter(|seg| !seg.is_empty())
            .map(|seg| Secret::new(seg.to_owned()))
            .collect()
    }
}

/// One SIGNL4 instance: its webhook URL (secret inside, never printed) and HTTP client.
#[derive(Debug)]
pub struct Signl4Connector {
    instance: String,
    endpoint: Endpoint,
}

/// What the secret segment of the webhook URL is shown as.
const MASK: &str = "******";

const ALIASES: &[(&str, &str)] = &[(commands::CLOSE_ALIAS, commands::CLOSE_ALERT)];

impl Signl4Connector {
    fn new(
        instance: &InstanceConfig,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> Result<Self, ConnectorError> {
        let secret = instance
            .param_secret("secret")
            .map(|s| s.expose().trim().to_owned())
            .filter(|s| !s.is_empty())
            .map(Secret::new)
            .ok_or_else(|| {
                ConnectorError::Config(format!(
                    "the SIGNL4 instance '{}' has no team or integration secret: set the 'secret' \
                     parameter (the password of the credentials, e.g. `secret: {{env: SIGNL4_SECRET}}` \
                     in xsoar-emu.yaml)",
                    instance.name
                ))
            })?;
        let proxy = match instance.params.get("proxy") {
            None | Some(Value::Null) => false,
            Some(_) => instance.param_bool("proxy").ok_or_else(|| {
                ConnectorError::Config(format!(
                    "the 'proxy' parameter of SIGNL4 instance '{}' must be true or false",
                    instance.name
                ))
            })?,
        };
        let raw_url = instance
            .param_str("url")
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_URL.to_owned());
        let mask_raw = |text: &str| secret.mask_in(text);
        let bad_url = |why: &str| {
            ConnectorError::Config(format!(
                "the 'url' parameter of SIGNL4 instance '{}' ('{}') {why}; use the service root, \
                 e.g. {DEFAULT_URL} or http://127.0.0.1:<port> for a simulator",
                instance.name,
                mask_raw(&raw_url)
            ))
        };
        let mut base = Url::parse(&raw_url).map_err(|e| bad_url(&format!("is not a URL ({e})")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(bad_url("must start with https:// or http://"));
        }
        if base.host_str().is_none() || base.cannot_be_a_base() {
            return Err(bad_url("has no host"));
        }
        if base
            .path_segments()
            .is_some_and(|mut s| s.any(|seg| seg.eq_ignore_ascii_case("webhook")))
        {
            return Err(ConnectorError::Config(format!(
                "the 'url' parameter of SIGNL4 instance '{}' is a webhook URL; set it to the service \
                 root ({DEFAULT_URL}, or http://127.0.0.1:<port> for a simulator) and put the secret \
                 in the 'secret' parameter",
                instance.name
            )));
        }
        base.set_query(None);
        base.set_fragment(None);
        let mut url = base.clone();
        let mut masked = base.clone();
        {
            let Ok(mut segments) = url.path_segments_mut() else {
                return Err(bad_url("has no path"));
            };
            segments
                .pop_if_empty()
                .push("webhook")
                .push(secret.expose());
        }
        {
            let Ok(mut segments) = masked.path_segments_mut() else {
                return Err(bad_url("has no path"));
            };
            segments.pop_if_empty().push("webhook").push(MASK);
        }
        let encoded = url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .unwrap_or_default()
            .to_owned();
        let masker = Masker::new(secret.clone(), Secret::new(encoded));
        let host = format!(
            "{}:{}",
            base.host_str().unwrap_or_default(),
            base.port_or_known_default().unwrap_or_default()
        );
        let base_text = base.as_str().trim_end_matches('/').to_owned();

        // No reqwest timeout: every call runs against a shared deadline (`deadline.rs`).
        let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        if !proxy {
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(|e| {
            ConnectorError::Config(masker.mask(&format!(
                "could not create the HTTP client of SIGNL4 instance '{}': {}",
                instance.name,
                e.without_url()
            )))
        })?;
        let endpoint = Endpoint {
            client,
            url,
            masked_url: masker.mask(masked.as_str()),
            base: base_text,
            host,
            host_name: base.host_str().unwrap_or_default().to_owned(),
            proxy_note: proxy_note(proxy, base.scheme()),
            masker,
            retry,
            timeout,
            deadlines: DeadlineTimers::default(),
        };
        tracing::debug!(instance = %instance.name, url = %endpoint.masked_url, proxy, "SIGNL4 instance configured");
        Ok(Self {
            instance: instance.name.clone(),
            endpoint,
        })
    }

    /// The webhook URL with the secret masked (`https://connect.signl4.com/webhook/******`).
    pub fn masked_url(&self) -> &str {
        &self.endpoint.masked_url
    }

    async fn run(&self, call: CommandCall<'_>) -> Result<CommandOutput, ConnectorError> {
        let (body, prefix, title) = match call.command {
            commands::ALERT => (
                payload::encode(&payload::alert(call.args)?)?,
                "SIGNL4.AlertCreated",
                "SIGNL4 alert created",
            ),
            commands::CLOSE_ALERT | commands::CLOSE_ALIAS => (
                payload::encode(&payload::close(call.args))?,
                "SIGNL4.AlertClosed",
                "SIGNL4 alert closed",
            ),
            other => {
                return Err(ConnectorError::UnknownCommand {
                    brand: BRAND.to_owned(),
                    command: other.to_owned(),
                })
            }
        };
        let mut log = DebugLog::new(call.debug);
        let masker = &self.endpoint.masker;
        let outcome = self.endpoint.post(body, call.timeout, &mut log).await;
        match outcome {
            Ok(reply) => {
                let reply = Value::Object(reply);
                tracing::info!(event_id = %reply.get("eventId").map(value_text).unwrap_or_default(), "{title}");
                log.push(masker, || format!("{prefix}: {reply}"));
                let result = CommandResult::from_outputs(Outputs {
                    prefix: Some(prefix.to_owned()),
                    key_fields: vec!["eventId".to_owned()],
                    readable_output: Some(table_to_markdown(title, &reply)),
                    outputs: Some(reply.clone()),
                    raw_response: Some(reply),
                    replace_existing: false,
                });
                Ok(CommandOutput {
                    results: vec![result],
                    debug_log: log.into_lines().unwrap_or_default(),
                })
            }
            Err(error) => self.failure(error, log),
        }
    }

    /// A failed call: `Err`, or with a debug log an `Ok` error entry so the log is not lost.
    fn failure(
        &self,
        error: CallError,
        mut log: DebugLog,
    ) -> Result<CommandOutput, ConnectorError> {
        let masker = &self.endpoint.masker;
        let error = error.into_connector_error(masker);
        tracing::warn!(error = %error, "SIGNL4 command failed");
        log.push(masker, || format!("failed: {error}"));
        match log.into_lines() {
            Some(debug_log) => Ok(CommandOutput {
                results: vec![CommandResult::error(error.to_string())],
                debug_log,
            }),
            None => Err(error),
        }
    }
}

impl Connector for Signl4Connector {
    fn execute<'a>(
        &'a self,
        call: CommandCall<'a>,
    ) -> BoxFuture<'a, Result<CommandOutput, ConnectorError>> {
        let span = tracing::info_span!("signl4_command", command = %call.command, instance = %self.instance);
        Box::pin(self.run(call).instrument(span))
    }

    fn test_module(&self) -> BoxFuture<'_, Result<(), ConnectorError>> {
        let span = tracing::info_span!("signl4_command", command = %"test-module", instance = %self.instance);
        Box::pin(
            async move {
                let mut log = DebugLog::new(false);
                let body = payload::encode(&payload::test_alert())?;
                match self.endpoint.post(body, None, &mut log).await {
                    Ok(_) => Ok(()),
                    Err(error) => {
                        let error = error.into_connector_error(&self.endpoint.masker);
                        // The caller reports the result (CLI, REST, console): logged below the
                        // default level so a terminal does not show it twice.
                        tracing::info!(error = %error, "SIGNL4 test failed");
                        Err(error)
                    }
                }
            }
            .instrument(span),
        )
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What to say about proxies after a connection failure. Only `host:port` of a proxy is
/// shown: proxy URLs may carry credentials.
fn proxy_note(proxy: bool, scheme: &str) -> String {
    if !proxy {
        return "The instance does not use the system proxy settings (proxy=false).".to_owned();
    }
    let names: &[&str] = if scheme == "https" {
        &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    } else {
        &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    };
    for name in names {
        if let Ok(value) = std::env::var(name) {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let with_scheme = if value.contains("://") {
                value.to_owned()
            } else {
                format!("http://{value}")
            };
            let shown = Url::parse(&with_scheme)
                .ok()
                .and_then(|u| {
                    u.host_str()
                        .map(|h| format!("{h}:{}", u.port_or_known_default().unwrap_or(80)))
                })
                .map(|hp| format!("the proxy at {hp}"))
                .unwrap_or_else(|| "a proxy".to_owned());
            return format!(
                "The instance uses the system proxy settings (proxy=true): requests go through {shown} \
                 (from {name}) unless NO_PROXY excludes the host; check that proxy too."
            );
        }
    }
    "The instance uses the system proxy settings (proxy=true), but no HTTPS_PROXY, HTTP_PROXY or \
     ALL_PROXY is set, so requests go direct."
        .to_owned()
}
