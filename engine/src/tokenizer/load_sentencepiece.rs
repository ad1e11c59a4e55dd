//! A tokenizer from a SentencePiece `tokenizer.model` file.

use super::{Kind, Parts, TokenType, Tokenizer, TokenizerError};
use crate::format::sentencepiece::SpModel;

impl Tokenizer {
    /// A SentencePiece `tokenizer.model` file's bytes.
    pub fn from_sentencepiece(
        bytes: &[u8],
        add_bos: bool,
        add_eos: bool,
    ) -> Result<Self, TokenizerError> {
        let sp = SpModel::parse(bytes).map_err(|e| TokenizerError::Bad(e.to_string()))?;
        Self::build(Parts {
            model_name: String::new(),
            architecture: String::new(),
            scores: sp.pieces.iter().map(|p| p.1).collect(),
            types: sp
                .pieces
                .iter()
                .map(|p| TokenType::from_id(p.2.into()))
                .collect(),
            pieces: sp.pieces.into_iter().map(|p| p.0).collect(),
            bos: Some(sp.bos_id),
            eos: Some(sp.eos_id),
            unk: Some(sp.unk_id),
            add_bos,
            add_eos,
            kind: Kind::Spm {
                add_space_prefix: sp.add_dummy_prefix,
            },
        })
    }
}
