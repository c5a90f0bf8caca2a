//! The write notifier: how a committed unit of work tells the background followers, without
//! knowing them. A commit wakes the indexer (which then tells the suggester the change-log
//! position it has committed); a rejected suggestion asks the suggester to refill both sides'
//! queues. With no followers listening (a command-line run), the signals go nowhere: the change
//! log and `techmarket match --all` catch up later.

use std::sync::Arc;

use tokio::sync::{Notify, mpsc};

use crate::domain::record::Library;

/// Refill requests waiting for the suggester at most; past this the request is dropped (logged)
/// and the next `match --all`, or the next write of the record, makes up for it.
const REFILL_QUEUE: usize = 4096;

/// The sending side, held by the application context.
#[derive(Clone)]
pub struct Writes {
    wake: Arc<Notify>,
    events: Arc<Notify>,
    refill: mpsc::Sender<(Library, String)>,
}

/// The receiving side, handed to the followers.
pub struct WriteSignals {
    pub wake: Arc<Notify>,
    /// A unit of work wrote events: the notifier has work.
    pub events: Arc<Notify>,
    pub refill: mpsc::Receiver<(Library, String)>,
}

impl Writes {
    pub fn channel() -> (Writes, WriteSignals) {
        let wake = Arc::new(Notify::new());
        let events = Arc::new(Notify::new());
        let (tx, rx) = mpsc::channel(REFILL_QUEUE);
        (Writes { wake: wake.clone(), events: events.clone(), refill: tx }, WriteSignals { wake, events, refill: rx })
    }

    /// A unit of work committed (its changes are in the feed). Only `UnitOfWork::commit` calls it.
    pub(super) fn committed(&self) {
        self.wake.notify_one();
    }

    /// A unit of work committed events (the outbox has more to deliver).
    pub(super) fn notified(&self) {
        self.events.notify_one();
    }

    /// A record's suggestion was rejected: its queue has room for its next candidate.
    pub fn refill(&self, library: Library, id: &str) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.refill.try_send((library, id.to_string())) {
            tracing::warn!(library = library.route(), %id, "the refill queue is full; `techmarket match --all` catches up");
        }
    }
}
