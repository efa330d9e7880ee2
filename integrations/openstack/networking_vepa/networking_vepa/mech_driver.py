"""The ML2 mechanism driver ``vepa``: agent-less, it asks each compute
host's vepa daemon directly.

- VLAN segments: the port goes on the physical network's switch
  (``physical_switches``) with the segment's VLAN as its access VLAN.
- VXLAN segments: the network gets a switch ``vni-<VNI>`` on the host,
  with a VXLAN port (``vxlan``) to the other hosts' VTEPs, and the port
  goes on it; the switch goes with the network's last port on the host.
- ``vif_type`` is ``tap`` (the device Nova's libvirt driver hands QEMU:
  ``tap`` + the port's id, 14 characters) or ``vhostuser`` (vepa serves
  the socket, ``vhostuser_mode = client``). ``vif_details`` carry
  ``bridge_name`` (the switch) and ``vlan`` for the os-vif plugin ``vepa``.
- Security groups become the port's ACLs (see ``secgroups``) and its
  anti-spoofing guard (its MAC and fixed IPs, with allowed address pairs),
  made in the same change as the port.

``bind_port`` only checks (ML2 may throw a binding away); the port is made
once the binding is committed (``update_port_postcommit``), and made again
whenever a group's rules, a remote group's members or the port's
addresses change. A failed change is logged, and the sync (``sync_all``:
at start and every ``sync_interval`` seconds, in a worker of its own)
makes each host's daemon hold exactly the bound ports, removing the
Neutron-named ports (``tap``/``vhu`` + id) that no bound port owns.
"""

import re
import threading

from neutron_lib.api.definitions import portbindings
from neutron_lib.callbacks import events
from neutron_lib.callbacks import registry
from neutron_lib.callbacks import resources
from neutron_lib import constants as n_const
from neutron_lib import context as n_context
from neutron_lib.plugins import directory
from neutron_lib.plugins.ml2 import api
from neutron_lib import worker
from oslo_config import cfg
from oslo_log import log as logging

from networking_vepa import config
from networking_vepa import secgroups
from vif_plug_vepa import client as vepa

LOG = logging.getLogger(__name__)

OURS = (portbindings.VIF_TYPE_TAP, portbindings.VIF_TYPE_VHOST_USER)
VXLAN_PORT = "vxlan"
# The vepa ports this driver may remove: named after a Neutron port's id.
NEUTRON_NAME = re.compile(r"^(tap|vhu)[0-9a-f]{8}-[0-9a-f]{2}$")
FAILURES = (vepa.VepaError, ValueError, OSError)


def port_name(port_id, vif_type):
    prefix = "vhu" if vif_type == portbindings.VIF_TYPE_VHOST_USER else "tap"
    return (prefix + port_id)[:14]


def vni_switch(vni):
    return "vni-%d" % vni


def bound_here(port):
    """(host, switch, port name, vlan) of a port this driver bound, else None."""
    if not port:
        return None
    details = port.get(portbindings.VIF_DETAILS) or {}
    if port.get(portbindings.VIF_TYPE) not in OURS or "vepa_switch" not in details:
        return None
    vlan = details.get(portbindings.VIF_DETAILS_VLAN)
    return (port.get(portbindings.HOST_ID), details["vepa_switch"], details["vepa_port"],
            int(vlan) if vlan not in (None, "") else None)


class SyncWorker(worker.BaseWorker):
    """Runs the driver's sync now and every ``sync_interval`` seconds."""

    def __init__(self, driver, interval):
        super().__init__(worker_process_count=0, desc="vepa sync worker")
        self._driver = driver
        self._interval = interval
        self._stop = threading.Event()

    def start(self, **kwargs):
        super().start(**kwargs)
        threading.Thread(target=self._run, name="vepa-sync", daemon=True).start()

    def _run(self):
        while not self._stop.is_set():
            try:
                self._driver.sync_all()
            except Exception:  # noqa: BLE001 - the loop must outlive one bad round
                LOG.exception("vepa: sync failed; trying again in %ss", self._interval)
            self._stop.wait(self._interval)

    def stop(self):
        self._stop.set()

    def wait(self):
        pass

    def reset(self):
        pass


class VepaMechanismDriver(api.MechanismDriver):

    def initialize(self):
        config.register()
        c = cfg.CONF.ml2_vepa
        self.conf = c
        self.physnets = config.pairs(c.physical_switches, ":", "physical_switches")
        self.vteps = config.pairs(c.vxlan_vteps, "=", "vxlan_vteps")
        # Each endpoint (and token file) is checked now: a bad one stops
        # neutron-server at start rather than failing ports later.
        self.clients = {}
        for host, ep in config.pairs(c.hosts, "=", "hosts").items():
            try:
                self.clients[host] = vepa.VepaClient(ep, c.token_file, c.timeout)
            except (ValueError, OSError) as e:
                raise ValueError("[ml2_vepa] hosts: %s: %s" % (host, e)) from e
        for rule_event in (events.AFTER_CREATE, events.AFTER_DELETE):
            registry.subscribe(self._rule_changed, resources.SECURITY_GROUP_RULE, rule_event)
        LOG.info("vepa mechanism driver: hosts %s", ", ".join(sorted(self.clients)) or "none")

    @property
    def connectivity(self):
        return portbindings.CONNECTIVITY_L2

    def get_workers(self):
        if self.conf.sync_interval <= 0:
            return []
        return [SyncWorker(self, self.conf.sync_interval)]

    # Where a segment lands.

    def _switch_spec(self, switch, host):
        """The switch to make for a VXLAN network's ``vni-N`` on ``host``
        (None for a VLAN network's switch, which the operator makes)."""
        if not switch.startswith("vni-"):
            return None
        vni = int(switch[len("vni-"):])
        tunnel = {"name": VXLAN_PORT, "type": "vxlan", "vni": vni}
        if self.conf.vxlan_fabric:
            tunnel["fabric"] = True
        else:
            remote = [ip for h, ip in sorted(self.vteps.items()) if h != host]
            remote += [ip for ip in self.conf.vxlan_remotes if ip not in remote]
            tunnel.update(local=self.vteps[host], remote=remote)
        if self.conf.vxlan_dstport != 4789:
            tunnel["dstport"] = self.conf.vxlan_dstport
        return {"name": switch, "mode": "veb", "port": [tunnel]}

    def _placement(self, segment, host):
        """(switch, vlan) for a segment on ``host``, or None when vepa
        cannot carry it there."""
        kind = segment.get(api.NETWORK_TYPE)
        if kind == n_const.TYPE_VLAN:
            switch = self.physnets.get(segment.get(api.PHYSICAL_NETWORK))
            return (switch, int(segment[api.SEGMENTATION_ID])) if switch else None
        if kind == n_const.TYPE_VXLAN:
            if not self.conf.vxlan_fabric and host not in self.vteps:
                return None
            return vni_switch(int(segment[api.SEGMENTATION_ID])), None
        return None

    # Binding: checks only.

    def bind_port(self, context):
        port = context.current
        host = context.host
        if port.get(portbindings.VNIC_TYPE, portbindings.VNIC_NORMAL) != portbindings.VNIC_NORMAL:
            return
        c = self.clients.get(host)
        if c is None:
            LOG.debug("vepa: host %s is not in [ml2_vepa] hosts", host)
            return
        for segment in context.segments_to_bind:
            placed = self._placement(segment, host)
            if placed is None:
                continue
            switch, vlan = placed
            try:
                topo = c.topology()
            except FAILURES as e:
                LOG.error("vepa: cannot bind port %s on host %s: %s", port["id"], host, e)
                return
            if vlan is not None and vepa.find_switch(topo, switch) is None:
                LOG.error("vepa: host %s has no switch '%s' ([ml2_vepa] physical_switches)",
                          host, switch)
                continue
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

    def _desired(self, ctx, port):
        """(switch, vepa port spec, its ACLs) for a port this driver bound."""
        _, switch, name, vlan = bound_here(port)
        details = port.get(portbindings.VIF_DETAILS) or {}
        spec = {"name": name, "mac": port["mac_address"].lower()}
        if details.get(portbindings.VHOST_USER_SOCKET):
            spec.update(type="vhost-user", socket=details[portbindings.VHOST_USER_SOCKET])
        else:
            spec["type"] = "tap"
        if vlan is not None:
            spec["vlan"] = vlan
        plugin = directory.get_plugin()
        mtu = plugin.get_network(ctx, port["network_id"]).get("mtu")
        if mtu:
            spec["mtu"] = int(mtu)
        # Without the extension's key, Neutron's default: on.
        if not port.get("port_security_enabled", True):
            return switch, spec, []
        pairs = port.get("allowed_address_pairs") or []
        macs = [spec["mac"]] + sorted({a["mac_address"].lower() for a in pairs
                                       if a.get("mac_address")} - {spec["mac"]})
        spec.update(guard=True, allowed_macs=macs,
                    allowed_ips=[f["ip_address"] for f in port.get("fixed_ips", [])]
                    + [secgroups.prefix(a["ip_address"]) for a in pairs])
        groups = port.get("security_groups") or []
        rules, stateful = [], True
        if groups:
            rules = plugin.get_security_group_rules(ctx, filters={"security_group_id": groups})
            rules.sort(key=lambda r: (r.get("direction") or "", r.get("id") or ""))
            found = plugin.get_security_groups(ctx, filters={"id": groups},
                                               fields=["id", "stateful"])
            # Neutron refuses a port in stateful and stateless groups at once.
            stateful = any(g.get("stateful", True) for g in found) if found else True
        members = self._members(ctx, {r["remote_group_id"] for r in rules
                                      if r.get("remote_group_id")})
        egress, ingress = secgroups.port_lists(rules, members, stateful=stateful,
                                               log=LOG.warning)
        where = "%s/%s" % (switch, name)
        acls = [
            {"name": name + "-egress", "port": where, "direction": "in",
             "default": "drop", "rules": egress},
            {"name": name + "-ingress", "port": where, "direction": "out",
             "default": "drop", "rules": ingress},
        ]
        return switch, spec, acls

    def _put(self, topo, host, switch, spec, acls):
        """Edit ``topo`` so it holds the port and exactly its ACLs."""
        changed = False
        switch_spec = self._switch_spec(switch, host)
        if vepa.find_switch(topo, switch) is None:
            if switch_spec is None:
                raise vepa.VepaError("no switch '%s' (from [ml2_vepa] physical_switches)"
                                     % switch, field="switch")
            topo.setdefault("switch", []).append(switch_spec)
            changed = True
        elif switch_spec is not None:
            changed |= vepa.put_port(topo, switch, switch_spec["port"][0])
        for s in topo.get("switch", []):
            if s.get("name") != switch and vepa.find_port(s, spec["name"]):
                changed |= vepa.remove_port(topo, s["name"], spec["name"])
        changed |= vepa.put_port(topo, switch, spec)
        where = "%s/%s" % (switch, spec["name"])
        names = {a["name"] for a in acls}
        before = len(topo.get("acl", []))
        topo["acl"] = [a for a in topo.get("acl", [])
                       if a.get("port") != where or a.get("name") in names]
        changed |= len(topo["acl"]) != before
        for a in acls:
            changed |= vepa.put_acl(topo, a)
        return changed

    @staticmethod
    def _drop(topo, switch, name):
        """Edit ``topo`` so the port is gone (with its ACLs, and a VXLAN
        network's switch with its last port)."""
        if not vepa.remove_port(topo, switch, name):
            return False
        sw = vepa.find_switch(topo, switch)
        if switch.startswith("vni-") and sw is not None and all(
                p.get("name") == VXLAN_PORT for p in sw.get("port", [])):
            topo["switch"] = [s for s in topo["switch"] if s is not sw]
        return True

    def _push(self, ctx, ports):
        """Make each bound port (with its ACLs) current on its host."""
        for port in ports:
            b = bound_here(port)
            c = self.clients.get(b[0]) if b else None
            if c is None:
                continue
            try:
                switch, spec, acls = self._desired(ctx, port)
                c.transact(lambda topo: self._put(topo, b[0], switch, spec, acls))
            except FAILURES as e:
                LOG.error("vepa: port %s on host %s: %s (the next sync tries again)",
                          port["id"], b[0], e)

    def _remove(self, host, switch, name):
        c = self.clients.get(host)
        if c is None:
            return
        try:
            c.transact(lambda topo: self._drop(topo, switch, name))
        except FAILURES as e:
            LOG.error("vepa: removing %s/%s on host %s: %s (the next sync tries again)",
                      switch, name, host, e)

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

    def sync_all(self, ctx=None):
        """Make every host's daemon hold exactly its bound ports: each made
        current, and the Neutron-named ports no bound port owns removed."""
        ctx = ctx or n_context.get_admin_context()
        plugin = directory.get_plugin()
        for host, c in self.clients.items():
            try:
                ports = [p for p in plugin.get_ports(ctx, filters={portbindings.HOST_ID: [host]})
                         if bound_here(p)]
                wanted = [self._desired(ctx, p) for p in ports]
            except FAILURES as e:
                LOG.error("vepa: sync of host %s: %s", host, e)
                continue
            owned = {(sw, spec["name"]) for sw, spec, _ in wanted}

            def change(topo, host=host, wanted=wanted, owned=owned):
                changed = False
                for s in list(topo.get("switch", [])):
                    for p in list(s.get("port", [])):
                        if NEUTRON_NAME.match(p.get("name", "")) and \
                                (s["name"], p["name"]) not in owned:
                            changed |= self._drop(topo, s["name"], p["name"])
                for switch, spec, acls in wanted:
                    changed |= self._put(topo, host, switch, spec, acls)
                return changed

            try:
                c.transact(change)
            except FAILURES as e:
                LOG.error("vepa: sync of host %s: %s", host, e)

    # Port changes.

    FILTER_FIELDS = ("security_groups", "fixed_ips", "allowed_address_pairs",
                     "port_security_enabled", "mac_address")

    def create_port_postcommit(self, context):
        ctx = context.plugin_context.elevated()
        groups = set(context.current.get("security_groups") or [])
        self._push(ctx, [p for p in self._referencing(ctx, groups)
                         if p["id"] != context.current["id"]])

    def update_port_postcommit(self, context):
        ctx = context.plugin_context.elevated()
        cur, orig = context.current, context.original or {}
        was, now = bound_here(orig), bound_here(cur)
        if was and (now is None or was[:3] != now[:3]):
            self._remove(*was[:3])
        changed = [f for f in self.FILTER_FIELDS if cur.get(f) != orig.get(f)]
        # Bound now (a new binding, a move) or bound with new addresses or groups.
        if now and (was != now or changed):
            self._push(ctx, [cur])
        if set(changed) & {"security_groups", "fixed_ips", "allowed_address_pairs"}:
            groups = set(cur.get("security_groups") or []) | set(orig.get("security_groups") or [])
            self._push(ctx, [p for p in self._referencing(ctx, groups) if p["id"] != cur["id"]])

    def delete_port_postcommit(self, context):
        b = bound_here(context.current)
        if b:
            self._remove(*b[:3])
        ctx = context.plugin_context.elevated()
        groups = set(context.current.get("security_groups") or [])
        self._push(ctx, [p for p in self._referencing(ctx, groups)
                         if p["id"] != context.current["id"]])

    # Security group rules.

    def _rule_changed(self, resource, event, trigger, payload=None):
        ctx = payload.context.elevated()
        rule = payload.latest_state if payload.states else None
        group = (rule or {}).get("security_group_id") or payload.metadata.get("security_group_id")
        if not group:
            return
        plugin = directory.get_plugin()
        self._push(ctx, plugin.get_ports(ctx, filters={"security_groups": [group]}))
