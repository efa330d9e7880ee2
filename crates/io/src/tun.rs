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
//! vepa holds the device's only descriptor: the device lives as long as
//! the port (moved into a namespace and addressed there, as a container's
//! tap is).

use crate::port::Port;
use crate::tap::{read_device, write_device};
use crate::IoError;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use vepa_packet::{EtherType, MacAddr, VirtioNetHdr, ETH_HEADER_LEN};

#[derive(Debug)]
pub struct TunPort {
    name: String,
    file: File,
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
        let mut header = [0u8; ETH_HEADER_LEN];
        header[..6].copy_from_slice(&router.0);
        header[6..12].copy_from_slice(&peer.0);
        Ok(TunPort {
            name: name.to_string(),
            file,
            vnet: offloads,
            header,
        })
    }
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
        self.file.as_raw_fd()
    }

    fn offloads(&self) -> bool {
        self.vnet
    }

    fn recv<'a>(&self, buf: &'a mut [u8]) -> io::Result<Option<(VirtioNetHdr, &'a [u8])>> {
        if buf.len() <= ETH_HEADER_LEN {
            return Ok(None);
        }
        let fd = self.file.as_raw_fd();
        loop {
            let (head, body) = buf.split_at_mut(ETH_HEADER_LEN);
            let Some((hdr, len)) = read_device(fd, self.vnet, body)? else {
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
        let ip = match frame.get(12..14) {
            Some([0x08, 0x00]) | Some([0x86, 0xdd]) => &frame[ETH_HEADER_LEN..],
            _ => return Ok(()),
        };
        // A partial checksum must start in the IP packet, past the header
        // taken off.
        if self.vnet && vnet.needs_csum() && usize::from(vnet.csum_start) < ETH_HEADER_LEN {
            return Ok(());
        }
        let hdr = vnet.shifted(-(ETH_HEADER_LEN as i32));
        write_device(self.file.as_raw_fd(), self.vnet, &hdr, ip)
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
