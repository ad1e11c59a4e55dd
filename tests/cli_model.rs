//! `realizar logits`, `tokenize` and `run` on the golden models: outputs agree with the
//! references and with the library, the same call gives the same bits, and bad input exits 1
//! with a message instead of a panic.

mod common;

use std::path::PathBuf;

use common::realizar;
use realizar::format::gguf::{GgmlType, Gguf, GgufWriter};
use realizar::quant::quantize;

fn model(path: &str) -> String {
    common::goldens()
        .models()
        .join(path)
        .to_string_lossy()
        .into_owned()
}

/// A float32 .npy written by `realizar logits`: (shape, values), read by the oracle's reader of
/// engines' answers.
fn read_npy(path: &PathBuf) -> (Vec<usize>, Vec<f32>) {
    realizar_oracle::engine::read_npy_f32(&std::fs::read(path).unwrap()).unwrap()
}

fn golden_tokens(name: &str) -> String {
    let ids: Vec<String> = common::goldens()
        .tokens(name)
        .unwrap()
        .iter()
        .map(u32::to_string)
        .collect();
    ids.join(",")
}

fn golden_logits(name: &str) -> Vec<f64> {
    common::goldens()
        .tensor(&common::goldens().hf_f64(name), "logits")
        .unwrap()
        .0
}

#[test]
fn logits_command_matches_hf_f64_batch_and_incremental_bit_for_bit_alike() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = golden_tokens("tiny-gqa");
    let gold = golden_logits("tiny-gqa");
    let mut outputs = Vec::new();
    for (i, extra) in [&[][..], &["--incremental"][..], &["--threads", "1"][..]]
        .iter()
        .enumerate()
    {
        let out = dir.path().join(format!("l{i}.npy"));
        let mut args = vec![
            "logits",
            "--tokens",
            &tokens,
            "--out",
            out.to_str().unwrap(),
        ];
        let m = model("tiny-gqa/tiny-gqa-F32.gguf");
        args.insert(1, &m);
        args.extend_from_slice(extra);
        let r = realizar(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            r.stdout.contains("logits [32, 384] float32"),
            "{}",
            r.stdout
        );
        let (shape, values) = read_npy(&out);
        assert_eq!(shape, [32, 384]);
        let err = values
            .iter()
            .zip(&gold)
            .map(|(&a, &b)| (a as f64 - b).abs())
            .fold(0.0, f64::max);
        assert!(err <= 1e-4, "{extra:?}: {err:e}");
        outputs.push(values);
    }
    // Batch, one token per call, and one thread give the same bits (state is not shared).
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
}

/// `--no-pack` leaves out the decode layout the AVX-512 kernel packs at load, and one token
/// per call then gives the same bits from the mapped rows; the library says which it holds.
#[test]
fn no_pack_decodes_the_same_bits_from_the_mapped_rows() {
    use realizar::model::Model;
    use realizar::quant::Kernel;
    let dir = tempfile::tempdir().unwrap();
    let tokens = golden_tokens("tiny-gqa");
    // The kernel `Model::load` runs on here has a decode layout only if it is AVX-512's.
    let packs = Kernel::best() == Kernel::Avx512;
    for file in ["Q4_K_M", "Q6_K", "Q8_0"] {
        let m = model(&format!("tiny-gqa/tiny-gqa-{file}.gguf"));
        let path = std::path::Path::new(&m);
        let packed = Model::load(path, Kernel::best()).unwrap();
        let unpacked = Model::load_unpacked(path, Kernel::best()).unwrap();
        assert_eq!(unpacked.weights.packed_bytes(), 0, "{file}");
        assert_eq!(packed.weights.packed_bytes() > 0, packs, "{file}");
        let mut outputs = Vec::new();
        for extra in [&[][..], &["--no-pack"][..]] {
            let out = dir.path().join(format!("{file}{}.npy", extra.len()));
            let mut args = vec![
                "logits",
                &m,
                "--tokens",
                &tokens,
                "--incremental",
                "--out",
                out.to_str().unwrap(),
            ];
            args.extend_from_slice(extra);
            let r = realizar(&args);
            assert_eq!(r.code, 0, "{file} {extra:?}: {}", r.stderr);
            outputs.push(read_npy(&out).1);
        }
        assert!(outputs[0].iter().all(|v| v.is_finite()), "{file}");
        assert_eq!(outputs[0], outputs[1], "{file}");
    }
    // `run` says what the layout holds, and the same seed gives the same text without it.
    let m = model("tiny-gqa/tiny-gqa-Q4_K_M.gguf");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", &m, "--prompt", "Hello", "--max-tokens", "8"];
        args.extend_from_slice(extra);
        let r = realizar(&args);
        assert_eq!(r.code, 0, "{extra:?}: {}", r.stderr);
        r
    };
    let (with, without) = (run(&[]), run(&["--no-pack"]));
    assert_eq!(with.stdout, without.stdout);
    let says = |r: &common::CliOutput| r.stderr.contains("decode layout packed at load: ");
    assert_eq!((says(&with), says(&without)), (packs, false));
}

#[test]
fn tokenize_command_prints_llama_cpp_ids_as_json() {
    let m = model("tiny-gqa/tiny-gqa-Q8_0.gguf");
    let r = realizar(&[
        "tokenize",
        &m,
        "text <s> inside",
        "--json",
        "--parse-special",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let golden: serde_json::Value =
        serde_json::from_slice(&std::fs::read(common::goldens().tiny_tokenize("spm")).unwrap())
            .unwrap();
    let case = golden["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["text"] == "text <s> inside")
        .unwrap();
    assert_eq!(v["ids"], case["llama_cpp_parse_special"]);
    // The HF directory's tokenizer.model gives the same ids.
    let hf = model("tiny-gqa/hf");
    let r = realizar(&[
        "tokenize",
        &hf,
        "text <s> inside",
        "--json",
        "--parse-special",
    ]);
    let v2: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v2["ids"], case["hf"]);
}

#[test]
fn run_is_reproducible_per_seed_and_reports_speeds() {
    let m = model("tiny-mha-tied/tiny-mha-tied-Q4_K_M.gguf");
    let go = |seed: &str| {
        let r = realizar(&[
            "run",
            &m,
            "--prompt",
            "The weight",
            "--max-tokens",
            "24",
            "--seed",
            seed,
            "--temperature",
            "1.2",
            "--top-k",
            "0",
            "--top-p",
            "1.0",
            "--min-p",
            "0",
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            r.stderr.contains("prompt: ") && r.stderr.contains("tok/s"),
            "{}",
            r.stderr
        );
        r.stdout
    };
    assert_eq!(go("5"), go("5"));
    assert_ne!(go("5"), go("6"));
    let greedy = |path: &str| {
        let r = realizar(&[
            "run",
            path,
            "--prompt",
            "The weight",
            "--max-tokens",
            "12",
            "--temperature",
            "0",
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
    };
    // The HF directory and its f32 GGUF conversion run the same model: the same greedy text.
    assert_eq!(
        greedy(&model("tiny-gqa/hf")),
        greedy(&model("tiny-gqa/tiny-gqa-F32.gguf"))
    );
}

#[test]
fn bad_input_exits_1_with_a_message() {
    let f32 = model("tiny-gqa/tiny-gqa-F32.gguf");
    let vocab = common::goldens()
        .tiny_vocab("spm")
        .to_string_lossy()
        .into_owned();
    let long = "word ".repeat(400);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.npy");
    let out = out.to_str().unwrap();
    let garbage = dir.path().join("garbage.gguf");
    std::fs::write(&garbage, b"GGUF\x03\x00\x00\x00garbage").unwrap();
    let garbage = garbage.to_string_lossy().into_owned();
    for (args, expect) in [
        (
            vec!["logits", &f32, "--tokens", "1,2,384", "--out", out],
            "token id 384 is out of range",
        ),
        (
            vec!["logits", &f32, "--tokens", "1,x", "--out", out],
            "'x' is not a token id",
        ),
        (vec!["run", &f32, "--prompt", &long], "context full"),
        (
            vec!["run", &vocab, "--prompt", "hi"],
            "missing tensor token_embd.weight",
        ),
        (
            vec!["run", "/nonexistent/model.gguf", "--prompt", "hi"],
            "No such file",
        ),
        (vec!["run", &garbage, "--prompt", "hi"], "garbage.gguf"),
        (vec!["tokenize", &garbage, "hi"], "garbage.gguf"),
    ] {
        let r = realizar(&args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(expect), "{args:?}: {}", r.stderr);
    }
    // A missing required option is a usage error.
    assert_eq!(realizar(&["logits", &f32, "--out", out]).code, 2);
}

/// A copy of a golden GGUF with its metadata and tensors passed through `edit`.
fn rewrite(
    src: &str,
    dst: &std::path::Path,
    edit_meta: impl Fn(&str, &realizar::format::gguf::MetaValue) -> realizar::format::gguf::MetaValue,
    edit_tensor: impl Fn(
        &str,
        realizar::format::gguf::GgmlType,
        Vec<u64>,
        Vec<u8>,
    ) -> (realizar::format::gguf::GgmlType, Vec<u64>, Vec<u8>),
) {
    use realizar::format::gguf::{Gguf, GgufWriter};
    let g = Gguf::open(model(src)).unwrap();
    let mut w = GgufWriter::new();
    for (k, v) in g.header().metadata.iter() {
        w.add_metadata(k, edit_meta(k, v)).unwrap();
    }
    for t in g.tensors() {
        let (ty, dims, data) = edit_tensor(
            &t.info.name,
            t.info.ggml_type,
            t.info.dims.clone(),
            t.data.to_vec(),
        );
        w.add_tensor(t.info.name.clone(), ty, &dims, data).unwrap();
    }
    w.write_file(dst).unwrap();
}

#[test]
fn unsupported_or_malformed_models_exit_1_naming_the_problem() {
    use realizar::format::gguf::{GgmlType, MetaValue};
    let dir = tempfile::tempdir().unwrap();
    let src = "tiny-mha-tied/tiny-mha-tied-F32.gguf";
    let same = |_: &str, v: &MetaValue| v.clone();
    type Make<'a> = Box<dyn Fn(&std::path::Path) + 'a>;
    let cases: Vec<(&str, Make, &str)> = vec![
        (
            "arch",
            Box::new(|p| {
                rewrite(
                    src,
                    p,
                    |k, v| {
                        if k == "general.architecture" {
                            MetaValue::String("falcon".into())
                        } else {
                            v.clone()
                        }
                    },
                    |_, t, d, b| (t, d, b),
                )
            }),
            "architecture 'falcon' is not supported",
        ),
        (
            "type",
            Box::new(|p| {
                rewrite(src, p, same, |n, t, d, b| {
                    if n == "blk.0.attn_v.weight" {
                        let bytes =
                            GgmlType::IQ2_XXS.bytes_for(d.iter().product()).unwrap() as usize;
                        (GgmlType::IQ2_XXS, d, vec![0; bytes])
                    } else {
                        (t, d, b)
                    }
                })
            }),
            "blk.0.attn_v.weight",
        ),
        (
            "shape",
            Box::new(|p| {
                rewrite(src, p, same, |n, t, d, b| {
                    if n == "blk.0.ffn_up.weight" {
                        // Declared [hidden/2, 2*ffn]: the same bytes, the wrong shape.
                        (t, vec![d[0] / 2, d[1] * 2], b)
                    } else {
                        (t, d, b)
                    }
                })
            }),
            "tensor blk.0.ffn_up.weight: expected [256, 256]",
        ),
    ];
    for (name, make, expect) in cases {
        let path = dir.path().join(format!("{name}.gguf"));
        make(&path);
        let r = realizar(&["run", path.to_str().unwrap(), "--prompt", "hi"]);
        assert_eq!(r.code, 1, "{name}: {}", r.stderr);
        assert!(r.stderr.contains(expect), "{name}: {}", r.stderr);
    }
}

/// Every golden model file, GGUF or HF directory, runs end to end through the CLI.
#[test]
fn run_works_on_every_golden_model() {
    for name in realizar_oracle::golden::REFERENCE_MODELS {
        let dir = common::goldens().model_dir(name);
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "gguf"))
            .collect();
        paths.push(dir.join("hf"));
        for p in paths {
            let r = realizar(&[
                "run",
                p.to_str().unwrap(),
                "--prompt",
                "Hello",
                "--max-tokens",
                "4",
                "--seed",
                "3",
            ]);
            assert_eq!(r.code, 0, "{}: {}", p.display(), r.stderr);
            assert!(
                r.stderr.contains("decode: 4 tokens") || r.stderr.contains("end of text"),
                "{}",
                r.stderr
            );
        }
    }
}

/// `--kernel` picks the kernel a run uses (named in run's summary), each kernel gives logits
/// within 1e-4 of HF float64, and `realizar kernels` says which one `auto` picks.
#[test]
fn every_kernel_can_be_asked_for_and_is_named() {
    use realizar::quant::Kernel;
    let dir = tempfile::tempdir().unwrap();
    let tokens = golden_tokens("tiny-gqa");
    let gold = golden_logits("tiny-gqa");
    let m = model("tiny-gqa/tiny-gqa-F32.gguf");
    for k in Kernel::ALL {
        let out = dir.path().join(format!("{}.npy", k.name()));
        let args = [
            "logits",
            &m,
            "--tokens",
            &tokens,
            "--out",
            out.to_str().unwrap(),
            "--kernel",
            k.name(),
        ];
        let r = realizar(&args);
        if k.check().is_err() {
            assert_eq!(r.code, 1, "{}", r.stderr);
            assert!(r.stderr.contains("lacks"), "{}", r.stderr);
            continue;
        }
        assert_eq!(r.code, 0, "{}: {}", k.name(), r.stderr);
        let (_, values) = read_npy(&out);
        let err = values
            .iter()
            .zip(&gold)
            .map(|(&a, &b)| (a as f64 - b).abs())
            .fold(0.0, f64::max);
        assert!(err <= 1e-4, "{}: {err:e}", k.name());
        let r = realizar(&[
            "run",
            &m,
            "--prompt",
            "hi",
            "--max-tokens",
            "2",
            "--kernel",
            k.name(),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            r.stderr.contains(&format!("kernel: {}", k.name())),
            "{}",
            r.stderr
        );
    }
    let r = realizar(&["kernels", "--json"]);
    assert_eq!(r.code, 0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let kernels = v["kernels"].as_array().unwrap();
    assert_eq!(kernels.len(), 3);
    let auto: Vec<_> = kernels.iter().filter(|k| k["auto"] == true).collect();
    assert_eq!(auto.len(), 1);
    assert_eq!(auto[0]["kernel"], Kernel::best().name());
    let r = realizar(&["kernels", "--without", "avx2"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("scalar   needs []: runs (auto picks it)"),
        "{}",
        r.stdout
    );
    assert_eq!(realizar(&["kernels", "--without", "sse9"]).code, 1);
    assert_eq!(
        realizar(&["run", &m, "--prompt", "hi", "--kernel", "neon"]).code,
        2
    );
}

/// `--backend gpu` gives the CPU's logits (to ~1e-6 on the F32 file, in one batch and one token
/// per call), `realizar backends` names the adapter it opens, and a GPU backend that cannot start
/// is an error naming why, never a run on the CPU. Without an adapter the test fails unless
/// REALIZAR_NO_GPU=1 (tests/common/backends.rs).
#[test]
fn the_gpu_backend_gives_the_cpus_logits_or_says_why_it_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let m = model("tiny-gqa/tiny-gqa-F32.gguf");
    if common::backends::gpu_or_skip() {
        let r = realizar(&["backends", "--json"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        let gpu = &v["backends"][1];
        assert_eq!(
            (&gpu["backend"], &gpu["available"]),
            (&"gpu".into(), &true.into())
        );
        assert_eq!(
            v["adapters"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["chosen"] == true)
                .count(),
            1
        );
        for mode in [None, Some("--incremental")] {
            let mut logits = Vec::new();
            for backend in ["cpu", "gpu"] {
                let out = dir.path().join(format!("{backend}.npy"));
                let mut args = vec!["logits", &m, "--tokens", "1,5,9,200,7", "--out"];
                let out_s = out.to_str().unwrap().to_string();
                args.push(&out_s);
                args.extend(["--backend", backend]);
                args.extend(mode);
                let r = realizar(&args);
                assert_eq!(r.code, 0, "{}", r.stderr);
                logits.push(read_npy(&out));
            }
            assert_eq!(logits[0].0, logits[1].0);
            let err = logits[0]
                .1
                .iter()
                .zip(&logits[1].1)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(err < 1e-5, "{mode:?}: max abs {err:e}");
        }
    }
    // No adapter by that name: the GPU was asked for and cannot start.
    std::env::set_var("REALIZAR_GPU_ADAPTER", "no-such-adapter");
    let out = dir.path().join("none.npy");
    let r = realizar(&[
        "logits",
        &m,
        "--tokens",
        "1,2",
        "--out",
        out.to_str().unwrap(),
        "--backend",
        "gpu",
    ]);
    std::env::remove_var("REALIZAR_GPU_ADAPTER");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("--backend gpu") && r.stderr.contains("no GPU adapter"),
        "{}",
        r.stderr
    );
    assert!(!out.exists(), "nothing was computed elsewhere");
    // A model the GPU kernels do not run (one matrix in Q3_K, which they do not read; the CPU
    // does) is refused by name at load.
    let q3k = dir.path().join("tiny-gqa-q3k.gguf");
    let g = Gguf::open(model("tiny-gqa/tiny-gqa-F32.gguf")).unwrap();
    let mut w = GgufWriter::new();
    for (key, value) in g.header().metadata.iter() {
        w.add_metadata(key, value.clone()).unwrap();
    }
    for t in g.tensors() {
        let (ty, data) = if t.info.name == "blk.1.ffn_down.weight" {
            let x: Vec<f32> = bytemuck_f32(t.data);
            let mut q = vec![0u8; x.len() / 256 * GgmlType::Q3_K.type_size() as usize];
            quantize(GgmlType::Q3_K, &x, &mut q).unwrap();
            (GgmlType::Q3_K, q)
        } else {
            (t.info.ggml_type, t.data.to_vec())
        };
        w.add_tensor(t.info.name.clone(), ty, &t.info.dims, data)
            .unwrap();
    }
    w.write_file(&q3k).unwrap();
    let args = |backend| {
        realizar(&[
            "logits",
            q3k.to_str().unwrap(),
            "--tokens",
            "1,2",
            "--out",
            out.to_str().unwrap(),
            "--backend",
            backend,
        ])
    };
    assert_eq!(args("cpu").code, 0, "the CPU runs Q3_K");
    let r = args("gpu");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("weight type Q3_K") && r.stderr.contains("blk.1.ffn_down.weight"),
        "{}",
        r.stderr
    );
}

/// Little-endian f32s from bytes.
fn bytemuck_f32(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}
