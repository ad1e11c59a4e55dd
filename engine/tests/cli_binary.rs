//! The real `realizar` binary on every committed fuzz seed: exit 0 (valid) or 1 (invalid), never
//! a panic (101) or a signal.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Command;

#[test]
fn inspect_never_panics_on_any_seed() {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut seen = 0;
    let mut rejected = 0;
    for target in std::fs::read_dir(&corpus).expect("fuzz/corpus is committed") {
        for seed in std::fs::read_dir(target.unwrap().path()).unwrap() {
            let path = seed.unwrap().path();
            for json in [false, true] {
                let mut cmd = Command::new(env!("CARGO_BIN_EXE_realizar"));
                cmd.arg("inspect").arg(&path);
                if json {
                    cmd.arg("--json");
                }
                let out = cmd.output().unwrap();
                let status = out.status;
                assert_eq!(
                    status.signal(),
                    None,
                    "{}: killed by a signal",
                    path.display()
                );
                match status.code() {
                    Some(0) => assert!(out.stderr.is_empty(), "{}", path.display()),
                    Some(1) => {
                        rejected += 1;
                        assert!(out.stdout.is_empty(), "{}", path.display());
                        assert!(out.stderr.starts_with(b"error: "), "{}", path.display());
                    }
                    other => panic!(
                        "{}: exit {other:?}: {}",
                        path.display(),
                        String::from_utf8_lossy(&out.stderr)
                    ),
                }
                seen += 1;
            }
        }
    }
    assert!(seen >= 2 * 100, "only {seen} runs");
    assert!(rejected > seen / 2, "only {rejected} of {seen} rejected");
}
