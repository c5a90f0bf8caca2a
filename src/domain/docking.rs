//! The docking workflow (项目对接) of DOMAIN.md: one pairing of a need with an achievement, from
//! suggestion to signed contract or its end, as a state machine that says who may do what.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::vocab::TechField;

use super::vocab::{VocabularyEntry, vocabulary};

vocabulary!(
    /// Where a docking stands.
    DockingState {
        Suggested => ("suggested", "系统推荐"),
        Accepted => ("accepted", "经理人确认"),
        Rejected => ("rejected", "已否决"),
        Introduced => ("introduced", "已引荐对接"),
        Negotiating => ("negotiating", "洽谈中"),
        Signed => ("signed", "已签约"),
        Failed => ("failed", "对接未成"),
        Withdrawn => ("withdrawn", "已撤回"),
    }
);

vocabulary!(
    /// What can be done to a docking.
    DockingAction {
        Accept => ("accept", "确认推荐"),
        Reject => ("reject", "否决推荐"),
        Introduce => ("introduce", "引荐双方"),
        Negotiate => ("negotiate", "进入洽谈"),
        Sign => ("sign", "签约"),
        Fail => ("fail", "对接未成"),
        Withdraw => ("withdraw", "撤回"),
    }
);

vocabulary!(
    /// Why a suggestion was rejected or a docking failed: the feedback the matcher learns from.
    ReasonCode {
        FieldMismatch => ("field_mismatch", "技术领域不符"),
        TrlTooLow => ("trl_too_low", "成熟度不足"),
        BudgetGap => ("budget_gap", "预算与报价差距大"),
        CooperationMismatch => ("cooperation_mismatch", "合作方式不符"),
        AlreadySolved => ("already_solved", "需求已解决"),
        PartyUnresponsive => ("party_unresponsive", "一方无回应"),
        Duplicate => ("duplicate", "重复对接"),
        Other => ("other", "其他"),
    }
);

vocabulary!(
    /// How a docking came about.
    DockingSource {
        Suggested => ("suggested", "匹配推荐"),
        Manual => ("manual", "经理人创建"),
    }
);

/// One docking as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Docking {
    pub id: String,
    pub need_id: String,
    pub achievement_id: String,
    pub need_org_id: String,
    pub achievement_org_id: String,
    pub state: DockingState,
    /// The reason code of the rejection or failure that closed it.
    pub reason: Option<ReasonCode>,
    pub source: DockingSource,
    /// The matcher's score (0..1) when the docking was created; none for manual dockings
    /// made without one.
    pub score: Option<f64>,
    /// The explanation at creation, as the matches API returns it.
    pub explanation: serde_json::Value,
    pub matcher_version: Option<String>,
    pub dictionary_version: Option<String>,
    /// Fingerprints of the matching-relevant content of both records at creation.
    pub need_fingerprint: String,
    pub achievement_fingerprint: String,
    /// The technology manager who drives it.
    pub manager_id: Option<String>,
    /// The need's field and region, for the review queue's filters.
    pub field: TechField,
    pub region: String,
    /// It reached `introduced` at some point (contacts stay disclosed).
    pub was_introduced: bool,
    /// A party marked interest.
    pub need_interest: bool,
    pub achievement_interest: bool,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

vocabulary!(
    /// What an event of a docking records.
    EventKind {
        Created => ("created", "创建"),
        Transition => ("transition", "状态变更"),
        Note => ("note", "备注"),
        Assign => ("assign", "指派经理人"),
        Interest => ("interest", "表达意向"),
        Rescored => ("rescored", "重新评分"),
    }
);

/// One thing that happened to a docking: who, when, what, why.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DockingEvent {
    #[serde(skip)]
    pub docking_id: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    /// The user, or none for the matcher.
    pub actor_id: Option<String>,
    /// The actor's role code, or `matcher`.
    pub actor_role: String,
    pub kind: EventKind,
    pub action: Option<DockingAction>,
    pub from_state: Option<DockingState>,
    pub to_state: Option<DockingState>,
    pub reason: Option<ReasonCode>,
    pub note: String,
}

/// Who acts on a docking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// A technology manager (or an admin).
    Manager,
    /// The enterprise whose need it is.
    NeedOwner,
    /// The university or institute whose achievement it is.
    AchievementOwner,
}

impl DockingState {
    /// No action leads out of a final state.
    pub fn is_final(self) -> bool {
        matches!(self, DockingState::Rejected | DockingState::Signed | DockingState::Failed | DockingState::Withdrawn)
    }

    /// The parties see a docking from acceptance on, never the raw suggestion.
    pub fn visible_to_parties(self) -> bool {
        self != DockingState::Suggested && self != DockingState::Rejected
    }
}

/// An action with what it needs: a reason code (rejecting, failing) and a note (required for
/// reason `other`).
#[derive(Debug, Clone, PartialEq)]
pub struct Step<'a> {
    pub action: DockingAction,
    pub actor: Actor,
    pub reason: Option<ReasonCode>,
    pub note: &'a str,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepError {
    #[error("cannot {action} a docking that is `{state}`; allowed now: {}", if allowed.is_empty() { "nothing".to_string() } else { allowed.iter().map(|a| a.code()).collect::<Vec<_>>().join(", ") })]
    NotAllowed { state: DockingState, action: DockingAction, allowed: Vec<DockingAction> },
    #[error("only a technology manager may {0}")]
    ManagersOnly(DockingAction),
    #[error(
        "{0} needs a reason code: field_mismatch, trl_too_low, budget_gap, cooperation_mismatch, already_solved, party_unresponsive, duplicate or other"
    )]
    ReasonRequired(DockingAction),
    #[error("reason `other` needs a note saying what it was")]
    NoteRequired,
    #[error("{0} takes no reason code")]
    ReasonNotAccepted(DockingAction),
}

/// The state an action leads to from `from`, regardless of who acts.
fn target(from: DockingState, action: DockingAction) -> Option<DockingState> {
    use DockingAction as A;
    use DockingState as S;
    match (from, action) {
        (S::Suggested, A::Accept) => Some(S::Accepted),
        (S::Suggested, A::Reject) => Some(S::Rejected),
        (S::Accepted, A::Introduce) => Some(S::Introduced),
        (S::Introduced, A::Negotiate) => Some(S::Negotiating),
        (S::Negotiating, A::Sign) => Some(S::Signed),
        (S::Accepted | S::Introduced | S::Negotiating, A::Fail) => Some(S::Failed),
        (S::Accepted | S::Introduced | S::Negotiating, A::Withdraw) => Some(S::Withdrawn),
        _ => None,
    }
}

/// Whether `actor` may take `action` at all: the parties may only withdraw; everything else
/// is the manager's work.
fn may(actor: Actor, action: DockingAction) -> bool {
    actor == Actor::Manager || action == DockingAction::Withdraw
}

/// The actions `actor` may take from `state`.
pub fn allowed(state: DockingState, actor: Actor) -> Vec<DockingAction> {
    DockingAction::ALL.iter().copied().filter(|a| may(actor, *a) && target(state, *a).is_some()).collect()
}

/// Applies a step: the new state, or why not.
pub fn apply(from: DockingState, step: &Step<'_>) -> Result<DockingState, StepError> {
    let Some(to) = target(from, step.action) else {
        return Err(StepError::NotAllowed { state: from, action: step.action, allowed: allowed(from, step.actor) });
    };
    if !may(step.actor, step.action) {
        return Err(StepError::ManagersOnly(step.action));
    }
    let needs_reason = matches!(step.action, DockingAction::Reject | DockingAction::Fail);
    match (needs_reason, step.reason) {
        (true, None) => return Err(StepError::ReasonRequired(step.action)),
        (false, Some(_)) => return Err(StepError::ReasonNotAccepted(step.action)),
        (true, Some(ReasonCode::Other)) if step.note.trim().is_empty() => return Err(StepError::NoteRequired),
        _ => {}
    }
    Ok(to)
}

/// Contacts are disclosed to the two parties from introduction on, and stay disclosed once
/// they were (a later failure does not take them back).
pub fn discloses_contacts(state: DockingState, was_introduced: bool) -> bool {
    matches!(state, DockingState::Introduced | DockingState::Negotiating | DockingState::Signed) || was_introduced
}

#[cfg(test)]
mod tests {
    use super::*;
    use DockingAction as A;
    use DockingState as S;

    fn step(action: DockingAction, actor: Actor) -> Step<'static> {
        let reason = matches!(action, A::Reject | A::Fail).then_some(ReasonCode::BudgetGap);
        Step { action, actor, reason, note: "" }
    }

    /// Every (state, action) pair: the legal ones lead where DOMAIN.md says, the rest are refused
    /// with the actions that are allowed.
    #[test]
    fn every_legal_and_illegal_transition() {
        let legal = [
            (S::Suggested, A::Accept, S::Accepted),
            (S::Suggested, A::Reject, S::Rejected),
            (S::Accepted, A::Introduce, S::Introduced),
            (S::Accepted, A::Fail, S::Failed),
            (S::Accepted, A::Withdraw, S::Withdrawn),
            (S::Introduced, A::Negotiate, S::Negotiating),
            (S::Introduced, A::Fail, S::Failed),
            (S::Introduced, A::Withdraw, S::Withdrawn),
            (S::Negotiating, A::Sign, S::Signed),
            (S::Negotiating, A::Fail, S::Failed),
            (S::Negotiating, A::Withdraw, S::Withdrawn),
        ];
        for state in S::ALL {
            for action in A::ALL {
                let expected = legal.iter().find(|(s, a, _)| s == state && a == action).map(|(_, _, to)| *to);
                match (apply(*state, &step(*action, Actor::Manager)), expected) {
                    (Ok(to), Some(want)) => assert_eq!(to, want, "{state} + {action}"),
                    (Err(StepError::NotAllowed { allowed, .. }), None) => {
                        assert_eq!(allowed, super::allowed(*state, Actor::Manager), "{state} + {action}");
                    }
                    (got, want) => panic!("{state} + {action}: got {got:?}, expected {want:?}"),
                }
            }
        }
        for state in [S::Rejected, S::Signed, S::Failed, S::Withdrawn] {
            assert!(state.is_final() && allowed(state, Actor::Manager).is_empty());
        }
    }

    #[test]
    fn the_parties_may_only_withdraw_an_open_docking() {
        for party in [Actor::NeedOwner, Actor::AchievementOwner] {
            assert_eq!(apply(S::Introduced, &step(A::Withdraw, party)), Ok(S::Withdrawn));
            assert_eq!(apply(S::Suggested, &step(A::Accept, party)), Err(StepError::ManagersOnly(A::Accept)));
            assert_eq!(apply(S::Negotiating, &step(A::Sign, party)), Err(StepError::ManagersOnly(A::Sign)));
            assert_eq!(allowed(S::Negotiating, party), [A::Withdraw]);
            assert!(allowed(S::Suggested, party).is_empty(), "parties never act on raw suggestions");
        }
    }

    #[test]
    fn rejecting_and_failing_need_a_reason_and_other_needs_a_note() {
        let mut reject = Step { action: A::Reject, actor: Actor::Manager, reason: None, note: "" };
        assert_eq!(apply(S::Suggested, &reject), Err(StepError::ReasonRequired(A::Reject)));
        reject.reason = Some(ReasonCode::Other);
        assert_eq!(apply(S::Suggested, &reject), Err(StepError::NoteRequired));
        reject.note = "企业已自行立项研发";
        assert_eq!(apply(S::Suggested, &reject), Ok(S::Rejected));
        let accept = Step { action: A::Accept, actor: Actor::Manager, reason: Some(ReasonCode::Duplicate), note: "" };
        assert_eq!(apply(S::Suggested, &accept), Err(StepError::ReasonNotAccepted(A::Accept)));
    }

    #[test]
    fn contacts_are_disclosed_from_introduction_on() {
        assert!(!discloses_contacts(S::Suggested, false));
        assert!(!discloses_contacts(S::Accepted, false));
        assert!(discloses_contacts(S::Introduced, false));
        assert!(discloses_contacts(S::Signed, true));
        assert!(discloses_contacts(S::Failed, true));
        assert!(!discloses_contacts(S::Withdrawn, false));
        assert!(!S::Suggested.visible_to_parties() && S::Accepted.visible_to_parties());
    }

    #[test]
    fn the_refusal_says_what_is_allowed() {
        let err = apply(S::Accepted, &step(A::Sign, Actor::Manager)).unwrap_err();
        assert_eq!(err.to_string(), "cannot sign a docking that is `accepted`; allowed now: introduce, fail, withdraw");
    }
}
