//! `vepa doctor`: what this kernel can do and what vepa uses for each
//! feature (see `vepa_kernel::doctor`), as a table or JSON.

use anyhow::{bail, Result};
use vepa_kernel::doctor::Report;

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

pub fn run(json: bool) -> Result<()> {
    if !vepa_host::running_as_root() {
        bail!("vepa doctor tries each feature in a scratch network namespace, which needs root: run it as root");
    }
    let r = vepa_kernel::doctor::run();
    if json {
        say!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        say_raw!("{}", table(&r));
    }
    Ok(())
}
