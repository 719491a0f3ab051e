//! Output: a terminal report ([`text`]), the backtest as stable text for the golden file
//! ([`backtest_text`]) and a self-contained HTML report with inline SVG charts ([`html`]) —
//! no script, no network.

use std::fmt::Write;

use rust_decimal::Decimal;

use crate::backtest::Backtest;
use crate::plan::PlanReport;

fn group(d: Decimal) -> String {
    // thousands separators on the integer part
    let s = d.to_string();
    let (sign, s) = s.strip_prefix('-').map_or(("", s.as_str()), |r| ("-", r));
    let (int, frac) = s.split_once('.').map_or((s, None), |(a, b)| (a, Some(b)));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{out}.{f}"),
        None => format!("{sign}{out}"),
    }
}

fn money(d: Decimal) -> String {
    group(d.round_dp(2))
}

fn tokens(n: u64) -> String {
    group(Decimal::from(n))
}

fn opt(x: Option<f64>, dp: usize) -> String {
    x.map_or("—".into(), |v| format!("{v:.dp$}"))
}

/// The terminal report.
pub fn text(r: &PlanReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Hedge plan as of {} — hedge ratio {}",
        r.as_of, r.hedge_ratio
    );
    let _ = writeln!(s, "Futures prices: {}", r.price_source);
    let _ = writeln!(
        s,
        "Cached input tokens priced at {} × the input price.\n",
        r.cached_input_price_factor
    );
    let _ = writeln!(s, "Model mapping");
    for m in &r.mappings {
        let _ = writeln!(s, "  {:<34} → {:<7} {}", m.name, m.index_id, m.how);
    }
    let _ = writeln!(s, "\nStrip to buy (contracts = cost / (contract size × index level), rounded to whole contracts)");
    let _ = writeln!(
        s,
        "  {:<8} {:<4} {:>16} {:>16} {:>10} {:>10} {:>9} {:>6} {:>16} {:>16} {:>14}",
        "month",
        "prod",
        "input tok",
        "output tok",
        "level",
        "futures",
        "exact",
        "buy",
        "expected cost",
        "locked cost",
        "init. margin"
    );
    for l in &r.lines {
        let _ = writeln!(
            s,
            "  {:<8} {:<4} {:>16} {:>16} {:>10} {:>10} {:>9} {:>6} {:>16} {:>16} {:>14}",
            l.month.to_string(),
            l.product,
            tokens(l.input_tokens + l.cached_input_tokens),
            tokens(l.output_tokens),
            l.index_level.round_dp(4).to_string(),
            l.futures_price.to_string(),
            l.contracts_exact.round_dp(2).to_string(),
            l.contracts,
            format!("{} {}", l.currency, money(l.expected_cost)),
            format!("{} {}", l.currency, money(l.locked_cost)),
            money(l.initial_margin),
        );
    }
    let _ = writeln!(s, "\nRounding");
    for l in &r.lines {
        let _ = writeln!(s, "  {} {}: {}", l.month, l.product, l.rounding);
    }
    let _ = writeln!(s, "\nTotals");
    for t in &r.totals {
        let _ = writeln!(
            s,
            "  {}: {} contracts, expected cost {}, locked cost {}, notional {}, initial margin {}",
            t.currency,
            t.contracts,
            money(t.expected_cost),
            money(t.locked_cost),
            money(t.notional),
            money(t.initial_margin)
        );
    }
    let _ = writeln!(
        s,
        "\nScenarios (index at settlement vs today's level; your prices move with it)"
    );
    let _ = writeln!(
        s,
        "  {:<4} {:>8} {:>18} {:>18} {:>18}",
        "cur", "index", "unhedged cost", "hedge P&L", "net cost"
    );
    for x in &r.scenarios {
        let _ = writeln!(
            s,
            "  {:<4} {:>7}% {:>18} {:>18} {:>18}",
            x.currency,
            format!("{:+}", x.index_move_pct),
            money(x.unhedged_cost),
            money(x.hedge_pnl),
            money(x.net_cost)
        );
    }
    let _ = writeln!(
        s,
        "\nBasis risk (your models vs the index, monthly, real history)"
    );
    for b in &r.basis {
        let _ = writeln!(
            s,
            "  {} — correlation {}, tracking error {}%/month, beta {}",
            b.index_id,
            opt(b.correlation, 2),
            opt(b.tracking_error_pct, 1),
            opt(b.beta, 2)
        );
        let _ = writeln!(s, "    {}", b.summary);
    }
    let _ = writeln!(s, "\nBacktest (real history)");
    for b in &r.backtest {
        s.push_str(&backtest_block(b));
    }
    if !r.notes.is_empty() {
        let _ = writeln!(s, "\nNotes");
        for n in &r.notes {
            let _ = writeln!(s, "  - {n}");
        }
    }
    s
}

fn backtest_block(b: &Backtest) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "  {} ({}) — effectiveness {}, min-variance hedge ratio {} (effectiveness there {})",
        b.index_id,
        b.product,
        opt(b.effectiveness, 4),
        opt(b.min_variance_ratio, 4),
        opt(b.effectiveness_at_min_variance, 4)
    );
    let _ = writeln!(s, "    {}", b.summary);
    if !b.months.is_empty() {
        let _ = writeln!(
            s,
            "    {:<8} {:>10} {:>16} {:>16} {:>16}",
            "month", "settle", "unhedged", "hedge P&L", "hedged"
        );
        for m in &b.months {
            let _ = writeln!(
                s,
                "    {:<8} {:>10} {:>16} {:>16} {:>16}",
                m.month.to_string(),
                m.settlement.to_string(),
                money(m.unhedged),
                money(m.hedge_pnl),
                money(m.hedged)
            );
        }
    }
    s
}

/// The backtest and basis figures as stable text (the golden file).
pub fn backtest_text(r: &PlanReport) -> String {
    let mut s = String::new();
    for b in &r.basis {
        let _ = writeln!(
            s,
            "basis {}: months {}, your change {}%, index change {}%, correlation {}, tracking error {}%, beta {}",
            b.index_id,
            b.months.len(),
            opt(b.your_change_pct, 4),
            opt(b.index_change_pct, 4),
            opt(b.correlation, 4),
            opt(b.tracking_error_pct, 4),
            opt(b.beta, 4)
        );
        for m in &b.months {
            let _ = writeln!(s, "  {} yours {} index {}", m.month, m.your_price, m.index);
        }
    }
    for b in &r.backtest {
        let _ = writeln!(
            s,
            "backtest {}: hedge month {}, entry {}, contracts/month {}, unhedged std {}, hedged std {}, effectiveness {}, min-variance ratio {}, effectiveness at it {}",
            b.index_id,
            b.hedge_month.map_or("—".into(), |m| m.to_string()),
            b.entry_price.map_or("—".into(), |p| p.to_string()),
            b.contracts_per_month,
            opt(b.unhedged_std, 4),
            opt(b.hedged_std, 4),
            opt(b.effectiveness, 4),
            opt(b.min_variance_ratio, 4),
            opt(b.effectiveness_at_min_variance, 4)
        );
        for m in &b.months {
            let _ = writeln!(
                s,
                "  {} settle {} unhedged {} pnl {} hedged {}",
                m.month, m.settlement, m.unhedged, m.hedge_pnl, m.hedged
            );
        }
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An SVG line chart: series of (label, colour, values) over x labels.
fn line_chart(title: &str, xs: &[String], series: &[(&str, &str, Vec<f64>)]) -> String {
    let (w, h, l, r, t, b) = (720.0, 280.0, 70.0, 20.0, 30.0, 50.0);
    let all: Vec<f64> = series.iter().flat_map(|s| s.2.iter().copied()).collect();
    if xs.is_empty() || all.is_empty() {
        return String::new();
    }
    let mut lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let mut hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if (hi - lo).abs() < 1e-9 {
        lo -= 1.0;
        hi += 1.0;
    }
    let pad = (hi - lo) * 0.08;
    let (lo, hi) = (lo - pad, hi + pad);
    let x = |i: usize| {
        if xs.len() == 1 {
            l + (w - l - r) / 2.0
        } else {
            l + (w - l - r) * i as f64 / (xs.len() - 1) as f64
        }
    };
    let y = |v: f64| t + (h - t - b) * (1.0 - (v - lo) / (hi - lo));
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{}"><text x="{l}" y="18" font-size="14" font-weight="bold">{}</text>"#,
        esc(title),
        esc(title)
    );
    for k in 0..=4 {
        let v = lo + (hi - lo) * k as f64 / 4.0;
        let yy = y(v);
        let _ = write!(
            s,
            r##"<line x1="{l}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
            w - r,
            l - 6.0,
            yy + 4.0,
            fmt_axis(v)
        );
    }
    for (i, lab) in xs.iter().enumerate() {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" font-size="10" text-anchor="middle">{}</text>"#,
            x(i),
            h - b + 16.0,
            esc(lab)
        );
    }
    for (k, (name, colour, vals)) in series.iter().enumerate() {
        let pts: Vec<String> = vals
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            pts.join(" ")
        );
        for p in &pts {
            let (px, py) = p.split_once(',').expect("point");
            let _ = write!(s, r#"<circle cx="{px}" cy="{py}" r="3" fill="{colour}"/>"#);
        }
        let lx = l + 160.0 * k as f64;
        let _ = write!(
            s,
            r#"<rect x="{lx}" y="{}" width="12" height="12" fill="{colour}"/><text x="{}" y="{}" font-size="12">{}</text>"#,
            h - 22.0,
            lx + 16.0,
            h - 12.0,
            esc(name)
        );
    }
    s.push_str("</svg>");
    s
}

fn fmt_axis(v: f64) -> String {
    if v.abs() >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v.abs() >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.3}")
    }
}

fn f(d: Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    d.to_f64().unwrap_or(0.0)
}

/// The HTML report: self-contained (inline CSS and SVG, no script, no network).
pub fn html(r: &PlanReport) -> String {
    let mut s = String::new();
    s.push_str(r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Tokex hedge plan</title><style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f3f3}.note{color:#555}.box{background:#f8f8ff;border-left:4px solid #557;padding:.5em 1em}</style></head><body>"#);
    let _ = write!(
        s,
        "<h1>Hedge plan</h1><p>As of {} · hedge ratio {} · cached input at {} × the input price</p><p class=\"box\">Futures prices: {}</p>",
        r.as_of,
        r.hedge_ratio,
        r.cached_input_price_factor,
        esc(&r.price_source)
    );
    s.push_str(
        "<h2>Model mapping</h2><table><tr><th>forecast name</th><th>index</th><th>how</th></tr>",
    );
    for m in &r.mappings {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&m.name),
            esc(&m.index_id),
            esc(&m.how)
        );
    }
    s.push_str("</table><h2>Strip to buy</h2><p class=\"note\">Contracts = expected cost at today's prices ÷ (contract size × index level), rounded to the nearest whole contract. Locked cost = expected cost × futures ÷ index level.</p><table><tr><th>month</th><th>product</th><th>input tokens</th><th>output tokens</th><th>expected cost</th><th>index level</th><th>futures (locked)</th><th>contracts</th><th>rounding</th><th>locked cost</th><th>notional</th><th>initial margin</th></tr>");
    for l in &r.lines {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{} {}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            l.month,
            l.product,
            tokens(l.input_tokens + l.cached_input_tokens),
            tokens(l.output_tokens),
            l.currency,
            money(l.expected_cost),
            l.index_level,
            l.futures_price,
            l.contracts,
            esc(&l.rounding),
            money(l.locked_cost),
            money(l.notional),
            money(l.initial_margin)
        );
    }
    s.push_str("</table><h2>Totals</h2><table><tr><th>currency</th><th>contracts</th><th>expected cost</th><th>locked cost</th><th>notional</th><th>initial margin</th></tr>");
    for t in &r.totals {
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            t.currency,
            t.contracts,
            money(t.expected_cost),
            money(t.locked_cost),
            money(t.notional),
            money(t.initial_margin)
        );
    }
    s.push_str("</table><h2>Scenarios</h2><p class=\"note\">The index settles at today's level moved by the percentage; your prices move with it.</p><table><tr><th>currency</th><th>index move</th><th>unhedged cost</th><th>hedge P&amp;L</th><th>net cost</th></tr>");
    for x in &r.scenarios {
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=n>{:+}%</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            x.currency,
            x.index_move_pct,
            money(x.unhedged_cost),
            money(x.hedge_pnl),
            money(x.net_cost)
        );
    }
    s.push_str("</table><h2>Basis risk</h2>");
    for b in &r.basis {
        let _ = write!(
            s,
            "<h3>{} ({})</h3><p>{}</p><p class=\"note\">correlation {} · tracking error {}% a month · beta {}</p>",
            esc(&b.index_id),
            esc(&b.product),
            esc(&b.summary),
            opt(b.correlation, 2),
            opt(b.tracking_error_pct, 1),
            opt(b.beta, 2)
        );
        let xs: Vec<String> = b.months.iter().map(|m| m.month.to_string()).collect();
        s.push_str(&line_chart(
            &format!(
                "Your price vs {} ({} per 1M tokens)",
                b.index_id, b.currency
            ),
            &xs,
            &[
                (
                    "your mix",
                    "#c0392b",
                    b.months.iter().map(|m| f(m.your_price)).collect(),
                ),
                (
                    &b.index_id,
                    "#2c3e91",
                    b.months.iter().map(|m| f(m.index)).collect(),
                ),
            ],
        ));
    }
    s.push_str("<h2>Backtest on the real history</h2>");
    for b in &r.backtest {
        let _ = write!(
            s,
            "<h3>{} ({})</h3><p>{}</p><p class=\"note\">hedge effectiveness {} · variance-minimising hedge ratio {} (effectiveness there {})</p>",
            esc(&b.index_id),
            esc(&b.product),
            esc(&b.summary),
            opt(b.effectiveness, 4),
            opt(b.min_variance_ratio, 4),
            opt(b.effectiveness_at_min_variance, 4)
        );
        let xs: Vec<String> = b.months.iter().map(|m| m.month.to_string()).collect();
        s.push_str(&line_chart(
            &format!("Monthly cost, hedged vs unhedged ({})", b.currency),
            &xs,
            &[
                (
                    "unhedged",
                    "#c0392b",
                    b.months.iter().map(|m| f(m.unhedged)).collect(),
                ),
                (
                    "hedged",
                    "#27ae60",
                    b.months.iter().map(|m| f(m.hedged)).collect(),
                ),
            ],
        ));
        if !b.months.is_empty() {
            s.push_str("<table><tr><th>month</th><th>settlement</th><th>unhedged</th><th>hedge P&amp;L</th><th>hedged</th></tr>");
            for m in &b.months {
                let _ = write!(
                    s,
                    "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
                    m.month,
                    m.settlement,
                    money(m.unhedged),
                    money(m.hedge_pnl),
                    money(m.hedged)
                );
            }
            s.push_str("</table>");
        }
    }
    if !r.notes.is_empty() {
        s.push_str("<h2>Notes</h2><ul>");
        for n in &r.notes {
            let _ = write!(s, "<li>{}</li>", esc(n));
        }
        s.push_str("</ul>");
    }
    s.push_str("<p class=\"note\">Generated by <code>tokex hedge plan</code>. Method: docs/HEDGING.md.</p></body></html>\n");
    s
}
