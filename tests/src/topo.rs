//! Topologies several test files build the same way.

use crate::daemon::Daemon;
use crate::Netns;

/// Two subnets joined by a router, through the daemon: switch `{tag}a{id}`
/// with a VM in namespace `{tag}a{id}` at 10.N.1.2/24 and fdN:1::2/64,
/// switch `{tag}b{id}` with a VM in `{tag}b{id}` at 10.N.2.2/24 and
/// fdN:2::2/64, each VM routing through router `{tag}r{id}` at .1 / ::1.
pub struct TwoSubnets {
    pub d: Daemon,
    pub a: Netns,
    pub b: Netns,
    pub switch_a: String,
    pub switch_b: String,
    pub router: String,
}

/// How to build a [`TwoSubnets`].
pub struct TwoSubnetsSpec<'a> {
    /// Begins every name (keep it to 2 characters: names are interface names).
    pub tag: &'a str,
    /// N in 10.N.x.x and fdN:x::.
    pub net: u8,
    /// The MTU of the router's port on subnet B, if not the default.
    pub mtu_b: Option<u32>,
    /// More topology text after the router (an ACL).
    pub extra: &'a str,
    /// More fields for VM a's port (a fixed MAC, storm limits), one per line.
    pub port_a: &'a str,
}

impl TwoSubnetsSpec<'_> {
    /// Applies the topology to a new daemon (and removes it all on drop).
    pub fn build(&self, id: &str) -> TwoSubnets {
        let (tag, n) = (self.tag, self.net);
        let a = Netns::new(&format!("{tag}a{id}"));
        let b = Netns::new(&format!("{tag}b{id}"));
        let (switch_a, switch_b) = (format!("{tag}sa{id}"), format!("{tag}sb{id}"));
        let router = format!("{tag}r{id}");
        let (pa, pb) = (format!("{tag}a{id}"), format!("{tag}b{id}"));
        let mut d = Daemon::start();
        d.links = vec![pa.clone(), pb.clone()];
        let mtu = self
            .mtu_b
            .map(|m| format!("mtu = {m}\n"))
            .unwrap_or_default();
        let text = format!(
            r#"
[[switch]]
name = "{switch_a}"
[[switch.port]]
name = "{pa}"
type = "veth"
netns = "{na}"
address = ["10.{n}.1.2/24", "fd{n}:1::2/64"]
gateway = ["10.{n}.1.1", "fd{n}:1::1"]
{port_a}

[[switch]]
name = "{switch_b}"
[[switch.port]]
name = "{pb}"
type = "veth"
netns = "{nb}"
address = ["10.{n}.2.2/24", "fd{n}:2::2/64"]
gateway = ["10.{n}.2.1", "fd{n}:2::1"]

[[router]]
name = "{router}"
[[router.port]]
name = "a"
switch = "{switch_a}"
address = ["10.{n}.1.1/24", "fd{n}:1::1/64"]
[[router.port]]
name = "b"
switch = "{switch_b}"
address = ["10.{n}.2.1/24", "fd{n}:2::1/64"]
{mtu}
{extra}
"#,
            na = a.name,
            nb = b.name,
            extra = self.extra,
            port_a = self.port_a,
        );
        let file = d.dir.path().join("two-subnets.toml");
        std::fs::write(&file, text).expect("write topology");
        d.ok(&["apply", "-f", file.to_str().expect("path")]);
        TwoSubnets {
            d,
            a,
            b,
            switch_a,
            switch_b,
            router,
        }
    }
}
