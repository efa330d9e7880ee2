//! The main command works, and vepa leaves nothing behind: after `vepa demo`,
//! and when `vepa run` or `vepa demo` is interrupted with Ctrl-C (SIGINT).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vepa_itest::{link_exists, netns_exists, require_root, uid, vepa_bin};

fn leftovers(prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.extend(
        std::fs::read_dir("/sys/class/net")
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default(),
    );
    v.retain(|n| n.starts_with(prefix));
    v
}

#[test]
fn demo_teaches_and_cleans_up() {
    require_root();
    let child = Command::new(vepa_bin())
        .arg("demo")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vepa demo");
    let prefix = format!("vepa-demo-{:04x}", child.id() & 0xffff);
    let out = child.wait_with_output().expect("wait demo");
    let text = String::from_utf8_lossy(&out.stdout);
    // The demo itself fails when a cell differs from the kernel's ground truth.
    assert!(
        out.status.success(),
        "vepa demo failed: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    for heading in [
        "veb",
        "vepa, reflective relay ON",
        "vepa, reflective relay OFF",
        "private",
    ] {
        assert!(text.contains(heading), "missing section {heading}:\n{text}");
    }
    assert!(text.contains("ping from"), "{text}");
    assert!(text.contains("host switch counters"), "{text}");
    assert_eq!(
        leftovers(&prefix),
        Vec::<String>::new(),
        "namespaces left behind"
    );
}

fn interrupt_after(mut cmd: Command, ready: impl Fn() -> bool) -> std::process::ExitStatus {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn vepa");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "vepa never got ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    child.wait().expect("wait vepa")
}

#[test]
fn run_interrupted_removes_what_it_made() {
    require_root();
    let id = uid();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.toml");
    let (ns, port) = (format!("lc{id}"), format!("lc{id}p"));
    std::fs::write(
        &file,
        format!("[[switch]]\nname = \"s\"\n[[switch.port]]\nname = \"{port}\"\ntype = \"veth\"\nnetns = \"{ns}\"\n[[switch.port]]\nname = \"{port}t\"\ntype = \"tap\"\n"),
    )
    .unwrap();
    let mut cmd = Command::new(vepa_bin());
    cmd.args(["run", "-f"]).arg(&file);
    let status = interrupt_after(cmd, || link_exists(&format!("{port}t")));
    assert!(status.success(), "Ctrl-C is a normal stop: {status}");
    assert!(!netns_exists(&ns), "namespace removed");
    assert!(!link_exists(&port), "veth removed");
    assert!(!link_exists(&format!("{port}t")), "tap removed");
}

#[test]
fn demo_interrupted_removes_what_it_made() {
    require_root();
    let mut cmd = Command::new(vepa_bin());
    cmd.arg("demo");
    let child_prefix = std::sync::Mutex::new(None::<String>);
    // The demo's namespaces are named vepa-demo-<pid>; wait until they exist.
    let status = {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn demo");
        let prefix = format!("vepa-demo-{:04x}", child.id() & 0xffff);
        *child_prefix.lock().unwrap() = Some(prefix.clone());
        let deadline = Instant::now() + Duration::from_secs(20);
        while leftovers(&prefix).len() < 4 {
            assert!(Instant::now() < deadline, "demo never built its namespaces");
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        child.wait().expect("wait demo")
    };
    let prefix = child_prefix.lock().unwrap().clone().unwrap();
    assert!(!status.success(), "an interrupted demo says so");
    assert_eq!(
        leftovers(&prefix),
        Vec::<String>::new(),
        "namespaces left behind"
    );
}
