//! # einfo-tensor
//!
//! Layers for the InfoGAN family on any candle device, fast on CPU: convolution and
//! transposed convolution as GEMMs with `im2col` / `col2im` custom ops (each the other's
//! backward), linear layers with `(in, out)` weights, BatchNorm with PyTorch semantics,
//! a leaky ReLU with a fused backward, and batched seeded augmentations.
//!
//! Feature maps are NHWC, `(B, H, W, C)`: a layer's activations are then a
//! `(B·H·W, C)` row matrix and every layer is one GEMM without transposes.
//!
//! ```
//! use candle_core::{DType, Device, Module, Tensor};
//! use candle_nn::{VarBuilder, VarMap};
//! use einfo_tensor::{Conv2d, ConvSpec};
//! # fn main() -> candle_core::Result<()> {
//! let vm = VarMap::new();
//! let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
//! let conv = Conv2d::new(vb.pp("conv"), 1, 64, ConvSpec { k: 4, stride: 2, pad: 1 })?;
//! let x = Tensor::randn(0f32, 1., (8, 28, 28, 1), &Device::Cpu)?;
//! assert_eq!(conv.forward(&x)?.dims(), &[8, 14, 14, 64]);
//! # Ok(()) }
//! ```

pub mod activation;
pub mod augment;
pub mod batch_norm;
pub mod batch_norm_op;
pub mod conv;
pub mod cpu;
pub mod fast;
pub mod gemm;
pub mod geom;
pub mod im2col;
pub mod init;
pub mod linear;
pub mod precise_bn;
pub mod profile;
pub mod rng;

pub use activation::leaky_relu;
pub use augment::{warp, AffineParams, AugmentConfig, Augmenter};
pub use batch_norm::{is_buffer, BatchNorm};
pub use conv::{conv2d_reference, conv_transpose2d_reference, Conv2d, ConvTranspose2d};
pub use cpu::{cpu_kind, tune_threads};
pub use geom::{ConvGeom, ConvSpec};
pub use init::{seeded_var_builder, SeededVarMap};
pub use linear::Linear;
pub use precise_bn::SavedStats;

/// Keep large freed buffers in the process heap instead of returning them to the kernel.
///
/// Training allocates and frees the same large buffers every step; glibc would hand each
/// back (mmap above 128 KiB) and take fresh zeroed pages the next step. Measured on a
/// 2-core machine this makes a whole training step about 1.5× faster. Call it once, early,
/// from a binary (the `einfo` CLI and the benches do). No-op off Linux/glibc.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator thresholds.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

/// Does a tensor on `device` take einfo's fast CPU kernels (im2col / BLAS convolutions,
/// the fused BatchNorm and leaky ReLU ops, the fused Adam)? Everywhere but on the CPU the
/// layers use candle's own ops — the path a GPU runs. `EINFO_GENERIC_OPS=1` sends the CPU
/// down that path too (read once), so the GPU's code can be tested against the fast path
/// on a machine without one.
pub fn fast_cpu(device: &candle_core::Device) -> bool {
    static GENERIC: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    device.is_cpu() && !*GENERIC.get_or_init(|| std::env::var("EINFO_GENERIC_OPS").is_ok_and(|v| v == "1"))
}
