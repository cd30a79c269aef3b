//! Charts drawn as SVG on the server: no script, no library, readable without either.
//!
//! Every text that goes into a chart comes from the caller and is escaped here.

use crate::format::bytes;
use std::fmt::Write;

/// A named series of (time in Unix microseconds, value) points, in time order.
pub struct Series<'a> {
    pub name: &'a str,
    /// A CSS colour (the stylesheet's `--chart-N` variables).
    pub colour: &'a str,
    pub points: Vec<(i64, u64)>,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 90.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 10.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Snapshots as ticks on a strip from `from` to `to` (Unix microseconds); each tick's title
/// is its label (shown on hover).
pub fn strip(ticks: &[(i64, String)], from: i64, to: i64) -> String {
    let span = (to - from).max(1) as f64;
    let mut svg = String::from(
        r##"<svg class="strip" viewBox="0 0 300 28" preserveAspectRatio="none" role="img" aria-label="snapshots over time"><rect x="0" y="12" width="300" height="4" rx="2" fill="#d8dee5"/>"##,
    );
    for (t, label) in ticks {
        let x = 2.0 + 296.0 * (t - from) as f64 / span;
        let _ = write!(
            svg,
            r#"<rect x="{:.1}" y="4" width="3" height="20" rx="1" fill="var(--chart-1)"><title>{}</title></rect>"#,
            x - 1.5,
            esc(label)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Lines of values over time, with a y axis labelled by `value` (e.g. [`bytes`]) and the first
/// and last date on the x axis.
pub fn lines(
    series: &[Series<'_>],
    date: impl Fn(i64) -> String,
    value: impl Fn(u64) -> String,
) -> String {
    let all = series.iter().flat_map(|s| s.points.iter());
    let (Some(from), Some(to)) = (
        all.clone().map(|p| p.0).min(),
        all.clone().map(|p| p.0).max(),
    ) else {
        return String::new();
    };
    let top = all.map(|p| p.1).max().unwrap_or(0).max(1);
    let span = (to - from).max(1) as f64;
    let plot_w = WIDTH - LEFT - 10.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |t: i64| LEFT + plot_w * (t - from) as f64 / span;
    let y = |v: u64| TOP + plot_h * (1.0 - v as f64 / top as f64);
    let mut svg = format!(
        r#"<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="values over time" font-size="16" fill="currentColor">"#
    );
    for i in 0..=4u64 {
        let v = top * i / 4;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e3e8ed"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            WIDTH - 10.0,
            LEFT - 6.0,
            y(v) + 4.0,
            esc(&value(v)),
            y = y(v),
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{LEFT}" y="{}">{}</text><text x="{}" y="{}" text-anchor="end">{}</text>"#,
        HEIGHT - 6.0,
        esc(&date(from)),
        WIDTH - 10.0,
        HEIGHT - 6.0,
        esc(&date(to)),
    );
    for s in series {
        let mut path = String::new();
        for (i, (t, v)) in s.points.iter().enumerate() {
            let _ = write!(
                path,
                "{}{:.1},{:.1} ",
                if i == 0 { "M" } else { "L" },
                x(*t),
                y(*v)
            );
        }
        let _ = write!(
            svg,
            r#"<path d="{}" fill="none" stroke="{}" stroke-width="2"><title>{}</title></path>"#,
            path.trim_end(),
            esc(s.colour),
            esc(s.name)
        );
        for (t, v) in &s.points {
            let _ = write!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{}"><title>{}: {} on {}</title></circle>"#,
                x(*t),
                y(*v),
                esc(s.colour),
                esc(s.name),
                esc(&value(*v)),
                esc(&date(*t))
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// One stacked bar per row: each row's parts side by side, scaled to the largest row.
pub fn stacked_bars(rows: &[(String, Vec<u64>)], colours: &[&str]) -> String {
    let row_h = 26.0;
    let label_w = 160.0;
    let height = row_h * rows.len() as f64 + 4.0;
    let top = rows
        .iter()
        .map(|(_, parts)| parts.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut svg = format!(
        r#"<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-label="bytes per device" font-size="12" fill="currentColor">"#
    );
    for (i, (label, parts)) in rows.iter().enumerate() {
        let y = 2.0 + row_h * i as f64;
        let _ = write!(
            svg,
            r#"<text x="0" y="{:.1}">{}</text>"#,
            y + 16.0,
            esc(label)
        );
        let mut x = label_w;
        for (part, colour) in parts.iter().zip(colours.iter().cycle()) {
            let w = (WIDTH - label_w - 90.0) * *part as f64 / top as f64;
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{:.1}" width="{w:.1}" height="18" fill="{}"><title>{}</title></rect>"#,
                y + 3.0,
                esc(colour),
                esc(&bytes(*part))
            );
            x += w;
        }
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            x + 6.0,
            y + 16.0,
            esc(&bytes(parts.iter().sum()))
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_what_they_are_given() {
        let s = strip(&[(5, "<script>".into())], 0, 10);
        assert!(s.contains("&lt;script&gt;") && !s.contains("<script>"));
        let l = lines(
            &[Series {
                name: "a\"b",
                colour: "red",
                points: vec![(0, 1), (10, 2048)],
            }],
            |t| format!("<{t}>"),
            bytes,
        );
        assert!(l.contains("a&quot;b") && l.contains("&lt;10&gt;") && l.contains("2.0 KiB"));
        let b = stacked_bars(&[("<i>".into(), vec![1, 2])], &["red"]);
        assert!(b.contains("&lt;i&gt;") && b.contains("3 B"));
    }

    #[test]
    fn a_chart_of_nothing_is_empty() {
        assert_eq!(lines(&[], |_| String::new(), bytes), "");
    }
}
