//! Organisations, users and tokens: the operations the API and the command line share.

use chrono::{DateTime, Utc};

use crate::domain::org::{ApiToken, NewOrganisation, NewUser, Organisation, TokenSecret, User};
use crate::domain::validate::ValidationErrors;
use crate::domain::vocab::{OrgKind, Role};
use crate::domain::{new_id, now};
use crate::storage::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AccountError> for crate::http::error::ApiError {
    fn from(err: AccountError) -> Self {
        match err {
            AccountError::Invalid(e) => e.into(),
            AccountError::Store(e) => e.into(),
        }
    }
}

pub async fn create_organisation(store: &dyn Store, new: NewOrganisation) -> Result<Organisation, StoreError> {
    let org = Organisation { id: new_id(), name: new.name, kind: new.kind, region: new.region, created_at: now() };
    store.insert_organisation(&org).await?;
    tracing::info!(org_id = %org.id, kind = %org.kind, "organisation created");
    Ok(org)
}

/// Creates a user after checking the organisation exists and suits the role.
pub async fn create_user(store: &dyn Store, new: NewUser) -> Result<User, AccountError> {
    let org = match crate::domain::is_valid_id(&new.org_id) {
        true => store.get_organisation(&new.org_id).await?,
        false => None,
    };
    let Some(org) = org else {
        let mut e = ValidationErrors::default();
        e.add("org_id", "unknown_organisation", format!("no organisation with id `{}`", new.org_id));
        return Err(e.into());
    };
    new.check_org_kind(org.kind)?;
    let user = User {
        id: new_id(),
        org_id: new.org_id,
        name: new.name,
        role: new.role,
        email: new.email,
        phone: new.phone,
        created_at: now(),
    };
    store.insert_user(&user).await?;
    tracing::info!(user_id = %user.id, role = %user.role, "user created");
    Ok(user)
}

/// Issues a token for `user`; returns the secret (shown once) and the stored metadata.
pub async fn issue_token(
    store: &dyn Store,
    user: &User,
    name: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(String, ApiToken), StoreError> {
    let secret = TokenSecret::generate();
    let token = ApiToken {
        id: new_id(),
        user_id: user.id.clone(),
        name: name.to_string(),
        prefix: secret.prefix.clone(),
        created_at: now(),
        expires_at,
        revoked_at: None,
        last_used_at: None,
    };
    store.insert_token(&token, &secret.hash).await?;
    tracing::info!(token_id = %token.id, user_id = %user.id, "token issued");
    Ok((secret.secret, token))
}

/// The operator organisation and admin user a fresh install starts with.
pub const OPERATOR_NAME: &str = "东营市科技大市场运营中心";
pub const ADMIN_NAME: &str = "系统管理员";
const OPERATOR_REGION: &str = "370500";

/// Makes sure the operator organisation and an admin user exist, and issues the admin a token.
/// Used by `techmarket admin create-token` on a fresh install.
pub async fn bootstrap_admin(store: &dyn Store, token_name: &str) -> Result<(User, String), AccountError> {
    let org = match store.find_organisation_by_name(OPERATOR_NAME).await? {
        Some(org) => org,
        None => {
            create_organisation(
                store,
                NewOrganisation { name: OPERATOR_NAME.into(), kind: OrgKind::Operator, region: OPERATOR_REGION.into() },
            )
            .await?
        }
    };
    let existing = store.list_users(Some(&org.id)).await?.into_iter().find(|u| u.role == Role::Admin);
    let admin = match existing {
        Some(user) => user,
        None => {
            let new = NewUser {
                org_id: org.id.clone(),
                name: ADMIN_NAME.into(),
                role: Role::Admin,
                email: String::new(),
                phone: String::new(),
            };
            create_user(store, new).await?
        }
    };
    let (secret, _) = issue_token(store, &admin, token_name, None).await?;
    Ok((admin, secret))
}
