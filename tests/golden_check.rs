//! `oracle golden check` passes on the committed goldens and fails, naming the file, on each
//! fault it guards against: a changed byte, a missing or stray file, a tensor whose dtype or
//! shape differs from the manifest, and a generating script edited after the goldens were made.

mod common;

use std::path::{Path, PathBuf};

use realizar_oracle::golden::{check_set, find_sets, sha256_hex, SetReport};
use serde_json::json;

#[test]
fn committed_goldens_match_their_manifests() {
    let root = common::repo_root();
    let sets = find_sets(&root.join("golden")).unwrap();
    assert!(sets.len() >= 5, "{sets:?}");
    for set in sets {
        let report = check_set(&root, &set);
        assert!(report.problems.is_empty(), "{:#?}", report.problems);
        assert!(report.files > 0, "{}", report.set);
    }
}

/// A repository root holding one golden set made by golden/scripts/make.py: a safetensors
/// file, a plain file, and the manifest the script would write.
struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    set: PathBuf,
}

const SCRIPT: &str = "golden/scripts/make.py";

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let set = root.join("golden/demo");
    std::fs::create_dir_all(set.join("sub")).unwrap();
    std::fs::create_dir_all(root.join("golden/scripts")).unwrap();
    std::fs::write(root.join(SCRIPT), "print('goldens')\n").unwrap();
    let mut rng = common::Rng::new(7);
    let values: Vec<u8> = (0..24).flat_map(|_| rng.unit().to_le_bytes()).collect();
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![4, 6], &values).unwrap();
    let st = safetensors::serialize([("logits", view)], None).unwrap();
    std::fs::write(set.join("out.safetensors"), &st).unwrap();
    std::fs::write(set.join("sub/tokens.json"), "[1, 2, 3]\n").unwrap();
    let entry = |path: &Path| {
        let data = std::fs::read(path).unwrap();
        json!({"sha256": sha256_hex(&data), "bytes": data.len()})
    };
    let mut out = entry(&set.join("out.safetensors"));
    out["tensors"] = json!({"logits": {"dtype": "float32", "shape": [4, 6]}});
    let manifest = json!({
        "command": format!("uv run {SCRIPT}"),
        "script_sha256": sha256_hex(&std::fs::read(root.join(SCRIPT)).unwrap()),
        "files": {"out.safetensors": out, "sub/tokens.json": entry(&set.join("sub/tokens.json"))},
    });
    write_manifest(&set, &manifest);
    Fixture {
        _tmp: tmp,
        root,
        set,
    }
}

fn write_manifest(set: &Path, manifest: &serde_json::Value) {
    let text = serde_json::to_string_pretty(manifest).unwrap();
    std::fs::write(set.join("manifest.json"), text).unwrap();
}

fn read_manifest(set: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(set.join("manifest.json")).unwrap()).unwrap()
}

fn check(f: &Fixture) -> SetReport {
    check_set(&f.root, &f.set)
}

/// The single problem the fault produced, as "path: what".
fn only_problem(f: &Fixture) -> String {
    let report = check(f);
    assert_eq!(report.problems.len(), 1, "{:#?}", report.problems);
    report.problems[0].to_string()
}

#[test]
fn an_intact_set_passes() {
    let f = fixture();
    let report = check(&f);
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    assert_eq!((report.set.as_str(), report.files), ("golden/demo", 2));
}

#[test]
fn one_changed_byte_is_a_sha256_mismatch() {
    let f = fixture();
    let path = f.set.join("out.safetensors");
    let mut data = std::fs::read(&path).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0x01;
    std::fs::write(&path, data).unwrap();
    let p = only_problem(&f);
    assert!(p.starts_with("golden/demo/out.safetensors: sha256"), "{p}");
}

#[test]
fn a_missing_file_is_named() {
    let f = fixture();
    std::fs::remove_file(f.set.join("sub/tokens.json")).unwrap();
    assert_eq!(
        only_problem(&f),
        "golden/demo/sub/tokens.json: listed in manifest.json but missing"
    );
}

#[test]
fn a_stray_file_is_named() {
    let f = fixture();
    std::fs::write(f.set.join("sub/extra.bin"), b"x").unwrap();
    assert_eq!(
        only_problem(&f),
        "golden/demo/sub/extra.bin: not listed in manifest.json"
    );
}

#[test]
fn a_truncated_file_is_a_size_mismatch() {
    let f = fixture();
    let path = f.set.join("sub/tokens.json");
    std::fs::write(&path, "[1, 2]\n").unwrap();
    let p = only_problem(&f);
    assert!(p.contains("7 bytes, manifest says 10"), "{p}");
}

/// The file is intact but the manifest describes it wrongly: the tensors are read, not trusted.
#[test]
fn a_tensor_shape_or_dtype_unlike_the_manifest_is_named() {
    for (field, value, expect) in [
        (
            "shape",
            json!([6, 4]),
            "is float32 [4, 6], manifest says float32 [6, 4]",
        ),
        (
            "dtype",
            json!("float64"),
            "is float32 [4, 6], manifest says float64 [4, 6]",
        ),
    ] {
        let f = fixture();
        let mut m = read_manifest(&f.set);
        m["files"]["out.safetensors"]["tensors"]["logits"][field] = value;
        write_manifest(&f.set, &m);
        let p = only_problem(&f);
        assert!(p.ends_with(expect), "{p}");
    }
    let f = fixture();
    let mut m = read_manifest(&f.set);
    m["files"]["out.safetensors"]["tensors"]["hidden"] = json!({"dtype": "float32", "shape": [1]});
    write_manifest(&f.set, &m);
    assert!(only_problem(&f).ends_with("tensor hidden listed in the manifest is missing"));
}

#[test]
fn a_script_edited_after_its_goldens_is_stale() {
    let f = fixture();
    std::fs::write(f.root.join(SCRIPT), "print('goldens, differently')\n").unwrap();
    let p = only_problem(&f);
    assert!(
        p.starts_with("golden/demo/manifest.json: golden/scripts/make.py changed"),
        "{p}"
    );
    assert!(p.contains("uv run golden/scripts/make.py"), "{p}");
}

#[test]
fn an_edited_source_the_manifest_lists_is_stale() {
    let f = fixture();
    let helper = "golden/scripts/helper.c";
    std::fs::write(f.root.join(helper), "int main(void) { return 0; }\n").unwrap();
    let mut m = read_manifest(&f.set);
    m["sources"] = json!({helper: sha256_hex(&std::fs::read(f.root.join(helper)).unwrap())});
    write_manifest(&f.set, &m);
    assert!(check(&f).problems.is_empty());
    std::fs::write(f.root.join(helper), "int main(void) { return 1; }\n").unwrap();
    let p = only_problem(&f);
    assert!(
        p.starts_with("golden/demo/manifest.json: golden/scripts/helper.c changed"),
        "{p}"
    );
}

/// The oracle CLI in-process: (exit code, stdout).
fn oracle(args: &[&str]) -> (i32, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let argv = std::iter::once("oracle").chain(args.iter().copied());
    let code = realizar_oracle::cli::run(argv, &mut out, &mut err);
    (code, String::from_utf8(out).unwrap())
}

#[test]
fn the_cli_exits_1_on_a_problem_and_reports_json() {
    let f = fixture();
    let dir = f.root.join("golden");
    let dir = dir.to_str().unwrap();
    let (code, text) = oracle(&["golden", "check", "--dir", dir]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.ends_with("golden check: 1 sets, 2 files (0.0 MB) match their manifests\n"),
        "{text}"
    );
    std::fs::write(f.set.join("stray"), b"x").unwrap();
    let (code, text) = oracle(&["golden", "check", "--dir", dir, "--json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["sets"][0]["problems"][0]["path"], "golden/demo/stray");
    let (code, _) = oracle(&["golden", "check", "--dir", "/nonexistent/golden"]);
    assert_eq!(code, 2);
}
