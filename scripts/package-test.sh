#!/usr/bin/env bash
# The .deb as an operator meets it (run by scripts/test.sh, as root, after
# the release build): `cargo deb` builds what it ships; then install,
# upgrade to a newer version, remove (state kept) and purge (state gone),
# checking the unit, man pages and completions on the way. A vepa already
# installed on this machine, or a /var/lib/vepa it did not make, is never
# touched: the package is then only built and read.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "package-test: $*" >&2; exit 1; }

# cargo deb prints the path of the package it made.
# (Each run of cargo deb clears target/debian: the first package is kept aside.)
mkdir -p target/package-test
deb=target/package-test/vepa.deb
cp "$(cargo deb -p vepa --strip --quiet | tail -n 1)" "$deb"
version=$(dpkg-deb -f "$deb" Version)
version=${version%-*}
# The same build as a newer package version, for the upgrade.
upgrade=target/package-test/vepa-upgrade.deb
cp "$(cargo deb -p vepa --no-build --strip --quiet --deb-version "${version}-2" | tail -n 1)" "$upgrade"
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/vepa ./usr/lib/cni/vepa-cni ./usr/lib/systemd/system/vepa.service \
  ./usr/share/man/man1/vepa.1.gz ./usr/share/man/man1/vepa-daemon.1.gz \
  ./usr/share/bash-completion/completions/vepa ./usr/share/zsh/vendor-completions/_vepa \
  ./usr/share/fish/vendor_completions.d/vepa.fish \
  ./usr/share/cockpit/vepa/manifest.json ./usr/share/cockpit/vepa/index.html \
  ./usr/share/cockpit/vepa/vepa.js ./usr/share/cockpit/vepa/vepa.css; do
  grep -q " $f\$" <<<"$contents" || fail "$deb lacks $f"
done

if dpkg -s vepa >/dev/null 2>&1 || [ -e /var/lib/vepa ]; then
  echo "vepa (or /var/lib/vepa) is on this machine already: $deb was built and read, not installed"
  exit 0
fi

dpkg -i "$deb" >/dev/null
/usr/bin/vepa --version | grep -Eq "^vepa $version \(commit [0-9a-f]{12}\)$" || fail "vepa --version: $(/usr/bin/vepa --version)"
/usr/bin/vepa doctor -o json | grep -q '"name": "macvlan vepa"' || fail "installed vepa doctor"
[ -x /usr/lib/cni/vepa-cni ] || fail "no /usr/lib/cni/vepa-cni"
out=$(systemd-analyze verify /usr/lib/systemd/system/vepa.service 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify is not clean: $out"
[ -L /etc/systemd/system/multi-user.target.wants/vepa.service ] || fail "the unit was not enabled"
vepa completions bash | bash -n || fail "bash completions do not parse"
bash -n /usr/share/bash-completion/completions/vepa || fail "installed bash completions do not parse"
man -l /usr/share/man/man1/vepa-daemon.1.gz 2>/dev/null | grep -q -- '--state-dir' || fail "man vepa-daemon does not render"
MANPATH=/usr/share/man man -w vepa-port-add >/dev/null || fail "man cannot find vepa-port-add"
python3 -c 'import json,sys; m = json.load(open(sys.argv[1])); assert "index" in m["menu"]' \
  /usr/share/cockpit/vepa/manifest.json || fail "the Cockpit manifest does not parse or has no menu entry"
# Cockpit itself serves the installed page: a local session (no login) in
# a namespace of this script's own, so that no other user reaches it.
if [ -x /usr/lib/cockpit/cockpit-ws ]; then
  ns=vepa-pkgtest-$$
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip netns exec "$ns" /usr/lib/cockpit/cockpit-ws --no-tls --local-session=cockpit-bridge \
    --address 127.0.0.1 --port 9090 >/dev/null 2>&1 &
  ws=$!
  page=$(ip netns exec "$ns" python3 - <<'PY'
import time, urllib.request
for _ in range(100):
    try:
        print(urllib.request.urlopen("http://127.0.0.1:9090/cockpit/@localhost/vepa/index.html").read().decode())
        break
    except OSError:
        time.sleep(0.1)
PY
  ) || true
  kill "$ws" 2>/dev/null || true
  wait "$ws" 2>/dev/null || true
  ip netns del "$ns"
  grep -q 'src="vepa.js"' <<<"$page" || fail "cockpit-ws does not serve the installed page"
else
  echo "package-test: no cockpit-ws here: the installed Cockpit page was not served (scripts/test.sh installs it)"
fi

# The daemon's state lives on across an upgrade and a removal...
mkdir -p /var/lib/vepa && echo kept >/var/lib/vepa/package-test
dpkg -i "$upgrade" >/dev/null
[ "$(dpkg-query -W -f '${Version}' vepa)" = "${version}-2" ] || fail "upgrade to ${version}-2"
dpkg -r vepa >/dev/null
[ ! -e /usr/bin/vepa ] || fail "dpkg -r left /usr/bin/vepa"
[ ! -e /usr/lib/systemd/system/vepa.service ] || fail "dpkg -r left the unit"
[ ! -e /usr/share/cockpit/vepa ] || fail "dpkg -r left the Cockpit page"
[ "$(cat /var/lib/vepa/package-test 2>/dev/null)" = kept ] || fail "dpkg -r removed the state directory"
# ...and goes with a purge.
dpkg -P vepa >/dev/null
[ ! -e /var/lib/vepa ] || fail "dpkg -P left /var/lib/vepa"
[ ! -e /etc/systemd/system/multi-user.target.wants/vepa.service ] || fail "dpkg -P left the unit enabled"
echo "package-test: install, --version, doctor, unit verified and enabled, man pages, completions, Cockpit page, upgrade to ${version}-2, remove (state kept), purge (state gone): ok"
