"""The os-vif plugin ``vepa``.

``plug`` makes the VIF's port on a vepa switch through the daemon's API,
``unplug`` removes it (with any ACL on it). Both are idempotent, as os-vif
asks: plugging a VIF that is already plugged the same way changes nothing,
unplugging one that is gone succeeds.

- ``VIFGeneric``: a ``tap`` port named ``vif_name`` (the device QEMU opens;
  vepa makes it persistent, or adopts the one a VM manager made).
- ``VIFVHostUser``: a ``vhost-user`` port serving ``path`` (vepa is the
  socket's server, so QEMU connects as a client: ``mode`` must be
  ``client``, what Neutron calls ``vhostuser_mode = client``).

The switch is the VIF's ``network.bridge`` (else ``[os_vif_vepa] switch``),
its access VLAN ``network.vlan`` when set, its MAC ``address`` and its MTU
``network.mtu``.

A VIF whose network filters its traffic (``has_traffic_filtering``, what
Neutron's ``port_filter`` says) is never left unfiltered: when ``plug``
has to make its port, the port comes with its guard (the VIF's MAC and
fixed IPs) and both of its lists dropping everything, named as the ML2
driver ``vepa`` names them, in the same change; the driver's next change
or sync fills them with the port's security groups. A port that exists
already keeps the guard and lists it has.
"""

from os_vif import exception as osv_exception
from os_vif import objects
from os_vif import plugin
from oslo_config import cfg

from vif_plug_vepa import client as vepa

PLUGIN_NAME = "vepa"


def closed_guard(vif, spec):
    """The guard of a filtered VIF's new port: its MAC and fixed IPs."""
    ips = []
    net = vif.network if "network" in vif and vif.network else None
    if net is not None and "subnets" in net and net.subnets:
        for sub in net.subnets.objects:
            if "ips" in sub and sub.ips:
                ips += [str(ip.address) for ip in sub.ips.objects if "address" in ip]
    if "mac" not in spec:
        raise ValueError("address: a filtered VIF's port is bound to its MAC; the VIF has none")
    return {"guard": True, "allowed_macs": [spec["mac"]], "allowed_ips": ips}


def closed_acls(switch, name):
    """Both lists of a filtered VIF's new port, dropping everything until
    the ML2 driver fills them (its names: PORT-egress, PORT-ingress)."""
    where = "%s/%s" % (switch, name)
    return [{"name": name + "-egress", "port": where, "direction": "in",
             "default": "drop", "rules": []},
            {"name": name + "-ingress", "port": where, "direction": "out",
             "default": "drop", "rules": []}]


class VepaPlugin(plugin.PluginBase):
    """Plugs VIFGeneric (tap) and VIFVHostUser VIFs into vepa switches."""

    CONFIG_OPTS = (
        cfg.StrOpt("api", default=vepa.DEFAULT_SOCKET,
                   help="The vepa daemon's API: its socket path, or "
                        "http://127.0.0.1:PORT for its --listen (with token_file)."),
        cfg.StrOpt("token_file",
                   help="The daemon's token file, for an http:// api."),
        cfg.StrOpt("switch",
                   help="The switch of VIFs whose network names no bridge."),
        cfg.FloatOpt("timeout", default=10.0, min=0.1,
                     help="Seconds to wait for the daemon's answer."),
    )

    def client(self):
        # Made per call: it is a path and a timeout, and a changed
        # configuration is seen at once.
        return vepa.VepaClient(self.config.api, self.config.token_file, self.config.timeout)

    def describe(self):
        return objects.host_info.HostPluginInfo(
            plugin_name=PLUGIN_NAME,
            vif_info=[
                objects.host_info.HostVIFInfo(
                    vif_object_name=objects.vif.VIFGeneric.__name__,
                    min_version="1.0", max_version="1.0"),
                objects.host_info.HostVIFInfo(
                    vif_object_name=objects.vif.VIFVHostUser.__name__,
                    min_version="1.0", max_version="1.1"),
            ])

    # What a VIF asks for, as a vepa port.

    def _switch(self, vif):
        net = vif.network if "network" in vif and vif.network else None
        bridge = net.bridge if net is not None and "bridge" in net and net.bridge else None
        switch = bridge or self.config.switch
        if not switch:
            raise ValueError("network.bridge: the VIF names no switch and "
                             "[os_vif_vepa] switch is not set")
        return switch

    def port_of(self, vif):
        """(switch, port spec) for ``vif``; ValueError names the bad field."""
        switch = self._switch(vif)
        spec = {}
        if isinstance(vif, objects.vif.VIFGeneric):
            name = vif.vif_name if "vif_name" in vif else None
            if not name:
                raise ValueError("vif_name: a VIFGeneric needs the tap device's name")
            spec.update(name=name, type="tap")
        elif isinstance(vif, objects.vif.VIFVHostUser):
            if "mode" not in vif or vif.mode != objects.fields.VIFVHostUserMode.CLIENT:
                raise ValueError(
                    "mode: vepa serves the vhost-user socket, so QEMU must be its "
                    "client (mode 'client', Neutron's vhostuser_mode = client)")
            if "path" not in vif or not vif.path:
                raise ValueError("path: a VIFVHostUser needs its socket's path")
            name = vif.vif_name if "vif_name" in vif and vif.vif_name else None
            name = name or ("vhu" + str(vif.id))[:14]
            spec.update(name=name, type="vhost-user", socket=vif.path)
        else:
            raise ValueError("%s: vepa plugs VIFGeneric and VIFVHostUser"
                             % type(vif).__name__)
        if "address" in vif and vif.address:
            spec["mac"] = str(vif.address).lower()
        net = vif.network if "network" in vif and vif.network else None
        if net is not None:
            if "vlan" in net and net.vlan:
                spec["vlan"] = int(net.vlan)
            if "mtu" in net and net.mtu:
                spec["mtu"] = int(net.mtu)
        return switch, spec

    # The plugin's contract.

    def plug(self, vif, instance_info):
        filtered = "has_traffic_filtering" in vif and vif.has_traffic_filtering
        try:
            switch, spec = self.port_of(vif)
            # What another party set on the port (the ML2 driver's guard,
            # allowed addresses) stays as it is.
            keep = ("guard", "allowed_macs", "allowed_ips", "mode", "relay",
                    "storm", "mac_limit", "bpdu_guard", "offload", "vsi")

            def change(topo):
                for s in topo.get("switch", []):
                    if s.get("name") != switch and vepa.find_port(s, spec["name"]):
                        raise ValueError(
                            "vif_name: switch '%s' has a port '%s' already"
                            % (s.get("name"), spec["name"]))
                sw = vepa.find_switch(topo, switch)
                new = sw is not None and vepa.find_port(sw, spec["name"]) is None
                if new and filtered:
                    vepa.put_port(topo, switch, dict(spec, **closed_guard(vif, spec)))
                    for acl in closed_acls(switch, spec["name"]):
                        vepa.put_acl(topo, acl)
                    return True
                return vepa.put_port(topo, switch, spec, keep=keep)

            self.client().transact(change)
        except (ValueError, vepa.VepaError) as e:
            raise osv_exception.PlugException(vif=vif, err=str(e)) from e

    def unplug(self, vif, instance_info):
        try:
            switch, spec = self.port_of(vif)
            name = spec["name"]

            def change(topo):
                # The port may have moved switch since it was plugged; it is
                # the VIF's wherever it is.
                names = [switch] + [s.get("name") for s in topo.get("switch", [])]
                return any(vepa.remove_port(topo, s, name) for s in names)

            self.client().transact(change)
        except (ValueError, vepa.VepaError) as e:
            raise osv_exception.UnplugException(vif=vif, err=str(e)) from e
