//! The descriptor ring as an SPSC queue of `u64`: the slot-flag queue
//! (`nic::descriptor_ring::queue::real::fixed`, id `fixed`) against the lab's index-based ring
//! (`spsc::real::fixed`, `baseline-lab-spsc`) and rtrb (`baseline-rtrb`), producer and consumer
//! pinned to the two cores; and the descriptor ring itself, packets through TX and RX rings.
//!
//! Groups:
//! - `descriptor_ring/throughput-cap4096`: the producer pushes `0..n`, the consumer pops and
//!   checks each value: time per item.
//! - `descriptor_ring/round-trip`: ping-pong over two queues (capacity 64, one item in flight):
//!   time per round trip.
//! - `descriptor_ring/packets`: `run descriptor-ring`'s measurement, the fixed ring with a driver
//!   and a NIC thread, TX and RX, 8 and 512 descriptors: time per packet.
//!
//! Every candidate waits the same way (`common::wait_until`) and uses its non-blocking
//! calls. Before timing, each queue is checked: exactly `capacity` items fit, and 100,000 items
//! cross between the cores in order.
mod common;

use common::spsc::{case, round_trips, sanity, transfer, Rtrb, Spsc};
use common::{Comparison, Pin, Sense::SpeedRatio, Sense::TimeRatio, Shares};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lockfree_lab::nic::descriptor_ring::{queue::real::fixed as flag_queue, run_on_cores, Mode};
use lockfree_lab::spsc::real::fixed as lab_spsc;
use lockfree_lab::Variant;

/// What the report says about these benches (`common::Comparison`; `benches/report.rs`).
const COMPARISONS: &[Comparison] = &[
    Comparison::ratio(
        "Slot-flag queue throughput, capacity 4096: fixed vs rtrb",
        "descriptor_ring/throughput-cap4096",
        "fixed",
        "baseline-rtrb",
        SpeedRatio,
    )
    .at_least(1.3, "≥ 1.3× rtrb per item"),
    Comparison::ratio(
        "Slot-flag queue throughput, capacity 4096: fixed vs the lab's index-based SPSC ring",
        "descriptor_ring/throughput-cap4096",
        "fixed",
        "baseline-lab-spsc",
        SpeedRatio,
    ),
    Comparison::ratio(
        "Slot-flag queue round trip / rtrb",
        "descriptor_ring/round-trip",
        "fixed",
        "baseline-rtrb",
        TimeRatio,
    ),
    Comparison::ratio(
        "Slot-flag queue round trip / the lab's index-based SPSC ring",
        "descriptor_ring/round-trip",
        "fixed",
        "baseline-lab-spsc",
        TimeRatio,
    ),
    Comparison::note(
        "descriptor_ring/packets is `run descriptor-ring`'s measurement: a NIC thread stands in for a NIC, so a \
         doorbell is a cache-line transfer, not a PCIe MMIO write",
    ),
];

/// The slot-flag queue.
struct FlagQueue;
impl Spsc for FlagQueue {
    const ID: &'static str = "fixed";
    type P = flag_queue::Producer<u64>;
    type C = flag_queue::Consumer<u64>;
    fn channel(capacity: usize) -> (Self::P, Self::C) {
        flag_queue::channel(capacity)
    }
    #[inline]
    fn push(p: &mut Self::P, v: u64) -> bool {
        p.push(v).is_ok()
    }
    #[inline]
    fn pop(c: &mut Self::C) -> Option<u64> {
        c.pop()
    }
}

/// The lab's index-based ring.
struct LabSpsc;
impl Spsc for LabSpsc {
    const ID: &'static str = "baseline-lab-spsc";
    type P = lab_spsc::Producer<u64>;
    type C = lab_spsc::Consumer<u64>;
    fn channel(capacity: usize) -> (Self::P, Self::C) {
        lab_spsc::channel(capacity)
    }
    #[inline]
    fn push(p: &mut Self::P, v: u64) -> bool {
        p.push(v).is_ok()
    }
    #[inline]
    fn pop(c: &mut Self::C) -> Option<u64> {
        c.pop()
    }
}

fn bench(c: &mut Criterion) {
    let group = "descriptor_ring/throughput-cap4096";
    let mut g = c.benchmark_group(group);
    g.sample_size(common::samples(100));
    g.measurement_time(common::measure_time(5));
    g.throughput(Throughput::Elements(1));
    sanity::<FlagQueue>(4096);
    case(&mut g, group, FlagQueue::ID, |n, s| transfer::<FlagQueue>(4096, n, s));
    sanity::<LabSpsc>(4096);
    case(&mut g, group, LabSpsc::ID, |n, s| transfer::<LabSpsc>(4096, n, s));
    sanity::<Rtrb>(4096);
    case(&mut g, group, Rtrb::ID, |n, s| transfer::<Rtrb>(4096, n, s));
    g.finish();

    let group = "descriptor_ring/round-trip";
    let mut g = c.benchmark_group(group);
    g.sample_size(common::samples(50));
    sanity::<FlagQueue>(64);
    case(&mut g, group, FlagQueue::ID, round_trips::<FlagQueue>);
    case(&mut g, group, LabSpsc::ID, round_trips::<LabSpsc>);
    case(&mut g, group, Rtrb::ID, round_trips::<Rtrb>);
    g.finish();

    let group = "descriptor_ring/packets";
    let mut g = c.benchmark_group(group);
    g.sample_size(common::samples(20));
    g.throughput(Throughput::Elements(1));
    for (mode, n) in [(Mode::Tx, 8usize), (Mode::Rx, 8), (Mode::Tx, 512), (Mode::Rx, 512)] {
        let id = format!("fixed-{}-{n}", mode.name());
        g.bench_function(&id, |b| {
            b.iter_custom(|packets| run_on_cores(Variant::Fixed, mode, n, packets, Pin::Spread).wall)
        });
    }
    g.finish();

    // The targets' ratios, measured in alternation (see `common::paired`).
    let x = Shares::default;
    common::paired(
        "descriptor_ring/throughput-cap4096",
        vec![
            ("fixed", Box::new(|n| transfer::<FlagQueue>(4096, n, &mut x()))),
            ("baseline-rtrb", Box::new(|n| transfer::<Rtrb>(4096, n, &mut x()))),
            (
                "baseline-lab-spsc",
                Box::new(|n| transfer::<LabSpsc>(4096, n, &mut x())),
            ),
        ],
    );
    common::paired(
        "descriptor_ring/round-trip",
        vec![
            ("fixed", Box::new(|n| round_trips::<FlagQueue>(n, &mut x()))),
            ("baseline-rtrb", Box::new(|n| round_trips::<Rtrb>(n, &mut x()))),
            ("baseline-lab-spsc", Box::new(|n| round_trips::<LabSpsc>(n, &mut x()))),
        ],
    );
}

criterion_group! {
    name = benches;
    config = common::criterion(COMPARISONS);
    targets = bench
}
criterion_main!(benches);
