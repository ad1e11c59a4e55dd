//! `realizar protocol REQUEST.json`: realizar as an engine under test, speaking the oracle's
//! engine protocol (docs/engine-protocol.md) like any other engine would: one JSON request in,
//! one output file out, exit 0; anything else exits non-zero with the reason on stderr.
//!
//! This is the same code `realizar logits` and `realizar tokenize` run, so the oracle checks
//! through a process boundary exactly what users run.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::backend::Forward;
use crate::format::npy;
use crate::tokenizer::{Tokenizer, TokenizerError};

/// The protocol version this side speaks.
const VERSION: u32 = 1;

/// One request. Unknown fields are refused, never ignored: a newer oracle asking for something
/// this engine does not do must hear so.
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    /// Every position's logits as a float32 `.npy` of shape `[tokens, vocab]`.
    Logits {
        protocol: u32,
        model: PathBuf,
        tokens: Vec<u32>,
        mode: Mode,
        output: PathBuf,
    },
    /// Every named intermediate of one batch pass over `tokens`: the folder `output`, one
    /// float32 `.npy` of shape `[tokens, features]` per name (`layers.0.q.npy`, ...).
    Trace {
        protocol: u32,
        model: PathBuf,
        tokens: Vec<u32>,
        output: PathBuf,
    },
    /// Each text's token ids as JSON `{"ids": [[...], ...]}`.
    Tokenize {
        protocol: u32,
        vocab: PathBuf,
        texts: Vec<String>,
        add_special: bool,
        parse_special: bool,
        output: PathBuf,
    },
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Mode {
    Batch,
    Incremental,
}

fn version(protocol: u32) -> Result<(), String> {
    if protocol == VERSION {
        Ok(())
    } else {
        Err(format!(
            "protocol version {protocol} requested; this engine speaks {VERSION}"
        ))
    }
}

/// Answers the request in `path`.
pub fn run(path: &Path) -> Result<(), String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let request: Request =
        serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    match request {
        Request::Logits {
            protocol,
            model,
            tokens,
            mode,
            output,
        } => {
            version(protocol)?;
            let model = super::load::load_model(&model, &super::load::Load::best_cpu())?;
            let values =
                super::logits::logits_of(&model, &tokens, matches!(mode, Mode::Incremental))?;
            let shape = [tokens.len(), model.config().vocab];
            std::fs::File::create(&output)
                .and_then(|f| npy::write_f32(f, &shape, &values))
                .map_err(|e| format!("writing {}: {e}", output.display()))
        }
        Request::Trace {
            protocol,
            model,
            tokens,
            output,
        } => {
            version(protocol)?;
            let model = super::load::load_model(&model, &super::load::Load::best_cpu())?;
            let trace = model.trace_batch(&tokens).map_err(|e| e.to_string())?;
            std::fs::create_dir_all(&output)
                .map_err(|e| format!("creating {}: {e}", output.display()))?;
            for (key, (shape, values)) in &trace.tensors {
                let file = output.join(format!("{key}.npy"));
                std::fs::File::create(&file)
                    .and_then(|f| npy::write_f32(f, shape, values))
                    .map_err(|e| format!("writing {}: {e}", file.display()))?;
            }
            Ok(())
        }
        Request::Tokenize {
            protocol,
            vocab,
            texts,
            add_special,
            parse_special,
            output,
        } => {
            version(protocol)?;
            let tok = Tokenizer::open(&vocab).map_err(|e| match e {
                TokenizerError::Open(why) => why,
                e => format!("{}: {e}", vocab.display()),
            })?;
            let ids: Vec<Vec<u32>> = texts
                .iter()
                .map(|t| tok.encode(t, add_special, parse_special))
                .collect();
            std::fs::write(&output, serde_json::json!({ "ids": ids }).to_string())
                .map_err(|e| format!("writing {}: {e}", output.display()))
        }
    }
}
