//! The flow log: flow rows edited one by one (an OpenFlow barrier after
//! each flow, as `ovs-ofctl add-flows` sends them) appended to a file of
//! fixed size and made durable with one `fdatasync` each; folded into the
//! store's flow table in one transaction when the file is full, when the
//! record itself is written, and at start.
//!
//! A redb commit per barrier rewrites the tree's path to the row, the
//! allocator's state and the header before its fsync (0.3–0.5 ms a flow
//! here). The log's blocks are written once, when it is made, so a record
//! written later changes no file metadata and `fdatasync` flushes just it.
//!
//! A record: magic `VFL2`, payload length (u32 LE), generation (u64 LE),
//! CRC-32 of the length, the generation and the payload (u32 LE), then
//! the payload, JSON `[[switch, id, [seq, text] or null], ...]`. Each round of records starts at the
//! file's beginning with the generation after the store's and counts up by
//! one. Replay takes records while they are whole, their checksums hold
//! and their generations follow the store's one by one, skipping those the
//! store already has (a fold the crash came after); what follows, a record
//! torn by a crash or one of an earlier round, ends it.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// The log's size: about 20,000 single-flow records between folds.
pub(super) const LOG_BYTES: u64 = 4 << 20;
const MAGIC: &[u8; 4] = b"VFL2";
const HEADER: u64 = 20;

/// (switch, flow identity, (install order, text); `None`: removed).
pub(super) type Row = (String, String, Option<(u64, String)>);

/// The checksum of a record: its length, generation and payload.
fn crc(len: u32, generation: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len.to_le_bytes());
    h.update(&generation.to_le_bytes());
    h.update(payload);
    h.finalize()
}

pub(super) struct FlowLog {
    file: File,
    size: u64,
    /// Where the next record goes.
    end: u64,
    /// Rows in the log and not yet in the store's table.
    pub(super) pending: HashMap<(String, String), Option<(u64, String)>>,
    /// An append failed part way: what it left must not be replayed, so
    /// the next commit goes to the store (whose generation then covers it).
    pub(super) fold_next: bool,
}

impl FlowLog {
    /// Opens the log at `path`, made (`size` bytes of zeros, synced) if
    /// missing or shorter.
    pub(super) fn open(path: &Path, size: u64) -> io::Result<FlowLog> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        let have = file.metadata()?.len();
        let made = have == 0;
        if have < size {
            // Written blocks, not a hole: a record written later allocates nothing.
            let zeros = vec![0u8; 1 << 16];
            let mut at = have;
            while at < size {
                let n = zeros.len().min((size - at) as usize);
                file.write_all_at(&zeros[..n], at)?;
                at += n as u64;
            }
            file.sync_all()?;
        }
        if made {
            // The new name itself, so a record synced later is findable.
            if let Some(dir) = path.parent() {
                File::open(dir)?.sync_all()?;
            }
        }
        Ok(FlowLog {
            file,
            size,
            end: 0,
            pending: HashMap::new(),
            fold_next: false,
        })
    }

    /// The records after the store's `generation`, in order, as
    /// (generation, rows).
    pub(super) fn replay(&self, generation: u64) -> io::Result<Vec<(u64, Vec<Row>)>> {
        let mut out = Vec::new();
        let mut at = 0u64;
        let mut next = generation + 1;
        let mut header = [0u8; HEADER as usize];
        while at + HEADER <= self.size {
            self.file.read_exact_at(&mut header, at)?;
            let (magic, rest) = header.split_at(4);
            if magic != MAGIC {
                break;
            }
            let (len, rest) = rest.split_at(4);
            let (g, sum) = rest.split_at(8);
            let len32 = u32::from_le_bytes(len.try_into().unwrap_or_default());
            let len = u64::from(len32);
            let g = u64::from_le_bytes(g.try_into().unwrap_or_default());
            let sum = u32::from_le_bytes(sum.try_into().unwrap_or_default());
            if at + HEADER + len > self.size {
                break;
            }
            let mut payload = vec![0u8; len as usize];
            self.file.read_exact_at(&mut payload, at + HEADER)?;
            if crc(len32, g, &payload) != sum {
                break;
            }
            if g > generation {
                if g != next {
                    break;
                }
                let Ok(rows) = serde_json::from_slice::<Vec<Row>>(&payload) else {
                    break;
                };
                out.push((g, rows));
                next += 1;
            }
            at += HEADER + len;
        }
        Ok(out)
    }

    /// Appends `rows` as the record of `generation` and waits until it is
    /// on disk; `Ok(false)` (nothing written) when it does not fit.
    pub(super) fn append(&mut self, generation: u64, rows: &[Row]) -> io::Result<bool> {
        let payload = serde_json::to_vec(rows).map_err(io::Error::other)?;
        let len = payload.len() as u64;
        if len > u64::from(u32::MAX) || self.end + HEADER + len > self.size {
            return Ok(false);
        }
        let mut rec = Vec::with_capacity((HEADER + len) as usize);
        rec.extend_from_slice(MAGIC);
        rec.extend_from_slice(&(len as u32).to_le_bytes());
        rec.extend_from_slice(&generation.to_le_bytes());
        rec.extend_from_slice(&crc(len as u32, generation, &payload).to_le_bytes());
        rec.extend_from_slice(&payload);
        let written = self
            .file
            .write_all_at(&rec, self.end)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Refused, yet the record may sit whole in the page cache:
            // blank its magic (best effort) and commit the next to the store.
            let _ = self.file.write_all_at(&[0u8; 4], self.end);
            self.fold_next = true;
            return Err(e);
        }
        self.end += HEADER + len;
        for (s, id, text) in rows {
            self.pending.insert((s.clone(), id.clone()), text.clone());
        }
        Ok(true)
    }

    /// Everything in the log is in the store now: the next record starts
    /// a new round at the beginning.
    pub(super) fn folded(&mut self) {
        self.pending.clear();
        self.end = 0;
        self.fold_next = false;
    }
}
