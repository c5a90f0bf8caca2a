//! Joining the market: an organisation applies by itself (its name, 统一社会信用代码, kind and
//! region, and its applicant's login and password); a technology manager approves or rejects the
//! application with a reason. Until approved, the applicant signs in and prepares private
//! drafts, publishes nothing, is matched with nothing and sees only its own
//! (`Principal::org_pending`, applied in `domain::record::can_view`, the listing and search
//! queries, `records::check_publishable` and the import).

use super::views::{ApplicationResponse, OrganisationResponse};
use super::{Actor, App, Code, Error, Result, sessions};
use crate::domain::audit::Outcome;
use crate::domain::new_id;
use crate::domain::org::{NewApplication, Organisation, User};
use crate::domain::record::{Origin, Principal};
use crate::domain::validate::ValidationErrors;
use crate::domain::vocab::OrgStatus;
use crate::storage::StoreError;

fn taken(e: StoreError) -> Error {
    match e {
        StoreError::UniqueViolation { constraint } if constraint.contains("credit_code") => Error::new(
            Code::AlreadyExists,
            "an organisation with this unified social credit code is registered already",
        )
        .zh("该统一社会信用代码已有机构注册：如需加入该机构，请联系其管理员或科技大市场运营中心"),
        StoreError::UniqueViolation { ref constraint } if constraint.contains("login") => sessions::login_taken(e),
        StoreError::UniqueViolation { .. } => {
            Error::new(Code::AlreadyExists, "an organisation with this name is registered already")
                .zh("已有同名机构注册")
        }
        other => other.into(),
    }
}

/// Files an application: the organisation (pending) and its applicant, who can sign in at once.
pub async fn apply(cx: &App, application: NewApplication, origin: Origin) -> Result<ApplicationResponse> {
    let key = format!("apply:{}", origin.client.as_deref().unwrap_or("unknown"));
    // An address files no more applications in the window than it may make failed sign-ins:
    // nobody fills the market with organisations from one machine.
    let max = cx.accounts.max_failures_per_client;
    sessions::within_limit(cx, &key, max, "applications from this address", "该地址提交的入驻申请过多").await?;
    let hash = sessions::hash_password(application.password.clone()).await?;
    let mut unit = cx.begin(Actor::Anonymous(origin, None)).await?;
    let at = unit.at();
    let mut org = Organisation::registered(application.organisation.clone(), at);
    org.status = OrgStatus::Pending;
    org.credit_code = Some(application.credit_code.clone());
    let user = User {
        id: new_id(),
        org_id: org.id.clone(),
        name: application.applicant_name.clone(),
        role: application.role(),
        email: if application.login.contains('@') { application.login.clone() } else { String::new() },
        phone: if application.login.contains('@') { String::new() } else { application.login.clone() },
        created_at: at,
    };
    unit.insert_organisation(&org).await.map_err(taken)?;
    unit.insert_user(&user).await?;
    unit.set_login(&user.id, Some(&application.login), at).await.map_err(taken)?;
    unit.set_password(&user.id, &hash, false, at).await?;
    unit.add_sign_in_failure(&key, at).await?;
    unit.audit("apply", vec![org.id.clone(), user.id.clone()], Outcome::Ok, "");
    unit.commit().await?;
    tracing::info!(org_id = %org.id, user_id = %user.id, "an organisation applied to join");
    Ok(ApplicationResponse {
        organisation: OrganisationResponse::from(&org),
        user_id: user.id,
        login: application.login,
        next: "sign in with the login and password (POST /api/v1/sessions) and prepare drafts; a technology manager reviews the application".into(),
    })
}

fn staff_only(who: &Principal) -> Result<()> {
    if who.role.is_staff() {
        Ok(())
    } else {
        Err(Error::forbidden("applications to join are reviewed by technology managers").zh("入驻申请由技术经理人审核"))
    }
}

/// The applications of a status (pending by default), oldest first (staff).
pub async fn applications(cx: &App, who: &Principal, status: OrgStatus) -> Result<Vec<OrganisationResponse>> {
    staff_only(who)?;
    let mut orgs: Vec<Organisation> = cx
        .store
        .list_organisations()
        .await?
        .into_iter()
        .filter(|o| o.credit_code.is_some() && o.status == status)
        .collect();
    orgs.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    Ok(orgs.iter().map(OrganisationResponse::from).collect())
}

/// A manager's decision on a pending application: approve (with an optional note) or reject
/// (with the reason, which the applicant reads on its organisation).
pub async fn review(
    cx: &App,
    who: &Principal,
    org_id: &str,
    approve: bool,
    reason: Option<&str>,
) -> Result<OrganisationResponse> {
    staff_only(who)?;
    let reason = reason.map(str::trim).unwrap_or_default();
    if !approve && reason.is_empty() || reason.chars().count() > 500 {
        let mut e = ValidationErrors::default();
        e.add(
            "reason",
            "invalid_reason",
            "驳回入驻申请需要填写原因（1 到 500 个字符），申请单位会看到它",
            "a rejection needs a reason (1 to 500 characters), which the applicant reads",
        );
        return Err(e.into());
    }
    let org = cx.store.get_organisation(org_id).await?.ok_or_else(|| Error::not_found("organisation", org_id))?;
    let status = if approve { OrgStatus::Approved } else { OrgStatus::Rejected };
    let mut unit = cx.begin(who).await?;
    let at = unit.at();
    if !unit.review_organisation(org_id, status, reason, &who.user_id, at).await? {
        return Err(Error::new(
            Code::InvalidStatusTransition,
            format!("the organisation is {}, not pending: there is no application to review", org.status),
        )
        .zh(format!("该机构的状态是「{}」，没有待审核的入驻申请", org.status.label())));
    }
    unit.audit(
        if approve { "approve_application" } else { "reject_application" },
        vec![org_id.to_string()],
        Outcome::Ok,
        "",
    );
    unit.commit().await?;
    let reviewed = cx.store.get_organisation(org_id).await?.ok_or_else(Error::internal)?;
    Ok(OrganisationResponse::from(&reviewed))
}
