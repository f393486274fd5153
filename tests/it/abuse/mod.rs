//! Issue 12, "resource exhaustion by one anonymous visitor": what one
//! connection, participant or address can make the server do for others is
//! bounded. Each module turns one kind of attack into tests.

mod http;
mod ipv6;
mod login;
mod mail;
mod messages;
mod room_quota;
mod room_quota_races;
mod rooms;
mod signals;
mod spray;

use std::net::{IpAddr, SocketAddr};

use tokio::net::{TcpSocket, TcpStream};

use crate::support::{Client, TestApp};

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
    app.connect_over(tcp_from(app, ip).await, site_key).await
}
