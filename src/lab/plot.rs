//! Plots of a run's series: a compact chart in the terminal, printed under the numbers, and an SVG
//! file (`run DEMO --svg FILE`) drawn with plotters. Both draw exactly the series the JSON carries.
//!
//! Series that share their axes (same x label and unit, same y unit, same scale) share a chart, so
//! a sweep of several cases reads as curves side by side; `Series::marks` become vertical lines
//! (a cache size sysfs reports, a detected cliff).

use super::Series;
use plotters::prelude::*;
use std::fmt::Write as _;

/// Most curves one chart draws before the next chart takes over (one glyph or colour each).
const PER_CHART: usize = 6;
/// The terminal chart's plotting area, in characters.
const COLS: usize = 64;
const ROWS: usize = 14;
/// One glyph per curve in a terminal chart.
const GLYPHS: [char; PER_CHART] = ['*', 'o', '+', 'x', '#', '@'];

/// The series in charts: consecutive groups sharing axes, at most [`PER_CHART`] curves each.
fn charts(series: &[Series]) -> Vec<Vec<&Series>> {
    let mut charts: Vec<Vec<&Series>> = Vec::new();
    for s in series.iter().filter(|s| !s.points.is_empty()) {
        let shares = |c: &Vec<&Series>| {
            let first = c[0];
            c.len() < PER_CHART
                && first.x == s.x
                && first.y.1 == s.y.1
                && first.log_x == s.log_x
                && first.log_y == s.log_y
                && first.marks == s.marks
        };
        match charts.iter_mut().find(|c| shares(c)) {
            Some(chart) => chart.push(s),
            None => charts.push(vec![s]),
        }
    }
    charts
}

/// Whether x can be drawn on a log scale: every x, and every mark, positive.
fn log_scale(chart: &[&Series]) -> bool {
    chart[0].log_x
        && chart
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0).chain(s.marks.iter().map(|m| m.0)))
            .all(|x| x > 0.0)
}

/// Whether y can be drawn on a log scale: every y positive.
fn log_y_scale(chart: &[&Series]) -> bool {
    chart[0].log_y
        && chart
            .iter()
            .flat_map(|s| s.points.iter())
            .all(|p| p.1 > 0.0 || !p.1.is_finite())
}

/// How a chart maps values to the plotted scale: log2 for a log x (ticks at powers of two), log10
/// for a log y (ticks at powers of ten), the identity otherwise.
#[derive(Clone, Copy)]
struct Scale {
    log_x: bool,
    log_y: bool,
}

impl Scale {
    fn of(chart: &[&Series]) -> Self {
        Self {
            log_x: log_scale(chart),
            log_y: log_y_scale(chart),
        }
    }
    fn x(self, x: f64) -> f64 {
        if self.log_x {
            x.log2()
        } else {
            x
        }
    }
    fn y(self, y: f64) -> f64 {
        if self.log_y {
            y.log10()
        } else {
            y
        }
    }
    fn unx(self, t: f64) -> f64 {
        if self.log_x {
            t.exp2()
        } else {
            t
        }
    }
    fn uny(self, t: f64) -> f64 {
        if self.log_y {
            10f64.powf(t)
        } else {
            t
        }
    }
}

/// The x and y ranges a chart spans in the plotted scale (marks included in x), with a zero
/// baseline for a linear y when every value is positive and a little headroom above.
fn ranges(chart: &[&Series], scale: Scale) -> ((f64, f64), (f64, f64)) {
    let xs = chart
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0).chain(s.marks.iter().map(|m| m.0)))
        .map(|x| scale.x(x));
    let ys = chart.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (x0, x1) = bounds(xs);
    let (y0, y1) = bounds(ys.filter(|y| y.is_finite()).map(|y| scale.y(y)));
    let y0 = if y0 >= 0.0 && !scale.log_y { 0.0 } else { y0 };
    let pad = |lo: f64, hi: f64| if hi > lo { (lo, hi) } else { (lo - 1.0, hi + 1.0) };
    (pad(x0, x1), pad(y0, y1 + (y1 - y0).abs() * 0.05))
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// A number short enough for an axis: binary prefixes for bytes, decimal ones otherwise.
pub fn short(v: f64, unit: &str) -> String {
    let binary = matches!(unit, "B" | "bytes" | "KiB");
    let (base, prefixes): (f64, [&str; 4]) = if binary {
        (1024.0, ["", "K", "M", "G"])
    } else {
        (1000.0, ["", "k", "M", "G"])
    };
    let mut v = v;
    let mut p = 0;
    while v.abs() >= base && p < prefixes.len() - 1 {
        v /= base;
        p += 1;
    }
    let digits = if v.abs() >= 100.0 || v.fract().abs() < 1e-9 {
        0
    } else if v.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$}{}", prefixes[p])
}

/// Every chart of `series` drawn in characters, or nothing when there are no series.
pub fn terminal(series: &[Series]) -> String {
    let mut s = String::new();
    for chart in charts(series) {
        s.push('\n');
        s.push_str(&terminal_chart(&chart));
    }
    s
}

fn terminal_chart(chart: &[&Series]) -> String {
    let scale = Scale::of(chart);
    let log = scale.log_x;
    let ((t0, t1), (y0, y1)) = ranges(chart, scale);
    let (x0, x1) = (scale.unx(t0), scale.unx(t1));
    let col_of = |x: f64| (((scale.x(x) - t0) / (t1 - t0)) * (COLS - 1) as f64).round() as usize;
    let row_of = |y: f64| {
        let r = ((scale.y(y) - y0) / (y1 - y0) * (ROWS - 1) as f64).round();
        (ROWS - 1) - (r.clamp(0.0, (ROWS - 1) as f64) as usize)
    };
    let mut grid = vec![vec![' '; COLS]; ROWS];
    for (i, (x, _)) in chart[0].marks.iter().enumerate() {
        let c = col_of(*x).min(COLS - 1);
        for row in grid.iter_mut() {
            row[c] = '¦';
        }
        grid[0][c] = char::from_digit((i + 1) as u32 % 36, 36).unwrap_or('¦');
    }
    for (s, glyph) in chart.iter().zip(GLYPHS) {
        let pts: Vec<(f64, f64)> = s.points.iter().filter(|p| p.1.is_finite()).copied().collect();
        // Between two measured points the curve is drawn as a straight line (in the plotted
        // scale), so a sweep reads as a curve; the measured points themselves are always drawn.
        // A steep step is filled in vertically, so a cliff reads as a wall rather than dots.
        for w in pts.windows(2) {
            let (ca, cb) = (col_of(w[0].0), col_of(w[1].0));
            let mut prev = row_of(w[0].1);
            for c in ca..=cb {
                let f = if cb > ca {
                    (c - ca) as f64 / (cb - ca) as f64
                } else {
                    0.0
                };
                let row = row_of(w[0].1 + f * (w[1].1 - w[0].1));
                for line in &mut grid[prev.min(row)..=prev.max(row)] {
                    line[c.min(COLS - 1)] = glyph;
                }
                prev = row;
            }
        }
        for &(x, y) in &pts {
            grid[row_of(y)][col_of(x).min(COLS - 1)] = glyph;
        }
    }
    let first = chart[0];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}{}) against {} ({}{})",
        first.y.0,
        first.y.1,
        if scale.log_y { ", log scale" } else { "" },
        first.x.0,
        first.x.1,
        if log { ", log scale" } else { "" }
    );
    let label_w = 9;
    for (r, row) in grid.iter().enumerate() {
        let label = if r == 0 {
            short(scale.uny(y1), first.y.1)
        } else if r == ROWS / 2 {
            short(scale.uny((y0 + y1) / 2.0), first.y.1)
        } else if r == ROWS - 1 {
            short(scale.uny(y0), first.y.1)
        } else {
            String::new()
        };
        let line: String = row.iter().collect();
        let _ = writeln!(out, "{label:>label_w$} ┤{}", line.trim_end());
    }
    let _ = writeln!(out, "{:>label_w$} └{}", "", "─".repeat(COLS));
    // About five x labels: on a log scale at powers of two, on a linear one evenly spaced.
    let mut axis = vec![' '; COLS + 12];
    let ticks: Vec<f64> = if log {
        let step = ((t1 - t0) / 4.0).ceil().max(1.0);
        let mut t = t0.ceil();
        let mut ticks = Vec::new();
        while t <= t1 + 1e-9 {
            ticks.push(t.exp2());
            t += step;
        }
        ticks
    } else {
        (0..5).map(|k| x0 + (x1 - x0) * f64::from(k) / 4.0).collect()
    };
    for x in ticks {
        let text = short(x, first.x.1);
        let at = col_of(x).saturating_sub(text.chars().count() / 2);
        for (i, ch) in text.chars().enumerate() {
            if let Some(slot) = axis.get_mut(at + i) {
                *slot = ch;
            }
        }
    }
    let axis: String = axis.iter().collect();
    let _ = writeln!(out, "{:>label_w$}  {}", "", axis.trim_end());
    for (s, glyph) in chart.iter().zip(GLYPHS) {
        let _ = writeln!(out, "{:>label_w$}  {glyph} {}", "", s.name);
    }
    for (i, (x, label)) in first.marks.iter().enumerate() {
        let id = char::from_digit((i + 1) as u32 % 36, 36).unwrap_or('¦');
        let _ = writeln!(out, "{:>label_w$}  ¦{id} {label} (at {})", "", short(*x, first.x.1));
    }
    out
}

/// The colours of a chart's curves, in order (readable on white, distinct for colour blindness).
const COLOURS: [RGBColor; PER_CHART] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(230, 159, 0),
];

/// Every chart of `series` as one SVG document, stacked top to bottom, titled `title`.
pub fn svg(title: &str, series: &[Series]) -> Result<String, String> {
    let charts = charts(series);
    if charts.is_empty() {
        return Err("the run returned no series to plot".into());
    }
    let mut doc = String::new();
    {
        let height = 60 + 420 * charts.len() as u32;
        let root = SVGBackend::with_string(&mut doc, (900, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let root = root.titled(title, ("sans-serif", 22)).map_err(|e| e.to_string())?;
        for (chart, area) in charts.iter().zip(root.split_evenly((charts.len(), 1))) {
            svg_chart(chart, &area)?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(doc)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn svg_chart(chart: &[&Series], area: &Area<'_>) -> Result<(), String> {
    let scale = Scale::of(chart);
    let log = scale.log_x;
    // A log axis is drawn as log2(x) (log10(y)) on a linear axis, labelled with the value itself,
    // so both scales take one code path and the ticks fall on powers of two (4K, 16K, 64K… for
    // sizes) or of ten.
    let ((x0, x1), (y0, y1)) = ranges(chart, scale);
    let tx = |x: f64| scale.x(x);
    let first = chart[0];
    let x_unit = first.x.1;
    let y_unit = first.y.1;
    let x_label = |v: &f64| short(scale.unx(*v), x_unit);
    let y_label = |v: &f64| short(scale.uny(*v), y_unit);
    let mut c = ChartBuilder::on(area)
        .caption(format!("{} against {}", first.y.0, first.x.0), ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    c.configure_mesh()
        .x_desc(format!(
            "{} ({}{})",
            first.x.0,
            x_unit,
            if log { ", log scale" } else { "" }
        ))
        .y_desc(format!(
            "{} ({y_unit}{})",
            first.y.0,
            if scale.log_y { ", log scale" } else { "" }
        ))
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    for (x, label) in &first.marks {
        let style = ShapeStyle::from(&RGBColor(120, 120, 120)).stroke_width(1);
        c.draw_series(DashedLineSeries::new([(tx(*x), y0), (tx(*x), y1)], 4, 4, style))
            .map_err(err)?;
        c.draw_series(std::iter::once(Text::new(
            label.clone(),
            (tx(*x), y1),
            ("sans-serif", 12).into_font().color(&RGBColor(80, 80, 80)),
        )))
        .map_err(err)?;
    }
    for (s, colour) in chart.iter().zip(COLOURS) {
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|&(x, y)| (tx(x), scale.y(y)))
            .collect();
        c.draw_series(LineSeries::new(pts.iter().copied(), colour.stroke_width(2)))
            .map_err(err)?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
        c.draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))
            .map_err(err)?;
    }
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// A plotters error as the one line the command line prints.
fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep(name: &str, ys: &[f64]) -> Series {
        let points = ys
            .iter()
            .enumerate()
            .map(|(i, &y)| (4096.0 * 2f64.powi(i as i32), y))
            .collect();
        Series::new(name, ("working set", "B"), ("latency", "ns"), points)
            .log_x()
            .mark(32768.0, "L1 32 KiB (sysfs)")
    }

    #[test]
    fn curves_sharing_axes_share_a_chart_and_others_get_their_own() {
        let a = sweep("a", &[1.0, 1.0, 4.0, 4.0]);
        let b = sweep("b", &[2.0, 2.0, 8.0, 8.0]);
        let other = Series::new("c", ("size", "B"), ("rate", "items/s"), vec![(1.0, 1.0)]);
        let all = [a, other, b];
        let charts = charts(&all);
        assert_eq!(charts.len(), 2);
        assert_eq!(
            charts[0].iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(charts[1][0].name, "c");
    }

    #[test]
    fn a_chart_holds_at_most_per_chart_curves() {
        let many: Vec<Series> = (0..PER_CHART + 1)
            .map(|i| sweep(&format!("s{i}"), &[1.0, 2.0]))
            .collect();
        assert_eq!(charts(&many).len(), 2);
    }

    #[test]
    fn the_terminal_chart_draws_the_curve_where_its_values_are() {
        // A step from 1 to 10 halfway along: the low half sits just above the zero row, the high half
        // near the top, and the axis labels carry the units' short forms.
        let s = sweep("step", &[1.0, 1.0, 1.0, 10.0, 10.0, 10.0]);
        let text = terminal(std::slice::from_ref(&s));
        let rows: Vec<&str> = text.lines().filter(|l| l.contains('┤')).collect();
        assert_eq!(rows.len(), ROWS);
        let plot = |l: &str| l.split('┤').nth(1).unwrap_or("").to_string();
        // The top row is the 5% headroom above the highest value.
        let top = plot(rows[1]);
        let low = plot(rows[ROWS - 2]);
        assert!(top.trim_end().ends_with('*'), "top row: {top:?}");
        assert!(low.starts_with('*'), "row near zero: {low:?}");
        assert!(!top.starts_with('*'), "the low half is not on the top row: {top:?}");
        assert!(
            text.contains("4K") && text.contains("64K"),
            "x labels at powers of two: {text}"
        );
        assert!(text.contains("log scale"));
        assert!(text.contains("¦1 L1 32 KiB (sysfs) (at 32K)"), "{text}");
        assert!(text.contains("* step"));
    }

    #[test]
    fn no_series_draws_nothing_in_the_terminal_and_refuses_an_svg() {
        assert_eq!(terminal(&[]), "");
        assert!(svg("t", &[]).is_err());
    }

    #[test]
    fn the_svg_has_axes_units_legend_and_marks() {
        let doc = svg("a sweep", &[sweep("chase", &[1.0, 1.2, 4.0, 4.1, 12.0])]).unwrap();
        assert!(doc.starts_with("<svg"), "{}", &doc[..80.min(doc.len())]);
        for needle in [
            "a sweep",
            "working set (B, log scale)",
            "latency (ns)",
            "chase",
            "L1 32 KiB (sysfs)",
            "<polyline",
        ] {
            assert!(doc.contains(needle), "missing {needle:?}");
        }
    }

    #[test]
    fn short_numbers_use_binary_prefixes_for_bytes_only() {
        assert_eq!(short(4096.0, "B"), "4K");
        assert_eq!(short(1_073_741_824.0, "B"), "1G");
        assert_eq!(short(1500.0, "ns"), "1.50k");
        assert_eq!(short(7.25, "ns"), "7.25");
    }
}
