//! Issue 12, "resource exhaustion by one anonymous visitor": what one
//! connection, participant or address can make the server do for others is
//! bounded. Each module turns one kind of attack into tests.

mod http;
mod ipv6;
mod login;
mod mail;
mod messages;
mod rooms;
mod signals;

use std::net::{IpAddr, SocketAddr};

use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::MaybeTlsStream;

use crate::common::{Client, TestApp, ORIGIN};

/// A TCP connection to the server from another loopback address (Linux
/// routes all of 127.0.0.0/8 to lo), standing for another visitor.
pub async fn tcp_from(app: &TestApp, ip: &str) -> TcpStream {
    let ip: IpAddr = ip.parse().unwrap();
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(ip, 0)).unwrap();
    socket.connect(app.addr).await.unwrap()
}

/// A chat connection from another loopback address.
pub async fn connect_from(app: &TestApp, ip: &str, site_key: &str) -> Client {
    let stream = tcp_from(app, ip).await;
    let mut request = app.ws_url(site_key).into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", ORIGIN.parse().unwrap());
    let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
        .await
        .expect("upgrade accepted");
    Client { ws }
}
