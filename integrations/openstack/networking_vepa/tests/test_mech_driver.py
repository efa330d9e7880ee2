"""The ML2 driver inside Neutron's own ML2 plugin (Neutron's ML2 test base:
the real plugin, type drivers, port binding and security group code over
an in-memory database), binding ports on a real vepa daemon; namespaces
play the VMs behind the bound taps and real traffic checks the security
groups."""

import os
import subprocess
import sys
import time

from neutron_lib.api.definitions import portbindings
from oslo_config import cfg

from neutron.conf.plugins.ml2 import config as ml2_config
from neutron.conf.plugins.ml2.drivers import driver_type
from neutron.tests.unit.plugins.ml2 import test_plugin

from networking_vepa import config
import vepa_testing

HOST = "compute-1"
HERE = os.path.dirname(os.path.abspath(__file__))


class VepaMl2TestCase(test_plugin.Ml2PluginV2TestCase):

    _mechanism_drivers = ["vepa"]

    def setUp(self):
        self.daemon = vepa_testing.Daemon()
        self.addCleanup(self.daemon.stop)
        d = self.daemon
        # An underlay for VXLAN: the daemon's namespace is 192.0.2.1, a
        # namespace with the kernel's own vxlan device (a host without
        # vepa) is 192.0.2.2.
        self.remote = vepa_testing.Netns("vor")
        self.addCleanup(self.remote.delete)
        ul = "ul" + vepa_testing.uid()
        d.ns.sh("ip link add %s type veth peer name eth0 netns %s && "
                "ip addr add 192.0.2.1/24 dev %s && ip link set %s up"
                % (ul, self.remote.name, ul, ul))
        self.remote.sh("ip addr add 192.0.2.2/24 dev eth0 && ip link set eth0 up")
        d.cli("switch", "add", "provider", "--mode", "veb")
        config.register()
        ml2_config.register_ml2_plugin_opts()
        driver_type.register_ml2_drivers_vlan_opts()
        driver_type.register_ml2_drivers_vxlan_opts()
        for k, v in {
            "hosts": ["%s=%s" % (HOST, d.socket)],
            "physical_switches": ["physnet1:provider"],
            "vxlan_vteps": ["%s=192.0.2.1" % HOST],
            "vxlan_remotes": ["192.0.2.2"],
        }.items():
            cfg.CONF.set_override(k, v, group="ml2_vepa")
        cfg.CONF.set_override("type_drivers", ["vlan", "vxlan"], group="ml2")
        cfg.CONF.set_override("project_network_types", ["vxlan"], group="ml2")
        cfg.CONF.set_override("vni_ranges", ["5000:5999"], group="ml2_type_vxlan")
        super().setUp()
        self.guests = []
        self.servers = []
        self.addCleanup(self._stop_guests)

    def _stop_guests(self):
        for p in self.servers:
            p.kill()
            p.wait()
        for g in self.guests:
            g.stop()

    # Neutron's API, as a tenant and as admin.

    def network(self, kind, segment, cidr):
        provider = {"provider:network_type": kind, "provider:segmentation_id": segment}
        if kind == "vlan":
            provider["provider:physical_network"] = "physnet1"
        net = self._make_network(self.fmt, "net-%s" % segment, True, as_admin=True,
                                 arg_list=tuple(provider), **provider)
        sub = self._make_subnet(self.fmt, net, cidr.replace("0/24", "1"), cidr,
                                enable_dhcp=False)
        return net["network"], sub["subnet"]

    def secgroup(self, name, *rules):
        """A group with ``rules`` and the egress rules a real Neutron gives
        every new group (from its default rule templates, which the test
        database does not hold)."""
        sg = self._make_security_group(self.fmt, name)["security_group"]
        egress = [{"direction": "egress"}, {"direction": "egress", "ethertype": "IPv6"}]
        for r in egress + list(rules):
            self.rule(sg["id"], **r)
        return sg

    def rule(self, sg, **kw):
        body = {"security_group_id": sg, "direction": "ingress", "ethertype": "IPv4"}
        body.update(kw)
        req = self.new_create_request("security-group-rules", {"security_group_rule": body}, self.fmt)
        res = req.get_response(self.api)
        self.assertEqual(201, res.status_int, res.body)
        return self.deserialize(self.fmt, res)["security_group_rule"]

    def delete(self, collection, id):
        res = self.new_delete_request(collection, id, as_admin=True).get_response(self.api)
        self.assertEqual(204, res.status_int, res.body)

    def bound_port(self, net, sub, ip, groups):
        port = self._make_port(
            self.fmt, net["id"], as_admin=True,
            arg_list=(portbindings.HOST_ID, "security_groups", "fixed_ips"),
            **{portbindings.HOST_ID: HOST, "security_groups": [g["id"] for g in groups],
               "fixed_ips": [{"subnet_id": sub["id"], "ip_address": ip}],
               "device_owner": "compute:nova", "device_id": "vm-" + ip})["port"]
        self.assertEqual(portbindings.VIF_TYPE_TAP, port[portbindings.VIF_TYPE], port)
        return port

    def guest(self, port, cidr_len=24):
        ip = port["fixed_ips"][0]["ip_address"]
        g = vepa_testing.Guest(self.daemon, port[portbindings.VIF_DETAILS]["vepa_port"],
                               port["mac_address"], "%s/%d" % (ip, cidr_len))
        self.guests.append(g)
        return g

    def serve(self, guest, *ports):
        p = subprocess.Popen(guest.ns.cmd(sys.executable, os.path.join(HERE, "tcp_probe.py"),
                                          "serve", *map(str, ports)),
                             stdout=subprocess.PIPE, text=True)
        self.servers.append(p)
        self.assertEqual("ready", p.stdout.readline().strip())

    def connects(self, guest, ip, port, src=None):
        return guest.ns.run(sys.executable, os.path.join(HERE, "tcp_probe.py"),
                            "connect", ip, str(port), *([src] if src else []),
                            check=False).returncode == 0

    def pings(self, guest, ip):
        return guest.ping(ip, count=2, check=False).returncode == 0

    def acl(self, port, which):
        """A bound port's list (``ingress`` or ``egress``) as vepa shows it;
        rule counters are published every 250 ms, so wait that long first."""
        time.sleep(0.3)
        name = port[portbindings.VIF_DETAILS]["vepa_port"] + "-" + which
        return self.daemon.client.get("/v1/acls/" + name)

    def drops(self, port, reason):
        """A bound port's drops for ``reason`` (counters are published
        every 250 ms: wait for a count up to 2 s)."""
        name = port[portbindings.VIF_DETAILS]["vepa_port"]
        deadline = time.time() + 2
        while True:
            got = [p["drops"].get(reason, 0) for p in self.daemon.client.get("/v1/stats")["ports"]
                   if p["port"] == name]
            if (got and got[0]) or time.time() > deadline:
                return got[0] if got else 0
            time.sleep(0.1)

    def vepa_port(self, switch, name):
        try:
            return self.daemon.client.get("/v1/switches/%s/ports/%s" % (switch, name))["spec"]
        except vepa_testing.vepa.NotFound:
            return None

    # The tests.

    def test_vlan_network_binds_and_security_groups_filter_real_traffic(self):
        net, sub = self.network("vlan", 42, "10.70.0.0/24")
        web = self.secgroup("web", {"protocol": "tcp", "port_range_min": 8080,
                                    "port_range_max": 8080,
                                    "remote_ip_prefix": "10.70.0.0/24"})
        client = self.secgroup("client")
        a = self.bound_port(net, sub, "10.70.0.11", [web])
        b = self.bound_port(net, sub, "10.70.0.12", [client])
        details = a[portbindings.VIF_DETAILS]
        self.assertEqual("provider", details[portbindings.VIF_DETAILS_BRIDGE_NAME])
        self.assertEqual("42", details[portbindings.VIF_DETAILS_VLAN])
        self.assertTrue(details[portbindings.CAP_PORT_FILTER])
        self.assertEqual("ACTIVE", a["status"])
        spec = self.vepa_port("provider", details["vepa_port"])
        self.assertEqual(("tap", 42, a["mac_address"], True, ["10.70.0.11"]),
                         (spec["type"], spec["vlan"], spec["mac"], spec["guard"],
                          spec["allowed_ips"]))
        acls = {x["name"]: x for x in self.daemon.client.get("/v1/acls")}
        ingress = acls[details["vepa_port"] + "-ingress"]
        self.assertIn("allow tcp ip src 10.70.0.0/24 dport 8080",
                      [r["rule"] for r in ingress["rules"]])

        ga, gb = self.guest(a), self.guest(b)
        self.serve(ga, 8080, 9090)
        self.serve(gb, 8080)
        # Allowed: B opens A's 8080, and A's answers come back (state).
        self.assertTrue(self.connects(gb, "10.70.0.11", 8080))
        # Not allowed: A's 9090, ICMP to A, and anything A opens to B.
        self.assertFalse(self.connects(gb, "10.70.0.11", 9090))
        self.assertFalse(self.pings(gb, "10.70.0.11"))
        self.assertFalse(self.connects(ga, "10.70.0.12", 8080))
        # A rule added to the group reaches the bound port at once...
        icmp = self.rule(web["id"], protocol="icmp")
        self.assertTrue(self.pings(gb, "10.70.0.11"))
        # ... and so does its removal.
        self.delete("security-group-rules", icmp["id"])
        self.assertFalse(self.pings(gb, "10.70.0.11"))
        self.assertTrue(self.connects(gb, "10.70.0.11", 8080))

        # From an address Neutron did not give B, what A's group allows is
        # still dropped at B's port: the guard holds B to its fixed IPs.
        gb.ns.sh("ip addr add 10.70.0.98/24 dev eth0")
        self.assertFalse(self.connects(gb, "10.70.0.11", 8080, src="10.70.0.98"))
        self.assertTrue(self.connects(gb, "10.70.0.11", 8080, src="10.70.0.12"))
        self.assertGreater(self.drops(b, "spoofed_ip"), 0)

        # Deleting the Neutron port removes the vepa port and its ACLs.
        self.delete("ports", a["id"])
        self.assertIsNone(self.vepa_port("provider", details["vepa_port"]))
        names = [x["name"] for x in self.daemon.client.get("/v1/acls")]
        self.assertNotIn(details["vepa_port"] + "-ingress", names)

    def test_vxlan_network_binds_to_a_vni_switch_that_reaches_a_kernel_vtep(self):
        net, sub = self.network("vxlan", 5042, "10.71.0.0/24")
        self.remote.sh("ip link add vx0 type vxlan id 5042 local 192.0.2.2 remote 192.0.2.1 "
                       "dstport 4789 dev eth0 && ip addr add 10.71.0.99/24 dev vx0 && "
                       "ip link set vx0 up")
        pingable = self.secgroup("pingable", {"protocol": "icmp"})
        a = self.bound_port(net, sub, "10.71.0.11", [pingable])
        details = a[portbindings.VIF_DETAILS]
        self.assertEqual("vni-5042", details[portbindings.VIF_DETAILS_BRIDGE_NAME])
        self.assertNotIn(portbindings.VIF_DETAILS_VLAN, details)
        tunnel = self.vepa_port("vni-5042", "vxlan")
        self.assertEqual((5042, "192.0.2.1", ["192.0.2.2"]),
                         (tunnel["vni"], tunnel["local"], tunnel["remote"]))
        ga = self.guest(a)
        # Over the tunnel to the kernel's VTEP and back; and from it, as
        # the group allows ICMP in.
        self.assertTrue(self.pings(ga, "10.71.0.99"))
        self.assertTrue(self.remote.run("ping", "-c", "2", "-W", "1", "10.71.0.11",
                                        check=False).returncode == 0)
        # TCP from the far host is not in the group: dropped at the port.
        self.serve(ga, 8080)
        self.assertFalse(self.remote.run(sys.executable, os.path.join(HERE, "tcp_probe.py"),
                                         "connect", "10.71.0.11", "8080",
                                         check=False).returncode == 0)
        # The network's switch goes with its last port on the host.
        self.delete("ports", a["id"])
        self.assertIsNone(vepa_testing.vepa.find_switch(self.daemon.client.topology(),
                                                         "vni-5042"))

    def test_remote_group_rules_follow_the_groups_members(self):
        net, sub = self.network("vlan", 43, "10.72.0.0/24")
        sg = self.secgroup("peers")
        self.rule(sg["id"], protocol="icmp", remote_group_id=sg["id"])
        a = self.bound_port(net, sub, "10.72.0.11", [sg])
        b = self.bound_port(net, sub, "10.72.0.12", [sg])
        rules = [r["rule"] for r in self.acl(a, "ingress")["rules"]]
        self.assertIn("allow icmp src 10.72.0.12", rules)
        ga, gb = self.guest(a), self.guest(b)
        self.assertTrue(self.pings(gb, "10.72.0.11"))
        # B leaves the group: A's list loses B's address and B's pings stop.
        other = self.secgroup("other")
        self._update("ports", b["id"], {"port": {"security_groups": [other["id"]]}},
                     as_admin=True)
        rules = [r["rule"] for r in self.acl(a, "ingress")["rules"]]
        self.assertNotIn("allow icmp src 10.72.0.12", rules)
        self.assertIn("allow icmp src 10.72.0.11", rules)
        dropped = self.acl(a, "ingress")["default_packets"]
        self.assertFalse(self.pings(gb, "10.72.0.11"))
        self.assertGreater(self.acl(a, "ingress")["default_packets"], dropped)

    def test_hosts_vepa_does_not_know_are_left_unbound(self):
        net, sub = self.network("vlan", 44, "10.73.0.0/24")
        port = self._make_port(self.fmt, net["id"], as_admin=True,
                               arg_list=(portbindings.HOST_ID,),
                               **{portbindings.HOST_ID: "elsewhere"})["port"]
        self.assertEqual(portbindings.VIF_TYPE_BINDING_FAILED, port[portbindings.VIF_TYPE])
        self.assertEqual([], [p for p in self.daemon.client.get("/v1/ports")])

    def test_vhostuser_binding_and_os_vif_plug_agree(self):
        """What the driver binds is what the os-vif plugin would make from
        the binding's vif_details (bridge_name, vlan, vhostuser_socket and
        mode): plugging that VIF changes nothing; unplugging removes the
        port and its ACLs."""
        import os_vif
        from os_vif import objects as osv
        from os_vif.objects import fields as osv_fields

        cfg.CONF.set_override("vif_type", "vhostuser", group="ml2_vepa")
        cfg.CONF.set_override("vhost_user_dir", self.daemon.vhost_dir, group="ml2_vepa")
        net, sub = self.network("vlan", 45, "10.74.0.0/24")
        sg = self.secgroup("any")
        port = self._make_port(
            self.fmt, net["id"], as_admin=True,
            arg_list=(portbindings.HOST_ID, "security_groups"),
            **{portbindings.HOST_ID: HOST, "security_groups": [sg["id"]]})["port"]
        self.assertEqual(portbindings.VIF_TYPE_VHOST_USER, port[portbindings.VIF_TYPE])
        details = port[portbindings.VIF_DETAILS]
        self.assertEqual("client", details[portbindings.VHOST_USER_MODE])
        name = details["vepa_port"]
        spec = self.vepa_port("provider", name)
        self.assertEqual(("vhost-user", details[portbindings.VHOST_USER_SOCKET], 45),
                         (spec["type"], spec["socket"], spec["vlan"]))
        self.assertTrue(os.path.exists(details[portbindings.VHOST_USER_SOCKET]))

        os_vif.initialize()
        cfg.CONF.set_override("api", self.daemon.socket, group="os_vif_vepa")
        self.addCleanup(cfg.CONF.clear_override, "api", group="os_vif_vepa")
        network = osv.network.Network(id=net["id"], bridge=details["bridge_name"],
                                      vlan=int(details["vlan"]), should_provide_vlan=True,
                                      mtu=net["mtu"])
        vif = osv.vif.VIFVHostUser(
            id=port["id"], address=port["mac_address"], network=network, plugin="vepa",
            path=details[portbindings.VHOST_USER_SOCKET],
            mode=osv_fields.VIFVHostUserMode.CLIENT, vif_name=name,
            has_traffic_filtering=True)
        inst = osv.instance_info.InstanceInfo(uuid=port["device_id"] or port["id"],
                                              name="vm", project_id="p")
        self.assertEqual(2, len([a for a in self.daemon.client.get("/v1/acls")
                                 if a["place"].startswith("port provider/%s " % name)]))
        before = self.daemon.client.topology()["generation"]
        os_vif.plug(vif, inst)
        self.assertEqual(before, self.daemon.client.topology()["generation"])
        self.assertTrue(self.vepa_port("provider", name)["guard"])
        os_vif.unplug(vif, inst)
        self.assertIsNone(self.vepa_port("provider", name))
        self.assertEqual([], [a for a in self.daemon.client.get("/v1/acls")
                              if a["place"].startswith("port provider/%s " % name)])

    def test_stateless_groups_need_rules_for_replies(self):
        net, sub = self.network("vlan", 46, "10.75.0.0/24")
        stateless = self._sg_stateful(False)
        stateful = self._sg_stateful(True)
        b = self.bound_port(net, sub, "10.75.0.12", [self.secgroup("client")])
        a = self.bound_port(net, sub, "10.75.0.11", [stateless])
        c = self.bound_port(net, sub, "10.75.0.13", [stateful])
        self.assertFalse(any("state" in r["rule"] for r in self.acl(a, "ingress")["rules"]))
        self.assertIn("allow state established,related",
                      [r["rule"] for r in self.acl(c, "ingress")["rules"]])
        ga, gb, gc = self.guest(a), self.guest(b), self.guest(c)
        self.serve(ga, 8080)
        self.serve(gc, 8080)
        # Both groups let 8080 in and nothing out; only the stateful one
        # lets the answer out.
        self.assertTrue(self.connects(gb, "10.75.0.13", 8080))
        self.assertFalse(self.connects(gb, "10.75.0.11", 8080))
        self.assertGreater(self.acl(a, "egress")["default_packets"], 0)
        # A rule for the replies (source port 8080 is not expressible as a
        # group rule; all TCP out is) and the stateless one answers too.
        self.rule(stateless["id"], direction="egress", protocol="tcp")
        self.assertTrue(self.connects(gb, "10.75.0.11", 8080))

    def _sg_stateful(self, stateful):
        body = {"security_group": {"name": "sg-%s" % stateful, "stateful": stateful}}
        res = self.new_create_request("security-groups", body, self.fmt).get_response(self.api)
        self.assertEqual(201, res.status_int, res.body)
        sg = self.deserialize(self.fmt, res)["security_group"]
        self.rule(sg["id"], protocol="tcp", port_range_min=8080, port_range_max=8080)
        return sg

    def test_sync_makes_each_host_hold_exactly_its_bound_ports(self):
        net, sub = self.network("vlan", 47, "10.76.0.0/24")
        a = self.bound_port(net, sub, "10.76.0.11", [self.secgroup("sg")])
        name = a[portbindings.VIF_DETAILS]["vepa_port"]
        d = self.daemon
        # Lost out of band (a daemon reset, a failed change): made again,
        # with its lists.
        d.client.transact(lambda t: vepa_testing.vepa.remove_port(t, "provider", name))
        self.assertIsNone(self.vepa_port("provider", name))
        self.assertEqual([], d.client.get("/v1/acls"))
        # A Neutron-named port no bound port owns (a binding thrown away),
        # and a port of the operator's.
        d.cli("port", "add", "provider/tap00000000-00", "--type", "tap")
        d.cli("port", "add", "provider/mine", "--type", "tap")
        driver = self.driver.mechanism_manager.mech_drivers["vepa"].obj
        driver.sync_all()
        self.assertEqual("tap", self.vepa_port("provider", name)["type"])
        self.assertEqual(2, len([x for x in d.client.get("/v1/acls")
                                 if x["place"].startswith("port provider/%s " % name)]))
        self.assertIsNone(self.vepa_port("provider", "tap00000000-00"))
        self.assertIsNotNone(self.vepa_port("provider", "mine"))
        # In step: a second sync changes nothing.
        before = d.client.topology()["generation"]
        driver.sync_all()
        self.assertEqual(before, d.client.topology()["generation"])
        # The driver's worker runs it on its own, every sync_interval.
        cfg.CONF.set_override("sync_interval", 1, group="ml2_vepa")
        d.client.transact(lambda t: vepa_testing.vepa.remove_port(t, "provider", name))
        (w,) = driver.get_workers()
        w.start()
        self.addCleanup(w.stop)
        deadline = time.time() + 10
        while self.vepa_port("provider", name) is None and time.time() < deadline:
            time.sleep(0.2)
        self.assertIsNotNone(self.vepa_port("provider", name))
