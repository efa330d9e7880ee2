//! The seed picture, built twice: once with the kernel's own devices
//! (macvlans on a veth whose far end is a Linux bridge, hairpin on or off)
//! and once with vepa (a host switch and an adjacent relay switch). Three
//! VMs and an outside host, each a namespace with `eth0` in 10.0.0.0/24.

use crate::{uid, Netns, Vepa};
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Kernel,
    Vepa,
    /// vepa with `--xdp`: the VMs' and the outside host's veths are AF_XDP ports.
    VepaXdp,
}

pub struct Evb {
    /// vm1, vm2, vm3, outside.
    pub hosts: Vec<Netns>,
    pub ips: Vec<String>,
    pub vepa: Option<Vepa>,
    /// The host-side port name of each VM on vepa's host switch.
    pub vm_ports: Vec<String>,
    pub uplink_port: String,
    _infra: Vec<Netns>,
}

pub const NAMES: [&str; 4] = ["vm1", "vm2", "vm3", "outside"];

impl Evb {
    /// `mode` is vepa's name for it: veb, vepa or private.
    pub fn build(backend: Backend, mode: &str, relay: bool) -> Evb {
        let id = uid();
        let hosts: Vec<Netns> = ["v1", "v2", "v3", "o"]
            .iter()
            .map(|h| Netns::new(&format!("evb{id}{h}")))
            .collect();
        let ips: Vec<String> = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.100"]
            .map(String::from)
            .to_vec();
        let vm_ports: Vec<String> = (1..=3).map(|i| format!("e{id}v{i}")).collect();
        let uplink_port = format!("e{id}up");
        let mut evb = Evb {
            hosts,
            ips,
            vepa: None,
            vm_ports,
            uplink_port,
            _infra: Vec::new(),
        };
        match backend {
            Backend::Kernel => evb.build_kernel(&id, mode, relay),
            Backend::Vepa => evb.build_vepa(&id, mode, relay, &[]),
            Backend::VepaXdp => evb.build_vepa(&id, mode, relay, &["--xdp"]),
        }
        // Every mode lets vm1 reach the outside host; once it does, the path
        // through the relay is up (a fresh Linux bridge port takes a moment).
        assert!(
            crate::wait_reachable(evb.ns(0), &evb.ips[3]),
            "{backend:?} {mode} relay={relay}: vm1 never reached the outside host"
        );
        evb
    }

    fn build_kernel(&mut self, id: &str, mode: &str, relay: bool) {
        let kmode = if mode == "veb" { "bridge" } else { mode };
        let host = Netns::new(&format!("evb{id}h"));
        let relay_ns = Netns::new(&format!("evb{id}r"));
        let (h, r) = (host.name.clone(), relay_ns.name.clone());
        crate::sh(&[
            "ip", "-n", &h, "link", "add", "lower", "type", "veth", "peer", "name", "rl", "netns",
            &r,
        ]);
        crate::sh(&["ip", "-n", &h, "link", "set", "dev", "lower", "up"]);
        for (i, vm) in self.hosts[..3].iter().enumerate() {
            let mv = format!("mv{i}");
            crate::sh(&[
                "ip", "-n", &h, "link", "add", "link", "lower", "name", &mv, "type", "macvlan",
                "mode", kmode,
            ]);
            crate::sh(&["ip", "-n", &h, "link", "set", &mv, "netns", &vm.name]);
            crate::sh(&["ip", "-n", &vm.name, "link", "set", &mv, "name", "eth0"]);
        }
        crate::sh(&["ip", "-n", &r, "link", "add", "br0", "type", "bridge"]);
        crate::sh(&["ip", "-n", &r, "link", "set", "rl", "master", "br0"]);
        crate::sh(&[
            "ip",
            "-n",
            &r,
            "link",
            "set",
            "rl",
            "type",
            "bridge_slave",
            "hairpin",
            if relay { "on" } else { "off" },
        ]);
        let out = &self.hosts[3].name;
        crate::sh(&[
            "ip", "-n", &r, "link", "add", "ro", "type", "veth", "peer", "name", "eth0", "netns",
            out,
        ]);
        crate::sh(&["ip", "-n", &r, "link", "set", "ro", "master", "br0"]);
        for l in ["rl", "ro", "br0"] {
            crate::sh(&["ip", "-n", &r, "link", "set", l, "up"]);
        }
        for (ns, ip) in self.hosts.iter().zip(&self.ips) {
            crate::sh(&[
                "ip",
                "-n",
                &ns.name,
                "addr",
                "add",
                &format!("{ip}/24"),
                "dev",
                "eth0",
            ]);
            crate::sh(&["ip", "-n", &ns.name, "link", "set", "eth0", "up"]);
        }
        self._infra = vec![host, relay_ns];
    }

    fn build_vepa(&mut self, id: &str, mode: &str, relay: bool, args: &[&str]) {
        let mut t = String::new();
        let _ = write!(
            t,
            "[[switch]]\nname = \"host\"\nmode = \"{mode}\"\n[switch.uplink]\nname = \"{up}\"\ntype = \"patch\"\npeer = \"adjacent/e{id}rh\"\n",
            up = self.uplink_port
        );
        for i in 0..3 {
            let _ = write!(
                t,
                "[[switch.port]]\nname = \"{}\"\ntype = \"veth\"\nnetns = \"{}\"\naddress = [\"{}/24\"]\n",
                self.vm_ports[i], self.hosts[i].name, self.ips[i]
            );
        }
        let _ = write!(
            t,
            "[[switch]]\nname = \"adjacent\"\nmode = \"veb\"\n[[switch.port]]\nname = \"e{id}rh\"\ntype = \"patch\"\npeer = \"host/{up}\"\nrelay = {relay}\n[[switch.port]]\nname = \"e{id}o\"\ntype = \"veth\"\nnetns = \"{o}\"\naddress = [\"{ip}/24\"]\n",
            up = self.uplink_port,
            o = self.hosts[3].name,
            ip = self.ips[3]
        );
        // The patch wire between the two switches has no device: the
        // datapath crosses it in memory.
        let mut links = self.vm_ports.clone();
        links.push(format!("e{id}o"));
        self.vepa = Some(Vepa::start_with(None, args, &t, &links));
        if !args.is_empty() {
            for l in &links {
                assert!(
                    crate::has_xdp(l),
                    "{l}: vepa {args:?} left no XDP program on it"
                );
            }
        }
    }

    pub fn ns(&self, host: usize) -> &str {
        &self.hosts[host].name
    }

    /// (namespace, address) for vm1, vm2, vm3, outside.
    pub fn endpoints(&self) -> Vec<(String, String)> {
        self.hosts
            .iter()
            .map(|h| h.name.clone())
            .zip(self.ips.iter().cloned())
            .collect()
    }

    /// Stops vepa (if this is the vepa build) and returns its counters.
    pub fn stop(&mut self) -> Option<serde_json::Value> {
        self.vepa.take().map(|v| v.stop())
    }
}

impl Drop for Evb {
    fn drop(&mut self) {
        // vepa first: it removes its devices while the namespaces still exist.
        drop(self.vepa.take());
    }
}

/// The ground truth measured on the kernel (docs/design.md §2) for this picture.
pub fn expected_reach(mode: &str, relay: bool, from: usize, to: usize) -> bool {
    let outside = from == 3 || to == 3;
    match mode {
        "veb" => true,
        "vepa" => outside || relay,
        _ => outside,
    }
}

/// A matrix as text, for assertion messages.
pub fn show(m: &[Vec<bool>]) -> String {
    show_named(&NAMES, m)
}

/// A reachability matrix as text, rows and columns named `names`.
pub fn show_named(names: &[&str], m: &[Vec<bool>]) -> String {
    let mut s = String::from("\n       ");
    for n in names {
        let _ = write!(s, " {n:>3}");
    }
    s.push('\n');
    for (a, row) in m.iter().enumerate() {
        let _ = write!(s, "{:<8}", names.get(a).copied().unwrap_or("?"));
        for (b, ok) in row.iter().enumerate() {
            s.push_str(if a == b {
                "  · "
            } else if *ok {
                "  ✓ "
            } else {
                "  ✗ "
            });
        }
        s.push('\n');
    }
    s
}
