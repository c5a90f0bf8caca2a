//! The SQL both backends share. Each backend type provides `reader()`, `writer()` and
//! `begin_write()`; `impl_store!` then writes the `Store` implementation once, compiled for each
//! database. Statements use `$n` placeholders and portable types only (PITFALLS 18).

pub const NEED_SELECT: &str = "SELECT n.*, o.name AS org_name FROM needs n JOIN organisations o ON o.id = n.org_id";
pub const ACHIEVEMENT_SELECT: &str =
    "SELECT n.*, o.name AS org_name FROM achievements n JOIN organisations o ON o.id = n.org_id";

pub const NEED_BY_ID: &str =
    "SELECT n.*, o.name AS org_name FROM needs n JOIN organisations o ON o.id = n.org_id WHERE n.id = $1";
pub const ACHIEVEMENT_BY_ID: &str =
    "SELECT n.*, o.name AS org_name FROM achievements n JOIN organisations o ON o.id = n.org_id WHERE n.id = $1";

pub const NEED_SCAN: &str = "SELECT n.*, o.name AS org_name FROM needs n JOIN organisations o ON o.id = n.org_id \
    WHERE n.id > $1 ORDER BY n.id LIMIT $2";
pub const ACHIEVEMENT_SCAN: &str = "SELECT n.*, o.name AS org_name FROM achievements n \
    JOIN organisations o ON o.id = n.org_id WHERE n.id > $1 ORDER BY n.id LIMIT $2";

pub const NEED_INSERT: &str = "INSERT INTO needs (title, description, targets, tried, keywords, field, need_type, \
    cooperation_modes, budget_min, budget_max, deadline, region, contact_name, contact_phone, contact_email, \
    visibility, status, id, org_id, created_by, created_at, updated_at, version) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)";

pub const NEED_UPDATE: &str = "UPDATE needs SET title = $1, description = $2, targets = $3, tried = $4, keywords = $5, \
    field = $6, need_type = $7, cooperation_modes = $8, budget_min = $9, budget_max = $10, deadline = $11, \
    region = $12, contact_name = $13, contact_phone = $14, contact_email = $15, visibility = $16, status = $17, \
    updated_at = $18, version = version + 1 WHERE id = $19 AND version = $20";

pub const ACHIEVEMENT_INSERT: &str = "INSERT INTO achievements (title, summary, keywords, field, achievement_type, trl, \
    stage, ip_form, patent_numbers, cooperation_modes, asking_price, team_lead, region, contact_name, contact_phone, \
    contact_email, visibility, status, id, org_id, created_by, created_at, updated_at, version) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)";

pub const ACHIEVEMENT_UPDATE: &str = "UPDATE achievements SET title = $1, summary = $2, keywords = $3, field = $4, \
    achievement_type = $5, trl = $6, stage = $7, ip_form = $8, patent_numbers = $9, cooperation_modes = $10, \
    asking_price = $11, team_lead = $12, region = $13, contact_name = $14, contact_phone = $15, contact_email = $16, \
    visibility = $17, status = $18, updated_at = $19, version = version + 1 WHERE id = $20 AND version = $21";

pub const CHANGE_INSERT: &str = "INSERT INTO changes (library, record_id, changed_at) VALUES ($1, $2, $3)";

pub const TOKEN_LOOKUP: &str = "SELECT t.id AS token_id, t.expires_at, t.revoked_at, t.last_used_at, \
    u.id AS user_id, u.name AS user_name, u.role, u.org_id \
    FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1";

/// Binds the content columns of a need, in the order of `NEED_INSERT` / `NEED_UPDATE`, then status.
macro_rules! bind_need {
    ($query:expr, $need:expr) => {{
        let c = &$need.content;
        $query
            .bind(c.title.clone())
            .bind(c.description.clone())
            .bind(c.targets.clone())
            .bind(c.tried.clone())
            .bind($crate::storage::rows::json_list(&c.keywords))
            .bind(c.field.code())
            .bind(c.need_type.code())
            .bind($crate::storage::rows::json_list(c.cooperation_modes.iter().map(|m| m.code())))
            .bind(c.budget_min.map(|w| w.hundredths()))
            .bind(c.budget_max.map(|w| w.hundredths()))
            .bind(c.deadline.map(|d| d.format("%Y-%m-%d").to_string()))
            .bind(c.region.clone())
            .bind(c.contact.name.clone())
            .bind(c.contact.phone.clone())
            .bind(c.contact.email.clone())
            .bind(c.visibility.code())
            .bind($need.meta.status.code())
    }};
}

/// Binds the content columns of an achievement, in the order of its statements, then status.
macro_rules! bind_achievement {
    ($query:expr, $achievement:expr) => {{
        let c = &$achievement.content;
        $query
            .bind(c.title.clone())
            .bind(c.summary.clone())
            .bind($crate::storage::rows::json_list(&c.keywords))
            .bind(c.field.code())
            .bind(c.achievement_type.code())
            .bind(c.trl.map(i32::from))
            .bind(c.stage.map(|s| s.code()))
            .bind(c.ip_form.code())
            .bind($crate::storage::rows::json_list(&c.patent_numbers))
            .bind($crate::storage::rows::json_list(c.cooperation_modes.iter().map(|m| m.code())))
            .bind(c.asking_price.map(|w| w.hundredths()))
            .bind(c.team_lead.clone())
            .bind(c.region.clone())
            .bind(c.contact.name.clone())
            .bind(c.contact.phone.clone())
            .bind(c.contact.email.clone())
            .bind(c.visibility.code())
            .bind($achievement.meta.status.code())
    }};
}

/// Appends the WHERE clause of a listing: visibility first (inside the query, so nothing hidden
/// is ever fetched), then the filters, the cursor, the order and the page size (+1 to detect a
/// next page).
macro_rules! push_list_filters {
    ($qb:expr, $q:expr) => {{
        let q = $q;
        $qb.push(" WHERE ((n.visibility = 'public' AND n.status <> 'withdrawn') OR n.org_id = ");
        $qb.push_bind(q.viewer_org.clone());
        if q.viewer_is_staff {
            $qb.push(" OR n.visibility <> 'private'");
        }
        $qb.push(")");
        if let Some(field) = q.field {
            $qb.push(" AND n.field = ").push_bind(field.code());
        }
        if let Some(prefix) = &q.region_prefix {
            $qb.push(" AND n.region LIKE ").push_bind(format!("{prefix}%"));
        }
        if let Some(status) = q.status {
            $qb.push(" AND n.status = ").push_bind(status.code());
        }
        if let Some(org_id) = &q.org_id {
            $qb.push(" AND n.org_id = ").push_bind(org_id.clone());
        }
        if let Some(since) = q.updated_since {
            $qb.push(" AND n.updated_at >= ").push_bind($crate::storage::rows::micros(since));
        }
        if let Some(cursor) = &q.cursor {
            $qb.push(" AND n.id < ").push_bind(cursor.clone());
        }
    }};
}

macro_rules! finish_page {
    ($qb:expr, $q:expr, $row:ty, $pool:expr) => {{
        let limit = $q.limit.max(1) as usize;
        $qb.push(" ORDER BY n.id DESC LIMIT ").push_bind(limit as i64 + 1);
        let rows: Vec<$row> = $qb.build_query_as::<$row>().fetch_all($pool).await?;
        let mut items = rows.into_iter().map(|r| r.into_domain()).collect::<StoreResult<Vec<_>>>()?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|r| r.meta.id.clone())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }};
}

/// Records a write in the change log, inside the write's transaction.
macro_rules! log_change {
    ($self:expr, $tx:expr, $library:expr, $id:expr, $at:expr) => {{
        $self.lock_change_log(&mut $tx).await?;
        sqlx::query(CHANGE_INSERT).bind($library).bind($id.clone()).bind(micros($at)).execute(&mut *$tx).await?;
    }};
}

/// Inserts a need and its change-log entry inside the write transaction `$tx`.
macro_rules! insert_need_row {
    ($self:expr, $tx:expr, $need:expr) => {{
        let need = $need;
        bind_need!(sqlx::query(NEED_INSERT), need)
            .bind(need.meta.id.clone())
            .bind(need.meta.org_id.clone())
            .bind(need.meta.created_by.clone())
            .bind(micros(need.meta.created_at))
            .bind(micros(need.meta.updated_at))
            .bind(need.meta.version)
            .execute(&mut *$tx)
            .await?;
        log_change!($self, $tx, "needs", need.meta.id, need.meta.updated_at);
    }};
}

/// Inserts an achievement and its change-log entry inside the write transaction `$tx`.
macro_rules! insert_achievement_row {
    ($self:expr, $tx:expr, $achievement:expr) => {{
        let achievement = $achievement;
        bind_achievement!(sqlx::query(ACHIEVEMENT_INSERT), achievement)
            .bind(achievement.meta.id.clone())
            .bind(achievement.meta.org_id.clone())
            .bind(achievement.meta.created_by.clone())
            .bind(micros(achievement.meta.created_at))
            .bind(micros(achievement.meta.updated_at))
            .bind(achievement.meta.version)
            .execute(&mut *$tx)
            .await?;
        log_change!($self, $tx, "achievements", achievement.meta.id, achievement.meta.updated_at);
    }};
}

/// Fetches records by a list of ids with one `IN (...)` query.
macro_rules! by_ids {
    ($self:expr, $db:ty, $select:expr, $row:ty, $ids:expr) => {{
        if $ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = sqlx::QueryBuilder::<$db>::new($select);
        qb.push(" WHERE n.id IN (");
        let mut list = qb.separated(", ");
        for id in $ids {
            list.push_bind(id.clone());
        }
        qb.push(")");
        let rows: Vec<$row> = qb.build_query_as::<$row>().fetch_all($self.reader()).await?;
        rows.into_iter().map(|r| r.into_domain()).collect()
    }};
}

macro_rules! impl_store {
    ($store:ty, $db:ty, $backend:expr) => {
        #[async_trait::async_trait]
        impl $crate::storage::Store for $store {
            fn backend(&self) -> $crate::storage::Backend {
                $backend
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(self.reader()).await?;
                Ok(())
            }

            async fn close(&self) {
                self.close_pools().await;
            }

            async fn insert_organisation(&self, org: &Organisation) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query("INSERT INTO organisations (id, name, kind, region, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(org.id.clone())
                    .bind(org.name.clone())
                    .bind(org.kind.code())
                    .bind(org.region.clone())
                    .bind(micros(org.created_at))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_organisation(&self, id: &str) -> StoreResult<Option<Organisation>> {
                sqlx::query_as::<_, OrganisationRow>("SELECT * FROM organisations WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(self.reader())
                    .await?
                    .map(OrganisationRow::into_domain)
                    .transpose()
            }

            async fn find_organisation_by_name(&self, name: &str) -> StoreResult<Option<Organisation>> {
                sqlx::query_as::<_, OrganisationRow>("SELECT * FROM organisations WHERE name = $1")
                    .bind(name.to_string())
                    .fetch_optional(self.reader())
                    .await?
                    .map(OrganisationRow::into_domain)
                    .transpose()
            }

            async fn list_organisations(&self) -> StoreResult<Vec<Organisation>> {
                sqlx::query_as::<_, OrganisationRow>("SELECT * FROM organisations ORDER BY id")
                    .fetch_all(self.reader())
                    .await?
                    .into_iter()
                    .map(OrganisationRow::into_domain)
                    .collect()
            }

            async fn insert_user(&self, user: &User) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query("INSERT INTO users (id, org_id, name, role, email, phone, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(user.id.clone())
                    .bind(user.org_id.clone())
                    .bind(user.name.clone())
                    .bind(user.role.code())
                    .bind(user.email.clone())
                    .bind(user.phone.clone())
                    .bind(micros(user.created_at))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_user(&self, id: &str) -> StoreResult<Option<User>> {
                sqlx::query_as::<_, UserRow>("SELECT * FROM users WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(self.reader())
                    .await?
                    .map(UserRow::into_domain)
                    .transpose()
            }

            async fn list_users(&self, org_id: Option<&str>) -> StoreResult<Vec<User>> {
                let rows = match org_id {
                    Some(org) => sqlx::query_as::<_, UserRow>("SELECT * FROM users WHERE org_id = $1 ORDER BY id")
                        .bind(org.to_string())
                        .fetch_all(self.reader())
                        .await?,
                    None => sqlx::query_as::<_, UserRow>("SELECT * FROM users ORDER BY id").fetch_all(self.reader()).await?,
                };
                rows.into_iter().map(UserRow::into_domain).collect()
            }

            async fn insert_token(&self, token: &ApiToken, hash: &str) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, created_at, expires_at, revoked_at, last_used_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL)",
                )
                .bind(token.id.clone())
                .bind(token.user_id.clone())
                .bind(token.name.clone())
                .bind(hash.to_string())
                .bind(token.prefix.clone())
                .bind(micros(token.created_at))
                .bind(token.expires_at.map(micros))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_token(&self, id: &str) -> StoreResult<Option<ApiToken>> {
                sqlx::query_as::<_, TokenRow>("SELECT * FROM api_tokens WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(self.reader())
                    .await?
                    .map(TokenRow::into_domain)
                    .transpose()
            }

            async fn list_tokens(&self, user_id: &str) -> StoreResult<Vec<ApiToken>> {
                sqlx::query_as::<_, TokenRow>("SELECT * FROM api_tokens WHERE user_id = $1 ORDER BY id")
                    .bind(user_id.to_string())
                    .fetch_all(self.reader())
                    .await?
                    .into_iter()
                    .map(TokenRow::into_domain)
                    .collect()
            }

            async fn revoke_token(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(micros(at))
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(done == 1)
            }

            async fn find_token_by_hash(&self, hash: &str) -> StoreResult<Option<TokenLookup>> {
                sqlx::query_as::<_, TokenLookupRow>(TOKEN_LOOKUP)
                    .bind(hash.to_string())
                    .fetch_optional(self.reader())
                    .await?
                    .map(TokenLookupRow::into_domain)
                    .transpose()
            }

            async fn touch_token(&self, id: &str, at: DateTime<Utc>) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                    .bind(micros(at))
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn insert_need(&self, need: &Need) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                insert_need_row!(self, tx, need);
                tx.commit().await?;
                Ok(())
            }

            async fn get_need(&self, id: &str) -> StoreResult<Option<Need>> {
                sqlx::query_as::<_, NeedRow>(NEED_BY_ID)
                    .bind(id.to_string())
                    .fetch_optional(self.reader())
                    .await?
                    .map(NeedRow::into_domain)
                    .transpose()
            }

            async fn update_need(&self, need: &Need, at: DateTime<Utc>) -> StoreResult<Need> {
                let mut tx = self.begin_write().await?;
                let updated = bind_need!(sqlx::query(NEED_UPDATE), need)
                    .bind(micros(at))
                    .bind(need.meta.id.clone())
                    .bind(need.meta.version)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if updated == 0 {
                    let current: Option<(i64,)> = sqlx::query_as("SELECT version FROM needs WHERE id = $1")
                        .bind(need.meta.id.clone())
                        .fetch_optional(&mut *tx)
                        .await?;
                    return Err(match current {
                        Some((current,)) => StoreError::VersionConflict { current },
                        None => StoreError::NotFound,
                    });
                }
                log_change!(self, tx, "needs", need.meta.id, at);
                tx.commit().await?;
                let mut stored = need.clone();
                stored.meta.version += 1;
                stored.meta.updated_at = at;
                Ok(stored)
            }

            async fn list_needs(&self, query: &ListQuery) -> StoreResult<Page<Need>> {
                let mut qb = sqlx::QueryBuilder::<$db>::new(NEED_SELECT);
                push_list_filters!(qb, query);
                if let Some(need_type) = query.need_type {
                    qb.push(" AND n.need_type = ").push_bind(need_type.code());
                }
                finish_page!(qb, query, NeedRow, self.reader())
            }

            async fn insert_achievement(&self, achievement: &Achievement) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                insert_achievement_row!(self, tx, achievement);
                tx.commit().await?;
                Ok(())
            }

            async fn get_achievement(&self, id: &str) -> StoreResult<Option<Achievement>> {
                sqlx::query_as::<_, AchievementRow>(ACHIEVEMENT_BY_ID)
                    .bind(id.to_string())
                    .fetch_optional(self.reader())
                    .await?
                    .map(AchievementRow::into_domain)
                    .transpose()
            }

            async fn update_achievement(&self, achievement: &Achievement, at: DateTime<Utc>) -> StoreResult<Achievement> {
                let mut tx = self.begin_write().await?;
                let updated = bind_achievement!(sqlx::query(ACHIEVEMENT_UPDATE), achievement)
                    .bind(micros(at))
                    .bind(achievement.meta.id.clone())
                    .bind(achievement.meta.version)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if updated == 0 {
                    let current: Option<(i64,)> = sqlx::query_as("SELECT version FROM achievements WHERE id = $1")
                        .bind(achievement.meta.id.clone())
                        .fetch_optional(&mut *tx)
                        .await?;
                    return Err(match current {
                        Some((current,)) => StoreError::VersionConflict { current },
                        None => StoreError::NotFound,
                    });
                }
                log_change!(self, tx, "achievements", achievement.meta.id, at);
                tx.commit().await?;
                let mut stored = achievement.clone();
                stored.meta.version += 1;
                stored.meta.updated_at = at;
                Ok(stored)
            }

            async fn list_achievements(&self, query: &ListQuery) -> StoreResult<Page<Achievement>> {
                let mut qb = sqlx::QueryBuilder::<$db>::new(ACHIEVEMENT_SELECT);
                push_list_filters!(qb, query);
                if let Some(trl_min) = query.trl_min {
                    qb.push(" AND n.trl >= ").push_bind(i32::from(trl_min));
                }
                finish_page!(qb, query, AchievementRow, self.reader())
            }

            async fn count_listing(&self, library: Library, query: &ListQuery) -> StoreResult<u64> {
                let table = match library {
                    Library::Needs => "needs",
                    Library::Achievements => "achievements",
                };
                let mut qb = sqlx::QueryBuilder::<$db>::new(format!("SELECT COUNT(*) FROM {table} n"));
                push_list_filters!(qb, query);
                if let Some(need_type) = query.need_type.filter(|_| library == Library::Needs) {
                    qb.push(" AND n.need_type = ").push_bind(need_type.code());
                }
                if let Some(trl_min) = query.trl_min.filter(|_| library == Library::Achievements) {
                    qb.push(" AND n.trl >= ").push_bind(i32::from(trl_min));
                }
                let (count,): (i64,) = qb.build_query_as().fetch_one(self.reader()).await?;
                Ok(count.max(0) as u64)
            }

            async fn changes_after(&self, seq: i64, limit: u32) -> StoreResult<Vec<Change>> {
                sqlx::query_as::<_, ChangeRow>("SELECT seq, library, record_id FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2")
                    .bind(seq)
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?
                    .into_iter()
                    .map(ChangeRow::into_domain)
                    .collect()
            }

            async fn last_change_seq(&self) -> StoreResult<i64> {
                let (seq,): (Option<i64>,) = sqlx::query_as("SELECT MAX(seq) FROM changes").fetch_one(self.reader()).await?;
                Ok(seq.unwrap_or(0))
            }

            async fn needs_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Need>> {
                by_ids!(self, $db, NEED_SELECT, NeedRow, ids)
            }

            async fn achievements_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Achievement>> {
                by_ids!(self, $db, ACHIEVEMENT_SELECT, AchievementRow, ids)
            }

            async fn scan_needs(&self, after: &str, limit: u32) -> StoreResult<Vec<Need>> {
                sqlx::query_as::<_, NeedRow>(NEED_SCAN)
                    .bind(after.to_string())
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?
                    .into_iter()
                    .map(NeedRow::into_domain)
                    .collect()
            }

            async fn scan_achievements(&self, after: &str, limit: u32) -> StoreResult<Vec<Achievement>> {
                sqlx::query_as::<_, AchievementRow>(ACHIEVEMENT_SCAN)
                    .bind(after.to_string())
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?
                    .into_iter()
                    .map(AchievementRow::into_domain)
                    .collect()
            }

            async fn record_versions(&self, library: Library) -> StoreResult<Vec<(String, i64)>> {
                let sql = match library {
                    Library::Needs => "SELECT id, version FROM needs ORDER BY id",
                    Library::Achievements => "SELECT id, version FROM achievements ORDER BY id",
                };
                Ok(sqlx::query_as::<_, (String, i64)>(sql).fetch_all(self.reader()).await?)
            }

            async fn import_records(
                &self,
                needs: &[Need],
                achievements: &[Achievement],
                keys: &[$crate::storage::ImportKey],
            ) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                for need in needs {
                    insert_need_row!(self, tx, need);
                }
                for achievement in achievements {
                    insert_achievement_row!(self, tx, achievement);
                }
                for key in keys {
                    sqlx::query(
                        "INSERT INTO import_keys (library, org_id, external_id, record_id, created_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(key.library.route())
                    .bind(key.org_id.clone())
                    .bind(key.external_id.clone())
                    .bind(key.record_id.clone())
                    .bind(micros(key.at))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn imported_ids(&self, library: Library, org_id: &str) -> StoreResult<Vec<(String, String)>> {
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT external_id, record_id FROM import_keys WHERE library = $1 AND org_id = $2",
                )
                .bind(library.route())
                .bind(org_id.to_string())
                .fetch_all(self.reader())
                .await?;
                Ok(rows)
            }

            async fn insert_dictionary_term(&self, term: &DictionaryTerm) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query("INSERT INTO dictionary_terms (id, word, freq, created_by, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(term.id.clone())
                    .bind(term.word.clone())
                    .bind(term.freq)
                    .bind(term.created_by.clone())
                    .bind(micros(term.created_at))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_dictionary_terms(&self) -> StoreResult<Vec<DictionaryTerm>> {
                sqlx::query_as::<_, DictionaryTermRow>("SELECT * FROM dictionary_terms ORDER BY id")
                    .fetch_all(self.reader())
                    .await?
                    .into_iter()
                    .map(DictionaryTermRow::into_domain)
                    .collect()
            }

            async fn insert_synonym_group(&self, group: &SynonymGroup) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query("INSERT INTO synonym_groups (id, members, created_by, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(group.id.clone())
                    .bind(json_list(&group.members))
                    .bind(group.created_by.clone())
                    .bind(micros(group.created_at))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_synonym_groups(&self) -> StoreResult<Vec<SynonymGroup>> {
                sqlx::query_as::<_, SynonymGroupRow>("SELECT * FROM synonym_groups ORDER BY id")
                    .fetch_all(self.reader())
                    .await?
                    .into_iter()
                    .map(SynonymGroupRow::into_domain)
                    .collect()
            }
        }
    };
}

pub(crate) use {
    bind_achievement, bind_need, by_ids, finish_page, impl_store, insert_achievement_row, insert_need_row, log_change,
    push_list_filters,
};
