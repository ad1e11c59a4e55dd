//! realizar: a verification-first LLM inference engine.
//!
//! Every invariant the engine relies on is a contract checked against outside references
//! (llama.cpp, HuggingFace transformers, gguf-py) by the `realizar-oracle` crate.

pub mod backend;
pub mod cli;
pub mod faults;
pub mod format;
pub mod generation;
pub mod model;
pub mod ops;
pub mod quant;
pub mod sampling;
pub mod tokenizer;
