//! The `tierwatch-runner` binary; everything lives in the library.

fn main() -> std::process::ExitCode {
    runner::cli::main()
}
