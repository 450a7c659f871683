//! Time as a dependency.
//!
//! The engine never reads the system clock or sleeps by itself: retries, loop waits and
//! `Sleep` go through a [`Clock`]. The binary gives it the system clock; tests and
//! `--virtual-clock` use [`VirtualClock`], on which every wait completes at once and only
//! advances the clock's notion of time, so polling playbooks finish instantly and
//! deterministically.

use crate::entry::CompactString;
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

/// RFC 3339 with nanoseconds (`2025-01-01T00:00:00.123456789Z`), as XSOAR writes timestamps.
pub fn rfc3339(t: SystemTime) -> String {
    let mut buf = [0u8; RFC3339_MAX];
    format_rfc3339(t, &mut buf).to_owned()
}

/// [`rfc3339`] as a [`CompactString`], for entry fields (no intermediate `String`).
pub fn rfc3339_compact(t: SystemTime) -> CompactString {
    let mut buf = [0u8; RFC3339_MAX];
    CompactString::from(format_rfc3339(t, &mut buf))
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`, the longest form (years up to 9999).
const RFC3339_MAX: usize = 30;

/// Hand-rolled because it runs for every entry written: the date-time part is computed once
/// per second (days-to-civil conversion) and cached per thread; the fraction is appended.
fn format_rfc3339(t: SystemTime, buf: &mut [u8; RFC3339_MAX]) -> &str {
    use std::cell::Cell;
    thread_local! {
        static LAST: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
    }
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs().min(MAX_SECS);
    let nanos = d.subsec_nanos();
    let prefix = LAST.with(|last| {
        let (cached, prefix) = last.get();
        if cached == secs {
            return prefix;
        }
        let prefix = seconds_prefix(secs);
        last.set((secs, prefix));
        prefix
    });
    buf[..19].copy_from_slice(&prefix);
    let mut len = 19;
    if nanos != 0 {
        buf[19] = b'.';
        let mut n = nanos;
        for d in buf[20..29].iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        len = 29;
    }
    buf[len] = b'Z';
    // Only ASCII digits and separators were written.
    std::str::from_utf8(&buf[..=len]).unwrap_or("1970-01-01T00:00:00Z")
}

/// The last second of the year 9999: later times are written as that (four-digit years).
const MAX_SECS: u64 = 253_402_300_799;

/// `YYYY-MM-DDTHH:MM:SS` for seconds since the epoch (Howard Hinnant's civil_from_days).
fn seconds_prefix(secs: u64) -> [u8; 19] {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = *b"0000-00-00T00:00:00";
    let mut put = |at: usize, width: usize, mut v: u64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year as u64);
    put(5, 2, month as u64);
    put(8, 2, day as u64);
    put(11, 2, h);
    put(14, 2, m);
    put(17, 2, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_the_time_crate() {
        for secs in [
            0u64,
            951_782_400,
            1_735_689_600,
            4_102_444_800,
            1_709_164_799,
        ] {
            for nanos in [0u32, 1, 123_456_789] {
                let t = UNIX_EPOCH + Duration::new(secs, nanos);
                let expected = time::OffsetDateTime::from(t)
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default();
                assert_eq!(rfc3339(t), expected);
                assert_eq!(rfc3339_compact(t), expected);
            }
        }
    }

    #[test]
    fn rfc3339_keeps_four_digit_years() {
        let t = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        assert_eq!(rfc3339(t), "9999-12-31T23:59:59Z");
        let t = UNIX_EPOCH + Duration::new(253_402_300_799, 5);
        assert_eq!(rfc3339(t), "9999-12-31T23:59:59.000000005Z");
    }
}
