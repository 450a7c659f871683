//! `xsoar-emu console`: the web console on its own, over investigations held in memory.
//!
//! It serves the same router the REST server merges, with the same engine wiring as every
//! other command (content, instances, the embedded SIGNL4 simulator), so the console can be
//! used and tested before and apart from `serve`. Investigations last as long as the process.

use crate::setup;
use crate::EngineOpts;
use anyhow::{bail, Context, Result};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use xsoar_console::{ConsoleAuth, MemoryBackend};

/// Environment variable holding the API key (a random one is made otherwise).
const API_KEY_ENV: &str = "XSOAR_EMU_API_KEY";

/// Options of `xsoar-emu console`.
#[derive(Debug, clap::Args)]
pub struct ConsoleArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub bind: String,
    /// Serve without a login (loopback addresses only; state changes still need the console's
    /// CSRF header).
    #[arg(long)]
    pub no_auth: bool,
}

/// Run the console until Ctrl-C.
pub async fn run(args: ConsoleArgs, engine: &EngineOpts) -> Result<ExitCode> {
    let addr: SocketAddr = args.bind.parse().with_context(|| {
        format!(
            "--bind {}: not an address such as 127.0.0.1:8081",
            args.bind
        )
    })?;
    if args.no_auth && !addr.ip().is_loopback() {
        bail!("--no-auth is only allowed on a loopback address (got {addr}): anyone who can reach it could run commands");
    }
    let env = setup::build(engine).await?;
    let from_env = std::env::var(API_KEY_ENV)
        .ok()
        .filter(|k| !k.trim().is_empty());
    let key = from_env
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let auth = if args.no_auth {
        ConsoleAuth::disabled()
    } else {
        ConsoleAuth::with_keys([key.trim().to_owned()])
    };
    let backend = Arc::new(MemoryBackend::new(env.engine.clone()));
    let app = xsoar_console::try_router(backend, auth)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener
        .local_addr()
        .context("cannot read the listening address")?;
    outln!("xsoar-emu console: http://{local}/");
    if args.no_auth {
        outln!("Login is off (--no-auth).");
    } else if from_env.is_some() {
        outln!("API key: the value of {API_KEY_ENV} (paste it on the login page).");
    } else {
        outln!("API key (paste it on the login page): {key}");
    }
    if let Some(sim) = &env.simulator {
        outln!(
            "SIGNL4 commands go to the embedded SIGNL4 simulator at {} (instance '{}').",
            sim.url(),
            setup::SIM_INSTANCE
        );
    }
    outln!("Investigations are kept in memory until the console stops. Ctrl-C stops it.");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            if tokio::signal::ctrl_c().await.is_err() {
                tracing::warn!("cannot wait for Ctrl-C; stop the process to end the console");
                std::future::pending::<()>().await;
            }
        })
        .await
        .context("the console server failed")?;
    Ok(ExitCode::SUCCESS)
}
