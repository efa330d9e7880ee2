//! vhost-user-net ports: vepa serves the backend side of a vhost-user
//! socket, so QEMU (`-netdev vhost-user` over shared guest memory) hands
//! the guest's frames to vepa with no kernel device between them.
//!
//! The protocol (messages, passed descriptors, replies) is rust-vmm's
//! `vhost` crate; the rings are `virtio-queue` over `vm-memory` mappings of
//! the guest's memory. The device model is ours rather than
//! `vhost-user-backend`'s: QEMU 7.2 (Debian 12) sends SET_VRING_ENABLE as
//! soon as the guest driver picks its queue pairs, before SET_FEATURES;
//! `vhost` refuses that one request (InactiveFeature) after reading it
//! whole, and where `vhost-user-backend` ends the session on it (QEMU then
//! crashes or, reconnecting, never enables the rings), this port takes it
//! as what it is from QEMU with one queue pair: enable both rings.
//!
//! Data path, all on the forwarder's thread: the port's pollable fd is an
//! epoll set holding the guest's transmit-queue kick; a batch receive pops
//! descriptor chains from that queue and copies each frame (virtio-net
//! header included, so TSO and partial checksums pass) into the batch; a
//! batch send writes frames into the buffers the guest posted on its
//! receive queue. One interrupt per batch, when the guest wants one.
//! The message loop runs on a thread of its own and shares the device
//! state with the forwarder under one mutex.

use crate::batch::RxBatch;
use crate::port::Port;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use vepa_packet::virtio::{
    VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6,
};
use vepa_packet::{checksum, gso, VirtioNetHdr};
use vhost::vhost_user::message::{
    VhostTransferStateDirection, VhostTransferStatePhase, VhostUserConfigFlags, VhostUserInflight,
    VhostUserLog, VhostUserMemoryRegion, VhostUserProtocolFeatures, VhostUserShMemConfig,
    VhostUserSharedMsg, VhostUserSingleMemoryRegion, VhostUserVirtioFeatures,
    VhostUserVringAddrFlags, VhostUserVringState,
};
use vhost::vhost_user::{
    BackendReqHandler, Error as VuError, GpuBackend, Result as VuResult,
    VhostUserBackendReqHandlerMut,
};
use vhost::VhostUserMemoryRegionBase;
use virtio_queue::{Queue, QueueOwnedT, QueueT};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap, GuestRegionMmap};
use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

const RX: usize = 0;
const TX: usize = 1;
const QUEUE_SIZE: u16 = 1024;
/// The virtio-net header with VIRTIO_F_VERSION_1 (`num_buffers` last);
/// a legacy driver's (no VERSION_1, no MRG_RXBUF) is 10 bytes.
const HDR: usize = 12;
/// The driver does not want interrupts (avail ring flags).
const VRING_AVAIL_F_NO_INTERRUPT: u16 = 1;
/// virtio-net header flags a driver may set (DATA_VALID is the device's).
const GUEST_HDR_FLAGS: u8 = vepa_packet::virtio::VIRTIO_NET_HDR_F_NEEDS_CSUM;

const F_CSUM: u64 = 1 << 0;
const F_GUEST_CSUM: u64 = 1 << 1;
const F_MAC: u64 = 1 << 5;
const F_GUEST_TSO4: u64 = 1 << 7;
const F_GUEST_TSO6: u64 = 1 << 8;
const F_GUEST_ECN: u64 = 1 << 9;
const F_HOST_TSO4: u64 = 1 << 11;
const F_HOST_TSO6: u64 = 1 << 12;
const F_HOST_ECN: u64 = 1 << 13;
const F_MRG_RXBUF: u64 = 1 << 15;
const F_RING_INDIRECT_DESC: u64 = 1 << 28;
const F_VERSION_1: u64 = 1 << 32;

/// The header length the negotiated features give.
fn header_len(features: u64) -> usize {
    if features & (F_VERSION_1 | F_MRG_RXBUF) != 0 {
        HDR
    } else {
        VirtioNetHdr::LEN
    }
}

/// What the device offers: a virtio 1.0 NIC with checksum and TCP
/// segmentation offloads both ways (the guest sends and takes 64 KiB
/// super-frames), and the vhost-user protocol-features handshake QEMU
/// requires.
fn offered() -> u64 {
    F_CSUM
        | F_GUEST_CSUM
        | F_MAC
        | F_GUEST_TSO4
        | F_GUEST_TSO6
        | F_GUEST_ECN
        | F_HOST_TSO4
        | F_HOST_TSO6
        | F_HOST_ECN
        | F_MRG_RXBUF
        | F_RING_INDIRECT_DESC
        | F_VERSION_1
        | VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits()
}

/// One of the two queues.
struct Ring {
    queue: Queue,
    kick: Option<File>,
    call: Option<File>,
    /// SET_VRING_ENABLE (or enabled from the start without protocol features).
    enabled: bool,
    /// Between SET_VRING_KICK and GET_VRING_BASE.
    started: bool,
}

impl Ring {
    fn new() -> Ring {
        Ring {
            // QUEUE_SIZE is a power of two, which is all `new` checks.
            queue: Queue::new(QUEUE_SIZE).unwrap_or_else(|_| unreachable!("a valid queue size")),
            kick: None,
            call: None,
            enabled: false,
            started: false,
        }
    }

    /// Tells the guest about used buffers, unless it asked not to be told
    /// (VRING_AVAIL_F_NO_INTERRUPT: EVENT_IDX is not offered).
    fn interrupt(&mut self, mem: &GuestMemoryMmap) {
        // The used index is written; the flags are read after it.
        std::sync::atomic::fence(Ordering::SeqCst);
        let flags: u16 = mem
            .read_obj(GuestAddress(self.queue.avail_ring()))
            .unwrap_or(0);
        if flags & VRING_AVAIL_F_NO_INTERRUPT != 0 {
            return;
        }
        if let Some(call) = &self.call {
            let _ = (&*call).write(&1u64.to_ne_bytes());
        }
    }
}

/// Where a part of the guest's memory is in QEMU's address space, which
/// is how vhost-user names ring addresses.
struct Mapping {
    user: u64,
    size: u64,
    guest: u64,
}

struct Device {
    mem: Option<GuestMemoryMmap>,
    maps: Vec<Mapping>,
    rings: [Ring; 2],
    features: u64,
    protocol: u64,
    /// Kept across batches so a send allocates nothing.
    rx_scratch: RxScratch,
}

impl Device {
    fn new() -> Device {
        Device {
            mem: None,
            maps: Vec::new(),
            rings: [Ring::new(), Ring::new()],
            features: 0,
            protocol: 0,
            rx_scratch: RxScratch::default(),
        }
    }

    fn running(&self, i: usize) -> Option<&GuestMemoryMmap> {
        let r = &self.rings[i];
        (r.started && r.enabled).then_some(())?;
        self.mem.as_ref()
    }

    fn ring(&mut self, index: u32) -> VuResult<&mut Ring> {
        self.rings
            .get_mut(index as usize)
            .ok_or(VuError::InvalidParam)
    }

    fn to_guest(&self, user: u64) -> VuResult<u64> {
        self.maps
            .iter()
            .find(|m| user >= m.user && user - m.user < m.size)
            .map(|m| user - m.user + m.guest)
            .ok_or(VuError::InvalidParam)
    }
}

/// What the message loop and the forwarder share.
struct Shared {
    dev: Mutex<Device>,
    /// The port's pollable fd: readable when the guest kicked its
    /// transmit queue.
    epoll: Epoll,
    /// The session in progress, to end it when the port goes.
    conn: Mutex<Option<UnixStream>>,
    /// Written when the port goes: the accept loop ends.
    stop: EventFd,
    /// Frames from the guest refused: not whole, too big, or with a
    /// virtio-net header asking for what was not negotiated.
    rx_bad: AtomicU64,
}

impl Shared {
    fn dev(&self) -> MutexGuard<'_, Device> {
        self.dev.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn watch_kick(&self, kick: &File, on: bool) {
        let op = if on {
            ControlOperation::Add
        } else {
            ControlOperation::Delete
        };
        let _ = self.epoll.ctl(
            op,
            kick.as_raw_fd(),
            EpollEvent::new(EventSet::IN, TX as u64),
        );
    }

    /// Back to the state before a guest connected.
    fn reset(&self) {
        let mut d = self.dev();
        if let Some(k) = &d.rings[TX].kick {
            self.watch_kick(k, false);
        }
        *d = Device::new();
    }
}

/// The vhost-user requests, on the message loop's thread.
struct Backend {
    shared: Arc<Shared>,
}

fn unsupported<T>(what: &'static str) -> VuResult<T> {
    Err(VuError::InvalidOperation(what))
}

impl VhostUserBackendReqHandlerMut for Backend {
    fn set_owner(&mut self) -> VuResult<()> {
        Ok(())
    }

    fn reset_owner(&mut self) -> VuResult<()> {
        self.shared.reset();
        Ok(())
    }

    fn reset_device(&mut self) -> VuResult<()> {
        self.shared.reset();
        Ok(())
    }

    fn get_features(&mut self) -> VuResult<u64> {
        Ok(offered())
    }

    fn set_features(&mut self, features: u64) -> VuResult<()> {
        if features & !offered() != 0 {
            return Err(VuError::InvalidParam);
        }
        tracing::debug!(
            features = format_args!("{features:#x}"),
            "vhost-user: SET_FEATURES"
        );
        let mut d = self.shared.dev();
        d.features = features;
        // Without the protocol-features handshake a ring is enabled from
        // the start (the vhost-user spec).
        if features & VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits() == 0 {
            for r in &mut d.rings {
                r.enabled = true;
            }
        }
        Ok(())
    }

    fn set_mem_table(
        &mut self,
        ctx: &[VhostUserMemoryRegion],
        files: Vec<File>,
        postcopy_listening: Option<bool>,
    ) -> VuResult<Option<Vec<VhostUserMemoryRegionBase>>> {
        if postcopy_listening.is_some() {
            return unsupported("postcopy migration");
        }
        let mut regions = Vec::new();
        let mut maps = Vec::new();
        for (r, file) in ctx.iter().zip(files) {
            // A mapping past the file's end faults (SIGBUS) on use, and
            // would take every port of the daemon with it: the memory must
            // be long enough now and sealed so it stays so (QEMU's
            // memory-backend-memfd seals by default).
            require_shrink_seal(&file)?;
            let size = file.metadata().map_err(VuError::ReqHandlerError)?.len();
            if r.mmap_offset
                .checked_add(r.memory_size)
                .is_none_or(|end| end > size)
            {
                return Err(VuError::InvalidParam);
            }
            let region =
                GuestRegionMmap::new(r.mmap_region(file)?, GuestAddress(r.guest_phys_addr))
                    .ok_or(VuError::InvalidParam)?;
            regions.push(region);
            maps.push(Mapping {
                user: r.user_addr,
                size: r.memory_size,
                guest: r.guest_phys_addr,
            });
        }
        let mem = GuestMemoryMmap::from_regions(regions)
            .map_err(|e| VuError::ReqHandlerError(io::Error::other(e)))?;
        let mut d = self.shared.dev();
        d.mem = Some(mem);
        d.maps = maps;
        Ok(None)
    }

    fn set_vring_num(&mut self, index: u32, num: u32) -> VuResult<()> {
        if num == 0 || num > u32::from(QUEUE_SIZE) || !num.is_power_of_two() {
            return Err(VuError::InvalidParam);
        }
        self.shared.dev().ring(index)?.queue.set_size(num as u16);
        Ok(())
    }

    fn set_vring_addr(
        &mut self,
        index: u32,
        _flags: VhostUserVringAddrFlags,
        descriptor: u64,
        used: u64,
        available: u64,
        _log: u64,
    ) -> VuResult<()> {
        let mut d = self.shared.dev();
        let (desc, used, avail) = (
            d.to_guest(descriptor)?,
            d.to_guest(used)?,
            d.to_guest(available)?,
        );
        let q = &mut d.ring(index)?.queue;
        let split = |a: u64| (Some(a as u32), Some((a >> 32) as u32));
        let (lo, hi) = split(desc);
        q.set_desc_table_address(lo, hi);
        let (lo, hi) = split(used);
        q.set_used_ring_address(lo, hi);
        let (lo, hi) = split(avail);
        q.set_avail_ring_address(lo, hi);
        Ok(())
    }

    fn set_vring_base(&mut self, index: u32, base: u32) -> VuResult<()> {
        let mut d = self.shared.dev();
        let q = &mut d.ring(index)?.queue;
        q.set_next_avail(base as u16);
        q.set_next_used(base as u16);
        Ok(())
    }

    fn get_vring_base(&mut self, index: u32) -> VuResult<VhostUserVringState> {
        tracing::debug!(index, "vhost-user: GET_VRING_BASE");
        let mut d = self.shared.dev();
        let r = d.ring(index)?;
        // The ring stops here (the frontend takes it back).
        r.started = false;
        r.queue.set_ready(false);
        let next = r.queue.next_avail();
        if let Some(k) = r.kick.take() {
            self.shared.watch_kick(&k, false);
        }
        Ok(VhostUserVringState::new(index, u32::from(next)))
    }

    fn set_vring_kick(&mut self, index: u8, fd: Option<File>) -> VuResult<()> {
        tracing::debug!(index, "vhost-user: SET_VRING_KICK");
        let Some(fd) = fd else {
            return unsupported("rings without a kick descriptor (polling)");
        };
        set_nonblocking(&fd).map_err(VuError::ReqHandlerError)?;
        let mut d = self.shared.dev();
        let r = d.ring(u32::from(index))?;
        if let Some(old) = r.kick.take() {
            self.shared.watch_kick(&old, false);
        }
        if usize::from(index) == TX {
            self.shared.watch_kick(&fd, true);
        }
        r.kick = Some(fd);
        r.started = true;
        r.queue.set_ready(true);
        Ok(())
    }

    fn set_vring_call(&mut self, index: u8, fd: Option<File>) -> VuResult<()> {
        let mut d = self.shared.dev();
        let r = d.ring(u32::from(index))?;
        // A running ring may have used buffers the old descriptor (or none)
        // was told of: one interrupt more does no harm, one less might.
        if let (true, Some(f)) = (r.started, &fd) {
            let _ = (&*f).write(&1u64.to_ne_bytes());
        }
        r.call = fd;
        Ok(())
    }

    fn set_vring_err(&mut self, _index: u8, _fd: Option<File>) -> VuResult<()> {
        Ok(())
    }

    fn get_protocol_features(&mut self) -> VuResult<VhostUserProtocolFeatures> {
        // REPLY_ACK is added by the `vhost` crate; nothing else is needed.
        Ok(VhostUserProtocolFeatures::empty())
    }

    fn set_protocol_features(&mut self, features: u64) -> VuResult<()> {
        self.shared.dev().protocol = features;
        Ok(())
    }

    fn get_queue_num(&mut self) -> VuResult<u64> {
        Ok(2)
    }

    fn set_vring_enable(&mut self, index: u32, enable: bool) -> VuResult<()> {
        tracing::debug!(index, enable, "vhost-user: SET_VRING_ENABLE");
        self.shared.dev().ring(index)?.enabled = enable;
        Ok(())
    }

    fn get_config(
        &mut self,
        _offset: u32,
        _size: u32,
        _flags: VhostUserConfigFlags,
    ) -> VuResult<Vec<u8>> {
        unsupported("device config space (QEMU keeps it)")
    }

    fn set_config(
        &mut self,
        _offset: u32,
        _buf: &[u8],
        _flags: VhostUserConfigFlags,
    ) -> VuResult<()> {
        unsupported("device config space (QEMU keeps it)")
    }

    fn set_gpu_socket(&mut self, _gpu_backend: GpuBackend) -> VuResult<()> {
        unsupported("GPU socket")
    }

    fn get_shared_object(&mut self, _uuid: VhostUserSharedMsg) -> VuResult<File> {
        unsupported("shared objects")
    }

    fn get_inflight_fd(
        &mut self,
        _inflight: &VhostUserInflight,
    ) -> VuResult<(VhostUserInflight, File)> {
        unsupported("inflight tracking")
    }

    fn set_inflight_fd(&mut self, _inflight: &VhostUserInflight, _file: File) -> VuResult<()> {
        unsupported("inflight tracking")
    }

    fn get_max_mem_slots(&mut self) -> VuResult<u64> {
        unsupported("memory slots")
    }

    fn add_mem_region(
        &mut self,
        _region: &VhostUserSingleMemoryRegion,
        _fd: File,
        _postcopy_listening: Option<bool>,
    ) -> VuResult<Option<VhostUserMemoryRegionBase>> {
        unsupported("memory slots")
    }

    fn remove_mem_region(&mut self, _region: &VhostUserSingleMemoryRegion) -> VuResult<()> {
        unsupported("memory slots")
    }

    fn set_device_state_fd(
        &mut self,
        _direction: VhostTransferStateDirection,
        _phase: VhostTransferStatePhase,
        _fd: File,
    ) -> VuResult<Option<File>> {
        unsupported("device state transfer")
    }

    fn check_device_state(&mut self) -> VuResult<()> {
        unsupported("device state transfer")
    }

    fn get_shmem_config(&mut self) -> VuResult<VhostUserShMemConfig> {
        unsupported("shared memory regions")
    }

    fn set_log_base(&mut self, _log: &VhostUserLog, _file: File) -> VuResult<()> {
        unsupported("dirty logging (live migration)")
    }
}

fn set_nonblocking(f: &File) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own, with integer arguments only.
    let flags = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Waits until a guest connects (true) or the port goes (false).
fn wait_for_guest(listener: &UnixListener, stop: &EventFd) -> bool {
    loop {
        let mut fds = [
            libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: stop.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two pollfds of descriptors this port holds open.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        if fds[1].revents != 0 {
            return false;
        }
        if fds[0].revents != 0 {
            return true;
        }
    }
}

/// Serves one guest's session until it ends. Returns why it ended.
fn session(shared: &Arc<Shared>, stream: UnixStream) -> String {
    let Ok(peer) = stream.try_clone() else {
        return "cannot clone the connection".to_string();
    };
    if let Ok(c) = stream.try_clone() {
        *shared.conn.lock().unwrap_or_else(|e| e.into_inner()) = Some(c);
    }
    // The port went while this connection was being accepted (its drop
    // found no session to end).
    if readable_now(&shared.stop) {
        *shared.conn.lock().unwrap_or_else(|e| e.into_inner()) = None;
        return "the port was removed".to_string();
    }
    let backend = Arc::new(Mutex::new(Backend {
        shared: Arc::clone(shared),
    }));
    let mut req = BackendReqHandler::from_stream(stream, backend);
    let why = loop {
        let early_needs_reply = next_is_vring_enable_needing_reply(&peer);
        match req.handle_request() {
            Ok(()) => {}
            // Read whole and refused before any state changed: QEMU's
            // early SET_VRING_ENABLE, the only request that needs
            // PROTOCOL_FEATURES acked (see the module's text). With one
            // queue pair (no MQ offered) QEMU only ever sends it to enable
            // both rings (virtio-net's peer_attach), and QEMU 7.2 does not
            // send it again after SET_FEATURES: taken as "enable". Newer
            // QEMUs wait for an answer to it (NEED_REPLY): given here,
            // since `vhost` gives none to a request it refuses.
            Err(VuError::InactiveFeature(f)) if f == VhostUserVirtioFeatures::PROTOCOL_FEATURES => {
                tracing::debug!(
                    "vhost-user: SET_VRING_ENABLE before SET_FEATURES, taken as enable"
                );
                for r in &mut shared.dev().rings {
                    r.enabled = true;
                }
                if early_needs_reply && ack_vring_enable(&peer).is_err() {
                    break "cannot answer SET_VRING_ENABLE".to_string();
                }
            }
            Err(VuError::Disconnected | VuError::PartialMessage) => {
                break "disconnected".to_string()
            }
            Err(e) => break e.to_string(),
        }
    };
    shared.reset();
    *shared.conn.lock().unwrap_or_else(|e| e.into_inner()) = None;
    why
}

/// Refuses guest memory its owner could still shrink under our mapping.
fn require_shrink_seal(file: &File) -> VuResult<()> {
    // SAFETY: fcntl(2) F_GET_SEALS on a descriptor we own; no pointers.
    let seals = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GET_SEALS) };
    if seals >= 0 && seals & libc::F_SEAL_SHRINK != 0 {
        return Ok(());
    }
    Err(VuError::ReqHandlerError(io::Error::other(
        "guest memory is not a memfd sealed against shrinking (F_SEAL_SHRINK): \
         refused, a guest that truncated it would crash vepa; use QEMU's \
         memory-backend-memfd (sealed by default)",
    )))
}

/// vhost-user's SET_VRING_ENABLE request code, and its header flags.
const SET_VRING_ENABLE: u32 = 18;
const MSG_VERSION_1: u32 = 0x1;
const MSG_REPLY: u32 = 0x4;
const MSG_NEED_REPLY: u32 = 0x8;

/// Whether the next message (looked at, not read) is a SET_VRING_ENABLE
/// that wants an answer.
fn next_is_vring_enable_needing_reply(peer: &UnixStream) -> bool {
    let mut h = [0u8; 8];
    // SAFETY: recv(2) with MSG_PEEK into a buffer of the length given.
    let n = unsafe {
        libc::recv(
            peer.as_raw_fd(),
            h.as_mut_ptr() as *mut libc::c_void,
            h.len(),
            libc::MSG_PEEK | libc::MSG_WAITALL,
        )
    };
    if n != h.len() as isize {
        return false;
    }
    let code = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let flags = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    code == SET_VRING_ENABLE && flags & MSG_NEED_REPLY != 0
}

/// The answer to a SET_VRING_ENABLE: done (0).
fn ack_vring_enable(mut peer: &UnixStream) -> io::Result<()> {
    let mut m = Vec::with_capacity(20);
    for v in [SET_VRING_ENABLE, MSG_VERSION_1 | MSG_REPLY, 8] {
        m.extend_from_slice(&v.to_le_bytes());
    }
    m.extend_from_slice(&0u64.to_le_bytes());
    peer.write_all(&m)
}

/// Whether an eventfd has been written (without reading it).
fn readable_now(fd: &EventFd) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd of a descriptor the caller holds open.
    unsafe { libc::poll(&mut p, 1, 0) == 1 }
}

/// A vhost-user-net port: the socket QEMU connects to (one guest at a
/// time; a guest that goes away, or QEMU reconnecting after a vepa
/// restart, may connect again).
pub struct VhostUserPort {
    name: String,
    shared: Arc<Shared>,
    pub socket: PathBuf,
    /// The socket file this port bound (device, inode): a port made anew
    /// on the same path replaces the file, which the old one then leaves.
    inode: (u64, u64),
}

fn socket_inode(p: &std::path::Path) -> io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p)?;
    Ok((m.dev(), m.ino()))
}

impl VhostUserPort {
    /// Serves `socket` (made anew, mode 0660, of group `group` if given;
    /// its directory must exist). Only root, vepa's user and members of
    /// `group` may connect. A file already at `socket` is replaced only if
    /// it is a socket (a stale one of ours): never a file or a link.
    pub fn open(name: &str, socket: PathBuf, group: Option<u32>) -> io::Result<VhostUserPort> {
        let shared = Arc::new(Shared {
            dev: Mutex::new(Device::new()),
            epoll: Epoll::new()?,
            conn: Mutex::new(None),
            stop: EventFd::new(EFD_NONBLOCK)?,
            rx_bad: AtomicU64::new(0),
        });
        match std::fs::symlink_metadata(&socket) {
            Ok(m) if std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()) => {
                std::fs::remove_file(&socket)?
            }
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{} exists and is not a socket: vepa replaces only a stale socket",
                        socket.display()
                    ),
                ))
            }
            Err(_) => {}
        }
        // Bound before this returns: QEMU may connect at once.
        let listener = UnixListener::bind(&socket)?;
        let inode = socket_inode(&socket)?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o660))?;
        }
        if let Some(gid) = group {
            std::os::unix::fs::chown(&socket, None, Some(gid))?;
        }
        let (sh, path) = (Arc::clone(&shared), socket.clone());
        std::thread::Builder::new()
            .name(format!("vu-{name}"))
            .spawn(move || {
                while wait_for_guest(&listener, &sh.stop) {
                    match listener.accept().map(|(s, _)| s) {
                        Ok(s) => {
                            let cred = crate::PeerCred::of(&s);
                            if !cred.as_ref().is_ok_and(|c| c.allowed(group)) {
                                tracing::warn!(
                                    socket = %path.display(),
                                    peer = ?cred.ok(),
                                    "vhost-user: refused a peer that is not root, vepa's user or in the socket's group"
                                );
                                continue;
                            }
                            tracing::info!(socket = %path.display(), "vhost-user: a guest connected");
                            let before = sh.rx_bad.load(Ordering::Relaxed);
                            let why = session(&sh, s);
                            let bad = sh.rx_bad.load(Ordering::Relaxed) - before;
                            tracing::info!(socket = %path.display(), why, bad_frames = bad, "vhost-user: the guest went away");
                        }
                        Err(e) => {
                            tracing::warn!(socket = %path.display(), error = %e, "vhost-user: accept");
                            std::thread::sleep(std::time::Duration::from_millis(100));
                        }
                    }
                }
            })?;
        Ok(VhostUserPort {
            name: name.to_string(),
            shared,
            socket,
            inode,
        })
    }

    /// Clears the transmit kick: the frames it announced are read next.
    fn drain_kick(&self, d: &Device) {
        if let Some(k) = &d.rings[TX].kick {
            let mut b = [0u8; 8];
            let _ = (&*k).read(&mut b);
        }
    }
}

impl Drop for VhostUserPort {
    fn drop(&mut self) {
        let _ = self.shared.stop.write(1);
        if let Some(c) = self
            .shared
            .conn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        if socket_inode(&self.socket).ok() == Some(self.inode) {
            let _ = std::fs::remove_file(&self.socket);
        }
    }
}

/// Reads what the guest put on its transmit ring into `batch`, up to its
/// capacity: each chain's header checked ([`guest_header`]), each buffer
/// given back. Returns the frames taken, the ones refused, and whether
/// any chain was popped (the guest is then owed an interrupt).
fn take_guest_frames(
    mem: &GuestMemoryMmap,
    queue: &mut Queue,
    features: u64,
    hdr_len: usize,
    batch: &mut RxBatch,
) -> (usize, u64, bool) {
    let (mut n, mut bad, mut popped) = (0, 0, false);
    while n < batch.capacity() {
        let Some(chain) = queue.pop_descriptor_chain(mem) else {
            break;
        };
        popped = true;
        let head = chain.head_index();
        let buf = batch.slot_buf(n);
        let got = read_chain(mem, chain, buf);
        let _ = queue.add_used(mem, head, 0);
        let hdr = got.filter(|&len| len >= hdr_len + 14).and_then(|len| {
            let mut h = [0u8; VirtioNetHdr::LEN];
            h.copy_from_slice(&buf[..VirtioNetHdr::LEN]);
            Some((
                guest_header(VirtioNetHdr::parse(&h), features, len - hdr_len)?,
                len,
            ))
        });
        match hdr {
            Some((h, len)) => {
                batch.slot_mut(n).set(hdr_len, len - hdr_len, h);
                n += 1;
            }
            None => bad += 1,
        }
    }
    batch.set_len(n);
    (n, bad, popped)
}

/// For the fuzzers: a guest's transmit ring laid out in 64 KiB of guest
/// memory made of `input` (the queue's size and the features negotiated
/// from its first bytes; the descriptor table at 0, the available ring at
/// 0x1000, the used ring at 0x2000), read as the port reads it. Returns the
/// frames taken.
#[doc(hidden)]
pub fn fuzz_guest_tx(input: &[u8]) -> usize {
    let [s, f0, f1, f2, f3, rest @ ..] = input else {
        return 0;
    };
    let size = 1u16 << (s % 9);
    let features = u64::from(u32::from_le_bytes([*f0, *f1, *f2, *f3])) << 32
        | u64::from(u32::from_le_bytes([*f3, *f2, *f1, *f0]));
    let Ok(mem) = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x10000)]) else {
        return 0;
    };
    let _ = mem.write_slice(&rest[..rest.len().min(0x10000)], GuestAddress(0));
    let Ok(mut queue) = Queue::new(256) else {
        return 0;
    };
    queue.set_size(size);
    queue.set_desc_table_address(Some(0), Some(0));
    queue.set_avail_ring_address(Some(0x1000), Some(0));
    queue.set_used_ring_address(Some(0x2000), Some(0));
    queue.set_ready(true);
    let mut batch = RxBatch::new(crate::MAX_BATCH);
    let mut taken = 0;
    // Twice: the second pass starts where the first left the indexes.
    for _ in 0..2 {
        let (n, _, _) =
            take_guest_frames(&mem, &mut queue, features, header_len(features), &mut batch);
        for i in 0..n {
            let slot = batch.slot(i);
            assert!(slot.frame().len() >= 14);
            taken += 1;
        }
    }
    taken
}

/// Copies the chain's readable buffers into `out`; `None` if they do not fit.
fn read_chain<M>(
    mem: &GuestMemoryMmap,
    chain: virtio_queue::DescriptorChain<M>,
    out: &mut [u8],
) -> Option<usize>
where
    M: std::ops::Deref<Target = GuestMemoryMmap> + Clone,
{
    let mut len = 0usize;
    for desc in chain.readable() {
        let n = desc.len() as usize;
        let dst = out.get_mut(len..len + n)?;
        mem.read_slice(dst, desc.addr()).ok()?;
        len += n;
    }
    Some(len)
}

/// The header of a frame of `len` bytes from the guest, if it asks only
/// for what was negotiated: a partial checksum inside the frame (CSUM),
/// TCP segmentation of the kinds acked (HOST_TSO4/6, HOST_ECN) with a
/// segment size within bounds (not 1, which would make one frame 65,000).
/// Flags the device alone may set are cleared.
fn guest_header(mut h: VirtioNetHdr, features: u64, len: usize) -> Option<VirtioNetHdr> {
    h.flags &= GUEST_HDR_FLAGS;
    if h.needs_csum()
        && (features & F_CSUM == 0
            || usize::from(h.csum_start) + usize::from(h.csum_offset) + 2 > len)
    {
        return None;
    }
    let gso_ok = match h.gso() {
        0 => true,
        VIRTIO_NET_HDR_GSO_TCPV4 => features & F_HOST_TSO4 != 0,
        VIRTIO_NET_HDR_GSO_TCPV6 => features & F_HOST_TSO6 != 0,
        _ => false,
    };
    let ecn_ok = h.gso_type & VIRTIO_NET_HDR_GSO_ECN == 0 || features & F_HOST_ECN != 0;
    if !gso_ok || !ecn_ok || (h.is_gso() && (h.gso_size == 0 || !h.needs_csum())) {
        return None;
    }
    vepa_packet::gso::within_bounds(len, &h).ok()?;
    Some(h)
}

/// Writes frames for the guest into the buffers it posted on its receive
/// queue: one chain a frame, or with MRG_RXBUF as many as the frame needs
/// (`num_buffers` in the header says how many).
struct RxWriter<'a> {
    mem: &'a GuestMemoryMmap,
    q: &'a mut Queue,
    hdr_len: usize,
    mergeable: bool,
    s: &'a mut RxScratch,
}

/// Per frame, reused: the chains' heads, their writable buffers (chain
/// number, address, length) and what each chain received.
#[derive(Default)]
struct RxScratch {
    heads: Vec<u16>,
    bufs: Vec<(usize, GuestAddress, usize)>,
    lens: Vec<u32>,
}

impl<'a> RxWriter<'a> {
    fn new(
        mem: &'a GuestMemoryMmap,
        q: &'a mut Queue,
        features: u64,
        s: &'a mut RxScratch,
    ) -> RxWriter<'a> {
        RxWriter {
            mem,
            q,
            hdr_len: header_len(features),
            mergeable: features & F_MRG_RXBUF != 0,
            s,
        }
    }

    /// Writes `hdr` and `frame`; false when the guest has not posted room
    /// for it (with one chain a frame, a chain too small goes back empty;
    /// with mergeable buffers, the chains stay posted).
    fn write(&mut self, hdr: &VirtioNetHdr, frame: &[u8]) -> bool {
        let total = self.hdr_len + frame.len();
        self.s.heads.clear();
        self.s.bufs.clear();
        let mut room = 0usize;
        while room < total {
            let Some(chain) = self.q.pop_descriptor_chain(self.mem) else {
                break;
            };
            let k = self.s.heads.len();
            self.s.heads.push(chain.head_index());
            for d in chain.writable() {
                self.s.bufs.push((k, d.addr(), d.len() as usize));
                room += d.len() as usize;
            }
            if !self.mergeable {
                break;
            }
        }
        if room < total {
            if self.mergeable {
                for _ in &self.s.heads {
                    self.q.go_to_previous_position();
                }
            } else if let Some(&head) = self.s.heads.first() {
                let _ = self.q.add_used(self.mem, head, 0);
            }
            return false;
        }
        let mut head_bytes = [0u8; HDR];
        head_bytes[..VirtioNetHdr::LEN].copy_from_slice(&hdr.to_bytes());
        // num_buffers (the 12-byte header's last field).
        let n = u16::try_from(self.s.heads.len()).unwrap_or(u16::MAX);
        head_bytes[10..12].copy_from_slice(&n.to_le_bytes());
        let head_bytes = &head_bytes[..self.hdr_len];
        self.s.lens.clear();
        self.s.lens.resize(self.s.heads.len(), 0);
        let mut done = 0usize;
        let mut ok = true;
        for &(k, addr, len) in &self.s.bufs {
            if done == total || !ok {
                break;
            }
            let mut at = addr;
            let mut left = len.min(total - done);
            while left > 0 {
                let part: &[u8] = if done < self.hdr_len {
                    &head_bytes[done..self.hdr_len.min(done + left)]
                } else {
                    &frame[done - self.hdr_len..done - self.hdr_len + left]
                };
                if self.mem.write_slice(part, at).is_err() {
                    ok = false;
                    break;
                }
                at = GuestAddress(at.0 + part.len() as u64);
                done += part.len();
                left -= part.len();
                self.s.lens[k] += part.len() as u32;
            }
        }
        for (k, &head) in self.s.heads.iter().enumerate() {
            let len = if ok { self.s.lens[k] } else { 0 };
            let _ = self.q.add_used(self.mem, head, len);
        }
        ok
    }
}

impl Port for VhostUserPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn fd(&self) -> RawFd {
        self.shared.epoll.as_raw_fd()
    }

    /// The port takes what the forwarder has; what the guest did not
    /// accept is finished here (see `send_batch`).
    fn offloads(&self) -> bool {
        true
    }

    fn device_drops(&self) -> Vec<(&'static str, u64)> {
        match self.shared.rx_bad.load(Ordering::Relaxed) {
            0 => Vec::new(),
            n => vec![("bad_guest_frame", n)],
        }
    }

    fn status(&self) -> Option<String> {
        let connected = self
            .shared
            .conn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        let d = self.shared.dev();
        let running = [RX, TX].map(|i| d.running(i).is_some());
        Some(
            match (connected, running) {
                (false, _) => "no guest",
                (true, [true, true]) => "guest connected",
                // QEMU is there; the guest's driver has not started the NIC.
                (true, _) => "guest connected, driver not started",
            }
            .to_string(),
        )
    }

    fn pending(&self) -> bool {
        let d = self.shared.dev();
        let Some(mem) = d.running(TX) else {
            return false;
        };
        let q = &d.rings[TX].queue;
        // More than a ring's worth ahead is a broken ring (pops fail): not
        // something to come back for.
        q.avail_idx(mem, Ordering::Acquire)
            .map(|a| (1..=q.size()).contains(&a.0.wrapping_sub(q.next_avail())))
            .unwrap_or(false)
    }

    fn recv<'a>(&self, buf: &'a mut [u8]) -> io::Result<Option<(VirtioNetHdr, &'a [u8])>> {
        crate::port::recv_one(self, buf)
    }

    fn recv_batch(&self, batch: &mut RxBatch) -> io::Result<usize> {
        let mut d = self.shared.dev();
        self.drain_kick(&d);
        let d = &mut *d;
        let (features, hdr_len) = (d.features, header_len(d.features));
        let Some(mem) = d.mem.as_ref().filter(|_| {
            let r = &d.rings[TX];
            r.started && r.enabled
        }) else {
            batch.set_len(0);
            return Ok(0);
        };
        let ring = &mut d.rings[TX];
        let (n, bad, popped) = take_guest_frames(mem, &mut ring.queue, features, hdr_len, batch);
        self.shared.rx_bad.fetch_add(bad, Ordering::Relaxed);
        if popped {
            ring.interrupt(mem);
        }
        Ok(n)
    }

    fn send(&self, vnet: &VirtioNetHdr, frame: &[u8]) -> io::Result<()> {
        let mut one = std::iter::once((*vnet, frame));
        match self.send_batch(&mut one)? {
            1 => Ok(()),
            _ => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "the guest has no receive buffer posted",
            )),
        }
    }

    fn send_batch(
        &self,
        frames: &mut dyn Iterator<Item = (VirtioNetHdr, &[u8])>,
    ) -> io::Result<usize> {
        let mut d = self.shared.dev();
        let Device {
            mem,
            rings,
            features,
            rx_scratch,
            ..
        } = &mut *d;
        let features = *features;
        let Some(mem) = mem.as_ref().filter(|_| {
            let r = &rings[RX];
            r.started && r.enabled
        }) else {
            return Ok(0);
        };
        let ring = &mut rings[RX];
        let (csum_ok, tso4, tso6, ecn) = (
            features & F_GUEST_CSUM != 0,
            features & F_GUEST_TSO4 != 0,
            features & F_GUEST_TSO6 != 0,
            features & F_GUEST_ECN != 0,
        );
        let used_before = ring.queue.next_used();
        let mut rx = RxWriter::new(mem, &mut ring.queue, features, rx_scratch);
        let mut sent = 0;
        let mut scratch = Vec::new();
        for (vnet, frame) in frames {
            let gso_ok = match vnet.gso() {
                0 => true,
                VIRTIO_NET_HDR_GSO_TCPV4 => tso4,
                VIRTIO_NET_HDR_GSO_TCPV6 => tso6,
                _ => false,
            } && (vnet.gso_type & VIRTIO_NET_HDR_GSO_ECN == 0 || ecn);
            let ok = if vnet.is_gso() && !(gso_ok && csum_ok) {
                // What the guest did not take: cut here.
                let mut all = true;
                let r = gso::segment(frame, &vnet, &mut scratch, |s| {
                    all &= rx.write(&VirtioNetHdr::default(), s);
                });
                r.is_ok() && all
            } else if vnet.needs_csum() && !csum_ok {
                let mut f = frame.to_vec();
                checksum::complete_partial(
                    &mut f,
                    vnet.csum_start as usize,
                    vnet.csum_offset as usize,
                ) && rx.write(&VirtioNetHdr::default(), &f)
            } else {
                let mut h = vnet;
                if !csum_ok {
                    // Plain here; DATA_VALID is only for a guest with GUEST_CSUM.
                    h.flags = 0;
                }
                rx.write(&h, frame)
            };
            if ok {
                sent += 1;
            }
        }
        if ring.queue.next_used() != used_before {
            ring.interrupt(mem);
        }
        Ok(sent)
    }
}

#[cfg(test)]
mod tests;
