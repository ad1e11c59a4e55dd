/// Everything that can be wrong with a safetensors file or a sharded directory. Byte offsets
/// (`at`) are absolute file offsets.
#[derive(Debug, thiserror::Error)]
pub enum SafetensorsError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("at byte 0: file has {len} bytes, fewer than the 8-byte header length")]
    TooShort { len: u64 },
    #[error("at byte 0: header length {header_len} exceeds the format's limit of {limit} bytes")]
    HeaderTooLarge { header_len: u64, limit: u64 },
    #[error("at byte 0: header length {header_len} runs past the end of the {file_len}-byte file")]
    HeaderBeyondFile { header_len: u64, file_len: u64 },
    #[error("at byte {at}: header is not valid UTF-8")]
    HeaderNotUtf8 { at: u64 },
    #[error("at byte {at} (header line {line}, column {column}): {message}")]
    Json {
        message: String,
        line: usize,
        column: usize,
        at: u64,
    },
    #[error("tensor '{tensor}': unknown dtype {dtype:?}")]
    UnknownDtype { tensor: String, dtype: String },
    #[error("tensor '{tensor}': shape {shape:?} of {dtype} overflows a u64 byte count")]
    ShapeOverflow {
        tensor: String,
        shape: Vec<u64>,
        dtype: super::Dtype,
    },
    #[error("at byte {at}: tensor '{tensor}': data_offsets [{begin}, {end}] must start at {expected_begin} (contiguous, non-overlapping, end >= begin)")]
    BadOffsets {
        tensor: String,
        begin: u64,
        end: u64,
        expected_begin: u64,
        at: u64,
    },
    #[error("tensor '{tensor}': shape {shape:?} of {dtype} needs {expected} bytes but data_offsets span {actual}")]
    SizeMismatch {
        tensor: String,
        shape: Vec<u64>,
        dtype: super::Dtype,
        expected: u64,
        actual: u64,
    },
    #[error("tensors cover {covered} bytes but the data buffer has {data_len}: offsets must cover it exactly")]
    BufferNotCovered { covered: u64, data_len: u64 },
    #[error("{dir}: no model.safetensors.index.json and no model.safetensors")]
    NoModel { dir: String },
    #[error("{path}: index is {len} bytes, over the {limit}-byte limit")]
    IndexTooLarge { path: String, len: u64, limit: u64 },
    #[error("{path}: {message}")]
    Index { path: String, message: String },
    #[error("{path}: shard file name {shard:?} must be a plain file name in the same directory")]
    BadShardName { path: String, shard: String },
    #[error("{shard}: {source}")]
    Shard {
        shard: String,
        source: Box<SafetensorsError>,
    },
    #[error("index maps tensor '{tensor}' to {shard}, which does not contain it")]
    MissingTensor { tensor: String, shard: String },
    #[error("{shard} contains tensor '{tensor}', which the index does not map to it")]
    UnlistedTensor { tensor: String, shard: String },
}
