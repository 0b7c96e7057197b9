//! Plotting helpers shared by scx_proxy's tools.
//!
//! Built on `plotters` without system font libraries: the `ab_glyph` text
//! backend with DejaVu Sans embedded from the `dejavu` crate, so plots render
//! the same on a bare CI machine or in the test VM. The output format follows
//! the file extension: `.svg` gives SVG, anything else (normally `.png`) a
//! bitmap.
//!
//! [`plot_latency_histograms`] draws one log-count latency histogram per run
//! (log-spaced latency buckets on a log x axis), the runs side by side on
//! shared axes so they can be compared at a glance, with the p99.9 and max
//! marked.

use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::latency::{fmt_us, LatencySummary};

/// Font family name registered for all text.
pub const FONT: &str = "sans-serif";

static FONT_INIT: Once = Once::new();

/// Register the embedded font with plotters (idempotent).
pub fn init_fonts() {
    FONT_INIT.call_once(|| {
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// One run to plot.
pub struct PlotRun<'a> {
    pub label: &'a str,
    pub summary: &'a LatencySummary,
}

/// Grid (rows, cols) for `n` panels: one row up to 4 panels, else rows of
/// at most 4 as even as possible.
pub fn grid_for(n: usize) -> (usize, usize) {
    let n = n.max(1);
    let rows = n.div_ceil(4);
    let cols = n.div_ceil(rows);
    (rows, cols)
}

const PANEL_W: u32 = 460;
const PANEL_H: u32 = 400;
const TITLE_H: u32 = 40;

/// Write latency histograms of `runs`, side by side, to `path`.
pub fn plot_latency_histograms(path: &Path, title: &str, runs: &[PlotRun]) -> Result<()> {
    if runs.is_empty() {
        return Err(anyhow!("nothing to plot"));
    }
    init_fonts();
    let (rows, cols) = grid_for(runs.len());
    let size = (PANEL_W * cols as u32, PANEL_H * rows as u32 + TITLE_H);
    let is_svg = path
        .extension()
        .map(|e| e.eq_ignore_ascii_case("svg"))
        .unwrap_or(false);
    if is_svg {
        let root = SVGBackend::new(path, size).into_drawing_area();
        draw(&root, title, runs, (rows, cols))?;
        root.present()
            .map_err(|e| anyhow!("writing {}: {e}", path.display()))?;
    } else {
        let root = BitMapBackend::new(path, size).into_drawing_area();
        draw(&root, title, runs, (rows, cols))?;
        root.present()
            .map_err(|e| anyhow!("writing {}: {e}", path.display()))?;
    }
    let len = std::fs::metadata(path)
        .with_context(|| format!("plot {} was not written", path.display()))?
        .len();
    if len == 0 {
        return Err(anyhow!("plot {} is empty", path.display()));
    }
    Ok(())
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    runs: &[PlotRun],
    grid: (usize, usize),
) -> Result<()> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plotting: {e}");
    root.fill(&WHITE).map_err(e)?;
    let body = root.titled(title, (FONT, 22)).map_err(e)?;

    // Shared axes: x over all non-empty buckets, y up to the largest count.
    let mut x_lo = f64::INFINITY;
    let mut x_hi: f64 = 0.0;
    let mut y_hi: u64 = 1;
    for r in runs {
        for b in &r.summary.buckets {
            x_lo = x_lo.min(b.lo_us);
            x_hi = x_hi.max(b.hi_us);
            y_hi = y_hi.max(b.count);
        }
    }
    if !x_lo.is_finite() || x_hi <= x_lo {
        x_lo = 1.0;
        x_hi = 10.0;
    }
    let x_range = (x_lo * 0.8)..(x_hi * 1.25);
    let y_range = 0.7f64..(y_hi as f64 * 3.0);

    for (i, (area, run)) in body.split_evenly(grid).iter().zip(runs).enumerate() {
        let colour = Palette99::pick(i).to_rgba();
        let s = run.summary;
        let mut chart = ChartBuilder::on(area)
            .caption(run.label, (FONT, 17))
            .margin(12)
            .x_label_area_size(38)
            .y_label_area_size(52)
            .build_cartesian_2d(x_range.clone().log_scale(), y_range.clone().log_scale())
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("latency")
            .y_desc("samples (log)")
            .x_label_formatter(&|v| fmt_us(*v))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(e)?;
        chart
            .draw_series(s.buckets.iter().map(|b| {
                Rectangle::new([(b.lo_us, 0.7), (b.hi_us, b.count as f64)], colour.filled())
            }))
            .map_err(e)?;
        for (v, c) in [(s.p999_us, RED), (s.max_us, BLACK)] {
            if v > 0.0 {
                chart
                    .draw_series(LineSeries::new(
                        [(v, 0.7), (v, y_range.end)],
                        c.stroke_width(2),
                    ))
                    .map_err(e)?;
            }
        }
        let (w, _) = area.dim_in_pixel();
        let note = [
            format!("n={}  {:.0} ops/s", s.count, s.ops_per_sec),
            format!("p99 {}", fmt_us(s.p99_us)),
            format!("p99.9 {} (red)", fmt_us(s.p999_us)),
            format!("max {} (black)", fmt_us(s.max_us)),
        ];
        for (k, line) in note.iter().enumerate() {
            area.draw(&Text::new(
                line.clone(),
                (w as i32 - 190, 40 + 16 * k as i32),
                (FONT, 13).into_font().color(&BLACK),
            ))
            .map_err(e)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_shapes() {
        assert_eq!(grid_for(1), (1, 1));
        assert_eq!(grid_for(3), (1, 3));
        assert_eq!(grid_for(4), (1, 4));
        assert_eq!(grid_for(6), (2, 3));
        assert_eq!(grid_for(9), (3, 3));
    }
}
