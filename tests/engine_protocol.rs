//! The engine protocol end to end (docs/engine-protocol.md): `oracle verify --engine
//! 'cmd:realizar protocol'` runs realizar as a separate process, the way any other engine runs,
//! holds it to the logits, KV, determinism, tokenizer and trace contracts, and with --falsify
//! wraps it in the perturbing engine, whose every case must be caught; `oracle diff --engine`
//! prints its op-by-op table from the protocol's trace request.

mod common;

use std::path::PathBuf;
use std::process::Command;

/// The `realizar` binary of this build, rebuilt if stale (with the features the tests' build of
/// the engine has, so nothing else is rebuilt).
fn realizar_bin() -> PathBuf {
    let mut build = Command::new(env!("CARGO"));
    build.current_dir(common::repo_root()).args([
        "build",
        "-q",
        "-p",
        "realizar",
        "--features",
        "writer",
        "--bin",
        "realizar",
    ]);
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    assert!(
        build.status().unwrap().success(),
        "cargo build --bin realizar"
    );
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<this test> -> target/<profile>/realizar
    let bin = exe.parent().unwrap().parent().unwrap().join("realizar");
    assert!(bin.is_file(), "{}", bin.display());
    bin
}

/// One obligation of each check that applies to another engine, with the perturbations that
/// must break each, and one obligation that pins a realizar kernel (it must be left out).
const CONTRACTS: &str = r#"
schema: 1
id: ENGINE-LOGITS
title: logits of any engine against HF float64 and llama.cpp
description: The checks that ask an engine only for logits, token ids and traces.
rationale: They are what another engine can be held to through the protocol.
tickets: [T-19]
obligations:
  - {id: f32-batch, check: logits_parity, params: {model: tiny-gqa, file: F32, reference: hf_f64, mode: batch}, metric: max_abs, threshold: 1.0e-4}
  - {id: q8-incremental, check: logits_parity, params: {model: tiny-long, file: Q8_0, reference: llamacpp, mode: incremental}, metric: kl_mean, threshold: 1.0e-6}
  - {id: pinned, check: logits_parity, params: {model: tiny-gqa, file: F32, reference: hf_f64, mode: batch, kernel: scalar}, metric: max_abs, threshold: 1.0e-4}
  - {id: kv, check: kv_consistency, params: {model: tiny-gqa, file: F32}, metric: max_abs, threshold: 0}
  - {id: same-twice, check: determinism, params: {model: tiny-gqa, file: Q8_0}, metric: mismatches, threshold: 0}
  - {id: spm, check: tokenizer_parity, params: {tokenizer: spm}, metric: mismatches, threshold: 0}
  - {id: trace, check: trace_parity, params: {model: tiny-qwen3, file: F32}, metric: rel_l2, threshold: 1.0e-4}
falsification:
  - {fault: swap_rope, expect: violated}
  - {perturb: swap_positions, expect: violated}
  - {perturb: shift_position, expect: violated}
  - {perturb: perturb_row, expect: violated}
  - {perturb: leak_between_calls, expect: violated}
  - {perturb: drop_last_token, expect: violated}
  - {perturb: scale_traced_layer, expect: violated}
bindings:
  functions: ["realizar::model::Model::forward"]
  tests: ["tests/engine_protocol.rs::realizar_as_an_external_engine_holds_and_every_perturbation_is_caught"]
"#;

fn verify(engine: &str, falsify: bool) -> (i32, serde_json::Value, String) {
    verify_contract(CONTRACTS, engine, falsify)
}

fn verify_contract(yaml: &str, engine: &str, falsify: bool) -> (i32, serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("engine.yaml"), yaml).unwrap();
    let root = common::repo_root();
    let (contracts, root) = (dir.path().to_str().unwrap(), root.to_str().unwrap());
    let mut args = vec![
        "oracle",
        "verify",
        "--contracts",
        contracts,
        "--root",
        root,
        "--engine",
        engine,
        "--format",
        "json",
    ];
    if falsify {
        args.push("--falsify");
    }
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = realizar_oracle::cli::run(args, &mut out, &mut err);
    let err = String::from_utf8(err).unwrap();
    let json = serde_json::from_slice(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
    (code, json, err)
}

#[test]
fn realizar_as_an_external_engine_holds_and_every_perturbation_is_caught() {
    let engine = format!("cmd:{} protocol", realizar_bin().display());
    let (code, v, err) = verify(&engine, true);
    let c = &v["contracts"][0];
    assert_eq!(code, 0, "{v:#}\n{err}");
    assert_eq!(c["verdict"], "HOLDS", "{c:#}");
    // The obligation that pins realizar's scalar kernel does not apply to another engine.
    let ids: Vec<&str> = c["obligations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "f32-batch",
            "q8-incremental",
            "kv",
            "same-twice",
            "spm",
            "trace"
        ]
    );
    // realizar's hooks cannot patch another process: only the six perturbations ran, each
    // caught by the obligation that guards its class.
    let cases: Vec<(String, String)> = c["falsification"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["caught"], true, "{f:#}");
            (
                f["fault"].as_str().unwrap().to_string(),
                f["obligation"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("swap_positions", "f32-batch"),
        ("shift_position", "q8-incremental"),
        ("perturb_row", "f32-batch"),
        // The KV obligation's two calls come first: one of them is the odd one.
        ("leak_between_calls", "kv"),
        ("drop_last_token", "spm"),
        ("scale_traced_layer", "trace"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(cases, want);
    assert!(err.contains("6 of 7 obligations apply"), "{err}");
}

/// `oracle diff --engine`: the table from the protocol's trace request equals the built-in
/// one, op for op; an engine that cannot trace is named in the error.
#[test]
fn diff_through_the_protocol_equals_the_builtin_table() {
    let root = common::repo_root();
    let model = realizar_oracle::goldens::Goldens::of_repo(&root).model_file("tiny-qwen3", "F32");
    // `oracle diff` on tiny-qwen3's F32 file with `extra` arguments: exit code, the JSON
    // answer (null if none), stderr.
    let diff = |extra: &[&str]| {
        let mut args = vec![
            "oracle",
            "diff",
            model.to_str().unwrap(),
            "--golden",
            "tiny-qwen3",
            "--root",
            root.to_str().unwrap(),
            "--json",
        ];
        args.extend(extra);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = realizar_oracle::cli::run(args, &mut out, &mut err);
        let json = serde_json::from_slice(&out).unwrap_or(serde_json::Value::Null);
        (code, json, String::from_utf8(err).unwrap())
    };
    let (code, builtin, err) = diff(&["--engine", "realizar"]);
    assert_eq!(code, 0, "{err}");
    let command = format!("cmd:{} protocol", realizar_bin().display());
    let (code, external, err) = diff(&["--engine", &command]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(builtin["rows"], external["rows"]);
    // tiny-qwen3: embedding, 12 ops of its one layer (per-head Q/K norms), output_norm, logits.
    assert_eq!(builtin["rows"].as_array().unwrap().len(), 15);
    assert_eq!(external["device"], command.trim_start_matches("cmd:"));
    let (code, _, err) = diff(&["--engine", "cmd:false"]);
    assert_ne!(code, 0);
    assert!(err.contains("false exited with"), "{err}");
    // Like with like: the same file through the other engine is the reference instead of the
    // goldens. realizar against itself through the protocol: every op equal.
    let against = |extra: &[&str]| diff(&[&["--against", command.as_str()], extra].concat());
    let (code, same, err) = against(&[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(same["against"], command.trim_start_matches("cmd:"));
    let rows = same["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 15);
    assert!(rows.iter().all(|r| r["rel_l2"] == 0.0), "{same:#}");
    // The GPU's pass against the CPU's through the protocol: f32 sums in another order, so a
    // tolerance below that is crossed, and the first op that crosses it is named.
    if common::backends::gpu_or_skip() {
        let (code, gpu, err) = against(&["--backend", "gpu", "--tolerance", "1e-12"]);
        assert_eq!(code, 1, "{err}");
        assert!(gpu["first_divergence"].is_u64(), "{gpu:#}");
        let (code, _, err) = against(&["--backend", "gpu"]);
        assert_eq!(code, 0, "{err}");
    }
}

#[test]
fn an_engine_that_fails_violates_and_one_that_cannot_start_fails_the_run() {
    // `false` answers nothing and exits 1: every obligation is the engine's failure.
    let (code, v, _) = verify("cmd:false", false);
    assert_eq!(code, 1, "{v:#}");
    let c = &v["contracts"][0];
    assert_eq!(c["verdict"], "VIOLATED");
    for o in c["obligations"].as_array().unwrap() {
        assert_eq!(o["status"], "violated", "{o:#}");
        assert!(
            o["detail"].as_str().unwrap().contains("false exited with"),
            "{o:#}"
        );
    }
    // Its perturbations cannot be shown by obligations it already violates: none counts as
    // caught (nor as missed), and the contract stays VIOLATED.
    let (code, v, _) = verify("cmd:false", true);
    assert_eq!(code, 1, "{v:#}");
    let c = &v["contracts"][0];
    assert_eq!(c["verdict"], "VIOLATED");
    for f in c["falsification"].as_array().unwrap() {
        assert!(f["caught"].is_null(), "{f:#}");
    }
    // A program that is not there is this machine's problem: the run did not happen (exit 3).
    let (code, v, _) = verify("cmd:/nonexistent/engine", false);
    assert_eq!(code, 3, "{v:#}");
}

/// A case counts only where it changed an answer an obligation held with: a decode-only case
/// over batch obligations alone (candle's PARITY-QUANT-LLAMACPP, which holds no incremental
/// one) shows nothing, so it is not run, never missed (BROKEN).
#[test]
fn a_case_that_changes_no_held_answer_is_not_run_not_missed() {
    let engine = format!("cmd:{} protocol", realizar_bin().display());
    let yaml = CONTRACTS
        .lines()
        .filter(|l| {
            !l.contains("check:") || l.contains("id: f32-batch,") || l.contains("id: q8-incr")
        })
        .filter(|l| !l.contains("{fault:") && !l.contains("{perturb:") || l.contains("shift_"))
        .collect::<Vec<_>>()
        .join("\n");
    let case = |yaml: &str| {
        let (_, v, err) = verify_contract(yaml, &engine, true);
        let c = v["contracts"][0].clone();
        let f = c["falsification"][0].clone();
        assert_eq!(
            c["falsification"].as_array().unwrap().len(),
            1,
            "{c:#}\n{err}"
        );
        (c["verdict"].as_str().unwrap().to_string(), f)
    };
    // With the incremental obligation the shifted decode is caught ...
    let (verdict, f) = case(&yaml);
    assert_eq!(f["caught"], true, "{f:#}");
    assert_eq!(verdict, "HOLDS");
    // ... without it nothing the case changes held: not run, and the contract is not BROKEN.
    let batch_only: String = yaml
        .lines()
        .filter(|l| !l.contains("id: q8-incr"))
        .collect::<Vec<_>>()
        .join("\n");
    let (verdict, f) = case(&batch_only);
    assert!(f["caught"].is_null(), "{f:#}");
    assert!(f["detail"].as_str().unwrap().contains("changes"), "{f:#}");
    assert_ne!(verdict, "BROKEN");
}

#[test]
fn an_engine_spec_that_is_neither_builtin_nor_a_command_is_a_usage_error() {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = realizar_oracle::cli::run(
        ["oracle", "verify", "--engine", "llama.cpp"],
        &mut out,
        &mut err,
    );
    assert_ne!(code, 0);
    let err = String::from_utf8(err).unwrap();
    assert!(err.contains("cmd:PROGRAM"), "{err}");
}

/// A golden set's contracts (`--set`) hold another engine too, and every perturbation the set's
/// contract declares is caught for it.
#[test]
fn a_set_holds_an_external_engine_and_catches_its_perturbations() {
    let root = common::repo_root();
    let engine = format!("cmd:{} protocol", realizar_bin().display());
    let contracts = root.join("contracts");
    let args = [
        "oracle",
        "verify",
        "--set",
        "tiny-gemma3",
        "--root",
        root.to_str().unwrap(),
        "--contracts",
        contracts.to_str().unwrap(),
        "--engine",
        &engine,
        "--falsify",
        "--format",
        "json",
    ];
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = realizar_oracle::cli::run(args, &mut out, &mut err);
    let err = String::from_utf8(err).unwrap();
    assert_eq!(code, 0, "{}{err}", String::from_utf8_lossy(&out));
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let c = &v["contracts"][0];
    assert_eq!(c["verdict"], "HOLDS", "{c:#}");
    let cases: Vec<(&str, bool)> = c["falsification"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["fault"].as_str().unwrap(), f["caught"] == true))
        .collect();
    assert_eq!(
        cases,
        [
            ("swap_positions", true),
            ("shift_position", true),
            ("leak_between_calls", true),
            ("scale_traced_layer", true)
        ]
    );
}
