//! Links and addresses over rtnetlink, in the namespace of the thread that
//! opened the [`Netlink`] handle.
//!
//! rtnetlink is asynchronous; each handle carries a small current-thread
//! runtime and answers synchronously, which is what vepa's callers (the
//! preflight, the engine's blocking threads, the doctor) want.

use crate::KernelError;
use futures_util::stream::TryStreamExt;
use rtnetlink::packet_route::link::{
    InfoData, InfoIpVlan, InfoKind, InfoMacVlan, InfoMacVtap, IpVlanMode, LinkAttribute, LinkFlags,
    LinkInfo, LinkMessage, MacVlanMode,
};
use rtnetlink::{
    Handle, LinkBridge, LinkBridgePort, LinkMacVlan, LinkMacVtap, LinkUnspec, LinkVeth,
};
use std::net::IpAddr;
use std::os::fd::RawFd;

/// The five macvlan modes, as the kernel names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacvlanMode {
    Private,
    Vepa,
    Bridge,
    Passthru,
    Source,
}

impl MacvlanMode {
    pub const ALL: [MacvlanMode; 5] = [
        MacvlanMode::Bridge,
        MacvlanMode::Vepa,
        MacvlanMode::Private,
        MacvlanMode::Passthru,
        MacvlanMode::Source,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MacvlanMode::Private => "private",
            MacvlanMode::Vepa => "vepa",
            MacvlanMode::Bridge => "bridge",
            MacvlanMode::Passthru => "passthru",
            MacvlanMode::Source => "source",
        }
    }

    fn wire(self) -> MacVlanMode {
        match self {
            MacvlanMode::Private => MacVlanMode::Private,
            MacvlanMode::Vepa => MacVlanMode::Vepa,
            MacvlanMode::Bridge => MacVlanMode::Bridge,
            MacvlanMode::Passthru => MacVlanMode::Passthrough,
            MacvlanMode::Source => MacVlanMode::Source,
        }
    }
}

fn mode_name(m: &MacVlanMode) -> &'static str {
    match m {
        MacVlanMode::Private => "private",
        MacVlanMode::Vepa => "vepa",
        MacVlanMode::Bridge => "bridge",
        MacVlanMode::Passthrough => "passthru",
        MacVlanMode::Source => "source",
        _ => "other",
    }
}

/// ipvlan's addressing mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpvlanMode {
    L2,
    L3,
    L3s,
}

/// ipvlan's forwarding between slaves: bridge (default), private or vepa.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpvlanFlag {
    Bridge,
    Private,
    Vepa,
}

/// What `Netlink::link` reports of a link.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// The rtnetlink kind (`veth`, `macvlan`, `bridge`...), if it has one.
    pub kind: Option<String>,
    pub mac: Option<[u8; 6]>,
    pub mtu: Option<u32>,
    pub up: bool,
    pub alias: Option<String>,
    /// The bridge it is a port of.
    pub master: Option<u32>,
    /// For macvlan/macvtap: the mode.
    pub macvlan_mode: Option<&'static str>,
}

impl Link {
    fn from_message(m: &LinkMessage) -> Link {
        let mut l = Link {
            index: m.header.index,
            up: m.header.flags.contains(LinkFlags::Up),
            ..Default::default()
        };
        for a in &m.attributes {
            match a {
                LinkAttribute::IfName(n) => l.name = n.clone(),
                LinkAttribute::Address(a) if a.len() == 6 => {
                    let mut mac = [0u8; 6];
                    mac.copy_from_slice(a);
                    l.mac = Some(mac);
                }
                LinkAttribute::Mtu(m) => l.mtu = Some(*m),
                LinkAttribute::IfAlias(a) => l.alias = Some(a.clone()),
                LinkAttribute::Controller(c) => l.master = Some(*c),
                LinkAttribute::LinkInfo(infos) => {
                    for i in infos {
                        match i {
                            LinkInfo::Kind(k) => l.kind = Some(k.to_string()),
                            LinkInfo::Data(InfoData::MacVlan(d)) => {
                                for x in d {
                                    if let InfoMacVlan::Mode(m) = x {
                                        l.macvlan_mode = Some(mode_name(m));
                                    }
                                }
                            }
                            LinkInfo::Data(InfoData::MacVtap(d)) => {
                                for x in d {
                                    if let InfoMacVtap::Mode(m) = x {
                                        l.macvlan_mode = Some(mode_name(m));
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        l
    }
}

/// A new link to make.
#[derive(Debug, Clone)]
pub enum NewLink<'a> {
    Veth {
        name: &'a str,
        peer: &'a str,
    },
    /// `sources`: for mode source, the MACs whose frames the device receives.
    Macvlan {
        name: &'a str,
        lower: &'a str,
        mode: MacvlanMode,
        sources: &'a [[u8; 6]],
    },
    Macvtap {
        name: &'a str,
        lower: &'a str,
        mode: MacvlanMode,
    },
    Bridge {
        name: &'a str,
    },
    Vxlan {
        name: &'a str,
        vni: u32,
        port: u16,
    },
    Vlan {
        name: &'a str,
        lower: &'a str,
        vid: u16,
    },
    Ipvlan {
        name: &'a str,
        lower: &'a str,
        mode: IpvlanMode,
        flag: IpvlanFlag,
    },
    Dummy {
        name: &'a str,
    },
    /// A bonding device (for `vepa doctor`: vepa bonds in userspace).
    Bond {
        name: &'a str,
    },
    Geneve {
        name: &'a str,
        vni: u32,
        remote: std::net::Ipv4Addr,
    },
}

impl NewLink<'_> {
    fn name(&self) -> &str {
        match self {
            NewLink::Veth { name, .. }
            | NewLink::Macvlan { name, .. }
            | NewLink::Macvtap { name, .. }
            | NewLink::Bridge { name }
            | NewLink::Vxlan { name, .. }
            | NewLink::Vlan { name, .. }
            | NewLink::Ipvlan { name, .. }
            | NewLink::Dummy { name }
            | NewLink::Bond { name }
            | NewLink::Geneve { name, .. } => name,
        }
    }
}

/// Port flags of a Linux bridge port.
#[derive(Debug, Clone, Copy, Default)]
pub struct BridgePortFlags {
    pub hairpin: Option<bool>,
    pub isolated: Option<bool>,
    pub learning: Option<bool>,
    pub flood: Option<bool>,
}

pub struct Netlink {
    rt: tokio::runtime::Runtime,
    handle: Handle,
}

fn nl_err(op: &'static str, name: &str, e: rtnetlink::Error) -> KernelError {
    let source = match &e {
        rtnetlink::Error::NetlinkError(m) => m.to_io(),
        other => std::io::Error::other(other.to_string()),
    };
    KernelError::Os {
        op,
        name: name.to_string(),
        source,
    }
}

impl Netlink {
    /// A handle in the calling thread's network namespace.
    pub fn new() -> Result<Netlink, KernelError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(|source| KernelError::Os {
                op: "start netlink runtime",
                name: String::new(),
                source,
            })?;
        let handle = {
            let _guard = rt.enter();
            let (conn, handle, _) =
                rtnetlink::new_connection().map_err(|source| KernelError::Os {
                    op: "open rtnetlink socket",
                    name: String::new(),
                    source,
                })?;
            rt.spawn(conn);
            handle
        };
        Ok(Netlink { rt, handle })
    }

    fn message(&self, name: &str) -> Result<Option<LinkMessage>, KernelError> {
        let h = self.handle.clone();
        let n = name.to_string();
        self.rt.block_on(async move {
            let mut s = h.link().get().match_name(n.clone()).execute();
            match s.try_next().await {
                Ok(m) => Ok(m),
                Err(rtnetlink::Error::NetlinkError(m)) if m.raw_code() == -libc::ENODEV => Ok(None),
                Err(e) => Err(nl_err("get link", &n, e)),
            }
        })
    }

    pub fn link(&self, name: &str) -> Result<Option<Link>, KernelError> {
        Ok(self.message(name)?.as_ref().map(Link::from_message))
    }

    pub fn index(&self, name: &str) -> Result<u32, KernelError> {
        self.link(name)?
            .map(|l| l.index)
            .ok_or_else(|| KernelError::NoSuchLink(name.to_string()))
    }

    pub fn links(&self) -> Result<Vec<Link>, KernelError> {
        let h = self.handle.clone();
        self.rt.block_on(async move {
            let msgs: Vec<LinkMessage> = h
                .link()
                .get()
                .execute()
                .try_collect()
                .await
                .map_err(|e| nl_err("list links", "", e))?;
            Ok(msgs.iter().map(Link::from_message).collect())
        })
    }

    fn send_add(&self, op: &'static str, name: &str, msg: LinkMessage) -> Result<(), KernelError> {
        let h = self.handle.clone();
        self.rt
            .block_on(async move { h.link().add(msg).execute().await })
            .map_err(|e| nl_err(op, name, e))
    }

    fn send_set(&self, op: &'static str, name: &str, msg: LinkMessage) -> Result<(), KernelError> {
        let h = self.handle.clone();
        self.rt
            .block_on(async move { h.link().set(msg).execute().await })
            .map_err(|e| nl_err(op, name, e))
    }

    /// Makes a link (down; `set_up` brings it up).
    pub fn add(&self, new: NewLink<'_>) -> Result<(), KernelError> {
        let (name, msg) = self.new_link_message(new)?;
        self.send_add("add link", &name, msg)
    }

    /// Makes a link directly inside the namespace open at `netns_fd` (its
    /// lower device, for macvlan, stays in this one): no temporary name.
    pub fn add_in(&self, new: NewLink<'_>, netns_fd: RawFd) -> Result<(), KernelError> {
        let (name, mut msg) = self.new_link_message(new)?;
        msg.attributes.push(LinkAttribute::NetNsFd(netns_fd));
        self.send_add("add link", &name, msg)
    }

    fn new_link_message(&self, new: NewLink<'_>) -> Result<(String, LinkMessage), KernelError> {
        let name = new.name().to_string();
        let msg = match new {
            NewLink::Veth { name, peer } => LinkVeth::new(name, peer).build(),
            NewLink::Macvlan {
                name,
                lower,
                mode,
                sources,
            } => {
                let mut b = LinkMacVlan::new(name, self.index(lower)?, mode.wire());
                if !sources.is_empty() {
                    use rtnetlink::packet_route::link::MacVlanMacAddressMode;
                    b = b
                        .append_info_data(InfoMacVlan::MacAddrMode(MacVlanMacAddressMode::Set))
                        .append_info_data(InfoMacVlan::MacAddrData(
                            sources.iter().map(|m| InfoMacVlan::MacAddr(*m)).collect(),
                        ));
                }
                b.build()
            }
            NewLink::Macvtap { name, lower, mode } => {
                LinkMacVtap::new(name, self.index(lower)?, mode.wire()).build()
            }
            NewLink::Bridge { name } => LinkBridge::new(name).build(),
            NewLink::Vxlan { name, vni, port } => {
                rtnetlink::LinkVxlan::new(name, vni).port(port).build()
            }
            NewLink::Vlan { name, lower, vid } => {
                rtnetlink::LinkVlan::new(name, self.index(lower)?, vid).build()
            }
            NewLink::Ipvlan {
                name,
                lower,
                mode,
                flag,
            } => {
                use rtnetlink::packet_route::link::IpVlanFlags;
                let mode = match mode {
                    IpvlanMode::L2 => IpVlanMode::L2,
                    IpvlanMode::L3 => IpVlanMode::L3,
                    IpvlanMode::L3s => IpVlanMode::L3S,
                };
                let flags = match flag {
                    IpvlanFlag::Bridge => IpVlanFlags::empty(),
                    IpvlanFlag::Private => IpVlanFlags::Private,
                    IpvlanFlag::Vepa => IpVlanFlags::Vepa,
                };
                rtnetlink::LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::IpVlan)
                    .name(name.to_string())
                    .link(self.index(lower)?)
                    .set_info_data(InfoData::IpVlan(vec![
                        InfoIpVlan::Mode(mode),
                        InfoIpVlan::Flags(flags),
                    ]))
                    .build()
            }
            NewLink::Dummy { name } => rtnetlink::LinkDummy::new(name).build(),
            NewLink::Bond { name } => rtnetlink::LinkBond::new(name).build(),
            NewLink::Geneve { name, vni, remote } => {
                use rtnetlink::packet_route::link::InfoGeneve;
                rtnetlink::LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::Geneve)
                    .name(name.to_string())
                    .set_info_data(InfoData::Geneve(vec![
                        InfoGeneve::Id(vni),
                        InfoGeneve::Remote(remote),
                    ]))
                    .build()
            }
        };
        Ok((name, msg))
    }

    pub fn del(&self, name: &str) -> Result<(), KernelError> {
        let index = self.index(name)?;
        let h = self.handle.clone();
        self.rt
            .block_on(async move { h.link().del(index).execute().await })
            .map_err(|e| nl_err("delete link", name, e))
    }

    pub fn set_up(&self, name: &str, up: bool) -> Result<(), KernelError> {
        let b = LinkUnspec::new_with_index(self.index(name)?);
        let msg = if up { b.up() } else { b.down() }.build();
        self.send_set("set link up/down", name, msg)
    }

    pub fn set_mtu(&self, name: &str, mtu: u32) -> Result<(), KernelError> {
        let msg = LinkUnspec::new_with_index(self.index(name)?)
            .mtu(mtu)
            .build();
        self.send_set("set mtu", name, msg)
    }

    pub fn set_mac(&self, name: &str, mac: [u8; 6]) -> Result<(), KernelError> {
        let msg = LinkUnspec::new_with_index(self.index(name)?)
            .address(mac.to_vec())
            .build();
        self.send_set("set address", name, msg)
    }

    pub fn set_alias(&self, name: &str, alias: &str) -> Result<(), KernelError> {
        let msg = LinkUnspec::new_with_index(self.index(name)?)
            .append_extra_attribute(LinkAttribute::IfAlias(alias.to_string()))
            .build();
        self.send_set("set alias", name, msg)
    }

    /// Renames a link (it must be down).
    pub fn rename(&self, name: &str, to: &str) -> Result<(), KernelError> {
        let msg = LinkUnspec::new_with_index(self.index(name)?)
            .name(to.to_string())
            .build();
        self.send_set("rename", name, msg)
    }

    /// Moves a link into the namespace open at `netns_fd`.
    pub fn move_to(&self, name: &str, netns_fd: RawFd) -> Result<(), KernelError> {
        let msg = LinkUnspec::new_with_index(self.index(name)?)
            .setns_by_fd(netns_fd)
            .build();
        self.send_set("move to netns", name, msg)
    }

    pub fn set_master(&self, name: &str, master: &str) -> Result<(), KernelError> {
        let msg = LinkUnspec::new_with_index(self.index(name)?)
            .controller(self.index(master)?)
            .build();
        self.send_set("set master", name, msg)
    }

    pub fn set_bridge_port(&self, name: &str, f: BridgePortFlags) -> Result<(), KernelError> {
        let mut b = LinkBridgePort::new(self.index(name)?);
        if let Some(v) = f.hairpin {
            b = b.hairpin(v);
        }
        if let Some(v) = f.isolated {
            b = b.isolated(v);
        }
        if let Some(v) = f.learning {
            b = b.learning(v);
        }
        if let Some(v) = f.flood {
            b = b.flood(v);
        }
        let msg = b.build();
        let h = self.handle.clone();
        self.rt
            .block_on(async move { h.link().set_port(msg).execute().await })
            .map_err(|e| nl_err("set bridge port", name, e))
    }

    /// Whether a bridge port has hairpin mode on.
    pub fn bridge_port_hairpin(&self, name: &str) -> Result<Option<bool>, KernelError> {
        use rtnetlink::packet_route::link::{InfoBridgePort, InfoPortData};
        let Some(m) = self.message(name)? else {
            return Err(KernelError::NoSuchLink(name.to_string()));
        };
        for a in &m.attributes {
            if let LinkAttribute::LinkInfo(infos) = a {
                for i in infos {
                    if let LinkInfo::PortData(InfoPortData::BridgePort(d)) = i {
                        for x in d {
                            if let InfoBridgePort::HairpinMode(v) = x {
                                return Ok(Some(*v));
                            }
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    /// Adds an address with its prefix length (one already there is an error, as with `ip addr add`).
    pub fn add_address(&self, name: &str, addr: IpAddr, prefix: u8) -> Result<(), KernelError> {
        let index = self.index(name)?;
        let h = self.handle.clone();
        self.rt
            .block_on(async move { h.address().add(index, addr, prefix).execute().await })
            .map_err(|e| nl_err("add address", name, e))
    }

    /// A default route via `gw` out of `name` (as `ip route add default via GW dev NAME`).
    pub fn add_default_route(&self, name: &str, gw: IpAddr) -> Result<(), KernelError> {
        use rtnetlink::RouteMessageBuilder;
        let index = self.index(name)?;
        let h = self.handle.clone();
        let msg = match gw {
            IpAddr::V4(g) => RouteMessageBuilder::<std::net::Ipv4Addr>::new()
                .output_interface(index)
                .gateway(g)
                .build(),
            IpAddr::V6(g) => RouteMessageBuilder::<std::net::Ipv6Addr>::new()
                .output_interface(index)
                .gateway(g)
                .build(),
        };
        self.rt
            .block_on(async move { h.route().add(msg).execute().await })
            .map_err(|e| nl_err("add default route", name, e))
    }

    /// A permanent neighbour (ARP/ND) entry: `ip` → `mac` on `name`.
    pub fn set_neighbour(&self, name: &str, ip: IpAddr, mac: [u8; 6]) -> Result<(), KernelError> {
        use rtnetlink::packet_route::neighbour::NeighbourState;
        let index = self.index(name)?;
        let h = self.handle.clone();
        self.rt
            .block_on(async move {
                h.neighbours()
                    .add(index, ip)
                    .link_layer_address(&mac)
                    .state(NeighbourState::Permanent)
                    .replace()
                    .execute()
                    .await
            })
            .map_err(|e| nl_err("add neighbour", name, e))
    }
}
