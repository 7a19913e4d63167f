//! PyTorch's default initialisation for layers the papers leave at their defaults
//! (JointVAE, the LeNet classifier): `U(−1/√fan_in, 1/√fan_in)` for weights and biases
//! (what `kaiming_uniform_(a=√5)` reduces to).

use candle_nn::Init;

pub fn torch_default(fan_in: usize) -> Init {
    let b = 1.0 / (fan_in as f64).sqrt();
    Init::Uniform { lo: -b, up: b }
}
