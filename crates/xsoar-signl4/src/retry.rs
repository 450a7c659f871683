//! When to send a webhook request again, and how long to wait first.
//!
//! SIGNL4 throttles per account (a 429 blocks intake until the window resets) and, like any
//! service, can fail transiently with a 5xx. A playbook task that fails because of a blip is
//! worse than one that takes a second longer, so the connector retries a bounded number of
//! times. The server's own hint wins over the local backoff: `Retry-After` (seconds or an HTTP
//! date) and, on 429, `X-RateLimit-Reset` (a unix timestamp, per SIGNL4's throttling article).
//! A hint longer than the cap is not slept through: the command reports when to try again,
//! because holding a playbook task for minutes is worse than a clear error.

use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Retry behaviour of a [`crate::Signl4Factory`]'s connectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included (`1` = never retry; `0` is read as `1`).
    pub max_attempts: u32,
    /// Wait before the first retry when the server gives no hint; doubled for each retry.
    pub base_delay: Duration,
    /// Longest wait between two attempts. A server hint above it ends the retries.
    pub max_delay: Duration,
    /// Also retry failures to connect (refused, DNS, other errors before the request is
    /// written). TLS failures and timeouts never are.
    pub retry_connect_errors: bool,
}

impl Default for RetryPolicy {
    /// 3 attempts, 500 ms base, 10 s cap, connection failures retried.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            retry_connect_errors: true,
        }
    }
}

impl RetryPolicy {
    /// A policy that sends every request once.
    pub fn no_retry() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Attempts in total, at least one.
    pub(crate) fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }

    /// Local backoff before retry number `retry` (1 = the first retry): `base * 2^(retry-1)`,
    /// capped at `max_delay`.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// A wait the server asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerWait {
    /// How long from now.
    pub wait: Duration,
    /// When that is, as wall-clock time.
    pub at: SystemTime,
    /// The header it came from.
    pub header: &'static str,
}

/// Values of `X-RateLimit-Reset` below this are read as "seconds from now" rather than a
/// unix timestamp (some gateways send a delta; no real reset lies before 2001).
const RESET_DELTA_THRESHOLD: u64 = 1_000_000_000;

/// The wait a reply asks for. `Retry-After` always counts; `X-RateLimit-Reset` only when
/// `throttled` (SIGNL4 sends it on every reply, where it just names the window's end).
pub(crate) fn server_wait(
    headers: &HeaderMap,
    throttled: bool,
    now: SystemTime,
) -> Option<ServerWait> {
    if let Some(value) = header_str(headers, RETRY_AFTER.as_str()) {
        if let Ok(secs) = value.parse::<f64>() {
            if secs.is_finite() && secs >= 0.0 {
                let wait = Duration::from_secs_f64(secs);
                return Some(ServerWait {
                    wait,
                    at: now + wait,
                    header: "Retry-After",
                });
            }
        } else if let Ok(at) = httpdate::parse_http_date(value) {
            let wait = at.duration_since(now).unwrap_or_default();
            return Some(ServerWait {
                wait,
                at,
                header: "Retry-After",
            });
        }
    }
    if throttled {
        if let Some(value) = header_str(headers, "x-ratelimit-reset") {
            if let Ok(n) = value.parse::<u64>() {
                let (wait, at) = if n < RESET_DELTA_THRESHOLD {
                    let wait = Duration::from_secs(n);
                    (wait, now + wait)
                } else {
                    let at = UNIX_EPOCH + Duration::from_secs(n);
                    (at.duration_since(now).unwrap_or_default(), at)
                };
                return Some(ServerWait {
                    wait,
                    at,
                    header: "X-RateLimit-Reset",
                });
            }
        }
    }
    None
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// `2026-01-01T00:00:30Z` for a wall-clock time (second precision).
pub(crate) fn format_time(at: SystemTime) -> String {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("unix time {secs}"))
}

/// A duration as people read it: `15 s`, `1.5 s`, `250 ms`.
pub(crate) fn format_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                *k,
                HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")),
            );
        }
        h
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1), Duration::from_millis(500));
        assert_eq!(p.backoff(2), Duration::from_millis(1000));
        assert_eq!(p.backoff(3), Duration::from_millis(2000));
        assert_eq!(p.backoff(10), Duration::from_secs(10));
        assert_eq!(p.backoff(100), Duration::from_secs(10));
        assert_eq!(
            RetryPolicy {
                max_attempts: 0,
                ..p
            }
            .attempts(),
            1
        );
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let w = server_wait(&headers(&[("retry-after", "15")]), false, now);
        assert_eq!(
            w,
            Some(ServerWait {
                wait: Duration::from_secs(15),
                at: now + Duration::from_secs(15),
                header: "Retry-After"
            })
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(20));
        let w = server_wait(&headers(&[("retry-after", &date)]), false, now);
        assert_eq!(w.map(|w| w.wait), Some(Duration::from_secs(20)));
    }

    #[test]
    fn reset_header_counts_only_when_throttled() {
        let now = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let h = headers(&[("x-ratelimit-reset", "1767225630")]);
        assert_eq!(server_wait(&h, false, now), None);
        let w = server_wait(&h, true, now);
        assert_eq!(w.as_ref().map(|w| w.wait), Some(Duration::from_secs(30)));
        assert_eq!(w.map(|w| w.header), Some("X-RateLimit-Reset"));
        let delta = headers(&[("x-ratelimit-reset", "7")]);
        assert_eq!(
            server_wait(&delta, true, now).map(|w| w.wait),
            Some(Duration::from_secs(7))
        );
        let past = headers(&[("x-ratelimit-reset", "1767225000")]);
        assert_eq!(
            server_wait(&past, true, now).map(|w| w.wait),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn formats_are_readable() {
        assert_eq!(
            format_time(UNIX_EPOCH + Duration::from_secs(1_767_225_630)),
            "2026-01-01T00:00:30Z"
        );
        assert_eq!(format_duration(Duration::from_millis(250)), "250 ms");
        assert_eq!(format_duration(Duration::from_secs(15)), "15 s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5 s");
    }
}
