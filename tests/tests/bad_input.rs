//! Bad input: each mistake gives one clear error line, exit status 1, and
//! leaves nothing behind; garbage frames are counted, never fatal.

use std::process::Command;
use std::time::Duration;
use vepa_itest::{
    counter, link_exists, netns_exists, ping, require_root, send_frames, uid, vepa_bin, Netns, Vepa,
};

/// Runs vepa with `args` on a topology; returns (exit code, stderr).
fn vepa(args: &[&str], topology: &str, as_nobody: bool) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.toml");
    std::fs::write(&file, topology).unwrap();
    // The unprivileged user must be able to read the file.
    let _ = Command::new("chmod")
        .args(["0755", dir.path().to_str().unwrap()])
        .status();
    let _ = Command::new("chmod")
        .args(["0644", file.to_str().unwrap()])
        .status();
    let bin = vepa_bin();
    let mut cmd = if as_nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    let out = cmd.args(args).arg(&file).output().expect("run vepa");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_one_error_line(stderr: &str, want: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line: {stderr:?}");
    assert!(lines[0].starts_with("vepa: error: "), "{stderr:?}");
    assert!(
        lines[0].contains(want),
        "{stderr:?} should mention {want:?}"
    );
}

fn one_veth(id: &str, extra: &str) -> String {
    format!(
        "[[switch]]\nname = \"s\"\n[[switch.port]]\nname = \"b{id}a\"\ntype = \"veth\"\nnetns = \"bad{id}a\"\naddress = [\"10.9.0.1/24\"]\n{extra}"
    )
}

#[test]
fn file_mistakes_are_one_line_each() {
    let id = uid();
    let cases = [
        ("[[switch]\nname = \"s\"\n", "t.toml:1:"),
        (
            &*one_veth(&id, "mode = \"hairpin\"\n"),
            "unknown variant `hairpin`",
        ),
        (
            &*one_veth(&id, "[[switch.port]]\nname = \"b{id}a\"\ntype = \"tap\"\n")
                .replace("{id}", &id),
            "duplicate port name",
        ),
        (
            &*one_veth(&id, "").replace("veth", "wormhole"),
            "unknown variant `wormhole`",
        ),
        (
            &*one_veth(&id, "vlan = 0\n"),
            "vlan: VLAN ID 0 is out of range",
        ),
    ];
    for (text, want) in cases {
        for sub in [&["validate", "-f"][..], &["run", "-f"][..]] {
            let (code, err) = vepa(sub, text, false);
            assert_eq!(code, 1, "{sub:?} {text}");
            assert_one_error_line(&err, want);
        }
    }
    assert!(!netns_exists(&format!("bad{id}a")));
}

#[test]
fn missing_interface_makes_nothing() {
    require_root();
    let id = uid();
    let text = one_veth(
        &id,
        &format!("[[switch.port]]\nname = \"up\"\ntype = \"netdev\"\nifname = \"nx{id}\"\n"),
    );
    let (code, err) = vepa(&["run", "-f"], &text, false);
    assert_eq!(code, 1);
    assert_one_error_line(
        &err,
        &format!("port 'up': ifname: interface 'nx{id}' does not exist"),
    );
    assert!(!netns_exists(&format!("bad{id}a")), "no namespace made");
    assert!(!link_exists(&format!("b{id}a")), "no veth made");
}

#[test]
fn failure_half_way_rolls_back() {
    require_root();
    let id = uid();
    // The second port's address cannot be added twice: found only after the first port exists.
    let text = one_veth(
        &id,
        &format!("[[switch.port]]\nname = \"b{id}b\"\ntype = \"veth\"\nnetns = \"bad{id}b\"\naddress = [\"10.9.0.2/24\", \"10.9.0.2/24\"]\n"),
    );
    let (code, err) = vepa(&["run", "-f"], &text, false);
    assert_eq!(code, 1);
    assert_one_error_line(&err, &format!("port 'b{id}b'"));
    for n in ["a", "b"] {
        assert!(
            !netns_exists(&format!("bad{id}{n}")),
            "namespace {n} removed"
        );
        assert!(!link_exists(&format!("b{id}{n}")), "veth {n} removed");
    }
}

#[test]
fn without_root_says_so() {
    require_root();
    let id = uid();
    let (code, err) = vepa(&["run", "-f"], &one_veth(&id, ""), true);
    assert_eq!(code, 1);
    assert_one_error_line(&err, "needs root");
    assert!(!netns_exists(&format!("bad{id}a")));
}

#[test]
fn garbage_frames_are_counted_and_forwarding_goes_on() {
    require_root();
    let id = uid();
    let a = Netns::new(&format!("gb{id}a"));
    let b = Netns::new(&format!("gb{id}b"));
    let ports = [format!("g{id}a"), format!("g{id}b")];
    let topo = format!(
        "[[switch]]\nname = \"s\"\n[[switch.port]]\nname = \"{}\"\ntype = \"veth\"\nnetns = \"{}\"\naddress = [\"10.9.0.1/24\"]\n\
         [[switch.port]]\nname = \"{}\"\ntype = \"veth\"\nnetns = \"{}\"\naddress = [\"10.9.0.2/24\"]\n",
        ports[0], a.name, ports[1], b.name
    );
    let vepa = Vepa::start(&topo, &ports);
    // Deterministic junk: multicast sources, runts, tagged runts, random bytes.
    let mut seed = 0x9e37_79b9_u32;
    let mut junk = Vec::new();
    for i in 0..300 {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let len = 14 + (seed as usize % 120);
        let mut f: Vec<u8> = (0..len)
            .map(|j| (seed.rotate_left(j as u32) >> 3) as u8)
            .collect();
        match i % 3 {
            0 => f[6] |= 1,                                // group source address
            1 => f[12..14].copy_from_slice(&[0x81, 0x00]), // claims a VLAN tag
            _ => {}
        }
        junk.push(f);
    }
    send_frames(&a.name, "eth0", junk);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        ping(&a.name, "10.9.0.2"),
        "forwarding goes on after garbage"
    );
    let stats = vepa.stop();
    assert!(
        counter(&stats, "s", &ports[0], "invalid_source") >= 50,
        "{stats}"
    );
    assert!(
        counter(&stats, "s", &ports[0], "rx_frames") >= 100,
        "{stats}"
    );
}
