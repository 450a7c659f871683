//! Request deadlines that share timers.
//!
//! Every SIGNL4 call has a deadline: 30 s, or the command's `execution-timeout=`. reqwest's
//! own timeout arms one tokio timer per request; on the loopback simulator that timer was the
//! largest part of the connector's cost next to a bare POST (connector / bare POST 1.05–1.09×
//! with it, 1.02–1.03× without, `cargo bench -p xsoar-emu --bench signl4_engine`), because
//! registering and cancelling a timer goes through the runtime's timer lock and changes how
//! its threads park.
//!
//! So requests share timers. A call with timeout `t` reuses any armed timer that fires between
//! `t` and `t + g` from now, where `g` is 1/16 of the timeout (at least 1 ms, at most 1 s);
//! otherwise it arms one at `t + g`, which the calls of the next `g` then share. A call still
//! times out after its full timeout, never earlier, and at most `g` later (≤ 1 s for the
//! default 30 s). A busy instance arms about one timer per `g` instead of one per call.
//!
//! Like the reqwest client it sits beside, a [`DeadlineTimers`] belongs to the tokio runtime
//! that first uses it (its timers are that runtime's).

use futures::future::{BoxFuture, FutureExt, Shared};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// Completes when a deadline has passed; cheap to clone, every clone completes together.
pub(crate) type Deadline = Shared<BoxFuture<'static, ()>>;

/// Timers kept for reuse: enough for a few different `execution-timeout` values in flight.
const MAX_TIMERS: usize = 8;

/// The shared timers of one SIGNL4 instance.
#[derive(Default)]
pub(crate) struct DeadlineTimers {
    /// Armed timers by the instant they fire, oldest first.
    timers: Mutex<Vec<(Instant, Deadline)>>,
}

impl std::fmt::Debug for DeadlineTimers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeadlineTimers")
    }
}

/// How late a deadline for `timeout` may fire: 1/16 of it, between 1 ms and 1 s.
pub(crate) fn granularity(timeout: Duration) -> Duration {
    (timeout / 16).clamp(Duration::from_millis(1), Duration::from_secs(1))
}

impl DeadlineTimers {
    /// A future that completes `timeout` from now, or at most [`granularity`] later. Must be
    /// called inside a tokio runtime (with time enabled), like any reqwest request.
    pub(crate) fn after(&self, timeout: Duration) -> Deadline {
        let now = Instant::now();
        let Some((earliest, latest)) = now
            .checked_add(timeout)
            .and_then(|earliest| Some((earliest, earliest.checked_add(granularity(timeout))?)))
        else {
            // A timeout beyond what the clock can represent never fires.
            return futures::future::pending().boxed().shared();
        };
        let mut timers = self.timers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, deadline)) = timers
            .iter()
            .rev()
            .find(|(when, _)| (earliest..=latest).contains(when))
        {
            return deadline.clone();
        }
        timers.retain(|(when, _)| *when > now);
        if timers.len() >= MAX_TIMERS {
            drop(timers.remove(0));
        }
        // Armed at the end of the window, so the calls made during the next `g` share it.
        let deadline = tokio::time::sleep_until(latest).boxed().shared();
        timers.push((latest, deadline.clone()));
        deadline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granularity_is_a_sixteenth_within_bounds() {
        assert_eq!(granularity(Duration::from_secs(30)), Duration::from_secs(1));
        assert_eq!(
            granularity(Duration::from_secs(8)),
            Duration::from_millis(500)
        );
        assert_eq!(
            granularity(Duration::from_millis(200)),
            Duration::from_micros(12_500)
        );
        assert_eq!(
            granularity(Duration::from_micros(10)),
            Duration::from_millis(1)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn never_fires_early_and_at_most_one_step_late() {
        let timers = DeadlineTimers::default();
        for timeout in [
            Duration::from_millis(1),
            Duration::from_millis(150),
            Duration::from_secs(30),
        ] {
            for skew in [0u64, 3, 7] {
                tokio::time::advance(Duration::from_micros(skew * 137)).await;
                let start = Instant::now();
                let mut deadline = timers.after(timeout);
                // Just before the timeout it has not fired.
                tokio::time::advance(timeout - Duration::from_micros(1)).await;
                assert!(
                    (&mut deadline).now_or_never().is_none(),
                    "{timeout:?} fired early"
                );
                deadline.await;
                let waited = start.elapsed();
                assert!(waited >= timeout, "{timeout:?}: fired after {waited:?}");
                // tokio's timer wheel rounds up to whole milliseconds on top of that.
                assert!(
                    waited <= timeout + granularity(timeout) + Duration::from_millis(2),
                    "{timeout:?}: fired after {waited:?}"
                );
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn calls_close_together_share_one_timer() {
        let timers = DeadlineTimers::default();
        let timeout = Duration::from_secs(30);
        let first = timers.after(timeout);
        let second = timers.after(timeout);
        assert!(
            first.ptr_eq(&second),
            "two calls at once must share the timer"
        );
        // Two windows later the timer cannot be shared any more.
        tokio::time::advance(2 * granularity(timeout)).await;
        let later = timers.after(timeout);
        assert!(!later.ptr_eq(&first));
        // A different timeout gets its own timer, and the first one is still reused.
        let short = timers.after(Duration::from_millis(200));
        assert!(!short.ptr_eq(&later));
        assert!(timers.after(timeout).ptr_eq(&later));
        assert!(timers.timers.lock().unwrap().len() <= MAX_TIMERS);
    }

    #[tokio::test(start_paused = true)]
    async fn fired_timers_are_dropped_and_the_count_is_bounded() {
        let timers = DeadlineTimers::default();
        for i in 0..(3 * MAX_TIMERS as u64) {
            drop(timers.after(Duration::from_millis(100 + 40 * i)));
        }
        assert!(timers.timers.lock().unwrap().len() <= MAX_TIMERS);
        tokio::time::advance(Duration::from_secs(5)).await;
        drop(timers.after(Duration::from_secs(1)));
        assert_eq!(timers.timers.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn an_unrepresentable_timeout_never_fires() {
        let timers = DeadlineTimers::default();
        let deadline = timers.after(Duration::MAX);
        assert!(deadline.now_or_never().is_none());
    }
}
