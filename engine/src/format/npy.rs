//! Writing little-endian f32 arrays as `.npy` (format version 1.0), byte-identical to `np.save`.

use std::io::{self, Write};

/// numpy reserves room in the header so the first axis can grow to this many digits in place.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;
/// numpy pads the whole header to a multiple of this.
const ARRAY_ALIGN: usize = 64;

/// The `.npy` header for a C-order float32 array of `shape`, as numpy 1.x and 2.x write it.
pub fn header_f32(shape: &[usize]) -> Vec<u8> {
    let shape_text = match shape {
        [] => "()".to_owned(),
        [n] => format!("({n},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    if let Some(first) = shape.first() {
        dict.push_str(&" ".repeat(GROWTH_AXIS_MAX_DIGITS.saturating_sub(first.to_string().len())));
    }
    // magic (6) + version (2) + header length (2) + dict + newline, padded to ARRAY_ALIGN.
    let unpadded = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat((ARRAY_ALIGN - unpadded % ARRAY_ALIGN) % ARRAY_ALIGN));
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Writes `values` with `shape` (whose product must equal `values.len()`) as a `.npy` file.
pub fn write_f32(w: impl Write, shape: &[usize], values: &[f32]) -> io::Result<()> {
    if shape.iter().product::<usize>() != values.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("shape {shape:?} does not hold {} values", values.len()),
        ));
    }
    let mut w = io::BufWriter::new(w);
    w.write_all(&header_f32(shape))?;
    for v in values {
        w.write_all(&v.to_le_bytes())?;
    }
    w.flush()
}
