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
//! barrier, costs n small transactions instead of n².

use redb::{Database, ReadableTable, TableDefinition};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vepa_api::topology::Topology;

const STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("state");
/// (switch, flow identity) → flow text.
const FLOWS: TableDefinition<(&str, &str), &str> = TableDefinition::new("flows");
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

/// One switch's flows as rows: (identity, text).
pub type FlowRows = Vec<(String, String)>;

/// A flow row to write (`text`) or remove (`None`).
#[derive(Debug, Clone, Copy)]
pub struct FlowEdit<'a> {
    pub switch: &'a str,
    pub id: &'a str,
    pub text: Option<&'a str>,
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
        let mut store = Store {
            db,
            file,
            instance: String::new(),
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
        let legacy_flows = topology.switches.iter().any(|s| !s.flows.is_empty());
        match tx.open_table(FLOWS) {
            Ok(rows) => {
                for row in rows.iter().map_err(|e| self.db_err(e))? {
                    let (k, v) = row.map_err(|e| self.db_err(e))?;
                    let (switch, _) = k.value();
                    // Rows of a switch the record no longer has are left
                    // for the next commit to drop.
                    if let Some(s) = topology.switch_mut(switch) {
                        s.flows.push(v.value().to_string());
                    }
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(self.db_err(e)),
        }
        Ok(Stored {
            topology,
            generation,
            legacy_flows,
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
        let bytes = self.record(topology)?;
        let next = generation + 1;
        self.transact(|tx| {
            let mut t = tx.open_table(STATE).map_err(boxed)?;
            t.insert(TOPOLOGY, bytes.as_slice()).map_err(boxed)?;
            t.insert(GENERATION, next.to_le_bytes().as_slice())
                .map_err(boxed)?;
            t.remove(PENDING).map_err(boxed)?;
            drop(t);
            tx.delete_table(FLOWS).map_err(boxed)?;
            let mut rows = tx.open_table(FLOWS).map_err(boxed)?;
            for (switch, r) in flows {
                for (id, text) in r {
                    rows.insert((switch.as_str(), id.as_str()), text.as_str())
                        .map_err(boxed)?;
                }
            }
            Ok(())
        })?;
        Ok(next)
    }

    /// Writes flow rows edited one by one (and, with `record`, the
    /// topology record, whose groups or meters changed) durably in one
    /// transaction; returns the new generation.
    pub fn commit_flows(
        &self,
        record: Option<&Topology>,
        edits: &[FlowEdit<'_>],
        generation: u64,
    ) -> Result<u64, StoreError> {
        let bytes = record.map(|t| self.record(t)).transpose()?;
        let next = generation + 1;
        self.transact(|tx| {
            let mut t = tx.open_table(STATE).map_err(boxed)?;
            if let Some(b) = &bytes {
                t.insert(TOPOLOGY, b.as_slice()).map_err(boxed)?;
            }
            t.insert(GENERATION, next.to_le_bytes().as_slice())
                .map_err(boxed)?;
            drop(t);
            let mut rows = tx.open_table(FLOWS).map_err(boxed)?;
            for e in edits {
                match e.text {
                    Some(text) => rows.insert((e.switch, e.id), text).map_err(boxed)?,
                    None => rows.remove((e.switch, e.id)).map_err(boxed)?,
                };
            }
            Ok(())
        })?;
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
        let t = Topology::parse(
            "t",
            "[[switch]]\nname = \"s\"\n[[switch.port]]\nname = \"p\"\ntype = \"veth\"\n",
        )
        .unwrap();
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

    fn rows(pairs: &[(&str, &str)]) -> FlowRows {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn flow_rows_are_written_one_by_one_and_a_commit_replaces_them_all() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Topology::parse(
            "t",
            "[[switch]]\nname = \"s\"\n[[switch.port]]\nname = \"p\"\ntype = \"veth\"\n",
        )
        .unwrap();
        let s = Store::open(dir.path()).unwrap();
        let flows = BTreeMap::from([("s".to_string(), rows(&[("a", "A1"), ("b", "B1")]))]);
        let g = s.commit(&t, &flows, 0).unwrap();
        let got = s.load().unwrap();
        assert_eq!(got.topology.switches[0].flows, ["A1", "B1"]);
        assert!(!got.legacy_flows);
        let edit = |id, text| FlowEdit {
            switch: "s",
            id,
            text,
        };
        // Rows of another switch are ignored on load; one is replaced, one removed, one added.
        let g = s
            .commit_flows(
                None,
                &[
                    edit("a", None),
                    edit("b", Some("B2")),
                    edit("c", Some("C1")),
                    FlowEdit {
                        switch: "gone",
                        id: "x",
                        text: Some("X"),
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

    #[test]
    fn a_record_with_flow_texts_from_an_older_vepa_still_loads_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Topology::parse(
            "t",
            "[[switch]]\nname = \"s\"\n[[switch.port]]\nname = \"p\"\ntype = \"veth\"\n",
        )
        .unwrap();
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
