//! What `cnfwd-bench` hands back: the results file (`--json`), a Markdown
//! report and its SVG plots.
//!
//! Plots are drawn with `plotters`' SVG backend only (no font files, no
//! system libraries: text goes into the SVG as `<text>` and the viewer's
//! fonts draw it): NDR/PDR per frame size and forwarder, the latency
//! percentile curve (HdrHistogram style: x is "number of nines") per
//! forwarder at 50 % of PDR, and loss against offered rate from the search.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;
use serde::Serialize;

use super::measure::Latency;
use super::profile::Profile;
use super::search::SearchResult;

/// One forwarder's outcome for one frame size.
#[derive(Debug, Clone, Serialize)]
pub struct ForwarderRun {
    /// Short name (`cnfwd`, `kernel`, `testpmd-io`...).
    pub name: String,
    /// What it is and how it was set up.
    pub description: String,
    /// The search, when it ran.
    pub search: Option<SearchResult>,
    /// Why it did not run (missing binary, set-up failure).
    pub error: Option<String>,
}

/// All forwarders for one frame size.
#[derive(Debug, Clone, Serialize)]
pub struct SizeRun {
    /// The frame sizes (`64`, `imix`).
    pub sizes: String,
    /// Mean frame size with FCS (for Gbit/s).
    pub mean_size: f64,
    /// Per forwarder.
    pub forwarders: Vec<ForwarderRun>,
}

/// A whole run of `cnfwd-bench search` or `compare`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The command line.
    pub command: String,
    /// When it started (UTC, RFC 3339).
    pub date: String,
    /// Machine: kernel, CPU model, CPUs.
    pub machine: String,
    /// Where traffic went (veth, DPDK vdevs...).
    pub setup: String,
    /// The profile.
    pub profile: Profile,
    /// Per frame size.
    pub runs: Vec<SizeRun>,
}

fn mpps(pps: f64) -> String {
    format!("{:.4}", pps / 1e6)
}

fn gbps(pps: f64, size: f64) -> String {
    format!("{:.3}", pps * size * 8.0 / 1e9)
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1e3)
}

/// The machine description: kernel, CPU model and count.
pub fn machine() -> String {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown CPU")
        .trim()
        .to_owned();
    let n = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    format!("Linux {}, {n} x {model}", kernel.trim())
}

/// Now as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn latency_at(s: &SearchResult, frac: f64) -> Option<&Latency> {
    s.trials
        .iter()
        .find(|t| t.latency_at == Some(frac))
        .and_then(|t| t.result.latency.as_ref())
}

impl Report {
    /// The Markdown report; plots are referred to as `<plot_prefix>-*.svg`.
    pub fn markdown(&self, plot_prefix: Option<&str>) -> String {
        let mut m = String::new();
        let _ = writeln!(m, "# cnfwd-bench: {}\n", self.profile.name);
        let _ = writeln!(m, "- command: `{}`", self.command);
        let _ = writeln!(m, "- date: {}", self.date);
        let _ = writeln!(m, "- machine: {}", self.machine);
        let _ = writeln!(m, "- setup: {}", self.setup);
        let p = &self.profile;
        let s = &p.search;
        let _ = writeln!(
            m,
            "- traffic: {} flows, {:?}/{:?}{}, trials {:.1} s, NDR loss {} %, PDR loss {} %, width {} %, search {:.0}..{:.0} pps\n",
            p.flows,
            p.ip,
            p.l4,
            p.vlan.map_or(String::new(), |v| format!(", VLAN {v}")),
            s.trial_duration.as_secs_f64(),
            s.ndr_loss * 100.0,
            s.pdr_loss * 100.0,
            s.width * 100.0,
            s.min_rate,
            s.max_rate
        );
        for run in &self.runs {
            let _ = writeln!(m, "## Frame size {} bytes\n", run.sizes);
            let base = run
                .forwarders
                .iter()
                .find_map(|f| f.search.as_ref().map(|s| (f.name.clone(), s.ndr.lower)));
            let _ = writeln!(
                m,
                "| forwarder | NDR Mpps | NDR Gbit/s | PDR Mpps | PDR Gbit/s | MRR Mpps | NDR ratio{} | trials |",
                base.as_ref().map_or(String::new(), |b| format!(" (/ {})", b.0))
            );
            let _ = writeln!(m, "|---|---:|---:|---:|---:|---:|---:|---:|");
            for f in &run.forwarders {
                match (&f.search, &f.error) {
                    (Some(s), _) => {
                        let ratio = base
                            .as_ref()
                            .filter(|b| b.1 > 0.0)
                            .map_or("-".into(), |b| format!("{:.2}", s.ndr.lower / b.1));
                        let _ = writeln!(
                            m,
                            "| {} | {}{} | {} | {} | {} | {} | {ratio} | {} |",
                            f.name,
                            if s.generator_limited { ">= " } else { "" },
                            mpps(s.ndr.lower),
                            gbps(s.ndr.lower, run.mean_size),
                            mpps(s.pdr.lower),
                            gbps(s.pdr.lower, run.mean_size),
                            mpps(s.mrr),
                            s.trials.len()
                        );
                    }
                    (None, e) => {
                        let _ = writeln!(
                            m,
                            "| {} | not run: {} | | | | | | |",
                            f.name,
                            e.as_deref().unwrap_or("?")
                        );
                    }
                }
            }
            if run
                .forwarders
                .iter()
                .any(|f| f.search.as_ref().is_some_and(|s| s.generator_limited))
            {
                let _ = writeln!(
                    m,
                    "\n\">=\": the generator could not offer more without loss at the forwarder: the forwarder may do more."
                );
            }
            let _ = writeln!(m, "\nLatency (µs, frame arrival minus send time) at 10/50/90 % of each forwarder's PDR:\n");
            let _ = writeln!(
                m,
                "| forwarder | load | min | p50 | p90 | p99 | p99.9 | p99.99 | max |"
            );
            let _ = writeln!(m, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            for f in &run.forwarders {
                let Some(s) = &f.search else { continue };
                for frac in super::search::LATENCY_AT {
                    if let Some(l) = latency_at(s, frac) {
                        let _ = writeln!(
                            m,
                            "| {} | {:.0} % PDR | {} | {} | {} | {} | {} | {} | {} |",
                            f.name,
                            frac * 100.0,
                            us(l.min),
                            us(l.p50),
                            us(l.p90),
                            us(l.p99),
                            us(l.p99_9),
                            us(l.p99_99),
                            us(l.max)
                        );
                    }
                }
            }
            for f in &run.forwarders {
                let Some(s) = &f.search else { continue };
                let _ = writeln!(
                    m,
                    "\n<details><summary>{}: {} trials</summary>\n",
                    f.name,
                    s.trials.len()
                );
                let _ = writeln!(m, "{}\n", f.description);
                let _ = writeln!(
                    m,
                    "| # | kind | rate pps | sent | received | loss % | reordered | duplicates | gen. lag ms | runs |"
                );
                let _ = writeln!(m, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
                for t in &s.trials {
                    let r = &t.result;
                    let _ = writeln!(
                        m,
                        "| {} | {} | {:.0} | {} | {} | {:.4} | {} | {} | {:.1} | {} |",
                        t.n,
                        t.latency_at
                            .map_or("search".into(), |f| format!("latency {:.0} %", f * 100.0)),
                        t.rate,
                        r.sent,
                        r.received,
                        r.loss_ratio * 100.0,
                        r.reordered,
                        r.duplicates,
                        r.generator_lag_ms,
                        r.attempts
                    );
                }
                let _ = writeln!(m, "\n</details>");
            }
            m.push('\n');
        }
        if let Some(prefix) = plot_prefix {
            let name = Path::new(prefix)
                .file_name()
                .map_or(prefix.to_owned(), |n| n.to_string_lossy().into_owned());
            let _ = writeln!(m, "## Plots\n");
            if self.runs.len() > 1 {
                let _ = writeln!(m, "![NDR per frame size]({name}-throughput.svg)\n");
            }
            let _ = writeln!(
                m,
                "![Latency percentiles at 50 % of PDR]({name}-latency.svg)\n"
            );
            let _ = writeln!(m, "![Loss against offered rate]({name}-loss.svg)\n");
        }
        m
    }

    /// Writes the SVG plots `<prefix>-throughput.svg` (with more than one
    /// frame size), `<prefix>-latency.svg` and `<prefix>-loss.svg`.
    pub fn plots(&self, prefix: &str) -> Result<(), String> {
        if self.runs.len() > 1 {
            self.plot_throughput(&format!("{prefix}-throughput.svg"))
                .map_err(|e| format!("{prefix}-throughput.svg: {e}"))?;
        }
        self.plot_latency(&format!("{prefix}-latency.svg"))
            .map_err(|e| format!("{prefix}-latency.svg: {e}"))?;
        self.plot_loss(&format!("{prefix}-loss.svg"))
            .map_err(|e| format!("{prefix}-loss.svg: {e}"))
    }

    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for r in &self.runs {
            for f in &r.forwarders {
                if f.search.is_some() && !v.contains(&f.name) {
                    v.push(f.name.clone());
                }
            }
        }
        v
    }

    fn plot_throughput(&self, path: &str) -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (800, 450)).into_drawing_area();
        root.fill(&WHITE)?;
        let max = self
            .runs
            .iter()
            .flat_map(|r| r.forwarders.iter().filter_map(|f| f.search.as_ref()))
            .map(|s| s.ndr.lower / 1e6)
            .fold(0.0, f64::max)
            .max(1e-3);
        let n = self.runs.len();
        let mut chart = ChartBuilder::on(&root)
            .caption("NDR (Mpps) per frame size", ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..max * 1.15)?;
        let labels: Vec<String> = self.runs.iter().map(|r| r.sizes.clone()).collect();
        chart
            .configure_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| {
                labels
                    .get(x.round().max(0.0) as usize)
                    .map_or(String::new(), |s| format!("{s} B"))
            })
            .y_desc("Mpps")
            .draw()?;
        for (i, name) in self.names().iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let pts: Vec<(f64, f64)> = self
                .runs
                .iter()
                .enumerate()
                .filter_map(|(x, r)| {
                    r.forwarders
                        .iter()
                        .find(|f| &f.name == name)
                        .and_then(|f| f.search.as_ref())
                        .map(|s| (x as f64, s.ndr.lower / 1e6))
                })
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE)
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    }

    fn plot_latency(&self, path: &str) -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (800, 450)).into_drawing_area();
        root.fill(&WHITE)?;
        let Some(run) = self.runs.first() else {
            return Ok(());
        };
        let nines = |p: f64| -(1.0 - p / 100.0).max(1e-6).log10();
        let curves: Vec<(String, Vec<(f64, f64)>)> = run
            .forwarders
            .iter()
            .filter_map(|f| {
                let l = latency_at(f.search.as_ref()?, 0.5)?;
                Some((
                    f.name.clone(),
                    l.curve
                        .iter()
                        .map(|&(p, v)| (nines(p), v as f64 / 1e3))
                        .collect(),
                ))
            })
            .collect();
        let xmax = curves
            .iter()
            .flat_map(|c| c.1.iter().map(|p| p.0))
            .fold(2.0, f64::max)
            .ceil();
        let ymax = curves
            .iter()
            .flat_map(|c| c.1.iter().map(|p| p.1))
            .fold(1.0, f64::max);
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("Latency at 50 % of PDR, {} B frames (µs)", run.sizes),
                ("sans-serif", 20),
            )
            .margin(15)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..xmax, (1f64..ymax * 1.5).log_scale())?;
        chart
            .configure_mesh()
            .x_labels(xmax as usize + 1)
            .x_label_formatter(&|x| {
                let p = 100.0 * (1.0 - 10f64.powf(-x));
                format!("{}%", (p * 1000.0).round() / 1000.0)
            })
            .x_desc("percentile")
            .y_desc("µs")
            .draw()?;
        for (i, (name, pts)) in curves.into_iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE)
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    }

    fn plot_loss(&self, path: &str) -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (800, 450)).into_drawing_area();
        root.fill(&WHITE)?;
        let Some(run) = self.runs.first() else {
            return Ok(());
        };
        let series: Vec<(String, Vec<(f64, f64)>)> = run
            .forwarders
            .iter()
            .filter_map(|f| {
                let s = f.search.as_ref()?;
                let mut pts: Vec<(f64, f64)> = s
                    .trials
                    .iter()
                    .filter(|t| t.latency_at.is_none())
                    .map(|t| (t.rate / 1e6, t.result.loss_ratio * 100.0))
                    .collect();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                Some((f.name.clone(), pts))
            })
            .collect();
        let xmax = series
            .iter()
            .flat_map(|s| s.1.iter().map(|p| p.0))
            .fold(1e-3, f64::max);
        let ymax = series
            .iter()
            .flat_map(|s| s.1.iter().map(|p| p.1))
            .fold(1.0, f64::max);
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "Loss against offered rate (search trials), {} B frames",
                    run.sizes
                ),
                ("sans-serif", 20),
            )
            .margin(15)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..xmax * 1.05, 0f64..ymax * 1.1)?;
        chart
            .configure_mesh()
            .x_desc("offered Mpps")
            .y_desc("loss %")
            .draw()?;
        for (i, (name, pts)) in series.into_iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(1)))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE)
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    }
}
