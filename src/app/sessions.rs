//! Signing in with a login and a password: sessions, the limit on guessing, password changes
//! and resets, and the first admin. Passwords are hashed with argon2id at OWASP's recommended
//! parameters (19 MiB, 2 passes, 1 lane) on the blocking threads, never on the async ones.

use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};

use super::views::{SessionResponse, SignedInResponse};
use super::{Actor, App, Code, Error, Result, accounts};
use crate::domain::account::{
    PasswordChangeInput, PasswordResetInput, Session, SessionSecret, SignInInput, check_new_password, normalise_login,
};
use crate::domain::audit::Outcome;
use crate::domain::new_id;
use crate::domain::org::{User, hash_token};
use crate::domain::record::{Credential, Origin, Principal};
use crate::domain::validate::ValidationErrors;
use crate::domain::vocab::Role;
use crate::storage::StoreError;

/// argon2id's cost: OWASP's recommended minimum (m = 19 MiB, t = 2, p = 1).
const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
const ARGON2_PASSES: u32 = 2;
const ARGON2_LANES: u32 = 1;

fn argon2() -> argon2::Argon2<'static> {
    let params = argon2::Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, None)
        .expect("argon2's recommended parameters are valid");
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

/// Hashes a password (PHC string with its own random salt), on a blocking thread.
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|_| Error::internal())?;
        let salt = SaltString::encode_b64(&salt).map_err(|_| Error::internal())?;
        argon2().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|_| Error::internal())
    })
    .await
    .map_err(|_| Error::internal())?
}

/// Whether `password` matches `hash`, on a blocking thread. Without a hash (an unknown login, a
/// user without a password) a stand-in hash is checked, so the answer takes as long either way.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool> {
    static STAND_IN: OnceLock<String> = OnceLock::new();
    let stand_in = match STAND_IN.get() {
        Some(h) => h.clone(),
        None => {
            let h = hash_password(crate::domain::org::hex_random()).await?;
            STAND_IN.get_or_init(|| h).clone()
        }
    };
    let known = hash.is_some();
    let hash = hash.unwrap_or(stand_in);
    let matches = tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        PasswordHash::new(&hash).is_ok_and(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(|_| Error::internal())?;
    Ok(known && matches)
}

fn required(e: &mut ValidationErrors, field: &str, value: Option<&str>) -> String {
    match value {
        Some(v) if !v.is_empty() => v.to_string(),
        _ => {
            e.add(field, "required", format!("请填写「{field}」"), format!("`{field}` is required"));
            String::new()
        }
    }
}

/// A new session's secrets and metadata.
pub struct SignedIn {
    pub secret: String,
    pub csrf: String,
    pub response: SignedInResponse,
}

/// The keys the limit on guessing counts failures under.
fn failure_keys(login: &str, origin: &Origin) -> [String; 2] {
    [format!("login:{login}"), format!("client:{}", origin.client.as_deref().unwrap_or("unknown"))]
}

/// Refuses a sign-in while the login or the client address has had too many failures in the
/// window; says when to try again.
async fn check_attempts(cx: &App, keys: &[String; 2]) -> Result<()> {
    let a = &cx.accounts;
    for (key, max) in [(&keys[0], a.max_failures_per_login), (&keys[1], a.max_failures_per_client)] {
        within_limit(
            cx,
            key,
            max,
            "failed sign-ins for this login or from this address",
            "该账号或该地址登录失败次数过多",
        )
        .await?;
    }
    Ok(())
}

/// Refuses (429, with when to try again) once `key` has `max` attempts recorded within the
/// configured window: the limit on guessing, and on applications from one address.
pub(crate) async fn within_limit(cx: &App, key: &str, max: i64, what: &str, what_zh: &str) -> Result<()> {
    let window = Duration::minutes(cx.accounts.failure_window_minutes);
    let now = cx.clock.now();
    let (count, earliest) = cx.store.sign_in_failures(key, now - window).await?;
    if count < max {
        return Ok(());
    }
    let seconds = ((earliest.unwrap_or(now) + window) - now).num_seconds().max(1) as u64;
    tracing::warn!(key = key.split(':').next().unwrap_or(""), "refused: too many attempts");
    let mut e = Error::new(Code::TooManyAttempts, format!("too many {what}: try again in {seconds} seconds"))
        .zh(format!("{what_zh}，请在 {seconds} 秒后再试"));
    e.retry_after = Some(seconds);
    Err(e)
}

/// Signs in with a login and a password. A wrong password and an unknown login get the same
/// answer after the same work; each failure counts against the login and the address, and is
/// audited; so is each sign-in.
pub async fn sign_in(cx: &App, input: SignInInput, origin: Origin) -> Result<SignedIn> {
    let mut e = ValidationErrors::default();
    let login_text = required(&mut e, "login", input.login.as_deref());
    let password = required(&mut e, "password", input.password.as_deref());
    e.finish(|| ())?;
    let login = normalise_login("login", &login_text)?;
    let keys = failure_keys(&login, &origin);
    check_attempts(cx, &keys).await?;
    let found = cx.store.find_login(&login).await?;
    let hash = found.as_ref().and_then(|c| c.password_hash.clone());
    let user_id = found.as_ref().map(|c| c.user_id.clone());
    if !verify_password(password, hash).await? {
        let mut unit = cx.begin(Actor::Anonymous(origin, user_id)).await?;
        let at = unit.at();
        for key in &keys {
            unit.add_sign_in_failure(key, at).await?;
        }
        unit.audit("sign_in", Vec::new(), Outcome::Failed, Code::InvalidCredentials.as_str());
        unit.commit().await?;
        return Err(Error::new(Code::InvalidCredentials, "the login or the password is wrong").zh("登录名或密码不正确"));
    }
    let credentials = found.ok_or_else(Error::internal)?;
    let user = cx.store.get_user(&credentials.user_id).await?.ok_or_else(Error::internal)?;
    let secret = SessionSecret::generate();
    let at = cx.clock.now();
    let session = Session {
        id: new_id(),
        user_id: user.id.clone(),
        prefix: secret.prefix.clone(),
        created_at: at,
        last_seen_at: at,
        expires_at: at + Duration::hours(cx.accounts.session_max_hours),
        ended_at: None,
        client: origin.client.clone().unwrap_or_default(),
    };
    let principal = Principal {
        user_id: user.id.clone(),
        user_name: user.name.clone(),
        org_id: user.org_id.clone(),
        role: user.role,
        credential: Credential::Session { id: session.id.clone(), prefix: session.prefix.clone(), cookie: false },
        must_change_password: credentials.must_change_password,
        org_pending: !accounts::org_approved(cx, &user.org_id).await?,
        origin,
    };
    let mut unit = cx.begin(&principal).await?;
    unit.insert_session(&session, &secret.hash, &secret.csrf_hash).await?;
    unit.clear_sign_in_failures(&keys[0]).await?;
    unit.audit("sign_in", vec![session.id.clone()], Outcome::Ok, "");
    unit.commit().await?;
    tracing::info!(user_id = %user.id, session = %session.prefix, "signed in");
    let me = accounts::me(cx, &principal).await?;
    Ok(SignedIn {
        response: SignedInResponse {
            token: secret.secret.clone(),
            csrf_token: secret.csrf.clone(),
            session: session_view(cx, &session, Some(&session.id)),
            user: me,
            must_change_password: credentials.must_change_password,
        },
        secret: secret.secret,
        csrf: secret.csrf,
    })
}

fn session_view(cx: &App, s: &Session, current: Option<&str>) -> SessionResponse {
    SessionResponse {
        id: s.id.clone(),
        prefix: s.prefix.clone(),
        created_at: s.created_at,
        last_seen_at: s.last_seen_at,
        idle_expires_at: idle_end(cx, s.last_seen_at).min(s.expires_at),
        expires_at: s.expires_at,
        ended_at: s.ended_at,
        client: s.client.clone(),
        current: current == Some(s.id.as_str()),
    }
}

fn idle_end(cx: &App, last_seen: DateTime<Utc>) -> DateTime<Utc> {
    last_seen + Duration::minutes(cx.accounts.session_idle_minutes)
}

/// `last_seen_at` is refreshed at most this often, so reads do not turn into writes.
const TOUCH_INTERVAL_SECS: i64 = 60;

/// The user a session's secret acts for, if the session is open: not ended, not idle past the
/// configured time, not past its absolute end. A write carried by the cookie (`cookie`, with
/// `write`) must send the session's CSRF token.
pub async fn authenticate(cx: &App, secret: &str, cookie: bool, write: bool, csrf: Option<&str>) -> Result<Principal> {
    let ended = || {
        Error::new(Code::SessionExpired, "the session has ended: sign in again (POST /api/v1/sessions)")
            .zh("登录已失效，请重新登录")
    };
    let Some(found) = cx.store.find_session_by_hash(&hash_token(secret)).await? else {
        return Err(ended());
    };
    let now = cx.clock.now();
    let s = &found.session;
    if s.ended_at.is_some() || now >= s.expires_at || now >= idle_end(cx, s.last_seen_at) {
        return Err(ended());
    }
    if cookie && write && csrf.is_none_or(|token| hash_token(token) != found.csrf_hash) {
        return Err(Error::new(
            Code::CsrfRejected,
            "a write signed in by the session cookie needs the header `X-CSRF-Token` with the CSRF token given at sign-in",
        ));
    }
    if (now - s.last_seen_at).num_seconds() >= TOUCH_INTERVAL_SECS {
        let touched = async {
            let mut unit = cx.begin(Actor::System("authentication")).await?;
            unit.touch_session(&s.id, now).await?;
            unit.commit().await
        };
        if let Err(error) = touched.await {
            // Recording the use is bookkeeping: a failure is logged, the request goes on.
            tracing::warn!(%error, session = %s.prefix, "could not record session use");
        }
    }
    Ok(Principal {
        user_id: s.user_id.clone(),
        user_name: found.user_name,
        org_id: found.org_id,
        role: found.role,
        credential: Credential::Session { id: s.id.clone(), prefix: s.prefix.clone(), cookie },
        must_change_password: found.must_change_password,
        org_pending: !found.org_approved,
        origin: Origin::default(),
    })
}

/// Ends the session of the request (a token cannot sign out: revoke it instead).
pub async fn sign_out(cx: &App, who: &Principal) -> Result<()> {
    let Credential::Session { id, .. } = &who.credential else {
        return Err(Error::new(
            Code::FieldNotAllowed,
            "this request is signed in by an API token, not a session: revoke the token instead (DELETE /api/v1/tokens/{id})",
        ));
    };
    let mut unit = cx.begin(who).await?;
    let at = unit.at();
    unit.end_session(id, at).await?;
    unit.audit("sign_out", vec![id.clone()], Outcome::Ok, "");
    unit.commit().await?;
    Ok(())
}

/// The signed-in user's sessions, newest first.
pub async fn sessions(cx: &App, who: &Principal) -> Result<Vec<SessionResponse>> {
    let current = match &who.credential {
        Credential::Session { id, .. } => Some(id.as_str()),
        _ => None,
    };
    Ok(cx.store.list_sessions(&who.user_id).await?.iter().map(|s| session_view(cx, s, current)).collect())
}

/// Changes the signed-in user's password, which ends every other session of the user.
pub async fn change_password(cx: &App, who: &Principal, input: PasswordChangeInput) -> Result<()> {
    let mut e = ValidationErrors::default();
    let current = required(&mut e, "current_password", input.current_password.as_deref());
    let new = required(&mut e, "new_password", input.new_password.as_deref());
    e.finish(|| ())?;
    let credentials = cx.store.get_credentials(&who.user_id).await?.ok_or_else(Error::internal)?;
    check_new_password("new_password", &new, credentials.login.as_deref())?;
    if !verify_password(current, credentials.password_hash.clone()).await? {
        let mut unit = cx.begin(who).await?;
        unit.audit("change_password", vec![who.user_id.clone()], Outcome::Failed, Code::InvalidCredentials.as_str());
        unit.commit().await?;
        let mut e = ValidationErrors::default();
        e.add("current_password", "wrong_password", "当前密码不正确", "the current password is wrong");
        return Err(e.into());
    }
    let hash = hash_password(new).await?;
    let keep = match &who.credential {
        Credential::Session { id, .. } => Some(id.as_str()),
        _ => None,
    };
    let mut unit = cx.begin(who).await?;
    let at = unit.at();
    unit.set_password(&who.user_id, &hash, false, at).await?;
    let ended = unit.end_sessions(&who.user_id, keep, at).await?;
    unit.audit("change_password", vec![who.user_id.clone()], Outcome::Ok, &format!("{ended} other sessions ended"));
    unit.commit().await?;
    tracing::info!(user_id = %who.user_id, ended, "password changed");
    Ok(())
}

fn admin_only(who: &Principal) -> Result<()> {
    if who.role == Role::Admin {
        Ok(())
    } else {
        Err(Error::forbidden("passwords and sessions of other users are for administrators")
            .zh("只有管理员可以重置他人的密码或结束他人的会话"))
    }
}

/// Sets a user's login (if given) and a temporary password the user must change at the next
/// sign-in, and ends the user's sessions (administrators).
pub async fn reset_password(cx: &App, who: &Principal, user_id: &str, input: PasswordResetInput) -> Result<()> {
    admin_only(who)?;
    let credentials = cx.store.get_credentials(user_id).await?.ok_or_else(|| Error::not_found("user", user_id))?;
    let mut e = ValidationErrors::default();
    let temporary = required(&mut e, "temporary_password", input.temporary_password.as_deref());
    e.finish(|| ())?;
    let login = match input.login.as_deref() {
        Some(text) => Some(normalise_login("login", text)?),
        None if credentials.login.is_some() => None,
        None => {
            let mut e = ValidationErrors::default();
            e.add(
                "login",
                "required",
                "该用户还没有登录名：请填写「login」（手机号或邮箱）",
                "the user has no login yet: give `login` (a mobile number or an e-mail address)",
            );
            return Err(e.into());
        }
    };
    check_new_password("temporary_password", &temporary, login.as_deref().or(credentials.login.as_deref()))?;
    let hash = hash_password(temporary).await?;
    let mut unit = cx.begin(who).await?;
    let at = unit.at();
    if let Some(login) = &login {
        unit.set_login(user_id, Some(login), at).await.map_err(login_taken)?;
    }
    unit.set_password(user_id, &hash, true, at).await?;
    unit.end_sessions(user_id, None, at).await?;
    unit.audit("reset_password", vec![user_id.to_string()], Outcome::Ok, "");
    unit.commit().await?;
    tracing::info!(user_id, by = %who.user_id, "password reset");
    Ok(())
}

pub(crate) fn login_taken(e: StoreError) -> Error {
    match e {
        StoreError::UniqueViolation { .. } => {
            Error::new(Code::LoginTaken, "another user has this login").zh("该手机号或邮箱已被其他用户使用")
        }
        other => other.into(),
    }
}

/// Ends every session of a user (administrators); how many were open.
pub async fn end_sessions(cx: &App, who: &Principal, user_id: &str) -> Result<u64> {
    admin_only(who)?;
    cx.store.get_user(user_id).await?.ok_or_else(|| Error::not_found("user", user_id))?;
    let mut unit = cx.begin(who).await?;
    let at = unit.at();
    let ended = unit.end_sessions(user_id, None, at).await?;
    unit.audit("end_sessions", vec![user_id.to_string()], Outcome::Ok, &format!("{ended} sessions ended"));
    unit.commit().await?;
    Ok(ended)
}

/// Gives the operator's admin (created if the install has none) a login and a password: how
/// the first admin of a fresh install signs in, and how an operator who lost the admin's
/// password sets a new one. The command line reads the password from the terminal or a file.
pub async fn set_admin_password(cx: &App, login: &str, password: String) -> Result<(User, String)> {
    let login = normalise_login("login", login)?;
    check_new_password("password", &password, Some(&login))?;
    let (admin, _) = accounts::bootstrap_admin_user(cx).await?;
    let hash = hash_password(password).await?;
    let mut unit = cx.begin(Actor::System(accounts::COMMAND_LINE)).await?;
    let at = unit.at();
    unit.set_login(&admin.id, Some(&login), at).await.map_err(login_taken)?;
    unit.set_password(&admin.id, &hash, false, at).await?;
    unit.end_sessions(&admin.id, None, at).await?;
    unit.audit("set_admin_password", vec![admin.id.clone()], Outcome::Ok, "");
    unit.commit().await?;
    Ok((admin, login))
}

/// Gives users logins and one password (the demo's users, whom a newcomer signs in as); a login
/// another user holds is refused.
pub async fn give_logins(cx: &App, actor: Actor, logins: &[(String, String)], password: String) -> Result<()> {
    let hash = hash_password(password).await?;
    let mut unit = cx.begin(actor).await?;
    let at = unit.at();
    for (user_id, login) in logins {
        unit.set_login(user_id, Some(login), at).await.map_err(login_taken)?;
        unit.set_password(user_id, &hash, false, at).await?;
    }
    unit.commit().await?;
    Ok(())
}
