//! The `realizar` command line. `run` is the whole program, so tests drive it in-process and the
//! binary is a one-line wrapper.

mod dump;
mod inspect;
mod load;
mod logits;
mod protocol;
mod run;
mod tokenize;

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
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Answer one request of the oracle's engine protocol (docs/engine-protocol.md).
    ///
    /// REQUEST is a JSON file: `{"protocol": 1, "op": "logits", "model": PATH, "tokens": [..],
    /// "mode": "batch"|"incremental", "output": FILE.npy}` or `{"protocol": 1, "op": "tokenize",
    /// "vocab": PATH, "texts": [..], "add_special": bool, "parse_special": bool, "output":
    /// FILE.json}` or `{"protocol": 1, "op": "trace", "model": PATH, "tokens": [..], "output":
    /// FOLDER}` (one NAME.npy per intermediate). This is how `oracle verify --engine
    /// 'cmd:realizar protocol'` runs realizar as an external engine; any engine that answers the
    /// same requests can be checked alike.
    Protocol {
        #[arg(value_name = "REQUEST.json")]
        request: PathBuf,
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
        /// KV cache positions (0: the model's context length, at most 4096).
        #[arg(long, default_value_t = 0)]
        ctx: usize,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// The backends (cpu, gpu) and the GPU adapters wgpu finds on this machine.
    ///
    /// `--backend gpu` opens the adapter marked as chosen: the best with compute shaders
    /// (discrete, integrated, virtual, then software such as Mesa's lavapipe), or the first whose
    /// name contains the value of REALIZAR_GPU_ADAPTER.
    Backends {
        /// Print JSON for machines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The CPU kernels, the features each needs, and which this CPU runs.
    ///
    /// `auto` (the default of --kernel) picks the fastest one this CPU runs. --without masks
    /// features off, to show what a smaller CPU would get.
    Kernels {
        /// Print JSON for machines instead of a table.
        #[arg(long)]
        json: bool,
        /// CPU features to treat as absent, e.g. --without avx512vnni.
        #[arg(long, value_delimiter = ',', value_name = "FEATURE")]
        without: Vec<String>,
    },
}

/// How the model-running commands (`logits`, `run`) load and run the model.
#[derive(clap::Args)]
struct EngineArgs {
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// The CPU kernel for matrix products; one this CPU lacks is an error, never a fallback.
    #[arg(long, value_enum, default_value_t = KernelArg::Auto)]
    kernel: KernelArg,
    /// Where the forward pass runs; a GPU that cannot run the model is an error, never a
    /// fallback to the CPU (`realizar backends` lists this machine's adapters).
    #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
    backend: BackendArg,
    /// Decode from the mapped file's rows instead of the copy the avx512 kernel packs at load
    /// (its Q4_K, Q6_K and Q8_0 matrices, one row per lane): about that much less memory, a
    /// slower decode, the same bits. Other kernels and the GPU pack nothing.
    #[arg(long)]
    no_pack: bool,
}

impl EngineArgs {
    fn load(&self) -> load::Load {
        load::Load {
            threads: self.threads,
            kernel: self.kernel.kernel(),
            backend: self.backend.kind(),
            pack: !self.no_pack,
        }
    }
}

/// `--kernel`: a named kernel, or the fastest this CPU runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KernelArg {
    Auto,
    Scalar,
    Avx2,
    Avx512,
}

impl KernelArg {
    pub fn kernel(self) -> crate::quant::Kernel {
        use crate::quant::Kernel;
        match self {
            KernelArg::Auto => Kernel::best(),
            KernelArg::Scalar => Kernel::Scalar,
            KernelArg::Avx2 => Kernel::Avx2,
            KernelArg::Avx512 => Kernel::Avx512,
        }
    }
}

/// `--backend`: where the forward pass runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendArg {
    Cpu,
    Gpu,
}

impl BackendArg {
    pub fn kind(self) -> crate::backend::BackendKind {
        match self {
            BackendArg::Cpu => crate::backend::BackendKind::Cpu,
            BackendArg::Gpu => crate::backend::BackendKind::Gpu,
        }
    }
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
        Command::Kernels { json, without } => kernels(json, &without, out),
        Command::Backends { json } => backends(json, out),
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
            engine,
        } => logits::logits(
            logits::LogitsArgs {
                model: &model,
                tokens: tokens.as_deref(),
                prompt: prompt.as_deref(),
                out_path: &path,
                incremental,
                load: engine.load(),
            },
            out,
        ),
        Command::Protocol { request } => protocol::run(&request),
        Command::Tokenize {
            model,
            text,
            json,
            no_special,
            parse_special,
        } => tokenize::tokenize(&model, &text, !no_special, parse_special, json, out),
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
            ctx,
            engine,
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
            let args = run::RunArgs {
                model: &model,
                prompt: &prompt,
                max_tokens,
                ctx,
                load: engine.load(),
                sampler,
            };
            run::run(args, out, err)
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

/// `realizar kernels`: each kernel, what it needs, and whether this CPU (less --without) runs it.
fn kernels(json: bool, without: &[String], out: &mut dyn Write) -> Result<(), String> {
    use crate::quant::{CpuFeatures, Kernel, FEATURES};
    let names: Vec<&str> = without.iter().map(String::as_str).collect();
    let features = CpuFeatures::detect()
        .without(&names)
        .map_err(|e| e.to_string())?;
    let best = Kernel::best_for(features);
    let rows: Vec<serde_json::Value> = Kernel::ALL
        .iter()
        .map(|k| {
            serde_json::json!({
                "kernel": k.name(),
                "needs": k.needs(),
                "runs": k.check_for(features).is_ok(),
                "missing": k.check_for(features).err().map(|e| e.to_string()),
                "auto": *k == best,
            })
        })
        .collect();
    let present: Vec<&str> = FEATURES
        .iter()
        .copied()
        .filter(|f| features.has(f))
        .collect();
    let written = if json {
        writeln!(
            out,
            "{}",
            serde_json::json!({"features": present, "masked": names, "kernels": rows})
        )
    } else {
        let mut text = format!(
            "CPU features: {}{}\n",
            present.join(" "),
            if names.is_empty() {
                String::new()
            } else {
                format!(" (masked off: {})", names.join(" "))
            }
        );
        for k in Kernel::ALL {
            let status = match k.check_for(features) {
                Ok(()) if k == best => "runs (auto picks it)".to_string(),
                Ok(()) => "runs".to_string(),
                Err(e) => format!("unavailable: {e}"),
            };
            text += &format!(
                "{:<8} needs [{}]: {status}\n",
                k.name(),
                k.needs().join(" ")
            );
        }
        out.write_all(text.as_bytes())
    };
    written.map_err(|e| e.to_string())
}

/// `realizar backends`: cpu always; gpu with the adapter it would open, or why it cannot.
fn backends(json: bool, out: &mut dyn Write) -> Result<(), String> {
    use crate::backend::{adapters, gpu_adapter};
    let listed = adapters();
    let gpu = gpu_adapter();
    let written = if json {
        let v = serde_json::json!({
            "backends": [
                {"backend": "cpu", "available": true},
                {
                    "backend": "gpu",
                    "available": gpu.is_ok(),
                    "adapter": gpu.as_ref().ok().map(|a| &a.name),
                    "why_not": gpu.as_ref().err().map(|e| e.to_string()),
                },
            ],
            "adapters": listed.as_ref().ok(),
        });
        writeln!(out, "{v}")
    } else {
        let mut text = String::from("cpu  available\n");
        text += &match &gpu {
            Ok(a) => format!(
                "gpu  available: {} ({}, {})\n",
                a.name, a.backend, a.device_type
            ),
            Err(e) => format!("gpu  unavailable: {e}\n"),
        };
        for a in listed.iter().flatten() {
            text += &format!(
                "  adapter {:<40} {:<7} {:<14} {}{}{}\n",
                a.name,
                a.backend,
                a.device_type,
                a.driver,
                if a.compute {
                    ""
                } else {
                    " (no compute shaders)"
                },
                if a.chosen { " <- --backend gpu" } else { "" },
            );
        }
        out.write_all(text.as_bytes())
    };
    written.map_err(|e| e.to_string())
}
