//! The HTTP client of deliveries: one POST per connection over hyper's
//! HTTP/1 client, with rustls (webpki roots) for https.
//!
//! It resolves the host itself and connects to an address it checked: unless
//! `--webhook-allow-private`, loopback, private, link-local (cloud metadata
//! services), shared and reserved addresses are refused, whatever the name
//! resolves to at the moment of sending (a name that resolved to a public
//! address when the endpoint was added cannot later lead inside). Redirects
//! are not followed (a 3xx is a failed attempt), the whole attempt has a
//! deadline, and at most [`MAX_RESPONSE_BYTES`] of the answer are read.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue};
use hyper_util::rt::TokioIo;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use url::{Host, Url};

/// Most bytes of a receiver's answer read (the rest is dropped with the connection).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

#[derive(Debug, Error)]
pub enum SendError {
    #[error("{0}")]
    Refused(String),
    #[error("cannot resolve {host}: {cause}")]
    Resolve { host: String, cause: String },
    #[error("cannot connect to {addr}: {cause}")]
    Connect { addr: String, cause: String },
    #[error("TLS with {host} failed: {cause}")]
    Tls { host: String, cause: String },
    #[error("HTTP exchange failed: {0}")]
    Http(String),
    #[error("no answer within {0} s")]
    Timeout(u64),
}

#[derive(Clone)]
pub struct Client {
    tls: tokio_rustls::TlsConnector,
    allow_private: bool,
    timeout: Duration,
}

impl Client {
    pub fn new(allow_private: bool, timeout: Duration) -> Result<Client, rustls::Error> {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Client {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            allow_private,
            timeout,
        })
    }

    /// POSTs `body` to `url` with these headers; the answer's status code.
    pub async fn post(
        &self,
        url: &Url,
        headers: &[(&'static str, String)],
        body: Bytes,
    ) -> Result<u16, SendError> {
        tokio::time::timeout(self.timeout, self.exchange(url, headers, body))
            .await
            .map_err(|_| SendError::Timeout(self.timeout.as_secs()))?
    }

    async fn exchange(
        &self,
        url: &Url,
        headers: &[(&'static str, String)],
        body: Bytes,
    ) -> Result<u16, SendError> {
        let host = url
            .host()
            .ok_or_else(|| SendError::Refused("the URL has no host".into()))?;
        let port = url.port_or_known_default().unwrap_or(80);
        let addrs = self.addresses(&host, port).await?;
        let stream = connect(&addrs).await?;
        let request = request(url, headers, body)?;
        if url.scheme() == "https" {
            let name = rustls::pki_types::ServerName::try_from(host_name(&host)).map_err(|e| {
                SendError::Tls {
                    host: host.to_string(),
                    cause: e.to_string(),
                }
            })?;
            let tls = self
                .tls
                .connect(name, stream)
                .await
                .map_err(|e| SendError::Tls {
                    host: host.to_string(),
                    cause: e.to_string(),
                })?;
            send(tls, request).await
        } else {
            send(stream, request).await
        }
    }

    /// The addresses to try, checked against `--webhook-allow-private`.
    async fn addresses(&self, host: &Host<&str>, port: u16) -> Result<Vec<SocketAddr>, SendError> {
        let found: Vec<SocketAddr> = match host {
            Host::Ipv4(ip) => vec![SocketAddr::new(IpAddr::V4(*ip), port)],
            Host::Ipv6(ip) => vec![SocketAddr::new(IpAddr::V6(*ip), port)],
            Host::Domain(name) => tokio::net::lookup_host((*name, port))
                .await
                .map_err(|e| SendError::Resolve {
                    host: name.to_string(),
                    cause: e.to_string(),
                })?
                .collect(),
        };
        if self.allow_private {
            return Ok(found);
        }
        let (public, private): (Vec<SocketAddr>, Vec<SocketAddr>) =
            found.into_iter().partition(|a| is_public(a.ip()));
        if public.is_empty() {
            let listed: Vec<String> = private.iter().map(|a| a.ip().to_string()).collect();
            return Err(SendError::Refused(format!(
                "{host} is not a public address ({}); the server refuses those unless started with --webhook-allow-private",
                listed.join(", ")
            )));
        }
        Ok(public)
    }
}

fn host_name(host: &Host<&str>) -> String {
    match host {
        Host::Domain(name) => (*name).to_owned(),
        Host::Ipv4(ip) => ip.to_string(),
        Host::Ipv6(ip) => ip.to_string(),
    }
}

async fn connect(addrs: &[SocketAddr]) -> Result<TcpStream, SendError> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => {
                last = Some(SendError::Connect {
                    addr: addr.to_string(),
                    cause: e.to_string(),
                })
            }
        }
    }
    Err(last.unwrap_or_else(|| SendError::Refused("the host has no address".into())))
}

fn request(
    url: &Url,
    headers: &[(&'static str, String)],
    body: Bytes,
) -> Result<hyper::Request<Full<Bytes>>, SendError> {
    let bad = |e: &dyn std::fmt::Display| SendError::Http(e.to_string());
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let authority = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let mut req = hyper::Request::post(target)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::CONTENT_LENGTH, body.len())
        .header(
            hyper::header::USER_AGENT,
            concat!("chatctl-webhooks/", env!("CARGO_PKG_VERSION")),
        )
        .body(Full::new(body))
        .map_err(|e| bad(&e))?;
    for (name, value) in headers {
        let value = HeaderValue::from_str(value).map_err(|e| bad(&e))?;
        req.headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
    Ok(req)
}

/// One request on a fresh connection; reads (and drops) at most
/// [`MAX_RESPONSE_BYTES`] of the answer.
async fn send<S>(stream: S, req: hyper::Request<Full<Bytes>>) -> Result<u16, SendError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| SendError::Http(e.to_string()))?;
    let driver = tokio::spawn(conn);
    let result = async {
        let response = sender
            .send_request(req)
            .await
            .map_err(|e| SendError::Http(e.to_string()))?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut read = 0usize;
        while read < MAX_RESPONSE_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => read += frame.data_ref().map_or(0, Bytes::len),
                // The status is what counts; a body cut short does not undo it.
                Some(Err(_)) | None => break,
            }
        }
        Ok(status)
    }
    .await;
    driver.abort();
    result
}

/// Whether an address is on the public internet: not loopback, private,
/// link-local, shared (carrier NAT), multicast, documentation, benchmarking
/// or reserved, nor an IPv6 form of one of those.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            let nat64 = v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
            if nat64 {
                let [.., c, d] = v6.segments();
                let v4 = std::net::Ipv4Addr::from(((c as u32) << 16) | d as u32);
                return is_public(IpAddr::V4(v4));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
                || (first == 0x2001 && v6.segments()[1] == 0xdb8))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        let private = [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "240.0.0.1",
            "192.0.0.8",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
        ];
        for ip in private {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
