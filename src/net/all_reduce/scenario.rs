// The all-reduce model scenario: every rank runs on its own model thread; the main thread only
// builds the ranks, joins them and checks each rank's vector against the sequential reduction.
use super::sync::{spin_loop, thread};
use crate::net::all_reduce::{build, expected, small_inputs, Algorithm, Rx, Tx};

/// `ranks` ranks all-reduce `len` elements each (`[1, 2, 3…] × 10^r`) with `algorithm`, each rank
/// on its own thread; every rank must end with the sequential sum (`wrong sum`).
pub fn all_reduce<S: Tx, R: Rx>(algorithm: Algorithm, make: fn(usize) -> (S, R), ranks: usize, len: usize) {
    let start = small_inputs(ranks, len);
    let want = expected(&start);
    let handles: Vec<_> = build(algorithm, start, make)
        .into_iter()
        .map(|mut rank| {
            thread::spawn(move || {
                rank.run(spin_loop, || {});
                rank.into_data()
            })
        })
        .collect();
    for (r, h) in handles.into_iter().enumerate() {
        let got = h.join().unwrap();
        assert_eq!(
            got, want,
            "wrong sum: rank {r} holds {got:?}, the sequential reduction is {want:?}"
        );
    }
}

/// The reduce phase only (the ring's reduce-scatter, the tree's reduce), each rank on its own
/// thread: each rank's finished elements must hold the sequential sum (`wrong sum`). Half the
/// steps of [`all_reduce`], so that loom can explore every interleaving of three ranks.
pub fn reduce_phase<S: Tx, R: Rx>(algorithm: Algorithm, make: fn(usize) -> (S, R), ranks: usize, len: usize) {
    let start = small_inputs(ranks, len);
    let want = expected(&start);
    let handles: Vec<_> = build(algorithm, start, make)
        .into_iter()
        .map(|mut rank| {
            thread::spawn(move || {
                rank.reduce_only();
                rank.run(spin_loop, || {});
                (rank.reduced(), rank.into_data())
            })
        })
        .collect();
    for (r, h) in handles.into_iter().enumerate() {
        let (done, got) = h.join().unwrap();
        let (got, want) = (&got[done.clone()], &want[done.clone()]);
        assert_eq!(
            got, want,
            "wrong sum: rank {r} holds {got:?} in its reduced chunk {done:?}, the sequential reduction is {want:?}"
        );
    }
}
