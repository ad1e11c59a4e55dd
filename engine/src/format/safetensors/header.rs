//! The safetensors header: JSON parsed with duplicate keys rejected, then the offset rules.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::{Dtype, SafetensorsError};

/// The format's limit on the JSON header (the `safetensors` crate's MAX_HEADER_SIZE).
pub const MAX_HEADER_LEN: u64 = 100_000_000;

/// One tensor entry. `begin..end` is relative to the data buffer that follows the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StTensorInfo {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<u64>,
    pub begin: u64,
    pub end: u64,
}

impl StTensorInfo {
    pub fn size(&self) -> u64 {
        self.end - self.begin
    }
}

/// A validated safetensors header.
#[derive(Clone, Debug, PartialEq)]
pub struct SafetensorsHeader {
    /// Length of the JSON header in bytes (the first 8 bytes of the file).
    pub header_len: u64,
    /// `__metadata__`, in file order.
    pub metadata: Vec<(String, String)>,
    /// Tensors in data order.
    tensors: Vec<StTensorInfo>,
    by_name: BTreeMap<String, usize>,
}

impl SafetensorsHeader {
    /// Validates the header of `file`, the whole file's bytes.
    pub fn parse(file: &[u8]) -> Result<Self, SafetensorsError> {
        let file_len = file.len() as u64;
        let len_bytes: [u8; 8] = file
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or(SafetensorsError::TooShort { len: file_len })?;
        let header_len = u64::from_le_bytes(len_bytes);
        if header_len > MAX_HEADER_LEN {
            return Err(SafetensorsError::HeaderTooLarge {
                header_len,
                limit: MAX_HEADER_LEN,
            });
        }
        // header_len <= 100 MB, so neither the addition nor the cast can overflow.
        let data_start = 8 + header_len;
        if data_start > file_len {
            return Err(SafetensorsError::HeaderBeyondFile {
                header_len,
                file_len,
            });
        }
        let json = std::str::from_utf8(&file[8..data_start as usize]).map_err(|e| {
            SafetensorsError::HeaderNotUtf8 {
                at: 8 + e.valid_up_to() as u64,
            }
        })?;
        let raw = parse_json(json)?;
        let data_len = file_len - data_start;
        let tensors = check_offsets(raw.tensors, data_start, data_len)?;
        let by_name = tensors
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Ok(SafetensorsHeader {
            header_len,
            metadata: raw.metadata,
            tensors,
            by_name,
        })
    }

    /// File offset of the data buffer.
    pub fn data_start(&self) -> u64 {
        8 + self.header_len
    }

    pub fn tensors(&self) -> &[StTensorInfo] {
        &self.tensors
    }

    pub fn tensor(&self, name: &str) -> Option<&StTensorInfo> {
        self.by_name.get(name).map(|&i| &self.tensors[i])
    }
}

struct RawHeader {
    metadata: Vec<(String, String)>,
    tensors: Vec<(String, RawInfo)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInfo {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: (u64, u64),
}

fn parse_json(json: &str) -> Result<RawHeader, SafetensorsError> {
    let mut de = serde_json::Deserializer::from_str(json);
    let parsed = de
        .deserialize_map(HeaderVisitor)
        .and_then(|raw| de.end().map(|()| raw));
    parsed.map_err(|e| {
        let (line, column) = (e.line(), e.column());
        SafetensorsError::Json {
            message: e.to_string(),
            line,
            column,
            at: 8 + byte_index(json, line, column),
        }
    })
}

/// serde_json reports 1-based line and byte column; turn that into a byte index of the header.
fn byte_index(json: &str, line: usize, column: usize) -> u64 {
    let line_start: usize = json
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (line_start + column.saturating_sub(1)).min(json.len()) as u64
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = RawHeader;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object of tensor entries and an optional __metadata__")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawHeader, A::Error> {
        let mut seen = HashSet::new();
        let mut metadata = Vec::new();
        let mut tensors = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format_args!("duplicate key '{key}'")));
            }
            if key == "__metadata__" {
                metadata = map.next_value::<UniqueStringMap>()?.0;
            } else {
                tensors.push((key, map.next_value::<RawInfo>()?));
            }
        }
        Ok(RawHeader { metadata, tensors })
    }
}

/// A JSON object of string values, with duplicate keys rejected.
pub(crate) struct UniqueStringMap(pub(crate) Vec<(String, String)>);

impl<'de> Deserialize<'de> for UniqueStringMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = UniqueStringMap;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object mapping strings to strings")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueStringMap, A::Error> {
                let mut seen = HashSet::new();
                let mut entries = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    if !seen.insert(k.clone()) {
                        return Err(de::Error::custom(format_args!("duplicate key '{k}'")));
                    }
                    entries.push((k, v));
                }
                Ok(UniqueStringMap(entries))
            }
        }
        d.deserialize_map(V)
    }
}

/// The safetensors crate's rule: sorted by offset, each tensor starts where the previous ended
/// (the first at 0), its byte range equals shape x dtype size, and the last ends at the buffer's end.
fn check_offsets(
    raw: Vec<(String, RawInfo)>,
    data_start: u64,
    data_len: u64,
) -> Result<Vec<StTensorInfo>, SafetensorsError> {
    let mut tensors = raw
        .into_iter()
        .map(|(name, r)| {
            let dtype =
                Dtype::from_name(&r.dtype).ok_or_else(|| SafetensorsError::UnknownDtype {
                    tensor: name.clone(),
                    dtype: r.dtype.clone(),
                })?;
            Ok(StTensorInfo {
                name,
                dtype,
                shape: r.shape,
                begin: r.data_offsets.0,
                end: r.data_offsets.1,
            })
        })
        .collect::<Result<Vec<_>, SafetensorsError>>()?;
    tensors.sort_by(|a, b| (a.begin, a.end, &a.name).cmp(&(b.begin, b.end, &b.name)));
    let mut expected_begin = 0u64;
    for t in &tensors {
        if t.begin != expected_begin || t.end < t.begin {
            return Err(SafetensorsError::BadOffsets {
                tensor: t.name.clone(),
                begin: t.begin,
                end: t.end,
                expected_begin,
                at: data_start.saturating_add(t.begin),
            });
        }
        let expected = t
            .shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .and_then(|n| n.checked_mul(t.dtype.size()))
            .ok_or_else(|| SafetensorsError::ShapeOverflow {
                tensor: t.name.clone(),
                shape: t.shape.clone(),
                dtype: t.dtype,
            })?;
        if expected != t.size() {
            return Err(SafetensorsError::SizeMismatch {
                tensor: t.name.clone(),
                shape: t.shape.clone(),
                dtype: t.dtype,
                expected,
                actual: t.size(),
            });
        }
        expected_begin = t.end;
    }
    if expected_begin != data_len {
        return Err(SafetensorsError::BufferNotCovered {
            covered: expected_begin,
            data_len,
        });
    }
    Ok(tensors)
}
