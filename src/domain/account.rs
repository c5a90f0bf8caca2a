//! Signing in: logins, the password policy, sessions and their secrets. No I/O; hashing the
//! password (argon2id, slow on purpose) is the application layer's, off the async threads.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::org::{hash_token, hex_random};
use super::validate::ValidationErrors;

/// Shortest password accepted (in characters).
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted: long enough for any passphrase, short enough that hashing one
/// costs what hashing any other does.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// The passwords people choose most often, shipped with the service and refused.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// A login as stored: an e-mail address in lower case, or a mainland mobile number as its 11
/// digits (spaces, hyphens and a +86 / 0086 prefix dropped). Anything else is refused.
pub fn normalise_login(field: &str, text: &str) -> Result<String, ValidationErrors> {
    let text = text.trim();
    let mut e = ValidationErrors::default();
    if text.contains('@') {
        let email = text.to_lowercase();
        let valid = email.chars().count() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if valid {
            return Ok(email);
        }
        e.add(
            field,
            "invalid_login",
            format!("「{field}」不是有效的电子邮箱地址（收到 `{text}`）"),
            format!("`{field}` is not an e-mail address (got `{text}`)"),
        );
        return Err(e);
    }
    let digits: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let digits = digits.strip_prefix("+86").or_else(|| digits.strip_prefix("0086")).unwrap_or(&digits);
    let bytes = digits.as_bytes();
    if bytes.len() == 11
        && bytes.iter().all(u8::is_ascii_digit)
        && bytes[0] == b'1'
        && (b'3'..=b'9').contains(&bytes[1])
    {
        return Ok(digits.to_string());
    }
    e.add(
        field,
        "invalid_login",
        format!("「{field}」应为手机号（11 位，1 开头）或电子邮箱地址（收到 `{text}`）"),
        format!("`{field}` must be a mobile number (11 digits starting with 1) or an e-mail address (got `{text}`)"),
    );
    Err(e)
}

/// Whether `password` is one of the common passwords shipped with the service (any case).
pub fn is_common_password(password: &str) -> bool {
    let lower = password.to_lowercase();
    COMMON_PASSWORDS.lines().filter(|l| !l.starts_with('#')).any(|l| l.trim() == lower)
}

/// Checks a new password: 10 to 128 characters, not a common password, not the login itself.
pub fn check_new_password(field: &str, password: &str, login: Option<&str>) -> Result<(), ValidationErrors> {
    let mut e = ValidationErrors::default();
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        e.add(
            field,
            "password_too_short",
            format!("密码至少 {MIN_PASSWORD_CHARS} 个字符（现在 {chars} 个）；用一句好记的话更安全"),
            format!("a password needs at least {MIN_PASSWORD_CHARS} characters (this one has {chars}); a phrase you remember is safer"),
        );
    } else if chars > MAX_PASSWORD_CHARS {
        e.add(
            field,
            "password_too_long",
            format!("密码最多 {MAX_PASSWORD_CHARS} 个字符（现在 {chars} 个）"),
            format!("a password has at most {MAX_PASSWORD_CHARS} characters (this one has {chars})"),
        );
    } else if is_common_password(password) {
        e.add(
            field,
            "password_too_common",
            "这个密码太常见，很容易被猜中：请换一个",
            "this password is among the most common ones and is easily guessed: choose another",
        );
    } else if login.is_some_and(|l| l.eq_ignore_ascii_case(password.trim())) {
        e.add(field, "password_is_login", "密码不能与登录名相同", "the password must not be the login");
    }
    e.finish(|| ())
}

/// A signed-in session's metadata; its secret and CSRF token are stored only as hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    /// The first characters of the secret, to tell sessions apart in lists and logs.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// The absolute end, whatever the use.
    pub expires_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The client address it was opened from.
    pub client: String,
}

/// What a session secret starts with (API tokens start with `tm_`).
pub const SESSION_PREFIX: &str = "tms_";

/// A fresh session's secret and CSRF token (shown once) and their hashes.
pub struct SessionSecret {
    pub secret: String,
    pub hash: String,
    pub prefix: String,
    pub csrf: String,
    pub csrf_hash: String,
}

impl SessionSecret {
    /// 256 random bits for the session, 256 for its CSRF token.
    pub fn generate() -> SessionSecret {
        let secret = format!("{SESSION_PREFIX}{}", hex_random());
        let csrf = hex_random();
        SessionSecret {
            hash: hash_token(&secret),
            prefix: secret[..SESSION_PREFIX.len() + 8].to_string(),
            csrf_hash: hash_token(&csrf),
            secret,
            csrf,
        }
    }
}

/// `POST /sessions`: sign in.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInInput {
    /// Mobile number or e-mail address.
    pub login: Option<String>,
    pub password: Option<String>,
}

/// `PUT /me/password`: change one's own password.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeInput {
    pub current_password: Option<String>,
    pub new_password: Option<String>,
}

/// `POST /users/{id}/password`: an admin sets a login and a temporary password.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetInput {
    /// The user's login (mobile number or e-mail); needed when the user has none yet.
    pub login: Option<String>,
    /// The temporary password; the user must change it at the next sign-in.
    pub temporary_password: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_normalised_to_one_form() {
        assert_eq!(normalise_login("login", " Zhang.Wei@SDU.edu.cn ").unwrap(), "zhang.wei@sdu.edu.cn");
        assert_eq!(normalise_login("login", "+86 138-0546-1234").unwrap(), "13805461234");
        assert_eq!(normalise_login("login", "008613805461234").unwrap(), "13805461234");
        for bad in ["12805461234", "1380546123", "张伟", "a@b", "@sdu.edu.cn", "x@y@z.cn", ""] {
            assert!(normalise_login("login", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn short_common_and_login_passwords_are_refused() {
        let code = |p: &str| check_new_password("password", p, Some("13805461234")).err().map(|e| e.0[0].code);
        assert_eq!(code("短密码123"), Some("password_too_short"));
        assert_eq!(code("Password123"), Some("password_too_common"));
        assert_eq!(code("woaini1314520"), Some("password_too_common"));
        assert_eq!(code("13805461234"), Some("password_is_login"));
        assert_eq!(code(&"长".repeat(129)), Some("password_too_long"));
        assert_eq!(code("黄河口的盐碱地改良2026"), None);
    }

    #[test]
    fn session_secrets_are_random_and_kept_as_hashes() {
        let a = SessionSecret::generate();
        let b = SessionSecret::generate();
        assert_ne!(a.secret, b.secret);
        assert_ne!(a.csrf, a.secret);
        assert!(a.secret.starts_with(SESSION_PREFIX) && a.secret.len() == SESSION_PREFIX.len() + 64);
        assert_eq!(a.hash, hash_token(&a.secret));
        assert_eq!(a.csrf_hash, hash_token(&a.csrf));
    }
}
