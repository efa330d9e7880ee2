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

# command -> Debian package
declare -A need=([ip]=iproute2 [ping]=iputils-ping [tcpdump]=tcpdump [iperf3]=iperf3 [setpriv]=util-linux [ovs-ofctl]=openvswitch-common [osken-manager]=python3-os-ken [traceroute]=traceroute [nft]=nftables [etcd]=etcd-server [etcdctl]=etcd-client [protoc]=protobuf-compiler [qemu-system-x86_64]=qemu-system-x86 [virt-xml-validate]=libvirt-clients [xmllint]=libxml2-utils)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
# The QEMU guest tests boot a Debian kernel (with its modules) from /boot
# with a static busybox for their initramfs.
ls /boot/vmlinuz-* >/dev/null 2>&1 || missing+=(linux-image-amd64)
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
# The CNI tests delegate addresses to host-local, as a runtime would.
[ -x /usr/lib/cni/host-local ] || missing+=(containernetworking-plugins)
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
modprobe veth 2>/dev/null || true
modprobe macvlan 2>/dev/null || true
modprobe tun 2>/dev/null || true

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --release --all-targets --workspace -- -D warnings
echo "== cargo build --release"
cargo build --release --workspace
export VEPA_BIN="$PWD/target/release/vepa"

echo "== package: cargo deb, dpkg -i, vepa doctor, dpkg -r"
command -v cargo-deb >/dev/null 2>&1 || cargo install cargo-deb --locked --quiet
cargo deb -p vepa --no-build --strip --quiet
deb=$(ls -t target/debian/vepa_*.deb | head -1)
if dpkg -s vepa >/dev/null 2>&1; then
  # Never replace or remove a vepa someone installed on this machine.
  echo "vepa is installed here already: $deb was built and read, not installed"
  dpkg-deb --info "$deb" >/dev/null
else
  dpkg -i "$deb"
  /usr/bin/vepa doctor -o json | grep -q '"name": "macvlan vepa"'
  test -f /lib/systemd/system/vepa.service
  dpkg -r vepa >/dev/null
fi

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  # Namespace tests mostly wait on the network: more threads than cores pays.
  cargo nextest run --release --workspace --test-threads 4 --no-fail-fast "$@"
else
  cargo test --release --workspace --no-fail-fast "$@" -- --test-threads 4
fi
