//! # lockfree-lab
//!
//! Real lock-free structures, each in a **broken** and a **fixed** variant that read as a diff,
//! checked by model checkers (loom, shuttle) and run on your own cores.
//!
//! Every algorithm file is compiled three times in one build (see [`sync`]):
//! `concept::real::fixed` runs on std atomics, `concept::loom::fixed` under loom,
//! `concept::shuttle::fixed` under shuttle. Plain `cargo test` therefore runs every model suite.
//!
//! The tree is grouped as the product is: the seed's groups ([`concurrency`] today; the NIC
//! datapath, CPU and networking groups next) beside the shared layers ([`sync`], [`check`],
//! [`hw`], [`lab`]). Each concept is a folder: `mod.rs` (the lesson), `broken.rs` / `fixed.rs`
//! (the pair), `scenario.rs` (model scenarios) and `demo.rs` (what the lab does with it). The
//! table of every demo, with its lesson and its pair, is generated from the lab's registry:
//! `cargo run --release -- list --markdown` (the README carries a copy a test keeps current).
//!
//! The lab binary (`cargo run --release`) drives all of them: see [`lab`].
//!
//! Each concept's module doc is its lesson: the synchronization edges, the failing interleaving,
//! which checker catches it and which cannot, and what real x86 cores show.
#![warn(missing_docs, missing_debug_implementations)]

/// Compiles a concept's algorithm files once per backend, in the same build:
/// `real` (std atomics), `loom` and `shuttle`. An algorithm file names no backend: it imports
/// everything from `super::sync`.
///
/// Files listed after `checkers only:` are compiled for loom and shuttle but not for `real`: a
/// broken variant whose bug is a data race on plain memory. Under loom the race is a reported
/// failure (its `UnsafeCell` checks every access before it happens) and shuttle runs one thread
/// at a time, so neither lets it become undefined behaviour; on real threads nothing could stop
/// it, so the real backend does not have these modules at all.
macro_rules! backends {
    ($($(#[$doc:meta])* $module:ident => $file:literal),+ $(,)?) => {
        backends!($($(#[$doc])* $module => $file),+ ; checkers only:);
    };
    (
        $($(#[$doc:meta])* $module:ident => $file:literal),+ ;
        checkers only: $($(#[$cdoc:meta])* $cmodule:ident => $cfile:literal),* $(,)?
    ) => {
        /// Compiled on std atomics: real cores, zero overhead.
        pub mod real {
            #[allow(unused_imports)]
            use crate::sync::real as sync;
            $( $(#[$doc])* pub mod $module { include!($file); } )+
        }
        /// Compiled on loom's atomics: explored exhaustively by `loom::model`.
        pub mod loom {
            #[allow(unused_imports)]
            use crate::sync::loom as sync;
            $( $(#[$doc])* pub mod $module { include!($file); } )+
            $( $(#[$cdoc])* pub mod $cmodule { include!($cfile); } )*
        }
        /// Compiled on shuttle's atomics: explored by shuttle's random and PCT schedulers.
        pub mod shuttle {
            #[allow(unused_imports)]
            use crate::sync::shuttle as sync;
            $( $(#[$doc])* pub mod $module { include!($file); } )+
            $( $(#[$cdoc])* pub mod $cmodule { include!($cfile); } )*
        }
    };
}

// The shared layers.
pub mod check;
pub mod cli;
pub mod hw;
pub mod lab;
pub mod serve;
pub mod sync;

// The product's groups (the seed site's): one folder per concept.
pub mod concurrency;
pub mod cpu;
pub mod net;
pub mod nic;

// Each concept is also reachable from the crate root: `lockfree_lab::spsc::real::fixed::channel`.
#[cfg(feature = "epoch")]
pub use concurrency::reclaim;
pub use concurrency::{counter, false_sharing, litmus, mpmc, ring, spsc, stack};

mod variant;
pub use variant::Variant;
