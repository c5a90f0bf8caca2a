//! What needs and achievements share: bookkeeping fields, the status life cycle, and the access
//! rules of DOMAIN.md (who may see, edit and read the contact of a record).

use chrono::{DateTime, Utc};

use super::vocab::{RecordStatus, Role, Visibility};

/// The signed-in user a request acts for.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub user_id: String,
    pub user_name: String,
    pub org_id: String,
    pub role: Role,
    /// What the user signed in with.
    pub credential: Credential,
    /// An admin reset the password: nothing but changing it (and signing out) is allowed.
    pub must_change_password: bool,
    /// The user's organisation applied to join and is not approved (pending or rejected): it
    /// sees nothing beyond its own records, which stay private drafts, and is matched with
    /// nothing.
    pub org_pending: bool,
    /// Where the request came from, for the record of who did what.
    pub origin: Origin,
}

/// What a principal signed in with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Credential {
    /// The command line, acting as a named user.
    #[default]
    None,
    /// An API token (for integrations).
    Token { id: String, prefix: String },
    /// A session opened with a login and a password; `cookie` when the browser's cookie
    /// carried it (its writes need the CSRF token).
    Session { id: String, prefix: String, cookie: bool },
}

impl Credential {
    /// The credential's prefix, as the audit log names it (empty for none).
    pub fn prefix(&self) -> &str {
        match self {
            Credential::None => "",
            Credential::Token { prefix, .. } | Credential::Session { prefix, .. } => prefix,
        }
    }
}

/// Where an action came from: the request id and client address of an HTTP request; empty for
/// the command line and the background followers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub request_id: Option<String>,
    pub client: Option<String>,
    /// What was asked: the method and route (`POST /api/v1/needs/{id}/close`).
    pub operation: Option<String>,
}

/// How search results are ordered: by relevance, or newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    #[default]
    Relevance,
    Newest,
}

/// Which library a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Library {
    Needs,
    Achievements,
}

impl Library {
    /// The role whose organisations own records of this library.
    pub fn owner_role(self) -> Role {
        match self {
            Library::Needs => Role::Enterprise,
            Library::Achievements => Role::University,
        }
    }

    /// The singular noun, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Library::Needs => "need",
            Library::Achievements => "achievement",
        }
    }

    /// The path segment of the library's routes.
    pub fn route(self) -> &'static str {
        match self {
            Library::Needs => "needs",
            Library::Achievements => "achievements",
        }
    }

    /// Who owns records of this library, for messages.
    pub fn owner_description(self) -> &'static str {
        match self {
            Library::Needs => "enterprise",
            Library::Achievements => "university or institute",
        }
    }
}

/// Bookkeeping fields of every need and achievement; set by the service, never by clients.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordMeta {
    pub id: String,
    pub org_id: String,
    pub org_name: String,
    pub status: RecordStatus,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    /// When the owner last confirmed the record is current (created, renewed): its validity
    /// runs from here (`expires_at`).
    pub confirmed_at: DateTime<Utc>,
    /// When its owner was reminded that it is about to expire (none since the last renewal).
    pub reminded_at: Option<DateTime<Utc>>,
}

impl RecordMeta {
    pub fn new(id: String, org_id: String, org_name: String, created_by: String, now: DateTime<Utc>) -> Self {
        RecordMeta {
            id,
            org_id,
            org_name,
            status: RecordStatus::Open,
            created_by,
            created_at: now,
            updated_at: now,
            version: 1,
            confirmed_at: now,
            reminded_at: None,
        }
    }
}

/// May this user see a record with this owner, visibility and status?
///
/// Owners always see their own records. Staff (managers, admins) see everything not private to
/// another organisation. Everyone else sees public records that have not been withdrawn.
pub fn can_view(viewer: &Principal, owner_org: &str, visibility: Visibility, status: RecordStatus) -> bool {
    if viewer.org_pending {
        return viewer.org_id == owner_org;
    }
    if viewer.org_id == owner_org {
        return true;
    }
    if viewer.role.is_staff() {
        return visibility != Visibility::Private;
    }
    visibility == Visibility::Public && status != RecordStatus::Withdrawn
}

/// Is this record hidden from `viewer` because its owner made it private? A private record is its
/// owner's alone: managers and the other party of a docking that began before it was made private
/// see only its id and that it is private (no title, description or contact).
pub fn private_to_others(viewer: &Principal, owner_org: &str, visibility: Visibility) -> bool {
    visibility == Visibility::Private && viewer.org_id != owner_org
}

/// May this user change a record of this library owned by `owner_org`? Staff act on behalf of
/// organisations (e.g. needs collected on survey visits); owners edit their own.
pub fn can_edit(viewer: &Principal, library: Library, owner_org: &str) -> bool {
    viewer.role.is_staff() || (viewer.role == library.owner_role() && viewer.org_id == owner_org)
}

/// May this user read the contact fields? Managers and the owner; the other party of an
/// introduced docking joins them once dockings exist.
pub fn can_read_contact(viewer: &Principal, owner_org: &str) -> bool {
    viewer.role.is_staff() || viewer.org_id == owner_org
}

/// The status changes a client may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusAction {
    Close,
    Withdraw,
    Reopen,
}

impl StatusAction {
    pub fn name(self) -> &'static str {
        match self {
            StatusAction::Close => "close",
            StatusAction::Withdraw => "withdraw",
            StatusAction::Reopen => "reopen",
        }
    }

    /// The status this action leads to from `from`, or the actions allowed from `from`.
    pub fn apply(self, from: RecordStatus) -> Result<RecordStatus, Vec<&'static str>> {
        use RecordStatus::*;
        match (from, self) {
            (Open, StatusAction::Close) => Ok(Closed),
            (Open, StatusAction::Withdraw) | (Closed, StatusAction::Withdraw) => Ok(Withdrawn),
            (Closed, StatusAction::Reopen) => Ok(Open),
            (Expired, StatusAction::Withdraw) => Ok(Withdrawn),
            _ => Err(Self::allowed_from(from)),
        }
    }

    pub fn allowed_from(from: RecordStatus) -> Vec<&'static str> {
        match from {
            RecordStatus::Open => vec!["close", "withdraw"],
            RecordStatus::Closed => vec!["reopen", "withdraw"],
            RecordStatus::Withdrawn => vec![],
            // Renewing (its own operation) opens it again.
            RecordStatus::Expired => vec!["withdraw"],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role, org: &str) -> Principal {
        Principal {
            user_id: "u".into(),
            user_name: "张三".into(),
            org_id: org.into(),
            role,
            credential: Credential::None,
            must_change_password: false,
            org_pending: false,
            origin: Default::default(),
        }
    }

    #[test]
    fn visibility_rules_follow_the_domain() {
        let other = user(Role::Enterprise, "e2");
        let manager = user(Role::Manager, "op");
        assert!(can_view(&other, "e1", Visibility::Public, RecordStatus::Open));
        assert!(!can_view(&other, "e1", Visibility::Managers, RecordStatus::Open));
        assert!(!can_view(&other, "e1", Visibility::Public, RecordStatus::Withdrawn));
        assert!(can_view(&manager, "e1", Visibility::Managers, RecordStatus::Open));
        assert!(!can_view(&manager, "e1", Visibility::Private, RecordStatus::Open));
        assert!(can_view(&user(Role::Enterprise, "e1"), "e1", Visibility::Private, RecordStatus::Withdrawn));
    }

    #[test]
    fn withdrawn_is_final() {
        assert_eq!(StatusAction::Close.apply(RecordStatus::Open), Ok(RecordStatus::Closed));
        assert_eq!(StatusAction::Reopen.apply(RecordStatus::Closed), Ok(RecordStatus::Open));
        assert_eq!(StatusAction::Reopen.apply(RecordStatus::Withdrawn), Err(vec![]));
        assert_eq!(StatusAction::Reopen.apply(RecordStatus::Open), Err(vec!["close", "withdraw"]));
    }
}
