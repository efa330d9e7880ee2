//! `vepa graph`: the fabric as a picture (Graphviz DOT, SVG, or JSON),
//! from the daemon (with each port's state, traffic over one second and
//! drops) or from a topology file.

use super::http::Client;
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use vepa_api::graph::Graph;
use vepa_api::topology::Topology;
use vepa_api::wire::Stats;

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GraphFormat {
    /// Graphviz DOT (`| dot -Tpng > fabric.png`).
    #[default]
    Dot,
    /// SVG, drawn by Graphviz's `dot` (Debian: graphviz).
    Svg,
    /// The graph's model, for other tools.
    Json,
}

/// The graph of `file`, or of the daemon's state when there is none.
pub fn graph(
    client: impl FnOnce() -> Result<Client>,
    file: Option<&Path>,
    format: GraphFormat,
) -> Result<()> {
    let g = match file {
        Some(f) => {
            // Checked as `vepa validate` checks it: a patch to nowhere or
            // a router on a missing switch is an error, not a missing line.
            let topo = Topology::load(f)?;
            topo.validate()?;
            Graph::from_topology(&topo)
        }
        None => {
            // The daemon's graph (as a page reads it), with rates over
            // the second since an earlier sample of its counters.
            let c = client()?;
            let before: Stats = c.get("/v1/stats")?;
            let started = std::time::Instant::now();
            std::thread::sleep(std::time::Duration::from_secs(1));
            let mut g: Graph = c.get("/v1/graph")?;
            // Over the workers' own publication times when both have them.
            let secs = match (before.as_of_ms, g.as_of_ms) {
                (Some(a), Some(b)) if b > a => (b - a) as f64 / 1000.0,
                _ => started.elapsed().as_secs_f64(),
            };
            g.add_rates(&before, secs);
            g
        }
    };
    let out = match format {
        GraphFormat::Json => serde_json::to_string_pretty(&g)? + "\n",
        GraphFormat::Dot => g.to_dot(),
        GraphFormat::Svg => svg(&g.to_dot())?,
    };
    std::io::stdout()
        .write_all(out.as_bytes())
        .context("write the graph")
}

/// `dot` turns DOT into SVG.
fn svg(dot: &str) -> Result<String> {
    let mut child = match Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "-o svg: Graphviz's `dot` draws the SVG and is not installed (Debian: apt install graphviz); -o dot prints what it would draw"
        ),
        Err(e) => return Err(e).context("start dot"),
    };
    let mut stdin = child.stdin.take().context("dot's input")?;
    let text = dot.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child.wait_with_output().context("run dot")?;
    let written = writer
        .join()
        .map_err(|_| anyhow::anyhow!("writing to dot failed"))?;
    // dot's own word first: a write it cut short is only the symptom.
    if !out.status.success() {
        bail!(
            "dot failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    written.context("write to dot")?;
    String::from_utf8(out.stdout).context("dot's SVG is not UTF-8")
}
