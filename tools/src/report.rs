//! Output of sched-harness results: human table, JSON document, bar chart of
//! the ratios to the kernel default (PNG and SVG, drawn with plotters; the PNG
//! text uses the DejaVu Sans font embedded by the `dejavu` crate, so nothing
//! is needed from the system).

use crate::harness::{Report, Summary, Tool, DEFAULT};
use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::Path;

fn fmt_opt(v: Option<f64>, prec: usize) -> String {
    v.map(|x| format!("{x:.prec$}"))
        .unwrap_or_else(|| "-".into())
}

/// The table for people: one block per cell with, per scheduler, the median
/// time, min-max, IQR, ratio to the default's median and the counters; then
/// missing schedulers, errors, threshold and cross-check verdicts.
pub fn table(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "sched-harness: kernel {}, {} runs per scheduler, times in seconds (ratio = median / default's median; > 1 is slower)",
        r.kernel, r.runs
    );
    for sch in &r.schedulers {
        if !sch.present {
            let _ = writeln!(
                s,
                "  {}: MISSING ({})",
                sch.name,
                sch.missing_reason.as_deref().unwrap_or("?")
            );
        }
    }
    let tools: &[Tool] = if r.summaries.iter().any(|x| x.tool == Tool::Perf) {
        &[Tool::Hackbench, Tool::Perf]
    } else {
        &[Tool::Hackbench]
    };
    for cell in &r.cells {
        let id = cell.id();
        for tool in tools {
            let rows: Vec<&Summary> = r
                .summaries
                .iter()
                .filter(|x| x.cell == id && x.tool == *tool)
                .collect();
            let _ = writeln!(
                s,
                "\n{} [{}] ({} loops)",
                id,
                match tool {
                    Tool::Hackbench => "hackbench",
                    Tool::Perf => "perf bench sched messaging",
                    Tool::Workload => "workload",
                },
                cell.loops
            );
            let _ = writeln!(
                s,
                "  {:<18} {:>3} {:>8} {:>17} {:>17} {:>7} {:>10} {:>10}",
                "scheduler", "n", "median", "min-max", "IQR", "ratio", "migr", "ctxsw"
            );
            if rows.is_empty() {
                let _ = writeln!(s, "  (no data)");
            }
            for x in rows {
                let t = &x.time;
                let _ = writeln!(
                    s,
                    "  {:<18} {:>3} {:>8.3} {:>17} {:>17} {:>7} {:>10} {:>10}",
                    x.scheduler,
                    t.n,
                    t.median,
                    format!("{:.3}-{:.3}", t.min, t.max),
                    format!("{:.3}-{:.3}", t.q1, t.q3),
                    fmt_opt(x.ratio_to_default, 3),
                    fmt_opt(x.median_migrations, 0),
                    fmt_opt(
                        x.median_worker_ctx_switches
                            .or(x.median_rusage_ctx_switches),
                        0
                    ),
                );
            }
        }
    }
    for m in &r.metrics {
        let rows: Vec<&Summary> = r
            .summaries
            .iter()
            .filter(|x| x.cell == m.cell && x.tool == Tool::Workload)
            .collect();
        let _ = writeln!(
            s,
            "\n{} [{}, {} is better{}]",
            m.cell,
            m.unit,
            if m.higher_is_better {
                "higher"
            } else {
                "lower"
            },
            if m.primary { "" } else { "; reported only" }
        );
        let _ = writeln!(
            s,
            "  {:<18} {:>3} {:>10} {:>21} {:>21} {:>7}",
            "scheduler", "n", "median", "min-max", "IQR", "ratio"
        );
        if rows.is_empty() {
            let _ = writeln!(s, "  (no data)");
        }
        for x in rows {
            let t = &x.time;
            let _ = writeln!(
                s,
                "  {:<18} {:>3} {:>10.1} {:>21} {:>21} {:>7}",
                x.scheduler,
                t.n,
                t.median,
                format!("{:.1}-{:.1}", t.min, t.max),
                format!("{:.1}-{:.1}", t.q1, t.q3),
                fmt_opt(x.ratio_to_default, 3),
            );
        }
    }
    let errs: Vec<String> = r
        .schedulers
        .iter()
        .flat_map(|sch| {
            sch.errors
                .iter()
                .map(move |e| format!("  {}: {}", sch.name, e))
        })
        .collect();
    if !errs.is_empty() {
        let _ = writeln!(s, "\nErrors:\n{}", errs.join("\n"));
    }
    for line in proxy_counts_lines(r) {
        let _ = writeln!(s, "\n{line}");
    }
    for (what, th) in [
        ("Threshold", &r.threshold),
        (
            "Workload threshold (primary metrics)",
            &r.workload_threshold,
        ),
    ] {
        let Some(th) = th else { continue };
        let base = th.baseline.describe();
        let _ = writeln!(
            s,
            "\n{} ({} vs {}): per cell <= {}, geometric mean over cells {} <= {}: {}",
            what,
            th.candidate,
            base,
            fmt_opt(th.threshold, 3),
            fmt_opt(th.geomean_ratio, 3),
            fmt_opt(th.geomean_limit, 3),
            if th.pass { "PASS" } else { "FAIL" }
        );
        for c in &th.cells {
            let _ = writeln!(
                s,
                "  {:<4} {:<26} {}",
                if c.pass { "ok" } else { "FAIL" },
                c.cell,
                c.reason
            );
        }
    }
    if let Some(cc) = &r.crosscheck {
        let _ = writeln!(
            s,
            "\nCross-check with perf bench (band +-{:.0}%): {} of {} agree in direction, {} contradict",
            cc.band * 100.0,
            cc.agreeing,
            cc.rows.len(),
            cc.contradicting
        );
        for row in &cc.rows {
            let _ = writeln!(
                s,
                "  {:<22} {:<18} hackbench {:.3} ({:?})  perf {:.3} ({:?})  {}",
                row.cell,
                row.scheduler,
                row.hackbench_ratio,
                row.hackbench_dir,
                row.perf_ratio,
                row.perf_dir,
                if row.agree {
                    "agree"
                } else if row.contradict {
                    "CONTRADICT"
                } else {
                    "inconclusive"
                }
            );
        }
    }
    let _ = writeln!(s, "\nCounters: {}", r.counters);
    let _ = writeln!(s, "Wall time: {:.1} s", r.wall_s);
    s
}

/// Cells whose target (issue 11) is "no worse than the kernel default" on
/// a metric that `--workload-threshold` reports only.
pub const NO_WORSE_THAN_DEFAULT: &[&str] = &[
    "schbench/wakeup-p99",
    "aio-qd1/migr-per-kio",
    "aio-qd16/migr-per-kio",
];

fn md_value(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.1}")
    } else if v >= 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The table for the README (`table.md`): one row per hackbench cell and
/// workload metric, one column per scheduler present with its median and,
/// in brackets, its ratio to the kernel default oriented so that > 1 is
/// worse (rates inverted), and the target column: the `--workload-
/// threshold` verdict on primary metrics, "no worse than the default" for
/// [`NO_WORSE_THAN_DEFAULT`], "-" for the rest.
pub fn markdown(r: &Report) -> String {
    let scheds: Vec<&str> = r
        .schedulers
        .iter()
        .filter(|s| s.present)
        .map(|s| s.name.as_str())
        .collect();
    let th = r.workload_threshold.as_ref();
    let mut s = String::new();
    let target_head = match th.and_then(|t| t.threshold) {
        Some(l) => format!(
            "target ({} within {l:.2}x of the {})",
            th.map_or("", |t| t.candidate.as_str()),
            th.map_or("best", |t| t.baseline.header())
        ),
        None => "target".to_string(),
    };
    let _ = writeln!(
        s,
        "| cell | unit | {} | {target_head} |",
        scheds.join(" | ")
    );
    let _ = writeln!(s, "| --- | --- |{} --- |", " ---: |".repeat(scheds.len()));
    let rows = r
        .cells
        .iter()
        .map(|c| (c.id(), "s".to_string(), Tool::Hackbench, true, None))
        .chain(r.metrics.iter().map(|m| {
            (
                m.cell.clone(),
                m.unit.clone(),
                Tool::Workload,
                m.primary,
                Some(m.higher_is_better),
            )
        }));
    for (cell, unit, tool, primary, hib) in rows {
        let find = |sch: &str| {
            r.summaries
                .iter()
                .find(|x| x.cell == cell && x.tool == tool && x.scheduler == sch)
        };
        let vals: Vec<String> = scheds
            .iter()
            .map(|sch| match find(sch) {
                None => "-".to_string(),
                Some(x) if *sch == DEFAULT => md_value(x.time.median),
                Some(x) => format!(
                    "{} ({})",
                    md_value(x.time.median),
                    fmt_opt(x.ratio_to_default, 2)
                ),
            })
            .collect();
        let verdict = th.and_then(|t| t.cells.iter().find(|v| v.cell == cell));
        let target = if hib.is_none() {
            "- (hackbench: no target)".to_string()
        } else if let Some(v) = verdict {
            match (v.ratio, &v.baseline) {
                (Some(x), Some(b)) => format!(
                    "{}: {x:.3} x {b}{}",
                    if v.pass { "met" } else { "**missed**" },
                    v.rounds.as_ref().map_or(String::new(), |r| format!(
                        " (rounds {:.2}-{:.2}, {} of {} over)",
                        r.min, r.max, r.over, r.n
                    ))
                ),
                _ => format!("**missed**: {}", v.reason),
            }
        } else if NO_WORSE_THAN_DEFAULT.contains(&cell.as_str()) {
            let cand = th.map_or("scx_proxy", |t| t.candidate.as_str());
            match find(cand).and_then(|x| x.ratio_to_default) {
                Some(x) => format!(
                    "{} (no worse than the default): {x:.3} x default",
                    if x <= 1.0 { "met" } else { "**missed**" }
                ),
                None => "**missed**: no data".to_string(),
            }
        } else {
            "-".to_string()
        };
        let label = if primary || hib.is_none() {
            cell.clone()
        } else {
            format!("{cell} (reported)")
        };
        let _ = writeln!(s, "| {label} | {unit} | {} | {target} |", vals.join(" | "));
    }
    for line in proxy_counts_lines(r) {
        let _ = writeln!(s, "\n{line}");
    }
    s
}

/// One line per scx_proxy build that reported its counters: donations,
/// proxy migrations and lock edges in each repetition whose data was kept,
/// labelled with the repetition (one that lost its data or its counters is
/// left out, not shifted into the next one's place).
pub fn proxy_counts_lines(r: &Report) -> Vec<String> {
    r.schedulers
        .iter()
        .filter(|sch| !sch.proxy_counts.is_empty())
        .map(|sch| {
            let reps: Vec<String> = sch
                .proxy_counts
                .iter()
                .map(|c| {
                    format!(
                        "rep {} {}/{}/{}",
                        c.rep, c.donations, c.proxy_migrations, c.lock_edges
                    )
                })
                .collect();
            format!(
                "{} (all its cells and workloads), donations/proxy migrations/lock edges: {}",
                sch.name,
                reps.join(", ")
            )
        })
        .collect()
}

/// Serialises the report (pretty JSON).
pub fn to_json(r: &Report) -> String {
    serde_json::to_string_pretty(r).expect("report serialises")
}

/// Parses a report written by [`to_json`].
pub fn from_json(s: &str) -> Result<Report> {
    serde_json::from_str(s).context("parsing sched-harness JSON")
}

/// The chart's cells: the hackbench matrix, then the workloads' primary
/// metrics.
pub fn chart_cells(r: &Report) -> Vec<String> {
    r.cells
        .iter()
        .map(|c| c.id())
        .chain(
            r.metrics
                .iter()
                .filter(|m| m.primary)
                .map(|m| m.cell.clone()),
        )
        .collect()
}

/// Bars of the chart: (cell, scheduler, ratio) for every non-default
/// scheduler with a hackbench ratio or a ratio on a workload's primary
/// metric, in report order.
pub fn chart_bars(r: &Report) -> Vec<(String, String, f64)> {
    let cells = chart_cells(r);
    r.summaries
        .iter()
        .filter(|s| s.tool != Tool::Perf && s.scheduler != DEFAULT && cells.contains(&s.cell))
        .filter_map(|s| {
            s.ratio_to_default
                .map(|x| (s.cell.clone(), s.scheduler.clone(), x))
        })
        .collect()
}

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, plotters::coord::Shift>, r: &Report) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let bars = chart_bars(r);
    let cells = chart_cells(r);
    let mut scheds: Vec<String> = Vec::new();
    for (_, s, _) in &bars {
        if !scheds.contains(s) {
            scheds.push(s.clone());
        }
    }
    root.fill(&WHITE).map_err(|e| anyhow!("{e:?}"))?;
    let thr = r.threshold.as_ref().and_then(|t| t.threshold);
    let ymax = bars.iter().map(|b| b.2).chain(thr).fold(1.0f64, f64::max) * 1.15;
    let n = cells.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "{} / kernel default, {} (> 1 is worse; rates inverted)",
                match (r.cells.is_empty(), r.metrics.is_empty()) {
                    (false, true) => "hackbench time",
                    (true, false) => "workload metrics",
                    _ => "hackbench time, workload metrics",
                },
                r.kernel
            ),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(70)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..n, 0f64..ymax)
        .map_err(|e| anyhow!("{e:?}"))?;
    let labels = cells.clone();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(cells.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let f = x.fract();
            if (f - 0.5).abs() < 1e-6 {
                labels.get(x.floor() as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc("ratio to default")
        .label_style(("sans-serif", 13))
        // workload cells (`evloop-epoll/reply-p99`) are longer: smaller
        // type in wider cells (chart_width)
        .x_label_style(("sans-serif", if r.metrics.is_empty() { 13 } else { 11 }))
        .draw()
        .map_err(|e| anyhow!("{e:?}"))?;
    let k = scheds.len().max(1) as f64;
    let width = 0.8 / k;
    for (si, sched) in scheds.iter().enumerate() {
        let color = COLORS[si % COLORS.len()];
        let rects: Vec<Rectangle<(f64, f64)>> = bars
            .iter()
            .filter(|b| &b.1 == sched)
            .filter_map(|b| {
                let ci = cells.iter().position(|c| c == &b.0)? as f64;
                let x0 = ci + 0.1 + si as f64 * width;
                Some(Rectangle::new(
                    [(x0, 0.0), (x0 + width * 0.95, b.2)],
                    color.filled(),
                ))
            })
            .collect();
        chart
            .draw_series(rects)
            .map_err(|e| anyhow!("{e:?}"))?
            .label(sched.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
    }
    chart
        .draw_series(LineSeries::new(
            [(0.0, 1.0), (n, 1.0)],
            BLACK.stroke_width(1),
        ))
        .map_err(|e| anyhow!("{e:?}"))?
        .label("default = 1.0")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 10, y)], BLACK));
    if let Some(t) = thr {
        chart
            .draw_series(LineSeries::new([(0.0, t), (n, t)], RED.stroke_width(2)))
            .map_err(|e| anyhow!("{e:?}"))?
            .label(format!("threshold {t:.2}"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 10, y)], RED));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| anyhow!("{e:?}"))?;
    root.present().map_err(|e| anyhow!("{e:?}"))?;
    Ok(())
}

fn chart_width(r: &Report) -> u32 {
    let per_cell = if r.metrics.is_empty() { 130 } else { 160 };
    (200 + per_cell * chart_cells(r).len() as u32).max(800)
}

/// Bar chart of the ratios as PNG.
pub fn bar_chart_png(r: &Report, path: &Path) -> Result<()> {
    register_font();
    let root = BitMapBackend::new(path, (chart_width(r), 480)).into_drawing_area();
    draw(root, r).with_context(|| format!("drawing {}", path.display()))
}

/// Bar chart of the ratios as SVG.
pub fn bar_chart_svg(r: &Report, path: &Path) -> Result<()> {
    register_font();
    let root = SVGBackend::new(path, (chart_width(r), 480)).into_drawing_area();
    draw(root, r).with_context(|| format!("drawing {}", path.display()))
}
