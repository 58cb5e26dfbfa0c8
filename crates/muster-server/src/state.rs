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
}

impl AppState {
    #[must_use]
    pub fn new(store: Store, config: Config) -> Self {
        let throttle = Throttle::new(config.login_max_failures);
        let intake = tokio::sync::Semaphore::new(config.intake_concurrency.max(1));
        Self(Arc::new(Inner { store, config, throttle, metrics: Metrics::new(), intake }))
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
