//! Who the client is: its IP address, and the keyed hash that stands for it.
//!
//! The address comes from the TCP peer, unless that peer is the configured
//! trusted proxy (Caddy), in which case it comes from the one header Caddy
//! sets from `{remote_host}`. Headers a client can send itself, such as
//! `X-Forwarded-For` or `X-Real-IP`, are never read. The raw address is used
//! only in memory (for the rate limiter); what is stored or compared across
//! requests is an HMAC of it, and nothing here logs it.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Decides the client address of a request.
#[derive(Debug, Clone)]
pub struct ClientIpSource {
    trusted: Vec<IpAddr>,
    header: String,
}

impl ClientIpSource {
    /// Trusts `header` only on connections from one of `trusted`.
    pub fn new(trusted: Vec<IpAddr>, header: &str) -> Self {
        Self { trusted, header: header.to_ascii_lowercase() }
    }

    /// Whether the connection comes from the trusted proxy.
    pub fn is_trusted(&self, peer: SocketAddr) -> bool {
        let peer_ip = canonical(peer.ip());
        self.trusted.iter().any(|t| canonical(*t) == peer_ip)
    }

    /// The client's address as Caddy saw it, or the peer's own address.
    pub fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let peer_ip = canonical(peer.ip());
        if !self.is_trusted(peer) {
            return peer_ip;
        }
        // A proxy that sends the header twice is misconfigured; taking neither
        // is safer than guessing which one it meant.
        let mut values = headers.get_all(self.header.as_str()).iter();
        let (Some(value), None) = (values.next(), values.next()) else { return peer_ip };
        value.to_str().ok().and_then(|v| v.trim().parse::<IpAddr>().ok()).map_or(peer_ip, canonical)
    }
}

/// Maps `::ffff:a.b.c.d` to `a.b.c.d`, so one client has one key.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The stored stand-in for a client address: HMAC-SHA256 under the secret.
pub fn client_hash(secret: &[u8], ip: IpAddr) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("hmac takes any key length");
    mac.update(b"kiln-client-ip\0");
    mac.update(ip.to_string().as_bytes());
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn spoofed_forwarding_headers_are_ignored() {
        let source = ClientIpSource::new(vec!["127.0.0.1".parse().unwrap()], "X-Kiln-Client-IP");
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-real-ip", "203.0.113.8"),
            ("x-kiln-client-ip", "198.51.100.7"),
        ]);
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert_eq!(source.client_ip(peer, &h).to_string(), "198.51.100.7");
    }

    #[test]
    fn client_ip_header_from_untrusted_peer_is_ignored() {
        let source = ClientIpSource::new(vec!["127.0.0.1".parse().unwrap()], "x-kiln-client-ip");
        let h = headers(&[("x-kiln-client-ip", "198.51.100.7")]);
        let peer: SocketAddr = "192.0.2.4:5000".parse().unwrap();
        assert_eq!(source.client_ip(peer, &h).to_string(), "192.0.2.4");
    }

    #[test]
    fn duplicated_client_ip_header_falls_back_to_peer() {
        let source = ClientIpSource::new(vec!["127.0.0.1".parse().unwrap()], "x-kiln-client-ip");
        let h =
            headers(&[("x-kiln-client-ip", "198.51.100.7"), ("x-kiln-client-ip", "198.51.100.8")]);
        let peer: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
        assert_eq!(source.client_ip(peer, &h).to_string(), "127.0.0.1");
    }

    #[test]
    fn client_hash_is_keyed() {
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(client_hash(b"a", ip), client_hash(b"a", ip));
        assert_ne!(client_hash(b"a", ip), client_hash(b"b", ip));
        assert_eq!(client_hash(b"a", ip).len(), 32);
    }
}
