//! Where a request may physically go, decided after DNS resolution.
//!
//! The allow-list (`allowed_hosts`) sees only names. A name that an
//! attacker controls can resolve to the platform's own network (DNS
//! rebinding), and users type these URLs, so every address a name resolves
//! to is classified here and only public unicast addresses are dialled.
//! With `allow_loopback` (tests, local simulators), `127.0.0.1` and `::1`
//! are permitted as well; nothing else is (not the rest of `127.0.0.0/8`).
//!
//! | address | class | permitted |
//! |---|---|---|
//! | `93.184.215.14`, `2606:4700::1` | public | yes |
//! | `127.0.0.1`, `::1` (also as `::ffff:127.0.0.1`) | loopback | only with `allow_loopback` |
//! | the rest of `127.0.0.0/8` (`127.0.0.2`...) | loopback | no |
//! | `10/8`, `172.16/12`, `192.168/16` | private | no |
//! | `100.64/10` | shared (CGNAT) | no |
//! | `169.254/16` (cloud metadata), `fe80::/10` | link-local | no |
//! | `fc00::/7` | unique-local | no |
//! | `0.0.0.0/8`, `::` | unspecified | no |
//! | `224/4`, `ff00::/8`, `255.255.255.255` | multicast / broadcast | no |
//! | `192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32` | documentation | no |
//! | `240/4`, `192.0.0/24`, `198.18/15` | reserved | no |
//! | `::ffff:a.b.c.d`, `::a.b.c.d`, `64:ff9b::a.b.c.d` | as the embedded IPv4 | as that address |
//! | `2002:AABB:CCDD::/48` (6to4) | as the IPv4 in bits 16–48 (`a.b.c.d` = `AABB:CCDD`) | as that address |
//! | `2001:0:SSSS:SSSS::CCCC:CCCC` (Teredo) | the server IPv4 (bits 32–64) and the client IPv4 (the last 32 bits XOR `0xffffffff`) | only when both are public |

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// What kind of destination an address is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressClass {
    Public,
    Loopback,
    Private,
    SharedCgnat,
    LinkLocal,
    UniqueLocal,
    Unspecified,
    Multicast,
    Broadcast,
    Documentation,
    Reserved,
}

impl AddressClass {
    /// A short phrase for messages.
    pub fn describe(self) -> &'static str {
        match self {
            AddressClass::Public => "a public address",
            AddressClass::Loopback => "a loopback address",
            AddressClass::Private => "a private-network address",
            AddressClass::SharedCgnat => "a carrier-grade NAT address",
            AddressClass::LinkLocal => "a link-local address (such as the cloud metadata service)",
            AddressClass::UniqueLocal => "an IPv6 unique-local address",
            AddressClass::Unspecified => "the unspecified address",
            AddressClass::Multicast => "a multicast address",
            AddressClass::Broadcast => "the broadcast address",
            AddressClass::Documentation => "a documentation-only address",
            AddressClass::Reserved => "a reserved address",
        }
    }
}

/// Classifies an address; IPv4 embedded in IPv6 counts as the IPv4 address.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        AddressClass::Loopback
    } else if a == 0 {
        AddressClass::Unspecified
    } else if ip.is_private() {
        AddressClass::Private
    } else if a == 100 && (64..128).contains(&b) {
        AddressClass::SharedCgnat
    } else if ip.is_link_local() {
        AddressClass::LinkLocal
    } else if ip.is_broadcast() {
        AddressClass::Broadcast
    } else if ip.is_multicast() {
        AddressClass::Multicast
    } else if (a, b, c) == (192, 0, 2) || (a, b, c) == (198, 51, 100) || (a, b, c) == (203, 0, 113) {
        AddressClass::Documentation
    } else if a >= 240 || (a, b, c) == (192, 0, 0) || (a == 198 && (b == 18 || b == 19)) {
        AddressClass::Reserved
    } else {
        AddressClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let seg = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if seg[0] == 0x2002 {
        // 6to4: the relay delivers to the IPv4 address in bits 16-48.
        return classify_v4(v4(seg[1], seg[2]));
    }
    if seg[0] == 0x2001 && seg[1] == 0 {
        // Teredo: a server address, and the client's address obfuscated
        // (inverted) in the last 32 bits; either could reach inside.
        let client = classify_v4(v4(!seg[6], !seg[7]));
        let server = classify_v4(v4(seg[2], seg[3]));
        return if client != AddressClass::Public { client } else { server };
    }
    if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_unspecified() {
        AddressClass::Unspecified
    } else if seg[0] & 0xffc0 == 0xfe80 {
        AddressClass::LinkLocal
    } else if seg[0] & 0xfe00 == 0xfc00 {
        AddressClass::UniqueLocal
    } else if seg[0] & 0xff00 == 0xff00 {
        AddressClass::Multicast
    } else if seg[0] == 0x2001 && seg[1] == 0x0db8 {
        AddressClass::Documentation
    } else if seg[0] & 0xffc0 == 0xfec0 {
        // Deprecated site-local.
        AddressClass::Private
    } else {
        AddressClass::Public
    }
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`) IPv6 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let seg = ip.segments();
    let tail = Ipv4Addr::new(
        (seg[6] >> 8) as u8,
        seg[6] as u8,
        (seg[7] >> 8) as u8,
        seg[7] as u8,
    );
    if seg[..5] == [0; 5] && seg[5] == 0xffff {
        return Some(tail);
    }
    if seg[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified() {
        return Some(tail);
    }
    if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0; 4] {
        return Some(tail);
    }
    None
}

/// Whether the sandbox may dial this address. `allow_loopback` admits
/// `127.0.0.1` and `::1` (also IPv4-mapped), no other loopback address.
pub fn permitted(ip: IpAddr, allow_loopback: bool) -> Result<(), AddressClass> {
    match classify(ip) {
        AddressClass::Public => Ok(()),
        AddressClass::Loopback
            if allow_loopback
                && matches!(ip.to_canonical(), IpAddr::V4(Ipv4Addr::LOCALHOST) | IpAddr::V6(Ipv6Addr::LOCALHOST)) =>
        {
            Ok(())
        }
        class => Err(class),
    }
}

/// Why a destination was not dialled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EgressError {
    /// The name did not resolve.
    Dns(String),
    /// Resolution took longer than the connect timeout.
    DnsTimeout,
    /// Every address the name resolves to is internal.
    Prohibited { addresses: Vec<(IpAddr, AddressClass)> },
}

/// Resolves `host` (a name or an IP literal) and keeps the addresses the
/// sandbox may dial, in resolver order.
pub async fn resolve(
    host: &str,
    port: u16,
    allow_loopback: bool,
    timeout: Duration,
    overrides: &DnsOverrides,
) -> Result<Vec<SocketAddr>, EgressError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = if let Ok(ip) = bare.parse::<IpAddr>() {
        vec![SocketAddr::new(ip, port)]
    } else if let Some(to) = overrides.connect_target(bare, port) {
        vec![to]
    } else if let Some(ips) = overrides.get(bare) {
        ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect()
    } else {
        match tokio::time::timeout(timeout, tokio::net::lookup_host((bare, port))).await {
            Err(_) => return Err(EgressError::DnsTimeout),
            Ok(Err(e)) => return Err(EgressError::Dns(e.to_string())),
            Ok(Ok(it)) => it.collect(),
        }
    };
    if addrs.is_empty() {
        return Err(EgressError::Dns("no addresses".into()));
    }
    let mut refused = Vec::new();
    let mut ok = Vec::new();
    for a in addrs {
        match permitted(a.ip(), allow_loopback) {
            Ok(()) => ok.push(a),
            Err(class) => refused.push((a.ip(), class)),
        }
    }
    if ok.is_empty() {
        return Err(EgressError::Prohibited { addresses: refused });
    }
    Ok(ok)
}

/// Fixed answers for host names, consulted before DNS (like curl's
/// `--resolve`): for an instance reached through an address its public DNS
/// does not give. An overridden address is checked like any other.
///
/// # The test hook: [`DnsOverrides::connect_to`]
///
/// Besides names, a test can map a name *and port* to a socket address,
/// like curl's `--connect-to`: `https://webservices5.autotask.net` (port
/// 443, as a connector's declared `https://*.autotask.net` admits) is then
/// served by a TLS listener on an ephemeral loopback port. The mapping is
/// applied only where the transport dials, after every policy decision:
/// the allow-list still judges the URL's own scheme, name and port (a
/// mapping never admits a name, nor a port the URL does not carry), the
/// target address is checked by [`permitted`] like any resolved address
/// (loopback only with `allow_loopback`), and TLS verifies the certificate
/// against the URL's name. It exists for tests (the Autotask connector's
/// zones through the real sandbox); nothing a connector or a connection's
/// config file sets reaches it, and the CLI's `--resolve` (parsed by
/// [`DnsOverrides::parse_entry`]) takes names only, no ports.
#[derive(Clone, Debug, Default)]
pub struct DnsOverrides {
    names: std::collections::HashMap<String, Vec<IpAddr>>,
    /// `(name, port)` → where to dial instead ([`DnsOverrides::connect_to`]).
    ports: std::collections::HashMap<(String, u16), SocketAddr>,
}

fn normal_name(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

impl DnsOverrides {
    /// Answers `host` (any case, no trailing dot) with `addresses`.
    pub fn insert(&mut self, host: &str, addresses: Vec<IpAddr>) {
        self.names.insert(normal_name(host), addresses);
    }

    /// For tests: dial `to` for a request to `host:port` (any case, no
    /// trailing dot), like curl's `--connect-to` (see the type's docs: the
    /// allow-list still judges `host:port`, the egress check judges `to`).
    pub fn connect_to(&mut self, host: &str, port: u16, to: SocketAddr) {
        self.ports.insert((normal_name(host), port), to);
    }

    fn connect_target(&self, host: &str, port: u16) -> Option<SocketAddr> {
        if self.ports.is_empty() {
            return None;
        }
        self.ports.get(&(normal_name(host), port)).copied()
    }

    fn get(&self, host: &str) -> Option<&Vec<IpAddr>> {
        if self.names.is_empty() {
            return None;
        }
        self.names.get(&normal_name(host))
    }

    /// Parses `HOST=ADDRESS[,ADDRESS...]`, the CLI's `--resolve` form, and
    /// adds it.
    pub fn parse_entry(&mut self, entry: &str) -> Result<(), DnsOverrideError> {
        let (host, addrs) = entry
            .split_once('=')
            .ok_or_else(|| DnsOverrideError::NotHostEqualsAddress { entry: entry.to_string() })?;
        let host = host.trim();
        if host.is_empty() || host.parse::<IpAddr>().is_ok() {
            return Err(DnsOverrideError::NotAHostName { entry: entry.to_string() });
        }
        let ips = addrs
            .split(',')
            .map(|a| {
                let a = a.trim();
                a.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .map_err(|_| DnsOverrideError::NotAnAddress { entry: entry.to_string(), address: a.to_string() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.insert(host, ips);
        Ok(())
    }
}

/// Why a `HOST=ADDRESS` entry ([`DnsOverrides::parse_entry`]) was refused;
/// each message quotes the entry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsOverrideError {
    /// No `=` in the entry.
    #[error("`{entry}` is not HOST=ADDRESS (for example halo.example.com=203.0.113.7)")]
    NotHostEqualsAddress {
        /// The entry as given.
        entry: String,
    },
    /// The part before `=` is empty or an IP address.
    #[error("`{entry}`: the part before `=` must be a host name")]
    NotAHostName {
        /// The entry as given.
        entry: String,
    },
    /// One of the addresses after `=` is not an IP address.
    #[error("`{entry}`: `{address}` is not an IP address")]
    NotAnAddress {
        /// The entry as given.
        entry: String,
        /// The part that is not an address.
        address: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> AddressClass {
        classify(s.parse().unwrap())
    }

    #[test]
    fn dns_override_entries() {
        let mut o = DnsOverrides::default();
        o.parse_entry("Halo.Example.com=203.0.113.7,[2001:db8::7]").unwrap();
        assert_eq!(o.get("halo.example.com.").unwrap().len(), 2);
        assert!(o.parse_entry("halo.example.com").unwrap_err().to_string().contains("HOST=ADDRESS"));
        assert!(o.parse_entry("halo.example.com=nope").unwrap_err().to_string().contains("`nope` is not an IP address"));
        assert!(o.parse_entry("10.0.0.1=10.0.0.2").unwrap_err().to_string().contains("host name"));
    }

    #[tokio::test]
    async fn an_overridden_name_is_checked_like_dns() {
        let t = Duration::from_secs(2);
        let mut o = DnsOverrides::default();
        o.insert("metadata.example", vec!["169.254.169.254".parse().unwrap()]);
        match resolve("metadata.example", 80, true, t, &o).await {
            Err(EgressError::Prohibited { addresses }) => assert_eq!(addresses[0].1, AddressClass::LinkLocal),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_port_mapping_applies_to_its_name_and_port_only_and_is_checked_like_dns() {
        let t = Duration::from_secs(2);
        let mut o = DnsOverrides::default();
        o.connect_to("WebServices5.autotask.net.", 443, "127.0.0.1:18443".parse().unwrap());
        o.connect_to("meta.autotask.net", 443, "169.254.169.254:80".parse().unwrap());
        let to = resolve("webservices5.autotask.net", 443, true, t, &o).await.unwrap();
        assert_eq!(to, vec!["127.0.0.1:18443".parse::<SocketAddr>().unwrap()]);
        // The target is an address like any other: loopback only with the switch.
        match resolve("webservices5.autotask.net", 443, false, t, &o).await {
            Err(EgressError::Prohibited { addresses }) => assert_eq!(addresses[0].1, AddressClass::Loopback),
            other => panic!("{other:?}"),
        }
        match resolve("meta.autotask.net", 443, true, t, &o).await {
            Err(EgressError::Prohibited { addresses }) => assert_eq!(addresses[0].1, AddressClass::LinkLocal),
            other => panic!("{other:?}"),
        }
        // Another port of the same name is not mapped (it resolves, if at all, by DNS).
        assert_ne!(resolve("webservices5.autotask.net", 8443, true, t, &o).await.ok(), Some(to));
        // `--resolve` takes no port mapping: a `HOST:PORT` before `=` is just a name no URL host matches.
        let mut cli = DnsOverrides::default();
        cli.parse_entry("webservices5.autotask.net:443=127.0.0.1").unwrap();
        assert!(cli.ports.is_empty() && cli.get("webservices5.autotask.net").is_none());
    }

    #[test]
    fn table_rows() {
        assert_eq!(c("93.184.215.14"), AddressClass::Public);
        assert_eq!(c("2606:4700::1"), AddressClass::Public);
        assert_eq!(c("127.0.0.1"), AddressClass::Loopback);
        assert_eq!(c("127.255.0.9"), AddressClass::Loopback);
        assert_eq!(c("::1"), AddressClass::Loopback);
        assert_eq!(c("10.1.2.3"), AddressClass::Private);
        assert_eq!(c("172.31.0.1"), AddressClass::Private);
        assert_eq!(c("192.168.1.1"), AddressClass::Private);
        assert_eq!(c("100.100.100.200"), AddressClass::SharedCgnat);
        assert_eq!(c("169.254.169.254"), AddressClass::LinkLocal);
        assert_eq!(c("fe80::1"), AddressClass::LinkLocal);
        assert_eq!(c("fd00:ec2::254"), AddressClass::UniqueLocal);
        assert_eq!(c("0.0.0.0"), AddressClass::Unspecified);
        assert_eq!(c("::"), AddressClass::Unspecified);
        assert_eq!(c("224.0.0.1"), AddressClass::Multicast);
        assert_eq!(c("ff02::1"), AddressClass::Multicast);
        assert_eq!(c("255.255.255.255"), AddressClass::Broadcast);
        assert_eq!(c("192.0.2.1"), AddressClass::Documentation);
        assert_eq!(c("2001:db8::1"), AddressClass::Documentation);
        assert_eq!(c("240.0.0.1"), AddressClass::Reserved);
        assert_eq!(c("198.18.0.1"), AddressClass::Reserved);
        assert_eq!(c("::ffff:127.0.0.1"), AddressClass::Loopback);
        assert_eq!(c("::ffff:169.254.169.254"), AddressClass::LinkLocal);
        assert_eq!(c("::10.0.0.1"), AddressClass::Private);
        assert_eq!(c("64:ff9b::a9fe:a9fe"), AddressClass::LinkLocal);
        assert_eq!(c("::ffff:8.8.8.8"), AddressClass::Public);
        // 6to4: 2002:AABB:CCDD:: carries a.b.c.d.
        assert_eq!(c("2002:a9fe:a9fe::1"), AddressClass::LinkLocal);
        assert_eq!(c("2002:7f00:1::"), AddressClass::Loopback);
        assert_eq!(c("2002:0a00:0001:1::1"), AddressClass::Private);
        assert_eq!(c("2002:0808:0808::1"), AddressClass::Public);
        // Teredo: server 65.54.227.120 (public); the client is the last 32
        // bits inverted (f5ff:fffe is 10.0.0.1).
        assert_eq!(c("2001:0:4136:e378:8000:63bf:f5ff:fffe"), AddressClass::Private);
        // Client 127.0.0.1 (80ff:fffe), and 169.254.169.254 (5601:5601).
        assert_eq!(c("2001:0:4136:e378::80ff:fffe"), AddressClass::Loopback);
        assert_eq!(c("2001:0:4136:e378::5601:5601"), AddressClass::LinkLocal);
        // A private server with a public client (8.8.8.8 = f7f7:f7f7).
        assert_eq!(c("2001:0:0a00:0001::f7f7:f7f7"), AddressClass::Private);
        assert_eq!(c("2001:0:4136:e378::f7f7:f7f7"), AddressClass::Public);
    }

    #[test]
    fn loopback_only_with_the_switch() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(permitted(lo, false), Err(AddressClass::Loopback));
        assert_eq!(permitted(lo, true), Ok(()));
        let lo6: IpAddr = "::1".parse().unwrap();
        assert_eq!(permitted(lo6, true), Ok(()));
        assert_eq!(permitted("::ffff:127.0.0.1".parse().unwrap(), true), Ok(()));
        // Only 127.0.0.1 of 127.0.0.0/8, as documented.
        for other in ["127.0.0.2", "127.1.2.3", "::ffff:127.0.0.2"] {
            assert_eq!(permitted(other.parse().unwrap(), true), Err(AddressClass::Loopback), "{other}");
        }
        let meta: IpAddr = "169.254.169.254".parse().unwrap();
        assert_eq!(permitted(meta, true), Err(AddressClass::LinkLocal));
        let private: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(permitted(private, true), Err(AddressClass::Private));
    }

    #[tokio::test]
    async fn names_are_checked_after_resolution() {
        // `localhost` resolves to loopback on every machine.
        let t = Duration::from_secs(5);
        match resolve("localhost", 80, false, t, &DnsOverrides::default()).await {
            Err(EgressError::Prohibited { addresses }) => {
                assert!(addresses.iter().all(|(_, c)| *c == AddressClass::Loopback))
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(resolve("localhost", 80, true, t, &DnsOverrides::default()).await.is_ok());
        // Decimal, octal and hex spellings of 127.0.0.1 go through the resolver too.
        for spelled in ["2130706433", "0x7f000001", "017700000001"] {
            match resolve(spelled, 80, false, t, &DnsOverrides::default()).await {
                Err(EgressError::Prohibited { .. }) | Err(EgressError::Dns(_)) => {}
                other => panic!("{spelled}: expected a refusal, got {other:?}"),
            }
        }
    }
}
