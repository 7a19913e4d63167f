//! einfo's own f32 GEMM: the blocked loop of BLIS (Goto's algorithm) around the register
//! tile of [`super::kernel`]. `op(B)` is cut into `KC × NC` blocks, each packed once into
//! `NR`-wide panels that stay in L3 / L1; `op(A)` into `MC × KC` blocks packed into
//! `MR`-tall panels that stay in L2. Threads (rayon) share a packed B block and take
//! the `MC`-row blocks of A, or, when A has too few of them (the trunk's 64-row products),
//! the `NR` panels of B.

use rayon::prelude::*;

use super::kernel::{self, Dest, MR, NR};

/// Depth of a block: a B panel (`KC × NR`, 16 KiB) stays in L1.
const KC: usize = 256;
/// Rows of an A block: a packed block (`MC × KC`, 144 KiB) stays in L2.
const MC: usize = 144;
/// B panels packed together in the few-rows schedule (64 columns: each row of a
/// non-transposed B read as 256 contiguous bytes rather than 64).
const GROUP: usize = 4;
/// Columns of a B block: a packed block (`KC × NC`, 4 MiB) stays in L3.
const NC: usize = 4096;

/// A row-major operand as the product sees it, `op(X)`: `rows × cols`, transposed or not.
#[derive(Clone, Copy)]
pub struct Operand<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub transposed: bool,
}

#[cfg(test)]
impl Operand<'_> {
    /// `op(X)[i, j]`.
    fn at(&self, i: usize, j: usize) -> f32 {
        if self.transposed {
            self.data[j * self.rows + i]
        } else {
            self.data[i * self.cols + j]
        }
    }
}

/// A raw pointer to `C` that threads may share: each writes disjoint tiles.
#[derive(Clone, Copy)]
struct SharedC(*mut f32);
// SAFETY: every task writes a disjoint set of C's elements (its own rows or columns).
unsafe impl Send for SharedC {}
unsafe impl Sync for SharedC {}

/// `C (m×n) (+)= op(A) · op(B)`, row-major, on `threads` rayon threads. The caller
/// checked the buffer sizes and that the CPU runs the tile ([`kernel::supported`]).
pub fn sgemm(a: Operand<'_>, b: Operand<'_>, c: &mut [f32], accumulate: bool, threads: usize) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    debug_assert!(b.rows == k && c.len() >= m * n && kernel::supported());
    let c = SharedC(c.as_mut_ptr());
    let threads = threads.max(1);
    if m.div_ceil(MC) >= 2 * threads {
        blocked(&a, &b, c, accumulate, threads);
    } else {
        skinny(&a, &b, c, accumulate, threads);
    }
}

/// Many rows: each `KC × NC` block of B packed once and shared, the threads taking the
/// `MC`-row blocks of A (each packed by the thread that runs it).
fn blocked(a: &Operand<'_>, b: &Operand<'_>, c: SharedC, accumulate: bool, threads: usize) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let mut bpack = Vec::new();
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            let panels = nc.div_ceil(NR);
            bpack.clear();
            bpack.resize(panels * NR * kc, 0.0);
            let pack = |(jp, dst): (usize, &mut [f32])| pack_b_panel(b, pc, kc, jc + jp * NR, NR.min(nc - jp * NR), dst);
            if threads > 1 {
                bpack.par_chunks_mut(NR * kc).enumerate().for_each(pack);
            } else {
                bpack.chunks_mut(NR * kc).enumerate().for_each(pack);
            }
            let acc = accumulate || pc > 0;
            let rows = |ap: &mut Vec<f32>, ib: usize| {
                let (ic, mc) = (ib * MC, MC.min(m - ib * MC));
                pack_a(a, ic, mc, pc, kc, ap);
                for jp in 0..panels {
                    let (j0, cols) = (jc + jp * NR, NR.min(nc - jp * NR));
                    tiles(ap, &bpack[jp * NR * kc..(jp + 1) * NR * kc], kc, c, Window { row: ic, rows: mc, col: j0, cols, ldc: n, accumulate: acc });
                }
            };
            if threads > 1 {
                (0..m.div_ceil(MC)).into_par_iter().for_each_init(Vec::new, rows);
            } else {
                let mut ap = Vec::new();
                (0..m.div_ceil(MC)).for_each(|ib| rows(&mut ap, ib));
            }
        }
    }
}

/// Few rows (the trunk's 64-row products): all of A's rows packed once per `KC` step,
/// the threads taking B's `NR` panels, each packed just before its tiles run, so a
/// panel goes from memory to L1 and is used there instead of a whole block making a
/// round trip through memory.
fn skinny(a: &Operand<'_>, b: &Operand<'_>, c: SharedC, accumulate: bool, threads: usize) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let mut ap = Vec::new();
    let groups = n.div_ceil(GROUP * NR);
    for pc in (0..k).step_by(KC) {
        let kc = KC.min(k - pc);
        pack_a(a, 0, m, pc, kc, &mut ap);
        let ap = &ap;
        let run = |bp: &mut Vec<f32>, g: usize| {
            let (j0, cols) = (g * GROUP * NR, (GROUP * NR).min(n - g * GROUP * NR));
            bp.resize(GROUP * NR * kc, 0.0);
            pack_b_panels(b, pc, kc, j0, cols, bp);
            for q in 0..cols.div_ceil(NR) {
                let w = Window { row: 0, rows: m, col: j0 + q * NR, cols: NR.min(cols - q * NR), ldc: n, accumulate: accumulate || pc > 0 };
                tiles(ap, &bp[q * NR * kc..(q + 1) * NR * kc], kc, c, w);
            }
        };
        if threads > 1 {
            // Groups handed out one by one: a thread slowed by its neighbour takes fewer.
            (0..groups).into_par_iter().for_each_init(Vec::new, run);
        } else {
            let mut bp = Vec::new();
            (0..groups).for_each(|g| run(&mut bp, g));
        }
    }
}

/// The part of C one B panel's tiles write: `rows × cols` from (`row`, `col`).
#[derive(Clone, Copy)]
struct Window {
    row: usize,
    rows: usize,
    col: usize,
    cols: usize,
    ldc: usize,
    accumulate: bool,
}

/// The tiles of one packed B panel (`bp`, `kc × NR`) against the packed A rows `ap`.
fn tiles(ap: &[f32], bp: &[f32], kc: usize, c: SharedC, w: Window) {
    debug_assert!(ap.len() >= w.rows.div_ceil(MR) * MR * kc && bp.len() >= NR * kc);
    for ip in 0..w.rows.div_ceil(MR) {
        let (i0, rows) = (ip * MR, MR.min(w.rows - ip * MR));
        // SAFETY: the panels hold kc·MR and kc·NR values (packing pads them); the
        // tile's rows × cols lie inside C (row-major, ldc wide) and belong to this task
        // alone (tasks split C by rows or by columns); the caller checked the CPU.
        unsafe {
            let dest = Dest { c: c.0.add((w.row + i0) * w.ldc + w.col), ldc: w.ldc, rows, cols: w.cols, accumulate: w.accumulate };
            kernel::tile(kc, ap[ip * MR * kc..].as_ptr(), bp.as_ptr(), &dest);
        }
    }
}

/// Packs `op(A)[ic..ic+mc, pc..pc+kc]` as `MR`-row panels, each `kc` steps of `MR`
/// values, the last panel padded with zeros.
fn pack_a(a: &Operand<'_>, ic: usize, mc: usize, pc: usize, kc: usize, out: &mut Vec<f32>) {
    let panels = mc.div_ceil(MR);
    out.resize(panels * MR * kc, 0.0);
    for (ip, dst) in out.chunks_exact_mut(MR * kc).enumerate() {
        let rows = MR.min(mc - ip * MR);
        let i0 = ic + ip * MR;
        if rows < MR {
            dst.fill(0.0);
        }
        if a.transposed && rows == MR {
            // op(A)[i, p] = A[p, i]: each step's MR values are contiguous (a fixed-size
            // copy: no call to memcpy per step).
            for (p, d) in dst.chunks_exact_mut(MR).enumerate() {
                let src: &[f32; MR] = a.data[(pc + p) * a.rows + i0..][..MR].try_into().expect("MR values");
                d.copy_from_slice(src);
            }
        } else if a.transposed {
            for (p, d) in dst.chunks_exact_mut(MR).enumerate() {
                d[..rows].copy_from_slice(&a.data[(pc + p) * a.rows + i0..][..rows]);
            }
        } else if rows == MR {
            // Six rows read side by side, each step's six values written together.
            let row = |r: usize| &a.data[(i0 + r) * a.cols + pc..][..kc];
            let (r0, r1, r2, r3, r4, r5) = (row(0), row(1), row(2), row(3), row(4), row(5));
            for (p, d) in dst.chunks_exact_mut(MR).enumerate() {
                d.copy_from_slice(&[r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]]);
            }
        } else {
            for r in 0..rows {
                for (p, &v) in a.data[(i0 + r) * a.cols + pc..][..kc].iter().enumerate() {
                    dst[p * MR + r] = v;
                }
            }
        }
    }
}

/// Packs `op(B)[pc..pc+kc, j0..j0+cols]` as consecutive `NR`-column panels (as many as
/// `cols` needs), reading each row of a non-transposed B once for all of them.
fn pack_b_panels(b: &Operand<'_>, pc: usize, kc: usize, j0: usize, cols: usize, dst: &mut [f32]) {
    let panels = cols.div_ceil(NR);
    if b.transposed || panels == 1 || cols % NR != 0 {
        for (q, d) in dst.chunks_exact_mut(NR * kc).take(panels).enumerate() {
            pack_b_panel(b, pc, kc, j0 + q * NR, NR.min(cols - q * NR), d);
        }
        return;
    }
    for p in 0..kc {
        let src = &b.data[(pc + p) * b.cols + j0..][..cols];
        for (q, s) in src.chunks_exact(NR).enumerate() {
            dst[q * NR * kc + p * NR..][..NR].copy_from_slice(s);
        }
    }
}

/// Packs `op(B)[pc..pc+kc, j0..j0+cols]` (`cols ≤ NR`) into `dst`: `kc` steps of `NR`
/// values, padded with zeros past `cols`.
fn pack_b_panel(b: &Operand<'_>, pc: usize, kc: usize, j0: usize, cols: usize, dst: &mut [f32]) {
    if cols < NR {
        dst.fill(0.0);
    }
    if b.transposed && cols == NR {
        // op(B)[p, j] = B[j, p]: sixteen rows of B read side by side, each step's
        // sixteen values written together.
        let srcs: [&[f32]; NR] = std::array::from_fn(|j| &b.data[(j0 + j) * b.rows + pc..][..kc]);
        for (p, d) in dst.chunks_exact_mut(NR).enumerate() {
            for (v, src) in d.iter_mut().zip(&srcs) {
                *v = src[p];
            }
        }
    } else if b.transposed {
        for j in 0..cols {
            for (p, &v) in b.data[(j0 + j) * b.rows + pc..][..kc].iter().enumerate() {
                dst[p * NR + j] = v;
            }
        }
    } else if cols == NR {
        for (p, d) in dst.chunks_exact_mut(NR).enumerate().take(kc) {
            let src: &[f32; NR] = b.data[(pc + p) * b.cols + j0..][..NR].try_into().expect("NR values");
            d.copy_from_slice(src);
        }
    } else {
        for p in 0..kc {
            let src = &b.data[(pc + p) * b.cols + j0..][..cols];
            dst[p * NR..p * NR + cols].copy_from_slice(src);
        }
    }
}

/// `op(A) · op(B)` by definition, for the tests.
#[cfg(test)]
fn reference(a: &Operand<'_>, b: &Operand<'_>) -> Vec<f64> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|p| a.at(i, p) as f64 * b.at(p, j) as f64).sum();
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, salt: usize) -> Vec<f32> {
        (0..len).map(|i| (((i * 37 + salt * 11) % 23) as f32 - 11.0) / 8.0).collect()
    }

    /// Every transpose combination, on shapes that leave partial tiles, partial blocks,
    /// several K, M and N blocks, through both schedules (`blocked`: m = 150, 300 on one
    /// thread, 900 on three; `skinny`: the rest), overwriting and accumulating.
    #[test]
    fn blocked_product_matches_the_definition_on_ragged_shapes() {
        if !kernel::supported() {
            eprintln!("skipped: no AVX2 + FMA on this CPU");
            return;
        }
        for (m, n, k) in [(1, 1, 1), (7, 17, 5), (150, 33, 300), (64, 40, 600), (300, 20, 257), (900, 19, 30), (13, 4100, 3)] {
            let (av, bv) = (values(m * k, 1), values(k * n, 2));
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = Operand { data: &av, rows: m, cols: k, transposed: ta };
                let b = Operand { data: &bv, rows: k, cols: n, transposed: tb };
                let want = reference(&a, &b);
                for threads in [1, 3] {
                    let mut c = vec![f32::NAN; m * n];
                    sgemm(a, b, &mut c, false, threads);
                    let close = |got: &[f32], scale: f64| got.iter().zip(&want).all(|(g, w)| (*g as f64 - scale * w).abs() <= 1e-4 * (1.0 + w.abs()));
                    assert!(close(&c, 1.0), "m={m} n={n} k={k} ta={ta} tb={tb} threads={threads}");
                    sgemm(a, b, &mut c, true, threads);
                    assert!(close(&c, 2.0), "accumulate: m={m} n={n} k={k} ta={ta} tb={tb} threads={threads}");
                }
            }
        }
    }

    /// The AVX2 tile and the portable one agree exactly: both are chains of fused
    /// multiply-adds over the same steps, per output.
    #[test]
    fn avx2_tile_equals_the_portable_tile_bit_for_bit() {
        if !kernel::supported() {
            return;
        }
        let kc = 37;
        let (ap, bp) = (values(kc * MR, 3), values(kc * NR, 4));
        for (rows, cols, accumulate) in [(MR, NR, false), (MR, NR, true), (5, 9, true), (1, 16, false)] {
            let (mut c1, mut c2) = (values(MR * 20, 5), values(MR * 20, 5));
            // SAFETY: the panels hold kc·MR and kc·NR values; C has MR rows of 20 ≥ NR.
            unsafe {
                kernel::tile(kc, ap.as_ptr(), bp.as_ptr(), &Dest { c: c1.as_mut_ptr(), ldc: 20, rows, cols, accumulate });
                kernel::tile_portable(kc, ap.as_ptr(), bp.as_ptr(), &Dest { c: c2.as_mut_ptr(), ldc: 20, rows, cols, accumulate });
            }
            assert_eq!(c1, c2, "rows={rows} cols={cols} accumulate={accumulate}");
        }
    }
}
