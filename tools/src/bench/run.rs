//! Running a profile: a single trial ([`single`]) or the NDR/PDR search
//! ([`search`]) between two ports, with a progress line.

use std::time::Duration;

use dataplane::io::{Backend, IoError};
use indicatif::{ProgressBar, ProgressStyle};

use super::profile::{Profile, Rate};
use super::search::{Planned, Search, SearchResult};
use super::traffic::Traffic;
use super::trial::{run_trial, TrialResult, TrialSpec};

/// Time the receiver keeps counting after the generator stopped.
pub const DRAIN: Duration = Duration::from_millis(300);

/// The trial spec of `planned` under `profile`.
pub fn spec(profile: &Profile, planned: &Planned) -> TrialSpec {
    TrialSpec {
        rate: Some(planned.rate),
        duration: planned.duration,
        drain: DRAIN,
        burst: profile.burst,
    }
}

/// One run of `profile` at its `[traffic]` rate and duration.
pub fn single<T, R>(
    profile: &Profile,
    tx: &mut T,
    rx: &mut R,
    traffic: &Traffic,
) -> Result<TrialResult, IoError>
where
    T: Backend + Send,
    R: Backend + Send,
{
    let spec = TrialSpec {
        rate: match profile.rate {
            Rate::Max => None,
            Rate::Pps(p) => Some(p),
        },
        duration: profile.duration,
        drain: DRAIN,
        burst: profile.burst,
    };
    run_trial(tx, rx, traffic, &spec)
}

/// A progress line on stderr (hidden when stderr is not a terminal).
pub fn progress_bar() -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .expect("valid template"),
    );
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// The progress message for the trial about to run.
pub fn progress_text(who: &str, s: &Search, p: &Planned, settings_width: f64) -> String {
    let last = s
        .trials()
        .last()
        .map(|t| {
            format!(
                ", last: {:.0} pps lost {:.3} %",
                t.rate,
                t.result.loss_ratio * 100.0
            )
        })
        .unwrap_or_default();
    let r = s.result();
    let what = match p.latency_at {
        Some(f) => format!("latency at {:.0} % of PDR", f * 100.0),
        None => format!(
            "search (NDR {:.0}..{}, PDR {:.0}..{}, width {:.1} %)",
            r.ndr.lower,
            r.ndr.upper.map_or("-".into(), |u| format!("{u:.0}")),
            r.pdr.lower,
            r.pdr.upper.map_or("-".into(), |u| format!("{u:.0}")),
            settings_width * 100.0
        ),
    };
    format!(
        "{who}: trial {} at {:.0} pps for {:.1} s, {what}{last}",
        s.trials().len() + 1,
        p.rate,
        p.duration.as_secs_f64()
    )
}

/// Runs the trial `p`; repeats it (up to `search.attempts` runs) while it
/// lost packets and the generator fell more than `search.generator_lag`
/// behind its schedule (see [`TrialResult::generator_lag_ms`]), but not at
/// the search's first rate (`max_rate`, usually beyond the generator).
pub fn trial_with_retries<T, R>(
    profile: &Profile,
    tx: &mut T,
    rx: &mut R,
    traffic: &Traffic,
    p: &Planned,
) -> Result<TrialResult, IoError>
where
    T: Backend + Send,
    R: Backend + Send,
{
    let s = &profile.search;
    let mut attempts = 1;
    let mut r = run_trial(tx, rx, traffic, &spec(profile, p))?;
    while r.lost > 0
        && p.rate < s.max_rate
        && r.generator_lag_ms > s.generator_lag.as_secs_f64() * 1e3
        && attempts < s.attempts
    {
        r = run_trial(tx, rx, traffic, &spec(profile, p))?;
        attempts += 1;
    }
    r.attempts = attempts;
    Ok(r)
}

/// The NDR/PDR search of `profile` from `tx` to `rx`.
pub fn search<T, R>(
    profile: &Profile,
    tx: &mut T,
    rx: &mut R,
    traffic: &Traffic,
    pb: Option<&ProgressBar>,
) -> Result<SearchResult, IoError>
where
    T: Backend + Send,
    R: Backend + Send,
{
    Search::new(profile.search.clone()).run(
        |p| trial_with_retries(profile, tx, rx, traffic, p),
        |s, p| {
            if let Some(pb) = pb {
                pb.set_message(progress_text(&profile.name, s, p, profile.search.width));
            }
        },
    )
}
