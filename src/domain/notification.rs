//! Notifications: the events the market tells people about, who may hear of each, the webhook
//! subscriptions that carry them out of the service, and their deliveries. No I/O: the events
//! are written by the unit of work of the change that causes them (`app::unit`), delivered by
//! `app::notifications` through `crate::webhooks`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::vocab::{VocabularyEntry, vocabulary};

vocabulary!(
    /// What an event tells.
    NotificationKind {
        SuggestionNew => ("suggestion_new", "新的匹配推荐"),
        DockingChanged => ("docking_changed", "对接状态变更"),
        ContractSigned => ("contract_signed", "签约"),
        MilestoneRecorded => ("milestone_recorded", "转化里程碑"),
        RecordExpiring => ("record_expiring", "即将到期"),
        RecordExpired => ("record_expired", "已过期"),
        WeeklySummary => ("weekly_summary", "每周汇总"),
    }
);

vocabulary!(
    /// How a webhook's payload is written and signed.
    WebhookFormat {
        Generic => ("generic", "通用 JSON(HMAC-SHA256 签名)"),
        Wecom => ("wecom", "企业微信群机器人"),
        Dingtalk => ("dingtalk", "钉钉群机器人(加签)"),
        Feishu => ("feishu", "飞书群机器人(签名校验)"),
    }
);

vocabulary!(
    /// Where a delivery stands.
    DeliveryStatus {
        Pending => ("pending", "待发送"),
        Delivered => ("delivered", "已送达"),
        Dead => ("dead", "已放弃(重试次数用尽)"),
    }
);

/// Who may hear of an event: the market's staff, the users of one organisation, one user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Audience {
    /// Technology managers and admins.
    Market,
    Org(String),
    User(String),
}

impl Audience {
    pub fn key(&self) -> String {
        match self {
            Audience::Market => "market".into(),
            Audience::Org(id) => format!("org:{id}"),
            Audience::User(id) => format!("user:{id}"),
        }
    }

    pub fn parse(key: &str) -> Option<Audience> {
        if key == "market" {
            return Some(Audience::Market);
        }
        if let Some(id) = key.strip_prefix("org:") {
            return Some(Audience::Org(id.to_string()));
        }
        key.strip_prefix("user:").map(|id| Audience::User(id.to_string()))
    }
}

/// One event, as the outbox keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Its position in the outbox (0 before it is written).
    pub seq: i64,
    /// A UUID the receivers deduplicate by (a delivery may be repeated, never its id changed).
    pub id: String,
    pub at: DateTime<Utc>,
    pub kind: NotificationKind,
    /// The record it is about (a docking, a transfer, a need, an achievement), or empty.
    pub subject: String,
    pub content: EventContent,
    pub audience: Vec<Audience>,
}

/// What an event says, in Chinese: a headline, a few lines, the record's path in the API, and
/// the facts for machines.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EventContent {
    pub headline: String,
    #[serde(default)]
    pub lines: Vec<String>,
    /// The path of the record in the API (`/api/v1/dockings/…`), joined to the service's
    /// public address in the robots' messages.
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub facts: serde_json::Map<String, serde_json::Value>,
}

impl EventContent {
    pub fn new(headline: impl Into<String>, path: impl Into<String>) -> EventContent {
        EventContent { headline: headline.into(), path: path.into(), ..EventContent::default() }
    }

    pub fn line(mut self, line: impl Into<String>) -> EventContent {
        self.lines.push(line.into());
        self
    }

    pub fn fact(mut self, key: &str, value: impl Into<serde_json::Value>) -> EventContent {
        self.facts.insert(key.to_string(), value.into());
        self
    }

    /// The message in markdown (the robots' format): the headline in bold, the lines, and a link
    /// back to the record.
    pub fn markdown(&self, link: Option<&str>) -> String {
        let mut text = format!("**{}**\n", escape_markdown(&self.headline));
        for line in &self.lines {
            text.push_str(&format!("\n> {}", escape_markdown(line)));
        }
        if let Some(link) = link {
            text.push_str(&format!("\n\n[查看详情]({link})"));
        }
        text
    }
}

/// Record text in a robot's markdown stays text: the characters that would start a link, an
/// emphasis or a heading are escaped, and line breaks are folded.
fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '[' | ']' | '(' | ')' | '*' | '_' | '`' | '#' | '<' | '>' | '!' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

impl Event {
    pub fn new(kind: NotificationKind, subject: &str, content: EventContent, audience: Vec<Audience>) -> Event {
        Event {
            seq: 0,
            id: super::new_id(),
            at: DateTime::<Utc>::MIN_UTC,
            kind,
            subject: subject.to_string(),
            content,
            audience,
        }
    }
}

/// A webhook subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub id: String,
    /// Whose events it carries: an organisation's (`Org`) or the market's (`Market`).
    pub audience: Audience,
    /// The organisation of the user who made it.
    pub org_id: String,
    pub created_by: String,
    pub name: String,
    pub url: String,
    pub format: WebhookFormat,
    /// The kinds it carries; empty for all.
    pub kinds: Vec<NotificationKind>,
    /// The signing secret (generic: generated; DingTalk and Feishu: the robot's). Never shown
    /// after creation, never logged.
    pub secret: String,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl Subscription {
    pub fn carries(&self, kind: NotificationKind) -> bool {
        self.ended_at.is_none() && (self.kinds.is_empty() || self.kinds.contains(&kind))
    }

    /// The URL without its query and user information: what may be shown and logged (a WeCom
    /// robot's key, a DingTalk access token are in the query).
    pub fn url_shown(&self) -> String {
        redact_url(&self.url)
    }
}

/// `scheme://host[:port]/path`, without the query, fragment or credentials.
pub fn redact_url(url: &str) -> String {
    let cut = url.find(['?', '#']).unwrap_or(url.len());
    let base = &url[..cut];
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            let query = if cut < url.len() { "?…" } else { "" };
            format!("{scheme}://{rest}{query}")
        }
        None => "(invalid URL)".into(),
    }
}

/// One event to one subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: String,
    pub subscription_id: String,
    pub event_seq: i64,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_at: DateTime<Utc>,
    pub last_code: Option<i64>,
    pub last_error: String,
    pub last_latency_ms: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DeliveryAttempt {
    pub attempt: i64,
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    /// The HTTP status answered, if any answer came.
    pub code: Option<i64>,
    pub latency_ms: i64,
    /// What went wrong (empty when delivered).
    pub error: String,
}

/// The wait before attempt `attempt + 1` after `attempt` failed: `base` doubled each time, at
/// most `cap`, then a random part of it ("full jitter" over its upper half), so failing
/// receivers are not hit by every instance in step. `unit` is a random number in [0, 1).
pub fn backoff(attempt: i64, base: std::time::Duration, cap: std::time::Duration, unit: f64) -> std::time::Duration {
    let exp = attempt.clamp(1, 30) as u32 - 1;
    let full = base.saturating_mul(2u32.saturating_pow(exp)).min(cap);
    full.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
}

/// The input of a new subscription.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionInput {
    /// A name to tell it apart (e.g. 对接群机器人).
    #[serde(default)]
    pub name: Option<String>,
    /// The webhook URL (http or https). For the robots: the address the group's robot settings
    /// show (企业微信 `…/cgi-bin/webhook/send?key=…`, 钉钉 `…/robot/send?access_token=…`, 飞书
    /// `…/open-apis/bot/v2/hook/…`).
    pub url: String,
    pub format: WebhookFormat,
    /// The kinds of events to send; none or empty for all.
    #[serde(default)]
    pub events: Option<Vec<NotificationKind>>,
    /// DingTalk and Feishu: the robot's signing secret (钉钉 "加签" SEC…, 飞书 "签名校验"). The
    /// generic format's secret is generated and shown once; WeCom robots have none.
    #[serde(default)]
    pub secret: Option<String>,
    /// Staff only: `market` (the default for managers and admins) for every event of the market,
    /// or an organisation's id for the events its users see.
    #[serde(default)]
    pub scope: Option<String>,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let base = Duration::from_secs(10);
        let cap = Duration::from_secs(3600);
        assert_eq!(backoff(1, base, cap, 1.0), Duration::from_secs(10));
        assert_eq!(backoff(1, base, cap, 0.0), Duration::from_secs(5));
        assert_eq!(backoff(3, base, cap, 1.0), Duration::from_secs(40));
        assert_eq!(backoff(20, base, cap, 1.0), cap);
        assert!(backoff(4, base, cap, 0.3) >= Duration::from_secs(40));
    }

    #[test]
    fn urls_are_shown_without_their_secrets() {
        assert_eq!(
            redact_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx"),
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?…"
        );
        assert_eq!(redact_url("https://user:pw@example.com/hook#x"), "https://example.com/hook?…");
        assert_eq!(redact_url("http://10.0.0.1:8080/in"), "http://10.0.0.1:8080/in");
    }

    #[test]
    fn record_text_cannot_make_links_in_a_robot_message() {
        let content = EventContent::new("新推荐: [点我](http://evil)", "/api/v1/dockings/x").line("匹配度 82%\n# 标题");
        let md = content.markdown(Some("https://market.example/api/v1/dockings/x"));
        assert!(md.contains("\\[点我\\]\\(http://evil\\)"), "{md}");
        assert!(md.contains("> 匹配度 82% \\# 标题"), "{md}");
        assert!(md.ends_with("[查看详情](https://market.example/api/v1/dockings/x)"));
        assert_eq!(Audience::parse(&Audience::Org("o1".into()).key()), Some(Audience::Org("o1".into())));
        assert_eq!(Audience::parse("market"), Some(Audience::Market));
    }
}
