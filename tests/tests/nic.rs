//! `vepa nic` on devices without the hardware: every request answered
//! clearly as unsupported by the driver, nothing changed. (The messages
//! themselves are checked byte for byte against iproute2 in crates/kernel.)

use std::process::Command;
use vepa_itest::{require_root, sh, uid, vepa_bin, Links};

fn vepa(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(vepa_bin()).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn nic_requests_on_a_veth_say_the_driver_cannot() {
    require_root();
    let id = uid();
    let (a, b) = (format!("n{id}a"), format!("n{id}b"));
    sh(&["ip", "link", "add", &a, "type", "veth", "peer", "name", &b]);
    let _links = Links(vec![a.clone()]);
    let (ok, out, _) = vepa(&["nic", "show", &a, "-o", "json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["driver"], "veth");
    assert!(v[0]["hwmode"].is_null());
    for (args, says) in [
        (
            vec!["nic", "set", &a, "hwmode", "vepa"],
            "does not support an embedded bridge mode",
        ),
        (
            vec!["nic", "vf", &a, "0", "--mac", "02:00:00:00:00:01"],
            "does not support SR-IOV virtual function",
        ),
        (
            vec!["nic", "vf", &a, "1", "--vlan", "10", "--qos", "2"],
            "does not support SR-IOV virtual function",
        ),
        (
            vec!["nic", "sriov", &a, "numvfs", "2"],
            "does not support SR-IOV",
        ),
    ] {
        let (ok, _, err) = vepa(&args);
        assert!(!ok, "{args:?}");
        assert!(
            err.starts_with("vepa: error: ") && err.contains(says) && err.contains("veth"),
            "{args:?}: {err}"
        );
    }
    let (ok, _, err) = vepa(&["nic", "vf", &a, "0"]);
    assert!(!ok && err.contains("nothing to set"), "{err}");
    let (ok, _, err) = vepa(&["nic", "set", &format!("x{id}"), "hwmode", "veb"]);
    assert!(!ok && err.contains("does not exist"), "{err}");
    let (ok, out, _) = vepa(&["nic", "show"]);
    assert!(ok && out.starts_with("NIC"), "{out}");
}
