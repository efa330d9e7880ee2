//! What vepa made on the host, recorded as it is made so that an error
//! half-way, a signal or the normal end removes exactly that, last made
//! first, and nothing else.

use std::sync::atomic::{AtomicUsize, Ordering};
use vepa_kernel::host;

enum Made {
    Link(String),
    /// A link inside a namespace vepa did not make (a macvlan moved into it).
    LinkIn(String, String),
    Netns(String),
}

/// What this run created on the host; removed on drop.
#[derive(Default)]
pub struct HostState {
    made: Vec<Made>,
}

impl HostState {
    pub fn link(&mut self, name: &str) {
        self.made.push(Made::Link(name.to_string()));
    }

    pub fn netns(&mut self, name: &str) {
        self.made.push(Made::Netns(name.to_string()));
    }

    pub fn link_in(&mut self, netns: &str, name: &str) {
        self.made
            .push(Made::LinkIn(netns.to_string(), name.to_string()));
    }

    /// The links this state made (so far).
    pub fn links(&self) -> impl Iterator<Item = &str> {
        self.made.iter().filter_map(|m| match m {
            Made::Link(l) => Some(l.as_str()),
            Made::LinkIn(..) | Made::Netns(_) => None,
        })
    }

    /// The links this state made inside namespaces it did not make.
    pub fn links_in(&self) -> impl Iterator<Item = (&str, &str)> {
        self.made.iter().filter_map(|m| match m {
            Made::LinkIn(ns, l) => Some((ns.as_str(), l.as_str())),
            _ => None,
        })
    }

    /// The namespaces this state made.
    pub fn namespaces(&self) -> impl Iterator<Item = &str> {
        self.made.iter().filter_map(|m| match m {
            Made::Netns(n) => Some(n.as_str()),
            Made::Link(_) | Made::LinkIn(..) => None,
        })
    }

    /// Keeps what was made: it now belongs to someone else (the daemon's
    /// store), and dropping this state no longer removes it.
    pub fn keep(mut self) {
        self.made.clear();
    }

    /// Removes everything, last made first. Namespaces go after the links
    /// that lead into them.
    pub fn teardown(&mut self) {
        while let Some(m) = self.made.pop() {
            let r = match &m {
                Made::Link(l) => host::del_link(l),
                // Gone already when its namespace went.
                Made::LinkIn(ns, _) if !host::netns_exists(ns) => Ok(()),
                Made::LinkIn(ns, l) => host::del_link_in(Some(ns), l),
                Made::Netns(n) => host::del_netns(n),
            };
            if let Err(e) = r {
                tracing::warn!("cleanup: {e}");
            }
        }
    }
}

impl Drop for HostState {
    fn drop(&mut self) {
        self.teardown();
    }
}

pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A temporary interface name for a veth end before it is renamed inside its namespace.
pub fn temp_ifname() -> String {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    format!("vpt{:x}x{seq:x}", std::process::id() & 0xfffff)
}
