//! The limit on password guesses, per account and per client address, kept in memory.
//!
//! # Policy
//! - Each key (an account name, a client address) has a few free failures: 5 per account, 20
//!   per address. Past them the key is slowed down, not shut: the next attempt waits 30 s
//!   after the last failure, then 1 min, 2 min, … doubling up to 15 min between attempts.
//!   A key is forgotten 15 minutes after its last failure, and a correct password clears the
//!   account's count at once.
//! - An attempt is *reserved* before the password is hashed, atomically with the check, so
//!   that 50 guesses sent at once are admitted only as far as the free failures allow; the
//!   rest are refused (429) without hashing. Once past the free failures, one attempt at a
//!   time is admitted.
//! - Requests that already carry a valid token of the account being tried, and passwords
//!   already verified a moment ago (see `Accounts`), never reach the limiter: a stranger's
//!   guesses cannot lock the real user out of a device that is signed in.
//!
//! Memory is enough: a restart forgets the counts, but an attacker gains at most one more
//! round of free guesses, and no disk write is spent on each failure.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How a key is slowed down after repeated failures.
#[derive(Debug, Clone, Copy)]
pub struct LimitRule {
    /// Failures allowed without any wait.
    pub free_failures: u32,
    /// The wait after the first failure past the free ones; it doubles with each further one.
    pub first_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
    /// A key with no failure for this long is forgotten.
    pub forget_after: Duration,
}

impl LimitRule {
    /// The wait after the last failure before another attempt, with `failures` counted.
    fn delay(&self, failures: u32) -> Duration {
        if failures < self.free_failures {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free_failures).min(20);
        self.first_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }
}

/// What a refused login is told: when to try again, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
    pub reason: String,
}

/// Failed-login counters. Checked (and an attempt reserved) before a password is looked at.
pub struct LoginLimiter {
    per_account: Window,
    per_address: Window,
}

impl Default for LoginLimiter {
    /// Five free failures per account and twenty per address, then 30 s doubling to 15 min:
    /// enough for a person who mistypes on a tablet, far too few to guess a password that
    /// passes the strength rules.
    fn default() -> Self {
        let rule = |free_failures| LimitRule {
            free_failures,
            first_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(15 * 60),
        };
        Self::new(rule(5), rule(20))
    }
}

/// A password check the limiter has admitted. Say how it ended with [`Attempt::failed`] or
/// [`Attempt::succeeded`]; dropped without either (the check could not run), it counts for
/// nothing.
#[must_use]
pub struct Attempt<'a> {
    limiter: &'a LoginLimiter,
    account: String,
    address: Option<String>,
    settled: bool,
}

impl Attempt<'_> {
    /// The password was wrong (or the account unknown, so that unknown names look like real
    /// ones): counts against the account and the address.
    pub fn failed(mut self, now: Instant) {
        self.settled = true;
        self.limiter.per_account.settle(&self.account, true, now);
        if let Some(address) = &self.address {
            self.limiter.per_address.settle(address, true, now);
        }
    }

    /// The password was right: clears the account's count (not the address's: an office
    /// shares one address, and one person's success says nothing about the others' guesses).
    pub fn succeeded(mut self, now: Instant) {
        self.settled = true;
        self.limiter.per_account.clear(&self.account);
        if let Some(address) = &self.address {
            self.limiter.per_address.settle(address, false, now);
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled {
            let now = Instant::now();
            self.limiter.per_account.settle(&self.account, false, now);
            if let Some(address) = &self.address {
                self.limiter.per_address.settle(address, false, now);
            }
        }
    }
}

impl LoginLimiter {
    pub fn new(per_account: LimitRule, per_address: LimitRule) -> Self {
        Self {
            per_account: Window::new(per_account),
            per_address: Window::new(per_address),
        }
    }

    /// Admits one password check for `account` from `addr`, or says how long to wait. The
    /// admission is counted at once, so concurrent requests cannot all slip through.
    pub fn reserve(
        &self,
        account: &str,
        addr: Option<IpAddr>,
        now: Instant,
    ) -> Result<Attempt<'_>, Limited> {
        let account = account_key(account);
        let address = addr.map(|a| a.to_string());
        if let Err(retry_after) = self.per_account.reserve(&account, now) {
            return Err(Limited {
                retry_after,
                reason: format!(
                    "Too many failed logins for this account. Try again in {}.",
                    wait_in_words(retry_after)
                ),
            });
        }
        if let Some(address) = &address {
            if let Err(retry_after) = self.per_address.reserve(address, now) {
                self.per_account.settle(&account, false, now);
                return Err(Limited {
                    retry_after,
                    reason: format!(
                        "Too many failed logins from this address. Try again in {}.",
                        wait_in_words(retry_after)
                    ),
                });
            }
        }
        Ok(Attempt {
            limiter: self,
            account,
            address,
            settled: false,
        })
    }
}

fn account_key(account: &str) -> String {
    account.to_lowercase()
}

fn wait_in_words(d: Duration) -> String {
    let secs = d.as_secs().max(1);
    if secs < 60 {
        return if secs == 1 {
            "1 second".to_owned()
        } else {
            format!("{secs} seconds")
        };
    }
    let mins = secs.div_ceil(60);
    if mins == 1 {
        "1 minute".to_owned()
    } else {
        format!("{mins} minutes")
    }
}

/// One counter per key.
struct Window {
    rule: LimitRule,
    // A std Mutex: held for a few map operations, never across an await.
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Clone, Copy)]
struct Entry {
    failures: u32,
    /// Checks admitted and still running.
    pending: u32,
    last_failure: Instant,
}

/// Past this many keys, forgotten counters are dropped, so a flood of made-up names cannot
/// grow the map without end.
const PRUNE_ABOVE: usize = 10_000;

/// How long a refused request is told to wait while another attempt on its key is running.
const IN_FLIGHT_RETRY: Duration = Duration::from_secs(1);

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

    fn forgotten(&self, entry: &Entry, now: Instant) -> bool {
        entry.pending == 0
            && now.saturating_duration_since(entry.last_failure) >= self.rule.forget_after
    }

    /// Admits and counts one attempt, or says how long to wait.
    fn reserve(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut entries = self.lock();
        if entries.len() > PRUNE_ABOVE {
            entries.retain(|_, e| !self.forgotten(e, now));
        }
        let entry = entries.entry(key.to_owned()).or_insert(Entry {
            failures: 0,
            pending: 0,
            last_failure: now,
        });
        if self.forgotten(entry, now) {
            entry.failures = 0;
        }
        // Every running check may still fail: count them as failures already.
        let counted = entry.failures.saturating_add(entry.pending);
        if counted >= self.rule.free_failures {
            if entry.pending > 0 {
                return Err(IN_FLIGHT_RETRY);
            }
            let ready_at = entry.last_failure + self.rule.delay(entry.failures);
            if now < ready_at {
                return Err(ready_at - now);
            }
        }
        entry.pending += 1;
        Ok(())
    }

    /// Ends an admitted attempt, counting it as a failure or not.
    fn settle(&self, key: &str, failed: bool, now: Instant) {
        let mut entries = self.lock();
        if let Some(entry) = entries.get_mut(key) {
            entry.pending = entry.pending.saturating_sub(1);
            if failed {
                entry.failures = entry.failures.saturating_add(1);
                entry.last_failure = now;
            } else if entry.failures == 0 && entry.pending == 0 {
                entries.remove(key);
            }
        }
    }

    fn clear(&self, key: &str) {
        self.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> LoginLimiter {
        let rule = |free_failures| LimitRule {
            free_failures,
            first_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(600),
            forget_after: Duration::from_secs(900),
        };
        LoginLimiter::new(rule(3), rule(5))
    }

    const ADDR: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 7)));

    fn fail(l: &LoginLimiter, name: &str, addr: Option<IpAddr>, at: Instant) {
        l.reserve(name, addr, at).expect("admitted").failed(at);
    }

    #[test]
    fn past_its_free_failures_an_account_waits_longer_after_each_one() {
        let l = limiter();
        let t0 = Instant::now();
        for _ in 0..3 {
            fail(&l, "ana", None, t0);
        }
        let limited = l.reserve("ana", ADDR, t0 + Duration::from_secs(10)).err();
        let limited = limited.expect("the fourth attempt waits");
        assert_eq!(limited.retry_after, Duration::from_secs(20));
        assert!(
            limited.reason.contains("this account"),
            "{}",
            limited.reason
        );
        // Names are compared without case, so `Ana` is the same account.
        assert!(l.reserve("Ana", None, t0).is_err());
        // Another account is not affected.
        assert!(l.reserve("beto", None, t0).is_ok());
        // 30 s after the third failure one more attempt; then 60 s, then 120 s.
        let t1 = t0 + Duration::from_secs(30);
        fail(&l, "ana", None, t1);
        assert!(l
            .reserve("ana", None, t1 + Duration::from_secs(59))
            .is_err());
        let t2 = t1 + Duration::from_secs(60);
        fail(&l, "ana", None, t2);
        let limited = l.reserve("ana", None, t2 + Duration::from_secs(1)).err();
        assert_eq!(
            limited.map(|l| l.retry_after),
            Some(Duration::from_secs(119))
        );
        // Forgotten fifteen minutes after the last failure.
        assert!(l
            .reserve("ana", None, t2 + Duration::from_secs(900))
            .is_ok());
    }

    #[test]
    fn concurrent_attempts_are_reserved_so_only_the_free_ones_run() {
        let l = limiter();
        let t0 = Instant::now();
        let admitted: Vec<_> = (0..50)
            .filter_map(|_| l.reserve("ana", ADDR, t0).ok())
            .collect();
        assert_eq!(admitted.len(), 3);
        for attempt in admitted {
            attempt.failed(t0);
        }
        assert!(l.reserve("ana", ADDR, t0).is_err());
    }

    #[test]
    fn an_attempt_that_could_not_run_counts_for_nothing() {
        let l = limiter();
        let t0 = Instant::now();
        for _ in 0..10 {
            drop(l.reserve("ana", ADDR, t0).expect("admitted"));
        }
        assert!(l.reserve("ana", ADDR, t0).is_ok());
    }

    #[test]
    fn a_success_clears_the_account_count() {
        let l = limiter();
        let t0 = Instant::now();
        fail(&l, "ana", None, t0);
        fail(&l, "ana", None, t0);
        l.reserve("ana", None, t0).unwrap().succeeded(t0);
        fail(&l, "ana", None, t0);
        fail(&l, "ana", None, t0);
        assert!(l.reserve("ana", None, t0).is_ok());
    }

    #[test]
    fn an_address_is_limited_after_failures_across_many_accounts() {
        let l = limiter();
        let t0 = Instant::now();
        for name in ["a1", "a2", "a3", "a4", "a5"] {
            fail(&l, name, ADDR, t0);
        }
        let limited = l.reserve("someone-else", ADDR, t0).err().expect("limited");
        assert!(
            limited.reason.contains("this address"),
            "{}",
            limited.reason
        );
        // The refusal by address did not leave a reservation on the account behind.
        for _ in 0..3 {
            fail(&l, "someone-else", None, t0);
        }
        assert!(l.reserve("another", None, t0).is_ok());
    }

    #[test]
    fn waits_are_said_in_seconds_or_whole_minutes() {
        assert_eq!(wait_in_words(Duration::from_secs(1)), "1 second");
        assert_eq!(wait_in_words(Duration::from_secs(30)), "30 seconds");
        assert_eq!(wait_in_words(Duration::from_secs(60)), "1 minute");
        assert_eq!(wait_in_words(Duration::from_secs(61)), "2 minutes");
    }
}
