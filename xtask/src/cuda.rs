//! `cargo xtask build-cuda`: einfo with candle's CUDA backend, built on a machine with no
//! GPU and no CUDA install.
//!
//! 1. NVIDIA's toolchain comes from PyPI, pinned to CUDA 13.0 (driver 580 runs CUDA 13.0
//!    PTX; a newer toolkit's PTX does not load there), installed once into a cache
//!    directory (`pip install --target`): the wheels put `bin/ include/ lib/ nvvm/` under
//!    `nvidia/cu13/`.
//! 2. candle-kernels compiles its kernels with that `nvcc` for `--compute-cap` (90: H100 /
//!    H200) and links `cudart`, found through a `libcudart.so` link on `LIBRARY_PATH`.
//!    cudarc (the vendored candle-core asks for `dynamic-loading`) opens libcuda, cuBLAS,
//!    cuRAND and NVRTC at run time, so nothing else is linked.
//! 3. The binary is stripped and `xz`-compressed (a GPU run carries at most 64 MiB), and
//!    what it needs at run time is printed.
//!
//! `--check` installs only the compiler's wheels and runs `cargo check --features cuda`
//! (build scripts, kernels included, but no link): what CI runs so the GPU path cannot rot.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Args;

/// The pinned CUDA 13.0 wheels: (package, version, needed by `--check`).
const WHEELS: &[(&str, &str, bool)] = &[
    ("nvidia-cuda-nvcc", "13.0.88", true),
    ("nvidia-nvvm", "13.0.88", true),
    ("nvidia-cuda-crt", "13.0.88", true),
    ("nvidia-cuda-runtime", "13.0.96", true),
    ("nvidia-cuda-cccl", "13.0.85", true),
    ("nvidia-cuda-nvrtc", "13.0.88", false),
    ("nvidia-cublas", "13.0.2.14", false),
    ("nvidia-curand", "10.4.0.35", false),
];

/// CUDA version cudarc is built for (13.0).
const CUDARC_VERSION: &str = "13000";

#[derive(Args)]
pub struct BuildCudaArgs {
    /// Where the toolchain is installed (default: $XDG_CACHE_HOME/einfo/cuda-13.0, else
    /// ~/.cache/einfo/cuda-13.0).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// GPU compute capability the kernels are built for (90: H100 / H200; 80: A100).
    #[arg(long, default_value_t = 90)]
    pub compute_cap: u32,
    /// Cargo target directory of the CUDA build (kept apart from the CPU build's).
    #[arg(long, default_value = "target/cuda")]
    pub target_dir: PathBuf,
    /// Only `cargo check --features cuda`: no link, no binary. When it passes, the digest of
    /// its inputs is recorded in `.ci/cuda-checked` (commit it).
    #[arg(long)]
    pub check: bool,
    /// With --check: skip it when the inputs still match `.ci/cuda-checked` (what CI runs;
    /// see xtask/src/cuda_inputs.rs).
    #[arg(long, requires = "check")]
    pub if_changed: bool,
}

impl Default for BuildCudaArgs {
    fn default() -> Self {
        BuildCudaArgs { cache: None, compute_cap: 90, target_dir: "target/cuda".into(), check: false, if_changed: false }
    }
}

fn default_cache() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("einfo").join("cuda-13.0")
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let st = cmd.status().with_context(|| format!("{what}: could not start {:?}", cmd.get_program()))?;
    if !st.success() {
        bail!("{what} failed ({st})");
    }
    Ok(())
}

/// Install the pinned wheels into `<cache>/pkgs` (skipped when they are there).
fn install_toolchain(cache: &Path, full: bool) -> Result<PathBuf> {
    let pkgs = cache.join("pkgs");
    let cu = pkgs.join("nvidia").join("cu13");
    let marker = cache.join(if full { "installed-full" } else { "installed-check" });
    if marker.is_file() || cache.join("installed-full").is_file() {
        return Ok(cu);
    }
    std::fs::create_dir_all(&pkgs).with_context(|| format!("creating {}", pkgs.display()))?;
    let wanted: Vec<String> = WHEELS.iter().filter(|(_, _, check)| full || *check).map(|(p, v, _)| format!("{p}=={v}")).collect();
    eprintln!("build-cuda: installing {} into {}", wanted.join(" "), pkgs.display());
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    run(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "--upgrade", "--target"])
            .arg(&pkgs)
            .args(&wanted),
        "pip install of NVIDIA's CUDA 13.0 wheels (needs python3 with pip and PyPI)",
    )?;
    if !cu.join("bin").join("nvcc").is_file() {
        bail!("the wheels installed no nvcc at {}: did PyPI change their layout?", cu.join("bin/nvcc").display());
    }
    std::fs::write(&marker, wanted.join("\n") + "\n")?;
    Ok(cu)
}

/// `<cache>/links/libcudart.so` → the versioned library of the wheel (the linker wants the
/// unversioned name, which no wheel ships).
fn cudart_link(cache: &Path, cu: &Path) -> Result<PathBuf> {
    let links = cache.join("links");
    std::fs::create_dir_all(&links)?;
    let lib = cu.join("lib");
    let real = std::fs::read_dir(&lib)
        .with_context(|| format!("reading {}", lib.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libcudart.so.")))
        .with_context(|| format!("no libcudart.so.* in {}", lib.display()))?;
    let link = links.join("libcudart.so");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&real, &link)?;
    Ok(links)
}

fn prepend_path(var: &str, dir: &Path) -> std::ffi::OsString {
    let mut v = dir.as_os_str().to_os_string();
    if let Some(old) = std::env::var_os(var).filter(|o| !o.is_empty()) {
        v.push(":");
        v.push(old);
    }
    v
}

/// `cargo <verb> -p einfo-cli --features cuda` with the toolchain's environment.
fn cargo_cuda(verb: &str, cu: &Path, links: Option<&Path>, a: &BuildCudaArgs) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([verb, "--release", "-p", "einfo-cli", "--features", "cuda"])
        .env("CARGO_TARGET_DIR", &a.target_dir)
        .env("PATH", prepend_path("PATH", &cu.join("bin")))
        .env("CUDA_HOME", cu)
        .env("CUDA_ROOT", cu)
        .env("CUDA_PATH", cu)
        .env("CUDA_COMPUTE_CAP", a.compute_cap.to_string())
        .env("CUDARC_CUDA_VERSION", CUDARC_VERSION);
    if let Some(l) = links {
        cmd.env("LIBRARY_PATH", prepend_path("LIBRARY_PATH", l));
        // The binary finds libcudart.so.13 in the cache without LD_LIBRARY_PATH wherever the
        // cache is (this machine, or the shared file system of a cluster).
        let rpath = format!("-C link-arg=-Wl,-rpath,{}", cu.join("lib").display());
        let flags = std::env::var("RUSTFLAGS").map(|f| format!("{f} {rpath}")).unwrap_or(rpath);
        cmd.env("RUSTFLAGS", flags);
    }
    run(&mut cmd, &format!("cargo {verb} --features cuda"))
}

fn size_mb(p: &Path) -> f64 {
    std::fs::metadata(p).map(|m| m.len() as f64 / 1e6).unwrap_or(0.0)
}

/// Build (or `--check`) einfo with CUDA; returns the uncompressed, stripped binary.
pub fn build_cuda(a: &BuildCudaArgs) -> Result<Option<PathBuf>> {
    let cache = a.cache.clone().unwrap_or_else(default_cache);
    let root = std::env::current_dir()?;
    let digest = if a.check { Some(crate::cuda_inputs::digest(&root)?) } else { None };
    if a.if_changed && digest.is_some() && crate::cuda_inputs::recorded(&root) == digest {
        let digest = digest.unwrap_or_default();
        println!(
            "build-cuda --check: skipped, the CUDA build's inputs match {} (sha256 {}…): nothing it compiles changed",
            crate::cuda_inputs::RECORD,
            &digest[..16]
        );
        return Ok(None);
    }
    let cu = install_toolchain(&cache, !a.check)?;
    if a.check {
        cargo_cuda("check", &cu, None, a)?;
        crate::cuda_inputs::record(&root, digest.as_deref().unwrap_or_default(), a.compute_cap)?;
        println!(
            "build-cuda --check: einfo-cli compiles with --features cuda (CUDA 13.0, compute capability {}); recorded in {}",
            a.compute_cap,
            crate::cuda_inputs::RECORD
        );
        return Ok(None);
    }
    let links = cudart_link(&cache, &cu)?;
    cargo_cuda("build", &cu, Some(&links), a)?;
    let built = a.target_dir.join("release").join("einfo");
    let out_dir = a.target_dir.join("dist");
    std::fs::create_dir_all(&out_dir)?;
    let stripped = out_dir.join("einfo-cuda");
    run(Command::new("strip").arg("-o").arg(&stripped).arg(&built), "strip")?;
    let xz = out_dir.join("einfo-cuda.xz");
    let _ = std::fs::remove_file(&xz);
    run(Command::new("xz").args(["-9", "-T0", "-k", "-f"]).arg(&stripped), "xz")?;
    println!("einfo with CUDA (compute capability {}):", a.compute_cap);
    println!("  built     {} ({:.1} MB)", built.display(), size_mb(&built));
    println!("  stripped  {} ({:.1} MB)", stripped.display(), size_mb(&stripped));
    println!("  xz        {} ({:.1} MB)  — unpack with: xz -dk {}", xz.display(), size_mb(&xz), xz.file_name().unwrap_or_default().to_string_lossy());
    println!("At run time it needs:");
    println!("  linked:   libcudart.so.13 (found through the binary's rpath in {}; elsewhere put it on LD_LIBRARY_PATH)", cu.join("lib").display());
    println!("  opened by cudarc when a CUDA device is asked for: libcuda.so.1 (the NVIDIA driver, ≥ 580 for CUDA 13.0),");
    println!("            libcublas.so.13, libcublasLt.so.13, libcurand.so.10, libnvrtc.so.13 (in {})", cu.join("lib").display());
    println!("  e.g.      LD_LIBRARY_PATH={}:$LD_LIBRARY_PATH {} bench step --device cuda", cu.join("lib").display(), stripped.display());
    Ok(Some(stripped))
}
