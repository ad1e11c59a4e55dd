//! Malformed safetensors classes, one rule broken per file, and valid corner cases.

use realizar::format::safetensors::{Dtype, SafetensorsError};

pub struct Case {
    pub name: &'static str,
    pub bytes: Vec<u8>,
    pub expect: fn(&SafetensorsError) -> bool,
}

/// An 8-byte little-endian header length, the JSON header, then `data_len` data bytes.
pub fn st(json: &str, data_len: usize) -> Vec<u8> {
    let mut b = (json.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(json.as_bytes());
    b.extend((0..data_len).map(|i| (i * 7) as u8));
    b
}

fn json_error(e: &SafetensorsError, needle: &str) -> bool {
    matches!(e, SafetensorsError::Json { message, .. } if message.contains(needle))
}

const TWO: &str = r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]}}"#;

pub fn malformed() -> Vec<Case> {
    use SafetensorsError as E;
    vec![
        Case {
            name: "too-short",
            bytes: vec![1, 0, 0, 0, 0],
            expect: |e| matches!(e, E::TooShort { len: 5 }),
        },
        Case {
            name: "header-too-large",
            bytes: {
                let mut b = 100_000_001u64.to_le_bytes().to_vec();
                b.extend_from_slice(b"{}");
                b
            },
            expect: |e| {
                matches!(
                    e,
                    E::HeaderTooLarge {
                        header_len: 100_000_001,
                        ..
                    }
                )
            },
        },
        Case {
            name: "header-beyond-file",
            bytes: {
                let mut b = 1000u64.to_le_bytes().to_vec();
                b.extend_from_slice(b"{}");
                b
            },
            expect: |e| {
                matches!(
                    e,
                    E::HeaderBeyondFile {
                        header_len: 1000,
                        file_len: 10
                    }
                )
            },
        },
        Case {
            name: "header-len-max",
            bytes: {
                let mut b = u64::MAX.to_le_bytes().to_vec();
                b.extend_from_slice(b"{}");
                b
            },
            expect: |e| {
                matches!(
                    e,
                    E::HeaderTooLarge {
                        header_len: u64::MAX,
                        ..
                    }
                )
            },
        },
        Case {
            name: "header-not-utf8",
            bytes: {
                let mut b = st(r#"{"a\u0000":1}"#, 0);
                b[10] = 0xff;
                b
            },
            expect: |e| matches!(e, E::HeaderNotUtf8 { at: 10 }),
        },
        Case {
            name: "bad-json",
            bytes: st(r#"{"a":"#, 0),
            expect: |e| json_error(e, "EOF"),
        },
        Case {
            name: "not-an-object",
            bytes: st("[1,2]", 0),
            expect: |e| json_error(e, "expected a JSON object"),
        },
        Case {
            name: "duplicate-tensor-key",
            bytes: st(
                r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#,
                2,
            ),
            expect: |e| json_error(e, "duplicate key 'a'"),
        },
        Case {
            name: "duplicate-metadata-key",
            bytes: st(r#"{"__metadata__":{"k":"1","k":"2"}}"#, 0),
            expect: |e| json_error(e, "duplicate key 'k'"),
        },
        Case {
            name: "duplicate-metadata-block",
            bytes: st(r#"{"__metadata__":{},"__metadata__":{}}"#, 0),
            expect: |e| json_error(e, "duplicate key '__metadata__'"),
        },
        Case {
            name: "metadata-not-string",
            bytes: st(r#"{"__metadata__":{"k":1}}"#, 0),
            expect: |e| json_error(e, "invalid type: integer"),
        },
        Case {
            name: "unknown-field",
            bytes: st(
                r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":0}}"#,
                1,
            ),
            expect: |e| json_error(e, "unknown field `extra`"),
        },
        Case {
            name: "negative-shape",
            bytes: st(
                r#"{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}"#,
                1,
            ),
            expect: |e| json_error(e, "invalid value: integer `-1`"),
        },
        Case {
            name: "unknown-dtype",
            bytes: st(
                r#"{"a":{"dtype":"F7","shape":[1],"data_offsets":[0,1]}}"#,
                1,
            ),
            expect: |e| matches!(e, E::UnknownDtype { tensor, dtype } if tensor == "a" && dtype == "F7"),
        },
        Case {
            name: "offsets-gap",
            bytes: st(
                r#"{"a":{"dtype":"U8","shape":[8],"data_offsets":[8,16]}}"#,
                16,
            ),
            expect: |e| {
                matches!(
                    e,
                    E::BadOffsets {
                        begin: 8,
                        expected_begin: 0,
                        ..
                    }
                )
            },
        },
        Case {
            name: "offsets-overlap",
            bytes: st(
                r#"{"a":{"dtype":"U8","shape":[16],"data_offsets":[0,16]},"b":{"dtype":"U8","shape":[16],"data_offsets":[8,24]}}"#,
                24,
            ),
            expect: |e| matches!(e, E::BadOffsets { tensor, begin: 8, expected_begin: 16, .. } if tensor == "b"),
        },
        Case {
            name: "end-before-begin",
            bytes: st(
                r#"{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[0],"data_offsets":[8,4]}}"#,
                8,
            ),
            expect: |e| matches!(e, E::BadOffsets { tensor, begin: 8, end: 4, expected_begin: 8, .. } if tensor == "b"),
        },
        Case {
            name: "size-mismatch",
            bytes: st(
                r#"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"#,
                12,
            ),
            expect: |e| {
                matches!(
                    e,
                    E::SizeMismatch {
                        expected: 16,
                        actual: 12,
                        dtype: Dtype::F32,
                        ..
                    }
                )
            },
        },
        Case {
            name: "shape-overflow",
            bytes: st(
                r#"{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#,
                0,
            ),
            expect: |e| matches!(e, E::ShapeOverflow { .. }),
        },
        Case {
            name: "buffer-not-covered",
            bytes: st(
                r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}"#,
                5,
            ),
            expect: |e| {
                matches!(
                    e,
                    E::BufferNotCovered {
                        covered: 4,
                        data_len: 5
                    }
                )
            },
        },
    ]
}

pub fn valid() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("valid-two-tensors", st(TWO, 22)),
        ("valid-empty", st("{}", 0)),
        ("valid-padded-header", st(&format!("{TWO}      "), 22)),
        (
            "valid-zero-size",
            st(
                r#"{"e":{"dtype":"F16","shape":[0,4],"data_offsets":[0,0]},"x":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#,
                8,
            ),
        ),
    ]
}
