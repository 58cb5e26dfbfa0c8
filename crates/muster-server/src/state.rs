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
    /// Sigma rules run over `POST /api/v1/events`; `None` when detection is off.
    pub sigma: Option<Arc<muster_intake::sigma::RuleSet>>,
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
    /// State without detection rules (Sigma is off whatever the configuration says); see [`AppState::start`].
    #[must_use]
    pub fn new(store: Store, config: Config) -> Self {
        Self::build(store, config, None)
    }

    /// State for a starting server: loads the Sigma rules the configuration
    /// names, logging each refused rule with its file and reason.
    ///
    /// # Errors
    /// When the configured rule folder cannot be read.
    pub fn start(store: Store, config: Config) -> Result<Self, muster_intake::sigma::LoadError> {
        let sigma = crate::detection::load(&config.detection)?;
        Ok(Self::build(store, config, sigma.map(Arc::new)))
    }

    fn build(store: Store, config: Config, sigma: Option<Arc<muster_intake::sigma::RuleSet>>) -> Self {
        let throttle = Throttle::new(config.login_max_failures);
        let intake = tokio::sync::Semaphore::new(config.intake_concurrency.max(1));
        // Bounded: a slow listener skips ahead (and is told to refresh) instead of holding memory.
        let (alert_events, _) = tokio::sync::broadcast::channel(256);
        let playbooks = crate::playbooks::Playbooks::new(store.clone(), &config);
        Self(Arc::new(Inner {
            store,
            config,
            throttle,
            metrics: Metrics::new(),
            intake,
            alert_events,
            playbooks,
            sigma,
        }))
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
