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
