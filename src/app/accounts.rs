//! Organisations, users and tokens, and who a token acts for: the operations the API and the
//! command line share. Administrators keep organisations, users and tokens; staff read the
//! organisations; a user reads and revokes its own tokens.

use chrono::{DateTime, Utc};

use super::views::{CreatedTokenResponse, MeResponse, OrganisationResponse, PageResponse, TokenResponse, UserResponse};
use super::{Actor, App, Code, Error, Result};
use crate::domain::new_id;
use crate::domain::org::{ApiToken, NewOrganisation, NewUser, Organisation, TokenInput, TokenSecret, User, hash_token};
use crate::domain::record::{Credential, Principal};
use crate::domain::validate::ValidationErrors;
use crate::domain::vocab::{OrgKind, OrgStatus, Role};
use crate::storage::StoreError;

pub async fn create_organisation(
    cx: &App,
    actor: impl Into<Actor>,
    new: NewOrganisation,
) -> Result<Organisation, StoreError> {
    let mut unit = cx.begin(actor).await?;
    let org = Organisation::registered(new, unit.at());
    unit.insert_organisation(&org).await?;
    unit.commit().await?;
    tracing::info!(org_id = %org.id, kind = %org.kind, "organisation created");
    Ok(org)
}

/// Creates a user after checking the organisation exists and suits the role.
pub async fn create_user(cx: &App, actor: impl Into<Actor>, new: NewUser) -> Result<User> {
    let org = match crate::domain::is_valid_id(&new.org_id) {
        true => cx.store.get_organisation(&new.org_id).await?,
        false => None,
    };
    let Some(org) = org else {
        let mut e = ValidationErrors::default();
        e.add(
            "org_id",
            "unknown_organisation",
            format!("没有编号为 `{}` 的机构", new.org_id),
            format!("no organisation with id `{}`", new.org_id),
        );
        return Err(e.into());
    };
    new.check_org_kind(org.kind)?;
    let mut unit = cx.begin(actor).await?;
    let user = User {
        id: new_id(),
        org_id: new.org_id,
        name: new.name,
        role: new.role,
        email: new.email,
        phone: new.phone,
        created_at: unit.at(),
    };
    unit.insert_user(&user).await?;
    unit.commit().await?;
    tracing::info!(user_id = %user.id, role = %user.role, "user created");
    Ok(user)
}

/// Issues a token for `user`; returns the secret (shown once) and the stored metadata. Without
/// `expires_at` it ends after the configured `accounts.token_days`: no token lasts for ever.
pub async fn issue_token(
    cx: &App,
    actor: impl Into<Actor>,
    user: &User,
    name: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(String, ApiToken), StoreError> {
    let secret = TokenSecret::generate();
    let mut unit = cx.begin(actor).await?;
    let expires_at = Some(expires_at.unwrap_or_else(|| unit.at() + chrono::Duration::days(cx.accounts.token_days)));
    let token = ApiToken {
        id: new_id(),
        user_id: user.id.clone(),
        name: name.to_string(),
        prefix: secret.prefix.clone(),
        created_at: unit.at(),
        expires_at,
        revoked_at: None,
        last_used_at: None,
    };
    unit.insert_token(&token, &secret.hash).await?;
    unit.commit().await?;
    tracing::info!(token_id = %token.id, user_id = %user.id, "token issued");
    Ok((secret.secret, token))
}

/// Issues a token for the user `user_id` from the command line, valid for `days` days from the
/// context clock's now (or the configured default); the user and the secret (shown once).
pub async fn issue_token_for(
    cx: &App,
    actor: Actor,
    user_id: &str,
    name: &str,
    days: Option<u32>,
) -> Result<(User, String)> {
    let user = cx.store.get_user(user_id).await?.ok_or_else(|| Error::not_found("user", user_id))?;
    let expires_at = days.map(|d| cx.clock.now() + chrono::Duration::days(i64::from(d)));
    let (secret, _) = issue_token(cx, actor, &user, name, expires_at).await?;
    Ok((user, secret))
}

/// Creates, in one unit of work, the organisations of `wanted` whose names are not registered yet
/// (a generated data set loaded again adds only what is new); how many it created.
pub async fn ensure_organisations(cx: &App, who: &Principal, wanted: Vec<NewOrganisation>) -> Result<usize> {
    let known: std::collections::HashSet<String> =
        cx.store.list_organisations().await?.into_iter().map(|o| o.name).collect();
    let mut seen = std::collections::HashSet::new();
    let mut unit = cx.begin(who).await?;
    let mut created = 0;
    for new in wanted.into_iter().filter(|n| !known.contains(&n.name) && seen.insert(n.name.clone())) {
        let at = unit.at();
        unit.insert_organisation(&Organisation::registered(new, at)).await?;
        created += 1;
    }
    unit.commit().await?;
    Ok(created)
}

/// Whether anyone can sign in yet (a fresh install has no user until the first admin's token).
pub async fn has_users(cx: &App) -> Result<bool> {
    Ok(!cx.store.list_users(None).await?.is_empty())
}

/// The user a command of the command line acts as: `as_user` (a user id), or the operator's
/// admin.
pub async fn acting_user(cx: &App, as_user: Option<&str>) -> Result<Principal> {
    let first_run = |english: &str, chinese: &str| {
        Error::new(Code::NotFound, format!("{english}: run `techmarket admin create-token` once, or pass --as USER_ID"))
            .zh(format!("还没有{chinese}：先运行一次 `techmarket admin create-token`，或用 --as 指定用户编号"))
    };
    let user = match as_user {
        Some(id) => cx.store.get_user(id).await?.ok_or_else(|| Error::not_found("user", id))?,
        None => match operator_admin(cx).await? {
            None => return Err(first_run("no operator organisation yet", "运营机构")),
            Some((_, None)) => return Err(first_run("no admin user yet", "管理员")),
            Some((_, Some(admin))) => admin,
        },
    };
    Ok(Principal {
        user_id: user.id.clone(),
        user_name: user.name.clone(),
        org_id: user.org_id.clone(),
        role: user.role,
        credential: Credential::None,
        must_change_password: false,
        org_pending: !org_approved(cx, &user.org_id).await?,
        origin: Default::default(),
    })
}

/// Whether an organisation is approved (one an admin created, or whose application a manager
/// approved).
pub async fn org_approved(cx: &App, org_id: &str) -> Result<bool> {
    Ok(cx.store.get_organisation(org_id).await?.is_some_and(|o| o.status == OrgStatus::Approved))
}

/// The operator organisation, if there is one yet, and its admin user, if it has one.
async fn operator_admin(cx: &App) -> Result<Option<(Organisation, Option<User>)>> {
    let Some(operator) = cx.store.find_organisation_by_name(OPERATOR_NAME).await? else { return Ok(None) };
    let users = cx.store.list_users(Some(&operator.id)).await?;
    let admin = users.into_iter().find(|u| u.role == Role::Admin);
    Ok(Some((operator, admin)))
}

/// Whether a fresh install has its operator's admin (`bootstrap_admin` creates it).
pub async fn has_operator_admin(cx: &App) -> Result<bool> {
    Ok(matches!(operator_admin(cx).await?, Some((_, Some(_)))))
}

/// The actor of what the operator does on the command line without naming a user.
pub const COMMAND_LINE: &str = "command line";

/// The operator organisation and admin user a fresh install starts with.
pub const OPERATOR_NAME: &str = "东营市科技大市场运营中心";
pub const ADMIN_NAME: &str = "系统管理员";
const OPERATOR_REGION: &str = "370500";

/// Makes sure the operator organisation and an admin user exist, and issues the admin a token
/// (valid for the configured `accounts.token_days`). Used by `techmarket admin create-token` on a
/// fresh install.
pub async fn bootstrap_admin(cx: &App, token_name: &str, days: Option<u32>) -> Result<(User, String)> {
    let (admin, _) = bootstrap_admin_user(cx).await?;
    let expires_at = days.map(|d| cx.clock.now() + chrono::Duration::days(i64::from(d)));
    let (secret, _) = issue_token(cx, Actor::System(COMMAND_LINE), &admin, token_name, expires_at).await?;
    Ok((admin, secret))
}

/// The operator organisation's admin, with the organisation and the user created if the
/// install has none yet; whether it was created.
pub async fn bootstrap_admin_user(cx: &App) -> Result<(User, bool)> {
    let actor = Actor::System(COMMAND_LINE);
    let (org, existing) = match operator_admin(cx).await? {
        Some(found) => found,
        None => {
            let new =
                NewOrganisation { name: OPERATOR_NAME.into(), kind: OrgKind::Operator, region: OPERATOR_REGION.into() };
            (create_organisation(cx, actor.clone(), new).await?, None)
        }
    };
    if let Some(user) = existing {
        return Ok((user, false));
    }
    let new = NewUser {
        org_id: org.id.clone(),
        name: ADMIN_NAME.into(),
        role: Role::Admin,
        email: String::new(),
        phone: String::new(),
    };
    Ok((create_user(cx, actor, new).await?, true))
}

// ---- the operations of the API -------------------------------------------------------------

/// `last_used_at` is refreshed at most this often, so reads do not turn into writes.
const TOUCH_INTERVAL_SECS: i64 = 60;

fn unauthenticated(message: &str) -> Error {
    Error::new(Code::Unauthenticated, message)
}

/// The user a bearer token's secret acts for, if the token is valid, unrevoked and unexpired.
/// Its use is recorded (at most once a minute) before the answer.
pub async fn authenticate(cx: &App, secret: &str) -> Result<Principal> {
    let found = cx.store.find_token_by_hash(&hash_token(secret)).await?;
    let Some(token) = found else {
        return Err(unauthenticated(
            "the API token is not valid; check it was copied whole, or ask an admin for a new one",
        ));
    };
    let now = cx.clock.now();
    if token.revoked_at.is_some() {
        return Err(Error::new(Code::TokenRevoked, "this API token was revoked; ask an admin for a new one"));
    }
    if token.expires_at.is_some_and(|at| at <= now) {
        return Err(Error::new(Code::TokenExpired, "this API token has expired; ask an admin for a new one"));
    }
    if token.last_used_at.is_none_or(|at| (now - at).num_seconds() >= TOUCH_INTERVAL_SECS)
        && let Err(error) = touch(cx, &token.token_id, now).await
    {
        // Recording the use is bookkeeping: a failure is logged, the request goes on.
        tracing::warn!(%error, token_id = %token.token_id, "could not record token use");
    }
    Ok(Principal {
        user_id: token.user_id,
        user_name: token.user_name,
        org_id: token.org_id,
        role: token.role,
        credential: Credential::Token { id: token.token_id, prefix: token.prefix },
        must_change_password: false,
        org_pending: !token.org_approved,
        origin: Default::default(),
    })
}

/// Records a token's use in a unit of work of the service's own.
async fn touch(cx: &App, token_id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
    let mut unit = cx.begin(Actor::System("authentication")).await?;
    unit.touch_token(token_id, at).await?;
    unit.commit().await
}

fn admin_only(who: &Principal) -> Result<()> {
    if who.role == Role::Admin {
        Ok(())
    } else {
        Err(Error::forbidden(format!("this is for administrators; you are signed in as `{}`", who.role)))
    }
}

/// Creates an organisation (administrators); its name is unique.
pub async fn add_organisation(cx: &App, who: &Principal, new: NewOrganisation) -> Result<OrganisationResponse> {
    admin_only(who)?;
    let name = new.name.clone();
    let org = create_organisation(cx, who, new).await.map_err(|e| match e {
        StoreError::UniqueViolation { .. } => {
            Error::new(Code::AlreadyExists, format!("an organisation named `{name}` already exists"))
        }
        other => other.into(),
    })?;
    Ok(OrganisationResponse::from(&org))
}

/// Every organisation (staff).
pub async fn organisations(cx: &App, who: &Principal) -> Result<Vec<OrganisationResponse>> {
    if !who.role.is_staff() {
        return Err(Error::forbidden("the list of organisations is for technology managers"));
    }
    Ok(cx.store.list_organisations().await?.iter().map(OrganisationResponse::from).collect())
}

/// One organisation (anyone signed in; one whose application is not approved reads its own only).
pub async fn organisation(cx: &App, who: &Principal, id: &str) -> Result<OrganisationResponse> {
    if who.org_pending && who.org_id != id {
        return Err(Error::not_found("organisation", id));
    }
    let org = cx.store.get_organisation(id).await?.ok_or_else(|| Error::not_found("organisation", id))?;
    Ok(OrganisationResponse::from(&org))
}

/// Creates a user in an organisation its role suits (administrators).
pub async fn add_user(cx: &App, who: &Principal, new: NewUser) -> Result<UserResponse> {
    admin_only(who)?;
    Ok(UserResponse::from(&create_user(cx, who, new).await?))
}

/// Which users to list, and which page.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    pub org_id: Option<String>,
    pub role: Option<Role>,
    /// 1 to 100.
    pub limit: usize,
    /// The last id of the previous page.
    pub after: Option<String>,
}

/// The users, of one organisation or all, by id, a page at a time. Administrators list anyone;
/// technology managers list the managers (whom they may assign dockings to), and only them.
pub async fn users(cx: &App, who: &Principal, query: UserQuery) -> Result<PageResponse<UserResponse>> {
    match who.role {
        Role::Admin => {}
        Role::Manager if query.role == Some(Role::Manager) => {}
        Role::Manager => {
            return Err(Error::forbidden("technology managers list the managers only: add `role=manager`")
                .zh("技术经理人只能列出技术经理人：请加上 `role=manager`"));
        }
        _ => return Err(Error::forbidden("users are listed by administrators").zh("只有管理员可以列出用户")),
    }
    let mut users: Vec<_> = cx
        .store
        .list_users(query.org_id.as_deref())
        .await?
        .into_iter()
        .filter(|u| query.role.is_none_or(|r| u.role == r))
        .filter(|u| query.after.as_deref().is_none_or(|after| u.id.as_str() > after))
        .collect();
    users.sort_by(|a, b| a.id.cmp(&b.id));
    let more = users.len() > query.limit;
    users.truncate(query.limit);
    let next_cursor = if more { users.last().map(|u| u.id.clone()) } else { None };
    Ok(PageResponse { items: users.iter().map(UserResponse::from).collect(), next_cursor })
}

/// Issues a token for a user (administrators): the secret is in the answer, once.
pub async fn add_token(cx: &App, who: &Principal, user_id: &str, input: TokenInput) -> Result<CreatedTokenResponse> {
    admin_only(who)?;
    let mut errors = ValidationErrors::default();
    let name = crate::domain::validate::optional_text(&mut errors, "name", input.name.as_deref(), 100);
    if let Some(at) = input.expires_at
        && at <= cx.clock.now()
    {
        errors.add(
            "expires_at",
            "in_past",
            format!("「过期时间」{at} 已经过去"),
            format!("`expires_at` {at} is in the past"),
        );
    }
    errors.finish(|| ())?;
    let user = cx.store.get_user(user_id).await?.ok_or_else(|| Error::not_found("user", user_id))?;
    let (secret, token) = issue_token(cx, who, &user, &name, input.expires_at).await?;
    Ok(CreatedTokenResponse { token: secret, info: TokenResponse::from(&token) })
}

/// A user's tokens (administrators, and the user itself).
pub async fn tokens(cx: &App, who: &Principal, user_id: &str) -> Result<Vec<TokenResponse>> {
    if who.role != Role::Admin && who.user_id != user_id {
        return Err(Error::not_found("user", user_id));
    }
    Ok(cx.store.list_tokens(user_id).await?.iter().map(TokenResponse::from).collect())
}

/// Revokes a token (administrators, and the token's user).
pub async fn revoke(cx: &App, who: &Principal, token_id: &str) -> Result<()> {
    let token = cx.store.get_token(token_id).await?.ok_or_else(|| Error::not_found("token", token_id))?;
    if who.role != Role::Admin && token.user_id != who.user_id {
        return Err(Error::not_found("token", token_id));
    }
    let mut unit = cx.begin(who).await?;
    let at = unit.at();
    if !unit.revoke_token(token_id, at).await? {
        return Err(Error::new(Code::AlreadyRevoked, format!("token `{token_id}` was already revoked")));
    }
    unit.commit().await?;
    tracing::info!(token_id = %token_id, by = %who.user_id, "token revoked");
    Ok(())
}

/// The signed-in user and its organisation.
pub async fn me(cx: &App, who: &Principal) -> Result<MeResponse> {
    let org = cx.store.get_organisation(&who.org_id).await?.ok_or_else(Error::internal)?;
    Ok(MeResponse {
        user_id: who.user_id.clone(),
        name: who.user_name.clone(),
        role: who.role,
        role_label: who.role.label(),
        organisation: OrganisationResponse::from(&org),
    })
}
