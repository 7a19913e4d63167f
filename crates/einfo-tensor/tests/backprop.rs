//! The patched backward pass of candle-core (`vendor/candle-core.patch`: the first gradient
//! reaching a node is stored instead of added into fresh zeros) against hand-derived
//! gradients, on the paths the patch touches: a first gradient, fan-in, the subtracting
//! rules (`Sub`'s right-hand side, `Neg`), a transposed (non-contiguous) gradient, a
//! summed-out dimension, and custom ops.

use candle_core::{Device, Tensor, Var};

fn close(a: &Tensor, b: &[f64], what: &str) {
    let a: Vec<f64> = a.flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(a.len(), b.len(), "{what}: length");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() < 1e-12, "{what}[{i}]: {x} vs {y}");
    }
}

#[test]
fn fan_in_subtraction_and_negation() {
    // f(x, y) = Σ (x·y − y − (−x)) + Σ x²  ⇒  ∂f/∂x = y + 1 + 2x,  ∂f/∂y = x − 1.
    let x = Var::new(&[1.0f64, -2.0, 3.0], &Device::Cpu).unwrap();
    let y = Var::new(&[0.5f64, 4.0, -1.0], &Device::Cpu).unwrap();
    let (xt, yt) = (x.as_tensor(), y.as_tensor());
    let f = ((xt.mul(yt).unwrap().sub(yt).unwrap().sub(&xt.neg().unwrap()).unwrap()).sum_all().unwrap() + xt.sqr().unwrap().sum_all().unwrap()).unwrap();
    let g = f.backward().unwrap();
    close(g.get(xt).unwrap(), &[0.5 + 1.0 + 2.0, 4.0 + 1.0 - 4.0, -1.0 + 1.0 + 6.0], "df/dx");
    close(g.get(yt).unwrap(), &[0.0, -3.0, 2.0], "df/dy");
}

#[test]
fn transposed_gradient_is_stored_contiguous() {
    // f(A) = Σ_ij Aᵀ_ij · B_ij  ⇒  ∂f/∂A = Bᵀ; the gradient reaches A through a transpose.
    let a = Var::new(&[[1.0f64, 2.0, 3.0], [4.0, 5.0, 6.0]], &Device::Cpu).unwrap();
    let b = Tensor::new(&[[1.0f64, 10.0], [100.0, 1000.0], [-1.0, -10.0]], &Device::Cpu).unwrap();
    let f = a.as_tensor().t().unwrap().mul(&b).unwrap().sum_all().unwrap();
    let g = f.backward().unwrap();
    let ga = g.get(a.as_tensor()).unwrap();
    assert!(ga.is_contiguous(), "a stored gradient is contiguous, as zeros + add made it");
    close(ga, &[1.0, 100.0, -1.0, 10.0, 1000.0, -10.0], "df/dA");
}

#[test]
fn summed_dimension_and_custom_op_gradients() {
    // f(x, W, b) = Σ (x·W + b) over rows and columns, through einfo's linear op:
    // ∂f/∂x = 1·Wᵀ (row sums of W per input), ∂f/∂W = xᵀ·1, ∂f/∂b = number of rows.
    let x = Var::new(&[[1.0f64, 2.0], [3.0, 4.0], [5.0, 6.0]], &Device::Cpu).unwrap();
    let w = Var::new(&[[1.0f64, -1.0, 2.0], [0.5, 0.0, 3.0]], &Device::Cpu).unwrap();
    let b = Var::new(&[1.0f64, 2.0, 3.0], &Device::Cpu).unwrap();
    let y = einfo_tensor::fast::linear(x.as_tensor(), w.as_tensor(), Some(b.as_tensor())).unwrap();
    // Two consumers of y (fan-in at y): Σ y + Σ_rows(y) summed again.
    let f = (y.sum_all().unwrap() + y.sum(0).unwrap().sum_all().unwrap()).unwrap();
    let g = f.backward().unwrap();
    close(g.get(x.as_tensor()).unwrap(), &[4.0, 7.0, 4.0, 7.0, 4.0, 7.0], "df/dx");
    close(g.get(w.as_tensor()).unwrap(), &[18.0, 18.0, 18.0, 24.0, 24.0, 24.0], "df/dW");
    close(g.get(b.as_tensor()).unwrap(), &[6.0, 6.0, 6.0], "df/db");
}

/// An op whose backward hands back a gradient of the wrong shape.
struct BadGrad;

impl candle_core::CustomOp1 for BadGrad {
    fn name(&self) -> &'static str {
        "bad-grad"
    }

    fn cpu_fwd(&self, s: &candle_core::CpuStorage, l: &candle_core::Layout) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
        use candle_core::backend::BackendStorage;
        Ok((s.try_clone(l)?, l.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, _grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(Tensor::zeros(2, candle_core::DType::F64, &Device::Cpu)?))
    }
}

#[test]
fn a_gradient_of_the_wrong_shape_is_still_an_error() {
    // Stock candle added it into zeros of the tensor's shape, which failed; storing the first
    // gradient as is must fail the same way rather than keep a (2,) gradient for a (3,) tensor.
    let x = Var::new(&[1.0f64, 2.0, 3.0], &Device::Cpu).unwrap();
    let y = x.as_tensor().apply_op1(BadGrad).unwrap().sum_all().unwrap();
    let err = y.backward().unwrap_err().to_string();
    assert!(err.contains("shape mismatch"), "{err}");
}
