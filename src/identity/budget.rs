//! What strangers can make the server spend on accounts: every mail sent on
//! request and every password hashed counts against the asking address, and
//! every mail against the mailbox it goes to, whoever asks. Shared by the
//! widget's account frames, the account pages and the admin panel's forms.

use std::net::IpAddr;
use std::time::Duration;

use crate::input::AddressKey;
use crate::rate_limit::{keyed, per_hour, take, Keyed};

pub struct Budget {
    by_ip: Keyed<AddressKey>,
    by_mailbox: Keyed<String>,
}

impl Budget {
    pub fn new(actions_per_ip_per_hour: u32, mails_per_mailbox_per_hour: u32) -> Budget {
        Budget {
            by_ip: keyed(per_hour(actions_per_ip_per_hour)),
            by_mailbox: keyed(per_hour(mails_per_mailbox_per_hour)),
        }
    }

    /// One costly action (a mail, a password hash) for `ip`, or how long to wait.
    pub fn action(&self, ip: IpAddr) -> Result<(), Duration> {
        take(&self.by_ip, &AddressKey::of(ip))
    }

    /// One mail to `mailbox` (see [`mailbox_key`]), or how long to wait.
    pub fn mail_to(&self, mailbox: &str) -> Result<(), Duration> {
        take(&self.by_mailbox, &mailbox_key(mailbox))
    }

    pub fn prune(&self) {
        self.by_ip.retain_recent();
        self.by_mailbox.retain_recent();
    }
}

/// The mailbox an address reaches: compared without case, and a sub-address
/// (`ann+anything@example.com`) is the mailbox of `ann@example.com`, as the
/// big mail providers deliver it there; otherwise one could send a victim
/// any number of mails by varying the tag.
fn mailbox_key(address: &str) -> String {
    let lowered = address.to_lowercase();
    match lowered.rsplit_once('@') {
        Some((local, domain)) => {
            let mailbox = local.split_once('+').map_or(local, |(mailbox, _)| mailbox);
            format!("{mailbox}@{domain}")
        }
        None => lowered,
    }
}

/// "5 minutes" or "40 s": how long a wait is, for people.
pub fn wait_text(wait: Duration) -> String {
    let secs = wait.as_secs().max(1);
    if secs >= 120 {
        format!("{} minutes", secs.div_ceil(60))
    } else {
        format!("{secs} s")
    }
}
