//! The machine a result is computed on: the process set-up that picks the BLAS kernels for
//! this CPU, and the record of CPU, vector tier and GEMM backend kept beside results.

/// Run candle's own element-wise ops on the calling thread unless `CANDLE_NUM_THREADS`
/// says otherwise.
///
/// Our heavy ops (GEMMs through OpenBLAS or `gemm`, im2col, BatchNorm) bring their own
/// parallelism; what is left to candle's thread pool is small element-wise work whose
/// workers spin while the GEMM threads want the cores. Measured on the 2-core machine,
/// interleaved with the default: an elastic training step about 5–15% faster. Call once,
/// first thing in `main`, before any tensor op.
pub fn tune_threads() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
    if std::env::var_os("OPENBLAS_CORETYPE").is_none() {
        // OpenBLAS picks its kernels by CPU model at load time, and a release older than
        // the CPU does not know it: Debian 12's 0.3.21 falls back to its generic "Prescott"
        // (SSE3) kernels on a 2026 Xeon with AVX-512, and an elastic step ran ~3× slower
        // there than with the AVX-512 kernels (`experiments/bench/results/openblas-coretype.txt`).
        // So name the kernel family the CPU's features support — the one OpenBLAS itself
        // uses for single-precision GEMMs on every CPU it does know with those features.
        // `OPENBLAS_CORETYPE` set by the user always wins.
        if let Some(core) = openblas_core_for(&cpu_flags()) {
            std::env::set_var("OPENBLAS_CORETYPE", core);
        }
    }
}

/// The CPU's feature flags (`/proc/cpuinfo`; empty elsewhere).
fn cpu_flags() -> Vec<String> {
    flags_of(&std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default())
}

fn flags_of(cpuinfo: &str) -> Vec<String> {
    cpuinfo.lines().find(|l| l.starts_with("flags")).map(|l| l.split_whitespace().skip(2).map(str::to_string).collect()).unwrap_or_default()
}

/// The widest x86 vector extensions einfo's CPU kernels use, which pick OpenBLAS's kernels
/// (and the pure-Rust GEMM's): results on two CPUs of one tier agree bit for bit, across
/// tiers only to the last digits — and a training's path follows those digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VectorTier {
    /// AVX-512 F, BW, DQ and VL.
    Avx512,
    /// AVX2 with FMA.
    Avx2Fma,
    /// Anything narrower (or a CPU that is not x86).
    Narrower,
}

fn vector_tier(flags: &[String]) -> VectorTier {
    let has = |f: &str| flags.iter().any(|x| x == f);
    if ["avx512f", "avx512bw", "avx512dq", "avx512vl"].iter().all(|f| has(f)) {
        VectorTier::Avx512
    } else if has("avx2") && has("fma") {
        VectorTier::Avx2Fma
    } else {
        VectorTier::Narrower
    }
}

/// OpenBLAS's kernel family for a set of x86 feature flags: AVX-512 (F, BW, DQ, VL) →
/// `SkylakeX`; AVX2 with FMA → `Haswell`; else leave OpenBLAS's own choice.
fn openblas_core_for(flags: &[String]) -> Option<&'static str> {
    match vector_tier(flags) {
        VectorTier::Avx512 => Some("SkylakeX"),
        VectorTier::Avx2Fma => Some("Haswell"),
        VectorTier::Narrower => None,
    }
}

/// The CPU as a result depends on it, for the records beside results: its model name and
/// vector tier, and the GEMM backend in use, e.g. `AMD EPYC (AVX-512), blas (libopenblas.so.0,
/// SkylakeX kernels)`. Two machines both called "AMD EPYC", one with AVX-512 and one without,
/// run different kernels, and so does one machine before and after OpenBLAS is installed: each
/// trains to different last digits (measured: `experiments/results/training-equivalence.md`).
pub fn cpu_kind() -> String {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    format!("{}, {}", cpu_kind_of(&text), crate::gemm::numeric_backend())
}

fn cpu_kind_of(cpuinfo: &str) -> String {
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string()))
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "an unknown CPU".into());
    let tier = match vector_tier(&flags_of(cpuinfo)) {
        VectorTier::Avx512 => "AVX-512",
        VectorTier::Avx2Fma => "AVX2+FMA",
        VectorTier::Narrower => "no AVX2",
    };
    format!("{model} ({tier})")
}

#[cfg(test)]
mod tests {
    #[test]
    fn openblas_core_follows_the_cpu_features() {
        let f = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(super::openblas_core_for(&f("sse3 avx avx2 fma avx512f avx512bw avx512dq avx512vl")), Some("SkylakeX"));
        assert_eq!(super::openblas_core_for(&f("sse3 avx avx2 fma avx512f")), Some("Haswell"));
        assert_eq!(super::openblas_core_for(&f("sse3 avx")), None);
    }

    #[test]
    fn cpu_kind_names_the_model_and_its_vector_tier() {
        let info = |flags: &str| format!("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: {flags}\n");
        assert_eq!(super::cpu_kind_of(&info("fpu avx2 fma avx512f avx512bw avx512dq avx512vl")), "AMD EPYC (AVX-512)");
        assert_eq!(super::cpu_kind_of(&info("fpu avx2 fma")), "AMD EPYC (AVX2+FMA)");
        assert_eq!(super::cpu_kind_of(&info("fpu sse3")), "AMD EPYC (no AVX2)");
        assert_eq!(super::cpu_kind_of(""), "an unknown CPU (no AVX2)");
    }
}
