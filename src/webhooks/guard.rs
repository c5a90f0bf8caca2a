//! No request forgery: a webhook URL reaches only public addresses. The URL is parsed as a
//! browser would (so `127.1`, `0x7f000001` and `2130706433` are the loopback address they
//! mean), its host resolved, and every address it resolves to checked; the checked addresses
//! are then the only ones the connection may use (`Target::addrs`, pinned in `send`). Hosts the
//! operator lists (`notifications.allow_hosts`) are exempt, for deployments with internal
//! receivers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use reqwest::Url;

/// The longest a host name's lookup may take (a registration waits for it).
const LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// A URL that passed the checks, with the addresses its connection must use.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: Url,
    /// The host name to pin (none for an IP-literal host, which needs no lookup).
    pub domain: Option<String>,
    pub addrs: Vec<SocketAddr>,
}

/// Why a URL is refused, in English and Chinese.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{en}")]
pub struct Refusal {
    pub en: String,
    pub zh: String,
}

fn refuse(en: impl Into<String>, zh: impl Into<String>) -> Refusal {
    Refusal { en: en.into(), zh: zh.into() }
}

/// Parses and checks a URL's form: http or https, a host, no credentials.
pub fn parse(url: &str) -> Result<Url, Refusal> {
    let parsed = Url::parse(url.trim()).map_err(|e| {
        refuse(
            format!("the URL cannot be read ({e}): write it as https://host/path"),
            format!("URL 无法解析({e}),请写成 https://主机/路径 的形式"),
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(refuse(
            format!("only http and https URLs can receive webhooks, not `{}`", parsed.scheme()),
            format!("只支持 http 和 https 地址,不支持 `{}`", parsed.scheme()),
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refuse(
            "a webhook URL may not carry a user name or password; put the secret in the subscription's secret",
            "地址中不能包含用户名或密码;签名密钥请填在订阅的 secret 中",
        ));
    }
    if parsed.host().is_none() {
        return Err(refuse("the URL has no host", "URL 中没有主机名"));
    }
    Ok(parsed)
}

/// Checks a URL and resolves its host: every address must be public unless the host is on the
/// operator's allow-list.
pub async fn check(url: &str, allow_hosts: &[String]) -> Result<Target, Refusal> {
    let url = parse(url)?;
    let port = url.port_or_known_default().unwrap_or(443);
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let allowed = allow_hosts.iter().any(|h| h.trim().eq_ignore_ascii_case(&host));
    // The URL parser has already turned every literal form of an address into its usual
    // text (`127.1` and `0x7f000001` into `127.0.0.1`).
    if let Ok(ip) = host.parse::<IpAddr>() {
        check_address(ip, allowed)?;
        return Ok(Target { addrs: vec![SocketAddr::new(ip, port)], domain: None, url });
    }
    let lookup = tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host.clone(), port))).await;
    let found: Vec<SocketAddr> = match lookup {
        Ok(Ok(addrs)) => addrs.collect(),
        Ok(Err(e)) => {
            return Err(refuse(
                format!("the host `{host}` cannot be resolved: {e}"),
                format!("无法解析主机名 `{host}`:{e}"),
            ));
        }
        Err(_) => {
            return Err(refuse(
                format!("the host `{host}` did not resolve within {} seconds", LOOKUP_TIMEOUT.as_secs()),
                format!("主机名 `{host}` 在 {} 秒内未能解析", LOOKUP_TIMEOUT.as_secs()),
            ));
        }
    };
    if found.is_empty() {
        return Err(refuse(format!("the host `{host}` has no address"), format!("主机名 `{host}` 没有地址")));
    }
    for addr in &found {
        check_address(addr.ip(), allowed)?;
    }
    Ok(Target { domain: Some(host), addrs: found, url })
}

fn check_address(ip: IpAddr, allowed: bool) -> Result<(), Refusal> {
    if allowed || is_public(ip) {
        Ok(())
    } else {
        Err(refuse(
            format!(
                "`{ip}` is not a public address (loopback, private, link-local or reserved): webhooks go to the internet only; an operator may allow an internal host in `notifications.allow_hosts`"
            ),
            format!(
                "`{ip}` 不是公网地址(回环、内网、链路本地或保留地址):回调只能发往互联网;如确需内网地址,请运维在 `notifications.allow_hosts` 中放行该主机"
            ),
        ))
    }
}

/// Whether an address is a public unicast one.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::/96)
            // addresses are judged by the IPv4 address inside.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            if s[..6] == [0, 0, 0, 0, 0, 0] && !v6.is_loopback() && !v6.is_unspecified() {
                return is_public_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
            }
            if s[0] == 0x64 && s[1] == 0xff9b {
                return is_public_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x2001 && s[1] < 0x0200) // IETF protocol assignments (Teredo, ORCHID …)
                || s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16, the cloud metadata address among them
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_private_form_is_refused_and_public_addresses_pass() {
        for url in [
            "http://127.0.0.1/",
            "http://127.1/",
            "http://0x7f000001/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://localhost:8080/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[64:ff9b::a00:1]/",
            "http://[::]/",
        ] {
            assert!(check(url, &[]).await.is_err(), "{url} must be refused");
        }
        for url in ["ftp://example.com/", "file:///etc/passwd", "gopher://x/", "https://u:p@example.com/", "not a url"]
        {
            assert!(check(url, &[]).await.is_err(), "{url} must be refused");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2400:3200::1", "223.5.5.5"] {
            assert!(is_public(ip.parse().unwrap()), "{ip} is public");
        }
        let target = check("http://8.8.8.8:9/hook", &[]).await.expect("a public literal passes");
        assert_eq!(target.addrs, vec!["8.8.8.8:9".parse().unwrap()]);
    }

    #[tokio::test]
    async fn the_allow_list_admits_a_named_internal_host() {
        let target = check("http://127.0.0.1:9/in", &["127.0.0.1".into()]).await.expect("allowed");
        assert_eq!(target.addrs, vec!["127.0.0.1:9".parse().unwrap()]);
        let target = check("http://localhost:9/in", &["LOCALHOST".into()]).await.expect("allowed");
        assert!(target.addrs.iter().all(|a| a.ip().is_loopback()));
        assert_eq!(target.domain.as_deref(), Some("localhost"));
        assert!(check("http://127.0.0.2:9/in", &["127.0.0.1".into()]).await.is_err());
    }
}
