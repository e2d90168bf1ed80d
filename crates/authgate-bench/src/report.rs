//! The run's results: JSON, a Markdown table, and an SVG bar chart.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::json;

use crate::load::{Scenario, ScenarioResult};
use crate::Options;

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
    pub(crate) rows: Vec<Row>,
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
            machine: format!("{cores} cores, {cpu}"),
            options: o.clone(),
        }
    }

    fn ceiling(&self) -> Option<&Row> {
        self.rows.iter().find(|r| r.name == "ceiling")
    }

    /// The Markdown tables.
    pub(crate) fn markdown(&self) -> String {
        let o = &self.options;
        let mut m = String::new();
        let _ = writeln!(
            m,
            "Machine: {}. {} connections, {} s warm-up, {} s measured per scenario{}.\n",
            self.machine,
            o.connections,
            o.warmup,
            o.secs,
            if o.smoke {
                " (smoke run: figures are not meaningful)"
            } else {
                ""
            }
        );
        m.push_str("| scenario | server | req/s | ratio to ceiling | p50 ms | p99 ms | p99 / ceiling p99 | server CPU µs/req | errors |\n");
        m.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for s in Scenario::ALL {
            let base = self.ceiling().and_then(|c| c.result(s));
            for row in &self.rows {
                let Some(r) = row.result(s) else { continue };
                let ratio =
                    base.map_or("n/a".into(), |b| format!("{:.2}", r.rps / b.rps.max(1e-9)));
                let p99r = base.map_or("n/a".into(), |b| {
                    format!("{:.1}", r.p99_us as f64 / (b.p99_us.max(1)) as f64)
                });
                let _ = writeln!(
                    m,
                    "| {} | {} | {:.0} | {} | {:.2} | {:.2} | {} | {:.1} | {} |",
                    s.name(),
                    row.name,
                    r.rps,
                    ratio,
                    r.p50_us as f64 / 1000.0,
                    r.p99_us as f64 / 1000.0,
                    p99r,
                    r.cpu_us_per_req,
                    r.errors
                );
            }
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
        json!({
            "machine": self.machine,
            "connections": self.options.connections,
            "warmup_secs": self.options.warmup,
            "measured_secs": self.options.secs,
            "smoke": self.options.smoke,
            "servers": rows,
        })
    }

    /// A grouped bar chart of req/s per scenario and server, as SVG.
    fn svg(&self) -> String {
        let colors = ["#7f7f7f", "#1f77b4", "#2ca02c", "#d62728", "#9467bd"];
        let (w, h, left, bottom, top) = (900.0, 420.0, 70.0, 60.0, 40.0);
        let max = self
            .rows
            .iter()
            .flat_map(|r| r.results.iter().map(|(_, x)| x.rps))
            .fold(1.0_f64, f64::max);
        let groups = Scenario::ALL.len() as f64;
        let gw = (w - left - 20.0) / groups;
        let bw = gw * 0.8 / self.rows.len().max(1) as f64;
        let mut s = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{left}" y="20" font-size="15">requests/s per scenario (flows/s for the code flow)</text>"#
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
        for (gi, sc) in Scenario::ALL.iter().enumerate() {
            let gx = left + gw * gi as f64 + gw * 0.1;
            for (ri, row) in self.rows.iter().enumerate() {
                if let Some(r) = row.result(*sc) {
                    let bh = (h - bottom - top) * r.rps / max;
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
                sc.key()
            );
        }
        for (ri, row) in self.rows.iter().enumerate() {
            let x = left + 120.0 * ri as f64;
            let _ = write!(
                s,
                r#"<rect x="{x}" y="{}" width="12" height="12" fill="{}"/><text x="{}" y="{}">{}</text>"#,
                h - 22.0,
                colors[ri % colors.len()],
                x + 16.0,
                h - 12.0,
                row.name
            );
        }
        s.push_str("</svg>\n");
        s
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
