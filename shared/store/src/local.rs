//! `LocalStore`: a `BlobStore` over a local directory, one file per key.
//!
//! Writes go to a `.tmp-*` file beside the target and are renamed into place,
//! so readers never see partial objects; listings skip those temp files.
//! Deleting a file also removes directories it leaves empty, so a local tree
//! looks like an S3 listing of the same keys.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{BlobStore, Listing, ObjectMeta, ObjectReader, Skipped, StoreError};

/// Name prefix of in-flight writes; such files are never listed.
const TMP_PREFIX: &str = ".tmp-";

/// Makes temp names unique among concurrent puts of one process.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A [`BlobStore`] whose keys are files under a root directory.
///
/// `etag` is always `None`: a real one would mean hashing every file, and one
/// made from size and mtime would leak wall-clock time into anything digesting
/// the input set. Use `size` and `modified` to notice changes.
///
/// Listings do not follow symbolic links below the root unless
/// [`LocalStore::following_links`] asks: a link may lead out of the tree, or
/// back into it (a loop, or the same files under a second name). Links not
/// followed, link loops, dangling links and unreadable directories are
/// passed over, and [`BlobStore::survey`] says why.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
    follow_links: bool,
}

impl LocalStore {
    /// A store rooted at `root` (made absolute; created on first `put`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let root = std::path::absolute(&root).unwrap_or(root);
        Self {
            root,
            follow_links: false,
        }
    }

    /// The same store, listing through symbolic links when `follow` (a link
    /// back to a directory being listed is still passed over, as a loop).
    pub fn following_links(self, follow: bool) -> Self {
        Self {
            follow_links: follow,
            ..self
        }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file for `key`, after checking the key cannot escape the root.
    /// Removes `.tmp-*` files that a writer killed in the middle of a `put`
    /// left behind, and returns how many. Only safe while no other process
    /// writes under this root (the `flowmerge` CLI holds a lock when it calls it).
    pub fn remove_abandoned_temp_files(&self) -> Result<usize, StoreError> {
        fn sweep(dir: &Path, removed: &mut usize) -> io::Result<()> {
            let entries = match fs::read_dir(dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                if entry.file_type()?.is_dir() {
                    sweep(&entry.path(), removed)?;
                } else if entry
                    .file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with(TMP_PREFIX))
                {
                    fs::remove_file(entry.path())?;
                    *removed += 1;
                }
            }
            Ok(())
        }
        let mut removed = 0;
        sweep(&self.root, &mut removed)
            .map_err(|e| StoreError::io("remove_abandoned_temp_files", "", e))?;
        Ok(removed)
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    async fn put_with(
        &self,
        key: &str,
        body: Bytes,
        durability: Durability,
    ) -> Result<ObjectMeta, StoreError> {
        let path = self.path(key)?;
        let key_owned = key.to_owned();
        blocking("put", key, move || {
            put_atomic(&path, &key_owned, &body, durability)
        })
        .await
    }
}

#[async_trait]
impl BlobStore for LocalStore {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        let listing = self.survey(prefix).await?;
        for skipped in &listing.skipped {
            tracing::warn!(key = %skipped.key, reason = %skipped.reason, "not listed");
        }
        Ok(listing.objects)
    }

    async fn survey(&self, prefix: &str) -> Result<Listing, StoreError> {
        let mut walk = Walk {
            root: self.root.clone(),
            prefix: prefix.to_owned(),
            follow_links: self.follow_links,
            ancestors: vec![fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone())],
            found: Listing::default(),
        };
        blocking("list", prefix, move || {
            walk.dir("")?;
            let mut found = walk.found;
            found.objects.sort_unstable_by(|a, b| a.key.cmp(&b.key));
            found.skipped.sort_unstable_by(|a, b| a.key.cmp(&b.key));
            Ok(found)
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        let path = self.path(key)?;
        match tokio::fs::read(&path).await {
            Ok(body) => Ok(Bytes::from(body)),
            Err(e) => Err(map_io("read", key, e)),
        }
    }

    async fn open(&self, key: &str) -> Result<ObjectReader, StoreError> {
        let path = self.path(key)?;
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| map_io("open", key, e))?;
        // Opening a directory succeeds on Unix; it is not an object.
        let meta = file
            .metadata()
            .await
            .map_err(|e| StoreError::io("stat", key, e))?;
        if !meta.is_file() {
            return Err(StoreError::NotFound {
                key: key.to_owned(),
            });
        }
        Ok(Box::pin(file))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        let path = self.path(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => Ok(Some(object_meta(key.to_owned(), &meta))),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io("stat", key, e)),
        }
    }

    async fn put(&self, key: &str, body: Bytes) -> Result<ObjectMeta, StoreError> {
        self.put_with(key, body, Durability::Durable).await
    }

    /// Written and renamed into place like any object, without the syncs.
    async fn put_scratch(&self, key: &str, body: Bytes) -> Result<ObjectMeta, StoreError> {
        self.put_with(key, body, Durability::Scratch).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key)?;
        let root = self.root.clone();
        let key_owned = key.to_owned();
        blocking("delete", key, move || delete_file(&root, &path, &key_owned)).await
    }

    async fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        let paths = keys
            .iter()
            .map(|k| Ok((self.path(k)?, k.clone())))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let root = self.root.clone();
        blocking("delete", "", move || {
            paths
                .iter()
                .try_for_each(|(path, key)| delete_file(&root, path, key))
        })
        .await
    }
}

/// Rejects keys that are empty, absolute, have empty, `.` or `..` components,
/// or name a temp file (which `list` would never show).
fn validate_key(key: &str) -> Result<(), StoreError> {
    let reason = if key.is_empty() {
        Some("empty key")
    } else if key.starts_with('/') {
        Some("key must be relative")
    } else if key.contains('\0') {
        Some("key contains NUL")
    } else if key.split('/').any(|c| matches!(c, "" | "." | "..")) {
        Some("empty, '.' or '..' path component")
    } else if key
        .rsplit('/')
        .next()
        .is_some_and(|n| n.starts_with(TMP_PREFIX))
    {
        Some("file names starting with '.tmp-' are reserved")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(StoreError::InvalidKey {
            key: key.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Runs blocking file-system work off the async runtime.
async fn blocking<T, F>(op: &'static str, key: &str, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::io(op, key, io::Error::other(e)))?
}

/// `NotFound` becomes [`StoreError::NotFound`]; anything else an I/O error.
fn map_io(op: &'static str, key: &str, e: io::Error) -> StoreError {
    if e.kind() == io::ErrorKind::NotFound {
        StoreError::NotFound {
            key: key.to_owned(),
        }
    } else {
        StoreError::io(op, key, e)
    }
}

fn object_meta(key: String, meta: &fs::Metadata) -> ObjectMeta {
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_secs()).ok());
    ObjectMeta {
        key,
        size: meta.len(),
        etag: None,
        modified,
    }
}

/// One listing of files under `root` whose key starts with `prefix`.
struct Walk {
    root: PathBuf,
    prefix: String,
    follow_links: bool,
    /// Canonical paths of the directories being listed, root first: a link
    /// to one of them is a loop.
    ancestors: Vec<PathBuf>,
    found: Listing,
}

impl Walk {
    /// Lists `root/rel`, skipping directories that cannot contain a match.
    fn dir(&mut self, rel: &str) -> Result<(), StoreError> {
        let entries = match fs::read_dir(self.root.join(rel)) {
            Ok(entries) => entries,
            // A missing root is an empty store; a directory may vanish mid-walk.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            // The root itself must be readable; any directory below may not be.
            Err(e) if rel.is_empty() => return Err(StoreError::io("read_dir", rel, e)),
            Err(e) => return self.skipped(rel, format!("unreadable directory: {e}")),
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    return self
                        .skipped(rel, format!("directory could not be read to its end: {e}"));
                }
            };
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                tracing::warn!(dir = %self.root.join(rel).display(), name = ?name, "skipping non-UTF-8 file name");
                continue;
            };
            let key = if rel.is_empty() {
                name.to_owned()
            } else {
                format!("{rel}/{name}")
            };
            if !may_match(&key, &self.prefix) {
                continue;
            }
            self.entry(&entry, &key, name)?;
        }
        Ok(())
    }

    fn entry(&mut self, entry: &fs::DirEntry, key: &str, name: &str) -> Result<(), StoreError> {
        let link = entry.file_type().is_ok_and(|kind| kind.is_symlink());
        if link && !self.follow_links {
            let target = fs::read_link(entry.path()).unwrap_or_default();
            return self.skipped(
                key,
                format!("symbolic link to {}, not followed", target.display()),
            );
        }
        // Stat the entry beside its open directory rather than by its whole
        // path, which the kernel would walk again; a link by its target.
        let meta = if link {
            fs::metadata(entry.path())
        } else {
            entry.metadata()
        };
        let meta = match meta {
            Ok(meta) => meta,
            Err(e) if link && e.kind() == io::ErrorKind::NotFound => {
                let target = fs::read_link(entry.path()).unwrap_or_default();
                return self.skipped(
                    key,
                    format!("dangling symbolic link to {}", target.display()),
                );
            }
            // Deleted since read_dir.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return self.skipped(key, format!("cannot be read: {e}")),
        };
        if meta.is_dir() {
            let parent = self.ancestors.last().cloned().unwrap_or_default();
            let canonical = if link {
                fs::canonicalize(entry.path()).unwrap_or_default()
            } else {
                parent.join(name)
            };
            if let Some(at) = self.ancestors.iter().position(|a| *a == canonical) {
                let to = if at == 0 {
                    "the root".to_owned()
                } else {
                    canonical.display().to_string()
                };
                return self.skipped(key, format!("symbolic link loop: leads back to {to}"));
            }
            self.ancestors.push(canonical);
            let listed = self.dir(key);
            self.ancestors.pop();
            listed?;
        } else if meta.is_file() && !name.starts_with(TMP_PREFIX) && key.starts_with(&self.prefix) {
            self.found.objects.push(object_meta(key.to_owned(), &meta));
        }
        Ok(())
    }

    fn skipped(&mut self, key: &str, reason: String) -> Result<(), StoreError> {
        self.found.skipped.push(Skipped {
            key: key.to_owned(),
            reason,
        });
        Ok(())
    }
}

/// Whether `key`, or a key below it, can start with `prefix`.
fn may_match(key: &str, prefix: &str) -> bool {
    key.starts_with(prefix) || prefix.starts_with(&format!("{key}/"))
}

/// Whether a put waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Durability {
    /// The file and its rename are synced before the put returns.
    Durable,
    /// Neither is: the object survives the process, not a crash of the machine.
    Scratch,
}

/// Writes `body` to a temp file beside `path`, syncs it (if durable), and
/// renames it over `path`.
fn put_atomic(
    path: &Path,
    key: &str,
    body: &[u8],
    durability: Durability,
) -> Result<ObjectMeta, StoreError> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(StoreError::InvalidKey {
            key: key.to_owned(),
            reason: "no file name",
        });
    };
    let tmp = dir.join(format!(
        "{TMP_PREFIX}{}-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let mut file = create_in_dir(dir, &tmp, key)?;
    let written = file.write_all(body).and_then(|()| match durability {
        Durability::Durable => file.sync_data(),
        Durability::Scratch => Ok(()),
    });
    drop(file);
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(StoreError::io("write", key, e));
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(StoreError::io("rename", key, e));
    }
    // Make the rename itself durable; best effort (not every platform can).
    if durability == Durability::Durable
        && let Ok(d) = fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    let meta = fs::metadata(path).map_err(|e| StoreError::io("stat", key, e))?;
    Ok(object_meta(key.to_owned(), &meta))
}

/// Creates `tmp` in `dir`, creating `dir` first. Retries a few times because
/// a concurrent delete may prune the directory between the two steps.
fn create_in_dir(dir: &Path, tmp: &Path, key: &str) -> Result<fs::File, StoreError> {
    let mut attempt = 0;
    loop {
        fs::create_dir_all(dir).map_err(|e| StoreError::io("create_dir", key, e))?;
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(tmp)
        {
            Ok(file) => return Ok(file),
            Err(e) if e.kind() == io::ErrorKind::NotFound && attempt < 3 => attempt += 1,
            Err(e) => return Err(StoreError::io("create", key, e)),
        }
    }
}

/// Removes `path` (missing is fine), then any directories that left empty,
/// up to but not including `root`.
fn delete_file(root: &Path, path: &Path, key: &str) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::io("delete", key, e)),
    }
    for dir in path.ancestors().skip(1) {
        // remove_dir fails on non-empty directories, which ends the climb.
        if dir == root || !dir.starts_with(root) || fs::remove_dir(dir).is_err() {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    fn store() -> (tempfile::TempDir, LocalStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        (dir, store)
    }

    fn keys(metas: &[ObjectMeta]) -> Vec<&str> {
        metas.iter().map(|m| m.key.as_str()).collect()
    }

    /// Every file under `dir`, relative, including temp files.
    fn all_files(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in fs::read_dir(d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    out.push(path.strip_prefix(dir).unwrap().display().to_string());
                }
            }
        }
        out.sort();
        out
    }

    #[tokio::test]
    async fn put_get_head_round_trip() {
        let (_dir, store) = store();
        let meta = store
            .put("a/b/c.gz", Bytes::from_static(b"hello"))
            .await
            .unwrap();
        assert_eq!(meta.key, "a/b/c.gz");
        assert_eq!(meta.size, 5);
        assert_eq!(meta.etag, None);
        assert!(meta.modified.is_some_and(|m| m > 1_600_000_000));
        assert_eq!(&store.get("a/b/c.gz").await.unwrap()[..], b"hello");
        assert_eq!(store.head("a/b/c.gz").await.unwrap(), Some(meta));

        let replaced = store
            .put("a/b/c.gz", Bytes::from_static(b"bye"))
            .await
            .unwrap();
        assert_eq!(replaced.size, 3);
        assert_eq!(&store.get("a/b/c.gz").await.unwrap()[..], b"bye");
    }

    #[tokio::test]
    async fn missing_objects() {
        let (_dir, store) = store();
        assert!(matches!(
            store.get("nope").await,
            Err(StoreError::NotFound { key }) if key == "nope"
        ));
        assert!(matches!(
            store.open("nope").await,
            Err(StoreError::NotFound { .. })
        ));
        assert_eq!(store.head("nope").await.unwrap(), None);
        assert!(store.list("").await.unwrap().is_empty());
        // A directory is not an object.
        store.put("d/x", Bytes::new()).await.unwrap();
        assert_eq!(store.head("d").await.unwrap(), None);
        assert!(matches!(
            store.open("d").await,
            Err(StoreError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn list_is_sorted_recursive_and_prefix_filtered() {
        let (_dir, store) = store();
        for key in ["b/2", "a/x/1", "a/1", "ab", "a/x/0", "c", "a-"] {
            store.put(key, Bytes::from(key.to_owned())).await.unwrap();
        }
        let all = store.list("").await.unwrap();
        assert_eq!(
            keys(&all),
            ["a-", "a/1", "a/x/0", "a/x/1", "ab", "b/2", "c"]
        );
        assert_eq!(all[2].size, 5);
        assert_eq!(
            keys(&store.list("a/").await.unwrap()),
            ["a/1", "a/x/0", "a/x/1"]
        );
        assert_eq!(
            keys(&store.list("a").await.unwrap()),
            ["a-", "a/1", "a/x/0", "a/x/1", "ab"]
        );
        assert_eq!(keys(&store.list("a/x/").await.unwrap()), ["a/x/0", "a/x/1"]);
        assert_eq!(keys(&store.list("a/x/1").await.unwrap()), ["a/x/1"]);
        assert!(store.list("zzz/").await.unwrap().is_empty());
    }

    /// `real/f`, and links to it, to `real`, to nothing, to the root
    /// (a loop) and to a directory outside the root.
    #[cfg(unix)]
    fn linked_tree() -> (tempfile::TempDir, tempfile::TempDir, LocalStore) {
        let (dir, store) = store();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("o"), b"123").unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("real/deeper")).unwrap();
        fs::write(root.join("real/f"), b"12345").unwrap();
        let link =
            |target: &Path, at: &str| std::os::unix::fs::symlink(target, root.join(at)).unwrap();
        link(&root.join("real/f"), "link");
        link(&root.join("real"), "linked-dir");
        link(&root.join("gone"), "dangling");
        link(Path::new("../.."), "real/deeper/up");
        link(outside.path(), "outside");
        (dir, outside, store)
    }

    fn reasons(listing: &Listing) -> Vec<(&str, &str)> {
        listing
            .skipped
            .iter()
            .map(|s| {
                (
                    s.key.as_str(),
                    s.reason.split(' ').take(3).last().unwrap_or(""),
                )
            })
            .collect()
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn links_are_passed_over_with_their_reason_unless_followed() {
        let (_dir, _outside, store) = linked_tree();
        let listing = store.survey("").await.unwrap();
        assert_eq!(keys(&listing.objects), ["real/f"]);
        let skipped: Vec<&str> = listing.skipped.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(
            skipped,
            [
                "dangling",
                "link",
                "linked-dir",
                "outside",
                "real/deeper/up"
            ]
        );
        assert!(
            listing
                .skipped
                .iter()
                .all(|s| s.reason.contains("not followed"))
        );
        assert_eq!(keys(&store.list("").await.unwrap()), ["real/f"]);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn followed_links_stop_at_loops_and_dangling_ends() {
        let (_dir, _outside, store) = linked_tree();
        let store = store.following_links(true);
        let listing = store.survey("").await.unwrap();
        assert_eq!(
            keys(&listing.objects),
            ["link", "linked-dir/f", "outside/o", "real/f"]
        );
        assert!(
            listing
                .objects
                .iter()
                .all(|m| m.size == 5 || m.key == "outside/o")
        );
        assert_eq!(
            reasons(&listing),
            [
                ("dangling", "link"),
                ("linked-dir/deeper/up", "loop:"),
                ("real/deeper/up", "loop:")
            ]
        );
        assert!(
            listing.skipped[0]
                .reason
                .starts_with("dangling symbolic link to")
        );
        assert!(
            listing.skipped[2]
                .reason
                .ends_with("leads back to the root"),
            "{:?}",
            listing.skipped
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn an_unreadable_directory_is_passed_over() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let (dir, store) = store();
        store.put("ok/a", Bytes::from_static(b"1")).await.unwrap();
        store
            .put("locked/b", Bytes::from_static(b"2"))
            .await
            .unwrap();
        let locked = dir.path().join("locked");
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
        let listing = store.survey("").await.unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
        // The superuser reads any directory.
        if fs::metadata("/proc/self").unwrap().uid() == 0 {
            assert_eq!(keys(&listing.objects), ["locked/b", "ok/a"]);
        } else {
            assert_eq!(keys(&listing.objects), ["ok/a"]);
            assert_eq!(listing.skipped[0].key, "locked");
            assert!(
                listing.skipped[0]
                    .reason
                    .starts_with("unreadable directory")
            );
        }
    }

    #[tokio::test]
    async fn put_leaves_no_temp_files_and_list_skips_them() {
        let (dir, store) = store();
        store
            .put("p/q.parquet", Bytes::from(vec![7u8; 100_000]))
            .await
            .unwrap();
        store
            .put("p/q.parquet", Bytes::from(vec![8u8; 10]))
            .await
            .unwrap();
        assert_eq!(all_files(dir.path()), ["p/q.parquet"]);
        let meta = store
            .put_scratch("p/q.parquet", Bytes::from(vec![9u8; 3]))
            .await
            .unwrap();
        assert_eq!(meta.size, 3);
        assert_eq!(all_files(dir.path()), ["p/q.parquet"]);
        assert_eq!(store.get("p/q.parquet").await.unwrap(), vec![9u8; 3]);

        // An in-flight write from another process is invisible to list.
        fs::write(dir.path().join("p/.tmp-r.parquet-1-1"), b"partial").unwrap();
        assert_eq!(keys(&store.list("").await.unwrap()), ["p/q.parquet"]);
    }

    #[tokio::test]
    async fn abandoned_temp_files_are_removed_and_objects_kept() {
        let (dir, store) = store();
        store
            .put("p/q/keep.parquet", Bytes::from_static(b"x"))
            .await
            .unwrap();
        fs::write(dir.path().join("p/q/.tmp-keep.parquet-1-1"), b"partial").unwrap();
        fs::write(dir.path().join(".tmp-top-1-1"), b"partial").unwrap();
        assert_eq!(store.remove_abandoned_temp_files().unwrap(), 2);
        assert_eq!(all_files(dir.path()), ["p/q/keep.parquet"]);
    }

    #[tokio::test]
    async fn concurrent_puts_of_one_key_are_whole() {
        let (dir, store) = store();
        let bodies: Vec<Bytes> = (0u8..8).map(|i| Bytes::from(vec![i; 200_000])).collect();
        let puts = bodies.iter().map(|b| store.put("k", b.clone()));
        futures::future::try_join_all(puts).await.unwrap();
        let got = store.get("k").await.unwrap();
        assert!(bodies.contains(&got));
        assert_eq!(all_files(dir.path()), ["k"]);
    }

    #[tokio::test]
    async fn delete_is_idempotent_and_prunes_empty_dirs() {
        let (dir, store) = store();
        store.put("a/b/c", Bytes::from_static(b"1")).await.unwrap();
        store.put("a/d", Bytes::from_static(b"2")).await.unwrap();
        store.delete("a/b/c").await.unwrap();
        store.delete("a/b/c").await.unwrap();
        store.delete("never/existed").await.unwrap();
        assert!(!dir.path().join("a/b").exists());
        assert!(dir.path().join("a").exists());
        assert_eq!(keys(&store.list("").await.unwrap()), ["a/d"]);

        store.put("x/1", Bytes::new()).await.unwrap();
        store.put("x/2", Bytes::new()).await.unwrap();
        let doomed = ["a/d", "x/1", "x/2", "missing"].map(String::from);
        store.delete_many(&doomed).await.unwrap();
        assert!(store.list("").await.unwrap().is_empty());
        assert!(dir.path().exists(), "root must survive pruning");
    }

    #[tokio::test]
    async fn open_streams_the_body() {
        let (_dir, store) = store();
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        store.put("big", Bytes::from(body.clone())).await.unwrap();
        let mut reader = store.open("big").await.unwrap();
        let mut got = Vec::new();
        let mut chunk = vec![0u8; 65_536];
        loop {
            let n = reader.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(got, body);
    }

    #[tokio::test]
    async fn bad_keys_are_rejected() {
        let (dir, store) = store();
        for key in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            "a//b",
            "a/",
            "d/.tmp-x",
        ] {
            let err = store.put(key, Bytes::new()).await.unwrap_err();
            assert!(
                matches!(err, StoreError::InvalidKey { .. }),
                "{key:?}: {err}"
            );
            let err = store.get(key).await.unwrap_err();
            assert!(
                matches!(err, StoreError::InvalidKey { .. }),
                "{key:?}: {err}"
            );
            assert!(store.delete(key).await.is_err(), "{key:?}");
        }
        assert!(
            store
                .delete_many(&["ok".into(), "../x".into()])
                .await
                .is_err()
        );
        assert!(all_files(dir.path()).is_empty());
        // Names that merely contain dots are fine.
        store.put("a..b/.hidden/x..y", Bytes::new()).await.unwrap();
    }

    #[tokio::test]
    async fn describe_is_the_absolute_root() {
        let (dir, store) = store();
        assert_eq!(store.describe(), dir.path().display().to_string());
        let relative = LocalStore::new("rel/dir");
        assert!(relative.root().is_absolute());
        assert!(relative.root().ends_with("rel/dir"));
    }
}
