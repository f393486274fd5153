//! One module per scenario; `flow` is the engine the message scenarios share.

pub mod churn;
pub mod fanout;
mod flow;
pub mod idle;
pub mod persist;
pub mod rooms;
pub mod slow;
