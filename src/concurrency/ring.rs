//! What both rings share: the `Full` error that hands the value back, the capacity checks and
//! their error, and cache-line padding for the indices.
//!
//! The SPSC ring ([`crate::spsc`]) and the MPMC queue ([`crate::mpmc`]) both reject a capacity of
//! 0 or one whose slots cannot fit the address space, and both return a rejected push's value in
//! [`Full`]; the stack's arena uses the same [`CapacityError`].

use std::fmt;

/// Pads and aligns a value to a cache line (crossbeam-utils' own), so two indices written by two
/// threads never share a line.
pub use crossbeam_utils::CachePadded;

/// The value a push could not place: the ring was full. `.0` (or [`Full::into_inner`]) gives it
/// back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Full<T>(pub T);

impl<T> Full<T> {
    /// The rejected value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Full(..)")
    }
}

impl<T> fmt::Display for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the ring is full")
    }
}

impl<T> std::error::Error for Full<T> {}

/// Why a ring of the requested capacity cannot be built. Its `Display` is one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapacityError {
    /// Capacity 0: a ring must hold at least one item.
    Zero,
    /// More slots than the address space (or the index arithmetic) allows.
    TooLarge {
        /// The capacity asked for.
        requested: usize,
        /// The largest capacity for this item type.
        max: usize,
        /// The size of one slot in bytes.
        slot_bytes: usize,
    },
    /// The allocator could not provide the slots.
    AllocationFailed {
        /// The capacity asked for.
        requested: usize,
    },
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CapacityError::Zero => f.write_str("capacity must be at least 1, got 0"),
            CapacityError::TooLarge {
                requested,
                max,
                slot_bytes,
            } => write!(
                f,
                "capacity {requested} is too large: at most {max} slots of {slot_bytes} bytes fit"
            ),
            CapacityError::AllocationFailed { requested } => {
                write!(f, "cannot allocate {requested} slots: out of memory")
            }
        }
    }
}

impl std::error::Error for CapacityError {}

/// The largest capacity for slots of `slot_bytes` bytes: the slot array must fit in `isize::MAX`
/// bytes, and positions (up to 4 × capacity in the rings' arithmetic) must fit in a `usize`.
pub fn max_capacity(slot_bytes: usize) -> usize {
    (isize::MAX as usize / slot_bytes.max(1)).min(usize::MAX / 4)
}

/// Checks a requested capacity against [`max_capacity`]; shared by every ring in the crate.
pub fn check_capacity(capacity: usize, slot_bytes: usize) -> Result<(), CapacityError> {
    check_capacity_at_most(capacity, slot_bytes, usize::MAX)
}

/// [`check_capacity`] with a structure's own bound `limit` as well (the stack's `u32` indices).
pub fn check_capacity_at_most(capacity: usize, slot_bytes: usize, limit: usize) -> Result<(), CapacityError> {
    let max = max_capacity(slot_bytes).min(limit);
    if capacity == 0 {
        Err(CapacityError::Zero)
    } else if capacity > max {
        Err(CapacityError::TooLarge {
            requested: capacity,
            max,
            slot_bytes,
        })
    } else {
        Ok(())
    }
}
