//! The one interface every port backend implements.

use crate::batch::RxBatch;
use std::io;
use std::os::fd::RawFd;
use vepa_packet::VirtioNetHdr;

/// A source and sink of Ethernet frames, driven by a poll loop.
///
/// A port with [`offloads`](Port::offloads) speaks the virtio-net header:
/// it receives and sends frames whose checksum is left partial and GSO
/// super-frames (up to 64 KiB), as a virtio NIC does. A port without it
/// sees only complete, wire-sized frames; the forwarder finishes checksums
/// and segments for it.
pub trait Port: Send + Sync {
    /// The interface name, for logs and counters.
    fn name(&self) -> &str;

    /// The descriptor to poll for readability.
    fn fd(&self) -> RawFd;

    /// Whether the port takes partial checksums and GSO super-frames.
    fn offloads(&self) -> bool;

    /// Reads one waiting frame into `buf` and returns it with its offload
    /// state (the frame may not start at `buf[0]`); `Ok(None)` when nothing
    /// is waiting.
    fn recv<'a>(&self, buf: &'a mut [u8]) -> io::Result<Option<(VirtioNetHdr, &'a [u8])>>;

    /// Frames already read from the device but not yet handed out (a
    /// coalesced read bigger than a batch): the forwarder comes back for
    /// them without waiting for the fd.
    fn pending(&self) -> bool {
        false
    }

    /// Frames the device refused before the switch saw them, by reason (a
    /// vhost-user guest's bad frames): counted since the port was opened.
    fn device_drops(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }

    /// What a port that is up says of its peer, for `port show` (a
    /// vhost-user port: whether a guest is connected).
    fn status(&self) -> Option<String> {
        None
    }

    /// The backend itself, for a control plane that programs one kind (a
    /// VXLAN tunnel: [`VxlanPort::of`](crate::VxlanPort::of)); None for
    /// backends with nothing to program.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }

    /// Sends one frame; `vnet` must be plain unless the port has offloads.
    fn send(&self, vnet: &VirtioNetHdr, frame: &[u8]) -> io::Result<()>;

    /// Fills `batch` with the frames waiting, up to its capacity; returns
    /// how many (0 when none). Backends with a batch call override this.
    fn recv_batch(&self, batch: &mut RxBatch) -> io::Result<usize> {
        let mut n = 0;
        while n < batch.capacity() {
            let slot = batch.slot_mut(n);
            let base = slot.buf.as_ptr() as usize;
            let got = match self.recv(&mut slot.buf) {
                Ok(Some((vnet, frame))) => {
                    Some((vnet, frame.as_ptr() as usize - base, frame.len()))
                }
                Ok(None) => None,
                Err(e) if n == 0 => return Err(e),
                Err(_) => None,
            };
            let Some((vnet, start, len)) = got else { break };
            slot.set(start, len, vnet);
            n += 1;
        }
        batch.set_len(n);
        Ok(n)
    }

    /// Sends every frame `frames` yields; returns how many went. Backends
    /// with a batch call override this.
    fn send_batch(
        &self,
        frames: &mut dyn Iterator<Item = (VirtioNetHdr, &[u8])>,
    ) -> io::Result<usize> {
        let mut sent = 0;
        for (vnet, frame) in frames {
            match self.send(&vnet, frame) {
                Ok(()) => sent += 1,
                Err(e) if sent == 0 => return Err(e),
                Err(_) => {}
            }
        }
        Ok(sent)
    }
}

/// One frame through a backend's batch receive, copied into `buf`: the
/// single-frame path for tools and tests, not the forwarding loop (it
/// allocates a one-slot batch per call).
pub(crate) fn recv_one<'a>(
    port: &dyn Port,
    buf: &'a mut [u8],
) -> io::Result<Option<(VirtioNetHdr, &'a [u8])>> {
    let mut one = RxBatch::with_buffer_len(1, buf.len());
    if port.recv_batch(&mut one)? == 0 {
        return Ok(None);
    }
    let slot = one.slot(0);
    let frame = slot.frame();
    let n = frame.len().min(buf.len());
    buf[..n].copy_from_slice(&frame[..n]);
    Ok(Some((slot.vnet, &buf[..n])))
}
