//! One stable sort for the whole program, to keep the browser app small.
//!
//! `slice::sort_by` is compiled anew for every element type and every comparison closure, and
//! each copy of the standard library's stable sort is about 4 KB of wasm: the inspector's app
//! had fifteen of them. [`sort_by`] sorts a list of indices with a comparison behind `&dyn`, so
//! the standard sort is compiled once, and then moves the elements into place with swaps (the
//! only code compiled per element type, a few dozen bytes). It is stable, like `sort_by`. The
//! indirect calls cost a little time; the lists sorted this way are short (a case's events, a
//! revision tree's leaves) or sorted once per page of changes.

use std::cmp::Ordering;

/// Sorts `v` stably by `cmp`, like `v.sort_by(cmp)`.
pub fn sort_by<T>(v: &mut [T], cmp: impl Fn(&T, &T) -> Ordering) {
    if v.len() < 2 {
        return;
    }
    let order = sorted_indices(v.len(), &|a, b| cmp(&v[a], &v[b]));
    permute(v, order);
}

/// Sorts `v` stably by its own order, like `v.sort()`.
pub fn sort<T: Ord>(v: &mut [T]) {
    sort_by(v, T::cmp);
}

/// Sorts and removes repeated elements, like `v.sort(); v.dedup()`.
pub fn sort_dedup<T: Ord>(v: &mut Vec<T>) {
    sort(v);
    v.dedup();
}

/// `0..n` sorted by `cmp` (stable): the one instantiation of the standard sort.
fn sorted_indices(n: usize, cmp: &dyn Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|a, b| cmp(*a, *b));
    order
}

/// Rearranges `v` so that its element `k` is the old element `order[k]`, following each cycle
/// of the permutation with swaps. `order` must be a permutation of `0..v.len()`.
fn permute<T>(v: &mut [T], mut order: Vec<usize>) {
    const DONE: usize = usize::MAX;
    for start in 0..v.len() {
        let mut at = start;
        while order[at] != DONE {
            let next = order[at];
            order[at] = DONE;
            if next == start {
                break;
            }
            // `at` still holds the element that belongs at the cycle's end; `next` holds the
            // one that belongs here.
            v.swap(at, next);
            at = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_like_the_standard_stable_sort_for_every_permutation_of_six() {
        // Pairs (key, original position): equal keys must keep their order.
        let keys = [3u8, 1, 3, 0, 1, 2];
        let mut perm: Vec<usize> = (0..6).collect();
        let mut count = 0;
        loop {
            let input: Vec<(u8, usize)> = perm.iter().map(|&i| (keys[i], i)).collect();
            let mut expected = input.clone();
            expected.sort_by_key(|p| p.0);
            let mut got = input.clone();
            sort_by(&mut got, |a, b| a.0.cmp(&b.0));
            assert_eq!(got, expected, "input {input:?}");
            count += 1;
            // Next permutation in lexicographic order.
            let Some(i) = (0..5).rev().find(|&i| perm[i] < perm[i + 1]) else {
                break;
            };
            let j = (i + 1..6).rev().find(|&j| perm[j] > perm[i]).unwrap_or(i);
            perm.swap(i, j);
            perm[i + 1..].reverse();
        }
        assert_eq!(count, 720);
    }

    #[test]
    fn sort_dedup_sorts_and_drops_repeats() {
        let mut v = vec!["b", "a", "c", "a", "b"];
        sort_dedup(&mut v);
        assert_eq!(v, ["a", "b", "c"]);
        let mut empty: Vec<u8> = Vec::new();
        sort_dedup(&mut empty);
        assert!(empty.is_empty());
    }
}
