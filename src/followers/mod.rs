//! The change-log followers: background work that follows what operations wrote.
//!
//! - The **indexer** wakes on a local write (after a short delay, to batch writes into one
//!   commit), on a write through another instance sharing the database (PostgreSQL's
//!   LISTEN/NOTIFY, `Store::listen_changes`), or every poll interval (what a lost signal missed),
//!   applies the change log to the search index (`app::indexing::catch_up`), and tells the
//!   suggester the change-log position it has committed.
//! - The **suggester** wakes when the indexer has committed a new position, when a rejection
//!   asks for a refill, or every poll interval; it suggests for every record written up to the
//!   indexed position (`app::matches::run_pending`), so records written together find each
//!   other, and refills the queues of rejected pairs (`app::matches::suggest_for`).
//!
//! - The **notifier** wakes when a unit of work wrote events, when a delivery falls due, or every
//!   poll interval: it fans new events out to the webhook subscriptions and sends what is due
//!   (`app::notifications`), with its own checkpoint (`notify`).
//! - The **scheduler** expires records, reminds their owners, and writes the weekly summary
//!   (`app::schedule`), on the context's clock.
//!
//! All keep their place in the database (the index's commit payload, the matcher checkpoint),
//! so a restart resumes where they stopped. They call the application layer for every write.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::app::{App, WriteSignals, indexing, matches, notifications, schedule};
use crate::domain::record::Library;
use crate::storage::{ChangeSignal, StoreError};

/// One pass of the notifier: new events fanned out to the subscriptions, then every delivery
/// due sent (a pass that sent some looks again at once); how long until the next one falls due.
async fn notify_pass(app: &App) -> Result<Option<Duration>, StoreError> {
    notifications::fan_out(app).await?;
    while notifications::deliver_due(app).await? > 0 {}
    let now = app.clock.now();
    Ok(app.store().next_delivery_at().await?.map(|at| (at - now).to_std().unwrap_or(Duration::ZERO)))
}

/// The running followers.
/// How often audit entries past their retention (and old failed sign-ins) are deleted.
const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

pub struct Followers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Followers {
    /// Starts the indexer, then the suggester, on the context's store and index, the notifier,
    /// the scheduler, and the hourly pruning of the audit log.
    pub fn start(app: Arc<App>, signals: WriteSignals) -> Followers {
        let (stop, _) = watch::channel(false);
        let (indexed_tx, indexed_rx) = watch::channel(app.search().current().last_seq());
        let WriteSignals { wake, events, refill } = signals;
        let tasks = vec![
            tokio::spawn(indexer(app.clone(), wake, indexed_tx, stop.subscribe())),
            tokio::spawn(suggester(app.clone(), indexed_rx, refill, stop.subscribe())),
            tokio::spawn(notifier(app.clone(), events, stop.subscribe())),
            tokio::spawn(every(stop.subscribe(), RETENTION_INTERVAL, {
                let app = app.clone();
                move || {
                    let app = app.clone();
                    async move {
                        if let Err(error) = crate::app::audit::prune(&app).await {
                            tracing::warn!(%error, "pruning the audit log failed; retrying in an hour");
                        }
                    }
                }
            })),
            tokio::spawn(every(
                stop.subscribe(),
                Duration::from_millis(app.notifications.expiry_interval_ms.max(10)),
                {
                    let app = app.clone();
                    move || {
                        let app = app.clone();
                        async move {
                            if let Err(error) = schedule::sweep(&app).await {
                                tracing::warn!(%error, "expiring records failed; retrying");
                            }
                            if let Err(error) = schedule::weekly_summary(&app).await {
                                tracing::warn!(%error, "writing the weekly summary failed; retrying");
                            }
                        }
                    }
                },
            )),
        ];
        Followers { stop, tasks }
    }

    /// Only the indexer: what a bulk write of the command line (an import) runs beside it, so
    /// that the index follows the rows on the other core while they are written, rather than
    /// catching up with all of them at the end.
    pub fn start_indexer(app: Arc<App>, signals: WriteSignals) -> Followers {
        let (stop, _) = watch::channel(false);
        let (indexed, _) = watch::channel(app.search().current().last_seq());
        let tasks = vec![tokio::spawn(indexer(app, signals.wake, indexed, stop.subscribe()))];
        Followers { stop, tasks }
    }

    /// Stops them all, letting a pass in progress finish (a delivery in flight is recorded).
    pub async fn close(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Whether the followers were told to stop, after waiting for it or for `wait`.
async fn stopped_after(stop: &mut watch::Receiver<bool>, wait: impl std::future::Future<Output = ()>) -> bool {
    tokio::select! {
        _ = wait => {}
        _ = stop.changed() => return true,
    }
    *stop.borrow()
}

/// Runs `work` now and then every `interval` until the followers stop.
async fn every<F, Fut>(mut stop: watch::Receiver<bool>, interval: Duration, work: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    loop {
        work().await;
        if stopped_after(&mut stop, tokio::time::sleep(interval)).await {
            break;
        }
    }
}

/// The indexer: applies the feed to the index on a local write (after a short delay, to batch
/// writes) or every poll interval, and tells the suggester the position it committed.
/// Changes after whose indexing or matching the allocator's free memory is given back to the
/// system (`memory::release_free_memory`): an import of 100,000 rows leaves hundreds of MB free
/// in glibc's arenas once the followers have worked through it, which it would otherwise keep.
const LARGE_PASS: usize = 1_000;

async fn indexer(app: Arc<App>, wake: Arc<Notify>, indexed: watch::Sender<i64>, mut stop: watch::Receiver<bool>) {
    let settings = app.search().settings().clone();
    // Writes through other instances on the same PostgreSQL, heard as they commit.
    let mut others = match app.store().listen_changes().await {
        Ok(signal) => signal,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for other instances' writes; polling only");
            None
        }
    };
    loop {
        match indexing::catch_up(app.store().as_ref(), app.search()).await {
            Ok((applied, seq)) => {
                if applied >= LARGE_PASS {
                    crate::memory::release_free_memory();
                }
                indexed.send_if_modified(|known| {
                    let newer = seq > *known;
                    if newer {
                        *known = seq;
                    }
                    newer
                });
            }
            Err(error) => tracing::warn!(%error, "indexing from the change log failed; retrying"),
        }
        let wait = async {
            tokio::select! {
                _ = wake.notified() => tokio::time::sleep(settings.commit_delay).await,
                _ = heard(&mut others) => tokio::time::sleep(settings.commit_delay).await,
                _ = tokio::time::sleep(settings.poll_interval) => {}
            }
        };
        if stopped_after(&mut stop, wait).await {
            break;
        }
    }
}

/// Returns when the feed's signal (if any) tells of a commit; never without one. A failing
/// signal (the database away) is tried again after a second, the poll covering the gap.
async fn heard(signal: &mut Option<Box<dyn ChangeSignal>>) {
    match signal {
        Some(signal) => {
            if let Err(error) = signal.next().await {
                tracing::warn!(%error, "listening for other instances' writes failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        None => std::future::pending().await,
    }
}

/// The suggester: matches every record written up to the indexed position, and refills the
/// queues of rejected pairs.
async fn suggester(
    app: Arc<App>,
    mut indexed: watch::Receiver<i64>,
    mut refill: tokio::sync::mpsc::Receiver<(Library, String)>,
    mut stop: watch::Receiver<bool>,
) {
    let poll: Duration = app.matching.poll_interval;
    let mut checkpoint = 0;
    loop {
        let upto = *indexed.borrow_and_update();
        let stopping = || *stop.borrow();
        match matches::run_pending(&app, upto, stopping).await {
            Ok(pass) => {
                if pass.checkpoint - checkpoint >= LARGE_PASS as i64 {
                    crate::memory::release_free_memory();
                }
                checkpoint = pass.checkpoint;
            }
            Err(error) => tracing::warn!(%error, "background matching failed; retrying"),
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
}

/// The notifier: fans out and delivers when a unit of work wrote events, when a delivery falls
/// due, or every poll interval. A pass in flight finishes (and records its attempts) before
/// the notifier stops.
async fn notifier(app: Arc<App>, events: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    let poll = Duration::from_millis(app.notifications.poll_interval_ms.max(10));
    loop {
        let mut wait = poll;
        match notify_pass(&app).await {
            Ok(Some(next)) => wait = wait.min(next),
            Ok(None) => {}
            Err(error) if error.is_closed() => break,
            Err(error) => tracing::warn!(%error, "delivering notifications failed; retrying"),
        }
        let wake = async {
            tokio::select! {
                _ = events.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        };
        if stopped_after(&mut stop, wake).await {
            break;
        }
    }
}
