use super::ValueType;

/// Everything that can be wrong with a GGUF file. Each variant names the field, the bad value and
/// the byte offset (`at`) where the reader found it.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("at byte {at}: read failed: {source}")]
    Read { at: u64, source: std::io::Error },
    #[error("at byte 0: bad magic {found:02x?} (expected \"GGUF\" = [47, 47, 55, 46])")]
    BadMagic { found: [u8; 4] },
    #[error("at byte 4: unsupported (GGUF v1): v1 files use 32-bit counts; re-convert the model with a current llama.cpp")]
    VersionOne,
    #[error("at byte 4: version field {version:#010x} reads as big-endian GGUF v{}; only little-endian files are supported", version.swap_bytes())]
    BigEndian { version: u32 },
    #[error("at byte 4: unsupported GGUF version {version} (supported: 2 and 3)")]
    UnsupportedVersion { version: u32 },
    #[error("at byte {at}: {field} needs {needed} bytes but the file has {available} left")]
    Truncated {
        field: &'static str,
        at: u64,
        needed: u64,
        available: u64,
    },
    #[error("at byte {at}: {field} = {count} cannot fit: each takes at least {min_each} bytes and the file has {remaining} left")]
    CountTooLarge {
        field: &'static str,
        count: u64,
        min_each: u64,
        remaining: u64,
        at: u64,
    },
    #[error("at byte {at}: metadata key {index} is empty")]
    EmptyKey { index: u64, at: u64 },
    #[error("at byte {at}: {field} is not valid UTF-8")]
    InvalidUtf8 { field: &'static str, at: u64 },
    #[error(
        "at byte {at}: key '{key}' has value type {type_id}, which is not a GGUF type (0..=12)"
    )]
    BadValueType { key: String, type_id: u32, at: u64 },
    #[error("at byte {at}: key '{key}' has bool byte {value} (must be 0 or 1)")]
    BadBool { key: String, value: u8, at: u64 },
    #[error("at byte {at}: duplicate metadata key '{key}'")]
    DuplicateKey { key: String, at: u64 },
    #[error("at byte {at}: key '{key}' nests arrays deeper than {limit} levels")]
    ArrayTooDeep { key: String, limit: usize, at: u64 },
    #[error("at byte {at}: general.alignment has type {found}; it must be u32")]
    AlignmentType { found: ValueType, at: u64 },
    #[error("at byte {at}: general.alignment = {value}; it must be a non-zero power of two")]
    AlignmentValue { value: u32, at: u64 },
    #[error("at byte {at}: tensor {index} has a name of {len} bytes (must be 1..=63, ggml's GGML_MAX_NAME)")]
    BadTensorName { index: u64, len: u64, at: u64 },
    #[error("at byte {at}: duplicate tensor name '{name}'")]
    DuplicateTensor { name: String, at: u64 },
    #[error("at byte {at}: tensor '{name}' has n_dims = {n_dims} (must be 1..=4)")]
    BadDimCount { name: String, n_dims: u32, at: u64 },
    #[error("at byte {at}: tensor '{name}' dimension {dim} = {} is negative", *value as i64)]
    NegativeDim {
        name: String,
        dim: usize,
        value: u64,
        at: u64,
    },
    #[error("at byte {at}: tensor '{name}' shape {dims:?} has more than i64::MAX elements")]
    ShapeOverflow {
        name: String,
        dims: Vec<u64>,
        at: u64,
    },
    #[error("at byte {at}: tensor '{name}' has type id {type_id} ({type_name}), which ggml removed; re-quantize the model")]
    RemovedType {
        name: String,
        type_id: u32,
        type_name: &'static str,
        at: u64,
    },
    #[error("at byte {at}: tensor '{name}' has unknown type id {type_id}")]
    UnknownType { name: String, type_id: u32, at: u64 },
    #[error("at byte {at}: tensor '{name}' of type {ggml_type} has ne[0] = {ne0}, not a multiple of its block size {block_size}")]
    RowNotBlockAligned {
        name: String,
        ggml_type: super::GgmlType,
        ne0: u64,
        block_size: u64,
        at: u64,
    },
    #[error("at byte {at}: tensor '{name}' shape {dims:?} of type {ggml_type} overflows a u64 byte count")]
    SizeOverflow {
        name: String,
        ggml_type: super::GgmlType,
        dims: Vec<u64>,
        at: u64,
    },
    #[error("at byte {at}: tensor '{name}' offset {offset} is not a multiple of the alignment {alignment}")]
    MisalignedTensor {
        name: String,
        offset: u64,
        alignment: u64,
        at: u64,
    },
    #[error("at byte {at}: tensor '{name}' offset {offset} + size {size} overflows u64")]
    OffsetOverflow {
        name: String,
        offset: u64,
        size: u64,
        at: u64,
    },
    #[error("the data section would start at byte {data_start} (header end padded to the alignment) but the file has {file_len} bytes")]
    DataSectionBeyondFile { data_start: u64, file_len: u64 },
    #[error("at byte {at}: tensor '{name}' spans data bytes {offset}..{end} but the data section has {data_len} bytes (not enough data)")]
    TensorOutOfBounds {
        name: String,
        offset: u64,
        end: u64,
        data_len: u64,
        at: u64,
    },
    #[error("tensors '{first}' (data bytes ..{first_end}) and '{second}' (from data byte {second_offset}) overlap")]
    TensorsOverlap {
        first: String,
        first_end: u64,
        second: String,
        second_offset: u64,
    },
}
