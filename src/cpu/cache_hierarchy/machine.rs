//! The machine's facts, read at run time from a root directory (`/` on the machine, a fake tree
//! in the tests): the caches sysfs reports, the memory `/proc/meminfo` reports, the CPU flags,
//! transparent huge pages, and the TSC's frequency with where it came from.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

/// One cache sysfs reports for cpu0 (`/sys/devices/system/cpu/cpu0/cache/indexN`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cache {
    /// 1, 2, 3…
    pub level: u32,
    /// `Data`, `Instruction` or `Unified`.
    pub kind: String,
    /// Bytes.
    pub size: usize,
    /// Associativity (0 when sysfs omits it).
    pub ways: u32,
    /// The CPUs sharing it (`shared_cpu_list`, e.g. `0-1`).
    pub shared_with: String,
}

impl Cache {
    /// `L1d`, `L1i`, `L2`, `L3`.
    pub fn name(&self) -> String {
        match self.kind.as_str() {
            "Data" => format!("L{}d", self.level),
            "Instruction" => format!("L{}i", self.level),
            _ => format!("L{}", self.level),
        }
    }

    /// Holds data (not an instruction cache).
    pub fn holds_data(&self) -> bool {
        self.kind != "Instruction"
    }
}

/// `32K`, `1024K`, `32M`, `480M`, `65536` (bytes) → bytes.
pub fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1 << 10),
        'M' | 'm' => (&s[..s.len() - 1], 1 << 20),
        'G' | 'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.trim().parse::<usize>().ok().map(|n| n * mult)
}

fn read(root: &Path, rel: &str) -> Option<String> {
    fs::read_to_string(root.join(rel)).ok()
}

/// The caches of cpu0 under `root`, ordered by level (data before instruction); empty when
/// sysfs has no cache directory (some VMs and containers).
pub fn caches(root: &Path) -> Vec<Cache> {
    let dir = root.join("sys/devices/system/cpu/cpu0/cache");
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<Cache> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("index"))
        .filter_map(|e| {
            let p = e.path();
            let get = |f: &str| fs::read_to_string(p.join(f)).ok().map(|s| s.trim().to_string());
            Some(Cache {
                level: get("level")?.parse().ok()?,
                kind: get("type")?,
                size: parse_size(&get("size")?)?,
                ways: get("ways_of_associativity").and_then(|w| w.parse().ok()).unwrap_or(0),
                shared_with: get("shared_cpu_list").unwrap_or_default(),
            })
        })
        .collect();
    out.sort_by_key(|c| (c.level, !c.holds_data()));
    out
}

/// The data caches (L1d, L2, L3…), one per level, smallest first.
pub fn data_caches(all: &[Cache]) -> Vec<Cache> {
    let mut v: Vec<Cache> = all.iter().filter(|c| c.holds_data()).cloned().collect();
    v.dedup_by_key(|c| c.level);
    v
}

/// `MemTotal` and `MemAvailable` from `root/proc/meminfo`, in bytes.
pub fn memory(root: &Path) -> Option<(u64, u64)> {
    let text = read(root, "proc/meminfo")?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
    };
    Some((field("MemTotal")?, field("MemAvailable")?))
}

/// What `/proc/cpuinfo` says about the first CPU.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CpuInfo {
    /// `model name`.
    pub model: String,
    /// The flags the demos care about.
    pub hypervisor: bool,
    /// `constant_tsc` and `nonstop_tsc`: the TSC ticks at one rate whatever the core's clock.
    pub invariant_tsc: bool,
    /// `la57`: the CPU can do 5-level paging (a P4D level between PGD and PUD).
    pub la57: bool,
    /// `TLB size` (AMD prints it: `3072 4K pages`).
    pub tlb_size: Option<String>,
    /// The nominal frequency in the model name (`@ 2.90GHz`), in GHz.
    pub nominal_ghz: Option<f64>,
}

/// Parses the first processor's block of `cpuinfo` text.
pub fn parse_cpuinfo(text: &str) -> CpuInfo {
    let block = text.split("\n\n").next().unwrap_or("");
    let field = |name: &str| {
        block.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
    };
    let flags = field("flags").unwrap_or_default();
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    let model = field("model name").unwrap_or_default();
    let nominal_ghz = model
        .rsplit_once('@')
        .and_then(|(_, f)| f.trim().strip_suffix("GHz"))
        .and_then(|f| f.trim().parse().ok());
    CpuInfo {
        hypervisor: has("hypervisor"),
        invariant_tsc: has("constant_tsc") && has("nonstop_tsc"),
        la57: has("la57"),
        tlb_size: field("TLB size"),
        nominal_ghz,
        model,
    }
}

/// [`parse_cpuinfo`] of `root/proc/cpuinfo` (default when unreadable).
pub fn cpuinfo(root: &Path) -> CpuInfo {
    read(root, "proc/cpuinfo")
        .map(|t| parse_cpuinfo(&t))
        .unwrap_or_default()
}

/// The THP mode (`always`, `madvise`, `never`): the bracketed word of
/// `root/sys/kernel/mm/transparent_hugepage/enabled`.
pub fn thp_mode(root: &Path) -> Option<String> {
    let text = read(root, "sys/kernel/mm/transparent_hugepage/enabled")?;
    let start = text.find('[')? + 1;
    let end = start + text[start..].find(']')?;
    Some(text[start..end].to_string())
}

/// Bytes of `AnonHugePages` in the mappings of `smaps` text (`/proc/self/smaps`) that overlap
/// `start..start + len`: how much of that range the kernel really backs with huge pages.
pub fn anon_huge_bytes(smaps: &str, start: usize, len: usize) -> u64 {
    let end = start + len;
    let mut total = 0;
    let mut inside = false;
    for line in smaps.lines() {
        let head = line.split_whitespace().next().unwrap_or("");
        if let Some((a, b)) = head.split_once('-').filter(|(a, _)| !a.is_empty() && !a.ends_with(':')) {
            if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                inside = a < end && b > start;
                continue;
            }
        }
        if inside {
            if let Some(v) = line.strip_prefix("AnonHugePages:") {
                total += v.trim().trim_end_matches("kB").trim().parse::<u64>().unwrap_or(0) * 1024;
            }
        }
    }
    total
}

/// [`anon_huge_bytes`] of this process's `/proc/self/smaps`; `None` when it cannot be read.
pub fn huge_backed(start: usize, len: usize) -> Option<u64> {
    fs::read_to_string("/proc/self/smaps")
        .ok()
        .map(|t| anon_huge_bytes(&t, start, len))
}

/// `/proc/loadavg`'s one-minute figure under `root`.
pub fn load_average(root: &Path) -> Option<f64> {
    read(root, "proc/loadavg")?.split_whitespace().next()?.parse().ok()
}

/// The TSC's frequency and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Tsc {
    /// Ticks per nanosecond, and the source in words.
    Known(f64, String),
    /// Why not.
    Unknown(String),
}

impl Tsc {
    /// Ticks per nanosecond, when known.
    pub fn ghz(&self) -> Option<f64> {
        match self {
            Tsc::Known(g, _) => Some(*g),
            Tsc::Unknown(_) => None,
        }
    }

    /// One line for the notes.
    pub fn describe(&self) -> String {
        match self {
            Tsc::Known(g, src) => format!(
                "cycles = ns × {g:.3} GHz, the TSC's rate ({src}); TSC cycles are reference cycles: a core running \
                 above or below that clock (boost, power saving) spends more or fewer of its own"
            ),
            Tsc::Unknown(why) => format!("cycles: unknown — {why}"),
        }
    }
}

/// The TSC's rate: CPUID leaf 0x15 (crystal × ratio, Intel), else the hypervisor's timing leaf
/// 0x40000010 (KVM and VMware publish the TSC's kHz there), else measured against
/// `CLOCK_MONOTONIC` for 50 ms; unknown without an invariant TSC (its rate follows the core's clock).
pub fn tsc(info: &CpuInfo) -> Tsc {
    if !info.invariant_tsc {
        return Tsc::Unknown("/proc/cpuinfo lacks constant_tsc/nonstop_tsc, so the TSC's rate is not fixed".into());
    }
    if let Some((ghz, src)) = cpuid_tsc() {
        return Tsc::Known(ghz, src);
    }
    match calibrate_tsc(Duration::from_millis(50)) {
        Some(ghz) => Tsc::Known(
            ghz,
            "measured: rdtsc against CLOCK_MONOTONIC over 50 ms, as CPUID does not publish it".into(),
        ),
        None => Tsc::Unknown("no TSC on this architecture".into()),
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unused_unsafe)] // `__cpuid` is unsafe before Rust 1.87 (the MSRV is 1.86) and safe after.
fn cpuid_tsc() -> Option<(f64, String)> {
    use std::arch::x86_64::__cpuid;
    // SAFETY: CPUID exists on every x86-64 CPU; leaf 0 only reports the highest standard leaf.
    let max = unsafe { __cpuid(0) }.eax;
    if max >= 0x15 {
        // SAFETY: leaf 0x15 is below the highest supported leaf (checked above).
        let l = unsafe { __cpuid(0x15) };
        if l.eax != 0 && l.ebx != 0 && l.ecx != 0 {
            let hz = l.ecx as f64 * l.ebx as f64 / l.eax as f64;
            return Some((hz / 1e9, "CPUID leaf 0x15: crystal clock × TSC ratio".into()));
        }
    }
    // SAFETY: leaf 1 exists on every x86-64 CPU.
    let hypervisor = unsafe { __cpuid(1) }.ecx & (1 << 31) != 0;
    if hypervisor {
        // SAFETY: with the hypervisor bit set, leaves 0x40000000.. are the hypervisor's; 0x40000000
        // reports the highest of them.
        let hmax = unsafe { __cpuid(0x4000_0000) }.eax;
        if (0x4000_0010..0x4001_0000).contains(&hmax) {
            // SAFETY: 0x40000010 is within the hypervisor's range (checked above).
            let khz = unsafe { __cpuid(0x4000_0010) }.eax;
            if khz != 0 {
                return Some((
                    khz as f64 / 1e6,
                    "CPUID leaf 0x40000010: the hypervisor's published TSC kHz".into(),
                ));
            }
        }
    }
    None
}

#[cfg(not(target_arch = "x86_64"))]
fn cpuid_tsc() -> Option<(f64, String)> {
    None
}

#[cfg(target_arch = "x86_64")]
fn calibrate_tsc(span: Duration) -> Option<f64> {
    // SAFETY: RDTSC exists on every x86-64 CPU and only reads the counter.
    let rdtsc = || unsafe { std::arch::x86_64::_rdtsc() };
    let (t0, c0) = (Instant::now(), rdtsc());
    while t0.elapsed() < span {
        std::hint::spin_loop();
    }
    let (ns, c1) = (t0.elapsed().as_nanos() as f64, rdtsc());
    Some((c1 - c0) as f64 / ns)
}

#[cfg(not(target_arch = "x86_64"))]
fn calibrate_tsc(_span: Duration) -> Option<f64> {
    None
}

/// Bytes as people write them: `48 KiB`, `2 MiB`, `1.5 GiB`.
pub fn human(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if (v - v.round()).abs() < 0.05 {
        format!("{:.0} {}", v.round(), units[u])
    } else {
        format!("{v:.1} {}", units[u])
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh empty directory under the system's temp dir, removed on drop.
    pub struct FakeRoot(pub PathBuf);

    impl FakeRoot {
        pub fn new() -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            // ORDERING: Relaxed [fake-root-id] — only uniqueness of the number matters, nothing is published with it.
            let n = N.fetch_add(1, Ordering::Relaxed);
            let p = std::env::temp_dir().join(format!("lockfree-lab-fake-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            Self(p)
        }

        pub fn file(&self, rel: &str, text: &str) {
            let p = self.0.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }

        /// One `indexN` directory.
        pub fn cache(&self, n: u32, level: u32, kind: &str, size: &str, shared: &str) {
            let d = format!("sys/devices/system/cpu/cpu0/cache/index{n}");
            self.file(&format!("{d}/level"), &format!("{level}\n"));
            self.file(&format!("{d}/type"), &format!("{kind}\n"));
            self.file(&format!("{d}/size"), &format!("{size}\n"));
            self.file(&format!("{d}/ways_of_associativity"), "12\n");
            self.file(&format!("{d}/shared_cpu_list"), &format!("{shared}\n"));
        }
    }

    impl Drop for FakeRoot {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn reads_the_caches_of_a_fake_tree() {
        let root = FakeRoot::new();
        root.cache(3, 3, "Unified", "491520K", "0-1");
        root.cache(0, 1, "Data", "48K", "0");
        root.cache(1, 1, "Instruction", "32K", "0");
        root.cache(2, 2, "Unified", "2048K", "0");
        root.file("sys/devices/system/cpu/cpu0/cache/uevent", "");
        let all = caches(&root.0);
        let names: Vec<String> = all.iter().map(Cache::name).collect();
        assert_eq!(names, ["L1d", "L1i", "L2", "L3"]);
        let data = data_caches(&all);
        assert_eq!(
            data.iter().map(|c| c.size).collect::<Vec<_>>(),
            [48 << 10, 2 << 20, 480 << 20]
        );
        assert_eq!(data[2].shared_with, "0-1");
        assert_eq!(data[0].ways, 12);
    }

    #[test]
    fn a_tree_without_caches_or_with_a_broken_entry() {
        let root = FakeRoot::new();
        assert!(caches(&root.0).is_empty());
        root.cache(0, 1, "Data", "32K", "0");
        root.file("sys/devices/system/cpu/cpu0/cache/index1/level", "2\n");
        assert_eq!(caches(&root.0).len(), 1, "index1 has no size: skipped");
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("32K"), Some(32768));
        assert_eq!(parse_size("1024K\n"), Some(1 << 20));
        assert_eq!(parse_size("32M"), Some(32 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn meminfo_thp_and_cpuinfo_of_a_fake_tree() {
        let root = FakeRoot::new();
        assert_eq!(memory(&root.0), None);
        root.file(
            "proc/meminfo",
            "MemTotal:       24684032 kB\nMemFree:  1 kB\nMemAvailable:   23000000 kB\n",
        );
        assert_eq!(memory(&root.0), Some((24684032 * 1024, 23000000 * 1024)));
        root.file("sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n");
        assert_eq!(thp_mode(&root.0).as_deref(), Some("madvise"));
        root.file(
            "proc/cpuinfo",
            "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) E-2388G CPU @ 3.20GHz\nflags\t\t: fpu tsc constant_tsc \
             nonstop_tsc hypervisor\n\nprocessor\t: 1\nflags\t\t: fpu\n",
        );
        let info = cpuinfo(&root.0);
        assert!(info.hypervisor && info.invariant_tsc);
        assert_eq!(info.nominal_ghz, Some(3.2));
        assert_eq!(info.tlb_size, None);
        let amd = parse_cpuinfo("model name\t: AMD EPYC\nflags\t\t: tsc constant_tsc\nTLB size\t: 3072 4K pages\n");
        assert!(!amd.invariant_tsc && !amd.hypervisor);
        assert_eq!(amd.tlb_size.as_deref(), Some("3072 4K pages"));
        assert_eq!(amd.nominal_ghz, None);
        assert!(matches!(tsc(&amd), Tsc::Unknown(_)), "no nonstop_tsc: unknown");
    }

    #[test]
    fn smaps_huge_pages_of_one_range() {
        let smaps = "\
55d0a0000000-55d0a0021000 rw-p 00000000 00:00 0                          [heap]
Size:                132 kB
AnonHugePages:         0 kB
7f0000000000-7f0004000000 rw-p 00000000 00:00 0
Size:              65536 kB
AnonHugePages:     61440 kB
7f0004000000-7f0004200000 rw-p 00000000 00:00 0
AnonHugePages:      2048 kB
7f0008000000-7f0008200000 rw-p 00000000 00:00 0
AnonHugePages:      2048 kB
VmFlags: rd wr mr mw me ac hg
";
        let start = 0x7f00_0000_0000;
        assert_eq!(anon_huge_bytes(smaps, start, 64 << 20), 61440 * 1024);
        assert_eq!(
            anon_huge_bytes(smaps, start, 66 << 20),
            (61440 + 2048) * 1024,
            "split VMAs add up"
        );
        assert_eq!(anon_huge_bytes(smaps, 0x55d0_a000_0000, 4096), 0);
        assert_eq!(anon_huge_bytes("", start, 1), 0);
    }

    #[test]
    fn load_average_of_a_fake_tree() {
        let root = FakeRoot::new();
        assert_eq!(load_average(&root.0), None);
        root.file("proc/loadavg", "2.71 2.26 2.15 3/157 7571\n");
        assert_eq!(load_average(&root.0), Some(2.71));
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(48.0 * 1024.0), "48 KiB");
        assert_eq!(human(1.5 * 1048576.0), "1.5 MiB");
        assert_eq!(human(4096.0), "4 KiB");
        assert_eq!(human(512.0), "512 B");
    }
}
