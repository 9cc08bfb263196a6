//! Connection limits (in total and per client address) and the AUTH failure limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Limits of a server, with defaults that suit a small MTA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Connections open at once, all listeners together.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_ip: usize,
    /// Failed AUTH attempts from one address within `auth_failure_window` before that
    /// address gets "421 4.7.0" on AUTH.
    pub max_auth_failures: usize,
    /// The window for `max_auth_failures`.
    pub auth_failure_window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1000,
            max_connections_per_ip: 50,
            max_auth_failures: 5,
            auth_failure_window: Duration::from_secs(600),
        }
    }
}

/// Counts open connections; a [`ConnectionGuard`] gives the slot back when dropped.
#[derive(Debug)]
pub(crate) struct ConnectionCounter {
    limits: Limits,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One open connection: a slot of the total, and of its client address once known.
#[derive(Debug)]
pub(crate) struct ConnectionGuard {
    counter: Arc<ConnectionCounter>,
    ip: Option<IpAddr>,
}

impl ConnectionCounter {
    pub(crate) fn new(limits: Limits) -> Arc<Self> {
        Arc::new(ConnectionCounter { limits, open: Mutex::new((0, HashMap::new())) })
    }

    /// Takes a slot for `ip`, or `None` when a limit is reached.
    pub(crate) fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<ConnectionGuard> {
        let mut guard = self.acquire_total()?;
        // On refusal the guard gives the total slot back when it drops.
        guard.claim_ip(ip).then_some(guard)
    }

    /// Takes a slot of the total only, for a connection whose client address is not known
    /// yet (behind a load balancer, until its PROXY header is read: counting the
    /// balancer's address would make all clients share one per-address limit).
    pub(crate) fn acquire_total(self: &Arc<Self>) -> Option<ConnectionGuard> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.0 >= self.limits.max_connections {
            return None;
        }
        open.0 += 1;
        Some(ConnectionGuard { counter: self.clone(), ip: None })
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(PoisonError::into_inner).0
    }
}

impl ConnectionGuard {
    /// Counts this connection against `ip` as well; false when that address is at its
    /// limit. A guard claims one address at most: a second claim is refused.
    pub(crate) fn claim_ip(&mut self, ip: IpAddr) -> bool {
        if self.ip.is_some() {
            return false;
        }
        let mut open = self.counter.open.lock().unwrap_or_else(PoisonError::into_inner);
        let mine = open.1.entry(ip).or_insert(0);
        if *mine >= self.counter.limits.max_connections_per_ip {
            if *mine == 0 {
                open.1.remove(&ip);
            }
            return false;
        }
        *mine += 1;
        self.ip = Some(ip);
        true
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut open = self.counter.open.lock().unwrap_or_else(PoisonError::into_inner);
        let (total, per_ip) = &mut *open;
        *total = total.saturating_sub(1);
        if let Some(ip) = self.ip
            && let Some(mine) = per_ip.get_mut(&ip)
        {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                per_ip.remove(&ip);
            }
        }
    }
}

/// Failed AUTH attempts per client address, forgotten after the window.
#[derive(Debug)]
pub(crate) struct AuthFailures {
    limits: Limits,
    failures: Mutex<HashMap<IpAddr, (usize, Instant)>>,
}

impl AuthFailures {
    pub(crate) fn new(limits: Limits) -> Arc<Self> {
        Arc::new(AuthFailures { limits, failures: Mutex::new(HashMap::new()) })
    }

    /// True when `ip` has used up its failures.
    pub(crate) fn blocked(&self, ip: IpAddr) -> bool {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        match failures.get(&ip) {
            Some((_, since)) if since.elapsed() > self.limits.auth_failure_window => {
                failures.remove(&ip);
                false
            }
            Some((count, _)) => *count >= self.limits.max_auth_failures,
            None => false,
        }
    }

    /// Records one failure.
    pub(crate) fn record(&self, ip: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        // Bound the table: a flood of addresses must not grow it without limit.
        if failures.len() > 100_000 {
            let window = self.limits.auth_failure_window;
            failures.retain(|_, (_, since)| since.elapsed() <= window);
        }
        let entry = failures.entry(ip).or_insert((0, Instant::now()));
        if entry.1.elapsed() > self.limits.auth_failure_window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ip_and_total_limits_hold_and_slots_come_back() {
        let limits = Limits { max_connections: 3, max_connections_per_ip: 2, ..Limits::default() };
        let counter = ConnectionCounter::new(limits);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let a1 = counter.acquire(a).unwrap();
        let _a2 = counter.acquire(a).unwrap();
        assert!(counter.acquire(a).is_none(), "third from one address");
        let _b1 = counter.acquire(b).unwrap();
        assert!(counter.acquire(b).is_none(), "total limit");
        drop(a1);
        assert_eq!(counter.open(), 2);
        assert!(counter.acquire(b).is_some());
    }

    #[test]
    fn the_address_can_be_counted_after_the_total() {
        let limits = Limits { max_connections: 3, max_connections_per_ip: 1, ..Limits::default() };
        let counter = ConnectionCounter::new(limits);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let mut first = counter.acquire_total().unwrap();
        let mut second = counter.acquire_total().unwrap();
        assert_eq!(counter.open(), 2);
        assert!(first.claim_ip(a));
        assert!(!first.claim_ip(b), "one address per connection");
        assert!(!second.claim_ip(a), "a is at its limit");
        assert!(counter.acquire(a).is_none());
        assert!(second.claim_ip(b));
        assert!(counter.acquire_total().is_some(), "the refused acquire gave its slot back");
        drop(first);
        drop(second);
        assert_eq!(counter.open(), 0);
        assert!(counter.acquire(a).is_some() && counter.acquire(b).is_some());
        assert!(counter.open.lock().unwrap().1.is_empty(), "per-address entries are removed");
    }

    #[test]
    fn auth_failures_block_after_the_limit_only_for_that_address() {
        let limits = Limits { max_auth_failures: 2, ..Limits::default() };
        let failures = AuthFailures::new(limits);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        failures.record(a);
        assert!(!failures.blocked(a));
        failures.record(a);
        assert!(failures.blocked(a));
        assert!(!failures.blocked(b));
    }
}
