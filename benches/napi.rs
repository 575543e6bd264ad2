//! NAPI batching vs one IRQ per packet: the driver's CPU cost per packet, on two pinned threads.
//!
//! The NIC thread posts packets into the RX ring at its own pace (a trickle: one every 20 µs; or
//! bursts of 256 every 200 µs) and raises an "IRQ" (an eventfd write; the driver takes it with a
//! read, sleeping when idle: the analogue of interrupt → handler). `fixed` is the NAPI driver (mask, polls of
//! 64, re-arm, re-check); `baseline-1-irq-per-packet` never masks and handles one packet per IRQ.
//!
//! The time criterion records is **the driver thread's CPU time per packet** (its wall time is
//! the NIC's pacing, the same for both). Hard IRQs per packet go to the side file.
mod common;

use std::time::Duration;

use common::{Comparison, Pin, Sense::TimeRatio};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lockfree_lab::nic::napi::cores::{run_on_cores, Kind, Workload};
use lockfree_lab::Variant;

/// Packets per burst in the bursts group.
const BURST: usize = 256;
/// NAPI's budget (Linux's dev_weight).
const BUDGET: usize = 64;

/// What the report says about these benches (`common::Comparison`; `benches/report.rs`).
const COMPARISONS: &[Comparison] = &[
    Comparison::ratio(
        "napi: NAPI / 1 IRQ per packet, driver CPU per packet, bursts of 256",
        "napi/bursts-256",
        "fixed",
        "baseline-1-irq-per-packet",
        TimeRatio,
    ),
    Comparison::ratio(
        "napi: NAPI / 1 IRQ per packet, driver CPU per packet, trickle",
        "napi/trickle",
        "fixed",
        "baseline-1-irq-per-packet",
        TimeRatio,
    ),
    Comparison::note(
        "napi: an IRQ here is an eventfd write and read (a kernel entry each, a sleep and wakeup when the driver is \
         idle), the analogue of a hard IRQ's entry and exit; the real interrupt's cost is not measured",
    ),
];

fn bench(c: &mut Criterion) {
    for (workload, name) in [
        (Workload::Bursts, "napi/bursts-256"),
        (Workload::Trickle, "napi/trickle"),
    ] {
        let mut g = c.benchmark_group(name);
        g.sample_size(10);
        // The NIC's pacing makes the wall time several times the CPU time criterion sees.
        g.warm_up_time(Duration::from_millis(200));
        g.measurement_time(Duration::from_millis(if common::quick() { 200 } else { 600 }));
        g.throughput(Throughput::Elements(1));
        for (id, kind) in [
            ("fixed", Kind::Napi(Variant::Fixed)),
            ("baseline-1-irq-per-packet", Kind::PerPacket),
        ] {
            let (mut irqs, mut packets) = (0u64, 0u64);
            g.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    let r = run_on_cores(kind, workload, iters, BURST, BUDGET, Pin::Spread);
                    assert_eq!(r.stranded + r.rescued, 0, "a stranded packet");
                    irqs += r.hard_irqs;
                    packets += r.packets;
                    r.driver_cpu
                })
            });
            if packets > 0 {
                let per_packet = irqs as f64 / packets as f64;
                if common::measuring() {
                    println!("{name}/{id}: {per_packet:.4} hard IRQs per packet ({irqs} in {packets})");
                }
                common::record_extra(name, id, "hard_irqs_per_packet", per_packet);
            }
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::criterion(COMPARISONS);
    targets = bench
}
criterion_main!(benches);
