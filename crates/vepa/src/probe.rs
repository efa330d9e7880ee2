//! ICMP echo from inside a named network namespace, so `vepa demo` needs no
//! ping binary: a thread enters the namespace, sends echo requests on a raw
//! ICMP socket and waits for the matching reply.

use anyhow::{bail, Context, Result};
use std::fs::File;
use std::mem::{size_of, zeroed};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Sends up to `count` echo requests from namespace `netns` to `dst`, each
/// waiting up to `wait` for its reply; true at the first reply.
pub fn ping(netns: &str, dst: Ipv4Addr, count: u16, wait: Duration) -> Result<bool> {
    let path = format!("/run/netns/{netns}");
    let ns = File::open(&path).with_context(|| format!("open {path}"))?;
    let handle = std::thread::spawn(move || -> Result<bool> {
        // SAFETY: setns moves only this thread, with a valid namespace descriptor.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            bail!("enter namespace: {}", std::io::Error::last_os_error());
        }
        echo(dst, count, wait)
    });
    handle
        .join()
        .map_err(|_| anyhow::anyhow!("ping thread panicked"))?
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32)
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn echo(dst: Ipv4Addr, count: u16, wait: Duration) -> Result<bool> {
    // SAFETY: plain socket(2); checked, then owned.
    let raw = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_ICMP,
        )
    };
    if raw < 0 {
        bail!("open ICMP socket: {}", std::io::Error::last_os_error());
    }
    // SAFETY: raw is a fresh descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let id = (std::process::id() as u16) ^ u16::from_be_bytes([dst.octets()[2], dst.octets()[3]]);
    // SAFETY: all-zero is a valid sockaddr_in; the fields are set below.
    let mut to: libc::sockaddr_in = unsafe { zeroed() };
    to.sin_family = libc::AF_INET as u16;
    to.sin_addr.s_addr = u32::from(dst).to_be();
    for seq in 1..=count {
        let mut pkt = [0u8; 64];
        pkt[0] = 8; // echo request
        pkt[4..6].copy_from_slice(&id.to_be_bytes());
        pkt[6..8].copy_from_slice(&seq.to_be_bytes());
        pkt[8..16].copy_from_slice(b"vepademo");
        let c = checksum(&pkt);
        pkt[2..4].copy_from_slice(&c.to_be_bytes());
        // SAFETY: pkt and `to` are live for the call and their sizes are passed.
        let sent = unsafe {
            libc::sendto(
                fd.as_raw_fd(),
                pkt.as_ptr() as *const libc::c_void,
                pkt.len(),
                0,
                &to as *const libc::sockaddr_in as *const libc::sockaddr,
                size_of::<libc::sockaddr_in>() as u32,
            )
        };
        if sent < 0 {
            // No route or neighbour yet: try the next one.
            std::thread::sleep(wait.min(Duration::from_millis(200)));
            continue;
        }
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let mut pfd = libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one live pollfd.
            if unsafe { libc::poll(&mut pfd, 1, left.as_millis().max(1) as i32) } <= 0 {
                break;
            }
            let mut buf = [0u8; 1500];
            // SAFETY: buf is live and its length is passed.
            let n = unsafe {
                libc::recv(
                    fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n < 20 {
                continue;
            }
            let ihl = ((buf[0] & 0x0f) as usize) * 4;
            let icmp = &buf[ihl.min(n as usize)..n as usize];
            let from = Ipv4Addr::new(buf[12], buf[13], buf[14], buf[15]);
            if icmp.len() >= 8 && icmp[0] == 0 && from == dst && icmp[4..6] == id.to_be_bytes() {
                return Ok(true);
            }
        }
    }
    Ok(false)
}
