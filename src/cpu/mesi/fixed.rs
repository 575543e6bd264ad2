// FIX: a write hit in S broadcasts an upgrade (BusUpgr) that invalidates every other copy first.
use super::sync::{spin_loop, AtomicBool, AtomicU32, AtomicU64, Ordering};
use crate::cpu::mesi::{Read, State, Write, MAX_CORES};

/// One core's private cache, holding (or not) a copy of the one line the model has.
#[derive(Debug)]
struct Cache {
    /// The line's MESI state in this cache, as [`State::code`] (`I` 0, `S` 1, `E` 2, `M` 3).
    /// Changed only while the bus is held: by its own core, or by another core's transaction
    /// (snooping: a `BusRd` turns M or E into S, a `BusRdX`/`BusUpgr` turns anything into I).
    state: AtomicU32,
    /// The copy of the line's value; meaningful only while `state` is not I.
    data: AtomicU64,
}

/// The bus (a snooping bus, or a directory: one serialization point) and the private caches of
/// `cores` cores, all holding one cache line. Every access is one bus *transaction*: the bus is
/// held from the access's first look at its own state to its last snoop (the "atomic bus" of
/// Sorin, Hill & Wood's primer, ch. 7). A hit changes no other cache; a miss or an upgrade
/// snoops every other cache, as the broadcast would.
///
/// `latest` is not part of the protocol: it is the checker's oracle, the value of the last write
/// in bus order, so every read can be held to "a read returns the last write".
#[derive(Debug)]
pub struct Bus {
    /// True while a core owns the bus (one transaction at a time).
    busy: AtomicBool,
    /// Main memory's copy of the line: up to date unless some cache holds it in M.
    memory: AtomicU64,
    /// The oracle: the value of the last write, in bus order (0 before any write).
    latest: AtomicU64,
    /// One cache per core.
    caches: Box<[Cache]>,
}

impl Bus {
    /// A line worth 0 in memory and Invalid in each of `cores` caches.
    ///
    /// # Panics
    /// If `cores` is 0 or above [`MAX_CORES`].
    pub fn new(cores: usize) -> Self {
        assert!(
            (1..=MAX_CORES).contains(&cores),
            "Bus::new: 1 to {MAX_CORES} cores (got {cores})"
        );
        Self {
            busy: AtomicBool::new(false),
            memory: AtomicU64::new(0),
            latest: AtomicU64::new(0),
            caches: (0..cores)
                .map(|_| Cache {
                    state: AtomicU32::new(State::I.code()),
                    data: AtomicU64::new(0),
                })
                .collect(),
        }
    }

    /// The number of cores.
    pub fn cores(&self) -> usize {
        self.caches.len()
    }

    /// Core `core` loads the line.
    pub fn read(&self, core: usize) -> Read {
        self.acquire();
        let before = self.state(core);
        let value = if before == State::I {
            // A miss: BusRd. A core holding M supplies the data (and memory takes a copy); every
            // other holder keeps a Shared copy; the reader gets E if nobody else had the line.
            let mut shared = false;
            for other in (0..self.cores()).filter(|&o| o != core) {
                match self.state(other) {
                    State::M => {
                        // ORDERING: Relaxed [bus-held] — the bus is held; its Acquire/Release orders every access inside.
                        let dirty = self.caches[other].data.load(Ordering::Relaxed);
                        // ORDERING: Relaxed [bus-held] — as above: the write-back happens inside the transaction.
                        self.memory.store(dirty, Ordering::Relaxed);
                        self.set_state(other, State::S);
                        shared = true;
                    }
                    State::E => {
                        self.set_state(other, State::S);
                        shared = true;
                    }
                    State::S => shared = true,
                    State::I => {}
                }
            }
            // ORDERING: Relaxed [bus-held] — the bus is held.
            let fetched = self.memory.load(Ordering::Relaxed);
            // ORDERING: Relaxed [bus-held] — the bus is held.
            self.caches[core].data.store(fetched, Ordering::Relaxed);
            self.set_state(core, if shared { State::S } else { State::E });
            fetched
        } else {
            // A hit in M, E or S: the local copy, no bus traffic, no other cache touched.
            // ORDERING: Relaxed [bus-held] — the bus is held.
            self.caches[core].data.load(Ordering::Relaxed)
        };
        // ORDERING: Relaxed [bus-held] — the oracle is only touched inside transactions.
        let latest = self.latest.load(Ordering::Relaxed);
        let read = Read {
            core,
            value,
            latest,
            before,
            after: self.state(core),
            states: self.states_held(),
        };
        self.release();
        read
    }

    /// Core `core` stores `value` into the line.
    pub fn write(&self, core: usize, value: u64) -> Write {
        self.acquire();
        let before = self.state(core);
        match before {
            // A hit in M; or in E, where the upgrade to M is silent: nobody else has a copy.
            State::M | State::E => {}
            State::S => {
                // FIX: BusUpgr: every other copy is invalidated before the write, so none can be read stale.
                self.invalidate_others(core);
            }
            // A miss: BusRdX (read for ownership): an M holder writes back, every copy is invalidated.
            State::I => self.invalidate_others(core),
        }
        // ORDERING: Relaxed [bus-held] — the bus is held.
        self.caches[core].data.store(value, Ordering::Relaxed);
        self.set_state(core, State::M);
        // ORDERING: Relaxed [bus-held] — the oracle is only touched inside transactions.
        self.latest.store(value, Ordering::Relaxed);
        let write = Write {
            core,
            value,
            before,
            states: self.states_held(),
        };
        self.release();
        write
    }

    /// Every core's state and copy, and memory's value, at one instant (taken under the bus).
    pub fn snapshot(&self) -> (Vec<(State, u64)>, u64) {
        self.acquire();
        let caches = (0..self.cores())
            .map(|c| {
                // ORDERING: Relaxed [bus-held] — the bus is held.
                let data = self.caches[c].data.load(Ordering::Relaxed);
                (self.state(c), data)
            })
            .collect();
        // ORDERING: Relaxed [bus-held] — the bus is held.
        let memory = self.memory.load(Ordering::Relaxed);
        self.release();
        (caches, memory)
    }

    /// Invalidates every copy but `core`'s; an M holder writes its data back to memory first.
    fn invalidate_others(&self, core: usize) {
        for other in (0..self.cores()).filter(|&o| o != core) {
            if self.state(other) == State::M {
                // ORDERING: Relaxed [bus-held] — the bus is held.
                let dirty = self.caches[other].data.load(Ordering::Relaxed);
                // ORDERING: Relaxed [bus-held] — the bus is held.
                self.memory.store(dirty, Ordering::Relaxed);
            }
            self.set_state(other, State::I);
        }
    }

    /// Every core's state (the bus is held).
    fn states_held(&self) -> Vec<State> {
        (0..self.cores()).map(|c| self.state(c)).collect()
    }

    fn state(&self, core: usize) -> State {
        // ORDERING: Relaxed [bus-held] — the bus is held.
        State::from_code(self.caches[core].state.load(Ordering::Relaxed))
    }

    fn set_state(&self, core: usize, state: State) {
        // ORDERING: Relaxed [bus-held] — the bus is held.
        self.caches[core].state.store(state.code(), Ordering::Relaxed);
    }

    /// Takes the bus: one transaction at a time.
    fn acquire(&self) {
        // ORDERING: Acquire/Relaxed [bus-handoff] — success acquires the previous holder's Release in `release`, so its
        // state and data stores are visible; a failed attempt reads nothing and retries.
        while self
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spin_loop();
        }
    }

    /// Hands the bus on.
    fn release(&self) {
        // ORDERING: Release [bus-handoff] — every store of this transaction happens-before the next holder's Acquire.
        self.busy.store(false, Ordering::Release);
    }
}
