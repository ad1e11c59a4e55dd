//! `realizar dump` writes .npy files byte-identical to gguf-py's dequantization saved by numpy,
//! for a GGUF written by gguf-py's own GGUFWriter (golden/quant/dump.gguf).

mod common;

fn realizar(args: &[&str]) -> (i32, String, String) {
    let o = common::realizar(args);
    (o.code, o.stdout, o.stderr)
}

const TENSORS: [&str; 7] = [
    "blk.0.attn_q.weight",
    "blk.0.ffn_down.weight",
    "output.weight",
    "token_embd.weight",
    "blk.0.attn_norm.weight",
    "blk.0.ffn_gate.weight",
    "blk.0.attn_k.weight",
];

#[test]
fn dump_equals_gguf_py_and_numpy_byte_for_byte() {
    let golden = common::goldens().quant_dir();
    let model = golden.join("dump.gguf");
    let dir = tempfile::tempdir().unwrap();
    for name in TENSORS {
        let out = dir.path().join(format!("{name}.npy"));
        let (code, stdout, stderr) = realizar(&[
            "dump",
            model.to_str().unwrap(),
            name,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{name}: {stderr}");
        assert!(stdout.contains("numpy shape"), "{stdout}");
        let ours = std::fs::read(&out).unwrap();
        let theirs = std::fs::read(golden.join(format!("dump_{name}.npy"))).unwrap();
        assert_eq!(ours.len(), theirs.len(), "{name}: size");
        if let Some(i) = ours.iter().zip(&theirs).position(|(a, b)| a != b) {
            panic!("{name}: first difference at byte {i} of {}", ours.len());
        }
    }
}

#[test]
fn npy_header_matches_numpy_for_every_rank() {
    // np.save's headers for these shapes, as numpy 2.3 writes them.
    let golden = common::goldens().quant_dir();
    for (name, shape) in [
        ("blk.0.attn_norm.weight", vec![16]),
        ("blk.0.ffn_gate.weight", vec![2, 3, 4]),
    ] {
        let theirs = std::fs::read(golden.join(format!("dump_{name}.npy"))).unwrap();
        let ours = realizar::format::npy::header_f32(&shape);
        assert_eq!(ours.len() % 64, 0);
        assert_eq!(ours.as_slice(), &theirs[..ours.len()], "{name}");
    }
}

#[test]
fn dump_errors_name_the_problem() {
    let model = common::goldens().dump_gguf();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.npy");
    let (code, _, err) = realizar(&[
        "dump",
        model.to_str().unwrap(),
        "attn_q",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no tensor named 'attn_q'") && err.contains("blk.0.attn_q.weight"),
        "{err}"
    );
    let bad_out = dir.path().join("missing-dir/x.npy");
    let (code, _, err) = realizar(&[
        "dump",
        model.to_str().unwrap(),
        "output.weight",
        "--out",
        bad_out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("writing"), "{err}");
    let (code, _, _) = realizar(&["dump", model.to_str().unwrap(), "output.weight"]);
    assert_eq!(code, 2);
}

#[test]
fn dump_reads_safetensors_float_tensors() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = common::safetensors_cases::valid().remove(0).1;
    let path = dir.path().join("m.safetensors");
    std::fs::write(&path, &bytes).unwrap();
    let out = dir.path().join("a.npy");
    let (code, _, err) = realizar(&[
        "dump",
        path.to_str().unwrap(),
        "a",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let npy = std::fs::read(&out).unwrap();
    let header = realizar::format::npy::header_f32(&[2, 2]);
    assert_eq!(&npy[..header.len()], header.as_slice());
    // Tensor "a" is the first 16 data bytes of the file, f32 little-endian as stored.
    let data_start = bytes.len() - 22;
    assert_eq!(&npy[header.len()..], &bytes[data_start..data_start + 16]);
}
