"""Security group rules as vepa rules: table-driven, and every line the
translation makes is one vepa's own parser takes (`vepa acl add` in a
daemon would refuse it otherwise; the ML2 test runs them for real)."""

import pytest

from networking_vepa import secgroups


def rule(**kw):
    r = {"id": "r", "direction": "ingress", "ethertype": "IPv4", "protocol": None,
         "port_range_min": None, "port_range_max": None, "remote_ip_prefix": None,
         "remote_group_id": None, "remote_address_group_id": None}
    r.update(kw)
    return r


@pytest.mark.parametrize("given,want", [
    (rule(), ["allow ip"]),
    (rule(ethertype="IPv6"), ["allow ip6"]),
    (rule(protocol="tcp", port_range_min=80, port_range_max=80), ["allow ip tcp dport 80"]),
    (rule(protocol="6", port_range_min=8000, port_range_max=8080,
          remote_ip_prefix="10.1.0.0/16"), ["allow ip tcp dport 8000-8080 src 10.1.0.0/16"]),
    (rule(direction="egress", protocol="udp", port_range_min=53, port_range_max=53,
          remote_ip_prefix="192.0.2.53/32"), ["allow ip udp dport 53 dst 192.0.2.53/32"]),
    (rule(protocol="icmp", port_range_min=8, port_range_max=0), ["allow ip icmp type 8 code 0"]),
    (rule(protocol="icmp", port_range_min=8), ["allow ip icmp type 8"]),
    (rule(ethertype="IPv6", protocol="icmp"), ["allow ip6 icmp6"]),
    (rule(ethertype="IPv6", protocol="ipv6-icmp", port_range_min=128),
     ["allow ip6 icmp6 type 128"]),
    (rule(ethertype="IPv6", protocol="58"), ["allow ip6 icmp6"]),
    (rule(protocol="gre"), ["allow ip proto 47"]),
    (rule(protocol="112"), ["allow ip proto 112"]),
    # 0 and "ip" are any protocol, as Neutron's firewall drivers read them.
    (rule(protocol="0"), ["allow ip"]),
    (rule(protocol="ip", remote_ip_prefix="10.9.0.0/16"), ["allow ip src 10.9.0.0/16"]),
    # /0 is everything of the family: no prefix.
    (rule(remote_ip_prefix="0.0.0.0/0"), ["allow ip"]),
    (rule(ethertype="IPv6", remote_ip_prefix="::/0", protocol="tcp"), ["allow ip6 tcp"]),
    # A remote group: its members' addresses of the rule's family.
    (rule(protocol="tcp", remote_group_id="g"),
     ["allow ip tcp src 10.0.0.5/32", "allow ip tcp src 10.0.0.6/32"]),
    (rule(ethertype="IPv6", remote_group_id="g"), ["allow ip6 src fd00::5/128"]),
])
def test_rule_lines(given, want):
    members = ["10.0.0.5", "10.0.0.6", "fd00::5"]
    assert secgroups.rule_lines(given, members) == want


@pytest.mark.parametrize("given", [
    rule(protocol="sctp", port_range_min=5000, port_range_max=5000),
    rule(protocol="dccp", port_range_min=1),
    rule(remote_address_group_id="ag"),
    rule(protocol="300"),
    rule(protocol="hopopt"),
    rule(protocol="made-up"),
    rule(ethertype="IPv6", remote_ip_prefix="10.0.0.0/8"),
])
def test_rules_vepa_cannot_say_exactly_are_left_out(given):
    with pytest.raises(secgroups.Skipped):
        secgroups.rule_lines(given, [])


def test_port_lists_are_stateful_allow_dhcp_and_drop_the_rest():
    seen = []
    egress, ingress = secgroups.port_lists(
        [rule(direction="egress"), rule(direction="egress", ethertype="IPv6"),
         rule(protocol="tcp", port_range_min=22, port_range_max=22),
         rule(protocol="tcp", port_range_min=22, port_range_max=22),  # twice: once
         rule(protocol="sctp", port_range_min=1, port_range_max=2, id="bad")],
        {}, log=seen.append)
    state = [secgroups.INVALID, secgroups.ESTABLISHED]
    assert egress == state + secgroups.DHCP_FROM_VM + secgroups.MLD_FROM_VM + [
        "allow ip", "allow ip6"]
    assert ingress == state + secgroups.DHCP_TO_VM + ["allow ip tcp dport 22"]
    assert len(seen) == 1 and "bad" in seen[0]


def test_stateless_groups_track_nothing():
    egress, ingress = secgroups.port_lists([rule(protocol="udp")], {}, stateful=False)
    assert not any("state" in line for line in egress + ingress)
    assert ingress == secgroups.DHCP_TO_VM + ["allow ip udp"]


@pytest.mark.parametrize("given,want", [
    ("10.0.0.5", "10.0.0.5"), ("10.0.0.5/24", "10.0.0.0/24"), ("fd00::5/64", "fd00::/64"),
    ("10.0.0.5/32", "10.0.0.5/32"),
])
def test_pair_prefixes_lose_their_host_bits(given, want):
    assert secgroups.prefix(given) == want


def test_vepa_takes_every_line():
    import vepa_testing
    lines = []
    members = ["10.0.0.5", "fd00::5"]
    for case in test_rule_lines.pytestmark[0].args[1]:
        lines += secgroups.rule_lines(case[0], members)
    lines += [secgroups.INVALID, secgroups.ESTABLISHED] + secgroups.DHCP_TO_VM
    lines += secgroups.DHCP_FROM_VM + secgroups.MLD_FROM_VM
    d = vepa_testing.Daemon()
    try:
        d.cli("switch", "add", "s1")
        d.cli("port", "add", "s1/vm1", "--type", "tap")
        d.client.request("POST", "/v1/acls", {
            "name": "all", "port": "s1/vm1", "direction": "out", "default": "drop",
            "rules": lines})
        got = d.client.get("/v1/acls/all")
        assert len(got["rules"]) == len(lines) and got["stateful"]
    finally:
        d.stop()
