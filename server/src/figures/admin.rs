//! `chaski figures rebuild [--db R]`: recomputes the figures index of the region databases
//! from their winning revisions, on a stopped server (like the other administration commands,
//! it needs the data folder to itself).

use std::path::Path;
use std::time::Instant;

use crate::db::Databases;
use crate::storage::Storage;

/// The `figures` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum FiguresCommand {
    /// Rebuild the figures index from scratch, of every region database or of --db only.
    Rebuild {
        /// A region database (repeat for several): madre-de-dios, loreto, …
        #[arg(long = "db")]
        dbs: Vec<String>,
    },
}

/// Runs a `figures` command on the data folder `data_dir`.
pub async fn run(data_dir: &Path, command: FiguresCommand) -> Result<(), String> {
    let FiguresCommand::Rebuild { dbs } = command;
    let storage = Storage::open(data_dir).map_err(|e| {
        format!(
            "cannot open the data folder {}: {e}. Stop the server first: this command needs \
             it to itself.",
            data_dir.display()
        )
    })?;
    let databases = Databases::open(storage.sled()).map_err(|e| e.to_string())?;
    let names: Vec<String> = if dbs.is_empty() {
        databases
            .list()
            .into_iter()
            .filter(|n| super::indexed(n))
            .collect()
    } else {
        for name in &dbs {
            if !super::indexed(name) {
                return Err(format!(
                    "{name:?} is not a region database; figures are kept for the regions' \
                     databases (madre-de-dios, loreto, …)"
                ));
            }
            if databases.get(name).is_none() {
                return Err(format!(
                    "there is no database {name:?} in {}",
                    data_dir.display()
                ));
            }
        }
        dbs
    };
    for name in names {
        let store = databases.require(&name).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let rows = store
            .blocking(|s| s.rebuild_figures())
            .await
            .map_err(|e| format!("rebuilding {name}: {e}"))?;
        store
            .flush_now()
            .await
            .map_err(|e| format!("flushing {name}: {e}"))?;
        println!(
            "{name}\t{rows} documents counted\t{:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
