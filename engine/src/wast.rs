//! The `.wast` executor: runs *every* directive of a script and records its
//! outcome, where a conventional runner stops at the first failure. A
//! directive that depends on a module that failed to instantiate is skipped
//! with that reason rather than counted as a second failure.

use std::collections::{HashMap, HashSet};

use json_from_wast::{Action, Command, Const, WasmFileType};
use matrix::evidence::{Directive, Outcome, SpecFile};
use wasmtime::component::{Component, Instance as ComponentInstance, Linker as ComponentLinker};
use wasmtime::{Extern, Instance, Linker, Module, Store, Trap, Val};

use crate::profile::Profile;
use crate::values;

/// The result of one directive before it becomes a [`Directive`].
enum Verdict {
    Pass,
    Fail(String),
    Skip(String),
}

struct Script<'w> {
    store: Store<()>,
    linker: Linker<()>,
    component_linker: ComponentLinker<()>,
    /// Component instances by name; `None` is the current one when the
    /// last instantiated thing was a component.
    components: HashMap<Option<String>, ComponentInstance>,
    component_definitions: HashMap<Option<String>, Component>,
    /// Instances by name; `None` is the current (last) instance.
    instances: HashMap<Option<String>, Instance>,
    /// Defined but not instantiated modules.
    definitions: HashMap<Option<String>, Module>,
    /// Names (and `None` for the current one) whose module failed.
    failed: HashSet<Option<String>>,
    wasms: HashMap<&'w str, &'w [u8]>,
    /// Modules compiled so far in this script, by their bytes.
    compiled: std::cell::RefCell<HashMap<&'w [u8], Module>>,
}

/// Runs `text` (the script at `suite/path`) on `profile`, every directive.
/// A script that does not parse is one failed `parse` directive.
pub fn run_wast(profile: &Profile, suite: &str, path: &str, text: &str) -> SpecFile {
    let parsed = || -> Result<Vec<Directive>, String> {
        let mut lexer = wast::lexer::Lexer::new(text);
        lexer.allow_confusing_unicode(path.ends_with("names.wast"));
        let buf = wast::parser::ParseBuffer::new_with_lexer(lexer).map_err(|e| e.to_string())?;
        let ast = wast::parser::parse::<wast::Wast>(&buf).map_err(|e| e.to_string())?;
        let converted = json_from_wast::Opts::default().convert(path, text, ast).map_err(|e| format!("{e:#}"))?;
        Ok(run(profile, &converted.commands, &converted.wasms))
    };
    let directives = parsed().unwrap_or_else(|e| {
        vec![Directive { line: 1, kind: "parse".into(), outcome: Outcome::Fail, message: Some(e) }]
    });
    SpecFile { suite: suite.into(), file: path.into(), directives }
}

fn run(profile: &Profile, commands: &[Command<'_>], wasms: &[(String, Vec<u8>)]) -> Vec<Directive> {
    let mut script = Script {
        store: Store::new(&profile.engine, ()),
        linker: Linker::new(&profile.engine),
        component_linker: ComponentLinker::new(&profile.engine),
        components: HashMap::new(),
        component_definitions: HashMap::new(),
        instances: HashMap::new(),
        definitions: HashMap::new(),
        failed: HashSet::new(),
        wasms: wasms.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect(),
        compiled: std::cell::RefCell::default(),
    };
    script.linker.allow_shadowing(true);
    script.component_linker.allow_shadowing(true);
    // The shared memory exists only where the threads proposal is on (Winch
    // lacks it on some targets; the threads scripts then fail, the rest run).
    let use_shared_memory = !profile.disabled.contains(&"wasm_threads");
    let spectest = wasmtime_wast::SpectestConfig { use_shared_memory, suppress_prints: true };
    if let Err(e) = wasmtime_wast::link_spectest(&mut script.linker, &mut script.store, &spectest) {
        return vec![Directive {
            line: 1,
            kind: "spectest".into(),
            outcome: Outcome::Fail,
            message: Some(format!("{e:#}")),
        }];
    }
    let mut poisoned = false;
    commands
        .iter()
        .map(|c| {
            let verdict = if poisoned {
                Verdict::Skip("an earlier directive panicked inside the engine".into())
            } else {
                // A panic inside the engine is a finding about the engine,
                // not a reason to lose the rest of the script's results.
                crate::panics::catch(|| script.directive(c)).unwrap_or_else(|p| {
                    poisoned = true;
                    Verdict::Fail(format!("the engine panicked at {}: {}", p.place, p.message))
                })
            };
            let (outcome, message) = match verdict {
                Verdict::Pass => (Outcome::Pass, None),
                Verdict::Fail(m) => (Outcome::Fail, Some(m)),
                Verdict::Skip(m) => (Outcome::Skip, Some(m)),
            };
            Directive { line: c.line(), kind: kind(c).into(), outcome, message }
        })
        .collect()
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

fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[0..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}

/// Outcome of running an action.
enum Ran {
    Values(Vec<Val>),
    Component(Vec<wasmtime::component::Val>),
    Error(wasmtime::Error),
}

enum ComponentRan {
    Values(Vec<wasmtime::component::Val>),
    Error(wasmtime::Error),
}

impl<'w> Script<'w> {
    fn bytes(&self, file: &json_from_wast::WasmFile<'_>) -> Result<&'w [u8], String> {
        self.wasms.get(&*file.filename).copied().ok_or_else(|| format!("script module {} is missing", file.filename))
    }

    /// Compiles a module, reusing the compilation when the script defines
    /// the same bytes again (scripts often repeat a module per test group).
    fn compile(&self, file: &json_from_wast::WasmFile<'_>) -> Result<Module, String> {
        let bytes = self.bytes(file)?;
        if is_component(bytes) {
            return Err("component".into());
        }
        if let Some(m) = self.compiled.borrow().get(bytes) {
            return Ok(m.clone());
        }
        let module = Module::new(self.store.engine(), bytes).map_err(|e| format!("{e:#}"))?;
        self.compiled.borrow_mut().insert(bytes, module.clone());
        Ok(module)
    }

    fn instantiate(&mut self, name: Option<&str>, module: &Module) -> Verdict {
        let key = name.map(str::to_owned);
        match self.linker.instantiate(&mut self.store, module) {
            Ok(i) => {
                self.failed.remove(&key);
                self.failed.remove(&None);
                self.instances.insert(None, i);
                if key.is_some() {
                    self.instances.insert(key, i);
                }
                Verdict::Pass
            }
            Err(e) => {
                self.instances.remove(&None);
                self.failed.insert(None);
                if key.is_some() {
                    self.failed.insert(key);
                }
                Verdict::Fail(format!("instantiation failed: {e:#}"))
            }
        }
    }

    fn directive(&mut self, c: &Command<'_>) -> Verdict {
        match c {
            Command::Module { name, file, .. } => match self.compile(file) {
                Ok(m) => self.instantiate(name.as_deref(), &m),
                Err(e) if e == "component" => match self.compile_component(file) {
                    Ok(c) => self.instantiate_component(name.as_deref(), &c),
                    Err(e) => {
                        self.mark_failed(name.as_deref());
                        Verdict::Fail(format!("compilation failed: {e}"))
                    }
                },
                Err(e) => {
                    self.failed.insert(None);
                    self.instances.remove(&None);
                    if let Some(n) = name {
                        self.failed.insert(Some(n.to_string()));
                    }
                    Verdict::Fail(format!("compilation failed: {e}"))
                }
            },
            Command::ModuleDefinition { name, file, .. } => match self.compile(file) {
                Ok(m) => {
                    self.definitions.insert(name.as_deref().map(str::to_owned), m);
                    Verdict::Pass
                }
                Err(e) if e == "component" => match self.compile_component(file) {
                    Ok(c) => {
                        self.component_definitions.insert(name.as_deref().map(str::to_owned), c);
                        Verdict::Pass
                    }
                    Err(e) => Verdict::Fail(format!("compilation failed: {e}")),
                },
                Err(e) => Verdict::Fail(format!("compilation failed: {e}")),
            },
            Command::ModuleInstance { instance, module, .. } => {
                let key = module.as_deref().map(str::to_owned);
                if let Some(m) = self.definitions.get(&key).cloned() {
                    self.instantiate(instance.as_deref(), &m)
                } else if let Some(c) = self.component_definitions.get(&key).cloned() {
                    self.instantiate_component(instance.as_deref(), &c)
                } else {
                    Verdict::Skip(format!("depends on module definition {module:?}, which failed or is missing"))
                }
            }
            Command::Register { name, as_, .. } => {
                let key = name.as_deref().map(str::to_owned);
                if self.failed.contains(&key) {
                    return Verdict::Skip("depends on a module that failed to instantiate".into());
                }
                if self.components.contains_key(&key) {
                    return Verdict::Skip(
                        "registering component instances is not supported by this executor yet".into(),
                    );
                }
                match self.instances.get(&key).copied() {
                    Some(i) => match self.linker.instance(&mut self.store, as_, i) {
                        Ok(_) => Verdict::Pass,
                        Err(e) => Verdict::Fail(format!("register failed: {e:#}")),
                    },
                    None => Verdict::Skip(format!("no instance {name:?} to register")),
                }
            }
            Command::AssertMalformed { file, .. } | Command::AssertInvalid { file, .. } => {
                if file.module_type == WasmFileType::Text {
                    // A quoted module that must not even parse.
                    let text = self.bytes(file).map(|b| String::from_utf8_lossy(b).into_owned());
                    return match text.map(|t| wat::parse_str(&t)) {
                        Ok(Err(_)) | Err(_) => Verdict::Pass,
                        Ok(Ok(bytes)) => match Module::new(self.store.engine(), &bytes) {
                            Err(_) => Verdict::Pass,
                            Ok(_) => Verdict::Fail("expected the module to be rejected, but it compiled".into()),
                        },
                    };
                }
                match self.compile(file) {
                    Err(e) if e == "component" => self.component_rejected(file),
                    Err(_) => Verdict::Pass,
                    Ok(_) => Verdict::Fail("expected the module to be rejected, but it compiled".into()),
                }
            }
            Command::AssertMalformedCustom { .. } | Command::AssertInvalidCustom { .. } => {
                Verdict::Skip("custom-section assertions are outside the engine's scope".into())
            }
            Command::AssertUnlinkable { file, .. } | Command::AssertUninstantiable { file, .. } => {
                match self.compile(file) {
                    Err(e) if e == "component" => match self.compile_component(file) {
                        Err(e) => {
                            Verdict::Fail(format!("expected a link or start failure, but compilation failed: {e}"))
                        }
                        Ok(c) => match self.component_linker.instantiate(&mut self.store, &c) {
                            Err(_) => Verdict::Pass,
                            Ok(_) => Verdict::Fail("expected instantiation to fail, but it succeeded".into()),
                        },
                    },
                    Err(e) => Verdict::Fail(format!("expected a link or start failure, but compilation failed: {e}")),
                    Ok(m) => match self.linker.instantiate(&mut self.store, &m) {
                        Err(_) => Verdict::Pass,
                        Ok(_) => Verdict::Fail("expected instantiation to fail, but it succeeded".into()),
                    },
                }
            }
            Command::AssertReturn { action, expected, .. } => match self.act(action) {
                Err(skip) => skip,
                Ok(Ran::Error(e)) => Verdict::Fail(format!("expected values, got error: {e:#}")),
                Ok(Ran::Values(got)) => self.compare(&got, expected),
                Ok(Ran::Component(got)) => compare_component(&got, expected),
            },
            Command::Action { action, .. } => match self.act(action) {
                Err(skip) => skip,
                Ok(Ran::Error(e)) => Verdict::Fail(format!("action failed: {e:#}")),
                Ok(Ran::Values(_) | Ran::Component(_)) => Verdict::Pass,
            },
            Command::AssertTrap { action, text, .. } => match self.act(action) {
                Err(skip) => skip,
                Ok(Ran::Values(v)) => Verdict::Fail(format!("expected trap `{text}`, got {v:?}")),
                Ok(Ran::Component(v)) => Verdict::Fail(format!("expected trap `{text}`, got {v:?}")),
                Ok(Ran::Error(e)) if e.downcast_ref::<Trap>().is_some() => Verdict::Pass,
                // The component model reports many traps as errors with the
                // spec's message rather than as a `Trap` code.
                Ok(Ran::Error(e)) if format!("{e:#}").contains(text.as_ref()) => Verdict::Pass,
                Ok(Ran::Error(e)) => Verdict::Fail(format!("expected trap `{text}`, got error: {e:#}")),
            },
            Command::AssertExhaustion { action, .. } => match self.act(action) {
                Err(skip) => skip,
                Ok(Ran::Values(v)) => Verdict::Fail(format!("expected stack exhaustion, got {v:?}")),
                Ok(Ran::Component(v)) => Verdict::Fail(format!("expected stack exhaustion, got {v:?}")),
                Ok(Ran::Error(e)) if e.downcast_ref::<Trap>() == Some(&Trap::StackOverflow) => Verdict::Pass,
                Ok(Ran::Error(e)) => Verdict::Fail(format!("expected stack exhaustion, got: {e:#}")),
            },
            Command::AssertException { action, .. } => match self.act(action) {
                Err(skip) => skip,
                Ok(Ran::Values(v)) => Verdict::Fail(format!("expected an exception, got {v:?}")),
                Ok(Ran::Component(v)) => Verdict::Fail(format!("expected an exception, got {v:?}")),
                Ok(Ran::Error(e)) if e.is::<wasmtime::ThrownException>() => {
                    let _ = self.store.take_pending_exception();
                    Verdict::Pass
                }
                Ok(Ran::Error(e)) => Verdict::Fail(format!("expected an exception, got: {e:#}")),
            },
            Command::AssertSuspension { .. } => Verdict::Skip("stack switching is not supported by the engine".into()),
            Command::Thread { .. } | Command::Wait { .. } => {
                Verdict::Skip("script threads are not executed by this executor yet".into())
            }
        }
    }

    fn compile_component(&self, file: &json_from_wast::WasmFile<'_>) -> Result<Component, String> {
        Component::new(self.store.engine(), self.bytes(file)?).map_err(|e| format!("{e:#}"))
    }

    fn mark_failed(&mut self, name: Option<&str>) {
        self.failed.insert(None);
        self.instances.remove(&None);
        self.components.remove(&None);
        if let Some(n) = name {
            self.failed.insert(Some(n.to_owned()));
        }
    }

    fn instantiate_component(&mut self, name: Option<&str>, component: &Component) -> Verdict {
        match self.component_linker.instantiate(&mut self.store, component) {
            Ok(i) => {
                self.failed.remove(&None);
                self.instances.remove(&None);
                self.components.insert(None, i);
                if let Some(n) = name {
                    self.failed.remove(&Some(n.to_owned()));
                    self.components.insert(Some(n.to_owned()), i);
                }
                Verdict::Pass
            }
            Err(e) => {
                self.mark_failed(name);
                Verdict::Fail(format!("instantiation failed: {e:#}"))
            }
        }
    }

    /// Invokes an export of a component instance.
    fn invoke_component(
        &mut self,
        instance: ComponentInstance,
        field: &str,
        args: &[Const<'_>],
    ) -> Result<ComponentRan, Verdict> {
        let Some(func) = instance.get_func(&mut self.store, field) else {
            return Ok(ComponentRan::Error(wasmtime::format_err!("no exported function `{field}`")));
        };
        let mut params = Vec::with_capacity(args.len());
        for a in args {
            match a {
                Const::Component(c) => params.push(values::component_val(c)),
                Const::Core(_) => return Err(Verdict::Skip("core values passed to a component".into())),
            }
        }
        let n = func.ty(&self.store).results().len();
        let mut results = vec![wasmtime::component::Val::Bool(false); n];
        Ok(match func.call(&mut self.store, &params, &mut results) {
            Ok(()) => ComponentRan::Values(results),
            Err(e) => ComponentRan::Error(e),
        })
    }

    fn component_rejected(&self, file: &json_from_wast::WasmFile<'_>) -> Verdict {
        match self.bytes(file).map(|b| Component::new(self.store.engine(), b)) {
            Ok(Ok(_)) => Verdict::Fail("expected the component to be rejected, but it compiled".into()),
            _ => Verdict::Pass,
        }
    }

    fn instance(&self, module: &Option<std::borrow::Cow<'_, str>>) -> Result<Instance, Verdict> {
        let key = module.as_deref().map(str::to_owned);
        if self.failed.contains(&key) {
            return Err(Verdict::Skip("depends on a module that failed to instantiate".into()));
        }
        self.instances.get(&key).copied().ok_or_else(|| Verdict::Skip(format!("no instance {module:?}")))
    }

    fn act(&mut self, action: &Action<'_>) -> Result<Ran, Verdict> {
        match action {
            Action::Invoke { module, field, args } => {
                let key = module.as_deref().map(str::to_owned);
                if let Some(c) = self.components.get(&key).copied().filter(|_| !self.failed.contains(&key)) {
                    return Ok(match self.invoke_component(c, field, args)? {
                        ComponentRan::Values(v) => Ran::Component(v),
                        ComponentRan::Error(e) => Ran::Error(e),
                    });
                }
                let instance = self.instance(module)?;
                let Some(func) = instance.get_func(&mut self.store, field) else {
                    return Ok(Ran::Error(wasmtime::format_err!("no exported function `{field}`")));
                };
                let mut params = Vec::with_capacity(args.len());
                for a in args {
                    match a {
                        Const::Core(c) => match values::arg(&mut self.store, c) {
                            Ok(v) => params.push(v),
                            Err(e) => return Err(Verdict::Skip(format!("argument not supported: {e:#}"))),
                        },
                        Const::Component(_) => {
                            return Err(Verdict::Skip("component values are not supported yet".into()));
                        }
                    }
                }
                let ty = func.ty(&self.store);
                let mut results = vec![Val::I32(0); ty.results().len()];
                Ok(match func.call(&mut self.store, &params, &mut results) {
                    Ok(()) => Ran::Values(results),
                    Err(e) => Ran::Error(e),
                })
            }
            Action::Get { module, field } => {
                let instance = self.instance(module)?;
                Ok(match instance.get_export(&mut self.store, field) {
                    Some(Extern::Global(g)) => Ran::Values(vec![g.get(&mut self.store)]),
                    _ => Ran::Error(wasmtime::format_err!("no exported global `{field}`")),
                })
            }
        }
    }

    fn compare(&mut self, got: &[Val], expected: &[Const<'_>]) -> Verdict {
        if got.len() != expected.len() {
            return Verdict::Fail(format!("expected {} values, got {}", expected.len(), got.len()));
        }
        for (i, (g, e)) in got.iter().zip(expected).enumerate() {
            let Const::Core(e) = e else { return Verdict::Skip("component values are not supported yet".into()) };
            if !values::matches(&mut self.store, g, e) {
                return Verdict::Fail(format!("result {i}: expected {e:?}, got {g:?}"));
            }
        }
        Verdict::Pass
    }
}

fn compare_component(got: &[wasmtime::component::Val], expected: &[Const<'_>]) -> Verdict {
    if got.len() != expected.len() {
        return Verdict::Fail(format!("expected {} values, got {}", expected.len(), got.len()));
    }
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        let Const::Component(e) = e else {
            return Verdict::Fail(format!("result {i}: a core value expected of a component"));
        };
        let want = values::component_val(e);
        if *g != want {
            return Verdict::Fail(format!("result {i}: expected {want:?}, got {g:?}"));
        }
    }
    Verdict::Pass
}
