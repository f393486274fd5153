//! WebSocket close codes by the server's own names ([`CloseReason`]), as
//! `closed.code` reports them: `assert_eq!(client.closed().await.code, close::BANNED)`.
//! The numbers are the wire's; [`close_codes_are_the_documented_ones`] holds
//! them to docs/PROTOCOL.md so that no change to them goes unnoticed.

use chatctl::chat::protocol::CloseReason;

pub const RESTARTING: Option<u16> = Some(CloseReason::Restarting.close_code());
pub const SIGNED_OUT: Option<u16> = Some(CloseReason::SignedOut.close_code());
pub const BANNED: Option<u16> = Some(CloseReason::Banned.close_code());
pub const SITE_DISABLED: Option<u16> = Some(CloseReason::SiteDisabled.close_code());
pub const SLOW_CONSUMER: Option<u16> = Some(CloseReason::SlowConsumer.close_code());
pub const IDLE_TIMEOUT: Option<u16> = Some(CloseReason::IdleTimeout.close_code());
pub const PROTOCOL_VIOLATION: Option<u16> = Some(CloseReason::ProtocolViolation.close_code());
pub const FRAME_TOO_LARGE: Option<u16> = Some(CloseReason::FrameTooLarge.close_code());

#[test]
fn close_codes_are_the_documented_ones() {
    let doc = include_str!("../../../docs/PROTOCOL.md");
    let table = &doc[doc.find("### Close codes").expect("the close code table")..];
    let documented = |reason: CloseReason| -> u16 {
        let name = format!("| `{}` |", reason.as_str());
        let row = table
            .lines()
            .find(|line| line.contains(&name))
            .unwrap_or_else(|| panic!("docs/PROTOCOL.md lists {name}"));
        row.split('|').nth(1).unwrap().trim().parse().unwrap()
    };
    for reason in [
        CloseReason::Restarting,
        CloseReason::SignedOut,
        CloseReason::Banned,
        CloseReason::SiteDisabled,
        CloseReason::SlowConsumer,
        CloseReason::IdleTimeout,
        CloseReason::ProtocolViolation,
        CloseReason::FrameTooLarge,
    ] {
        assert_eq!(reason.close_code(), documented(reason), "{reason:?}");
    }
    // The numbers the tests held before they had names.
    let wire = [
        RESTARTING,
        SIGNED_OUT,
        BANNED,
        SITE_DISABLED,
        SLOW_CONSUMER,
        IDLE_TIMEOUT,
        PROTOCOL_VIOLATION,
        FRAME_TOO_LARGE,
    ];
    let numbers = [4000, 4001, 4003, 4004, 4008, 4009, 4010, 1009];
    assert_eq!(wire, numbers.map(Some));
}
