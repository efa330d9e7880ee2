//! The daemon's desired state, kept in an embedded transactional store
//! (redb) under the state directory.
//!
//! The whole desired topology is one record, written with its generation
//! in one transaction: a change is either all there after a crash or not
//! at all, and `commit` returns only once it is on disk (redb's default
//! durability fsyncs), so the API acknowledges nothing that could be lost.

use redb::{Database, ReadableTable, TableDefinition};
use std::path::{Path, PathBuf};
use vepa_api::topology::Topology;

const STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("state");
const TOPOLOGY: &str = "topology";
const GENERATION: &str = "generation";
const INSTANCE: &str = "instance";
const PENDING: &str = "pending";
/// The store's page cache: the state is one record of kilobytes.
const STORE_CACHE_BYTES: usize = 4 << 20;

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

    pub fn load(&self) -> Result<Stored, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let t = tx.open_table(STATE).map_err(|e| self.db_err(e))?;
        let generation = t
            .get(GENERATION)
            .map_err(|e| self.db_err(e))?
            .and_then(|v| v.value().try_into().ok().map(u64::from_le_bytes))
            .unwrap_or(0);
        let topology = match t.get(TOPOLOGY).map_err(|e| self.db_err(e))? {
            Some(v) => serde_json::from_slice(v.value()).map_err(|source| StoreError::Corrupt {
                file: self.file.clone(),
                source,
            })?,
            None => Topology::default(),
        };
        Ok(Stored {
            topology,
            generation,
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

    /// Writes `topology` as the desired state, durably; returns the new generation.
    pub fn commit(&self, topology: &Topology, generation: u64) -> Result<u64, StoreError> {
        let bytes = serde_json::to_vec(topology).map_err(|source| StoreError::Corrupt {
            file: self.file.clone(),
            source,
        })?;
        let next = generation + 1;
        self.write(|t| {
            t.insert(TOPOLOGY, bytes.as_slice())?;
            t.insert(GENERATION, next.to_le_bytes().as_slice())?;
            t.remove(PENDING)?;
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
            assert_eq!(s.commit(&t, 0).unwrap(), 1);
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.instance().len(), 8);
        let got = s.load().unwrap();
        assert_eq!((got.topology, got.generation), (t, 1));
    }
}
