//! tierwatch's runner agent. It runs the engine's conformance suites and
//! fuzz campaigns where a target is (natively, or under QEMU user-mode
//! emulation), writes the evidence report and JUnit XML, and delivers
//! reports to the server without losing any: what cannot be delivered waits
//! in a spool directory until a later run or `upload --spool` gets it
//! acknowledged.

pub mod agree;
pub mod aot;
pub mod cli;
pub mod host;
pub mod junit;
pub mod progress;
pub mod spool;
pub mod suites;
pub mod upload;
pub mod work;
