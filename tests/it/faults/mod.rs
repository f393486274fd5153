//! Faults: the server killed or stopped while messages flow, a locked or
//! vanished database, stalled readers under a flood. What must hold: nothing
//! that was acknowledged is lost, receivers resume with no gap and no
//! duplicate, and memory stays bounded.

use std::collections::BTreeMap;

use serde_json::Value;

mod closing;
mod crash;
mod database;
mod readers;

/// Each stored message's seq, by its text.
fn seq_by_text(history: &[Value]) -> BTreeMap<String, i64> {
    history
        .iter()
        .map(|m| {
            (
                m["text"].as_str().unwrap().to_owned(),
                m["seq"].as_i64().unwrap(),
            )
        })
        .collect()
}
