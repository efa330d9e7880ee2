"""``[ml2_vepa]``: where each compute host's vepa daemon answers and how
Neutron's segments land on its switches."""

from oslo_config import cfg

OPTS = [
    cfg.ListOpt("hosts", default=[],
                help="HOST=ENDPOINT for each host whose ports vepa binds: the "
                     "daemon's API socket (/run/vepa/vepa.sock) or "
                     "http://127.0.0.1:PORT (its --listen, with token_file). "
                     "Ports on other hosts are left to other drivers."),
    cfg.StrOpt("token_file", help="The daemons' token file, for http:// endpoints."),
    cfg.FloatOpt("timeout", default=10.0, min=0.1,
                 help="Seconds to wait for a daemon's answer."),
    cfg.ListOpt("physical_switches", default=[],
                help="PHYSNET:SWITCH: the vepa switch whose uplink carries a "
                     "physical network; a VLAN segment's ports get its VLAN "
                     "as their access VLAN there."),
    cfg.ListOpt("vxlan_vteps", default=[],
                help="HOST=IP: each host's VTEP address on the underlay. A "
                     "VXLAN network gets a switch vni-<VNI> on each host it "
                     "has ports on, with a tunnel to every other VTEP."),
    cfg.ListOpt("vxlan_remotes", default=[],
                help="More VTEPs every VXLAN network is flooded to (hosts that "
                     "do not run vepa, such as a network node's kernel vxlan)."),
    cfg.BoolOpt("vxlan_fabric", default=False,
                help="Find the other hosts of a VNI through the daemons' etcd "
                     "control plane (vepa daemon --etcd) instead of vxlan_vteps."),
    cfg.PortOpt("vxlan_dstport", default=4789, help="The VTEPs' UDP port."),
    cfg.StrOpt("vif_type", default="tap", choices=["tap", "vhostuser"],
               help="tap: a tap QEMU opens by name; vhostuser: a vhost-user "
                    "socket vepa serves (QEMU connects as the client)."),
    cfg.StrOpt("vhost_user_dir", default="/run/vepa/vhost-user",
               help="The daemons' --vhost-user-dir."),
    cfg.IntOpt("sync_interval", default=60, min=0,
               help="Seconds between syncs that make every host's daemon hold "
                    "exactly its bound ports (and retry what failed); 0: never."),
]


def register(conf=cfg.CONF):
    conf.register_opts(OPTS, "ml2_vepa")


def pairs(values, sep, option):
    """``["a=b", ...]`` as a dict; ValueError names the option and entry."""
    out = {}
    for v in values or []:
        k, found, rest = v.partition(sep)
        if not found or not k.strip() or not rest.strip():
            raise ValueError("[ml2_vepa] %s: '%s' is not KEY%sVALUE" % (option, v, sep))
        out[k.strip()] = rest.strip()
    return out


def list_opts():
    """For oslo-config-generator."""
    return [("ml2_vepa", OPTS)]
