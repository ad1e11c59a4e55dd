use std::io::{stderr, stdout};

fn main() {
    let code = realizar_oracle::cli::run(
        std::env::args_os(),
        &mut stdout().lock(),
        &mut stderr().lock(),
    );
    std::process::exit(code);
}
