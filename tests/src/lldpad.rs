//! lldpad, the Linux 802.1AB/802.1Qbg agent, as the real peer of vepa's
//! link agent: in a namespace, on one interface, with the configuration
//! in a file of its own (see docs/802.1qbg.md for why each step is so).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// lldpad in a namespace, with its own /dev/shm (its instance lock lives
/// there, so two could not run at once otherwise); killed on drop.
pub struct Lldpad {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Lldpad {
    /// LLDP on `ifname`'s nearest-bridge agent.
    pub fn start(ns: &str, ifname: &str) -> Lldpad {
        Lldpad::with_config(
            ns,
            &format!("lldp : {{ {ifname} : {{ adminStatus = 3; }}; }};\n"),
        )
    }

    /// An 802.1Qbg bridge on `ifname` (evb22 on the nearest-customer-bridge
    /// agent), able to relay or not. The mode is in the file before lldpad
    /// starts: lldpad fixes its VDP role a second after it starts.
    pub fn evb_bridge(ns: &str, ifname: &str, rrcap: bool) -> Lldpad {
        Lldpad::with_config(
            ns,
            &format!(
                "nearest_customer_bridge : {{ {ifname} : {{ adminStatus = 3; tlvid0080c20d : {{
                   enableTx = true; evbmode = \"bridge\"; evbrrcap = {rrcap}; }}; }}; }};\n"
            ),
        )
    }

    pub fn with_config(ns: &str, config: &str) -> Lldpad {
        Lldpad::launch(ns, config, None)
    }

    /// As [`Lldpad::with_config`], logging at debug level (`-V 7`) into
    /// `log`: the only place lldpad as a VDP bridge shows the VSIs it
    /// associated (`vdp22_showvsi`; its tools cannot list them).
    pub fn with_debug_log(ns: &str, config: &str, log: &std::path::Path) -> Lldpad {
        Lldpad::launch(ns, config, Some(log))
    }

    fn launch(ns: &str, config: &str, log: Option<&std::path::Path>) -> Lldpad {
        assert!(
            std::path::Path::new("/usr/sbin/lldpad").exists(),
            "lldpad is missing: scripts/test.sh installs it (apt-get install lldpad)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("lldpad.conf");
        std::fs::write(&conf, config).expect("lldpad.conf");
        let (debug, out) = match log {
            Some(path) => (
                "stdbuf -oL lldpad -V 7",
                Stdio::from(std::fs::File::create(path).expect("lldpad log")),
            ),
            None => ("lldpad", Stdio::null()),
        };
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "sh", "-c"])
            .arg(format!(
                "mount -t tmpfs lldpadshm /dev/shm && exec {debug} -p -f {}",
                conf.display()
            ))
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .expect("start lldpad");
        Lldpad { child, _dir: dir }
    }

    /// Stops it as a service manager would: it says goodbye (TTL 0).
    pub fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Lldpad {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

impl Lldpad {
    /// An 802.1Qbg station on `ifname` asking for reflective relay.
    pub fn evb_station(ns: &str, ifname: &str) -> Lldpad {
        Lldpad::with_config(
            ns,
            &format!(
                "nearest_customer_bridge : {{ {ifname} : {{ adminStatus = 3; tlvid0080c20d : {{
                   enableTx = true; evbmode = \"station\"; evbrrreq = true; }}; }}; }};\n"
            ),
        )
    }
}

/// What `lldptool` says of the EVB TLVs on `ifname` (nearest customer
/// bridge agent); empty while lldpad is not answering yet.
pub fn evb_view(ns: &crate::Netns, ifname: &str) -> String {
    Command::new("ip")
        .args(["netns", "exec", &ns.name, "lldptool", "-t", "-i", ifname])
        .args(["-g", "ncb", "-V", "evb"])
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}
