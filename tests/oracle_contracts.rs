//! Contracts: loading errors name file, line and field; the committed contracts load; verdicts
//! exit 1 on a violation and 2 on a load error; the three output formats are snapshotted.

mod common;

use std::path::Path;

use realizar_oracle::contract::{load_dir, load_file};
use realizar_oracle::goldens::Goldens;
use realizar_oracle::verify::{
    ContractResult, FalsificationResult, ObligationResult, Status, Verdict,
};

const GOOD: &str = r##"schema: 1
id: DEMO-001
title: Layout holds
description: d
rationale: r
tickets: ["#6"]
obligations:
  - id: unit
    check: layout
    metric: mismatches
    threshold: 0
falsification:
  - fault: transpose_weight
    expect: violated
bindings:
  functions: ["realizar::quant::matmul"]
  tests: ["tests/quant_kernels.rs::every_kernel_reads_weights_row_major"]
"##;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn oracle(args: &[&str]) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let argv = std::iter::once("oracle").chain(args.iter().copied());
    let code = realizar_oracle::cli::run(argv, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[test]
fn committed_contracts_load_and_cover_the_first_set() {
    let contracts = load_dir(&common::repo_root().join("contracts")).unwrap();
    let ids: Vec<&str> = contracts.iter().map(|c| c.id.as_str()).collect();
    for id in [
        "LAYOUT-002",
        "QUANT-EXACT",
        "PARITY-F32-HF",
        "PARITY-QUANT-LLAMACPP",
        "TRACE-PARITY",
        "KV-CONSISTENCY",
        "DETERMINISM",
        "TOKENIZER-PARITY",
        "GPU-PARITY",
        "QUANT-ERROR",
        "PARSER-REJECTS",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    for c in &contracts {
        assert!(!c.falsification.is_empty(), "{}", c.id);
        // Every bound test exists as a function in the named file.
        for t in &c.bindings.tests {
            let (file, name) = t.split_once("::").unwrap();
            let text = std::fs::read_to_string(common::repo_root().join(file)).unwrap();
            assert!(text.contains(&format!("fn {name}(")), "{}: {t}", c.id);
        }
    }
}

#[test]
fn load_errors_name_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.yaml", GOOD);
    assert_eq!(load_file(&good).unwrap().id, "DEMO-001");
    for (text, line, field, message) in [
        (
            GOOD.replace("schema: 1", "schema: 2"),
            Some(1),
            Some("schema"),
            "schema 2 is not supported",
        ),
        (
            GOOD.replace("id: DEMO-001", "id: demo"),
            Some(2),
            Some("id"),
            "is not an id",
        ),
        (
            GOOD.replace("    threshold: 0", "    threshold: -1"),
            Some(8),
            Some("obligations.threshold"),
            "not a usable threshold",
        ),
        (
            GOOD.replace("check: layout", "check: logits_parity"),
            Some(8),
            Some("obligations.params.model"),
            "needs params.model",
        ),
        (
            GOOD.replace("  - fault: transpose_weight\n    expect: violated\n", "")
                .replace("falsification:\n", "falsification: []\n"),
            Some(12),
            Some("falsification"),
            "at least one",
        ),
        (
            GOOD.replace("metric: mismatches", "metric: mismatch"),
            Some(10),
            None,
            "mismatch",
        ),
        (
            GOOD.replace("title: Layout holds", "title: Layout holds\ncolour: blue"),
            Some(4),
            None,
            "colour",
        ),
        // A metric the check does not measure, and a type name that is not one.
        (
            GOOD.replace("metric: mismatches", "metric: kl_mean"),
            Some(8),
            Some("obligations.metric"),
            "does not measure kl_mean; it measures mismatches",
        ),
        (
            GOOD.replace(
                "check: layout",
                "check: kv_consistency\n    params: {model: tiny-gqa, file: F32}",
            )
            .replace("metric: mismatches", "metric: kl_mean"),
            Some(8),
            Some("obligations.metric"),
            "it measures max_abs",
        ),
        (
            GOOD.replace(
                "check: layout",
                "check: quant_exactness\n    params: {types: [Q4_K, Q9_X]}",
            ),
            Some(8),
            Some("obligations.params.types"),
            "'Q9_X' is not a GGUF type name",
        ),
        (
            GOOD.replace(
                "check: layout",
                "check: kv_consistency\n    params: {model: tiny-gqa, file: F32, kernel: neon}",
            )
            .replace("metric: mismatches", "metric: max_abs"),
            Some(8),
            Some("obligations.params.kernel"),
            "unknown variant `neon`, expected one of `scalar`, `avx2`, `avx512`",
        ),
        // A parameter the check does not read is refused, not ignored.
        (
            GOOD.replace(
                "check: layout",
                "check: kv_consistency\n    params: {model: tiny-gqa, file: F32, types: [Q4_K]}",
            )
            .replace("metric: mismatches", "metric: max_abs"),
            Some(8),
            Some("obligations.params.types"),
            "check kv_consistency does not read params.types",
        ),
        (
            GOOD.replace(
                "check: layout",
                "check: quant_exactness\n    params: {types: []}",
            ),
            Some(8),
            Some("obligations.params.types"),
            "check quant_exactness needs at least one type",
        ),
        (
            GOOD.replace("check: layout", "check: logit_parity"),
            Some(8),
            Some("obligations.check"),
            "unknown variant `logit_parity`",
        ),
        (
            GOOD.replace(
                "check: layout",
                "check: tokenizer_parity\n    params: {tokenizer: wordpiece}",
            ),
            Some(8),
            Some("obligations.params.tokenizer"),
            "unknown variant `wordpiece`, expected `spm` or `bpe`",
        ),
    ] {
        let p = write(dir.path(), "bad.yaml", &text);
        let e = load_file(&p).unwrap_err();
        assert_eq!(e.file, p);
        assert_eq!(e.line, line, "{e}");
        assert_eq!(e.field.as_deref(), field, "{e}");
        assert!(e.to_string().contains(message), "{e}");
        assert!(e.to_string().starts_with(&p.display().to_string()), "{e}");
    }
    // Ids are unique across files.
    write(dir.path(), "bad.yaml", GOOD);
    let e = load_dir(dir.path()).unwrap_err();
    assert!(e.to_string().contains("id DEMO-001 is also used by"), "{e}");
}

#[test]
fn verify_exits_1_on_a_violation_and_2_on_a_load_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = common::repo_root();
    let root = root.to_str().unwrap();
    write(dir.path(), "good.yaml", GOOD);
    let d = dir.path().to_str().unwrap();
    let (code, out, _) = oracle(&["verify", "--contracts", d, "--root", root]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("DEMO-001") && out.contains("HOLDS"), "{out}");
    // Demanding an impossible agreement is a violation, named in the table and the JUnit XML.
    let impossible = GOOD
        .replace("id: DEMO-001", "id: DEMO-002")
        .replace(
            "check: layout",
            "check: logits_parity\n    params: {model: tiny-gqa, file: F32, reference: hf_f64}",
        )
        .replace("metric: mismatches", "metric: same_top")
        .replace("threshold: 0", "threshold: 1.5");
    write(dir.path(), "impossible.yaml", &impossible);
    let (code, out, _) = oracle(&["verify", "--contracts", d, "--root", root]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("DEMO-002") && out.contains("VIOLATED"),
        "{out}"
    );
    let (code, xml, _) = oracle(&[
        "verify",
        "--contracts",
        d,
        "--root",
        root,
        "--format",
        "junit",
    ]);
    assert_eq!(code, 1);
    assert!(xml.contains("<failure message=\"VIOLATED"), "{xml}");
    write(dir.path(), "broken.yaml", "schema: 1\nid: [");
    let (code, _, err) = oracle(&["verify", "--contracts", d, "--root", root]);
    assert_eq!(code, 2);
    assert!(err.contains("broken.yaml:"), "{err}");
}

/// Only an obligation that declares what it needs may be NOT RUN where that is missing; any
/// other obligation that did not run fails the run with exit code 3, in every output format.
#[test]
fn verify_exits_3_when_an_obligation_did_not_run_for_an_undeclared_reason() {
    let dir = tempfile::tempdir().unwrap();
    let root = common::repo_root();
    let root = root.to_str().unwrap();
    let d = dir.path().to_str().unwrap();
    let run = |format: &str| {
        oracle(&[
            "verify",
            "--contracts",
            d,
            "--root",
            root,
            "--format",
            format,
        ])
    };
    // A GPU obligation that declares its requirement: NOT RUN on this machine, exit 0.
    let gpu = GOOD.replace(
        "check: layout",
        "requires: [gpu]\n    check: gpu_parity\n    params: {model: tiny-gqa, file: Q4_K_M, backend: cuda}",
    )
    .replace("metric: mismatches", "metric: rel_l2");
    write(dir.path(), "gpu.yaml", &gpu);
    let (code, out, _) = run("text");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("NOT RUN"), "{out}");
    // The same obligation without the declaration did not run for a reason it did not declare.
    write(
        dir.path(),
        "gpu.yaml",
        &gpu.replace("requires: [gpu]\n    ", ""),
    );
    let (code, out, _) = run("text");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("DID NOT RUN"), "{out}");
    // Declaring some other requirement does not excuse it either.
    write(
        dir.path(),
        "gpu.yaml",
        &gpu.replace("requires: [gpu]", "requires: [avx2]"),
    );
    let (code, out, _) = run("text");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("does not declare requires: [gpu]"), "{out}");
    // A missing golden is never NOT RUN, whatever the format.
    std::fs::remove_file(dir.path().join("gpu.yaml")).unwrap();
    let missing = GOOD
        .replace(
            "check: layout",
            "check: kv_consistency\n    params: {model: no-such-model, file: F32}",
        )
        .replace("metric: mismatches", "metric: max_abs");
    write(dir.path(), "missing.yaml", &missing);
    let (code, out, _) = run("text");
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("DID NOT RUN") && out.contains("no-such-model"),
        "{out}"
    );
    let (code, json, _) = run("json");
    assert_eq!(code, 3);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["ok"], false, "{json}");
    assert_eq!(v["contracts"][0]["verdict"], "ERROR", "{json}");
    assert_eq!(
        v["contracts"][0]["obligations"][0]["status"], "error",
        "{json}"
    );
    let (code, xml, _) = run("junit");
    assert_eq!(code, 3);
    assert!(
        xml.contains("errors=\"1\"") && xml.contains("<error message=\"DID NOT RUN"),
        "{xml}"
    );
    // A violation outranks it: exit 1.
    let impossible = GOOD
        .replace("id: DEMO-001", "id: DEMO-002")
        .replace(
            "check: layout",
            "check: logits_parity\n    params: {model: tiny-gqa, file: F32, reference: hf_f64}",
        )
        .replace("metric: mismatches", "metric: same_top")
        .replace("threshold: 0", "threshold: 1.5");
    write(dir.path(), "impossible.yaml", &impossible);
    for format in ["text", "json", "junit"] {
        assert_eq!(run(format).0, 1, "{format}");
    }
}

/// Fixed results, so the formats can be snapshotted without depending on measured values.
fn sample() -> Vec<ContractResult> {
    let ob = |id: &str, value: Option<f64>, status: Status, detail: &str| ObligationResult {
        id: id.into(),
        check: "logits_parity".into(),
        metric: "max_abs",
        threshold: 1e-4,
        relation: "<=",
        value,
        status,
        detail: detail.into(),
        ops: None,
    };
    vec![
        ContractResult {
            id: "PARITY-F32-HF".into(),
            title: "f32 logits equal HF".into(),
            file: "contracts/parity-f32-hf.yaml".into(),
            tickets: vec!["#5".into()],
            verdict: Verdict::Holds,
            level: 4,
            obligations: vec![ob("gqa", Some(1.02e-6), Status::Holds, "32 positions")],
            falsification: vec![FalsificationResult {
                fault: realizar_oracle::contract::Case::Fault(
                    realizar_oracle::contract::Fault::SwapRope,
                ),
                caught: Some(true),
                detail: "gqa violated".into(),
                obligation: Some("gqa".into()),
                metric: Some("max_abs"),
                value: Some(0.81),
                threshold: Some(1e-4),
            }],
        },
        ContractResult {
            id: "TRACE-PARITY".into(),
            title: "ops match <exactly>".into(),
            file: "contracts/trace-parity.yaml".into(),
            tickets: vec!["#6".into()],
            verdict: Verdict::Violated,
            level: 1,
            obligations: vec![ob(
                "gqa",
                Some(0.031),
                Status::Violated,
                "first divergence: layer 3 attn_out rel L2 0.031 > 0.01",
            )],
            falsification: vec![],
        },
        ContractResult {
            id: "GPU-PARITY".into(),
            title: "GPU within 1%".into(),
            file: "contracts/gpu-parity.yaml".into(),
            tickets: vec!["#8".into()],
            verdict: Verdict::NotRun,
            level: 1,
            obligations: vec![ob(
                "cuda",
                None,
                Status::NotRun,
                "no cuda backend in this build",
            )],
            falsification: vec![],
        },
        ContractResult {
            id: "KV-CONSISTENCY".into(),
            title: "decode equals prefill".into(),
            file: "contracts/kv-consistency.yaml".into(),
            tickets: vec!["#6".into()],
            verdict: Verdict::Error,
            level: 1,
            obligations: vec![ob(
                "gqa",
                None,
                Status::Error,
                "golden/models/tiny-gqa/manifest.json: No such file or directory",
            )],
            falsification: vec![],
        },
    ]
}

#[test]
fn output_formats_snapshot() {
    use realizar_oracle::report;
    let r = sample();
    insta::assert_snapshot!("verify_text", report::table(&r, false));
    insta::assert_snapshot!("verify_junit", report::junit(&r));
    let json: serde_json::Value = serde_json::from_str(&report::json(&r)).unwrap();
    insta::assert_json_snapshot!("verify_json", json);
}

#[test]
fn diff_names_the_first_divergent_op() {
    let root = common::repo_root();
    let r = root.to_str().unwrap();
    let f32 = Goldens::of_repo(&root).model_file("tiny-gqa", "F32");
    let (code, out, _) = oracle(&[
        "diff",
        f32.to_str().unwrap(),
        "--golden",
        "tiny-gqa",
        "--root",
        r,
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("no divergence") && out.contains("layer 1 ffn_out"),
        "{out}"
    );
    // A quantized file is compared like with like: with llama.cpp's trace of the same file, each
    // op held to 4x llama.cpp's own batch-vs-incremental spread there (or 1e-4), never with HF's
    // pass of the unquantized weights (which flags the embedding, at 7.2e-2).
    let q6 = Goldens::of_repo(&root).model_file("tiny-gqa", "Q6_K");
    let (code, out, _) = oracle(&[
        "diff",
        q6.to_str().unwrap(),
        "--golden",
        "tiny-gqa",
        "--root",
        r,
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("against llama.cpp golden trace of tiny-gqa-Q6_K")
            && out.contains("tolerance")
            && out.contains("no divergence: every op within its tolerance"),
        "{out}"
    );
    // Qwen's graph names no attention output: the op is listed as not compared, not skipped
    // silently.
    let qwen = Goldens::of_repo(&root).model_file("tiny-qwen3", "Q4_K_M");
    let (_, out, _) = oracle(&[
        "diff",
        qwen.to_str().unwrap(),
        "--golden",
        "tiny-qwen3",
        "--root",
        r,
    ]);
    assert!(
        out.contains("not compared (llama.cpp's graph names no such tensor): layer 0 attn_out"),
        "{out}"
    );
    // The same table from the GPU's pass, its intermediates read back from the device.
    if common::backends::gpu_or_skip() {
        let (code, out, err) = oracle(&[
            "diff",
            f32.to_str().unwrap(),
            "--golden",
            "tiny-gqa",
            "--root",
            r,
            "--backend",
            "gpu",
        ]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            out.contains("(gpu: ")
                && out.contains("no divergence")
                && out.contains("layer 1 ffn_out"),
            "{out}"
        );
    }
}

#[test]
fn comply_writes_both_reports_and_checks_bindings() {
    let root = common::repo_root();
    let r = root.to_str().unwrap();
    let contracts = root.join("contracts");
    let out_dir = tempfile::tempdir().unwrap();
    let (code, out, err) = oracle(&[
        "comply",
        "--ticket",
        "T-3",
        "--contracts",
        contracts.to_str().unwrap(),
        "--root",
        r,
        "--out",
        out_dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let md = std::fs::read_to_string(out_dir.path().join("T-3.md")).unwrap();
    assert!(
        md.contains("QUANT-EXACT")
            && md.contains("Engine commit")
            && md.contains("Golden provenance")
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.path().join("T-3.json")).unwrap()).unwrap();
    assert_eq!(json["ticket"], "T-3");
    let (code, out, _) = oracle(&[
        "comply",
        "check",
        "--contracts",
        contracts.to_str().unwrap(),
        "--root",
        r,
    ]);
    assert_eq!(code, 0, "{out}");
    // A binding to a test that does not exist fails the check, by name.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "c.yaml",
        &GOOD.replace("every_kernel_reads_weights_row_major", "no_such_test"),
    );
    let (code, out, _) = oracle(&[
        "comply",
        "check",
        "--contracts",
        dir.path().to_str().unwrap(),
        "--root",
        r,
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("DEMO-001: bound test tests/quant_kernels.rs::no_such_test does not exist"),
        "{out}"
    );
}

/// A model file that is there but does not load is the engine failing, not the environment: a
/// violation, so a broken loader cannot pass the gate. (A file that is not there at all is the
/// environment's: DID NOT RUN, exit 3, tested above.)
#[test]
fn an_engine_that_cannot_load_the_model_violates_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let model = Goldens::of_repo(&root).model_dir("broken");
    std::fs::create_dir_all(&model).unwrap();
    // A GGUF header that promises more than the file holds.
    let mut bytes = b"GGUF".to_vec();
    bytes.extend(3u32.to_le_bytes());
    bytes.extend(1000u64.to_le_bytes());
    bytes.extend(0u64.to_le_bytes());
    std::fs::write(model.join("broken-F32.gguf"), bytes).unwrap();
    std::fs::write(model.join("manifest.json"), r#"{"tokens": [1, 2]}"#).unwrap();
    let text = GOOD
        .replace(
            "check: layout",
            "check: logits_parity\n    params: {model: broken, file: F32, reference: hf_f64}",
        )
        .replace("metric: mismatches", "metric: max_abs");
    let contracts = dir.path().join("contracts");
    std::fs::create_dir_all(&contracts).unwrap();
    write(&contracts, "c.yaml", &text);
    let (code, out, _) = oracle(&[
        "verify",
        "--contracts",
        contracts.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("VIOLATED") && out.contains("engine error"),
        "{out}"
    );
}

/// Every committed contract holds (GPU-PARITY on this machine's GPU adapter), and the reports come
/// out: JSON, JUnit and the HTML page with a divergence plot per traced model. This is also what
/// makes a mutant of the engine count as caught when a contract notices it.
#[test]
fn committed_contracts_hold_and_reports_are_written() {
    let root = common::repo_root();
    let reports = tempfile::tempdir().unwrap();
    let (code, out, err) = oracle(&[
        "verify",
        "--contracts",
        root.join("contracts").to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
        "--format",
        "json",
        "--reports",
        reports.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // GPU-PARITY runs where there is an adapter (lavapipe in CI); without one this test fails
    // unless REALIZAR_NO_GPU=1 says to accept GPU-PARITY as NOT RUN.
    let gpu_here = common::backends::gpu_or_skip();
    for c in v["contracts"].as_array().unwrap() {
        let expected = if c["id"] == "GPU-PARITY" && !gpu_here {
            "NOT_RUN"
        } else {
            "HOLDS"
        };
        assert_eq!(c["verdict"], expected, "{}", c["id"]);
    }
    let html = std::fs::read_to_string(reports.path().join("index.html")).unwrap();
    // TRACE-PARITY traces twelve models: gqa, tied, llama3, yarn, qwen2, qwen3, gemma2, gemma3,
    // mistral (its HF directory), phi3, phi3-long, loud.
    assert_eq!(
        html.matches("<svg").count(),
        12,
        "one plot per traced model"
    );
    // Layer boundaries and op names on the plots, every obligation's headroom, the golden sets'
    // provenance; the falsification table comes with --falsify.
    assert!(html.contains(">layer 5</text>") && html.contains(">ffn_post_norm</text>"));
    assert!(html.contains("x headroom</td>"));
    assert!(html.contains("id=\"provenance\"") && html.contains("golden/models/tiny-gemma3"));
    assert!(html.contains("oracle verify --falsify --reports DIR"));
    assert!(std::fs::read_to_string(reports.path().join("junit.xml"))
        .unwrap()
        .contains("<testsuite"));
}

#[test]
fn quality_gates_read_tool_output_and_rewrite_the_readme_row() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let readme = write(
        &root,
        "README.md",
        &format!(
            "# x\n{}\n| gate | figure | threshold | verdict | commit |\n|---|---|---|---|---|\n{}\n",
            realizar_oracle::quality::BEGIN,
            realizar_oracle::quality::END
        ),
    );
    let e = root.join("engine/src/a.rs");
    let o = root.join("oracle/src/b.rs");
    let lcov = write(
        &root,
        "lcov.info",
        &format!(
            "SF:{}\nLF:100\nLH:90\nend_of_record\nSF:{}\nLF:10\nLH:8\nend_of_record\n",
            e.display(),
            o.display()
        ),
    );
    let r = root.to_str().unwrap();
    let (code, out, _) = oracle(&[
        "quality",
        "coverage",
        "--lcov",
        lcov.to_str().unwrap(),
        "--root",
        r,
        "--readme",
        readme.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("engine 90.0% (90/100 lines), oracle 80.0% (8/10 lines)"),
        "{out}"
    );
    let text = std::fs::read_to_string(&readme).unwrap();
    assert!(
        text.contains("| line coverage | engine 90.0%") && text.contains("| FAIL |"),
        "{text}"
    );
    let outcomes = write(
        &root,
        "outcomes.json",
        // A run cut short: its total is the 8 it reached, not the 9 it found.
        r#"{"total_mutants": 8, "outcomes": [
            {"summary": "CaughtMutant", "scenario": {"Mutant": {"name": "a.rs:1:1: x"}}},
            {"summary": "CaughtMutant", "scenario": {"Mutant": {"name": "a.rs:2:1: y"}}},
            {"summary": "CaughtMutant", "scenario": {"Mutant": {"name": "a.rs:2:5: y2"}}},
            {"summary": "CaughtMutant", "scenario": {"Mutant": {"name": "a.rs:2:9: y3"}}},
            {"summary": "Timeout", "scenario": {"Mutant": {"name": "a.rs:3:1: z"}}},
            {"summary": "MissedMutant", "scenario": {"Mutant": {"name": "q.rs:2:9: replace + with - in f"}}},
            {"summary": "MissedMutant", "scenario": {"Mutant": {"name": "q.rs:3:9: replace + with - in f"}}},
            {"summary": "Unviable", "scenario": {"Mutant": {"name": "a.rs:4:1: w"}}}
        ]}"#,
    );
    write(&root, "q.rs", "fn f() {\n    a + 0\n    b + 1\n}\n");
    // What cargo-mutants found, written beside its outcomes before it tests any: one more than
    // the outcomes hold (outcomes.json's own total counts only what a run reached).
    let names = [
        "a.rs:1:1: x",
        "a.rs:2:1: y",
        "a.rs:2:5: y2",
        "a.rs:2:9: y3",
        "a.rs:3:1: z",
        "q.rs:2:9: replace + with - in f",
        "q.rs:3:9: replace + with - in f",
        "a.rs:4:1: w",
        "a.rs:5:1: v",
    ];
    let found: Vec<serde_json::Value> = names
        .iter()
        .map(|n| serde_json::json!({ "name": n }))
        .collect();
    write(
        &root,
        "mutants.json",
        &serde_json::to_string(&found).unwrap(),
    );
    // The one mutant the run above did not test, from a second run (a shard, or a resumed run).
    let rest = write(
        &root,
        "rest.json",
        r#"{"total_mutants": 1, "outcomes": [
            {"summary": "CaughtMutant", "scenario": {"Mutant": {"name": "a.rs:5:1: v"}}}
        ]}"#,
    );
    let report = root.join("mutants.md");
    let mutants_runs = |accepted: &str, min: &str, runs: &[&Path]| {
        let list = write(&root, "accepted.yaml", accepted);
        let mut args = vec!["quality", "mutants", "--min", min];
        for run in runs {
            args.extend(["--outcomes", run.to_str().unwrap()]);
        }
        let (code, out, err) = oracle(
            &[
                &args[..],
                &[
                    "--accepted",
                    list.to_str().unwrap(),
                    "--root",
                    r,
                    "--report",
                    report.to_str().unwrap(),
                    "--readme",
                    readme.to_str().unwrap(),
                ],
            ]
            .concat(),
        );
        let md = std::fs::read_to_string(&report).unwrap_or_default();
        (code, out + &err, md)
    };
    let mutants_min = |accepted: &str, min: &str| mutants_runs(accepted, min, &[&outcomes]);
    let mutants = |accepted: &str| mutants_min(accepted, "80");
    // Timeouts count as caught: 5 of 7 viable is 71.4%, under the 80% gate.
    let (code, out, md) = mutants("[]\n");
    assert_eq!(code, 1, "{out}");
    let figure =
        "71.4% (4 caught, 1 timeouts, 2 missed of 7 viable; 1 unviable; 8 of 9 mutants tested)";
    assert!(
        out.contains(&format!(
            "{figure}; 2 missed without a reason; 1 not tested; gate 80%: FAIL"
        )),
        "{out}"
    );
    assert!(
        md.contains("| `q.rs:2:9: replace + with - in f` | **UNEXPLAINED**"),
        "{md}"
    );
    // A reason (keyed without line and column) whose `code` names the text of one of the two
    // lines explains that one only; a reason for a mutant no longer missed is listed as stale.
    let (code, out, md) = mutants(
        "- mutant: 'q.rs: replace + with - in f'\n  code: a + 0\n  why: a | 0 is a\n\
         - mutant: 'gone.rs: replace f with ()'\n  why: was missed once\n",
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("1 missed without a reason"), "{out}");
    assert!(
        md.contains("| `q.rs:2:9: replace + with - in f` | a \\| 0 is a |"),
        "{md}"
    );
    assert!(
        md.contains("| `q.rs:3:9: replace + with - in f` | **UNEXPLAINED**"),
        "{md}"
    );
    assert!(
        md.contains("not missed in this run\n\n- `gone.rs: replace f with ()`"),
        "{md}"
    );
    // Without `code` the reason covers both sites; the score gate still applies.
    let (code, out, _) = mutants("- mutant: 'q.rs: replace + with - in f'\n  why: adding\n");
    assert!(
        out.contains("0 missed without a reason; 1 not tested; gate 80%: FAIL"),
        "{out}"
    );
    assert_eq!(code, 1);
    // Over a lower bar, every missed mutant explained: still a failure while one mutant went
    // untested, a pass once the second run brings it.
    let explained = "- mutant: 'q.rs: replace + with - in f'\n  why: adding\n";
    let (code, out, _) = mutants_min(explained, "70");
    assert!(out.contains("1 not tested; gate 70%: FAIL"), "{out}");
    assert_eq!(code, 1);
    let (code, out, _) = mutants_runs(explained, "70", &[&outcomes, &rest]);
    assert!(
        out.contains(
            "9 of 9 mutants tested); 0 missed without a reason; 0 not tested; gate 70%: pass"
        ),
        "{out}"
    );
    assert_eq!(code, 0);
    // A reason left empty, or an unknown field, is refused.
    let (code, out, _) = mutants("- mutant: 'q.rs: replace + with - in f'\n  why: ' '\n");
    assert!(code == 2 && out.contains("has no reason"), "{code} {out}");
    let (code, _, _) = mutants("- mutant: x\n  why: y\n  because: z\n");
    assert_eq!(code, 2);
    let text = std::fs::read_to_string(&readme).unwrap();
    assert!(
        text.contains("| line coverage |") && text.contains("| mutation score |"),
        "{text}"
    );
}

/// One exit code per outcome, whatever the output format: 0 holds (NOT RUN only where declared),
/// 1 violated, 2 a contract that does not load, 3 did not run for an undeclared reason.
#[test]
fn every_outcome_exits_the_same_in_every_format() {
    let root = common::repo_root();
    let root = root.to_str().unwrap();
    let gpu = GOOD
        .replace(
            "check: layout",
            "requires: [gpu]\n    check: gpu_parity\n    params: {model: tiny-gqa, file: Q4_K_M, backend: cuda}",
        )
        .replace("metric: mismatches", "metric: rel_l2");
    let missing = GOOD
        .replace(
            "check: layout",
            "check: kv_consistency\n    params: {model: no-such-model, file: F32}",
        )
        .replace("metric: mismatches", "metric: max_abs");
    let impossible = GOOD
        .replace(
            "check: layout",
            "check: logits_parity\n    params: {model: tiny-gqa, file: F32, reference: hf_f64}",
        )
        .replace("metric: mismatches", "metric: same_top")
        .replace("threshold: 0", "threshold: 1.5");
    for (name, text, code) in [
        ("holds", GOOD.to_string(), 0),
        ("not run where declared", gpu.clone(), 0),
        ("violated", impossible, 1),
        (
            "does not load",
            GOOD.replace("check: layout", "check: layuot"),
            2,
        ),
        ("did not run", missing, 3),
        (
            "undeclared requirement",
            gpu.replace("requires: [gpu]\n    ", ""),
            3,
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "c.yaml", &text);
        let d = dir.path().to_str().unwrap();
        for format in ["text", "json", "junit"] {
            let args = [
                "verify",
                "--contracts",
                d,
                "--root",
                root,
                "--format",
                format,
            ];
            let (got, out, err) = oracle(&args);
            assert_eq!(got, code, "{name}, --format {format}: {out}{err}");
            if format == "json" && code != 2 {
                let v: serde_json::Value = serde_json::from_str(&out).unwrap();
                assert_eq!(v["ok"], code == 0, "{name}: {out}");
            }
        }
    }
}

/// A contract whose falsification still holds is BROKEN and fails the run: here the injector
/// injects nothing, as an engine built without hooks would, so every declared fault goes
/// uncaught.
#[test]
fn a_fault_that_is_not_caught_breaks_the_contract_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let c = load_file(&write(dir.path(), "c.yaml", GOOD)).unwrap();
    let ctx = realizar_oracle::checks::Ctx::new(&common::repo_root());
    let inert: &dyn Fn(Option<realizar_oracle::contract::Fault>) = &|_| {};
    let falsify = realizar_oracle::verify::Falsify {
        inject: Some(inert),
    };
    let result = realizar_oracle::verify::evaluate(&c, &ctx, Some(falsify));
    assert_eq!(result.verdict, Verdict::Broken, "{result:?}");
    assert_eq!(result.falsification[0].caught, Some(false));
    let results = [result];
    assert_eq!(realizar_oracle::verify::exit_code(&results), 1);
    let json = realizar_oracle::report::json(&results);
    assert!(json.contains("\"BROKEN\""), "{json}");
    let junit = realizar_oracle::report::junit(&results);
    assert!(junit.contains("<failure"), "{junit}");
}

/// `oracle verify --set NAME`: the standard parity contracts over one golden set, from what the
/// set holds; a set that is not there, or a quantization the committed contracts set no
/// threshold for, is refused by name.
#[test]
fn verify_set_runs_the_standard_contracts_over_one_golden_set() {
    let root = common::repo_root();
    let (r, contracts) = (root.to_str().unwrap(), root.join("contracts"));
    let c = contracts.to_str().unwrap();
    let (code, out, err) = oracle(&[
        "verify",
        "--set",
        "tiny-qwen3",
        "--root",
        r,
        "--contracts",
        c,
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("set-tiny-qwen3.yaml"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let set = &v["contracts"][0];
    assert_eq!(
        (&set["id"], &set["verdict"]),
        (&"SET-TINY-QWEN3".into(), &"HOLDS".into())
    );
    let ids: Vec<&str> = set["obligations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "f32-gguf-batch",
            "f32-gguf-incremental",
            "hf-dir",
            "q4_k_m-batch",
            "q4_k_m-incremental",
            "q8_0-batch",
            "q8_0-incremental",
            "trace",
            "kv",
            "same-twice"
        ]
    );
    let (code, _, err) = oracle(&[
        "verify",
        "--set",
        "no-such-set",
        "--root",
        r,
        "--contracts",
        c,
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("--set no-such-set"), "{err}");
    // A quantization the committed contracts never name gets no invented threshold.
    let dir = tempfile::tempdir().unwrap();
    let only = dir.path().join("parity-quant-llamacpp.yaml");
    let text = std::fs::read_to_string(contracts.join("parity-quant-llamacpp.yaml")).unwrap();
    let kept: Vec<&str> = text.lines().filter(|l| !l.contains("file: Q8_0")).collect();
    std::fs::write(&only, kept.join("\n")).unwrap();
    let (code, _, err) = oracle(&[
        "verify",
        "--set",
        "tiny-qwen3",
        "--root",
        r,
        "--contracts",
        dir.path().to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(
        err.contains("Q8_0") && err.contains("no threshold"),
        "{err}"
    );
}
