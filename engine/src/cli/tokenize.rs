//! `realizar tokenize`.

use std::io::Write;
use std::path::Path;

use crate::tokenizer::{Tokenizer, TokenizerError};

/// `realizar tokenize`: the ids, and each id's piece.
pub fn tokenize(
    path: &Path,
    text: &str,
    add_special: bool,
    parse_special: bool,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), String> {
    let tok = Tokenizer::open(path).map_err(|e| match e {
        TokenizerError::Open(why) => why,
        e => format!("{}: {e}", path.display()),
    })?;
    let ids = tok.encode(text, add_special, parse_special);
    let pieces: Vec<&str> = ids.iter().map(|&i| tok.piece(i).unwrap_or("")).collect();
    if json {
        let v = serde_json::json!({"ids": ids, "pieces": pieces, "count": ids.len()});
        let _ = writeln!(out, "{v}");
    } else {
        for (id, piece) in ids.iter().zip(&pieces) {
            let _ = writeln!(out, "{id:>8}  {piece:?}");
        }
        let _ = writeln!(out, "{} tokens", ids.len());
    }
    Ok(())
}
