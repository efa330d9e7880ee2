//! The CNI plugin, with this test as the container runtime: namespaces as
//! containers, `CNI_*` variables and the network configuration on stdin,
//! Debian's `host-local` as the IPAM plugin, a vepa daemon behind.

use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use vepa_itest::daemon::Daemon;
use vepa_itest::{link_exists, ping, require_root, uid, wait_reachable, Netns};

fn plugin() -> PathBuf {
    vepa_itest::vepa_bin().with_file_name("vepa-cni")
}

struct Runtime {
    state: tempfile::TempDir,
    /// The namespace the plugin runs in (the runtime's own), if not this one.
    netns: Option<String>,
}

impl Runtime {
    fn new(netns: Option<&str>) -> Runtime {
        Runtime {
            state: tempfile::tempdir().expect("tempdir"),
            netns: netns.map(str::to_string),
        }
    }

    /// Runs the plugin: exit success and its stdout as JSON (or Null).
    fn call(&self, command: &str, config: &Value, env: &[(&str, &str)]) -> (bool, Value) {
        let mut c = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(plugin());
                c
            }
            None => Command::new(plugin()),
        };
        c.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("CNI_COMMAND", command)
            .env("CNI_PATH", "/usr/lib/cni")
            .env("VEPA_CNI_STATE", self.state.path())
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("run vepa-cni");
        // A plugin that stops reading (an oversized configuration) closes
        // the pipe: what it did not read is its answer's business.
        let _ = child
            .stdin
            .take()
            .expect("stdin")
            .write_all(config.to_string().as_bytes());
        let out = child.wait_with_output().expect("vepa-cni");
        let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.success(), v)
    }

    fn attach(&self, command: &str, config: &Value, id: &str, ns: &str) -> (bool, Value) {
        let netns = format!("/run/netns/{ns}");
        self.call(
            command,
            config,
            &[
                ("CNI_CONTAINERID", id),
                ("CNI_NETNS", &netns),
                ("CNI_IFNAME", "eth0"),
            ],
        )
    }
}

fn config(name: &str, switch: &str, d: &Daemon, subnet: &str, ipam_dir: &std::path::Path) -> Value {
    json!({
        "cniVersion": "1.1.0",
        "name": name,
        "type": "vepa-cni",
        "switch": switch,
        "socket": d.socket,
        "ipam": {
            "type": "host-local", "subnet": subnet, "dataDir": ipam_dir,
            "rangeStart": subnet.replace(".0/24", ".10"), "rangeEnd": subnet.replace(".0/24", ".100"),
        },
    })
}

fn address(result: &Value) -> String {
    let a = result["ips"][0]["address"].as_str().unwrap_or_default();
    a.split('/').next().unwrap_or_default().to_string()
}

#[test]
fn containers_attach_detach_and_keep_their_mode() {
    require_root();
    let id = uid();
    let d = Daemon::start();
    let outside = Netns::new(&format!("co{id}"));
    let file = d.dir.path().join("t.toml");
    std::fs::write(
        &file,
        format!(
            "[[switch]]\nname = \"cv{id}\"\nmode = \"veb\"\n[[switch]]\nname = \"cp{id}\"\nmode = \"private\"\n\
             [switch.uplink]\nname = \"cu{id}\"\ntype = \"veth\"\nnetns = \"{}\"\naddress = [\"10.25.0.250/24\"]\n",
            outside.name
        ),
    )
    .expect("write");
    d.ok(&["apply", "-f", file.to_str().expect("path")]);
    let rt = Runtime::new(None);
    let ipam_dir = tempfile::tempdir().expect("tempdir");
    let veb = config(
        &format!("veb{id}"),
        &format!("cv{id}"),
        &d,
        "10.24.0.0/24",
        ipam_dir.path(),
    );
    let private = config(
        &format!("prv{id}"),
        &format!("cp{id}"),
        &d,
        "10.25.0.0/24",
        ipam_dir.path(),
    );
    let c: Vec<Netns> = (1..=4).map(|i| Netns::new(&format!("cc{i}{id}"))).collect();
    let cid = |i: usize| format!("ctr{i}-{id}");

    // ADD: two containers on the veb network reach each other.
    let (ok1, r1) = rt.attach("ADD", &veb, &cid(1), &c[0].name);
    let (ok2, r2) = rt.attach("ADD", &veb, &cid(2), &c[1].name);
    assert!(ok1 && ok2, "{r1}\n{r2}");
    assert_eq!(r1["cniVersion"], "1.1.0");
    assert_eq!(r1["interfaces"][1]["name"], "eth0");
    assert_eq!(r1["ips"][0]["interface"], 1);
    let (a1, a2) = (address(&r1), address(&r2));
    assert!(
        a1.starts_with("10.24.0.") && a2.starts_with("10.24.0.") && a1 != a2,
        "{a1} {a2}"
    );
    assert!(
        wait_reachable(&c[0].name, &a2),
        "container 1 reaches container 2"
    );
    // ADD again for the same container: the same answer, nothing new.
    let (again, r1b) = rt.attach("ADD", &veb, &cid(1), &c[0].name);
    assert!(again, "{r1b}");
    assert_eq!(r1b, r1, "a repeated ADD is answered with what ADD made");
    assert_eq!(
        d.json(&["port", "show"]).as_array().map(Vec::len),
        Some(3),
        "two containers and the private switch's uplink"
    );
    // CHECK with the previous result.
    let mut with_prev = veb.clone();
    with_prev["prevResult"] = r1.clone();
    let (checked, out) = rt.attach("CHECK", &with_prev, &cid(1), &c[0].name);
    assert!(checked, "{out}");
    // CHECK finds a container whose interface went away.
    c[0].exec(&["ip", "link", "set", "eth0", "down"]);
    let (checked, out) = rt.attach("CHECK", &with_prev, &cid(1), &c[0].name);
    assert!(
        !checked && out["code"] == 101 && out["msg"].as_str().is_some_and(|m| m.contains("eth0")),
        "{out}"
    );
    c[0].exec(&["ip", "link", "set", "eth0", "up"]);

    // A private network: its containers never reach each other.
    let (ok3, r3) = rt.attach("ADD", &private, &cid(3), &c[2].name);
    let (ok4, r4) = rt.attach("ADD", &private, &cid(4), &c[3].name);
    assert!(ok3 && ok4, "{r3}\n{r4}");
    assert!(
        wait_reachable(&c[2].name, "10.25.0.250"),
        "private: the outside, yes"
    );
    assert!(
        !ping(&c[2].name, &address(&r4)),
        "private: no container reaches another"
    );

    // STATUS and VERSION.
    let (up, _) = rt.call("STATUS", &veb, &[]);
    assert!(up);
    let (ok, v) = rt.call("VERSION", &json!({"cniVersion": "1.0.0"}), &[]);
    assert!(
        ok && v["supportedVersions"] == json!(["1.0.0", "1.1.0"]),
        "{v}"
    );

    // Bad input: the spec's error object, its code, the field named.
    let mut no_switch = veb.clone();
    no_switch.as_object_mut().map(|m| m.remove("switch"));
    let mut old = veb.clone();
    old["cniVersion"] = json!("0.4.0");
    let mut bad_mtu = veb.clone();
    bad_mtu["mtu"] = json!(20);
    for (cfg, env_ifname, code, word) in [
        (no_switch, Some("eth0"), 7, "switch"),
        (old, Some("eth0"), 1, "cniVersion"),
        (bad_mtu, Some("eth0"), 7, "mtu"),
        (veb.clone(), None, 4, "CNI_IFNAME"),
    ] {
        let netns = format!("/run/netns/{}", c[0].name);
        let mut env = vec![("CNI_CONTAINERID", "bad"), ("CNI_NETNS", netns.as_str())];
        if let Some(i) = env_ifname {
            env.push(("CNI_IFNAME", i));
        }
        let (ok, e) = rt.call("ADD", &cfg, &env);
        assert!(
            !ok && e["code"] == code && e["msg"].as_str().is_some_and(|m| m.contains(word)),
            "{word}: {e}"
        );
    }
    let mut child = Command::new(plugin())
        .env_clear()
        .env("CNI_COMMAND", "ADD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("vepa-cni");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"{not json")
        .expect("write");
    let out = child.wait_with_output().expect("vepa-cni");
    let e: Value = serde_json::from_slice(&out.stdout).expect("an error object");
    assert!(!out.status.success() && e["code"] == 6, "{e}");
    let (ok, e) = rt.attach("ADD", &veb, "ctr-x", "no-such-netns-here");
    assert!(
        !ok && e["code"] == 3 && e["msg"].as_str().is_some_and(|m| m.contains("CNI_NETNS")),
        "{e}"
    );

    // DEL: everything goes; a second DEL of what is gone succeeds.
    for (i, net) in [(1, &veb), (2, &veb), (3, &private), (4, &private)] {
        let (ok, out) = rt.attach("DEL", net, &cid(i), &c[i - 1].name);
        assert!(ok, "DEL {i}: {out}");
        let (ok, out) = rt.attach("DEL", net, &cid(i), &c[i - 1].name);
        assert!(ok, "DEL {i} again: {out}");
        assert!(!c[i - 1]
            .exec(&["ip", "link", "show"])
            .stdout
            .windows(4)
            .any(|w| w == b"eth0"));
    }
    let (ok, out) = rt.call(
        "DEL",
        &veb,
        &[("CNI_CONTAINERID", "gone"), ("CNI_IFNAME", "eth0")],
    );
    assert!(ok, "DEL without a namespace: {out}");
    let left = d.json(&["port", "show"]);
    assert_eq!(
        left.as_array().map(Vec::len),
        Some(1),
        "only the uplink left: {left}"
    );
    assert!(
        std::fs::read_dir(rt.state.path())
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "no record left"
    );
    let leases: Vec<String> = walk(ipam_dir.path())
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("10."))
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(leases.is_empty(), "addresses handed back: {leases:?}");
    for r in [&r1, &r2, &r3, &r4] {
        let host_end = r["interfaces"][0]["name"].as_str().unwrap_or_default();
        assert!(
            host_end.starts_with("vc") && !link_exists(host_end),
            "{host_end} removed"
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A kernel macvlan in the requested mode (no daemon): `bridge` mode lets
/// two containers on one master talk; the runtime's namespace is given
/// as /proc/PID/ns/net, which the plugin binds under /run/netns and lets go
/// on DEL.
#[test]
fn containers_on_a_kernel_macvlan() {
    require_root();
    let id = uid();
    let host = Netns::new(&format!("cm{id}h"));
    // The master: a veth end in a namespace of the test's own.
    vepa_itest::sh(&[
        "ip", "-n", &host.name, "link", "add", "mst", "type", "veth", "peer", "name", "mstp",
    ]);
    host.exec(&["ip", "link", "set", "mst", "up"]);
    host.exec(&["ip", "link", "set", "mstp", "up"]);
    let rt = Runtime::new(Some(&host.name));
    let ipam_dir = tempfile::tempdir().expect("tempdir");
    let cfg = json!({
        "cniVersion": "1.0.0", "name": format!("mv{id}"), "type": "vepa-cni",
        "kind": "macvlan", "master": "mst", "mode": "bridge",
        "ipam": {"type": "host-local", "subnet": "10.26.0.0/24", "dataDir": ipam_dir.path()},
    });
    let c: Vec<Netns> = (1..=2).map(|i| Netns::new(&format!("cm{i}{id}"))).collect();
    // The plugin runs inside the host namespace (where the master is);
    // container 2 is named by a process's namespace file.
    let sleeper = Command::new("ip")
        .args(["netns", "exec", &c[1].name, "sleep", "60"])
        .spawn()
        .expect("sleep");
    let proc_ns = format!("/proc/{}/ns/net", sleeper.id());
    std::thread::sleep(std::time::Duration::from_millis(200));
    let run = |command: &str, ctr: &str, netns: &str| {
        rt.call(
            command,
            &cfg,
            &[
                ("CNI_CONTAINERID", ctr),
                ("CNI_NETNS", netns),
                ("CNI_IFNAME", "eth0"),
            ],
        )
    };
    let (ok1, r1) = run("ADD", "m1", &format!("/run/netns/{}", c[0].name));
    let (ok2, r2) = run("ADD", "m2", &proc_ns);
    assert!(ok1 && ok2, "{r1}\n{r2}");
    assert!(
        wait_reachable(&c[0].name, &address(&r2)),
        "bridge mode: the containers meet"
    );
    let bound = std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with("vepacni-"));
    assert!(bound, "the /proc namespace is bound under /run/netns");
    let (d1, _) = run("DEL", "m1", &format!("/run/netns/{}", c[0].name));
    let (d2, out) = run("DEL", "m2", &proc_ns);
    assert!(d1 && d2, "{out}");
    assert!(!c[0]
        .exec(&["ip", "link", "show"])
        .stdout
        .windows(4)
        .any(|w| w == b"eth0"));
    let mut sleeper = sleeper;
    let _ = sleeper.kill();
    let _ = sleeper.wait();
}

/// CNI 1.1's GC removes the attachments the runtime no longer lists; the
/// `mac` capability sets the container's MAC; oversized or bad input is
/// refused naming what was wrong.
#[test]
fn gc_collects_what_the_runtime_forgot_and_capabilities_apply() {
    require_root();
    let id = uid();
    let d = Daemon::start();
    let sw = format!("cg{id}");
    d.ok(&["switch", "add", &sw, "--mode", "veb"]);
    let rt = Runtime::new(None);
    let ipam_dir = tempfile::tempdir().expect("tempdir");
    let mut net = config(&format!("gc{id}"), &sw, &d, "10.26.0.0/24", ipam_dir.path());
    net["capabilities"] = json!({"mac": true, "ips": true});
    let c: Vec<Netns> = (1..=2).map(|i| Netns::new(&format!("cg{i}{id}"))).collect();
    let cid = |i: usize| format!("gc{i}-{id}");
    let mut with_mac = net.clone();
    with_mac["runtimeConfig"] = json!({"mac": "02:aa:00:00:00:01"});
    let (ok1, r1) = rt.attach("ADD", &with_mac, &cid(1), &c[0].name);
    let (ok2, r2) = rt.attach("ADD", &net, &cid(2), &c[1].name);
    assert!(ok1 && ok2, "{r1}\n{r2}");
    assert_eq!(c[0].mac("eth0").to_string(), "02:aa:00:00:00:01");
    assert_eq!(r1["interfaces"][1]["mac"], "02:aa:00:00:00:01", "{r1}");
    assert!(ping(&c[0].name, &address(&r2)), "the two containers talk");
    let ports = |d: &Daemon| d.json(&["port", "show", &sw]).to_string();
    let host2 = r2["interfaces"][0]["name"]
        .as_str()
        .expect("host side")
        .to_string();
    assert!(ports(&d).contains(&host2));

    // GC: the runtime still knows container 1 only.
    let mut gc = net.clone();
    gc["cni.dev/valid-attachments"] = json!([{"containerID": cid(1), "ifname": "eth0"}]);
    let (ok, v) = rt.call("GC", &gc, &[]);
    assert!(ok, "GC: {v}");
    assert!(!ports(&d).contains(&host2), "container 2's port is gone");
    assert!(
        !link_exists(&host2)
            && !Command::new("ip")
                .args(["-n", &c[1].name, "link", "show", "eth0"])
                .stderr(Stdio::null())
                .status()
                .expect("ip")
                .success(),
        "and its veth"
    );
    let host1 = r1["interfaces"][0]["name"]
        .as_str()
        .expect("host side")
        .to_string();
    assert!(ports(&d).contains(&host1), "container 1 stays");
    let (ok, v) = rt.attach(
        "CHECK",
        &{
            let mut n = with_mac.clone();
            n["prevResult"] = r1.clone();
            n
        },
        &cid(1),
        &c[0].name,
    );
    assert!(ok, "container 1 checks out after GC: {v}");
    // A second GC has nothing to do.
    let (ok, _) = rt.call("GC", &gc, &[]);
    assert!(ok);

    // Bad input, named.
    let mut bad = net.clone();
    bad["runtimeConfig"] = json!({"mac": "01:00:5e:00:00:01"});
    let (ok, v) = rt.attach("ADD", &bad, &format!("gc9-{id}"), &c[1].name);
    assert!(
        !ok && v["msg"]
            .as_str()
            .unwrap_or_default()
            .starts_with("runtimeConfig.mac"),
        "{v}"
    );
    let mut bad = net.clone();
    bad["cni.dev/valid-attachments"] = json!([{"containerID": 5}]);
    let (ok, v) = rt.call("GC", &bad, &[]);
    assert!(
        !ok && v["msg"]
            .as_str()
            .unwrap_or_default()
            .contains("valid-attachments"),
        "{v}"
    );
    let mut huge = net.clone();
    huge["padding"] = json!("x".repeat(2 << 20));
    let (ok, v) = rt.call("VERSION", &huge, &[]);
    assert!(
        !ok && v["msg"].as_str().unwrap_or_default().contains("more than"),
        "{v}"
    );
    let (ok, v) = rt.attach("DEL", &net, &cid(1), &c[0].name);
    assert!(ok, "{v}");
}
