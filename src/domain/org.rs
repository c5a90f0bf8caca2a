//! Organisations, users and their API tokens.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::validate::{self as v, ValidationErrors};
use super::vocab::{OrgKind, OrgStatus, Role};

#[derive(Debug, Clone, PartialEq)]
pub struct Organisation {
    pub id: String,
    pub name: String,
    pub kind: OrgKind,
    pub region: String,
    pub created_at: DateTime<Utc>,
    /// 统一社会信用代码, given when the organisation applied by itself.
    pub credit_code: Option<String>,
    pub status: OrgStatus,
    /// Why a manager rejected (or a note on approving) the application.
    pub review_reason: String,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
}

impl Organisation {
    /// An organisation as an admin registers it (approved at once), at `at`.
    pub fn registered(new: NewOrganisation, at: DateTime<Utc>) -> Organisation {
        Organisation {
            id: super::new_id(),
            name: new.name,
            kind: new.kind,
            region: new.region,
            created_at: at,
            credit_code: None,
            status: OrgStatus::Approved,
            review_reason: String::new(),
            reviewed_by: None,
            reviewed_at: None,
        }
    }
}

/// The characters of a 统一社会信用代码 (GB 32100-2015): digits and capital letters but I, O, S,
/// V and Z; each stands for its position in this list.
const CREDIT_CODE_CHARS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
/// The weight of each of the first 17 characters: 3^(i-1) mod 31.
const CREDIT_CODE_WEIGHTS: [usize; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// The check character (the 18th) of the first 17 characters of a 统一社会信用代码, if they are
/// all of its alphabet.
pub fn credit_code_check(first17: &str) -> Option<char> {
    let values: Vec<usize> = first17.chars().map(|c| CREDIT_CODE_CHARS.find(c)).collect::<Option<_>>()?;
    if values.len() != 17 {
        return None;
    }
    let sum: usize = values.iter().zip(CREDIT_CODE_WEIGHTS).map(|(v, w)| v * w).sum();
    CREDIT_CODE_CHARS.chars().nth((31 - sum % 31) % 31)
}

/// A 统一社会信用代码 as stored (upper case, no spaces), if it is 18 characters of its alphabet
/// whose last is the check character of the others.
pub fn normalise_credit_code(text: &str) -> Result<String, String> {
    let code: String = text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase();
    if code.chars().count() != 18 {
        return Err(format!("should be 18 characters (got {})", code.chars().count()));
    }
    if let Some(bad) = code.chars().find(|c| !CREDIT_CODE_CHARS.contains(*c)) {
        return Err(format!("`{bad}` is not one of its characters (digits and capitals but I, O, S, V, Z)"));
    }
    let (first17, last) = code.split_at(17);
    match credit_code_check(first17) {
        Some(check) if last.starts_with(check) => Ok(code),
        Some(check) => Err(format!("the check character does not fit: a code beginning {first17} ends in {check}")),
        None => Err("is not a credit code".into()),
    }
}

/// `POST /applications`: an organisation applies to join, with the user who will act for it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationInput {
    /// Full registered name, e.g. 东营石大科技有限公司.
    pub name: Option<String>,
    /// 统一社会信用代码 (18 characters, GB 32100-2015).
    pub credit_code: Option<String>,
    /// enterprise | university | institute
    pub kind: Option<String>,
    /// 6-digit administrative division code.
    pub region: Option<String>,
    /// The applicant's name.
    pub applicant_name: Option<String>,
    /// The applicant's login: a mobile number or an e-mail address.
    pub login: Option<String>,
    /// The applicant's password (10 characters or more, not a common one).
    pub password: Option<String>,
}

/// A checked application.
#[derive(Debug, Clone, PartialEq)]
pub struct NewApplication {
    pub organisation: NewOrganisation,
    pub credit_code: String,
    pub applicant_name: String,
    pub login: String,
    pub password: String,
}

impl NewApplication {
    pub fn parse(input: &ApplicationInput) -> Result<NewApplication, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let name = v::required_text(&mut e, "name", input.name.as_deref(), 100);
        let kind = v::vocab::<OrgKind>(&mut e, "kind", input.kind.as_deref(), true);
        if kind == Some(OrgKind::Operator) {
            e.add(
                "kind",
                "invalid_kind",
                "只有企业、高校和科研院所可以申请入驻（kind 为 enterprise、university 或 institute）",
                "only enterprises, universities and institutes apply to join (kind enterprise, university or institute)",
            );
        }
        let region = v::region_code(&mut e, "region", input.region.as_deref(), true);
        let applicant_name = v::required_text(&mut e, "applicant_name", input.applicant_name.as_deref(), 50);
        let code_text = v::required_text(&mut e, "credit_code", input.credit_code.as_deref(), 40);
        let credit_code = match normalise_credit_code(&code_text) {
            Ok(code) => code,
            Err(why) if !code_text.is_empty() => {
                e.add(
                    "credit_code",
                    "invalid_credit_code",
                    format!("「统一社会信用代码」不正确：{why}（收到 `{code_text}`）"),
                    format!("`credit_code` is not a unified social credit code: {why} (got `{code_text}`)"),
                );
                String::new()
            }
            Err(_) => String::new(),
        };
        let login = match input.login.as_deref() {
            Some(text) => super::account::normalise_login("login", text).unwrap_or_else(|errors| {
                e.0.extend(errors.0);
                String::new()
            }),
            None => {
                e.add(
                    "login",
                    "required",
                    "请填写「login」（手机号或邮箱）",
                    "`login` is required (a mobile number or an e-mail address)",
                );
                String::new()
            }
        };
        let password = input.password.clone().unwrap_or_default();
        if let Err(errors) = super::account::check_new_password("password", &password, Some(&login)) {
            e.0.extend(errors.0);
        }
        let Some(kind) = kind else { return Err(e) };
        e.finish(|| NewApplication {
            organisation: NewOrganisation { name, kind, region },
            credit_code,
            applicant_name,
            login,
            password,
        })
    }

    /// The role of the applicant: an enterprise's user, or a university's or institute's.
    pub fn role(&self) -> Role {
        if self.organisation.kind.owns_achievements() { Role::University } else { Role::Enterprise }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganisationInput {
    /// Full registered name, e.g. 东营石大科技有限公司.
    pub name: Option<String>,
    /// enterprise | university | institute | operator
    pub kind: Option<String>,
    /// 6-digit administrative division code.
    pub region: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewOrganisation {
    pub name: String,
    pub kind: OrgKind,
    pub region: String,
}

impl NewOrganisation {
    pub fn parse(input: &OrganisationInput) -> Result<NewOrganisation, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let name = v::required_text(&mut e, "name", input.name.as_deref(), 100);
        let kind = v::vocab::<OrgKind>(&mut e, "kind", input.kind.as_deref(), true);
        let region = v::region_code(&mut e, "region", input.region.as_deref(), true);
        let Some(kind) = kind else { return Err(e) };
        e.finish(|| NewOrganisation { name, kind, region })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub role: Role,
    pub email: String,
    pub phone: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    pub org_id: Option<String>,
    pub name: Option<String>,
    /// enterprise | university | manager | admin; must suit the organisation's kind.
    pub role: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewUser {
    pub org_id: String,
    pub name: String,
    pub role: Role,
    pub email: String,
    pub phone: String,
}

impl NewUser {
    /// Validates the fields; the organisation's existence and kind are checked against the store.
    pub fn parse(input: &UserInput) -> Result<NewUser, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let org_id = v::required_text(&mut e, "org_id", input.org_id.as_deref(), 64);
        let name = v::required_text(&mut e, "name", input.name.as_deref(), 50);
        let role = v::vocab::<Role>(&mut e, "role", input.role.as_deref(), true);
        let contact = v::Contact::validate(
            &mut e,
            "user",
            Some(&v::Contact {
                name: String::new(),
                phone: input.phone.clone().unwrap_or_default(),
                email: input.email.clone().unwrap_or_default(),
            }),
        );
        let Some(role) = role else { return Err(e) };
        e.finish(|| NewUser { org_id, name, role, email: contact.email, phone: contact.phone })
    }

    /// Checks that the role fits the kind of organisation the user joins.
    pub fn check_org_kind(&self, kind: OrgKind) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::default();
        if !self.role.allowed_org_kinds().contains(&kind) {
            let allowed: Vec<&str> = self.role.allowed_org_kinds().iter().map(|k| k.code()).collect();
            let allowed_zh: Vec<&str> = self.role.allowed_org_kinds().iter().map(|k| k.label()).collect();
            e.add(
                "role",
                "role_mismatch",
                format!(
                    "角色为 `{}` 的用户只能属于以下类型的机构：{}（该机构是{}）",
                    self.role,
                    allowed_zh.join("、"),
                    kind.label()
                ),
                format!(
                    "a user with role `{}` must belong to an organisation of kind {} (this one is `{}`)",
                    self.role,
                    allowed.join(" or "),
                    kind
                ),
            );
        }
        e.finish(|| ())
    }
}

/// A token's metadata; the secret itself is shown once, at creation, and stored only as a hash.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiToken {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    /// What the token is for, e.g. "科研处批量上传".
    pub name: Option<String>,
    /// Expiry as RFC 3339; absent: `accounts.token_days` (365) after issue.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A freshly generated secret: the text given to the user once, and what is stored.
pub struct TokenSecret {
    pub secret: String,
    pub hash: String,
    pub prefix: String,
}

/// Prefix that makes techmarket tokens recognisable (e.g. by secret scanners).
pub const TOKEN_PREFIX: &str = "tm_";

impl TokenSecret {
    /// 32 random bytes from the operating system, hex encoded behind `tm_`.
    pub fn generate() -> TokenSecret {
        let secret = format!("{TOKEN_PREFIX}{}", hex_random());
        TokenSecret { hash: hash_token(&secret), prefix: secret[..TOKEN_PREFIX.len() + 8].to_string(), secret }
    }
}

/// Tokens carry 256 random bits, so a fast hash is enough: nothing to brute-force.
pub fn hash_token(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// 32 random bytes from the operating system, hex encoded.
pub fn hex_random() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    hex(&bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credit_code_is_checked_by_its_check_character() {
        // Published codes: the 18th character is the check character of the other 17.
        assert_eq!(normalise_credit_code("91350100M000100Y43"), Ok("91350100M000100Y43".into()));
        assert_eq!(normalise_credit_code(" 91370502ma3mq7k5xe "), Ok("91370502MA3MQ7K5XE".into()));
        assert!(normalise_credit_code("91350100M000100Y44").unwrap_err().contains("ends in 3"));
        assert!(normalise_credit_code("91350100M000100Y4").is_err(), "17 characters");
        assert!(normalise_credit_code("91350100I000100Y43").unwrap_err().contains("`I`"));
        assert_eq!(credit_code_check("12370000495571860"), Some('N'));
    }

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let a = TokenSecret::generate();
        let b = TokenSecret::generate();
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with("tm_") && a.secret.len() == 67);
        assert_eq!(a.hash, hash_token(&a.secret));
        assert!(!a.hash.contains(&a.secret[3..]));
    }

    #[test]
    fn a_manager_cannot_belong_to_an_enterprise() {
        let user = NewUser {
            org_id: "o".into(),
            name: "李经理".into(),
            role: Role::Manager,
            email: String::new(),
            phone: String::new(),
        };
        let err = user.check_org_kind(OrgKind::Enterprise).unwrap_err();
        assert_eq!(err.0[0].code, "role_mismatch");
        assert!(user.check_org_kind(OrgKind::Operator).is_ok());
    }
}
