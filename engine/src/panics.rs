//! Panics inside the engine (or a reference engine) are findings, caught
//! where they happen and reported with their source location, not noise on
//! stderr: a hook, installed once, stays quiet for panics raised while a
//! thread is inside [`catch`] and remembers where they happened.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

thread_local! {
    static QUIET: Cell<u32> = const { Cell::new(0) };
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}
static HOOK: Once = Once::new();

/// A caught panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caught {
    /// Where: a source path from the crate's directory on, and the line,
    /// e.g. `cranelift-codegen-0.135.8/src/isa/riscv64/inst/args.rs:1225`;
    /// `unknown place` when the panic came from another thread.
    pub place: String,
    /// The panic message.
    pub message: String,
}

fn install() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) == 0 {
                previous(info);
                return;
            }
            let place = info.location().map(|l| {
                let file = l.file();
                let short =
                    file.rfind("/src/").and_then(|i| file[..i].rfind('/').map(|j| &file[j + 1..])).unwrap_or(file);
                format!("{short}:{}", l.line())
            });
            LOCATION.with(|l| *l.borrow_mut() = place);
        }));
    });
}

/// Runs `f`; a panic comes back as [`Caught`] without being printed.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Caught> {
    install();
    QUIET.with(|q| q.set(q.get() + 1));
    let result = catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(q.get().saturating_sub(1)));
    result.map_err(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "panic with a non-string payload".to_owned());
        let place = LOCATION.with(|l| l.borrow_mut().take()).unwrap_or_else(|| "unknown place".to_owned());
        Caught { place, message }
    })
}
