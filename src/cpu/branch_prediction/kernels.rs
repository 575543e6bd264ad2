// The three kernels, kept in a file of their own so that a test can compile exactly this text
// with `rustc -C opt-level=3 --emit asm` and read what the optimiser made of each
// (`branch_prediction::tests::the_branchy_kernel_really_branches`). `mod.rs` includes it with
// `include!`, so the lab runs the same source.

/// The classic loop as written: `if v >= threshold { sum += v }`. The optimiser is free to
/// make it branch-free (a `cmov`, or vector code) and does: the asm test proves it, which is why
/// the measured "branchy" kernel is [`sum_branchy`].
#[inline(never)]
pub fn sum_if_naive(data: &[u8], threshold: u8) -> u64 {
    let mut sum = 0u64;
    for &v in data {
        if v >= threshold {
            sum += u64::from(v);
        }
    }
    sum
}

/// The same loop with a real conditional jump: `black_box(())` on the taken path is an empty
/// inline-asm statement (no instruction is emitted) that the optimiser must treat as having side
/// effects, so it can neither execute the path unconditionally (no `cmov`) nor vectorise the
/// loop. The branch on `v >= threshold` stays a `cmp` + conditional jump.
#[inline(never)]
pub fn sum_branchy(data: &[u8], threshold: u8) -> u64 {
    let mut sum = 0u64;
    for &v in data {
        if v >= threshold {
            std::hint::black_box(());
            sum += u64::from(v);
        }
    }
    sum
}

/// The branchless rewrite: the comparison becomes a mask (all ones or all zeros), so every
/// element costs the same whatever the data.
#[inline(never)]
pub fn sum_branchless(data: &[u8], threshold: u8) -> u64 {
    let mut sum = 0u64;
    for &v in data {
        let mask = 0u64.wrapping_sub(u64::from(v >= threshold));
        sum += u64::from(v) & mask;
    }
    sum
}
