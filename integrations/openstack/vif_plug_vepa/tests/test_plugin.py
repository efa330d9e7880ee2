"""The os-vif plugin against a real vepa daemon, with os-vif's own objects
and its plug/unplug entry points (as Nova calls them)."""

import os
import uuid

import os_vif
import pytest
from os_vif import exception as osv_exception
from os_vif import objects as osv_objects
from os_vif.objects import fields as osv_fields
from oslo_config import cfg

import vepa_testing
from vif_plug_vepa import client as vepa


def instance():
    return osv_objects.instance_info.InstanceInfo(
        uuid=str(uuid.uuid4()), name="instance-%s" % vepa_testing.uid(), project_id="demo")


def network(bridge="s1", vlan=None, mtu=None):
    net = osv_objects.network.Network(
        id=str(uuid.uuid4()), bridge=bridge, label="tenant-net",
        subnets=osv_objects.subnet.SubnetList(objects=[
            osv_objects.subnet.Subnet(cidr="10.50.0.0/24")]))
    if vlan is not None:
        net.vlan = vlan
        net.should_provide_vlan = True
    if mtu is not None:
        net.mtu = mtu
    return net


def tap_vif(mac, net, name=None, filtered=False):
    vid = str(uuid.uuid4())
    return osv_objects.vif.VIFGeneric(
        id=vid, address=mac, network=net, plugin="vepa",
        vif_name=name or ("tap" + vid)[:14], has_traffic_filtering=filtered)


def cause(e):
    """What the plugin raised under os-vif's wrapping: the daemon's error
    (with the field it names) or the plugin's own ValueError."""
    c = e.value
    while isinstance(c, osv_exception.ExceptionBase):
        c = c.__cause__ or c.__context__
    return c


def port(daemon, switch, name):
    try:
        return daemon.client.get("/v1/switches/%s/ports/%s" % (switch, name))["spec"]
    except vepa.NotFound:
        return None


def test_describe_names_both_vif_types():
    info = os_vif.host_info()
    mine = [p for p in info.plugin_info if p.plugin_name == "vepa"]
    assert len(mine) == 1
    names = {v.vif_object_name: (v.min_version, v.max_version) for v in mine[0].vif_info}
    assert names == {"VIFGeneric": ("1.0", "1.0"), "VIFVHostUser": ("1.0", "1.1")}


def test_plug_tap_then_ping_through_it_then_unplug(daemon):
    d = daemon
    d.cli("switch", "add", "s1", "--mode", "veb")
    # The far side: a namespace on a veth port of the same switch.
    peer = "p" + vepa_testing.uid()
    d.cli("port", "add", "s1/%s" % peer, "--type", "veth", "--netns", peer,
          "--address", "10.50.0.2/24")
    mac = "fa:16:3e:12:34:56"
    vif = tap_vif(mac, network("s1", mtu=1500))
    inst = instance()
    os_vif.plug(vif, inst)
    got = port(d, "s1", vif.vif_name)
    assert got is not None, d.log()
    assert got["type"] == "tap" and got["mac"] == mac, got
    # Plugged twice: nothing changes (os-vif's plug must be idempotent).
    before = d.client.topology()["generation"]
    os_vif.plug(vif, inst)
    assert d.client.topology()["generation"] == before

    guest = vepa_testing.Guest(d, vif.vif_name, mac, "10.50.0.1/24")
    try:
        out = guest.ping("10.50.0.2", count=3)
        assert " 0% packet loss" in out.stdout, out.stdout
    finally:
        guest.stop()
        # The peer's port goes before its namespace (else the daemon's next
        # change would make both again).
        d.cli("port", "del", "s1/%s" % peer)
        vepa_testing.run("ip", "netns", "del", peer, check=False)

    os_vif.unplug(vif, inst)
    assert port(d, "s1", vif.vif_name) is None
    links = d.ns.run("ip", "-o", "link", "show").stdout
    assert vif.vif_name not in links, links
    # Unplugged twice: still fine.
    os_vif.unplug(vif, inst)


def test_plug_takes_the_vlan_and_keeps_the_port_to_its_switch(daemon):
    d = daemon
    d.cli("switch", "add", "s1")
    d.cli("switch", "add", "s2")
    vif = tap_vif("fa:16:3e:00:00:07", network("s1", vlan=120))
    os_vif.plug(vif, instance())
    assert port(d, "s1", vif.vif_name)["vlan"] == 120
    # Re-plugged on another VLAN: the port follows (one change, not two ports).
    vif.network.vlan = 130
    os_vif.plug(vif, instance())
    assert port(d, "s1", vif.vif_name)["vlan"] == 130
    # The same device name on another switch is refused, naming vif_name.
    other = tap_vif("fa:16:3e:00:00:08", network("s2"), name=vif.vif_name)
    with pytest.raises(osv_exception.PlugException) as e:
        os_vif.plug(other, instance())
    assert str(cause(e)).startswith("vif_name: switch 's1' has a port"), cause(e)
    assert port(d, "s2", vif.vif_name) is None
    os_vif.unplug(vif, instance())


def test_plug_errors_are_os_vif_exceptions_naming_the_field(daemon):
    d = daemon
    d.cli("switch", "add", "s1")
    # A switch that does not exist.
    vif = tap_vif("fa:16:3e:00:00:09", network("nope"))
    with pytest.raises(osv_exception.PlugException) as e:
        os_vif.plug(vif, instance())
    assert isinstance(cause(e), vepa.NotFound) and cause(e).field == "switch", cause(e)
    assert "no switch 'nope'" in str(cause(e))
    # A device name the kernel cannot take.
    bad = tap_vif("fa:16:3e:00:00:0a", network("s1"), name="a-name-far-too-long-for-linux")
    with pytest.raises(osv_exception.PlugException) as e:
        os_vif.plug(bad, instance())
    assert isinstance(cause(e), vepa.VepaError) and cause(e).status == 422, cause(e)
    assert "name" in (cause(e).field or ""), cause(e)
    # vhost-user where QEMU would be the server: vepa serves the socket.
    vu = osv_objects.vif.VIFVHostUser(
        id=str(uuid.uuid4()), address="fa:16:3e:00:00:0b", network=network("s1"),
        plugin="vepa", path=os.path.join(d.vhost_dir, "s1", "x.sock"),
        mode=osv_fields.VIFVHostUserMode.SERVER)
    with pytest.raises(osv_exception.PlugException) as e:
        os_vif.plug(vu, instance())
    assert str(cause(e)).startswith("mode: vepa serves the vhost-user socket"), cause(e)
    # Nothing was half-made.
    assert [p["spec"]["name"] for p in d.client.get("/v1/switches/s1/ports")] == []


def test_plug_vhost_user_serves_the_socket_then_unplug_removes_it(daemon):
    d = daemon
    d.cli("switch", "add", "s1")
    vid = str(uuid.uuid4())
    path = os.path.join(d.vhost_dir, "s1", ("vhu" + vid)[:14] + ".sock")
    vif = osv_objects.vif.VIFVHostUser(
        id=vid, address="fa:16:3e:00:00:0c", network=network("s1", vlan=7),
        plugin="vepa", path=path, mode=osv_fields.VIFVHostUserMode.CLIENT,
        vif_name=("vhu" + vid)[:14])
    os_vif.plug(vif, instance())
    got = port(d, "s1", vif.vif_name)
    assert got["type"] == "vhost-user" and got["vlan"] == 7, got
    assert os.path.exists(path), "vepa made no socket at %s" % path
    os_vif.unplug(vif, instance())
    assert port(d, "s1", vif.vif_name) is None
    assert not os.path.exists(path)


def test_unplug_removes_the_acls_on_the_port_in_the_same_change(daemon):
    d = daemon
    d.cli("switch", "add", "s1")
    vif = tap_vif("fa:16:3e:00:00:0d", network("s1"))
    os_vif.plug(vif, instance())
    d.cli("acl", "add", "fw", "--port", "s1/%s" % vif.vif_name, "--default", "drop",
          "allow state established,related")
    assert [a["name"] for a in d.client.get("/v1/acls")] == ["fw"]
    os_vif.unplug(vif, instance())
    assert port(d, "s1", vif.vif_name) is None
    assert d.client.get("/v1/acls") == []


def test_an_unreachable_daemon_is_a_plug_exception():
    cfg.CONF.set_override("api", "/nonexistent/vepa.sock", group="os_vif_vepa")
    try:
        with pytest.raises(osv_exception.PlugException) as e:
            os_vif.plug(tap_vif("fa:16:3e:00:00:0e", network("s1")), instance())
        assert isinstance(cause(e), vepa.VepaUnreachable), cause(e)
    finally:
        cfg.CONF.clear_override("api", group="os_vif_vepa")


def test_a_filtered_vif_is_never_plugged_open(daemon):
    """has_traffic_filtering (Neutron's port_filter): a port plug has to make
    comes with its guard and both lists dropping everything, in one change,
    until the ML2 driver fills them."""
    d = daemon
    d.cli("switch", "add", "s1")
    peer = "p" + vepa_testing.uid()
    d.cli("port", "add", "s1/%s" % peer, "--type", "veth", "--netns", peer,
          "--address", "10.50.0.2/24")
    net = network("s1")
    net.subnets.objects[0].ips = osv_objects.fixed_ip.FixedIPList(
        objects=[osv_objects.fixed_ip.FixedIP(address="10.50.0.1")])
    mac = "fa:16:3e:00:00:10"
    vif = tap_vif(mac, net, filtered=True)
    before = d.client.topology()["generation"]
    os_vif.plug(vif, instance())
    assert d.client.topology()["generation"] == before + 1, "one change"
    got = port(d, "s1", vif.vif_name)
    assert (got["guard"], got["allowed_macs"], got["allowed_ips"]) == (True, [mac], ["10.50.0.1"])
    acls = {a["name"]: a for a in d.client.get("/v1/acls")}
    for suffix, place in (("-egress", " in"), ("-ingress", " out")):
        a = acls[vif.vif_name + suffix]
        assert (a["default"], a["rules"], a["place"]) == (
            "drop", [], "port s1/%s%s" % (vif.vif_name, place)), a
    guest = vepa_testing.Guest(d, vif.vif_name, mac, "10.50.0.1/24")
    try:
        out = guest.ping("10.50.0.2", count=2, check=False)
        assert out.returncode != 0, out.stdout
        # Opened by hand (as the driver would): the same port passes.
        d.cli("acl", "add", vif.vif_name + "-egress", "allow icmp")
        d.cli("acl", "add", vif.vif_name + "-ingress", "allow icmp")
        assert guest.ping("10.50.0.2", count=2, check=False).returncode == 0
    finally:
        guest.stop()
        d.cli("port", "del", "s1/%s" % peer)
        vepa_testing.run("ip", "netns", "del", peer, check=False)
    os_vif.unplug(vif, instance())
    assert d.client.get("/v1/acls") == []
