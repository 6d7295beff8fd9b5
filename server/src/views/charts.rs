//! Server-rendered SVG charts that teach: a real time axis with dated ticks,
//! a value axis with its unit, a legend in HTML below the plot (readable,
//! never overlapping), and a title on every mark for the exact figure.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;

use crate::views::summary::escape;

/// Line colours, each at least 4.5:1 on white.
const PALETTE: [&str; 8] = ["#1565c0", "#2e7d32", "#c62828", "#6a1b9a", "#a34700", "#00695c", "#5d4037", "#455a64"];

/// A plot area inside an SVG: where values land.
struct Frame {
    width: f64,
    height: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl Frame {
    const fn new(width: f64, height: f64) -> Frame {
        Frame { width, height, left: 46.0, right: 12.0, top: 10.0, bottom: 26.0 }
    }

    /// x of `at` within `[t0, t1]`.
    fn x(&self, at: f64, t0: f64, t1: f64) -> f64 {
        let span = (t1 - t0).max(1.0);
        self.left + (at - t0) / span * (self.width - self.left - self.right)
    }

    /// y of `v` within `[0, max]`.
    fn y(&self, v: f64, max: f64) -> f64 {
        let h = self.height - self.top - self.bottom;
        self.height - self.bottom - v / max.max(f64::MIN_POSITIVE) * h
    }

    fn open(&self, label: &str) -> String {
        format!(
            "<svg class=\"chart\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\">",
            self.width,
            self.height,
            escape(label)
        )
    }

    /// The value axis: a gridline and a label at each tick.
    fn value_axis(&self, svg: &mut String, max: f64, ticks: &[(f64, String)]) {
        for (v, label) in ticks {
            let y = self.y(*v, max);
            let _ = write!(
                svg,
                "<line x1=\"{l}\" y1=\"{y:.1}\" x2=\"{r}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
                 <text x=\"{tx}\" y=\"{ty:.1}\" font-size=\"10\" text-anchor=\"end\" fill=\"#444\">{label}</text>",
                l = self.left,
                r = self.width - self.right,
                tx = self.left - 4.0,
                ty = y + 3.5,
            );
        }
    }

    /// The time axis: a tick and a date at each day boundary chosen.
    fn time_axis(&self, svg: &mut String, t0: f64, t1: f64) {
        let base = self.height - self.bottom;
        let _ = write!(
            svg,
            "<line x1=\"{}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" stroke=\"#888\"/>",
            self.left,
            self.width - self.right
        );
        for (at, label) in day_ticks(t0, t1, 6) {
            let x = self.x(at, t0, t1);
            let _ = write!(
                svg,
                "<line x1=\"{x:.1}\" y1=\"{base}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#888\"/>\
                 <text x=\"{x:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#444\">{label}</text>",
                base + 4.0,
                base + 15.0
            );
        }
    }
}

/// Up to `most` ticks at midnights (UTC) between `t0` and `t1` (seconds),
/// a whole number of days apart, labelled like `Nov 20`.
fn day_ticks(t0: f64, t1: f64, most: usize) -> Vec<(f64, String)> {
    const DAY: f64 = 86_400.0;
    let first = (t0 / DAY).ceil() as i64;
    let last = (t1 / DAY).floor() as i64;
    if last < first {
        // Less than a day between: one tick at the start, dated.
        return vec![(t0, label_of(t0))];
    }
    let days = (last - first + 1) as usize;
    let step = days.div_ceil(most.max(1)).max(1) as i64;
    (first..=last).step_by(step as usize).map(|d| (d as f64 * DAY, label_of(d as f64 * DAY))).collect()
}

fn label_of(secs: f64) -> String {
    Timestamp::from_second(secs as i64).map_or_else(|_| String::new(), |t| t.strftime("%b %-d").to_string())
}

/// Pass rate per run over time, one line per place (`target/compiler`).
pub fn pass_rate(series: &[matrix::evaluate::TargetResult]) -> String {
    if series.is_empty() {
        return "<p class=\"muted\">No runs select this feature yet.</p>".into();
    }
    let frame = Frame::new(640.0, 200.0);
    let t0 = series.iter().map(|r| r.at.as_second()).min().unwrap_or(0) as f64;
    let t1 = series.iter().map(|r| r.at.as_second()).max().unwrap_or(0) as f64;
    let mut places: BTreeMap<String, Vec<(f64, f64, String)>> = BTreeMap::new();
    for r in series {
        let run = (r.passed + r.failed).max(1) as f64;
        places.entry(r.place()).or_default().push((r.at.as_second() as f64, r.passed as f64 / run, r.run_id.clone()));
    }
    let mut svg = frame.open("pass rate per run over time, by target and compiler");
    let ticks: Vec<(f64, String)> =
        [0.0, 0.25, 0.5, 0.75, 1.0].iter().map(|v| (*v, format!("{:.0}%", v * 100.0))).collect();
    frame.value_axis(&mut svg, 1.0, &ticks);
    frame.time_axis(&mut svg, t0, t1.max(t0 + 1.0));
    for (i, (place, points)) in places.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let xy: Vec<(f64, f64)> =
            points.iter().map(|(t, rate, _)| (frame.x(*t, t0, t1.max(t0 + 1.0)), frame.y(*rate, 1.0))).collect();
        let line: Vec<String> = xy.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            line.join(" ")
        );
        for ((x, y), (t, rate, run)) in xy.iter().zip(points) {
            let _ = write!(
                svg,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"{colour}\"><title>{}: {:.1}% on {} ({})</title></circle>",
                escape(place),
                rate * 100.0,
                label_of(*t),
                escape(run)
            );
        }
    }
    svg.push_str("</svg>");
    svg + &legend(places.keys().map(String::as_str))
}

/// A legend under a chart: a swatch and a name per series, in HTML.
fn legend<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut html = String::from("<ul class=\"legend\">");
    for (i, name) in names.enumerate() {
        let _ = write!(
            html,
            "<li><span class=\"swatch\" style=\"background:{}\"></span>{}</li>",
            PALETTE[i % PALETTE.len()],
            escape(name)
        );
    }
    html.push_str("</ul>");
    html
}

/// One day of a feature's standing: its status and earned tier at the
/// day's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    pub date: String,
    pub status: Option<String>,
    pub earned: Option<i64>,
}

/// The feature's standing at the end of each of the last `days` days up to
/// `now`, from its history rows (oldest first); before its first row the
/// standing is unknown.
pub fn days(history: &[crate::store::HistoryRow], now: Timestamp, days: i64) -> Vec<Day> {
    let today = now.as_second().div_euclid(86_400);
    (today - days + 1..=today)
        .map(|d| {
            let end = (d + 1) * 86_400;
            let last = history.iter().rev().find(|h| h.at.as_second() < end);
            Day {
                date: Timestamp::from_second(d * 86_400)
                    .map_or_else(|_| String::new(), |t| t.strftime("%Y-%m-%d").to_string()),
                status: last.map(|h| h.status.clone()),
                earned: last.and_then(|h| h.earned),
            }
        })
        .collect()
}

/// The history strip: one cell per day, coloured by the day's status.
pub fn history_strip(days: &[Day]) -> String {
    let (cell, gap) = (14.0, 2.0);
    let width = days.len() as f64 * (cell + gap);
    let mut svg = format!(
        "<svg class=\"strip\" viewBox=\"0 0 {width} {cell}\" role=\"img\" aria-label=\"status per day, the last {} days\">",
        days.len()
    );
    for (i, d) in days.iter().enumerate() {
        let colour = match d.status.as_deref() {
            Some("conforming") => "#2e7d32",
            Some("promotable") => "#1565c0",
            Some("violating") => "#c62828",
            Some(_) => "#757575",
            None => "#eeeeee",
        };
        let tier = d.earned.map_or_else(|| "no tier".to_owned(), |t| format!("Tier {t}"));
        let what = d.status.as_deref().map_or_else(|| "no standing yet".to_owned(), |s| format!("{s}, earns {tier}"));
        let x = i as f64 * (cell + gap);
        let _ = write!(
            svg,
            "<g><title>{}: {what}</title><rect x=\"{x:.1}\" y=\"0\" width=\"{cell}\" height=\"{cell}\" rx=\"2\" fill=\"{colour}\"/>",
            d.date
        );
        // The tier earned that day, in the cell.
        if let (Some(t), Some(_)) = (d.earned, &d.status) {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"10.5\" font-size=\"9\" text-anchor=\"middle\" fill=\"#fff\">{t}</text>",
                x + cell / 2.0
            );
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

/// Per day and target, a sum over fuzz campaigns, as stacked bars.
pub fn fuzz_per_day(campaigns: &[crate::store::CampaignRow], what: Measure) -> String {
    if campaigns.is_empty() {
        return "<p class=\"muted\">No fuzz campaigns reported yet.</p>".into();
    }
    let mut days: BTreeMap<i64, BTreeMap<&str, f64>> = BTreeMap::new();
    for c in campaigns {
        let value = match what {
            Measure::Hours => c.duration_secs / 3600.0,
            Measure::Executions => c.iterations as f64,
        };
        *days.entry(c.finished_at.as_second().div_euclid(86_400)).or_default().entry(c.target.as_str()).or_default() +=
            value;
    }
    let targets: Vec<&str> = {
        let mut t: Vec<&str> = campaigns.iter().map(|c| c.target.as_str()).collect();
        t.sort_unstable();
        t.dedup();
        t
    };
    let max = days.values().map(|by| by.values().sum::<f64>()).fold(0.0, f64::max);
    let (max, ticks) = what.ticks(max);
    let frame = Frame::new(640.0, 200.0);
    let (first, last) = (*days.keys().next().unwrap_or(&0), *days.keys().last().unwrap_or(&0));
    let (t0, t1) = ((first as f64 - 0.5) * 86_400.0, (last as f64 + 0.5) * 86_400.0);
    let mut svg = frame.open(what.label());
    frame.value_axis(&mut svg, max, &ticks);
    frame.time_axis(&mut svg, t0, t1);
    let bar = ((frame.x(86_400.0, 0.0, t1 - t0) - frame.left) * 0.7).clamp(2.0, 40.0);
    for (day, by) in &days {
        let x = frame.x(*day as f64 * 86_400.0, t0, t1) - bar / 2.0;
        let mut below = 0.0;
        for (i, t) in targets.iter().enumerate() {
            let Some(v) = by.get(t) else { continue };
            let (top, bottom) = (frame.y(below + v, max), frame.y(below, max));
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{top:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}: {} on {}</title></rect>",
                (bottom - top).max(0.5),
                PALETTE[i % PALETTE.len()],
                escape(t),
                what.format(*v),
                label_of(*day as f64 * 86_400.0)
            );
            below += v;
        }
    }
    svg.push_str("</svg>");
    svg + &legend(targets.into_iter())
}

/// What a fuzz chart sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Campaign wall time.
    Hours,
    /// Inputs tried.
    Executions,
}

impl Measure {
    fn label(self) -> &'static str {
        match self {
            Measure::Hours => "fuzzing time per day, by target",
            Measure::Executions => "fuzz inputs tried per day, by target",
        }
    }

    /// A figure in the unit that reads best: minutes below an hour.
    fn format(self, v: f64) -> String {
        match self {
            Measure::Hours if v < 1.0 => format!("{:.1} min", v * 60.0),
            Measure::Hours => format!("{v:.1} h"),
            Measure::Executions => format!("{v:.0} inputs"),
        }
    }

    /// A rounded axis top for `max` and four ticks up to it, all in one
    /// unit: minutes for an axis under an hour, millions and thousands
    /// of inputs as `M` and `k`.
    fn ticks(self, max: f64) -> (f64, Vec<(f64, String)>) {
        let top = nice_ceiling(if max > 0.0 { max } else { 1.0 });
        let label = |v: f64| match self {
            Measure::Hours if top < 1.0 => format!("{} min", short(v * 60.0)),
            Measure::Hours => format!("{} h", short(v)),
            Measure::Executions if top >= 1e6 => format!("{}M", short(v / 1e6)),
            Measure::Executions if top >= 1e3 => format!("{}k", short(v / 1e3)),
            Measure::Executions => short(v),
        };
        let ticks = (0..=4).map(|i| top * f64::from(i) / 4.0).map(|v| (v, label(v))).collect();
        (top, ticks)
    }
}

/// A figure with one decimal at most, none when it is whole.
fn short(v: f64) -> String {
    let rounded = (v * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 { format!("{rounded:.0}") } else { format!("{rounded:.1}") }
}

/// The smallest of 1, 2, 2.5, 5 times a power of ten at or above `v`.
fn nice_ceiling(v: f64) -> f64 {
    let power = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * power).find(|c| *c >= v * 0.999_999).unwrap_or(10.0 * power)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_ticks_fall_on_midnights_and_are_dated() {
        let t0 = 1_763_596_800.0 + 3_600.0; // 2025-11-20 01:00 UTC
        let ticks = day_ticks(t0, t0 + 10.0 * 86_400.0, 6);
        assert!(ticks.len() <= 6 && ticks.len() >= 4, "{ticks:?}");
        assert!(ticks.iter().all(|(t, _)| (*t as i64) % 86_400 == 0));
        assert_eq!(ticks[0].1, "Nov 21");
        assert_eq!(day_ticks(t0, t0 + 60.0, 6), [(t0, "Nov 20".to_owned())], "less than a day: one dated tick");
    }

    #[test]
    fn axis_tops_are_round_and_short_campaigns_read_in_minutes() {
        assert_eq!(nice_ceiling(0.37), 0.5);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(2.2), 2.5);
        let (top, ticks) = Measure::Hours.ticks(0.021);
        assert_eq!(top, 0.025);
        let labels: Vec<&str> = ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["0 min", "0.4 min", "0.8 min", "1.1 min", "1.5 min"], "one unit, never `0.0 h`");
        let (top, ticks) = Measure::Executions.ticks(4_200_000.0);
        assert_eq!(top, 5_000_000.0);
        let labels: Vec<&str> = ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["0M", "1.3M", "2.5M", "3.8M", "5M"]);
        assert_eq!(Measure::Hours.ticks(48.0).1.last().map(|t| t.1.clone()), Some("50 h".to_owned()));
    }

    #[test]
    fn the_strip_has_a_cell_per_day_from_the_history() {
        let row = |day: i64, status: &str| crate::store::HistoryRow {
            feature: "f".into(),
            at: Timestamp::from_second(day * 86_400 + 60).expect("time"),
            declared: 1,
            earned: Some(1),
            status: status.into(),
            missing: vec![],
            cause: "r".into(),
        };
        let now = Timestamp::from_second(20_000 * 86_400 + 100).expect("time");
        let got = days(&[row(19_997, "violating"), row(19_999, "conforming")], now, 5);
        let statuses: Vec<Option<&str>> = got.iter().map(|d| d.status.as_deref()).collect();
        assert_eq!(statuses, [None, Some("violating"), Some("violating"), Some("conforming"), Some("conforming")]);
        let strip = history_strip(&got);
        assert_eq!(strip.matches("<rect").count(), 5);
        assert_eq!(strip.matches(">1</text>").count(), 4, "the tier earned, in each day with a standing");
    }
}
