//! The `.wast` executor. Every directive runs through wasmtime's own wast
//! runner (`wasmtime_wast::WastContext`, as wasmtime's test harness drives
//! it: async calls, one store per component instance, the spectest host
//! modules for core and component scripts), one top-level directive at a
//! time, so each directive gets its own outcome where a conventional runner
//! stops at the first failure.
//!
//! The script runs on the engine of its configuration ([`crate::harness`]).
//! Proposals of that configuration the compiler lacks are off; a module the
//! engine then refuses although it is valid with them on is `unsupported`,
//! as is whatever depends on it. A directive that depends on a module that
//! failed is `skip`ped with that reason rather than counted as a second
//! failure, and a directive wasmtime's runner cannot run is `harness-error`.

use std::collections::{BTreeSet, HashMap};

use json_from_wast::{Action, Command, WasmFile, WasmFileType};
use matrix::evidence::{Directive, Outcome, ScriptSettings, SpecFile};
use wasmtime::Engine;
use wasmtime_wast::{Async, SpectestConfig, WastContext};

use crate::harness::{self, Feature, ScriptConfig};
use crate::profile::Profile;

/// Runs `text` (the script at `suite/path`) on `profile`, every directive.
/// A script the wast parser cannot read is one `harness-error` `parse`
/// directive: neither runner can say anything about the engine then.
pub fn run_wast(profile: &Profile, suite: &str, path: &str, text: &str) -> SpecFile {
    if let Some(why) = harness::excluded(suite, path) {
        let directive =
            Directive { line: 1, kind: "script".into(), outcome: Outcome::HarnessError, message: Some(why.into()) };
        return SpecFile {
            suite: suite.into(),
            file: path.into(),
            directives: vec![directive],
            config: None,
            passes_elided: 0,
        };
    }
    let config = harness::script_config(suite, path).unwrap_or_else(everything_on);
    let settings = ScriptSettings { features: config.names(), off: vec![] };
    let mut file =
        SpecFile { suite: suite.into(), file: path.into(), directives: vec![], config: None, passes_elided: 0 };
    let one = |kind: &str, outcome, message: String| {
        vec![Directive { line: 1, kind: kind.into(), outcome, message: Some(message) }]
    };
    let engine = match profile.for_script(&config) {
        Ok(e) => e,
        Err(e) => {
            file.directives =
                one("engine", Outcome::HarnessError, format!("building the engine for {settings:?}: {e:#}"));
            file.config = Some(settings);
            return file;
        }
    };
    file.config = Some(ScriptSettings { off: engine.off.iter().map(|f| f.name().to_owned()).collect(), ..settings });
    let reference = (!engine.off.is_empty()).then(|| reference_engine(profile, &config)).flatten();
    let nowhere: Vec<&str> = config.effective().into_iter().filter(|f| !f.implemented()).map(Feature::name).collect();
    let run = |script: &Parsed<'_>| {
        let mut runner = Runner::new(&engine.engine, &engine.off, reference, path, script);
        runner.nowhere = nowhere;
        if let Some(artifacts) = profile.options.artifacts() {
            match Aot::new(artifacts) {
                Ok(aot) => {
                    runner.cx.precompile_load(aot.dir.path());
                    runner.aot = Some(aot);
                }
                Err(e) => return one("precompiled", Outcome::HarnessError, e),
            }
        }
        runner.run()
    };
    file.directives = with_parsed(path, text, run).unwrap_or_else(|e| one("parse", Outcome::HarnessError, e));
    if let Some(why) = harness::outdated(suite, path) {
        // The script is behind the specification: its failures say nothing
        // about the engine.
        for d in file.directives.iter_mut().filter(|d| d.outcome == Outcome::Fail) {
            d.outcome = Outcome::Unsupported;
            d.message = Some(format!("{why}: {}", d.message.as_deref().unwrap_or("")));
        }
    }
    file
}

/// Compiles every module and component of the script `suite/path` into
/// `artifacts`, with the engine [`run_wast`] would run it on (the script's
/// configuration on `profile`). A script that does not parse, or that the
/// harness excludes, compiles nothing: its run says why.
pub fn precompile_wast(
    profile: &Profile,
    artifacts: &crate::precompiled::Artifacts,
    suite: &str,
    path: &str,
    text: &str,
) -> Result<(), String> {
    if harness::excluded(suite, path).is_some() {
        return Ok(());
    }
    let config = harness::script_config(suite, path).unwrap_or_else(everything_on);
    let engine = profile.for_script(&config).map_err(|e| format!("{suite}/{path}: building the engine: {e:#}"))?;
    let save = |script: &Parsed<'_>| {
        // wasmtime's runner compiles the binary of every module, text
        // modules included (`binary_filename`): those are the `.wasm` files.
        for (name, bytes) in &script.wasms {
            if name.ends_with(".wasm") {
                artifacts.save(&engine.engine, bytes)?;
            }
        }
        Ok(())
    };
    with_parsed(path, text, save).unwrap_or(Ok(()))
}

/// Precompiled code for a script's directives: wasmtime's runner loads it
/// by file name (`precompile_load`) from a private directory, filled before
/// each directive with that directive's verified artifacts and its
/// converted form. A directive that expects a refusal the host's compiler
/// gave is decided by it. A directive with a module the host could not
/// compile otherwise (or a text module, which the runner must parse) runs
/// on a second context that compiles here.
struct Aot<'s> {
    artifacts: &'s crate::precompiled::Artifacts,
    dir: tempfile::TempDir,
    fallback: Option<WastContext>,
}

impl<'s> Aot<'s> {
    fn new(artifacts: &'s crate::precompiled::Artifacts) -> Result<Aot<'s>, String> {
        // In memory where the system has room for it (a file per module
        // directive), and lets it hold code: wasmtime maps what it loads.
        let dir = match memory_dir() {
            Some(shm) => tempfile::tempdir_in(shm).or_else(|_| tempfile::tempdir()),
            None => tempfile::tempdir(),
        }
        .map_err(|e| format!("a directory for precompiled modules: {e}"))?;
        Ok(Aot { artifacts, dir, fallback: None })
    }

    /// Places the artifacts of `commands` (one directive or thread group)
    /// under the names the script's conversion gave their modules, for
    /// wasmtime's runner to load. [`Prepared::Here`] when one of them has
    /// none; [`Prepared::Refused`] when the directive expects its one
    /// module refused and the host's compiler refused it;
    /// [`Prepared::NoModules`] when it names none.
    fn prepare(
        &self,
        engine: &Engine,
        commands: &[Command<'_>],
        wasms: &HashMap<String, Vec<u8>>,
    ) -> Result<Prepared, String> {
        let mut files = Vec::new();
        for c in commands {
            files_of(c, &mut files);
        }
        if files.is_empty() {
            return Ok(Prepared::NoModules);
        }
        let expects_refusal = matches!(commands, [Command::AssertInvalid { .. } | Command::AssertMalformed { .. }]);
        for file in files {
            let name = match (&file.module_type, &file.binary_filename) {
                (WasmFileType::Binary, _) => &file.filename,
                (WasmFileType::Text, Some(binary)) => binary,
                (WasmFileType::Text, None) => return Ok(Prepared::Here),
            };
            let Some(bytes) = wasms.get(&**name) else { return Ok(Prepared::Here) };
            let dest = self.dir.path().join(&**name).with_extension("cwasm");
            if !self.artifacts.place(engine, bytes, &dest)? {
                if expects_refusal && self.artifacts.refused_on_host(engine, bytes) {
                    return Ok(Prepared::Refused);
                }
                self.artifacts.missed();
                return Ok(Prepared::Here);
            }
        }
        Ok(Prepared::Placed)
    }

    /// Runs `commands` on `cx` (which loads from this directory) as
    /// wasmtime's runner runs a converted script (`run_file`): their JSON
    /// form is written beside the artifacts, so the text is neither parsed
    /// nor encoded again. An error that is not a directive's is ours.
    fn run(&self, cx: &mut WastContext, path: &str, commands: &[Command<'_>]) -> Result<(), Ran> {
        #[derive(serde::Serialize)]
        struct Converted<'c, 'a> {
            source_filename: &'c str,
            commands: &'c [Command<'a>],
        }
        let json = serde_json::to_vec(&Converted { source_filename: path, commands })
            .map_err(|e| Ran::Harness(format!("writing the directive's converted form: {e}")))?;
        // `run_file` reads `<its directory>/<the file's stem>.json`.
        let script = std::path::Path::new("directive.wast");
        let file = self.dir.path().join("directive.json");
        std::fs::write(&file, json).map_err(|e| Ran::Harness(format!("writing {}: {e}", file.display())))?;
        cx.run_file(script).map_err(|e| {
            let message = format!("{e:#}");
            if message.starts_with("failed directive on ") {
                Ran::Engine(without_location(&message))
            } else {
                Ran::Harness(format!("running the precompiled directive: {message}"))
            }
        })
    }

    /// The context that compiles here, built on first use.
    fn fallback(&mut self, engine: &Engine) -> Result<&mut WastContext, String> {
        if self.fallback.is_none() {
            let mut cx = WastContext::new(engine, Async::Yes, |_| {});
            cx.ignore_error_messages(true);
            let spectest = SpectestConfig { use_shared_memory: true, suppress_prints: true };
            cx.register_spectest(&spectest).map_err(|e| format!("registering the spectest host modules: {e:#}"))?;
            self.fallback = Some(cx);
        }
        self.fallback.as_mut().ok_or_else(|| "no fallback context".to_owned())
    }
}

/// `/dev/shm` when its mount (the last one listed is in effect) lets files
/// hold executable code and is at least [`MEMORY_DIR_BYTES`] (a script's
/// artifacts stay there until it ends: `const.wast` has 402 modules).
/// Read once per process.
fn memory_dir() -> Option<&'static std::path::Path> {
    static USABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let usable =
        *USABLE.get_or_init(|| std::fs::read_to_string("/proc/self/mounts").is_ok_and(|mounts| memory_dir_in(&mounts)));
    usable.then(|| std::path::Path::new("/dev/shm"))
}

/// The smallest `/dev/shm` a run puts its artifacts in (Docker's default
/// is 64 MB: too small, the run then writes them to disk).
const MEMORY_DIR_BYTES: u64 = 1 << 30;

/// Whether `/proc/self/mounts` text says `/dev/shm` will do.
fn memory_dir_in(mounts: &str) -> bool {
    let Some(options) = mounts.lines().rev().find_map(|l| {
        let mut fields = l.split_whitespace();
        (fields.nth(1) == Some("/dev/shm")).then(|| fields.nth(1).unwrap_or("").to_owned())
    }) else {
        return false;
    };
    let size = options.split(',').find_map(|o| o.strip_prefix("size=")).and_then(|v| {
        let (digits, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
        let scale = match unit {
            "" => 1,
            "k" => 1 << 10,
            "m" => 1 << 20,
            "g" => 1 << 30,
            _ => return None,
        };
        digits.parse::<u64>().ok().map(|n| n.saturating_mul(scale))
    });
    !options.split(',').any(|o| o == "noexec") && size.is_some_and(|s| s >= MEMORY_DIR_BYTES)
}

/// How a directive's modules are to be had on a run that loads
/// precompiled code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prepared {
    /// Every one is placed for wasmtime's runner to load.
    Placed,
    /// It expects its one module refused, and the host's compiler refused
    /// it (for this CPU, with these settings): that is its outcome.
    Refused,
    /// One has no artifact: the directive compiles here.
    Here,
    /// It names no module (actions and assertions on them): it runs from
    /// its own short text, which costs no file.
    NoModules,
}

/// Why a directive run on wasmtime's runner did not pass.
enum Ran {
    /// A directive failed: the engine's word.
    Engine(String),
    /// Running it failed before any directive did: ours.
    Harness(String),
}

/// Every module file a command names (nested thread commands included).
fn files_of<'c>(c: &'c Command<'_>, out: &mut Vec<&'c WasmFile<'c>>) {
    match c {
        Command::Module { file, .. }
        | Command::ModuleDefinition { file, .. }
        | Command::AssertMalformed { file, .. }
        | Command::AssertMalformedCustom { file, .. }
        | Command::AssertInvalid { file, .. }
        | Command::AssertInvalidCustom { file, .. }
        | Command::AssertUnlinkable { file, .. }
        | Command::AssertUninstantiable { file, .. } => out.push(file),
        Command::Thread { commands, .. } => commands.iter().for_each(|c| files_of(c, out)),
        Command::ModuleInstance { .. }
        | Command::Register { .. }
        | Command::AssertReturn { .. }
        | Command::Action { .. }
        | Command::AssertTrap { .. }
        | Command::AssertExhaustion { .. }
        | Command::AssertException { .. }
        | Command::AssertSuspension { .. }
        | Command::Wait { .. } => {}
    }
}

/// A suite the harness has no rules for runs with every tracked proposal on.
fn everything_on() -> ScriptConfig {
    ScriptConfig { features: Feature::all().filter(|f| f.implemented()).collect(), hogs_memory: false }
}

/// An engine with the whole configuration on (Cranelift implements every
/// tracked proposal), used only to validate: a module it accepts and the
/// script's engine refuses needs a proposal the compiler lacks.
fn reference_engine(profile: &Profile, config: &ScriptConfig) -> Option<Engine> {
    let mut c = Profile::config_with(crate::Compiler::Cranelift, &[], &profile.options);
    config.apply(&mut c, &BTreeSet::new());
    Engine::new(&c).ok()
}

/// A parsed script: each top-level directive's text and its converted form.
struct Parsed<'a> {
    chunks: Vec<&'a str>,
    commands: Vec<Command<'a>>,
    wasms: HashMap<String, Vec<u8>>,
}

/// Parses `text` and hands the parsed script to `f` (the converted commands
/// borrow the parser's buffer).
fn with_parsed<R>(path: &str, text: &str, f: impl FnOnce(&Parsed<'_>) -> R) -> Result<R, String> {
    let mut lexer = wast::lexer::Lexer::new(text);
    lexer.allow_confusing_unicode(path.ends_with("names.wast"));
    let buf = wast::parser::ParseBuffer::new_with_lexer(lexer).map_err(|e| e.to_string())?;
    let ast = wast::parser::parse::<wast::Wast>(&buf).map_err(|e| e.to_string())?;
    let starts = top_level_parens(path, text);
    let converted = json_from_wast::Opts::default().convert(path, text, ast).map_err(|e| format!("{e:#}"))?;
    let mut chunks = Vec::with_capacity(starts.len());
    for (i, start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(text.len());
        chunks.push(&text[*start..end]);
    }
    if chunks.len() != converted.commands.len() {
        // A script that is one bare module: run it whole.
        chunks = vec![text; converted.commands.len().min(1)];
        if converted.commands.len() > 1 {
            return Err(format!(
                "{path}: {} directives but {} commands; cannot split the script",
                starts.len(),
                converted.commands.len()
            ));
        }
    }
    Ok(f(&Parsed { chunks, commands: converted.commands, wasms: converted.wasms.into_iter().collect() }))
}

/// Where each top-level parenthesis opens: each directive's text starts
/// there (annotations and comments included).
fn top_level_parens(path: &str, text: &str) -> Vec<usize> {
    let mut lexer = wast::lexer::Lexer::new(text);
    lexer.allow_confusing_unicode(path.ends_with("names.wast"));
    let (mut pos, mut depth, mut starts) = (0, 0usize, Vec::new());
    while let Ok(Some(token)) = lexer.parse(&mut pos) {
        match token.kind {
            wast::lexer::TokenKind::LParen => {
                if depth == 0 {
                    starts.push(token.offset);
                }
                depth += 1;
            }
            wast::lexer::TokenKind::RParen => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    starts
}

/// Why a directive is not run, remembered per instance name (`None`: the
/// current instance) and per module definition.
#[derive(Clone)]
struct Blocked {
    outcome: Outcome,
    reason: String,
}

impl Blocked {
    /// What a directive that depends on this one is: `unsupported` when
    /// this was (it needs the same missing proposal), else `skip`.
    fn dependent(&self, why: &str) -> Blocked {
        let outcome = if self.outcome == Outcome::Unsupported { Outcome::Unsupported } else { Outcome::Skip };
        Blocked { outcome, reason: format!("{why} ({})", first_line(&self.reason)) }
    }
}

struct Runner<'s, 'a> {
    cx: WastContext,
    engine: Engine,
    off: &'s BTreeSet<Feature>,
    reference: Option<Engine>,
    path: &'s str,
    script: &'s Parsed<'a>,
    instances: HashMap<Option<String>, Blocked>,
    definitions: HashMap<Option<String>, Blocked>,
    /// Names registered for imports whose registration was blocked.
    registered: HashMap<String, Blocked>,
    poisoned: Option<String>,
    /// Proposals of the configuration wasmtime implements nowhere.
    nowhere: Vec<&'static str>,
    /// Code compiled on another machine, loaded instead of compiling.
    aot: Option<Aot<'s>>,
}

impl<'s, 'a> Runner<'s, 'a> {
    fn new(
        engine: &Engine,
        off: &'s BTreeSet<Feature>,
        reference: Option<Engine>,
        path: &'s str,
        script: &'s Parsed<'a>,
    ) -> Self {
        let mut cx = WastContext::new(engine, Async::Yes, |_| {});
        // As wasmtime's harness: spec and component-model scripts are
        // judged without matching the reference interpreter's messages.
        cx.ignore_error_messages(true);
        Runner {
            cx,
            engine: engine.clone(),
            off,
            reference,
            path,
            script,
            instances: HashMap::new(),
            definitions: HashMap::new(),
            registered: HashMap::new(),
            poisoned: None,
            nowhere: vec![],
            aot: None,
        }
    }

    fn run(mut self) -> Vec<Directive> {
        let spectest = SpectestConfig { use_shared_memory: true, suppress_prints: true };
        if let Err(e) = self.cx.register_spectest(&spectest) {
            let message = format!("registering the spectest host modules: {e:#}");
            return vec![Directive {
                line: 1,
                kind: "spectest".into(),
                outcome: Outcome::HarnessError,
                message: Some(message),
            }];
        }
        let mut out = Vec::with_capacity(self.script.commands.len());
        let mut i = 0;
        while i < self.script.commands.len() {
            // A thread and the directives up to its wait run as one group:
            // wasmtime's runner joins threads within one call.
            let last = self.group_end(i);
            let (outcome, message) = self.directive(i, last);
            for c in &self.script.commands[i..=last] {
                out.push(Directive { line: c.line(), kind: kind(c).into(), outcome, message: message.clone() });
            }
            i = last + 1;
        }
        out
    }

    fn group_end(&self, i: usize) -> usize {
        let commands = &self.script.commands;
        let Command::Thread { name, .. } = &commands[i] else { return i };
        commands[i..]
            .iter()
            .position(|c| matches!(c, Command::Wait { thread, .. } if thread == name))
            .map_or(commands.len() - 1, |p| i + p)
    }

    /// Runs directives `first..=last` (one, or a thread group).
    fn directive(&mut self, first: usize, last: usize) -> (Outcome, Option<String>) {
        let command = &self.script.commands[first];
        if let Some(why) = &self.poisoned {
            return (Outcome::Skip, Some(why.clone()));
        }
        if let Some(b) = self.blocked_by(command) {
            self.after(command, Err(b.clone()));
            return (b.outcome, Some(b.reason));
        }
        if matches!(command, Command::AssertMalformedCustom { .. } | Command::AssertInvalidCustom { .. }) {
            return (
                Outcome::HarnessError,
                Some("wasmtime's wast runner does not run custom-section assertions".into()),
            );
        }
        let prepared = match self.prepared(first, last) {
            Ok(p) => p,
            Err(reason) => {
                // Not run: what depends on it is skipped, not run against
                // an earlier instance.
                let b = Blocked { outcome: Outcome::HarnessError, reason };
                self.after(command, Err(b.clone()));
                return (b.outcome, Some(b.reason));
            }
        };
        let path = self.path;
        let commands = &self.script.commands[first..=last];
        let ran = match (prepared, self.aot.as_mut()) {
            (Some(Prepared::Refused), _) => Ok(Ok(())),
            (Some(Prepared::Here), Some(aot)) => match aot.fallback(&self.engine) {
                Ok(cx) => run_text(cx, path, &self.script.chunks[first..=last]),
                Err(e) => return (Outcome::HarnessError, Some(e)),
            },
            (Some(Prepared::Placed), Some(aot)) => {
                let cx = &mut self.cx;
                match crate::panics::catch(|| aot.run(cx, path, commands)) {
                    Ok(Err(Ran::Harness(reason))) => {
                        let b = Blocked { outcome: Outcome::HarnessError, reason };
                        self.after(command, Err(b.clone()));
                        return (b.outcome, Some(b.reason));
                    }
                    Ok(Err(Ran::Engine(message))) => Ok(Err(message)),
                    Ok(Ok(())) => Ok(Ok(())),
                    Err(p) => Err(p),
                }
            }
            _ => run_text(&mut self.cx, path, &self.script.chunks[first..=last]),
        };
        let here = prepared == Some(Prepared::Here);

        let result = match ran {
            Ok(Ok(())) => match self.needs_off_proposal(command, None) {
                // A module that had to be rejected was, but for a proposal
                // switched off here: no evidence either way.
                Some(reason) if is_rejection(command) => Err(Blocked { outcome: Outcome::Unsupported, reason }),
                _ => Ok(()),
            },
            Ok(Err(message)) => match self.needs_off_proposal(command, Some(&message)) {
                Some(reason) => Err(Blocked { outcome: Outcome::Unsupported, reason: format!("{reason}: {message}") }),
                None => match self.unregistered_import(&message) {
                    Some(b) => Err(b),
                    None => Err(Blocked { outcome: Outcome::Fail, reason: message }),
                },
            },
            Err(p) => {
                let message = format!("the engine panicked at {}: {}", p.place, p.message);
                self.poisoned = Some("an earlier directive panicked inside the engine".into());
                Err(Blocked { outcome: Outcome::Fail, reason: message })
            }
        };
        let result = if here { diverged(command, result) } else { result };
        self.after(command, result.clone());
        match result {
            Ok(()) => (Outcome::Pass, None),
            Err(b) => (b.outcome, Some(b.reason)),
        }
    }

    /// How directives `first..=last` get their modules when the run loads
    /// precompiled code; `None` when it does not.
    fn prepared(&self, first: usize, last: usize) -> Result<Option<Prepared>, String> {
        let Some(aot) = &self.aot else { return Ok(None) };
        aot.prepare(&self.engine, &self.script.commands[first..=last], &self.script.wasms).map(Some)
    }

    /// An instantiation that failed for an import from a name whose
    /// registration was blocked depends on that instead of failing anew.
    fn unregistered_import(&self, message: &str) -> Option<Blocked> {
        let name = message.split("unknown import: `").nth(1)?.split("::").next()?;
        let b = self.registered.get(name)?;
        Some(b.dependent(&format!("imports from `{name}`, whose registration did not happen")))
    }

    /// The earlier failure a directive depends on, if any.
    fn blocked_by(&self, command: &Command<'_>) -> Option<Blocked> {
        let on = |b: &Blocked| b.dependent("depends on a module that did not instantiate");
        let instance = |m: &Option<std::borrow::Cow<'_, str>>| self.instances.get(&m.as_deref().map(str::to_owned));
        match command {
            Command::ModuleInstance { module, .. } => {
                self.definitions.get(&module.as_deref().map(str::to_owned)).map(on)
            }
            Command::Register { name, .. } => instance(name).map(on),
            _ => action(command).and_then(|a| match a {
                Action::Invoke { module, .. } | Action::Get { module, .. } => instance(module).map(on),
            }),
        }
    }

    /// Remembers what a module directive's result means for later ones.
    fn after(&mut self, command: &Command<'_>, result: Result<(), Blocked>) {
        let key = |n: &Option<std::borrow::Cow<'_, str>>| n.as_deref().map(str::to_owned);
        if let Command::Register { as_, .. } = command {
            match &result {
                Ok(()) => self.registered.remove(&**as_),
                Err(b) => self.registered.insert(as_.to_string(), b.clone()),
            };
        }
        let instance = match command {
            Command::Module { name, .. } => Some(key(name)),
            Command::ModuleInstance { instance, .. } => Some(key(instance)),
            Command::ModuleDefinition { name, .. } => {
                match &result {
                    Ok(()) => self.definitions.remove(&key(name)),
                    Err(b) => self.definitions.insert(key(name), b.clone()),
                };
                None
            }
            _ => None,
        };
        if let Some(name) = instance {
            match result {
                Ok(()) => {
                    self.instances.remove(&None);
                    self.instances.remove(&name);
                }
                Err(b) => {
                    self.instances.insert(None, b.clone());
                    self.instances.insert(name, b);
                }
            }
        }
    }

    /// With proposals switched off for this compiler: whether the
    /// directive's module is valid with them on (so a refusal is theirs).
    fn needs_off_proposal(&self, command: &Command<'_>, error: Option<&str>) -> Option<String> {
        let file = module_file(command)?;
        if !self.nowhere.is_empty() {
            // Refused by the validator, or by the engine in its own words,
            // for a configuration that names a proposal wasmtime does not
            // implement.
            let bytes = self.script.wasms.get(&*file.filename)?;
            let refused =
                error.is_some_and(|e| e.contains("proposal not implemented yet")) || !accepts(&self.engine, bytes);
            return refused.then(|| format!("needs {}, which wasmtime implements nowhere", self.nowhere.join(", ")));
        }
        let reference = self.reference.as_ref()?;
        if file.module_type != WasmFileType::Binary {
            return None;
        }
        let bytes = self.script.wasms.get(&*file.filename)?;
        // Refused by this engine's validator, accepted by the reference's.
        let valid = !accepts(&self.engine, bytes) && accepts(reference, bytes);
        let off: Vec<&str> = self.off.iter().map(|f| f.name()).collect();
        valid.then(|| format!("needs {}, which this compiler lacks", off.join(", ")))
    }
}

const DIVERGED: &str = "compiled here but not on the host that compiled this run's code: the two compilations disagree";

/// A directive run on the context that compiles here (the host had no
/// artifact for one of its modules): only a refusal is expected there. A
/// module that compiled here after all, or failed for an import the other
/// context would have had, means the host and this machine disagree: a
/// harness error, never the engine's verdict.
fn diverged(command: &Command<'_>, result: Result<(), Blocked>) -> Result<(), Blocked> {
    let defines = matches!(command, Command::Module { .. } | Command::ModuleDefinition { .. });
    match result {
        Ok(()) if defines => Err(Blocked { outcome: Outcome::HarnessError, reason: DIVERGED.to_owned() }),
        Err(b) if b.reason.contains("unknown import") => {
            Err(Blocked { outcome: Outcome::HarnessError, reason: format!("{DIVERGED}: {}", b.reason) })
        }
        other => other,
    }
}

/// Runs directives from their text (`chunks`) on `cx`, a panic inside the
/// engine caught.
fn run_text(cx: &mut WastContext, path: &str, chunks: &[&str]) -> Result<Result<(), String>, crate::panics::Caught> {
    let text: String = chunks.concat();
    crate::panics::catch(|| cx.run_wast(path, text.as_bytes()).map_err(|e| without_location(&format!("{e:#}"))))
}

/// wasmtime's runner prefixes `failed directive on FILE:LINE: ` with a line
/// relative to the directive's own text (from its converted form: to the
/// script), once more for each thread the failure came through; the report
/// has the real line, so every such prefix goes (the message is then the
/// same whichever way the directive ran).
fn without_location(message: &str) -> String {
    let mut rest = message;
    while let Some(inner) = rest.strip_prefix("failed directive on ").and_then(|m| m.split_once(": ").map(|(_, r)| r)) {
        rest = inner;
    }
    rest.to_owned()
}

/// Whether `engine` accepts the module or component `bytes` (modules are
/// only validated; components must be compiled to be checked).
fn accepts(engine: &Engine, bytes: &[u8]) -> bool {
    if wasmparser::Parser::is_component(bytes) {
        wasmtime::component::Component::new(engine, bytes).is_ok()
    } else {
        wasmtime::Module::validate(engine, bytes).is_ok()
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// Directives whose pass means a module was rejected.
fn is_rejection(c: &Command<'_>) -> bool {
    matches!(c, Command::AssertInvalid { .. } | Command::AssertUnlinkable { .. })
}

fn module_file<'c>(c: &'c Command<'_>) -> Option<&'c WasmFile<'c>> {
    match c {
        Command::Module { file, .. }
        | Command::ModuleDefinition { file, .. }
        | Command::AssertInvalid { file, .. }
        | Command::AssertUnlinkable { file, .. }
        | Command::AssertUninstantiable { file, .. } => Some(file),
        _ => None,
    }
}

fn action<'c>(c: &'c Command<'_>) -> Option<&'c Action<'c>> {
    match c {
        Command::AssertReturn { action, .. }
        | Command::Action { action, .. }
        | Command::AssertTrap { action, .. }
        | Command::AssertExhaustion { action, .. }
        | Command::AssertException { action, .. }
        | Command::AssertSuspension { action, .. } => Some(action),
        _ => None,
    }
}

fn kind(c: &Command<'_>) -> &'static str {
    match c {
        Command::Module { .. } => "module",
        Command::ModuleDefinition { .. } => "module_definition",
        Command::ModuleInstance { .. } => "module_instance",
        Command::AssertMalformed { .. } | Command::AssertMalformedCustom { .. } => "assert_malformed",
        Command::AssertInvalid { .. } | Command::AssertInvalidCustom { .. } => "assert_invalid",
        Command::Register { .. } => "register",
        Command::AssertUnlinkable { .. } => "assert_unlinkable",
        Command::AssertReturn { .. } => "assert_return",
        Command::Action { .. } => "action",
        Command::AssertTrap { .. } => "assert_trap",
        Command::AssertExhaustion { .. } => "assert_exhaustion",
        Command::AssertException { .. } => "assert_exception",
        Command::AssertSuspension { .. } => "assert_suspension",
        Command::AssertUninstantiable { .. } => "assert_uninstantiable",
        Command::Thread { .. } => "thread",
        Command::Wait { .. } => "wait",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_location_prefix_goes_threads_included() {
        let nested = "failed directive on a.wast:9: failed directive on a.wast:3: unreachable";
        assert_eq!(without_location(nested), "unreachable");
        assert_eq!(without_location("failed directive on a.wast:2: out of bounds"), "out of bounds");
        assert_eq!(without_location("no prefix: here"), "no prefix: here");
    }

    #[test]
    fn dev_shm_is_used_only_when_executable_large_and_in_effect() {
        let shm = |options: &str| format!("proc /proc proc rw 0 0\ntmpfs /dev/shm tmpfs {options} 0 0\n");
        assert!(memory_dir_in(&shm("rw,relatime,size=24683784k")));
        assert!(!memory_dir_in(&shm("rw,nosuid,nodev,noexec,relatime,size=24683784k")), "noexec");
        assert!(!memory_dir_in(&shm("rw,nosuid,nodev,relatime,size=65536k")), "Docker's 64 MB");
        assert!(!memory_dir_in(&shm("rw,relatime")), "no size said");
        assert!(memory_dir_in(&shm("rw,size=2g")));
        assert!(!memory_dir_in("proc /proc proc rw 0 0\n"), "no /dev/shm");
        let remounted = format!("{}{}", shm("rw,size=4g"), shm("rw,noexec,size=4g"));
        assert!(!memory_dir_in(&remounted), "the last mount is the one in effect");
    }
}
