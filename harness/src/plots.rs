//! SVG plots drawn from [`Results`] alone with plotters:
//!
//! - `<workload>-throughput.svg` for each throughput workload (W1, W2, W5,
//!   W7-random, W7-adversarial): Mops/s against threads, one line per cache,
//!   with min–max error bars where a cell has more than one run;
//! - `w3-latency.svg`: lookup latency p50 / p99 / p99.9 / max during the
//!   flush, grouped bars per cache, log-scale µs, with min–max error bars
//!   where a cache ran W3 more than once, and the same for the machine floor
//!   (W3's timing loop with no cache);
//! - `w6-scale.svg`: flush of 1k expired (µs) against the live count, log–log,
//!   one line per cache, with min–max error bars over its rounds;
//! - `memory.svg`: overhead bytes per session, one bar per cache, with the
//!   128-byte target.
//!
//! A plot whose data is empty (or unusable: NaN, zero on a log axis) is
//! skipped.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use plotters::coord::combinators::WithKeyPoints;
use plotters::coord::types::RangedCoordi32;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::report::{
    fmt_live, fmt_num, order_caches, stats_of, throughput_workloads, w3_entries, workload_series,
};
use crate::results::{FlushLatency, FlushRun, Results};

const SIZE: (u32, u32) = (960, 600);
const FONT: &str = "sans-serif";

/// Draws every plot for `results` into `dir` (created if needed); returns the
/// files written, in drawing order.
pub fn draw_all(results: &Results, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow!("creating {}: {e}", dir.display()))?;
    let mut written = Vec::new();
    for w in throughput_workloads(results) {
        let path = dir.join(format!("{}-throughput.svg", slug(&w)));
        if throughput(results, &w, &path)? {
            written.push(path);
        }
    }
    let path = dir.join("w3-latency.svg");
    if w3_latency(results, &path)? {
        written.push(path);
    }
    let path = dir.join("w6-scale.svg");
    if w6_scale(results, &path)? {
        written.push(path);
    }
    let path = dir.join("memory.svg");
    if memory(results, &path)? {
        written.push(path);
    }
    Ok(written)
}

/// A file-name-safe, lower-case form of a workload name.
fn slug(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() {
        "unnamed".into()
    } else {
        s
    }
}

/// An axis label: `0`, `2.5`, `0.125`, `250`, `1e6`.
fn fmt_axis(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    if v.abs() >= 1e5 {
        return format!("{v:.0e}");
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" || s.is_empty() {
        "0".into()
    } else {
        s.into()
    }
}

/// A fixed colour for each known cache, a palette colour for the others.
fn colour(cache: &str, index: usize) -> RGBColor {
    match cache {
        "sesscache" => RGBColor(214, 39, 40),
        "sesscache+redis" => RGBColor(148, 103, 189),
        "openssl" => RGBColor(31, 119, 180),
        "rustls" => RGBColor(44, 160, 44),
        "moka" => RGBColor(255, 127, 14),
        "naive" => RGBColor(127, 127, 127),
        "limit" => RGBColor(0, 0, 0),
        _ => {
            let c = Palette99::pick(index + 6).to_rgba();
            RGBColor(c.0, c.1, c.2)
        }
    }
}

fn line_width(cache: &str) -> u32 {
    if cache == "sesscache" {
        3
    } else {
        2
    }
}

/// Maps a plotters error (not always `Send + Sync`) into anyhow.
fn err<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> anyhow::Error + '_ {
    move |e| anyhow!("drawing {}: {e}", path.display())
}

/// A log-axis range around the positive values `lo..=hi`, padded by `pad`.
fn log_range(lo: f64, hi: f64, pad: f64) -> std::ops::Range<f64> {
    (lo / pad)..(hi * pad)
}

/// The smallest and largest of the finite positive `values`.
fn positive_bounds(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Width of one category (a cache) on a categorical x axis, in axis units.
const CATEGORY: i32 = 1000;

/// A categorical x axis of `n` caches, centred on `i * CATEGORY`, one tick
/// per cache.
fn category_axis(n: usize) -> WithKeyPoints<RangedCoordi32> {
    let n = n.min(1 << 16) as i32;
    (-CATEGORY / 2..n * CATEGORY - CATEGORY / 2)
        .with_key_points((0..n).map(|i| i * CATEGORY).collect())
}

/// The label of the category tick at `x`.
fn category_name(names: &[String], x: i32) -> String {
    if x < 0 || x % CATEGORY != 0 {
        return String::new();
    }
    names
        .get((x / CATEGORY) as usize)
        .cloned()
        .unwrap_or_default()
}

fn white_root(path: &Path) -> Result<DrawingArea<SVGBackend<'_>, Shift>> {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err(path))?;
    Ok(root)
}

/// Mops/s against threads for one throughput workload.
fn throughput(results: &Results, workload: &str, path: &Path) -> Result<bool> {
    let series: Vec<_> = workload_series(results, workload)
        .into_iter()
        .map(|(c, pts)| {
            let pts: Vec<_> = pts
                .into_iter()
                .filter(|(t, s)| *t > 0 && s.median.is_finite())
                .collect();
            (c, pts)
        })
        .filter(|(_, pts)| !pts.is_empty())
        .collect();
    if series.is_empty() {
        return Ok(false);
    }
    let mut threads: Vec<usize> = series
        .iter()
        .flat_map(|(_, pts)| pts.iter().map(|(t, _)| *t))
        .collect();
    threads.sort_unstable();
    threads.dedup();
    let (tmin, tmax) = (threads[0] as f64, threads[threads.len() - 1] as f64);
    let ymax = series
        .iter()
        .flat_map(|(_, pts)| pts.iter().map(|(_, s)| s.max.max(s.median)))
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let ymax = if ymax > 0.0 { ymax * 1.12 } else { 1.0 };

    let root = white_root(path)?;
    let e = err(path);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{workload}: throughput against threads"),
            (FONT, 24),
        )
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(
            log_range(tmin, tmax, 1.4)
                .log_scale()
                .base(2.0)
                .with_key_points(threads.iter().map(|&t| t as f64).collect()),
            0.0..ymax,
        )
        .map_err(&e)?;
    chart
        .configure_mesh()
        .x_desc("threads")
        .y_desc("Mops/s (median)")
        .x_label_formatter(&|x| format!("{}", x.round() as u64))
        .y_label_formatter(&|y| fmt_axis(*y))
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 14))
        .draw()
        .map_err(&e)?;
    for (i, (cache, pts)) in series.iter().enumerate() {
        let col = colour(cache, i);
        let style = col.stroke_width(line_width(cache));
        chart
            .draw_series(LineSeries::new(
                pts.iter().map(|(t, s)| (*t as f64, s.median)),
                style,
            ))
            .map_err(&e)?
            .label(cache.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        chart
            .draw_series(
                pts.iter()
                    .map(|(t, s)| Circle::new((*t as f64, s.median), 4, col.filled())),
            )
            .map_err(&e)?;
        chart
            .draw_series(
                pts.iter()
                    .filter(|(_, s)| s.n > 1 && s.min.is_finite() && s.max.is_finite())
                    .map(|(t, s)| {
                        ErrorBar::new_vertical(
                            *t as f64,
                            s.min,
                            s.median,
                            s.max,
                            col.stroke_width(1),
                            10,
                        )
                    }),
            )
            .map_err(&e)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(&e)?;
    root.present().map_err(&e)?;
    Ok(true)
}

/// Lookup latency percentiles during the W3 flush, grouped per cache.
fn w3_latency(results: &Results, path: &Path) -> Result<bool> {
    let entries = w3_entries(results);
    let us = |ns: u64| ns as f64 / 1e3;
    // The machine's own floor (W3's loop with no cache) as a last category.
    let floor_row = results.machine_floor.as_ref().map(|f| {
        (
            "machine floor".to_string(),
            [us(f.p50_ns), us(f.p99_ns), us(f.p999_ns), us(f.max_ns)],
        )
    });
    // Each percentile's min–max over a cache's runs that timed a lookup,
    // where it has several.
    let range = |f: &FlushLatency, get: fn(&FlushRun) -> u64| {
        spread(f.runs.iter().filter(|r| r.timed()).map(|r| us(get(r))))
    };
    type Ranges = [Option<(f64, f64)>; 4];
    let values: Vec<(String, [f64; 4], Ranges)> = entries
        .iter()
        .map(|f| {
            (
                f.cache.clone(),
                [
                    us(f.median.p50_ns),
                    us(f.median.p99_ns),
                    us(f.median.p999_ns),
                    us(f.median.max_ns),
                ],
                [
                    range(f, |r| r.p50_ns),
                    range(f, |r| r.p99_ns),
                    range(f, |r| r.p999_ns),
                    range(f, |r| r.max_ns),
                ],
            )
        })
        .chain(floor_row.map(|(name, v)| (name, v, [None; 4])))
        .filter(|(_, v, _)| v.iter().any(|x| *x > 0.0))
        .collect();
    let Some((lo, hi)) = positive_bounds(values.iter().flat_map(|(_, v, r)| {
        v.iter()
            .copied()
            .chain(r.iter().flatten().flat_map(|&(a, b)| [a, b]))
    })) else {
        return Ok(false);
    };
    let names: Vec<String> = values.iter().map(|(c, _, _)| c.clone()).collect();
    let n = names.len();
    let y = log_range(lo, hi, 3.0);
    let floor = y.start;

    let root = white_root(path)?;
    let e = err(path);
    let mut chart = ChartBuilder::on(&root)
        .caption("W3: lookup latency during the flush", (FONT, 24))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(category_axis(n), y.log_scale())
        .map_err(&e)?;
    let label_names = names.clone();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc("cache")
        .y_desc("µs (log scale)")
        .x_label_formatter(&move |x| category_name(&label_names, *x))
        .y_label_formatter(&|y| fmt_axis(*y))
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 14))
        .draw()
        .map_err(&e)?;
    let pcts = ["p50", "p99", "p99.9", "max"];
    let cols = [
        RGBColor(158, 202, 225),
        RGBColor(66, 146, 198),
        RGBColor(8, 81, 156),
        RGBColor(214, 39, 40),
    ];
    let width = CATEGORY * 8 / 10 / pcts.len() as i32;
    for (k, (pct, col)) in pcts.iter().zip(cols).enumerate() {
        chart
            .draw_series(values.iter().enumerate().filter_map(|(i, (_, v, _))| {
                let x0 = i as i32 * CATEGORY - CATEGORY * 4 / 10 + k as i32 * width;
                (v[k] > 0.0 && v[k].is_finite()).then(|| {
                    Rectangle::new([(x0, floor), (x0 + width * 9 / 10, v[k])], col.filled())
                })
            }))
            .map_err(&e)?
            .label(*pct)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], col.filled()));
        chart
            .draw_series(values.iter().enumerate().filter_map(|(i, (_, v, r))| {
                let x = i as i32 * CATEGORY - CATEGORY * 4 / 10 + k as i32 * width + width * 9 / 20;
                let (a, b) = r[k]?;
                (a > 0.0 && b.is_finite() && v[k] > 0.0)
                    .then(|| ErrorBar::new_vertical(x, a, v[k], b, BLACK.stroke_width(1), 6))
            }))
            .map_err(&e)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(&e)?;
    root.present().map_err(&e)?;
    Ok(true)
}

/// The min–max of the positive finite `values` when there are two or more
/// (the runs a plotted median was taken over; a log axis has no 0).
fn spread(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    let v: Vec<f64> = values.into_iter().filter(|x| *x > 0.0).collect();
    stats_of(&v).filter(|s| s.n > 1).map(|s| (s.min, s.max))
}

/// Flush of 1k expired against the live count, one line per cache.
fn w6_scale(results: &Results, path: &Path) -> Result<bool> {
    let caches = order_caches(results.scale.iter().map(|p| p.cache.as_str()));
    // (live, median flush, the rounds' min–max where there are several).
    type Point = (f64, f64, Option<(f64, f64)>);
    let series: Vec<(String, Vec<Point>)> = caches
        .into_iter()
        .map(|c| {
            let mut pts: Vec<Point> = results
                .scale
                .iter()
                .filter(|p| {
                    p.cache == c && p.live > 0 && p.flush_1k_us.is_finite() && p.flush_1k_us > 0.0
                })
                .map(|p| {
                    (
                        p.live as f64,
                        p.flush_1k_us,
                        spread(p.flushes_us.iter().copied()),
                    )
                })
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            pts.dedup_by(|a, b| a.0 == b.0);
            (c, pts)
        })
        .filter(|(_, pts)| !pts.is_empty())
        .collect();
    let all = || series.iter().flat_map(|(_, pts)| pts.iter().copied());
    let (Some((xlo, xhi)), Some((ylo, yhi))) = (
        positive_bounds(all().map(|p| p.0)),
        positive_bounds(all().flat_map(|p| {
            let (lo, hi) = p.2.unwrap_or((p.1, p.1));
            [p.1, lo, hi]
        })),
    ) else {
        return Ok(false);
    };
    let mut lives: Vec<f64> = all().map(|p| p.0).collect();
    lives.sort_by(f64::total_cmp);
    lives.dedup();

    let root = white_root(path)?;
    let e = err(path);
    let mut chart = ChartBuilder::on(&root)
        .caption("W6: flush of 1k expired against the live count", (FONT, 24))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(
            log_range(xlo, xhi, 2.0).log_scale().with_key_points(lives),
            log_range(ylo, yhi, 2.0).log_scale(),
        )
        .map_err(&e)?;
    chart
        .configure_mesh()
        .x_desc("live sessions (log scale)")
        .y_desc("flush of 1k expired, µs (log scale)")
        .x_label_formatter(&|x| fmt_live(x.round() as usize))
        .y_label_formatter(&|y| fmt_axis(*y))
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 14))
        .draw()
        .map_err(&e)?;
    for (i, (cache, pts)) in series.iter().enumerate() {
        let col = colour(cache, i);
        let style = col.stroke_width(line_width(cache));
        chart
            .draw_series(LineSeries::new(pts.iter().map(|p| (p.0, p.1)), style))
            .map_err(&e)?
            .label(cache.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        chart
            .draw_series(pts.iter().map(|p| Circle::new((p.0, p.1), 4, col.filled())))
            .map_err(&e)?;
        chart
            .draw_series(pts.iter().filter_map(|p| {
                let (lo, hi) = p.2?;
                Some(ErrorBar::new_vertical(
                    p.0,
                    lo,
                    p.1,
                    hi,
                    col.stroke_width(1),
                    10,
                ))
            }))
            .map_err(&e)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(&e)?;
    root.present().map_err(&e)?;
    Ok(true)
}

/// Overhead bytes per session, one bar per cache, with the 128-byte target.
fn memory(results: &Results, path: &Path) -> Result<bool> {
    let caches = order_caches(results.memory.iter().map(|m| m.cache.as_str()));
    let bars: Vec<(String, f64)> = caches
        .into_iter()
        .filter_map(|c| {
            results
                .memory
                .iter()
                .filter(|m| m.cache == c && m.overhead_bytes.is_finite())
                .max_by_key(|m| m.sessions)
                .map(|m| (c, m.overhead_bytes))
        })
        .collect();
    if bars.is_empty() {
        return Ok(false);
    }
    const TARGET: f64 = 128.0;
    let n = bars.len();
    let ymax = bars.iter().map(|b| b.1).fold(TARGET, f64::max) * 1.15;
    let ymin = bars.iter().map(|b| b.1).fold(0.0, f64::min) * 1.15;

    let root = white_root(path)?;
    let e = err(path);
    let mut chart = ChartBuilder::on(&root)
        .caption("Memory: overhead bytes per cached session", (FONT, 24))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(category_axis(n), ymin..ymax)
        .map_err(&e)?;
    let names: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc("cache")
        .y_desc("bytes per session beyond id + value")
        .x_label_formatter(&move |x| category_name(&names, *x))
        .y_label_formatter(&|y| fmt_axis(*y))
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 14))
        .draw()
        .map_err(&e)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (c, v))| {
            let x = i as i32 * CATEGORY;
            Rectangle::new(
                [(x - CATEGORY * 3 / 10, 0.0), (x + CATEGORY * 3 / 10, *v)],
                colour(c, i).filled(),
            )
        }))
        .map_err(&e)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
            Text::new(
                format!("{} B", fmt_num(*v)),
                (i as i32 * CATEGORY - CATEGORY / 8, v.max(0.0) + ymax * 0.02),
                (FONT, 14),
            )
        }))
        .map_err(&e)?;
    let target_style = RGBColor(214, 39, 40).stroke_width(1);
    chart
        .draw_series(DashedLineSeries::new(
            vec![
                (-CATEGORY / 2, TARGET),
                (n as i32 * CATEGORY - CATEGORY / 2, TARGET),
            ],
            8,
            5,
            target_style,
        ))
        .map_err(&e)?
        .label("target: ≤ 128 B")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], target_style));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(&e)?;
    root.present().map_err(&e)?;
    Ok(true)
}
