//! `vepa doctor`: what this kernel can do and what vepa uses for each
//! feature (see `vepa_kernel::doctor`), as a table or JSON; and, when a
//! daemon answers, whether the bridge beyond each switch's uplink reflects
//! frames (the EVB TLV's answer, else the relay probe's).

use crate::client::http::Client;
use anyhow::{bail, Result};
use vepa_api::wire::LinkPortView;
use vepa_kernel::doctor::Report;

/// One line per uplink the daemon's link agent runs on.
fn adjacent(ports: &[LinkPortView]) -> String {
    let mut out = String::new();
    let uplinks: Vec<&LinkPortView> = ports.iter().filter(|p| p.role == "uplink").collect();
    if uplinks.is_empty() {
        return "adjacent bridges: no uplink of a userspace switch to check\n".into();
    }
    for p in uplinks {
        let state = p.reflective_relay.as_deref().unwrap_or("unknown");
        let hint = if state.starts_with("refused") || state.starts_with("not reflecting") {
            match p.relay_required.as_deref() {
                Some("warn") => "  <- its vepa ports' VMs cannot reach each other",
                _ => "",
            }
        } else {
            ""
        };
        out += &format!(
            "adjacent bridge of {}/{}: reflective relay {state}{}{hint}\n",
            p.switch,
            p.port,
            p.probe
                .as_deref()
                .map(|x| format!(", last probe {x}"))
                .unwrap_or_default()
        );
    }
    out
}

pub fn table(r: &Report) -> String {
    let mut rows: Vec<[String; 4]> = vec![[
        "FEATURE".into(),
        "HERE".into(),
        "VEPA USES".into(),
        "FOUND".into(),
    ]];
    for f in &r.features {
        rows.push([
            f.name.clone(),
            if f.available { "yes" } else { "no" }.into(),
            f.vepa_uses.clone(),
            f.detail.clone(),
        ]);
    }
    let w: Vec<usize> = (0..3)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = format!("kernel {}\n", r.kernel);
    for row in &rows {
        out += &format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}\n",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2]
        );
    }
    if r.nics.is_empty() {
        out += "no physical NICs\n";
    }
    for n in &r.nics {
        out += &format!(
            "nic {}: driver {}, SR-IOV {}, hwmode {}\n",
            n.name,
            if n.driver.is_empty() { "?" } else { &n.driver },
            match (n.sriov_total_vfs, n.sriov_vfs) {
                (Some(t), Some(c)) => format!("{c} of {t} VFs"),
                (Some(t), None) => format!("{t} VFs possible"),
                _ => "not supported".into(),
            },
            n.hwmode.as_deref().unwrap_or("not reported")
        );
    }
    out
}

pub fn run(json: bool, daemon: Option<Client>) -> Result<()> {
    if !vepa_host::running_as_root() {
        bail!("vepa doctor tries each feature in a scratch network namespace, which needs root: run it as root");
    }
    let r = vepa_kernel::doctor::run();
    let links = daemon.map(|c| c.get::<Vec<LinkPortView>>("/v1/lldp"));
    if json {
        let mut v = serde_json::to_value(&r)?;
        if let (Some(Ok(ports)), Some(m)) = (&links, v.as_object_mut()) {
            m.insert("adjacent_bridges".into(), serde_json::to_value(ports)?);
        }
        crate::client::print_json(&v)?;
    } else {
        say_raw!("{}", table(&r));
        match links {
            Some(Ok(ports)) => say_raw!("{}", adjacent(&ports)),
            Some(Err(e)) => say!("adjacent bridges: not checked ({e:#})"),
            None => say!("adjacent bridges: not checked (no daemon to ask)"),
        }
    }
    Ok(())
}
