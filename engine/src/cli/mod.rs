//! The `realizar` command line. `run` is the whole program, so tests drive it in-process and the
//! binary is a one-line wrapper.

mod dump;
mod inspect;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Exit code for a file that could not be read or failed validation.
pub const EXIT_BAD_INPUT: i32 = 1;
/// Exit code for a command line that could not be parsed (clap's convention).
pub const EXIT_USAGE: i32 = 2;

#[derive(Parser)]
#[command(
    name = "realizar",
    version,
    about = "A verification-first LLM inference engine",
    long_about = "realizar reads GGUF and safetensors models with strict validation and runs them; \
every numeric invariant is a contract checked against llama.cpp, HF transformers and gguf-py \
by the `oracle` tool.\n\nExit codes: 0 success, 1 unreadable or invalid input, 2 usage error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show a model file's header, metadata and tensors.
    ///
    /// FILE may be a GGUF file, a .safetensors file, or a HuggingFace model directory
    /// (model.safetensors, or shards listed by model.safetensors.index.json). The file is fully
    /// validated first: a malformed file prints the first error, with its byte offset, and exits 1.
    Inspect {
        /// The model file or directory.
        #[arg(value_name = "FILE")]
        path: PathBuf,
        /// Print JSON for machines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write one tensor, dequantized to float32, as a .npy file.
    ///
    /// The array is row-major with numpy's shape: a GGUF tensor's dims reversed (ggml lists ne0,
    /// the row length, first). Values equal gguf-py's `gguf.quants.dequantize` bit for bit.
    Dump {
        /// GGUF file, .safetensors file, or HuggingFace model directory.
        #[arg(value_name = "MODEL")]
        model: PathBuf,
        /// Tensor name, as `realizar inspect` lists it.
        #[arg(value_name = "TENSOR")]
        tensor: String,
        /// Output .npy path.
        #[arg(long, value_name = "FILE.npy")]
        out: PathBuf,
    },
}

/// Runs the CLI with `args` (including the program name) and returns the process exit code.
pub fn run<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are "errors" that go to stdout with exit code 0.
            let sink: &mut dyn Write = if e.use_stderr() { err } else { out };
            let _ = write!(sink, "{}", e.render());
            return e.exit_code();
        }
    };
    let result = match cli.command {
        Command::Inspect { path, json } => {
            inspect::run(&path, json, out).map_err(|e| e.to_string())
        }
        Command::Dump {
            model,
            tensor,
            out: path,
        } => dump::run(&model, &tensor, &path, out).map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            EXIT_BAD_INPUT
        }
    }
}
