//! The model tests: loom and shuttle explore every concept's broken and fixed variants.
//!
//! One test target, one module per concept (`loom-tests/<concept>.rs`), so that
//! `cargo test --test model <concept>::` runs one concept (`scripts/mutate-orderings` does) and
//! the crate is linked once for all of them. Every test of a fixed variant has a broken twin that
//! the same scenario catches, and every blind spot of a checker has a test that says so.

mod all_reduce;
mod counter;
mod cut_through;
mod descriptor_ring;
mod iommu;
mod irq_poll;
mod litmus;
mod mesi;
mod mpmc;
mod napi;
mod rdma_qp;
mod reclaim; // feature `epoch` (the module says so itself)
mod spsc;
mod stack;
