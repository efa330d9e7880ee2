//! `bond`: a switch's uplink over several members, each opened by its own
//! kind's driver (an existing interface, a veth pair vepa makes), joined
//! into one vepa port ([`vepa_io::BondPort`]) that runs LACP, ARP
//! monitoring and failover on its own thread.

use super::driver as member_driver;
use super::driver::{PortDriver, PortMaker, PortOptions};
use crate::state::HostState;
use anyhow::{Context, Result};
use std::sync::Arc;
use std::time::Duration;
use vepa_api::topology::{BondModeName, LacpMode, LacpRate, PortSpec, SwitchSpec};
use vepa_dataplane::bond::BondMode;
use vepa_dataplane::lacp::LacpConfig;
use vepa_io::{BondPort, BondSetup, Port};
use vepa_packet::MacAddr;

pub struct Bond;

/// Default milliseconds between ARP monitoring's requests.
pub const ARP_INTERVAL_MS: u64 = 200;
/// The LACP system priority vepa announces (802.1AX's default).
const SYSTEM_PRIORITY: u16 = 32768;

fn at_member(at: &str, m: &PortSpec) -> String {
    format!("{at}, member '{}'", m.name)
}

impl PortDriver for Bond {
    fn validate(&self, at: &str, p: &PortSpec) -> Result<()> {
        for m in p.member_ports() {
            member_driver(&m).validate(&at_member(at, &m), &m)?;
        }
        Ok(())
    }

    fn create(
        &self,
        maker: &mut PortMaker<'_>,
        state: &mut HostState,
        s: &SwitchSpec,
        p: &PortSpec,
    ) -> Result<()> {
        for m in p.member_ports() {
            maker
                .ensure_netns(state, &m)
                .and_then(|()| member_driver(&m).create(maker, state, s, &m))
                .with_context(|| format!("member '{}'", m.name))?;
        }
        Ok(())
    }

    fn open(&self, opts: PortOptions, s: &SwitchSpec, p: &PortSpec) -> Result<Arc<dyn Port>> {
        let mut members = Vec::new();
        for m in p.member_ports() {
            let port = member_driver(&m)
                .open(opts, s, &m)
                .with_context(|| format!("member '{}'", m.name))?;
            members.push((m.name.clone(), m.host_ifname().to_string(), port));
        }
        bond_port(p, members)
    }

    fn adopt(&self, p: &PortSpec, opts: PortOptions) -> Option<Result<Arc<dyn Port>>> {
        let mut members = Vec::new();
        for m in p.member_ports() {
            let port = match member_driver(&m).adopt(&m, opts) {
                Some(r) => r,
                // An interface vepa did not make is opened as it is.
                None => super::driver::packet_port(m.host_ifname(), m.offload(), opts),
            };
            match port {
                Ok(port) => members.push((m.name.clone(), m.host_ifname().to_string(), port)),
                Err(e) => return Some(Err(e.context(format!("member '{}'", m.name)))),
            }
        }
        Some(bond_port(p, members))
    }

    fn owns_devices(&self) -> bool {
        true
    }

    fn marked(&self, p: &PortSpec, _made: bool) -> bool {
        !p.made_ifnames().is_empty()
    }
}

/// The bond over its opened members.
fn bond_port(p: &PortSpec, members: Vec<(String, String, Arc<dyn Port>)>) -> Result<Arc<dyn Port>> {
    let b = p
        .bond
        .clone()
        .unwrap_or_else(|| vepa_api::topology::BondSpec {
            mode: BondModeName::default(),
            lacp: LacpMode::default(),
            lacp_rate: LacpRate::default(),
            arp_targets: Vec::new(),
            arp_interval_ms: None,
            arp_source: None,
            members: Vec::new(),
        });
    // The bond's system ID, stable across restarts.
    let mut h: u32 = 0x811c_9dc5;
    for (_, ifname, _) in &members {
        for byte in ifname.bytes().chain([0]) {
            h ^= u32::from(byte);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    // The first member's own MAC when it has one: unique to this host
    // (a NIC's, or the random one of a veth vepa made).
    let mac = members
        .first()
        .and_then(|(_, ifname, _)| vepa_io::bond::interface_mac(ifname))
        .unwrap_or_else(|| MacAddr::local_from_seed(h));
    let lacp = (b.lacp != LacpMode::Off).then_some(LacpConfig {
        system: mac,
        system_priority: SYSTEM_PRIORITY,
        key: 1,
        active: b.lacp == LacpMode::Active,
        fast: b.lacp_rate == LacpRate::Fast,
    });
    let port = BondPort::open(BondSetup {
        name: p.name.clone(),
        mode: match b.mode {
            BondModeName::ActiveBackup => BondMode::ActiveBackup,
            BondModeName::BalanceTcp => BondMode::BalanceTcp,
            BondModeName::BalanceSlb => BondMode::BalanceSlb,
        },
        lacp,
        arp_targets: b
            .arp_targets
            .iter()
            .filter_map(|t| t.parse().ok())
            .collect(),
        arp_interval: Duration::from_millis(b.arp_interval_ms.unwrap_or(ARP_INTERVAL_MS)),
        arp_source: b
            .arp_source
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
        mac,
        members,
    })
    .context("open the bond")?;
    Ok(Arc::new(port))
}
