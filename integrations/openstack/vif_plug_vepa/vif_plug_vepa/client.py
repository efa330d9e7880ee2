"""A small client of the vepa daemon's HTTP/JSON API.

The daemon listens on a unix socket (``/run/vepa/vepa.sock``, mode 0660:
root, vepa's user and its ``--group``) and, when started with
``--listen``, on a loopback TCP port that wants a bearer token. Both
OpenStack integrations (the os-vif plugin and the ML2 driver) speak to it
only through this module.

Changes that touch more than one object (a port and the ACLs on it) go
through :meth:`VepaClient.transact`: read the whole desired state with its
generation, change it, and apply it; the daemon refuses an apply whose
generation is no longer current (409, field ``generation``), and the change
is then made again on the fresh state. Either all of it lands or none.
"""

import http.client
import json
import random
import socket
import time
import urllib.parse

DEFAULT_SOCKET = "/run/vepa/vepa.sock"


class VepaError(Exception):
    """The daemon refused a request (or could not be asked)."""

    def __init__(self, message, status=None, field=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field

    def __str__(self):
        where = " (field '%s')" % self.field if self.field else ""
        code = "HTTP %s: " % self.status if self.status else ""
        return "vepa: %s%s%s" % (code, self.message, where)


class VepaUnreachable(VepaError):
    """No daemon answered at the endpoint."""


class NotFound(VepaError):
    """What was named does not exist (404)."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("vepa", timeout=timeout)
        self._path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self._path)
        except OSError:
            s.close()
            raise
        self.sock = s


def parse_endpoint(endpoint):
    """``/path``, ``unix:/path`` or ``unix:///path`` (the API socket), or
    ``http://127.0.0.1:PORT`` (the daemon's ``--listen``). Returns
    ``("unix", path)`` or ``("http", host, port)``; ValueError names what
    is wrong."""
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise ValueError("endpoint is empty: expected a socket path or http://HOST:PORT")
    e = endpoint.strip()
    if e.startswith("unix:"):
        path = e[len("unix:"):]
        if path.startswith("//"):
            path = path[2:]
        e = path
    if e.startswith("/"):
        return ("unix", e)
    u = urllib.parse.urlsplit(e)
    if u.scheme == "http" and u.hostname and u.port and u.path in ("", "/"):
        return ("http", u.hostname, u.port)
    raise ValueError(
        "endpoint '%s': expected a socket path (/run/vepa/vepa.sock, unix:/...) "
        "or http://HOST:PORT" % endpoint)


class VepaClient:
    """One daemon. ``endpoint`` as :func:`parse_endpoint` takes it;
    ``token_file`` holds the bearer token for an ``http://`` endpoint."""

    def __init__(self, endpoint=DEFAULT_SOCKET, token_file=None, timeout=10.0):
        self.endpoint = endpoint
        self._where = parse_endpoint(endpoint)
        self._timeout = float(timeout)
        self._token = None
        if self._where[0] == "http":
            if not token_file:
                raise ValueError(
                    "endpoint '%s' is TCP: the daemon wants its token (token_file)" % endpoint)
            with open(token_file, "r", encoding="utf-8") as f:
                self._token = f.read().strip()

    def _connection(self):
        if self._where[0] == "unix":
            return _UnixConnection(self._where[1], self._timeout)
        return http.client.HTTPConnection(self._where[1], self._where[2], timeout=self._timeout)

    def request(self, method, path, body=None):
        """One request; the decoded JSON answer (None when empty). Raises
        NotFound on 404, VepaError on any other refusal."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self._token is not None:
            headers["Authorization"] = "Bearer " + self._token
        conn = self._connection()
        try:
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read(64 * 1024 * 1024)
            except (OSError, http.client.HTTPException) as e:
                raise VepaUnreachable(
                    "no vepa daemon answered at %s: %s" % (self.endpoint, e)) from e
        finally:
            conn.close()
        doc = None
        if raw:
            try:
                doc = json.loads(raw.decode("utf-8"))
            except ValueError:
                if 200 <= resp.status < 300:
                    raise VepaError("%s %s: the answer is not JSON" % (method, path),
                                    status=resp.status)
                doc = {"error": raw.decode("utf-8", "replace")[:500]}
        if 200 <= resp.status < 300:
            return doc
        message = field = None
        if isinstance(doc, dict):
            message, field = doc.get("error"), doc.get("field")
        message = message or resp.reason or "request refused"
        cls = NotFound if resp.status == 404 else VepaError
        raise cls("%s %s: %s" % (method, path, message), status=resp.status, field=field)

    def get(self, path):
        return self.request("GET", path)

    def topology(self):
        """The desired state, with the generation it was read at."""
        return self.get("/v1/topology")

    def apply(self, topology):
        return self.request("POST", "/v1/apply", {"topology": topology})

    def transact(self, change, attempts=20):
        """Read the desired state, let ``change(topology)`` edit it in place
        (returning False when there is nothing to do) and apply it whole.
        When another client changed the state in between, start again from
        the fresh state. Returns the apply's result (None when nothing was
        to be done)."""
        for attempt in range(attempts):
            topo = self.topology()
            if change(topo) is False:
                return None
            try:
                return self.apply(topo)
            except VepaError as e:
                if e.status == 409 and e.field == "generation" and attempt + 1 < attempts:
                    time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
                    continue
                raise
        raise VepaError("the state kept changing under %d attempts" % attempts)


# Edits of a topology document (the JSON of GET /v1/topology), shared by the
# os-vif plugin and the ML2 driver.

def find_switch(topo, name):
    for s in topo.get("switch", []):
        if s.get("name") == name:
            return s
    return None


def find_port(switch, name):
    for p in switch.get("port", []):
        if p.get("name") == name:
            return p
    up = switch.get("uplink")
    if up and up.get("name") == name:
        return up
    return None


def put_port(topo, switch_name, spec, keep=()):
    """Make ``switch_name`` have the port ``spec`` (by name). An existing
    port of that name keeps the fields named in ``keep`` that ``spec`` does
    not set. Returns False when the port is already exactly that."""
    sw = find_switch(topo, switch_name)
    if sw is None:
        raise NotFound("no switch '%s'" % switch_name, status=404, field="switch")
    ports = sw.setdefault("port", [])
    for i, p in enumerate(ports):
        if p.get("name") == spec["name"]:
            merged = dict(spec)
            for k in keep:
                if k in p and k not in merged:
                    merged[k] = p[k]
            if _same(merged, p):
                return False
            ports[i] = merged
            return True
    ports.append(dict(spec))
    return True


def _same(want, have):
    """The daemon echoes a few fields at their defaults (``relay: false``):
    a port is unchanged when every field set agrees and the rest are unset
    or default."""
    for k in set(want) | set(have):
        a, b = want.get(k), have.get(k)
        if a != b and (a not in (None, False, [], {}, "") or b not in (None, False, [], {}, "")):
            return False
    return True


def remove_port(topo, switch_name, port_name):
    """Take the port and the ACLs on it out of the state. False when
    there was no such port (nothing to do)."""
    sw = find_switch(topo, switch_name)
    if sw is None:
        return False
    before = len(sw.get("port", []))
    sw["port"] = [p for p in sw.get("port", []) if p.get("name") != port_name]
    if len(sw["port"]) == before:
        return False
    where = "%s/%s" % (switch_name, port_name)
    topo["acl"] = [a for a in topo.get("acl", []) if a.get("port") != where]
    return True


def put_acl(topo, spec):
    """Replace (or add) the ACL named ``spec['name']``; False when unchanged."""
    acls = topo.setdefault("acl", [])
    for i, a in enumerate(acls):
        if a.get("name") == spec["name"]:
            if a == spec:
                return False
            acls[i] = spec
            return True
    acls.append(spec)
    return True


def drop_acls(topo, port_ref):
    """Remove every ACL on ``SWITCH/PORT``; False when there was none."""
    acls = topo.get("acl", [])
    kept = [a for a in acls if a.get("port") != port_ref]
    topo["acl"] = kept
    return len(kept) != len(acls)
