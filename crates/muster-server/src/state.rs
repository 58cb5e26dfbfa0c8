//! Shared state handed to every handler.

use std::ops::Deref;
use std::sync::Arc;

use muster_store::Store;

use crate::auth::Throttle;
use crate::config::Config;
use crate::metrics::Metrics;

/// Cheap to clone; everything inside is shared.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Store,
    pub config: Config,
    pub throttle: Throttle,
    pub metrics: Metrics,
    /// Bounds the alert batches parsed and committed at once.
    pub intake: tokio::sync::Semaphore,
    /// Committed alert batches, for the live alert queue.
    pub alert_events: tokio::sync::broadcast::Sender<AlertEvent>,
    /// Playbook library, runs and automation.
    pub playbooks: crate::playbooks::Playbooks,
}

/// A batch of alerts was committed for an organisation.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct AlertEvent {
    #[serde(skip)]
    pub org: muster_core::OrgId,
    pub created: u64,
    pub duplicates: u64,
}

impl AppState {
    #[must_use]
    pub fn new(store: Store, config: Config) -> Self {
        let throttle = Throttle::new(config.login_max_failures);
        let intake = tokio::sync::Semaphore::new(config.intake_concurrency.max(1));
        // Bounded: a slow listener skips ahead (and is told to refresh) instead of holding memory.
        let (alert_events, _) = tokio::sync::broadcast::channel(256);
        let playbooks = crate::playbooks::Playbooks::new(store.clone(), &config);
        Self(Arc::new(Inner { store, config, throttle, metrics: Metrics::new(), intake, alert_events, playbooks }))
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Tells live alert queues of `org` that a batch was committed.
    pub fn alerts_committed(&self, org: muster_core::OrgId, created: u64, duplicates: u64) {
        if created + duplicates > 0 {
            // No listener is not an error.
            let _ = self.alert_events.send(AlertEvent { org, created, duplicates });
        }
    }
}
