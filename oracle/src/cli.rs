//! The `oracle` command line. `run` takes its arguments and output streams so tests drive it
//! in-process, as they do the engine's CLI.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use realizar::backend::BackendKind;

use crate::report::Format;

pub use crate::exit::{EXIT_DID_NOT_RUN, EXIT_OK, EXIT_USAGE, EXIT_VIOLATION};

#[derive(Parser)]
#[command(
    name = "oracle",
    version,
    about = "Checks realizar against outside references, contract by contract",
    long_about = "oracle turns the YAML contracts in contracts/ into verdicts against the goldens in \
golden/.\n\nExit codes (the same for every --format): 0 every obligation holds (one that declares a \
requirement this machine lacks, `requires: [gpu]`, may be NOT RUN), 1 a violation or a broken \
contract, 2 usage or load error, 3 an obligation that did not run for a reason it did not declare \
(a missing golden): never a pass."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check every contract and print the verdict table.
    ///
    /// Each obligation's check is measured against its threshold; with --falsify each contract's
    /// declared faults are injected into the engine and the contract must then be violated (a
    /// contract that still holds is BROKEN). A check that cannot run here is NOT RUN, never a pass.
    Verify {
        /// Folder of contract YAML files.
        #[arg(long, default_value = "contracts")]
        contracts: PathBuf,
        /// Instead of the contracts folder, the standard parity contracts over one golden set
        /// (a folder of golden/models or golden/local): f32 and HF directory against HF
        /// float64, each quantized file against llama.cpp (batch and incremental), the op trace,
        /// KV consistency and determinism, as far as the set has goldens for them; thresholds
        /// from the committed contracts. The generated contract's path is printed on stderr.
        #[arg(long, value_name = "NAME")]
        set: Option<String>,
        /// The repository root holding golden/.
        #[arg(long, default_value = ".")]
        root: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Inject each contract's faults and require a violation (needs the `falsify` feature).
        #[arg(long)]
        falsify: bool,
        /// Also write verify.json and junit.xml (falsify.json, falsify-junit.xml with --falsify)
        /// into this folder.
        #[arg(long, value_name = "DIR")]
        reports: Option<PathBuf>,
        /// The engine under test: `realizar` (built in), or `cmd:PROGRAM [ARGS...]`, a program
        /// that answers docs/engine-protocol.md's requests (for example `cmd:realizar
        /// protocol`). For another engine only the obligations that ask for logits, token ids
        /// or traces apply, and --falsify runs the contracts' perturbation cases around it.
        #[arg(long, value_name = "SPEC", default_value = "realizar")]
        engine: String,
    },
    /// An engine's forward pass against a golden set, op by op, with the first divergence.
    ///
    /// For each traced op (embedding; per layer attn_norm, q_norm and k_norm (Qwen3, Gemma 3),
    /// q, k, v, attn_out, attn_post_norm (Gemma), ffn_norm, ffn_gate, ffn_up, ffn_out,
    /// ffn_post_norm (Gemma), output; output_norm; logits): L2 norms, relative L2 error and the
    /// smallest per-token cosine against HF float64 (q and k after RoPE against llama.cpp's trace
    /// where the HF golden lacks them). Exit 1 if any op is above the tolerance.
    Diff {
        /// The model to run: a GGUF file or HF directory (for example the golden set's own F32 GGUF).
        #[arg(value_name = "MODEL")]
        model: PathBuf,
        /// The golden set: a folder name under golden/models (tiny-gqa, tiny-gemma3, ...).
        #[arg(long, value_name = "SET")]
        golden: String,
        /// Where realizar's pass runs: the CPU (its best kernel) or the GPU backend, whose named
        /// intermediates are read back from the device. No GPU is an error, not a fallback.
        #[arg(long, value_enum, default_value = "cpu")]
        backend: realizar::cli::BackendArg,
        /// The engine whose pass is traced: `realizar` (built in) or `cmd:PROGRAM [ARGS...]`,
        /// asked with the protocol's `trace` request (docs/engine-protocol.md).
        #[arg(long, value_name = "SPEC", default_value = "realizar")]
        engine: String,
        /// Compare with this engine's pass over the same file instead of the golden set's
        /// references, like with like (for example a quantized file against llama.cpp's own
        /// run of it: `--against cmd:golden/.cache/llama-build/bin/llama-engine`). The golden
        /// set still gives the tokens.
        #[arg(long, value_name = "SPEC")]
        against: Option<String>,
        #[arg(long, default_value_t = 1e-4)]
        tolerance: f64,
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// One JSON object instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Compliance report for the contracts one ticket touches: reports/<TICKET>.md and .json.
    ///
    /// Each obligation's measured value against its threshold, the contract's level, its
    /// falsification results (when built with the `falsify` feature), the engine commit and the
    /// provenance of the goldens. `oracle comply check` instead checks every contract is complete
    /// and bound to engine functions and tests that exist.
    #[command(subcommand_negates_reqs = true)]
    Comply {
        #[command(subcommand)]
        command: Option<ComplyCommand>,
        /// The ticket, as contracts list it (for example T-5).
        #[arg(long, value_name = "TICKET", required = true)]
        ticket: Option<String>,
        #[arg(long, default_value = "contracts", global = true)]
        contracts: PathBuf,
        #[arg(long, default_value = ".", global = true)]
        root: PathBuf,
        /// Where the reports go.
        #[arg(long, default_value = "reports")]
        out: PathBuf,
    },
    /// Quality gates from tool output; each rewrites its row of the README's quality table.
    Quality {
        #[command(subcommand)]
        command: QualityCommand,
    },
    /// Golden sets: the files in golden/ against their manifests.
    Golden {
        #[command(subcommand)]
        command: GoldenCommand,
    },
}

#[derive(Subcommand)]
pub enum QualityCommand {
    /// Line coverage of engine/ and oracle/ from cargo-llvm-cov's lcov file; exit 1 below the
    /// minimum.
    Coverage {
        #[arg(long, value_name = "lcov.info")]
        lcov: PathBuf,
        #[arg(long, default_value_t = 85.0)]
        min: f64,
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// The README whose quality table gets the figures.
        #[arg(long, default_value = "README.md")]
        readme: PathBuf,
    },
    /// Mutation score from cargo-mutants' outcomes.json (timeouts count as caught); writes every
    /// missed mutant with its reason to a Markdown report; exit 1 below the minimum or if a
    /// missed mutant has no reason in the accepted list.
    Mutants {
        /// Repeat for shards or reruns; a mutant's last outcome counts.
        #[arg(long, value_name = "outcomes.json", required = true)]
        outcomes: Vec<PathBuf>,
        #[arg(long, default_value_t = 80.0)]
        min: f64,
        /// Missed mutants judged acceptable, each with why (YAML list of `mutant`, `why`).
        #[arg(long, default_value = "reports/mutants-accepted.yaml")]
        accepted: PathBuf,
        /// The tree the mutants' file names are relative to (for `code` in the accepted list).
        #[arg(long, default_value = ".")]
        root: PathBuf,
        #[arg(long, default_value = "reports/mutants.md")]
        report: PathBuf,
        #[arg(long, default_value = "README.md")]
        readme: PathBuf,
    },
}

#[derive(Subcommand)]
enum ComplyCommand {
    /// Every contract has obligations and falsification cases, and every binding names an
    /// engine function and a test that exist. Exit 1 otherwise.
    Check,
}

#[derive(Subcommand)]
enum GoldenCommand {
    /// A golden set for your own HF checkpoint: the pinned references (HF transformers in
    /// float64, llama.cpp's converter, quantizer, batch and incremental logits and traces) run
    /// on it through golden/scripts/models.py, the code that makes the committed sets, with
    /// progress bars; then the new set is checked against its manifest.
    ///
    /// Needs uv (`python3 -m pip install uv`); the first run builds the pinned llama.cpp (about
    /// 8 minutes on 2 cores) and installs the pinned torch and transformers. HF holds the
    /// checkpoint in float64: the command checks free memory first and says how much it needs
    /// (--dtype f32 halves it). Families: Llama, Qwen2, Qwen3, Mistral, Phi-3, Gemma 2, Gemma 3.
    /// Then `oracle verify --set NAME` runs the standard parity contracts on it.
    New {
        /// The set's name: its folder (golden/local/NAME) and its files (NAME-Q8_0.gguf, ...).
        name: String,
        /// The HF checkpoint directory (config.json, *.safetensors, tokenizer files).
        #[arg(long, value_name = "DIR")]
        hf: PathBuf,
        /// Quantizations to make and run, comma-separated (F16, Q8_0, Q4_0, Q4_K_M, Q5_K_M,
        /// Q6_K, Q4_0-pure, Q4_K-pure, Q5_K-pure).
        #[arg(long, default_value = "Q8_0,Q4_K_M")]
        quant: String,
        /// Text to run, tokenized by the checkpoint's own HF tokenizer (a default paragraph
        /// otherwise).
        #[arg(long, conflicts_with = "tokens")]
        prompt: Option<String>,
        /// Comma-separated token ids to run instead of a prompt.
        #[arg(long)]
        tokens: Option<String>,
        /// HF's precision: f64, or f32 for checkpoints too large for float64.
        #[arg(long, default_value = "f64", value_parser = ["f64", "f32"])]
        dtype: String,
        /// Where the set's folder goes (default: golden/local under --root, git-ignored);
        /// `oracle verify --set` reads golden/models and golden/local.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Replace an existing set of that name.
        #[arg(long)]
        force: bool,
        /// The realizar checkout (golden/scripts, the uv lock files).
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
    /// Verify every golden set: each file's size and sha256, each safetensors file's tensors
    /// (dtype and shape), no unlisted files, and that the scripts that made them are unchanged.
    /// Exit 1 on any mismatch.
    Check {
        /// The golden folder; manifests name scripts relative to its parent.
        #[arg(long, default_value = "golden")]
        dir: PathBuf,
        /// One JSON object on stdout instead of the table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the oracle with `args` (program name first) and returns the exit code.
pub fn run<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli: Cli = match realizar::cli::parse(args, out, err) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let result = match cli.command {
        Command::Verify {
            contracts,
            set,
            root,
            format,
            falsify,
            reports,
            engine,
        } => crate::engine::from_spec(&engine).and_then(|engine| {
            let dir = match &set {
                Some(name) => {
                    let dir = crate::set::write(&root, &contracts, name)?;
                    let _ = writeln!(
                        err,
                        "set {name}: contract {}",
                        dir.join(format!("set-{name}.yaml")).display()
                    );
                    dir
                }
                None => contracts,
            };
            let options = crate::verify::Options {
                dir: &dir,
                root: &root,
                engine,
                format,
                falsify,
                reports: reports.as_deref(),
            };
            crate::verify::run(options, out, err)
        }),
        Command::Golden {
            command: GoldenCommand::Check { dir, json },
        } => crate::golden::check_command(&dir, json, out),
        Command::Golden {
            command:
                GoldenCommand::New {
                    name,
                    hf,
                    quant,
                    prompt,
                    tokens,
                    dtype,
                    out: set_out,
                    force,
                    root,
                },
        } => crate::golden_new::run(
            &crate::golden_new::Request {
                name: &name,
                hf: &hf,
                quant: &quant,
                prompt: prompt.as_deref(),
                tokens: tokens.as_deref(),
                dtype: &dtype,
                out: &set_out.unwrap_or_else(|| root.join("golden/local")),
                force,
                root: &root,
            },
            out,
        ),
        Command::Quality { command } => crate::quality::command(command, out),
        Command::Comply {
            command,
            ticket,
            contracts,
            root,
            out: dir,
        } => crate::comply::run(
            command.is_some(),
            ticket.as_deref(),
            &contracts,
            &root,
            &dir,
            out,
        ),
        Command::Diff {
            model,
            golden,
            backend,
            engine,
            against,
            tolerance,
            root,
            json,
        } => crate::engine::from_spec(&engine)
            .and_then(|e| {
                let other = against
                    .as_deref()
                    .map(crate::engine::from_spec)
                    .transpose()?;
                let source = match (e.is_builtin(), backend.kind()) {
                    (true, kind) => crate::diff::Source::Realizar(kind),
                    (false, BackendKind::Cpu) => crate::diff::Source::Engine(e.as_ref()),
                    (false, _) => {
                        return Err(format!(
                            "--backend gpu is realizar's GPU backend; {engine} chooses its own \
                             device"
                        ))
                    }
                };
                crate::diff::diff(&root, &model, source, other.as_deref(), &golden, tolerance)
            })
            .map(|d| {
                let _ = if json {
                    writeln!(out, "{}", serde_json::to_string(&d).unwrap_or_default())
                } else {
                    write!(out, "{}", crate::diff::table(&d))
                };
                if d.first_divergence.is_some() {
                    EXIT_VIOLATION
                } else {
                    EXIT_OK
                }
            }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            EXIT_USAGE
        }
    }
}
