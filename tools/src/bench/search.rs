//! The no-drop-rate search, after FD.io CSIT's MLRsearch (RFC 9971): NDR
//! (the highest rate losing at most `ndr_loss`, 0 by default) and PDR (at
//! most `pdr_loss`, 0.5 %), each as an interval [lower, upper) of width at
//! most `width` (relative to upper), from trials of `trial_duration`; then
//! latency trials at 10, 50 and 90 % of the PDR, as CSIT does.
//!
//! The search is a state machine ([`Search::next`] / [`Search::feed`]), so
//! `compare` can run the searches of several forwarders with their trials
//! alternating. How it chooses rates:
//!
//! 1. The first trial runs at `max_rate`. What the forwarder passed
//!    (received rate) is the MRR, the first estimate of its capacity.
//! 2. For each goal, PDR first, then NDR (every trial counts for both):
//!    the lower bound is the highest rate whose trial lost at most the
//!    goal's ratio below the lowest rate that lost more (the upper bound).
//!    No lower bound yet: the next rate is the smaller of the forwarded
//!    rate of the upper bound's trial and `upper * (1 - width * 2^n)`
//!    (n: failures in a row, so the step grows as in MLRsearch's external
//!    search). Both bounds: bisection. Done when `(upper - lower) / upper
//!    <= width`, or when `max_rate` passes (lower = max_rate), or when
//!    `min_rate` fails (lower = 0: below the search range).
//! 3. Latency trials at 10/50/90 % of the PDR's lower bound.
//!
//! Rates that the generator could not offer count as what it did offer: a
//! trial's rate is its target rate, and its loss is measured against what
//! was actually sent.

use std::time::Duration;

use serde::Serialize;

use super::profile::SearchSettings;
use super::trial::TrialResult;

/// What the search wants run next.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Planned {
    /// Offered rate (pps).
    pub rate: f64,
    /// Trial duration.
    pub duration: Duration,
    /// Why: a search trial, or a latency trial at this fraction of PDR.
    pub latency_at: Option<f64>,
}

/// A trial of the search and what it measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trial {
    /// 1-based trial number.
    pub n: usize,
    /// Offered rate asked for (pps).
    pub rate: f64,
    /// For latency trials: the fraction of PDR.
    pub latency_at: Option<f64>,
    /// What it measured.
    pub result: TrialResult,
}

/// One goal's interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bounds {
    /// Loss ratio allowed.
    pub loss: f64,
    /// Highest rate that met the goal (0: none, below `min_rate`).
    pub lower: f64,
    /// Lowest rate that did not (None: `max_rate` met it).
    pub upper: Option<f64>,
}

/// The search's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResult {
    /// NDR interval.
    pub ndr: Bounds,
    /// PDR interval.
    pub pdr: Bounds,
    /// The MRR: received rate at `max_rate` (pps).
    pub mrr: f64,
    /// The NDR's lower bound is a trial where the generator could not
    /// offer the planned rate: the forwarder may do more.
    pub generator_limited: bool,
    /// Every trial, in order.
    pub trials: Vec<Trial>,
}

/// The search state machine.
#[derive(Debug, Clone)]
pub struct Search {
    s: SearchSettings,
    trials: Vec<Trial>,
    latency_done: usize,
}

/// A trial offered below this fraction of its planned rate counts at the
/// rate offered (the generator was the limit).
pub const GENERATOR_SHORTFALL: f64 = 0.99;

/// Fractions of PDR at which latency is measured.
pub const LATENCY_AT: [f64; 3] = [0.1, 0.5, 0.9];

impl Search {
    /// A search with `settings`.
    pub fn new(settings: SearchSettings) -> Search {
        Search {
            s: settings,
            trials: Vec::new(),
            latency_done: 0,
        }
    }

    fn search_trials(&self) -> impl DoubleEndedIterator<Item = &Trial> {
        self.trials.iter().filter(|t| t.latency_at.is_none())
    }

    /// The bounds for loss ratio `loss` from the trials so far, and
    /// whether the goal is settled.
    pub fn bounds(&self, loss: f64) -> (Bounds, bool) {
        let upper = self
            .search_trials()
            .filter(|t| t.result.loss_ratio > loss)
            .map(|t| t.rate)
            .fold(None, |a: Option<f64>, r| Some(a.map_or(r, |a| a.min(r))));
        let lower = self
            .search_trials()
            .filter(|t| t.result.loss_ratio <= loss && upper.is_none_or(|u| t.rate < u))
            .map(|t| t.rate)
            .fold(None, |a: Option<f64>, r| Some(a.map_or(r, |a| a.max(r))));
        let min_failed = upper.is_some_and(|u| u <= self.s.min_rate * 1.000_001);
        let done = match (lower, upper) {
            (_, None) => !self.trials.is_empty(),
            (None, Some(_)) => min_failed,
            (Some(l), Some(u)) => (u - l) / u <= self.s.width,
        };
        (
            Bounds {
                loss,
                lower: lower.unwrap_or(0.0),
                upper,
            },
            done,
        )
    }

    fn candidate(&self, loss: f64) -> f64 {
        let (b, _) = self.bounds(loss);
        let Some(u) = b.upper else {
            return self.s.max_rate;
        };
        if b.lower > 0.0 {
            return (b.lower + u) / 2.0;
        }
        // External search downwards.
        let fails = self
            .search_trials()
            .rev()
            .take_while(|t| t.result.loss_ratio > loss)
            .count() as i32;
        let forwarded = self
            .search_trials()
            .filter(|t| t.rate == u)
            .map(|t| t.result.rx_pps)
            .fold(f64::MAX, f64::min);
        let step = (self.s.width * 2f64.powi(fails.max(1) - 1)).min(0.5);
        (u * (1.0 - step)).min(forwarded).max(self.s.min_rate)
    }

    /// The next trial to run, `None` when the search is complete.
    pub fn next(&self) -> Option<Planned> {
        if self.trials.is_empty() {
            return Some(Planned {
                rate: self.s.max_rate,
                duration: self.s.trial_duration,
                latency_at: None,
            });
        }
        for loss in [self.s.pdr_loss, self.s.ndr_loss] {
            if !self.bounds(loss).1 {
                return Some(Planned {
                    rate: self.candidate(loss),
                    duration: self.s.trial_duration,
                    latency_at: None,
                });
            }
        }
        let pdr = self.bounds(self.s.pdr_loss).0.lower;
        let at = *LATENCY_AT.get(self.latency_done)?;
        if pdr <= 0.0 {
            return None;
        }
        Some(Planned {
            rate: pdr * at,
            duration: self.s.latency_duration,
            latency_at: Some(at),
        })
    }

    /// Records the result of the trial `planned` that [`Search::next`] gave.
    /// A trial whose generator offered less than 99 % of the planned rate
    /// (it could not go faster) counts at the rate it did offer.
    pub fn feed(&mut self, planned: Planned, result: TrialResult) {
        if planned.latency_at.is_some() {
            self.latency_done += 1;
        }
        let rate = if result.sent > 0 && result.offered_pps < planned.rate * GENERATOR_SHORTFALL {
            result.offered_pps
        } else {
            planned.rate
        };
        self.trials.push(Trial {
            n: self.trials.len() + 1,
            rate,
            latency_at: planned.latency_at,
            result,
        });
    }

    /// Trials run so far.
    pub fn trials(&self) -> &[Trial] {
        &self.trials
    }

    /// The outcome so far.
    pub fn result(&self) -> SearchResult {
        let ndr = self.bounds(self.s.ndr_loss).0;
        SearchResult {
            generator_limited: ndr.upper.is_none()
                && self.search_trials().any(|t| {
                    t.rate == ndr.lower
                        && t.result
                            .target_pps
                            .is_some_and(|p| t.rate < p * GENERATOR_SHORTFALL)
                }),
            ndr,
            pdr: self.bounds(self.s.pdr_loss).0,
            mrr: self.trials.first().map_or(0.0, |t| t.result.rx_pps),
            trials: self.trials.clone(),
        }
    }

    /// Runs the whole search with `trial` (rate, duration -> result);
    /// `progress` is told about each trial before it runs.
    pub fn run<E>(
        mut self,
        mut trial: impl FnMut(&Planned) -> Result<TrialResult, E>,
        mut progress: impl FnMut(&Search, &Planned),
    ) -> Result<SearchResult, E> {
        while let Some(p) = self.next() {
            progress(&self, &p);
            let r = trial(&p)?;
            self.feed(p, r);
        }
        Ok(self.result())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::profile::Profile;

    /// A model forwarder: forwards at most `cap` pps, loses the rest.
    fn model(cap: f64, p: &Planned) -> TrialResult {
        let sent = (p.rate * p.duration.as_secs_f64()) as u64;
        let received = (cap.min(p.rate) * p.duration.as_secs_f64()) as u64;
        TrialResult {
            target_pps: Some(p.rate),
            duration_s: p.duration.as_secs_f64(),
            sent,
            offered_pps: p.rate,
            received,
            lost: sent - received,
            loss_ratio: (sent - received) as f64 / sent as f64,
            reordered: 0,
            duplicates: 0,
            stale: 0,
            rx_pps: received as f64 / p.duration.as_secs_f64(),
            rx_gbps: 0.0,
            generator_lag_ms: 0.0,
            attempts: 1,
            latency: None,
            latency_corrected: None,
        }
    }

    #[test]
    fn finds_a_cap_within_the_width() {
        for cap in [3_000.0, 37_000.0, 123_456.0, 999_000.0] {
            let mut s = Profile::default().search;
            s.max_rate = 2e6;
            let width = s.width;
            let r = Search::new(s)
                .run(|p| Ok::<_, ()>(model(cap, p)), |_, _| {})
                .unwrap();
            let u = r.ndr.upper.unwrap();
            assert!(r.ndr.lower <= cap && cap < u, "cap {cap}: {:?}", r.ndr);
            assert!((u - r.ndr.lower) / u <= width);
            // PDR allows 0.5 % loss: cap / 0.995.
            let pdr = cap / 0.995;
            let pu = r.pdr.upper.unwrap();
            assert!(
                r.pdr.lower <= pdr * 1.0001 && pdr < pu * 1.0001,
                "cap {cap}: {:?}",
                r.pdr
            );
            let lat: Vec<f64> = r.trials.iter().filter_map(|t| t.latency_at).collect();
            assert_eq!(lat, LATENCY_AT);
            assert!(r.trials.len() < 30, "{} trials", r.trials.len());
        }
    }

    #[test]
    fn max_rate_passing_and_min_rate_failing_end_the_search() {
        let s = Profile::default().search;
        let r = Search::new(s.clone())
            .run(|p| Ok::<_, ()>(model(1e12, p)), |_, _| {})
            .unwrap();
        assert_eq!((r.ndr.lower, r.ndr.upper), (s.max_rate, None));
        // A generator that cannot go beyond 4000 pps: the search stops there.
        let r = Search::new(s.clone())
            .run(
                |p| {
                    let mut r = model(1e12, p);
                    r.offered_pps = p.rate.min(4000.0);
                    Ok::<_, ()>(r)
                },
                |_, _| {},
            )
            .unwrap();
        assert_eq!((r.ndr.lower, r.ndr.upper), (4000.0, None));
        assert!(r.generator_limited);
        let lat: Vec<f64> = r
            .trials
            .iter()
            .filter_map(|t| t.latency_at.map(|_| t.result.target_pps.unwrap()))
            .collect();
        assert_eq!(lat, [400.0, 2000.0, 3600.0]);
        let r = Search::new(s.clone())
            .run(|p| Ok::<_, ()>(model(10.0, p)), |_, _| {})
            .unwrap();
        assert_eq!(r.ndr.lower, 0.0);
        assert!(r.trials.iter().all(|t| t.latency_at.is_none()));
    }
}
