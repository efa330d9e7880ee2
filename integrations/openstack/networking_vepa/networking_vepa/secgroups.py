"""Neutron security groups as vepa ACLs.

A port's groups become two lists on its vepa port: ``in`` (what the VM
sends: the groups' egress rules) and ``out`` (what it receives: their
ingress rules). Both drop what no rule allows, as Neutron's firewall
drivers do. For stateful groups (Neutron's default) both track
connections: ``drop state invalid``, then ``allow state
established,related``, so replies to what a rule allowed come back;
stateless groups get neither, and their replies need rules of their own.
DHCP to and from the VM and the VM's multicast listener reports (MLD)
pass; ARP and neighbour discovery always pass vepa's lists; spoofing is
the port guard's job (``guard``, ``allowed_ips``).

Rules vepa cannot express exactly are left out, never widened: a port
range on a protocol other than TCP or UDP (SCTP, DCCP, UDP-Lite), and
remote address groups. Protocol 0 (and ``ip``) means any, as in Neutron's
firewall drivers.
"""

import ipaddress

# IANA protocol numbers of the names Neutron accepts.
PROTOCOLS = {
    "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "igmp": 2,
    "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-nonxt": 59,
    "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46,
    "sctp": 132, "udplite": 136, "vrrp": 112, "encap": 98,
}

INVALID = "drop state invalid"
ESTABLISHED = "allow state established,related"
# The VM's MLD reports and queries (ICMPv6 130, 131, 132, 143), as Neutron allows.
MLD_FROM_VM = ["allow ip6 icmp6 type %d" % t for t in (130, 131, 132, 143)]
# DHCP between the VM (client) and the network's server, both families.
DHCP_TO_VM = ["allow ip udp sport 67 dport 68", "allow ip6 udp sport 547 dport 546"]
DHCP_FROM_VM = ["allow ip udp sport 68 dport 67", "allow ip6 udp sport 546 dport 547"]


class Skipped(Exception):
    """A rule vepa cannot express without widening it."""


def _protocol(rule, v6):
    """The rule's protocol as vepa's rule words."""
    p = rule.get("protocol")
    if p in (None, "", "any", "ip", "0", 0):
        return []
    p = str(p).lower()
    if p.isdigit():
        n = int(p)
        if n > 255:
            raise Skipped("protocol %s is not 0-255" % p)
        names = {6: "tcp", 17: "udp", 1: "icmp6" if v6 else "icmp", 58: "icmp6"}
        return [names[n]] if n in names else ["proto", str(n)]
    if p == "tcp" or p == "udp":
        return [p]
    if p in ("icmp", "ipv6-icmp", "icmpv6"):
        return ["icmp6" if v6 else "icmp"]
    if p in PROTOCOLS:
        return ["proto", str(PROTOCOLS[p])]
    raise Skipped("protocol '%s' is unknown" % p)


def rule_lines(rule, remote_ips=None):
    """vepa rules for one Neutron rule. ``remote_ips`` are the addresses of
    the ports in the rule's remote group (when it names one). Raises
    Skipped for a rule vepa cannot express exactly."""
    v6 = rule.get("ethertype") == "IPv6"
    words = ["allow", "ip6" if v6 else "ip"]
    proto = _protocol(rule, v6)
    words += proto
    lo, hi = rule.get("port_range_min"), rule.get("port_range_max")
    if proto in (["tcp"], ["udp"]):
        if lo is not None or hi is not None:
            lo = lo if lo is not None else hi
            hi = hi if hi is not None else lo
            words += ["dport", str(lo) if lo == hi else "%d-%d" % (lo, hi)]
    elif proto in (["icmp"], ["icmp6"]):
        if lo is not None:
            words += ["type", str(lo)]
            if hi is not None:
                words += ["code", str(hi)]
    elif lo is not None or hi is not None:
        raise Skipped("a port range on protocol '%s' (vepa matches ports of tcp and udp only)"
                      % rule.get("protocol"))
    if rule.get("remote_address_group_id"):
        raise Skipped("remote address groups")
    side = "src" if rule.get("direction") == "ingress" else "dst"
    if rule.get("remote_group_id"):
        out = []
        for ip in remote_ips or []:
            a = ipaddress.ip_interface(ip)
            if (a.version == 6) == v6:
                out.append(" ".join(words + [side, str(a.network)]))
        return out
    prefix = rule.get("normalized_cidr") or rule.get("remote_ip_prefix")
    if prefix:
        net = ipaddress.ip_network(prefix, strict=False)
        if (net.version == 6) != v6:
            raise Skipped("remote_ip_prefix %s is not %s" % (prefix, rule.get("ethertype")))
        if net.prefixlen:
            words += [side, str(net)]
    return [" ".join(words)]


def prefix(address):
    """An allowed address pair's address as vepa takes it: a prefix with
    its host bits cleared (Neutron keeps ``10.0.0.5/24`` as given)."""
    if "/" not in str(address):
        return str(address)
    return str(ipaddress.ip_network(address, strict=False))


def port_lists(rules, members, stateful=True, log=None):
    """(in rules, out rules) for a port whose groups hold ``rules``;
    ``members`` maps a remote group's id to its ports' addresses."""
    state = [INVALID, ESTABLISHED] if stateful else []
    lists = {"egress": state + DHCP_FROM_VM + MLD_FROM_VM, "ingress": state + DHCP_TO_VM}
    for r in rules:
        try:
            lines = rule_lines(r, members.get(r.get("remote_group_id"), []))
        except Skipped as e:
            if log:
                log("security group rule %s left out: %s" % (r.get("id"), e))
            continue
        target = lists["ingress" if r.get("direction") == "ingress" else "egress"]
        for line in lines:
            if line not in target:
                target.append(line)
    return lists["egress"], lists["ingress"]
