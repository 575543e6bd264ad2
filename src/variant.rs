//! `broken` or `fixed`: the one variant switch every concept, example, bench and the lab share.

use std::fmt;

/// Which side of a broken/fixed pair: `broken.rs` (the bug) or `fixed.rs` (without it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// The variant with the bug (`broken.rs`).
    Broken,
    /// The variant without it (`fixed.rs`).
    Fixed,
}

impl Variant {
    /// Both, broken first.
    pub const BOTH: [Variant; 2] = [Variant::Broken, Variant::Fixed];

    /// `broken` / `fixed`.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Broken => "broken",
            Variant::Fixed => "fixed",
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
