//! A flow's match: a value and a mask over the packet [`Key`].
//!
//! A bit set in the mask must equal the value's bit; a clear bit is a
//! wildcard. Values are kept pre-masked, so two matches that accept the
//! same packets compare equal (what OpenFlow's "identical match" means for
//! strict modify and delete).

use super::FlowError;
use crate::key::{Field, Key, Prerequisite, KEY_WORDS, VID_PRESENT};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Match {
    value: Key,
    mask: Key,
}

impl Match {
    /// Matches every packet.
    pub fn any() -> Match {
        Match::default()
    }

    pub fn value(&self) -> &Key {
        &self.value
    }

    pub fn mask(&self) -> &Key {
        &self.mask
    }

    /// Requires `field` to equal `value` on the bits set in `mask`. A field
    /// set twice keeps the last value. Bits beyond the field's width are
    /// refused, naming the field.
    pub fn set(&mut self, field: Field, value: u128, mask: u128) -> Result<(), FlowError> {
        let full = field.full_mask();
        if value & !full != 0 || mask & !full != 0 {
            return Err(FlowError::Field {
                field,
                problem: format!(
                    "value {value:#x}/{mask:#x} is wider than its {} bits",
                    field.bits()
                ),
            });
        }
        if mask != full && !field.maskable() && mask != 0 {
            return Err(FlowError::Field {
                field,
                problem: "this field cannot be matched with a mask".into(),
            });
        }
        if value & !mask != 0 {
            return Err(FlowError::Field {
                field,
                problem: format!("value {value:#x} has bits outside its mask {mask:#x}"),
            });
        }
        field.put(&mut self.value, value);
        field.put(&mut self.mask, mask);
        Ok(())
    }

    /// Requires `field` to equal `value` exactly.
    pub fn exact(&mut self, field: Field, value: u128) -> Result<(), FlowError> {
        self.set(field, value, field.full_mask())
    }

    /// The value and mask this match gives `field`; `None` when it is a
    /// full wildcard.
    pub fn get(&self, field: Field) -> Option<(u128, u128)> {
        let m = field.get(&self.mask);
        (m != 0).then(|| (field.get(&self.value), m))
    }

    /// Whether a packet with `key` matches.
    #[inline]
    pub fn matches(&self, key: &Key) -> bool {
        (0..KEY_WORDS).all(|i| key[i] & self.mask[i] == self.value[i])
    }

    /// Whether every packet `other` matches is matched by `self` too: what
    /// a non-strict modify or delete uses to pick the flows it changes.
    pub fn covers(&self, other: &Match) -> bool {
        (0..KEY_WORDS).all(|i| {
            self.mask[i] & !other.mask[i] == 0 && other.value[i] & self.mask[i] == self.value[i]
        })
    }

    /// The fields this match constrains, each under its OpenFlow name: the
    /// fields that share a slot are told apart by the prerequisites the
    /// match states (a port slot under `ip_proto=6` is `tcp_src`).
    pub fn fields(&self) -> Vec<(Field, u128, u128)> {
        let eth = self.get(Field::EthType).map(|(v, _)| v as u16);
        let proto = self.get(Field::IpProto).map(|(v, _)| v as u8);
        let mut out = Vec::new();
        for f in Field::ALL {
            let Some((v, m)) = self.get(f) else { continue };
            if self.slot_owner(f, eth, proto) {
                out.push((f, v, m));
            }
        }
        out
    }

    /// For a field sharing its slot with others: whether it is the one this
    /// match means.
    fn slot_owner(&self, f: Field, eth: Option<u16>, proto: Option<u8>) -> bool {
        use vepa_packet::EtherType;
        match f {
            Field::Ipv4Src | Field::Ipv4Dst => eth == Some(EtherType::IPV4),
            Field::ArpSpa | Field::ArpTpa => eth == Some(EtherType::ARP),
            Field::Ipv6Src | Field::Ipv6Dst => eth == Some(EtherType::IPV6),
            Field::TcpSrc | Field::TcpDst => proto == Some(crate::key::IPPROTO_TCP),
            Field::UdpSrc | Field::UdpDst => proto == Some(crate::key::IPPROTO_UDP),
            Field::Icmpv4Type | Field::Icmpv4Code => {
                proto == Some(crate::key::IPPROTO_ICMP) && eth == Some(EtherType::IPV4)
            }
            Field::Icmpv6Type | Field::Icmpv6Code => {
                proto == Some(crate::key::IPPROTO_ICMPV6) && eth == Some(EtherType::IPV6)
            }
            _ => true,
        }
    }

    /// Checks each field's prerequisites (OpenFlow 1.3 §7.2.3.6): `tcp_dst`
    /// needs `ip_proto=6` and an IP EtherType, `vlan_pcp` a VLAN, and so on.
    pub fn check_prerequisites(&self, set: &[Field]) -> Result<(), FlowError> {
        let eth = self
            .get(Field::EthType)
            .filter(|(_, m)| *m == 0xffff)
            .map(|(v, _)| v as u16);
        let proto = self
            .get(Field::IpProto)
            .filter(|(_, m)| *m == 0xff)
            .map(|(v, _)| v as u8);
        for &f in set {
            let ok = match f.prerequisite() {
                Prerequisite::None => true,
                Prerequisite::VlanPresent => matches!(
                    self.get(Field::VlanVid),
                    Some((v, m)) if v & VID_PRESENT as u128 != 0 && m & VID_PRESENT as u128 != 0
                ),
                Prerequisite::EthType(types) => eth.is_some_and(|e| types.contains(&e)),
                Prerequisite::IpProto(need_eth, p) => {
                    proto == Some(p)
                        && eth.is_some_and(|e| {
                            if need_eth == 0 {
                                e == vepa_packet::EtherType::IPV4
                                    || e == vepa_packet::EtherType::IPV6
                            } else {
                                e == need_eth
                            }
                        })
                }
            };
            if !ok {
                return Err(FlowError::Prerequisite {
                    field: f,
                    needs: match f.prerequisite() {
                        Prerequisite::VlanPresent => "a VLAN tag (vlan_vid with the present bit)",
                        Prerequisite::EthType(_) => {
                            "eth_type set to a matching protocol (ip, ipv6, arp)"
                        }
                        Prerequisite::IpProto(..) => {
                            "eth_type and ip_proto set to a matching protocol (tcp, udp, icmp)"
                        }
                        Prerequisite::None => "",
                    },
                });
            }
        }
        Ok(())
    }

    /// Number of mask bits set: a rough specificity, for tests and stats.
    pub fn specificity(&self) -> u32 {
        self.mask.iter().map(|w| w.count_ones()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(fields: &[(Field, u128, u128)]) -> Match {
        let mut m = Match::any();
        for &(f, v, k) in fields {
            m.set(f, v, k).expect("valid");
        }
        m
    }

    #[test]
    fn covers_is_subset_of_packets() {
        let ip = m(&[(Field::EthType, 0x800, 0xffff)]);
        let net = m(&[
            (Field::EthType, 0x800, 0xffff),
            (Field::Ipv4Dst, 0x0a000000, 0xff000000),
        ]);
        let host = m(&[
            (Field::EthType, 0x800, 0xffff),
            (Field::Ipv4Dst, 0x0a000002, 0xffffffff),
        ]);
        assert!(Match::any().covers(&ip));
        assert!(ip.covers(&net) && net.covers(&host) && ip.covers(&host));
        assert!(!host.covers(&net) && !net.covers(&ip));
        assert!(host.covers(&host));
    }

    #[test]
    fn refuses_what_openflow_refuses() {
        let mut x = Match::any();
        assert!(x.set(Field::VlanPcp, 8, 7).is_err(), "wider than 3 bits");
        assert!(
            x.set(Field::IpProto, 6, 0x0f).is_err(),
            "ip_proto is not maskable"
        );
        assert!(
            x.set(Field::Ipv4Src, 0x0a000001, 0xff000000).is_err(),
            "bits outside mask"
        );
        let tcp = m(&[(Field::TcpDst, 80, 0xffff)]);
        assert!(tcp.check_prerequisites(&[Field::TcpDst]).is_err());
        let tcp = m(&[
            (Field::EthType, 0x800, 0xffff),
            (Field::IpProto, 6, 0xff),
            (Field::TcpDst, 80, 0xffff),
        ]);
        assert!(tcp.check_prerequisites(&[Field::TcpDst]).is_ok());
        assert_eq!(
            tcp.fields().iter().map(|f| f.0).collect::<Vec<_>>(),
            [Field::EthType, Field::IpProto, Field::TcpDst]
        );
    }
}
