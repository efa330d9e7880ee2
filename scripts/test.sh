#!/usr/bin/env bash
# The whole vepa test suite, on a fresh Debian machine, as root:
# installs what the tests use, checks formatting and lints, builds the
# release binary once, then runs unit, property and namespace integration
# tests (cargo-nextest when present, cargo test otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/test.sh: the integration tests create namespaces and devices; run as root" >&2
  exit 1
fi

# What the tests use -> the Debian package that provides it. Each is
# checked by the file the tests really run or read, not by a stand-in.
declare -A need=(
  [/usr/sbin/ip]=iproute2 [/usr/bin/ping]=iputils-ping [/usr/bin/tcpdump]=tcpdump
  [/usr/bin/iperf3]=iperf3 [/usr/bin/setpriv]=util-linux [/usr/bin/ovs-ofctl]=openvswitch-common
  [/usr/bin/osken-manager]=python3-os-ken [/usr/bin/python3]=python3 [/usr/bin/traceroute.db]=traceroute
  # Test certificates for OpenFlow over TLS and etcd.
  [/usr/bin/openssl]=openssl
  # vepa top is driven in tmux.
  [/usr/bin/tmux]=tmux
  # IPFIX export against a real collector; pcapng captures read by tshark.
  [/usr/bin/nfcapd]=nfdump [/usr/bin/nfdump]=nfdump [/usr/bin/tshark]=tshark
  # A real container runtime drives vepa-cni (runc: crun refuses hybrid cgroups).
  [/usr/bin/podman]=podman [/usr/sbin/runc]=runc
  [/usr/sbin/nft]=nftables [/usr/bin/etcd]=etcd-server [/usr/bin/etcdctl]=etcd-client
  # Bonded uplinks against Open vSwitch's userspace LACP bond (its daemons
  # and schema), with a server whose checksums ethtool makes complete.
  [/usr/sbin/ovs-vswitchd]=openvswitch-switch [/usr/bin/ovs-vsctl]=openvswitch-switch
  [/usr/share/openvswitch/vswitch.ovsschema]=openvswitch-switch [/usr/sbin/ethtool]=ethtool
  # LLDP and 802.1Qbg against a real peer.
  [/usr/sbin/lldpad]=lldpad [/usr/sbin/lldptool]=lldpad
  # A userspace VPN opening a persistent TUN device vepa routes.
  [/usr/sbin/openvpn]=openvpn
  # vepa graph's drawings are rendered by Graphviz.
  [/usr/bin/dot]=graphviz
  # The Cockpit page is driven in headless Chromium, served by cockpit-ws
  # with a bridge and the base1 scripts the page loads.
  [/usr/lib/cockpit/cockpit-ws]=cockpit-ws [/usr/bin/cockpit-bridge]=cockpit-bridge
  [/usr/share/cockpit/base1/cockpit.js.gz]=cockpit-bridge [/usr/bin/chromium]=chromium
  # ...and inside Cockpit's own shell (menu, frame).
  [/usr/share/cockpit/shell/index.html]=cockpit-system
  [/usr/bin/qemu-system-x86_64]=qemu-system-x86 [/usr/bin/virt-xml-validate]=libvirt-clients
  [/usr/share/libvirt/schemas/domain.rng]=libvirt-clients [/usr/bin/xmllint]=libxml2-utils
  # The CNI tests delegate addresses to host-local, as a runtime would.
  [/usr/lib/cni/host-local]=containernetworking-plugins
  # The OpenStack integrations' tests run in a virtualenv of their own
  # (Debian 12's Python 3.11 makes one only with its venv package).
  [/usr/lib/python3.11/ensurepip/__init__.py]=python3-venv
  # The package checks: the unit (systemd-analyze), man pages (man -l), the
  # maintainer scripts' systemd helper.
  [/usr/bin/systemd-analyze]=systemd [/usr/bin/man]=man-db [/usr/bin/groff]=groff-base
  [/usr/bin/deb-systemd-helper]=init-system-helpers
  # The C compiler cargo links with, and the C runtime it links.
  [/usr/bin/cc]=gcc ["/usr/lib/$(uname -m)-linux-gnu/crt1.o"]=libc6-dev
)
missing=()
for f in "${!need[@]}"; do
  [ -e "$f" ] || missing+=("${need[$f]}")
done
# The QEMU guest tests boot a Debian kernel from /boot with its virtio
# modules, and a static busybox (not busybox's dynamic one) in their initramfs.
guest_kernel=no
for k in /boot/vmlinuz-*; do
  v=${k#/boot/vmlinuz-}
  ls "/lib/modules/$v/kernel/drivers/net/virtio_net.ko"* >/dev/null 2>&1 && guest_kernel=yes
done
[ "$guest_kernel" = yes ] || missing+=(linux-image-amd64)
[ "$(dpkg -S /bin/busybox 2>/dev/null | cut -d: -f1)" = busybox-static ] || missing+=(busybox-static)
if ((${#missing[@]})); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "== installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # cockpit-ws is here for the browser test alone: the login service its
  # package enables (cockpit.socket, port 9090 on every address) stays off.
  if [[ " ${missing[*]} " == *" cockpit-ws "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now cockpit.socket >/dev/null 2>&1 || true
    echo "== cockpit-ws installed for the tests; its login service (cockpit.socket) left disabled"
  fi
fi
# promtool lints /metrics. Debian ships it only inside the Prometheus server's
# package, whose install starts a server on :9090; take the one binary out of
# the package instead.
promtool=/var/lib/vepa-test-tools/promtool
if [ ! -x "$promtool" ]; then
  echo "== fetching promtool (from Debian's prometheus package, not installed)"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1 \
     || { apt-get update -qq && apt-get download -qq prometheus >/dev/null; })
  dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -C "$tmp" ./usr/bin/promtool
  install -D -m 0755 "$tmp/usr/bin/promtool" "$promtool"
  rm -rf "$tmp"
fi
modprobe veth 2>/dev/null || true
modprobe macvlan 2>/dev/null || true
modprobe tun 2>/dev/null || true

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== layers: crates on their floors, no import circles between files"
/usr/bin/python3 scripts/layers.py
echo "== cargo clippy"
cargo clippy --release --all-targets --workspace -- -D warnings
echo "== cargo build --release"
cargo build --release --workspace
export VEPA_BIN="$PWD/target/release/vepa"

echo "== the build graph runs no protoc"
# Nothing may compile .proto files at build time (the etcd client speaks
# etcd's JSON gateway): a fresh machine builds vepa with cargo and cc alone.
if cargo tree --workspace -e normal,build --prefix none | grep -E '^(prost-build|tonic-build|protoc|protobuf-src|tonic-prost-build) '; then
  echo "scripts/test.sh: the build graph above compiles .proto files (needs protoc)" >&2
  exit 1
fi

echo "== the README's first command: scripts/demo.sh"
scripts/demo.sh >target/demo.log 2>&1 || { cat target/demo.log; exit 1; }
tail -n 25 target/demo.log

echo "== package: cargo deb; install, upgrade, remove, purge"
# cargo-deb 3 builds every binary the package ships (vepa-cni too).
cargo deb --version 2>/dev/null | grep -q '^cargo-deb 3\.' || cargo install cargo-deb --version 3.8.0 --locked --quiet
scripts/package-test.sh

echo "== OpenStack: the os-vif plugin and the ML2 driver (pytest, against real daemons)"
# A virtualenv under target/ with the pinned os-vif, Neutron and test tools
# and both packages installed editable; made again when a pin or a
# package's pyproject.toml changes.
venv=target/openstack-venv
stamp=$(cat integrations/openstack/requirements-test.txt integrations/openstack/*/pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat "$venv/.stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r integrations/openstack/requirements-test.txt \
    -e integrations/openstack/vif_plug_vepa -e integrations/openstack/networking_vepa
  echo "$stamp" >"$venv/.stamp"
fi
PYTHONWARNINGS=ignore "$venv/bin/pytest" -q -p no:cacheprovider integrations/openstack

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  # Namespace tests mostly wait on the network: more threads than cores pays.
  cargo nextest run --release --workspace --test-threads 4 --no-fail-fast "$@"
else
  cargo test --release --workspace --no-fail-fast "$@" -- --test-threads 4
fi
