//! Shared simulator state: clients, issued tokens, counters and fault queues.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::{Action, Counters, Fault, SimOptions, Target};

/// Prune expired tokens once the table grows beyond this size.
const TOKEN_PRUNE_THRESHOLD: usize = 10_000;

pub struct Shared {
    start_lifetime: u64,
    inner: Mutex<Inner>,
}

struct Inner {
    counters: Counters,
    clients: HashMap<String, String>,
    tokens: HashMap<String, TokenInfo>,
    lifetime: u64,
    token_faults: VecDeque<Fault>,
    api_faults: VecDeque<Fault>,
}

struct TokenInfo {
    client_id: String,
    /// `None` when the lifetime is too large to represent (never expires).
    expires: Option<Instant>,
}

impl TokenInfo {
    fn is_valid(&self, now: Instant) -> bool {
        self.expires.is_none_or(|e| now < e)
    }
}

/// Result of a client authentication attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCheck {
    Ok,
    UnknownClient,
    BadSecret,
}

impl Shared {
    pub fn new(opts: &SimOptions) -> Shared {
        Shared {
            start_lifetime: opts.token_lifetime_s,
            inner: Mutex::new(Inner {
                counters: Counters::default(),
                clients: opts.clients.iter().cloned().collect(),
                tokens: HashMap::new(),
                lifetime: opts.token_lifetime_s,
                token_faults: VecDeque::new(),
                api_faults: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the state inconsistent in a way that
        // matters to a test simulator.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn counters(&self) -> Counters {
        self.lock().counters
    }

    pub fn count_connection(&self) {
        self.lock().counters.connections += 1;
    }

    pub fn count_request(&self, target: Target) {
        let mut inner = self.lock();
        match target {
            Target::Token => inner.counters.token_requests += 1,
            Target::Api => inner.counters.api_requests += 1,
        }
    }

    pub fn inject(&self, fault: Fault) {
        if fault.count == 0 {
            return;
        }
        let mut inner = self.lock();
        match fault.target {
            Target::Token => inner.token_faults.push_back(fault),
            Target::Api => inner.api_faults.push_back(fault),
        }
    }

    pub fn pending_faults(&self) -> Vec<Fault> {
        let inner = self.lock();
        inner
            .token_faults
            .iter()
            .chain(inner.api_faults.iter())
            .cloned()
            .collect()
    }

    /// Consumes one use of the first fault of `target`'s queue matching the request.
    pub fn take_fault(&self, target: Target, method: &str, path: &str) -> Option<Action> {
        let mut inner = self.lock();
        let queue = match target {
            Target::Token => &mut inner.token_faults,
            Target::Api => &mut inner.api_faults,
        };
        let index = queue.iter().position(|f| {
            f.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && f.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
        })?;
        let fault = &mut queue[index];
        let action = fault.action.clone();
        fault.count -= 1;
        if fault.count == 0 {
            queue.remove(index);
        }
        Some(action)
    }

    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.counters = Counters::default();
        inner.tokens.clear();
        inner.token_faults.clear();
        inner.api_faults.clear();
        inner.lifetime = self.start_lifetime;
    }

    pub fn revoke_all(&self) {
        self.lock().tokens.clear();
    }

    pub fn set_lifetime(&self, secs: u64) {
        self.lock().lifetime = secs;
    }

    pub fn add_client(&self, id: &str, secret: &str) {
        self.lock()
            .clients
            .insert(id.to_string(), secret.to_string());
    }

    pub fn check_client(&self, id: &str, secret: &str) -> ClientCheck {
        match self.lock().clients.get(id) {
            None => ClientCheck::UnknownClient,
            Some(expected) if constant_time_eq(expected.as_bytes(), secret.as_bytes()) => {
                ClientCheck::Ok
            }
            Some(_) => ClientCheck::BadSecret,
        }
    }

    /// Issues a token for `client_id`; returns it with its `expires_in`.
    pub fn issue_token(&self, client_id: &str) -> (String, u64) {
        let token = crate::util::random_token();
        let now = Instant::now();
        let mut inner = self.lock();
        let lifetime = inner.lifetime;
        if inner.tokens.len() >= TOKEN_PRUNE_THRESHOLD {
            inner.tokens.retain(|_, t| t.is_valid(now));
        }
        inner.tokens.insert(
            token.clone(),
            TokenInfo {
                client_id: client_id.to_string(),
                expires: now.checked_add(Duration::from_secs(lifetime)),
            },
        );
        inner.counters.tokens_issued += 1;
        (token, lifetime)
    }

    /// The client id of a known, unexpired, unrevoked token.
    pub fn token_client(&self, token: &str) -> Option<String> {
        let now = Instant::now();
        self.lock()
            .tokens
            .get(token)
            .filter(|t| t.is_valid(now))
            .map(|t| t.client_id.clone())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
