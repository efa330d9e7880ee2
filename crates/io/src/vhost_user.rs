//! vhost-user-net ports: vepa serves the backend side of a vhost-user
//! socket (rust-vmm's `vhost-user-backend`), so QEMU (`-netdev
//! vhost-user` over shared guest memory) hands the guest's frames to vepa
//! with no kernel device between them.
//!
//! Queue 1 (the guest's transmit queue) is read on the backend's own
//! thread when the guest kicks it: each frame is copied out of guest
//! memory into a queue the forwarder drains, and an eventfd (the port's
//! pollable fd) says there is something. Frames for the guest are written
//! by the forwarder straight into buffers of queue 0. No offloads are
//! offered: the guest sends and receives plain, checksummed frames (the
//! forwarder cuts super-frames for this port).

use crate::port::Port;
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use vepa_packet::VirtioNetHdr;
use vhost::vhost_user::message::VhostUserProtocolFeatures;
use vhost_user_backend::{VhostUserBackendMut, VhostUserDaemon, VringRwLock, VringT};
use virtio_queue::QueueT;
use vm_memory::{Bytes, GuestAddressSpace, GuestMemoryAtomic, GuestMemoryMmap};
use vmm_sys_util::epoll::EventSet;
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

type Memory = GuestMemoryAtomic<GuestMemoryMmap>;
type Vring = VringRwLock<Memory>;

const RX_QUEUE: u16 = 0;
const TX_QUEUE: u16 = 1;
const QUEUE_SIZE: usize = 1024;
/// The virtio-net header with VIRTIO_F_VERSION_1: 12 bytes.
const HDR: usize = 12;
/// Frames from the guest waiting for the forwarder, at most.
const BACKLOG: usize = 4096;
const VIRTIO_F_VERSION_1: u64 = 32;
const VIRTIO_NET_F_MAC: u64 = 5;

/// What the backend thread and the forwarder share.
struct Shared {
    from_guest: Mutex<VecDeque<Vec<u8>>>,
    /// Readable while `from_guest` may hold frames.
    ready: EventFd,
    /// The receive queue and guest memory, once the guest set them up.
    rx: Mutex<Option<(Vring, Memory)>>,
    mac: [u8; 6],
}

struct NetBackend {
    shared: Arc<Shared>,
    mem: Memory,
}

impl VhostUserBackendMut for NetBackend {
    type Bitmap = ();
    type Vring = Vring;

    fn num_queues(&self) -> usize {
        2
    }

    fn max_queue_size(&self) -> usize {
        QUEUE_SIZE
    }

    fn features(&self) -> u64 {
        1 << VIRTIO_F_VERSION_1
            | 1 << VIRTIO_NET_F_MAC
            | vhost::vhost_user::message::VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits()
    }

    fn protocol_features(&self) -> VhostUserProtocolFeatures {
        VhostUserProtocolFeatures::empty()
    }

    fn get_config(&self, offset: u32, size: u32) -> Vec<u8> {
        // virtio_net_config: the MAC first.
        let mut cfg = self.shared.mac.to_vec();
        cfg.resize(12, 0);
        let (o, n) = (offset as usize, size as usize);
        cfg.get(o..o + n)
            .map(<[u8]>::to_vec)
            .unwrap_or_else(|| vec![0; n])
    }

    fn set_event_idx(&mut self, _enabled: bool) {}

    fn update_memory(&mut self, mem: Memory) -> io::Result<()> {
        self.mem = mem;
        Ok(())
    }

    fn handle_event(
        &mut self,
        device_event: u16,
        _evset: EventSet,
        vrings: &[Vring],
        _thread_id: usize,
    ) -> io::Result<()> {
        if let Some(rx) = vrings.get(RX_QUEUE as usize) {
            let mut slot = self.shared.rx.lock().unwrap_or_else(|e| e.into_inner());
            if slot.is_none() {
                *slot = Some((rx.clone(), self.mem.clone()));
            }
        }
        if device_event != TX_QUEUE {
            return Ok(());
        }
        let Some(tx) = vrings.get(TX_QUEUE as usize) else {
            return Ok(());
        };
        let mem = self.mem.memory();
        let mut frames = Vec::new();
        loop {
            let chain = tx
                .get_mut()
                .get_queue_mut()
                .pop_descriptor_chain(mem.clone());
            let Some(chain) = chain else { break };
            let head = chain.head_index();
            let mut buf = Vec::new();
            for desc in chain {
                if desc.is_write_only() {
                    continue;
                }
                let start = buf.len();
                buf.resize(start + desc.len() as usize, 0);
                if mem.read_slice(&mut buf[start..], desc.addr()).is_err() {
                    buf.truncate(start);
                    break;
                }
            }
            tx.add_used(head, 0)
                .map_err(|e| io::Error::other(format!("{e:?}")))?;
            if buf.len() > HDR + 14 {
                buf.drain(..HDR);
                frames.push(buf);
            }
        }
        tx.signal_used_queue()?;
        if !frames.is_empty() {
            let mut q = self
                .shared
                .from_guest
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            for f in frames {
                if q.len() < BACKLOG {
                    q.push_back(f);
                }
            }
            drop(q);
            self.shared.ready.write(1)?;
        }
        Ok(())
    }
}

/// A vhost-user-net port: the socket QEMU connects to, served on a
/// thread of its own (one guest at a time; a guest that goes away may
/// connect again).
pub struct VhostUserPort {
    name: String,
    shared: Arc<Shared>,
    pub socket: PathBuf,
}

impl VhostUserPort {
    /// Serves `socket` (made anew; its directory must exist) for a guest
    /// whose MAC the device reports as `mac`.
    pub fn open(name: &str, socket: PathBuf, mac: [u8; 6]) -> io::Result<VhostUserPort> {
        let shared = Arc::new(Shared {
            from_guest: Mutex::new(VecDeque::new()),
            ready: EventFd::new(EFD_NONBLOCK)?,
            rx: Mutex::new(None),
            mac,
        });
        let _ = std::fs::remove_file(&socket);
        let (path, sh, thread_name) = (socket.clone(), Arc::clone(&shared), format!("vu-{name}"));
        // Bound before this returns: QEMU may connect at once.
        let listener = vhost::vhost_user::Listener::new(&path, true)
            .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?;
        let mut listener = Some(listener);
        std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || loop {
                let backend = Arc::new(RwLock::new(NetBackend {
                    shared: Arc::clone(&sh),
                    mem: GuestMemoryAtomic::new(GuestMemoryMmap::new()),
                }));
                let mem = GuestMemoryAtomic::new(GuestMemoryMmap::new());
                let Ok(mut daemon) = VhostUserDaemon::new("vepa".into(), backend, mem) else {
                    return;
                };
                let mut l = match listener.take() {
                    Some(l) => l,
                    None => match vhost::vhost_user::Listener::new(&path, true) {
                        Ok(l) => l,
                        Err(_) => return,
                    },
                };
                if let Err(e) = daemon.start(&mut l) {
                    tracing::warn!(socket = %path.display(), error = ?e, "vhost-user: cannot serve");
                    return;
                }
                if let Err(e) = daemon.wait() {
                    tracing::info!(socket = %path.display(), error = ?e, "vhost-user: the guest went away");
                }
                *sh.rx.lock().unwrap_or_else(|e| e.into_inner()) = None;
            })?;
        Ok(VhostUserPort {
            name: name.to_string(),
            shared,
            socket,
        })
    }
}

impl Port for VhostUserPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn fd(&self) -> RawFd {
        self.shared.ready.as_raw_fd()
    }

    fn offloads(&self) -> bool {
        false
    }

    fn recv<'a>(&self, buf: &'a mut [u8]) -> io::Result<Option<(VirtioNetHdr, &'a [u8])>> {
        let frame = {
            let mut q = self
                .shared
                .from_guest
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let f = q.pop_front();
            if q.is_empty() {
                // Drained: the eventfd goes quiet until the next batch
                // (a batch queued meanwhile writes it again).
                let _ = self.shared.ready.read();
            }
            f
        };
        let Some(f) = frame else { return Ok(None) };
        let n = f.len().min(buf.len());
        buf[..n].copy_from_slice(&f[..n]);
        Ok(Some((VirtioNetHdr::default(), &buf[..n])))
    }

    fn send(&self, _vnet: &VirtioNetHdr, frame: &[u8]) -> io::Result<()> {
        let slot = self.shared.rx.lock().unwrap_or_else(|e| e.into_inner());
        // No guest yet: the frame has nowhere to go.
        let Some((rx, mem)) = slot.as_ref() else {
            return Ok(());
        };
        let mem = mem.memory();
        let chain = rx
            .get_mut()
            .get_queue_mut()
            .pop_descriptor_chain(mem.clone());
        // No buffer posted: dropped, as a full NIC ring drops.
        let Some(chain) = chain else { return Ok(()) };
        let head = chain.head_index();
        let mut hdr = [0u8; HDR];
        hdr[10] = 1; // num_buffers
        let mut written = 0usize;
        let total = HDR + frame.len();
        for desc in chain {
            if !desc.is_write_only() || written == total {
                continue;
            }
            let n = (desc.len() as usize).min(total - written);
            let mut part = Vec::with_capacity(n);
            for i in written..written + n {
                part.push(if i < HDR { hdr[i] } else { frame[i - HDR] });
            }
            if mem.write_slice(&part, desc.addr()).is_err() {
                break;
            }
            written += n;
        }
        rx.add_used(head, written as u32)
            .map_err(|e| io::Error::other(format!("{e:?}")))?;
        rx.signal_used_queue()
    }
}
