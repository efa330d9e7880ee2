//! TUN ports: a router's point-to-point port over a TUN device, whose far
//! side (a namespace's stack, a VPN daemon) sends and takes IP packets with
//! no Ethernet header.
//!
//! The dataplane speaks Ethernet, so the port puts a header on what it
//! reads (to the router port's MAC, from a fixed MAC standing for the far
//! end, the router's `peer_mac`) and takes it off what it sends; anything
//! but IPv4 and IPv6 (an ARP the router would never send there) is not
//! sent. With offloads the device is opened with `IFF_VNET_HDR`, as a
//! tap is, and the header's offsets move by the Ethernet header's length.
//!
//! Either vepa holds the device's only descriptor, and the device lives
//! as long as the port (moved into a namespace and addressed there, as a
//! container's tap is); or the device is persistent and a VPN daemon holds
//! it, and the port is an AF_PACKET socket on the device's kernel side
//! ([`TunPort::attach`]): what the daemon writes, the device receives and
//! the socket reads; what the socket sends, the device hands the daemon.

use crate::port::Port;
use crate::sys::{iovec, setsockopt};
use crate::tap::{read_device, write_device};
use crate::IoError;
use std::fs::File;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use vepa_packet::{EtherType, MacAddr, VirtioNetHdr, ETH_HEADER_LEN};

/// Where the port's packets come from and go.
#[derive(Debug)]
enum Side {
    /// The device's descriptor.
    Device(File),
    /// A packet socket on the device (whose descriptor a VPN holds).
    Socket { fd: OwnedFd, ifindex: i32 },
}

#[derive(Debug)]
pub struct TunPort {
    name: String,
    side: Side,
    vnet: bool,
    /// The Ethernet header put on what the device sends: to the router
    /// port, from the far end (the ethertype follows the IP version).
    header: [u8; ETH_HEADER_LEN],
}

impl TunPort {
    /// Creates TUN device `name` and opens it non-blocking; `router` is the
    /// router port's MAC, `peer` the one standing for the far end.
    pub fn create(
        name: &str,
        offloads: bool,
        router: MacAddr,
        peer: MacAddr,
    ) -> Result<TunPort, IoError> {
        // Exclusive: never take over a device that exists (someone else's
        // persistent TUN) and readdress it.
        let file = crate::tap::open_device(
            name,
            libc::IFF_TUN | libc::IFF_TUN_EXCL,
            offloads,
            "create tun",
        )?;
        Ok(TunPort {
            name: name.to_string(),
            side: Side::Device(file),
            vnet: offloads,
            header: header(router, peer),
        })
    }

    /// Opens the kernel side of TUN device `name` (in the calling thread's
    /// namespace), which another program holds: an AF_PACKET socket that
    /// reads what the device receives and sends through it, never its own
    /// packets back (raw: the device has no link-layer header, so a packet
    /// is its IP packet; the ethertype goes in the address sent to). It speaks the virtio-net header
    /// (`PACKET_VNET_HDR`) whatever the program chose: partial checksums
    /// and GSO super-packets it writes arrive whole, and the kernel
    /// finishes what vepa sends before the device takes it.
    pub fn attach(name: &str, router: MacAddr, peer: MacAddr) -> Result<TunPort, IoError> {
        let (fd, ifindex) = crate::packet_socket::unbound_socket(name)?;
        setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            PACKET_IGNORE_OUTGOING,
            &1i32,
        )
        .map_err(|_| IoError::os("ignore outgoing packets on", name))?;
        setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_VNET_HDR,
            &1i32,
        )
        .map_err(|_| IoError::os("enable PACKET_VNET_HDR on", name))?;
        let _ = setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &(4i32 << 20),
        );
        // Through the device's queue, not around it (PACKET_QDISC_BYPASS):
        // a GSO super-packet is cut to size there for a VPN that takes no
        // offloads, where the bypass would drop it. With no VPN attached
        // the device has no carrier, and its queue drops at once.
        let sll = sockaddr(ifindex, libc::ETH_P_ALL as u16);
        // SAFETY: sll is a valid sockaddr_ll and its size is passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc < 0 {
            return Err(IoError::os("bind AF_PACKET socket to", name));
        }
        Ok(TunPort {
            name: name.to_string(),
            side: Side::Socket { fd, ifindex },
            vnet: true,
            header: header(router, peer),
        })
    }

    fn raw_fd(&self) -> RawFd {
        match &self.side {
            Side::Device(f) => f.as_raw_fd(),
            Side::Socket { fd, .. } => fd.as_raw_fd(),
        }
    }

    /// Reads one packet into `body`: its virtio-net header and length.
    /// (A socket ignores what it sent itself, so every packet read is the
    /// far end's. A packet socket would cut a packet longer than `body`
    /// without a word; bodies are `MAX_FRAME`, above the 64 KiB a GSO
    /// packet can reach, so none is.)
    fn read(&self, body: &mut [u8]) -> io::Result<Option<(VirtioNetHdr, usize)>> {
        read_device(self.raw_fd(), self.vnet, body)
    }

    /// Sends IP packet `ip` (ethertype `et`) to the far end.
    fn write(&self, hdr: &VirtioNetHdr, et: u16, ip: &[u8]) -> io::Result<()> {
        let Side::Socket { fd, ifindex } = &self.side else {
            return write_device(self.raw_fd(), self.vnet, hdr, ip);
        };
        let mut to = sockaddr(*ifindex, et);
        let head = hdr.to_bytes();
        let mut iov = [iovec(&head), iovec(ip)];
        // SAFETY: all-zero is a valid msghdr; its fields are set below.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut to as *mut libc::sockaddr_ll).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_ll>() as u32;
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = iov.len();
        // SAFETY: msg points at a live address and two iovecs over live
        // buffers of the stated lengths, all outliving the call.
        let n = unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// A link-layer address naming device `ifindex` and `protocol` (host order).
fn sockaddr(ifindex: i32, protocol: u16) -> libc::sockaddr_ll {
    // SAFETY: all-zero is a valid sockaddr_ll; fields are set below.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = protocol.to_be();
    sll.sll_ifindex = ifindex;
    sll
}

/// The Ethernet header put on what the device sends: to the router port,
/// from the far end (the ethertype is filled in per packet).
fn header(router: MacAddr, peer: MacAddr) -> [u8; ETH_HEADER_LEN] {
    let mut h = [0u8; ETH_HEADER_LEN];
    h[..6].copy_from_slice(&router.0);
    h[6..12].copy_from_slice(&peer.0);
    h
}

/// The ethertype of an IP packet, by its version.
fn ethertype(packet: &[u8]) -> Option<u16> {
    match packet.first()? >> 4 {
        4 => Some(EtherType::IPV4),
        6 => Some(EtherType::IPV6),
        _ => None,
    }
}

impl Port for TunPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn fd(&self) -> RawFd {
        self.raw_fd()
    }

    fn offloads(&self) -> bool {
        self.vnet
    }

    fn recv<'a>(&self, buf: &'a mut [u8]) -> io::Result<Option<(VirtioNetHdr, &'a [u8])>> {
        if buf.len() <= ETH_HEADER_LEN {
            return Ok(None);
        }
        loop {
            let (head, body) = buf.split_at_mut(ETH_HEADER_LEN);
            let Some((hdr, len)) = self.read(body)? else {
                return Ok(None);
            };
            // Neither IPv4 nor IPv6 (nothing else comes from a TUN
            // device without packet info): read the next one.
            let Some(et) = ethertype(&body[..len]) else {
                continue;
            };
            head.copy_from_slice(&self.header);
            head[12..14].copy_from_slice(&et.to_be_bytes());
            let vnet = hdr.shifted(ETH_HEADER_LEN as i32);
            return Ok(Some((vnet, &buf[..ETH_HEADER_LEN + len])));
        }
    }

    fn send(&self, vnet: &VirtioNetHdr, frame: &[u8]) -> io::Result<()> {
        // Only IP crosses; a tagged frame never reaches a TUN's switch.
        let (et, ip) = match frame.get(12..14) {
            Some([0x08, 0x00]) => (EtherType::IPV4, &frame[ETH_HEADER_LEN..]),
            Some([0x86, 0xdd]) => (EtherType::IPV6, &frame[ETH_HEADER_LEN..]),
            _ => return Ok(()),
        };
        // A partial checksum must start in the IP packet, past the header
        // taken off.
        if self.vnet && vnet.needs_csum() && usize::from(vnet.csum_start) < ETH_HEADER_LEN {
            return Ok(());
        }
        let hdr = vnet.shifted(-(ETH_HEADER_LEN as i32));
        self.write(&hdr, et, ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_versions_name_their_ethertype() {
        assert_eq!(ethertype(&[0x45, 0]), Some(EtherType::IPV4));
        assert_eq!(ethertype(&[0x60, 0]), Some(EtherType::IPV6));
        assert_eq!(ethertype(&[0x00]), None);
        assert_eq!(ethertype(&[]), None);
    }
}
