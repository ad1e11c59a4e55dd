//! A row-major matrix of any dequantizable type, borrowing its bytes: the weights `matmul` reads.
//! (`QMatrix::from_gguf`, which reads one from a GGUF tensor, lives with the GGUF reader so that
//! quant does not depend on the file format.)

use super::{GgmlType, Packed, QuantError};

/// A row-major matrix of any dequantizable type, borrowing its bytes.
#[derive(Clone, Copy, Debug)]
pub struct QMatrix<'a> {
    pub ty: GgmlType,
    pub rows: usize,
    pub cols: usize,
    data: &'a [u8],
    row_bytes: usize,
    /// The same rows packed at load for one-token products, where the model has them.
    packed: Option<&'a Packed>,
}

impl<'a> QMatrix<'a> {
    pub fn new(ty: GgmlType, rows: usize, cols: usize, data: &'a [u8]) -> Result<Self, QuantError> {
        let shape = |detail: String| QuantError::Shape {
            ty,
            rows,
            cols,
            detail,
        };
        if !super::can_dequantize(ty) {
            return Err(QuantError::Unsupported { ty, op: "matvec" });
        }
        if !(cols as u64).is_multiple_of(ty.block_size()) {
            return Err(shape(format!(
                "cols must be a multiple of the block size {}",
                ty.block_size()
            )));
        }
        let row_bytes = cols / ty.block_size() as usize * ty.type_size() as usize;
        if row_bytes.checked_mul(rows) != Some(data.len()) {
            return Err(shape(format!(
                "{} bytes given, {row_bytes} per row",
                data.len()
            )));
        }
        Ok(QMatrix {
            ty,
            rows,
            cols,
            data,
            row_bytes,
            packed: None,
        })
    }

    /// A matrix whose shape `new` accepted once already (a model's weights, validated at load):
    /// no second check on every product.
    pub(crate) fn validated(ty: GgmlType, rows: usize, cols: usize, data: &'a [u8]) -> Self {
        let row_bytes = cols / ty.block_size() as usize * ty.type_size() as usize;
        debug_assert_eq!(
            Self::new(ty, rows, cols, data).map(|m| m.row_bytes),
            Ok(row_bytes)
        );
        QMatrix {
            ty,
            rows,
            cols,
            data,
            row_bytes,
            packed: None,
        }
    }

    /// The matrix with its rows also packed for decode (`Packed::new` of this matrix): its
    /// one-token products on that kernel read them instead.
    pub fn with_packed(self, packed: Option<&'a Packed>) -> Self {
        debug_assert!(packed.is_none_or(|p| p.rows() <= self.rows));
        QMatrix { packed, ..self }
    }

    pub(crate) fn packed(&self) -> Option<&'a Packed> {
        self.packed
    }

    pub fn row(&self, r: usize) -> &'a [u8] {
        &self.data[r * self.row_bytes..(r + 1) * self.row_bytes]
    }

    /// Bytes per row: the matrix's blocks per row times its block size.
    pub fn row_bytes(&self) -> usize {
        self.row_bytes
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.data
    }
}
