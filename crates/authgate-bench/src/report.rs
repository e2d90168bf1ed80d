//! The run's results: JSON, a Markdown table, and an SVG bar chart.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::json;

use crate::load::{Scenario, ScenarioResult};
use crate::Options;

/// A CPU share in cores, or a dash.
fn cores(share: Option<f64>) -> String {
    share.map_or("—".into(), |c| format!("{c:.2}"))
}

/// One target's figures.
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) idle_rss_kb: u64,
    pub(crate) peak_rss_kb: u64,
    pub(crate) results: Vec<(Scenario, ScenarioResult)>,
    pub(crate) bytes_per_token: Option<f64>,
    pub(crate) bytes_note: String,
}

impl Row {
    pub(crate) fn new(name: &str, idle_rss_kb: u64) -> Self {
        Self {
            name: name.to_owned(),
            idle_rss_kb,
            peak_rss_kb: 0,
            results: Vec::new(),
            bytes_per_token: None,
            bytes_note: String::new(),
        }
    }

    fn result(&self, s: Scenario) -> Option<&ScenarioResult> {
        self.results.iter().find(|(k, _)| *k == s).map(|(_, r)| r)
    }
}

pub(crate) struct Report {
    /// The figures reported: each scenario's median run (by req/s).
    pub(crate) rows: Vec<Row>,
    /// Every run's figures, as measured.
    pub(crate) runs: Vec<Vec<Row>>,
    /// The built-in generator on the ceiling, beside wrk (the load generator check).
    pub(crate) checks: Vec<(Scenario, ScenarioResult)>,
    /// By server and scenario: the lowest and highest ratio to the ceiling over the runs.
    spread: Vec<(String, Scenario, f64, f64)>,
    /// By store: milliseconds from a revocation through one instance to the first refusal
    /// by another instance's token cache, each sample.
    pub(crate) invalidation: Vec<(String, Vec<f64>)>,
    machine: String,
    options: Options,
}

impl Report {
    pub(crate) fn new(o: &Options) -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
        Self {
            rows: Vec::new(),
            runs: Vec::new(),
            checks: Vec::new(),
            spread: Vec::new(),
            invalidation: Vec::new(),
            machine: format!("{cores} cores, {cpu}"),
            options: o.clone(),
        }
    }

    fn ceiling(&self) -> Option<&Row> {
        self.rows.iter().find(|r| r.name == "ceiling")
    }

    /// Sets each result's ratios to the ceiling of its own run, then picks each scenario's
    /// median run (by that ratio; by req/s where there is no ceiling) into `rows`, and the
    /// spread of the ratio over the runs.
    pub(crate) fn finish(&mut self) {
        for run in &mut self.runs {
            let ceiling: Vec<(Scenario, f64, u64)> = run
                .iter()
                .find(|r| r.name == "ceiling")
                .map(|c| {
                    c.results
                        .iter()
                        .map(|(s, r)| (*s, r.rps, r.p99_us))
                        .collect()
                })
                .unwrap_or_default();
            for row in run.iter_mut() {
                for (s, r) in &mut row.results {
                    if let Some((_, rps, p99)) = ceiling.iter().find(|(k, _, _)| k == s) {
                        r.ratio_to_ceiling = Some(r.rps / rps.max(1e-9));
                        r.p99_to_ceiling = Some(r.p99_us as f64 / (*p99).max(1) as f64);
                    }
                }
            }
        }
        let Some(first) = self.runs.first() else {
            return;
        };
        let mut rows: Vec<Row> = first
            .iter()
            .map(|r| {
                let mut row = Row::new(&r.name, r.idle_rss_kb);
                row.peak_rss_kb = self
                    .runs
                    .iter()
                    .flat_map(|run| run.iter().filter(|x| x.name == r.name))
                    .map(|x| x.peak_rss_kb)
                    .max()
                    .unwrap_or(0);
                row
            })
            .collect();
        let mut spread = Vec::new();
        for row in &mut rows {
            for s in Scenario::ALL {
                let mut all: Vec<ScenarioResult> = self
                    .runs
                    .iter()
                    .filter_map(|run| run.iter().find(|x| x.name == row.name)?.result(s).cloned())
                    .collect();
                if all.is_empty() {
                    continue;
                }
                let ratios: Vec<f64> = all.iter().filter_map(|r| r.ratio_to_ceiling).collect();
                if !ratios.is_empty() {
                    let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = ratios.iter().copied().fold(0.0, f64::max);
                    spread.push((row.name.clone(), s, lo, hi));
                }
                all.sort_by(|a, b| {
                    let key = |r: &ScenarioResult| r.ratio_to_ceiling.unwrap_or(r.rps);
                    key(a).total_cmp(&key(b))
                });
                let median = all.swap_remove(all.len() / 2);
                row.results.push((s, median));
            }
        }
        self.rows = rows;
        self.spread = spread;
    }

    fn spread_of(&self, server: &str, s: Scenario) -> Option<(f64, f64)> {
        self.spread
            .iter()
            .find(|(n, k, _, _)| n == server && *k == s)
            .map(|(_, _, lo, hi)| (*lo, *hi))
    }

    /// The Markdown tables.
    pub(crate) fn markdown(&self) -> String {
        let o = &self.options;
        let mut m = String::new();
        let generator = match o.driver {
            crate::Driver::Wrk => format!("wrk -t{} -c{}", o.wrk_threads, o.connections),
            crate::Driver::Builtin => {
                format!("the built-in generator, {} connections", o.connections)
            }
        };
        let _ = writeln!(
            m,
            "Machine: {}. Load generator: {generator}; {} s warm-up, {} s measured per scenario, {} run(s){}.\n",
            self.machine,
            o.warmup,
            o.secs,
            self.runs.len().max(1),
            if o.smoke {
                " (smoke run: figures are not meaningful)"
            } else {
                ""
            }
        );
        if !self.checks.is_empty() {
            m.push_str("Load generator check, on the ceiling in this run: the built-in generator beside wrk, and wrk's own CPU. wrk must out-run the built-in one and leave CPU to the server.\n\n| scenario | wrk req/s | wrk CPU (cores) | built-in req/s | built-in / wrk | built-in CPU (cores) |\n| --- | ---: | ---: | ---: | ---: | ---: |\n");
            for (s, builtin) in &self.checks {
                let Some(w) = self.ceiling().and_then(|c| c.result(*s)) else {
                    continue;
                };
                let _ = writeln!(
                    m,
                    "| {} | {:.0} | {} | {:.0} | {:.2} | {} |",
                    s.name(),
                    w.rps,
                    cores(w.loadgen_cpu_share),
                    builtin.rps,
                    builtin.rps / w.rps.max(1e-9),
                    cores(builtin.loadgen_cpu_share),
                );
            }
            m.push('\n');
        }
        m.push_str("| scenario | server | req/s | ratio to ceiling | ratio min–max | p50 ms | p99 ms | p99 / ceiling p99 | server CPU µs/req | server CPU (cores) | load gen CPU (cores) | errors |\n");
        m.push_str(
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        );
        for s in Scenario::ALL {
            for row in &self.rows {
                let Some(r) = row.result(s) else { continue };
                let ratio = r
                    .ratio_to_ceiling
                    .map_or("n/a".into(), |q| format!("{q:.2}"));
                let spread = self
                    .spread_of(&row.name, s)
                    .map_or("n/a".into(), |(lo, hi)| format!("{lo:.2}–{hi:.2}"));
                let p99r = r.p99_to_ceiling.map_or("n/a".into(), |q| format!("{q:.1}"));
                let _ = writeln!(
                    m,
                    "| {} | {} | {:.0} | {} | {} | {:.2} | {:.2} | {} | {:.1} | {} | {} | {} |",
                    s.name(),
                    row.name,
                    r.rps,
                    ratio,
                    spread,
                    r.p50_us as f64 / 1000.0,
                    r.p99_us as f64 / 1000.0,
                    p99r,
                    r.cpu_us_per_req,
                    cores(r.server_cpu_share),
                    cores(r.loadgen_cpu_share),
                    r.errors
                );
            }
        }
        if !self.invalidation.is_empty() {
            m.push_str("\nToken cache: a token checked twice on instance B (so B caches it), revoked through instance A's `/revoke`, then checked on B every millisecond; the time from A's answer to B's first 401 (the stated bound is the 50 ms poll interval plus one read).\n\n| store | samples | p50 ms | max ms |\n| --- | ---: | ---: | ---: |\n");
            for (store, samples) in &self.invalidation {
                let mut sorted = samples.clone();
                sorted.sort_by(f64::total_cmp);
                let p50 = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
                let max = sorted.last().copied().unwrap_or(0.0);
                let _ = writeln!(m, "| {store} | {} | {p50:.1} | {max:.1} |", sorted.len());
            }
        }
        if let Some(path) = &o.compare {
            m.push_str(&self.comparison(path));
        }
        m.push_str("\n| server | idle RSS MB | peak RSS MB | bytes per live token | how |\n| --- | ---: | ---: | ---: | --- |\n");
        for row in &self.rows {
            let _ = writeln!(
                m,
                "| {} | {:.1} | {:.1} | {} | {} |",
                row.name,
                row.idle_rss_kb as f64 / 1024.0,
                row.peak_rss_kb as f64 / 1024.0,
                row.bytes_per_token
                    .map_or("—".into(), |b| format!("{b:.0}")),
                if row.bytes_note.is_empty() {
                    "—"
                } else {
                    &row.bytes_note
                }
            );
        }
        m
    }

    /// The change against an earlier run's results.json: req/s and ratio to the ceiling,
    /// per server and scenario.
    fn comparison(&self, path: &Path) -> String {
        let old: serde_json::Value = match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(v) => v,
            Err(e) => {
                return format!(
                    "\nComparison with {}: cannot read it ({e}).\n",
                    path.display()
                )
            }
        };
        let field = |server: &str, s: Scenario, name: &str| {
            old["servers"]
                .as_array()?
                .iter()
                .find(|r| r["server"] == server)?["scenarios"][s.key()][name]
                .as_f64()
        };
        let rps = |server: &str, s: Scenario| field(server, s, "rps");
        let mut m = format!(
            "\nCompared with {} (driver: {}):\n\n| scenario | server | before req/s | now req/s | change | ratio before | ratio now |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |\n",
            path.display(),
            old["driver"].as_str().unwrap_or("built-in")
        );
        for s in Scenario::ALL {
            let base_now = self.ceiling().and_then(|c| c.result(s)).map(|c| c.rps);
            let base_before = rps("ceiling", s);
            for row in &self.rows {
                let (Some(now), Some(before)) = (row.result(s), rps(&row.name, s)) else {
                    continue;
                };
                // The ratio each table gives: the reported run's own, against its own
                // run's ceiling (earlier results without one: against the reported
                // ceiling).
                let ratio = |stored: Option<f64>, v: f64, b: Option<f64>| {
                    stored
                        .or_else(|| b.map(|b| v / b.max(1e-9)))
                        .map_or("n/a".into(), |r| format!("{r:.2}"))
                };
                let _ = writeln!(
                    m,
                    "| {} | {} | {before:.0} | {:.0} | {:+.0}% | {} | {} |",
                    s.name(),
                    row.name,
                    now.rps,
                    (now.rps / before.max(1e-9) - 1.0) * 100.0,
                    ratio(field(&row.name, s, "ratio_to_ceiling"), before, base_before),
                    ratio(now.ratio_to_ceiling, now.rps, base_now),
                );
            }
        }
        m
    }

    fn json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| {
                let results: serde_json::Map<String, serde_json::Value> = r
                    .results
                    .iter()
                    .map(|(s, v)| (s.key().to_owned(), json!(v)))
                    .collect();
                json!({
                    "server": r.name,
                    "idle_rss_kb": r.idle_rss_kb,
                    "peak_rss_kb": r.peak_rss_kb,
                    "bytes_per_live_token": r.bytes_per_token,
                    "bytes_per_live_token_how": r.bytes_note,
                    "scenarios": results,
                })
            })
            .collect();
        let checks: Vec<serde_json::Value> = self
            .checks
            .iter()
            .map(|(s, r)| json!({"scenario": s.key(), "builtin": r}))
            .collect();
        let spread: Vec<serde_json::Value> = self
            .spread
            .iter()
            .map(|(n, s, lo, hi)| json!({"server": n, "scenario": s.key(), "ratio_min": lo, "ratio_max": hi}))
            .collect();
        json!({
            "machine": self.machine,
            "driver": self.options.driver.name(),
            "wrk_threads": self.options.wrk_threads,
            "runs": self.runs.len(),
            "loadgen_check_on_ceiling": checks,
            "ratio_spread": spread,
            "cache_invalidation_ms": self
                .invalidation
                .iter()
                .map(|(store, samples)| json!({"server": store, "samples": samples}))
                .collect::<Vec<_>>(),
            "connections": self.options.connections,
            "warmup_secs": self.options.warmup,
            "measured_secs": self.options.secs,
            "smoke": self.options.smoke,
            "servers": rows,
        })
    }

    /// A grouped bar chart of req/s per scenario and server, as SVG.
    fn svg(&self) -> String {
        let groups: Vec<String> = Scenario::ALL.iter().map(|s| s.key().to_owned()).collect();
        let series: Vec<(String, Vec<Option<f64>>)> = self
            .rows
            .iter()
            .map(|row| {
                let values = Scenario::ALL
                    .iter()
                    .map(|sc| row.result(*sc).map(|r| r.rps))
                    .collect();
                (row.name.clone(), values)
            })
            .collect();
        bar_chart(
            "requests/s per scenario (flows/s for the code flow)",
            &groups,
            &series,
        )
    }

    /// Writes results.json, results.md and chart.svg into `dir`.
    pub(crate) fn write(&self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let w = |name: &str, body: String| {
            std::fs::write(dir.join(name), body).map_err(|e| format!("{name}: {e}"))
        };
        w(
            "results.json",
            serde_json::to_string_pretty(&self.json()).unwrap_or_default(),
        )?;
        w("results.md", self.markdown())?;
        w("chart.svg", self.svg())?;
        Ok(())
    }
}

/// A grouped bar chart as SVG: one group per entry of `groups`, one bar per series in each
/// (a missing value leaves its bar out), one colour per series with a legend.
pub(crate) fn bar_chart(
    title: &str,
    groups: &[String],
    series: &[(String, Vec<Option<f64>>)],
) -> String {
    let colors = [
        "#7f7f7f", "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
    ];
    let (w, h, left, bottom, top) = (900.0, 420.0, 70.0, 60.0, 40.0);
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten().copied())
        .fold(1.0_f64, f64::max);
    let gw = (w - left - 20.0) / groups.len().max(1) as f64;
    let bw = gw * 0.8 / series.len().max(1) as f64;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{left}" y="20" font-size="15">{}</text>"#,
        xml_text(title)
    );
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let y = h - bottom - (h - bottom - top) * f64::from(i) / 4.0;
        let _ = write!(
            s,
            r#"<line x1="{left}" x2="{}" y1="{y}" y2="{y}" stroke="lightgray"/><text x="{}" y="{}" text-anchor="end">{:.0}</text>"#,
            w - 20.0,
            left - 6.0,
            y + 4.0,
            v
        );
    }
    for (gi, group) in groups.iter().enumerate() {
        let gx = left + gw * gi as f64 + gw * 0.1;
        for (ri, (_, values)) in series.iter().enumerate() {
            if let Some(Some(v)) = values.get(gi) {
                let bh = (h - bottom - top) * v / max;
                let x = gx + bw * ri as f64;
                let _ = write!(
                    s,
                    r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="{}"/>"#,
                    h - bottom - bh,
                    bw * 0.95,
                    colors[ri % colors.len()]
                );
            }
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            gx + gw * 0.4,
            h - bottom + 18.0,
            xml_text(group)
        );
    }
    for (ri, (name, _)) in series.iter().enumerate() {
        let x = left + 120.0 * ri as f64;
        let _ = write!(
            s,
            r#"<rect x="{x}" y="{}" width="12" height="12" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            h - 22.0,
            colors[ri % colors.len()],
            x + 16.0,
            h - 12.0,
            xml_text(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Text for an SVG element: `&`, `<` and `>` escaped.
fn xml_text(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
