//! Running test playbooks: one fresh engine, investigation and virtual clock per test.
//!
//! A test must not see what another test did (context, mock use counts, scheduled polls) and
//! must give the same result whether it runs alone, in parallel or on another CI shard. So
//! each test gets its own [`Engine`] built from a shared [`EngineTemplate`], its own
//! [`TestHook`] and a [`VirtualClock`] that starts at the same instant: timestamps, entry ids
//! and contexts are then identical run after run.
//!
//! Parallelism is the caller's: [`Runner::run_suite`] takes a [`Spawner`] (the binary passes
//! tokio's `spawn`) so this crate stays runtime-agnostic; without one, tests run concurrently
//! on the caller's task.

use crate::hook::{Live, TestHook};
use crate::mocks::MockSet;
use crate::report::{analyse, TestResult};
use crate::select::TestCase;
use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracing::Instrument;
use xsoar_connector::{
    CommandCall, CommandOutput, Connector, ConnectorError, ConnectorFactory, InstanceConfig,
};
use xsoar_content::Library;
use xsoar_engine::{
    Clock, Engine, EngineOptions, InstanceSpec, Investigation, RunOptions, RunState, VirtualClock,
};

/// What every test engine is built from.
#[derive(Clone)]
pub struct EngineTemplate {
    /// Content: integrations, scripts, playbooks (builtins are added by the engine).
    pub library: Arc<Library>,
    /// XSOAR lists every test starts with (a test's list commands change its own copy).
    pub lists: xsoar_engine::Lists,
    /// Configured instances.
    pub instances: Vec<InstanceSpec>,
    /// Connector factories by brand.
    pub factories: Vec<Arc<dyn ConnectorFactory>>,
    /// Engine settings.
    pub options: EngineOptions,
}

impl std::fmt::Debug for EngineTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineTemplate")
            .field("library_items", &self.library.len())
            .field("instances", &self.instances.len())
            .field(
                "factories",
                &self.factories.iter().map(|f| f.brand()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl EngineTemplate {
    /// A template with this content, no instances and no connectors (mocks only).
    pub fn new(library: Library) -> Self {
        Self {
            library: Arc::new(library),
            lists: Default::default(),
            instances: Vec::new(),
            factories: Vec::new(),
            options: EngineOptions::default(),
        }
    }
}

/// How tests run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Whether commands without a mock may reach real instances.
    pub live: Live,
    /// Stop runaway graphs after this many task executions.
    pub max_task_executions: usize,
    /// Where every test's virtual clock starts.
    pub start: SystemTime,
}

impl Default for RunConfig {
    /// Mocks only; the engine's execution limit; clocks start at 2025-01-01T00:00:00Z.
    fn default() -> Self {
        Self {
            live: Live::Off,
            max_task_executions: RunOptions::default().max_task_executions,
            start: UNIX_EPOCH + Duration::from_secs(1_735_689_600),
        }
    }
}

/// Runs a test future somewhere (a thread pool) and hands back its result, or why it died.
pub type Spawner = dyn Fn(BoxFuture<'static, TestResult>) -> BoxFuture<'static, Result<TestResult, String>>
    + Send
    + Sync;

/// Runs test playbooks.
#[derive(Debug, Clone)]
pub struct Runner {
    template: Arc<EngineTemplate>,
    mocks: Arc<MockSet>,
    config: RunConfig,
}

impl Runner {
    /// A runner for this content, these mocks and settings.
    pub fn new(template: EngineTemplate, mocks: MockSet, config: RunConfig) -> Self {
        Self {
            template: Arc::new(template),
            mocks: Arc::new(mocks),
            config,
        }
    }

    /// The mocks in use.
    pub fn mocks(&self) -> &MockSet {
        &self.mocks
    }

    /// Run one test playbook.
    pub async fn run_one(&self, case: &TestCase) -> TestResult {
        run_case(
            self.template.clone(),
            self.mocks.clone(),
            self.config.clone(),
            case.clone(),
        )
        .await
    }

    /// Run `cases`, at most `jobs` at a time, on `spawner` when given. `progress` is called
    /// as each test finishes (result, finished so far, total). Results come back in the
    /// order of `cases`.
    pub async fn run_suite(
        &self,
        cases: &[TestCase],
        jobs: usize,
        spawner: Option<&Spawner>,
        progress: &mut dyn FnMut(&TestResult, usize, usize),
    ) -> Vec<TestResult> {
        let total = cases.len();
        let futures = cases.iter().cloned().enumerate().map(|(i, case)| {
            let fut: BoxFuture<'static, TestResult> = Box::pin(run_case(
                self.template.clone(),
                self.mocks.clone(),
                self.config.clone(),
                case.clone(),
            ));
            let spawned: BoxFuture<'static, TestResult> = match spawner {
                Some(spawn) => {
                    let handle = spawn(fut);
                    Box::pin(async move {
                        match handle.await {
                            Ok(r) => r,
                            Err(e) => TestResult::broken(
                                &case,
                                format!("the test run crashed: {e} (this is a bug in the runner; please report it)"),
                            ),
                        }
                    })
                }
                None => fut,
            };
            async move { (i, spawned.await) }
        });
        let mut done: Vec<Option<TestResult>> = vec![None; total];
        let mut finished = 0;
        let mut results = stream::iter(futures).buffer_unordered(jobs.max(1));
        while let Some((i, r)) = results.next().await {
            finished += 1;
            progress(&r, finished, total);
            if let Some(slot) = done.get_mut(i) {
                *slot = Some(r);
            }
        }
        done.into_iter().flatten().collect()
    }
}

/// A connector for a brand that only has mocks: it makes the brand look available
/// (`IsIntegrationAvailable`, `modules`) and never runs anything.
#[derive(Debug)]
struct MockedBrand {
    brand: String,
}

impl ConnectorFactory for MockedBrand {
    fn brand(&self) -> &str {
        &self.brand
    }
    fn build(&self, _: &InstanceConfig) -> Result<Arc<dyn Connector>, ConnectorError> {
        Ok(Arc::new(MockedConnector {
            brand: self.brand.clone(),
        }))
    }
}

#[derive(Debug)]
struct MockedConnector {
    brand: String,
}

impl Connector for MockedConnector {
    fn execute<'a>(
        &'a self,
        call: CommandCall<'a>,
    ) -> BoxFuture<'a, Result<CommandOutput, ConnectorError>> {
        let message = format!(
            "'{}|||{}' reached the stand-in instance of a mocked brand: it has no mock and no real instance may run it",
            self.brand, call.command
        );
        Box::pin(async move { Err(ConnectorError::Other(message)) })
    }
    fn test_module(&self) -> BoxFuture<'_, Result<(), ConnectorError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Name of the stand-in instance of a mocked brand.
pub fn mock_instance_name(brand: &str) -> String {
    format!("{brand}_mock")
}

/// Build the engine of one test.
fn build_engine(
    template: &EngineTemplate,
    mocks: &MockSet,
    live: &Live,
    clock: Arc<VirtualClock>,
) -> Arc<Engine> {
    let engine = Arc::new(Engine::new(clock, template.options.clone()));
    engine.replace_lists(template.lists.clone());
    let mut factories: BTreeMap<String, Arc<dyn ConnectorFactory>> = template
        .factories
        .iter()
        .map(|f| (f.brand().to_owned(), f.clone()))
        .collect();
    let mut instances = template.instances.clone();
    // Brands with mocks and no configured instance get a stand-in instance, so playbooks
    // that check availability take the same branch as on a server with the integration.
    for brand in mocks.brands() {
        let Some(integration) = template.library.integration(&brand) else {
            continue;
        };
        let brand = integration.name.clone();
        if instances.iter().any(|i| i.brand == brand) {
            continue;
        }
        let live_brand = match live {
            Live::Record | Live::All => true,
            Live::Allow(names) => names.iter().any(|n| n.eq_ignore_ascii_case(&brand)),
            Live::Off => false,
        };
        if live_brand && factories.contains_key(&brand) {
            continue;
        }
        factories.insert(
            brand.clone(),
            Arc::new(MockedBrand {
                brand: brand.clone(),
            }),
        );
        instances.push(InstanceSpec {
            name: mock_instance_name(&brand),
            brand,
            enabled: true,
            params: Map::new(),
            simulated: false,
        });
    }
    engine.replace_library((*template.library).clone());
    for f in factories.into_values() {
        engine.register_factory(f);
    }
    engine.set_instances(instances);
    engine
}

/// Run one test on a fresh engine.
async fn run_case(
    template: Arc<EngineTemplate>,
    mocks: Arc<MockSet>,
    config: RunConfig,
    case: TestCase,
) -> TestResult {
    let wall = Instant::now();
    let clock = VirtualClock::starting_at(config.start);
    let engine = build_engine(&template, &mocks, &config.live, clock.clone());
    let instances = template
        .instances
        .iter()
        .map(|i| (i.name.clone(), i.brand.clone()))
        .collect();
    let hook = Arc::new(TestHook::new(
        mocks.clone(),
        &case.id,
        &case.name,
        config.live.clone(),
        instances,
    ));
    hook.bind(&engine);
    engine.set_hook(Some(hook.clone()));

    let fixture = mocks.fixture_for(&case.id, &case.name);
    // The investigation id is the incident's, as on a server (`1` unless the fixture sets one).
    let inv_id = fixture
        .incident
        .get("id")
        .map(xsoar_context::to_display_string)
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| "1".into());
    let mut inv = Investigation::new(inv_id, Value::Object(fixture.incident.clone()));
    inv.context = Value::Object(fixture.context.clone());
    let opts = RunOptions {
        max_task_executions: config.max_task_executions,
        completions: fixture.complete.clone(),
        ..RunOptions::default()
    };
    let inputs = (!fixture.inputs.is_empty()).then(|| fixture.inputs.clone());
    let span = tracing::info_span!("test_playbook", playbook = %case.name);
    let mut run = match engine
        .run_playbook(&mut inv, &case.id, inputs, &opts)
        .instrument(span.clone())
        .await
    {
        Ok(run) => run,
        Err(e) => return TestResult::broken(&case, e.to_string()),
    };
    let notes = crate::polling::drive(&engine, &hook, &mut inv, &mut run, &opts)
        .instrument(span)
        .await;
    let failure = analyse(&run, &inv, &engine);
    let virtual_ms = clock
        .now()
        .duration_since(config.start)
        .unwrap_or_default()
        .as_millis() as u64;
    TestResult {
        name: case.name.clone(),
        id: case.id.clone(),
        file: case.file.clone(),
        file_line: None,
        passed: run.state == RunState::Completed && failure.is_none(),
        state: run.state.as_str().to_owned(),
        duration_ms: wall.elapsed().as_millis() as u64,
        virtual_ms,
        task_executions: run.executions,
        failure,
        notes,
        missing_mocks: hook.missing(),
        context: inv.context.clone(),
        recorded: hook.take_recorded(),
    }
}
