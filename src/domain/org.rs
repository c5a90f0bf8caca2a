//! Organisations, users and their API tokens.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::validate::{self as v, ValidationErrors};
use super::vocab::{OrgKind, Role};

#[derive(Debug, Clone, PartialEq)]
pub struct Organisation {
    pub id: String,
    pub name: String,
    pub kind: OrgKind,
    pub region: String,
    pub created_at: DateTime<Utc>,
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
    /// Expiry as RFC 3339; absent means no expiry.
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
