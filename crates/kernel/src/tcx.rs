//! Keeping a namespace's stack out of a device: a two-instruction tc
//! program on the device's ingress (tcx, Linux 6.6 and later) that drops
//! every packet. Packet sockets bound to the device see a packet before
//! ingress runs, so vepa still reads everything that comes in; the
//! namespace's IP stack gets none of it.
//!
//! It is attached without a link, so it stays on the device as long as
//! the device exists, whether vepa runs or not: a persistent TUN device
//! that a VPN daemon keeps open while vepa's daemon restarts hands the
//! namespace nothing in between either.
//!
//! ```text
//! r0 = TCX_DROP
//! exit
//! ```

use crate::xdp::{bpf, insn, owned, Attr, BPF_PROG_LOAD};
use crate::KernelError;
use std::os::fd::AsRawFd;

const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_SCHED_CLS: u32 = 3;
const BPF_TCX_INGRESS: u32 = 46;
const TCX_DROP: i32 = 2;
/// Attach before every other program (with no program named: first).
const BPF_F_BEFORE: u32 = 1 << 3;

/// How many programs sit on `ifindex`'s ingress (in the calling thread's
/// namespace).
fn ingress_programs(ifindex: u32) -> std::io::Result<u32> {
    let mut a = Attr::new();
    a.u32(0, ifindex).u32(4, BPF_TCX_INGRESS);
    bpf(BPF_PROG_QUERY, &mut a)?;
    Ok(u32::from_ne_bytes([a.0[24], a.0[25], a.0[26], a.0[27]]))
}

/// Whether this kernel has tcx: how many ingress programs the loopback
/// (index 1 in every namespace) has, or why none can be.
pub fn available() -> std::io::Result<u32> {
    ingress_programs(1)
}

/// Drops everything `ifname` (index `ifindex`, in the calling thread's
/// namespace) receives, after packet sockets have seen it. A device that
/// has an ingress program already is left as it is: it is one vepa made
/// and marked (adopted, never someone else's), and the program went on
/// first when vepa made it.
pub fn drop_ingress(ifname: &str, ifindex: u32) -> Result<(), KernelError> {
    let os = |op: &'static str| {
        let name = ifname.to_string();
        move |source| KernelError::Os { op, name, source }
    };
    if ingress_programs(ifindex)
        .map_err(os("query the ingress programs of (tcx needs Linux 6.6)"))?
        > 0
    {
        return Ok(());
    }
    let insns = [insn(0xb7, 0, 0, 0, TCX_DROP), insn(0x95, 0, 0, 0, 0)].concat();
    let license = c"Apache-2.0";
    let mut a = Attr::new();
    a.u32(0, BPF_PROG_TYPE_SCHED_CLS)
        .u32(4, (insns.len() / 8) as u32)
        .u64(8, insns.as_ptr() as u64)
        .u64(16, license.as_ptr() as u64);
    a.0[48..61].copy_from_slice(b"vepa_tun_drop");
    let prog = owned(bpf(BPF_PROG_LOAD, &mut a).map_err(os("load the ingress drop program for"))?);
    let mut a = Attr::new();
    // First, so no program before it can pass a packet to the stack.
    a.u32(0, ifindex)
        .u32(4, prog.as_raw_fd() as u32)
        .u32(8, BPF_TCX_INGRESS)
        .u32(12, BPF_F_BEFORE);
    bpf(BPF_PROG_ATTACH, &mut a).map_err(os("attach the ingress drop program (tcx) to"))?;
    Ok(())
}
