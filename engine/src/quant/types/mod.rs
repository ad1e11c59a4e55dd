//! The block types, one file each (as candle's k_quants): a type's byte layout, dequantization
//! (bit-exact with gguf-py), quantization and scalar row dot live together behind [`BlockType`].
//! The scalar dot is the reference the SIMD rows (`quant/avx2.rs`, `quant/avx512.rs`) are tested
//! against. [`entry`] is the one table that dispatches per type and per instruction set.
//!
//! Shared pieces: `bits.rs` reads and writes packed fields, `fit.rs` holds ggml's scale fitting.
//! Where one type extends another, the extension reuses the base's code from the base's file
//! (Q5_K from `q4_k.rs`, Q5_1 from `q5_0.rs`, Q3_K's packing from `q2_k.rs`).

// Block type names follow ggml's type names (BlockQ4_K for Q4_K), underscore included.
#![allow(non_camel_case_types)]

use super::gemm::Gemm;
use super::packed::Decode;
use super::{GgmlType, Kernel};

/// A block type's byte layout (ggml-common.h) as `pub mod layout`: `SIZE` and one byte range per
/// field, the one place its field offsets are defined, checked at compile time against the bytes
/// per block in the ggml type table.
macro_rules! layout {
    ($ty:ident, { $($field:ident: $value:expr,)* } ends $end:expr) => {
        /// Where each field of one block lies, as ggml-common.h lays the block out.
        #[allow(dead_code)]
        pub mod layout {
            use std::ops::Range;
            pub const SIZE: usize = $end;
            $(pub const $field: Range<usize> = $value;)*
            const _: () = assert!(SIZE == $crate::quant::GgmlType::$ty.type_size() as usize);
        }
    };
}

pub(crate) mod bits;
mod fit;
pub(crate) mod float;
pub(crate) mod q2_k;
pub(crate) mod q3_k;
pub(crate) mod q4_0;
pub(crate) mod q4_1;
pub(crate) mod q4_k;
pub(crate) mod q5_0;
pub(crate) mod q5_1;
pub(crate) mod q5_k;
pub(crate) mod q6_k;
pub(crate) mod q8_0;
pub(crate) mod q8_1;
pub(crate) mod q8_k;

pub use fit::nearest_int;

/// One block type: where it sits in the ggml type table, how one block decodes and encodes, and
/// how its rows meet activations in the portable reference.
pub(crate) trait BlockType {
    /// The ggml type this is.
    const TYPE: GgmlType;
    /// Elements per block, from the type table.
    const BLOCK_ELEMS: usize = Self::TYPE.block_size() as usize;
    /// Bytes per block, from the type table (each `layout` is checked against it).
    const BLOCK_BYTES: usize = Self::TYPE.type_size() as usize;
    /// The format activations are quantized to, once per call, before a `Row::Quant` dot (ggml's
    /// vec_dot_type); F32 where the row dot takes the activations as they are.
    const VEC_DOT_TYPE: GgmlType = GgmlType::F32;
    /// The portable row dot. `None` where ggml has no direct kernel for the type: its rows are
    /// dequantized, then dotted as f32.
    const VEC_DOT: Option<Row> = None;

    /// Decodes one block (`BLOCK_BYTES` bytes) into its `BLOCK_ELEMS` elements.
    fn dequantize(block: &[u8], out: &mut [f32]);

    /// Encodes `BLOCK_ELEMS` values into one block of `BLOCK_BYTES` bytes.
    fn quantize(x: &[f32], block: &mut [u8]);
}

/// A row dot: one weight row against one activation vector.
#[derive(Clone, Copy)]
pub(crate) enum Row {
    /// Weights in a float format against f32 activations.
    Float(fn(&[u8], &[f32]) -> f32),
    /// Weights against activations quantized to the type's `VEC_DOT_TYPE`, with integer sums
    /// per block as ggml's `vec_dot_*_q8_*` take them.
    Quant(fn(&[u8], &[u8]) -> f32),
}

/// One row of the dispatch table: a block type's functions and its row dot per kernel.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    pub ty: GgmlType,
    pub block_elems: usize,
    pub block_bytes: usize,
    pub vec_dot_type: GgmlType,
    pub dequantize: fn(&[u8], &mut [f32]),
    pub quantize: fn(&[f32], &mut [u8]),
    /// Row dots indexed by `Kernel as usize` (scalar, AVX2, AVX-512).
    rows: [Option<Row>; Kernel::ALL.len()],
    /// Tiled products for several tokens (`gemm.rs`), indexed the same way.
    tiles: [Option<Gemm>; Kernel::ALL.len()],
    decodes: [Option<Decode>; Kernel::ALL.len()],
}

impl Entry {
    /// `B`'s entry, with its SIMD rows for AVX2 and AVX-512 (`None` where that instruction set
    /// has none).
    fn of<B: BlockType>(avx2: Option<Row>, avx512: Option<Row>) -> Self {
        Entry {
            ty: B::TYPE,
            block_elems: B::BLOCK_ELEMS,
            block_bytes: B::BLOCK_BYTES,
            vec_dot_type: B::VEC_DOT_TYPE,
            dequantize: B::dequantize,
            quantize: B::quantize,
            rows: [B::VEC_DOT, avx2, avx512],
            tiles: [None; Kernel::ALL.len()],
            decodes: [None; Kernel::ALL.len()],
        }
    }

    /// The entry with tiled products for AVX2 and AVX-512 (`None` where that instruction set
    /// has none for the type).
    fn tiled(mut self, avx2: Option<Gemm>, avx512: Option<Gemm>) -> Self {
        self.tiles[Kernel::Avx2 as usize] = avx2;
        self.tiles[Kernel::Avx512 as usize] = avx512;
        self
    }

    /// The tiled product `kernel` runs for several tokens: only its own, never another
    /// kernel's, since a tile equals its own instruction set's row dot bit for bit and no
    /// other's. `None`: each (row, token) pair runs the row dot.
    /// A decode layout packed at load (`packed.rs`), for AVX-512 only: its one-token product.
    fn decoded(mut self, avx512: Option<Decode>) -> Self {
        self.decodes[Kernel::Avx512 as usize] = avx512;
        self
    }

    /// The decode layout of exactly this kernel: a layout is packed for one.
    pub fn decode(&self, kernel: Kernel) -> Option<Decode> {
        self.decodes[kernel as usize]
    }

    pub fn tile(&self, kernel: Kernel) -> Option<Gemm> {
        self.tiles[kernel as usize]
    }

    /// The row dot `kernel` runs: its own, else the next narrower kernel's (AVX-512 has no float
    /// rows; those run AVX2's). `None`: rows are dequantized, then dotted as f32.
    pub fn row(&self, kernel: Kernel) -> Option<Row> {
        self.rows[..=kernel as usize].iter().rev().find_map(|r| *r)
    }
}

/// A SIMD row as a safe `Row`. SAFETY of the `unsafe` call: a kernel's rows are only run after
/// `Kernel::check` confirmed the CPU has every feature the kernel needs (AVX2, FMA and F16C for
/// AVX2; those and AVX-512 F/BW/VL/VNNI for AVX-512).
#[cfg(target_arch = "x86_64")]
macro_rules! simd {
    ($kind:ident, $isa:ident::$f:ident) => {
        Some(Row::$kind(|w, a| unsafe { super::$isa::$f(w, a) }))
    };
}

/// A tiled product as a safe `Gemm`; SAFETY as for `simd!`: a kernel's tiles only run after
/// `Kernel::check` confirmed its features.
#[cfg(target_arch = "x86_64")]
macro_rules! tiles {
    ($isa:ident::$f:ident) => {
        Some(|w, first, acts, n, out| unsafe { super::$isa::$f(w, first, acts, n, out) })
    };
    // A float tile: the one body for every float format, told which.
    ($isa:ident::$f:ident, $kind:ident) => {
        Some(|w, first, acts, n, out| unsafe {
            super::$isa::$f(super::avx2::FloatKind::$kind, w, first, acts, n, out)
        })
    };
}

/// Without x86-64 there are no tiles.
/// A decode layout as a safe `Decode`; SAFETY as for `simd!`: a layout is only packed for a
/// kernel checked to run here (`Packed::new` takes a `CheckedKernel`), and only run under it.
#[cfg(target_arch = "x86_64")]
macro_rules! decode {
    ($pack:ident, $run:ident) => {
        Some(Decode {
            pack: |rows, out| unsafe { super::avx512_decode::$pack(rows, out) },
            run: |lines, groups, acts, y| unsafe {
                super::avx512_decode::$run(lines, groups, acts, y)
            },
        })
    };
}

#[cfg(not(target_arch = "x86_64"))]
macro_rules! decode {
    ($($any:tt)*) => {
        None
    };
}

#[cfg(not(target_arch = "x86_64"))]
macro_rules! tiles {
    ($($any:tt)*) => {
        None
    };
}

/// Without x86-64 there are no SIMD rows.
#[cfg(not(target_arch = "x86_64"))]
macro_rules! simd {
    ($($any:tt)*) => {
        None
    };
}

/// The dispatch table: every block type the engine decodes, with its SIMD rows; `None` for
/// types it does not (the IQ formats, integer tensors, ...).
pub(crate) fn entry(ty: GgmlType) -> Option<Entry> {
    use GgmlType as T;
    let e = match ty {
        T::F32 => Entry::of::<float::BlockF32>(simd!(Float, avx2::f32_row), None).tiled(
            tiles!(avx2_tiles::float, F32),
            tiles!(avx512_tiles::float, F32),
        ),
        T::F16 => Entry::of::<float::BlockF16>(simd!(Float, avx2::f16_row), None).tiled(
            tiles!(avx2_tiles::float, F16),
            tiles!(avx512_tiles::float, F16),
        ),
        T::BF16 => Entry::of::<float::BlockBF16>(simd!(Float, avx2::bf16_row), None).tiled(
            tiles!(avx2_tiles::float, Bf16),
            tiles!(avx512_tiles::float, Bf16),
        ),
        T::Q4_0 => Entry::of::<q4_0::BlockQ4_0>(
            simd!(Quant, avx2::q4_0_row),
            simd!(Quant, avx512::q4_0_row),
        )
        .tiled(tiles!(avx2_tiles::q4_0), tiles!(avx512_tiles::q4_0)),
        T::Q4_1 => Entry::of::<q4_1::BlockQ4_1>(
            simd!(Quant, avx2::q4_1_row),
            simd!(Quant, avx512::q4_1_row),
        )
        .tiled(tiles!(avx2_tiles::q4_1), tiles!(avx512_tiles::q4_1)),
        T::Q5_0 => Entry::of::<q5_0::BlockQ5_0>(
            simd!(Quant, avx2::q5_0_row),
            simd!(Quant, avx512::q5_0_row),
        )
        .tiled(tiles!(avx2_tiles::q5_0), tiles!(avx512_tiles::q5_0)),
        T::Q5_1 => Entry::of::<q5_1::BlockQ5_1>(
            simd!(Quant, avx2::q5_1_row),
            simd!(Quant, avx512::q5_1_row),
        )
        .tiled(tiles!(avx2_tiles::q5_1), tiles!(avx512_tiles::q5_1)),
        T::Q8_0 => Entry::of::<q8_0::BlockQ8_0>(
            simd!(Quant, avx2::q8_0_row),
            simd!(Quant, avx512::q8_0_row),
        )
        .tiled(tiles!(avx2_tiles::q8_0), tiles!(avx512_tiles::q8_0))
        .decoded(decode!(q8_0_pack_group, q8_0_run)),
        T::Q8_1 => Entry::of::<q8_1::BlockQ8_1>(None, None),
        T::Q2_K => Entry::of::<q2_k::BlockQ2_K>(None, None),
        T::Q3_K => Entry::of::<q3_k::BlockQ3_K>(None, None),
        T::Q4_K => Entry::of::<q4_k::BlockQ4_K>(
            simd!(Quant, avx2::q4_k_row),
            simd!(Quant, avx512::q4_k_row),
        )
        .tiled(tiles!(avx2_tiles::q4_k), tiles!(avx512_tiles::q4_k))
        .decoded(decode!(q4_k_pack_group, q4_k_run)),
        T::Q5_K => Entry::of::<q5_k::BlockQ5_K>(
            simd!(Quant, avx2::q5_k_row),
            simd!(Quant, avx512::q5_k_row),
        )
        .tiled(tiles!(avx2_tiles::q5_k), tiles!(avx512_tiles::q5_k)),
        T::Q6_K => Entry::of::<q6_k::BlockQ6_K>(
            simd!(Quant, avx2::q6_k_row),
            simd!(Quant, avx512::q6_k_row),
        )
        .tiled(tiles!(avx2_tiles::q6_k), tiles!(avx512_tiles::q6_k))
        .decoded(decode!(q6_k_pack_group, q6_k_run)),
        T::Q8_K => Entry::of::<q8_k::BlockQ8_K>(None, None),
        _ => return None,
    };
    debug_assert_eq!(e.ty, ty, "each type's entry is filed under its own arm");
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row of the table is the type it is filed under, with the type table's geometry, and
    /// its rows agree on what they take: float rows the activations as they are, integer rows
    /// activations quantized to a block format; every kernel has a row where the reference has.
    #[test]
    fn table_rows_match_their_types() {
        for &ty in GgmlType::ALL {
            let Some(e) = entry(ty) else { continue };
            assert_eq!(e.ty, ty);
            assert_eq!(e.block_elems as u64, ty.block_size(), "{ty}");
            assert_eq!(e.block_bytes as u64, ty.type_size(), "{ty}");
            for kernel in Kernel::ALL {
                match (e.row(Kernel::Scalar), e.row(kernel)) {
                    (None, None) => {}
                    (Some(Row::Float(_)), Some(Row::Float(_))) => {
                        assert_eq!(e.vec_dot_type, GgmlType::F32, "{ty}")
                    }
                    (Some(Row::Quant(_)), Some(Row::Quant(_))) => {
                        assert_ne!(e.vec_dot_type, GgmlType::F32, "{ty}")
                    }
                    _ => panic!("{ty}: {kernel:?} dots rows differently from the reference"),
                }
            }
        }
    }
}
