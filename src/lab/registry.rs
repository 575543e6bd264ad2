//! The registry: one line per demo. A new concept is its folder plus a line here.
//!
//! Everything else (`list`, the possible values of `<DEMO>`, the matrix, the README's concept
//! table, the test that exercises every demo) is derived from this list and the demos' specs.

use super::{drive, Demo, Group, Param, UsageError};
use crate::{concurrency, cpu, net, nic};

/// Every demo the lab has built, in the order `list` shows them.
pub static DEMOS: &[&dyn Demo] = &[
    &concurrency::counter::demo::LOST_UPDATE,
    &concurrency::counter::demo::CAS_RETRY,
    &concurrency::litmus::demo::MESSAGE_PASSING,
    &concurrency::litmus::demo::STORE_BUFFERING,
    &concurrency::litmus::demo::IRIW,
    &concurrency::spsc::demo::SPSC,
    &concurrency::mpmc::demo::MPMC,
    &concurrency::stack::demo::ABA,
    &concurrency::reclaim::demo::RCU,
    &concurrency::reclaim::demo::RCU_GRACE,
    &concurrency::false_sharing::demo::FALSE_SHARING,
    &nic::descriptor_ring::demo::DESCRIPTOR_RING,
    &nic::send_path::demo::SEND_PATH,
    &nic::irq_poll::demo::IRQ_VS_BUSY_POLL,
    &nic::mmio::demo::MMIO,
    &nic::iommu::demo::IOMMU,
    &nic::napi::demo::NAPI,
    &nic::cut_through::demo::CUT_THROUGH,
    &nic::rdma_qp::demo::RDMA_QP,
    &cpu::cache_hierarchy::demo::CACHE_HIERARCHY,
    &cpu::cache_locality::demo::CACHE_LOCALITY,
    &cpu::mesi::demo::MESI,
    &cpu::tlb::demo::TLB,
    &cpu::branch_prediction::demo::BRANCH_PREDICTION,
    &cpu::numa::demo::NUMA,
    &cpu::batching::demo::BATCHING,
    &net::tcp_encapsulation::demo::TCP_ENCAPSULATION,
    &net::tcp_handshake::demo::TCP_HANDSHAKE,
    &net::tcp_aimd::demo::TCP_AIMD,
    &net::tcp_incast::demo::TCP_INCAST,
    &net::all_reduce::demo::ALL_REDUCE,
];

/// The seed site's demos, group by group, in its order: the catalogue the lab is building. A seed
/// demo no registered demo names (`Spec::seed_title`) is listed as not built yet.
pub const SEED: &[(Group, &[&str])] = &[
    (
        Group::Concurrency,
        &[
            "Memory reordering",
            "CAS retry loop",
            "The ABA problem",
            "SPSC ring buffer",
            "MPMC ring",
            "RCU grace period",
            "False sharing",
        ],
    ),
    (
        Group::Nic,
        &[
            "Descriptor ring (RX/TX)",
            "Send path latency",
            "Interrupt vs busy-poll (RX)",
            "MMIO write vs read",
            "IOMMU / IOVA",
            "NAPI poll loop",
            "Cut-through (CTPIO)",
            "RDMA queue pair",
        ],
    ),
    (
        Group::Cpu,
        &[
            "Cache hierarchy",
            "Cache locality",
            "MESI coherence",
            "TLB & page walk",
            "Branch prediction",
            "NUMA local vs remote",
            "Batching",
        ],
    ),
    (
        Group::Net,
        &[
            "TCP encapsulation",
            "TCP 3-way handshake",
            "TCP congestion (AIMD)",
            "TCP incast",
            "All-reduce: ring vs tree",
        ],
    ),
];

/// Every demo name, in registry order: the possible values of `<DEMO>`.
pub fn names() -> Vec<&'static str> {
    DEMOS.iter().map(|d| d.spec().name).collect()
}

/// Finds a demo by name (the command line has already checked it is one) and refuses a demo this
/// build left out.
pub fn find(name: &str) -> Result<&'static dyn Demo, UsageError> {
    let demo = DEMOS
        .iter()
        .copied()
        .find(|d| d.spec().name == name)
        .ok_or_else(|| UsageError(format!("unknown demo `{name}` (demos: {})", names().join(", "))))?;
    drive::available(demo)?;
    Ok(demo)
}

/// The registered demos that make the seed demo `title` real.
pub fn demos_of(title: &str) -> impl Iterator<Item = &'static dyn Demo> + '_ {
    DEMOS.iter().copied().filter(move |d| d.spec().seed_title == title)
}

/// Every demo's own `run` options, one entry per name, with the demos that take it: the command
/// line offers them all on `run` (a name shared by two demos must mean the same kind of value).
pub fn params() -> Vec<(Param, Vec<&'static str>)> {
    let mut all: Vec<(Param, Vec<&'static str>)> = Vec::new();
    for demo in DEMOS {
        for p in demo.spec().params {
            match all.iter_mut().find(|(q, _)| q.name == p.name) {
                Some((_, demos)) => demos.push(demo.spec().name),
                None => all.push((*p, vec![demo.spec().name])),
            }
        }
    }
    all
}
