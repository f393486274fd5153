//! The widget in a real browser (headless Chromium, see [`crate::support::browser`]),
//! embedded by pages of another origin ([`HostSite`](crate::support::browser::HostSite))
//! as on a real site.
//! A few long scenarios rather than many short ones: each browser start costs
//! seconds. `CHATCTL_SCREENSHOTS=docs/screenshots cargo test --test it widget_looks`
//! refreshes the README's pictures.
//!
//! One file per scenario; each test reads as its list of steps, each step a
//! function named for what it shows.

mod accounts;
mod looks;
mod moderation;
mod visitors;
