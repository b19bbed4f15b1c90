//! Submissions per client IP, limited with governor's GCRA.
//!
//! The limiter lives in memory, per process: with several `kiln-api`
//! processes behind Caddy each one counts on its own, so the effective limit
//! is the configured one times the number of processes. The key is the
//! address [`crate::client::ClientIpSource`] decided on, never one a client
//! claims. Keys that have fully recovered are dropped by [`RateLimiter::shrink`].

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::ApiError;

/// A keyed limiter: `burst` submissions per `period` for each client.
#[derive(Debug)]
pub struct RateLimiter {
    inner: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl RateLimiter {
    /// `burst` submissions at once, refilled evenly over `period`.
    pub fn new(burst: u32, period: Duration) -> Self {
        let burst = NonZeroU32::new(burst.max(1)).expect("burst is at least 1");
        let period = period.max(Duration::from_millis(1));
        let quota = Quota::with_period(period / burst.get())
            .unwrap_or_else(|| Quota::per_second(burst))
            .allow_burst(burst);
        Self { inner: DefaultKeyedRateLimiter::keyed(quota), clock: DefaultClock::default() }
    }

    /// Takes one submission from the client's allowance, or says how long to wait.
    pub fn check(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.inner.check_key(&ip).map_err(|not_until| ApiError::RateLimited {
            retry_after: not_until.wait_time_from(self.clock.now()),
        })
    }

    /// Forgets clients whose allowance is full again, so memory stays bounded.
    pub fn shrink(&self) {
        self.inner.retain_recent();
        self.inner.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixth_submission_in_ten_minutes_waits_about_two_minutes() {
        let limiter = RateLimiter::new(5, Duration::from_secs(600));
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        for _ in 0..5 {
            limiter.check(ip).unwrap();
        }
        let Err(err) = limiter.check(ip) else { panic!("sixth submission passed") };
        let secs = err.retry_after_secs().unwrap();
        assert!((110..=120).contains(&secs), "retry after {secs}s");

        let other: IpAddr = "198.51.100.8".parse().unwrap();
        assert!(limiter.check(other).is_ok());
    }
}
