//! The exit codes of every `oracle` command, the same in every output format.

/// Every check held (an obligation that declares a requirement this machine lacks, such as a
/// GPU, may be NOT RUN).
pub const EXIT_OK: i32 = 0;
/// A violation, a broken contract, or a golden that does not match its manifest.
pub const EXIT_VIOLATION: i32 = 1;
/// Bad usage or something that could not be loaded.
pub const EXIT_USAGE: i32 = 2;
/// No violation, but an obligation did not run for a reason it did not declare (a missing
/// golden, a check that cannot run here).
pub const EXIT_DID_NOT_RUN: i32 = 3;
