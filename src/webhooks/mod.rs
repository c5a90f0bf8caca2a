//! Outgoing webhooks: an event written in a subscription's format and signed as its receiver
//! expects, and the one HTTP request that carries it. The only code that knows reqwest.
//!
//! - `generic`: the event as JSON; headers `X-Techmarket-Event-Id`, `X-Techmarket-Event`,
//!   `X-Techmarket-Timestamp` (Unix seconds) and `X-Techmarket-Signature: v1=<hex>`, the
//!   HMAC-SHA256 with the subscription's secret of `<timestamp>.<body>`. Receivers recompute it
//!   and refuse timestamps outside their window (five minutes), and deduplicate by the event id.
//! - `wecom` (企业微信群机器人): `{"msgtype":"markdown",…}`; no signature (the `key` in the URL is
//!   the secret). Success is `errcode` 0 in the body.
//! - `dingtalk` (钉钉群机器人, 加签): `timestamp` (ms) and `sign` =
//!   Base64(HMAC-SHA256(key = secret, `<timestamp>\n<secret>`)) added to the URL's query; success
//!   is `errcode` 0.
//! - `feishu` (飞书群机器人, 签名校验): `timestamp` (s) and `sign` = Base64(HMAC-SHA256(key =
//!   `<timestamp>\n<secret>`, empty message)) in the body, with an interactive card in markdown;
//!   success is `code` 0.
//!
//! A request goes only to the addresses `guard::check` approved (pinned), follows no redirect,
//! uses no proxy, and reads at most `MAX_ANSWER` bytes of the answer.

pub mod guard;

use std::time::{Duration, Instant};

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use serde_json::json;

use crate::domain::notification::{Event, WebhookFormat};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The most of an answer's body read (enough for the robots' error codes).
const MAX_ANSWER: usize = 16 * 1024;

/// An HTTP request ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// HMAC-SHA256 of `message` keyed with `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The generic format's signature header value for a body sent at `timestamp` (Unix seconds).
pub fn generic_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut message = format!("{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    format!("v1={}", hex(&hmac_sha256(secret.as_bytes(), &message)))
}

/// DingTalk's `sign` (before URL encoding) for a timestamp in milliseconds.
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    let message = format!("{timestamp_ms}\n{secret}");
    base64::engine::general_purpose::STANDARD.encode(hmac_sha256(secret.as_bytes(), message.as_bytes()))
}

/// Feishu's `sign` for a timestamp in seconds.
pub fn feishu_sign(secret: &str, timestamp: i64) -> String {
    let key = format!("{timestamp}\n{secret}");
    base64::engine::general_purpose::STANDARD.encode(hmac_sha256(key.as_bytes(), b""))
}

/// Percent-encodes a query value.
fn encode_query_value(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The request that carries `event` to a subscription at `now`. `link` is the record's address
/// for people (the service's public address and the event's path), if one is configured.
pub fn render(
    format: WebhookFormat,
    url: &str,
    secret: &str,
    event: &Event,
    link: Option<&str>,
    now: DateTime<Utc>,
) -> Outgoing {
    let content = &event.content;
    let json_headers = vec![("content-type", "application/json; charset=utf-8".to_string())];
    match format {
        WebhookFormat::Generic => {
            let body = json!({
                "id": event.id,
                "type": event.kind.code(),
                "occurred_at": event.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "subject": event.subject,
                "headline": content.headline,
                "lines": content.lines,
                "path": content.path,
                "link": link,
                "data": content.facts,
            });
            let body = serde_json::to_vec(&body).unwrap_or_default();
            let timestamp = now.timestamp();
            let mut headers = json_headers;
            headers.push(("x-techmarket-event-id", event.id.clone()));
            headers.push(("x-techmarket-event", event.kind.code().to_string()));
            headers.push(("x-techmarket-timestamp", timestamp.to_string()));
            headers.push(("x-techmarket-signature", generic_signature(secret, timestamp, &body)));
            Outgoing { url: url.to_string(), headers, body }
        }
        WebhookFormat::Wecom => {
            let body = json!({"msgtype": "markdown", "markdown": {"content": content.markdown(link)}});
            Outgoing {
                url: url.to_string(),
                headers: json_headers,
                body: serde_json::to_vec(&body).unwrap_or_default(),
            }
        }
        WebhookFormat::Dingtalk => {
            let body = json!({
                "msgtype": "markdown",
                "markdown": {"title": content.headline, "text": content.markdown(link)},
            });
            let mut url = url.to_string();
            if !secret.is_empty() {
                let timestamp = now.timestamp_millis();
                let sign = encode_query_value(&dingtalk_sign(secret, timestamp));
                let joiner = if url.contains('?') { '&' } else { '?' };
                url = format!("{url}{joiner}timestamp={timestamp}&sign={sign}");
            }
            Outgoing { url, headers: json_headers, body: serde_json::to_vec(&body).unwrap_or_default() }
        }
        WebhookFormat::Feishu => {
            let mut body = json!({
                "msg_type": "interactive",
                "card": {
                    "header": {"title": {"tag": "plain_text", "content": content.headline}},
                    "elements": [{"tag": "markdown", "content": content.markdown(link)}],
                },
            });
            if !secret.is_empty() {
                let timestamp = now.timestamp();
                body["timestamp"] = json!(timestamp.to_string());
                body["sign"] = json!(feishu_sign(secret, timestamp));
            }
            Outgoing {
                url: url.to_string(),
                headers: json_headers,
                body: serde_json::to_vec(&body).unwrap_or_default(),
            }
        }
    }
}

/// Clients kept for reuse (their connections and TLS set-up), by the host and the addresses it
/// was pinned to: a host whose addresses change gets a new client.
type ClientKey = (Option<String>, Vec<std::net::SocketAddr>);
static CLIENTS: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<ClientKey, reqwest::Client>>> =
    std::sync::LazyLock::new(Default::default);
/// Clients kept at most; past this the cache starts afresh.
const MAX_CLIENTS: usize = 256;

/// The client for a checked target: pinned to its addresses, no redirect, no proxy.
fn client_for(target: &guard::Target) -> Result<reqwest::Client, reqwest::Error> {
    let key = (target.domain.clone(), target.addrs.clone());
    let mut clients = CLIENTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(client) = clients.get(&key) {
        return Ok(client.clone());
    }
    install_tls();
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("techmarket-webhooks/", env!("CARGO_PKG_VERSION")));
    if let Some(domain) = &target.domain {
        builder = builder.resolve_to_addrs(domain, &target.addrs);
    }
    let client = builder.build()?;
    if clients.len() >= MAX_CLIENTS {
        clients.clear();
    }
    clients.insert(key, client.clone());
    Ok(client)
}

/// Installs the process's TLS provider (ring) once: reqwest (built without one of its own) needs
/// it before any client is built, the tests' clients included. ring's provider is deprecated
/// for lacking post-quantum key exchange, which the robots' endpoints do not need; it builds
/// with the C compiler alone.
pub fn install_tls() {
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The HTTP status, if an answer came.
    pub code: Option<u16>,
    pub latency: Duration,
    /// What went wrong; none when delivered.
    pub error: Option<String>,
}

/// Whether the receiver took the message: a 2xx, and for the robots a zero error code in the
/// body (they answer 200 with an error code).
fn accepted(format: WebhookFormat, status: u16, body: &[u8]) -> Result<(), String> {
    if !(200..300).contains(&status) {
        return Err(format!("the receiver answered HTTP {status}"));
    }
    let field = match format {
        WebhookFormat::Generic => return Ok(()),
        WebhookFormat::Wecom | WebhookFormat::Dingtalk => "errcode",
        WebhookFormat::Feishu => "code",
    };
    let parsed: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| format!("the robot's answer is not JSON with `{field}`"))?;
    // Older Feishu robots answer `StatusCode`.
    let code = parsed.get(field).or_else(|| parsed.get("StatusCode")).and_then(serde_json::Value::as_i64);
    match code {
        Some(0) => Ok(()),
        Some(code) => {
            let message = parsed.get("errmsg").or_else(|| parsed.get("msg")).and_then(|m| m.as_str()).unwrap_or("");
            Err(format!("the robot refused the message: {field} {code} {message}").trim().to_string())
        }
        None => Err(format!("the robot's answer has no `{field}`")),
    }
}

/// Sends one request to the checked target: pinned to its addresses, no redirect, no proxy,
/// within `timeout`, reading at most `MAX_ANSWER` bytes of the answer.
pub async fn send(format: WebhookFormat, target: &guard::Target, outgoing: Outgoing, timeout: Duration) -> Answer {
    let started = Instant::now();
    let failed = |error: String, code: Option<u16>| Answer { code, latency: started.elapsed(), error: Some(error) };
    let client = match client_for(target) {
        Ok(client) => client,
        Err(e) => return failed(format!("the HTTP client could not be built: {e}"), None),
    };
    let mut request = client.post(&outgoing.url).timeout(timeout).body(outgoing.body);
    for (name, value) in outgoing.headers {
        request = request.header(name, value);
    }
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(e) => {
            let what = if e.is_timeout() {
                "timed out".to_string()
            } else if e.is_connect() {
                "could not connect".to_string()
            } else {
                "failed".to_string()
            };
            // reqwest's own message names the URL, whose query may be a robot's key: not logged.
            return failed(format!("the request {what}"), None);
        }
    };
    let status = response.status().as_u16();
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_ANSWER.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= MAX_ANSWER {
                    break;
                }
            }
            Ok(None) => break,
            Err(_) => return failed("the answer could not be read".into(), Some(status)),
        }
    }
    match accepted(format, status, &body) {
        Ok(()) => Answer { code: Some(status), latency: started.elapsed(), error: None },
        Err(error) => failed(error, Some(status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_platforms_documented_examples() {
        // RFC 4231, test case 2.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Computed with the platforms' own Python samples (DingTalk: hmac over
        // "timestamp\nsecret" keyed with the secret; Feishu: hmac over nothing keyed with
        // "timestamp\nsecret").
        assert_eq!(dingtalk_sign("SEC000", 1_700_000_000_000), "ltBBey5eZrWKh1cPzFIdz3v3xpkc4Tjx4lLsPSHqdtA=");
        assert_eq!(feishu_sign("SEC000", 1_700_000_000), "QKhXycVUGrhA1dUEbXA2Vo/zGkv/W88IgYgKNA7Xmk0=");
        assert!(accepted(WebhookFormat::Wecom, 200, br#"{"errcode":0,"errmsg":"ok"}"#).is_ok());
        assert!(accepted(WebhookFormat::Wecom, 200, br#"{"errcode":93000,"errmsg":"invalid webhook url"}"#).is_err());
        assert!(accepted(WebhookFormat::Feishu, 200, br#"{"code":19021,"msg":"sign match fail"}"#).is_err());
        assert!(accepted(WebhookFormat::Feishu, 200, br#"{"code":0,"msg":"success"}"#).is_ok());
        assert!(accepted(WebhookFormat::Generic, 500, b"").is_err());
        assert_eq!(encode_query_value("a+b/c="), "a%2Bb%2Fc%3D");
    }
}
