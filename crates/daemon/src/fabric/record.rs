//! What a host publishes and how the others' records become each local
//! fabric port's [`Fabric`]: pure functions, tested without etcd.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use vepa_api::topology::{ModeName, PortKind, Topology};
use vepa_api::wire::{FdbRow, HostRecord, IpMac, NetworkRecord};
use vepa_io::Fabric;
use vepa_packet::MacAddr;

/// A fabric port of this host, as the topology has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFabricPort {
    pub switch: String,
    pub port: String,
    /// Its VNIs, each with the VLAN it carries on a trunk (`vlan_vni`).
    pub vnis: Vec<(Option<u16>, u32)>,
    pub vtep: IpAddr,
    pub dstport: u16,
    pub mode: ModeName,
    /// The port is its switch's uplink (frames from members are from VMs).
    pub uplink: bool,
}

/// Every `fabric = true` VXLAN port of the topology, its VTEP the port's
/// `local` or the daemon's underlay address.
pub fn fabric_ports(topo: &Topology, underlay: IpAddr) -> Vec<LocalFabricPort> {
    let mut out = Vec::new();
    for s in &topo.switches {
        let uplink = s.uplink.iter().map(|p| (p, true));
        for (p, is_uplink) in uplink.chain(s.ports.iter().map(|p| (p, false))) {
            if p.kind != PortKind::Vxlan || !p.fabric {
                continue;
            }
            let vnis: Vec<(Option<u16>, u32)> = match p.vni {
                Some(vni) => vec![(None, vni)],
                None => p
                    .vlan_vnis()
                    .into_iter()
                    .map(|(v, n)| (Some(v), n))
                    .collect(),
            };
            let vtep = p
                .local
                .as_deref()
                .and_then(|l| l.parse().ok())
                .unwrap_or(underlay);
            out.push(LocalFabricPort {
                switch: s.name.clone(),
                port: p.name.clone(),
                vnis,
                vtep,
                dstport: p.dstport.unwrap_or(vepa_io::VXLAN_PORT),
                mode: s.mode,
                uplink: is_uplink,
            });
        }
    }
    out
}

pub fn mode_name(m: ModeName) -> &'static str {
    match m {
        ModeName::Veb => "veb",
        ModeName::Vepa => "vepa",
        ModeName::Private => "private",
        ModeName::Passthru => "passthru",
        ModeName::Source => "source",
    }
}

/// Addresses announced in ARP, with their MACs.
pub type ArpEntries = Vec<(Ipv4Addr, MacAddr)>;

/// Where the daemon reads what the running switches know.
pub struct Learned<'a> {
    /// A switch's FDB.
    pub fdb: &'a dyn Fn(&str) -> Vec<FdbRow>,
    /// The addresses a fabric port (switch, port) saw its VMs announce in ARP.
    pub arp: &'a dyn Fn(&str, &str) -> ArpEntries,
}

/// This host's record: one network per VNI of each fabric port, with the
/// MACs its switch learned (or was told) behind ports that are not
/// tunnels (in the VNI's VLAN, on a trunk), and the addresses those MACs
/// announced in ARP.
pub fn local_record(
    host: &str,
    underlay: IpAddr,
    ports: &[LocalFabricPort],
    topo: &Topology,
    learned: &Learned,
) -> HostRecord {
    let tunnels: HashSet<(&str, &str)> = topo
        .ports()
        .filter(|(_, _, p)| p.kind == PortKind::Vxlan)
        .map(|(_, s, p)| (s.name.as_str(), p.name.as_str()))
        .collect();
    let networks = ports
        .iter()
        .flat_map(|f| f.vnis.iter().map(move |v| (f, *v)))
        .map(|(f, (vlan, vni))| {
            let mut macs: Vec<_> = (learned.fdb)(&f.switch)
                .into_iter()
                .filter(|r| !tunnels.contains(&(f.switch.as_str(), r.port.as_str())))
                .filter(|r| vlan.is_none_or(|v| r.vlan == v))
                .map(|r| r.mac)
                .collect();
            macs.sort_by_key(|m| m.0);
            macs.dedup();
            // Only addresses of MACs still behind this host's ports.
            let ips = (learned.arp)(&f.switch, &f.port)
                .into_iter()
                .filter(|(_, m)| macs.binary_search_by_key(&m.0, |x| x.0).is_ok())
                .map(|(ip, mac)| IpMac { ip, mac })
                .collect();
            NetworkRecord {
                vni,
                switch: f.switch.clone(),
                mode: mode_name(f.mode).to_string(),
                vtep: f.vtep,
                dstport: f.dstport,
                macs,
                ips,
            }
        })
        .collect();
    HostRecord {
        host: host.to_string(),
        underlay,
        version: env!("CARGO_PKG_VERSION").to_string(),
        networks,
    }
}

/// The most one host's record may weigh (its JSON): a rack of VMs needs
/// a small part of it.
pub const MAX_RECORD: usize = 1 << 20;
const MAX_NETWORKS: usize = 4096;
/// MACs, or addresses, of one network of one host.
const MAX_ENTRIES: usize = 65536;

fn unicast(ip: IpAddr) -> bool {
    !(ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_loopback()
        || ip == IpAddr::V4(Ipv4Addr::BROADCAST))
}

/// Why another host's record, found under key `id`, is not taken: every
/// field a fabric port would use is checked before it steers anything.
pub fn check_record(id: &str, r: &HostRecord) -> Result<(), String> {
    if r.host != id {
        return Err(format!("names host '{}' under key '{id}'", r.host));
    }
    if !unicast(r.underlay) {
        return Err(format!("underlay {} is not a unicast address", r.underlay));
    }
    if r.networks.len() > MAX_NETWORKS {
        return Err(format!(
            "{} networks (at most {MAX_NETWORKS})",
            r.networks.len()
        ));
    }
    for n in &r.networks {
        let at = format!("network of VNI {}", n.vni);
        if !(1..=0xff_ffff).contains(&n.vni) {
            return Err(format!("VNI {} is not 1 to 16777215", n.vni));
        }
        if !unicast(n.vtep) || n.vtep.is_ipv4() != r.underlay.is_ipv4() {
            return Err(format!(
                "{at}: VTEP {} is not a unicast address of the underlay's family ({})",
                n.vtep, r.underlay
            ));
        }
        if n.dstport == 0 {
            return Err(format!("{at}: UDP port 0"));
        }
        if n.macs.len() > MAX_ENTRIES || n.ips.len() > MAX_ENTRIES {
            return Err(format!("{at}: more than {MAX_ENTRIES} MACs or addresses"));
        }
        if let Some(m) = n.macs.iter().find(|m| m.is_multicast() || m.is_zero()) {
            return Err(format!("{at}: MAC {m} is not a unicast MAC"));
        }
        if let Some(a) = n.ips.iter().find(|a| !unicast(IpAddr::V4(a.ip))) {
            return Err(format!("{at}: address {} is not unicast", a.ip));
        }
    }
    Ok(())
}

/// The others' records as the fabric may use them.
#[derive(Debug, Default, PartialEq)]
pub struct Admitted {
    /// Every host taken (this one's own record as it is).
    pub hosts: BTreeMap<String, HostRecord>,
    /// Hosts whose record is refused whole, with why.
    pub refused: BTreeMap<String, String>,
    /// MACs other hosts claim that are this host's own VMs' (dropped from
    /// their records, with the addresses of those MACs).
    pub claims_refused: u64,
}

/// A record as read from key `id`: bounded, parsed and checked once, when
/// it arrives (what [`admit`] then weighs against the others).
pub fn read_record(id: &str, bytes: &[u8]) -> Result<HostRecord, String> {
    if bytes.len() > MAX_RECORD {
        return Err(format!("{} bytes (at most {MAX_RECORD})", bytes.len()));
    }
    let r = serde_json::from_slice::<HostRecord>(bytes).map_err(|e| format!("unreadable: {e}"))?;
    check_record(id, &r)?;
    Ok(r)
}

/// Every record under the hosts prefix: its key's creation revision and
/// what [`read_record`] made of it.
pub type Found = BTreeMap<String, (i64, Result<HostRecord, String>)>;

/// Takes the records found: each must have read well and may not claim a
/// VTEP this host or an earlier host (by the key's creation) holds; a
/// claim of one of this host's own VMs' MACs (from `mine`, this host's
/// record) is dropped. Linear in the records' size.
pub fn admit(me: &str, mine: &HostRecord, found: &Found) -> Admitted {
    let mut out = Admitted::default();
    let mut vteps: HashMap<IpAddr, &str> = HashMap::new();
    vteps.insert(mine.underlay, me);
    for n in &mine.networks {
        vteps.insert(n.vtep, me);
    }
    let own_macs: HashSet<MacAddr> = mine
        .networks
        .iter()
        .flat_map(|n| n.macs.iter().copied())
        .collect();
    let mut order: Vec<_> = found.iter().collect();
    order.sort_by_key(|(id, (rev, _))| (*rev, *id));
    for (id, (_, read)) in order {
        let mut r = match read {
            Ok(r) if id == me => {
                out.hosts.insert(id.clone(), r.clone());
                continue;
            }
            Ok(r) => r.clone(),
            Err(why) => {
                out.refused.insert(id.clone(), why.clone());
                continue;
            }
        };
        let held = std::iter::once(r.underlay)
            .chain(r.networks.iter().map(|n| n.vtep))
            .find_map(|v| vteps.get(&v).filter(|h| **h != id).map(|h| (v, *h)));
        if let Some((v, holder)) = held {
            let whose = if holder == me {
                "this host's".to_string()
            } else {
                format!("host '{holder}''s")
            };
            out.refused
                .insert(id.to_string(), format!("claims VTEP {v}, {whose}"));
            continue;
        }
        vteps.insert(r.underlay, id);
        for n in &mut r.networks {
            vteps.insert(n.vtep, id);
            let before = n.macs.len();
            n.macs.retain(|m| !own_macs.contains(m));
            if n.macs.len() != before {
                out.claims_refused += (before - n.macs.len()) as u64;
                let kept: HashSet<MacAddr> = n.macs.iter().copied().collect();
                n.ips.retain(|a| kept.contains(&a.mac));
            }
        }
        out.hosts.insert(id.to_string(), r);
    }
    out
}

/// A local fabric port's view of the others: for each of its VNIs, the
/// VTEPs of every other host carrying it on the port's UDP port and
/// address family (where that VNI's floods go), and their MACs.
pub fn program(port: &LocalFabricPort, me: &str, hosts: &BTreeMap<String, HostRecord>) -> Fabric {
    let mut f = Fabric {
        isolate: port.uplink && port.mode == ModeName::Private,
        ..Fabric::default()
    };
    for (_, vni) in &port.vnis {
        f.flood.insert(*vni, Vec::new());
    }
    // An address or MAC two hosts claim (a VM that moved, while the old
    // host still lists it) is used from neither: frames flood and the
    // port learns where it really is.
    let mut ips: HashMap<Ipv4Addr, Option<MacAddr>> = HashMap::new();
    let mut macs: HashMap<MacAddr, Option<IpAddr>> = HashMap::new();
    let mut flood_seen: HashSet<(u32, IpAddr)> = HashSet::new();
    let mut members: HashSet<IpAddr> = HashSet::new();
    for (id, h) in hosts {
        if id == me {
            continue;
        }
        for n in &h.networks {
            let Some(flood) = f.flood.get_mut(&n.vni) else {
                continue;
            };
            if n.dstport != port.dstport
                || n.vtep.is_ipv4() != port.vtep.is_ipv4()
                || n.vtep == port.vtep
            {
                continue;
            }
            if flood_seen.insert((n.vni, n.vtep)) {
                flood.push(n.vtep);
            }
            members.insert(n.vtep);
            for m in &n.macs {
                let e = macs.entry(*m).or_insert(Some(n.vtep));
                if *e != Some(n.vtep) {
                    *e = None;
                }
            }
            let listed: HashSet<&MacAddr> = n.macs.iter().collect();
            for a in n.ips.iter().filter(|a| listed.contains(&a.mac)) {
                let e = ips.entry(a.ip).or_insert(Some(a.mac));
                if *e != Some(a.mac) {
                    *e = None;
                }
            }
        }
    }
    f.macs = macs
        .into_iter()
        .filter_map(|(m, v)| v.map(|v| (m, v)))
        .collect();
    f.ips = ips
        .into_iter()
        .filter_map(|(i, m)| m.filter(|m| f.macs.contains_key(m)).map(|m| (i, m)))
        .collect();
    for v in f.flood.values_mut() {
        v.sort();
    }
    f.members = members.into_iter().collect();
    f.members.sort();
    f
}

/// The host ID in a key `PREFIX/hosts/ID`.
pub fn host_of_key<'k>(prefix: &str, key: &'k str) -> Option<&'k str> {
    key.strip_prefix(prefix)?
        .strip_prefix("/hosts/")
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

pub fn host_key(prefix: &str, host: &str) -> String {
    format!("{prefix}/hosts/{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(vni: u32, vtep: &str, macs: &[[u8; 6]]) -> NetworkRecord {
        NetworkRecord {
            vni,
            switch: "s".into(),
            mode: "vepa".into(),
            vtep: vtep.parse().unwrap(),
            dstport: 4789,
            macs: macs.iter().map(|m| MacAddr(*m)).collect(),
            ips: macs
                .iter()
                .enumerate()
                .map(|(i, m)| IpMac {
                    ip: Ipv4Addr::new(10, 0, 0, i as u8 + 1),
                    mac: MacAddr(*m),
                })
                .collect(),
        }
    }

    fn host(id: &str, nets: Vec<NetworkRecord>) -> (String, HostRecord) {
        let underlay = nets[0].vtep;
        (
            id.into(),
            HostRecord {
                host: id.into(),
                underlay,
                version: "t".into(),
                networks: nets,
            },
        )
    }

    fn port(mode: ModeName, uplink: bool) -> LocalFabricPort {
        LocalFabricPort {
            switch: "s".into(),
            port: "fab".into(),
            vnis: vec![(None, 100)],
            vtep: "192.0.2.1".parse().unwrap(),
            dstport: 4789,
            mode,
            uplink,
        }
    }

    #[test]
    fn members_are_the_other_hosts_with_the_vni() {
        let hosts: BTreeMap<_, _> = [
            host("a", vec![net(100, "192.0.2.1", &[[2, 0, 0, 0, 0, 1]])]),
            host("b", vec![net(100, "192.0.2.2", &[[2, 0, 0, 0, 0, 2]])]),
            host(
                "c",
                vec![
                    net(200, "192.0.2.3", &[[2, 0, 0, 0, 0, 3]]),
                    net(100, "192.0.2.3", &[]),
                ],
            ),
            host("d", vec![net(200, "192.0.2.4", &[])]),
            host("e", vec![net(100, "2001:db8::5", &[])]),
        ]
        .into_iter()
        .collect();
        let f = program(&port(ModeName::Vepa, true), "a", &hosts);
        let ips: Vec<IpAddr> = ["192.0.2.2", "192.0.2.3"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(f.members, ips);
        assert_eq!(f.macs.len(), 1, "only VNI 100's MACs: {:?}", f.macs);
        assert_eq!(f.macs[&MacAddr([2, 0, 0, 0, 0, 2])], ips[0]);
        assert_eq!(
            f.ips.get(&Ipv4Addr::new(10, 0, 0, 1)),
            Some(&MacAddr([2, 0, 0, 0, 0, 2]))
        );
        assert!(!f.isolate);
        assert_eq!(f.flood[&100], ips);
        // A trunk port with VNIs 100 and 200: each VNI floods to its own hosts.
        let mut trunk = port(ModeName::Veb, true);
        trunk.vnis = vec![(Some(10), 100), (Some(20), 200)];
        let f = program(&trunk, "a", &hosts);
        let d: IpAddr = "192.0.2.4".parse().unwrap();
        assert_eq!(f.flood[&200], vec![ips[1], d]);
        assert_eq!(f.flood[&100], ips);
        assert_eq!(f.members, vec![ips[0], ips[1], d]);
    }

    #[test]
    fn what_two_hosts_claim_is_used_from_neither() {
        let mac = [2, 0, 0, 0, 0, 7];
        let hosts: BTreeMap<_, _> = [
            host("b", vec![net(100, "192.0.2.2", &[mac, [2, 0, 0, 0, 0, 8]])]),
            host("c", vec![net(100, "192.0.2.3", &[mac])]),
        ]
        .into_iter()
        .collect();
        let f = program(&port(ModeName::Veb, true), "a", &hosts);
        assert!(!f.macs.contains_key(&MacAddr(mac)), "{:?}", f.macs);
        assert!(f.macs.contains_key(&MacAddr([2, 0, 0, 0, 0, 8])));
        // 10.0.0.1 is claimed by b and c with the same (disputed) MAC: dropped.
        assert!(
            !f.ips.contains_key(&Ipv4Addr::new(10, 0, 0, 1)),
            "{:?}",
            f.ips
        );
        assert_eq!(
            f.ips.get(&Ipv4Addr::new(10, 0, 0, 2)),
            Some(&MacAddr([2, 0, 0, 0, 0, 8]))
        );
    }

    #[test]
    fn a_private_uplink_isolates_members() {
        let hosts = BTreeMap::new();
        assert!(program(&port(ModeName::Private, true), "a", &hosts).isolate);
        assert!(!program(&port(ModeName::Private, false), "a", &hosts).isolate);
        assert!(!program(&port(ModeName::Veb, true), "a", &hosts).isolate);
    }

    fn raw(hosts: &[(&str, i64, &HostRecord)]) -> Found {
        hosts
            .iter()
            .map(|(id, rev, r)| {
                let bytes = serde_json::to_vec(r).unwrap();
                (id.to_string(), (*rev, read_record(id, &bytes)))
            })
            .collect()
    }

    /// Records are checked field by field; a VTEP belongs to whoever held
    /// it first (this host always); claims of this host's VMs are dropped.
    #[test]
    fn only_well_formed_records_that_claim_nothing_taken_are_admitted() {
        let mine = host("me", vec![net(100, "192.0.2.1", &[[2, 0, 0, 0, 0, 1]])]).1;
        let b = host("b", vec![net(100, "192.0.2.2", &[[2, 0, 0, 0, 0, 2]])]).1;
        let late = host("late", vec![net(100, "192.0.2.2", &[])]).1;
        let thief = host("thief", vec![net(100, "192.0.2.1", &[])]).1;
        let greedy = host(
            "greedy",
            vec![net(
                100,
                "192.0.2.9",
                &[[2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 9]],
            )],
        )
        .1;
        let mut bad_vni = host("badvni", vec![net(100, "192.0.2.5", &[])]).1;
        bad_vni.networks[0].vni = 1 << 24;
        let mut bad_mac = host("badmac", vec![net(100, "192.0.2.6", &[[1, 0, 0, 0, 0, 1]])]).1;
        bad_mac.networks[0].ips.clear();
        let mut v6 = host("v6", vec![net(100, "192.0.2.7", &[])]).1;
        v6.networks[0].vtep = "2001:db8::7".parse().unwrap();
        let mut liar = host("liar", vec![net(100, "192.0.2.8", &[])]).1;
        liar.host = "b".into();
        let a = admit(
            "me",
            &mine,
            &raw(&[
                ("me", 1, &mine),
                ("b", 2, &b),
                ("late", 3, &late),
                ("thief", 1, &thief),
                ("greedy", 4, &greedy),
                ("badvni", 5, &bad_vni),
                ("badmac", 6, &bad_mac),
                ("v6", 7, &v6),
                ("liar", 8, &liar),
            ]),
        );
        let taken: Vec<&str> = a.hosts.keys().map(String::as_str).collect();
        assert_eq!(taken, ["b", "greedy", "me"]);
        assert!(a.refused["late"].contains("host 'b''s"), "{:?}", a.refused);
        assert!(
            a.refused["thief"].contains("this host's"),
            "{:?}",
            a.refused
        );
        assert!(a.refused["badvni"].contains("VNI"));
        assert!(a.refused["badmac"].contains("MAC"));
        assert!(a.refused["v6"].contains("family"));
        assert!(a.refused["liar"].contains("names host 'b'"));
        assert_eq!(a.claims_refused, 1);
        assert_eq!(
            a.hosts["greedy"].networks[0].macs,
            vec![MacAddr([2, 0, 0, 0, 0, 9])]
        );
        assert_eq!(a.hosts["greedy"].networks[0].ips.len(), 1);
        // Oversized and unreadable records are refused unread.
        let mut r = raw(&[("me", 1, &mine)]);
        r.insert(
            "big".into(),
            (2, read_record("big", &vec![b' '; MAX_RECORD + 1])),
        );
        r.insert("junk".into(), (3, read_record("junk", b"{")));
        let a = admit("me", &mine, &r);
        assert!(a.refused["big"].contains("bytes"));
        assert!(a.refused["junk"].contains("unreadable"));
    }

    #[test]
    fn keys_name_hosts() {
        assert_eq!(host_of_key("/vepa", "/vepa/hosts/h1"), Some("h1"));
        assert_eq!(host_of_key("/vepa", "/vepa/hosts/"), None);
        assert_eq!(host_of_key("/vepa", "/vepa/hosts/a/b"), None);
        assert_eq!(host_of_key("/vepa", "/other/hosts/h1"), None);
        assert_eq!(host_key("/vepa", "h1"), "/vepa/hosts/h1");
    }
}
