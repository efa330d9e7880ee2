//! A real container runtime drives vepa-cni: podman (Debian 12's 4.3, CNI
//! network backend) runs two containers of a local busybox image (a rootfs
//! tarball through `podman import`, no registry) on a network whose
//! conflist names vepa-cni; they ping each other, and tearing down leaves
//! no port, record or namespace behind.
//!
//! Podman's storage, run state and network configuration live in this
//! test's temporary directory. Containers run under runc with
//! cgroupfs (no systemd needed) and ulimits within this machine's limits.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use vepa_itest::daemon::Daemon;
use vepa_itest::{require_root, uid};

struct Podman {
    dir: tempfile::TempDir,
    network: String,
    containers: Vec<String>,
}

impl Podman {
    fn cmd(&self) -> Command {
        let d = self.dir.path();
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", d.join("containers.conf"))
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("run"));
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("podman")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "podman {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = self.run(&["rm", "-f", "-t", "0", c]);
        }
        let _ = self.run(&["network", "rm", "-f", &self.network]);
    }
}

/// host-local's leases in its data directory: files named by the address.
fn leases(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.parse::<std::net::IpAddr>().is_ok())
                .collect()
        })
        .unwrap_or_default()
}

/// vepa-cni's records of network `name`'s attachments, in its own state
/// directory (podman's cleanup process runs the plugin with podman's
/// environment, not this test's, so the default directory is the one).
fn records(name: &str) -> Vec<PathBuf> {
    std::fs::read_dir("/var/lib/cni/vepa")
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    std::fs::read(p)
                        .ok()
                        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                        .is_some_and(|v| v["network"] == name)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn podman_containers_on_a_vepa_cni_network_ping_and_leave_nothing() {
    require_root();
    let id = uid();
    let d = Daemon::start();
    let sw = format!("pd{id}");
    d.ok(&["switch", "add", &sw, "--mode", "veb"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let t = dir.path().to_path_buf();
    let plugins = vepa_itest::vepa_bin()
        .parent()
        .expect("the binaries' directory")
        .to_path_buf();
    std::fs::create_dir_all(t.join("net.d")).expect("net.d");
    std::fs::write(
        t.join("containers.conf"),
        format!(
            "[network]\nnetwork_backend = \"cni\"\ncni_plugin_dirs = [\"{}\", \"/usr/lib/cni\"]\n\
             network_config_dir = \"{}\"\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
             runtime = \"runc\"\n",
            plugins.display(),
            t.join("net.d").display()
        ),
    )
    .expect("containers.conf");
    let network = format!("vp{id}");
    std::fs::write(
        t.join("net.d").join(format!("{network}.conflist")),
        serde_json::json!({
            "cniVersion": "1.0.0",
            "name": network,
            "plugins": [{
                "type": "vepa-cni",
                "switch": sw,
                "socket": d.socket,
                "ipam": {"type": "host-local", "subnet": "10.67.0.0/24", "dataDir": t.join("ipam")},
            }],
        })
        .to_string(),
    )
    .expect("conflist");
    // The image: a static busybox, imported from a tarball.
    let rootfs = t.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).expect("rootfs");
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("busybox (busybox-static)");
    let tar = t.join("rootfs.tar");
    let out = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .output()
        .expect("tar");
    assert!(out.status.success(), "{out:?}");
    let p = Podman {
        dir,
        network: network.clone(),
        containers: vec![format!("pa{id}"), format!("pb{id}")],
    };
    let image = format!("localhost/vepa-bb-{id}:1");
    p.ok(&["import", tar.to_str().expect("path"), &image]);
    let listed = p.ok(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    assert!(listed.contains(&format!("{network} vepa-cni")), "{listed}");
    let limits = [
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
    ];
    let (a, b) = (p.containers[0].clone(), p.containers[1].clone());
    let mut run_a = vec!["run", "-d", "--name", &a, "--network", &network];
    run_a.extend(limits);
    run_a.extend([image.as_str(), "/bin/busybox", "sleep", "300"]);
    p.ok(&run_a);
    let ip = p.ok(&[
        "inspect",
        &a,
        "--format",
        &format!("{{{{.NetworkSettings.Networks.{network}.IPAddress}}}}"),
    ]);
    assert!(ip.starts_with("10.67.0."), "{ip}");
    let sandbox = p.ok(&["inspect", &a, "--format", "{{.NetworkSettings.SandboxKey}}"]);
    let ports = d.json(&["port", "show", &sw]);
    assert_eq!(ports.as_array().map(Vec::len), Some(1), "{ports}");
    let mut run_b = vec!["run", "--rm", "--name", &b, "--network", &network];
    run_b.extend(limits);
    run_b.extend([
        image.as_str(),
        "/bin/busybox",
        "ping",
        "-c",
        "2",
        "-W",
        "2",
        &ip,
    ]);
    let pinged = p.ok(&run_b);
    assert!(pinged.contains("2 packets received"), "{pinged}");
    // b ran with --rm: its lease went with it, a's stays.
    let held = leases(&t.join("ipam").join(&network));
    assert_eq!(held, vec![ip.clone()], "a's lease alone");
    // Container b is gone with its port; then a, then the network.
    let ports = d.json(&["port", "show", &sw]);
    assert_eq!(ports.as_array().map(Vec::len), Some(1), "{ports}");
    p.ok(&["rm", "-f", "-t", "0", &a]);
    p.ok(&["network", "rm", "-f", &network]);
    let ports = d.json(&["port", "show", &sw]);
    assert_eq!(ports.as_array().map(Vec::len), Some(0), "{ports}");
    let left = records(&network);
    assert!(left.is_empty(), "attachment records left: {left:?}");
    let left = leases(&t.join("ipam").join(&network));
    assert!(left.is_empty(), "address leases left: {left:?}");
    assert!(
        sandbox.is_empty() || !Path::new(&sandbox).exists(),
        "the container's namespace {sandbox} is gone"
    );
}
