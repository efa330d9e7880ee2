//! `vepa vm-args` and `vepa libvirt-xml`: how a VM manager plugs a guest
//! into a port. For a VM's tap (a `tap` port without `netns`) that is the
//! tap's name, QEMU's virtio-net device and the guest's MAC: the port's
//! `mac` when it has one, else one derived from the switch and port names,
//! so every guest gets its own and keeps it across restarts.

use super::http::Client;
use anyhow::{bail, Result};
use vepa_api::topology::PortKind;
use vepa_api::wire::PortView;
use vepa_packet::MacAddr;

/// The port `name` (or `switch/port`) as the daemon has it.
fn find(c: &Client, name: &str) -> Result<PortView> {
    let all: Vec<PortView> = c.get("/v1/ports")?;
    let (sw, port) = match name.split_once('/') {
        Some((s, p)) => (Some(s), p),
        None => (None, name),
    };
    let mut hits: Vec<PortView> = all
        .into_iter()
        .filter(|v| v.spec.name == port && sw.is_none_or(|s| s == v.switch))
        .collect();
    match hits.len() {
        0 => bail!("port '{name}': no such port (vepa port show lists them)"),
        1 => Ok(hits.remove(0)),
        _ => bail!("port '{name}': on several switches; name it as SWITCH/PORT"),
    }
}

/// The guest's MAC (see `PortSpec::guest_mac`).
pub fn guest_mac(v: &PortView) -> MacAddr {
    v.spec.guest_mac(&v.switch)
}

/// Where the daemon serves a vhost-user port.
fn vhost_user_socket(v: &PortView) -> String {
    v.socket
        .clone()
        .unwrap_or_else(|| v.spec.vhost_user_socket(&v.switch))
}

/// A VM's tap, or an error saying what the port is instead.
fn vm_port(c: &Client, name: &str) -> Result<PortView> {
    let v = find(c, name)?;
    let vm = v.spec.kind == PortKind::VhostUser
        || (v.spec.kind == PortKind::Tap && v.spec.netns.is_none());
    if !vm {
        bail!(
            "port '{name}': not a VM's port; make one with: vepa port add {} {} --type tap (no --netns) or --type vhost-user",
            v.switch,
            v.spec.name
        );
    }
    Ok(v)
}

/// A macvtap's character device and MAC, when the port's device is one
/// (a tap port of a kernel switch): QEMU is handed the open device as a
/// file descriptor, and the guest must use the macvtap's own MAC.
fn macvtap(v: &PortView) -> Option<(String, MacAddr)> {
    let name = v.spec.host_ifname();
    let sys = std::path::Path::new("/sys/class/net").join(name);
    if !sys.join("macvtap").is_dir() {
        return None;
    }
    let read = |f: &str| std::fs::read_to_string(sys.join(f)).ok();
    let index = read("ifindex")?.trim().to_string();
    let mac = read("address")?.trim().parse().ok()?;
    Some((format!("/dev/tap{index}"), mac))
}

/// QEMU's `-netdev`/`-device` arguments for the port. For a macvtap the
/// last word is a shell redirection opening its device as fd 3, so the
/// line must go through a shell (`eval qemu-system-x86_64 ... $(vepa vm-args PORT)`).
///
/// With `tcg` (QEMU without KVM, hence without irqfd) a vhost-user NIC
/// asks for legacy interrupts: QEMU 7.2 then takes an irqfd path for
/// MSI-X vectors it never set up and crashes when the guest starts the
/// NIC (`msix_set_vector_notifiers` from `vhost_net_start`).
pub fn qemu_args(v: &PortView, memory_mib: u32, tcg: bool, model: NicModel) -> Vec<String> {
    let id = format!("net-{}", v.spec.name);
    if v.spec.kind == PortKind::VhostUser {
        // The guest's memory must be shared with vepa: a memfd backend of
        // the guest's size (`-m`).
        return vec![
            "-object".into(),
            format!(
                "memory-backend-memfd,id=mem-{},size={memory_mib}M,share=on",
                v.spec.name
            ),
            "-machine".into(),
            format!("memory-backend=mem-{}", v.spec.name),
            "-chardev".into(),
            format!(
                "socket,id=chr-{},path={},reconnect=1",
                v.spec.name,
                vhost_user_socket(v)
            ),
            "-netdev".into(),
            format!("vhost-user,id={id},chardev=chr-{}", v.spec.name),
            "-device".into(),
            format!(
                "virtio-net-pci,netdev={id},mac={}{}",
                guest_mac(v),
                if tcg { ",vectors=0" } else { "" }
            ),
        ];
    }
    let device = model.qemu_device();
    if let Some((dev, mac)) = macvtap(v) {
        return vec![
            "-netdev".into(),
            format!("tap,id={id},fd=3,vhost=off"),
            "-device".into(),
            format!("{device},netdev={id},mac={mac}"),
            format!("3<>{dev}"),
        ];
    }
    let offload = if v.spec.offload() { "on" } else { "off" };
    // Only virtio-net tells the guest the MTU (the others' guests set it).
    let mtu = match (model, v.spec.mtu) {
        (NicModel::Virtio, Some(m)) => format!(",host_mtu={m}"),
        _ => String::new(),
    };
    vec![
        "-netdev".into(),
        format!(
            "tap,id={id},ifname={},script=no,downscript=no,vhost=off,vnet_hdr={offload}",
            v.spec.host_ifname()
        ),
        "-device".into(),
        format!("{device},netdev={id},mac={}{mtu}", guest_mac(v)),
    ]
}

/// The NIC QEMU shows the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NicModel {
    /// virtio-net: the fastest, with offloads and the port's MTU.
    Virtio,
    /// VMware's paravirtual NIC: what a VM imported from VMware expects.
    Vmxnet3,
    /// Intel 82574: what a guest with no paravirtual driver has.
    E1000e,
}

impl NicModel {
    fn qemu_device(self) -> &'static str {
        match self {
            NicModel::Virtio => "virtio-net-pci",
            NicModel::Vmxnet3 => "vmxnet3",
            NicModel::E1000e => "e1000e",
        }
    }

    /// libvirt's `<model type=...>`.
    fn libvirt(self) -> &'static str {
        match self {
            NicModel::Virtio => "virtio",
            NicModel::Vmxnet3 => "vmxnet3",
            NicModel::E1000e => "e1000e",
        }
    }
}

/// The `<interface>` element of a libvirt domain for the port: an
/// `ethernet` interface on the existing tap or macvtap (`managed='no'`:
/// libvirt opens it and leaves it be).
pub fn libvirt_interface(v: &PortView, model: NicModel) -> String {
    if v.spec.kind == PortKind::VhostUser {
        // QEMU is the client and reconnects when vepa restarts. (The
        // domain also needs shared memory: see MEMORY_BACKING.)
        return format!(
            "<interface type='vhostuser'>\n  <mac address='{}'/>\n  <source type='unix' path='{}' mode='client'>\n    <reconnect enabled='yes' timeout='1'/>\n  </source>\n  <model type='virtio'/>\n</interface>",
            guest_mac(v),
            vhost_user_socket(v)
        );
    }
    let mac = macvtap(v).map_or_else(|| guest_mac(v), |(_, m)| m);
    let mtu = v
        .spec
        .mtu
        .map(|m| format!("\n  <mtu size='{m}'/>"))
        .unwrap_or_default();
    format!(
        "<interface type='ethernet'>\n  <mac address='{}'/>\n  <target dev='{}' managed='no'/>\n  <model type='{}'/>{mtu}\n</interface>",
        mac,
        v.spec.host_ifname(),
        model.libvirt()
    )
}

pub fn vm_args(c: &Client, name: &str, memory_mib: u32, tcg: bool, model: NicModel) -> Result<()> {
    let v = vm_port(c, name)?;
    virtio_only(&v, model)?;
    let args = qemu_args(&v, memory_mib, tcg, model);
    if super::json() {
        return super::print_json(&serde_json::json!({ "args": args }));
    }
    say!("{}", args.join(" "));
    Ok(())
}

/// A vhost-user port is a virtio device by nature: another model for it
/// is a usage error.
fn virtio_only(v: &PortView, model: NicModel) -> Result<()> {
    if v.spec.kind == PortKind::VhostUser && model != NicModel::Virtio {
        clap::Error::raw(
            clap::error::ErrorKind::ArgumentConflict,
            format!(
                "--model {}: port '{}' is vhost-user, which only virtio-net speaks; give it a tap port instead\n",
                model.libvirt(),
                v.spec.name
            ),
        )
        .exit();
    }
    Ok(())
}

/// What a domain with a vhost-user interface needs besides it: guest
/// memory vepa can map.
pub const MEMORY_BACKING: &str =
    "<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>";

pub fn libvirt_xml(c: &Client, name: &str, model: NicModel) -> Result<()> {
    let v = vm_port(c, name)?;
    virtio_only(&v, model)?;
    if super::json() {
        return super::print_json(&serde_json::json!({ "xml": libvirt_interface(&v, model) }));
    }
    say!("{}", libvirt_interface(&v, model));
    if v.spec.kind == PortKind::VhostUser {
        eprintln!("note: the domain also needs shared memory, under <domain>: {MEMORY_BACKING}");
    }
    Ok(())
}
