//! Which cores share what, from sysfs: a function over a root path, so a test feeds it a fake tree.
//!
//! `<root>/sys/devices/system/cpu/cpuN/topology/{physical_package_id,core_id}` and
//! `…/cache/indexK/{level,shared_cpu_list}` (the last-level cache's sharing), and the model name
//! from `<root>/proc/cpuinfo`.

use std::path::Path;

/// One logical CPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cpu {
    /// The N of `cpuN`.
    pub id: usize,
    /// `physical_package_id` (the socket), if sysfs says.
    pub package: Option<u64>,
    /// `core_id` within the package: two CPUs with the same package and core are SMT siblings.
    pub core: Option<u64>,
    /// The CPUs sharing this one's last-level cache (`shared_cpu_list` of its highest level).
    pub llc_shared: Vec<usize>,
}

/// How two CPUs relate, closest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// Two hardware threads of one physical core: they share L1 and L2.
    SmtSiblings,
    /// Different cores sharing the last-level cache.
    SharedLlc,
    /// One socket, different last-level caches (AMD CCXs, for instance).
    SameSocket,
    /// Different sockets.
    OtherSocket,
    /// sysfs did not say.
    Unknown,
}

impl Relation {
    /// Its words in the table.
    pub fn name(self) -> &'static str {
        match self {
            Relation::SmtSiblings => "SMT siblings",
            Relation::SharedLlc => "shared LLC",
            Relation::SameSocket => "same socket",
            Relation::OtherSocket => "other socket",
            Relation::Unknown => "unknown",
        }
    }
}

/// The CPUs sysfs lists under `root`, sorted by id (empty if it lists none).
pub fn read(root: &Path) -> Vec<Cpu> {
    let base = root.join("sys/devices/system/cpu");
    let Ok(entries) = std::fs::read_dir(&base) else {
        return Vec::new();
    };
    let mut cpus: Vec<Cpu> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let id: usize = name.strip_prefix("cpu")?.parse().ok()?;
            let dir = e.path();
            let num = |rel: &str| {
                std::fs::read_to_string(dir.join(rel))
                    .ok()
                    .and_then(|s| s.trim().parse::<u64>().ok())
            };
            Some(Cpu {
                id,
                package: num("topology/physical_package_id"),
                core: num("topology/core_id"),
                llc_shared: last_level_sharing(&dir.join("cache")),
            })
        })
        .collect();
    cpus.sort_by_key(|c| c.id);
    cpus
}

/// `shared_cpu_list` of the highest cache level under `cache_dir` (empty if none).
fn last_level_sharing(cache_dir: &Path) -> Vec<usize> {
    let Ok(entries) = std::fs::read_dir(cache_dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("index"))
        .filter_map(|e| {
            let level: u32 = std::fs::read_to_string(e.path().join("level"))
                .ok()?
                .trim()
                .parse()
                .ok()?;
            let list = std::fs::read_to_string(e.path().join("shared_cpu_list")).ok()?;
            Some((level, parse_list(&list)?))
        })
        .max_by_key(|(level, _)| *level)
        .map(|(_, list)| list)
        .unwrap_or_default()
}

/// Parses a kernel CPU list (`0-3,8,10-11`); `None` if malformed.
pub fn parse_list(s: &str) -> Option<Vec<usize>> {
    let s = s.trim();
    if s.is_empty() {
        return Some(Vec::new());
    }
    let mut out = Vec::new();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if a > b || b - a > 1 << 16 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.trim().parse().ok()?),
        }
    }
    Some(out)
}

/// How CPUs `a` and `b` relate, from `cpus`.
pub fn relation(cpus: &[Cpu], a: usize, b: usize) -> Relation {
    let (Some(ca), Some(cb)) = (cpus.iter().find(|c| c.id == a), cpus.iter().find(|c| c.id == b)) else {
        return Relation::Unknown;
    };
    match (ca.package, cb.package) {
        (Some(pa), Some(pb)) if pa != pb => Relation::OtherSocket,
        (Some(_), Some(_)) if ca.core.is_some() && ca.core == cb.core => Relation::SmtSiblings,
        _ if ca.llc_shared.contains(&b) => Relation::SharedLlc,
        (Some(_), Some(_)) => Relation::SameSocket,
        _ => Relation::Unknown,
    }
}

/// The `model name` line of `<root>/proc/cpuinfo`, if any.
pub fn model_name(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("proc/cpuinfo")).ok()?;
    text.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Two sockets; socket 0 has cores 0 and 1, core 0 with two threads (cpu0, cpu2); cpu3 on socket 1.
    fn fake_tree() -> std::path::PathBuf {
        let root = std::env::temp_dir().join(format!(
            "mesi-topo-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        for (cpu, pkg, core, llc) in [(0, 0, 0, "0-2"), (1, 0, 1, "0-2"), (2, 0, 0, "0-2"), (3, 1, 0, "3")] {
            let d = format!("sys/devices/system/cpu/cpu{cpu}");
            write(&root, &format!("{d}/topology/physical_package_id"), &format!("{pkg}\n"));
            write(&root, &format!("{d}/topology/core_id"), &format!("{core}\n"));
            write(&root, &format!("{d}/cache/index0/level"), "1\n");
            write(&root, &format!("{d}/cache/index0/shared_cpu_list"), &format!("{cpu}\n"));
            write(&root, &format!("{d}/cache/index3/level"), "3\n");
            write(&root, &format!("{d}/cache/index3/shared_cpu_list"), &format!("{llc}\n"));
        }
        write(&root, "sys/devices/system/cpu/cpufreq/policy0", "");
        write(&root, "proc/cpuinfo", "processor\t: 0\nmodel name\t: Fake CPU 9000\n");
        root
    }

    #[test]
    fn relations_from_a_fake_tree() {
        let root = fake_tree();
        let cpus = read(&root);
        assert_eq!(cpus.iter().map(|c| c.id).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
        assert_eq!(cpus[1].llc_shared, vec![0, 1, 2], "the highest level's list, not L1's");
        assert_eq!(relation(&cpus, 0, 2), Relation::SmtSiblings);
        assert_eq!(relation(&cpus, 0, 1), Relation::SharedLlc);
        assert_eq!(relation(&cpus, 1, 3), Relation::OtherSocket);
        assert_eq!(relation(&cpus, 0, 9), Relation::Unknown);
        assert_eq!(model_name(&root).as_deref(), Some("Fake CPU 9000"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn an_empty_tree_knows_nothing() {
        let root = std::env::temp_dir().join(format!("mesi-empty-{}", std::process::id()));
        assert!(read(&root).is_empty());
        assert_eq!(relation(&[], 0, 1), Relation::Unknown);
        assert_eq!(model_name(&root), None);
    }

    #[test]
    fn cpu_lists_parse_as_the_kernel_writes_them() {
        assert_eq!(parse_list("0-3,8,10-11\n"), Some(vec![0, 1, 2, 3, 8, 10, 11]));
        assert_eq!(parse_list(""), Some(vec![]));
        assert_eq!(parse_list("3-1"), None);
        assert_eq!(parse_list("x"), None);
    }
}
