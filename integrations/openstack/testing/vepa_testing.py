"""What the OpenStack integrations' tests share: a real vepa daemon in a
network namespace of its own, namespaces playing VMs, and a tap relay
that puts a namespace behind a VM's tap. Every name is unique to the
run, and everything is removed at the end, even after a failure."""

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "integrations", "openstack", "vif_plug_vepa"))

from vif_plug_vepa import client as vepa  # noqa: E402


def vepa_bin():
    return os.environ.get("VEPA_BIN") or os.path.join(ROOT, "target", "release", "vepa")


def uid():
    return secrets.token_hex(3)


def run(*args, check=True, timeout=60):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("%s failed (%d): %s%s" % (" ".join(args), p.returncode,
                                                        p.stdout, p.stderr))
    return p


class Netns:
    """A network namespace of this run's, deleted with what is in it."""

    def __init__(self, prefix):
        self.name = "%s%s" % (prefix, uid())
        run("ip", "netns", "add", self.name)
        self.sh("ip link set lo up")

    def cmd(self, *args):
        return ["ip", "netns", "exec", self.name] + list(args)

    def run(self, *args, check=True, timeout=60):
        return run(*self.cmd(*args), check=check, timeout=timeout)

    def sh(self, script, check=True, timeout=60):
        return self.run("sh", "-c", script, check=check, timeout=timeout)

    def delete(self):
        run("ip", "netns", "del", self.name, check=False)


class Daemon:
    """``vepa daemon`` in a namespace of its own, on a state directory,
    socket and vhost-user directory of its own."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vepa-os-")
        self.ns = Netns("vos")
        self.socket = os.path.join(self.dir, "vepa.sock")
        self.vhost_dir = os.path.join(self.dir, "vu")
        with open(os.path.join(self.dir, "daemon.log"), "ab") as log:
            self.proc = subprocess.Popen(
                self.ns.cmd(vepa_bin(), "--socket", self.socket, "daemon",
                            "--state-dir", os.path.join(self.dir, "state"), "--workers", "1",
                            "--vhost-user-dir", self.vhost_dir),
                stdout=log, stderr=log, env=dict(os.environ, RUST_LOG="vepa=info"))
        self.client = vepa.VepaClient(self.socket, timeout=30)
        deadline = time.time() + 30
        while True:
            try:
                self.client.get("/v1/stats")
                break
            except vepa.VepaUnreachable:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise AssertionError("vepa daemon did not start:\n" + self.log())
                time.sleep(0.05)

    def log(self):
        try:
            with open(os.path.join(self.dir, "daemon.log"), encoding="utf-8",
                      errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def cli(self, *args):
        return run(vepa_bin(), "--socket", self.socket, *args).stdout

    def cli_json(self, *args):
        return json.loads(self.cli("-j", *args))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.ns.delete()
        shutil.rmtree(self.dir, ignore_errors=True)


class Guest:
    """A namespace playing a VM behind a tap port of ``daemon``'s: a relay
    in the daemon's namespace copies frames between the port's tap and a
    tap of its own that sits in the guest's namespace as ``eth0``."""

    def __init__(self, daemon, tap, mac, address, gateway=None):
        self.ns = Netns("vog")
        self.tap = tap
        inner = "vg" + uid()
        self.relay = subprocess.Popen(
            daemon.ns.cmd(sys.executable, os.path.join(HERE, "taprelay.py"), tap, inner),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = self.relay.stdout.readline()
            if line.strip() != "ready":
                raise AssertionError("tap relay did not start: %s%s"
                                     % (line, self.relay.stderr.read()))
            daemon.ns.sh("ip link set %s netns %s && ip link set %s up"
                         % (inner, self.ns.name, tap))
            self.ns.sh("ip link set %s name eth0 && ip link set eth0 address %s && "
                       "ip addr add %s dev eth0 && ip link set eth0 up"
                       % (inner, mac, address))
            if gateway:
                self.ns.sh("ip route add default via %s" % gateway)
        except BaseException:
            self.stop()
            raise

    def ping(self, address, count=3, check=True):
        return self.ns.run("ping", "-c", str(count), "-i", "0.2", "-W", "1", address,
                           check=check)

    def stop(self):
        if self.relay.poll() is None:
            self.relay.kill()
            self.relay.wait()
        self.ns.delete()
