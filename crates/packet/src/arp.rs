//! ARP over Ethernet/IPv4: enough to recognise requests and replies
//! (the integration tests count them; the router will answer them).

use crate::{MacAddr, ParseError};
use std::net::Ipv4Addr;

pub const ARP_LEN: usize = 28;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpOperation {
    Request,
    Reply,
    Other(u16),
}

/// A checked view of an Ethernet/IPv4 ARP packet (the Ethernet payload).
#[derive(Debug, Clone, Copy)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// A view of `buf`, which [`new_checked`](Self::new_checked) accepted:
    /// for a caller that keeps what it parsed. Anything else may make the
    /// accessors panic.
    #[inline]
    pub fn reparsed(buf: T) -> Self {
        ArpPacket { buf }
    }

    #[inline]
    pub fn new_checked(buf: T) -> Result<Self, ParseError> {
        let b = buf.as_ref();
        if b.len() < ARP_LEN {
            return Err(ParseError::Truncated {
                len: b.len(),
                need: ARP_LEN,
            });
        }
        let htype = u16::from_be_bytes([b[0], b[1]]);
        if htype != 1 {
            return Err(ParseError::Unsupported {
                field: "arp.htype",
                value: htype,
            });
        }
        let ptype = u16::from_be_bytes([b[2], b[3]]);
        if ptype != 0x0800 || b[4] != 6 || b[5] != 4 {
            return Err(ParseError::Unsupported {
                field: "arp.ptype",
                value: ptype,
            });
        }
        Ok(ArpPacket { buf })
    }

    #[inline]
    pub fn operation(&self) -> ArpOperation {
        let b = self.buf.as_ref();
        match u16::from_be_bytes([b[6], b[7]]) {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            o => ArpOperation::Other(o),
        }
    }

    #[inline]
    pub fn sender_mac(&self) -> MacAddr {
        MacAddr::from_slice(&self.buf.as_ref()[8..14])
    }

    #[inline]
    pub fn sender_ip(&self) -> Ipv4Addr {
        let b = self.buf.as_ref();
        Ipv4Addr::new(b[14], b[15], b[16], b[17])
    }

    #[inline]
    pub fn target_ip(&self) -> Ipv4Addr {
        let b = self.buf.as_ref();
        Ipv4Addr::new(b[24], b[25], b[26], b[27])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_request() {
        let mut p = vec![0, 1, 8, 0, 6, 4, 0, 1];
        p.extend_from_slice(&[2, 0, 0, 0, 0, 1, 10, 0, 0, 1]);
        p.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
        let a = ArpPacket::new_checked(&p[..]).unwrap();
        assert_eq!(a.operation(), ArpOperation::Request);
        assert_eq!(a.sender_ip(), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(a.target_ip(), Ipv4Addr::new(10, 0, 0, 2));
        assert!(ArpPacket::new_checked(&p[..20]).is_err());
    }
}
