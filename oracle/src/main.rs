use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "oracle",
    version,
    about = "Checks realizar against outside references, contract by contract",
    long_about = "oracle turns the YAML contracts in contracts/ into verdicts against the goldens in \
golden/.\n\nExit codes: 0 every contract holds, 1 a violation or a broken contract, 2 usage or load error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check every contract and print the verdict table.
    Verify {
        /// Folder of contract YAML files.
        #[arg(long, default_value = "contracts")]
        contracts: PathBuf,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Verify { contracts } => verify(&contracts),
    }
}

fn verify(dir: &std::path::Path) -> ExitCode {
    let files = match realizar_oracle::contract_files(dir) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: cannot read contracts folder {}: {e}", dir.display());
            return ExitCode::from(2);
        }
    };
    if files.is_empty() {
        println!(
            "oracle verify: {}/ holds no contracts yet; nothing to check (engine realizar {})",
            dir.display(),
            env!("CARGO_PKG_VERSION")
        );
        return ExitCode::SUCCESS;
    }
    // Contracts present but no loader in this build: refusing is the only honest verdict.
    eprintln!(
        "error: {} contract files found, but this oracle build has no contract loader yet",
        files.len()
    );
    ExitCode::from(2)
}
