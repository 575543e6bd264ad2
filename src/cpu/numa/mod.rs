//! # NUMA: local memory vs memory on another node
//!
//! On a multi-socket (or sub-NUMA-clustered) machine each node has its own memory controller:
//! a load from a core to its own node's memory is **local**, a load to another node's memory
//! crosses the interconnect (UPI, Infinity Fabric) and is **remote**, slower by the "NUMA factor"
//! (the firmware's ACPI SLIT table says 10 for local and typically 20–32 for remote, shown in
//! `/sys/devices/system/node/node*/distance`). Threads and memory placed on the same node avoid it.
//!
//! ## What is measured
//! The nodes are read from sysfs at run time ([`read_nodes`], a function over the sysfs directory
//! so tests feed it fake trees): each node's CPUs (`cpulist`), memory (`meminfo`) and distances.
//! For each (CPU node, memory node) pair, one thread pinned to a CPU of the first node chases
//! pointers (a random cyclic permutation, one pointer per 64-byte line, dependent loads: lmbench
//! `lat_mem_rd`'s method) through a buffer whose pages are **bound to the memory node with
//! `mbind(2)` (`MPOL_BIND`, called through `libc::syscall`) before the first touch**; the
//! placement is then verified page by page with `get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR)`.
//!
//! ## What this machine cannot show
//! With one node (a laptop, a single-socket server, most VMs — the project's machine) there is no
//! remote memory: the demo says so, measures the local latency alone, and runs the seed's model
//! instead, **labelled "simulated: this machine has one NUMA node"**, with cited latencies
//! ([`CITED_LOCAL_NS`], [`CITED_REMOTE_NS`]). Without `/sys/devices/system/node` at all the kernel
//! was built without NUMA: one memory, same thing.
//!
//! Sources: Linux `Documentation/admin-guide/mm/numa_memory_policy.rst` (`mbind`, `MPOL_BIND`);
//! `get_mempolicy(2)`; lmbench `lat_mem_rd`; the cited latencies' source is given with them.

pub mod demo;

use std::fs;
use std::hint::black_box;
use std::io;
use std::path::Path;
use std::time::Instant;

/// The sysfs directory that lists the NUMA nodes.
pub const SYSFS_NODES: &str = "/sys/devices/system/node";

/// Cited local DRAM latency, ns: the seed's own figure, and the low end of the 80–100 ns range in
/// "NUMA Memory Locality and Cross-Socket Access Costs" (systemoverflow.com, OS & Systems
/// Fundamentals).
pub const CITED_LOCAL_NS: f64 = 80.0;
/// Cited remote (cross-socket) DRAM latency, ns: the low end of the 150–300 ns range in the same
/// source (a NUMA factor of 1.5–3×; ACPI SLIT distances of 10 vs 20–21 say about 2×).
pub const CITED_REMOTE_NS: f64 = 150.0;
/// Where the cited latencies come from, for the notes.
pub const CITED_SOURCE: &str =
    "systemoverflow.com, \"NUMA Memory Locality and Cross-Socket Access Costs\": local 80–100 \
ns, remote 150–300 ns (the seed also draws local RAM at 80 ns)";

/// One NUMA node, as sysfs describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// `N` of `nodeN`.
    pub id: u32,
    /// Its CPUs (`cpulist`); empty for a memory-only node (CXL, HBM).
    pub cpus: Vec<usize>,
    /// Its memory (`meminfo`'s `MemTotal`), KiB, when reported.
    pub mem_kib: Option<u64>,
    /// Its ACPI SLIT distance to every node, in node order (`distance`), when reported.
    pub distances: Vec<u32>,
}

/// Parses a kernel CPU list (`0-3,8,10-11`) into CPU numbers; `None` if malformed.
pub fn parse_cpulist(s: &str) -> Option<Vec<usize>> {
    let s = s.trim();
    let mut cpus = Vec::new();
    if s.is_empty() {
        return Some(cpus);
    }
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if a > b {
                    return None;
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.trim().parse().ok()?),
        }
    }
    Some(cpus)
}

/// Reads the nodes under `root` (normally [`SYSFS_NODES`]): `Ok(None)` when the directory does
/// not exist (a kernel without NUMA), else the `nodeN` entries sorted by `N`. A node whose
/// `cpulist` is malformed is an error; a missing `meminfo` or `distance` is left empty.
pub fn read_nodes(root: &Path) -> io::Result<Option<Vec<Node>>> {
    let entries = match fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut nodes = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_prefix("node"))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let dir = entry.path();
        let cpulist = fs::read_to_string(dir.join("cpulist")).unwrap_or_default();
        let cpus = parse_cpulist(&cpulist).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: malformed cpulist `{}`", dir.display(), cpulist.trim()),
            )
        })?;
        let mem_kib = fs::read_to_string(dir.join("meminfo")).ok().and_then(|m| {
            m.lines()
                .find(|l| l.contains("MemTotal:"))
                .and_then(|l| l.split_whitespace().rev().nth(1))
                .and_then(|v| v.parse().ok())
        });
        let distances = fs::read_to_string(dir.join("distance"))
            .map(|d| d.split_whitespace().filter_map(|v| v.parse().ok()).collect())
            .unwrap_or_default();
        nodes.push(Node {
            id,
            cpus,
            mem_kib,
            distances,
        });
    }
    nodes.sort_by_key(|n| n.id);
    Ok(Some(nodes))
}

// From <linux/mempolicy.h> (the libc crate does not export them all).
/// `mbind` mode: allocate only on the given nodes.
const MPOL_BIND: libc::c_int = 2;
/// `mbind` flag: fail if pages already exist elsewhere (they do not: we bind before the first touch).
const MPOL_MF_STRICT: libc::c_uint = 1;
/// `get_mempolicy` flags: return the node that holds the page at `addr`.
const MPOL_F_NODE: libc::c_ulong = 1;
const MPOL_F_ADDR: libc::c_ulong = 2;
/// Bits in the node masks passed to the kernel (Linux's `MAX_NUMNODES` is at most 1024).
const MASK_WORDS: usize = 16;

/// An anonymous mapping, unmapped on drop.
struct Mapping {
    ptr: *mut u64,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> io::Result<Self> {
        // SAFETY: an anonymous private mapping with no address hint; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Self { ptr: ptr.cast(), len })
    }

    /// Binds every page of the mapping to `node` (before any page exists).
    fn bind(&self, node: u32) -> io::Result<()> {
        let mut mask = [0 as libc::c_ulong; MASK_WORDS];
        let bits = libc::c_ulong::BITS as usize;
        let word = node as usize / bits;
        if word >= MASK_WORDS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("node {node} too large"),
            ));
        }
        mask[word] |= 1 << (node as usize % bits);
        // SAFETY: `ptr..ptr + len` is our own mapping; `mask` holds MASK_WORDS words, and maxnode
        // is its bit count + 1 (the kernel reads maxnode - 1 bits).
        let rc = unsafe {
            libc::syscall(
                libc::SYS_mbind,
                self.ptr,
                self.len as libc::c_ulong,
                MPOL_BIND,
                mask.as_ptr(),
                (MASK_WORDS * bits + 1) as libc::c_ulong,
                MPOL_MF_STRICT,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Asks for transparent huge pages (`MADV_HUGEPAGE`), so that TLB misses weigh less in the
    /// chase (Intel MLC uses huge pages for the same reason). Advisory: ignored if refused.
    fn ask_huge_pages(&self) {
        // SAFETY: advice on our own mapping; it changes no memory contents.
        unsafe { libc::madvise(self.ptr.cast(), self.len, libc::MADV_HUGEPAGE) };
    }

    /// The node holding the (touched) page at byte `offset`.
    fn node_of(&self, offset: usize) -> io::Result<u32> {
        let mut node: libc::c_int = -1;
        // SAFETY: `node` is writable; no node mask is asked for (null, 0); `addr` lies inside our
        // mapping.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_get_mempolicy,
                &mut node as *mut libc::c_int,
                std::ptr::null_mut::<libc::c_ulong>(),
                0 as libc::c_ulong,
                self.ptr.cast::<u8>().add(offset),
                MPOL_F_NODE | MPOL_F_ADDR,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(node as u32)
    }

    /// The mapping as 64-bit words.
    fn words(&mut self) -> &mut [u64] {
        // SAFETY: the mapping is `len` bytes, page-aligned, readable and writable, zero-filled by
        // the kernel, and borrowed mutably through `self` only.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len / 8) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `new` created; nothing borrows it any more.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// Words per 64-byte line.
const LINE_WORDS: usize = 8;

/// Links one word per 64-byte line of `words` into a single random cycle (Sattolo's algorithm):
/// `words[i]` holds the index of the next line's word. Returns the number of lines.
pub fn link_random_cycle(words: &mut [u64], seed: u64) -> usize {
    let lines = words.len() / LINE_WORDS;
    let mut order: Vec<u32> = (0..lines as u32).collect();
    let mut x = seed | 1;
    for i in (1..lines).rev() {
        // xorshift64: a fast PRNG is enough to defeat the prefetchers.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = (x % i as u64) as usize;
        let (a, b) = (order[i], order[j]);
        (order[i], order[j]) = (b, a);
    }
    // `order` is a random permutation; the cycle order[0] → order[1] → … → order[0] visits every line.
    for k in 0..lines {
        let from = order[k] as usize * LINE_WORDS;
        let to = order[(k + 1) % lines] as usize * LINE_WORDS;
        words[from] = to as u64;
    }
    lines
}

/// Follows the chain from word 0 for `loads` dependent loads; returns where it stopped.
#[inline(never)]
pub fn chase(words: &[u64], loads: u64) -> usize {
    let mut i = 0usize;
    for _ in 0..loads {
        // Each address comes from the previous load: the loads cannot overlap.
        i = words[i] as usize;
    }
    black_box(i)
}

/// One pointer-chase measurement.
#[derive(Clone, Debug)]
pub struct Chase {
    /// The CPU the thread ran on.
    pub cpu: usize,
    /// The node the memory was bound to.
    pub mem_node: u32,
    /// Nanoseconds of the thread's CPU time per dependent load.
    pub ns_per_load: f64,
    /// The thread's CPU time over the wall time of the chase (below 1: other jobs took the core).
    pub cpu_share: f64,
    /// Pages sampled for their placement, and how many were on `mem_node`.
    pub pages_checked: usize,
    /// Sampled pages found on `mem_node`.
    pub pages_on_node: usize,
}

/// On a thread pinned to `cpu`, binds a `bytes` buffer to `mem_node` (`mbind`, before the first
/// touch), links it into a random cycle, and times `loads` dependent loads after a warm-up pass.
pub fn measure(cpu: usize, mem_node: u32, bytes: usize, loads: u64) -> io::Result<Chase> {
    std::thread::scope(|s| {
        s.spawn(|| {
            if !core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
                return Err(io::Error::other(format!("cannot pin a thread to CPU {cpu}")));
            }
            let mut map = Mapping::new(bytes)?;
            map.bind(mem_node)?;
            map.ask_huge_pages();
            let lines = link_random_cycle(map.words(), 0x9e37_79b9_7f4a_7c15 ^ cpu as u64);
            let words = map.words();
            chase(words, lines as u64); // warm-up: every line once (and the TLB)
                                        // The thread's CPU time, not the wall clock: on a busy machine the thread is
                                        // descheduled for part of the run, and that is not memory latency.
            let start = Instant::now();
            let cpu0 = crate::hw::thread_cpu_time();
            chase(words, loads);
            let cpu_time = crate::hw::thread_cpu_time() - cpu0;
            let wall = start.elapsed();
            let ns_per_load = cpu_time.as_secs_f64() * 1e9 / loads.max(1) as f64;
            let page = 4096;
            let step = (bytes / 64).max(page) / page * page;
            let mut checked = 0;
            let mut on_node = 0;
            let mut off = 0;
            while off < bytes {
                checked += 1;
                on_node += usize::from(map.node_of(off)? == mem_node);
                off += step;
            }
            Ok(Chase {
                cpu,
                mem_node,
                ns_per_load,
                cpu_share: cpu_time.as_secs_f64() / wall.as_secs_f64().max(1e-9),
                pages_checked: checked,
                pages_on_node: on_node,
            })
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the measuring thread panicked")))
    })
}

/// The seed's model: `accesses` loads, each remote with probability `remote_percent` %, local
/// costing `local_ns` and remote `remote_ns`. Returns (remote accesses, average ns). Deterministic.
pub fn simulate(local_ns: f64, remote_ns: f64, remote_percent: u64, accesses: u64, seed: u64) -> (u64, f64) {
    let mut x = seed | 1;
    let mut remote = 0;
    for _ in 0..accesses {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        remote += u64::from(x % 100 < remote_percent);
    }
    let total = remote as f64 * remote_ns + (accesses - remote) as f64 * local_ns;
    (remote, total / accesses.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A fresh directory under the system temp dir, removed on drop.
    struct FakeSysfs(PathBuf);

    impl FakeSysfs {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("lockfree-lab-numa-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn node(&self, id: u32, cpulist: &str, mem_kib: u64, distance: &str) {
            let d = self.0.join(format!("node{id}"));
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("cpulist"), format!("{cpulist}\n")).unwrap();
            fs::write(
                d.join("meminfo"),
                format!("Node {id} MemTotal:       {mem_kib} kB\nNode {id} MemFree:        1 kB\n"),
            )
            .unwrap();
            fs::write(d.join("distance"), format!("{distance}\n")).unwrap();
        }
    }

    impl Drop for FakeSysfs {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn cpulists_parse() {
        assert_eq!(parse_cpulist("0-3,8,10-11\n"), Some(vec![0, 1, 2, 3, 8, 10, 11]));
        assert_eq!(parse_cpulist("5"), Some(vec![5]));
        assert_eq!(parse_cpulist(""), Some(vec![]));
        assert_eq!(parse_cpulist("3-1"), None);
        assert_eq!(parse_cpulist("a-b"), None);
    }

    #[test]
    fn one_node() {
        let fake = FakeSysfs::new("one");
        fake.node(0, "0-1", 4_000_000, "10");
        fs::create_dir_all(fake.0.join("power")).unwrap(); // not a node
        fs::write(fake.0.join("possible"), "0\n").unwrap();
        let nodes = read_nodes(&fake.0).unwrap().unwrap();
        assert_eq!(
            nodes,
            vec![Node {
                id: 0,
                cpus: vec![0, 1],
                mem_kib: Some(4_000_000),
                distances: vec![10],
            }]
        );
    }

    #[test]
    fn two_nodes_with_cpulists() {
        let fake = FakeSysfs::new("two");
        // Created out of order: the reader sorts by id (node10 after node2 numerically).
        fake.node(1, "8-15,24-31", 2_000, "21 10");
        fake.node(0, "0-7,16-23", 1_000, "10 21");
        let nodes = read_nodes(&fake.0).unwrap().unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].id, 0);
        assert_eq!(nodes[0].cpus, (0..8).chain(16..24).collect::<Vec<_>>());
        assert_eq!(nodes[1].cpus, (8..16).chain(24..32).collect::<Vec<_>>());
        assert_eq!(nodes[1].distances, vec![21, 10]);
        assert_eq!(nodes[1].mem_kib, Some(2_000));
    }

    #[test]
    fn a_memory_only_node_has_no_cpus() {
        let fake = FakeSysfs::new("cxl");
        fake.node(0, "0-3", 1_000, "10 20");
        fake.node(1, "", 1_000, "20 10");
        let nodes = read_nodes(&fake.0).unwrap().unwrap();
        assert!(nodes[1].cpus.is_empty());
    }

    #[test]
    fn missing_directory_means_no_numa() {
        let fake = FakeSysfs::new("missing");
        assert_eq!(read_nodes(&fake.0.join("node")).unwrap(), None);
    }

    #[test]
    fn a_malformed_cpulist_is_an_error() {
        let fake = FakeSysfs::new("bad");
        fake.node(0, "0-x", 1, "10");
        assert!(read_nodes(&fake.0).is_err());
    }

    #[test]
    fn the_chase_visits_every_line_once() {
        let mut words = vec![0u64; 64 * LINE_WORDS];
        let lines = link_random_cycle(&mut words, 42);
        let mut seen = vec![false; lines];
        let mut i = 0;
        for _ in 0..lines {
            assert_eq!(i % LINE_WORDS, 0);
            assert!(!seen[i / LINE_WORDS], "line {} visited twice", i / LINE_WORDS);
            seen[i / LINE_WORDS] = true;
            i = words[i] as usize;
        }
        assert_eq!(i, 0, "one cycle through every line");
        assert_eq!(chase(&words, lines as u64), 0);
    }

    #[test]
    fn memory_bound_to_node_0_lands_there() {
        // Every Linux machine has node 0: mbind to it must succeed and place every page there.
        let c = measure(core_affinity::get_core_ids().unwrap()[0].id, 0, 4 << 20, 10_000).unwrap();
        assert!(c.pages_checked > 0);
        assert_eq!(c.pages_on_node, c.pages_checked);
        assert!(c.ns_per_load > 0.0);
    }

    #[test]
    fn the_model_mixes_the_two_latencies() {
        assert_eq!(simulate(80.0, 150.0, 0, 1_000, 7), (0, 80.0));
        assert_eq!(simulate(80.0, 150.0, 100, 1_000, 7), (1_000, 150.0));
        let (remote, avg) = simulate(80.0, 150.0, 50, 10_000, 7);
        assert!((4_500..5_500).contains(&remote), "{remote}");
        assert!((avg - (80.0 + 70.0 * remote as f64 / 10_000.0)).abs() < 1e-9);
    }
}
