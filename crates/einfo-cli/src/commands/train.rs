//! `einfo train`: for now, prepares the data of the default run (split 1 of MNIST).
//! Training itself lands with the training issue.

use anyhow::Result;
use clap::Args;
use einfo_data::{DataOptions, Dataset, DatasetKind, Part, Split};

#[derive(Args)]
pub struct TrainArgs {
    /// Predefined MNIST split (1..=50).
    #[arg(long, default_value_t = 1)]
    split: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub fn run(args: TrainArgs, opts: DataOptions) -> Result<()> {
    einfo_data::mnist_split(args.split)?;
    let data = Dataset::load(DatasetKind::Mnist, Part::All, &opts)?;
    let split = Split::mnist(&data, args.split, args.seed)?;
    println!(
        "data ready: {} ({} images, seed {}, indices sha256 {})",
        split.name,
        split.len(),
        split.seed,
        &split.indices_hash()[..16]
    );
    println!("training is not implemented yet in this version of einfo: only the data preparation ran");
    Ok(())
}
