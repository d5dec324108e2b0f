//! The INPUT argument: a directory or `s3://bucket/prefix` whose flow log files
//! are discovered, or one local file named explicitly (accepted whatever its
//! name).

use std::sync::Arc;

use pipeline::{Discovered, discover, discover_key};
use store::{BlobStore, LocalStore, Location, open_store};

/// How a local INPUT directory is walked.
#[derive(Debug, clap::Args)]
pub struct LinkArgs {
    /// Read through symbolic links under INPUT (a link back into a directory
    /// being read is still skipped, as a loop). Without it, links are skipped
    /// and reported: they may lead out of INPUT, or to files read already.
    #[arg(long)]
    follow_links: bool,
}

/// The input store and the files found in it.
pub async fn open_input(
    arg: &str,
    links: &LinkArgs,
) -> anyhow::Result<(Arc<dyn BlobStore>, Discovered)> {
    if let Location::Local(path) = Location::parse(arg)?
        && path.is_file()
    {
        let dir = path.parent().map(|p| p.to_path_buf()).unwrap_or_default();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| anyhow::anyhow!("{}: not a UTF-8 file name", path.display()))?;
        let store: Arc<dyn BlobStore> = Arc::new(LocalStore::new(dir));
        let file = discover_key(store.as_ref(), name).await?;
        return Ok((
            store,
            Discovered {
                files: vec![file],
                skipped: Vec::new(),
            },
        ));
    }
    let store = match Location::parse(arg)? {
        Location::Local(path) => {
            Arc::new(LocalStore::new(path).following_links(links.follow_links))
        }
        s3 => open_store(&s3).await?,
    };
    let found = discover(store.as_ref(), "").await?;
    Ok((store, found))
}
