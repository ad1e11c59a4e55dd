//! The fuzz targets, read from the one list of them: the `[[bin]]` sections of `fuzz/Cargo.toml`,
//! which cargo-fuzz needs anyway. The Makefile, the parser contract's level and the seed-corpus
//! test all read it from there, so a new target is one section in that file.

use std::path::Path;

/// The fuzz crate's manifest, relative to the repository root.
pub const MANIFEST: &str = "fuzz/Cargo.toml";

/// Every target's name, in the manifest's order.
pub fn targets(root: &Path) -> Result<Vec<String>, String> {
    let path = root.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let names = parse(&text);
    if names.is_empty() {
        return Err(format!("{}: no [[bin]] target", path.display()));
    }
    Ok(names)
}

/// The `name` of each `[[bin]]` section. The manifest is ours and plain (`name = "..."` on its
/// own line), so a line reader is enough; a quoted value is required.
fn parse(text: &str) -> Vec<String> {
    let mut in_bin = false;
    let mut names = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
            continue;
        }
        let Some(value) = line.strip_prefix("name").map(str::trim_start) else {
            continue;
        };
        let name = value
            .strip_prefix('=')
            .map(str::trim)
            .and_then(|v| v.strip_prefix('"'))
            .and_then(|v| v.strip_suffix('"'));
        if let (true, Some(name)) = (in_bin, name) {
            names.push(name.to_string());
        }
    }
    names
}

/// The path of a target's source file.
pub fn source(root: &Path, target: &str) -> std::path::PathBuf {
    root.join(format!("fuzz/fuzz_targets/{target}.rs"))
}

/// The folder of a target's committed seed corpus.
pub fn corpus(root: &Path, target: &str) -> std::path::PathBuf {
    root.join("fuzz/corpus").join(target)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn only_bin_sections_name_targets() {
        let text = "[package]\nname = \"realizar-fuzz\"\n\n[[bin]]\nname = \"a_b\"\npath = \"x\"\n\
                    [dependencies]\nname = \"no\"\n[[bin]]\n  name=\"c\"\nnamespace = \"d\"\n";
        assert_eq!(parse(text), ["a_b", "c"]);
    }
}
