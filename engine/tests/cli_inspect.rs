//! `realizar inspect`: snapshots of the table and JSON output, and exit codes for bad input.

mod common;

use std::path::Path;

use common::safetensors_cases::st;

use common::realizar;

/// Runs `inspect` on `path` and hides the temporary directory so snapshots are stable.
fn inspect(dir: &Path, name: &str, json: bool) -> String {
    let path = dir.join(name);
    let mut args = vec!["inspect", path.to_str().unwrap()];
    if json {
        args.push("--json");
    }
    let out = realizar(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.is_empty());
    out.stdout.replace(dir.to_str().unwrap(), "[DIR]")
}

#[test]
fn gguf_table_and_json() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.gguf"), common::fixture_gguf()).unwrap();
    insta::assert_snapshot!("gguf_table", inspect(dir.path(), "tiny.gguf", false));
    let json = inspect(dir.path(), "tiny.gguf", true);
    insta::assert_snapshot!("gguf_json", json);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["tensors"].as_array().unwrap().len(), 3);
    assert_eq!(v["metadata"][17]["value"]["len"], 32);
}

#[test]
fn safetensors_file_and_sharded_dir() {
    let dir = tempfile::tempdir().unwrap();
    let two = common::safetensors_cases::valid().remove(0).1;
    std::fs::write(dir.path().join("model.safetensors"), &two).unwrap();
    insta::assert_snapshot!(
        "safetensors_table",
        inspect(dir.path(), "model.safetensors", false)
    );

    let sharded = dir.path().join("sharded");
    std::fs::create_dir(&sharded).unwrap();
    std::fs::write(
        sharded.join("model.safetensors.index.json"),
        r#"{"weight_map":{"embed":"model-00001-of-00002.safetensors","head":"model-00002-of-00002.safetensors"}}"#,
    )
    .unwrap();
    std::fs::write(
        sharded.join("model-00001-of-00002.safetensors"),
        st(
            r#"{"embed":{"dtype":"BF16","shape":[4,2],"data_offsets":[0,16]}}"#,
            16,
        ),
    )
    .unwrap();
    std::fs::write(
        sharded.join("model-00002-of-00002.safetensors"),
        st(
            r#"{"head":{"dtype":"F16","shape":[2,4],"data_offsets":[0,16]}}"#,
            16,
        ),
    )
    .unwrap();
    insta::assert_snapshot!("sharded_table", inspect(dir.path(), "sharded", false));
    insta::assert_snapshot!("sharded_json", inspect(dir.path(), "sharded", true));
}

#[test]
fn bad_files_exit_1_with_the_error_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    for case in common::gguf_cases::malformed() {
        let path = dir.path().join(format!("{}.gguf", case.name));
        std::fs::write(&path, &case.bytes).unwrap();
        let out = realizar(&["inspect", path.to_str().unwrap()]);
        assert_eq!(out.code, 1, "{}", case.name);
        assert!(out.stdout.is_empty(), "{}", case.name);
        assert!(
            out.stderr.starts_with("error: "),
            "{}: {}",
            case.name,
            out.stderr
        );
        // What does not start as a GGUF is refused by content detection, naming its bytes;
        // the rest by the GGUF reader.
        let err = match realizar::format::detect(&path) {
            Err(e) => e.to_string(),
            Ok(_) => realizar::format::gguf::Gguf::parse(case.bytes.as_slice())
                .unwrap_err()
                .to_string(),
        };
        assert!(out.stderr.contains(&err), "{}: {}", case.name, out.stderr);
    }
    let missing = dir.path().join("missing.gguf");
    let out = realizar(&["inspect", missing.to_str().unwrap()]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("cannot open"), "{}", out.stderr);
    let bad_st = dir.path().join("x.safetensors");
    std::fs::write(
        &bad_st,
        st(
            r#"{"a":{"dtype":"Q9","shape":[1],"data_offsets":[0,1]}}"#,
            1,
        ),
    )
    .unwrap();
    let out = realizar(&["inspect", bad_st.to_str().unwrap(), "--json"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("unknown dtype \"Q9\""),
        "{}",
        out.stderr
    );
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let out = realizar(&[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("Usage"), "{}", out.stderr);
    let out = realizar(&["inspect"]);
    assert_eq!(out.code, 2);
    let out = realizar(&["inspect", "--help"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout.contains("model.safetensors.index.json"),
        "{}",
        out.stdout
    );
}
