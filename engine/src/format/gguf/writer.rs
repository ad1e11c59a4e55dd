//! Writing GGUF files. Tests and fixtures build files with [`GgufWriter`]; [`encode`] exposes the
//! primitive encodings so malformed files can be built byte by byte from the same code.

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::Path;

use super::header::{ALIGNMENT_KEY, DEFAULT_ALIGNMENT, GGUF_MAGIC, MAX_DIMS, MAX_TENSOR_NAME_LEN};
use super::{GgmlType, MetaValue};

/// Little-endian encodings of GGUF's building blocks.
pub mod encode {
    use super::super::{MetaArray, MetaValue};

    pub fn u32(buf: &mut Vec<u8>, v: u32) {
        buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn u64(buf: &mut Vec<u8>, v: u64) {
        buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A GGUF string: u64 length, then the bytes (not NUL-terminated).
    pub fn string(buf: &mut Vec<u8>, s: &[u8]) {
        u64(buf, s.len() as u64);
        buf.extend_from_slice(s);
    }

    /// A key-value pair: key, value type id, value.
    pub fn kv(buf: &mut Vec<u8>, key: &str, value: &MetaValue) {
        string(buf, key.as_bytes());
        u32(buf, value.value_type().id());
        self::value(buf, value);
    }

    /// A value without its type id.
    pub fn value(buf: &mut Vec<u8>, value: &MetaValue) {
        match value {
            MetaValue::U8(v) => buf.push(*v),
            MetaValue::I8(v) => buf.extend_from_slice(&v.to_le_bytes()),
            MetaValue::U16(v) => buf.extend_from_slice(&v.to_le_bytes()),
            MetaValue::I16(v) => buf.extend_from_slice(&v.to_le_bytes()),
            MetaValue::U32(v) => u32(buf, *v),
            MetaValue::I32(v) => buf.extend_from_slice(&v.to_le_bytes()),
            MetaValue::F32(v) => buf.extend_from_slice(&v.to_le_bytes()),
            MetaValue::Bool(v) => buf.push(u8::from(*v)),
            MetaValue::String(s) => string(buf, s.as_bytes()),
            MetaValue::Array(a) => array(buf, a),
            MetaValue::U64(v) => u64(buf, *v),
            MetaValue::I64(v) => buf.extend_from_slice(&v.to_le_bytes()),
            MetaValue::F64(v) => buf.extend_from_slice(&v.to_le_bytes()),
        }
    }

    /// An array: element type id, u64 length, elements.
    pub fn array(buf: &mut Vec<u8>, a: &MetaArray) {
        u32(buf, a.element_type().id());
        u64(buf, a.len() as u64);
        fn each<T: Copy, const N: usize>(buf: &mut Vec<u8>, v: &[T], f: fn(T) -> [u8; N]) {
            for x in v {
                buf.extend_from_slice(&f(*x));
            }
        }
        match a {
            MetaArray::U8(v) => buf.extend_from_slice(v),
            MetaArray::I8(v) => each(buf, v, i8::to_le_bytes),
            MetaArray::U16(v) => each(buf, v, u16::to_le_bytes),
            MetaArray::I16(v) => each(buf, v, i16::to_le_bytes),
            MetaArray::U32(v) => each(buf, v, u32::to_le_bytes),
            MetaArray::I32(v) => each(buf, v, i32::to_le_bytes),
            MetaArray::F32(v) => each(buf, v, f32::to_le_bytes),
            MetaArray::Bool(v) => buf.extend(v.iter().map(|&b| u8::from(b))),
            MetaArray::String(v) => v.iter().for_each(|s| string(buf, s.as_bytes())),
            MetaArray::Array(v) => v.iter().for_each(|inner| array(buf, inner)),
            MetaArray::U64(v) => each(buf, v, u64::to_le_bytes),
            MetaArray::I64(v) => each(buf, v, i64::to_le_bytes),
            MetaArray::F64(v) => each(buf, v, f64::to_le_bytes),
        }
    }

    /// A tensor info: name, n_dims, dims (ggml order), type id, offset in the data section.
    pub fn tensor_info(buf: &mut Vec<u8>, name: &[u8], dims: &[u64], type_id: u32, offset: u64) {
        string(buf, name);
        u32(buf, dims.len() as u32);
        dims.iter().for_each(|&d| u64(buf, d));
        u32(buf, type_id);
        u64(buf, offset);
    }

    /// Zero bytes up to the next multiple of `alignment`.
    pub fn pad(buf: &mut Vec<u8>, alignment: u64) {
        while !(buf.len() as u64).is_multiple_of(alignment) {
            buf.push(0);
        }
    }
}

/// Why the writer refused an input: it only writes files the reader accepts.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum GgufWriteError {
    #[error("metadata key is empty")]
    EmptyKey,
    #[error("duplicate metadata key '{0}'")]
    DuplicateKey(String),
    #[error("general.alignment must be a u32 non-zero power of two")]
    BadAlignment,
    #[error("tensor name '{0}' must be 1..=63 bytes")]
    BadTensorName(String),
    #[error("duplicate tensor name '{0}'")]
    DuplicateTensor(String),
    #[error("tensor '{name}': dims {dims:?} must be 1..=4 dims, ne[0] a multiple of {block_size}, at most i64::MAX elements")]
    BadDims {
        name: String,
        dims: Vec<u64>,
        block_size: u64,
    },
    #[error("tensor '{name}': {got} data bytes given, its type and shape need {expected}")]
    DataSize {
        name: String,
        expected: u64,
        got: u64,
    },
    #[error("version {0} cannot be written (2 or 3)")]
    Version(u32),
}

struct PendingTensor {
    name: String,
    ggml_type: GgmlType,
    dims: Vec<u64>,
    data: Vec<u8>,
}

/// Builds a GGUF file in memory.
pub struct GgufWriter {
    version: u32,
    alignment: u64,
    metadata: Vec<(String, MetaValue)>,
    keys: HashSet<String>,
    tensors: Vec<PendingTensor>,
    names: HashSet<String>,
}

impl Default for GgufWriter {
    fn default() -> Self {
        GgufWriter {
            version: 3,
            alignment: DEFAULT_ALIGNMENT,
            metadata: Vec::new(),
            keys: HashSet::new(),
            tensors: Vec::new(),
            names: HashSet::new(),
        }
    }
}

impl GgufWriter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set_version(&mut self, version: u32) -> Result<&mut Self, GgufWriteError> {
        if !(2..=3).contains(&version) {
            return Err(GgufWriteError::Version(version));
        }
        self.version = version;
        Ok(self)
    }

    /// Adds a key-value pair. `general.alignment` also sets the alignment the data is padded to.
    pub fn add_metadata(
        &mut self,
        key: impl Into<String>,
        value: MetaValue,
    ) -> Result<&mut Self, GgufWriteError> {
        let key = key.into();
        if key.is_empty() {
            return Err(GgufWriteError::EmptyKey);
        }
        if key == ALIGNMENT_KEY {
            match value {
                MetaValue::U32(a) if a.is_power_of_two() => self.alignment = a.into(),
                _ => return Err(GgufWriteError::BadAlignment),
            }
        }
        if !self.keys.insert(key.clone()) {
            return Err(GgufWriteError::DuplicateKey(key));
        }
        self.metadata.push((key, value));
        Ok(self)
    }

    /// Adds a tensor; `dims` are in ggml order (ne0 first) and `data` is its encoded bytes.
    pub fn add_tensor(
        &mut self,
        name: impl Into<String>,
        ggml_type: GgmlType,
        dims: &[u64],
        data: Vec<u8>,
    ) -> Result<&mut Self, GgufWriteError> {
        let name = name.into();
        if name.is_empty() || name.len() as u64 > MAX_TENSOR_NAME_LEN {
            return Err(GgufWriteError::BadTensorName(name));
        }
        let n_elements = dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .filter(|&n| i64::try_from(n).is_ok());
        let expected = n_elements.and_then(|n| ggml_type.bytes_for(n));
        let shape_ok = (1..=MAX_DIMS as usize).contains(&dims.len())
            && dims[0].is_multiple_of(ggml_type.block_size())
            && dims.iter().all(|&d| i64::try_from(d).is_ok());
        let Some(expected) = expected.filter(|_| shape_ok) else {
            return Err(GgufWriteError::BadDims {
                name,
                dims: dims.to_vec(),
                block_size: ggml_type.block_size(),
            });
        };
        if data.len() as u64 != expected {
            return Err(GgufWriteError::DataSize {
                name,
                expected,
                got: data.len() as u64,
            });
        }
        if !self.names.insert(name.clone()) {
            return Err(GgufWriteError::DuplicateTensor(name));
        }
        self.tensors.push(PendingTensor {
            name,
            ggml_type,
            dims: dims.to_vec(),
            data,
        });
        Ok(self)
    }

    /// Sets a key: replaces its value where the key is already there, adds it otherwise.
    pub fn set_metadata(
        &mut self,
        key: impl Into<String>,
        value: MetaValue,
    ) -> Result<&mut Self, GgufWriteError> {
        let key = key.into();
        match self.metadata.iter_mut().find(|(k, _)| *k == key) {
            Some(_) if key == ALIGNMENT_KEY => Err(GgufWriteError::BadAlignment),
            Some((_, v)) => {
                *v = value;
                Ok(self)
            }
            None => self.add_metadata(key, value),
        }
    }

    /// A writer holding everything `file` holds (version, metadata, tensors, in order): the
    /// start of a modified copy.
    pub fn copy_of<B: AsRef<[u8]>>(file: &super::Gguf<B>) -> Result<Self, GgufWriteError> {
        let mut w = GgufWriter::new();
        w.set_version(file.header().version)?;
        for (key, value) in file.header().metadata.iter() {
            w.add_metadata(key, value.clone())?;
        }
        for t in file.tensors() {
            w.add_tensor(
                t.info.name.clone(),
                t.info.ggml_type,
                &t.info.dims,
                t.data.to_vec(),
            )?;
        }
        Ok(w)
    }

    /// The whole file: header, tensor infos, padding, then each tensor's data padded to the
    /// alignment, in the order tensors were added (the layout llama.cpp and gguf-py write).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        buf.extend_from_slice(&GGUF_MAGIC);
        encode::u32(&mut buf, self.version);
        encode::u64(&mut buf, self.tensors.len() as u64);
        encode::u64(&mut buf, self.metadata.len() as u64);
        for (key, value) in &self.metadata {
            encode::kv(&mut buf, key, value);
        }
        let mut offset = 0u64;
        for t in &self.tensors {
            encode::tensor_info(
                &mut buf,
                t.name.as_bytes(),
                &t.dims,
                t.ggml_type.id(),
                offset,
            );
            offset = (offset + t.data.len() as u64).next_multiple_of(self.alignment);
        }
        if !self.tensors.is_empty() {
            encode::pad(&mut buf, self.alignment);
            let data_start = buf.len();
            for t in &self.tensors {
                buf.extend_from_slice(&t.data);
                // Pad relative to the data section, which itself starts aligned.
                while !((buf.len() - data_start) as u64).is_multiple_of(self.alignment) {
                    buf.push(0);
                }
            }
        }
        buf
    }

    pub fn write_to(&self, mut w: impl Write) -> io::Result<()> {
        w.write_all(&self.to_bytes())
    }

    pub fn write_file(&self, path: impl AsRef<Path>) -> io::Result<()> {
        std::fs::write(path, self.to_bytes())
    }
}
