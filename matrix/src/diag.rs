//! Positioned diagnostics for policy files, in the compiler's
//! `file:line:col: error[code]: message` shape, with stable codes.

use std::fmt;

use crate::yaml::Pos;

/// A stable diagnostic code. The text of each is part of tierwatch's
/// interface: scripts and docs may match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    /// The file is not valid YAML.
    Syntax,
    /// A mapping key that the schema does not know.
    UnknownKey,
    /// A required key is absent.
    MissingField,
    /// A value of the wrong type or out of range.
    InvalidValue,
    /// Two items share an id.
    DuplicateId,
    /// A reference to an id that is not defined.
    DanglingReference,
    /// A check `kind` outside the closed set.
    UnknownCheckKind,
    /// A check parameter that is missing or does not belong to its kind.
    CheckParameter,
    /// A time window that does not parse.
    BadWindow,
    /// A glob pattern that does not parse.
    BadPattern,
    /// Items that are each valid but contradict one another.
    Inconsistent,
    /// A test selector that matches no test of the checked testsuites.
    NoMatch,
    /// A test claimed by two features of one category over the same runs.
    Overlap,
    /// Something defined that nothing uses (a footnote no row or prose
    /// points at).
    Unused,
}

impl Code {
    /// The code as written in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Syntax => "syntax",
            Code::UnknownKey => "unknown-key",
            Code::MissingField => "missing-field",
            Code::InvalidValue => "invalid-value",
            Code::DuplicateId => "duplicate-id",
            Code::DanglingReference => "dangling-reference",
            Code::UnknownCheckKind => "unknown-check-kind",
            Code::CheckParameter => "check-parameter",
            Code::BadWindow => "bad-window",
            Code::BadPattern => "bad-pattern",
            Code::Inconsistent => "inconsistent",
            Code::NoMatch => "no-match",
            Code::Overlap => "overlap",
            Code::Unused => "unused",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where in the file.
    pub pos: Pos,
    /// Which kind of problem.
    pub code: Code,
    /// What is wrong.
    pub message: String,
    /// What to do about it, when there is something specific to say.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic without help text.
    pub fn new(pos: Pos, code: Code, message: impl Into<String>) -> Self {
        Diagnostic { pos, code, message: message.into(), help: None }
    }

    /// Adds a line of advice.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Every problem found in one file, in source order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    /// The file name as the user gave it.
    pub file: String,
    /// The problems, sorted by position.
    pub items: Vec<Diagnostic>,
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.items {
            writeln!(f, "{}:{}:{}: error[{}]: {}", self.file, d.pos.line, d.pos.col, d.code, d.message)?;
            if let Some(help) = &d.help {
                writeln!(f, "  help: {help}")?;
            }
        }
        let n = self.items.len();
        write!(f, "{}: {n} error{} found", self.file, if n == 1 { "" } else { "s" })
    }
}

impl std::error::Error for Diagnostics {}
