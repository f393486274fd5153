//! Web origins: what a browser sends in `Origin`, and what a site allows
//! (an origin, or a wildcard over a domain's subdomains).

use super::{invalid, InvalidInput};

/// A web origin (RFC 6454): `scheme://host[:port]`, lowercase, no path, as
/// browsers send it in the `Origin` header. An *allowed* origin may also be a
/// wildcard, `scheme://*.domain[:port]`: every subdomain of `domain`, at any
/// depth, but not `domain` itself (see [`Origin::admitted_by`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Origin(String);
string_newtype!(Origin);

/// Where a wildcard may stand, for error messages.
const WILDCARD_RULE: &str =
    "a wildcard must be the whole first label of a domain name, as in https://*.example.com";

impl Origin {
    /// An origin a site allows: a page's origin (see [`Origin::parse_page`])
    /// or a wildcard over the subdomains of a domain of at least two labels
    /// (`https://*.example.com`; `https://*.com` is refused as too broad).
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let trimmed = raw.trim();
        let wildcard = trimmed
            .split_once("://")
            .and_then(|(scheme, rest)| Some((scheme, rest.strip_prefix("*.")?)));
        let Some((scheme, rest)) = wildcard else {
            return Self::parse_page(trimmed);
        };
        let origin = Self::parse_page(&format!("{scheme}://{rest}"))
            .map_err(|e| invalid(format!("wildcard origin {raw:?}: {}", e.0)))?;
        let url = url::Url::parse(&origin.0).map_err(|e| invalid(e.to_string()))?;
        match url.host() {
            Some(url::Host::Domain(domain)) if domain.trim_end_matches('.').contains('.') => {}
            Some(url::Host::Domain(_)) => {
                return Err(invalid(format!(
                "wildcard origin {raw:?} is too broad: name a domain such as https://*.example.com"
            )))
            }
            _ => {
                return Err(invalid(format!(
                    "wildcard origin {raw:?} needs a domain name, not an IP address"
                )))
            }
        }
        Ok(Origin(origin.0.replacen("://", "://*.", 1)))
    }

    /// A page's origin, never a wildcard: what a browser can send. Refuses
    /// what no browser could load a page from (a host label outside letters,
    /// digits, `-` and `_`, or port 0), so that an allowed origin that could
    /// never match is an error instead of a silent refusal of every page.
    pub fn parse_page(raw: &str) -> Result<Self, InvalidInput> {
        if raw.contains('*') {
            return Err(invalid(format!("origin {raw:?}: {WILDCARD_RULE}")));
        }
        let url = url::Url::parse(raw.trim())
            .map_err(|e| invalid(format!("malformed origin {raw:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!("origin {raw:?} must use http or https")));
        }
        if url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(invalid(format!(
                "origin {raw:?} must be only scheme://host[:port], without path, query or credentials"
            )));
        }
        match url.host() {
            None => return Err(invalid(format!("origin {raw:?} has no host"))),
            Some(url::Host::Domain(domain)) => {
                let labels = domain.strip_suffix('.').unwrap_or(domain);
                if !labels.split('.').all(is_origin_label) {
                    return Err(invalid(format!(
                        "origin {raw:?} has a host name no browser can load a page from"
                    )));
                }
            }
            Some(_) => {}
        }
        if url.port() == Some(0) {
            return Err(invalid(format!("origin {raw:?} has port 0")));
        }
        // `Url::origin` lowercases the host and drops default ports, matching what browsers send.
        Ok(Origin(url.origin().ascii_serialization()))
    }

    pub fn is_wildcard(&self) -> bool {
        self.0.contains("://*.")
    }

    /// The allowed origins that admit this page's origin: itself, and each
    /// wildcard over one of its parent domains of two labels or more, same
    /// scheme and port (`https://a.b.example.com` is admitted by
    /// `https://*.b.example.com` and `https://*.example.com`).
    pub fn admitted_by(&self) -> Vec<String> {
        let mut patterns = vec![self.0.clone()];
        let Ok(url) = url::Url::parse(&self.0) else {
            return patterns;
        };
        let Some(url::Host::Domain(domain)) = url.host() else {
            return patterns;
        };
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let mut parent = domain;
        while let Some((_, rest)) = parent.split_once('.') {
            if !rest.trim_end_matches('.').contains('.') {
                break;
            }
            patterns.push(format!("{}://*.{rest}{port}", url.scheme()));
            parent = rest;
        }
        patterns
    }
}

/// A DNS label as a browser's URL can hold it (RFC 1123 letters, digits and
/// hyphens; underscores, which real host names use, too).
fn is_origin_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(
            Origin::parse("https://Example.com").unwrap().as_str(),
            "https://example.com"
        );
        assert_eq!(
            Origin::parse("https://example.com:443/").unwrap().as_str(),
            "https://example.com"
        );
        assert_eq!(
            Origin::parse("http://localhost:8080").unwrap().as_str(),
            "http://localhost:8080"
        );
        assert!(Origin::parse("example.com").is_err());
        assert!(Origin::parse("ftp://example.com").is_err());
        assert!(Origin::parse("https://example.com/path").is_err());
        assert!(Origin::parse("https://user@example.com").is_err());
    }

    #[test]
    fn wildcard_origins_admit_subdomains_only() {
        let wildcard = Origin::parse("https://*.Example.com:443").unwrap();
        assert_eq!(wildcard.as_str(), "https://*.example.com");
        assert!(wildcard.is_wildcard());
        let admitted = |page: &str| {
            Origin::parse_page(page)
                .unwrap()
                .admitted_by()
                .contains(&wildcard.as_str().to_owned())
        };
        assert!(admitted("https://blog.example.com"));
        assert!(admitted("https://a.b.example.com"));
        assert!(!admitted("https://example.com"), "not the domain itself");
        assert!(!admitted("http://blog.example.com"), "same scheme");
        assert!(!admitted("https://blog.example.com:8443"), "same port");
        assert!(!admitted("https://blog.example.com.evil.test"));
        assert!(!admitted("https://notexample.com"));
        let with_port = Origin::parse("http://*.example.com:8080").unwrap();
        assert!(Origin::parse_page("http://a.example.com:8080")
            .unwrap()
            .admitted_by()
            .contains(&with_port.as_str().to_owned()));
        // IDN domains are compared in their ASCII form, as browsers send them.
        assert_eq!(
            Origin::parse("https://*.bücher.example").unwrap().as_str(),
            "https://*.xn--bcher-kva.example"
        );
    }

    #[test]
    fn origins_that_could_never_match_are_refused() {
        for (raw, why) in [
            ("https://*.com", "too broad"),
            ("https://*.127.0.0.1", "IP address"),
            (
                "https://a.*.example.com",
                "wildcard must be the whole first label",
            ),
            (
                "https://*example.com",
                "wildcard must be the whole first label",
            ),
            (
                "https://example.*",
                "wildcard must be the whole first label",
            ),
            ("*://example.com", "wildcard must be the whole first label"),
            ("https://exa(mple.com", "no browser can load a page from"),
            ("https://example.com:0", "port 0"),
        ] {
            let err = Origin::parse(raw).expect_err(raw);
            assert!(err.0.contains(why), "{raw}: {err}");
        }
        // A page's origin is never a pattern, whatever a client sends.
        assert!(Origin::parse_page("https://*.example.com").is_err());
    }
}
