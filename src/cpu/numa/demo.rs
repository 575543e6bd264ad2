//! The `numa` demo: the nodes from sysfs; with two or more, local vs remote latency measured with
//! memory bound by `mbind`; with one, the local latency measured and the seed's model simulated
//! with cited latencies.

use std::path::Path;

use super::{measure, read_nodes, simulate, Chase, Node, CITED_LOCAL_NS, CITED_REMOTE_NS, CITED_SOURCE, SYSFS_NODES};
use crate::lab::{
    BugClass, Can, Case, Demo, Figure, Group, Param, ParamKind, Row, RunOptions, RunOutput, Series, Spec, Threads,
    UsageError, Variants,
};

/// The `numa` demo.
#[derive(Debug)]
pub struct NumaDemo;

/// `numa`.
pub static NUMA: NumaDemo = NumaDemo;

/// The label every simulated figure carries on a one-node machine.
pub const SIMULATED: &str = "simulated: this machine has one NUMA node";

static SPEC: Spec = Spec {
    name: "numa",
    module: "cpu/numa",
    group: Group::Cpu,
    seed_title: "NUMA local vs remote",
    lesson: "memory on another node costs a trip across the interconnect: place threads and memory together",
    pair: "the slow way / the fast way: memory bound to a remote node → to the thread's own node",
    variants: Variants::BrokenFixed,
    can: Can {
        run: true,
        check: false,
        step: false,
    },
    bug: BugClass::Performance,
    threads: Threads::Fixed(1),
    default_iterations: 2_000_000,
    max_iterations: (
        100_000_000,
        "dependent loads per measurement: 100 M take about 10 s at DRAM latency",
    ),
    loom_false_positive: None,
    feature: None,
    params: &[
        Param {
            name: "remote",
            help: "the model's share of accesses that go to the remote node, % (one-node machines)",
            kind: ParamKind::Number {
                min: 0,
                max: 100,
                default: 50,
                power_of_two: false,
            },
        },
        Param {
            name: "size-mib",
            help: "the pointer-chase buffer, MiB (make it several times the L3)",
            kind: ParamKind::Number {
                min: 16,
                max: 16_384,
                default: 256,
                power_of_two: false,
            },
        },
    ],
};

/// `MemAvailable` from `/proc/meminfo`, KiB.
fn mem_available_kib() -> Option<u64> {
    std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find(|l| l.starts_with("MemAvailable:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    })
}

/// The first CPU of `node` this process may run on.
fn cpu_of(node: &Node, allowed: &[usize]) -> Option<usize> {
    node.cpus.iter().copied().find(|c| allowed.contains(c))
}

fn figures(ns: f64, local: f64, placement: String) -> Vec<Figure> {
    vec![
        Figure::number("ns/access", ns, 1, "ns"),
        Figure::number("vs local", ns / local, 2, "x"),
        Figure::text("memory placement", &placement),
    ]
}

fn measured_row(c: &Chase, cpu_node: u32, local: f64) -> Row {
    let kind = if cpu_node == c.mem_node { "local" } else { "remote" };
    Row {
        case: format!(
            "measured: CPU {} (node {cpu_node}) → memory node {} ({kind})",
            c.cpu, c.mem_node
        ),
        figures: figures(
            c.ns_per_load,
            local,
            format!(
                "mbind node {}: {}/{} sampled pages there",
                c.mem_node, c.pages_on_node, c.pages_checked
            ),
        ),
        parallel: None,
        parallelism: format!(
            "one thread pinned to CPU {}, on it {:.0}% of the chase (ns/access counts its CPU time only)",
            c.cpu,
            c.cpu_share * 100.0
        ),
    }
}

impl Demo for NumaDemo {
    fn spec(&self) -> &Spec {
        &SPEC
    }

    fn run(&self, _cases: &[Case], opts: &RunOptions) -> Result<RunOutput, UsageError> {
        let mut out = RunOutput::new(&SPEC, opts);
        let size_mib = opts.params.number("size-mib");
        let bytes = (size_mib as usize) << 20;
        if let Some(avail) = mem_available_kib() {
            if size_mib * 1024 > avail / 2 {
                return Err(UsageError(format!(
                    "--size-mib {size_mib} is more than half of the memory available now ({} MiB)",
                    avail / 1024
                )));
            }
        }
        let nodes =
            read_nodes(Path::new(SYSFS_NODES)).map_err(|e| UsageError(format!("cannot read {SYSFS_NODES}: {e}")))?;
        let allowed: Vec<usize> = core_affinity::get_core_ids()
            .unwrap_or_default()
            .iter()
            .map(|c| c.id)
            .collect();
        let nodes = match nodes {
            Some(n) if !n.is_empty() => n,
            _ => {
                out.notes.push(format!(
                    "no {SYSFS_NODES}: this kernel was built without NUMA, so all memory is one node"
                ));
                vec![Node {
                    id: 0,
                    cpus: allowed.clone(),
                    mem_kib: None,
                    distances: vec![],
                }]
            }
        };
        out.notes.push(format!(
            "nodes (sysfs): {}",
            nodes
                .iter()
                .map(|n| format!(
                    "node {}: CPUs {:?}{}{}",
                    n.id,
                    n.cpus,
                    n.mem_kib.map_or(String::new(), |k| format!(", {} MiB", k / 1024)),
                    if n.distances.is_empty() {
                        String::new()
                    } else {
                        format!(", distances {:?}", n.distances)
                    }
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ));
        let run = |cpu: usize, node: u32| {
            measure(cpu, node, bytes, opts.iterations).map_err(|e| {
                UsageError(format!(
                    "cannot measure CPU {cpu} → memory node {node} (mbind/get_mempolicy): {e}"
                ))
            })
        };
        let cpu_nodes: Vec<(&Node, usize)> = nodes
            .iter()
            .filter_map(|n| cpu_of(n, &allowed).map(|c| (n, c)))
            .collect();
        if nodes.len() >= 2 && !cpu_nodes.is_empty() {
            // Every (CPU node, memory node) pair: thread pinned on the first, pages bound to the second.
            let mut points = Vec::new();
            for &(cn, cpu) in &cpu_nodes {
                let local = run(cpu, cn.id)?;
                out.rows.push(measured_row(&local, cn.id, local.ns_per_load));
                for mn in nodes.iter().filter(|m| m.id != cn.id) {
                    let remote = run(cpu, mn.id)?;
                    out.rows.push(measured_row(&remote, cn.id, local.ns_per_load));
                    points.push((local.ns_per_load, remote.ns_per_load));
                }
            }
            if let Some(&(l, r)) = points.first() {
                let mix = (0..=10)
                    .map(|k| (k as f64 * 10.0, l + (r - l) * k as f64 / 10.0))
                    .collect();
                out.series.push(Series::new(
                    format!("average latency vs remote share (from the measured {l:.0} / {r:.0} ns)"),
                    ("accesses to the remote node", "%"),
                    ("average latency", "ns"),
                    mix,
                ));
            }
            out.notes.push(
                "measured: memory bound to the node with mbind(MPOL_BIND) before the first touch, placement verified \
                 with get_mempolicy(MPOL_F_NODE|MPOL_F_ADDR); one pinned thread chasing pointers (one per 64-byte \
                 line, dependent loads, transparent huge pages asked for)"
                    .into(),
            );
        } else {
            let node = &nodes[0];
            let cpu = cpu_of(node, &allowed).or_else(|| allowed.first().copied()).unwrap_or(0);
            let local = run(cpu, node.id)?;
            out.notes.push(format!(
                "this machine has one NUMA node: there is no remote memory to measure. Measured: the local latency \
                 (memory bound to node {} with mbind before the first touch, huge pages asked for, one pinned thread chasing pointers, its CPU time counted). The remote figures are the \
                 seed's model, {SIMULATED}, with cited latencies: {CITED_SOURCE}",
                node.id
            ));
            out.rows.push(measured_row(&local, node.id, local.ns_per_load));
            let remote_pct = opts.params.number("remote");
            let accesses = 10_000;
            let (n_remote, avg) = simulate(CITED_LOCAL_NS, CITED_REMOTE_NS, remote_pct, accesses, 0x5eed);
            for (case, ns) in [
                ("cited local DRAM", CITED_LOCAL_NS),
                ("cited remote DRAM (another socket)", CITED_REMOTE_NS),
            ] {
                out.rows.push(Row {
                    case: format!("{SIMULATED}: {case}"),
                    figures: figures(ns, CITED_LOCAL_NS, "cited".into()),
                    parallel: None,
                    parallelism: SIMULATED.into(),
                });
            }
            out.rows.push(Row {
                case: format!("{SIMULATED}: {accesses} accesses, {remote_pct}% remote"),
                figures: figures(
                    avg,
                    CITED_LOCAL_NS,
                    format!("{n_remote} of {accesses} accesses drawn remote"),
                ),
                parallel: None,
                parallelism: SIMULATED.into(),
            });
            let curve = (0..=10)
                .map(|k| {
                    let pct = k * 10;
                    (
                        pct as f64,
                        simulate(CITED_LOCAL_NS, CITED_REMOTE_NS, pct, accesses, 0x5eed + k).1,
                    )
                })
                .collect();
            out.series.push(
                Series::new(
                    format!("average latency vs remote share ({SIMULATED}; cited 80 / 150 ns)"),
                    ("accesses to the remote node", "%"),
                    ("average latency", "ns"),
                    curve,
                )
                .mark(remote_pct as f64, format!("--remote {remote_pct}")),
            );
        }
        if bytes < 64 << 20 {
            out.notes.push(
                "a buffer under 64 MiB may sit partly in the L3: the figure is then not DRAM latency (--size-mib)"
                    .into(),
            );
        }
        Ok(out)
    }
}
