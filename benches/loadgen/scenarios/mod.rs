//! One module per scenario; `flow` is the engine the message scenarios share.

pub mod bigroom;
pub mod churn;
pub mod fanout;
mod flow;
pub mod idle;
mod outcome;
pub mod persist;
mod probes;
pub mod rooms;
pub mod slow;
pub mod storm;
