//! The accounts part of the store: organisations, users and API tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::dialect::{Dialect, Sql, WriteTx};
use super::rows::{
    CredentialsRow, OrganisationRow, SessionLookupRow, SessionRow, TokenLookupRow, TokenRow, UserRow, from_micros,
    micros,
};
use super::sql::{SESSION_LOOKUP, SqlStore, SqlTx, TOKEN_LOOKUP, all, one};
use super::{AccountStore, AccountWrites, ChangeKind, Credentials, SessionLookup, StoreResult, TokenLookup};
use crate::domain::account::Session;
use crate::domain::org::{ApiToken, Organisation, User};
use crate::domain::vocab::OrgStatus;

const CREDENTIALS: &str = "SELECT id, login, password_hash, must_change_password FROM users";
const SESSION_COLUMNS: &str =
    "SELECT id, user_id, prefix, created_at, last_seen_at, expires_at, ended_at, client FROM sessions";

#[async_trait]
impl<D: Dialect> AccountStore for SqlStore<D> {
    async fn get_organisation(&self, id: &str) -> StoreResult<Option<Organisation>> {
        one::<D, OrganisationRow>(&self.db, Sql::new("SELECT * FROM organisations WHERE id = $1").bind(id)).await
    }

    async fn find_organisation_by_name(&self, name: &str) -> StoreResult<Option<Organisation>> {
        one::<D, OrganisationRow>(&self.db, Sql::new("SELECT * FROM organisations WHERE name = $1").bind(name)).await
    }

    async fn list_organisations(&self) -> StoreResult<Vec<Organisation>> {
        all::<D, OrganisationRow>(&self.db, Sql::new("SELECT * FROM organisations ORDER BY id")).await
    }

    async fn get_user(&self, id: &str) -> StoreResult<Option<User>> {
        one::<D, UserRow>(&self.db, Sql::new("SELECT * FROM users WHERE id = $1").bind(id)).await
    }

    async fn list_users(&self, org_id: Option<&str>) -> StoreResult<Vec<User>> {
        let sql = match org_id {
            Some(org) => Sql::new("SELECT * FROM users WHERE org_id = $1 ORDER BY id").bind(org),
            None => Sql::new("SELECT * FROM users ORDER BY id"),
        };
        all::<D, UserRow>(&self.db, sql).await
    }

    async fn get_token(&self, id: &str) -> StoreResult<Option<ApiToken>> {
        one::<D, TokenRow>(&self.db, Sql::new("SELECT * FROM api_tokens WHERE id = $1").bind(id)).await
    }

    async fn list_tokens(&self, user_id: &str) -> StoreResult<Vec<ApiToken>> {
        all::<D, TokenRow>(&self.db, Sql::new("SELECT * FROM api_tokens WHERE user_id = $1 ORDER BY id").bind(user_id))
            .await
    }

    async fn find_token_by_hash(&self, hash: &str) -> StoreResult<Option<TokenLookup>> {
        one::<D, TokenLookupRow>(&self.db, Sql::new(TOKEN_LOOKUP).bind(hash)).await
    }

    async fn find_login(&self, login: &str) -> StoreResult<Option<Credentials>> {
        one::<D, CredentialsRow>(&self.db, Sql::new(format!("{CREDENTIALS} WHERE login = $1")).bind(login)).await
    }

    async fn get_credentials(&self, user_id: &str) -> StoreResult<Option<Credentials>> {
        one::<D, CredentialsRow>(&self.db, Sql::new(format!("{CREDENTIALS} WHERE id = $1")).bind(user_id)).await
    }

    async fn find_session_by_hash(&self, hash: &str) -> StoreResult<Option<SessionLookup>> {
        one::<D, SessionLookupRow>(&self.db, Sql::new(SESSION_LOOKUP).bind(hash)).await
    }

    async fn list_sessions(&self, user_id: &str) -> StoreResult<Vec<Session>> {
        let sql =
            Sql::new(format!("{SESSION_COLUMNS} WHERE user_id = $1 ORDER BY created_at DESC, id DESC")).bind(user_id);
        all::<D, SessionRow>(&self.db, sql).await
    }

    async fn sign_in_failures(&self, key: &str, since: DateTime<Utc>) -> StoreResult<(i64, Option<DateTime<Utc>>)> {
        let sql = Sql::new("SELECT COUNT(*), MIN(at) FROM sign_in_failures WHERE key = $1 AND at >= $2")
            .bind(key)
            .bind(micros(since));
        let (count, earliest): (i64, Option<i64>) = self.db.fetch_optional(sql).await?.unwrap_or((0, None));
        Ok((count, earliest.map(from_micros).transpose()?))
    }
}

#[async_trait]
impl<T: WriteTx + 'static> AccountWrites for SqlTx<T> {
    async fn insert_organisation(&mut self, org: &Organisation) -> StoreResult<()> {
        let sql = Sql::new(
            "INSERT INTO organisations (id, name, kind, region, created_at, credit_code, status, review_reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, '')",
        )
        .bind(&org.id)
        .bind(&org.name)
        .bind(org.kind.code())
        .bind(&org.region)
        .bind(micros(org.created_at))
        .bind(org.credit_code.clone())
        .bind(org.status.code());
        self.0.execute(sql).await?;
        self.log(ChangeKind::Organisation, &org.id, org.created_at);
        Ok(())
    }

    async fn insert_user(&mut self, user: &User) -> StoreResult<()> {
        let sql = Sql::new(
            "INSERT INTO users (id, org_id, name, role, email, phone, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&user.id)
        .bind(&user.org_id)
        .bind(&user.name)
        .bind(user.role.code())
        .bind(&user.email)
        .bind(&user.phone)
        .bind(micros(user.created_at));
        self.0.execute(sql).await?;
        self.log(ChangeKind::User, &user.id, user.created_at);
        Ok(())
    }

    async fn insert_token(&mut self, token: &ApiToken, hash: &str) -> StoreResult<()> {
        let sql = Sql::new(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, created_at, expires_at, revoked_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL)",
        )
        .bind(&token.id)
        .bind(&token.user_id)
        .bind(&token.name)
        .bind(hash)
        .bind(&token.prefix)
        .bind(micros(token.created_at))
        .bind(token.expires_at.map(micros));
        self.0.execute(sql).await?;
        self.log(ChangeKind::Token, &token.id, token.created_at);
        Ok(())
    }

    async fn revoke_token(&mut self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let sql = Sql::new("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(micros(at))
            .bind(id);
        if self.0.execute(sql).await? == 0 {
            return Ok(false);
        }
        self.log(ChangeKind::Token, id, at);
        Ok(true)
    }

    async fn review_organisation(
        &mut self,
        id: &str,
        status: OrgStatus,
        reason: &str,
        by: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let sql = Sql::new(
            "UPDATE organisations SET status = $1, review_reason = $2, reviewed_by = $3, reviewed_at = $4 \
             WHERE id = $5 AND status = 'pending'",
        )
        .bind(status.code())
        .bind(reason)
        .bind(by)
        .bind(micros(at))
        .bind(id);
        if self.0.execute(sql).await? == 0 {
            return Ok(false);
        }
        self.log(ChangeKind::Organisation, id, at);
        Ok(true)
    }

    async fn touch_token(&mut self, id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let sql = Sql::new("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2").bind(micros(at)).bind(id);
        self.0.execute(sql).await.map(|_| ())
    }

    async fn set_login(&mut self, user_id: &str, login: Option<&str>, at: DateTime<Utc>) -> StoreResult<()> {
        let sql = Sql::new("UPDATE users SET login = $1 WHERE id = $2").bind(login.map(str::to_string)).bind(user_id);
        if self.0.execute(sql).await? == 0 {
            return Err(super::StoreError::NotFound);
        }
        self.log(ChangeKind::User, user_id, at);
        Ok(())
    }

    async fn set_password(
        &mut self,
        user_id: &str,
        hash: &str,
        must_change: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let sql = Sql::new("UPDATE users SET password_hash = $1, must_change_password = $2 WHERE id = $3")
            .bind(hash)
            .bind(must_change)
            .bind(user_id);
        if self.0.execute(sql).await? == 0 {
            return Err(super::StoreError::NotFound);
        }
        self.log(ChangeKind::User, user_id, at);
        Ok(())
    }

    async fn insert_session(&mut self, session: &Session, hash: &str, csrf_hash: &str) -> StoreResult<()> {
        let sql = Sql::new(
            "INSERT INTO sessions (id, user_id, token_hash, csrf_hash, prefix, created_at, last_seen_at, expires_at, ended_at, client) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9)",
        )
        .bind(&session.id)
        .bind(&session.user_id)
        .bind(hash)
        .bind(csrf_hash)
        .bind(&session.prefix)
        .bind(micros(session.created_at))
        .bind(micros(session.last_seen_at))
        .bind(micros(session.expires_at))
        .bind(&session.client);
        self.0.execute(sql).await?;
        self.log(ChangeKind::Session, &session.id, session.created_at);
        Ok(())
    }

    async fn touch_session(&mut self, id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let sql = Sql::new("UPDATE sessions SET last_seen_at = $1 WHERE id = $2").bind(micros(at)).bind(id);
        self.0.execute(sql).await.map(|_| ())
    }

    async fn end_session(&mut self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let sql =
            Sql::new("UPDATE sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL").bind(micros(at)).bind(id);
        if self.0.execute(sql).await? == 0 {
            return Ok(false);
        }
        self.log(ChangeKind::Session, id, at);
        Ok(true)
    }

    async fn end_sessions(&mut self, user_id: &str, keep: Option<&str>, at: DateTime<Utc>) -> StoreResult<u64> {
        let open: Vec<(String,)> = self
            .0
            .fetch_all(
                Sql::new("SELECT id FROM sessions WHERE user_id = $1 AND ended_at IS NULL AND id <> $2")
                    .bind(user_id)
                    .bind(keep.unwrap_or_default()),
            )
            .await?;
        for (id,) in &open {
            self.end_session(id, at).await?;
        }
        Ok(open.len() as u64)
    }

    async fn add_sign_in_failure(&mut self, key: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let sql = Sql::new("INSERT INTO sign_in_failures (key, at) VALUES ($1, $2)").bind(key).bind(micros(at));
        self.0.execute(sql).await.map(|_| ())
    }

    async fn clear_sign_in_failures(&mut self, key: &str) -> StoreResult<()> {
        self.0.execute(Sql::new("DELETE FROM sign_in_failures WHERE key = $1").bind(key)).await.map(|_| ())
    }
}
