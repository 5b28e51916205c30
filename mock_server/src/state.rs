//! The mock's state: [`Mock`] (one `Arc` to everything a request may read or
//! change), how it is built from a configuration and a contract, and the
//! accessors the handlers and embedders use: clock, tokens, store, counters,
//! deviations, faults, pacing and the capacity gate.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use axum::http::StatusCode;
use mss_contract::{Contract, Service};
use rustc_hash::FxHashMap;

use crate::clock::MockClock;
use crate::codes::Role;
use crate::config::{CapacityConfig, ClientConfig, ConfigError, MockConfig};
use crate::deviate::Deviations;
use crate::faults::{FaultSet, FaultSpec};
use crate::latency;
use crate::store::Store;
use crate::timing::HandlerTime;

/// A client_id compiled from the configuration.
pub(crate) struct Client {
    pub config: ClientConfig,
    /// Its administrator's index in the contract (`u8::MAX` when unknown).
    pub administradora: u8,
    /// The services it may call, by [`service_index`].
    pub services: [bool; 2],
}

/// What a token stands for.
#[derive(Clone, Copy)]
pub(crate) struct TokenInfo {
    /// The client's index in [`Inner::clients`].
    pub client: usize,
    /// Expiry, in the mock clock's Unix seconds.
    pub expires_at: i64,
}

#[derive(Default)]
pub(crate) struct ServiceStats {
    pub accepted: AtomicU64,
    pub rejected: [AtomicU64; Role::ALL.len()],
}

/// The counters of `/__admin/stats`.
#[derive(Default)]
pub(crate) struct Stats {
    pub token_issued: AtomicU64,
    pub token_rejected: AtomicU64,
    pub services: [ServiceStats; 2],
}

/// Everything behind a [`Mock`].
pub(crate) struct Inner {
    /// The contract the mock serves.
    pub contract: Arc<Contract>,
    pub config: MockConfig,
    pub clients: Vec<Client>,
    pub clock: MockClock,
    pub tokens: RwLock<FxHashMap<String, TokenInfo>>,
    pub store: Mutex<Store>,
    pub stats: Stats,
    /// This instance's prefix of transaction numbers.
    pub instance: String,
    /// Refusals numbered so far (their `TX` transaction numbers).
    pub rejections: AtomicU64,
    /// The HTTP status of each role, from the contract.
    pub statuses: [StatusCode; Role::ALL.len()],
    pub pacing: latency::Pacing,
    pub deviations: RwLock<Arc<Deviations>>,
    pub faults: RwLock<Arc<FaultSet>>,
    pub gate: Option<Gate>,
    /// Time spent in the handlers of paced requests.
    pub handler_time: HandlerTime,
}

/// The capacity limit: at most `max_concurrent` requests served at once, at
/// most `queue` more waiting; the rest are shed at once.
pub(crate) struct Gate {
    permits: tokio::sync::Semaphore,
    waiting: AtomicUsize,
    pub config: CapacityConfig,
    pub shed: AtomicU64,
}

impl Gate {
    /// A permit to serve, or `None` when the request is to be shed.
    pub(crate) async fn admit(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        if let Ok(p) = self.permits.try_acquire() {
            return Some(p);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.config.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            self.shed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let wait = std::time::Duration::from_millis(self.config.queue_timeout_ms);
        let permit = tokio::time::timeout(wait, self.permits.acquire()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match permit {
            Ok(Ok(p)) => Some(p),
            _ => {
                self.shed.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }
}

/// A running mock's state; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Mock {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Mock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mock")
            .field("instance", &self.inner.instance)
            .field("clients", &self.inner.clients.len())
            .finish()
    }
}

/// Why the mock could not start.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The contract lacks a code the mock needs.
    #[error("contract/errores.csv has no entry for {0}")]
    Catalogue(String),
    /// The server failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// A service's index in the per-service arrays.
pub(crate) fn service_index(service: Service) -> usize {
    match service {
        Service::Afiliacion => 0,
        Service::Retracto => 1,
    }
}

impl Mock {
    /// A mock serving `contract` (the bundled one, or one edited from the
    /// ministry's annex), with `config` and an empty state.
    pub fn new(config: MockConfig, contract: Arc<Contract>) -> Result<Mock, MockError> {
        config.check("configuration", &contract)?;
        let mut statuses = [StatusCode::OK; Role::ALL.len()];
        for role in Role::ALL {
            let entry = contract.code(role);
            statuses[role.index()] = StatusCode::from_u16(entry.http_status)
                .map_err(|_| MockError::Catalogue(entry.codigo.clone()))?;
        }
        let clients = config
            .clients
            .iter()
            .map(|c| {
                let administradora = contract
                    .administradoras
                    .iter()
                    .position(|a| a.codigo == c.administradora)
                    .and_then(|i| u8::try_from(i).ok())
                    .unwrap_or(u8::MAX);
                let mut services = [true, true];
                if let Some(list) = &c.services {
                    for s in Service::ALL {
                        services[service_index(s)] =
                            list.iter().any(|n| n.eq_ignore_ascii_case(s.name()));
                    }
                }
                Client {
                    config: c.clone(),
                    administradora,
                    services,
                }
            })
            .collect();
        let instance = format!("{:04X}", rand::random::<u16>());
        let latency_profile = config.latency;
        let faults = FaultSet::compile(&config.faults).map_err(|message| ConfigError::Invalid {
            origin: "configuration".to_owned(),
            message,
        })?;
        let gate = config.capacity.clone().map(|c| Gate {
            permits: tokio::sync::Semaphore::new(c.max_concurrent),
            waiting: AtomicUsize::new(0),
            config: c,
            shed: AtomicU64::new(0),
        });
        let deviations = Deviations::parse(&contract, &config.deviate).map_err(|message| {
            ConfigError::Invalid {
                origin: "configuration".to_owned(),
                message: format!("deviate: {message}"),
            }
        })?;
        Ok(Mock {
            inner: Arc::new(Inner {
                contract,
                clock: MockClock::new(config.clock_offset_seconds),
                store: Mutex::new(Store::new(config.max_records, config.max_fingerprints)),
                config,
                clients,
                tokens: RwLock::new(FxHashMap::default()),
                stats: Stats::default(),
                instance,
                rejections: AtomicU64::new(0),
                statuses,
                pacing: latency::Pacing::new(latency_profile),
                deviations: RwLock::new(Arc::new(deviations)),
                faults: RwLock::new(Arc::new(faults)),
                gate,
                handler_time: HandlerTime::new(),
            }),
        })
    }

    /// The mock's clock.
    pub fn clock(&self) -> &MockClock {
        &self.inner.clock
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &MockConfig {
        &self.inner.config
    }

    /// Statistics as the `/__admin/stats` JSON.
    pub fn stats(&self) -> serde_json::Value {
        let s = &self.inner.stats;
        let mut services = serde_json::Map::new();
        for service in Service::ALL {
            let st = &s.services[service_index(service)];
            let mut rejected = serde_json::Map::new();
            for role in Role::ALL {
                let n = st.rejected[role.index()].load(Ordering::Relaxed);
                if n > 0 {
                    rejected.insert(self.inner.contract.codigo_of(role).to_owned(), n.into());
                }
            }
            services.insert(
                service.name().to_owned(),
                serde_json::json!({
                    "accepted": st.accepted.load(Ordering::Relaxed),
                    "rejected": rejected,
                }),
            );
        }
        let store = self.store();
        serde_json::json!({
            "token": {
                "issued": s.token_issued.load(Ordering::Relaxed),
                "rejected": s.token_rejected.load(Ordering::Relaxed),
            },
            "services": services,
            "records": {
                "kept": store.len(),
                "first_index": store.first_index(),
            },
            "clock": self.clock_json(),
            "faults_injected": self.faults().injected(),
            "shed": self.inner.gate.as_ref().map_or(0, |g| g.shed.load(Ordering::Relaxed)),
            "handler_us": self.inner.handler_time.json(),
        })
    }

    /// The faults in force.
    pub fn faults(&self) -> Arc<FaultSet> {
        self.inner
            .faults
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replace the faults in force (their offsets count from now); the error
    /// names the fault and the key that is wrong.
    pub fn set_faults(&self, specs: &[FaultSpec]) -> Result<(), String> {
        let set = FaultSet::compile(specs)?;
        // The clock comes back when the faults go (a new set's skew, if it
        // has one, applies from its first request).
        self.inner.clock.set_skew(0);
        *self
            .inner
            .faults
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(set);
        Ok(())
    }

    /// Invalidate every token issued so far; returns how many there were.
    pub fn revoke_tokens(&self) -> usize {
        let mut tokens = self
            .inner
            .tokens
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = tokens.len();
        tokens.clear();
        n
    }

    /// The deviations in force.
    pub fn deviations(&self) -> Arc<Deviations> {
        self.inner
            .deviations
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replace the deviations in force.
    pub fn set_deviations(&self, deviations: Deviations) {
        *self
            .inner
            .deviations
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(deviations);
    }

    /// The contract the mock serves.
    pub fn contract(&self) -> &Arc<Contract> {
        &self.inner.contract
    }

    /// The latency profile and stall control.
    pub fn pacing(&self) -> &latency::Pacing {
        &self.inner.pacing
    }

    /// Forget every record, person and statistic (tokens and clock stay).
    pub fn reset(&self) {
        self.store().reset();
        self.inner.handler_time.reset();
        let s = &self.inner.stats;
        s.token_issued.store(0, Ordering::Relaxed);
        s.token_rejected.store(0, Ordering::Relaxed);
        for st in &s.services {
            st.accepted.store(0, Ordering::Relaxed);
            for r in &st.rejected {
                r.store(0, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave a record half-written
        // (records are pushed whole), so a poisoned lock is still usable.
        self.inner
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The clock as `/__admin/clock` shows it.
    pub(crate) fn clock_json(&self) -> serde_json::Value {
        let clock = &self.inner.clock;
        serde_json::json!({
            "now": clock.now_bogota().to_rfc3339(),
            "hoy": clock.today().to_string(),
            "offset_seconds": clock.offset_seconds(),
        })
    }

    /// The HTTP status of `role`'s codigo.
    pub(crate) fn status(&self, role: Role) -> StatusCode {
        self.inner.statuses[role.index()]
    }

    /// Transaction number `n` of `kind` (`AF`, `RT`, `TX`).
    pub(crate) fn transaction(&self, kind: &str, n: u64) -> String {
        format!("{}{kind}{n:012}", self.inner.instance)
    }

    /// The record index of one of our affiliation transaction numbers.
    pub(crate) fn affiliation_index(&self, numero: &str) -> Option<u64> {
        let rest = numero.strip_prefix(self.inner.instance.as_str())?;
        let digits = rest.strip_prefix("AF")?;
        if digits.len() != 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }
}
