//! Reading one frame out of a capture file (`vepa trace --pcap`): classic
//! pcap (micro- or nanosecond, either byte order) and pcapng (enhanced
//! and simple packet blocks), Ethernet link type only. Written here: the
//! format is two pages, and the crates that read it bring a libpcap or an
//! async stack along.

use anyhow::{bail, Context, Result};

const LINKTYPE_ETHERNET: u32 = 1;

/// The `n`-th frame (1 = the first) of the capture in `bytes`.
pub fn nth_frame(bytes: &[u8], n: usize) -> Result<Vec<u8>> {
    if n == 0 {
        bail!("--packet: packets are counted from 1");
    }
    let magic = bytes
        .get(..4)
        .context("not a capture file: shorter than its header")?;
    match magic {
        [0x0a, 0x0d, 0x0d, 0x0a] => pcapng(bytes, n),
        _ => pcap(bytes, n),
    }
}

fn u32_at(b: &[u8], at: usize, le: bool) -> Option<u32> {
    let w: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(if le {
        u32::from_le_bytes(w)
    } else {
        u32::from_be_bytes(w)
    })
}

fn u16_at(b: &[u8], at: usize, le: bool) -> Option<u16> {
    let w: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
    Some(if le {
        u16::from_le_bytes(w)
    } else {
        u16::from_be_bytes(w)
    })
}

fn pcap(b: &[u8], n: usize) -> Result<Vec<u8>> {
    let le = match u32_at(b, 0, true) {
        Some(0xa1b2_c3d4 | 0xa1b2_3c4d) => true,
        Some(0xd4c3_b2a1 | 0x4d3c_b2a1) => false,
        _ => bail!("not a pcap or pcapng file (unknown magic number)"),
    };
    let link = u32_at(b, 20, le).context("pcap: truncated file header")?;
    if link & 0xffff != LINKTYPE_ETHERNET {
        bail!("pcap: link type {link}, not Ethernet");
    }
    let mut at = 24;
    let mut seen = 0;
    while at + 16 <= b.len() {
        let caplen = u32_at(b, at + 8, le).context("pcap: truncated record")? as usize;
        let body = b
            .get(at + 16..at + 16 + caplen)
            .context("pcap: a record runs past the end of the file")?;
        seen += 1;
        if seen == n {
            return Ok(body.to_vec());
        }
        at += 16 + caplen;
    }
    bail!("--packet {n}: the capture holds {seen} packet(s)")
}

fn pcapng(b: &[u8], n: usize) -> Result<Vec<u8>> {
    // The section header's byte-order magic says how to read the rest.
    let le = match u32_at(b, 8, true) {
        Some(0x1a2b_3c4d) => true,
        Some(0x4d3c_2b1a) => false,
        _ => bail!("pcapng: bad byte-order magic"),
    };
    let mut links: Vec<u16> = Vec::new();
    let mut at = 0;
    let mut seen = 0;
    while at + 12 <= b.len() {
        let kind = u32_at(b, at, le).context("pcapng: truncated block")?;
        let len = u32_at(b, at + 4, le).context("pcapng: truncated block")? as usize;
        if len < 12 || !len.is_multiple_of(4) || at + len > b.len() {
            bail!("pcapng: a block of {len} bytes at offset {at} does not fit");
        }
        let block = &b[at..at + len];
        match kind {
            0x0a0d_0d0a => links.clear(),
            1 => links.push(u16_at(block, 8, le).context("pcapng: short interface block")?),
            6 => {
                let iface = u32_at(block, 8, le).context("pcapng: short packet block")? as usize;
                let caplen = u32_at(block, 20, le).context("pcapng: short packet block")? as usize;
                let body = block
                    .get(28..28 + caplen)
                    .context("pcapng: a packet runs past its block")?;
                seen += 1;
                if seen == n {
                    return ethernet(&links, iface, body);
                }
            }
            3 => {
                let orig = u32_at(block, 8, le).context("pcapng: short packet block")? as usize;
                let body = &block[12..(12 + orig).min(len - 4)];
                seen += 1;
                if seen == n {
                    return ethernet(&links, 0, body);
                }
            }
            _ => {}
        }
        at += len;
    }
    bail!("--packet {n}: the capture holds {seen} packet(s)")
}

fn ethernet(links: &[u16], iface: usize, body: &[u8]) -> Result<Vec<u8>> {
    match links.get(iface) {
        Some(&l) if u32::from(l) == LINKTYPE_ETHERNET => Ok(body.to_vec()),
        Some(l) => bail!("pcapng: interface {iface} has link type {l}, not Ethernet"),
        None => bail!("pcapng: a packet names interface {iface}, which no block described"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classic(frames: &[&[u8]]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        f.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        f.extend_from_slice(&65535u32.to_le_bytes());
        f.extend_from_slice(&1u32.to_le_bytes());
        for fr in frames {
            f.extend_from_slice(&[0; 8]);
            f.extend_from_slice(&(fr.len() as u32).to_le_bytes());
            f.extend_from_slice(&(fr.len() as u32).to_le_bytes());
            f.extend_from_slice(fr);
        }
        f
    }

    #[test]
    fn the_nth_frame_of_a_pcap() {
        let file = classic(&[&[1; 20], &[2; 30]]);
        assert_eq!(nth_frame(&file, 2).unwrap(), vec![2; 30]);
        assert!(nth_frame(&file, 3)
            .unwrap_err()
            .to_string()
            .contains("holds 2"));
        assert!(nth_frame(&file[..40], 1).is_err());
        assert!(nth_frame(b"junkjunkjunk", 1).is_err());
    }
}
