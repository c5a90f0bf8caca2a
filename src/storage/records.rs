//! The records part of the store: needs and achievements, their listings and bulk reads,
//! imports written all or nothing, and the search dictionary.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::dialect::{Dialect, Sql, Value, WriteTx};
use super::rows::{AchievementRow, DictionaryTermRow, NeedRow, SynonymGroupRow, json_list, micros};
use super::sql::{
    ACHIEVEMENT_BY_ID, ACHIEVEMENT_INSERT, ACHIEVEMENT_SCAN, ACHIEVEMENT_SELECT, NEED_BY_ID, NEED_INSERT, NEED_SCAN,
    NEED_SELECT, SqlStore, SqlTx, achievement_update, achievement_values, all, by_ids, id_page, insert_rows,
    need_update, need_values, one, push_list_filters, record_values, stale_or_missing,
};
use super::{ChangeKind, ImportKey, ListQuery, Page, RecordStore, RecordWrites, StoreError, StoreResult};
use crate::domain::achievement::Achievement;
use crate::domain::dictionary::{DictionaryTerm, SynonymGroup};
use crate::domain::need::Need;
use crate::domain::record::Library;

impl<T: WriteTx> SqlTx<T> {
    /// Applies a versioned update of a record and logs the change, or says why it changed nothing.
    async fn update_record(&mut self, update: Sql, kind: ChangeKind, id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        if self.0.execute(update).await? == 0 {
            return Err(stale_or_missing(&mut self.0, kind.code(), id).await?);
        }
        self.log(kind, id, at);
        Ok(())
    }
}

#[async_trait]
impl<D: Dialect> RecordStore for SqlStore<D> {
    async fn get_need(&self, id: &str) -> StoreResult<Option<Need>> {
        one::<D, NeedRow>(&self.db, Sql::new(NEED_BY_ID).bind(id)).await
    }

    async fn list_needs(&self, query: &ListQuery) -> StoreResult<Page<Need>> {
        let mut sql = Sql::new(NEED_SELECT);
        push_list_filters(&mut sql, query);
        if let Some(need_type) = query.need_type {
            sql.push(" AND n.need_type = ").push_bind(need_type.code());
        }
        id_page::<D, NeedRow>(&self.db, sql, query.limit, |n| n.meta.id.clone()).await
    }

    async fn get_achievement(&self, id: &str) -> StoreResult<Option<Achievement>> {
        one::<D, AchievementRow>(&self.db, Sql::new(ACHIEVEMENT_BY_ID).bind(id)).await
    }

    async fn list_achievements(&self, query: &ListQuery) -> StoreResult<Page<Achievement>> {
        let mut sql = Sql::new(ACHIEVEMENT_SELECT);
        push_list_filters(&mut sql, query);
        if let Some(trl_min) = query.trl_min {
            sql.push(" AND n.trl >= ").push_bind(Some(i32::from(trl_min)));
        }
        id_page::<D, AchievementRow>(&self.db, sql, query.limit, |a| a.meta.id.clone()).await
    }

    async fn count_listing(&self, library: Library, query: &ListQuery) -> StoreResult<u64> {
        let table = match library {
            Library::Needs => "needs",
            Library::Achievements => "achievements",
        };
        let mut sql = Sql::new(format!("SELECT COUNT(*) FROM {table} n"));
        push_list_filters(&mut sql, query);
        if let Some(need_type) = query.need_type.filter(|_| library == Library::Needs) {
            sql.push(" AND n.need_type = ").push_bind(need_type.code());
        }
        if let Some(trl_min) = query.trl_min.filter(|_| library == Library::Achievements) {
            sql.push(" AND n.trl >= ").push_bind(Some(i32::from(trl_min)));
        }
        let count: Option<(i64,)> = self.db.fetch_optional(sql).await?;
        Ok(count.map(|c| c.0.max(0) as u64).unwrap_or(0))
    }

    async fn recent_titles(
        &self,
        library: Library,
        org_id: &str,
        before: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<(String, String)>> {
        let table = match library {
            Library::Needs => "needs",
            Library::Achievements => "achievements",
        };
        // One string for the whole window, each id and title preceded by its length in
        // characters (`36:<id>12:<title>...`): thousands of rows cost one row's round trip, not
        // one each (an import compares with the windows of hundreds of organisations).
        let mut sql = Sql::new(format!(
            "SELECT string_agg(length(id) || ':' || id || length(title) || ':' || title, '' ORDER BY id DESC) \
             FROM (SELECT id, title FROM {table} WHERE org_id = "
        ));
        sql.push_bind(org_id).push(" AND status <> 'expired'");
        if let Some(before) = before {
            sql.push(" AND id < ").push_bind(before);
        }
        sql.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(limit)).push(") AS w");
        let packed: Option<(Option<String>,)> = self.db.fetch_optional(sql).await?;
        let packed = packed.and_then(|(p,)| p).unwrap_or_default();
        let fields = unpack_lengths(&packed).ok_or_else(|| StoreError::Corrupt("recent titles".into()))?;
        Ok(fields.chunks_exact(2).map(|pair| (pair[0].to_string(), pair[1].to_string())).collect())
    }

    async fn needs_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Need>> {
        by_ids::<D, NeedRow>(&self.db, NEED_SELECT, ids).await
    }

    async fn achievements_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Achievement>> {
        by_ids::<D, AchievementRow>(&self.db, ACHIEVEMENT_SELECT, ids).await
    }

    async fn scan_needs(&self, after: &str, limit: u32) -> StoreResult<Vec<Need>> {
        all::<D, NeedRow>(&self.db, Sql::new(NEED_SCAN).bind(after).bind(i64::from(limit))).await
    }

    async fn scan_achievements(&self, after: &str, limit: u32) -> StoreResult<Vec<Achievement>> {
        all::<D, AchievementRow>(&self.db, Sql::new(ACHIEVEMENT_SCAN).bind(after).bind(i64::from(limit))).await
    }

    async fn record_versions(&self, library: Library) -> StoreResult<Vec<(String, i64)>> {
        let sql = match library {
            Library::Needs => "SELECT id, version FROM needs ORDER BY id",
            Library::Achievements => "SELECT id, version FROM achievements ORDER BY id",
        };
        self.db.fetch_all(Sql::new(sql)).await
    }

    async fn imported_ids(&self, library: Library, org_id: &str) -> StoreResult<Vec<(String, String)>> {
        let sql = Sql::new("SELECT external_id, record_id FROM import_keys WHERE library = $1 AND org_id = $2")
            .bind(library.route())
            .bind(org_id);
        self.db.fetch_all(sql).await
    }

    async fn imported_records(
        &self,
        library: Library,
        org_id: &str,
        external_ids: &[String],
    ) -> StoreResult<Vec<(String, String)>> {
        // Bound parameters per statement stay far below either backend's limit.
        let mut found = Vec::new();
        for chunk in external_ids.chunks(1000) {
            let mut sql = Sql::new("SELECT external_id, record_id FROM import_keys WHERE library = $1 AND org_id = $2")
                .bind(library.route())
                .bind(org_id);
            sql.push(" AND external_id IN ").push_list(chunk.iter().cloned());
            found.extend(self.db.fetch_all::<(String, String)>(sql).await?);
        }
        Ok(found)
    }

    async fn list_dictionary_terms(&self) -> StoreResult<Vec<DictionaryTerm>> {
        all::<D, DictionaryTermRow>(&self.db, Sql::new("SELECT * FROM dictionary_terms ORDER BY id")).await
    }

    async fn list_synonym_groups(&self) -> StoreResult<Vec<SynonymGroup>> {
        all::<D, SynonymGroupRow>(&self.db, Sql::new("SELECT * FROM synonym_groups ORDER BY id")).await
    }
}

#[async_trait]
impl<T: WriteTx + 'static> RecordWrites for SqlTx<T> {
    async fn insert_need(&mut self, need: &Need) -> StoreResult<()> {
        self.insert_needs(&[need]).await
    }

    async fn update_need(&mut self, need: &Need, at: DateTime<Utc>) -> StoreResult<Need> {
        self.update_record(need_update(need, at), ChangeKind::Need, &need.meta.id, at).await?;
        let mut stored = need.clone();
        stored.meta.version += 1;
        stored.meta.updated_at = at;
        Ok(stored)
    }

    async fn insert_achievement(&mut self, achievement: &Achievement) -> StoreResult<()> {
        self.insert_achievements(&[achievement]).await
    }

    async fn insert_needs(&mut self, needs: &[&Need]) -> StoreResult<()> {
        let rows = needs.iter().map(|n| record_values(need_values(n), &n.meta)).collect();
        insert_rows(&mut self.0, NEED_INSERT, rows).await?;
        for n in needs {
            self.log(ChangeKind::Need, &n.meta.id, n.meta.updated_at);
        }
        Ok(())
    }

    async fn insert_achievements(&mut self, achievements: &[&Achievement]) -> StoreResult<()> {
        let rows = achievements.iter().map(|a| record_values(achievement_values(a), &a.meta)).collect();
        insert_rows(&mut self.0, ACHIEVEMENT_INSERT, rows).await?;
        for a in achievements {
            self.log(ChangeKind::Achievement, &a.meta.id, a.meta.updated_at);
        }
        Ok(())
    }

    async fn update_achievement(&mut self, achievement: &Achievement, at: DateTime<Utc>) -> StoreResult<Achievement> {
        self.update_record(achievement_update(achievement, at), ChangeKind::Achievement, &achievement.meta.id, at)
            .await?;
        let mut stored = achievement.clone();
        stored.meta.version += 1;
        stored.meta.updated_at = at;
        Ok(stored)
    }

    async fn insert_import_keys(&mut self, keys: &[ImportKey]) -> StoreResult<()> {
        let rows: Vec<Vec<Value>> = keys
            .iter()
            .map(|key| {
                vec![
                    key.library.route().into(),
                    key.org_id.clone().into(),
                    key.external_id.clone().into(),
                    key.record_id.clone().into(),
                    micros(key.at).into(),
                ]
            })
            .collect();
        insert_rows(
            &mut self.0,
            "INSERT INTO import_keys (library, org_id, external_id, record_id, created_at) VALUES ($1, $2, $3, $4, $5)",
            rows,
        )
        .await
    }

    async fn insert_dictionary_term(&mut self, term: &DictionaryTerm) -> StoreResult<()> {
        let sql = Sql::new(
            "INSERT INTO dictionary_terms (id, word, freq, created_by, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&term.id)
        .bind(&term.word)
        .bind(term.freq)
        .bind(&term.created_by)
        .bind(micros(term.created_at));
        self.0.execute(sql).await?;
        self.log(ChangeKind::Dictionary, &term.id, term.created_at);
        Ok(())
    }

    async fn insert_synonym_group(&mut self, group: &SynonymGroup) -> StoreResult<()> {
        let sql = Sql::new("INSERT INTO synonym_groups (id, members, created_by, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&group.id)
            .bind(json_list(&group.members))
            .bind(&group.created_by)
            .bind(micros(group.created_at));
        self.0.execute(sql).await?;
        self.log(ChangeKind::Dictionary, &group.id, group.created_at);
        Ok(())
    }
}

/// Splits `5:hello3:abc` into `["hello", "abc"]`: each field preceded by its length in
/// characters and a colon. `None` if the text is not of that form.
fn unpack_lengths(packed: &str) -> Option<Vec<&str>> {
    let mut fields = Vec::new();
    let mut rest = packed;
    while !rest.is_empty() {
        let (count, tail) = rest.split_once(':')?;
        let count: usize = count.parse().ok()?;
        let end = match tail.char_indices().nth(count) {
            Some((at, _)) => at,
            None if tail.chars().count() == count => tail.len(),
            None => return None,
        };
        fields.push(&tail[..end]);
        rest = &tail[end..];
    }
    Some(fields)
}

#[cfg(test)]
mod tests {
    use super::unpack_lengths;

    #[test]
    fn packed_fields_are_split_by_their_lengths_in_characters() {
        assert_eq!(unpack_lengths("2:ab3:固态池0:1::"), Some(vec!["ab", "固态池", "", ":"]));
        assert_eq!(unpack_lengths("3:a1:1:b"), Some(vec!["a1:", "b"]), "a length counts whatever the field holds");
        assert_eq!(unpack_lengths(""), Some(vec![]));
        assert_eq!(unpack_lengths("5:abc"), None);
        assert_eq!(unpack_lengths("x:abc"), None);
        assert_eq!(unpack_lengths("abc"), None);
    }
}
