//! Portable, seeded randomness: split selection, batch order, initial weights, transforms
//! and training noise all draw from ChaCha8 streams made here.
//!
//! Splits must select the same images on every machine and with every future version
//! of our dependencies, so the sampling algorithms are spelled out here over the raw
//! output of ChaCha8 (a portable, specified stream cipher) instead of relying on a
//! library's `shuffle`, whose algorithm may change between releases.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A ChaCha8 generator for `seed`, on its own `stream` (independent sequences for
/// different uses of the same seed: one per split, one per epoch, ...).
pub fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Uniform integer in `0..n` (`n > 0`) by rejection sampling (no modulo bias).
pub fn below(rng: &mut impl RngCore, n: u64) -> u64 {
    assert!(n > 0, "below(0)");
    let zone = u64::MAX - (u64::MAX % n) - 1;
    loop {
        let v = rng.next_u64();
        if v <= zone {
            return v % n;
        }
    }
}

/// Uniform float in `[0, 1)` with 53 random bits.
pub fn unit_f64(rng: &mut impl RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Fisher–Yates shuffle (Durstenfeld's in-place form, from the back).
pub fn shuffle<T>(rng: &mut impl RngCore, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let j = below(rng, i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_is_a_permutation_and_deterministic() {
        let mut a: Vec<u32> = (0..1000).collect();
        let mut b = a.clone();
        shuffle(&mut rng_for(7, 3), &mut a);
        shuffle(&mut rng_for(7, 3), &mut b);
        assert_eq!(a, b);
        assert_ne!(a, (0..1000).collect::<Vec<_>>());
        let mut s = a.clone();
        s.sort();
        assert_eq!(s, (0..1000).collect::<Vec<_>>());
        let mut c: Vec<u32> = (0..1000).collect();
        shuffle(&mut rng_for(7, 4), &mut c);
        assert_ne!(a, c, "different streams must give different orders");
    }

    #[test]
    fn below_is_roughly_uniform() {
        let mut rng = rng_for(1, 0);
        let mut hist = [0usize; 6];
        for _ in 0..60_000 {
            hist[below(&mut rng, 6) as usize] += 1;
        }
        for h in hist {
            assert!((9_400..10_600).contains(&h), "{hist:?}");
        }
        let u = unit_f64(&mut rng);
        assert!((0.0..1.0).contains(&u));
    }
}
