//! Time as a dependency.
//!
//! The engine never reads the system clock or sleeps by itself: retries, loop waits and
//! `Sleep` go through a [`Clock`]. The binary gives it the system clock; tests and
//! `--virtual-clock` use [`VirtualClock`], on which every wait completes at once and only
//! advances the clock's notion of time, so polling playbooks finish instantly and
//! deterministically.

use futures::future::BoxFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of time and a way to wait.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
    /// Wait for `d` (on a virtual clock: advance time by `d` and return at once).
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()>;
    /// Whether waits are virtual.
    fn is_virtual(&self) -> bool {
        false
    }
}

/// A clock that starts at a fixed instant and moves only when something waits on it.
#[derive(Debug)]
pub struct VirtualClock {
    nanos: AtomicU64,
}

impl VirtualClock {
    /// A virtual clock starting at `start`.
    pub fn starting_at(start: SystemTime) -> Arc<Self> {
        let nanos = start
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64;
        Arc::new(Self {
            nanos: AtomicU64::new(nanos),
        })
    }

    /// A virtual clock starting at 2025-01-01T00:00:00Z (deterministic output in tests).
    pub fn fixed() -> Arc<Self> {
        Self::starting_at(UNIX_EPOCH + Duration::from_secs(1_735_689_600))
    }

    /// Move time forward.
    pub fn advance(&self, d: Duration) {
        self.nanos.fetch_add(d.as_nanos() as u64, Ordering::SeqCst);
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }

    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        self.advance(d);
        Box::pin(futures::future::ready(()))
    }

    fn is_virtual(&self) -> bool {
        true
    }
}

/// RFC 3339 with nanoseconds, as XSOAR writes timestamps.
pub fn rfc3339(t: SystemTime) -> String {
    let dt = time::OffsetDateTime::from(t);
    dt.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "0001-01-01T00:00:00Z".into())
}
