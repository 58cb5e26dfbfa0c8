//! The incident lifecycle: states, resolutions, which moves are allowed, and
//! the milestone times (detection, containment, closure) that MTTD/MTTR are
//! computed from. Pure rules; the store and API apply them.

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::vocabulary;

vocabulary! {
    /// Where an incident stands, from first sight to closure.
    pub enum IncidentStatus ("incident status") {
        New => "new",
        Triage => "triage",
        InProgress => "in-progress",
        Contained => "contained",
        Eradicated => "eradicated",
        Recovered => "recovered",
        Closed => "closed",
    }
}

vocabulary! {
    /// Why an incident was closed.
    pub enum Resolution ("resolution") {
        TruePositive => "true-positive",
        FalsePositive => "false-positive",
        Benign => "benign",
        Duplicate => "duplicate",
        Other => "other",
    }
}

impl IncidentStatus {
    /// Whether the threat is contained in this state (containment reached or passed).
    #[must_use]
    pub const fn is_contained(self) -> bool {
        matches!(self, Self::Contained | Self::Eradicated | Self::Recovered)
    }
}

/// A refused move.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the incident is already {0}")]
    NoChange(IncidentStatus),
    #[error("an incident cannot go back to new")]
    BackToNew,
    #[error("resolution: closing needs one of true-positive, false-positive, benign, duplicate, other")]
    ResolutionRequired,
    #[error("resolution: only a closed incident has one")]
    ResolutionNotAllowed,
}

/// The times the lifecycle records. All UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Milestones {
    /// When the first related activity happened (earliest alert), if known.
    pub occurred_at: Option<OffsetDateTime>,
    /// When it was detected (the incident opened).
    pub detected_at: OffsetDateTime,
    /// When it was reported (to the coordinating CSIRT or an authority), if it was.
    pub reported_at: Option<OffsetDateTime>,
    /// When containment was first reached.
    pub contained_at: Option<OffsetDateTime>,
    /// When it was closed (cleared again on reopening).
    pub closed_at: Option<OffsetDateTime>,
}

/// An incident's lifecycle state: status, resolution and milestones, kept consistent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Lifecycle {
    pub status: IncidentStatus,
    pub resolution: Option<Resolution>,
    pub milestones: Milestones,
}

impl Lifecycle {
    /// A new incident detected at `at`.
    #[must_use]
    pub const fn open(at: OffsetDateTime, occurred_at: Option<OffsetDateTime>) -> Self {
        Self {
            status: IncidentStatus::New,
            resolution: None,
            milestones: Milestones {
                occurred_at,
                detected_at: at,
                reported_at: None,
                contained_at: None,
                closed_at: None,
            },
        }
    }

    /// Moves to `to` at `at`. Any open state may move to any other except back
    /// to `new`; closing needs a resolution; a closed incident may be reopened
    /// (its resolution and closure time are cleared). Reaching containment the
    /// first time records `contained_at`.
    ///
    /// # Errors
    /// [`TransitionError`] naming the rule broken; the lifecycle is unchanged then.
    pub fn transition(
        &mut self,
        to: IncidentStatus,
        resolution: Option<Resolution>,
        at: OffsetDateTime,
    ) -> Result<(), TransitionError> {
        if to == self.status {
            return Err(TransitionError::NoChange(to));
        }
        if to == IncidentStatus::New {
            return Err(TransitionError::BackToNew);
        }
        match (to, resolution) {
            (IncidentStatus::Closed, None) => return Err(TransitionError::ResolutionRequired),
            (IncidentStatus::Closed, Some(_)) => {}
            (_, Some(_)) => return Err(TransitionError::ResolutionNotAllowed),
            (_, None) => {}
        }
        // Times never run backwards, even when a caller's clock does.
        let at = at.max(self.milestones.detected_at);
        if to.is_contained() && self.milestones.contained_at.is_none() {
            self.milestones.contained_at = Some(at);
        }
        if to == IncidentStatus::Closed {
            self.milestones.closed_at = Some(at);
        } else {
            self.milestones.closed_at = None;
        }
        self.status = to;
        self.resolution = resolution;
        Ok(())
    }

    /// Records the first report at `at` (never before detection); later reports keep the first time.
    pub fn mark_reported(&mut self, at: OffsetDateTime) {
        if self.milestones.reported_at.is_none() {
            self.milestones.reported_at = Some(at.max(self.milestones.detected_at));
        }
    }

    /// Time from the first related activity to detection (the "D" of MTTD).
    #[must_use]
    pub fn time_to_detect(&self) -> Option<Duration> {
        self.milestones.occurred_at.map(|o| self.milestones.detected_at - o)
    }

    /// Time from detection to containment.
    #[must_use]
    pub fn time_to_contain(&self) -> Option<Duration> {
        self.milestones.contained_at.map(|c| c - self.milestones.detected_at)
    }

    /// Time from detection to closure (the "R" of MTTR).
    #[must_use]
    pub fn time_to_close(&self) -> Option<Duration> {
        self.milestones.closed_at.map(|c| c - self.milestones.detected_at)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::macros::datetime;

    use super::*;

    const T0: OffsetDateTime = datetime!(2026-11-27 03:00 UTC);

    #[test]
    fn a_full_response_records_its_milestones() {
        let mut l = Lifecycle::open(T0, Some(T0 - Duration::hours(2)));
        for (i, s) in [
            IncidentStatus::Triage,
            IncidentStatus::InProgress,
            IncidentStatus::Contained,
            IncidentStatus::Eradicated,
            IncidentStatus::Recovered,
        ]
        .into_iter()
        .enumerate()
        {
            l.transition(s, None, T0 + Duration::minutes(10 * (i as i64 + 1))).unwrap_or_else(|e| panic!("{e}"));
        }
        l.transition(IncidentStatus::Closed, Some(Resolution::TruePositive), T0 + Duration::hours(5))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(l.time_to_detect(), Some(Duration::hours(2)));
        assert_eq!(l.time_to_contain(), Some(Duration::minutes(30)));
        assert_eq!(l.time_to_close(), Some(Duration::hours(5)));
    }

    #[test]
    fn closing_needs_a_resolution_and_only_closing_takes_one() {
        let mut l = Lifecycle::open(T0, None);
        assert_eq!(l.transition(IncidentStatus::Closed, None, T0), Err(TransitionError::ResolutionRequired));
        assert_eq!(
            l.transition(IncidentStatus::Triage, Some(Resolution::Benign), T0),
            Err(TransitionError::ResolutionNotAllowed)
        );
        assert_eq!(l.status, IncidentStatus::New, "a refused move changes nothing");
        assert!(l.transition(IncidentStatus::Closed, Some(Resolution::FalsePositive), T0).is_ok());
        assert_eq!(l.time_to_contain(), None, "a false positive was never contained");
    }

    #[test]
    fn reopening_clears_the_closure_but_keeps_containment() {
        let mut l = Lifecycle::open(T0, None);
        l.transition(IncidentStatus::Contained, None, T0 + Duration::hours(1)).ok();
        l.transition(IncidentStatus::Closed, Some(Resolution::TruePositive), T0 + Duration::hours(2)).ok();
        l.transition(IncidentStatus::InProgress, None, T0 + Duration::hours(3)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((l.resolution, l.milestones.closed_at), (None, None));
        assert_eq!(l.milestones.contained_at, Some(T0 + Duration::hours(1)));
        assert_eq!(l.transition(IncidentStatus::New, None, T0), Err(TransitionError::BackToNew));
    }

    fn status() -> impl Strategy<Value = IncidentStatus> {
        prop::sample::select(IncidentStatus::ALL.to_vec())
    }

    fn resolution() -> impl Strategy<Value = Option<Resolution>> {
        prop::option::of(prop::sample::select(Resolution::ALL.to_vec()))
    }

    proptest! {
        #[test]
        fn any_sequence_of_moves_keeps_the_lifecycle_consistent(
            moves in prop::collection::vec((status(), resolution(), -120i64..600), 0..40)
        ) {
            let mut l = Lifecycle::open(T0, None);
            let mut clock = T0;
            for (to, res, step) in moves {
                clock += Duration::minutes(step);
                let before = l;
                match l.transition(to, res, clock) {
                    Ok(()) => prop_assert_eq!(l.status, to),
                    Err(_) => prop_assert_eq!(l, before),
                }
                let closed = l.status == IncidentStatus::Closed;
                prop_assert_eq!(closed, l.resolution.is_some());
                prop_assert_eq!(closed, l.milestones.closed_at.is_some());
                if let (Some(c), Some(x)) = (l.milestones.contained_at, l.milestones.closed_at) {
                    prop_assert!(c >= l.milestones.detected_at && x >= l.milestones.detected_at);
                }
                if l.status.is_contained() {
                    prop_assert!(l.milestones.contained_at.is_some());
                }
            }
        }
    }
}
