//! SQLite WAL checkpoints off the writers' path.
//!
//! By default the connection that commits past 1,000 WAL pages copies the
//! whole WAL into the database file (and fsyncs it) before its commit
//! returns: an intake batch of a few thousand alerts did that on every
//! commit, doubling its latency. Here one task with its own connection runs
//! passive checkpoints (they never block writers or readers) whenever a bulk
//! writer asks and at least once a second; the pool's connections checkpoint
//! by themselves only past a far larger WAL, as a safety net should this
//! task fall behind. A finished checkpoint lets the next writer start the
//! WAL over, and `journal_size_limit` keeps its file from staying large.

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyConnectOptions;
use sqlx::{ConnectOptions, Executor};
use tokio::sync::Notify;

/// WAL pages (4 KiB) after which a committing connection checkpoints itself.
pub(crate) const SAFETY_NET_PAGES: u32 = 16_384;
/// Bytes the WAL file is truncated back to after it was started over.
pub(crate) const WAL_SIZE_LIMIT: u64 = 64 << 20;
/// Longest pause between checkpoints.
const PERIOD: Duration = Duration::from_secs(1);

/// The checkpoint task; it stops when the last [`crate::Store`] clone is dropped or closed.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    wake: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Checkpointer {
    /// Starts the task on its own connection (not one of the pool's).
    pub(crate) async fn start(connect: &AnyConnectOptions) -> crate::Result<Self> {
        let mut conn = connect.connect().await?;
        conn.execute("PRAGMA busy_timeout=10000").await?;
        let wake = Arc::new(Notify::new());
        let woken = Arc::clone(&wake);
        let task = tokio::spawn(async move {
            loop {
                let _ = tokio::time::timeout(PERIOD, woken.notified()).await;
                // A failed checkpoint is retried on the next round; writers
                // still checkpoint themselves past the safety net.
                if let Err(e) = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").await {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
        });
        Ok(Self { wake, task })
    }

    /// Asks for a checkpoint soon (after a large commit).
    pub(crate) fn nudge(&self) {
        self.wake.notify_one();
    }

    /// Stops the task (its connection closes with it).
    pub(crate) fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
