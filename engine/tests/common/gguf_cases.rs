//! Malformed GGUF classes: llama.cpp's test-gguf list, the public GGUF CVE classes, and the
//! remaining rules of the reader. Each is a minimal file that breaks exactly one rule.

use realizar::format::gguf::{encode, GgufError, MetaArray, MetaValue, ValueType};

pub struct Case {
    /// Seed file name (without extension) and test label.
    pub name: &'static str,
    pub bytes: Vec<u8>,
    /// Does the error match this class's specific variant and fields?
    pub expect: fn(&GgufError) -> bool,
}

/// Magic, version, n_tensors and n_kv, then whatever `body` appends.
fn gguf(version: u32, n_tensors: u64, n_kv: u64, body: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    encode::u32(&mut b, version);
    encode::u64(&mut b, n_tensors);
    encode::u64(&mut b, n_kv);
    body(&mut b);
    b
}

fn kv(b: &mut Vec<u8>, key: &str, value: MetaValue) {
    encode::kv(b, key, &value);
}

/// A file with one `F32` tensor `[8]` described by the arguments, padded to `alignment`, followed
/// by `data_len` bytes of data.
fn one_tensor(name: &[u8], dims: &[u64], type_id: u32, offset: u64, data_len: usize) -> Vec<u8> {
    gguf(3, 1, 0, |b| {
        encode::tensor_info(b, name, dims, type_id, offset);
        encode::pad(b, 32);
        b.extend((0..data_len).map(|i| i as u8));
    })
}

/// Two F32 `[8]` tensors (32 bytes each) at the given offsets, `data_len` bytes of data.
fn two_tensors(
    names: [&[u8]; 2],
    offsets: [u64; 2],
    alignment: Option<u32>,
    data_len: usize,
) -> Vec<u8> {
    let n_kv = u64::from(alignment.is_some());
    gguf(3, 2, n_kv, |b| {
        if let Some(a) = alignment {
            kv(b, "general.alignment", MetaValue::U32(a));
        }
        encode::tensor_info(b, names[0], &[8], 0, offsets[0]);
        encode::tensor_info(b, names[1], &[8], 0, offsets[1]);
        encode::pad(b, alignment.map_or(32, u64::from));
        b.extend((0..data_len).map(|i| i as u8));
    })
}

/// `depth` arrays each holding the next, innermost an empty u8 array.
fn nested_array(depth: usize) -> Vec<u8> {
    gguf(3, 0, 1, |b| {
        encode::string(b, b"deep");
        encode::u32(b, ValueType::Array.id());
        for _ in 1..depth {
            encode::u32(b, ValueType::Array.id());
            encode::u64(b, 1);
        }
        encode::u32(b, ValueType::U8.id());
        encode::u64(b, 0);
    })
}

pub fn malformed() -> Vec<Case> {
    use GgufError as E;
    vec![
        // llama.cpp test-gguf classes.
        Case {
            name: "bad-magic",
            bytes: {
                let mut b = gguf(3, 0, 0, |_| {});
                b[..4].copy_from_slice(b"FUGG");
                b
            },
            expect: |e| matches!(e, E::BadMagic { found } if found == b"FUGG"),
        },
        Case {
            name: "bad-version-1",
            bytes: gguf(1, 0, 0, |_| {}),
            expect: |e| matches!(e, E::VersionOne) && e.to_string().contains("unsupported (GGUF v1)"),
        },
        Case {
            name: "bad-version-future",
            bytes: gguf(4, 0, 0, |_| {}),
            expect: |e| matches!(e, E::UnsupportedVersion { version: 4 }),
        },
        Case {
            name: "bad-version-0",
            bytes: gguf(0, 0, 0, |_| {}),
            expect: |e| matches!(e, E::UnsupportedVersion { version: 0 }),
        },
        Case {
            name: "n-tensors-minus-1",
            bytes: gguf(3, u64::MAX, 0, |_| {}),
            expect: |e| matches!(e, E::CountTooLarge { field: "n_tensors", count: u64::MAX, at: 8, .. }),
        },
        Case {
            name: "n-kv-minus-1",
            bytes: gguf(3, 0, u64::MAX, |_| {}),
            expect: |e| matches!(e, E::CountTooLarge { field: "n_kv", count: u64::MAX, at: 16, .. }),
        },
        Case {
            name: "bad-key-size",
            bytes: gguf(3, 0, 1, |b| {
                encode::u64(b, u64::MAX);
                b.extend_from_slice(b"my_key_0");
                encode::u32(b, ValueType::U8.id());
                b.push(7);
            }),
            expect: |e| matches!(e, E::CountTooLarge { field: "metadata key", at: 24, .. }),
        },
        Case {
            name: "bad-value-type",
            bytes: gguf(3, 0, 1, |b| {
                encode::string(b, b"my_key_0");
                encode::u32(b, u32::MAX);
                b.extend_from_slice(&[1, 2, 3, 4]);
            }),
            expect: |e| matches!(e, E::BadValueType { key, type_id: u32::MAX, at: 40 } if key == "my_key_0"),
        },
        Case {
            name: "duplicate-key",
            bytes: gguf(3, 0, 2, |b| {
                kv(b, "my_key_0", MetaValue::U32(1));
                kv(b, "my_key_0", MetaValue::U32(2));
            }),
            expect: |e| matches!(e, E::DuplicateKey { key, at: 48 } if key == "my_key_0"),
        },
        Case {
            name: "bad-alignment",
            bytes: gguf(3, 0, 1, |b| kv(b, "general.alignment", MetaValue::U32(31))),
            expect: |e| matches!(e, E::AlignmentValue { value: 31, .. }),
        },
        Case {
            name: "bad-name-size",
            bytes: one_tensor(
                b"my_tensor_0_with_a_very_long_name_which_is_longer_than_what_is_allowed_for_ggml_tensors",
                &[8],
                0,
                0,
                32,
            ),
            expect: |e| matches!(e, E::BadTensorName { index: 0, len: 87, at: 24 }),
        },
        Case {
            name: "bad-n-dims",
            bytes: gguf(3, 1, 0, |b| {
                encode::string(b, b"t");
                encode::u32(b, 5);
                (0..5).for_each(|_| encode::u64(b, 1));
                encode::u32(b, 0);
                encode::u64(b, 0);
            }),
            expect: |e| matches!(e, E::BadDimCount { n_dims: 5, .. }),
        },
        Case {
            name: "bad-shape",
            bytes: one_tensor(b"t", &[u64::MAX], 0, 0, 32),
            expect: |e| matches!(e, E::NegativeDim { dim: 0, value: u64::MAX, .. }),
        },
        Case {
            name: "ne-too-big",
            bytes: one_tensor(b"t", &[4 * i32::MAX as u64; 2], 0, 0, 32),
            expect: |e| matches!(e, E::ShapeOverflow { .. }),
        },
        Case {
            name: "bad-type",
            bytes: one_tensor(b"t", &[8], u32::MAX, 0, 32),
            expect: |e| matches!(e, E::UnknownType { type_id: u32::MAX, .. }),
        },
        Case {
            name: "bad-offset",
            bytes: one_tensor(b"t", &[8], 0, u64::MAX, 32),
            expect: |e| matches!(e, E::MisalignedTensor { offset: u64::MAX, alignment: 32, .. }),
        },
        Case {
            name: "duplicate-name",
            bytes: two_tensors([b"my_tensor", b"my_tensor"], [0, 32], None, 64),
            expect: |e| matches!(e, E::DuplicateTensor { name, .. } if name == "my_tensor"),
        },
        Case {
            // llama.cpp's TENSORS_BAD_ALIGNMENT: offsets laid out for alignment 31, file says 32.
            name: "tensors-bad-alignment",
            bytes: two_tensors([b"a", b"b"], [0, 31], None, 64),
            expect: |e| matches!(e, E::MisalignedTensor { offset: 31, alignment: 32, .. }),
        },
        Case {
            // Offsets aligned to the default 32 while general.alignment says 64.
            name: "inconsistent-alignment",
            bytes: two_tensors([b"a", b"b"], [0, 32], Some(64), 96),
            expect: |e| matches!(e, E::MisalignedTensor { offset: 32, alignment: 64, .. }),
        },
        Case {
            name: "not-enough-data",
            bytes: one_tensor(b"t", &[8], 0, 0, 31),
            expect: |e| matches!(e, E::TensorOutOfBounds { offset: 0, end: 32, data_len: 31, .. }),
        },
        // Public GGUF CVE classes.
        Case {
            // n_kv * (smallest kv size) wraps u64: a reader that multiplies unchecked allocates little
            // and then walks off the end.
            name: "cve-count-overflow",
            bytes: gguf(3, 0, (u64::MAX / 13) + 2, |_| {}),
            expect: |e| matches!(e, E::CountTooLarge { field: "n_kv", .. }),
        },
        Case {
            name: "cve-array-count-overflow",
            bytes: gguf(3, 0, 1, |b| {
                encode::string(b, b"arr");
                encode::u32(b, ValueType::Array.id());
                encode::u32(b, ValueType::U64.id());
                encode::u64(b, (1 << 61) + 1);
                encode::u64(b, 0);
            }),
            expect: |e| matches!(e, E::CountTooLarge { field: "array length", min_each: 8, .. }),
        },
        Case {
            // len + 8 wraps: a reader that checks `pos + 8 + len <= size` unchecked passes it.
            name: "cve-string-length-overflow",
            bytes: gguf(3, 0, 1, |b| {
                encode::string(b, b"s");
                encode::u32(b, ValueType::String.id());
                encode::u64(b, u64::MAX - 7);
                b.extend_from_slice(b"abc");
            }),
            expect: |e| matches!(e, E::CountTooLarge { field: "string value", count, .. } if *count == u64::MAX - 7),
        },
        Case {
            // 2^32 * 2^32 * 4 wraps to 0 elements in 64-bit arithmetic.
            name: "cve-shape-product-wrap",
            bytes: one_tensor(b"t", &[1 << 32, 1 << 32, 4], 0, 0, 32),
            expect: |e| matches!(e, E::ShapeOverflow { .. }),
        },
        Case {
            name: "cve-offset-size-wrap",
            bytes: one_tensor(b"t", &[8], 0, u64::MAX - 31, 32),
            expect: |e| matches!(e, E::OffsetOverflow { size: 32, .. }),
        },
        Case {
            name: "cve-unchecked-array-type",
            bytes: gguf(3, 0, 1, |b| {
                encode::string(b, b"arr");
                encode::u32(b, ValueType::Array.id());
                encode::u32(b, 13);
                encode::u64(b, 4);
                b.extend_from_slice(&[0; 16]);
            }),
            expect: |e| matches!(e, E::BadValueType { type_id: 13, .. }),
        },
        Case {
            name: "cve-alignment-zero",
            bytes: gguf(3, 0, 1, |b| kv(b, "general.alignment", MetaValue::U32(0))),
            expect: |e| matches!(e, E::AlignmentValue { value: 0, .. }),
        },
        Case {
            name: "cve-deeply-nested-arrays",
            bytes: nested_array(1000),
            expect: |e| matches!(e, E::ArrayTooDeep { limit: 8, .. }),
        },
        // The reader's other rules.
        Case {
            name: "empty-file",
            bytes: Vec::new(),
            expect: |e| matches!(e, E::Truncated { field: "magic", at: 0, available: 0, .. }),
        },
        Case {
            name: "truncated-kv",
            bytes: {
                let mut b = gguf(3, 0, 1, |b| kv(b, "general.name", MetaValue::String("x".repeat(20))));
                b.truncate(b.len() - 5);
                b
            },
            expect: |e| matches!(e, E::CountTooLarge { field: "string value", count: 20, .. }),
        },
        Case {
            name: "big-endian",
            bytes: {
                let mut b = gguf(3, 0, 0, |_| {});
                b[4..8].copy_from_slice(&3u32.to_be_bytes());
                b
            },
            expect: |e| matches!(e, E::BigEndian { .. }),
        },
        Case {
            name: "empty-key",
            bytes: gguf(3, 0, 1, |b| kv(b, "", MetaValue::U8(1))),
            expect: |e| matches!(e, E::EmptyKey { index: 0, at: 24 }),
        },
        Case {
            name: "key-not-utf8",
            bytes: gguf(3, 0, 1, |b| {
                encode::string(b, b"ok\xff");
                encode::u32(b, ValueType::U8.id());
                b.push(1);
            }),
            expect: |e| matches!(e, E::InvalidUtf8 { field: "metadata key", at: 34 }),
        },
        Case {
            name: "bad-bool",
            bytes: gguf(3, 0, 1, |b| {
                encode::string(b, b"flag");
                encode::u32(b, ValueType::Bool.id());
                b.push(2);
            }),
            expect: |e| matches!(e, E::BadBool { value: 2, .. }),
        },
        Case {
            name: "alignment-wrong-type",
            bytes: gguf(3, 0, 1, |b| kv(b, "general.alignment", MetaValue::U64(32))),
            expect: |e| matches!(e, E::AlignmentType { found: ValueType::U64, .. }),
        },
        Case {
            name: "removed-type",
            bytes: one_tensor(b"t", &[32], 4, 0, 32),
            expect: |e| matches!(e, E::RemovedType { type_id: 4, type_name: "Q4_2", .. }),
        },
        Case {
            name: "row-not-block-aligned",
            bytes: one_tensor(b"t", &[33], 2, 0, 64),
            expect: |e| matches!(e, E::RowNotBlockAligned { ne0: 33, block_size: 32, .. }),
        },
        Case {
            // 2^62 F64 elements fit in i64 but their byte count does not fit in u64.
            name: "byte-size-overflow",
            bytes: one_tensor(b"t", &[1 << 62], 28, 0, 32),
            expect: |e| matches!(e, E::SizeOverflow { .. }),
        },
        Case {
            name: "overlapping-tensors",
            bytes: two_tensors([b"a", b"b"], [0, 0], None, 64),
            expect: |e| matches!(e, E::TensorsOverlap { .. }),
        },
        Case {
            name: "tensor-beyond-data",
            bytes: one_tensor(b"t", &[8], 0, 1 << 40, 32),
            expect: |e| matches!(e, E::TensorOutOfBounds { offset, .. } if *offset == 1 << 40),
        },
        Case {
            // Header ends unaligned at the end of the file: the padded data section would start
            // beyond it.
            name: "data-section-beyond-file",
            bytes: gguf(3, 1, 0, |b| encode::tensor_info(b, b"t", &[8], 0, 0)),
            expect: |e| matches!(e, E::DataSectionBeyondFile { .. }),
        },
        Case {
            name: "nested-array-bad-type",
            bytes: gguf(3, 0, 1, |b| {
                kv(b, "ok", MetaValue::Array(MetaArray::Array(vec![MetaArray::U8(vec![1])])));
                let at = b.len() - 1 - 8 - 4;
                // Corrupt the inner array's element type.
                b[at..at + 4].copy_from_slice(&99u32.to_le_bytes());
            }),
            expect: |e| matches!(e, E::BadValueType { type_id: 99, .. }),
        },
    ]
}

/// Valid files that exercise the corners: v2, no tensors, custom alignment, zero-size tensor.
pub fn valid() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("valid-fixture", super::fixture_gguf()),
        ("valid-empty-v3", gguf(3, 0, 0, |_| {})),
        ("valid-empty-v2", gguf(2, 0, 0, |_| {})),
        ("valid-one-tensor", one_tensor(b"t", &[8], 0, 0, 32)),
        (
            "valid-alignment-64",
            two_tensors([b"a", b"b"], [0, 64], Some(64), 96),
        ),
        (
            "valid-alignment-1",
            two_tensors([b"a", b"b"], [0, 32], Some(1), 64),
        ),
        ("valid-zero-size", one_tensor(b"t", &[0], 0, 0, 0)),
        ("valid-nested-8", nested_array(8)),
    ]
}
