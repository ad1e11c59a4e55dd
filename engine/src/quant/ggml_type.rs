//! The ggml tensor types a GGUF file may name, with their block geometry: the one definition of
//! block sizes and bytes per block (and of `QK_K` and `QK`). The GGUF reader reads this table to
//! size tensors (and re-exports it as `format::gguf::GgmlType`); the quant code builds each block
//! layout on it.
//!
//! The table mirrors `GGML_QUANT_SIZES` of gguf-py 0.19.0 (the version llama.cpp vendors), which is
//! the outside truth for these numbers. Ids 4, 5 (Q4_2, Q4_3), 31-33 (Q4_0_4_4, Q4_0_4_8, Q4_0_8_8)
//! and 36-38 (IQ4_NL_4_4, IQ4_NL_4_8, IQ4_NL_8_8) were removed from ggml; files that use them are
//! rejected with their own error so a user learns the file is stale rather than corrupt.

use std::fmt;

macro_rules! ggml_types {
    ($($variant:ident = $id:literal, $name:literal, $block:expr, $bytes:expr;)*) => {
        /// A ggml tensor type: the id stored in a GGUF tensor info.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(non_camel_case_types)]
        pub enum GgmlType {
            $($variant = $id,)*
        }

        impl GgmlType {
            /// Every type this reader accepts, in id order.
            pub const ALL: &'static [GgmlType] = &[$(GgmlType::$variant,)*];

            fn from_known_id(id: u32) -> Option<Self> {
                match id {
                    $($id => Some(GgmlType::$variant),)*
                    _ => None,
                }
            }

            /// The name ggml and gguf-py print for this type.
            pub fn name(self) -> &'static str {
                match self {
                    $(GgmlType::$variant => $name,)*
                }
            }

            /// Elements per block (1 for plain types).
            pub const fn block_size(self) -> u64 {
                match self {
                    $(GgmlType::$variant => ($block) as u64,)*
                }
            }

            /// Bytes per block.
            pub const fn type_size(self) -> u64 {
                match self {
                    $(GgmlType::$variant => ($bytes) as u64,)*
                }
            }
        }
    };
}

/// Elements per K-quant super-block.
pub const QK_K: usize = 256;
/// Elements per legacy block.
pub const QK: usize = 32;

ggml_types! {
    F32 = 0, "F32", 1, 4;
    F16 = 1, "F16", 1, 2;
    Q4_0 = 2, "Q4_0", QK, 2 + 16;
    Q4_1 = 3, "Q4_1", QK, 2 + 2 + 16;
    Q5_0 = 6, "Q5_0", QK, 2 + 4 + 16;
    Q5_1 = 7, "Q5_1", QK, 2 + 2 + 4 + 16;
    Q8_0 = 8, "Q8_0", QK, 2 + 32;
    Q8_1 = 9, "Q8_1", QK, 2 + 2 + 32;
    Q2_K = 10, "Q2_K", QK_K, 2 + 2 + QK_K / 16 + QK_K / 4;
    Q3_K = 11, "Q3_K", QK_K, 2 + QK_K / 4 + QK_K / 8 + 12;
    Q4_K = 12, "Q4_K", QK_K, 2 + 2 + QK_K / 2 + 12;
    Q5_K = 13, "Q5_K", QK_K, 2 + 2 + QK_K / 2 + QK_K / 8 + 12;
    Q6_K = 14, "Q6_K", QK_K, 2 + QK_K / 2 + QK_K / 4 + QK_K / 16;
    Q8_K = 15, "Q8_K", QK_K, 4 + QK_K + QK_K / 8;
    IQ2_XXS = 16, "IQ2_XXS", QK_K, 2 + QK_K / 4;
    IQ2_XS = 17, "IQ2_XS", QK_K, 2 + QK_K / 4 + QK_K / 32;
    IQ3_XXS = 18, "IQ3_XXS", QK_K, 2 + QK_K / 4 + QK_K / 8;
    IQ1_S = 19, "IQ1_S", QK_K, 2 + QK_K / 8 + QK_K / 16;
    IQ4_NL = 20, "IQ4_NL", 32, 2 + 16;
    IQ3_S = 21, "IQ3_S", QK_K, 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4;
    IQ2_S = 22, "IQ2_S", QK_K, 2 + QK_K / 4 + QK_K / 16;
    IQ4_XS = 23, "IQ4_XS", QK_K, 2 + 2 + QK_K / 2 + QK_K / 64;
    I8 = 24, "I8", 1, 1;
    I16 = 25, "I16", 1, 2;
    I32 = 26, "I32", 1, 4;
    I64 = 27, "I64", 1, 8;
    F64 = 28, "F64", 1, 8;
    IQ1_M = 29, "IQ1_M", QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32;
    BF16 = 30, "BF16", 1, 2;
    TQ1_0 = 34, "TQ1_0", QK_K, 2 + 4 * 13;
    TQ2_0 = 35, "TQ2_0", QK_K, 2 + 64;
    MXFP4 = 39, "MXFP4", 32, 1 + 16;
    NVFP4 = 40, "NVFP4", 64, 4 + 32;
    Q1_0 = 41, "Q1_0", 128, 2 + 16;
}

/// Why a type id is not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeIdError {
    /// The id once named a type that ggml has since removed.
    Removed(&'static str),
    /// The id was never assigned.
    Unknown,
}

impl GgmlType {
    /// The type for a stored id, or why it is not accepted.
    pub fn from_id(id: u32) -> Result<Self, TypeIdError> {
        if let Some(t) = Self::from_known_id(id) {
            return Ok(t);
        }
        Err(match id {
            4 => TypeIdError::Removed("Q4_2"),
            5 => TypeIdError::Removed("Q4_3"),
            31 => TypeIdError::Removed("Q4_0_4_4"),
            32 => TypeIdError::Removed("Q4_0_4_8"),
            33 => TypeIdError::Removed("Q4_0_8_8"),
            36 => TypeIdError::Removed("IQ4_NL_4_4"),
            37 => TypeIdError::Removed("IQ4_NL_4_8"),
            38 => TypeIdError::Removed("IQ4_NL_8_8"),
            _ => TypeIdError::Unknown,
        })
    }

    /// The id stored in a file.
    pub fn id(self) -> u32 {
        self as u32
    }

    /// Looks a type up by its printed name (as `name()` gives it).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| t.name() == name)
    }

    /// Bytes needed for `n_elements`, or `None` when they are not whole blocks or the size overflows.
    pub fn bytes_for(self, n_elements: u64) -> Option<u64> {
        if !n_elements.is_multiple_of(self.block_size()) {
            return None;
        }
        (n_elements / self.block_size()).checked_mul(self.type_size())
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_gaps_are_classified() {
        for id in 0..64u32 {
            match GgmlType::from_id(id) {
                Ok(t) => assert_eq!(t.id(), id),
                Err(TypeIdError::Removed(_)) => {
                    assert!([4, 5, 31, 32, 33, 36, 37, 38].contains(&id), "id {id}")
                }
                Err(TypeIdError::Unknown) => assert!(id > 41, "id {id} should be known"),
            }
        }
        assert_eq!(GgmlType::ALL.len(), 34);
    }

    #[test]
    fn block_geometry_matches_ggml() {
        // Spot values from ggml-common.h's static_asserts, independent of the formulas above.
        let expected = [
            (GgmlType::Q4_0, 32, 18),
            (GgmlType::Q8_0, 32, 34),
            (GgmlType::Q2_K, 256, 84),
            (GgmlType::Q3_K, 256, 110),
            (GgmlType::Q4_K, 256, 144),
            (GgmlType::Q5_K, 256, 176),
            (GgmlType::Q6_K, 256, 210),
            (GgmlType::Q8_K, 256, 292),
            (GgmlType::BF16, 1, 2),
        ];
        for (t, block, bytes) in expected {
            assert_eq!((t.block_size(), t.type_size()), (block, bytes), "{t}");
        }
        assert_eq!(GgmlType::Q4_K.bytes_for(512), Some(288));
        assert_eq!(GgmlType::Q4_K.bytes_for(100), None);
        assert_eq!(GgmlType::F32.bytes_for(u64::MAX), None);
        assert_eq!(GgmlType::from_name("Q6_K"), Some(GgmlType::Q6_K));
    }
}
