//! Helpers shared by the integration tests: instances, calls and secret checks.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use xsoar_connector::{
    Args, CommandCall, CommandOutput, Connector, ConnectorError, ConnectorFactory, InstanceConfig,
};
use xsoar_signl4::{RetryPolicy, Signl4Factory};

/// A secret that would be easy to spot in any text.
pub const SECRET: &str = "tEaMsEcReT123";

/// Instance parameters as XSOAR hands them over: type 9 credentials, url, proxy.
pub fn instance(url: &str, secret: &str) -> InstanceConfig {
    instance_with(json!({
        "secret": {"identifier": "", "password": secret},
        "url": url,
        "proxy": false,
    }))
}

pub fn instance_with(params: Value) -> InstanceConfig {
    InstanceConfig {
        name: "SIGNL4_instance_1".to_owned(),
        brand: "SIGNL4".to_owned(),
        params: params.as_object().cloned().unwrap_or_default(),
        secret_params: vec!["secret".to_owned()],
    }
}

/// Retries with millisecond backoff so failure tests stay fast.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(2),
        retry_connect_errors: true,
    }
}

pub fn connector(url: &str) -> Arc<dyn Connector> {
    connector_for(&instance(url, SECRET))
}

pub fn connector_for(instance: &InstanceConfig) -> Arc<dyn Connector> {
    match Signl4Factory::new()
        .with_retry(fast_retry())
        .build(instance)
    {
        Ok(c) => c,
        Err(e) => panic!("building the connector failed: {e}"),
    }
}

pub fn args(v: Value) -> Args {
    v.as_object().cloned().unwrap_or_default()
}

/// Run one command.
pub async fn run(
    connector: &dyn Connector,
    command: &str,
    args: Value,
    debug: bool,
    timeout: Option<Duration>,
) -> Result<CommandOutput, ConnectorError> {
    let args = self::args(args);
    connector
        .execute(CommandCall {
            command,
            args: &args,
            timeout,
            debug,
            investigation: None,
        })
        .await
}

/// The error of a call that must fail.
pub async fn run_err(connector: &dyn Connector, command: &str, args: Value) -> ConnectorError {
    match run(connector, command, args, false, None).await {
        Ok(out) => panic!("expected an error, got {out:?}"),
        Err(e) => e,
    }
}

/// The output of a call that must succeed.
pub async fn run_ok(connector: &dyn Connector, command: &str, args: Value) -> CommandOutput {
    match run(connector, command, args, false, None).await {
        Ok(out) => out,
        Err(e) => panic!("expected success, got {e}"),
    }
}

/// Assert `text` holds no form of the secret.
pub fn assert_no_secret(text: &str, secret: &str) {
    assert!(!text.contains(secret), "secret leaked in: {text}");
}

/// How many requests a mock server has received.
pub async fn request_count(server: &wiremock::MockServer) -> usize {
    server
        .received_requests()
        .await
        .map(|r| r.len())
        .unwrap_or_default()
}

/// A connector for `url` with the given `proxy` parameter (a boolean or its text).
pub fn connector_with_proxy(url: &str, proxy: Value) -> Arc<dyn Connector> {
    connector_for(&instance_with(json!({
        "secret": {"identifier": "", "password": SECRET}, "url": url, "proxy": proxy
    })))
}
