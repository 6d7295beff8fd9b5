//! Records the target triple the runner is built for: the triple its
//! reports carry.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_owned());
    println!("cargo:rustc-env=TIERWATCH_TARGET={target}");
}
