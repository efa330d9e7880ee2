//! The switches' event channels and controller roles, shared by every
//! OpenFlow connection.

use crate::sdn::PortInfo;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use vepa_dataplane::flow::{RemovedReason, Rule};

/// How many controller copies may wait between the forwarders and the
/// connections; more are dropped (the controller is too slow).
const EVENT_QUEUE: usize = 1024;

/// Something a switch tells its controllers without being asked.
#[derive(Debug)]
pub enum Event {
    PacketIn(vepa_io::PacketIn),
    FlowRemoved {
        rule: Arc<Rule>,
        reason: RemovedReason,
        now_ms: u64,
    },
    PortStatus {
        reason: u8,
        port: PortInfo,
    },
}

/// Master/slave bookkeeping of one switch (OpenFlow 1.3 §6.3.5).
#[derive(Debug, Default)]
pub struct Roles {
    pub generation: Option<u64>,
    pub master: Option<u64>,
}

/// The switches' event channels and roles, shared by every connection.
#[derive(Default)]
pub struct Hub {
    channels: Mutex<HashMap<String, broadcast::Sender<Arc<Event>>>>,
    pub roles: Mutex<HashMap<String, Roles>>,
    next_conn: AtomicU64,
}

impl Hub {
    pub fn subscribe(&self, switch: &str) -> broadcast::Receiver<Arc<Event>> {
        let mut c = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        c.entry(switch.to_string())
            .or_insert_with(|| broadcast::channel(EVENT_QUEUE).0)
            .subscribe()
    }

    /// Tells `switch`'s connections (none listening: nothing happens).
    pub fn publish(&self, switch: &str, ev: Event) {
        let c = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = c.get(switch) {
            let _ = tx.send(Arc::new(ev));
        }
    }

    pub fn conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed) + 1
    }
}
