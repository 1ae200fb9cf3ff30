//! The limit on failed logins, per account and per client address, kept in memory.
//!
//! Memory is enough: a restart forgets the counts, but an attacker gains at most one more
//! window of guesses, and no disk write is spent on each failure.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many failures each key may have within one period.
#[derive(Debug, Clone, Copy)]
pub struct LimitRule {
    pub max_failures: u32,
    pub period: Duration,
}

/// What a refused login is told: when to try again, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
    pub reason: String,
}

/// Failed-login counters. Checked before a password is even looked at, so a blocked account
/// cannot be probed at all until its period ends.
pub struct LoginLimiter {
    per_account: Window,
    per_address: Window,
}

impl Default for LoginLimiter {
    /// Five failures per account and twenty per address in fifteen minutes: enough for a
    /// person who mistypes on a tablet, far too few to guess a ten-character password.
    fn default() -> Self {
        let period = Duration::from_secs(15 * 60);
        Self::new(
            LimitRule {
                max_failures: 5,
                period,
            },
            LimitRule {
                max_failures: 20,
                period,
            },
        )
    }
}

impl LoginLimiter {
    pub fn new(per_account: LimitRule, per_address: LimitRule) -> Self {
        Self {
            per_account: Window::new(per_account),
            per_address: Window::new(per_address),
        }
    }

    /// `Err` when this account or this address has failed too often lately.
    pub fn check(&self, account: &str, addr: Option<IpAddr>, now: Instant) -> Result<(), Limited> {
        if let Some(retry_after) = self.per_account.blocked(&account_key(account), now) {
            return Err(Limited {
                retry_after,
                reason: format!(
                    "Too many failed logins for this account. Try again in {}.",
                    minutes(retry_after)
                ),
            });
        }
        if let Some(addr) = addr {
            if let Some(retry_after) = self.per_address.blocked(&addr.to_string(), now) {
                return Err(Limited {
                    retry_after,
                    reason: format!(
                        "Too many failed logins from this address. Try again in {}.",
                        minutes(retry_after)
                    ),
                });
            }
        }
        Ok(())
    }

    /// Counts a failed login (unknown accounts too, so they look like real ones).
    pub fn failed(&self, account: &str, addr: Option<IpAddr>, now: Instant) {
        self.per_account.record(&account_key(account), now);
        if let Some(addr) = addr {
            self.per_address.record(&addr.to_string(), now);
        }
    }

    /// A successful login clears the account's count (not the address's: an office shares
    /// one address, and one person's success says nothing about the others' guesses).
    pub fn succeeded(&self, account: &str) {
        self.per_account.clear(&account_key(account));
    }
}

fn account_key(account: &str) -> String {
    account.to_lowercase()
}

fn minutes(d: Duration) -> String {
    let mins = d.as_secs().div_ceil(60).max(1);
    if mins == 1 {
        "1 minute".to_owned()
    } else {
        format!("{mins} minutes")
    }
}

/// One counter per key, each restarting its period at its first failure.
struct Window {
    rule: LimitRule,
    // A std Mutex: held for a few map operations, never across an await.
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Clone, Copy)]
struct Entry {
    failures: u32,
    since: Instant,
}

/// Past this many keys, expired counters are dropped, so a flood of made-up names cannot
/// grow the map without end.
const PRUNE_ABOVE: usize = 10_000;

impl Window {
    fn new(rule: LimitRule) -> Self {
        Self {
            rule,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock cannot leave the counters inconsistent.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn blocked(&self, key: &str, now: Instant) -> Option<Duration> {
        let entries = self.lock();
        let entry = entries.get(key)?;
        let elapsed = now.saturating_duration_since(entry.since);
        (entry.failures >= self.rule.max_failures && elapsed < self.rule.period)
            .then(|| self.rule.period - elapsed)
    }

    fn record(&self, key: &str, now: Instant) {
        let mut entries = self.lock();
        if entries.len() > PRUNE_ABOVE {
            let period = self.rule.period;
            entries.retain(|_, e| now.saturating_duration_since(e.since) < period);
        }
        let entry = entries.entry(key.to_owned()).or_insert(Entry {
            failures: 0,
            since: now,
        });
        if now.saturating_duration_since(entry.since) >= self.rule.period {
            *entry = Entry {
                failures: 0,
                since: now,
            };
        }
        entry.failures = entry.failures.saturating_add(1);
    }

    fn clear(&self, key: &str) {
        self.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(
            LimitRule {
                max_failures: 3,
                period: Duration::from_secs(60),
            },
            LimitRule {
                max_failures: 5,
                period: Duration::from_secs(60),
            },
        )
    }

    const ADDR: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 7)));

    #[test]
    fn an_account_is_blocked_after_its_failures_until_the_period_ends() {
        let l = limiter();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check("ana", ADDR, t0).is_ok());
            l.failed("ana", ADDR, t0);
        }
        let limited = l
            .check("ana", ADDR, t0 + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(limited.retry_after, Duration::from_secs(50));
        assert!(
            limited.reason.contains("this account"),
            "{}",
            limited.reason
        );
        // Names are compared without case, so `Ana` is the same account.
        assert!(l.check("Ana", None, t0).is_err());
        // Another account from another address is not affected.
        assert!(l.check("beto", None, t0).is_ok());
        assert!(l.check("ana", ADDR, t0 + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn a_success_clears_the_account_count() {
        let l = limiter();
        let t0 = Instant::now();
        l.failed("ana", None, t0);
        l.failed("ana", None, t0);
        l.succeeded("ana");
        l.failed("ana", None, t0);
        l.failed("ana", None, t0);
        assert!(l.check("ana", None, t0).is_ok());
    }

    #[test]
    fn an_address_is_blocked_after_failures_across_many_accounts() {
        let l = limiter();
        let t0 = Instant::now();
        for name in ["a1", "a2", "a3", "a4", "a5"] {
            l.failed(name, ADDR, t0);
        }
        let limited = l.check("someone-else", ADDR, t0).unwrap_err();
        assert!(
            limited.reason.contains("this address"),
            "{}",
            limited.reason
        );
        assert!(l.check("someone-else", None, t0).is_ok());
    }

    #[test]
    fn an_old_failure_does_not_count_in_a_new_period() {
        let l = limiter();
        let t0 = Instant::now();
        l.failed("ana", None, t0);
        l.failed("ana", None, t0);
        let later = t0 + Duration::from_secs(61);
        l.failed("ana", None, later);
        assert!(l.check("ana", None, later).is_ok());
    }

    #[test]
    fn retry_after_is_said_in_whole_minutes() {
        assert_eq!(minutes(Duration::from_secs(5)), "1 minute");
        assert_eq!(minutes(Duration::from_secs(61)), "2 minutes");
    }
}
