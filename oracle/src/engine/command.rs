//! Any engine as a program: each request is a JSON file given as the program's last argument;
//! the answer is the file the request names (docs/engine-protocol.md). The oracle runs the
//! program once per request, in a scratch folder of its own.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use super::{Engine, Logits, Traced};
use crate::checks::{engine, env, Failure};
use crate::contract::{KernelName, Mode};

/// The protocol version the oracle speaks.
pub const PROTOCOL: u32 = 1;

pub struct Command {
    program: PathBuf,
    args: Vec<String>,
}

impl Command {
    pub fn new(program: PathBuf, args: Vec<String>) -> Self {
        Command { program, args }
    }

    /// verify leaves out obligations that pin a kernel for any engine but the built-in one.
    fn no_kernel(&self, kernel: Option<KernelName>) -> Result<(), Failure> {
        match kernel {
            Some(k) => Err(env(format!(
                "the obligation pins realizar's {k:?} kernel; {} has none",
                self.name()
            ))),
            None => Ok(()),
        }
    }

    /// One `logits` request: one run of the program.
    fn one_call(
        &self,
        model: &Path,
        tokens: &[u32],
        mode: Mode,
        kernel: Option<KernelName>,
    ) -> Result<Logits, Failure> {
        self.no_kernel(kernel)?;
        super::golden_file(model)?;
        let request = serde_json::json!({
            "op": "logits",
            "model": model.display().to_string(),
            "tokens": tokens,
            "mode": match mode { Mode::Batch => "batch", Mode::Incremental => "incremental" },
        });
        let bytes = self.call(request, "logits.npy", read)?;
        let (shape, values) =
            read_npy_f32(&bytes).map_err(|e| engine(format!("logits.npy: {e}")))?;
        match shape[..] {
            [n, vocab] if n == tokens.len() => Ok(Logits {
                values,
                vocab,
                detail: self.name(),
            }),
            _ => Err(engine(format!(
                "logits.npy has shape {shape:?}; {} positions were asked for",
                tokens.len()
            ))),
        }
    }

    /// Runs the program on `request` (its `output` is filled in here) and reads that output
    /// (a file or, for a trace, a folder) with `read`.
    fn call<T>(
        &self,
        mut request: serde_json::Value,
        output_name: &str,
        read: impl FnOnce(&Path) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let scratch = tempdir()?;
        let output = scratch.join(output_name);
        request["protocol"] = PROTOCOL.into();
        request["output"] = output.display().to_string().into();
        let file = scratch.join("request.json");
        std::fs::write(&file, request.to_string())
            .map_err(|e| env(format!("{}: {e}", file.display())))?;
        let ran = Process::new(&self.program)
            .args(&self.args)
            .arg(&file)
            .output()
            // A program that cannot be started is this machine's problem, not the engine's.
            .map_err(|e| env(format!("{}: {e}", self.program.display())))?;
        let result = if !ran.status.success() {
            let why = String::from_utf8_lossy(&ran.stderr);
            Err(engine(format!(
                "{} exited with {}: {}",
                self.name(),
                ran.status,
                why.trim()
            )))
        } else if !output.exists() {
            Err(engine(format!(
                "{} exited 0 but wrote no {}",
                self.name(),
                output.display()
            )))
        } else {
            read(&output)
        };
        let _ = std::fs::remove_dir_all(&scratch);
        result
    }
}

/// An answer file's bytes.
fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| engine(format!("{}: {e}", path.display())))
}

/// A trace answer: one `NAME.npy` of shape `[positions, features]` per intermediate.
fn read_trace(dir: &Path, positions: usize) -> Result<realizar::model::Trace, Failure> {
    let mut trace = realizar::model::Trace::default();
    let entries = std::fs::read_dir(dir).map_err(|e| engine(format!("{}: {e}", dir.display())))?;
    for entry in entries {
        let path = entry
            .map_err(|e| engine(format!("{}: {e}", dir.display())))?
            .path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let Some(key) = name.strip_suffix(".npy") else {
            return Err(engine(format!(
                "trace/{name}: not a .npy file (the trace folder holds one NAME.npy per \
                 intermediate)"
            )));
        };
        let (shape, values) =
            read_npy_f32(&read(&path)?).map_err(|e| engine(format!("trace/{name}: {e}")))?;
        if !matches!(shape[..], [n, _] if n == positions) {
            return Err(engine(format!(
                "trace/{name} has shape {shape:?}; [{positions}, features] was asked for"
            )));
        }
        trace.tensors.insert(key.to_string(), (shape, values));
    }
    Ok(trace)
}

/// A fresh folder under the system's temporary directory.
fn tempdir() -> Result<PathBuf, Failure> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("oracle-engine-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| env(format!("{}: {e}", dir.display())))?;
    Ok(dir)
}

impl Engine for Command {
    fn name(&self) -> String {
        std::iter::once(self.program.display().to_string())
            .chain(self.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// One process per call: a request is answered by a fresh run of the program, so state
    /// between calls cannot leak here, whatever the engine keeps in process.
    fn logits_calls(
        &self,
        model: &Path,
        tokens: &[u32],
        modes: &[Mode],
        kernel: Option<KernelName>,
    ) -> Result<Vec<Logits>, Failure> {
        modes
            .iter()
            .map(|&mode| self.one_call(model, tokens, mode, kernel))
            .collect()
    }

    fn trace(
        &self,
        model: &Path,
        tokens: &[u32],
        kernel: Option<KernelName>,
    ) -> Result<Traced, Failure> {
        self.no_kernel(kernel)?;
        super::golden_file(model)?;
        let request = serde_json::json!({
            "op": "trace",
            "model": model.display().to_string(),
            "tokens": tokens,
        });
        let trace = self.call(request, "trace", |dir| read_trace(dir, tokens.len()))?;
        Ok(Traced {
            trace,
            detail: self.name(),
        })
    }

    fn tokenize(
        &self,
        vocab: &Path,
        texts: &[String],
        add_special: bool,
        parse_special: bool,
    ) -> Result<Vec<Vec<u32>>, Failure> {
        super::golden_file(vocab)?;
        let request = serde_json::json!({
            "op": "tokenize",
            "vocab": vocab.display().to_string(),
            "texts": texts,
            "add_special": add_special,
            "parse_special": parse_special,
        });
        let bytes = self.call(request, "tokens.json", read)?;
        #[derive(serde::Deserialize)]
        struct Answer {
            ids: Vec<Vec<u32>>,
        }
        let a: Answer =
            serde_json::from_slice(&bytes).map_err(|e| engine(format!("tokens.json: {e}")))?;
        if a.ids.len() != texts.len() {
            return Err(engine(format!(
                "tokens.json has {} id lists for {} texts",
                a.ids.len(),
                texts.len()
            )));
        }
        Ok(a.ids)
    }
}

/// A little-endian float32 `.npy` (version 1 or 2, C order): its shape and values. Sizes are
/// checked against the bytes, never trusted.
pub fn read_npy_f32(bytes: &[u8]) -> Result<(Vec<usize>, Vec<f32>), String> {
    let magic = b"\x93NUMPY";
    if bytes.len() < 10 || &bytes[..6] != magic {
        return Err("not a .npy file".into());
    }
    let (header_len, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let end = start
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .ok_or("header runs past the end")?;
    let header = std::str::from_utf8(&bytes[start..end]).map_err(|e| e.to_string())?;
    let field = |key: &str| {
        let at = header.find(key).ok_or(format!("no {key} in {header:?}"))?;
        Ok::<&str, String>(header[at + key.len()..].trim_start_matches([':', ' ']))
    };
    if !field("'descr'")?.starts_with("'<f4'") {
        return Err(format!("not little-endian float32: {header}"));
    }
    if !field("'fortran_order'")?.starts_with("False") {
        return Err("Fortran order".into());
    }
    let shape_text = field("'shape'")?;
    let close = shape_text.find(')').ok_or("unterminated shape")?;
    let shape = shape_text[1..close]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|e| format!("shape {s:?}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("shape overflows")?;
    let data = &bytes[end..];
    if Some(data.len()) != count.checked_mul(4) {
        return Err(format!(
            "{} data bytes for shape {shape:?} ({count} float32)",
            data.len()
        ));
    }
    let values = data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((shape, values))
}

#[cfg(test)]
mod tests {
    use super::{read_npy_f32, read_trace};

    /// A trace folder is read name by name; anything but `NAME.npy` of `[positions, features]`
    /// is the engine's failure, named.
    #[test]
    fn a_trace_folder_holds_only_npy_files_of_one_row_per_position() {
        let dir = std::env::temp_dir().join(format!("oracle-trace-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, shape: &[usize]| {
            let values = vec![0.5f32; shape.iter().product()];
            let mut bytes = Vec::new();
            realizar::format::npy::write_f32(&mut bytes, shape, &values).unwrap();
            std::fs::write(dir.join(name), bytes).unwrap();
        };
        write("layers.0.q.npy", &[3, 4]);
        write("logits.npy", &[3, 7]);
        let trace = read_trace(&dir, 3).unwrap();
        let keys: Vec<&String> = trace.tensors.keys().collect();
        assert_eq!(keys, ["layers.0.q", "logits"]);
        assert_eq!(trace.tensors["logits"].0, [3, 7]);
        let err = |positions| read_trace(&dir, positions).err().unwrap().to_string();
        assert!(err(2).contains("[2, features] was asked for"), "{}", err(2));
        write("embedding.npy", &[3]);
        assert!(err(3).contains("embedding.npy has shape [3]"), "{}", err(3));
        std::fs::remove_file(dir.join("embedding.npy")).unwrap();
        std::fs::write(dir.join("notes.txt"), "x").unwrap();
        assert!(err(3).contains("notes.txt: not a .npy file"), "{}", err(3));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_what_the_engine_writes_and_rejects_short_data() {
        let mut bytes = Vec::new();
        realizar::format::npy::write_f32(&mut bytes, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, -6.5])
            .unwrap();
        let (shape, values) = read_npy_f32(&bytes).unwrap();
        assert_eq!(shape, [2, 3]);
        assert_eq!(values, [1.0, 2.0, 3.0, 4.0, 5.0, -6.5]);
        assert!(read_npy_f32(&bytes[..bytes.len() - 1]).is_err());
        assert!(read_npy_f32(&bytes[..20]).is_err());
    }
}
