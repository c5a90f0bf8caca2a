//! The change-log followers: background work that follows what operations wrote.
//!
//! - The **indexer** wakes on a local write (after a short delay, to batch writes into one
//!   commit) or every poll interval (writes through other instances sharing the database),
//!   applies the change log to the search index (`app::indexing::catch_up`), and tells the
//!   suggester the change-log position it has committed.
//! - The **suggester** wakes when the indexer has committed a new position, when a rejection
//!   asks for a refill, or every poll interval; it suggests for every record written up to the
//!   indexed position (`app::matches::run_pending`), so records written together find each
//!   other, and refills the queues of rejected pairs (`app::matches::suggest_for`).
//!
//! Both keep their place in the database (the index's commit payload, the matcher checkpoint),
//! so a restart resumes where they stopped. They call the application layer for every write.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::{App, WriteSignals, indexing, matches};

/// The running followers.
/// How often audit entries past their retention (and old failed sign-ins) are deleted.
const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

pub struct Followers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Followers {
    /// Starts the indexer, then the suggester, on the context's store and index, and the hourly
    /// pruning of the audit log.
    pub fn start(app: Arc<App>, signals: WriteSignals) -> Followers {
        let (stop, _) = watch::channel(false);
        let (indexed_tx, indexed_rx) = watch::channel(app.search().current().last_seq());
        let WriteSignals { wake, refill } = signals;
        let indexer = {
            let app = app.clone();
            let mut stop = stop.subscribe();
            tokio::spawn(async move {
                let settings = app.search().settings().clone();
                loop {
                    match indexing::catch_up(app.store().as_ref(), app.search()).await {
                        Ok((_, seq)) => {
                            indexed_tx.send_if_modified(|known| {
                                let newer = seq > *known;
                                if newer {
                                    *known = seq;
                                }
                                newer
                            });
                        }
                        Err(error) => tracing::warn!(%error, "indexing from the change log failed; retrying"),
                    }
                    tokio::select! {
                        _ = wake.notified() => tokio::time::sleep(settings.commit_delay).await,
                        _ = tokio::time::sleep(settings.poll_interval) => {}
                        _ = stop.changed() => break,
                    }
                    if *stop.borrow() {
                        break;
                    }
                }
            })
        };
        let suggester = {
            let app = app.clone();
            let mut stop = stop.subscribe();
            let mut indexed = indexed_rx;
            let mut refill = refill;
            let poll: Duration = app.matching.poll_interval;
            tokio::spawn(async move {
                loop {
                    let upto = *indexed.borrow_and_update();
                    let stopping = || *stop.borrow();
                    if let Err(error) = matches::run_pending(&app, upto, stopping).await {
                        tracing::warn!(%error, "background matching failed; retrying");
                    }
                    tokio::select! {
                        changed = indexed.changed() => {
                            if changed.is_err() {
                                break;
                            }
                        }
                        Some((library, id)) = refill.recv() => {
                            if let Err(error) = matches::suggest_for(&app, library, &id).await {
                                tracing::warn!(library = library.route(), %id, %error, "suggesting after a rejection failed");
                            }
                        }
                        _ = tokio::time::sleep(poll) => {}
                        _ = stop.changed() => break,
                    }
                    if *stop.borrow() {
                        break;
                    }
                }
            })
        };
        let retention = {
            let mut stop = stop.subscribe();
            tokio::spawn(async move {
                loop {
                    if let Err(error) = crate::app::audit::prune(&app).await {
                        tracing::warn!(%error, "pruning the audit log failed; retrying in an hour");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(RETENTION_INTERVAL) => {}
                        _ = stop.changed() => break,
                    }
                    if *stop.borrow() {
                        break;
                    }
                }
            })
        };
        Followers { stop, tasks: vec![indexer, suggester, retention] }
    }

    /// Stops both, letting a pass in progress finish.
    pub async fn close(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
