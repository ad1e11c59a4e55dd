//! The safetensors reader: every malformed class, valid corners, and sharded directories.

mod common;

use common::safetensors_cases::{self, st};
use realizar::format::safetensors::{Dtype, Safetensors, SafetensorsDir, SafetensorsError};

fn check_class(name: &str) {
    let case = safetensors_cases::malformed()
        .into_iter()
        .find(|c| c.name == name)
        .expect("class exists");
    let err = Safetensors::parse(case.bytes.as_slice()).expect_err(name);
    assert!((case.expect)(&err), "{name}: wrong error: {err:?} ({err})");
}

class_tests! {
    safetensors_cases::malformed();
    too_short => "too-short",
    header_too_large => "header-too-large",
    header_beyond_file => "header-beyond-file",
    header_len_max => "header-len-max",
    header_not_utf8 => "header-not-utf8",
    bad_json => "bad-json",
    not_an_object => "not-an-object",
    duplicate_tensor_key => "duplicate-tensor-key",
    duplicate_metadata_key => "duplicate-metadata-key",
    duplicate_metadata_block => "duplicate-metadata-block",
    metadata_not_string => "metadata-not-string",
    unknown_field => "unknown-field",
    negative_shape => "negative-shape",
    unknown_dtype => "unknown-dtype",
    offsets_gap => "offsets-gap",
    offsets_overlap => "offsets-overlap",
    end_before_begin => "end-before-begin",
    size_mismatch => "size-mismatch",
    shape_overflow => "shape-overflow",
    buffer_not_covered => "buffer-not-covered",
}

#[test]
fn valid_corner_files_parse() {
    for (name, bytes) in safetensors_cases::valid() {
        let file = Safetensors::parse(bytes.as_slice()).unwrap_or_else(|e| panic!("{name}: {e}"));
        for t in file.tensors() {
            assert_eq!(t.data.len() as u64, t.info.size(), "{name}");
        }
    }
}

#[test]
fn tensors_and_metadata_read_back() {
    let bytes = safetensors_cases::valid().remove(0).1;
    let file = Safetensors::parse(bytes.as_slice()).unwrap();
    let h = file.header();
    assert_eq!(h.metadata, [("format".to_owned(), "pt".to_owned())]);
    let a = file.tensor("a").unwrap();
    assert_eq!(
        (a.info.dtype, a.info.shape.as_slice()),
        (Dtype::F32, &[2u64, 2][..])
    );
    let b = file.tensor("b").unwrap();
    assert_eq!(b.data, &bytes[bytes.len() - 6..]);
}

#[test]
fn json_errors_give_line_column_and_file_offset() {
    let bytes = st(
        "{\n  \"a\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1], \"x\": 1}\n}",
        1,
    );
    let err = Safetensors::parse(bytes.as_slice()).unwrap_err();
    let SafetensorsError::Json { line, at, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*line, 2);
    assert!(*at > 8 + 2, "{err}");
    assert!(err.to_string().contains("header line 2"), "{err}");
}

fn shard(tensors: &[(&str, usize)]) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut offset = 0;
    for (name, n) in tensors {
        entries.push(format!(
            r#""{name}":{{"dtype":"U8","shape":[{n}],"data_offsets":[{offset},{}]}}"#,
            offset + n
        ));
        offset += n;
    }
    st(&format!("{{{}}}", entries.join(",")), offset)
}

fn sharded_dir(index: &str, shards: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model.safetensors.index.json"), index).unwrap();
    for (name, bytes) in shards {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    dir
}

const INDEX: &str = r#"{"metadata":{"total_size":7},"weight_map":{"a":"m-1.safetensors","b":"m-1.safetensors","c":"m-2.safetensors"}}"#;

#[test]
fn sharded_directory_resolves_every_tensor() {
    let dir = sharded_dir(
        INDEX,
        &[
            ("m-1.safetensors", shard(&[("a", 2), ("b", 3)])),
            ("m-2.safetensors", shard(&[("c", 2)])),
        ],
    );
    let model = SafetensorsDir::open(dir.path()).unwrap();
    assert_eq!(model.len(), 3);
    assert_eq!(model.tensor("b").unwrap().data.len(), 3);
    assert_eq!(model.tensor("c").unwrap().data, &[0, 7]);
    assert!(model.tensor("d").is_none());
}

#[test]
fn sharded_directory_errors() {
    let good = || {
        vec![
            ("m-1.safetensors", shard(&[("a", 2), ("b", 3)])),
            ("m-2.safetensors", shard(&[("c", 2)])),
        ]
    };
    let open = |index: &str, shards: Vec<(&str, Vec<u8>)>| {
        let dir = sharded_dir(index, &shards);
        SafetensorsDir::open(dir.path()).unwrap_err()
    };
    // A tensor the index names but its shard lacks.
    let err = open(
        INDEX,
        vec![
            ("m-1.safetensors", shard(&[("a", 2), ("b", 3)])),
            ("m-2.safetensors", shard(&[("z", 2)])),
        ],
    );
    assert!(
        matches!(&err, SafetensorsError::MissingTensor { tensor, .. } if tensor == "c"),
        "{err}"
    );
    // A tensor in a shard that the index does not map there (here: in two shards).
    let err = open(
        INDEX,
        vec![
            ("m-1.safetensors", shard(&[("a", 2), ("b", 3)])),
            ("m-2.safetensors", shard(&[("c", 2), ("a", 1)])),
        ],
    );
    assert!(
        matches!(&err, SafetensorsError::UnlistedTensor { tensor, shard } if tensor == "a" && shard == "m-2.safetensors"),
        "{err}"
    );
    // Path traversal in a shard name.
    let err = open(r#"{"weight_map":{"a":"../m-1.safetensors"}}"#, good());
    assert!(
        matches!(err, SafetensorsError::BadShardName { .. }),
        "{err}"
    );
    // Duplicate key inside weight_map.
    let err = open(
        r#"{"weight_map":{"a":"m-1.safetensors","a":"m-2.safetensors"}}"#,
        good(),
    );
    assert!(
        matches!(&err, SafetensorsError::Index { message, .. } if message.contains("duplicate key 'a'")),
        "{err}"
    );
    // A missing shard file names the shard.
    let err = open(r#"{"weight_map":{"a":"m-9.safetensors"}}"#, good());
    assert!(
        matches!(&err, SafetensorsError::Shard { shard, .. } if shard == "m-9.safetensors"),
        "{err}"
    );
    // A corrupt shard names the shard and the inner error.
    let err = open(
        INDEX,
        vec![
            ("m-1.safetensors", vec![1, 2, 3]),
            ("m-2.safetensors", shard(&[("c", 2)])),
        ],
    );
    assert!(
        matches!(&err, SafetensorsError::Shard { source, .. } if matches!(**source, SafetensorsError::TooShort { .. })),
        "{err}"
    );
}

#[test]
fn directory_without_model_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = SafetensorsDir::open(dir.path()).unwrap_err();
    assert!(matches!(err, SafetensorsError::NoModel { .. }), "{err}");
    std::fs::write(dir.path().join("model.safetensors"), shard(&[("w", 4)])).unwrap();
    assert_eq!(
        SafetensorsDir::open(dir.path())
            .unwrap()
            .tensor("w")
            .unwrap()
            .data
            .len(),
        4
    );
}
