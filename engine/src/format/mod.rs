//! Model file formats: GGUF and safetensors, each validated in one place with one error enum.

pub mod gguf;
pub mod safetensors;
