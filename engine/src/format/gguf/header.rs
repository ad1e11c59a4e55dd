//! The parsed GGUF header: metadata, tensor infos and the layout of the data section.
//!
//! Parsing happens in stages (preamble, metadata, tensor infos, layout) over any [`Read`] whose
//! total length is known, so the same code serves a memory map, an in-memory buffer and a stream.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;

use super::source::Source;
use super::{GgmlType, GgufError, MetaArray, MetaValue, TypeIdError, ValueType};

/// The 4 magic bytes every GGUF file starts with.
pub const GGUF_MAGIC: [u8; 4] = *b"GGUF";
/// Alignment of tensor data when the file has no `general.alignment` key.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// The metadata key that overrides the data alignment.
pub const ALIGNMENT_KEY: &str = "general.alignment";
/// Arrays may nest at most this deep. gguf-py can write nested arrays and llama.cpp reads none,
/// so the limit only has to be generous for real files and small enough to bound recursion.
pub const MAX_ARRAY_DEPTH: usize = 8;
/// ggml's GGML_MAX_NAME is 64 including the terminating NUL: llama.cpp rejects longer names.
pub const MAX_TENSOR_NAME_LEN: u64 = 63;
/// ggml tensors have at most 4 dimensions.
pub const MAX_DIMS: u32 = 4;

/// Smallest encodable key-value pair: key length (an empty key is encodable, and rejected later
/// with its own error), value type, a 1-byte value.
const MIN_KV_BYTES: u64 = 8 + 4 + 1;
/// Smallest encodable tensor info: name length, n_dims, one dim, type, offset.
const MIN_TENSOR_INFO_BYTES: u64 = 8 + 4 + 8 + 4 + 8;

/// Ordered metadata key-value pairs (keys are unique).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    entries: Vec<(String, MetaValue)>,
}

impl Metadata {
    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &MetaValue)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// One tensor's description. Dims are in ggml order: `dims[0]` (ne0) is the row length, the
/// contiguous dimension; numpy's shape for the same tensor is the reverse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    pub dims: Vec<u64>,
    pub ggml_type: GgmlType,
    /// Offset from the start of the data section.
    pub offset: u64,
    /// Bytes the tensor occupies.
    pub size: u64,
}

impl TensorInfo {
    pub fn n_elements(&self) -> u64 {
        // Checked at parse time to fit in i64.
        self.dims.iter().product()
    }
}

/// Magic, version, counts and metadata: everything before the tensor infos.
#[derive(Clone, Debug, PartialEq)]
pub struct Preamble {
    pub version: u32,
    pub n_tensors: u64,
    pub metadata: Metadata,
    pub alignment: u64,
}

impl Preamble {
    /// Reads and validates only the preamble: magic, version, counts and key-value section.
    pub fn read<R: Read>(reader: R, file_len: u64) -> Result<Self, GgufError> {
        read_preamble(&mut Source::new(reader, file_len))
    }
}

/// A fully validated GGUF header.
#[derive(Clone, Debug, PartialEq)]
pub struct GgufHeader {
    pub version: u32,
    pub metadata: Metadata,
    pub alignment: u64,
    /// File offset where the data section starts.
    pub data_start: u64,
    /// Bytes in the data section (to the end of the file).
    pub data_len: u64,
    tensors: Vec<TensorInfo>,
    by_name: BTreeMap<String, usize>,
}

impl GgufHeader {
    /// Reads and validates the whole header of a file that is `file_len` bytes long, including
    /// that every tensor lies inside the data section and no two overlap.
    pub fn read<R: Read>(reader: R, file_len: u64) -> Result<Self, GgufError> {
        let mut src = Source::new(reader, file_len);
        let preamble = read_preamble(&mut src)?;
        let placed = read_tensor_infos(&mut src, preamble.n_tensors, preamble.alignment)?;
        let (data_start, data_len) =
            check_layout(&placed, src.pos(), file_len, preamble.alignment)?;
        let tensors: Vec<TensorInfo> = placed.into_iter().map(|p| p.info).collect();
        let by_name = tensors
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Ok(GgufHeader {
            version: preamble.version,
            metadata: preamble.metadata,
            alignment: preamble.alignment,
            data_start,
            data_len,
            tensors,
            by_name,
        })
    }

    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.by_name.get(name).map(|&i| &self.tensors[i])
    }
}

fn read_preamble<R: Read>(src: &mut Source<R>) -> Result<Preamble, GgufError> {
    let magic = src.array::<4>("magic")?;
    if magic != GGUF_MAGIC {
        return Err(GgufError::BadMagic { found: magic });
    }
    let version = src.u32("version")?;
    match version {
        2 | 3 => {}
        1 => return Err(GgufError::VersionOne),
        v if matches!(v.swap_bytes(), 1..=3) => return Err(GgufError::BigEndian { version: v }),
        v => return Err(GgufError::UnsupportedVersion { version: v }),
    }
    let at = src.pos();
    let n_tensors = src.u64("n_tensors")?;
    src.count("n_tensors", n_tensors, MIN_TENSOR_INFO_BYTES, at)?;
    let at = src.pos();
    let n_kv = src.u64("n_kv")?;
    let n_kv = src.count("n_kv", n_kv, MIN_KV_BYTES, at)?;

    let mut entries = Vec::with_capacity(n_kv);
    let mut seen = HashSet::with_capacity(n_kv);
    let mut alignment = DEFAULT_ALIGNMENT;
    for index in 0..n_kv as u64 {
        let key_at = src.pos();
        let key = read_string(src, "metadata key")?;
        if key.is_empty() {
            return Err(GgufError::EmptyKey { index, at: key_at });
        }
        if !seen.insert(key.clone()) {
            return Err(GgufError::DuplicateKey { key, at: key_at });
        }
        let type_at = src.pos();
        let type_id = src.u32("value type")?;
        let ty = ValueType::from_id(type_id).ok_or_else(|| GgufError::BadValueType {
            key: key.clone(),
            type_id,
            at: type_at,
        })?;
        let value_at = src.pos();
        let value = read_value(src, ty, &key)?;
        if key == ALIGNMENT_KEY {
            alignment = check_alignment(&value, value_at)?;
        }
        entries.push((key, value));
    }
    Ok(Preamble {
        version,
        n_tensors,
        metadata: Metadata { entries },
        alignment,
    })
}

/// The alignment rule is llama.cpp's (gguf.cpp): the value must be a u32 and a non-zero power of
/// two. Every file llama.cpp loads therefore loads here, and padding arithmetic (`align_up`) is
/// exact. The spec's "multiple of 8" is not required because llama.cpp does not require it.
fn check_alignment(value: &MetaValue, at: u64) -> Result<u64, GgufError> {
    match *value {
        MetaValue::U32(a) if a.is_power_of_two() => Ok(a.into()),
        MetaValue::U32(a) => Err(GgufError::AlignmentValue { value: a, at }),
        ref other => Err(GgufError::AlignmentType {
            found: other.value_type(),
            at,
        }),
    }
}

fn read_string<R: Read>(src: &mut Source<R>, field: &'static str) -> Result<String, GgufError> {
    let at = src.pos();
    let len = src.u64(field)?;
    src.count(field, len, 1, at)?;
    let bytes = src.take(len, field)?;
    String::from_utf8(bytes).map_err(|e| GgufError::InvalidUtf8 {
        field,
        at: at + 8 + e.utf8_error().valid_up_to() as u64,
    })
}

fn read_bool<R: Read>(src: &mut Source<R>, key: &str) -> Result<bool, GgufError> {
    let at = src.pos();
    match src.u8("bool value")? {
        0 => Ok(false),
        1 => Ok(true),
        value => Err(GgufError::BadBool {
            key: key.to_owned(),
            value,
            at,
        }),
    }
}

fn read_value<R: Read>(
    src: &mut Source<R>,
    ty: ValueType,
    key: &str,
) -> Result<MetaValue, GgufError> {
    const F: &str = "metadata value";
    Ok(match ty {
        ValueType::U8 => MetaValue::U8(src.u8(F)?),
        ValueType::I8 => MetaValue::I8(i8::from_le_bytes(src.array(F)?)),
        ValueType::U16 => MetaValue::U16(u16::from_le_bytes(src.array(F)?)),
        ValueType::I16 => MetaValue::I16(i16::from_le_bytes(src.array(F)?)),
        ValueType::U32 => MetaValue::U32(u32::from_le_bytes(src.array(F)?)),
        ValueType::I32 => MetaValue::I32(i32::from_le_bytes(src.array(F)?)),
        ValueType::F32 => MetaValue::F32(f32::from_le_bytes(src.array(F)?)),
        ValueType::Bool => MetaValue::Bool(read_bool(src, key)?),
        ValueType::String => MetaValue::String(read_string(src, "string value")?),
        ValueType::Array => MetaValue::Array(read_array(src, key, 1)?),
        ValueType::U64 => MetaValue::U64(u64::from_le_bytes(src.array(F)?)),
        ValueType::I64 => MetaValue::I64(i64::from_le_bytes(src.array(F)?)),
        ValueType::F64 => MetaValue::F64(f64::from_le_bytes(src.array(F)?)),
    })
}

/// Reads `n` fixed-size little-endian elements in one checked read.
fn read_fixed<R: Read, T, const N: usize>(
    src: &mut Source<R>,
    n: usize,
    decode: fn([u8; N]) -> T,
) -> Result<Vec<T>, GgufError> {
    // `n * N` cannot overflow: the caller checked `n * N <= remaining`.
    let bytes = src.take((n * N) as u64, "array data")?;
    Ok(bytes
        .chunks_exact(N)
        .map(|c| {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            decode(a)
        })
        .collect())
}

fn read_array<R: Read>(
    src: &mut Source<R>,
    key: &str,
    depth: usize,
) -> Result<MetaArray, GgufError> {
    let at = src.pos();
    if depth > MAX_ARRAY_DEPTH {
        return Err(GgufError::ArrayTooDeep {
            key: key.to_owned(),
            limit: MAX_ARRAY_DEPTH,
            at,
        });
    }
    let type_id = src.u32("array element type")?;
    let elem = ValueType::from_id(type_id).ok_or_else(|| GgufError::BadValueType {
        key: key.to_owned(),
        type_id,
        at,
    })?;
    let len_at = src.pos();
    let len = src.u64("array length")?;
    let n = src.count("array length", len, elem.min_encoded_size(), len_at)?;
    Ok(match elem {
        ValueType::U8 => MetaArray::U8(src.take(len, "array data")?),
        ValueType::I8 => MetaArray::I8(read_fixed(src, n, i8::from_le_bytes)?),
        ValueType::U16 => MetaArray::U16(read_fixed(src, n, u16::from_le_bytes)?),
        ValueType::I16 => MetaArray::I16(read_fixed(src, n, i16::from_le_bytes)?),
        ValueType::U32 => MetaArray::U32(read_fixed(src, n, u32::from_le_bytes)?),
        ValueType::I32 => MetaArray::I32(read_fixed(src, n, i32::from_le_bytes)?),
        ValueType::F32 => MetaArray::F32(read_fixed(src, n, f32::from_le_bytes)?),
        ValueType::U64 => MetaArray::U64(read_fixed(src, n, u64::from_le_bytes)?),
        ValueType::I64 => MetaArray::I64(read_fixed(src, n, i64::from_le_bytes)?),
        ValueType::F64 => MetaArray::F64(read_fixed(src, n, f64::from_le_bytes)?),
        ValueType::Bool => MetaArray::Bool(
            (0..n)
                .map(|_| read_bool(src, key))
                .collect::<Result<_, _>>()?,
        ),
        ValueType::String => MetaArray::String(
            (0..n)
                .map(|_| read_string(src, "string array element"))
                .collect::<Result<_, _>>()?,
        ),
        ValueType::Array => MetaArray::Array(
            (0..n)
                .map(|_| read_array(src, key, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// A tensor info and the file offset of its `offset` field, for errors found later.
struct Placed {
    info: TensorInfo,
    offset_at: u64,
}

fn read_tensor_infos<R: Read>(
    src: &mut Source<R>,
    n_tensors: u64,
    alignment: u64,
) -> Result<Vec<Placed>, GgufError> {
    // Re-checked here: the key-value section consumed bytes since the preamble's check.
    let n = src.count("n_tensors", n_tensors, MIN_TENSOR_INFO_BYTES, src.pos())?;
    let mut tensors = Vec::with_capacity(n);
    let mut seen = HashSet::with_capacity(n);
    for index in 0..n_tensors {
        let at = src.pos();
        let name = read_string(src, "tensor name")?;
        let len = name.len() as u64;
        if name.is_empty() || len > MAX_TENSOR_NAME_LEN {
            return Err(GgufError::BadTensorName { index, len, at });
        }
        if !seen.insert(name.clone()) {
            return Err(GgufError::DuplicateTensor { name, at });
        }
        tensors.push(read_tensor_info(src, name, alignment)?);
    }
    Ok(tensors)
}

fn read_tensor_info<R: Read>(
    src: &mut Source<R>,
    name: String,
    alignment: u64,
) -> Result<Placed, GgufError> {
    let at = src.pos();
    let n_dims = src.u32("n_dims")?;
    if !(1..=MAX_DIMS).contains(&n_dims) {
        return Err(GgufError::BadDimCount { name, n_dims, at });
    }
    let mut dims = Vec::with_capacity(n_dims as usize);
    for dim in 0..n_dims as usize {
        let at = src.pos();
        let value = src.u64("tensor dimension")?;
        // ggml stores dims as int64_t: anything past i64::MAX is a negative dimension.
        if i64::try_from(value).is_err() {
            return Err(GgufError::NegativeDim {
                name,
                dim,
                value,
                at,
            });
        }
        dims.push(value);
    }
    let n_elements = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .filter(|&n| i64::try_from(n).is_ok());
    let Some(n_elements) = n_elements else {
        return Err(GgufError::ShapeOverflow { name, dims, at });
    };
    let type_at = src.pos();
    let type_id = src.u32("tensor type")?;
    let ggml_type = match GgmlType::from_id(type_id) {
        Ok(t) => t,
        Err(TypeIdError::Removed(type_name)) => {
            return Err(GgufError::RemovedType {
                name,
                type_id,
                type_name,
                at: type_at,
            })
        }
        Err(TypeIdError::Unknown) => {
            return Err(GgufError::UnknownType {
                name,
                type_id,
                at: type_at,
            })
        }
    };
    if dims[0] % ggml_type.block_size() != 0 {
        return Err(GgufError::RowNotBlockAligned {
            name,
            ggml_type,
            ne0: dims[0],
            block_size: ggml_type.block_size(),
            at,
        });
    }
    let Some(size) = ggml_type.bytes_for(n_elements) else {
        return Err(GgufError::SizeOverflow {
            name,
            ggml_type,
            dims,
            at,
        });
    };
    let offset_at = src.pos();
    let offset = src.u64("tensor offset")?;
    if offset % alignment != 0 {
        return Err(GgufError::MisalignedTensor {
            name,
            offset,
            alignment,
            at: offset_at,
        });
    }
    Ok(Placed {
        info: TensorInfo {
            name,
            dims,
            ggml_type,
            offset,
            size,
        },
        offset_at,
    })
}

/// Places the data section after the header (padded to the alignment) and checks that every
/// tensor lies inside it and that no two tensors share a byte. Returns (data_start, data_len).
fn check_layout(
    tensors: &[Placed],
    header_end: u64,
    file_len: u64,
    alignment: u64,
) -> Result<(u64, u64), GgufError> {
    if tensors.is_empty() {
        // llama.cpp only pads to the data section when there is data; a tensor-less file may end
        // right after its metadata.
        return Ok((header_end, file_len - header_end));
    }
    let data_start = header_end
        .checked_next_multiple_of(alignment)
        .filter(|&s| s <= file_len)
        .ok_or(GgufError::DataSectionBeyondFile {
            data_start: header_end.saturating_add(alignment - 1) / alignment * alignment,
            file_len,
        })?;
    let data_len = file_len - data_start;
    let mut spans = Vec::with_capacity(tensors.len());
    for Placed { info: t, offset_at } in tensors {
        let at = *offset_at;
        let end = t
            .offset
            .checked_add(t.size)
            .ok_or_else(|| GgufError::OffsetOverflow {
                name: t.name.clone(),
                offset: t.offset,
                size: t.size,
                at,
            })?;
        if end > data_len && !crate::faults::is(crate::faults::Fault::AcceptOutOfBounds) {
            return Err(GgufError::TensorOutOfBounds {
                name: t.name.clone(),
                offset: t.offset,
                end,
                data_len,
                at,
            });
        }
        // A zero-size tensor shares no byte with anything.
        if t.size > 0 {
            spans.push((t.offset, end, t.name.as_str()));
        }
    }
    spans.sort_unstable();
    for pair in spans.windows(2) {
        let (_, first_end, first) = pair[0];
        let (second_offset, _, second) = pair[1];
        if first_end > second_offset {
            return Err(GgufError::TensorsOverlap {
                first: first.to_owned(),
                first_end,
                second: second.to_owned(),
                second_offset,
            });
        }
    }
    Ok((data_start, data_len))
}
