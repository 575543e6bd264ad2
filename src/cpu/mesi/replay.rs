//! The seed's scene played on the real model, one access per step (`lockfree-lab step mesi`):
//! after each step, every core's state as the seed draws it, read back from the bus.

use super::{check_swmr, core_name, real, Coherent, State};
use crate::Variant;

/// One step of [`seed_replay`]: the access and the line everywhere right after it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReplayStep {
    /// 1-based step number.
    pub number: usize,
    /// What happened, in words.
    pub action: String,
    /// Each core's state and copy after the step (read from the bus).
    pub caches: Vec<(State, u64)>,
    /// Memory's value after the step.
    pub memory: u64,
    /// The last write so far.
    pub latest: u64,
    /// The SWMR verdict after the step.
    pub swmr: Result<(), String>,
}

impl std::fmt::Display for ReplayStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{:>2}. {}", self.number, self.action)?;
        for (c, (state, data)) in self.caches.iter().enumerate() {
            let copy = match state {
                State::I => "no valid data".to_string(),
                State::M => format!("copy = {data} (dirty)"),
                _ if *data != self.latest => format!("copy = {data}  <- STALE (last write {})", self.latest),
                _ => format!("copy = {data}"),
            };
            writeln!(f, "    Core {} [{state}] {:<9}  {copy}", core_name(c), state.name())?;
        }
        let dirty = self.caches.iter().any(|(s, _)| *s == State::M);
        let memory = if dirty {
            "stale (a cache holds it M)"
        } else {
            "up to date"
        };
        write!(f, "    memory = {} ({memory})", self.memory)?;
        if let Err(why) = &self.swmr {
            write!(f, "\n    SWMR VIOLATED: {why}")?;
        }
        Ok(())
    }
}

/// Plays the seed's scene on the `variant` model with two cores, A and B: A reads, B reads, A
/// writes 1, B reads. Each step reads the caches back from the bus. The broken model ends with
/// B's stale read; the fixed one with B reading 1.
pub fn seed_replay(variant: Variant) -> Vec<ReplayStep> {
    match variant {
        Variant::Broken => replay::<real::broken::Bus>(),
        Variant::Fixed => replay::<real::fixed::Bus>(),
    }
}

fn replay<B: Coherent>() -> Vec<ReplayStep> {
    let bus = B::new(2);
    let mut steps = Vec::new();
    let mut latest = 0;
    let mut step = |action: String, latest: u64, bus: &B| {
        let (caches, memory) = bus.snapshot();
        let states: Vec<State> = caches.iter().map(|c| c.0).collect();
        steps.push(ReplayStep {
            number: steps.len() + 1,
            action,
            caches,
            memory,
            latest,
            swmr: check_swmr(&states),
        });
    };
    step(
        "start: the line is Invalid in both cores; the only copy lives in memory".into(),
        latest,
        &bus,
    );
    let r = bus.read(0);
    step(
        format!(
            "A reads -> {}: a miss (BusRd); nobody else has the line, so A gets it E",
            r.value
        ),
        latest,
        &bus,
    );
    let r = bus.read(1);
    step(
        format!(
            "B reads -> {}: a miss (BusRd); A snoops it and drops E -> S; B gets it S",
            r.value
        ),
        latest,
        &bus,
    );
    let w = bus.write(0, 1);
    latest = 1;
    let b_now = w.states[1];
    let action = if b_now == State::I {
        "A writes 1: a hit in S, so A first broadcasts an upgrade (BusUpgr): B's copy is invalidated; A is M"
            .to_string()
    } else {
        format!(
            "A writes 1: a hit in S, upgraded to M silently (no BusUpgr): B's copy stays {b_now} — and is now stale"
        )
    };
    step(action, latest, &bus);
    let r = bus.read(1);
    let action = match r.stale() {
        Some(why) => format!("B reads -> {}: a hit in its S copy — a STALE READ: {why}", r.value),
        None => format!(
            "B reads -> {}: a miss (BusRd); A supplies the line and drops M -> S, memory is written back",
            r.value
        ),
    };
    step(action, latest, &bus);
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_broken_replay_ends_in_a_stale_read_and_the_fixed_one_does_not() {
        let broken = seed_replay(Variant::Broken);
        let last = broken.last().unwrap();
        assert!(last.action.contains("STALE READ"), "{last}");
        assert!(broken[3].swmr.is_err(), "after A's write: A M beside B S");
        let states: Vec<State> = broken[3].caches.iter().map(|c| c.0).collect();
        assert_eq!(states, vec![State::M, State::S]);

        let fixed = seed_replay(Variant::Fixed);
        assert!(fixed.iter().all(|s| s.swmr.is_ok()));
        let states: Vec<State> = fixed.iter().flat_map(|s| s.caches.iter().map(|c| c.0)).collect();
        use State::*;
        assert_eq!(states, vec![I, I, E, I, S, S, M, I, S, S]);
        assert!(!fixed.last().unwrap().action.contains("STALE"));
    }
}
