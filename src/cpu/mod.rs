//! # CPU & microarchitecture, measured on the reader's own cores
//!
//! The seed animates made-up cycle counts for caches, coherence, the TLB, branch prediction, NUMA
//! and batching; each demo here measures them on the machine at hand, with its threads pinned. The
//! machine's facts (cache sizes, NUMA nodes, page sizes) are read from sysfs and `/proc` at run
//! time, never hard-coded: the CPU changes from one machine to the next. What a machine cannot show
//! (a second NUMA node, hardware miss counters in a VM) is said so, and any model that stands in
//! for it is labelled as a model.
//!
//! These demos return curves ([`crate::lab::Series`]): `run` draws them in the terminal and
//! `--svg FILE` writes them as a chart.

pub mod batching;
pub mod branch_prediction;
pub mod cache_hierarchy;
pub mod cache_locality;
pub mod mesi;
pub mod numa;
pub mod tlb;
