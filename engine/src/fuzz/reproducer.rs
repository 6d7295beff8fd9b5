//! Reproducers are ordinary `.wasm` files: the minimised module with a
//! `tierwatch-reproducer` custom section appended that carries the call
//! arguments, the generator config and where the input came from. Engines
//! ignore custom sections, so the file also loads in any tool as is.

use serde::{Deserialize, Serialize};
use wasmparser::Parser;

use super::judges::{Judges, catch_quietly, generate, signature};
use super::oracles::Finding;
use super::proposals::proposal;

/// The custom section's name.
pub const SECTION: &str = "tierwatch-reproducer";

/// Where an input came from.
#[derive(Debug)]
pub(crate) struct Origin<'a> {
    pub campaign: &'a str,
    pub seed: u64,
    pub iteration: u64,
    pub generator: &'a str,
}

/// What a reproducer file carries besides the module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Reproducer {
    /// The campaign that found it, e.g. `differential-wasmi/simd`.
    pub campaign: String,
    /// The proposal (policy feature id).
    pub proposal: String,
    /// The campaign seed.
    pub seed: u64,
    /// The iteration within the campaign.
    pub iteration: u64,
    /// The generator configuration.
    pub generator: String,
    /// The crash signature found.
    pub signature: String,
    /// The finding's message when found.
    pub message: String,
    /// Argument bytes (hex in the file); when the module is empty, the
    /// whole generator input, because the generator itself crashed.
    #[serde(with = "hex_bytes")]
    pub args: Vec<u8>,
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        if text.len() % 2 != 0 {
            return Err(serde::de::Error::custom("odd number of hex digits"));
        }
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(serde::de::Error::custom))
            .collect()
    }
}

/// Why a file is not a reproducer.
#[derive(Debug, thiserror::Error)]
pub enum ReproducerError {
    /// Not a wasm module.
    #[error("not a wasm module: {0}")]
    NotWasm(String),
    /// No `tierwatch-reproducer` section.
    #[error("no `{SECTION}` custom section: this file was not written by a tierwatch campaign")]
    NoSection,
    /// The section does not parse.
    #[error("the `{SECTION}` section is malformed: {0}")]
    Malformed(String),
    /// The proposal is unknown to this engine.
    #[error("unknown proposal `{0}`; this runner fuzzes: {1}")]
    UnknownProposal(String, String),
}

fn leb128(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// An empty module, the carrier when the generator itself crashed.
const EMPTY: &[u8] = b"\0asm\x01\0\0\0";

impl Reproducer {
    /// The reproducer file: `wasm` (or an empty module) plus the section.
    pub fn encode(&self, wasm: Option<&[u8]>) -> Vec<u8> {
        let json = serde_json::to_vec(self).expect("a reproducer serialises");
        let mut payload = Vec::new();
        leb128(SECTION.len(), &mut payload);
        payload.extend_from_slice(SECTION.as_bytes());
        payload.extend_from_slice(&json);
        let mut out = wasm.unwrap_or(EMPTY).to_vec();
        out.push(0);
        leb128(payload.len(), &mut out);
        out.extend_from_slice(&payload);
        out
    }

    /// Splits a reproducer file into the module (section removed; `None`
    /// for a generator crash) and the metadata.
    pub fn decode(file: &[u8]) -> Result<(Option<Vec<u8>>, Reproducer), ReproducerError> {
        for payload in Parser::new(0).parse_all(file) {
            payload.map_err(|e| ReproducerError::NotWasm(e.to_string()))?;
        }
        let (range, data) = find_section(file).ok_or(ReproducerError::NoSection)?;
        let meta: Reproducer = serde_json::from_slice(data).map_err(|e| ReproducerError::Malformed(e.to_string()))?;
        let mut module = file[..range.start].to_vec();
        module.extend_from_slice(&file[range.end..]);
        let module = (module != EMPTY).then_some(module);
        Ok((module, meta))
    }
}

fn read_leb(file: &[u8], at: &mut usize) -> Option<usize> {
    let mut n = 0usize;
    for shift in (0..35).step_by(7) {
        let b = *file.get(*at)?;
        *at += 1;
        n |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

/// The byte range of the reproducer section (header included) and its
/// payload after the name. The file has been validated as wasm already.
fn find_section(file: &[u8]) -> Option<(std::ops::Range<usize>, &[u8])> {
    let mut at = 8;
    while at < file.len() {
        let start = at;
        let id = file[at];
        at += 1;
        let size = read_leb(file, &mut at)?;
        let end = at.checked_add(size)?;
        if id == 0 {
            let mut name_at = at;
            let len = read_leb(file, &mut name_at)?;
            if file.get(name_at..name_at + len)? == SECTION.as_bytes() {
                return Some((start..end, file.get(name_at + len..end)?));
            }
        }
        at = end;
    }
    None
}

/// What replaying a reproducer showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// The recorded metadata.
    pub meta: Reproducer,
    /// The finding now, if the crash still happens.
    pub finding: Option<Finding>,
    /// Whether the finding has the recorded signature.
    pub reproduces: bool,
}

/// Replays a reproducer file against `judges` (built for the recorded
/// proposal with [`Judges::choose`], or a test's own engines).
pub fn replay(file: &[u8], judges: &Judges) -> Result<Replay, ReproducerError> {
    let (module, meta) = Reproducer::decode(file)?;
    let finding = match module {
        Some(wasm) => match catch_quietly(|| judges.check(&wasm, &meta.args)) {
            Ok(Ok(_)) => None,
            Ok(Err(f)) | Err(f) => Some(f),
        },
        None => {
            let p = proposal(&meta.proposal).ok_or_else(|| {
                let known: Vec<&str> = super::PROPOSALS.iter().map(|p| p.id).collect();
                ReproducerError::UnknownProposal(meta.proposal.clone(), known.join(", "))
            })?;
            let mut u = arbitrary::Unstructured::new(&meta.args);
            catch_quietly(|| generate(p, &mut u)).err()
        }
    };
    let reproduces = finding.as_ref().is_some_and(|f| signature(f) == meta.signature);
    Ok(Replay { meta, finding, reproduces })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reproducer_round_trips_and_stays_a_valid_module() {
        let wasm = wat::parse_str("(module (func (export \"f\") (result i32) i32.const 7))").expect("parses");
        let meta = Reproducer {
            campaign: "differential-wasmi/simd".into(),
            proposal: "simd".into(),
            seed: 3,
            iteration: 9,
            generator: "g".into(),
            signature: "result-mismatch-0".into(),
            message: "m".into(),
            args: vec![0, 1, 0xff],
        };
        let file = meta.encode(Some(&wasm));
        wasmparser::Validator::new().validate_all(&file).expect("still a valid module");
        let (module, back) = Reproducer::decode(&file).expect("decodes");
        assert_eq!(module.as_deref(), Some(wasm.as_slice()));
        assert_eq!(back, meta);
        let (none, _) = Reproducer::decode(&meta.encode(None)).expect("decodes");
        assert_eq!(none, None);
        assert!(matches!(Reproducer::decode(&wasm), Err(ReproducerError::NoSection)));
    }
}
