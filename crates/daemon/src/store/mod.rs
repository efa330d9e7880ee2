//! The daemon's desired state, kept in an embedded transactional store
//! (redb) under the state directory.
//!
//! The desired topology is one record, written with its generation in one
//! transaction: a change is either all there after a crash or not at all,
//! and `commit` returns only once it is on disk (redb's default durability
//! fsyncs), so the API acknowledges nothing that could be lost.
//!
//! Flow tables are kept beside the record, one row per flow keyed by the
//! switch and the flow's identity (table, priority, match), so a flow
//! edited through OpenFlow writes its own row ([`Store::commit_flows`])
//! and not every flow again: an install of n flows, each followed by a
//! barrier, costs n small writes instead of n². Those small writes go to
//! the flow log first ([`flowlog`]: one `fdatasync` of one record each),
//! folded into the table now and then.

mod flowlog;

use flowlog::{FlowLog, Row};
use redb::{Database, ReadableTable, TableDefinition};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vepa_api::topology::Topology;

const STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("state");
/// (switch, flow identity) → (install order, flow text).
const FLOWS: TableDefinition<(&str, &str), (u64, &str)> = TableDefinition::new("flow_rows");
/// The first form of the rows (no install order), read so it can be moved.
const FLOWS_V1: TableDefinition<(&str, &str), &str> = TableDefinition::new("flows");
const TOPOLOGY: &str = "topology";
const GENERATION: &str = "generation";
const INSTANCE: &str = "instance";
const PENDING: &str = "pending";
/// The store's page cache: the record is kilobytes; the flow rows may be
/// tens of MiB, of which an edit touches a few pages.
const STORE_CACHE_BYTES: usize = 8 << 20;

/// Host names a change is about to create, written before it creates
/// them: a crash between making a device and marking it as ours would
/// otherwise leave an unmarked device no start could tell from a stranger's.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Pending {
    pub links: Vec<String>,
    pub netns: Vec<String>,
    /// Links to be made inside namespaces (a kernel switch's macvlans).
    #[serde(default)]
    pub links_in: Vec<(String, String)>,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.links.is_empty() && self.netns.is_empty() && self.links_in.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state directory {dir}: {source}")]
    Dir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: another vepa daemon has this state directory open")]
    InUse { file: PathBuf },
    #[error("{file}: {source}")]
    Db {
        file: PathBuf,
        #[source]
        source: Box<redb::Error>,
    },
    #[error("{file}: {source}")]
    Log {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: stored topology is unreadable: {source}")]
    Corrupt {
        file: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

pub struct Store {
    db: Database,
    file: PathBuf,
    instance: String,
    log: std::sync::Mutex<FlowLog>,
    log_file: PathBuf,
}

/// What the store holds: the desired topology and how many changes made it.
#[derive(Debug, Clone, Default)]
pub struct Stored {
    pub topology: Topology,
    pub generation: u64,
    /// The record still holds flow texts (a store an older vepa wrote):
    /// the first [`Store::commit`] moves them to rows.
    pub legacy_flows: bool,
}

/// One switch's flows as rows: (identity, install order, text). Flows of
/// equal priority that overlap match in install order, so a restart must
/// build them in it.
pub type FlowRows = Vec<(String, u64, String)>;

/// A flow row to write (`(install order, text)`) or remove (`None`).
#[derive(Debug, Clone, Copy)]
pub struct FlowEdit<'a> {
    pub switch: &'a str,
    pub id: &'a str,
    pub row: Option<(u64, &'a str)>,
}

fn boxed(e: impl Into<redb::Error>) -> Box<redb::Error> {
    Box::new(e.into())
}

/// The topology with its flow texts left out (they are rows).
fn record_bytes(topology: &Topology) -> Result<Vec<u8>, serde_json::Error> {
    let mut t = topology.clone();
    for s in &mut t.switches {
        s.flows = Vec::new();
    }
    serde_json::to_vec(&t)
}

impl Store {
    /// Opens (or creates) the store in `dir`, which is created (mode 0700) if missing.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with_log(dir, flowlog::LOG_BYTES)
    }

    fn open_with_log(dir: &Path, log_bytes: u64) -> Result<Store, StoreError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| StoreError::Dir {
                dir: dir.to_path_buf(),
                source,
            })?;
        let file = dir.join("state.redb");
        // One record lives here; redb's page cache (1 GiB by default) would
        // otherwise keep every page a change ever touched.
        let db = redb::Builder::new()
            .set_cache_size(STORE_CACHE_BYTES)
            .create(&file)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    StoreError::InUse { file: file.clone() }
                }
                e => StoreError::Db {
                    file: file.clone(),
                    source: Box::new(e.into()),
                },
            })?;
        let log_file = dir.join("flows.log");
        let log = FlowLog::open(&log_file, log_bytes).map_err(|source| StoreError::Log {
            file: log_file.clone(),
            source,
        })?;
        let mut store = Store {
            db,
            file,
            instance: String::new(),
            log: std::sync::Mutex::new(log),
            log_file,
        };
        // The table exists from the first open on, so reads never meet its
        // absence; the instance id is made once and kept.
        let fresh = new_instance_id();
        let mut instance = String::new();
        store.write(|t| {
            if t.get(GENERATION)?.is_none() {
                t.insert(GENERATION, 0u64.to_le_bytes().as_slice())?;
            }
            let id = t
                .get(INSTANCE)?
                .map(|v| String::from_utf8_lossy(v.value()).into_owned());
            match id {
                Some(id) => instance = id,
                None => {
                    t.insert(INSTANCE, fresh.as_bytes())?;
                    instance = fresh.clone();
                }
            }
            Ok(())
        })?;
        store.instance = instance;
        Ok(store)
    }

    /// This state directory's own id: what it owns on the host is marked with it.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    fn db_err(&self, e: impl Into<redb::Error>) -> StoreError {
        StoreError::Db {
            file: self.file.clone(),
            source: Box::new(e.into()),
        }
    }

    fn write(
        &self,
        f: impl FnOnce(&mut redb::Table<&str, &[u8]>) -> Result<(), redb::StorageError>,
    ) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(|e| self.db_err(e))?;
        {
            let mut t = tx.open_table(STATE).map_err(|e| self.db_err(e))?;
            f(&mut t).map_err(|e| self.db_err(e))?;
        }
        tx.commit().map_err(|e| self.db_err(e))
    }

    /// Runs `f` in one write transaction and commits it (durably).
    fn transact(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<(), Box<redb::Error>>,
    ) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(|e| self.db_err(e))?;
        f(&tx).map_err(|source| StoreError::Db {
            file: self.file.clone(),
            source,
        })?;
        tx.commit().map_err(|e| self.db_err(e))
    }

    pub fn load(&self) -> Result<Stored, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let t = tx.open_table(STATE).map_err(|e| self.db_err(e))?;
        let generation = t
            .get(GENERATION)
            .map_err(|e| self.db_err(e))?
            .and_then(|v| v.value().try_into().ok().map(u64::from_le_bytes))
            .unwrap_or(0);
        let mut topology: Topology = match t.get(TOPOLOGY).map_err(|e| self.db_err(e))? {
            Some(v) => serde_json::from_slice(v.value()).map_err(|source| StoreError::Corrupt {
                file: self.file.clone(),
                source,
            })?,
            None => Topology::default(),
        };
        let mut legacy_flows = topology.switches.iter().any(|s| !s.flows.is_empty());
        let mut flows: BTreeMap<(String, String), (u64, String)> = BTreeMap::new();
        match tx.open_table(FLOWS) {
            Ok(rows) => {
                for row in rows.iter().map_err(|e| self.db_err(e))? {
                    let (k, v) = row.map_err(|e| self.db_err(e))?;
                    let (switch, id) = k.value();
                    let (seq, text) = v.value();
                    flows.insert(
                        (switch.to_string(), id.to_string()),
                        (seq, text.to_string()),
                    );
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(self.db_err(e)),
        }
        match tx.open_table(FLOWS_V1) {
            Ok(rows) => {
                for (seq, row) in rows.iter().map_err(|e| self.db_err(e))?.enumerate() {
                    let (k, v) = row.map_err(|e| self.db_err(e))?;
                    let (switch, id) = k.value();
                    let key = (switch.to_string(), id.to_string());
                    flows.insert(key, (seq as u64, v.value().to_string()));
                    legacy_flows = true;
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(self.db_err(e)),
        }
        drop(t);
        drop(tx);
        // Flow edits acknowledged after the table's last fold.
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let records = log
            .replay(generation)
            .map_err(|source| self.log_err(source))?;
        let mut generation = generation;
        if let Some(last) = records.last().map(|(g, _)| *g) {
            let rows: Vec<Row> = records.into_iter().flat_map(|(_, r)| r).collect();
            for (s, id, row) in &rows {
                match row {
                    Some(r) => flows.insert((s.clone(), id.clone()), r.clone()),
                    None => flows.remove(&(s.clone(), id.clone())),
                };
            }
            generation = last;
            self.write_rows(None, rows.iter(), None, generation)?;
        }
        log.folded();
        let mut ordered: Vec<(String, u64, String)> = flows
            .into_iter()
            .map(|((switch, _), (seq, text))| (switch, seq, text))
            .collect();
        ordered.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        for (switch, _, text) in ordered {
            // Rows of a switch the record no longer has are left for the
            // next commit to drop.
            if let Some(s) = topology.switch_mut(&switch) {
                s.flows.push(text);
            }
        }
        Ok(Stored {
            topology,
            generation,
            legacy_flows,
        })
    }

    fn log_err(&self, source: std::io::Error) -> StoreError {
        StoreError::Log {
            file: self.log_file.clone(),
            source,
        }
    }

    /// One transaction: the record (if given), the generation, then the
    /// flow rows of `a` and `b` in that order.
    fn write_rows<'r>(
        &self,
        record: Option<&[u8]>,
        a: impl Iterator<Item = &'r Row>,
        b: Option<&[FlowEdit<'_>]>,
        generation: u64,
    ) -> Result<(), StoreError> {
        self.transact(|tx| {
            let mut t = tx.open_table(STATE).map_err(boxed)?;
            if let Some(bytes) = record {
                t.insert(TOPOLOGY, bytes).map_err(boxed)?;
            }
            t.insert(GENERATION, generation.to_le_bytes().as_slice())
                .map_err(boxed)?;
            drop(t);
            let mut rows = tx.open_table(FLOWS).map_err(boxed)?;
            let edits = a.map(|(s, id, row)| {
                let row = row.as_ref().map(|(seq, t)| (*seq, t.as_str()));
                (s.as_str(), id.as_str(), row)
            });
            let more = b
                .unwrap_or_default()
                .iter()
                .map(|e| (e.switch, e.id, e.row));
            for (switch, id, row) in edits.chain(more) {
                match row {
                    Some(row) => rows.insert((switch, id), row).map_err(boxed)?,
                    None => rows.remove((switch, id)).map_err(boxed)?,
                };
            }
            Ok(())
        })
    }

    pub fn pending(&self) -> Result<Pending, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let t = tx.open_table(STATE).map_err(|e| self.db_err(e))?;
        let v = t.get(PENDING).map_err(|e| self.db_err(e))?;
        Ok(v.and_then(|v| serde_json::from_slice(v.value()).ok())
            .unwrap_or_default())
    }

    /// Records (durably) what a change is about to create; empty clears it.
    pub fn set_pending(&self, p: &Pending) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(p).unwrap_or_default();
        self.write(|t| {
            if p.is_empty() {
                t.remove(PENDING)?;
            } else {
                t.insert(PENDING, bytes.as_slice())?;
            }
            Ok(())
        })
    }

    fn record(&self, topology: &Topology) -> Result<Vec<u8>, StoreError> {
        record_bytes(topology).map_err(|source| StoreError::Corrupt {
            file: self.file.clone(),
            source,
        })
    }

    /// Writes `topology` as the desired state, its switches' flows as
    /// `flows` gives them (every other row goes), durably; returns the new
    /// generation.
    pub fn commit(
        &self,
        topology: &Topology,
        flows: &BTreeMap<String, FlowRows>,
        generation: u64,
    ) -> Result<u64, StoreError> {
        self.write_all(topology, flows, generation + 1)?;
        Ok(generation + 1)
    }

    /// As [`commit`](Self::commit), keeping the generation: the same
    /// state written again (at start, with the install order renumbered
    /// as the flows were rebuilt, or moved from an older form).
    pub fn rewrite(
        &self,
        topology: &Topology,
        flows: &BTreeMap<String, FlowRows>,
        generation: u64,
    ) -> Result<(), StoreError> {
        self.write_all(topology, flows, generation)
    }

    fn write_all(
        &self,
        topology: &Topology,
        flows: &BTreeMap<String, FlowRows>,
        generation: u64,
    ) -> Result<(), StoreError> {
        let bytes = self.record(topology)?;
        self.transact(|tx| {
            let mut t = tx.open_table(STATE).map_err(boxed)?;
            t.insert(TOPOLOGY, bytes.as_slice()).map_err(boxed)?;
            t.insert(GENERATION, generation.to_le_bytes().as_slice())
                .map_err(boxed)?;
            t.remove(PENDING).map_err(boxed)?;
            drop(t);
            tx.delete_table(FLOWS).map_err(boxed)?;
            tx.delete_table(FLOWS_V1).map_err(boxed)?;
            let mut rows = tx.open_table(FLOWS).map_err(boxed)?;
            for (switch, r) in flows {
                for (id, seq, text) in r {
                    rows.insert((switch.as_str(), id.as_str()), (*seq, text.as_str()))
                        .map_err(boxed)?;
                }
            }
            Ok(())
        })?;
        // Every row was written: what the log holds is older.
        self.log.lock().unwrap_or_else(|p| p.into_inner()).folded();
        Ok(())
    }

    /// Writes flow rows edited one by one durably: appended to the flow
    /// log, or (with `record`, the topology record, whose groups or meters
    /// changed, or when the log is full) in one transaction with what the
    /// log held. Returns the new generation.
    pub fn commit_flows(
        &self,
        record: Option<&Topology>,
        edits: &[FlowEdit<'_>],
        generation: u64,
    ) -> Result<u64, StoreError> {
        let bytes = record.map(|t| self.record(t)).transpose()?;
        let next = generation + 1;
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if bytes.is_none() && !log.fold_next {
            let rows: Vec<Row> = edits
                .iter()
                .map(|e| {
                    (
                        e.switch.to_string(),
                        e.id.to_string(),
                        e.row.map(|(seq, t)| (seq, t.to_string())),
                    )
                })
                .collect();
            if log
                .append(next, &rows)
                .map_err(|source| self.log_err(source))?
            {
                return Ok(next);
            }
        }
        let held: Vec<Row> = log
            .pending
            .iter()
            .map(|((s, id), t)| (s.clone(), id.clone(), t.clone()))
            .collect();
        self.write_rows(bytes.as_deref(), held.iter(), Some(edits), next)?;
        log.folded();
        Ok(next)
    }
}

/// Eight random hex digits (from the kernel's random source, or the clock).
fn new_instance_id() -> String {
    let mut b = [0u8; 4];
    let got = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b));
    if got.is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        b = (t.subsec_nanos() ^ std::process::id()).to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_survives_reopening_and_a_second_open_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let t = one_switch();
        {
            let s = Store::open(dir.path()).unwrap();
            assert_eq!(s.load().unwrap().generation, 0);
            assert!(matches!(
                Store::open(dir.path()),
                Err(StoreError::InUse { .. })
            ));
            assert_eq!(s.commit(&t, &BTreeMap::new(), 0).unwrap(), 1);
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.instance().len(), 8);
        let got = s.load().unwrap();
        assert_eq!((got.topology, got.generation), (t, 1));
    }

    /// Rows in install order as given.
    fn rows(pairs: &[(&str, &str)]) -> FlowRows {
        pairs
            .iter()
            .enumerate()
            .map(|(i, (a, b))| (a.to_string(), i as u64, b.to_string()))
            .collect()
    }

    #[test]
    fn flow_rows_are_written_one_by_one_and_a_commit_replaces_them_all() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = one_switch();
        let s = Store::open(dir.path()).unwrap();
        // Loaded in install order, not in the order of their identities.
        let flows = BTreeMap::from([("s".to_string(), rows(&[("b", "B1"), ("a", "A1")]))]);
        let g = s.commit(&t, &flows, 0).unwrap();
        let got = s.load().unwrap();
        assert_eq!(got.topology.switches[0].flows, ["B1", "A1"]);
        assert!(!got.legacy_flows);
        let edit = |id, row| FlowEdit {
            switch: "s",
            id,
            row,
        };
        // Rows of another switch are ignored on load; one is replaced, one removed, one added.
        let g = s
            .commit_flows(
                None,
                &[
                    edit("a", None),
                    edit("b", Some((0, "B2"))),
                    edit("c", Some((7, "C1"))),
                    FlowEdit {
                        switch: "gone",
                        id: "x",
                        row: Some((1, "X")),
                    },
                ],
                g,
            )
            .unwrap();
        let got = s.load().unwrap();
        assert_eq!(got.topology.switches[0].flows, ["B2", "C1"]);
        assert_eq!(got.generation, g);
        // The record carries no flow text; a full commit drops every other row.
        t.switches[0].flows = vec!["ignored".into()];
        s.commit(
            &t,
            &BTreeMap::from([("s".to_string(), rows(&[("z", "Z")]))]),
            g,
        )
        .unwrap();
        assert_eq!(s.load().unwrap().topology.switches[0].flows, ["Z"]);
    }

    fn one_switch() -> Topology {
        Topology::parse(
            "t",
            "[[switch]]\nname = \"s\"\n[[switch.port]]\nname = \"p\"\ntype = \"veth\"\n",
        )
        .unwrap()
    }

    fn set<'a>(id: &'a str, seq: u64, text: &'a str) -> FlowEdit<'a> {
        FlowEdit {
            switch: "s",
            id,
            row: Some((seq, text)),
        }
    }

    /// Where each record of the log at `file` starts and how long it is.
    fn records(file: &Path) -> Vec<(usize, usize)> {
        let b = std::fs::read(file).unwrap();
        let mut at = 0;
        let mut out = Vec::new();
        while at + 20 <= b.len() && &b[at..at + 4] == b"VFL2" {
            let len = u32::from_le_bytes(b[at + 4..at + 8].try_into().unwrap()) as usize;
            out.push((at, 20 + len));
            at += 20 + len;
        }
        out
    }

    #[test]
    fn flow_edits_in_the_log_survive_a_restart_and_a_torn_record_is_not_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let t = one_switch();
        let mut g;
        {
            let s = Store::open(dir.path()).unwrap();
            g = s.commit(&t, &BTreeMap::new(), 0).unwrap();
            for i in 0..5 {
                let id = format!("f{i}");
                g = s
                    .commit_flows(None, &[set(&id, i, &id.to_uppercase())], g)
                    .unwrap();
            }
            g = s
                .commit_flows(
                    None,
                    &[FlowEdit {
                        switch: "s",
                        id: "f0",
                        row: None,
                    }],
                    g,
                )
                .unwrap();
        }
        let log = dir.path().join("flows.log");
        assert_eq!(records(&log).len(), 6, "each edit is one record");
        {
            let s = Store::open(dir.path()).unwrap();
            let got = s.load().unwrap();
            assert_eq!(got.topology.switches[0].flows, ["F1", "F2", "F3", "F4"]);
            assert_eq!(got.generation, g);
            // Start folded the log into the table: a record written now
            // starts a new round, and the old rounds' records are not replayed.
            g = s.commit_flows(None, &[set("f9", 9, "F9")], g).unwrap();
            g = s.commit_flows(None, &[set("f8", 8, "F8")], g).unwrap();
        }
        // A crash tore the last record: it is not replayed, nor anything after it.
        let (at, len) = records(&log)[1];
        let mut b = std::fs::read(&log).unwrap();
        b[at + len - 1] ^= 0xff;
        std::fs::write(&log, &b).unwrap();
        let s = Store::open(dir.path()).unwrap();
        let got = s.load().unwrap();
        assert_eq!(
            got.topology.switches[0].flows,
            ["F1", "F2", "F3", "F4", "F9"]
        );
        assert_eq!(got.generation, g - 1);
    }

    #[test]
    fn a_full_log_is_folded_and_a_full_commit_outdates_it() {
        let dir = tempfile::tempdir().unwrap();
        let t = one_switch();
        let s = Store::open_with_log(dir.path(), 512).unwrap();
        let mut g = s.commit(&t, &BTreeMap::new(), 0).unwrap();
        let ids: Vec<String> = (0..40).map(|i| format!("f{i:02}")).collect();
        for (i, id) in ids.iter().enumerate() {
            g = s
                .commit_flows(None, &[set(id, i as u64 + 1, id)], g)
                .unwrap();
        }
        // Too big for the log at all: straight into the table, with what the log held.
        let big = "x".repeat(600);
        g = s.commit_flows(None, &[set("big", 0, &big)], g).unwrap();
        drop(s);
        let s = Store::open_with_log(dir.path(), 512).unwrap();
        let got = s.load().unwrap();
        assert_eq!(got.generation, g);
        let mut want: Vec<String> = vec![big.clone()];
        want.extend(ids.iter().cloned());
        assert_eq!(got.topology.switches[0].flows, want);
        // Edits in the log, then an apply: the apply's rows alone remain.
        g = s.commit_flows(None, &[set("late", 99, "LATE")], g).unwrap();
        let flows = BTreeMap::from([("s".to_string(), rows(&[("only", "ONLY")]))]);
        g = s.commit(&t, &flows, g).unwrap();
        drop(s);
        let s = Store::open_with_log(dir.path(), 512).unwrap();
        let got = s.load().unwrap();
        assert_eq!(got.topology.switches[0].flows, ["ONLY"]);
        assert_eq!(got.generation, g);
    }

    #[test]
    fn a_record_with_flow_texts_from_an_older_vepa_still_loads_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = one_switch();
        t.switches[0].flows = vec!["priority=1,actions=drop".into()];
        let s = Store::open(dir.path()).unwrap();
        let old = serde_json::to_vec(&t).unwrap();
        s.write(|st| {
            st.insert(TOPOLOGY, old.as_slice())?;
            Ok(())
        })
        .unwrap();
        let got = s.load().unwrap();
        assert!(got.legacy_flows);
        assert_eq!(got.topology, t);
    }
}
