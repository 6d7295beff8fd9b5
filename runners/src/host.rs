//! What the runner is running on: the target triple it was built for,
//! whether it runs emulated (and by which QEMU), and the CPU features the
//! engine can use.

use std::process::Command;

use matrix::evidence::TargetInfo;

/// The triple this binary was built for.
pub const TARGET: &str = env!("TIERWATCH_TARGET");

/// How the runner learned it is emulated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emulation {
    /// The emulator's name and version, e.g. `qemu-aarch64 7.2.9`.
    pub emulator: String,
    /// How it was found out.
    pub how: &'static str,
}

/// Whether this process runs under an emulator. `TIERWATCH_EMULATOR` (set
/// by `scripts/qemu-run`, or by hand) is believed; otherwise a CPU that
/// reports another architecture than the binary's gives it away, and the
/// matching `qemu-<arch>` on `PATH` names the version.
pub fn emulation() -> Option<Emulation> {
    if let Ok(e) = std::env::var("TIERWATCH_EMULATOR")
        && !e.trim().is_empty()
    {
        return Some(Emulation { emulator: e.trim().to_owned(), how: "TIERWATCH_EMULATOR" });
    }
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let host_is_x86 = cpuinfo.contains("GenuineIntel") || cpuinfo.contains("AuthenticAMD");
    if host_is_x86 && std::env::consts::ARCH != "x86_64" && std::env::consts::ARCH != "x86" {
        let emulator = qemu_version(qemu_name()).unwrap_or_else(|| format!("{} (version unknown)", qemu_name()));
        return Some(Emulation { emulator, how: "an x86 CPU under a non-x86 binary" });
    }
    None
}

/// The QEMU user-mode binary for this architecture.
pub fn qemu_name() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "qemu-aarch64",
        "s390x" => "qemu-s390x",
        "riscv64" => "qemu-riscv64",
        _ => "qemu",
    }
}

/// `qemu-<arch> 7.2.9`, from the binary's `--version`.
pub fn qemu_version(binary: &str) -> Option<String> {
    let out = Command::new(binary).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.split_whitespace().skip_while(|w| *w != "version").nth(1)?;
    Some(format!("{binary} {version}"))
}

/// The report's target section.
pub fn target_info() -> TargetInfo {
    let emulation = emulation();
    TargetInfo { triple: TARGET.to_owned(), emulated: emulation.is_some(), emulator: emulation.map(|e| e.emulator) }
}

/// Engine options for this host: small memory reservations when emulated.
pub fn engine_options() -> engine::Options {
    let mut options = engine::Options::from_env();
    options.small_reservations |= emulation().is_some();
    options
}

/// Engine options for code compiled for `cpu` and run there: as
/// [`engine_options`] on that machine. Another architecture than this one
/// is taken to run emulated (the fast mode's purpose), with the small
/// reservations emulation gets; wasmtime refuses to load code compiled
/// with other memory settings than the loading engine's, so a mismatch is
/// an error, never a silent difference.
pub fn engine_options_for(cpu: &engine::precompiled::Cpu) -> engine::Options {
    let mut options = engine_options();
    options.small_reservations |= !cpu.is_host();
    options
}

/// CPU features the engine's code generators look for, as detected.
pub fn cpu_features() -> Vec<&'static str> {
    #[allow(unused_mut, reason = "architectures without detection leave it empty")]
    let mut found: Vec<&'static str> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! x86 {
            ($($f:tt),*) => { $( if std::arch::is_x86_feature_detected!($f) { found.push($f); } )* };
        }
        x86!("sse3", "ssse3", "sse4.1", "sse4.2", "popcnt", "avx", "avx2", "bmi1", "bmi2", "lzcnt", "fma", "avx512f");
    }
    #[cfg(target_arch = "aarch64")]
    {
        macro_rules! arm {
            ($($f:tt),*) => { $( if std::arch::is_aarch64_feature_detected!($f) { found.push($f); } )* };
        }
        arm!("neon", "lse", "fp16", "crc", "aes", "sha2", "sve", "dotprod");
    }
    found
}

/// This machine's name, for the runner name default.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "runner".to_owned())
}
