//! CSN egress endpoints as operators write them, parsed into rules.
//!
//! `domain_name` forms:
//! - `host.example.com`: exactly that name.
//! - `.example.com`: the name and every name under it (as Squid's
//!   `dstdomain` reads a leading dot: the apex is included).
//! - `*.example.com`: every name under it, the apex excluded (as a DNS
//!   wildcard).
//! - `https://x.blob.core.windows.net/path`: the URL's host; the scheme's port
//!   (http 80, https 443) or the URL's explicit port when `port` is absent.
//! - `203.0.113.7` or `203.0.113.0/24` (and IPv6): addresses directly.
//!
//! `port` absent and no URL scheme: any destination port.

use ipnet::IpNet;

/// What an allowlist entry matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EgressTarget {
    /// One DNS name (lower case, no trailing dot).
    Exact(String),
    /// A name and all names below it (`.example.com`).
    SuffixWithApex(String),
    /// All names strictly below it (`*.example.com`).
    SuffixOnly(String),
    /// Addresses in a prefix (a bare IP is a /32 or /128).
    Prefix(IpNet),
}

/// One allowlisted endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressRule {
    /// Category it was listed under.
    pub category: String,
    /// Destination it allows.
    pub target: EgressTarget,
    /// Destination port, or any port when `None`.
    pub port: Option<u16>,
}

/// Parses one `domain_name` with its optional `port` into a rule target and
/// effective port. Errors are a sentence naming what is wrong.
pub fn parse_endpoint(
    domain_name: &str,
    port: Option<u32>,
) -> Result<(EgressTarget, Option<u16>), String> {
    let port = match port {
        None => None,
        Some(p) if (1..=65535).contains(&p) => Some(p as u16),
        Some(p) => return Err(format!("port {p} is outside 1..=65535")),
    };
    let s = domain_name.trim();
    if s.is_empty() {
        return Err("empty domain_name".into());
    }
    if let Some((scheme, rest)) = s.split_once("://") {
        let scheme_port = match scheme.to_ascii_lowercase().as_str() {
            "http" => 80,
            "https" => 443,
            other => return Err(format!("unsupported URL scheme {other:?} (http or https)")),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let (host, port_text) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("unclosed '[' in URL host {authority:?}"))?;
            (h, after.strip_prefix(':'))
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let url_port = match port_text {
            None => None,
            Some(p) => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|&p| p != 0)
                    .ok_or_else(|| format!("bad port {p:?} in URL"))?,
            ),
        };
        let target = parse_host(host)?;
        return Ok((target, port.or(url_port).or(Some(scheme_port))));
    }
    if let Ok(net) = s.parse::<IpNet>() {
        if net.trunc() != net {
            return Err(format!(
                "{s} has host bits set; did you mean {}?",
                net.trunc()
            ));
        }
        return Ok((EgressTarget::Prefix(net), port));
    }
    Ok((parse_host(s)?, port))
}

fn parse_host(host: &str) -> Result<EgressTarget, String> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(EgressTarget::Prefix(IpNet::from(ip)));
    }
    let lower = host.trim_end_matches('.').to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("*.") {
        check_dns_name(rest)?;
        Ok(EgressTarget::SuffixOnly(rest.to_string()))
    } else if let Some(rest) = lower.strip_prefix('.') {
        check_dns_name(rest)?;
        Ok(EgressTarget::SuffixWithApex(rest.to_string()))
    } else {
        check_dns_name(&lower)?;
        Ok(EgressTarget::Exact(lower))
    }
}

fn check_dns_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 253 {
        return Err(format!("{name:?} is not a DNS name (1..=253 characters)"));
    }
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!("{name:?} is not a DNS name (bad label {label:?})"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            parse_endpoint("mcr.microsoft.com", Some(443)).unwrap(),
            (EgressTarget::Exact("mcr.microsoft.com".into()), Some(443))
        );
        assert_eq!(
            parse_endpoint(".Ubuntu.com", None).unwrap(),
            (EgressTarget::SuffixWithApex("ubuntu.com".into()), None)
        );
        assert_eq!(
            parse_endpoint("*.example.com", Some(80)).unwrap(),
            (EgressTarget::SuffixOnly("example.com".into()), Some(80))
        );
        assert_eq!(
            parse_endpoint("https://x.blob.core.windows.net/c?x=1", None).unwrap(),
            (
                EgressTarget::Exact("x.blob.core.windows.net".into()),
                Some(443)
            )
        );
        assert_eq!(
            parse_endpoint("http://x.example:8080", None).unwrap(),
            (EgressTarget::Exact("x.example".into()), Some(8080))
        );
        assert_eq!(
            parse_endpoint("https://x.example", Some(8443)).unwrap().1,
            Some(8443)
        );
        assert_eq!(
            parse_endpoint("203.0.113.0/24", None).unwrap().0,
            EgressTarget::Prefix("203.0.113.0/24".parse().unwrap())
        );
        assert_eq!(
            parse_endpoint("2001:db8::1", Some(53)).unwrap().0,
            EgressTarget::Prefix("2001:db8::1/128".parse().unwrap())
        );
        assert_eq!(
            parse_endpoint("https://[2001:db8::1]:444/", None).unwrap(),
            (
                EgressTarget::Prefix("2001:db8::1/128".parse().unwrap()),
                Some(444)
            )
        );
    }

    #[test]
    fn rejects() {
        assert!(parse_endpoint("", None).is_err());
        assert!(parse_endpoint("ftp://x.example", None).is_err());
        assert!(parse_endpoint("bad name.example", None).is_err());
        assert!(parse_endpoint("x.example", Some(0)).is_err());
        assert!(parse_endpoint("x.example", Some(70000)).is_err());
        assert!(parse_endpoint("10.0.0.1/8", None).is_err());
        assert!(parse_endpoint("-x.example", None).is_err());
    }
}
