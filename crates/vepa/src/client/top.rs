//! `vepa top`: a live view of the switches in the terminal, refreshed
//! every interval: per-port rates (frames and bits each way), drops by
//! reason, FDB sizes, and each forwarding worker's load and decision-cache
//! hits. Sorted by a column the keys choose; `q` quits. crossterm draws it
//! (raw mode, the alternate screen, key events): a table of lines needs
//! no widget library.

use super::http::Client;
use super::{interval, si};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use crossterm::{cursor, execute, terminal};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};
use vepa_api::wire::{PortStats, Stats};

/// The column rows are sorted by (largest first; name: A to Z).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortBy {
    /// Frames received per second.
    Rx,
    /// Frames sent per second.
    Tx,
    /// Bits received per second.
    RxBits,
    /// Bits sent per second.
    TxBits,
    /// Drops per second.
    Drops,
    /// SWITCH/PORT.
    Name,
}

#[derive(Args, Debug)]
pub struct TopArgs {
    /// Seconds between refreshes.
    #[arg(long, short = 'n', value_name = "SECS", default_value_t = 1.0)]
    pub interval: f64,
    /// The column to sort by at the start (keys change it).
    #[arg(long, value_enum, default_value = "rx-bits")]
    pub sort: SortBy,
}

struct Row {
    name: String,
    rx_pps: f64,
    tx_pps: f64,
    rx_bps: f64,
    tx_bps: f64,
    drops_ps: f64,
    reasons: String,
}

/// Rows from two snapshots `dt` seconds apart.
fn rows(before: &Stats, now: &Stats, dt: f64) -> Vec<Row> {
    let rate = |a: u64, b: u64| a.saturating_sub(b) as f64 / dt;
    now.ports
        .iter()
        .map(|p| {
            let was: Option<&PortStats> = before
                .ports
                .iter()
                .find(|q| q.switch == p.switch && q.port == p.port);
            let old = |f: fn(&PortStats) -> u64| was.map_or(f(p), f);
            let mut reasons: BTreeMap<&str, f64> = BTreeMap::new();
            for (r, n) in &p.drops {
                let o = was.and_then(|w| w.drops.get(r)).copied().unwrap_or(*n);
                let v = rate(*n, o);
                if v > 0.0 {
                    reasons.insert(r, v);
                }
            }
            let total = |s: &PortStats| s.drops.values().sum::<u64>();
            Row {
                name: format!("{}/{}", p.switch, p.port),
                rx_pps: rate(p.rx_frames, old(|s| s.rx_frames)),
                tx_pps: rate(p.tx_frames, old(|s| s.tx_frames)),
                rx_bps: 8.0 * rate(p.rx_bytes, old(|s| s.rx_bytes)),
                tx_bps: 8.0 * rate(p.tx_bytes, old(|s| s.tx_bytes)),
                drops_ps: rate(total(p), was.map_or(total(p), total)),
                reasons: reasons
                    .iter()
                    .map(|(r, v)| format!("{r}={v:.0}/s"))
                    .collect::<Vec<_>>()
                    .join(" "),
            }
        })
        .collect()
}

fn sort(rows: &mut [Row], by: SortBy) {
    let key = |r: &Row| match by {
        SortBy::Rx => r.rx_pps,
        SortBy::Tx => r.tx_pps,
        SortBy::RxBits => r.rx_bps,
        SortBy::TxBits => r.tx_bps,
        SortBy::Drops => r.drops_ps,
        SortBy::Name => 0.0,
    };
    if by == SortBy::Name {
        rows.sort_by(|a, b| a.name.cmp(&b.name));
    } else {
        rows.sort_by(|a, b| key(b).total_cmp(&key(a)).then(a.name.cmp(&b.name)));
    }
}

/// The screen, as lines.
fn screen(before: &Stats, now: &Stats, dt: f64, by: SortBy) -> Vec<String> {
    let mut v = Vec::new();
    v.push(format!(
        "vepa top: every {dt:.1} s; sort: r rx, t tx, b rx bit/s, B tx bit/s, d drops, n name; q quits (sorted by {})",
        match by {
            SortBy::Rx => "rx pps",
            SortBy::Tx => "tx pps",
            SortBy::RxBits => "rx bit/s",
            SortBy::TxBits => "tx bit/s",
            SortBy::Drops => "drops/s",
            SortBy::Name => "name",
        }
    ));
    let fdb: Vec<String> = now
        .switches
        .iter()
        .map(|s| format!("{} {} ({} FDB)", s.switch, s.backend, s.fdb_entries))
        .collect();
    v.push(format!("switches: {}", fdb.join(", ")));
    for w in &now.workers {
        let was = before.workers.iter().find(|b| b.worker == w.worker);
        let busy = was.map_or(0.0, |b| {
            let span = w.seconds - b.seconds;
            if span > 0.0 {
                100.0 * (w.busy_seconds - b.busy_seconds) / span
            } else {
                0.0
            }
        });
        let (h, m) = was.map_or((0, 0), |b| {
            (
                w.cache_hits.saturating_sub(b.cache_hits),
                w.cache_misses.saturating_sub(b.cache_misses),
            )
        });
        let hit = if h + m > 0 {
            format!("{:.1}%", 100.0 * h as f64 / (h + m) as f64)
        } else {
            "-".into()
        };
        v.push(format!(
            "worker {}: busy {busy:.1}%, decision cache hits {hit}",
            w.worker
        ));
    }
    v.push(String::new());
    v.push(format!(
        "{:<28} {:>10} {:>10} {:>11} {:>11} {:>9}  {}",
        "PORT", "RX PPS", "TX PPS", "RX BIT/S", "TX BIT/S", "DROPS/S", "DROPS BY REASON"
    ));
    let mut rows = rows(before, now, dt);
    sort(&mut rows, by);
    for r in rows {
        v.push(format!(
            "{:<28} {:>10.0} {:>10.0} {:>11} {:>11} {:>9.0}  {}",
            r.name,
            r.rx_pps,
            r.tx_pps,
            si(r.rx_bps),
            si(r.tx_bps),
            r.drops_ps,
            r.reasons
        ));
    }
    v
}

/// Puts the terminal back however `top` ends.
struct Screen;

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = execute!(
            std::io::stdout(),
            terminal::LeaveAlternateScreen,
            cursor::Show
        );
        let _ = terminal::disable_raw_mode();
    }
}

pub fn top(c: &Client, a: TopArgs) -> Result<()> {
    if !(0.2..=3600.0).contains(&a.interval) {
        bail!("--interval: {} s; expected 0.2 to 3600", a.interval);
    }
    if !std::io::stdout().is_terminal() {
        bail!("vepa top draws on a terminal; for scripts, `vepa stats --watch` prints plain text");
    }
    let mut by = a.sort;
    let mut before: Stats = c.get("/v1/stats")?;
    let mut asked = Instant::now();
    terminal::enable_raw_mode().context("the terminal refused raw mode")?;
    let _restore = Screen;
    let mut out = std::io::stdout();
    execute!(out, terminal::EnterAlternateScreen, cursor::Hide)?;
    let mut lines = vec![format!(
        "vepa top: first figures in {:.1} s (q quits)",
        a.interval
    )];
    loop {
        let (w, h) = terminal::size().unwrap_or((120, 40));
        execute!(
            out,
            cursor::MoveTo(0, 0),
            terminal::Clear(terminal::ClearType::All)
        )?;
        for (i, l) in lines.iter().take(h as usize).enumerate() {
            let l: String = l.chars().take(w as usize).collect();
            execute!(out, cursor::MoveTo(0, i as u16))?;
            write!(out, "{l}")?;
        }
        out.flush()?;
        let due = asked + Duration::from_secs_f64(a.interval);
        // Keys until the next refresh.
        loop {
            let left = due.saturating_duration_since(Instant::now());
            if left.is_zero() || !event::poll(left)? {
                break;
            }
            if let Event::Key(k) = event::read()? {
                if k.kind != KeyEventKind::Press {
                    continue;
                }
                let ctrl_c =
                    k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
                match k.code {
                    _ if ctrl_c => return Ok(()),
                    KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
                    KeyCode::Char('r') => by = SortBy::Rx,
                    KeyCode::Char('t') => by = SortBy::Tx,
                    KeyCode::Char('b') => by = SortBy::RxBits,
                    KeyCode::Char('B') => by = SortBy::TxBits,
                    KeyCode::Char('d') => by = SortBy::Drops,
                    KeyCode::Char('n') => by = SortBy::Name,
                    _ => {}
                }
            }
        }
        if Instant::now() < due {
            continue;
        }
        let now: Stats = c.get("/v1/stats")?;
        let dt = interval(&before, &now, asked.elapsed().as_secs_f64());
        asked = Instant::now();
        lines = screen(&before, &now, dt, by);
        before = now;
    }
}
