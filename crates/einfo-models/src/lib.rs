//! # einfo-models
//!
//! The networks of einfo, built from `VarBuilder`s on the fast NHWC layers of
//! `einfo-tensor`: the InfoGAN generator, shared trunk, D and Q heads (with their two
//! parameter groups), JointVAE, and the LeNet evaluation classifier. Sizes come from a
//! config ([`NetConfig`], [`JointVaeNet`]) so the same code serves MNIST,
//! Fashion-MNIST and a user's own 28×28 or 32×32 data. Images are NHWC `(B, H, W, C)`;
//! [`to_nhwc`] converts the data loader's NCHW batches.

pub mod classifier;
pub mod config;
pub mod generator;
pub mod heads;
pub mod infogan;
pub mod init;
pub mod jointvae;
pub mod layers;
pub mod trunk;

pub use classifier::{max_pool2, LeNet};
pub use config::NetConfig;
pub use generator::Generator;
pub use heads::{DHead, QHead, QOutput};
pub use infogan::{count_params, named_trainable, InfoGan};
pub use jointvae::{pad_to, Encoded, JointVae, JointVaeNet};
pub use layers::to_nhwc;
pub use trunk::Trunk;
