//! The GGUF reader rejects every malformed class with its own error, through every read path,
//! and reads valid files exactly as written.

mod common;

use std::io::Read;

use common::gguf_cases;
use realizar::format::gguf::{GgmlType, Gguf, GgufHeader, MetaArray, MetaValue, Preamble};

/// Hands out at most one byte per `read` call: a reader that assumes full reads breaks here.
struct OneByte<'a>(&'a [u8]);

impl Read for OneByte<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() || self.0.is_empty() {
            return Ok(0);
        }
        buf[0] = self.0[0];
        self.0 = &self.0[1..];
        Ok(1)
    }
}

fn parse_three_ways(bytes: &[u8]) -> [Result<GgufHeader, String>; 3] {
    let slice = Gguf::parse(bytes).map(|g| g.header().clone());
    let stream = GgufHeader::read(OneByte(bytes), bytes.len() as u64);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.gguf");
    std::fs::write(&path, bytes).unwrap();
    let mapped = Gguf::open(&path).map(|g| g.header().clone());
    [slice, stream, mapped].map(|r| r.map_err(|e| e.to_string()))
}

/// One malformed class: its specific error, the same through all three read paths, located.
fn check_class(name: &str) {
    let case = gguf_cases::malformed()
        .into_iter()
        .find(|c| c.name == name)
        .expect("class exists");
    let err = Gguf::parse(&case.bytes).expect_err(case.name);
    assert!((case.expect)(&err), "{name}: wrong error: {err:?} ({err})");
    let [slice, stream, mapped] = parse_three_ways(&case.bytes);
    assert_eq!(slice, stream, "{name}: stream path differs");
    assert_eq!(slice, mapped, "{name}: mmap path differs");
    let text = err.to_string();
    assert!(
        text.contains("at byte") || text.contains("overlap") || text.contains("data section"),
        "{name}: message has no location: {text}"
    );
}

class_tests! {
    gguf_cases::malformed();
    bad_magic => "bad-magic",
    bad_version_1 => "bad-version-1",
    bad_version_future => "bad-version-future",
    bad_version_0 => "bad-version-0",
    n_tensors_minus_1 => "n-tensors-minus-1",
    n_kv_minus_1 => "n-kv-minus-1",
    bad_key_size => "bad-key-size",
    bad_value_type => "bad-value-type",
    duplicate_key => "duplicate-key",
    bad_alignment => "bad-alignment",
    bad_name_size => "bad-name-size",
    bad_n_dims => "bad-n-dims",
    bad_shape => "bad-shape",
    ne_too_big => "ne-too-big",
    bad_type => "bad-type",
    bad_offset => "bad-offset",
    duplicate_name => "duplicate-name",
    tensors_bad_alignment => "tensors-bad-alignment",
    inconsistent_alignment => "inconsistent-alignment",
    not_enough_data => "not-enough-data",
    cve_count_overflow => "cve-count-overflow",
    cve_array_count_overflow => "cve-array-count-overflow",
    cve_string_length_overflow => "cve-string-length-overflow",
    cve_shape_product_wrap => "cve-shape-product-wrap",
    cve_offset_size_wrap => "cve-offset-size-wrap",
    cve_unchecked_array_type => "cve-unchecked-array-type",
    cve_alignment_zero => "cve-alignment-zero",
    cve_deeply_nested_arrays => "cve-deeply-nested-arrays",
    empty_file => "empty-file",
    truncated_kv => "truncated-kv",
    big_endian => "big-endian",
    empty_key => "empty-key",
    key_not_utf8 => "key-not-utf8",
    bad_bool => "bad-bool",
    alignment_wrong_type => "alignment-wrong-type",
    removed_type => "removed-type",
    row_not_block_aligned => "row-not-block-aligned",
    byte_size_overflow => "byte-size-overflow",
    overlapping_tensors => "overlapping-tensors",
    tensor_beyond_data => "tensor-beyond-data",
    data_section_beyond_file => "data-section-beyond-file",
    nested_array_bad_type => "nested-array-bad-type",
}

#[test]
fn preamble_stage_agrees_with_full_parse_on_header_errors() {
    for case in gguf_cases::malformed() {
        let full = Gguf::parse(&case.bytes).unwrap_err().to_string();
        if let Err(e) = Preamble::read(case.bytes.as_slice(), case.bytes.len() as u64) {
            assert_eq!(e.to_string(), full, "{}", case.name);
        }
    }
}

#[test]
fn valid_corner_files_parse_identically_on_every_path() {
    for (name, bytes) in gguf_cases::valid() {
        let [slice, stream, mapped] = parse_three_ways(&bytes);
        let header = slice.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(Ok(&header), stream.as_ref(), "{name}");
        assert_eq!(Ok(&header), mapped.as_ref(), "{name}");
    }
}

#[test]
fn fixture_reads_back_what_was_written() {
    let bytes = common::fixture_gguf();
    let file = Gguf::parse(bytes.as_slice()).unwrap();
    let h = file.header();
    assert_eq!(h.version, 3);
    assert_eq!(h.alignment, 32);
    assert_eq!(h.data_start % 32, 0);
    let md = &h.metadata;
    assert_eq!(
        md.get("general.architecture").and_then(MetaValue::as_str),
        Some("llama")
    );
    assert_eq!(
        md.get("llama.embedding_length").and_then(MetaValue::as_u64),
        Some(64)
    );
    assert_eq!(
        md.get("llama.attention.layer_norm_rms_epsilon"),
        Some(&MetaValue::F32(1e-5))
    );
    assert_eq!(md.get("fixture.i64"), Some(&MetaValue::I64(-1 << 40)));
    let Some(MetaValue::Array(MetaArray::String(tokens))) = md.get("tokenizer.ggml.tokens") else {
        panic!("tokens missing");
    };
    assert_eq!((tokens.len(), tokens[1].as_str()), (32, "<s>"));
    assert_eq!(
        md.get("fixture.nested")
            .and_then(MetaValue::as_array)
            .map(MetaArray::depth),
        Some(2)
    );

    let names: Vec<_> = file.tensors().map(|t| t.info.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "token_embd.weight",
            "blk.0.attn_norm.weight",
            "output.weight"
        ]
    );
    let norm = file.tensor("blk.0.attn_norm.weight").unwrap();
    assert_eq!(
        (norm.info.ggml_type, norm.info.dims.as_slice()),
        (GgmlType::F32, &[64u64][..])
    );
    let first = f32::from_le_bytes(norm.data[..4].try_into().unwrap());
    assert!(
        (0.9..=1.1).contains(&first) && first != 1.0,
        "norm weight {first}"
    );
    let out = file.tensor("output.weight").unwrap();
    assert_eq!(out.data.len(), 2 * 144);
    // Zero-copy: the slice points into the caller's buffer.
    let start = out.data.as_ptr() as usize - bytes.as_ptr() as usize;
    assert_eq!(start as u64, h.data_start + out.info.offset);
}

#[test]
fn every_truncation_of_the_fixture_is_an_error_not_a_panic() {
    let bytes = common::fixture_gguf();
    let header_end = Gguf::parse(bytes.as_slice()).unwrap().header().data_start as usize;
    for cut in 0..bytes.len() {
        let err = Gguf::parse(&bytes[..cut]).expect_err("truncated file parsed");
        if cut < header_end {
            // Cut inside the header: a count or field runs out of bytes.
            let text = err.to_string();
            assert!(text.contains("at byte"), "cut {cut}: {text}");
        }
    }
}

#[test]
fn every_single_byte_corruption_of_the_header_is_handled() {
    // Flip each header byte to a few hostile values: the reader must return, never panic, and an
    // accepted file must still place every tensor inside the buffer.
    let bytes = common::fixture_gguf();
    let header_end = Gguf::parse(bytes.as_slice()).unwrap().header().data_start as usize;
    let mut accepted = 0;
    for i in 0..header_end {
        for v in [0x00, 0xff, 0x80, bytes[i] ^ 0x01] {
            let mut b = bytes.clone();
            b[i] = v;
            if let Ok(file) = Gguf::parse(b.as_slice()) {
                accepted += 1;
                assert_eq!(file.tensors().count(), file.header().tensors().len());
            }
        }
    }
    // Corrupting string contents or values is legal, so some variants must parse.
    assert!(accepted > 0);
}
