//! The `realizar` command line. `run` is the whole program, so tests drive it in-process and the
//! binary is a one-line wrapper.

mod dump;
mod generate;
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
    /// Per-position logits for a token sequence, as a float32 .npy of shape [n_tokens, n_vocab].
    ///
    /// For comparison with any other engine: give the same token ids to both. The whole sequence
    /// runs as one batch, or with --incremental one token per call through the KV cache.
    Logits {
        /// GGUF file or HuggingFace model directory.
        #[arg(value_name = "MODEL")]
        model: PathBuf,
        /// Comma-separated token ids, e.g. 1,450,3012.
        #[arg(
            long,
            value_name = "IDS",
            conflicts_with = "prompt",
            required_unless_present = "prompt"
        )]
        tokens: Option<String>,
        /// Text to tokenize with the model's tokenizer (BOS added as the model asks).
        #[arg(long, value_name = "TEXT")]
        prompt: Option<String>,
        /// Output .npy path.
        #[arg(long, value_name = "FILE.npy")]
        out: PathBuf,
        /// One token per forward call instead of one batch.
        #[arg(long)]
        incremental: bool,
        /// Worker threads (0: one per core).
        #[arg(long, default_value_t = 0)]
        threads: usize,
    },
    /// Token ids of TEXT under the model's tokenizer, with each token's piece.
    Tokenize {
        /// GGUF file (its tokenizer.ggml.* metadata) or HuggingFace directory (tokenizer.model).
        #[arg(value_name = "MODEL")]
        model: PathBuf,
        #[arg(value_name = "TEXT")]
        text: String,
        /// Print JSON for machines instead of a table.
        #[arg(long)]
        json: bool,
        /// Leave out BOS/EOS even where the vocabulary asks for them.
        #[arg(long)]
        no_special: bool,
        /// Turn special-token text such as <s> into its token.
        #[arg(long)]
        parse_special: bool,
    },
    /// Generate text: the prompt runs as one batch, then one token at a time, streamed.
    ///
    /// Ends with the prompt and decode speeds (tokens/s) on stderr. Sampling follows llama.cpp's
    /// chain: repetition penalty, top-k, top-p, min-p, temperature; --temperature 0 is greedy.
    /// The same seed gives the same text.
    Run {
        /// GGUF file or HuggingFace model directory.
        #[arg(value_name = "MODEL")]
        model: PathBuf,
        #[arg(long, value_name = "TEXT")]
        prompt: String,
        #[arg(long, default_value_t = 128)]
        max_tokens: usize,
        #[arg(long, default_value_t = 0.8)]
        temperature: f32,
        /// 0 keeps every token.
        #[arg(long, default_value_t = 40)]
        top_k: usize,
        #[arg(long, default_value_t = 0.95)]
        top_p: f32,
        #[arg(long, default_value_t = 0.05)]
        min_p: f32,
        /// 1.0 is off.
        #[arg(long, default_value_t = 1.0)]
        repeat_penalty: f32,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Worker threads (0: one per core).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// KV cache positions (0: the model's context length, at most 4096).
        #[arg(long, default_value_t = 0)]
        ctx: usize,
    },
}

/// Parses `args` for a clap command line, or renders clap's message and returns the exit code:
/// --help and --version go to `out` with 0, usage errors to `err` with 2. Shared with the oracle.
pub fn parse<C, I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> Result<C, i32>
where
    C: Parser,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    C::try_parse_from(args).map_err(|e| {
        let sink: &mut dyn Write = if e.use_stderr() { err } else { out };
        let _ = write!(sink, "{}", e.render());
        e.exit_code()
    })
}

/// Runs the CLI with `args` (including the program name) and returns the process exit code.
pub fn run<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli: Cli = match parse(args, out, err) {
        Ok(cli) => cli,
        Err(code) => return code,
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
        Command::Logits {
            model,
            tokens,
            prompt,
            out: path,
            incremental,
            threads,
        } => generate::logits(
            generate::LogitsArgs {
                model: &model,
                tokens: tokens.as_deref(),
                prompt: prompt.as_deref(),
                out_path: &path,
                incremental,
                threads,
            },
            out,
        ),
        Command::Tokenize {
            model,
            text,
            json,
            no_special,
            parse_special,
        } => generate::tokenize(&model, &text, !no_special, parse_special, json, out),
        Command::Run {
            model,
            prompt,
            max_tokens,
            temperature,
            top_k,
            top_p,
            min_p,
            repeat_penalty,
            seed,
            threads,
            ctx,
        } => {
            let sampler = crate::sampling::SamplerConfig {
                temperature,
                top_k,
                top_p,
                min_p,
                repeat_penalty,
                repeat_last_n: 64,
                seed,
            };
            let args = generate::RunArgs {
                model: &model,
                prompt: &prompt,
                max_tokens,
                ctx,
                threads,
                sampler,
            };
            generate::run(args, out, err)
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            EXIT_BAD_INPUT
        }
    }
}
