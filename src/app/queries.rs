//! The queries a way in builds: what a caller asks for, never who asks. The HTTP handlers and
//! the command line fill these from their parameters; the application layer adds the viewer
//! when it runs them (visibility, a party's own dockings and transfers, `me`), so no way in can
//! forget it or fill it wrongly.

use chrono::{DateTime, Utc};

use crate::domain::docking::DockingState;
use crate::domain::record::{Library, Principal, SortOrder};
use crate::domain::stats::StatsFilter;
use crate::domain::vocab::{CooperationMode, NeedType, RecordStatus, TechField};
use crate::search::index::SearchRequest;
use crate::storage::{DockingQuery, ListQuery, TransferQuery};

/// Filters and page of a needs or achievements listing.
#[derive(Debug, Clone, Default)]
pub struct RecordQuery {
    pub field: Option<TechField>,
    pub region_prefix: Option<String>,
    pub status: Option<RecordStatus>,
    pub org_id: Option<String>,
    pub updated_since: Option<DateTime<Utc>>,
    /// Needs only.
    pub need_type: Option<NeedType>,
    /// Achievements only.
    pub trl_min: Option<u8>,
    /// Records with ids below this one (ids sort by creation time).
    pub cursor: Option<String>,
    pub limit: u32,
}

impl RecordQuery {
    /// The store's query, limited to what `who` may see.
    pub(crate) fn seen_by(&self, who: &Principal) -> ListQuery {
        ListQuery {
            viewer_org: who.org_id.clone(),
            viewer_is_staff: who.role.is_staff(),
            field: self.field,
            region_prefix: self.region_prefix.clone(),
            status: self.status,
            // An organisation not yet approved sees its own records only.
            org_id: if who.org_pending { Some(who.org_id.clone()) } else { self.org_id.clone() },
            updated_since: self.updated_since,
            need_type: self.need_type,
            trl_min: self.trl_min,
            cursor: self.cursor.clone(),
            limit: self.limit,
        }
    }
}

/// Whose dockings or transfers a manager asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manager {
    /// The viewer's own.
    Me,
    /// A manager's, by user id.
    User(String),
}

impl Manager {
    fn user_id(&self, who: &Principal) -> String {
        match self {
            Manager::Me => who.user_id.clone(),
            Manager::User(id) => id.clone(),
        }
    }
}

/// Filters and page of a docking listing.
#[derive(Debug, Clone, Default)]
pub struct DockingFilter {
    pub states: Vec<DockingState>,
    pub need_id: Option<String>,
    pub achievement_id: Option<String>,
    /// Either side's organisation.
    pub org_id: Option<String>,
    pub manager: Option<Manager>,
    pub field: Option<TechField>,
    pub region_prefix: Option<String>,
    /// Best score first instead of the most recently changed first.
    pub by_score: bool,
    pub offset: u32,
    pub limit: u32,
}

impl DockingFilter {
    /// The store's query for `who`: a party sees only its own dockings, from acceptance on.
    pub(crate) fn seen_by(&self, who: &Principal) -> DockingQuery {
        DockingQuery {
            states: self.states.clone(),
            need_id: self.need_id.clone(),
            achievement_id: self.achievement_id.clone(),
            org_id: self.org_id.clone(),
            manager_id: self.manager.as_ref().map(|m| m.user_id(who)),
            field: self.field,
            region_prefix: self.region_prefix.clone(),
            party_org: (!who.role.is_staff()).then(|| who.org_id.clone()),
            by_score: self.by_score,
            open_records_only: false,
            offset: self.offset,
            limit: self.limit,
        }
    }
}

/// Filters and page of a transfer listing.
#[derive(Debug, Clone, Default)]
pub struct TransferFilter {
    /// Either side's organisation.
    pub org_id: Option<String>,
    pub manager: Option<Manager>,
    pub docking_id: Option<String>,
    pub period: StatsFilter,
    pub offset: u32,
    pub limit: u32,
}

impl TransferFilter {
    /// The store's query for `who`: a party sees only the transfers it is a side of.
    pub(crate) fn seen_by(&self, who: &Principal) -> TransferQuery {
        TransferQuery {
            party_org: (!who.role.is_staff()).then(|| who.org_id.clone()),
            org_id: self.org_id.clone(),
            manager_id: self.manager.as_ref().map(|m| m.user_id(who)),
            docking_id: self.docking_id.clone(),
            filter: self.period.clone(),
            offset: self.offset,
            limit: self.limit,
        }
    }
}

/// A search: its text, filters, order and page.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub text: String,
    pub library: Option<Library>,
    pub field: Option<TechField>,
    pub region_prefix: Option<String>,
    pub trl_min: Option<u8>,
    pub trl_max: Option<u8>,
    pub cooperation: Option<CooperationMode>,
    pub status: Option<RecordStatus>,
    pub sort: SortOrder,
    pub offset: usize,
    pub limit: usize,
}

impl SearchQuery {
    /// The index's request, limited to what `who` may see.
    pub(crate) fn seen_by(&self, who: &Principal) -> SearchRequest {
        SearchRequest {
            text: self.text.clone(),
            library: self.library,
            viewer_org: who.org_id.clone(),
            viewer_is_staff: who.role.is_staff(),
            own_only: who.org_pending,
            field: self.field,
            region_prefix: self.region_prefix.clone(),
            trl_min: self.trl_min,
            trl_max: self.trl_max,
            cooperation: self.cooperation,
            status: self.status,
            sort: self.sort,
            offset: self.offset,
            limit: self.limit,
        }
    }
}
