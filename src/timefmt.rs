//! Unix-millisecond timestamps to and from UTC calendar dates, for pages,
//! forms and JSON output (no time zone database needed: pages write UTC and
//! the viewer's browser shows its own zone).

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-22 14:05 UTC`
pub fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// `2026-11-22T14:05:09Z`, for exports.
pub fn iso(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Serde `serialize_with`: epoch ms as an RFC 3339 UTC string
/// (`2026-11-22T14:05:09Z`), the one time format of chatctl's JSON output
/// (`--json` and the admin export).
pub fn rfc3339<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&iso(*ms))
}

/// [`rfc3339`] for a time that may be absent (`null`).
pub fn rfc3339_opt<S: serde::Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => s.serialize_some(&iso(*ms)),
        None => s.serialize_none(),
    }
}

/// Parses `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM` (as HTML date inputs send them), in UTC.
pub fn parse(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    let (date, time) = match raw.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (raw, None),
    };
    let mut parts = date.splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1970..=9999).contains(&y) {
        return None;
    }
    let (h, min) = match time {
        Some(t) => {
            let (h, min) = t.split_once(':')?;
            let min = min.get(..2).unwrap_or(min);
            (h.parse::<i64>().ok()?, min.parse::<i64>().ok()?)
        }
        None => (0, 0),
    };
    if !(0..24).contains(&h) || !(0..60).contains(&min) {
        return None;
    }
    Some((days_from_civil(y, m, d) * 86_400 + h * 3600 + min * 60) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        let t = parse("2026-11-22T14:05").unwrap();
        assert_eq!(utc(t), "2026-11-22 14:05 UTC");
        assert_eq!(iso(t + 9000), "2026-11-22T14:05:09Z");
        assert_eq!(parse("2024-02-29"), Some(1_709_164_800_000));
        assert_eq!(parse("2024-13-01"), None);
        assert_eq!(parse("yesterday"), None);
    }
}
