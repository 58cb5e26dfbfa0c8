//! Fingerprint dedup: a repeat of the same alert (same [`Fingerprint`])
//! inside the window updates count and first/last seen of the stored alert
//! instead of creating a new one. Pure decisions; the server stores [`Seen`].

use std::collections::HashMap;

use time::{Duration, OffsetDateTime};

use crate::alert::{Alert, Fingerprint};

/// What the store remembers of an alert for dedup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub first_seen: OffsetDateTime,
    pub last_seen: OffsetDateTime,
    pub count: u64,
}

impl Seen {
    /// The dedup state of a freshly parsed alert.
    #[must_use]
    pub const fn of(alert: &Alert) -> Self {
        Self { first_seen: alert.first_seen, last_seen: alert.last_seen, count: alert.count }
    }
}

/// The dedup decision for one incoming alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Store it as a new alert.
    New,
    /// Update the stored alert to this state instead.
    Duplicate(Seen),
}

/// Decides whether `incoming` repeats `stored` (an alert with the same
/// fingerprint): yes when the two sightings are at most `window` apart, in
/// either order (late arrivals count too).
#[must_use]
pub fn decide(window: Duration, stored: Option<&Seen>, incoming: &Alert) -> Decision {
    match stored {
        Some(s) => decide_seen(window, s, &Seen::of(incoming)),
        None => Decision::New,
    }
}

/// [`decide`] for a stored sighting and an incoming one (the store's view,
/// which keeps sightings, not whole alerts).
#[must_use]
pub fn decide_seen(window: Duration, s: &Seen, incoming: &Seen) -> Decision {
    let gap = if incoming.first_seen >= s.last_seen {
        incoming.first_seen - s.last_seen
    } else if incoming.last_seen <= s.first_seen {
        s.first_seen - incoming.last_seen
    } else {
        Duration::ZERO
    };
    if gap > window {
        return Decision::New;
    }
    Decision::Duplicate(Seen {
        first_seen: s.first_seen.min(incoming.first_seen),
        last_seen: s.last_seen.max(incoming.last_seen),
        count: s.count.saturating_add(incoming.count),
    })
}

/// Folds repeats inside one batch, in input order, so the store sees each
/// fingerprint once per window. Returns the merged alerts and, per input
/// alert, the index of the merged alert it went into.
#[must_use]
pub fn merge_batch(window: Duration, alerts: Vec<Alert>) -> (Vec<Alert>, Vec<usize>) {
    let mut out: Vec<Alert> = Vec::with_capacity(alerts.len());
    let mut latest: HashMap<Fingerprint, usize> = HashMap::new();
    let mut placed = Vec::with_capacity(alerts.len());
    for a in alerts {
        if let Some(&i) = latest.get(&a.fingerprint)
            && let Decision::Duplicate(s) = decide(window, Some(&Seen::of(&out[i])), &a)
        {
            let m = &mut out[i];
            m.first_seen = s.first_seen;
            m.last_seen = s.last_seen;
            m.count = s.count;
            placed.push(i);
            continue;
        }
        latest.insert(a.fingerprint, out.len());
        placed.push(out.len());
        out.push(a);
    }
    (out, placed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Format;
    use muster_core::taxonomy::RsitType;
    use time::macros::datetime;

    fn alert(at: OffsetDateTime, src: &str) -> Alert {
        let rsit = RsitType::parse("scanner").unwrap_or_else(|e| panic!("{e}"));
        let mut a = Alert::new(Format::Eve, "suricata", "scan", at, rsit);
        a.observe_ip(src, None, "src");
        a.seal(&[])
    }

    const T0: OffsetDateTime = datetime!(2024-01-01 00:00 UTC);

    #[test]
    fn repeat_inside_the_window_updates_count_and_last_seen() {
        let first = alert(T0, "10.0.0.1");
        let again = alert(T0 + Duration::minutes(10), "10.0.0.1");
        let d = decide(Duration::hours(1), Some(&Seen::of(&first)), &again);
        assert_eq!(d, Decision::Duplicate(Seen { first_seen: T0, last_seen: T0 + Duration::minutes(10), count: 2 }));
    }

    #[test]
    fn repeat_outside_the_window_is_new() {
        let first = alert(T0, "10.0.0.1");
        let late = alert(T0 + Duration::hours(2), "10.0.0.1");
        assert_eq!(decide(Duration::hours(1), Some(&Seen::of(&first)), &late), Decision::New);
        assert_eq!(decide(Duration::hours(1), None, &first), Decision::New);
    }

    #[test]
    fn late_arrival_extends_first_seen() {
        let stored = Seen { first_seen: T0, last_seen: T0 + Duration::minutes(5), count: 3 };
        let early = alert(T0 - Duration::minutes(20), "10.0.0.1");
        let d = decide(Duration::hours(1), Some(&stored), &early);
        assert_eq!(
            d,
            Decision::Duplicate(Seen { first_seen: T0 - Duration::minutes(20), last_seen: stored.last_seen, count: 4 })
        );
    }

    #[test]
    fn batch_merge_folds_repeats_and_keeps_distinct_alerts() {
        let batch = vec![
            alert(T0, "10.0.0.1"),
            alert(T0 + Duration::minutes(1), "10.0.0.2"),
            alert(T0 + Duration::minutes(2), "10.0.0.1"),
            alert(T0 + Duration::hours(3), "10.0.0.1"),
        ];
        let (merged, placed) = merge_batch(Duration::hours(1), batch);
        assert_eq!(placed, [0, 1, 0, 2]);
        assert_eq!(merged.len(), 3);
        assert_eq!(merged[0].count, 2);
        assert_eq!(merged[0].last_seen, T0 + Duration::minutes(2));
        assert_eq!(merged[2].count, 1);
    }
}
