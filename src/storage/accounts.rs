//! The accounts part of the store: organisations, users and API tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::dialect::{Dialect, Sql, WriteTx};
use super::rows::{OrganisationRow, TokenLookupRow, TokenRow, UserRow, micros};
use super::sql::{SqlStore, SqlTx, TOKEN_LOOKUP, all, one};
use super::{AccountStore, AccountWrites, ChangeKind, StoreResult, TokenLookup};
use crate::domain::org::{ApiToken, Organisation, User};

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
}

#[async_trait]
impl<T: WriteTx + 'static> AccountWrites for SqlTx<T> {
    async fn insert_organisation(&mut self, org: &Organisation) -> StoreResult<()> {
        let sql =
            Sql::new("INSERT INTO organisations (id, name, kind, region, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(&org.id)
                .bind(&org.name)
                .bind(org.kind.code())
                .bind(&org.region)
                .bind(micros(org.created_at));
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

    async fn touch_token(&mut self, id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let sql = Sql::new("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2").bind(micros(at)).bind(id);
        self.0.execute(sql).await.map(|_| ())
    }
}
