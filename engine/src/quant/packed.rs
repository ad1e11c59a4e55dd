//! A matrix's rows re-laid once, at load, for products of one token (decode): groups of
//! `GROUP` rows in the layout their kernel's decode product reads (one row per 32-bit lane).
//! Decode streams every weight once per token, so a row dot's per-block work (scales, a
//! horizontal sum, the float tail) is paid for every row; a group pays it once for sixteen.
//!
//! The layout is one extra copy of the matrices it is built for (Q4_K, Q6_K and Q8_0 on
//! AVX-512; its size is in `bytes`), and its products equal the kernel's row dots bit for bit,
//! so whether a token goes through it changes nothing but speed. Rows past the last whole
//! group, and every product of more than one token (the prefill tiles), read the mapped file
//! as before (`Model::load_unpacked` builds none at all).

use rayon::prelude::*;

use super::kernel::CheckedKernel;
use super::{types, Kernel, QMatrix, QuantError};

/// Rows per group: one per 32-bit lane of an AVX-512 register.
pub(crate) const GROUP: usize = 16;

/// One cache line of packed weights, aligned as a register load wants it (a Vec of them is).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Line(pub [u8; 64]);

/// Packs one group's rows (each the matrix's row bytes) onto the end of a run of lines.
pub(crate) type PackGroup = fn(&[&[u8]; GROUP], &mut Vec<Line>);
/// `groups` groups' lines against one token's activations (quantized as the row dot takes them),
/// into `y[..groups * GROUP]`, row r of group g at `y[g * GROUP + r]`.
pub(crate) type RunGroups = fn(&[Line], usize, &[u8], &mut [f32]);

/// A type's decode layout under one kernel (the dispatch table's entry).
#[derive(Clone, Copy)]
pub(crate) struct Decode {
    pub pack: PackGroup,
    pub run: RunGroups,
}

/// A matrix's whole groups of rows, packed for its kernel's decode product.
pub struct Packed {
    kernel: Kernel,
    groups: usize,
    group_lines: usize,
    lines: Vec<Line>,
    run: RunGroups,
}

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packed")
            .field("kernel", &self.kernel)
            .field("groups", &self.groups)
            .field("bytes", &self.bytes())
            .finish()
    }
}

impl Packed {
    /// `w`'s whole groups packed for `kernel`'s decode product (pass it to
    /// `QMatrix::with_packed`): None where the kernel has no layout for the type, or the matrix
    /// has fewer than `GROUP` rows. A kernel this CPU cannot run is an error.
    pub fn new(w: &QMatrix, kernel: Kernel) -> Result<Option<Packed>, QuantError> {
        Ok(Self::checked(w, kernel.checked()?))
    }

    /// `new` for a kernel checked before (a loading model's).
    pub(crate) fn checked(w: &QMatrix, kernel: CheckedKernel) -> Option<Packed> {
        let kernel = kernel.kernel();
        let decode = types::entry(w.ty)?.decode(kernel)?;
        let groups = w.rows / GROUP;
        if groups == 0 {
            return None;
        }
        let pack = |g: usize, out: &mut Vec<Line>| {
            let rows: [&[u8]; GROUP] = std::array::from_fn(|r| w.row(g * GROUP + r));
            (decode.pack)(&rows, out);
        };
        let mut first = Vec::new();
        pack(0, &mut first);
        let group_lines = first.len();
        let mut lines = vec![Line([0; 64]); groups * group_lines];
        lines[..group_lines].copy_from_slice(&first);
        lines
            .par_chunks_exact_mut(group_lines)
            .enumerate()
            .skip(1)
            .for_each_init(Vec::new, |scratch, (g, out)| {
                scratch.clear();
                pack(g, scratch);
                out.copy_from_slice(scratch);
            });
        Some(Packed {
            kernel,
            groups,
            group_lines,
            lines,
            run: decode.run,
        })
    }

    /// Bytes held: the extra copy this layout costs.
    pub fn bytes(&self) -> usize {
        self.lines.len() * std::mem::size_of::<Line>()
    }

    /// Rows packed: the whole groups.
    pub(crate) fn rows(&self) -> usize {
        self.groups * GROUP
    }

    pub(crate) fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Rows `GROUP * first..GROUP * (first + groups)` against one token, into
    /// `y[..GROUP * groups]`.
    pub(crate) fn run(&self, first: usize, groups: usize, acts: &[u8], y: &mut [f32]) {
        let lines = &self.lines[first * self.group_lines..(first + groups) * self.group_lines];
        (self.run)(lines, groups, acts, &mut y[..groups * GROUP]);
    }
}
