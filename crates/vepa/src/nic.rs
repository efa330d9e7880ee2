//! `vepa nic`: physical NICs, their embedded bridge mode (VEB or VEPA) and
//! SR-IOV virtual functions, over `vepa_kernel::nic`.

use crate::client::Output;
use anyhow::{bail, Result};
use clap::{Subcommand, ValueEnum};
use serde::Serialize;
use vepa_kernel::nic::{self, HwMode, VfLinkState, VfSetting};
use vepa_packet::MacAddr;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Mode {
    Veb,
    Vepa,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum State {
    Auto,
    Enable,
    Disable,
}

#[derive(Subcommand, Debug)]
pub enum NicCmd {
    /// Physical NICs (or one device): driver, SR-IOV VFs, embedded bridge mode
    Show {
        /// Only this device (default: every physical NIC).
        dev: Option<String>,
        #[command(flatten)]
        out: crate::client::OutputArg,
    },
    /// Set a NIC's embedded bridge mode: `vepa nic set DEV hwmode vepa|veb`
    ///
    /// VEPA sends VF-to-VF traffic out to the adjacent switch (which must
    /// reflect it); VEB switches it inside the NIC. Only some drivers
    /// (ixgbe, i40e, ...) have it; others answer that they do not.
    Set {
        /// The NIC (its physical function), e.g. enp1s0f0.
        dev: String,
        /// The setting: hwmode.
        #[arg(value_parser = ["hwmode"])]
        what: String,
        /// vepa: VF-to-VF traffic leaves for the adjacent switch; veb: the NIC switches it.
        #[arg(value_enum)]
        mode: Mode,
    },
    /// Change one virtual function: MAC, VLAN, spoof check, trust, link state
    ///
    /// Example: vepa nic vf enp1s0f0 3 --mac 02:00:00:00:00:03 --vlan 10 --spoofchk on
    Vf {
        /// The NIC (its physical function).
        dev: String,
        /// The VF's number, from 0.
        vf: u32,
        /// The VF's MAC address.
        #[arg(long)]
        mac: Option<MacAddr>,
        /// VLAN the VF's frames are tagged with (0: none).
        #[arg(long, value_parser = clap::value_parser!(u16).range(0..=4094))]
        vlan: Option<u16>,
        /// 802.1p priority with --vlan.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=7))]
        qos: u8,
        /// Drop frames the VF sends from another MAC.
        #[arg(long, value_parser = crate::client::on_off())]
        spoofchk: Option<bool>,
        /// Let the VF change its MAC and go promiscuous.
        #[arg(long, value_parser = crate::client::on_off())]
        trust: Option<bool>,
        /// The VF's link: auto (follows the PF), enable, disable.
        #[arg(long, value_enum)]
        state: Option<State>,
    },
    /// Set how many VFs a NIC has: `vepa nic sriov DEV numvfs N`
    Sriov {
        /// The NIC (its physical function).
        dev: String,
        /// The setting: numvfs.
        #[arg(value_parser = ["numvfs"])]
        what: String,
        /// How many VFs (0 removes them; at most sriov_totalvfs).
        n: u32,
    },
}

#[derive(Serialize)]
struct NicView {
    name: String,
    driver: String,
    sriov_total_vfs: Option<u32>,
    sriov_vfs: Option<u32>,
    /// veb, vepa, or none when the driver reports no embedded bridge.
    hwmode: Option<&'static str>,
}

pub fn run(cmd: NicCmd) -> Result<()> {
    if !vepa_host::running_as_root() {
        bail!("vepa nic needs root (CAP_NET_ADMIN): run it as root");
    }
    match cmd {
        NicCmd::Show { dev, out } => {
            let mut nics: Vec<NicView> = vepa_kernel::doctor::nics()
                .into_iter()
                .map(|n| NicView {
                    hwmode: match n.hwmode.as_deref() {
                        Some("vepa") => Some("vepa"),
                        Some(_) => Some("veb"),
                        None => None,
                    },
                    name: n.name,
                    driver: n.driver,
                    sriov_total_vfs: n.sriov_total_vfs,
                    sriov_vfs: n.sriov_vfs,
                })
                .collect();
            if let Some(d) = &dev {
                let hw = nic::hwmode(d)?;
                nics.retain(|n| &n.name == d);
                if nics.is_empty() {
                    nics.push(NicView {
                        name: d.clone(),
                        driver: nic::driver(d).unwrap_or_default(),
                        sriov_total_vfs: None,
                        sriov_vfs: None,
                        hwmode: hw.map(HwMode::as_str),
                    });
                }
            }
            match out.output() {
                Output::Json => crate::client::print_json(&nics)?,
                Output::Table => {
                    say!("{:<16} {:<14} {:<12} HWMODE", "NIC", "DRIVER", "VFS");
                    for n in &nics {
                        let vfs = match (n.sriov_vfs, n.sriov_total_vfs) {
                            (Some(c), Some(t)) => format!("{c}/{t}"),
                            _ => "-".into(),
                        };
                        say!(
                            "{:<16} {:<14} {:<12} {}",
                            n.name,
                            if n.driver.is_empty() { "?" } else { &n.driver },
                            vfs,
                            n.hwmode.unwrap_or("not reported")
                        );
                    }
                }
            }
        }
        NicCmd::Set { dev, mode, .. } => {
            let m = match mode {
                Mode::Veb => HwMode::Veb,
                Mode::Vepa => HwMode::Vepa,
            };
            nic::set_hwmode(&dev, m)?;
            if crate::client::json() {
                return crate::client::print_json(
                    &serde_json::json!({"nic": dev, "hwmode": m.as_str()}),
                );
            }
            say!("{dev}: hwmode {}", m.as_str());
        }
        NicCmd::Vf {
            dev,
            vf,
            mac,
            vlan,
            qos,
            spoofchk,
            trust,
            state,
        } => {
            let mut settings = Vec::new();
            if let Some(m) = mac {
                settings.push(VfSetting::Mac(m.0));
            }
            if let Some(vid) = vlan {
                settings.push(VfSetting::Vlan { vid, qos });
            }
            if let Some(on) = spoofchk {
                settings.push(VfSetting::SpoofCheck(on));
            }
            if let Some(on) = trust {
                settings.push(VfSetting::Trust(on));
            }
            if let Some(s) = state {
                settings.push(VfSetting::LinkState(match s {
                    State::Auto => VfLinkState::Auto,
                    State::Enable => VfLinkState::Enable,
                    State::Disable => VfLinkState::Disable,
                }));
            }
            if settings.is_empty() {
                bail!("nothing to set: give --mac, --vlan, --spoofchk, --trust or --state");
            }
            for s in settings {
                nic::set_vf(&dev, vf, s)?;
            }
            if crate::client::json() {
                return crate::client::print_json(
                    &serde_json::json!({"nic": dev, "vf": vf, "set": true}),
                );
            }
            say!("{dev}: vf {vf} set");
        }
        NicCmd::Sriov { dev, n, .. } => {
            nic::set_numvfs(&dev, n)?;
            if crate::client::json() {
                return crate::client::print_json(&serde_json::json!({"nic": dev, "numvfs": n}));
            }
            say!("{dev}: {n} VFs");
        }
    }
    Ok(())
}
