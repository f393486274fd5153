//! What the dashboard draws: messages per hour (counted in the database) and
//! connections per hour (sampled here, kept in memory: a restart starts the
//! connection history afresh), each as a small SVG bar chart drawn on the
//! server, so the page needs no script and no CDN.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::Admin;
use crate::db::models::SiteId;
use crate::db::now_ms;

/// Hours the charts cover.
pub const HOURS: usize = 24;
const HOUR_MS: i64 = 3_600_000;

/// The most connections each site had in each of the last [`HOURS`] hours,
/// as far as the samples saw.
#[derive(Default)]
pub struct ConnectionHistory {
    /// (hour since the epoch, peak per site), oldest first.
    hours: Mutex<VecDeque<(i64, HashMap<SiteId, usize>)>>,
}

impl ConnectionHistory {
    /// Takes one sample: `counts` connections per site at `now_ms`.
    pub fn record(&self, now_ms: i64, counts: &HashMap<SiteId, usize>) {
        let hour = now_ms.div_euclid(HOUR_MS);
        let mut hours = self.hours.lock().unwrap_or_else(|e| e.into_inner());
        if hours.back().is_none_or(|(h, _)| *h != hour) {
            hours.push_back((hour, HashMap::new()));
        }
        if let Some((_, peaks)) = hours.back_mut() {
            for (site, n) in counts {
                let peak = peaks.entry(*site).or_default();
                *peak = (*peak).max(*n);
            }
        }
        while hours
            .front()
            .is_some_and(|(h, _)| *h <= hour - HOURS as i64)
        {
            hours.pop_front();
        }
    }

    /// The site's peak in each of the last [`HOURS`] hours up to `now_ms`,
    /// oldest first; `None` for hours nothing was sampled in.
    pub fn peaks(&self, site: SiteId, now_ms: i64) -> Vec<Option<i64>> {
        let hour = now_ms.div_euclid(HOUR_MS);
        let hours = self.hours.lock().unwrap_or_else(|e| e.into_inner());
        (hour - HOURS as i64 + 1..=hour)
            .map(|h| {
                hours
                    .iter()
                    .find(|(at, _)| *at == h)
                    .map(|(_, peaks)| peaks.get(&site).copied().unwrap_or(0) as i64)
            })
            .collect()
    }
}

/// How often connections are counted for the chart.
const SAMPLE_EVERY: Duration = Duration::from_secs(60);

/// Counts connections per site (on every instance) every [`SAMPLE_EVERY`]
/// until shutdown.
pub async fn sample(admin: Arc<Admin>, mut shutdown: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(SAMPLE_EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => admin.connections.record(now_ms(), &admin.chat.connections_by_site()),
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// The first millisecond of the oldest hour a chart ending at `now_ms` shows.
pub fn first_hour(now_ms: i64) -> i64 {
    (now_ms.div_euclid(HOUR_MS) - HOURS as i64 + 1) * HOUR_MS
}

/// A bar chart of hourly `values` (oldest first, the last ending at `now_ms`)
/// as inline SVG; each bar's tooltip gives its hour (UTC) and value with
/// `unit`, and `label` is what a screen reader hears. Hours without data
/// have no bar.
pub fn bars(values: &[Option<i64>], now_ms: i64, label: &str, unit: &str) -> String {
    const BAR: usize = 10;
    const HEIGHT: i64 = 48;
    let max = values.iter().flatten().copied().max().unwrap_or(0).max(1);
    let start = first_hour(now_ms);
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {} {HEIGHT}" role="img" aria-label="{}">"#,
        values.len() * BAR,
        escape(label)
    );
    for (i, value) in values.iter().enumerate() {
        let Some(value) = value else { continue };
        // A zero still shows as a hairline, so "nothing happened" reads differently from "no data".
        let height = (value * (HEIGHT - 1) / max).max(1);
        let hour = crate::timefmt::utc(start + i as i64 * HOUR_MS);
        let _ = write!(
            svg,
            r#"<rect x="{}" y="{}" width="{}" height="{height}"><title>{hour}: {value} {}</title></rect>"#,
            i * BAR + 1,
            HEIGHT - height,
            BAR - 2,
            escape(unit)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The few characters that matter in SVG text and attributes.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_500_000_000;

    #[test]
    fn keeps_each_hours_peak_for_a_day() {
        let history = ConnectionHistory::default();
        let site = SiteId(1);
        history.record(NOW - 25 * HOUR_MS, &HashMap::from([(site, 9)]));
        history.record(NOW - HOUR_MS, &HashMap::from([(site, 3)]));
        history.record(NOW, &HashMap::from([(site, 5)]));
        history.record(NOW, &HashMap::from([(site, 2)]));
        let peaks = history.peaks(site, NOW);
        assert_eq!(peaks.len(), HOURS);
        assert_eq!(&peaks[HOURS - 2..], &[Some(3), Some(5)]);
        // A day ago is gone; hours never sampled are unknown, not zero.
        assert!(peaks[..HOURS - 2].iter().all(Option::is_none));
        assert_eq!(history.peaks(SiteId(2), NOW)[HOURS - 1], Some(0));
    }

    #[test]
    fn draws_one_titled_bar_per_known_hour() {
        let mut values = vec![None; HOURS];
        values[HOURS - 2] = Some(0);
        values[HOURS - 1] = Some(12);
        let svg = bars(&values, NOW, "Messages <24 h>", "messages");
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(
            svg.contains(r#"aria-label="Messages &lt;24 h&gt;""#),
            "{svg}"
        );
        assert!(
            svg.contains(r#"height="47""#) && svg.contains(r#"height="1""#),
            "{svg}"
        );
        assert!(svg.contains(": 12 messages</title>"), "{svg}");
    }
}
