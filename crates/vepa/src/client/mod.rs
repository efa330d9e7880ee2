//! The CLI commands that talk to a running daemon: `switch`, `port`,
//! `fdb`, `stats`, `apply`, `export`, `capture` (and, in their modules,
//! `flow`, `group`, `router`, `route`, `acl`, `conntrack`).

pub mod acls;
pub mod flows;
pub mod graph;
pub mod http;
pub mod ipfix;
pub mod link;
pub mod mirror;
mod pcapfile;
pub mod routers;
mod show;
pub mod top;
pub mod trace;
pub mod vm;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use http::Client;
use hyper::Method;
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::PathBuf;
use vepa_api::topology::{Relay, RelayRequired, Topology};
use vepa_api::wire::{ApplyRequest, ApplyResult, FdbFlushed, FdbRow, MdbRow, PortView, Stats};
use vepa_packet::MacAddr;

#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum Output {
    #[default]
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct OutputArg {
    /// Output format (-j/--json, before or after the command, is -o json
    /// for every command).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Table)]
    format: Output,
}

impl OutputArg {
    /// The format asked for: this command's `-o`, or JSON when `-j` was given.
    pub fn output(&self) -> Output {
        if json() {
            Output::Json
        } else {
            self.format
        }
    }
}

static JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `-j/--json`: every command answers in JSON, and nothing else goes to
/// stdout (the text `say!` would print is left out).
pub fn set_json(on: bool) {
    JSON.store(on, std::sync::atomic::Ordering::Relaxed);
}

pub fn json() -> bool {
    JSON.load(std::sync::atomic::Ordering::Relaxed)
}

static PRINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the command printed its JSON answer already (a command may
/// answer and still fail, as `relay probe` does when nothing reflects).
pub fn printed() -> bool {
    PRINTED.load(std::sync::atomic::Ordering::Relaxed)
}

/// A switch's port mode (the Linux macvlan modes).
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Mode {
    /// Local switching between the switch's ports (kernel: bridge).
    #[value(alias = "bridge")]
    Veb,
    /// Every frame to the uplink; VM to VM only if the adjacent bridge reflects it.
    Vepa,
    /// To the uplink only, never to another local VM.
    Private,
    /// One VM owns the uplink.
    Passthru,
    /// Copies of frames from the MACs on the port's allow list.
    Source,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Veb => "veb",
            Mode::Vepa => "vepa",
            Mode::Private => "private",
            Mode::Passthru => "passthru",
            Mode::Source => "source",
        }
    }
}

/// A port's mode: one of the switch modes, or `default` (the switch's).
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum PortModeArg {
    /// Local switching between the switch's ports (kernel: bridge).
    #[value(alias = "bridge")]
    Veb,
    /// Every frame to the uplink; VM to VM only if the adjacent bridge reflects it.
    Vepa,
    /// To the uplink only, never to another local VM.
    Private,
    /// One VM owns the uplink.
    Passthru,
    /// Copies of frames from the MACs on the port's allow list.
    Source,
    /// The switch's mode (on `port set`: drop the port's own).
    Default,
}

impl PortModeArg {
    fn as_str(self) -> &'static str {
        match self {
            PortModeArg::Veb => "veb",
            PortModeArg::Vepa => "vepa",
            PortModeArg::Private => "private",
            PortModeArg::Passthru => "passthru",
            PortModeArg::Source => "source",
            PortModeArg::Default => "default",
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum SwitchCmd {
    /// Add a switch (no ports yet)
    Add {
        /// The switch's name.
        name: String,
        /// Mode of the ports that do not set their own (an ipvlan switch's
        /// flag: bridge, private or vepa).
        #[arg(long, value_enum)]
        mode: Option<Mode>,
        /// FDB ageing time (default 300).
        #[arg(long, value_name = "SECS")]
        ageing_secs: Option<u64>,
        /// macvlan (default: ports have MACs of their own, learned) or
        /// ipvlan (ports share the uplink's MAC and are told apart by
        /// their addresses, for a network that accepts one MAC per port).
        #[arg(long, value_name = "KIND", value_parser = ["macvlan", "ipvlan"])]
        kind: Option<String>,
        /// An ipvlan switch's mode: l2 (default; ports see broadcast and
        /// multicast), l3 (none; unicast by address) or l3s (as l3; the
        /// ports' access lists filter, where the kernel runs netfilter).
        #[arg(long, value_name = "MODE", value_parser = ["l2", "l3", "l3s"])]
        ipvlan_mode: Option<String>,
        #[command(flatten)]
        qbg: QbgFields,
    },
    /// Remove a switch and every port on it
    Del {
        /// The switch's name.
        name: String,
    },
    /// Change a switch's default mode, ageing time or 802.1Qbg settings, at run time
    Set {
        /// The switch's name.
        name: String,
        /// The mode of the ports that do not set their own.
        #[arg(long, value_enum)]
        mode: Option<Mode>,
        /// FDB ageing time in seconds.
        #[arg(long, value_name = "SECS")]
        ageing_secs: Option<u64>,
        #[command(flatten)]
        qbg: QbgFields,
    },
    /// List switches (or one)
    Show {
        /// The switch's name.
        name: Option<String>,
        #[command(flatten)]
        out: OutputArg,
    },
}

/// How a switch deals with its adjacent bridge (802.1Qbg).
#[derive(Args, Debug)]
pub struct QbgFields {
    /// LLDP (with 802.1Qbg's EVB TLV) on the uplink and relay ports (default on).
    #[arg(long, value_name = "on|off", value_parser = on_off())]
    lldp: Option<bool>,
    /// When the adjacent bridge does not reflect frames (EVB refuses relay, or the probe does not come back): warn (log and show it; default), fallback-veb (switch frames between vepa ports locally until it does), ignore.
    #[arg(long, value_name = "POLICY", value_parser = relay_required())]
    relay_required: Option<RelayRequired>,
}

impl QbgFields {
    fn is_empty(&self) -> bool {
        self.lldp.is_none() && self.relay_required.is_none()
    }

    fn put(&self, m: &mut Map<String, Value>) {
        put(m, "lldp", self.lldp.map(Value::from));
        put(m, "relay_required", self.relay_required.map(|r| json!(r)));
    }
}

fn relay_required() -> impl clap::builder::TypedValueParser<Value = RelayRequired> {
    use clap::builder::{PossibleValuesParser, TypedValueParser as _};
    PossibleValuesParser::new(["warn", "fallback-veb", "ignore"]).map(|s| match s.as_str() {
        "fallback-veb" => RelayRequired::FallbackVeb,
        "ignore" => RelayRequired::Ignore,
        _ => RelayRequired::Warn,
    })
}

fn relay_arg() -> impl clap::builder::TypedValueParser<Value = Relay> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser as _};
    PossibleValuesParser::new([
        PossibleValue::new("on").help("always reflect (hairpin)"),
        PossibleValue::new("off").help("never"),
        PossibleValue::new("evb").help("while the station behind the port asks (EVB TLV)"),
    ])
    .map(|s| match s.as_str() {
        "on" => Relay::On,
        "evb" => Relay::Evb,
        _ => Relay::Off,
    })
}

/// A port's type, as `--type` takes it (listed in `--help`).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PortType {
    /// vepa makes a veth pair and moves one end into --netns.
    Veth,
    /// A TAP device vepa owns (a VM's; or a container's with --netns).
    Tap,
    /// An interface that exists already (a NIC, a veth end).
    Netdev,
    /// A wire to another switch's port (--peer SWITCH/PORT).
    Patch,
    /// A vhost-user socket QEMU connects to.
    VhostUser,
}

impl PortType {
    fn as_str(self) -> &'static str {
        match self {
            PortType::Veth => "veth",
            PortType::Tap => "tap",
            PortType::Netdev => "netdev",
            PortType::Patch => "patch",
            PortType::VhostUser => "vhost-user",
        }
    }
}

#[derive(Args, Debug)]
pub struct PortFields {
    /// Mode of its own (`default` on set: the switch's again).
    #[arg(long, value_enum)]
    mode: Option<PortModeArg>,
    /// Reflective relay (hairpin): on, off, or evb (on only while the 802.1Qbg station behind the port asks for it in its EVB TLV).
    #[arg(long, value_parser = relay_arg())]
    relay: Option<Relay>,
    /// The VM's identity for 802.1Qbg's VDP, TYPE_ID:VERSION:UUID (e.g. 4660:1:a1b2c3d4-e5f6-1122-3344-556677889900), or none: the switch's uplink associates it with the adjacent bridge.
    #[arg(long, value_name = "TYPE:VER:UUID|none", value_parser = vsi_arg)]
    vsi: Option<Value>,
    /// On a relay port: only sources the station associated over VDP may send (on|off).
    #[arg(long, value_name = "on|off", value_parser = on_off())]
    vdp_enforce: Option<bool>,
    /// Access VLAN (untagged), 1-4094.
    #[arg(long, value_name = "VID")]
    vlan: Option<u16>,
    /// Trunk: the tagged VLANs allowed, comma-separated.
    #[arg(long, value_name = "VIDS", value_delimiter = ',')]
    trunk: Option<Vec<u16>>,
    /// Trunk: the VLAN of untagged frames.
    #[arg(long, value_name = "VID")]
    native_vlan: Option<u16>,
    /// Most MACs learned on this port (default 1024 on VM ports, none on the uplink and tunnels); a source beyond it is forwarded, not learned.
    #[arg(long, value_name = "N")]
    mac_limit: Option<u32>,
    /// Storm control: KIND=RATE with KIND broadcast, multicast or unknown_unicast and RATE like 500pps, or off (repeat). VM ports default to broadcast=1000pps, multicast=10000pps, unknown_unicast=10000pps.
    #[arg(long = "storm", value_name = "KIND=RATE", value_parser = storm_kind)]
    storm: Vec<(String, String)>,
    /// BPDU guard: a spanning-tree BPDU from the port blocks it for five minutes (off lifts a block).
    #[arg(long, value_name = "on|off", value_parser = on_off())]
    bpdu_guard: Option<bool>,
    /// For `source` ports: a MAC whose frames this port gets copies of (repeat).
    #[arg(long = "source-mac", value_name = "MAC")]
    source_macs: Vec<MacAddr>,
    /// Anti-spoofing: only the port's MACs and addresses as sources, no router advertisements or DHCP server replies.
    #[arg(long, value_name = "on|off", value_parser = on_off())]
    guard: Option<bool>,
    /// With --guard: a MAC the port may send from (repeat; default its --mac).
    #[arg(long = "allowed-mac", value_name = "MAC")]
    allowed_macs: Vec<MacAddr>,
    /// With --guard: an address or prefix it may send from (repeat; default its --address).
    #[arg(long = "allowed-ip", value_name = "IP[/LEN]")]
    allowed_ips: Vec<String>,
    /// On an ipvlan switch: the port also owns the addresses it sends from (up to 64, aged).
    #[arg(long, value_name = "on|off", value_parser = on_off())]
    learn_addresses: Option<bool>,
}

/// `--vsi TYPE_ID:VERSION:UUID` as the API's `vsi` (`none`: null); the
/// daemon checks the values and names the field.
fn vsi_arg(s: &str) -> Result<Value, String> {
    if s == "none" {
        return Ok(Value::Null);
    }
    let mut it = s.splitn(3, ':');
    let (Some(t), Some(v), Some(uuid)) = (it.next(), it.next(), it.next()) else {
        return Err(format!("'{s}': expected TYPE_ID:VERSION:UUID or none"));
    };
    let type_id: u32 = t
        .parse()
        .map_err(|_| format!("'{t}': the VSI type ID is a number, 0 to 16777215"))?;
    let version: u8 = v
        .parse()
        .map_err(|_| format!("'{v}': the VSI type version is a number, 0 to 255"))?;
    Ok(json!({ "type_id": type_id, "version": version, "uuid": uuid }))
}

/// `on` or `off` (`true`/`yes`, `false`/`no` as aliases), listed in `--help`.
pub(crate) fn on_off() -> impl clap::builder::TypedValueParser<Value = bool> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser as _};
    PossibleValuesParser::new([
        PossibleValue::new("on").aliases(["true", "yes"]),
        PossibleValue::new("off").aliases(["false", "no"]),
    ])
    .map(|s| s == "on" || s == "true" || s == "yes")
}

/// `KIND=RATE` for `--storm`; the rate itself is checked by the daemon,
/// which names the field.
fn storm_kind(s: &str) -> Result<(String, String), String> {
    let (kind, rate) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}': expected KIND=RATE, e.g. broadcast=500pps"))?;
    match kind {
        "broadcast" | "multicast" | "unknown_unicast" => Ok((kind.to_string(), rate.to_string())),
        _ => Err(format!(
            "'{kind}': expected broadcast, multicast or unknown_unicast"
        )),
    }
}

// Parsed once per command line (and boxed in `Command`): the size of
// `Add` costs nothing worth an indirection inside.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum PortCmd {
    /// Add a port: the daemon makes its device (veth, tap) or attaches to one (netdev)
    ///
    /// Examples:
    ///   vepa port add s1 c1 --type veth --netns c1 --address 10.0.0.1/24
    ///   vepa port add s1 vm1 --type tap            (a VM's tap: see vepa vm-args)
    ///   vepa port add s1 vm2 --type vhost-user     (QEMU -netdev vhost-user)
    Add {
        /// SWITCH/PORT (or SWITCH PORT): the switch to add it to, and the
        /// port's name, also its host interface's unless --ifname is given
        /// (15 characters at most).
        #[arg(value_name = "SWITCH/PORT")]
        switch: String,
        #[arg(hide = true)]
        port: Option<String>,
        /// What the port is.
        #[arg(long = "type", value_enum)]
        kind: PortType,
        /// Make it the switch's uplink.
        #[arg(long)]
        uplink: bool,
        /// Host interface name (default: the port name).
        #[arg(long)]
        ifname: Option<String>,
        /// Namespace for the far end (veth) or the device (tap); made if missing.
        #[arg(long)]
        netns: Option<String>,
        /// Name of the far end inside --netns (default eth0).
        #[arg(long)]
        peer_name: Option<String>,
        /// For patch: the other end, as switch/port.
        #[arg(long)]
        peer: Option<String>,
        /// MAC of the far end (veth) or of the tap, e.g. 02:00:00:00:00:01.
        #[arg(long)]
        mac: Option<MacAddr>,
        /// Address with prefix length for the far end (repeat).
        #[arg(long = "address", value_name = "ADDR/LEN")]
        address: Vec<String>,
        /// Default route for the far end (one per family; needs --netns), e.g. a router port's address.
        #[arg(long = "gateway", value_name = "IP")]
        gateway: Vec<String>,
        /// MTU of the port's devices (68-9216).
        #[arg(long)]
        mtu: Option<u32>,
        /// Pass offloads (virtio-net header): on (default) or off.
        #[arg(long, value_name = "on|off", value_parser = on_off())]
        offload: Option<bool>,
        /// For vhost-user: the socket vepa serves (an absolute path;
        /// default /run/vepa/vhost-user/SWITCH/PORT.sock; `socket` in a topology).
        #[arg(long, value_name = "PATH")]
        vhost_socket: Option<String>,
        #[command(flatten)]
        fields: PortFields,
    },
    /// Remove a port and the device vepa made for it
    Del {
        /// SWITCH/PORT (or SWITCH PORT, or PORT when one switch has it).
        #[arg(value_name = "SWITCH/PORT")]
        switch: String,
        #[arg(hide = true)]
        port: Option<String>,
    },
    /// Change a port's forwarding settings at run time (traffic still allowed keeps flowing)
    ///
    /// Example: vepa port set s1/vm1 --mode vepa --relay off
    Set {
        /// SWITCH/PORT (or SWITCH PORT, or PORT when one switch has it).
        #[arg(value_name = "SWITCH/PORT")]
        switch: String,
        #[arg(hide = true)]
        port: Option<String>,
        #[command(flatten)]
        fields: PortFields,
    },
    /// List ports (all, one switch's, or one: SWITCH/PORT)
    Show {
        /// A switch, or SWITCH/PORT for one port.
        #[arg(value_name = "SWITCH[/PORT]")]
        switch: Option<String>,
        #[arg(hide = true)]
        port: Option<String>,
        #[command(flatten)]
        out: OutputArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum FdbCmd {
    /// The switch's filtering database (learned and static)
    Show {
        /// The switch.
        switch: String,
        #[command(flatten)]
        out: OutputArg,
    },
    /// Pin a MAC to a port (a static entry, kept in the store)
    Add {
        /// The switch.
        switch: String,
        /// The MAC address.
        mac: MacAddr,
        /// The port (of this switch).
        #[arg(long)]
        port: String,
        /// The VLAN (1 when untagged).
        #[arg(long, default_value_t = 1)]
        vlan: u16,
    },
    /// Remove a static entry
    Del {
        /// The switch.
        switch: String,
        /// The MAC address.
        mac: MacAddr,
        /// The VLAN (1 when untagged).
        #[arg(long, default_value_t = 1)]
        vlan: u16,
    },
    /// Forget learned addresses (all, or one port's); static entries stay
    Flush {
        /// The switch.
        switch: String,
        /// The port (of this switch).
        #[arg(long)]
        port: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum MdbCmd {
    /// The switch's multicast groups: which ports asked for which group in
    /// which VLAN (IGMP/MLD reports), and which ports lead to a router
    /// (queries came from them, or they are the uplink, a tunnel, a patch
    /// or named in [switch.multicast] router_ports), as `bridge mdb show`
    Show {
        /// The switch.
        switch: String,
        #[command(flatten)]
        out: OutputArg,
    },
}

pub fn mdb(c: &Client, cmd: MdbCmd) -> Result<()> {
    match cmd {
        MdbCmd::Show { switch, out } => {
            let rows: Vec<MdbRow> = c.get(&format!("/v1/switches/{}/mdb", seg(&switch)))?;
            match out.output() {
                Output::Json => print_json(&rows)?,
                Output::Table => say_raw!("{}", show::mdb(&rows)),
            }
        }
    }
    Ok(())
}

/// A path segment, percent-encoded.
pub(crate) fn seg(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(super) fn print_result(r: &ApplyResult) {
    if json() {
        let _ = print_json(r);
        return;
    }
    if r.plan.is_empty() {
        say!("no change (generation {})", r.generation);
        return;
    }
    for c in &r.plan {
        say!("{c}");
    }
    if r.applied {
        say!("applied (generation {})", r.generation);
    }
}

/// What a change applied, as the command's output format asks.
pub(super) fn print_applied(r: &ApplyResult, out: Output) -> Result<()> {
    match out {
        Output::Json => print_json(r),
        Output::Table => {
            print_result(r);
            Ok(())
        }
    }
}

/// JSON on stdout (also under `-j`, where `say!` is silent).
pub(crate) fn print_json(v: &impl serde::Serialize) -> Result<()> {
    use std::io::Write as _;
    PRINTED.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub(super) fn put(m: &mut Map<String, Value>, k: &str, v: Option<Value>) {
    if let Some(v) = v {
        m.insert(k.to_string(), v);
    }
}

fn fields_json(f: PortFields, m: &mut Map<String, Value>) {
    put(m, "mode", f.mode.map(|m| Value::from(m.as_str())));
    put(m, "relay", f.relay.map(|r| json!(r)));
    put(m, "vsi", f.vsi);
    put(m, "vdp_enforce", f.vdp_enforce.map(Value::from));
    put(m, "vlan", f.vlan.map(Value::from));
    put(m, "trunk", f.trunk.map(|v| json!(v)));
    put(m, "native_vlan", f.native_vlan.map(Value::from));
    put(m, "mac_limit", f.mac_limit.map(Value::from));
    put(m, "bpdu_guard", f.bpdu_guard.map(Value::from));
    put(m, "learn_addresses", f.learn_addresses.map(Value::from));
    if !f.storm.is_empty() {
        let kinds: Map<String, Value> = f
            .storm
            .into_iter()
            .map(|(k, v)| (k, Value::from(v)))
            .collect();
        m.insert("storm".into(), Value::Object(kinds));
    }
    if !f.source_macs.is_empty() {
        m.insert("source_macs".into(), json!(f.source_macs));
    }
    put(m, "guard", f.guard.map(Value::from));
    if !f.allowed_macs.is_empty() {
        m.insert("allowed_macs".into(), json!(f.allowed_macs));
    }
    if !f.allowed_ips.is_empty() {
        m.insert("allowed_ips".into(), json!(f.allowed_ips));
    }
}

pub fn switch(c: &Client, cmd: SwitchCmd) -> Result<()> {
    match cmd {
        SwitchCmd::Add {
            name,
            mode,
            ageing_secs,
            kind,
            ipvlan_mode,
            qbg,
        } => {
            let mut m = Map::new();
            m.insert("name".into(), Value::from(name));
            put(&mut m, "mode", mode.map(|m| Value::from(m.as_str())));
            put(&mut m, "ageing_secs", ageing_secs.map(Value::from));
            put(&mut m, "kind", kind.map(Value::from));
            put(&mut m, "ipvlan_mode", ipvlan_mode.map(Value::from));
            qbg.put(&mut m);
            print_result(&c.call(Method::POST, "/v1/switches", Some(&m))?);
        }
        SwitchCmd::Del { name } => print_result(&c.call(
            Method::DELETE,
            &format!("/v1/switches/{}", seg(&name)),
            None::<&()>,
        )?),
        SwitchCmd::Set {
            name,
            mode,
            ageing_secs,
            qbg,
        } => {
            if mode.is_none() && ageing_secs.is_none() && qbg.is_empty() {
                bail!("nothing to set: give --mode, --ageing-secs, --lldp or --relay-required");
            }
            let mut m = Map::new();
            put(&mut m, "mode", mode.map(|m| Value::from(m.as_str())));
            put(&mut m, "ageing_secs", ageing_secs.map(Value::from));
            qbg.put(&mut m);
            print_result(&c.call(
                Method::PATCH,
                &format!("/v1/switches/{}", seg(&name)),
                Some(&m),
            )?);
        }
        SwitchCmd::Show { name, out } => {
            let switches: Vec<vepa_api::topology::SwitchSpec> = match &name {
                Some(n) => vec![c.get(&format!("/v1/switches/{}", seg(n)))?],
                None => c.get("/v1/switches")?,
            };
            match out.output() {
                Output::Json if name.is_some() => {
                    // A bonded uplink's state, an ipvlan switch's MAC and
                    // owners go with the switch.
                    let mut v = serde_json::to_value(&switches[0])?;
                    if switches[0].kind == vepa_api::topology::SwitchKind::Ipvlan {
                        let stats: Stats = c.get("/v1/stats")?;
                        let ipvlan = stats
                            .switches
                            .iter()
                            .find(|s| s.switch == switches[0].name)
                            .and_then(|s| s.ipvlan.clone());
                        if let (Some(o), Some(i)) = (v.as_object_mut(), ipvlan) {
                            o.insert("ipvlan".into(), serde_json::to_value(i)?);
                        }
                    }
                    if switches[0]
                        .uplink
                        .as_ref()
                        .is_some_and(|u| u.kind == vepa_api::topology::PortKind::Bond)
                    {
                        let stats: Stats = c.get("/v1/stats")?;
                        let bond = stats
                            .ports
                            .iter()
                            .find(|p| p.switch == switches[0].name && p.bond.is_some())
                            .and_then(|p| p.bond.clone());
                        if let (Some(o), Some(b)) = (v.as_object_mut(), bond) {
                            o.insert("uplink_bond".into(), serde_json::to_value(b)?);
                        }
                    }
                    print_json(&v)?
                }
                Output::Json => print_json(&switches)?,
                Output::Table => {
                    let stats: Stats = c.get("/v1/stats")?;
                    let names: Vec<&str> = switches.iter().map(|s| s.name.as_str()).collect();
                    say_raw!(
                        "{}{}",
                        show::switches(&switches, &stats),
                        show::bonds(&names, &stats)
                    )
                }
            }
        }
    }
    Ok(())
}

pub fn port(c: &Client, cmd: PortCmd) -> Result<()> {
    match cmd {
        PortCmd::Add {
            switch,
            port,
            kind,
            uplink,
            ifname,
            netns,
            peer_name,
            peer,
            mac,
            address,
            gateway,
            mtu,
            offload,
            vhost_socket,
            fields,
        } => {
            let (switch, port) = match port {
                Some(p) => (switch, p),
                None => match switch.split_once('/') {
                    Some((s, p)) if !s.is_empty() && !p.is_empty() => (s.to_string(), p.to_string()),
                    // A usage error, as clap's own (exit 2).
                    _ => clap::Error::raw(
                        clap::error::ErrorKind::ValueValidation,
                        format!("port add: '{switch}': expected SWITCH/PORT (the switch to add the port to, and its name)\n"),
                    )
                    .exit(),
                },
            };
            let mut m = Map::new();
            m.insert("name".into(), Value::from(port));
            m.insert("type".into(), Value::from(kind.as_str()));
            put(&mut m, "ifname", ifname.map(Value::from));
            put(&mut m, "netns", netns.map(Value::from));
            put(&mut m, "peer_name", peer_name.map(Value::from));
            put(&mut m, "peer", peer.map(Value::from));
            put(&mut m, "mac", mac.map(|m| Value::from(m.to_string())));
            if !address.is_empty() {
                m.insert("address".into(), json!(address));
            }
            if !gateway.is_empty() {
                m.insert("gateway".into(), json!(gateway));
            }
            put(&mut m, "mtu", mtu.map(Value::from));
            put(&mut m, "offload", offload.map(Value::from));
            put(&mut m, "socket", vhost_socket.map(Value::from));
            fields_json(fields, &mut m);
            let path = format!(
                "/v1/switches/{}/ports{}",
                seg(&switch),
                if uplink { "?uplink=true" } else { "" }
            );
            print_result(&c.call(Method::POST, &path, Some(&m))?);
        }
        PortCmd::Del { switch, port } => {
            let (switch, port) = port_of(c, switch, port, "port del")?;
            print_result(&c.call(
                Method::DELETE,
                &format!("/v1/switches/{}/ports/{}", seg(&switch), seg(&port)),
                None::<&()>,
            )?)
        }
        PortCmd::Set {
            switch,
            port,
            fields,
        } => {
            let (switch, port) = port_of(c, switch, port, "port set")?;
            let mut m = Map::new();
            fields_json(fields, &mut m);
            if m.is_empty() {
                bail!("nothing to set: give at least one of --mode, --relay, --vlan, --trunk, --native-vlan, --mac-limit, --source-mac");
            }
            print_result(&c.call(
                Method::PATCH,
                &format!("/v1/switches/{}/ports/{}", seg(&switch), seg(&port)),
                Some(&m),
            )?);
        }
        PortCmd::Show { switch, port, out } => {
            let (switch, port) = match (switch, port) {
                (Some(s), None) if s.contains('/') => {
                    let (s, p) = resolve_port(c, &s, "port show")?;
                    (Some(s), Some(p))
                }
                other => other,
            };
            let views: Vec<PortView> = match (&switch, &port) {
                (Some(s), Some(p)) => {
                    vec![c.get(&format!("/v1/switches/{}/ports/{}", seg(s), seg(p)))?]
                }
                (Some(s), None) => c.get(&format!("/v1/switches/{}/ports", seg(s)))?,
                _ => c.get("/v1/ports")?,
            };
            let stats: Stats = c.get("/v1/stats")?;
            match out.output() {
                Output::Json if port.is_some() => print_json(&views[0])?,
                Output::Json => print_json(&views)?,
                Output::Table => say_raw!("{}", show::ports(&views, &stats)),
            }
        }
    }
    Ok(())
}

pub fn fdb(c: &Client, cmd: FdbCmd) -> Result<()> {
    match cmd {
        FdbCmd::Show { switch, out } => {
            let rows: Vec<FdbRow> = c.get(&format!("/v1/switches/{}/fdb", seg(&switch)))?;
            match out.output() {
                Output::Json => print_json(&rows)?,
                Output::Table => say_raw!("{}", show::fdb(&rows)),
            }
        }
        FdbCmd::Add {
            switch,
            mac,
            port,
            vlan,
        } => print_result(&c.call(
            Method::POST,
            &format!("/v1/switches/{}/fdb", seg(&switch)),
            Some(&json!({"mac": mac.to_string(), "vlan": vlan, "port": port})),
        )?),
        FdbCmd::Del { switch, mac, vlan } => print_result(&c.call(
            Method::DELETE,
            &format!(
                "/v1/switches/{}/fdb/{}?vlan={vlan}",
                seg(&switch),
                seg(&mac.to_string())
            ),
            None::<&()>,
        )?),
        FdbCmd::Flush { switch, port } => {
            let body = match port {
                Some(p) => json!({ "port": p }),
                None => json!({}),
            };
            let r: FdbFlushed = c.call(
                Method::POST,
                &format!("/v1/switches/{}/fdb/flush", seg(&switch)),
                Some(&body),
            )?;
            if json() {
                return print_json(&r);
            }
            say!(
                "{} learned entr{} removed",
                r.removed,
                if r.removed == 1 { "y" } else { "ies" }
            );
        }
    }
    Ok(())
}

pub fn stats(c: &Client, out: Output) -> Result<()> {
    let s: Stats = c.get("/v1/stats")?;
    match out {
        Output::Json => print_json(&s),
        Output::Table => {
            say_raw!("{}", show::stats(&s));
            Ok(())
        }
    }
}

/// `vepa stats --watch`: rates from the difference of two snapshots
/// `secs` apart, printed each interval (`count` times, or until killed).
pub fn watch_stats(c: &Client, out: Output, secs: u64, count: Option<u64>) -> Result<()> {
    let mut before: Stats = c.get("/v1/stats")?;
    let mut n = 0;
    while count.is_none_or(|c| n < c) {
        std::thread::sleep(std::time::Duration::from_secs(secs));
        let now: Stats = c.get("/v1/stats")?;
        let dt = interval(&before, &now, secs as f64);
        let per_s = |now: u64, was: u64| now.saturating_sub(was) as f64 / dt;
        let rows: Vec<Value> = now
            .ports
            .iter()
            .map(|p| {
                let was = before
                    .ports
                    .iter()
                    .find(|q| q.switch == p.switch && q.port == p.port);
                let get =
                    |f: fn(&vepa_api::wire::PortStats) -> u64| per_s(f(p), was.map_or(f(p), f));
                let drops = |s: &vepa_api::wire::PortStats| s.drops.values().sum::<u64>();
                json!({
                    "port": format!("{}/{}", p.switch, p.port),
                    "rx_pps": get(|s| s.rx_frames),
                    "tx_pps": get(|s| s.tx_frames),
                    "rx_bps": get(|s| s.rx_bytes) * 8.0,
                    "tx_bps": get(|s| s.tx_bytes) * 8.0,
                    "drops_ps": per_s(drops(p), was.map_or(drops(p), drops)),
                })
            })
            .collect();
        match out {
            Output::Json => say!("{}", json!({ "interval_s": secs, "ports": rows })),
            Output::Table => {
                say!(
                    "{:<28} {:>10} {:>10} {:>12} {:>12} {:>9}",
                    "PORT",
                    "RX PPS",
                    "TX PPS",
                    "RX BIT/S",
                    "TX BIT/S",
                    "DROPS/S"
                );
                for r in &rows {
                    let f = |k: &str| r[k].as_f64().unwrap_or(0.0);
                    say!(
                        "{:<28} {:>10.0} {:>10.0} {:>12} {:>12} {:>9.0}",
                        r["port"].as_str().unwrap_or(""),
                        f("rx_pps"),
                        f("tx_pps"),
                        si(f("rx_bps")),
                        si(f("tx_bps")),
                        f("drops_ps")
                    );
                }
                say!("");
            }
        }
        before = now;
        n += 1;
    }
    Ok(())
}

/// Seconds between two snapshots' counters: as the workers published
/// them when both say, else `asked` (the time between the requests).
pub(crate) fn interval(before: &Stats, now: &Stats, asked: f64) -> f64 {
    match (before.as_of_ms, now.as_of_ms) {
        (Some(a), Some(b)) if b > a => (b - a) as f64 / 1000.0,
        _ => asked,
    }
}

/// A rate as people read it: 1.5k, 940M.
pub(crate) fn si(v: f64) -> String {
    match v {
        v if v >= 1e9 => format!("{:.1}G", v / 1e9),
        v if v >= 1e6 => format!("{:.1}M", v / 1e6),
        v if v >= 1e3 => format!("{:.1}k", v / 1e3),
        v => format!("{v:.0}"),
    }
}

pub fn apply(c: &Client, file: &std::path::Path, dry_run: bool, force: bool) -> Result<()> {
    let topology = Topology::load(file)?;
    // The same checks the daemon makes, before the request: the error then
    // points into the file.
    topology.check()?;
    let r: ApplyResult = c.call(
        Method::POST,
        "/v1/apply",
        Some(&ApplyRequest {
            topology,
            dry_run,
            force,
        }),
    )?;
    if dry_run && json() {
        return print_json(&r);
    }
    if dry_run {
        if r.plan.is_empty() {
            say!("no change: the daemon is at this state already");
        } else {
            for ch in &r.plan {
                say!("{ch}");
            }
            say!("(dry run: nothing applied)");
        }
        return Ok(());
    }
    print_result(&r);
    Ok(())
}

pub fn export(c: &Client) -> Result<()> {
    let t: Topology = c.get("/v1/topology")?;
    if json() {
        // The same document as JSON (`apply` takes TOML).
        return print_json(&t);
    }
    say_raw!("{}", t.to_toml().context("render the topology as TOML")?);
    Ok(())
}

/// A port given as `SWITCH PORT` (the older form), `SWITCH/PORT`, or
/// `PORT` when only one switch has it.
pub fn port_of(
    c: &Client,
    first: String,
    second: Option<String>,
    what: &str,
) -> Result<(String, String)> {
    match second {
        Some(p) => Ok((first, p)),
        None => resolve_port(c, &first, what),
    }
}

/// A port named as SWITCH/PORT, or as PORT when only one switch has
/// one of that name; `what` is the command, for its errors.
pub fn resolve_port(c: &Client, target: &str, what: &str) -> Result<(String, String)> {
    if let Some((s, p)) = target.split_once('/') {
        if s.is_empty() || p.is_empty() {
            bail!("{what}: '{target}': expected SWITCH/PORT");
        }
        return Ok((s.to_string(), p.to_string()));
    }
    let all: Vec<PortView> = c.get("/v1/ports")?;
    let hits: Vec<&PortView> = all.iter().filter(|v| v.spec.name == target).collect();
    match hits.as_slice() {
        [one] => Ok((one.switch.clone(), target.to_string())),
        [] => Err(anyhow::Error::new(http::Refused {
            status: hyper::StatusCode::NOT_FOUND,
            message: format!(
                "{what}: no port '{target}' on any switch (vepa port show lists them)"
            ),
        })),
        _ => bail!("{what}: several switches have a port '{target}'; say which, as SWITCH/PORT"),
    }
}

/// What `vepa capture` takes.
#[derive(clap::Args, Debug)]
pub struct CaptureArgs {
    /// The ports, each SWITCH/PORT (or PORT when only one switch has it).
    #[arg(required = true, value_name = "PORT")]
    pub ports: Vec<String>,
    /// File to write (default: stdout, e.g. `| tcpdump -r -`).
    #[arg(short = 'w', value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Stop after this many frames.
    #[arg(short = 'c', value_name = "N")]
    pub count: Option<u64>,
    /// Only frames this pcap-filter expression matches (see above).
    #[arg(short = 'f', long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Also the frames the switch drops as they enter the ports, with the
    /// reason as the packet's comment.
    #[arg(long)]
    pub drops: bool,
}

/// `vepa capture PORT...`: pcapng to a file or stdout.
pub fn capture(c: &Client, a: CaptureArgs) -> Result<()> {
    let mut ports = Vec::new();
    for target in &a.ports {
        let (switch, port) = resolve_port(c, target, "capture")?;
        ports.push(vepa_api::wire::PortRef { switch, port });
    }
    let req = vepa_api::wire::CaptureRequest {
        ports,
        filter: a.filter.clone(),
        drops: a.drops,
        count: a.count,
    };
    let mut out: Box<dyn Write> = match &a.file {
        Some(f) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(f)
                .with_context(|| format!("-w: cannot create {}", f.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    // Packets are counted as they pass (pcapng blocks: type, then total
    // length), so the summary is exact without parsing twice.
    let mut seen: u64 = 0;
    let mut pending: Vec<u8> = Vec::new();
    let result = c.stream_with(Method::POST, "/v1/capture", Some(&req), |chunk| {
        out.write_all(chunk)?;
        out.flush()?;
        pending.extend_from_slice(chunk);
        while pending.len() >= 8 {
            let kind = u32::from_le_bytes([pending[0], pending[1], pending[2], pending[3]]);
            let len = u32::from_le_bytes([pending[4], pending[5], pending[6], pending[7]]) as usize;
            if len < 12 || pending.len() < len {
                break;
            }
            if kind == 6 {
                seen += 1;
            }
            pending.drain(..len);
        }
        Ok(true)
    });
    if a.file.is_some() {
        eprintln!("vepa capture: {seen} frame(s) from {}", a.ports.join(", "));
    }
    result
}
