//! The demo data set: organisations, users, 40 needs and 80 achievements in the city's industries
//! (CCUS, 石油装备, 高端化工, 新能源, 新材料, 生物医药, 海洋装备, 盐碱地, 智能制造 ...). Records go
//! through the same validation as the API. Seeding an already seeded database only issues fresh
//! tokens for the demo users.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::app::{Actor, accounts};
use crate::config::Config;
use crate::domain::achievement::{Achievement, AchievementContent, AchievementInput};
use crate::domain::need::{Need, NeedContent, NeedInput};
use crate::domain::org::{NewOrganisation, NewUser, Organisation, User};
use crate::domain::record::RecordMeta;
use crate::domain::validate::{Contact, ValidationErrors};
use crate::domain::vocab::{OrgKind, Role};
use crate::domain::{market_today, new_id};
use crate::storage::StoreError;

/// The actor of the demo data set's writes.
const DEMO: &str = "demo";

const ORGANISATIONS: &str = include_str!("organisations.json");
const NEEDS: &str = include_str!("needs.json");
const ACHIEVEMENTS: &str = include_str!("achievements.json");
/// The demo needs and achievements as JSON (the generator borrows their words).
pub const NEEDS_JSON: &str = NEEDS;
pub const ACHIEVEMENTS_JSON: &str = ACHIEVEMENTS;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo data is invalid: {0}")]
    Data(String),
    #[error(transparent)]
    Account(#[from] crate::app::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

impl From<ValidationErrors> for DemoError {
    fn from(e: ValidationErrors) -> Self {
        DemoError::Data(e.summary())
    }
}

#[derive(Deserialize)]
struct DemoFile {
    organisations: Vec<DemoOrg>,
    users: Vec<DemoUser>,
}

#[derive(Deserialize)]
struct DemoOrg {
    key: String,
    name: String,
    kind: OrgKind,
    region: String,
}

#[derive(Deserialize)]
struct DemoUser {
    key: String,
    org: String,
    name: String,
    role: Role,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    /// The environment variable its token is printed as, for users a newcomer signs in as.
    print: Option<String>,
}

#[derive(Deserialize)]
struct DemoRecord {
    org: String,
    #[serde(default)]
    valid_days: Option<i64>,
    #[serde(flatten)]
    fields: Map<String, Value>,
}

/// A demo user's fresh token.
pub struct DemoToken {
    pub variable: String,
    /// The login the user signs in with (the demo password is the same for all).
    pub login: String,
    pub user: String,
    pub role: Role,
    pub organisation: String,
    pub secret: String,
}

pub struct Seeded {
    /// False when the database already held the demo data.
    pub created: bool,
    pub needs: usize,
    pub achievements: usize,
    pub tokens: Vec<DemoToken>,
    /// The password of the demo users, new at each start (printed and written beside the tokens).
    pub password: String,
    /// The id of the database the tokens belong to.
    pub database: String,
}

fn parse<T: for<'de> Deserialize<'de>>(what: &str, text: &str) -> Result<T, DemoError> {
    serde_json::from_str(text).map_err(|e| DemoError::Data(format!("{what}: {e}")))
}

/// Loads the demo data set unless it is there already, and issues tokens for the demo users.
pub async fn seed(cx: &crate::app::App) -> Result<Seeded, DemoError> {
    let store = cx.store().as_ref();
    let file: DemoFile = parse("organisations.json", ORGANISATIONS)?;
    let mut orgs: HashMap<String, Organisation> = HashMap::new();
    let mut created = false;
    for demo in &file.organisations {
        let org = match store.find_organisation_by_name(&demo.name).await? {
            Some(org) => org,
            None => {
                created = true;
                let new = NewOrganisation { name: demo.name.clone(), kind: demo.kind, region: demo.region.clone() };
                accounts::create_organisation(cx, Actor::System(DEMO), new).await?
            }
        };
        orgs.insert(demo.key.clone(), org);
    }
    let mut users: HashMap<String, User> = HashMap::new();
    for demo in &file.users {
        let org = orgs
            .get(&demo.org)
            .ok_or_else(|| DemoError::Data(format!("user {} names unknown org {}", demo.key, demo.org)))?;
        let existing =
            store.list_users(Some(&org.id)).await?.into_iter().find(|u| u.name == demo.name && u.role == demo.role);
        let user = match existing {
            Some(user) => user,
            None => {
                let new = NewUser {
                    org_id: org.id.clone(),
                    name: demo.name.clone(),
                    role: demo.role,
                    email: demo.email.clone(),
                    phone: demo.phone.clone(),
                };
                accounts::create_user(cx, Actor::System(DEMO), new).await?
            }
        };
        users.insert(demo.org.clone(), user.clone());
        users.insert(format!("user:{}", demo.key), user);
    }
    let at = cx.clock.now();
    let needs = build_needs(&orgs, &users, at)?;
    let achievements = build_achievements(&orgs, &users, at)?;
    // Records are loaded when the first demo enterprise has none yet, so an interrupted seed
    // completes on the next run instead of being taken for done.
    let first = &orgs[&file.organisations[1].key];
    let probe = crate::storage::ListQuery {
        viewer_org: first.id.clone(),
        viewer_is_staff: true,
        org_id: Some(first.id.clone()),
        limit: 1,
        ..Default::default()
    };
    let created = created || store.list_needs(&probe).await?.items.is_empty();
    if created {
        crate::app::records::insert_prepared(cx, Actor::System(DEMO), &needs, &achievements)
            .await
            .map_err(|e| DemoError::Data(e.to_string()))?;
        tracing::info!(needs = needs.len(), achievements = achievements.len(), "demo data loaded");
    }
    let (needs, achievements) = if created { (needs.len(), achievements.len()) } else { (0, 0) };
    let mut tokens = Vec::new();
    let mut logins = Vec::new();
    for demo in &file.users {
        let Some(variable) = &demo.print else {
            continue;
        };
        let user = &users[&format!("user:{}", demo.key)];
        let (secret, _) = accounts::issue_token(cx, Actor::System(DEMO), user, "demo", None).await?;
        let login = demo_login(demo);
        logins.push((user.id.clone(), login.clone()));
        tokens.push(DemoToken {
            variable: variable.clone(),
            login,
            user: user.name.clone(),
            role: user.role,
            organisation: orgs[&demo.org].name.clone(),
            secret,
        });
    }
    let password = format!("demo-{}", &crate::domain::org::hex_random()[..16]);
    crate::app::sessions::give_logins(cx, Actor::System(DEMO), &logins, password.clone())
        .await
        .map_err(|e| DemoError::Data(e.to_string()))?;
    let database = store.database_id().await?;
    Ok(Seeded { created, needs, achievements, tokens, password, database })
}

/// A printed demo user's login: its e-mail address, else its mobile number, else the operator's
/// admin address.
fn demo_login(user: &DemoUser) -> String {
    [user.email.as_str(), user.phone.as_str()]
        .into_iter()
        .find_map(|text| crate::domain::account::normalise_login("login", text).ok())
        .unwrap_or_else(|| format!("{}@dytm.example.cn", user.key))
}

/// The organisation and author of a demo record, and the contact it carries.
fn owner<'a>(
    record: &DemoRecord,
    orgs: &'a HashMap<String, Organisation>,
    users: &'a HashMap<String, User>,
) -> Result<(&'a Organisation, &'a User, Value), DemoError> {
    let org = orgs.get(&record.org).ok_or_else(|| DemoError::Data(format!("unknown org `{}`", record.org)))?;
    let user = users.get(&record.org).ok_or_else(|| DemoError::Data(format!("org `{}` has no user", record.org)))?;
    let contact = Contact { name: user.name.clone(), phone: user.phone.clone(), email: user.email.clone() };
    Ok((org, user, serde_json::to_value(contact).unwrap_or_default()))
}

/// A record's owner, author and input fields, the region and contact defaulting to the owner's.
#[allow(clippy::type_complexity)]
fn fields_of<'a>(
    record: &DemoRecord,
    orgs: &'a HashMap<String, Organisation>,
    users: &'a HashMap<String, User>,
) -> Result<(&'a Organisation, &'a User, serde_json::Map<String, Value>), DemoError> {
    let (org, user, contact) = owner(record, orgs, users)?;
    let mut fields = record.fields.clone();
    fields.entry("region").or_insert_with(|| Value::String(org.region.clone()));
    fields.entry("contact").or_insert(contact);
    Ok((org, user, fields))
}

fn build_needs(
    orgs: &HashMap<String, Organisation>,
    users: &HashMap<String, User>,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<Need>, DemoError> {
    let records: Vec<DemoRecord> = parse("needs.json", NEEDS)?;
    let today = market_today(at);
    let mut out = Vec::new();
    for record in &records {
        let (org, user, mut fields) = fields_of(record, orgs, users)?;
        if let Some(days) = record.valid_days {
            let deadline = today + chrono::Duration::days(days);
            fields.insert("deadline".into(), Value::String(deadline.format("%Y-%m-%d").to_string()));
        }
        let input: NeedInput =
            serde_json::from_value(Value::Object(fields)).map_err(|e| DemoError::Data(format!("need: {e}")))?;
        let content = NeedContent::parse(&input, today)?;
        let need =
            Need { meta: RecordMeta::new(new_id(), org.id.clone(), org.name.clone(), user.id.clone(), at), content };
        out.push(need);
    }
    Ok(out)
}

fn build_achievements(
    orgs: &HashMap<String, Organisation>,
    users: &HashMap<String, User>,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<Achievement>, DemoError> {
    let records: Vec<DemoRecord> = parse("achievements.json", ACHIEVEMENTS)?;
    let mut out = Vec::new();
    for record in &records {
        let (org, user, fields) = fields_of(record, orgs, users)?;
        let input: AchievementInput =
            serde_json::from_value(Value::Object(fields)).map_err(|e| DemoError::Data(format!("achievement: {e}")))?;
        let content = AchievementContent::parse(&input)?;
        let achievement = Achievement {
            meta: RecordMeta::new(new_id(), org.id.clone(), org.name.clone(), user.id.clone(), at),
            content,
        };
        out.push(achievement);
    }
    Ok(out)
}

/// The header line naming the database a tokens file belongs to.
const DATABASE_LINE: &str = "# database: ";

/// Where the demo tokens of `database` go: `demo-tokens.env`, unless that file holds another
/// database's tokens (a run on PostgreSQL after one on SQLite in the same folder), which are
/// kept; then `demo-tokens-<first 8 characters of the database id>.env`.
pub fn tokens_path(dir: &std::path::Path, database: &str) -> std::path::PathBuf {
    let default = dir.join("demo-tokens.env");
    let owner = std::fs::read_to_string(&default)
        .ok()
        .map(|text| text.lines().find_map(|l| l.strip_prefix(DATABASE_LINE).map(|id| id.trim().to_string())));
    match owner {
        None => default,
        Some(Some(id)) if id == database => default,
        Some(_) => dir.join(format!("demo-tokens-{}.env", database.chars().take(8).collect::<String>())),
    }
}

/// Prints the demo tokens and writes them for `source` (see `tokens_path`).
pub fn print_tokens(seeded: &Seeded, config: &Config, port: u16) -> Result<(), DemoError> {
    let path = tokens_path(&config.data.dir, &seeded.database);
    let mut env = format!("# techmarket demo tokens; load with: source {}\n", path.display());
    env.push_str(&format!("{DATABASE_LINE}{}\n", seeded.database));
    env.push_str(&format!("export TM=http://{}:{port}\n", config.server.host));
    env.push_str(&format!(
        "# the password of every demo user below, with its login\nexport TM_DEMO_PASSWORD={}\n",
        seeded.password
    ));
    for t in &seeded.tokens {
        env.push_str(&format!(
            "# {} ({}, {})\nexport {}={}\nexport {}_LOGIN={}\n",
            t.user,
            t.role.label(),
            t.organisation,
            t.variable,
            t.secret,
            t.variable,
            t.login
        ));
    }
    std::fs::create_dir_all(&config.data.dir).map_err(|source| DemoError::Write { path: path.clone(), source })?;
    crate::files::write_private(&path, env.as_bytes())
        .map_err(|source| DemoError::Write { path: path.clone(), source })?;
    if seeded.created {
        println!("demo data loaded: {} needs, {} achievements", seeded.needs, seeded.achievements);
    } else {
        println!("demo data already present; issued fresh demo tokens");
    }
    if !path.ends_with("demo-tokens.env") {
        println!("demo-tokens.env holds another database's tokens and was kept");
    }
    println!("demo tokens (also in {}):", path.display());
    for t in &seeded.tokens {
        println!(
            "  {:<15} {} · {} · {} · 登录名 login {}",
            t.variable,
            t.user,
            t.role.label(),
            t.organisation,
            t.login
        );
    }
    println!("demo password (every demo user; new at each start): {}", seeded.password);
    println!("try: source {} && curl -s -H \"Authorization: Bearer $TM_MANAGER\" $TM/api/v1/needs", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_tokens_of_another_database_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(tokens_path(dir.path(), "aaaa1111bbbb"), dir.path().join("demo-tokens.env"));
        std::fs::write(dir.path().join("demo-tokens.env"), "# techmarket\n# database: aaaa1111bbbb\n").unwrap();
        assert_eq!(tokens_path(dir.path(), "aaaa1111bbbb"), dir.path().join("demo-tokens.env"), "its own: replaced");
        assert_eq!(tokens_path(dir.path(), "cccc2222dddd"), dir.path().join("demo-tokens-cccc2222.env"));
        std::fs::write(dir.path().join("demo-tokens.env"), "export TM_ADMIN=x\n").unwrap();
        assert_eq!(
            tokens_path(dir.path(), "cccc2222dddd"),
            dir.path().join("demo-tokens-cccc2222.env"),
            "unknown: kept"
        );
    }
}
