//! A port with no device behind it: frames a test writes into one end of
//! a datagram socket pair come out of the port, and frames the port sends
//! come out at the test's end. The forwarder's logic (batches, queues,
//! routers, counters) can then be tested without namespaces or root.

use crate::port::Port;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::time::Duration;
use vepa_packet::VirtioNetHdr;

/// The port end, for a forwarder.
#[derive(Debug)]
pub struct LoopbackPort {
    name: String,
    sock: UnixDatagram,
}

/// The test's end: the wire the port is plugged into.
#[derive(Debug)]
pub struct LoopbackWire {
    sock: UnixDatagram,
}

/// A port named `name` and the wire to it.
pub fn loopback(name: &str) -> io::Result<(LoopbackPort, LoopbackWire)> {
    let (port, wire) = UnixDatagram::pair()?;
    port.set_nonblocking(true)?;
    Ok((
        LoopbackPort {
            name: name.to_string(),
            sock: port,
        },
        LoopbackWire { sock: wire },
    ))
}

impl Port for LoopbackPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    fn offloads(&self) -> bool {
        false
    }

    fn recv<'a>(&self, buf: &'a mut [u8]) -> io::Result<Option<(VirtioNetHdr, &'a [u8])>> {
        match self.sock.recv(buf) {
            Ok(n) => Ok(Some((VirtioNetHdr::default(), &buf[..n]))),
            Err(e) if crate::sys::is_retry(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn send(&self, _vnet: &VirtioNetHdr, frame: &[u8]) -> io::Result<()> {
        self.sock.send(frame).map(|_| ())
    }
}

impl LoopbackWire {
    /// Puts `frame` on the wire, towards the port.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        self.sock.send(frame).map(|_| ())
    }

    /// The next frame the port sent, waiting at most `wait`.
    pub fn recv(&self, wait: Duration) -> io::Result<Option<Vec<u8>>> {
        self.sock.set_read_timeout(Some(wait))?;
        let mut buf = vec![0u8; crate::MAX_FRAME];
        match self.sock.recv(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                Ok(Some(buf))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}
