//! The seed's first group, "Concurrency & the memory model": one folder per concept.
//!
//! Each folder holds the lesson (`mod.rs`), the broken/fixed pair (`broken.rs`, `fixed.rs`: a
//! diff that touches only `// BUG:` / `// FIX:` lines), the model scenarios (`scenario.rs`) and
//! the lab demo (`demo.rs`: what `lockfree-lab run/check/step/matrix` do with it).

pub mod counter;
pub mod false_sharing;
pub mod litmus;
pub mod mpmc;
#[cfg(feature = "epoch")]
pub mod reclaim;
/// The reclaimer needs the cargo feature `epoch`; without it only its demos' specs are built, so
/// the lab can list them and say what they need.
#[cfg(not(feature = "epoch"))]
pub mod reclaim {
    pub mod demo;
}
pub mod ring;
pub mod spsc;
pub mod stack;
