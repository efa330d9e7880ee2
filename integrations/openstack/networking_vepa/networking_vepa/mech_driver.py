"""The ML2 mechanism driver ``vepa``: agent-less, it binds a port on a host
by asking that host's vepa daemon for the port directly.

- VLAN segments: the port goes on the physical network's switch
  (``physical_switches``) with the segment's VLAN as its access VLAN.
- VXLAN segments: the network gets a switch ``vni-<VNI>`` on the host,
  with a VXLAN port (``vxlan``) to the other hosts' VTEPs, and the port
  goes on it.
- ``vif_type`` is ``tap`` (the device Nova's libvirt driver hands QEMU:
  ``tap`` + the port's id, 14 characters) or ``vhostuser`` (vepa serves
  the socket, ``vhostuser_mode = client``). ``vif_details`` carry
  ``bridge_name`` (the switch) and ``vlan`` for the os-vif plugin ``vepa``.
- Security groups become the port's ACLs (see ``secgroups``) and its
  anti-spoofing guard (its MAC and fixed IPs, with allowed address pairs),
  made in the same change as the port, and made again whenever a group's
  rules, a remote group's members or the port's addresses change.
"""

from neutron_lib.api.definitions import portbindings
from neutron_lib.callbacks import events
from neutron_lib.callbacks import registry
from neutron_lib.callbacks import resources
from neutron_lib import constants as n_const
from neutron_lib.plugins import directory
from neutron_lib.plugins.ml2 import api
from oslo_config import cfg
from oslo_log import log as logging

from networking_vepa import config
from networking_vepa import secgroups
from vif_plug_vepa import client as vepa

LOG = logging.getLogger(__name__)

OURS = (portbindings.VIF_TYPE_TAP, portbindings.VIF_TYPE_VHOST_USER)
VXLAN_PORT = "vxlan"


def port_name(port_id, vif_type):
    prefix = "vhu" if vif_type == portbindings.VIF_TYPE_VHOST_USER else "tap"
    return (prefix + port_id)[:14]


def vni_switch(vni):
    return "vni-%d" % vni


def bound_here(port):
    """(host, switch, port name, vlan) of a port this driver bound, else None."""
    details = port.get(portbindings.VIF_DETAILS) or {}
    if port.get(portbindings.VIF_TYPE) not in OURS or "vepa_switch" not in details:
        return None
    vlan = details.get(portbindings.VIF_DETAILS_VLAN)
    return (port.get(portbindings.HOST_ID), details["vepa_switch"], details["vepa_port"],
            int(vlan) if vlan not in (None, "") else None)


class VepaMechanismDriver(api.MechanismDriver):

    def initialize(self):
        config.register()
        c = cfg.CONF.ml2_vepa
        self.hosts = config.pairs(c.hosts, "=", "hosts")
        self.physnets = config.pairs(c.physical_switches, ":", "physical_switches")
        self.vteps = config.pairs(c.vxlan_vteps, "=", "vxlan_vteps")
        self.conf = c
        for rule_event in (events.AFTER_CREATE, events.AFTER_DELETE):
            registry.subscribe(self._rule_changed, resources.SECURITY_GROUP_RULE, rule_event)
        LOG.info("vepa mechanism driver: hosts %s", ", ".join(sorted(self.hosts)) or "none")

    @property
    def connectivity(self):
        return portbindings.CONNECTIVITY_L2

    def client(self, host):
        ep = self.hosts.get(host)
        if ep is None:
            return None
        return vepa.VepaClient(ep, self.conf.token_file, self.conf.timeout)

    # Binding.

    def _placement(self, segment, host):
        """(switch, vlan, switch spec to make if missing) for a segment on
        ``host``, or None when vepa cannot carry it there."""
        kind = segment.get(api.NETWORK_TYPE)
        if kind == n_const.TYPE_VLAN:
            switch = self.physnets.get(segment.get(api.PHYSICAL_NETWORK))
            if switch is None:
                return None
            return switch, int(segment[api.SEGMENTATION_ID]), None
        if kind == n_const.TYPE_VXLAN:
            vni = int(segment[api.SEGMENTATION_ID])
            tunnel = {"name": VXLAN_PORT, "type": "vxlan", "vni": vni}
            if self.conf.vxlan_fabric:
                tunnel["fabric"] = True
            else:
                local = self.vteps.get(host)
                if local is None:
                    return None
                remote = [ip for h, ip in sorted(self.vteps.items()) if h != host]
                remote += [ip for ip in self.conf.vxlan_remotes if ip not in remote]
                tunnel.update(local=local, remote=remote)
            if self.conf.vxlan_dstport != 4789:
                tunnel["dstport"] = self.conf.vxlan_dstport
            return vni_switch(vni), None, {"name": vni_switch(vni), "mode": "veb",
                                           "port": [tunnel]}
        return None

    def bind_port(self, context):
        port = context.current
        host = context.host
        if port.get(portbindings.VNIC_TYPE, portbindings.VNIC_NORMAL) != portbindings.VNIC_NORMAL:
            return
        c = self.client(host)
        if c is None:
            LOG.debug("vepa: host %s is not in [ml2_vepa] hosts", host)
            return
        for segment in context.segments_to_bind:
            placed = self._placement(segment, host)
            if placed is None:
                continue
            switch, vlan, switch_spec = placed
            vif_type = self.conf.vif_type
            name = port_name(port["id"], vif_type)
            details = {
                portbindings.CAP_PORT_FILTER: True,
                portbindings.VIF_DETAILS_CONNECTIVITY: portbindings.CONNECTIVITY_L2,
                portbindings.VIF_DETAILS_BRIDGE_NAME: switch,
                "vepa_switch": switch,
                "vepa_port": name,
            }
            if vlan is not None:
                details[portbindings.VIF_DETAILS_VLAN] = str(vlan)
            if vif_type == portbindings.VIF_TYPE_VHOST_USER:
                details[portbindings.VHOST_USER_SOCKET] = "%s/%s/%s.sock" % (
                    self.conf.vhost_user_dir.rstrip("/"), switch, name)
                details[portbindings.VHOST_USER_MODE] = portbindings.VHOST_USER_MODE_CLIENT
            ctx = context.plugin_context.elevated()
            try:
                spec, acls = self._desired(ctx, port, switch, name, vlan, details,
                                           context.network.current.get("mtu"))
                self._push(c, switch, spec, acls, switch_spec)
            except (vepa.VepaError, ValueError) as e:
                LOG.error("vepa: binding port %s on host %s: %s", port["id"], host, e)
                return
            context.set_binding(segment[api.ID], vif_type, details,
                                status=n_const.PORT_STATUS_ACTIVE)
            return

    # What a bound port should be on its host.

    def _members(self, ctx, group_ids):
        """Addresses of the ports in each group (for remote_group_id rules)."""
        out = {}
        if not group_ids:
            return out
        plugin = directory.get_plugin()
        for p in plugin.get_ports(ctx, filters={"security_groups": list(group_ids)}):
            ips = [f["ip_address"] for f in p.get("fixed_ips", [])]
            ips += [a["ip_address"] for a in p.get("allowed_address_pairs") or []]
            for g in p.get("security_groups", []):
                if g in group_ids:
                    out.setdefault(g, []).extend(ips)
        return out

    def _desired(self, ctx, port, switch, name, vlan, details, mtu=None):
        """(vepa port spec, its ACLs) for a Neutron port."""
        spec = {"name": name, "mac": port["mac_address"].lower()}
        if details.get(portbindings.VHOST_USER_SOCKET):
            spec.update(type="vhost-user", socket=details[portbindings.VHOST_USER_SOCKET])
        else:
            spec["type"] = "tap"
        if vlan is not None:
            spec["vlan"] = vlan
        if mtu:
            spec["mtu"] = int(mtu)
        where = "%s/%s" % (switch, name)
        if not port.get("port_security_enabled", True):
            return spec, []
        pairs = port.get("allowed_address_pairs") or []
        macs = [spec["mac"]] + sorted({a["mac_address"].lower() for a in pairs
                                       if a.get("mac_address")} - {spec["mac"]})
        spec.update(guard=True, allowed_macs=macs,
                    allowed_ips=[f["ip_address"] for f in port.get("fixed_ips", [])]
                    + [a["ip_address"] for a in pairs])
        groups = port.get("security_groups") or []
        rules = []
        if groups:
            plugin = directory.get_plugin()
            rules = plugin.get_security_group_rules(ctx, filters={"security_group_id": groups})
            rules.sort(key=lambda r: (r.get("direction") or "", r.get("id") or ""))
        members = self._members(ctx, {r["remote_group_id"] for r in rules
                                      if r.get("remote_group_id")})
        egress, ingress = secgroups.port_lists(rules, members, log=LOG.warning)
        acls = [
            {"name": name + "-egress", "port": where, "direction": "in",
             "default": "drop", "rules": egress},
            {"name": name + "-ingress", "port": where, "direction": "out",
             "default": "drop", "rules": ingress},
        ]
        return spec, acls

    def _push(self, c, switch, spec, acls, switch_spec=None):
        """Make the host's state hold the port and exactly its ACLs, in one change."""
        where = "%s/%s" % (switch, spec["name"])

        def change(topo):
            changed = False
            if switch_spec is not None:
                have = vepa.find_switch(topo, switch)
                if have is None:
                    topo.setdefault("switch", []).append(switch_spec)
                    changed = True
                else:
                    tunnel = switch_spec["port"][0]
                    changed |= vepa.put_port(topo, switch, tunnel)
            elif vepa.find_switch(topo, switch) is None:
                raise vepa.VepaError("no switch '%s' (from [ml2_vepa] physical_switches)"
                                     % switch, field="switch")
            for s in topo.get("switch", []):
                if s.get("name") != switch and vepa.find_port(s, spec["name"]):
                    changed |= vepa.remove_port(topo, s["name"], spec["name"])
            changed |= vepa.put_port(topo, switch, spec)
            names = {a["name"] for a in acls}
            stale = [a for a in topo.get("acl", [])
                     if a.get("port") == where and a.get("name") not in names]
            if stale:
                topo["acl"] = [a for a in topo["acl"] if a not in stale]
                changed = True
            for a in acls:
                changed |= vepa.put_acl(topo, a)
            return changed

        c.transact(change)

    def _remove(self, host, switch, name):
        c = self.client(host)
        if c is None:
            return

        def change(topo):
            if not vepa.remove_port(topo, switch, name):
                return False
            # A VXLAN network's switch goes with its last port on this host.
            sw = vepa.find_switch(topo, switch)
            if switch.startswith("vni-") and sw is not None and all(
                    p.get("name") == VXLAN_PORT for p in sw.get("port", [])):
                topo["switch"] = [s for s in topo["switch"] if s is not sw]
            return True

        try:
            c.transact(change)
        except vepa.VepaError as e:
            LOG.error("vepa: removing %s/%s on host %s: %s", switch, name, host, e)

    def _resync(self, ctx, ports):
        """Make each bound port's spec and ACLs on its host current."""
        for port in ports:
            b = bound_here(port)
            if b is None:
                continue
            host, switch, name, vlan = b
            c = self.client(host)
            if c is None:
                continue
            try:
                spec, acls = self._desired(ctx, port, switch, name, vlan,
                                           port.get(portbindings.VIF_DETAILS) or {})
                c.transact(lambda topo, spec=spec, acls=acls, switch=switch: self._refresh(
                    topo, switch, spec, acls))
            except (vepa.VepaError, ValueError) as e:
                LOG.error("vepa: updating port %s on host %s: %s", port["id"], host, e)

    @staticmethod
    def _refresh(topo, switch, spec, acls):
        """A bound port's guard and ACLs made current (its place unchanged)."""
        sw = vepa.find_switch(topo, switch)
        have = vepa.find_port(sw, spec["name"]) if sw else None
        if have is None:
            return False  # unplugged meanwhile: nothing to filter
        spec = dict(spec, **{k: have[k] for k in ("mtu",) if k in have and k not in spec})
        changed = vepa.put_port(topo, switch, spec)
        where = "%s/%s" % (switch, spec["name"])
        names = {a["name"] for a in acls}
        before = len(topo.get("acl", []))
        topo["acl"] = [a for a in topo.get("acl", [])
                       if a.get("port") != where or a.get("name") in names]
        changed |= len(topo["acl"]) != before
        for a in acls:
            changed |= vepa.put_acl(topo, a)
        return changed

    def _referencing(self, ctx, group_ids):
        """Ports whose groups have rules naming one of ``group_ids`` as remote group."""
        if not group_ids:
            return []
        plugin = directory.get_plugin()
        rules = plugin.get_security_group_rules(
            ctx, filters={"remote_group_id": list(group_ids)})
        groups = sorted({r["security_group_id"] for r in rules})
        if not groups:
            return []
        return plugin.get_ports(ctx, filters={"security_groups": groups})

    # Port changes.

    FILTER_FIELDS = ("security_groups", "fixed_ips", "allowed_address_pairs",
                     "port_security_enabled", "mac_address")

    def create_port_postcommit(self, context):
        ctx = context.plugin_context.elevated()
        groups = set(context.current.get("security_groups") or [])
        self._resync(ctx, [p for p in self._referencing(ctx, groups)
                           if p["id"] != context.current["id"]])

    def update_port_postcommit(self, context):
        ctx = context.plugin_context.elevated()
        cur, orig = context.current, context.original or {}
        was, now = bound_here(orig), bound_here(cur)
        if was and (now is None or was[:3] != now[:3]):
            self._remove(*was[:3])
        changed = [f for f in self.FILTER_FIELDS if cur.get(f) != orig.get(f)]
        if now and changed and was:
            self._resync(ctx, [cur])
        if set(changed) & {"security_groups", "fixed_ips", "allowed_address_pairs"}:
            groups = set(cur.get("security_groups") or []) | set(orig.get("security_groups") or [])
            self._resync(ctx, [p for p in self._referencing(ctx, groups) if p["id"] != cur["id"]])

    def delete_port_postcommit(self, context):
        b = bound_here(context.current)
        if b:
            self._remove(*b[:3])
        ctx = context.plugin_context.elevated()
        groups = set(context.current.get("security_groups") or [])
        self._resync(ctx, [p for p in self._referencing(ctx, groups)
                           if p["id"] != context.current["id"]])

    # Security group rules.

    def _rule_changed(self, resource, event, trigger, payload=None):
        ctx = payload.context.elevated()
        rule = payload.latest_state if payload.states else None
        group = (rule or {}).get("security_group_id") or payload.metadata.get("security_group_id")
        if not group:
            return
        plugin = directory.get_plugin()
        self._resync(ctx, plugin.get_ports(ctx, filters={"security_groups": [group]}))
