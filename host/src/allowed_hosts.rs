//! Which origins a session may send requests to.
//!
//! The allow-list of a session is built from two sources: the values of the
//! connection form's `url` fields (as the connector's self-description types
//! them) and the connector's declared `allowed-hosts`. An outgoing request is
//! sent only when its scheme, host and port equal one entry's.
//!
//! | written in a `url` field | entry | note |
//! |---|---|---|
//! | `https://acme.halopsa.com/api` | `https://acme.halopsa.com:443` | path, query and fragment are ignored |
//! | `acme.halopsa.com/auth` | `https://acme.halopsa.com:443` | no scheme means `https`, as the connector assumes |
//! | ` https://Acme.HaloPSA.com./ ` | `https://acme.halopsa.com:443` | trimmed, lower-cased, trailing dot dropped |
//! | `https://halo.example.com:8443` | `https://halo.example.com:8443` | explicit port |
//! | `http://127.0.0.1:8080/api` | `http://127.0.0.1:8080` | accepted, but plain `http` is sent only with `allow_loopback`, and then only to loopback addresses |
//! | `https://[::1]:9443` | `https://[::1]:9443` | IPv6 literal |
//! | `ftp://x`, `file:///etc` | — | not `http(s)`: no entry (the connector reports the field as invalid) |
//! | empty, unparseable | — | no entry |
//!
//! | declared in `connector-info.allowed-hosts` | entry | matches |
//! |---|---|---|
//! | `https://api.example-psa.com` | `https://api.example-psa.com:443` | that host only |
//! | `https://api.example-psa.com:8443` | `https://api.example-psa.com:8443` | that host and port |
//! | `https://*.example-psa.com` | `https://*.example-psa.com:443` | `eu.example-psa.com`, `a.b.example-psa.com`; not `example-psa.com` itself |
//! | `api.example-psa.com` | refused at load | no scheme: write `https://api.example-psa.com` |
//! | `https://x.example/path` | refused at load | a path: write `https://x.example` |
//! | `ftp://x.example` | refused at load | only `http` and `https` |
//! | `https://*`, `https://*.com` | refused at load | a wildcard needs at least two labels after `*.` |
//! | `https://*.co.uk`, `https://*.github.io` | refused at load | a wildcard must not cover a public suffix (the [Public Suffix List](https://publicsuffix.org/), ICANN and private sections, from the `psl` crate): names under it belong to unrelated owners |
//! | `https://api.*.com`, `https://*api.example.com` | refused at load | `*.` only as the first label |
//! | `https://user@x.example`, `https://x.example?q` | refused at load | no user info, query or fragment |
//!
//! A refused entry makes [`crate::Host::load`] fail with a message naming the
//! entry and the form to use instead.
//!
//! An empty list denies everything. Matching is exact except for a declared
//! `*.` prefix. Address checks after DNS resolution are [`crate::egress`]'s job.

use std::fmt;

/// `http` or `https`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn parse(s: &str) -> Option<Scheme> {
        match s {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            _ => None,
        }
    }

    /// The default port.
    pub(crate) fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// `http` or `https`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// One allowed origin: scheme, host and port, shown (`Display`) as
/// `https://host:443`, `https://*.domain:443` or `https://[::1]:443`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    pub(crate) scheme: Scheme,
    /// Lower case, no trailing dot; an IPv6 literal without brackets. For a
    /// wildcard entry, the suffix after `*.`.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// `*.host`: any name below `host`, not `host` itself.
    pub(crate) wildcard: bool,
}

/// Why a declared allowed-host entry was refused: the entry, and what is
/// wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{entry}` is not an allowed-host entry ({problem}): write `https://host`, `https://host:port` or `https://*.domain.tld`")]
pub(crate) struct OriginError {
    /// The entry as the connector declared it.
    pub(crate) entry: String,
    /// What is wrong with it.
    pub(crate) problem: EntryProblem,
}

/// What is wrong with a declared allowed-host entry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EntryProblem {
    #[error("no scheme")]
    NoScheme,
    #[error("only http and https")]
    Scheme,
    #[error("no host")]
    NoHost,
    #[error("no path, query, fragment or user info")]
    PathOrUserInfo,
    #[error("a wildcard needs at least two labels after `*.`")]
    WildcardTooWide,
    #[error("`*.` only as the first label")]
    WildcardNotFirst,
    #[error("not a host")]
    NotAHost,
    #[error("`{0}` is a public suffix, under which names belong to unrelated owners; name your own domain below it")]
    PublicSuffix(String),
}

impl Origin {
    /// Parses `scheme://host[:port]`, ignoring any path; `None` for other schemes.
    fn from_url(text: &str) -> Option<Origin> {
        let url = url::Url::parse(text).ok()?;
        let scheme = Scheme::parse(url.scheme())?;
        let host = match url.host()? {
            url::Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
            url::Host::Ipv4(ip) => ip.to_string(),
            url::Host::Ipv6(ip) => ip.to_string(),
        };
        if host.is_empty() {
            return None;
        }
        let port = url.port().unwrap_or(scheme.default_port());
        Some(Origin { scheme, host, port, wildcard: false })
    }

    /// An origin as a user typed it in a form field: trimmed, `https://`
    /// assumed when no scheme is given.
    pub(crate) fn from_form_value(value: &str) -> Option<Origin> {
        let v = value.trim();
        if v.is_empty() {
            return None;
        }
        if v.contains("://") {
            Origin::from_url(v)
        } else {
            Origin::from_url(&format!("https://{v}"))
        }
    }

    /// A declared entry: exactly `scheme://host[:port]` or `scheme://*.host[:port]`.
    pub(crate) fn from_declared(entry: &str) -> Result<Origin, OriginError> {
        let bad = |problem: EntryProblem| OriginError { entry: entry.to_string(), problem };
        let (scheme, rest) = entry.split_once("://").ok_or_else(|| bad(EntryProblem::NoScheme))?;
        Scheme::parse(scheme).ok_or_else(|| bad(EntryProblem::Scheme))?;
        if rest.is_empty() {
            return Err(bad(EntryProblem::NoHost));
        }
        if rest.contains(['/', '?', '#', '@']) {
            return Err(bad(EntryProblem::PathOrUserInfo));
        }
        let (wildcard, plain) = match rest.strip_prefix("*.") {
            Some(tail) => (true, tail),
            None => (false, rest),
        };
        if plain == "*" {
            return Err(bad(EntryProblem::WildcardTooWide));
        }
        if plain.contains('*') {
            return Err(bad(EntryProblem::WildcardNotFirst));
        }
        let mut origin = Origin::from_url(&format!("{scheme}://{plain}")).ok_or_else(|| bad(EntryProblem::NotAHost))?;
        if wildcard {
            let labels = origin.host.split('.').filter(|l| !l.is_empty()).count();
            if labels < 2 || origin.host.parse::<std::net::IpAddr>().is_ok() {
                return Err(bad(EntryProblem::WildcardTooWide));
            }
            if is_public_suffix(&origin.host) {
                return Err(bad(EntryProblem::PublicSuffix(origin.host)));
            }
        }
        origin.wildcard = wildcard;
        Ok(origin)
    }

    fn matches(&self, scheme: Scheme, host: &str, port: u16) -> bool {
        if self.scheme != scheme || self.port != port {
            return false;
        }
        if self.wildcard {
            host.len() > self.host.len() + 1
                && host.ends_with(&self.host)
                && host.as_bytes()[host.len() - self.host.len() - 1] == b'.'
        } else {
            self.host == host
        }
    }
}

/// Whether `host` (lower case, no trailing dot) is itself a public suffix:
/// a name under which anyone can register (`co.uk`, `github.io`). A name
/// the list does not know counts as one when it is a single label (`*`
/// rule); `psl` then answers that label.
fn is_public_suffix(host: &str) -> bool {
    psl::suffix_str(host).is_none_or(|suffix| suffix == host)
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let star = if self.wildcard { "*." } else { "" };
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.scheme.as_str(), self.host, self.port)
        } else {
            write!(f, "{}://{star}{}:{}", self.scheme.as_str(), self.host, self.port)
        }
    }
}

/// The set of origins one session may reach ([`Connector::allowed_hosts`]).
///
/// [`Connector::allowed_hosts`]: crate::Connector::allowed_hosts
#[derive(Clone, Debug, Default)]
pub struct AllowedHosts {
    entries: Vec<Origin>,
}

impl AllowedHosts {
    /// Builds the list from the form's `url` field values and the
    /// connector's declared hosts (already validated at load).
    pub(crate) fn new<'a>(url_values: impl IntoIterator<Item = &'a str>, declared: &[Origin]) -> Self {
        let mut entries: Vec<Origin> = url_values
            .into_iter()
            .filter_map(Origin::from_form_value)
            .collect();
        entries.extend(declared.iter().cloned());
        entries.sort_by(|a, b| a.to_string().cmp(&b.to_string()));
        entries.dedup();
        AllowedHosts { entries }
    }

    /// The entries, for display.
    pub fn entries(&self) -> &[Origin] {
        &self.entries
    }

    /// Whether a request to this scheme, host and port may be sent.
    pub(crate) fn permits(&self, scheme: Scheme, host: &str, port: u16) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        self.entries.iter().any(|o| o.matches(scheme, &host, port))
    }

    /// A human-readable list, `https://a:443, https://b:443`, or `nothing`.
    pub fn describe(&self) -> String {
        if self.entries.is_empty() {
            return "nothing".into();
        }
        self.entries
            .iter()
            .map(|o| o.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(values: &[&str]) -> AllowedHosts {
        AllowedHosts::new(values.iter().copied(), &[])
    }

    #[test]
    fn form_values_as_the_table_says() {
        let cases = [
            ("https://acme.halopsa.com/api", Some("https://acme.halopsa.com:443")),
            ("acme.halopsa.com/auth", Some("https://acme.halopsa.com:443")),
            (" https://Acme.HaloPSA.com./ ", Some("https://acme.halopsa.com:443")),
            ("https://halo.example.com:8443", Some("https://halo.example.com:8443")),
            ("http://127.0.0.1:8080/api", Some("http://127.0.0.1:8080")),
            ("https://[::1]:9443", Some("https://[::1]:9443")),
            ("ftp://x", None),
            ("file:///etc", None),
            ("", None),
            ("https://", None),
        ];
        for (input, want) in cases {
            let got = Origin::from_form_value(input).map(|o| o.to_string());
            assert_eq!(got.as_deref(), want, "input {input:?}");
        }
    }

    #[test]
    fn declared_entries_as_the_table_says() {
        let ok = [
            ("https://api.example-psa.com", "https://api.example-psa.com:443"),
            ("https://api.example-psa.com:8443", "https://api.example-psa.com:8443"),
            ("https://*.example-psa.com", "https://*.example-psa.com:443"),
            ("https://*.acme.co.uk", "https://*.acme.co.uk:443"),
            ("https://*.acme.github.io", "https://*.acme.github.io:443"),
        ];
        for (input, want) in ok {
            assert_eq!(Origin::from_declared(input).unwrap().to_string(), want, "{input}");
        }
        let refused = [
            ("api.example-psa.com", "no scheme"),
            ("https://x.example/path", "no path"),
            ("ftp://x.example", "only http and https"),
            ("https://*", "at least two labels"),
            ("https://*.com", "at least two labels"),
            ("https://*.co.uk", "public suffix"),
            ("https://*.github.io", "public suffix"),
            ("https://*.CO.UK.", "public suffix"),
            ("https://*.s3.amazonaws.com", "public suffix"),
            ("https://api.*.com", "only as the first label"),
            ("https://*api.example.com", "only as the first label"),
            ("https://user@x.example", "user info"),
            ("https://x.example?q", "query"),
        ];
        for (input, why) in refused {
            let err = Origin::from_declared(input).unwrap_err().to_string();
            assert!(err.contains(input) && err.contains(why), "{input}: {err}");
        }
    }

    #[test]
    fn wildcards_match_names_below_the_domain_only() {
        let w = AllowedHosts::new([], &[Origin::from_declared("https://*.example-psa.com").unwrap()]);
        assert!(w.permits(Scheme::Https, "eu.example-psa.com", 443));
        assert!(w.permits(Scheme::Https, "a.b.example-psa.com", 443));
        assert!(!w.permits(Scheme::Https, "example-psa.com", 443));
        assert!(!w.permits(Scheme::Https, "evilexample-psa.com", 443));
        assert!(!w.permits(Scheme::Https, "eu.example-psa.com.evil.com", 443));
        assert!(!w.permits(Scheme::Https, "eu.example-psa.com", 8443));
        assert!(!w.permits(Scheme::Http, "eu.example-psa.com", 443));
    }

    #[test]
    fn matching_is_exact() {
        let l = list(&["https://acme.halopsa.com/api", "https://auth.halopsa.com/auth"]);
        assert!(l.permits(Scheme::Https, "acme.halopsa.com", 443));
        assert!(l.permits(Scheme::Https, "ACME.halopsa.com.", 443));
        assert!(l.permits(Scheme::Https, "auth.halopsa.com", 443));
        assert!(!l.permits(Scheme::Http, "acme.halopsa.com", 443));
        assert!(!l.permits(Scheme::Https, "acme.halopsa.com", 8443));
        assert!(!l.permits(Scheme::Https, "evil.halopsa.com", 443));
        assert!(!l.permits(Scheme::Https, "acme.halopsa.com.evil.com", 443));
        assert!(!l.permits(Scheme::Https, "169.254.169.254", 443));
    }

    #[test]
    fn empty_list_denies_everything() {
        let l = list(&[]);
        assert!(!l.permits(Scheme::Https, "acme.halopsa.com", 443));
        assert_eq!(l.describe(), "nothing");
    }
}
